//! A Socket.IO server and its clients over smoltcp: the reference for running
//! sockwire's endpoint on a microcontroller's TCP/IP stack.
//!
//! smoltcp TCP sockets talk over smoltcp's loopback device on a virtual clock:
//! no OS networking, no threads, no sleeping. The server is
//! [`socketio::Server`] with [`Fixed`] storage (4 connection slots, 2 session
//! slots, 2 KiB buffers) and a [`Rooms`] table of 4 rooms of 4 members, on 3
//! listening smoltcp sockets: **no heap in the server's state**. Its whole
//! memory cost is `size_of` of [`IoServer`], printed at the start of the run:
//! 23,760 bytes with these capacities (Rust 1.95, x86_64). Half of it is the
//! buffers of the 2 session slots (3 x 2,048 bytes each: the Engine.IO send
//! queue, the WebSocket message assembler, the Socket.IO attachment
//! assembler); the rest is the tables of the Engine.IO endpoint (connections,
//! sessions with their Socket.IO state, deadlines, queues), the socket table
//! and the room table (648 bytes). The driver adds, per smoltcp socket, a read
//! buffer of `input_capacity` (a head and a body: 3 KiB here) and a 1 KiB
//! write-back buffer. The clients are [`socketio::Client`] endpoints over
//! WebSocket, no heap either: each asks for its TCP connection
//! (`ClientNotice::OpenConnection`), writes its own WebSocket handshake and
//! runs in four 2 KiB buffers it lends (Engine.IO queue, WebSocket
//! assembler, Socket.IO send buffer and attachment assembler: the
//! attachments are 1,500 bytes).
//!
//! The scenario:
//!
//! 1. alice and bob connect to `/` with an auth token; the server checks it,
//!    accepts, and emits it back (`welcome`);
//! 2. an event from a client (`hello`);
//! 3. an ack each way: the server's `emit_with_ack` (`ping`) answered by the
//!    client, the client's `emit_with_ack` (`add`) answered by the server;
//! 4. a 1,500-byte binary attachment each way (`upload`, then `download`):
//!    more than the 1 KiB smoltcp socket buffers, so the server's connection
//!    is paused (`set_paused`) until its socket drains;
//! 5. both clients ask to join a room; a `broadcast` to it reaches both, and
//!    one with an `except` (bob's socket id) reaches only alice; two
//!    1,500-byte broadcasts back to back overflow the 2 KiB send queues: the
//!    second is counted `full` for both targets, and each client gets the
//!    first one whole;
//! 6. 2.5 idle seconds: the loop sleeps from deadline to deadline, the
//!    heartbeat (1 s) keeps both sessions;
//! 7. a clean close: each client leaves `/` and closes its Engine.IO session;
//!    the server reports both disconnects, closes TCP, and holds no
//!    connection, session, socket or room;
//! 8. mallory connects with a wrong token: CONNECT_ERROR `bad token`, then
//!    closes;
//! 9. carol connects on a server socket that listens again once its last
//!    connection's TIME-WAIT (10 s) is over, is accepted, then hangs (the
//!    application stops running her client): the server's heartbeat finds
//!    her gone after pingInterval + pingTimeout (1.5 s), reports the
//!    disconnect (`ping timeout`) and closes; when carol runs again her
//!    client sees the close. The server ends with no connection, session,
//!    socket or room.
//!
//! The run loop is the endpoint's: after every input and every command, drain
//! `poll_transmit` and `poll_event`; when nothing moves, advance the virtual
//! clock to the earliest of smoltcp's `poll_delay` and the endpoints'
//! `poll_timeout`s, then call `handle_timeout`. Any mismatch returns `Err`.
//!
//! Run it with `cargo run --example smoltcp_socketio`;
//! `tests/smoltcp_socketio.rs` runs the same scenario under `cargo test`.
//!
//! What to copy into a firmware: [`ServerConn`] with `Scenario::serve` and
//! `Scenario::drain_server` (one endpoint; per smoltcp socket a read buffer
//! and a write-back buffer; write backpressure through `set_paused`), and
//! [`ClientEnd`] for a client. The scaffolding uses the heap where a firmware
//! would not: smoltcp's socket buffers and socket set are `Vec`s (a firmware
//! lends static arrays), the list of server sockets and of clients are
//! `Vec`s, and the applications' records of what they saw are `Vec`s and
//! `String`s (the server's events are copied out with `to_owned`, feature
//! `alloc`; a firmware acts on the borrowed `ServerEvent` instead).

use std::error::Error as StdError;

use smoltcp::iface::{PollResult, SocketHandle};
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use sockwire::engineio::{self, ConnId, Sid, Transport, websocket_target};
use sockwire::entropy::SplitMix64;
use sockwire::http;
use sockwire::socketio::endpoint::OwnedEvent;
use sockwire::socketio::{self, ClientBuffers, ClientEvent, ClientNotice, Rooms};
use sockwire::storage::{Fixed, Inline};
use sockwire::time::{Duration, Instant};

/// The server's TCP port.
const PORT: u16 = 80;
/// Each smoltcp socket's receive and transmit ring.
const SOCKET_BUF: usize = 1024;
/// The server's smoltcp sockets listening on `PORT` (the endpoint has 4
/// connection slots and 2 session slots).
const SLOTS: usize = 3;
/// The largest Engine.IO packet, and the largest request head.
const MAX_PAYLOAD: usize = 2048;
const MAX_HEAD: usize = 1024;
/// A server connection's read buffer: a whole head plus a whole body
/// (`Server::input_capacity`).
const SERVER_RX: usize = MAX_HEAD + MAX_PAYLOAD;
/// The server's output buffer (one `poll_transmit` at a time) and what a
/// connection keeps of it when its socket is full.
const SERVER_OUT: usize = 1024;
/// The client's buffers: read, write, and the four it lends its endpoint
/// (Engine.IO queue, WebSocket assembler, Socket.IO send buffer and
/// attachment assembler).
const CLIENT_RX: usize = 512;
const CLIENT_TX: usize = 256;
const CLIENT_BUF: usize = 2048;
/// The attachments' size.
const BLOB: usize = 1500;
/// The server's heartbeat.
const PING_INTERVAL: u64 = 1000;
const PING_TIMEOUT: u64 = 500;

/// The server endpoint: connections named by a `u8` slot, no heap.
pub type IoServer = socketio::Server<u8, Fixed<4, 2, 2048>, SplitMix64, Rooms<Sid, 4, 4>>;
/// A client endpoint: 2 namespaces, 4 acks, fixed buffers.
type SioClient = socketio::Client<[u8; CLIENT_BUF], SplitMix64, 2, 4>;

#[path = "common/smoltcp_net.rs"]
mod net;
use net::Net;

type Result<T> = core::result::Result<T, Box<dyn StdError>>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+).into());
        }
    };
}

fn trace(now: Instant, who: &str, what: &str) {
    println!("[{:>6} ms] {who:<8} {what}", now.as_millis());
}

// =============================================================================
// The server side: one endpoint, one small record per smoltcp socket.
// =============================================================================

/// One smoltcp socket of the server: the bytes read and not yet consumed by
/// the endpoint, and the bytes the endpoint produced that the socket has not
/// taken yet (the connection is paused while there are any).
pub struct ServerConn {
    socket: SocketHandle,
    /// The TCP connection is known to the endpoint.
    open: bool,
    rx: [u8; SERVER_RX],
    rx_len: usize,
    tx: [u8; SERVER_OUT],
    tx_start: usize,
    tx_end: usize,
    /// Close the socket once `tx` is out (`Transmit::close_after`).
    close_after: bool,
}

impl ServerConn {
    fn new(socket: SocketHandle) -> Self {
        ServerConn {
            socket,
            open: false,
            rx: [0; SERVER_RX],
            rx_len: 0,
            tx: [0; SERVER_OUT],
            tx_start: 0,
            tx_end: 0,
            close_after: false,
        }
    }

    /// Moves kept output into the socket; true when none is left.
    fn flush(&mut self, sock: &mut tcp::Socket) -> Result<bool> {
        if self.tx_start < self.tx_end {
            self.tx_start += sock.send_slice(&self.tx[self.tx_start..self.tx_end])?;
        }
        if self.tx_start == self.tx_end {
            (self.tx_start, self.tx_end) = (0, 0);
            if self.close_after {
                sock.close();
                self.close_after = false;
                self.open = false;
            }
            return Ok(true);
        }
        Ok(false)
    }
}

/// What the server application saw and did.
#[derive(Default)]
struct ServerApp {
    /// (auth token's owner, socket id) per accepted socket.
    sockets: Vec<(String, Sid)>,
    events: Vec<(Sid, String, String)>,
    uploads: Vec<Vec<u8>>,
    acks: Vec<(u64, String)>,
    disconnects: Vec<(Sid, &'static str)>,
}

impl ServerApp {
    fn socket_of(&self, who: &str) -> Result<Sid> {
        self.sockets
            .iter()
            .find(|(w, _)| w == who)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("no socket for {who}").into())
    }

    /// The application's answer to one event of the endpoint.
    fn on_event(&mut self, now: Instant, io: &mut IoServer, event: OwnedEvent) -> Result<()> {
        match event {
            OwnedEvent::Connect { sid, nsp, auth } => {
                let auth = auth.unwrap_or_default();
                let who = match auth.as_str() {
                    r#"{"token":"alice-secret"}"# => "alice",
                    r#"{"token":"bob-secret"}"# => "bob",
                    r#"{"token":"carol-secret"}"# => "carol",
                    _ => {
                        trace(now, "server", &format!("refuses {sid:?}: auth {auth}"));
                        io.refuse(&sid, &nsp, "bad token")?;
                        return Ok(());
                    }
                };
                let socket = io.accept(&sid, &nsp)?;
                trace(
                    now,
                    "server",
                    &format!("accepts {who} on {nsp} as socket {socket:?}, emits welcome"),
                );
                io.emit(&socket, "welcome", &auth, &[])?;
                self.sockets.push((who.to_string(), socket));
            }
            OwnedEvent::Event { socket, message } => {
                let name = message.name().unwrap_or_default().to_string();
                let args = message.args_raw().to_string();
                trace(
                    now,
                    "server",
                    &format!(
                        "event {name:?} {args} from {socket:?} (ack id {:?}, {} attachment(s))",
                        message.ack_id,
                        message.attachments.len()
                    ),
                );
                match (name.as_str(), message.ack_id) {
                    ("add", Some(id)) => {
                        let sum: i64 = message
                            .args()
                            .map(|a| a.trim().parse::<i64>().unwrap_or(0))
                            .sum();
                        io.ack(&socket, id, &sum.to_string(), &[])?;
                    }
                    ("upload", None) => {
                        ensure!(
                            message.attachments.len() == 1,
                            "upload carries one attachment"
                        );
                        let mut back = message.attachments[0].clone();
                        back.reverse();
                        io.emit(&socket, "download", r#""reversed""#, &[&back])?;
                        self.uploads.push(message.attachments[0].clone());
                    }
                    ("join", None) => {
                        let room = args.trim_matches('"');
                        io.join(&socket, room)?;
                    }
                    _ => {}
                }
                self.events.push((socket, name, args));
            }
            OwnedEvent::Ack { socket, message } => {
                let id = message.ack_id.unwrap_or(u64::MAX);
                trace(
                    now,
                    "server",
                    &format!("ack {id} {} from {socket:?}", message.data),
                );
                self.acks.push((id, message.data.clone()));
            }
            OwnedEvent::Disconnect { socket, reason } => {
                trace(now, "server", &format!("{socket:?} left: {reason}"));
                self.disconnects.push((socket, reason));
            }
            other => return Err(format!("server: unexpected {other:?}").into()),
        }
        Ok(())
    }
}

// =============================================================================
// A client: a TCP socket, the WebSocket handshake, then Engine.IO + Socket.IO.
// =============================================================================

/// An event a client received.
struct SeenEvent {
    name: String,
    args: String,
    ack_id: Option<u64>,
    attachments: Vec<Vec<u8>>,
}

/// What a client application saw.
#[derive(Default)]
struct ClientSeen {
    connected: Option<String>,
    /// The CONNECT_ERROR's data.
    refused: Option<String>,
    events: Vec<SeenEvent>,
    acks: Vec<(u64, String)>,
    notices: Vec<ClientNotice>,
    closed: Option<engineio::ClientCloseReason>,
}

/// One client: fixed buffers, no heap (besides what it records).
pub struct ClientEnd {
    name: &'static str,
    auth: &'static str,
    /// Its smoltcp socket, once the client asked for a connection.
    socket: Option<SocketHandle>,
    /// The connection's handle for the client endpoint.
    conn: Option<ConnId>,
    connected: bool,
    sio: SioClient,
    rx: [u8; CLIENT_RX],
    rx_len: usize,
    tx: [u8; CLIENT_TX],
    tx_start: usize,
    tx_end: usize,
    /// Close the socket once `tx` is sent.
    close_after: bool,
    eof: bool,
    tcp_closed: bool,
    /// The application stopped running this client (a device that hangs).
    frozen: bool,
    seen: ClientSeen,
}

impl ClientEnd {
    fn new(now: Instant, name: &'static str, auth: &'static str, seed: u64) -> Result<Self> {
        let config = socketio::ClientConfig {
            reconnection: false,
            ..socketio::ClientConfig::DEFAULT
        };
        let eio = engineio::ClientConfig {
            path: "/socket.io/",
            ..engineio::ClientConfig::DEFAULT
        };
        let buffers = ClientBuffers {
            queue: [0; CLIENT_BUF],
            assembly: [0; CLIENT_BUF],
            send_buffer: [0; CLIENT_BUF],
            attachments: [0; CLIENT_BUF],
        };
        let host = "127.0.0.1";
        let mut sio = SioClient::new(
            now,
            eio,
            config,
            Transport::WebSocket,
            host,
            buffers,
            SplitMix64::new(seed),
        )?;
        // Joined before the transport exists: the CONNECT goes out on open.
        sio.connect("/", Some(auth))?;
        Ok(ClientEnd {
            name,
            auth,
            socket: None,
            conn: None,
            connected: false,
            sio,
            rx: [0; CLIENT_RX],
            rx_len: 0,
            tx: [0; CLIENT_TX],
            tx_start: 0,
            tx_end: 0,
            close_after: false,
            eof: false,
            tcp_closed: false,
            frozen: false,
            seen: ClientSeen::default(),
        })
    }

    /// The connection the client asks for first (its WebSocket).
    fn wanted_connection(&mut self, now: Instant) -> Result<ConnId> {
        while let Some(n) = self.sio.poll_event() {
            if let ClientNotice::OpenConnection { conn, purpose } = n {
                trace(
                    now,
                    self.name,
                    &format!("asks for a connection ({purpose:?})"),
                );
                self.conn = Some(conn);
                return Ok(conn);
            }
            self.seen.notices.push(n);
        }
        Err(format!("{}: no connection asked for", self.name).into())
    }

    /// The earliest deadline of the client.
    fn poll_timeout(&self) -> Option<Instant> {
        self.sio.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<()> {
        self.sio.handle_timeout(now);
        Ok(())
    }

    /// One pass: input, then output. True if anything moved.
    fn service(&mut self, now: Instant, sock: &mut tcp::Socket) -> Result<bool> {
        let mut moved = false;
        let Some(conn) = self.conn else {
            return Ok(false);
        };
        if !self.connected && sock.may_send() {
            self.connected = true;
            trace(now, self.name, "TCP connected");
            self.sio.handle_connected(now, conn);
            moved = true;
        }

        // ---- input ----
        loop {
            if self.rx_len < CLIENT_RX && sock.can_recv() {
                self.rx_len += sock.recv_slice(&mut self.rx[self.rx_len..])?;
            }
            if self.rx_len == 0 {
                break;
            }
            let ClientEnd {
                sio,
                rx,
                rx_len,
                seen,
                name,
                ..
            } = self;
            let input = sio.handle_input(now, conn, &mut rx[..*rx_len])?;
            let consumed = input.consumed;
            let progressed = input.progressed();
            let mut ack = None;
            match input.message {
                Some(ClientEvent::Connect { nsp, sid, .. }) => {
                    trace(now, name, &format!("connected to {nsp} as {sid}"));
                    seen.connected = Some(sid.to_string());
                }
                Some(ClientEvent::Event(m)) => {
                    let ev = m.name().unwrap_or_default().to_string();
                    let args = m.args_raw().to_string();
                    let atts: Vec<Vec<u8>> = m.attachments.into_iter().map(Vec::from).collect();
                    trace(
                        now,
                        name,
                        &format!(
                            "event {ev:?} {args} (ack id {:?}, {} attachment(s))",
                            m.ack_id,
                            atts.len()
                        ),
                    );
                    if ev == "ping" {
                        ack = m.ack_id;
                    }
                    seen.events.push(SeenEvent {
                        name: ev,
                        args,
                        ack_id: m.ack_id,
                        attachments: atts,
                    });
                }
                Some(ClientEvent::Ack(m)) => {
                    let id = m.ack_id.unwrap_or(u64::MAX);
                    trace(now, name, &format!("ack {id} {}", m.data));
                    seen.acks.push((id, m.data.to_string()));
                }
                Some(ClientEvent::ConnectError { nsp, data }) => {
                    trace(now, name, &format!("refused on {nsp}: {data}"));
                    seen.refused = Some(data.to_string());
                }
                Some(other) => return Err(format!("{name}: unexpected {other:?}").into()),
                None => {}
            }
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
            if let Some(id) = ack {
                // The application answers the server's ping.
                trace(now, self.name, &format!("acks {id} with \"pong\""));
                self.sio.ack("/", id, r#""pong""#, &[])?;
            }
            if !progressed {
                break; // need more bytes
            }
            moved = true;
        }
        if !self.eof && self.connected && !sock.may_recv() && !sock.can_recv() && self.rx_len == 0 {
            trace(now, self.name, "the server closed TCP");
            self.eof = true;
            self.sio.handle_closed(now, conn);
            moved = true;
        }
        moved |= self.drain(now, sock)?;
        Ok(moved)
    }

    /// The run-loop contract: drain `poll_transmit` into the socket, drain
    /// the notices.
    fn drain(&mut self, now: Instant, sock: &mut tcp::Socket) -> Result<bool> {
        let mut moved = false;
        loop {
            if self.tx_start < self.tx_end {
                let n = sock.send_slice(&self.tx[self.tx_start..self.tx_end])?;
                self.tx_start += n;
                moved |= n > 0;
            }
            if self.tx_start < self.tx_end {
                break; // the socket is full: next pass
            }
            (self.tx_start, self.tx_end) = (0, 0);
            if self.close_after && !self.tcp_closed {
                // The session is over and its last frame is out: close TCP.
                trace(now, self.name, "closing TCP");
                sock.close();
                self.tcp_closed = true;
                moved = true;
            }
            if !sock.may_send() || self.tcp_closed {
                break;
            }
            let Some(t) = self.sio.poll_transmit(&mut self.tx)? else {
                break;
            };
            // One connection only (reconnection is off).
            ensure!(
                Some(t.conn) == self.conn,
                "{}: a transmit for {:?}",
                self.name,
                t.conn
            );
            self.tx_end = t.len;
            self.close_after |= t.close_after;
            moved = true;
        }
        while let Some(notice) = self.sio.poll_event() {
            trace(now, self.name, &format!("notice {notice:?}"));
            match notice {
                ClientNotice::Transport(engineio::ClientEvent::Open) => {
                    trace(now, self.name, "Engine.IO open; CONNECT with auth goes out");
                }
                ClientNotice::Transport(engineio::ClientEvent::Closed(reason)) => {
                    self.seen.closed = Some(reason);
                }
                ClientNotice::Transport(_) => {}
                other => self.seen.notices.push(other),
            }
            moved = true;
        }
        // Ended by the peer: nothing more to send.
        if self.eof && !self.tcp_closed && self.tx_start == self.tx_end {
            sock.close();
            self.tcp_closed = true;
        }
        Ok(moved)
    }

    /// A Socket.IO command, then the output it made.
    fn command(
        &mut self,
        now: Instant,
        sock: &mut tcp::Socket,
        f: impl FnOnce(&mut SioClient) -> core::result::Result<(), socketio::Error>,
    ) -> Result<()> {
        f(&mut self.sio)?;
        self.drain(now, sock)?;
        Ok(())
    }
}

// =============================================================================
// The virtual network (examples/common/smoltcp_net.rs): how this example
// polls the loopback interface and moves the virtual clock.
// =============================================================================

impl Net {
    /// Runs the interface until the loopback queue is empty (a packet sent
    /// by one socket is received by the other on the next poll). True if
    /// anything happened.
    fn poll(&mut self) -> bool {
        let now = self.net_now();
        let mut any = false;
        for _ in 0..1000 {
            match self.iface.poll(now, &mut self.device, &mut self.sockets) {
                PollResult::SocketStateChanged => any = true,
                PollResult::None => return any,
            }
        }
        any
    }

    /// Sleeps: moves the virtual clock to the earliest of smoltcp's next
    /// timer and `deadline` (what a firmware does with a timer interrupt and
    /// WFI). Never backwards.
    fn sleep(&mut self, deadline: Option<Instant>) -> Result<()> {
        let net = self.poll_delay_ms().map(|d| self.now_ms + d);
        let until = [net, deadline.map(|t| t.as_millis())]
            .into_iter()
            .flatten()
            .min()
            .ok_or("idle with no deadline anywhere: the scenario is stuck")?;
        self.now_ms = self.now_ms.max(until);
        Ok(())
    }
}

// =============================================================================
// The scenario.
// =============================================================================

struct Scenario {
    net: Net,
    io: IoServer,
    conns: Vec<ServerConn>,
    out: [u8; SERVER_OUT],
    app: ServerApp,
    clients: Vec<ClientEnd>,
    /// Times a server connection was paused because its socket was full.
    pauses: usize,
    /// Times the server's `handle_timeout` ran.
    timeouts: usize,
}

impl Scenario {
    fn new() -> Result<Scenario> {
        let mut net = Net::new();
        let mut conns = Vec::new();
        for _ in 0..SLOTS {
            let h = net.add_socket(SOCKET_BUF);
            net.sock(h).listen(PORT)?;
            conns.push(ServerConn::new(h));
        }
        let mut target = [0u8; 64];
        ensure!(
            websocket_target("/socket.io/", &mut target)?
                == "/socket.io/?EIO=4&transport=websocket",
            "TARGET is what websocket_target writes"
        );
        let eio = engineio::Config {
            path: "/socket.io/",
            max_payload: MAX_PAYLOAD,
            http: http::Limits {
                max_head_len: MAX_HEAD,
                max_headers: 32,
            },
            ping_interval: Duration::from_millis(PING_INTERVAL),
            ping_timeout: Duration::from_millis(PING_TIMEOUT),
            max_connections: 4,
            max_sessions: 2,
            send_queue_len: 2048,
            ..engineio::Config::DEFAULT
        };
        let io = IoServer::new(eio, socketio::Config::DEFAULT, SplitMix64::new(0x5e7e));
        ensure!(io.engine().input_capacity() == SERVER_RX, "SERVER_RX fits");
        Ok(Scenario {
            net,
            io,
            conns,
            out: [0; SERVER_OUT],
            app: ServerApp::default(),
            clients: Vec::new(),
            pauses: 0,
            timeouts: 0,
        })
    }

    /// A client that connects now, with its `auth`.
    fn add_client(&mut self, name: &'static str, auth: &'static str) -> Result<usize> {
        let i = self.clients.len();
        let mut c = ClientEnd::new(self.net.now(), name, auth, 0xc11e + i as u64)?;
        c.wanted_connection(self.net.now())?;
        let h = self.net.add_socket(SOCKET_BUF);
        let cx = self.net.iface.context();
        self.net.sockets.get_mut::<tcp::Socket>(h).connect(
            cx,
            (IpAddress::v4(127, 0, 0, 1), PORT),
            49152 + i as u16,
        )?;
        c.socket = Some(h);
        self.clients.push(c);
        Ok(i)
    }

    /// The server's run-loop contract after any input or command: every
    /// `poll_transmit` into its socket (pausing a connection whose socket is
    /// full), then every `poll_event` to the application.
    fn drain_server(&mut self, now: Instant) -> Result<bool> {
        let mut moved = false;
        // Output kept from a full socket goes first; resume when it is out.
        for (id, c) in self.conns.iter_mut().enumerate() {
            let had = c.tx_end > 0 || c.close_after;
            let sock = self.net.sockets.get_mut::<tcp::Socket>(c.socket);
            if had && c.flush(sock)? {
                moved = true;
                if c.open {
                    self.io.set_paused(id as u8, false);
                }
            }
        }
        while let Some(t) = self.io.poll_transmit(&mut self.out)? {
            moved = true;
            let c = &mut self.conns[usize::from(t.conn)];
            let sock = self.net.sockets.get_mut::<tcp::Socket>(c.socket);
            let n = sock.send_slice(&self.out[..t.len])?;
            if n < t.len {
                // The socket is full: keep the rest, and pause the connection
                // so the endpoint produces nothing more for it meanwhile.
                c.tx[..t.len - n].copy_from_slice(&self.out[n..t.len]);
                (c.tx_start, c.tx_end) = (0, t.len - n);
                self.io.set_paused(t.conn, true);
                self.pauses += 1;
            }
            if t.close_after {
                trace(now, "server", &format!("closes connection {}", t.conn));
                c.close_after = true;
                c.flush(sock)?;
            }
        }
        while let Some(event) = self.io.poll_event() {
            moved = true;
            let event = event.to_owned();
            self.app.on_event(now, &mut self.io, event)?;
        }
        Ok(moved)
    }

    /// One pass over the server's sockets: accepts, input, closes.
    fn serve(&mut self, now: Instant) -> Result<bool> {
        let mut moved = false;
        for id in 0..self.conns.len() {
            let handle = self.conns[id].socket;
            let sock = self.net.sock(handle);
            let c = &mut self.conns[id];
            let conn = id as u8;
            if !c.open && !c.close_after && sock.state() == tcp::State::Closed {
                // The last connection is over (TIME-WAIT included): the
                // socket serves the next one, with empty buffers.
                sock.listen(PORT)?;
                *c = ServerConn::new(handle);
                trace(now, "server", &format!("socket {conn} listens again"));
                moved = true;
            }
            if !c.open && sock.state() == tcp::State::Established {
                trace(now, "server", &format!("accepts TCP connection {conn}"));
                self.io.handle_accept(now, conn)?;
                c.open = true;
                moved = true;
            }
            if !c.open {
                continue;
            }
            loop {
                let c = &mut self.conns[id];
                let sock = self.net.sockets.get_mut::<tcp::Socket>(handle);
                if c.rx_len < SERVER_RX && sock.can_recv() {
                    c.rx_len += sock.recv_slice(&mut c.rx[c.rx_len..])?;
                }
                if c.rx_len == 0 {
                    break;
                }
                let input = self.io.handle_input(now, conn, &mut c.rx[..c.rx_len])?;
                let (consumed, blocked, again) = (input.consumed, input.blocked, input.again);
                let event = input.message.map(|m| m.to_owned());
                c.rx.copy_within(consumed..c.rx_len, 0);
                c.rx_len -= consumed;
                let had_event = event.is_some() || again;
                if let Some(event) = event {
                    self.app.on_event(now, &mut self.io, event)?;
                }
                let sent = self.drain_server(now)?;
                moved |= consumed > 0 || had_event || sent;
                if consumed == 0 && !had_event && !(blocked && sent) {
                    break; // need more bytes, or blocked behind a full socket
                }
            }
            let c = &mut self.conns[id];
            let sock = self.net.sockets.get_mut::<tcp::Socket>(handle);
            if c.open && !sock.may_recv() && !sock.can_recv() && c.rx_len == 0 {
                trace(now, "server", &format!("peer closed connection {conn}"));
                self.io.handle_closed(now, conn);
                sock.close();
                c.open = false;
                moved = true;
            }
        }
        moved |= self.drain_server(now)?;
        Ok(moved)
    }

    /// One pass of the run loop: the network, the server, the clients, the
    /// timers; when nothing moved, sleep until the next deadline.
    fn step(&mut self) -> Result<()> {
        let mut moved = self.net.poll();
        let now = self.net.now();
        moved |= self.serve(now)?;
        for c in self.clients.iter_mut().filter(|c| !c.frozen) {
            let Some(h) = c.socket else { continue };
            let sock = self.net.sockets.get_mut::<tcp::Socket>(h);
            moved |= c.service(now, sock)?;
        }
        if self.io.poll_timeout().is_some_and(|t| t <= now) {
            self.io.handle_timeout(now);
            self.timeouts += 1;
            moved |= self.drain_server(now)?;
        }
        for c in self.clients.iter_mut().filter(|c| !c.frozen) {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now)?;
                let Some(h) = c.socket else { continue };
                let sock = self.net.sockets.get_mut::<tcp::Socket>(h);
                c.drain(now, sock)?;
                moved = true;
            }
        }
        if !moved {
            let deadline = [self.io.poll_timeout()]
                .into_iter()
                .chain(
                    self.clients
                        .iter()
                        .filter(|c| !c.frozen)
                        .map(|c| c.poll_timeout()),
                )
                .flatten()
                .min();
            self.net.sleep(deadline)?;
        }
        Ok(())
    }

    /// Every client and server connection closed, no session left.
    fn all_closed(&self) -> bool {
        self.clients.iter().all(|c| c.tcp_closed && c.eof)
            && self.conns.iter().all(|c| !c.open)
            && self.io.engine().connections() == 0
            && self.io.engine().sessions() == 0
    }

    /// Runs the loop until `done` holds, within 20 s of virtual time.
    fn run_until(&mut self, what: &str, done: impl Fn(&Scenario) -> bool) -> Result<()> {
        let limit = self.net.now_ms + 20_000;
        for _ in 0..100_000 {
            if done(self) {
                return Ok(());
            }
            if self.net.now_ms > limit {
                break;
            }
            self.step()?;
        }
        Err(format!("gave up waiting for: {what}").into())
    }

    fn client_command(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut SioClient) -> core::result::Result<(), socketio::Error>,
    ) -> Result<()> {
        let now = self.net.now();
        let c = &mut self.clients[i];
        let h = c.socket.ok_or("no socket yet")?;
        let sock = self.net.sockets.get_mut::<tcp::Socket>(h);
        c.command(now, sock, f)
    }
}

const ALICE: usize = 0;
const BOB: usize = 1;

/// The whole scenario; `Err` on any mismatch.
pub fn run() -> Result<()> {
    println!(
        "size_of::<IoServer>() = {} bytes (socketio::Server<u8, Fixed<4, 2, 2048>, SplitMix64, Rooms<Sid, 4, 4>>, no heap)",
        size_of::<IoServer>()
    );
    println!(
        "  of which: the Engine.IO endpoint {} (its 2 session slots hold 3 x 2,048-byte buffers each: \
         send queue, WebSocket assembler, Socket.IO assembler), the room table {}",
        size_of::<
            engineio::Server<
                u8,
                socketio::endpoint::State<Inline<2048>>,
                Fixed<4, 2, 2048>,
                SplitMix64,
            >,
        >(),
        size_of::<Rooms<Sid, 4, 4>>()
    );
    println!(
        "size_of per client: socketio::Client {} bytes (4 x 2,048-byte buffers); whole ClientEnd {} bytes",
        size_of::<SioClient>(),
        size_of::<ClientEnd>()
    );
    let mut s = Scenario::new()?;
    s.add_client("alice", r#"{"token":"alice-secret"}"#)?;
    s.add_client("bob", r#"{"token":"bob-secret"}"#)?;

    // 1. Connect with auth; the server checks it, accepts, emits it back.
    s.run_until("both clients connected and welcomed", |s| {
        s.clients
            .iter()
            .all(|c| c.seen.connected.is_some() && !c.seen.events.is_empty())
    })?;
    for c in &s.clients {
        let e = &c.seen.events[0];
        ensure!(
            e.name == "welcome" && e.args == c.auth && e.ack_id.is_none(),
            "{}: welcome echoes the auth, got {} {}",
            c.name,
            e.name,
            e.args
        );
    }
    let alice = s.app.socket_of("alice")?;
    let bob = s.app.socket_of("bob")?;
    ensure!(alice != bob, "two sockets");
    ensure!(
        s.clients[ALICE].seen.connected.as_deref() == Some(alice.as_str()),
        "alice's socket id is the one the server gave"
    );
    ensure!(
        s.io.sockets() == 2 && s.io.engine().sessions() == 2,
        "two sessions"
    );

    // 2. An event.
    s.client_command(ALICE, |sio| sio.emit("/", "hello", r#""world",42"#, &[]))?;
    s.run_until("hello", |s| !s.app.events.is_empty())?;
    ensure!(
        s.app.events[0] == (alice, "hello".into(), r#""world",42"#.into()),
        "hello arrives: {:?}",
        s.app.events[0]
    );

    // 3. Acks both ways.
    let now = s.net.now();
    trace(now, "server", "emit_with_ack ping to alice");
    let ping = s.io.emit_with_ack(
        now,
        &alice,
        "ping",
        r#"{"n":1}"#,
        &[],
        Some(Duration::from_millis(5000)),
    )?;
    s.drain_server(now)?;
    s.run_until("alice's ack of ping", |s| !s.app.acks.is_empty())?;
    ensure!(
        s.app.acks[0] == (ping, r#"["pong"]"#.into()),
        "the server's ack: {:?}",
        s.app.acks[0]
    );
    let now = s.net.now();
    trace(now, "alice", "emit_with_ack add 2, 3");
    let mut add = 0;
    s.client_command(ALICE, |sio| {
        add = sio.emit_with_ack(
            now,
            "/",
            "add",
            "2,3",
            &[],
            Some(Duration::from_millis(5000)),
        )?;
        Ok(())
    })?;
    s.run_until("the server's ack of add", |s| {
        !s.clients[ALICE].seen.acks.is_empty()
    })?;
    ensure!(
        s.clients[ALICE].seen.acks[0] == (add, "[5]".into()),
        "alice's ack: {:?}",
        s.clients[ALICE].seen.acks[0]
    );

    // 4. A binary attachment each way.
    //    1,500 bytes: more than the 1 KiB smoltcp sockets hold, so the
    //    server's connection is paused until its socket drains.
    let blob: Vec<u8> = (0..BLOB as u32).map(|i| (i * 7 + i / 256) as u8).collect();
    trace(
        s.net.now(),
        "alice",
        &format!("emits upload with a {BLOB}-byte attachment"),
    );
    let b = blob.clone();
    s.client_command(ALICE, move |sio| {
        sio.emit("/", "upload", r#"{"name":"blob.bin"}"#, &[&b])
    })?;
    s.run_until("the download", |s| {
        s.clients[ALICE]
            .seen
            .events
            .iter()
            .any(|e| e.name == "download")
    })?;
    ensure!(s.app.uploads == [blob.clone()], "the upload arrives whole");
    let download = s.clients[ALICE]
        .seen
        .events
        .iter()
        .find(|e| e.name == "download")
        .ok_or("download")?;
    let mut reversed = blob.clone();
    reversed.reverse();
    ensure!(
        download.args == r#""reversed""# && download.attachments == [reversed],
        "the download carries the reversed bytes"
    );

    // 5. Rooms and broadcast.
    s.client_command(ALICE, |sio| sio.emit("/", "join", r#""lab""#, &[]))?;
    s.client_command(BOB, |sio| sio.emit("/", "join", r#""lab""#, &[]))?;
    s.run_until("both in the room", |s| {
        s.io.is_in(&alice, "lab") && s.io.is_in(&bob, "lab")
    })?;
    let now = s.net.now();
    let sent =
        s.io.broadcast("/", &["lab"], &[], "news", r#""to all""#, &[])?;
    trace(now, "server", &format!("broadcast to lab: {sent:?}"));
    ensure!(
        sent.delivered == 2 && sent.full == 0,
        "two targets: {sent:?}"
    );
    let sent =
        s.io.broadcast("/", &["lab"], &[bob.as_str()], "news", r#""not bob""#, &[])?;
    trace(
        now,
        "server",
        &format!("broadcast to lab except bob: {sent:?}"),
    );
    ensure!(
        sent.delivered == 1 && sent.full == 0,
        "one target: {sent:?}"
    );
    s.drain_server(now)?;
    let news = |c: &ClientEnd| -> Vec<String> {
        c.seen
            .events
            .iter()
            .filter(|e| e.name == "news")
            .map(|e| e.args.clone())
            .collect()
    };
    s.run_until("alice's two news", |s| news(&s.clients[ALICE]).len() == 2)?;

    //    A broadcast that does not fit is counted, not dropped in silence:
    //    two 1,500-byte photos back to back, with no transmit in between,
    //    overflow each session's 2 KiB send queue.
    let now = s.net.now();
    let photo = vec![0xa5u8; BLOB];
    let first =
        s.io.broadcast("/", &["lab"], &[], "photo", "1", &[&photo])?;
    let second =
        s.io.broadcast("/", &["lab"], &[], "photo", "2", &[&photo])?;
    trace(
        now,
        "server",
        &format!("two photos to lab at once: {first:?}, then {second:?}"),
    );
    ensure!(
        first.delivered == 2 && first.full == 0 && second.delivered == 0 && second.full == 2,
        "the second photo finds both queues full: {first:?} {second:?}"
    );
    s.drain_server(now)?;
    let photos = |c: &ClientEnd| -> Vec<(String, bool)> {
        c.seen
            .events
            .iter()
            .filter(|e| e.name == "photo")
            .map(|e| (e.args.clone(), e.attachments == [vec![0xa5u8; BLOB]]))
            .collect()
    };
    s.run_until("the photos", |s| {
        s.clients.iter().all(|c| !photos(c).is_empty())
    })?;
    // 6. The heartbeat, on the virtual clock: the loop sleeps from deadline
    //    to deadline; the sessions live on. (Bob's news has arrived by now.)
    let (until, timeouts) = (s.net.now_ms + 2 * PING_INTERVAL + 500, s.timeouts);
    trace(s.net.now(), "all", "idle for 2.5 s: pings and pongs only");
    s.run_until("2.5 idle seconds", |s| s.net.now_ms >= until)?;
    ensure!(
        s.timeouts > timeouts && s.io.engine().sessions() == 2 && s.io.sockets() == 2,
        "the heartbeat keeps both sessions"
    );
    ensure!(
        news(&s.clients[ALICE]) == [r#""to all""#, r#""not bob""#],
        "alice: {:?}",
        news(&s.clients[ALICE])
    );
    for c in &s.clients {
        ensure!(
            photos(c) == [("1".to_string(), true)],
            "{}: exactly the first photo, whole: {:?}",
            c.name,
            photos(c)
        );
    }
    ensure!(
        news(&s.clients[BOB]) == [r#""to all""#],
        "bob: {:?}",
        news(&s.clients[BOB])
    );

    // 7. A clean close: leave `/`, close the Engine.IO session.
    for i in [ALICE, BOB] {
        let now = s.net.now();
        trace(now, s.clients[i].name, "disconnects / and closes");
        s.client_command(i, |sio| {
            sio.disconnect("/")?;
            sio.close(now);
            Ok(())
        })?;
    }
    s.run_until("everything closed", Scenario::all_closed)?;
    ensure!(
        s.app.disconnects.len() == 2
            && s.app.disconnects.iter().any(|d| d.0 == alice)
            && s.app.disconnects.iter().any(|d| d.0 == bob)
            && s.app
                .disconnects
                .iter()
                .all(|d| d.1 == "client namespace disconnect"),
        "both left: {:?}",
        s.app.disconnects
    );
    ensure!(s.io.sockets() == 0, "no socket left");
    ensure!(s.io.rooms().is_empty(), "no room left");
    // 8. A client with a wrong token is refused (CONNECT_ERROR) and closes.
    let mallory = s.add_client("mallory", r#"{"token":"guess"}"#)?;
    s.run_until("mallory refused", |s| {
        s.clients[mallory].seen.refused.is_some()
    })?;
    ensure!(
        s.clients[mallory].seen.refused.as_deref() == Some(r#"{"message":"bad token"}"#)
            && s.clients[mallory].seen.connected.is_none(),
        "mallory: {:?}",
        s.clients[mallory].seen.refused
    );
    let now = s.net.now();
    s.client_command(mallory, |sio| {
        sio.close(now);
        Ok(())
    })?;
    s.run_until("mallory closed", Scenario::all_closed)?;
    ensure!(s.app.disconnects.len() == 2, "mallory never had a socket");
    for c in &s.clients {
        ensure!(
            c.seen.closed == Some(engineio::ClientCloseReason::ForcedClose),
            "{}: closed by the client: {:?}",
            c.name,
            c.seen.closed
        );
    }

    // 9. A client that hangs: carol connects on a socket that listens again
    //    once its last connection's TIME-WAIT is over, then stops running.
    //    The server's heartbeat finds her gone (ping timeout), reports the
    //    disconnect and closes; when carol runs again she sees the close.
    s.run_until("a socket listens again", |s| {
        s.conns
            .iter()
            .any(|c| s.net.sockets.get::<tcp::Socket>(c.socket).state() == tcp::State::Listen)
    })?;
    let carol = s.add_client("carol", r#"{"token":"carol-secret"}"#)?;
    s.run_until("carol welcomed", |s| {
        !s.clients[carol].seen.events.is_empty()
    })?;
    let carol_socket = s.app.socket_of("carol")?;
    let hang = s.net.now_ms;
    trace(s.net.now(), "carol", "hangs");
    s.clients[carol].frozen = true;
    s.run_until("carol's ping timeout", |s| s.app.disconnects.len() == 3)?;
    let waited = s.net.now_ms - hang;
    ensure!(
        s.app.disconnects[2] == (carol_socket, "ping timeout")
            && waited <= PING_INTERVAL + PING_TIMEOUT
            && s.io.sockets() == 0,
        "carol: {:?} after {waited} ms",
        s.app.disconnects[2]
    );
    trace(s.net.now(), "carol", "runs again");
    s.clients[carol].frozen = false;
    s.run_until("carol closed", Scenario::all_closed)?;
    ensure!(
        s.clients[carol].seen.closed.is_some(),
        "carol's Engine.IO client saw the end"
    );
    ensure!(s.pauses > 0, "a full socket paused a connection");
    trace(
        s.net.now(),
        "server",
        &format!(
            "{} pause(s) for a full socket, {} timeout(s) handled",
            s.pauses, s.timeouts
        ),
    );
    trace(s.net.now(), "all", "closed cleanly");
    Ok(())
}

#[allow(dead_code)] // unused when `tests/smoltcp_socketio.rs` includes this file
fn main() -> Result<()> {
    run()
}
