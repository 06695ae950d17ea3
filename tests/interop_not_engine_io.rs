//! The Socket.IO client (`socketio::blocking::Client`, over the crate's
//! client endpoint) pointed at a plain WebSocket server,
//! `examples/ws_echo.rs` and Node `ws`, over WebSocket and over polling: it
//! reports the typed `engineio::Error::NotEngineIo` (the server is not an
//! Engine.IO/Socket.IO server) and stops, with no retry. Everything on
//! 127.0.0.1; the Node peer needs `bash tests/scripts/setup-peers.sh` (fails,
//! never skips, without it).

#[path = "../examples/ws_echo.rs"]
#[allow(dead_code)]
mod ws_echo;

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::peers::{self, Peer};
use sockwire::engineio;
use sockwire::socketio::blocking::{Client, Event, Options, Transports};
use sockwire::time::Duration as SwDuration;

/// The client's open timeout (3 s here; 20 s by default) plus slack.
const WAIT: Duration = Duration::from_secs(10);

/// Connects to `port` over `t` and expects the typed error, then silence.
fn expect_not_engine_io_over(port: u16, t: Transports) {
    let mut o = Options::default().transports(t);
    o.engine.open_timeout = SwDuration::from_millis(3000);
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), o).expect("connect");
    let deadline = std::time::Instant::now() + WAIT;
    let error = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match c.next_event(left) {
            Some(Event::Fatal(e)) => break e,
            Some(Event::Reconnecting { attempt }) => {
                panic!("reconnection attempt {attempt} against a plain WebSocket server ({t:?})")
            }
            Some(_) => {}
            None => panic!("no error within {WAIT:?} ({t:?})"),
        }
    };
    assert_eq!(error, engineio::Error::NotEngineIo, "{t:?}");
    assert!(
        error
            .to_string()
            .contains("not an Engine.IO/Socket.IO server"),
        "the error says what is wrong: {error}"
    );
    // Stopped: nothing more happens (no reconnection).
    if let Some(e) = c.next_event(Duration::from_millis(1500)) {
        assert!(
            !matches!(e, Event::Reconnecting { .. }),
            "no retry after the fatal error: {e:?}"
        );
    }
}

#[test]
fn against_the_ws_echo_example() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // ws_echo serves one connection per call: one for each transport.
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (stream, _) = listener.accept().expect("accept");
            std::thread::spawn(move || {
                let _ = ws_echo::serve(stream);
            });
        }
    });
    expect_not_engine_io_over(port, Transports::WebSocket);
    expect_not_engine_io_over(port, Transports::Polling);
    drop(server);
}

#[test]
fn against_node_ws() {
    // ws_server.mjs serves its first client and exits: one per transport.
    for t in [Transports::WebSocket, Transports::Polling] {
        let cmd = peers::node_with_modules("ws_server.mjs", &["ws"]);
        let mut peer = Peer::spawn("ws_server.mjs", cmd);
        let port = peer.wait_listening(Duration::from_secs(20));
        expect_not_engine_io_over(port, t);
        let _ = peer.wait(Duration::from_millis(500));
    }
}
