//! A mixed cluster on one real Redis: two sockwire nodes
//! (`examples/sio_server.rs` on the std runner and `examples/tokio_server.rs`
//! on tokio, both with the runner's Redis link) and one Node node
//! (`socket.io` 4.8 with `@socket.io/redis-adapter` 8.3), two Node
//! `socket.io-client` clients on each. Broadcasts from a client of each node
//! kind to all, to a room, to a room except another, with a binary
//! attachment: each targeted client of every node receives each exactly
//! once, no other client does (`tests/peers/cluster_clients.mjs` checks).

// tokio_server loads sio_server as a module of its own, for its application.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

#[path = "../examples/tokio_server.rs"]
#[allow(dead_code)]
mod tokio_server;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

mod common;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use common::peers::{Peer, ServerThread, node_with_modules, run_to_end};
use common::redis::RedisServer;
use sockwire::runner::{self, SocketIo, SocketIoApp, SocketIoServer};
use sockwire::socketio::adapter::{Flags, Outgoing};
use sockwire::socketio::endpoint::OwnedEvent;
use sockwire::time::Instant as Now;

const MODULES: &[&str] = &[
    "socket.io",
    "socket.io-client",
    "@socket.io/redis-adapter",
    "redis",
];

/// Waits until `n` nodes receive a broadcast on `/` (a probe to a room no
/// one is in, so it reaches no client).
fn wait_for_nodes(redis: &RedisServer, n: i64) {
    let probe = Outgoing {
        nsp: "/",
        rooms: &["nobody-here"],
        except: &[],
        flags: Flags::default(),
        name: "probe",
        args: "",
        attachments: &[],
    };
    let mut channel = [0u8; 64];
    let c = probe.channel("socket.io", &mut channel).unwrap();
    let mut message = [0u8; 128];
    let len = probe.encode("probe0", 32, &mut message).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = redis.publish(&channel[..c], &message[..len]);
        if got >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {got} of {n} nodes subscribed within 15 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
    // The sockwire nodes' publishers connect beside their subscribers.
    thread::sleep(Duration::from_millis(300));
}

/// Two sockwire nodes (std runner, tokio) and a Node node on one Redis,
/// six clients (two on each); runs `cluster_clients.mjs` with `broadcasts` and `ops` (JSON
/// lists) and asserts it passes.
fn run_cluster(broadcasts: &[String], ops: &str) {
    let redis = RedisServer::start();
    let addr = SocketAddr::from(([127, 0, 0, 1], redis.port));
    let s1 = ServerThread::start("sio_server", move |l, stop| {
        sio_server::serve_redis(l, stop, addr)
    });
    let s2 = ServerThread::start("tokio_server", move |l, stop| {
        tokio_server::serve_cluster(l, sio_server::ENGINEIO, stop, Some(addr))
    });
    let mut cmd = node_with_modules("sio_server.mjs", MODULES);
    cmd.args(["0", "--redis", &redis.port.to_string()]);
    let mut node = Peer::spawn("sio_server.mjs --redis", cmd);
    let node_port = node.wait_listening(Duration::from_secs(15));
    wait_for_nodes(&redis, 3);

    let clients = [
        ("s1a", "s1", r#"["red"]"#),
        ("s1b", "s1", r#"["red","blue"]"#),
        ("s2a", "s2", r#"["blue"]"#),
        ("s2b", "s2", "[]"),
        ("n1a", "n1", r#"["red"]"#),
        ("n1b", "n1", r#"["blue","green"]"#),
    ];
    let plan = format!(
        r#"{{"nodes":{{"s1":"{}","s2":"{}","n1":"http://127.0.0.1:{node_port}"}},"clients":[{}],"broadcasts":[{}],"ops":{ops}}}"#,
        s1.base_url(),
        s2.base_url(),
        clients
            .iter()
            .map(|(n, node, rooms)| format!(r#"{{"name":"{n}","node":"{node}","rooms":{rooms}}}"#))
            .collect::<Vec<_>>()
            .join(","),
        broadcasts.join(",")
    );
    let mut cmd = node_with_modules("cluster_clients.mjs", MODULES);
    cmd.arg(plan);
    run_to_end("cluster_clients.mjs", cmd, Duration::from_secs(30)).assert_success();
    s1.finish();
    s2.finish();
}

fn broadcast(from: &str, target: &str, binary: bool) -> String {
    format!(r#"{{"from":"{from}","target":{target},"binary":{binary}}}"#)
}

#[test]
fn mixed_cluster_delivers_each_broadcast_exactly_once() {
    let targets = [
        ("null", false),
        (r#""red""#, false),
        (r#"{"rooms":["red"],"except":["blue"]}"#, false),
        (r#"{"rooms":["red","green"],"except":[]}"#, false),
        (r#""blue""#, true),
        ("null", true),
        // Socket ids: every socket is in the room named by its id.
        (r#""@s2b""#, false),
        (r#"{"rooms":["@n1a","@s2a"],"except":[]}"#, true),
        (r#"{"rooms":["@s1b","red"],"except":["@n1a"]}"#, false),
    ];
    let mut broadcasts = Vec::new();
    for from in ["s1a", "s2b", "n1b"] {
        for (target, binary) in targets {
            broadcasts.push(broadcast(from, target, binary));
        }
    }
    // A broadcast with acks from the Node node (a request on the request
    // channel) reaches the sockwire nodes' clients too.
    broadcasts.push(broadcast(
        "n1b",
        r#"{"rooms":["red","blue"],"except":["green"],"withAck":true}"#,
        false,
    ));
    run_cluster(&broadcasts, "[]");
}

/// `socketsJoin`, `socketsLeave` and `disconnectSockets` issued from each
/// node kind reach the sockets of the others (selected by rooms and by
/// socket ids): the broadcasts after them reach the rooms as changed.
#[test]
fn mixed_cluster_applies_each_request() {
    let ops = r#"[
        {"before":0,"from":"s1a","op":"join","rooms":["red"],"except":["blue"],"to":["purple"]},
        {"before":1,"from":"n1b","op":"join","rooms":["blue"],"except":[],"to":["teal"]},
        {"before":2,"from":"s2b","op":"leave","rooms":[],"except":[],"to":["red"]},
        {"before":3,"from":"n1a","op":"leave","rooms":["teal"],"except":[],"to":["blue"]},
        {"before":4,"from":"n1b","op":"disconnect","rooms":["purple"],"except":[],"close":false},
        {"before":5,"from":"s2b","op":"join","rooms":["@n1b","@s1b"],"except":[],"to":["gold"]},
        {"before":6,"from":"n1b","op":"disconnect","rooms":["teal"],"except":["@s2a"],"close":true}
    ]"#;
    let broadcasts = [
        broadcast("n1b", r#""purple""#, false),
        broadcast("s2b", r#""teal""#, false),
        broadcast("s1a", r#"{"rooms":["red","purple"],"except":[]}"#, false),
        broadcast("n1a", r#"{"rooms":["teal","blue"],"except":[]}"#, false),
        broadcast("s2a", "null", false),
        broadcast("s2a", r#""gold""#, false),
        broadcast("s2b", "null", false),
    ];
    run_cluster(&broadcasts, ops);
}

/// The reference test server, keeping the cluster notices it is told.
struct Recording(Arc<Mutex<Vec<(bool, String)>>>);

impl SocketIoApp for Recording {
    fn on_event(&mut self, now: Now, io: &mut SocketIoServer, event: OwnedEvent) {
        sio_server::app(now, io, event);
    }
    fn on_cluster(&mut self, _: Now, _: &mut SocketIoServer, connected: bool, notice: &str) {
        eprintln!("{notice}");
        self.0.lock().unwrap().push((connected, notice.to_string()));
    }
}

/// The ack of one `broadcast` [null, "once"] through the server at `url`.
fn broadcast_once(url: &str) -> String {
    let mut cmd = node_with_modules("sio_broadcast_once.mjs", MODULES);
    cmd.arg(url);
    let out = run_to_end("sio_broadcast_once.mjs", cmd, Duration::from_secs(15));
    out.assert_success();
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("ACK "))
        .expect("an ACK line")
        .to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "{what} within 15 s");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sockwire_node_survives_a_redis_restart() {
    let mut redis = RedisServer::start();
    let addr = SocketAddr::from(([127, 0, 0, 1], redis.port));
    let notices = Arc::new(Mutex::new(Vec::new()));
    let recorded = notices.clone();
    let server = ServerThread::start("sio_server", move |l, stop| {
        let app = Recording(recorded);
        let mut endpoint =
            SocketIo::new(sio_server::ENGINEIO, sio_server::SOCKETIO, app).with_redis(addr)?;
        runner::serve(l, &mut endpoint, stop)
    });
    let connected =
        |n: &Arc<Mutex<Vec<(bool, String)>>>| n.lock().unwrap().last().is_some_and(|l| l.0);
    wait_for("the node connects", || connected(&notices));
    wait_for_nodes(&redis, 1);
    assert_eq!(
        broadcast_once(&server.base_url()),
        r#"{"delivered":1,"full":0}"#
    );

    redis.stop();
    wait_for("the node notices Redis is gone", || !connected(&notices));
    // A broadcast while Redis is down fails, and the client is told.
    assert_eq!(
        broadcast_once(&server.base_url()),
        r#"{"error":"not connected to Redis"}"#
    );

    redis.restart();
    wait_for("the node reconnects", || connected(&notices));
    // Subscribed again: a message published now reaches it.
    wait_for_nodes(&redis, 1);
    assert_eq!(
        broadcast_once(&server.base_url()),
        r#"{"delivered":1,"full":0}"#
    );
    let log = notices.lock().unwrap().clone();
    let text: Vec<&str> = log.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        text.iter().any(|n| n.contains("subscriber down")),
        "notices: {text:#?}"
    );
    assert!(
        text.iter().filter(|n| n.ends_with(": subscribed")).count() >= 2,
        "notices: {text:#?}"
    );
    server.finish();
}

/// Two chat servers (`examples/chat.rs --redis`) on one Redis: a message and
/// a typing notice cross from one to the other's room members.
#[test]
fn two_chat_servers_share_their_rooms() {
    let redis = RedisServer::start();
    let addr = SocketAddr::from(([127, 0, 0, 1], redis.port));
    let start = || {
        ServerThread::start("chat", move |l, stop| {
            chat::serve_cluster(l, "/nonexistent", stop, Some(addr))
        })
    };
    let (c1, c2) = (start(), start());
    wait_for_nodes(&redis, 2);
    let mut cmd = node_with_modules("chat_cluster.mjs", MODULES);
    cmd.args([c1.base_url(), c2.base_url()]);
    run_to_end("chat_cluster.mjs", cmd, Duration::from_secs(20)).assert_success();
    c1.finish();
    c2.finish();
}
