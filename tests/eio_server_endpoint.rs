//! Scenario tests of `engineio::Server` on a virtual clock: many connections
//! interleaved, held GETs cancelled, keep-alive with pipelined requests,
//! connections dropped mid-body, the upgrade racing a POST, 1,000 sessions
//! with heartbeats, the `Fixed` storage at its caps, chunking invariance, and
//! hostile peers (slowloris, silent connections, Origin, caps).

use std::collections::BTreeMap;

use sockwire::engineio::server::{Conn, Entry};
use sockwire::engineio::{CloseReason, Config, Data, Event, Origins, Server, Sid, Transmit};
use sockwire::entropy::SplitMix64;
use sockwire::storage::{Buffers, Fixed, Growable, Storage};
use sockwire::time::{Duration, Instant};

type Srv<S = Growable> = Server<u32, (), S, SplitMix64>;

/// The storages the tests run on.
trait Store: Storage<u32, Sid, Conn, Entry<u32, <Self as Buffers>::Buf, ()>> {}
impl<S: Storage<u32, Sid, Conn, Entry<u32, <S as Buffers>::Buf, ()>>> Store for S {}

fn drain<S: Store>(s: &mut Srv<S>) -> Vec<(Transmit<u32>, Vec<u8>)> {
    let mut out = vec![0u8; 1 << 16];
    let mut v = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        v.push((t, out[..t.len].to_vec()));
    }
    v
}

fn mask(payload: &[u8], op: u8) -> Vec<u8> {
    let m = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | op, 0x80 | payload.len() as u8];
    f.extend_from_slice(&m);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
    f
}

const WS_HEAD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

fn get(query: &str) -> Vec<u8> {
    format!("GET /engine.io/?EIO=4&{query} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

fn poll(sid: &str) -> Vec<u8> {
    get(&format!("transport=polling&sid={sid}"))
}

fn post(sid: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ws_upgrade(sid: &str) -> Vec<u8> {
    format!(
        "GET /engine.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n"
    )
    .into_bytes()
}

/// An owned message.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

/// A server and what it has said, per connection.
struct Net<S: Store = Growable> {
    s: Srv<S>,
    now: Instant,
    /// Bytes sent but not consumed yet, per connection.
    input: BTreeMap<u32, Vec<u8>>,
    /// Bytes the server wrote, per connection, not yet read by the test.
    output: BTreeMap<u32, Vec<u8>>,
    /// Connections the server closed, in order.
    closed: Vec<u32>,
    /// Messages, in order.
    messages: Vec<(Sid, Msg)>,
    /// Echo every text message back.
    echo: bool,
}

impl<S: Store> Net<S> {
    fn new(config: Config) -> Self {
        Net {
            s: Srv::<S>::new(config, SplitMix64::new(1)),
            now: Instant::from_millis(0),
            input: BTreeMap::new(),
            output: BTreeMap::new(),
            closed: Vec::new(),
            messages: Vec::new(),
            echo: false,
        }
    }

    /// Sends bytes on `conn` (nothing is fed yet).
    fn send(&mut self, conn: u32, bytes: &[u8]) {
        self.input.entry(conn).or_default().extend_from_slice(bytes);
    }

    /// The peer closes `conn`.
    fn close(&mut self, conn: u32) {
        self.input.remove(&conn);
        self.s.handle_closed(self.now, conn);
        self.pump();
    }

    /// The only session closed by a transport error, its sid unknown after
    /// (asked on connection 1).
    fn assert_gone_by_transport_error(&mut self, sid: &str) {
        let ev = self.events();
        assert!(
            matches!(
                ev[..],
                [Event::Closed {
                    reason: CloseReason::TransportError(_),
                    ..
                }]
            ),
            "{ev:?}"
        );
        assert_eq!(self.s.sessions(), 0);
        assert_eq!(
            self.request(1, &poll(sid)),
            (400, r#"{"code":1,"message":"Session ID unknown"}"#.into())
        );
    }

    /// Feeds what `conn` sent until the server stops taking it.
    fn feed(&mut self, conn: u32) {
        loop {
            let Some(buf) = self.input.get_mut(&conn) else {
                return;
            };
            let r = self.s.handle_input(self.now, conn, buf).unwrap();
            let msg = r.message.map(|(sid, d)| {
                (
                    sid,
                    match d {
                        Data::Text(t) => Msg::Text(t.to_string()),
                        Data::Binary(b) => Msg::Binary(b.to_vec()),
                    },
                )
            });
            let (consumed, blocked) = (r.consumed, r.blocked);
            buf.drain(..consumed);
            let progress = consumed > 0 || msg.is_some();
            if let Some((sid, m)) = msg {
                if self.echo
                    && let Msg::Text(t) = &m
                {
                    self.s.send_text(&sid, t).unwrap();
                }
                self.messages.push((sid, m));
            }
            if blocked {
                if self.transmit() == 0 {
                    return;
                }
                continue;
            }
            if !progress {
                return;
            }
        }
    }

    /// Drains the transmits; returns how many.
    fn transmit(&mut self) -> usize {
        let tx = drain(&mut self.s);
        let n = tx.len();
        for (t, bytes) in tx {
            assert!(
                !self.closed.contains(&t.conn),
                "{} written after close",
                t.conn
            );
            self.output.entry(t.conn).or_default().extend(bytes);
            if t.close_after {
                self.closed.push(t.conn);
                self.input.remove(&t.conn);
            }
        }
        n
    }

    /// Feeds every connection and drains everything until nothing moves.
    fn pump(&mut self) {
        loop {
            let conns: Vec<u32> = self.input.keys().copied().collect();
            for c in conns {
                self.feed(c);
            }
            if self.transmit() == 0 {
                break;
            }
        }
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    /// Advances the clock to `t`, running every deadline on the way.
    fn advance_to(&mut self, t: Instant) {
        while let Some(due) = self.s.poll_timeout() {
            if due > t {
                break;
            }
            assert!(
                due >= self.now,
                "a deadline in the past: {due:?} < {:?}",
                self.now
            );
            self.now = due;
            self.s.handle_timeout(due);
            self.pump();
        }
        self.now = t;
        self.s.handle_timeout(t);
        self.pump();
    }

    fn advance(&mut self, ms: u64) {
        let t = self.now + Duration::from_millis(ms);
        self.advance_to(t);
    }

    /// The next whole response on `conn`: status, body.
    fn response(&mut self, conn: u32) -> Option<(u16, String)> {
        let out = self.output.get_mut(&conn)?;
        let (status, body, len) = parse_response(out)?;
        out.drain(..len);
        Some((status, body))
    }

    /// Sends a request on `conn` and returns its response.
    fn request(&mut self, conn: u32, bytes: &[u8]) -> (u16, String) {
        self.send(conn, bytes);
        self.pump();
        self.response(conn)
            .unwrap_or_else(|| panic!("no response on {conn}"))
    }

    /// Opens a polling session on `conn`; its sid.
    fn open(&mut self, conn: u32) -> String {
        let (status, body) = self.request(conn, &get("transport=polling"));
        assert_eq!(status, 200, "{body}");
        sid_of(&body)
    }
}

fn sid_of(open: &str) -> String {
    let at = open.find("\"sid\":\"").expect("an open packet") + 7;
    open[at..at + 20].to_string()
}

/// Parses one response at the start of `out`: (status, body, length).
fn parse_response(out: &[u8]) -> Option<(u16, String, usize)> {
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&out[..end]).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    if out.len() < end + len {
        return None;
    }
    let body = String::from_utf8_lossy(&out[end..end + len]).into_owned();
    Some((status, body, end + len))
}

fn test_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Config::default()
    }
}

#[test]
fn websocket_echo_path() {
    let mut s: Srv = Srv::new(Config::default(), SplitMix64::new(1));
    let now = Instant::from_millis(0);
    let mut head =
        format!("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n")
            .into_bytes();
    let r = s.handle_input(now, 1, &mut head).unwrap();
    assert_eq!(r.consumed, head.len());
    let tx = drain(&mut s);
    assert!(tx[0].1.starts_with(b"HTTP/1.1 101"), "{tx:?}");
    let ev = s.poll_event();
    assert!(matches!(ev, Some(Event::Opened { .. })), "{ev:?}");
    let mut frame = mask(b"4hi", 1);
    let n = frame.len();
    let r = s.handle_input(now, 1, &mut frame).unwrap();
    assert_eq!(r.consumed, n);
    let (_, data) = r.message.expect("a message");
    assert_eq!(data, Data::Text("hi"));
}

/// 50 clients whose requests arrive in small interleaved pieces: each gets
/// its own session, its own messages and its own echoes.
#[test]
fn many_connections_interleaved() {
    let mut net: Net = Net::new(test_config());
    net.echo = true;
    let n = 50u32;
    let heads: Vec<Vec<u8>> = (0..n).map(|_| get("transport=polling")).collect();
    // Round robin, 7 bytes at a time.
    for at in (0..heads[0].len()).step_by(7) {
        for c in 0..n {
            let h = &heads[c as usize];
            net.send(c, &h[at..(at + 7).min(h.len())]);
            net.feed(c);
        }
        net.transmit();
    }
    let mut sids = Vec::new();
    for c in 0..n {
        let (status, body) = net.response(c).expect("an open");
        assert_eq!(status, 200);
        sids.push(sid_of(&body));
    }
    let mut unique = sids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), n as usize);
    assert_eq!(net.s.sessions(), n as usize);
    // Each POSTs its own text, interleaved in pieces, on a second connection.
    let posts: Vec<Vec<u8>> = (0..n)
        .map(|c| post(&sids[c as usize], &format!("4client {c}")))
        .collect();
    let longest = posts.iter().map(Vec::len).max().unwrap();
    for at in (0..longest).step_by(5) {
        for c in 0..n {
            let p = &posts[c as usize];
            if at < p.len() {
                net.send(1000 + c, &p[at..(at + 5).min(p.len())]);
                net.feed(1000 + c);
            }
        }
        net.transmit();
    }
    for c in 0..n {
        assert_eq!(net.response(1000 + c), Some((200, "ok".into())));
    }
    assert_eq!(net.messages.len(), n as usize);
    for (sid, m) in &net.messages {
        let c = sids.iter().position(|s| s == sid.as_str()).unwrap();
        assert_eq!(m, &Msg::Text(format!("client {c}")));
    }
    // And each GET has exactly its own echo.
    for c in (0..n).rev() {
        let (status, body) = net.request(c, &poll(&sids[c as usize]));
        assert_eq!((status, body), (200, format!("4client {c}")));
    }
}

/// The held GET's connection closes: the session closes (transport error),
/// as the reference server does, and its sid is unknown afterwards.
#[test]
fn held_get_cancelled() {
    let mut net: Net = Net::new(test_config());
    let sid = net.open(1);
    let _ = net.events();
    net.send(2, &poll(&sid));
    net.pump();
    assert_eq!(net.response(2), None, "held");
    assert_eq!(net.s.connections(), 2);
    net.close(2);
    net.assert_gone_by_transport_error(&sid);
    assert_eq!(net.s.poll_timeout().map(|t| t >= net.now), Some(true));
}

/// A POST whose body holds an invalid packet (or a client ping) is answered
/// 200 "ok", as the reference server answers every body it read whole, and
/// the session closes behind it; a packet before the bad one is delivered.
#[test]
fn an_invalid_packet_in_a_post_is_ok_then_the_session_closes() {
    for body in ["abc", "4first\u{1e}abc", "2"] {
        let mut net: Net = Net::new(test_config());
        let sid = net.open(1);
        let _ = net.events();
        assert_eq!(
            net.request(2, &post(&sid, body)),
            (200, "ok".into()),
            "{body:?}"
        );
        let ev = net.events();
        assert!(matches!(ev[..], [Event::Closed { .. }]), "{body:?}: {ev:?}");
        assert_eq!(net.s.sessions(), 0);
        assert_eq!(
            net.request(3, &poll(&sid)),
            (400, r#"{"code":1,"message":"Session ID unknown"}"#.into())
        );
        let first = net
            .messages
            .iter()
            .any(|(_, m)| matches!(m, Msg::Text(t) if t == "first"));
        assert_eq!(first, body.starts_with('4'), "{body:?}");
    }
}

/// Two requests in one input: the second waits (`blocked`) until the first
/// response is transmitted, then is answered, in order, on the same
/// connection.
#[test]
fn keep_alive_pipelined_requests() {
    let mut net: Net = Net::new(test_config());
    let sid = net.open(1);
    let mut both = post(&sid, "4one");
    both.extend(post(&sid, "4two\x1e4three"));
    let mut input = both.clone();
    // First call: the first head.
    let r = net.s.handle_input(net.now, 1, &mut input).unwrap();
    let consumed = r.consumed;
    assert!(consumed > 0 && !r.blocked);
    input.drain(..consumed);
    let r = net.s.handle_input(net.now, 1, &mut input).unwrap();
    let consumed = r.consumed;
    assert_eq!(r.message.map(|(_, d)| d == Data::Text("one")), Some(true));
    input.drain(..consumed);
    // The second request waits for the first response.
    let r = net.s.handle_input(net.now, 1, &mut input).unwrap();
    assert_eq!(
        (r.consumed, r.message.is_none(), r.blocked),
        (0, true, true)
    );
    let tx = drain(&mut net.s);
    assert_eq!(tx.len(), 1);
    assert!(!tx[0].0.close_after);
    assert_eq!(
        parse_response(&tx[0].1).map(|r| (r.0, r.1)),
        Some((200, "ok".into()))
    );
    // Then it is read.
    net.send(1, &input);
    net.pump();
    let texts: Vec<_> = net.messages.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(texts, [Msg::Text("two".into()), Msg::Text("three".into())]);
    assert_eq!(net.response(1), Some((200, "ok".into())));
    // A POST and a GET pipelined: the GET gets what the application queued.
    net.s
        .send_text(&Sid::parse(&sid).unwrap(), "queued")
        .unwrap();
    let mut both = post(&sid, "4four");
    both.extend(poll(&sid));
    net.send(1, &both);
    net.pump();
    assert_eq!(net.response(1), Some((200, "ok".into())));
    assert_eq!(net.response(1), Some((200, "4queued".into())));
    assert!(net.closed.is_empty());
}

/// A POST whose connection drops before its body is whole.
#[test]
fn connection_dropped_mid_body() {
    let mut net: Net = Net::new(test_config());
    let sid = net.open(1);
    let _ = net.events();
    let p = post(&sid, "4abcdefghij");
    net.send(2, &p[..p.len() - 5]);
    net.pump();
    assert_eq!(net.response(2), None);
    assert!(net.messages.is_empty());
    net.close(2);
    assert_eq!(net.s.connections(), 1);
    // No message of the partial body ever surfaces, and the session closes
    // (transport error), as the reference server does for a data request
    // closed prematurely.
    assert!(net.messages.is_empty());
    net.assert_gone_by_transport_error(&sid);
}

/// Upgrade in progress: a POST still goes through (200 ok, its message
/// read), a second WebSocket gets 101 then a close frame; after the upgrade
/// a POST or GET is refused with the reference's 400 "Bad request".
#[test]
fn upgrade_racing_post() {
    let mut net: Net = Net::new(test_config());
    let sid = net.open(1);
    net.send(2, &ws_upgrade(&sid));
    net.pump();
    let out = net.output.remove(&2).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    net.send(2, &mask(b"2probe", 1));
    net.pump();
    let out = net.output.remove(&2).unwrap();
    assert_eq!(out, b"\x81\x063probe");
    // A POST races the upgrade.
    assert_eq!(net.request(3, &post(&sid, "4racing")), (200, "ok".into()));
    assert_eq!(net.messages.last().unwrap().1, Msg::Text("racing".into()));
    // A second WebSocket during the upgrade: 101, then a close frame.
    net.send(4, &ws_upgrade(&sid));
    net.pump();
    let out = net.output.remove(&4).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 101 ") && out.ends_with(b"\x88\x00"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // The upgrade completes.
    net.send(2, &mask(b"5", 1));
    net.pump();
    assert!(net.events().contains(&Event::Upgraded {
        sid: Sid::parse(&sid).unwrap()
    }));
    assert_eq!(
        net.request(3, &post(&sid, "4late")),
        (400, r#"{"code":3,"message":"Bad request"}"#.into())
    );
    assert_eq!(
        net.request(5, &poll(&sid)),
        (400, r#"{"code":3,"message":"Bad request"}"#.into())
    );
    // And the WebSocket carries on.
    net.send(2, &mask(b"4still", 1));
    net.pump();
    assert_eq!(net.messages.last().unwrap().1, Msg::Text("still".into()));
}

/// 1,000 polling sessions in one endpoint (`Growable`), each answering two
/// rounds of heartbeats; then nobody answers and all of them end by ping
/// timeout, leaving empty tables.
#[test]
fn thousand_sessions_with_heartbeats() {
    let mut net: Net = Net::new(test_config());
    let n = 1000u32;
    let sids: Vec<String> = (0..n).map(|c| net.open(c)).collect();
    assert_eq!(net.s.sessions(), 1000);
    assert_eq!(net.events().len(), 1000);
    for round in 0..2 {
        // Every client holds a GET.
        for c in 0..n {
            net.send(c, &poll(&sids[c as usize]));
        }
        net.pump();
        net.advance(300);
        for c in 0..n {
            assert_eq!(
                net.response(c),
                Some((200, "2".into())),
                "round {round}, client {c}"
            );
            net.send(n + c, &post(&sids[c as usize], "3"));
        }
        net.pump();
        for c in 0..n {
            assert_eq!(net.response(n + c), Some((200, "ok".into())));
        }
        assert_eq!(net.s.sessions(), 1000);
    }
    assert!(net.events().is_empty());
    // Silence: each is pinged once more and times out.
    net.advance(300 + 200 + 1);
    let ev = net.events();
    assert_eq!(ev.len(), 1000);
    assert!(ev.iter().all(|e| matches!(
        e,
        Event::Closed {
            reason: CloseReason::PingTimeout,
            ..
        }
    )));
    net.advance(1);
    assert_eq!(net.s.sessions(), 0);
    assert_eq!(net.s.connections(), 2 * n as usize);
    // The idle keep-alive connections go by their deadline.
    net.advance(30_000);
    assert_eq!(net.s.connections(), 0);
    assert_eq!(net.closed.len(), 2 * n as usize);
    assert_eq!(net.s.poll_timeout(), None);
}

/// No heap: 4 connections and 2 sessions. A third session is refused with
/// 503 and the connection kept; a fifth connection is refused; once a
/// session ends, a new one opens.
#[test]
fn fixed_storage_at_its_caps() {
    let mut net: Net<Fixed<4, 2, 2048>> = Net::new(test_config());
    let a = net.open(1);
    let _b = net.open(2);
    let (status, body) = net.request(3, &get("transport=polling"));
    assert_eq!(status, 503, "{body}");
    assert_eq!(net.s.sessions(), 2);
    assert_eq!(net.s.handle_accept(net.now, 4), Ok(()));
    assert_eq!(
        net.s.handle_accept(net.now, 5),
        Err(sockwire::engineio::Error::Unavailable)
    );
    assert_eq!(net.s.connections(), 4);
    // Session a closes (a close packet), and its slot frees.
    assert_eq!(net.request(1, &post(&a, "1")), (200, "ok".into()));
    let _ = net.events();
    net.advance(1);
    assert_eq!(net.s.sessions(), 1);
    let (status, body) = net.request(3, &get("transport=polling"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(net.s.sessions(), 2);
    // A connection slot frees when a connection closes.
    net.close(4);
    assert_eq!(net.s.handle_accept(net.now, 5), Ok(()));
}

/// A whole exchange fed in one piece per request or one byte at a time gives
/// the same messages and the same bytes out.
/// The sid, the messages and the bytes out per connection.
type Outcome = (String, Vec<(Sid, Msg)>, BTreeMap<u32, Vec<u8>>);

#[test]
fn chunking_invariance() {
    fn run(bytewise: bool, sid: Option<&str>) -> Outcome {
        let mut net: Net = Net::new(test_config());
        net.echo = true;
        let open = get("transport=polling");
        let requests: Vec<(u32, Vec<u8>)> = match sid {
            None => vec![(1, open)],
            Some(sid) => vec![
                (1, open),
                (2, post(sid, "4hello\x1e4w\u{e9}rld\x1ebAQID")),
                (1, poll(sid)),
                (2, post(sid, "4again")),
                (2, ws_upgrade(sid)),
            ],
        };
        for (conn, bytes) in &requests {
            if bytewise {
                for b in bytes {
                    net.send(*conn, &[*b]);
                    net.feed(*conn);
                }
            } else {
                net.send(*conn, bytes);
            }
            net.pump();
        }
        let all: Vec<u8> = net.output.get(&1).cloned().unwrap_or_default();
        let open = parse_response(&all).unwrap().1;
        (sid_of(&open), net.messages, net.output)
    }
    let (sid, _, _) = run(false, None);
    let whole = run(false, Some(&sid));
    let bytes = run(true, Some(&sid));
    assert_eq!(whole.0, sid);
    assert_eq!(whole.1.len(), 4);
    assert_eq!(whole.1[2].1, Msg::Binary(vec![1, 2, 3]));
    assert_eq!(whole, bytes);
}

/// Slowloris and silent peers: 1,000 connections that trickle one byte a
/// second and 1,000 that say nothing. A new client still opens a session and
/// exchanges messages; every hostile connection is closed by its deadline
/// (408 for a head that started, a silent close for one that sent nothing),
/// and the tables never exceed the caps.
#[test]
fn hostile_peers_shed_by_deadlines() {
    let config = Config {
        head_timeout: Duration::from_millis(10_000),
        idle_timeout: Duration::from_millis(30_000),
        max_connections: 2_010,
        max_sessions: 4,
        // Heartbeats far apart: the client here does not answer pings.
        ..Config::default()
    };
    let mut net: Net = Net::new(config);
    net.echo = true;
    let trickle: Vec<u32> = (0..1000).collect();
    let silent: Vec<u32> = (1000..2000).collect();
    let head = get("transport=polling");
    for &c in &silent {
        net.s.handle_accept(net.now, c).unwrap();
    }
    for &c in &trickle {
        net.s.handle_accept(net.now, c).unwrap();
    }
    assert_eq!(net.s.connections(), 2000);
    let mut sid = None;
    for second in 0..12u64 {
        // One byte from every trickler still open.
        for &c in &trickle {
            if !net.closed.contains(&c) {
                net.send(c, &head[second as usize..second as usize + 1]);
            }
        }
        net.pump();
        // Meanwhile, a well-behaved client.
        match second {
            3 => sid = Some(net.open(5000)),
            4..=11 => {
                let sid = sid.as_deref().unwrap();
                let text = format!("4second {second}");
                assert_eq!(net.request(5001, &post(sid, &text)), (200, "ok".into()));
                assert_eq!(net.request(5000, &poll(sid)), (200, text));
            }
            _ => {}
        }
        assert!(net.s.connections() <= 2002, "{}", net.s.connections());
        assert!(net.s.sessions() <= 1);
        net.advance_to(Instant::from_millis((second + 1) * 1000));
        if second < 9 {
            assert!(
                net.closed.is_empty(),
                "second {second}: {:?}",
                &net.closed[..1]
            );
        }
    }
    // All 2,000 are gone, by 10 s after their accept; the client is not.
    let closed: std::collections::BTreeSet<u32> = net.closed.iter().copied().collect();
    assert_eq!(closed.len(), 2000);
    assert!(trickle.iter().chain(&silent).all(|c| closed.contains(c)));
    for &c in &silent {
        assert!(
            net.output.get(&c).is_none_or(Vec::is_empty),
            "silent {c} got bytes"
        );
    }
    for &c in &trickle {
        let out = net.output.remove(&c).unwrap();
        let (status, body, len) = parse_response(&out).unwrap();
        assert_eq!((status, body.as_str(), len), (408, "", out.len()));
    }
    assert_eq!(net.s.connections(), 2);
    assert_eq!(net.s.sessions(), 1);
    assert_eq!(net.messages.len(), 8);
}

/// Origin allow-list: another origin is refused with 403 on polling (the
/// reference's `allowRequest` answer) and on a WebSocket handshake; an
/// allowed one is echoed; none (not a browser) is allowed.
#[test]
fn origin_allow_list() {
    let config = Config {
        allowed_origins: Origins::List(&["http://good.example"]),
        ..test_config()
    };
    let mut net: Net = Net::new(config);
    let with_origin = |origin: &str, ws: bool| {
        let extra = if ws { WS_HEAD } else { "" };
        let transport = if ws { "websocket" } else { "polling" };
        format!("GET /engine.io/?EIO=4&transport={transport} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n{extra}\r\n")
            .into_bytes()
    };
    let forbidden = (403, r#"{"code":4,"message":"Forbidden"}"#.to_string());
    assert_eq!(
        net.request(1, &with_origin("http://evil.example", false)),
        forbidden
    );
    assert!(net.closed.contains(&1));
    // On a WebSocket, the message as text (the reference's abortUpgrade).
    assert_eq!(
        net.request(2, &with_origin("http://evil.example", true)),
        (403, "Forbidden".into())
    );
    assert!(net.closed.contains(&2));
    assert_eq!(net.s.sessions(), 0);
    net.send(3, &with_origin("http://good.example", false));
    net.pump();
    let out = String::from_utf8(net.output.get(&3).cloned().unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(
        out.contains("Access-Control-Allow-Origin: http://good.example\r\n"),
        "{out}"
    );
    assert!(out.contains("Vary: Origin\r\n"), "{out}");
    net.send(4, &with_origin("http://good.example", true));
    net.pump();
    assert!(net.output[&4].starts_with(b"HTTP/1.1 101 "));
    assert_eq!(net.request(5, &get("transport=polling")).0, 200);
    assert_eq!(net.s.sessions(), 3);
}

/// The session cap: a polling handshake beyond it gets 503 and keeps its
/// connection, a WebSocket handshake 503 and a close; a freed slot is
/// taken again.
#[test]
fn session_cap_refuses_with_503() {
    let config = Config {
        max_sessions: 2,
        max_connections: 5,
        ..test_config()
    };
    let mut net: Net = Net::new(config);
    let a = net.open(1);
    net.open(2);
    assert_eq!(net.request(3, &get("transport=polling")).0, 503);
    assert!(!net.closed.contains(&3));
    let ws =
        format!("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n");
    assert_eq!(net.request(4, ws.as_bytes()).0, 503);
    assert!(net.closed.contains(&4));
    net.s.handle_accept(net.now, 6).unwrap();
    net.s.handle_accept(net.now, 7).unwrap();
    assert_eq!(
        net.s.handle_accept(net.now, 8),
        Err(sockwire::engineio::Error::Unavailable)
    );
    net.s.close(net.now, &Sid::parse(&a).unwrap());
    // The close packet goes out on the next GET, then the slot frees.
    assert_eq!(net.request(1, &poll(&a)), (200, "1".into()));
    let _ = net.events();
    net.advance(1);
    assert_eq!(net.s.sessions(), 1);
    assert_eq!(net.request(3, &get("transport=polling")).0, 200);
}

/// A refused WebSocket upgrade is answered as the reference's
/// `abortUpgrade`: 400, `Connection: close`, the message as a text body.
#[test]
fn websocket_refusals_as_the_reference() {
    let mut net: Net = Net::new(test_config());
    let ws = |query: &str| {
        format!("GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\n{WS_HEAD}\r\n").into_bytes()
    };
    for (conn, query, message) in [
        (1, "EIO=4&transport=abc", "Transport unknown"),
        (
            2,
            "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
            "Session ID unknown",
        ),
        (
            3,
            "EIO=3&transport=websocket",
            "Unsupported protocol version",
        ),
    ] {
        net.send(conn, &ws(query));
        net.pump();
        let out = String::from_utf8(net.output.remove(&conn).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(out.contains("Connection: close\r\n"), "{out}");
        assert!(out.contains("Content-Type: text/html\r\n"), "{out}");
        assert!(out.ends_with(&format!("\r\n\r\n{message}")), "{out}");
        assert!(net.closed.contains(&conn));
    }
}

/// No heap, the whole path: a polling session upgrades to WebSocket in
/// `Fixed<2, 1, 2048>` (2 connections, 1 session), echoes on both
/// transports, and a heartbeat goes out on the WebSocket.
#[test]
fn fixed_storage_upgrade_and_echo() {
    let mut net: Net<Fixed<2, 1, 2048>> = Net::new(test_config());
    net.echo = true;
    let sid = net.open(1);
    assert_eq!(net.request(2, &post(&sid, "4polled")), (200, "ok".into()));
    net.close(2);
    assert_eq!(net.request(1, &poll(&sid)), (200, "4polled".into()));
    // The held GET and the WebSocket: both slots.
    net.send(1, &poll(&sid));
    net.send(2, &ws_upgrade(&sid));
    net.pump();
    assert!(net.output.remove(&2).unwrap().starts_with(b"HTTP/1.1 101 "));
    net.send(2, &mask(b"2probe", 1));
    net.pump();
    assert_eq!(net.output.remove(&2).unwrap(), b"\x81\x063probe");
    assert_eq!(net.response(1), Some((200, "6".into())));
    net.send(2, &mask(b"5", 1));
    net.send(2, &mask(b"4ws", 1));
    net.pump();
    assert_eq!(net.output.remove(&2).unwrap(), b"\x81\x034ws");
    net.advance(300);
    assert_eq!(net.output.remove(&2).unwrap(), b"\x81\x012");
    // The polling connection is idle, then closed by its deadline; a third
    // connection fits again.
    net.advance(30_000 - 300);
    assert!(net.closed.contains(&1));
    assert_eq!(net.s.handle_accept(net.now, 3), Ok(()));
}

/// A ping whose pong is not yet written holds the next control frame back:
/// the endpoint says "blocked" (transmit, then call again), never "need more
/// bytes" with a whole frame waiting.
#[test]
fn pings_back_to_back_block_until_the_pong_is_written() {
    let mut s: Srv = Srv::new(Config::default(), SplitMix64::new(2));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    s.handle_input(now, 1, &mut head).unwrap();
    drain(&mut s);
    // Two WebSocket pings and a text message in one read.
    let mut input = mask(b"", 0x9);
    input.extend(mask(b"", 0x9));
    input.extend(mask(b"4x", 0x1));
    let mut off = 0;
    let mut messages = Vec::new();
    for _ in 0..20 {
        if off == input.len() {
            break;
        }
        let r = s.handle_input(now, 1, &mut input[off..]).unwrap();
        off += r.consumed;
        if let Some((_, Data::Text(t))) = r.message {
            messages.push(t.to_owned());
        }
        if r.consumed == 0 && r.message.is_none() && !r.again {
            assert!(
                r.blocked,
                "0 consumed with a whole frame waiting must be `blocked`"
            );
            let pongs = drain(&mut s);
            assert!(
                pongs.iter().any(|(_, b)| b.starts_with(&[0x8a])),
                "{pongs:?}"
            );
        }
    }
    assert_eq!(off, input.len());
    assert_eq!(messages, ["x"]);
}

/// The fuzzers' `known-hidden-event-looks-stalled`, through the endpoint: a
/// ping, an empty pong and a Close in one read. The empty pong's header is
/// read while the ping's pong is due, so it is handled on a later call that
/// consumes nothing; that call says `again`, never "need more bytes", and a
/// loop that stops only on "need more bytes" reads the Close.
#[test]
fn a_held_control_frame_is_never_need_more_bytes() {
    let mut s: Srv = Srv::new(Config::default(), SplitMix64::new(4));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    s.handle_input(now, 1, &mut head).unwrap();
    drain(&mut s);
    let mut input = mask(b"ping!", 0x9);
    input.extend(mask(b"", 0xa));
    input.extend(mask(&1000u16.to_be_bytes(), 0x8));
    let (mut off, mut agains, mut wire) = (0, 0, Vec::new());
    for _ in 0..20 {
        let r = s.handle_input(now, 1, &mut input[off..]).unwrap();
        off += r.consumed;
        agains += usize::from(r.again);
        assert!(!(r.again && r.blocked));
        if r.blocked {
            wire.extend(drain(&mut s).into_iter().flat_map(|(_, b)| b));
        } else if !r.progressed() {
            break; // "need more bytes": only once everything is read
        }
    }
    assert_eq!(off, input.len(), "the Close was left unread");
    assert_eq!(agains, 1);
    wire.extend(drain(&mut s).into_iter().flat_map(|(_, b)| b));
    // The pong, then our Close answering the peer's.
    assert!(wire.starts_with(b"\x8a\x05ping!"), "{wire:02x?}");
    assert!(wire[7..].starts_with(&[0x88]), "{wire:02x?}");
}

/// A thousand sessions in one endpoint, each answered on its own connection.
#[test]
fn a_thousand_polling_sessions() {
    let mut s: Srv = Srv::new(Config::default(), SplitMix64::new(3));
    let now = Instant::from_millis(0);
    for conn in 0..1000u32 {
        let mut head =
            b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let r = s.handle_input(now, conn, &mut head).unwrap();
        assert_eq!(r.consumed, head.len());
    }
    let answered = drain(&mut s);
    assert_eq!(answered.len(), 1000);
    assert!(
        answered
            .iter()
            .all(|(_, b)| b.starts_with(b"HTTP/1.1 200 OK"))
    );
    assert_eq!(s.sessions(), 1000);
    let mut opened = 0;
    while let Some(e) = s.poll_event() {
        if let Event::Opened { sid, .. } = e {
            opened += 1;
            let (session, ()) = s.session(&sid).unwrap();
            assert_eq!(session.transport(), sockwire::engineio::Transport::Polling);
        }
    }
    assert_eq!(opened, 1000);
}

// ---- regressions: found by fuzzing (fuzz/README.md)

/// `eio_endpoint`: a WebSocket handshake that also said `Connection: close`
/// opened a session and then forgot its connection after the 101 (a
/// `close_after` transmit): the open packet never went out and the session,
/// closed later, stayed in the table for ever.
#[test]
fn a_websocket_handshake_with_connection_close_keeps_its_connection() {
    let mut s: Srv = Srv::new(Config::default(), SplitMix64::new(1));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let n = head.len();
    assert_eq!(s.handle_input(now, 1, &mut head).unwrap().consumed, n);
    let tx = drain(&mut s);
    assert!(tx[0].1.starts_with(b"HTTP/1.1 101"), "{tx:?}");
    assert!(tx.iter().all(|(t, _)| !t.close_after), "{tx:?}");
    assert!(
        tx.iter()
            .any(|(_, b)| b.windows(7).any(|w| w == b"0{\"sid\"")),
        "{tx:?}"
    );
    assert!(matches!(s.poll_event(), Some(Event::Opened { .. })));
    s.handle_closed(now, 1);
    drain(&mut s);
    assert!(matches!(s.poll_event(), Some(Event::Closed { .. })));
    // A closed session leaves the table at the next call.
    s.handle_timeout(now);
    assert_eq!(s.sessions(), 0);
    assert_eq!(s.connections(), 0);
}
