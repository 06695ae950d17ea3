//! Scenario tests of the WebSocket connection state machine, both roles.

#[path = "common/pair.rs"]
mod pair;

use pair::{Ev, cframe, client, conn, drain, feed, frame, server};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{
    Config, Connection, Error, Event, FrameHeader, MessageKind, OpCode, Role, State,
};

const T0: Instant = Instant::from_millis(0);

/// Decodes frames written by a connection: (header, unmasked payload).
fn frames(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut v = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = FrameHeader::decode(bytes).unwrap().expect("whole header");
        let len = h.len as usize;
        let mut p = bytes[n..n + len].to_vec();
        if let Some(k) = h.mask {
            sockwire::ws::apply_mask(&mut p, k, 0);
        }
        v.push((h, p));
        bytes = &bytes[n + len..];
    }
    v
}

fn close_code_of(bytes: &[u8]) -> Option<u16> {
    let f = frames(bytes);
    let (h, p) = f.last()?;
    assert_eq!(h.opcode, OpCode::Close);
    (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]))
}

#[test]
fn rfc_6455_section_5_7_examples() {
    // A single-frame unmasked text message, to a client.
    let out = feed(
        &mut client(1),
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        64,
    );
    assert_eq!(
        out.events,
        [Ev::Message(MessageKind::Text, b"Hello".to_vec())]
    );
    // A single-frame masked text message, to a server.
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let out = feed(&mut server(), &masked, 64);
    assert_eq!(
        out.events,
        [Ev::Message(MessageKind::Text, b"Hello".to_vec())]
    );
    // A fragmented unmasked text message.
    let out = feed(
        &mut client(1),
        &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        64,
    );
    assert_eq!(
        out.events,
        [Ev::Message(MessageKind::Text, b"Hello".to_vec())]
    );
    // An unmasked ping, answered by a masked pong with the same body.
    let out = feed(
        &mut client(1),
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        64,
    );
    assert_eq!(out.events, [Ev::Ping(b"Hello".to_vec())]);
    let f = frames(&out.transmitted);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].0.opcode, f[0].0.mask.is_some(), &f[0].1[..]),
        (OpCode::Pong, true, &b"Hello"[..])
    );
    // A masked pong, to a server.
    let out = feed(
        &mut server(),
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        64,
    );
    assert_eq!(out.events, [Ev::Pong(b"Hello".to_vec())]);
    // 256 bytes and 64 KiB binary messages in single unmasked frames.
    for len in [256usize, 65536] {
        let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut bytes = if len == 256 {
            vec![0x82, 0x7e, 0x01, 0x00]
        } else {
            vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
        };
        bytes.extend_from_slice(&body);
        let out = feed(&mut client(1), &bytes, 4096);
        assert_eq!(out.events, [Ev::Message(MessageKind::Binary, body)]);
    }
}

#[test]
fn protocol_violations_fail_with_the_right_close_code() {
    let ping = |b0| cframe(b0, b"x");
    let mut big_ping = cframe(0x89, &[0; 125]);
    big_ping[1] = 0x80 | 126;
    big_ping.splice(2..2, [0, 126]);
    let cases: Vec<(&str, Role, Vec<u8>, Error, u16)> = vec![
        (
            "rsv1",
            Role::Server,
            cframe(0xc1, b"x"),
            Error::ReservedBits,
            1002,
        ),
        (
            "rsv3",
            Role::Server,
            cframe(0x91, b"x"),
            Error::ReservedBits,
            1002,
        ),
        (
            "opcode 3",
            Role::Server,
            cframe(0x83, b""),
            Error::ReservedOpcode,
            1002,
        ),
        (
            "opcode 0xb",
            Role::Server,
            cframe(0x8b, b""),
            Error::ReservedOpcode,
            1002,
        ),
        (
            "unmasked to server",
            Role::Server,
            frame(0x81, None, b"x"),
            Error::UnmaskedFrame,
            1002,
        ),
        (
            "masked to client",
            Role::Client,
            cframe(0x81, b"x"),
            Error::MaskedFrame,
            1002,
        ),
        (
            "fragmented ping",
            Role::Server,
            ping(0x09),
            Error::InvalidControlFrame,
            1002,
        ),
        (
            "126-byte ping",
            Role::Server,
            big_ping,
            Error::InvalidControlFrame,
            1002,
        ),
        (
            "non-minimal 16-bit",
            Role::Client,
            vec![0x82, 126, 0, 5, 1, 2, 3, 4, 5],
            Error::NonMinimalLength,
            1002,
        ),
        (
            "non-minimal 64-bit",
            Role::Client,
            vec![0x82, 127, 0, 0, 0, 0, 0, 0, 1, 0],
            Error::NonMinimalLength,
            1002,
        ),
        (
            "2^63 length",
            Role::Client,
            vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
            Error::InvalidLength,
            1002,
        ),
        (
            "lone continuation",
            Role::Server,
            cframe(0x80, b"x"),
            Error::UnexpectedContinuation,
            1002,
        ),
        (
            "text inside fragmented message",
            Role::Server,
            [cframe(0x01, b"a"), cframe(0x81, b"b")].concat(),
            Error::ExpectedContinuation,
            1002,
        ),
        (
            "invalid utf-8",
            Role::Server,
            cframe(0x81, b"ok\xc0\xafok"),
            Error::InvalidUtf8,
            1007,
        ),
        (
            "utf-8 split invalid across fragments",
            Role::Server,
            [cframe(0x01, b"\xce"), cframe(0x80, b"x")].concat(),
            Error::InvalidUtf8,
            1007,
        ),
        (
            "truncated utf-8 at end",
            Role::Server,
            cframe(0x81, b"\xe2\x82"),
            Error::InvalidUtf8,
            1007,
        ),
        (
            "1-byte close",
            Role::Server,
            cframe(0x88, b"\x03"),
            Error::InvalidClosePayload,
            1002,
        ),
        (
            "close reason not utf-8",
            Role::Server,
            cframe(0x88, b"\x03\xe8\xff"),
            Error::InvalidUtf8,
            1007,
        ),
    ];
    for (name, role, bytes, err, code) in cases {
        for chunk in [1, 3, bytes.len()] {
            let mut c = conn(role, Config::default());
            let out = feed(&mut c, &bytes, chunk);
            assert_eq!(out.error, Some(err), "{name} (chunk {chunk})");
            assert_eq!(close_code_of(&out.transmitted), Some(code), "{name}");
            assert_eq!(c.state(), State::Closed, "{name}");
            // Later calls return the same error.
            assert_eq!(
                c.handle_input(T0, &mut [0x81]).map(|_| ()),
                Err(err),
                "{name}"
            );
        }
    }
}

#[test]
fn every_invalid_close_code_is_refused_and_every_valid_one_echoed() {
    for code in [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut c = server();
        let out = feed(&mut c, &cframe(0x88, &code.to_be_bytes()), 16);
        assert_eq!(out.error, Some(Error::InvalidCloseCode(code)));
        assert_eq!(close_code_of(&out.transmitted), Some(1002));
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut c = server();
        let body = [&code.to_be_bytes()[..], b"why"].concat();
        let out = feed(&mut c, &cframe(0x88, &body), 16);
        assert_eq!(out.error, None);
        assert_eq!(out.events, [Ev::Close(Some(code), "why".into())]);
        assert_eq!(close_code_of(&out.transmitted), Some(code));
        assert_eq!(c.state(), State::Closed);
    }
}

#[test]
fn utf8_fails_at_the_first_bad_byte_before_the_frame_ends() {
    // Only the first part of a long frame has arrived, and it is already invalid.
    let bytes = cframe(
        0x81,
        &[b"valid \xed\xa0\x80".as_slice(), &[b'a'; 1000]].concat(),
    );
    let mut c = server();
    let out = feed(&mut c, &bytes[..20], 20);
    assert_eq!(out.error, Some(Error::InvalidUtf8));
}

#[test]
fn size_limits_are_checked_from_the_header() {
    let config = Config {
        max_frame_size: 1000,
        max_message_size: 1500,
        ..Config::default()
    };
    // Only the header of an oversized frame: refused at once.
    let mut c = conn(Role::Server, config);
    let out = feed(&mut c, &cframe(0x82, &[0; 1001])[..8], 8);
    assert_eq!(
        (out.error, close_code_of(&out.transmitted)),
        (Some(Error::FrameTooLarge), Some(1009))
    );
    // A message over the limit made of small frames.
    let mut c = conn(Role::Server, config);
    let bytes = [
        cframe(0x02, &[0; 1000]),
        cframe(0x00, &[0; 400]),
        cframe(0x80, &[0; 101]),
    ]
    .concat();
    let out = feed(&mut c, &bytes, 4096);
    assert_eq!(
        (out.error, close_code_of(&out.transmitted)),
        (Some(Error::MessageTooLarge), Some(1009))
    );
    // Exactly at the limit is fine, and the count restarts with each message.
    let mut c = conn(Role::Server, config);
    let ok = [cframe(0x02, &[0; 1000]), cframe(0x80, &[0; 500])].concat();
    let out = feed(&mut c, &[ok.clone(), ok].concat(), 4096);
    assert_eq!((out.error, out.events.len()), (None, 2));
}

#[test]
fn control_frames_between_fragments() {
    let bytes = [
        cframe(0x01, b"Hel"),
        cframe(0x89, b"p"),
        cframe(0x00, b"l"),
        cframe(0x8a, b"q"),
        cframe(0x80, b"o"),
    ]
    .concat();
    let out = feed(&mut server(), &bytes, 5);
    assert_eq!(
        out.events,
        [
            Ev::Ping(b"p".to_vec()),
            Ev::Pong(b"q".to_vec()),
            Ev::Message(MessageKind::Text, b"Hello".to_vec())
        ]
    );
    let f = frames(&out.transmitted);
    assert_eq!(
        (f.len(), f[0].0.opcode, &f[0].1[..]),
        (1, OpCode::Pong, &b"p"[..])
    );
}

#[test]
fn every_ping_of_a_burst_gets_its_pong_in_order() {
    let bytes: Vec<u8> = (0..10)
        .flat_map(|i| cframe(0x89, format!("payload-{i}").as_bytes()))
        .collect();
    let out = feed(&mut server(), &bytes, bytes.len());
    let pongs: Vec<Vec<u8>> = frames(&out.transmitted)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let want: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("payload-{i}").into_bytes())
        .collect();
    assert_eq!(pongs, want);
}

#[test]
fn input_waits_for_a_pending_pong_instead_of_dropping_it() {
    let mut c = server();
    let mut bytes = [cframe(0x89, b"one"), cframe(0x89, b"two")].concat();
    let r = c.handle_input(T0, &mut bytes).unwrap();
    assert!(matches!(r.event, Some(Event::Ping(p)) if &*p == b"one"));
    let mut used = r.consumed;
    // Not drained: the next ping's header may be read, but not its payload.
    let r = c.handle_input(T0, &mut bytes[used..]).unwrap();
    assert_eq!(r.event, None);
    assert!(r.consumed <= 6);
    used += r.consumed;
    let r = c.handle_input(T0, &mut bytes[used..]).unwrap();
    assert_eq!((r.consumed, r.event), (0, None));
    assert!(c.wants_transmit());
    let mut sent = Vec::new();
    drain(&mut c, 1, &mut sent); // one byte at a time works too
    let r = c.handle_input(T0, &mut bytes[used..]).unwrap();
    assert!(matches!(r.event, Some(Event::Ping(p)) if &*p == b"two"));
    drain(&mut c, 1, &mut sent);
    let p: Vec<_> = frames(&sent).into_iter().map(|(_, p)| p).collect();
    assert_eq!(p, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn closing_handshake_initiated_by_either_side() {
    // The server closes first, the client answers, the server is done.
    let mut s = server();
    let mut c = client(3);
    let mut tx = [0u8; 256];
    let n = s.close(T0, 1001, "going", &mut tx).unwrap();
    assert_eq!(s.state(), State::Closing);
    assert_eq!(s.send_text("late", &mut tx[n..]), Err(Error::InvalidState));
    let out = feed(&mut c, &tx[..n], 3);
    assert_eq!(out.events, [Ev::Close(Some(1001), "going".into())]);
    assert_eq!(c.state(), State::Closed);
    let out = feed(&mut s, &out.transmitted, 2);
    assert_eq!(out.events, [Ev::Close(Some(1001), String::new())]);
    assert_eq!((s.state(), s.error()), (State::Closed, None));
    // Bytes after the close are ignored.
    assert_eq!(feed(&mut s, &cframe(0x81, b"x"), 8).events, []);

    // An empty close is answered with 1000.
    let mut s = server();
    let out = feed(&mut s, &cframe(0x88, b""), 8);
    assert_eq!(out.events, [Ev::Close(None, String::new())]);
    assert_eq!(close_code_of(&out.transmitted), Some(1000));

    // The application may replace the automatic reply.
    let mut s = server();
    let mut close = cframe(0x88, &4000u16.to_be_bytes());
    let r = s.handle_input(T0, &mut close).unwrap();
    assert!(matches!(
        r.event,
        Some(Event::Close {
            code: Some(4000),
            ..
        })
    ));
    let n = s.close(T0, 4001, "mine", &mut tx).unwrap();
    assert_eq!(close_code_of(&tx[..n]), Some(4001));
    assert_eq!(s.poll_transmit(&mut tx), Ok(0));
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn close_times_out_and_eof_is_reported() {
    let mut s = server();
    let mut tx = [0u8; 64];
    s.close(Instant::from_millis(100), 1000, "", &mut tx)
        .unwrap();
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, Instant::from_millis(100) + Duration::from_secs(5));
    s.handle_timeout(Instant::from_millis(200));
    s.handle_timeout(Instant::from_millis(200));
    assert_eq!(s.state(), State::Closing);
    s.handle_timeout(deadline);
    assert_eq!(
        (s.state(), s.error(), s.poll_timeout()),
        (State::Closed, Some(Error::CloseTimeout), None)
    );

    let mut s = server();
    assert_eq!(s.handle_eof(T0), Err(Error::UnexpectedEof));
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn sends_check_state_arguments_and_buffer_size() {
    let mut s = server();
    let mut tx = [0xaau8; 8];
    assert_eq!(
        s.send_text("too long for eight", &mut tx),
        Err(Error::BufferTooSmall { required: 20 })
    );
    assert_eq!(tx, [0xaa; 8]);
    assert_eq!(
        s.ping(&[0; 126], &mut [0; 200]),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        s.close(T0, 1005, "", &mut [0; 200]),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        s.close(T0, 1000, &"x".repeat(124), &mut [0; 200]),
        Err(Error::InvalidArgument)
    );
    let mut tx = [0u8; 64];
    s.send_fragment(MessageKind::Text, b"a", false, &mut tx)
        .unwrap();
    assert_eq!(
        s.send_fragment(MessageKind::Binary, b"b", true, &mut tx),
        Err(Error::InvalidState)
    );
    assert_eq!(s.send_text("c", &mut tx), Err(Error::InvalidState));
    let n = s
        .send_fragment(MessageKind::Text, b"b", true, &mut tx)
        .unwrap();
    assert_eq!(&tx[..n], &[0x80, 0x01, b'b']);
    assert_eq!(s.send_payload(b"x", &mut tx), Err(Error::InvalidState));
}

/// A 16 MiB message from a client streaming through a 64-byte write buffer to a
/// server reading through a 64-byte read buffer.
#[test]
fn sixteen_mib_through_64_byte_buffers() {
    let msg: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let mut c = client(9);
    let mut s = server();
    let mut wire = Vec::new();
    let mut tx = [0u8; 64];
    let n = c
        .begin_frame(MessageKind::Binary, msg.len() as u64, true, &mut tx)
        .unwrap();
    wire.extend_from_slice(&tx[..n]);
    let mut rest = &msg[..];
    while !rest.is_empty() {
        let n = c.send_payload(rest, &mut tx).unwrap();
        wire.extend_from_slice(&tx[..n]);
        rest = &rest[n..];
    }
    assert_eq!(c.payload_remaining(), 0);
    let mut got = Vec::with_capacity(msg.len());
    let mut done = false;
    for piece in wire.chunks(64) {
        let mut rx = [0u8; 64];
        let rx = &mut rx[..piece.len()];
        rx.copy_from_slice(piece);
        let mut off = 0;
        while off < rx.len() {
            let r = s.handle_input(T0, &mut rx[off..]).unwrap();
            off += r.consumed;
            if let Some(Event::Data { data, fin, .. }) = r.event {
                got.extend_from_slice(data);
                done |= fin;
            }
        }
    }
    assert!(done);
    assert!(got == msg);
}

#[test]
fn server_writes_payload_itself_without_copy() {
    let mut s = server();
    let mut tx = [0u8; 14];
    let n = s
        .begin_frame(MessageKind::Binary, 300, true, &mut tx)
        .unwrap();
    assert_eq!(&tx[..n], &[0x82, 126, 0x01, 0x2c]);
    assert_eq!(s.poll_transmit(&mut tx), Ok(0));
    assert_eq!(s.payload_written(301), Err(Error::InvalidArgument));
    s.payload_written(300).unwrap();
    assert_eq!(s.send_binary(b"next", &mut [0; 16]), Ok(6));
    let mut c = client(1);
    assert_eq!(c.payload_written(1), Err(Error::InvalidState));
}

/// Found by fuzzing: an empty frame whose masking key has not arrived yet must
/// wait for it, in every split.
#[test]
fn empty_frame_split_inside_its_mask() {
    let bytes = [0x81, 0x80, 1, 2, 3, 4];
    for chunk in 1..=bytes.len() {
        let out = feed(&mut server(), &bytes, chunk);
        assert_eq!(
            out.events,
            [Ev::Message(MessageKind::Text, Vec::new())],
            "chunk {chunk}"
        );
    }
    let mut s = server();
    let mut head = [0x81, 0x80];
    let r = s.handle_input(T0, &mut head).unwrap();
    assert_eq!((r.consumed, r.event), (2, None));
}

#[test]
fn client_frames_are_masked_with_fresh_keys() {
    let mut c: Connection<_> = client(5);
    let mut tx = [0u8; 64];
    let n1 = c.send_text("same", &mut tx).unwrap();
    let f1 = frames(&tx[..n1]);
    let n2 = c.send_text("same", &mut tx).unwrap();
    let f2 = frames(&tx[..n2]);
    assert_eq!((&f1[0].1[..], &f2[0].1[..]), (&b"same"[..], &b"same"[..]));
    assert_ne!(f1[0].0.mask, f2[0].0.mask);
    // And the server reads them back.
    let out = feed(&mut server(), &tx[..n2], 1);
    assert_eq!(
        out.events,
        [Ev::Message(MessageKind::Text, b"same".to_vec())]
    );
}
