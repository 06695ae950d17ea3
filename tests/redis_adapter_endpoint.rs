//! The adapter on the Sans-IO endpoint, two nodes in one process and no
//! network: node A's `broadcast_cluster` queues the message its driver
//! publishes (`poll_adapter_publish`), node B applies it
//! (`handle_adapter_message`) to its sockets, binary attachments, rooms and
//! exceptions included; a node drops its own messages; while the driver
//! says Redis is down nothing is sent anywhere.

use sockwire::engineio;
use sockwire::entropy::SplitMix64;
use sockwire::socketio::adapter::request::{self, Kind};
use sockwire::socketio::adapter::{Adapter, Applied, Error, Flags, Outgoing};
use sockwire::socketio::rooms::IndexedRooms;
use sockwire::socketio::{Config, Event, Server};
use sockwire::storage::Growable;
use sockwire::time::Instant;

type Io = Server<u32, Growable, SplitMix64, IndexedRooms>;

const NOW: Instant = Instant::from_millis(0);

fn server(seed: u64) -> Io {
    let eio = engineio::Config {
        path: "/socket.io/",
        ..engineio::Config::default()
    };
    let mut io = Io::new(eio, Config::default(), SplitMix64::new(seed));
    io.enable_adapter(Adapter::new(&mut SplitMix64::new(seed)));
    io
}

fn drain(io: &mut Io) -> String {
    let mut out = vec![0u8; 1 << 16];
    let mut all = String::new();
    while let Some(t) = io.poll_transmit(&mut out).unwrap() {
        all.push_str(&String::from_utf8_lossy(&out[..t.len]));
    }
    all
}

/// A polling client joined to `/` on connection `conn`, in `rooms`:
/// returns (its Engine.IO sid, its socket id).
fn client(io: &mut Io, conn: u32, rooms: &[&str]) -> (String, String) {
    let mut get = *b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    io.handle_input(NOW, conn, &mut get).unwrap();
    let text = drain(io);
    let sid = text[text.find("\"sid\":\"").unwrap() + 7..][..20].to_string();
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40"
    );
    let mut post = post.into_bytes();
    let head = post.len() - 2;
    io.handle_input(NOW, conn + 1000, &mut post[..head])
        .unwrap();
    let input = io
        .handle_input(NOW, conn + 1000, &mut post[head..])
        .unwrap();
    let Some(Event::Connect { sid: s, .. }) = input.message else {
        panic!("no CONNECT")
    };
    let socket = io.accept(&s, "/").unwrap();
    for r in rooms {
        io.join(&socket, r).unwrap();
    }
    drain(io);
    assert!(poll(io, conn + 2000, &sid).starts_with("40{\"sid\""));
    (sid, socket.as_str().to_string())
}

/// What client `sid` gets on its next poll.
fn poll(io: &mut Io, conn: u32, sid: &str) -> String {
    let get =
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    io.handle_input(NOW, conn, &mut get.into_bytes()).unwrap();
    let text = drain(io);
    text.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// What a relayed message did on the receiving node.
#[derive(Debug, PartialEq)]
enum Got {
    Broadcast(sockwire::socketio::Broadcast),
    Request(usize),
    Other,
}

fn relay(from: &mut Io, to: &mut Io) -> Vec<Got> {
    let mut out = vec![0u8; 4096];
    let mut scratch = vec![0u8; 4096];
    let mut applied = Vec::new();
    while let Some(p) = from.poll_adapter_publish(&mut out).unwrap() {
        let (channel, rest) = out.split_at(p.channel_len);
        applied.push(
            match to.handle_adapter_message(NOW, channel, &rest[..p.len], &mut scratch) {
                Ok(Applied::Broadcast(b)) => Got::Broadcast(b),
                Ok(Applied::Request(n)) => Got::Request(n),
                other => {
                    assert!(other.is_ok(), "{other:?}");
                    Got::Other
                }
            },
        );
        // Redis sends the publisher its own message too: a broadcast is
        // dropped, a request applied.
        let own = from.handle_adapter_message(NOW, channel, &rest[..p.len], &mut scratch);
        assert!(
            matches!(own, Ok(Applied::Nothing | Applied::Request(_))),
            "{own:?}"
        );
    }
    applied
}

#[test]
fn a_broadcast_crosses_nodes() {
    let (mut a, mut b) = (server(1), server(2));
    assert_ne!(a.adapter().unwrap().uid(), b.adapter().unwrap().uid());
    let (a1, _) = client(&mut a, 1, &["red"]);
    let (b1, _) = client(&mut b, 2, &["red"]);
    let (b2, b2_socket) = client(&mut b, 3, &["red", "blue"]);
    let (b3, _) = client(&mut b, 4, &[]);

    let bin: &[&[u8]] = &[&[1, 2, 3]];
    let out = Outgoing {
        nsp: "/",
        rooms: &["red"],
        except: &["blue"],
        flags: Flags::default(),
        name: "ev",
        args: r#"{"f":{"_placeholder":true,"num":0}},"x""#,
        attachments: bin,
    };
    // Not connected yet: nothing anywhere.
    assert_eq!(a.broadcast_cluster(&out), Err(Error::NotConnected));
    assert_eq!(a.poll_adapter_publish(&mut [0u8; 4096]), Ok(None));
    a.set_adapter_connected(true);
    assert_eq!(a.broadcast_cluster(&out).unwrap().delivered, 1);
    // Too small a buffer leaves the message queued.
    assert_eq!(
        a.poll_adapter_publish(&mut [0u8; 8]),
        Err(Error::BufferTooSmall { required: 88 })
    );
    let applied = relay(&mut a, &mut b);
    assert_eq!(applied.len(), 1);
    let Got::Broadcast(sent) = applied[0] else {
        panic!("{applied:?}")
    };
    assert_eq!(sent.delivered, 1);

    let want = r#"451-["ev",{"f":{"_placeholder":true,"num":0}},"x"]"#;
    assert_eq!(poll(&mut a, 11, &a1), format!("{want}\x1ebAQID"));
    assert_eq!(poll(&mut b, 12, &b1), format!("{want}\x1ebAQID"));
    // b2 is in blue, b3 in no room.
    b.set_adapter_connected(true);
    let to_all_but_b2 = Outgoing {
        rooms: &[],
        except: &[&b2_socket],
        args: "",
        attachments: &[],
        ..out
    };
    b.broadcast_cluster(&to_all_but_b2).unwrap();
    relay(&mut b, &mut a);
    assert_eq!(poll(&mut b, 13, &b2), "");
    assert_eq!(poll(&mut b, 14, &b3), r#"42["ev"]"#);
    assert_eq!(poll(&mut a, 15, &a1), r#"42["ev"]"#);
}

#[test]
fn requests_cross_nodes_and_come_back() {
    let (mut a, mut b) = (server(3), server(4));
    let (a1, a1_socket) = client(&mut a, 1, &["red"]);
    let (_, b1_socket) = client(&mut b, 2, &["red"]);
    let (b2, b2_socket) = client(&mut b, 3, &["red", "blue"]);
    let join = request::Outgoing {
        nsp: "/",
        kind: Kind::Join,
        select: &["red"],
        except: &["blue"],
        rooms: &["green", "gold"],
    };
    assert_eq!(a.sockets_cluster(NOW, &join), Err(Error::NotConnected));
    a.set_adapter_connected(true);
    a.sockets_cluster(NOW, &join).unwrap();
    // Not applied here before it comes back from Redis.
    assert!(!a.is_in(&sid(&a1_socket), "green"));
    assert_eq!(relay(&mut a, &mut b), [Got::Request(1)]);
    assert!(a.is_in(&sid(&a1_socket), "green") && a.is_in(&sid(&a1_socket), "gold"));
    assert!(b.is_in(&sid(&b1_socket), "green") && b.is_in(&sid(&b1_socket), "gold"));
    assert!(!b.is_in(&sid(&b2_socket), "green"));

    let leave = request::Outgoing {
        kind: Kind::Leave,
        select: &[],
        except: &[],
        rooms: &["gold"],
        ..join
    };
    a.sockets_cluster(NOW, &leave).unwrap();
    assert_eq!(relay(&mut a, &mut b), [Got::Request(1)]);
    assert!(!b.is_in(&sid(&b1_socket), "gold") && b.is_in(&sid(&b1_socket), "green"));

    let disconnect = request::Outgoing {
        kind: Kind::Disconnect { close: false },
        select: &["blue"],
        except: &[],
        rooms: &[],
        ..join
    };
    a.sockets_cluster(NOW, &disconnect).unwrap();
    assert_eq!(relay(&mut a, &mut b), [Got::Request(1)]);
    assert_eq!(poll(&mut b, 20, &b2), "41");
    assert_eq!(b.sockets(), 1);
    let _ = a1;
}

fn sid(s: &str) -> sockwire::engineio::Sid {
    sockwire::engineio::Sid::parse(s).unwrap()
}
