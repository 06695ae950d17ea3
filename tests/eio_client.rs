//! The Engine.IO client against the Engine.IO server session over an
//! in-memory WebSocket, on one virtual clock, driven to idle after every step:
//! open, messages both ways, the heartbeat, every way a session ends.

use sockwire::engineio::{
    ClientCloseReason, ClientConfig, ClientSession, ClientSessionEvent, CloseReason, Config, Error,
    Session, SessionEvent as Event, Transport,
};
use sockwire::entropy::SplitMix64;
use sockwire::time::{Duration, Instant};
use sockwire::ws::Assembler;

#[path = "common/eio_pair.rs"]
mod eio_pair;

use eio_pair::{M, client_to_server, server_to_client};

struct Pair {
    c: ClientSession<Vec<u8>, SplitMix64>,
    s: Session<Vec<u8>>,
    now: Instant,
    c_asm: Assembler<Vec<u8>>,
    s_asm: Assembler<Vec<u8>>,
    /// Messages each side received.
    at_client: Vec<M>,
    at_server: Vec<M>,
    /// Errors each side's input gave.
    client_errors: Vec<Error>,
    /// Deliver the server's bytes to the client (false: the server is cut off).
    link_up: bool,
    /// Write buffer size for both sides.
    tx: usize,
}

fn server_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Config::default()
    }
}

impl Pair {
    fn new() -> Self {
        let now = Instant::from_millis(0);
        let s = Session::open(
            now,
            Transport::WebSocket,
            server_config(),
            vec![0u8; 1 << 20],
            &mut SplitMix64::new(1),
        )
        .unwrap();
        let c = ClientSession::new(
            now,
            ClientConfig::default(),
            vec![0u8; 1 << 20],
            SplitMix64::new(2),
        );
        Pair {
            c,
            s,
            now,
            c_asm: Assembler::new(vec![0u8; 1 << 20]),
            s_asm: Assembler::new(vec![0u8; 1 << 20]),
            at_client: vec![],
            at_server: vec![],
            client_errors: vec![],
            link_up: true,
            tx: 4096,
        }
    }

    /// Moves bytes both ways until neither side has anything to write.
    fn drive(&mut self) {
        loop {
            let (to_server, a) =
                client_to_server(&mut self.c, &mut self.s, &mut self.s_asm, self.now, self.tx);
            let (to_client, errors, b) = server_to_client(
                &mut self.s,
                &mut self.c,
                &mut self.c_asm,
                self.now,
                self.tx,
                self.link_up,
            );
            self.at_server.extend(to_server);
            self.at_client.extend(to_client);
            self.client_errors.extend(errors);
            if !a && !b {
                return;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(ms);
        self.c.handle_timeout(self.now);
        self.s.handle_timeout(self.now);
        for t in [self.c.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
        {
            assert!(t > self.now, "a deadline in the past after handle_timeout");
        }
        self.drive();
    }

    fn client_events(&mut self) -> Vec<ClientSessionEvent> {
        std::iter::from_fn(|| self.c.poll_event()).collect()
    }

    fn server_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }
}

fn opened() -> Pair {
    let mut p = Pair::new();
    p.drive();
    assert_eq!(p.client_events(), [ClientSessionEvent::Open]);
    p
}

#[test]
fn the_client_opens_with_the_servers_parameters() {
    let p = opened();
    assert_eq!(p.c.sid(), p.s.sid().as_str());
    assert_eq!(p.c.ping_interval(), Duration::from_millis(300));
    assert_eq!(p.c.ping_timeout(), Duration::from_millis(200));
    assert_eq!(p.c.server_max_payload(), 1_000_000);
    assert!(p.c.is_open());
    // The heartbeat deadline: interval + timeout.
    assert_eq!(p.c.poll_timeout(), Some(Instant::from_millis(500)));
}

#[test]
fn messages_flow_both_ways_through_small_buffers() {
    let mut p = opened();
    p.tx = 14;
    let big: String = "0123456789abcdef".repeat(4096);
    p.c.send_text("hello").unwrap();
    p.c.send_binary(&[1, 2, 3, 4]).unwrap();
    p.c.send_text(&big).unwrap();
    p.s.send_text("héllo").unwrap();
    p.s.send_binary(&[9; 3000]).unwrap();
    p.drive();
    assert_eq!(
        p.at_server,
        [M::T("hello".into()), M::B(vec![1, 2, 3, 4]), M::T(big)]
    );
    assert_eq!(p.at_client, [M::T("héllo".into()), M::B(vec![9; 3000])]);
}

#[test]
fn messages_queued_before_the_open_packet_wait_for_it() {
    let mut p = Pair::new();
    p.c.send_text("early").unwrap();
    // Nothing goes out before the open packet.
    assert_eq!(p.c.poll_transmit(&mut [0u8; 64]), Ok(0));
    p.c.send_text_parts(&["2[", "\"parts\"", "]"]).unwrap();
    p.drive();
    assert_eq!(
        p.at_server,
        [M::T("early".into()), M::T("2[\"parts\"]".into())]
    );
}

#[test]
fn the_heartbeat_keeps_the_session_alive() {
    let mut p = opened();
    for i in 1..=10 {
        p.advance(i * 300);
    }
    assert!(p.c.is_open());
    assert!(!p.s.is_closed());
    assert_eq!(p.server_events(), []);
    assert_eq!(p.client_events(), []);
}

#[test]
fn a_silent_server_is_a_ping_timeout() {
    let mut p = opened();
    p.link_up = false;
    p.advance(499);
    assert!(p.c.is_open());
    p.advance(500);
    assert_eq!(
        p.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::PingTimeout)]
    );
    assert!(p.c.is_closed());
    assert_eq!(p.c.send_text("x"), Err(Error::InvalidState));
}

/// A WebSocket that opened but brings no open packet within the open
/// timeout is not an Engine.IO server (a plain WebSocket echo server, say):
/// a typed error, which the Socket.IO client does not retry.
#[test]
fn an_open_websocket_without_an_open_packet_is_not_engine_io() {
    let mut p = Pair::new();
    p.link_up = false;
    p.advance(19_999);
    assert_eq!(p.client_events(), []);
    p.advance(20_000);
    assert_eq!(
        p.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::Error(
            Error::NotEngineIo
        ))]
    );
}

#[test]
fn a_client_close_delivers_the_queue_first() {
    let mut p = opened();
    p.c.send_text("last").unwrap();
    p.c.close(p.now);
    assert_eq!(
        p.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::ForcedClose)]
    );
    assert_eq!(p.c.send_text("late"), Err(Error::InvalidState));
    p.drive();
    assert_eq!(p.at_server, [M::T("last".into())]);
    assert_eq!(
        p.server_events(),
        [Event::Closed(CloseReason::TransportClose)]
    );
    assert!(
        p.c.is_finished(),
        "the WebSocket closing handshake completed"
    );
    assert!(p.s.is_finished());
}

#[test]
fn a_server_close_is_reported_to_the_client() {
    let mut p = opened();
    p.s.send_text("bye").unwrap();
    p.s.close(p.now);
    p.drive();
    assert_eq!(p.at_client, [M::T("bye".into())]);
    assert_eq!(
        p.client_events(),
        [ClientSessionEvent::Closed(ClientCloseReason::ServerClose)]
    );
    assert!(p.c.is_finished());
    assert!(p.s.is_finished());
}

#[test]
fn the_server_dropping_the_tcp_stream_is_a_transport_close() {
    let mut p = opened();
    p.c.handle_eof(p.now);
    assert_eq!(
        p.client_events(),
        [ClientSessionEvent::Closed(
            ClientCloseReason::TransportClose
        )]
    );
    assert!(p.c.is_finished());
}

#[test]
fn anything_before_the_open_packet_is_a_protocol_error() {
    for first in [
        "4hello",
        "2",
        "0not json",
        r#"0{"sid":"x"}"#,
        r#"0{"sid":1,"pingInterval":1,"pingTimeout":1}"#,
        "x",
    ] {
        let now = Instant::from_millis(0);
        let mut c: ClientSession<Vec<u8>, _> = ClientSession::new(
            now,
            ClientConfig::default(),
            vec![0u8; 512],
            SplitMix64::new(1),
        );
        // A server-role WebSocket writes the frame.
        let mut srv = sockwire::ws::Connection::server(sockwire::ws::Config::default());
        let mut wire = vec![0u8; 256];
        let n = srv.send_text(first, &mut wire).unwrap();
        let mut asm = Assembler::new(vec![0u8; 256]);
        // The frame is consumed; the Closed event says why.
        let r = c.handle_input(now, &mut wire[..n], &mut asm).unwrap();
        assert_eq!(r.consumed, n, "{first}");
        assert!(c.is_closed(), "{first}");
        // Not an open packet at all: not an Engine.IO server; a malformed
        // open packet: an invalid packet.
        let want = if first.starts_with('0') {
            Error::InvalidPacket
        } else {
            Error::NotEngineIo
        };
        assert_eq!(
            c.poll_event(),
            Some(ClientSessionEvent::Closed(ClientCloseReason::Error(want))),
            "{first}"
        );
        // The WebSocket is closed with 1002.
        let mut out = [0u8; 64];
        let n = c.poll_transmit(&mut out).unwrap();
        assert!(n >= 4 && out[0] == 0x88, "{first}: a close frame");
    }
}

#[test]
fn a_full_queue_refuses_without_loss() {
    let now = Instant::from_millis(0);
    let mut c: ClientSession<Vec<u8>, _> = ClientSession::new(
        now,
        ClientConfig::default(),
        vec![0u8; 100],
        SplitMix64::new(1),
    );
    let mut n = 0;
    while c.send_text("0123456789").is_ok() {
        n += 1;
    }
    assert_eq!(
        n,
        100 / ClientSession::<Vec<u8>, SplitMix64>::queue_cost(false, 10)
    );
    assert_eq!(c.send_text("0123456789"), Err(Error::QueueFull));
}

#[test]
fn empty_messages_go_both_ways() {
    // Regression: an empty frame's header used to be followed by a payload
    // write that failed, jamming the WebSocket in both roles.
    let mut p = opened();
    p.c.send_binary(&[]).unwrap();
    p.c.send_text("").unwrap();
    p.c.send_text("after").unwrap();
    p.s.send_binary(&[]).unwrap();
    p.s.send_text("").unwrap();
    p.s.send_text("after").unwrap();
    p.drive();
    let want = [M::B(vec![]), M::T(String::new()), M::T("after".into())];
    assert_eq!(p.at_server, want);
    assert_eq!(p.at_client, want);
    // The heartbeat still flows.
    p.advance(300);
    p.advance(600);
    assert!(p.c.is_open());
}
