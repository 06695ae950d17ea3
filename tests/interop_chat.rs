//! The chat demo (`examples/chat.rs`) in a real browser:
//! `tests/peers/chat_browser.mjs` drives Debian's Chromium (headless) with
//! playwright-core over the page the chat server serves itself (and the
//! socket.io-client bundle it serves at `/socket.io/socket.io.js`): three tabs
//! in two rooms (one tab in both), typing, messages seen by exactly the right
//! tabs, the delivered marks (acks), a tab reloaded mid-chat that rejoins, a
//! leave; a screenshot of a tab goes to `target/chat/chat.png`.
//! Without a local bundle the page names the public CDN's; an `Origin`
//! other than the page's is refused (403).
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

/// One request on a fresh connection; the whole response.
fn http_get(base: &str, target: &str, origin: Option<&str>) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let head =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{origin}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn without_a_local_bundle_the_page_uses_the_cdn_and_other_origins_are_refused() {
    let server = ServerThread::start("chat", |listener, stop| {
        chat::serve_with(listener, "/nonexistent/socket.io.min.js", stop)
    });
    let base = server.base_url();
    let page = http_get(&base, "/", None);
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains(r#"<script src="https://cdn.socket.io/4.8.1/socket.io.min.js">"#),
        "{page}"
    );
    let bundle = http_get(&base, "/socket.io/socket.io.js", None);
    assert!(!bundle.starts_with("HTTP/1.1 200"), "{bundle}");
    let handshake = "/socket.io/?EIO=4&transport=polling";
    let own = http_get(&base, handshake, Some(&base));
    assert!(own.contains("0{\"sid\":\""), "{own}");
    let other = http_get(&base, handshake, Some("http://elsewhere.example"));
    assert!(other.starts_with("HTTP/1.1 403"), "{other}");
    server.finish();
}
