//! Golden vectors of the Node Redis adapter: messages captured off a real
//! Redis from `socket.io` 4.8 with `@socket.io/redis-adapter` 8.3
//! (`tests/peers/redis_capture.mjs`, versions on the first line of
//! `tests/data/redis_adapter/vectors.txt`) decode to the broadcasts that made
//! them, and sockwire encodes those broadcasts to the same bytes.

use sockwire::socketio::adapter::request::{self, Kind, Request};
use sockwire::socketio::adapter::{self, Flags, Incoming, Outgoing};

const VECTORS: &str = include_str!("data/redis_adapter/vectors.txt");
const REQUESTS: &str = include_str!("data/redis_adapter/requests.txt");
const ANSWERS: &str = include_str!("data/redis_adapter/answers.txt");

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
    // Answers and requests that want answers are not `Request`s.
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

/// The requests that want answers and the answers, as one Node node asked
/// another (`redis_capture.mjs answers`): each decodes, and sockwire encodes
/// it back to the same bytes.
#[test]
fn captured_queries_and_answers_decode_and_encode_back() {
    use request::{Query, QueryRequest, Response};
    let all = lines(ANSWERS);
    assert_eq!(all.len(), 8);
    let get = |name: &str, response: bool| {
        all.iter()
            .find(|(n, c, _)| *n == name && c.contains("-response#") == response)
            .map(|(_, c, m)| (c.as_bytes(), m.as_slice()))
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let text = |b: &[u8]| std::str::from_utf8(b).unwrap().to_string();
    let mut buf = vec![0u8; 512];

    // allRooms.
    let (c, m) = get("all_rooms", false);
    let q = QueryRequest::decode("socket.io", c, m).unwrap().unwrap();
    assert_eq!((q.nsp, q.query), ("/", Query::AllRooms));
    let n = request::encode_all_rooms(q.uid, q.request_id, &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(m));
    let (rc, rm) = get("all_rooms", true);
    let mut ch = [0u8; 64];
    let len = request::response_channel("socket.io", "/", &mut ch).unwrap();
    assert_eq!(&ch[..len], rc);
    let r = Response::decode("socket.io", rc, rm).unwrap().unwrap();
    assert_eq!(
        r,
        Response::Rooms {
            request_id: q.request_id,
            rooms: r#"["Fake0000000000000000","room1"]"#
        }
    );
    let n = request::encode_rooms_response(
        q.request_id,
        &|f| ["Fake0000000000000000", "room1"].iter().for_each(|r| f(r)),
        &mut buf,
    )
    .unwrap();
    assert_eq!(text(&buf[..n]), text(rm));

    // fetchSockets.
    let (c, m) = get("fetch_sockets", false);
    let q = QueryRequest::decode("socket.io", c, m).unwrap().unwrap();
    assert_eq!(
        q.query,
        Query::Fetch {
            select: r#"["room1"]"#,
            except: r#"["r3"]"#
        }
    );
    let n = request::encode_fetch(q.uid, q.request_id, &["room1"], &["r3"], &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(m));
    let (rc, rm) = get("fetch_sockets", true);
    let r = Response::decode("socket.io", rc, rm).unwrap().unwrap();
    assert_eq!(
        r,
        Response::Sockets {
            request_id: q.request_id,
            sockets: "[]"
        }
    );
    let n = request::encode_sockets_response(q.request_id, &|_| {}, &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(rm));

    // serverSideEmit with an ack.
    let (c, m) = get("server_side_emit_ack", false);
    let e = request::ServerSideEmit::decode("socket.io", c, m)
        .unwrap()
        .unwrap();
    assert!(e.wants_ack);
    let id = e.request_id.unwrap();
    assert_eq!((e.name, e.args), (r#""ask""#, r#""x",{"n":1}"#));
    assert_eq!(QueryRequest::decode("socket.io", c, m), Ok(None));
    let n = request::encode_server_side_emit_with_ack(e.uid, id, "ask", e.args, &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(m));
    let (rc, rm) = get("server_side_emit_ack", true);
    let r = Response::decode("socket.io", rc, rm).unwrap().unwrap();
    assert_eq!(
        r,
        Response::ServerSideEmitAck {
            request_id: id,
            data: Some(r#"{"ok":true}"#)
        }
    );
    let n = request::encode_server_side_emit_ack(id, Some(r#"{"ok":true}"#), &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(rm));

    // A broadcast with acks, and the other node's client count.
    let (c, m) = get("broadcast_with_ack", false);
    let b = Incoming::decode_with_ack("socket.io", c, m)
        .unwrap()
        .unwrap();
    let id = b.request_id.unwrap();
    assert_eq!((b.nsp, b.name), ("/", "ev"));
    assert_eq!(b.flags.timeout, Some(300));
    assert_eq!(b.rooms().collect::<Vec<_>>(), ["room1"]);
    let out = Outgoing {
        nsp: "/",
        rooms: &["room1"],
        except: &[],
        flags: Flags {
            timeout: Some(300),
            ..Flags::default()
        },
        name: "ev",
        args: r#""x""#,
        attachments: &[],
    };
    let n = out.encode_with_ack(b.uid, id, 32, &mut buf).unwrap();
    assert_eq!(hex_of(&buf[..n]), hex_of(m));
    let (rc, rm) = get("broadcast_with_ack", true);
    let r = Response::decode("socket.io", rc, rm).unwrap().unwrap();
    assert_eq!(
        r,
        Response::ClientCount {
            request_id: id,
            count: 0
        }
    );
    let n = request::encode_client_count(id, 0, &mut buf).unwrap();
    assert_eq!(text(&buf[..n]), text(rm));

    // Every prefix of every message is a typed error or a partial read,
    // never a panic.
    for (_, c, m) in &all {
        for k in 0..m.len() {
            let _ = QueryRequest::decode("socket.io", c.as_bytes(), &m[..k]);
            let _ = Response::decode("socket.io", c.as_bytes(), &m[..k]);
            let _ = Incoming::decode_with_ack("socket.io", c.as_bytes(), &m[..k]);
        }
    }
}

/// A client's ack of a broadcast with acks (request type 9), which the
/// capture has no client to make: written as notepack writes
/// `{type: 9, requestId, packet}`, and read back, binary included.
#[test]
fn broadcast_acks_both_ways() {
    use request::Response;
    let mut buf = [0u8; 128];
    let n = request::encode_broadcast_ack(
        "QmQHgi",
        Some(r#"{"a":[1,{"_placeholder":true,"num":0}]}"#),
        &[&[7, 8]],
        32,
        &mut buf,
    )
    .unwrap();
    assert_eq!(
        hex_of(&buf[..n]),
        "83a474797065 09 a9726571756573744964 a6516d51486769 a67061636b6574 81a161 9201c4020708"
            .replace(' ', "")
    );
    let r = Response::decode("socket.io", b"socket.io-response#/#", &buf[..n])
        .unwrap()
        .unwrap();
    let Response::BroadcastAck { request_id, packet } = r else {
        panic!("{r:?}");
    };
    assert_eq!(request_id, "QmQHgi");
    let mut json = [0u8; 64];
    let len = request::ack_json(packet, 32, &mut json).unwrap();
    assert_eq!(
        std::str::from_utf8(&json[..len]).unwrap(),
        r#"{"a":[1,{"_placeholder":true,"num":0}]}"#
    );
    // No argument: no `packet`.
    let n = request::encode_broadcast_ack("QmQHgi", None, &[], 32, &mut buf).unwrap();
    assert_eq!(buf[0], 0x82);
    let r = Response::decode("socket.io", b"socket.io-response#/#", &buf[..n])
        .unwrap()
        .unwrap();
    assert_eq!(
        r,
        Response::BroadcastAck {
            request_id: "QmQHgi",
            packet: &[]
        }
    );
    // A too small buffer is reported, the buffer untouched.
    let mut small = [0u8; 4];
    assert_eq!(
        request::encode_client_count("QmQHgi", 3, &mut small),
        Err(adapter::Error::BufferTooSmall { required: 47 })
    );
    assert_eq!(small, [0; 4]);
    // Bad answers are typed errors.
    for (bad, err) in [
        (
            &br#"{"type":8,"requestId":"a","clientCount":"x"}"#[..],
            adapter::Error::Malformed,
        ),
        (br#"{"type":8,"requestId":1}"#, adapter::Error::Malformed),
        (br#"{"requestId":"a","rooms":["#, adapter::Error::Json),
        // Found by the fuzz target: room names that are not strings.
        (
            br#"{"requestId":"a","rooms":["r",255,{"x":1}]}"#,
            adapter::Error::Malformed,
        ),
        (b"\x83\xa4type\x09", adapter::Error::Truncated),
    ] {
        assert_eq!(
            Response::decode("socket.io", b"socket.io-response#/#", bad),
            Err(err),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        Response::decode(
            "socket.io",
            b"socket.io#/#",
            br#"{"requestId":"a","rooms":[]}"#
        ),
        Err(adapter::Error::WrongChannel)
    );
}

mod roundtrip {
    use proptest::prelude::*;
    use sockwire::socketio::adapter::request::{self, Query, QueryRequest, Response};

    fn id() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,32}"
    }

    fn unescape(raw: &str) -> String {
        let mut buf = vec![0u8; raw.len()];
        sockwire::json::unescape(raw, &mut buf).unwrap().to_string()
    }

    fn strs(raw: &str) -> Vec<String> {
        sockwire::json::elements(raw).map(unescape).collect()
    }

    fn quoted(s: &str) -> String {
        let mut out = vec![0u8; sockwire::json::str_len(s)];
        let n = sockwire::json::write_str(s, &mut out).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    proptest! {
        /// decode(encode(x)) == x for the requests and answers.
        #[test]
        fn requests_and_answers(
            uid in id(),
            rid in id(),
            select in proptest::collection::vec(".{0,12}", 0..5),
            except in proptest::collection::vec(".{0,12}", 0..5),
            count in any::<u64>(),
            data in proptest::option::of(".{0,20}"),
        ) {
            let ch = b"socket.io-request#/#";
            let resp = b"socket.io-response#/#";
            let mut buf = vec![0u8; 4096];
            let sel: Vec<&str> = select.iter().map(String::as_str).collect();
            let exc: Vec<&str> = except.iter().map(String::as_str).collect();
            let n = request::encode_fetch(&uid, &rid, &sel, &exc, &mut buf).unwrap();
            let q = QueryRequest::decode("socket.io", ch, &buf[..n]).unwrap().unwrap();
            prop_assert_eq!((q.uid, q.request_id), (uid.as_str(), rid.as_str()));
            let Query::Fetch { select: s, except: e } = q.query else { panic!() };
            prop_assert_eq!(strs(s), select.clone());
            prop_assert_eq!(strs(e), except);

            let n = request::encode_all_rooms(&uid, &rid, &mut buf).unwrap();
            let q = QueryRequest::decode("socket.io", ch, &buf[..n]).unwrap().unwrap();
            prop_assert_eq!(q.query, Query::AllRooms);

            let n = request::encode_rooms_response(&rid, &|f| select.iter().for_each(|r| f(r)), &mut buf).unwrap();
            let Some(Response::Rooms { request_id, rooms }) = Response::decode("socket.io", resp, &buf[..n]).unwrap() else { panic!() };
            prop_assert_eq!(request_id, rid.as_str());
            prop_assert_eq!(strs(rooms), select);

            let n = request::encode_client_count(&rid, count, &mut buf).unwrap();
            prop_assert_eq!(
                Response::decode("socket.io", resp, &buf[..n]).unwrap(),
                Some(Response::ClientCount { request_id: &rid, count })
            );

            let json = data.as_deref().map(quoted);
            let n = request::encode_server_side_emit_ack(&rid, json.as_deref(), &mut buf).unwrap();
            let Some(Response::ServerSideEmitAck { request_id, data: got }) = Response::decode("socket.io", resp, &buf[..n]).unwrap() else { panic!() };
            prop_assert_eq!(request_id, rid.as_str());
            prop_assert_eq!(got.map(unescape), data.clone());

            let n = request::encode_broadcast_ack(&rid, json.as_deref(), &[], 32, &mut buf).unwrap();
            let Some(Response::BroadcastAck { request_id, packet }) = Response::decode("socket.io", resp, &buf[..n]).unwrap() else { panic!() };
            prop_assert_eq!(request_id, rid.as_str());
            let mut out = vec![0u8; 256];
            let len = request::ack_json(packet, 32, &mut out).unwrap();
            let back = std::str::from_utf8(&out[..len]).unwrap();
            prop_assert_eq!((back != "null").then(|| unescape(back)), data);
        }
    }
}
