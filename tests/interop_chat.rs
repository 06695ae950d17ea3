//! The chat demo (`examples/chat.rs`) in a real browser:
//! `tests/peers/chat_browser.mjs` drives Debian's Chromium (headless) with
//! playwright-core over the page the chat server serves itself (and the
//! socket.io-client bundle it serves at `/socket.io/socket.io.js`): three tabs
//! in two rooms (one tab in both), typing, messages seen by exactly the right
//! tabs, the delivered marks (acks), a tab reloaded mid-chat that rejoins, a
//! leave; a screenshot of a tab goes to `target/chat/chat.png`.
//!
//! The server runs on 127.0.0.1:0 in a thread; the script is bounded to 70 s
//! (its own hard timeout is 50 s). Needs `bash tests/scripts/setup-peers.sh`;
//! fails, never skips, when that was not run.

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::peers::{self, ServerThread};

const PEER_TIMEOUT: Duration = Duration::from_secs(70);

/// `target/chat/chat.png` (under `CARGO_TARGET_DIR` when it is set).
fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| peers::repo_root().join("target"));
    target.join("chat").join("chat.png")
}

#[test]
fn chat_in_the_browser() {
    peers::require_chromium();
    let shot = screenshot_path();
    let _ = std::fs::remove_file(&shot);
    let server = ServerThread::start("chat", chat::serve);
    let args = [server.base_url().into(), shot.clone().into_os_string()];
    peers::run_node_script_ok("chat_browser.mjs", args, PEER_TIMEOUT);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        shot.display()
    );
    server.finish();
}
