//! `eio_client`: the Engine.IO v4 client session (`engineio::ClientSession`) over
//! its WebSocket, driven by a byte-derived sequence of operations on a
//! virtual clock.
//!
//! Input: `config:u8 seed:u8` then operations (at most 256), each an op byte
//! (low nibble: which, high nibble: flags) and its arguments (see [`op`]).
//! The config byte picks `max_payload` (`& 3`: 65536, 100, 20, 5), the
//! queue storage (`>> 2 & 3`: 4096, 0, 40, 200 bytes), the assembler (`>> 4 &
//! 3`: 65536, 8, 50, 0 bytes) and the WebSocket close timeout (`>> 6`: 100,
//! 1000, 0, 5000 ms); the open timeout is 1000 ms. Server frames are written
//! by a fresh server-role `ws::Connection` (whole or in fragments), or are
//! raw bytes; either way they reach `handle_input` in byte-chosen pieces.
//!
//! Oracles:
//! - No panic; bounded operations, and `handle_input` makes progress (at most
//!   `3 * len + 10` calls per read).
//! - `consumed` <= the input; an error is not a local one, and the session is
//!   closed after it.
//! - `poll_transmit` writes at most its buffer and nothing past what it
//!   returns; `BufferTooSmall { required }` asks for more than the buffer,
//!   leaves it untouched and the client unchanged (its `Debug` form).
//! - Everything transmitted, fed to a server-role `ws::Connection`, is valid
//!   masked client frames (no error), nothing follows the client's Close
//!   frame, every text message is an Engine.IO packet: `3` (pongs: at most
//!   one per ping received while open), `4...` and binary frames (exactly a
//!   prefix of the messages `send_*` accepted, in order, and all of them when
//!   the close packet went out), `1` (only after `close()` on an open session,
//!   once, last). Nothing but the Close frame goes out before the session
//!   opens.
//! - `send_*` before the end is refused only with `QueueFull`, exactly when
//!   `queue_cost` exceeds `queue_free()`, and then changes nothing; after the
//!   end (or `close()`) only with `InvalidState`.
//! - Events: `Open` at most once and first, exactly when a valid open packet
//!   arrived first (a JSON object within depth 4 with a string `sid` of at
//!   most 64 bytes and integer `pingInterval` and `pingTimeout`; `sid()` and
//!   the intervals then say what it said); `Closed` at most once, with
//!   `is_closed()` from then on; no message is delivered before `Open` or
//!   after `Closed`, and with only harness-built frames exactly the messages
//!   of the frames fed while open are delivered, in order.
//! - Time: after `handle_timeout(now)`, `poll_timeout()` is `None` or later
//!   than `now`; the open timeout and the heartbeat (no ping within
//!   pingInterval + pingTimeout) end the session at their deadlines.
//! - Chunking invariance: all server bytes, fed to fresh clients whole, one
//!   byte per read and in 7-byte reads, give the same messages, events and
//!   error.

use sockwire::engineio::{ClientConfig, ClientSession, ClientSessionEvent, Error};
use sockwire::entropy::SplitMix64;
use sockwire::json;
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, Assembler, MessageKind};

use crate::reader::{Cuts, R};
use crate::sio_common::{M, Peer, server_control, server_frames};

const SENTINEL: u8 = 0xa5;
const MAX_OPS: usize = 256;
const OPEN_TIMEOUT: u64 = 1000;
const TIME_CAP: u64 = 1 << 50;
/// Output buffer sizes for `poll_transmit`.
pub const OUT_SIZES: [usize; 16] = [
    0, 1, 2, 5, 6, 8, 13, 14, 15, 16, 20, 64, 100, 128, 300, 4096,
];
const STEPS: [u64; 16] = [
    0,
    1,
    99,
    100,
    101,
    299,
    300,
    301,
    499,
    500,
    501,
    999,
    1000,
    1001,
    60_000,
    1 << 40,
];

/// The operations, by the low nibble of the op byte.
pub mod op {
    /// `len:u16 bytes` then a cut plan: raw server bytes.
    pub const RAW: u8 = 0;
    /// `packet` (see [`super::read_server_packet`]) `pieces:u8` then a cut
    /// plan: one server message (flag 1: binary frame of the data; flag 2:
    /// invalid UTF-8 in a text frame).
    pub const FRAME: u8 = 1;
    /// `which:u8 len:u8 payload code:u16` then a cut plan: a WebSocket
    /// ping, pong or Close frame.
    pub const CONTROL: u8 = 2;
    /// `len:u8 bytes`: `send_text` (flag 1: `send_binary`; flag 2:
    /// `send_text_parts` with `parts:u8 % 9` pieces).
    pub const SEND: u8 = 3;
    /// `size:u8`: one `poll_transmit`.
    pub const POLL_ONCE: u8 = 4;
    /// `size:u8`: `poll_transmit` until 0.
    pub const DRAIN: u8 = 5;
    /// `step:u8`: advance the clock, `handle_timeout`.
    pub const ADVANCE: u8 = 6;
    /// `close`.
    pub const CLOSE: u8 = 7;
    /// `handle_eof`.
    pub const EOF: u8 = 8;
    /// Feed the peer's replies (its Close reply) and unconsumed input.
    pub const REPLIES: u8 = 9;
    /// `handle_timeout` at the current time.
    pub const TICK: u8 = 10;
    /// `poll_event` until `None`.
    pub const EVENTS: u8 = 11;
}

/// A server's Engine.IO packet from fields: `c:u8` and arguments.
pub fn read_server_packet(r: &mut R<'_>) -> String {
    let c = r.u8();
    let open = |sid: &str, pi: &str, pt: &str| {
        format!(
            r#"0{{"sid":{sid},"upgrades":[],"pingInterval":{pi},"pingTimeout":{pt},"maxPayload":1000000}}"#
        )
    };
    match c % 24 {
        0 => open(r#""lv_VI97HAXpY6yYWAAAC""#, "300", "200"),
        1 => open(r#""s""#, "25000", "20000"),
        2 => open(r#""s""#, &r.u16().to_string(), &r.u16().to_string()),
        3 => open(r#""s\"\u00e9""#, "300", "200"),
        4 => open(
            &format!("\"{}\"", "x".repeat(usize::from(r.u8()))),
            "300",
            "200",
        ),
        5 => open("1", "300", "200"),
        6 => open(r#""s""#, "-1", "200"),
        7 => open(r#""s""#, "1.5", "200"),
        8 => open(r#""s""#, "18446744073709551615", "18446744073709551615"),
        9 => r#"0{"sid":"s","pingInterval":300}"#.into(),
        10 => r#"0{"sid":"s","pingInterval":300,"pingTimeout":200,"x":[[[[[]]]]]}"#.into(),
        11 => r#"0{"sid":"s","pingInterval":300,"pingTimeout":200"#.into(),
        12 => "0[]".into(),
        13 | 14 => "2".into(),
        15 => "2probe".into(),
        16 => "3".into(),
        17 | 18 => format!("4{}", String::from_utf8_lossy(r.short_bytes())),
        19 => "1".into(),
        20 => "5".into(),
        21 => "6".into(),
        22 => String::new(),
        _ => format!("9{}", String::from_utf8_lossy(r.short_bytes())),
    }
}

/// What the harness expects of an open packet: `Some((sid, interval, timeout))`
/// when it is valid.
fn open_model(json_text: &str) -> Option<(String, u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(json_text).ok()?;
    let obj = v.as_object()?;
    if crate::json::depth_of(json_text) > 4 {
        return None;
    }
    let sid = obj.get("sid")?.as_str()?;
    if sid.len() > sockwire::engineio::MAX_SID_LEN {
        return None;
    }
    let num = |k: &str| {
        let raw = json::get(json_text, k)?;
        (!raw.contains(['-', '.', 'e', 'E'])).then(|| obj.get(k)?.as_u64())?
    };
    Some((sid.to_owned(), num("pingInterval")?, num("pingTimeout")?))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Opening,
    Open,
    /// `close()` on an open session: the goodbye is due.
    Closing,
    Closed,
}

/// What an input stream gave.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    messages: Vec<M>,
    events: Vec<ClientSessionEvent>,
    error: Option<Error>,
}

struct Harness {
    c: ClientSession<Vec<u8>, SplitMix64>,
    config: ClientConfig,
    storage: usize,
    asm_size: usize,
    seed: u64,
    asm: Assembler<Vec<u8>>,
    now: Instant,
    rx: Vec<u8>,
    rx_log: Vec<u8>,
    peer: Peer,
    /// Messages `send_*` accepted.
    sent: Vec<M>,
    /// Engine.IO packets read from the client's transmissions.
    seen_pongs: usize,
    seen_messages: usize,
    seen_goodbye: bool,
    /// Pings received while open.
    pings: usize,
    phase: Phase,
    opened: bool,
    went_open: bool,
    closed: bool,
    open_info: Option<(String, u64, u64)>,
    ping_deadline: Option<Instant>,
    /// Only harness-built frames were fed, each whole.
    clean: bool,
    expected: Vec<M>,
    delivered: Vec<M>,
    trace: bool,
}

impl Harness {
    fn new(r: &mut R<'_>) -> Self {
        let cfg = r.u8();
        let seed = u64::from(r.u8());
        let max_payload = [65536, 100, 20, 5][usize::from(cfg & 3)];
        let storage = [4096, 0, 40, 200][usize::from((cfg >> 2) & 3)];
        let asm_size = [65536, 8, 50, 0][usize::from((cfg >> 4) & 3)];
        let close_timeout = [100, 1000, 0, 5000][usize::from(cfg >> 6)];
        let config = ClientConfig {
            path: "/socket.io/",
            max_payload,
            open_timeout: Duration::from_millis(OPEN_TIMEOUT),
            ws: ws::Config {
                close_timeout: Duration::from_millis(close_timeout),
                ..ws::Config::DEFAULT
            },
            ..ClientConfig::default()
        };
        let now = Instant::from_millis(1000);
        Harness {
            c: ClientSession::new(now, config, vec![0u8; storage], SplitMix64::new(seed)),
            config,
            storage,
            asm_size,
            seed,
            asm: Assembler::new(vec![0u8; asm_size]),
            now,
            rx: Vec::new(),
            rx_log: Vec::new(),
            peer: Peer::new(),
            sent: Vec::new(),
            seen_pongs: 0,
            seen_messages: 0,
            seen_goodbye: false,
            pings: 0,
            phase: Phase::Opening,
            opened: false,
            went_open: false,
            closed: false,
            open_info: None,
            ping_deadline: None,
            clean: true,
            expected: Vec::new(),
            delivered: Vec::new(),
            trace: crate::sio_common::trace_env(),
        }
    }

    fn events(&mut self) {
        for _ in 0..5 {
            let Some(e) = self.c.poll_event() else { return };
            if self.trace {
                eprintln!("  event {e:?}");
            }
            match e {
                ClientSessionEvent::Open => {
                    assert!(!self.opened && !self.closed, "Open twice or after Closed");
                    self.opened = true;
                }
                ClientSessionEvent::Closed(_) => {
                    assert!(!self.closed, "Closed twice");
                    self.closed = true;
                }
                other => panic!("unknown event {other:?}"),
            }
        }
        panic!("more than 4 events queued");
    }

    fn end(&mut self) {
        self.phase = Phase::Closed;
        self.ping_deadline = None;
    }

    fn after_op(&mut self) {
        assert_eq!(
            self.c.is_open(),
            self.phase == Phase::Open,
            "is_open vs model {:?}",
            self.phase
        );
        if self.phase == Phase::Closed || self.phase == Phase::Closing {
            assert!(self.c.is_closed() || self.phase == Phase::Closing);
        }
        if self.c.is_closed() {
            assert!(matches!(self.phase, Phase::Closed | Phase::Closing));
            self.phase = Phase::Closed;
        }
        if let Some((sid, pi, pt)) = &self.open_info
            && self.phase != Phase::Opening
        {
            assert_eq!(self.c.sid(), sid);
            assert_eq!(self.c.ping_interval(), Duration::from_millis(*pi));
            assert_eq!(self.c.ping_timeout(), Duration::from_millis(*pt));
        }
        assert!(self.c.queue_free() <= self.storage);
    }

    // ---------------------------------------------------------------- input

    /// Feeds `bytes` in the pieces of `cuts`.
    fn feed(&mut self, bytes: &[u8], cuts: &Cuts) {
        self.rx_log.extend_from_slice(bytes);
        let mut at = 0;
        for end in cuts.prefixes(bytes.len()) {
            self.rx.extend_from_slice(&bytes[at..end]);
            at = end;
            self.feed_rx();
        }
        if bytes.is_empty() {
            self.feed_rx();
        }
    }

    fn feed_rx(&mut self) {
        let budget = 3 * self.rx.len() + 10;
        for _ in 0..budget {
            let mut buf = std::mem::take(&mut self.rx);
            let len = buf.len();
            let was_closed = self.c.is_closed();
            let open_before = self.c.is_open();
            let res = self.c.handle_input(self.now, &mut buf, &mut self.asm);
            let (consumed, msg) = match res {
                Ok(input) => {
                    assert!(input.consumed <= len, "consumed past the input");
                    (input.consumed, input.message.map(M::of))
                }
                Err(e) => {
                    assert!(!e.is_local(), "handle_input returned a local error {e:?}");
                    assert!(self.c.is_closed(), "open after an input error");
                    if self.trace {
                        eprintln!("  input error {e:?}");
                    }
                    self.end();
                    self.rx.clear();
                    self.after_op();
                    return;
                }
            };
            self.rx = buf[consumed..].to_vec();
            let got = msg.is_some();
            if let Some(m) = msg {
                assert!(
                    open_before && !was_closed,
                    "a message while not open: {m:?}"
                );
                assert!(self.phase == Phase::Open);
                self.delivered.push(m);
            }
            self.after_phase_change();
            if consumed == 0 && !got {
                // Waiting for more bytes, or for a pong to be written first.
                if self.drain_into_peer(4096) == 0 {
                    return;
                }
            }
        }
        panic!("handle_input made no progress within {budget} calls");
    }

    /// Follows the client's phase after input.
    fn after_phase_change(&mut self) {
        if self.phase == Phase::Opening && self.c.is_open() {
            self.phase = Phase::Open;
            self.went_open = true;
            self.ping_deadline = None;
        }
        if self.c.is_closed() && self.phase != Phase::Closed {
            self.end();
        }
        self.after_op();
    }

    fn frame(&mut self, flags: u8, r: &mut R<'_>) {
        let text = read_server_packet(r);
        let pieces = usize::from(r.u8() % 4) + 1;
        let cuts = Cuts::read(r);
        let (kind, data) = if flags & 1 == 1 {
            (MessageKind::Binary, text.clone().into_bytes())
        } else {
            (MessageKind::Text, text.clone().into_bytes())
        };
        let mut bytes = server_frames(kind, &data, pieces);
        let bad_utf8 = flags & 2 == 2 && kind == MessageKind::Text;
        if bad_utf8 {
            // A text frame whose payload is not UTF-8: the client fails it.
            bytes = vec![0x81, 0x02, 0xc0, 0xaf];
        }
        // The model: what this message does to the session.
        let len = data.len();
        let fragmented = pieces > 1 && len > len.div_ceil(pieces).max(1);
        let too_big =
            (len as u64) > self.config.max_payload as u64 || (fragmented && len > self.asm_size);
        let phase = self.phase;
        let opened_before = self.c.is_open();
        if phase == Phase::Open
            && kind == MessageKind::Text
            && !bad_utf8
            && !too_big
            && text.starts_with('2')
        {
            // The pong may go out while the frame is fed.
            self.pings += 1;
        }
        self.feed(&bytes, &cuts);
        if len > self.asm_size && !bad_utf8 && !too_big {
            // Whether it arrives in pieces (and so through the assembler)
            // depends on the cuts: not modelled.
            self.clean = false;
        }
        if !self.clean {
            return;
        }
        let failed = self.c.is_closed() && phase != Phase::Closed && phase != Phase::Closing;
        match phase {
            _ if bad_utf8 => {
                if phase != Phase::Closed {
                    // A text frame must be UTF-8 (1007), in any phase.
                    assert!(self.c.is_closed(), "invalid UTF-8 accepted");
                }
            }
            _ if too_big && phase != Phase::Closed => {
                assert!(self.c.is_closed(), "an oversized message was accepted");
                self.clean = false;
            }
            Phase::Opening => {
                let open = text.strip_prefix('0').filter(|_| kind == MessageKind::Text);
                match open.map(open_model) {
                    Some(Some(info)) => {
                        assert!(self.c.is_open(), "a valid open packet refused: {text}");
                        self.open_info = Some(info);
                        let (_, pi, pt) = self.open_info.clone().unwrap();
                        self.ping_deadline =
                            Some(self.now + Duration::from_millis(pi) + Duration::from_millis(pt));
                    }
                    _ => assert!(
                        failed,
                        "{text:?} before the open packet did not fail the session"
                    ),
                }
            }
            Phase::Open if opened_before => {
                if kind == MessageKind::Binary {
                    self.expected.push(M::B(data));
                    return;
                }
                match text.as_bytes().first() {
                    Some(b'4') => self.expected.push(M::T(text[1..].to_owned())),
                    Some(b'2') => {
                        let (_, pi, pt) = self.open_info.clone().unwrap();
                        self.ping_deadline =
                            Some(self.now + Duration::from_millis(pi) + Duration::from_millis(pt));
                    }
                    Some(b'1') => assert!(self.c.is_closed(), "a close packet ignored"),
                    Some(b'0' | b'3' | b'5' | b'6') => assert!(self.c.is_open()),
                    _ => assert!(failed, "an invalid packet {text:?} was accepted"),
                }
            }
            _ => {}
        }
        assert_eq!(self.delivered, self.expected, "delivered messages");
    }

    // ------------------------------------------------------------- transmit

    fn poll_once(&mut self, size: usize) -> usize {
        // A frame needs 14 bytes at most to begin: only smaller buffers can
        // be refused, so only they need the (costly) snapshot.
        let before = if size < 16 {
            format!("{:?}", self.c)
        } else {
            String::new()
        };
        let mut out = vec![SENTINEL; size];
        let r = self.c.poll_transmit(&mut out);
        let n = match r {
            Ok(n) => n,
            Err(Error::BufferTooSmall { required }) => {
                assert!(
                    required > size,
                    "BufferTooSmall asks for {required} of {size}"
                );
                assert!(out.iter().all(|&b| b == SENTINEL), "BufferTooSmall wrote");
                let after = format!("{:?}", self.c);
                // With an empty buffer the WebSocket commits to its pending
                // control frame first (in flight, masking key drawn) and
                // writes it on the next call: nothing is lost, so only
                // non-empty buffers must leave the client as it was.
                // (It once lost the pending Close frame: fixed in d9bee83.)
                if after != before && size > 0 {
                    let at = before
                        .bytes()
                        .zip(after.bytes())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    let from = at.saturating_sub(80);
                    panic!(
                        "BufferTooSmall changed the client: {:?} became {:?}",
                        &before[from..(at + 80).min(before.len())],
                        &after[from..(at + 80).min(after.len())]
                    );
                }
                return 0;
            }
            Err(e) => panic!("poll_transmit: {e:?}"),
        };
        assert!(n <= size, "wrote past the buffer");
        assert!(out[n..].iter().all(|&b| b == SENTINEL), "wrote past n");
        self.peer.feed(&out[..n]);
        self.check_peer();
        self.after_op();
        n
    }

    fn drain_into_peer(&mut self, size: usize) -> usize {
        let mut total = 0;
        for _ in 0..2000 {
            let n = self.poll_once(size);
            if n == 0 {
                return total;
            }
            total += n;
        }
        panic!("poll_transmit does not stop");
    }

    /// What the peer read so far must be what the client was asked to send.
    fn check_peer(&mut self) {
        let msgs = std::mem::take(&mut self.peer.messages);
        for m in msgs {
            assert!(!self.seen_goodbye, "a packet after the close packet: {m:?}");
            match &m {
                M::B(_) => self.one_message(m.clone()),
                M::T(t) => match t.as_bytes().first() {
                    Some(b'3') => {
                        assert_eq!(t, "3");
                        self.seen_pongs += 1;
                        assert!(
                            self.seen_pongs <= self.pings || !self.clean,
                            "a pong nobody asked for"
                        );
                    }
                    Some(b'4') => self.one_message(M::T(t[1..].to_owned())),
                    Some(b'1') => {
                        assert_eq!(t, "1");
                        self.seen_goodbye = true;
                        assert_eq!(
                            self.seen_messages,
                            self.sent.len(),
                            "messages lost before the goodbye"
                        );
                    }
                    _ => panic!("the client sent {t:?}"),
                },
            }
        }
    }

    fn one_message(&mut self, m: M) {
        assert!(
            self.went_open,
            "a message went out before the session opened: {m:?}"
        );
        let want = self.sent.get(self.seen_messages);
        assert_eq!(Some(&m), want, "the client sent another message than asked");
        self.seen_messages += 1;
    }

    // ------------------------------------------------------------- commands

    fn send(&mut self, flags: u8, r: &mut R<'_>) {
        let free = self.c.queue_free();
        let sendable = matches!(self.phase, Phase::Opening | Phase::Open) && !self.c.is_closed();
        type C = ClientSession<Vec<u8>, SplitMix64>;
        // The inputs first, so the (costly) snapshot is only taken when the
        // model expects a refusal.
        let (m, parts, cost) = if flags & 1 == 1 {
            let b = r.short_bytes().to_vec();
            let cost = C::queue_cost(true, b.len());
            (M::B(b), None, cost)
        } else if flags & 2 == 2 {
            let parts_n = usize::from(r.u8() % 9);
            let parts: Vec<String> = (0..parts_n)
                .map(|_| String::from_utf8_lossy(r.short_bytes()).into_owned())
                .collect();
            let joined = parts.concat();
            let cost = C::queue_cost(false, joined.len());
            (M::T(joined), Some(parts), cost)
        } else {
            let t = String::from_utf8_lossy(r.short_bytes()).into_owned();
            let cost = C::queue_cost(false, t.len());
            (M::T(t), None, cost)
        };
        let too_many = parts.as_ref().is_some_and(|p| p.len() > 7);
        let refusal = !sendable || cost > free || too_many;
        let before = refusal.then(|| format!("{:?}", self.c));
        let res = match (&m, &parts) {
            (M::B(b), _) => self.c.send_binary(b),
            (M::T(_), Some(parts)) => {
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.c.send_text_parts(&refs)
            }
            (M::T(t), None) => self.c.send_text(t),
        };
        if too_many {
            assert_eq!(res, Err(Error::InvalidState), "more than 7 parts");
            assert!(
                Some(format!("{:?}", self.c)) == before,
                "the client changed"
            );
            return;
        }
        match res {
            Ok(()) => {
                assert!(sendable, "send accepted after the end");
                assert!(cost <= free, "a send accepted without room");
                assert_eq!(self.c.queue_free(), free - cost, "queue_cost");
                self.sent.push(m);
            }
            Err(e) => {
                assert!(refusal, "send refused with room: {e:?}");
                assert!(
                    Some(format!("{:?}", self.c)) == before,
                    "a refused send changed the client"
                );
                match e {
                    Error::QueueFull => assert!(sendable && cost > free, "QueueFull with room"),
                    Error::InvalidState => assert!(!sendable, "InvalidState while sendable"),
                    e => panic!("send: {e:?}"),
                }
            }
        }
    }

    fn advance(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let step = if b < 16 {
            STEPS[usize::from(b)]
        } else {
            u64::from(b) * 7
        };
        self.now = Instant::from_millis((self.now.as_millis() + step).min(TIME_CAP));
        self.tick();
    }

    fn tick(&mut self) {
        let now = self.now;
        let phase = self.phase;
        self.c.handle_timeout(now);
        if let Some(t) = self.c.poll_timeout() {
            assert!(t > now, "poll_timeout {t:?} not after now {now:?}");
        }
        if phase == Phase::Opening && now.as_millis() >= 1000 + OPEN_TIMEOUT {
            assert!(self.c.is_closed(), "the open timeout passed");
        }
        if phase == Phase::Open
            && let Some(d) = self.ping_deadline
            && self.clean
            && now >= d
        {
            assert!(
                self.c.is_closed(),
                "no ping within pingInterval + pingTimeout"
            );
        }
        if self.c.is_closed() && self.phase != Phase::Closed {
            self.end();
        }
        // Repeating it changes nothing.
        let print = |c: &ClientSession<Vec<u8>, SplitMix64>| {
            (
                c.is_open(),
                c.is_closed(),
                c.poll_timeout(),
                c.queue_free(),
                c.is_finished(),
            )
        };
        let before = print(&self.c);
        self.c.handle_timeout(now);
        assert!(
            print(&self.c) == before,
            "a repeated handle_timeout changed things"
        );
        self.after_op();
    }

    fn close(&mut self) {
        let was = self.phase;
        self.c.close(self.now);
        match was {
            Phase::Open => {
                self.phase = Phase::Closing;
                assert!(!self.c.is_open() && !self.c.is_closed());
            }
            Phase::Opening => {
                assert!(self.c.is_closed());
                self.end();
            }
            _ => {}
        }
    }

    fn step(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let flags = b >> 4;
        if self.trace {
            eprintln!("op {} flags {flags:#x} phase {:?}", b & 15, self.phase);
        }
        match b & 15 {
            op::RAW => {
                let n = usize::from(r.u16());
                let bytes = r.bytes(n).to_vec();
                let cuts = Cuts::read(r);
                self.clean = false;
                self.feed(&bytes, &cuts);
            }
            op::FRAME => self.frame(flags, r),
            op::CONTROL => {
                let which = r.u8();
                let payload = r.short_bytes().to_vec();
                let code = r.u16();
                let cuts = Cuts::read(r);
                let bytes = server_control(which, &payload, code);
                let phase = self.phase;
                self.feed(&bytes, &cuts);
                if which % 3 == 2 && self.clean && phase != Phase::Closed {
                    assert!(
                        self.c.is_closed(),
                        "the server's Close frame did not end it"
                    );
                }
            }
            op::SEND => self.send(flags, r),
            op::POLL_ONCE => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                self.poll_once(size);
            }
            op::DRAIN => {
                let size = OUT_SIZES[usize::from(r.u8() % 16)];
                if size == 0 {
                    self.poll_once(0);
                } else {
                    self.drain_into_peer(size);
                }
            }
            op::ADVANCE => self.advance(r),
            op::CLOSE => self.close(),
            op::EOF => {
                self.c.handle_eof(self.now);
                assert!(self.c.is_closed());
                self.end();
            }
            op::REPLIES => {
                let replies = self.peer.replies();
                if !replies.is_empty() {
                    self.feed(&replies, &Cuts::Steps(Vec::new()));
                }
            }
            op::TICK => self.tick(),
            _ => self.events(),
        }
        if self.phase == Phase::Closing && self.c.is_closed() {
            self.phase = Phase::Closed;
        }
        self.events();
        self.after_op();
    }

    fn finish(mut self) {
        self.drain_into_peer(4096);
        self.events();
        // Close, drain, answer, let time pass: the session finishes.
        self.close();
        for _ in 0..3 {
            self.drain_into_peer(4096);
            let replies = self.peer.replies();
            if !replies.is_empty() && self.c.has_websocket() {
                self.feed(&replies, &Cuts::Steps(Vec::new()));
            }
            self.now = Instant::from_millis((self.now.as_millis() + 6000).min(TIME_CAP));
            self.c.handle_timeout(self.now);
        }
        self.events();
        assert!(
            self.c.is_closed(),
            "close(), drained, past every timeout: not closed"
        );
        assert!(
            self.c.is_finished(),
            "closed, drained, the Close answered: not finished"
        );
        if !self.clean {
            // Only the delivery rules hold.
        } else {
            assert_eq!(self.delivered, self.expected);
        }
        // Chunking invariance of the receiving side, when the assembler can
        // hold any message the WebSocket accepts (else a message that comes
        // in pieces may not fit where a whole one does, as documented).
        if (self.asm_size as u64) < self.config.max_payload as u64 {
            return;
        }
        let a = self.replay(usize::MAX);
        let b = self.replay(1);
        let c = self.replay(7);
        assert_eq!(a, b, "whole vs one byte per read");
        assert_eq!(a, c, "whole vs 7-byte reads");
    }

    fn replay(&self, read: usize) -> Outcome {
        let mut c: ClientSession<Vec<u8>, SplitMix64> = ClientSession::new(
            Instant::from_millis(1000),
            self.config,
            vec![0u8; self.storage],
            SplitMix64::new(self.seed),
        );
        let mut asm = Assembler::new(vec![0u8; self.asm_size]);
        let now = Instant::from_millis(1000);
        let mut o = Outcome::default();
        let mut out = vec![0u8; 4096];
        'reads: for piece in self.rx_log.chunks(read.max(1)) {
            let mut buf = piece.to_vec();
            let mut off = 0;
            let mut calls = 0;
            loop {
                calls += 1;
                assert!(calls < 3 * buf.len() + 10, "replay made no progress");
                match c.handle_input(now, &mut buf[off..], &mut asm) {
                    Ok(input) => {
                        off += input.consumed;
                        // `again`: a held control frame was handled.
                        let got = input.message.is_some() || input.again;
                        if let Some(m) = input.message {
                            o.messages.push(M::of(m));
                        }
                        if input.consumed == 0 && !got {
                            // Write a pending pong, then go on.
                            let n = c.poll_transmit(&mut out).unwrap_or(0);
                            if n == 0 {
                                // Stalled, by the answer: stop reading
                                // until more bytes come. (Before `again`, a
                                // control event consumed in place looked
                                // like this: Known::ClientHiddenEventLooksStalled,
                                // no longer tolerated.)
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        o.error = Some(e);
                        break 'reads;
                    }
                }
                while let Some(e) = c.poll_event() {
                    o.events.push(e);
                }
            }
        }
        while let Some(e) = c.poll_event() {
            o.events.push(e);
        }
        o
    }
}

/// The `eio_client` target.
pub fn eio_client(data: &[u8]) {
    let mut r = R::new(data);
    let mut h = Harness::new(&mut r);
    let mut ops = 0;
    while !r.is_empty() && ops < MAX_OPS {
        h.step(&mut r);
        ops += 1;
    }
    h.finish();
}
