//! The hostile-input catalogue: every kind of bad input the HTTP and WebSocket
//! layers can meet, each with the answer the protocols require.
//!
//! Each case states the typed error, and the HTTP status (handshake) or close
//! code (connection) the crate answers with. Where a class of input is small
//! enough it is enumerated in full: every reserved opcode and reserved-bit
//! pattern, every non-minimal length, every close code from 0 to 65535.
//! `tests/ws_connection.rs` has one example per violation; this file is the
//! exhaustive list, and the fuzz targets in `fuzz/` search the space between.
//!
//! Memory: sockwire is `no_std` without `alloc`. No parser or state machine can
//! grow: their whole state is their `size_of`, fixed at compile time, and input
//! is borrowed from the caller's buffer. So "bounded memory under hostile input"
//! holds by construction; what is checked here is that the fixed state is small
//! and that the work done per byte stays constant (no rescanning).

#[path = "common/pair.rs"]
mod pair;

use std::time::Instant as WallClock;

use pair::{Ev, Outcome, cframe, client, conn, feed, frame, server};
use sockwire::entropy::NoEntropy;
use sockwire::http::{self, HeadParser, Limits, Request, Response};
use sockwire::time::Instant;
use sockwire::ws::{
    self, ClientHandshake, ClientRequest, Config, Connection, Error, FrameHeader, OpCode, Role,
    ServerHandshake, State, close_code,
};

const T0: Instant = Instant::from_millis(0);
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

// ------------------------------------------------------------------ helpers

/// Frames a connection transmitted: (opcode, unmasked payload).
fn sent_frames(mut bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    let mut v = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = FrameHeader::decode(bytes)
            .expect("we transmit valid frames")
            .expect("whole frame");
        let len = h.len as usize;
        let mut p = bytes[n..n + len].to_vec();
        if let Some(k) = h.mask {
            ws::apply_mask(&mut p, k, 0);
        }
        v.push((h.opcode, p));
        bytes = &bytes[n + len..];
    }
    v
}

/// The code of the Close frame that ends `transmitted`.
fn close_sent(transmitted: &[u8]) -> Option<u16> {
    let frames = sent_frames(transmitted);
    let (op, p) = frames.last()?;
    assert_eq!(*op, OpCode::Close, "the last frame sent is not a Close");
    (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]))
}

/// A header with a chosen length encoding (`form`: 0 = 7-bit, 2 = 16-bit,
/// 8 = 64-bit), masked with [`KEY`] when `masked`.
fn header(b0: u8, masked: bool, form: usize, len: u64) -> Vec<u8> {
    let m = if masked { 0x80 } else { 0 };
    let mut v = vec![b0];
    match form {
        0 => v.push(m | len as u8),
        2 => {
            v.push(m | 126);
            v.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            v.push(m | 127);
            v.extend_from_slice(&len.to_be_bytes());
        }
    }
    if masked {
        v.extend_from_slice(&KEY);
    }
    v
}

/// A frame as the peer of `role` sends it: masked to a server, not to a client.
fn peer_frame(role: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => cframe(b0, payload),
        Role::Client => frame(b0, None, payload),
    }
}

/// Feeds `bytes` to a fresh connection and checks that it fails with `err`,
/// sends one Close frame with `code`, ends up Closed, and repeats the error
/// on every later call without events. `chunks` are the read sizes tried.
fn expect_failure(role: Role, bytes: &[u8], err: Error, code: u16, chunks: &[usize], what: &str) {
    assert_eq!(
        err.close_code(),
        Some(code),
        "{what}: {err:?} maps to another code"
    );
    for &chunk in chunks {
        let mut c = conn(role, Config::default());
        let out = feed(&mut c, bytes, chunk);
        assert_eq!(out.error, Some(err), "{what} (reads of {chunk})");
        assert_eq!(
            close_sent(&out.transmitted),
            Some(code),
            "{what}: close code"
        );
        assert_eq!(c.state(), State::Closed, "{what}");
        assert_eq!(c.error(), Some(err), "{what}");
        // Later input changes nothing: same error, no event, nothing to send.
        let mut more = peer_frame(role, 0x81, b"more");
        assert_eq!(c.handle_input(T0, &mut more), Err(err), "{what}");
        assert_eq!(c.poll_transmit(&mut [0u8; 64]), Ok(0), "{what}");
        assert_eq!(c.handle_eof(T0), Err(err), "{what}");
    }
}

/// The close codes RFC 6455 section 7.4 and the IANA registry allow in a Close
/// frame, written out independently of `close_code::is_valid`: 1000-1003,
/// 1007-1011 (RFC 6455), 1012-1014 (IANA), 3000-4999 (registered and private).
fn spec_allows(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 1012..=1014 | 3000..=4999)
}

/// `scanned: N` from a `HeadParser`'s Debug output (the state is private; its
/// Debug form is the only window on how far it has looked).
fn scanned(debug: &str) -> usize {
    let at = debug
        .find("scanned: ")
        .expect("HeadParser Debug shows scanned")
        + 9;
    debug[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A valid upgrade request padded with `X-Pad` fields to exactly `len` bytes.
fn padded_request(len: usize) -> Vec<u8> {
    let mut head = REQUEST.trim_end_matches("\r\n").to_string() + "\r\n";
    // Fill with 300-byte fields (few enough for the 64-field limit), then one
    // field of the right size.
    while len - head.len() - 2 > 400 {
        head += &format!("X-Pad: {}\r\n", "p".repeat(300 - 9));
    }
    let last = len - head.len() - 2 - "X-Pad: \r\n".len();
    head += &format!("X-Pad: {}\r\n\r\n", "p".repeat(last));
    assert_eq!(head.len(), len);
    head.into_bytes()
}

fn server_handshake(bytes: &[u8]) -> Result<(), Error> {
    ServerHandshake::new().handle_input(bytes).map(|r| {
        assert!(
            r.is_some(),
            "incomplete: {:?}",
            String::from_utf8_lossy(bytes)
        );
    })
}

/// Checks the refusal a handshake error is answered with.
fn refusal_status(e: Error) -> u16 {
    let status = e.http_status().expect("a handshake error has a status");
    let mut out = [0u8; 256];
    let n = e.write_response(&mut out).unwrap();
    let res = Response::parse(&out[..n], &Limits::DEFAULT).unwrap();
    assert_eq!(res.status, status);
    assert!(res.headers.has_token("connection", "close"));
    status
}

// ------------------------------------------------------------ HTTP: size

#[test]
fn oversized_head_is_refused_with_431_at_exactly_the_limit() {
    // A head that fills the 8 KiB limit exactly is fine; one byte more is 431.
    let fits = padded_request(8192);
    assert_eq!(server_handshake(&fits), Ok(()));
    let over = padded_request(8193);
    let mut hs = ServerHandshake::new();
    assert_eq!(hs.handle_input(&over[..8191]), Ok(None));
    let e = hs.handle_input(&over[..8192]).unwrap_err();
    assert_eq!(e, Error::Http(http::Error::HeadTooLarge));
    assert_eq!(refusal_status(e), 431);
    // Custom limits apply the same way.
    let limits = Limits {
        max_head_len: 512,
        max_headers: 64,
    };
    assert_eq!(
        ServerHandshake::with_limits(limits).handle_input(&padded_request(513)),
        Err(Error::Http(http::Error::HeadTooLarge))
    );
    assert!(
        ServerHandshake::with_limits(limits)
            .handle_input(&padded_request(512))
            .unwrap()
            .is_some()
    );
}

#[test]
fn endless_head_stops_at_the_limit_and_the_parser_state_does_not_grow() {
    // A peer that never sends the empty line: 1 MiB of header-ish bytes.
    let endless: Vec<u8> = b"GET / HTTP/1.1\r\n"
        .iter()
        .copied()
        .chain((0..).map(|i| if i % 80 == 79 { b'\n' } else { b'a' }))
        .take(1 << 20)
        .collect();
    let mut p = HeadParser::new(Limits::DEFAULT);
    for end in [100, 4096, 8191] {
        assert_eq!(p.advance(&endless[..end]), Ok(None));
    }
    assert_eq!(p.advance(&endless[..8192]), Err(http::Error::HeadTooLarge));
    // More bytes change nothing and are not even looked at.
    assert_eq!(p.advance(&endless), Err(http::Error::HeadTooLarge));
    assert_eq!(scanned(&format!("{p:?}")), 8192);
    // The whole state, fixed at compile time: limits, a position, a match count.
    assert!(size_of::<HeadParser>() <= 4 * size_of::<usize>());
    assert_eq!(size_of::<ServerHandshake>(), size_of::<HeadParser>());
    // Bare LF line ends are not line ends: such a head never ends, and is
    // refused when it reaches the limit (before that, the caller's read
    // timeout is what ends a peer that sends nothing more).
    let bare_lf = b"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\n\n";
    let mut p = HeadParser::new(Limits::DEFAULT);
    assert_eq!(p.advance(bare_lf), Ok(None));
}

#[test]
fn too_many_header_fields_is_431() {
    // The upgrade request has 5 fields; pad it to 64 (the default limit) and 65.
    let with_fields = |n: usize| {
        let pad: String = (0..n - 5).map(|i| format!("X-{i}: v\r\n")).collect();
        REQUEST.replacen("Host:", &(pad + "Host:"), 1)
    };
    assert_eq!(server_handshake(with_fields(64).as_bytes()), Ok(()));
    let e = server_handshake(with_fields(65).as_bytes()).unwrap_err();
    assert_eq!(e, Error::Http(http::Error::TooManyHeaders));
    assert_eq!(refusal_status(e), 431);
    // Thousands of empty-valued fields within 8 KiB: refused, not counted past 65.
    let many = REQUEST.replacen("Host:", &("A:\r\n".repeat(2000) + "Host:"), 1);
    assert_eq!(
        server_handshake(many.as_bytes()),
        Err(Error::Http(http::Error::TooManyHeaders))
    );
}

// --------------------------------------------------------- HTTP: slowloris

#[test]
fn slowloris_one_byte_at_a_time_costs_one_scan_per_byte() {
    // An 8 KiB request arriving one byte per read. The caller appends each byte
    // to its buffer and hands the whole buffer over every time; the parser
    // remembers how far it looked, so each call scans exactly the one new byte:
    // 8192 calls, 8192 byte scans in all (a parser that rescanned from the
    // start would do 8192 * 8193 / 2 = 33.5 million).
    let req = padded_request(8192);
    let mut hs = ServerHandshake::new();
    let started = WallClock::now();
    for end in 1..req.len() {
        assert_eq!(hs.handle_input(&req[..end]), Ok(None));
        assert_eq!(scanned(&format!("{hs:?}")), end, "call {end} rescanned");
    }
    assert!(hs.handle_input(&req).unwrap().is_some());
    // Generous: the whole trickle takes a few milliseconds.
    let took = started.elapsed();
    assert!(took.as_secs() < 2, "8 KiB one byte at a time took {took:?}");

    // A slowloris that never finishes gets its 431 at byte 8192, the same
    // answer as when the bytes come in one read.
    let endless = vec![b'x'; 9000];
    let mut hs = ServerHandshake::new();
    for end in 1..8192 {
        assert_eq!(hs.handle_input(&endless[..end]), Ok(None));
    }
    assert_eq!(
        hs.handle_input(&endless[..8192]),
        Err(Error::Http(http::Error::HeadTooLarge))
    );

    // Same for the client reading a response.
    let mut rng = sockwire::entropy::SplitMix64::new(1);
    let mut ch = ClientHandshake::new(ClientRequest::new("h", "/"), &mut rng);
    let mut resp = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    resp.resize(8192, b'x');
    for end in 1..8192 {
        assert_eq!(ch.handle_input(&resp[..end]), Ok(None));
    }
    assert_eq!(
        ch.handle_input(&resp),
        Err(Error::Http(http::Error::HeadTooLarge))
    );
}

// ------------------------------------------------------- HTTP: malformed

#[test]
fn malformed_heads_get_400_or_505() {
    use http::Error::*;
    let cases: &[(&str, &[u8], http::Error, u16)] = &[
        ("empty request line", b"\r\n\r\n", InvalidRequestLine, 400),
        (
            "two spaces",
            b"GET  / HTTP/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        ("no version", b"GET /\r\n\r\n", InvalidRequestLine, 400),
        (
            "extra part",
            b"GET / HTTP/1.1 x\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "lowercase version",
            b"GET / http/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "tab separator",
            b"GET\t/ HTTP/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "control in target",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "non-ASCII target",
            b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "method not a token",
            b"G@T / HTTP/1.1\r\n\r\n",
            InvalidRequestLine,
            400,
        ),
        (
            "HTTP/2.0",
            b"GET / HTTP/2.0\r\n\r\n",
            UnsupportedVersion,
            505,
        ),
        (
            "HTTP/0.9",
            b"GET / HTTP/0.9\r\n\r\n",
            UnsupportedVersion,
            505,
        ),
        (
            "HTTP/1.10",
            b"GET / HTTP/1.10\r\n\r\n",
            UnsupportedVersion,
            505,
        ),
        (
            "space before colon",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "empty name",
            b"GET / HTTP/1.1\r\n: x\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "no colon",
            b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "NUL in value",
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "DEL in value",
            b"GET / HTTP/1.1\r\nA: b\x7fc\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "bare CR in value",
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "bare LF in value",
            b"GET / HTTP/1.1\r\nA: b\nc\r\n\r\n",
            InvalidHeader,
            400,
        ),
        (
            "non-ASCII name",
            b"GET / HTTP/1.1\r\nH\xc3\xa9: x\r\n\r\n",
            InvalidHeader,
            400,
        ),
    ];
    for (what, head, err, status) in cases {
        let mut p = HeadParser::new(Limits::DEFAULT);
        let n = p
            .advance(head)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: incomplete"));
        assert_eq!(
            Request::parse(&head[..n], &Limits::DEFAULT),
            Err(*err),
            "{what}"
        );
        assert_eq!(err.status(), Some(*status), "{what}");
        // Through the WebSocket handshake: the same error, the same status.
        let e = ServerHandshake::new().handle_input(head).unwrap_err();
        assert_eq!(e, Error::Http(*err), "{what}");
        assert_eq!(refusal_status(e), *status, "{what}");
    }
}

#[test]
fn malformed_status_lines_are_refused_by_the_client() {
    for line in [
        &b"HTTP/1.1 1011 Whatever\r\n\r\n"[..],
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1 10x Bad\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 101 Bad\x01Reason\r\n\r\n",
    ] {
        assert_eq!(
            Response::parse(line, &Limits::DEFAULT),
            Err(http::Error::InvalidStatusLine),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(
        Response::parse(b"HTTP/3 101 X\r\n\r\n", &Limits::DEFAULT),
        Err(http::Error::UnsupportedVersion)
    );
}

// ------------------------------------------------------ WebSocket handshake

#[test]
fn missing_or_malformed_sec_websocket_key_is_400() {
    let good = "dGhlIHNhbXBsZSBub25jZQ==";
    let with_key =
        |field: &str| REQUEST.replacen(&format!("Sec-WebSocket-Key: {good}\r\n"), field, 1);
    let cases: &[(&str, String)] = &[
        ("missing", with_key("")),
        ("empty", with_key("Sec-WebSocket-Key: \r\n")),
        (
            "23 characters",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"),
        ),
        (
            "25 characters",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n"),
        ),
        (
            "no padding",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n"),
        ),
        // 24 characters that decode to 17 bytes, and to 15.
        (
            "17 bytes",
            with_key("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n"),
        ),
        (
            "20 characters for 15 bytes",
            with_key("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n"),
        ),
        (
            "not base64",
            with_key("Sec-WebSocket-Key: not base64 at all!!!!!==\r\n"),
        ),
        (
            "URL-safe alphabet",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-_=\r\n"),
        ),
        // The last character carries bits a canonical encoder leaves zero.
        (
            "non-canonical padding bits",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"),
        ),
        (
            "space inside",
            with_key("Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ==\r\n"),
        ),
        (
            "two fields",
            with_key(&format!(
                "Sec-WebSocket-Key: {good}\r\nSec-WebSocket-Key: {good}\r\n"
            )),
        ),
        (
            "two keys in one field",
            with_key(&format!("Sec-WebSocket-Key: {good}, {good}\r\n")),
        ),
    ];
    for (what, req) in cases {
        let e = server_handshake(req.as_bytes()).unwrap_err();
        assert_eq!(e, Error::InvalidKey, "{what}");
        assert_eq!(refusal_status(e), 400, "{what}");
    }
    // Whitespace around the value is not part of it (RFC 9110 field values).
    let padded = with_key(&format!("Sec-WebSocket-Key: \t {good} \t\r\n"));
    assert_eq!(server_handshake(padded.as_bytes()), Ok(()));
    // The field name is case-insensitive.
    let lower = with_key(&format!("sec-websocket-key: {good}\r\n"));
    assert_eq!(server_handshake(lower.as_bytes()), Ok(()));
}

#[test]
fn every_other_handshake_fault_has_its_status() {
    let cases: &[(&str, &str, &str, Error, u16)] = &[
        ("HEAD", "GET /chat", "HEAD /chat", Error::BadMethod, 400),
        (
            "get lowercase",
            "GET /chat",
            "get /chat",
            Error::BadMethod,
            400,
        ),
        (
            "HTTP/1.0",
            "HTTP/1.1\r\nHost",
            "HTTP/1.0\r\nHost",
            Error::BadHttpVersion,
            400,
        ),
        (
            "no Host",
            "Host: server.example.com\r\n",
            "",
            Error::MissingHost,
            400,
        ),
        (
            "two Hosts",
            "Host: server.example.com\r\n",
            "Host: a\r\nHost: b\r\n",
            Error::MissingHost,
            400,
        ),
        (
            "no Upgrade",
            "Upgrade: websocket\r\n",
            "",
            Error::NotUpgrade,
            400,
        ),
        (
            "Upgrade: h2c",
            "Upgrade: websocket",
            "Upgrade: h2c",
            Error::NotUpgrade,
            400,
        ),
        (
            "no Connection",
            "Connection: Upgrade\r\n",
            "",
            Error::MissingConnectionUpgrade,
            400,
        ),
        (
            "Connection: close",
            "Connection: Upgrade",
            "Connection: close",
            Error::MissingConnectionUpgrade,
            400,
        ),
        (
            "no version",
            "Sec-WebSocket-Version: 13\r\n",
            "",
            Error::UnsupportedVersion,
            426,
        ),
        (
            "version 8",
            "Version: 13",
            "Version: 8",
            Error::UnsupportedVersion,
            426,
        ),
        (
            "version 13, 8",
            "Version: 13",
            "Version: 13, 8",
            Error::UnsupportedVersion,
            426,
        ),
        (
            "two versions",
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
            Error::UnsupportedVersion,
            426,
        ),
    ];
    for (what, from, to, err, status) in cases {
        assert!(REQUEST.contains(from), "{what}");
        let e = server_handshake(REQUEST.replacen(from, to, 1).as_bytes()).unwrap_err();
        assert_eq!(e, *err, "{what}");
        assert_eq!(refusal_status(e), *status, "{what}");
    }
    // 426 tells the client which version to use.
    let mut out = [0u8; 256];
    let n = Error::UnsupportedVersion.write_response(&mut out).unwrap();
    let res = Response::parse(&out[..n], &Limits::DEFAULT).unwrap();
    assert_eq!(res.headers.get("sec-websocket-version"), Some(&b"13"[..]));
    // Errors that are not the peer's handshake fault have no refusal.
    assert_eq!(
        Error::ReservedBits.write_response(&mut out),
        Err(Error::InvalidState)
    );
}

// ------------------------------------------------------ WebSocket framing

#[test]
fn payload_length_with_the_top_bit_set_is_refused() {
    // 2^63 and above cannot be sent (RFC 6455 5.2: the most significant bit
    // MUST be 0). Refused from the header alone, whatever the size limits.
    for len in [1u64 << 63, (1 << 63) + 1, (1 << 63) | 0xffff, u64::MAX] {
        for role in [Role::Server, Role::Client] {
            let bytes = header(0x82, role == Role::Server, 8, len);
            expect_failure(
                role,
                &bytes,
                Error::InvalidLength,
                1002,
                &[bytes.len(), 1],
                "2^63",
            );
        }
    }
    // 2^63 - 1 is a valid encoding: with the default limits it is too large
    // (1009), with no limits the header is accepted and the payload awaited.
    let max = header(0x82, true, 8, (1 << 63) - 1);
    expect_failure(
        Role::Server,
        &max,
        Error::FrameTooLarge,
        1009,
        &[max.len(), 1],
        "2^63-1",
    );
    let unlimited = Config {
        max_frame_size: u64::MAX,
        max_message_size: u64::MAX,
        ..Config::default()
    };
    let mut c = conn(Role::Server, unlimited);
    let out = feed(&mut c, &max, 3);
    assert_eq!((out.error, c.state()), (None, State::Open));
}

#[test]
fn every_non_minimal_length_is_refused() {
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        // The 16-bit form for 0..=125 and the 64-bit form for 0..=65535 (all of
        // them): the shortest form is required (RFC 6455 5.2).
        for len in 0..126u64 {
            let bytes = header(0x82, masked, 2, len);
            expect_failure(role, &bytes, Error::NonMinimalLength, 1002, &[64], "16-bit");
        }
        for len in 0..=0xffffu64 {
            let bytes = header(0x82, masked, 8, len);
            let mut c = conn(role, Config::default());
            let out = feed(&mut c, &bytes, 64);
            assert_eq!(out.error, Some(Error::NonMinimalLength), "64-bit {len}");
            assert_eq!(close_sent(&out.transmitted), Some(1002));
        }
        // Read one byte at a time, a sample of each.
        for (form, len) in [(2, 0), (2, 125), (8, 0), (8, 125), (8, 126), (8, 0xffff)] {
            let bytes = header(0x82, masked, form, len);
            expect_failure(
                role,
                &bytes,
                Error::NonMinimalLength,
                1002,
                &[1],
                "bytewise",
            );
        }
        // The shortest forms themselves are fine.
        for (form, len) in [(0, 125), (2, 126), (2, 0xffff), (8, 0x10000)] {
            let mut c = conn(role, Config::default());
            let out = feed(&mut c, &header(0x82, masked, form, len), 1);
            assert_eq!(out.error, None, "form {form} len {len}");
        }
    }
}

#[test]
fn every_reserved_opcode_is_refused() {
    for role in [Role::Server, Role::Client] {
        for op in (0x3..=0x7).chain(0xb..=0xf) {
            for fin in [0x80, 0x00] {
                let bytes = peer_frame(role, fin | op, b"x");
                expect_failure(
                    role,
                    &bytes,
                    Error::ReservedOpcode,
                    1002,
                    &[64, 1],
                    "opcode",
                );
                // Also in the middle of a fragmented message.
                let mid = [peer_frame(role, 0x01, b"a"), bytes].concat();
                expect_failure(
                    role,
                    &mid,
                    Error::ReservedOpcode,
                    1002,
                    &[64],
                    "mid-message",
                );
            }
        }
    }
}

#[test]
fn every_reserved_bit_pattern_is_refused_on_every_opcode() {
    // No extension is negotiated, so RSV1-3 must all be 0 (RFC 6455 5.2).
    for role in [Role::Server, Role::Client] {
        for op in [0x1, 0x2, 0x8, 0x9, 0xa] {
            for rsv in 1..8u8 {
                let payload: &[u8] = if op == 0x8 { b"\x03\xe8" } else { b"x" };
                let bytes = peer_frame(role, 0x80 | (rsv << 4) | op, payload);
                expect_failure(role, &bytes, Error::ReservedBits, 1002, &[64, 1], "rsv");
            }
        }
        // On a continuation frame too.
        let cont = [peer_frame(role, 0x01, b"a"), peer_frame(role, 0xc0, b"b")].concat();
        expect_failure(
            role,
            &cont,
            Error::ReservedBits,
            1002,
            &[64, 1],
            "rsv continuation",
        );
    }
}

#[test]
fn fragmented_or_oversized_control_frames_are_refused() {
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        for op in [0x8u8, 0x9, 0xa] {
            // Not final (RFC 6455 5.5: control frames MUST NOT be fragmented).
            let payload: &[u8] = if op == 0x8 { b"\x03\xe8" } else { b"" };
            let bytes = peer_frame(role, op, payload);
            expect_failure(
                role,
                &bytes,
                Error::InvalidControlFrame,
                1002,
                &[64, 1],
                "fin=0",
            );
            // 126 and more bytes, in both long length forms, refused from the
            // first two bytes before any payload arrives.
            for (form, len) in [(2, 126u64), (2, 0xffff), (8, 0x10000), (8, 1 << 40)] {
                let bytes = header(0x80 | op, masked, form, len);
                expect_failure(
                    role,
                    &bytes,
                    Error::InvalidControlFrame,
                    1002,
                    &[64, 1],
                    "long",
                );
                expect_failure(
                    role,
                    &bytes[..2],
                    Error::InvalidControlFrame,
                    1002,
                    &[2],
                    "prefix",
                );
            }
            // Between the fragments of a message.
            let mid = [peer_frame(role, 0x01, b"a"), peer_frame(role, op, payload)].concat();
            expect_failure(
                role,
                &mid,
                Error::InvalidControlFrame,
                1002,
                &[64],
                "mid-message",
            );
        }
        // 125 bytes is the largest allowed: the ping is answered in full.
        let mut c = conn(role, Config::default());
        let out = feed(&mut c, &peer_frame(role, 0x89, &[7; 125]), 1);
        assert_eq!(out.error, None);
        assert_eq!(
            sent_frames(&out.transmitted),
            [(OpCode::Pong, vec![7; 125])]
        );
    }
}

#[test]
fn every_invalid_close_code_is_refused_all_65536_checked() {
    // Every u16, in both roles: invalid codes (0-999, 1004, 1005, 1006, 1015,
    // 1016-2999, 5000-65535) fail with 1002; valid ones are echoed.
    let mut invalid = 0;
    for code in 0..=u16::MAX {
        assert_eq!(
            close_code::is_valid(code),
            spec_allows(code),
            "is_valid({code})"
        );
        for role in [Role::Server, Role::Client] {
            let mut c = conn(role, Config::default());
            let out = feed(&mut c, &peer_frame(role, 0x88, &code.to_be_bytes()), 64);
            if spec_allows(code) {
                assert_eq!(out.error, None, "code {code}");
                assert_eq!(out.events, [Ev::Close(Some(code), String::new())]);
                assert_eq!(close_sent(&out.transmitted), Some(code), "echo of {code}");
            } else {
                assert_eq!(
                    out.error,
                    Some(Error::InvalidCloseCode(code)),
                    "code {code}"
                );
                assert_eq!(close_sent(&out.transmitted), Some(1002), "code {code}");
                assert_eq!(c.state(), State::Closed);
            }
        }
        invalid += usize::from(!spec_allows(code));
    }
    // 0-999, 1004-1006 and 1015, 1016-2999, 5000-65535.
    assert_eq!(invalid, 1000 + 4 + (2999 - 1016 + 1) + (65535 - 5000 + 1));
    // With a reason, and read one byte at a time: the same answers.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let bytes = cframe(0x88, &[&code.to_be_bytes()[..], b"reason"].concat());
        expect_failure(
            Role::Server,
            &bytes,
            Error::InvalidCloseCode(code),
            1002,
            &[1],
            "code",
        );
    }
    // A one-byte close payload has half a code.
    for b in [0x00, 0x03, 0xff] {
        let bytes = cframe(0x88, &[b]);
        expect_failure(
            Role::Server,
            &bytes,
            Error::InvalidClosePayload,
            1002,
            &[64, 1],
            "1 byte",
        );
    }
    // Our own close() only sends valid codes.
    let mut s = server();
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            s.close(T0, code, "", &mut [0; 64]),
            Err(Error::InvalidArgument)
        );
    }
}

/// Invalid UTF-8 sequences (each preceded by valid text), and where the first
/// byte that makes them invalid sits.
const BAD_UTF8: &[(&str, &[u8])] = &[
    ("lone continuation", b"a\x80"),
    ("0xfe", b"a\xfe"),
    ("0xff", b"a\xff"),
    ("0xc0 overlong lead", b"a\xc0\x80"),
    ("0xc1 overlong lead", b"a\xc1\xbf"),
    ("overlong 3-byte", b"a\xe0\x9f\xbf"),
    ("overlong 4-byte", b"a\xf0\x8f\xbf\xbf"),
    ("surrogate U+D800", b"a\xed\xa0\x80"),
    ("surrogate U+DFFF", b"a\xed\xbf\xbf"),
    ("above U+10FFFF", b"a\xf4\x90\x80\x80"),
    ("0xf5 lead", b"a\xf5\x80\x80\x80"),
    ("missing continuation", b"a\xe2\x82b"),
    ("truncated at the end", b"a\xe2\x82"),
    ("4-byte truncated", b"a\xf0\x9f\x98"),
    ("5-byte form", b"a\xf8\x88\x80\x80\x80"),
];

#[test]
fn invalid_utf8_in_text_is_1007_wherever_it_falls() {
    for role in [Role::Server, Role::Client] {
        for (what, bad) in BAD_UTF8 {
            // In one frame, read whole and byte by byte.
            let one = peer_frame(role, 0x81, bad);
            expect_failure(role, &one, Error::InvalidUtf8, 1007, &[64, 1], what);
            // Split across two fragments after every byte.
            for cut in 1..bad.len() {
                let two = [
                    peer_frame(role, 0x01, &bad[..cut]),
                    peer_frame(role, 0x80, &bad[cut..]),
                ]
                .concat();
                expect_failure(role, &two, Error::InvalidUtf8, 1007, &[64], what);
            }
            // Ending a fragmented message with an empty final frame.
            let empty_fin = [peer_frame(role, 0x01, bad), peer_frame(role, 0x80, b"")].concat();
            expect_failure(role, &empty_fin, Error::InvalidUtf8, 1007, &[64], what);
        }
        // Binary messages are not checked.
        let mut c = conn(role, Config::default());
        let out = feed(&mut c, &peer_frame(role, 0x82, b"\xff\xfe"), 64);
        assert_eq!(out.error, None);
    }
    // The error comes at the bad byte, before the rest of a long frame arrives.
    let long = cframe(0x81, &[b"ok\xff".as_slice(), &[b'a'; 10_000]].concat());
    let mut c = server();
    let out = feed(&mut c, &long[..12], 64);
    assert_eq!(out.error, Some(Error::InvalidUtf8));
    // The edges of the valid range pass.
    for ok in [
        "\u{7f}",
        "\u{80}",
        "\u{7ff}",
        "\u{800}",
        "\u{d7ff}",
        "\u{e000}",
        "\u{ffff}",
        "\u{10000}",
        "\u{10ffff}",
    ] {
        let mut c = server();
        let out = feed(&mut c, &cframe(0x81, ok.as_bytes()), 1);
        assert_eq!(out.error, None, "{ok:?}");
    }
}

#[test]
fn invalid_utf8_in_a_close_reason_is_1007() {
    for role in [Role::Server, Role::Client] {
        for (what, bad) in BAD_UTF8 {
            let payload = [&1000u16.to_be_bytes()[..], bad].concat();
            let bytes = peer_frame(role, 0x88, &payload);
            expect_failure(role, &bytes, Error::InvalidUtf8, 1007, &[64, 1], what);
        }
        // The longest reason (123 bytes) that is valid UTF-8 is accepted.
        let reason = "é".repeat(61) + "x";
        let payload = [&1000u16.to_be_bytes()[..], reason.as_bytes()].concat();
        let mut c = conn(role, Config::default());
        let out = feed(&mut c, &peer_frame(role, 0x88, &payload), 1);
        assert_eq!(out.events, [Ev::Close(Some(1000), reason.clone())]);
    }
}

#[test]
fn unmasked_frames_to_a_server_and_masked_frames_to_a_client_are_refused() {
    // RFC 6455 5.1: a server MUST close on an unmasked frame, a client on a
    // masked one. Every opcode, including control frames and continuations.
    for op in [0x81u8, 0x82, 0x88, 0x89, 0x8a] {
        let payload: &[u8] = if op == 0x88 { b"\x03\xe8" } else { b"x" };
        let unmasked = frame(op, None, payload);
        expect_failure(
            Role::Server,
            &unmasked,
            Error::UnmaskedFrame,
            1002,
            &[64, 1],
            "server",
        );
        let masked = frame(op, Some(KEY), payload);
        expect_failure(
            Role::Client,
            &masked,
            Error::MaskedFrame,
            1002,
            &[64, 1],
            "client",
        );
        // Even an all-zero key is a mask.
        let zero = frame(op, Some([0; 4]), payload);
        expect_failure(
            Role::Client,
            &zero,
            Error::MaskedFrame,
            1002,
            &[64],
            "zero key",
        );
    }
    let cont = [cframe(0x01, b"a"), frame(0x80, None, b"b")].concat();
    expect_failure(
        Role::Server,
        &cont,
        Error::UnmaskedFrame,
        1002,
        &[64, 1],
        "continuation",
    );
}

#[test]
fn continuation_sequencing_errors_in_every_combination() {
    for role in [Role::Server, Role::Client] {
        let f = |b0, p: &[u8]| peer_frame(role, b0, p);
        let cases: Vec<(&str, Vec<u8>, Error)> = vec![
            (
                "final continuation first",
                f(0x80, b"x"),
                Error::UnexpectedContinuation,
            ),
            (
                "empty continuation first",
                f(0x00, b""),
                Error::UnexpectedContinuation,
            ),
            (
                "continuation after a whole message",
                [f(0x81, b"a"), f(0x80, b"b")].concat(),
                Error::UnexpectedContinuation,
            ),
            (
                "continuation after a finished fragmented message",
                [f(0x02, b"a"), f(0x80, b"b"), f(0x80, b"c")].concat(),
                Error::UnexpectedContinuation,
            ),
            (
                "binary inside text",
                [f(0x01, b"a"), f(0x82, b"b")].concat(),
                Error::ExpectedContinuation,
            ),
            (
                "text inside binary",
                [f(0x02, b"a"), f(0x01, b"b")].concat(),
                Error::ExpectedContinuation,
            ),
            (
                "new message after control frame",
                [f(0x01, b"a"), f(0x89, b""), f(0x81, b"b")].concat(),
                Error::ExpectedContinuation,
            ),
        ];
        for (what, bytes, err) in cases {
            expect_failure(role, &bytes, err, 1002, &[64, 1], what);
        }
    }
}

#[test]
fn size_limits_answer_1009_from_the_header() {
    let config = Config {
        max_frame_size: 100,
        max_message_size: 250,
        ..Config::default()
    };
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        for (what, bytes, err) in [
            (
                "frame 101",
                header(0x82, masked, 0, 101),
                Error::FrameTooLarge,
            ),
            (
                "frame 2^40",
                header(0x82, masked, 8, 1 << 40),
                Error::FrameTooLarge,
            ),
            (
                "message 251 in three frames",
                [
                    peer_frame(role, 0x02, &[0; 100]),
                    peer_frame(role, 0x00, &[0; 100]),
                    header(0x80, masked, 0, 51),
                ]
                .concat(),
                Error::MessageTooLarge,
            ),
        ] {
            for chunk in [64, 1] {
                let mut c = conn(role, config);
                let out = feed(&mut c, &bytes, chunk);
                assert_eq!(out.error, Some(err), "{what}");
                assert_eq!(close_sent(&out.transmitted), Some(1009), "{what}");
            }
        }
    }
}

#[test]
fn after_a_failure_nothing_more_comes_out() {
    // A stream of pings after a protocol error: no events, no pongs, the same
    // error every time, and the one Close frame already drained.
    let mut c = server();
    let mut bad = cframe(0xc1, b"x");
    assert_eq!(
        c.handle_input(T0, &mut bad).map(|_| ()),
        Err(Error::ReservedBits)
    );
    let mut tx = [0u8; 64];
    let n = c.poll_transmit(&mut tx).unwrap();
    assert_eq!(
        sent_frames(&tx[..n]),
        [(OpCode::Close, 1002u16.to_be_bytes().to_vec())]
    );
    for _ in 0..1000 {
        let mut ping = cframe(0x89, b"p");
        assert_eq!(c.handle_input(T0, &mut ping), Err(Error::ReservedBits));
        assert_eq!(c.poll_transmit(&mut tx), Ok(0));
    }
    assert_eq!(c.send_text("x", &mut tx), Err(Error::InvalidState));
    assert_eq!(c.ping(b"", &mut tx), Err(Error::InvalidState));
    assert_eq!(c.close(T0, 1000, "", &mut tx), Err(Error::InvalidState));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn memory_is_fixed_at_compile_time() {
    // No allocation anywhere (no_std, no alloc): a connection is its size_of,
    // however long or hostile the session. These bounds are generous; the
    // exact figures are reported by tests/footprint.
    assert!(
        size_of::<Connection<NoEntropy>>() <= 512,
        "{}",
        size_of::<Connection<NoEntropy>>()
    );
    assert!(size_of::<ServerHandshake>() <= 64);
    assert!(size_of::<HeadParser>() <= 64);
    // A hostile session: a megabyte of back-to-back pings, answered one by one.
    let mut c = server();
    let ping = cframe(0x89, &[0xab; 125]);
    let stream: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 8000)
        .collect();
    let out: Outcome = feed(&mut c, &stream, 4096);
    assert_eq!(out.error, None);
    assert_eq!(out.events.len(), 8000);
    assert_eq!(sent_frames(&out.transmitted).len(), 8000);
    // The same connection, the same size: nothing it holds grew.
    assert!(size_of_val(&c) <= 512);
}

// ------------------------------------------ regressions: defects found while fuzzing

#[test]
fn error_variant_does_not_depend_on_read_boundaries() {
    // Headers with two faults: one the first two bytes show (role, reserved
    // bits, sequencing) and one in the extended length. Before 88d796c, a
    // header read whole reported the length fault and one read byte by byte
    // the other (both 1002, but different errors).
    let cases: &[(Role, Vec<u8>, Error)] = &[
        (
            Role::Server,
            header(0x81, false, 2, 5),
            Error::UnmaskedFrame,
        ),
        (Role::Server, header(0xc1, true, 2, 5), Error::ReservedBits),
        (
            Role::Server,
            header(0x80, true, 8, 1 << 63),
            Error::UnexpectedContinuation,
        ),
        (Role::Client, header(0x82, true, 8, 5), Error::MaskedFrame),
        (
            Role::Client,
            [
                peer_frame(Role::Client, 0x01, b"a"),
                header(0x82, false, 2, 0),
            ]
            .concat(),
            Error::ExpectedContinuation,
        ),
    ];
    for (role, bytes, err) in cases {
        let bytes = [bytes.clone(), b"hello".to_vec()].concat();
        expect_failure(*role, &bytes, *err, 1002, &[64, 1, 3], "two faults");
    }
}

#[test]
fn buffer_too_small_leaves_the_connection_unchanged() {
    // Error docs: a local error means "nothing was sent and the connection is
    // unchanged". Before 88d796c a client's send_* drew its masking key before
    // the size check, so a refused send changed the key of the next frame.
    let (mut a, mut b) = (client(7), client(7));
    assert_eq!(
        a.send_text("hi", &mut [0u8; 3]),
        Err(Error::BufferTooSmall { required: 8 })
    );
    let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
    let n = a.send_text("hi", &mut x).unwrap();
    let m = b.send_text("hi", &mut y).unwrap();
    assert_eq!(
        x[..n],
        y[..m],
        "the refused send changed the next masking key"
    );
}

#[test]
fn a_read_ending_inside_the_masking_key_of_an_empty_frame_does_not_panic() {
    // Before 59f07c4 the whole-message fast path accepted an empty masked
    // text/binary frame when only part of its 4-byte key had arrived, then
    // `split_at_mut(6)` on the shorter input panicked ("mid > len"): any client
    // could crash a server with the two bytes 0x81 0x80 in one read.
    for cut in 2..6 {
        for b0 in [0x81u8, 0x82] {
            let mut bytes = [b0, 0x80, 1, 2, 3, 4];
            let mut c = server();
            let r = c.handle_input(T0, &mut bytes[..cut]).map(|i| i.consumed);
            assert_eq!(r, Ok(cut), "{b0:#x} cut at {cut}");
        }
    }
}
