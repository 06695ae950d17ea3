//! One Engine.IO session, client side: over WebSocket, or over HTTP
//! long-polling with the upgrade to WebSocket.
//!
//! - **WebSocket** ([`ClientSession::new`]): what embedded clients and
//!   `socket.io-client` with `transports: ["websocket"]` do. The caller opens
//!   the TCP connection, performs the opening handshake with
//!   [`ws::ClientHandshake`] on [`websocket_target`], and hands it over.
//! - **Polling** ([`ClientSession::polling`]): the session starts with HTTP requests
//!   that [`ClientSession::poll_request`] writes (at most one GET and one POST in
//!   flight; send each on its own HTTP connection, since the GET is held by the
//!   server) and whose answers come back through
//!   [`ClientSession::handle_get_response`] and [`ClientSession::handle_post_response`].
//!   When the server offers `websocket`, [`ClientSession::wants_upgrade`] says so:
//!   open a WebSocket to [`ClientSession::upgrade_target`], call
//!   [`ClientSession::handle_upgrade_open`], and the client probes it (`2probe`,
//!   `3probe`), pauses polling until its requests are answered, sends `5` and
//!   moves to it ([`ClientSessionEvent::Upgraded`]), the reference client's sequence.
//!   A probe that fails leaves the session on polling.

use super::packet::{Data, Packet, Payload, PayloadWriter};
use super::queue::{self, Queue, TAG_BINARY, entry_packet};
use super::transport::{WsInput, ws_packet};
use super::{Error, Transport};
use crate::entropy::Entropy;
use crate::http;
use crate::json;
use crate::storage::Buffer;
use crate::time::{Duration, Instant};
use crate::ws::{self, Assembler};

/// The longest session id a [`ClientSession`] keeps, in bytes.
pub const MAX_SID_LEN: usize = 64;

/// Room [`ClientSession::poll_request`] keeps for a POST's head in front of its body.
const HEAD_ROOM: usize = 512;

/// ClientSession settings.
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
    /// Polling sessions: try the upgrade to WebSocket when the server offers
    /// it. Default true.
    pub upgrade: bool,
    /// How long an upgrade probe may take. Default 10 s.
    pub upgrade_timeout: Duration,
    /// Settings of the WebSocket; its message and frame limits are replaced by
    /// `max_payload`.
    pub ws: ws::Config,
    /// permessage-deflate (RFC 7692) on the WebSocket (feature `deflate`):
    /// `Some` means the caller offers it in the opening handshake
    /// ([`ws::ClientHandshake::offer_deflate`] with
    /// [`deflate_offer`](ClientSession::deflate_offer)) and hands the server's
    /// answer to `ClientSession::enable_deflate`; messages of at least the
    /// threshold then go out compressed. Default `None`: this crate is
    /// embedded-first and a compressor costs about 75 KiB of heap per
    /// connection, so unlike Node's engine.io-client (which offers it with a
    /// 1024-byte threshold) nothing is offered unless asked for. Compression
    /// needs the `alloc` feature; without it `ClientSession::enable_deflate` does
    /// not exist and [`deflate_offer`](ClientSession::deflate_offer) offers nothing.
    #[cfg(feature = "deflate")]
    pub per_message_deflate: Option<super::PerMessageDeflate>,
}

impl ClientConfig {
    /// The defaults.
    pub const DEFAULT: ClientConfig = ClientConfig {
        path: "/engine.io/",
        max_payload: 1_000_000,
        open_timeout: Duration::from_millis(20_000),
        upgrade: true,
        upgrade_timeout: Duration::from_millis(10_000),
        ws: ws::Config::DEFAULT,
        #[cfg(feature = "deflate")]
        per_message_deflate: None,
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
    target(path, "websocket", "", out)
}

/// `<path>?EIO=4&transport=<transport>[&sid=<sid>]` into `out`.
fn target<'o>(path: &str, transport: &str, sid: &str, out: &'o mut [u8]) -> Result<&'o str, Error> {
    let sid_key = if sid.is_empty() { "" } else { "&sid=" };
    let parts = [path, "?EIO=4&transport=", transport, sid_key, sid];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if out.len() < len {
        return Err(Error::BufferTooSmall { required: len });
    }
    let mut n = 0;
    for p in parts {
        out[n..n + p.len()].copy_from_slice(p.as_bytes());
        n += p.len();
    }
    core::str::from_utf8(&out[..n]).map_err(|_| Error::InvalidState)
}

/// Why a client session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientCloseReason {
    /// The server sent a close packet (the reference client reports it as
    /// "transport close"; Socket.IO's "io server disconnect" is its own
    /// DISCONNECT packet, which ends a namespace, not the session).
    ServerClose,
    /// The WebSocket closed or its TCP stream ended ("transport close").
    TransportClose,
    /// No ping from the server within pingInterval + pingTimeout ("ping
    /// timeout").
    PingTimeout,
    /// No open packet within [`ClientConfig::open_timeout`].
    OpenTimeout,
    /// The server broke the protocol, or a polling request failed ("transport
    /// error"); a WebSocket is closed with the error's code.
    Error(Error),
    /// The application called [`ClientSession::close`] ("forced close").
    ForcedClose,
    /// The connection to the server could not be opened (the
    /// [`Client`](super::Client) endpoint's; "transport error").
    ConnectFailed,
}

/// What the application learns from [`ClientSession::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientSessionEvent {
    /// The server's open packet arrived: [`ClientSession::sid`] and the heartbeat
    /// settings are known, and queued messages start to flow. On polling,
    /// check [`ClientSession::wants_upgrade`].
    Open,
    /// The session moved from polling to the probed WebSocket; the HTTP
    /// connections can be closed.
    Upgraded,
    /// The upgrade probe failed or timed out; the session stays on polling
    /// and the probe's WebSocket is being closed.
    UpgradeFailed,
    /// The session is over; the closing frames may still be in
    /// [`ClientSession::poll_transmit`].
    Closed(ClientCloseReason),
}

/// A polling request [`ClientSession::poll_request`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request {
    /// A long-poll GET of this many bytes: send it on the GET connection and
    /// give the answer to [`ClientSession::handle_get_response`].
    Get(usize),
    /// A POST (head and body) of this many bytes: send it on the POST
    /// connection and give the answer to [`ClientSession::handle_post_response`].
    Post(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// Waiting for the open packet until the deadline.
    Opening {
        deadline: Instant,
    },
    Open,
    /// [`ClientSession::close`]: the queue, then `1`, then the WebSocket close.
    Closing,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Probe {
    None,
    /// `2probe` sent (or due) on the new WebSocket.
    Sent {
        deadline: Instant,
    },
    /// `3probe` came back: polling is paused until its requests are
    /// answered, then `5` goes out.
    Probed,
    /// The probe failed; no new one is tried.
    Failed,
}

/// One Engine.IO session on the client.
///
/// Outgoing messages wait in a bounded queue in storage `B` the caller lends
/// (each takes [`queue_cost`](Self::queue_cost) bytes; [`Error::QueueFull`]
/// refuses one that does not fit), so they can be queued before the session
/// opens. The heartbeat is answered by itself; a server that stops pinging for
/// pingInterval + pingTimeout ends the session.
///
/// The run loop is the one of every sockwire machine: feed
/// [`handle_input`](Self::handle_input) (WebSocket bytes) or the polling
/// answers, drain [`poll_transmit`](Self::poll_transmit),
/// [`poll_request`](Self::poll_request) and [`poll_event`](Self::poll_event),
/// sleep until [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct ClientSession<B, E> {
    config: ClientConfig,
    transport: Transport,
    /// The active WebSocket, or the upgrade probe's.
    ws: Option<ws::Connection<E>>,
    /// Kept for the upgrade's WebSocket.
    entropy: Option<E>,
    phase: Phase,
    now: Instant,
    sid: heapless::String<MAX_SID_LEN>,
    ping_interval: Duration,
    ping_timeout: Duration,
    server_max_payload: usize,
    upgrade_offered: bool,
    /// No ping by then: the server is gone.
    ping_deadline: Option<Instant>,
    pong_due: bool,
    goodbye_due: bool,
    ws_close: Option<u16>,
    frame_started: bool,
    // ---- polling ----
    handshake_sent: bool,
    get_in_flight: bool,
    post_in_flight: bool,
    // ---- upgrade ----
    probe: Probe,
    probe_ping_due: bool,
    events: heapless::Deque<ClientSessionEvent, 4>,
    queue: Queue<B>,
    /// permessage-deflate on the WebSocket, once negotiated.
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    deflate: Option<super::transport::Deflate>,
}

impl<B: Buffer, E: Entropy> ClientSession<B, E> {
    /// A session on a WebSocket whose opening handshake (for
    /// [`websocket_target`]) just succeeded at `now`. `entropy` masks the
    /// frames.
    pub fn new(now: Instant, config: ClientConfig, storage: B, entropy: E) -> Self {
        let mut c = Self::polling(now, config, storage, entropy);
        c.transport = Transport::WebSocket;
        c.ws = c
            .entropy
            .take()
            .map(|e| ws::Connection::client(c.ws_config(), e));
        c
    }

    /// A session that starts on long-polling at `now`: its first
    /// [`poll_request`](Self::poll_request) is the handshake GET. `entropy`
    /// masks the frames of the upgrade's WebSocket.
    pub fn polling(now: Instant, config: ClientConfig, storage: B, entropy: E) -> Self {
        ClientSession {
            config,
            transport: Transport::Polling,
            ws: None,
            entropy: Some(entropy),
            phase: Phase::Opening {
                deadline: now + config.open_timeout,
            },
            now,
            sid: heapless::String::new(),
            ping_interval: Duration::from_millis(0),
            ping_timeout: Duration::from_millis(0),
            server_max_payload: 0,
            upgrade_offered: false,
            ping_deadline: None,
            pong_due: false,
            goodbye_due: false,
            ws_close: None,
            frame_started: false,
            handshake_sent: false,
            get_in_flight: false,
            post_in_flight: false,
            probe: Probe::None,
            probe_ping_due: false,
            events: heapless::Deque::new(),
            queue: Queue::new(storage),
            #[cfg(all(feature = "deflate", feature = "alloc"))]
            deflate: None,
        }
    }

    fn ws_config(&self) -> ws::Config {
        let mut wc = self.config.ws;
        wc.max_message_size = self.config.max_payload as u64;
        wc.max_frame_size = self.config.max_payload as u64;
        wc
    }

    /// The session id, once open (empty before).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
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

    /// True once the session is over ([`ClientSessionEvent::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// True when the session is over and its WebSocket (if any) has closed:
    /// drop it and close its connections.
    pub fn is_finished(&self) -> bool {
        self.is_closed() && !self.has_websocket()
    }

    /// True while a WebSocket (the transport, or an upgrade probe) still
    /// needs reading or writing.
    pub fn has_websocket(&self) -> bool {
        self.ws
            .as_ref()
            .is_some_and(|w| w.state() != ws::State::Closed)
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Queues a text message (also before the session opens).
    /// [`Error::QueueFull`] queues nothing; [`Error::InvalidState`] once
    /// closing; [`Error::SeparatorInText`] for text holding 0x1e while on
    /// polling.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_text_parts(&[text])
    }

    /// Queues one text message made of `parts` joined (at most 7).
    pub fn send_text_parts(&mut self, parts: &[&str]) -> Result<(), Error> {
        self.check_sendable()?;
        // Long-polling separates packets with 0x1e.
        if self.transport == Transport::Polling
            && parts
                .iter()
                .any(|p| p.as_bytes().contains(&super::packet::SEPARATOR))
        {
            return Err(Error::SeparatorInText);
        }
        let (all, n) = queue::text_parts(parts)?;
        self.push_message(queue::TAG_TEXT, &all[..n])
    }

    /// Queues a binary message (a binary frame, or base64 on polling).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_sendable()?;
        self.push_message(TAG_BINARY, &[data])
    }

    /// Queues a message, compressed when the WebSocket negotiated
    /// permessage-deflate and it is at least the threshold long (and the
    /// queue has room for the worst case; else as it is).
    fn push_message(&mut self, tag: u8, parts: &[&[u8]]) -> Result<(), Error> {
        self.queue.push_message(
            tag,
            parts,
            #[cfg(all(feature = "deflate", feature = "alloc"))]
            self.deflate
                .as_mut()
                .filter(|_| self.transport == Transport::WebSocket),
        )
    }

    /// What to offer in the WebSocket's opening handshake
    /// ([`ws::ClientHandshake::offer_deflate`]), from
    /// [`ClientConfig::per_message_deflate`]; `None`: offer nothing. Always
    /// `None` without the `alloc` feature, which the windows need.
    #[cfg(feature = "deflate")]
    pub fn deflate_offer(&self) -> Option<ws::deflate::DeflateConfig> {
        if cfg!(feature = "alloc") {
            self.config.per_message_deflate.map(|d| d.config)
        } else {
            None
        }
    }

    /// The server accepted the permessage-deflate offer of the WebSocket
    /// handed over last ([`new`](Self::new), or
    /// [`handle_upgrade_open`](Self::handle_upgrade_open)): `params` is its
    /// answer ([`ws::Response::deflate`]). Call it before feeding that
    /// WebSocket any bytes. The windows come from the heap when first used
    /// (about 75 KiB with 32 KiB windows both ways); queued messages
    /// of at least the threshold go out compressed from then on.
    /// [`Error::InvalidState`] without a WebSocket or without
    /// [`ClientConfig::per_message_deflate`] (features `deflate` and `alloc`).
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    pub fn enable_deflate(&mut self, params: ws::deflate::Params) -> Result<(), Error> {
        let Some(pmd) = self.config.per_message_deflate else {
            return Err(Error::InvalidState);
        };
        if self.ws.is_none() {
            return Err(Error::InvalidState);
        }
        let agreed = params.agreed(ws::Role::Client, &pmd.config);
        self.deflate = Some(super::transport::Deflate::new(agreed, pmd.threshold));
        Ok(())
    }

    /// True when the WebSocket negotiated permessage-deflate.
    pub fn is_deflate(&self) -> bool {
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        return self.deflate.is_some();
        #[cfg(not(all(feature = "deflate", feature = "alloc")))]
        false
    }

    /// Bytes free in the send queue.
    pub fn queue_free(&self) -> usize {
        self.queue.free()
    }

    /// The queue storage a message of `len` bytes takes.
    pub const fn queue_cost(binary: bool, len: usize) -> usize {
        queue::cost(binary, len)
    }

    /// Ends the session after the queued messages: a close packet, then the
    /// WebSocket closing handshake. Harmless when already closing.
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        match self.phase {
            Phase::Open => {
                self.phase = Phase::Closing;
                self.goodbye_due = true;
                let _ = self
                    .events
                    .push_back(ClientSessionEvent::Closed(ClientCloseReason::ForcedClose));
            }
            Phase::Opening { .. } => {
                // Nothing was sent yet: just close.
                self.queue.clear();
                let _ = self
                    .events
                    .push_back(ClientSessionEvent::Closed(ClientCloseReason::ForcedClose));
                self.finish(1000);
            }
            _ => {}
        }
    }

    fn check_sendable(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Opening { .. } | Phase::Open => Ok(()),
            _ => Err(Error::InvalidState),
        }
    }

    /// Ends the session with `reason`: a WebSocket closes with `code`.
    fn end(&mut self, reason: ClientCloseReason, code: Option<u16>) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase != Phase::Closing {
            let _ = self.events.push_back(ClientSessionEvent::Closed(reason));
        }
        self.queue.discard(self.frame_started);
        match code {
            Some(code) => self.finish(code),
            None => {
                self.finish(1000);
                self.ws_close = None;
            }
        }
    }

    fn finish(&mut self, code: u16) {
        self.phase = Phase::Closed;
        self.ping_deadline = None;
        self.pong_due = false;
        self.goodbye_due = false;
        self.probe_ping_due = false;
        if self
            .ws
            .as_ref()
            .is_some_and(|w| w.state() == ws::State::Open)
        {
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
    // WebSocket input
    // ------------------------------------------------------------------

    /// Bytes from the WebSocket (the transport, or the upgrade probe's).
    /// Returns how many were consumed and at most one message, which borrows
    /// `input` (or `assembler`, for a message that arrived in pieces).
    ///
    /// A message that breaks Engine.IO (an invalid packet, a malformed open
    /// packet, anything before the open packet) ends the session:
    /// [`ClientSessionEvent::Closed`] with [`ClientCloseReason::Error`] says why
    /// ([`Error::InvalidPacket`], [`Error::UnexpectedPacket`]), the message
    /// counts as consumed and the rest of the input is read as usual. An error
    /// is returned only when the WebSocket itself fails ([`Error::WebSocket`],
    /// with its close code; its close frame is in
    /// [`poll_transmit`](Self::poll_transmit)): stop reading then. On a
    /// probe, either only abandons the upgrade
    /// ([`ClientSessionEvent::UpgradeFailed`]). [`Error::InvalidState`] when there is
    /// no WebSocket.
    pub fn handle_input<'a, A: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        assembler: &'a mut Assembler<A>,
    ) -> Result<WsInput<'a>, Error> {
        self.now = now;
        let probing = self.transport == Transport::Polling;
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        if let (Some(conn), Some(z)) = (self.ws.as_mut(), self.deflate.as_mut()) {
            use super::transport::Outcome;
            let (consumed, outcome) =
                match super::transport::ws_input_deflate(conn, z, now, input, assembler) {
                    Ok(r) => r,
                    Err(e) if probing => {
                        self.abandon_probe();
                        return Err(Error::from(e));
                    }
                    Err(e) => return Err(self.fail(Error::from(e))),
                };
            let event = !matches!(outcome, Outcome::Nothing);
            let message = match outcome {
                Outcome::Nothing | Outcome::Control => None,
                Outcome::Close => {
                    self.on_ws_close(probing);
                    None
                }
                _ if matches!(self.phase, Phase::Closed | Phase::Closing) => None,
                Outcome::Invalid(e) => {
                    self.on_ws_invalid(probing, e);
                    None
                }
                Outcome::Packet(p) => self.on_ws_packet(now, probing, p),
            };
            return WsInput::after(consumed, event)(message);
        }
        let Some(conn) = self.ws.as_mut() else {
            return Err(Error::InvalidState);
        };
        let r = match conn.handle_input(now, input) {
            Ok(r) => r,
            Err(e) if probing => {
                self.abandon_probe();
                return Err(Error::from(e));
            }
            Err(e) => return Err(self.fail(Error::from(e))),
        };
        let done = WsInput::after(r.consumed, r.event.is_some());
        let event = match r.event {
            None | Some(ws::Event::Ping(_)) | Some(ws::Event::Pong(_)) => return done(None),
            Some(ws::Event::Close { .. }) => {
                self.on_ws_close(probing);
                return done(None);
            }
            Some(ev) => ev,
        };
        if matches!(self.phase, Phase::Closed | Phase::Closing) {
            return done(None);
        }
        // A message that breaks Engine.IO ends the session (or the probe); its
        // bytes are consumed so the closing handshake can still be read.
        let packet = match ws_packet(event, assembler) {
            Ok(Some(p)) => p,
            Ok(None) => return done(None),
            Err(e) => {
                self.on_ws_invalid(probing, e);
                return done(None);
            }
        };
        done(self.on_ws_packet(now, probing, packet))
    }

    /// The WebSocket's Close frame arrived.
    fn on_ws_close(&mut self, probing: bool) {
        if probing {
            self.abandon_probe();
        } else {
            self.end(ClientCloseReason::TransportClose, None);
        }
    }

    /// A message that is not an Engine.IO packet.
    fn on_ws_invalid(&mut self, probing: bool, e: Error) {
        let opening = matches!(self.phase, Phase::Opening { .. });
        self.ws_fail(probing, if opening { Error::NotEngineIo } else { e });
    }

    /// A whole packet from the WebSocket: the probe's, or the transport's.
    fn on_ws_packet<'a>(
        &mut self,
        now: Instant,
        probing: bool,
        packet: Packet<'a>,
    ) -> Option<Data<'a>> {
        if probing {
            match (self.probe, packet) {
                (Probe::Sent { .. }, Packet::Pong("probe")) => {
                    self.probe = Probe::Probed;
                }
                _ => self.abandon_probe(),
            }
            return None;
        }
        self.on_packet(now, packet).unwrap_or(None)
    }

    /// An invalid message on the WebSocket: fails the session, or the probe.
    fn ws_fail(&mut self, probing: bool, e: Error) {
        if probing {
            self.abandon_probe();
        } else {
            self.fail(e);
        }
    }

    /// A packet on the active transport.
    fn on_packet<'a>(
        &mut self,
        now: Instant,
        packet: Packet<'a>,
    ) -> Result<Option<Data<'a>>, Error> {
        if let Phase::Opening { .. } = self.phase {
            return match packet {
                Packet::Open(json) => self.on_open(now, json).map(|()| None),
                // Whatever answered is not an Engine.IO server.
                _ => Err(self.fail(Error::NotEngineIo)),
            };
        }
        match packet {
            Packet::Message(d) => return Ok(Some(d)),
            Packet::Ping(_) => {
                self.pong_due = true;
                self.ping_deadline = Some(now + self.ping_interval + self.ping_timeout);
            }
            Packet::Close => self.end(ClientCloseReason::ServerClose, Some(1000)),
            // A second open, stray pongs, upgrades and noops mean nothing here.
            Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
        Ok(None)
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
        let Ok(sid) = heapless::String::try_from(sid) else {
            return Err(self.fail(Error::InvalidPacket));
        };
        self.sid = sid;
        self.ping_interval = Duration::from_millis(interval);
        self.ping_timeout = Duration::from_millis(timeout);
        self.server_max_payload = json::get(open, "maxPayload")
            .and_then(json::as_u64)
            .map_or(0, |m| m as usize);
        self.upgrade_offered = json::get(open, "upgrades")
            .is_some_and(|u| json::elements(u).any(|t| json::str_eq(t, "websocket")));
        self.ping_deadline = Some(now + self.ping_interval + self.ping_timeout);
        self.phase = Phase::Open;
        let _ = self.events.push_back(ClientSessionEvent::Open);
        Ok(())
    }

    /// The WebSocket's TCP stream ended (the transport's, or the probe's).
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if let Some(w) = self.ws.as_mut() {
            let _ = w.handle_eof(now);
        }
        if self.transport == Transport::Polling {
            self.abandon_probe();
        } else {
            self.end(ClientCloseReason::TransportClose, None);
        }
    }

    // ------------------------------------------------------------------
    // Polling
    // ------------------------------------------------------------------

    /// The next polling request to send, written into `out` (a GET's head, or
    /// a POST's head and body), or `None` when none is due: a GET is in flight
    /// (or the session is not on polling), no POST is needed or one is in
    /// flight, or polling is paused for the upgrade. `host` goes into the
    /// `Host` header. Call it until `None` after every input and command.
    ///
    /// A POST carries the pong, queued messages (as many as fit in `out`
    /// after 512 bytes kept for the head) and the close packet;
    /// [`Error::BufferTooSmall`] when not even the first one fits (nothing
    /// changes).
    pub fn poll_request(&mut self, host: &str, out: &mut [u8]) -> Result<Option<Request>, Error> {
        if self.wants_post() {
            return self.poll_post(host, out).map(|n| Some(Request::Post(n)));
        }
        if self.wants_get() {
            return self.poll_get(host, out).map(|n| Some(Request::Get(n)));
        }
        Ok(None)
    }

    /// Polling is active: not paused by a probed upgrade.
    fn polling_active(&self) -> bool {
        self.transport == Transport::Polling && self.probe != Probe::Probed
    }

    /// A POST is due (and none is in flight).
    pub(crate) fn wants_post(&self) -> bool {
        self.polling_active()
            && matches!(self.phase, Phase::Open | Phase::Closing)
            && !self.post_in_flight
            && (self.pong_due || self.goodbye_due || !self.queue.is_empty())
    }

    /// A GET is due: the handshake, or the next long-poll.
    pub(crate) fn wants_get(&self) -> bool {
        let handshake = matches!(self.phase, Phase::Opening { .. }) && !self.handshake_sent;
        self.polling_active() && !self.get_in_flight && (handshake || self.phase == Phase::Open)
    }

    /// Writes the due POST (see [`poll_request`](Self::poll_request)).
    pub(crate) fn poll_post(&mut self, host: &str, out: &mut [u8]) -> Result<usize, Error> {
        let mut path = [0u8; 256];
        let target = target(self.config.path, "polling", &self.sid, &mut path)?;
        self.write_post(host, target, out)
    }

    /// Writes the due GET (see [`poll_request`](Self::poll_request)).
    pub(crate) fn poll_get(&mut self, host: &str, out: &mut [u8]) -> Result<usize, Error> {
        let mut path = [0u8; 256];
        let handshake = matches!(self.phase, Phase::Opening { .. });
        let sid = if handshake { "" } else { self.sid.as_str() };
        let target = target(self.config.path, "polling", sid, &mut path)?;
        let n = http::write_head(out, |w| {
            w.request_line("GET", target);
            w.header("Host", host.as_bytes());
            w.header("Accept", b"*/*");
            w.raw(b"\r\n");
        })?;
        self.get_in_flight = true;
        self.handshake_sent = true;
        Ok(n)
    }

    /// The entropy source: the one kept for the upgrade, or the WebSocket's.
    pub(crate) fn entropy_mut(&mut self) -> Option<&mut E> {
        match (self.entropy.as_mut(), self.ws.as_mut()) {
            (Some(e), _) => Some(e),
            (None, Some(w)) => Some(w.entropy_mut()),
            (None, None) => None,
        }
    }

    /// Gives back the queue's storage and the entropy source, for the next
    /// session.
    pub fn into_parts(self) -> (B, E) {
        let entropy = match (self.entropy, self.ws) {
            (Some(e), _) => e,
            (None, Some(w)) => w.into_entropy(),
            // Every constructor keeps it in one of the two.
            (None, None) => unreachable!("the entropy source is kept"),
        };
        (self.queue.into_inner(), entropy)
    }

    fn write_post(&mut self, host: &str, target: &str, out: &mut [u8]) -> Result<usize, Error> {
        let start = HEAD_ROOM.min(out.len());
        let mut w = PayloadWriter::new(&mut out[start..]);
        let too_small = |required: usize| Error::BufferTooSmall {
            required: required + HEAD_ROOM,
        };
        if self.pong_due {
            w.push(&Packet::Pong("")).map_err(|e| match e {
                Error::BufferTooSmall { required } => too_small(required),
                e => e,
            })?;
        }
        let (mut taken, mut all_taken) = (0, true);
        for (tag, bytes) in self.queue.entries() {
            match w.push(&entry_packet(tag, bytes)) {
                Ok(()) => taken += 1,
                Err(Error::BufferTooSmall { required }) if w.is_empty() => {
                    return Err(too_small(required));
                }
                Err(_) => {
                    all_taken = false;
                    break;
                }
            }
        }
        // The close packet alone must fit too.
        let goodbye = self.goodbye_due
            && all_taken
            && match w.push(&Packet::Close) {
                Ok(()) => true,
                Err(Error::BufferTooSmall { required }) if w.is_empty() => {
                    return Err(too_small(required));
                }
                Err(_) => false,
            };
        let body_len = w.len();
        let mut head = [0u8; HEAD_ROOM];
        let head_len = http::write_head(&mut head, |w| {
            w.request_line("POST", target);
            w.header("Host", host.as_bytes());
            w.header("Content-Type", b"text/plain;charset=UTF-8");
            w.header_u64("Content-Length", body_len as u64);
            w.raw(b"\r\n");
        })?;
        out.copy_within(start..start + body_len, head_len);
        out[..head_len].copy_from_slice(&head[..head_len]);
        for _ in 0..taken {
            self.queue.pop();
        }
        self.pong_due = false;
        self.post_in_flight = true;
        if goodbye {
            self.finish(1000);
        }
        Ok(head_len + body_len)
    }

    /// The answer to the GET [`poll_request`](Self::poll_request) wrote:
    /// its status and body. Returns the body's packets for
    /// [`read_message`](Self::read_message); a status other than 200 ends the
    /// session ([`Error::RequestFailed`]), except on the handshake, where an
    /// answer that is neither the reference server's JSON refusal nor a 5xx
    /// is [`Error::NotEngineIo`].
    pub fn handle_get_response<'a>(
        &mut self,
        now: Instant,
        status: u16,
        body: &'a mut [u8],
    ) -> Result<Payload<'a>, Error> {
        self.now = now;
        self.get_in_flight = false;
        if status != 200 && !self.is_closed() {
            // The handshake refused with the reference server's JSON error
            // (`{"code":..,"message":..}`, on its 400s and 403s alike; a JSON
            // string from python-engineio) is an
            // Engine.IO server saying no, and a 5xx may be a proxy while the
            // server restarts: both are retried. Any other answer (a plain
            // WebSocket server's 400 or 426, a web server's 404) is not an
            // Engine.IO server.
            // python-engineio refuses with a JSON string
            // (`"Not an accepted origin."`) instead.
            let engine_refusal = status >= 500
                || core::str::from_utf8(body).is_ok_and(|b| {
                    let b = b.trim();
                    json::get(b, "code").is_some()
                        || (json::validate(b, 1).is_ok()
                            && json::kind(b) == Some(json::Kind::String))
                });
            let opening = matches!(self.phase, Phase::Opening { .. });
            let e = if opening && !engine_refusal {
                Error::NotEngineIo
            } else {
                Error::RequestFailed(status)
            };
            return Err(self.fail(e));
        }
        Ok(Payload::new(body))
    }

    /// Takes packets from a GET's body until a message: `Ok(None)` when the
    /// body is done (or the session closed). The open packet, pings and the
    /// close packet are handled on the way; an invalid packet ends the
    /// session and returns its error.
    pub fn read_message<'a>(
        &mut self,
        now: Instant,
        payload: &mut Payload<'a>,
    ) -> Result<Option<Data<'a>>, Error> {
        self.now = now;
        while matches!(self.phase, Phase::Opening { .. } | Phase::Open) {
            match payload.next() {
                None => break,
                Some(Err(_)) if matches!(self.phase, Phase::Opening { .. }) => {
                    return Err(self.fail(Error::NotEngineIo));
                }
                Some(Err(e)) => return Err(self.fail(e)),
                Some(Ok(packet)) => {
                    if let Some(d) = self.on_packet(now, packet)? {
                        return Ok(Some(d));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The answer to the POST [`poll_request`](Self::poll_request) wrote; a
    /// status other than 200 ends the session ([`Error::RequestFailed`]).
    pub fn handle_post_response(&mut self, now: Instant, status: u16) -> Result<(), Error> {
        self.now = now;
        self.post_in_flight = false;
        if status != 200 && !self.is_closed() {
            return Err(self.fail(Error::RequestFailed(status)));
        }
        Ok(())
    }

    /// A polling request's connection failed before its answer: the session
    /// ends ("transport error").
    pub fn handle_request_failed(&mut self, now: Instant, request: Request) {
        self.now = now;
        match request {
            Request::Get(_) => self.get_in_flight = false,
            Request::Post(_) => self.post_in_flight = false,
        }
        if !self.is_closed() {
            self.fail(Error::RequestFailed(0));
        }
    }

    // ------------------------------------------------------------------
    // Upgrade
    // ------------------------------------------------------------------

    /// True when the session is on polling, open, the server offers
    /// `websocket` and [`ClientConfig::upgrade`] is on: open a WebSocket to
    /// [`upgrade_target`](Self::upgrade_target) and call
    /// [`handle_upgrade_open`](Self::handle_upgrade_open).
    pub fn wants_upgrade(&self) -> bool {
        self.transport == Transport::Polling
            && self.phase == Phase::Open
            && self.upgrade_offered
            && self.config.upgrade
            && self.probe == Probe::None
            && self.entropy.is_some()
    }

    /// The request target of the upgrade's WebSocket handshake:
    /// `<path>?EIO=4&transport=websocket&sid=<sid>`.
    pub fn upgrade_target<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, Error> {
        target(self.config.path, "websocket", &self.sid, out)
    }

    /// The upgrade's WebSocket handshake succeeded at `now`: the probe starts
    /// (its bytes come out of [`poll_transmit`](Self::poll_transmit), the
    /// server's into [`handle_input`](Self::handle_input)).
    /// [`Error::InvalidState`] unless [`wants_upgrade`](Self::wants_upgrade).
    pub fn handle_upgrade_open(&mut self, now: Instant) -> Result<(), Error> {
        self.now = now;
        if !self.wants_upgrade() {
            return Err(Error::InvalidState);
        }
        let Some(entropy) = self.entropy.take() else {
            return Err(Error::InvalidState);
        };
        self.ws = Some(ws::Connection::client(self.ws_config(), entropy));
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        {
            self.deflate = None;
        }
        self.probe = Probe::Sent {
            deadline: now + self.config.upgrade_timeout,
        };
        self.probe_ping_due = true;
        Ok(())
    }

    /// The upgrade's WebSocket could not be opened: the session stays on
    /// polling and no other upgrade is tried.
    pub fn handle_upgrade_failed(&mut self, now: Instant) {
        self.now = now;
        if self.probe == Probe::None {
            self.probe = Probe::Failed;
            let _ = self.events.push_back(ClientSessionEvent::UpgradeFailed);
        }
    }

    fn abandon_probe(&mut self) {
        if matches!(self.probe, Probe::Sent { .. } | Probe::Probed) {
            self.probe = Probe::Failed;
            self.probe_ping_due = false;
            if self
                .ws
                .as_ref()
                .is_some_and(|w| w.state() == ws::State::Open)
            {
                self.ws_close = Some(1000);
            }
            let _ = self.events.push_back(ClientSessionEvent::UpgradeFailed);
        }
    }

    /// Probed, and polling has gone quiet: the switch can happen.
    fn ready_to_switch(&self) -> bool {
        self.probe == Probe::Probed
            && !self.get_in_flight
            && !self.post_in_flight
            && matches!(self.phase, Phase::Open | Phase::Closing)
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
        let probe = match self.probe {
            Probe::Sent { deadline } => Some(deadline),
            _ => None,
        };
        [own, probe, self.ws.as_ref().and_then(|w| w.poll_timeout())]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the open timeout, the heartbeat check, the probe timeout and the
    /// WebSocket's close timeout. Harmless when early or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(w) = self.ws.as_mut() {
            w.handle_timeout(now);
        }
        if let Probe::Sent { deadline } = self.probe
            && now >= deadline
        {
            self.abandon_probe();
        }
        match self.phase {
            Phase::Opening { deadline } if now >= deadline => {
                let ws_open = self
                    .ws
                    .as_ref()
                    .is_some_and(|w| w.state() == ws::State::Open);
                if self.transport == Transport::WebSocket && ws_open {
                    // The WebSocket opened, and no open packet came: an
                    // Engine.IO server sends it right after the 101.
                    self.fail(Error::NotEngineIo);
                } else {
                    self.end(ClientCloseReason::OpenTimeout, Some(1000));
                }
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
    pub fn poll_event(&mut self) -> Option<ClientSessionEvent> {
        self.events.pop_front()
    }

    /// Bytes for the WebSocket: its control frames, the probe (`2probe`,
    /// then `5` when polling has gone quiet), the pong, queued messages (one
    /// frame each, written across calls when `out` is small; needs at least
    /// 14 bytes), the close packet and the closing frame. 0 when there is
    /// nothing.
    #[must_use = "the bytes must be written to the WebSocket's connection"]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let switch = self.ready_to_switch();
        let Some(conn) = self.ws.as_mut() else {
            return Ok(0);
        };
        let n = conn.poll_transmit(out)?;
        if n > 0 {
            return Ok(n);
        }
        // A frame already begun goes out whole, whatever happened since.
        if self.frame_started
            && let Some((n, _)) =
                self.queue
                    .write_front_frame(conn, &mut self.frame_started, out)?
        {
            return Ok(n);
        }
        if conn.state() == ws::State::Open {
            if self.probe_ping_due {
                let n = conn.send_text("2probe", out)?;
                self.probe_ping_due = false;
                return Ok(n);
            }
            if switch {
                let n = conn.send_text("5", out)?;
                self.transport = Transport::WebSocket;
                self.probe = Probe::None;
                let _ = self.events.push_back(ClientSessionEvent::Upgraded);
                return Ok(n);
            }
            // Queued messages wait for the open packet, as the reference
            // client's do.
            if self.transport == Transport::WebSocket
                && matches!(self.phase, Phase::Open | Phase::Closing)
            {
                if self.pong_due && !self.frame_started {
                    let n = conn.send_text("3", out)?;
                    self.pong_due = false;
                    return Ok(n);
                }
                if let Some((n, _)) =
                    self.queue
                        .write_front_frame(conn, &mut self.frame_started, out)?
                {
                    return Ok(n);
                }
                if self.goodbye_due {
                    let n = conn.send_text("1", out)?;
                    self.finish(1000);
                    return Ok(n);
                }
            }
        }
        if let Some(code) = self.ws_close
            && let Some(conn) = self.ws.as_mut()
            && conn.state() == ws::State::Open
        {
            // Cleared only once written: a buffer too small keeps it due.
            let n = conn.close(self.now, code, "", out)?;
            self.ws_close = None;
            return Ok(n);
        }
        Ok(0)
    }
}
