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

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::peers::{self, SETUP_HINT};
use sockwire::engineio::Config;
use sockwire::time::Duration as EioDuration;

/// A peer run is killed after this long (its own timeouts are shorter).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// `examples/eio_echo.rs`'s `serve` on a thread, stopped on drop.
struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let config = Config {
            ping_interval: EioDuration::from_millis(300),
            ping_timeout: EioDuration::from_millis(200),
            ..Config::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || eio_echo::serve(listener, config, &flag));
        EchoServer {
            addr,
            stop,
            handle: Some(handle),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and checks that `serve` returned `Ok`.
    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("server already stopped");
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("eio_echo::serve failed: {e}"),
            Err(_) => panic!("the eio_echo server thread panicked"),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        // On a failing test: stop the thread without asserting again.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// `node tests/peers/SCRIPT`, after checking the npm modules it imports.
fn node(script: &str, modules: &[&str]) -> Command {
    let cmd = peers::node_command(script);
    for module in modules {
        let pkg = peers::peers_dir()
            .join("node_modules")
            .join(module)
            .join("package.json");
        assert!(
            pkg.is_file(),
            "the npm module `{module}` is not installed ({} missing): {SETUP_HINT}",
            pkg.display()
        );
    }
    cmd
}

/// Runs a peer against a fresh server; asserts exit status 0 (the peer's
/// output is printed, and shown on failure).
fn run_against_server(name: &str, make_cmd: impl FnOnce(&str) -> Command) {
    let server = EchoServer::start();
    let cmd = make_cmd(&server.base_url());
    let out = peers::run_to_end(name, cmd, PEER_TIMEOUT);
    out.assert_success();
    server.finish();
}

#[test]
fn eio_protocol_conformance() {
    run_against_server("node eio_protocol.mjs", |url| {
        let mut cmd = node("eio_protocol.mjs", &["ws"]);
        cmd.arg(url);
        cmd
    });
}

fn eio_client(scenario: &str) {
    run_against_server(&format!("node eio_client.mjs {scenario}"), |url| {
        let mut cmd = node("eio_client.mjs", &["engine.io-client"]);
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
