//! Scenario tests of `engineio::Server` on a virtual clock.

use sockwire::engineio::{Config, Data, Event, Server, Transmit};
use sockwire::entropy::SplitMix64;
use sockwire::storage::Growable;
use sockwire::time::Instant;

type Srv = Server<u32, (), Growable, SplitMix64>;

fn drain(s: &mut Srv) -> Vec<(Transmit<u32>, Vec<u8>)> {
    let mut out = vec![0u8; 1 << 16];
    let mut v = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        v.push((t, out[..t.len].to_vec()));
    }
    v
}

fn mask(payload: &[u8], op: u8) -> Vec<u8> {
    let m = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | op, 0x80 | payload.len() as u8];
    f.extend_from_slice(&m);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
    f
}

#[test]
fn websocket_echo_path() {
    let mut s = Srv::new(Config::default(), SplitMix64::new(1));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let r = s.handle_input(now, 1, &mut head).unwrap();
    assert_eq!(r.consumed, head.len());
    let tx = drain(&mut s);
    assert!(tx[0].1.starts_with(b"HTTP/1.1 101"), "{tx:?}");
    let ev = s.poll_event();
    assert!(matches!(ev, Some(Event::Opened { .. })), "{ev:?}");
    let mut frame = mask(b"4hi", 1);
    let n = frame.len();
    let r = s.handle_input(now, 1, &mut frame).unwrap();
    assert_eq!(r.consumed, n);
    let (_, data) = r.message.expect("a message");
    assert_eq!(data, Data::Text("hi"));
    let tx = drain(&mut s);
    eprintln!("{tx:?}");
}

// ---- regressions: found by fuzzing (fuzz/README.md)

/// `eio_endpoint`: a WebSocket handshake that also said `Connection: close`
/// opened a session and then forgot its connection after the 101 (a
/// `close_after` transmit): the open packet never went out and the session,
/// closed later, stayed in the table for ever.
#[test]
fn a_websocket_handshake_with_connection_close_keeps_its_connection() {
    let mut s = Srv::new(Config::default(), SplitMix64::new(1));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let n = head.len();
    assert_eq!(s.handle_input(now, 1, &mut head).unwrap().consumed, n);
    let tx = drain(&mut s);
    assert!(tx[0].1.starts_with(b"HTTP/1.1 101"), "{tx:?}");
    assert!(tx.iter().all(|(t, _)| !t.close_after), "{tx:?}");
    assert!(
        tx.iter()
            .any(|(_, b)| b.windows(7).any(|w| w == b"0{\"sid\"")),
        "{tx:?}"
    );
    assert!(matches!(s.poll_event(), Some(Event::Opened { .. })));
    s.handle_closed(now, 1);
    drain(&mut s);
    assert!(matches!(s.poll_event(), Some(Event::Closed { .. })));
    assert_eq!(s.sessions(), 0);
    assert_eq!(s.connections(), 0);
}
