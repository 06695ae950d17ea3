//! The Engine.IO server endpoint: every TCP connection, the routing, the
//! session table.
//!
//! [`Server`] is to [`Session`] what quinn-proto's `Endpoint` is to its
//! `Connection`s. The caller names each TCP connection by a handle of its
//! choice (`H`: a counter, a slab index, a smoltcp socket handle) and moves
//! bytes; the server owns, per connection, the HTTP/1.1 state (the request
//! head, `Content-Length` bodies, keep-alive, CORS preflights, the held
//! long-poll GET, the WebSocket handshake and then its frames), and it owns the
//! sessions: it routes every request to its session, opens new ones, answers
//! refusals as the reference server does, and drops sessions when they end.
//!
//! # The run loop
//!
//! ```text
//! a TCP connection is accepted -> handle_accept(now, conn)   (Err: write Error::write_response, close)
//! bytes arrived on conn        -> handle_input(now, conn, &mut unconsumed)
//!                                 drop `consumed` bytes, keep the rest; call again while it
//!                                 consumes or returns a message
//! the peer closed conn         -> handle_closed(now, conn)
//! then, always                 -> while let Some(t) = poll_transmit(&mut out)? { write out[..t.len]
//!                                 to t.conn, then close it if t.close_after }
//!                                 while let Some(e) = poll_event() { ... }
//!                                 sleep until input or poll_timeout(); then handle_timeout(now)
//! ```
//!
//! [`handle_input`](Server::handle_input) keeps no copy of the caller's bytes:
//! a partial request head, or a POST body that has not arrived whole, is left
//! unconsumed (0 consumed and nothing else, neither [`Input::blocked`] nor
//! [`Input::again`], means exactly "need more bytes"),
//! so a connection's read buffer must hold a head and a body:
//! [`Server::input_capacity`]. Messages come back from `handle_input` itself,
//! borrowed from the input (unmasked or base64-decoded in place): zero copy.
//!
//! ```
//! use sockwire::engineio::{Config, Data, Server};
//! use sockwire::entropy::SplitMix64;
//! use sockwire::storage::Fixed;
//! use sockwire::time::Instant;
//!
//! // No heap: 4 connections, 2 sessions, 2 KiB per session buffer.
//! let mut server: Server<u8, (), Fixed<4, 2, 2048>, _> =
//!     Server::new(Config::default(), SplitMix64::new(1));
//! let now = Instant::from_millis(0);
//! let mut head = *b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
//! let input = server.handle_input(now, 7, &mut head).unwrap();
//! assert_eq!(input.consumed, head.len());
//! let mut out = [0u8; 512];
//! let t = server.poll_transmit(&mut out).unwrap().unwrap();
//! assert_eq!(t.conn, 7);
//! let response = std::str::from_utf8(&out[..t.len]).unwrap();
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.contains("\r\n\r\n0{\"sid\":\""));
//! ```
//!
//! # Hostile peers
//!
//! Peers that stall, trickle or flood are shed without the well-behaved ones
//! noticing: a request head must be complete within [`Config::head_timeout`] of
//! its first byte (or of the accept, for a connection that sends nothing), a
//! body within [`Config::body_timeout`]; an idle keep-alive connection is
//! closed after [`Config::idle_timeout`]; connections and sessions are capped
//! ([`Config::max_connections`], [`Config::max_sessions`], and the
//! [`Storage`]'s capacity) with a 503 when full; `Origin` is checked against
//! [`Config::allowed_origins`] on polling and WebSocket requests (403).

use core::marker::PhantomData;

use super::packet::{Data, Payload, SEPARATOR};
use super::session::{CloseReason, Event as SessionEvent, Session, Sid};
use super::{Config, Error, Page, Route, Transport};
use crate::entropy::Entropy;
use crate::http::{self, HeadParser, Request, Version};
use crate::storage::{Buffer, Buffers, Fifo, Map, Storage, TimerKey, Timers};
use crate::time::Instant;
use crate::ws::{self, Assembler};

/// Which `Origin`s may use the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Origins {
    /// Any origin (the reference server's default). Polling responses carry
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// Only these origins (`scheme://host[:port]`, compared exactly; at most
    /// 255). A polling request with another `Origin` is refused with 403
    /// `{"code":4,"message":"Forbidden"}` (the reference's answer when its
    /// `allowRequest` refuses), a WebSocket upgrade with 403 and the text
    /// `Forbidden` (the reference's `abortUpgrade` body; its status there is
    /// 400); a request without `Origin` (not from a browser) is allowed.
    /// Polling responses echo the origin, with `Vary: Origin`.
    List(&'static [&'static str]),
}

/// What the application learns from [`Server::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// A session opened.
    Opened {
        /// Its id.
        sid: Sid,
        /// The transport it started on.
        transport: Transport,
    },
    /// A session moved from polling to WebSocket.
    Upgraded {
        /// Its id.
        sid: Sid,
    },
    /// A session closed: it takes no more commands; its last packets may
    /// still be going out, and it leaves the table once they are.
    Closed {
        /// Its id.
        sid: Sid,
        /// Why.
        reason: CloseReason,
    },
}

/// Bytes for one connection, from [`Server::poll_transmit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transmit<H> {
    /// The connection.
    pub conn: H,
    /// Bytes written at the start of the caller's buffer (0 when only
    /// `close_after` is set).
    pub len: usize,
    /// Close the connection once they are written; the server has forgotten
    /// it (a later [`Server::handle_closed`] for it is harmless).
    pub close_after: bool,
}

/// The result of [`Server::handle_input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Input<T> {
    /// Bytes consumed from the front of the input; pass the rest, with what
    /// arrives after it, next time.
    pub consumed: usize,
    /// What the input meant: for [`Server::handle_input`], a message of a
    /// session, borrowed from the input.
    pub message: Option<T>,
    /// The connection takes no more input until its output is transmitted (a
    /// response is waiting, or it is a held long-poll GET): drain
    /// [`Server::poll_transmit`], then call again.
    pub blocked: bool,
    /// Nothing was consumed, yet the call did something: a WebSocket control
    /// frame whose header an earlier call read was held until a pending pong
    /// went out, and is handled now. Call again with the same bytes.
    ///
    /// So the answer is never ambiguous: `consumed == 0` with no message,
    /// not `blocked` and not `again` means exactly "need more bytes".
    pub again: bool,
}

impl<T> Input<T> {
    pub(crate) fn consumed(consumed: usize) -> Self {
        Input {
            consumed,
            message: None,
            blocked: false,
            again: false,
        }
    }

    /// True when the call did anything at all: consumed bytes, gave a
    /// message, or asks to be called [`again`](Self::again). False means
    /// "need more bytes", or [`blocked`](Self::blocked).
    pub fn progressed(&self) -> bool {
        self.consumed > 0 || self.message.is_some() || self.again
    }
}

/// The per-session state of a layer above (the Socket.IO connection), made
/// when a session opens; its deadline joins the session's.
pub trait UserState<B>: Sized {
    /// What the server keeps to make the state of a new session.
    type Init;
    /// The state of a session that opened at `now`; `buffer(len)` gives a
    /// buffer of the server's storage.
    fn new(init: &Self::Init, now: Instant, buffer: fn(usize) -> B) -> Self;
    /// When the layer above needs its timeout handled for this session.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl<B> UserState<B> for () {
    type Init = ();
    fn new(_: &(), _: Instant, _: fn(usize) -> B) {}
}

/// A fixed response waiting to be written to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    None,
    /// A refusal with the reference server's status and body.
    Refuse(Error),
    /// A WebSocket handshake refusal.
    RefuseWs(ws::Error),
    /// An Engine.IO refusal of a WebSocket upgrade request, as the
    /// reference's `abortUpgrade`: 400 (403 for a forbidden origin) with the
    /// message as a `text/html` body.
    RefuseUpgrade(Error),
    /// `ok` to a POST.
    PostOk,
    /// 204 to a CORS preflight, allowing these request headers.
    Preflight(heapless::Vec<u8, 256>),
    /// The 101 of a WebSocket; with `close`, followed by a close frame (a
    /// second WebSocket for a session that has one, as the reference does).
    Accept {
        response: Response101,
        close: bool,
    },
    /// [`Config::pages`]`[index]`; `sent` body bytes written (`None`: not
    /// even the head yet).
    Page {
        index: usize,
        head_only: bool,
        sent: Option<usize>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a request head.
    Head,
    /// Reading a POST body for `sid`: `left` bytes of it not consumed yet.
    Body { sid: Sid, left: usize },
    /// Skipping `left` body bytes of a refused request.
    Skip { left: usize },
    /// A long-poll GET held by `sid`.
    Held { sid: Sid },
    /// The WebSocket of `sid`.
    WebSocket { sid: Sid },
    /// A WebSocket refused after its 101: input is dropped until the deadline.
    Discard,
    /// Closes once the pending response is written.
    Closing,
}

/// One TCP connection's state (internal; public only as a table entry type).
#[derive(Debug)]
pub struct Conn {
    state: State,
    parser: HeadParser,
    pending: Pending,
    keep_alive: bool,
    /// The index in [`Origins::List`] of the request's origin, to echo it.
    origin: Option<u8>,
    deadline: Option<Instant>,
    /// In the ready queue.
    queued: bool,
    /// The current request head has started arriving.
    head_started: bool,
    /// The caller cannot take more bytes for it now ([`Server::set_paused`]).
    paused: bool,
    /// Queued while paused: queue it when resumed.
    wants: bool,
}

/// One session's entry (internal; public only as a table entry type).
#[derive(Debug)]
pub struct Entry<H, B, U> {
    session: Session<B>,
    assembler: Assembler<B>,
    /// The connection of the held GET.
    held: Option<H>,
    /// The connection of the WebSocket (the transport, or the probe).
    ws: Option<H>,
    deadline: Option<Instant>,
    /// `Opened` not yet reported.
    opened: bool,
    /// In the notify queue.
    notified: bool,
    user: U,
}

/// The tables besides the sessions, borrowed apart from them.
struct Core<H, C, T, R, N> {
    config: Config,
    now: Instant,
    conns: C,
    timers: T,
    ready: R,
    notify: N,
    /// A session touched by an input whose message still borrows its entry:
    /// scheduled by the next call.
    dirty: Option<Sid>,
    _h: PhantomData<H>,
}

/// The Engine.IO server endpoint.
///
/// - `H` names connections (any `Copy + Ord` handle the caller chooses);
/// - `U` is per-session state of a layer above (`()` for none);
/// - `S` stores the tables: [`storage::Fixed`](crate::storage::Fixed) without
///   a heap, `storage::Growable` (feature `alloc`) with one;
/// - `E` is the entropy for session ids.
///
/// See the [module docs](self) for the run loop.
pub struct Server<H, U, S, E>
where
    U: UserState<<S as Buffers>::Buf>,
    S: Storage<H, Sid, Conn, Entry<H, <S as Buffers>::Buf, U>>,
{
    sessions: S::Sessions,
    core: Core<H, S::Conns, S::Timers, S::Ready, S::Notify>,
    entropy: E,
    init: U::Init,
}

impl<H, U, S, E> core::fmt::Debug for Server<H, U, S, E>
where
    U: UserState<<S as Buffers>::Buf>,
    S: Storage<H, Sid, Conn, Entry<H, <S as Buffers>::Buf, U>>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("connections", &self.core.conns.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

type Buf<S> = <S as Buffers>::Buf;
type EntryOf<H, S, U> = Entry<H, Buf<S>, U>;

impl<H, U, S, E> Server<H, U, S, E>
where
    H: Copy + Ord + core::fmt::Debug,
    U: UserState<Buf<S>>,
    S: Storage<H, Sid, Conn, Entry<H, Buf<S>, U>>,
    E: Entropy,
{
    /// A server with no connections.
    pub fn new(config: Config, entropy: E) -> Self
    where
        U::Init: Default,
    {
        Self::with_state(config, Default::default(), entropy)
    }

    /// A server whose layer above makes each session's state from `init`.
    pub fn with_state(config: Config, init: U::Init, entropy: E) -> Self {
        Server {
            init,
            sessions: Default::default(),
            core: Core {
                config,
                now: Instant::ZERO,
                conns: Default::default(),
                timers: Default::default(),
                ready: Default::default(),
                notify: Default::default(),
                dirty: None,
                _h: PhantomData,
            },
            entropy,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The bytes a connection's read buffer must be able to hold: the largest
    /// request head plus the largest body.
    pub fn input_capacity(&self) -> usize {
        self.core.config.http.max_head_len + self.core.config.max_payload
    }

    /// The number of connections.
    pub fn connections(&self) -> usize {
        self.core.conns.len()
    }

    /// The number of sessions (open, or closing and still writing).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The session `sid` and the layer above's state for it.
    pub fn session(&self, sid: &Sid) -> Option<(&Session<Buf<S>>, &U)> {
        self.sessions.get(sid).map(|e| (&e.session, &e.user))
    }

    /// The entropy source.
    pub fn entropy(&mut self) -> &mut E {
        &mut self.entropy
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// A TCP connection was accepted; its head deadline starts now.
    /// ([`handle_input`](Self::handle_input) on an unknown handle accepts it
    /// too.)
    ///
    /// Errors: [`Error::Unavailable`] when the connection table is full
    /// (answer with [`Error::write_response`], 503, and close);
    /// [`Error::InvalidState`] when `conn` is already known.
    pub fn handle_accept(&mut self, now: Instant, conn: H) -> Result<(), Error> {
        self.flush_dirty();
        self.core.now = now;
        if self.core.conns.get(&conn).is_some() {
            return Err(Error::InvalidState);
        }
        self.core.accept(conn, S::MAX_CONNS)
    }

    /// Bytes from connection `conn`: the caller's unconsumed bytes, from the
    /// first one not yet consumed. Returns how many were consumed and, at
    /// most, one message of one session. Call again with the rest while it
    /// consumes something or returns a message.
    ///
    /// Errors: [`Error::Unavailable`] for an unknown `conn` when the
    /// connection table is full (as [`handle_accept`](Self::handle_accept)).
    /// Everything the peer does wrong is answered on the wire (an HTTP
    /// refusal, a close) and not returned.
    pub fn handle_input<'a>(
        &'a mut self,
        now: Instant,
        conn: H,
        input: &'a mut [u8],
    ) -> Result<Input<(Sid, Data<'a>)>, Error> {
        self.input_with(now, conn, input, |_, sid, _, _, data| (sid, data))
    }

    /// [`handle_input`](Self::handle_input) for a layer above: a message is
    /// handed to `f` together with its session and the layer's state, and
    /// `f`'s answer is returned instead.
    pub fn input_with<'a, R>(
        &'a mut self,
        now: Instant,
        conn: H,
        input: &'a mut [u8],
        f: impl FnOnce(Instant, Sid, &mut Session<Buf<S>>, &'a mut U, Data<'a>) -> R,
    ) -> Result<Input<R>, Error> {
        self.core.now = now;
        self.flush_dirty();
        if self.core.conns.get(&conn).is_none() {
            self.core.accept(conn, S::MAX_CONNS)?;
        }
        let Some(c) = self.core.conns.get_mut(&conn) else {
            return Err(Error::InvalidState);
        };
        if c.pending != Pending::None {
            return Ok(Input {
                blocked: true,
                ..Input::consumed(0)
            });
        }
        match c.state {
            State::Head => {
                if input.is_empty() {
                    return Ok(Input::consumed(0));
                }
                if !c.head_started {
                    // The first byte of a head: its deadline starts.
                    c.head_started = true;
                    let t = now + self.core.config.head_timeout;
                    self.core.set_conn_deadline(conn, Some(t));
                }
                let c = self.core.conns.get_mut(&conn).expect("present");
                match c.parser.advance(input) {
                    Ok(None) => Ok(Input::consumed(0)),
                    Err(e) => {
                        self.core
                            .respond(conn, Pending::Refuse(Error::from(e)), false);
                        Ok(Input::consumed(input.len()))
                    }
                    Ok(Some(n)) => {
                        c.parser.reset();
                        c.head_started = false;
                        self.on_head(conn, &input[..n]);
                        Ok(Input::consumed(n))
                    }
                }
            }
            State::Body { sid, left } => self.on_body(now, conn, sid, left, input, f),
            State::Skip { left } => {
                let k = left.min(input.len());
                let c = self.core.conns.get_mut(&conn).expect("present");
                if k == left {
                    c.state = State::Head;
                    let idle = now + self.core.config.idle_timeout;
                    self.core.set_conn_deadline(conn, Some(idle));
                } else {
                    c.state = State::Skip { left: left - k };
                }
                Ok(Input::consumed(k))
            }
            State::Held { .. } => Ok(Input {
                blocked: !input.is_empty(),
                ..Input::consumed(0)
            }),
            State::WebSocket { sid } => self.on_ws(now, conn, sid, input, f),
            State::Discard | State::Closing => Ok(Input::consumed(input.len())),
        }
    }

    /// The peer closed connection `conn`, or it failed. A held GET's session
    /// closes (as the reference server does for a cancelled long-poll), and
    /// so does that of a POST whose body was not whole; a
    /// WebSocket's session closes unless it is an upgrade probe. Harmless for
    /// an unknown connection.
    pub fn handle_closed(&mut self, now: Instant, conn: H) {
        self.flush_dirty();
        self.core.now = now;
        let Some(c) = self.core.conns.remove(&conn) else {
            return;
        };
        let _ = self
            .core
            .timers
            .update(TimerKey::Conn(conn), c.deadline, None);
        let sid = match c.state {
            State::Held { sid } | State::WebSocket { sid } | State::Body { sid, .. } => sid,
            _ => return,
        };
        let Some(entry) = self.sessions.get_mut(&sid) else {
            return;
        };
        if let State::Body { .. } = c.state {
            // A POST cut short: the reference closes the session.
            entry.session.handle_post_aborted(now);
        }
        if entry.held == Some(conn) {
            entry.held = None;
            entry.session.handle_poll_aborted(now);
        }
        if entry.ws == Some(conn) {
            entry.ws = None;
            entry.session.handle_ws_eof(now);
        }
        self.core.touch(sid, entry);
    }

    // ------------------------------------------------------------------
    // Requests
    // ------------------------------------------------------------------

    fn on_head(&mut self, conn: H, head: &[u8]) {
        let now = self.core.now;
        let config = self.core.config;
        let refuse = |core: &mut Core<H, S::Conns, S::Timers, S::Ready, S::Notify>,
                      e: Error,
                      skip: Option<usize>| core.refuse(conn, e, skip);
        let req = match Request::parse(head, &config.http) {
            Ok(req) => req,
            Err(e) => return refuse(&mut self.core, Error::from(e), None),
        };
        let keep_alive = match req.version {
            Version::Http11 => !req.headers.has_token("connection", "close"),
            _ => req.headers.has_token("connection", "keep-alive"),
        };
        if let Some(c) = self.core.conns.get_mut(&conn) {
            c.keep_alive = keep_alive;
            c.origin = None;
        }
        // Bodies are framed by Content-Length only: without a usable length
        // the connection cannot be read further.
        let body = match req.headers.count("content-length") {
            0 => 0,
            1 => match req
                .headers
                .get("content-length")
                .and_then(|v| core::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<usize>().ok())
            {
                Some(n) => n,
                None => {
                    return refuse(
                        &mut self.core,
                        Error::Http(http::Error::InvalidHeader),
                        None,
                    );
                }
            },
            _ => {
                return refuse(
                    &mut self.core,
                    Error::Http(http::Error::InvalidHeader),
                    None,
                );
            }
        };
        if req.headers.get("transfer-encoding").is_some() {
            return refuse(
                &mut self.core,
                Error::Http(http::Error::InvalidHeader),
                None,
            );
        }
        // A configured page, before the origin check and the routing.
        if let Some(index) = page_for(&config, &req, body) {
            let head_only = req.method == "HEAD";
            let page = Pending::Page {
                index,
                head_only,
                sent: None,
            };
            return self.core.respond(conn, page, keep_alive);
        }
        // A body larger than maxPayload is not read: 413 and close. A refused
        // WebSocket upgrade closes too (its client waits for the close).
        let upgrade = req.headers.has_token("upgrade", "websocket");
        // A refused WebSocket upgrade is answered as the reference's
        // `abortUpgrade` answers it: the message as text, and a close.
        let refuse = |core: &mut Core<H, S::Conns, S::Timers, S::Ready, S::Notify>,
                      e: Error,
                      skip: Option<usize>| {
            if upgrade && e.code().is_some() {
                core.respond(conn, Pending::RefuseUpgrade(e), false)
            } else {
                core.refuse(conn, e, skip)
            }
        };
        let skip = (keep_alive && body <= config.max_payload && !upgrade).then_some(body);
        // The origin check, before anything else about the request.
        if let Some(origin) = req.headers.get("origin")
            && let super::Origins::List(list) = config.allowed_origins
        {
            match list.iter().position(|o| o.as_bytes() == origin) {
                Some(i) if i < 256 => {
                    if let Some(c) = self.core.conns.get_mut(&conn) {
                        c.origin = Some(i as u8);
                    }
                }
                _ => return refuse(&mut self.core, Error::Forbidden, None),
            }
        }
        if req.method == "OPTIONS" && req.path().starts_with(config.path) && body == 0 {
            let asked = req
                .headers
                .get("access-control-request-headers")
                .unwrap_or(b"");
            match heapless::Vec::from_slice(asked) {
                Ok(asked) => self
                    .core
                    .respond(conn, Pending::Preflight(asked), keep_alive),
                Err(_) => refuse(&mut self.core, Error::BadRequest, None),
            }
            return;
        }
        let route = match super::route(&req, &config) {
            Ok(route) => route,
            Err(e) => return refuse(&mut self.core, e, skip),
        };
        if body > 0 && !matches!(route, Route::Post(_)) {
            // A GET with a body: nothing in Engine.IO sends one.
            return refuse(&mut self.core, Error::BadRequest, skip);
        }
        match route {
            Route::Handshake(transport) => {
                let accept = if transport == Transport::WebSocket {
                    match ws_accept(head, &config, deflate_on_heap::<S>()) {
                        Ok(a) => Some(a),
                        Err(e) => return self.core.respond(conn, Pending::RefuseWs(e), false),
                    }
                } else {
                    None
                };
                self.open(conn, transport, accept);
            }
            Route::Poll(sid) => {
                let Some((sid, entry)) = lookup::<H, S, U>(&mut self.sessions, sid) else {
                    return refuse(&mut self.core, Error::UnknownSid, skip);
                };
                match entry.session.handle_poll(now) {
                    Ok(()) => {
                        entry.held = Some(conn);
                        if let Some(c) = self.core.conns.get_mut(&conn) {
                            c.state = State::Held { sid };
                        }
                        // A held GET has no deadline of its own: the
                        // session's heartbeat ends it.
                        self.core.set_conn_deadline(conn, None);
                    }
                    // A session that is closing takes no more requests.
                    Err(Error::InvalidState) => refuse(&mut self.core, Error::UnknownSid, skip),
                    // DuplicatePoll: the held GET gets its close packet
                    // through the session.
                    Err(e) => refuse(&mut self.core, e, skip),
                }
                self.core.touch(sid, entry);
            }
            Route::Post(_) if body > config.max_payload => {
                refuse(&mut self.core, Error::PayloadTooLarge, None)
            }
            Route::Post(sid) => {
                let Some((sid, entry)) = lookup::<H, S, U>(&mut self.sessions, sid) else {
                    return refuse(&mut self.core, Error::UnknownSid, skip);
                };
                if body == 0 {
                    // An empty body is one empty (invalid) packet: no bytes
                    // will come to trigger it, so read it now.
                    let failed = match entry.session.handle_post(now, &mut []) {
                        Ok(mut payload) => entry.session.read_message(now, &mut payload).err(),
                        Err(e) => Some(e),
                    };
                    match failed {
                        None => self.core.respond(conn, Pending::PostOk, keep_alive),
                        Some(e) => refuse(&mut self.core, post_refusal(e), skip),
                    }
                    self.core.touch(sid, entry);
                    return;
                }
                if let Some(c) = self.core.conns.get_mut(&conn) {
                    c.state = State::Body { sid, left: body };
                }
                let t = now + config.body_timeout;
                self.core.set_conn_deadline(conn, Some(t));
            }
            Route::Upgrade(sid) => {
                let (accept, _agreed) = match ws_accept(head, &config, deflate_on_heap::<S>()) {
                    Ok(a) => a,
                    Err(e) => return self.core.respond(conn, Pending::RefuseWs(e), false),
                };
                let Some((sid, entry)) = lookup::<H, S, U>(&mut self.sessions, sid) else {
                    return refuse(&mut self.core, Error::UnknownSid, None);
                };
                match entry.session.handle_upgrade(now) {
                    Ok(()) => {
                        #[cfg(all(feature = "deflate", feature = "alloc"))]
                        if let Some(agreed) = _agreed {
                            // The WebSocket was just made: this cannot fail.
                            let _ = entry.session.enable_deflate(agreed);
                        }
                        if let Some(old) = entry.ws.replace(conn) {
                            // A failed probe's connection: done with it.
                            self.core.close_conn(old);
                        }
                        entry.assembler = Assembler::new(S::assembler_buf(config.max_payload));
                        self.core.respond(
                            conn,
                            Pending::Accept {
                                response: accept,
                                close: false,
                            },
                            true,
                        );
                        if let Some(c) = self.core.conns.get_mut(&conn) {
                            c.state = State::WebSocket { sid };
                        }
                        self.core.set_conn_deadline(conn, None);
                    }
                    Err(Error::InvalidState) => refuse(&mut self.core, Error::UnknownSid, None),
                    // Upgraded already, or an upgrade in progress: the
                    // reference server completes this WebSocket's handshake
                    // and then closes it.
                    Err(_) => self.core.respond(
                        conn,
                        Pending::Accept {
                            response: accept,
                            close: true,
                        },
                        true,
                    ),
                }
                self.core.touch(sid, entry);
            }
        }
    }

    /// A new session on `conn`: its first held GET, or its WebSocket (whose
    /// 101 is `accept`).
    /// Schedules the session an earlier input touched.
    fn flush_dirty(&mut self) {
        if let Some(sid) = self.core.dirty.take() {
            if let Some(entry) = self.sessions.get_mut(&sid) {
                self.core.touch(sid, entry);
            }
            self.reap(sid);
        }
    }

    // Out of line: the entry it builds (a session and its buffers, several
    // KiB in fixed storage) then lives in this frame only while a session
    // opens, not in every caller's frame (the deepest call of an input).
    #[inline(never)]
    fn open(&mut self, conn: H, transport: Transport, accept: Option<(Response101, Agreed)>) {
        let now = self.core.now;
        let config = self.core.config;
        let cap = config.max_sessions.min(S::MAX_SESSIONS);
        if self.sessions.len() >= cap {
            let close = accept.is_some();
            return self
                .core
                .respond(conn, Pending::Refuse(Error::Unavailable), !close);
        }
        let queue = S::queue_buf(config.send_queue_len);
        let websocket = transport == Transport::WebSocket;
        // The session is made in the entry and its open packet queued there
        // (`Session::open` in two steps): a session returned in a `Result`
        // and moved into the entry costs a copy or two of it (its queue
        // buffer included) in this frame.
        let sid = Sid::random(&mut self.entropy);
        let mut entry = Entry {
            session: Session::new(now, transport, config, queue, sid),
            assembler: Assembler::new(S::assembler_buf(if websocket {
                config.max_payload
            } else {
                0
            })),
            held: (!websocket).then_some(conn),
            ws: websocket.then_some(conn),
            deadline: None,
            opened: true,
            notified: false,
            user: U::new(&self.init, now, S::assembler_buf),
        };
        if entry.session.queue_open().is_err() {
            return self
                .core
                .respond(conn, Pending::Refuse(Error::Unavailable), false);
        }
        if self.sessions.get(&sid).is_some() {
            // A repeated id: the entropy is broken; refuse rather than mix
            // two clients.
            return self
                .core
                .respond(conn, Pending::Refuse(Error::Unavailable), false);
        }
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        if let Some((_, Some(agreed))) = accept {
            // The WebSocket was just made: this cannot fail.
            let _ = entry.session.enable_deflate(agreed);
        }
        if self.sessions.insert(sid, entry).is_err() {
            return self
                .core
                .respond(conn, Pending::Refuse(Error::Unavailable), false);
        }
        if let Some((response, _)) = accept {
            self.core.respond(
                conn,
                Pending::Accept {
                    response,
                    close: false,
                },
                true,
            );
        }
        // After `respond`: a 101 keeps the connection whatever its
        // `Connection` header said (as in `on_head`'s upgrade).
        if let Some(c) = self.core.conns.get_mut(&conn) {
            c.state = if websocket {
                State::WebSocket { sid }
            } else {
                State::Held { sid }
            };
        }
        self.core.set_conn_deadline(conn, None);
        if let Some(entry) = self.sessions.get_mut(&sid) {
            self.core.touch(sid, entry);
        }
    }

    fn on_body<'a, R>(
        &'a mut self,
        now: Instant,
        conn: H,
        sid: Sid,
        left: usize,
        input: &'a mut [u8],
        f: impl FnOnce(Instant, Sid, &mut Session<Buf<S>>, &'a mut U, Data<'a>) -> R,
    ) -> Result<Input<R>, Error> {
        if input.len() < left {
            // The whole body first: a packet may span reads.
            return Ok(Input::consumed(0));
        }
        let keep_alive = self.core.conns.get(&conn).is_some_and(|c| c.keep_alive);
        let Some(entry) = self.sessions.get_mut(&sid) else {
            self.core
                .respond(conn, Pending::Refuse(Error::UnknownSid), keep_alive);
            return Ok(Input::consumed(left));
        };
        // One packet per call: up to the next separator.
        let (record, consumed, last) = match input[..left].iter().position(|&b| b == SEPARATOR) {
            Some(i) if i + 1 < left => (i, i + 1, false),
            // A trailing separator leaves an empty (invalid) last packet.
            Some(i) => (i, left - 1, false),
            None => (left, left, true),
        };
        let (record_bytes, _) = input.split_at_mut(record);
        // Errors of the body's content (an invalid packet, a client ping)
        // close the session but, as the reference server answers a body it
        // read whole, the POST itself gets 200 "ok"; errors of the request
        // (no such session, a POST already in flight, too large) refuse it.
        let result = match entry.session.handle_post(now, record_bytes) {
            Ok(mut payload) => {
                read_one(&mut entry.session, now, &mut payload).map_err(|e| (e, true))
            }
            Err(e) => Err((e, false)),
        };
        let Entry { session, user, .. } = entry;
        match result {
            Ok(message) => {
                let message = message.map(|data| f(now, sid, session, user, data));
                if last {
                    self.core.respond(conn, Pending::PostOk, keep_alive);
                } else if let Some(c) = self.core.conns.get_mut(&conn) {
                    c.state = State::Body {
                        sid,
                        left: left - consumed,
                    };
                }
                self.core.dirty = Some(sid);
                Ok(Input {
                    message,
                    ..Input::consumed(consumed)
                })
            }
            Err((e, content)) => {
                // The session is closed (or refused the body): 200 "ok", 400
                // or 413, and the rest of the body is dropped.
                let answer = if content {
                    Pending::PostOk
                } else {
                    Pending::Refuse(post_refusal(e))
                };
                self.core.respond(conn, answer, keep_alive);
                self.core.dirty = Some(sid);
                Ok(Input::consumed(left))
            }
        }
    }

    fn on_ws<'a, R>(
        &'a mut self,
        now: Instant,
        conn: H,
        sid: Sid,
        input: &'a mut [u8],
        f: impl FnOnce(Instant, Sid, &mut Session<Buf<S>>, &'a mut U, Data<'a>) -> R,
    ) -> Result<Input<R>, Error> {
        if input.is_empty() {
            return Ok(Input::consumed(0));
        }
        let Some(entry) = self.sessions.get_mut(&sid) else {
            self.core.close_conn(conn);
            return Ok(Input::consumed(input.len()));
        };
        if entry.ws != Some(conn) {
            self.core.close_conn(conn);
            return Ok(Input::consumed(input.len()));
        }
        let Entry {
            session,
            assembler,
            user,
            ..
        } = entry;
        let all = input.len();
        self.core.dirty = Some(sid);
        let r = match session.handle_ws_input(now, input, assembler) {
            Ok(r) => r,
            // The WebSocket failed: its close frame is queued; nothing more
            // is read from it.
            Err(_) => return Ok(Input::consumed(all)),
        };
        let (consumed, again) = (r.consumed, r.again);
        // Nothing consumed and nothing to say with bytes waiting: the
        // WebSocket holds a control frame back until its pending pong is
        // written. That is "blocked", not "need more bytes".
        let blocked = consumed == 0 && r.message.is_none() && !again && all > 0;
        let message = r.message.map(|data| f(now, sid, session, user, data));
        Ok(Input {
            consumed,
            message,
            blocked,
            again,
        })
    }

    // ------------------------------------------------------------------
    // Commands on sessions (for the application or a layer above)
    // ------------------------------------------------------------------

    /// Runs `f` on session `sid` and its layer state, then schedules what it
    /// queued. `None` for an unknown session.
    pub fn with_session<R>(
        &mut self,
        sid: &Sid,
        f: impl FnOnce(&mut Session<Buf<S>>, &mut U) -> R,
    ) -> Option<R> {
        self.flush_dirty();
        let entry = self.sessions.get_mut(sid)?;
        let r = f(&mut entry.session, &mut entry.user);
        self.core.touch(*sid, entry);
        Some(r)
    }

    /// Runs `f` on every session (in no promised order), then schedules what
    /// each queued.
    pub fn for_each_session(&mut self, mut f: impl FnMut(&Sid, &mut Session<Buf<S>>, &mut U)) {
        self.flush_dirty();
        let core = &mut self.core;
        self.sessions.for_each_mut(|sid, entry| {
            f(sid, &mut entry.session, &mut entry.user);
            core.touch(*sid, entry);
        });
    }

    /// Queues a text message on session `sid`.
    pub fn send_text(&mut self, sid: &Sid, text: &str) -> Result<(), Error> {
        self.with_session(sid, |s, _| s.send_text(text))
            .unwrap_or(Err(Error::UnknownSid))
    }

    /// Queues a binary message on session `sid`.
    pub fn send_binary(&mut self, sid: &Sid, data: &[u8]) -> Result<(), Error> {
        self.with_session(sid, |s, _| s.send_binary(data))
            .unwrap_or(Err(Error::UnknownSid))
    }

    /// Backpressure from the caller: while `conn` is paused,
    /// [`poll_transmit`](Self::poll_transmit) writes nothing for it (its
    /// session's packets wait in the session's bounded queue, and emits to it
    /// report a full queue). Pause a connection whose socket does not take
    /// bytes as fast as they come; resume it when it drains.
    pub fn set_paused(&mut self, conn: H, paused: bool) {
        self.flush_dirty();
        let Some(c) = self.core.conns.get_mut(&conn) else {
            return;
        };
        c.paused = paused;
        if !paused && core::mem::take(&mut c.wants) {
            self.core.queue(conn);
        }
    }

    /// Closes session `sid` after its queued packets (a close packet goes
    /// last).
    pub fn close(&mut self, now: Instant, sid: &Sid) {
        self.core.now = now;
        let _ = self.with_session(sid, |s, _| s.close(now));
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next. Changes after
    /// every input, command and timeout; never in the past of the last call
    /// unless something is due at once.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.first()
    }

    /// Runs the timers that are due: heartbeats, upgrade and close deadlines,
    /// connection deadlines; removes finished sessions. Harmless when early or
    /// repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeout_with(now, |_, _, _, _| {});
    }

    /// [`handle_timeout`](Self::handle_timeout) for a layer above: `f` runs
    /// for every session whose deadline is due, after the session's own
    /// timers.
    pub fn timeout_with(
        &mut self,
        now: Instant,
        mut f: impl FnMut(Instant, Sid, &mut Session<Buf<S>>, &mut U),
    ) {
        self.flush_dirty();
        self.core.now = now;
        while let Some(key) = self.core.timers.pop_due(now) {
            match key {
                TimerKey::Conn(conn) => self.core.conn_timeout(conn),
                TimerKey::Session(sid) => {
                    let Some(entry) = self.sessions.get_mut(&sid) else {
                        continue;
                    };
                    entry.deadline = None;
                    entry.session.handle_timeout(now);
                    f(now, sid, &mut entry.session, &mut entry.user);
                    self.core.touch(sid, entry);
                    if !entry.session.is_finished()
                        && let Some(t) = entry.deadline.filter(|t| *t <= now)
                    {
                        // A deadline that did not move would spin here: the
                        // next millisecond then.
                        let later = now + crate::time::Duration::from_millis(1);
                        if self
                            .core
                            .timers
                            .update(TimerKey::Session(sid), Some(t), Some(later))
                            .is_ok()
                        {
                            entry.deadline = Some(later);
                        }
                    }
                    self.reap(sid);
                }
            }
        }
    }

    /// Removes `sid` if it is finished and has told everything.
    fn reap(&mut self, sid: Sid) {
        let Some(entry) = self.sessions.get_mut(&sid) else {
            return;
        };
        if !entry.session.is_finished() || entry.opened || entry.session.has_event() {
            return;
        }
        let _ = self
            .core
            .timers
            .update(TimerKey::Session(sid), entry.deadline, None);
        let (held, ws) = (entry.held, entry.ws);
        self.sessions.remove(&sid);
        for conn in [held, ws].into_iter().flatten() {
            self.core.close_conn(conn);
        }
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// What the application must know: sessions opened, upgraded, closed.
    /// After [`Event::Closed`], [`session`](Self::session) still finds the
    /// session (and the layer above's state) until the next call that takes
    /// `&mut self`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.flush_dirty();
        while let Some(sid) = self.core.notify.pop() {
            let Some(entry) = self.sessions.get_mut(&sid) else {
                continue;
            };
            let event = if entry.opened {
                entry.opened = false;
                Some(Event::Opened {
                    sid,
                    transport: entry.session.transport(),
                })
            } else {
                match entry.session.poll_event() {
                    Some(SessionEvent::Upgraded) => Some(Event::Upgraded { sid }),
                    Some(SessionEvent::Closed(reason)) => Some(Event::Closed { sid, reason }),
                    _ => None,
                }
            };
            if entry.opened || entry.session.has_event() {
                // More to tell: stay in line (at the back, which is fair).
                if self.core.notify.push(sid).is_err() {
                    entry.notified = false;
                }
            } else {
                entry.notified = false;
                if event.is_some() {
                    // A session that has told everything leaves the table at
                    // the next call, not now: the layer above may read its
                    // state (the Socket.IO sockets of a closed session).
                    self.core.dirty = Some(sid);
                } else {
                    self.reap(sid);
                }
            }
            if event.is_some() {
                return event;
            }
        }
        None
    }

    /// Bytes to send on one connection, written into `out`, or `None` when no
    /// connection has any. Drain it after every input, command and timeout.
    ///
    /// An empty `out` takes nothing (`None`; everything stays queued).
    ///
    /// Errors: [`Error::BufferTooSmall`] when `out` cannot hold the next
    /// response (nothing is lost: call again with a larger buffer; 64 KiB
    /// always suffices for the default `max_payload` of a polling response
    /// split across calls, and a WebSocket needs at least 16 bytes).
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit<H>>, Error> {
        self.flush_dirty();
        if out.is_empty() {
            // Nothing fits: what is queued stays queued.
            return Ok(None);
        }
        // One pass over what is queued now (and what that queues in turn,
        // within bounds): a connection that stays in line without writing
        // must not make this loop spin.
        let mut budget = 2 * self.core.ready.len() + 8;
        while budget > 0
            && let Some(conn) = self.core.ready.pop()
        {
            budget -= 1;
            let Some(c) = self.core.conns.get_mut(&conn) else {
                continue;
            };
            c.queued = false;
            if c.paused {
                c.wants = true;
                continue;
            }
            if let Some(t) = self.transmit_pending(conn, out)? {
                return Ok(Some(t));
            }
            let Some(c) = self.core.conns.get(&conn) else {
                continue;
            };
            match c.state {
                State::Held { sid } => {
                    if let Some(t) = self.transmit_held(conn, sid, out)? {
                        return Ok(Some(t));
                    }
                }
                State::WebSocket { sid } => {
                    if let Some(t) = self.transmit_ws(conn, sid, out)? {
                        return Ok(Some(t));
                    }
                }
                State::Closing => {
                    self.core.forget(conn);
                    return Ok(Some(Transmit {
                        conn,
                        len: 0,
                        close_after: true,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// A fixed response waiting on `conn`.
    fn transmit_pending(&mut self, conn: H, out: &mut [u8]) -> Result<Option<Transmit<H>>, Error> {
        let core = &mut self.core;
        let Some(c) = core.conns.get_mut(&conn) else {
            return Ok(None);
        };
        if c.pending == Pending::None {
            return Ok(None);
        }
        let closing = c.state == State::Closing;
        let cors = Cors::of(&core.config, c.origin);
        // A page's next state while its body is not all written.
        let mut more = None;
        let written = match &c.pending {
            Pending::Page {
                index,
                head_only,
                sent,
            } => {
                let page = core.config.pages.get(*index).copied().unwrap_or(Page {
                    path: "",
                    content_type: "text/plain",
                    body: b"",
                });
                write_page(out, &page, *head_only, *sent, closing).map(|(n, sent)| {
                    if let Some(sent) = sent {
                        more = Some(Pending::Page {
                            index: *index,
                            head_only: *head_only,
                            sent: Some(sent),
                        });
                    }
                    n
                })
            }
            Pending::None => Ok(0),
            Pending::Refuse(e) => {
                let mut tmp = [0u8; 256];
                let n = match e.write_response(&mut tmp) {
                    Ok(n) => n,
                    Err(_) => Error::BadRequest.write_response(&mut tmp)?,
                };
                splice(out, &tmp[..n], cors, closing)
            }
            Pending::RefuseWs(e) => {
                let mut tmp = [0u8; 256];
                let n = match e.write_response(&mut tmp) {
                    Ok(n) => n,
                    Err(_) => ws::write_refusal(400, &mut tmp).map_err(Error::from)?,
                };
                splice(out, &tmp[..n], Cors::None, true)
            }
            Pending::RefuseUpgrade(e) => {
                let mut tmp = [0u8; 256];
                let message = e.message().as_bytes();
                let status = if *e == Error::Forbidden { 403 } else { 400 };
                let n = http::write_head(&mut tmp, |w| {
                    w.status_line(status);
                    w.header("Content-Type", b"text/html");
                    w.header_u64("Content-Length", message.len() as u64);
                    w.raw(b"\r\n");
                    w.raw(message);
                })?;
                splice(out, &tmp[..n], Cors::None, true)
            }
            Pending::PostOk => {
                let mut tmp = [0u8; 128];
                let n = super::write_post_ok(&mut tmp)?;
                splice(out, &tmp[..n], cors, closing)
            }
            Pending::Preflight(asked) => {
                let mut tmp = [0u8; 512];
                let n = http::write_head(&mut tmp, |w| {
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
                })?;
                splice(out, &tmp[..n], cors, closing)
            }
            Pending::Accept { response, close } => {
                let extra = if *close { 2 } else { 0 };
                let n = response.len();
                if out.len() < n + extra {
                    Err(Error::BufferTooSmall {
                        required: n + extra,
                    })
                } else {
                    out[..n].copy_from_slice(response);
                    if *close {
                        // An empty close frame, as `ws` sends for close().
                        out[n..n + 2].copy_from_slice(&[0x88, 0x00]);
                    }
                    Ok(n + extra)
                }
            }
        };
        let len = match written {
            Ok(n) => n,
            Err(e) => {
                core.queue(conn);
                return Err(e);
            }
        };
        if let Some(next) = more {
            // The rest of a page: stay in line.
            c.pending = next;
            core.queue(conn);
            return Ok(Some(Transmit {
                conn,
                len,
                close_after: false,
            }));
        }
        let was = core::mem::replace(&mut c.pending, Pending::None);
        if closing {
            core.forget(conn);
            return Ok(Some(Transmit {
                conn,
                len,
                close_after: true,
            }));
        }
        match (was, c.state) {
            (Pending::Accept { close: true, .. }, _) => {
                // Wait a moment for the client's close frame, then close.
                c.state = State::Discard;
                let t = core.now + crate::time::Duration::from_millis(2_000);
                core.set_conn_deadline(conn, Some(t));
            }
            (Pending::Accept { .. }, State::WebSocket { .. }) => {
                // The session may have frames to send already.
                core.queue(conn);
            }
            (_, State::Head) => {
                let idle = core.now + core.config.idle_timeout;
                core.set_conn_deadline(conn, Some(idle));
            }
            _ => {}
        }
        Ok(Some(Transmit {
            conn,
            len,
            close_after: false,
        }))
    }

    fn transmit_held(
        &mut self,
        conn: H,
        sid: Sid,
        out: &mut [u8],
    ) -> Result<Option<Transmit<H>>, Error> {
        let Some(entry) = self.sessions.get_mut(&sid) else {
            self.core.close_conn(conn);
            return Ok(None);
        };
        let Some(c) = self.core.conns.get_mut(&conn) else {
            return Ok(None);
        };
        let cors = Cors::of(&self.core.config, c.origin);
        let keep_alive = c.keep_alive;
        // Room for the spliced headers, taken from the end of `out`.
        let room = cors.len()
            + if keep_alive {
                0
            } else {
                CONNECTION_CLOSE.len()
            };
        let avail = out.len().saturating_sub(room);
        let n = match entry.session.poll_http(&mut out[..avail]) {
            Ok(n) => n,
            Err(Error::BufferTooSmall { required }) => {
                self.core.queue(conn);
                return Err(Error::BufferTooSmall {
                    required: required + room,
                });
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(None);
        }
        entry.held = None;
        let len = splice_in_place(out, n, cors, !keep_alive);
        // The other transport may have something now (an upgrade's close).
        if let Some(ws) = entry.ws {
            self.core.queue(ws);
        }
        self.core.schedule(sid, entry);
        if !keep_alive {
            self.core.forget(conn);
            return Ok(Some(Transmit {
                conn,
                len,
                close_after: true,
            }));
        }
        if let Some(c) = self.core.conns.get_mut(&conn) {
            c.state = State::Head;
        }
        let idle = self.core.now + self.core.config.idle_timeout;
        self.core.set_conn_deadline(conn, Some(idle));
        Ok(Some(Transmit {
            conn,
            len,
            close_after: false,
        }))
    }

    fn transmit_ws(
        &mut self,
        conn: H,
        sid: Sid,
        out: &mut [u8],
    ) -> Result<Option<Transmit<H>>, Error> {
        let Some(entry) = self.sessions.get_mut(&sid) else {
            self.core.forget(conn);
            return Ok(Some(Transmit {
                conn,
                len: 0,
                close_after: true,
            }));
        };
        if entry.ws != Some(conn) {
            self.core.forget(conn);
            return Ok(Some(Transmit {
                conn,
                len: 0,
                close_after: true,
            }));
        }
        let mut len = 0;
        let mut drained = false;
        // A full `out` is not a drained session: writing into an empty slice
        // gives 0 for the rest of a begun frame.
        while len < out.len() {
            match entry.session.poll_ws(&mut out[len..]) {
                Ok(0) => {
                    drained = true;
                    break;
                }
                Ok(n) => len += n,
                Err(Error::BufferTooSmall { required }) => {
                    if len == 0 {
                        self.core.queue(conn);
                        return Err(Error::BufferTooSmall { required });
                    }
                    break;
                }
                Err(e) => {
                    if len == 0 {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        let gone = drained && !entry.session.has_websocket();
        if gone {
            // The closing handshake is over: the server closes TCP.
            entry.ws = None;
        }
        if let Some(held) = entry.held {
            self.core.queue(held);
        }
        self.core.schedule(sid, entry);
        if gone {
            self.core.forget(conn);
            self.reap(sid);
            return Ok(Some(Transmit {
                conn,
                len,
                close_after: true,
            }));
        }
        if !drained {
            // More to write: stay in line.
            self.core.queue(conn);
        }
        if len == 0 {
            return Ok(None);
        }
        Ok(Some(Transmit {
            conn,
            len,
            close_after: false,
        }))
    }
}

/// The session named by `sid` in a request.
fn lookup<'m, H, S, U>(
    sessions: &'m mut S::Sessions,
    sid: &str,
) -> Option<(Sid, &'m mut EntryOf<H, S, U>)>
where
    U: UserState<Buf<S>>,
    S: Storage<H, Sid, Conn, Entry<H, Buf<S>, U>>,
{
    let sid = Sid::parse(sid)?;
    sessions.get_mut(&sid).map(|e| (sid, e))
}

/// Reads one packet's message from a one-packet payload.
fn read_one<'a, B: Buffer>(
    session: &mut Session<B>,
    now: Instant,
    payload: &mut Payload<'a>,
) -> Result<Option<Data<'a>>, Error> {
    session.read_message(now, payload)
}

/// How a failed POST is answered: a closed session as an unknown one.
fn post_refusal(e: Error) -> Error {
    match e {
        Error::InvalidState => Error::UnknownSid,
        e if e.http_status().is_some() => e,
        _ => Error::BadRequest,
    }
}

/// Room for a 101 response: with permessage-deflate it may answer the
/// extension (up to 110 bytes more).
#[cfg(feature = "deflate")]
const RESPONSE_101: usize = 320;
#[cfg(not(feature = "deflate"))]
const RESPONSE_101: usize = 192;
type Response101 = heapless::Vec<u8, RESPONSE_101>;

/// What a WebSocket accepted with permessage-deflate agreed to.
#[cfg(feature = "deflate")]
type Agreed = Option<ws::deflate::Agreed>;
#[cfg(not(feature = "deflate"))]
type Agreed = ();

/// Whether sessions in `S` may take permessage-deflate windows from the heap.
#[cfg_attr(not(feature = "deflate"), allow(clippy::extra_unused_type_parameters))]
fn deflate_on_heap<S: Buffers>() -> bool {
    #[cfg(feature = "deflate")]
    return S::DEFLATE_ON_HEAP;
    #[cfg(not(feature = "deflate"))]
    false
}

/// Validates a WebSocket upgrade request and writes its 101. With feature
/// `deflate`, [`Config::per_message_deflate`] set and storage that may use
/// the heap (`heap`), a client's acceptable offer is answered, and the agreed
/// behaviour returned for the session.
#[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
fn ws_accept(head: &[u8], config: &Config, heap: bool) -> Result<(Response101, Agreed), ws::Error> {
    let mut handshake = ws::ServerHandshake::with_limits(config.http);
    let req = handshake.handle_input(head)?.ok_or(ws::Error::NotUpgrade)?;
    let mut out = [0u8; RESPONSE_101];
    #[cfg(feature = "deflate")]
    let (n, agreed) = {
        let pmd = config.per_message_deflate.filter(|_| heap);
        let params = pmd.and_then(|p| req.deflate_offer(&p.config));
        let n = req.accept_deflate(&ws::Accept::default(), params.as_ref(), &mut out)?;
        let agreed = params
            .zip(pmd)
            .map(|(params, p)| params.agreed(ws::Role::Server, &p.config));
        (n, agreed)
    };
    #[cfg(not(feature = "deflate"))]
    let (n, agreed) = (req.accept(&ws::Accept::default(), &mut out)?, ());
    let response = heapless::Vec::from_slice(&out[..n])
        .map_err(|_| ws::Error::BufferTooSmall { required: n })?;
    Ok((response, agreed))
}

const CONNECTION_CLOSE: &[u8] = b"Connection: close\r\n";

/// The index of the configured page a request asks for: a `GET` or `HEAD`
/// without a body, for a page's exact path, with a printable content type.
fn page_for(config: &Config, req: &Request<'_>, body: usize) -> Option<usize> {
    if body != 0 || !matches!(req.method, "GET" | "HEAD") {
        return None;
    }
    let path = req.path();
    config.pages.iter().position(|p| {
        p.path == path
            && p.content_type
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    })
}

/// Writes the next part of `page` into `out`: its head when `sent` is `None`,
/// then as much of the body as fits. Returns the length and, when body bytes
/// remain, how many are written so far.
fn write_page(
    out: &mut [u8],
    page: &Page,
    head_only: bool,
    sent: Option<usize>,
    close: bool,
) -> Result<(usize, Option<usize>), Error> {
    let body = if head_only { &b""[..] } else { page.body };
    let (mut len, sent) = match sent {
        Some(sent) => (0, sent),
        None => {
            let n = http::write_head(out, |w| {
                w.status_line(200);
                w.header("Content-Type", page.content_type.as_bytes());
                w.header_u64("Content-Length", page.body.len() as u64);
                if close {
                    w.raw(CONNECTION_CLOSE);
                }
                w.raw(b"\r\n");
            })?;
            (n, 0)
        }
    };
    let rest = body.get(sent..).unwrap_or_default();
    let k = rest.len().min(out.len() - len);
    if len == 0 && k == 0 && !rest.is_empty() {
        return Err(Error::BufferTooSmall { required: 1 });
    }
    out[len..len + k].copy_from_slice(&rest[..k]);
    len += k;
    let sent = sent + k;
    Ok((len, (sent < body.len()).then_some(sent)))
}

/// The CORS headers of a response.
#[derive(Clone, Copy)]
enum Cors {
    None,
    Any,
    Origin(&'static str),
}

impl Cors {
    fn of(config: &Config, origin: Option<u8>) -> Cors {
        match (config.allowed_origins, origin) {
            (super::Origins::Any, _) => Cors::Any,
            (super::Origins::List(list), Some(i)) => list
                .get(usize::from(i))
                .map_or(Cors::None, |o| Cors::Origin(o)),
            _ => Cors::None,
        }
    }

    fn parts(self) -> [&'static [u8]; 3] {
        match self {
            Cors::None => [b"", b"", b""],
            Cors::Any => [b"Access-Control-Allow-Origin: *\r\n", b"", b""],
            Cors::Origin(o) => [
                b"Access-Control-Allow-Origin: ",
                o.as_bytes(),
                b"\r\nVary: Origin\r\n",
            ],
        }
    }

    fn len(self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }
}

/// Copies `response` into `out` with the CORS headers (and `Connection:
/// close`) after its status line.
fn splice(out: &mut [u8], response: &[u8], cors: Cors, close: bool) -> Result<usize, Error> {
    let extra = cors.len() + if close { CONNECTION_CLOSE.len() } else { 0 };
    let total = response.len() + extra;
    if out.len() < total {
        return Err(Error::BufferTooSmall { required: total });
    }
    out[..response.len()].copy_from_slice(response);
    Ok(splice_in_place(out, response.len(), cors, close))
}

/// Inserts the CORS headers (and `Connection: close`) after the status line of
/// the `n`-byte response at the start of `out`, which has room for them.
fn splice_in_place(out: &mut [u8], n: usize, cors: Cors, close: bool) -> usize {
    let Some(line_end) = out[..n]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| i + 2)
    else {
        return n;
    };
    let mut parts = [&b""[..]; 4];
    parts[..3].copy_from_slice(&cors.parts());
    if close {
        parts[3] = CONNECTION_CLOSE;
    }
    let extra: usize = parts.iter().map(|p| p.len()).sum();
    out.copy_within(line_end..n, line_end + extra);
    let mut at = line_end;
    for p in parts {
        out[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    n + extra
}

impl<H, C, T, R, N> Core<H, C, T, R, N>
where
    H: Copy + Ord,
    C: Map<H, Conn>,
    T: Timers<TimerKey<H, Sid>>,
    R: Fifo<H>,
    N: Fifo<Sid>,
{
    fn accept(&mut self, conn: H, storage_cap: usize) -> Result<(), Error> {
        if self.conns.len() >= self.config.max_connections.min(storage_cap) {
            return Err(Error::Unavailable);
        }
        let c = Conn {
            state: State::Head,
            parser: HeadParser::new(self.config.http),
            pending: Pending::None,
            keep_alive: true,
            origin: None,
            deadline: None,
            queued: false,
            head_started: false,
            paused: false,
            wants: false,
        };
        if self.conns.insert(conn, c).is_err() {
            return Err(Error::Unavailable);
        }
        let t = self.now + self.config.head_timeout;
        self.set_conn_deadline(conn, Some(t));
        Ok(())
    }

    fn set_conn_deadline(&mut self, conn: H, t: Option<Instant>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let old = core::mem::replace(&mut c.deadline, t);
        if self.timers.update(TimerKey::Conn(conn), old, t).is_err() {
            // The timer table is full (a fixed table): keep no deadline rather
            // than a wrong one.
            c.deadline = None;
        }
    }

    /// Puts `conn` in the ready queue (or, while it is paused, remembers
    /// that it wants to be).
    fn queue(&mut self, conn: H) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.paused {
            c.wants = true;
        } else if !c.queued && self.ready.push(conn).is_ok() {
            c.queued = true;
        }
    }

    /// A fixed response for `conn`; after it the connection reads the next
    /// request (`keep`) or closes.
    fn respond(&mut self, conn: H, pending: Pending, keep: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.pending = pending;
        let keep = keep && c.keep_alive;
        if !keep {
            c.state = State::Closing;
        } else if !matches!(c.state, State::WebSocket { .. }) {
            c.state = State::Head;
        }
        // No deadline while the response waits for the caller to take it;
        // closing connections get the idle one (a peer that does not read).
        let t = (!keep).then(|| self.now + self.config.idle_timeout);
        self.set_conn_deadline(conn, t);
        self.queue(conn);
    }

    /// Refuses the request on `conn` with `e`; with `skip`, its body of that
    /// many bytes is skipped and the connection kept, else it closes.
    fn refuse(&mut self, conn: H, e: Error, skip: Option<usize>) {
        self.respond(conn, Pending::Refuse(e), skip.is_some());
        if let Some(left) = skip.filter(|l| *l > 0)
            && let Some(c) = self.conns.get_mut(&conn)
            && c.state == State::Head
        {
            c.state = State::Skip { left };
        }
    }

    /// Closes `conn` from our side (a `close_after` transmit comes).
    fn close_conn(&mut self, conn: H) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = State::Closing;
            self.set_conn_deadline(conn, None);
            self.queue(conn);
        }
    }

    /// Forgets `conn` (a `close_after` transmit is being returned for it).
    fn forget(&mut self, conn: H) {
        if let Some(c) = self.conns.remove(&conn) {
            let _ = self.timers.update(TimerKey::Conn(conn), c.deadline, None);
        }
    }

    fn conn_timeout(&mut self, conn: H) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.deadline = None;
        match c.state {
            // A head that started but did not finish in time: 408, as Node's
            // HTTP server answers a headers timeout.
            State::Head if c.head_started => {
                self.respond(conn, Pending::Refuse(Error::RequestTimeout), false)
            }
            State::Body { .. } | State::Skip { .. } => {
                self.respond(conn, Pending::Refuse(Error::RequestTimeout), false)
            }
            // Silent or idle, or a closing connection whose peer does not
            // read: close.
            _ => {
                c.pending = Pending::None;
                self.close_conn(conn);
            }
        }
    }

    /// Schedules what `entry`'s session has to send and tell.
    /// A finished session gets a deadline of now: `handle_timeout` reaps it.
    fn touch<B: Buffer, U: UserState<B>>(&mut self, sid: Sid, entry: &mut Entry<H, B, U>) {
        for conn in [entry.held, entry.ws].into_iter().flatten() {
            self.queue(conn);
        }
        self.schedule(sid, entry);
    }

    /// The session's events and deadline (not its connections: for the
    /// transmit paths, which just wrote what it had).
    fn schedule<B: Buffer, U: UserState<B>>(&mut self, sid: Sid, entry: &mut Entry<H, B, U>) {
        if (entry.opened || entry.session.has_event()) && !entry.notified {
            entry.notified = self.notify.push(sid).is_ok();
        }
        let finished = entry.session.is_finished();
        let t = if finished {
            // Reaped at once by `handle_timeout` once it has told everything
            // (until then `poll_event` reaps it).
            (!entry.opened && !entry.session.has_event()).then_some(self.now)
        } else {
            match (entry.session.poll_timeout(), entry.user.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        if t != entry.deadline {
            let old = core::mem::replace(&mut entry.deadline, t);
            if self.timers.update(TimerKey::Session(sid), old, t).is_err() {
                entry.deadline = None;
            }
        }
    }
}
