//! A Socket.IO v5 server over `std::net`, in the reference test-server
//! configuration (`tests/peers/sio_server.mjs` is the same server written with
//! Node `socket.io`; see `shared/CONFORMANCE.md`, "Node peers").
//!
//! ```text
//! cargo run --example sio_server -- [ADDR:PORT]
//! ```
//!
//! It prints `LISTENING <port>` once it accepts connections, then serves
//! until killed:
//!
//! - path `/socket.io/`, both transports and the upgrade; pingInterval 300 ms,
//!   pingTimeout 200 ms, maxPayload 1 000 000, connectTimeout 1000 ms, CORS
//!   `*`;
//! - namespaces `/` and `/custom`; a CONNECT to any other is refused with
//!   `{"message":"Invalid namespace"}` (by `socketio::Connection` itself);
//! - on connection to `/` and `/custom`: emits `auth` with the handshake auth
//!   (`{}` when the client sent none);
//! - on `/`: `message` is answered with `message-back` (same arguments and
//!   binary attachments); `message-with-ack` is acked with its arguments (and
//!   attachments); `force-disconnect-transport` closes the Engine.IO session.
//!
//! # What it shows
//!
//! A `sockwire::socketio::Connection` sits on top of each session of a
//! `sockwire::engineio::Server`, run by `sockwire::runner`: this file is only
//! the application (a per-session `Connection` and `socketio::Assembler`,
//! every Engine.IO message fed to `Connection::handle_message`, the connect
//! timeout driven through the session's deadline, the notices logged).

use std::io;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;

use sockwire::engineio::{self, Data, Session, Sid, UserState};
use sockwire::entropy::StdEntropy;
use sockwire::runner::{self, Engine, EngineApp};
use sockwire::socketio::{self, Assembler, Connection, Event, Message};
use sockwire::time::{Duration, Instant};

/// The reference test server's Engine.IO settings.
pub const ENGINEIO: engineio::Config = engineio::Config {
    path: "/socket.io/",
    ping_interval: Duration::from_millis(300),
    ping_timeout: Duration::from_millis(200),
    max_payload: 1_000_000,
    ..engineio::Config::DEFAULT
};

/// The reference test server's Socket.IO settings.
pub const SOCKETIO: socketio::Config = socketio::Config {
    connect_timeout: Duration::from_millis(1000),
    namespaces: Some(&["/", "/custom"]),
    ..socketio::Config::DEFAULT
};

const ASSEMBLER_LEN: usize = 2 * ENGINEIO.max_payload;

/// One client's Socket.IO state.
pub struct Client {
    conn: Connection,
    asm: Assembler<Vec<u8>>,
}

impl UserState<Vec<u8>> for Client {
    type Init = ();
    fn new(_: &(), now: Instant, buffer: fn(usize) -> Vec<u8>) -> Self {
        Client {
            conn: Connection::new(now, SOCKETIO),
            asm: Assembler::new(buffer(ASSEMBLER_LEN)),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
}

/// The application.
pub struct SocketIoApp {
    entropy: StdEntropy,
}

fn log_notices(sid: Sid, conn: &mut Connection) {
    while let Some(notice) = conn.poll_event() {
        eprintln!("sio_server: {sid:?}: {notice:?}");
    }
}

fn on_event(
    now: Instant,
    eio: &mut Session<Vec<u8>>,
    conn: &mut Connection,
    m: &Message<'_>,
) -> Result<(), socketio::Error> {
    if m.nsp != "/" {
        return Ok(());
    }
    let attachments: Vec<&[u8]> = m.attachments.into_iter().collect();
    match m.name() {
        Some("message") => conn.emit(eio, m.nsp, "message-back", m.args_raw(true), &attachments),
        Some("message-with-ack") => match m.ack_id {
            Some(id) => conn.ack(eio, m.nsp, id, m.args_raw(true), &attachments),
            None => Ok(()),
        },
        Some("force-disconnect-transport") => {
            eio.close(now);
            Ok(())
        }
        _ => Ok(()),
    }
}

impl EngineApp for SocketIoApp {
    type State = Client;

    fn on_message(
        &mut self,
        now: Instant,
        sid: Sid,
        eio: &mut Session<Vec<u8>>,
        client: &mut Client,
        data: Data<'_>,
    ) {
        let conn = &mut client.conn;
        let answered = match conn.handle_message(now, eio, data, &mut client.asm) {
            Ok(Some(Event::Connect { nsp, auth })) => {
                match conn.accept(eio, nsp, &mut self.entropy) {
                    Ok(socket) => {
                        eprintln!("sio_server: {sid:?}: connect {nsp} {}", socket.as_str());
                        conn.emit(eio, nsp, "auth", auth.unwrap_or("{}"), &[])
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(Some(Event::Event(m))) => on_event(now, eio, conn, &m),
            Ok(Some(Event::Disconnect { nsp })) => {
                eprintln!("sio_server: {sid:?}: disconnect {nsp}");
                Ok(())
            }
            Ok(_) | Err(_) => Ok(()),
        };
        if let Err(e) = answered {
            eprintln!("sio_server: {sid:?}: cannot answer ({e}); closing the session");
            eio.close(now);
        }
        log_notices(sid, conn);
    }

    fn on_timeout(
        &mut self,
        now: Instant,
        sid: Sid,
        eio: &mut Session<Vec<u8>>,
        client: &mut Client,
    ) {
        client.conn.handle_timeout(now, eio);
        log_notices(sid, &mut client.conn);
    }
}

/// Serves the reference test server on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let app = SocketIoApp {
        entropy: StdEntropy::new(),
    };
    runner::serve(listener, &mut Engine::new(ENGINEIO, app), stop)
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| String::from("127.0.0.1:3000"));
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("sio_server: cannot bind {addr}: {e}");
        std::process::exit(1)
    });
    let local = listener.local_addr().expect("local_addr");
    eprintln!("sio_server: serving http://{local}{}", ENGINEIO.path);
    println!("LISTENING {}", local.port());
    if let Err(e) = serve(listener, &AtomicBool::new(false)) {
        eprintln!("sio_server: {e}");
        std::process::exit(1);
    }
}
