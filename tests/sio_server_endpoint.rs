//! Scenario tests of `socketio::Server` on a virtual clock: connect with auth,
//! accept and refuse, events and acks both ways, ack and connect timeouts,
//! binary attachments on both transports, rooms and broadcast with `except`
//! (exact recipients), a full target counted, disconnect cleaning rooms, a
//! broadcast framed once on WebSocket (the same bytes as an emit, any `out`
//! size) and a broadcast over mixed transports.

use std::collections::BTreeMap;

use sockwire::engineio;
use sockwire::engineio::Sid;
use sockwire::engineio::server::{Conn, Entry};
use sockwire::entropy::SplitMix64;
use sockwire::socketio::endpoint::OwnedEvent;
use sockwire::socketio::endpoint::{SocketRef, State};
use sockwire::socketio::rooms::IndexedRooms;
use sockwire::socketio::{Config, Server};
use sockwire::storage::{Buffers, Fixed, Growable, Storage};
use sockwire::time::{Duration, Instant};

/// The storage a test server keeps its tables in.
trait Store:
    Storage<u32, Sid, Conn, Entry<u32, Buf<Self>, State<Buf<Self>>>> + Storage<Sid, Sid, SocketRef, ()>
{
}

impl<T> Store for T where
    T: Storage<u32, Sid, Conn, Entry<u32, Buf<T>, State<Buf<T>>>>
        + Storage<Sid, Sid, SocketRef, ()>
{
}

type Buf<S> = <S as Buffers>::Buf;

type Io<S> = Server<u32, S, SplitMix64, IndexedRooms>;

/// Lent storage with room for recovery: a log of 4 KiB, 4 kept sessions.
type Lent = Fixed<8, 8, 4096, 4096, 4>;

const WS_HEAD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// A masked client frame.
fn mask(payload: &[u8], op: u8) -> Vec<u8> {
    let m = [9u8, 8, 7, 6];
    let mut f = vec![0x80 | op];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&m);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
    f
}

/// A frame from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

struct Net<S: Store = Growable> {
    io: Io<S>,
    now: Instant,
    input: BTreeMap<u32, Vec<u8>>,
    output: BTreeMap<u32, Vec<u8>>,
    closed: Vec<u32>,
    events: Vec<OwnedEvent>,
    /// The size of the buffer `poll_transmit` writes into.
    out_len: usize,
    /// `poll_transmit` results so far, per connection.
    writes: BTreeMap<u32, usize>,
}

impl Net {
    fn new(eio: engineio::Config, config: Config) -> Self {
        Self::with_storage(eio, config)
    }
}

impl<S: Store> Net<S> {
    fn with_storage(eio: engineio::Config, config: Config) -> Self {
        let eio = engineio::Config {
            path: "/socket.io/",
            ..eio
        };
        Net {
            io: Io::new(eio, config, SplitMix64::new(3)),
            now: Instant::from_millis(0),
            input: BTreeMap::new(),
            output: BTreeMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
            out_len: 1 << 16,
            writes: BTreeMap::new(),
        }
    }

    fn send(&mut self, conn: u32, bytes: &[u8]) {
        self.input.entry(conn).or_default().extend_from_slice(bytes);
        self.pump();
    }

    fn pump(&mut self) {
        let mut out = vec![0u8; self.out_len];
        loop {
            let mut moved = false;
            let conns: Vec<u32> = self.input.keys().copied().collect();
            for conn in conns {
                loop {
                    let buf = self.input.get_mut(&conn).unwrap();
                    let r = self.io.handle_input(self.now, conn, buf).unwrap();
                    let (consumed, blocked, progress) = (r.consumed, r.blocked, r.progressed());
                    let ev = r.message.map(|e| e.to_owned());
                    buf.drain(..consumed);
                    self.events.extend(ev);
                    moved |= progress;
                    if blocked || !progress {
                        break;
                    }
                }
            }
            while let Some(t) = self.io.poll_transmit(&mut out).unwrap() {
                moved = true;
                *self.writes.entry(t.conn).or_default() += 1;
                self.output
                    .entry(t.conn)
                    .or_default()
                    .extend_from_slice(&out[..t.len]);
                if t.close_after {
                    self.closed.push(t.conn);
                    self.input.remove(&t.conn);
                }
            }
            while let Some(e) = self.io.poll_event() {
                self.events.push(e.to_owned());
            }
            if !moved {
                break;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        let t = self.now + Duration::from_millis(ms);
        while let Some(due) = self.io.poll_timeout() {
            if due > t {
                break;
            }
            self.now = due;
            self.io.handle_timeout(due);
            self.pump();
        }
        self.now = t;
        self.io.handle_timeout(t);
        self.pump();
    }

    /// Expects the event `bin` from `socket` with one attachment, `data`;
    /// answers with `blob` carrying `[9, 8]`.
    fn expect_bin_and_emit_blob(&mut self, socket: Sid, data: &[u8]) {
        let ev = self.take_events();
        let placeholder = r#"{"_placeholder":true,"num":0}"#;
        assert_eq!(
            event(&ev[0]),
            (socket, "bin", None, placeholder.into(), vec![data.to_vec()])
        );
        self.io
            .emit(&socket, "blob", placeholder, &[&[9, 8]])
            .unwrap();
    }

    /// Emits `ping` to `socket` with an ack due in 1 s; its ack id.
    fn ping(&mut self, socket: Sid) -> u64 {
        let timeout = Some(Duration::from_millis(1_000));
        let id = self
            .io
            .emit_with_ack(self.now, &socket, "ping", "", &[], timeout);
        self.pump();
        id.unwrap()
    }

    fn take_events(&mut self) -> Vec<OwnedEvent> {
        std::mem::take(&mut self.events)
    }

    /// The frames the server wrote on `conn` (a 101 head skipped).
    fn frames(&mut self, conn: u32) -> Vec<Frame> {
        let mut out = self.output.remove(&conn).unwrap_or_default();
        if out.starts_with(b"HTTP/1.1 101") {
            let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            out.drain(..end);
        }
        let mut frames = Vec::new();
        let mut at = 0;
        while at < out.len() {
            let op = out[at] & 0x0f;
            let (len, head) = match out[at + 1] {
                126 => (
                    usize::from(u16::from_be_bytes([out[at + 2], out[at + 3]])),
                    4,
                ),
                127 => panic!("a huge frame"),
                n => (usize::from(n), 2),
            };
            let payload = out[at + head..at + head + len].to_vec();
            at += head + len;
            frames.push(match op {
                1 => Frame::Text(String::from_utf8(payload).unwrap()),
                2 => Frame::Binary(payload),
                8 => Frame::Close,
                op => panic!("opcode {op}"),
            });
        }
        frames
    }

    /// Texts on `conn`, pings answered and dropped.
    fn texts(&mut self, conn: u32) -> Vec<String> {
        let mut v = Vec::new();
        for f in self.frames(conn) {
            match f {
                Frame::Text(t) if t == "2" => self.send(conn, &mask(b"3", 1)),
                Frame::Text(t) => v.push(t),
                f => panic!("{f:?} on {conn}"),
            }
        }
        v
    }

    fn text(&mut self, conn: u32, text: &str) {
        self.send(conn, &mask(text.as_bytes(), 1));
    }

    /// A WebSocket session on `conn`: its Engine.IO sid.
    fn ws_open(&mut self, conn: u32) -> Sid {
        let head = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n"
        );
        self.send(conn, head.as_bytes());
        let texts = self.texts(conn);
        let open = &texts[0];
        let at = open.find("\"sid\":\"").unwrap() + 7;
        Sid::parse(&open[at..at + 20]).unwrap()
    }

    /// A WebSocket client connected to `/` and accepted: (sid, socket id).
    fn client(&mut self, conn: u32) -> (Sid, Sid) {
        let sid = self.ws_open(conn);
        self.text(conn, "40");
        let ev = self.take_events();
        assert_eq!(
            ev,
            [OwnedEvent::Connect {
                sid,
                nsp: "/".into(),
                auth: None
            }]
        );
        let socket = self.io.accept(&sid, "/").unwrap();
        self.pump();
        assert_eq!(
            self.texts(conn),
            [format!("40{{\"sid\":\"{}\"}}", socket.as_str())]
        );
        (sid, socket)
    }
}

impl<S: Store> Net<S> {
    /// A polling session (handshake GET on `get`, POSTs on `post`) connected
    /// to `/` and accepted: (sid, socket id).
    fn polling_client(&mut self, get: u32, post: u32) -> (Sid, Sid) {
        let head = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
        self.send(get, head);
        let out = String::from_utf8(self.output.remove(&get).unwrap()).unwrap();
        let at = out.find("\"sid\":\"").unwrap() + 7;
        let sid = Sid::parse(&out[at..at + 20]).unwrap();
        self.post(post, &sid, "40");
        assert_eq!(self.take_events().len(), 1);
        let socket = self.io.accept(&sid, "/").unwrap();
        self.pump();
        assert_eq!(
            self.poll(get, &sid),
            format!("40{{\"sid\":\"{}\"}}", socket.as_str())
        );
        (sid, socket)
    }

    /// POSTs `body` for session `sid` on `conn`.
    fn post(&mut self, conn: u32, sid: &Sid, body: &str) {
        let req = format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            sid.as_str(),
            body.len()
        );
        self.send(conn, req.as_bytes());
        let out = String::from_utf8(self.output.remove(&conn).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }

    /// A long-poll GET for session `sid` on `conn`: the response body.
    fn poll(&mut self, conn: u32, sid: &Sid) -> String {
        let req = format!(
            "GET /socket.io/?EIO=4&transport=polling&sid={} HTTP/1.1\r\nHost: x\r\n\r\n",
            sid.as_str()
        );
        self.send(conn, req.as_bytes());
        let out = String::from_utf8(self.output.remove(&conn).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        out[out.find("\r\n\r\n").unwrap() + 4..].to_string()
    }
}

fn eio_config() -> engineio::Config {
    engineio::Config::default()
}

fn event(ev: &OwnedEvent) -> (Sid, &str, Option<u64>, String, Vec<Vec<u8>>) {
    match ev {
        OwnedEvent::Event { socket, message } => (
            *socket,
            message.name().unwrap(),
            message.ack_id,
            message.args_raw().to_string(),
            message.attachments.clone(),
        ),
        e => panic!("not an event: {e:?}"),
    }
}

#[test]
fn connect_with_auth_accept_refuse_and_unknown_namespace() {
    let mut net = Net::new(eio_config(), Config::default());
    let a = net.ws_open(1);
    net.text(1, r#"40{"token":"abc"}"#);
    assert_eq!(
        net.take_events(),
        [OwnedEvent::Connect {
            sid: a,
            nsp: "/".into(),
            auth: Some(r#"{"token":"abc"}"#.into())
        }]
    );
    let socket = net.io.accept(&a, "/").unwrap();
    assert_ne!(socket, a, "socket ids differ from the Engine.IO sid");
    net.pump();
    assert_eq!(
        net.texts(1),
        [format!("40{{\"sid\":\"{}\"}}", socket.as_str())]
    );
    assert_eq!(net.io.socket(&socket).map(|(s, _)| s), Some(a));
    // Refused by the application.
    let b = net.ws_open(2);
    net.text(2, "40");
    assert_eq!(net.take_events().len(), 1);
    net.io.refuse(&b, "/", "not allowed").unwrap();
    net.pump();
    assert_eq!(net.texts(2), [r#"44{"message":"not allowed"}"#]);
    assert_eq!(net.io.sockets(), 1);
    // An unknown namespace is refused without asking the application.
    net.text(2, "40/nope,");
    assert!(net.take_events().is_empty());
    assert_eq!(net.texts(2), [r#"44/nope,{"message":"Invalid namespace"}"#]);
}

#[test]
fn events_and_acks_both_ways_and_ack_timeout() {
    let mut net = Net::new(eio_config(), Config::default());
    let (sid, socket) = net.client(1);
    net.text(1, r#"42["hi",1]"#);
    net.text(1, r#"427["question"]"#);
    let ev = net.take_events();
    assert_eq!(event(&ev[0]), (socket, "hi", None, "1".into(), vec![]));
    assert_eq!(
        event(&ev[1]),
        (socket, "question", Some(7), "".into(), vec![])
    );
    net.io.ack(&socket, 7, r#""answer""#, &[]).unwrap();
    net.pump();
    assert_eq!(net.texts(1), [r#"437["answer"]"#]);
    // The server asks; the client answers.
    let id = net.ping(socket);
    assert_eq!(net.texts(1), [format!(r#"42{id}["ping"]"#)]);
    net.text(1, &format!(r#"43{id}["pong"]"#));
    let ev = net.take_events();
    match &ev[..] {
        [OwnedEvent::Ack { socket: s, message }] => {
            assert_eq!(
                (*s, message.ack_id, message.args_raw()),
                (socket, Some(id), r#""pong""#)
            );
        }
        ev => panic!("{ev:?}"),
    }
    // Unanswered: an AckTimeout at its deadline, not before.
    let id = net.ping(socket);
    net.advance(999);
    assert!(net.take_events().is_empty());
    net.advance(1);
    assert_eq!(net.take_events(), [OwnedEvent::AckTimeout { sid, id }]);
    // A late answer is not delivered as an ack.
    net.texts(1);
    net.text(1, &format!(r#"43{id}["late"]"#));
    assert!(
        !net.take_events()
            .iter()
            .any(|e| matches!(e, OwnedEvent::Ack { .. }))
    );
}

#[test]
fn connect_timeout_closes_the_session() {
    let config = Config {
        connect_timeout: Duration::from_millis(2_000),
        ..Config::default()
    };
    let mut net = Net::new(eio_config(), config);
    let sid = net.ws_open(1);
    net.advance(1_999);
    assert!(net.take_events().is_empty());
    net.advance(1);
    assert_eq!(net.take_events(), [OwnedEvent::ConnectTimeout { sid }]);
    net.advance(10);
    assert_eq!(net.frames(1).last(), Some(&Frame::Close));
    // The client answers the close: the session and its connection end.
    net.send(1, &mask(b"", 8));
    assert!(net.closed.contains(&1));
    assert_eq!(net.io.engine().sessions(), 0);
}

#[test]
fn binary_attachments_on_websocket_and_polling() {
    let mut net = Net::new(eio_config(), Config::default());
    let (_, socket) = net.client(1);
    net.text(1, r#"451-["bin",{"_placeholder":true,"num":0}]"#);
    assert!(net.take_events().is_empty(), "waits for its attachment");
    net.send(1, &mask(&[1, 2, 3], 2));
    net.expect_bin_and_emit_blob(socket, &[1, 2, 3]);
    net.pump();
    assert_eq!(
        net.frames(1),
        [
            Frame::Text(r#"451-["blob",{"_placeholder":true,"num":0}]"#.into()),
            Frame::Binary(vec![9, 8])
        ]
    );
    // Polling: the attachment as a base64 packet in the same body.
    let get = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    net.send(2, get);
    let out = String::from_utf8(net.output.remove(&2).unwrap()).unwrap();
    let at = out.find("\"sid\":\"").unwrap() + 7;
    let sid = out[at..at + 20].to_string();
    let post = |body: &str| {
        format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    net.send(3, post("40").as_bytes());
    let psid = Sid::parse(&sid).unwrap();
    assert_eq!(net.take_events().len(), 1);
    let psock = net.io.accept(&psid, "/").unwrap();
    net.send(
        3,
        post("451-[\"bin\",{\"_placeholder\":true,\"num\":0}]\x1ebBAUG").as_bytes(),
    );
    net.expect_bin_and_emit_blob(psock, &[4, 5, 6]);
    net.output.remove(&2);
    net.send(
        2,
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n")
            .as_bytes(),
    );
    let out = String::from_utf8(net.output.remove(&2).unwrap()).unwrap();
    let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        body,
        format!(
            "40{{\"sid\":\"{}\"}}\x1e451-[\"blob\",{{\"_placeholder\":true,\"num\":0}}]\x1ebCQg=",
            psock.as_str()
        )
    );
}

#[test]
fn rooms_and_broadcast_with_except_reach_exactly_their_targets() {
    let mut net = Net::new(eio_config(), Config::default());
    let sockets: Vec<Sid> = (1..=4).map(|c| net.client(c).1).collect();
    let [a, b, c, _d] = sockets[..] else {
        unreachable!()
    };
    net.io.join(&a, "r1").unwrap();
    net.io.join(&b, "r1").unwrap();
    net.io.join(&b, "r2").unwrap();
    net.io.join(&c, "r2").unwrap();
    let recipients = |net: &mut Net, rooms: &[&str], except: &[&str], n: u32| {
        let name = format!("m{n}");
        let sent = net
            .io
            .broadcast("/", rooms, except, &name, "", &[])
            .unwrap();
        net.pump();
        let got: Vec<u32> = (1..=4)
            .filter(|&conn| {
                let texts = net.texts(conn);
                assert!(texts.len() <= 1, "{texts:?}");
                texts
                    .first()
                    .is_some_and(|t| *t == format!(r#"42["{name}"]"#))
            })
            .collect();
        assert_eq!(sent.delivered, got.len());
        assert_eq!(sent.full, 0);
        got
    };
    assert_eq!(recipients(&mut net, &["r1"], &[], 1), [1, 2]);
    assert_eq!(
        recipients(&mut net, &["r1", "r2"], &[], 2),
        [1, 2, 3],
        "b once"
    );
    assert_eq!(recipients(&mut net, &["r1", "r2"], &["r2"], 3), [1]);
    assert_eq!(recipients(&mut net, &[], &["r1"], 4), [3, 4]);
    assert_eq!(recipients(&mut net, &["r2"], &[b.as_str()], 5), [3]);
    assert_eq!(recipients(&mut net, &[], &[], 6), [1, 2, 3, 4]);
    assert_eq!(recipients(&mut net, &["nobody"], &[], 7), Vec::<u32>::new());
    assert!(net.io.leave(&b, "r1"));
    assert_eq!(recipients(&mut net, &["r1"], &[], 8), [1]);
    // A socket id is the room of its socket, as in the reference
    // (`io.to(socket.id)`), each socket reached once.
    let d = sockets[3];
    assert_eq!(recipients(&mut net, &[d.as_str()], &[], 9), [4]);
    assert_eq!(
        recipients(&mut net, &[a.as_str(), "r1", c.as_str(), "r2"], &[], 10),
        [1, 2, 3],
        "a and c once, b through r2"
    );
    assert_eq!(
        recipients(&mut net, &["r2", c.as_str()], &[], 11),
        [2, 3],
        "c once"
    );
    assert_eq!(
        recipients(&mut net, &[a.as_str(), d.as_str()], &[d.as_str()], 12),
        [1]
    );
    assert_eq!(
        recipients(&mut net, &["ZZZZZZZZZZZZZZZZZZZZ"], &[], 13),
        Vec::<u32>::new(),
        "an id of no socket"
    );
}

#[test]
fn a_full_target_is_counted_not_dropped_silently() {
    let eio = engineio::Config {
        send_queue_len: 512,
        ..eio_config()
    };
    let mut net = Net::new(eio, Config::default());
    let (_, a) = net.client(1);
    let (_, b) = net.client(2);
    // Fill a's queue without transmitting.
    let big = format!(r#""{}""#, "x".repeat(100));
    let mut queued = 0;
    while net.io.emit(&a, "fill", &big, &[]).is_ok() {
        queued += 1;
    }
    assert!(queued > 0);
    let sent = net.io.broadcast("/", &[], &[], "all", &big, &[]).unwrap();
    assert_eq!((sent.delivered, sent.full), (1, 1));
    net.pump();
    let texts = net.texts(1);
    assert_eq!(texts.len(), queued);
    assert!(texts.iter().all(|t| t.starts_with(r#"42["fill""#)));
    assert_eq!(net.texts(2).len(), 1);
    let _ = b;
}

#[test]
fn disconnect_cleans_rooms() {
    let mut net = Net::new(eio_config(), Config::default());
    let (_, a) = net.client(1);
    let (_, b) = net.client(2);
    net.io.join(&a, "r").unwrap();
    net.io.join(&b, "r").unwrap();
    // The client leaves the namespace.
    net.text(1, "41");
    assert_eq!(
        net.take_events(),
        [OwnedEvent::Disconnect {
            socket: a,
            reason: "client namespace disconnect"
        }]
    );
    assert!(!net.io.is_in(&a, "r"));
    // The other one's TCP connection drops.
    net.io.handle_closed(net.now, 2);
    net.input.remove(&2);
    net.pump();
    assert_eq!(
        net.take_events(),
        [OwnedEvent::Disconnect {
            socket: b,
            reason: "transport close"
        }]
    );
    assert!(!net.io.is_in(&b, "r"));
    assert_eq!(net.io.sockets(), 0);
    let sent = net.io.broadcast("/", &["r"], &[], "x", "", &[]).unwrap();
    assert_eq!((sent.delivered, sent.full), (0, 0));
    // The server disconnects a socket: gone from its rooms at once.
    let (_, c) = net.client(3);
    net.io.join(&c, "r").unwrap();
    net.io.disconnect(&c).unwrap();
    net.pump();
    assert_eq!(net.texts(3), ["41"]);
    assert!(!net.io.is_in(&c, "r"));
    assert_eq!(
        net.take_events(),
        [OwnedEvent::Disconnect {
            socket: c,
            reason: "server namespace disconnect"
        }]
    );
}

/// Hostile peers under the Socket.IO endpoint: 500 connections trickling a
/// byte a second and 500 silent ones do not stop a new client from
/// connecting and exchanging events; all 1,000 are closed at the head
/// deadline (408 or a silent close), the client is not.
#[test]
fn hostile_peers_do_not_stop_a_client() {
    let eio = engineio::Config {
        head_timeout: Duration::from_millis(10_000),
        max_connections: 1_001,
        ..eio_config()
    };
    let mut net = Net::new(eio, Config::default());
    let head = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    for c in 100..1100 {
        net.io.handle_accept(net.now, c).unwrap();
    }
    for second in 0..11u64 {
        for c in 100..600 {
            if !net.closed.contains(&c) {
                net.send(c, &head[second as usize..second as usize + 1]);
            }
        }
        if second == 2 {
            let (_, socket) = net.client(1);
            net.text(1, r#"42["hello"]"#);
            let ev = net.take_events();
            assert_eq!(event(&ev[0]).1, "hello");
            net.io.emit(&socket, "welcome", "", &[]).unwrap();
            net.pump();
            assert_eq!(net.texts(1), [r#"42["welcome"]"#]);
            // The cap: one more connection is refused.
            assert_eq!(
                net.io.handle_accept(net.now, 2),
                Err(engineio::Error::Unavailable)
            );
        }
        assert!(net.io.engine().connections() <= 1_001);
        net.advance(1_000);
        if second < 9 {
            assert!(net.closed.is_empty(), "closed early at {second}");
        }
    }
    assert_eq!(net.closed.len(), 1_000);
    for c in 100..600 {
        let out = net.output.remove(&c).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 408 "), "{c}");
    }
    for c in 600..1100 {
        assert!(net.output.get(&c).is_none_or(Vec::is_empty), "{c}");
    }
    assert_eq!(net.io.engine().connections(), 1);
    assert_eq!(net.io.sockets(), 1);
    net.text(1, r#"42["still here"]"#);
    assert_eq!(event(&net.take_events()[0]).1, "still here");
}

/// A broadcast to N WebSocket sessions puts on each wire exactly the bytes an
/// `emit` of the same event puts on another session's: text and binary
/// attachments (7-, 16- and 64-bit frame lengths, an empty one), with `out`
/// buffers from 1 byte (each frame split over many `poll_transmit` calls)
/// to 64 KiB.
#[test]
fn a_websocket_broadcast_is_framed_once_and_matches_emit_byte_for_byte() {
    let mut net = Net::new(eio_config(), Config::default());
    let (_, reference) = net.client(1);
    let targets: Vec<(Sid, Sid)> = (2..=4).map(|c| net.client(c)).collect();
    for (_, t) in &targets {
        net.io.join(t, "r").unwrap();
    }
    let free = |net: &Net| -> Vec<usize> {
        let eio = net.io.engine();
        targets
            .iter()
            .map(|(sid, _)| eio.session(sid).unwrap().0.queue_free())
            .collect()
    };
    let long = format!(r#""{}""#, "y".repeat(300));
    let ph = |n: usize| -> String {
        (0..n)
            .map(|i| format!(r#"{{"_placeholder":true,"num":{i}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
    let mid = vec![0xa5u8; 300];
    let cases: Vec<(String, Vec<&[u8]>)> = vec![
        (String::new(), vec![]),
        (r#""hi",1"#.into(), vec![]),
        (long.clone(), vec![]),
        (ph(1), vec![&[1, 2, 3]]),
        (ph(3), vec![&[], &mid, &[9]]),
        (format!("{long},{}", ph(2)), vec![&big, &mid]),
    ];
    for (i, (args, attachments)) in cases.iter().enumerate() {
        for out_len in [1, 3, 7, 1 << 16] {
            let name = format!("e{i}");
            net.out_len = 1 << 16;
            net.io.emit(&reference, &name, args, attachments).unwrap();
            net.pump();
            let want = net.output.remove(&1).unwrap();
            assert!(want.len() > 2);
            net.out_len = out_len;
            net.writes.clear();
            let before = free(&net);
            let sent = net
                .io
                .broadcast("/", &["r"], &[], &name, args, attachments)
                .unwrap();
            assert_eq!((sent.delivered, sent.full), (3, 0));
            // One queue entry each (5 bytes of entry header), holding the
            // very bytes that go on the wire.
            for (b, a) in before.iter().zip(free(&net)) {
                assert_eq!(b - a, 5 + want.len(), "case {i}");
            }
            net.pump();
            for conn in 2..=4 {
                let got = net.output.remove(&conn).unwrap();
                assert!(got == want, "case {i}, out {out_len}, conn {conn}");
                let writes = net.writes[&conn];
                assert_eq!(
                    writes,
                    want.len().div_ceil(out_len),
                    "case {i}, out {out_len}"
                );
            }
            assert!(net.output.values().all(Vec::is_empty));
        }
    }
    // The frames themselves, for one case: `4` and the text, then the blob.
    net.out_len = 1 << 16;
    net.io
        .broadcast("/", &["r"], &[], "blob", &ph(1), &[&[7, 7]])
        .unwrap();
    net.pump();
    assert_eq!(
        net.frames(3),
        [
            Frame::Text(r#"451-["blob",{"_placeholder":true,"num":0}]"#.into()),
            Frame::Binary(vec![7, 7])
        ]
    );
}

/// A broadcast to targets on polling, on WebSocket, in the middle of an
/// upgrade and with a full queue: exact counts, the WebSocket ones get the
/// frames, the polling ones (the one being upgraded too) the polling payload,
/// the full one nothing but what it had.
#[test]
fn a_mixed_broadcast_counts_exactly_and_each_transport_gets_its_own_form() {
    let eio = engineio::Config {
        send_queue_len: 512,
        ..eio_config()
    };
    let mut net = Net::new(eio, Config::default());
    let (_, full) = net.client(1);
    let (_, _ws_a) = net.client(2);
    let (_, _ws_b) = net.client(3);
    let (p1, _) = net.polling_client(10, 11);
    let (p2, _) = net.polling_client(20, 21);
    let (p3, _) = net.polling_client(30, 31);
    // p3 starts its upgrade: the probe is answered, `5` not sent yet.
    let head = format!(
        "GET /socket.io/?EIO=4&transport=websocket&sid={} HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n",
        p3.as_str()
    );
    net.send(32, head.as_bytes());
    net.text(32, "2probe");
    assert_eq!(net.texts(32), ["3probe"]);
    // Fill the first WebSocket session's queue with small packets.
    let mut queued = 0;
    while net.io.emit(&full, "f", "", &[]).is_ok() {
        queued += 1;
    }
    assert!(queued > 0);
    let args = r#""news",{"_placeholder":true,"num":0}"#;
    let sent = net
        .io
        .broadcast("/", &[], &[], "n", args, &[&[1, 2, 3]])
        .unwrap();
    assert_eq!((sent.delivered, sent.full), (5, 1));
    net.pump();
    let text = r#"451-["n","news",{"_placeholder":true,"num":0}]"#;
    for conn in [2, 3] {
        assert_eq!(
            net.frames(conn),
            [Frame::Text(text.into()), Frame::Binary(vec![1, 2, 3])]
        );
    }
    let polling = format!("{text}\x1ebAQID");
    assert_eq!(net.poll(10, &p1), polling);
    assert_eq!(net.poll(20, &p2), polling);
    assert_eq!(net.poll(30, &p3), polling);
    // The full session got its own packets only, none of the broadcast.
    let texts = net.texts(1);
    assert_eq!(texts.len(), queued);
    assert!(texts.iter().all(|t| t == r#"42["f"]"#), "{texts:?}");
    // p3 finishes its upgrade: the next broadcast reaches it framed.
    net.text(32, "5");
    net.pump();
    let sent = net.io.broadcast("/", &[], &[], "again", "", &[]).unwrap();
    assert_eq!((sent.delivered, sent.full), (6, 0));
    net.pump();
    for conn in [1, 2, 3, 32] {
        assert_eq!(net.texts(conn), [r#"42["again"]"#], "{conn}");
    }
    assert_eq!(net.poll(10, &p1), r#"42["again"]"#);
}

// ---------------------------------------------------------------------------
// Connection state recovery
// ---------------------------------------------------------------------------

fn recovery_config(log_entries: usize) -> sockwire::socketio::recovery::Config {
    sockwire::socketio::recovery::Config {
        max_log_entries: log_entries,
        ..Default::default()
    }
}

/// A server with recovery on, with `recovery`, its tables in `S`.
fn recovering<S: Store>(
    eio: engineio::Config,
    recovery: sockwire::socketio::recovery::Config,
) -> Net<S> {
    let mut net = Net::with_storage(eio, Config::default());
    net.io.set_recovery(Some(recovery)).unwrap();
    net
}

impl<S: Store> Net<S> {
    /// A WebSocket client connected to `/` with recovery on and accepted:
    /// (sid, socket id, pid).
    fn recovery_client(&mut self, conn: u32) -> (Sid, Sid, String) {
        let sid = self.ws_open(conn);
        self.text(conn, "40");
        assert!(matches!(
            self.take_events()[..],
            [OwnedEvent::Connect { .. }]
        ));
        let socket = self.io.accept(&sid, "/").unwrap();
        self.pump();
        let reply = self.texts(conn).remove(0);
        let pid = reply_pid(&reply, socket);
        (sid, socket, pid)
    }

    /// A new WebSocket session on `conn` sending CONNECT with `auth`: its
    /// sid, then what the server wrote on it.
    fn reconnect(&mut self, conn: u32, auth: &str) -> (Sid, Vec<String>) {
        let sid = self.ws_open(conn);
        self.text(conn, &format!("40{auth}"));
        (sid, self.texts(conn))
    }

    /// Expects exactly the event that `socket` recovered on session `sid`.
    fn expect_recovered(&mut self, sid: Sid, socket: Sid, replayed: usize, missed: bool) {
        let want = OwnedEvent::Recovered {
            sid,
            socket,
            replayed,
            missed,
        };
        assert_eq!(self.take_events(), [want]);
    }

    /// The connection `conn` drops (the server sees it).
    fn drop_conn(&mut self, conn: u32) {
        self.io.handle_closed(self.now, conn);
        self.input.remove(&conn);
        self.pump();
    }
}

/// The pid of the CONNECT reply `reply` for `socket`.
fn reply_pid(reply: &str, socket: Sid) -> String {
    let head = format!("40{{\"sid\":\"{}\",\"pid\":\"", socket.as_str());
    assert!(reply.starts_with(&head), "{reply}");
    reply[head.len()..head.len() + 20].to_string()
}

fn recovery_replays_missed_events_before_the_reply_and_restores_the_socket<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(1000));
    let (_, a, pid) = net.recovery_client(1);
    let (_, b, _) = net.recovery_client(2);
    net.io.join(&a, "r").unwrap();
    net.io.set_data(&a, b"alice").unwrap();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    net.io.emit(&b, "only-b", "", &[]).unwrap();
    net.pump();
    // Every event without ack carries its offset, emits to one socket too.
    assert_eq!(net.texts(1), [r#"42["n",1,"1"]"#]);
    assert_eq!(net.texts(2), [r#"42["only-b","2"]"#]);
    net.drop_conn(1);
    assert_eq!(
        net.take_events(),
        [OwnedEvent::Disconnect {
            socket: a,
            reason: "transport close"
        }]
    );
    // Missed: to the room, to everyone but b, to everyone not in the room,
    // to b only, to a only (logged for it while it is away; not a volatile).
    net.io.broadcast("/", &["r"], &[], "n", "2", &[]).unwrap();
    net.io
        .broadcast("/", &[], &[b.as_str()], "n", "3", &[])
        .unwrap();
    net.io.broadcast("/", &[], &["r"], "n", "4", &[]).unwrap();
    net.io.emit(&b, "only-b", "", &[]).unwrap();
    net.io.emit(&a, "only-a", "", &[]).unwrap();
    assert!(net.io.emit_volatile(&a, "gone", "", &[]).is_err());
    let auth = format!(r#"{{"pid":"{pid}","offset":"1"}}"#);
    let (sid, texts) = net.reconnect(3, &auth);
    assert_eq!(
        texts,
        [
            r#"42["n",2,"3"]"#.to_string(),
            r#"42["n",3,"4"]"#.to_string(),
            r#"42["only-a","7"]"#.to_string(),
            format!(r#"40{{"sid":"{}","pid":"{pid}"}}"#, a.as_str()),
        ]
    );
    net.expect_recovered(sid, a, 3, false);
    assert!(net.io.is_in(&a, "r"));
    assert_eq!(net.io.data(&a), Some(&b"alice"[..]));
    assert_eq!(net.io.socket(&a).map(|s| s.0), Some(sid));
    net.io.emit(&a, "again", "", &[]).unwrap();
    net.pump();
    assert_eq!(net.texts(3), [r#"42["again","8"]"#]);
    // A client that leaves the namespace is not kept.
    net.text(3, "41");
    net.take_events();
    let (_, texts) = net.reconnect(4, &auth);
    assert!(texts.is_empty(), "{texts:?}");
    assert!(matches!(
        net.take_events()[..],
        [OwnedEvent::Connect { .. }]
    ));
    assert!(!net.io.is_in(&a, "r"));
}

fn recovery_runs_middleware_when_configured<S: Store>() {
    let config = sockwire::socketio::recovery::Config {
        skip_middlewares: false,
        ..recovery_config(1000)
    };
    let mut net = recovering::<S>(eio_config(), config);
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.drop_conn(1);
    net.take_events();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    let (sid, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}","offset":"0"}}"#));
    assert!(texts.is_empty());
    let ev = net.take_events();
    assert!(matches!(&ev[..], [OwnedEvent::Connect { sid: s, .. }] if *s == sid));
    assert_eq!(net.io.accept(&sid, "/").unwrap(), a);
    net.pump();
    assert_eq!(
        net.texts(2),
        [
            r#"42["n",1,"1"]"#.to_string(),
            format!(r#"40{{"sid":"{}","pid":"{pid}"}}"#, a.as_str()),
        ]
    );
    net.expect_recovered(sid, a, 1, false);
}

/// socket.io 4.8 cannot recover a client that got no event before the drop
/// (issues 4888, 5538): it has no offset to send. Here the socket's own start
/// in the log stands in for it.
fn a_client_that_received_nothing_still_recovers<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(1000));
    // Logged before the socket existed: never replayed to it.
    net.io.broadcast("/", &[], &[], "before", "", &[]).unwrap();
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.io.set_data(&a, b"d").unwrap();
    net.drop_conn(1);
    net.take_events();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    // socket.io-client 4.8 sends the pid and no offset.
    let (sid, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}"}}"#));
    assert_eq!(
        texts,
        [
            r#"42["n",1,"2"]"#.to_string(),
            format!(r#"40{{"sid":"{}","pid":"{pid}"}}"#, a.as_str()),
        ]
    );
    net.expect_recovered(sid, a, 1, false);
    assert!(net.io.is_in(&a, "r"));
    assert_eq!(net.io.data(&a), Some(&b"d"[..]));
    // Nothing missed at all: recovered with nothing to replay.
    net.drop_conn(2);
    net.take_events();
    let (sid, texts) = net.reconnect(3, &format!(r#"{{"pid":"{pid}","offset":"2"}}"#));
    assert_eq!(texts.len(), 1);
    net.expect_recovered(sid, a, 0, false);
}

/// socket.io-client takes the last string argument of any event as its
/// offset; in socket.io 4.8 a volatile event ending in a string poisons it
/// (PR 5539) and the next recovery fails. Here a volatile event carries the
/// current offset.
fn a_volatile_event_never_carries_something_that_is_not_an_offset<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(1000));
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.io.emit_volatile(&a, "v", r#""first""#, &[]).unwrap();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    net.io
        .broadcast_volatile("/", &["r"], &[], "v", r#""hello""#, &[])
        .unwrap();
    net.io.emit_volatile(&a, "v", r#""there""#, &[]).unwrap();
    net.pump();
    let texts = net.texts(1);
    assert_eq!(
        texts,
        [
            r#"42["v","first","0"]"#,
            r#"42["n",1,"1"]"#,
            r#"42["v","hello","1"]"#,
            r#"42["v","there","1"]"#
        ]
    );
    // The offset the client holds, as socket.io-client takes it.
    let last = texts.last().unwrap();
    let offset = &last[last.rfind(",\"").unwrap() + 2..last.len() - 2];
    net.drop_conn(1);
    net.take_events();
    net.io.broadcast("/", &["r"], &[], "n", "2", &[]).unwrap();
    let auth = format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#);
    let (sid, texts) = net.reconnect(2, &auth);
    assert_eq!(texts[0], r#"42["n",2,"2"]"#);
    assert_eq!(texts.len(), 2);
    net.expect_recovered(sid, a, 1, false);
}

/// In socket.io 4.8, when the old connection's ping timeout fires after the
/// client already recovered on a new one, the old socket's close removes the
/// rooms of the new one (issue 4880). Here the socket has moved: the late
/// close finds nothing of its own.
fn the_late_close_of_the_old_connection_leaves_the_recovered_socket_alone<S: Store>() {
    let eio = engineio::Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..eio_config()
    };
    let mut net = recovering::<S>(eio, recovery_config(1000));
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    net.pump();
    assert_eq!(net.texts(1), [r#"42["n",1,"1"]"#]);
    // The client's side of connection 1 is dead; the server does not know
    // yet. A broadcast still goes to the old session and is lost there.
    net.io.broadcast("/", &["r"], &[], "n", "2", &[]).unwrap();
    let auth = format!(r#"{{"pid":"{pid}","offset":"1"}}"#);
    let (sid, texts) = net.reconnect(2, &auth);
    assert_eq!(
        texts,
        [
            r#"42["n",2,"2"]"#.to_string(),
            format!(r#"40{{"sid":"{}","pid":"{pid}"}}"#, a.as_str()),
        ]
    );
    net.expect_recovered(sid, a, 1, false);
    // The old session's ping timeout fires now (pongs come on 2 only).
    assert_eq!(net.io.engine().sessions(), 2);
    for _ in 0..10 {
        net.advance(100);
        net.texts(2);
    }
    // It is closing; then its TCP connection goes too, and it is gone.
    net.drop_conn(1);
    for _ in 0..50 {
        if net.io.engine().sessions() == 1 {
            break;
        }
        net.advance(100);
        net.texts(2);
    }
    assert_eq!(net.io.engine().sessions(), 1);
    let events = net.take_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, OwnedEvent::Disconnect { .. })),
        "{events:?}"
    );
    assert!(net.io.is_in(&a, "r"));
    assert_eq!(net.io.socket(&a).map(|s| s.0), Some(sid));
    let sent = net.io.broadcast("/", &["r"], &[], "n", "3", &[]).unwrap();
    assert_eq!(sent.delivered, 1);
    net.pump();
    assert_eq!(net.texts(2), [r#"42["n",3,"3"]"#]);
}

/// socket.io 4.8 starts afresh, with nothing said, when the client's offset
/// is older than its log (issue 5282). Here the session comes back, the
/// application is told that events may be missing, and the client gets a new
/// pid (socket.io-client then reports `recovered: false`).
fn an_offset_older_than_the_log_recovers_the_session_and_says_events_may_be_missing<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(2));
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.io.set_data(&a, b"x").unwrap();
    net.io.broadcast("/", &["r"], &[], "n", "1", &[]).unwrap();
    net.pump();
    net.drop_conn(1);
    net.take_events();
    for n in 2..=5 {
        net.io
            .broadcast("/", &["r"], &[], "n", &n.to_string(), &[])
            .unwrap();
    }
    let stats = net.io.recovery_stats().unwrap();
    assert_eq!(
        (stats.entries, stats.peak_entries, stats.sessions),
        (2, 2, 1)
    );
    let (sid, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}","offset":"1"}}"#));
    assert_eq!(texts[..2], [r#"42["n",4,"4"]"#, r#"42["n",5,"5"]"#]);
    let new_pid = reply_pid(&texts[2], a);
    assert_ne!(new_pid, pid);
    net.expect_recovered(sid, a, 2, true);
    assert!(net.io.is_in(&a, "r"));
    assert_eq!(net.io.data(&a), Some(&b"x"[..]));
}

fn a_kept_session_expires_with_its_rooms<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(1000));
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.drop_conn(1);
    net.take_events();
    assert_eq!(net.io.recovery_stats().unwrap().sessions, 1);
    net.advance(120_001);
    assert_eq!(net.io.recovery_stats().unwrap().sessions, 0);
    assert_eq!(net.take_events(), [OwnedEvent::Expired { socket: a }]);
    let mut members = 0;
    sockwire::socketio::RoomTable::for_each_member(net.io.rooms(), "/", "r", &mut |_| members += 1);
    assert_eq!(members, 0);
    let (_, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}","offset":"0"}}"#));
    assert!(texts.is_empty());
    assert!(matches!(
        net.take_events()[..],
        [OwnedEvent::Connect { .. }]
    ));
}

fn a_session_expired_but_not_yet_swept_is_not_recovered_and_leaves_its_rooms<S: Store>() {
    let mut net = recovering::<S>(eio_config(), recovery_config(1000));
    let (_, a, pid) = net.recovery_client(1);
    net.io.join(&a, "r").unwrap();
    net.drop_conn(1);
    net.take_events();
    // Past the window, before any timer ran.
    net.now = net.now + Duration::from_millis(120_001);
    let (_, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}","offset":"0"}}"#));
    assert!(texts.is_empty());
    assert!(matches!(
        net.take_events()[..],
        [OwnedEvent::Connect { .. }]
    ));
    net.advance(1);
    net.texts(2);
    let mut members = 0;
    sockwire::socketio::RoomTable::for_each_member(net.io.rooms(), "/", "r", &mut |_| members += 1);
    assert_eq!((members, net.io.recovery_stats().unwrap().sessions), (0, 0));
}

/// Logged events age out after `max_disconnection`, whoever they were for;
/// a socket lost after them and back with an old offset is told.
fn logged_events_age_out<S: Store>() {
    let config = sockwire::socketio::recovery::Config {
        max_disconnection: Duration::from_millis(1000),
        ..recovery_config(1000)
    };
    let mut net = recovering::<S>(eio_config(), config);
    let (_, a, pid) = net.recovery_client(1);
    for n in 1..=3 {
        net.io
            .broadcast("/", &[], &[], "n", &n.to_string(), &[])
            .unwrap();
    }
    net.pump();
    assert_eq!(net.texts(1).len(), 3);
    assert_eq!(net.io.recovery_stats().unwrap().entries, 3);
    net.advance(600);
    net.io.broadcast("/", &[], &[], "n", "4", &[]).unwrap();
    net.pump();
    net.texts(1);
    net.advance(500);
    // The first three are older than 1 s now; the fourth is not.
    assert_eq!(net.io.recovery_stats().unwrap().entries, 1);
    net.drop_conn(1);
    net.take_events();
    let (sid, texts) = net.reconnect(2, &format!(r#"{{"pid":"{pid}","offset":"1"}}"#));
    assert_eq!(texts[0], r#"42["n",4,"4"]"#);
    assert_ne!(reply_pid(&texts[1], a), pid);
    net.expect_recovered(sid, a, 1, true);
    net.advance(1000);
    assert_eq!(net.io.recovery_stats().unwrap().entries, 0);
}

/// Every recovery test, on the heap (`Growable`) and in lent storage
/// (`Fixed` with a log and kept sessions).
macro_rules! on_both_storages {
    ($($name:ident),* $(,)?) => {
        mod growable {
            $(#[test]
            fn $name() {
                super::$name::<sockwire::storage::Growable>()
            })*
        }
        mod lent {
            $(#[test]
            fn $name() {
                super::$name::<super::Lent>()
            })*
        }
    };
}

on_both_storages!(
    recovery_replays_missed_events_before_the_reply_and_restores_the_socket,
    recovery_runs_middleware_when_configured,
    a_client_that_received_nothing_still_recovers,
    a_volatile_event_never_carries_something_that_is_not_an_offset,
    the_late_close_of_the_old_connection_leaves_the_recovered_socket_alone,
    an_offset_older_than_the_log_recovers_the_session_and_says_events_may_be_missing,
    a_kept_session_expires_with_its_rooms,
    a_session_expired_but_not_yet_swept_is_not_recovered_and_leaves_its_rooms,
    logged_events_age_out,
);

// ---------------------------------------------------------------------------
// Connection state recovery in lent storage (`Fixed`'s L and K)
// ---------------------------------------------------------------------------

/// A `Lent` server with recovery on (the default bounds, so the 4 KiB ring
/// and the 4 kept sessions are what binds).
fn lent() -> Net<Lent> {
    recovering::<Lent>(eio_config(), sockwire::socketio::recovery::Config::DEFAULT)
}

#[test]
fn fixed_storage_without_lent_room_refuses_recovery() {
    let mut net: Net<Fixed<8, 8, 4096>> = Net::with_storage(eio_config(), Config::default());
    let on = Some(sockwire::socketio::recovery::Config::DEFAULT);
    assert_eq!(
        net.io.set_recovery(on),
        Err(sockwire::socketio::Error::NoRecoveryStorage)
    );
    assert_eq!(net.io.set_recovery(None), Ok(()));
    assert_eq!(net.io.recovery_stats(), None);
    // Recovery stays off: no pid in the reply, no offset on events.
    let (_, a) = net.client(1);
    net.io.emit(&a, "n", "1", &[]).unwrap();
    net.pump();
    assert_eq!(net.texts(1), [r#"42["n",1]"#]);
    let mut zero_log: Net<Fixed<8, 8, 4096, 0, 4>> =
        Net::with_storage(eio_config(), Config::default());
    assert!(zero_log.io.set_recovery(on).is_err());
}

/// The ring wraps around many times (every record moved to its start again
/// and again); a recovery still finds its offset and replays exactly what
/// followed it, and an offset that wrapped out of the ring recovers with
/// `missed: true` and the ring's events, in order.
#[test]
fn a_lent_log_wraps_around_many_times() {
    let mut net = lent();
    let (_, a, pid) = net.recovery_client(1);
    let (_, _b, _) = net.recovery_client(2);
    net.io.join(&a, "r").unwrap();
    for n in 1..=600u32 {
        let args = format!("{n},\"{}\"", "x".repeat(n as usize % 37));
        net.io.broadcast("/", &["r"], &[], "n", &args, &[]).unwrap();
        net.pump();
        let texts = net.texts(1);
        assert_eq!(texts.len(), 1);
        assert!(texts[0].ends_with(&format!(",\"{n}\"]")), "{texts:?}");
        net.texts(2);
    }
    let stats = net.io.recovery_stats().unwrap();
    assert!(stats.entries > 20 && stats.entries < 100, "{stats:?}");
    assert!(stats.peak_bytes <= 4096, "{stats:?}");
    net.drop_conn(1);
    net.take_events();
    for n in 601..=610u32 {
        net.io
            .broadcast("/", &["r"], &[], "n", &n.to_string(), &[])
            .unwrap();
        // Not to a: never replayed to it.
        net.io
            .broadcast("/", &[], &["r"], "other", &n.to_string(), &[])
            .unwrap();
    }
    // Offsets 601..=620: a's events are the odd ones after 600.
    let (sid, texts) = net.reconnect(3, &format!(r#"{{"pid":"{pid}","offset":"600"}}"#));
    let want: Vec<String> = (0..10)
        .map(|i| format!(r#"42["n",{},"{}"]"#, 601 + i, 601 + 2 * i))
        .chain([format!(r#"40{{"sid":"{}","pid":"{pid}"}}"#, a.as_str())])
        .collect();
    assert_eq!(texts, want);
    net.expect_recovered(sid, a, 10, false);
    // Once more from an offset the ring no longer holds.
    net.drop_conn(3);
    net.take_events();
    let held = net.io.recovery_stats().unwrap().entries;
    let first = 620 - held as u64 + 1;
    let (sid, texts) = net.reconnect(4, &format!(r#"{{"pid":"{pid}","offset":"5"}}"#));
    let replayed = texts.len() - 1;
    // Everything held that went to a, in order, offsets consecutive.
    let offsets: Vec<u64> = texts[..replayed]
        .iter()
        .map(|t| t[t.rfind(",\"").unwrap() + 2..t.len() - 2].parse().unwrap())
        .collect();
    assert!(offsets.windows(2).all(|w| w[1] > w[0]));
    assert!(
        offsets[0] >= first && offsets[0] <= first + 1,
        "{offsets:?}"
    );
    assert_eq!(*offsets.last().unwrap(), 619);
    assert_ne!(reply_pid(&texts[replayed], a), pid);
    net.expect_recovered(sid, a, replayed, true);
}

/// An event larger than the whole ring is not logged: the sockets it would
/// have reached learn it on recovery (`missed: true`, a new pid), the others
/// recover in full; the events around it are replayed.
#[test]
fn an_event_larger_than_the_lent_log_says_missed_to_its_targets_only() {
    let mut net = lent();
    let (_, a, pid_a) = net.recovery_client(1);
    let (_, b, pid_b) = net.recovery_client(2);
    net.io.join(&a, "r").unwrap();
    net.drop_conn(1);
    net.drop_conn(2);
    net.take_events();
    net.io.broadcast("/", &[], &[], "n", "1", &[]).unwrap();
    let big = format!("\"{}\"", "y".repeat(5000));
    net.io
        .broadcast("/", &["r"], &[], "big", &big, &[])
        .unwrap();
    net.io.broadcast("/", &[], &[], "n", "3", &[]).unwrap();
    let stats = net.io.recovery_stats().unwrap();
    assert_eq!(stats.entries, 3);
    let (sid, texts) = net.reconnect(3, &format!(r#"{{"pid":"{pid_a}","offset":"0"}}"#));
    assert_eq!(texts[..2], [r#"42["n",1,"1"]"#, r#"42["n",3,"3"]"#]);
    assert_ne!(reply_pid(&texts[2], a), pid_a);
    net.expect_recovered(sid, a, 2, true);
    let (sid, texts) = net.reconnect(4, &format!(r#"{{"pid":"{pid_b}","offset":"0"}}"#));
    assert_eq!(texts[..2], [r#"42["n",1,"1"]"#, r#"42["n",3,"3"]"#]);
    assert_eq!(reply_pid(&texts[2], b), pid_b);
    net.expect_recovered(sid, b, 2, false);
    // Even its targets are too many to keep: the log is emptied, and every
    // socket kept since before it is told.
    net.drop_conn(4);
    net.take_events();
    let rooms: Vec<String> = (0..100).map(|i| format!("room-{i:045}")).collect();
    let rooms: Vec<&str> = rooms.iter().map(|r| r.as_str()).collect();
    net.io.broadcast("/", &rooms, &[], "big", "1", &[]).unwrap();
    assert_eq!(net.io.recovery_stats().unwrap().entries, 0);
    let (sid, texts) = net.reconnect(5, &format!(r#"{{"pid":"{pid_b}","offset":"3"}}"#));
    assert_eq!(texts.len(), 1);
    assert_ne!(reply_pid(&texts[0], b), pid_b);
    net.expect_recovered(sid, b, 0, true);
}

/// The kept-session table holds `K` (4): a fifth lost session pushes out the
/// oldest, which the application learns (`Expired`), and whose client then
/// starts afresh; the others recover.
#[test]
fn a_full_lent_session_table_lets_the_oldest_go() {
    let mut net = lent();
    let clients: Vec<(Sid, Sid, String)> = (1..=5).map(|c| net.recovery_client(c)).collect();
    for (_, socket, _) in &clients {
        net.io.join(socket, "r").unwrap();
    }
    for c in 1..=4 {
        net.drop_conn(c);
        net.now = net.now + Duration::from_millis(10);
    }
    net.take_events();
    assert_eq!(net.io.recovery_stats().unwrap().sessions, 4);
    net.drop_conn(5);
    let (_, first, first_pid) = &clients[0];
    assert_eq!(
        net.take_events(),
        [
            OwnedEvent::Expired { socket: *first },
            OwnedEvent::Disconnect {
                socket: clients[4].1,
                reason: "transport close"
            }
        ]
    );
    let stats = net.io.recovery_stats().unwrap();
    assert_eq!((stats.sessions, stats.peak_sessions), (4, 4));
    assert!(!net.io.is_in(first, "r"));
    let (_, texts) = net.reconnect(6, &format!(r#"{{"pid":"{first_pid}"}}"#));
    assert!(texts.is_empty());
    assert!(matches!(
        net.take_events()[..],
        [OwnedEvent::Connect { .. }]
    ));
    for (i, (_, socket, pid)) in clients.iter().enumerate().skip(1) {
        let conn = 10 + i as u32;
        let (sid, texts) = net.reconnect(conn, &format!(r#"{{"pid":"{pid}"}}"#));
        assert_eq!(texts.len(), 1);
        net.expect_recovered(sid, *socket, 0, false);
        assert!(net.io.is_in(socket, "r"));
    }
}
