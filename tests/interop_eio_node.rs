//! Interop of the Engine.IO v4 server (`examples/eio_echo.rs`, driving
//! `sockwire::engineio::Session` over `std::net`) with Node peers:
//!
//! - `tests/peers/eio_protocol.mjs`: wire-level conformance checks (plain
//!   `fetch` for long-polling, raw `ws` frames for WebSocket);
//! - `tests/peers/eio_client.mjs`: the real `engine.io-client` 6.6, one test
//!   per scenario.
//!
//! Each test starts its own server on 127.0.0.1 (pingInterval 300 ms,
//! pingTimeout 200 ms, as the peers expect), runs one peer bounded in time
//! and stops the server. Needs `bash tests/scripts/setup-peers.sh`; fails,
//! never skips, when that was not run.

#[path = "../examples/eio_echo.rs"]
#[allow(dead_code)]
mod eio_echo;

mod common;

use std::process::Command;
use std::time::Duration;

use common::peers::{self, ServerThread};
use sockwire::engineio::Config;
use sockwire::time::Duration as EioDuration;

/// A peer run is killed after this long (its own timeouts are shorter).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// `examples/eio_echo.rs`'s `serve` on a thread, stopped on drop.
fn start_server() -> ServerThread {
    let config = Config {
        ping_interval: EioDuration::from_millis(300),
        ping_timeout: EioDuration::from_millis(200),
        ..Config::default()
    };
    ServerThread::start("eio_echo", move |listener, stop| {
        eio_echo::serve(listener, config, stop)
    })
}

/// Runs a peer against a fresh server; asserts exit status 0 (the peer's
/// output is printed, and shown on failure).
fn run_against_server(name: &str, make_cmd: impl FnOnce(&str) -> Command) {
    start_server().run_peer(name, PEER_TIMEOUT, make_cmd);
}

#[test]
fn eio_protocol_conformance() {
    run_against_server("node eio_protocol.mjs", |url| {
        let mut cmd = peers::node_with_modules("eio_protocol.mjs", &["ws"]);
        cmd.arg(url);
        cmd
    });
}

/// The same checks against the reference `engine.io` server: the script
/// asks for nothing the reference does not do.
#[test]
fn eio_protocol_holds_for_the_reference_server() {
    peers::run_script_against_reference("eio_server.mjs", "eio_protocol.mjs", PEER_TIMEOUT);
}

fn eio_client(scenario: &str) {
    run_against_server(&format!("node eio_client.mjs {scenario}"), |url| {
        let mut cmd = peers::node_with_modules("eio_client.mjs", &["engine.io-client"]);
        cmd.args([url, scenario]);
        cmd
    });
}

#[test]
fn eio_client_polling() {
    eio_client("polling");
}

#[test]
fn eio_client_websocket() {
    eio_client("websocket");
}

#[test]
fn eio_client_upgrade() {
    eio_client("upgrade");
}

#[test]
fn eio_client_heartbeat() {
    eio_client("heartbeat");
}

#[test]
fn eio_client_close_by_server() {
    eio_client("close-by-server");
}

#[test]
fn eio_client_close_by_server_websocket() {
    eio_client("close-by-server-websocket");
}
