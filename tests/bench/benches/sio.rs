//! Criterion benchmarks of the Socket.IO / Engine.IO codecs in memory, sockwire beside
//! socketioxide 0.18's default parser (`socketioxide-parser-common`, the crate
//! socketioxide 0.18.9 uses) and its engine's polling payload decoder
//! (`engineioxide-core::payload::decoder`). Groups `sio/codec/...`, function ids
//! `sockwire` and `socketioxide...`; the report pairs them as for `benches/ws.rs`.
//!
//! Encode starts from the event's JSON text (`["message",...]`, the name included) on
//! both sides: sockwire's `socketio::Packet::encode` takes raw JSON, and socketioxide's
//! `Parse::encode` takes the `Value` its `encode_value` made from the user's data (the
//! serde step before it is left out of both). Attachments are not copied by either
//! (sockwire sends them as they are, socketioxide hands back its `Bytes`).
//!
//! Decode: sockwire's `Packet::decode` parses the header and checks the JSON's syntax.
//! socketioxide's `decode_str` parses the header only and leaves the JSON to the
//! handler's extractor, so `socketioxide` is `decode_str` + `decode_value` into
//! `serde::de::IgnoredAny` (the JSON read through once, as sockwire checks it) and
//! `socketioxide (header only)` is `decode_str` alone. A binary event is its text and
//! two 1 KiB attachments: socketioxide's `decode_str` + 2 `decode_bin` (which copy each
//! attachment into new `Bytes`); sockwire's `Assembler` (`take_text`, then `take_binary`
//! for each attachment), which checks the text in full as it arrives and copies it and
//! each attachment into its buffer (`[len: u32][bytes]` each).
//!
//! The Engine.IO polling payload: 100 text packets separated by 0x1e. sockwire's
//! `engineio::Payload` decodes in place (base64 attachments are decoded over their own
//! text), so every iteration first copies the body into a buffer, as a server copies it
//! out of its socket; engineioxide decodes a `http_body_util::Full<Bytes>` body (a
//! refcounted clone) through its public `payload::decoder` stream, polled with a no-op
//! waker (the body is always ready).
//!
//! BENCH_QUICK=1 shortens warm-up and measurement for the one-command run.

mod common;
use common::config;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use socketioxide_core::parser::{Parse, ParseConfig, ParseError, ParserState};
use socketioxide_core::{Str, Value, packet::Packet as XPacket};
use socketioxide_parser_common::CommonParser;
use sockwire::socketio::{Assembler, Limits, Packet, PacketType};
use std::collections::VecDeque;
use std::hint::black_box;

/// The event's JSON: a chat message of about 100 bytes.
const EVENT: &str = r#"["message",{"user":"alice","room":"lobby","text":"hello, world: how are you today?","n":42}]"#;
/// The binary event's JSON: two placeholders.
const BINARY: &str = r#"["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
const ATTACHMENT: usize = 1024;

/// The three packets: (name, type, ack id, attachments, JSON).
fn cases() -> [(&'static str, PacketType, Option<u64>, usize, &'static str); 3] {
    [
        ("event", PacketType::Event, None, 0, EVENT),
        ("event-ack-id", PacketType::Event, Some(12), 0, EVENT),
        (
            "binary-event-2-attachments",
            PacketType::BinaryEvent,
            None,
            2,
            BINARY,
        ),
    ]
}

fn attachments() -> [bytes::Bytes; 2] {
    [
        bytes::Bytes::from(sockwire_bench::binary_payload(ATTACHMENT)),
        bytes::Bytes::from(vec![0x5a; ATTACHMENT]),
    ]
}

fn encode(c: &mut Criterion) {
    let bins = attachments();
    for (name, kind, ack_id, n, json) in cases() {
        let mut g = c.benchmark_group(format!("sio/codec/encode-{name}"));
        g.throughput(Throughput::Elements(1));
        let p = packet(kind, ack_id, n, json);
        let mut out = vec![0u8; 4096];
        g.bench_function("sockwire", |b| {
            b.iter(|| {
                let len = black_box(&p).encode(&mut out).unwrap();
                black_box(&out[..len]);
            })
        });
        let value = Value::Str(
            Str::from(json.to_string()),
            (n > 0).then(|| bins.iter().cloned().collect::<VecDeque<_>>()),
        );
        g.bench_function("socketioxide", |b| {
            b.iter(|| {
                let mut packet = XPacket::event("/", black_box(&value).clone());
                if let Some(id) = ack_id {
                    packet.inner.set_ack_id(id as i64);
                }
                black_box(CommonParser.encode(packet))
            })
        });
        g.finish();
    }
}

/// The packet on `/`.
fn packet(kind: PacketType, ack_id: Option<u64>, n: usize, json: &str) -> Packet<'_> {
    Packet {
        kind,
        nsp: "/",
        ack_id,
        attachments: n,
        data: Some(json),
    }
}

/// The packet's text as received.
fn text(kind: PacketType, ack_id: Option<u64>, n: usize, json: &str) -> String {
    let p = packet(kind, ack_id, n, json);
    let mut out = vec![0u8; p.encoded_len()];
    p.encode(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn decode(c: &mut Criterion) {
    let bins = attachments();
    let limits = Limits::default();
    let cfg = ParseConfig::default();
    for (name, kind, ack_id, n, json) in cases() {
        let mut g = c.benchmark_group(format!("sio/codec/decode-{name}"));
        g.throughput(Throughput::Elements(1));
        let t = text(kind, ack_id, n, json);
        let mut asm = Assembler::new(vec![0u8; 4096]);
        g.bench_function("sockwire", |b| {
            b.iter(|| {
                let (p, got) = match asm.take_text(black_box(&t), &limits).unwrap() {
                    Some(done) => done,
                    None => {
                        let mut done = None;
                        for a in &bins {
                            done = asm.take_binary(black_box(a), &limits).unwrap();
                        }
                        done.unwrap()
                    }
                };
                black_box((p.data.map_or(0, str::len), got.len()))
            })
        });
        let s = Str::from(t.clone());
        let xdecode = |check: bool| {
            let state = ParserState::default();
            let mut packet = match CommonParser.decode_str(&cfg, &state, black_box(&s).clone()) {
                Ok(p) => p,
                Err(ParseError::NeedsMoreBinaryData) => {
                    let mut done = None;
                    for a in &bins {
                        match CommonParser.decode_bin(&cfg, &state, black_box(a).clone()) {
                            Ok(p) => done = Some(p),
                            Err(ParseError::NeedsMoreBinaryData) => {}
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    done.unwrap()
                }
                Err(e) => panic!("{e:?}"),
            };
            if check {
                use socketioxide_core::packet::PacketData;
                let (PacketData::Event(v, _) | PacketData::BinaryEvent(v, _)) = &mut packet.inner
                else {
                    panic!("not an event")
                };
                let _: serde::de::IgnoredAny = CommonParser.decode_value(v, true).unwrap();
            }
            packet
        };
        g.bench_function("socketioxide", |b| b.iter(|| black_box(xdecode(true))));
        g.bench_function("socketioxide (header only)", |b| {
            b.iter(|| black_box(xdecode(false)))
        });
        g.finish();
    }
}

fn payload(c: &mut Criterion) {
    use futures_util::Stream;
    const PACKETS: usize = 100;
    let body: Vec<u8> = (0..PACKETS)
        .map(|i| format!("42[\"message\",\"ping\",{i},{{\"user\":\"alice\",\"n\":{i}}}]"))
        .collect::<Vec<_>>()
        .join("\x1e")
        .into_bytes();
    let mut g = c.benchmark_group(format!("sio/codec/eio-payload-decode-{PACKETS}-packets"));
    g.throughput(Throughput::Elements(PACKETS as u64));
    let mut buf = vec![0u8; body.len()];
    g.bench_function("sockwire", |b| {
        b.iter(|| {
            buf.copy_from_slice(black_box(&body));
            let mut n = 0;
            for p in sockwire::engineio::Payload::new(&mut buf) {
                p.unwrap();
                n += 1;
            }
            assert_eq!(n, PACKETS);
        })
    });
    let bytes = bytes::Bytes::from(body.clone());
    g.bench_function("socketioxide (engineioxide)", |b| {
        b.iter(|| {
            let full = http_body_util::Full::new(black_box(&bytes).clone());
            let stream = engineioxide_core::payload::decoder(
                full,
                None,
                engineioxide_core::ProtocolVersion::V4,
                1 << 20,
            );
            let mut stream = std::pin::pin!(stream);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut n = 0;
            while let std::task::Poll::Ready(Some(p)) = stream.as_mut().poll_next(&mut cx) {
                black_box(p.unwrap());
                n += 1;
            }
            assert_eq!(n, PACKETS);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, decode, payload
}
criterion_main!(benches);
