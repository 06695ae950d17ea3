use core::fmt;

/// Everything that can go wrong in the Socket.IO layer.
///
/// The packet codec's variants name what is wrong with a packet. From
/// [`Packet::decode`](super::Packet::decode) they are the peer's fault, and
/// the reference server answers every one of them by closing the connection;
/// from the encoders they are the caller's (the packet would not decode back to
/// itself). [`BufferTooSmall`](Self::BufferTooSmall) is always the caller's and
/// leaves the output buffer untouched.
///
/// Failures of the JSON layer ([`crate::json`]) arrive as
/// [`JsonSyntax`](Self::JsonSyntax), [`JsonTooDeep`](Self::JsonTooDeep) and
/// [`BufferTooSmall`](Self::BufferTooSmall).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // ---- the packet header ----
    /// The packet is empty or its first character is not a packet type digit
    /// `0`-`6`.
    UnknownPacketType,
    /// A binary packet's attachment count is missing, not a run of decimal
    /// digits followed by `-`, or zero; or an encoder was given an attachment
    /// count that does not match the packet type (zero for a binary type,
    /// non-zero for the others).
    InvalidAttachments,
    /// A binary packet announces more attachments than
    /// [`Limits::max_attachments`](super::Limits::max_attachments).
    TooManyAttachments,
    /// A namespace given to an encoder does not start with `/` or contains a
    /// `,` (the decoder would cut it there).
    InvalidNamespace,
    /// The namespace is longer than
    /// [`Limits::max_namespace_len`](super::Limits::max_namespace_len) bytes.
    NamespaceTooLong,
    /// The acknowledgement id does not fit in a `u64`.
    InvalidAckId,

    // ---- the data ----
    /// The data does not have the shape the packet type requires: CONNECT
    /// takes an object or nothing, DISCONNECT nothing, CONNECT_ERROR a string
    /// or an object, EVENT a non-empty array led by a string or a number, ACK
    /// an array. Also: whitespace between the header and the data.
    InvalidPayload,
    /// An EVENT's name is one the reference implementation reserves:
    /// `connect`, `connect_error`, `disconnect`, `disconnecting`,
    /// `newListener` or `removeListener`.
    ReservedEventName,
    /// A binary packet's placeholder (an object whose `_placeholder` member is
    /// `true`) has a `num` that is not an integer below the attachment count.
    InvalidPlaceholder,
    /// The data is not JSON (RFC 8259); `offset` is the byte at which it stops
    /// being valid, counted from the start of the text handed to the decoder
    /// (the whole packet for [`Packet::decode`](super::Packet::decode)).
    JsonSyntax {
        /// Byte offset of the first invalid byte, or the text's length when
        /// it ends too early.
        offset: usize,
    },
    /// The data nests arrays and objects deeper than the limit
    /// ([`Limits::max_depth`](super::Limits::max_depth), at most
    /// [`json::MAX_DEPTH`](crate::json::MAX_DEPTH)).
    JsonTooDeep,

    // ---- the session (server::Connection) ----
    /// A command for a namespace that is not joined (nothing is sent).
    NotConnected,
    /// A packet out of place: an EVENT, ACK or DISCONNECT for a namespace
    /// the client has not joined, a CONNECT for one it has, or a
    /// CONNECT_ERROR from a client. The reference server (4.8) closes the
    /// connection.
    UnexpectedPacket,
    /// The client's send buffer cannot take the packet and its attachments;
    /// nothing was buffered.
    SendBufferFull,
    /// A binary message arrived when no binary packet awaited attachments.
    UnexpectedBinary,
    /// A text message arrived while a binary packet still awaited
    /// attachments.
    MissingAttachments,
    /// A binary packet and its attachments do not fit in the
    /// [`Assembler`](super::Assembler)'s storage.
    AttachmentsTooLarge,
    /// The client has joined as many namespaces as the connection holds;
    /// refuse the CONNECT instead. Nothing changed.
    TooManyNamespaces,
    /// As many acks are outstanding as the connection holds. Nothing was sent.
    AckTableFull,
    /// A [`Rooms`](super::Rooms) table has no room for another room or
    /// member. Nothing changed.
    RoomsFull,
    /// A room name is longer than [`MAX_ROOM_LEN`](super::rooms::MAX_ROOM_LEN).
    RoomNameTooLong,
    /// The Engine.IO session refused the packet (`QueueFull`: it does not
    /// fit with its attachments, and nothing was queued; `InvalidState`: the
    /// session is closed).
    Engine(crate::engineio::Error),
    /// The connection ended after a protocol error; nothing more is accepted.
    InvalidState,
    /// `Server::set_recovery` on storage with no room for connection state
    /// recovery: [`storage::Fixed`](crate::storage::Fixed) with a log of 0
    /// bytes (`L`) or 0 kept sessions (`K`), its defaults. Recovery stays
    /// off.
    NoRecoveryStorage,

    // ---- the caller misused the API ----
    /// The output buffer is too small; it was left untouched.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
}

impl From<crate::json::Error> for Error {
    fn from(e: crate::json::Error) -> Self {
        match e {
            crate::json::Error::Syntax { offset } => Error::JsonSyntax { offset },
            crate::json::Error::TooDeep => Error::JsonTooDeep,
            crate::json::Error::BufferTooSmall { required } => Error::BufferTooSmall { required },
            _ => Error::InvalidPayload,
        }
    }
}

impl From<crate::engineio::Error> for Error {
    fn from(e: crate::engineio::Error) -> Self {
        Error::Engine(e)
    }
}

impl Error {
    /// True for the caller's mistakes and full tables, which change nothing.
    /// The packet variants are the peer's fault when they come from a decoder.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Error::BufferTooSmall { .. }
                | Error::TooManyNamespaces
                | Error::AckTableFull
                | Error::SendBufferFull
                | Error::RoomsFull
                | Error::RoomNameTooLong
                | Error::Engine(_)
                | Error::InvalidState
                | Error::NoRecoveryStorage
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        let s = match self {
            UnknownPacketType => "unknown packet type",
            InvalidAttachments => "invalid attachment count",
            TooManyAttachments => "too many attachments",
            InvalidNamespace => "invalid namespace",
            NamespaceTooLong => "namespace too long",
            InvalidAckId => "invalid ack id",
            InvalidPayload => "invalid payload for the packet type",
            ReservedEventName => "reserved event name",
            InvalidPlaceholder => "invalid attachment placeholder",
            JsonSyntax { offset } => return write!(f, "invalid JSON at byte {offset}"),
            JsonTooDeep => "JSON nested too deeply",
            NotConnected => "namespace not joined",
            UnexpectedPacket => "packet out of place",
            SendBufferFull => "send buffer full",
            UnexpectedBinary => "binary message with no packet awaiting attachments",
            MissingAttachments => "text message while attachments were awaited",
            AttachmentsTooLarge => "attachments exceed the assembler's storage",
            TooManyNamespaces => "namespace table full",
            AckTableFull => "ack table full",
            RoomsFull => "rooms table full",
            RoomNameTooLong => "room name too long",
            Engine(e) => return write!(f, "Engine.IO: {e}"),
            InvalidState => "the connection has ended",
            NoRecoveryStorage => "no storage for connection state recovery (Fixed's L and K)",
            BufferTooSmall { required } => {
                return write!(f, "output buffer too small: {required} bytes required");
            }
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}
