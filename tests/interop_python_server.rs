//! The blocking Socket.IO client (`socketio::blocking::Client`) against a
//! python-socketio 5 server: its ASGI app under uvicorn
//! (`tests/peers/sio_server.py`, the same reference test-server contract as
//! the Node `sio_server.mjs`) on 127.0.0.1. WebSocket only, polling only
//! (uvicorn answers the polling requests with `Transfer-Encoding: chunked`),
//! polling with the upgrade: two namespaces with auth, events, acks both
//! ways, binary both ways; an unknown namespace refused; the server closing
//! the Engine.IO connection. Needs `bash tests/scripts/setup-peers.sh`;
//! fails, never skips, without the venv.

mod common;

use std::time::{Duration, Instant};

use common::peers::{self, Peer};
use common::sio_events::{acks_both_ways, connected, message, until, upgrades_from_polling};
use sockwire::socketio::blocking::{Client, Event, Options, Transports};

const AUTH: &str = r#"{"token":"abc"}"#;
const AUTH_CUSTOM: &str = r#"{"token":"custom","n":2}"#;

fn start_peer() -> (Peer, u16) {
    let cmd = peers::python_command("sio_server.py");
    let mut peer = Peer::spawn("sio_server.py", cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    (peer, port)
}

/// Bytes 0..=255, then pseudo-random ones: every byte value, and more than
/// fits one small read.
fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut out: Vec<u8> = (0..=255).collect();
    out.extend(peers::pseudo_random(len.saturating_sub(256), seed));
    out.truncate(len);
    out
}

/// The scenario on one connection: both namespaces with their auth, an
/// event and its echo, binary both ways, an ack the client asks for, and one
/// the server asks for answered with a binary attachment.
fn round_trip(transports: Transports) {
    let started = Instant::now();
    let (_peer, port) = start_peer();
    let opts = Options::default()
        .transports(transports)
        .namespace("/", Some(AUTH))
        .namespace("/custom", Some(AUTH_CUSTOM));
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    // Each namespace is greeted with the auth it was given (the two
    // namespaces' events may interleave).
    let mut greeted = Vec::new();
    let end = Instant::now() + common::sio_events::WAIT;
    while greeted.len() < 4 && Instant::now() < end {
        match c.next_event(Duration::from_millis(100)) {
            Some(Event::Connect { nsp, .. }) => greeted.push(format!("connect {nsp}")),
            Some(Event::Message(m)) if m.name.as_deref() == Some("auth") => {
                greeted.push(format!("auth {} {}", m.nsp, m.args))
            }
            _ => {}
        }
    }
    greeted.sort();
    assert_eq!(
        greeted,
        [
            format!("auth / {AUTH}"),
            format!("auth /custom {AUTH_CUSTOM}"),
            "connect /".to_string(),
            "connect /custom".to_string(),
        ]
    );

    // An event, and its echo.
    c.emit("/", "message", r#"1,"two",{"three":[3,null,true]}"#)
        .unwrap();
    let back = message(&c, "message-back");
    assert_eq!(back.args, r#"1,"two",{"three":[3,null,true]}"#);

    // Binary both ways: two attachments, nested and at the top level.
    let big = blob(3000, 0x5107);
    let args = r#"{"_placeholder":true,"num":0},"x",{"inner":{"_placeholder":true,"num":1}}"#;
    c.emit_binary("/", "message", args, &[&[1, 2, 3, 255], &big])
        .unwrap();
    let back = message(&c, "message-back");
    assert_eq!(back.attachments.len(), 2, "{back:?}");
    assert_eq!(back.attachments[0], vec![1, 2, 3, 255]);
    assert_eq!(back.attachments[1], big, "the 3000-byte attachment echoed");
    let list = back.arg_list();
    assert_eq!(list.len(), 3, "{back:?}");
    assert_eq!(list[1], r#""x""#);
    assert!(list[0].contains("_placeholder"), "{back:?}");
    assert!(list[2].starts_with(r#"{"inner":"#), "{back:?}");

    // Acks both ways; the one the server asks for is answered with a
    // binary attachment, and the server's `answer` is the first ack
    // argument, bytes included.
    let answer = acks_both_ways(
        &c,
        r#"{"bin":{"_placeholder":true,"num":0},"n":1},"second""#,
        &[&[9, 8, 7, 0]],
    );
    assert_eq!(answer.attachments, vec![vec![9, 8, 7, 0]], "{answer:?}");
    assert_eq!(answer.arg_list().len(), 1, "{answer:?}");
    assert!(answer.args.contains(r#""n":1"#), "{answer:?}");

    // The second namespace still works alongside.
    assert!(c.is_connected("/custom"));
    c.close();
    println!("{transports:?}: {:?}", started.elapsed());
}

#[test]
fn websocket_only() {
    round_trip(Transports::WebSocket);
}

#[test]
fn polling_only() {
    round_trip(Transports::Polling);
}

#[test]
fn polling_with_the_upgrade() {
    let (_peer, port) = start_peer();
    let opts = Options::default().namespace("/", Some(AUTH));
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    upgrades_from_polling(&c);
    c.close();
    drop(_peer);
    round_trip(Transports::Both);
}

#[test]
fn an_unknown_namespace_is_refused() {
    let (_peer, port) = start_peer();
    let opts = Options::default()
        .transports(Transports::Polling)
        .namespace("/", None);
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    connected(&c, "/");
    // Without auth the server greets with {} (as socket.io does).
    assert_eq!(message(&c, "auth").args, "{}");
    c.join("/nope", None).unwrap();
    match until(
        &c,
        "connect error",
        |e| matches!(e, Event::ConnectError { nsp, .. } if nsp == "/nope"),
    ) {
        (Event::ConnectError { data, .. }, _) => {
            assert!(data.contains("Unable to connect"), "{data}")
        }
        _ => unreachable!(),
    }
    // "/" is unaffected.
    c.emit("/", "message", "7").unwrap();
    assert_eq!(message(&c, "message-back").args, "7");
    c.close();
}

/// The server closes the Engine.IO connection: the client sees the
/// namespace disconnected, reconnects by itself and is greeted again.
#[test]
fn the_server_closing_the_transport_is_followed_by_a_reconnection() {
    for transports in [Transports::WebSocket, Transports::Polling] {
        let (_peer, port) = start_peer();
        let mut opts = Options::default()
            .transports(transports)
            .namespace("/", Some(AUTH));
        opts.socket.reconnection_delay = sockwire::time::Duration::from_millis(100);
        opts.socket.reconnection_delay_max = sockwire::time::Duration::from_millis(300);
        let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
        connected(&c, "/");
        assert_eq!(message(&c, "auth").args, AUTH);
        c.emit("/", "force-disconnect-transport", "").unwrap();
        until(
            &c,
            "disconnected",
            |e| matches!(e, Event::Disconnected { nsp, .. } if nsp == "/"),
        );
        connected(&c, "/");
        assert_eq!(message(&c, "auth").args, AUTH, "{transports:?}");
        c.emit("/", "message", r#""again""#).unwrap();
        assert_eq!(message(&c, "message-back").args, r#""again""#);
        c.close();
    }
}
