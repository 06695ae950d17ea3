//! Property tests for Engine.IO: packets and polling payloads survive encode
//! and decode, and a session's WebSocket input gives the same messages however
//! the bytes are split across reads.

use proptest::prelude::*;
use sockwire::engineio::{Config, Data, Packet, Payload, PayloadWriter, Session, Transport};
use sockwire::entropy::SplitMix64;
use sockwire::time::Instant;
use sockwire::ws::{self, Assembler, MessageKind};

/// An owned packet that the codec can carry (text without the separator).
#[derive(Clone, Debug, PartialEq, Eq)]
enum P {
    Close,
    Ping(String),
    Pong(String),
    Text(String),
    Binary(Vec<u8>),
    Upgrade,
    Noop,
}

impl P {
    fn packet(&self) -> Packet<'_> {
        match self {
            P::Close => Packet::Close,
            P::Ping(d) => Packet::Ping(d),
            P::Pong(d) => Packet::Pong(d),
            P::Text(t) => Packet::Message(Data::Text(t)),
            P::Binary(b) => Packet::Message(Data::Binary(b)),
            P::Upgrade => Packet::Upgrade,
            P::Noop => Packet::Noop,
        }
    }

    fn of(p: Packet<'_>) -> P {
        match p {
            Packet::Close => P::Close,
            Packet::Ping(d) => P::Ping(d.into()),
            Packet::Pong(d) => P::Pong(d.into()),
            Packet::Message(Data::Text(t)) => P::Text(t.into()),
            Packet::Message(Data::Binary(b)) => P::Binary(b.to_vec()),
            Packet::Upgrade => P::Upgrade,
            Packet::Noop => P::Noop,
            Packet::Open(_) => panic!("not generated"),
        }
    }
}

fn no_separator() -> impl Strategy<Value = String> {
    "[^\u{1e}]{0,60}"
}

fn packet() -> impl Strategy<Value = P> {
    prop_oneof![
        Just(P::Close),
        prop_oneof![Just(String::new()), Just("probe".to_owned())].prop_map(P::Ping),
        prop_oneof![Just(String::new()), Just("probe".to_owned())].prop_map(P::Pong),
        no_separator().prop_map(P::Text),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(P::Binary),
        Just(P::Upgrade),
        Just(P::Noop),
    ]
}

proptest! {
    #[test]
    fn a_packet_decodes_to_itself(p in packet()) {
        let packet = p.packet();
        let mut out = vec![0u8; packet.encoded_len()];
        prop_assert_eq!(packet.encode(&mut out), Ok(out.len()));
        prop_assert_eq!(Packet::decode(&mut out).map(P::of), Ok(p));
    }

    #[test]
    fn a_payload_decodes_to_its_packets(ps in prop::collection::vec(packet(), 1..20)) {
        let mut out = vec![0u8; 20_000];
        let mut w = PayloadWriter::new(&mut out);
        for p in &ps {
            w.push(&p.packet()).unwrap();
        }
        let n = w.len();
        let got: Result<Vec<P>, _> = Payload::new(&mut out[..n]).map(|r| r.map(P::of)).collect();
        prop_assert_eq!(got, Ok(ps));
    }

    /// Messages sent by a WebSocket client, read by the session in pieces cut
    /// at arbitrary points, come out whole and in order.
    #[test]
    fn websocket_input_is_chunking_invariant(
        msgs in prop::collection::vec(
            prop_oneof![
                no_separator().prop_map(P::Text),
                prop::collection::vec(any::<u8>(), 0..3000).prop_map(P::Binary),
            ],
            1..8,
        ),
        fragment in 1usize..500,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut c = ws::Connection::client(ws::Config::default(), SplitMix64::new(1));
        let mut wire = Vec::new();
        let mut buf = vec![0u8; 4096];
        for m in &msgs {
            let (kind, bytes) = match m {
                P::Text(t) => (MessageKind::Text, format!("4{t}").into_bytes()),
                P::Binary(b) => (MessageKind::Binary, b.clone()),
                _ => unreachable!(),
            };
            // Fragment every message into `fragment`-byte frames.
            let pieces: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(fragment).collect() };
            for (i, piece) in pieces.iter().enumerate() {
                let n = c.send_fragment(kind, piece, i + 1 == pieces.len(), &mut buf).unwrap();
                wire.extend_from_slice(&buf[..n]);
            }
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        points.dedup();

        let now = Instant::from_millis(0);
        let mut s = Session::open(now, Transport::WebSocket, Config::default(), vec![0u8; 512], &mut SplitMix64::new(2)).unwrap();
        let mut asm = Assembler::new(vec![0u8; 1 << 16]);
        let mut got = Vec::new();
        let mut start = 0;
        for end in points {
            // Each read in its own buffer, as separate socket reads would be.
            let mut read = wire[start..end].to_vec();
            let mut off = 0;
            while off < read.len() {
                let r = s.handle_ws_input(now, &mut read[off..], &mut asm).unwrap();
                prop_assert!(r.consumed > 0);
                off += r.consumed;
                if let Some(d) = r.message {
                    got.push(P::of(Packet::Message(d)));
                }
            }
            start = end;
        }
        prop_assert_eq!(got, msgs);
    }
}
