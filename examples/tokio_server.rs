//! The reference Socket.IO test server of `examples/sio_server.rs` (same
//! application, same settings), driven by tokio instead of the std runner.
//!
//! ```text
//! cargo run --example tokio_server -- [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS]
//! ```
//!
//! Prints `LISTENING <port>`, then serves until killed. The benchmarks in
//! `tests/bench` run it beside the std runner and Node `socket.io`.
//!
//! # The driver
//!
//! One thread (a current-thread runtime). One owner task holds the Sans-IO
//! `socketio::Server` with its application (`runner::SocketIo`, the same
//! [`runner::Endpoint`] the std runner drives) and sleeps in `tokio::select!`
//! on the inbound channel and on `sleep_until(poll_timeout)`. Each connection
//! has a reader task (socket -> bounded channel -> owner: a flood waits in
//! TCP's own flow control) and a writer task (owner -> unbounded channel of
//! byte chunks -> socket); the bytes queued for a writer are counted, and past
//! `WRITE_HIGH` the owner pauses the connection with `set_paused` until the
//! writer has drained below `WRITE_LOW`.

#[path = "sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use sockwire::engineio;
use sockwire::runner::{ConnId, Endpoint, SocketIo};
use sockwire::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;

const WRITE_HIGH: usize = 1 << 20;
const WRITE_LOW: usize = 256 << 10;
/// How often an idle owner looks at the stop flag.
const STOP_CHECK: StdDuration = StdDuration::from_millis(250);

enum Msg {
    Accepted(ConnId, TcpStream),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
    Drained(ConnId),
}

enum Out {
    Bytes(Vec<u8>),
    Close,
}

struct Conn {
    input: Vec<u8>,
    tx: mpsc::UnboundedSender<Out>,
    backlog: Arc<AtomicUsize>,
    paused: bool,
    reader: JoinHandle<()>,
}

/// Serves the reference test server on `listener` until `stop` is set.
pub fn serve(listener: std::net::TcpListener, stop: &AtomicBool) -> io::Result<()> {
    serve_with(listener, sio_server::ENGINEIO, stop)
}

/// [`serve`] with other Engine.IO settings.
pub fn serve_with(
    listener: std::net::TcpListener,
    eio: engineio::Config,
    stop: &AtomicBool,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut endpoint = SocketIo::new(eio, sio_server::SOCKETIO, sio_server::app);
    rt.block_on(async move { run(TcpListener::from_std(listener)?, &mut endpoint, stop).await })
}

async fn run<E: Endpoint>(listener: TcpListener, ep: &mut E, stop: &AtomicBool) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let acceptor = tokio::spawn({
        let tx = tx.clone();
        async move {
            let mut next: ConnId = 0;
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        next += 1;
                        if tx.send(Msg::Accepted(next, stream)).await.is_err() {
                            return;
                        }
                    }
                    // Out of descriptors, say: wait a moment rather than spin.
                    Err(_) => tokio::time::sleep(StdDuration::from_millis(10)).await,
                }
            }
        }
    });
    let start = TokioInstant::now();
    let clock = move || Instant::from_millis(start.elapsed().as_millis() as u64);
    let mut conns: HashMap<ConnId, Conn> = HashMap::new();
    let mut out = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let check = TokioInstant::now() + STOP_CHECK;
        let wake = ep.poll_timeout().map_or(check, |t| {
            (start + StdDuration::from_millis(t.as_millis())).min(check)
        });
        tokio::select! {
            msg = rx.recv() => {
                let mut next = msg;
                // Take every message that is already here before writing.
                while let Some(msg) = next {
                    handle(ep, &mut conns, msg, clock(), &tx);
                    next = rx.try_recv().ok();
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
        let now = clock();
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
        ep.process(now);
        flush(ep, &mut conns, &mut out, &clock);
    }
    acceptor.abort();
    for (_, c) in conns.drain() {
        c.reader.abort();
        let _ = c.tx.send(Out::Close);
    }
    Ok(())
}

fn handle<E: Endpoint>(
    ep: &mut E,
    conns: &mut HashMap<ConnId, Conn>,
    msg: Msg,
    now: Instant,
    tx: &mpsc::Sender<Msg>,
) {
    match msg {
        Msg::Accepted(id, stream) => {
            let (mut rd, mut wr) = stream.into_split();
            let (wtx, mut wrx) = mpsc::unbounded_channel::<Out>();
            let backlog = Arc::new(AtomicUsize::new(0));
            let refused = ep.accept(now, id).err();
            let drained = (tx.clone(), backlog.clone());
            tokio::spawn(async move {
                while let Some(out) = wrx.recv().await {
                    let Out::Bytes(bytes) = out else { break };
                    if wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                    let before = drained.1.fetch_sub(bytes.len(), Ordering::Relaxed);
                    if before > WRITE_LOW && before - bytes.len() <= WRITE_LOW {
                        let _ = drained.0.send(Msg::Drained(id)).await;
                    }
                }
                // Half-close; the peer reads the last bytes, then the socket drops.
                let _ = wr.shutdown().await;
            });
            if let Some(refusal) = refused {
                let _ = wtx.send(Out::Bytes(refusal));
                let _ = wtx.send(Out::Close);
                return;
            }
            let tx = tx.clone();
            let reader = tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = rd.read(&mut buf).await {
                    if tx.send(Msg::Data(id, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(Msg::Closed(id)).await;
            });
            let conn = Conn {
                input: Vec::new(),
                tx: wtx,
                backlog,
                paused: false,
                reader,
            };
            conns.insert(id, conn);
        }
        Msg::Data(id, bytes) => {
            if let Some(c) = conns.get_mut(&id) {
                c.input.extend_from_slice(&bytes);
                feed(ep, conns, id, now);
            }
        }
        Msg::Closed(id) => {
            if let Some(c) = conns.remove(&id) {
                let _ = c.tx.send(Out::Close);
                ep.closed(now, id);
            }
        }
        Msg::Drained(id) => {
            if let Some(c) = conns.get_mut(&id).filter(|c| c.paused) {
                c.paused = false;
                ep.set_paused(id, false);
            }
        }
    }
}

/// Drops a connection the endpoint is done with: the writer sends what it has,
/// then closes; the reader stops.
fn drop_conn(conns: &mut HashMap<ConnId, Conn>, id: ConnId) {
    if let Some(c) = conns.remove(&id) {
        c.reader.abort();
        let _ = c.tx.send(Out::Close);
    }
}

/// Feeds a connection's unconsumed input until the endpoint stops making progress.
fn feed<E: Endpoint>(ep: &mut E, conns: &mut HashMap<ConnId, Conn>, id: ConnId, now: Instant) {
    let Some(c) = conns.get_mut(&id) else { return };
    let mut off = 0;
    while off < c.input.len() {
        let step = ep.input(now, id, &mut c.input[off..]);
        off += step.consumed;
        if step.consumed == 0 && !step.progressed {
            break;
        }
    }
    c.input.drain(..off);
    if c.input.len() > ep.input_capacity() {
        // More than a head and a body that the endpoint cannot use: a flood.
        drop_conn(conns, id);
        ep.closed(now, id);
    }
}

/// Hands everything the endpoint has to the writers, and retries input that
/// waited for it (a pipelined request behind a response).
fn flush<E: Endpoint>(
    ep: &mut E,
    conns: &mut HashMap<ConnId, Conn>,
    out: &mut Vec<u8>,
    clock: &impl Fn() -> Instant,
) {
    loop {
        let mut waiting = Vec::new();
        loop {
            match ep.transmit(out) {
                Ok(None) => break,
                Ok(Some(t)) => {
                    let Some(c) = conns.get_mut(&t.conn) else {
                        continue;
                    };
                    if t.len > 0 {
                        let backlog = c.backlog.fetch_add(t.len, Ordering::Relaxed) + t.len;
                        let _ = c.tx.send(Out::Bytes(out[..t.len].to_vec()));
                        if !c.paused && backlog > WRITE_HIGH {
                            c.paused = true;
                            ep.set_paused(t.conn, true);
                        }
                    }
                    if t.close_after {
                        drop_conn(conns, t.conn);
                    } else if !c.input.is_empty() {
                        waiting.push(t.conn);
                    }
                }
                Err(required) => out.resize(required.max(out.len() * 2), 0),
            }
        }
        if waiting.is_empty() {
            return;
        }
        let now = clock();
        for id in waiting {
            feed(ep, conns, id, now);
        }
        ep.process(now);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut eio) = (String::from("127.0.0.1:3000"), sio_server::ENGINEIO);
    while let Some(a) = args.next() {
        let mut ms = || match args.next().and_then(|v| v.parse().ok()) {
            Some(v) => Duration::from_millis(v),
            None => usage(&format!("{a} needs a number of milliseconds")),
        };
        match a.as_str() {
            "--ping-interval" => eio.ping_interval = ms(),
            "--ping-timeout" => eio.ping_timeout = ms(),
            _ if !a.starts_with("--") => addr = a,
            _ => usage(&format!("unknown option {a}")),
        }
    }
    let listener = std::net::TcpListener::bind(&addr)
        .unwrap_or_else(|e| usage(&format!("cannot bind {addr}: {e}")));
    let local = listener.local_addr().expect("local_addr");
    eprintln!("tokio_server: serving http://{local}{}", eio.path);
    println!("LISTENING {}", local.port());
    if let Err(e) = serve_with(listener, eio, &AtomicBool::new(false)) {
        eprintln!("tokio_server: {e}");
        std::process::exit(1);
    }
}

fn usage(why: &str) -> ! {
    eprintln!("tokio_server: {why}");
    eprintln!("usage: tokio_server [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS]");
    std::process::exit(2)
}
