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

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::peers::{self, SETUP_HINT};

/// The script is killed after this long (its own hard timeout is 40 s).
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser the script launches (Debian package `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// `examples/sio_server.rs`'s `serve` on a thread, stopped on drop.
struct SioServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl SioServer {
    fn start() -> SioServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || sio_server::serve(listener, &flag));
        SioServer {
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
            Ok(Err(e)) => panic!("sio_server::serve failed: {e}"),
            Err(_) => panic!("the sio_server thread panicked"),
        }
    }
}

impl Drop for SioServer {
    fn drop(&mut self) {
        // On a failing test: stop the thread without asserting again.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

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
    let modules = peers::peers_dir().join("node_modules");
    for module in ["playwright-core", "socket.io-client"] {
        require_file(
            &modules.join(module).join("package.json"),
            &format!("the npm module `{module}`"),
        );
    }
    require_file(
        &modules.join("socket.io-client/dist/socket.io.min.js"),
        "the socket.io-client browser bundle",
    );

    let server = SioServer::start();
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
