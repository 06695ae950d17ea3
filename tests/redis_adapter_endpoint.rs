//! The adapter on the Sans-IO endpoint, two nodes in one process and no
//! network: node A's `broadcast_cluster` queues the message its driver
//! publishes (`poll_adapter_publish`), node B applies it
//! (`handle_adapter_message`) to its sockets, binary attachments, rooms and
//! exceptions included; a node drops its own messages; while the driver
//! says Redis is down nothing is sent anywhere. The requests that want
//! answers (allRooms, fetchSockets, serverSideEmit with an ack, broadcasts
//! with acks) are answered by the other node and collected, end when every
//! server `PUBSUB NUMSUB` counted has answered, and time out on the virtual
//! clock with what came.

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

/// Delivers every message `from` queued to `to` and back to `from` (Redis
/// sends a publisher its own); returns what `to` made of each, as text
/// (`Debug`), and checks `from` ignores its own answers and requests.
fn deliver(from: &mut Io, to: &mut Io) -> Vec<String> {
    let mut out = vec![0u8; 8192];
    let mut scratch = vec![0u8; 8192];
    let mut applied = Vec::new();
    while let Some(p) = from.poll_adapter_publish(&mut out).unwrap() {
        let (channel, rest) = out.split_at(p.channel_len);
        let got = to.handle_adapter_message(NOW, channel, &rest[..p.len], &mut scratch);
        applied.push(format!("{got:?}"));
        let own = from.handle_adapter_message(NOW, channel, &rest[..p.len], &mut scratch);
        assert!(
            matches!(own, Ok(Applied::Nothing | Applied::Request(_))),
            "{own:?}"
        );
    }
    applied
}

const REQUESTS: &[u8] = b"socket.io-request#/#";

/// The request channel the node asks Redis to count, once.
fn count_asked(io: &mut Io) {
    let mut out = [0u8; 64];
    let n = io
        .poll_adapter_count(&mut out)
        .unwrap()
        .expect("a count to ask");
    assert_eq!(&out[..n], REQUESTS);
    assert_eq!(io.poll_adapter_count(&mut out), Ok(None));
}

#[test]
fn queries_are_answered_collected_and_timed_out() {
    use sockwire::socketio::adapter::{RequestDone, RequestKind};
    use sockwire::time::Duration;
    let (mut a, mut b) = (server(5), server(6));
    client(&mut a, 1, &["red"]);
    let (_, b1) = client(&mut b, 2, &["red"]);
    let (_, b2) = client(&mut b, 3, &["red", "blue"]);
    assert_eq!(a.all_rooms_cluster(NOW, "/"), Err(Error::NotConnected));
    a.set_adapter_connected(true);
    b.set_adapter_connected(true);

    // allRooms: b answers with its sockets' ids and its rooms.
    let id = a.all_rooms_cluster(NOW, "/").unwrap();
    count_asked(&mut a);
    assert_eq!(deliver(&mut a, &mut b), ["Ok(Answered)"]);
    let answers = deliver(&mut b, &mut a);
    assert_eq!(answers.len(), 1);
    for want in [id.as_str(), &b1, &b2, "\\\"blue\\\"", "\\\"red\\\""] {
        assert!(answers[0].contains(want), "{want} in {answers:?}");
    }
    // Not over until Redis says how many servers there are.
    assert_eq!(a.poll_cluster_event(), None);
    a.handle_adapter_count(REQUESTS, 2);
    assert_eq!(
        a.poll_cluster_event(),
        Some(RequestDone {
            request: id,
            kind: RequestKind::AllRooms,
            timed_out: false,
            responses: 1,
            expected: Some(1),
            clients: 0,
            acks: 0,
        })
    );

    // fetchSockets of `blue`: b2 alone, its own id first among its rooms.
    let id = a.fetch_sockets_cluster(NOW, "/", &["blue"], &[]).unwrap();
    count_asked(&mut a);
    a.handle_adapter_count(REQUESTS, 2);
    deliver(&mut a, &mut b);
    let answers = deliver(&mut b, &mut a);
    let want = format!(
        r#"sockets: "[{{\"id\":\"{b2}\",\"handshake\":{{\"headers\":{{}},\"time\":\"\",\"address\":\"\",\"xdomain\":false,\"secure\":false,\"issued\":0,\"url\":\"\",\"query\":{{}},\"auth\":{{}}}},\"rooms\":[\"{b2}\",\"red\",\"blue\"],\"data\":{{}}}}]""#
    );
    assert!(answers[0].contains(&want), "{answers:?}\n{want}");
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.responses),
        (id, false, 1)
    );

    // A third subscriber that never answers: the request times out at
    // Node's 5 s, with the answer that came.
    let id = a.all_rooms_cluster(NOW, "/").unwrap();
    count_asked(&mut a);
    a.handle_adapter_count(REQUESTS, 3);
    deliver(&mut a, &mut b);
    deliver(&mut b, &mut a);
    assert_eq!(a.poll_cluster_event(), None);
    let at = NOW + Duration::from_millis(5000);
    assert_eq!(a.poll_timeout(), Some(at));
    a.handle_timeout(NOW + Duration::from_millis(4999));
    assert_eq!(a.poll_cluster_event(), None);
    a.handle_timeout(at);
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.responses, done.expected),
        (id, true, 1, Some(2))
    );
    assert_ne!(a.poll_timeout(), Some(at));

    // Alone on Redis: over as soon as it is counted. Redis never answers:
    // timed out, the expected count unknown.
    let id = a.fetch_sockets_cluster(NOW, "/", &[], &[]).unwrap();
    a.handle_adapter_count(REQUESTS, 1);
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.expected),
        (id, false, Some(0))
    );
    a.set_requests_timeout(Duration::from_millis(100));
    let id = a.all_rooms_cluster(NOW, "/").unwrap();
    a.handle_timeout(NOW + Duration::from_millis(100));
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.expected),
        (id, true, None)
    );

    // Bounded: MAX_REQUESTS at once, then QueueFull.
    let mut a = server(7);
    a.set_adapter_connected(true);
    for _ in 0..sockwire::socketio::adapter::MAX_REQUESTS {
        a.all_rooms_cluster(NOW, "/").unwrap();
    }
    assert_eq!(a.all_rooms_cluster(NOW, "/"), Err(Error::QueueFull));
}

/// The ack id of the event client `sid` got on its next poll.
fn ack_id_of(io: &mut Io, conn: u32, sid: &str) -> u64 {
    let text = poll(io, conn, sid);
    let rest = text.strip_prefix("42").unwrap_or_else(|| panic!("{text}"));
    rest[..rest.find('[').unwrap()].parse().unwrap()
}

/// Client `sid` acks `id` with `args`; returns what its node made of it.
fn client_ack(io: &mut Io, conn: u32, sid: &str, id: u64, args: &str) -> String {
    let body = format!("43{id}[{args}]");
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut post = post.into_bytes();
    let mut at = 0;
    let (socket, ack_id, args) = loop {
        let input = io.handle_input(NOW, conn, &mut post[at..]).unwrap();
        at += input.consumed;
        if let Some(Event::Ack { socket, message }) = input.message {
            break (
                socket,
                message.ack_id.unwrap(),
                message.args_raw().to_string(),
            );
        }
        assert!(input.consumed > 0 || input.again, "no ack");
    };
    let got = io.handle_cluster_ack(&socket, ack_id, &args, &[]);
    drain(io);
    format!("{got:?}")
}

#[test]
fn server_side_emits_and_broadcasts_with_acks() {
    use sockwire::socketio::adapter::ClusterAck;
    use sockwire::time::Duration;
    let (mut a, mut b) = (server(8), server(9));
    let (a1, _) = client(&mut a, 1, &["red"]);
    let (b1, _) = client(&mut b, 2, &["red"]);
    let (b2, _) = client(&mut b, 3, &["red", "blue"]);
    client(&mut b, 4, &[]);
    a.set_adapter_connected(true);
    b.set_adapter_connected(true);

    // serverSideEmit with an ack: b's application answers.
    let id = a
        .server_side_emit_with_ack_cluster(NOW, "/", "ask", r#"1,{"x":2}"#)
        .unwrap();
    count_asked(&mut a);
    a.handle_adapter_count(REQUESTS, 2);
    let mut out = vec![0u8; 4096];
    let mut scratch = vec![0u8; 4096];
    let p = a.poll_adapter_publish(&mut out).unwrap().unwrap();
    let (channel, rest) = out.split_at(p.channel_len);
    let Ok(Applied::ServerSideEmit(e)) =
        b.handle_adapter_message(NOW, channel, &rest[..p.len], &mut scratch)
    else {
        panic!()
    };
    assert_eq!((e.name, e.args), (r#""ask""#, r#"1,{"x":2}"#));
    let rid = e.request_id.unwrap().to_string();
    assert_eq!(rid, id.as_str());
    b.server_side_emit_ack("/", &rid, r#""yes",2"#).unwrap();
    let got = deliver(&mut b, &mut a);
    assert!(
        got[0].contains(r#"ServerSideEmitAck { request_id: ""#),
        "{got:?}"
    );
    assert!(got[0].contains(r#"data: Some("\"yes\"")"#), "{got:?}");
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.responses),
        (id, false, 1)
    );

    // A broadcast with acks to `red`: a1 here, b1 and b2 there.
    let out_b = Outgoing {
        nsp: "/",
        rooms: &["red"],
        except: &[],
        flags: Flags::default(),
        name: "ev",
        args: r#""hi""#,
        attachments: &[],
    };
    let (id, asked) = a
        .broadcast_with_ack_cluster(NOW, &out_b, Duration::from_millis(1000))
        .unwrap();
    assert_eq!(asked, 1);
    count_asked(&mut a);
    a.handle_adapter_count(REQUESTS, 2);
    assert_eq!(deliver(&mut a, &mut b), ["Ok(BroadcastWithAck(2))"]);
    let (k1, k2) = (ack_id_of(&mut b, 12, &b1), ack_id_of(&mut b, 13, &b2));
    let ka = ack_id_of(&mut a, 11, &a1);
    assert_eq!(client_ack(&mut b, 22, &b1, k1, r#""b1""#), "Ok(Forwarded)");
    assert_eq!(
        client_ack(&mut a, 21, &a1, ka, r#""a1""#),
        format!("{:?}", Ok::<_, Error>(ClusterAck::Own(id)))
    );
    // An ack no broadcast asked for is the application's.
    assert_eq!(
        b.handle_cluster_ack(&sid(&b1), k1 + 100, "", &[]),
        Ok(ClusterAck::NotClusters)
    );
    let got = deliver(&mut b, &mut a);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains("ClientCount") && got[0].contains("count: 2"),
        "{got:?}"
    );
    assert!(got[1].contains("BroadcastAck"), "{got:?}");
    assert_eq!(a.poll_cluster_event(), None, "b2 has not acked");
    assert_eq!(client_ack(&mut b, 23, &b2, k2, r#""b2""#), "Ok(Forwarded)");
    deliver(&mut b, &mut a);
    let done = a.poll_cluster_event().unwrap();
    assert_eq!(
        (done.request, done.timed_out, done.clients, done.acks),
        (id, false, 3, 3)
    );

    // A client that never acks: the broadcast times out at its own timeout.
    let (id, _) = a
        .broadcast_with_ack_cluster(NOW, &out_b, Duration::from_millis(300))
        .unwrap();
    a.handle_adapter_count(REQUESTS, 1);
    assert_eq!(a.poll_cluster_event(), None);
    a.handle_timeout(NOW + Duration::from_millis(300));
    let done = a.poll_cluster_event();
    assert!(
        done.is_some_and(|d| d.request == id && d.timed_out && d.clients == 1 && d.acks == 0),
        "{done:?}"
    );
}
