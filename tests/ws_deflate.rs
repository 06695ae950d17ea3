//! permessage-deflate on `ws::Connection`: compressed messages both ways,
//! every window size and both takeover modes, chunking invariance of input and
//! output buffers, the size limit while inflating, UTF-8 fail-fast, and the
//! RSV1 rules.

use sockwire::entropy::SplitMix64;
use sockwire::time::Instant;
use sockwire::ws::deflate::{Context, DeflateConfig, Params, compress_bound};
use sockwire::ws::{Config, Connection, Error, Event, MAX_HEADER_LEN, MessageKind, Role, State};

type Ctx = Context<Vec<u8>, Vec<u8>, Vec<u16>>;

fn now() -> Instant {
    Instant::from_millis(0)
}

fn ctx(params: &Params, role: Role, cfg: &DeflateConfig) -> Ctx {
    let a = params.agreed(role, cfg);
    Context::new(
        a,
        vec![0; 1 << a.receive_window_bits],
        vec![0; 1 << a.send_window_bits],
        vec![0; 1024],
    )
    .unwrap()
}

/// Feeds `wire` to `conn` in pieces of `in_chunk` bytes with an output buffer
/// of `out_len`, and collects whole messages (or the first error).
fn receive(
    conn: &mut Connection<impl sockwire::entropy::Entropy>,
    ctx: &mut Ctx,
    wire: &[u8],
    in_chunk: usize,
    out_len: usize,
) -> Result<Vec<(MessageKind, Vec<u8>)>, Error> {
    let mut buf = wire.to_vec();
    let mut out = vec![0u8; out_len];
    let (mut pos, mut msgs, mut cur) = (0, Vec::new(), Vec::new());
    loop {
        let end = (pos + in_chunk).min(buf.len());
        let r = conn.handle_input_deflate(now(), &mut buf[pos..end], ctx, &mut out)?;
        pos += r.consumed;
        let progressed = r.consumed > 0 || r.event.is_some();
        if let Some(Event::Data { kind, data, fin }) = r.event {
            cur.extend_from_slice(data);
            if fin {
                msgs.push((kind, std::mem::take(&mut cur)));
            }
        }
        if pos == buf.len() && !conn.has_pending_data() && !progressed {
            return Ok(msgs);
        }
        assert!(progressed || pos == buf.len(), "no progress at {pos}");
    }
}

fn messages() -> Vec<(MessageKind, Vec<u8>)> {
    let text = "Hello, permessage-deflate! κόσμε 𝄞 ".repeat(40);
    let mut x = 1u32;
    let noise: Vec<u8> = (0..3000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    vec![
        (MessageKind::Text, b"Hello".to_vec()),
        (MessageKind::Text, b"Hello".to_vec()),
        (MessageKind::Text, Vec::new()),
        (MessageKind::Text, text.clone().into_bytes()),
        (MessageKind::Binary, noise),
        (MessageKind::Binary, vec![7; 70_000]),
        (MessageKind::Text, text.into_bytes()),
    ]
}

/// Every message of [`messages`], compressed, one frame each.
fn send_all(conn: &mut Connection<impl sockwire::entropy::Entropy>, ctx: &mut Ctx) -> Vec<u8> {
    let mut wire = Vec::new();
    for (kind, data) in messages() {
        let mut out = vec![0; MAX_HEADER_LEN + compress_bound(data.len())];
        let n = conn.send_deflate(kind, &data, ctx, &mut out).unwrap();
        assert_eq!(out[0] & 0x40, 0x40, "RSV1 on a compressed message");
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

/// A client compresses, a server inflates (and back), at every window size,
/// with and without context takeover, through small buffers.
#[test]
fn round_trip_both_roles() {
    for bits in 9..=15u8 {
        for nct in [false, true] {
            let cfg = DeflateConfig {
                send_window_bits: bits,
                receive_window_bits: bits,
                send_no_context_takeover: nct,
                receive_no_context_takeover: nct,
            };
            let params = Params {
                server_no_context_takeover: nct,
                client_no_context_takeover: nct,
                server_max_window_bits: Some(bits),
                client_max_window_bits: Some(bits),
            };
            let mut client = Connection::client(Config::default(), SplitMix64::new(9));
            let mut server = Connection::server(Config::default());
            let mut cctx = ctx(&params, Role::Client, &cfg);
            let mut sctx = ctx(&params, Role::Server, &cfg);
            // Client to server.
            let wire = send_all(&mut client, &mut cctx);
            let (ic, oc) = if bits == 9 { (7, 3) } else { (1000, 100) };
            let got = receive(&mut server, &mut sctx, &wire, ic, oc).unwrap();
            assert_eq!(got, messages(), "bits {bits} nct {nct}");
            // Server to client.
            let wire = send_all(&mut server, &mut sctx);
            let got = receive(&mut client, &mut cctx, &wire, 4096, 1).unwrap();
            assert_eq!(got, messages(), "bits {bits} nct {nct}");
        }
    }
}

/// The same stream split at every position, with a one-byte and a large output
/// buffer, gives the same messages; compressed and uncompressed messages mix.
#[test]
fn chunking_invariance() {
    let cfg = DeflateConfig::DEFAULT;
    let params = Params::default();
    let mut client = Connection::client(Config::default(), SplitMix64::new(1));
    let mut cctx = ctx(&params, Role::Client, &cfg);
    let mut wire = Vec::new();
    let mut out = vec![0; 1000];
    for (i, (kind, data)) in messages().into_iter().take(4).enumerate() {
        let data = &data[..data.len().min(300)];
        let n = if i == 2 {
            client.send_binary(b"plain", &mut out).unwrap()
        } else {
            client
                .send_deflate(kind, data, &mut cctx, &mut out)
                .unwrap()
        };
        wire.extend_from_slice(&out[..n]);
    }
    let whole = receive(
        &mut Connection::server(Config::default()),
        &mut ctx(&params, Role::Server, &cfg),
        &wire,
        wire.len(),
        1 << 16,
    )
    .unwrap();
    assert_eq!(whole.len(), 4);
    assert_eq!(whole[2], (MessageKind::Binary, b"plain".to_vec()));
    for split in 0..=wire.len() {
        for out_len in [1, 5] {
            let mut server = Connection::server(Config::default());
            let mut sctx = ctx(&params, Role::Server, &cfg);
            let mut buf = wire.clone();
            let mut o = vec![0u8; out_len];
            let (mut msgs, mut cur) = (Vec::new(), Vec::new());
            for (a, b) in [(0, split), (split, wire.len())] {
                let mut pos = a;
                loop {
                    let r = server
                        .handle_input_deflate(now(), &mut buf[pos..b], &mut sctx, &mut o)
                        .unwrap();
                    pos += r.consumed;
                    let ev = r.event.is_some();
                    if let Some(Event::Data { kind, data, fin }) = r.event {
                        cur.extend_from_slice(data);
                        if fin {
                            msgs.push((kind, std::mem::take(&mut cur)));
                        }
                    }
                    if pos == b && !ev && !server.has_pending_data() {
                        break;
                    }
                }
            }
            assert_eq!(msgs, whole, "split {split} out {out_len}");
        }
    }
}

/// A client frame with RSV1 and `payload` (already compressed), masked.
fn cframe(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    assert!(payload.len() < 126);
    let mut f = vec![b0, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn server_pair(max_message: u64) -> (Connection, Ctx) {
    let config = Config {
        max_message_size: max_message,
        ..Config::default()
    };
    let server = Connection::server(config);
    (
        server,
        ctx(&Params::default(), Role::Server, &DeflateConfig::DEFAULT),
    )
}

#[test]
fn rfc7692_hello_and_rsv1_rules() {
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let (mut s, mut c) = server_pair(1 << 20);
    let got = receive(&mut s, &mut c, &cframe(0xc1, &hello), 100, 100).unwrap();
    assert_eq!(got, vec![(MessageKind::Text, b"Hello".to_vec())]);
    // Fragmented: RSV1 on the first frame only.
    let wire = [cframe(0x41, &hello[..3]), cframe(0x80, &hello[3..])].concat();
    let got = receive(&mut s, &mut c, &wire, 100, 100).unwrap();
    assert_eq!(got, vec![(MessageKind::Text, b"Hello".to_vec())]);
    for (what, wire) in [
        (
            "RSV1 on a continuation",
            [cframe(0x41, &hello[..3]), cframe(0xc0, &hello[3..])].concat(),
        ),
        ("RSV1 on a ping", cframe(0xc9, b"")),
        ("RSV2", cframe(0xa1, &hello)),
    ] {
        let (mut s, mut c) = server_pair(1 << 20);
        assert_eq!(
            receive(&mut s, &mut c, &wire, 100, 100),
            Err(Error::ReservedBits),
            "{what}"
        );
    }
    // Without a decoder, RSV1 is a protocol error as before.
    let mut s = Connection::server(Config::default());
    let mut buf = cframe(0xc1, &hello);
    assert_eq!(
        s.handle_input(now(), &mut buf).err(),
        Some(Error::ReservedBits)
    );
}

#[test]
fn malformed_data_closes_1007() {
    let (mut s, mut c) = server_pair(1 << 20);
    let e = receive(&mut s, &mut c, &cframe(0xc2, &[0x06]), 100, 100).unwrap_err();
    assert!(matches!(e, Error::Inflate(_)));
    assert_eq!(e.close_code(), Some(1007));
    assert_eq!(s.state(), State::Closing);
    let mut tx = [0u8; 16];
    let n = s.poll_transmit(&mut tx).unwrap();
    assert_eq!(&tx[..n], &[0x88, 0x02, 0x03, 0xef]);
}

/// A client frame with RSV1 carrying `c`, DEFLATE data made elsewhere.
fn compressed_frame(kind: MessageKind, c: &[u8]) -> Vec<u8> {
    let mut client = Connection::client(Config::default(), SplitMix64::new(2));
    let mut wire = vec![0u8; c.len() + 14];
    let n = client
        .begin_frame(kind, c.len() as u64, true, &mut wire)
        .unwrap();
    wire[0] |= 0x40;
    let m = client.send_payload(c, &mut wire[n..]).unwrap();
    wire.truncate(n + m);
    wire
}

/// A bomb: 10 MB of zeros in a few KiB; the limit stops it while inflating.
#[test]
fn decompression_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; 10 << 20];
    let c = miniz_oxide::deflate::compress_to_vec(&zeros, 9);
    assert!(c.len() < 20_000);
    let mut wire = compressed_frame(MessageKind::Binary, &c);
    let (mut s, mut cx) = server_pair(100_000);
    let mut out = vec![0u8; 4096];
    let (mut pos, mut total, mut calls) = (0, 0, 0);
    let err = loop {
        calls += 1;
        match s.handle_input_deflate(now(), &mut wire[pos..], &mut cx, &mut out) {
            Ok(r) => {
                pos += r.consumed;
                if let Some(Event::Data { data, .. }) = r.event {
                    total += data.len();
                }
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::MessageTooLarge);
    assert!(
        total <= 100_000 && calls < 100,
        "{total} bytes in {calls} calls"
    );
}

/// Invalid UTF-8 in compressed text fails at once, not at the end.
#[test]
fn utf8_fails_fast() {
    let mut bad = vec![b'a'; 1000];
    bad[10] = 0xff;
    let c = miniz_oxide::deflate::compress_to_vec(&bad, 0);
    let mut wire = compressed_frame(MessageKind::Text, &c);
    let (mut s, mut cx) = server_pair(1 << 20);
    let mut out = vec![0u8; 64];
    // The first 40 of its 1000-odd bytes are enough.
    let r = s.handle_input_deflate(now(), &mut wire[..40], &mut cx, &mut out);
    assert_eq!(r.err(), Some(Error::InvalidUtf8));
    assert_eq!(s.state(), State::Closing);
}
