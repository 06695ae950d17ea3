//! `ws_handshake_server` and `ws_handshake_client`: the opening handshake.
//!
//! Server input: `flags [limits if flags&1] cuts accept-choice out-size request-bytes...`.
//! Client input: `mode ...`; mode&1 == 0 feeds arbitrary response bytes, in
//! which the text `@ACCEPT@` is replaced by the right `Sec-WebSocket-Accept`
//! for the client's key (the fuzzer cannot compute SHA-1), so valid responses
//! and their near misses are reachable; mode&1 == 1 builds a `ClientRequest`
//! from fuzz strings and runs the whole handshake through both sides.
//!
//! Oracles:
//! - Chunked feeding (the caller appends each read to one buffer) gives the same
//!   answer as feeding everything at once, and the answer is final.
//! - `head_len` lies within the input and ends the head; every server-side
//!   error has an HTTP status, and its refusal is written and parses back with
//!   that status; an accepted request really is a GET/1.1 with a 16-byte key.
//! - The `101` the server writes parses back, carries the right accept key and
//!   the chosen protocol; a too-small output buffer is left untouched.
//! - Client: whatever `write_request` writes is accepted by `ServerHandshake`
//!   (when the caller's extra headers do not duplicate the handshake's own), and
//!   the server's 101 for it, followed by frame bytes, is accepted by the client
//!   with the same protocol and `head_len` at the end of the 101.

use base64::Engine as _;
use sockwire::entropy::SplitMix64;
use sockwire::http::{self, Limits};
use sockwire::ws::{self, Accept, ClientHandshake, ClientRequest, ServerHandshake, accept_key};

use crate::reader::{Cuts, R};

const OUT_SIZES: [usize; 8] = [0, 1, 16, 64, 97, 129, 160, 1024];

fn same_result<T, U>(a: &Result<Option<T>, ws::Error>, b: &Result<Option<U>, ws::Error>) -> bool {
    match (a, b) {
        (Ok(None), Ok(None)) | (Ok(Some(_)), Ok(Some(_))) => true,
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

/// Checks that a handshake error is answerable: it has a status and its
/// refusal parses back with that status.
fn check_refusal(e: ws::Error) {
    let status = e
        .http_status()
        .unwrap_or_else(|| panic!("server handshake error {e:?} has no HTTP status"));
    let mut out = [0u8; 256];
    let n = e.write_response(&mut out).expect("refusal fits 256 bytes");
    let res = http::Response::parse(&out[..n], &Limits::DEFAULT).expect("refusal parses");
    assert_eq!(res.status, status);
    assert_eq!(res.headers.get("content-length"), Some(&b"0"[..]));
    if status == 426 {
        assert_eq!(res.headers.get("sec-websocket-version"), Some(&b"13"[..]));
    }
}

/// The `ws_handshake_server` target.
pub fn ws_handshake_server(data: &[u8]) {
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
    let choice = r.u8();
    let out_size = OUT_SIZES[usize::from(r.u8() % 8)];
    let bytes = r.rest();

    let whole = ServerHandshake::with_limits(limits).handle_input(bytes);
    let mut hs = ServerHandshake::with_limits(limits);
    let mut last: Result<Option<ws::Request<'_>>, ws::Error> = Ok(None);
    for end in cuts.prefixes(bytes.len()) {
        last = hs.handle_input(&bytes[..end]);
        if !matches!(last, Ok(None)) {
            // Final: asking again with everything gives the same answer.
            let again = hs.handle_input(bytes);
            assert!(same_result(&again, &last), "{again:?} after {last:?}");
            break;
        }
    }
    assert!(
        same_result(&whole, &last),
        "whole {whole:?} vs chunked {last:?}"
    );

    match whole {
        Ok(None) => {}
        Err(e) => check_refusal(e),
        Ok(Some(req)) => {
            let n = req.head_len();
            assert!(n <= bytes.len() && n <= limits.max_head_len);
            assert_eq!(&bytes[n - 4..n], b"\r\n\r\n");
            if let Ok(Some(c)) = &last {
                assert_eq!(c.head_len(), n);
            }
            let h = req.http();
            assert_eq!((h.method, h.version), ("GET", http::Version::Http11));
            let key = req.headers().get("sec-websocket-key").unwrap();
            let mut raw = [0u8; 18];
            assert_eq!(
                base64::engine::general_purpose::STANDARD.decode_slice(key, &mut raw),
                Ok(16)
            );
            let _ = (req.path(), req.query(), req.origin());
            // Accept with no protocol, one offered, or one never offered.
            let offered: Vec<&str> = req.protocols().collect();
            let protocol = match choice % 3 {
                0 => None,
                1 if !offered.is_empty() => Some(offered[usize::from(choice) % offered.len()]),
                _ => Some("not-offered-\u{7f}"),
            };
            let was_offered = protocol.is_none_or(|p| offered.contains(&p));
            let mut out = vec![0xa5u8; out_size];
            match req.accept(&Accept { protocol }, &mut out) {
                Err(ws::Error::InvalidArgument) => assert!(!was_offered),
                Err(ws::Error::BufferTooSmall { required }) => {
                    assert!(required > out_size);
                    assert!(out.iter().all(|&b| b == 0xa5), "BufferTooSmall wrote");
                }
                Err(e) => panic!("accept failed: {e:?}"),
                Ok(w) => {
                    assert!(was_offered && w <= out_size);
                    let res =
                        http::Response::parse(&out[..w], &Limits::DEFAULT).expect("our 101 parses");
                    assert_eq!(res.status, 101);
                    assert!(res.headers.has_token("upgrade", "websocket"));
                    assert!(res.headers.has_token("connection", "upgrade"));
                    assert_eq!(
                        res.headers.get("sec-websocket-accept"),
                        Some(&accept_key(key)[..])
                    );
                    assert_eq!(
                        res.headers.get("sec-websocket-protocol"),
                        protocol.map(str::as_bytes)
                    );
                }
            }
        }
    }
}

/// The placeholder replaced by the right accept key in client-mode input.
pub const ACCEPT_PLACEHOLDER: &[u8] = b"@ACCEPT@";

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn string(r: &mut R<'_>) -> String {
    String::from_utf8_lossy(r.short_bytes()).into_owned()
}

/// The `ws_handshake_client` target.
pub fn ws_handshake_client(data: &[u8]) {
    let mut r = R::new(data);
    let mode = r.u8();
    let seed = r.u64();
    if mode & 1 == 0 {
        client_response(seed, &mut r);
    } else {
        client_round_trip(seed, &mut r);
    }
}

/// Arbitrary response bytes, chunked and whole.
fn client_response(seed: u64, r: &mut R<'_>) {
    let protocols: &[&str] = &["chat", "superchat"];
    let request = ClientRequest {
        protocols,
        ..ClientRequest::new("server.example.com", "/chat")
    };
    let hs0 = ClientHandshake::new(request, &mut SplitMix64::new(seed));
    let cuts = Cuts::read(r);
    let bytes = replace_all(r.rest(), ACCEPT_PLACEHOLDER, &accept_key(hs0.key()));
    let whole = hs0.clone().handle_input(&bytes);
    let mut hs = hs0.clone();
    let mut last: Result<Option<ws::Response<'_>>, ws::Error> = Ok(None);
    for end in cuts.prefixes(bytes.len()) {
        last = hs.handle_input(&bytes[..end]);
        if !matches!(last, Ok(None)) {
            let again = hs.handle_input(&bytes);
            assert!(same_result(&again, &last));
            break;
        }
    }
    assert!(
        same_result(&whole, &last),
        "whole {whole:?} vs chunked {last:?}"
    );
    match whole {
        Ok(Some(res)) => {
            let n = res.head_len();
            assert!(n <= bytes.len());
            assert_eq!(&bytes[n - 4..n], b"\r\n\r\n");
            if let Ok(Some(c)) = &last {
                assert_eq!(c.head_len(), n);
            }
            // Only a protocol that was offered is ever reported.
            if let Some(p) = res.protocol() {
                assert!(protocols.contains(&p), "unoffered protocol {p:?} accepted");
            }
            let h = res.headers();
            assert!(h.has_token("upgrade", "websocket") && h.has_token("connection", "upgrade"));
            assert_eq!(
                h.get("sec-websocket-accept"),
                Some(&accept_key(hs0.key())[..])
            );
        }
        Ok(None) => {}
        Err(e) => {
            assert!(!e.is_local(), "client handshake gave a local error {e:?}");
            assert!(e.close_code().is_none());
        }
    }
}

/// A fuzz-built request, through the server and back.
fn client_round_trip(seed: u64, r: &mut R<'_>) {
    let host = string(r);
    let path = string(r);
    let origin = r.bool().then(|| string(r));
    let np = usize::from(r.u8() % 5);
    let protocols: Vec<String> = (0..np).map(|_| string(r)).collect();
    let nh = usize::from(r.u8() % 8);
    let headers: Vec<(String, String)> = (0..nh).map(|_| (string(r), string(r))).collect();
    let out_size = [0usize, 20, 100, 200, 4096, 16384][usize::from(r.u8() % 6)];
    let choice = r.u8();
    let cuts = Cuts::read(r);
    let trailing = r.rest();

    let protocol_refs: Vec<&str> = protocols.iter().map(String::as_str).collect();
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest {
        host: &host,
        path: &path,
        origin: origin.as_deref(),
        protocols: &protocol_refs,
        headers: &header_refs,
    };
    let mut hs = ClientHandshake::new(request, &mut SplitMix64::new(seed));
    // The key is 24 characters of base64 for 16 bytes.
    let mut raw = [0u8; 18];
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode_slice(hs.key(), &mut raw),
        Ok(16)
    );
    let mut out = vec![0xa5u8; out_size];
    let n = match hs.write_request(&mut out) {
        Ok(n) => n,
        Err(ws::Error::BufferTooSmall { required }) => {
            assert!(required > out_size);
            assert!(out.iter().all(|&b| b == 0xa5), "BufferTooSmall wrote");
            return;
        }
        Err(ws::Error::Http(http::Error::InvalidHeader)) => return, // caller's bad strings
        Err(e) => panic!("write_request: {e:?}"),
    };
    assert!(n <= out_size);
    let written = &out[..n];

    // Extra headers that repeat the handshake's own fields make a request the
    // server must refuse; protocols that are not tokens are split differently.
    let reserved = [
        "host",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
    ];
    let clean = headers
        .iter()
        .all(|(n, _)| !reserved.iter().any(|r| n.eq_ignore_ascii_case(r)))
        && protocols.iter().all(|p| is_token(p))
        && n <= Limits::DEFAULT.max_head_len
        && 5 + usize::from(origin.is_some()) + protocols.len() + headers.len()
            <= Limits::DEFAULT.max_headers;
    let mut server = ServerHandshake::new();
    let req = match server.handle_input(written) {
        Ok(Some(req)) => req,
        Ok(None) => panic!("a written request is always complete"),
        Err(e) => {
            assert!(!clean, "server refused our clean request: {e:?}");
            check_refusal(e);
            return;
        }
    };
    assert_eq!(req.head_len(), n);
    assert_eq!(req.http().target, path);
    assert_eq!(
        req.headers().get("host"),
        Some(host.trim_matches([' ', '\t']).as_bytes())
    );
    if clean {
        let got: Vec<&str> = req.protocols().collect();
        assert_eq!(got, protocol_refs);
    }
    let offered: Vec<&str> = req.protocols().collect();
    let protocol = match (choice % 2, offered.len()) {
        (1, k) if k > 0 => Some(offered[usize::from(choice) % k]),
        _ => None,
    };
    let mut resp = vec![0u8; 1024];
    let m = req
        .accept(&Accept { protocol }, &mut resp)
        .expect("accepting an offered protocol");
    resp.truncate(m);
    resp.extend_from_slice(trailing);
    // Feed the 101 and whatever follows it in chunks.
    let mut last = Ok(None);
    for end in cuts.prefixes(resp.len()) {
        last = hs.handle_input(&resp[..end]);
        if !matches!(last, Ok(None)) {
            break;
        }
    }
    match last {
        Ok(Some(res)) => {
            assert_eq!(res.head_len(), m, "head_len is the end of the 101");
            assert_eq!(res.protocol(), protocol);
        }
        other => {
            // Only a protocol split from a non-token offer can be refused.
            assert!(
                !clean && other == Err(ws::Error::UnofferedProtocol),
                "client refused the server's 101: {other:?}"
            );
        }
    }
}
