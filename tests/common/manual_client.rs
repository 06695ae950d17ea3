//! A test driver of the per-session client machines (`engineio::ClientSession`
//! and `socketio::ClientCore`) over `std::net`, with every connection run by
//! hand: what `examples/sio_client.rs` was before the crate had its own
//! client endpoint (`socketio::Client`, `socketio::blocking::Client`). The
//! interop tests that look at the Engine.IO layer underneath (transports,
//! traces, upgrade steps) keep using it.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use sockwire::engineio::{self, ClientCloseReason, Data, Request};
use sockwire::entropy::{Entropy, SplitMix64, StdEntropy};
use sockwire::http::{self, HeadParser, Limits, Version};
use sockwire::socketio::{self, ClientEvent, ClientNotice, DisconnectReason};
use sockwire::time::{Duration, Instant, StdClock};
use sockwire::ws::{self, ClientHandshake, ClientRequest};

/// Bytes read from the socket per `read` call (and the most kept unread).
const READ_BUF: usize = 64 * 1024;
/// Bytes written per `poll_transmit` call.
const WRITE_BUF: usize = 64 * 1024;
/// The largest Engine.IO message accepted (the reference server's
/// maxHttpBufferSize).
const MAX_PAYLOAD: usize = 1_000_000;
/// Storage for messages waiting to be sent (Engine.IO queue, Socket.IO send
/// buffer) and for messages being assembled.
const STORAGE: usize = 2 * 1024 * 1024;
/// Bound on the TCP connect and the opening handshake.
const OPEN_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Bound on one blocking write.
const WRITE_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The longest a single read waits, so the caller gets control back often.
const MAX_WAIT: StdDuration = StdDuration::from_millis(20);
/// The most unconsumed input one connection holds (a long-polling answer
/// carries several messages).
const MAX_BUF: usize = 16 * 1024 * 1024;
/// Room for a POST's head in front of its body: the body of a request buffer
/// of `MAX_PAYLOAD + REQUEST_HEAD_ROOM` bytes stays within `MAX_PAYLOAD`, the
/// server's maxHttpBufferSize.
const REQUEST_HEAD_ROOM: usize = 512;

/// The Engine.IO client of one transport.
pub type Eio = engineio::ClientSession<Vec<u8>, StdEntropy>;

/// The Socket.IO client: up to 8 namespaces, 16 acks outstanding.
pub type Sio = socketio::ClientCore<Vec<u8>, 8, 16>;

fn other(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Resolves `addr` (any host the user gives).
pub fn resolve_addr(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address"))
}

// ---------------------------------------------------------------------------
// One transport: WebSocket, or HTTP long-polling with the upgrade
// ---------------------------------------------------------------------------

/// How a [`Transport`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// One WebSocket from the start (`transports: ["websocket"]`).
    WebSocket,
    /// HTTP long-polling, upgraded to WebSocket when the server offers it and
    /// the upgrade is on (`transports: ["polling", "websocket"]`, the
    /// reference client's default).
    Polling,
}

/// A TCP connection and the bytes received on it not yet consumed.
struct Conn {
    tcp: TcpStream,
    /// `buf[..len]` is unconsumed input; the buffer grows up to `MAX_BUF`.
    buf: Vec<u8>,
    len: usize,
    /// The stream ended (or failed): nothing more is read or written.
    eof: bool,
    /// The end was reported to the Engine.IO client (WebSocket only).
    eof_handled: bool,
}

impl Conn {
    fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let tcp = TcpStream::connect_timeout(&addr, OPEN_TIMEOUT)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Conn {
            tcp,
            buf: vec![0u8; READ_BUF],
            len: 0,
            eof: false,
            eof_handled: false,
        })
    }

    /// Reads once: waiting up to `wait`, or not at all when `wait` is
    /// `None`. Returns the bytes read; an end or an error sets `eof`.
    fn fill(&mut self, wait: Option<StdDuration>) -> usize {
        if self.eof {
            return 0;
        }
        if self.len == self.buf.len() {
            if self.buf.len() >= MAX_BUF {
                // More unconsumed input than anything this file accepts.
                self.eof = true;
                return 0;
            }
            self.buf.resize((self.buf.len() * 2).min(MAX_BUF), 0);
        }
        let set = match wait {
            Some(w) => self
                .tcp
                .set_read_timeout(Some(w.max(StdDuration::from_millis(1)))),
            None => self.tcp.set_nonblocking(true),
        };
        if set.is_err() {
            self.eof = true;
            return 0;
        }
        let r = self.tcp.read(&mut self.buf[self.len..]);
        if wait.is_none() && self.tcp.set_nonblocking(false).is_err() {
            self.eof = true;
        }
        match r {
            Ok(0) => {
                self.eof = true;
                0
            }
            Ok(n) => {
                self.len += n;
                n
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(_) => {
                // Reset: the same as the end of the stream.
                self.eof = true;
                0
            }
        }
    }

    /// Makes room for `total` unconsumed bytes; false when over `MAX_BUF`.
    fn reserve(&mut self, total: usize) -> bool {
        if total > MAX_BUF {
            return false;
        }
        if self.buf.len() < total {
            self.buf.resize(total, 0);
        }
        true
    }

    /// Drops the first `n` unconsumed bytes.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

/// A WebSocket whose opening handshake is running.
///
/// `ws::ClientHandshake` borrows its request, so this keeps the request
/// target and the seed of the `Sec-WebSocket-Key` and rebuilds the same
/// handshake for every look at the response.
struct PendingWs {
    conn: Conn,
    target: String,
    seed: u64,
    deadline: StdInstant,
    /// The permessage-deflate offer, if the Engine.IO client makes one.
    offer: Option<ws::deflate::DeflateConfig>,
}

impl PendingWs {
    /// Connects to `addr` and writes the handshake request for `target`;
    /// returns the bytes written too.
    fn start(
        addr: SocketAddr,
        host: &str,
        target: &str,
        entropy: &mut StdEntropy,
        wbuf: &mut [u8],
        offer: Option<ws::deflate::DeflateConfig>,
    ) -> io::Result<(PendingWs, usize)> {
        let mut seed = [0u8; 8];
        entropy.fill_bytes(&mut seed);
        let mut p = PendingWs {
            conn: Conn::connect(addr)?,
            target: target.to_owned(),
            seed: u64::from_le_bytes(seed),
            deadline: StdInstant::now() + OPEN_TIMEOUT,
            offer,
        };
        let n = p
            .handshake(host)
            .write_request(wbuf)
            .map_err(|e| other("handshake request", e))?;
        p.conn.tcp.write_all(&wbuf[..n])?;
        Ok((p, n))
    }

    fn handshake<'a>(&'a self, host: &'a str) -> ClientHandshake<'a> {
        let hs = ClientHandshake::new(
            ClientRequest::new(host, &self.target),
            &mut SplitMix64::new(self.seed),
        );
        match self.offer {
            Some(offer) => hs.offer_deflate(offer),
            None => hs,
        }
    }

    /// Reads (waiting up to `wait`, or not at all) and looks at the
    /// response: `Ok(Some((head_len, deflate)))` once the server's valid
    /// `101` arrived (the bytes after the head are frames; `deflate`: the
    /// server accepted the permessage-deflate offer with these parameters),
    /// `Ok(None)` while incomplete.
    fn poll(&mut self, host: &str, wait: Option<StdDuration>) -> io::Result<Option<Handshaken>> {
        if StdInstant::now() >= self.deadline {
            return Err(io::Error::new(ErrorKind::TimedOut, "handshake timed out"));
        }
        self.conn.fill(wait);
        // The default limits (8 KiB head) are below READ_BUF: a response
        // that does not fit is an error before the buffer is full.
        match self
            .handshake(host)
            .handle_input(&self.conn.buf[..self.conn.len])
        {
            Ok(Some(res)) => Ok(Some((res.head_len(), res.deflate()))),
            Ok(None) if self.conn.eof => Err(ErrorKind::UnexpectedEof.into()),
            Ok(None) => Ok(None),
            Err(e) => Err(other("handshake response", e)),
        }
    }
}

/// The length of a `101` head and the permessage-deflate parameters it
/// accepted.
type Handshaken = (usize, Option<ws::deflate::Params>);

/// One of the two long-polling connections (the GET's or the POST's): one
/// request at a time, kept alive between them.
#[derive(Default)]
struct HttpConn {
    conn: Option<Conn>,
    head: Option<HeadParser>,
    /// The request waiting for its answer.
    in_flight: Option<Request>,
}

/// A complete answer on an [`HttpConn`].
struct Answer {
    status: u16,
    head_len: usize,
    body_len: usize,
    /// The server closes the connection after it.
    close: bool,
}

impl HttpConn {
    /// Sends one request, on the kept-alive connection if the server has not
    /// closed it, else on a new one (then returns true).
    fn send(&mut self, addr: SocketAddr, bytes: &[u8]) -> io::Result<bool> {
        if let Some(c) = self.conn.as_mut() {
            // An idle connection the server closed (its keep-alive timeout)
            // reads as ended; stray bytes would confuse the next answer.
            c.fill(None);
            if c.eof || c.len > 0 {
                self.conn = None;
            }
        }
        let fresh = self.conn.is_none();
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self.conn.insert(Conn::connect(addr)?),
        };
        if let Err(e) = conn.tcp.write_all(bytes) {
            self.conn = None;
            return Err(e);
        }
        self.head = Some(HeadParser::new(Limits::DEFAULT));
        Ok(fresh)
    }

    /// Looks for the complete answer (head, then `Content-Length` bytes of
    /// body) in what arrived. `Ok(None)` while incomplete.
    fn answer(&mut self) -> Result<Option<Answer>, String> {
        let (Some(conn), Some(head)) = (self.conn.as_mut(), self.head.as_mut()) else {
            return Ok(None);
        };
        let Some(head_len) = head
            .advance(&conn.buf[..conn.len])
            .map_err(|e| format!("response head: {e}"))?
        else {
            return Ok(None);
        };
        let res = http::Response::parse(&conn.buf[..head_len], head.limits())
            .map_err(|e| format!("response head: {e}"))?;
        let h = &res.headers;
        let mut close = h.has_token("connection", "close")
            || (res.version == Version::Http10 && !h.has_token("connection", "keep-alive"));
        let length = h.get("content-length").map(|v| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        });
        let body_len = match (length, h.get("transfer-encoding")) {
            (Some(Some(n)), None) => n,
            (Some(None), _) => return Err("a bad Content-Length".into()),
            // An error answer (engine.io's JSON ones are short): its status
            // is what counts; the connection is not reused.
            _ if res.status != 200 => {
                close = true;
                0
            }
            _ => return Err("an answer without Content-Length (unsupported)".into()),
        };
        let status = res.status;
        if !conn.reserve(head_len + body_len) {
            return Err(format!("a {body_len}-byte body is too large"));
        }
        if conn.len < head_len + body_len {
            return Ok(None);
        }
        Ok(Some(Answer {
            status,
            head_len,
            body_len,
            close,
        }))
    }

    /// The answer was handled: ready for the next request.
    fn done(&mut self, a: &Answer) {
        self.in_flight = None;
        self.head = None;
        match self.conn.as_mut() {
            Some(c) if !a.close => c.consume(a.head_len + a.body_len),
            _ => self.conn = None,
        }
    }
}

/// At most `max` bytes of `bytes`, lossily as text (for the HTTP trace).
fn excerpt(bytes: &[u8], max: usize) -> String {
    let cut = bytes.len().min(max);
    let mut s = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    if cut < bytes.len() {
        s.push_str(&format!("...<{} bytes>", bytes.len()));
    }
    s
}

/// One Engine.IO session: on one WebSocket, or on long-polling (two HTTP
/// connections, then the upgrade's WebSocket).
pub struct Transport {
    /// The Engine.IO client (drive it through the methods below).
    pub eio: Eio,
    addr: SocketAddr,
    /// The `Host` header of every request.
    host: String,
    /// The WebSocket: the session's, or the upgrade's once its handshake
    /// succeeded.
    ws: Option<Conn>,
    /// The upgrade's WebSocket while its handshake runs.
    upgrading: Option<PendingWs>,
    get: HttpConn,
    post: HttpConn,
    /// Polling requests are written here (a POST body stays within the
    /// server's maxHttpBufferSize).
    req_buf: Vec<u8>,
    /// The upgrade's handshake key.
    entropy: StdEntropy,
    ws_asm: ws::Assembler<Vec<u8>>,
    wbuf: Vec<u8>,
    /// The first input error, if any (the session, or the upgrade probe,
    /// ended because of it).
    pub error: Option<engineio::Error>,
    /// The first `poll_transmit` or `poll_request` error, if any (nothing
    /// more is written).
    pub transmit_error: Option<engineio::Error>,
    /// Why the upgrade's WebSocket could not be opened, or a polling request
    /// failed, if one did.
    pub io_error: Option<String>,
    /// Bytes received and sent on this transport's connections.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// HTTP connections opened (keep-alive: 2 for a whole session, unless
    /// the server closed one).
    pub http_connects: usize,
    /// When `Some`, every polling request and answer is logged here:
    /// `-> <request line> | <body excerpt>` and
    /// `<- <status> <Get(n)|Post(n)> | <body excerpt>`.
    pub http_trace: Option<Vec<String>>,
}

impl Transport {
    /// Connects to `addr`, runs the WebSocket opening handshake for
    /// `config.path` and starts an Engine.IO client at `now`. Bounded by
    /// `OPEN_TIMEOUT`.
    pub fn open(
        addr: SocketAddr,
        config: engineio::ClientConfig,
        now: Instant,
    ) -> io::Result<Self> {
        let host = addr.to_string();
        let mut target = [0u8; 512];
        let target = engineio::websocket_target(config.path, &mut target)
            .map_err(|e| other("request target", e))?;
        let mut entropy = StdEntropy::new();
        let mut wbuf = vec![0u8; WRITE_BUF];
        let offer = config.per_message_deflate.map(|d| d.config);
        let (mut p, n) = PendingWs::start(addr, &host, target, &mut entropy, &mut wbuf, offer)?;
        let (head_len, deflate) = loop {
            let left = p.deadline.saturating_duration_since(StdInstant::now());
            if let Some(done) = p.poll(&host, Some(left))? {
                break done;
            }
        };
        // Frames may have arrived with the head: they stay in the buffer.
        p.conn.consume(head_len);
        let mut eio = engineio::ClientSession::new(now, config, vec![0u8; STORAGE], entropy);
        if let Some(params) = deflate {
            eio.enable_deflate(params)
                .map_err(|e| other("permessage-deflate", e))?;
        }
        let mut t = Self::with(eio, addr, host, wbuf);
        t.bytes_in = (p.conn.len + head_len) as u64;
        t.bytes_out = n as u64;
        t.ws = Some(p.conn);
        Ok(t)
    }

    /// Starts an Engine.IO session on long-polling at `now`: connects the GET
    /// connection to `addr` and sends the handshake GET. The session
    /// upgrades to WebSocket when the server offers it and `config.upgrade`
    /// is on.
    pub fn polling(
        addr: SocketAddr,
        config: engineio::ClientConfig,
        now: Instant,
    ) -> io::Result<Self> {
        let eio =
            engineio::ClientSession::polling(now, config, vec![0u8; STORAGE], StdEntropy::new());
        let mut t = Self::with(eio, addr, addr.to_string(), vec![0u8; WRITE_BUF]);
        // A refused connection fails here, like a refused WebSocket.
        t.get.conn = Some(Conn::connect(addr)?);
        t.http_connects = 1;
        t.write_out(now);
        Ok(t)
    }

    /// [`open`](Self::open) or [`polling`](Self::polling).
    pub fn start(
        addr: SocketAddr,
        config: engineio::ClientConfig,
        kind: TransportKind,
        now: Instant,
    ) -> io::Result<Self> {
        match kind {
            TransportKind::WebSocket => Self::open(addr, config, now),
            TransportKind::Polling => Self::polling(addr, config, now),
        }
    }

    fn with(eio: Eio, addr: SocketAddr, host: String, wbuf: Vec<u8>) -> Self {
        Transport {
            eio,
            addr,
            host,
            ws: None,
            upgrading: None,
            get: HttpConn::default(),
            post: HttpConn::default(),
            req_buf: Vec::new(),
            entropy: StdEntropy::new(),
            ws_asm: ws::Assembler::new(vec![0u8; STORAGE]),
            wbuf,
            error: None,
            transmit_error: None,
            io_error: None,
            bytes_in: 0,
            bytes_out: 0,
            http_connects: 0,
            http_trace: None,
        }
    }

    /// The Engine.IO client settings for `path` with this file's limits.
    pub fn config(path: &'static str) -> engineio::ClientConfig {
        engineio::ClientConfig {
            path,
            max_payload: MAX_PAYLOAD,
            ..engineio::ClientConfig::DEFAULT
        }
    }

    /// How many HTTP connections are open (0 on WebSocket, and once the
    /// upgrade is done).
    pub fn http_connections(&self) -> usize {
        usize::from(self.get.conn.is_some()) + usize::from(self.post.conn.is_some())
    }

    /// True while the upgrade's WebSocket handshake runs.
    pub fn is_upgrading(&self) -> bool {
        self.upgrading.is_some()
    }

    /// Writes everything the Engine.IO client has to send (WebSocket bytes,
    /// polling requests) and starts the upgrade when it is wanted. A write
    /// error ends that connection; a `poll_transmit`/`poll_request` error is
    /// kept in `transmit_error` (and logged once).
    pub fn write_out(&mut self, now: Instant) {
        self.write_ws(now);
        self.write_requests(now);
        self.start_upgrade(now);
        self.retire();
    }

    fn transmit_failed(&mut self, what: &str, e: engineio::Error) {
        if self.transmit_error.is_none() {
            eprintln!("sio_client: {what} failed: {e} ({e:?})");
            self.transmit_error = Some(e);
        }
    }

    fn write_ws(&mut self, now: Instant) {
        loop {
            let n = match self.eio.poll_transmit(&mut self.wbuf) {
                Ok(n) => n,
                Err(e) => return self.transmit_failed("poll_transmit", e),
            };
            if n == 0 {
                return;
            }
            let Some(ws) = self.ws.as_mut().filter(|w| !w.eof) else {
                // Nobody is listening any more: drop the bytes.
                continue;
            };
            if ws.tcp.write_all(&self.wbuf[..n]).is_err() {
                ws.eof = true;
                self.ws_ended(now);
                continue;
            }
            self.bytes_out += n as u64;
        }
    }

    /// The WebSocket's stream ended: tell the Engine.IO client once.
    fn ws_ended(&mut self, now: Instant) {
        if let Some(ws) = self.ws.as_mut().filter(|w| w.eof && !w.eof_handled) {
            ws.eof_handled = true;
            self.eio.handle_eof(now);
        }
    }

    fn write_requests(&mut self, now: Instant) {
        if self.req_buf.is_empty() && self.eio.transport() == engineio::Transport::Polling {
            self.req_buf = vec![0u8; MAX_PAYLOAD + REQUEST_HEAD_ROOM];
        }
        loop {
            let req = match self.eio.poll_request(&self.host, &mut self.req_buf) {
                Ok(Some(req)) => req,
                Ok(None) => return,
                Err(e) => return self.transmit_failed("poll_request", e),
            };
            let (n, http) = match req {
                Request::Get(n) => (n, &mut self.get),
                Request::Post(n) => (n, &mut self.post),
            };
            match http.send(self.addr, &self.req_buf[..n]) {
                Ok(fresh) => {
                    self.http_connects += usize::from(fresh);
                    http.in_flight = Some(req);
                    self.bytes_out += n as u64;
                    let bytes = &self.req_buf[..n];
                    if let Some(t) = self.http_trace.as_mut() {
                        let line_end = bytes.iter().position(|&b| b == b'\r').unwrap_or(0);
                        let body = bytes
                            .windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .map_or(n, |p| p + 4);
                        t.push(format!(
                            "-> {} | {}",
                            excerpt(&bytes[..line_end], 200),
                            excerpt(&bytes[body..], 300)
                        ));
                    }
                }
                Err(e) => {
                    self.io_error.get_or_insert(format!("{req:?}: {e}"));
                    self.eio.handle_request_failed(now, req);
                }
            }
        }
    }

    /// Opens the upgrade's connection and writes its handshake request.
    fn start_upgrade(&mut self, now: Instant) {
        if !self.eio.wants_upgrade() || self.upgrading.is_some() || self.ws.is_some() {
            return;
        }
        let mut target = [0u8; 512];
        let started = match self.eio.upgrade_target(&mut target) {
            Ok(target) => PendingWs::start(
                self.addr,
                &self.host,
                target,
                &mut self.entropy,
                &mut self.wbuf,
                self.eio.deflate_offer(),
            ),
            Err(e) => Err(other("upgrade target", e)),
        };
        match started {
            Ok((p, n)) => {
                self.bytes_out += n as u64;
                self.upgrading = Some(p);
            }
            Err(e) => {
                self.io_error.get_or_insert(format!("upgrade: {e}"));
                self.eio.handle_upgrade_failed(now);
            }
        }
    }

    /// Drops the connections nobody needs any more: the HTTP ones once the
    /// session moved to WebSocket, a probe's WebSocket that closed.
    fn retire(&mut self) {
        if self.eio.transport() == engineio::Transport::WebSocket {
            self.get = HttpConn::default();
            self.post = HttpConn::default();
            self.req_buf = Vec::new();
        } else if self.ws.is_some() && !self.eio.has_websocket() {
            self.ws = None;
        }
    }

    /// Feeds the buffered input to the Engine.IO client; every message goes
    /// to `on_message` with the client (to answer on it). The output is
    /// written after every step.
    fn process(&mut self, now: Instant, on_message: &mut impl FnMut(&mut Eio, Data<'_>)) {
        self.process_ws(now, on_message);
        self.process_upgrade(now);
        self.process_http(Side::Get, now, on_message);
        self.process_http(Side::Post, now, on_message);
        self.write_out(now);
    }

    fn process_ws(&mut self, now: Instant, on_message: &mut impl FnMut(&mut Eio, Data<'_>)) {
        let mut off = 0;
        let mut stalls = 0;
        while let Some(ws) = self.ws.as_mut().filter(|w| off < w.len) {
            let r = self
                .eio
                .handle_input(now, &mut ws.buf[off..ws.len], &mut self.ws_asm);
            match r {
                Ok(input) => {
                    off += input.consumed;
                    let progressed = input.consumed > 0 || input.message.is_some() || input.again;
                    if let Some(data) = input.message {
                        on_message(&mut self.eio, data);
                    }
                    // A pending pong holds back the next control frame:
                    // drain the output before feeding more.
                    self.write_out(now);
                    if progressed {
                        stalls = 0;
                    } else {
                        stalls += 1;
                        if stalls > 1 {
                            break;
                        }
                    }
                }
                Err(e) => {
                    // The session (or the probe) is over; the close frame
                    // goes out, the rest of the input is noise.
                    self.error.get_or_insert(e);
                    off = ws.len;
                    self.write_out(now);
                }
            }
        }
        if let Some(ws) = self.ws.as_mut() {
            ws.consume(off.min(ws.len));
        }
        self.ws_ended(now);
    }

    /// The upgrade's handshake: done, failed or still waiting.
    fn process_upgrade(&mut self, now: Instant) {
        let Some(p) = self.upgrading.as_mut() else {
            return;
        };
        let before = p.conn.len;
        let polled = p.poll(&self.host, None);
        self.bytes_in += (p.conn.len - before) as u64;
        match polled {
            Ok(None) => {}
            Ok(Some((head_len, deflate))) => {
                let mut p = self.upgrading.take().unwrap();
                p.conn.consume(head_len);
                if self.eio.handle_upgrade_open(now).is_ok() {
                    if let Some(params) = deflate {
                        // The upgrade's WebSocket was just handed over.
                        let _ = self.eio.enable_deflate(params);
                    }
                    self.ws = Some(p.conn);
                }
                // Else the session ended meanwhile: the connection is dropped.
            }
            Err(e) => {
                self.upgrading = None;
                self.io_error.get_or_insert(format!("upgrade: {e}"));
                self.eio.handle_upgrade_failed(now);
            }
        }
    }

    fn process_http(
        &mut self,
        side: Side,
        now: Instant,
        on_message: &mut impl FnMut(&mut Eio, Data<'_>),
    ) {
        let http = match side {
            Side::Get => &mut self.get,
            Side::Post => &mut self.post,
        };
        let Some(req) = http.in_flight else {
            // An idle connection that ended (or said something) is dropped.
            if http.conn.as_ref().is_some_and(|c| c.eof || c.len > 0) {
                http.conn = None;
            }
            return;
        };
        let answer = match http.answer() {
            Ok(None) if http.conn.as_ref().is_some_and(|c| !c.eof) => return,
            Ok(None) => Err("the connection ended before the answer".to_owned()),
            other => other,
        };
        let a = match answer {
            Ok(Some(a)) => a,
            Ok(None) => unreachable!(),
            Err(e) => {
                *http = HttpConn::default();
                self.io_error.get_or_insert(format!("{req:?}: {e}"));
                self.eio.handle_request_failed(now, req);
                return;
            }
        };
        let conn = http.conn.as_mut().expect("an answer came on a connection");
        let body = &mut conn.buf[a.head_len..a.head_len + a.body_len];
        if let Some(t) = self.http_trace.as_mut() {
            t.push(format!("<- {} {req:?} | {}", a.status, excerpt(body, 300)));
        }
        match req {
            Request::Get(_) => match self.eio.handle_get_response(now, a.status, body) {
                Ok(mut payload) => loop {
                    match self.eio.read_message(now, &mut payload) {
                        Ok(Some(data)) => on_message(&mut self.eio, data),
                        Ok(None) => break,
                        Err(e) => {
                            self.error.get_or_insert(e);
                            break;
                        }
                    }
                },
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            },
            Request::Post(_) => {
                if let Err(e) = self.eio.handle_post_response(now, a.status) {
                    self.error.get_or_insert(e);
                }
            }
        }
        http.done(&a);
    }

    /// Processes what is buffered, then waits up to `wait` for bytes and
    /// processes them. Returns whether any byte arrived.
    pub fn poll_input(
        &mut self,
        clock: &StdClock,
        wait: StdDuration,
        on_message: &mut impl FnMut(&mut Eio, Data<'_>),
    ) -> bool {
        self.process(clock.now(), on_message);
        let got = self.wait_for_input(wait);
        self.bytes_in += got as u64;
        self.process(clock.now(), on_message);
        got > 0
    }

    /// Reads from every open connection, waiting up to `wait` for the first
    /// bytes: a blocking read with a timeout when there is one connection,
    /// else non-blocking reads every millisecond (std has no `poll`).
    fn wait_for_input(&mut self, wait: StdDuration) -> usize {
        let mut conns: Vec<&mut Conn> = [
            self.ws.as_mut(),
            self.upgrading.as_mut().map(|p| &mut p.conn),
            self.get.conn.as_mut(),
            self.post.conn.as_mut(),
        ]
        .into_iter()
        .flatten()
        .filter(|c| !c.eof)
        .collect();
        match conns.as_mut_slice() {
            [] => {
                std::thread::sleep(wait);
                0
            }
            [one] => one.fill(Some(wait)),
            many => {
                let deadline = StdInstant::now() + wait;
                loop {
                    let mut got = 0;
                    let mut ended = false;
                    for c in many.iter_mut() {
                        got += c.fill(None);
                        ended |= c.eof;
                    }
                    let left = deadline.saturating_duration_since(StdInstant::now());
                    if got > 0 || ended || left.is_zero() {
                        break got;
                    }
                    std::thread::sleep(left.min(StdDuration::from_millis(1)));
                }
            }
        }
    }

    /// Runs the Engine.IO timers due at `now` and writes what they produced.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.eio.poll_timeout().is_some_and(|t| t <= now) {
            self.eio.handle_timeout(now);
        }
        if self
            .upgrading
            .as_ref()
            .is_some_and(|p| StdInstant::now() >= p.deadline)
        {
            self.process_upgrade(now);
        }
        self.write_out(now);
    }

    /// True once the session is over, its WebSocket closed (or its stream
    /// ended) and a last POST answered: drop it, which closes the TCP
    /// connections.
    pub fn is_finished(&self) -> bool {
        let ws_done = self.eio.is_finished()
            || (self.ws.as_ref().is_some_and(|w| w.eof) && self.eio.is_closed());
        ws_done && self.post.in_flight.is_none()
    }
}

/// Which polling connection.
#[derive(Clone, Copy)]
enum Side {
    Get,
    Post,
}

/// How long to wait at most from `now` until `next`, capped at `cap`.
fn wait_until(clock: &StdClock, next: Option<Instant>, cap: StdDuration) -> StdDuration {
    match next {
        Some(t) => StdDuration::from(t.saturating_duration_since(clock.now())).min(cap),
        None => cap,
    }
}

// ---------------------------------------------------------------------------
// Owned events
// ---------------------------------------------------------------------------

/// An EVENT or ACK received, owned (the blocking client's).
pub use sockwire::socketio::blocking::OwnedMessage;

/// Everything the application learns, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    /// An Engine.IO session opened (its sid and heartbeat settings).
    TransportOpen {
        sid: String,
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
    },
    /// The Engine.IO session ended.
    TransportClosed(ClientCloseReason),
    /// The session moved from long-polling to WebSocket.
    Upgraded,
    /// The upgrade to WebSocket failed; the session stays on long-polling.
    UpgradeFailed,
    /// A connection attempt failed before the session opened (TCP connect
    /// or WebSocket handshake).
    TransportFailed(String),
    /// The server accepted `nsp`.
    Connect {
        nsp: String,
        sid: String,
        recovered: bool,
    },
    /// The server refused `nsp`; `data` is its raw JSON.
    ConnectError { nsp: String, data: String },
    /// An event from the server.
    Event(OwnedMessage),
    /// An ack for one of our events.
    Ack(OwnedMessage),
    /// The server removed us from `nsp`.
    Disconnect { nsp: String },
    /// `nsp` lost its connection (its emits are buffered unless `reason`
    /// ends it).
    Disconnected {
        nsp: String,
        reason: DisconnectReason,
    },
    /// A new transport is being opened (by the runner itself).
    Reconnect { attempt: u32 },
    /// Reconnection gave up.
    ReconnectFailed,
    /// No ack arrived in time.
    AckTimeout(u64),
    /// The server broke the Socket.IO protocol (the transport is closed and
    /// reconnection follows), or a command failed inside the runner.
    Error(String),
}

fn own(e: ClientEvent<'_>) -> OwnedEvent {
    match e {
        ClientEvent::Connect {
            nsp,
            sid,
            recovered,
        } => OwnedEvent::Connect {
            nsp: nsp.into(),
            sid: sid.into(),
            recovered,
        },
        ClientEvent::ConnectError { nsp, data } => OwnedEvent::ConnectError {
            nsp: nsp.into(),
            data: data.into(),
        },
        ClientEvent::Event(m) => OwnedEvent::Event(OwnedMessage::event(&m)),
        ClientEvent::Ack(m) => OwnedEvent::Ack(OwnedMessage::ack(&m)),
        ClientEvent::Disconnect { nsp } => OwnedEvent::Disconnect { nsp: nsp.into() },
        other => OwnedEvent::Error(format!("unknown client event {other:?}")),
    }
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

/// A Socket.IO client connection to one server, reconnecting by itself.
///
/// Drive it by calling [`next_event`](Self::next_event) (or
/// [`run_for`](Self::run_for)); commands take effect at once when connected
/// and are buffered otherwise.
pub struct Runner {
    addr: SocketAddr,
    eio_config: engineio::ClientConfig,
    kind: TransportKind,
    clock: StdClock,
    entropy: StdEntropy,
    sio: Sio,
    sio_asm: socketio::Assembler<Vec<u8>>,
    transport: Option<Transport>,
    namespaces: Vec<String>,
    events: VecDeque<OwnedEvent>,
    /// Every text message received (the Engine.IO message payloads: the
    /// Socket.IO packets, `2["auth",{}]`), in order (`record` on).
    received: Vec<String>,
    /// Keep `received`.
    pub record: bool,
    /// The error that stopped the client for good, if one did.
    fatal: Option<engineio::Error>,
    trace: bool,
}

impl Runner {
    /// Connects to `addr` on `path` (`/socket.io/`)
    /// with the reference client's settings and joins `namespaces`, each with
    /// its handshake auth (a JSON object) if any. A failed first attempt is
    /// retried like a lost connection (see the events).
    pub fn connect(
        addr: &str,
        path: &'static str,
        namespaces: &[(&str, Option<&str>)],
    ) -> io::Result<Runner> {
        Self::with_config(addr, path, socketio::ClientConfig::DEFAULT, namespaces)
    }

    /// [`connect`](Self::connect) starting every transport as `kind`: on
    /// `Polling`, `upgrade` says whether to move to WebSocket when the server
    /// offers it (the reference client's default transports are
    /// `["polling", "websocket"]`: `Polling` with `upgrade`).
    pub fn connect_with(
        addr: &str,
        path: &'static str,
        namespaces: &[(&str, Option<&str>)],
        kind: TransportKind,
        upgrade: bool,
    ) -> io::Result<Runner> {
        let config = socketio::ClientConfig::DEFAULT;
        Self::build(addr, path, config, namespaces, kind, upgrade, false)
    }

    /// [`connect_with`](Self::connect_with), offering permessage-deflate on
    /// every WebSocket (`engineio::ClientConfig::per_message_deflate`) and
    /// using it when the server accepts.
    pub fn connect_deflate(
        addr: &str,
        path: &'static str,
        namespaces: &[(&str, Option<&str>)],
        kind: TransportKind,
        upgrade: bool,
    ) -> io::Result<Runner> {
        let config = socketio::ClientConfig::DEFAULT;
        Self::build(addr, path, config, namespaces, kind, upgrade, true)
    }

    /// [`connect`](Self::connect) with Socket.IO client settings.
    pub fn with_config(
        addr: &str,
        path: &'static str,
        config: socketio::ClientConfig,
        namespaces: &[(&str, Option<&str>)],
    ) -> io::Result<Runner> {
        Self::build(
            addr,
            path,
            config,
            namespaces,
            TransportKind::WebSocket,
            true,
            false,
        )
    }

    fn build(
        addr: &str,
        path: &'static str,
        config: socketio::ClientConfig,
        namespaces: &[(&str, Option<&str>)],
        kind: TransportKind,
        upgrade: bool,
        deflate: bool,
    ) -> io::Result<Runner> {
        let eio_config = engineio::ClientConfig {
            upgrade,
            per_message_deflate: deflate.then_some(engineio::PerMessageDeflate::DEFAULT),
            ..Transport::config(path)
        };
        Self::connect_configs(addr, config, eio_config, namespaces, kind)
    }

    /// Connects to `addr` with both clients' settings given whole (the
    /// Engine.IO path, open timeout, upgrade and deflate in `eio_config`),
    /// every transport starting as `kind`, and joins `namespaces`.
    pub fn connect_configs(
        addr: &str,
        config: socketio::ClientConfig,
        eio_config: engineio::ClientConfig,
        namespaces: &[(&str, Option<&str>)],
        kind: TransportKind,
    ) -> io::Result<Runner> {
        let addr = resolve_addr(addr)?;
        let mut runner = Runner {
            addr,
            eio_config,
            kind,
            clock: StdClock::new(),
            entropy: StdEntropy::new(),
            sio: socketio::ClientCore::new(config, vec![0u8; STORAGE]),
            sio_asm: socketio::Assembler::new(vec![0u8; STORAGE]),
            transport: None,
            namespaces: Vec::new(),
            events: VecDeque::new(),
            received: Vec::new(),
            record: true,
            fatal: None,
            trace: std::env::var_os("SIO_CLIENT_TRACE").is_some_and(|v| v == "1"),
        };
        for (nsp, auth) in namespaces {
            runner.join(nsp, *auth).map_err(|e| {
                io::Error::new(ErrorKind::InvalidInput, format!("namespace {nsp}: {e}"))
            })?;
        }
        runner.open_transport();
        Ok(runner)
    }

    /// The current instant on the runner's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Joins `nsp` (now if connected, else when the transport opens).
    pub fn join(&mut self, nsp: &str, auth: Option<&str>) -> Result<(), socketio::Error> {
        let eio = self.transport.as_mut().map(|t| &mut t.eio);
        self.sio.connect(eio, nsp, auth)?;
        if !self.namespaces.iter().any(|n| n == nsp) {
            self.namespaces.push(nsp.to_owned());
        }
        self.flush();
        Ok(())
    }

    /// Emits `name` with `args` (raw JSON values, comma separated) and
    /// binary `attachments` (referenced by placeholders in `args`).
    pub fn emit(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), socketio::Error> {
        self.sio.emit(nsp, name, args, attachments)?;
        self.flush();
        Ok(())
    }

    /// [`emit`](Self::emit) asking for an ack; returns its id.
    pub fn emit_with_ack(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<StdDuration>,
    ) -> Result<u64, socketio::Error> {
        let now = self.clock.now();
        let timeout = timeout.map(Duration::from);
        let id = self
            .sio
            .emit_with_ack(now, nsp, name, args, attachments, timeout)?;
        self.flush();
        Ok(id)
    }

    /// Answers the server's event `ack_id`.
    pub fn ack(
        &mut self,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), socketio::Error> {
        self.sio.ack(nsp, ack_id, args, attachments)?;
        self.flush();
        Ok(())
    }

    /// Leaves `nsp`.
    pub fn disconnect(&mut self, nsp: &str) -> Result<(), socketio::Error> {
        self.sio.disconnect(nsp)?;
        self.namespaces.retain(|n| n != nsp);
        self.flush();
        self.drain_notices();
        Ok(())
    }

    /// True while `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.sio.is_connected(nsp)
    }

    /// The current Engine.IO session id, if a session is open.
    pub fn eio_sid(&self) -> Option<String> {
        self.transport
            .as_ref()
            .filter(|t| t.eio.is_open())
            .map(|t| t.eio.sid().to_owned())
    }

    /// The current transport's Engine.IO transport (polling or websocket),
    /// if a session is open.
    pub fn transport_name(&self) -> Option<engineio::Transport> {
        self.transport
            .as_ref()
            .filter(|t| t.eio.is_open())
            .map(|t| t.eio.transport())
    }

    /// True when the current transport's WebSocket negotiated
    /// permessage-deflate.
    pub fn is_deflate(&self) -> bool {
        self.transport.as_ref().is_some_and(|t| t.eio.is_deflate())
    }

    /// Bytes the current transport read and wrote on its TCP connections
    /// (heads included).
    pub fn transport_bytes(&self) -> Option<(u64, u64)> {
        self.transport.as_ref().map(|t| (t.bytes_in, t.bytes_out))
    }

    /// The current transport's first `poll_transmit` error, if any.
    pub fn transmit_error(&self) -> Option<engineio::Error> {
        self.transport.as_ref().and_then(|t| t.transmit_error)
    }

    /// The error that stopped the client for good (no more reconnection),
    /// if one did: [`engineio::Error::NotEngineIo`] when the server is not
    /// an Engine.IO/Socket.IO server. It also came as an
    /// [`OwnedEvent::Error`].
    pub fn fatal_error(&self) -> Option<engineio::Error> {
        self.fatal
    }

    /// True while a transport exists (open, opening or closing).
    pub fn has_transport(&self) -> bool {
        self.transport.is_some()
    }

    /// Every text Socket.IO packet received so far (with `record` on).
    pub fn received(&self) -> &[String] {
        &self.received
    }

    /// Leaves every namespace, stops reconnecting and closes the transport,
    /// waiting up to `timeout` for the closing handshake.
    pub fn close(&mut self, timeout: StdDuration) {
        for nsp in std::mem::take(&mut self.namespaces) {
            let _ = self.sio.disconnect(&nsp);
        }
        self.flush();
        self.sio.close();
        if let Some(t) = self.transport.as_mut() {
            let now = self.clock.now();
            t.eio.close(now);
            t.write_out(now);
        }
        let deadline = StdInstant::now() + timeout;
        while self.transport.is_some() && StdInstant::now() < deadline {
            self.turn(MAX_WAIT);
        }
        self.transport = None;
        self.drain_notices();
    }

    /// Runs the connection for `d`, queueing what happens.
    pub fn run_for(&mut self, d: StdDuration) {
        let deadline = StdInstant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return;
            }
            self.turn(left.min(MAX_WAIT));
        }
    }

    /// The next event, waiting up to `timeout` for one (driving the
    /// connection meanwhile).
    pub fn next_event(&mut self, timeout: StdDuration) -> Option<OwnedEvent> {
        let deadline = StdInstant::now() + timeout;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return None;
            }
            self.turn(left.min(MAX_WAIT));
        }
    }

    /// Events already queued, without waiting.
    pub fn pending_events(&mut self) -> Vec<OwnedEvent> {
        self.events.drain(..).collect()
    }

    // ------------------------------------------------------------------
    // The loop
    // ------------------------------------------------------------------

    /// One pass: timers, notices, input (waiting at most `max_wait`), the
    /// Engine.IO events, output.
    fn turn(&mut self, max_wait: StdDuration) {
        let now = self.clock.now();
        if let Some(t) = self.transport.as_mut() {
            t.handle_timeout(now);
        }
        self.drain_transport_events();
        if self.sio.poll_timeout().is_some_and(|t| t <= now) {
            self.sio.handle_timeout(now);
        }
        self.drain_notices();
        self.flush();

        let next = match (
            self.sio.poll_timeout(),
            self.transport.as_ref().and_then(|t| t.eio.poll_timeout()),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = wait_until(&self.clock, next, max_wait);
        let Runner {
            sio,
            sio_asm,
            entropy,
            events,
            received,
            record,
            trace,
            clock,
            transport,
            ..
        } = self;
        match transport.as_mut() {
            Some(t) => {
                let mut on_message = |eio: &mut Eio, data: Data<'_>| {
                    let now = clock.now();
                    // The Engine.IO events come first (the Open before the
                    // first message).
                    drain_eio(now, eio, sio, entropy, events);
                    if let Data::Text(text) = data {
                        if *trace {
                            eprintln!("sio_client: <- {text}");
                        }
                        if *record {
                            received.push(text.to_owned());
                        }
                    }
                    match sio.handle_message(now, eio, data, sio_asm, &mut *entropy) {
                        Ok(Some(e)) => events.push_back(own(e)),
                        Ok(None) => {}
                        Err(e) => events.push_back(OwnedEvent::Error(format!(
                            "the server broke the Socket.IO protocol: {e}"
                        ))),
                    }
                    if let Err(e) = sio.flush(eio) {
                        events.push_back(OwnedEvent::Error(format!("flush: {e}")));
                    }
                };
                t.poll_input(clock, wait, &mut on_message);
            }
            None => std::thread::sleep(wait.max(StdDuration::from_millis(1))),
        }
        self.drain_transport_events();
        self.drain_notices();
        self.flush();
        if self.transport.as_ref().is_some_and(Transport::is_finished) {
            // Dropping the stream closes the TCP connection.
            self.transport = None;
        }
    }

    /// Moves buffered emits to the transport and writes its output.
    fn flush(&mut self) {
        let Some(t) = self.transport.as_mut() else {
            return;
        };
        if let Err(e) = self.sio.flush(&mut t.eio) {
            self.events
                .push_back(OwnedEvent::Error(format!("flush: {e}")));
        }
        t.write_out(self.clock.now());
    }

    fn drain_transport_events(&mut self) {
        let now = self.clock.now();
        if let Some(t) = self.transport.as_mut() {
            drain_eio(
                now,
                &mut t.eio,
                &mut self.sio,
                &mut self.entropy,
                &mut self.events,
            );
        }
    }

    /// Hands the Socket.IO client's notices to the application, opening a
    /// new transport on `Reconnect`.
    fn drain_notices(&mut self) {
        while let Some(n) = self.sio.poll_event() {
            match n {
                ClientNotice::Reconnect { attempt } => {
                    self.events.push_back(OwnedEvent::Reconnect { attempt });
                    self.open_transport();
                }
                ClientNotice::ReconnectFailed => self.events.push_back(OwnedEvent::ReconnectFailed),
                ClientNotice::Disconnected { nsp, reason } => {
                    self.events.push_back(OwnedEvent::Disconnected {
                        nsp: nsp.as_str().to_owned(),
                        reason,
                    })
                }
                ClientNotice::AckTimeout(id) => self.events.push_back(OwnedEvent::AckTimeout(id)),
                ClientNotice::Fatal(e) => {
                    self.fatal.get_or_insert(e);
                    self.events.push_back(OwnedEvent::Error(e.to_string()))
                }
                other => self
                    .events
                    .push_back(OwnedEvent::Error(format!("unknown notice {other:?}"))),
            }
        }
    }

    /// A new transport (a WebSocket, or the first polling connection) and
    /// Engine.IO client; a failure is reported to the Socket.IO client as a
    /// closed transport (it schedules the next attempt; its notices are
    /// drained by the caller's loop).
    fn open_transport(&mut self) {
        // A previous transport still closing is abandoned.
        self.transport = None;
        match Transport::start(self.addr, self.eio_config, self.kind, self.clock.now()) {
            Ok(t) => self.transport = Some(t),
            Err(e) => {
                self.events
                    .push_back(OwnedEvent::TransportFailed(e.to_string()));
                self.sio.handle_transport_closed(
                    self.clock.now(),
                    ClientCloseReason::TransportClose,
                    &mut self.entropy,
                );
            }
        }
    }
}

/// The Engine.IO client's events, handed to the Socket.IO client.
fn drain_eio(
    now: Instant,
    eio: &mut Eio,
    sio: &mut Sio,
    entropy: &mut StdEntropy,
    events: &mut VecDeque<OwnedEvent>,
) {
    while let Some(e) = eio.poll_event() {
        match e {
            engineio::ClientSessionEvent::Open => {
                events.push_back(OwnedEvent::TransportOpen {
                    sid: eio.sid().to_owned(),
                    ping_interval_ms: eio.ping_interval().as_millis(),
                    ping_timeout_ms: eio.ping_timeout().as_millis(),
                });
                if let Err(e) = sio.handle_open(eio) {
                    events.push_back(OwnedEvent::Error(format!("handle_open: {e}")));
                }
            }
            engineio::ClientSessionEvent::Closed(reason) => {
                events.push_back(OwnedEvent::TransportClosed(reason));
                sio.handle_transport_closed(now, reason, &mut *entropy);
            }
            engineio::ClientSessionEvent::Upgraded => events.push_back(OwnedEvent::Upgraded),
            engineio::ClientSessionEvent::UpgradeFailed => {
                events.push_back(OwnedEvent::UpgradeFailed)
            }
            other => events.push_back(OwnedEvent::Error(format!("unknown eio event {other:?}"))),
        }
    }
}
