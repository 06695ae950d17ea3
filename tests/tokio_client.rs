//! `examples/tokio_client.rs` (the `socketio::Client` endpoint driven by
//! tokio) runs its demo against the reference Node `socket.io` 4.8 server
//! (`tests/peers/sio_server.mjs`) and against `examples/sio_server.rs`, over
//! WebSocket and over long-polling with the upgrade, on 127.0.0.1: it gets
//! `message-back` and the ack with the arguments it sent, then closes. Needs
//! `bash tests/scripts/setup-peers.sh`; fails, never skips, without Node.

mod common;

#[path = "../examples/tokio_client.rs"]
#[allow(dead_code)]
mod tokio_client;

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

use std::time::{Duration, Instant};

use common::peers::{self, Peer, ServerThread};
use tokio_client::{ARGS, Demo};

/// Runs the demo against `base` (`http://127.0.0.1:PORT`) over `transport`.
fn demo(base: &str, transport: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let got = rt.block_on(tokio_client::run(base, transport));
    let want = Demo(Some(ARGS.into()), Some(ARGS.into()), transport == "both");
    assert_eq!(got, Ok(want), "{transport} against {base}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

fn against_node(transport: &str) {
    let cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
    let mut peer = Peer::spawn("sio_server.mjs", cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    demo(&format!("http://127.0.0.1:{port}"), transport);
}

fn against_sio_server(transport: &str) {
    let server = ServerThread::start("sio_server", sio_server::serve);
    demo(&server.base_url(), transport);
    server.finish();
}

#[test]
fn node_websocket() {
    against_node("websocket");
}

#[test]
fn node_polling_with_the_upgrade() {
    against_node("both");
}

#[test]
fn sio_server_websocket() {
    against_sio_server("websocket");
}

#[test]
fn sio_server_polling_with_the_upgrade() {
    against_sio_server("both");
}
