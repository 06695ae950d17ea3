//! permessage-deflate targets: `inflate_diff`, `deflate_roundtrip` and
//! `ws_connection_deflate`.
//!
//! - `inflate_diff`. Input: `in-chunk out-size` then a raw DEFLATE stream.
//!   sockwire's [`Inflater`] (32 KiB window, input and output in the chosen
//!   pieces, then `finish`) against `miniz_oxide` over the same stream with
//!   the permessage-deflate tail and an empty final block appended. Oracles: no
//!   panic; every call makes progress; when both accept, the bytes are equal;
//!   whatever sockwire accepts, miniz_oxide accepts too; the inflated output
//!   is capped at 1 MiB on both sides.
//! - `deflate_roundtrip`. Input: `config` then messages, each `len:u16 bytes`.
//!   sockwire's [`Deflater`] (window 2^(9 + config % 7), hash table, context
//!   takeover or not, whole-message or streamed through small buffers)
//!   compresses every message; sockwire's [`Inflater`] gets every message back,
//!   and so does miniz_oxide for each message that needs no earlier context.
//! - `ws_connection_deflate`. Input: `config in-chunk out-size` then frames
//!   `b0 len:u8 payload`, sent masked by a client; with flag `0x08` in `b0`
//!   the payload is first compressed by sockwire's deflater (so valid streams
//!   are common), otherwise it goes as is (RSV1 as `b0` says). A server
//!   [`Connection`] with a decoder reads the stream whole and in the chosen
//!   pieces with the chosen output buffer. Oracles: no panic; progress; the
//!   same messages and the same error whatever the pieces; text messages are
//!   UTF-8; no message exceeds the size limit; an inflate error closes 1007.

use sockwire::entropy::SplitMix64;
use sockwire::time::Instant;
use sockwire::ws::deflate::{Context, DeflateConfig, Deflater, Inflater, Params, compress_bound};
use sockwire::ws::{Config, Connection, Error, Event, MessageKind, Role};

use crate::reader::R;

const CAP: usize = 1 << 20;
const TAIL_AND_FINAL: [u8; 6] = [0x00, 0x00, 0xff, 0xff, 0x03, 0x00];

/// sockwire's inflater over `data` in `ic`-byte pieces into `oc`-byte outputs.
fn ours(data: &[u8], ic: usize, oc: usize) -> Result<Vec<u8>, sockwire::ws::deflate::InflateError> {
    let mut inf = Inflater::new(vec![0u8; 1 << 15])?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; oc];
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + ic).min(data.len());
        let p = inf.inflate(&data[pos..end], &mut buf)?;
        assert!(p.consumed > 0 || p.written > 0, "no progress");
        out.extend_from_slice(&buf[..p.written]);
        pos += p.consumed;
        if out.len() > CAP {
            return Ok(out);
        }
    }
    loop {
        let (n, done) = inf.finish(&mut buf)?;
        out.extend_from_slice(&buf[..n]);
        if done || out.len() > CAP {
            return Ok(out);
        }
        assert!(n > 0, "finish made no progress");
    }
}

/// The `inflate_diff` target.
pub fn inflate_diff(data: &[u8]) {
    let mut r = R::new(data);
    let ic = 1 + usize::from(r.u8());
    let oc = 1 + usize::from(r.u8()) * 7;
    let stream = r.rest();
    let mine = ours(stream, ic, oc);
    let mut z = stream.to_vec();
    z.extend_from_slice(&TAIL_AND_FINAL);
    let theirs = miniz_oxide::inflate::decompress_to_vec_with_limit(&z, CAP);
    match (&mine, &theirs) {
        (Ok(a), Ok(b)) if a.len() <= CAP => assert_eq!(a, b, "inflated bytes differ"),
        (Ok(a), Err(e)) if a.len() <= CAP => panic!("sockwire accepts, miniz_oxide says {e:?}"),
        _ => {}
    }
}

/// The `deflate_roundtrip` target.
pub fn deflate_roundtrip(data: &[u8]) {
    let mut r = R::new(data);
    let config = r.u8();
    let bits = 9 + u32::from(config % 7);
    let takeover = config & 0x08 == 0;
    let streamed = config & 0x10 != 0;
    let hash = [1usize, 64, 4096][usize::from(config >> 5) % 3];
    let piece = 1 + usize::from(config >> 5);
    let mut def = Deflater::new(vec![0u8; 1 << bits], vec![0u16; hash]).unwrap();
    let mut inf = Inflater::new(vec![0u8; 1 << bits]).unwrap();
    let mut first = true;
    while !r.is_empty() {
        let len = usize::from(r.u16() % 4096);
        let msg = r.bytes(len);
        let c = if streamed {
            let mut c = Vec::new();
            let mut buf = vec![0u8; piece];
            let mut pos = 0;
            while pos < msg.len() {
                let end = (pos + piece * 3).min(msg.len());
                let p = def.compress(&msg[pos..end], &mut buf);
                c.extend_from_slice(&buf[..p.written]);
                pos += p.consumed;
            }
            loop {
                let (n, done) = def.finish(&mut buf);
                c.extend_from_slice(&buf[..n]);
                if done {
                    break c;
                }
            }
        } else {
            let mut out = vec![0u8; compress_bound(msg.len())];
            assert!(
                def.compress_message(msg, &mut out[..compress_bound(msg.len()) - 1])
                    .is_none()
            );
            let n = def
                .compress_message(msg, &mut out)
                .expect("room is the bound");
            out.truncate(n);
            out
        };
        let mut back = Vec::new();
        let mut buf = vec![0u8; piece];
        let mut pos = 0;
        while pos < c.len() {
            let p = inf
                .inflate(&c[pos..], &mut buf)
                .expect("own output inflates");
            back.extend_from_slice(&buf[..p.written]);
            pos += p.consumed;
        }
        loop {
            let (n, done) = inf.finish(&mut buf).expect("own output ends cleanly");
            back.extend_from_slice(&buf[..n]);
            if done {
                break;
            }
        }
        assert_eq!(back, msg, "round trip");
        if first || !takeover {
            let mut z = c.clone();
            z.extend_from_slice(&TAIL_AND_FINAL);
            let m = miniz_oxide::inflate::decompress_to_vec(&z).expect("miniz_oxide inflates it");
            assert_eq!(m, msg, "miniz_oxide disagrees");
        }
        if !takeover {
            def.reset();
            inf.reset();
        }
        first = false;
    }
}

type Ctx = Context<Vec<u8>, Vec<u8>, Vec<u16>>;

fn server(limit: u64) -> (Connection, Ctx) {
    let cfg = DeflateConfig::DEFAULT;
    let a = Params::default().agreed(Role::Server, &cfg);
    let ctx = Context::new(a, vec![0; 1 << 15], vec![0; 1 << 15], vec![0; 256]).unwrap();
    let config = Config {
        max_message_size: limit,
        ..Config::default()
    };
    (Connection::server(config), ctx)
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<(MessageKind, Vec<u8>)>,
    partial: Vec<u8>,
    error: Option<Error>,
}

fn run_connection(wire: &[u8], limit: u64, ic: usize, oc: usize) -> Outcome {
    let (mut conn, mut ctx) = server(limit);
    let mut buf = wire.to_vec();
    let mut out = vec![0u8; oc];
    let mut o = Outcome {
        messages: Vec::new(),
        partial: Vec::new(),
        error: None,
    };
    let now = Instant::from_millis(0);
    let mut pos = 0;
    let mut tx = [0u8; 256];
    loop {
        let end = (pos + ic).min(buf.len());
        let r = match conn.handle_input_deflate(now, &mut buf[pos..end], &mut ctx, &mut out) {
            Ok(r) => r,
            Err(e) => {
                assert!(!e.is_local(), "local error {e:?}");
                if matches!(e, Error::Inflate(_)) {
                    assert_eq!(e.close_code(), Some(1007));
                }
                o.error = Some(e);
                return o;
            }
        };
        assert!(r.consumed <= end - pos);
        pos += r.consumed;
        let progressed = r.consumed > 0 || r.event.is_some();
        if let Some(Event::Data { kind, data, fin }) = r.event {
            o.partial.extend_from_slice(data);
            assert!(o.partial.len() as u64 <= limit, "message over the limit");
            if fin {
                if kind == MessageKind::Text {
                    assert!(std::str::from_utf8(&o.partial).is_ok(), "text not UTF-8");
                }
                o.messages.push((kind, std::mem::take(&mut o.partial)));
            }
        }
        while conn.poll_transmit(&mut tx).unwrap() > 0 {}
        if pos == buf.len() && !progressed && !conn.has_pending_data() {
            return o;
        }
        assert!(progressed || pos == buf.len(), "no progress");
    }
}

/// The `ws_connection_deflate` target.
pub fn ws_connection_deflate(data: &[u8]) {
    let mut r = R::new(data);
    let config = r.u8();
    let limit = [1u64 << 20, 0, 1, 100, 1000, 70_000][usize::from(config % 6)];
    let ic = 1 + usize::from(r.u8());
    let oc = 1 + usize::from(r.u8()) * 3;
    let mut client = Connection::client(Config::default(), SplitMix64::new(7));
    let mut wire = Vec::new();
    while !r.is_empty() {
        let b0 = r.u8();
        let len = usize::from(r.u8());
        let payload = r.bytes(len).to_vec();
        let payload = if b0 & 0x08 != 0 {
            let mut out = vec![0u8; compress_bound(payload.len())];
            let Some(n) = compress(&payload, &mut out) else {
                continue;
            };
            out.truncate(n);
            out
        } else {
            payload
        };
        let mut frame = vec![0u8; payload.len() + 14];
        let Ok(n) = client.begin_frame(MessageKind::Binary, payload.len() as u64, true, &mut frame)
        else {
            continue;
        };
        // Any first byte: fin, RSV bits and opcode as the fuzzer says.
        frame[0] = b0 & 0xf7 | if b0 & 0x08 != 0 { 0x40 } else { 0 };
        let m = client.send_payload(&payload, &mut frame[n..]).unwrap_or(0);
        wire.extend_from_slice(&frame[..n + m]);
    }
    let whole = run_connection(&wire, limit, wire.len().max(1), 1 << 16);
    let pieces = run_connection(&wire, limit, ic, oc);
    assert_eq!(
        whole.messages, pieces.messages,
        "messages depend on the pieces"
    );
    assert_eq!(whole.error, pieces.error, "error depends on the pieces");
}

/// Compresses one message with a fresh deflater (no earlier context).
fn compress(data: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut d = Deflater::new(vec![0u8; 1 << 15], vec![0u16; 256]).ok()?;
    d.compress_message(data, out)
}

/// Seeds: the RFC 7692 vectors and a few streams of each block type.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let stored: &[u8] = &[
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let text = b"permessage-deflate seeds, permessage-deflate seeds, again and again and again";
    let dynamic = miniz_oxide::deflate::compress_to_vec(&text.repeat(20), 9);
    let mut out = Vec::new();
    for (name, s) in [
        ("hello", hello),
        ("stored", stored),
        ("dynamic", &dynamic[..]),
    ] {
        for (ic, oc) in [(255u8, 255u8), (0, 0), (6, 1)] {
            out.push((
                "inflate_diff",
                format!("{name}-{ic}-{oc}"),
                [&[ic, oc][..], s].concat(),
            ));
        }
    }
    for config in [0u8, 0x08, 0x16, 0x3f, 0xe5] {
        let mut w = crate::seeds::Writer::default();
        w.u8(config);
        for m in [&b"Hello"[..], b"Hello", b"", &text[..]] {
            w.u16(m.len() as u16).bytes(m);
        }
        out.push(("deflate_roundtrip", format!("config-{config:02x}"), w.0));
    }
    for (name, config, ic, oc) in [
        ("whole", 0u8, 255u8, 255u8),
        ("bytes", 0, 0, 0),
        ("limit", 3, 4, 2),
    ] {
        let mut w = crate::seeds::Writer::default();
        w.u8(config).u8(ic).u8(oc);
        // Compressed text and binary, the RFC "Hello" as is, fragments, a ping.
        w.u8(0x89).short(&text[..]);
        w.u8(0x8a).short(&text[..40]);
        w.u8(0xc1).short(hello);
        w.u8(0x41).short(&hello[..3]);
        w.u8(0x89).short(b"ping");
        w.u8(0x80).short(&hello[3..]);
        w.u8(0xc2).short(stored);
        out.push(("ws_connection_deflate", name.to_string(), w.0));
    }
    out
}
