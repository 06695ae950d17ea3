//! Interop of the Socket.IO v5 server (`examples/sio_server.rs`: a
//! `sockwire::socketio::Connection` on each `sockwire::engineio::Session`, run
//! by `examples/eio_echo.rs`'s loop) with real peers:
//!
//! - `tests/peers/sio_protocol.mjs`: wire-level conformance checks (raw `ws`
//!   frames, plain `fetch` for polling), verified against the reference Node
//!   server `tests/peers/sio_server.mjs`;
//! - `tests/peers/sio_client.mjs`: the real `socket.io-client` 4.8, one test
//!   per scenario;
//! - `tests/peers/sio_client.py`: the real `python-socketio` 5 client, one
//!   test per scenario.
//!
//! Each test starts its own server on 127.0.0.1 (the reference test-server
//! configuration: pingInterval 300 ms, pingTimeout 200 ms, connectTimeout
//! 1000 ms), runs one peer bounded in time and stops the server. Needs
//! `bash tests/scripts/setup-peers.sh`; fails, never skips, when that was not
//! run.

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

mod common;

use std::process::Command;
use std::time::Duration;

use common::peers::{self, SETUP_HINT, ServerThread};

/// A peer run is killed after this long (its own timeouts are shorter).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// `.venv/bin/python tests/peers/SCRIPT`, after checking that the venv has
/// python-socketio and its sync transports.
fn python(script: &str) -> Command {
    let cmd = peers::python_command(script);
    let python = peers::venv_python();
    let check = Command::new(&python)
        .args(["-c", "import socketio, engineio, requests, websocket"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): {SETUP_HINT}", python.display()));
    assert!(
        check.status.success(),
        "{} cannot import python-socketio and its transports ({}): {SETUP_HINT}",
        python.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    cmd
}

/// Runs a peer against a fresh server (`examples/sio_server.rs`'s `serve`
/// on a thread); asserts exit status 0 (the peer's output is printed, and
/// shown on failure).
fn run_against_server(name: &str, make_cmd: impl FnOnce(&str) -> Command) {
    ServerThread::start("sio_server", sio_server::serve).run_peer(name, PEER_TIMEOUT, make_cmd);
}

#[test]
fn sio_protocol_conformance() {
    run_against_server("node sio_protocol.mjs", |url| {
        let mut cmd = peers::node_with_modules("sio_protocol.mjs", &["ws"]);
        cmd.arg(url);
        cmd
    });
}

/// The same checks against the reference `socket.io` server: the script
/// asks for nothing the reference does not do.
#[test]
fn sio_protocol_holds_for_the_reference_server() {
    peers::run_script_against_reference("sio_server.mjs", "sio_protocol.mjs", PEER_TIMEOUT);
}

fn node_client(scenario: &str) {
    run_against_server(&format!("node sio_client.mjs {scenario}"), |url| {
        let mut cmd = peers::node_with_modules("sio_client.mjs", &["socket.io-client"]);
        cmd.args([url, scenario]);
        cmd
    });
}

#[test]
fn sio_client_node_connect() {
    node_client("connect");
}

#[test]
fn sio_client_node_events() {
    node_client("events");
}

#[test]
fn sio_client_node_websocket_only() {
    node_client("websocket-only");
}

#[test]
fn sio_client_node_unknown_namespace() {
    node_client("unknown-namespace");
}

#[test]
fn sio_client_node_disconnect() {
    node_client("disconnect");
}

#[test]
fn sio_client_node_reconnect() {
    node_client("reconnect");
}

fn python_client(scenario: &str) {
    run_against_server(&format!("python sio_client.py {scenario}"), |url| {
        let mut cmd = python("sio_client.py");
        cmd.args([url, scenario]);
        cmd
    });
}

#[test]
fn sio_client_python_connect() {
    python_client("connect");
}

#[test]
fn sio_client_python_events() {
    python_client("events");
}
