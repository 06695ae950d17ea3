//! A server runner over `std::net` (feature `std`): the endpoints'
//! Sans-IO run loop, with real sockets and no busy loop.
//!
//! The run loop of the crate docs, made concrete for blocking sockets:
//!
//! - one thread accepts connections;
//! - each connection has a reader thread (blocking reads, handed to the
//!   endpoint thread through a bounded channel, so a flood blocks its reader
//!   and TCP's own flow control pushes back) and a writer thread (blocking
//!   writes from an unbounded channel whose backlog is counted: past
//!   [`Options::write_high`] bytes the endpoint pauses the connection with
//!   `set_paused`, and resumes it when the writer drains);
//! - the endpoint thread writes a connection's bytes itself while that
//!   connection's writer has nothing queued and the socket takes them (a
//!   send timeout of [`DIRECT_WRITE_TIMEOUT`] bounds the wait when its buffer
//!   is full); whatever the socket does not take at once goes to the writer
//!   thread, which then owns the connection's output until it has drained.
//!   A ping or an answer thus costs one `write` and no thread hand-off;
//! - one endpoint thread owns the endpoint ([`Endpoint`]: the Engine.IO or
//!   Socket.IO server with its application) and sleeps until a message from a
//!   socket thread or the endpoint's `poll_timeout`.
//!
//! An idle server uses no CPU beyond one wake-up every
//! [`Options::stop_check`] to look at the stop flag. Threads are cheap on
//! Linux (a reader and a writer cost about 20 KiB of resident memory); a
//! driver over an event loop (tokio, mio, smoltcp) uses the same endpoint with
//! none, as `examples/tokio_server.rs` shows.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::string::String;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration as StdDuration;
use std::vec;
use std::vec::Vec;

mod redis;
pub use redis::{LinkEvent, RedisLink};

use crate::engineio::{self, Data, Session, Sid};
use crate::entropy::StdEntropy;
use crate::storage::Growable;
use crate::time::{Instant, StdClock};

/// A connection handle of the runner.
pub type ConnId = u64;

/// Bytes for a connection (the runner's view of the endpoints' `Transmit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The connection.
    pub conn: ConnId,
    /// Bytes at the start of the buffer.
    pub len: usize,
    /// Close the connection after them.
    pub close_after: bool,
}

/// What one call of [`Endpoint::input`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Bytes consumed.
    pub consumed: usize,
    /// Something happened besides consuming (a message was handled).
    pub progressed: bool,
    /// The connection waits for its output to be written.
    pub blocked: bool,
}

/// A Sans-IO endpoint with its application, as the runner drives it.
pub trait Endpoint {
    /// A connection was accepted; `Err` carries the refusal to write before
    /// closing it.
    fn accept(&mut self, now: Instant, conn: ConnId) -> Result<(), Vec<u8>>;
    /// Bytes from `conn` (its unconsumed bytes, from the first).
    fn input(&mut self, now: Instant, conn: ConnId, bytes: &mut [u8]) -> Step;
    /// `conn` closed.
    fn closed(&mut self, now: Instant, conn: ConnId);
    /// Bytes to send; `Err(required)` when `out` is too small.
    fn transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit>, usize>;
    /// Backpressure on `conn`.
    fn set_paused(&mut self, conn: ConnId, paused: bool);
    /// When to call [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Instant>;
    /// Runs the due timers.
    fn handle_timeout(&mut self, now: Instant);
    /// Lets the application act on events (after every input, timeout and
    /// message from outside).
    fn process(&mut self, now: Instant);
    /// How many unconsumed bytes a connection may hold before it is closed as
    /// a flood.
    fn input_capacity(&self) -> usize;
    /// Takes the runner's [`Waker`], for an endpoint that has input from
    /// elsewhere than its connections (a Redis link): waking the runner
    /// makes it call [`process`](Self::process) soon. Called once, before
    /// the first input. The default ignores it.
    fn set_waker(&mut self, waker: Waker) {
        let _ = waker;
    }
}

/// Wakes a driver's endpoint thread or task from another thread (see
/// [`Endpoint::set_waker`]): the std runner's, or any driver's made with
/// [`Waker::new`].
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    /// A waker that calls `wake` (a driver's: it must make the driver call
    /// [`Endpoint::process`] soon, and be harmless when repeated).
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Waker(Arc::new(wake))
    }

    /// Makes the driver run [`Endpoint::process`] soon; harmless when
    /// repeated, and after the driver stopped.
    pub fn wake(&self) {
        (self.0)()
    }
}

impl core::fmt::Debug for Waker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Waker")
    }
}

/// Runner settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Bytes waiting for a connection's writer past which the endpoint pauses
    /// it. Default 1 MiB.
    pub write_high: usize,
    /// ... and below which it resumes it. Default 256 KiB.
    pub write_low: usize,
    /// How often the endpoint thread looks at the stop flag while idle.
    /// Default 250 ms.
    pub stop_check: StdDuration,
    /// Stack size of the reader and writer threads. Default 64 KiB.
    pub thread_stack: usize,
    /// Deadlines are run in batches on this grid: the endpoint thread wakes
    /// for a deadline at the next multiple of `timer_grain`, so a deadline
    /// runs at most this late, and with many sessions one wake-up sends many
    /// pings. Default 10 ms (an Engine.IO client allows `pingTimeout`, 20 s by
    /// default, for a ping to be late).
    pub timer_grain: StdDuration,
    /// The most connections the runner holds; more get a 503 and are
    /// closed before the endpoint sees them. Each connection is two threads,
    /// and each thread's stack takes two memory mappings: Linux allows a
    /// process 65,530 mappings by default (`vm.max_map_count`), so past about
    /// 8,000 connections an allocation would fail and the process abort.
    /// Default 4,096; a server that must hold more connections is better
    /// served by an event-driven driver (see `examples/tokio_server.rs`).
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            write_high: 1 << 20,
            write_low: 256 << 10,
            stop_check: StdDuration::from_millis(250),
            thread_stack: 64 << 10,
            timer_grain: StdDuration::from_millis(10),
            max_connections: 4096,
        }
    }
}

#[derive(Debug)]
enum Msg {
    /// From a [`Waker`]: only wakes the loop.
    Wake,
    Accepted(ConnId, TcpStream),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
    Drained(ConnId),
}

struct ConnIo {
    /// Unconsumed input.
    input: Vec<u8>,
    writer: Sender<WriteCmd>,
    backlog: Arc<AtomicUsize>,
    paused: bool,
    stream: Arc<TcpStream>,
    flags: Arc<Flags>,
}

/// What a connection's reader and writer threads tell each other.
#[derive(Default)]
struct Flags {
    /// We are closing: the reader discards what still arrives.
    closing: AtomicBool,
    /// The reader saw the end of the stream (or an error).
    reader_done: AtomicBool,
}

/// How long a closing connection is read (and discarded) after our FIN, so
/// that unread bytes do not turn the close into a reset that destroys the
/// last response in flight.
const LINGER: StdDuration = StdDuration::from_secs(2);

/// The send timeout of every connection's socket while the endpoint thread
/// may write to it: the longest the endpoint thread waits on a socket whose
/// send buffer is full before handing the bytes to the connection's writer
/// thread. (The writer clears it while it holds bytes, and sets it back
/// before it reports the backlog empty.)
pub const DIRECT_WRITE_TIMEOUT: StdDuration = StdDuration::from_millis(1);

impl ConnIo {
    /// Writes what is queued, then half-closes and lingers (see [`LINGER`]).
    fn close(&self) {
        self.flags.closing.store(true, Ordering::SeqCst);
        let _ = self.writer.send(WriteCmd::Close);
    }
}

/// The answer to a connection past [`Options::max_connections`].
const RUNNER_FULL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

enum WriteCmd {
    Bytes(Vec<u8>),
    Close,
}

/// Runs `endpoint` on `listener` until `stop` is set (seen within
/// [`Options::stop_check`]).
pub fn serve<E: Endpoint>(
    listener: TcpListener,
    endpoint: &mut E,
    stop: &AtomicBool,
) -> io::Result<()> {
    serve_with(listener, endpoint, stop, Options::default())
}

/// [`serve`] with settings.
pub fn serve_with<E: Endpoint>(
    listener: TcpListener,
    endpoint: &mut E,
    stop: &AtomicBool,
    options: Options,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::sync_channel::<Msg>(4096);
    let accepting = Arc::new(AtomicBool::new(true));
    let acceptor = {
        let tx = tx.clone();
        let accepting = accepting.clone();
        std::thread::Builder::new()
            .name("sockwire-accept".into())
            .spawn(move || accept_loop(listener, tx, accepting))?
    };
    let result = run(endpoint, &rx, &tx, stop, options);
    // Wake the accept thread with a connection of our own, then let it go.
    accepting.store(false, Ordering::SeqCst);
    let _ = TcpStream::connect(local);
    let _ = acceptor.join();
    result
}

fn accept_loop(listener: TcpListener, tx: SyncSender<Msg>, accepting: Arc<AtomicBool>) {
    let mut next: ConnId = 0;
    while accepting.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if !accepting.load(Ordering::SeqCst) {
                    break;
                }
                let _ = stream.set_nodelay(true);
                next += 1;
                if tx.send(Msg::Accepted(next, stream)).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of descriptors, say: wait a moment rather than spin.
            Err(_) => std::thread::sleep(StdDuration::from_millis(10)),
        }
    }
}

fn spawn_reader(
    id: ConnId,
    stream: Arc<TcpStream>,
    tx: SyncSender<Msg>,
    stack: usize,
    flags: Arc<Flags>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("sockwire-read".into())
        .stack_size(stack)
        .spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match (&*stream).read(&mut buf) {
                    Ok(0) => break,
                    // Closing: what still arrives is read and dropped.
                    Ok(_) if flags.closing.load(Ordering::SeqCst) => {}
                    Ok(n) => {
                        if tx.send(Msg::Data(id, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            flags.reader_done.store(true, Ordering::SeqCst);
            let _ = tx.send(Msg::Closed(id));
        })
        .map(|_| ())
}

fn spawn_writer(
    id: ConnId,
    stream: Arc<TcpStream>,
    rx: Receiver<WriteCmd>,
    backlog: Arc<AtomicUsize>,
    tx: SyncSender<Msg>,
    options: Options,
    flags: Arc<Flags>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("sockwire-write".into())
        .stack_size(options.thread_stack)
        .spawn(move || {
            while let Ok(cmd) = rx.recv() {
                match cmd {
                    WriteCmd::Bytes(bytes) => {
                        if write_blocking(&stream, &bytes).is_err() {
                            let _ = stream.shutdown(Shutdown::Both);
                            return;
                        }
                        // The last queued bytes: give the socket back to the
                        // endpoint thread's direct writes, timeout first.
                        if backlog.load(Ordering::SeqCst) == bytes.len() {
                            let _ = stream.set_write_timeout(Some(DIRECT_WRITE_TIMEOUT));
                        }
                        let before = backlog.fetch_sub(bytes.len(), Ordering::SeqCst);
                        let after = before - bytes.len();
                        if before > options.write_low && after <= options.write_low {
                            let _ = tx.send(Msg::Drained(id));
                        }
                    }
                    WriteCmd::Close => {
                        // Half-close, then linger while the reader drains what
                        // the peer still sends, until it closes or LINGER.
                        let _ = stream.shutdown(Shutdown::Write);
                        let step = StdDuration::from_millis(20);
                        let mut waited = StdDuration::ZERO;
                        while waited < LINGER && !flags.reader_done.load(Ordering::SeqCst) {
                            std::thread::sleep(step);
                            waited += step;
                        }
                        let _ = stream.shutdown(Shutdown::Both);
                        return;
                    }
                }
            }
        })
        .map(|_| ())
}

/// `write_all` for the writer thread: a send timeout left by the direct
/// path is cleared at the first one it meets, and the write goes on blocking.
fn write_blocking(mut stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                stream.set_write_timeout(None)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `write` from the endpoint thread when the connection's writer holds
/// nothing: how many bytes the socket took (0 when its buffer was full for
/// [`DIRECT_WRITE_TIMEOUT`], or on an error, which the writer then meets).
fn write_direct(c: &ConnIo, bytes: &[u8]) -> usize {
    if bytes.is_empty() || c.backlog.load(Ordering::SeqCst) != 0 {
        return 0;
    }
    loop {
        match (&*c.stream).write(bytes) {
            Ok(n) => return n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return 0,
        }
    }
}

fn run<E: Endpoint>(
    endpoint: &mut E,
    rx: &Receiver<Msg>,
    tx: &SyncSender<Msg>,
    stop: &AtomicBool,
    options: Options,
) -> io::Result<()> {
    let clock = StdClock::new();
    let waker = tx.clone();
    endpoint.set_waker(Waker::new(move || {
        let _ = waker.try_send(Msg::Wake);
    }));
    let mut conns: HashMap<ConnId, ConnIo> = HashMap::new();
    let mut out = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        // Sleep until a message or the endpoint's next deadline.
        let now = clock.now();
        let grain = (options.timer_grain.as_millis() as u64).max(1);
        let wait = match endpoint.poll_timeout() {
            Some(t) if t > now => {
                let wake = t.as_millis().div_ceil(grain) * grain;
                StdDuration::from_millis(wake - now.as_millis())
            }
            Some(_) => StdDuration::ZERO,
            None => options.stop_check,
        }
        .min(options.stop_check);
        let first = if wait.is_zero() {
            rx.try_recv().ok()
        } else {
            match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        let mut next = first;
        // Take every message that is already here before writing.
        while let Some(msg) = next {
            let now = clock.now();
            handle_msg(endpoint, &mut conns, msg, now, tx, options);
            next = rx.try_recv().ok();
        }
        let now = clock.now();
        if endpoint.poll_timeout().is_some_and(|t| t <= now) {
            endpoint.handle_timeout(now);
        }
        endpoint.process(now);
        flush(endpoint, &mut conns, &mut out, options, &clock);
    }
    for (_, c) in conns.drain() {
        let _ = c.stream.shutdown(Shutdown::Both);
    }
    Ok(())
}

fn handle_msg<E: Endpoint>(
    endpoint: &mut E,
    conns: &mut HashMap<ConnId, ConnIo>,
    msg: Msg,
    now: Instant,
    tx: &SyncSender<Msg>,
    options: Options,
) {
    match msg {
        Msg::Wake => {}
        Msg::Accepted(id, stream) => {
            if conns.len() >= options.max_connections {
                let mut stream = stream;
                let _ = stream.write_all(RUNNER_FULL);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            if let Err(refusal) = endpoint.accept(now, id) {
                let mut stream = stream;
                let _ = stream.write_all(&refusal);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            if stream
                .set_write_timeout(Some(DIRECT_WRITE_TIMEOUT))
                .is_err()
            {
                let _ = stream.shutdown(Shutdown::Both);
                endpoint.closed(now, id);
                return;
            }
            // One descriptor, shared by the reader, the writer and the
            // endpoint thread's direct writes (`Read`/`Write` for `&TcpStream`).
            let stream = Arc::new(stream);
            let (r, w) = (stream.clone(), stream.clone());
            let (wtx, wrx) = mpsc::channel();
            let backlog = Arc::new(AtomicUsize::new(0));
            let flags = Arc::new(Flags::default());
            let started = spawn_writer(
                id,
                w,
                wrx,
                backlog.clone(),
                tx.clone(),
                options,
                flags.clone(),
            )
            .and_then(|()| spawn_reader(id, r, tx.clone(), options.thread_stack, flags.clone()));
            if started.is_err() {
                let _ = stream.shutdown(Shutdown::Both);
                endpoint.closed(now, id);
                return;
            }
            conns.insert(
                id,
                ConnIo {
                    input: Vec::new(),
                    writer: wtx,
                    backlog,
                    paused: false,
                    stream,
                    flags,
                },
            );
        }
        Msg::Data(id, bytes) => {
            let Some(c) = conns.get_mut(&id) else {
                return;
            };
            c.input.extend_from_slice(&bytes);
            feed(endpoint, conns, id, now);
        }
        Msg::Closed(id) => {
            if let Some(c) = conns.remove(&id) {
                c.close();
                endpoint.closed(now, id);
            }
        }
        Msg::Drained(id) => {
            if let Some(c) = conns.get_mut(&id)
                && c.paused
            {
                c.paused = false;
                endpoint.set_paused(id, false);
            }
        }
    }
}

/// Feeds a connection's unconsumed input to the endpoint until it stops
/// making progress.
fn feed<E: Endpoint>(
    endpoint: &mut E,
    conns: &mut HashMap<ConnId, ConnIo>,
    id: ConnId,
    now: Instant,
) {
    let Some(c) = conns.get_mut(&id) else {
        return;
    };
    let mut off = 0;
    while off < c.input.len() {
        let step = endpoint.input(now, id, &mut c.input[off..]);
        off += step.consumed;
        if step.consumed == 0 && !step.progressed {
            break;
        }
    }
    c.input.drain(..off);
    if c.input.len() > endpoint.input_capacity() {
        // More than a head and a body that the endpoint cannot use: a flood.
        c.close();
        conns.remove(&id);
        endpoint.closed(now, id);
    }
}

/// Writes everything the endpoint has, and retries input that waited for it
/// (a pipelined request behind a response).
fn flush<E: Endpoint>(
    endpoint: &mut E,
    conns: &mut HashMap<ConnId, ConnIo>,
    out: &mut Vec<u8>,
    options: Options,
    clock: &StdClock,
) {
    loop {
        let mut waiting: Vec<ConnId> = Vec::new();
        loop {
            match endpoint.transmit(out) {
                Ok(None) => break,
                Ok(Some(t)) => {
                    let Some(c) = conns.get_mut(&t.conn) else {
                        continue;
                    };
                    let direct = write_direct(c, &out[..t.len]);
                    if direct < t.len {
                        let rest = &out[direct..t.len];
                        c.backlog.fetch_add(rest.len(), Ordering::SeqCst);
                        let _ = c.writer.send(WriteCmd::Bytes(rest.to_vec()));
                        if !c.paused && c.backlog.load(Ordering::SeqCst) > options.write_high {
                            c.paused = true;
                            endpoint.set_paused(t.conn, true);
                        }
                    }
                    if t.close_after {
                        c.close();
                        conns.remove(&t.conn);
                    } else if !c.input.is_empty() {
                        waiting.push(t.conn);
                    }
                }
                Err(required) => {
                    let grown = required.max(out.len() * 2);
                    out.resize(grown, 0);
                }
            }
        }
        if waiting.is_empty() {
            return;
        }
        let now = clock.now();
        for id in waiting {
            feed(endpoint, conns, id, now);
        }
        endpoint.process(now);
    }
}

// ---------------------------------------------------------------------------
// Engine.IO applications
// ---------------------------------------------------------------------------

/// The buffers of the runner's sessions (zeroed, allocated when first
/// written).
pub type Buf = crate::storage::LazyBuf;

/// The Engine.IO server endpoint as the runner keeps it: growable tables,
/// the operating system's entropy.
pub type EngineServer<U> = engineio::Server<ConnId, U, Growable, StdEntropy>;

/// An Engine.IO application: what it does with messages and events.
pub trait EngineApp {
    /// Per-session state.
    type State: engineio::UserState<Buf>;
    /// A message from session `sid`; answer on `session`.
    fn on_message(
        &mut self,
        now: Instant,
        sid: Sid,
        session: &mut Session<Buf>,
        state: &mut Self::State,
        data: Data<'_>,
    );
    /// Session `sid`'s deadline (its state's `poll_timeout`) is due.
    fn on_timeout(
        &mut self,
        now: Instant,
        sid: Sid,
        session: &mut Session<Buf>,
        state: &mut Self::State,
    ) {
        let _ = (now, sid, session, state);
    }

    /// A session opened, upgraded or closed.
    fn on_event(
        &mut self,
        now: Instant,
        server: &mut EngineServer<Self::State>,
        event: engineio::Event,
    ) {
        let _ = (now, server, event);
    }
}

/// An Engine.IO server and its application, ready for [`serve`].
pub struct Engine<A: EngineApp> {
    /// The endpoint.
    pub server: EngineServer<A::State>,
    /// The application.
    pub app: A,
}

impl<A: EngineApp> Engine<A>
where
    <A::State as engineio::UserState<Buf>>::Init: Default,
{
    /// A server with `config` running `app`.
    pub fn new(config: engineio::Config, app: A) -> Self {
        Engine {
            server: engineio::Server::new(config, StdEntropy::new()),
            app,
        }
    }
}

/// The refusal bytes of an endpoint error.
pub(crate) fn refusal(e: engineio::Error) -> Vec<u8> {
    let mut out = [0u8; 256];
    let n = e.write_response(&mut out).unwrap_or(0);
    out[..n].to_vec()
}

impl<A: EngineApp> Endpoint for Engine<A> {
    fn accept(&mut self, now: Instant, conn: ConnId) -> Result<(), Vec<u8>> {
        self.server.handle_accept(now, conn).map_err(refusal)
    }

    fn input(&mut self, now: Instant, conn: ConnId, bytes: &mut [u8]) -> Step {
        let app = &mut self.app;
        match self
            .server
            .input_with(now, conn, bytes, |now, sid, session, state, data| {
                app.on_message(now, sid, session, state, data)
            }) {
            Ok(i) => Step {
                consumed: i.consumed,
                progressed: i.message.is_some() || i.again,
                blocked: i.blocked,
            },
            Err(_) => Step {
                consumed: 0,
                progressed: false,
                blocked: false,
            },
        }
    }

    fn closed(&mut self, now: Instant, conn: ConnId) {
        self.server.handle_closed(now, conn);
    }

    fn transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit>, usize> {
        match self.server.poll_transmit(out) {
            Ok(t) => Ok(t.map(|t| Transmit {
                conn: t.conn,
                len: t.len,
                close_after: t.close_after,
            })),
            Err(engineio::Error::BufferTooSmall { required }) => Err(required),
            Err(_) => Ok(None),
        }
    }

    fn set_paused(&mut self, conn: ConnId, paused: bool) {
        self.server.set_paused(conn, paused);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        let app = &mut self.app;
        self.server.timeout_with(now, |now, sid, session, state| {
            app.on_timeout(now, sid, session, state)
        });
    }

    fn process(&mut self, now: Instant) {
        while let Some(event) = self.server.poll_event() {
            self.app.on_event(now, &mut self.server, event);
        }
    }

    fn input_capacity(&self) -> usize {
        self.server.input_capacity()
    }
}

// ---------------------------------------------------------------------------
// Socket.IO applications
// ---------------------------------------------------------------------------

/// The Socket.IO server endpoint as the runner keeps it: growable tables,
/// indexed rooms, the operating system's entropy.
pub type SocketIoServer =
    crate::socketio::Server<ConnId, Growable, StdEntropy, crate::socketio::rooms::IndexedRooms>;

/// A Socket.IO application: what it does with each event. Events come owned
/// (copied out of the input), so the application can call the server while
/// it holds one; the Sans-IO [`socketio::Server`](crate::socketio::Server)
/// itself hands them out borrowed, with no copy.
pub trait SocketIoApp {
    /// An event: a CONNECT to answer, an event, an ack, a disconnect, a
    /// timeout.
    fn on_event(
        &mut self,
        now: Instant,
        io: &mut SocketIoServer,
        event: crate::socketio::endpoint::OwnedEvent,
    );

    /// The server's Redis link ([`SocketIo::with_redis`]) went up
    /// (`connected`: subscribed and able to publish) or down (broadcasts
    /// to the cluster then fail with `NotConnected` until it is back); the
    /// notice says what happened. The default prints it on stderr.
    fn on_cluster(&mut self, now: Instant, io: &mut SocketIoServer, connected: bool, notice: &str) {
        let _ = (now, io, connected);
        std::eprintln!("{notice}");
    }

    /// Another server of the cluster sent this one an event
    /// (`serverSideEmit`; see
    /// [`Server::server_side_emit_cluster`](crate::socketio::Server::server_side_emit_cluster)).
    /// The default ignores it.
    fn on_server_side_emit(
        &mut self,
        now: Instant,
        io: &mut SocketIoServer,
        event: &crate::socketio::adapter::request::ServerSideEmit<'_>,
    ) {
        let _ = (now, io, event);
    }

    /// A request of this server to the cluster
    /// ([`all_rooms_cluster`](crate::socketio::Server::all_rooms_cluster),
    /// [`fetch_sockets_cluster`](crate::socketio::Server::fetch_sockets_cluster),
    /// [`server_side_emit_with_ack_cluster`](crate::socketio::Server::server_side_emit_with_ack_cluster),
    /// [`broadcast_with_ack_cluster`](crate::socketio::Server::broadcast_with_ack_cluster))
    /// is over: every other server answered, or it timed out (then
    /// `reply.done.timed_out`, with the answers that came). The default
    /// ignores it.
    fn on_cluster_reply(&mut self, now: Instant, io: &mut SocketIoServer, reply: ClusterReply) {
        let _ = (now, io, reply);
    }
}

/// The answers to a request of a server to its cluster, collected by the
/// runner: [`SocketIoApp::on_cluster_reply`].
#[derive(Clone, Debug, Default)]
pub struct ClusterReply {
    /// How it ended (`None` only in a default value).
    pub done: Option<crate::socketio::adapter::RequestDone>,
    /// The other servers' answers, raw JSON, in arrival order: for
    /// `allRooms` each server's array of room names, for `fetchSockets`
    /// each server's array of sockets (`{"id","handshake","rooms","data"}`),
    /// for a `serverSideEmit` each server's ack argument (`null` for none),
    /// for a broadcast each client's ack argument (this server's clients
    /// too).
    pub answers: Vec<String>,
}

impl<F> SocketIoApp for F
where
    F: FnMut(Instant, &mut SocketIoServer, crate::socketio::endpoint::OwnedEvent),
{
    fn on_event(
        &mut self,
        now: Instant,
        io: &mut SocketIoServer,
        event: crate::socketio::endpoint::OwnedEvent,
    ) {
        self(now, io, event)
    }
}

/// An answer to a request of the cluster as JSON text (see
/// [`ClusterReply::answers`]).
fn answer_text(r: &crate::socketio::adapter::request::Response<'_>) -> Option<String> {
    use crate::socketio::adapter::request::{Response, ack_json};
    Some(match *r {
        Response::Rooms { rooms, .. } => rooms.into(),
        Response::Sockets { sockets, .. } => sockets.into(),
        Response::ServerSideEmitAck { data, .. } => data.unwrap_or("null").into(),
        Response::ClientCount { .. } => return None,
        Response::BroadcastAck { packet, .. } => {
            let n = crate::socketio::adapter::measure(ack_json(packet, 32, &mut [])).ok()?;
            let mut out = vec![0u8; n];
            ack_json(packet, 32, &mut out).ok()?;
            String::from_utf8(out).ok()?
        }
    })
}

/// A Socket.IO server and its application, ready for [`serve`].
pub struct SocketIo<A> {
    /// The endpoint.
    pub server: SocketIoServer,
    /// The application.
    pub app: A,
    redis: Option<Cluster>,
}

/// A clustered server's Redis link and its state.
struct Cluster {
    link: RedisLink,
    replies: std::collections::BTreeMap<crate::socketio::adapter::RequestId, Vec<String>>,
    subscribed: bool,
    publishing: bool,
    scratch: Vec<u8>,
    out: Vec<u8>,
}

impl<A: SocketIoApp> SocketIo<A> {
    /// Makes the server one node of a cluster joined through the Redis
    /// server at `addr`, on the wire of Node's `@socket.io/redis-adapter`
    /// (see [`socketio::adapter`](crate::socketio::adapter)): the node gets a
    /// random uid, subscribes to the broadcasts and requests of every
    /// namespace of the Socket.IO config (`/` alone when namespaces are
    /// dynamic), applies other nodes' broadcasts and requests to its sockets,
    /// and publishes those the application makes with
    /// [`broadcast_cluster`](crate::socketio::Server::broadcast_cluster) and
    /// [`sockets_cluster`](crate::socketio::Server::sockets_cluster).
    /// The connections come up (and come back after Redis restarts) on
    /// their own; [`SocketIoApp::on_cluster`] tells.
    pub fn with_redis(mut self, addr: std::net::SocketAddr) -> io::Result<Self> {
        let adapter = crate::socketio::adapter::Adapter::new(&mut StdEntropy::new());
        let namespaces = self.server.config().namespaces.unwrap_or(&["/"]);
        let (mut patterns, mut channels) = (Vec::new(), Vec::new());
        for nsp in namespaces {
            let mut p = vec![0u8; adapter.prefix().len() + nsp.len() + 3];
            let n = adapter
                .pattern(nsp, &mut p)
                .map_err(|e| io::Error::other(std::format!("{e}")))?;
            p.truncate(n);
            patterns.push(p);
            // The request and response channels, by name: `PUBSUB NUMSUB`
            // counts this node among the servers that answer.
            // The own response channel too, where Node nodes with
            // `publishOnSpecificResponseChannel` answer.
            use crate::socketio::adapter::{measure, request};
            let (prefix, uid) = (adapter.prefix(), adapter.uid());
            let write = |i: usize, out: &mut [u8]| match i {
                0 => request::channel(prefix, nsp, out),
                1 => request::response_channel(prefix, nsp, out),
                _ => request::own_response_channel(prefix, nsp, uid, out),
            };
            for i in 0..3 {
                let mut c = vec![0u8; measure(write(i, &mut [])).unwrap_or(0)];
                write(i, &mut c).map_err(|e| io::Error::other(std::format!("{e}")))?;
                channels.push(c);
            }
        }
        self.server.enable_adapter(adapter);
        self.redis = Some(Cluster {
            replies: Default::default(),
            link: RedisLink::start_with(addr, patterns, channels)?,
            subscribed: false,
            publishing: false,
            scratch: vec![0u8; 64 * 1024],
            out: vec![0u8; 64 * 1024],
        });
        Ok(self)
    }

    /// Applies what the Redis link brought, and publishes what the server
    /// queued.
    fn cluster(&mut self, now: Instant) {
        let Some(c) = self.redis.as_mut() else {
            return;
        };
        while let Some(e) = c.link.poll_event() {
            let notice = match e {
                LinkEvent::Message { channel, message } => {
                    loop {
                        match self.server.handle_adapter_message(
                            now,
                            &channel,
                            &message,
                            &mut c.scratch,
                        ) {
                            Err(crate::socketio::adapter::Error::BufferTooSmall { required }) => {
                                c.scratch.resize(required, 0);
                            }
                            Err(e) => {
                                std::eprintln!("sockwire: skipped a message from Redis: {e}");
                                break;
                            }
                            Ok(crate::socketio::adapter::Applied::ServerSideEmit(e)) => {
                                self.app.on_server_side_emit(now, &mut self.server, &e);
                                break;
                            }
                            Ok(crate::socketio::adapter::Applied::Response {
                                request,
                                response,
                            }) => {
                                if let Some(text) = answer_text(&response) {
                                    c.replies.entry(request).or_default().push(text);
                                }
                                break;
                            }
                            Ok(_) => break,
                        }
                    }
                    continue;
                }
                LinkEvent::Count { channel, count } => {
                    self.server.handle_adapter_count(&channel, count);
                    continue;
                }
                LinkEvent::Subscribed => {
                    c.subscribed = true;
                    std::format!("sockwire: redis {}: subscribed", c.link.addr())
                }
                LinkEvent::PublisherUp => {
                    c.publishing = true;
                    std::format!("sockwire: redis {}: publisher connected", c.link.addr())
                }
                LinkEvent::Down { role, why } => {
                    if role == "subscriber" {
                        c.subscribed = false;
                    } else {
                        c.publishing = false;
                    }
                    std::format!(
                        "sockwire: redis {}: {role} down ({why}); reconnecting",
                        c.link.addr()
                    )
                }
            };
            let connected = c.subscribed && c.publishing;
            self.server.set_adapter_connected(connected);
            self.app
                .on_cluster(now, &mut self.server, connected, &notice);
        }
        self.replies(now);
        self.publish();
    }

    /// Hands the application each request of its that is over.
    fn replies(&mut self, now: Instant) {
        while let Some(done) = self.server.poll_cluster_event() {
            let answers = self
                .redis
                .as_mut()
                .and_then(|c| c.replies.remove(&done.request))
                .unwrap_or_default();
            let reply = ClusterReply {
                done: Some(done),
                answers,
            };
            self.app.on_cluster_reply(now, &mut self.server, reply);
        }
    }

    /// An event for the application, unless it is a client's ack a
    /// broadcast with acks of the cluster asked for.
    fn deliver(&mut self, now: Instant, event: crate::socketio::endpoint::OwnedEvent) {
        use crate::socketio::adapter::ClusterAck;
        use crate::socketio::endpoint::OwnedEvent;
        if let OwnedEvent::Ack { socket, message } = &event
            && let Some(id) = message.ack_id
        {
            let attachments = message.attachment_slices();
            match self
                .server
                .handle_cluster_ack(socket, id, message.args_raw(), &attachments)
            {
                Ok(ClusterAck::NotClusters) => {}
                Ok(ClusterAck::Own(request)) => {
                    if let Some(c) = self.redis.as_mut() {
                        let first =
                            crate::socketio::adapter::request::first_arg(message.args_raw())
                                .ok()
                                .flatten()
                                .unwrap_or("null");
                        c.replies.entry(request).or_default().push(first.into());
                    }
                    self.replies(now);
                    return;
                }
                Ok(ClusterAck::Forwarded) => return,
                Err(e) => {
                    std::eprintln!("sockwire: cannot forward a client's ack: {e}");
                    return;
                }
            }
        }
        self.app.on_event(now, &mut self.server, event);
    }

    /// Hands every message the server queued to the publisher.
    fn publish(&mut self) {
        let Some(c) = self.redis.as_mut() else {
            return;
        };
        while let Ok(Some(n)) = self.server.poll_adapter_count(&mut c.out) {
            c.link.count(&c.out[..n]);
        }
        loop {
            match self.server.poll_adapter_publish(&mut c.out) {
                Ok(Some(p)) => {
                    let (channel, rest) = c.out.split_at(p.channel_len);
                    c.link.publish(channel, &rest[..p.len]);
                }
                Err(crate::socketio::adapter::Error::BufferTooSmall { required }) => {
                    c.out.resize(required, 0);
                }
                _ => return,
            }
        }
    }

    /// A server with the Engine.IO settings `eio` and the Socket.IO settings
    /// `config`, running `app`.
    pub fn new(eio: engineio::Config, config: crate::socketio::Config, app: A) -> Self {
        SocketIo {
            server: crate::socketio::Server::new(eio, config, StdEntropy::new()),
            app,
            redis: None,
        }
    }
}

impl<A: SocketIoApp> Endpoint for SocketIo<A> {
    fn accept(&mut self, now: Instant, conn: ConnId) -> Result<(), Vec<u8>> {
        self.server.handle_accept(now, conn).map_err(refusal)
    }

    fn input(&mut self, now: Instant, conn: ConnId, bytes: &mut [u8]) -> Step {
        let (step, event) = match self.server.handle_input(now, conn, bytes) {
            Ok(i) => (
                Step {
                    consumed: i.consumed,
                    progressed: i.message.is_some() || i.again,
                    blocked: i.blocked,
                },
                i.message.map(|e| e.to_owned()),
            ),
            Err(_) => (
                Step {
                    consumed: 0,
                    progressed: false,
                    blocked: false,
                },
                None,
            ),
        };
        if let Some(event) = event {
            self.deliver(now, event);
        }
        step
    }

    fn closed(&mut self, now: Instant, conn: ConnId) {
        self.server.handle_closed(now, conn);
    }

    fn transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit>, usize> {
        match self.server.poll_transmit(out) {
            Ok(t) => Ok(t.map(|t| Transmit {
                conn: t.conn,
                len: t.len,
                close_after: t.close_after,
            })),
            Err(engineio::Error::BufferTooSmall { required }) => Err(required),
            Err(_) => Ok(None),
        }
    }

    fn set_paused(&mut self, conn: ConnId, paused: bool) {
        self.server.set_paused(conn, paused);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
    }

    fn process(&mut self, now: Instant) {
        self.cluster(now);
        while let Some(event) = self.server.poll_event() {
            let event = event.to_owned();
            self.deliver(now, event);
        }
        self.replies(now);
        self.publish();
    }

    fn input_capacity(&self) -> usize {
        self.server.engine().input_capacity()
    }

    fn set_waker(&mut self, waker: Waker) {
        if let Some(c) = self.redis.as_ref() {
            c.link.set_waker(waker);
        }
    }
}
