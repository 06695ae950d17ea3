//! The requests of a mixed cluster on one real Redis: two sockwire nodes
//! (`examples/sio_server.rs` on the std runner, `examples/tokio_server.rs`
//! on tokio) and one Node node (`socket.io` 4.8 with
//! `@socket.io/redis-adapter` 8.3), two `socket.io-client` clients on each.
//! `fetchSockets`, `allRooms`, `serverSideEmit` with an ack and broadcasts
//! with acks, issued from each node, gather every node's answer
//! (`tests/peers/cluster_requests.mjs` checks); with a subscriber of the
//! request channel that never answers, each times out with what came.
//! redis-server and node must be installed (`tests/scripts/setup-peers.sh`):
//! the test fails without them.

// tokio_server loads sio_server as a module of its own, for its application.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

#[path = "../examples/tokio_server.rs"]
#[allow(dead_code)]
mod tokio_server;

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::peers::{Peer, ServerThread, node_with_modules, run_to_end};
use common::redis::RedisServer;
use sockwire::socketio::adapter::resp;

const MODULES: &[&str] = &[
    "socket.io",
    "socket.io-client",
    "@socket.io/redis-adapter",
    "redis",
];

const REQUESTS: &[u8] = b"socket.io-request#/#";

/// Waits until `PUBSUB NUMSUB` counts `n` subscribers of the request channel
/// of `/`.
fn wait_for_servers(redis: &RedisServer, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = redis
            .command_item(&[b"PUBSUB", b"NUMSUB", REQUESTS], 1)
            .unwrap_or(-1);
        if got == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{got} subscribers of the request channel, not {n}, after 15 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until Redis has `n` client connections besides the one asking
/// (each node's publisher and subscriber: a sockwire node refuses requests
/// until both are up).
fn wait_for_connections(redis: &RedisServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut s = TcpStream::connect(("127.0.0.1", redis.port)).expect("connect to redis");
        let args: [&[u8]; 2] = [b"CLIENT", b"LIST"];
        let mut cmd = vec![0u8; resp::encoded_len(&args)];
        resp::encode(&args, &mut cmd).unwrap();
        s.write_all(&cmd).unwrap();
        let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
        let got = loop {
            if let Some((frame, _)) = resp::parse(&buf, &resp::Limits::DEFAULT).unwrap() {
                break frame.bytes(0).map_or(0, |b| {
                    b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count()
                }) - 1;
            }
            let k = s.read(&mut chunk).expect("redis reply");
            assert!(k > 0, "redis closed the connection");
            buf.extend_from_slice(&chunk[..k]);
        };
        if got >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{got} Redis connections, not {n}, after 15 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
    // The nodes see their connections up.
    thread::sleep(Duration::from_millis(100));
}

/// A subscriber of the request channel that never answers.
fn silent_subscriber(redis: &RedisServer) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", redis.port)).expect("connect to redis");
    let args: [&[u8]; 2] = [b"SUBSCRIBE", REQUESTS];
    let mut cmd = vec![0u8; resp::encoded_len(&args)];
    resp::encode(&args, &mut cmd).unwrap();
    s.write_all(&cmd).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).expect("SUBSCRIBE answered");
    assert!(n > 0, "redis closed the connection");
    s
}

#[test]
fn mixed_cluster_answers_each_request_from_each_node() {
    run(false);
}

/// The same with the Node node answering on the asking node's own response
/// channel (`publishOnSpecificResponseChannel`), which sockwire nodes
/// subscribe to as well.
#[test]
fn node_answers_on_the_specific_response_channel() {
    run(true);
}

fn run(specific: bool) {
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
    if specific {
        cmd.env("SIO_SPECIFIC_RESPONSE", "1");
    }
    let mut node = Peer::spawn("sio_server.mjs --redis", cmd);
    let node_port = node.wait_listening(Duration::from_secs(15));
    // The sockwire nodes SUBSCRIBE to the request channel by name: counted.
    wait_for_servers(&redis, 3);
    wait_for_connections(&redis, 6);

    let clients = [
        ("s1a", "s1", r#"["red"]"#),
        ("s1b", "s1", r#"["red","blue"]"#),
        ("s2a", "s2", r#"["blue"]"#),
        ("s2b", "s2", "[]"),
        ("n1a", "n1", r#"["red"]"#),
        ("n1b", "n1", r#"["blue","green"]"#),
    ];
    let plan = |timeout: bool| {
        format!(
            r#"{{"nodes":{{"s1":"{}","s2":"{}","n1":"http://127.0.0.1:{node_port}"}},"clients":[{}],"timeout":{timeout}}}"#,
            s1.base_url(),
            s2.base_url(),
            clients
                .iter()
                .map(|(n, node, rooms)| format!(
                    r#"{{"name":"{n}","node":"{node}","rooms":{rooms}}}"#
                ))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let mut cmd = node_with_modules("cluster_requests.mjs", MODULES);
    cmd.arg(plan(false));
    run_to_end("cluster_requests.mjs", cmd, Duration::from_secs(45)).assert_success();

    // A fourth subscriber that never answers: every request times out.
    let _silent = silent_subscriber(&redis);
    wait_for_servers(&redis, 4);
    let mut cmd = node_with_modules("cluster_requests.mjs", MODULES);
    cmd.arg(plan(true));
    run_to_end("cluster_requests.mjs timeout", cmd, Duration::from_secs(45)).assert_success();
    s1.finish();
    s2.finish();
}
