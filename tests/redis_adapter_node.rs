//! sockwire's encoding of broadcasts, published on a real Redis, is accepted
//! by a Node `socket.io` node with `@socket.io/redis-adapter`: its clients
//! receive each event, binary attachments included, to a room, with
//! exceptions (rooms and socket ids), exactly once and no one else.

mod common;

use std::time::Duration;

use common::peers::{Peer, node_with_modules};
use common::redis::RedisServer;
use sockwire::socketio::adapter::{Flags, Outgoing};

/// A uid no Node node has (theirs are random alphanumerics).
const UID: &str = "sockwr";

fn publish(redis: &RedisServer, b: &Outgoing<'_>) {
    let mut channel = [0u8; 128];
    let c = b.channel("socket.io", &mut channel).unwrap();
    let mut message = vec![0u8; 100_000];
    let n = b.encode(UID, 32, &mut message).unwrap();
    let receivers = redis.publish(&channel[..c], &message[..n]);
    assert_eq!(receivers, 1, "the Node node's PSUBSCRIBE receives it");
}

fn outgoing<'a>(
    rooms: &'a [&'a str],
    except: &'a [&'a str],
    name: &'a str,
    args: &'a str,
    attachments: &'a [&'a [u8]],
) -> Outgoing<'a> {
    Outgoing {
        nsp: "/",
        rooms,
        except,
        flags: Flags::default(),
        name,
        args,
        attachments,
    }
}

#[test]
fn node_clients_receive_sockwire_broadcasts() {
    let redis = RedisServer::start();
    let mut cmd = node_with_modules(
        "redis_accept.mjs",
        &[
            "socket.io",
            "socket.io-client",
            "@socket.io/redis-adapter",
            "redis",
        ],
    );
    cmd.arg(redis.port.to_string());
    let mut node = Peer::spawn("redis_accept.mjs", cmd);
    let ready = node.wait_line("READY ", Duration::from_secs(15));
    let sids: Vec<&str> = ready.split(' ').collect();
    let sid_c = sids[2];

    let mut expect: Vec<String> = Vec::new();
    let mut want = |clients: &str, line: &str| {
        for c in clients.chars() {
            expect.push(format!("{c} {line}"));
        }
    };
    // To every socket of "/".
    publish(
        &redis,
        &outgoing(&[], &[], "hello", r#""world",{"n":1.5}"#, &[]),
    );
    want("ABC", r#"hello ["world",{"n":1.5}]"#);
    // To room1, with binary attachments nested in the arguments.
    let big = vec![0xabu8; 70_000];
    let args = r#"{"file":{"_placeholder":true,"num":0}},[{"_placeholder":true,"num":1}],"é""#;
    let bins: [&[u8]; 2] = [&[1, 2, 3], &big];
    publish(&redis, &outgoing(&["room1"], &[], "file", args, &bins));
    want(
        "AB",
        &format!(
            r#"file [{{"file":{{"hex":"010203"}}}},[{{"hex":"{}"}}],"é"]"#,
            "ab".repeat(70_000)
        ),
    );
    // To room1 except room2.
    publish(
        &redis,
        &outgoing(&["room1"], &["room2"], "only-a", "1", &[]),
    );
    want("A", "only-a [1]");
    // To several rooms, except a socket id.
    publish(
        &redis,
        &outgoing(&["room1", "room2"], &[sids[1]], "not-b", "null", &[]),
    );
    want("A", "not-b [null]");
    // To everyone except C's socket id.
    publish(&redis, &outgoing(&[], &[sid_c], "not-c", "", &[]));
    want("AB", "not-c []");

    let mut got = node.lines_within("EVENT ", Duration::from_millis(1500));
    got.sort();
    expect.sort();
    assert_eq!(got.len(), expect.len(), "events: {got:#?}");
    for (g, e) in got.iter().zip(&expect) {
        assert!(g == e, "got {:.200}\nwant {:.200}", g, e);
    }
}
