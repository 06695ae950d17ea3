//! `sio_server`: the Socket.IO server connection (`socketio::Connection<N,
//! A>`) over an Engine.IO session, driven by a byte-derived sequence of
//! operations on a virtual clock, against a model written from its docs.
//!
//! Input: `config:u8 limits:u8 seed:u8` then operations (at most 192), each an
//! op byte (low nibble: which, high nibble: flags) and its arguments (see
//! [`op`]). The config byte picks the tables (`& 1`: `N = A = 2` or `N = A =
//! 4`), the transport (`& 2`: WebSocket, else polling), the namespaces (`>> 2
//! & 3`: `["/"]`, `["/", "/admin", "/chat"]`, dynamic, none), the session's
//! queue storage (`>> 4 & 3`: 8192, 256, 512, 1024 bytes) and the assembler
//! (`>> 6`: 4096, 0, 32, 200 bytes). The limits byte picks
//! `max_attachments` (`& 3`: 10, 1, 3, 0), `max_depth` (`>> 2 & 3`: 32, 2,
//! 64, 0) and `max_namespace_len` (`>> 4 & 3`: 64, 4, 8, 200, capped at 64).
//! The connect timeout is 500 ms; Engine.IO pings every 25 s and waits 20 s.
//!
//! Messages from the client go straight to `handle_message` (arbitrary text,
//! packets built from fields, binary attachments), or, on polling, through a
//! real POST body (`handle_post`, `read_message`).
//!
//! The model follows the docs of `Connection`: the joined namespaces (in
//! order, with their socket ids), the outstanding acks (with deadlines, in the
//! table's order), the connect deadline, the binary packet being assembled
//! (and the lent storage it takes), the notices, the protocol error.
//!
//! Oracles:
//! - No panic; bounded operations and loops.
//! - `handle_message` returns exactly what the model says: the event (type,
//!   namespace, auth, ack id, data, attachments), `None`, or the error; a
//!   protocol error leaves `error()` set, the Engine.IO session closed, a
//!   `ProtocolError` notice (if the queue has room), and every later
//!   `handle_message` `InvalidState`; the automatic `Invalid namespace`
//!   refusal is queued exactly for a CONNECT to a namespace that does not
//!   exist.
//! - Commands (`accept`, `refuse`, `refuse_with_message`, `emit`,
//!   `emit_with_ack`, `ack`, `disconnect`) succeed or fail exactly as the
//!   model says (`InvalidState`, `NotConnected`, `NamespaceTooLong`,
//!   `InvalidNamespace`, `TooManyNamespaces`, `AckTableFull`,
//!   `BufferTooSmall`, `Engine(QueueFull)` when the session's `queue_free()`
//!   cannot take the packet and its attachments, `Engine(InvalidState)` when
//!   it is closed); a refused command changes nothing (the connection's
//!   `Debug` form and the session's `queue_free()`); `emit_with_ack` ids
//!   count up from 0.
//! - The tables: `namespaces()` is the model's list (never more than `N`);
//!   the ack table never holds more than `A` (`AckTableFull` exactly then).
//! - Time: `poll_timeout()` is the model's earliest deadline; after
//!   `handle_timeout(now)` it is `None` or later than `now`, unless the
//!   notice queue is full (the rest waits for the application to drain it);
//!   draining and repeating makes progress until it is.
//! - Notices are exactly the model's (at most 4 queued).
//! - Output: everything the session writes (polling responses, or frames read
//!   by a client-role `ws::Connection`) is Engine.IO packets; its messages
//!   are exactly a prefix of what the model says the commands queued, in
//!   order; every text message decodes with `Packet::decode` and the default
//!   limits, and a binary packet is followed by exactly its attachments.
//! - Message accessors (`name`, `args`, `args_raw`) agree with the data:
//!   `[name, args_raw]` is the event's array.

use std::collections::VecDeque;

use sockwire::engineio::{
    self, Data, Packet as EPacket, Payload, PayloadWriter, Session, Transport,
};
use sockwire::entropy::SplitMix64;
use sockwire::json;
use sockwire::socketio::{
    Assembler, Config, Connection, ConnectionEvent as Event, Error, Limits, MAX_EVENT_NAME_LEN,
    Notice, Packet, PacketType,
};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, MessageKind};

use crate::reader::R;
use crate::sio_common::{
    Known, M, arb_args, arb_attachments, arb_name, is_reserved, json_eq, quote, tolerate,
};
use crate::sio_packet::{NAMESPACES, arb_data};

const MAX_OPS: usize = 192;
const CONNECT_TIMEOUT: u64 = 500;
const STEPS: [u64; 16] = [
    0,
    1,
    99,
    100,
    101,
    499,
    500,
    501,
    999,
    1000,
    5000,
    20_000,
    25_000,
    45_001,
    60_000,
    1 << 30,
];
const TIMEOUTS: [Option<u64>; 8] = [
    None,
    Some(0),
    Some(1),
    Some(100),
    Some(500),
    Some(1000),
    None,
    Some(30_000),
];

/// The operations, by the low nibble of the op byte.
pub mod op {
    /// `len:u8 bytes`: a text message (flag 1: `len:u16`).
    pub const TEXT: u8 = 0;
    /// A packet from fields (see [`crate::sio_packet::arb_packet`], with the
    /// namespace chosen from the joined and configured ones), then its
    /// attachments as binary messages (flag 1: none of them; flag 2: one
    /// extra).
    pub const PACKET: u8 = 1;
    /// `len:u8 bytes`: a binary message.
    pub const BINARY: u8 = 2;
    /// `nsp`: `accept`.
    pub const ACCEPT: u8 = 3;
    /// `nsp data`: `refuse` (flag 1: `refuse_with_message` with `len:u8`
    /// bytes).
    pub const REFUSE: u8 = 4;
    /// `nsp name att:u8 args attachments`: `emit`.
    pub const EMIT: u8 = 5;
    /// `nsp name att:u8 args attachments timeout:u8`: `emit_with_ack`.
    pub const EMIT_ACK: u8 = 6;
    /// `nsp id:u8 att:u8 args attachments`: `ack` (the id of a received event
    /// or any).
    pub const ACK: u8 = 7;
    /// `nsp`: `disconnect`.
    pub const DISCONNECT: u8 = 8;
    /// `step:u8`: advance the clock, then `handle_timeout` on both.
    pub const ADVANCE: u8 = 9;
    /// Read everything the session writes (a GET on polling).
    pub const DRAIN: u8 = 10;
    /// `count:u8` items (a packet from fields and its attachments, or raw
    /// text): one POST body (polling only).
    pub const POST: u8 = 11;
    /// `poll_event` until `None`.
    pub const NOTICES: u8 = 12;
    /// Answer the session's pings (a pong through its transport).
    pub const PONG: u8 = 13;
    /// `engineio::Session::close`.
    pub const ENGINE_CLOSE: u8 = 14;
    /// `handle_timeout` at the current time.
    pub const TICK: u8 = 15;
}

/// A message of an event or ack, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    nsp: String,
    ack_id: Option<u64>,
    data: String,
    atts: Vec<Vec<u8>>,
}

/// An event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// Connect.
    Connect(String, Option<String>),
    /// Event.
    Event(Msg),
    /// Ack.
    Ack(Msg),
    /// Disconnect.
    Disconnect(String),
}

fn own(e: Event<'_>) -> Ev {
    let msg = |m: &sockwire::socketio::Message<'_>| {
        // The accessors never panic and agree with the data.
        let _ = m.name();
        let _ = m.args().count();
        let raw = m.args_raw();
        // An ack's arguments are its whole array (an event's skip the name:
        // checked below).
        if !m.is_event() && json::validate(m.data, json::MAX_DEPTH).is_ok() {
            let rebuilt = format!("[{raw}]");
            assert!(
                json_eq(&rebuilt, m.data),
                "args_raw() {raw:?} of {:?}",
                m.data
            );
        }
        Msg {
            nsp: m.nsp.to_owned(),
            ack_id: m.ack_id,
            data: m.data.to_owned(),
            atts: m.attachments.into_iter().map(<[u8]>::to_vec).collect(),
        }
    };
    match e {
        Event::Connect { nsp, auth } => Ev::Connect(nsp.into(), auth.map(Into::into)),
        Event::Event(m) => {
            let first = json::elements(m.data).next().unwrap_or("");
            let rest = m.args_raw();
            if json::validate(m.data, json::MAX_DEPTH).is_ok() {
                let rebuilt = if rest.is_empty() {
                    format!("[{first}]")
                } else {
                    format!("[{first},{rest}]")
                };
                assert!(
                    json_eq(&rebuilt, m.data),
                    "args_raw() {rest:?} of {:?}",
                    m.data
                );
            }
            Ev::Event(msg(&m))
        }
        Event::Ack(m) => Ev::Ack(msg(&m)),
        Event::Disconnect { nsp, .. } => Ev::Disconnect(nsp.into()),
        other => panic!("unknown event {other:?}"),
    }
}

/// A message the server should have queued.
#[derive(Clone, Debug)]
enum Expect {
    /// A packet; `data` checked when `Some`; `known` the defect it shows, if
    /// the default decoder will refuse it.
    Text {
        kind: PacketType,
        nsp: String,
        ack_id: Option<u64>,
        attachments: usize,
        data: Option<String>,
        check: bool,
        known: Option<Known>,
    },
    /// An attachment.
    Binary(Vec<u8>),
}

#[derive(Default)]
struct AsmModel {
    missing: usize,
    text: String,
    used: usize,
    atts: Vec<Vec<u8>>,
}

struct Model {
    joined: Vec<(String, String)>,
    acks: Vec<(u64, Option<Instant>)>,
    next_ack: u64,
    connect_deadline: Option<Instant>,
    failed: Option<Error>,
    asm: AsmModel,
    notices: VecDeque<Notice>,
    expected: Vec<Expect>,
    /// Ack ids of events received, for `ack`.
    event_ids: Vec<(String, u64)>,
}

/// Where the session's output is read.
struct Client {
    ws: Option<ws::Connection<SplitMix64>>,
    ws_partial: Option<(MessageKind, Vec<u8>)>,
    /// Messages read, in order.
    messages: Vec<M>,
    /// Engine.IO pings seen and not answered.
    pings: usize,
    got_open: bool,
    got_close: bool,
    checked: usize,
    /// Attachments still due after a binary packet.
    due: usize,
}

struct Harness<const N: usize, const A: usize> {
    sio: Connection<N, A>,
    eio: Session<Vec<u8>>,
    asm: Assembler<Vec<u8>>,
    asm_cap: usize,
    rng: SplitMix64,
    now: Instant,
    transport: Transport,
    namespaces: Option<&'static [&'static str]>,
    limits: Limits,
    m: Model,
    client: Client,
    trace: bool,
}

const NS_ONE: &[&str] = &["/"];
const NS_THREE: &[&str] = &["/", "/admin", "/chat"];
const NS_NONE: &[&str] = &[];

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

fn text_cost(len: usize) -> usize {
    Session::<Vec<u8>>::queue_cost(false, len)
}

impl<const N: usize, const A: usize> Harness<N, A> {
    fn new(cfg: u8, lim: u8, seed: u8) -> Self {
        let now = Instant::from_millis(1000);
        let transport = if cfg & 2 == 2 {
            Transport::WebSocket
        } else {
            Transport::Polling
        };
        let namespaces =
            [Some(NS_ONE), Some(NS_THREE), None, Some(NS_NONE)][usize::from((cfg >> 2) & 3)];
        let storage = [8192, 256, 512, 1024][usize::from((cfg >> 4) & 3)];
        let asm_cap = [4096, 0, 32, 200][usize::from(cfg >> 6)];
        let limits = Limits {
            max_attachments: [10, 1, 3, 0][usize::from(lim & 3)],
            max_depth: [32, 2, 64, 0][usize::from((lim >> 2) & 3)],
            max_namespace_len: [64, 4, 8, 200][usize::from((lim >> 4) & 3)],
        };
        let mut rng = SplitMix64::new(u64::from(seed));
        let eio_config = engineio::Config {
            path: "/socket.io/",
            ..engineio::Config::default()
        };
        let eio = Session::open(now, transport, eio_config, vec![0u8; storage], &mut rng)
            .expect("the open packet fits");
        let config = Config {
            connect_timeout: Duration::from_millis(CONNECT_TIMEOUT),
            namespaces,
            limits,
        };
        let mut effective = limits;
        effective.max_namespace_len = effective.max_namespace_len.min(64);
        let ws = (transport == Transport::WebSocket).then(|| {
            ws::Connection::client(ws::Config::DEFAULT, SplitMix64::new(u64::from(seed) + 1))
        });
        Harness {
            sio: Connection::new(now, config),
            eio,
            asm: Assembler::new(vec![0u8; asm_cap]),
            asm_cap,
            rng,
            now,
            transport,
            namespaces,
            limits: effective,
            m: Model {
                joined: Vec::new(),
                acks: Vec::new(),
                next_ack: 0,
                connect_deadline: Some(now + Duration::from_millis(CONNECT_TIMEOUT)),
                failed: None,
                asm: AsmModel::default(),
                notices: VecDeque::new(),
                expected: Vec::new(),
                event_ids: Vec::new(),
            },
            client: Client {
                ws,
                ws_partial: None,
                messages: Vec::new(),
                pings: 0,
                got_open: false,
                got_close: false,
                checked: 0,
                due: 0,
            },
            trace: crate::sio_common::trace_env(),
        }
    }

    fn state(&self) -> String {
        format!("{:?}", self.sio)
    }

    fn push_notice(&mut self, n: Notice) {
        if self.m.notices.len() < 4 {
            self.m.notices.push_back(n);
        }
    }

    /// The model's protocol failure.
    fn model_fail(&mut self, e: Error) -> Error {
        self.m.failed = Some(e);
        self.m.connect_deadline = None;
        self.m.acks.clear();
        self.push_notice(Notice::ProtocolError(e));
        e
    }

    fn after_op(&mut self) {
        let names: Vec<(String, String)> = self
            .sio
            .namespaces()
            .map(|(n, s)| (n.to_owned(), s.as_str().to_owned()))
            .collect();
        assert_eq!(names, self.m.joined, "namespaces()");
        assert!(names.len() <= N);
        assert!(self.m.acks.len() <= A);
        assert_eq!(self.sio.error(), self.m.failed, "error()");
        if self.m.failed.is_some() {
            assert!(
                self.eio.is_closed(),
                "the session is open after a protocol error"
            );
        }
        let want = self
            .m
            .acks
            .iter()
            .filter_map(|a| a.1)
            .chain(self.m.connect_deadline)
            .min();
        assert_eq!(self.sio.poll_timeout(), want, "poll_timeout");
    }

    // ---------------------------------------------------------------- input

    /// The model's answer to one message.
    fn expect_message(&mut self, m: &M) -> Result<Option<Ev>, Error> {
        if self.m.failed.is_some() {
            return Err(Error::InvalidState);
        }
        match m {
            M::B(b) => {
                if self.m.asm.missing == 0 {
                    return Err(self.model_fail(Error::UnexpectedBinary));
                }
                if self.asm_cap - self.m.asm.used < 4 + b.len() {
                    self.m.asm.missing = 0;
                    return Err(self.model_fail(Error::AttachmentsTooLarge));
                }
                self.m.asm.used += 4 + b.len();
                self.m.asm.missing -= 1;
                self.m.asm.atts.push(b.clone());
                if self.m.asm.missing > 0 {
                    return Ok(None);
                }
                let text = std::mem::take(&mut self.m.asm.text);
                let atts = std::mem::take(&mut self.m.asm.atts);
                let p = Packet::decode(&text, &self.limits).expect("the text was decoded before");
                self.expect_packet(&p, atts)
            }
            M::T(t) => {
                if self.m.asm.missing > 0 {
                    self.m.asm.missing = 0;
                    return Err(self.model_fail(Error::MissingAttachments));
                }
                let p = match Packet::decode(t, &self.limits) {
                    Ok(p) => p,
                    Err(e) => return Err(self.model_fail(e)),
                };
                if p.attachments > 0 {
                    if t.len() > self.asm_cap {
                        return Err(self.model_fail(Error::AttachmentsTooLarge));
                    }
                    self.m.asm = AsmModel {
                        missing: p.attachments,
                        text: t.clone(),
                        used: t.len(),
                        atts: Vec::new(),
                    };
                    return Ok(None);
                }
                self.expect_packet(&p, Vec::new())
            }
        }
    }

    fn expect_packet(&mut self, p: &Packet<'_>, atts: Vec<Vec<u8>>) -> Result<Option<Ev>, Error> {
        let joined = self.m.joined.iter().any(|(n, _)| n == p.nsp);
        let in_place = match p.kind {
            PacketType::Connect => !joined,
            PacketType::ConnectError => false,
            _ => joined,
        };
        if !in_place {
            return Err(self.model_fail(Error::UnexpectedPacket));
        }
        let msg = Msg {
            nsp: p.nsp.to_owned(),
            ack_id: p.ack_id,
            data: p.data.unwrap_or("[]").to_owned(),
            atts,
        };
        Ok(match p.kind {
            PacketType::Connect => {
                let exists = self.namespaces.is_none_or(|l| l.contains(&p.nsp));
                if !exists {
                    let h = header(PacketType::ConnectError, p.nsp, 0, None);
                    let data = r#"{"message":"Invalid namespace"}"#;
                    if self.eio.is_closed() {
                        return Err(Error::Engine(engineio::Error::InvalidState));
                    }
                    if text_cost(h.len() + data.len()) > self.eio.queue_free() {
                        return Err(Error::Engine(engineio::Error::QueueFull));
                    }
                    self.m.expected.push(Expect::Text {
                        kind: PacketType::ConnectError,
                        nsp: p.nsp.to_owned(),
                        ack_id: None,
                        attachments: 0,
                        data: Some(data.to_owned()),
                        check: true,
                        known: None,
                    });
                    return Ok(None);
                }
                Some(Ev::Connect(p.nsp.to_owned(), p.data.map(Into::into)))
            }
            PacketType::Disconnect => {
                self.m.joined.retain(|(n, _)| n != p.nsp);
                Some(Ev::Disconnect(p.nsp.to_owned()))
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if let Some(id) = p.ack_id {
                    self.m.event_ids.push((p.nsp.to_owned(), id));
                }
                Some(Ev::Event(msg))
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(i) = p
                    .ack_id
                    .and_then(|id| self.m.acks.iter().position(|a| a.0 == id))
                else {
                    return Ok(None);
                };
                self.m.acks.swap_remove(i);
                Some(Ev::Ack(msg))
            }
            PacketType::ConnectError => None,
        })
    }

    /// On polling, text never carries 0x1e: the polling payload cannot (it
    /// separates the records; the reference has the same limit), so
    /// anything the server echoes must not hold it.
    fn clean(&self, s: String) -> String {
        match self.transport {
            Transport::Polling => s.replace('\u{1e}', " "),
            Transport::WebSocket => s,
        }
    }

    fn message(&mut self, m: M) {
        let m = match m {
            M::T(t) => M::T(self.clean(t)),
            b => b,
        };
        let before_free = self.eio.queue_free();
        let before = self.state();
        let want = self.expect_message(&m);
        let got = self
            .sio
            .handle_message(self.now, &mut self.eio, m.data(), &mut self.asm)
            .map(|o| o.map(own));
        if self.trace {
            eprintln!("  handle_message -> {got:?}");
        }
        assert_eq!(got, want, "handle_message({m:?})");
        match got {
            Err(Error::InvalidState) => assert_eq!(self.state(), before),
            Err(Error::Engine(_)) => {
                assert!(self.state() == before, "the state changed");
                assert_eq!(self.eio.queue_free(), before_free);
            }
            Err(e) => {
                assert!(!e.is_local(), "a local error from handle_message: {e:?}");
                assert!(
                    self.eio.is_closed(),
                    "a protocol error left the session open"
                );
            }
            Ok(_) => {}
        }
        self.after_op();
    }

    /// A namespace for a packet or command.
    fn nsp(&self, r: &mut R<'_>) -> String {
        let c = r.u8();
        match c % 8 {
            0..=2 if !self.m.joined.is_empty() => self.m.joined
                [usize::from(c) % self.m.joined.len()]
            .0
            .clone(),
            3 => "/".into(),
            4 => "/admin".into(),
            5 => NAMESPACES[usize::from(r.u8()) % NAMESPACES.len()].into(),
            6 => format!("/{}", "n".repeat(usize::from(r.u8() % 80))),
            _ => "/chat".into(),
        }
    }

    fn packet_items(&mut self, flags: u8, r: &mut R<'_>) -> Vec<M> {
        let mut p = crate::sio_packet::arb_packet(r);
        if r.u8() & 1 == 0 && !p.nsp.contains(',') {
            p.nsp = self.nsp(r);
        }
        if p.nsp.contains(',') || !p.nsp.starts_with('/') {
            p.nsp = "/".into();
        }
        let mut text = header(p.kind, &p.nsp, p.attachments, p.ack_id);
        if p.kind.is_binary() && p.attachments == usize::MAX {
            text = header(p.kind, &p.nsp, 0, p.ack_id).replacen("0-", "18446744073709551616-", 1);
        }
        text += p.data.as_deref().unwrap_or("");
        let mut items = vec![M::T(text)];
        if p.kind.is_binary() && flags & 1 == 0 {
            let n = p.attachments.min(12) + usize::from(flags & 2 == 2);
            items.extend(arb_attachments(r, n).into_iter().map(M::B));
        }
        items
    }

    fn post(&mut self, r: &mut R<'_>) {
        let count = usize::from(r.u8() % 4) + 1;
        let mut items = Vec::new();
        for _ in 0..count {
            if r.u8() & 3 == 0 {
                items.push(M::T(
                    String::from_utf8_lossy(r.short_bytes()).replace('\u{1e}', ""),
                ));
            } else {
                let flags = r.u8();
                items.extend(self.packet_items(flags, r));
            }
        }
        let mut body = vec![0u8; 1 << 16];
        let mut w = PayloadWriter::new(&mut body);
        for m in &items {
            let _ = w.push(&EPacket::Message(m.data()));
        }
        let n = w.len();
        body.truncate(n);
        let closed = self.eio.is_closed();
        let mut payload = match self.eio.handle_post(self.now, &mut body) {
            Ok(p) => p,
            Err(e) => {
                assert!(
                    e == engineio::Error::InvalidState
                        || e == engineio::Error::BadRequest
                        || closed
                );
                return;
            }
        };
        for _ in 0..64 {
            let m = match self.eio.read_message(self.now, &mut payload) {
                Ok(Some(d)) => M::of(d),
                Ok(None) | Err(_) => break,
            };
            self.message(m);
        }
    }

    // ------------------------------------------------------------- commands

    /// Runs a command; on failure checks that nothing changed.
    fn command<T: std::fmt::Debug + PartialEq>(
        &mut self,
        want: Result<(), Error>,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let before = self.state();
        let free = self.eio.queue_free();
        let got = f(self);
        if self.trace {
            eprintln!("  -> {got:?} (model {want:?})");
        }
        match (&got, want) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(w)) => {
                assert_eq!(*e, w, "the command failed otherwise than the model says");
                assert!(self.state() == before, "{e:?} but the connection changed");
                assert_eq!(self.eio.queue_free(), free, "{e:?} but packets were queued");
            }
            (g, w) => panic!("command gave {g:?}, the model says {w:?}"),
        }
        got
    }

    /// The model's check of queueing `text_len` bytes and `atts`.
    fn queue_check(&self, text_len: usize, atts: &[Vec<u8>]) -> Result<(), Error> {
        if self.eio.is_closed() {
            return Err(Error::Engine(engineio::Error::InvalidState));
        }
        let need = text_cost(text_len)
            + atts
                .iter()
                .map(|a| Session::<Vec<u8>>::queue_cost(true, a.len()))
                .sum::<usize>();
        if need > self.eio.queue_free() {
            return Err(Error::Engine(engineio::Error::QueueFull));
        }
        Ok(())
    }

    fn header_check(nsp: &str) -> Result<(), Error> {
        if nsp.len() > 64 {
            return Err(Error::NamespaceTooLong);
        }
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(Error::InvalidNamespace);
        }
        Ok(())
    }

    fn joined_check(&self, nsp: &str) -> Result<(), Error> {
        if self.m.failed.is_some() {
            return Err(Error::InvalidState);
        }
        if !self.m.joined.iter().any(|(n, _)| n == nsp) {
            return Err(Error::NotConnected);
        }
        Ok(())
    }

    fn accept(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let existing = self.m.joined.iter().position(|(n, _)| *n == nsp);
        let want = (|| {
            if self.m.failed.is_some() {
                return Err(Error::InvalidState);
            }
            if nsp.len() > 64 {
                return Err(Error::NamespaceTooLong);
            }
            if existing.is_none() && self.m.joined.len() == N {
                return Err(Error::TooManyNamespaces);
            }
            Self::header_check(&nsp)?;
            let h = header(PacketType::Connect, &nsp, 0, None);
            if self.eio.is_closed() {
                return Err(Error::Engine(engineio::Error::InvalidState));
            }
            if text_cost(h.len() + 30) > self.eio.queue_free() {
                return Err(Error::Engine(engineio::Error::QueueFull));
            }
            Ok(())
        })();
        let got = self.command(want, |h| h.sio.accept(&mut h.eio, &nsp, &mut h.rng));
        if let Ok(sid) = got {
            let sid = sid.as_str().to_owned();
            match existing {
                Some(i) => self.m.joined[i].1 = sid.clone(),
                None => self.m.joined.push((nsp.clone(), sid.clone())),
            }
            self.m.connect_deadline = None;
            self.m.expected.push(Expect::Text {
                kind: PacketType::Connect,
                nsp,
                ack_id: None,
                attachments: 0,
                data: Some(format!(r#"{{"sid":{}}}"#, quote(&sid))),
                check: true,
                known: None,
            });
        }
    }

    fn refuse(&mut self, flags: u8, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        if flags & 1 == 1 {
            let message = self.clean(String::from_utf8_lossy(r.short_bytes()).into_owned());
            let message = if r.u8() & 7 == 0 {
                message.repeat(3)
            } else {
                message
            };
            let quoted_len = json::str_len(&message);
            let data = format!(r#"{{"message":{}}}"#, quote(&message));
            let want = (|| {
                if quoted_len > 256 {
                    return Err(Error::BufferTooSmall {
                        required: quoted_len,
                    });
                }
                if self.m.failed.is_some() {
                    return Err(Error::InvalidState);
                }
                Self::header_check(&nsp)?;
                let h = header(PacketType::ConnectError, &nsp, 0, None);
                self.queue_check(h.len() + quoted_len + 12, &[])
            })();
            let got = self.command(want, |h| {
                h.sio.refuse_with_message(&mut h.eio, &nsp, &message)
            });
            if got.is_ok() {
                self.push_expected(
                    PacketType::ConnectError,
                    nsp,
                    None,
                    0,
                    Some(data),
                    true,
                    None,
                );
            }
        } else {
            let data = self.clean(arb_data(r, 0).unwrap_or_else(|| r#""refused""#.into()));
            let valid = json::validate(&data, 32).is_ok()
                && matches!(
                    json::kind(&data),
                    Some(json::Kind::Object | json::Kind::String)
                )
                && !data.starts_with([' ', '\t', '\n', '\r']);
            let want = (|| {
                if self.m.failed.is_some() {
                    return Err(Error::InvalidState);
                }
                Self::header_check(&nsp)?;
                let h = header(PacketType::ConnectError, &nsp, 0, None);
                self.queue_check(h.len() + data.len(), &[])
            })();
            let got = self.command(want, |h| h.sio.refuse(&mut h.eio, &nsp, &data));
            if got.is_ok() {
                self.push_expected(
                    PacketType::ConnectError,
                    nsp,
                    None,
                    0,
                    Some(data),
                    valid,
                    None,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_expected(
        &mut self,
        kind: PacketType,
        nsp: String,
        ack_id: Option<u64>,
        attachments: usize,
        data: Option<String>,
        check: bool,
        known: Option<Known>,
    ) {
        self.m.expected.push(Expect::Text {
            kind,
            nsp,
            ack_id,
            attachments,
            data,
            check,
            known,
        });
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
        let args = self.clean(args);
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
        let id = with_ack.then_some(self.m.next_ack);
        let quoted = json::str_len(&name);
        let data = if args.is_empty() {
            format!("[{}]", quote(&name))
        } else {
            format!("[{},{args}]", quote(&name))
        };
        let want = (|| {
            if with_ack && self.m.acks.len() == A {
                return Err(Error::AckTableFull);
            }
            self.joined_check(&nsp)?;
            if count > self.limits.max_attachments {
                return Err(Error::TooManyAttachments);
            }
            if is_reserved(&name) {
                return Err(Error::ReservedEventName);
            }
            if quoted > MAX_EVENT_NAME_LEN {
                return Err(Error::BufferTooSmall { required: quoted });
            }
            let h = header(kind, &nsp, count, id);
            self.queue_check(
                h.len() + 2 + quoted + args.len() + usize::from(!args.is_empty()),
                &atts,
            )
        })();
        let now = self.now;
        let got = self.command(want, |h| {
            if with_ack {
                h.sio
                    .emit_with_ack(
                        now,
                        &mut h.eio,
                        &nsp,
                        &name,
                        &args,
                        &refs,
                        timeout.map(Duration::from_millis),
                    )
                    .map(Some)
            } else {
                h.sio
                    .emit(&mut h.eio, &nsp, &name, &args, &refs)
                    .map(|()| None)
            }
        });
        if let Ok(got_id) = got {
            assert_eq!(got_id, id, "emit_with_ack's id");
            if with_ack {
                self.m.next_ack += 1;
                self.m
                    .acks
                    .push((id.unwrap(), timeout.map(|t| now + Duration::from_millis(t))));
            }
            let known = None;
            self.push_expected(kind, nsp, id, count, Some(data), valid, known);
            for a in atts {
                self.m.expected.push(Expect::Binary(a));
            }
        }
    }

    fn ack(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let c = r.u8();
        let id = match self.m.event_ids.get(usize::from(c) % 8) {
            Some((_, id)) if c & 0x80 == 0 => *id,
            _ => u64::from(c),
        };
        let att_c = r.u8();
        let count = if att_c >= 250 {
            11
        } else {
            usize::from(att_c % 4)
        };
        let (args, valid) = arb_args(r, count);
        let args = self.clean(args);
        let atts = arb_attachments(r, count);
        let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
        let kind = if count == 0 {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        let want = (|| {
            self.joined_check(&nsp)?;
            if count > self.limits.max_attachments {
                return Err(Error::TooManyAttachments);
            }
            let h = header(kind, &nsp, count, Some(id));
            self.queue_check(h.len() + 2 + args.len(), &atts)
        })();
        let got = self.command(want, |h| h.sio.ack(&mut h.eio, &nsp, id, &args, &refs));
        if got.is_ok() {
            let known = None;
            self.push_expected(
                kind,
                nsp,
                Some(id),
                count,
                Some(format!("[{args}]")),
                valid,
                known,
            );
            for a in atts {
                self.m.expected.push(Expect::Binary(a));
            }
        }
    }

    fn disconnect(&mut self, r: &mut R<'_>) {
        let nsp = self.nsp(r);
        let want = (|| {
            self.joined_check(&nsp)?;
            let h = header(PacketType::Disconnect, &nsp, 0, None);
            self.queue_check(h.len(), &[])
        })();
        let got = self.command(want, |h| h.sio.disconnect(&mut h.eio, &nsp));
        if got.is_ok() {
            self.m.joined.retain(|(n, _)| *n != nsp);
            self.push_expected(PacketType::Disconnect, nsp, None, 0, None, true, None);
        }
    }

    // ----------------------------------------------------------------- time

    fn model_timeout(&mut self) {
        let now = self.now;
        if self.m.connect_deadline.is_some_and(|d| now >= d) {
            self.m.connect_deadline = None;
            if self.m.joined.is_empty() && self.m.failed.is_none() {
                self.push_notice(Notice::ConnectTimeout);
            }
        }
        while let Some(i) = self
            .m
            .acks
            .iter()
            .position(|a| a.1.is_some_and(|d| now >= d))
        {
            if self.m.notices.len() == 4 {
                break;
            }
            let (id, _) = self.m.acks.swap_remove(i);
            self.m.notices.push_back(Notice::AckTimeout(id));
        }
    }

    fn timeout(&mut self) {
        let now = self.now;
        let connect_fires = self.m.connect_deadline.is_some_and(|d| now >= d)
            && self.m.joined.is_empty()
            && self.m.failed.is_none();
        self.model_timeout();
        self.sio.handle_timeout(now, &mut self.eio);
        if connect_fires {
            assert!(
                self.eio.is_closed(),
                "the connect timeout left the session open"
            );
        }
        self.eio.handle_timeout(now);
        if let Some(t) = self.sio.poll_timeout() {
            assert!(
                t > now || self.m.notices.len() == 4,
                "poll_timeout {t:?} not after now {now:?} with room for notices"
            );
        }
        if let Some(t) = self.eio.poll_timeout() {
            assert!(
                t > now,
                "the session's poll_timeout {t:?} not after {now:?}"
            );
        }
        self.after_op();
    }

    fn notices(&mut self) {
        let mut got = Vec::new();
        while let Some(n) = self.sio.poll_event() {
            got.push(n);
            assert!(got.len() <= 4, "more than 4 notices");
        }
        let want: Vec<Notice> = self.m.notices.drain(..).collect();
        assert_eq!(got, want, "notices");
    }

    // --------------------------------------------------------------- output

    fn drain(&mut self) {
        let mut out = vec![0u8; 1 << 16];
        match self.transport {
            Transport::Polling => {
                for _ in 0..4 {
                    if !self.eio.has_held_poll() && self.eio.handle_poll(self.now).is_err() {
                        break;
                    }
                    let n = match self.eio.poll_http(&mut out) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let at = out[..n]
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .expect("an HTTP response")
                        + 4;
                    let mut body = out[at..n].to_vec();
                    for p in Payload::new(&mut body) {
                        let p = p.expect("the session wrote an invalid packet");
                        self.engine_packet(p);
                    }
                }
            }
            Transport::WebSocket => {
                let mut wire = Vec::new();
                for _ in 0..1000 {
                    match self.eio.poll_ws(&mut out) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => wire.extend_from_slice(&out[..n]),
                    }
                }
                self.read_ws(&mut wire);
            }
        }
        self.check_output();
    }

    fn read_ws(&mut self, wire: &mut [u8]) {
        let mut off = 0;
        let now = self.now;
        for _ in 0..(3 * wire.len() + 10) {
            let Some(conn) = self.client.ws.as_mut() else {
                return;
            };
            let r = conn
                .handle_input(now, &mut wire[off..])
                .expect("the server's frames are valid");
            off += r.consumed;
            match r.event {
                Some(ws::Event::Data { kind, data, fin }) => {
                    let p = self
                        .client
                        .ws_partial
                        .get_or_insert_with(|| (kind, Vec::new()));
                    p.1.extend_from_slice(data);
                    if fin {
                        let (k, d) = self.client.ws_partial.take().unwrap();
                        match k {
                            MessageKind::Text => {
                                let t = String::from_utf8(d).unwrap();
                                let p = EPacket::decode_text(&t).expect("an Engine.IO packet");
                                self.engine_packet(p);
                            }
                            _ => self.engine_packet(EPacket::Message(Data::Binary(&d))),
                        }
                    }
                }
                Some(_) => {}
                None if r.consumed == 0 => return,
                None => {}
            }
        }
    }

    fn engine_packet(&mut self, p: EPacket<'_>) {
        assert!(!self.client.got_close, "a packet after the close packet");
        match p {
            EPacket::Open(_) => {
                assert!(!self.client.got_open && self.client.messages.is_empty());
                self.client.got_open = true;
            }
            EPacket::Message(d) => {
                assert!(self.client.got_open, "a message before the open packet");
                self.client.messages.push(M::of(d));
            }
            EPacket::Ping(_) => self.client.pings += 1,
            EPacket::Close => self.client.got_close = true,
            EPacket::Noop => {}
            other => panic!("the server sent {other:?}"),
        }
    }

    /// New messages are the next expected ones; they decode.
    fn check_output(&mut self) {
        while self.client.checked < self.client.messages.len() {
            let i = self.client.checked;
            let got = self.client.messages[i].clone();
            let want = self.m.expected.get(i).cloned();
            let Some(want) = want else {
                panic!("the server sent {got:?}, which no command queued");
            };
            self.client.checked += 1;
            match (&got, want) {
                (M::B(b), Expect::Binary(w)) => {
                    assert_eq!(*b, w, "attachment bytes");
                    assert!(self.client.due > 0, "an attachment after none was due");
                    self.client.due -= 1;
                }
                (
                    M::T(t),
                    Expect::Text {
                        kind,
                        nsp,
                        ack_id,
                        attachments,
                        data,
                        check,
                        known,
                    },
                ) => {
                    assert_eq!(
                        self.client.due, 0,
                        "a text message while attachments were due"
                    );
                    self.client.due = attachments;
                    if !check {
                        continue;
                    }
                    let p = match Packet::decode(t, &Limits::DEFAULT) {
                        Ok(p) => p,
                        Err(e) => {
                            if let Some(k) = known
                                && tolerate(k)
                            {
                                continue;
                            }
                            panic!("the server queued {t:?}, which does not decode: {e:?}");
                        }
                    };
                    assert_eq!(p.kind, kind, "{t}");
                    assert_eq!(p.nsp, nsp, "{t}");
                    assert_eq!(p.ack_id, ack_id, "{t}");
                    assert_eq!(p.attachments, attachments, "{t}");
                    match (p.data, data) {
                        (Some(a), Some(b)) => assert!(json_eq(a, &b), "data {a:?}, expected {b:?}"),
                        (a, b) => assert_eq!(a, b.as_deref(), "{t}"),
                    }
                }
                (g, w) => panic!("the server sent {g:?}, expected {w:?}"),
            }
        }
    }

    fn pong(&mut self) {
        if self.client.pings == 0 {
            return;
        }
        self.client.pings -= 1;
        match self.transport {
            Transport::Polling => {
                let mut body = *b"3";
                if let Ok(mut p) = self.eio.handle_post(self.now, &mut body) {
                    assert_eq!(self.eio.read_message(self.now, &mut p), Ok(None));
                }
            }
            Transport::WebSocket => {
                let mut c: ws::Connection<SplitMix64> =
                    ws::Connection::client(ws::Config::DEFAULT, SplitMix64::new(9));
                let mut frame = vec![0u8; 16];
                let n = c.send_text("3", &mut frame).unwrap();
                let mut ws_asm = ws::Assembler::new(vec![0u8; 64]);
                let _ = self
                    .eio
                    .handle_ws_input(self.now, &mut frame[..n], &mut ws_asm);
            }
        }
    }

    fn step(&mut self, r: &mut R<'_>) {
        let b = r.u8();
        let flags = b >> 4;
        if self.trace {
            eprintln!("op {} flags {flags:#x}", b & 15);
        }
        match b & 15 {
            op::TEXT => {
                let n = if flags & 1 == 1 {
                    usize::from(r.u16())
                } else {
                    usize::from(r.u8())
                };
                let t = String::from_utf8_lossy(r.bytes(n)).into_owned();
                self.message(M::T(t));
            }
            op::PACKET => {
                for m in self.packet_items(flags, r) {
                    self.message(m);
                }
            }
            op::BINARY => {
                let b = r.short_bytes().to_vec();
                self.message(M::B(b));
            }
            op::ACCEPT => self.accept(r),
            op::REFUSE => self.refuse(flags, r),
            op::EMIT => self.emit(false, r),
            op::EMIT_ACK => self.emit(true, r),
            op::ACK => self.ack(r),
            op::DISCONNECT => self.disconnect(r),
            op::ADVANCE => {
                let s = r.u8();
                let step = if s < 16 {
                    STEPS[usize::from(s)]
                } else {
                    u64::from(s) * 13
                };
                self.now = Instant::from_millis((self.now.as_millis() + step).min(1 << 45));
                self.timeout();
            }
            op::DRAIN => self.drain(),
            op::POST => {
                if self.transport == Transport::Polling {
                    self.post(r);
                }
            }
            op::NOTICES => self.notices(),
            op::PONG => self.pong(),
            op::ENGINE_CLOSE => self.eio.close(self.now),
            _ => self.timeout(),
        }
        self.after_op();
        // The notice queue is the application's to drain; without it the
        // table keeps expired acks. Drain it mostly.
        if flags & 8 == 0 {
            self.notices();
        }
    }

    fn finish(mut self) {
        self.drain();
        self.notices();
        // Time runs out: draining the notices each round, the timers finish.
        for _ in 0..(A + 3) {
            match self.sio.poll_timeout() {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.timeout();
                    self.notices();
                }
                None => break,
            }
        }
        assert_eq!(
            self.sio.poll_timeout(),
            None,
            "timers left after running them all"
        );
        self.drain();
    }
}

fn run<const N: usize, const A: usize>(cfg: u8, r: &mut R<'_>) {
    let lim = r.u8();
    let seed = r.u8();
    let mut h: Harness<N, A> = Harness::new(cfg, lim, seed);
    let mut ops = 0;
    while !r.is_empty() && ops < MAX_OPS {
        h.step(r);
        assert_eq!(h.asm.is_assembling(), h.m.asm.missing > 0, "is_assembling");
        ops += 1;
    }
    h.finish();
}

/// The `sio_server` target.
pub fn sio_server(data: &[u8]) {
    let mut r = R::new(data);
    let cfg = r.u8();
    if cfg & 1 == 0 {
        run::<2, 2>(cfg, &mut r);
    } else {
        run::<4, 4>(cfg, &mut r);
    }
}
