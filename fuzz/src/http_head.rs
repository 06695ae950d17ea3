//! `http_head`: the incremental head parser and the request/response parsers.
//!
//! Input: `flags [max_head_len:u16 max_headers:u8 if flags&1] cuts head-bytes...`.
//!
//! Oracles:
//! - [`HeadParser::advance`] fed every prefix of the chunk plan answers exactly
//!   what a one-line reference model answers for that prefix (the first
//!   `\r\n\r\n` within `max_head_len`, else `HeadTooLarge` once the buffer
//!   reaches the limit, else "need more"), so chunked and whole feeding agree;
//!   asking again after an answer repeats it; `reset` starts over.
//! - A complete head parses as a request and as a response without panicking;
//!   every slice handed back lies inside the head; header counts, lookups and
//!   token lists agree with iteration; limits are respected.
//! - Re-emitting a parsed head with [`write_head`] and parsing it again gives the
//!   same method, target, status and header fields (decode(encode(x)) == x).
//! - Any input at all (not only a delimited head) parses without panicking.

use sockwire::http::{self, HeadParser, Headers, Limits, Request, Response, write_head};

use crate::reader::{Cuts, R};

/// The specification of `advance` for `received`, written independently.
pub fn reference_advance(received: &[u8], limits: &Limits) -> Result<Option<usize>, http::Error> {
    let window = &received[..received.len().min(limits.max_head_len)];
    if let Some(p) = window.windows(4).position(|w| w == b"\r\n\r\n") {
        return Ok(Some(p + 4));
    }
    if received.len() >= limits.max_head_len {
        Err(http::Error::HeadTooLarge)
    } else {
        Ok(None)
    }
}

/// Feeds `data` to a fresh parser at each prefix in `prefixes` and checks every
/// answer against the reference. Returns the final answer.
pub fn check_head_parser(
    data: &[u8],
    limits: Limits,
    prefixes: &[usize],
) -> Result<Option<usize>, http::Error> {
    let mut p = HeadParser::new(limits);
    let mut last = Ok(None);
    for &end in prefixes {
        let got = p.advance(&data[..end]);
        let want = reference_advance(&data[..end], &limits);
        assert_eq!(got, want, "advance at prefix {end} of {}", data.len());
        if let Ok(Some(n)) = got {
            assert!(n <= end && n <= limits.max_head_len && n >= 4);
            assert_eq!(&data[n - 4..n], b"\r\n\r\n");
        }
        last = got;
        if got != Ok(None) {
            // The answer is final: asking again, even with more bytes, repeats it.
            assert_eq!(p.advance(&data[..end]), got);
            assert_eq!(p.advance(data), got);
            break;
        }
    }
    // Whole feeding gives the answer of the last prefix fed (the whole input, or
    // the first final answer, which a longer input cannot change).
    let mut whole = HeadParser::new(limits);
    let w = whole.advance(data);
    match last {
        Ok(None) => assert_eq!(w, Ok(None)),
        l => assert_eq!(w, l),
    }
    // reset() forgets everything.
    p.reset();
    assert_eq!(p.advance(data), w);
    w
}

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn check_headers(head: &[u8], h: &Headers<'_>, limits: &Limits) {
    assert!(h.len() <= limits.max_headers);
    assert_eq!(h.is_empty(), h.iter().next().is_none());
    let mut n = 0;
    for f in h.iter() {
        n += 1;
        assert!(within(head, f.name.as_bytes()) && within(head, f.value));
        assert!(!f.name.is_empty());
        // The first field of this name (case-insensitively) is what get() finds.
        let first = h
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(f.name))
            .unwrap();
        assert_eq!(h.get(f.name), Some(first.value));
        assert!(h.count(f.name) >= 1);
        for t in http::tokens(f.value) {
            assert!(!t.is_empty() && within(f.value, t));
            if let Ok(t) = core::str::from_utf8(t) {
                assert!(h.has_token(f.name, t));
            }
        }
        // Trimmed: no surrounding whitespace.
        assert!(!f.value.starts_with(b" ") && !f.value.ends_with(b" "));
        assert!(!f.value.starts_with(b"\t") && !f.value.ends_with(b"\t"));
    }
    assert_eq!(n, h.len(), "iteration and count disagree");
}

/// Large limits for re-parsing re-emitted heads.
const BIG: Limits = Limits {
    max_head_len: 1 << 20,
    max_headers: 1 << 16,
};

fn check_request(head: &[u8], req: &Request<'_>, limits: &Limits) {
    assert!(within(head, req.method.as_bytes()) && within(head, req.target.as_bytes()));
    assert!(req.target.starts_with(req.path()));
    if let Some(q) = req.query() {
        assert!(req.target.contains(q));
        let _ = req.query_param("sid");
        let _ = req.query_param("");
    }
    check_headers(head, &req.headers, limits);
    // Re-emit and re-parse: the same request (the writer always says HTTP/1.1).
    let mut out = vec![0u8; head.len() * 2 + 64];
    let n = write_head(&mut out, |w| {
        w.request_line(req.method, req.target);
        for f in req.headers.iter() {
            w.header(f.name, f.value);
        }
        w.raw(b"\r\n");
    })
    .expect("a parsed request can be written back");
    let again = Request::parse(&out[..n], &BIG).expect("a written request parses");
    assert_eq!((again.method, again.target), (req.method, req.target));
    assert_eq!(again.version, http::Version::Http11);
    assert!(again.headers.iter().eq(req.headers.iter()));
}

fn check_response(head: &[u8], res: &Response<'_>, limits: &Limits) {
    assert!((100..=999).contains(&res.status));
    assert!(within(head, res.reason));
    check_headers(head, &res.headers, limits);
    let mut out = vec![0u8; head.len() * 2 + 128];
    let n = write_head(&mut out, |w| {
        w.status_line(res.status);
        for f in res.headers.iter() {
            w.header(f.name, f.value);
        }
        w.raw(b"\r\n");
    })
    .expect("a parsed response can be written back");
    let again = Response::parse(&out[..n], &BIG).expect("a written response parses");
    assert_eq!(again.status, res.status);
    assert_eq!(again.reason, http::reason_phrase(res.status).as_bytes());
    assert!(again.headers.iter().eq(res.headers.iter()));
}

/// Parses `bytes` both ways and checks whatever comes out.
pub fn check_parse(bytes: &[u8], limits: &Limits) {
    match Request::parse(bytes, limits) {
        Ok(req) => {
            assert!(bytes.len() <= limits.max_head_len);
            check_request(bytes, &req, limits);
        }
        Err(e) => assert!(e.status().is_some(), "request error {e:?} has no status"),
    }
    if let Ok(res) = Response::parse(bytes, limits) {
        assert!(bytes.len() <= limits.max_head_len);
        check_response(bytes, &res, limits);
    }
}

/// The `http_head` target.
pub fn http_head(data: &[u8]) {
    let mut r = R::new(data);
    let flags = r.u8();
    let limits = if flags & 1 != 0 {
        Limits {
            max_head_len: usize::from(r.u16()) % 9000,
            max_headers: usize::from(r.u8() % 70),
        }
    } else {
        Limits::DEFAULT
    };
    let cuts = Cuts::read(&mut r);
    let bytes = r.rest();
    let prefixes = cuts.prefixes(bytes.len());
    if let Ok(Some(n)) = check_head_parser(bytes, limits, &prefixes) {
        check_parse(&bytes[..n], &limits);
    }
    // Arbitrary bytes, delimited or not, must not upset the parsers either.
    check_parse(bytes, &limits);
}
