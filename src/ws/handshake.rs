//! The opening handshake (RFC 6455 section 4), both roles.
//!
//! The head bytes accumulate in the caller's buffer; the handshake objects only
//! remember how far they have scanned (see [`crate::http`]). Once the head is
//! complete, the parsed request or response borrows that buffer, and
//! `head_len()` tells where the WebSocket bytes begin: frames can arrive in the
//! same read as the head, and belong to the [`Connection`](super::Connection).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::Error;
use crate::entropy::Entropy;
use crate::http::{self, HeadParser, Headers, Limits};

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (base64 of the
/// SHA-1 of the key and the protocol's GUID).
///
/// ```
/// // The example of RFC 6455 section 1.3.
/// let accept = sockwire::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28.
    let _ = B64.encode_slice(sha.digest().bytes(), &mut out);
    out
}

fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == 24 && matches!(B64.decode_slice(key, &mut decoded), Ok(16))
}

/// Writes a refusal: `status` with `Content-Length: 0`, plus
/// `Sec-WebSocket-Version: 13` for 426.
pub fn write_refusal(status: u16, out: &mut [u8]) -> Result<usize, Error> {
    Ok(http::write_head(out, |w| {
        w.status_line(status);
        if status == 426 {
            w.header("Sec-WebSocket-Version", b"13");
        }
        w.header("Connection", b"close");
        w.header_u64("Content-Length", 0);
        w.raw(b"\r\n");
    })?)
}

/// The server side of the opening handshake.
///
/// ```
/// use sockwire::ws::{Accept, ServerHandshake};
/// let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let mut hs = ServerHandshake::new();
/// let req = hs.handle_input(request).unwrap().expect("complete");
/// assert_eq!(req.path(), "/chat");
/// assert!(req.protocols().any(|p| p == "chat"));
/// let mut out = [0u8; 256];
/// let n = req.accept(&Accept { protocol: Some("chat") }, &mut out).unwrap();
/// assert!(out[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerHandshake {
    head: HeadParser,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerHandshake {
    /// A handshake with the default limits (8 KiB head, 64 header fields).
    pub const fn new() -> Self {
        Self::with_limits(Limits::DEFAULT)
    }

    /// A handshake with custom head limits. Set [`Limits::max_head_len`] to the
    /// size of the buffer the request accumulates in (at most), so that a longer
    /// request is refused (431) rather than filling the buffer.
    pub const fn with_limits(limits: Limits) -> Self {
        ServerHandshake {
            head: HeadParser::new(limits),
        }
    }

    /// Looks at every byte received so far (the caller appends each read to the
    /// same buffer). `Ok(None)`: the head is not complete. `Ok(Some(request))`:
    /// a valid upgrade request; answer it with [`Request::accept`] or refuse it
    /// with [`write_refusal`]. `Err(e)`: answer with [`Error::write_response`]
    /// and close the connection.
    pub fn handle_input<'b>(&mut self, received: &'b [u8]) -> Result<Option<Request<'b>>, Error> {
        let Some(head_len) = self.head.advance(received)? else {
            return Ok(None);
        };
        let req = http::Request::parse(&received[..head_len], self.head.limits())?;
        if req.method != "GET" {
            return Err(Error::BadMethod);
        }
        if req.version != http::Version::Http11 {
            return Err(Error::BadHttpVersion);
        }
        // One pass over the fields, counting the ones that must appear once.
        let (mut hosts, mut upgrade, mut connection) = (0, false, false);
        let (mut versions, mut version) = (0, None);
        let (mut keys, mut key) = (0, None);
        for field in req.headers.iter() {
            let name = field.name;
            if name.eq_ignore_ascii_case("host") {
                hosts += 1;
            } else if name.eq_ignore_ascii_case("upgrade") {
                upgrade |= http::has_token(field.value, "websocket");
            } else if name.eq_ignore_ascii_case("connection") {
                connection |= http::has_token(field.value, "upgrade");
            } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                versions += 1;
                version = Some(field.value);
            } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                keys += 1;
                key = Some(field.value);
            }
        }
        if hosts != 1 {
            return Err(Error::MissingHost);
        }
        if !upgrade {
            return Err(Error::NotUpgrade);
        }
        if !connection {
            return Err(Error::MissingConnectionUpgrade);
        }
        if versions != 1 || version != Some(b"13") {
            return Err(Error::UnsupportedVersion);
        }
        let key = match key {
            Some(key) if keys == 1 && is_valid_key(key) => key,
            _ => return Err(Error::InvalidKey),
        };
        Ok(Some(Request {
            http: req,
            key,
            head_len,
        }))
    }
}

/// How to accept a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Accept<'a> {
    /// The subprotocol chosen from [`Request::protocols`], if any.
    pub protocol: Option<&'a str>,
}

/// A valid WebSocket upgrade request, borrowing the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request<'b> {
    http: http::Request<'b>,
    key: &'b [u8],
    head_len: usize,
}

impl<'b> Request<'b> {
    /// The request path (target up to `?`).
    pub fn path(&self) -> &'b str {
        self.http.path()
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&'b str> {
        self.http.query()
    }

    /// The `Origin` header, for the application's origin check.
    pub fn origin(&self) -> Option<&'b [u8]> {
        self.http.headers.get("origin")
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &'b str> + use<'b> {
        self.http
            .headers
            .get_all("sec-websocket-protocol")
            .flat_map(http::tokens)
            .filter_map(|t| core::str::from_utf8(t).ok())
    }

    /// The parsed HTTP request, for any other header.
    pub fn http(&self) -> &http::Request<'b> {
        &self.http
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers<'b> {
        &self.http.headers
    }

    /// The length of the head: received bytes from here on are WebSocket frames.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Writes the `101 Switching Protocols` response into `out`. The chosen
    /// protocol must be one the client offered ([`Error::InvalidArgument`]
    /// otherwise).
    pub fn accept(&self, accept: &Accept<'_>, out: &mut [u8]) -> Result<usize, Error> {
        self.accept_inner(accept, &[], out)
    }

    /// The parameters to accept the client's permessage-deflate offer with
    /// under `config`, or `None` when it made no offer this side can honour
    /// (then accept without compression).
    #[cfg(feature = "deflate")]
    pub fn deflate_offer(
        &self,
        config: &super::deflate::DeflateConfig,
    ) -> Option<super::deflate::Params> {
        super::deflate::accept_offer(&self.http.headers, config)
    }

    /// Like [`accept`](Self::accept), answering the permessage-deflate offer
    /// with `params` (from [`deflate_offer`](Self::deflate_offer)) when given.
    /// Build the connection with the same parameters
    /// (`Connection::with_deflate`).
    #[cfg(feature = "deflate")]
    pub fn accept_deflate(
        &self,
        accept: &Accept<'_>,
        params: Option<&super::deflate::Params>,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let mut buf = [0u8; 128];
        let n = params.map_or(0, |p| p.write(&mut buf));
        self.accept_inner(accept, &buf[..n], out)
    }

    fn accept_inner(
        &self,
        accept: &Accept<'_>,
        extensions: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if let Some(p) = accept.protocol
            && !self.protocols().any(|q| q == p)
        {
            return Err(Error::InvalidArgument);
        }
        let key = accept_key(self.key);
        Ok(http::write_head(out, |w| {
            w.status_line(101);
            w.header("Upgrade", b"websocket");
            w.header("Connection", b"Upgrade");
            w.header("Sec-WebSocket-Accept", &key);
            if let Some(p) = accept.protocol {
                w.header("Sec-WebSocket-Protocol", p.as_bytes());
            }
            if !extensions.is_empty() {
                w.header("Sec-WebSocket-Extensions", extensions);
            }
            w.raw(b"\r\n");
        })?)
    }
}

/// What the client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientRequest<'a> {
    /// The `Host` header: host and, if not the default, port.
    pub host: &'a str,
    /// The request target: path and query, e.g. `/chat?room=1`.
    pub path: &'a str,
    /// An `Origin` header to send, if any.
    pub origin: Option<&'a str>,
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra header fields (`Authorization`, cookies, ...).
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientRequest<'a> {
    /// A request for `path` on `host` with nothing else.
    pub const fn new(host: &'a str, path: &'a str) -> Self {
        ClientRequest {
            host,
            path,
            origin: None,
            protocols: &[],
            headers: &[],
        }
    }
}

/// The client side of the opening handshake.
///
/// ```
/// use sockwire::entropy::SplitMix64;
/// use sockwire::ws::{ClientHandshake, ClientRequest};
/// let mut hs = ClientHandshake::new(ClientRequest::new("example.com", "/chat"), &mut SplitMix64::new(1));
/// let mut out = [0u8; 256];
/// let n = hs.write_request(&mut out).unwrap();
/// assert!(out[..n].starts_with(b"GET /chat HTTP/1.1\r\n"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientHandshake<'a> {
    request: ClientRequest<'a>,
    key: [u8; 24],
    head: HeadParser,
    #[cfg(feature = "deflate")]
    deflate: Option<super::deflate::DeflateConfig>,
}

/// The server's valid `101` answer, borrowing the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response<'b> {
    http: http::Response<'b>,
    head_len: usize,
    #[cfg(feature = "deflate")]
    deflate: Option<super::deflate::Params>,
}

impl<'b> Response<'b> {
    /// The subprotocol the server chose, if any (always one that was offered).
    pub fn protocol(&self) -> Option<&'b str> {
        self.http
            .headers
            .get("sec-websocket-protocol")
            .and_then(|p| core::str::from_utf8(p).ok())
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers<'b> {
        &self.http.headers
    }

    /// The length of the head: received bytes from here on are WebSocket frames.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The permessage-deflate parameters the server accepted, if it did; build
    /// the connection with them
    /// (`Connection::with_deflate`).
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<super::deflate::Params> {
        self.deflate
    }
}

impl<'a> ClientHandshake<'a> {
    /// A handshake for `request` with a fresh `Sec-WebSocket-Key` from `entropy`
    /// and the default response limits (8 KiB head, 64 header fields).
    pub fn new(request: ClientRequest<'a>, entropy: impl Entropy) -> Self {
        Self::with_limits(request, entropy, Limits::DEFAULT)
    }

    /// Like [`new`](Self::new) with custom limits for the server's response.
    /// Set [`Limits::max_head_len`] to the size of the buffer the response
    /// accumulates in, so that a longer response is an error rather than a
    /// buffer that is full and never complete.
    pub fn with_limits(
        request: ClientRequest<'a>,
        mut entropy: impl Entropy,
        limits: Limits,
    ) -> Self {
        let mut nonce = [0u8; 16];
        entropy.fill_bytes(&mut nonce);
        let mut key = [0u8; 24];
        let _ = B64.encode_slice(nonce, &mut key);
        ClientHandshake {
            request,
            key,
            head: HeadParser::new(limits),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// A handshake with a known key (the endpoint keeps the key, not the
    /// borrowed request, between calls).
    pub(crate) fn with_key(request: ClientRequest<'a>, key: [u8; 24], limits: Limits) -> Self {
        ClientHandshake {
            request,
            key,
            head: HeadParser::new(limits),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Offers permessage-deflate with `config` (see
    /// [`DeflateConfig`](super::deflate::DeflateConfig)); the answer is checked
    /// against the offer and shown by [`Response::deflate`].
    #[cfg(feature = "deflate")]
    pub fn offer_deflate(mut self, config: super::deflate::DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &[u8; 24] {
        &self.key
    }

    /// Writes the upgrade request into `out`.
    pub fn write_request(&self, out: &mut [u8]) -> Result<usize, Error> {
        let r = &self.request;
        Ok(http::write_head(out, |w| {
            w.request_line("GET", r.path);
            w.header("Host", r.host.as_bytes());
            w.header("Upgrade", b"websocket");
            w.header("Connection", b"Upgrade");
            w.header("Sec-WebSocket-Key", &self.key);
            w.header("Sec-WebSocket-Version", b"13");
            if let Some(origin) = r.origin {
                w.header("Origin", origin.as_bytes());
            }
            // One field per protocol is equivalent to a comma list.
            for p in r.protocols {
                w.header("Sec-WebSocket-Protocol", p.as_bytes());
            }
            for (name, value) in r.headers {
                w.header(name, value.as_bytes());
            }
            #[cfg(feature = "deflate")]
            if let Some(config) = &self.deflate {
                let mut buf = [0u8; 128];
                let n = super::deflate::write_offer(config, &mut buf);
                w.header("Sec-WebSocket-Extensions", &buf[..n]);
            }
            w.raw(b"\r\n");
        })?)
    }

    /// Looks at every byte received so far (appending each read to the same
    /// buffer). `Ok(Some(response))` once a valid `101` arrived; the bytes from
    /// [`Response::head_len`] on belong to the connection.
    pub fn handle_input<'b>(&mut self, received: &'b [u8]) -> Result<Option<Response<'b>>, Error> {
        let Some(head_len) = self.head.advance(received)? else {
            return Ok(None);
        };
        let res = http::Response::parse(&received[..head_len], self.head.limits())?;
        let h = &res.headers;
        if res.status != 101 {
            return Err(Error::UnexpectedStatus(res.status));
        }
        if !h.has_token("upgrade", "websocket") {
            return Err(Error::NotUpgrade);
        }
        if !h.has_token("connection", "upgrade") {
            return Err(Error::MissingConnectionUpgrade);
        }
        let expected = accept_key(&self.key);
        if h.count("sec-websocket-accept") != 1
            || h.get("sec-websocket-accept") != Some(&expected[..])
        {
            return Err(Error::InvalidAccept);
        }
        #[cfg(feature = "deflate")]
        let deflate = match &self.deflate {
            Some(config) => super::deflate::check_answer(h, config).map_err(|()| {
                let other = h
                    .get_all("sec-websocket-extensions")
                    .flat_map(http::tokens)
                    .any(|t| !t.starts_with(b"permessage-deflate"));
                if other {
                    Error::UnofferedExtension
                } else {
                    Error::InvalidExtension
                }
            })?,
            None => None,
        };
        #[cfg(feature = "deflate")]
        let offered = self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        let offered = false;
        if !offered
            && h.get_all("sec-websocket-extensions")
                .flat_map(http::tokens)
                .next()
                .is_some()
        {
            return Err(Error::UnofferedExtension);
        }
        match (
            h.count("sec-websocket-protocol"),
            h.get("sec-websocket-protocol"),
        ) {
            (0, _) => {}
            (1, Some(p)) if self.request.protocols.iter().any(|o| o.as_bytes() == p) => {}
            _ => return Err(Error::UnofferedProtocol),
        }
        Ok(Some(Response {
            http: res,
            head_len,
            #[cfg(feature = "deflate")]
            deflate,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SplitMix64;

    const GOOD: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn server(req: &str) -> Result<(), Error> {
        ServerHandshake::new()
            .handle_input(req.as_bytes())
            .map(|r| assert!(r.is_some()))
    }

    #[test]
    fn rfc_example_request_is_accepted() {
        let mut hs = ServerHandshake::new();
        let req = hs.handle_input(GOOD.as_bytes()).unwrap().unwrap();
        assert_eq!(
            (req.path(), req.query(), req.origin()),
            ("/chat", Some("room=1"), Some(&b"http://example.com"[..]))
        );
        assert_eq!(
            req.protocols().collect::<heapless::Vec<_, 4>>(),
            ["chat", "superchat"]
        );
        assert_eq!(req.head_len(), GOOD.len());
        let mut out = [0u8; 256];
        let n = req
            .accept(
                &Accept {
                    protocol: Some("chat"),
                },
                &mut out,
            )
            .unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"[..]
        );
        assert_eq!(
            req.accept(
                &Accept {
                    protocol: Some("other")
                },
                &mut out
            ),
            Err(Error::InvalidArgument)
        );
    }

    #[test]
    fn bad_requests_get_their_status() {
        let cases: &[(&str, &str, Error, u16)] = &[
            ("GET /chat", "POST /chat", Error::BadMethod, 400),
            (
                "HTTP/1.1\r\nHost",
                "HTTP/1.0\r\nHost",
                Error::BadHttpVersion,
                400,
            ),
            ("Host: server.example.com\r\n", "", Error::MissingHost, 400),
            ("Upgrade: websocket", "Upgrade: h2c", Error::NotUpgrade, 400),
            (
                "keep-alive, Upgrade",
                "keep-alive",
                Error::MissingConnectionUpgrade,
                400,
            ),
            ("Version: 13", "Version: 8", Error::UnsupportedVersion, 426),
            (
                "Sec-WebSocket-Version: 13\r\n",
                "",
                Error::UnsupportedVersion,
                426,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZSBub25jZQ",
                Error::InvalidKey,
                400,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZSBub25jZXh4",
                Error::InvalidKey,
                400,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "not base64 at all!!!!!==",
                Error::InvalidKey,
                400,
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "",
                Error::InvalidKey,
                400,
            ),
            (
                "Origin",
                "Bad Header",
                Error::Http(http::Error::InvalidHeader),
                400,
            ),
        ];
        for (from, to, err, status) in cases {
            assert!(GOOD.contains(from), "{from}");
            assert_eq!(
                server(&GOOD.replacen(from, to, 1)),
                Err(*err),
                "{from} -> {to}"
            );
            assert_eq!(err.http_status(), Some(*status));
        }
        let twice = GOOD.replace(
            "Host:",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nHost:",
        );
        assert_eq!(server(&twice), Err(Error::InvalidKey));
        let mut out = [0u8; 200];
        let n = Error::UnsupportedVersion.write_response(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..]
        );
        let huge = GOOD.replacen(
            "Host:",
            &["X-Pad: xxxxxxxxxxxxxxxx\r\n".repeat(400), "Host:".into()].concat(),
            1,
        );
        assert_eq!(server(&huge), Err(Error::Http(http::Error::HeadTooLarge)));
    }

    fn client_with(protocols: &'static [&'static str]) -> ClientHandshake<'static> {
        let req = ClientRequest {
            protocols,
            origin: Some("http://o"),
            ..ClientRequest::new("h:1", "/p")
        };
        ClientHandshake::new(req, &mut SplitMix64::new(1))
    }

    fn response(hs: &ClientHandshake<'_>, extra: &str) -> heapless::String<512> {
        let accept = accept_key(hs.key());
        let mut s = heapless::String::new();
        let _ = core::fmt::write(
            &mut s,
            format_args!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
                core::str::from_utf8(&accept).unwrap()
            ),
        );
        s
    }

    #[test]
    fn client_request_and_response_checks() {
        let mut hs = client_with(&["chat", "v2"]);
        let mut out = [0u8; 512];
        let n = hs.write_request(&mut out).unwrap();
        let req = ServerHandshake::new()
            .handle_input(&out[..n])
            .unwrap()
            .unwrap();
        assert_eq!(
            req.protocols().collect::<heapless::Vec<_, 4>>(),
            ["chat", "v2"]
        );
        assert_eq!(req.origin(), Some(&b"http://o"[..]));

        let ok = response(&hs, "Sec-WebSocket-Protocol: v2\r\n");
        assert_eq!(
            hs.handle_input(ok.as_bytes()).unwrap().unwrap().protocol(),
            Some("v2")
        );
        let checks: &[(&str, Error)] = &[
            ("Sec-WebSocket-Protocol: v3\r\n", Error::UnofferedProtocol),
            (
                "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                Error::UnofferedExtension,
            ),
        ];
        for (extra, err) in checks {
            let mut hs = client_with(&["chat", "v2"]);
            let r = response(&hs, extra);
            assert_eq!(
                hs.handle_input(r.as_bytes()).map(|_| ()),
                Err(*err),
                "{extra}"
            );
        }
        let mut hs = client_with(&[]);
        let good = response(&hs, "");
        for (from, to, err) in [
            (
                "101 Switching Protocols",
                "200 OK",
                Error::UnexpectedStatus(200),
            ),
            ("Upgrade: WebSocket", "Upgrade: h2c", Error::NotUpgrade),
            (
                "Connection: upgrade",
                "Connection: close",
                Error::MissingConnectionUpgrade,
            ),
            (
                "Sec-WebSocket-Accept: ",
                "Sec-WebSocket-Accept: x",
                Error::InvalidAccept,
            ),
        ] {
            let mut hs2 = hs.clone();
            let bad = good.replacen(from, to, 1);
            assert_eq!(
                hs2.handle_input(bad.as_bytes()).map(|_| ()),
                Err(err),
                "{to}"
            );
        }
        assert!(hs.handle_input(good.as_bytes()).unwrap().is_some());
    }

    /// Both roles: the client's offer, the server's answer, the client's check.
    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_negotiation_end_to_end() {
        use crate::ws::deflate::DeflateConfig;
        for (client_cfg, server_cfg, want) in [
            (
                DeflateConfig::DEFAULT,
                DeflateConfig::DEFAULT,
                Some("permessage-deflate"),
            ),
            (
                DeflateConfig::small(9),
                DeflateConfig::DEFAULT,
                Some(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9",
                ),
            ),
            (
                DeflateConfig::DEFAULT,
                DeflateConfig::small(10),
                Some(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10",
                ),
            ),
        ] {
            let mut hs =
                ClientHandshake::new(ClientRequest::new("h", "/"), &mut SplitMix64::new(3))
                    .offer_deflate(client_cfg);
            let mut buf = [0u8; 512];
            let n = hs.write_request(&mut buf).unwrap();
            let mut shs = ServerHandshake::new();
            let req = shs.handle_input(&buf[..n]).unwrap().unwrap();
            let params = req.deflate_offer(&server_cfg);
            let mut out = [0u8; 512];
            let m = req
                .accept_deflate(&Accept::default(), params.as_ref(), &mut out)
                .unwrap();
            let res = hs.handle_input(&out[..m]).unwrap().unwrap();
            assert_eq!(res.deflate(), params);
            let got = res.headers().get("sec-websocket-extensions");
            assert_eq!(got, want.map(str::as_bytes));
        }
        // Not offered: any extension in the answer is refused. Offered,
        // answered badly: refused too.
        for (offer, ext, err) in [
            (None, "permessage-deflate", Error::UnofferedExtension),
            (
                Some(DeflateConfig::DEFAULT),
                "permessage-deflate; server_max_window_bits=99",
                Error::InvalidExtension,
            ),
        ] {
            let mut hs =
                ClientHandshake::new(ClientRequest::new("h", "/"), &mut SplitMix64::new(3));
            if let Some(c) = offer {
                hs = hs.offer_deflate(c);
            }
            let key = accept_key(hs.key());
            let mut ans = heapless::String::<512>::new();
            let _ = core::fmt::Write::write_fmt(
                &mut ans,
                format_args!(
                    "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {ext}\r\n\r\n",
                    core::str::from_utf8(&key).unwrap()
                ),
            );
            assert_eq!(hs.handle_input(ans.as_bytes()), Err(err));
        }
    }
}
