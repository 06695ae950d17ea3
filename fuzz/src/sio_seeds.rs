//! Seed inputs for the `json`, `sio_packet`, `sio_server`, `sio_client` and
//! `eio_client` targets, built from the protocol vectors (the Socket.IO and
//! Engine.IO examples of the protocol notes, the unit tests' vectors and
//! refusals), in each target's input format. Kept apart from `seeds.rs`.
//!
//! `cargo test --lib -- --ignored write_corpus` (in `fuzz/`) writes them to
//! `corpus/<target>/seed-<name>` (the [`regressions`] to `regress-<name>`, the
//! reproducers of open [`Known`] defects to `known-<name>`); the files are committed.
//! `sio_seeds::tests::seeds_pass` runs each one through its target.

use crate::seeds::Writer;
use crate::sio_common::Known;

/// The Socket.IO packets of the protocol notes and the codec's unit tests, as
/// they follow the Engine.IO message type `4`.
pub const SIO_VECTORS: &[&str] = &[
    "0",
    r#"0/admin,{"token":"123"}"#,
    r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
    "1/admin,",
    "1",
    r#"2["foo"]"#,
    r#"212["foo"]"#,
    r#"3/admin,13["bar"]"#,
    r#"51-["baz",{"_placeholder":true,"num":0}]"#,
    r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
    r#"62-/x,1[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
    r#"4{"message":"Not authorized"}"#,
    r#"4/random,{"message":"Invalid namespace"}"#,
    r#"4"refused""#,
    "0/custom",
    "2[1,2]",
    "3456[]",
    r#"0{"token":"123"}"#,
    r#"2["auth",{"token":"123"}]"#,
    r#"2["news",1,"off-1"]"#,
    r#"0{"sid":"s1","pid":"p1"}"#,
    r#"0{"pid":"p1","offset":"off-2","token":"123"}"#,
];

/// Refused Socket.IO packets of the unit tests and the bad-input catalogue.
pub const SIO_REFUSED: &[&str] = &[
    "",
    "7",
    "abc",
    "2{}",
    r#"2abc["message-with-ack",1]"#,
    "2",
    "2[]",
    "2[{}]",
    r#"2 ["a"]"#,
    r#"2["connect"]"#,
    r#"2["disconnecting"]"#,
    r#"2["\u0063onnect"]"#,
    "1{}",
    "0[]",
    r#"0"x""#,
    "3{}",
    "3",
    "4[]",
    r#"5["a"]"#,
    r#"5-["a"]"#,
    r#"50-["a"]"#,
    r#"5x-["a"]"#,
    r#"511-["a"]"#,
    r#"51000000000-["a"]"#,
    r#"599999999999999999999999999-["a"]"#,
    r#"51-["a",{"_placeholder":true,"num":1}]"#,
    r#"51-["a",{"_placeholder":true,"num":-1}]"#,
    r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
    r#"51-["a",{"_placeholder":true}]"#,
    r#"51-["a",[{"x":{"_placeholder":true,"num":0.5}}]]"#,
    r#"218446744073709551616["a"]"#,
    r#"2["a",]"#,
    r#"2/x,["a""#,
    r#"51-["a","{\"_placeholder\":true,\"num\":9}",{"_placeholder":true,"num":0}]"#,
    r#"218446744073709551615["a"]"#,
];

/// JSON texts: RFC 8259 values and near misses, the protocol's JSON.
pub const JSON_TEXTS: &[&str] = &[
    "0",
    "-0",
    "12",
    "-1.5e+3",
    "1E9",
    "0.25",
    "true",
    "false",
    "null",
    r#""""#,
    r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00""#,
    "[]",
    "{}",
    " [ 1 , 2 ] ",
    r#"{"a":[1,{"b":null}],"c":"d"}"#,
    "\"é😀\"",
    "",
    "01",
    "1.",
    ".5",
    "1e",
    "+1",
    "tru",
    "[1,]",
    "[,1]",
    r#"{"a"}"#,
    r#"{"a":}"#,
    "{a:1}",
    r#"{"a":1,}"#,
    "[1 2]",
    r#""\x""#,
    r#""\u12g4""#,
    "\"a\u{1}\"",
    "\"abc",
    "[1]]",
    "1 2",
    "[",
    "NaN",
    "'a'",
    r#""\uD800""#,
    r#""\uDC00\uD800""#,
    r#""\uD83D\u0041""#,
    "1e400",
    "-1e400",
    "18446744073709551615",
    "18446744073709551616",
    r#"{"a":1,"a":2,"b":3}"#,
    r#"{"_placeholder":true,"num":0}"#,
    r#"["chat", {"text": "hi \u00e9", "n": 2}, [1, 2]]"#,
    r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
    r#"{"k\u0065y": "v", "key": "w"}"#,
    "\u{7f}",
    "[\"\u{7f}\"]",
];

mod eio {
    pub use crate::eio_client::op::*;
}
mod srv {
    pub use crate::sio_server::op::*;
}
mod cli {
    pub use crate::sio_client::op::*;
}

fn text_op(w: &mut Writer, text: &str) {
    if text.len() < 256 {
        w.u8(srv::TEXT).short(text.as_bytes());
    } else {
        w.u8(srv::TEXT | 0x10)
            .u16(text.len() as u16)
            .bytes(text.as_bytes());
    }
}

/// The server's seeds: `config limits seed` then ops.
fn server_seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>) {
    let mut w = Writer::default();
    let s = |out: &mut Vec<(&'static str, String, Vec<u8>)>, name: &str, w: &mut Writer| {
        out.push(("sio_server", name.to_string(), w.done()));
    };
    // Join "/" with auth, accept, events and acks both ways, on polling and
    // on WebSocket.
    for (cfg, name) in [
        (0u8, "polling"),
        (2, "websocket"),
        (1, "polling-4"),
        (3 | 8, "dynamic-ws"),
    ] {
        w.u8(cfg).u8(0).u8(1);
        text_op(&mut w, r#"0{"token":"123"}"#);
        w.u8(srv::ACCEPT).u8(3);
        w.u8(srv::EMIT).u8(0).u8(0).u8(0).u8(2); // "chat", "hi",{"n":1}
        text_op(&mut w, r#"212["foo"]"#);
        w.u8(srv::ACK).u8(0).u8(0).u8(0).u8(1);
        w.u8(srv::EMIT_ACK).u8(0).u8(2).u8(0).u8(1).u8(4); // timeout 500
        text_op(&mut w, r#"30["bar"]"#);
        w.u8(srv::DRAIN);
        w.u8(srv::EMIT_ACK).u8(0).u8(2).u8(0).u8(1).u8(3); // timeout 100
        w.u8(srv::ADVANCE).u8(3);
        w.u8(srv::DRAIN);
        text_op(&mut w, "1");
        w.u8(srv::DRAIN);
        s(out, &format!("session-{name}"), &mut w);
    }
    // Binary: an event with two attachments, a binary ack, an emit with
    // attachments.
    w.u8(0).u8(0).u8(2);
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    text_op(
        &mut w,
        r#"52-["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    w.u8(srv::BINARY).short(&[1, 2, 3]);
    w.u8(srv::BINARY).short(&[]);
    w.u8(srv::EMIT_ACK)
        .u8(0)
        .u8(1)
        .u8(2)
        .u8(0)
        .u8(5)
        .u8(3)
        .u8(0);
    text_op(&mut w, r#"61-0[{"_placeholder":true,"num":0}]"#);
    w.u8(srv::BINARY).short(b"ack");
    w.u8(srv::EMIT).u8(0).u8(5).u8(1).u8(1).u8(7);
    w.u8(srv::DRAIN);
    s(out, "binary", &mut w);
    // Namespaces: an unknown one, a refused one, the table full, disconnects.
    w.u8(4).u8(0).u8(3);
    text_op(&mut w, "0/random,");
    text_op(&mut w, "0/admin,");
    w.u8(srv::REFUSE).u8(4).u8(4);
    text_op(&mut w, "0/chat,");
    w.u8(srv::ACCEPT).u8(7);
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    text_op(&mut w, "0/admin,");
    w.u8(srv::ACCEPT).u8(4);
    w.u8(srv::DISCONNECT).u8(0);
    text_op(&mut w, "1/admin,");
    w.u8(srv::DRAIN);
    s(out, "namespaces", &mut w);
    // The connect timeout; then everything is InvalidState.
    w.u8(0).u8(0).u8(4);
    w.u8(srv::ADVANCE).u8(6);
    w.u8(srv::DRAIN);
    text_op(&mut w, "0");
    s(out, "connect-timeout", &mut w);
    // A POST body: CONNECT and an event in one body.
    w.u8(0).u8(0).u8(5);
    w.u8(srv::POST)
        .u8(1)
        .u8(0)
        .short(b"0")
        .u8(0)
        .short(br#"212["hello","world"]"#);
    w.u8(srv::ACCEPT).u8(3);
    w.u8(srv::DRAIN);
    w.u8(srv::ADVANCE)
        .u8(12)
        .u8(srv::DRAIN)
        .u8(srv::PONG)
        .u8(srv::ADVANCE)
        .u8(11);
    w.u8(srv::DRAIN);
    s(out, "post", &mut w);
    // Every refusal of the catalogue, each after a join.
    for (k, bad) in SIO_REFUSED.iter().enumerate() {
        w.u8(2).u8(0).u8(6);
        text_op(&mut w, "0");
        w.u8(srv::ACCEPT).u8(3);
        text_op(&mut w, bad);
        w.u8(srv::DRAIN);
        text_op(&mut w, r#"2["after"]"#);
        s(out, &format!("refused-{k}"), &mut w);
    }
    // Events before CONNECT, a second CONNECT, CONNECT_ERROR from a client,
    // attachments out of place, the assembler's storage exceeded.
    for (k, texts) in [
        &[r#"2["x"]"#][..],
        &["0", "0"],
        &[r#"4{"message":"x"}"#],
        &["0", r#"51-["x",{"_placeholder":true,"num":0}]"#, "1"],
    ]
    .iter()
    .enumerate()
    {
        w.u8(0).u8(0).u8(7);
        for t in *texts {
            text_op(&mut w, t);
        }
        w.u8(srv::DRAIN);
        s(out, &format!("out-of-place-{k}"), &mut w);
    }
    w.u8(0x80).u8(0).u8(8); // 32-byte assembler
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    text_op(&mut w, r#"51-["x",{"_placeholder":true,"num":0}]"#);
    w.u8(srv::BINARY).short(&[7; 40]);
    s(out, "attachments-too-large", &mut w);
    // Small queue: the session refuses, nothing changes.
    w.u8(0x10).u8(0).u8(9);
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    for _ in 0..4 {
        w.u8(srv::EMIT).u8(0).u8(9).u8(200).u8(1);
    }
    w.u8(srv::DRAIN);
    w.u8(srv::EMIT).u8(0).u8(0).u8(0).u8(1);
    s(out, "queue-full", &mut w);
}

/// The client's seeds: `config sizes seed` then ops.
fn client_seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>) {
    let mut w = Writer::default();
    let s = |out: &mut Vec<(&'static str, String, Vec<u8>)>, name: &str, w: &mut Writer| {
        out.push(("sio_client", name.to_string(), w.done()));
    };
    // Join "/" with auth and "/chat", events and acks both ways, through
    // the transport's frames and directly.
    for (cfg, name) in [(0u8, "basic"), (1, "four")] {
        w.u8(cfg).u8(0).u8(1);
        w.u8(cli::CONNECT).u8(5).u8(0).u8(2);
        w.u8(cli::EMIT).u8(5).u8(0).u8(0).u8(0).u8(1); // buffered before the transport
        w.u8(cli::OPEN_TRANSPORT | 0x10);
        w.u8(cli::FLUSH).u8(cli::ANSWER);
        w.u8(cli::CONNECT).u8(5).u8(2).u8(0);
        w.u8(cli::FLUSH).u8(cli::ANSWER);
        w.u8(cli::EMIT_ACK).u8(0).u8(0).u8(0).u8(2).u8(5);
        w.u8(cli::FLUSH);
        w.u8(cli::SERVER | 0x10).u8(0).u8(11).u8(0); // the ack, through frames
        w.u8(cli::SERVER).u8(0).u8(10).u8(0).u8(7); // an event asking for an ack
        w.u8(cli::ACK).u8(0).u8(0).u8(0).u8(1);
        w.u8(cli::EMIT).u8(0).u8(0).u8(1).u8(1).u8(3); // binary
        w.u8(cli::VOLATILE).u8(0).u8(0).u8(1);
        w.u8(cli::FLUSH);
        w.u8(cli::SERVER).u8(0).u8(12).u8(0).u8(2); // binary event
        w.u8(cli::DISCONNECT).u8(0);
        w.u8(cli::FLUSH);
        s(out, &format!("session-{name}"), &mut w);
    }
    // The link dies: back-off, reconnection, the buffer flushed afterwards,
    // state recovery with a pid and offsets.
    w.u8(0).u8(0).u8(2);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(2);
    w.u8(cli::OPEN_TRANSPORT | 0x10)
        .u8(cli::FLUSH)
        .u8(cli::ANSWER | 0x10);
    w.u8(cli::SERVER).u8(0).u8(8).u8(0).u8(9);
    w.u8(cli::TRANSPORT_CLOSED).u8(1);
    w.u8(cli::EMIT).u8(0).u8(0).u8(0).u8(1);
    w.u8(cli::ADVANCE)
        .u8(8)
        .u8(cli::ADVANCE)
        .u8(9)
        .u8(cli::ADVANCE)
        .u8(10);
    w.u8(cli::OPEN_TRANSPORT | 0x10)
        .u8(cli::FLUSH)
        .u8(cli::ANSWER | 0x10)
        .u8(cli::FLUSH);
    s(out, "reconnect-recovery", &mut w);
    // Attempts that fail before opening, until ReconnectFailed (3 attempts,
    // 10/50 ms delays).
    w.u8(0b0001_1100).u8(0).u8(3);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(0);
    for _ in 0..5 {
        w.u8(cli::TRANSPORT_CLOSED).u8(2);
        w.u8(cli::ADVANCE).u8(5);
        w.u8(cli::ADVANCE).u8(7);
    }
    w.u8(cli::OPEN_TRANSPORT | 0x10);
    s(out, "reconnect-failed", &mut w);
    // A hostile server: every refused packet of the catalogue.
    for (k, bad) in SIO_REFUSED.iter().enumerate().step_by(3) {
        w.u8(0).u8(0).u8(4);
        w.u8(cli::CONNECT).u8(5).u8(0).u8(0);
        w.u8(cli::OPEN_TRANSPORT | 0x10)
            .u8(cli::FLUSH)
            .u8(cli::ANSWER);
        w.u8(cli::SERVER_RAW).short(bad.as_bytes());
        w.u8(cli::ADVANCE).u8(10);
        s(out, &format!("hostile-{k}"), &mut w);
    }
    // CONNECT_ERROR, server DISCONNECT, ack timeouts while down, close().
    w.u8(0).u8(0).u8(5);
    w.u8(cli::CONNECT)
        .u8(5)
        .u8(0)
        .u8(0)
        .u8(cli::CONNECT)
        .u8(5)
        .u8(1)
        .u8(2);
    w.u8(cli::OPEN_TRANSPORT | 0x10).u8(cli::FLUSH);
    w.u8(cli::SERVER).u8(5).u8(1).u8(6).u8(0);
    w.u8(cli::ANSWER);
    w.u8(cli::EMIT_ACK).u8(0).u8(0).u8(0).u8(0).u8(3);
    w.u8(cli::TRANSPORT_CLOSED).u8(0);
    w.u8(cli::ADVANCE).u8(7);
    w.u8(cli::SERVER).u8(0).u8(7).u8(0);
    w.u8(cli::CLOSE).u8(cli::ADVANCE).u8(13);
    s(out, "refusals-and-close", &mut w);
    // Small buffers: the send buffer and the transport's queue fill.
    w.u8(0).u8(0b0000_1001).u8(6);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(0);
    w.u8(cli::OPEN_TRANSPORT | 0x10)
        .u8(cli::FLUSH)
        .u8(cli::ANSWER);
    for _ in 0..4 {
        w.u8(cli::EMIT).u8(0).u8(0).u8(0).u8(2);
    }
    w.u8(cli::FLUSH).u8(cli::FLUSH);
    s(out, "small-buffers", &mut w);
    // A CONNECT that did not fit the transport's queue is sent by a later
    // flush.
    w.u8(0).u8(0b0000_1100).u8(1);
    w.u8(cli::OPEN_TRANSPORT | 0x10);
    w.u8(cli::CONNECT).u8(4).u8(20).u8(0);
    w.u8(cli::FLUSH)
        .u8(cli::CONNECT)
        .u8(4)
        .u8(20)
        .u8(0)
        .u8(cli::FLUSH);
    s(out, "connect-queue-full", &mut w);
}

/// The Engine.IO client's seeds: `config seed` then ops.
fn eio_client_seeds(out: &mut Vec<(&'static str, String, Vec<u8>)>) {
    let mut w = Writer::default();
    let s = |out: &mut Vec<(&'static str, String, Vec<u8>)>, name: &str, w: &mut Writer| {
        out.push(("eio_client", name.to_string(), w.done()));
    };
    // frame(packet choice, pieces, cuts)
    let open = |w: &mut Writer| {
        w.u8(eio::FRAME).u8(0).u8(0).u8(0);
    };
    // Open, messages both ways, heartbeat, graceful close.
    w.u8(0).u8(1);
    w.u8(eio::SEND).short(b"queued before open");
    open(&mut w);
    w.u8(eio::FRAME).u8(17).short(b"hello").u8(0).u8(0);
    w.u8(eio::FRAME | 0x10)
        .u8(17)
        .short(b"\x01\x02")
        .u8(0)
        .u8(0);
    w.u8(eio::FRAME).u8(13).u8(0).u8(0);
    w.u8(eio::SEND)
        .short(b"hi")
        .u8(eio::SEND | 0x10)
        .short(&[1, 2, 3]);
    w.u8(eio::SEND | 0x20)
        .u8(3)
        .short(b"a")
        .short(b"b")
        .short(b"c");
    w.u8(eio::DRAIN).u8(15);
    w.u8(eio::CLOSE).u8(eio::DRAIN).u8(15).u8(eio::REPLIES);
    s(out, "session", &mut w);
    // Fragmented messages fed one byte at a time, with small output buffers.
    w.u8(0).u8(2);
    open(&mut w);
    w.u8(eio::FRAME)
        .u8(17)
        .short("κόσμε and more".as_bytes())
        .u8(3)
        .u8(255);
    w.u8(eio::SEND).short(&[b'x'; 100]);
    for size in [0u8, 1, 2, 6, 7] {
        w.u8(eio::POLL_ONCE).u8(size);
    }
    w.u8(eio::DRAIN).u8(7);
    s(out, "fragments-small-buffers", &mut w);
    // The timers: open timeout; the heartbeat (pingInterval 300,
    // pingTimeout 200).
    w.u8(0).u8(3).u8(eio::ADVANCE).u8(12).u8(eio::ADVANCE).u8(1);
    s(out, "open-timeout", &mut w);
    w.u8(0).u8(4);
    open(&mut w);
    w.u8(eio::ADVANCE).u8(5).u8(eio::FRAME).u8(13).u8(0).u8(0);
    w.u8(eio::ADVANCE).u8(9).u8(eio::ADVANCE).u8(1);
    s(out, "ping-timeout", &mut w);
    // Every open packet choice first.
    for c in 0u8..13 {
        w.u8(0).u8(5);
        w.u8(eio::FRAME).u8(c).u8(20).u8(30).u8(40).u8(0).u8(0);
        w.u8(eio::FRAME).u8(17).short(b"m").u8(0).u8(0);
        s(out, &format!("open-{c}"), &mut w);
    }
    // Server packets after open: each kind; WebSocket control frames.
    for c in 13u8..24 {
        w.u8(0).u8(6);
        open(&mut w);
        w.u8(eio::FRAME).u8(c).short(b"x").u8(0).u8(0);
        w.u8(eio::DRAIN).u8(15);
        s(out, &format!("packet-{c}"), &mut w);
    }
    for which in 0u8..3 {
        w.u8(0).u8(7);
        open(&mut w);
        w.u8(eio::CONTROL).u8(which).short(b"ping!").u16(1001).u8(0);
        w.u8(eio::DRAIN).u8(15).u8(eio::REPLIES);
        s(out, &format!("control-{which}"), &mut w);
    }
    // Limits: a 100-byte max_payload, a small assembler, invalid UTF-8.
    w.u8(0b0001_0001).u8(8);
    open(&mut w);
    w.u8(eio::FRAME).u8(17).short(&[b'y'; 120]).u8(0).u8(0);
    s(out, "too-large", &mut w);
    w.u8(0b0001_0000).u8(9);
    open(&mut w);
    w.u8(eio::FRAME)
        .u8(17)
        .short(b"longer than eight")
        .u8(2)
        .u8(0);
    s(out, "assembler-small", &mut w);
    w.u8(0).u8(10);
    open(&mut w);
    w.u8(eio::FRAME | 0x20).u8(17).short(b"x").u8(0).u8(0);
    s(out, "invalid-utf8", &mut w);
    // Raw bytes: the open packet frame and a truncated frame, then EOF.
    let open_frame = crate::sio_common::server_frames(
        sockwire::ws::MessageKind::Text,
        crate::seeds::EIO_OPEN,
        1,
    );
    w.u8(0)
        .u8(11)
        .u8(eio::RAW)
        .u16(open_frame.len() as u16)
        .bytes(&open_frame)
        .u8(0);
    w.u8(eio::RAW).u16(3).bytes(&[0x81, 0x05, b'4']).u8(0);
    w.u8(eio::EOF);
    s(out, "raw-eof", &mut w);
    // A small queue: QueueFull.
    w.u8(0b0000_1000).u8(12);
    for _ in 0..3 {
        w.u8(eio::SEND).short(b"0123456789");
    }
    s(out, "queue-full", &mut w);
}

/// Inputs that showed a defect of `src/` once (see the README, "What fuzzing
/// found"); `write_corpus` writes them to `corpus/<target>/regress-<name>`.
pub fn regressions() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut w = Writer::default();
    let mut v = Vec::new();
    // sio_client (fixed in afe144b): an emit for "/admin" is buffered, the
    // server disconnects "/admin", then an emit for "/" must still go out.
    w.u8(0).u8(0).u8(1);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(0);
    w.u8(cli::CONNECT).u8(5).u8(1).u8(0);
    w.u8(cli::OPEN_TRANSPORT | 0x10)
        .u8(cli::FLUSH)
        .u8(cli::ANSWER);
    w.u8(cli::EMIT).u8(5).u8(1).u8(0).u8(0).u8(1);
    w.u8(cli::SERVER).u8(5).u8(1).u8(7).u8(0);
    w.u8(cli::EMIT).u8(5).u8(0).u8(0).u8(0).u8(1);
    w.u8(cli::FLUSH);
    v.push(("sio_client", "head-of-line", w.done()));
    // sio_packet mode 0, default limits: the ack id spelled with zeros.
    w.u8(0).u8(200).u8(128).u8(32).bytes(b"2007[1,]");
    v.push(("sio_packet", "json-offset", w.done()));
    // sio_server: join "/", emit "disconnect", read it.
    w.u8(0).u8(0).u8(1);
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    w.u8(srv::EMIT).u8(0).u8(7).u8(0).u8(0);
    w.u8(srv::DRAIN);
    v.push(("sio_server", "reserved-name", w.done()));
    // sio_server: join "/", the client asks for an ack, the server answers
    // with 11 (empty) attachments, read it.
    w.u8(0).u8(0).u8(1);
    text_op(&mut w, "0");
    w.u8(srv::ACCEPT).u8(3);
    text_op(&mut w, r#"212["foo"]"#);
    w.u8(srv::ACK).u8(0).u8(0).u8(250).u8(0).bytes(&[0; 11]);
    w.u8(srv::DRAIN);
    v.push(("sio_server", "eleven-attachments", w.done()));
    // The client's ack with 11 attachments goes out.
    w.u8(0).u8(0).u8(1);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(0);
    w.u8(cli::OPEN_TRANSPORT | 0x10)
        .u8(cli::FLUSH)
        .u8(cli::ANSWER);
    w.u8(cli::ACK).u8(0).u8(0x85).u8(250).u8(0).bytes(&[0; 11]);
    w.u8(cli::FLUSH);
    v.push(("sio_client", "client-ack-eleven", w.done()));
    // eio_client: a message queued before the open packet goes out.
    w.u8(0)
        .u8(1)
        .u8(eio::SEND)
        .short(b"early")
        .u8(eio::DRAIN)
        .u8(15);
    v.push(("eio_client", "sends-before-open", w.done()));
    // eio_client: a 100-byte message half written (20-byte buffer), then the
    // server's close packet.
    w.u8(0).u8(1);
    w.u8(eio::FRAME).u8(0).u8(0).u8(0);
    w.u8(eio::SEND)
        .short(&[b'x'; 100])
        .u8(eio::POLL_ONCE)
        .u8(10);
    w.u8(eio::FRAME).u8(19).u8(0).u8(0).u8(eio::DRAIN).u8(15);
    v.push(("eio_client", "frame-abandoned", w.done()));
    // eio_client: an invalid packet fails the session, the Close frame meets
    // a 1-byte buffer.
    w.u8(0).u8(1);
    w.u8(eio::FRAME).u8(0).u8(0).u8(0);
    w.u8(eio::FRAME).u8(23).short(b"x").u8(0).u8(0);
    w.u8(eio::POLL_ONCE).u8(1).u8(eio::DRAIN).u8(15);
    v.push(("eio_client", "close-frame-lost", w.done()));
    // json: a quote, then a two-byte character at the end.
    w.u8(32).u8(0).bytes("\"é".as_bytes());
    v.push(("json", "str-eq-panics", w.done()));
    // sio_client: auth " {\"pid\":\"mine\"} " on "/".
    w.u8(0).u8(0).u8(1);
    w.u8(cli::CONNECT).u8(5).u8(0).u8(7);
    w.u8(cli::OPEN_TRANSPORT | 0x10).u8(cli::FLUSH);
    v.push(("sio_client", "auth-whitespace", w.done()));
    hidden_event_regression(&mut w, &mut v);
    v
}

/// Inputs that show each open [`Known`] defect (the targets fail on them in
/// strict mode). None is open now.
pub fn known() -> Vec<(Known, &'static str, &'static str, Vec<u8>)> {
    Vec::new()
}

/// The reproducer of the client's former `known-hidden-event-looks-stalled`
/// (fixed by `WsInput::again`).
fn hidden_event_regression(w: &mut Writer, v: &mut Vec<(&'static str, &'static str, Vec<u8>)>) {
    use sockwire::time::Instant;
    use sockwire::ws::{self, Connection};
    // eio_client: open, then in one read a ping, an empty pong and a Close:
    // read whole, the pong is held while our pong is due, and the Close is
    // never read; read byte by byte, it is.
    let mut c: Connection = Connection::server(ws::Config::DEFAULT);
    let mut out = [0u8; 64];
    let mut bytes = Vec::new();
    let n = c.ping(b"ping!", &mut out).unwrap();
    bytes.extend_from_slice(&out[..n]);
    let n = c.pong(b"", &mut out).unwrap();
    bytes.extend_from_slice(&out[..n]);
    let n = c
        .close(Instant::from_millis(0), 1000, "", &mut out)
        .unwrap();
    bytes.extend_from_slice(&out[..n]);
    w.u8(0).u8(7).u8(eio::FRAME).u8(0).u8(0).u8(0);
    w.u8(eio::RAW).u16(bytes.len() as u16).bytes(&bytes).u8(0);
    // (The sio_client reproducer of the client's namespace limit, fixed
    // since, is corpus/sio_client/regress-namespace-over-limit.)
    v.push(("eio_client", "hidden-event-looks-stalled", w.done()));
}

/// Seeds per target: (target, name, input).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut w = Writer::default();
    // ---- json: depth flags text
    for (k, t) in JSON_TEXTS.iter().enumerate() {
        out.push((
            "json",
            format!("text-{k}"),
            w.u8(32).u8(1).bytes(t.as_bytes()).done(),
        ));
    }
    let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
    out.push((
        "json",
        "deep-64".into(),
        w.u8(64).u8(0).bytes(deep(64).as_bytes()).done(),
    ));
    out.push((
        "json",
        "deep-65".into(),
        w.u8(69).u8(0).bytes(deep(65).as_bytes()).done(),
    ));
    out.push((
        "json",
        "deep-129".into(),
        w.u8(64).u8(0).bytes(deep(129).as_bytes()).done(),
    ));
    out.push(("json", "depth-0".into(), w.u8(0).u8(0).bytes(b"[1]").done()));
    // ---- sio_packet mode 0: limits text (defaults: 10 attachments, 128, 32)
    for (k, t) in SIO_VECTORS.iter().chain(SIO_REFUSED).enumerate() {
        out.push((
            "sio_packet",
            format!("text-{k}"),
            w.u8(0).u8(200).u8(128).u8(32).bytes(t.as_bytes()).done(),
        ));
    }
    out.push((
        "sio_packet",
        "strict-limits".into(),
        w.u8(0).u8(1).u8(8).u8(2).bytes(br#"52-["x",[[1]]]"#).done(),
    ));
    out.push((
        "sio_packet",
        "long-nsp".into(),
        w.u8(0)
            .u8(200)
            .u8(128)
            .u8(32)
            .bytes(format!("0/{},", "n".repeat(1000)).as_bytes())
            .done(),
    ));
    // ---- sio_packet mode 1: packets from fields
    for k in 0u8..7 {
        w.u8(1).u8(7);
        for d in 0u8..8 {
            // kind ns ack att data
            w.u8(k).u8(d % 3).u8(d).u8(9).u8(d * 3 + k);
        }
        out.push(("sio_packet", format!("structured-{k}"), w.done()));
    }
    server_seeds(&mut out);
    client_seeds(&mut out);
    eio_client_seeds(&mut out);
    out.extend(crate::sio_client_endpoint::seeds());
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn seeds_pass() {
        for (target, name, data) in all() {
            eprintln!("{target}/{name}");
            crate::run(target, &data);
        }
        for (target, name, data) in regressions() {
            eprintln!("{target}/regress-{name}");
            crate::run(target, &data);
            // Fixed defects stay fixed in strict mode too.
            crate::sio_common::strictly(|| crate::run(target, &data));
        }
    }

    /// Each known defect still shows: the strict target fails on its
    /// reproducer, the default one lets it pass. When this fails because a
    /// reproducer passes in strict mode, the defect was fixed: drop its
    /// [`Known`] variant and its tolerance.
    #[test]
    fn sio_known_findings_reproduce() {
        let mut fixed = Vec::new();
        for (known, target, name, data) in known() {
            crate::run(target, &data);
            let strict = std::panic::catch_unwind(|| {
                crate::sio_common::strictly(|| crate::run(target, &data))
            });
            if strict.is_ok() {
                fixed.push(format!("{name}: {known:?}"));
            }
        }
        assert!(fixed.is_empty(), "no longer reproduce (fixed?): {fixed:?}");
    }

    /// Writes the seeds to `corpus/<target>/seed-<name>`, the regressions to
    /// `regress-<name>` and the known reproducers to `<name>`.
    #[test]
    #[ignore = "writes files; run with --ignored to regenerate the seed corpus"]
    fn write_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (target, name, data) in all() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        }
        for (target, name, data) in regressions() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("regress-{name}")), data).unwrap();
        }
        for (_, target, name, data) in known() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), data).unwrap();
        }
    }
}
