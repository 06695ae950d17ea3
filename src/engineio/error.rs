use core::fmt;

use crate::{http, ws};

/// Everything that can go wrong in the Engine.IO layer.
///
/// Three groups, told apart by [`http_status`](Self::http_status) and
/// [`is_local`](Self::is_local):
/// - a request the server refuses: answer with
///   [`write_response`](Self::write_response) (HTTP 400 with the reference
///   server's JSON `{"code":N,"message":"..."}`, 403, 404 or 413);
/// - the peer broke the protocol on an open session: the session is closed
///   (a [`super::Event::Closed`] follows, and the transports get their goodbye);
/// - the caller misused the API: nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    // ---- requests the server refuses ----
    /// `transport` is missing or not one the server offers. 400, code 0.
    UnknownTransport,
    /// `sid` names no session. 400, code 1.
    UnknownSid,
    /// A handshake (no `sid`) that is not a GET. 400, code 2.
    BadHandshakeMethod,
    /// A malformed request: `transport=websocket` without an upgrade, a polling
    /// request for a session on WebSocket, a method other than GET or POST, a
    /// second WebSocket for an upgraded session. 400, code 3.
    BadRequest,
    /// The application refused the request. 403, code 4.
    Forbidden,
    /// `EIO` is missing or not 4. 400, code 5.
    UnsupportedProtocolVersion,
    /// The path is not the server's Engine.IO path. 404.
    NotFound,
    /// A POST body longer than [`Config::max_payload`](super::Config). 413; the
    /// session goes on.
    PayloadTooLarge,
    /// A second GET while one is waiting. 400 with no body; the waiting GET is
    /// answered with a close packet and the session is closed.
    DuplicatePoll,
    /// The HTTP head itself is invalid: its [`http::Error::status`].
    Http(http::Error),
    /// The server is full: no room for another connection or session. 503.
    Unavailable,
    /// A request head or body did not arrive in time. 408; the connection
    /// closes.
    RequestTimeout,

    // ---- the peer broke the protocol; the session is closed ----
    /// An empty packet, an unknown packet type, or text that is not UTF-8
    /// ("parse error" in the reference server).
    InvalidPacket,
    /// A `b` packet whose base64 is invalid.
    InvalidBase64,
    /// The client sent a heartbeat ping: in v4 only the server pings.
    InvalidHeartbeat,
    /// A packet that makes no sense in the session's state (`open` from a
    /// client, `upgrade` with no probe, a probe on the active transport).
    UnexpectedPacket,
    /// No pong arrived within the ping timeout.
    PingTimeout,
    /// The held GET's connection closed before it was answered
    /// ([`Session::handle_poll_aborted`](super::Session::handle_poll_aborted)).
    PollAborted,
    /// A POST's connection closed before its body was whole
    /// ([`Session::handle_post_aborted`](super::Session::handle_post_aborted)).
    PostAborted,
    /// Client: the server answered a polling request with this status
    /// instead of 200 (the session is gone: 400 for an unknown sid, say), or
    /// the request's connection failed (0).
    RequestFailed(u16),
    /// The WebSocket transport failed; its close frame is queued.
    WebSocket(ws::Error),
    /// Client: the server is not an Engine.IO (or Socket.IO) server. Its first
    /// answer was not an open packet: a WebSocket that opened and sent
    /// something else, or nothing within the open timeout (a plain
    /// WebSocket echo server, say), or a polling handshake answered by
    /// something other than an open packet or the reference server's JSON
    /// refusal. Retrying will not help.
    NotEngineIo,

    // ---- the caller misused the API ----
    /// The output buffer is too small; it was left untouched.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
    /// The session's send queue has no room for the packet; nothing was queued.
    QueueFull,
    /// A text message holds the record separator 0x1e, which long-polling
    /// uses between packets; nothing was queued.
    SeparatorInText,
    /// The call is not allowed now: the session is closed, or there is no
    /// WebSocket to feed.
    InvalidState,
}

impl Error {
    /// The reference server's error code in the JSON body, if any.
    pub fn code(&self) -> Option<u8> {
        Some(match self {
            Error::UnknownTransport => 0,
            Error::UnknownSid => 1,
            Error::BadHandshakeMethod => 2,
            Error::BadRequest => 3,
            Error::Forbidden => 4,
            Error::UnsupportedProtocolVersion => 5,
            _ => return None,
        })
    }

    /// The HTTP status a server answers this error with: a refused request, or
    /// a POST whose body broke the protocol (400; the session is closed).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::UnknownTransport
            | Error::UnknownSid
            | Error::BadHandshakeMethod
            | Error::BadRequest
            | Error::UnsupportedProtocolVersion
            | Error::DuplicatePoll => Some(400),
            // A POST whose body broke the protocol: the session is closed and
            // the POST is answered 400 with no body.
            Error::InvalidPacket
            | Error::InvalidBase64
            | Error::InvalidHeartbeat
            | Error::UnexpectedPacket => Some(400),
            Error::Forbidden => Some(403),
            Error::NotFound => Some(404),
            Error::PayloadTooLarge => Some(413),
            Error::Unavailable => Some(503),
            Error::RequestTimeout => Some(408),
            Error::Http(e) => e.status(),
            Error::WebSocket(e) => e.http_status(),
            _ => None,
        }
    }

    /// True for the caller's mistakes, which change nothing.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Error::BufferTooSmall { .. }
                | Error::QueueFull
                | Error::SeparatorInText
                | Error::InvalidState
        )
    }

    /// The reference server's message for the JSON body.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Error::UnknownTransport => "Transport unknown",
            Error::UnknownSid => "Session ID unknown",
            Error::BadHandshakeMethod => "Bad handshake method",
            Error::BadRequest => "Bad request",
            Error::Forbidden => "Forbidden",
            Error::UnsupportedProtocolVersion => "Unsupported protocol version",
            _ => "",
        }
    }

    /// Writes the HTTP refusal for this error into `out`: the status, and for
    /// the coded errors a JSON body `{"code":N,"message":"..."}`. Errors with no
    /// [`http_status`](Self::http_status) write nothing and return
    /// [`Error::InvalidState`].
    pub fn write_response(&self, out: &mut [u8]) -> Result<usize, Error> {
        let status = self.http_status().ok_or(Error::InvalidState)?;
        let mut body = [0u8; 64];
        let body_len = match self.code() {
            Some(code) => {
                let msg = self.message().as_bytes();
                let parts: [&[u8]; 5] = [
                    b"{\"code\":",
                    &[b'0' + code],
                    b",\"message\":\"",
                    msg,
                    b"\"}",
                ];
                let mut n = 0;
                for p in parts {
                    body[n..n + p.len()].copy_from_slice(p);
                    n += p.len();
                }
                n
            }
            None => 0,
        };
        let head = http::write_head(out, |w| {
            w.status_line(status);
            if body_len > 0 {
                w.header("Content-Type", b"application/json");
            }
            w.header_u64("Content-Length", body_len as u64);
            w.raw(b"\r\n");
            w.raw(&body[..body_len]);
        })?;
        Ok(head)
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

impl From<ws::Error> for Error {
    fn from(e: ws::Error) -> Self {
        match e {
            ws::Error::BufferTooSmall { required } => Error::BufferTooSmall { required },
            ws::Error::InvalidState => Error::InvalidState,
            e => Error::WebSocket(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownTransport
            | Error::UnknownSid
            | Error::BadHandshakeMethod
            | Error::BadRequest
            | Error::Forbidden
            | Error::UnsupportedProtocolVersion => f.write_str(self.message()),
            Error::NotFound => f.write_str("not the Engine.IO path"),
            Error::PayloadTooLarge => f.write_str("request body exceeds maxPayload"),
            Error::DuplicatePoll => f.write_str("a second GET while one is waiting"),
            Error::Unavailable => f.write_str("the server is full"),
            Error::RequestTimeout => f.write_str("the request did not arrive in time"),
            Error::Http(e) => write!(f, "invalid HTTP request: {e}"),
            Error::InvalidPacket => f.write_str("invalid Engine.IO packet"),
            Error::InvalidBase64 => f.write_str("invalid base64 in a binary packet"),
            Error::InvalidHeartbeat => f.write_str("the client sent a heartbeat ping"),
            Error::UnexpectedPacket => f.write_str("packet unexpected in this state"),
            Error::PingTimeout => f.write_str("ping timeout"),
            Error::PollAborted => f.write_str("poll connection closed prematurely"),
            Error::PostAborted => f.write_str("data request connection closed prematurely"),
            Error::RequestFailed(0) => f.write_str("a polling request failed"),
            Error::RequestFailed(status) => write!(f, "a polling request got HTTP {status}"),
            Error::WebSocket(e) => write!(f, "WebSocket transport: {e}"),
            Error::NotEngineIo => f.write_str(
                "the server is not an Engine.IO/Socket.IO server (its first answer was not an open packet)",
            ),
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes needed")
            }
            Error::QueueFull => f.write_str("the send queue is full"),
            Error::SeparatorInText => {
                f.write_str("text holds 0x1e, which long-polling cannot carry")
            }
            Error::InvalidState => f.write_str("not allowed in the session's state"),
        }
    }
}

impl core::error::Error for Error {}
