//! A real browser against the Socket.IO v5 server (`examples/sio_server.rs`):
//! `tests/peers/browser_sio.mjs` drives Debian's Chromium (`/usr/bin/chromium`,
//! headless) with playwright-core; a page served from another origin runs the
//! socket.io-client 4.8 browser bundle against the server: connect over
//! polling, the upgrade to websocket, `auth`, `message` -> `message-back`,
//! `emitWithAck`, binary arguments, the `/custom` namespace, disconnect, and
//! the same events on a polling-only session (see the script's header).
//!
//! The server runs on 127.0.0.1:0 in a thread; the script is bounded to 60 s
//! (its own hard timeout is 40 s). Needs `bash tests/scripts/setup-peers.sh`
//! (which installs Debian's chromium and the npm modules); fails, never
//! skips, when that was not run.

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::peers::{self, SETUP_HINT, ServerThread};

/// The script is killed after this long (its own hard timeout is 40 s).
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser the script launches (Debian package `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Panics with the setup hint unless `path` is a file.
fn require_file(path: &Path, what: &str) {
    assert!(
        path.is_file(),
        "{what} is not installed ({} missing): {SETUP_HINT}",
        path.display()
    );
}

#[test]
fn browser_socketio_client() {
    require_file(
        Path::new(CHROMIUM),
        "Debian's chromium (apt package `chromium`)",
    );
    peers::require_npm_modules(&["playwright-core", "socket.io-client"]);
    require_file(
        &peers::peers_dir().join("node_modules/socket.io-client/dist/socket.io.min.js"),
        "the socket.io-client browser bundle",
    );

    // `examples/sio_server.rs`'s `serve` on a thread, stopped on drop.
    let server = ServerThread::start("sio_server", sio_server::serve);
    let mut cmd = peers::node_command("browser_sio.mjs");
    cmd.arg(server.base_url());
    let started = Instant::now();
    let out = peers::run_to_end("node browser_sio.mjs", cmd, PEER_TIMEOUT);
    println!("browser run took {:?}", started.elapsed());
    out.assert_success();
    assert!(
        out.stdout.lines().any(|l| l == r#"{"ok":true}"#),
        "browser_sio.mjs exited 0 without its {{\"ok\":true}} line:\n{}",
        out.stdout
    );
    server.finish();
}
