//! The blocking Socket.IO client (`socketio::blocking::Client`, over the
//! `socketio::Client` endpoint that owns its connections) against the
//! reference Node `socket.io` 4.8 server (`tests/peers/sio_server.mjs`) on
//! 127.0.0.1: WebSocket only, polling only, polling with the upgrade, two
//! namespaces with auth, events, acks both ways, binary both ways, and
//! connection state recovery (`recovered: true`). Needs
//! `bash tests/scripts/setup-peers.sh`; fails, never skips, without Node.

mod common;

use std::time::{Duration, Instant};

use common::peers::{self, Peer};
use common::sio_events::{acks_both_ways, connected, message, until, upgrades_from_polling};
use sockwire::socketio::blocking::{Client, Event, Options, Transports};

const AUTH: &str = r#"{"token":"abc"}"#;

fn start_peer(args: &[&str]) -> (Peer, u16) {
    let mut cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
    cmd.args(args);
    let mut peer = Peer::spawn("sio_server.mjs", cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    (peer, port)
}

fn round_trip(transports: Transports) {
    let (_peer, port) = start_peer(&[]);
    let opts = Options::default()
        .transports(transports)
        .namespace("/", Some(AUTH))
        .namespace("/custom", Some(AUTH));
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    connected(&c, "/");
    connected(&c, "/custom");
    // The server greets each namespace with the auth it received.
    let auth = message(&c, "auth");
    assert_eq!(auth.args, AUTH);

    // An event, and its echo.
    c.emit("/", "message", r#"1,"two",{"three":3}"#).unwrap();
    let back = message(&c, "message-back");
    assert_eq!(back.args, r#"1,"two",{"three":3}"#);

    // Binary both ways.
    let ph = r#"{"_placeholder":true,"num":0},"x""#;
    c.emit_binary("/", "message", ph, &[&[1, 2, 3, 255]])
        .unwrap();
    let back = message(&c, "message-back");
    assert_eq!(back.attachments, vec![vec![1, 2, 3, 255]]);

    // Acks both ways, the server's answered with a binary attachment.
    let answer = acks_both_ways(
        &c,
        r#"{"bin":{"_placeholder":true,"num":0}}"#,
        &[&[9, 8, 7]],
    );
    assert_eq!(answer.attachments, vec![vec![9, 8, 7]], "{answer:?}");
    c.close();
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
    let (_peer, port) = start_peer(&[]);
    let opts = Options::default().namespace("/", None);
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    upgrades_from_polling(&c);
    round_trip(Transports::Both);
}

#[test]
fn server_acks_and_recovery() {
    let (_peer, port) = start_peer(&["--recovery"]);
    let opts = Options::default()
        .transports(Transports::WebSocket)
        .namespace("/", None);
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    let (sid, recovered, _) = connected(&c, "/");
    assert!(!recovered);
    // An event so the client has an offset.
    c.emit("/", "message", r#""one""#).unwrap();
    message(&c, "message-back");
    // The server closes the transport and emits while we are away.
    c.emit("/", "emit-later", r#"300,"missed""#).unwrap();
    c.emit("/", "force-disconnect-transport", "").unwrap();
    let (_, _) = until(&c, "disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    let (sid2, recovered, seen) = connected(&c, "/");
    assert!(recovered, "recovered after the drop");
    assert_eq!(sid, sid2, "the same socket id");
    // The missed event is replayed before the CONNECT reply.
    let later = seen
        .iter()
        .find_map(|e| match e {
            Event::Message(m) if m.name.as_deref() == Some("later") => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no replayed `later` in {seen:?}"));
    assert!(later.args.starts_with(r#""missed""#), "{later:?}");
    c.close();
}

/// The server process is killed and restarted (same port) while the client
/// emits a numbered sequence with acks: every emit is acked exactly once or
/// reported as timed out (never both, never neither), and the client
/// reconnects by itself.
#[test]
fn server_killed_and_restarted_while_emitting() {
    let (peer, port) = start_peer(&[]);
    let mut opts = Options::default()
        .transports(Transports::WebSocket)
        .namespace("/", None);
    opts.socket.reconnection_delay = sockwire::time::Duration::from_millis(200);
    opts.socket.reconnection_delay_max = sockwire::time::Duration::from_millis(500);
    let c = Client::connect(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    connected(&c, "/");
    const N: u64 = 150;
    let mut ids = Vec::new();
    let mut peer = Some(peer);
    let mut restarted = None;
    for i in 0..N {
        match c.emit_with_ack_id(
            "/",
            "message-with-ack",
            &i.to_string(),
            &[],
            Some(Duration::from_secs(4)),
        ) {
            Ok(id) => ids.push((id, i)),
            // Refused at once (a full table or buffer): reported, not lost.
            Err(e) => println!("emit {i} refused: {e}"),
        }
        if i == 40 {
            // Killed mid-sequence.
            let _ = peer.take().unwrap().wait(Duration::from_millis(0));
        }
        if i == 80 {
            let mut cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
            cmd.arg(port.to_string());
            let mut p = Peer::spawn("sio_server.mjs (restarted)", cmd);
            assert_eq!(p.wait_listening(Duration::from_secs(20)), port);
            restarted = Some(p);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut acked = std::collections::HashMap::new();
    let mut timed_out = std::collections::HashSet::new();
    let mut reconnected = false;
    let end = Instant::now() + Duration::from_secs(20);
    while acked.len() + timed_out.len() < ids.len() && Instant::now() < end {
        match c.next_event(Duration::from_millis(200)) {
            Some(Event::Ack(m)) => {
                let id = m.ack_id.unwrap();
                assert!(acked.insert(id, m.args.clone()).is_none(), "ack {id} twice");
            }
            Some(Event::AckTimeout(id)) => assert!(timed_out.insert(id), "timeout {id} twice"),
            Some(Event::Connect { .. }) => reconnected = true,
            _ => {}
        }
    }
    for (id, i) in &ids {
        match (acked.get(id), timed_out.contains(id)) {
            (Some(args), false) => assert_eq!(args, &i.to_string(), "ack {id} answers emit {i}"),
            (None, true) => {}
            (Some(_), true) => panic!("emit {i} (id {id}) both acked and timed out"),
            (None, false) => panic!("emit {i} (id {id}) neither acked nor reported"),
        }
    }
    assert!(reconnected, "the client reconnected by itself");
    // Emits made after the restart went through.
    assert!(
        ids.iter()
            .filter(|(id, i)| *i > 100 && acked.contains_key(id))
            .count()
            > 0,
        "acks after the restart: {} acked, {} timed out",
        acked.len(),
        timed_out.len()
    );
    println!(
        "{} acked, {} timed out of {N}",
        acked.len(),
        timed_out.len()
    );
    c.close();
    drop(restarted);
}
