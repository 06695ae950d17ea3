//! One Engine.IO session, server side: the per-sid machine under
//! [`Server`](super::Server).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::packet::{Data, Packet, Payload, PayloadWriter};
use super::queue::{self, Queue, TAG_BINARY, TAG_FRAMED, TAG_TEXT, entry_packet};
pub use super::transport::WsInput;
use super::transport::ws_packet;
use super::{Config, Error, Transport};
use crate::entropy::Entropy;
use crate::http;
use crate::storage::Buffer;
use crate::time::Instant;
use crate::ws::{self, Assembler};

/// A session id: 20 URL-safe base64 characters of 15 random bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sid([u8; 20]);

impl Sid {
    /// An id of 20 `A`s: a placeholder that no random id is in practice.
    pub const ZERO: Sid = Sid([b'A'; 20]);

    /// A fresh id from `entropy`.
    pub fn random(mut entropy: impl Entropy) -> Self {
        let mut raw = [0u8; 15];
        entropy.fill_bytes(&mut raw);
        let mut sid = [0u8; 20];
        // 15 bytes are exactly 20 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(raw, &mut sid);
        Sid(sid)
    }

    /// The id named by `text`, if it has the form of one (20 URL-safe base64
    /// characters); whether a session has it is another matter.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 20] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Sid(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Debug for Sid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Sid {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Why a session closed (the reference server's reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent a close packet, or its WebSocket ended ("transport close").
    TransportClose,
    /// The transport failed or the client misbehaved ("transport error").
    TransportError(Error),
    /// An invalid packet ("parse error").
    ParseError(Error),
    /// No pong within the ping timeout ("ping timeout").
    PingTimeout,
    /// The application called [`Session::close`] ("forced close").
    ForcedClose,
}

/// What the application must know besides messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The session is over; the final answers may still be in `poll_http` and
    /// `poll_ws`.
    Closed(CloseReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    Open,
    /// The goodbye packet is queued; the session ends when the queue is
    /// written, at the deadline, or (unless `linger`) as soon as no transport
    /// can take it. The deadline is never in the past, so a caller that cannot
    /// write right away does not spin on `poll_timeout`.
    Closing {
        deadline: Instant,
        linger: bool,
    },
    Closed,
}

/// The WebSocket of a polling session that is being upgraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Probe {
    None,
    /// The WebSocket is open; `2probe` not yet seen.
    Opened {
        deadline: Instant,
    },
    /// `3probe` answered; waiting for `5`.
    Probed {
        deadline: Instant,
    },
    /// Failed or timed out; the WebSocket is being closed.
    Failed,
}

/// One Engine.IO session on the server: heartbeat, long-polling, the WebSocket
/// transport and the upgrade between them.
///
/// Outgoing packets wait in a bounded queue in storage `B` that the caller
/// lends (`[u8; N]`, `&mut [u8]`, `Vec<u8>`): each takes its length plus 5
/// bytes, and [`Error::QueueFull`] refuses a packet that does not fit. Incoming
/// messages borrow the caller's input.
///
/// See the [module docs](super) for the run loop.
#[derive(Debug)]
pub struct Session<B> {
    config: Config,
    sid: Sid,
    transport: Transport,
    phase: Phase,
    now: Instant,
    events: heapless::Deque<Event, 4>,
    // ---- heartbeat ----
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    // ---- polling ----
    get_held: bool,
    // ---- WebSocket (the active transport, or the upgrade probe) ----
    ws: Option<ws::Connection>,
    probe: Probe,
    probe_reply: bool,
    ws_close: bool,
    /// The queue's front packet is being written as a WebSocket frame (its
    /// header is out; `payload_remaining` says how much of it is left).
    ws_frame_started: bool,
    queue: Queue<B>,
    /// permessage-deflate on the WebSocket, once negotiated.
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    deflate: Option<super::transport::Deflate>,
}

/// The server WebSocket of a session with `config`.
fn ws_for(config: &Config) -> ws::Connection {
    let mut c = config.ws;
    c.max_message_size = config.max_payload as u64;
    c.max_frame_size = config.max_payload as u64;
    ws::Connection::server(c)
}

impl<B: Buffer> Session<B> {
    /// Opens a session with a fresh [`Sid`] and queues the open packet.
    ///
    /// - [`Transport::Polling`]: the handshake GET is held, so
    ///   [`poll_http`](Self::poll_http) answers it at once.
    /// - [`Transport::WebSocket`]: the caller has answered the upgrade with 101;
    ///   the session owns the WebSocket from here and
    ///   [`poll_ws`](Self::poll_ws) writes the open packet.
    ///
    /// [`Error::QueueFull`] if `storage` cannot hold the open packet (about 160
    /// bytes).
    pub fn open(
        now: Instant,
        transport: Transport,
        config: Config,
        storage: B,
        entropy: impl Entropy,
    ) -> Result<Self, Error> {
        let mut s = Self::new(now, transport, config, storage, Sid::random(entropy));
        s.queue_open()?;
        Ok(s)
    }

    /// [`open`](Self::open) in two steps, for a caller that builds the
    /// session in place (the server's table entry): the session with id
    /// `sid`, its open packet not yet queued.
    pub(crate) fn new(
        now: Instant,
        transport: Transport,
        config: Config,
        storage: B,
        sid: Sid,
    ) -> Self {
        // One struct expression, returned as it is: no local to copy out.
        Session {
            config,
            sid,
            transport,
            phase: Phase::Open,
            now,
            events: heapless::Deque::new(),
            next_ping: Some(now + config.ping_interval),
            pong_deadline: None,
            get_held: transport == Transport::Polling,
            ws: (transport == Transport::WebSocket).then(|| ws_for(&config)),
            probe: Probe::None,
            probe_reply: false,
            ws_close: false,
            ws_frame_started: false,
            queue: Queue::new(storage),
            #[cfg(all(feature = "deflate", feature = "alloc"))]
            deflate: None,
        }
    }

    /// Queues the open packet: the second step of [`open`](Self::open).
    pub(crate) fn queue_open(&mut self) -> Result<(), Error> {
        let json = self.open_json();
        self.queue.push(TAG_TEXT, &[b"0", json.as_bytes()])
    }

    fn new_ws(&self) -> ws::Connection {
        ws_for(&self.config)
    }

    fn open_json(&self) -> heapless::String<192> {
        use core::fmt::Write as _;
        let upgrades = if self.transport == Transport::Polling
            && self.config.allow_upgrades
            && self.config.allow_websocket
        {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        let mut json = heapless::String::new();
        // At most 8 + 20 + 14 + 13 + 16 + 3 * 20 + 29 characters: it fits.
        let _ = write!(
            json,
            "{{\"sid\":\"{}\",\"upgrades\":{},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.sid.as_str(),
            upgrades,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload,
        );
        json
    }

    /// The session id.
    pub fn sid(&self) -> &Sid {
        &self.sid
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the session is no longer open: [`Event::Closed`] was queued
    /// and commands are refused. Its last packets and the goodbye may still be
    /// going out; [`is_finished`](Self::is_finished) says when they are.
    pub fn is_closed(&self) -> bool {
        self.phase != Phase::Open
    }

    /// True when a GET is waiting for [`poll_http`](Self::poll_http).
    pub fn has_held_poll(&self) -> bool {
        self.get_held
    }

    /// True while the session has a WebSocket that still needs reading or
    /// writing (the active transport, or an upgrade probe being closed).
    pub fn has_websocket(&self) -> bool {
        self.ws
            .as_ref()
            .is_some_and(|w| w.state() != ws::State::Closed)
    }

    /// True when the session is closed and nothing is left to write: drop it.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Closed && !self.get_held && !self.has_websocket()
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Queues a text message. [`Error::QueueFull`] queues nothing;
    /// [`Error::InvalidState`] after the session closed;
    /// [`Error::SeparatorInText`] for text holding 0x1e while on polling.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.check_open()?;
        self.check_text(text)?;
        self.push_message(TAG_TEXT, &[b"4", text.as_bytes()])
    }

    /// Queues a binary message (base64 on polling, a binary frame on WebSocket).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        self.push_message(TAG_BINARY, &[data])
    }

    /// Queues one text message made of `parts` joined, without joining them
    /// first (a header and the caller's JSON, say): at most 7 parts (more is
    /// [`Error::InvalidState`]). All or nothing, like
    /// [`send_text`](Self::send_text).
    pub fn send_text_parts(&mut self, parts: &[&str]) -> Result<(), Error> {
        self.check_open()?;
        for p in parts {
            self.check_text(p)?;
        }
        let (all, n) = queue::text_parts(parts)?;
        self.push_message(TAG_TEXT, &all[..n])
    }

    /// Queues a message, compressed when the WebSocket negotiated
    /// permessage-deflate and it is at least the threshold long (and the
    /// queue has room for the worst case; else as it is, which RFC 7692
    /// always allows).
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

    /// Turns permessage-deflate on for the session's WebSocket (the one just
    /// opened by [`open`](Self::open) on [`Transport::WebSocket`], or the
    /// upgrade's after [`handle_upgrade`](Self::handle_upgrade)), whose 101
    /// answered the client's offer with the parameters `agreed` was derived
    /// from ([`Params::agreed`](crate::ws::deflate::Params::agreed) with
    /// [`Role::Server`](crate::ws::Role::Server)). Its windows are taken from
    /// the heap when first used; messages of at least [`Config::per_message_deflate`]'s
    /// threshold (1024 when unset) then go out compressed.
    /// [`Error::InvalidState`] when there is no WebSocket (features `deflate`
    /// and `alloc`).
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    pub fn enable_deflate(&mut self, agreed: crate::ws::deflate::Agreed) -> Result<(), Error> {
        if self.ws.is_none() {
            return Err(Error::InvalidState);
        }
        let threshold = self
            .config
            .per_message_deflate
            .map_or(super::PerMessageDeflate::DEFAULT.threshold, |d| d.threshold);
        self.deflate = Some(super::transport::Deflate::new(agreed, threshold));
        Ok(())
    }

    /// True when the session's WebSocket negotiated permessage-deflate.
    pub fn is_deflate(&self) -> bool {
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        return self.deflate.is_some();
        #[cfg(not(all(feature = "deflate", feature = "alloc")))]
        false
    }

    /// True when [`send_framed`](Self::send_framed) takes whole frames: the
    /// session is on the WebSocket transport, open, and its WebSocket did not
    /// negotiate permessage-deflate (such a session compresses each message
    /// itself; uncompressed frames would be legal, but large broadcasts are
    /// what compression is for).
    pub(crate) fn takes_framed(&self) -> bool {
        self.phase == Phase::Open && self.transport == Transport::WebSocket && !self.is_deflate()
    }

    /// Queues bytes that are already whole WebSocket frames, `parts` joined:
    /// final, unmasked data frames, one per Engine.IO packet (a text frame
    /// `4...`, a binary frame per attachment), as a broadcast builds them once
    /// for all its targets. They go to the WebSocket verbatim, as one entry:
    /// all or nothing ([`Error::QueueFull`]). Only on the WebSocket transport
    /// (a session being upgraded is still on polling) without
    /// permessage-deflate ([`takes_framed`](Self::takes_framed)):
    /// [`Error::InvalidState`] otherwise, and after the session closed.
    pub(crate) fn send_framed(&mut self, parts: &[&[u8]]) -> Result<(), Error> {
        self.check_open()?;
        if !self.takes_framed() {
            return Err(Error::InvalidState);
        }
        self.queue.push(TAG_FRAMED, parts)
    }

    /// Long-polling separates packets with 0x1e: a text holding it cannot be
    /// carried while the session is on polling.
    fn check_text(&self, text: &str) -> Result<(), Error> {
        if self.transport == Transport::Polling
            && text.as_bytes().contains(&super::packet::SEPARATOR)
        {
            return Err(Error::SeparatorInText);
        }
        Ok(())
    }

    /// The bytes of queue storage a message of `len` bytes takes: compare the
    /// sum for several messages with [`queue_free`](Self::queue_free) to queue
    /// them all or none.
    pub const fn queue_cost(binary: bool, len: usize) -> usize {
        queue::cost(binary, len)
    }

    /// Bytes free in the send queue (a message takes
    /// [`queue_cost`](Self::queue_cost)).
    pub fn queue_free(&self) -> usize {
        self.queue.free()
    }

    /// Closes the session after the queued packets and a close packet are
    /// delivered (or after the ping timeout if the client does not poll).
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        self.begin_close(CloseReason::ForcedClose, true);
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Open => Ok(()),
            _ => Err(Error::InvalidState),
        }
    }

    fn check_not_closed(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Closed => Err(Error::InvalidState),
            _ => Ok(()),
        }
    }

    // ------------------------------------------------------------------
    // Closing
    // ------------------------------------------------------------------

    /// Queues the goodbye and starts closing. `graceful` keeps the queued
    /// packets; otherwise they are dropped and the session ends as soon as the
    /// goodbye cannot be delivered right away.
    fn begin_close(&mut self, reason: CloseReason, graceful: bool) {
        if self.phase != Phase::Open {
            return;
        }
        if !graceful {
            // Keep a packet whose frame is half written.
            self.queue.discard(self.ws_frame_started);
        }
        // A client that closes gets its waiting GET released with a noop (its
        // WebSocket just gets the closing handshake); the server's own closes
        // send a close packet first.
        let goodbye: &[u8] = match (reason, self.transport) {
            (CloseReason::TransportClose, Transport::Polling) => b"6",
            (CloseReason::TransportClose, Transport::WebSocket) => b"",
            _ => b"1",
        };
        if !goodbye.is_empty() {
            // Only a graceful close with a full queue can fail here; the
            // session then ends at the deadline without the goodbye.
            let _ = self.queue.push(TAG_TEXT, &[goodbye]);
        }
        self.phase = Phase::Closing {
            deadline: self.now + self.config.ping_timeout,
            linger: graceful,
        };
        // Room for it: at most one Upgraded and one Closed are ever queued.
        let _ = self.events.push_back(Event::Closed(reason));
        self.try_finish();
    }

    fn can_deliver(&self) -> bool {
        match self.transport {
            Transport::Polling => self.get_held,
            Transport::WebSocket => self.ws_is_open(),
        }
    }

    fn try_finish(&mut self) {
        if let Phase::Closing { deadline, linger } = self.phase
            && (self.queue.is_empty() || self.now >= deadline || (!linger && !self.can_deliver()))
        {
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.phase = Phase::Closed;
        // A frame already begun must be finished: the WebSocket can send
        // nothing else, its close frame included, before it.
        self.queue.discard(self.ws_frame_started);
        // A GET still held gets the close packet instead of waiting forever.
        if self.get_held && self.transport == Transport::Polling {
            let _ = self.queue.push(TAG_TEXT, &[b"1"]);
        }
        self.next_ping = None;
        self.pong_deadline = None;
        self.close_ws();
    }

    /// A protocol violation: close at once (a waiting GET gets a close packet).
    fn fail(&mut self, e: Error) -> Error {
        let reason = match e {
            Error::InvalidPacket | Error::InvalidBase64 => CloseReason::ParseError(e),
            Error::PingTimeout => CloseReason::PingTimeout,
            _ => CloseReason::TransportError(e),
        };
        self.begin_close(reason, false);
        e
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// A long-poll GET arrived for this session; it is held until
    /// [`poll_http`](Self::poll_http) answers it.
    ///
    /// Errors: [`Error::BadRequest`] when the session is on WebSocket (400, the
    /// session goes on); [`Error::DuplicatePoll`] when a GET is already held
    /// (400 for this one; the held one gets a close packet and the session
    /// closes); [`Error::InvalidState`] when the session is closed (answer as
    /// for an unknown sid).
    pub fn handle_poll(&mut self, now: Instant) -> Result<(), Error> {
        self.now = now;
        // A closing session still delivers its queue and goodbye.
        self.check_not_closed()?;
        if self.transport == Transport::WebSocket {
            return Err(Error::BadRequest);
        }
        if self.get_held {
            return Err(self.fail(Error::DuplicatePoll));
        }
        self.get_held = true;
        Ok(())
    }

    /// The held GET's connection closed before it was answered: the session
    /// closes ("transport error"), as the reference server does for a
    /// cancelled long-poll. Nothing happens when no GET is held.
    pub fn handle_poll_aborted(&mut self, now: Instant) {
        self.now = now;
        if !self.get_held {
            return;
        }
        self.get_held = false;
        if self.phase == Phase::Open && self.transport == Transport::Polling {
            self.fail(Error::PollAborted);
        }
        self.try_finish();
    }

    /// A POST's connection closed before its body was whole: the session
    /// closes ("transport error"), as the reference server does for a data
    /// request closed prematurely.
    pub fn handle_post_aborted(&mut self, now: Instant) {
        self.now = now;
        if self.phase == Phase::Open && self.transport == Transport::Polling {
            self.fail(Error::PostAborted);
        }
        self.try_finish();
    }

    /// A POST body arrived. Returns its packets for
    /// [`read_message`](Self::read_message). Answer the POST with
    /// [`write_post_ok`](super::write_post_ok) once they are all read; when
    /// `read_message` failed, answer with that error's
    /// [`write_response`](Error::write_response) (400: the session is closed,
    /// as the reference server's test suite expects).
    ///
    /// Errors: [`Error::PayloadTooLarge`] (413, the session goes on),
    /// [`Error::BadRequest`] when the session is on WebSocket,
    /// [`Error::InvalidState`] when it is closed.
    pub fn handle_post<'a>(
        &mut self,
        now: Instant,
        body: &'a mut [u8],
    ) -> Result<Payload<'a>, Error> {
        self.now = now;
        // While closing, the body is accepted and its packets ignored.
        self.check_not_closed()?;
        if self.transport == Transport::WebSocket {
            return Err(Error::BadRequest);
        }
        if body.len() > self.config.max_payload {
            return Err(Error::PayloadTooLarge);
        }
        Ok(Payload::new(body))
    }

    /// Takes packets from a POST body until a message: `Ok(None)` when the body
    /// is done (or the session closed). Heartbeat and close packets are handled
    /// on the way. An invalid packet closes the session and returns its error;
    /// the messages before it were delivered.
    pub fn read_message<'a>(
        &mut self,
        now: Instant,
        payload: &mut Payload<'a>,
    ) -> Result<Option<Data<'a>>, Error> {
        self.now = now;
        while self.phase == Phase::Open {
            match payload.next() {
                None => return Ok(None),
                Some(Err(e)) => return Err(self.fail(e)),
                Some(Ok(packet)) => {
                    if let Some(data) = self.on_packet(packet)? {
                        return Ok(Some(data));
                    }
                }
            }
        }
        Ok(None)
    }

    /// A packet on the active transport.
    fn on_packet<'a>(&mut self, packet: Packet<'a>) -> Result<Option<Data<'a>>, Error> {
        match packet {
            Packet::Message(d) => return Ok(Some(d)),
            Packet::Pong(_) => {
                self.pong_deadline = None;
                self.next_ping = Some(self.now + self.config.ping_interval);
            }
            Packet::Ping(_) => return Err(self.fail(Error::InvalidHeartbeat)),
            Packet::Close => self.begin_close(CloseReason::TransportClose, false),
            // The reference server ignores these on the active transport.
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
        Ok(None)
    }

    /// A WebSocket upgrade request arrived for this polling session (the caller
    /// has validated the WebSocket handshake and writes the 101 after `Ok`). The
    /// session owns the probe WebSocket from here.
    ///
    /// Errors ([`Error::BadRequest`], 400; the session goes on): upgrades are
    /// off, the session is already on WebSocket, or a probe is in progress
    /// (a failed probe's WebSocket must have closed before another is
    /// accepted).
    pub fn handle_upgrade(&mut self, now: Instant) -> Result<(), Error> {
        self.now = now;
        self.check_open()?;
        // A failed probe's WebSocket may be replaced once it has closed.
        let slot_free = self.ws.is_none() || (self.probe == Probe::Failed && !self.has_websocket());
        if !self.config.allow_upgrades
            || !self.config.allow_websocket
            || self.transport != Transport::Polling
            || !slot_free
        {
            return Err(Error::BadRequest);
        }
        self.ws = Some(self.new_ws());
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        {
            self.deflate = None;
        }
        self.ws_close = false;
        self.probe_reply = false;
        self.probe = Probe::Opened {
            deadline: now + self.config.upgrade_timeout,
        };
        Ok(())
    }

    /// Bytes from the session's WebSocket. Returns how many were consumed and at
    /// most one message, which borrows `input` (or `assembler`, for a message
    /// that arrived in pieces: give it a buffer of
    /// [`Config::max_payload`](super::Config::max_payload) bytes, or less to
    /// bound memory further). Once permessage-deflate is on
    /// (`enable_deflate`, features `deflate` and `alloc`) every message comes from
    /// `assembler`: compressed ones are inflated into it through a small
    /// stack buffer (bad compressed data fails the WebSocket with 1007, a
    /// message inflated past the limit with 1009).
    ///
    /// A message that breaks Engine.IO (an invalid packet, a client ping, a
    /// message over the assembler's limit) closes the session (or abandons the
    /// probe): [`Event::Closed`] says why, the message counts as consumed and
    /// the rest of the input, the client's close frame included, is read as
    /// usual. An error is returned only when the WebSocket itself fails
    /// ([`Error::WebSocket`], with its close code; the session closes and the
    /// close frame is in [`poll_ws`](Self::poll_ws)): stop reading then.
    /// [`Error::InvalidState`] when there is no WebSocket.
    pub fn handle_ws_input<'a, A: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        assembler: &'a mut Assembler<A>,
    ) -> Result<WsInput<'a>, Error> {
        self.now = now;
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        if let (Some(conn), Some(z)) = (self.ws.as_mut(), self.deflate.as_mut()) {
            use super::transport::Outcome;
            let (consumed, outcome) =
                match super::transport::ws_input_deflate(conn, z, now, input, assembler) {
                    Ok(r) => r,
                    Err(e) => return Err(self.ws_error(e)),
                };
            let event = !matches!(outcome, Outcome::Nothing);
            let message = match outcome {
                Outcome::Nothing | Outcome::Control => None,
                Outcome::Close => {
                    self.on_ws_gone();
                    None
                }
                Outcome::Invalid(e) => {
                    self.ws_fail(e);
                    None
                }
                Outcome::Packet(p) => self.on_ws_packet(p),
            };
            return WsInput::after(consumed, event)(message);
        }
        let Some(conn) = self.ws.as_mut() else {
            return Err(Error::InvalidState);
        };
        let input = match conn.handle_input(now, input) {
            Ok(i) => i,
            Err(e) => return Err(self.ws_error(e)),
        };
        let done = WsInput::after(input.consumed, input.event.is_some());
        let event = match input.event {
            None | Some(ws::Event::Ping(_)) | Some(ws::Event::Pong(_)) => return done(None),
            Some(ws::Event::Close { .. }) => {
                self.on_ws_gone();
                return done(None);
            }
            Some(ev) => ev,
        };
        // A message that breaks Engine.IO ends the session (or the probe); its
        // bytes are consumed so the closing handshake can still be read.
        let packet = match ws_packet(event, assembler) {
            Ok(Some(p)) => p,
            Ok(None) => return done(None),
            Err(e) => {
                self.ws_fail(e);
                return done(None);
            }
        };
        done(self.on_ws_packet(packet))
    }

    /// The WebSocket failed: the session (or the probe) with it.
    fn ws_error(&mut self, e: ws::Error) -> Error {
        let e = Error::from(e);
        if self.transport == Transport::WebSocket {
            return self.fail(e);
        }
        self.probe = Probe::Failed;
        e
    }

    /// A whole packet from the WebSocket: the transport's, or the probe's.
    fn on_ws_packet<'a>(&mut self, packet: Packet<'a>) -> Option<Data<'a>> {
        if self.transport == Transport::WebSocket {
            if self.phase != Phase::Open {
                return None;
            }
            return self.on_packet(packet).unwrap_or(None);
        }
        self.on_probe_packet(packet);
        None
    }

    /// A packet on the probe WebSocket.
    fn on_probe_packet(&mut self, packet: Packet<'_>) {
        match (self.probe, packet) {
            (Probe::Opened { deadline }, Packet::Ping("probe")) => {
                self.probe_reply = true;
                self.probe = Probe::Probed { deadline };
            }
            (Probe::Probed { .. }, Packet::Upgrade) if self.phase == Phase::Open => {
                self.transport = Transport::WebSocket;
                self.probe = Probe::None;
                let _ = self.events.push_back(Event::Upgraded);
            }
            (Probe::Failed, _) => {}
            _ => self.abandon_probe(),
        }
    }

    /// Starts the WebSocket's closing handshake, if it is open.
    fn close_ws(&mut self) {
        if self.ws_is_open() {
            self.ws_close = true;
        }
    }

    fn ws_is_open(&self) -> bool {
        self.ws
            .as_ref()
            .is_some_and(|w| w.state() == ws::State::Open)
    }

    fn abandon_probe(&mut self) {
        self.probe = Probe::Failed;
        self.probe_reply = false;
        self.close_ws();
    }

    /// An invalid message on the WebSocket: fails the session, or the probe.
    fn ws_fail(&mut self, e: Error) {
        if self.transport == Transport::WebSocket {
            self.fail(e);
        } else {
            self.abandon_probe();
        }
    }

    /// The WebSocket closed or ended.
    fn on_ws_gone(&mut self) {
        if self.transport == Transport::WebSocket {
            self.begin_close(CloseReason::TransportClose, false);
            self.try_finish();
        } else {
            self.probe = Probe::Failed;
            self.probe_reply = false;
        }
    }

    /// The WebSocket's TCP stream ended.
    pub fn handle_ws_eof(&mut self, now: Instant) {
        self.now = now;
        if let Some(c) = self.ws.as_mut() {
            let _ = c.handle_eof(now);
        }
        self.on_ws_gone();
        // The phase may be Closing with a goodbye that can no longer go out.
        self.try_finish();
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next. Changes after
    /// every input and command.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |t| t.min(d)));
            }
        };
        match self.phase {
            Phase::Open => {
                consider(self.pong_deadline);
                consider(self.next_ping.filter(|_| self.pong_deadline.is_none()));
            }
            Phase::Closing { deadline, .. } => consider(Some(deadline)),
            Phase::Closed => {}
        }
        if let Probe::Opened { deadline } | Probe::Probed { deadline } = self.probe {
            consider(Some(deadline));
        }
        consider(self.ws.as_ref().and_then(|w| w.poll_timeout()));
        t
    }

    /// Runs the timers: the heartbeat ping, the pong deadline, the upgrade
    /// timeout, the close deadline. Harmless when early or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(c) = self.ws.as_mut() {
            c.handle_timeout(now);
        }
        if let Probe::Opened { deadline } | Probe::Probed { deadline } = self.probe
            && now >= deadline
        {
            self.abandon_probe();
        }
        if self.phase == Phase::Open {
            if self.pong_deadline.is_some_and(|d| now >= d) {
                self.fail(Error::PingTimeout);
            } else if self.pong_deadline.is_none() && self.next_ping.is_some_and(|p| now >= p) {
                // A full queue means the client is not reading; the pong
                // deadline ends the session then.
                let _ = self.queue.push(TAG_TEXT, &[b"2"]);
                self.next_ping = None;
                self.pong_deadline = Some(now + self.config.ping_timeout);
            }
        }
        self.try_finish();
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// What the application must know: upgrades and the end of the session.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True when [`poll_event`](Self::poll_event) has something.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// The answer to the held GET, as a whole HTTP response, or 0 when it must
    /// keep waiting (or no GET is held). Writes as many queued packets as fit in
    /// `out`; [`Error::BufferTooSmall`] when not even the first one does.
    #[must_use = "the response must be written to the held GET's connection"]
    pub fn poll_http(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if !self.get_held {
            return Ok(0);
        }
        // Room for the head; the body is written after it and the head then
        // written in front.
        const HEAD_ROOM: usize = 96;
        let release_only = self.transport == Transport::WebSocket
            || (self.queue.is_empty() && matches!(self.probe, Probe::Probed { .. }));
        if self.queue.is_empty() && !release_only {
            return Ok(0);
        }
        let body_start = HEAD_ROOM.min(out.len());
        let mut w = PayloadWriter::new(&mut out[body_start..]);
        if release_only {
            if let Err(Error::BufferTooSmall { required }) = w.push(&Packet::Noop) {
                return Err(Error::BufferTooSmall {
                    required: required + HEAD_ROOM,
                });
            }
        } else {
            let mut count = 0;
            while let Some((tag, bytes)) = self.queue.front() {
                match w.push(&entry_packet(tag, bytes)) {
                    Ok(()) => {
                        self.queue.pop();
                        count += 1;
                    }
                    Err(Error::BufferTooSmall { required }) if count == 0 => {
                        return Err(Error::BufferTooSmall {
                            required: required + HEAD_ROOM,
                        });
                    }
                    Err(_) => break,
                }
            }
        }
        let body_len = w.len();
        let mut head = [0u8; HEAD_ROOM];
        let head_len = http::write_head(&mut head, |w| {
            w.status_line(200);
            w.header("Content-Type", b"text/plain; charset=UTF-8");
            w.header_u64("Content-Length", body_len as u64);
            w.raw(b"\r\n");
        })?;
        out.copy_within(body_start..body_start + body_len, head_len);
        out[..head_len].copy_from_slice(&head[..head_len]);
        self.get_held = false;
        self.try_finish();
        Ok(head_len + body_len)
    }

    /// Bytes for the session's WebSocket: its control frames, the probe's
    /// `3probe`, queued packets (one frame each, written across calls when
    /// `out` is small; needs at least 10 bytes), the closing frame. 0 when
    /// there is nothing.
    #[must_use = "the bytes must be written to the WebSocket's connection"]
    pub fn poll_ws(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let now = self.now;
        let Some(conn) = self.ws.as_mut() else {
            return Ok(0);
        };
        let n = conn.poll_transmit(out)?;
        if n > 0 {
            return Ok(n);
        }
        // A frame already begun goes out whole, whatever happened since.
        if self.ws_frame_started
            && let Some((n, popped)) =
                self.queue
                    .write_front_frame(conn, &mut self.ws_frame_started, out)?
        {
            if popped {
                self.try_finish();
            }
            return Ok(n);
        }
        if conn.state() != ws::State::Open {
            return Ok(0);
        }
        if self.probe_reply {
            let n = conn.send_text("3probe", out)?;
            self.probe_reply = false;
            return Ok(n);
        }
        if self.transport == Transport::WebSocket
            && let Some((n, popped)) =
                self.queue
                    .write_front_frame(conn, &mut self.ws_frame_started, out)?
        {
            if popped {
                self.try_finish();
            }
            return Ok(n);
        }
        if self.ws_close {
            // Cleared only once written: a buffer too small keeps it due.
            // An empty Close frame, as the reference server's `ws` sends.
            let n = conn.close_without_status(now, out)?;
            self.ws_close = false;
            return Ok(n);
        }
        Ok(0)
    }
}
