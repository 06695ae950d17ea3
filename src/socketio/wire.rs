//! What both Socket.IO roles use on the wire: the binary-packet
//! [`Assembler`] and its [`Attachments`], the [`Message`] of an event or ack,
//! and the on-stack packet header and EVENT text the commands queue.

use super::Error;
use super::packet::{Limits, Packet, PacketType};
use crate::json;

/// The longest namespace a connection can hold, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;

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
    /// binary packet (kept until its attachments arrive). The packet is
    /// checked in full here ([`Packet::decode`]), placeholders included.
    ///
    /// ```
    /// use sockwire::socketio::{Assembler, Limits};
    ///
    /// let limits = Limits::default();
    /// let mut asm = Assembler::new([0u8; 256]);
    /// let text = r#"51-["file",{"_placeholder":true,"num":0}]"#;
    /// assert!(asm.take_text(text, &limits)?.is_none());
    /// let (packet, attachments) = asm.take_binary(b"\x01\x02", &limits)?.unwrap();
    /// assert_eq!(packet.data, Some(r#"["file",{"_placeholder":true,"num":0}]"#));
    /// assert_eq!(attachments.get(0), Some(&[1u8, 2][..]));
    /// # Ok::<(), sockwire::socketio::Error>(())
    /// ```
    pub fn take_text<'a>(
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
    /// Its text was checked when it arrived, so only its header is read again.
    pub fn take_binary(
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
        // The text was checked in full when it arrived (`take_text`).
        Ok(Some((Packet::decode_header(text, limits)?, attachments)))
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

/// An EVENT or ACK: its namespace, ack id, JSON array and attachments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a> {
    /// The namespace.
    pub nsp: &'a str,
    /// For an event, the id to answer with [`Connection::ack`](super::Connection::ack) (the client
    /// waits for it); for an ack, the id [`Connection::emit_with_ack`](super::Connection::emit_with_ack) gave.
    pub ack_id: Option<u64>,
    /// The whole JSON array (`["name", args...]` for an event, `[args...]` for
    /// an ack); its placeholders stand for the attachments.
    pub data: &'a str,
    /// The binary attachments.
    pub attachments: Attachments<'a>,
    /// An EVENT (name first in `data`), or an ACK.
    pub(crate) event: bool,
}

impl<'a> Message<'a> {
    /// The event name, if it is a string with no escapes (see
    /// [`Packet::event_name`]).
    pub fn name(&self) -> Option<&'a str> {
        Packet::new(PacketType::Event, self.nsp, Some(self.data)).event_name()
    }

    /// True for an EVENT (its name comes first in `data`), false for an ACK.
    pub fn is_event(&self) -> bool {
        self.event
    }

    /// The arguments as raw JSON values (after the name, for an event).
    pub fn args(&self) -> json::Elements<'a> {
        let mut it = json::elements(self.data);
        if self.event {
            let _ = it.next();
        }
        it
    }

    /// The arguments as one raw JSON text, comma separated, ready to pass to
    /// [`Connection::emit`](super::Connection::emit) or [`Connection::ack`](super::Connection::ack) (`1,"two"` for
    /// `["name",1,"two"]`).
    pub fn args_raw(&self) -> &'a str {
        let mut it = json::elements(self.data);
        let first = if self.event {
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

/// The longest event name [`Connection::emit`](super::Connection::emit) and
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
        let [h, open, name, comma, args, _, close] = self.parts_with(args, "");
        [h, open, name, comma, args, close]
    }

    /// [`parts`](Self::parts) with `suffix` (a recovery offset, its comma
    /// included when `args` has values) after the arguments.
    pub(crate) fn parts_with<'s>(&'s self, args: &'s str, suffix: &'s str) -> [&'s str; 7] {
        // Written from a `&str` by `json::write_str`.
        let name = core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("\"\"");
        let comma = if args.is_empty() && suffix.is_empty() {
            ""
        } else {
            ","
        };
        [self.header.as_str(), "[", name, comma, args, suffix, "]"]
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
