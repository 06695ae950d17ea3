//! The smallest read and write buffers that still carry a WebSocket message of
//! any size, found by driving a real client/server pair with tiny buffers.
//!
//! `tests/footprint/run.sh` runs this test and copies its `MINBUF` lines into the
//! footprint table; as a plain test it guards the guarantees a firmware's memory
//! budget rests on:
//! - a read buffer of 1 byte carries every frame (data of any size, control frames
//!   with the largest payload), because the connection keeps partial headers and
//!   control payloads itself;
//! - `begin_frame` + `send_payload` stream a message of any size through a write
//!   buffer that holds one frame header (14 bytes for a client, 10 for a server);
//! - `poll_transmit` writes automatic frames (pong, close reply) in pieces, so even
//!   a 1-byte write buffer carries them;
//! - commands that write a whole control frame (`ping`, `pong`, `close`) need the
//!   frame: header (2, client 6) + payload (at most 125);
//! - the opening handshake needs the whole HTTP head in one buffer.

use sockwire::entropy::{Entropy, SplitMix64};
use sockwire::time::Instant;
use sockwire::ws::{
    self, Accept, ClientHandshake, ClientRequest, Config, Connection, Event, MessageKind,
    ServerHandshake, State,
};

const NOW: Instant = Instant::from_millis(0);
/// Message sizes around every length encoding boundary, up to one that needs the
/// 8-byte length (so the header is as long as it gets).
const SIZES: &[usize] = &[0, 1, 125, 126, 65_535, 65_536, 70_000];
const BIG_W: usize = 256;

/// What a receiver saw, assembled for comparison.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    messages: Vec<(MessageKind, Vec<u8>)>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    closes: Vec<(Option<u16>, String)>,
    partial: Vec<u8>,
    max_piece: usize,
}

impl Seen {
    fn record(&mut self, event: Option<Event<'_>>) {
        match event {
            Some(Event::Data { kind, data, fin }) => {
                self.max_piece = self.max_piece.max(data.len());
                self.partial.extend_from_slice(data);
                if fin {
                    self.messages
                        .push((kind, std::mem::take(&mut self.partial)));
                }
            }
            Some(Event::Ping(p)) => self.pings.push(p.to_vec()),
            Some(Event::Pong(p)) => self.pongs.push(p.to_vec()),
            Some(Event::Close { code, reason }) => self.closes.push((code, reason.to_string())),
            Some(other) => panic!("unexpected event {other:?}"),
            None => {}
        }
    }
}

/// Feeds `wire` to `conn` through a read buffer of `r` bytes, the way a firmware
/// would: top the buffer up, hand it over, keep what was not consumed. After every
/// call it drains `poll_transmit` through a write buffer of `w` bytes into `reply`.
fn receive<E: Entropy>(
    conn: &mut Connection<E>,
    wire: &[u8],
    r: usize,
    w: usize,
    seen: &mut Seen,
    reply: &mut Vec<u8>,
) -> Result<(), ws::Error> {
    let mut rbuf = vec![0u8; r];
    let mut wbuf = vec![0u8; w];
    let (mut src, mut have, mut stalls) = (0, 0, 0);
    loop {
        let take = (r - have).min(wire.len() - src);
        rbuf[have..have + take].copy_from_slice(&wire[src..src + take]);
        have += take;
        src += take;
        if have == 0 {
            return Ok(());
        }
        let input = conn.handle_input(NOW, &mut rbuf[..have])?;
        let consumed = input.consumed;
        seen.record(input.event);
        loop {
            let n = conn.poll_transmit(&mut wbuf)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&wbuf[..n]);
        }
        rbuf.copy_within(consumed..have, 0);
        have -= consumed;
        stalls = if consumed == 0 { stalls + 1 } else { 0 };
        assert!(
            stalls < 3,
            "input stalled with {have} bytes in a {r}-byte buffer"
        );
    }
}

/// Streams one message as one frame through a write buffer of `w` bytes.
fn stream_message<E: Entropy>(
    conn: &mut Connection<E>,
    kind: MessageKind,
    payload: &[u8],
    w: usize,
) -> Result<Vec<u8>, ws::Error> {
    let mut wbuf = vec![0u8; w];
    let mut wire = Vec::new();
    let n = conn.begin_frame(kind, payload.len() as u64, true, &mut wbuf)?;
    wire.extend_from_slice(&wbuf[..n]);
    let mut off = 0;
    while off < payload.len() {
        let n = conn.send_payload(&payload[off..], &mut wbuf)?;
        assert!(
            n > 0,
            "send_payload made no progress with a {w}-byte buffer"
        );
        wire.extend_from_slice(&wbuf[..n]);
        off += n;
    }
    Ok(wire)
}

/// Text of exactly `len` bytes with 2-, 3- and 4-byte code points, so small
/// pieces split code points.
fn text(len: usize) -> Vec<u8> {
    let mut s = String::new();
    while s.len() < len {
        s.push_str("aé€😀");
    }
    while s.len() > len {
        s.pop();
    }
    while s.len() < len {
        s.push('z');
    }
    s.into_bytes()
}

fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// A connected pair after a real opening handshake, and the head sizes.
struct Pair {
    client: Connection<SplitMix64>,
    server: Connection,
    request_len: usize,
    response_len: usize,
}

fn handshake() -> Pair {
    let mut entropy = SplitMix64::new(7);
    let mut hs = ClientHandshake::new(ClientRequest::new("device.local", "/chat"), &mut entropy);
    let mut out = [0u8; 512];
    let request_len = hs.write_request(&mut out).unwrap();
    let request = out[..request_len].to_vec();
    // The request needs exactly its own length: one byte less is refused.
    assert!(matches!(
        hs.write_request(&mut out[..request_len - 1]),
        Err(ws::Error::BufferTooSmall { .. }) | Err(ws::Error::Http(_))
    ));

    // The server needs the whole head in one buffer: one byte short is "read more".
    let mut server_hs = ServerHandshake::new();
    assert_eq!(
        server_hs.handle_input(&request[..request_len - 1]),
        Ok(None)
    );
    let req = server_hs.handle_input(&request).unwrap().unwrap();
    assert_eq!(req.head_len(), request_len);
    let response_len = req.accept(&Accept::default(), &mut out).unwrap();
    assert!(
        req.accept(&Accept::default(), &mut out[..response_len - 1])
            .is_err()
    );
    let response = out[..response_len].to_vec();

    assert_eq!(hs.handle_input(&response[..response_len - 1]), Ok(None));
    let res = hs.handle_input(&response).unwrap().unwrap();
    assert_eq!(res.head_len(), response_len);
    Pair {
        client: Connection::client(Config::default(), entropy),
        server: Connection::server(Config::default()),
        request_len,
        response_len,
    }
}

fn expected_messages() -> Vec<(MessageKind, Vec<u8>)> {
    SIZES
        .iter()
        .flat_map(|&n| {
            [
                (MessageKind::Text, text(n)),
                (MessageKind::Binary, binary(n)),
            ]
        })
        .collect()
}

/// Sends every message of `expected_messages` from `tx` to `rx` with write buffer
/// `w` and read buffer `r`.
fn carry<E1: Entropy, E2: Entropy>(
    tx: &mut Connection<E1>,
    rx: &mut Connection<E2>,
    w: usize,
    r: usize,
) -> Result<Seen, ws::Error> {
    let mut seen = Seen::default();
    for (kind, payload) in expected_messages() {
        let wire = stream_message(tx, kind, &payload, w)?;
        let mut reply = Vec::new();
        receive(rx, &wire, r, BIG_W, &mut seen, &mut reply).expect("valid frames");
        assert!(reply.is_empty());
    }
    Ok(seen)
}

/// The smallest write buffer `begin_frame` + `send_payload` work with for every
/// message size, and a check that one byte less is refused with `BufferTooSmall`.
fn smallest_streaming_write_buffer(role: ws::Role) -> usize {
    for w in 1..=32 {
        let mut p = handshake();
        let result = match role {
            ws::Role::Client => carry(&mut p.client, &mut p.server, w, 1),
            ws::Role::Server => carry(&mut p.server, &mut p.client, w, 1),
        };
        match result {
            Ok(seen) => {
                assert_eq!(seen.messages, expected_messages());
                return w;
            }
            Err(ws::Error::BufferTooSmall { required }) => assert!(required > w),
            Err(e) => panic!("{role:?} with a {w}-byte write buffer: {e:?}"),
        }
    }
    panic!("no write buffer up to 32 bytes works for {role:?}");
}

#[test]
fn one_byte_read_buffer_carries_every_frame() {
    let mut p = handshake();
    // Data of every size both ways, read one byte at a time.
    let seen = carry(&mut p.client, &mut p.server, BIG_W, 1).unwrap();
    assert_eq!(seen.messages, expected_messages());
    assert_eq!(seen.max_piece, 1);
    let seen = carry(&mut p.server, &mut p.client, BIG_W, 1).unwrap();
    assert_eq!(seen.messages, expected_messages());
}

#[test]
fn streaming_write_buffer_is_one_frame_header() {
    assert_eq!(smallest_streaming_write_buffer(ws::Role::Client), 14);
    assert_eq!(smallest_streaming_write_buffer(ws::Role::Server), 10);
}

/// Largest ping from `a`, read one byte at a time by `b`, answered through a
/// one-byte write buffer; the pong read one byte at a time by `a`.
fn ping_round_trip<E1: Entropy, E2: Entropy>(a: &mut Connection<E1>, b: &mut Connection<E2>) {
    let payload = binary(125);
    let mut out = [0u8; 131];
    let n = a.ping(&payload, &mut out).unwrap();
    let (mut seen_b, mut reply) = (Seen::default(), Vec::new());
    receive(b, &out[..n], 1, 1, &mut seen_b, &mut reply).unwrap();
    assert_eq!(seen_b.pings, std::slice::from_ref(&payload));
    let (mut seen_a, mut none) = (Seen::default(), Vec::new());
    receive(a, &reply, 1, 1, &mut seen_a, &mut none).unwrap();
    assert_eq!(seen_a.pongs, [payload]);
    assert!(none.is_empty());
}

#[test]
fn automatic_frames_need_one_byte_of_write_buffer() {
    let mut p = handshake();
    ping_round_trip(&mut p.client, &mut p.server);
    ping_round_trip(&mut p.server, &mut p.client);

    // The largest close (123-byte reason) from the client; the server's reply is
    // drained one byte at a time.
    let reason = "r".repeat(123);
    let mut out = [0u8; 131];
    let n = p.client.close(NOW, 1000, &reason, &mut out).unwrap();
    let (mut seen_s, mut reply) = (Seen::default(), Vec::new());
    receive(&mut p.server, &out[..n], 1, 1, &mut seen_s, &mut reply).unwrap();
    assert_eq!(seen_s.closes, [(Some(1000), reason)]);
    assert_eq!(p.server.state(), State::Closed);
    let (mut seen_c, mut none) = (Seen::default(), Vec::new());
    receive(&mut p.client, &reply, 1, 1, &mut seen_c, &mut none).unwrap();
    assert_eq!(seen_c.closes, [(Some(1000), String::new())]);
    assert_eq!(p.client.state(), State::Closed);
}

/// Smallest `out` for a command writing a whole control frame with `len` payload bytes.
fn smallest_control_buffer<E: Entropy>(conn: &mut Connection<E>, len: usize) -> usize {
    let payload = vec![b'p'; len];
    let mut out = [0u8; 200];
    for w in 1..=200 {
        match conn.ping(&payload, &mut out[..w]) {
            Ok(n) => {
                assert_eq!(n, w);
                return w;
            }
            Err(ws::Error::BufferTooSmall { required }) => assert!(required > w),
            Err(e) => panic!("{e:?}"),
        }
    }
    unreachable!()
}

#[test]
fn control_commands_need_the_whole_frame() {
    let mut p = handshake();
    assert_eq!(smallest_control_buffer(&mut p.client, 125), 131);
    assert_eq!(smallest_control_buffer(&mut p.server, 125), 127);
    assert_eq!(smallest_control_buffer(&mut p.client, 0), 6);
    assert_eq!(smallest_control_buffer(&mut p.server, 0), 2);
}

/// The lines `tests/footprint/run.sh` prints (run it with `--nocapture`).
#[test]
fn report() {
    let p = handshake();
    let client_w = smallest_streaming_write_buffer(ws::Role::Client);
    let server_w = smallest_streaming_write_buffer(ws::Role::Server);
    let lines = [
        "read buffer, any message (data of any size, 125-byte control payloads): 1 B".to_string(),
        format!(
            "write buffer, any message (begin_frame + send_payload): client {client_w} B, server {server_w} B"
        ),
        "write buffer, automatic pong / close reply (poll_transmit, in pieces): 1 B".to_string(),
        "write buffer, ping/pong/close commands (whole frame): 2 + payload (server), 6 + payload (client); 131 B covers all".to_string(),
        format!(
            "opening handshake, whole head in one buffer: client request {} B (host \"device.local\", path \"/chat\"), server response {} B",
            p.request_len, p.response_len
        ),
    ];
    for line in lines {
        println!("MINBUF {line}");
    }
    // The same numbers for the script's per-role memory budget.
    println!(
        "MINBUFVAL read=1 client_write={client_w} server_write={server_w} request={} response={}",
        p.request_len, p.response_len
    );
}
