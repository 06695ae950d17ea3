//! One client's Socket.IO connection, server side.

use super::Error;
use super::acks::Acks;
use super::packet::{Limits, Packet, PacketType};
use crate::engineio::{self, Data, Sid};
use crate::entropy::Entropy;
use crate::json;
use crate::time::{Duration, Instant};

/// The longest namespace a [`Connection`] can hold, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;

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

/// Storage the caller lends for the binary packet being received: its text and
/// its attachments, each attachment taking its length plus 4 bytes. A packet
/// that does not fit fails with [`Error::AttachmentsTooLarge`].
#[derive(Debug)]
pub struct Assembler<B> {
    buf: B,
    /// Bytes used: the packet text, then `[len: u32 LE][bytes]` per attachment.
    len: usize,
    text_len: usize,
    /// Attachments still to come; 0 when no packet is being assembled.
    missing: usize,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Assembler<B> {
    /// An empty assembler over `buf`.
    pub fn new(buf: B) -> Self {
        Assembler {
            buf,
            len: 0,
            text_len: 0,
            missing: 0,
        }
    }

    /// True while a binary packet waits for attachments.
    pub fn is_assembling(&self) -> bool {
        self.missing > 0
    }

    fn start(&mut self, text: &str, count: usize) -> Result<(), Error> {
        let buf = self.buf.as_mut();
        if text.len() > buf.len() {
            return Err(Error::AttachmentsTooLarge);
        }
        buf[..text.len()].copy_from_slice(text.as_bytes());
        self.len = text.len();
        self.text_len = text.len();
        self.missing = count;
        Ok(())
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Error> {
        let buf = self.buf.as_mut();
        let need = 4 + data.len();
        if buf.len() - self.len < need || u32::try_from(data.len()).is_err() {
            self.missing = 0;
            return Err(Error::AttachmentsTooLarge);
        }
        buf[self.len..self.len + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        buf[self.len + 4..self.len + need].copy_from_slice(data);
        self.len += need;
        self.missing -= 1;
        Ok(())
    }

    /// Takes a text message: the packet, or `None` when it is the header of a
    /// binary packet (kept until its attachments arrive).
    pub(crate) fn take_text<'a>(
        &'a mut self,
        text: &'a str,
        limits: &Limits,
    ) -> Result<Option<(Packet<'a>, Attachments<'a>)>, Error> {
        if self.is_assembling() {
            self.missing = 0;
            return Err(Error::MissingAttachments);
        }
        let packet = Packet::decode(text, limits)?;
        if packet.attachments > 0 {
            self.start(text, packet.attachments)?;
            return Ok(None);
        }
        Ok(Some((packet, Attachments::NONE)))
    }

    /// Takes a binary message: the packet once it has all its attachments.
    pub(crate) fn take_binary(
        &mut self,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Option<(Packet<'_>, Attachments<'_>)>, Error> {
        if !self.is_assembling() {
            return Err(Error::UnexpectedBinary);
        }
        self.push(bytes)?;
        if self.is_assembling() {
            return Ok(None);
        }
        let (text, attachments) = self.parts();
        // The text was validated when it arrived.
        Ok(Some((Packet::decode(text, limits)?, attachments)))
    }

    /// The assembled text and attachments (only valid when `missing == 0`).
    fn parts(&self) -> (&str, Attachments<'_>) {
        let buf = &self.buf.as_ref()[..self.len];
        let (text, rest) = buf.split_at(self.text_len);
        // The text was copied from a `&str`.
        (
            core::str::from_utf8(text).unwrap_or(""),
            Attachments { rest },
        )
    }
}

/// The binary attachments of an event or ack, in order (attachment `n` is the
/// one whose placeholder has `"num":n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Attachments<'a> {
    rest: &'a [u8],
}

impl Attachments<'_> {
    /// No attachments.
    pub const EMPTY: Attachments<'static> = Attachments { rest: &[] };
}

impl<'a> Attachments<'a> {
    /// No attachments.
    pub const NONE: Attachments<'static> = Attachments { rest: &[] };

    /// Attachment `n`, if there is one.
    pub fn get(&self, n: usize) -> Option<&'a [u8]> {
        self.into_iter().nth(n)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.into_iter().count()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

impl<'a> IntoIterator for Attachments<'a> {
    type Item = &'a [u8];
    type IntoIter = AttachmentIter<'a>;

    fn into_iter(self) -> AttachmentIter<'a> {
        AttachmentIter { rest: self.rest }
    }
}

/// Iterator over [`Attachments`].
#[derive(Clone, Debug)]
pub struct AttachmentIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AttachmentIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (item, rest) = rest.split_at(len);
        self.rest = rest;
        Some(item)
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

/// An EVENT or ACK: its namespace, ack id, JSON array and attachments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a> {
    /// The namespace.
    pub nsp: &'a str,
    /// For an event, the id to answer with [`Connection::ack`] (the client
    /// waits for it); for an ack, the id [`Connection::emit_with_ack`] gave.
    pub ack_id: Option<u64>,
    /// The whole JSON array (`["name", args...]` for an event, `[args...]` for
    /// an ack); its placeholders stand for the attachments.
    pub data: &'a str,
    /// The binary attachments.
    pub attachments: Attachments<'a>,
}

impl<'a> Message<'a> {
    /// The event name, if it is a string with no escapes (see
    /// [`Packet::event_name`]).
    pub fn name(&self) -> Option<&'a str> {
        Packet::new(PacketType::Event, self.nsp, Some(self.data)).event_name()
    }

    /// The arguments as raw JSON values (after the name, for an event).
    pub fn args(&self, is_event: bool) -> json::Elements<'a> {
        let mut it = json::elements(self.data);
        if is_event {
            let _ = it.next();
        }
        it
    }

    /// The arguments as one raw JSON text, comma separated, ready to pass to
    /// [`Connection::emit`] or [`Connection::ack`] (`1,"two"` for
    /// `["name",1,"two"]`).
    pub fn args_raw(&self, is_event: bool) -> &'a str {
        let mut it = json::elements(self.data);
        let first = if is_event {
            let _ = it.next();
            it.next()
        } else {
            it.next()
        };
        let Some(first) = first else {
            return "";
        };
        // `first` is a subslice of `data`; the arguments run to the closing `]`.
        let start = first.as_ptr() as usize - self.data.as_ptr() as usize;
        let end = self.data.rfind(']').unwrap_or(self.data.len());
        self.data[start..end].trim_end_matches([' ', '\t', '\n', '\r'])
    }
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
        Q: AsMut<[u8]> + AsRef<[u8]>,
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

    fn on_packet<'a, Q: AsMut<[u8]> + AsRef<[u8]>>(
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

    fn fail<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        eio: &mut engineio::Session<Q>,
        e: Error,
    ) -> Error {
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
    pub fn handle_timeout<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        now: Instant,
        eio: &mut engineio::Session<Q>,
    ) {
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
    pub fn accept<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        entropy: &mut impl Entropy,
    ) -> Result<Sid, Error> {
        self.accept_as(eio, nsp, Sid::random(entropy))
    }

    /// [`accept`](Self::accept) with the socket id `sid` (a recovered
    /// session's, say).
    pub fn accept_as<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        sid: Sid,
    ) -> Result<Sid, Error> {
        self.check_usable()?;
        let name = heapless::String::try_from(nsp).map_err(|_| Error::NamespaceTooLong)?;
        let existing = self.namespaces.iter().position(|n| n.name == nsp);
        if existing.is_none() && self.namespaces.is_full() {
            return Err(Error::TooManyNamespaces);
        }
        let mut header = Header::new();
        header.packet(PacketType::Connect, nsp, 0, None)?;
        let parts = [header.as_str(), "{\"sid\":\"", sid.as_str(), "\"}"];
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
    pub fn refuse<Q: AsMut<[u8]> + AsRef<[u8]>>(
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
    pub fn refuse_with_message<Q: AsMut<[u8]> + AsRef<[u8]>>(
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
    pub fn emit<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        name: &str,
        args: &str,
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
    pub fn emit_with_ack<Q: AsMut<[u8]> + AsRef<[u8]>>(
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
        self.send_event(eio, nsp, Some(id), name, args, attachments)?;
        self.acks.sent(now, timeout);
        Ok(id)
    }

    /// Answers the client's event `ack_id` on `nsp` with `args` (raw JSON
    /// values, comma separated, or empty) and `attachments`.
    pub fn ack<Q: AsMut<[u8]> + AsRef<[u8]>>(
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
    pub fn disconnect<Q: AsMut<[u8]> + AsRef<[u8]>>(
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

    fn send_event<Q: AsMut<[u8]> + AsRef<[u8]>>(
        &mut self,
        eio: &mut engineio::Session<Q>,
        nsp: &str,
        ack_id: Option<u64>,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.check_joined(nsp)?;
        let text = EventText::new(nsp, ack_id, name, attachments.len(), &self.config.limits)?;
        queue(eio, &text.parts(args), attachments)
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
pub(crate) fn queue<Q: AsMut<[u8]> + AsRef<[u8]>>(
    eio: &mut engineio::Session<Q>,
    text: &[&str],
    attachments: &[&[u8]],
) -> Result<(), Error> {
    let text_len: usize = text.iter().map(|t| t.len()).sum();
    let need = engineio::Session::<Q>::queue_cost(false, text_len)
        + attachments
            .iter()
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

/// The longest event name [`Connection::emit`] and
/// [`Client::emit`](super::Client::emit) take, in bytes once written as a JSON
/// string (quotes and escapes included); longer is [`Error::BufferTooSmall`].
pub const MAX_EVENT_NAME_LEN: usize = 256;

/// An EVENT's text on the stack, in the parts queued without joining them:
/// the header, `[`, the quoted name, `,` when there are arguments, the
/// arguments, `]`.
pub(crate) struct EventText {
    header: Header,
    name: [u8; MAX_EVENT_NAME_LEN],
    name_len: usize,
}

impl EventText {
    /// Errors: [`Error::TooManyAttachments`] past the limits,
    /// [`Error::ReservedEventName`], [`Error::NamespaceTooLong`],
    /// [`Error::BufferTooSmall`] for a name longer than
    /// [`MAX_EVENT_NAME_LEN`].
    pub(crate) fn new(
        nsp: &str,
        ack_id: Option<u64>,
        name: &str,
        attachments: usize,
        limits: &Limits,
    ) -> Result<Self, Error> {
        if attachments > limits.max_attachments {
            return Err(Error::TooManyAttachments);
        }
        // Every decoder refuses these (the reference implementations throw).
        if super::packet::RESERVED_EVENTS.contains(&name) {
            return Err(Error::ReservedEventName);
        }
        let kind = if attachments == 0 {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        let mut text = EventText {
            header: Header::new(),
            name: [0; MAX_EVENT_NAME_LEN],
            name_len: 0,
        };
        text.header.packet(kind, nsp, attachments, ack_id)?;
        text.name_len = json::write_str(name, &mut text.name)?;
        Ok(text)
    }

    pub(crate) fn parts<'s>(&'s self, args: &'s str) -> [&'s str; 6] {
        // Written from a `&str` by `json::write_str`.
        let name = core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("\"\"");
        let comma = if args.is_empty() { "" } else { "," };
        [self.header.as_str(), "[", name, comma, args, "]"]
    }
}

/// A packet header (type, attachments, namespace, ack id) on the stack.
pub(crate) struct Header {
    buf: [u8; 1 + 21 + MAX_NAMESPACE_LEN + 1 + 20],
    len: usize,
}

impl Header {
    pub(crate) fn new() -> Self {
        Header {
            buf: [0; 1 + 21 + MAX_NAMESPACE_LEN + 1 + 20],
            len: 0,
        }
    }

    pub(crate) fn packet(
        &mut self,
        kind: PacketType,
        nsp: &str,
        attachments: usize,
        ack_id: Option<u64>,
    ) -> Result<(), Error> {
        if nsp.len() > MAX_NAMESPACE_LEN {
            return Err(Error::NamespaceTooLong);
        }
        let p = Packet {
            kind,
            nsp,
            ack_id,
            attachments,
            data: None,
        };
        self.len = p.encode(&mut self.buf)?;
        Ok(())
    }

    pub(crate) fn as_str(&self) -> &str {
        // Built from a digit, a `&str` namespace and decimal numbers.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}
