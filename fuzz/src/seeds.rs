//! Seed inputs built from the protocol vectors, in each target's input format.
//!
//! `cargo test --lib -- --ignored write_corpus` (in `fuzz/`) writes them to
//! `corpus/<target>/seed-<name>`; the files are committed. `seeds_pass` runs
//! each one through its target as an ordinary test.

use sockwire::ws::apply_mask;

use crate::eio_server::op as eio_op;

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

/// The Engine.IO v4 open packet of the protocol notes.
pub const EIO_OPEN: &[u8] = br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// A packet in [`crate::eio_packet::read_packet`]'s format.
#[derive(Clone, Copy)]
pub enum P<'a> {
    /// `4...`.
    Text(&'a str),
    /// `b...` (a binary frame over WebSocket).
    Binary(&'a [u8]),
    /// `2probe`.
    PingProbe,
    /// `2`.
    Ping,
    /// `3probe`.
    PongProbe,
    /// `3`.
    Pong,
    /// `6`.
    Noop,
    /// `1`.
    Close,
    /// `5`.
    Upgrade,
}

impl Writer {
    /// One packet in `read_packet`'s format.
    pub fn packet(&mut self, p: P<'_>) -> &mut Self {
        match p {
            P::Text(t) => self.u8(0).short(t.as_bytes()),
            P::Binary(b) => self.u8(1).short(b),
            P::PingProbe => self.u8(2),
            P::Ping => self.u8(3),
            P::PongProbe => self.u8(4),
            P::Pong => self.u8(5),
            P::Noop => self.u8(6),
            P::Close => self.u8(7),
            P::Upgrade => self.u8(8),
        }
    }
    /// An `eio_server` op with no arguments.
    pub fn op(&mut self, op: u8) -> &mut Self {
        self.u8(op)
    }
    /// `eio_server`: client frames, one per packet, `f` for each.
    pub fn ws_frames(&mut self, flags: u8, packets: &[(P<'_>, u8)]) -> &mut Self {
        assert!(!packets.is_empty() && packets.len() <= 8);
        self.u8(eio_op::WS_FRAMES | flags << 4)
            .u8(packets.len() as u8 - 1);
        for &(p, f) in packets {
            self.packet(p).u8(f);
        }
        self
    }
    /// `eio_server`: a POST of `body` as raw bytes.
    pub fn post_raw(&mut self, body: &[u8]) -> &mut Self {
        self.u8(eio_op::POST)
            .u8(1)
            .u16(body.len() as u16)
            .bytes(body)
    }
    /// `eio_server`: a POST of packets.
    pub fn post(&mut self, packets: &[P<'_>]) -> &mut Self {
        self.u8(eio_op::POST).u8(0).u8(packets.len() as u8);
        for &p in packets {
            self.packet(p);
        }
        self
    }
    /// `eio_server`: a raw request head (routed), then its arguments.
    pub fn head(&mut self, head: &[u8]) -> &mut Self {
        self.u8(eio_op::REQUEST | 0x10).short(head)
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

/// Inputs that show each [`Known`](crate::eio_server::Known) defect of
/// `src/` (the `eio_server` target fails on them in strict mode).
pub fn known_eio_server() -> Vec<(crate::eio_server::Known, &'static str, Vec<u8>)> {
    use crate::eio_server::Known;
    use crate::eio_server::op::*;
    let mut w = Writer::default();
    let mut v = Vec::new();
    const BIG_OUT: u8 = 255;
    // The handshake GET is held, close() queues the goodbye behind the open
    // packet, the deadline passes before the GET is answered: the queue is
    // dropped and the GET is never answered.
    w.u8(0).u16(0).u8(1);
    w.u8(OPEN).u16(1024).op(CLOSE).u8(ADVANCE).u8(4);
    v.push((
        Known::HeldGetNeverAnswered,
        "known-held-get-never-answered",
        w.done(),
    ));
    // The close packet goes out, the Close frame meets a 3-byte buffer.
    w.u8(0).u16(0).u8(1);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.op(CLOSE).u8(POLL_WS | 0x10).u8(BIG_OUT);
    w.u8(POLL_WS | 0x30).u8(3).u8(POLL_WS).u8(BIG_OUT);
    v.push((Known::CloseFrameLost, "known-close-frame-lost", w.done()));
    // A 101-byte message's frame is begun (20 bytes out), then the client
    // sends an unmasked frame: the session fails and drops the rest.
    w.u8(0).u16(0).u8(1);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.u8(SEND).short(&[b'x'; 100]).u8(POLL_WS | 0x30).u8(8);
    w.u8(WS_RAW | 0x10).u16(3).bytes(b"\x81\x01x");
    v.push((
        Known::FrameAbandoned,
        "known-frame-abandoned-on-error",
        w.done(),
    ));
    // The same frame, then close() and the deadline passes: poll_ws fails.
    w.u8(0).u16(0).u8(1);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.u8(SEND).short(&[b'x'; 100]).u8(POLL_WS | 0x30).u8(8);
    w.op(CLOSE).u8(ADVANCE).u8(4).u8(POLL_WS).u8(BIG_OUT);
    v.push((
        Known::FrameAbandoned,
        "known-frame-abandoned-at-deadline",
        w.done(),
    ));
    v
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

    // ---- eio_packet mode 0: bytes (one packet, and a polling body)
    let mut long = b"b".to_vec();
    {
        use base64::Engine as _;
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut enc = vec![0u8; 1336];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(&data, &mut enc)
            .unwrap();
        long.extend_from_slice(&enc[..n]);
    }
    let packets: Vec<(&str, &[u8])> = vec![
        ("open", EIO_OPEN),
        ("close", b"1"),
        ("ping", b"2"),
        ("ping-probe", b"2probe"),
        ("pong-probe", b"3probe"),
        ("message", b"4hello"),
        ("message-empty", b"4"),
        ("message-utf8", "4€".as_bytes()),
        ("upgrade", b"5"),
        ("noop", b"6"),
        ("noop-junk", b"6junk"),
        ("binary", b"bAQIDBA=="),
        ("binary-unpadded", b"bAQIDBA"),
        ("binary-empty", b"b"),
        ("binary-long", &long),
        ("empty", b""),
        ("type-7", b"7"),
        ("not-utf8", b"4\xff"),
        ("base64-invalid", b"b!!!!"),
        ("base64-padding-inside", b"bAQ=IDBA"),
        ("base64-one-char", b"bA"),
        ("payload-two-texts", b"4hello\x1e4world"),
        ("payload-text-binary", b"4hello\x1ebAQIDBA=="),
        ("payload-text-ping-binary", b"4hello\x1e2\x1ebAQIDBA=="),
        ("payload-invalid-middle", b"4a\x1e9\x1e4b"),
        ("payload-trailing-separator", b"4a\x1e"),
    ];
    for (name, bytes) in packets {
        out.push(("eio_packet", name.to_string(), w.u8(0).bytes(bytes).done()));
    }
    // mode 1: size, packets through PayloadWriter and back
    w.u8(1).u16(2048);
    for p in [
        P::Text("hello"),
        P::Binary(&[1, 2, 3, 4]),
        P::PingProbe,
        P::PongProbe,
        P::Ping,
        P::Pong,
        P::Noop,
        P::Close,
        P::Upgrade,
        P::Text("κόσμε"),
    ] {
        w.packet(p);
    }
    w.u8(9).short(&EIO_OPEN[1..]);
    out.push(("eio_packet", "writer-all-types".into(), w.done()));
    w.u8(1).u16(8);
    w.packet(P::Text("abc"))
        .packet(P::Text("abc"))
        .packet(P::Noop);
    out.push(("eio_packet", "writer-full".into(), w.done()));

    // ---- eio_server: config max_payload seed, then ops
    use crate::eio_server::op::*;
    let eio = |w: &mut Writer, config: u8| {
        w.u8(config).u16(0).u8(1);
    };
    const POLLING_GET: &[u8] =
        b"GET /engine.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost:3000\r\n\r\n";
    const BIG_OUT: u8 = 255;
    // Polling: handshake GET, the open packet, a message each way, a POST.
    eio(&mut w, 0);
    w.head(POLLING_GET).u16(1024);
    w.u8(POLL_HTTP).u8(BIG_OUT);
    w.u8(SEND).short(b"hello");
    w.op(POLL).u8(POLL_HTTP).u8(BIG_OUT);
    w.post_raw(b"4hello\x1e4world");
    w.post_raw(b"4hello\x1ebAQIDBA==");
    w.u8(SEND | 0x10).short(&[1, 2, 3, 4]);
    w.op(POLL).u8(POLL_HTTP).u8(BIG_OUT);
    out.push(("eio_server", "polling-session".into(), w.done()));
    // Routing refusals and near misses.
    eio(&mut w, 0);
    for head in [
        &b"POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /engine.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=tobi HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /other/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PUT /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /engine.io/?EIO=4&transport=polling HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET /engine.io/ HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        w.head(head);
    }
    // Structured: a handshake, then poll, post, upgrade for the session's sid.
    w.u8(REQUEST).u8(0).u8(4).u16(1024); // GET polling, EIO=4, t=
    w.u8(POLL_HTTP).u8(BIG_OUT);
    w.u8(REQUEST).u8(0x10).u8(0); // GET polling sid
    w.u8(REQUEST)
        .u8(0x11)
        .u8(8)
        .u8(0)
        .u8(1)
        .packet(P::Text("hi")); // POST polling sid
    w.u8(REQUEST).u8(0x54).u8(0); // upgrade
    w.u8(REQUEST).u8(0x30).u8(0); // unknown sid
    out.push(("eio_server", "routes".into(), w.done()));
    // WebSocket from the start: open packet, messages both ways, fragments.
    eio(&mut w, 0);
    w.u8(REQUEST).u8(0x44).u8(0).u16(1024);
    w.u8(POLL_WS).u8(BIG_OUT);
    w.ws_frames(
        0,
        &[
            (P::Text("hello"), 0),
            (P::Binary(&[1, 2, 3, 4]), 1),
            (P::Text("κόσμε"), 6),
        ],
    );
    w.u8(SEND)
        .short(b"hello")
        .u8(SEND | 0x10)
        .short(&[1, 2, 3, 4]);
    w.u8(POLL_WS).u8(BIG_OUT);
    w.ws_frames(0, &[(P::Pong, 0), (P::Noop, 0), (P::Close, 0)]);
    w.u8(POLL_WS).u8(BIG_OUT);
    out.push(("eio_server", "websocket-session".into(), w.done()));
    // The upgrade: probe, 3probe, the held GET released with 6, then 5.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.u8(SEND).short(b"before");
    w.op(UPGRADE);
    w.ws_frames(0, &[(P::PingProbe, 0)]);
    w.u8(POLL_WS).u8(BIG_OUT);
    w.op(POLL).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(POLL).u8(POLL_HTTP).u8(BIG_OUT);
    w.ws_frames(0, &[(P::Upgrade, 0)]);
    w.u8(SEND).short(b"after");
    w.u8(POLL_WS).u8(BIG_OUT);
    w.ws_frames(0, &[(P::Text("world"), 0)]);
    w.op(POLL);
    out.push(("eio_server", "upgrade".into(), w.done()));
    // A probe that times out, and one that sends something else.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(UPGRADE)
        .u8(ADVANCE)
        .u8(10)
        .u8(POLL_WS)
        .u8(BIG_OUT)
        .op(FEED_REPLIES);
    w.op(UPGRADE);
    out.push(("eio_server", "upgrade-timeout".into(), w.done()));
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(UPGRADE);
    w.ws_frames(0, &[(P::Text("early"), 0)]);
    w.u8(POLL_WS).u8(BIG_OUT).op(FEED_REPLIES);
    out.push(("eio_server", "upgrade-bad-probe".into(), w.done()));
    // Heartbeat on polling: ping after pingInterval, pong by POST.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(POLL).u8(ADVANCE).u8(6).u8(POLL_HTTP).u8(BIG_OUT);
    w.post_raw(b"3");
    w.u8(ADVANCE)
        .u8(3)
        .op(POLL)
        .u8(ADVANCE)
        .u8(3)
        .u8(POLL_HTTP)
        .u8(BIG_OUT);
    w.post(&[P::Pong, P::Text("still here")]);
    out.push(("eio_server", "heartbeat".into(), w.done()));
    // No pong: the session closes with a ping timeout.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.u8(ADVANCE)
        .u8(6)
        .u8(ADVANCE)
        .u8(4)
        .op(POLL)
        .u8(POLL_HTTP)
        .u8(BIG_OUT);
    out.push(("eio_server", "ping-timeout".into(), w.done()));
    // Heartbeat on WebSocket.
    eio(&mut w, 0);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.u8(ADVANCE).u8(6).u8(POLL_WS).u8(BIG_OUT);
    w.ws_frames(0, &[(P::Pong, 0)]);
    w.u8(ADVANCE)
        .u8(6)
        .u8(POLL_WS)
        .u8(BIG_OUT)
        .u8(ADVANCE)
        .u8(4);
    out.push(("eio_server", "ws-heartbeat".into(), w.done()));
    // A second GET while one waits: 400, the first gets a close packet.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(POLL).op(POLL).u8(POLL_HTTP).u8(BIG_OUT);
    out.push(("eio_server", "duplicate-get".into(), w.done()));
    // The client's close packet while a GET waits: that GET returns 6.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.op(POLL).post_raw(b"1").u8(POLL_HTTP).u8(BIG_OUT);
    out.push(("eio_server", "client-close".into(), w.done()));
    // The server closes a WebSocket session; the client answers.
    eio(&mut w, 0);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.u8(SEND).short(b"bye").op(CLOSE).u8(POLL_WS).u8(BIG_OUT);
    w.op(FEED_REPLIES).u8(ADVANCE).u8(3);
    out.push(("eio_server", "ws-close".into(), w.done()));
    // A polling session closed with a GET held, and without.
    eio(&mut w, 0);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.u8(SEND)
        .short(b"bye")
        .op(CLOSE)
        .u8(ADVANCE)
        .u8(4)
        .op(POLL);
    out.push(("eio_server", "polling-close".into(), w.done()));
    // Small buffers: a queue full, frames written in pieces, a too-small GET.
    w.u8(0).u16(4096 - 300).u8(1);
    w.u8(OPEN | 0x10).u16(300);
    w.u8(SEND | 0x10)
        .short(&[7; 120])
        .u8(SEND)
        .short(&[b'f'; 80]); // the second is QueueFull
    w.u8(POLL_WS).u8(5).u8(POLL_WS).u8(3).u8(POLL_WS).u8(1);
    w.u8(SEND)
        .short(b"x")
        .u8(POLL_WS)
        .u8(0)
        .u8(POLL_WS)
        .u8(BIG_OUT);
    out.push(("eio_server", "small-buffers".into(), w.done()));
    eio(&mut w, 0);
    w.u8(OPEN)
        .u16(200)
        .u8(POLL_HTTP)
        .u8(10)
        .u8(POLL_HTTP)
        .u8(BIG_OUT);
    out.push(("eio_server", "small-get".into(), w.done()));
    // Bad input: a body over maxPayload, a heartbeat from the client, raw
    // WebSocket bytes, EOF.
    w.u8(0).u16(4096 - 16).u8(1);
    w.u8(OPEN).u16(1024).u8(POLL_HTTP).u8(BIG_OUT);
    w.post_raw(b"4this body is longer than sixteen bytes");
    w.post_raw(b"2");
    out.push(("eio_server", "bad-post".into(), w.done()));
    eio(&mut w, 0);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    let raw = frame(0x81, true, b"4raw");
    w.u8(WS_RAW).u16(raw.len() as u16).bytes(&raw);
    let bad = frame(0x81, false, b"4unmasked");
    w.u8(WS_RAW).u16(bad.len() as u16).bytes(&bad);
    w.u8(POLL_WS).u8(BIG_OUT).op(WS_EOF);
    out.push(("eio_server", "ws-raw-and-eof".into(), w.done()));
    eio(&mut w, 0);
    w.u8(OPEN | 0x10).u16(1024).u8(POLL_WS).u8(BIG_OUT);
    w.ws_frames(2, &[(P::Ping, 0)]);
    out.push(("eio_server", "ws-client-ping".into(), w.done()));
    for (_, name, data) in known_eio_server() {
        out.push(("eio_server", name.into(), data));
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
    out.extend(crate::deflate::seeds());
    out.extend(crate::endpoint::seeds());
    out.extend(crate::redis_adapter::seeds());
    out.extend(crate::utf8_simd::seeds());
    out
}
