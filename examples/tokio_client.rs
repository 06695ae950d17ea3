//! The Sans-IO `socketio::Client` endpoint driven by tokio, in a demo: join
//! `/`, emit `message`, print the `message-back` answer and the ack of
//! `message-with-ack`, close, exit 0 (the reference test servers answer so:
//! `tests/peers/sio_server.mjs`, `cargo run --example sio_server`).
//!
//! ```text
//! cargo run --example tokio_client -- URL [--transport websocket|polling|both]
//! ```
//!
//! URL: `http://HOST:PORT[/PATH]`, `ws://...` or `HOST:PORT`, any address.
//! `both` (the default) starts on long-polling and waits for the upgrade.
//!
//! One owner task holds the client and sleeps in `tokio::select!` on the
//! inbound channel, on `sleep` until `poll_timeout` and on the application's
//! commands. Each connection's task connects, hands its write half to the
//! owner (which writes each `Transmit` itself) and forwards what it reads.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use sockwire::engineio::{self, ConnId, Transport};
use sockwire::entropy::StdEntropy;
use sockwire::socketio::{self, ClientBuffers, ClientEvent, ClientNotice, blocking::parse_url};
use sockwire::time::{Duration, StdClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, tcp::OwnedWriteHalf};
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinHandle;
use tokio::time::{Instant as TokioInstant, sleep, timeout};

/// The bounds on each connect and write, on the whole demo, on its close.
const IO_TIMEOUT: StdDuration = StdDuration::from_secs(5);
const DEMO_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const CLOSE_TIMEOUT: StdDuration = StdDuration::from_secs(1);
const BUFFER_LEN: usize = 64 * 1024;
/// The demo's arguments, emitted with `message` and `message-with-ack`.
pub const ARGS: &str = r#"1,"two",{"three":3}"#;

type Sio = socketio::Client<Vec<u8>, StdEntropy, 4, 16>;
type Conn = (JoinHandle<()>, Option<OwnedWriteHalf>, Vec<u8>);
/// An application command: emit event `.0` with arguments `.1` on `/`,
/// asking for an ack if `.2`.
type Command = (&'static str, &'static str, bool);

enum Inbound {
    Connected(ConnId, OwnedWriteHalf),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
}

/// What the demo received: the arguments of `message-back` and of the ack
/// of `message-with-ack` (raw JSON), and whether the session upgraded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Demo(pub Option<String>, pub Option<String>, pub bool);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs the demo against `url` over `transport` (`websocket`, `polling` or
/// `both`), within `DEMO_TIMEOUT`.
pub async fn run(url: &str, transport: &str) -> Result<Demo, String> {
    let url = parse_url(url)?;
    let (start, upgrade) = match transport {
        "websocket" => (Transport::WebSocket, false),
        "polling" => (Transport::Polling, false),
        "both" => (Transport::Polling, true),
        t => return Err(format!("unknown transport {t:?}")),
    };
    let mut eio = engineio::ClientConfig::default();
    eio.path = Box::leak(url.path.into_boxed_str());
    eio.max_payload = eio.max_payload.min(BUFFER_LEN);
    eio.upgrade = upgrade;
    let (clock, cfg) = (StdClock::new(), socketio::ClientConfig::default());
    let buffers = ClientBuffers::with_len(BUFFER_LEN, |n| vec![0u8; n]);
    let entropy = StdEntropy::new();
    let sio = Sio::new(clock.now(), eio, cfg, start, &url.addr, buffers, entropy).map_err(err)?;
    let mut o = Owner {
        sio,
        clock,
        addr: url.addr,
        conns: HashMap::new(),
        out: vec![0u8; BUFFER_LEN + 1024],
        demo: Demo::default(),
        upgrade,
    };
    o.sio.connect("/", None).map_err(err)?;
    // The application, a script: emits wait in the client's send buffer
    // until `/` is connected.
    let (cmd_tx, cmds) = channel(4);
    tokio::spawn(async move {
        let _ = cmd_tx.send(("message", ARGS, false)).await;
        let _ = cmd_tx.send(("message-with-ack", ARGS, true)).await;
    });
    match timeout(DEMO_TIMEOUT, o.run(cmds)).await {
        Ok(r) => r.map(|()| o.demo),
        Err(_) => Err(format!("unfinished after {DEMO_TIMEOUT:?}: {:?}", o.demo)),
    }
}

struct Owner {
    sio: Sio,
    clock: StdClock,
    addr: String,
    /// Each connection's task, write half once open, bytes read and not
    /// consumed yet.
    conns: HashMap<ConnId, Conn>,
    out: Vec<u8>,
    demo: Demo,
    upgrade: bool,
}

impl Owner {
    async fn run(&mut self, mut cmds: Receiver<Command>) -> Result<(), String> {
        let (tx, mut rx) = channel(64);
        let mut closing: Option<TokioInstant> = None;
        loop {
            self.drain(&tx).await?;
            let Demo(back, ack, upgraded) = &self.demo;
            if closing.is_none() && back.is_some() && ack.is_some() && *upgraded >= self.upgrade {
                self.sio.close(self.clock.now());
                closing = Some(TokioInstant::now() + CLOSE_TIMEOUT);
                continue;
            }
            let idle = self.sio.is_stopped() && self.conns.is_empty();
            if closing.is_some_and(|end| idle || TokioInstant::now() >= end) {
                return Ok(());
            }
            // While closing, look at the connections every 50 ms.
            let cap = if closing.is_some() { 50 } else { 3_600_000 };
            let now = self.clock.now();
            let due = self
                .sio
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now));
            let wait = StdDuration::from_millis(due.map_or(cap, |d| d.as_millis().min(cap)));
            tokio::select! {
                Some(m) = rx.recv() => self.inbound(m, &tx).await?,
                _ = sleep(wait) => self.sio.handle_timeout(self.clock.now()),
                Some((name, args, ack)) = cmds.recv() => {
                    let (now, t) = (self.clock.now(), Some(Duration::from_millis(5000)));
                    match ack {
                        true => self.sio.emit_with_ack(now, "/", name, args, &[], t).map(drop),
                        false => self.sio.emit("/", name, args, &[]),
                    }.map_err(err)?;
                }
            }
        }
    }

    async fn inbound(&mut self, m: Inbound, tx: &Sender<Inbound>) -> Result<(), String> {
        let now = self.clock.now();
        let (conn, bytes) = match m {
            Inbound::Connected(conn, write) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.1 = Some(write);
                    self.sio.handle_connected(now, conn);
                }
                return Ok(());
            }
            Inbound::Closed(conn) => {
                if self.conns.remove(&conn).is_some() {
                    self.sio.handle_closed(now, conn);
                }
                return Ok(());
            }
            Inbound::Data(conn, bytes) => (conn, bytes),
        };
        let Some((_, _, held)) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        held.extend_from_slice(&bytes);
        let mut buf = std::mem::take(held);
        let mut start = 0;
        // Each call consumes bytes, gives an event or asks to be called
        // again; anything else means "need more bytes". What an input
        // caused goes out before the next input.
        while start < buf.len() {
            let now = self.clock.now();
            let Ok(r) = self.sio.handle_input(now, conn, &mut buf[start..]) else {
                start = buf.len();
                break;
            };
            start += r.consumed;
            let progressed = r.progressed();
            if let Some(ev) = r.message {
                on_event(&mut self.demo, ev);
            }
            if !progressed {
                break;
            }
            self.drain(tx).await?;
        }
        buf.drain(..start);
        if let Some((_, _, held)) = self.conns.get_mut(&conn) {
            *held = buf;
        }
        Ok(())
    }

    /// Writes what the client transmits and acts on its notices until it
    /// has nothing more.
    async fn drain(&mut self, tx: &Sender<Inbound>) -> Result<(), String> {
        loop {
            let mut progressed = false;
            while let Some(t) = self.sio.poll_transmit(&mut self.out).map_err(err)? {
                progressed = true;
                let Some((_, Some(write), _)) = self.conns.get_mut(&t.conn) else {
                    continue;
                };
                let w = timeout(IO_TIMEOUT, write.write_all(&self.out[..t.len])).await;
                let ok = matches!(w, Ok(Ok(())));
                if !ok || t.close_after {
                    // Dropping both halves closes the socket.
                    self.conns.remove(&t.conn).inspect(|c| c.0.abort());
                }
                if !ok {
                    self.sio.handle_closed(self.clock.now(), t.conn);
                }
            }
            while let Some(n) = self.sio.poll_event() {
                progressed = true;
                match n {
                    ClientNotice::OpenConnection { conn, .. } => {
                        let task = tokio::spawn(connection(conn, self.addr.clone(), tx.clone()));
                        self.conns.insert(conn, (task, None, Vec::new()));
                    }
                    ClientNotice::Transport(engineio::ClientEvent::Upgraded) => {
                        println!("upgraded to WebSocket");
                        self.demo.2 = true;
                    }
                    ClientNotice::Fatal(e) => return Err(format!("fatal: {e}")),
                    ClientNotice::ReconnectFailed => return Err("reconnection failed".into()),
                    other => println!("{other:?}"),
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }
}

/// A connection's task: connects, hands the write half to the owner, reads
/// until the end.
async fn connection(conn: ConnId, addr: String, tx: Sender<Inbound>) {
    if let Ok(Ok(stream)) = timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
        let _ = stream.set_nodelay(true);
        let (mut read, write) = stream.into_split();
        let _ = tx.send(Inbound::Connected(conn, write)).await;
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = read.read(&mut buf).await {
            let _ = tx.send(Inbound::Data(conn, buf[..n].to_vec())).await;
        }
    }
    let _ = tx.send(Inbound::Closed(conn)).await;
}

/// The application's side of an event (its only emit with an ack is
/// `message-with-ack`).
fn on_event(demo: &mut Demo, ev: ClientEvent<'_>) {
    match ev {
        ClientEvent::Event(m) if m.name() == Some("message-back") => {
            println!("message-back: [{}]", m.args_raw());
            demo.0 = Some(m.args_raw().to_string());
        }
        ClientEvent::Ack(m) => {
            println!("ack of message-with-ack: [{}]", m.args_raw());
            demo.1 = Some(m.args_raw().to_string());
        }
        other => println!("{other:?}"),
    }
}

#[allow(dead_code)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.as_slice() {
        [url] => run(url, "both").await,
        [url, flag, t] if flag == "--transport" => run(url, t).await,
        _ => Err("usage: tokio_client URL [--transport websocket|polling|both]".into()),
    };
    if let Err(e) = r {
        eprintln!("tokio_client: {e}");
        std::process::exit(1);
    }
}
