//! The Engine.IO client endpoint: one session at a time, and every connection
//! it needs.
//!
//! [`Client`] mirrors [`Server`](super::Server): it owns the connections,
//! named by [`ConnId`] handles it picks, and asks the driver for them through
//! [`ClientEvent::OpenConnection`]: the WebSocket of a WebSocket session, the
//! long-polling GET and POST connections (HTTP/1.1, kept alive), and the
//! upgrade's WebSocket. It writes the WebSocket opening handshakes and the
//! polling requests, parses the answers (heads, `Content-Length` and
//! chunked bodies, payloads packet by packet), probes and performs the
//! upgrade, and closes what is no longer needed. Underneath,
//! [`ClientSession`] is the session machine for those who run the
//! connections themselves.
//!
//! A driver only connects, moves bytes and sleeps:
//!
//! - on [`ClientEvent::OpenConnection`], open a TCP connection to the server
//!   and call [`Client::handle_connected`] (or [`Client::handle_closed`] when
//!   it fails);
//! - feed what a connection receives to [`Client::handle_input`], which
//!   returns how much it consumed (keep the rest, append what arrives next)
//!   and at most one message; "consumed 0 and nothing else" means exactly
//!   "need more bytes";
//! - after any input or command, drain [`Client::poll_transmit`] (each
//!   [`Transmit`] names its connection; `close_after` asks to close it) and
//!   [`Client::poll_event`];
//! - report a connection's end with [`Client::handle_closed`], and sleep until
//!   input or [`Client::poll_timeout`].
//!
//! A session that ends stays ended: [`Client::connect`] starts the next one
//! (the Socket.IO [`Client`](crate::socketio::Client) does that with the
//! reference back-off).

use super::chunked::{self, ChunkError};
use super::client_session::{
    ClientConfig, ClientSession, ClientSessionEvent as SessionEvent, Request,
};
use super::packet::{Data, Payload};
use super::server::{Input, Transmit};
use super::{ClientCloseReason, Error, Transport};
use crate::entropy::Entropy;
use crate::http::{self, HeadParser, Limits, Version};
use crate::storage::Buffer;
use crate::time::Instant;
#[cfg(feature = "deflate")]
use crate::ws;
use crate::ws::{Assembler, ClientHandshake, ClientRequest};

/// The longest `Host` a [`Client`] keeps, in bytes.
pub const MAX_HOST_LEN: usize = 255;

/// The largest body of an answer that is not a payload (a POST's `ok`, a
/// refusal) read whole; a longer one is skipped unread.
const MAX_SMALL_BODY: usize = 4096;

/// A connection of a [`Client`], named by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnId(pub u32);

/// The request a polling connection carries.
fn request(purpose: Purpose) -> Request {
    if purpose == Purpose::PollingGet {
        Request::Get(0)
    } else {
        Request::Post(0)
    }
}

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Purpose {
    /// The WebSocket of a WebSocket session.
    WebSocket,
    /// The long-polling GETs (the handshake, then each long poll).
    PollingGet,
    /// The long-polling POSTs.
    PollingPost,
    /// The upgrade's WebSocket (probe, then the session's transport).
    Upgrade,
}

/// What the application learns from [`Client::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientEvent {
    /// Open a TCP connection to the server for `conn`, then call
    /// [`Client::handle_connected`] (or [`Client::handle_closed`] if it
    /// cannot be opened).
    OpenConnection {
        /// The handle to use for it.
        conn: ConnId,
        /// What it is for.
        purpose: Purpose,
    },
    /// The session opened: its id and heartbeat are known and queued
    /// messages flow.
    Open,
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The upgrade failed; the session stays on polling.
    UpgradeFailed,
    /// The session ended (or could not start); [`Client::connect`] starts
    /// another.
    Closed(ClientCloseReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Http {
    /// Nothing in flight.
    Idle,
    /// A request was written; its answer's head is awaited.
    Head,
    /// A 200 GET's payload, `left` bytes of it still to come.
    Payload { left: usize, close: bool },
    /// Any other answer's body, read whole (or skipped when long).
    Body {
        status: u16,
        left: usize,
        close: bool,
    },
    /// A `Transfer-Encoding: chunked` answer.
    Chunked(Chunks),
}

/// Where a chunked answer is. The input the driver keeps starts with `left`
/// bytes of data up to the end of the current chunk (the data of earlier
/// chunks not yet used is moved up to join it, over their headers), then the
/// next chunk's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunks {
    status: u16,
    close: bool,
    /// A 200 GET's payload, read packet by packet; otherwise a body read
    /// whole (up to [`MAX_SMALL_BODY`]).
    payload: bool,
    /// A body longer than [`MAX_SMALL_BODY`]: its data is skipped unread.
    skip: bool,
    /// No chunk header read yet (the first has no CRLF before it).
    first: bool,
    left: usize,
    /// The data bytes announced so far.
    total: usize,
}

/// How an answer's body ends.
enum Length {
    Known(usize),
    Chunked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The driver is opening the TCP connection.
    Connecting,
    /// WebSocket: the opening handshake with this key is to be written
    /// (`sent` false) or its answer awaited.
    Handshake { key: [u8; 24], sent: bool },
    /// WebSocket frames.
    Frames,
    /// An HTTP connection.
    Http(Http),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Link {
    id: ConnId,
    purpose: Purpose,
    state: State,
    /// Its [`ClientEvent::OpenConnection`] was handed out.
    announced: bool,
}

/// The Engine.IO client endpoint (see the [module docs](self)).
///
/// Storage: `B` for the session's send queue and for the WebSocket message
/// assembler, both lent at construction and reused by every session.
#[derive(Debug)]
pub struct Client<B, E> {
    config: ClientConfig,
    start: Transport,
    host: heapless::String<MAX_HOST_LEN>,
    session: Option<ClientSession<B, E>>,
    /// The queue storage and entropy while no session runs.
    parts: Option<(B, E)>,
    assembler: Assembler<B>,
    ws: Option<Link>,
    get: Option<Link>,
    post: Option<Link>,
    next_id: u32,
    /// A WebSocket session's deadline for its connection and handshake.
    opening: Option<Instant>,
    to_close: heapless::Deque<ConnId, 4>,
    events: heapless::Deque<ClientEvent, 8>,
    now: Instant,
}

impl<B: Buffer, E: Entropy> Client<B, E> {
    /// A client for the server at `host` (the `Host` header: host and, if
    /// not the default, port) that starts its sessions on `start`
    /// ([`Transport::Polling`] upgrades when [`ClientConfig::upgrade`] is on
    /// and the server offers it). `queue` holds the messages waiting to be
    /// sent, `assembly` a WebSocket message that arrives in pieces (up to
    /// its length). No session runs until [`connect`](Self::connect).
    pub fn new(
        config: ClientConfig,
        start: Transport,
        host: &str,
        queue: B,
        assembly: B,
        entropy: E,
    ) -> Result<Self, Error> {
        let host = heapless::String::try_from(host).map_err(|_| Error::InvalidState)?;
        Ok(Client {
            config,
            start,
            host,
            session: None,
            parts: Some((queue, entropy)),
            assembler: Assembler::new(assembly),
            ws: None,
            get: None,
            post: None,
            next_id: 0,
            opening: None,
            to_close: heapless::Deque::new(),
            events: heapless::Deque::new(),
            now: Instant::from_millis(0),
        })
    }

    /// The session, while one runs (or its WebSocket still closes).
    pub fn session(&self) -> Option<&ClientSession<B, E>> {
        self.session.as_ref()
    }

    /// The session, mutably: for the layer above, which queues its messages
    /// on it.
    pub fn session_mut(&mut self) -> Option<&mut ClientSession<B, E>> {
        self.session.as_mut()
    }

    /// True while a session is open.
    pub fn is_open(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.is_open())
    }

    /// True when no session runs or starts: [`connect`](Self::connect)
    /// would start one.
    pub fn is_idle(&self) -> bool {
        self.parts.is_some() && self.ws.is_none()
    }

    /// The entropy source (for the layer above's draws, such as back-off
    /// jitter).
    pub fn entropy_mut(&mut self) -> Option<&mut E> {
        match (self.parts.as_mut(), self.session.as_mut()) {
            (Some((_, e)), _) => Some(e),
            (None, Some(s)) => s.entropy_mut(),
            (None, None) => None,
        }
    }

    /// How many connections are open or being opened.
    pub fn connections(&self) -> usize {
        [self.ws, self.get, self.post].iter().flatten().count()
    }

    fn new_link(&mut self, purpose: Purpose) -> Link {
        self.next_id = self.next_id.wrapping_add(1);
        Link {
            id: ConnId(self.next_id),
            purpose,
            state: State::Connecting,
            announced: false,
        }
    }

    fn slot(&mut self, purpose: Purpose) -> &mut Option<Link> {
        match purpose {
            Purpose::WebSocket | Purpose::Upgrade => &mut self.ws,
            Purpose::PollingGet => &mut self.get,
            Purpose::PollingPost => &mut self.post,
        }
    }

    /// The link named `conn`: its purpose and state.
    fn find(&self, conn: ConnId) -> Option<(Purpose, State)> {
        [self.ws, self.get, self.post]
            .into_iter()
            .flatten()
            .find(|l| l.id == conn)
            .map(|l| (l.purpose, l.state))
    }

    fn set_state(&mut self, purpose: Purpose, state: State) {
        if let Some(l) = self.slot(purpose).as_mut() {
            l.state = state;
        }
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Starts a session at `now`: asks for its first connection.
    /// [`Error::InvalidState`] while one runs.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.now = now;
        if !self.is_idle() {
            return Err(Error::InvalidState);
        }
        match self.start {
            Transport::WebSocket => {
                let link = self.new_link(Purpose::WebSocket);
                self.ws = Some(link);
                self.opening = Some(now + self.config.open_timeout);
            }
            Transport::Polling => {
                let Some((queue, entropy)) = self.parts.take() else {
                    return Err(Error::InvalidState);
                };
                self.session = Some(ClientSession::polling(now, self.config, queue, entropy));
            }
        }
        self.plan();
        Ok(())
    }

    /// Ends the session after its queued messages (see
    /// [`ClientSession::close`]); a session still connecting is dropped.
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        match self.session.as_mut() {
            Some(s) => s.close(now),
            None => {
                if let Some(link) = self.ws.take() {
                    self.close_link(link);
                    self.opening = None;
                    let _ = self
                        .events
                        .push_back(ClientEvent::Closed(ClientCloseReason::ForcedClose));
                }
            }
        }
        self.plan();
    }

    /// Queues a text message on the session ([`ClientSession::send_text`]).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.session
            .as_mut()
            .ok_or(Error::InvalidState)?
            .send_text(text)
    }

    /// Queues a binary message on the session ([`ClientSession::send_binary`]).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.session
            .as_mut()
            .ok_or(Error::InvalidState)?
            .send_binary(data)
    }

    // ------------------------------------------------------------------
    // Connections
    // ------------------------------------------------------------------

    /// The TCP connection `conn` is open.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        let Some((purpose, State::Connecting)) = self.find(conn) else {
            return;
        };
        let state = match purpose {
            Purpose::WebSocket | Purpose::Upgrade => {
                let mut key = [0u8; 24];
                if let Some(e) = self.entropy_mut() {
                    key = *ClientHandshake::new(ClientRequest::new("", ""), e).key();
                }
                State::Handshake { key, sent: false }
            }
            Purpose::PollingGet | Purpose::PollingPost => State::Http(Http::Idle),
        };
        self.set_state(purpose, state);
    }

    /// Connection `conn` ended (or could not be opened). Harmless for a
    /// connection the client already closed.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        let Some((purpose, state)) = self.find(conn) else {
            return;
        };
        match purpose {
            Purpose::WebSocket => {
                self.ws = None;
                match self.session.as_mut() {
                    Some(s) => s.handle_eof(now),
                    None => {
                        self.opening = None;
                        let reason = if state == State::Connecting {
                            ClientCloseReason::ConnectFailed
                        } else {
                            ClientCloseReason::TransportClose
                        };
                        let _ = self.events.push_back(ClientEvent::Closed(reason));
                    }
                }
            }
            Purpose::Upgrade => {
                self.ws = None;
                if let Some(s) = self.session.as_mut() {
                    match state {
                        State::Frames => s.handle_eof(now),
                        _ => s.handle_upgrade_failed(now),
                    }
                }
            }
            Purpose::PollingGet | Purpose::PollingPost => {
                *self.slot(purpose) = None;
                // An idle keep-alive connection may end: the next request
                // opens another. One that carried (or was to carry) a
                // request fails the session.
                if state != State::Http(Http::Idle)
                    && let Some(s) = self.session.as_mut()
                    && !s.is_closed()
                {
                    s.handle_request_failed(now, request(purpose));
                }
            }
        }
        self.plan();
    }

    /// Bytes received on `conn` (see the [module docs](self)); the message,
    /// if any, borrows `input` (or the assembler).
    ///
    /// Whatever the server sends that breaks the protocol ends the session
    /// (its [`ClientEvent::Closed`] says why) or the upgrade, and is
    /// consumed; the call itself fails only with
    /// [`Error::BufferTooSmall`]-like conditions of the caller, never for
    /// the server's bytes.
    pub fn handle_input<'a>(
        &'a mut self,
        now: Instant,
        conn: ConnId,
        input: &'a mut [u8],
    ) -> Result<Input<Data<'a>>, Error> {
        self.input_with(now, conn, input, |_, d| d)
    }

    /// [`handle_input`](Self::handle_input) for a layer above: a message is
    /// handed to `f` with the session, and `f`'s answer returned.
    pub fn input_with<'a, R>(
        &'a mut self,
        now: Instant,
        conn: ConnId,
        input: &'a mut [u8],
        f: impl FnOnce(&mut ClientSession<B, E>, Data<'a>) -> R,
    ) -> Result<Input<R>, Error> {
        self.now = now;
        let none = |consumed| Input {
            consumed,
            message: None,
            blocked: false,
            again: false,
        };
        let Some((purpose, state)) = self.find(conn) else {
            // Not (or no longer) a connection of this client.
            return Ok(none(input.len()));
        };
        match state {
            State::Connecting => Ok(none(0)),
            State::Handshake { sent: false, .. } => Ok(none(0)),
            State::Handshake { key, sent: true } => {
                let n = self.on_handshake(now, purpose, key, input);
                Ok(none(n))
            }
            State::Frames => {
                let len = input.len();
                let Some(s) = self.session.as_mut() else {
                    return Ok(none(len));
                };
                match s.handle_input(now, input, &mut self.assembler) {
                    Ok(w) => Ok(Input {
                        consumed: w.consumed,
                        message: w.message.map(|d| f(s, d)),
                        blocked: false,
                        again: w.again,
                    }),
                    // The session (or the probe) failed; its close frame is
                    // queued and the event says why.
                    Err(_) => Ok(none(len)),
                }
            }
            State::Http(h) => self.on_http(now, purpose, h, input, f),
        }
    }

    /// A WebSocket's handshake answer; returns the bytes consumed.
    fn on_handshake(
        &mut self,
        now: Instant,
        purpose: Purpose,
        key: [u8; 24],
        input: &[u8],
    ) -> usize {
        let mut target = [0u8; 320];
        let Ok(mut hs) = self.handshake(key, &mut target) else {
            return input.len();
        };
        match hs.handle_input(input) {
            Ok(None) => 0,
            Ok(Some(resp)) => {
                let n = resp.head_len();
                #[cfg(all(feature = "deflate", feature = "alloc"))]
                let params = resp.deflate();
                self.set_state(purpose, State::Frames);
                match purpose {
                    Purpose::Upgrade => {
                        if let Some(s) = self.session.as_mut() {
                            let _ = s.handle_upgrade_open(now);
                            #[cfg(all(feature = "deflate", feature = "alloc"))]
                            if let Some(p) = params {
                                let _ = s.enable_deflate(p);
                            }
                        }
                    }
                    _ => {
                        self.opening = None;
                        if let Some((queue, entropy)) = self.parts.take() {
                            #[allow(unused_mut)]
                            let mut s = ClientSession::new(now, self.config, queue, entropy);
                            #[cfg(all(feature = "deflate", feature = "alloc"))]
                            if let Some(p) = params {
                                let _ = s.enable_deflate(p);
                            }
                            self.session = Some(s);
                        }
                    }
                }
                n
            }
            Err(e) => {
                let link = self.ws.take();
                if let Some(link) = link {
                    self.close_link(link);
                }
                match (purpose, self.session.as_mut()) {
                    (Purpose::Upgrade, Some(s)) => s.handle_upgrade_failed(now),
                    _ => {
                        self.opening = None;
                        let _ = self
                            .events
                            .push_back(ClientEvent::Closed(ClientCloseReason::Error(e.into())));
                    }
                }
                input.len()
            }
        }
    }

    /// The WebSocket link's opening handshake with its `key`: to the
    /// session's upgrade target while a (polling) session runs, else to a
    /// new WebSocket session's; `target` holds the request target.
    fn handshake<'t>(
        &'t self,
        key: [u8; 24],
        target: &'t mut [u8; 320],
    ) -> Result<ClientHandshake<'t>, Error> {
        let t = match self.session.as_ref() {
            Some(s) => s.upgrade_target(target)?,
            None => super::websocket_target(self.config.path, target)?,
        };
        let hs = ClientHandshake::with_key(ClientRequest::new(&self.host, t), key, Limits::DEFAULT);
        #[cfg(feature = "deflate")]
        let hs = match self.deflate_offer() {
            Some(offer) => hs.offer_deflate(offer),
            None => hs,
        };
        Ok(hs)
    }

    #[cfg(feature = "deflate")]
    fn deflate_offer(&self) -> Option<ws::deflate::DeflateConfig> {
        if cfg!(feature = "alloc") {
            self.config.per_message_deflate.map(|d| d.config)
        } else {
            None
        }
    }

    fn set_http(&mut self, purpose: Purpose, h: Http) {
        self.set_state(purpose, State::Http(h));
    }

    /// The answer's end on an HTTP connection: idle again, or closed.
    fn http_done(&mut self, purpose: Purpose, close: bool) {
        if close {
            if let Some(l) = self.slot(purpose).take() {
                self.close_link(l);
            }
        } else {
            self.set_http(purpose, Http::Idle);
        }
    }

    fn on_http<'a, R>(
        &mut self,
        now: Instant,
        purpose: Purpose,
        h: Http,
        input: &'a mut [u8],
        f: impl FnOnce(&mut ClientSession<B, E>, Data<'a>) -> R,
    ) -> Result<Input<R>, Error> {
        let none = |consumed| Input {
            consumed,
            message: None,
            blocked: false,
            again: false,
        };
        match h {
            // Nothing was asked: whatever comes is dropped.
            Http::Idle => Ok(none(input.len())),
            Http::Head => {
                let limits = Limits::DEFAULT;
                let head_len = match HeadParser::new(limits).advance(input) {
                    Ok(None) => return Ok(none(0)),
                    Ok(Some(n)) => Some(n),
                    Err(_) => None,
                };
                let parsed = head_len.and_then(|n| {
                    let res = http::Response::parse(&input[..n], &limits).ok()?;
                    let hd = &res.headers;
                    let close = hd.has_token("connection", "close")
                        || (res.version == Version::Http10
                            && !hd.has_token("connection", "keep-alive"));
                    // Transfer-Encoding overrides Content-Length; only
                    // `chunked` (as the last and only coding) is read.
                    let mut codings = hd.get_all("transfer-encoding").flat_map(http::tokens);
                    let length = match (codings.next(), codings.next()) {
                        (None, _) => hd
                            .get("content-length")
                            .and_then(|v| core::str::from_utf8(v).ok())
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .map(Length::Known),
                        (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => {
                            Some(Length::Chunked)
                        }
                        _ => None,
                    };
                    Some((n, res.status, close, length))
                });
                let (n, status, close, left) = match parsed {
                    Some((n, status, close, Some(Length::Known(left)))) => (n, status, close, left),
                    Some((n, status, close, Some(Length::Chunked))) => {
                        let payload = purpose == Purpose::PollingGet && status == 200;
                        self.set_http(
                            purpose,
                            Http::Chunked(Chunks {
                                status,
                                close,
                                payload,
                                skip: false,
                                first: true,
                                left: 0,
                                total: 0,
                            }),
                        );
                        return Ok(none(n));
                    }
                    // A refusal whose body's end is unknown (neither
                    // Content-Length nor chunked): judged by its status
                    // alone, and the connection is not reused.
                    Some((n, status, _, None)) if status != 200 => (n, status, true, 0),
                    // Not HTTP, or a payload whose end cannot be found.
                    _ => {
                        self.fail_http(now, purpose, 0);
                        return Ok(none(input.len()));
                    }
                };
                if purpose == Purpose::PollingGet && status == 200 {
                    if left > self.config.max_payload {
                        self.fail_http(now, purpose, 413);
                        return Ok(none(input.len()));
                    }
                    self.set_http(purpose, Http::Payload { left, close });
                    if left == 0 {
                        self.get_done(now, close);
                    }
                } else {
                    self.set_http(
                        purpose,
                        Http::Body {
                            status,
                            left,
                            close,
                        },
                    );
                    if left == 0 {
                        self.body_done(now, purpose, status, close, &mut []);
                    }
                }
                Ok(none(n))
            }
            Http::Payload { left, close } => {
                let avail = left.min(input.len());
                let (len, used) = match input[..avail]
                    .iter()
                    .position(|&b| b == super::packet::SEPARATOR)
                {
                    Some(i) => (i, i + 1),
                    None if avail == left => (left, left),
                    None => return Ok(none(0)),
                };
                let left = left - used;
                self.set_http(purpose, Http::Payload { left, close });
                let (packet, _) = input.split_at_mut(len);
                let mut message = None;
                if let Some(s) = self.session.as_mut() {
                    let mut payload = Payload::new(packet);
                    if let Ok(Some(d)) = s.read_message(now, &mut payload) {
                        message = Some(f(s, d));
                    }
                }
                if left == 0 {
                    self.get_done(now, close);
                }
                Ok(Input {
                    consumed: used,
                    message,
                    blocked: false,
                    again: false,
                })
            }
            Http::Body {
                status,
                left,
                close,
            } => {
                if left > MAX_SMALL_BODY {
                    // Skipped unread.
                    let n = left.min(input.len());
                    let left = left - n;
                    self.set_http(
                        purpose,
                        Http::Body {
                            status,
                            left,
                            close,
                        },
                    );
                    if left == 0 {
                        self.body_done(now, purpose, status, close, &mut []);
                    }
                    return Ok(none(n));
                }
                if input.len() < left {
                    return Ok(none(0));
                }
                self.body_done(now, purpose, status, close, &mut input[..left]);
                Ok(none(left))
            }
            Http::Chunked(c) => {
                let len = input.len();
                match self.on_chunked(now, purpose, c, input, f) {
                    Ok(r) => Ok(r),
                    Err(e) => {
                        // A chunked body that cannot be read: like an answer
                        // that cannot be read at all (413 when too long).
                        let status = match e {
                            ChunkError::SizeOverflow | ChunkError::TooLarge => 413,
                            _ => 0,
                        };
                        self.fail_http(now, purpose, status);
                        Ok(none(len))
                    }
                }
            }
        }
    }

    /// One step through a chunked answer: a packet of the payload, a chunk
    /// header (the data before it moved up over it), skipped data, or the
    /// end (last chunk and trailers). `Err` when it cannot be read.
    fn on_chunked<'a, R>(
        &mut self,
        now: Instant,
        purpose: Purpose,
        mut c: Chunks,
        input: &'a mut [u8],
        f: impl FnOnce(&mut ClientSession<B, E>, Data<'a>) -> R,
    ) -> Result<Input<R>, ChunkError> {
        if c.payload && c.left > 0 {
            let avail = c.left.min(input.len());
            if let Some(i) = input[..avail]
                .iter()
                .position(|&b| b == super::packet::SEPARATOR)
            {
                c.left -= i + 1;
                self.set_http(purpose, Http::Chunked(c));
                let (packet, _) = input.split_at_mut(i);
                let message = self.read_packet(now, packet, f);
                return Ok(Input {
                    consumed: i + 1,
                    message,
                    blocked: false,
                    again: false,
                });
            }
        }
        if c.skip && c.left > 0 {
            let n = c.left.min(input.len());
            c.left -= n;
            self.set_http(purpose, Http::Chunked(c));
            return Ok(Input::consumed(n));
        }
        // The current chunk's data, all here, then the next header.
        if input.len() < c.left {
            return Ok(Input::consumed(0));
        }
        let Some((head, size)) = chunked::chunk_head(&input[c.left..], !c.first)? else {
            return Ok(Input::consumed(0));
        };
        c.first = false;
        if size > 0 {
            c.total = c.total.checked_add(size).ok_or(ChunkError::SizeOverflow)?;
            if c.payload && c.total > self.config.max_payload {
                return Err(ChunkError::TooLarge);
            }
            if !c.payload && !c.skip && c.total > MAX_SMALL_BODY {
                c.skip = true;
            }
            let consumed = if c.skip {
                // What data was kept is dropped with the header.
                let n = c.left + head;
                c.left = size;
                n
            } else {
                input.copy_within(..c.left, head);
                c.left += size;
                head
            };
            self.set_http(purpose, Http::Chunked(c));
            return Ok(Input::consumed(consumed));
        }
        // The last chunk: the trailers, then the answer is done.
        let end = c.left + head;
        let Some(t) = chunked::trailers(&input[end..])? else {
            return Ok(Input::consumed(0));
        };
        let consumed = end + t;
        let (data, _) = input.split_at_mut(c.left);
        if c.payload {
            // The payload's last packet ends with the body.
            let message = if data.is_empty() {
                None
            } else {
                self.read_packet(now, data, f)
            };
            self.get_done(now, c.close);
            return Ok(Input {
                consumed,
                message,
                blocked: false,
                again: false,
            });
        }
        let body = if c.skip { &mut [][..] } else { data };
        self.body_done(now, purpose, c.status, c.close, body);
        Ok(Input::consumed(consumed))
    }

    /// One packet of a GET's payload, handed to the session.
    fn read_packet<'a, R>(
        &mut self,
        now: Instant,
        packet: &'a mut [u8],
        f: impl FnOnce(&mut ClientSession<B, E>, Data<'a>) -> R,
    ) -> Option<R> {
        let s = self.session.as_mut()?;
        let mut payload = Payload::new(packet);
        match s.read_message(now, &mut payload) {
            Ok(Some(d)) => Some(f(s, d)),
            _ => None,
        }
    }

    /// A GET's payload is all read.
    fn get_done(&mut self, now: Instant, close: bool) {
        if let Some(s) = self.session.as_mut() {
            let _ = s.handle_get_response(now, 200, &mut []);
        }
        self.http_done(Purpose::PollingGet, close);
    }

    /// A whole non-payload answer.
    fn body_done(
        &mut self,
        now: Instant,
        purpose: Purpose,
        status: u16,
        close: bool,
        body: &mut [u8],
    ) {
        self.answer(now, purpose, status, body);
        self.http_done(purpose, close);
    }

    /// A whole answer to the session's request on `purpose`'s connection.
    fn answer(&mut self, now: Instant, purpose: Purpose, status: u16, body: &mut [u8]) {
        if let Some(s) = self.session.as_mut() {
            if purpose == Purpose::PollingGet {
                let _ = s.handle_get_response(now, status, body);
            } else {
                let _ = s.handle_post_response(now, status);
            }
        }
    }

    /// An answer that cannot be read: the connection is closed and its
    /// request failed.
    fn fail_http(&mut self, now: Instant, purpose: Purpose, status: u16) {
        if let Some(l) = self.slot(purpose).take() {
            self.close_link(l);
        }
        match (status, self.session.as_mut()) {
            (0, Some(s)) => s.handle_request_failed(now, request(purpose)),
            (0, None) => {}
            _ => self.answer(now, purpose, status, &mut []),
        }
    }

    /// Forgets `link` and has the driver close it (one not yet handed out
    /// was never opened).
    fn close_link(&mut self, link: Link) {
        if link.announced {
            // At most 4 links live at once, each closed once.
            let _ = self.to_close.push_back(link.id);
        }
    }

    // ------------------------------------------------------------------
    // The plan: which connections the session needs now
    // ------------------------------------------------------------------

    /// Forwards the session's events, retires a finished session, and makes
    /// the connections the session needs now.
    fn plan(&mut self) {
        while !self.events.is_full()
            && let Some(ev) = self.session.as_mut().and_then(|s| s.poll_event())
        {
            let ev = match ev {
                SessionEvent::Open => ClientEvent::Open,
                SessionEvent::Upgraded => {
                    self.start_close_polling();
                    ClientEvent::Upgraded
                }
                SessionEvent::UpgradeFailed => {
                    // The probe's WebSocket closes itself when it opened; one
                    // still connecting or handshaking is dropped.
                    if let Some(l) = self.ws.take_if(|l| l.state != State::Frames) {
                        self.close_link(l);
                    }
                    ClientEvent::UpgradeFailed
                }
                SessionEvent::Closed(r) => ClientEvent::Closed(r),
            };
            let _ = self.events.push_back(ev);
        }
        let Some(s) = self.session.as_ref() else {
            return;
        };
        if s.is_finished() && !self.events.is_full() {
            for l in [self.ws.take(), self.get.take(), self.post.take()]
                .into_iter()
                .flatten()
            {
                self.close_link(l);
            }
            if let Some(s) = self.session.take() {
                self.parts = Some(s.into_parts());
            }
            return;
        }
        let polling = s.transport() == Transport::Polling && !s.is_closed();
        let wants = [
            (Purpose::PollingGet, polling && s.wants_get()),
            (Purpose::PollingPost, polling && s.wants_post()),
            (Purpose::Upgrade, polling && s.wants_upgrade()),
        ];
        for (purpose, wanted) in wants {
            if wanted && self.slot(purpose).is_none() {
                let link = self.new_link(purpose);
                *self.slot(purpose) = Some(link);
            }
        }
    }

    fn start_close_polling(&mut self) {
        for l in [self.get.take(), self.post.take()].into_iter().flatten() {
            self.close_link(l);
        }
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let s = self.session.as_ref().and_then(|s| s.poll_timeout());
        match (s, self.opening) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the session's timers and the WebSocket open timeout. Harmless
    /// when early or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(at) = self.opening
            && now >= at
            && self.session.is_none()
        {
            self.opening = None;
            if let Some(l) = self.ws.take() {
                self.close_link(l);
            }
            let _ = self
                .events
                .push_back(ClientEvent::Closed(ClientCloseReason::OpenTimeout));
        }
        if let Some(s) = self.session.as_mut() {
            s.handle_timeout(now);
        }
        self.plan();
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// What the application must know besides messages.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.plan();
        if let Some(ev) = self.events.pop_front() {
            return Some(ev);
        }
        for slot in [&mut self.ws, &mut self.get, &mut self.post] {
            if let Some(l) = slot.as_mut().filter(|l| !l.announced) {
                l.announced = true;
                return Some(ClientEvent::OpenConnection {
                    conn: l.id,
                    purpose: l.purpose,
                });
            }
        }
        None
    }

    /// Bytes to send, written at the start of `out`, and the connection they
    /// go to; `close_after` asks to close it once they are written (a
    /// [`Transmit`] of length 0 only closes). `None` when there is nothing.
    /// `out` should hold a whole polling request (the server's
    /// `max_payload` plus 512 bytes); [`Error::BufferTooSmall`] otherwise.
    #[must_use = "the bytes must be written to the named connection"]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit<ConnId>>, Error> {
        self.plan();
        if let Some(conn) = self.to_close.pop_front() {
            return Ok(Some(Transmit {
                conn,
                len: 0,
                close_after: true,
            }));
        }
        let send = |conn: ConnId, len: usize| {
            Ok(Some(Transmit {
                conn,
                len,
                close_after: false,
            }))
        };
        if let Some(link) = self.ws {
            match link.state {
                State::Handshake { key, sent: false } => {
                    let mut target = [0u8; 320];
                    let n = self.handshake(key, &mut target)?.write_request(out)?;
                    if let Some(l) = self.ws.as_mut() {
                        l.state = State::Handshake { key, sent: true };
                    }
                    return send(link.id, n);
                }
                State::Frames => {
                    if let Some(s) = self.session.as_mut() {
                        let n = s.poll_transmit(out)?;
                        if n > 0 {
                            return send(link.id, n);
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(s) = self.session.as_mut() else {
            return Ok(None);
        };
        if let Some(link) = self.post
            && link.state == State::Http(Http::Idle)
            && s.wants_post()
        {
            let n = s.poll_post(&self.host, out)?;
            self.set_http(Purpose::PollingPost, Http::Head);
            return send(link.id, n);
        }
        if let Some(link) = self.get
            && link.state == State::Http(Http::Idle)
            && s.wants_get()
        {
            let n = s.poll_get(&self.host, out)?;
            self.set_http(Purpose::PollingGet, Http::Head);
            return send(link.id, n);
        }
        Ok(None)
    }
}
