use core::fmt;

use crate::http;

/// Everything that can go wrong in the WebSocket layer.
///
/// The variants fall in three groups, told apart by [`close_code`](Self::close_code),
/// [`http_status`](Self::http_status) and [`is_local`](Self::is_local):
/// - the peer broke the protocol on an open connection: the connection has
///   queued a Close frame with the code it answers with (1002, 1007, 1009);
/// - the peer sent an unacceptable opening handshake: the server answers with an
///   HTTP status (400, 426, 431) written by [`write_response`](Self::write_response);
///   the client gives up;
/// - the caller misused the API ([`BufferTooSmall`](Self::BufferTooSmall),
///   [`InvalidState`](Self::InvalidState), ...): nothing was sent and the
///   connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // ---- the peer broke the framing protocol ----
    /// A reserved bit (RSV1-3) is set but no extension was negotiated. Close 1002.
    ReservedBits,
    /// The opcode is one of the reserved values 3-7 or 0xB-0xF. Close 1002.
    ReservedOpcode,
    /// A server received a frame without a mask. Close 1002.
    UnmaskedFrame,
    /// A client received a masked frame. Close 1002.
    MaskedFrame,
    /// A control frame is fragmented or longer than 125 bytes. Close 1002.
    InvalidControlFrame,
    /// A length was not sent in its shortest encoding. Close 1002.
    NonMinimalLength,
    /// A 64-bit length has its most significant bit set. Close 1002.
    InvalidLength,
    /// A continuation frame arrived with no fragmented message in progress. Close 1002.
    UnexpectedContinuation,
    /// A text or binary frame arrived while a fragmented message was still in
    /// progress. Close 1002.
    ExpectedContinuation,
    /// A text message or a close reason is not valid UTF-8. Close 1007.
    InvalidUtf8,
    /// A close frame has a one-byte payload. Close 1002.
    InvalidClosePayload,
    /// A close frame carries a code that may not be sent (0-999, 1004-1006, 1015,
    /// unassigned codes up to 2999, 5000 and above). Close 1002.
    InvalidCloseCode(u16),
    /// A frame is longer than [`Config::max_frame_size`](super::Config). Close 1009.
    FrameTooLarge,
    /// A message is longer than [`Config::max_message_size`](super::Config). Close 1009.
    MessageTooLarge,
    /// A compressed message is not valid DEFLATE data, or refers beyond the
    /// negotiated window. Close 1007.
    #[cfg(feature = "deflate")]
    Inflate(super::deflate::InflateError),
    /// The transport ended before the closing handshake completed (code 1006,
    /// never sent on the wire).
    UnexpectedEof,
    /// The peer did not answer our Close frame within
    /// [`Config::close_timeout`](super::Config).
    CloseTimeout,

    // ---- the opening handshake was unacceptable ----
    /// The head could not be parsed or exceeds the limits. Answer: its
    /// [`http::Error::status`].
    Http(http::Error),
    /// The request method is not GET. Answer: 400.
    BadMethod,
    /// The request is not HTTP/1.1 or later. Answer: 400.
    BadHttpVersion,
    /// The request has no `Host` field. Answer: 400.
    MissingHost,
    /// `Upgrade: websocket` is missing. Answer: 400.
    NotUpgrade,
    /// `Connection` does not contain the `upgrade` token. Answer: 400.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing or not 13. Answer: 426 with
    /// `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated or not base64 of 16 bytes. Answer: 400.
    InvalidKey,
    /// The server answered with a status other than 101.
    UnexpectedStatus(u16),
    /// The server's `Sec-WebSocket-Accept` is missing or wrong.
    InvalidAccept,
    /// The server chose a subprotocol the client did not offer.
    UnofferedProtocol,
    /// The server accepted an extension the client did not offer.
    UnofferedExtension,
    /// The server's permessage-deflate answer is malformed (an unknown,
    /// duplicated or invalid parameter, two answers) or not allowed by the
    /// client's offer (a larger window than asked for, a
    /// `client_max_window_bits` without a value).
    InvalidExtension,

    // ---- the caller misused the API ----
    /// The output buffer is too small for the frame or head; it was left untouched.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
    /// The call is not allowed in the connection's current state: sending after a
    /// Close frame, a continuation of a different message kind, payload with no
    /// frame begun, a new frame while one is unfinished.
    InvalidState,
    /// An argument is out of range: a control payload over 125 bytes, a close code
    /// that may not be sent, a reason over 123 bytes, a subprotocol that was not
    /// offered, more payload than the frame announced.
    InvalidArgument,
    /// An automatic frame is partly written: drain
    /// [`poll_transmit`](super::Connection::poll_transmit) before sending.
    TransmitPending,
}

impl Error {
    /// The close code the connection sends because of this error, if any.
    pub fn close_code(&self) -> Option<u16> {
        use Error::*;
        match self {
            ReservedBits
            | ReservedOpcode
            | UnmaskedFrame
            | MaskedFrame
            | InvalidControlFrame
            | NonMinimalLength
            | InvalidLength
            | UnexpectedContinuation
            | ExpectedContinuation
            | InvalidClosePayload
            | InvalidCloseCode(_) => Some(1002),
            InvalidUtf8 => Some(1007),
            #[cfg(feature = "deflate")]
            Inflate(_) => Some(1007),
            FrameTooLarge | MessageTooLarge => Some(1009),
            _ => None,
        }
    }

    /// The HTTP status a server answers this handshake error with, if any.
    pub fn http_status(&self) -> Option<u16> {
        use Error::*;
        match self {
            Http(e) => e.status(),
            BadMethod
            | BadHttpVersion
            | MissingHost
            | NotUpgrade
            | MissingConnectionUpgrade
            | InvalidKey => Some(400),
            UnsupportedVersion => Some(426),
            _ => None,
        }
    }

    /// True when the error is the caller's doing rather than the peer's.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Error::BufferTooSmall { .. }
                | Error::InvalidState
                | Error::InvalidArgument
                | Error::TransmitPending
        )
    }

    /// Writes the HTTP refusal for a handshake error (see
    /// [`http_status`](Self::http_status)) into `out`. Errors without a status
    /// give [`Error::InvalidState`].
    pub fn write_response(&self, out: &mut [u8]) -> Result<usize, Error> {
        let status = self.http_status().ok_or(Error::InvalidState)?;
        super::handshake::write_refusal(status, out)
    }
}

impl From<http::Error> for Error {
    fn from(e: http::Error) -> Self {
        match e {
            http::Error::BufferTooSmall { required } => Error::BufferTooSmall { required },
            e => Error::Http(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        let s = match self {
            ReservedBits => "reserved bits set without a negotiated extension",
            ReservedOpcode => "reserved opcode",
            UnmaskedFrame => "client frame is not masked",
            MaskedFrame => "server frame is masked",
            InvalidControlFrame => "control frame is fragmented or longer than 125 bytes",
            NonMinimalLength => "payload length not in its shortest encoding",
            InvalidLength => "64-bit payload length has its top bit set",
            UnexpectedContinuation => "continuation frame with no message in progress",
            ExpectedContinuation => "new message while a fragmented message is in progress",
            InvalidUtf8 => "text is not valid UTF-8",
            InvalidClosePayload => "close frame with a one-byte payload",
            InvalidCloseCode(c) => return write!(f, "invalid close code {c}"),
            FrameTooLarge => "frame exceeds the size limit",
            MessageTooLarge => "message exceeds the size limit",
            UnexpectedEof => "connection ended before the closing handshake",
            CloseTimeout => "peer did not answer the close frame in time",
            Http(e) => return write!(f, "HTTP: {e}"),
            BadMethod => "handshake method is not GET",
            BadHttpVersion => "handshake is not HTTP/1.1",
            MissingHost => "handshake has no Host header",
            NotUpgrade => "handshake lacks Upgrade: websocket",
            MissingConnectionUpgrade => "handshake Connection header lacks the upgrade token",
            UnsupportedVersion => "Sec-WebSocket-Version is not 13",
            InvalidKey => "Sec-WebSocket-Key is missing or malformed",
            UnexpectedStatus(s) => return write!(f, "server answered HTTP status {s}, not 101"),
            InvalidAccept => "Sec-WebSocket-Accept is missing or wrong",
            UnofferedProtocol => "server chose a subprotocol that was not offered",
            UnofferedExtension => "server accepted an extension that was not offered",
            InvalidExtension => {
                "server's permessage-deflate answer is malformed or was not offered"
            }
            #[cfg(feature = "deflate")]
            Inflate(e) => return write!(f, "compressed message: {e}"),
            BufferTooSmall { required } => {
                return write!(f, "output buffer too small: {required} bytes required");
            }
            InvalidState => "operation not allowed in the current state",
            InvalidArgument => "argument out of range",
            TransmitPending => "an automatic frame is partly written; drain poll_transmit first",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}
