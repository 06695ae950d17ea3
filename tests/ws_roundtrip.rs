//! Property tests: frames and messages survive encode and decode, both roles,
//! whatever the fragmentation and the read sizes.

#[path = "common/pair.rs"]
mod pair;

use pair::{Ev, feed};
use proptest::prelude::*;
use sockwire::entropy::SplitMix64;
use sockwire::ws::{Config, Connection, FrameHeader, MessageKind, OpCode, Role};

#[derive(Clone, Debug)]
struct Msg {
    kind: MessageKind,
    data: Vec<u8>,
    /// Cut points for fragmentation (sorted, deduplicated, inside the payload).
    cuts: Vec<usize>,
    /// A ping to interleave after the first fragment.
    ping: Option<Vec<u8>>,
}

fn msg() -> impl Strategy<Value = Msg> {
    let text = ".{0,200}".prop_map(|s: String| (MessageKind::Text, s.into_bytes()));
    let binary = prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| (MessageKind::Binary, b));
    (
        prop_oneof![text, binary],
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=125)),
    )
        .prop_map(|((kind, data), idx, ping)| {
            let mut cuts: Vec<usize> = idx.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            Msg {
                kind,
                data,
                cuts,
                ping,
            }
        })
}

/// Encodes the messages with a sender in `role` and decodes them with a
/// receiver in the other role, reading `chunk` bytes at a time.
fn round_trip(role: Role, msgs: &[Msg], chunk: usize) -> Vec<Ev> {
    let mut tx = Connection::new(role, Config::default(), SplitMix64::new(11));
    let peer = if role == Role::Client {
        Role::Server
    } else {
        Role::Client
    };
    let mut rx = Connection::new(peer, Config::default(), SplitMix64::new(12));
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 4096];
    for m in msgs {
        let mut bounds = m.cuts.clone();
        bounds.push(m.data.len());
        let mut start = 0;
        for (i, end) in bounds.iter().enumerate() {
            let fin = i + 1 == bounds.len();
            let n = tx
                .send_fragment(m.kind, &m.data[start..*end], fin, &mut buf)
                .unwrap();
            wire.extend_from_slice(&buf[..n]);
            start = *end;
            if let (0, Some(p)) = (i, &m.ping) {
                let n = tx.ping(p, &mut buf).unwrap();
                wire.extend_from_slice(&buf[..n]);
            }
        }
    }
    let out = feed(&mut rx, &wire, chunk);
    assert_eq!(out.error, None);
    out.events
}

fn expected(msgs: &[Msg]) -> Vec<Ev> {
    msgs.iter()
        .flat_map(|m| {
            let ping = m.ping.iter().map(|p| Ev::Ping(p.clone()));
            let message = Ev::Message(m.kind, m.data.clone());
            // The ping follows the first fragment: inside the message if it has
            // several, after it if it has one.
            if m.cuts.is_empty() {
                core::iter::once(message).chain(ping).collect::<Vec<_>>()
            } else {
                ping.chain(core::iter::once(message)).collect()
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip_client_to_server(msgs in prop::collection::vec(msg(), 1..6), chunk in 1usize..300) {
        prop_assert_eq!(round_trip(Role::Client, &msgs, chunk), expected(&msgs));
    }

    #[test]
    fn messages_round_trip_server_to_client(msgs in prop::collection::vec(msg(), 1..6), chunk in 1usize..300) {
        prop_assert_eq!(round_trip(Role::Server, &msgs, chunk), expected(&msgs));
    }

    #[test]
    fn frame_headers_round_trip(fin: bool, op in 0usize..6, mask: Option<[u8; 4]>, len in prop_oneof![0u64..200, 0u64..=0xffff, 0u64..(1 << 63)]) {
        let ops = [OpCode::Continuation, OpCode::Text, OpCode::Binary, OpCode::Close, OpCode::Ping, OpCode::Pong];
        let opcode = ops[op];
        let (fin, len) = if opcode.is_control() { (true, len % 126) } else { (fin, len) };
        let h = FrameHeader { fin, rsv: 0, opcode, mask, len };
        let mut out = [0u8; 14];
        let n = h.encode(&mut out).unwrap();
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::decode(&out[..n]).unwrap(), Some((h, n)));
    }
}
