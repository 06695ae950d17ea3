//! `eio_server`: the Engine.IO v4 server [`Session`] driven by a byte-derived
//! sequence of operations on a virtual clock.
//!
//! Input: `config:u8 max_payload:u16 seed:u8` then operations, each an op byte
//! (low nibble: which operation, high nibble: flags; flag 8 on any op runs the
//! run loop's drain afterwards: `poll_http` and `poll_ws` with large buffers)
//! and its arguments (see [`op`]). The config byte picks the WebSocket close
//! timeout (`& 3`: 100/250/1000/5000 ms), turns off upgrades (`& 4`), polling
//! (`& 8`) or WebSocket (`& 16`), and halves the assembler (`& 32`); the
//! timers are fixed and short (pingInterval 300, pingTimeout 200,
//! upgradeTimeout 500 ms) so they fire; maxPayload is `4096 - v % 4096`. The
//! clock starts at 1000 ms and only moves forward, by byte-chosen steps
//! (0, 1, just before, at and after each timer, and long jumps, capped at
//! 2^41 ms so no deadline saturates at the end of time). At most 256
//! operations run per input. Client frames are built with a
//! `ws::Connection::client` (masked, fragmented on request, pings between
//! fragments, a Close at the end), or are raw bytes.
//!
//! At the end the harness closes the session, drains both transports with
//! large buffers, feeds the client's answers back and lets time run past
//! every timeout, a few rounds.
//!
//! Oracles:
//! - No panic; the operation loop is bounded, and so is every inner loop.
//! - Routing: `Request::parse` errors have an HTTP status; `route` returns
//!   only its documented refusals, each with a status whose `write_response`
//!   parses back with that status (and JSON `code` body) and refuses a buffer
//!   one byte short without touching it; a route agrees with the request
//!   (method, `transport`, `sid`, `EIO=4`, upgrade headers, allowed
//!   transports).
//! - Commands: `open` is `QueueFull` exactly when the storage cannot hold the
//!   open packet, and the open packet is the reference server's JSON for this
//!   sid and config; `send_*` is `QueueFull` exactly when the message's
//!   `queue_cost` exceeds `queue_free()`, `InvalidState` exactly when the
//!   session `is_closed()`, changes nothing when refused and takes exactly
//!   `queue_cost` otherwise (`send_text_parts` with more than 7 parts is
//!   refused); `close` closes at once; `handle_upgrade` is `InvalidState`
//!   exactly when closed and `BadRequest` exactly when upgrades are off, the
//!   session is on WebSocket or its WebSocket is still open; `handle_poll` is
//!   `BadRequest` on WebSocket, `DuplicatePoll` (and then closed) with a GET
//!   held; `handle_poll` / `handle_post` are `InvalidState` only when closed,
//!   and for good once they were (a closing session still takes them); a
//!   protocol error, a duplicate or aborted GET, the WebSocket's EOF on the
//!   active transport leave the session closed; every error has an HTTP
//!   status or is a caller error.
//! - POST: `read_message` returns exactly what a reference model of the body
//!   says (messages in order; a ping is `InvalidHeartbeat`, a close ends the
//!   body, an invalid record is its decode error, each of these closing the
//!   session; then `None`; nothing at all while closing), for arbitrary and
//!   for structured bodies; `PayloadTooLarge` exactly over maxPayload; the
//!   answer is `write_post_ok` or the error's refusal.
//! - WebSocket input: `consumed` <= the input; bounded calls per read;
//!   `InvalidState` exactly when there is no WebSocket; other errors are
//!   peer errors, and with only harness-built frames they are a heartbeat
//!   ping, a size limit or the connection's earlier end; delivered messages
//!   come only on the active transport of an open session, within
//!   maxPayload, and (harness-built frames only) are the messages sent, in
//!   order. An error does not report how much was consumed, so after one
//!   the rest of the stream is dropped and no longer counts as clean.
//! - Output: every `poll_*` returns at most the buffer's length;
//!   `BufferTooSmall { required }` asks for more than the buffer, leaves it
//!   untouched, and a retry with `required` bytes writes something (unless
//!   the op says not to retry); `queue_free()` never exceeds the storage.
//! - Every `poll_http` answer starts with `HTTP/1.1 `, is a 200 with
//!   `text/plain; charset=UTF-8`, a `Content-Length` equal to the body's
//!   length, and a body `Payload` decodes without error.
//! - Everything `poll_ws` writes, fed to a `ws::Connection::client` (already
//!   open: no handshake), parses with no protocol error, nothing follows the
//!   server's Close frame, and every text message is an Engine.IO packet.
//! - What the client receives over both transports together: the open
//!   packet (if at all) first; then exactly a prefix of the messages accepted
//!   by `send_*`, in order, each once; pings are empty; `3probe` only on a
//!   probe WebSocket after `2probe` (harness-built frames) and at most once;
//!   nothing but `3probe` on a probe that is not the active transport; no
//!   message or ping after a close packet; never an upgrade packet.
//! - Events: at most 4 between operations; `Upgraded` at most once, before
//!   `Closed`, only on an upgraded probe (after `2probe` and `5` with
//!   harness-built frames), and the transport changes only then, to
//!   WebSocket; `Closed` at most once, and `is_closed()` exactly when it was
//!   seen; `is_finished()` only when closed with no GET held and no
//!   WebSocket.
//! - Time: after `handle_timeout(now)`, `poll_timeout()` is `None` or later
//!   than `now` (a deadline at or before `now` would make a run loop spin);
//!   a repeated `handle_timeout(now)` changes nothing observable.
//! - After `close(now)`, draining, and time running past the ping timeout,
//!   the session `is_closed()`; with the client answering (its Close reply
//!   fed back) and time past every timeout, it `is_finished()`.
//!
//! The defects of `src/` these oracles found are listed in [`Known`], all
//! fixed; the target fails on any of them.

use std::collections::VecDeque;
use std::sync::OnceLock;

use sockwire::engineio::{
    self, Config, Error, Packet, Payload, Route, Session, SessionEvent as Event, Transport,
};
use sockwire::entropy::SplitMix64;
use sockwire::http::{HeadParser, Limits, Request, Response};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, Assembler, Connection, MessageKind};

use crate::eio_packet::{Owned, read_packet, reference_payload};
use crate::reader::R;

/// The heartbeat and upgrade timers, short so that they fire.
pub const PING_INTERVAL: u64 = 300;
/// See [`PING_INTERVAL`].
pub const PING_TIMEOUT: u64 = 200;
/// See [`PING_INTERVAL`].
pub const UPGRADE_TIMEOUT: u64 = 500;
const CLOSE_TIMEOUTS: [u64; 4] = [100, 250, 1000, 5000];
/// Output sizes for an argument byte below 16 (else the byte times 8).
pub const OUT_SIZES: [usize; 16] = [
    0, 1, 2, 3, 9, 10, 11, 14, 20, 64, 95, 96, 97, 128, 200, 8192,
];
/// Clock steps for an argument byte below 16 (else the byte times 7 ms).
pub const STEPS: [u64; 16] = [
    0,
    1,
    199,
    200,
    201,
    299,
    300,
    301,
    499,
    500,
    501,
    1000,
    5001,
    60_000,
    1 << 30,
    1 << 39,
];
const TIME_CAP: u64 = 1 << 41;
const MAX_OPS: usize = 256;
const BIG: usize = 4096;
const SENTINEL: u8 = 0xa5;

/// The operations, by the low nibble of the op byte, with their arguments.
pub mod op {
    /// `m:u8 e:u8` (flag 1: `len:u8 head` instead): a request head, parsed and
    /// routed; then by route: `storage:u16` for a handshake, a body (as for
    /// [`POST`]) for a POST.
    ///
    /// `m`: method `& 3` (GET, POST, PUT, GET), transport `>> 2 & 3`
    /// (polling, websocket, tobi, none), sid `>> 4 & 3` (none, the session's,
    /// empty, unknown), `& 0x40` upgrade headers, `& 0x80` the Socket.IO path.
    /// `e`: EIO `& 3` (4, 3, abc, none), `& 4` a `t` cache buster, `& 8` sid
    /// first.
    pub const REQUEST: u8 = 0;
    /// `storage:u16` (`% 2049` bytes; flag 1: WebSocket): `Session::open`.
    pub const OPEN: u8 = 1;
    /// `handle_poll`.
    pub const POLL: u8 = 2;
    /// `handle_poll_aborted`.
    pub const POLL_ABORTED: u8 = 3;
    /// `kind:u8` then `len:u16 bytes` (kind & 1) or `count:u8 packet...`:
    /// `handle_post` and `read_message` until the end.
    pub const POST: u8 = 4;
    /// `handle_upgrade`.
    pub const UPGRADE: u8 = 5;
    /// `count:u8` then `count % 8 + 1` times `packet f:u8` (`f & 3`: pieces - 1,
    /// `f & 4`: a ping frame between pieces): client frames for
    /// `handle_ws_input`. Flag 1: no draining while feeding; flag 2: a Close
    /// frame at the end.
    pub const WS_FRAMES: u8 = 6;
    /// `len:u16 bytes` (flag 1: no draining): raw bytes for `handle_ws_input`.
    pub const WS_RAW: u8 = 7;
    /// `handle_ws_eof`.
    pub const WS_EOF: u8 = 8;
    /// `step:u8`: advance the clock, `handle_timeout`.
    pub const ADVANCE: u8 = 9;
    /// `len:u8 bytes` (flag 1: binary): `send_text` / `send_binary`; flag 2
    /// (text): `parts:u8` first, `send_text_parts` with `parts % 10` pieces.
    pub const SEND: u8 = 10;
    /// `close`.
    pub const CLOSE: u8 = 11;
    /// `size:u8` (flag 1: no retry after `BufferTooSmall`): one `poll_http`.
    pub const POLL_HTTP: u8 = 12;
    /// `size:u8` (flag 1: one call, flag 2: no retry): `poll_ws` until 0.
    pub const POLL_WS: u8 = 13;
    /// Feed the client's automatic frames (close replies) and any unconsumed
    /// input to the server (flag 1: no draining).
    pub const FEED_REPLIES: u8 = 14;
    /// `handle_timeout` at the current time.
    pub const TICK: u8 = 15;
    /// On any op: drain both transports with large buffers afterwards.
    pub const DRAIN_AFTER: u8 = 0x80;
}

/// Defects in `src/` that fuzzing found, all fixed since (see
/// `fuzz/README.md`, "What fuzzing found"). The oracle checks each of them
/// and the target fails on any: the tolerance that let runs go on while they
/// were open is off (`SOCKWIRE_FUZZ_LENIENT=1` turns it back on, for
/// bisecting). Each keeps its reproducer in `corpus/eio_server/known-*`,
/// which `fixed_findings_stay_fixed` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// A GET held when the session finishes (its close deadline passed with
    /// the goodbye still queued) is never answered: `poll_http` returns 0 for
    /// ever and `is_finished()` stays false until `handle_poll_aborted`.
    HeldGetNeverAnswered,
    /// `poll_ws` refusing the server's Close frame with `BufferTooSmall`
    /// (`required` 4) forgets it: the retry writes nothing, the WebSocket
    /// never closes, and the session never finishes.
    CloseFrameLost,
    /// The session ends (a protocol error, the close deadline) while a
    /// queued message's frame is partly written: the rest of the payload is
    /// dropped, so the WebSocket can never send its Close (`poll_ws` writes
    /// nothing, or fails with `InvalidState` when it tries), the client is
    /// left inside a frame, and the session never finishes until the
    /// stream's EOF.
    FrameAbandoned,
}

fn strict_env() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("SOCKWIRE_FUZZ_LENIENT").is_none())
}

fn out_size(b: u8) -> usize {
    if b < 16 {
        OUT_SIZES[usize::from(b)]
    } else {
        usize::from(b) * 8
    }
}

/// The session's WebSocket, seen from the client.
struct Ws {
    /// Builds the client's frames.
    enc: Connection<SplitMix64>,
    /// The client's receiving side: decodes everything `poll_ws` writes.
    peer: Connection<SplitMix64>,
    partial: Option<(MessageKind, Vec<u8>)>,
    peer_closed: bool,
    /// Client bytes the server has not consumed yet.
    rx: Vec<u8>,
    /// The client's automatic frames (close replies), not yet fed.
    replies: Vec<u8>,
    /// The server's assembler.
    asm: Assembler<Vec<u8>>,
    /// Only harness-built frames were fed.
    clean: bool,
    /// The messages in those frames, for the delivery check.
    sent: VecDeque<Owned>,
    /// Opened by `handle_upgrade` (else the session started on it).
    probe: bool,
    sent_probe: bool,
    /// A `5` after the `2probe`.
    sent_upgrade: bool,
    got_probe_reply: bool,
    /// [`Known::CloseFrameLost`] happened on this WebSocket.
    close_lost: bool,
    /// The server's stream so far, past its complete frames: a partial
    /// header, or `frame_left` payload bytes still to come.
    tx_head: Vec<u8>,
    frame_left: u64,
}

impl Ws {
    /// Follows the frame boundaries of the server's stream.
    fn track_frames(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.frame_left > 0 {
                let k = (self.frame_left.min(bytes.len() as u64)) as usize;
                self.frame_left -= k as u64;
                bytes = &bytes[k..];
                continue;
            }
            self.tx_head.push(bytes[0]);
            bytes = &bytes[1..];
            if let Ok(Some((h, n))) = ws::FrameHeader::decode(&self.tx_head) {
                assert_eq!(n, self.tx_head.len());
                self.tx_head.clear();
                self.frame_left = h.len;
            }
        }
    }

    /// The server's stream stops inside a frame.
    fn mid_frame(&self) -> bool {
        self.frame_left > 0 || !self.tx_head.is_empty()
    }
}

impl Ws {
    fn new(seed: u64, probe: bool, asm_size: usize) -> Ws {
        Ws {
            enc: Connection::client(ws::Config::DEFAULT, SplitMix64::new(seed)),
            peer: Connection::client(ws::Config::DEFAULT, SplitMix64::new(seed ^ 0x5555)),
            partial: None,
            peer_closed: false,
            rx: Vec::new(),
            replies: Vec::new(),
            asm: Assembler::new(vec![0u8; asm_size]),
            clean: true,
            sent: VecDeque::new(),
            probe,
            sent_probe: false,
            sent_upgrade: false,
            got_probe_reply: false,
            close_lost: false,
            tx_head: Vec::new(),
            frame_left: 0,
        }
    }
}

/// What the harness knows about the current session.
struct Model {
    storage: usize,
    transport: Transport,
    initial: Transport,
    /// Messages accepted by `send_*`, in order.
    sent: Vec<Owned>,
    /// How many of them the client has received.
    received: usize,
    /// Packets the client has received on this session.
    packets: usize,
    got_close: bool,
    closed_event: bool,
    upgraded_event: bool,
    /// `handle_poll` or `handle_post` said `InvalidState`: the session is
    /// past closing, for good.
    ended: bool,
    ws: Option<Ws>,
}

impl Model {
    fn new(storage: usize, transport: Transport) -> Model {
        Model {
            storage,
            transport,
            initial: transport,
            sent: Vec::new(),
            received: 0,
            packets: 0,
            got_close: false,
            closed_event: false,
            upgraded_event: false,
            ended: false,
            ws: None,
        }
    }
}

/// A route with an owned sid.
enum Routed {
    Handshake(Transport),
    Poll(String),
    Post(String),
    Upgrade(String),
}

/// What `read_message` must return for a body, call by call.
fn read_model(items: &[Result<Owned, Error>]) -> (Vec<Result<Option<Owned>, Error>>, bool) {
    let mut v = Vec::new();
    for it in items {
        match it {
            Err(e) => {
                v.push(Err(*e));
                return (v, true);
            }
            Ok(p) if p.is_message() => v.push(Ok(Some(p.clone()))),
            Ok(Owned::Ping(_)) => {
                v.push(Err(Error::InvalidHeartbeat));
                return (v, true);
            }
            Ok(Owned::Close) => {
                v.push(Ok(None));
                return (v, true);
            }
            Ok(_) => {}
        }
    }
    v.push(Ok(None));
    (v, false)
}

/// Checks an HTTP response written by the session layer; returns (status, body).
fn parse_response(bytes: &[u8]) -> (u16, Vec<u8>, Option<Vec<u8>>) {
    assert!(
        bytes.starts_with(b"HTTP/1.1 "),
        "response does not start with HTTP/1.1: {:?}",
        String::from_utf8_lossy(bytes)
    );
    let mut hp = HeadParser::new(Limits::DEFAULT);
    let head_len = hp
        .advance(bytes)
        .expect("response head too large")
        .expect("response head not terminated");
    let resp = Response::parse(&bytes[..head_len], &Limits::DEFAULT).expect("response head");
    let body = bytes[head_len..].to_vec();
    let cl = resp
        .headers
        .get("content-length")
        .expect("no Content-Length");
    let cl: usize = core::str::from_utf8(cl)
        .unwrap()
        .parse()
        .expect("Content-Length");
    assert_eq!(cl, body.len(), "Content-Length is not the body's length");
    assert_eq!(resp.headers.count("content-length"), 1);
    let ct = resp.headers.get("content-type").map(|v| v.to_vec());
    (resp.status, body, ct)
}

/// Public observables, for "changed nothing" checks.
fn observe(s: &Session<Vec<u8>>) -> (Option<Instant>, bool, bool, bool, usize, bool, Transport) {
    (
        s.poll_timeout(),
        s.is_closed(),
        s.has_held_poll(),
        s.has_websocket(),
        s.queue_free(),
        s.is_finished(),
        s.transport(),
    )
}

struct Harness {
    config: Config,
    asm_size: usize,
    now: Instant,
    entropy: SplitMix64,
    seed: u64,
    ws_count: u64,
    s: Option<Session<Vec<u8>>>,
    m: Model,
    trace: bool,
    strict: bool,
}

impl Harness {
    fn new(r: &mut R<'_>, strict: bool) -> Harness {
        let c = r.u8();
        let max_payload = 4096 - usize::from(r.u16()) % 4096;
        let seed = u64::from(r.u8());
        let config = Config {
            path: "/engine.io/",
            ping_interval: Duration::from_millis(PING_INTERVAL),
            ping_timeout: Duration::from_millis(PING_TIMEOUT),
            upgrade_timeout: Duration::from_millis(UPGRADE_TIMEOUT),
            max_payload,
            allow_upgrades: c & 4 == 0,
            allow_polling: c & 8 == 0,
            allow_websocket: c & 16 == 0,
            ws: ws::Config {
                close_timeout: Duration::from_millis(CLOSE_TIMEOUTS[usize::from(c & 3)]),
                ..ws::Config::DEFAULT
            },
            ..Config::DEFAULT
        };
        let asm_size = if c & 32 != 0 {
            max_payload / 2
        } else {
            max_payload
        };
        Harness {
            config,
            asm_size,
            now: Instant::from_millis(1000),
            entropy: SplitMix64::new(seed),
            seed,
            ws_count: 0,
            s: None,
            m: Model::new(0, Transport::Polling),
            trace: std::env::var_os("SOCKWIRE_FUZZ_TRACE").is_some(),
            strict,
        }
    }

    /// True when the violation at hand is the known defect `k` and is to be
    /// let pass.
    fn tolerate(&self, k: Known) -> bool {
        if self.trace {
            eprintln!(
                "  known defect {k:?}{}",
                if self.strict { "" } else { " (tolerated)" }
            );
        }
        !self.strict
    }

    fn new_ws(&mut self, probe: bool) -> Ws {
        self.ws_count += 1;
        Ws::new(self.seed * 1000 + self.ws_count, probe, self.asm_size)
    }

    fn open_json(&self, sid: &str, transport: Transport) -> String {
        let up = if transport == Transport::Polling
            && self.config.allow_upgrades
            && self.config.allow_websocket
        {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        format!(
            "{{\"sid\":\"{sid}\",\"upgrades\":{up},\"pingInterval\":{PING_INTERVAL},\"pingTimeout\":{PING_TIMEOUT},\"maxPayload\":{}}}",
            self.config.max_payload
        )
    }

    // ------------------------------------------------------------ checks

    /// Checks made after every operation: events, `is_closed`, the queue.
    fn after_op(&mut self) {
        let Some(s) = self.s.as_mut() else { return };
        let m = &mut self.m;
        assert!(
            s.queue_free() <= m.storage,
            "queue_free exceeds the storage"
        );
        let mut n = 0;
        while let Some(ev) = s.poll_event() {
            n += 1;
            assert!(n <= 4, "more than 4 events after one operation");
            if self.trace {
                eprintln!("  event {ev:?}");
            }
            match ev {
                Event::Upgraded => {
                    assert!(!m.upgraded_event, "a second Upgraded");
                    assert!(!m.closed_event, "Upgraded after Closed");
                    m.upgraded_event = true;
                    m.transport = Transport::WebSocket;
                    let ws = m.ws.as_ref().expect("Upgraded with no WebSocket");
                    assert!(ws.probe, "Upgraded on a session that started on WebSocket");
                    if ws.clean {
                        assert!(ws.sent_upgrade, "Upgraded without 2probe and 5");
                    }
                }
                Event::Closed(_) => {
                    assert!(!m.closed_event, "a second Closed");
                    m.closed_event = true;
                }
                other => panic!("unknown event {other:?}"),
            }
        }
        assert_eq!(
            s.is_closed(),
            m.closed_event,
            "is_closed() and the Closed event disagree"
        );
        assert_eq!(
            s.transport(),
            m.transport,
            "the transport changed without Upgraded"
        );
        if s.is_finished() {
            assert!(s.is_closed() && !s.has_held_poll() && !s.has_websocket());
        }
    }

    /// Answers a refused request: checks the error has a status and that its
    /// response parses back with it.
    fn refuse(&mut self, e: Error) {
        assert!(
            e.http_status().is_some() || e.is_local(),
            "{e:?} has no HTTP status and is not a caller error"
        );
        let Some(status) = e.http_status() else {
            let mut out = [SENTINEL; 256];
            assert_eq!(e.write_response(&mut out), Err(Error::InvalidState));
            return;
        };
        let mut out = vec![SENTINEL; 512];
        let n = e.write_response(&mut out).expect("write_response");
        let (got, body, ct) = parse_response(&out[..n]);
        assert_eq!(got, status, "{e:?} answered with another status");
        if let Some(code) = e.code() {
            let want = format!("{{\"code\":{code},\"message\":\"");
            assert!(body.starts_with(want.as_bytes()), "refusal body {body:?}");
            assert_eq!(ct.as_deref(), Some(&b"application/json"[..]));
        } else {
            assert!(body.is_empty());
        }
        let mut short = vec![SENTINEL; n - 1];
        assert!(matches!(
            e.write_response(&mut short),
            Err(Error::BufferTooSmall { required }) if required > n - 1
        ));
        assert!(
            short.iter().all(|&b| b == SENTINEL),
            "refused write touched out"
        );
    }

    /// A packet the client received from the server.
    fn received(&mut self, p: Owned, via_ws: bool, active: bool) {
        if self.trace {
            eprintln!("  client got {p:?} (ws {via_ws}, active {active})");
        }
        let sid = self.s.as_ref().unwrap().sid().as_str().to_string();
        let json = self.open_json(&sid, self.m.initial);
        let m = &mut self.m;
        if via_ws && !active {
            assert_eq!(
                p,
                Owned::Pong("probe".into()),
                "a probe WebSocket carried {p:?}"
            );
        }
        match &p {
            Owned::Open(j) => {
                assert_eq!(m.packets, 0, "the open packet is not the first");
                assert_eq!(*j, json, "open packet");
            }
            Owned::Text(_) | Owned::Binary(_) => {
                assert!(!m.got_close, "a message after the close packet");
                assert!(
                    m.received < m.sent.len(),
                    "a message nobody sent: {p:?} (sent {})",
                    m.sent.len()
                );
                assert_eq!(
                    m.sent[m.received], p,
                    "message {} changed or out of order",
                    m.received
                );
                m.received += 1;
            }
            Owned::Ping(d) => {
                assert!(d.is_empty(), "a ping with data {d:?}");
                assert!(!m.got_close, "a ping after the close packet");
            }
            Owned::Pong(d) => {
                assert!(via_ws && d == "probe", "the server sent a pong {d:?}");
                let ws = m.ws.as_mut().unwrap();
                assert!(ws.probe, "3probe on a session that started on WebSocket");
                assert!(!ws.got_probe_reply, "a second 3probe");
                ws.got_probe_reply = true;
                if ws.clean {
                    assert!(ws.sent_probe, "3probe before 2probe");
                }
            }
            Owned::Close => m.got_close = true,
            Owned::Noop => {}
            Owned::Upgrade => panic!("the server sent an upgrade packet"),
        }
        // The probe's 3probe travels beside the session's packets, unordered.
        if active {
            m.packets += 1;
        }
    }

    // ------------------------------------------------------------ output

    /// One `poll_http` with a `size`-byte buffer; returns the bytes written.
    fn poll_http(&mut self, size: usize, retry: bool) -> usize {
        let Some(s) = self.s.as_mut() else { return 0 };
        let held = s.has_held_poll();
        let mut out = vec![SENTINEL; size];
        match s.poll_http(&mut out) {
            Ok(0) => {
                assert_eq!(s.has_held_poll(), held);
                0
            }
            Ok(n) => {
                assert!(n <= size, "poll_http returned more than out");
                assert!(held, "poll_http answered with no GET held");
                assert!(!s.has_held_poll(), "the GET is still held after its answer");
                let (status, body, ct) = parse_response(&out[..n]);
                assert_eq!(status, 200);
                assert_eq!(ct.as_deref(), Some(&b"text/plain; charset=UTF-8"[..]));
                let mut b = body.clone();
                let mut packets = Vec::new();
                for p in Payload::new(&mut b) {
                    match p {
                        Ok(p) => packets.push(Owned::of(&p)),
                        Err(e) => panic!("poll_http body {body:02x?} does not decode: {e:?}"),
                    }
                }
                for p in packets {
                    self.received(p, false, true);
                }
                n
            }
            Err(Error::BufferTooSmall { required }) => {
                assert!(
                    required > size,
                    "BufferTooSmall asks for {required} of {size}"
                );
                assert!(
                    out.iter().all(|&b| b == SENTINEL),
                    "BufferTooSmall but out written"
                );
                assert!(held && s.has_held_poll());
                if retry {
                    let n = self.poll_http(required, false);
                    assert!(
                        n > 0,
                        "BufferTooSmall {{ {required} }}, then {required} bytes got nothing"
                    );
                }
                0
            }
            Err(e) => panic!("poll_http: {e:?}"),
        }
    }

    /// One `poll_ws`; what it writes goes to the client.
    fn poll_ws(&mut self, size: usize, retry: bool) -> usize {
        let Some(s) = self.s.as_mut() else { return 0 };
        let active = s.transport() == Transport::WebSocket;
        let mut out = vec![SENTINEL; size];
        match s.poll_ws(&mut out) {
            Ok(0) => 0,
            Ok(n) => {
                assert!(n <= size, "poll_ws returned more than out");
                self.feed_client(&out[..n], active);
                n
            }
            Err(Error::BufferTooSmall { required }) => {
                assert!(
                    required > size,
                    "BufferTooSmall asks for {required} of {size}"
                );
                assert!(
                    out.iter().all(|&b| b == SENTINEL),
                    "BufferTooSmall but out written"
                );
                // With nothing queued for it, a 4-byte refusal is the
                // session's own Close frame (3probe takes 8 bytes; automatic
                // frames are written in pieces).
                let own_close = required == 4 && (!active || s.queue_free() == self.m.storage);
                if own_close && self.tolerate(Known::CloseFrameLost) {
                    self.m.ws.as_mut().unwrap().close_lost = true;
                    return 0;
                }
                if retry {
                    let n = self.poll_ws(required, false);
                    assert!(
                        n > 0,
                        "BufferTooSmall {{ {required} }}, then {required} bytes got nothing"
                    );
                }
                0
            }
            Err(Error::InvalidState)
                if self.m.ws.as_ref().is_some_and(|w| w.mid_frame())
                    && self.tolerate(Known::FrameAbandoned) =>
            {
                0
            }
            Err(e) => panic!("poll_ws: {e:?}"),
        }
    }

    fn drain_ws(&mut self, size: usize, retry: bool) -> usize {
        let mut total = 0;
        let bound = 3 * self.m.storage + 1000;
        for _ in 0..bound {
            let n = self.poll_ws(size, retry);
            if n == 0 {
                return total;
            }
            total += n;
        }
        panic!("poll_ws did not finish in {bound} calls of {size} bytes");
    }

    fn run_loop_drain(&mut self) {
        self.poll_http(BIG, true);
        self.drain_ws(BIG, true);
    }

    /// Bytes `poll_ws` wrote, fed to the client's connection.
    fn feed_client(&mut self, bytes: &[u8], active: bool) {
        let now = self.now;
        let ws = self.m.ws.as_mut().expect("poll_ws wrote with no WebSocket");
        assert!(!ws.peer_closed, "poll_ws wrote after its Close frame");
        ws.track_frames(bytes);
        let mut buf = bytes.to_vec();
        let mut off = 0;
        let mut got = Vec::new();
        let mut close_at = None;
        let mut calls = 0;
        loop {
            calls += 1;
            assert!(calls < 3 * buf.len() + 10, "the client made no progress");
            match ws.peer.handle_input(now, &mut buf[off..]) {
                Ok(input) => {
                    off += input.consumed;
                    let had = input.event.is_some();
                    let stalled = input.consumed == 0 && !had;
                    match input.event {
                        Some(ws::Event::Data { kind, data, fin }) => {
                            let p = ws.partial.get_or_insert_with(|| (kind, Vec::new()));
                            assert_eq!(p.0, kind, "message kind changed between pieces");
                            p.1.extend_from_slice(data);
                            if fin {
                                let (k, d) = ws.partial.take().unwrap();
                                got.push(match k {
                                    MessageKind::Text => {
                                        let t = String::from_utf8(d).expect("text not UTF-8");
                                        match Packet::decode_text(&t) {
                                            Ok(p) => Owned::of(&p),
                                            Err(e) => panic!(
                                                "text frame {t:?} is not an Engine.IO packet: {e:?}"
                                            ),
                                        }
                                    }
                                    MessageKind::Binary => Owned::Binary(d),
                                });
                            }
                        }
                        Some(ws::Event::Close { .. }) => {
                            ws.peer_closed = true;
                            close_at = Some(off);
                        }
                        _ => {}
                    }
                    let mut tx = [0u8; 256];
                    for _ in 0..100 {
                        match ws.peer.poll_transmit(&mut tx) {
                            Ok(0) => break,
                            Ok(n) => ws.replies.extend_from_slice(&tx[..n]),
                            Err(e) => panic!("client poll_transmit: {e:?}"),
                        }
                    }
                    if stalled || (off == buf.len() && !had) {
                        assert_eq!(off, buf.len(), "the client stalled with bytes left");
                        break;
                    }
                }
                Err(e) => panic!(
                    "the client rejected what poll_ws wrote: {e:?} at byte {off} of {bytes:02x?}"
                ),
            }
        }
        if let Some(at) = close_at {
            assert_eq!(at, buf.len(), "poll_ws wrote bytes after its Close frame");
        }
        for p in got {
            self.received(p, true, active);
        }
    }

    // ------------------------------------------------------------ input

    fn open(&mut self, transport: Transport, storage: usize) {
        let need = 1 + self.open_json(&"x".repeat(20), transport).len() + 5;
        let r = Session::open(
            self.now,
            transport,
            self.config,
            vec![0u8; storage],
            &mut self.entropy,
        );
        match r {
            Ok(s) => {
                assert!(storage >= need, "opened in {storage} bytes, needs {need}");
                assert_eq!(s.queue_free(), storage - need);
                let sid = s.sid().as_str();
                assert_eq!(sid.len(), 20);
                assert!(
                    sid.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                );
                assert_eq!(s.transport(), transport);
                assert!(!s.is_closed());
                assert_eq!(s.has_held_poll(), transport == Transport::Polling);
                self.s = Some(s);
                self.m = Model::new(storage, transport);
                if transport == Transport::WebSocket {
                    self.m.ws = Some(self.new_ws(false));
                }
            }
            Err(Error::QueueFull) => assert!(storage < need, "QueueFull with {storage} >= {need}"),
            Err(e) => panic!("open: {e:?}"),
        }
    }

    fn handle_poll(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        let held = s.has_held_poll();
        let t = s.transport();
        let closed = s.is_closed();
        let r = s.handle_poll(now);
        if self.m.ended {
            assert_eq!(
                r,
                Err(Error::InvalidState),
                "a GET taken after the session ended"
            );
        }
        match r {
            // A closing session still takes GETs, to deliver its goodbye.
            Ok(()) => {
                assert!(!held && t == Transport::Polling);
                assert!(s.has_held_poll());
            }
            Err(Error::BadRequest) => assert_eq!(t, Transport::WebSocket),
            Err(Error::DuplicatePoll) => {
                assert!(held && t == Transport::Polling);
                assert!(s.is_closed(), "open after a duplicate GET");
            }
            Err(Error::InvalidState) => {
                assert!(closed, "GET refused as InvalidState by an open session");
                self.m.ended = true;
            }
            Err(e) => panic!("handle_poll: {e:?}"),
        }
        if let Err(e) = r {
            self.refuse(e);
        }
    }

    fn poll_aborted(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        let held = s.has_held_poll();
        s.handle_poll_aborted(now);
        assert!(!s.has_held_poll());
        if held && s.transport() == Transport::Polling {
            assert!(s.is_closed(), "open after its GET was aborted");
        }
    }

    fn handle_upgrade(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        let t = s.transport();
        let allowed = self.config.allow_upgrades && self.config.allow_websocket;
        // A probe's WebSocket may be replaced once it has closed (a probe
        // that closed has failed).
        let slot_free = self.m.ws.is_none() || !s.has_websocket();
        let closed = s.is_closed();
        let r = s.handle_upgrade(now);
        assert_eq!(
            closed,
            r == Err(Error::InvalidState),
            "handle_upgrade: {r:?}, closed {closed}"
        );
        match r {
            Ok(()) => {
                assert!(allowed && t == Transport::Polling && slot_free);
                assert!(s.has_websocket());
                self.m.ws = Some(self.new_ws(true));
            }
            Err(e @ Error::BadRequest) => {
                assert!(
                    !allowed || t != Transport::Polling || !slot_free,
                    "upgrade refused"
                );
                self.refuse(e);
            }
            Err(Error::InvalidState) => {}
            Err(e) => panic!("handle_upgrade: {e:?}"),
        }
    }

    fn read_body(&mut self, r: &mut R<'_>) -> Vec<u8> {
        let kind = r.u8();
        if kind & 1 == 1 {
            let n = usize::from(r.u16());
            return r.bytes(n).to_vec();
        }
        let count = r.u8() % 16;
        let mut body = Vec::new();
        for i in 0..count {
            if i > 0 {
                body.push(engineio::packet::SEPARATOR);
            }
            body.extend_from_slice(&read_packet(r).encode());
        }
        body
    }

    fn post(&mut self, body: Vec<u8>) {
        let now = self.now;
        let max = self.config.max_payload;
        let Some(s) = self.s.as_mut() else { return };
        let closed = s.is_closed();
        let (mut want, stops) = read_model(&reference_payload(&body));
        if closed {
            // While closing, the body is taken and its packets ignored.
            want = vec![Ok(None)];
        }
        let mut buf = body.clone();
        let t = s.transport();
        let r = s.handle_post(now, &mut buf);
        if self.m.ended {
            assert!(r.is_err(), "a POST taken after the session ended");
        }
        let refusal = match r {
            Err(e) => {
                match e {
                    Error::PayloadTooLarge => {
                        assert!(body.len() > max && t == Transport::Polling)
                    }
                    Error::BadRequest => assert_eq!(t, Transport::WebSocket),
                    Error::InvalidState => {
                        assert!(closed, "POST refused as InvalidState by an open session");
                        self.m.ended = true;
                    }
                    e => panic!("handle_post: {e:?}"),
                }
                Some(e)
            }
            Ok(mut payload) => {
                assert!(body.len() <= max && t == Transport::Polling);
                let mut last = Ok(None);
                for (i, w) in want.iter().enumerate() {
                    let got = s
                        .read_message(now, &mut payload)
                        .map(|o| o.map(|d| Owned::of_data(&d)));
                    assert_eq!(&got, w, "read_message {i} of body {body:02x?}");
                    if got.is_ok() {
                        assert!(s.is_closed() || !stops || i + 1 < want.len());
                    }
                    last = got;
                }
                assert_eq!(
                    s.read_message(now, &mut payload),
                    Ok(None),
                    "read after the end"
                );
                if stops {
                    assert!(s.is_closed(), "open after a close packet or an invalid one");
                    assert_eq!(s.send_text(""), Err(Error::InvalidState));
                }
                last.err()
            }
        };
        match refusal {
            Some(e) => self.refuse(e),
            None => {
                let mut out = [SENTINEL; 128];
                let n = engineio::write_post_ok(&mut out).expect("write_post_ok");
                let (status, body, ct) = parse_response(&out[..n]);
                assert_eq!((status, &body[..]), (200, &b"ok"[..]));
                assert_eq!(ct.as_deref(), Some(&b"text/html"[..]));
                let mut short = [SENTINEL; 128];
                assert!(matches!(
                    engineio::write_post_ok(&mut short[..n - 1]),
                    Err(Error::BufferTooSmall { .. })
                ));
                assert!(short.iter().all(|&b| b == SENTINEL));
            }
        }
    }

    /// `send_binary`, `send_text`, or `send_text_parts` with `parts` pieces.
    fn send(&mut self, binary: bool, parts: Option<usize>, bytes: &[u8]) {
        let Some(s) = self.s.as_mut() else { return };
        let free = s.queue_free();
        let closed = s.is_closed();
        let (owned, r) = if binary {
            (Owned::Binary(bytes.to_vec()), s.send_binary(bytes))
        } else {
            // A polling body cannot carry 0x1e inside a text packet.
            let mut text = crate::eio_packet::text_without_separator(bytes);
            if parts == Some(0) {
                text.clear();
            }
            let r = match parts {
                None => s.send_text(&text),
                Some(n) => {
                    // Cut at char boundaries into `n` pieces (some may be empty).
                    let mut pieces = Vec::new();
                    let mut rest = text.as_str();
                    for i in 0..n {
                        let mut k = if i + 1 == n {
                            rest.len()
                        } else {
                            rest.len() / 2
                        };
                        while !rest.is_char_boundary(k) {
                            k += 1;
                        }
                        let (a, b) = rest.split_at(k);
                        pieces.push(a);
                        rest = b;
                    }
                    let r = s.send_text_parts(&pieces);
                    if n > 7 {
                        // Too many parts: refused, not queued (whatever the state).
                        assert_eq!(
                            r,
                            Err(Error::InvalidState),
                            "send_text_parts with {n} parts"
                        );
                        assert_eq!(s.queue_free(), free);
                        return;
                    }
                    r
                }
            };
            (Owned::Text(text), r)
        };
        let need = match &owned {
            Owned::Binary(b) => b.len() + 5,
            Owned::Text(t) => t.len() + 6,
            _ => unreachable!(),
        };
        assert_eq!(
            Session::<Vec<u8>>::queue_cost(binary, need - 5 - usize::from(!binary)),
            need
        );
        match r {
            Ok(()) => {
                assert!(!closed, "a send accepted by a closed session");
                assert!(need <= free, "queued {need} bytes with {free} free");
                assert_eq!(
                    s.queue_free(),
                    free - need,
                    "a send took other than queue_cost"
                );
                self.m.sent.push(owned);
            }
            Err(e) => {
                assert_eq!(s.queue_free(), free, "a refused send changed the queue");
                match e {
                    Error::QueueFull => {
                        assert!(!closed);
                        assert!(need > free, "QueueFull with {need} of {free} free");
                    }
                    Error::InvalidState => assert!(closed, "an open session refused a send"),
                    e => panic!("send: {e:?}"),
                }
            }
        }
    }

    fn close(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        s.close(now);
        assert!(s.is_closed());
        assert_eq!(
            s.send_text("x"),
            Err(Error::InvalidState),
            "a send after close()"
        );
    }

    /// `handle_timeout` at the current time, with the timer oracles.
    fn timeout(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        s.handle_timeout(now);
        if let Some(t) = s.poll_timeout() {
            assert!(
                t > now,
                "after handle_timeout({now:?}), poll_timeout() is {t:?}: not after now"
            );
        }
        let before = observe(s);
        s.handle_timeout(now);
        assert_eq!(
            observe(s),
            before,
            "a repeated handle_timeout changed the session"
        );
    }

    fn advance(&mut self, b: u8) {
        let step = if b < 16 {
            STEPS[usize::from(b)]
        } else {
            u64::from(b) * 7
        };
        let t = self.now.as_millis().saturating_add(step).min(TIME_CAP);
        self.now = Instant::from_millis(t);
        self.timeout();
    }

    // ------------------------------------------------------------ WebSocket

    /// Appends harness-built client frames for `p` to `bytes`.
    fn frame_packet(&mut self, p: &Owned, f: u8, bytes: &mut Vec<u8>) {
        let now = self.now;
        let seed = self.seed;
        let Some(ws) = self.m.ws.as_mut() else { return };
        if ws.enc.state() != ws::State::Open {
            ws.enc = Connection::client(ws::Config::DEFAULT, SplitMix64::new(seed));
        }
        let _ = now;
        let (kind, payload) = match p {
            Owned::Binary(b) => (MessageKind::Binary, b.clone()),
            _ => (MessageKind::Text, p.encode()),
        };
        let pieces = usize::from(f & 3) + 1;
        let step = payload.len().div_ceil(pieces).max(1);
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![&payload[..]]
        } else {
            payload.chunks(step).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let fin = i + 1 == chunks.len();
            let mut out = vec![0u8; c.len() + 14];
            let n = ws
                .enc
                .send_fragment(kind, c, fin, &mut out)
                .expect("client frame");
            bytes.extend_from_slice(&out[..n]);
            if f & 4 != 0 && !fin {
                let n = ws.enc.ping(b"p", &mut out).expect("client ping");
                bytes.extend_from_slice(&out[..n]);
            }
        }
        if ws.probe {
            match p {
                Owned::Ping(d) if d == "probe" => ws.sent_probe = true,
                Owned::Upgrade if ws.sent_probe => ws.sent_upgrade = true,
                _ => {}
            }
        }
        if p.is_message() {
            ws.sent.push_back(p.clone());
        }
    }

    fn ws_frames(&mut self, flags: u8, r: &mut R<'_>) {
        let count = r.u8() % 8 + 1;
        let mut bytes = Vec::new();
        for _ in 0..count {
            let p = read_packet(r);
            let f = r.u8();
            self.frame_packet(&p, f, &mut bytes);
        }
        let now = self.now;
        if flags & 2 != 0
            && let Some(ws) = self.m.ws.as_mut()
            && ws.enc.state() == ws::State::Open
        {
            let mut out = [0u8; 32];
            let n = ws.enc.close(now, 1000, "", &mut out).expect("client close");
            bytes.extend_from_slice(&out[..n]);
        }
        if let Some(ws) = self.m.ws.as_mut() {
            ws.rx.extend_from_slice(&bytes);
        }
        self.ws_feed(flags & 1 == 0);
    }

    fn ws_raw(&mut self, flags: u8, r: &mut R<'_>) {
        let n = usize::from(r.u16());
        let bytes = r.bytes(n);
        if let Some(ws) = self.m.ws.as_mut() {
            ws.rx.extend_from_slice(bytes);
            ws.clean = false;
        }
        self.ws_feed(flags & 1 == 0);
    }

    fn feed_replies(&mut self, flags: u8) {
        if let Some(ws) = self.m.ws.as_mut() {
            let rep = std::mem::take(&mut ws.replies);
            ws.rx.extend_from_slice(&rep);
        }
        self.ws_feed(flags & 1 == 0);
    }

    /// Feeds the unconsumed client bytes to `handle_ws_input`.
    fn ws_feed(&mut self, drain: bool) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        let Some(ws) = self.m.ws.as_mut() else {
            let mut asm = Assembler::new(vec![0u8; 16]);
            let mut b = *b"\x81\x80abcd";
            let r = s.handle_ws_input(now, &mut b, &mut asm).map(|i| i.consumed);
            assert_eq!(
                r,
                Err(Error::InvalidState),
                "WebSocket input with no WebSocket"
            );
            return;
        };
        let budget = 3 * ws.rx.len() + 10;
        for _ in 0..budget {
            let s = self.s.as_mut().unwrap();
            let ws = self.m.ws.as_mut().unwrap();
            let mut buf = std::mem::take(&mut ws.rx);
            let len = buf.len();
            let transport = s.transport();
            let r = s
                .handle_ws_input(now, &mut buf, &mut ws.asm)
                .map(|i| (i.consumed, i.message.map(|d| Owned::of_data(&d))));
            match r {
                Ok((consumed, msg)) => {
                    assert!(
                        consumed <= len,
                        "handle_ws_input consumed {consumed} of {len}"
                    );
                    ws.rx = buf[consumed..].to_vec();
                    let stalled = consumed == 0 && msg.is_none();
                    if let Some(m) = msg {
                        self.ws_message(m, transport);
                    }
                    self.after_op();
                    if stalled {
                        if drain && self.drain_ws(BIG, true) > 0 {
                            continue;
                        }
                        return;
                    }
                    if drain {
                        self.drain_ws(BIG, true);
                    }
                }
                Err(e) => {
                    self.ws_error(e, transport);
                    self.after_op();
                    return;
                }
            }
        }
        panic!("handle_ws_input made no progress within {budget} calls");
    }

    fn ws_message(&mut self, m: Owned, transport: Transport) {
        if self.trace {
            eprintln!("  server got {m:?}");
        }
        assert_eq!(
            transport,
            Transport::WebSocket,
            "a message from a probe WebSocket"
        );
        let s = self.s.as_ref().unwrap();
        assert!(!s.is_closed(), "a message delivered by a closed session");
        let len = match &m {
            Owned::Text(t) => t.len() + 1,
            Owned::Binary(b) => b.len(),
            other => panic!("handle_ws_input delivered {other:?}"),
        };
        assert!(len <= self.config.max_payload, "a message over maxPayload");
        let ws = self.m.ws.as_mut().unwrap();
        if ws.clean {
            loop {
                match ws.sent.pop_front() {
                    Some(x) if x == m => break,
                    Some(_) => {}
                    None => panic!("delivered a message never sent: {m:?}"),
                }
            }
        }
    }

    fn ws_error(&mut self, e: Error, transport: Transport) {
        if self.trace {
            eprintln!("  handle_ws_input: {e:?}");
        }
        let ws = self.m.ws.as_mut().unwrap();
        match e {
            Error::WebSocket(we) => assert!(!we.is_local(), "a local WebSocket error {we:?}"),
            Error::InvalidPacket | Error::InvalidHeartbeat | Error::UnexpectedPacket => {}
            e => panic!("handle_ws_input: {e:?}"),
        }
        if ws.clean {
            assert!(
                matches!(
                    e,
                    Error::InvalidHeartbeat
                        | Error::WebSocket(
                            ws::Error::FrameTooLarge
                                | ws::Error::MessageTooLarge
                                // Sticky: the close handshake timed out, the stream ended.
                                | ws::Error::CloseTimeout
                                | ws::Error::UnexpectedEof
                        )
                ),
                "well-formed client frames refused: {e:?}"
            );
        }
        // An error does not say how much input was consumed, though after
        // an Engine.IO-level one (an invalid packet, a client ping, the
        // assembler's limit) the connection took the frame and goes on: the
        // rest of the stream can no longer be placed, so it is dropped and
        // what follows is not held to the clean-stream rules.
        ws.rx.clear();
        ws.clean = false;
        if transport == Transport::WebSocket {
            assert!(
                self.s.as_ref().unwrap().is_closed(),
                "open after a WebSocket error"
            );
        }
    }

    fn ws_eof(&mut self) {
        let now = self.now;
        let Some(s) = self.s.as_mut() else { return };
        s.handle_ws_eof(now);
        assert!(!s.has_websocket(), "a WebSocket after its EOF");
        if s.transport() == Transport::WebSocket {
            assert!(s.is_closed(), "open after the WebSocket's EOF");
        }
    }

    // ------------------------------------------------------------ requests

    fn build_head(&self, r: &mut R<'_>) -> Vec<u8> {
        let m = r.u8();
        let e = r.u8();
        let method = ["GET", "POST", "PUT", "GET"][usize::from(m & 3)];
        let transport =
            [Some("polling"), Some("websocket"), Some("tobi"), None][usize::from(m >> 2 & 3)];
        let current = self
            .s
            .as_ref()
            .map_or("AAAAAAAAAAAAAAAAAAAA".to_string(), |s| {
                s.sid().as_str().to_string()
            });
        let sid = [
            None,
            Some(current),
            Some(String::new()),
            Some("unknown".to_string()),
        ][usize::from(m >> 4 & 3)]
        .clone();
        let path = if m & 0x80 != 0 {
            "/socket.io/"
        } else {
            "/engine.io/"
        };
        let eio = [Some("4"), Some("3"), Some("abc"), None][usize::from(e & 3)];
        let mut params: Vec<String> = Vec::new();
        if let Some(v) = eio {
            params.push(format!("EIO={v}"));
        }
        if let Some(t) = transport {
            params.push(format!("transport={t}"));
        }
        if e & 4 != 0 {
            params.push("t=N8hyd6w".into());
        }
        if let Some(s) = sid {
            let p = format!("sid={s}");
            if e & 8 != 0 {
                params.insert(0, p);
            } else {
                params.push(p);
            }
        }
        let mut head = format!(
            "{method} {path}?{} HTTP/1.1\r\nHost: localhost:3000\r\n",
            params.join("&")
        );
        if m & 0x40 != 0 {
            head.push_str(
                "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
            );
        }
        if method == "POST" {
            head.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    fn check_route(&self, req: &Request<'_>, route: &Route<'_>) {
        assert!(req.path().starts_with(self.config.path));
        let transport = req.query_param("transport");
        let sid = req.query_param("sid").filter(|s| !s.is_empty());
        let upgrade = req.headers.has_token("upgrade", "websocket");
        match *route {
            Route::Handshake(t) => {
                assert_eq!(req.method, "GET");
                assert_eq!(sid, None);
                assert_eq!(req.query_param("EIO"), Some("4"));
                assert_eq!(transport, Some(t.name()));
                match t {
                    Transport::Polling => assert!(self.config.allow_polling),
                    Transport::WebSocket => assert!(self.config.allow_websocket && upgrade),
                }
            }
            Route::Poll(s) | Route::Post(s) => {
                let m = if matches!(route, Route::Poll(_)) {
                    "GET"
                } else {
                    "POST"
                };
                assert_eq!(req.method, m);
                assert_eq!(Some(s), sid);
                assert_eq!(transport, Some("polling"));
                assert!(self.config.allow_polling);
            }
            Route::Upgrade(s) => {
                assert_eq!(req.method, "GET");
                assert_eq!(Some(s), sid);
                assert_eq!(transport, Some("websocket"));
                assert!(upgrade && self.config.allow_websocket);
            }
        }
    }

    fn request(&mut self, flags: u8, r: &mut R<'_>) {
        let head = if flags & 1 == 1 {
            r.short_bytes().to_vec()
        } else {
            self.build_head(r)
        };
        if self.trace {
            eprintln!("  head {:?}", String::from_utf8_lossy(&head));
        }
        let routed = match Request::parse(&head, &Limits::DEFAULT) {
            Err(e) => {
                assert!(
                    e.status().is_some(),
                    "a request error with no status: {e:?}"
                );
                self.refuse(Error::from(e));
                return;
            }
            Ok(req) => match engineio::route(&req, &self.config) {
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            Error::NotFound
                                | Error::UnknownTransport
                                | Error::BadRequest
                                | Error::BadHandshakeMethod
                                | Error::UnsupportedProtocolVersion
                        ),
                        "route: {e:?}"
                    );
                    self.refuse(e);
                    return;
                }
                Ok(route) => {
                    self.check_route(&req, &route);
                    match route {
                        Route::Handshake(t) => Routed::Handshake(t),
                        Route::Poll(s) => Routed::Poll(s.into()),
                        Route::Post(s) => Routed::Post(s.into()),
                        Route::Upgrade(s) => Routed::Upgrade(s.into()),
                    }
                }
            },
        };
        let known = |h: &Harness, sid: &str| h.s.as_ref().is_some_and(|s| *s.sid() == *sid);
        match routed {
            Routed::Handshake(t) => {
                let storage = usize::from(r.u16()) % 2049;
                self.open(t, storage);
            }
            Routed::Poll(sid) if known(self, &sid) => self.handle_poll(),
            Routed::Post(sid) => {
                let body = self.read_body(r);
                if known(self, &sid) {
                    self.post(body);
                } else {
                    self.refuse(Error::UnknownSid);
                }
            }
            Routed::Upgrade(sid) if known(self, &sid) => self.handle_upgrade(),
            Routed::Poll(_) | Routed::Upgrade(_) => self.refuse(Error::UnknownSid),
        }
    }

    // ------------------------------------------------------------ driver

    fn step(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let flags = b >> 4;
        if self.trace {
            eprintln!(
                "op {} flags {flags:#x} now {} {:?}",
                b & 15,
                self.now.as_millis(),
                self.s.as_ref().map(observe)
            );
        }
        match b & 15 {
            op::REQUEST => self.request(flags, r),
            op::OPEN => {
                let t = if flags & 1 == 1 {
                    Transport::WebSocket
                } else {
                    Transport::Polling
                };
                let storage = usize::from(r.u16()) % 2049;
                self.open(t, storage);
            }
            op::POLL => self.handle_poll(),
            op::POLL_ABORTED => self.poll_aborted(),
            op::POST => {
                let body = self.read_body(r);
                self.post(body);
            }
            op::UPGRADE => self.handle_upgrade(),
            op::WS_FRAMES => self.ws_frames(flags, r),
            op::WS_RAW => self.ws_raw(flags, r),
            op::WS_EOF => self.ws_eof(),
            op::ADVANCE => {
                let b = r.u8();
                self.advance(b);
            }
            op::SEND => {
                let parts = (flags & 2 == 2).then(|| usize::from(r.u8() % 10));
                let bytes = r.short_bytes();
                self.send(flags & 1 == 1, parts, bytes);
            }
            op::CLOSE => self.close(),
            op::POLL_HTTP => {
                let size = out_size(r.u8());
                self.poll_http(size, flags & 1 == 0);
            }
            op::POLL_WS => {
                let size = out_size(r.u8());
                if flags & 1 == 1 {
                    self.poll_ws(size, flags & 2 == 0);
                } else {
                    self.drain_ws(size, flags & 2 == 0);
                }
            }
            op::FEED_REPLIES => self.feed_replies(flags),
            _ => self.timeout(),
        }
        self.after_op();
        if b & op::DRAIN_AFTER != 0 {
            self.run_loop_drain();
            self.after_op();
        }
    }

    /// Close, drain, let time run out: the session must end.
    fn finish(mut self) {
        self.after_op();
        let Some(s) = self.s.as_mut() else { return };
        if !s.is_closed() {
            self.close();
        }
        self.after_op();
        let step = PING_TIMEOUT + UPGRADE_TIMEOUT + self.config.ws.close_timeout.as_millis() + 1;
        for _ in 0..4 {
            self.run_loop_drain();
            self.after_op();
            self.feed_replies(0);
            self.after_op();
            self.now = Instant::from_millis(self.now.as_millis() + step);
            self.timeout();
            self.after_op();
        }
        let s = self.s.as_mut().unwrap();
        assert!(
            s.is_closed(),
            "closed, drained, past the ping timeout: still not closed"
        );
        if !s.is_finished() && s.has_held_poll() && !s.has_websocket() {
            let mut out = vec![0u8; BIG];
            if s.poll_http(&mut out) == Ok(0) && self.tolerate(Known::HeldGetNeverAnswered) {
                return;
            }
        }
        let s = self.s.as_ref().unwrap();
        let lost = self.m.ws.as_ref().is_some_and(|w| w.close_lost);
        if !s.is_finished() && s.has_websocket() && lost && self.tolerate(Known::CloseFrameLost) {
            return;
        }
        let mid_frame = self.m.ws.as_ref().is_some_and(|w| w.mid_frame());
        if !s.is_finished()
            && s.has_websocket()
            && mid_frame
            && self.tolerate(Known::FrameAbandoned)
        {
            return;
        }
        assert!(
            s.is_finished(),
            "closed, drained, the client answering, past every timeout: not finished \
             (held GET {}, WebSocket {})",
            s.has_held_poll(),
            s.has_websocket()
        );
    }
}

/// The `eio_server` target.
pub fn eio_server(data: &[u8]) {
    run(data, strict_env());
}

/// The target with every [`Known`] defect checked too.
pub fn eio_server_strict(data: &[u8]) {
    run(data, true);
}

fn run(data: &[u8], strict: bool) {
    let mut r = R::new(data);
    let mut h = Harness::new(&mut r, strict);
    let mut ops = 0;
    while !r.is_empty() && ops < MAX_OPS {
        h.step(&mut r);
        ops += 1;
    }
    h.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every defect fuzzing found stays fixed: its reproducer passes the
    /// strict target.
    #[test]
    fn fixed_findings_stay_fixed() {
        for (known, name, data) in crate::seeds::known_eio_server() {
            let strict = std::panic::catch_unwind(|| eio_server_strict(&data));
            assert!(strict.is_ok(), "{name}: {known:?} is back");
        }
    }
}
