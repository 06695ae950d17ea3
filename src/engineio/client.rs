//! One Engine.IO session, client side, over the WebSocket transport.
//!
//! The client starts directly on WebSocket (`transport=websocket`, what
//! embedded clients and `socket.io-client` with `transports: ["websocket"]`
//! do): the caller opens the TCP connection, performs the opening handshake
//! with [`ws::ClientHandshake`] on [`websocket_target`], and hands the
//! connection to [`Client::new`]. Long-polling and the upgrade are on the
//! server side only, for now.

use super::Error;
use super::packet::{Data, Packet};
use super::queue::{ENTRY_HEADER, Queue, TAG_BINARY, TAG_TEXT};
use super::server::WsInput;
use crate::entropy::Entropy;
use crate::json;
use crate::time::{Duration, Instant};
use crate::ws::{self, Assembler, MessageKind};

/// The longest session id a [`Client`] keeps, in bytes.
pub const MAX_SID_LEN: usize = 64;

/// Client settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConfig {
    /// The server's Engine.IO path. Default `/engine.io/` (Socket.IO uses
    /// `/socket.io/`).
    pub path: &'static str,
    /// The largest message accepted from the server. Default 1 000 000.
    pub max_payload: usize,
    /// How long to wait for the server's open packet. Default 20 s (the
    /// reference client's `timeout`).
    pub open_timeout: Duration,
    /// Settings of the WebSocket; its message and frame limits are replaced by
    /// `max_payload`.
    pub ws: ws::Config,
}

impl ClientConfig {
    /// The defaults.
    pub const DEFAULT: ClientConfig = ClientConfig {
        path: "/engine.io/",
        max_payload: 1_000_000,
        open_timeout: Duration::from_millis(20_000),
        ws: ws::Config::DEFAULT,
    };
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Writes the request target for a WebSocket session,
/// `<path>?EIO=4&transport=websocket`, into `out` and returns it.
///
/// ```
/// let mut buf = [0u8; 64];
/// assert_eq!(
///     sockwire::engineio::websocket_target("/socket.io/", &mut buf),
///     Ok("/socket.io/?EIO=4&transport=websocket")
/// );
/// ```
pub fn websocket_target<'o>(path: &str, out: &'o mut [u8]) -> Result<&'o str, Error> {
    const QUERY: &str = "?EIO=4&transport=websocket";
    let len = path.len() + QUERY.len();
    if out.len() < len {
        return Err(Error::BufferTooSmall { required: len });
    }
    out[..path.len()].copy_from_slice(path.as_bytes());
    out[path.len()..len].copy_from_slice(QUERY.as_bytes());
    core::str::from_utf8(&out[..len]).map_err(|_| Error::InvalidState)
}

/// Why a client session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientCloseReason {
    /// The server sent a close packet ("io server disconnect" at the
    /// Socket.IO level).
    ServerClose,
    /// The WebSocket closed or its TCP stream ended ("transport close").
    TransportClose,
    /// No ping from the server within pingInterval + pingTimeout ("ping
    /// timeout").
    PingTimeout,
    /// No open packet within [`ClientConfig::open_timeout`].
    OpenTimeout,
    /// The server broke the protocol ("transport error"); the WebSocket is
    /// closed with the error's code.
    Error(Error),
    /// The application called [`Client::close`] ("forced close").
    ForcedClose,
}

/// What the application learns from [`Client::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's open packet arrived: [`Client::sid`] and the heartbeat
    /// settings are known, and queued messages start to flow.
    Open,
    /// The session is over; the closing frames may still be in
    /// [`Client::poll_transmit`].
    Closed(ClientCloseReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// Waiting for the open packet until the deadline.
    Opening {
        deadline: Instant,
    },
    Open,
    /// [`Client::close`]: the queue, then `1`, then the WebSocket close.
    Closing,
    Closed,
}

/// One Engine.IO session on the client, over a WebSocket.
///
/// Outgoing messages wait in a bounded queue in storage `B` the caller lends
/// (each takes [`queue_cost`](Self::queue_cost) bytes; [`Error::QueueFull`]
/// refuses one that does not fit), so they can be queued before the session
/// opens. The heartbeat is answered by itself; a server that stops pinging for
/// pingInterval + pingTimeout ends the session.
///
/// The run loop is the one of every sockwire machine: feed
/// [`handle_input`](Self::handle_input), drain
/// [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event), sleep until
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Client<B, E> {
    ws: ws::Connection<E>,
    phase: Phase,
    now: Instant,
    sid: heapless::String<MAX_SID_LEN>,
    ping_interval: Duration,
    ping_timeout: Duration,
    server_max_payload: usize,
    /// No ping by then: the server is gone.
    ping_deadline: Option<Instant>,
    pong_due: bool,
    goodbye_due: bool,
    ws_close: Option<u16>,
    frame_started: bool,
    events: heapless::Deque<ClientEvent, 2>,
    queue: Queue<B>,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>, E: Entropy> Client<B, E> {
    /// A session on a WebSocket whose opening handshake (for
    /// [`websocket_target`]) just succeeded at `now`. `entropy` masks the
    /// frames.
    pub fn new(now: Instant, config: ClientConfig, storage: B, entropy: E) -> Self {
        let mut wc = config.ws;
        wc.max_message_size = config.max_payload as u64;
        wc.max_frame_size = config.max_payload as u64;
        Client {
            ws: ws::Connection::client(wc, entropy),
            phase: Phase::Opening {
                deadline: now + config.open_timeout,
            },
            now,
            sid: heapless::String::new(),
            ping_interval: Duration::from_millis(0),
            ping_timeout: Duration::from_millis(0),
            server_max_payload: 0,
            ping_deadline: None,
            pong_due: false,
            goodbye_due: false,
            ws_close: None,
            frame_started: false,
            events: heapless::Deque::new(),
            queue: Queue::new(storage),
        }
    }

    /// The session id, once open (empty before).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The server's ping interval (zero before the session opens).
    pub fn ping_interval(&self) -> Duration {
        self.ping_interval
    }

    /// The server's ping timeout (zero before the session opens).
    pub fn ping_timeout(&self) -> Duration {
        self.ping_timeout
    }

    /// The largest message the server accepts (0 before the session opens,
    /// or when it did not say).
    pub fn server_max_payload(&self) -> usize {
        self.server_max_payload
    }

    /// True once the open packet arrived and until the session ends.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// True once the session is over ([`ClientEvent::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// True when the session is over and the WebSocket has closed: drop it
    /// and close the TCP connection.
    pub fn is_finished(&self) -> bool {
        self.is_closed() && self.ws.state() == ws::State::Closed
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Queues a text message (also before the session opens).
    /// [`Error::QueueFull`] queues nothing; [`Error::InvalidState`] once
    /// closing.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_text_parts(&[text])
    }

    /// Queues one text message made of `parts` joined (at most 7).
    pub fn send_text_parts(&mut self, parts: &[&str]) -> Result<(), Error> {
        self.check_sendable()?;
        let mut all: [&[u8]; 8] = [&[]; 8];
        if parts.len() + 1 > all.len() {
            return Err(Error::InvalidState);
        }
        all[0] = b"4";
        for (slot, p) in all[1..].iter_mut().zip(parts) {
            *slot = p.as_bytes();
        }
        self.queue.push(TAG_TEXT, &all[..parts.len() + 1])
    }

    /// Queues a binary message (a binary frame).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_sendable()?;
        self.queue.push(TAG_BINARY, &[data])
    }

    /// Bytes free in the send queue.
    pub fn queue_free(&self) -> usize {
        self.queue.free()
    }

    /// The queue storage a message of `len` bytes takes.
    pub const fn queue_cost(binary: bool, len: usize) -> usize {
        ENTRY_HEADER + len + if binary { 0 } else { 1 }
    }

    /// Ends the session after the queued messages: a close packet, then the
    /// WebSocket closing handshake. Harmless when already closing.
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        if matches!(self.phase, Phase::Open | Phase::Opening { .. }) {
            let was_open = self.phase == Phase::Open;
            self.phase = Phase::Closing;
            let _ = self
                .events
                .push_back(ClientEvent::Closed(ClientCloseReason::ForcedClose));
            if !was_open {
                // Nothing was sent yet: just close the WebSocket.
                self.queue.clear();
                self.finish(1000);
            } else {
                self.goodbye_due = true;
            }
        }
    }

    fn check_sendable(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Opening { .. } | Phase::Open => Ok(()),
            _ => Err(Error::InvalidState),
        }
    }

    /// Ends the session with `reason`: the WebSocket closes with `code`.
    fn end(&mut self, reason: ClientCloseReason, code: Option<u16>) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase != Phase::Closing {
            let _ = self.events.push_back(ClientEvent::Closed(reason));
        }
        self.queue.discard(self.frame_started);
        match code {
            Some(code) => self.finish(code),
            None => self.phase = Phase::Closed,
        }
    }

    fn finish(&mut self, code: u16) {
        self.phase = Phase::Closed;
        self.ping_deadline = None;
        self.pong_due = false;
        self.goodbye_due = false;
        if self.ws.state() == ws::State::Open {
            self.ws_close = Some(code);
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        let code = match e {
            Error::WebSocket(w) => w.close_code(),
            _ => Some(1002),
        };
        self.end(ClientCloseReason::Error(e), code);
        e
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// Bytes from the WebSocket. Returns how many were consumed and at most
    /// one message, which borrows `input` (or `assembler`, for a message that
    /// arrived in pieces).
    ///
    /// Errors (the session ends, [`ClientEvent::Closed`] follows, the
    /// WebSocket's close frame is in [`poll_transmit`](Self::poll_transmit)):
    /// [`Error::WebSocket`], [`Error::InvalidPacket`] (also a malformed open
    /// packet), [`Error::UnexpectedPacket`] (anything before the open packet).
    pub fn handle_input<'a, A: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        assembler: &'a mut Assembler<A>,
    ) -> Result<WsInput<'a>, Error> {
        self.now = now;
        let r = match self.ws.handle_input(now, input) {
            Ok(r) => r,
            Err(e) => return Err(self.fail(Error::from(e))),
        };
        let consumed = r.consumed;
        let done = |message| Ok(WsInput { consumed, message });
        let message = match r.event {
            None | Some(ws::Event::Ping(_)) | Some(ws::Event::Pong(_)) => return done(None),
            Some(ws::Event::Close { .. }) => {
                self.end(ClientCloseReason::TransportClose, None);
                return done(None);
            }
            Some(ev @ ws::Event::Data { kind, data, fin }) => {
                if fin && assembler.pending_len() == 0 {
                    match kind {
                        MessageKind::Text => match core::str::from_utf8(data) {
                            Ok(t) => ws::Message::Text(t),
                            Err(_) => return Err(self.fail(Error::InvalidPacket)),
                        },
                        MessageKind::Binary => ws::Message::Binary(data),
                    }
                } else {
                    match assembler.push(&ev) {
                        Ok(Some(m)) => m,
                        Ok(None) => return done(None),
                        Err(e) => return Err(self.fail(Error::from(e))),
                    }
                }
            }
        };
        if matches!(self.phase, Phase::Closed | Phase::Closing) {
            return done(None);
        }
        let packet = match message {
            ws::Message::Text(t) => match Packet::decode_text(t) {
                Ok(p) => p,
                Err(e) => return Err(self.fail(e)),
            },
            ws::Message::Binary(b) => Packet::Message(Data::Binary(b)),
        };
        if let Phase::Opening { .. } = self.phase {
            return match packet {
                Packet::Open(json) => self.on_open(now, json).map(|()| WsInput {
                    consumed,
                    message: None,
                }),
                _ => Err(self.fail(Error::UnexpectedPacket)),
            };
        }
        match packet {
            Packet::Message(d) => return done(Some(d)),
            Packet::Ping(_) => {
                self.pong_due = true;
                self.ping_deadline = Some(now + self.ping_interval + self.ping_timeout);
            }
            Packet::Close => self.end(ClientCloseReason::ServerClose, Some(1000)),
            // A second open, stray pongs, upgrades and noops mean nothing here.
            Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
        done(None)
    }

    fn on_open(&mut self, now: Instant, open: &str) -> Result<(), Error> {
        let valid = json::validate(open, 4).is_ok() && json::kind(open) == Some(json::Kind::Object);
        let sid = json::get(open, "sid").filter(|_| valid);
        let interval = json::get(open, "pingInterval").and_then(json::as_u64);
        let timeout = json::get(open, "pingTimeout").and_then(json::as_u64);
        let (Some(sid), Some(interval), Some(timeout)) = (sid, interval, timeout) else {
            return Err(self.fail(Error::InvalidPacket));
        };
        let mut buf = [0u8; MAX_SID_LEN];
        let Ok(sid) = json::unescape(sid, &mut buf) else {
            return Err(self.fail(Error::InvalidPacket));
        };
        self.sid = heapless::String::try_from(sid).map_err(|_| Error::InvalidPacket)?;
        self.ping_interval = Duration::from_millis(interval);
        self.ping_timeout = Duration::from_millis(timeout);
        self.server_max_payload = json::get(open, "maxPayload")
            .and_then(json::as_u64)
            .map_or(0, |m| m as usize);
        self.ping_deadline = Some(now + self.ping_interval + self.ping_timeout);
        self.phase = Phase::Open;
        let _ = self.events.push_back(ClientEvent::Open);
        Ok(())
    }

    /// The TCP stream ended.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        let _ = self.ws.handle_eof(now);
        self.end(ClientCloseReason::TransportClose, None);
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = match self.phase {
            Phase::Opening { deadline } => Some(deadline),
            Phase::Open => self.ping_deadline,
            _ => None,
        };
        match (own, self.ws.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the open timeout, the heartbeat check and the WebSocket's close
    /// timeout. Harmless when early or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.ws.handle_timeout(now);
        match self.phase {
            Phase::Opening { deadline } if now >= deadline => {
                self.end(ClientCloseReason::OpenTimeout, Some(1000));
            }
            Phase::Open if self.ping_deadline.is_some_and(|d| now >= d) => {
                self.end(ClientCloseReason::PingTimeout, Some(1000));
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// What the application must know besides messages.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes for the WebSocket: its control frames, the pong, queued messages
    /// (one frame each, written across calls when `out` is small; needs at
    /// least 14 bytes), the close packet and the closing frame. 0 when there
    /// is nothing.
    #[must_use = "the bytes must be written to the WebSocket's connection"]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let n = self.ws.poll_transmit(out)?;
        if n > 0 || self.ws.state() != ws::State::Open {
            return Ok(n);
        }
        if self.frame_started || self.phase == Phase::Open || self.phase == Phase::Closing {
            if self.pong_due && !self.frame_started {
                let n = self.ws.send_text("3", out)?;
                self.pong_due = false;
                return Ok(n);
            }
            if let Some((tag, bytes)) = self.queue.front() {
                let mut n = 0;
                if !self.frame_started {
                    let kind = if tag == TAG_BINARY {
                        MessageKind::Binary
                    } else {
                        MessageKind::Text
                    };
                    n = self.ws.begin_frame(kind, bytes.len() as u64, true, out)?;
                    self.frame_started = true;
                }
                let from = bytes.len() - self.ws.payload_remaining() as usize;
                n += self.ws.send_payload(&bytes[from..], &mut out[n..])?;
                if self.ws.payload_remaining() == 0 {
                    self.frame_started = false;
                    self.queue.pop();
                }
                return Ok(n);
            }
            if self.goodbye_due {
                let n = self.ws.send_text("1", out)?;
                self.finish(1000);
                return Ok(n);
            }
        }
        if let Some(code) = self.ws_close {
            let n = self.ws.close(self.now, code, "", out)?;
            self.ws_close = None;
            return Ok(n);
        }
        Ok(0)
    }
}
