//! The catalogue of hostile Socket.IO input, each case with its expected
//! answer: the typed error, the connection closed the way the reference
//! server closes it (the Engine.IO close packet), and memory within the
//! configured bounds. Both roles: a hostile client against the server
//! connection, a hostile server against the client.
//!
//! The HTTP and WebSocket cases are in `tests/bad_input.rs`, the Engine.IO
//! ones in `tests/bad_input_engineio.rs`.

use sockwire::engineio::{self, Data, Payload, Session, Transport};
use sockwire::entropy::SplitMix64;
use sockwire::json;
use sockwire::socketio::{
    self, Assembler, ClientCore, Config, Connection, ConnectionEvent as Event, Error, Limits,
    Notice, Packet,
};
use sockwire::time::Instant;

const NOW: Instant = Instant::from_millis(0);

struct Server {
    eio: Session<Vec<u8>>,
    sio: Connection<2, 2>,
    asm: Assembler<Vec<u8>>,
}

impl Server {
    /// A connection that has joined "/".
    fn joined() -> Self {
        let mut eio = Session::open(
            NOW,
            Transport::Polling,
            engineio::Config::default(),
            vec![0u8; 4096],
            &mut SplitMix64::new(1),
        )
        .unwrap();
        let mut out = [0u8; 512];
        let _ = eio.poll_http(&mut out).unwrap();
        let mut s = Server {
            eio,
            sio: Connection::new(NOW, Config::default()),
            asm: Assembler::new(vec![0u8; 1024]),
        };
        assert!(matches!(s.feed("0"), Ok(Some(()))));
        s.sio
            .accept(&mut s.eio, "/", &mut SplitMix64::new(2))
            .unwrap();
        let _ = s.get();
        s
    }

    fn feed(&mut self, text: &str) -> Result<Option<()>, Error> {
        self.sio
            .handle_message(NOW, &mut self.eio, Data::Text(text), &mut self.asm)
            .map(|e| e.map(|_: Event<'_>| ()))
    }

    /// The client's next GET: the packets, as text.
    fn get(&mut self) -> Vec<String> {
        if self.eio.handle_poll(NOW).is_err() {
            return vec![];
        }
        let mut out = vec![0u8; 1 << 16];
        let n = self.eio.poll_http(&mut out).unwrap();
        if n == 0 {
            return vec![];
        }
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        Payload::new(&mut out[at..n])
            .map(|p| match p.unwrap() {
                engineio::Packet::Close => "<close>".to_owned(),
                engineio::Packet::Message(Data::Text(t)) => t.to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// The hostile text closed the connection with `want`.
    fn refuses(mut self, text: &str, want: Error) {
        let shown: String = text.chars().take(60).collect();
        assert_eq!(self.feed(text), Err(want), "{shown}");
        assert!(self.eio.is_closed(), "{shown}");
        assert_eq!(self.sio.poll_event(), Some(Notice::ProtocolError(want)));
        assert_eq!(self.get(), ["<close>"], "{shown}: the client is told");
        assert!(!self.asm.is_assembling(), "nothing is kept");
    }
}

#[test]
fn attachment_counts_of_a_billion_and_beyond_are_refused_before_any_storage() {
    for count in [
        "11",
        "1000000000",
        "18446744073709551616",
        &"9".repeat(5000),
    ] {
        let text = format!(r#"5{count}-["x",{{"_placeholder":true,"num":0}}]"#);
        Server::joined().refuses(&text, Error::TooManyAttachments);
    }
    // Zero, or no count at all.
    Server::joined().refuses(r#"50-["x"]"#, Error::InvalidAttachments);
    Server::joined().refuses(r#"5["x"]"#, Error::InvalidAttachments);
}

#[test]
fn deep_json_nesting_is_refused_in_constant_space() {
    for depth in [33, 1000, 1 << 20] {
        let text = format!(r#"2["x",{}"#, "[".repeat(depth));
        Server::joined().refuses(&text, Error::JsonTooDeep);
    }
    let objects = format!(r#"2["x",{}1{}]"#, r#"{"a":"#.repeat(40), "}".repeat(40));
    Server::joined().refuses(&objects, Error::JsonTooDeep);
    // Exactly at the limit is fine.
    let ok = format!(r#"2["x",{}{}]"#, "[".repeat(31), "]".repeat(31));
    let mut s = Server::joined();
    assert_eq!(s.feed(&ok), Ok(Some(())));
    // The validator is iterative: a megabyte of brackets is no deeper for the
    // stack than two; its state is a 64-bit mask.
    assert_eq!(
        json::validate(&"[".repeat(1 << 20), json::MAX_DEPTH),
        Err(json::Error::TooDeep)
    );
}

#[test]
fn ack_ids_past_u64_are_refused() {
    Server::joined().refuses(r#"218446744073709551616["x"]"#, Error::InvalidAckId);
    Server::joined().refuses(
        &format!(r#"2{}["x"]"#, "9".repeat(10_000)),
        Error::InvalidAckId,
    );
    Server::joined().refuses(r#"318446744073709551616[]"#, Error::InvalidAckId);
    // u64::MAX itself is a valid id.
    let mut s = Server::joined();
    assert_eq!(s.feed(r#"218446744073709551615["x"]"#), Ok(Some(())));
}

#[test]
fn very_long_namespace_names_are_refused() {
    for len in [65, 1000, 100_000] {
        let text = format!("0/{},", "n".repeat(len));
        Server::joined().refuses(&text, Error::NamespaceTooLong);
        let text = format!(r#"2/{},["x"]"#, "n".repeat(len));
        Server::joined().refuses(&text, Error::NamespaceTooLong);
    }
    // The limit is the connection's storage: 64 bytes, "/" included.
    let mut s = Server::joined();
    let nsp = format!("/{}", "n".repeat(63));
    s.sio = Connection::new(
        NOW,
        Config {
            namespaces: None,
            ..Config::default()
        },
    );
    assert!(matches!(s.feed(&format!("0{nsp},")), Ok(Some(()))));
}

#[test]
fn events_before_connect_close_the_connection() {
    let mut eio = Session::open(
        NOW,
        Transport::Polling,
        engineio::Config::default(),
        vec![0u8; 4096],
        &mut SplitMix64::new(1),
    )
    .unwrap();
    let mut out = [0u8; 512];
    let _ = eio.poll_http(&mut out).unwrap();
    let s = Server {
        eio,
        sio: Connection::new(NOW, Config::default()),
        asm: Assembler::new(vec![0u8; 1024]),
    };
    s.refuses(r#"2["before connect"]"#, Error::UnexpectedPacket);
}

#[test]
fn other_hostile_packets_have_their_errors() {
    let cases: &[(&str, Error)] = &[
        ("", Error::UnknownPacketType),
        ("9", Error::UnknownPacketType),
        ("2{}", Error::InvalidPayload),
        ("2[]", Error::InvalidPayload),
        (r#"2["connect"]"#, Error::ReservedEventName),
        (r#"2["x",]"#, Error::JsonSyntax { offset: 6 }),
        (r#"2["x","\ud800\u12"]"#, Error::JsonSyntax { offset: 17 }),
        (
            r#"51-["x",{"_placeholder":true,"num":5}]"#,
            Error::InvalidPlaceholder,
        ),
        (r#"4{"message":"from a client"}"#, Error::UnexpectedPacket),
    ];
    for &(text, want) in cases {
        Server::joined().refuses(text, want);
    }
}

#[test]
fn attachments_past_the_lent_storage_are_refused_and_nothing_grows() {
    let mut s = Server::joined();
    assert_eq!(
        s.feed(r#"52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        Ok(None)
    );
    let big = vec![7u8; 2000];
    let r = s
        .sio
        .handle_message(NOW, &mut s.eio, Data::Binary(&big), &mut s.asm);
    assert_eq!(r, Err(Error::AttachmentsTooLarge));
    assert!(s.eio.is_closed());
    // A binary message with no packet waiting for it.
    let mut s = Server::joined();
    let r = s
        .sio
        .handle_message(NOW, &mut s.eio, Data::Binary(&[1]), &mut s.asm);
    assert_eq!(r, Err(Error::UnexpectedBinary));
    // The connection's own state is its size_of: the tables are const generics.
    assert!(
        size_of::<Connection<2, 2>>() < 512,
        "{}",
        size_of::<Connection<2, 2>>()
    );
}

#[test]
fn a_hostile_server_makes_the_client_close_and_reconnect() {
    let cases: &[(&str, Error)] = &[
        (r#"51000000000-["x"]"#, Error::TooManyAttachments),
        (
            &format!(r#"2["x",{}"#, "[".repeat(100_000)),
            Error::JsonTooDeep,
        ),
        (r#"218446744073709551616["x"]"#, Error::InvalidAckId),
        (&format!("0/{},", "n".repeat(1000)), Error::NamespaceTooLong),
        ("2{}", Error::InvalidPayload),
    ];
    for (text, want) in cases {
        let mut c: ClientCore<Vec<u8>, 2, 2> =
            ClientCore::new(socketio::ClientConfig::default(), vec![0u8; 1024]);
        let mut eio: engineio::ClientSession<Vec<u8>, SplitMix64> = engineio::ClientSession::new(
            NOW,
            engineio::ClientConfig::default(),
            vec![0u8; 1024],
            SplitMix64::new(1),
        );
        c.connect(Some(&mut eio), "/", None).unwrap();
        let mut asm = Assembler::new(vec![0u8; 1024]);
        let mut rng = SplitMix64::new(3);
        let r = c.handle_message(NOW, &mut eio, Data::Text(text), &mut asm, &mut rng);
        assert_eq!(r.err(), Some(*want));
        assert!(eio.is_closed(), "the transport is closed");
        assert!(c.poll_timeout().is_some(), "a reconnection is scheduled");
        // Not connected yet, so no Disconnected notice; the client waits.
        assert_eq!(c.poll_event(), None);
    }
    // A packet that decodes but claims an unknown namespace is ignored.
    let mut c: ClientCore<Vec<u8>, 2, 2> =
        ClientCore::new(socketio::ClientConfig::default(), vec![0u8; 1024]);
    let mut eio: engineio::ClientSession<Vec<u8>, SplitMix64> = engineio::ClientSession::new(
        NOW,
        engineio::ClientConfig::default(),
        vec![0u8; 1024],
        SplitMix64::new(1),
    );
    let mut asm = Assembler::new(vec![0u8; 1024]);
    let r = c.handle_message(
        NOW,
        &mut eio,
        Data::Text(r#"2/nope,["x"]"#),
        &mut asm,
        &mut SplitMix64::new(3),
    );
    assert_eq!(r, Ok(None));
}

#[test]
fn the_decoder_limits_are_configurable_and_capped() {
    let strict = Limits {
        max_attachments: 1,
        max_namespace_len: 8,
        max_depth: 2,
    };
    assert_eq!(
        Packet::decode(r#"52-["x"]"#, &strict),
        Err(Error::TooManyAttachments)
    );
    assert_eq!(
        Packet::decode(r#"0/123456789,"#, &strict),
        Err(Error::NamespaceTooLong)
    );
    assert_eq!(
        Packet::decode(r#"2["x",[[1]]]"#, &strict),
        Err(Error::JsonTooDeep)
    );
    // A depth above MAX_DEPTH is capped at it.
    let loose = Limits {
        max_depth: 10_000,
        ..Limits::DEFAULT
    };
    let deep = format!(r#"2["x",{}{}]"#, "[".repeat(64), "]".repeat(64));
    assert_eq!(Packet::decode(&deep, &loose), Err(Error::JsonTooDeep));
}
