//! The protocol vectors: RFC 6455 section 5.7 frames through real
//! connections in both roles and through the header codec, and Engine.IO v4 /
//! Socket.IO v5 packets from the protocol repositories' READMEs.

use sockwire::engineio::{self, Data, Payload, PayloadWriter};
use sockwire::socketio::{self, Limits, PacketType};
use sockwire::time::Instant;
use sockwire::ws::{self, Config, Connection, Event, FrameHeader, MessageKind, OpCode};

use crate::wire::Rng;
use crate::{check, check_eq};

const NOW: Instant = Instant::from_millis(0);
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

fn data(kind: MessageKind, data: &[u8], fin: bool) -> Option<Event<'_>> {
    Some(Event::Data { kind, data, fin })
}

pub fn run() {
    rfc6455();
    engineio();
    socketio();
}

fn rfc6455() {
    // A single-frame unmasked text message, received by a client.
    let mut c = Connection::client(Config::DEFAULT, Rng::new(1));
    let mut b = *b"\x81\x05Hello";
    let r = c.handle_input(NOW, &mut b).map(|i| (i.consumed, i.event));
    check_eq!(
        "rfc6455 5.7 unmasked text: client receives",
        r,
        Ok((7, data(MessageKind::Text, b"Hello", true)))
    );

    // The same message sent by a server.
    let mut s = Connection::server(Config::DEFAULT);
    let mut out = [0u8; 16];
    let n = s.send_text("Hello", &mut out);
    check_eq!(
        "rfc6455 5.7 unmasked text: server sends",
        n.map(|n| &out[..n]),
        Ok(&b"\x81\x05Hello"[..])
    );

    // A single-frame masked text message, received by a server.
    let mut b = HELLO_MASKED;
    let r = s.handle_input(NOW, &mut b).map(|i| (i.consumed, i.event));
    check_eq!(
        "rfc6455 5.7 masked text: server receives",
        r,
        Ok((11, data(MessageKind::Text, b"Hello", true)))
    );

    // Its encoding: header with the key, payload masked.
    let h = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Text,
        mask: Some(KEY),
        len: 5,
    };
    let mut out = [0u8; 16];
    let n = h.encode(&mut out).unwrap_or(0);
    out[n..n + 5].copy_from_slice(b"Hello");
    ws::apply_mask(&mut out[n..n + 5], KEY, 0);
    check_eq!(
        "rfc6455 5.7 masked text: encoded",
        &out[..n + 5],
        &HELLO_MASKED[..]
    );

    // A fragmented unmasked text message: both frames in one read.
    let mut c = Connection::client(Config::DEFAULT, Rng::new(2));
    let mut b = *b"\x01\x03Hel\x80\x02lo";
    let first = c
        .handle_input(NOW, &mut b[..])
        .map(|i| (i.consumed, i.event));
    check_eq!(
        "rfc6455 5.7 fragmented text: first fragment",
        first,
        Ok((5, data(MessageKind::Text, b"Hel", false)))
    );
    let second = c
        .handle_input(NOW, &mut b[5..])
        .map(|i| (i.consumed, i.event));
    check_eq!(
        "rfc6455 5.7 fragmented text: final fragment",
        second,
        Ok((4, data(MessageKind::Text, b"lo", true)))
    );

    // An unmasked ping, received by a client: the pong is masked and echoes "Hello".
    let mut b = *b"\x89\x05Hello";
    let ping = match c.handle_input(NOW, &mut b) {
        Ok(ws::Input {
            event: Some(Event::Ping(p)),
            ..
        }) => p.as_bytes() == b"Hello",
        _ => false,
    };
    check!(
        "rfc6455 5.7 ping: client receives",
        ping,
        "no Ping(\"Hello\") event"
    );
    let mut out = [0u8; 32];
    let n = c.poll_transmit(&mut out).unwrap_or(0);
    let pong = match FrameHeader::decode(&out[..n]) {
        Ok(Some((h, hl))) if h.opcode == OpCode::Pong && h.fin && h.len == 5 => {
            let key = h.mask.unwrap_or_default();
            let mut p = [0u8; 5];
            p.copy_from_slice(&out[hl..hl + 5]);
            ws::apply_mask(&mut p, key, 0);
            h.mask.is_some() && &p == b"Hello" && n == hl + 5
        }
        _ => false,
    };
    check!(
        "rfc6455 5.7 ping: client's automatic pong is masked and echoes it",
        pong,
        "pong frame {:02x?}",
        &out[..n]
    );

    // A masked pong, received by a server.
    let mut b = HELLO_MASKED;
    b[0] = 0x8a;
    let pong = matches!(
        s.handle_input(NOW, &mut b),
        Ok(ws::Input { consumed: 11, event: Some(Event::Pong(p)) }) if p.as_bytes() == b"Hello"
    );
    check!(
        "rfc6455 5.7 masked pong: server receives",
        pong,
        "no Pong(\"Hello\")"
    );

    // 256 bytes and 64 KiB of binary in one unmasked frame: the header
    // encodings, and the payload streamed through a 64-byte read buffer.
    for (name, len, header) in [
        (
            "rfc6455 5.7 256-byte binary",
            256u64,
            &[0x82u8, 0x7e, 0x01, 0x00][..],
        ),
        (
            "rfc6455 5.7 64 KiB binary",
            65536,
            &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0][..],
        ),
    ] {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            len,
        };
        let mut out = [0u8; 16];
        let n = h.encode(&mut out).unwrap_or(0);
        check!(
            (name, "header"),
            &out[..n] == header,
            "encoded {:02x?}",
            &out[..n]
        );
        let mut c = Connection::client(Config::DEFAULT, Rng::new(3));
        let (got, pieces, fin) = stream_in(&mut c, header, len as usize);
        check!(
            (name, "streamed through a 64-byte read buffer"),
            got == len as usize && fin && pieces > 1,
            "received {} of {} bytes in {} pieces, fin {}",
            got,
            len,
            pieces,
            fin
        );
    }
}

/// Feeds `header` then `len` payload bytes (byte i = i mod 251) through a
/// 64-byte read buffer; returns the payload bytes received in order, the
/// number of pieces and whether the last one was final.
fn stream_in(c: &mut Connection<Rng>, header: &[u8], len: usize) -> (usize, usize, bool) {
    let (mut fed, mut got, mut pieces, mut fin) = (0, 0, 0, false);
    let total = header.len() + len;
    let mut rx = [0u8; 64];
    while fed < total {
        let n = rx.len().min(total - fed);
        for (i, b) in rx[..n].iter_mut().enumerate() {
            let at = fed + i;
            *b = if at < header.len() {
                header[at]
            } else {
                ((at - header.len()) % 251) as u8
            };
        }
        fed += n;
        let mut off = 0;
        while off < n {
            let Ok(r) = c.handle_input(NOW, &mut rx[off..n]) else {
                return (got, pieces, false);
            };
            off += r.consumed;
            if let Some(Event::Data { data, fin: f, .. }) = r.event {
                if data
                    .iter()
                    .enumerate()
                    .any(|(i, &b)| b != ((got + i) % 251) as u8)
                {
                    return (got, pieces, false);
                }
                got += data.len();
                pieces += 1;
                fin = f;
            }
        }
    }
    (got, pieces, fin)
}

fn engineio() {
    use engineio::Packet as P;
    let cases: [(&str, P<'static>); 8] = [
        ("4hello", P::Message(Data::Text("hello"))),
        ("bAQIDBA==", P::Message(Data::Binary(&[1, 2, 3, 4]))),
        ("2probe", P::Ping("probe")),
        ("3probe", P::Pong("probe")),
        ("1", P::Close),
        ("5", P::Upgrade),
        ("6", P::Noop),
        (
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            P::Open(
                r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            ),
        ),
    ];
    for (wire, want) in cases {
        let mut buf = [0u8; 160];
        buf[..wire.len()].copy_from_slice(wire.as_bytes());
        let got = P::decode(&mut buf[..wire.len()]);
        check!(("eio decode", wire), got == Ok(want), "got {:?}", got);
        let mut out = [0u8; 160];
        let n = want.encode(&mut out);
        check!(
            ("eio encode", wire),
            n.map(|n| &out[..n]) == Ok(wire.as_bytes()),
            "wrote {:?}",
            n.map(|n| &out[..n])
        );
    }
    for (name, wire) in [
        ("eio refuses an empty packet", &b""[..]),
        ("eio refuses type 9", b"9x"),
    ] {
        let mut buf = [0u8; 4];
        buf[..wire.len()].copy_from_slice(wire);
        check_eq!(
            name,
            P::decode(&mut buf[..wire.len()]),
            Err(engineio::Error::InvalidPacket)
        );
    }

    // The polling payload from the engine.io-protocol README.
    const BODY: &[u8] = "4hello\x1e4€\x1ebAQIDBA==".as_bytes();
    let mut body = [0u8; 32];
    body[..BODY.len()].copy_from_slice(BODY);
    let mut it = Payload::new(&mut body[..BODY.len()]);
    let ok = it.next() == Some(Ok(P::Message(Data::Text("hello"))))
        && it.next() == Some(Ok(P::Message(Data::Text("€"))))
        && it.next() == Some(Ok(P::Message(Data::Binary(&[1, 2, 3, 4]))))
        && it.next().is_none();
    check!(
        "eio payload: text, text, binary",
        ok,
        "payload {:?} split wrongly",
        BODY
    );
    let mut out = [0u8; 32];
    let mut w = PayloadWriter::new(&mut out);
    let pushed = w.push(&P::Message(Data::Text("hello"))).is_ok()
        && w.push(&P::Message(Data::Text("€"))).is_ok()
        && w.push(&P::Message(Data::Binary(&[1, 2, 3, 4]))).is_ok();
    let n = w.len();
    check!(
        "eio payload: written",
        pushed && &out[..n] == BODY,
        "wrote {:?}",
        &out[..n]
    );
}

fn socketio() {
    use PacketType::*;
    // (wire, type, namespace, ack id, attachments, data): the socket.io-protocol
    // v5 README's examples.
    type Case = (
        &'static str,
        PacketType,
        &'static str,
        Option<u64>,
        usize,
        Option<&'static str>,
    );
    let cases: [Case; 11] = [
        ("0", Connect, "/", None, 0, None),
        (
            r#"0/admin,{"token":"123"}"#,
            Connect,
            "/admin",
            None,
            0,
            Some(r#"{"token":"123"}"#),
        ),
        (
            r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            Connect,
            "/",
            None,
            0,
            Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
        ),
        (
            r#"4{"message":"Not authorized"}"#,
            ConnectError,
            "/",
            None,
            0,
            Some(r#"{"message":"Not authorized"}"#),
        ),
        (
            r#"2["hello",1]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["hello",1]"#),
        ),
        (
            r#"2/admin,["project:delete",123]"#,
            Event,
            "/admin",
            None,
            0,
            Some(r#"["project:delete",123]"#),
        ),
        (
            r#"2/admin,12["project:delete",123]"#,
            Event,
            "/admin",
            Some(12),
            0,
            Some(r#"["project:delete",123]"#),
        ),
        (
            r#"3/admin,12["project deleted"]"#,
            Ack,
            "/admin",
            Some(12),
            0,
            Some(r#"["project deleted"]"#),
        ),
        (
            r#"51-["hello",{"_placeholder":true,"num":0}]"#,
            BinaryEvent,
            "/",
            None,
            1,
            Some(r#"["hello",{"_placeholder":true,"num":0}]"#),
        ),
        (
            r#"61-/admin,15[{"_placeholder":true,"num":0}]"#,
            BinaryAck,
            "/admin",
            Some(15),
            1,
            Some(r#"[{"_placeholder":true,"num":0}]"#),
        ),
        ("1/admin,", Disconnect, "/admin", None, 0, None),
    ];
    let limits = Limits::default();
    for (wire, kind, nsp, ack_id, attachments, data) in cases {
        let got = socketio::Packet::decode(wire, &limits);
        let want = socketio::Packet {
            kind,
            nsp,
            ack_id,
            attachments,
            data,
        };
        check!(("sio decode", wire), got == Ok(want), "got {:?}", got);
        let mut out = [0u8; 64];
        let n = want.encode(&mut out);
        check!(
            ("sio encode", wire),
            n.map(|n| &out[..n]) == Ok(wire.as_bytes()),
            "wrote {:?}",
            n.map(|n| core::str::from_utf8(&out[..n]))
        );
    }
    let p = socketio::Packet::decode(r#"2/admin,12["project:delete",123]"#, &limits);
    check_eq!(
        "sio event name",
        p.ok().and_then(|p| p.event_name()),
        Some("project:delete")
    );
    for (name, wire) in [
        ("sio refuses type 7", "7"),
        ("sio refuses unterminated JSON", r#"2["hello""#),
        (
            "sio refuses an event that is not an array",
            r#"2{"hello":1}"#,
        ),
        (
            "sio refuses a binary event with no attachment count",
            r#"5["hello"]"#,
        ),
    ] {
        let got = socketio::Packet::decode(wire, &limits);
        check!(name, got.is_err(), "{} decoded as {:?}", wire, got);
    }
}
