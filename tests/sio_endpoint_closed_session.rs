//! Scenario tests of `socketio::Server` (the endpoint) on a virtual clock.

use sockwire::engineio;
use sockwire::entropy::SplitMix64;
use sockwire::socketio::rooms::IndexedRooms;
use sockwire::socketio::{self, ServerEvent};
use sockwire::storage::Growable;
use sockwire::time::Instant;

type Srv = socketio::Server<u32, Growable, SplitMix64, IndexedRooms>;

fn drain(s: &mut Srv) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; 1 << 16];
    let mut v = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        v.push(out[..t.len].to_vec());
    }
    v
}

fn mask(payload: &[u8]) -> Vec<u8> {
    let m = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&m);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
    f
}

// ---- regressions: found by fuzzing (fuzz/README.md)

/// `sio_endpoint`: a session that finished as its `Closed` was told (its
/// WebSocket closed by the peer) was already out of the Engine.IO table when
/// the Socket.IO layer looked for its sockets, so they stayed in the socket
/// table and the rooms for ever, with no `Disconnect`.
#[test]
fn sockets_leave_when_the_transport_closes() {
    let mut s = Srv::new(
        engineio::Config {
            path: "/socket.io/",
            ..engineio::Config::default()
        },
        socketio::Config::default(),
        SplitMix64::new(1),
    );
    let now = Instant::from_millis(0);
    let mut head = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let n = head.len();
    assert_eq!(s.handle_input(now, 1, &mut head).unwrap().consumed, n);
    drain(&mut s);
    let mut frame = mask(b"40");
    let r = s.handle_input(now, 1, &mut frame).unwrap();
    let Some(ServerEvent::Connect { sid, nsp: "/", .. }) = r.message else {
        panic!("{r:?}");
    };
    let socket = s.accept(&sid, "/").unwrap();
    s.join(&socket, "room").unwrap();
    drain(&mut s);
    assert_eq!(s.sockets(), 1);

    s.handle_closed(now, 1);
    drain(&mut s);
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    assert_eq!(
        events,
        [ServerEvent::Disconnect {
            socket,
            reason: "transport close"
        }]
    );
    assert_eq!(s.sockets(), 0);
    assert!(!s.is_in(&socket, "room"));
    assert_eq!(s.engine().sessions(), 0);
}
