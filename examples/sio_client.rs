//! A Socket.IO v5 client over WebSocket on `std::net`, with automatic
//! reconnection, on one thread and with no other crate.
//!
//! ```text
//! cargo run --example sio_client -- 127.0.0.1:3000
//! ```
//!
//! The demo joins `/`, emits `message` and prints the `message-back` the
//! reference test server (`tests/peers/sio_server.mjs`, or
//! `examples/sio_server.rs`) answers with. It only connects to loopback
//! addresses. Set `SIO_CLIENT_TRACE=1` to see every Engine.IO text message
//! received on stderr.
//!
//! # What it shows
//!
//! Three Sans-IO machines stacked by the application:
//!
//! - [`Transport`]: one TCP connection, the WebSocket opening handshake
//!   (`ws::ClientHandshake` on `engineio::websocket_target`) and the
//!   `engineio::Client` on top of it. Reads use a short read timeout so that
//!   the timers (heartbeat, closing handshake) run; every `poll_transmit` is
//!   written out after each input and command. Opening a transport (TCP
//!   connect + handshake) blocks for at most 5 s; a demo may, an application
//!   with other work would make it a state machine too.
//! - [`Runner`]: the `socketio::Client` over whichever `Transport` is current.
//!   Every Engine.IO message goes to `handle_message`, the Engine.IO `Open`
//!   event to `handle_open`, its `Closed` event (or a failed connection
//!   attempt) to `handle_transport_closed`; `flush` runs after every input
//!   and command. On `ClientNotice::Reconnect` the runner opens a new TCP
//!   connection, handshake and `engineio::Client` by itself.
//! - Everything the application learns is an owned [`OwnedEvent`], queued
//!   and handed out by [`Runner::next_event`].
//!
//! Tests include this file with
//! `#[path = "../examples/sio_client.rs"] mod sio_client;`.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use sockwire::engineio::{self, ClientCloseReason, Data};
use sockwire::entropy::StdEntropy;
use sockwire::socketio::{self, ClientEvent, ClientNotice, DisconnectReason};
use sockwire::time::{Duration, Instant, StdClock};
use sockwire::ws::{self, ClientHandshake, ClientRequest};

/// Bytes read from the socket per `read` call (and the most kept unread).
const READ_BUF: usize = 64 * 1024;
/// Bytes written per `poll_transmit` call.
const WRITE_BUF: usize = 64 * 1024;
/// The largest Engine.IO message accepted (the reference server's
/// maxHttpBufferSize).
const MAX_PAYLOAD: usize = 1_000_000;
/// Storage for messages waiting to be sent (Engine.IO queue, Socket.IO send
/// buffer) and for messages being assembled.
const STORAGE: usize = 2 * 1024 * 1024;
/// Bound on the TCP connect and the opening handshake.
const OPEN_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Bound on one blocking write.
const WRITE_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The longest a single read waits, so the caller gets control back often.
const MAX_WAIT: StdDuration = StdDuration::from_millis(20);

/// The Engine.IO client of one transport.
pub type Eio = engineio::Client<Vec<u8>, StdEntropy>;

/// The Socket.IO client: up to 8 namespaces, 16 acks outstanding.
pub type Sio = socketio::Client<Vec<u8>, 8, 16>;

fn other(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Resolves `addr` and refuses anything that is not a loopback address.
pub fn loopback_addr(addr: &str) -> io::Result<SocketAddr> {
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address"))?;
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("{addr} is not a loopback address: this example only connects to 127.0.0.1"),
        ));
    }
    Ok(addr)
}

// ---------------------------------------------------------------------------
// One transport: TCP + WebSocket + Engine.IO client
// ---------------------------------------------------------------------------

/// One Engine.IO session over one TCP connection.
pub struct Transport {
    tcp: TcpStream,
    /// The Engine.IO client (drive it through the methods below).
    pub eio: Eio,
    ws_asm: ws::Assembler<Vec<u8>>,
    /// Received bytes not yet consumed: `rbuf[..rlen]`.
    rbuf: Vec<u8>,
    rlen: usize,
    wbuf: Vec<u8>,
    /// The TCP stream ended (or failed).
    eof: bool,
    /// The first input error, if any (the session ended because of it).
    pub error: Option<engineio::Error>,
    /// The first `poll_transmit` error, if any (nothing more is written).
    pub transmit_error: Option<engineio::Error>,
    /// Bytes received and sent on this connection.
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Transport {
    /// Connects to `addr`, runs the WebSocket opening handshake for
    /// `config.path` and starts an Engine.IO client at `now`. Bounded by
    /// `OPEN_TIMEOUT`.
    pub fn open(
        addr: SocketAddr,
        config: engineio::ClientConfig,
        now: Instant,
    ) -> io::Result<Self> {
        let tcp = TcpStream::connect_timeout(&addr, OPEN_TIMEOUT)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut tcp = tcp;
        let host = addr.to_string();
        let mut target = [0u8; 512];
        let target = engineio::websocket_target(config.path, &mut target)
            .map_err(|e| other("request target", e))?;
        let mut entropy = StdEntropy::new();
        let mut hs = ClientHandshake::new(ClientRequest::new(&host, target), &mut entropy);
        let mut wbuf = vec![0u8; WRITE_BUF];
        let n = hs
            .write_request(&mut wbuf)
            .map_err(|e| other("handshake request", e))?;
        tcp.write_all(&wbuf[..n])?;
        let mut rbuf = vec![0u8; READ_BUF];
        let mut filled = 0;
        let deadline = StdInstant::now() + OPEN_TIMEOUT;
        let head_len = loop {
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return Err(io::Error::new(ErrorKind::TimedOut, "handshake timed out"));
            }
            tcp.set_read_timeout(Some(left))?;
            let n = match tcp.read(&mut rbuf[filled..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            filled += n;
            // The default limits (8 KiB head) are below READ_BUF: a response
            // that does not fit is an error before the buffer is full.
            if let Some(res) = hs
                .handle_input(&rbuf[..filled])
                .map_err(|e| other("handshake response", e))?
            {
                break res.head_len();
            }
        };
        // Frames may have arrived with the head: they stay in the buffer.
        rbuf.copy_within(head_len..filled, 0);
        let eio = engineio::Client::new(now, config, vec![0u8; STORAGE], entropy);
        Ok(Transport {
            tcp,
            eio,
            ws_asm: ws::Assembler::new(vec![0u8; STORAGE]),
            rbuf,
            rlen: filled - head_len,
            wbuf,
            eof: false,
            error: None,
            transmit_error: None,
            bytes_in: 0,
            bytes_out: n as u64,
        })
    }

    /// The Engine.IO client settings for `path` with this file's limits.
    pub fn config(path: &'static str) -> engineio::ClientConfig {
        engineio::ClientConfig {
            path,
            max_payload: MAX_PAYLOAD,
            ..engineio::ClientConfig::DEFAULT
        }
    }

    /// Writes everything the Engine.IO client has to send. A write error
    /// ends the connection (the stream counts as ended); a `poll_transmit`
    /// error is kept in `transmit_error` (and logged once).
    pub fn write_out(&mut self, now: Instant) {
        loop {
            let n = match self.eio.poll_transmit(&mut self.wbuf) {
                Ok(n) => n,
                Err(e) => {
                    if self.transmit_error.is_none() {
                        eprintln!("sio_client: poll_transmit failed: {e} ({e:?})");
                        self.transmit_error = Some(e);
                    }
                    return;
                }
            };
            if n == 0 {
                return;
            }
            if self.eof {
                // Nobody is listening any more: drop the bytes.
                continue;
            }
            if self.tcp.write_all(&self.wbuf[..n]).is_err() {
                self.end_of_stream(now);
                continue;
            }
            self.bytes_out += n as u64;
        }
    }

    fn end_of_stream(&mut self, now: Instant) {
        if !self.eof {
            self.eof = true;
            self.eio.handle_eof(now);
        }
    }

    /// Feeds the buffered input to the Engine.IO client; every message goes
    /// to `on_message` with the client (to answer on it). The output is
    /// written after every step.
    fn process(&mut self, now: Instant, on_message: &mut impl FnMut(&mut Eio, Data<'_>)) {
        let mut off = 0;
        let mut stalls = 0;
        while off < self.rlen {
            let r = self
                .eio
                .handle_input(now, &mut self.rbuf[off..self.rlen], &mut self.ws_asm);
            match r {
                Ok(input) => {
                    off += input.consumed;
                    let progressed = input.consumed > 0 || input.message.is_some();
                    if let Some(data) = input.message {
                        on_message(&mut self.eio, data);
                    }
                    // A pending pong holds back the next control frame:
                    // drain the output before feeding more.
                    self.write_out(now);
                    if progressed {
                        stalls = 0;
                    } else {
                        stalls += 1;
                        if stalls > 1 {
                            break;
                        }
                    }
                }
                Err(e) => {
                    // The session is over (its Closed event is queued); the
                    // close frame goes out, the rest of the input is noise.
                    self.error.get_or_insert(e);
                    self.write_out(now);
                    off = self.rlen;
                }
            }
        }
        self.rbuf.copy_within(off..self.rlen, 0);
        self.rlen -= off;
    }

    /// Processes what is buffered, then waits up to `wait` for bytes and
    /// processes them. Returns whether any byte arrived.
    pub fn poll_input(
        &mut self,
        clock: &StdClock,
        wait: StdDuration,
        on_message: &mut impl FnMut(&mut Eio, Data<'_>),
    ) -> bool {
        self.process(clock.now(), on_message);
        if self.eof {
            std::thread::sleep(wait);
            return false;
        }
        if self.rlen == self.rbuf.len() {
            // Cannot happen: the connection consumes payloads as they come.
            self.rlen = 0;
        }
        let wait = wait.max(StdDuration::from_millis(1));
        if self.tcp.set_read_timeout(Some(wait)).is_err() {
            self.end_of_stream(clock.now());
            return false;
        }
        let got = match self.tcp.read(&mut self.rbuf[self.rlen..]) {
            Ok(0) => {
                self.end_of_stream(clock.now());
                return false;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(e) if e.kind() == ErrorKind::Interrupted => 0,
            Err(_) => {
                // Reset: the same as the end of the stream.
                self.end_of_stream(clock.now());
                return false;
            }
        };
        self.rlen += got;
        self.bytes_in += got as u64;
        self.process(clock.now(), on_message);
        got > 0
    }

    /// Runs the Engine.IO timers due at `now` and writes what they produced.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.eio.poll_timeout().is_some_and(|t| t <= now) {
            self.eio.handle_timeout(now);
        }
        self.write_out(now);
    }

    /// True once the session is over and the WebSocket closed (or the
    /// stream ended): drop it, which closes the TCP connection.
    pub fn is_finished(&self) -> bool {
        self.eio.is_finished() || (self.eof && self.eio.is_closed())
    }
}

/// How long to wait at most from `now` until `next`, capped at `cap`.
fn wait_until(clock: &StdClock, next: Option<Instant>, cap: StdDuration) -> StdDuration {
    match next {
        Some(t) => StdDuration::from(t.saturating_duration_since(clock.now())).min(cap),
        None => cap,
    }
}

// ---------------------------------------------------------------------------
// Owned events
// ---------------------------------------------------------------------------

/// An EVENT or ACK received, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedMessage {
    /// The namespace.
    pub nsp: String,
    /// For an event: the id to answer with [`Runner::ack`]; for an ack: the
    /// id [`Runner::emit_with_ack`] returned.
    pub ack_id: Option<u64>,
    /// The event name (`None` for an ack, or a name with escapes).
    pub name: Option<String>,
    /// The arguments as raw JSON, comma separated (after the name).
    pub args: String,
    /// The whole JSON array as received.
    pub data: String,
    /// The binary attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

impl OwnedMessage {
    fn new(m: &socketio::Message<'_>, is_event: bool) -> Self {
        OwnedMessage {
            nsp: m.nsp.to_owned(),
            ack_id: m.ack_id,
            name: if is_event {
                m.name().map(str::to_owned)
            } else {
                None
            },
            args: m.args_raw(is_event).to_owned(),
            data: m.data.to_owned(),
            attachments: m.attachments.into_iter().map(<[u8]>::to_vec).collect(),
        }
    }

    /// The arguments as separate raw JSON values.
    pub fn arg_list(&self) -> Vec<String> {
        let m = socketio::Message {
            nsp: &self.nsp,
            ack_id: self.ack_id,
            data: &self.data,
            attachments: socketio::Attachments::NONE,
        };
        m.args(self.name.is_some())
            .map(|a| a.trim().to_owned())
            .collect()
    }
}

/// Everything the application learns, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    /// An Engine.IO session opened (its sid and heartbeat settings).
    TransportOpen {
        sid: String,
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
    },
    /// The Engine.IO session ended.
    TransportClosed(ClientCloseReason),
    /// A connection attempt failed before the session opened (TCP connect
    /// or WebSocket handshake).
    TransportFailed(String),
    /// The server accepted `nsp`.
    Connect {
        nsp: String,
        sid: String,
        recovered: bool,
    },
    /// The server refused `nsp`; `data` is its raw JSON.
    ConnectError { nsp: String, data: String },
    /// An event from the server.
    Event(OwnedMessage),
    /// An ack for one of our events.
    Ack(OwnedMessage),
    /// The server removed us from `nsp`.
    Disconnect { nsp: String },
    /// `nsp` lost its connection (its emits are buffered unless `reason`
    /// ends it).
    Disconnected {
        nsp: String,
        reason: DisconnectReason,
    },
    /// A new transport is being opened (by the runner itself).
    Reconnect { attempt: u32 },
    /// Reconnection gave up.
    ReconnectFailed,
    /// No ack arrived in time.
    AckTimeout(u64),
    /// The server broke the Socket.IO protocol (the transport is closed and
    /// reconnection follows), or a command failed inside the runner.
    Error(String),
}

fn own(e: ClientEvent<'_>) -> OwnedEvent {
    match e {
        ClientEvent::Connect {
            nsp,
            sid,
            recovered,
        } => OwnedEvent::Connect {
            nsp: nsp.into(),
            sid: sid.into(),
            recovered,
        },
        ClientEvent::ConnectError { nsp, data } => OwnedEvent::ConnectError {
            nsp: nsp.into(),
            data: data.into(),
        },
        ClientEvent::Event(m) => OwnedEvent::Event(OwnedMessage::new(&m, true)),
        ClientEvent::Ack(m) => OwnedEvent::Ack(OwnedMessage::new(&m, false)),
        ClientEvent::Disconnect { nsp } => OwnedEvent::Disconnect { nsp: nsp.into() },
        other => OwnedEvent::Error(format!("unknown client event {other:?}")),
    }
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

/// A Socket.IO client connection to one server, reconnecting by itself.
///
/// Drive it by calling [`next_event`](Self::next_event) (or
/// [`run_for`](Self::run_for)); commands take effect at once when connected
/// and are buffered otherwise.
pub struct Runner {
    addr: SocketAddr,
    eio_config: engineio::ClientConfig,
    clock: StdClock,
    entropy: StdEntropy,
    sio: Sio,
    sio_asm: socketio::Assembler<Vec<u8>>,
    transport: Option<Transport>,
    namespaces: Vec<String>,
    events: VecDeque<OwnedEvent>,
    /// Every text message received (the Engine.IO message payloads: the
    /// Socket.IO packets, `2["auth",{}]`), in order (`record` on).
    received: Vec<String>,
    /// Keep `received`.
    pub record: bool,
    trace: bool,
}

impl Runner {
    /// Connects to `addr` (a loopback address) on `path` (`/socket.io/`)
    /// with the reference client's settings and joins `namespaces`, each with
    /// its handshake auth (a JSON object) if any. A failed first attempt is
    /// retried like a lost connection (see the events).
    pub fn connect(
        addr: &str,
        path: &'static str,
        namespaces: &[(&str, Option<&str>)],
    ) -> io::Result<Runner> {
        Self::with_config(addr, path, socketio::ClientConfig::DEFAULT, namespaces)
    }

    /// [`connect`](Self::connect) with Socket.IO client settings.
    pub fn with_config(
        addr: &str,
        path: &'static str,
        config: socketio::ClientConfig,
        namespaces: &[(&str, Option<&str>)],
    ) -> io::Result<Runner> {
        let addr = loopback_addr(addr)?;
        let mut runner = Runner {
            addr,
            eio_config: Transport::config(path),
            clock: StdClock::new(),
            entropy: StdEntropy::new(),
            sio: socketio::Client::new(config, vec![0u8; STORAGE]),
            sio_asm: socketio::Assembler::new(vec![0u8; STORAGE]),
            transport: None,
            namespaces: Vec::new(),
            events: VecDeque::new(),
            received: Vec::new(),
            record: true,
            trace: std::env::var_os("SIO_CLIENT_TRACE").is_some_and(|v| v == "1"),
        };
        for (nsp, auth) in namespaces {
            runner.join(nsp, *auth).map_err(|e| {
                io::Error::new(ErrorKind::InvalidInput, format!("namespace {nsp}: {e}"))
            })?;
        }
        runner.open_transport();
        Ok(runner)
    }

    /// The current instant on the runner's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Joins `nsp` (now if connected, else when the transport opens).
    pub fn join(&mut self, nsp: &str, auth: Option<&str>) -> Result<(), socketio::Error> {
        let eio = self.transport.as_mut().map(|t| &mut t.eio);
        self.sio.connect(eio, nsp, auth)?;
        if !self.namespaces.iter().any(|n| n == nsp) {
            self.namespaces.push(nsp.to_owned());
        }
        self.flush();
        Ok(())
    }

    /// Emits `name` with `args` (raw JSON values, comma separated) and
    /// binary `attachments` (referenced by placeholders in `args`).
    pub fn emit(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), socketio::Error> {
        self.sio.emit(nsp, name, args, attachments)?;
        self.flush();
        Ok(())
    }

    /// [`emit`](Self::emit) asking for an ack; returns its id.
    pub fn emit_with_ack(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<StdDuration>,
    ) -> Result<u64, socketio::Error> {
        let now = self.clock.now();
        let timeout = timeout.map(Duration::from);
        let id = self
            .sio
            .emit_with_ack(now, nsp, name, args, attachments, timeout)?;
        self.flush();
        Ok(id)
    }

    /// Answers the server's event `ack_id`.
    pub fn ack(
        &mut self,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), socketio::Error> {
        self.sio.ack(nsp, ack_id, args, attachments)?;
        self.flush();
        Ok(())
    }

    /// Leaves `nsp`.
    pub fn disconnect(&mut self, nsp: &str) -> Result<(), socketio::Error> {
        self.sio.disconnect(nsp)?;
        self.namespaces.retain(|n| n != nsp);
        self.flush();
        self.drain_notices();
        Ok(())
    }

    /// True while `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.sio.is_connected(nsp)
    }

    /// The current Engine.IO session id, if a session is open.
    pub fn eio_sid(&self) -> Option<String> {
        self.transport
            .as_ref()
            .filter(|t| t.eio.is_open())
            .map(|t| t.eio.sid().to_owned())
    }

    /// The current transport's first `poll_transmit` error, if any.
    pub fn transmit_error(&self) -> Option<engineio::Error> {
        self.transport.as_ref().and_then(|t| t.transmit_error)
    }

    /// True while a transport exists (open, opening or closing).
    pub fn has_transport(&self) -> bool {
        self.transport.is_some()
    }

    /// Every text Socket.IO packet received so far (with `record` on).
    pub fn received(&self) -> &[String] {
        &self.received
    }

    /// Leaves every namespace, stops reconnecting and closes the transport,
    /// waiting up to `timeout` for the closing handshake.
    pub fn close(&mut self, timeout: StdDuration) {
        for nsp in std::mem::take(&mut self.namespaces) {
            let _ = self.sio.disconnect(&nsp);
        }
        self.flush();
        self.sio.close();
        if let Some(t) = self.transport.as_mut() {
            let now = self.clock.now();
            t.eio.close(now);
            t.write_out(now);
        }
        let deadline = StdInstant::now() + timeout;
        while self.transport.is_some() && StdInstant::now() < deadline {
            self.turn(MAX_WAIT);
        }
        self.transport = None;
        self.drain_notices();
    }

    /// Runs the connection for `d`, queueing what happens.
    pub fn run_for(&mut self, d: StdDuration) {
        let deadline = StdInstant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return;
            }
            self.turn(left.min(MAX_WAIT));
        }
    }

    /// The next event, waiting up to `timeout` for one (driving the
    /// connection meanwhile).
    pub fn next_event(&mut self, timeout: StdDuration) -> Option<OwnedEvent> {
        let deadline = StdInstant::now() + timeout;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let left = deadline.saturating_duration_since(StdInstant::now());
            if left.is_zero() {
                return None;
            }
            self.turn(left.min(MAX_WAIT));
        }
    }

    /// Events already queued, without waiting.
    pub fn pending_events(&mut self) -> Vec<OwnedEvent> {
        self.events.drain(..).collect()
    }

    // ------------------------------------------------------------------
    // The loop
    // ------------------------------------------------------------------

    /// One pass: timers, notices, input (waiting at most `max_wait`), the
    /// Engine.IO events, output.
    fn turn(&mut self, max_wait: StdDuration) {
        let now = self.clock.now();
        if let Some(t) = self.transport.as_mut() {
            t.handle_timeout(now);
        }
        self.drain_transport_events();
        if self.sio.poll_timeout().is_some_and(|t| t <= now) {
            self.sio.handle_timeout(now);
        }
        self.drain_notices();
        self.flush();

        let next = match (
            self.sio.poll_timeout(),
            self.transport.as_ref().and_then(|t| t.eio.poll_timeout()),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = wait_until(&self.clock, next, max_wait);
        let Runner {
            sio,
            sio_asm,
            entropy,
            events,
            received,
            record,
            trace,
            clock,
            transport,
            ..
        } = self;
        match transport.as_mut() {
            Some(t) => {
                let mut on_message = |eio: &mut Eio, data: Data<'_>| {
                    let now = clock.now();
                    // The Engine.IO events come first (the Open before the
                    // first message).
                    drain_eio(now, eio, sio, entropy, events);
                    if let Data::Text(text) = data {
                        if *trace {
                            eprintln!("sio_client: <- {text}");
                        }
                        if *record {
                            received.push(text.to_owned());
                        }
                    }
                    match sio.handle_message(now, eio, data, sio_asm, entropy) {
                        Ok(Some(e)) => events.push_back(own(e)),
                        Ok(None) => {}
                        Err(e) => events.push_back(OwnedEvent::Error(format!(
                            "the server broke the Socket.IO protocol: {e}"
                        ))),
                    }
                    if let Err(e) = sio.flush(eio) {
                        events.push_back(OwnedEvent::Error(format!("flush: {e}")));
                    }
                };
                t.poll_input(clock, wait, &mut on_message);
            }
            None => std::thread::sleep(wait.max(StdDuration::from_millis(1))),
        }
        self.drain_transport_events();
        self.drain_notices();
        self.flush();
        if self.transport.as_ref().is_some_and(Transport::is_finished) {
            // Dropping the stream closes the TCP connection.
            self.transport = None;
        }
    }

    /// Moves buffered emits to the transport and writes its output.
    fn flush(&mut self) {
        let Some(t) = self.transport.as_mut() else {
            return;
        };
        if let Err(e) = self.sio.flush(&mut t.eio) {
            self.events
                .push_back(OwnedEvent::Error(format!("flush: {e}")));
        }
        t.write_out(self.clock.now());
    }

    fn drain_transport_events(&mut self) {
        let now = self.clock.now();
        if let Some(t) = self.transport.as_mut() {
            drain_eio(
                now,
                &mut t.eio,
                &mut self.sio,
                &mut self.entropy,
                &mut self.events,
            );
        }
    }

    /// Hands the Socket.IO client's notices to the application, opening a
    /// new transport on `Reconnect`.
    fn drain_notices(&mut self) {
        while let Some(n) = self.sio.poll_event() {
            match n {
                ClientNotice::Reconnect { attempt } => {
                    self.events.push_back(OwnedEvent::Reconnect { attempt });
                    self.open_transport();
                }
                ClientNotice::ReconnectFailed => self.events.push_back(OwnedEvent::ReconnectFailed),
                ClientNotice::Disconnected { nsp, reason } => {
                    self.events.push_back(OwnedEvent::Disconnected {
                        nsp: nsp.as_str().to_owned(),
                        reason,
                    })
                }
                ClientNotice::AckTimeout(id) => self.events.push_back(OwnedEvent::AckTimeout(id)),
                other => self
                    .events
                    .push_back(OwnedEvent::Error(format!("unknown notice {other:?}"))),
            }
        }
    }

    /// A new TCP connection, handshake and Engine.IO client; a failure is
    /// reported to the Socket.IO client as a closed transport (it schedules
    /// the next attempt; its notices are drained by the caller's loop).
    fn open_transport(&mut self) {
        // A previous transport still closing is abandoned.
        self.transport = None;
        match Transport::open(self.addr, self.eio_config, self.clock.now()) {
            Ok(t) => self.transport = Some(t),
            Err(e) => {
                self.events
                    .push_back(OwnedEvent::TransportFailed(e.to_string()));
                self.sio.handle_transport_closed(
                    self.clock.now(),
                    ClientCloseReason::TransportClose,
                    &mut self.entropy,
                );
            }
        }
    }
}

/// The Engine.IO client's events, handed to the Socket.IO client.
fn drain_eio(
    now: Instant,
    eio: &mut Eio,
    sio: &mut Sio,
    entropy: &mut StdEntropy,
    events: &mut VecDeque<OwnedEvent>,
) {
    while let Some(e) = eio.poll_event() {
        match e {
            engineio::ClientEvent::Open => {
                events.push_back(OwnedEvent::TransportOpen {
                    sid: eio.sid().to_owned(),
                    ping_interval_ms: eio.ping_interval().as_millis(),
                    ping_timeout_ms: eio.ping_timeout().as_millis(),
                });
                if let Err(e) = sio.handle_open(eio) {
                    events.push_back(OwnedEvent::Error(format!("handle_open: {e}")));
                }
            }
            engineio::ClientEvent::Closed(reason) => {
                events.push_back(OwnedEvent::TransportClosed(reason));
                sio.handle_transport_closed(now, reason, entropy);
            }
            other => events.push_back(OwnedEvent::Error(format!("unknown eio event {other:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    if let Err(e) = demo(&addr) {
        eprintln!("sio_client: {e}");
        std::process::exit(1);
    }
}

fn demo(addr: &str) -> io::Result<()> {
    let mut runner = Runner::connect(addr, "/socket.io/", &[("/", None)])?;
    let step = StdDuration::from_secs(10);
    let timed_out = |what: &str| io::Error::new(ErrorKind::TimedOut, format!("no {what}"));
    loop {
        match runner
            .next_event(step)
            .ok_or_else(|| timed_out("connection"))?
        {
            OwnedEvent::Connect { nsp, sid, .. } if nsp == "/" => {
                println!("connected to / as {sid}");
                break;
            }
            OwnedEvent::ConnectError { nsp, data } => {
                return Err(other("refused", format!("{nsp}: {data}")));
            }
            other => println!("{other:?}"),
        }
    }
    runner
        .emit("/", "message", r#""hello from sockwire",1,{"two":2}"#, &[])
        .map_err(|e| other("emit", e))?;
    loop {
        match runner
            .next_event(step)
            .ok_or_else(|| timed_out("message-back"))?
        {
            OwnedEvent::Event(m) if m.name.as_deref() == Some("message-back") => {
                println!("message-back: [{}]", m.args);
                break;
            }
            other => println!("{other:?}"),
        }
    }
    runner.close(StdDuration::from_secs(2));
    Ok(())
}
