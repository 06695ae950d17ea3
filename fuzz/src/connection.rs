//! `ws_connection_server` and `ws_connection_client`: the connection state
//! machine driven by a byte-derived sequence of operations.
//!
//! Input: `config-byte seed-byte` then operations, each an op byte (low nibble:
//! which operation, high nibble: flags) and its arguments (see [`Op`]). Peer
//! bytes come in raw (`Input`) or as frames built from a few fields (`Frame`:
//! any first byte, masked by role or not, any length encoding), so the fuzzer
//! reaches deep states without computing masks.
//!
//! Oracles, checked after every operation:
//! - `handle_input` consumes at most its input, leaves the unconsumed bytes
//!   untouched (unmasking is in place), makes progress (bounded calls per
//!   read), yields no event once the state is `Closed`, never returns a local
//!   error, and a returned error is sticky and equals `error()`; text messages
//!   it delivers are valid UTF-8 when they end and respect the size limits.
//! - The state only moves forward (Open, Closing, Closed).
//! - Commands: bytes written fit `out`; on any error `out` is untouched and the
//!   connection is unchanged (compared by its `Debug` form); `BufferTooSmall`
//!   asks for more than was given; a send in the plain open state with a large
//!   buffer succeeds; a continuation of a different kind, a second close, a
//!   payload with no frame begun, `payload_written` by a client are refused.
//! - `poll_transmit` writes within `out`, writes only when `wants_transmit()`,
//!   returns 0 within a bounded number of calls, and afterwards nothing is
//!   waiting unless a begun frame blocks it.
//! - `poll_timeout` after `handle_timeout(now)` is never at or before `now`;
//!   a passed deadline closes the connection.
//! - Everything transmitted (commands and automatic frames, in order) is fed to
//!   a peer `Connection` of the other role: it must accept the stream with no
//!   error, receive exactly the messages, pings and pongs sent, see nothing
//!   after our Close frame, and that Close carries the expected code. The
//!   harness only issues commands a correct application may issue (text is
//!   valid UTF-8 across fragments), so any error there is the crate's fault.
//! - Chunking invariance: all peer bytes, fed to fresh connections whole, one
//!   byte per read, and in 7-byte reads with a 1-byte transmit buffer, give the
//!   same events, error and transmitted bytes.

use std::collections::VecDeque;

use sockwire::entropy::SplitMix64;
use sockwire::time::{Duration, Instant};
use sockwire::ws::{
    self, Config, Connection, Event, MessageKind, Role, State, apply_mask, close_code,
};

use crate::reader::R;

/// Frame and message size limits selectable by the config byte.
pub const SIZES: [u64; 8] = [16 << 20, 0, 1, 125, 126, 1000, 65536, u64::MAX];
/// Output buffer sizes selectable by an argument byte.
pub const OUT_SIZES: [usize; 16] = [0, 1, 2, 3, 5, 6, 7, 8, 13, 14, 20, 64, 131, 139, 300, 70000];
/// Clock steps selectable by an argument byte (beyond these, the byte is ms).
const STEPS: [u64; 8] = [0, 1, 4999, 5000, 5001, 60_000, 1 << 40, u64::MAX];

/// The operations, by the low nibble of the op byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `len:u8 bytes` (flag 2: `len:u16`): raw peer bytes. Flag 1: do not drain
    /// `poll_transmit` between `handle_input` calls.
    Input = 0,
    /// `b0 fl len:u8 key[4] payload` (`fl`: 1 wrong masking for the role,
    /// 6 length form: minimal/16/64-bit/declared `u64` follows, 8 header only,
    /// 16 no drain): one peer frame.
    Frame = 1,
    /// `out text`: send_text.
    SendText = 2,
    /// `out bytes`: send_binary.
    SendBinary = 3,
    /// `out split bytes` (flag 1 text, flag 2 fin): send_fragment.
    SendFragment = 4,
    /// `out len-choice` (flag 1 text, flag 2 fin): begin_frame.
    BeginFrame = 5,
    /// `out bytes`: send_payload.
    SendPayload = 6,
    /// `n:u8` (flag 1: n * 256): payload_written.
    PayloadWritten = 7,
    /// `out bytes`: ping.
    Ping = 8,
    /// `out bytes`: pong.
    Pong = 9,
    /// `out code-choice reason`: close.
    Close = 10,
    /// `size`: poll_transmit until it returns 0.
    Drain = 11,
    /// `size`: one poll_transmit.
    PollOnce = 12,
    /// `step`: advance the clock and handle_timeout.
    Advance = 13,
    /// handle_eof.
    Eof = 14,
    /// Feed the unconsumed input again (flag 1: no drain).
    Feed = 15,
}

/// An event with owned data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A whole message, or (at the end of a stream) the part that arrived.
    Message(MessageKind, Vec<u8>, bool),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A Close frame.
    Close(Option<u16>, String),
}

enum Piece {
    Data(MessageKind, Vec<u8>, bool),
    Other(Ev),
}

fn own(e: Event<'_>) -> Piece {
    match e {
        Event::Data { kind, data, fin } => Piece::Data(kind, data.to_vec(), fin),
        Event::Ping(p) => Piece::Other(Ev::Ping(p.to_vec())),
        Event::Pong(p) => Piece::Other(Ev::Pong(p.to_vec())),
        Event::Close { code, reason } => Piece::Other(Ev::Close(code, reason.to_string())),
        other => panic!("unknown event {other:?}"),
    }
}

fn rank(s: State) -> u8 {
    match s {
        State::Open => 0,
        State::Closing => 1,
        State::Closed => 2,
    }
}

/// The connection's whole state as text, for "unchanged" checks (the entropy
/// source included: a refused send must not draw a masking key).
fn state_of(conn: &Connection<SplitMix64>) -> String {
    format!("{conn:?}")
}

/// Builds the config from one byte: frame limit, message limit, close timeout.
pub fn config(b: u8) -> Config {
    Config {
        max_frame_size: SIZES[usize::from(b & 7)],
        max_message_size: SIZES[usize::from((b >> 3) & 7)],
        close_timeout: Duration::from_millis([5000, 0, 1, 100][usize::from(b >> 6)]),
    }
}

/// Collects events into messages; the part of an unfinished message stays in
/// `partial`.
#[derive(Default)]
struct Assembly {
    events: Vec<Ev>,
    partial: Option<(MessageKind, Vec<u8>)>,
}

impl Assembly {
    fn push(&mut self, p: Piece) {
        match p {
            Piece::Data(kind, data, fin) => {
                let m = self.partial.get_or_insert_with(|| (kind, Vec::new()));
                assert_eq!(m.0, kind, "message kind changed between pieces");
                m.1.extend_from_slice(&data);
                if fin {
                    let (k, d) = self.partial.take().unwrap();
                    self.events.push(Ev::Message(k, d, true));
                }
            }
            Piece::Other(e) => self.events.push(e),
        }
    }
}

/// What a sent message looks like to the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    kind: MessageKind,
    data: Vec<u8>,
    complete: bool,
}

struct Harness {
    conn: Connection<SplitMix64>,
    role: Role,
    config: Config,
    seed: u64,
    now: Instant,
    /// Peer bytes not yet consumed.
    rx: Vec<u8>,
    /// Every peer byte ever received, for the chunking-invariance check.
    rx_log: Vec<u8>,
    /// Everything the connection transmitted, in order.
    tx: Vec<u8>,
    state: State,
    error: Option<ws::Error>,
    // ---- what the connection delivered ----
    got: Assembly,
    pings_received: Vec<Vec<u8>>,
    // ---- the model of what we sent ----
    sent: Vec<Sent>,
    /// The message being sent in fragments.
    tx_msg: Option<(MessageKind, usize)>,
    /// The message the begun frame belongs to, and payload bytes left.
    frame: Option<(MessageKind, usize)>,
    frame_left: u64,
    /// The begun frame ends its message.
    frame_fin: bool,
    /// Text bytes that must come next to complete a code point split by a
    /// fragment boundary.
    text_carry: VecDeque<u8>,
    pings_sent: Vec<Vec<u8>>,
    pongs_sent: Vec<Vec<u8>>,
    /// The code and reason the one Close frame we may send must carry.
    expected_close: Option<(u16, String)>,
    we_closed: bool,
    /// Print each operation (environment variable `SOCKWIRE_FUZZ_TRACE`).
    trace: bool,
}

const SENTINEL: u8 = 0xa5;

impl Harness {
    fn new(role: Role, config: Config, seed: u64) -> Self {
        Harness {
            conn: Connection::new(role, config, SplitMix64::new(seed)),
            role,
            config,
            seed,
            now: Instant::from_millis(1000),
            rx: Vec::new(),
            rx_log: Vec::new(),
            tx: Vec::new(),
            state: State::Open,
            error: None,
            got: Assembly::default(),
            pings_received: Vec::new(),
            sent: Vec::new(),
            tx_msg: None,
            frame: None,
            frame_left: 0,
            frame_fin: false,
            text_carry: VecDeque::new(),
            pings_sent: Vec::new(),
            pongs_sent: Vec::new(),
            expected_close: None,
            we_closed: false,
            trace: std::env::var_os("SOCKWIRE_FUZZ_TRACE").is_some(),
        }
    }

    /// Checks made after every operation.
    fn after_op(&mut self) {
        let s = self.conn.state();
        assert!(
            rank(s) >= rank(self.state),
            "state went back: {:?} -> {s:?}",
            self.state
        );
        self.state = s;
        match (self.error, self.conn.error()) {
            (Some(a), b) => assert_eq!(Some(a), b, "error changed"),
            (None, b) => self.error = b,
        }
        assert_eq!(
            self.conn.payload_remaining(),
            self.frame_left,
            "payload_remaining"
        );
        if let Some(t) = self.conn.poll_timeout() {
            assert_eq!(s, State::Closing, "a deadline outside Closing");
            let _ = t;
        }
    }

    // ---------------------------------------------------------------- input

    fn feed(&mut self, drain: bool) {
        let budget = 3 * self.rx.len() + 10;
        for _ in 0..budget {
            let closed_before = self.conn.state() == State::Closed;
            let open_before = self.conn.state() == State::Open;
            let mut buf = std::mem::take(&mut self.rx);
            let snapshot = buf.clone();
            let res = self.conn.handle_input(self.now, &mut buf);
            let (consumed, piece, err) = match res {
                Ok(input) => (input.consumed, input.event.map(own), None),
                Err(e) => (0, None, Some(e)),
            };
            assert!(consumed <= buf.len(), "consumed past the input");
            if err.is_none() {
                // (After an error the connection is dead and may have unmasked
                // part of the input already.)
                assert_eq!(
                    buf[consumed..],
                    snapshot[consumed..],
                    "unconsumed bytes changed"
                );
            }
            self.rx = buf[consumed..].to_vec();
            if let Some(e) = err {
                assert!(!e.is_local(), "handle_input returned a local error {e:?}");
                assert_eq!(self.conn.error(), Some(e), "returned error is not error()");
                if let Some(prev) = self.error {
                    assert_eq!(prev, e, "a different error after the first");
                }
                assert_ne!(self.conn.state(), State::Open, "open after an error");
                if open_before && let Some(code) = e.close_code() {
                    self.expected_close.get_or_insert((code, String::new()));
                }
                self.after_op();
                return;
            }
            let stalled = consumed == 0 && piece.is_none();
            if let Some(p) = piece {
                assert!(
                    !closed_before,
                    "an event after Closed: {:?}",
                    std::mem::discriminant(&p)
                );
                self.on_event(p, open_before);
            }
            self.after_op();
            if stalled {
                // Waiting: for more bytes, or for a pong to go out first.
                if drain && self.drain(256) > 0 {
                    continue;
                }
                return;
            }
            if drain {
                self.drain(256);
            }
            // Go on even when every byte is consumed: a zero-length control
            // frame whose header was consumed while a pong was pending is
            // delivered by the next call.
        }
        panic!("handle_input made no progress within {budget} calls");
    }

    fn on_event(&mut self, p: Piece, open_before: bool) {
        match &p {
            Piece::Data(kind, data, fin) => {
                assert!(data.len() as u64 <= self.config.max_frame_size);
                let so_far = self.got.partial.as_ref().map_or(0, |m| m.1.len());
                assert!(
                    (so_far + data.len()) as u64 <= self.config.max_message_size,
                    "message over max_message_size"
                );
                if *fin && *kind == MessageKind::Text {
                    let mut all = self
                        .got
                        .partial
                        .as_ref()
                        .map_or(Vec::new(), |m| m.1.clone());
                    all.extend_from_slice(data);
                    assert!(
                        core::str::from_utf8(&all).is_ok(),
                        "invalid UTF-8 delivered"
                    );
                }
            }
            Piece::Other(Ev::Ping(p)) => {
                assert!(p.len() <= 125);
                self.pings_received.push(p.clone());
            }
            Piece::Other(Ev::Pong(p)) => assert!(p.len() <= 125),
            Piece::Other(Ev::Close(code, reason)) => {
                assert!(
                    code.is_none_or(close_code::is_valid),
                    "invalid close code {code:?}"
                );
                assert!(reason.len() <= 123 && (code.is_some() || reason.is_empty()));
                assert_ne!(
                    self.conn.state(),
                    State::Open,
                    "open after the peer's Close"
                );
                if open_before {
                    self.expected_close
                        .get_or_insert((code.unwrap_or(close_code::NORMAL), String::new()));
                }
            }
            Piece::Other(Ev::Message(..)) => unreachable!(),
        }
        self.got.push(p);
    }

    /// A peer frame from fields.
    fn frame_bytes(&self, r: &mut R<'_>) -> (Vec<u8>, bool) {
        let b0 = r.u8();
        let fl = r.u8();
        let len = usize::from(r.u8());
        let key = [r.u8(), r.u8(), r.u8(), r.u8()];
        let mut payload = r.bytes(len).to_vec();
        let masked = (self.role == Role::Server) != (fl & 1 == 1);
        let m = if masked { 0x80 } else { 0 };
        let n = payload.len() as u64;
        let mut v = vec![b0];
        match (fl >> 1) & 3 {
            0 if n < 126 => v.push(m | n as u8),
            0 | 1 if n <= 0xffff => {
                v.push(m | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0..=2 => {
                v.push(m | 127);
                v.extend_from_slice(&n.to_be_bytes());
            }
            _ => {
                v.push(m | 127);
                v.extend_from_slice(&r.u64().to_be_bytes());
            }
        }
        if masked {
            v.extend_from_slice(&key);
            apply_mask(&mut payload, key, 0);
        }
        if fl & 8 == 0 {
            v.extend_from_slice(&payload);
        }
        (v, fl & 16 == 0)
    }

    // ------------------------------------------------------------- transmit

    /// poll_transmit until 0 with a `size`-byte buffer; returns bytes written.
    fn drain(&mut self, size: usize) -> usize {
        if size == 0 {
            self.poll_once(0);
            return 0;
        }
        let mut total = 0;
        for _ in 0..1000 {
            let n = self.poll_once(size);
            if n == 0 {
                assert!(
                    !self.conn.wants_transmit() || self.conn.payload_remaining() > 0,
                    "poll_transmit returned 0 with a frame waiting"
                );
                return total;
            }
            total += n;
        }
        panic!("poll_transmit did not finish in 1000 calls of {size} bytes");
    }

    fn poll_once(&mut self, size: usize) -> usize {
        let wanted = self.conn.wants_transmit();
        let mut out = vec![SENTINEL; size];
        let n = match self.conn.poll_transmit(&mut out) {
            Ok(n) => n,
            Err(ws::Error::BufferTooSmall { required }) => {
                assert!(size == 0 && required == 1 && wanted);
                0
            }
            Err(e) => panic!("poll_transmit: {e:?}"),
        };
        assert!(n <= size, "poll_transmit wrote past out");
        assert!(n == 0 || wanted, "poll_transmit wrote with nothing waiting");
        assert!(
            out[n..].iter().all(|&b| b == SENTINEL),
            "poll_transmit wrote past n"
        );
        self.tx.extend_from_slice(&out[..n]);
        self.after_op();
        n
    }

    // ------------------------------------------------------------- commands

    /// Runs a command that writes into a fresh `out` of `size` bytes, checking
    /// the common rules; returns the bytes written on success.
    fn command(
        &mut self,
        size: usize,
        f: impl FnOnce(&mut Connection<SplitMix64>, &mut [u8]) -> Result<usize, ws::Error>,
    ) -> Result<usize, ws::Error> {
        let before = state_of(&self.conn);
        let mut out = vec![SENTINEL; size];
        let r = f(&mut self.conn, &mut out);
        if self.trace {
            eprintln!("  -> {r:?}");
        }
        match r {
            Ok(n) => {
                assert!(n <= size, "command wrote past out");
                self.tx.extend_from_slice(&out[..n]);
            }
            Err(e) => {
                assert!(e.is_local(), "a command failed with a peer error {e:?}");
                assert!(
                    out.iter().all(|&b| b == SENTINEL),
                    "{e:?} but out was written"
                );
                assert_eq!(
                    state_of(&self.conn),
                    before,
                    "{e:?} but the connection changed"
                );
                if let ws::Error::BufferTooSmall { required } = e {
                    assert!(
                        required > size,
                        "BufferTooSmall asks for {required} of {size}"
                    );
                }
            }
        }
        r
    }

    /// True when a data send of `len` bytes with `size` bytes of output must work.
    fn plain_open(&self, size: usize, len: usize) -> bool {
        self.conn.state() == State::Open
            && !self.conn.wants_transmit()
            && self.frame_left == 0
            && size >= len + 14
    }

    fn start_or_continue(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> usize {
        let idx = match self.tx_msg {
            Some((_, i)) => {
                self.sent[i].data.extend_from_slice(data);
                i
            }
            None => {
                self.sent.push(Sent {
                    kind,
                    data: data.to_vec(),
                    complete: false,
                });
                self.sent.len() - 1
            }
        };
        if fin {
            self.sent[idx].complete = true;
            self.tx_msg = None;
        } else {
            self.tx_msg = Some((kind, idx));
        }
        idx
    }

    fn send_whole(&mut self, kind: MessageKind, size: usize, data: Vec<u8>) {
        let must_work = self.plain_open(size, data.len()) && self.tx_msg.is_none();
        let busy = self.tx_msg.is_some();
        let r = self.command(size, |c, out| match kind {
            MessageKind::Text => c.send_text(core::str::from_utf8(&data).unwrap(), out),
            _ => c.send_binary(&data, out),
        });
        match r {
            Ok(_) => {
                assert!(!busy, "a whole message inside a fragmented one");
                self.start_or_continue(kind, &data, true);
            }
            Err(e) => assert!(!must_work, "send refused in the plain open state: {e:?}"),
        }
    }

    fn send_fragment(&mut self, flags: u8, r: &mut R<'_>) {
        let size = OUT_SIZES[usize::from(r.u8() % 16)];
        let kind = if flags & 1 == 1 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let fin = flags & 2 == 2;
        let split = usize::from(r.u8());
        let (data, carry) = match kind {
            MessageKind::Text => {
                let s = String::from_utf8_lossy(r.short_bytes()).into_owned();
                let mut data: Vec<u8> = self.text_carry.iter().copied().collect();
                let k = if fin { s.len() } else { split.min(s.len()) };
                data.extend_from_slice(&s.as_bytes()[..k]);
                (data, s.as_bytes()[k..].to_vec())
            }
            _ => (r.short_bytes().to_vec(), Vec::new()),
        };
        let wrong_kind = matches!(self.tx_msg, Some((k, _)) if k != kind);
        let must_work = self.plain_open(size, data.len()) && !wrong_kind;
        let res = self.command(size, |c, out| c.send_fragment(kind, &data, fin, out));
        match res {
            Ok(_) => {
                assert!(!wrong_kind, "a continuation of a different kind was sent");
                self.start_or_continue(kind, &data, fin);
                if kind == MessageKind::Text {
                    self.text_carry = carry.into();
                }
            }
            Err(e) => assert!(!must_work, "send_fragment refused: {e:?}"),
        }
    }

    fn begin_frame(&mut self, flags: u8, r: &mut R<'_>) {
        let size = OUT_SIZES[usize::from(r.u8() % 16)];
        let kind = if flags & 1 == 1 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let fin = flags & 2 == 2;
        let c = r.u8();
        let mut len = match c {
            0..=199 => u64::from(c),
            _ => [
                126,
                65535,
                65536,
                1 << 32,
                (1 << 63) - 1,
                1 << 63,
                u64::MAX,
                300,
            ][usize::from(c - 200) % 8],
        };
        if kind == MessageKind::Text && fin {
            // The message ends with this frame: it must finish the code point.
            len = len.max(self.text_carry.len() as u64);
        }
        let wrong_kind = matches!(self.tx_msg, Some((k, _)) if k != kind);
        let must_work = self.plain_open(size, 0) && !wrong_kind && len >> 63 == 0;
        let res = self.command(size, |c, out| c.begin_frame(kind, len, fin, out));
        match res {
            Ok(_) => {
                assert!(!wrong_kind && len >> 63 == 0, "begin_frame accepted {len}");
                let idx = self.start_or_continue(kind, &[], fin);
                let k = self.sent[idx].kind;
                if len > 0 {
                    // The message is complete once the final frame's payload is.
                    self.sent[idx].complete = false;
                    self.frame = Some((k, idx));
                    self.frame_fin = fin;
                }
                self.frame_left = len;
            }
            Err(ws::Error::InvalidArgument) => assert!(len >> 63 != 0),
            Err(e) => assert!(!must_work, "begin_frame refused: {e:?}"),
        }
    }

    /// The next `n` payload bytes for the begun frame, from `src`: text takes
    /// the carried code point first and is otherwise ASCII.
    fn payload_bytes(&self, src: &[u8]) -> Vec<u8> {
        match self.frame {
            Some((MessageKind::Text, _)) => {
                let mut v: Vec<u8> = self.text_carry.iter().copied().take(src.len()).collect();
                let k = v.len();
                v.extend(src[k..].iter().map(|b| b & 0x7f));
                v
            }
            _ => src.to_vec(),
        }
    }

    fn took_payload(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let (kind, idx) = self.frame.expect("payload without a frame");
        if kind == MessageKind::Text {
            let k = data.len().min(self.text_carry.len());
            self.text_carry.drain(..k);
        }
        self.sent[idx].data.extend_from_slice(data);
        self.frame_left -= data.len() as u64;
        if self.frame_left == 0 {
            self.frame = None;
            if self.frame_fin {
                self.sent[idx].complete = true;
            }
        }
    }

    fn send_payload(&mut self, r: &mut R<'_>) {
        let size = OUT_SIZES[usize::from(r.u8() % 16)];
        let chunk = self.payload_bytes(r.short_bytes());
        let left = self.frame_left;
        let res = self.command(size, |c, out| c.send_payload(&chunk, out));
        match res {
            Ok(n) => {
                let want = (chunk.len().min(size) as u64).min(left) as usize;
                assert_eq!(n, want, "send_payload took {n}, expected {want}");
                self.took_payload(&chunk[..n]);
            }
            Err(e) => {
                assert_eq!(e, ws::Error::InvalidState);
                assert_eq!(left, 0, "send_payload refused with {left} bytes to go");
            }
        }
    }

    fn payload_written(&mut self, flags: u8, r: &mut R<'_>) {
        let n = u64::from(r.u8()) * if flags & 1 == 1 { 256 } else { 1 };
        let before = state_of(&self.conn);
        match self.conn.payload_written(n) {
            Ok(()) => {
                assert_eq!(self.role, Role::Server, "a client wrote payload itself");
                assert!(n <= self.frame_left);
                // The application wrote these bytes straight into the stream.
                let bytes = self.payload_bytes(&vec![b'w'; n as usize]);
                self.tx.extend_from_slice(&bytes);
                self.took_payload(&bytes);
            }
            Err(e) => {
                assert_eq!(state_of(&self.conn), before);
                match e {
                    ws::Error::InvalidState => assert_eq!(self.role, Role::Client),
                    ws::Error::InvalidArgument => assert!(n > self.frame_left),
                    e => panic!("payload_written: {e:?}"),
                }
            }
        }
    }

    fn control(&mut self, ping: bool, r: &mut R<'_>) {
        let size = OUT_SIZES[usize::from(r.u8() % 16)];
        let payload = r.short_bytes().to_vec();
        let must_work = self.plain_open(size, payload.len()) && payload.len() <= 125;
        let res = self.command(size, |c, out| {
            if ping {
                c.ping(&payload, out)
            } else {
                c.pong(&payload, out)
            }
        });
        match res {
            Ok(_) => {
                assert!(payload.len() <= 125);
                assert_eq!(self.conn.state(), State::Open);
                if ping {
                    self.pings_sent.push(payload);
                } else {
                    self.pongs_sent.push(payload);
                }
            }
            Err(ws::Error::InvalidArgument) => assert!(payload.len() > 125),
            Err(e) => assert!(!must_work, "control frame refused: {e:?}"),
        }
    }

    fn close(&mut self, r: &mut R<'_>) {
        let size = OUT_SIZES[usize::from(r.u8() % 16)];
        let c = r.u8();
        let code = match c {
            0..=15 => [
                1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999, 999, 1004, 1005, 1006, 1015,
                2999, 5000,
            ][usize::from(c)],
            16..=31 => r.u16(),
            _ => 1000 + u16::from(c),
        };
        let reason = String::from_utf8_lossy(r.short_bytes()).into_owned();
        let now = self.now;
        let before = self.conn.state();
        let must_work = self.plain_open(size, reason.len() + 2)
            && close_code::is_sendable(code)
            && reason.len() <= 123;
        let res = self.command(size, |conn, out| conn.close(now, code, &reason, out));
        match res {
            Ok(_) => {
                assert!(close_code::is_sendable(code) && reason.len() <= 123);
                assert!(!self.we_closed, "a second Close was sent");
                assert!(before != State::Closed, "close() worked after Closed");
                self.we_closed = true;
                self.expected_close = Some((code, reason));
                match self.conn.state() {
                    State::Closing => assert_eq!(
                        self.conn.poll_timeout(),
                        Some(now + self.config.close_timeout)
                    ),
                    State::Closed => assert_eq!(before, State::Closing),
                    State::Open => panic!("open after close()"),
                }
            }
            Err(ws::Error::InvalidArgument) => {
                assert!(!close_code::is_sendable(code) || reason.len() > 123)
            }
            Err(e) => assert!(!must_work, "close refused: {e:?}"),
        }
    }

    fn advance(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let step = if b < 8 {
            STEPS[usize::from(b)]
        } else {
            u64::from(b) * 37
        };
        self.now = self.now + Duration::from_millis(step);
        let deadline = self.conn.poll_timeout();
        self.conn.handle_timeout(self.now);
        if let Some(t) = self.conn.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not after now {:?}",
                self.now
            );
        }
        if deadline.is_some_and(|d| d <= self.now) {
            assert_eq!(
                self.conn.state(),
                State::Closed,
                "deadline passed, still closing"
            );
            assert!(self.conn.error().is_some());
        }
        // Calling again, or early, is harmless.
        let s = self.conn.state();
        self.conn.handle_timeout(self.now);
        self.conn.handle_timeout(Instant::from_millis(0));
        assert_eq!(self.conn.state(), s);
        self.after_op();
    }

    fn eof(&mut self) {
        let prev = self.conn.error();
        let r = self.conn.handle_eof(self.now);
        assert_eq!(self.conn.state(), State::Closed);
        match r {
            Ok(()) => assert!(prev.is_none() && self.conn.error().is_none()),
            Err(e) => {
                assert_eq!(Some(e), self.conn.error());
                if let Some(p) = prev {
                    assert_eq!(p, e);
                }
            }
        }
        assert!(self.conn.poll_timeout().is_none());
        self.after_op();
    }

    fn step(&mut self, r: &mut R<'_>) {
        let op = r.u8();
        let flags = op >> 4;
        if self.trace {
            eprintln!(
                "op {} flags {flags:#x} state {:?}",
                op & 15,
                self.conn.state()
            );
        }
        match op & 15 {
            0 => {
                let n = if flags & 2 == 2 {
                    usize::from(r.u16())
                } else {
                    usize::from(r.u8())
                };
                let bytes = r.bytes(n);
                self.rx.extend_from_slice(bytes);
                self.rx_log.extend_from_slice(bytes);
                self.feed(flags & 1 == 0);
            }
            1 => {
                let (bytes, drain) = self.frame_bytes(r);
                self.rx.extend_from_slice(&bytes);
                self.rx_log.extend_from_slice(&bytes);
                self.feed(drain);
            }
            2 => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                let s = String::from_utf8_lossy(r.short_bytes()).into_owned();
                self.send_whole(MessageKind::Text, size, s.into_bytes());
            }
            3 => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                let d = r.short_bytes().to_vec();
                self.send_whole(MessageKind::Binary, size, d);
            }
            4 => self.send_fragment(flags, r),
            5 => self.begin_frame(flags, r),
            6 => self.send_payload(r),
            7 => self.payload_written(flags, r),
            8 => self.control(true, r),
            9 => self.control(false, r),
            10 => self.close(r),
            11 => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                self.drain(size);
            }
            12 => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                self.poll_once(size);
            }
            13 => self.advance(r),
            14 => self.eof(),
            _ => self.feed(flags & 1 == 0),
        }
        self.after_op();
    }

    /// End of input: drain, then check the transmitted stream with a peer and
    /// the received stream for chunking invariance.
    fn finish(mut self) {
        self.drain(256);
        let peer_role = match self.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        let unlimited = Config {
            max_frame_size: u64::MAX,
            max_message_size: u64::MAX,
            ..Config::default()
        };
        let peer = decode(peer_role, unlimited, 99, &self.tx, usize::MAX, 256);
        if let Some(e) = peer.error {
            panic!(
                "the peer rejected what we transmitted: {e:?} at byte {} of {}",
                peer.consumed,
                self.tx.len()
            );
        }
        // Nothing follows our Close frame.
        if let Some(at) = peer.close_at {
            assert_eq!(at, self.tx.len(), "bytes transmitted after our Close frame");
        }
        // Messages: exactly what was sent, the last perhaps unfinished.
        let mut got: Vec<Sent> = Vec::new();
        let mut pings = Vec::new();
        let mut pongs = Vec::new();
        let mut close = None;
        for e in &peer.events {
            match e {
                Ev::Message(kind, data, complete) => got.push(Sent {
                    kind: *kind,
                    data: data.clone(),
                    complete: *complete,
                }),
                Ev::Ping(p) => pings.push(p.clone()),
                Ev::Pong(p) => pongs.push(p.clone()),
                Ev::Close(c, r) => close = Some((*c, r.clone())),
            }
        }
        if let Some((kind, data)) = &peer.partial {
            got.push(Sent {
                kind: *kind,
                data: data.clone(),
                complete: false,
            });
        }
        let mut sent = self.sent.clone();
        // An unfinished message with no payload yet is invisible to the peer
        // (an empty non-final frame carries no event).
        if sent
            .last()
            .is_some_and(|m| !m.complete && m.data.is_empty())
            && got.len() < sent.len()
        {
            sent.pop();
        }
        assert_eq!(got, sent, "the peer received other messages than were sent");
        assert_eq!(pings, self.pings_sent, "pings");
        // Pongs: ours in order, and automatic ones answering pings we received.
        let mut i = 0;
        for p in &pongs {
            if self.pongs_sent.get(i) == Some(p) {
                i += 1;
            } else {
                assert!(
                    self.pings_received.contains(p),
                    "a pong nobody asked for: {p:?}"
                );
            }
        }
        assert_eq!(i, self.pongs_sent.len(), "pongs sent but not received");
        if let Some((code, reason)) = close {
            let (want_code, want_reason) = self
                .expected_close
                .clone()
                .expect("a Close frame nobody asked for");
            assert_eq!(code, Some(want_code), "close code");
            assert_eq!(reason, want_reason, "close reason");
        }

        // Chunking invariance of the receiving side.
        let log = &self.rx_log;
        let a = decode(self.role, self.config, self.seed, log, usize::MAX, 256);
        let b = decode(self.role, self.config, self.seed, log, 1, 256);
        let c = decode(self.role, self.config, self.seed, log, 7, 1);
        for (name, x) in [("one byte per read", &b), ("7-byte reads, 1-byte tx", &c)] {
            assert_eq!(a.events, x.events, "events differ: whole vs {name}");
            assert_eq!(a.error, x.error, "error differs: whole vs {name}");
            assert_eq!(a.tx, x.tx, "transmitted bytes differ: whole vs {name}");
        }
    }
}

/// What feeding a byte stream to a fresh connection gives.
pub struct Decoded {
    /// Events, data joined into messages.
    pub events: Vec<Ev>,
    /// The unfinished message at the end, if any.
    pub partial: Option<(MessageKind, Vec<u8>)>,
    /// The first error.
    pub error: Option<ws::Error>,
    /// Bytes consumed before the error or the end.
    pub consumed: usize,
    /// Bytes consumed when the Close event came.
    pub close_at: Option<usize>,
    /// Everything transmitted automatically.
    pub tx: Vec<u8>,
}

/// Feeds `bytes` to a fresh connection in reads of `read` bytes, draining
/// `poll_transmit` with a `tx_size`-byte buffer after every call.
pub fn decode(
    role: Role,
    config: Config,
    seed: u64,
    bytes: &[u8],
    read: usize,
    tx_size: usize,
) -> Decoded {
    let mut conn = Connection::new(role, config, SplitMix64::new(seed));
    let now = Instant::from_millis(0);
    let mut asm = Assembly::default();
    let mut d = Decoded {
        events: Vec::new(),
        partial: None,
        error: None,
        consumed: 0,
        close_at: None,
        tx: Vec::new(),
    };
    let mut tx = vec![0u8; tx_size];
    let mut drain = |conn: &mut Connection<SplitMix64>, sink: &mut Vec<u8>| {
        for _ in 0..10_000 {
            match conn.poll_transmit(&mut tx) {
                Ok(0) => return,
                Ok(n) => sink.extend_from_slice(&tx[..n]),
                Err(e) => panic!("poll_transmit: {e:?}"),
            }
        }
        panic!("poll_transmit does not stop");
    };
    'reads: for piece in bytes.chunks(read.max(1)) {
        let mut buf = piece.to_vec();
        let mut off = 0;
        let mut calls = 0;
        loop {
            calls += 1;
            assert!(calls < 3 * buf.len() + 10, "no progress");
            let r = conn.handle_input(now, &mut buf[off..]);
            match r {
                Ok(input) => {
                    off += input.consumed;
                    d.consumed += input.consumed;
                    let had_event = input.event.is_some();
                    let stalled = input.consumed == 0 && !had_event;
                    if let Some(p) = input.event.map(own) {
                        if let Piece::Other(Ev::Close(..)) = p {
                            d.close_at = Some(d.consumed);
                        }
                        asm.push(p);
                    }
                    drain(&mut conn, &mut d.tx);
                    if stalled || (off == buf.len() && !had_event) {
                        // Only a pending pong blocks input, and it was drained
                        // after the previous call.
                        assert_eq!(off, buf.len(), "input stalled with bytes left");
                        break;
                    }
                }
                Err(e) => {
                    d.error = Some(e);
                    drain(&mut conn, &mut d.tx);
                    break 'reads;
                }
            }
        }
    }
    d.events = asm.events;
    d.partial = asm.partial;
    d
}

/// The connection target for one role.
pub fn ws_connection(data: &[u8], role: Role) {
    let mut r = R::new(data);
    let config = config(r.u8());
    let seed = u64::from(r.u8());
    let mut h = Harness::new(role, config, seed);
    let mut ops = 0;
    while !r.is_empty() && ops < 4096 {
        h.step(&mut r);
        ops += 1;
    }
    h.finish();
}

/// The `ws_connection_server` target.
pub fn ws_connection_server(data: &[u8]) {
    ws_connection(data, Role::Server);
}

/// The `ws_connection_client` target.
pub fn ws_connection_client(data: &[u8]) {
    ws_connection(data, Role::Client);
}
