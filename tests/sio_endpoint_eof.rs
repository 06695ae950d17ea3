//! `socketio::Server`: a session that ends because its TCP connection ended
//! (a browser tab reloaded or closed) reports every socket's `Disconnect`
//! ("transport close") and takes the sockets out of their rooms.

use sockwire::engineio;
use sockwire::entropy::SplitMix64;
use sockwire::socketio::{self, ServerEvent, rooms::RoomTable};
use sockwire::storage::Growable;
use sockwire::time::Instant;

type Srv = socketio::Server<u32, Growable, SplitMix64, socketio::rooms::IndexedRooms>;

fn mask(payload: &[u8]) -> Vec<u8> {
    let m = [9u8, 8, 7, 6];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&m);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
    f
}

fn drain(s: &mut Srv) {
    let mut out = vec![0u8; 1 << 16];
    while s.poll_transmit(&mut out).unwrap().is_some() {}
}

/// A WebSocket session on `conn` with a socket in `/`, in room "blue".
fn connect(s: &mut Srv, conn: u32, now: Instant) -> engineio::Sid {
    let mut head = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let n = s.handle_input(now, conn, &mut head).unwrap().consumed;
    assert_eq!(n, head.len());
    drain(s);
    while s.poll_event().is_some() {}
    let mut frame = mask(b"40");
    let sid = match s.handle_input(now, conn, &mut frame).unwrap().message {
        Some(ServerEvent::Connect { sid, .. }) => sid,
        other => panic!("{other:?}"),
    };
    let socket = s.accept(&sid, "/").unwrap();
    s.join(&socket, "blue").unwrap();
    drain(s);
    socket
}

#[test]
fn a_closed_tcp_connection_disconnects_its_sockets() {
    let config = engineio::Config {
        path: "/socket.io/",
        ..engineio::Config::DEFAULT
    };
    let mut s = Srv::new(config, socketio::Config::DEFAULT, SplitMix64::new(3));
    let now = Instant::from_millis(0);
    let a = connect(&mut s, 1, now);
    let b = connect(&mut s, 2, now);
    s.handle_closed(now, 1);
    drain(&mut s);
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    assert!(
        events.contains(&ServerEvent::Disconnect {
            socket: a,
            reason: "transport close"
        }),
        "{events:?}"
    );
    let mut members = Vec::new();
    s.rooms()
        .for_each_member("/", "blue", &mut |m| members.push(m));
    assert_eq!(members, [b]);
    assert_eq!(s.sockets(), 1);
}
