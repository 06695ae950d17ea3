//! Seed inputs built from the protocol vectors, in each target's input format.
//!
//! `cargo test --lib -- --ignored write_corpus` (in `fuzz/`) writes them to
//! `corpus/<target>/seed-<name>`; the files are committed. `seeds_pass` runs
//! each one through its target as an ordinary test.

use sockwire::ws::apply_mask;

/// Builds an input in the format [`R`](crate::reader::R) reads.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// One byte.
    pub fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    /// Two bytes, little-endian.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Eight bytes, little-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// A length byte and the bytes.
    pub fn short(&mut self, b: &[u8]) -> &mut Self {
        assert!(b.len() < 256);
        self.u8(b.len() as u8).bytes(b)
    }
    /// The input.
    pub fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// RFC 6455 section 1.2/4.1: the client's opening handshake.
pub const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// RFC 6455 section 1.3/4.2.2: the server's answer.
pub const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\r\n";

/// The RFC 6455 section 5.7 masking key.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a peer sends it: `b0`, shortest length, masked with [`KEY`] when `masked`.
pub fn frame(b0: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let m = if masked { 0x80 } else { 0 };
    let mut v = vec![b0];
    match payload.len() {
        n if n < 126 => v.push(m | n as u8),
        n if n <= 0xffff => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut p = payload.to_vec();
    if masked {
        v.extend_from_slice(&KEY);
        apply_mask(&mut p, KEY, 0);
    }
    v.extend_from_slice(&p);
    v
}

/// The RFC 6455 section 5.7 examples, exactly as printed there.
pub fn rfc_5_7() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "text-unmasked",
            vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        (
            "text-masked",
            vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        ),
        (
            "fragmented-unmasked",
            vec![0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        ),
        (
            "ping-unmasked",
            vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        (
            "pong-masked",
            vec![
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        ),
    ];
    let mut b256 = vec![0x82, 0x7e, 0x01, 0x00];
    b256.extend((0..=255u8).collect::<Vec<_>>());
    v.push(("binary-256-unmasked", b256));
    v.push((
        "binary-64k-header",
        vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
    ));
    v
}

/// The same messages as a client sends them (masked) and as a server sends
/// them (unmasked), plus close frames.
fn stream(masked: bool) -> Vec<(&'static str, Vec<u8>)> {
    let f = |b0, p: &[u8]| frame(b0, masked, p);
    vec![
        ("hello", f(0x81, b"Hello")),
        ("fragmented", [f(0x01, b"Hel"), f(0x80, b"lo")].concat()),
        (
            "fragmented-ping-between",
            [f(0x01, b"Hel"), f(0x89, b"p"), f(0x80, b"lo")].concat(),
        ),
        ("ping", f(0x89, b"Hello")),
        ("pong", f(0x8a, b"Hello")),
        ("binary-256", f(0x82, &(0..=255u8).collect::<Vec<_>>())),
        (
            "utf8-split",
            [f(0x01, "κό".as_bytes()), f(0x80, "σμε".as_bytes())].concat(),
        ),
        ("close-1000", f(0x88, &[0x03, 0xe8])),
        ("close-1001-reason", f(0x88, b"\x03\xe9going away")),
        ("close-empty", f(0x88, b"")),
        ("close-1005-invalid", f(0x88, &[0x03, 0xed])),
        ("close-one-byte", f(0x88, &[0x03])),
        ("text-invalid-utf8", f(0x81, b"ok\xc0\xafok")),
        ("rsv1", f(0xc1, b"x")),
        ("opcode-3", f(0x83, b"")),
        ("ping-fragmented", f(0x09, b"x")),
        ("lone-continuation", f(0x80, b"x")),
    ]
}

/// Connection ops (see [`crate::connection::Op`]).
fn op_input(w: &mut Writer, bytes: &[u8]) {
    w.u8(0x20).u16(bytes.len() as u16).bytes(bytes);
}

/// Seeds per target: (target, name, input).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut w = Writer::default();

    // ---- http_head: flags, [limits], cuts, bytes
    let heads: Vec<(&str, &[u8])> = vec![
        ("rfc-request", RFC_REQUEST),
        ("rfc-response", RFC_RESPONSE),
        (
            "polling-get",
            b"GET /engine.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost:3000\r\nAccept: */*\r\n\r\n",
        ),
        (
            "polling-post-body",
            b"POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 5\r\n\r\n4hello",
        ),
        (
            "refusal-426",
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ),
        ("no-headers", b"GET / HTTP/1.0\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n"),
        ("cr-runs", b"GET / HTTP/1.1\r\nX: \r\r\n\r\n"),
    ];
    for (name, h) in &heads {
        out.push(("http_head", name.to_string(), w.u8(0).u8(0).bytes(h).done()));
    }
    out.push((
        "http_head",
        "rfc-request-bytewise".into(),
        w.u8(0).u8(255).bytes(RFC_REQUEST).done(),
    ));
    out.push((
        "http_head",
        "rfc-request-chunks".into(),
        w.u8(0)
            .u8(4)
            .bytes(&[1, 17, 2, 100])
            .bytes(RFC_REQUEST)
            .done(),
    ));
    out.push((
        "http_head",
        "small-limits".into(),
        w.u8(1).u16(64).u8(2).u8(0).bytes(RFC_REQUEST).done(),
    ));

    // ---- ws_handshake_server: flags, [limits], cuts, choice, out-size, request
    out.push((
        "ws_handshake_server",
        "rfc".into(),
        w.u8(0).u8(0).u8(1).u8(7).bytes(RFC_REQUEST).done(),
    ));
    out.push((
        "ws_handshake_server",
        "rfc-bytewise-small-out".into(),
        w.u8(0).u8(255).u8(0).u8(3).bytes(RFC_REQUEST).done(),
    ));
    let rq = std::str::from_utf8(RFC_REQUEST).unwrap();
    for (name, from, to) in [
        ("post", "GET /chat", "POST /chat"),
        ("http10", "HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost"),
        ("no-host", "Host: server.example.com\r\n", ""),
        ("no-upgrade", "Upgrade: websocket", "Upgrade: h2c"),
        (
            "no-connection-upgrade",
            "Connection: Upgrade",
            "Connection: keep-alive",
        ),
        ("version-8", "Version: 13", "Version: 8"),
        (
            "key-short",
            "dGhlIHNhbXBsZSBub25jZQ==",
            "dGhlIHNhbXBsZSBub25jZQ",
        ),
        (
            "key-missing",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "",
        ),
        ("frames-after", "13\r\n\r\n", "13\r\n\r\n\u{81}"),
    ] {
        let req = rq.replacen(from, to, 1);
        out.push((
            "ws_handshake_server",
            name.into(),
            w.u8(0).u8(0).u8(1).u8(7).bytes(req.as_bytes()).done(),
        ));
    }

    // ---- ws_handshake_client mode 0: mode, seed, cuts, response (with @ACCEPT@)
    let resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Accept: @ACCEPT@\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
    let mut with_frame = resp.as_bytes().to_vec();
    with_frame.extend_from_slice(&frame(0x81, false, b"Hello"));
    out.push((
        "ws_handshake_client",
        "101-with-frame".into(),
        w.u8(0).u64(1).u8(0).bytes(&with_frame).done(),
    ));
    out.push((
        "ws_handshake_client",
        "101-bytewise".into(),
        w.u8(0).u64(2).u8(255).bytes(resp.as_bytes()).done(),
    ));
    for (name, from, to) in [
        ("status-200", "101 Switching Protocols", "200 OK"),
        ("wrong-accept", "@ACCEPT@", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("unoffered-protocol", "chat\r\n", "v9\r\n"),
        (
            "extension",
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        ),
        ("rfc-response", "", ""),
    ] {
        let r = if name == "rfc-response" {
            String::from_utf8(RFC_RESPONSE.to_vec()).unwrap()
        } else {
            resp.replacen(from, to, 1)
        };
        out.push((
            "ws_handshake_client",
            name.into(),
            w.u8(0).u64(3).u8(0).bytes(r.as_bytes()).done(),
        ));
    }
    // mode 1: host, path, origin?, protocols, headers, out-size, choice, cuts, trailing
    w.u8(1)
        .u64(7)
        .short(b"server.example.com")
        .short(b"/chat?room=1")
        .u8(1)
        .short(b"http://example.com");
    w.u8(2).short(b"chat").short(b"superchat");
    w.u8(1).short(b"Authorization").short(b"Bearer x");
    w.u8(4)
        .u8(1)
        .u8(3)
        .bytes(&[5, 40, 1])
        .bytes(&frame(0x81, false, b"Hello"));
    out.push(("ws_handshake_client", "round-trip".into(), w.done()));
    w.u8(1)
        .u64(8)
        .short(b"h")
        .short(b"/")
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(3)
        .u8(0)
        .u8(255);
    out.push((
        "ws_handshake_client",
        "round-trip-minimal-bytewise".into(),
        w.done(),
    ));

    // ---- ws_connection_*: config, seed, ops
    for (target, masked) in [
        ("ws_connection_server", true),
        ("ws_connection_client", false),
    ] {
        let want_masked = if target == "ws_connection_server" {
            "masked"
        } else {
            "unmasked"
        };
        for (name, bytes) in rfc_5_7() {
            if name.contains(want_masked) && !name.contains("64k") {
                w.u8(0).u8(0);
                op_input(&mut w, &bytes);
                w.u8(11).u8(1); // drain with 1-byte buffer
                out.push((target, format!("rfc-{name}"), w.done()));
            }
        }
        for (name, bytes) in stream(masked) {
            w.u8(0).u8(0);
            op_input(&mut w, &bytes);
            out.push((target, name.to_string(), w.done()));
        }
        // A 64 KiB frame arriving in pieces (header, then payload reads).
        w.u8(0).u8(0);
        op_input(&mut w, &frame(0x82, masked, &vec![0x42; 65536])[..600]);
        out.push((target, "binary-64k-partial".into(), w.done()));
        // Commands: text, fragmented text split inside a code point, a frame
        // begun and filled in pieces, a ping, the peer's ping, our close, the
        // peer's close.
        w.u8(0).u8(5);
        w.u8(2).u8(15).short(b"hi");
        w.u8(0x14).u8(15).u8(3).short("κόσμε".as_bytes()); // text, not fin, split at 3
        w.u8(0x34).u8(15).u8(0).short("!".as_bytes()); // text fin
        w.u8(5).u8(15).u8(10); // binary frame of 10, not fin
        w.u8(6).u8(3).short(b"0123456789"); // 3 bytes at a time
        w.u8(6).u8(15).short(b"3456789");
        w.u8(0x25).u8(15).u8(0); // continuation binary, fin, empty
        w.u8(8).u8(15).short(b"ping!");
        w.u8(1).u8(0x89).u8(0).u8(4).bytes(&KEY).bytes(b"abcd");
        w.u8(11).u8(2);
        w.u8(10).u8(15).u8(0).short(b"bye");
        w.u8(1)
            .u8(0x88)
            .u8(0)
            .u8(2)
            .bytes(&KEY)
            .bytes(&[0x03, 0xe8]);
        out.push((target, "commands-and-close".into(), w.done()));
        // Close, then the clock runs past the timeout; then EOF.
        w.u8(0).u8(0);
        w.u8(10).u8(15).u8(2).short(b"");
        w.u8(13).u8(2).u8(13).u8(3).u8(14);
        out.push((target, "close-timeout".into(), w.done()));
        // The server writes the payload itself.
        w.u8(0).u8(0);
        w.u8(0x35).u8(15).u8(40).u8(7).u8(40);
        out.push((target, "payload-written".into(), w.done()));
        // A pong stays queued while input is fed without draining.
        w.u8(0).u8(0);
        let pings = [
            frame(0x89, masked, b"1"),
            frame(0x89, masked, b""),
            frame(0x81, masked, b"x"),
        ]
        .concat();
        w.u8(0x30).u16(pings.len() as u16).bytes(&pings);
        w.u8(15).u8(11).u8(1);
        out.push((target, "pong-pending".into(), w.done()));
        // A protocol error while a frame is begun: the close waits for it.
        w.u8(0).u8(0);
        w.u8(5).u8(15).u8(5);
        w.u8(1).u8(0x83).u8(0).u8(0).bytes(&KEY);
        w.u8(6).u8(15).short(b"abcde");
        out.push((target, "error-during-frame".into(), w.done()));
        // Small limits: a frame over max_frame_size.
        w.u8(3 | (3 << 3)).u8(0); // 125-byte limits
        op_input(&mut w, &frame(0x82, masked, &[7; 200])[..8]);
        out.push((target, "frame-too-large".into(), w.done()));
    }

    // ---- ws_frame_roundtrip: mode, ...
    for (name, bytes) in rfc_5_7() {
        out.push((
            "ws_frame_roundtrip",
            format!("decode-{name}"),
            w.u8(0).bytes(&bytes).done(),
        ));
    }
    for (name, bytes) in [
        ("non-minimal-16", vec![0x82, 0x7e, 0x00, 0x7d]),
        (
            "non-minimal-64",
            vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
        ),
        ("len-2-63", vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        (
            "len-2-63-minus-1",
            vec![0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "masked-64",
            vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4],
        ),
    ] {
        out.push((
            "ws_frame_roundtrip",
            format!("decode-{name}"),
            w.u8(0).bytes(&bytes).done(),
        ));
    }
    out.push((
        "ws_frame_roundtrip",
        "header-masked".into(),
        w.u8(1)
            .u8(1)
            .u8(0)
            .u8(1)
            .u8(1)
            .bytes(&KEY)
            .u64(300)
            .u8(0)
            .u8(14)
            .done(),
    ));
    out.push((
        "ws_frame_roundtrip",
        "mask-hello".into(),
        w.u8(2)
            .bytes(&KEY)
            .u16(0)
            .u8(0)
            .u8(0)
            .bytes(b"Hello")
            .done(),
    ));
    out.push((
        "ws_frame_roundtrip",
        "mask-pieces".into(),
        w.u8(2)
            .bytes(&KEY)
            .u16(3)
            .u8(0)
            .u8(3)
            .bytes(&[1, 9, 17])
            .bytes(&[0x55; 64])
            .done(),
    ));
    for (name, text) in [
        ("kosme", "κόσμε".as_bytes()),
        ("max-code-points", "a\u{10ffff}b\u{7ff}\u{ffff}".as_bytes()),
        ("surrogate", b"ab\xed\xa0\x80".as_slice()),
        ("above-max", b"\xf4\x90\x80\x80"),
        ("overlong", b"\xc0\xaf\xe0\x80\xaf"),
        ("truncated", b"\xce\xba\xe1\xbd"),
    ] {
        out.push((
            "ws_frame_roundtrip",
            format!("utf8-{name}"),
            w.u8(3).u8(255).bytes(text).done(),
        ));
    }
    out
}
