//! The Engine.IO client on long-polling, then upgrading to WebSocket, against
//! the Engine.IO server session, in memory on one virtual clock: the client's
//! HTTP requests are parsed and routed the way a server application would
//! (`http::Request::parse`, `engineio::route`), and the answers parsed the way
//! a client application would.

#[path = "common/eio_pair.rs"]
mod eio_pair;

use eio_pair::{M, client_to_server, own, server_to_client};
use sockwire::engineio::{
    ClientCloseReason, ClientConfig, ClientSession, ClientSessionEvent, CloseReason, Config, Error,
    Request, Route, Session, SessionEvent as Event, Transport, route, write_post_ok,
};
use sockwire::entropy::SplitMix64;
use sockwire::http::{self, Limits};
use sockwire::time::{Duration, Instant};
use sockwire::ws::Assembler;

const HOST: &str = "127.0.0.1:3000";

struct Net {
    now: Instant,
    c: ClientSession<Vec<u8>, SplitMix64>,
    s: Option<Session<Vec<u8>>>,
    /// The client's GET waiting for the server's answer.
    held: bool,
    c_asm: Assembler<Vec<u8>>,
    s_asm: Assembler<Vec<u8>>,
    /// Upgrade automatically when the client wants to.
    upgrade: bool,
    at_client: Vec<M>,
    at_server: Vec<M>,
    /// Status of every HTTP answer the server gave.
    statuses: Vec<u16>,
    requests: Vec<String>,
}

fn server_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Config::default()
    }
}

impl Net {
    fn new(upgrade: bool) -> Self {
        let now = Instant::from_millis(0);
        Net {
            now,
            c: ClientSession::polling(
                now,
                ClientConfig::default(),
                vec![0u8; 1 << 16],
                SplitMix64::new(3),
            ),
            s: None,
            held: false,
            c_asm: Assembler::new(vec![0u8; 1 << 16]),
            s_asm: Assembler::new(vec![0u8; 1 << 16]),
            upgrade,
            at_client: vec![],
            at_server: vec![],
            statuses: vec![],
            requests: vec![],
        }
    }

    /// One HTTP request from the client, handled by the "server application".
    fn serve(&mut self, bytes: &mut [u8], kind: Request) {
        let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (head, body) = bytes.split_at_mut(head_len);
        let req = http::Request::parse(head, &Limits::default()).unwrap();
        self.requests.push(format!("{} {}", req.method, req.target));
        let routed = route(&req, &server_config());
        match (routed, kind) {
            (Ok(Route::Handshake(Transport::Polling)), Request::Get(_)) => {
                self.s = Some(
                    Session::open(
                        self.now,
                        Transport::Polling,
                        server_config(),
                        vec![0u8; 1 << 16],
                        &mut SplitMix64::new(9),
                    )
                    .unwrap(),
                );
                self.held = true;
            }
            (Ok(Route::Poll(sid)), Request::Get(_)) => {
                let s = self
                    .s
                    .as_mut()
                    .filter(|s| *s.sid() == *sid)
                    .expect("a known sid");
                s.handle_poll(self.now).unwrap();
                self.held = true;
            }
            (Ok(Route::Post(sid)), Request::Post(_)) => {
                let s = self
                    .s
                    .as_mut()
                    .filter(|s| *s.sid() == *sid)
                    .expect("a known sid");
                let len: usize = req
                    .headers
                    .get("content-length")
                    .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
                    .unwrap();
                assert_eq!(len, body.len());
                let mut payload = s.handle_post(self.now, body).unwrap();
                while let Some(d) = s.read_message(self.now, &mut payload).unwrap() {
                    self.at_server.push(own(d));
                }
                let mut out = [0u8; 128];
                let n = write_post_ok(&mut out).unwrap();
                let status = http::Response::parse(&out[..n - 2], &Limits::default())
                    .unwrap()
                    .status;
                self.statuses.push(status);
                self.c.handle_post_response(self.now, status).unwrap();
            }
            other => panic!("unexpected request: {other:?}"),
        }
    }

    /// The server's answer to the held GET, if it gives one now.
    fn answer_get(&mut self) -> bool {
        if !self.held {
            return false;
        }
        let Some(s) = self.s.as_mut() else {
            return false;
        };
        let mut out = vec![0u8; 1 << 20];
        let n = s.poll_http(&mut out).unwrap();
        if n == 0 {
            return false;
        }
        self.held = false;
        let head_len = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let status = http::Response::parse(&out[..head_len], &Limits::default())
            .unwrap()
            .status;
        self.statuses.push(status);
        let body = &mut out[head_len..n];
        let Ok(mut payload) = self.c.handle_get_response(self.now, status, body) else {
            return true;
        };
        while let Ok(Some(d)) = self.c.read_message(self.now, &mut payload) {
            self.at_client.push(own(d));
        }
        true
    }

    fn drive(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            let mut out = vec![0u8; 1 << 20];
            while let Some(req) = self.c.poll_request(HOST, &mut out).unwrap() {
                moved = true;
                let n = match req {
                    Request::Get(n) | Request::Post(n) => n,
                };
                self.serve(&mut out[..n], req);
            }
            moved |= self.answer_get();
            if self.upgrade && self.c.wants_upgrade() {
                let mut buf = [0u8; 128];
                let target = self.c.upgrade_target(&mut buf).unwrap().to_owned();
                let head = format!(
                    "GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                );
                let req = http::Request::parse(head.as_bytes(), &Limits::default()).unwrap();
                let Ok(Route::Upgrade(sid)) = route(&req, &server_config()) else {
                    panic!()
                };
                let s = self.s.as_mut().unwrap();
                assert_eq!(*s.sid(), *sid);
                s.handle_upgrade(self.now).unwrap();
                self.c.handle_upgrade_open(self.now).unwrap();
                moved = true;
            }
            if let Some(s) = self.s.as_mut() {
                let (got, a) = client_to_server(&mut self.c, s, &mut self.s_asm, self.now, 4096);
                self.at_server.extend(got);
                let (got, _, b) =
                    server_to_client(s, &mut self.c, &mut self.c_asm, self.now, 4096, true);
                self.at_client.extend(got);
                moved |= a || b;
            }
            if !moved {
                return;
            }
        }
        panic!("never idle");
    }

    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(ms);
        self.c.handle_timeout(self.now);
        if let Some(s) = self.s.as_mut() {
            s.handle_timeout(self.now);
        }
        if let Some(t) = self.c.poll_timeout() {
            assert!(t > self.now);
        }
        self.drive();
    }

    fn client_events(&mut self) -> Vec<ClientSessionEvent> {
        std::iter::from_fn(|| self.c.poll_event()).collect()
    }

    fn server_events(&mut self) -> Vec<Event> {
        let Some(s) = self.s.as_mut() else {
            return vec![];
        };
        std::iter::from_fn(|| s.poll_event()).collect()
    }
}

#[test]
fn a_polling_session_opens_exchanges_and_pongs() {
    let mut n = Net::new(false);
    n.c.send_text("queued before open").unwrap();
    n.drive();
    assert_eq!(n.client_events(), [ClientSessionEvent::Open]);
    assert_eq!(n.c.transport(), Transport::Polling);
    assert!(n.c.wants_upgrade(), "the server offers websocket");
    let sid = n.c.sid().to_owned();
    assert_eq!(n.requests[0], "GET /engine.io/?EIO=4&transport=polling");
    assert!(
        n.requests[1..]
            .iter()
            .all(|r| r.ends_with(&format!("sid={sid}"))),
        "{:?}",
        n.requests
    );
    assert_eq!(n.at_server, [M::T("queued before open".into())]);
    // Text and binary both ways (binary as base64 on polling).
    n.c.send_text("héllo").unwrap();
    n.c.send_binary(&[1, 2, 3, 4]).unwrap();
    n.s.as_mut().unwrap().send_text("from server").unwrap();
    n.s.as_mut().unwrap().send_binary(&[9, 8]).unwrap();
    n.drive();
    assert_eq!(
        n.at_server[1..],
        [M::T("héllo".into()), M::B(vec![1, 2, 3, 4])]
    );
    assert_eq!(n.at_client, [M::T("from server".into()), M::B(vec![9, 8])]);
    // Heartbeats over polling: the server pings in a GET, the client pongs in
    // a POST, and nobody times out.
    for i in 1..=6 {
        n.advance(i * 300);
    }
    assert!(n.c.is_open());
    assert_eq!(n.server_events(), []);
    assert!(n.statuses.iter().all(|&s| s == 200));
}

#[test]
fn the_client_upgrades_to_websocket_without_losing_a_message() {
    let mut n = Net::new(false);
    n.drive();
    assert_eq!(n.client_events(), [ClientSessionEvent::Open]);
    n.upgrade = true;
    // Messages queued on both sides while the upgrade happens.
    n.c.send_text("during upgrade").unwrap();
    n.s.as_mut()
        .unwrap()
        .send_text("server during upgrade")
        .unwrap();
    n.drive();
    assert_eq!(n.client_events(), [ClientSessionEvent::Upgraded]);
    assert_eq!(n.server_events(), [Event::Upgraded]);
    assert_eq!(n.c.transport(), Transport::WebSocket);
    assert_eq!(n.at_server, [M::T("during upgrade".into())]);
    assert_eq!(n.at_client, [M::T("server during upgrade".into())]);
    // Over the WebSocket now: messages and heartbeats.
    n.c.send_text("over ws").unwrap();
    n.drive();
    assert_eq!(n.at_server[1..], [M::T("over ws".into())]);
    for i in 1..=4 {
        n.advance(i * 300);
    }
    assert!(n.c.is_open());
    assert!(!n.c.wants_upgrade());
    assert_eq!(
        n.c.poll_request(HOST, &mut [0u8; 1024]),
        Ok(None),
        "polling has stopped"
    );
}

#[test]
fn a_failed_probe_leaves_the_session_on_polling() {
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    // The upgrade's WebSocket cannot even be opened.
    n.c.handle_upgrade_failed(n.now);
    assert_eq!(n.client_events(), [ClientSessionEvent::UpgradeFailed]);
    assert!(!n.c.wants_upgrade());
    n.c.send_text("still polling").unwrap();
    n.drive();
    assert_eq!(n.at_server, [M::T("still polling".into())]);
    // A probe that times out.
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.c.handle_upgrade_open(n.now).unwrap();
    let mut out = [0u8; 64];
    assert!(n.c.poll_transmit(&mut out).unwrap() > 0, "2probe goes out");
    // No answer; keep the heartbeat going meanwhile.
    for t in (300..=10_200).step_by(300) {
        n.advance(t);
    }
    assert!(
        n.client_events()
            .contains(&ClientSessionEvent::UpgradeFailed)
    );
    assert_eq!(n.c.transport(), Transport::Polling);
    assert!(n.c.is_open());
}

#[test]
fn a_client_close_on_polling_posts_the_close_packet() {
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.c.send_text("last").unwrap();
    n.c.close(n.now);
    assert_eq!(
        n.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::ForcedClose)]
    );
    n.drive();
    assert_eq!(n.at_server, [M::T("last".into())]);
    assert_eq!(
        n.server_events(),
        [Event::Closed(CloseReason::TransportClose)]
    );
    assert!(n.c.is_finished());
}

#[test]
fn a_failed_request_or_an_error_status_ends_the_session() {
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    assert_eq!(
        n.c.handle_post_response(n.now, 400),
        Err(Error::RequestFailed(400))
    );
    assert_eq!(
        n.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::Error(
            Error::RequestFailed(400)
        ))]
    );
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.c.handle_request_failed(n.now, Request::Get(0));
    assert_eq!(
        n.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::Error(
            Error::RequestFailed(0)
        ))]
    );
    // A silent server on polling: the heartbeat deadline ends it.
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.s = None;
    n.advance(500);
    assert_eq!(
        n.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::PingTimeout)]
    );
}

#[test]
fn a_small_request_buffer_is_refused_untouched() {
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.c.send_text(&"x".repeat(2000)).unwrap();
    let mut small = vec![0xAA; 1000];
    let e = n.c.poll_request(HOST, &mut small).unwrap_err();
    assert!(
        matches!(e, Error::BufferTooSmall { required } if required > 1000),
        "{e:?}"
    );
    assert!(small.iter().all(|&b| b == 0xAA));
    n.drive();
    assert_eq!(n.at_server, [M::T("x".repeat(2000))]);
}

/// A POST carrying only the close packet (or only a pong) into a buffer
/// smaller than the head room: refused untouched, not a panic.
#[test]
fn a_small_buffer_for_the_close_packet_alone_is_refused_untouched() {
    let mut n = Net::new(false);
    n.drive();
    n.client_events();
    n.c.close(n.now);
    let mut small = vec![0xAA; 64];
    let e = n.c.poll_request(HOST, &mut small).unwrap_err();
    assert!(
        matches!(e, Error::BufferTooSmall { required } if required > 64),
        "{e:?}"
    );
    assert!(small.iter().all(|&b| b == 0xAA));
    n.drive();
    assert!(n.c.is_finished());
}

/// The polling handshake's answer says whether the peer is an Engine.IO
/// server: the reference server's JSON refusal (400 or 403) and a 5xx (a
/// proxy while the server restarts) are failures worth a retry; a plain
/// WebSocket server's 400 or 426, or a web server's 404, is not Engine.IO.
#[test]
fn the_handshake_answer_tells_an_engine_io_refusal_from_another_server() {
    let cases: [(u16, &str, Error); 7] = [
        (
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
            Error::RequestFailed(400),
        ),
        (
            403,
            r#"{"code":4,"message":"Forbidden"}"#,
            Error::RequestFailed(403),
        ),
        (503, "", Error::RequestFailed(503)),
        // python-engineio's refusals are JSON strings.
        (
            400,
            r#""Not an accepted origin.""#,
            Error::RequestFailed(400),
        ),
        (400, "Bad Request", Error::NotEngineIo),
        (426, "Upgrade Required", Error::NotEngineIo),
        (404, "<html>Not Found</html>", Error::NotEngineIo),
    ];
    for (status, body, expected) in cases {
        let now = Instant::from_millis(0);
        let mut c: ClientSession<Vec<u8>, SplitMix64> = ClientSession::polling(
            now,
            ClientConfig::default(),
            vec![0u8; 4096],
            SplitMix64::new(1),
        );
        let mut out = [0u8; 512];
        let _ = c.poll_request(HOST, &mut out);
        let mut body = body.as_bytes().to_vec();
        assert_eq!(
            c.handle_get_response(now, status, &mut body).map(|_| ()),
            Err(expected),
            "{status} {body:?}"
        );
    }
}
