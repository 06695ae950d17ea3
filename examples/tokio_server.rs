//! The reference Socket.IO test server of `examples/sio_server.rs` (same
//! application, same settings), driven by tokio instead of the std runner.
//!
//! ```text
//! cargo run --example tokio_server -- [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS] [--deflate] [--redis HOST:PORT]
//! ```
//!
//! `--redis` makes it one node of a cluster, as `sio_server --redis`: the
//! Redis connections are the runner's (`runner::RedisLink`, on threads of
//! their own), and their events wake the owner task through a
//! `tokio::sync::Notify` (`Endpoint::set_waker`).
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
//! TCP's own flow control). The owner writes a connection's bytes itself with
//! `try_write` while nothing is queued for it; what the socket does not take
//! goes to the connection's writer task (unbounded channel of byte chunks),
//! which owns its output until drained. The bytes queued for a writer are
//! counted, and past `WRITE_HIGH` the owner pauses the connection with
//! `set_paused` until the writer has drained below `WRITE_LOW`.

#[path = "sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration as StdDuration;

use sockwire::runner::{ConnId, Endpoint, SocketIo, Waker};
use sockwire::time::Instant;
use sockwire::{engineio, socketio};
use tokio::net::tcp::OwnedWriteHalf;
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

/// A connection as the owner holds it. Dropping it closes the connection:
/// the writer task, if there is one, sends what it holds, then the last
/// handle on the write half drops, which half-closes the socket.
///
/// An idle connection holds no buffer: input is kept only while the endpoint
/// has not consumed it, and the writer task with its channel exists only
/// from the first write the socket did not take at once.
struct Conn {
    id: ConnId,
    input: Vec<u8>,
    wr: Arc<OwnedWriteHalf>,
    writer: Option<Writer>,
    paused: bool,
    reader: Option<JoinHandle<()>>,
}

/// The writer task's end: the chunks queued for it and their byte count.
struct Writer {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    backlog: Arc<AtomicUsize>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
    }
}

impl Conn {
    /// Writes `bytes` now if nothing waits before them, and queues the rest
    /// for the writer task (started here the first time); returns the bytes
    /// queued.
    fn send(&mut self, bytes: &[u8], owner: &mpsc::Sender<Msg>) -> usize {
        let queued = self.writer.as_ref().map_or(0, |w| w.backlog.load(SeqCst));
        let direct = match queued {
            0 => self.wr.try_write(bytes).unwrap_or(0),
            _ => 0,
        };
        if direct == bytes.len() {
            return queued;
        }
        let w = self
            .writer
            .get_or_insert_with(|| spawn_writer(self.id, self.wr.clone(), owner.clone()));
        w.backlog.fetch_add(bytes.len() - direct, SeqCst);
        let _ = w.tx.send(bytes[direct..].to_vec());
        w.backlog.load(SeqCst)
    }
}

/// The task that owns a connection's queued output until it is written,
/// telling the owner when the backlog falls below `WRITE_LOW`.
fn spawn_writer(id: ConnId, w: Arc<OwnedWriteHalf>, owner: mpsc::Sender<Msg>) -> Writer {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let backlog = Arc::new(AtomicUsize::new(0));
    let count = backlog.clone();
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            let mut at = 0;
            while at < bytes.len() {
                match w.writable().await.and_then(|()| w.try_write(&bytes[at..])) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
            let before = count.fetch_sub(bytes.len(), SeqCst);
            if before > WRITE_LOW && before - bytes.len() <= WRITE_LOW {
                let _ = owner.send(Msg::Drained(id)).await;
            }
        }
    });
    Writer { tx, backlog }
}

thread_local! {
    /// The one read buffer of the runtime's thread: a reader task reads into
    /// it only once its socket is readable and copies out what it got, so no
    /// connection holds a read buffer while it waits.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
}

/// The reader task: socket -> bounded channel -> owner, so that a flood
/// waits in TCP's own flow control.
async fn read_loop(id: ConnId, rd: tokio::net::tcp::OwnedReadHalf, tx: mpsc::Sender<Msg>) {
    while rd.readable().await.is_ok() {
        let got = READ_BUF.with_borrow_mut(|buf| match rd.try_read(buf) {
            Ok(0) => Err(()),
            Ok(n) => Ok(Some(buf[..n].to_vec())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(_) => Err(()),
        });
        match got {
            Ok(Some(bytes)) => {
                if tx.send(Msg::Data(id, bytes)).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(()) => break,
        }
    }
    let _ = tx.send(Msg::Closed(id)).await;
}

/// Serves the reference test server on `listener` until `stop` is set.
pub fn serve(listener: std::net::TcpListener, stop: &AtomicBool) -> io::Result<()> {
    serve_with(listener, sio_server::ENGINEIO, None, stop)
}

/// [`serve`] with other Engine.IO settings and, with `recovery`, connection
/// state recovery.
pub fn serve_with(
    listener: std::net::TcpListener,
    eio: engineio::Config,
    recovery: Option<socketio::recovery::Config>,
    stop: &AtomicBool,
) -> io::Result<()> {
    serve_full(listener, eio, recovery, None, stop)
}

/// [`serve`] with other Engine.IO settings, one node of the cluster on the
/// Redis at `redis`.
pub fn serve_cluster(
    listener: std::net::TcpListener,
    eio: engineio::Config,
    stop: &AtomicBool,
    redis: Option<std::net::SocketAddr>,
) -> io::Result<()> {
    serve_full(listener, eio, None, redis, stop)
}

fn serve_full(
    listener: std::net::TcpListener,
    eio: engineio::Config,
    recovery: Option<socketio::recovery::Config>,
    redis: Option<std::net::SocketAddr>,
    stop: &AtomicBool,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut endpoint = SocketIo::new(eio, sio_server::SOCKETIO, sio_server::App::default());
    endpoint
        .server
        .set_recovery(recovery)
        .expect("the heap holds the recovery log");
    if let Some(redis) = redis {
        endpoint = endpoint.with_redis(redis)?;
    }
    rt.block_on(async move { run(TcpListener::from_std(listener)?, &mut endpoint, stop).await })
}

async fn run<E: Endpoint>(listener: TcpListener, ep: &mut E, stop: &AtomicBool) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    // Input from elsewhere than the connections (a Redis link) wakes the
    // owner through this.
    let notify = Arc::new(tokio::sync::Notify::new());
    let n = notify.clone();
    ep.set_waker(Waker::new(move || n.notify_one()));
    let acceptor = tokio::spawn({
        let tx = tx.clone();
        async move {
            for next in 1.. {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
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
    while !stop.load(SeqCst) {
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
            () = notify.notified() => {}
        }
        let now = clock();
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
        ep.process(now);
        flush(ep, &mut conns, &mut out, &clock, &tx);
    }
    acceptor.abort();
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
            let (rd, wr) = stream.into_split();
            let mut conn = Conn {
                id,
                input: Vec::new(),
                wr: Arc::new(wr),
                writer: None,
                paused: false,
                reader: None,
            };
            if let Err(refusal) = ep.accept(now, id) {
                conn.send(&refusal, tx);
                return;
            }
            conn.reader = Some(tokio::spawn(read_loop(id, rd, tx.clone())));
            conns.insert(id, conn);
        }
        Msg::Data(id, bytes) => {
            if let Some(c) = conns.get_mut(&id) {
                // The reader's chunk becomes the input when nothing waits.
                if c.input.is_empty() {
                    c.input = bytes;
                } else {
                    c.input.extend_from_slice(&bytes);
                }
                feed(ep, conns, id, now);
            }
        }
        Msg::Closed(id) => {
            if conns.remove(&id).is_some() {
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
    if c.input.is_empty() {
        // An idle connection keeps no input buffer.
        c.input = Vec::new();
    }
    if c.input.len() > ep.input_capacity() {
        // More than a head and a body that the endpoint cannot use: a flood.
        conns.remove(&id);
        ep.closed(now, id);
    }
}

/// Writes or queues everything the endpoint has, and retries input that
/// waited for it (a pipelined request behind a response).
fn flush<E: Endpoint>(
    ep: &mut E,
    conns: &mut HashMap<ConnId, Conn>,
    out: &mut Vec<u8>,
    clock: &impl Fn() -> Instant,
    owner: &mpsc::Sender<Msg>,
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
                    if t.len > 0 && c.send(&out[..t.len], owner) > WRITE_HIGH && !c.paused {
                        c.paused = true;
                        ep.set_paused(t.conn, true);
                    }
                    if t.close_after {
                        conns.remove(&t.conn);
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
    let c = sio_server::cli("tokio_server");
    let stop = AtomicBool::new(false);
    if let Err(e) = serve_full(c.listener, c.eio, c.recovery, c.redis, &stop) {
        eprintln!("tokio_server: {e}");
        std::process::exit(1);
    }
}
