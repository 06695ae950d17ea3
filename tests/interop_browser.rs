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

use std::time::Duration;

use common::peers::{self, ServerThread};

/// The script is killed after this long (its own hard timeout is 40 s).
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn browser_socketio_client() {
    peers::require_chromium();

    // `examples/sio_server.rs`'s `serve` on a thread, stopped on drop.
    let server = ServerThread::start("sio_server", sio_server::serve);
    peers::run_node_script_ok("browser_sio.mjs", [server.base_url()], PEER_TIMEOUT);
    server.finish();
}
