//! permessage-deflate on the Engine.IO server endpoint (`engineio::Config::
//! per_message_deflate`), on the virtual clock: the offer is answered only
//! when enabled (and only with heap storage), compressed messages cross both
//! ways through a tiny `out`, bad compressed data closes with 1007 and an
//! inflated message over `maxPayload` with 1009, and a Socket.IO broadcast
//! gives a deflate session a compressed frame and a plain one the shared
//! frames. Also: `engineio::ClientSession` offering deflate against the endpoint,
//! chunking invariance of compressed input, incompressible messages sent
//! uncompressed (the compressor forgets them), and windows taken on first
//! use.

use sockwire::engineio::server::{Conn, Entry};
use sockwire::engineio::{Config, Data, Event, PerMessageDeflate, Server, Sid, Transmit};
use sockwire::entropy::SplitMix64;
use sockwire::socketio;
use sockwire::socketio::rooms::IndexedRooms;
use sockwire::storage::{Buffers, Fixed, Growable, Storage};
use sockwire::time::Instant;
use sockwire::ws::deflate::{Context, DeflateConfig};
use sockwire::ws::{
    self, ClientHandshake, ClientRequest, Connection, MAX_HEADER_LEN, MessageKind, Role,
};

type Ctx = Context<Vec<u8>, Vec<u8>, Vec<u16>>;
/// The storages the tests run on.
trait Store: Storage<u32, Sid, Conn, Entry<u32, <Self as Buffers>::Buf, ()>> {}
impl<S: Storage<u32, Sid, Conn, Entry<u32, <S as Buffers>::Buf, ()>>> Store for S {}

type Sio = socketio::Server<u32, Growable, SplitMix64, IndexedRooms>;
type Eio<S = Growable> = Server<u32, (), S, SplitMix64>;

const T0: Instant = Instant::from_millis(0);
/// The endpoint's output buffer once the handshake is out: a few bytes.
const TINY: usize = 16;

fn deflate_config() -> Config {
    Config {
        per_message_deflate: Some(PerMessageDeflate::DEFAULT),
        ..Config::default()
    }
}

/// A client WebSocket that offered permessage-deflate (when `offer`).
struct Peer {
    conn: Connection<SplitMix64>,
    ctx: Option<Ctx>,
    /// Bytes from the server not yet read.
    rx: Vec<u8>,
    /// The message being assembled.
    cur: Vec<u8>,
    /// Whole messages, with whether they came compressed (RSV1).
    got: Vec<(MessageKind, Vec<u8>)>,
}

/// Drains everything the endpoint has for `conn` through an `out` of `size`.
fn drain<S: Store>(s: &mut Server<u32, (), S, SplitMix64>, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    let mut all = Vec::new();
    while let Some(Transmit { len, .. }) = s.poll_transmit(&mut out).unwrap() {
        all.extend_from_slice(&out[..len]);
    }
    all
}

/// Opens a WebSocket session; returns the peer, the 101's head and the sid.
fn open<S: Store>(
    s: &mut Server<u32, (), S, SplitMix64>,
    conn: u32,
    offer: bool,
) -> (Peer, String, Sid) {
    let mut entropy = SplitMix64::new(u64::from(conn) + 7);
    let mut hs = ClientHandshake::new(
        ClientRequest::new("127.0.0.1", "/engine.io/?EIO=4&transport=websocket"),
        &mut entropy,
    );
    let cfg = DeflateConfig::DEFAULT;
    if offer {
        hs = hs.offer_deflate(cfg);
    }
    let mut req = vec![0u8; 512];
    let n = hs.write_request(&mut req).unwrap();
    let mut req = req[..n].to_vec();
    let i = s.handle_input(T0, conn, &mut req).unwrap();
    assert_eq!(i.consumed, n);
    let wire = drain(s, 512);
    let res = hs.handle_input(&wire).unwrap().unwrap();
    let head = String::from_utf8(wire[..res.head_len()].to_vec()).unwrap();
    let ctx = res.deflate().map(|p| {
        let a = p.agreed(Role::Client, &cfg);
        Context::new(
            a,
            vec![0; 1 << a.receive_window_bits],
            vec![0; 1 << a.send_window_bits],
            vec![0; 1024],
        )
        .unwrap()
    });
    let mut peer = Peer {
        conn: Connection::client(ws::Config::DEFAULT, SplitMix64::new(99)),
        ctx,
        rx: wire[res.head_len()..].to_vec(),
        cur: Vec::new(),
        got: Vec::new(),
    };
    peer.read(&[]);
    let (_, open) = peer.got.remove(0);
    let open = String::from_utf8(open).unwrap();
    assert!(open.starts_with("0{\"sid\":\""), "{open}");
    let sid = Sid::parse(&open[9..29]).unwrap();
    (peer, head, sid)
}

impl Peer {
    /// Reads server bytes, collecting whole messages.
    fn read(&mut self, wire: &[u8]) {
        self.rx.extend_from_slice(wire);
        let mut buf = std::mem::take(&mut self.rx);
        let mut out = [0u8; 64];
        let mut pos = 0;
        loop {
            let r = match self.ctx.as_mut() {
                Some(ctx) => self
                    .conn
                    .handle_input_deflate(T0, &mut buf[pos..], ctx, &mut out)
                    .unwrap(),
                None => self.conn.handle_input(T0, &mut buf[pos..]).unwrap(),
            };
            pos += r.consumed;
            let progressed = r.consumed > 0 || r.event.is_some();
            if let Some(ws::Event::Data { kind, data, fin }) = r.event {
                self.cur.extend_from_slice(data);
                if fin {
                    self.got.push((kind, std::mem::take(&mut self.cur)));
                }
            }
            if !progressed && !self.conn.has_pending_data() {
                break;
            }
        }
        self.rx = buf[pos..].to_vec();
    }

    /// A whole message, compressed when the context exists and `compress`.
    fn frame(&mut self, kind: MessageKind, data: &[u8], compress: bool) -> Vec<u8> {
        let mut out = vec![0u8; MAX_HEADER_LEN + ws::deflate::compress_bound(data.len())];
        let n = match (self.ctx.as_mut(), compress) {
            (Some(ctx), true) => self.conn.send_deflate(kind, data, ctx, &mut out).unwrap(),
            _ => match kind {
                MessageKind::Text => self
                    .conn
                    .send_text(std::str::from_utf8(data).unwrap(), &mut out)
                    .unwrap(),
                MessageKind::Binary => self.conn.send_binary(data, &mut out).unwrap(),
            },
        };
        out.truncate(n);
        out
    }
}

/// Feeds `wire` to the endpoint in pieces of `chunk` bytes; returns the
/// messages delivered.
fn feed<S: Store>(
    s: &mut Server<u32, (), S, SplitMix64>,
    conn: u32,
    wire: &[u8],
    chunk: usize,
) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut pos = 0;
    loop {
        let end = (pos + chunk).min(wire.len());
        pending.extend_from_slice(&wire[pos..end]);
        pos = end;
        loop {
            let i = s.handle_input(T0, conn, &mut pending).unwrap();
            let consumed = i.consumed;
            let had = i.message.is_some();
            if let Some((_, m)) = i.message {
                got.push(match m {
                    Data::Text(t) => t.as_bytes().to_vec(),
                    Data::Binary(b) => b.to_vec(),
                });
            }
            pending.drain(..consumed);
            if consumed == 0 && !had {
                break;
            }
        }
        if pos == wire.len() {
            return got;
        }
    }
}

/// 100 KB of repeated JSON, as a Socket.IO event would carry it.
fn big_json() -> String {
    let mut s = String::from("[\"big\",[");
    let mut i = 0;
    while s.len() < 100_000 {
        s.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item\",\"tags\":[\"a\",\"b\"]}},"
        ));
        i += 1;
    }
    s.push_str("0]]");
    s
}

#[test]
fn offer_answered_only_when_enabled() {
    // Default: declined, as the reference server.
    let mut s: Eio = Server::new(Config::default(), SplitMix64::new(1));
    let (peer, head, _) = open(&mut s, 1, true);
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    assert!(peer.ctx.is_none());
    // Enabled: accepted.
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(1));
    let (peer, head, sid) = open(&mut s, 1, true);
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate"),
        "{head}"
    );
    assert!(peer.ctx.is_some());
    assert!(s.session(&sid).unwrap().0.is_deflate());
    // Enabled, no offer: nothing.
    let (peer, head, sid) = open(&mut s, 2, false);
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    assert!(peer.ctx.is_none() && !s.session(&sid).unwrap().0.is_deflate());
    // Fixed storage has no heap for the windows: declined.
    let mut s: Eio<Fixed<4, 2, 4096>> = Server::new(deflate_config(), SplitMix64::new(1));
    let (peer, head, _) = open(&mut s, 1, true);
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    assert!(peer.ctx.is_none());
}

#[test]
fn compressed_messages_both_ways_through_a_tiny_out() {
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(3));
    let (mut peer, _, sid) = open(&mut s, 1, true);
    let json = big_json();
    let text = format!("4{json}");
    // ClientSession to server: compressed, fed 100 bytes at a time.
    let wire = peer.frame(MessageKind::Text, text.as_bytes(), true);
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the compressed frame");
    assert!(
        wire.len() < text.len() / 10,
        "{} bytes on the wire",
        wire.len()
    );
    let got = feed(&mut s, 1, &wire, 100);
    assert_eq!(got, vec![json.as_bytes().to_vec()]);
    // A binary message, compressed, and a small one uncompressed.
    let bin: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    let mut wire = peer.frame(MessageKind::Binary, &bin, true);
    wire.extend(peer.frame(MessageKind::Text, b"4small", false));
    let got = feed(&mut s, 1, &wire, 37);
    assert_eq!(got, vec![bin.clone(), b"small".to_vec()]);

    // Server to client: at or over the threshold compressed, under it not;
    // everything through a 16-byte out.
    s.send_text(&sid, &json).unwrap();
    s.send_binary(&sid, &bin).unwrap();
    s.send_text(&sid, "tiny").unwrap();
    s.send_text(&sid, &json).unwrap();
    let wire = drain(&mut s, TINY);
    assert!(
        wire.len() < 2 * json.len() / 10,
        "{} bytes on the wire",
        wire.len()
    );
    assert_eq!(wire[0], 0xc1, "FIN, RSV1, text");
    peer.read(&wire);
    let got: Vec<_> = peer.got.drain(..).collect();
    assert_eq!(
        got,
        vec![
            (MessageKind::Text, text.clone().into_bytes()),
            (MessageKind::Binary, bin),
            (MessageKind::Text, b"4tiny".to_vec()),
            (MessageKind::Text, text.into_bytes()),
        ]
    );
}

/// The close code in the close frame at the end of `wire`.
fn close_code(wire: &[u8]) -> u16 {
    let i = wire
        .iter()
        .rposition(|&b| b == 0x88)
        .expect("a close frame");
    u16::from_be_bytes([wire[i + 2], wire[i + 3]])
}

#[test]
fn bad_compressed_data_closes_with_1007() {
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(4));
    let (mut peer, _, _) = open(&mut s, 1, true);
    // A text frame with RSV1 whose payload is a reserved block type (BTYPE 3).
    let mut wire = peer.frame(MessageKind::Text, b"4xxxxxxx", false);
    wire[0] |= 0x40;
    let mask = [wire[2], wire[3], wire[4], wire[5]];
    for (i, b) in wire[6..].iter_mut().enumerate() {
        *b = 0xff ^ mask[i % 4];
    }
    assert!(feed(&mut s, 1, &wire, 3).is_empty());
    let out = drain(&mut s, TINY);
    assert_eq!(close_code(&out), 1007);
    assert!(matches!(s.poll_event(), Some(Event::Opened { .. })));
    assert!(matches!(s.poll_event(), Some(Event::Closed { .. })));
}

#[test]
fn inflated_past_max_payload_closes_with_1009() {
    let config = Config {
        max_payload: 10_000,
        ..deflate_config()
    };
    let mut s: Eio = Server::new(config, SplitMix64::new(5));
    let (mut peer, _, _) = open(&mut s, 1, true);
    let zeros = vec![b'0'; 200_000];
    let wire = peer.frame(MessageKind::Text, &zeros, true);
    assert!(wire.len() < 10_000);
    assert!(feed(&mut s, 1, &wire, 64).is_empty());
    assert_eq!(close_code(&drain(&mut s, TINY)), 1009);
}

/// A Socket.IO broadcast: a session whose WebSocket negotiated deflate gets
/// the packet compressed with its own context, a plain one the shared
/// frames; both read the same packet.
#[test]
fn broadcast_compresses_for_deflate_sessions() {
    let eio = Config {
        path: "/socket.io/",
        ..deflate_config()
    };
    let mut s: Sio = socketio::Server::new(eio, socketio::Config::default(), SplitMix64::new(8));
    let mut peers = Vec::new();
    for (conn, offer) in [(1u32, true), (2, false)] {
        let mut entropy = SplitMix64::new(u64::from(conn));
        let mut hs = ClientHandshake::new(
            ClientRequest::new("127.0.0.1", "/socket.io/?EIO=4&transport=websocket"),
            &mut entropy,
        );
        if offer {
            hs = hs.offer_deflate(DeflateConfig::DEFAULT);
        }
        let mut req = vec![0u8; 512];
        let n = hs.write_request(&mut req).unwrap();
        let mut req = req[..n].to_vec();
        s.handle_input(T0, conn, &mut req).unwrap();
        let wire = sio_drain(&mut s, 512);
        let res = hs.handle_input(&wire).unwrap().unwrap();
        let ctx = res.deflate().map(|p| {
            let a = p.agreed(Role::Client, &DeflateConfig::DEFAULT);
            Context::new(a, vec![0; 32768], vec![0; 32768], vec![0; 1024]).unwrap()
        });
        assert_eq!(ctx.is_some(), offer);
        let mut peer = Peer {
            conn: Connection::client(ws::Config::DEFAULT, SplitMix64::new(5)),
            ctx,
            rx: wire[res.head_len()..].to_vec(),
            cur: Vec::new(),
            got: Vec::new(),
        };
        peer.read(&[]);
        let open = String::from_utf8(peer.got.remove(0).1).unwrap();
        let sid = Sid::parse(&open[9..29]).unwrap();
        let mut connect = peer.frame(MessageKind::Text, b"40", false);
        s.handle_input(T0, conn, &mut connect).unwrap();
        while s.poll_event().is_some() {}
        s.accept(&sid, "/").unwrap();
        peer.read(&sio_drain(&mut s, 512));
        assert!(peer.got.remove(0).1.starts_with(b"40{\"sid\""));
        peers.push(peer);
    }
    let json = big_json();
    let args = &json[8..json.len() - 1];
    let r = s.broadcast("/", &[], &[], "big", args, &[]).unwrap();
    assert_eq!(r.delivered, 2);
    // Only one connection writes at a time per transmit: split by handle.
    let mut out = vec![0u8; TINY];
    let mut wires: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        wires[t.conn as usize - 1].extend_from_slice(&out[..t.len]);
    }
    assert_eq!(wires[0][0], 0xc1, "compressed for the deflate session");
    assert!(wires[0].len() < json.len() / 10);
    assert_eq!(wires[1][0], 0x81, "the shared plain frame");
    assert!(wires[1].len() > json.len());
    let mut texts = Vec::new();
    for (peer, wire) in peers.iter_mut().zip(&wires) {
        peer.read(wire);
        assert_eq!(peer.got.len(), 1);
        texts.push(peer.got[0].1.clone());
    }
    assert_eq!(texts[0], texts[1]);
    assert!(texts[0].starts_with(b"42[\"big\","));
}

fn sio_drain(s: &mut Sio, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    let mut all = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        all.extend_from_slice(&out[..t.len]);
    }
    all
}

/// `engineio::ClientSession` offering deflate (`ClientConfig::per_message_deflate`)
/// against the endpoint: both compress large messages, through 16-byte
/// output buffers on both sides.
#[test]
fn client_offers_and_both_compress() {
    use sockwire::engineio::{ClientConfig, ClientSession};
    use sockwire::ws::Assembler;
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(11));
    let config = ClientConfig {
        per_message_deflate: Some(PerMessageDeflate::DEFAULT),
        ..ClientConfig::default()
    };
    let mut client = ClientSession::new(T0, config, vec![0u8; 1 << 20], SplitMix64::new(12));
    let mut entropy = SplitMix64::new(13);
    let offer = client.deflate_offer().expect("an offer");
    let hs = ClientHandshake::new(
        ClientRequest::new("127.0.0.1", "/engine.io/?EIO=4&transport=websocket"),
        &mut entropy,
    );
    let mut hs = hs.offer_deflate(offer);
    let mut req = vec![0u8; 512];
    let n = hs.write_request(&mut req).unwrap();
    let mut req = req[..n].to_vec();
    s.handle_input(T0, 1, &mut req).unwrap();
    let wire = drain(&mut s, 512);
    let res = hs.handle_input(&wire).unwrap().unwrap();
    let head = String::from_utf8_lossy(&wire[..res.head_len()]).to_string();
    assert!(head.contains("permessage-deflate"), "{head}");
    client.enable_deflate(res.deflate().unwrap()).unwrap();
    assert!(client.is_deflate());
    let mut rx = wire[res.head_len()..].to_vec();
    let mut asm = Assembler::new(vec![0u8; 1 << 20]);
    let mut got: Vec<String> = Vec::new();
    let mut read = |client: &mut ClientSession<Vec<u8>, SplitMix64>, rx: &mut Vec<u8>| {
        loop {
            let r = client.handle_input(T0, rx, &mut asm).unwrap();
            let consumed = r.consumed;
            let had = r.message.is_some();
            if let Some(Data::Text(t)) = r.message {
                got.push(t.to_string());
            }
            rx.drain(..consumed);
            if consumed == 0 && !had {
                break;
            }
        }
    };
    read(&mut client, &mut rx);
    assert!(client.is_open());
    let json = big_json();
    client.send_text(&json).unwrap();
    client.send_text("hi").unwrap();
    let mut out = [0u8; TINY];
    let mut up = Vec::new();
    loop {
        let n = client.poll_transmit(&mut out).unwrap();
        if n == 0 {
            break;
        }
        up.extend_from_slice(&out[..n]);
    }
    assert_eq!(up[0], 0xc1, "FIN, RSV1, text");
    assert!(up.len() < json.len() / 10, "{}", up.len());
    let msgs = feed(&mut s, 1, &up, 50);
    assert_eq!(msgs, vec![json.as_bytes().to_vec(), b"hi".to_vec()]);
    let mut sid = None;
    s.for_each_session(|id, _, _| sid = Some(*id));
    let sid = sid.unwrap();
    s.send_text(&sid, &json).unwrap();
    let mut down = drain(&mut s, TINY);
    assert!(down.len() < json.len() / 10);
    read(&mut client, &mut down);
    assert_eq!(got, vec![json]);
}

/// Every input chunking gives the same messages, compressed or not, with
/// context takeover across them.
#[test]
fn chunking_invariance_of_compressed_input() {
    let text = format!("4{}", "{\"k\":\"v\",\"n\":[1,2,3]},".repeat(100));
    for chunk in [1, 2, 3, 5, 8, 13, 64, 1000] {
        let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(31));
        let (mut peer, _, _) = open(&mut s, 1, true);
        let mut wire = peer.frame(MessageKind::Text, text.as_bytes(), true);
        wire.extend(peer.frame(MessageKind::Text, b"4plain", false));
        wire.extend(peer.frame(MessageKind::Text, text.as_bytes(), true));
        wire.extend(peer.frame(MessageKind::Binary, &[1, 2, 3], true));
        let got = feed(&mut s, 1, &wire, chunk);
        assert_eq!(
            got,
            vec![
                text.as_bytes()[1..].to_vec(),
                b"plain".to_vec(),
                text.as_bytes()[1..].to_vec(),
                vec![1, 2, 3],
            ],
            "chunk {chunk}"
        );
    }
}

/// A message that does not shrink goes out uncompressed (so its queue entry
/// is never larger than the plain one), and the compressor forgets it: the
/// next compressed message still inflates at the peer.
#[test]
fn incompressible_messages_go_uncompressed() {
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(41));
    let (mut peer, _, sid) = open(&mut s, 1, true);
    let mut x = 0x9e37_79b9_u32;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let json = big_json();
    s.send_text(&sid, &json).unwrap();
    s.send_binary(&sid, &noise).unwrap();
    s.send_text(&sid, &json).unwrap();
    let wire = drain(&mut s, TINY);
    // Three frames: compressed text, plain binary, compressed text.
    let mut kinds = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        kinds.push(wire[at]);
        let (len, hl) = match wire[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([wire[at + 2], wire[at + 3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[at + 2..at + 10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        at += hl + len;
    }
    assert_eq!(kinds, [0xc1, 0x82, 0xc1]);
    peer.read(&wire);
    let got: Vec<_> = peer.got.drain(..).map(|(_, m)| m).collect();
    assert_eq!(
        got,
        vec![
            format!("4{json}").into_bytes(),
            noise,
            format!("4{json}").into_bytes()
        ]
    );
}

/// The windows are taken on first use: nothing when negotiated, the encoder
/// with the first message of at least the threshold, the decoder with the
/// first compressed message (seen through the session's `Debug`).
#[test]
fn windows_are_allocated_on_first_use() {
    let mut s: Eio = Server::new(deflate_config(), SplitMix64::new(51));
    let (mut peer, _, sid) = open(&mut s, 1, true);
    let state = |s: &Eio| format!("{:?}", s.session(&sid).unwrap().0);
    assert!(
        state(&s).contains("inflater: false, deflater: false"),
        "{}",
        state(&s)
    );
    s.send_text(&sid, "small").unwrap();
    let small = peer.frame(MessageKind::Text, b"4small", false);
    feed(&mut s, 1, &small, 100);
    assert!(state(&s).contains("inflater: false, deflater: false"));
    s.send_text(&sid, &big_json()).unwrap();
    assert!(state(&s).contains("inflater: false, deflater: true"));
    let z = peer.frame(MessageKind::Text, b"4compressed", true);
    assert_eq!(feed(&mut s, 1, &z, 100), vec![b"compressed".to_vec()]);
    assert!(state(&s).contains("inflater: true, deflater: true"));
}
