//! Engine.IO v4 server sessions driven on a virtual clock: every conformance
//! behaviour of the reference server's protocol test suite (handshake, messages,
//! heartbeat, close, upgrade) at the Sans-IO level, on both transports, plus the
//! bounded-queue and buffer contracts. Runs in microseconds: no sockets, no
//! sleeping.

use sockwire::engineio::{
    CloseReason, Config, Data, Error, Packet, Payload, Route, Session, SessionEvent as Event,
    Transport, route,
};
use sockwire::entropy::SplitMix64;
use sockwire::http::{Limits, Request};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, Assembler, MessageKind};

const INTERVAL: u64 = 300;
const TIMEOUT: u64 = 200;

fn config() -> Config {
    Config {
        ping_interval: Duration::from_millis(INTERVAL),
        ping_timeout: Duration::from_millis(TIMEOUT),
        upgrade_timeout: Duration::from_millis(1000),
        ..Config::default()
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// An owned packet, as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum P {
    Open(String),
    Close,
    Ping(String),
    Pong(String),
    Text(String),
    Binary(Vec<u8>),
    Upgrade,
    Noop,
}

fn own(p: Packet<'_>) -> P {
    match p {
        Packet::Open(j) => P::Open(j.into()),
        Packet::Close => P::Close,
        Packet::Ping(d) => P::Ping(d.into()),
        Packet::Pong(d) => P::Pong(d.into()),
        Packet::Message(Data::Text(t)) => P::Text(t.into()),
        Packet::Message(Data::Binary(b)) => P::Binary(b.to_vec()),
        Packet::Upgrade => P::Upgrade,
        Packet::Noop => P::Noop,
    }
}

fn own_data(d: Data<'_>) -> P {
    own(Packet::Message(d))
}

fn text(s: &str) -> P {
    P::Text(s.into())
}

/// A session plus the test's view of its held GET and its WebSocket client.
struct Harness {
    s: Session<Vec<u8>>,
    now: Instant,
    ws: Option<ws::Connection<SplitMix64>>,
    asm: Assembler<Vec<u8>>,
}

impl Harness {
    fn open(transport: Transport) -> Self {
        Self::open_with(transport, config(), 4096)
    }

    fn open_with(transport: Transport, config: Config, storage: usize) -> Self {
        let s = Session::open(
            at(0),
            transport,
            config,
            vec![0u8; storage],
            &mut SplitMix64::new(9),
        )
        .expect("open");
        let ws = (transport == Transport::WebSocket).then(ws_client);
        Harness {
            s,
            now: at(0),
            ws,
            asm: Assembler::new(vec![0u8; 1 << 20]),
        }
    }

    fn advance_to(&mut self, ms: u64) {
        self.now = at(ms);
        self.s.handle_timeout(self.now);
        if let Some(t) = self.s.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not after now {:?}",
                self.now
            );
        }
    }

    /// The held GET's answer, if the session gives one now.
    fn http_answer(&mut self) -> Option<(u16, Vec<P>)> {
        let mut out = vec![0u8; 1 << 21];
        let n = self.s.poll_http(&mut out).expect("poll_http");
        (n > 0).then(|| parse_poll_response(&mut out[..n]))
    }

    /// A GET: held, then answered at once if anything is queued.
    fn get(&mut self) -> Result<Option<Vec<P>>, Error> {
        self.s.handle_poll(self.now)?;
        Ok(self.http_answer().map(|(status, packets)| {
            assert_eq!(status, 200);
            packets
        }))
    }

    /// A POST: the messages it carried, or the error it is answered with.
    fn post(&mut self, body: &[u8]) -> Result<Vec<P>, Error> {
        let mut body = body.to_vec();
        let mut payload = self.s.handle_post(self.now, &mut body)?;
        let mut got = Vec::new();
        while let Some(d) = self.s.read_message(self.now, &mut payload)? {
            got.push(own_data(d));
        }
        Ok(got)
    }

    /// The client sends one WebSocket text message; the messages the session
    /// delivered, or its error.
    fn ws_send_text(&mut self, t: &str) -> Result<Vec<P>, Error> {
        let mut buf = vec![0u8; t.len() + 14];
        let n = self
            .ws
            .as_mut()
            .unwrap()
            .send_text(t, &mut buf)
            .expect("client send");
        self.ws_feed(&mut buf[..n])
    }

    fn ws_send_binary(&mut self, b: &[u8]) -> Result<Vec<P>, Error> {
        let mut buf = vec![0u8; b.len() + 14];
        let n = self
            .ws
            .as_mut()
            .unwrap()
            .send_binary(b, &mut buf)
            .expect("client send");
        self.ws_feed(&mut buf[..n])
    }

    fn ws_feed(&mut self, bytes: &mut [u8]) -> Result<Vec<P>, Error> {
        let mut got = Vec::new();
        let mut off = 0;
        while off < bytes.len() {
            let r = self
                .s
                .handle_ws_input(self.now, &mut bytes[off..], &mut self.asm)?;
            assert!(r.consumed > 0, "no progress");
            off += r.consumed;
            if let Some(d) = r.message {
                got.push(own_data(d));
            }
        }
        Ok(got)
    }

    /// Everything the session writes to its WebSocket, decoded by the client:
    /// Engine.IO packets, and whether a close frame came (with its code).
    fn ws_recv(&mut self) -> (Vec<P>, Option<Option<u16>>) {
        let mut wire = Vec::new();
        let mut out = [0u8; 4096];
        loop {
            let n = self.s.poll_ws(&mut out).expect("poll_ws");
            if n == 0 {
                break;
            }
            wire.extend_from_slice(&out[..n]);
        }
        let client = self.ws.as_mut().expect("a client");
        let (mut packets, mut close) = (Vec::new(), None);
        let mut msg: Vec<u8> = Vec::new();
        let mut off = 0;
        while off < wire.len() {
            let r = client
                .handle_input(self.now, &mut wire[off..])
                .expect("client input");
            off += r.consumed;
            match r.event {
                Some(ws::Event::Data { kind, data, fin }) => {
                    msg.extend_from_slice(data);
                    if fin {
                        packets.push(match kind {
                            MessageKind::Text => {
                                own(Packet::decode_text(std::str::from_utf8(&msg).unwrap())
                                    .unwrap())
                            }
                            MessageKind::Binary => P::Binary(msg.clone()),
                        });
                        msg.clear();
                    }
                }
                Some(ws::Event::Close { code, .. }) => close = Some(code),
                _ => {}
            }
        }
        (packets, close)
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }
}

fn ws_client() -> ws::Connection<SplitMix64> {
    ws::Connection::client(ws::Config::default(), SplitMix64::new(3))
}

/// Splits an HTTP response into its status and its decoded polling payload.
fn parse_poll_response(resp: &mut [u8]) -> (u16, Vec<P>) {
    let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = std::str::from_utf8(&resp[..head_end]).unwrap().to_owned();
    let status: u16 = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let body = &mut resp[head_end..];
    assert_eq!(body.len(), len, "Content-Length matches the body");
    if status == 200 {
        assert!(
            head.contains("Content-Type: text/plain; charset=UTF-8\r\n"),
            "{head}"
        );
    }
    let packets = Payload::new(body)
        .map(|p| own(p.expect("valid payload")))
        .collect();
    (status, packets)
}

fn open_json(packets: &[P]) -> String {
    match packets {
        [P::Open(j)] => j.clone(),
        other => panic!("expected the open packet, got {other:?}"),
    }
}

fn status_of(e: Error) -> u16 {
    e.http_status().expect("a refusal has a status")
}

fn refusal_body(e: Error) -> String {
    let mut out = [0u8; 256];
    let n = e.write_response(&mut out).unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    text.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

// ------------------------------------------------------------------ handshake

#[test]
fn polling_handshake_answers_the_open_packet() {
    let mut h = Harness::open(Transport::Polling);
    let (status, packets) = h.http_answer().expect("the handshake GET is answered");
    assert_eq!(status, 200);
    let json = open_json(&packets);
    let sid = h.s.sid().as_str().to_owned();
    assert_eq!(sid.len(), 20);
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        json,
        format!(
            r#"{{"sid":"{sid}","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}}"#
        )
    );
    // Nothing more until something is queued.
    assert_eq!(h.get(), Ok(None));
}

#[test]
fn websocket_handshake_sends_the_open_packet_with_no_upgrades() {
    let mut h = Harness::open(Transport::WebSocket);
    let (packets, close) = h.ws_recv();
    assert_eq!(close, None);
    let json = open_json(&packets);
    assert!(json.contains(r#""upgrades":[]"#), "{json}");
    // Polling requests for a WebSocket session are bad requests.
    assert_eq!(h.s.handle_poll(h.now), Err(Error::BadRequest));
    assert_eq!(h.post(b"4x"), Err(Error::BadRequest));
}

#[test]
fn sids_differ_between_sessions() {
    let mut e = SplitMix64::new(1);
    let a = Session::open(at(0), Transport::Polling, config(), [0u8; 512], &mut e).unwrap();
    let b = Session::open(at(0), Transport::Polling, config(), [0u8; 512], &mut e).unwrap();
    assert_ne!(a.sid(), b.sid());
}

#[test]
fn requests_are_routed_and_refused_like_the_reference_server() {
    let cfg = Config::default();
    let r = |head: &str| {
        let req = Request::parse(head.as_bytes(), &Limits::default()).unwrap();
        route(&req, &cfg).map(|r| format!("{r:?}"))
    };
    let req = |m: &str, q: &str| format!("{m} /engine.io/?{q} HTTP/1.1\r\nHost: x\r\n\r\n");
    let cases: &[(&str, &str, u16, &str)] = &[
        (
            "GET",
            "EIO=abc&transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "EIO=3&transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=abc",
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "POST",
            "EIO=4&transport=polling",
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=websocket",
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
    ];
    for &(m, q, status, body) in cases {
        let e = r(&req(m, q)).unwrap_err();
        assert_eq!(
            (status_of(e), refusal_body(e).as_str()),
            (status, body),
            "{m} {q}"
        );
    }
    assert_eq!(
        refusal_body(Error::UnknownSid),
        r#"{"code":1,"message":"Session ID unknown"}"#
    );
    assert_eq!(
        r(&req("GET", "EIO=4&transport=polling&t=NzX1")).unwrap(),
        "Handshake(Polling)"
    );
    assert!(matches!(
        route(
            &Request::parse(
                b"GET /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\r\n",
                &Limits::default()
            )
            .unwrap(),
            &cfg
        ),
        Ok(Route::Poll("abc"))
    ));
}

// ------------------------------------------------------------------ messages

#[test]
fn polling_carries_text_and_binary_in_both_directions() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.post(b"4hello"), Ok(vec![text("hello")]));
    assert_eq!(
        h.post(b"4test1\x1e4test2\x1e4test3"),
        Ok(vec![text("test1"), text("test2"), text("test3")])
    );
    assert_eq!(
        h.post(b"4hello\x1ebAQIDBA=="),
        Ok(vec![text("hello"), P::Binary(vec![1, 2, 3, 4])])
    );
    h.s.send_text("test1").unwrap();
    h.s.send_text("tést2 ✓").unwrap();
    h.s.send_binary(&[1, 2, 3, 4]).unwrap();
    assert_eq!(
        h.get(),
        Ok(Some(vec![
            text("test1"),
            text("tést2 ✓"),
            P::Binary(vec![1, 2, 3, 4])
        ]))
    );
    // A GET that waits is answered when the next message is queued.
    assert_eq!(h.get(), Ok(None));
    assert!(h.s.has_held_poll());
    h.s.send_text("later").unwrap();
    assert_eq!(h.http_answer(), Some((200, vec![text("later")])));
}

#[test]
fn websocket_carries_text_and_binary_in_both_directions() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    assert_eq!(h.ws_send_text("4hello"), Ok(vec![text("hello")]));
    assert_eq!(
        h.ws_send_binary(&[1, 2, 3, 4]),
        Ok(vec![P::Binary(vec![1, 2, 3, 4])])
    );
    h.s.send_text("hello").unwrap();
    h.s.send_binary(&[1, 2, 3, 4]).unwrap();
    assert_eq!(
        h.ws_recv(),
        (vec![text("hello"), P::Binary(vec![1, 2, 3, 4])], None)
    );
}

#[test]
fn websocket_messages_split_across_reads_and_fragments_are_assembled() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    let big: String = "abcdefghijklmnopqrstuvwxyzé".repeat(5000);
    let msg = format!("4{big}");
    let mut wire = vec![0u8; msg.len() + 14];
    let n = h.ws.as_mut().unwrap().send_text(&msg, &mut wire).unwrap();
    // Feed it 7 bytes at a time: the session assembles the pieces.
    let mut got = Vec::new();
    for chunk in wire[..n].chunks(7) {
        got.extend(h.ws_feed(&mut chunk.to_vec()).unwrap());
    }
    assert_eq!(got, vec![P::Text(big.clone())]);
    // A message in three fragments (split inside a code point).
    let mut wire = vec![0u8; 64];
    let c = h.ws.as_mut().unwrap();
    let mut n = c
        .send_fragment(MessageKind::Text, b"4h\xc3", false, &mut wire)
        .unwrap();
    n += c
        .send_fragment(MessageKind::Text, b"\xa9ll", false, &mut wire[n..])
        .unwrap();
    n += c
        .send_fragment(MessageKind::Text, b"o", true, &mut wire[n..])
        .unwrap();
    assert_eq!(h.ws_feed(&mut wire[..n]), Ok(vec![text("héllo")]));
}

#[test]
fn an_invalid_packet_on_polling_closes_the_session_with_400() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    let e = h.post(b"abc").unwrap_err();
    assert_eq!(e, Error::InvalidPacket);
    assert_eq!(status_of(e), 400);
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::ParseError(Error::InvalidPacket))]
    );
    assert!(h.s.is_finished());
    // The application drops the session: the next GET gets "Session ID unknown".
    assert_eq!(h.s.handle_poll(h.now), Err(Error::InvalidState));
}

#[test]
fn the_messages_before_an_invalid_packet_are_delivered() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    let mut body = b"4one\x1e4two\x1e9bad\x1e4never".to_vec();
    let mut payload = h.s.handle_post(h.now, &mut body).unwrap();
    assert_eq!(
        h.s.read_message(h.now, &mut payload),
        Ok(Some(Data::Text("one")))
    );
    assert_eq!(
        h.s.read_message(h.now, &mut payload),
        Ok(Some(Data::Text("two")))
    );
    assert_eq!(
        h.s.read_message(h.now, &mut payload),
        Err(Error::InvalidPacket)
    );
    assert_eq!(h.s.read_message(h.now, &mut payload), Ok(None));
}

#[test]
fn bad_base64_closes_the_session() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.post(b"bAQ!DBA=="), Err(Error::InvalidBase64));
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::ParseError(Error::InvalidBase64))]
    );
}

#[test]
fn an_invalid_packet_on_websocket_closes_the_session_and_the_socket() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    assert_eq!(h.ws_send_text("abc"), Ok(vec![]));
    // A close packet, then the closing handshake.
    let (packets, close) = h.ws_recv();
    assert_eq!(packets, [P::Close]);
    assert_eq!(close, Some(None));
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::ParseError(Error::InvalidPacket))]
    );
}

#[test]
fn a_websocket_message_over_max_payload_is_1009() {
    let cfg = Config {
        max_payload: 100,
        ..config()
    };
    let mut h = Harness::open_with(Transport::WebSocket, cfg, 4096);
    let _ = h.ws_recv();
    let e = h
        .ws_send_text(&format!("4{}", "x".repeat(100)))
        .unwrap_err();
    let Error::WebSocket(we) = e else {
        panic!("{e:?}")
    };
    assert_eq!(we.close_code(), Some(1009));
    assert_eq!(h.ws_recv().1, Some(Some(1009)));
    assert!(h.s.is_closed());
}

#[test]
fn a_post_over_max_payload_is_413_and_the_session_goes_on() {
    let cfg = Config {
        max_payload: 10,
        ..config()
    };
    let mut h = Harness::open_with(Transport::Polling, cfg, 4096);
    let _ = h.http_answer();
    let e = h.post(b"4hello world").unwrap_err();
    assert_eq!((e, status_of(e)), (Error::PayloadTooLarge, 413));
    assert_eq!(h.post(b"4hello"), Ok(vec![text("hello")]));
    assert!(!h.s.is_closed());
}

#[test]
fn a_second_get_closes_the_session() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.get(), Ok(None));
    let e = h.s.handle_poll(h.now).unwrap_err();
    assert_eq!((e, status_of(e)), (Error::DuplicatePoll, 400));
    // The waiting GET is answered with a close packet.
    assert_eq!(h.http_answer(), Some((200, vec![P::Close])));
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::TransportError(
            Error::DuplicatePoll
        ))]
    );
    assert!(h.s.is_finished());
}

#[test]
fn a_cancelled_get_closes_the_session() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.get(), Ok(None));
    h.s.handle_poll_aborted(h.now);
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::TransportError(
            Error::PollAborted
        ))]
    );
    assert!(h.s.is_finished());
    // Harmless when nothing is held.
    h.s.handle_poll_aborted(h.now);
    assert_eq!(h.events(), []);
}

#[test]
fn a_client_ping_is_the_wrong_heartbeat_direction() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.post(b"2"), Err(Error::InvalidHeartbeat));
    assert!(h.s.is_closed());
}

// ------------------------------------------------------------------ heartbeat

#[test]
fn polling_heartbeat_pings_every_interval_while_pongs_come() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    let mut t = 0;
    for _ in 0..3 {
        assert_eq!(h.get(), Ok(None));
        assert_eq!(h.s.poll_timeout(), Some(at(t + INTERVAL)));
        // Early and repeated timeouts change nothing.
        h.advance_to(t + INTERVAL - 1);
        h.advance_to(t + INTERVAL - 1);
        assert_eq!(h.http_answer(), None);
        t += INTERVAL;
        h.advance_to(t);
        assert_eq!(h.http_answer(), Some((200, vec![P::Ping(String::new())])));
        assert_eq!(h.s.poll_timeout(), Some(at(t + TIMEOUT)));
        t += 50;
        h.advance_to(t);
        assert_eq!(h.post(b"3"), Ok(vec![]));
    }
    assert!(!h.s.is_closed());
}

#[test]
fn polling_ping_timeout_closes_the_session() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.advance_to(INTERVAL);
    h.advance_to(INTERVAL + TIMEOUT - 1);
    assert!(!h.s.is_closed());
    h.advance_to(INTERVAL + TIMEOUT);
    assert_eq!(h.events(), [Event::Closed(CloseReason::PingTimeout)]);
    assert!(h.s.is_finished(), "no GET held: nothing left to write");
    assert_eq!(h.s.poll_timeout(), None);
}

#[test]
fn ping_timeout_answers_a_waiting_get_with_close() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.advance_to(INTERVAL);
    assert_eq!(h.get(), Ok(Some(vec![P::Ping(String::new())])));
    assert_eq!(h.get(), Ok(None));
    h.advance_to(INTERVAL + TIMEOUT);
    assert_eq!(h.http_answer(), Some((200, vec![P::Close])));
    assert!(h.s.is_finished());
}

#[test]
fn websocket_heartbeat_and_ping_timeout() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    let mut t = 0;
    for _ in 0..3 {
        t += INTERVAL;
        h.advance_to(t);
        assert_eq!(h.ws_recv(), (vec![P::Ping(String::new())], None));
        t += 10;
        h.advance_to(t);
        assert_eq!(h.ws_send_text("3"), Ok(vec![]));
    }
    t += INTERVAL;
    h.advance_to(t);
    assert_eq!(h.ws_recv(), (vec![P::Ping(String::new())], None));
    h.advance_to(t + TIMEOUT);
    assert_eq!(h.events(), [Event::Closed(CloseReason::PingTimeout)]);
    // The close packet, then the WebSocket closing handshake.
    assert_eq!(h.ws_recv(), (vec![P::Close], Some(None)));
}

// ------------------------------------------------------------------ close

#[test]
fn a_client_close_on_polling_releases_the_get_with_noop() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.get(), Ok(None));
    assert_eq!(h.post(b"1"), Ok(vec![]));
    assert_eq!(h.http_answer(), Some((200, vec![P::Noop])));
    assert_eq!(h.events(), [Event::Closed(CloseReason::TransportClose)]);
    assert!(h.s.is_finished());
}

#[test]
fn a_client_close_on_websocket_closes_the_socket() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    assert_eq!(h.ws_send_text("1"), Ok(vec![]));
    assert_eq!(h.events(), [Event::Closed(CloseReason::TransportClose)]);
    assert_eq!(h.ws_recv().1, Some(None));
}

#[test]
fn a_websocket_eof_closes_the_session() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    h.s.handle_ws_eof(h.now);
    assert_eq!(h.events(), [Event::Closed(CloseReason::TransportClose)]);
    assert!(h.s.is_finished());
}

#[test]
fn a_server_close_delivers_what_was_queued_then_close() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.send_text("last words").unwrap();
    h.s.close(h.now);
    assert_eq!(h.s.send_text("too late"), Err(Error::InvalidState));
    assert_eq!(h.get(), Ok(Some(vec![text("last words"), P::Close])));
    assert_eq!(h.events(), [Event::Closed(CloseReason::ForcedClose)]);
    assert!(h.s.is_finished());

    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    h.s.send_text("bye").unwrap();
    h.s.close(h.now);
    assert_eq!(h.ws_recv(), (vec![text("bye"), P::Close], Some(None)));
    assert_eq!(h.events(), [Event::Closed(CloseReason::ForcedClose)]);
}

#[test]
fn a_server_close_ends_at_the_deadline_when_the_client_never_polls() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.send_text("unread").unwrap();
    h.s.close(h.now);
    // Closed at once for the application; the goodbye waits for a GET.
    assert!(h.s.is_closed());
    assert_eq!(h.events(), [Event::Closed(CloseReason::ForcedClose)]);
    h.advance_to(TIMEOUT - 1);
    assert!(!h.s.is_finished());
    h.advance_to(TIMEOUT);
    assert!(h.s.is_finished());
    assert_eq!(h.s.poll_timeout(), None);
}

// ------------------------------------------------------------------ upgrade

fn upgraded() -> Harness {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    assert_eq!(h.ws_send_text("2probe"), Ok(vec![]));
    assert_eq!(h.ws_recv(), (vec![P::Pong("probe".into())], None));
    // The paused client's GET is released with a noop.
    assert_eq!(h.get(), Ok(Some(vec![P::Noop])));
    assert_eq!(h.ws_send_text("5"), Ok(vec![]));
    assert_eq!(h.events(), [Event::Upgraded]);
    assert_eq!(h.s.transport(), Transport::WebSocket);
    h
}

#[test]
fn upgrade_from_polling_to_websocket() {
    let mut h = upgraded();
    assert_eq!(h.ws_send_text("4hello"), Ok(vec![text("hello")]));
    h.s.send_text("hello").unwrap();
    assert_eq!(h.ws_recv(), (vec![text("hello")], None));
    // The heartbeat moves to the WebSocket.
    h.advance_to(INTERVAL);
    assert_eq!(h.ws_recv(), (vec![P::Ping(String::new())], None));
}

#[test]
fn a_get_held_during_the_upgrade_is_released_with_noop() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.get(), Ok(None));
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    assert_eq!(h.ws_send_text("2probe"), Ok(vec![]));
    assert_eq!(h.http_answer(), Some((200, vec![P::Noop])));
    assert_eq!(h.ws_recv().0, vec![P::Pong("probe".into())]);
}

#[test]
fn messages_queued_during_the_upgrade_are_not_lost() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    h.s.send_text("before probe").unwrap();
    assert_eq!(h.ws_send_text("2probe"), Ok(vec![]));
    assert_eq!(h.ws_recv().0, vec![P::Pong("probe".into())]);
    // The polling transport is still the active one until `5`.
    assert_eq!(h.get(), Ok(Some(vec![text("before probe")])));
    h.s.send_text("during").unwrap();
    assert_eq!(h.ws_send_text("5"), Ok(vec![]));
    assert_eq!(h.ws_recv(), (vec![text("during")], None));
}

#[test]
fn after_the_upgrade_polling_and_a_second_websocket_are_refused() {
    let mut h = upgraded();
    assert_eq!(h.s.handle_poll(h.now), Err(Error::BadRequest));
    assert_eq!(h.post(b"4x"), Err(Error::BadRequest));
    assert_eq!(h.s.handle_upgrade(h.now), Err(Error::BadRequest));
    // The first WebSocket still works.
    assert_eq!(h.ws_send_text("4hello"), Ok(vec![text("hello")]));
    assert!(!h.s.is_closed());
}

#[test]
fn an_upgrade_that_times_out_leaves_the_session_on_polling() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    // Keep the heartbeat alive while the probe stalls.
    h.advance_to(INTERVAL);
    assert_eq!(h.get(), Ok(Some(vec![P::Ping(String::new())])));
    assert_eq!(h.post(b"3"), Ok(vec![]));
    h.advance_to(1000);
    // The probe's WebSocket is closed; the session stays on polling.
    assert_eq!(h.ws_recv().1, Some(None));
    assert_eq!(h.s.transport(), Transport::Polling);
    assert_eq!(h.post(b"4still here"), Ok(vec![text("still here")]));
    assert!(!h.s.is_closed());
}

#[test]
fn a_new_upgrade_is_accepted_once_a_failed_probe_has_closed() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    assert_eq!(h.ws_send_text("5"), Ok(vec![]), "upgrade before the probe");
    // The probe's close frame is out, but its closing handshake is not done.
    assert_eq!(h.ws_recv().1, Some(None));
    assert_eq!(h.s.handle_upgrade(h.now), Err(Error::BadRequest));
    // The client answers the close: the slot is free again.
    let mut reply = vec![0u8; 64];
    let n = h.ws.as_mut().unwrap().poll_transmit(&mut reply).unwrap();
    assert!(n > 0, "the client echoes the close");
    assert_eq!(h.ws_feed(&mut reply[..n]), Ok(vec![]));
    assert!(!h.s.has_websocket());
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    assert_eq!(h.ws_send_text("2probe"), Ok(vec![]));
    assert_eq!(h.ws_recv().0, vec![P::Pong("probe".into())]);
    assert_eq!(h.ws_send_text("5"), Ok(vec![]));
    assert_eq!(h.events(), [Event::Upgraded]);
}

#[test]
fn a_bad_probe_abandons_the_upgrade_not_the_session() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.handle_upgrade(h.now).unwrap();
    h.ws = Some(ws_client());
    assert_eq!(h.ws_send_text("5"), Ok(vec![]), "upgrade before the probe");
    assert_eq!(h.ws_recv().1, Some(None));
    assert_eq!(h.s.transport(), Transport::Polling);
    assert!(!h.s.is_closed());
    assert_eq!(h.post(b"4ok"), Ok(vec![text("ok")]));
}

#[test]
fn upgrades_are_refused_when_disabled() {
    let cfg = Config {
        allow_upgrades: false,
        ..config()
    };
    let mut h = Harness::open_with(Transport::Polling, cfg, 4096);
    let (_, packets) = h.http_answer().unwrap();
    assert!(open_json(&packets).contains(r#""upgrades":[]"#));
    assert_eq!(h.s.handle_upgrade(h.now), Err(Error::BadRequest));
}

// ------------------------------------------------------------------ bounds and buffers

#[test]
fn a_full_queue_refuses_and_loses_nothing() {
    let mut h = Harness::open_with(Transport::Polling, config(), 256);
    let _ = h.http_answer();
    let mut accepted = Vec::new();
    for i in 0.. {
        let m = format!("message {i}");
        match h.s.send_text(&m) {
            Ok(()) => accepted.push(text(&m)),
            Err(e) => {
                assert_eq!(e, Error::QueueFull);
                assert!(e.is_local());
                break;
            }
        }
    }
    assert!(accepted.len() > 5);
    assert_eq!(h.get(), Ok(Some(accepted)));
    assert_eq!(h.s.queue_free(), 256);
}

#[test]
fn storage_too_small_for_the_open_packet_is_queue_full() {
    let r = Session::open(
        at(0),
        Transport::Polling,
        config(),
        [0u8; 64],
        &mut SplitMix64::new(1),
    );
    assert_eq!(r.err(), Some(Error::QueueFull));
}

#[test]
fn a_small_http_buffer_is_refused_untouched_then_the_rest_follows() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.send_text(&"a".repeat(200)).unwrap();
    h.s.send_text("b").unwrap();
    h.s.handle_poll(h.now).unwrap();
    let mut small = [0xAAu8; 150];
    let e = h.s.poll_http(&mut small).unwrap_err();
    let Error::BufferTooSmall { required } = e else {
        panic!("{e:?}")
    };
    assert!(required > small.len());
    assert!(small.iter().all(|&b| b == 0xAA), "left untouched");
    // A buffer that holds the first packet only answers with it; the rest waits.
    let mut out = vec![0u8; required];
    let n = h.s.poll_http(&mut out).unwrap();
    assert_eq!(
        parse_poll_response(&mut out[..n]).1,
        vec![text(&"a".repeat(200))]
    );
    assert_eq!(h.get(), Ok(Some(vec![text("b")])));
}

#[test]
fn websocket_output_streams_through_a_tiny_buffer() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    let big = "z".repeat(3000);
    h.s.send_text(&big).unwrap();
    let mut wire = Vec::new();
    let mut out = [0u8; 10];
    loop {
        let n = h.s.poll_ws(&mut out).unwrap();
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&out[..n]);
    }
    let mut c = h.ws.take().unwrap();
    let mut got = Vec::new();
    let mut off = 0;
    while off < wire.len() {
        let r = c.handle_input(h.now, &mut wire[off..]).unwrap();
        off += r.consumed;
        if let Some(ws::Event::Data { data, .. }) = r.event {
            got.extend_from_slice(data);
        }
    }
    assert_eq!(got, format!("4{big}").into_bytes());
}

#[test]
fn commands_after_the_end_are_invalid_state() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    h.s.close(h.now);
    h.advance_to(TIMEOUT);
    assert!(h.s.is_finished());
    assert_eq!(h.s.send_binary(&[1]), Err(Error::InvalidState));
    assert_eq!(h.s.handle_poll(h.now), Err(Error::InvalidState));
    assert_eq!(h.post(b"4x"), Err(Error::InvalidState));
    assert_eq!(h.s.handle_upgrade(h.now), Err(Error::InvalidState));
    // Timers are harmless when repeated.
    h.advance_to(10_000);
    h.advance_to(10_000);
    assert_eq!(h.events(), [Event::Closed(CloseReason::ForcedClose)]);
}

// ------------------------------------------------------------------ regressions: found by fuzzing

#[test]
fn a_get_held_when_the_session_finishes_at_its_deadline_gets_close() {
    let mut h = Harness::open(Transport::Polling);
    // The handshake GET is held and not drained; the session closes and its
    // deadline passes.
    h.s.close(at(0));
    h.advance_to(TIMEOUT + 1);
    assert_eq!(
        h.http_answer().map(|(_, p)| p.last().cloned()),
        Some(Some(P::Close))
    );
    assert!(h.s.is_finished());
}

#[test]
fn the_close_frame_survives_a_buffer_too_small() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    h.s.close(h.now);
    let mut out = [0u8; 4096];
    let n = h.s.poll_ws(&mut out).unwrap();
    assert_eq!(&out[..n], b"\x81\x011", "the close packet");
    let mut tiny = [0u8; 1];
    assert!(matches!(
        h.s.poll_ws(&mut tiny),
        Err(Error::BufferTooSmall { .. })
    ));
    let n = h.s.poll_ws(&mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"\x88\x00",
        "the (empty) close frame is still due ({n} bytes)"
    );
}

#[test]
fn a_half_written_frame_is_finished_after_a_failure_or_a_close() {
    for how in ["peer error", "close and deadline"] {
        let mut h = Harness::open(Transport::WebSocket);
        let _ = h.ws_recv();
        h.s.send_text(&"x".repeat(100)).unwrap();
        let mut wire = vec![0u8; 20];
        assert_eq!(
            h.s.poll_ws(&mut wire),
            Ok(20),
            "header and 18 payload bytes"
        );
        match how {
            // An unmasked frame: the WebSocket fails with 1002.
            "peer error" => assert!(
                h.s.handle_ws_input(h.now, &mut [0x81u8, 0x01, b'x'], &mut h.asm)
                    .is_err()
            ),
            _ => {
                h.s.close(h.now);
                h.advance_to(TIMEOUT + 1);
            }
        }
        // The rest of the frame, then the close frame.
        let mut out = [0u8; 4096];
        let mut rest = Vec::new();
        loop {
            let n = h.s.poll_ws(&mut out).unwrap();
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&out[..n]);
        }
        wire.extend_from_slice(&rest);
        let mut c = ws_client();
        let mut got = Vec::new();
        let mut closed = false;
        let mut off = 0;
        while off < wire.len() {
            let r = c.handle_input(h.now, &mut wire[off..]).unwrap();
            off += r.consumed;
            match r.event {
                Some(ws::Event::Data { data, .. }) => got.extend_from_slice(data),
                Some(ws::Event::Close { .. }) => closed = true,
                _ => {}
            }
        }
        assert_eq!(got, format!("4{}", "x".repeat(100)).into_bytes(), "{how}");
        assert!(closed, "{how}: the close frame follows");
    }
}

#[test]
fn a_message_that_breaks_engine_io_is_consumed_and_the_rest_read() {
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    // A client ping (wrong direction), then a message, in one read.
    let c = h.ws.as_mut().unwrap();
    let mut wire = vec![0u8; 64];
    let mut n = c.send_text("2", &mut wire).unwrap();
    n += c.send_text("4after", &mut wire[n..]).unwrap();
    let first =
        h.s.handle_ws_input(h.now, &mut wire[..n], &mut h.asm)
            .unwrap();
    assert_eq!(first.consumed, 7, "exactly the ping's frame");
    assert_eq!(first.message, None);
    // The rest reads without a WebSocket error (the session is closed, so
    // the message is not delivered).
    let rest =
        h.s.handle_ws_input(h.now, &mut wire[7..n], &mut h.asm)
            .unwrap();
    assert_eq!((rest.consumed, rest.message), (n - 7, None));
    assert_eq!(
        h.events(),
        [Event::Closed(CloseReason::TransportError(
            Error::InvalidHeartbeat
        ))]
    );
    assert_eq!(h.ws_recv().1, Some(None), "a clean close, not 1007");
}

#[test]
fn text_with_the_polling_separator_is_refused_on_polling_only() {
    let mut h = Harness::open(Transport::Polling);
    let _ = h.http_answer();
    assert_eq!(h.s.send_text("a\x1eb"), Err(Error::SeparatorInText));
    assert_eq!(
        h.s.send_text_parts(&["a", "\x1e"]),
        Err(Error::SeparatorInText)
    );
    assert!(Error::SeparatorInText.is_local());
    let mut h = Harness::open(Transport::WebSocket);
    let _ = h.ws_recv();
    h.s.send_text("a\x1eb").unwrap();
    assert_eq!(h.ws_recv().0, [text("a\x1eb")]);
}
