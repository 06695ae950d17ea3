//! The catalogue of hostile Engine.IO input, each case with its expected
//! answer: the typed error, the HTTP status (and JSON code) or WebSocket close
//! code, whether the session survives, and that memory stays within the
//! configured bounds (the session allocates nothing; its queue is the storage
//! the caller lent).
//!
//! The HTTP head and WebSocket framing cases are in `tests/bad_input.rs`.

use sockwire::engineio::{
    CloseReason, Config, Data, Error, Payload, Route, Session, SessionEvent as Event, Transport,
    route,
};
use sockwire::entropy::SplitMix64;
use sockwire::http::{Limits, Request};
use sockwire::time::Instant;
use sockwire::ws::{self, Assembler};

const NOW: Instant = Instant::from_millis(0);

fn polling_session(storage: usize) -> Session<Vec<u8>> {
    let mut s = Session::open(
        NOW,
        Transport::Polling,
        Config::default(),
        vec![0u8; storage],
        &mut SplitMix64::new(5),
    )
    .unwrap();
    // Answer the handshake GET.
    let mut out = [0u8; 512];
    assert!(s.poll_http(&mut out).unwrap() > 0);
    s
}

/// Feeds a POST body; returns the messages delivered, how many `read_message`
/// calls it took, and the final result.
fn post(s: &mut Session<Vec<u8>>, body: &mut [u8]) -> (usize, usize, Result<(), Error>) {
    let mut payload = match s.handle_post(NOW, body) {
        Ok(p) => p,
        Err(e) => return (0, 0, Err(e)),
    };
    let (mut messages, mut calls) = (0, 0);
    loop {
        calls += 1;
        match s.read_message(NOW, &mut payload) {
            Ok(Some(_)) => messages += 1,
            Ok(None) => return (messages, calls, Ok(())),
            Err(e) => return (messages, calls, Err(e)),
        }
    }
}

fn route_of(head: &[u8]) -> Result<Route<'_>, Error> {
    let req = Request::parse(head, &Limits::default()).map_err(Error::from)?;
    route(&req, &Config::default())
}

fn status_and_body(e: Error) -> (u16, String) {
    let mut out = [0u8; 256];
    let n = e.write_response(&mut out).unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text.split("\r\n\r\n").nth(1).unwrap().to_owned())
}

// ------------------------------------------------------ polling bodies

#[test]
fn a_body_of_a_million_separators_fails_at_the_first_empty_packet() {
    let mut s = polling_session(1024);
    let mut body = vec![0x1e; 999_999];
    let (messages, calls, r) = post(&mut s, &mut body);
    assert_eq!((messages, calls), (0, 1), "stops at the first record");
    assert_eq!(r, Err(Error::InvalidPacket));
    assert_eq!(status_and_body(Error::InvalidPacket).0, 400);
    assert_eq!(
        s.poll_event(),
        Some(Event::Closed(CloseReason::ParseError(Error::InvalidPacket)))
    );
    // The Payload iterator on its own also stops after the error.
    let mut body = vec![0x1e; 1000];
    assert_eq!(Payload::new(&mut body).count(), 1);
}

#[test]
fn a_third_of_a_million_noops_are_consumed_without_growth() {
    let mut s = polling_session(1024);
    let free = s.queue_free();
    let mut body = b"6\x1e".repeat(333_333);
    body.pop();
    let (messages, _, r) = post(&mut s, &mut body);
    assert_eq!((messages, r), (0, Ok(())));
    assert!(!s.is_closed());
    assert_eq!(s.queue_free(), free, "nothing was queued in answer");
}

#[test]
fn half_a_million_empty_messages_are_each_delivered_and_nothing_is_kept() {
    let mut s = polling_session(1024);
    let free = s.queue_free();
    let mut body = b"4\x1e".repeat(499_999);
    body.extend_from_slice(b"4");
    let mut payload = s.handle_post(NOW, &mut body).unwrap();
    let mut n = 0;
    while let Some(d) = s.read_message(NOW, &mut payload).unwrap() {
        assert_eq!(d, Data::Text(""));
        n += 1;
    }
    assert_eq!(n, 500_000);
    assert_eq!(s.queue_free(), free);
}

#[test]
fn a_body_over_max_payload_is_413_before_any_packet_is_read() {
    let mut s = polling_session(1024);
    let mut body = vec![b'4'; 1_000_001];
    assert_eq!(post(&mut s, &mut body).2, Err(Error::PayloadTooLarge));
    assert_eq!(Error::PayloadTooLarge.http_status(), Some(413));
    assert!(!s.is_closed(), "the session goes on");
    assert_eq!(post(&mut s, &mut b"4ok".to_vec()), (1, 2, Ok(())));
}

#[test]
fn bad_base64_is_invalid_base64_with_400_and_closes_the_session() {
    let cases: &[&[u8]] = &[
        b"b!!!!",
        b"bA",
        b"bAQ=IDBA",
        b"b====",
        b"bAQIDBA===",
        b"bAQID BA==",
        "bAQIDBA\u{e9}=".as_bytes(),
        b"bAQIDBA\x00",
        // Padding in the middle of a long text (past the decoder's chunking).
        &[b"b".as_slice(), &[b'A'; 100], b"=", &[b'A'; 99]].concat(),
    ];
    for &case in cases {
        let mut s = polling_session(1024);
        let (messages, _, r) = post(&mut s, &mut case.to_vec());
        assert_eq!(
            (messages, r),
            (0, Err(Error::InvalidBase64)),
            "{:?}",
            String::from_utf8_lossy(case)
        );
        assert_eq!(Error::InvalidBase64.http_status(), Some(400));
        assert!(s.is_closed());
    }
}

#[test]
fn invalid_packets_in_a_body_are_400_and_close_the_session() {
    let cases: &[(&[u8], Error)] = &[
        (b"", Error::InvalidPacket),
        (b"7", Error::InvalidPacket),
        (b"abc", Error::InvalidPacket),
        (b"4\xff\xfe", Error::InvalidPacket),
        (b"4ok\x1e\xc3", Error::InvalidPacket),
        (b"4ok\x1e", Error::InvalidPacket),
        (b"2", Error::InvalidHeartbeat),
    ];
    for &(body, want) in cases {
        let mut s = polling_session(1024);
        let (_, _, r) = post(&mut s, &mut body.to_vec());
        assert_eq!(r, Err(want), "{body:?}");
        assert_eq!(want.http_status(), Some(400));
        assert!(s.is_closed(), "{body:?}");
    }
}

// ------------------------------------------------------ sids and transports

#[test]
fn unknown_sids_are_400_code_1() {
    let s = polling_session(1024);
    let long = "A".repeat(4000);
    let heads = [
        "GET /engine.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!("GET /engine.io/?EIO=4&transport=polling&sid={long} HTTP/1.1\r\nHost: x\r\n\r\n"),
        "POST /engine.io/?EIO=4&transport=polling&sid=%00%ff HTTP/1.1\r\nHost: x\r\n\r\n"
            .to_owned(),
        "GET /engine.io/?EIO=4&transport=polling&sid=\u{e9}\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n"
            .to_owned(),
    ];
    for head in &heads {
        let sid = match route_of(head.as_bytes()) {
            Ok(Route::Poll(sid) | Route::Post(sid)) => sid,
            // A raw non-ASCII target is refused by the HTTP parser already.
            Err(e @ Error::Http(_)) => {
                assert_eq!(e.http_status(), Some(400), "{head}");
                continue;
            }
            other => panic!("{head}: {other:?}"),
        };
        // The application's table lookup misses.
        assert!(*s.sid() != *sid);
        assert_eq!(
            status_and_body(Error::UnknownSid),
            (400, r#"{"code":1,"message":"Session ID unknown"}"#.into())
        );
    }
}

#[test]
fn wrong_transports_are_refused_with_their_codes() {
    let up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    let cases: &[(&str, &str, &str, u16, Option<u8>)] = &[
        ("GET", "EIO=4&transport=", "", 400, Some(0)),
        ("GET", "EIO=4&transport=POLLING", "", 400, Some(0)),
        ("GET", "EIO=4&transport=flashsocket", "", 400, Some(0)),
        ("GET", "EIO=4&transport=constructor", "", 400, Some(0)),
        ("GET", "EIO=4&transport=websocket", "", 400, Some(3)),
        (
            "POST",
            "EIO=4&transport=websocket&sid=abc",
            up,
            400,
            Some(3),
        ),
        ("GET", "EIO=4&transport=websocket&sid=abc", "", 400, Some(3)),
        (
            "DELETE",
            "EIO=4&transport=polling&sid=abc",
            "",
            400,
            Some(3),
        ),
        ("PUT", "EIO=4&transport=polling", "", 400, Some(2)),
        ("GET", "EIO=4&&&&transport=polling&EIO=5", "", 0, None),
        (
            "GET",
            "EIO=99999999999999999999&transport=polling",
            "",
            400,
            Some(5),
        ),
        ("GET", "EIO=04&transport=polling", "", 400, Some(5)),
    ];
    for &(method, query, extra, status, code) in cases {
        let head = format!("{method} /engine.io/?{query} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        match route_of(head.as_bytes()) {
            Ok(r) => assert_eq!(status, 0, "{method} {query}: routed as {r:?}"),
            Err(e) => {
                assert_eq!(
                    (e.http_status(), e.code()),
                    (Some(status), code),
                    "{method} {query}: {e:?}"
                );
            }
        }
    }
    // Polling requests for a session that runs on WebSocket are bad requests;
    // the session is not harmed.
    let mut s = Session::open(
        NOW,
        Transport::WebSocket,
        Config::default(),
        vec![0u8; 1024],
        &mut SplitMix64::new(1),
    )
    .unwrap();
    assert_eq!(s.handle_poll(NOW), Err(Error::BadRequest));
    assert_eq!(
        s.handle_post(NOW, &mut b"4x".to_vec()).err(),
        Some(Error::BadRequest)
    );
    assert_eq!(s.handle_upgrade(NOW), Err(Error::BadRequest));
    assert!(!s.is_closed());
}

#[test]
fn a_path_outside_the_engine_io_prefix_is_404() {
    let e = route_of(b"GET /engine.iox?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_err();
    assert_eq!((e, e.http_status()), (Error::NotFound, Some(404)));
}

// ------------------------------------------------------ the WebSocket transport

fn ws_session(max_payload: usize) -> (Session<Vec<u8>>, ws::Connection<SplitMix64>) {
    let cfg = Config {
        max_payload,
        ..Config::default()
    };
    let s = Session::open(
        NOW,
        Transport::WebSocket,
        cfg,
        vec![0u8; 1024],
        &mut SplitMix64::new(2),
    )
    .unwrap();
    (
        s,
        ws::Connection::client(ws::Config::default(), SplitMix64::new(4)),
    )
}

fn feed_text(
    s: &mut Session<Vec<u8>>,
    c: &mut ws::Connection<SplitMix64>,
    t: &[u8],
) -> Result<(), Error> {
    let mut wire = vec![0u8; t.len() + 14];
    // Build the frame by hand so invalid UTF-8 can be sent.
    let n = c
        .send_fragment(ws::MessageKind::Binary, t, true, &mut wire)
        .unwrap();
    wire[0] = (wire[0] & 0xf0) | 0x1; // text opcode
    let mut asm = Assembler::new(vec![0u8; 4096]);
    let mut off = 0;
    while off < n {
        off += s
            .handle_ws_input(NOW, &mut wire[off..n], &mut asm)?
            .consumed;
    }
    Ok(())
}

#[test]
fn websocket_faults_close_with_their_codes() {
    // Invalid UTF-8 in a text frame: the WebSocket layer's 1007.
    let (mut s, mut c) = ws_session(1000);
    let e = feed_text(&mut s, &mut c, b"4\xff").unwrap_err();
    assert!(
        matches!(e, Error::WebSocket(w) if w.close_code() == Some(1007)),
        "{e:?}"
    );
    assert!(s.is_closed());
    // An empty text message or an unknown type: an invalid Engine.IO packet.
    // The frame is consumed (the closing handshake can still be read) and
    // the session's Closed event says why.
    for bad in [b"".as_slice(), b"9", b"x", b"bAQIDBA=="] {
        let (mut s, mut c) = ws_session(1000);
        assert_eq!(feed_text(&mut s, &mut c, bad), Ok(()), "{bad:?}");
        assert!(s.is_closed());
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed(CloseReason::ParseError(Error::InvalidPacket)))
        );
    }
    // Over max_payload: 1009, decided from the frame header.
    let (mut s, mut c) = ws_session(10);
    let e = feed_text(&mut s, &mut c, b"4hello world").unwrap_err();
    assert!(
        matches!(e, Error::WebSocket(w) if w.close_code() == Some(1009)),
        "{e:?}"
    );
    // A client heartbeat ping over WebSocket is the wrong direction.
    let (mut s, mut c) = ws_session(1000);
    assert_eq!(feed_text(&mut s, &mut c, b"2"), Ok(()));
    assert_eq!(
        s.poll_event(),
        Some(Event::Closed(CloseReason::TransportError(
            Error::InvalidHeartbeat
        )))
    );
}

#[test]
fn a_bad_probe_never_closes_the_polling_session() {
    for bad in [
        b"2notprobe".as_slice(),
        b"4hello",
        b"5",
        b"1",
        b"abc",
        b"\xff",
    ] {
        let mut s = polling_session(1024);
        s.handle_upgrade(NOW).unwrap();
        let mut c = ws::Connection::client(ws::Config::default(), SplitMix64::new(4));
        let _ = feed_text(&mut s, &mut c, bad);
        assert!(!s.is_closed(), "{bad:?}");
        assert_eq!(s.transport(), Transport::Polling);
        assert_eq!(post(&mut s, &mut b"4still".to_vec()), (1, 2, Ok(())));
    }
}

// ------------------------------------------------------ memory

#[test]
fn memory_is_the_session_plus_the_lent_storage() {
    // No allocation: a session is its size_of plus the queue storage the
    // caller chose; the figure is printed for the README.
    let size = size_of::<Session<[u8; 0]>>();
    eprintln!("size_of::<engineio::Session<[u8; 0]>>() = {size}");
    // 768 B on x86_64 without `deflate`; with it (as the tests build) the
    // session also holds its optional compression state (boxed windows).
    let bound = if cfg!(feature = "deflate") { 800 } else { 768 };
    assert!(size <= bound, "{size}");
    // A flood of sends against 512 bytes of storage: refused when full, never
    // grown, and everything accepted comes out.
    let mut s = polling_session(512);
    let mut accepted = 0;
    while s.send_binary(&[7u8; 40]).is_ok() {
        accepted += 1;
    }
    assert_eq!(s.send_binary(&[7u8; 40]), Err(Error::QueueFull));
    assert!(s.queue_free() < 45);
    s.handle_poll(NOW).unwrap();
    let mut out = vec![0u8; 4096];
    let n = s.poll_http(&mut out).unwrap();
    let body_at = out[..n].windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let got = Payload::new(&mut out[body_at..n]).count();
    assert_eq!(got, accepted);
    assert_eq!(s.queue_free(), 512);
}
