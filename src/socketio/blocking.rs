//! A blocking Socket.IO client over `std::net` (feature `std`).
//!
//! [`Client::connect`] starts a background thread that runs the Sans-IO
//! [`socketio::Client`](super::Client): it opens the TCP connections the
//! client asks for (each read by a thread of its own that blocks in `read`,
//! so an idle client uses no CPU), writes what it transmits and runs its
//! timers. The application calls plain methods: [`Client::emit`],
//! [`Client::emit_with_ack`] (which waits for the ack),
//! [`Client::next_event`] (which waits for the next event). Reconnection,
//! buffering while disconnected, the upgrade from long-polling and
//! connection state recovery happen by themselves.
//!
//! ```no_run
//! use std::time::Duration;
//! use sockwire::socketio::blocking::{Client, Event, Options};
//!
//! let client = Client::connect("http://127.0.0.1:3000", Options::default().auth(r#"{"token":"abc"}"#))?;
//! let reply = client.emit_with_ack("/", "hello", r#""world""#, Duration::from_secs(5))?;
//! println!("ack: [{}]", reply.args);
//! while let Some(event) = client.next_event(Duration::from_secs(30)) {
//!     if let Event::Message(m) = event {
//!         println!("{:?}: [{}]", m.name, m.args);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::boxed::Box;
use std::collections::HashMap;
use std::format;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::string::{String, ToString};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread;
use std::time::Duration as StdDuration;
use std::vec::Vec;

use super::{ClientConfig, ClientEvent, ClientNotice, DisconnectReason, Message};
use crate::engineio::{self, ClientCloseReason, ConnId, Transport};
use crate::entropy::StdEntropy;
use crate::time::{Duration, StdClock};

/// Which transports a [`Client`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transports {
    /// WebSocket only (`transports: ["websocket"]`).
    WebSocket,
    /// HTTP long-polling only.
    Polling,
    /// Long-polling first, then the upgrade to WebSocket (the reference
    /// client's default).
    Both,
}

/// How a [`Client`] connects.
#[derive(Clone, Debug)]
pub struct Options {
    /// The namespaces to join, each with its auth (`/` alone when empty).
    pub namespaces: Vec<(String, Option<String>)>,
    /// The auth for namespaces joined without one (a JSON object).
    pub auth: Option<String>,
    /// The transports. Default [`Transports::Both`].
    pub transports: Transports,
    /// The Engine.IO settings (its `path` is taken from the URL).
    pub engine: engineio::ClientConfig,
    /// The Socket.IO settings (reconnection, limits).
    pub socket: ClientConfig,
    /// Bytes of each buffer (send queue, send buffer, assemblers); also the
    /// largest message. Default 1 MiB.
    pub buffer_len: usize,
    /// The bound on each TCP connect and on each write. Default 10 s.
    pub io_timeout: StdDuration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespaces: Vec::new(),
            auth: None,
            transports: Transports::Both,
            engine: engineio::ClientConfig::default(),
            socket: ClientConfig::default(),
            buffer_len: 1 << 20,
            io_timeout: StdDuration::from_secs(10),
        }
    }
}

impl Options {
    /// Joins `nsp` with `auth` too (the first call replaces the default
    /// `/`).
    pub fn namespace(mut self, nsp: &str, auth: Option<&str>) -> Self {
        self.namespaces
            .push((nsp.to_string(), auth.map(str::to_string)));
        self
    }

    /// The auth of every namespace joined without one.
    pub fn auth(mut self, auth: &str) -> Self {
        self.auth = Some(auth.to_string());
        self
    }

    /// The transports.
    pub fn transports(mut self, t: Transports) -> Self {
        self.transports = t;
        self
    }
}

/// The parts of a URL a client needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `HOST:PORT`, for the TCP connections and the `Host` header.
    pub addr: String,
    /// The Engine.IO path (`/socket.io/` when the URL has none).
    pub path: String,
}

/// Parses `http://HOST[:PORT][/PATH]`, `ws://...` or `HOST:PORT[/PATH]`.
///
/// ```
/// use sockwire::socketio::blocking::parse_url;
/// let u = parse_url("http://example.com/chat/").unwrap();
/// assert_eq!((u.addr.as_str(), u.path.as_str()), ("example.com:80", "/chat/"));
/// assert_eq!(parse_url("127.0.0.1:3000").unwrap().path, "/socket.io/");
/// assert!(parse_url("https://example.com").is_err());
/// ```
pub fn parse_url(url: &str) -> Result<Url, String> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
        (r, Some(80))
    } else if let Some(r) = url.strip_prefix("ws://") {
        (r, Some(80))
    } else if url.starts_with("https://") || url.starts_with("wss://") {
        return Err(format!("{url}: TLS (https, wss) is not supported"));
    } else if url.contains("://") {
        return Err(format!("{url}: the scheme must be http or ws"));
    } else {
        (url, None)
    };
    if rest.contains(['?', '#']) {
        return Err(format!("{url}: a query or fragment is not supported"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.starts_with(':') || authority.contains('@') {
        return Err(format!("{url}: no HOST:PORT"));
    }
    // A port is there unless the authority ends with the host (an IPv6 host
    // ends with `]`).
    let port = authority
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && !p.contains(']'))
        .map(|(_, p)| p);
    let addr = match (port, default_port) {
        (Some(p), _) if p.parse::<u16>().is_err() => return Err(format!("{url}: bad port {p:?}")),
        (Some(_), _) => authority.to_string(),
        (None, Some(p)) => format!("{authority}:{p}"),
        (None, None) => return Err(format!("{url}: no port (HOST:PORT)")),
    };
    let path = if path.is_empty() || path == "/" {
        "/socket.io/".to_string()
    } else {
        path.to_string()
    };
    Ok(Url { addr, path })
}

/// An EVENT or ACK received, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedMessage {
    /// The namespace.
    pub nsp: String,
    /// For an event: the id to answer with [`Client::ack`]; for an ack: the
    /// id of the emit it answers.
    pub ack_id: Option<u64>,
    /// The event name (`None` for an ack, or a name with escapes).
    pub name: Option<String>,
    /// The arguments as raw JSON, comma separated (after the name).
    pub args: String,
    /// The whole JSON array as received.
    pub data: String,
    /// The binary attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

impl OwnedMessage {
    /// An event, copied out of the input.
    pub fn event(m: &Message<'_>) -> Self {
        Self::new(m, true)
    }

    /// An ack, copied out of the input (it has no name).
    pub fn ack(m: &Message<'_>) -> Self {
        Self::new(m, false)
    }

    fn new(m: &Message<'_>, is_event: bool) -> Self {
        OwnedMessage {
            nsp: m.nsp.to_string(),
            ack_id: m.ack_id,
            name: if is_event {
                m.name().map(str::to_string)
            } else {
                None
            },
            args: m.args_raw().to_string(),
            data: m.data.to_string(),
            attachments: m.attachments.into_iter().map(<[u8]>::to_vec).collect(),
        }
    }

    /// The arguments as separate raw JSON values.
    pub fn arg_list(&self) -> Vec<String> {
        let array = format!("[{}]", self.args);
        crate::json::elements(&array)
            .map(|a| a.trim().to_string())
            .collect()
    }
}

/// Everything the application learns, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server accepted `nsp`.
    Connect {
        /// The namespace.
        nsp: String,
        /// The socket id.
        sid: String,
        /// The previous session was restored (connection state recovery).
        recovered: bool,
    },
    /// The server refused `nsp`; `data` is its raw JSON.
    ConnectError {
        /// The namespace.
        nsp: String,
        /// The server's JSON.
        data: String,
    },
    /// An event from the server; answer with [`Client::ack`] if it has an
    /// ack id.
    Message(OwnedMessage),
    /// An ack for an emit of [`Client::emit_with_ack_id`].
    Ack(OwnedMessage),
    /// The server removed the client from `nsp`.
    Disconnect {
        /// The namespace.
        nsp: String,
    },
    /// `nsp` lost its connection; its emits are buffered until it
    /// reconnects (unless `reason` ends it).
    Disconnected {
        /// The namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// An Engine.IO session opened (`sid`, on `transport`).
    TransportOpen {
        /// The Engine.IO session id.
        sid: String,
        /// Its transport.
        transport: Transport,
    },
    /// The Engine.IO session moved to WebSocket.
    Upgraded,
    /// The upgrade to WebSocket failed; the session stays on polling.
    UpgradeFailed,
    /// The Engine.IO session ended.
    TransportClosed(ClientCloseReason),
    /// A reconnection attempt starts.
    Reconnecting {
        /// Its number, from 1.
        attempt: u32,
    },
    /// Reconnection gave up; the client stopped.
    ReconnectFailed,
    /// No ack arrived in time for this id.
    AckTimeout(u64),
    /// The server is not an Engine.IO/Socket.IO server (or another error no
    /// retry mends); the client stopped.
    Fatal(engineio::Error),
}

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client refused it (unknown namespace, buffer full, ...).
    Socket(super::Error),
    /// No ack within the timeout.
    AckTimeout,
    /// The client stopped (closed, gave up, fatal error).
    Stopped,
    /// The URL or the address.
    Io(io::Error),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Socket(e) => write!(f, "{e}"),
            Error::AckTimeout => f.write_str("no ack within the timeout"),
            Error::Stopped => f.write_str("the client stopped"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<super::Error> for Error {
    fn from(e: super::Error) -> Self {
        Error::Socket(e)
    }
}

type Reply<T> = SyncSender<Result<T, Error>>;

enum Command {
    Join(String, Option<String>, Reply<()>),
    Emit {
        nsp: String,
        name: String,
        args: String,
        attachments: Vec<Vec<u8>>,
        reply: EmitReply,
    },
    Volatile(String, String, String, Reply<bool>),
    Ack(String, u64, String, Vec<Vec<u8>>, Reply<()>),
    Leave(String, Reply<()>),
    Connected(String, Reply<bool>),
    Close,
}

/// What an emit answers, and whether it asks for an ack.
enum EmitReply {
    /// No ack: whether it was taken.
    Sent(Reply<()>),
    /// An ack, with this timeout: its id (the ack comes as an event).
    Id(Option<StdDuration>, Reply<u64>),
    /// An ack, with this timeout: the ack itself (`emit_with_ack` waits).
    Ack(StdDuration, Reply<OwnedMessage>),
}

enum Input {
    Connected(ConnId, TcpStream),
    ConnectFailed(ConnId),
    Data(ConnId, Vec<u8>),
    Eof(ConnId),
    Command(Command),
}

/// The Sans-IO client this runs.
type Sio = super::Client<Vec<u8>, StdEntropy, 8, 512>;

/// A blocking Socket.IO client (see the [module docs](self)). Dropping it
/// closes the connection.
#[derive(Debug)]
pub struct Client {
    tx: SyncSender<Input>,
    events: Receiver<Event>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Client {
    /// Connects to `url` (`http://HOST:PORT/PATH`; see [`parse_url`]; any
    /// address) and joins the namespaces of `options`. Returns at once:
    /// the outcome comes as [`Event::Connect`], [`Event::ConnectError`] or
    /// [`Event::Fatal`] from [`next_event`](Self::next_event); emits made
    /// meanwhile are buffered.
    pub fn connect(url: &str, options: Options) -> Result<Client, Error> {
        let url = parse_url(url)
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let addr = url
            .addr
            .to_socket_addrs()
            .map_err(Error::Io)?
            .next()
            .ok_or_else(|| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, "no address")))?;
        let mut engine = options.engine;
        // The path lives as long as the client: one small leak per client.
        engine.path = Box::leak(url.path.into_boxed_str());
        engine.max_payload = engine.max_payload.min(options.buffer_len);
        engine.upgrade = options.transports == Transports::Both;
        let start = match options.transports {
            Transports::WebSocket => Transport::WebSocket,
            _ => Transport::Polling,
        };
        let clock = StdClock::new();
        let len = options.buffer_len;
        let mut sio = Sio::new(
            clock.now(),
            engine,
            options.socket,
            start,
            &url.addr,
            super::ClientBuffers::with_len(len, |n| std::vec![0u8; n]),
            StdEntropy::new(),
        )
        .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
        let namespaces = if options.namespaces.is_empty() {
            std::vec![("/".to_string(), None)]
        } else {
            options.namespaces
        };
        for (nsp, auth) in &namespaces {
            let auth = auth.as_deref().or(options.auth.as_deref());
            sio.connect(nsp, auth)?;
        }
        let (tx, rx) = mpsc::sync_channel(256);
        let (etx, events) = mpsc::channel();
        let driver = Driver {
            sio,
            clock,
            addr,
            io_timeout: options.io_timeout,
            tx: tx.clone(),
            events: etx,
            conns: HashMap::new(),
            out: std::vec![0u8; len + 1024],
            waits: HashMap::new(),
            closing: false,
        };
        let thread = thread::Builder::new()
            .name("sockwire-sio-client".into())
            .spawn(move || driver.run(rx))
            .map_err(Error::Io)?;
        Ok(Client {
            tx,
            events,
            thread: Some(thread),
        })
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (rtx, rrx) = mpsc::sync_channel(1);
        self.tx
            .send(Input::Command(make(rtx)))
            .map_err(|_| Error::Stopped)?;
        rrx.recv().map_err(|_| Error::Stopped)?
    }

    /// Joins `nsp` with `auth` (now, or when the transport opens).
    pub fn join(&self, nsp: &str, auth: Option<&str>) -> Result<(), Error> {
        let (n, a) = (nsp.to_string(), auth.map(str::to_string));
        self.call(|r| Command::Join(n, a, r))
    }

    /// Leaves `nsp`.
    pub fn leave(&self, nsp: &str) -> Result<(), Error> {
        let n = nsp.to_string();
        self.call(|r| Command::Leave(n, r))
    }

    /// True while `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        let n = nsp.to_string();
        self.call(|r| Command::Connected(n, r)).unwrap_or(false)
    }

    /// Emits `name` with `args` (raw JSON values, comma separated) on
    /// `nsp`; buffered while disconnected.
    pub fn emit(&self, nsp: &str, name: &str, args: &str) -> Result<(), Error> {
        self.emit_binary(nsp, name, args, &[])
    }

    /// [`emit`](Self::emit) with binary attachments (the arguments hold
    /// their placeholders, `{"_placeholder":true,"num":N}`).
    pub fn emit_binary(
        &self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let (nsp, name, args) = (nsp.to_string(), name.to_string(), args.to_string());
        let attachments = attachments.iter().map(|a| a.to_vec()).collect();
        self.call(|r| Command::Emit {
            nsp,
            name,
            args,
            attachments,
            reply: EmitReply::Sent(r),
        })
    }

    /// Emits and waits for the ack (at most `timeout`); events received
    /// meanwhile stay queued for [`next_event`](Self::next_event).
    pub fn emit_with_ack(
        &self,
        nsp: &str,
        name: &str,
        args: &str,
        timeout: StdDuration,
    ) -> Result<OwnedMessage, Error> {
        let (nsp, name, args) = (nsp.to_string(), name.to_string(), args.to_string());
        self.call(|r| Command::Emit {
            nsp,
            name,
            args,
            attachments: Vec::new(),
            reply: EmitReply::Ack(timeout, r),
        })
    }

    /// Emits asking for an ack without waiting: returns its id; the ack
    /// comes as [`Event::Ack`], or [`Event::AckTimeout`] after `timeout`.
    pub fn emit_with_ack_id(
        &self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<StdDuration>,
    ) -> Result<u64, Error> {
        let (nsp, name, args) = (nsp.to_string(), name.to_string(), args.to_string());
        let attachments = attachments.iter().map(|a| a.to_vec()).collect();
        self.call(|r| Command::Emit {
            nsp,
            name,
            args,
            attachments,
            reply: EmitReply::Id(timeout, r),
        })
    }

    /// A volatile emit: sent now if connected, else dropped; returns whether
    /// it was sent.
    pub fn emit_volatile(&self, nsp: &str, name: &str, args: &str) -> Result<bool, Error> {
        let (n, e, a) = (nsp.to_string(), name.to_string(), args.to_string());
        self.call(|r| Command::Volatile(n, e, a, r))
    }

    /// Answers the server's event `ack_id` on `nsp`.
    pub fn ack(
        &self,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let (n, a) = (nsp.to_string(), args.to_string());
        let attachments = attachments.iter().map(|a| a.to_vec()).collect();
        self.call(|r| Command::Ack(n, ack_id, a, attachments, r))
    }

    /// The next event, waiting at most `timeout`; `None` on timeout or once
    /// the client has stopped and every event was taken.
    pub fn next_event(&self, timeout: StdDuration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Closes: what is buffered and can go out does, then the session
    /// closes (waiting at most a few seconds).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Input::Command(Command::Close));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// The background thread's state.
struct Driver {
    sio: Sio,
    clock: StdClock,
    addr: SocketAddr,
    io_timeout: StdDuration,
    tx: SyncSender<Input>,
    events: Sender<Event>,
    conns: HashMap<ConnId, Conn>,
    out: Vec<u8>,
    /// `emit_with_ack` callers waiting, by ack id.
    waits: HashMap<u64, Reply<OwnedMessage>>,
    closing: bool,
}

impl Driver {
    fn run(mut self, rx: Receiver<Input>) {
        let mut deadline_close: Option<std::time::Instant> = None;
        loop {
            self.drain();
            if self.sio.is_stopped() && self.conns.is_empty() {
                break;
            }
            if self.closing {
                let at = *deadline_close
                    .get_or_insert_with(|| std::time::Instant::now() + StdDuration::from_secs(3));
                if std::time::Instant::now() >= at {
                    break;
                }
            }
            let now = self.clock.now();
            let wait = match self.sio.poll_timeout() {
                Some(t) => StdDuration::from_millis(t.saturating_duration_since(now).as_millis()),
                None => StdDuration::from_secs(3600),
            };
            let wait = if self.closing {
                wait.min(StdDuration::from_millis(100))
            } else {
                wait
            };
            match rx.recv_timeout(wait) {
                Ok(input) => self.on_input(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = self.clock.now();
            if self.sio.poll_timeout().is_some_and(|t| now >= t) {
                self.sio.handle_timeout(now);
            }
        }
        for c in self.conns.values() {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }

    fn emit_event(&mut self, e: Event) {
        let _ = self.events.send(e);
    }

    fn on_input(&mut self, input: Input) {
        let now = self.clock.now();
        match input {
            Input::Connected(conn, stream) => {
                let reader = stream.try_clone();
                match reader {
                    Ok(mut r) => {
                        let tx = self.tx.clone();
                        let _ = thread::Builder::new()
                            .name("sockwire-sio-read".into())
                            .spawn(move || {
                                let mut buf = std::vec![0u8; 64 * 1024];
                                loop {
                                    match r.read(&mut buf) {
                                        Ok(0) | Err(_) => {
                                            let _ = tx.send(Input::Eof(conn));
                                            return;
                                        }
                                        Ok(n) => {
                                            if tx
                                                .send(Input::Data(conn, buf[..n].to_vec()))
                                                .is_err()
                                            {
                                                return;
                                            }
                                        }
                                    }
                                }
                            });
                        let _ = stream.set_write_timeout(Some(self.io_timeout));
                        let _ = stream.set_nodelay(true);
                        self.conns.insert(
                            conn,
                            Conn {
                                stream,
                                buf: Vec::new(),
                            },
                        );
                        self.sio.handle_connected(now, conn);
                    }
                    Err(_) => self.sio.handle_closed(now, conn),
                }
            }
            Input::ConnectFailed(conn) => self.sio.handle_closed(now, conn),
            Input::Eof(conn) => {
                if self.conns.remove(&conn).is_some() {
                    self.sio.handle_closed(now, conn);
                }
            }
            Input::Data(conn, bytes) => self.on_data(conn, bytes),
            Input::Command(c) => self.on_command(c),
        }
    }

    fn on_data(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.buf.extend_from_slice(&bytes);
        let mut buf = core::mem::take(&mut c.buf);
        let mut start = 0;
        loop {
            let now = self.clock.now();
            let r = match self.sio.handle_input(now, conn, &mut buf[start..]) {
                Ok(r) => r,
                Err(_) => {
                    start = buf.len();
                    break;
                }
            };
            start += r.consumed;
            let progressed = r.progressed();
            if let Some(ev) = r.message {
                let ev = own(ev);
                self.deliver(ev);
            }
            if !progressed || start >= buf.len() {
                break;
            }
            // Events and output of this input go out before the next one.
            self.drain();
        }
        buf.drain(..start);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.buf = buf;
        }
    }

    fn deliver(&mut self, ev: Event) {
        if let Event::Ack(m) = &ev
            && let Some(id) = m.ack_id
            && let Some(w) = self.waits.remove(&id)
        {
            let _ = w.send(Ok(m.clone()));
            return;
        }
        self.emit_event(ev);
    }

    fn on_command(&mut self, c: Command) {
        let now = self.clock.now();
        match c {
            Command::Join(n, a, r) => {
                let _ = r.send(self.sio.connect(&n, a.as_deref()).map_err(Error::from));
            }
            Command::Leave(n, r) => {
                let _ = r.send(self.sio.disconnect(&n).map_err(Error::from));
            }
            Command::Connected(n, r) => {
                let _ = r.send(Ok(self.sio.is_connected(&n)));
            }
            Command::Emit {
                nsp,
                name,
                args,
                attachments,
                reply,
            } => {
                let parts: Vec<&[u8]> = attachments.iter().map(Vec::as_slice).collect();
                let ms = |t: StdDuration| Duration::from_millis(t.as_millis() as u64);
                let mut with_ack = |timeout: Option<StdDuration>| {
                    self.sio
                        .emit_with_ack(now, &nsp, &name, &args, &parts, timeout.map(ms))
                        .map_err(Error::from)
                };
                match reply {
                    EmitReply::Sent(r) => {
                        let res = self.sio.emit(&nsp, &name, &args, &parts);
                        let _ = r.send(res.map_err(Error::from));
                    }
                    EmitReply::Id(timeout, r) => {
                        let _ = r.send(with_ack(timeout));
                    }
                    EmitReply::Ack(timeout, r) => match with_ack(Some(timeout)) {
                        Ok(id) => {
                            self.waits.insert(id, r);
                        }
                        Err(e) => {
                            let _ = r.send(Err(e));
                        }
                    },
                }
            }
            Command::Volatile(n, e, a, r) => {
                let _ = r.send(self.sio.emit_volatile(&n, &e, &a).map_err(Error::from));
            }
            Command::Ack(n, id, a, att, r) => {
                let parts: Vec<&[u8]> = att.iter().map(Vec::as_slice).collect();
                let _ = r.send(self.sio.ack(&n, id, &a, &parts).map_err(Error::from));
            }
            Command::Close => {
                self.closing = true;
                self.sio.close(now);
            }
        }
    }

    /// Writes what the client transmits, opens the connections it asks
    /// for, hands its notices to the application.
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Ok(Some(t)) = self.sio.poll_transmit(&mut self.out) {
                progressed = true;
                let now = self.clock.now();
                let Some(c) = self.conns.get_mut(&t.conn) else {
                    continue;
                };
                if t.len > 0 && c.stream.write_all(&self.out[..t.len]).is_err() {
                    let _ = c.stream.shutdown(Shutdown::Both);
                    self.conns.remove(&t.conn);
                    self.sio.handle_closed(now, t.conn);
                    continue;
                }
                if t.close_after {
                    let _ = c.stream.shutdown(Shutdown::Both);
                    self.conns.remove(&t.conn);
                }
            }
            while let Some(n) = self.sio.poll_event() {
                progressed = true;
                self.on_notice(n);
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_notice(&mut self, n: ClientNotice) {
        let ev = match n {
            ClientNotice::OpenConnection { conn, .. } => {
                let (tx, addr, timeout) = (self.tx.clone(), self.addr, self.io_timeout);
                let _ = thread::Builder::new()
                    .name("sockwire-sio-connect".into())
                    .spawn(move || {
                        let _ = match TcpStream::connect_timeout(&addr, timeout) {
                            Ok(s) => tx.send(Input::Connected(conn, s)),
                            Err(_) => tx.send(Input::ConnectFailed(conn)),
                        };
                    });
                return;
            }
            ClientNotice::Transport(engineio::ClientEvent::Open) => {
                let (sid, transport) = self
                    .sio
                    .engine()
                    .session()
                    .map(|s| (s.sid().to_string(), s.transport()))
                    .unwrap_or((String::new(), Transport::Polling));
                Event::TransportOpen { sid, transport }
            }
            ClientNotice::Transport(engineio::ClientEvent::Upgraded) => Event::Upgraded,
            ClientNotice::Transport(engineio::ClientEvent::UpgradeFailed) => Event::UpgradeFailed,
            ClientNotice::Transport(engineio::ClientEvent::Closed(r)) => Event::TransportClosed(r),
            ClientNotice::Transport(_) => return,
            ClientNotice::Reconnect { attempt } => Event::Reconnecting { attempt },
            ClientNotice::ReconnectFailed => Event::ReconnectFailed,
            ClientNotice::Disconnected { nsp, reason } => Event::Disconnected {
                nsp: nsp.to_string(),
                reason,
            },
            ClientNotice::AckTimeout(id) => {
                if let Some(w) = self.waits.remove(&id) {
                    let _ = w.send(Err(Error::AckTimeout));
                    return;
                }
                Event::AckTimeout(id)
            }
            ClientNotice::Fatal(e) => Event::Fatal(e),
        };
        if self.sio.is_stopped() {
            // Nobody will answer a waiting emit any more.
            for (_, w) in self.waits.drain() {
                let _ = w.send(Err(Error::Stopped));
            }
        }
        self.emit_event(ev);
    }
}

fn own(e: ClientEvent<'_>) -> Event {
    match e {
        ClientEvent::Connect {
            nsp,
            sid,
            recovered,
        } => Event::Connect {
            nsp: nsp.to_string(),
            sid: sid.to_string(),
            recovered,
        },
        ClientEvent::ConnectError { nsp, data } => Event::ConnectError {
            nsp: nsp.to_string(),
            data: data.to_string(),
        },
        ClientEvent::Event(m) => Event::Message(OwnedMessage::event(&m)),
        ClientEvent::Ack(m) => Event::Ack(OwnedMessage::ack(&m)),
        ClientEvent::Disconnect { nsp } => Event::Disconnect {
            nsp: nsp.to_string(),
        },
    }
}
