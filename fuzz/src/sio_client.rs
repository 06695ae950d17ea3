//! `sio_client`: the Socket.IO client (`socketio::ClientCore<B, N, A>`) over
//! `engineio::ClientSession` sessions whose server side is scripted by the input,
//! on a virtual clock, against a model written from its docs.
//!
//! Input: `config:u8 sizes:u8 seed:u8` then operations (at most 192), each an
//! op byte (low nibble: which, high nibble: flags) and its arguments (see
//! [`op`]). The config byte picks the tables (`& 1`: `N = A = 2` or 4),
//! turns reconnection off (`& 2`), the attempts (`>> 2 & 3`: unlimited, 0,
//! 1, 3), the delays (`>> 4 & 3`: 1000/5000, 10/50, 100/100, 500/50 ms:
//! first delay above the cap) and the jitter (`>> 6`: 500, 0, 1000, 2000
//! permille). The sizes byte picks the send buffer (`& 3`: 4096, 64, 200, 0
//! bytes), each transport's queue (`>> 2 & 3`: 8192, 64, 256, 30), the
//! assembler (`>> 4 & 3`: 4096, 0, 32, 200) and the decoder limits (`>> 6`:
//! defaults, one attachment, depth 2, namespaces of 8 bytes).
//!
//! A transport is an `engineio::ClientSession` opened by feeding it the server's open
//! packet in a frame written by a server-role `ws::Connection`; its events
//! drive `handle_open` and `handle_transport_closed` as an application would;
//! everything it transmits is read back by a server-role connection
//! (`Peer`). Server packets reach `handle_message` directly or through the
//! transport's `handle_input`.
//!
//! Oracles:
//! - No panic; bounded operations.
//! - Commands (`connect`, `emit`, `emit_with_ack`, `emit_volatile`, `ack`,
//!   `disconnect`, `close`) succeed or fail exactly as the model says, and a
//!   refused one changes nothing (the client's `Debug` form).
//! - The send buffer never loses an accepted packet: the model keeps every
//!   packet `emit`, `emit_with_ack`, `ack` and `disconnect` accepted;
//!   `buffer_free()` is always the storage minus their costs; `flush` moves
//!   exactly the packets the model says (in order, the front ones whose
//!   namespace is connected, or DISCONNECT, while the transport's queue takes
//!   them with their attachments, and only while open); what reaches a
//!   transport is what the peer reads from it, in order (CONNECTs with the
//!   auth and recovery fields, volatile emits, moved packets; a prefix when
//!   the transport ends early). At the end the application reconnects (a
//!   fresh transport, every CONNECT answered) and flushes: every packet of a
//!   still registered namespace must go out.
//! - `handle_message` returns exactly the model's event or error; an error
//!   closes the transport and is followed by `Disconnected` notices and the
//!   reconnection schedule.
//! - Reconnection: each time the transport ends, the next attempt is
//!   scheduled at `now + backoff(attempts, ...)` (the jitter from the entropy
//!   given), and that delay is at most `reconnection_delay_max` and within the
//!   jitter of `reconnection_delay * 2^attempts`; a `Reconnect { attempt }`
//!   notice comes at the first `handle_timeout` at or past it (with room in
//!   the notice queue), never earlier, attempts counting from 1 since the
//!   last open; none after `ReconnectFailed` or `close()`; `is_stopped()`
//!   says so.
//! - Notices are exactly the model's (`Disconnected` for connected
//!   namespaces, `AckTimeout`, `Reconnect`, `ReconnectFailed`).
//! - Time: `poll_timeout()` is the model's earliest deadline; after
//!   `handle_timeout(now)` it is `None` or later than `now` unless the notice
//!   queue is full.
//! - Tables: at most `N` namespaces (`TooManyNamespaces` exactly then), at
//!   most `A` acks (`AckTableFull` exactly then).
//! - Every packet the client transmits decodes with the default limits.

use std::collections::VecDeque;

use sockwire::engineio::{self, ClientCloseReason, ClientSessionEvent as EioEvent};
use sockwire::entropy::{Entropy, SplitMix64};
use sockwire::json;
use sockwire::socketio::{
    Assembler, ClientConfig, ClientCore, ClientEvent, ClientNotice, DisconnectReason, Error,
    Limits, MAX_EVENT_NAME_LEN, Packet, PacketType, backoff,
};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, MessageKind};

use crate::reader::R;
use crate::sio_common::{
    Known, M, Peer, arb_args, arb_attachments, arb_name, is_reserved, json_eq, quote,
    server_frames, tolerate,
};

const MAX_OPS: usize = 192;
const STEPS: [u64; 16] = [
    0,
    1,
    9,
    10,
    49,
    50,
    99,
    100,
    499,
    500,
    1000,
    1500,
    5000,
    7501,
    60_000,
    1 << 30,
];
const TIMEOUTS: [Option<u64>; 8] = [
    None,
    Some(0),
    Some(1),
    Some(50),
    Some(500),
    Some(1000),
    None,
    Some(30_000),
];
const NSPS: [&str; 8] = [
    "/",
    "/admin",
    "/chat",
    "/a,b",
    "admin",
    "/ü",
    "/12345678",
    "/x",
];

type Eio = engineio::ClientSession<Vec<u8>, SplitMix64>;

/// The operations, by the low nibble of the op byte.
pub mod op {
    /// `nsp auth:u8`: `connect` (flag 1: without the transport).
    pub const CONNECT: u8 = 0;
    /// `nsp name att:u8 args attachments`: `emit`.
    pub const EMIT: u8 = 1;
    /// `nsp name att:u8 args attachments timeout:u8`: `emit_with_ack`.
    pub const EMIT_ACK: u8 = 2;
    /// `nsp name args`: `emit_volatile`.
    pub const VOLATILE: u8 = 3;
    /// `nsp id:u8 att:u8 args attachments`: `ack`.
    pub const ACK: u8 = 4;
    /// `nsp`: `disconnect`.
    pub const DISCONNECT: u8 = 5;
    /// `close` (flag 1: also close the transport).
    pub const CLOSE: u8 = 6;
    /// A new transport (flag 1: the open packet right away).
    pub const OPEN_TRANSPORT: u8 = 7;
    /// `open:u8`: the server's open packet to the transport (valid, or not).
    pub const SERVER_OPEN: u8 = 8;
    /// `reason:u8`: the attempt or transport failed: drop it,
    /// `handle_transport_closed`.
    pub const TRANSPORT_CLOSED: u8 = 9;
    /// A server packet (see [`Harness::server_packet`]) and its
    /// attachments, to `handle_message` (flag 1: through the transport's
    /// frames; flag 2: skip the attachments).
    pub const SERVER: u8 = 10;
    /// `len:u8 bytes`: a raw server message (flag 1: binary).
    pub const SERVER_RAW: u8 = 11;
    /// `step:u8`: advance the clock, `handle_timeout` on both.
    pub const ADVANCE: u8 = 12;
    /// `flush` and read what the transport transmits.
    pub const FLUSH: u8 = 13;
    /// `poll_event` until `None`.
    pub const NOTICES: u8 = 14;
    /// Answer every CONNECT the peer read with a CONNECT reply (flag 1: with
    /// a pid).
    pub const ANSWER: u8 = 15;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NsState {
    Waiting,
    Connecting,
    Connected,
}

#[derive(Clone, Debug)]
struct Ns {
    name: String,
    auth: String,
    state: NsState,
    pid: String,
    offset: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    Down(Option<Instant>),
    Stopped,
}

/// A packet in the send buffer.
#[derive(Clone, Debug)]
struct Buffered {
    text: String,
    kind: PacketType,
    nsp: String,
    atts: Vec<Vec<u8>>,
    /// The text is valid (decodes), with the known defect it shows, if any.
    check: bool,
    known: Option<Known>,
}

impl Buffered {
    fn attachments_over_limit(&self) -> bool {
        self.atts.len() > Limits::DEFAULT.max_attachments
    }

    /// Entry header (5), the flush metadata (4) and the namespace, the
    /// text, each attachment's header (5) and bytes.
    fn cost(&self) -> usize {
        5 + 4
            + self.nsp.len()
            + self.text.len()
            + self.atts.iter().map(|a| 5 + a.len()).sum::<usize>()
    }
}

/// What the transport should transmit.
#[derive(Clone, Debug)]
enum Expect {
    Text {
        text: String,
        check: bool,
        known: Option<Known>,
    },
    Binary(Vec<u8>),
}

#[derive(Default)]
struct AsmModel {
    missing: usize,
    text: String,
    used: usize,
    atts: Vec<Vec<u8>>,
}

/// A client event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Connect(String, String, bool),
    ConnectError(String, String),
    Event(String, Option<u64>, String, Vec<Vec<u8>>),
    Ack(String, Option<u64>, String, Vec<Vec<u8>>),
    Disconnect(String),
}

fn own(e: ClientEvent<'_>) -> Ev {
    let atts = |m: &sockwire::socketio::Message<'_>| -> Vec<Vec<u8>> {
        m.attachments.into_iter().map(<[u8]>::to_vec).collect()
    };
    match e {
        ClientEvent::Connect {
            nsp,
            sid,
            recovered,
        } => Ev::Connect(nsp.into(), sid.into(), recovered),
        ClientEvent::ConnectError { nsp, data } => Ev::ConnectError(nsp.into(), data.into()),
        ClientEvent::Event(m) => {
            let _ = (m.name(), m.args().count(), m.args_raw());
            Ev::Event(m.nsp.into(), m.ack_id, m.data.into(), atts(&m))
        }
        ClientEvent::Ack(m) => {
            let _ = (m.args().count(), m.args_raw());
            Ev::Ack(m.nsp.into(), m.ack_id, m.data.into(), atts(&m))
        }
        ClientEvent::Disconnect { nsp } => Ev::Disconnect(nsp.into()),
        other => panic!("unknown event {other:?}"),
    }
}

struct Transport {
    eio: Eio,
    peer: Peer,
    ws_asm: ws::Assembler<Vec<u8>>,
    /// What it should transmit, in order, and how much the peer read.
    expected: Vec<Expect>,
    seen: usize,
    opened: bool,
}

struct Harness<const N: usize, const A: usize> {
    sio: ClientCore<Vec<u8>, N, A>,
    config: ClientConfig,
    buffer_cap: usize,
    queue_size: usize,
    asm_cap: usize,
    asm: Assembler<Vec<u8>>,
    t: Option<Transport>,
    transport_seed: u64,
    rng: SplitMix64,
    now: Instant,
    // ---- the model ----
    ns: Vec<Ns>,
    phase: Phase,
    attempts: u32,
    acks: Vec<(u64, Option<Instant>)>,
    next_ack: u64,
    buffer: VecDeque<Buffered>,
    notices: VecDeque<ClientNotice>,
    masm: AsmModel,
    /// Ack ids of events the server sent, for `ack`.
    event_ids: Vec<u64>,
    stopped_for_good: bool,
    /// Reconnect notices queued before `close()`, still to be drained.
    reconnects_before_stop: usize,
    trace: bool,
}

fn header(kind: PacketType, nsp: &str, att: usize, ack: Option<u64>) -> String {
    let mut s = String::new();
    s.push(char::from(kind.digit()));
    if kind.is_binary() {
        s += &format!("{att}-");
    }
    if nsp != "/" {
        s += nsp;
        s.push(',');
    }
    if let Some(id) = ack {
        s += &id.to_string();
    }
    s
}

fn eio_cost(len: usize) -> usize {
    Eio::queue_cost(false, len)
}

impl<const N: usize, const A: usize> Harness<N, A> {
    fn new(cfg: u8, sizes: u8, seed: u8) -> Self {
        let (delay, max) =
            [(1000, 5000), (10, 50), (100, 100), (500, 50)][usize::from((cfg >> 4) & 3)];
        let limits = [
            Limits {
                max_namespace_len: 64,
                ..Limits::DEFAULT
            },
            Limits {
                max_attachments: 1,
                max_namespace_len: 64,
                ..Limits::DEFAULT
            },
            Limits {
                max_depth: 2,
                max_namespace_len: 64,
                ..Limits::DEFAULT
            },
            Limits {
                max_namespace_len: 8,
                ..Limits::DEFAULT
            },
        ][usize::from(sizes >> 6)];
        let config = ClientConfig {
            reconnection: cfg & 2 == 0,
            reconnection_attempts: [u32::MAX, 0, 1, 3][usize::from((cfg >> 2) & 3)],
            reconnection_delay: Duration::from_millis(delay),
            reconnection_delay_max: Duration::from_millis(max),
            randomization_permille: [500, 0, 1000, 2000][usize::from(cfg >> 6)],
            limits,
        };
        let buffer_cap = [4096, 64, 200, 0][usize::from(sizes & 3)];
        let queue_size = [8192, 64, 256, 30][usize::from((sizes >> 2) & 3)];
        let asm_cap = [4096, 0, 32, 200][usize::from((sizes >> 4) & 3)];
        Harness {
            sio: ClientCore::new(config, vec![0u8; buffer_cap]),
            config,
            buffer_cap,
            queue_size,
            asm_cap,
            asm: Assembler::new(vec![0u8; asm_cap]),
            t: None,
            transport_seed: u64::from(seed) << 8,
            rng: SplitMix64::new(u64::from(seed)),
            now: Instant::from_millis(1000),
            ns: Vec::new(),
            phase: Phase::Down(None),
            attempts: 0,
            acks: Vec::new(),
            next_ack: 0,
            buffer: VecDeque::new(),
            notices: VecDeque::new(),
            masm: AsmModel::default(),
            event_ids: Vec::new(),
            stopped_for_good: false,
            reconnects_before_stop: 0,
            trace: crate::sio_common::trace_env(),
        }
    }

    fn state(&self) -> String {
        format!("{:?}", self.sio)
    }

    fn find(&self, nsp: &str) -> Option<usize> {
        self.ns.iter().position(|n| n.name == nsp)
    }

    fn connected(&self, nsp: &str) -> bool {
        self.find(nsp)
            .is_some_and(|i| self.ns[i].state == NsState::Connected)
    }

    fn notice(&mut self, n: ClientNotice) {
        if self.notices.len() < 8 {
            self.notices.push_back(n);
        }
    }

    fn after_op(&mut self) {
        let used: usize = self.buffer.iter().map(Buffered::cost).sum();
        assert_eq!(
            self.sio.buffer_free(),
            self.buffer_cap - used,
            "buffer_free: a packet lost or gained"
        );
        for n in &self.ns {
            assert_eq!(
                self.sio.is_connected(&n.name),
                n.state == NsState::Connected,
                "is_connected({})",
                n.name
            );
        }
        assert!(self.ns.len() <= N && self.acks.len() <= A);
        assert_eq!(
            self.sio.is_stopped(),
            self.phase == Phase::Stopped,
            "is_stopped"
        );
        let retry = match self.phase {
            Phase::Down(r) => r,
            _ => None,
        };
        let want = self.acks.iter().filter_map(|a| a.1).chain(retry).min();
        assert_eq!(self.sio.poll_timeout(), want, "poll_timeout");
    }

    // ------------------------------------------------------- the transport

    fn open_transport(&mut self) {
        self.transport_seed += 1;
        let eio = engineio::ClientSession::new(
            self.now,
            engineio::ClientConfig {
                path: "/socket.io/",
                ..engineio::ClientConfig::default()
            },
            vec![0u8; self.queue_size],
            SplitMix64::new(self.transport_seed),
        );
        self.t = Some(Transport {
            eio,
            peer: Peer::new(),
            ws_asm: ws::Assembler::new(vec![0u8; 1 << 16]),
            expected: Vec::new(),
            seen: 0,
            opened: false,
        });
    }

    /// Server bytes into the transport; the messages it delivers go to
    /// `handle_message`.
    fn feed_transport(&mut self, mut bytes: Vec<u8>) {
        let mut off = 0;
        for _ in 0..(3 * bytes.len() + 10) {
            let Some(t) = self.t.as_mut() else { return };
            let r = t
                .eio
                .handle_input(self.now, &mut bytes[off..], &mut t.ws_asm);
            let msg = match r {
                Ok(input) => {
                    off += input.consumed;
                    let m = input.message.map(M::of);
                    if m.is_none() && input.consumed == 0 {
                        break;
                    }
                    m
                }
                Err(_) => break,
            };
            self.transport_events();
            if let Some(m) = msg {
                self.message(m);
            }
            if off == bytes.len() {
                break;
            }
        }
        self.transport_events();
    }

    /// The transport's events, as an application handles them.
    fn transport_events(&mut self) {
        for _ in 0..4 {
            let Some(t) = self.t.as_mut() else { return };
            let Some(e) = t.eio.poll_event() else { return };
            if self.trace {
                eprintln!("  transport event {e:?}");
            }
            match e {
                EioEvent::Open => {
                    t.opened = true;
                    self.handle_open();
                }
                EioEvent::Closed(reason) => {
                    let rng = self.rng.clone();
                    self.model_down(DisconnectReason::TransportClosed(reason), rng);
                    self.sio
                        .handle_transport_closed(self.now, reason, &mut self.rng);
                    self.after_op();
                }
                other => panic!("unknown transport event {other:?}"),
            }
        }
        panic!("too many transport events");
    }

    fn connect_text(ns: &Ns) -> String {
        let h = header(PacketType::Connect, &ns.name, 0, None);
        if ns.pid.is_empty() {
            return h + &ns.auth;
        }
        let inner = ns
            .auth
            .trim()
            .strip_prefix('{')
            .and_then(|a| a.strip_suffix('}'))
            .unwrap_or("")
            .trim();
        let sep = if inner.is_empty() { "" } else { "," };
        // No offset field before any event was received (as the reference).
        let offset = if ns.offset.is_empty() {
            String::new()
        } else {
            format!(r#","offset":{}"#, quote(&ns.offset))
        };
        format!(r#"{h}{{"pid":{}{offset}{sep}{inner}}}"#, quote(&ns.pid))
    }

    /// The model's `send_connect`; false when the transport refused it.
    fn model_send_connect(&mut self, i: usize, free: &mut usize) -> Result<(), Error> {
        let text = Self::connect_text(&self.ns[i]);
        let known = None;
        let t = self.t.as_mut().expect("a transport");
        // Sendable while opening or open (not closing, not closed).
        let sendable = t.eio.is_open() || (!t.eio.is_closed() && !t.opened);
        if !sendable {
            return Err(Error::Engine(engineio::Error::InvalidState));
        }
        if eio_cost(text.len()) > *free {
            return Err(Error::Engine(engineio::Error::QueueFull));
        }
        *free -= eio_cost(text.len());
        t.expected.push(Expect::Text {
            text,
            check: true,
            known,
        });
        self.ns[i].state = NsState::Connecting;
        Ok(())
    }

    fn handle_open(&mut self) {
        let before = self.state();
        let want = if self.phase == Phase::Stopped {
            Err(Error::InvalidState)
        } else {
            self.phase = Phase::Open;
            self.attempts = 0;
            let mut free = self.t.as_ref().unwrap().eio.queue_free();
            (0..self.ns.len()).try_for_each(|i| self.model_send_connect(i, &mut free))
        };
        let t = self.t.as_mut().unwrap();
        let got = self.sio.handle_open(&mut t.eio);
        assert_eq!(got, want, "handle_open");
        if got == Err(Error::InvalidState) {
            assert!(self.state() == before, "the state changed");
        }
        self.after_op();
    }

    /// The model's `on_down`, with the entropy the client will draw from.
    fn model_down(&mut self, reason: DisconnectReason, mut rng: SplitMix64) {
        for i in 0..self.ns.len() {
            if self.ns[i].state == NsState::Connected {
                let nsp = self.ns[i].name.as_str().try_into().unwrap();
                self.notice(ClientNotice::Disconnected { nsp, reason });
            }
            self.ns[i].state = NsState::Waiting;
        }
        if self.phase == Phase::Stopped {
            return;
        }
        // A server that is not an Engine.IO server: no retry mends it.
        if let DisconnectReason::TransportClosed(ClientCloseReason::Error(
            e @ engineio::Error::NotEngineIo,
        )) = reason
        {
            self.phase = Phase::Stopped;
            self.notice(ClientNotice::Fatal(e));
            return;
        }
        if !self.config.reconnection || self.ns.is_empty() {
            self.phase = Phase::Stopped;
            return;
        }
        if self.attempts >= self.config.reconnection_attempts {
            self.phase = Phase::Stopped;
            self.notice(ClientNotice::ReconnectFailed);
            return;
        }
        let mut b = [0u8; 4];
        rng.fill_bytes(&mut b);
        let random = u32::from_le_bytes(b);
        let c = &self.config;
        let delay = backoff(
            self.attempts,
            c.reconnection_delay,
            c.reconnection_delay_max,
            c.randomization_permille,
            random,
        );
        // The bounds, independently of the formula.
        let max = c.reconnection_delay_max.as_millis();
        let base = c
            .reconnection_delay
            .as_millis()
            .saturating_mul(1u64 << self.attempts.min(40)) as u128;
        let jitter = u128::from(c.randomization_permille.min(1000));
        let d = u128::from(delay.as_millis());
        assert!(d <= u128::from(max), "delay {d} over the cap {max}");
        assert!(
            d <= base + base * jitter / 1000 + 1,
            "delay {d} above the jitter of {base}"
        );
        let low = (base - (base * jitter).div_ceil(1000)).min(u128::from(max));
        assert!(d + 1 >= low, "delay {d} below the jitter of {base}");
        self.phase = Phase::Down(Some(self.now + delay));
    }

    // ---------------------------------------------------------------- input

    fn model_message(&mut self, m: &M) -> Result<Option<Ev>, Error> {
        let limits = self.sio_limits();
        let taken = match m {
            M::B(b) => {
                if self.masm.missing == 0 {
                    Err(Error::UnexpectedBinary)
                } else if self.asm_cap - self.masm.used < 4 + b.len() {
                    self.masm.missing = 0;
                    Err(Error::AttachmentsTooLarge)
                } else {
                    self.masm.used += 4 + b.len();
                    self.masm.missing -= 1;
                    self.masm.atts.push(b.clone());
                    if self.masm.missing > 0 {
                        return Ok(None);
                    }
                    Ok((
                        std::mem::take(&mut self.masm.text),
                        std::mem::take(&mut self.masm.atts),
                    ))
                }
            }
            M::T(t) => {
                if self.masm.missing > 0 {
                    self.masm.missing = 0;
                    Err(Error::MissingAttachments)
                } else {
                    match Packet::decode(t, &limits) {
                        Err(e) => Err(e),
                        Ok(p) if p.attachments > 0 => {
                            if t.len() > self.asm_cap {
                                Err(Error::AttachmentsTooLarge)
                            } else {
                                self.masm = AsmModel {
                                    missing: p.attachments,
                                    text: t.clone(),
                                    used: t.len(),
                                    atts: vec![],
                                };
                                return Ok(None);
                            }
                        }
                        Ok(_) => Ok((t.clone(), Vec::new())),
                    }
                }
            }
        };
        let (text, atts) = match taken {
            Ok(x) => x,
            Err(e) => {
                let rng = self.rng.clone();
                self.model_down(DisconnectReason::ParseError(e), rng);
                return Err(e);
            }
        };
        let p = Packet::decode(&text, &limits).unwrap();
        let Some(i) = self.find(p.nsp) else {
            return Ok(None);
        };
        let data = p.data.unwrap_or("[]").to_owned();
        Ok(match p.kind {
            PacketType::Connect => {
                let d = p.data.unwrap_or("{}");
                let strip = |v: &str| {
                    v.strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .map(str::to_owned)
                };
                let Some(sid) = json::get(d, "sid").and_then(strip) else {
                    return Ok(None);
                };
                let pid = json::get(d, "pid").and_then(strip);
                let ns = &mut self.ns[i];
                let recovered = !ns.pid.is_empty() && pid.as_deref() == Some(ns.pid.as_str());
                ns.pid = pid.filter(|p| p.len() <= 64).unwrap_or_default();
                if !recovered {
                    ns.offset.clear();
                }
                ns.state = NsState::Connected;
                Some(Ev::Connect(p.nsp.into(), sid, recovered))
            }
            PacketType::ConnectError => {
                self.ns.remove(i);
                Some(Ev::ConnectError(
                    p.nsp.into(),
                    p.data.unwrap_or("{}").into(),
                ))
            }
            PacketType::Disconnect => {
                self.ns.remove(i);
                Some(Ev::Disconnect(p.nsp.into()))
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let ns = &mut self.ns[i];
                if !ns.pid.is_empty()
                    && let Some(last) = {
                        let mut it = json::elements(&data);
                        let _ = it.next();
                        it.last()
                    }
                    && let Some(s) = last.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                    && s.len() <= 64
                {
                    ns.offset = s.to_owned();
                }
                if let Some(id) = p.ack_id {
                    self.event_ids.push(id);
                }
                Some(Ev::Event(p.nsp.into(), p.ack_id, data, atts))
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(k) = p
                    .ack_id
                    .and_then(|id| self.acks.iter().position(|a| a.0 == id))
                else {
                    return Ok(None);
                };
                self.acks.swap_remove(k);
                Some(Ev::Ack(p.nsp.into(), p.ack_id, data, atts))
            }
        })
    }

    fn sio_limits(&self) -> Limits {
        let mut l = self.config.limits;
        l.max_namespace_len = l.max_namespace_len.min(64);
        l
    }

    fn message(&mut self, m: M) {
        // Messages come from an open transport only (it delivers nothing
        // before the open packet or once it is closing).
        if !self.t.as_ref().is_some_and(|t| t.eio.is_open()) {
            return;
        }
        let want = self.model_message(&m);
        let t = self.t.as_mut().unwrap();
        let got = self
            .sio
            .handle_message(self.now, &mut t.eio, m.data(), &mut self.asm, &mut self.rng)
            .map(|o| o.map(own));
        if self.trace {
            eprintln!("  handle_message({m:?}) -> {got:?}");
        }
        assert_eq!(got, want, "handle_message({m:?})");
        if got.is_err() {
            assert!(!t.eio.is_open(), "a protocol error left the transport open");
        }
        self.after_op();
        self.transport_events();
    }

    // ------------------------------------------------------------- commands

    fn command<T: std::fmt::Debug + PartialEq>(
        &mut self,
        want: Result<T, Error>,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let before = self.state();
        let got = f(self);
        if self.trace {
            eprintln!("  -> {got:?} (model {want:?})");
        }
        assert_eq!(got, want, "the command's answer");
        if got.is_err() {
            assert!(self.state() == before, "{got:?} but the client changed");
        }
        got
    }

    fn nsp(&self, r: &mut R<'_>) -> String {
        let c = r.u8();
        match c % 8 {
            0..=3 if !self.ns.is_empty() => self.ns[usize::from(c) % self.ns.len()].name.clone(),
            4 => format!("/{}", "n".repeat(usize::from(r.u8() % 80))),
            _ => NSPS[usize::from(r.u8()) % NSPS.len()].into(),
        }
    }

    fn connect(&mut self, flags: u8, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let a = r.u8();
        let auth = match a % 8 {
            0 | 1 => None,
            2 => Some(r#"{"token":"123"}"#.to_owned()),
            3 => Some("[]".to_owned()),
            4 => Some(format!(r#"{{"x":"{}"}}"#, "a".repeat(300))),
            5 => Some(format!(
                r#"{{"d":{}{}}}"#,
                "[".repeat(usize::from(a >> 3) % 8),
                "]".repeat(usize::from(a >> 3) % 8)
            )),
            6 => Some(String::new()),
            _ => Some(r#" {"pid":"mine"} "#.to_owned()),
        };
        let with_eio = flags & 1 == 0 && self.t.is_some();
        // Kept without the whitespace around it (it follows the header).
        let auth_s = auth
            .clone()
            .unwrap_or_default()
            .trim_matches([' ', '\t', '\n', '\r'])
            .to_owned();
        let limits = self.sio_limits();
        let want = (|| {
            if !nsp.starts_with('/') || nsp.contains(',') {
                return Err(Error::InvalidNamespace);
            }
            // Past the client's own decoder limit (capped at 64) no reply for
            // it could decode, so `connect` refuses it.
            if nsp.len() > limits.max_namespace_len.min(64) {
                return Err(Error::NamespaceTooLong);
            }
            if !auth_s.is_empty()
                && (json::validate(&auth_s, limits.max_depth).is_err()
                    || json::kind(&auth_s) != Some(json::Kind::Object))
            {
                return Err(Error::InvalidPayload);
            }
            if auth_s.len() > 256 {
                return Err(Error::InvalidPayload);
            }
            Ok(())
        })();
        let before = self.state();
        let mut expected = want;
        let mut new_index = None;
        if expected.is_ok() && self.find(&nsp).is_none() {
            if self.ns.len() == N {
                expected = Err(Error::TooManyNamespaces);
            } else {
                self.ns.push(Ns {
                    name: nsp.clone(),
                    auth: auth_s.clone(),
                    state: NsState::Waiting,
                    pid: String::new(),
                    offset: String::new(),
                });
                new_index = Some(self.ns.len() - 1);
            }
        }
        let mut send_failed = false;
        if let Some(i) = new_index
            && self.phase == Phase::Open
            && with_eio
        {
            let mut free = self.t.as_ref().unwrap().eio.queue_free();
            if let Err(e) = self.model_send_connect(i, &mut free) {
                expected = Err(e);
                send_failed = true;
            }
        }
        let got = {
            let eio = if with_eio {
                self.t.as_mut().map(|t| &mut t.eio)
            } else {
                None
            };
            self.sio.connect(eio, &nsp, auth.as_deref())
        };
        if self.trace {
            eprintln!("  connect({nsp:?}, {auth:?}) -> {got:?} (model {expected:?})");
        }
        assert_eq!(got, expected, "connect");
        if got.is_err() && !send_failed {
            assert!(self.state() == before, "{got:?} but the client changed");
            if let Some(i) = new_index {
                self.ns.remove(i);
            }
        }
        // When the CONNECT could not be queued the namespace stays
        // registered, waiting: `flush` sends its CONNECT later (documented
        // on `flush`).
    }

    fn emit(&mut self, with_ack: bool, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let name = arb_name(r);
        let att_c = r.u8();
        let count = if att_c >= 250 {
            11
        } else {
            usize::from(att_c % 4)
        };
        let (args, valid) = arb_args(r, count);
        let atts = arb_attachments(r, count);
        let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
        let timeout = with_ack
            .then(|| TIMEOUTS[usize::from(r.u8() % 8)])
            .flatten();
        let kind = if count == 0 {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        let id = with_ack.then_some(self.next_ack);
        let text = header(kind, &nsp, count, id)
            + &if args.is_empty() {
                format!("[{}]", quote(&name))
            } else {
                format!("[{},{args}]", quote(&name))
            };
        let known = None;
        let b = Buffered {
            text,
            kind,
            nsp: nsp.clone(),
            atts: atts.clone(),
            check: valid,
            known,
        };
        let quoted = json::str_len(&name);
        let want = (|| {
            if with_ack && self.acks.len() == A {
                return Err(Error::AckTableFull);
            }
            self.find(&nsp).ok_or(Error::NotConnected)?;
            if count > self.config.limits.max_attachments {
                return Err(Error::TooManyAttachments);
            }
            if is_reserved(&name) {
                return Err(Error::ReservedEventName);
            }
            if quoted > MAX_EVENT_NAME_LEN {
                return Err(Error::BufferTooSmall { required: quoted });
            }
            // The real text's length (the name as sockwire escapes it).
            let cost = b.cost() - quote(&name).len() + quoted;
            if cost > self.sio.buffer_free() {
                return Err(Error::SendBufferFull);
            }
            Ok(id)
        })();
        let now = self.now;
        let got = self.command(want, |h| {
            if with_ack {
                h.sio
                    .emit_with_ack(
                        now,
                        &nsp,
                        &name,
                        &args,
                        &refs,
                        timeout.map(Duration::from_millis),
                    )
                    .map(Some)
            } else {
                h.sio.emit(&nsp, &name, &args, &refs).map(|()| None)
            }
        });
        if got.is_ok() {
            if with_ack {
                self.next_ack += 1;
                self.acks
                    .push((id.unwrap(), timeout.map(|t| now + Duration::from_millis(t))));
            }
            let mut b = b;
            // Keep the exact text sockwire buffered (its own escaping).
            let mut q = vec![0u8; quoted];
            json::write_str(&name, &mut q).unwrap();
            let q = String::from_utf8(q).unwrap();
            b.text = header(kind, &nsp, count, id)
                + &if args.is_empty() {
                    format!("[{q}]")
                } else {
                    format!("[{q},{args}]")
                };
            self.buffer.push_back(b);
        }
    }

    fn volatile(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let name = arb_name(r);
        let (args, valid) = arb_args(r, 0);
        let Some(t) = self.t.as_ref() else { return };
        let quoted = json::str_len(&name);
        let want = (|| {
            if !self.connected(&nsp) || self.phase != Phase::Open || !self.buffer.is_empty() {
                return Ok(false);
            }
            if is_reserved(&name) {
                return Err(Error::ReservedEventName);
            }
            if quoted > MAX_EVENT_NAME_LEN {
                return Err(Error::BufferTooSmall { required: quoted });
            }
            let len = header(PacketType::Event, &nsp, 0, None).len()
                + 2
                + quoted
                + args.len()
                + usize::from(!args.is_empty());
            let sendable = t.eio.is_open() || (!t.eio.is_closed() && !t.opened);
            Ok(sendable && eio_cost(len) <= t.eio.queue_free())
        })();
        let got = self.command(want, |h| {
            let t = h.t.as_mut().unwrap();
            h.sio.emit_volatile(&mut t.eio, &nsp, &name, &args)
        });
        if got == Ok(true) {
            let mut q = vec![0u8; quoted];
            json::write_str(&name, &mut q).unwrap();
            let q = String::from_utf8(q).unwrap();
            let text = header(PacketType::Event, &nsp, 0, None)
                + &if args.is_empty() {
                    format!("[{q}]")
                } else {
                    format!("[{q},{args}]")
                };
            let known = None;
            self.t.as_mut().unwrap().expected.push(Expect::Text {
                text,
                check: valid,
                known,
            });
        }
    }

    fn ack(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let c = r.u8();
        let id = match self.event_ids.get(usize::from(c) % 8) {
            Some(id) if c & 0x80 == 0 => *id,
            _ => u64::from(c),
        };
        let att_c = r.u8();
        let count = if att_c >= 250 {
            11
        } else {
            usize::from(att_c % 4)
        };
        let (args, valid) = arb_args(r, count);
        let atts = arb_attachments(r, count);
        let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
        let kind = if count == 0 {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        let text = header(kind, &nsp, count, Some(id)) + &format!("[{args}]");
        let known = None;
        let b = Buffered {
            text,
            kind,
            nsp: nsp.clone(),
            atts: atts.clone(),
            check: valid,
            known,
        };
        let want = (|| {
            self.find(&nsp).ok_or(Error::NotConnected)?;
            if count > self.config.limits.max_attachments {
                return Err(Error::TooManyAttachments);
            }
            if b.cost() > self.sio.buffer_free() {
                return Err(Error::SendBufferFull);
            }
            Ok(())
        })();
        let got = self.command(want, |h| h.sio.ack(&nsp, id, &args, &refs));
        if got.is_ok() {
            self.buffer.push_back(b);
        }
    }

    fn disconnect(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let i = self.find(&nsp);
        let b = Buffered {
            text: header(PacketType::Disconnect, &nsp, 0, None),
            kind: PacketType::Disconnect,
            nsp: nsp.clone(),
            atts: vec![],
            check: true,
            known: None,
        };
        let connected = i.is_some_and(|i| self.ns[i].state == NsState::Connected);
        let want = (|| {
            i.ok_or(Error::NotConnected)?;
            if connected && b.cost() > self.sio.buffer_free() {
                return Err(Error::SendBufferFull);
            }
            Ok(())
        })();
        let got = self.command(want, |h| h.sio.disconnect(&nsp));
        if got.is_ok() {
            if connected {
                self.buffer.push_back(b);
            }
            let ns = self.ns.remove(i.unwrap());
            self.notice(ClientNotice::Disconnected {
                nsp: ns.name.as_str().try_into().unwrap(),
                reason: DisconnectReason::ClientDisconnect,
            });
        }
    }

    // ---------------------------------------------------------------- flush

    fn flush(&mut self) {
        if self.t.is_none() {
            return;
        }
        // The model: CONNECTs of waiting namespaces, then the front packets
        // that can move; packets of namespaces no longer registered drop.
        let open = self.phase == Phase::Open && self.t.as_ref().unwrap().eio.is_open();
        let mut want = Ok(());
        let mut moved = Vec::new();
        if open {
            let mut free = self.t.as_ref().unwrap().eio.queue_free();
            for i in 0..self.ns.len() {
                if self.ns[i].state == NsState::Waiting
                    && let Err(e) = self.model_send_connect(i, &mut free)
                {
                    want = Err(e);
                    break;
                }
            }
            while want.is_ok() {
                let Some(b) = self.buffer.front() else { break };
                let registered = self.ns.iter().any(|n| n.name == b.nsp);
                let connected = self
                    .ns
                    .iter()
                    .any(|n| n.name == b.nsp && n.state == NsState::Connected);
                if b.kind != PacketType::Disconnect && !registered {
                    self.buffer.pop_front();
                    continue;
                }
                // (An accepted ack with more attachments than the default
                // limits was once dropped here: fixed in 36b6626.)
                assert!(
                    !b.attachments_over_limit(),
                    "an accepted packet flush cannot send: {:?}",
                    b.text
                );
                if b.kind != PacketType::Disconnect && !connected {
                    break;
                }
                let need = eio_cost(b.text.len())
                    + b.atts
                        .iter()
                        .map(|a| Eio::queue_cost(true, a.len()))
                        .sum::<usize>();
                if need > free {
                    break;
                }
                free -= need;
                moved.push(self.buffer.pop_front().unwrap());
            }
        }
        let t = self.t.as_mut().unwrap();
        let r = self.sio.flush(&mut t.eio);
        assert_eq!(r, want, "flush");
        for b in moved {
            t.expected.push(Expect::Text {
                text: b.text,
                check: b.check,
                known: b.known,
            });
            t.expected.extend(b.atts.into_iter().map(Expect::Binary));
        }
        self.after_op();
        self.transmit();
    }

    /// Everything the transport transmits, to the peer, checked.
    fn transmit(&mut self) {
        let Some(t) = self.t.as_mut() else { return };
        let mut out = vec![0u8; 4096];
        for _ in 0..1000 {
            match t.eio.poll_transmit(&mut out) {
                Ok(0) => break,
                Ok(n) => t.peer.feed(&out[..n]),
                Err(e) => panic!("poll_transmit: {e:?}"),
            }
        }
        let msgs = std::mem::take(&mut t.peer.messages);
        if self.trace {
            eprintln!("  transmitted {msgs:?}");
        }
        for m in msgs {
            let m = match m {
                M::T(s) if s == "3" || s == "1" => continue,
                M::T(s) => M::T(
                    s.strip_prefix('4')
                        .expect("an Engine.IO message")
                        .to_owned(),
                ),
                b => b,
            };
            let want = t.expected.get(t.seen).cloned();
            t.seen += 1;
            match (&m, want) {
                (M::B(b), Some(Expect::Binary(w))) => assert_eq!(*b, w, "attachment"),
                (M::T(s), Some(Expect::Text { text, check, known })) => {
                    if check {
                        assert!(
                            json_text_eq(s, &text),
                            "the client sent {s:?}, expected {text:?}"
                        );
                        match Packet::decode(s, &Limits::DEFAULT) {
                            Ok(_) => {}
                            Err(e) => {
                                if !known.is_some_and(tolerate) {
                                    panic!("the client sent {s:?}, which does not decode: {e:?}");
                                }
                            }
                        }
                    }
                }
                (m, w) => panic!("the client sent {m:?}, expected {w:?}"),
            }
        }
        if t.eio.is_open() {
            assert_eq!(
                t.seen,
                t.expected.len(),
                "queued on an open transport, not transmitted"
            );
        }
    }

    /// Replies to every CONNECT the peer read since the last answer.
    fn answer(&mut self, flags: u8) {
        let Some(t) = self.t.as_ref() else { return };
        let mut replies = Vec::new();
        for e in t.expected[..t.seen].iter() {
            if let Expect::Text { text, .. } = e
                && text.starts_with('0')
                && let Ok(p) = Packet::decode(text, &Limits::DEFAULT)
            {
                let pid = if flags & 1 == 1 { r#","pid":"p1""# } else { "" };
                replies.push(format!(
                    "{}{{\"sid\":\"s-{}\"{pid}}}",
                    header(PacketType::Connect, p.nsp, 0, None),
                    p.nsp.len()
                ));
            }
        }
        replies.dedup();
        for text in replies {
            self.message(M::T(text));
        }
    }

    // ----------------------------------------------------- server packets

    fn server_packet(&mut self, r: &mut R<'_>) -> Vec<M> {
        let nsp = self.nsp(r);
        let nsp = if nsp.starts_with('/') && !nsp.contains(',') {
            nsp
        } else {
            "/".into()
        };
        let c = r.u8();
        let h = |k, att, ack| header(k, &nsp, att, ack);
        let id = match self.acks.get(usize::from(r.u8()) % 8) {
            Some(a) => a.0,
            None => u64::from(c),
        };
        let mut text = match c % 16 {
            0 | 1 => h(PacketType::Connect, 0, None) + r#"{"sid":"abc"}"#,
            2 => h(PacketType::Connect, 0, None) + r#"{"sid":"abc","pid":"p1"}"#,
            3 => h(PacketType::Connect, 0, None) + r#"{"sid":"abc","pid":"p2"}"#,
            4 => h(PacketType::Connect, 0, None) + r#"{"sid":1}"#,
            5 => h(PacketType::Connect, 0, None),
            6 => h(PacketType::ConnectError, 0, None) + r#"{"message":"Not authorized"}"#,
            7 => h(PacketType::Disconnect, 0, None),
            8 | 9 => h(PacketType::Event, 0, None) + &format!(r#"["news",{},"off-{}"]"#, c, r.u8()),
            10 => h(PacketType::Event, 0, Some(u64::from(r.u8()))) + r#"["question"]"#,
            11 => h(PacketType::Ack, 0, Some(id)) + r#"["answer"]"#,
            12 => h(PacketType::BinaryEvent, 1, None) + r#"["bin",{"_placeholder":true,"num":0}]"#,
            13 => {
                h(PacketType::BinaryAck, 2, Some(id))
                    + r#"[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#
            }
            14 => {
                let p = crate::sio_packet::arb_packet(r);
                let mut t = h(p.kind, p.attachments.min(12), p.ack_id);
                t += p.data.as_deref().unwrap_or("");
                t
            }
            _ => h(PacketType::Ack, 0, Some(id)) + "[]",
        };
        if text.is_empty() {
            text = "0".into();
        }
        let mut items = vec![M::T(text.clone())];
        if let Ok(p) = Packet::decode(
            &text,
            &Limits {
                max_attachments: 12,
                ..Limits::DEFAULT
            },
        ) {
            items.extend(arb_attachments(r, p.attachments).into_iter().map(M::B));
        }
        items
    }

    fn server(&mut self, flags: u8, r: &mut R<'_>) {
        let mut items = self.server_packet(r);
        if flags & 2 == 2 {
            items.truncate(1);
        }
        if flags & 1 == 1 && self.t.is_some() {
            let mut bytes = Vec::new();
            for m in &items {
                match m {
                    M::T(t) => bytes.extend(server_frames(
                        MessageKind::Text,
                        format!("4{t}").as_bytes(),
                        1,
                    )),
                    M::B(b) => bytes.extend(server_frames(MessageKind::Binary, b, 1)),
                }
            }
            self.feed_transport(bytes);
        } else {
            for m in items {
                self.message(m);
            }
        }
    }

    fn server_open(&mut self, r: &mut R<'_>) {
        let c = r.u8();
        let text = match c % 8 {
            0..=3 => r#"0{"sid":"eio-1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#.to_owned(),
            4 => r#"0{"sid":"eio-2","upgrades":[],"pingInterval":100,"pingTimeout":100}"#.to_owned(),
            5 => r#"0{"sid":"eio"}"#.to_owned(),
            6 => "40".to_owned(),
            _ => "2".to_owned(),
        };
        if self.t.is_some() {
            self.feed_transport(server_frames(MessageKind::Text, text.as_bytes(), 1));
        }
    }

    fn transport_closed(&mut self, r: &mut R<'_>) {
        let reason = [
            ClientCloseReason::TransportClose,
            ClientCloseReason::PingTimeout,
            ClientCloseReason::OpenTimeout,
            ClientCloseReason::ServerClose,
            ClientCloseReason::ForcedClose,
            ClientCloseReason::Error(engineio::Error::InvalidPacket),
        ][usize::from(r.u8() % 6)];
        self.t = None;
        let rng = self.rng.clone();
        self.model_down(DisconnectReason::TransportClosed(reason), rng);
        self.sio
            .handle_transport_closed(self.now, reason, &mut self.rng);
        self.after_op();
    }

    // ----------------------------------------------------------------- time

    fn timeout(&mut self) {
        let now = self.now;
        if let Phase::Down(Some(at)) = self.phase
            && now >= at
            && self.notices.len() < 8
        {
            self.attempts += 1;
            self.phase = Phase::Down(None);
            self.notice(ClientNotice::Reconnect {
                attempt: self.attempts,
            });
        }
        while self.notices.len() < 8
            && let Some(i) = self.acks.iter().position(|a| a.1.is_some_and(|d| now >= d))
        {
            let (id, _) = self.acks.swap_remove(i);
            self.notices.push_back(ClientNotice::AckTimeout(id));
        }
        self.sio.handle_timeout(now);
        if let Some(t) = self.sio.poll_timeout() {
            assert!(
                t > now || self.notices.len() == 8,
                "poll_timeout {t:?} not after {now:?}"
            );
        }
        if let Some(t) = self.t.as_mut() {
            t.eio.handle_timeout(now);
            if let Some(d) = t.eio.poll_timeout() {
                assert!(d > now, "the transport's poll_timeout is not after now");
            }
        }
        self.after_op();
        self.transport_events();
    }

    fn notices(&mut self) {
        let mut got = Vec::new();
        while let Some(n) = self.sio.poll_event() {
            got.push(n);
            assert!(got.len() <= 8);
        }
        let want: Vec<ClientNotice> = self.notices.drain(..).collect();
        assert_eq!(got, want, "notices");
        for n in &got {
            match n {
                ClientNotice::Reconnect { .. } => {
                    if self.stopped_for_good {
                        assert!(
                            self.reconnects_before_stop > 0,
                            "Reconnect after ReconnectFailed or close()"
                        );
                        self.reconnects_before_stop -= 1;
                    }
                }
                ClientNotice::ReconnectFailed | ClientNotice::Fatal(_) => {
                    self.stopped_for_good = true
                }
                _ => {}
            }
        }
    }

    fn step(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let flags = b >> 4;
        if self.trace {
            eprintln!("op {} flags {flags:#x} phase {:?}", b & 15, self.phase);
        }
        match b & 15 {
            op::CONNECT => self.connect(flags, r),
            op::EMIT => self.emit(false, r),
            op::EMIT_ACK => self.emit(true, r),
            op::VOLATILE => self.volatile(r),
            op::ACK => self.ack(r),
            op::DISCONNECT => self.disconnect(r),
            op::CLOSE => {
                self.sio.close();
                self.phase = Phase::Stopped;
                if !self.stopped_for_good {
                    self.reconnects_before_stop = self
                        .notices
                        .iter()
                        .filter(|n| matches!(n, ClientNotice::Reconnect { .. }))
                        .count();
                }
                self.stopped_for_good = true;
                if flags & 1 == 1
                    && let Some(t) = self.t.as_mut()
                {
                    t.eio.close(self.now);
                }
                self.transmit();
                self.transport_events();
            }
            op::OPEN_TRANSPORT => {
                self.open_transport();
                if flags & 1 == 1 {
                    self.feed_transport(server_frames(
                        MessageKind::Text,
                        br#"0{"sid":"eio-1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#,
                        1,
                    ));
                }
            }
            op::SERVER_OPEN => self.server_open(r),
            op::TRANSPORT_CLOSED => self.transport_closed(r),
            op::SERVER => self.server(flags, r),
            op::SERVER_RAW => {
                let bytes = r.short_bytes().to_vec();
                let m = if flags & 1 == 1 {
                    M::B(bytes)
                } else {
                    M::T(String::from_utf8_lossy(&bytes).into_owned())
                };
                self.message(m);
            }
            op::ADVANCE => {
                let s = r.u8();
                let step = if s < 16 {
                    STEPS[usize::from(s)]
                } else {
                    u64::from(s) * 11
                };
                self.now = Instant::from_millis((self.now.as_millis() + step).min(1 << 45));
                self.timeout();
            }
            op::FLUSH => self.flush(),
            op::NOTICES => self.notices(),
            _ => self.answer(flags),
        }
        self.after_op();
        if flags & 8 == 0 {
            self.notices();
        }
    }

    /// The application reconnects and flushes: every packet of a registered
    /// namespace must go out.
    fn finish(mut self) {
        self.notices();
        for round in 0..6 {
            if self.buffer.is_empty() || self.phase == Phase::Stopped {
                break;
            }
            let usable = self.phase == Phase::Open
                && self.queue_size == 1 << 16
                && self.t.as_ref().is_some_and(|t| t.eio.is_open());
            if round > 0 || !usable {
                // A fresh transport with a large queue.
                if self.t.is_some() || self.phase == Phase::Open {
                    self.t = None;
                    let rng = self.rng.clone();
                    let reason = ClientCloseReason::TransportClose;
                    self.model_down(DisconnectReason::TransportClosed(reason), rng);
                    self.sio
                        .handle_transport_closed(self.now, reason, &mut self.rng);
                    self.after_op();
                    self.notices();
                }
                if let Phase::Down(Some(at)) = self.phase {
                    self.now = self.now.max(at);
                    self.timeout();
                    self.notices();
                }
                if self.phase != Phase::Down(None) {
                    break;
                }
                self.queue_size = 1 << 16;
                self.open_transport();
                self.feed_transport(server_frames(
                    MessageKind::Text,
                    br#"0{"sid":"eio-f","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#,
                    1,
                ));
                self.notices();
            }
            self.transmit();
            self.answer(0);
            self.notices();
            self.flush();
            self.notices();
        }
        if self.phase == Phase::Stopped {
            return;
        }
        let registered = |b: &Buffered, ns: &[Ns]| ns.iter().any(|n| n.name == b.nsp);
        let connected = |b: &Buffered, ns: &[Ns]| {
            ns.iter()
                .any(|n| n.name == b.nsp && n.state == NsState::Connected)
        };
        if let Some(pos) = self.buffer.iter().position(|b| connected(b, &self.ns)) {
            // Packets of namespaces not connected yet wait, in order.
            if self
                .buffer
                .iter()
                .take(pos)
                .any(|b| registered(b, &self.ns) && !connected(b, &self.ns))
            {
                return;
            }
            panic!(
                "a packet of a connected namespace never went out: {:?} (buffer {:?})",
                self.buffer[pos].text,
                self.buffer.iter().map(|b| &b.text).collect::<Vec<_>>()
            );
        }
    }
}

/// The same packet text, up to the JSON spelling of the data.
fn json_text_eq(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let wide = Limits {
        max_attachments: usize::MAX,
        max_namespace_len: usize::MAX,
        max_depth: 64,
    };
    match (Packet::decode(a, &wide), Packet::decode(b, &wide)) {
        (Ok(x), Ok(y)) => {
            (x.kind, x.nsp, x.ack_id, x.attachments) == (y.kind, y.nsp, y.ack_id, y.attachments)
                && match (x.data, y.data) {
                    (Some(p), Some(q)) => json_eq(p, q),
                    (p, q) => p == q,
                }
        }
        _ => false,
    }
}

fn run<const N: usize, const A: usize>(cfg: u8, r: &mut R<'_>) {
    let sizes = r.u8();
    let seed = r.u8();
    let mut h: Harness<N, A> = Harness::new(cfg, sizes, seed);
    let mut ops = 0;
    while !r.is_empty() && ops < MAX_OPS {
        h.step(r);
        ops += 1;
    }
    h.finish();
}

/// The `sio_client` target.
pub fn sio_client(data: &[u8]) {
    let mut r = R::new(data);
    let cfg = r.u8();
    if cfg & 1 == 0 {
        run::<2, 2>(cfg, &mut r);
    } else {
        run::<4, 4>(cfg, &mut r);
    }
}
