//! Connection state recovery without a heap: the Socket.IO server endpoint in
//! fixed storage that lends it a log of [`LOG`] bytes and [`KEPT`] kept
//! sessions (`Fixed<4, 4, QUEUE, LOG, KEPT>`). A WebSocket client joins `/`
//! and room `r` (its CONNECT reply carries a pid), gets one event with its
//! offset, and its connection drops. While it is away the server broadcasts
//! to `r`, to everyone but `r` and emits to the lost socket. A new session
//! whose CONNECT names the pid and the offset gets back the same socket id,
//! its room and data slot, and exactly the two events meant for it, in
//! order, before the reply.

use sockwire::socketio::{self, Event, RoomTable, Server};
use sockwire::time::Instant;

use crate::check;
use crate::rt::{Role, measured};
use crate::sio_broadcast::{Io, Seen, Wire, client_text, drain, eio_config, upgrade};
use crate::wire::Rng;

/// The log's bytes.
const LOG: usize = 1024;
/// The sessions kept at once.
const KEPT: usize = 2;

type Recovering = Io<LOG, KEPT>;

/// What the scenario keeps on the stack besides call frames.
pub const STATE: [(&str, usize); 2] = [
    (
        "the Socket.IO server endpoint (4 sessions, 1 KiB log, 2 kept)",
        size_of::<Recovering>(),
    ),
    ("the four wires", 4 * size_of::<Wire>()),
];

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The pid of the CONNECT reply on `wire`.
fn pid_on(wire: &Wire) -> Option<[u8; 20]> {
    let at = find(wire.as_bytes(), b"\"pid\":\"")? + 7;
    wire.as_bytes().get(at..at + 20)?.try_into().ok()
}

/// `parts` joined into `buf`; the bytes written.
fn join<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> &'b [u8] {
    let mut n = 0;
    for p in parts {
        if let Some(dst) = buf.get_mut(n..n + p.len()) {
            dst.copy_from_slice(p);
            n += p.len();
        }
    }
    &buf[..n]
}

pub fn run() {
    let mut now = Instant::from_millis(0);
    let mut io: Recovering = Server::new(eio_config(), socketio::Config::DEFAULT, Rng::new(0x5eed));
    let on = io.set_recovery(Some(socketio::recovery::Config::DEFAULT));
    check!(
        "sio recovery: lent storage takes connection state recovery (no heap)",
        on.is_ok(),
        "{:?}",
        on
    );
    let mut wires = [Wire::new(), Wire::new(), Wire::new(), Wire::new()];
    upgrade(&mut io, &mut wires, now, 1);
    let socket = match client_text(&mut io, &mut wires, now, 1, b"40") {
        Some(Seen::Connect(sid)) => measured(Role::Server, || io.accept(&sid, "/").ok()),
        _ => None,
    };
    let drained = drain(&mut io, &mut wires, 256);
    let pid = pid_on(&wires[0]);
    check!(
        "sio recovery: the CONNECT reply carries a pid",
        drained && socket.is_some() && pid.is_some(),
        "{:?}",
        socket
    );
    let (Some(socket), Some(pid)) = (socket, pid) else {
        return;
    };
    let joined = io
        .join(&socket, "r")
        .and_then(|()| io.set_data(&socket, b"qemu"));
    let sent = measured(Role::Server, || {
        io.broadcast("/", &["r"], &[], "n", "1", &[])
    });
    let drained = drain(&mut io, &mut wires, 256);
    check!(
        "sio recovery: an event carries its offset",
        joined.is_ok() && drained && find(wires[0].as_bytes(), br#"42["n",1,"1"]"#).is_some(),
        "{:?} {:?}",
        joined,
        sent
    );

    // The connection drops: the socket is kept, with its room.
    now = Instant::from_millis(1000);
    io.handle_closed(now, 1);
    let mut lost = false;
    while let Some(e) = io.poll_event() {
        lost |=
            matches!(e, Event::Disconnect { socket: s, reason: "transport close" } if s == socket);
    }
    let kept = io.recovery_stats().map(|s| s.sessions);
    check!(
        "sio recovery: a lost socket is kept",
        lost && kept == Some(1) && RoomTable::contains(io.rooms(), "/", "r", socket),
        "{} {:?}",
        lost,
        kept
    );
    // Offsets 2, 3 and 4: to its room, to everyone else, to it alone.
    let away = [
        io.broadcast("/", &["r"], &[], "n", "2", &[]).is_ok(),
        io.broadcast("/", &[], &["r"], "x", "3", &[]).is_ok(),
        io.emit(&socket, "only", "4", &[]).is_ok(),
    ];
    check!(
        "sio recovery: events for a lost socket are logged",
        away == [true; 3],
        "{:?}",
        away
    );

    // It comes back on a new session with its pid and offset.
    now = Instant::from_millis(2000);
    upgrade(&mut io, &mut wires, now, 2);
    let mut auth = [0u8; 64];
    let auth = join(
        &mut auth,
        &[b"40{\"pid\":\"", &pid, b"\",\"offset\":\"1\"}"],
    );
    let seen = client_text(&mut io, &mut wires, now, 2, auth);
    let drained = drain(&mut io, &mut wires, 256);
    let want = Seen::Recovered {
        socket,
        replayed: 2,
        missed: false,
    };
    check!(
        "sio recovery: the socket is recovered",
        drained && seen == Some(want),
        "{:?}",
        seen
    );
    let wire = wires[1].as_bytes();
    let mut reply = [0u8; 64];
    let reply = join(
        &mut reply,
        &[
            b"40{\"sid\":\"",
            socket.as_str().as_bytes(),
            b"\",\"pid\":\"",
            &pid,
            b"\"}",
        ],
    );
    let at = [
        find(wire, br#"42["n",2,"2"]"#),
        find(wire, br#"42["only",4,"4"]"#),
        find(wire, reply),
    ];
    check!(
        "sio recovery: the missed events, in order, then the reply with the same ids",
        matches!(at, [Some(a), Some(b), Some(c)] if a < b && b < c)
            && find(wire, b"\"x\"").is_none(),
        "{:?}",
        at
    );
    let restored = (
        io.is_in(&socket, "r"),
        io.data(&socket) == Some(&b"qemu"[..]),
        io.socket(&socket).is_some(),
        io.recovery_stats().map(|s| (s.sessions, s.recovered)),
    );
    check!(
        "sio recovery: room, data slot and socket id restored",
        restored == (true, true, true, Some((0, 1))),
        "{:?}",
        restored
    );
}
