//! Engine.IO v4: the transport under Socket.IO, in both roles.
//!
//! Engine.IO gives a browser a message channel that works everywhere: a session
//! starts on HTTP long-polling (a GET that the server holds until it has packets,
//! a POST for each batch the client sends) and moves to a WebSocket when one can
//! be opened, without losing a packet. A session is named by its `sid`; the
//! server pings every `pingInterval` and closes the session when the pong does not
//! come within `pingTimeout`.
//!
//! # Pieces
//!
//! - [`packet`]: the packet and polling-payload codec ([`Packet`], [`Payload`]).
//! - [`route`]: classifies an HTTP request (`EIO`, `transport`, `sid`, method)
//!   and refuses bad ones with the reference server's answers.
//! - [`Session`]: one session's state machine on the server: heartbeat, the
//!   held GET, POST bodies, the WebSocket transport (it owns the
//!   [`ws::Connection`]), the upgrade probe, and a bounded send queue in
//!   storage the caller lends.
//! - [`Client`]: the client endpoint: one session at a time and every
//!   connection it needs (it asks for them by [`ConnId`], writes the
//!   WebSocket handshakes and polling requests, reads the answers, upgrades).
//! - [`ClientSession`]: one session on the client, for those who run the
//!   connections themselves: over WebSocket ([`websocket_target`] is the
//!   request target for its opening handshake) or over long-polling
//!   ([`ClientSession::polling`]: it writes the HTTP requests, you carry
//!   them) with the upgrade to WebSocket: the open packet, the answered
//!   heartbeat and its timeout, the same bounded send queue.
//!
//! The application owns the table of sessions (a `HashMap` on a server, a
//! `heapless` map on a microcontroller) and looks up the `sid` that [`route`]
//! returns; a miss is answered with [`Error::UnknownSid`].
//!
//! # The run loop
//!
//! For every HTTP request head (parsed with [`crate::http`]):
//!
//! 1. [`route`] it. An error: write [`Error::write_response`], done.
//! 2. [`Route::Handshake`]: [`Session::open`]. For WebSocket, first accept the
//!    upgrade with [`ws::ServerHandshake`] (the session then owns the WebSocket).
//! 3. [`Route::Poll`]: [`Session::handle_poll`]; keep the connection as the
//!    session's held GET.
//! 4. [`Route::Post`]: read the body (at most [`Config::max_payload`]),
//!    [`Session::handle_post`], then [`Session::read_message`] until `None`, then
//!    answer with [`write_post_ok`].
//! 5. [`Route::Upgrade`]: validate the WebSocket handshake, then
//!    [`Session::handle_upgrade`], then write the 101.
//!
//! After any input or command: write [`Session::poll_http`] to the held GET's
//! connection and [`Session::poll_ws`] to the WebSocket until they return 0,
//! take [`Session::poll_event`]s, and wait for input or
//! [`Session::poll_timeout`]. Drop the session when
//! [`Session::is_finished`].
//!
//! ```
//! use sockwire::engineio::{Config, Data, Session, Transport};
//! use sockwire::entropy::SplitMix64;
//! use sockwire::time::Instant;
//!
//! let now = Instant::from_millis(0);
//! let mut s = Session::open(now, Transport::Polling, Config::default(),
//!     [0u8; 1024], &mut SplitMix64::new(1)).unwrap();
//! // The handshake GET is answered with the open packet.
//! let mut out = [0u8; 512];
//! let n = s.poll_http(&mut out).unwrap();
//! assert!(out[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
//! // The client POSTs two messages.
//! let mut body = *b"4hello\x1ebAQIDBA==";
//! let mut payload = s.handle_post(now, &mut body).unwrap();
//! assert_eq!(s.read_message(now, &mut payload), Ok(Some(Data::Text("hello"))));
//! assert_eq!(s.read_message(now, &mut payload), Ok(Some(Data::Binary(&[1, 2, 3, 4]))));
//! assert_eq!(s.read_message(now, &mut payload), Ok(None));
//! // An echo waits for the client's next GET.
//! s.send_text("hello").unwrap();
//! s.handle_poll(now).unwrap();
//! let n = s.poll_http(&mut out).unwrap();
//! assert!(out[..n].ends_with(b"\r\n\r\n4hello"));
//! ```

mod chunked;
pub mod client;
mod client_session;
mod error;
pub mod packet;
pub(crate) mod queue;
pub mod server;
pub mod session;
mod transport;

pub use client::{Client, ClientEvent, ConnId, MAX_HOST_LEN, Purpose};
pub use client_session::{
    ClientCloseReason, ClientConfig, ClientSession, ClientSessionEvent, MAX_SID_LEN, Request,
    websocket_target,
};
pub use error::Error;
pub use packet::{Data, Packet, PacketType, Payload, PayloadWriter};
pub use server::{Event, Input, Origins, Server, Transmit, UserState};
pub use session::{CloseReason, Event as SessionEvent, Session, Sid, WsInput};

use crate::http;
use crate::time::Duration;
use crate::ws;

/// The transports of Engine.IO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl Transport {
    /// The name used in the `transport` query parameter.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }
}

/// Server settings; the defaults are the reference server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The request path prefix. Default `/engine.io/` (Socket.IO uses `/socket.io/`).
    pub path: &'static str,
    /// Time between the server's pings. Default 25 s.
    pub ping_interval: Duration,
    /// How long to wait for a pong. Default 20 s.
    pub ping_timeout: Duration,
    /// How long an upgrade may take from the WebSocket's opening to the
    /// client's `5`. Default 10 s.
    pub upgrade_timeout: Duration,
    /// The largest POST body and WebSocket message accepted. Default 1 000 000.
    pub max_payload: usize,
    /// Offer the upgrade from polling to WebSocket. Default true.
    pub allow_upgrades: bool,
    /// Accept sessions that start on polling. Default true.
    pub allow_polling: bool,
    /// Accept WebSocket (handshake or upgrade). Default true.
    pub allow_websocket: bool,
    /// Settings of the WebSocket transport; its message and frame limits are
    /// replaced by `max_payload`.
    pub ws: ws::Config,
    // ---- the endpoint ([`Server`]) ----
    /// Bounds on a request head. Default 8 KiB, 64 fields.
    pub http: http::Limits,
    /// The `Origin`s allowed on polling and WebSocket requests. Default
    /// [`Origins::Any`], as the reference server.
    pub allowed_origins: Origins,
    /// How long a request head may take from its first byte (or from the
    /// accept, for a connection that sends nothing). Default 10 s.
    pub head_timeout: Duration,
    /// How long a POST body may take after its head. Default 10 s.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests.
    /// Default 30 s.
    pub idle_timeout: Duration,
    /// The most TCP connections at once; more are refused with 503. Default
    /// 100 000.
    pub max_connections: usize,
    /// The most sessions at once; a new one beyond is refused with 503.
    /// Default 100 000.
    pub max_sessions: usize,
    /// Plain pages the endpoint serves itself (an application's HTML, a
    /// client script), matched by exact path before the Engine.IO routing:
    /// a `GET` or `HEAD` (without a body) is answered 200 with the page's
    /// `Content-Type` and `Content-Length` (`HEAD`: the head only); any other
    /// path is refused as before (404). No `Origin` check and no CORS
    /// headers: they are public. Default none.
    pub pages: &'static [Page],
    /// The bytes of each session's send queue (a packet takes its length plus
    /// 5 or 6). Default 2 x `max_payload` + 4 KiB, so that the echoes of a
    /// whole polling body fit; memory a session never writes is never
    /// touched.
    pub send_queue_len: usize,
    /// permessage-deflate (RFC 7692) on the WebSocket transport (feature
    /// `deflate`): `Some` accepts a client's offer with these settings, and
    /// the session then inflates what arrives compressed and compresses the
    /// messages it sends of at least [`PerMessageDeflate::threshold`] bytes.
    /// Default `None`: offers are declined, as the reference server's
    /// `perMessageDeflate: false`.
    ///
    /// The windows (up to 32 KiB each way, a hash table and the decoder's
    /// tables: about 75 KiB per session with the default settings) come from
    /// the heap, each half when first used (the decoder's when the first
    /// compressed message arrives, the encoder's when the first message of at
    /// least the threshold is sent), so only storage that has one
    /// (`storage::Growable`, feature `alloc`)
    /// negotiates; with [`storage::Fixed`](crate::storage::Fixed) or without
    /// `alloc` the server always declines. A compressed message is not in the
    /// input where it could be borrowed, so such a session assembles every
    /// message (compressed or not) in its assembler (`max_payload` bytes,
    /// taken on first use) and hands it out from there.
    #[cfg(feature = "deflate")]
    pub per_message_deflate: Option<PerMessageDeflate>,
}

/// How an Engine.IO endpoint uses permessage-deflate when it is negotiated
/// (feature `deflate`): [`Config::per_message_deflate`],
/// [`ClientConfig::per_message_deflate`].
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PerMessageDeflate {
    /// Windows and context takeover, offered or accepted through
    /// [`ws::deflate`]'s negotiation.
    pub config: ws::deflate::DeflateConfig,
    /// Messages shorter than this many bytes go out uncompressed (always
    /// allowed once negotiated). Default 1024, the reference's threshold.
    /// Control packets (ping, pong, close, noop) are never compressed.
    pub threshold: usize,
}

#[cfg(feature = "deflate")]
impl PerMessageDeflate {
    /// 32 KiB windows both ways with context takeover, threshold 1024: what
    /// Node's engine.io and engine.io-client use when it is on.
    pub const DEFAULT: PerMessageDeflate = PerMessageDeflate {
        config: ws::deflate::DeflateConfig::DEFAULT,
        threshold: 1024,
    };
}

#[cfg(feature = "deflate")]
impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Config {
    /// The reference server's defaults.
    pub const DEFAULT: Config = Config {
        path: "/engine.io/",
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(20_000),
        upgrade_timeout: Duration::from_millis(10_000),
        max_payload: 1_000_000,
        allow_upgrades: true,
        allow_polling: true,
        allow_websocket: true,
        ws: ws::Config::DEFAULT,
        http: http::Limits::DEFAULT,
        allowed_origins: Origins::Any,
        head_timeout: Duration::from_millis(10_000),
        body_timeout: Duration::from_millis(10_000),
        idle_timeout: Duration::from_millis(30_000),
        max_connections: 100_000,
        max_sessions: 100_000,
        pages: &[],
        send_queue_len: 2 * 1_000_000 + 4096,
        #[cfg(feature = "deflate")]
        per_message_deflate: None,
    };

    fn offers(&self, t: Transport) -> bool {
        match t {
            Transport::Polling => self.allow_polling,
            Transport::WebSocket => self.allow_websocket,
        }
    }
}

/// A page [`Server`] answers itself ([`Config::pages`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Page {
    /// The exact request path (`/`, `/socket.io/socket.io.js`), query aside.
    pub path: &'static str,
    /// The `Content-Type` (`text/html; charset=utf-8`); printable ASCII,
    /// else the page is not served.
    pub content_type: &'static str,
    /// The body, sent as is (split across [`Server::poll_transmit`] calls
    /// when it does not fit the caller's buffer).
    pub body: &'static [u8],
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What an Engine.IO request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Route<'b> {
    /// A new session (no `sid`) on this transport. For WebSocket the request is
    /// an upgrade request.
    Handshake(Transport),
    /// A long-poll GET for session `sid`.
    Poll(&'b str),
    /// A POST of packets for session `sid`.
    Post(&'b str),
    /// A WebSocket upgrade request for the polling session `sid`.
    Upgrade(&'b str),
}

/// Classifies a request the way the reference server does, in its order:
/// the path ([`Error::NotFound`]), the transport (code 0), then with a `sid`
/// the method (code 3), and without one the method (code 2), WebSocket without
/// an upgrade (code 3) and `EIO=4` (code 5). The `t` cache buster and other
/// parameters are ignored.
///
/// ```
/// use sockwire::engineio::{route, Config, Error, Route, Transport};
/// use sockwire::http::{Limits, Request};
/// let head = b"GET /engine.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: x\r\n\r\n";
/// let req = Request::parse(head, &Limits::default()).unwrap();
/// assert_eq!(route(&req, &Config::default()), Ok(Route::Handshake(Transport::Polling)));
/// let head = b"GET /engine.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
/// let req = Request::parse(head, &Limits::default()).unwrap();
/// assert_eq!(route(&req, &Config::default()), Err(Error::UnsupportedProtocolVersion));
/// ```
pub fn route<'b>(req: &http::Request<'b>, config: &Config) -> Result<Route<'b>, Error> {
    if !req.path().starts_with(config.path) {
        return Err(Error::NotFound);
    }
    let transport = match req.query_param("transport") {
        Some("polling") => Transport::Polling,
        Some("websocket") => Transport::WebSocket,
        _ => return Err(Error::UnknownTransport),
    };
    if !config.offers(transport) {
        return Err(Error::UnknownTransport);
    }
    let upgrade = req.headers.has_token("upgrade", "websocket");
    match req.query_param("sid").filter(|s| !s.is_empty()) {
        Some(sid) => match (transport, req.method) {
            (Transport::WebSocket, "GET") if upgrade => Ok(Route::Upgrade(sid)),
            (Transport::Polling, "GET") => Ok(Route::Poll(sid)),
            (Transport::Polling, "POST") => Ok(Route::Post(sid)),
            _ => Err(Error::BadRequest),
        },
        None => {
            if req.method != "GET" {
                return Err(Error::BadHandshakeMethod);
            }
            if transport == Transport::WebSocket && !upgrade {
                return Err(Error::BadRequest);
            }
            if req.query_param("EIO") != Some("4") {
                return Err(Error::UnsupportedProtocolVersion);
            }
            Ok(Route::Handshake(transport))
        }
    }
}

/// Writes the answer to a POST: `200 OK`, `text/html`, body `ok`.
pub fn write_post_ok(out: &mut [u8]) -> Result<usize, Error> {
    Ok(http::write_head(out, |w| {
        w.status_line(200);
        w.header("Content-Type", b"text/html");
        w.header_u64("Content-Length", 2);
        w.raw(b"\r\nok");
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Limits, Request};

    fn r(head: &str) -> Result<Route<'_>, Error> {
        let req = Request::parse(head.as_bytes(), &Limits::default()).unwrap();
        route(&req, &Config::default())
    }

    #[test]
    fn routes() {
        use Route::*;
        const UP: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        let t = |m: &str, q: &str, extra: &str| {
            std::format!("{m} /engine.io/?{q} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
        };
        extern crate std;
        let cases: &[(std::string::String, Result<Route<'_>, Error>)] = &[
            (
                t("GET", "EIO=4&transport=polling", ""),
                Ok(Handshake(Transport::Polling)),
            ),
            (
                t("GET", "EIO=4&transport=websocket", UP),
                Ok(Handshake(Transport::WebSocket)),
            ),
            (
                t("GET", "EIO=4&transport=websocket", ""),
                Err(Error::BadRequest),
            ),
            (
                t("GET", "EIO=4&transport=tobi", ""),
                Err(Error::UnknownTransport),
            ),
            (t("GET", "EIO=4", ""), Err(Error::UnknownTransport)),
            (
                t("POST", "EIO=4&transport=polling", ""),
                Err(Error::BadHandshakeMethod),
            ),
            (
                t("GET", "EIO=3&transport=polling", ""),
                Err(Error::UnsupportedProtocolVersion),
            ),
            (
                t("GET", "EIO=abc&transport=polling", ""),
                Err(Error::UnsupportedProtocolVersion),
            ),
            (
                t("GET", "transport=polling", ""),
                Err(Error::UnsupportedProtocolVersion),
            ),
            (
                t("GET", "EIO=4&transport=polling&sid=abc", ""),
                Ok(Poll("abc")),
            ),
            (
                t("POST", "EIO=4&transport=polling&sid=abc", ""),
                Ok(Post("abc")),
            ),
            (
                t("PUT", "EIO=4&transport=polling&sid=abc", ""),
                Err(Error::BadRequest),
            ),
            (
                t("GET", "EIO=4&transport=websocket&sid=abc", UP),
                Ok(Upgrade("abc")),
            ),
            (
                t("GET", "EIO=4&transport=websocket&sid=abc", ""),
                Err(Error::BadRequest),
            ),
            (
                t("GET", "EIO=4&transport=polling&sid=", ""),
                Ok(Handshake(Transport::Polling)),
            ),
        ];
        for (head, want) in cases {
            assert_eq!(&r(head), want, "{head}");
        }
        assert_eq!(
            r("GET /other/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"),
            Err(Error::NotFound)
        );
    }

    #[test]
    fn refusals() {
        let mut out = [0u8; 256];
        let n = Error::UnknownSid.write_response(&mut out).unwrap();
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n{\"code\":1,\"message\":\"Session ID unknown\"}"));
        let n = Error::PayloadTooLarge.write_response(&mut out).unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 413 "));
        assert_eq!(
            Error::PingTimeout.write_response(&mut out),
            Err(Error::InvalidState)
        );
        let n = write_post_ok(&mut out).unwrap();
        assert!(out[..n].ends_with(b"\r\n\r\nok"));
    }
}
