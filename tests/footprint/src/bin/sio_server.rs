//! A minimal sockwire Socket.IO server, for flash and RAM measurement: the
//! `socketio::Server` endpoint (Engine.IO sessions over WebSocket and HTTP
//! long-polling, Socket.IO namespaces, rooms, timers) in no-heap
//! `storage::Fixed` storage with 2 connection slots, as a firmware would run it.
//!
//! Scenario: a TCP connection is accepted; its bytes (an HTTP request: the
//! WebSocket upgrade or a polling request, then frames) are fed to the
//! endpoint; a CONNECT is accepted, an event named `ping` is answered with an
//! emit of `pong` (with the same arguments) and an ack if one was asked for;
//! the endpoint's notices are read, its timers run, and `poll_transmit` is
//! pumped into a buffer until it has nothing. The bytes "received" come
//! through `black_box`, the bytes produced go into it.
#![no_std]
#![no_main]

use sockwire::engineio::{self, Sid};
use sockwire::entropy::Entropy;
use sockwire::socketio::{self, Event, Rooms, Server};
use sockwire::storage::Fixed;
use sockwire::time::Instant;
use sockwire_footprint::{TinyRng, export_size, export_state, halt, input, output, recv};

/// The firmware's RNG, as sockwire sees it (session and socket ids).
struct Rng(TinyRng);

impl Entropy for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
}

/// The send queue and assembler of each session (bytes each, inline).
const QUEUE: usize = 512;

/// 2 connection slots, 2 Engine.IO sessions, 2 rooms of 2 members.
type Io = Server<u8, Fixed<2, 2, QUEUE>, Rng, Rooms<Sid, 2, 2>>;

export_size!(socketio__Server_fixed_2conns_512, Io);
export_size!(socketio__Rooms_2x2, Rooms<Sid, 2, 2>);
// What this image keeps on the stack besides call frames: the endpoint and
// the read and write buffers below.
export_state!(sio_server, size_of::<Io>() + 512 + 256);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let eio = engineio::Config {
        path: "/socket.io/",
        max_payload: QUEUE,
        ..engineio::Config::DEFAULT
    };
    let mut io: Io = Server::new(eio, socketio::Config::DEFAULT, Rng(TinyRng::new()));
    let conn: u8 = input(1);
    let mut now = Instant::from_millis(input(0));
    if io.handle_accept(now, conn).is_err() {
        halt()
    }

    // Each round: one TCP read, fed until consumed, then timers, notices and
    // the output.
    let mut rounds = input(8u32);
    while rounds > 0 {
        rounds -= 1;
        let filled = recv(&mut rx).min(rx.len());
        let mut off = 0;
        while off < filled {
            // What to do once the borrow of the input ends.
            let mut connect = None;
            let mut answer = None;
            let consumed = match io.handle_input(now, conn, &mut rx[off..filled]) {
                Ok(r) => {
                    match r.message {
                        Some(Event::Connect { sid, nsp, auth }) => {
                            output(auth);
                            connect = Some((sid, nsp == "/"));
                        }
                        Some(Event::Event { socket, message }) => {
                            output(message.data);
                            if message.name() == Some("ping") {
                                answer = Some((socket, message.ack_id));
                            }
                        }
                        Some(other) => output(other),
                        None => {}
                    }
                    if r.blocked {
                        // The session's queue is full: send first.
                        0
                    } else {
                        r.consumed
                    }
                }
                Err(e) => {
                    output(e);
                    io.handle_closed(now, conn);
                    break;
                }
            };
            off += consumed;
            if let Some((sid, known)) = connect {
                if known {
                    let _ = io.accept(&sid, "/");
                } else {
                    let _ = io.refuse(&sid, "/", "unknown namespace");
                }
            }
            if let Some((socket, ack)) = answer {
                let _ = io.emit(&socket, "pong", input(r#"{"t":21.5}"#), &[]);
                if let Some(id) = ack {
                    let _ = io.ack(&socket, id, "true", &[]);
                }
            }
            if !pump(&mut io, &mut tx) {
                break;
            }
            if consumed == 0 && connect.is_none() && answer.is_none() {
                break;
            }
        }
        now = Instant::from_millis(input(now.as_millis() + 1000));
        if io.poll_timeout().is_some_and(|t| t <= now) {
            io.handle_timeout(now);
        }
        while let Some(e) = io.poll_event() {
            output(e);
        }
        pump(&mut io, &mut tx);
    }
    output(io.sockets());
    halt()
}

/// Pumps `poll_transmit` into `tx` ("sends" every piece) until it has
/// nothing; false on an error.
fn pump(io: &mut Io, tx: &mut [u8]) -> bool {
    loop {
        match io.poll_transmit(tx) {
            Ok(Some(t)) => {
                output(t.conn);
                output(&tx[..t.len.min(tx.len())]);
                if t.close_after {
                    output(true);
                }
            }
            Ok(None) => return true,
            Err(e) => {
                output(e);
                return false;
            }
        }
    }
}
