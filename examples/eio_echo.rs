//! An Engine.IO v4 echo server over `std::net`: every message comes back
//! unchanged (text as text, binary as binary), except the text `close-me`, on
//! which the server closes the session.
//!
//! ```text
//! cargo run --example eio_echo -- 127.0.0.1:3000 [--ping-interval MS] [--ping-timeout MS]
//! ```
//!
//! It serves `/engine.io/` with both transports (long-polling and WebSocket)
//! and the upgrade between them, and prints `LISTENING <port>` once it accepts
//! connections.
//!
//! # What it shows
//!
//! The whole run loop of an application around the Sans-IO
//! `sockwire::engineio::Session`, on one thread with non-blocking sockets and
//! no other crate:
//!
//! - every TCP connection is a small state machine (`State`): reading a
//!   request head (incrementally with `http::HeadParser`, bounded by
//!   `http::Limits`), reading a POST body (by `Content-Length`, at most
//!   `Config::max_payload`, else 413), being a session's held long-poll GET,
//!   being a session's WebSocket, and closing;
//! - a head is classified by `engineio::route`; refusals are answered with
//!   `engineio::Error::write_response`, WebSocket handshakes with
//!   `ws::ServerHandshake` (for an upgrade, only after
//!   `Session::handle_upgrade` said yes), unknown sids with
//!   `Error::UnknownSid`;
//! - the application owns the session table (`HashMap<String, Entry>`) and
//!   remembers which connection is a session's held GET and which is its
//!   WebSocket;
//! - after every input (a request, a body, WebSocket bytes, the end of a
//!   connection: `handle_poll_aborted` for a held GET, `handle_ws_eof` for a
//!   WebSocket; a timer: `handle_timeout`) the session is drained: `poll_http` goes to the held
//!   GET, `poll_ws` to the WebSocket, `poll_event` is logged; a session is
//!   dropped once `is_finished`;
//! - when a pass over all connections moved no byte, the loop sleeps 1 ms;
//!   timers are checked every pass against `poll_timeout`.
//!
//! The run loop is independent of what the application does with a
//! session: that is an [`App`] (here [`Echo`]), which gets a per-session
//! state at the open, every message with the session, its own timer and the
//! end of the session. [`serve_app`] runs any `App`;
//! `examples/sio_server.rs` reuses this file (`#[path]`) with a Socket.IO
//! application.
//!
//! The server closes TCP connections itself only when it must (a refused
//! request whose body it will not read, `Connection: close`, a WebSocket after
//! its closing handshake). It then half-closes and reads what the peer still
//! sends for a moment, so that unread bytes do not turn the close into a reset
//! that would destroy the last response in flight.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use sockwire::engineio::{self, Config, Data, Error, Event, Route, Session, Transport};
use sockwire::entropy::StdEntropy;
use sockwire::http::{self, HeadParser, Limits, Request, Version};
use sockwire::time::{Duration, Instant, StdClock};
use sockwire::ws::{self, Accept, Assembler, ServerHandshake};

/// Bounds on a request head.
const LIMITS: Limits = Limits::DEFAULT;
/// Bytes read from a socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per pass, so that one busy client cannot
/// starve the others.
const READ_PER_PASS: usize = 1024 * 1024;
/// WebSocket bytes kept unread at most (a frame header is at most 14 bytes;
/// payloads are consumed as they arrive).
const WS_READ_BACKLOG: usize = 2 * READ_CHUNK;
/// Once this many bytes wait to be written to a WebSocket, the session's queue
/// is not drained further: backpressure towards the session.
const WS_WRITE_BACKLOG: usize = 1024 * 1024;
/// How long a half-closed connection is read (and its input discarded) before
/// it is dropped.
const LINGER: StdDuration = StdDuration::from_secs(2);
/// How long a closing connection may take to accept its last bytes.
const CLOSE_FLUSH: StdDuration = StdDuration::from_secs(10);
/// The header added to every HTTP response (the reference test server allows
/// any origin).
const CORS: &[u8] = b"Access-Control-Allow-Origin: *\r\n";

type ConnId = u64;

/// What a TCP connection is doing.
enum State {
    /// Reading a request head.
    Head(HeadParser),
    /// Reading the `len`-byte body of a POST for session `sid`.
    Body {
        sid: String,
        len: usize,
        keep_alive: bool,
    },
    /// Skipping the body of a request that was refused.
    Skip { left: usize },
    /// A long-poll GET, held by session `sid` until it has packets.
    Held { sid: String, keep_alive: bool },
    /// The WebSocket of session `sid` (its active transport or its upgrade
    /// probe).
    WebSocket { sid: String },
    /// Write what is left (until the deadline), then half-close.
    Closing { until: std::time::Instant },
    /// Half-closed: discard the peer's bytes until it closes or the deadline.
    Lingering { until: std::time::Instant },
}

struct Conn {
    stream: TcpStream,
    state: State,
    /// Received bytes not yet consumed.
    rbuf: Vec<u8>,
    /// Bytes to send; `wpos` of them are sent.
    wbuf: Vec<u8>,
    wpos: usize,
    /// The peer closed its side (or the connection failed).
    eof: bool,
    /// The connection is over; removed at the end of the pass.
    dead: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            state: State::Head(HeadParser::new(LIMITS)),
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            eof: false,
            dead: false,
        }
    }

    /// Closes the connection once its pending bytes are written.
    fn close(&mut self) {
        self.state = State::Closing {
            until: std::time::Instant::now() + CLOSE_FLUSH,
        };
    }

    fn pending_write(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Queues an HTTP response (not a 101), adding the CORS header and, when
    /// the connection is closed after it, `Connection: close`.
    fn push_http(&mut self, response: &[u8], close: bool) {
        let Some(i) = response.windows(2).position(|w| w == b"\r\n") else {
            self.wbuf.extend_from_slice(response);
            return;
        };
        self.wbuf.extend_from_slice(&response[..i + 2]);
        self.wbuf.extend_from_slice(CORS);
        if close {
            self.wbuf.extend_from_slice(b"Connection: close\r\n");
        }
        self.wbuf.extend_from_slice(&response[i + 2..]);
    }

    /// Answers with `error`'s refusal. With `keep_alive`, the request's `body`
    /// bytes are skipped and the next request is read; otherwise the
    /// connection closes after the answer.
    fn refuse(&mut self, error: Error, body: usize, keep_alive: bool) {
        let mut out = [0u8; 512];
        let n = error
            .write_response(&mut out)
            .or_else(|_| Error::BadRequest.write_response(&mut out))
            .unwrap_or(0);
        self.push_http(&out[..n], !keep_alive);
        if keep_alive {
            self.state = State::Skip { left: body };
        } else {
            self.close();
        }
    }

    /// After a response: the next request, or the close.
    fn next_request(&mut self, keep_alive: bool) {
        if keep_alive {
            self.state = State::Head(HeadParser::new(LIMITS));
        } else {
            self.close();
        }
    }

    /// How many more bytes to read now.
    fn read_room(&self) -> usize {
        let cap = match &self.state {
            State::Head(_) | State::Held { .. } => LIMITS.max_head_len,
            State::Body { len, .. } => len + LIMITS.max_head_len,
            State::Skip { left } => left + LIMITS.max_head_len,
            State::WebSocket { .. } => WS_READ_BACKLOG,
            State::Closing { .. } => 0,
            State::Lingering { .. } => usize::MAX,
        };
        cap.saturating_sub(self.rbuf.len())
    }

    /// Reads what is available (bounded); returns true if bytes arrived.
    fn read_some(&mut self, tmp: &mut [u8]) -> bool {
        let was_eof = self.eof;
        let mut got = 0;
        while !self.eof && got < READ_PER_PASS {
            let room = self.read_room().min(tmp.len());
            if room == 0 {
                break;
            }
            match self.stream.read(&mut tmp[..room]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    got += n;
                    if !matches!(self.state, State::Lingering { .. }) {
                        self.rbuf.extend_from_slice(&tmp[..n]);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset: the same as the end of the stream for us.
                Err(_) => self.eof = true,
            }
        }
        got > 0 || self.eof != was_eof
    }

    /// Writes what it can; returns true if bytes went out.
    fn flush(&mut self) -> bool {
        let mut progress = false;
        while self.pending_write() > 0 && !self.dead {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => self.dead = true,
                Ok(n) => {
                    self.wpos += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.dead = true,
            }
        }
        if self.pending_write() == 0 {
            self.wbuf.clear();
            self.wpos = 0;
            if matches!(self.state, State::Closing { .. }) {
                let _ = self.stream.shutdown(Shutdown::Write);
                self.rbuf.clear();
                self.state = State::Lingering {
                    until: std::time::Instant::now() + LINGER,
                };
                progress = true;
            }
        }
        progress
    }
}

/// One session and the connections that belong to it.
struct Entry<S> {
    session: Session<Vec<u8>>,
    /// The application's state for this session.
    app: S,
    /// Whole-message assembly for the WebSocket (allocated when one attaches).
    assembler: Assembler<Vec<u8>>,
    /// The connection of the held GET.
    held: Option<ConnId>,
    /// The connection of the WebSocket.
    ws: Option<ConnId>,
}

/// What a request head asks for, owned so that the connection's buffer can
/// change afterwards.
enum Action {
    /// Refuse with `error`; skip `body` bytes when keeping the connection.
    Refuse {
        error: Error,
        body: usize,
        keep_alive: bool,
    },
    /// Refuse a WebSocket handshake; the connection closes.
    RefuseWs(ws::Error),
    /// Answer a CORS preflight (`OPTIONS`) with this 204 response.
    Preflight {
        response: Vec<u8>,
        keep_alive: bool,
    },
    /// A new session: on polling, this GET is its first held poll; on
    /// WebSocket, `accept` is the 101 response (empty for polling).
    Open {
        transport: Transport,
        accept: Vec<u8>,
        keep_alive: bool,
    },
    Poll {
        sid: String,
        keep_alive: bool,
    },
    Post {
        sid: String,
        len: usize,
        keep_alive: bool,
    },
    /// A WebSocket for polling session `sid`; `accept` is the 101 response.
    Upgrade {
        sid: String,
        accept: Vec<u8>,
    },
}

fn classify(head: &[u8], config: &Config) -> Action {
    let refuse = |error: Error, body: usize, keep_alive: bool| Action::Refuse {
        error,
        body,
        keep_alive,
    };
    let req = match Request::parse(head, &LIMITS) {
        Ok(req) => req,
        Err(e) => return refuse(Error::from(e), 0, false),
    };
    let keep_alive = match req.version {
        Version::Http11 => !req.headers.has_token("connection", "close"),
        _ => req.headers.has_token("connection", "keep-alive"),
    };
    // Bodies are framed by Content-Length only; without a usable length the
    // connection cannot be read further.
    let body = match req.headers.count("content-length") {
        0 => 0,
        1 => match req
            .headers
            .get("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return refuse(Error::Http(http::Error::InvalidHeader), 0, false),
        },
        _ => return refuse(Error::Http(http::Error::InvalidHeader), 0, false),
    };
    if req.headers.get("transfer-encoding").is_some() {
        return refuse(Error::Http(http::Error::InvalidHeader), 0, false);
    }
    // A body larger than maxPayload is not read: 413 and close.
    let keep_body = keep_alive && body <= config.max_payload;
    // A browser's CORS preflight before a request it may not send without
    // asking (custom headers, say): allow the methods Engine.IO uses and the
    // headers asked for, as the reference server's `cors` option does.
    if req.method == "OPTIONS" && req.path().starts_with(config.path) && body == 0 {
        let asked = req
            .headers
            .get("access-control-request-headers")
            .unwrap_or(b"");
        let mut out = vec![0u8; 256 + asked.len()];
        let n = http::write_head(&mut out, |w| {
            w.status_line(204);
            w.header(
                "Access-Control-Allow-Methods",
                b"GET,HEAD,PUT,PATCH,POST,DELETE",
            );
            if !asked.is_empty() {
                w.header("Access-Control-Allow-Headers", asked);
            }
            w.header_u64("Content-Length", 0);
            w.raw(b"\r\n");
        });
        return match n {
            Ok(n) => {
                out.truncate(n);
                Action::Preflight {
                    response: out,
                    keep_alive,
                }
            }
            Err(e) => refuse(Error::from(e), 0, false),
        };
    }
    let route = match engineio::route(&req, config) {
        Ok(route) => route,
        Err(e) => return refuse(e, body, keep_body),
    };
    if body > 0 && !matches!(route, Route::Post(_)) {
        // A GET with a body: nothing in Engine.IO sends one.
        return refuse(Error::BadRequest, body, keep_body);
    }
    match route {
        Route::Handshake(Transport::Polling) => Action::Open {
            transport: Transport::Polling,
            accept: Vec::new(),
            keep_alive,
        },
        Route::Handshake(Transport::WebSocket) => match ws_accept(head) {
            Ok(accept) => Action::Open {
                transport: Transport::WebSocket,
                accept,
                keep_alive,
            },
            Err(e) => Action::RefuseWs(e),
        },
        Route::Poll(sid) => Action::Poll {
            sid: sid.to_owned(),
            keep_alive,
        },
        Route::Post(_) if body > config.max_payload => refuse(Error::PayloadTooLarge, body, false),
        Route::Post(sid) => Action::Post {
            sid: sid.to_owned(),
            len: body,
            keep_alive,
        },
        Route::Upgrade(sid) => match ws_accept(head) {
            Ok(accept) => Action::Upgrade {
                sid: sid.to_owned(),
                accept,
            },
            Err(e) => Action::RefuseWs(e),
        },
    }
}

/// Validates a WebSocket upgrade request and writes its 101 response.
fn ws_accept(head: &[u8]) -> Result<Vec<u8>, ws::Error> {
    let mut handshake = ServerHandshake::with_limits(LIMITS);
    let req = handshake.handle_input(head)?.ok_or(ws::Error::NotUpgrade)?;
    let mut out = [0u8; 256];
    let n = req.accept(&Accept::default(), &mut out)?;
    Ok(out[..n].to_vec())
}

/// What the application does with its sessions. The run loop calls it on one
/// thread; whatever a call queues on the session is sent by the loop
/// afterwards.
pub trait App {
    /// The application's state of one session.
    type State;

    /// A session opened (its open packet is queued already).
    fn on_open(&mut self, now: Instant, session: &mut Session<Vec<u8>>) -> Self::State;

    /// A message from the client.
    fn on_message(
        &mut self,
        now: Instant,
        session: &mut Session<Vec<u8>>,
        state: &mut Self::State,
        data: Data<'_>,
    );

    /// When [`handle_timeout`](Self::handle_timeout) is due next, if ever.
    fn poll_timeout(&self, _state: &Self::State) -> Option<Instant> {
        None
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) came.
    fn handle_timeout(
        &mut self,
        _now: Instant,
        _session: &mut Session<Vec<u8>>,
        _state: &mut Self::State,
    ) {
    }

    /// The session is finished and dropped.
    fn on_closed(&mut self, _sid: &str, _state: Self::State) {}
}

/// The echo application: every message comes back, except `close-me`, which
/// closes the session.
pub struct Echo;

impl App for Echo {
    type State = ();

    fn on_open(&mut self, _now: Instant, _session: &mut Session<Vec<u8>>) {}

    fn on_message(
        &mut self,
        now: Instant,
        session: &mut Session<Vec<u8>>,
        _: &mut (),
        data: Data<'_>,
    ) {
        let sent = match data {
            Data::Text("close-me") => {
                session.close(now);
                Ok(())
            }
            Data::Text(text) => session.send_text(text),
            Data::Binary(bytes) => session.send_binary(bytes),
        };
        match sent {
            Ok(()) => {}
            // The session closed earlier in this batch: nothing to echo to.
            Err(Error::InvalidState) => {}
            Err(e) => {
                let sid = session.sid().as_str();
                eprintln!("eio_echo: {sid}: cannot echo ({e}); closing the session");
                session.close(now);
            }
        }
    }
}

/// The send queue lent to a session: room for the echoes of a whole polling
/// body (a packet takes its length plus 5 bytes; the smallest message, `4`,
/// takes 6 for 2 bytes of body).
fn queue_storage(config: &Config) -> Vec<u8> {
    vec![0; 3 * config.max_payload + 4096]
}

/// Hands a session's output to its connections: the held GET's response, the
/// WebSocket's bytes, and the events.
fn drain<S>(
    sid: &str,
    entry: &mut Entry<S>,
    conns: &mut BTreeMap<ConnId, Conn>,
    scratch: &mut [u8],
) {
    // A connection that ended is not answered: `reap` reports it to the
    // session (an aborted poll, the end of the WebSocket) instead.
    if let Some(id) = entry.held
        && let Some(conn) = conns.get_mut(&id)
        && !conn.dead
    {
        match entry.session.poll_http(scratch) {
            Ok(0) => {}
            Ok(n) => {
                entry.held = None;
                let keep_alive = matches!(
                    conn.state,
                    State::Held {
                        keep_alive: true,
                        ..
                    }
                );
                conn.push_http(&scratch[..n], !keep_alive);
                conn.next_request(keep_alive);
            }
            Err(e) => eprintln!("eio_echo: {sid}: poll_http: {e}"),
        }
    }
    if let Some(id) = entry.ws
        && let Some(conn) = conns.get_mut(&id)
        && !conn.dead
    {
        let mut drained = false;
        while conn.pending_write() < WS_WRITE_BACKLOG {
            match entry.session.poll_ws(scratch) {
                Ok(0) => {
                    drained = true;
                    break;
                }
                Ok(n) => conn.wbuf.extend_from_slice(&scratch[..n]),
                Err(e) => {
                    eprintln!("eio_echo: {sid}: poll_ws: {e}");
                    break;
                }
            }
        }
        // The closing handshake is over: the server closes the TCP connection.
        if drained && !entry.session.has_websocket() {
            entry.ws = None;
            conn.close();
        }
    }
    while let Some(event) = entry.session.poll_event() {
        match event {
            Event::Upgraded => eprintln!("eio_echo: {sid}: upgraded to websocket"),
            Event::Closed(reason) => eprintln!("eio_echo: {sid}: closed ({reason:?})"),
            other => eprintln!("eio_echo: {sid}: {other:?}"),
        }
    }
}

struct Server<A: App> {
    config: Config,
    app: A,
    clock: StdClock,
    entropy: StdEntropy,
    conns: BTreeMap<ConnId, Conn>,
    sessions: HashMap<String, Entry<A::State>>,
    next_id: ConnId,
    /// Output buffer for `poll_http` / `poll_ws`: one whole polling response
    /// with the largest packet (a binary message of maxPayload bytes is 4/3 as
    /// long in base64).
    scratch: Vec<u8>,
    /// Input buffer for socket reads.
    tmp: Vec<u8>,
}

impl<A: App> Server<A> {
    fn new(config: Config, app: A) -> Self {
        Server {
            config,
            app,
            clock: StdClock::new(),
            entropy: StdEntropy::new(),
            conns: BTreeMap::new(),
            sessions: HashMap::new(),
            next_id: 0,
            scratch: vec![0; config.max_payload / 3 * 4 + 1024],
            tmp: vec![0; READ_CHUNK],
        }
    }

    fn drain(&mut self, sid: &str) {
        if let Some(entry) = self.sessions.get_mut(sid) {
            drain(sid, entry, &mut self.conns, &mut self.scratch);
        }
    }

    fn accept(&mut self, listener: &TcpListener) -> bool {
        let mut progress = false;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    progress = true;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.next_id += 1;
                    self.conns.insert(self.next_id, Conn::new(stream));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, an aborted connection: try again later.
                    eprintln!("eio_echo: accept: {e}");
                    break;
                }
            }
        }
        progress
    }

    /// One pass over every connection and session. Returns true if any byte
    /// moved.
    fn pass(&mut self) -> bool {
        let mut progress = false;
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(conn) = self.conns.get_mut(&id) {
                progress |= conn.read_some(&mut self.tmp);
            }
            progress |= self.process(id);
        }
        // Timers, then the output they made.
        let now = self.clock.now();
        for (sid, entry) in self.sessions.iter_mut() {
            if entry.session.poll_timeout().is_some_and(|t| t <= now) {
                entry.session.handle_timeout(now);
            }
            if self.app.poll_timeout(&entry.app).is_some_and(|t| t <= now) {
                self.app
                    .handle_timeout(now, &mut entry.session, &mut entry.app);
            }
            // Also picks up output left behind by WebSocket backpressure.
            drain(sid, entry, &mut self.conns, &mut self.scratch);
        }
        for conn in self.conns.values_mut() {
            progress |= conn.flush();
            let now = std::time::Instant::now();
            match conn.state {
                State::Lingering { until } if conn.eof || now >= until => conn.dead = true,
                // The peer does not read: give up on the last bytes.
                State::Closing { until } if now >= until => conn.dead = true,
                _ => {}
            }
        }
        self.reap();
        progress
    }

    /// Consumes a connection's received bytes as its state allows.
    fn process(&mut self, id: ConnId) -> bool {
        let mut progress = false;
        loop {
            let now = self.clock.now();
            let Some(conn) = self.conns.get_mut(&id) else {
                return progress;
            };
            if conn.dead {
                return progress;
            }
            match &mut conn.state {
                State::Head(parser) => match parser.advance(&conn.rbuf) {
                    Ok(Some(head_len)) => self.on_request(id, head_len, now),
                    Ok(None) => {
                        // The peer is done (between requests, or mid-head).
                        if conn.eof {
                            conn.dead = true;
                        }
                        return progress;
                    }
                    Err(e) => conn.refuse(Error::from(e), 0, false),
                },
                State::Body { len, .. } => {
                    if conn.rbuf.len() < *len {
                        if conn.eof {
                            conn.dead = true;
                        }
                        return progress;
                    }
                    self.on_body(id, now);
                }
                State::Skip { left } => {
                    let k = (*left).min(conn.rbuf.len());
                    conn.rbuf.drain(..k);
                    *left -= k;
                    if *left > 0 {
                        if conn.eof {
                            conn.dead = true;
                        }
                        return progress;
                    }
                    conn.next_request(true);
                }
                State::Held { .. } => {
                    // Waiting for the session; a closed connection is an
                    // aborted poll (see `reap`).
                    if conn.eof {
                        conn.dead = true;
                    }
                    return progress;
                }
                State::WebSocket { sid } => {
                    let sid = sid.clone();
                    return self.on_ws_bytes(id, &sid, now) || progress;
                }
                State::Closing { .. } | State::Lingering { .. } => return progress,
            }
            progress = true;
        }
    }

    /// A complete request head of `head_len` bytes is at the start of the
    /// connection's buffer.
    fn on_request(&mut self, id: ConnId, head_len: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let action = classify(&conn.rbuf[..head_len], &self.config);
        conn.rbuf.drain(..head_len);
        let sid = match action {
            Action::Refuse {
                error,
                body,
                keep_alive,
            } => {
                conn.refuse(error, body, keep_alive);
                return;
            }
            Action::Preflight {
                response,
                keep_alive,
            } => {
                conn.push_http(&response, !keep_alive);
                conn.next_request(keep_alive);
                return;
            }
            Action::RefuseWs(e) => {
                let mut out = [0u8; 256];
                let n = e
                    .write_response(&mut out)
                    .or_else(|_| ws::write_refusal(400, &mut out))
                    .unwrap_or(0);
                conn.push_http(&out[..n], true);
                conn.close();
                return;
            }
            Action::Open {
                transport,
                accept,
                keep_alive,
            } => {
                let mut session = match Session::open(
                    now,
                    transport,
                    self.config,
                    queue_storage(&self.config),
                    &mut self.entropy,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("eio_echo: Session::open: {e}");
                        conn.refuse(Error::BadRequest, 0, false);
                        return;
                    }
                };
                let sid = session.sid().as_str().to_owned();
                eprintln!("eio_echo: {sid}: open ({transport:?})");
                let websocket = transport == Transport::WebSocket;
                // The bytes after a WebSocket head are already WebSocket
                // frames.
                conn.wbuf.extend_from_slice(&accept);
                conn.state = if websocket {
                    State::WebSocket { sid: sid.clone() }
                } else {
                    State::Held {
                        sid: sid.clone(),
                        keep_alive,
                    }
                };
                let app = self.app.on_open(now, &mut session);
                self.sessions.insert(
                    sid.clone(),
                    Entry {
                        session,
                        app,
                        assembler: Assembler::new(if websocket {
                            vec![0; self.config.max_payload]
                        } else {
                            Vec::new()
                        }),
                        held: (!websocket).then_some(id),
                        ws: websocket.then_some(id),
                    },
                );
                sid
            }
            Action::Poll { sid, keep_alive } => {
                let Some(entry) = self.sessions.get_mut(&sid) else {
                    conn.refuse(Error::UnknownSid, 0, keep_alive);
                    return;
                };
                match entry.session.handle_poll(now) {
                    Ok(()) => {
                        entry.held = Some(id);
                        conn.state = State::Held {
                            sid: sid.clone(),
                            keep_alive,
                        };
                    }
                    // A session that is closing takes no more requests.
                    Err(Error::InvalidState) => conn.refuse(Error::UnknownSid, 0, keep_alive),
                    // DuplicatePoll: the held GET is answered with a close
                    // packet by the drain below.
                    Err(e) => conn.refuse(e, 0, keep_alive),
                }
                sid
            }
            Action::Post {
                sid,
                len,
                keep_alive,
            } => {
                if self.sessions.contains_key(&sid) {
                    conn.state = State::Body {
                        sid,
                        len,
                        keep_alive,
                    };
                } else {
                    conn.refuse(Error::UnknownSid, len, keep_alive);
                }
                return;
            }
            Action::Upgrade { sid, accept } => {
                let Some(entry) = self.sessions.get_mut(&sid) else {
                    conn.refuse(Error::UnknownSid, 0, false);
                    return;
                };
                match entry.session.handle_upgrade(now) {
                    Ok(()) => {
                        eprintln!("eio_echo: {sid}: upgrade probe");
                        conn.wbuf.extend_from_slice(&accept);
                        conn.state = State::WebSocket { sid: sid.clone() };
                        entry.ws = Some(id);
                        entry.assembler = Assembler::new(vec![0; self.config.max_payload]);
                    }
                    Err(Error::InvalidState) => conn.refuse(Error::UnknownSid, 0, false),
                    Err(e) => conn.refuse(e, 0, false),
                }
                sid
            }
        };
        self.drain(&sid);
    }

    /// A POST body is complete at the start of the connection's buffer.
    fn on_body(&mut self, id: ConnId, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let State::Body {
            sid,
            len,
            keep_alive,
        } = std::mem::replace(&mut conn.state, State::Skip { left: 0 })
        else {
            return;
        };
        let failed = match self.sessions.get_mut(&sid) {
            None => Some(Error::UnknownSid),
            Some(entry) => match entry.session.handle_post(now, &mut conn.rbuf[..len]) {
                Ok(mut payload) => loop {
                    match entry.session.read_message(now, &mut payload) {
                        Ok(Some(data)) => {
                            self.app
                                .on_message(now, &mut entry.session, &mut entry.app, data)
                        }
                        Ok(None) => break None,
                        // The session is closed; the POST gets 400.
                        Err(e) => break Some(e),
                    }
                },
                Err(Error::InvalidState) => Some(Error::UnknownSid),
                Err(e) => Some(e),
            },
        };
        conn.rbuf.drain(..len);
        match failed {
            None => {
                let mut out = [0u8; 128];
                let n = engineio::write_post_ok(&mut out).unwrap_or(0);
                conn.push_http(&out[..n], !keep_alive);
                conn.next_request(keep_alive);
            }
            Some(e) => conn.refuse(e, 0, keep_alive),
        }
        self.drain(&sid);
    }

    /// Feeds a WebSocket connection's bytes to its session. Returns true if
    /// any were consumed (or the connection ended).
    fn on_ws_bytes(&mut self, id: ConnId, sid: &str, now: Instant) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        let Some(entry) = self.sessions.get_mut(sid) else {
            conn.close();
            return true;
        };
        if conn.rbuf.is_empty() && !conn.eof {
            return false;
        }
        let mut off = 0;
        while off < conn.rbuf.len() {
            match entry
                .session
                .handle_ws_input(now, &mut conn.rbuf[off..], &mut entry.assembler)
            {
                Ok(input) => {
                    off += input.consumed;
                    let consumed = input.consumed;
                    if let Some(data) = input.message {
                        self.app
                            .on_message(now, &mut entry.session, &mut entry.app, data);
                    } else if consumed == 0 {
                        break;
                    }
                }
                Err(e) => {
                    // The session (or the probe) failed; its close frame is in
                    // poll_ws. Nothing more is read from this WebSocket.
                    eprintln!("eio_echo: {sid}: websocket input: {e}");
                    off = conn.rbuf.len();
                    break;
                }
            }
        }
        conn.rbuf.drain(..off);
        let progress = off > 0 || conn.eof;
        if conn.eof {
            // `reap` tells the session.
            conn.dead = true;
        }
        drain(sid, entry, &mut self.conns, &mut self.scratch);
        progress
    }

    /// Removes dead connections (telling their sessions) and finished sessions.
    fn reap(&mut self) {
        let now = self.clock.now();
        let dead: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.dead)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            let Some(conn) = self.conns.remove(&id) else {
                continue;
            };
            let sid = match conn.state {
                State::Held { sid, .. } => {
                    if let Some(entry) = self.sessions.get_mut(&sid)
                        && entry.held == Some(id)
                    {
                        entry.held = None;
                        entry.session.handle_poll_aborted(now);
                    }
                    sid
                }
                State::WebSocket { sid } => {
                    if let Some(entry) = self.sessions.get_mut(&sid)
                        && entry.ws == Some(id)
                    {
                        entry.ws = None;
                        entry.session.handle_ws_eof(now);
                    }
                    sid
                }
                _ => continue,
            };
            self.drain(&sid);
        }
        let finished: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.session.is_finished())
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in finished {
            if let Some(entry) = self.sessions.remove(&sid) {
                for id in [entry.held, entry.ws].into_iter().flatten() {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.close();
                    }
                }
                self.app.on_closed(&sid, entry.app);
            }
        }
    }
}

/// Serves the echo application ([`Echo`]) on `listener` until `stop` is set
/// (checked every pass, at least every few milliseconds).
pub fn serve(listener: TcpListener, config: Config, stop: &AtomicBool) -> io::Result<()> {
    serve_app(listener, config, Echo, stop)
}

/// Serves Engine.IO with the application `app` on `listener` until `stop` is
/// set (checked every pass, at least every few milliseconds).
pub fn serve_app<A: App>(
    listener: TcpListener,
    config: Config,
    app: A,
    stop: &AtomicBool,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut server = Server::new(config, app);
    while !stop.load(Ordering::Relaxed) {
        let mut progress = server.accept(&listener);
        progress |= server.pass();
        if !progress {
            std::thread::sleep(StdDuration::from_millis(1));
        }
    }
    Ok(())
}

/// Binds `addr`, which must be a loopback address; on failure, exits with a
/// message naming the program `prog`.
pub fn bind_loopback(prog: &str, addr: SocketAddr) -> TcpListener {
    if !addr.ip().is_loopback() {
        eprintln!("{prog}: refusing to serve on {addr}: this example binds loopback only");
        std::process::exit(2);
    }
    match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{prog}: cannot bind {addr}: {e}");
            std::process::exit(1);
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: eio_echo [127.0.0.1:PORT] [--ping-interval MS] [--ping-timeout MS]\n\
         (defaults: 127.0.0.1:3000, 25000, 20000)"
    );
    std::process::exit(2);
}

fn main() {
    let mut addr = String::from("127.0.0.1:3000");
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut millis = || -> Duration {
            match args.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(ms) => Duration::from_millis(ms),
                None => usage(),
            }
        };
        match arg.as_str() {
            "--ping-interval" => config.ping_interval = millis(),
            "--ping-timeout" => config.ping_timeout = millis(),
            "-h" | "--help" => usage(),
            a if a.starts_with('-') => usage(),
            a => addr = a.to_owned(),
        }
    }
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        usage()
    };
    let listener = bind_loopback("eio_echo", addr);
    let local = listener.local_addr().expect("local_addr");
    eprintln!(
        "eio_echo: serving http://{local}{} (pingInterval {} ms, pingTimeout {} ms)",
        config.path,
        config.ping_interval.as_millis(),
        config.ping_timeout.as_millis()
    );
    println!("LISTENING {}", local.port());
    let stop = AtomicBool::new(false);
    if let Err(e) = serve(listener, config, &stop) {
        eprintln!("eio_echo: {e}");
        std::process::exit(1);
    }
}
