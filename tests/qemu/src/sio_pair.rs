//! A Socket.IO client (on an Engine.IO client) and a Socket.IO server
//! connection (on an Engine.IO session) in memory, over a WebSocket opened
//! with the real handshake and Engine.IO routing, all in fixed storage: 1 KiB
//! Engine.IO queues, a 1 KiB Socket.IO send buffer, 512-byte assemblers, a
//! 128-byte read and a 64-byte write buffer per side.
//!
//! Connect to `/` with auth (an emit made before the connection is buffered
//! and flows after it), events both ways, an ack each way, a binary
//! attachment each way, the heartbeat on the virtual clock, then DISCONNECT
//! and the Engine.IO close.

use sockwire::engineio::{
    self, ClientCloseReason, ClientSessionEvent as EioEvent, Route, Session, Transport, route,
    websocket_target,
};
use sockwire::socketio::{self, ClientEvent, ConnectionEvent as Event};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, Accept, ClientHandshake, ClientRequest, ServerHandshake};

use core::ops::Range;

use crate::rt::{Role, measured};
use crate::wire::{Peer, Pipe, Rng, deliver};
use crate::ws_pair::BINARY_UNIT;
use crate::{check, check_eq};

const RX: usize = 128;
const READ: usize = 125;
const TX: usize = 64;
const WINDOW: usize = 512;
const QUEUE: usize = 1024;
const SEND_BUFFER: usize = 1024;
const ASM: usize = 512;
const HEAD: usize = 256;

const AUTH: &str = r#"{"token":"123"}"#;
const BLOB: &[u8] = BINARY_UNIT.split_at(200).0;
const PHOTO: &[u8] = BINARY_UNIT.split_at(51).1;
const PLACEHOLDER: &str = r#"{"_placeholder":true,"num":0}"#;
const PING_INTERVAL: u64 = 1_000;
const PING_TIMEOUT: u64 = 500;

type EioClient = engineio::ClientSession<[u8; QUEUE], Rng>;
type SioClient = socketio::ClientCore<[u8; SEND_BUFFER], 2, 4>;
type SioServer = socketio::Connection<2, 4>;

/// What the client application saw.
#[derive(Default)]
struct ClientSeen {
    opened: bool,
    connects: u32,
    sid_len: usize,
    config_event: bool,
    /// (id, data was `["hi"]`)
    ack: Option<(u64, bool)>,
    /// The server's event asking for an ack.
    ack_request: Option<u64>,
    photo: bool,
    closed: Option<ClientCloseReason>,
    bad: Option<&'static str>,
}

/// What the server application saw.
#[derive(Default)]
struct ServerSeen {
    connect_auth: bool,
    reading: bool,
    hello_acked: Option<u64>,
    blob: bool,
    /// (id, data was `["pong"]`)
    ack: Option<(u64, bool)>,
    disconnect: bool,
    closed: Option<engineio::CloseReason>,
    bad: Option<&'static str>,
}

struct ClientSide {
    eio: EioClient,
    sio: SioClient,
    rx: [u8; RX],
    tx: [u8; TX],
    ws_asm: ws::Assembler<[u8; ASM]>,
    asm: socketio::Assembler<[u8; ASM]>,
    rng: Rng,
    seen: ClientSeen,
}

struct ServerSide {
    eio: Session<[u8; QUEUE]>,
    sio: SioServer,
    rx: [u8; RX],
    tx: [u8; TX],
    ws_asm: ws::Assembler<[u8; ASM]>,
    asm: socketio::Assembler<[u8; ASM]>,
    rng: Rng,
    seen: ServerSeen,
}

struct Stack {
    now: Instant,
    c: ClientSide,
    s: ServerSide,
    c2s: Pipe<WINDOW>,
    s2c: Pipe<WINDOW>,
}

fn eio_config() -> engineio::Config {
    engineio::Config {
        path: "/socket.io/",
        ping_interval: Duration::from_millis(PING_INTERVAL),
        ping_timeout: Duration::from_millis(PING_TIMEOUT),
        ..engineio::Config::DEFAULT
    }
}

/// What the scenario keeps on the stack besides call frames, per part.
pub const STATE: [(&str, usize); 8] = [
    (
        "client side: the next two + its assemblers and buffers",
        size_of::<ClientSide>(),
    ),
    (
        "engineio::ClientSession<[u8; 1024]>",
        size_of::<EioClient>(),
    ),
    (
        "socketio::ClientCore<[u8; 1024], 2, 4>",
        size_of::<SioClient>(),
    ),
    (
        "server side: the next two + its assemblers and buffers",
        size_of::<ServerSide>(),
    ),
    (
        "engineio::Session<[u8; 1024]>",
        size_of::<Session<[u8; QUEUE]>>(),
    ),
    ("socketio::Connection<2, 4>", size_of::<SioServer>()),
    (
        "per side: ws + socketio assemblers (512 B each), rx 128, tx 64",
        size_of::<ws::Assembler<[u8; ASM]>>()
            + size_of::<socketio::Assembler<[u8; ASM]>>()
            + RX
            + TX,
    ),
    ("the two pipes", 2 * size_of::<Pipe<WINDOW>>()),
];

pub fn run() {
    let Some(mut st) = open() else {
        return;
    };
    connect(&mut st);
    events_and_acks(&mut st);
    binary(&mut st);
    heartbeat(&mut st);
    goodbye(&mut st);
}

/// The WebSocket handshake for `/socket.io/?EIO=4&transport=websocket`, routed
/// by the server; then the Engine.IO client and session.
fn open() -> Option<Stack> {
    let now = Instant::from_millis(0);
    let mut rng = Rng::new(0x50c4e7);
    let mut c2s = Pipe::new();
    let mut s2c = Pipe::new();
    let mut target = [0u8; 64];
    let Ok(path) = websocket_target("/socket.io/", &mut target) else {
        check!("sio handshake: websocket target", false, "does not fit");
        return None;
    };
    let mut client_hs = ClientHandshake::new(ClientRequest::new("device.local", path), &mut rng);
    let mut head = [0u8; HEAD];
    let n = measured(Role::Client, || client_hs.write_request(&mut head)).unwrap_or(0);
    c2s.write(&head[..n]);

    let mut server_hs = ServerHandshake::new();
    let mut response = [0u8; 160];
    let mut answer = None;
    c2s.read_head(Role::Server, &mut head, READ, |received| {
        let Ok(Some(req)) = server_hs.handle_input(received) else {
            return false;
        };
        let routed = route(req.http(), &eio_config());
        check_eq!(
            "sio handshake: Engine.IO routes the upgrade as a new WebSocket session",
            routed,
            Ok(Route::Handshake(Transport::WebSocket))
        );
        answer = Some(req.accept(&Accept::default(), &mut response));
        true
    });
    let Some(Ok(n)) = answer else {
        check!(
            "sio handshake: the server answers 101",
            false,
            "{:?}",
            answer
        );
        return None;
    };
    s2c.write(&response[..n]);
    let session = measured(Role::Server, || {
        Session::open(
            now,
            Transport::WebSocket,
            eio_config(),
            [0u8; QUEUE],
            &mut rng,
        )
    });
    let Ok(session) = session else {
        check!(
            "sio handshake: Engine.IO session opens",
            false,
            "{:?}",
            session.err()
        );
        return None;
    };

    let mut ok = false;
    s2c.read_head(Role::Client, &mut head, READ, |received| {
        match client_hs.handle_input(received) {
            Ok(Some(resp)) => {
                ok = resp.head_len() == received.len();
                true
            }
            Ok(None) => false,
            Err(_) => true,
        }
    });
    check!(
        "sio handshake: the client accepts the 101",
        ok,
        "no valid response"
    );
    if !ok {
        return None;
    }
    let client_config = engineio::ClientConfig {
        path: "/socket.io/",
        ..engineio::ClientConfig::DEFAULT
    };
    Some(Stack {
        now,
        c: ClientSide {
            eio: engineio::ClientSession::new(now, client_config, [0u8; QUEUE], Rng::new(0xe10)),
            sio: socketio::ClientCore::new(socketio::ClientConfig::DEFAULT, [0u8; SEND_BUFFER]),
            rx: [0; RX],
            tx: [0; TX],
            ws_asm: ws::Assembler::new([0u8; ASM]),
            asm: socketio::Assembler::new([0u8; ASM]),
            rng: Rng::new(0xc1),
            seen: ClientSeen::default(),
        },
        s: ServerSide {
            eio: session,
            sio: socketio::Connection::new(now, socketio::Config::DEFAULT),
            rx: [0; RX],
            tx: [0; TX],
            ws_asm: ws::Assembler::new([0u8; ASM]),
            asm: socketio::Assembler::new([0u8; ASM]),
            rng: Rng::new(0x5e),
            seen: ServerSeen::default(),
        },
        c2s,
        s2c,
    })
}

impl Peer for ClientSide {
    fn role(&self) -> Role {
        Role::Client
    }

    fn rx(&mut self) -> &mut [u8] {
        &mut self.rx
    }

    fn step(&mut self, now: Instant, range: Range<usize>) -> Option<(usize, bool)> {
        let ClientSide {
            eio,
            sio,
            rx,
            ws_asm,
            asm,
            rng,
            seen,
            ..
        } = self;
        let Ok(r) = eio.handle_input(now, &mut rx[range], ws_asm) else {
            seen.bad = Some("the client's WebSocket failed");
            return None;
        };
        let progress = r.message.is_some();
        while let Some(e) = eio.poll_event() {
            match e {
                EioEvent::Open => {
                    seen.opened = true;
                    if sio.handle_open(eio).is_err() {
                        seen.bad = Some("handle_open failed");
                    }
                }
                EioEvent::Closed(reason) => {
                    seen.closed = Some(reason);
                    sio.handle_transport_closed(now, reason, &mut *rng);
                }
                _ => {}
            }
        }
        if let Some(m) = r.message {
            let mut ack = None;
            match sio.handle_message(now, eio, m, asm, rng) {
                Ok(Some(ClientEvent::Connect {
                    nsp,
                    sid,
                    recovered,
                })) => {
                    seen.connects += u32::from(nsp == "/" && !recovered);
                    seen.sid_len = sid.len();
                }
                Ok(Some(ClientEvent::Event(m))) => match m.name() {
                    Some("config") => {
                        seen.config_event = m.data == r#"["config",{"interval":1000}]"#;
                    }
                    Some("ping") => {
                        seen.ack_request = m.ack_id;
                        ack = m.ack_id;
                    }
                    Some("photo") => {
                        seen.photo =
                            m.attachments.len() == 1 && m.attachments.get(0) == Some(PHOTO);
                    }
                    _ => seen.bad = Some("an unexpected event"),
                },
                Ok(Some(ClientEvent::Ack(m))) => {
                    seen.ack = m.ack_id.map(|id| (id, m.data == r#"["hi"]"#));
                }
                Ok(Some(_)) => seen.bad = Some("an unexpected Socket.IO event"),
                Ok(None) => {}
                Err(_) => seen.bad = Some("the client refused a message"),
            }
            if let Some(id) = ack
                && sio.ack("/", id, r#""pong""#, &[]).is_err()
            {
                seen.bad = Some("ack failed");
            }
        }
        Some((r.consumed, progress))
    }

    fn flush<const N: usize>(&mut self, to: &mut Pipe<N>) -> bool {
        if self.sio.flush(&mut self.eio).is_err() {
            self.seen.bad = Some("flush failed");
        }
        let eio = &mut self.eio;
        let moved = to.fill_from(&mut self.tx, |out| eio.poll_transmit(out));
        self.seen.bad = self
            .seen
            .bad
            .or(moved.is_err().then_some("poll_transmit failed"));
        moved.unwrap_or(false)
    }

    fn stalled(&mut self) {
        self.seen.bad = Some("client input stalled");
    }
}

impl ServerSide {
    /// The session's and the connection's notices.
    fn notices(&mut self) {
        while let Some(e) = self.eio.poll_event() {
            if let engineio::SessionEvent::Closed(reason) = e {
                self.seen.closed = Some(reason);
            }
        }
        if self.sio.poll_event().is_some() {
            self.seen.bad = Some("a server notice");
        }
    }
}

impl Peer for ServerSide {
    fn role(&self) -> Role {
        Role::Server
    }

    fn rx(&mut self) -> &mut [u8] {
        &mut self.rx
    }

    fn step(&mut self, now: Instant, range: Range<usize>) -> Option<(usize, bool)> {
        let ServerSide {
            eio,
            sio,
            rx,
            ws_asm,
            asm,
            rng,
            seen,
            ..
        } = self;
        let Ok(r) = eio.handle_ws_input(now, &mut rx[range], ws_asm) else {
            seen.bad = Some("the server's WebSocket failed");
            return None;
        };
        let progress = r.message.is_some();
        if let Some(m) = r.message {
            match sio.handle_message(now, eio, m, asm) {
                Ok(Some(Event::Connect { nsp, auth })) => {
                    seen.connect_auth = nsp == "/" && auth == Some(AUTH);
                    if sio.accept(eio, nsp, rng).is_err() {
                        seen.bad = Some("accept failed");
                    }
                }
                Ok(Some(Event::Event(m))) => match (m.name(), m.ack_id) {
                    (Some("reading"), None) => {
                        seen.reading = m.args_raw() == r#"{"t":21.5}"#;
                    }
                    (Some("hello"), Some(id)) if m.args_raw() == r#""world""# => {
                        seen.hello_acked = Some(id);
                        if sio.ack(eio, "/", id, r#""hi""#, &[]).is_err() {
                            seen.bad = Some("ack failed");
                        }
                    }
                    (Some("blob"), None) => {
                        seen.blob = m.attachments.len() == 1 && m.attachments.get(0) == Some(BLOB);
                    }
                    _ => seen.bad = Some("an unexpected event"),
                },
                Ok(Some(Event::Ack(m))) => {
                    seen.ack = m.ack_id.map(|id| (id, m.data == r#"["pong"]"#));
                }
                Ok(Some(Event::Disconnect { nsp, .. })) => seen.disconnect = nsp == "/",
                Ok(Some(_)) => seen.bad = Some("an unexpected Socket.IO event"),
                Ok(None) => {}
                Err(_) => seen.bad = Some("the server refused a message"),
            }
        }
        Some((r.consumed, progress))
    }

    fn flush<const N: usize>(&mut self, to: &mut Pipe<N>) -> bool {
        let eio = &mut self.eio;
        let moved = to.fill_from(&mut self.tx, |out| eio.poll_ws(out));
        self.seen.bad = self.seen.bad.or(moved.is_err().then_some("poll_ws failed"));
        moved.unwrap_or(false)
    }

    fn stalled(&mut self) {
        self.seen.bad = Some("server input stalled");
    }
}

impl Stack {
    /// Moves bytes both ways until nothing moves.
    fn settle(&mut self) {
        for _ in 0..200 {
            let (c, s) = (&mut self.c, &mut self.s);
            let moved = measured(Role::Client, || c.flush(&mut self.c2s))
                | measured(Role::Server, || s.flush(&mut self.s2c));
            deliver(&mut self.s, self.now, &mut self.c2s, &mut self.s2c, READ);
            self.s.notices();
            deliver(&mut self.c, self.now, &mut self.s2c, &mut self.c2s, READ);
            if !moved && self.c2s.is_empty() && self.s2c.is_empty() {
                return;
            }
        }
        check!(
            "sio: the pair goes idle",
            false,
            "still busy after 200 rounds"
        );
    }

    /// Moves the virtual clock and runs every timer that is due.
    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(ms);
        self.client(|c, now| {
            c.eio.handle_timeout(now);
            c.sio.handle_timeout(now);
        });
        self.server(|s, now| {
            s.sio.handle_timeout(now, &mut s.eio);
            s.eio.handle_timeout(now);
        });
        self.settle();
    }

    /// A command on the client side, its call depth measured.
    fn client<R>(&mut self, f: impl FnOnce(&mut ClientSide, Instant) -> R) -> R {
        let (c, now) = (&mut self.c, self.now);
        measured(Role::Client, || f(c, now))
    }

    /// A command on the server side, its call depth measured.
    fn server<R>(&mut self, f: impl FnOnce(&mut ServerSide, Instant) -> R) -> R {
        let (s, now) = (&mut self.s, self.now);
        measured(Role::Server, || f(s, now))
    }

    fn clean(&self) -> (Option<&'static str>, Option<&'static str>) {
        (self.c.seen.bad, self.s.seen.bad)
    }
}

/// CONNECT with auth; an emit made before it is buffered and follows it.
fn connect(st: &mut Stack) {
    let joined = st.client(|c, _| c.sio.connect(None::<&mut EioClient>, "/", Some(AUTH)));
    let early = st.client(|c, _| c.sio.emit("/", "reading", r#"{"t":21.5}"#, &[]));
    check!(
        "sio connect and an emit before it are accepted while the transport opens",
        joined.is_ok() && early.is_ok(),
        "{:?} {:?}",
        joined,
        early
    );
    st.settle();
    check!(
        "sio: Engine.IO open packet reaches the client",
        st.c.seen.opened,
        "no Open event"
    );
    check!(
        "sio connect: the server gets the auth object",
        st.s.seen.connect_auth,
        "auth missing or different"
    );
    check!(
        "sio connect: the client is connected to / with a socket id",
        st.c.seen.connects == 1 && st.c.seen.sid_len == 20 && st.c.sio.is_connected("/"),
        "{} connects, sid of {} bytes",
        st.c.seen.connects,
        st.c.seen.sid_len
    );
    check!(
        "sio emit: buffered before the connection, delivered after it",
        st.s.seen.reading,
        "no \"reading\" event with {{\"t\":21.5}}"
    );
    check_eq!(
        "sio connect: no protocol error on either side",
        st.clean(),
        (None, None)
    );
}

/// Events both ways and an ack each way.
fn events_and_acks(st: &mut Stack) {
    let id = st.client(|c, now| {
        c.sio.emit_with_ack(
            now,
            "/",
            "hello",
            r#""world""#,
            &[],
            Some(Duration::from_millis(5_000)),
        )
    });
    st.settle();
    let id = id.ok();
    check!(
        "sio ack: the client's emit_with_ack is answered with [\"hi\"]",
        id.is_some()
            && st.s.seen.hello_acked == id
            && st.c.seen.ack.map(|(i, ok)| Some(i) == id && ok) == Some(true),
        "id {:?}, server saw {:?}, client got {:?}",
        id,
        st.s.seen.hello_acked,
        st.c.seen.ack
    );

    let sent = st.server(|s, _| {
        s.sio
            .emit(&mut s.eio, "/", "config", r#"{"interval":1000}"#, &[])
    });
    st.settle();
    check!(
        "sio event: server -> client",
        sent.is_ok() && st.c.seen.config_event,
        "{:?}",
        sent
    );

    let id = st.server(|s, now| {
        s.sio
            .emit_with_ack(now, &mut s.eio, "/", "ping", "", &[], None)
    });
    st.settle();
    let id = id.ok();
    check!(
        "sio ack: the server's emit_with_ack is answered with [\"pong\"]",
        id.is_some()
            && st.c.seen.ack_request == id
            && st.s.seen.ack.map(|(i, ok)| Some(i) == id && ok) == Some(true),
        "id {:?}, client saw {:?}, server got {:?}",
        id,
        st.c.seen.ack_request,
        st.s.seen.ack
    );
    check_eq!(
        "sio events and acks: no protocol error",
        st.clean(),
        (None, None)
    );
}

/// A binary attachment each way (200 and 200 bytes, each in its own
/// WebSocket binary frame after the packet's text frame).
fn binary(st: &mut Stack) {
    let sent = st.client(|c, _| c.sio.emit("/", "blob", PLACEHOLDER, &[BLOB]));
    st.settle();
    check!(
        "sio binary: client -> server attachment, byte for byte",
        sent.is_ok() && st.s.seen.blob,
        "{:?}",
        sent
    );
    let sent = st.server(|s, _| s.sio.emit(&mut s.eio, "/", "photo", PLACEHOLDER, &[PHOTO]));
    st.settle();
    check!(
        "sio binary: server -> client attachment, byte for byte",
        sent.is_ok() && st.c.seen.photo,
        "{:?}",
        sent
    );
    check_eq!("sio binary: no protocol error", st.clean(), (None, None));
}

/// Three heartbeat rounds on the virtual clock (ping every 1 s, 0.5 s to
/// answer): the session outlives several ping timeouts because the client
/// answers every ping.
fn heartbeat(st: &mut Stack) {
    let start = st.now.as_millis();
    let next = st.s.eio.poll_timeout();
    check_eq!(
        "sio heartbeat: the server's first ping is due at pingInterval",
        next,
        Some(Instant::from_millis(PING_INTERVAL))
    );
    for round in 1..=3 {
        let t = start + round * PING_INTERVAL;
        st.advance(t);
        st.advance(t + PING_TIMEOUT - 1);
        st.advance(t + PING_TIMEOUT + 1);
    }
    check!(
        "sio heartbeat: three ping/pong rounds, both sides stay open",
        !st.s.eio.is_closed()
            && st.c.eio.is_open()
            && st.s.seen.closed.is_none()
            && st.c.seen.closed.is_none(),
        "server closed {:?}, client closed {:?}",
        st.s.seen.closed,
        st.c.seen.closed
    );
}

/// DISCONNECT from `/`, then the client closes the Engine.IO session.
fn goodbye(st: &mut Stack) {
    let left = st.client(|c, _| c.sio.disconnect("/"));
    st.settle();
    check!(
        "sio disconnect: the server sees the client leave /",
        left.is_ok() && st.s.seen.disconnect && !st.c.sio.is_connected("/"),
        "{:?}",
        left
    );
    st.client(|c, now| {
        c.sio.close();
        c.eio.close(now);
    });
    st.settle();
    let t = st.now.as_millis() + 10;
    st.advance(t);
    check_eq!(
        "sio close: the server's session ends as a transport close",
        st.s.seen.closed,
        Some(engineio::CloseReason::TransportClose)
    );
    check!(
        "sio close: both Engine.IO sides are finished",
        st.c.eio.is_finished() && st.s.eio.is_finished(),
        "client finished {}, server finished {}",
        st.c.eio.is_finished(),
        st.s.eio.is_finished()
    );
    check_eq!("sio close: no protocol error", st.clean(), (None, None));
}
