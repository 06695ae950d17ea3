//! The Socket.IO client: namespaces, events and acks, the send buffer, automatic
//! reconnection with exponential back-off, and connection state recovery.

use super::Error;
use super::acks::Acks;
use super::packet::{Limits, Packet, PacketType};
use super::wire::{Assembler, Attachments, EventText, Header, MAX_NAMESPACE_LEN, Message};
use crate::engineio::queue::{self, ENTRY_HEADER, Queue, TAG_BINARY, TAG_TEXT};
use crate::engineio::{self, Data};
use crate::entropy::Entropy;
use crate::json;
use crate::storage::Buffer;
use crate::time::{Duration, Instant};

/// The bytes in front of a buffered packet's namespace: disconnect flag,
/// attachment count (u16 LE), namespace length.
const META_LEN: usize = 4;

/// A buffered text entry: (disconnect, attachments, namespace, packet text).
fn split_entry(entry: &[u8]) -> Option<(bool, usize, &str, &str)> {
    let (meta, rest) = entry.split_first_chunk::<META_LEN>()?;
    let [disconnect, c0, c1, nsp_len] = *meta;
    let (nsp, text) = rest.split_at_checked(usize::from(nsp_len))?;
    Some((
        disconnect != 0,
        usize::from(u16::from_le_bytes([c0, c1])),
        core::str::from_utf8(nsp).ok()?,
        core::str::from_utf8(text).ok()?,
    ))
}

/// The Engine.IO queue storage a packet of `text_len` bytes and its
/// attachments take.
fn queue_need(text_len: usize, attachments: impl Iterator<Item = usize>) -> usize {
    queue::cost(false, text_len) + attachments.map(|len| queue::cost(true, len)).sum::<usize>()
}

/// The longest handshake auth (a JSON object) a namespace keeps, in bytes.
pub const MAX_AUTH_LEN: usize = 256;
/// The longest recovery id or offset kept, in bytes.
pub const MAX_RECOVERY_LEN: usize = 64;

/// ClientCore settings; the defaults are the reference client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConfig {
    /// Reconnect automatically when the transport closes. Default true.
    pub reconnection: bool,
    /// Give up after this many failed attempts in a row. Default unlimited
    /// (`u32::MAX`).
    pub reconnection_attempts: u32,
    /// The first delay. Default 1 s; doubled per attempt.
    pub reconnection_delay: Duration,
    /// The longest delay. Default 5 s.
    pub reconnection_delay_max: Duration,
    /// Jitter: each delay moves by up to this fraction of itself, in
    /// thousandths. Default 500 (0.5).
    pub randomization_permille: u16,
    /// Decoder bounds.
    pub limits: Limits,
}

impl ClientConfig {
    /// The defaults.
    pub const DEFAULT: ClientConfig = ClientConfig {
        reconnection: true,
        reconnection_attempts: u32::MAX,
        reconnection_delay: Duration::from_millis(1000),
        reconnection_delay_max: Duration::from_millis(5000),
        randomization_permille: 500,
        limits: Limits {
            max_namespace_len: MAX_NAMESPACE_LEN,
            ..Limits::DEFAULT
        },
    };
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The reference client's back-off: `delay * 2^attempt`, moved down or up by
/// a random fraction of up to `randomization` of itself, capped at `max`.
///
/// ```
/// use sockwire::socketio::backoff;
/// use sockwire::time::Duration;
/// let d = |a, r| backoff(a, Duration::from_millis(1000), Duration::from_millis(5000), 500, r);
/// assert_eq!(d(0, 0), Duration::from_millis(1000));
/// assert_eq!(d(2, 0), Duration::from_millis(4000));
/// assert_eq!(d(9, 0), Duration::from_millis(5000));
/// ```
pub fn backoff(
    attempt: u32,
    delay: Duration,
    max: Duration,
    randomization_permille: u16,
    random: u32,
) -> Duration {
    let base = delay.as_millis().saturating_mul(1u64 << attempt.min(40));
    let jitter = u64::from(randomization_permille.min(1000));
    // deviation = rand * jitter * base, with rand = random / 2^32.
    let deviation = ((u128::from(random) * u128::from(jitter) * u128::from(base)) >> 32) / 1000;
    let deviation = deviation as u64;
    // The reference picks the direction from the same random number:
    // down when floor(rand * 10) is even.
    let tenths = (u64::from(random) * 10) >> 32;
    let ms = if tenths & 1 == 0 {
        base.saturating_sub(deviation)
    } else {
        base.saturating_add(deviation)
    };
    Duration::from_millis(ms.min(max.as_millis()))
}

/// Why a namespace is no longer connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server sent DISCONNECT ("io server disconnect"): no reconnection
    /// for this namespace.
    ServerDisconnect,
    /// The application called [`ClientCore::disconnect`] ("io client
    /// disconnect").
    ClientDisconnect,
    /// The Engine.IO session ended ("transport close", "ping timeout",
    /// "transport error", "parse error"); reconnection follows if enabled.
    TransportClosed(engineio::ClientCloseReason),
    /// The server broke the Socket.IO protocol ("parse error"); the
    /// Engine.IO session was closed and reconnection follows if enabled.
    ParseError(Error),
}

/// What a message from the server means, borrowing the message (or the
/// [`Assembler`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientEvent<'a> {
    /// The server accepted `nsp`; buffered emits for it start to flow.
    Connect {
        /// The namespace.
        nsp: &'a str,
        /// The socket id the server gave.
        sid: &'a str,
        /// The server restored the previous session (connection state
        /// recovery): the events missed while disconnected have arrived.
        recovered: bool,
    },
    /// The server refused `nsp` (its middleware or an unknown namespace); the
    /// namespace is dropped and not retried.
    ConnectError {
        /// The namespace.
        nsp: &'a str,
        /// The raw JSON the server sent, typically `{"message":"..."}`.
        data: &'a str,
    },
    /// An event from the server; answer with [`ClientCore::ack`] if it has an
    /// `ack_id`.
    Event(Message<'a>),
    /// The answer to one of [`ClientCore::emit_with_ack`]'s events.
    Ack(Message<'a>),
    /// The server removed the client from `nsp` (no reconnection for it).
    Disconnect {
        /// The namespace.
        nsp: &'a str,
    },
}

/// What the application learns from [`ClientCore::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientNotice {
    /// Open a TCP connection to the server for `conn` and report it with
    /// [`Client::handle_connected`](super::Client::handle_connected) (or
    /// `handle_closed`). Only the [`Client`](super::Client) endpoint asks.
    OpenConnection {
        /// The handle to use for it.
        conn: engineio::ConnId,
        /// What it is for.
        purpose: engineio::Purpose,
    },
    /// What happened to the Engine.IO session underneath
    /// ([`engineio::ClientEvent::Open`], `Upgraded`, `UpgradeFailed`,
    /// `Closed`), for information: the [`Client`](super::Client) endpoint
    /// has acted on it already.
    Transport(engineio::ClientEvent),
    /// Open a new transport now (a TCP connection, the WebSocket handshake, a
    /// fresh [`engineio::ClientSession`]), then call [`ClientCore::handle_open`] when it
    /// reports `Open`, or [`ClientCore::handle_transport_closed`] if it fails.
    /// `attempt` counts from 1 since the last successful open.
    Reconnect {
        /// The attempt number.
        attempt: u32,
    },
    /// [`ClientConfig::reconnection_attempts`] attempts failed; the client
    /// stopped.
    ReconnectFailed,
    /// `nsp` lost its connection for `reason`; its emits are buffered until
    /// it reconnects (unless the reason ends it).
    Disconnected {
        /// The namespace.
        nsp: heapless::String<MAX_NAMESPACE_LEN>,
        /// Why.
        reason: DisconnectReason,
    },
    /// No ack arrived in time for this id.
    AckTimeout(u64),
    /// The transport failed in a way no retry mends (the server is not an
    /// Engine.IO/Socket.IO server: [`engineio::Error::NotEngineIo`]); the
    /// client stopped and will not reconnect.
    Fatal(engineio::Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NsState {
    /// Waiting for the transport, or for a reconnection.
    Waiting,
    /// CONNECT sent.
    Connecting,
    Connected,
}

#[derive(Clone, Debug)]
struct Namespace {
    name: heapless::String<MAX_NAMESPACE_LEN>,
    auth: heapless::String<MAX_AUTH_LEN>,
    state: NsState,
    /// Connection state recovery: the server's private session id and the
    /// offset of the last event received.
    pid: heapless::String<MAX_RECOVERY_LEN>,
    offset: heapless::String<MAX_RECOVERY_LEN>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The transport is open.
    Open,
    /// No transport; the next attempt is due at `retry_at` (`None`: the
    /// application opens the first transport itself, or an attempt is in
    /// progress).
    Down { retry_at: Option<Instant> },
    /// Reconnection gave up or is off, or [`ClientCore::close`] was called.
    Stopped,
}

/// A Socket.IO client over one Engine.IO client session at a time.
///
/// It joins up to `N` namespaces and keeps up to `A` acks outstanding. Emits
/// go to a send buffer in storage `B` the caller lends (each packet costs its
/// length plus its namespace's plus 9 bytes, each attachment its length plus
/// 5); the buffer is
/// flushed to the transport by [`flush`](Self::flush) while the packet's
/// namespace is connected, and keeps them while disconnected. A full buffer is
/// [`Error::SendBufferFull`], nothing queued.
///
/// The transport is the application's: it opens an [`engineio::ClientSession`] on
/// [`ClientNotice::Reconnect`] (and once at the start), calls
/// [`handle_open`](Self::handle_open) when it opens and
/// [`handle_transport_closed`](Self::handle_transport_closed) when it ends,
/// and feeds its messages to [`handle_message`](Self::handle_message).
#[derive(Debug)]
pub struct ClientCore<B, const N: usize = 4, const A: usize = 16> {
    config: ClientConfig,
    phase: Phase,
    attempts: u32,
    namespaces: heapless::Vec<Namespace, N>,
    acks: Acks<A>,
    buffer: Queue<B>,
    notices: heapless::Deque<ClientNotice, 8>,
}

impl<B: Buffer, const N: usize, const A: usize> ClientCore<B, N, A> {
    /// A client with no transport yet: open the first one, then call
    /// [`handle_open`](Self::handle_open).
    pub fn new(config: ClientConfig, send_buffer: B) -> Self {
        let mut config = config;
        config.limits.max_namespace_len = config.limits.max_namespace_len.min(MAX_NAMESPACE_LEN);
        ClientCore {
            config,
            phase: Phase::Down { retry_at: None },
            attempts: 0,
            namespaces: heapless::Vec::new(),
            acks: Acks::new(),
            buffer: Queue::new(send_buffer),
            notices: heapless::Deque::new(),
        }
    }

    /// True while `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.find(nsp)
            .is_some_and(|i| self.namespaces[i].state == NsState::Connected)
    }

    /// True once reconnection has stopped (given up, off, or
    /// [`close`](Self::close)).
    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Bytes free in the send buffer.
    pub fn buffer_free(&self) -> usize {
        self.buffer.free()
    }

    fn find(&self, nsp: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.name == nsp)
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Joins `nsp` with the handshake `auth` (a raw JSON object), now if the
    /// transport is open, else when it opens. The reference client sends a
    /// CONNECT for every namespace, `/` included: join `/` too if you use it.
    ///
    /// Errors: [`Error::TooManyNamespaces`], [`Error::NamespaceTooLong`],
    /// [`Error::InvalidPayload`] (auth is not a JSON object or is longer than
    /// [`MAX_AUTH_LEN`]), [`Error::Engine`] if the CONNECT cannot be queued.
    pub fn connect<Q, E>(
        &mut self,
        eio: Option<&mut engineio::ClientSession<Q, E>>,
        nsp: &str,
        auth: Option<&str>,
    ) -> Result<(), Error>
    where
        Q: Buffer,
        E: Entropy,
    {
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(Error::InvalidNamespace);
        }
        // The server's answers name it too: past the decoder's limit, every
        // one would fail to decode.
        if nsp.len() > self.config.limits.max_namespace_len {
            return Err(Error::NamespaceTooLong);
        }
        let name = heapless::String::try_from(nsp).map_err(|_| Error::NamespaceTooLong)?;
        // Sent right after the header, where no whitespace may come.
        let auth = auth.unwrap_or("").trim_matches([' ', '\t', '\n', '\r']);
        if !auth.is_empty()
            && (json::validate(auth, self.config.limits.max_depth).is_err()
                || json::kind(auth) != Some(json::Kind::Object))
        {
            return Err(Error::InvalidPayload);
        }
        let auth = heapless::String::try_from(auth).map_err(|_| Error::InvalidPayload)?;
        if self.find(nsp).is_some() {
            return Ok(());
        }
        self.namespaces
            .push(Namespace {
                name,
                auth,
                state: NsState::Waiting,
                pid: heapless::String::new(),
                offset: heapless::String::new(),
            })
            .map_err(|_| Error::TooManyNamespaces)?;
        if self.phase == Phase::Open
            && let Some(eio) = eio
        {
            let i = self.namespaces.len() - 1;
            self.send_connect(eio, i)?;
        }
        Ok(())
    }

    /// Sends event `name` with `args` (raw JSON values, comma separated, or
    /// empty) and binary `attachments` on `nsp`, through the send buffer: it
    /// goes out at the next [`flush`](Self::flush) while `nsp` is connected,
    /// and waits while it is not (the reference client's `sendBuffer`).
    ///
    /// Errors: [`Error::NotConnected`] when `nsp` was never joined (or was
    /// dropped), [`Error::SendBufferFull`] (nothing buffered),
    /// [`Error::TooManyAttachments`].
    pub fn emit(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.buffer_event(nsp, None, name, args, attachments)
    }

    /// [`emit`](Self::emit) asking for an ack: returns its id; with a
    /// `timeout`, [`ClientNotice::AckTimeout`] comes if the ack is late (the
    /// time runs while disconnected too, as in the reference client).
    #[allow(clippy::too_many_arguments)]
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<Duration>,
    ) -> Result<u64, Error> {
        let id = self.acks.next_id()?;
        self.buffer_event(nsp, Some(id), name, args, attachments)?;
        self.acks.sent(now, timeout);
        Ok(id)
    }

    /// A volatile emit: sent at once if `nsp` is connected and the transport
    /// takes it, otherwise dropped (the one documented exception to "nothing
    /// accepted is lost"). Returns whether it was sent.
    pub fn emit_volatile<Q, E>(
        &mut self,
        eio: &mut engineio::ClientSession<Q, E>,
        nsp: &str,
        name: &str,
        args: &str,
    ) -> Result<bool, Error>
    where
        Q: Buffer,
        E: Entropy,
    {
        if !self.is_connected(nsp) || self.phase != Phase::Open || !self.buffer.is_empty() {
            return Ok(false);
        }
        let text = EventText::new(nsp, None, name, 0, &self.config.limits)?;
        Ok(eio.send_text_parts(&text.parts(args)).is_ok())
    }

    /// Answers the server's event `ack_id` on `nsp` (through the send buffer).
    pub fn ack(
        &mut self,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.find(nsp).ok_or(Error::NotConnected)?;
        if attachments.len() > self.config.limits.max_attachments {
            return Err(Error::TooManyAttachments);
        }
        let kind = if attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        let mut header = Header::new();
        header.packet(kind, nsp, attachments.len(), Some(ack_id))?;
        self.buffer_packet(nsp, false, &[header.as_str(), "[", args, "]"], attachments)
    }

    /// Leaves `nsp`: DISCONNECT if connected (through the send buffer); the
    /// namespace is forgotten and not rejoined on reconnection.
    pub fn disconnect(&mut self, nsp: &str) -> Result<(), Error> {
        let i = self.find(nsp).ok_or(Error::NotConnected)?;
        if self.namespaces[i].state == NsState::Connected {
            let mut header = Header::new();
            header.packet(PacketType::Disconnect, nsp, 0, None)?;
            self.buffer_packet(nsp, true, &[header.as_str()], &[])?;
            // The DISCONNECT must still go out: keep the namespace until the
            // buffer has been flushed past it.
        }
        let ns = self.namespaces.remove(i);
        let _ = self.notices.push_back(ClientNotice::Disconnected {
            nsp: ns.name,
            reason: DisconnectReason::ClientDisconnect,
        });
        Ok(())
    }

    /// Stops: no more reconnection. Close the transport yourself.
    pub fn close(&mut self) {
        self.phase = Phase::Stopped;
    }

    fn buffer_event(
        &mut self,
        nsp: &str,
        ack_id: Option<u64>,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.event_via::<[u8; 0], crate::entropy::NoEntropy>(
            None,
            nsp,
            ack_id,
            name,
            args,
            attachments,
        )
    }

    fn event_via<Q: Buffer, E: Entropy>(
        &mut self,
        eio: Option<&mut engineio::ClientSession<Q, E>>,
        nsp: &str,
        ack_id: Option<u64>,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.find(nsp).ok_or(Error::NotConnected)?;
        let text = EventText::new(nsp, ack_id, name, attachments.len(), &self.config.limits)?;
        self.packet_via(eio, nsp, false, &text.parts(args), attachments)
    }

    /// [`emit`](Self::emit) that goes straight to `eio`'s queue when it can:
    /// the namespace is connected, nothing is buffered before it and the
    /// queue has room (the packet is then copied once, into the queue);
    /// otherwise it is buffered as `emit` does. `ack`: `Some(timeout)` asks
    /// for an ack and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn emit_via<Q: Buffer, E: Entropy>(
        &mut self,
        eio: Option<&mut engineio::ClientSession<Q, E>>,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        ack: Option<Option<Duration>>,
    ) -> Result<Option<u64>, Error> {
        match ack {
            None => self
                .event_via(eio, nsp, None, name, args, attachments)
                .map(|()| None),
            Some(timeout) => {
                let id = self.acks.next_id()?;
                self.event_via(eio, nsp, Some(id), name, args, attachments)?;
                self.acks.sent(now, timeout);
                Ok(Some(id))
            }
        }
    }

    /// Sends one packet and its attachments to `eio` now when nothing waits
    /// before it and its namespace is connected (and the queue takes it
    /// whole); else buffers it, all or nothing.
    fn packet_via<Q: Buffer, E: Entropy>(
        &mut self,
        eio: Option<&mut engineio::ClientSession<Q, E>>,
        nsp: &str,
        disconnect: bool,
        text: &[&str],
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        if let Some(eio) = eio
            && self.buffer.is_empty()
            && self.phase == Phase::Open
            && eio.is_open()
            && (disconnect || self.is_connected(nsp))
        {
            let text_len: usize = text.iter().map(|t| t.len()).sum();
            let need = queue_need(text_len, attachments.iter().map(|a| a.len()));
            if need <= eio.queue_free() {
                eio.send_text_parts(text)?;
                for a in attachments {
                    eio.send_binary(a)?;
                }
                return Ok(());
            }
        }
        self.buffer_packet(nsp, disconnect, text, attachments)
    }

    /// Buffers one packet and its attachments, all or nothing. The text
    /// entry starts with what [`flush`](Self::flush) needs to know, so it
    /// never decodes the packet again: `[disconnect: u8][attachments: u16
    /// LE][namespace length: u8][namespace][packet text]`.
    fn buffer_packet(
        &mut self,
        nsp: &str,
        disconnect: bool,
        text: &[&str],
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let count = u16::try_from(attachments.len()).map_err(|_| Error::TooManyAttachments)?;
        let nsp_len = u8::try_from(nsp.len()).map_err(|_| Error::NamespaceTooLong)?;
        let text_len: usize = text.iter().map(|t| t.len()).sum();
        let need = ENTRY_HEADER
            + META_LEN
            + nsp.len()
            + text_len
            + attachments
                .iter()
                .map(|a| ENTRY_HEADER + a.len())
                .sum::<usize>();
        if need > self.buffer.free() {
            return Err(Error::SendBufferFull);
        }
        let [c0, c1] = count.to_le_bytes();
        let meta = [u8::from(disconnect), c0, c1, nsp_len];
        let mut parts: [&[u8]; 8] = [&[]; 8];
        parts[0] = &meta;
        parts[1] = nsp.as_bytes();
        for (slot, t) in parts[2..].iter_mut().zip(text) {
            *slot = t.as_bytes();
        }
        self.buffer
            .push(TAG_TEXT, &parts[..2 + text.len()])
            .map_err(|_| Error::SendBufferFull)?;
        for a in attachments {
            self.buffer
                .push(TAG_BINARY, &[a])
                .map_err(|_| Error::SendBufferFull)?;
        }
        Ok(())
    }

    /// Moves buffered packets to the transport, in order, while their
    /// namespace is connected and the transport takes a packet with all its
    /// attachments, and sends the CONNECT of a namespace joined while the
    /// transport was open. Call it after every input and command, with the
    /// transport's other output. Packets still buffered for a namespace that
    /// was left, refused or removed by the server are dropped: they can
    /// never be sent.
    pub fn flush<Q, E>(&mut self, eio: &mut engineio::ClientSession<Q, E>) -> Result<(), Error>
    where
        Q: Buffer,
        E: Entropy,
    {
        if self.phase != Phase::Open || !eio.is_open() {
            return Ok(());
        }
        // A namespace joined while open, whose CONNECT could not go out then.
        for i in 0..self.namespaces.len() {
            if self.namespaces[i].state == NsState::Waiting {
                self.send_connect(eio, i)?;
            }
        }
        enum Step {
            Skip,
            Wait,
            Send(usize),
        }
        loop {
            let step = match self.buffer.front() {
                None => return Ok(()),
                // Attachments leave with their packet; a stray one (cannot
                // happen) is skipped.
                Some((tag, _)) if tag != TAG_TEXT => Step::Skip,
                Some((_, entry)) => match split_entry(entry) {
                    None => Step::Skip,
                    Some((disconnect, count, nsp, text)) => {
                        if !disconnect && self.find(nsp).is_none() {
                            // Left, refused or removed by the server: it can
                            // never go out (its attachments follow it as
                            // strays).
                            Step::Skip
                        } else if !disconnect && !self.is_connected(nsp) {
                            // Head of line: wait for this namespace.
                            Step::Wait
                        } else {
                            let attachments = self.buffer.entries().skip(1).take(count);
                            let need = queue_need(text.len(), attachments.map(|(_, a)| a.len()));
                            if need > eio.queue_free() {
                                Step::Wait
                            } else {
                                Step::Send(count)
                            }
                        }
                    }
                },
            };
            match step {
                Step::Skip => self.buffer.pop(),
                Step::Wait => return Ok(()),
                Step::Send(count) => {
                    for k in 0..=count {
                        let Some((_, bytes)) = self.buffer.front() else {
                            break;
                        };
                        if k == 0 {
                            let text = split_entry(bytes).map_or("", |(_, _, _, t)| t);
                            eio.send_text(text)?;
                        } else {
                            eio.send_binary(bytes)?;
                        }
                        self.buffer.pop();
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // The transport
    // ------------------------------------------------------------------

    /// The transport opened (its [`engineio::ClientSessionEvent::Open`]): sends a
    /// CONNECT for every namespace, with its auth and, after a disconnection,
    /// the recovery id and offset (`{"pid":...,"offset":...}` merged into the
    /// auth).
    pub fn handle_open<Q, E>(
        &mut self,
        eio: &mut engineio::ClientSession<Q, E>,
    ) -> Result<(), Error>
    where
        Q: Buffer,
        E: Entropy,
    {
        if self.phase == Phase::Stopped {
            return Err(Error::InvalidState);
        }
        self.phase = Phase::Open;
        self.attempts = 0;
        for i in 0..self.namespaces.len() {
            self.send_connect(eio, i)?;
        }
        Ok(())
    }

    fn send_connect<Q, E>(
        &mut self,
        eio: &mut engineio::ClientSession<Q, E>,
        i: usize,
    ) -> Result<(), Error>
    where
        Q: Buffer,
        E: Entropy,
    {
        let ns = &self.namespaces[i];
        let mut header = Header::new();
        header.packet(PacketType::Connect, &ns.name, 0, None)?;
        let auth = ns.auth.as_str();
        if ns.pid.is_empty() {
            eio.send_text_parts(&[header.as_str(), auth])?;
        } else {
            // The reference client merges the recovery fields into the auth.
            let inner = auth
                .trim()
                .strip_prefix('{')
                .and_then(|a| a.strip_suffix('}'))
                .unwrap_or("")
                .trim();
            let sep = if inner.is_empty() { "" } else { "," };
            let mut pid = [0u8; 2 * MAX_RECOVERY_LEN + 2];
            let n = json::write_str(&ns.pid, &mut pid)?;
            let pid = core::str::from_utf8(&pid[..n]).map_err(|_| Error::InvalidPayload)?;
            let mut off = [0u8; 2 * MAX_RECOVERY_LEN + 2];
            let n = json::write_str(&ns.offset, &mut off)?;
            let off = core::str::from_utf8(&off[..n]).map_err(|_| Error::InvalidPayload)?;
            // `{"pid":P,"offset":O` + `,` + inner + `}`; with no event
            // received yet there is no offset, and the reference client then
            // leaves the field out.
            let (off_key, off) = if ns.offset.is_empty() {
                ("", "")
            } else {
                (",\"offset\":", off)
            };
            let mut text = [0u8; MAX_AUTH_LEN + 4 * MAX_RECOVERY_LEN + 32];
            let mut len = 0;
            for p in ["{\"pid\":", pid, off_key, off, sep, inner, "}"] {
                text[len..len + p.len()].copy_from_slice(p.as_bytes());
                len += p.len();
            }
            let text = core::str::from_utf8(&text[..len]).map_err(|_| Error::InvalidPayload)?;
            eio.send_text_parts(&[header.as_str(), text])?;
        }
        self.namespaces[i].state = NsState::Connecting;
        Ok(())
    }

    /// The transport ended (its [`engineio::ClientSessionEvent::Closed`], or an
    /// attempt that failed before opening): every connected namespace gets a
    /// [`ClientNotice::Disconnected`], and the next attempt is scheduled with
    /// back-off (`entropy` gives the jitter), unless reconnection is off or
    /// gave up.
    pub fn handle_transport_closed(
        &mut self,
        now: Instant,
        reason: engineio::ClientCloseReason,
        entropy: impl Entropy,
    ) {
        self.on_down(now, DisconnectReason::TransportClosed(reason), entropy);
    }

    fn on_down(&mut self, now: Instant, reason: DisconnectReason, mut entropy: impl Entropy) {
        for ns in self.namespaces.iter_mut() {
            if ns.state == NsState::Connected {
                let _ = self.notices.push_back(ClientNotice::Disconnected {
                    nsp: ns.name.clone(),
                    reason,
                });
            }
            ns.state = NsState::Waiting;
        }
        if self.phase == Phase::Stopped {
            return;
        }
        if let DisconnectReason::TransportClosed(engineio::ClientCloseReason::Error(
            e @ engineio::Error::NotEngineIo,
        )) = reason
        {
            self.phase = Phase::Stopped;
            let _ = self.notices.push_back(ClientNotice::Fatal(e));
            return;
        }
        if !self.config.reconnection || self.namespaces.is_empty() {
            self.phase = Phase::Stopped;
            return;
        }
        if self.attempts >= self.config.reconnection_attempts {
            self.phase = Phase::Stopped;
            let _ = self.notices.push_back(ClientNotice::ReconnectFailed);
            return;
        }
        let mut r = [0u8; 4];
        entropy.fill_bytes(&mut r);
        let delay = backoff(
            self.attempts,
            self.config.reconnection_delay,
            self.config.reconnection_delay_max,
            self.config.randomization_permille,
            u32::from_le_bytes(r),
        );
        self.phase = Phase::Down {
            retry_at: Some(now + delay),
        };
    }

    /// One message from the transport.
    ///
    /// Errors: a packet that does not decode, [`Error::UnexpectedBinary`],
    /// [`Error::MissingAttachments`], [`Error::AttachmentsTooLarge`]: the
    /// server broke the protocol; the transport is closed ("parse error"),
    /// [`ClientNotice::Disconnected`] follows for each namespace, and
    /// reconnection is scheduled as for a transport close.
    pub fn handle_message<'a, Q, E, Z>(
        &mut self,
        now: Instant,
        eio: &mut engineio::ClientSession<Q, E>,
        message: Data<'a>,
        asm: &'a mut Assembler<Z>,
        entropy: impl Entropy,
    ) -> Result<Option<ClientEvent<'a>>, Error>
    where
        Q: Buffer,
        E: Entropy,
        Z: AsMut<[u8]> + AsRef<[u8]>,
    {
        let taken = match message {
            Data::Binary(bytes) => asm.take_binary(bytes, &self.config.limits),
            Data::Text(text) => asm.take_text(text, &self.config.limits),
        };
        match taken {
            Ok(Some((p, attachments))) => Ok(self.on_packet(p, attachments)),
            Ok(None) => Ok(None),
            Err(e) => {
                eio.close(now);
                self.on_down(now, DisconnectReason::ParseError(e), entropy);
                Err(e)
            }
        }
    }

    fn on_packet<'a>(
        &mut self,
        p: Packet<'a>,
        attachments: Attachments<'a>,
    ) -> Option<ClientEvent<'a>> {
        let i = self.find(p.nsp)?;
        let message = Message {
            nsp: p.nsp,
            ack_id: p.ack_id,
            data: p.data.unwrap_or("[]"),
            attachments,
            event: matches!(p.kind, PacketType::Event | PacketType::BinaryEvent),
        };
        match p.kind {
            PacketType::Connect => {
                let data = p.data.unwrap_or("{}");
                let sid = json::get(data, "sid")?;
                let sid = sid.strip_prefix('"')?.strip_suffix('"')?;
                let ns = &mut self.namespaces[i];
                let pid =
                    json::get(data, "pid").and_then(|v| v.strip_prefix('"')?.strip_suffix('"'));
                let recovered = !ns.pid.is_empty() && pid == Some(ns.pid.as_str());
                ns.pid = pid
                    .and_then(|p| heapless::String::try_from(p).ok())
                    .unwrap_or_default();
                if !recovered {
                    ns.offset.clear();
                }
                ns.state = NsState::Connected;
                Some(ClientEvent::Connect {
                    nsp: p.nsp,
                    sid,
                    recovered,
                })
            }
            PacketType::ConnectError => {
                self.namespaces.remove(i);
                Some(ClientEvent::ConnectError {
                    nsp: p.nsp,
                    data: p.data.unwrap_or("{}"),
                })
            }
            PacketType::Disconnect => {
                self.namespaces.remove(i);
                Some(ClientEvent::Disconnect { nsp: p.nsp })
            }
            PacketType::Event | PacketType::BinaryEvent => {
                // With recovery on, the server appends the event's offset as
                // its last argument.
                let ns = &mut self.namespaces[i];
                if !ns.pid.is_empty()
                    && let Some(last) = message.args().last()
                    && let Some(s) = last.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                    && let Ok(s) = heapless::String::try_from(s)
                {
                    ns.offset = s;
                }
                Some(ClientEvent::Event(message))
            }
            PacketType::Ack | PacketType::BinaryAck => self
                .acks
                .resolve(p.ack_id)
                .then_some(ClientEvent::Ack(message)),
        }
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = match self.phase {
            Phase::Down { retry_at } => retry_at,
            _ => None,
        };
        match (retry, self.acks.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the reconnection timer and the ack timeouts. Harmless when early
    /// or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Down { retry_at: Some(at) } = self.phase
            && now >= at
            && !self.notices.is_full()
        {
            self.attempts += 1;
            self.phase = Phase::Down { retry_at: None };
            let _ = self.notices.push_back(ClientNotice::Reconnect {
                attempt: self.attempts,
            });
        }
        while !self.notices.is_full()
            && let Some(id) = self.acks.pop_expired(now)
        {
            let _ = self.notices.push_back(ClientNotice::AckTimeout(id));
        }
    }

    /// What the application must know besides messages.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientNotice> {
        self.notices.pop_front()
    }
}
