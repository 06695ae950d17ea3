//! Socket.IO v5 server connections driven on a virtual clock over an Engine.IO
//! session: the reference server's protocol test suite (connect, disconnect,
//! events, binary attachments, acks, invalid formats) at the Sans-IO level,
//! plus the bounded tables, all-or-nothing queueing and timeouts.

use sockwire::engineio::{self, Data, Payload, Session, Transport};
use sockwire::entropy::SplitMix64;
use sockwire::socketio::{
    self, Assembler, Config, Connection, ConnectionEvent as Event, Error, Notice,
};
use sockwire::time::{Duration, Instant};

/// An Engine.IO message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum M {
    T(String),
    B(Vec<u8>),
}

fn t(s: &str) -> M {
    M::T(s.into())
}

/// A Socket.IO event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Connect(String, Option<String>),
    Event(String, Option<u64>, String, Vec<Vec<u8>>),
    Ack(String, Option<u64>, String, Vec<Vec<u8>>),
    Disconnect(String),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Connect { nsp, auth } => Ev::Connect(nsp.into(), auth.map(Into::into)),
        Event::Event(m) => Ev::Event(
            m.nsp.into(),
            m.ack_id,
            m.data.into(),
            m.attachments.into_iter().map(<[u8]>::to_vec).collect(),
        ),
        Event::Ack(m) => Ev::Ack(
            m.nsp.into(),
            m.ack_id,
            m.data.into(),
            m.attachments.into_iter().map(<[u8]>::to_vec).collect(),
        ),
        Event::Disconnect { nsp, .. } => Ev::Disconnect(nsp.into()),
        _ => unreachable!(),
    }
}

struct H {
    eio: Session<Vec<u8>>,
    sio: Connection<2, 3>,
    asm: Assembler<Vec<u8>>,
    now: Instant,
    rng: SplitMix64,
}

impl H {
    fn new() -> Self {
        Self::with(
            Config {
                namespaces: Some(&["/", "/custom"]),
                connect_timeout: Duration::from_millis(1000),
                ..Config::default()
            },
            1 << 16,
            1 << 16,
        )
    }

    fn with(config: Config, queue: usize, asm: usize) -> Self {
        let now = Instant::from_millis(0);
        let mut eio = Session::open(
            now,
            Transport::Polling,
            engineio::Config {
                path: "/socket.io/",
                ..engineio::Config::default()
            },
            vec![0u8; queue],
            &mut SplitMix64::new(1),
        )
        .unwrap();
        let mut out = vec![0u8; 1024];
        assert!(eio.poll_http(&mut out).unwrap() > 0, "the open packet");
        H {
            eio,
            sio: Connection::new(now, config),
            asm: Assembler::new(vec![0u8; asm]),
            now,
            rng: SplitMix64::new(2),
        }
    }

    /// Feeds one message; the event it gives or the error.
    fn feed(&mut self, m: &M) -> Result<Option<Ev>, Error> {
        let data = match m {
            M::T(s) => Data::Text(s),
            M::B(b) => Data::Binary(b),
        };
        self.sio
            .handle_message(self.now, &mut self.eio, data, &mut self.asm)
            .map(|e| e.map(own))
    }

    /// Feeds a POST body through the Engine.IO session (as a real client
    /// would), every message it carries to the Socket.IO connection.
    fn post(&mut self, body: &str) -> Vec<Result<Option<Ev>, Error>> {
        let mut body = body.as_bytes().to_vec();
        let mut payload = self.eio.handle_post(self.now, &mut body).unwrap();
        let mut got = Vec::new();
        while let Some(d) = self.eio.read_message(self.now, &mut payload).unwrap() {
            let r = self
                .sio
                .handle_message(self.now, &mut self.eio, d, &mut self.asm)
                .map(|e| e.map(own));
            got.push(r);
        }
        got
    }

    /// What the server queued, as the client's next GET receives it.
    fn out(&mut self) -> Vec<M> {
        if self.eio.is_finished() || self.eio.has_held_poll() {
            return vec![];
        }
        if self.eio.handle_poll(self.now).is_err() {
            return vec![];
        }
        let mut buf = vec![0u8; 1 << 20];
        let n = self.eio.poll_http(&mut buf).unwrap();
        if n == 0 {
            return vec![];
        }
        let body_at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        Payload::new(&mut buf[body_at..n])
            .map(|p| match p.unwrap() {
                engineio::Packet::Message(Data::Text(s)) => M::T(s.into()),
                engineio::Packet::Message(Data::Binary(b)) => M::B(b.to_vec()),
                engineio::Packet::Close => M::T("<close>".into()),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn accept(&mut self, nsp: &str) -> String {
        let sid = self.sio.accept(&mut self.eio, nsp, &mut self.rng).unwrap();
        sid.as_str().to_owned()
    }

    /// Connects to `nsp` and drains the reply.
    fn join(&mut self, nsp: &str) {
        let connect = if nsp == "/" {
            "0".to_owned()
        } else {
            format!("0{nsp},")
        };
        assert_eq!(
            self.feed(&t(&connect)),
            Ok(Some(Ev::Connect(nsp.into(), None)))
        );
        self.accept(nsp);
        let _ = self.out();
    }

    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(ms);
        self.sio.handle_timeout(self.now, &mut self.eio);
        self.eio.handle_timeout(self.now);
        if let Some(t) = self.sio.poll_timeout() {
            assert!(t > self.now, "socket.io deadline in the past");
        }
    }

    fn notices(&mut self) -> Vec<Notice> {
        std::iter::from_fn(|| self.sio.poll_event()).collect()
    }
}

// ------------------------------------------------------------------ connect

#[test]
fn connect_to_the_main_namespace_with_and_without_auth() {
    let mut h = H::new();
    assert_eq!(h.feed(&t("0")), Ok(Some(Ev::Connect("/".into(), None))));
    let sid = h.accept("/");
    assert_eq!(sid.len(), 20);
    assert_ne!(
        sid,
        h.eio.sid().as_str(),
        "the socket id is not the Engine.IO sid"
    );
    assert_eq!(h.out(), [t(&format!(r#"0{{"sid":"{sid}"}}"#))]);
    assert_eq!(
        h.sio.socket_id("/").map(|s| s.as_str().to_owned()),
        Some(sid)
    );

    let mut h = H::new();
    assert_eq!(
        h.feed(&t(r#"0{"token":"123"}"#)),
        Ok(Some(Ev::Connect(
            "/".into(),
            Some(r#"{"token":"123"}"#.into())
        )))
    );
}

#[test]
fn connect_to_a_custom_namespace_with_or_without_the_comma() {
    for (wire, auth) in [
        ("0/custom,", None),
        ("0/custom", None),
        (r#"0/custom,{"token":"abc"}"#, Some(r#"{"token":"abc"}"#)),
    ] {
        let mut h = H::new();
        assert_eq!(
            h.feed(&t(wire)),
            Ok(Some(Ev::Connect("/custom".into(), auth.map(Into::into)))),
            "{wire}"
        );
        let sid = h.accept("/custom");
        assert_eq!(h.out(), [t(&format!(r#"0/custom,{{"sid":"{sid}"}}"#))]);
    }
}

#[test]
fn an_unknown_namespace_is_refused_automatically() {
    let mut h = H::new();
    assert_eq!(h.feed(&t("0/random")), Ok(None));
    assert_eq!(h.out(), [t(r#"4/random,{"message":"Invalid namespace"}"#)]);
    assert!(!h.eio.is_closed(), "the connection goes on");
    // With dynamic namespaces, the application decides.
    let mut h = H::with(
        Config {
            namespaces: None,
            ..Config::default()
        },
        4096,
        4096,
    );
    assert_eq!(
        h.feed(&t("0/random")),
        Ok(Some(Ev::Connect("/random".into(), None)))
    );
}

#[test]
fn middleware_can_refuse_with_data() {
    let mut h = H::new();
    assert!(h.feed(&t(r#"0{"token":"bad"}"#)).unwrap().is_some());
    h.sio
        .refuse(
            &mut h.eio,
            "/",
            r#"{"message":"Not authorized","data":{"code":42}}"#,
        )
        .unwrap();
    h.sio
        .refuse_with_message(&mut h.eio, "/custom", "quote \" here")
        .unwrap();
    assert_eq!(
        h.out(),
        [
            t(r#"4{"message":"Not authorized","data":{"code":42}}"#),
            t(r#"4/custom,{"message":"quote \" here"}"#)
        ]
    );
    assert_eq!(h.sio.socket_id("/"), None);
}

#[test]
fn the_connect_reply_and_the_first_emit_share_one_polling_body() {
    let mut h = H::new();
    let got = h.post(r#"40{"token":"123"}"#);
    assert_eq!(
        got,
        [Ok(Some(Ev::Connect(
            "/".into(),
            Some(r#"{"token":"123"}"#.into())
        )))]
    );
    let sid = h.accept("/");
    h.sio
        .emit(&mut h.eio, "/", "auth", r#"{"token":"123"}"#, &[])
        .unwrap();
    assert_eq!(
        h.out(),
        [
            t(&format!(r#"0{{"sid":"{sid}"}}"#)),
            t(r#"2["auth",{"token":"123"}]"#)
        ]
    );
}

#[test]
fn no_connect_within_the_timeout_closes_the_session() {
    let mut h = H::new();
    assert_eq!(h.sio.poll_timeout(), Some(Instant::from_millis(1000)));
    h.advance(999);
    assert_eq!(h.notices(), []);
    h.advance(1000);
    assert_eq!(h.notices(), [Notice::ConnectTimeout]);
    assert!(h.eio.is_closed());
    assert_eq!(h.sio.poll_timeout(), None);
    // A connect in time disarms it.
    let mut h = H::new();
    h.join("/");
    assert_eq!(h.sio.poll_timeout(), None);
    h.advance(5000);
    assert_eq!(h.notices(), []);
    assert!(!h.eio.is_closed());
}

#[test]
fn the_namespace_table_is_bounded() {
    let mut h = H::with(
        Config {
            namespaces: None,
            ..Config::default()
        },
        4096,
        4096,
    );
    h.join("/");
    h.join("/a");
    assert!(h.feed(&t("0/b,")).unwrap().is_some());
    assert_eq!(
        h.sio.accept(&mut h.eio, "/b", &mut h.rng),
        Err(Error::TooManyNamespaces)
    );
    assert!(Error::TooManyNamespaces.is_local());
    assert_eq!(h.out(), [], "nothing was sent");
    h.sio
        .refuse_with_message(&mut h.eio, "/b", "too many namespaces")
        .unwrap();
    assert_eq!(h.sio.namespaces().count(), 2);
    assert!(!h.eio.is_closed());
}

// ------------------------------------------------------------------ disconnect

#[test]
fn disconnect_from_a_namespace_keeps_the_others_and_the_session() {
    let mut h = H::new();
    h.join("/");
    h.join("/custom");
    assert_eq!(
        h.feed(&t("1/custom,")),
        Ok(Some(Ev::Disconnect("/custom".into())))
    );
    assert_eq!(
        h.feed(&t(r#"2["message","message to main namespace"]"#)),
        Ok(Some(Ev::Event(
            "/".into(),
            None,
            r#"["message","message to main namespace"]"#.into(),
            vec![]
        )))
    );
    assert_eq!(h.feed(&t("1")), Ok(Some(Ev::Disconnect("/".into()))));
    assert!(
        !h.eio.is_closed(),
        "the Engine.IO session stays (the client closes it)"
    );
}

#[test]
fn the_server_can_disconnect_a_namespace() {
    let mut h = H::new();
    h.join("/custom");
    h.sio.disconnect(&mut h.eio, "/custom").unwrap();
    assert_eq!(h.out(), [t("1/custom,")]);
    assert_eq!(
        h.sio.disconnect(&mut h.eio, "/custom"),
        Err(Error::NotConnected)
    );
    assert_eq!(
        h.sio.emit(&mut h.eio, "/custom", "x", "", &[]),
        Err(Error::NotConnected)
    );
}

// ------------------------------------------------------------------ events

#[test]
fn events_in_both_directions() {
    let mut h = H::new();
    h.join("/");
    h.join("/custom");
    let data = r#"["message",1,"2",{"3":[true]}]"#;
    let got = h.feed(&M::T(format!("2{data}"))).unwrap();
    assert_eq!(got, Some(Ev::Event("/".into(), None, data.into(), vec![])));
    // Echo the arguments back under another name.
    let mut data_buf = format!("2{data}");
    let r = h
        .sio
        .handle_message(h.now, &mut h.eio, Data::Text(&data_buf), &mut h.asm)
        .unwrap();
    let Some(Event::Event(m)) = r else { panic!() };
    assert_eq!(m.name(), Some("message"));
    assert_eq!(m.args_raw(), r#"1,"2",{"3":[true]}"#);
    let args = m.args_raw().to_owned();
    h.sio
        .emit(&mut h.eio, "/", "message-back", &args, &[])
        .unwrap();
    h.sio
        .emit(&mut h.eio, "/custom", "no-args", "", &[])
        .unwrap();
    h.sio
        .emit(&mut h.eio, "/", "esc\"aped", "null", &[])
        .unwrap();
    assert_eq!(
        h.out(),
        [
            t(r#"2["message-back",1,"2",{"3":[true]}]"#),
            t(r#"2/custom,["no-args"]"#),
            t(r#"2["esc\"aped",null]"#)
        ]
    );
    data_buf.clear();
}

#[test]
fn binary_attachments_in_both_directions() {
    let mut h = H::new();
    h.join("/");
    let header = r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(h.feed(&t(header)), Ok(None), "waits for its attachments");
    assert_eq!(h.feed(&M::B(vec![1, 2, 3])), Ok(None));
    let r = h
        .sio
        .handle_message(h.now, &mut h.eio, Data::Binary(&[4, 5, 6]), &mut h.asm)
        .unwrap();
    let Some(Event::Event(m)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(m.attachments.len(), 2);
    assert_eq!(m.attachments.get(1), Some(&[4u8, 5, 6][..]));
    assert_eq!(m.name(), Some("message"));
    let args = m.args_raw().to_owned();
    let atts: Vec<Vec<u8>> = m.attachments.into_iter().map(<[u8]>::to_vec).collect();
    let refs: Vec<&[u8]> = atts.iter().map(Vec::as_slice).collect();
    h.sio
        .emit(&mut h.eio, "/", "message-back", &args, &refs)
        .unwrap();
    assert_eq!(
        h.out(),
        [
            t(r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            M::B(vec![1, 2, 3]),
            M::B(vec![4, 5, 6])
        ]
    );
    // Over a polling body, base64 attachments included.
    let got = h.post("451-[\"x\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID");
    assert_eq!(
        got,
        [
            Ok(None),
            Ok(Some(Ev::Event(
                "/".into(),
                None,
                r#"["x",{"_placeholder":true,"num":0}]"#.into(),
                vec![vec![1, 2, 3]]
            )))
        ]
    );
}

#[test]
fn acks_the_client_asks_for() {
    let mut h = H::new();
    h.join("/");
    let r = h
        .feed(&t(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#))
        .unwrap();
    let Some(Ev::Event(nsp, Some(id), data, _)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((nsp.as_str(), id), ("/", 456));
    let text = format!("2{data}");
    let m = socketio::Packet::decode(&text, &socketio::Limits::default()).unwrap();
    let args: Vec<&str> = m.args().collect();
    h.sio
        .ack(&mut h.eio, "/", id, &args.join(","), &[])
        .unwrap();
    assert_eq!(h.out(), [t(r#"3456[1,"2",{"3":[false]}]"#)]);
    // A binary ack.
    h.sio
        .ack(
            &mut h.eio,
            "/",
            789,
            r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#,
            &[&[1, 2, 3], &[4, 5, 6]],
        )
        .unwrap();
    assert_eq!(
        h.out(),
        [
            t(r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            M::B(vec![1, 2, 3]),
            M::B(vec![4, 5, 6])
        ]
    );
}

#[test]
fn acks_the_server_asks_for_with_timeouts_and_a_bounded_table() {
    let mut h = H::new();
    h.join("/");
    let ms = Duration::from_millis;
    let a = h
        .sio
        .emit_with_ack(h.now, &mut h.eio, "/", "q", "1", &[], Some(ms(500)))
        .unwrap();
    let b = h
        .sio
        .emit_with_ack(h.now, &mut h.eio, "/", "q", "2", &[], None)
        .unwrap();
    let c = h
        .sio
        .emit_with_ack(h.now, &mut h.eio, "/", "q", "3", &[&[9]], Some(ms(100)))
        .unwrap();
    assert_eq!((a, b, c), (0, 1, 2));
    assert_eq!(
        h.sio
            .emit_with_ack(h.now, &mut h.eio, "/", "q", "4", &[], None),
        Err(Error::AckTableFull)
    );
    assert_eq!(
        h.out(),
        [
            t(r#"20["q",1]"#),
            t(r#"21["q",2]"#),
            t(r#"51-2["q",3]"#),
            M::B(vec![9])
        ]
    );
    assert_eq!(h.sio.poll_timeout(), Some(Instant::from_millis(100)));
    // The answer to b arrives; an unknown id is ignored.
    assert_eq!(
        h.feed(&t(r#"31["ok"]"#)),
        Ok(Some(Ev::Ack(
            "/".into(),
            Some(1),
            r#"["ok"]"#.into(),
            vec![]
        )))
    );
    assert_eq!(h.feed(&t(r#"31["again"]"#)), Ok(None));
    assert_eq!(h.feed(&t(r#"399["who"]"#)), Ok(None));
    h.advance(100);
    assert_eq!(h.notices(), [Notice::AckTimeout(2)]);
    // A late ack for c is ignored.
    assert_eq!(h.feed(&t(r#"32["late"]"#)), Ok(None));
    h.advance(500);
    assert_eq!(h.notices(), [Notice::AckTimeout(0)]);
    assert_eq!(h.sio.poll_timeout(), None);
    // A binary ack with its attachment.
    let d = h
        .sio
        .emit_with_ack(h.now, &mut h.eio, "/", "q", "", &[], None)
        .unwrap();
    assert_eq!(
        h.feed(&t(&format!(r#"61-{d}[{{"_placeholder":true,"num":0}}]"#))),
        Ok(None)
    );
    assert_eq!(
        h.feed(&M::B(vec![7, 7])),
        Ok(Some(Ev::Ack(
            "/".into(),
            Some(d),
            r#"[{"_placeholder":true,"num":0}]"#.into(),
            vec![vec![7, 7]]
        )))
    );
}

#[test]
fn packets_out_of_place_close_the_connection_as_socket_io_4_8_does() {
    // (joined "/" first?, messages): the last one is out of place.
    let cases: &[(bool, &[M])] = &[
        (false, &[M::T(r#"2["early"]"#.into())]),
        (true, &[M::T(r#"2/custom,["not joined"]"#.into())]),
        (false, &[M::T(r#"312[]"#.into())]),
        (true, &[M::T(r#"3/custom,1[]"#.into())]),
        (false, &[M::T("1".into())]),
        (true, &[M::T("1/custom,".into())]),
        (true, &[M::T("0".into())]),
        (false, &[M::T(r#"4{"message":"x"}"#.into())]),
        (true, &[M::T(r#"4{"message":"x"}"#.into())]),
        // A binary event for a namespace not joined: after its attachments.
        (
            false,
            &[
                M::T(r#"51-["early",{"_placeholder":true,"num":0}]"#.into()),
                M::B(vec![1]),
            ],
        ),
    ];
    for (joined, msgs) in cases {
        let mut h = H::new();
        if *joined {
            h.join("/");
        }
        let mut results: Vec<_> = msgs.iter().map(|m| h.feed(m)).collect();
        assert_eq!(
            results.pop(),
            Some(Err(Error::UnexpectedPacket)),
            "{msgs:?}"
        );
        assert!(
            results.iter().all(|r| *r == Ok(None)),
            "{msgs:?}: {results:?}"
        );
        assert!(h.eio.is_closed(), "{msgs:?}");
        assert_eq!(
            h.notices(),
            [Notice::ProtocolError(Error::UnexpectedPacket)]
        );
    }
    // An ack with an unknown id on a joined namespace is only ignored.
    let mut h = H::new();
    h.join("/");
    assert_eq!(h.feed(&t(r#"312[]"#)), Ok(None));
    assert!(!h.eio.is_closed());
}

// ------------------------------------------------------------------ invalid input

#[test]
fn invalid_formats_close_the_connection() {
    let cases: &[(&[M], Error)] = &[
        (&[M::T(String::new())], Error::UnknownPacketType),
        (&[M::T("abc".into())], Error::UnknownPacketType),
        (&[M::T("2{}".into())], Error::InvalidPayload),
        (
            &[M::T(
                r#"2abc["message-with-ack",1,"2",{"3":[false]}]"#.into(),
            )],
            Error::InvalidPayload,
        ),
        (
            &[M::T(r#"2["disconnect"]"#.into())],
            Error::ReservedEventName,
        ),
        (&[M::B(vec![1, 2])], Error::UnexpectedBinary),
        (
            &[
                M::T(r#"51-["a",{"_placeholder":true,"num":0}]"#.into()),
                M::T(r#"2["a"]"#.into()),
            ],
            Error::MissingAttachments,
        ),
        (
            &[M::T(r#"51000000000-["a"]"#.into())],
            Error::TooManyAttachments,
        ),
        (
            &[M::T(r#"218446744073709551616["a"]"#.into())],
            Error::InvalidAckId,
        ),
        (
            &[M::T(format!("0/{},", "n".repeat(64)))],
            Error::NamespaceTooLong,
        ),
        (
            &[M::T(format!(
                "2[\"a\",{}{}]",
                "[".repeat(100),
                "]".repeat(100)
            ))],
            Error::JsonTooDeep,
        ),
    ];
    for (msgs, want) in cases {
        let mut h = H::new();
        h.join("/");
        let mut last = Ok(None);
        for m in msgs.iter() {
            last = h.feed(m);
        }
        assert_eq!(last, Err(*want), "{msgs:?}");
        assert!(
            h.eio.is_closed(),
            "{msgs:?}: the Engine.IO session is closing"
        );
        assert_eq!(h.notices(), [Notice::ProtocolError(*want)]);
        assert_eq!(h.sio.error(), Some(*want));
        assert_eq!(h.feed(&t(r#"2["more"]"#)), Err(Error::InvalidState));
        assert_eq!(
            h.sio.emit(&mut h.eio, "/", "x", "", &[]),
            Err(Error::InvalidState)
        );
        // The client gets the Engine.IO close packet.
        assert_eq!(h.out(), [t("<close>")]);
    }
}

#[test]
fn attachments_larger_than_the_assembler_close_the_connection() {
    let mut h = H::with(Config::default(), 4096, 64);
    h.join("/");
    assert_eq!(
        h.feed(&t(r#"51-["a",{"_placeholder":true,"num":0}]"#)),
        Ok(None)
    );
    assert_eq!(h.feed(&M::B(vec![0; 100])), Err(Error::AttachmentsTooLarge));
    assert!(h.eio.is_closed());
}

// ------------------------------------------------------------------ bounds

#[test]
fn an_emit_that_does_not_fit_queues_nothing() {
    let mut h = H::with(Config::default(), 600, 4096);
    h.join("/");
    let free = h.eio.queue_free();
    let big = vec![0u8; 300];
    let r = h.sio.emit(
        &mut h.eio,
        "/",
        "bin",
        r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#,
        &[&big, &big],
    );
    assert_eq!(r, Err(Error::Engine(engineio::Error::QueueFull)));
    assert_eq!(
        h.eio.queue_free(),
        free,
        "neither the text nor an attachment was queued"
    );
    // What fits goes out whole.
    h.sio
        .emit(
            &mut h.eio,
            "/",
            "bin",
            r#"{"_placeholder":true,"num":0}"#,
            &[&big],
        )
        .unwrap();
    let out = h.out();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], M::B(big));
}

#[test]
fn memory_is_fixed_by_the_type() {
    let size = size_of::<Connection<4, 16>>();
    eprintln!("size_of::<socketio::Connection<4, 16>>() = {size}");
    assert!(size <= 1024, "{size}");
}

#[test]
fn broadcast_to_rooms_reports_a_full_target() {
    use socketio::Rooms;
    // Three clients on "/"; client 2's queue is tiny.
    let mut clients: Vec<H> = (0..3)
        .map(|i| H::with(Config::default(), if i == 2 { 256 } else { 4096 }, 4096))
        .collect();
    for c in &mut clients {
        c.join("/");
    }
    let mut rooms: Rooms<usize, 4, 4> = Rooms::new();
    rooms.join("news", 0).unwrap();
    rooms.join("news", 2).unwrap();
    rooms.join("sports", 1).unwrap();
    rooms.join("sports", 2).unwrap();
    rooms.join("quiet", 1).unwrap();
    let targets: Vec<usize> = rooms.targets(&["news", "sports"], &["quiet"]).collect();
    assert_eq!(targets, [0, 2]);
    let long = format!("\"{}\"", "x".repeat(300));
    let mut failed = Vec::new();
    for &i in &targets {
        let c = &mut clients[i];
        if let Err(e) = c.sio.emit(&mut c.eio, "/", "headline", &long, &[]) {
            failed.push((i, e));
        }
    }
    assert_eq!(failed, [(2, Error::Engine(engineio::Error::QueueFull))]);
    assert_eq!(clients[0].out(), [M::T(format!(r#"2["headline",{long}]"#))]);
    assert_eq!(clients[1].out(), []);
    assert_eq!(clients[2].out(), []);
}

#[test]
fn emits_the_other_side_could_not_decode_are_refused_before_queueing() {
    let mut h = H::new();
    h.join("/");
    let free = h.eio.queue_free();
    let eleven: Vec<&[u8]> = vec![&[1u8][..]; 11];
    assert_eq!(
        h.sio.emit(&mut h.eio, "/", "x", "", &eleven),
        Err(Error::TooManyAttachments)
    );
    let long_name = "n".repeat(socketio::MAX_EVENT_NAME_LEN);
    assert!(matches!(
        h.sio.emit(&mut h.eio, "/", &long_name, "", &[]),
        Err(Error::BufferTooSmall { .. })
    ));
    for reserved in ["connect", "disconnect", "connect_error", "newListener"] {
        assert_eq!(
            h.sio.emit(&mut h.eio, "/", reserved, "", &[]),
            Err(Error::ReservedEventName)
        );
    }
    assert_eq!(
        h.sio.ack(&mut h.eio, "/", 1, "", &eleven),
        Err(Error::TooManyAttachments)
    );
    assert_eq!(h.eio.queue_free(), free, "nothing was queued");
}
