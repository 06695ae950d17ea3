//! sockwire's clients against the reference Node servers:
//!
//! - the Engine.IO client (`engineio::ClientSession` over `ws::ClientHandshake`,
//!   or over HTTP long-polling with the upgrade to WebSocket, driven by
//!   `examples/sio_client.rs`'s `Transport`) against
//!   `tests/peers/eio_server.mjs` (`engine.io` 6.6);
//! - the Socket.IO client (the manual client driver's `Runner` (tests/common/manual_client.rs): the
//!   `socketio::ClientCore` with automatic reconnection) against
//!   `tests/peers/sio_server.mjs` (`socket.io` 4.8), also with
//!   `--recovery` (connection state recovery on), and over polling with the
//!   upgrade (the reference client's default transports).
//!
//! Each test starts its own peer on 127.0.0.1 (port chosen by the OS, read
//! from its `LISTENING <port>` line), is bounded to about 30 s, and kills the
//! peer when it ends. Needs `bash tests/scripts/setup-peers.sh`; fails, never
//! skips, when that was not run.

#[path = "common/manual_client.rs"]
#[allow(dead_code)]
mod manual_client;

mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use common::peers::{self, Peer};
use manual_client::{OwnedEvent, OwnedMessage, Runner, Transport, TransportKind};
use sockwire::engineio::{self, ClientCloseReason, ClientConfig, ClientSessionEvent, Data};
use sockwire::socketio::DisconnectReason;
use sockwire::time::StdClock;

/// Every test ends within this (plus the peer's start).
const TEST_BUDGET: Duration = Duration::from_secs(30);
/// One expected step (an echo, a connect) takes at most this.
const STEP: Duration = Duration::from_secs(5);
/// The auth sent on every namespace.
const AUTH: &str = r#"{"token":"123"}"#;

// ---------------------------------------------------------------------------
// Peers and time
// ---------------------------------------------------------------------------

/// Starts `tests/peers/SCRIPT ARGS...` and waits for its port.
fn start_peer(script: &str, args: &[&str]) -> (Peer, u16) {
    let mut cmd = peers::node_with_modules(script, &["engine.io", "socket.io"]);
    cmd.args(args);
    let mut peer = Peer::spawn(script, cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    (peer, port)
}

/// Stops the peer and returns what it logged on stderr.
fn peer_log(mut peer: Peer) -> String {
    // The servers run until killed: this waits a moment for the last log
    // lines, then kills.
    let out = peer.wait(Duration::from_millis(500));
    println!("---- {} stderr ----\n{}", out.name, out.stderr);
    out.stderr
}

/// The time left to a test.
struct Budget {
    deadline: Instant,
}

impl Budget {
    fn new() -> Self {
        Budget {
            deadline: Instant::now() + TEST_BUDGET,
        }
    }

    /// How long the next step may take: STEP, or less near the end.
    fn step(&self, what: &str) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the test's {TEST_BUDGET:?} budget ran out before {what}"
        );
        left.min(STEP)
    }
}

// ---------------------------------------------------------------------------
// The Engine.IO client
// ---------------------------------------------------------------------------

/// An Engine.IO message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum M {
    T(String),
    B(Vec<u8>),
}

fn short(m: &M) -> String {
    match m {
        M::T(t) if t.len() <= 80 => format!("T({t:?})"),
        M::T(t) => format!("T(<{} bytes>)", t.len()),
        M::B(b) if b.len() <= 32 => format!("B({b:?})"),
        M::B(b) => format!("B(<{} bytes>)", b.len()),
    }
}

/// The Engine.IO client on one transport to `eio_server.mjs` (a WebSocket,
/// or long-polling).
struct Eio {
    t: Transport,
    clock: StdClock,
    messages: VecDeque<M>,
    events: VecDeque<ClientSessionEvent>,
    /// Times the heartbeat deadline moved forward: one per ping received.
    pings: usize,
    last_deadline: Option<sockwire::time::Instant>,
}

impl Eio {
    /// A session starting as `kind`, upgrading from polling if `upgrade`;
    /// polling requests and answers are traced.
    fn start(port: u16, kind: TransportKind, upgrade: bool) -> Eio {
        let clock = StdClock::new();
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = ClientConfig {
            upgrade,
            ..Transport::config("/engine.io/")
        };
        let mut t = Transport::start(addr, config, kind, clock.now())
            .unwrap_or_else(|e| panic!("{kind:?} transport to {addr}: {e}"));
        t.http_trace = Some(Vec::new());
        Eio {
            t,
            clock,
            messages: VecDeque::new(),
            events: VecDeque::new(),
            pings: 0,
            last_deadline: None,
        }
    }

    /// One pass: timers, input (up to 20 ms), events.
    fn pump(&mut self) {
        let now = self.clock.now();
        self.t.handle_timeout(now);
        let wait = self
            .t
            .eio
            .poll_timeout()
            .map(|d| Duration::from(d.saturating_duration_since(now)))
            .unwrap_or(Duration::from_millis(20))
            .min(Duration::from_millis(20));
        let messages = &mut self.messages;
        self.t
            .poll_input(&self.clock, wait, &mut |_eio, d: Data<'_>| {
                messages.push_back(match d {
                    Data::Text(t) => M::T(t.to_owned()),
                    Data::Binary(b) => M::B(b.to_vec()),
                })
            });
        while let Some(e) = self.t.eio.poll_event() {
            self.events.push_back(e);
        }
        if self.t.eio.is_open() {
            let d = self.t.eio.poll_timeout();
            if self.last_deadline.is_some() && d > self.last_deadline {
                self.pings += 1;
            }
            self.last_deadline = d;
        }
    }

    fn pump_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.pump();
        }
    }

    fn next_event(&mut self, b: &Budget, what: &str) -> ClientSessionEvent {
        let until = Instant::now() + b.step(what);
        loop {
            if let Some(e) = self.events.pop_front() {
                return e;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what} (messages so far: {:?}; input error: {:?}; \
                 poll_transmit error: {:?}; I/O error: {:?})",
                self.messages.iter().map(short).collect::<Vec<_>>(),
                self.t.error,
                self.t.transmit_error,
                self.t.io_error
            );
            self.pump();
        }
    }

    fn next_message(&mut self, b: &Budget, what: &str) -> M {
        let until = Instant::now() + b.step(what);
        loop {
            if let Some(m) = self.messages.pop_front() {
                return m;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what} (events so far: {:?}; input error: {:?}; \
                 poll_transmit error: {:?}; I/O error: {:?})",
                self.events,
                self.t.error,
                self.t.transmit_error,
                self.t.io_error
            );
            self.pump();
        }
    }

    fn echo(&mut self, b: &Budget, sent: M, what: &str) {
        match &sent {
            M::T(t) => self.t.eio.send_text(t).expect("send_text"),
            M::B(d) => self.t.eio.send_binary(d).expect("send_binary"),
        }
        let now = self.clock.now();
        self.t.write_out(now);
        let got = self.next_message(b, what);
        assert!(
            got == sent,
            "{what}: sent {}, got {}",
            short(&sent),
            short(&got)
        );
        println!("ok - {what}");
    }

    /// Opened: the open packet was parsed.
    fn opened(port: u16, b: &Budget) -> Eio {
        Eio::opened_with(port, TransportKind::WebSocket, true, b)
    }

    /// [`opened`](Self::opened), starting as `kind`.
    fn opened_with(port: u16, kind: TransportKind, upgrade: bool, b: &Budget) -> Eio {
        let mut c = Eio::start(port, kind, upgrade);
        assert_eq!(c.next_event(b, "the open packet"), ClientSessionEvent::Open);
        assert!(c.t.eio.is_open());
        c
    }

    /// The traced polling requests (`-> `) and answers (`<- `).
    fn trace(&self) -> &[String] {
        self.t.http_trace.as_deref().unwrap_or_default()
    }

    /// Text, the 256 byte values, 100 KiB of each and 5 queued at once
    /// (back in order) echoed; `on` ends each step's name.
    fn echo_set(&mut self, b: &Budget, on: &str) {
        self.echo(
            b,
            M::T("hello ✓ wörld 😀".into()),
            &format!("text echo{on}"),
        );
        self.echo(
            b,
            M::B((0..=255).collect()),
            &format!("binary echo{on} (256 byte values)"),
        );
        self.echo(
            b,
            M::T(pseudo_random_text(100 * 1024)),
            &format!("100 KiB text echo{on}"),
        );
        self.echo(
            b,
            M::B(peers::pseudo_random(100 * 1024, 7)),
            &format!("100 KiB binary echo{on}"),
        );
        // Several queued at once come back in order.
        for i in 0..5 {
            self.t.eio.send_text(&format!("burst {i}")).unwrap();
        }
        self.t.write_out(self.clock.now());
        for i in 0..5 {
            let got = self.next_message(b, "burst echo");
            assert_eq!(got, M::T(format!("burst {i}")), "burst echo{on}");
        }
        println!("ok - 5 queued messages echoed in order{on}");
    }

    /// Pumps for `d`; asserts that at least `at_least` pings came and the
    /// session stayed open with no event. Returns the pings.
    fn survive_heartbeats(&mut self, d: Duration, at_least: usize) -> usize {
        let before = self.pings;
        self.pump_for(d);
        let pings = self.pings - before;
        assert!(
            pings >= at_least,
            "at least {at_least} pings received in {d:?}, saw {pings}"
        );
        assert!(self.events.is_empty(), "no event: {:?}", self.events);
        assert!(self.t.eio.is_open(), "still open after {pings} heartbeats");
        pings
    }

    /// `close()`: one `Closed(ForcedClose)` event, then the transport
    /// finishes with no input error.
    fn close_cleanly(&mut self, b: &Budget, what: &str) {
        self.t.eio.close(self.clock.now());
        self.t.write_out(self.clock.now());
        assert_eq!(
            self.next_event(b, "Closed(ForcedClose)"),
            ClientSessionEvent::Closed(ClientCloseReason::ForcedClose)
        );
        self.until_finished(b, what);
        assert!(self.t.error.is_none(), "input error: {:?}", self.t.error);
        assert!(
            self.events.is_empty(),
            "one Closed event only: {:?}",
            self.events
        );
    }

    fn until_finished(&mut self, b: &Budget, what: &str) {
        let until = Instant::now() + b.step(what);
        while !self.t.is_finished() {
            assert!(
                Instant::now() < until,
                "{what}: the WebSocket did not finish closing (events {:?}, input error {:?}, \
                 poll_transmit error: {:?})",
                self.events,
                self.t.error,
                self.t.transmit_error
            );
            self.pump();
        }
    }
}

fn pseudo_random_text(len: usize) -> String {
    peers::pseudo_random(len, 0x0e10_c11e_0000_0001)
        .into_iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

#[test]
fn eio_client_opens_over_websocket_and_gets_echoes() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened(port, &b);
    let sid = c.t.eio.sid().to_owned();
    assert!(!sid.is_empty(), "a session id from the open packet");
    assert_eq!(c.t.eio.ping_interval().as_millis(), 300, "pingInterval");
    assert_eq!(c.t.eio.ping_timeout().as_millis(), 200, "pingTimeout");
    assert_eq!(c.t.eio.server_max_payload(), 1_000_000, "maxPayload");
    println!("ok - open packet: sid {sid}, pingInterval 300, pingTimeout 200");

    c.echo_set(&b, "");
    assert!(c.events.is_empty(), "no event: {:?}", c.events);
    assert!(c.t.error.is_none(), "input error: {:?}", c.t.error);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: open {sid} (websocket)")),
        "the server saw the session {sid} open on websocket"
    );
}

#[test]
fn eio_client_echoes_empty_messages() {
    let b = Budget::new();
    let (_peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened(port, &b);
    // engine.io echoes both (checked with a raw `ws` client too).
    c.echo(&b, M::T(String::new()), "empty text echo");
    c.echo(&b, M::B(vec![]), "empty binary echo");
    c.echo(&b, M::T("after".into()), "echo after the empty messages");
    assert!(c.t.eio.is_open(), "still open: {:?}", c.events);
}

#[test]
fn eio_client_survives_heartbeats() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened(port, &b);
    let sid = c.t.eio.sid().to_owned();
    // pingInterval 300 + pingTimeout 200: a missed pong closes the session
    // on the server within 500 ms, a missed ping on the client.
    let pings = c.survive_heartbeats(Duration::from_millis(2000), 3);
    println!("ok - {pings} heartbeats, still open");
    c.echo(&b, M::T("still here".into()), "echo after the heartbeats");
    // Dropping the connection is the first reason the server has to close.
    drop(c);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: close {sid}: transport close")),
        "the server kept the session until the client went away (no ping timeout)"
    );
}

#[test]
fn eio_server_close_ends_the_session() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened(port, &b);
    let sid = c.t.eio.sid().to_owned();
    c.t.eio.send_text("close-me").unwrap();
    c.t.write_out(c.clock.now());
    let e = c.next_event(&b, "the end of the session after close-me");
    // engine.io 6.6 closes a WebSocket session with a bare WebSocket Close
    // frame (`socket.close()` -> `ws.close()`), without an Engine.IO close
    // packet `1` (checked on the wire): the session ends as a transport
    // close, which is also what engine.io-client reports ("transport close").
    // ServerClose would need the `1` packet, which only polling sends.
    assert_eq!(
        e,
        ClientSessionEvent::Closed(ClientCloseReason::TransportClose),
        "close-me: the server's WebSocket Close frame ends the session"
    );
    println!("ok - close-me: {e:?}");
    assert!(
        c.messages.is_empty(),
        "no echo of close-me: {:?}",
        c.messages
    );
    c.until_finished(&b, "after close-me");
    assert!(c.t.error.is_none(), "input error: {:?}", c.t.error);
    println!("ok - WebSocket closing handshake finished");
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: close {sid}: forced close")),
        "the server closed the session itself"
    );
}

#[test]
fn eio_client_close_ends_cleanly() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened(port, &b);
    let sid = c.t.eio.sid().to_owned();
    c.echo(&b, M::T("before close".into()), "echo before close");
    c.close_cleanly(&b, "after close()");
    println!("ok - close(): Closed(ForcedClose), closing handshake finished");
    drop(c);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: close {sid}: transport close")),
        "the server saw the client close the session"
    );
}

// ---------------------------------------------------------------------------
// The Socket.IO client
// ---------------------------------------------------------------------------

fn describe(e: &OwnedEvent) -> String {
    match e {
        OwnedEvent::Event(m) | OwnedEvent::Ack(m) if !m.attachments.is_empty() => format!(
            "{}({} {:?} {:?} +{} attachment(s))",
            if matches!(e, OwnedEvent::Event(_)) {
                "Event"
            } else {
                "Ack"
            },
            m.nsp,
            m.ack_id,
            m.data,
            m.attachments.len()
        ),
        other => format!("{other:?}"),
    }
}

/// Collects events until `done(&all)` holds; fails on a runner error or
/// after a step's time.
fn collect_until(
    r: &mut Runner,
    b: &Budget,
    what: &str,
    done: impl Fn(&[OwnedEvent]) -> bool,
) -> Vec<OwnedEvent> {
    let until = Instant::now() + b.step(what);
    let mut all = Vec::new();
    loop {
        if done(&all) {
            return all;
        }
        let left = until.saturating_duration_since(Instant::now());
        match r.next_event(left) {
            Some(OwnedEvent::Error(e)) => panic!(
                "{what}: runner error {e}\nevents: {:#?}\nreceived: {:#?}",
                all.iter().map(describe).collect::<Vec<_>>(),
                r.received()
            ),
            Some(e) => all.push(e),
            None => panic!(
                "timed out waiting for {what}\nevents: {:#?}\nreceived: {:#?}",
                all.iter().map(describe).collect::<Vec<_>>(),
                r.received()
            ),
        }
    }
}

fn is_event(e: &OwnedEvent, nsp: &str, name: &str) -> bool {
    matches!(e, OwnedEvent::Event(m) if m.nsp == nsp && m.name.as_deref() == Some(name))
}

fn has_event(all: &[OwnedEvent], nsp: &str, name: &str) -> bool {
    all.iter().any(|e| is_event(e, nsp, name))
}

fn is_connect(e: &OwnedEvent, ns: &str) -> bool {
    matches!(e, OwnedEvent::Connect { nsp, .. } if nsp == ns)
}

/// The event `name` on `nsp` in `all`.
fn event<'a>(all: &'a [OwnedEvent], nsp: &str, name: &str) -> &'a OwnedMessage {
    all.iter()
        .find_map(|e| match e {
            OwnedEvent::Event(m) if m.nsp == nsp && m.name.as_deref() == Some(name) => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {name} event on {nsp} in {all:#?}"))
}

/// The Socket.IO-level events only (no transport open/close).
fn sio_only(all: &[OwnedEvent]) -> Vec<&OwnedEvent> {
    all.iter()
        .filter(|e| {
            !matches!(
                e,
                OwnedEvent::TransportOpen { .. } | OwnedEvent::TransportClosed(_)
            )
        })
        .collect()
}

/// Waits for Connect then the `auth` event on each namespace; returns every
/// event seen and the socket ids.
fn connect_all(r: &mut Runner, b: &Budget, nsps: &[&str]) -> (Vec<OwnedEvent>, Vec<String>) {
    let all = collect_until(r, b, "Connect + auth on every namespace", |all| {
        nsps.iter()
            .all(|n| all.iter().any(|e| is_connect(e, n)) && has_event(all, n, "auth"))
    });
    let mut sids = Vec::new();
    for nsp in nsps {
        let connect = all.iter().position(|e| is_connect(e, nsp)).unwrap();
        let auth = all.iter().position(|e| is_event(e, nsp, "auth")).unwrap();
        assert!(
            connect < auth,
            "{nsp}: Connect comes before the auth event: {all:#?}"
        );
        if let OwnedEvent::Connect { sid, .. } = &all[connect] {
            assert!(!sid.is_empty(), "{nsp}: a socket id");
            sids.push(sid.clone());
        }
    }
    (all, sids)
}

fn sio_runner(port: u16, nsps: &[(&str, Option<&str>)]) -> Runner {
    Runner::connect(&format!("127.0.0.1:{port}"), "/socket.io/", nsps)
        .unwrap_or_else(|e| panic!("Runner::connect: {e}"))
}

/// Emits `message` on "/" and returns the `message-back`, checked to carry
/// the same arguments and attachments.
fn message_back(
    r: &mut Runner,
    b: &Budget,
    what: &str,
    args: &str,
    attachments: &[&[u8]],
) -> OwnedMessage {
    r.emit("/", "message", args, attachments).unwrap();
    let all = collect_until(r, b, what, |all| has_event(all, "/", "message-back"));
    let back = event(&all, "/", "message-back").clone();
    assert_eq!(back.args, args, "{what}: the same arguments back");
    assert_eq!(back.attachments, attachments, "{what}: the same bytes back");
    back
}

/// Emits `message-with-ack` on "/" and returns the ack id and the ack,
/// checked to carry that id, the same arguments and attachments.
fn acked(
    r: &mut Runner,
    b: &Budget,
    what: &str,
    args: &str,
    attachments: &[&[u8]],
) -> (u64, OwnedMessage) {
    let id = r
        .emit_with_ack("/", "message-with-ack", args, attachments, Some(STEP))
        .unwrap();
    let all = collect_until(r, b, what, |all| {
        all.iter().any(|e| matches!(e, OwnedEvent::Ack(_)))
    });
    match all.last() {
        Some(OwnedEvent::Ack(m)) => {
            assert_eq!(m.ack_id, Some(id), "{what}: the ack id");
            assert_eq!(m.args, args, "{what}: the ack carries the arguments");
            assert_eq!(m.attachments, attachments, "{what}: the same bytes back");
            (id, m.clone())
        }
        other => panic!("{what}: expected the ack, got {other:?}"),
    }
}

/// The first argument of an event, as raw JSON.
fn first_arg(m: &OwnedMessage) -> String {
    m.arg_list().into_iter().next().unwrap_or_default()
}

#[test]
fn sio_client_joins_namespaces_with_auth() {
    let b = Budget::new();
    let (peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = sio_runner(port, &[("/", Some(AUTH)), ("/custom", Some(AUTH))]);
    let (all, sids) = connect_all(&mut r, &b, &["/", "/custom"]);
    for nsp in ["/", "/custom"] {
        let auth = event(&all, nsp, "auth");
        assert_eq!(
            auth.args, AUTH,
            "{nsp}: the auth event carries the handshake auth"
        );
        assert!(r.is_connected(nsp));
    }
    let eio_sid = r.eio_sid().expect("an open Engine.IO session");
    assert_ne!(sids[0], sids[1], "one socket id per namespace");
    assert!(
        !sids.contains(&eio_sid),
        "the socket ids differ from the Engine.IO sid"
    );
    assert!(
        matches!(
            all.first(),
            Some(OwnedEvent::TransportOpen {
                ping_interval_ms: 300,
                ping_timeout_ms: 200,
                ..
            })
        ),
        "the transport opened first: {all:#?}"
    );
    println!("ok - / and /custom joined with auth {AUTH}, sids {sids:?}");
    r.close(Duration::from_secs(2));
    assert!(!r.has_transport(), "the transport closed");
    let log = peer_log(peer);
    for (nsp, sid) in ["/", "/custom"].iter().zip(&sids) {
        assert!(
            log.contains(&format!(
                "sio_server: disconnect {nsp} {sid}: client namespace disconnect"
            )),
            "the server saw {nsp} leave"
        );
    }
}

#[test]
fn sio_client_events_acks_and_binary() {
    let b = Budget::new();
    let (_peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = sio_runner(port, &[("/", Some(AUTH))]);
    connect_all(&mut r, &b, &["/"]);

    let args = r#"1,"two",{"three":3}"#;
    let back = message_back(&mut r, &b, "message-back", args, &[]);
    assert_eq!(back.data, format!(r#"["message-back",{args}]"#));
    assert_eq!(back.ack_id, None);
    println!("ok - message -> message-back [{args}]");

    let (id, ack) = acked(&mut r, &b, "the ack", args, &[]);
    assert_eq!(
        ack.data,
        format!("[{args}]"),
        "the ack carries the arguments"
    );
    println!("ok - message-with-ack id {id} -> ack [{args}]");

    // Binary: one attachment, then two, then an empty one, with the
    // placeholders nested.
    let one = peers::pseudo_random(1000, 11);
    let placeholder = r#"{"_placeholder":true,"num":0}"#;
    message_back(&mut r, &b, "binary message-back", placeholder, &[&one]);
    println!("ok - message + 1000-byte attachment -> message-back with the same bytes");

    let two: Vec<u8> = (0..=255).collect();
    let nested = r#""x",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}"#;
    r.emit("/", "message", nested, &[&one, &two]).unwrap();
    let all = collect_until(&mut r, &b, "binary message-back (2 attachments)", |all| {
        has_event(all, "/", "message-back")
    });
    let back = event(&all, "/", "message-back");
    assert_eq!(
        back.attachments,
        vec![one.clone(), two.clone()],
        "two attachments back, in order"
    );
    let list = back.arg_list();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0], r#""x""#);
    println!(
        "ok - 2 attachments (nested placeholders) both ways: {}",
        back.data
    );

    // A binary ack: the server acks with the Buffer it got (BINARY_ACK).
    let (id, _) = acked(&mut r, &b, "the binary ack", placeholder, &[&two]);
    println!("ok - binary message-with-ack -> binary ack with the same bytes");
    assert!(
        r.received()
            .iter()
            .any(|t| t.starts_with(&format!("61-{id}["))),
        "the ack arrived as BINARY_ACK: {:?}",
        r.received()
    );
    r.close(Duration::from_secs(2));
}

#[test]
fn sio_client_sends_an_empty_attachment() {
    let b = Budget::new();
    let (_peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = sio_runner(port, &[("/", None)]);
    connect_all(&mut r, &b, &["/"]);
    let args = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
    let what = "message-back with an empty attachment";
    message_back(&mut r, &b, what, args, &[&[], &[1, 2, 3]]);
    assert_eq!(r.transmit_error(), None);
    println!("ok - an empty attachment both ways");
    r.close(Duration::from_secs(2));
}

#[test]
fn sio_client_unknown_namespace_is_refused() {
    let b = Budget::new();
    let (_peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = sio_runner(port, &[("/", None), ("/random", Some(AUTH))]);
    let all = collect_until(
        &mut r,
        &b,
        "ConnectError on /random and Connect on /",
        |all| {
            all.iter()
                .any(|e| matches!(e, OwnedEvent::ConnectError { .. }))
                && all.iter().any(|e| is_connect(e, "/"))
        },
    );
    let (nsp, data) = all
        .iter()
        .find_map(|e| match e {
            OwnedEvent::ConnectError { nsp, data } => Some((nsp, data)),
            _ => None,
        })
        .unwrap();
    assert_eq!(nsp, "/random");
    assert_eq!(data, r#"{"message":"Invalid namespace"}"#);
    assert!(!r.is_connected("/random"));
    assert_eq!(
        r.emit("/random", "message", "1", &[]),
        Err(sockwire::socketio::Error::NotConnected),
        "a refused namespace is dropped"
    );
    assert!(
        r.received()
            .contains(&r#"4/random,{"message":"Invalid namespace"}"#.to_string()),
        "the wire: {:?}",
        r.received()
    );
    // The connection and "/" are unaffected.
    r.emit("/", "message", r#""after refusal""#, &[]).unwrap();
    let all = collect_until(&mut r, &b, "message-back after the refusal", |all| {
        has_event(all, "/", "message-back")
    });
    assert_eq!(event(&all, "/", "message-back").args, r#""after refusal""#);
    println!("ok - /random refused with {data}; / still works");
    r.close(Duration::from_secs(2));
}

#[test]
fn sio_client_reconnects_after_transport_close_and_flushes_its_buffer() {
    let b = Budget::new();
    let (peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = sio_runner(port, &[("/", Some(AUTH)), ("/custom", Some(AUTH))]);
    let (_, sids) = connect_all(&mut r, &b, &["/", "/custom"]);
    let first_eio = r.eio_sid().unwrap();

    r.emit("/", "force-disconnect-transport", "", &[]).unwrap();
    let down = collect_until(&mut r, &b, "Disconnected on both namespaces", |all| {
        all.iter()
            .filter(|e| matches!(e, OwnedEvent::Disconnected { .. }))
            .count()
            == 2
    });
    for nsp in ["/", "/custom"] {
        assert!(
            down.iter().any(|e| matches!(e,
                OwnedEvent::Disconnected { nsp: n, reason: DisconnectReason::TransportClosed(ClientCloseReason::TransportClose) }
                if n == nsp)),
            "{nsp}: Disconnected(transport close): {down:#?}"
        );
        assert!(!r.is_connected(nsp));
    }
    assert!(
        down.contains(&OwnedEvent::TransportClosed(
            ClientCloseReason::TransportClose
        )),
        "{down:#?}"
    );
    assert!(
        !down
            .iter()
            .any(|e| matches!(e, OwnedEvent::Reconnect { .. })),
        "Reconnect comes after a delay, not at once: {down:#?}"
    );
    println!("ok - force-disconnect-transport: Disconnected (transport close) on / and /custom");

    // Emitted while disconnected: buffered, delivered after reconnection.
    let down_at = Instant::now();
    r.emit("/", "message", r#""while down",1"#, &[]).unwrap();
    r.emit("/", "message", r#""while down",2"#, &[]).unwrap();

    let all = collect_until(
        &mut r,
        &b,
        "reconnection: Connect + auth on both, 2 message-back",
        |all| {
            ["/", "/custom"]
                .iter()
                .all(|n| all.iter().any(|e| is_connect(e, n)) && has_event(all, n, "auth"))
                && all
                    .iter()
                    .filter(|e| is_event(e, "/", "message-back"))
                    .count()
                    == 2
        },
    );
    let seq = sio_only(&all);
    assert!(
        matches!(seq.first(), Some(OwnedEvent::Reconnect { attempt: 1 })),
        "Reconnect {{ attempt: 1 }} first: {seq:#?}"
    );
    let reconnect_delay = down_at.elapsed();
    assert!(
        all.iter()
            .any(|e| matches!(e, OwnedEvent::TransportOpen { .. })),
        "a new transport opened: {all:#?}"
    );
    let second_eio = r.eio_sid().unwrap();
    assert_ne!(first_eio, second_eio, "a new Engine.IO session");
    for (nsp, old_sid) in ["/", "/custom"].iter().zip(&sids) {
        let connect = all.iter().position(|e| is_connect(e, nsp)).unwrap();
        let auth = all.iter().position(|e| is_event(e, nsp, "auth")).unwrap();
        assert!(connect < auth, "{nsp}: Connect before auth: {all:#?}");
        match &all[connect] {
            OwnedEvent::Connect { sid, recovered, .. } => {
                assert!(!recovered, "no recovery without connectionStateRecovery");
                assert_ne!(sid, old_sid, "{nsp}: a new socket");
            }
            _ => unreachable!(),
        }
        assert_eq!(event(&all, nsp, "auth").args, AUTH, "{nsp}: the auth again");
    }
    let backs: Vec<&str> = all
        .iter()
        .filter_map(|e| match e {
            OwnedEvent::Event(m) if m.name.as_deref() == Some("message-back") => {
                Some(m.args.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        backs,
        [r#""while down",1"#, r#""while down",2"#],
        "the buffered emits, in order"
    );
    // "/"'s buffered emits wait for "/" itself.
    let connect_root = all.iter().position(|e| is_connect(e, "/")).unwrap();
    let first_back = all
        .iter()
        .position(|e| is_event(e, "/", "message-back"))
        .unwrap();
    assert!(connect_root < first_back);
    println!(
        "ok - reconnected by itself (Reconnect {{ attempt: 1 }} after {reconnect_delay:?}), \
         / and /custom joined again with the auth, buffered emits delivered in order"
    );
    assert!(r.is_connected("/") && r.is_connected("/custom"));
    r.close(Duration::from_secs(2));
    let log = peer_log(peer);
    assert!(
        log.contains(&format!(
            "sio_server: disconnect / {}: forced close",
            sids[0]
        )),
        "the server closed the first transport itself"
    );
}

/// The `pid` of every CONNECT reply (`0{"sid":...,"pid":"..."}`) received.
fn pids(received: &[String]) -> Vec<String> {
    received
        .iter()
        .filter_map(|t| {
            let rest = t.strip_prefix('0')?;
            let at = rest.find(r#""pid":""#)? + 7;
            let rest = &rest[at..];
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

#[test]
fn sio_client_recovers_its_connection_state() {
    let b = Budget::new();
    let (peer, port) = start_peer("sio_server.mjs", &["--recovery"]);
    let mut r = sio_runner(port, &[("/", Some(AUTH))]);
    let (all, sids) = connect_all(&mut r, &b, &["/"]);
    assert!(
        all.iter().any(|e| matches!(
            e,
            OwnedEvent::Connect {
                recovered: false,
                ..
            }
        )),
        "{all:#?}"
    );
    let pid = pids(r.received())
        .pop()
        .unwrap_or_else(|| panic!("a pid in the CONNECT reply: {:?}", r.received()));
    println!("ok - connected with pid {pid}");
    // With recovery on, every event gets its offset as the last argument;
    // the client keeps the last one (the `auth` event's) for reconnection.
    // Recovery needs an offset: without one the reference client sends none
    // and the server does not restore (socket.io issues 4888, 5538).
    let auth = event(&all, "/", "auth").arg_list();
    assert_eq!(auth.len(), 2, "auth + its offset: {auth:?}");
    assert_eq!(auth[0], AUTH);
    assert!(auth[1].starts_with('"'), "the offset is a string: {auth:?}");

    // The server emits `later` 200 ms after this, while the client is
    // disconnected (reconnection waits at least 500 ms).
    r.emit("/", "emit-later", r#"200,"missed-1""#, &[]).unwrap();
    r.emit("/", "force-disconnect-transport", "", &[]).unwrap();
    let down = collect_until(&mut r, &b, "Disconnected", |all| {
        all.iter()
            .any(|e| matches!(e, OwnedEvent::Disconnected { .. }))
    });
    assert!(
        !has_event(&down, "/", "later"),
        "`later` must be emitted while disconnected: {down:#?}"
    );
    let all = collect_until(&mut r, &b, "recovery: later, Connect, auth", |all| {
        all.iter().any(|e| is_connect(e, "/")) && has_event(all, "/", "auth")
    });
    let seq = sio_only(&all);
    assert!(
        matches!(seq.first(), Some(OwnedEvent::Reconnect { attempt: 1 })),
        "Reconnect first: {seq:#?}"
    );
    // The reference merges the recovery fields into the handshake auth it
    // echoes: {"pid":...,"offset":...,"token":"123"}.
    let auth = event(&all, "/", "auth").arg_list();
    assert_eq!(auth.len(), 2, "auth + its offset: {auth:?}");
    assert!(
        auth[0].contains(r#""token":"123""#) && auth[0].contains(&format!(r#""pid":"{pid}""#)),
        "the recovered handshake auth: {auth:?}"
    );
    let later = all
        .iter()
        .position(|e| is_event(e, "/", "later"))
        .unwrap_or_else(|| panic!("the missed `later` event: {all:#?}\n{:?}", r.received()));
    let connect = all.iter().position(|e| is_connect(e, "/")).unwrap();
    assert!(
        later < connect,
        "the missed event arrives before the CONNECT reply: {all:#?}"
    );
    assert_eq!(first_arg(event(&all, "/", "later")), r#""missed-1""#);
    match &all[connect] {
        OwnedEvent::Connect { sid, recovered, .. } => {
            assert!(
                *recovered,
                "recovered: true after the server restored the session: {all:#?}\nwire: {:?}",
                r.received()
            );
            assert_eq!(sid, &sids[0], "the restored socket keeps its id");
        }
        _ => unreachable!(),
    }
    assert_eq!(
        pids(r.received()),
        [pid.clone(), pid.clone()],
        "the same pid in both CONNECT replies: {:?}",
        r.received()
    );
    println!(
        "ok - recovered: the missed `later` event, then Connect {{ recovered: true }} with the same sid"
    );

    // The recovered socket works, and the offset follows the events.
    r.emit("/", "message", r#""after recovery""#, &[]).unwrap();
    let all = collect_until(&mut r, &b, "message-back after recovery", |all| {
        has_event(all, "/", "message-back")
    });
    let back = event(&all, "/", "message-back").arg_list();
    assert_eq!(back.len(), 2, "the argument + its offset: {back:?}");
    assert_eq!(back[0], r#""after recovery""#);
    r.close(Duration::from_secs(2));
    let log = peer_log(peer);
    assert!(
        log.contains(&format!(
            "sio_server: connect / {} (websocket) recovered",
            sids[0]
        )),
        "the server restored the session"
    );
}

// ---------------------------------------------------------------------------
// Long-polling and the upgrade to WebSocket
// ---------------------------------------------------------------------------

/// `b` + the base64 of the bytes 0..=11: how the 256 byte values start on
/// polling.
const BINARY_ON_POLLING: &str = "bAAECAwQFBgcICQoL";

/// The body of a traced request or answer (after its start line).
fn traced_bodies<'a>(trace: &'a [String], prefix: &'a str) -> impl Iterator<Item = &'a str> {
    trace
        .iter()
        .filter(move |l| l.starts_with(prefix))
        .map(|l| l.split_once(" | ").map_or("", |(_, body)| body))
}

#[test]
fn eio_client_on_polling_only_echoes_survives_heartbeats_and_closes() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened_with(port, TransportKind::Polling, false, &b);
    let sid = c.t.eio.sid().to_owned();
    assert_eq!(c.t.eio.transport(), engineio::Transport::Polling);
    assert_eq!(c.t.eio.ping_interval().as_millis(), 300, "pingInterval");
    assert_eq!(c.t.eio.ping_timeout().as_millis(), 200, "pingTimeout");
    assert!(!c.t.eio.wants_upgrade(), "the upgrade is off");
    // The handshake GET went out before the trace was on: its answer is the
    // first line, then every request carries the sid.
    let open = traced_bodies(c.trace(), "<- 200 Get").next().unwrap_or("");
    assert!(
        open.starts_with(&format!(r#"0{{"sid":"{sid}","upgrades":["websocket"]"#)),
        "the open packet in the first GET's answer offers websocket: {:#?}",
        c.trace()
    );
    let sid_param = format!("/engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1");
    assert!(
        c.trace()
            .iter()
            .filter(|l| l.starts_with("-> "))
            .all(|l| l.contains(&sid_param)),
        "every later request carries the sid: {:#?}",
        c.trace()
    );
    println!("ok - open on polling: sid {sid}");

    c.echo_set(&b, " on polling");
    assert!(
        traced_bodies(c.trace(), "-> POST").any(|body| body.starts_with(BINARY_ON_POLLING)),
        "the binary message was POSTed as base64: {:#?}",
        c.trace()
    );
    assert!(
        traced_bodies(c.trace(), "<- 200 Get").any(|body| body.starts_with(BINARY_ON_POLLING)),
        "its echo came back in a GET as base64: {:#?}",
        c.trace()
    );
    println!("ok - binary travels as base64 both ways");

    let pings = c.survive_heartbeats(Duration::from_millis(2000), 3);
    assert_eq!(c.t.eio.transport(), engineio::Transport::Polling);
    let ping_gets = traced_bodies(c.trace(), "<- 200 Get")
        .filter(|body| body.split('\u{1e}').any(|p| p == "2"))
        .count();
    let pong_posts = traced_bodies(c.trace(), "-> POST")
        .filter(|body| body.split('\u{1e}').any(|p| p == "3"))
        .count();
    assert!(
        ping_gets >= 3 && pong_posts >= 3,
        "pings in GET bodies ({ping_gets}), pongs in POSTs ({pong_posts}): {:#?}",
        c.trace()
    );
    assert!(
        c.t.http_connects <= 3,
        "the two HTTP connections are kept alive ({} opened)",
        c.t.http_connects
    );
    println!(
        "ok - {pings} heartbeats on polling ({ping_gets} pings in GETs, {pong_posts} pongs in POSTs), \
         {} HTTP connection(s)",
        c.t.http_connects
    );
    c.echo(&b, M::T("still here".into()), "echo after the heartbeats");

    c.close_cleanly(&b, "after close() on polling");
    assert!(
        traced_bodies(c.trace(), "-> POST")
            .any(|body| body.split('\u{1e}').next_back() == Some("1")),
        "the close packet was POSTed: {:#?}",
        c.trace()
    );
    assert!(c.t.io_error.is_none(), "I/O error: {:?}", c.t.io_error);
    println!("ok - close(): the close packet POSTed, Closed(ForcedClose)");
    drop(c);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: open {sid} (polling)")),
        "the server saw the session open on polling"
    );
    assert!(
        !log.contains("eio_server: upgrade"),
        "no upgrade with the upgrade off"
    );
    assert!(
        log.contains(&format!("eio_server: close {sid}: transport close")),
        "the server saw the client close the session (no ping timeout)"
    );
}

#[test]
fn eio_server_close_on_polling_is_a_server_close() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::opened_with(port, TransportKind::Polling, false, &b);
    let sid = c.t.eio.sid().to_owned();
    c.t.eio.send_text("close-me").unwrap();
    c.t.write_out(c.clock.now());
    // Unlike on WebSocket, engine.io ends a polling session with the close
    // packet `1` in the held GET's answer.
    assert_eq!(
        c.next_event(&b, "the end of the session after close-me"),
        ClientSessionEvent::Closed(ClientCloseReason::ServerClose),
        "close-me on polling: the close packet ends the session"
    );
    assert!(
        traced_bodies(c.trace(), "<- 200 Get").any(|body| body.split('\u{1e}').any(|p| p == "1")),
        "the close packet came in a GET: {:#?}",
        c.trace()
    );
    c.until_finished(&b, "after close-me on polling");
    assert!(c.messages.is_empty(), "no echo: {:?}", c.messages);
    assert!(c.t.error.is_none(), "input error: {:?}", c.t.error);
    println!("ok - close-me on polling: Closed(ServerClose)");
    drop(c);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: close {sid}: forced close")),
        "the server closed the session itself"
    );
}

#[test]
fn eio_client_upgrades_from_polling_without_losing_a_message() {
    let b = Budget::new();
    let (peer, port) = start_peer("eio_server.mjs", &[]);
    let mut c = Eio::start(port, TransportKind::Polling, true);
    let mut sent = Vec::new();
    let mut send = |c: &mut Eio, text: String| {
        c.t.eio.send_text(&text).expect("send_text");
        c.t.write_out(c.clock.now());
        sent.push(M::T(text));
    };
    send(&mut c, "queued before open".into());
    assert_eq!(
        c.next_event(&b, "the open packet"),
        ClientSessionEvent::Open
    );
    let sid = c.t.eio.sid().to_owned();
    assert_eq!(c.t.eio.transport(), engineio::Transport::Polling);
    // The upgrade starts at once (its WebSocket handshake is on the way):
    // these go out on polling, or wait for the new transport.
    for i in 0..3 {
        send(&mut c, format!("before upgrade {i}"));
    }
    let mut during = 0;
    let until = Instant::now() + b.step("Upgraded");
    let upgraded = loop {
        if let Some(e) = c.events.pop_front() {
            break e;
        }
        assert!(
            Instant::now() < until,
            "no upgrade (I/O error {:?}, input error {:?})\ntrace: {:#?}",
            c.t.io_error,
            c.t.error,
            c.trace()
        );
        send(&mut c, format!("during upgrade {during}"));
        during += 1;
        c.pump();
    };
    assert_eq!(
        upgraded,
        ClientSessionEvent::Upgraded,
        "the upgrade succeeded"
    );
    assert_eq!(c.t.eio.transport(), engineio::Transport::WebSocket);
    assert_eq!(c.t.http_connections(), 0, "the HTTP connections are closed");
    assert!(during > 0, "messages were sent while upgrading");
    println!("ok - upgraded to WebSocket; {during} message(s) sent during the upgrade");
    for i in 0..3 {
        send(&mut c, format!("after upgrade {i}"));
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.push(c.next_message(&b, "the echoes of the messages around the upgrade"));
    }
    assert!(
        got == sent,
        "every message exactly once, in order:\nsent {:?}\ngot  {:?}",
        sent.iter().map(short).collect::<Vec<_>>(),
        got.iter().map(short).collect::<Vec<_>>()
    );
    println!(
        "ok - {} messages sent before, during and after the upgrade echoed once each, in order",
        sent.len()
    );

    // Over the WebSocket now; polling has stopped.
    let requests = c.trace().len();
    c.echo_set(&b, " after the upgrade");
    c.survive_heartbeats(Duration::from_millis(1000), 1);
    assert!(c.messages.is_empty(), "no duplicate: {:?}", c.messages);
    assert_eq!(
        c.trace().len(),
        requests,
        "no polling request after the upgrade"
    );
    c.close_cleanly(&b, "after close() on the upgraded WebSocket");
    drop(c);
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("eio_server: open {sid} (polling)")),
        "the session opened on polling"
    );
    assert!(
        log.contains(&format!("eio_server: upgrade {sid} -> websocket")),
        "the server saw the upgrade"
    );
    assert!(
        log.contains(&format!("eio_server: close {sid}: transport close")),
        "the server saw the client close the session"
    );
}

#[test]
fn sio_client_over_polling_upgrades_and_exchanges() {
    let b = Budget::new();
    let (peer, port) = start_peer("sio_server.mjs", &[]);
    let mut r = Runner::connect_with(
        &format!("127.0.0.1:{port}"),
        "/socket.io/",
        &[("/", Some(AUTH))],
        TransportKind::Polling,
        true,
    )
    .unwrap_or_else(|e| panic!("Runner::connect_with: {e}"));
    let (mut seen, sids) = connect_all(&mut r, &b, &["/"]);
    assert!(
        matches!(seen.first(), Some(OwnedEvent::TransportOpen { .. })),
        "the transport opened first: {seen:#?}"
    );
    assert_eq!(event(&seen, "/", "auth").args, AUTH, "the handshake auth");
    println!("ok - joined / over polling with auth {AUTH}");

    // Emits around the upgrade come back once each, in order.
    for i in 0..5 {
        r.emit("/", "message", &format!(r#""around the upgrade",{i}"#), &[])
            .unwrap();
    }
    let all = collect_until(&mut r, &b, "5 message-back", |all| {
        all.iter()
            .filter(|e| is_event(e, "/", "message-back"))
            .count()
            == 5
    });
    let backs: Vec<&str> = all
        .iter()
        .filter_map(|e| match e {
            OwnedEvent::Event(m) if m.name.as_deref() == Some("message-back") => {
                Some(m.args.as_str())
            }
            _ => None,
        })
        .collect();
    let want: Vec<String> = (0..5)
        .map(|i| format!(r#""around the upgrade",{i}"#))
        .collect();
    assert_eq!(backs, want, "every message-back once, in order");
    seen.extend(all);

    if !seen.contains(&OwnedEvent::Upgraded) {
        seen.extend(collect_until(&mut r, &b, "Upgraded", |all| {
            all.contains(&OwnedEvent::Upgraded)
        }));
    }
    assert!(
        !seen.contains(&OwnedEvent::UpgradeFailed),
        "no failed upgrade: {seen:#?}"
    );
    assert_eq!(
        r.transport_name(),
        Some(engineio::Transport::WebSocket),
        "on WebSocket after the upgrade"
    );
    println!("ok - upgraded to WebSocket; 5 message-back in order");

    let args = r#"1,"two",{"three":3}"#;
    message_back(&mut r, &b, "message-back", args, &[]);
    acked(&mut r, &b, "the ack", args, &[]);
    println!("ok - message -> message-back, message-with-ack -> ack");
    let bytes = peers::pseudo_random(1000, 13);
    let placeholder = r#"{"_placeholder":true,"num":0}"#;
    message_back(&mut r, &b, "binary message-back", placeholder, &[&bytes]);
    acked(&mut r, &b, "the binary ack", placeholder, &[&bytes]);
    println!("ok - binary message-back and binary ack");
    assert!(r.is_connected("/"));
    r.close(Duration::from_secs(2));
    assert!(!r.has_transport(), "the transport closed");
    let log = peer_log(peer);
    assert!(
        log.contains(&format!("sio_server: connect / {} (polling)", sids[0])),
        "the server saw / connect on polling"
    );
    assert!(
        log.contains(&format!(
            "sio_server: disconnect / {}: client namespace disconnect",
            sids[0]
        )),
        "the server saw / leave"
    );
}
