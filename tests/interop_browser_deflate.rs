//! Chromium's native `WebSocket` with permessage-deflate against the echo
//! server (`examples/ws_echo.rs`): `tests/peers/ws_deflate_browser.mjs` drives
//! Debian's Chromium (`/usr/bin/chromium`, headless) with playwright-core; a
//! page checks that `ws.extensions` names permessage-deflate and that a 1 MiB
//! compressible JSON text, 1 MiB of random bytes, 1000 small messages and
//! empty text and binary messages come back identical, then closes cleanly
//! (see the script's header).
//!
//! The page connects through a byte-counting TCP relay on 127.0.0.1 in front
//! of `ws_echo::serve`, so the test also sees the wire: the handshake offered
//! and accepted the extension, and the compressible text was compressed both
//! ways (each direction carries far fewer bytes than the messages hold).
//!
//! Bounded to 40 s (the script's own hard timeout is 25 s; the run takes a
//! few seconds). Needs `bash tests/scripts/setup-peers.sh` (Debian's chromium
//! and the npm module playwright-core); fails, never skips, when that was not
//! run.

#[path = "../examples/ws_echo.rs"]
#[allow(dead_code)]
mod ws_echo;

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::peers;

const PEER_TIMEOUT: Duration = Duration::from_secs(40);
/// How long the relay and the echo server wait for their one connection.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the page sends (see the script): at least this much compressible
/// JSON and exactly this much random binary, plus small messages.
const JSON_AT_LEAST: u64 = 1 << 20;
const RANDOM: u64 = 1 << 20;

/// Accepts one connection on `listener` within [`ACCEPT_TIMEOUT`].
fn accept_one(listener: &TcpListener) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if start.elapsed() > ACCEPT_TIMEOUT {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no connection came",
                    ));
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One direction of the relay: copies until EOF, then half-closes `to`.
/// Returns the byte count and the first bytes (the HTTP head).
fn pump(mut from: TcpStream, mut to: TcpStream) -> io::Result<(u64, Vec<u8>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut head) = (0u64, Vec::new());
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        };
        if head.len() < 2048 {
            head.extend_from_slice(&buf[..n.min(2048 - head.len())]);
        }
        total += n as u64;
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    Ok((total, head))
}

/// What went through the relay.
struct Wire {
    to_server: u64,
    to_client: u64,
    request: String,
    response: String,
}

/// A relay on 127.0.0.1 in front of `server` for one connection.
fn relay(server: SocketAddr) -> (SocketAddr, thread::JoinHandle<io::Result<Wire>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let client = accept_one(&listener)?;
        let upstream = TcpStream::connect(server)?;
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
        let up = thread::spawn(move || pump(client, upstream));
        let (to_client, response) = pump(u2, c2)?;
        let (to_server, request) = up.join().expect("relay thread")?;
        let head = |b: &[u8]| {
            let end = b
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        Ok(Wire {
            to_server,
            to_client,
            request: head(&request),
            response: head(&response),
        })
    });
    (addr, handle)
}

#[test]
fn chromium_websocket_permessage_deflate_against_ws_echo() {
    // Fail (never skip) when the browser or its driver is missing.
    assert!(
        Path::new(peers::CHROMIUM).is_file(),
        "Debian's chromium is not installed ({} missing): {}",
        peers::CHROMIUM,
        peers::SETUP_HINT
    );
    peers::require_npm_modules(&["playwright-core"]);

    // examples/ws_echo.rs's `serve` for the one connection the page makes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo server");
    let echo_addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let r = accept_one(&listener).and_then(ws_echo::serve);
        let _ = done_tx.send(r);
    });
    let (relay_addr, relay) = relay(echo_addr);

    let started = Instant::now();
    // (its output is printed, and shown on failure)
    peers::run_node_script_ok(
        "ws_deflate_browser.mjs",
        [format!("ws://{relay_addr}/echo")],
        PEER_TIMEOUT,
    );

    let served = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("ws_echo::serve did not return after the page closed");
    served.expect("ws_echo::serve failed");
    let wire = relay.join().expect("relay thread").expect("relay");
    println!(
        "wire: {} bytes to the server, {} bytes to the browser, {:?} in all\n---- request ----\n{}\n---- response ----\n{}",
        wire.to_server,
        wire.to_client,
        started.elapsed(),
        wire.request,
        wire.response
    );

    let lower = |s: &str| s.to_ascii_lowercase();
    assert!(
        lower(&wire.request).contains("sec-websocket-extensions: permessage-deflate"),
        "Chromium did not offer permessage-deflate:\n{}",
        wire.request
    );
    assert!(
        lower(&wire.response).starts_with("http/1.1 101")
            && lower(&wire.response).contains("sec-websocket-extensions: permessage-deflate"),
        "ws_echo did not accept permessage-deflate:\n{}",
        wire.response
    );
    // Each direction carries the random MiB (incompressible) plus the JSON
    // MiB; compressed, the JSON shrinks to a small fraction, uncompressed the
    // wire would carry at least JSON_AT_LEAST + RANDOM.
    let bound = RANDOM + JSON_AT_LEAST / 4;
    for (dir, n) in [
        ("to the server", wire.to_server),
        ("to the browser", wire.to_client),
    ] {
        assert!(
            n > RANDOM && n < bound,
            "{n} bytes went {dir}: expected more than the {RANDOM} random bytes and under {bound} \
             (the {JSON_AT_LEAST}+ bytes of JSON compressed)"
        );
    }
}
