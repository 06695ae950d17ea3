//! The Socket.IO client (`examples/sio_client.rs`) pointed at a plain
//! WebSocket server, `examples/ws_echo.rs` and Node `ws`: it reports that the
//! server is not an Engine.IO/Socket.IO server and stops, with no retry.
//! Everything on 127.0.0.1; the Node peer needs `bash
//! tests/scripts/setup-peers.sh` (fails, never skips, without it).

#[path = "../examples/sio_client.rs"]
#[allow(dead_code)]
mod sio_client;

#[path = "../examples/ws_echo.rs"]
#[allow(dead_code)]
mod ws_echo;

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::peers::{self, Peer};
use sio_client::{OwnedEvent, Runner};

/// The client's open timeout (20 s, the reference's) plus slack.
const WAIT: Duration = Duration::from_secs(30);

/// Connects to `port` and expects the typed error, then silence.
fn expect_not_engine_io(port: u16) {
    let mut r = Runner::connect(&format!("127.0.0.1:{port}"), "/socket.io/", &[("/", None)])
        .unwrap_or_else(|e| panic!("Runner::connect: {e}"));
    let deadline = std::time::Instant::now() + WAIT;
    let error = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match r.next_event(left) {
            Some(OwnedEvent::Error(e)) => break e,
            Some(OwnedEvent::Reconnect { attempt }) => {
                panic!("reconnection attempt {attempt} against a plain WebSocket server")
            }
            Some(_) => {}
            None => panic!("no error within {WAIT:?}"),
        }
    };
    assert!(
        error.contains("not an Engine.IO/Socket.IO server"),
        "the error says what is wrong: {error}"
    );
    // Stopped: nothing more happens (no reconnection).
    if let Some(e) = r.next_event(Duration::from_millis(1500)) {
        assert!(
            !matches!(e, OwnedEvent::Reconnect { .. }),
            "no retry after the fatal error: {e:?}"
        );
    }
}

#[test]
fn against_the_ws_echo_example() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let _ = ws_echo::serve(stream);
    });
    expect_not_engine_io(port);
    drop(server);
}

#[test]
fn against_node_ws() {
    let cmd = peers::node_with_modules("ws_server.mjs", &["ws"]);
    let mut peer = Peer::spawn("ws_server.mjs", cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    expect_not_engine_io(port);
    let _ = peer.wait(Duration::from_millis(500));
}
