//! A bounded, incremental HTTP/1.1 head parser and writer.
//!
//! WebSocket opens with an HTTP/1.1 Upgrade request, and Engine.IO's long-polling
//! transport is plain HTTP requests, so both layers share this codec. It handles
//! the *head* only (the start line and the header fields up to the empty line);
//! bodies are the business of the layer above.
//!
//! # Incremental and bounded
//!
//! The bytes of a head may arrive one at a time. The caller keeps appending them
//! to its own buffer and hands the whole buffer to [`HeadParser::advance`] after
//! each read. The parser remembers how far it has already looked, so every byte is
//! scanned for the end of the head once, never again: feeding an 8 KiB head one
//! byte at a time costs 8 KiB of scanning, not 32 MiB. Only when the empty line has
//! arrived is the head parsed, once, by [`Request::parse`] or [`Response::parse`].
//! A head longer than [`Limits::max_head_len`] or with more than
//! [`Limits::max_headers`] fields is refused with a typed error; no allocation
//! happens at any point.
//!
//! # Zero copy
//!
//! [`Request`] and [`Response`] borrow the caller's buffer: method, target, path,
//! query and header values are slices of it. Header lookups walk the validated
//! head, which keeps the parsed form free of any fixed-size header array.
//!
//! ```
//! use sockwire::http::{HeadParser, Limits, Request};
//! let head = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! let mut parser = HeadParser::new(Limits::default());
//! // The bytes trickle in: nothing is complete until the empty line.
//! assert_eq!(parser.advance(&head[..10]).unwrap(), None);
//! let len = parser.advance(head).unwrap().unwrap();
//! let req = Request::parse(&head[..len], &Limits::default()).unwrap();
//! assert_eq!((req.method, req.path(), req.query()), ("GET", "/chat", Some("room=1")));
//! assert_eq!(req.headers.get("host"), Some(&b"example.com"[..]));
//! ```

use core::fmt;

/// Bounds on a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Largest head, start line to the final empty line inclusive. Default 8 KiB.
    pub max_head_len: usize,
    /// Most header fields. Default 64.
    pub max_headers: usize,
}

impl Limits {
    /// The defaults: 8 KiB heads with at most 64 header fields.
    pub const DEFAULT: Limits = Limits {
        max_head_len: 8 * 1024,
        max_headers: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Errors of the HTTP head codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The head did not end within [`Limits::max_head_len`] bytes. Answer: 431.
    HeadTooLarge,
    /// The head has more than [`Limits::max_headers`] fields. Answer: 431.
    TooManyHeaders,
    /// The request line is not `METHOD SP target SP HTTP/x.y`. Answer: 400.
    InvalidRequestLine,
    /// The status line is not `HTTP/x.y SP code [SP reason]`.
    InvalidStatusLine,
    /// The version is not HTTP/1.0 or HTTP/1.1. Answer: 505.
    UnsupportedVersion,
    /// A header line is malformed: a bad name, a control character in the value,
    /// a missing colon or obsolete line folding. Answer: 400. Also returned by
    /// the [`Writer`] when the caller passes a name or value that would break the
    /// head (CR, LF or other control characters).
    InvalidHeader,
    /// The output buffer is too small; it was left untouched.
    BufferTooSmall {
        /// Bytes the head needs.
        required: usize,
    },
}

impl Error {
    /// The HTTP status a server should answer this error with, if it is the
    /// peer's fault.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::HeadTooLarge | Error::TooManyHeaders => Some(431),
            Error::InvalidRequestLine | Error::InvalidHeader => Some(400),
            Error::UnsupportedVersion => Some(505),
            Error::InvalidStatusLine | Error::BufferTooSmall { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeadTooLarge => f.write_str("HTTP head exceeds the size limit"),
            Error::TooManyHeaders => f.write_str("HTTP head has too many header fields"),
            Error::InvalidRequestLine => f.write_str("malformed HTTP request line"),
            Error::InvalidStatusLine => f.write_str("malformed HTTP status line"),
            Error::UnsupportedVersion => f.write_str("unsupported HTTP version"),
            Error::InvalidHeader => f.write_str("malformed HTTP header field"),
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for Error {}

/// Finds the end of a head in bytes that arrive piecemeal, scanning each byte once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeadParser {
    limits: Limits,
    /// Bytes already looked at.
    scanned: usize,
    /// The head is complete; it is `scanned` bytes long.
    done: bool,
}

impl HeadParser {
    /// A parser for one head.
    pub const fn new(limits: Limits) -> Self {
        HeadParser {
            limits,
            scanned: 0,
            done: false,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Looks for the end of the head in `received`: every byte received so far for
    /// this head, starting with its first byte (the caller appends and calls
    /// again). Returns the head's length once the empty line has arrived; the
    /// bytes after it belong to the body or the next protocol. `Ok(None)` means
    /// more bytes are needed.
    ///
    /// Only bytes not seen by an earlier call are scanned.
    pub fn advance(&mut self, received: &[u8]) -> Result<Option<usize>, Error> {
        if self.done {
            // Already complete: calling again is harmless.
            return Ok(Some(self.scanned));
        }
        let limit = received.len().min(self.limits.max_head_len);
        let mut i = self.scanned.min(limit);
        // Every line ends in LF: look for LFs and check the bytes before each.
        // The caller's buffer holds the whole head so far, so a terminator split
        // across calls is still seen whole here.
        while let Some(p) = received[i..limit].iter().position(|&b| b == b'\n') {
            let end = i + p + 1;
            if end >= 4 && &received[end - 4..end] == b"\r\n\r\n" {
                self.scanned = end;
                self.done = true;
                return Ok(Some(end));
            }
            i = end;
        }
        self.scanned = limit;
        if received.len() >= self.limits.max_head_len {
            return Err(Error::HeadTooLarge);
        }
        Ok(None)
    }

    /// Forgets everything, ready for the next head.
    pub fn reset(&mut self) {
        self.scanned = 0;
        self.done = false;
    }
}

/// An HTTP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

fn parse_version(v: &[u8]) -> Result<Version, Error> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        _ if v.starts_with(b"HTTP/") => Err(Error::UnsupportedVersion),
        _ => Err(Error::InvalidRequestLine),
    }
}

/// `tchar` from RFC 9110 (the characters of methods and header names), as a
/// table: one lookup per byte.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
            b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
        b += 1;
    }
    t
};

fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field value byte: visible ASCII, space, tab or obs-text (anything but
/// the control characters other than tab, and DEL).
fn is_value_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Splits `head` into its first line and the header block, both without CRLFs at
/// the end of the block. `head` must end with `\r\n\r\n`.
fn split_head(head: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = head.strip_suffix(b"\r\n\r\n").or_else(|| {
        // A head with no header fields: "GET / HTTP/1.1\r\n\r\n" is the start line
        // followed by the empty line.
        head.strip_suffix(b"\r\n")
    })?;
    // The start line may not hold a bare CR; a CR that is not followed by LF
    // makes the line invalid when it is checked.
    match body.iter().position(|&b| b == b'\r') {
        Some(i) if body.get(i + 1) == Some(&b'\n') => Some((&body[..i], &body[i + 2..])),
        Some(_) => None,
        None => Some((body, &[])),
    }
}

/// One header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header<'b> {
    /// The field name as sent (compare it case-insensitively).
    pub name: &'b str,
    /// The value with surrounding whitespace removed; may hold obs-text bytes.
    pub value: &'b [u8],
}

/// The validated header fields of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Headers<'b> {
    /// Header lines separated by CRLF, already validated.
    block: &'b [u8],
    count: usize,
}

impl<'b> Headers<'b> {
    /// Validates the header block (lines separated by CRLF, the final CRLF
    /// removed) in one pass: a token, a colon, then value bytes up to CR LF.
    /// Whitespace before the colon, obs-fold lines and bare CR or LF fail the
    /// token or value check.
    fn parse(block: &'b [u8], limits: &Limits) -> Result<Self, Error> {
        let (mut count, mut i, n) = (0, 0, block.len());
        while i < n {
            let start = i;
            while i < n && is_tchar(block[i]) {
                i += 1;
            }
            if i == start || block.get(i) != Some(&b':') {
                return Err(Error::InvalidHeader);
            }
            i += 1;
            while i < n && block[i] != b'\r' {
                if !is_value_byte(block[i]) {
                    return Err(Error::InvalidHeader);
                }
                i += 1;
            }
            if i < n {
                if block.get(i + 1) != Some(&b'\n') {
                    return Err(Error::InvalidHeader);
                }
                i += 2;
            }
            count += 1;
            if count > limits.max_headers {
                return Err(Error::TooManyHeaders);
            }
        }
        Ok(Headers { block, count })
    }

    /// The number of header fields.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when there are no header fields.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every field in order.
    pub fn iter(&self) -> HeaderIter<'b> {
        HeaderIter::over(self.block)
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'b [u8]> {
        self.get_all(name).next()
    }

    /// The values of every field named `name` (case-insensitive), in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + use<'b, 'n> {
        self.iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The number of fields named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// True if some field named `name` holds `token` in its comma-separated list
    /// (case-insensitive), as in `Connection: keep-alive, Upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| has_token(v, token))
    }
}

/// True if the comma-separated header `value` holds `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &str) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// The comma-separated elements of a header value, trimmed, empty ones skipped.
pub fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

/// Iterator over [`Headers`].
#[derive(Clone, Debug)]
pub struct HeaderIter<'b> {
    rest: Option<&'b [u8]>,
}

impl<'b> HeaderIter<'b> {
    fn over(block: &'b [u8]) -> Self {
        HeaderIter {
            rest: if block.is_empty() { None } else { Some(block) },
        }
    }
}

impl<'b> Iterator for HeaderIter<'b> {
    type Item = Header<'b>;
    fn next(&mut self) -> Option<Header<'b>> {
        // Every line was validated when the head was parsed, so the first colon
        // ends the name and the first CR after it ends the line.
        let rest = self.rest?;
        let colon = rest.iter().position(|&b| b == b':')?;
        let after = &rest[colon + 1..];
        let value = match after.iter().position(|&b| b == b'\r') {
            Some(p) => {
                self.rest = Some(&after[p + 2..]);
                &after[..p]
            }
            None => {
                self.rest = None;
                after
            }
        };
        Some(Header {
            name: core::str::from_utf8(&rest[..colon]).ok()?,
            value: trim_ows(value),
        })
    }
}

/// A parsed request head borrowing the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request<'b> {
    /// The method, e.g. `GET`.
    pub method: &'b str,
    /// The request target as sent, e.g. `/chat?room=1`.
    pub target: &'b str,
    /// The HTTP version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers<'b>,
}

impl<'b> Request<'b> {
    /// Parses a complete head (as delimited by [`HeadParser::advance`]).
    pub fn parse(head: &'b [u8], limits: &Limits) -> Result<Self, Error> {
        if head.len() > limits.max_head_len {
            return Err(Error::HeadTooLarge);
        }
        let (line, block) = split_head(head).ok_or(Error::InvalidRequestLine)?;
        let mut parts = line.split(|&b| b == b' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidRequestLine);
        };
        if !is_token(method)
            || target.is_empty()
            || !target.iter().all(|b| (0x21..=0x7e).contains(b))
        {
            return Err(Error::InvalidRequestLine);
        }
        let version = parse_version(version)?;
        let headers = Headers::parse(block, limits)?;
        Ok(Request {
            // Both are ASCII, checked above.
            method: core::str::from_utf8(method).map_err(|_| Error::InvalidRequestLine)?,
            target: core::str::from_utf8(target).map_err(|_| Error::InvalidRequestLine)?,
            version,
            headers,
        })
    }

    /// The path: the target up to `?` (fragment excluded).
    pub fn path(&self) -> &'b str {
        let end = self.target.find(['?', '#']).unwrap_or(self.target.len());
        &self.target[..end]
    }

    /// The query string after `?`, without the `?`, if any.
    pub fn query(&self) -> Option<&'b str> {
        let q = &self.target[self.target.find('?')? + 1..];
        Some(&q[..q.find('#').unwrap_or(q.len())])
    }

    /// The raw (not percent-decoded) value of the first query parameter `name`.
    /// A parameter without `=` has the empty value.
    pub fn query_param(&self, name: &str) -> Option<&'b str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

/// A parsed response head borrowing the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response<'b> {
    /// The HTTP version.
    pub version: Version,
    /// The status code, 100..=999.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: &'b [u8],
    /// The header fields.
    pub headers: Headers<'b>,
}

impl<'b> Response<'b> {
    /// Parses a complete head (as delimited by [`HeadParser::advance`]).
    pub fn parse(head: &'b [u8], limits: &Limits) -> Result<Self, Error> {
        if head.len() > limits.max_head_len {
            return Err(Error::HeadTooLarge);
        }
        let (line, block) = split_head(head).ok_or(Error::InvalidStatusLine)?;
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
            return Err(Error::InvalidStatusLine);
        };
        let reason = parts.next().unwrap_or(b"");
        let version = match parse_version(version) {
            Err(Error::InvalidRequestLine) => return Err(Error::InvalidStatusLine),
            v => v?,
        };
        let status = match code {
            [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(Error::InvalidStatusLine),
        };
        if !reason.iter().all(|&b| is_value_byte(b)) {
            return Err(Error::InvalidStatusLine);
        }
        Ok(Response {
            version,
            status,
            reason,
            headers: Headers::parse(block, limits)?,
        })
    }
}

/// The standard reason phrase for the status codes this crate writes.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Writes a head into a caller buffer.
///
/// Use it through [`write_head`], which runs the closure once to measure and once
/// to write, so a buffer that is too small is never partly written.
#[derive(Debug)]
pub struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
    measuring: bool,
    invalid: bool,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if !self.measuring {
            self.out[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        }
        self.len += bytes.len();
    }

    fn put_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    /// Writes `METHOD target HTTP/1.1` and its CRLF.
    pub fn request_line(&mut self, method: &str, target: &str) {
        if !is_token(method.as_bytes())
            || target.is_empty()
            || !target.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            self.invalid = true;
        }
        self.put(method.as_bytes());
        self.put(b" ");
        self.put(target.as_bytes());
        self.put(b" HTTP/1.1\r\n");
    }

    /// Writes `HTTP/1.1 <status> <reason>` and its CRLF, with the standard reason.
    pub fn status_line(&mut self, status: u16) {
        if !(100..=999).contains(&status) {
            self.invalid = true;
        }
        self.put(b"HTTP/1.1 ");
        self.put_u64(u64::from(status));
        self.put(b" ");
        self.put(reason_phrase(status).as_bytes());
        self.put(b"\r\n");
    }

    /// Writes `name: value` and its CRLF. A name that is not a token or a value
    /// holding CR, LF or another control character makes the head invalid.
    pub fn header(&mut self, name: &str, value: &[u8]) {
        if !is_token(name.as_bytes()) || !value.iter().all(|&b| is_value_byte(b)) {
            self.invalid = true;
        }
        self.put(name.as_bytes());
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
    }

    /// Writes `name: <decimal>` and its CRLF.
    pub fn header_u64(&mut self, name: &str, value: u64) {
        if !is_token(name.as_bytes()) {
            self.invalid = true;
        }
        self.put(name.as_bytes());
        self.put(b": ");
        self.put_u64(value);
        self.put(b"\r\n");
    }

    /// Writes raw bytes (a body after the head, for instance).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }
}

/// Writes a head (and anything else the closure puts) into `out`, returning its
/// length. The closure runs twice: once to measure, once to write; a buffer that
/// is too small gives [`Error::BufferTooSmall`] and is left untouched. End the
/// head with `w.raw(b"\r\n")`.
///
/// ```
/// let mut out = [0u8; 64];
/// let n = sockwire::http::write_head(&mut out, |w| {
///     w.status_line(404);
///     w.header_u64("Content-Length", 0);
///     w.raw(b"\r\n");
/// })
/// .unwrap();
/// assert_eq!(&out[..n], b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
/// ```
pub fn write_head(out: &mut [u8], f: impl Fn(&mut Writer<'_>)) -> Result<usize, Error> {
    let mut measure = Writer {
        out: &mut [],
        len: 0,
        measuring: true,
        invalid: false,
    };
    f(&mut measure);
    if measure.invalid {
        return Err(Error::InvalidHeader);
    }
    if measure.len > out.len() {
        return Err(Error::BufferTooSmall {
            required: measure.len,
        });
    }
    let mut w = Writer {
        out,
        len: 0,
        measuring: false,
        invalid: false,
    };
    f(&mut w);
    Ok(w.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_req(head: &[u8]) -> Result<Request<'_>, Error> {
        let mut p = HeadParser::new(Limits::default());
        let n = p.advance(head)?.expect("complete");
        Request::parse(&head[..n], &Limits::default())
    }

    #[test]
    fn end_found_one_byte_at_a_time() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
        let mut p = HeadParser::new(Limits::default());
        let mut found = None;
        for i in 1..=head.len() {
            if let Some(n) = p.advance(&head[..i]).unwrap() {
                found = Some((i, n));
                break;
            }
        }
        assert_eq!(found, Some((head.len() - 4, head.len() - 4)));
        // Calling again after completion gives the same answer.
        assert_eq!(p.advance(head), Ok(Some(head.len() - 4)));
    }

    #[test]
    fn end_split_across_cr_runs() {
        let head = b"GET / HTTP/1.1\r\nX: \r\r\n\r\n";
        let mut p = HeadParser::new(Limits::default());
        assert_eq!(p.advance(head).unwrap(), Some(head.len()));
    }

    #[test]
    fn head_too_large() {
        // "GET / HTTP/1.1\r\n\r\n" is 18 bytes: it fits a limit of 18 exactly.
        let limits = Limits {
            max_head_len: 18,
            max_headers: 4,
        };
        let mut p = HeadParser::new(limits);
        assert_eq!(p.advance(b"GET / HTTP/1.1\r\n\r"), Ok(None));
        assert_eq!(p.advance(b"GET / HTTP/1.1\r\n\r\n"), Ok(Some(18)));
        let mut p = HeadParser::new(limits);
        assert_eq!(p.advance(b"GET / HTTP/1.1\r\nX"), Ok(None));
        assert_eq!(p.advance(b"GET / HTTP/1.1\r\nXY"), Err(Error::HeadTooLarge));
    }

    #[test]
    fn request_vectors() {
        let r =
            parse_req(b"GET /a/b?x=1&y&z=3#f HTTP/1.1\r\nHost: h\r\nX-A:  v  \r\nx-a: w\r\n\r\n")
                .unwrap();
        assert_eq!(r.path(), "/a/b");
        assert_eq!(r.query(), Some("x=1&y&z=3"));
        assert_eq!(r.query_param("y"), Some(""));
        assert_eq!(r.query_param("z"), Some("3"));
        assert_eq!(r.query_param("q"), None);
        assert_eq!(r.headers.len(), 3);
        assert_eq!(r.headers.get("x-a"), Some(&b"v"[..]));
        assert_eq!(r.headers.count("X-A"), 2);
        let r = parse_req(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((r.version, r.headers.len()), (Version::Http10, 0));
        assert_eq!(
            parse_req(b"GET / HTTP/2.0\r\n\r\n"),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(
            parse_req(b"GET  / HTTP/1.1\r\n\r\n"),
            Err(Error::InvalidRequestLine)
        );
        assert_eq!(
            parse_req(b"G(T / HTTP/1.1\r\n\r\n"),
            Err(Error::InvalidRequestLine)
        );
        assert_eq!(
            parse_req(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Err(Error::InvalidHeader)
        );
        assert_eq!(
            parse_req(b"GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n"),
            Err(Error::InvalidHeader)
        );
        assert_eq!(
            parse_req(b"GET / HTTP/1.1\r\nA: x\x01\r\n\r\n"),
            Err(Error::InvalidHeader)
        );
        assert_eq!(
            parse_req(b"GET / HTTP/1.1\r\nA: x\nB: y\r\n\r\n"),
            Err(Error::InvalidHeader)
        );
        assert_eq!(
            parse_req(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
            Err(Error::InvalidHeader)
        );
    }

    #[test]
    fn too_many_headers() {
        let limits = Limits {
            max_head_len: 1024,
            max_headers: 2,
        };
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(Request::parse(head, &limits), Err(Error::TooManyHeaders));
    }

    #[test]
    fn tokens_and_response() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let r = Response::parse(head, &Limits::default()).unwrap();
        assert_eq!(r.status, 101);
        assert!(r.headers.has_token("connection", "upgrade"));
        assert!(!r.headers.has_token("connection", "close"));
        let r = Response::parse(b"HTTP/1.1 200\r\n\r\n", &Limits::default()).unwrap();
        assert_eq!((r.status, r.reason), (200, &b""[..]));
        assert_eq!(
            Response::parse(b"HTTP/1.1 20 OK\r\n\r\n", &Limits::default()),
            Err(Error::InvalidStatusLine)
        );
    }

    #[test]
    fn writer_refuses_small_buffers_and_injection() {
        let mut out = [0xAAu8; 10];
        let r = write_head(&mut out, |w| w.status_line(101));
        assert_eq!(r, Err(Error::BufferTooSmall { required: 34 }));
        assert_eq!(out, [0xAA; 10]);
        let mut out = [0u8; 100];
        assert_eq!(
            write_head(&mut out, |w| w.header("A", b"x\r\nB: y")),
            Err(Error::InvalidHeader)
        );
        let n = write_head(&mut out, |w| w.request_line("GET", "/")).unwrap();
        assert_eq!(&out[..n], b"GET / HTTP/1.1\r\n");
    }
}
