//! `examples/tokio_server.rs` (the reference Socket.IO test server driven by
//! tokio) against the real `socket.io-client` 4.8 (`tests/peers/sio_client.mjs`)
//! and the wire-level checks of `tests/peers/sio_protocol.mjs`. Each test
//! starts the server on 127.0.0.1 on a thread of its own, runs one peer
//! bounded in time and stops the server. Needs `bash tests/scripts/setup-peers.sh`.

#[path = "../examples/tokio_server.rs"]
#[allow(dead_code)]
mod tokio_server;

mod common;

use std::time::Duration;

use common::peers::{self, ServerThread};

/// A peer run is killed after this long (its own timeouts are shorter).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

fn node_client(scenario: &str) {
    ServerThread::start("tokio_server", tokio_server::serve).run_peer(
        &format!("node sio_client.mjs {scenario}"),
        PEER_TIMEOUT,
        |url| {
            let mut cmd = peers::node_with_modules("sio_client.mjs", &["socket.io-client"]);
            cmd.args([url, scenario]);
            cmd
        },
    );
}

#[test]
fn tokio_server_protocol_conformance() {
    ServerThread::start("tokio_server", tokio_server::serve).run_peer(
        "node sio_protocol.mjs",
        PEER_TIMEOUT,
        |url| {
            let mut cmd = peers::node_with_modules("sio_protocol.mjs", &["ws"]);
            cmd.arg(url);
            cmd
        },
    );
}

#[test]
fn tokio_server_node_connect() {
    node_client("connect");
}

#[test]
fn tokio_server_node_events() {
    node_client("events");
}

#[test]
fn tokio_server_node_websocket_only() {
    node_client("websocket-only");
}

#[test]
fn tokio_server_node_disconnect() {
    node_client("disconnect");
}

#[test]
fn tokio_server_node_reconnect() {
    node_client("reconnect");
}
