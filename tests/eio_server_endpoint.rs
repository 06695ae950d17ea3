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

/// A ping whose pong is not yet written holds the next control frame back:
/// the endpoint says "blocked" (transmit, then call again), never "need more
/// bytes" with a whole frame waiting.
#[test]
fn pings_back_to_back_block_until_the_pong_is_written() {
    let mut s = Srv::new(Config::default(), SplitMix64::new(2));
    let now = Instant::from_millis(0);
    let mut head = b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    s.handle_input(now, 1, &mut head).unwrap();
    drain(&mut s);
    // Two WebSocket pings and a text message in one read.
    let mut input = mask(b"", 0x9);
    input.extend(mask(b"", 0x9));
    input.extend(mask(b"4x", 0x1));
    let mut off = 0;
    let mut messages = Vec::new();
    for _ in 0..20 {
        if off == input.len() {
            break;
        }
        let r = s.handle_input(now, 1, &mut input[off..]).unwrap();
        off += r.consumed;
        if let Some((_, Data::Text(t))) = r.message {
            messages.push(t.to_owned());
        }
        if r.consumed == 0 && r.message.is_none() {
            assert!(
                r.blocked,
                "0 consumed with a whole frame waiting must be `blocked`"
            );
            let pongs = drain(&mut s);
            assert!(
                pongs.iter().any(|(_, b)| b.starts_with(&[0x8a])),
                "{pongs:?}"
            );
        }
    }
    assert_eq!(off, input.len());
    assert_eq!(messages, ["x"]);
}

/// A thousand sessions in one endpoint, each answered on its own connection.
#[test]
fn a_thousand_polling_sessions() {
    let mut s = Srv::new(Config::default(), SplitMix64::new(3));
    let now = Instant::from_millis(0);
    for conn in 0..1000u32 {
        let mut head =
            b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let r = s.handle_input(now, conn, &mut head).unwrap();
        assert_eq!(r.consumed, head.len());
    }
    let answered = drain(&mut s);
    assert_eq!(answered.len(), 1000);
    assert!(
        answered
            .iter()
            .all(|(_, b)| b.starts_with(b"HTTP/1.1 200 OK"))
    );
    assert_eq!(s.sessions(), 1000);
    let mut opened = 0;
    while let Some(e) = s.poll_event() {
        if let Event::Opened { sid, .. } = e {
            opened += 1;
            let (session, ()) = s.session(&sid).unwrap();
            assert_eq!(session.transport(), sockwire::engineio::Transport::Polling);
        }
    }
    assert_eq!(opened, 1000);
}
