//! The Redis adapter's decoders: the Node adapter's broadcast messages
//! (MessagePack, transcoded to JSON) and the RESP client codec.
//!
//! Input: a mode byte, then the bytes.
//!
//! - mode 0, adapter message: a channel-form byte (bit 0: the room channel
//!   `socket.io#/#room#`, else `socket.io#/#`), then the message. Whatever
//!   decodes must transcode to JSON that serde_json reads, with as many
//!   placeholders as binary values; and encoding the decoded broadcast back
//!   and decoding that again gives the same JSON, rooms and attachments.
//!   Output buffers too small by one byte are refused with the size needed.
//! - mode 1, JSON arguments: the bytes as the arguments of an `Outgoing`
//!   (comma-separated JSON values); what encodes decodes back to the same
//!   values (numbers compared as doubles, as JavaScript reads them).
//! - mode 2, RESP: frames parsed one after the other from the bytes; each
//!   frame's every strict prefix needs more bytes; a frame consumed is
//!   within the input.
//! - mode 3, a message of the request channel: a JSON request that decodes
//!   names string lists serde reads, and encodes back to a request that
//!   decodes to the same lists; a `serverSideEmit` has JSON data and
//!   re-encodes to the same arguments; a MessagePack broadcast with acks is
//!   checked as in mode 0; an `allRooms` or `fetchSockets` names string
//!   lists and encodes back to a request that decodes the same.
//! - mode 4, a message of the response channel: an answer that decodes
//!   encodes back (JSON answers to the same JSON values, a client's ack to
//!   the same argument) and decodes the same.

use serde_json::Value;
use sockwire::socketio::adapter::request::{self, Request};
use sockwire::socketio::adapter::{Error, Flags, Incoming, Outgoing, resp};

use crate::reader::R;

const DEPTH: usize = 32;

fn args_of(m: &Incoming<'_>) -> Result<String, Error> {
    let need = match m.args(DEPTH, &mut []) {
        Err(Error::BufferTooSmall { required }) => required,
        Ok(0) => 0,
        other => other.map(|_| 0)?,
    };
    if need > 0 {
        let mut small = vec![0xeeu8; need - 1];
        assert_eq!(
            m.args(DEPTH, &mut small),
            Err(Error::BufferTooSmall { required: need })
        );
        assert!(
            small.iter().all(|&b| b == 0xee),
            "a refused buffer was written"
        );
    }
    let mut out = vec![0u8; need];
    let n = m.args(DEPTH, &mut out)?;
    assert_eq!(n, need);
    Ok(String::from_utf8(out).expect("the transcoder writes UTF-8"))
}

fn adapter_message(channel: &[u8], message: &[u8]) {
    let Ok(m) = Incoming::decode("socket.io", channel, message) else {
        return;
    };
    check_incoming(&m, message.len());
}

fn check_incoming(m: &Incoming<'_>, size: usize) {
    let message_len = size;
    let Ok(args) = args_of(m) else {
        return;
    };
    let wrapped = format!("[{args}]");
    let v: Value = serde_json::from_str(&wrapped)
        .unwrap_or_else(|e| panic!("transcoded arguments are not JSON ({e}): {wrapped}"));
    let placeholders = wrapped.matches("\"_placeholder\":true").count();
    let bins: Vec<&[u8]> = m.attachments().collect();
    assert_eq!(placeholders, bins.len(), "{wrapped}");
    let _ = v;
    let rooms: Vec<&str> = m.rooms().collect();
    let except: Vec<&str> = m.except().collect();
    let out = Outgoing {
        nsp: m.nsp,
        rooms: &rooms,
        except: &except,
        flags: m.flags,
        name: m.name,
        args: &args,
        attachments: &bins,
    };
    let mut ch = vec![0u8; 256 + m.nsp.len() + rooms.first().map_or(0, |r| r.len())];
    let Ok(c) = out.channel("socket.io", &mut ch) else {
        return;
    };
    let mut buf = vec![0u8; message_len * 4 + 256];
    let n = out
        .encode("fuzzer", DEPTH, &mut buf)
        .unwrap_or_else(|e| panic!("a decoded broadcast does not encode: {e}: {args}"));
    let back = Incoming::decode("socket.io", &ch[..c], &buf[..n])
        .unwrap_or_else(|e| panic!("sockwire's encoding does not decode: {e}"));
    assert_eq!(args_of(&back).unwrap(), args);
    assert_eq!(back.rooms().collect::<Vec<_>>(), rooms);
    assert_eq!(back.attachments().collect::<Vec<_>>(), bins);
    assert_eq!((back.name, back.nsp, back.flags), (m.name, m.nsp, m.flags));
}

fn strings(raw: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(raw)
        .unwrap_or_else(|e| panic!("a decoded request's list is not strings ({e}): {raw}"))
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn request_message(message: &[u8]) {
    let channel = b"socket.io-request#/#";
    if message.first() != Some(&b'{') {
        if let Ok(Some(m)) = Incoming::decode_with_ack("socket.io", channel, message) {
            check_incoming(&m, message.len());
        }
        return;
    }
    if let Ok(Some(e)) = request::ServerSideEmit::decode("socket.io", channel, message) {
        let data = format!("[{},{}]", e.name, e.args);
        let data = data.replace(",]", "]");
        // JSON's syntax, whatever the numbers' magnitude (`4290e1535` is
        // JSON; serde_json's `Value` refuses it as out of range).
        serde_json::from_str::<serde::de::IgnoredAny>(&data)
            .unwrap_or_else(|err| panic!("serverSideEmit data is not JSON ({err}): {data}"));
        let mut buf = vec![0u8; message.len() + 64];
        let name: String = serde_json::from_str(e.name).expect("the name is a JSON string");
        let n = request::encode_server_side_emit(e.uid, &name, e.args, &mut buf)
            .expect("a decoded serverSideEmit encodes");
        let back = request::ServerSideEmit::decode("socket.io", channel, &buf[..n])
            .expect("decodes")
            .expect("is a serverSideEmit");
        assert_eq!(back.args, e.args);
    }
    if let Ok(Some(q)) = request::QueryRequest::decode("socket.io", channel, message) {
        let mut buf = vec![0u8; message.len() * 6 + 128];
        let n = match q.query {
            request::Query::AllRooms => request::encode_all_rooms(q.uid, q.request_id, &mut buf),
            request::Query::Fetch { select, except } => {
                let (select, except) = (strings(select), strings(except));
                request::encode_fetch(
                    q.uid,
                    q.request_id,
                    &refs(&select),
                    &refs(&except),
                    &mut buf,
                )
            }
        }
        .expect("a decoded query encodes");
        let back = request::QueryRequest::decode("socket.io", channel, &buf[..n])
            .expect("sockwire's query decodes")
            .expect("and is one");
        assert_eq!(back.request_id, q.request_id);
        match (back.query, q.query) {
            (request::Query::AllRooms, request::Query::AllRooms) => {}
            (
                request::Query::Fetch {
                    select: a,
                    except: b,
                },
                request::Query::Fetch {
                    select: c,
                    except: d,
                },
            ) => {
                assert_eq!(strings(a), strings(c));
                assert_eq!(strings(b), strings(d));
            }
            other => panic!("{other:?}"),
        }
    }
    let Ok(Some(r)) = Request::decode("socket.io", channel, message) else {
        return;
    };
    let (select, except, rooms) = (strings(r.select), strings(r.except), strings(r.rooms));
    let out = request::Outgoing {
        nsp: r.nsp,
        kind: r.kind,
        select: &refs(&select),
        except: &refs(&except),
        rooms: &refs(&rooms),
    };
    let mut buf = vec![0u8; message.len() * 6 + 128];
    let n = out
        .encode(r.uid, &mut buf)
        .expect("a decoded request encodes");
    let back = Request::decode("socket.io", channel, &buf[..n])
        .expect("sockwire's request decodes")
        .expect("and is handled");
    assert_eq!((back.kind, back.nsp), (r.kind, r.nsp));
    assert_eq!(strings(back.select), select);
    assert_eq!(strings(back.except), except);
    assert_eq!(strings(back.rooms), rooms);
}

/// JSON values equal as JavaScript reads them (numbers as doubles, to the
/// last bit or so).
fn js_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // serde_json (without `float_roundtrip`) may round long numbers
        // off by an ulp.
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-15 * x.abs().max(y.abs()),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| js_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| js_eq(p, q)))
        }
        _ => a == b,
    }
}

fn json_args(text: &str) {
    let out = Outgoing {
        nsp: "/",
        rooms: &[],
        except: &[],
        flags: Flags::default(),
        name: "ev",
        args: text,
        attachments: &[],
    };
    let mut buf = vec![0u8; text.len() * 2 + 128];
    let Ok(n) = out.encode("fuzzer", DEPTH, &mut buf) else {
        return;
    };
    let m = Incoming::decode("socket.io", b"socket.io#/#", &buf[..n]).expect("decodes");
    let back = args_of(&m).expect("transcodes back");
    let b = serde_json::from_str::<Value>(&format!("[{back}]")).unwrap_or_else(|e| {
        panic!("transcoded back to something not JSON ({e}): {text} -> {back}")
    });
    // serde_json refuses numbers beyond doubles (`1e600`), which JavaScript
    // reads as Infinity and writes back as null.
    let Ok(a) = serde_json::from_str::<Value>(&format!("[{text}]")) else {
        return;
    };
    // serde_json keeps the last of duplicate keys, JavaScript too, and so
    // does the MessagePack map; numbers beyond doubles are left alone.
    if !text.contains(['e', 'E']) && text.len() < 4096 {
        assert!(
            js_eq(&a, &b) || text.contains("\"_placeholder\""),
            "{text} -> {back}"
        );
    }
}

fn resp_frames(mut input: &[u8]) {
    let limits = resp::Limits {
        max_bulk: 4096,
        max_line: 64,
        max_elements: 64,
        max_depth: 4,
    };
    for _ in 0..64 {
        match resp::parse(input, &limits) {
            Ok(Some((frame, n))) => {
                assert!(n > 0 && n <= input.len());
                for k in [0, n / 2, n - 1] {
                    assert_eq!(
                        resp::parse(&input[..k], &limits),
                        Ok(None),
                        "prefix {k} of {n}"
                    );
                }
                let _ = (frame.pubsub(), frame.numsub(b"x"), frame.error());
                input = &input[n..];
            }
            _ => return,
        }
    }
}

fn response_message(message: &[u8]) {
    use request::Response;
    let channel = b"socket.io-response#/#";
    let Ok(Some(r)) = Response::decode("socket.io", channel, message) else {
        return;
    };
    let mut buf = vec![0u8; message.len() * 6 + 128];
    let json = |raw: &str| -> Value {
        serde_json::from_str(raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
    };
    let n = match r {
        Response::Rooms { request_id, rooms } => {
            let list = strings(rooms);
            request::encode_rooms_response(
                request_id,
                &|f| list.iter().for_each(|r| f(r)),
                &mut buf,
            )
        }
        Response::Sockets {
            request_id,
            sockets,
        } => {
            let inner = sockets.trim();
            let inner = &inner[1..inner.len() - 1];
            request::encode_sockets_response(request_id, &|w| w.put(inner.as_bytes()), &mut buf)
        }
        Response::ServerSideEmitAck { request_id, data } => {
            request::encode_server_side_emit_ack(request_id, data, &mut buf)
        }
        Response::ClientCount { request_id, count } => {
            request::encode_client_count(request_id, count, &mut buf)
        }
        Response::BroadcastAck { request_id, packet } => {
            let need = match request::ack_json(packet, DEPTH, &mut []) {
                Ok(n) => n,
                Err(Error::BufferTooSmall { required }) => required,
                Err(_) => return,
            };
            let mut text = vec![0u8; need];
            request::ack_json(packet, DEPTH, &mut text).expect("transcodes");
            let text = String::from_utf8(text).expect("UTF-8");
            json(&text);
            let bins: Vec<&[u8]> = {
                let mut r = sockwire::socketio::adapter::msgpack::Reader::new(packet);
                let mut v = Vec::new();
                while !r.is_empty() {
                    match r.item() {
                        Ok(sockwire::socketio::adapter::msgpack::Item::Bin(b)) => v.push(b),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                v
            };
            let arg = (!packet.is_empty()).then_some(text.as_str());
            match request::encode_broadcast_ack(request_id, arg, &bins, DEPTH, &mut buf) {
                Ok(n) => Ok(n),
                // Keys that repeat, or more than the placeholders name.
                Err(_) => return,
            }
        }
        _ => return,
    }
    .expect("a decoded answer encodes");
    let back = Response::decode("socket.io", channel, &buf[..n])
        .expect("sockwire's answer decodes")
        .expect("and is one");
    assert_eq!(back.request_id(), r.request_id());
    match (back, r) {
        (Response::Rooms { rooms: a, .. }, Response::Rooms { rooms: b, .. }) => {
            assert_eq!(strings(a), strings(b))
        }
        (Response::Sockets { sockets: a, .. }, Response::Sockets { sockets: b, .. }) => {
            assert_eq!(json(a), json(b))
        }
        (
            Response::ServerSideEmitAck { data: a, .. },
            Response::ServerSideEmitAck { data: b, .. },
        ) => assert_eq!(a.map(json), b.map(json)),
        (Response::ClientCount { count: a, .. }, Response::ClientCount { count: b, .. }) => {
            assert_eq!(a, b)
        }
        (Response::BroadcastAck { .. }, Response::BroadcastAck { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// The `redis_adapter` target.
pub fn redis_adapter(data: &[u8]) {
    let mut r = R::new(data);
    match r.u8() % 5 {
        0 => {
            let channel: &[u8] = if r.bool() {
                b"socket.io#/#room#"
            } else {
                b"socket.io#/#"
            };
            adapter_message(channel, r.rest());
        }
        1 => json_args(&String::from_utf8_lossy(r.rest())),
        2 => resp_frames(r.rest()),
        3 => request_message(r.rest()),
        _ => response_message(r.rest()),
    }
}

/// Seeds: the golden vectors, argument lists, RESP replies.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let vectors = include_str!("../../tests/data/redis_adapter/vectors.txt");
    for line in vectors.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split(' ');
        let (Some(name), Some(channel), Some(hex)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let mode = if channel.starts_with("socket.io-request") {
            3
        } else {
            0
        };
        let mut input = vec![mode, u8::from(channel.ends_with("1#"))];
        if mode == 3 {
            input.pop();
        }
        input.extend(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()),
        );
        out.push(("redis_adapter", format!("golden-{name}"), input));
    }
    let requests = include_str!("../../tests/data/redis_adapter/requests.txt");
    for line in requests.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split(' ');
        let (Some(name), Some(_), Some(hex)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let mut input = vec![3u8];
        input.extend(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()),
        );
        out.push(("redis_adapter", format!("request-{name}"), input));
    }
    let answers = include_str!("../../tests/data/redis_adapter/answers.txt");
    for line in answers.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split(' ');
        let (Some(name), Some(channel), Some(hex)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let response = channel.contains("-response#");
        let mut input = vec![if response { 4u8 } else { 3 }];
        input.extend(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()),
        );
        let kind = if response { "answer" } else { "query" };
        out.push(("redis_adapter", format!("{kind}-{name}"), input));
    }
    for (name, args) in [
        ("args-mixed", r#""a",{"b":[1,-2,3.5,null,true]},"é😀\n",[]"#),
        (
            "args-numbers",
            "0,255,65536,-33,4294967296,-2147483649,0.1,1e300,-0",
        ),
    ] {
        let mut input = vec![1u8];
        input.extend_from_slice(args.as_bytes());
        out.push(("redis_adapter", name.into(), input));
    }
    let mut input = vec![2u8];
    input.extend_from_slice(
        b"*3\r\n$10\r\npsubscribe\r\n$13\r\nsocket.io#/#*\r\n:1\r\n\
          *4\r\n$8\r\npmessage\r\n$13\r\nsocket.io#/#*\r\n$12\r\nsocket.io#/#\r\n$2\r\n\x93\xa0\r\n\
          >3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n:3\r\n-ERR x\r\n*2\r\n$1\r\nc\r\n:2\r\n%1\r\n+a\r\n#t\r\n",
    );
    out.push(("redis_adapter", "resp-replies".into(), input));
    out
}
