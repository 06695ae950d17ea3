//! Golden vectors of the Node Redis adapter: messages captured off a real
//! Redis from `socket.io` 4.8 with `@socket.io/redis-adapter` 8.3
//! (`tests/peers/redis_capture.mjs`, versions on the first line of
//! `tests/data/redis_adapter/vectors.txt`) decode to the broadcasts that made
//! them, and sockwire encodes those broadcasts to the same bytes.

use sockwire::socketio::adapter::request::{self, Kind, Request};
use sockwire::socketio::adapter::{self, Flags, Incoming, Outgoing};

const VECTORS: &str = include_str!("data/redis_adapter/vectors.txt");
const REQUESTS: &str = include_str!("data/redis_adapter/requests.txt");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (name, channel, message) of each captured message.
fn vectors() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    lines(VECTORS)
}

fn lines(text: &'static str) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut it = l.split(' ');
            let (name, channel, bytes) =
                (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            (name, channel, hex(bytes))
        })
        .collect()
}

struct Want {
    nsp: &'static str,
    rooms: &'static [&'static str],
    except: &'static [&'static str],
    flags: Flags,
    name: &'static str,
    args: String,
    attachments: Vec<Vec<u8>>,
    /// notepack wrote something sockwire writes otherwise (see `numbers`).
    same_bytes: bool,
}

fn want(name: &str) -> Want {
    let w = |nsp, rooms, except, ev, args: &str| Want {
        nsp,
        rooms,
        except,
        flags: Flags::default(),
        name: ev,
        args: args.into(),
        attachments: vec![],
        same_bytes: true,
    };
    match name {
        "all" => w("/", &[], &[], "hello", r#""world""#),
        "room" => w("/", &["room1"], &[], "hello", r#""world""#),
        "rooms_except" => w(
            "/",
            &["r1", "r2"],
            &["r3", "AbCdEfGhIjKlMnOpQrSt"],
            "ev",
            r#"{"a":1,"b":[true,false,null]},-1,3.5,"é😀""#,
        ),
        "binary" => Want {
            attachments: vec![vec![1, 2, 3]],
            ..w("/", &[], &[], "file", r#"{"_placeholder":true,"num":0}"#)
        },
        "binary_nested" => Want {
            attachments: vec![b"abc".to_vec(), vec![7; 300]],
            ..w(
                "/",
                &["room1"],
                &[],
                "mixed",
                r#"{"data":{"_placeholder":true,"num":0},"n":1},[{"_placeholder":true,"num":1}],"tail""#,
            )
        },
        "custom_nsp_no_args" => w("/custom", &[], &[], "ping", ""),
        "flags" => Want {
            flags: Flags {
                volatile: true,
                compress: Some(false),
                ..Flags::default()
            },
            ..w("/", &[], &[], "v", "1")
        },
        // notepack.io 3 writes 1e300 (an "integer" too large for 64 bits)
        // as uint64 0: a Node node receives 0, and so does sockwire.
        "numbers" => Want {
            same_bytes: false,
            ..w(
                "/",
                &[],
                &[],
                "n",
                "0,127,128,255,256,65535,65536,4294967295,4294967296,9007199254740991,\
                 -1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,-9007199254740991,\
                 0.5,-2.25,0",
            )
        },
        "strings" => w(
            "/",
            &[],
            &[],
            "s",
            &format!(
                r#""","{}","{}","{}","q\"\\\n\t\u0001/",{{}}"#,
                "x".repeat(31),
                "y".repeat(32),
                "z".repeat(256)
            ),
        ),
        "empty_containers" => w("/", &[], &[], "e", r#"[],{},[[]],{"k":{}}"#),
        other => panic!("no expectation for vector {other}"),
    }
}

#[test]
fn captured_broadcasts_decode_and_encode_back() {
    let all = vectors();
    assert!(all.len() >= 10, "vectors.txt holds {} messages", all.len());
    let mut checked = 0;
    for (name, channel, message) in &all {
        if *name == "with_ack" {
            // A broadcast with acks is a request, on the request channel.
            assert_eq!(channel, &"socket.io-request#/#");
            assert_eq!(
                Incoming::decode("socket.io", channel.as_bytes(), message).unwrap_err(),
                adapter::Error::WrongChannel
            );
            let got = Incoming::decode_with_ack("socket.io", channel.as_bytes(), message)
                .unwrap()
                .unwrap();
            assert_eq!((got.nsp, got.name, got.ack_id), ("/", "ack-me", None));
            assert_eq!(got.flags.timeout, Some(1000));
            let mut args = [0u8; 16];
            let n = got.args(32, &mut args).unwrap();
            assert_eq!(&args[..n], b"1");
            // The answers on that channel are not broadcasts.
            let count = br#"{"type":8,"requestId":"x","clientCount":2}"#;
            assert!(Incoming::decode_with_ack("socket.io", channel.as_bytes(), count).is_err());
            let ack = b"\x83\xa4type\x09\xa9requestId\xa1x\xa6packet\x91\x01";
            assert!(matches!(
                Incoming::decode_with_ack("socket.io", channel.as_bytes(), ack),
                Ok(None)
            ));
            continue;
        }
        let want = want(name);
        let got = Incoming::decode("socket.io", channel.as_bytes(), message)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.uid.len(), adapter::UID_LEN, "{name}");
        assert_eq!(got.nsp, want.nsp, "{name}");
        assert_eq!(got.name, want.name, "{name}");
        assert_eq!(got.rooms().collect::<Vec<_>>(), want.rooms, "{name}");
        assert_eq!(got.except().collect::<Vec<_>>(), want.except, "{name}");
        assert_eq!(got.flags, want.flags, "{name}");
        assert_eq!(got.ack_id, None);
        assert_eq!(
            got.channel_room,
            if want.rooms.len() == 1 {
                Some(want.rooms[0])
            } else {
                None
            },
            "{name}"
        );
        let mut args = vec![0u8; 2048];
        let n = got.args(32, &mut args).unwrap();
        let args = std::str::from_utf8(&args[..n]).unwrap();
        assert_eq!(args, want.args, "{name}");
        let atts: Vec<&[u8]> = got.attachments().collect();
        assert_eq!(atts, want.attachments, "{name}");

        // The same broadcast, encoded by sockwire as node `uid`.
        let out = Outgoing {
            nsp: want.nsp,
            rooms: want.rooms,
            except: want.except,
            flags: want.flags,
            name: want.name,
            args: &want.args,
            attachments: &atts,
        };
        let mut ch = [0u8; 64];
        let c = out.channel("socket.io", &mut ch).unwrap();
        assert_eq!(&ch[..c], channel.as_bytes(), "{name}");
        let mut buf = vec![0u8; 2048];
        let len = out.encode(got.uid, 32, &mut buf).unwrap();
        if want.same_bytes {
            assert_eq!(hex_of(&buf[..len]), hex_of(message), "{name}");
        } else {
            let back = Incoming::decode("socket.io", channel.as_bytes(), &buf[..len]).unwrap();
            let mut again = vec![0u8; 2048];
            let m = back.args(32, &mut again).unwrap();
            assert_eq!(
                std::str::from_utf8(&again[..m]).unwrap(),
                want.args,
                "{name}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, all.len() - 1);
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_truncation_and_corruption_is_a_typed_error() {
    for (name, channel, message) in vectors() {
        for k in 0..message.len() {
            let r = Incoming::decode("socket.io", channel.as_bytes(), &message[..k]);
            assert!(r.is_err(), "{name} cut at {k} decoded");
        }
        for k in 0..message.len() {
            let mut m = message.clone();
            for x in [0x00, 0xc1, 0xdd, 0xff, m[k] ^ 0x10] {
                m[k] = x;
                if let Ok(got) = Incoming::decode("socket.io", channel.as_bytes(), &m) {
                    let mut out = vec![0u8; 4096];
                    let _ = got.args(32, &mut out);
                    let _ = got.attachments().count();
                    let _ = got.rooms().count() + got.except().count();
                }
            }
        }
    }
}

#[test]
fn captured_requests_decode_and_encode_back() {
    type Want = (
        &'static str,
        Kind,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );
    let want = |name: &str| -> Want {
        match name {
            "sockets_join" => ("/", Kind::Join, &[], &[], &["room9"]),
            "sockets_join_filtered" => ("/", Kind::Join, &["r1", "r2"], &["r3"], &["x", "y"]),
            "sockets_leave" => ("/", Kind::Leave, &["r1"], &[], &["r2"]),
            "disconnect_sockets" => ("/", Kind::Disconnect { close: false }, &["r1"], &[], &[]),
            "disconnect_sockets_close" => {
                ("/", Kind::Disconnect { close: true }, &[], &["r1"], &[])
            }
            "custom_nsp_join" => ("/custom", Kind::Join, &[], &[], &["c"]),
            other => panic!("no expectation for {other}"),
        }
    };
    let mut all = lines(REQUESTS);
    assert_eq!(all.len(), 7);
    // serverSideEmit('relay', 'x', {n: 1}).
    let (name, channel, message) = all.pop().unwrap();
    assert_eq!(name, "server_side_emit");
    let e = request::ServerSideEmit::decode("socket.io", channel.as_bytes(), &message)
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.nsp, e.name, e.args, e.wants_ack),
        ("/", r#""relay""#, r#""x",{"n":1}"#, false)
    );
    let mut buf = [0u8; 128];
    let n = request::encode_server_side_emit(e.uid, "relay", e.args, &mut buf).unwrap();
    assert_eq!(&buf[..n], &message[..]);
    assert_eq!(
        Request::decode("socket.io", channel.as_bytes(), &message),
        Ok(None),
        "not a socketsJoin/Leave/disconnectSockets"
    );
    let strs = |raw: &str| -> Vec<String> {
        sockwire::json::elements(raw)
            .map(|e| e.trim_matches('"').to_string())
            .collect()
    };
    for (name, channel, message) in all {
        let (nsp, kind, select, except, rooms) = want(name);
        assert!(request::is_request_channel("socket.io", channel.as_bytes()));
        let r = Request::decode("socket.io", channel.as_bytes(), &message)
            .unwrap()
            .unwrap_or_else(|| panic!("{name} not handled"));
        assert_eq!((r.nsp, r.kind), (nsp, kind), "{name}");
        assert_eq!(strs(r.select), select, "{name}");
        assert_eq!(strs(r.except), except, "{name}");
        assert_eq!(strs(r.rooms), rooms, "{name}");
        let out = request::Outgoing {
            nsp,
            kind,
            select,
            except,
            rooms,
        };
        let mut ch = [0u8; 64];
        let c = request::channel("socket.io", nsp, &mut ch).unwrap();
        assert_eq!(&ch[..c], channel.as_bytes());
        let mut buf = [0u8; 256];
        let n = out.encode(r.uid, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            std::str::from_utf8(&message).unwrap(),
            "{name}"
        );
        for k in 0..message.len() {
            let _ = Request::decode("socket.io", channel.as_bytes(), &message[..k]);
        }
    }
    // Answers and requests that want answers are not handled.
    for other in [
        &br#"{"uid":"a","requestId":"b","type":1}"#[..],
        br#"{"requestId":"b","rooms":["x"]}"#,
        br#"{"uid":"a","type":2,"sid":"x","room":"y","requestId":"c"}"#,
        b"\x85\xa3uid",
    ] {
        assert_eq!(
            Request::decode("socket.io", b"socket.io-request#/#", other),
            Ok(None)
        );
    }
    assert_eq!(
        Request::decode(
            "socket.io",
            b"socket.io-request#/#",
            br#"{"uid":1,"type":2,"opts":{},"rooms":[]}"#
        ),
        Err(adapter::Error::Malformed)
    );
}
