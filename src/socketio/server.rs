//! One client's Socket.IO connection, server side.

use super::Error;
use super::acks::Acks;
use super::packet::{Limits, Packet, PacketType};
pub use super::wire::{Assembler, AttachmentIter, Attachments, MAX_EVENT_NAME_LEN, Message};
pub(crate) use super::wire::{EventText, Header};
use crate::engineio::{self, Data, Sid};
use crate::entropy::Entropy;
use crate::json;
use crate::storage::Buffer;
use crate::time::{Duration, Instant};

pub use super::wire::MAX_NAMESPACE_LEN;

/// Server settings; the defaults are the reference server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// How long the client has to join a first namespace before the connection
    /// is closed. Default 45 s.
    pub connect_timeout: Duration,
    /// The namespaces that exist. A CONNECT to any other is refused at once
    /// with `{"message":"Invalid namespace"}`; a CONNECT to one of these is
    /// handed to the application ([`Event::Connect`]), which accepts or
    /// refuses it. `None`: every CONNECT goes to the application (dynamic
    /// namespaces). Default `Some(&["/"])`.
    pub namespaces: Option<&'static [&'static str]>,
    /// Decoder bounds. The namespace limit is capped at
    /// [`MAX_NAMESPACE_LEN`].
    pub limits: Limits,
}

impl Config {
    /// The defaults.
    pub const DEFAULT: Config = Config {
        connect_timeout: Duration::from_millis(45_000),
        namespaces: Some(&["/"]),
        limits: Limits {
            max_namespace_len: MAX_NAMESPACE_LEN,
            ..Limits::DEFAULT
        },
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a message from the client means, borrowing the message (or the
/// [`Assembler`], for binary packets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event<'a> {
    /// The client asks to join `nsp` (which exists, per
    /// [`Config::namespaces`]). Answer with [`Connection::accept`] or
    /// [`Connection::refuse`]; the reference server's middleware decides here.
    Connect {
        /// The namespace.
        nsp: &'a str,
        /// The handshake auth, a raw JSON object, if the client sent one.
        auth: Option<&'a str>,
    },
    /// An event on a joined namespace.
    Event(Message<'a>),
    /// The answer to one of [`Connection::emit_with_ack`]'s events.
    Ack(Message<'a>),
    /// The client left `nsp` (DISCONNECT).
    Disconnect {
        /// The namespace.
        nsp: &'a str,
        /// The socket id it had there.
        socket: Sid,
    },
}

/// What the application learns from [`Connection::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Notice {
    /// No ack arrived in time for this id from
    /// [`Connection::emit_with_ack`]; a late one is ignored.
    AckTimeout(u64),
    /// No namespace was joined within [`Config::connect_timeout`]; the
    /// Engine.IO session is being closed.
    ConnectTimeout,
    /// The client broke the protocol; the Engine.IO session is being closed.
    ProtocolError(Error),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Namespace {
    name: heapless::String<MAX_NAMESPACE_LEN>,
    sid: Sid,
}

/// One client's Socket.IO connection on the server: the namespaces it joined
/// (at most `N`), the acks it owes us (at most `A`), the connect timeout.
///
/// It sits on top of one [`engineio::Session`]: feed it the session's
/// messages with [`handle_message`](Self::handle_message), and its commands
/// queue packets on the session (all of a packet and its attachments, or
/// nothing: [`Error::Engine`]`(QueueFull)`). See the [module docs](super).
#[derive(Debug)]
pub struct Connection<const N: usize = 4, const A: usize = 16> {
    config: Config,
    namespaces: heapless::Vec<Namespace, N>,
    acks: Acks<A>,
    connect_deadline: Option<Instant>,
    notices: heapless::Deque<Notice, 4>,
    failed: Option<Error>,
}

impl<const N: usize, const A: usize> Connection<N, A> {
    /// A connection whose Engine.IO session opened at `now`.
    pub fn new(now: Instant, config: Config) -> Self {
        let mut config = config;
        config.limits.max_namespace_len = config.limits.max_namespace_len.min(MAX_NAMESPACE_LEN);
        Connection {
            config,
            namespaces: heapless::Vec::new(),
            acks: Acks::new(),
            connect_deadline: Some(now + config.connect_timeout),
            notices: heapless::Deque::new(),
            failed: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The joined namespaces and their socket ids, in joining order.
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, &Sid)> + '_ {
        self.namespaces.iter().map(|n| (n.name.as_str(), &n.sid))
    }

    /// The socket id of `nsp`, if joined.
    pub fn socket_id(&self, nsp: &str) -> Option<&Sid> {
        self.namespaces
            .iter()
            .find(|n| n.name == nsp)
            .map(|n| &n.sid)
    }

    /// The protocol error that ended the connection, if any.
    pub fn error(&self) -> Option<Error> {
        self.failed
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// One message from the Engine.IO session (from
    /// [`engineio::Session::read_message`] or
    /// [`engineio::Session::handle_ws_input`]).
    ///
    /// Returns what it means, if the application must act. Answers the
    /// protocol itself on `eio` where the reference server does: a CONNECT to
    /// an unknown namespace gets CONNECT_ERROR `Invalid namespace`.
    ///
    /// Errors: a packet that does not decode ([`Packet::decode`]'s errors),
    ///   [`Error::UnexpectedPacket`] (a packet out of place: an event, ack or
    ///   DISCONNECT for a namespace not joined, a CONNECT for one already
    ///   joined, a CONNECT_ERROR), [`Error::UnexpectedBinary`],
    ///   [`Error::MissingAttachments`], [`Error::AttachmentsTooLarge`]: the
    ///   client broke the protocol; the
    ///   Engine.IO session is closed (as the reference server does), a
    ///   [`Notice::ProtocolError`] follows, and later calls return
    ///   [`Error::InvalidState`].
    pub fn handle_message<'a, Q, B>(
        &mut self,
        now: Instant,
        eio: &mut engineio::Session<Q>,
        message: Data<'a>,
        asm: &'a mut Assembler<B>,
    ) -> Result<Option<Event<'a>>, Error>
    where
        Q: Buffer,
        B: AsMut<[u8]> + AsRef<[u8]>,
    {
        if self.failed.is_some() {
            return Err(Error::InvalidState);
        }
        let taken = match message {
            Data::Binary(bytes) => asm.take_binary(bytes, &self.config.limits),
            Data::Text(text) => asm.take_text(text, &self.config.limits),
        };
        match taken {
            Ok(Some((packet, attachments))) => self.on_packet(now, eio, packet, attachments),
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail(now, eio, e)),
        }
    }

    fn on_packet<'a, Q: Buffer>(
        &mut self,
        now: Instant,
        eio: &mut engineio::Session<Q>,
        p: Packet<'a>,
        attachments: Attachments<'a>,
    ) -> Result<Option<Event<'a>>, Error> {
        let joined = self.socket_id(p.nsp).is_some();
        let message = Message {
            nsp: p.nsp,
            ack_id: p.ack_id,
            data: p.data.unwrap_or("[]"),
            attachments,
            event: matches!(p.kind, PacketType::Event | PacketType::BinaryEvent),
        };
        // socket.io 4.8 closes the connection on a packet out of place: a
        // CONNECT for a joined namespace, anything else for one not joined,
        // and CONNECT_ERROR, which only servers send.
        let in_place = match p.kind {
            PacketType::Connect => !joined,
            PacketType::ConnectError => false,
            _ => joined,
        };
        if !in_place {
            return Err(self.fail(now, eio, Error::UnexpectedPacket));
        }
        Ok(match p.kind {
            PacketType::Connect => {
                let exists = self
                    .config
                    .namespaces
                    .is_none_or(|list| list.contains(&p.nsp));
                if !exists {
                    self.refuse_with_message(eio, p.nsp, "Invalid namespace")?;
                    return Ok(None);
                }
                Some(Event::Connect {
                    nsp: p.nsp,
                    auth: p.data,
                })
            }
            PacketType::Disconnect => {
                let socket = self.socket_id(p.nsp).copied().unwrap_or(Sid::ZERO);
                self.namespaces.retain(|n| n.name != p.nsp);
                Some(Event::Disconnect { nsp: p.nsp, socket })
            }
            PacketType::Event | PacketType::BinaryEvent => Some(Event::Event(message)),
            PacketType::Ack | PacketType::BinaryAck => {
                // An unknown or late ack is ignored, as the reference does.
                self.acks.resolve(p.ack_id).then_some(Event::Ack(message))
            }
            PacketType::ConnectError => None,
        })
    }

    fn fail<Q: Buffer>(&mut self, now: Instant, eio: &mut engineio::Session<Q>, e: Error) -> Error {
        self.failed = Some(e);
        self.connect_deadline = None;
        self.acks.clear();
        let _ = self.notices.push_back(Notice::ProtocolError(e));
        eio.close(now);
        e
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.connect_deadline, self.acks.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the connect timeout and the ack timeouts. Harmless when early or
    /// repeated.
    pub fn handle_timeout<Q: Buffer>(&mut self, now: Instant, eio: &mut engineio::Session<Q>) {
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.connect_deadline = None;
            if self.namespaces.is_empty() && self.failed.is_none() {
                let _ = self.notices.push_back(Notice::ConnectTimeout);
                eio.close(now);
            }
        }
        // A full notice queue keeps the expired acks for the next call (the
        // run-loop contract drains it first).
        while !self.notices.is_full()
            && let Some(id) = self.acks.pop_expired(now)
        {
            let _ = self.notices.push_back(Notice::AckTimeout(id));
        }
    }

    /// What the application must know besides messages.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Accepts the client into `nsp` with a fresh socket id, answering its
    /// CONNECT with `0<nsp>,{"sid":"..."}`. Accepting a namespace already
    /// joined gives it a new socket id.
    ///
    /// Errors: [`Error::TooManyNamespaces`] when `N` are joined (refuse it
    /// instead), [`Error::NamespaceTooLong`], [`Error::Engine`] when the
    /// session cannot queue the reply; nothing changes then.
    pub fn accept<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        entropy: impl Entropy,
    ) -> Result<Sid, Error> {
        self.accept_as(eio, nsp, Sid::random(entropy))
    }

    /// [`accept`](Self::accept) with the socket id `sid` (a recovered
    /// session's, say).
    pub fn accept_as<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        sid: Sid,
    ) -> Result<Sid, Error> {
        self.accept_with_pid(eio, nsp, sid, None)
    }

    /// [`accept_as`](Self::accept_as), the reply also carrying the private
    /// id `pid` of connection state recovery: `0<nsp>,{"sid":"...","pid":"..."}`.
    pub fn accept_with_pid<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        sid: Sid,
        pid: Option<&Sid>,
    ) -> Result<Sid, Error> {
        self.check_usable()?;
        let name = heapless::String::try_from(nsp).map_err(|_| Error::NamespaceTooLong)?;
        let existing = self.namespaces.iter().position(|n| n.name == nsp);
        if existing.is_none() && self.namespaces.is_full() {
            return Err(Error::TooManyNamespaces);
        }
        let mut header = Header::new();
        header.packet(PacketType::Connect, nsp, 0, None)?;
        let (pid_key, pid) = match pid {
            Some(p) => ("\",\"pid\":\"", p.as_str()),
            None => ("", ""),
        };
        let parts = [
            header.as_str(),
            "{\"sid\":\"",
            sid.as_str(),
            pid_key,
            pid,
            "\"}",
        ];
        eio.send_text_parts(&parts)?;
        match existing {
            Some(i) => self.namespaces[i].sid = sid,
            // Room was checked above.
            None => {
                let _ = self.namespaces.push(Namespace { name, sid });
            }
        }
        self.connect_deadline = None;
        Ok(sid)
    }

    /// Refuses a CONNECT to `nsp` with CONNECT_ERROR carrying `data`, raw JSON
    /// (an object such as `{"message":"Not authorized","data":{...}}`, or a
    /// string).
    pub fn refuse<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        data: &str,
    ) -> Result<(), Error> {
        self.check_usable()?;
        let mut header = Header::new();
        header.packet(PacketType::ConnectError, nsp, 0, None)?;
        eio.send_text_parts(&[header.as_str(), data])?;
        Ok(())
    }

    /// [`refuse`](Self::refuse) with `{"message":"<message>"}` (escaped).
    pub fn refuse_with_message<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        message: &str,
    ) -> Result<(), Error> {
        let mut quoted = [0u8; 256];
        let n = json::write_str(message, &mut quoted)?;
        let quoted = core::str::from_utf8(&quoted[..n]).map_err(|_| Error::InvalidPayload)?;
        self.check_usable()?;
        let mut header = Header::new();
        header.packet(PacketType::ConnectError, nsp, 0, None)?;
        eio.send_text_parts(&[header.as_str(), "{\"message\":", quoted, "}"])?;
        Ok(())
    }

    /// Sends event `name` with `args` (raw JSON values, comma separated, or
    /// empty) and the binary `attachments` (their placeholders are in `args`)
    /// to the client on `nsp`.
    ///
    /// ```text
    /// emit(eio, "/", "chat", r#""hi",{"n":1}"#, &[])   ->  42["chat","hi",{"n":1}]
    /// ```
    ///
    /// Errors: [`Error::NotConnected`] when the client has not joined `nsp`;
    /// [`Error::Engine`]`(QueueFull)` when the session cannot take the packet
    /// and all its attachments (nothing is queued);
    /// [`Error::TooManyAttachments`]; [`Error::ReservedEventName`] for
    /// `connect`, `disconnect` and the other names the decoders refuse.
    pub fn emit<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.send_event(eio, nsp, None, name, (args, ""), attachments)
    }

    /// [`emit`](Self::emit) with `suffix` after the arguments (a recovery
    /// offset, see [`EventText::parts_with`]).
    pub(crate) fn emit_with_suffix<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        name: &str,
        args: (&str, &str),
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.send_event(eio, nsp, None, name, args, attachments)
    }

    /// [`emit`](Self::emit), asking the client for an ack: returns the ack id
    /// that the [`Event::Ack`] will carry. With a `timeout`, a
    /// [`Notice::AckTimeout`] comes instead if the ack is late.
    ///
    /// Errors: as for [`emit`](Self::emit), and [`Error::AckTableFull`] when
    /// `A` acks are outstanding (nothing is queued).
    #[allow(clippy::too_many_arguments)]
    pub fn emit_with_ack<Q: Buffer>(
        &mut self,
        now: Instant,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<Duration>,
    ) -> Result<u64, Error> {
        let id = self.acks.next_id()?;
        self.send_event(eio, nsp, Some(id), name, (args, ""), attachments)?;
        self.acks.sent(now, timeout);
        Ok(id)
    }

    /// Answers the client's event `ack_id` on `nsp` with `args` (raw JSON
    /// values, comma separated, or empty) and `attachments`.
    pub fn ack<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.check_joined(nsp)?;
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
        let text = [header.as_str(), "[", args, "]"];
        queue(eio, &text, attachments)
    }

    /// Removes the client from `nsp`, telling it with DISCONNECT.
    pub fn disconnect<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
    ) -> Result<(), Error> {
        self.check_joined(nsp)?;
        let mut header = Header::new();
        header.packet(PacketType::Disconnect, nsp, 0, None)?;
        eio.send_text_parts(&[header.as_str()])?;
        self.namespaces.retain(|n| n.name != nsp);
        Ok(())
    }

    fn send_event<Q: Buffer>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        ack_id: Option<u64>,
        name: &str,
        (args, suffix): (&str, &str),
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.check_joined(nsp)?;
        let text = EventText::new(nsp, ack_id, name, attachments.len(), &self.config.limits)?;
        queue(eio, &text.parts_with(args, suffix), attachments)
    }

    fn check_usable(&self) -> Result<(), Error> {
        match self.failed {
            Some(_) => Err(Error::InvalidState),
            None => Ok(()),
        }
    }

    fn check_joined(&self, nsp: &str) -> Result<(), Error> {
        self.check_usable()?;
        match self.socket_id(nsp) {
            Some(_) => Ok(()),
            None => Err(Error::NotConnected),
        }
    }
}

/// Queues one text message and its attachments on `eio`, all or nothing.
pub(crate) fn queue<Q: Buffer>(
    eio: &mut engineio::Session<Q>,
    text: &[&str],
    attachments: &[&[u8]],
) -> Result<(), Error> {
    queue_iter(eio, text, attachments.iter().copied())
}

/// [`queue`] with the attachments from an iterator.
pub(crate) fn queue_iter<'b, Q: Buffer>(
    eio: &mut engineio::Session<Q>,
    text: &[&str],
    attachments: impl Iterator<Item = &'b [u8]> + Clone,
) -> Result<(), Error> {
    let text_len: usize = text.iter().map(|t| t.len()).sum();
    let need = engineio::Session::<Q>::queue_cost(false, text_len)
        + attachments
            .clone()
            .map(|a| engineio::Session::<Q>::queue_cost(true, a.len()))
            .sum::<usize>();
    if eio.is_closed() {
        return Err(Error::Engine(engineio::Error::InvalidState));
    }
    if need > eio.queue_free() {
        return Err(Error::Engine(engineio::Error::QueueFull));
    }
    eio.send_text_parts(text)?;
    for a in attachments {
        eio.send_binary(a)?;
    }
    Ok(())
}
