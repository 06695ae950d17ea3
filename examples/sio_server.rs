//! A Socket.IO v5 server over `std::net`, in the reference test-server
//! configuration (`tests/peers/sio_server.mjs` is the same server written with
//! Node `socket.io`; see `shared/CONFORMANCE.md`, "Node peers").
//!
//! ```text
//! cargo run --example sio_server -- 127.0.0.1:3000
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
//! A `sockwire::socketio::Connection` sits on top of each
//! `sockwire::engineio::Session`. The run loop is `examples/eio_echo.rs`'s
//! (included with `#[path]`); this file is only its [`App`](eio::App): a
//! per-session `Connection` and `socketio::Assembler`, every Engine.IO message
//! fed to `Connection::handle_message`, the connect timeout driven through
//! `poll_timeout` / `handle_timeout`, and the notices logged.

#[path = "eio_echo.rs"]
#[allow(dead_code)]
mod eio;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;

use sockwire::engineio::{self, Data, Session};
use sockwire::entropy::StdEntropy;
use sockwire::socketio::{self, Assembler, Connection, Event, Message};
use sockwire::time::{Duration, Instant};

/// Engine.IO settings of the reference test server.
pub const ENGINEIO: engineio::Config = engineio::Config {
    path: "/socket.io/",
    ping_interval: Duration::from_millis(300),
    ping_timeout: Duration::from_millis(200),
    max_payload: 1_000_000,
    ..engineio::Config::DEFAULT
};

/// Socket.IO settings of the reference test server.
pub const SOCKETIO: socketio::Config = socketio::Config {
    connect_timeout: Duration::from_millis(1000),
    namespaces: Some(&["/", "/custom"]),
    ..socketio::Config::DEFAULT
};

/// Room for one binary packet: its text and its attachments (each takes its
/// length plus 4 bytes), as large as two maximal Engine.IO messages.
const ASSEMBLER_LEN: usize = 2 * ENGINEIO.max_payload;

/// One client's Socket.IO state.
pub struct Client {
    conn: Connection,
    asm: Assembler<Vec<u8>>,
}

/// The reference test server's behaviour.
pub struct SocketIoApp {
    entropy: StdEntropy,
}

impl SocketIoApp {
    pub fn new() -> Self {
        SocketIoApp {
            entropy: StdEntropy::new(),
        }
    }
}

impl Default for SocketIoApp {
    fn default() -> Self {
        Self::new()
    }
}

/// Logs what the Socket.IO connection has to say.
fn log_notices(sid: &str, conn: &mut Connection) {
    while let Some(notice) = conn.poll_event() {
        eprintln!("sio_server: {sid}: {notice:?}");
    }
}

/// Answers one event on `/`.
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
            // Nothing to answer (the reference server's handler would fail
            // on a missing callback).
            None => Ok(()),
        },
        Some("force-disconnect-transport") => {
            eio.close(now);
            Ok(())
        }
        _ => Ok(()),
    }
}

impl eio::App for SocketIoApp {
    type State = Client;

    fn on_open(&mut self, now: Instant, _session: &mut Session<Vec<u8>>) -> Client {
        Client {
            conn: Connection::new(now, SOCKETIO),
            asm: Assembler::new(vec![0; ASSEMBLER_LEN]),
        }
    }

    fn on_message(
        &mut self,
        now: Instant,
        eio: &mut Session<Vec<u8>>,
        client: &mut Client,
        data: Data<'_>,
    ) {
        let sid = eio.sid().as_str().to_owned();
        let conn = &mut client.conn;
        let answered = match conn.handle_message(now, eio, data, &mut client.asm) {
            Ok(None) => Ok(()),
            Ok(Some(Event::Connect { nsp, auth })) => {
                match conn.accept(eio, nsp, &mut self.entropy) {
                    Ok(socket) => {
                        eprintln!("sio_server: {sid}: connect {nsp} {}", socket.as_str());
                        conn.emit(eio, nsp, "auth", auth.unwrap_or("{}"), &[])
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(Some(Event::Event(m))) => on_event(now, eio, conn, &m),
            Ok(Some(Event::Disconnect { nsp })) => {
                eprintln!("sio_server: {sid}: disconnect {nsp}");
                Ok(())
            }
            Ok(Some(other)) => {
                eprintln!("sio_server: {sid}: ignored {other:?}");
                Ok(())
            }
            // A protocol error (a packet out of place included, as in
            // socket.io 4.8): the connection has closed the session; the
            // notice says why.
            Err(_) => Ok(()),
        };
        if let Err(e) = answered {
            eprintln!("sio_server: {sid}: cannot answer ({e}); closing the session");
            eio.close(now);
        }
        log_notices(&sid, conn);
    }

    fn poll_timeout(&self, client: &Client) -> Option<Instant> {
        client.conn.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant, eio: &mut Session<Vec<u8>>, client: &mut Client) {
        client.conn.handle_timeout(now, eio);
        log_notices(eio.sid().as_str(), &mut client.conn);
    }

    fn on_closed(&mut self, sid: &str, client: Client) {
        let joined: Vec<&str> = client.conn.namespaces().map(|(nsp, _)| nsp).collect();
        eprintln!("sio_server: {sid}: closed (joined: {joined:?})");
    }
}

/// Serves the reference test server on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    eio::serve_app(listener, ENGINEIO, SocketIoApp::new(), stop)
}

fn usage() -> ! {
    eprintln!("usage: sio_server [127.0.0.1:PORT]   (default 127.0.0.1:3000; port 0: any)");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| String::from("127.0.0.1:3000"));
    if args.next().is_some() || addr.starts_with('-') {
        usage();
    }
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        usage()
    };
    let listener = eio::bind_loopback("sio_server", addr);
    let local = listener.local_addr().expect("local_addr");
    eprintln!("sio_server: serving http://{local}{}", ENGINEIO.path);
    println!("LISTENING {}", local.port());
    let stop = AtomicBool::new(false);
    if let Err(e) = serve(listener, &stop) {
        eprintln!("sio_server: {e}");
        std::process::exit(1);
    }
}
