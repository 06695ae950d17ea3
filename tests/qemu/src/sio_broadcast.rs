//! The Socket.IO server endpoint in fixed storage, without a heap (no `alloc`):
//! four WebSocket sessions, opened with the real handshake, join `/`; three
//! are in room `r`. A broadcast to `r` must put on each of their wires exactly
//! the bytes an `emit` of the same event puts on the fourth's, drained through
//! a 5-byte `out` (frames split over many `poll_transmit` calls): with two
//! attachments (framed once: one queue entry per target), and with more
//! attachments than the stack describes without `alloc`
//! ([`MAX_FRAMED_ATTACHMENTS`]: queued per target as packets).

use sockwire::engineio::{self, Sid};
use sockwire::socketio::endpoint::MAX_FRAMED_ATTACHMENTS;
use sockwire::socketio::{self, Event, Rooms, Server};
use sockwire::storage::Fixed;
use sockwire::time::Instant;

use crate::rt::{Role, measured};
use crate::wire::Rng;
use crate::{check, check_eq};

const QUEUE: usize = 1024;
/// What one connection's wire may hold in this scenario.
const WIRE: usize = 1024;
const ATTACHMENTS: usize = MAX_FRAMED_ATTACHMENTS + 1;

/// The server of this scenario and of `sio_recovery`, which lends it a
/// recovery log of `L` bytes and `K` kept sessions.
pub type Io<const L: usize = 0, const K: usize = 0> =
    Server<u8, Fixed<4, 4, QUEUE, L, K>, Rng, Rooms<Sid, 2, 4>>;

/// What the scenario keeps on the stack besides call frames.
pub const STATE: [(&str, usize); 2] = [
    (
        "the Socket.IO server endpoint (4 sessions)",
        size_of::<Io>(),
    ),
    ("the four wires", 4 * size_of::<Wire>()),
];

const UPGRADE: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: device.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The bytes the server wrote on one connection.
pub struct Wire {
    bytes: [u8; WIRE],
    len: usize,
    writes: usize,
}

impl Wire {
    pub const fn new() -> Self {
        Wire {
            bytes: [0; WIRE],
            len: 0,
            writes: 0,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.writes = 0;
    }
}

/// Runs `poll_transmit` with an `out` of `out_len` bytes until it has nothing,
/// appending to the wires (connections 1 to 4). False on an error or a wire
/// that overflows.
pub fn drain<const L: usize, const K: usize>(
    io: &mut Io<L, K>,
    wires: &mut [Wire; 4],
    out_len: usize,
) -> bool {
    let mut out = [0u8; 256];
    let out = &mut out[..out_len];
    loop {
        match measured(Role::Server, || io.poll_transmit(out)) {
            Ok(None) => return true,
            Ok(Some(t)) => {
                let Some(w) = wires.get_mut(usize::from(t.conn).wrapping_sub(1)) else {
                    return false;
                };
                if w.len + t.len > WIRE {
                    return false;
                }
                w.bytes[w.len..w.len + t.len].copy_from_slice(&out[..t.len]);
                w.len += t.len;
                w.writes += 1;
            }
            Err(_) => return false,
        }
    }
}

/// What the server said of a client's text, as far as these scenarios care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A CONNECT from session `sid`, for the application.
    Connect(Sid),
    /// A CONNECT that recovered a socket (connection state recovery).
    Recovered {
        /// The socket.
        socket: Sid,
        /// The events replayed.
        replayed: usize,
        /// Some may be missing.
        missed: bool,
    },
}

/// Opens connection `conn` as a WebSocket session (the real upgrade).
pub fn upgrade<const L: usize, const K: usize>(
    io: &mut Io<L, K>,
    wires: &mut [Wire; 4],
    now: Instant,
    conn: u8,
) {
    let mut head = [0u8; UPGRADE.len()];
    head.copy_from_slice(UPGRADE);
    feed(io, wires, now, conn, &mut head);
}

/// Feeds a masked client text frame `text` (at most 64 bytes) to connection
/// `conn`; what the server saw in it, if it was a CONNECT.
pub fn client_text<const L: usize, const K: usize>(
    io: &mut Io<L, K>,
    wires: &mut [Wire; 4],
    now: Instant,
    conn: u8,
    text: &[u8],
) -> Option<Seen> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut frame = [0u8; 6 + 64];
    frame[0] = 0x81;
    frame[1] = 0x80 | text.len() as u8;
    frame[2..6].copy_from_slice(&mask);
    for (i, b) in text.iter().enumerate() {
        frame[6 + i] = b ^ mask[i % 4];
    }
    feed(io, wires, now, conn, &mut frame[..6 + text.len()])
}

/// Feeds `input` to `conn` until it is consumed, draining the output
/// whenever the connection waits for it; what a CONNECT gave, if one came.
fn feed<const L: usize, const K: usize>(
    io: &mut Io<L, K>,
    wires: &mut [Wire; 4],
    now: Instant,
    conn: u8,
    input: &mut [u8],
) -> Option<Seen> {
    let mut at = 0;
    let mut connect = None;
    let mut stuck = 0;
    while at < input.len() && stuck < 2 {
        // The input call and the application's look at its event, measured
        // as one server call (what the event borrows stays inside).
        let r = measured(Role::Server, || {
            io.handle_input(now, conn, &mut input[at..]).map(|r| {
                let sid = match r.message {
                    Some(Event::Connect { sid, .. }) => Some(Seen::Connect(sid)),
                    Some(Event::Recovered {
                        socket,
                        replayed,
                        missed,
                        ..
                    }) => Some(Seen::Recovered {
                        socket,
                        replayed,
                        missed,
                    }),
                    _ => None,
                };
                (r.consumed, r.blocked, r.progressed(), sid)
            })
        });
        let Ok((consumed, blocked, progressed, sid)) = r else {
            return None;
        };
        if sid.is_some() {
            connect = sid;
        }
        let progress = progressed;
        at += consumed;
        if blocked || !progress {
            if !drain(io, wires, 256) {
                return None;
            }
            stuck += usize::from(!progress);
        } else {
            stuck = 0;
        }
    }
    connect
}

/// The Engine.IO settings of these scenarios.
pub fn eio_config() -> engineio::Config {
    engineio::Config {
        path: "/socket.io/",
        max_payload: QUEUE,
        send_queue_len: QUEUE,
        ..engineio::Config::DEFAULT
    }
}

pub fn run() {
    let now = Instant::from_millis(0);
    let eio = eio_config();
    let mut config = socketio::Config::DEFAULT;
    config.limits.max_attachments = ATTACHMENTS;
    let mut io: Io = Server::new(eio, config, Rng::new(0xb0ad));
    let mut wires = [Wire::new(), Wire::new(), Wire::new(), Wire::new()];
    let mut sockets = [None::<(Sid, Sid)>; 4];
    for conn in 1..=4u8 {
        upgrade(&mut io, &mut wires, now, conn);
        let connect = client_text(&mut io, &mut wires, now, conn, b"40");
        let accepted = match connect {
            Some(Seen::Connect(sid)) => {
                let socket = measured(Role::Server, || io.accept(&sid, "/").ok());
                socket.map(|socket| (sid, socket))
            }
            _ => None,
        };
        sockets[usize::from(conn) - 1] = accepted;
    }
    let drained = drain(&mut io, &mut wires, 256);
    check!(
        "sio broadcast: 4 WebSocket sessions join / (fixed storage, no heap)",
        drained && sockets.iter().all(Option::is_some),
        "{:?}",
        sockets.map(|s| s.is_some())
    );
    let [Some(reference), Some(a), Some(b), Some(c)] = sockets else {
        return;
    };
    let targets = [a, b, c];
    for (_, socket) in targets {
        let _ = io.join(&socket, "r");
    }
    for w in &mut wires {
        w.clear();
    }

    let blob: &[u8] = &[1, 2, 3, 4, 5];
    let one: &[u8] = &[9];
    let two = [blob, one];
    let many = [one; ATTACHMENTS];
    let cases: [(&str, &[&[u8]]); 2] = [("two attachments", &two), ("many attachments", &many)];
    for (i, (case, attachments)) in cases.into_iter().enumerate() {
        let framed = attachments.len() <= MAX_FRAMED_ATTACHMENTS;
        let emitted = measured(Role::Server, || {
            io.emit(&reference.1, "news", "1", attachments)
        });
        let drained = drain(&mut io, &mut wires, 256);
        check!(
            "sio broadcast: the reference emit goes out",
            emitted.is_ok() && drained && wires[0].len > 0,
            "{}: {:?}",
            case,
            emitted
        );
        let free = |io: &Io| {
            targets.map(|(sid, _)| io.engine().session(&sid).map_or(0, |s| s.0.queue_free()))
        };
        let before = free(&io);
        let sent = measured(Role::Server, || {
            io.broadcast("/", &["r"], &[], "news", "1", attachments)
        });
        let after = free(&io);
        check_eq!(
            "sio broadcast: delivered to the 3 sockets of the room, none full",
            sent.map(|s| (s.delivered, s.full)),
            Ok((3, 0)),
        );
        // A framed broadcast takes one queue entry (5 bytes of header) of the
        // wire's bytes; per packet, 5 bytes each and no frame headers.
        let wire_len = wires[0].len;
        let packets = 1 + attachments.len();
        let want_cost = if framed {
            5 + wire_len
        } else {
            wire_len + 3 * packets
        };
        for k in 0..3 {
            check_eq!(
                "sio broadcast: queue cost (framed once, or per packet past the bound)",
                (i, before[k] - after[k]),
                (i, want_cost),
            );
        }
        let drained = drain(&mut io, &mut wires, 5);
        check!("sio broadcast: drains through 5 bytes", drained, "{}", case);
        for (k, w) in wires[1..].iter().enumerate() {
            check!(
                "sio broadcast: each target's wire has exactly the emit's bytes",
                w.as_bytes() == wires[0].as_bytes(),
                "{}: target {}: {} bytes, want {}",
                case,
                k,
                w.len,
                wires[0].len
            );
            // Framed bytes fill every `out`; per packet, a frame header does
            // not start in the last bytes of one.
            let full_writes = wire_len.div_ceil(5);
            check!(
                "sio broadcast: split over poll_transmit calls of at most 5 bytes",
                if framed {
                    w.writes == full_writes
                } else {
                    w.writes >= full_writes
                },
                "{}: {} writes for {} bytes",
                case,
                w.writes,
                wire_len
            );
        }
        for w in &mut wires {
            w.clear();
        }
    }
}
