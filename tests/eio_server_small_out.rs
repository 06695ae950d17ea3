//! `engineio::Server::poll_transmit` through an output buffer smaller than a
//! WebSocket frame: the frame goes out whole, over as many calls as it takes,
//! with no other event needed to wake the connection.

use sockwire::engineio::{Config, Event, Server};
use sockwire::entropy::SplitMix64;
use sockwire::storage::Fixed;
use sockwire::time::Instant;

type Srv = Server<u8, (), Fixed<4, 2, 4096>, SplitMix64>;

#[test]
fn a_frame_larger_than_out_is_written_whole_over_several_calls() {
    let config = Config {
        max_payload: 2048,
        ..Config::default()
    };
    let mut s = Srv::new(config, SplitMix64::new(1));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let r = s.handle_input(now, 1, &mut head).unwrap();
    assert_eq!(r.consumed, head.len());
    let mut out = [0u8; 1024];
    // The 101 and the open packet.
    while s.poll_transmit(&mut out).unwrap().is_some() {}
    let Some(Event::Opened { sid, .. }) = s.poll_event() else {
        panic!("no session");
    };

    let payload: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();
    s.send_binary(&sid, &payload).unwrap();
    let mut wire = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        assert_eq!(t.conn, 1);
        assert!(!t.close_after);
        wire.extend_from_slice(&out[..t.len]);
    }
    // A server frame: FIN + binary, 126 + 16-bit length, unmasked payload.
    assert_eq!(wire.len(), 4 + payload.len(), "the whole frame");
    assert_eq!(wire[..4], [0x82, 126, 0x05, 0xdc]);
    assert_eq!(wire[4..], payload[..]);
}
