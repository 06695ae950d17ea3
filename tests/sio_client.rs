//! The Socket.IO client on the Engine.IO client, against the Socket.IO server
//! connection on an Engine.IO server session, all in memory on one virtual
//! clock: joining namespaces, events and acks both ways, the send buffer while
//! disconnected, reconnection with back-off, refusals, and connection state
//! recovery (against a scripted server).

#[path = "common/eio_pair.rs"]
mod eio_pair;

use eio_pair::{EioClient, M, client_to_server, server_to_client};
use sockwire::engineio::{
    self, ClientCloseReason, ClientConfig, ClientSessionEvent as EioEvent, Session, Transport,
};
use sockwire::entropy::SplitMix64;
use sockwire::socketio::{
    self, Assembler, ClientCore, ClientEvent, ClientNotice, Connection, ConnectionEvent as Event,
    DisconnectReason, Error, backoff,
};
use sockwire::time::{Duration, Instant};
use sockwire::ws;

/// What the client application saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum C {
    Connect(String, bool),
    ConnectError(String, String),
    Event(String, Option<u64>, String, usize),
    Ack(String, Option<u64>, String),
    Disconnect(String),
    Notice(ClientNotice),
    Error(Error),
}

/// What the server application saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum S {
    Connect(String, Option<String>),
    Event(String, String, usize),
    Closed,
}

struct Stack {
    now: Instant,
    rng: SplitMix64,
    sio: ClientCore<Vec<u8>, 4, 8>,
    eio: Option<EioClient>,
    c_ws: ws::Assembler<Vec<u8>>,
    c_asm: Assembler<Vec<u8>>,
    srv_eio: Option<Session<Vec<u8>>>,
    srv: Option<Connection<4, 8>>,
    s_ws: ws::Assembler<Vec<u8>>,
    s_asm: Assembler<Vec<u8>>,
    link_up: bool,
    /// Namespaces the server refuses.
    refuse: Vec<&'static str>,
    /// Scripted server: its messages are recorded in `raw`, not handled.
    scripted: bool,
    raw: Vec<M>,
    seen: Vec<C>,
    server_seen: Vec<S>,
}

impl Stack {
    fn new(buffer: usize) -> Self {
        Stack {
            now: Instant::from_millis(0),
            rng: SplitMix64::new(77),
            sio: ClientCore::new(socketio::ClientConfig::default(), vec![0u8; buffer]),
            eio: None,
            c_ws: ws::Assembler::new(vec![0u8; 1 << 16]),
            c_asm: Assembler::new(vec![0u8; 1 << 16]),
            srv_eio: None,
            srv: None,
            s_ws: ws::Assembler::new(vec![0u8; 1 << 16]),
            s_asm: Assembler::new(vec![0u8; 1 << 16]),
            link_up: true,
            refuse: vec![],
            scripted: false,
            raw: vec![],
            seen: vec![],
            server_seen: vec![],
        }
    }

    /// A new TCP connection: a fresh Engine.IO client and server session.
    fn open_transport(&mut self) {
        let cfg = engineio::Config {
            path: "/socket.io/",
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..engineio::Config::default()
        };
        self.srv_eio = Some(
            Session::open(
                self.now,
                Transport::WebSocket,
                cfg,
                vec![0u8; 1 << 16],
                &mut self.rng,
            )
            .unwrap(),
        );
        self.srv = Some(Connection::new(
            self.now,
            socketio::Config {
                namespaces: None,
                ..socketio::Config::default()
            },
        ));
        self.eio = Some(engineio::ClientSession::new(
            self.now,
            ClientConfig {
                path: "/socket.io/",
                ..ClientConfig::default()
            },
            vec![0u8; 1 << 16],
            SplitMix64::new(5),
        ));
        self.link_up = true;
    }

    fn drive(&mut self) {
        for _ in 0..1000 {
            let (Some(eio), Some(srv_eio)) = (self.eio.as_mut(), self.srv_eio.as_mut()) else {
                return;
            };
            self.sio.flush(eio).unwrap();
            let (to_server, a) = client_to_server(eio, srv_eio, &mut self.s_ws, self.now, 4096);
            for m in &to_server {
                self.on_server_message(m);
            }
            let srv_eio = self.srv_eio.as_mut().unwrap();
            let eio = self.eio.as_mut().unwrap();
            let (to_client, _errors, b) =
                server_to_client(srv_eio, eio, &mut self.c_ws, self.now, 4096, self.link_up);
            for m in &to_client {
                let eio = self.eio.as_mut().unwrap();
                match self.sio.handle_message(
                    self.now,
                    eio,
                    m.data(),
                    &mut self.c_asm,
                    &mut self.rng,
                ) {
                    Ok(Some(e)) => self.seen.push(own(e)),
                    Ok(None) => {}
                    Err(e) => self.seen.push(C::Error(e)),
                }
            }
            let mut events = false;
            while let Some(e) = self.eio.as_mut().and_then(|c| c.poll_event()) {
                events = true;
                match e {
                    EioEvent::Open => self.sio.handle_open(self.eio.as_mut().unwrap()).unwrap(),
                    EioEvent::Closed(reason) => {
                        self.sio
                            .handle_transport_closed(self.now, reason, &mut self.rng)
                    }
                    _ => {}
                }
            }
            self.notices();
            if self.eio.as_ref().is_some_and(|c| c.is_finished()) {
                self.eio = None;
            }
            if self.srv_eio.as_ref().is_some_and(|s| s.is_finished()) {
                self.srv_eio = None;
                self.srv = None;
                self.server_seen.push(S::Closed);
            }
            if !a && !b && !events {
                return;
            }
        }
        panic!("the stack never went idle");
    }

    fn on_server_message(&mut self, m: &M) {
        if self.scripted {
            self.raw.push(m.clone());
            return;
        }
        let (srv, eio) = (self.srv.as_mut().unwrap(), self.srv_eio.as_mut().unwrap());
        let r = srv.handle_message(self.now, eio, m.data(), &mut self.s_asm);
        match r {
            Ok(Some(Event::Connect { nsp, auth })) => {
                self.server_seen
                    .push(S::Connect(nsp.into(), auth.map(Into::into)));
                let nsp = nsp.to_owned();
                if self.refuse.contains(&nsp.as_str()) {
                    srv.refuse_with_message(eio, &nsp, "Not authorized")
                        .unwrap();
                } else {
                    srv.accept(eio, &nsp, &mut self.rng).unwrap();
                }
            }
            Ok(Some(Event::Event(msg))) => {
                let name = msg.name().unwrap_or("").to_owned();
                let args = msg.args_raw().to_owned();
                let nsp = msg.nsp.to_owned();
                self.server_seen.push(S::Event(
                    nsp.clone(),
                    msg.data.into(),
                    msg.attachments.len(),
                ));
                let atts: Vec<Vec<u8>> = msg.attachments.into_iter().map(<[u8]>::to_vec).collect();
                let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
                match (name.as_str(), msg.ack_id) {
                    (_, Some(id)) => srv.ack(eio, &nsp, id, &args, &refs).unwrap(),
                    ("echo", None) => srv.emit(eio, &nsp, "echo-back", &args, &refs).unwrap(),
                    _ => {}
                }
            }
            Ok(_) => {}
            Err(e) => panic!("server: {e:?}"),
        }
    }

    fn notices(&mut self) {
        while let Some(n) = self.sio.poll_event() {
            self.seen.push(C::Notice(n));
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(ms);
        self.sio.handle_timeout(self.now);
        if let Some(t) = self.sio.poll_timeout() {
            assert!(t > self.now, "a deadline in the past");
        }
        if let Some(c) = self.eio.as_mut() {
            c.handle_timeout(self.now);
        }
        if let (Some(s), Some(srv)) = (self.srv_eio.as_mut(), self.srv.as_mut()) {
            srv.handle_timeout(self.now, s);
            s.handle_timeout(self.now);
        }
        self.drive();
    }

    fn take(&mut self) -> Vec<C> {
        self.notices();
        std::mem::take(&mut self.seen)
    }

    /// Answers a Reconnect notice: a new transport, driven until idle.
    fn reconnect(&mut self) {
        self.open_transport();
        self.drive();
    }

    fn connect(&mut self, nsp: &str, auth: Option<&str>) {
        self.sio.connect(self.eio.as_mut(), nsp, auth).unwrap();
    }
}

fn own(e: ClientEvent<'_>) -> C {
    match e {
        ClientEvent::Connect { nsp, recovered, .. } => C::Connect(nsp.into(), recovered),
        ClientEvent::ConnectError { nsp, data } => C::ConnectError(nsp.into(), data.into()),
        ClientEvent::Event(m) => {
            C::Event(m.nsp.into(), m.ack_id, m.data.into(), m.attachments.len())
        }
        ClientEvent::Ack(m) => C::Ack(m.nsp.into(), m.ack_id, m.data.into()),
        ClientEvent::Disconnect { nsp } => C::Disconnect(nsp.into()),
        _ => unreachable!(),
    }
}

fn connected() -> Stack {
    let mut st = Stack::new(1 << 16);
    st.connect("/", Some(r#"{"token":"123"}"#));
    st.open_transport();
    st.drive();
    assert_eq!(st.take(), [C::Connect("/".into(), false)]);
    assert_eq!(
        st.server_seen,
        [S::Connect("/".into(), Some(r#"{"token":"123"}"#.into()))]
    );
    st.server_seen.clear();
    st
}

#[test]
fn joins_namespaces_with_auth_and_exchanges_events_and_acks() {
    let mut st = connected();
    st.connect("/chat", None);
    st.drive();
    assert_eq!(st.take(), [C::Connect("/chat".into(), false)]);
    assert!(st.sio.is_connected("/chat"));
    st.sio
        .emit("/", "echo", r#"1,"two",{"three":3}"#, &[])
        .unwrap();
    st.sio
        .emit(
            "/chat",
            "echo",
            r#"{"_placeholder":true,"num":0}"#,
            &[&[1, 2, 3]],
        )
        .unwrap();
    let id = st
        .sio
        .emit_with_ack(st.now, "/", "question", r#""why""#, &[], None)
        .unwrap();
    st.drive();
    assert_eq!(
        st.take(),
        [
            C::Event(
                "/".into(),
                None,
                r#"["echo-back",1,"two",{"three":3}]"#.into(),
                0
            ),
            C::Event(
                "/chat".into(),
                None,
                r#"["echo-back",{"_placeholder":true,"num":0}]"#.into(),
                1
            ),
            C::Ack("/".into(), Some(id), r#"["why"]"#.into()),
        ]
    );
    // The client answers a server's ack request.
    let (srv, eio) = (st.srv.as_mut().unwrap(), st.srv_eio.as_mut().unwrap());
    let sid = srv
        .emit_with_ack(st.now, eio, "/", "ping", "", &[], None)
        .unwrap();
    st.drive();
    assert_eq!(
        st.take(),
        [C::Event("/".into(), Some(sid), r#"["ping"]"#.into(), 0)]
    );
    st.sio.ack("/", sid, r#""pong""#, &[]).unwrap();
    st.scripted = true;
    st.drive();
    assert_eq!(st.raw, [M::T(format!(r#"3{sid}["pong"]"#))]);
}

#[test]
fn emits_before_the_transport_opens_are_buffered() {
    let mut st = Stack::new(4096);
    st.connect("/", None);
    st.sio.emit("/", "echo", "1", &[]).unwrap();
    st.sio.emit("/", "echo", "2", &[]).unwrap();
    st.open_transport();
    st.drive();
    assert_eq!(
        st.take(),
        [
            C::Connect("/".into(), false),
            C::Event("/".into(), None, r#"["echo-back",1]"#.into(), 0),
            C::Event("/".into(), None, r#"["echo-back",2]"#.into(), 0),
        ]
    );
}

#[test]
fn a_dead_link_reconnects_with_backoff_and_flushes_what_was_buffered() {
    let mut st = connected();
    // The server goes silent: the client's heartbeat check fires at 500 ms.
    st.link_up = false;
    st.advance(500);
    assert_eq!(
        st.take(),
        [C::Notice(ClientNotice::Disconnected {
            nsp: "/".try_into().unwrap(),
            reason: DisconnectReason::TransportClosed(ClientCloseReason::PingTimeout),
        })]
    );
    assert!(!st.sio.is_connected("/"));
    st.eio = None;
    st.srv_eio = None;
    st.srv = None;
    // Emits while disconnected wait in the send buffer.
    st.sio.emit("/", "echo", r#""while down""#, &[]).unwrap();
    let retry = st.sio.poll_timeout().expect("a reconnection is scheduled");
    let delay = retry.as_millis() - 500;
    assert!(
        (500..=1500).contains(&delay),
        "first delay {delay} ms is 1 s +- 50 %"
    );
    st.advance(retry.as_millis() - 1);
    assert_eq!(st.take(), []);
    st.advance(retry.as_millis());
    assert_eq!(
        st.take(),
        [C::Notice(ClientNotice::Reconnect { attempt: 1 })]
    );
    st.reconnect();
    assert_eq!(
        st.take(),
        [
            C::Connect("/".into(), false),
            C::Event("/".into(), None, r#"["echo-back","while down"]"#.into(), 0),
        ]
    );
    // The auth went again with the new CONNECT.
    assert!(
        st.server_seen
            .contains(&S::Connect("/".into(), Some(r#"{"token":"123"}"#.into()))),
        "{:?}",
        st.server_seen
    );
}

#[test]
fn failed_attempts_back_off_exponentially_up_to_the_cap_and_can_give_up() {
    let mut st = Stack::new(1024);
    let cfg = socketio::ClientConfig {
        reconnection_attempts: 4,
        ..socketio::ClientConfig::default()
    };
    st.sio = ClientCore::new(cfg, vec![0u8; 1024]);
    st.connect("/", None);
    let mut t = 0;
    st.sio
        .handle_transport_closed(st.now, ClientCloseReason::TransportClose, &mut st.rng);
    let mut delays = vec![];
    for attempt in 1..=4 {
        let at = st.sio.poll_timeout().unwrap().as_millis();
        delays.push(at - t);
        st.advance(at);
        assert_eq!(st.take(), [C::Notice(ClientNotice::Reconnect { attempt })]);
        t = at;
        // The attempt fails before the transport opens.
        st.sio
            .handle_transport_closed(st.now, ClientCloseReason::OpenTimeout, &mut st.rng);
    }
    assert_eq!(st.take(), [C::Notice(ClientNotice::ReconnectFailed)]);
    assert!(st.sio.is_stopped());
    assert_eq!(st.sio.poll_timeout(), None);
    // 1 s, 2 s, 4 s, 5 s (capped), each within the jitter.
    for (d, base) in delays.iter().zip([1000u64, 2000, 4000, 8000]) {
        let lo = base / 2;
        let hi = (base + base / 2).min(5000);
        assert!((lo..=hi).contains(d) && *d <= 5000, "{delays:?}");
    }
    // The formula at the edges of the random range.
    let ms = Duration::from_millis;
    assert_eq!(backoff(0, ms(1000), ms(5000), 500, 0), ms(1000));
    assert_eq!(backoff(0, ms(1000), ms(5000), 500, u32::MAX), ms(1499));
    assert_eq!(backoff(1, ms(1000), ms(5000), 500, 0x0fff_ffff), ms(1938));
    assert_eq!(backoff(30, ms(1000), ms(5000), 500, 1234), ms(5000));
    assert_eq!(backoff(0, ms(1000), ms(5000), 0, u32::MAX), ms(1000));
}

#[test]
fn a_refused_namespace_is_dropped_and_not_retried() {
    let mut st = Stack::new(4096);
    st.refuse = vec!["/admin"];
    st.connect("/", None);
    st.connect("/admin", Some(r#"{"token":"bad"}"#));
    st.open_transport();
    st.drive();
    assert_eq!(
        st.take(),
        [
            C::Connect("/".into(), false),
            C::ConnectError("/admin".into(), r#"{"message":"Not authorized"}"#.into())
        ]
    );
    assert_eq!(
        st.sio.emit("/admin", "x", "", &[]),
        Err(Error::NotConnected)
    );
    // On reconnection only "/" is joined again.
    st.link_up = false;
    st.advance(500);
    st.take();
    st.server_seen.clear();
    let at = st.sio.poll_timeout().unwrap().as_millis();
    st.advance(at);
    st.reconnect();
    assert_eq!(st.server_seen, [S::Connect("/".into(), None)]);
}

#[test]
fn a_server_disconnect_ends_the_namespace() {
    let mut st = connected();
    let (srv, eio) = (st.srv.as_mut().unwrap(), st.srv_eio.as_mut().unwrap());
    srv.disconnect(eio, "/").unwrap();
    st.drive();
    assert_eq!(st.take(), [C::Disconnect("/".into())]);
    assert!(!st.sio.is_connected("/"));
    assert_eq!(st.sio.emit("/", "x", "", &[]), Err(Error::NotConnected));
}

#[test]
fn a_client_disconnect_sends_disconnect() {
    let mut st = connected();
    st.scripted = true;
    st.sio.disconnect("/").unwrap();
    st.drive();
    assert_eq!(st.raw, [M::T("1".into())]);
    assert_eq!(
        st.take(),
        [C::Notice(ClientNotice::Disconnected {
            nsp: "/".try_into().unwrap(),
            reason: DisconnectReason::ClientDisconnect
        })]
    );
}

#[test]
fn volatile_emits_are_dropped_while_disconnected() {
    let mut st = connected();
    let eio = st.eio.as_mut().unwrap();
    assert_eq!(st.sio.emit_volatile(eio, "/", "echo", "1"), Ok(true));
    st.drive();
    assert_eq!(st.take().len(), 1);
    st.sio
        .handle_transport_closed(st.now, ClientCloseReason::TransportClose, &mut st.rng);
    st.take();
    let eio = st.eio.as_mut().unwrap();
    assert_eq!(st.sio.emit_volatile(eio, "/", "echo", "2"), Ok(false));
}

#[test]
fn a_full_send_buffer_refuses_without_loss() {
    let mut st = Stack::new(64);
    st.connect("/", None);
    let mut accepted = 0;
    loop {
        match st.sio.emit("/", "echo", &accepted.to_string(), &[]) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert_eq!(e, Error::SendBufferFull);
                break;
            }
        }
    }
    assert_eq!(
        st.sio.emit("/", "big", r#""x""#, &[&[0; 100]]),
        Err(Error::SendBufferFull)
    );
    st.open_transport();
    st.drive();
    let echoes = st
        .take()
        .iter()
        .filter(|c| matches!(c, C::Event(..)))
        .count();
    assert_eq!(echoes, accepted);
}

#[test]
fn ack_timeouts_run_while_disconnected() {
    let mut st = connected();
    st.link_up = false;
    let id = st
        .sio
        .emit_with_ack(st.now, "/", "q", "", &[], Some(Duration::from_millis(400)))
        .unwrap();
    st.advance(400);
    assert!(st.take().contains(&C::Notice(ClientNotice::AckTimeout(id))));
}

#[test]
fn connection_state_recovery_sends_pid_and_offset_and_reports_recovery() {
    let mut st = Stack::new(4096);
    st.scripted = true;
    st.connect("/", Some(r#"{"token":"123"}"#));
    st.open_transport();
    st.drive();
    assert_eq!(st.raw, [M::T(r#"0{"token":"123"}"#.into())]);
    st.raw.clear();
    // A server with recovery on: a pid in the CONNECT reply, an offset after
    // every event.
    let srv_eio = st.srv_eio.as_mut().unwrap();
    srv_eio.send_text(r#"0{"sid":"s1","pid":"p1"}"#).unwrap();
    srv_eio.send_text(r#"2["news",1,"off-1"]"#).unwrap();
    srv_eio.send_text(r#"2["news",2,"off-2"]"#).unwrap();
    st.drive();
    assert_eq!(
        st.take(),
        [
            C::Connect("/".into(), false),
            C::Event("/".into(), None, r#"["news",1,"off-1"]"#.into(), 0),
            C::Event("/".into(), None, r#"["news",2,"off-2"]"#.into(), 0),
        ]
    );
    // The link drops; the reconnection's CONNECT carries pid and offset,
    // merged with the auth.
    st.link_up = false;
    st.advance(500);
    st.take();
    let at = st.sio.poll_timeout().unwrap().as_millis();
    st.advance(at);
    st.take();
    st.reconnect();
    assert_eq!(
        st.raw,
        [M::T(
            r#"0{"pid":"p1","offset":"off-2","token":"123"}"#.into()
        )]
    );
    // The missed event arrives before the reply; the same pid means recovered.
    let srv_eio = st.srv_eio.as_mut().unwrap();
    srv_eio.send_text(r#"2["news",3,"off-3"]"#).unwrap();
    srv_eio.send_text(r#"0{"sid":"s1","pid":"p1"}"#).unwrap();
    st.drive();
    assert_eq!(
        st.take(),
        [
            C::Event("/".into(), None, r#"["news",3,"off-3"]"#.into(), 0),
            C::Connect("/".into(), true),
        ]
    );
}

#[test]
fn a_protocol_error_from_the_server_closes_the_transport_and_reconnects() {
    let mut st = connected();
    let srv_eio = st.srv_eio.as_mut().unwrap();
    srv_eio.send_text("2{}").unwrap();
    st.drive();
    let seen = st.take();
    assert_eq!(seen[0], C::Error(Error::InvalidPayload));
    assert_eq!(
        seen[1],
        C::Notice(ClientNotice::Disconnected {
            nsp: "/".try_into().unwrap(),
            reason: DisconnectReason::ParseError(Error::InvalidPayload)
        })
    );
    assert!(
        st.sio.poll_timeout().is_some(),
        "a reconnection is scheduled"
    );
}

#[test]
fn a_dropped_namespace_does_not_block_the_send_buffer() {
    // Emits buffered for a namespace that is then refused must not hold up
    // the others (they can never be sent).
    let mut st = Stack::new(4096);
    st.refuse = vec!["/admin"];
    st.connect("/admin", None);
    st.connect("/", None);
    st.sio.emit("/admin", "echo", "1", &[&[1]]).unwrap();
    st.sio.emit("/", "echo", "2", &[]).unwrap();
    st.open_transport();
    st.drive();
    let seen = st.take();
    assert!(seen.contains(&C::ConnectError(
        "/admin".into(),
        r#"{"message":"Not authorized"}"#.into()
    )));
    assert!(
        seen.contains(&C::Event("/".into(), None, r#"["echo-back",2]"#.into(), 0)),
        "{seen:?}"
    );
}

#[test]
fn a_namespace_joined_without_the_transport_at_hand_still_connects() {
    let mut st = connected();
    st.sio
        .connect::<Vec<u8>, SplitMix64>(None, "/late", None)
        .unwrap();
    st.drive();
    assert_eq!(st.take(), [C::Connect("/late".into(), false)]);
}

#[test]
fn refusals_the_decoders_would_make_are_made_at_the_source() {
    let mut st = Stack::new(4096);
    // Auth with whitespace around it is trimmed (the CONNECT must not carry
    // whitespace before its data), so the namespace can be joined.
    st.connect("/", Some(" {\"token\":\"x\"} "));
    st.open_transport();
    st.drive();
    assert_eq!(st.take(), [C::Connect("/".into(), false)]);
    assert_eq!(
        st.server_seen,
        [S::Connect("/".into(), Some(r#"{"token":"x"}"#.into()))]
    );
    assert_eq!(
        st.sio.emit("/", "disconnect", "", &[]),
        Err(Error::ReservedEventName)
    );
    let eleven: Vec<&[u8]> = vec![&[1u8][..]; 11];
    assert_eq!(
        st.sio.ack("/", 1, "", &eleven),
        Err(Error::TooManyAttachments)
    );
}

#[test]
fn a_namespace_past_the_configured_limit_is_refused_at_connect() {
    let cfg = socketio::ClientConfig {
        limits: socketio::Limits {
            max_namespace_len: 8,
            ..socketio::Limits::DEFAULT
        },
        ..socketio::ClientConfig::default()
    };
    let mut c: ClientCore<Vec<u8>, 2, 2> = ClientCore::new(cfg, vec![0u8; 256]);
    assert_eq!(
        c.connect::<Vec<u8>, SplitMix64>(None, "/12345678", None),
        Err(Error::NamespaceTooLong)
    );
    assert_eq!(
        c.connect::<Vec<u8>, SplitMix64>(None, "/1234567", None),
        Ok(())
    );
}
