//! A WebSocket client and server over smoltcp: the reference for wiring
//! sockwire's run loop to smoltcp in a firmware.
//!
//! Two smoltcp TCP sockets talk over smoltcp's loopback device on a virtual
//! clock: no OS networking, no threads, no sleeping. The scenario:
//!
//! 1. the opening handshake (`ws::ClientHandshake` / `ws::ServerHandshake`);
//! 2. a text and a binary message each way;
//! 3. a 16 KiB binary message from the client, streamed with `begin_frame` +
//!    `send_payload` (masked as it is copied), received in pieces no larger than
//!    the 64-byte read buffer, and a 16 KiB text message from the server, whose
//!    payload goes into the socket straight from the application's slice
//!    (`payload_written`, zero copy). Both are larger than the 1 KiB socket
//!    buffers and than the read buffer;
//! 4. a ping each way, answered automatically;
//! 5. the closing handshake, then the TCP close (the server closes first).
//!
//! Run it with `cargo run --example smoltcp_ws`; `tests/smoltcp_example.rs` runs
//! the same scenario under `cargo test`.
//!
//! What to copy into a firmware: [`WsLink`] (one WebSocket on one smoltcp TCP
//! socket: fixed-size buffers, no heap) and the handshake steps in
//! `Scenario::step`. Everything sockwire needs lives in `WsLink`: the
//! `Connection` (a few hundred bytes), a 64-byte read buffer and a 64-byte write
//! buffer. The opening handshake needs one buffer that holds a whole HTTP head
//! (`HEAD_BUF`); it is free again once the connection is open. The rest of this
//! file (the `Vec`s of received messages, the virtual network) is scaffolding
//! for the demonstration.

use std::error::Error as StdError;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use sockwire::entropy::{Entropy, NoEntropy, SplitMix64};
use sockwire::time::Instant;
use sockwire::ws::{
    self, Accept, ClientHandshake, ClientRequest, Config, Connection, Event, MessageKind,
    ServerHandshake, State,
};

/// The server's TCP port and the client's local port.
const SERVER_PORT: u16 = 9001;
const CLIENT_PORT: u16 = 49152;
/// Each TCP socket's receive and transmit ring (smoltcp's buffers).
const SOCKET_BUF: usize = 1024;
/// sockwire's read buffer: frames of any size stream through it.
const READ_BUF: usize = 64;
/// sockwire's write buffer: holds one frame header (at most 14 bytes) and
/// small frames; larger messages stream through it.
const WRITE_BUF: usize = 64;
/// The opening handshake: one whole HTTP head (request or response).
const HEAD_BUF: usize = 512;
/// The large messages: bigger than the socket buffers and the read buffer.
const BIG: usize = 16 * 1024;

#[path = "common/smoltcp_net.rs"]
mod net;
use net::Net;

type Result<T> = core::result::Result<T, Box<dyn StdError>>;

// =============================================================================
// The part to copy: one WebSocket connection on one smoltcp TCP socket.
// =============================================================================

/// One WebSocket on one smoltcp TCP socket: the sockwire connection, its read
/// buffer and its write buffer. Fixed size, no heap.
///
/// The rules it follows (sockwire's run-loop contract):
/// - received bytes go through `Connection::handle_input`, which unmasks them in
///   place and hands message data back as pieces borrowed from `rx`;
/// - after every input and every command, `poll_transmit` is drained: it
///   produces the automatic frames (pongs, the close reply);
/// - nothing new is written into `tx` until the socket has taken what is
///   there, so a full socket slows this end down instead of losing bytes;
/// - receiving never waits for sending (both ends streaming large messages at
///   each other cannot deadlock); only a control frame waits while this end's
///   previous pong is still pending, which sockwire enforces itself.
pub struct WsLink<E: Entropy> {
    /// The protocol state machine.
    pub conn: Connection<E>,
    /// Received bytes not yet consumed by `conn`: `rx[..rx_len]`.
    rx: [u8; READ_BUF],
    rx_len: usize,
    /// Bytes sockwire wrote that the socket has not taken yet: `tx[tx_start..tx_end]`.
    tx: [u8; WRITE_BUF],
    tx_start: usize,
    tx_end: usize,
}

impl<E: Entropy> WsLink<E> {
    /// Wraps a connection created after the opening handshake.
    pub fn new(conn: Connection<E>) -> Self {
        WsLink {
            conn,
            rx: [0; READ_BUF],
            rx_len: 0,
            tx: [0; WRITE_BUF],
            tx_start: 0,
            tx_end: 0,
        }
    }

    /// True when everything sockwire wrote is in the socket.
    pub fn tx_idle(&self) -> bool {
        self.tx_start == self.tx_end
    }

    /// Moves pending output into the socket, as much as it takes now.
    fn flush(&mut self, sock: &mut tcp::Socket) -> Result<()> {
        if !self.tx_idle() {
            self.tx_start += sock.send_slice(&self.tx[self.tx_start..self.tx_end])?;
        }
        if self.tx_idle() {
            (self.tx_start, self.tx_end) = (0, 0);
        }
        Ok(())
    }

    /// Drains `poll_transmit` (pongs, close replies) into the socket, until
    /// sockwire has nothing more or the socket is full (then: next time).
    fn drain(&mut self, sock: &mut tcp::Socket) -> Result<()> {
        loop {
            self.flush(sock)?;
            if !self.tx_idle() {
                return Ok(());
            }
            let n = self.conn.poll_transmit(&mut self.tx)?;
            if n == 0 {
                return Ok(());
            }
            self.tx_end = n;
        }
    }

    /// Runs one command that writes a frame, or a piece of one, into the write
    /// buffer (`send_text`, `send_binary`, `ping`, `close`, `begin_frame`,
    /// `send_payload`), and hands it to the socket. Returns `false`, without
    /// running the command, while earlier output still waits for room in the
    /// socket: call again later.
    pub fn command(
        &mut self,
        sock: &mut tcp::Socket,
        f: impl FnOnce(&mut Connection<E>, &mut [u8]) -> core::result::Result<usize, ws::Error>,
    ) -> Result<bool> {
        self.drain(sock)?;
        if !self.tx_idle() {
            return Ok(false);
        }
        self.tx_end = f(&mut self.conn, &mut self.tx)?;
        self.flush(sock)?;
        Ok(true)
    }

    /// Reads what the socket has, feeds it to sockwire and calls `on_event`
    /// for each event. Returns the protocol error, if the peer broke the
    /// protocol; the Close frame sockwire queued for it is sent all the same.
    pub fn receive(
        &mut self,
        now: Instant,
        sock: &mut tcp::Socket,
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<()> {
        loop {
            // Automatic replies go out first, as far as the socket takes them.
            self.drain(sock)?;
            if self.rx_len < READ_BUF && sock.can_recv() {
                self.rx_len += sock.recv_slice(&mut self.rx[self.rx_len..])?;
            }
            if self.rx_len == 0 {
                break;
            }
            let input = match self.conn.handle_input(now, &mut self.rx[..self.rx_len]) {
                Ok(input) => input,
                Err(e) => {
                    // The peer broke the protocol: drop its bytes, send our Close.
                    self.rx_len = 0;
                    self.drain(sock)?;
                    return Err(e.into());
                }
            };
            let consumed = input.consumed;
            if let Some(event) = input.event {
                // `event` borrows `rx` (its data was unmasked in place there).
                on_event(event);
            }
            // Keep what was not consumed for the next call.
            self.rx.copy_within(consumed..self.rx_len, 0);
            self.rx_len -= consumed;
            if consumed == 0 {
                // Stalled: a control frame waits until our pending pong is out
                // (the socket is full, or a streamed frame is unfinished).
                // Data still flows otherwise; try again on the next pass.
                break;
            }
        }
        self.drain(sock)
    }
}

// =============================================================================
// The application: what each end does with events, and what it sends.
// =============================================================================

/// What an end received (scaffolding: a firmware would act on the events
/// instead of keeping them).
#[derive(Default)]
struct Inbox {
    messages: Vec<(MessageKind, Vec<u8>)>,
    partial: Vec<u8>,
    pieces: usize,
    largest_piece: usize,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    close: Option<(Option<u16>, String)>,
}

impl Inbox {
    fn on_event(&mut self, who: &str, now: Instant, event: Event<'_>) {
        match event {
            Event::Data { kind, data, fin } => {
                self.partial.extend_from_slice(data);
                self.pieces += 1;
                self.largest_piece = self.largest_piece.max(data.len());
                if fin {
                    let message = std::mem::take(&mut self.partial);
                    let shown = match kind {
                        MessageKind::Text if message.len() <= 40 => {
                            format!("{:?}", String::from_utf8_lossy(&message))
                        }
                        MessageKind::Text => format!("{} bytes", message.len()),
                        MessageKind::Binary => format!("{} bytes", message.len()),
                    };
                    trace(
                        now,
                        who,
                        &format!("received {kind:?} {shown} in {} piece(s)", self.pieces),
                    );
                    self.pieces = 0;
                    self.messages.push((kind, message));
                }
            }
            Event::Ping(p) => {
                trace(
                    now,
                    who,
                    &format!("received ping {:?} (pong queued)", ascii(&p)),
                );
                self.pings.push(p.to_vec());
            }
            Event::Pong(p) => {
                trace(now, who, &format!("received pong {:?}", ascii(&p)));
                self.pongs.push(p.to_vec());
            }
            Event::Close { code, reason } => {
                trace(now, who, &format!("received close {code:?} {:?}", &*reason));
                self.close = Some((code, reason.to_string()));
            }
            _ => {}
        }
    }
}

/// A message streamed out frame header first, then its payload in pieces.
struct Outgoing {
    kind: MessageKind,
    data: Vec<u8>,
    begun: bool,
    sent: usize,
    /// Server only: write the payload into the socket straight from `data`
    /// (`payload_written`) instead of copying it through the write buffer.
    zero_copy: bool,
}

impl Outgoing {
    fn done(&self) -> bool {
        self.begun && self.sent == self.data.len()
    }

    /// Pushes as much as the socket takes now.
    fn step<E: Entropy>(&mut self, link: &mut WsLink<E>, sock: &mut tcp::Socket) -> Result<()> {
        if !self.begun {
            let (kind, len) = (self.kind, self.data.len() as u64);
            if !link.command(sock, |c, out| c.begin_frame(kind, len, true, out))? {
                return Ok(());
            }
            self.begun = true;
        }
        while self.sent < self.data.len() {
            if self.zero_copy {
                // The header must be in the socket before the payload.
                link.flush(sock)?;
                if !link.tx_idle() {
                    return Ok(());
                }
                let n = sock.send_slice(&self.data[self.sent..])?;
                if n == 0 {
                    return Ok(());
                }
                link.conn.payload_written(n as u64)?;
                self.sent += n;
            } else {
                let rest = &self.data[self.sent..];
                let mut taken = 0;
                if !link.command(sock, |c, out| {
                    taken = c.send_payload(rest, out)?;
                    Ok(taken)
                })? {
                    return Ok(());
                }
                self.sent += taken;
            }
        }
        Ok(())
    }
}

/// One end: its socket, its handshake, then its link.
struct Endpoint<E: Entropy> {
    name: &'static str,
    socket: SocketHandle,
    /// The handshake's head buffer (free once the link is up).
    head: [u8; HEAD_BUF],
    head_len: usize,
    link: Option<WsLink<E>>,
    inbox: Inbox,
    outgoing: Option<Outgoing>,
    tcp_closed: bool,
}

impl<E: Entropy> Endpoint<E> {
    fn new(name: &'static str, socket: SocketHandle) -> Self {
        Endpoint {
            name,
            socket,
            head: [0; HEAD_BUF],
            head_len: 0,
            link: None,
            inbox: Inbox::default(),
            outgoing: None,
            tcp_closed: false,
        }
    }

    fn link(&mut self) -> &mut WsLink<E> {
        self.link.as_mut().expect("the connection is open")
    }

    fn state(&self) -> Option<State> {
        self.link.as_ref().map(|l| l.conn.state())
    }

    /// Reads more of the HTTP head into `head`.
    fn read_head(&mut self, sock: &mut tcp::Socket) -> Result<()> {
        if sock.can_recv() {
            if self.head_len == HEAD_BUF {
                return Err("HTTP head larger than HEAD_BUF".into());
            }
            self.head_len += sock.recv_slice(&mut self.head[self.head_len..])?;
        }
        Ok(())
    }

    /// Opens the link: the bytes after the head are already frames.
    fn open(
        &mut self,
        now: Instant,
        conn: Connection<E>,
        head_len: usize,
        sock: &mut tcp::Socket,
    ) -> Result<()> {
        let mut link = WsLink::new(conn);
        let rest = &mut self.head[head_len..self.head_len];
        let (inbox, name) = (&mut self.inbox, self.name);
        let mut off = 0;
        while off < rest.len() {
            let input = link.conn.handle_input(now, &mut rest[off..])?;
            if input.consumed == 0 {
                // Stalled behind a pending pong: keep the rest for `receive`.
                let rest = &rest[off..];
                if rest.len() > READ_BUF {
                    return Err("more pipelined frames than the read buffer holds".into());
                }
                link.rx[..rest.len()].copy_from_slice(rest);
                link.rx_len = rest.len();
                break;
            }
            off += input.consumed;
            if let Some(event) = input.event {
                inbox.on_event(name, now, event);
            }
            link.drain(sock)?;
        }
        self.head_len = 0;
        self.link = Some(link);
        Ok(())
    }

    /// Everything this end does in one pass of the run loop, once open.
    fn service(&mut self, now: Instant, sock: &mut tcp::Socket) -> Result<()> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let (inbox, name) = (&mut self.inbox, self.name);
        link.receive(now, sock, |event| inbox.on_event(name, now, event))?;
        if let Some(out) = self.outgoing.as_mut() {
            out.step(link, sock)?;
            if out.done() && link.tx_idle() {
                trace(
                    now,
                    name,
                    &format!("streamed {:?} {} bytes", out.kind, out.data.len()),
                );
                self.outgoing = None;
            }
        }
        link.conn.handle_timeout(now);
        // TCP close: once the closing handshake is over (and our last frame is
        // out), the server closes first; the client closes when the server has.
        if link.conn.state() == State::Closed && link.tx_idle() && !self.tcp_closed {
            let server = link.conn.role() == ws::Role::Server;
            if server || !sock.may_recv() {
                trace(now, name, "closing TCP");
                sock.close();
                self.tcp_closed = true;
            }
        }
        Ok(())
    }
}

// =============================================================================
// The virtual network (examples/common/smoltcp_net.rs): how this example
// polls the loopback interface and moves the virtual clock.
// =============================================================================

impl Net {
    fn poll(&mut self) {
        let now = self.net_now();
        self.iface.poll(now, &mut self.device, &mut self.sockets);
    }

    /// Moves the virtual clock on. A firmware sleeps until the earlier of
    /// smoltcp's `poll_delay` and sockwire's `poll_timeout`, or until the
    /// network interface interrupts; the loopback device raises no interrupt
    /// when it queues a packet, so the simulation also wakes every millisecond.
    fn advance(&mut self, ws_deadline: Option<Instant>) {
        const TICK_MS: u64 = 1;
        let net = self.poll_delay_ms();
        let ws = ws_deadline.map(|t| t.as_millis().saturating_sub(self.now_ms));
        let wait = [net, ws].into_iter().flatten().fold(TICK_MS, u64::min);
        self.now_ms += wait;
    }
}

// =============================================================================
// The scenario.
// =============================================================================

struct Scenario {
    net: Net,
    server: Endpoint<NoEntropy>,
    server_hs: ServerHandshake,
    client: Endpoint<SplitMix64>,
    client_hs: ClientHandshake<'static>,
    /// The client's entropy (a hardware RNG in a firmware; deterministic here).
    client_entropy: Option<SplitMix64>,
    request_sent: bool,
}

fn trace(now: Instant, who: &str, what: &str) {
    println!("[{:>5} ms] {who:<6} {what}", now.as_millis());
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Scenario {
    fn new() -> Result<Scenario> {
        let mut net = Net::new();
        let server_socket = net.add_socket(SOCKET_BUF);
        let client_socket = net.add_socket(SOCKET_BUF);
        net.sockets
            .get_mut::<tcp::Socket>(server_socket)
            .listen(SERVER_PORT)?;
        let cx = net.iface.context();
        net.sockets.get_mut::<tcp::Socket>(client_socket).connect(
            cx,
            (IpAddress::v4(127, 0, 0, 1), SERVER_PORT),
            CLIENT_PORT,
        )?;
        let mut entropy = SplitMix64::new(0x5eed);
        let request = ClientRequest::new("127.0.0.1:9001", "/chat");
        let client_hs = ClientHandshake::new(request, &mut entropy);
        Ok(Scenario {
            net,
            server: Endpoint::new("server", server_socket),
            server_hs: ServerHandshake::new(),
            client: Endpoint::new("client", client_socket),
            client_hs,
            client_entropy: Some(entropy),
            request_sent: false,
        })
    }

    /// One pass of the run loop: the interface, then each end.
    fn step(&mut self) -> Result<()> {
        self.net.poll();
        let now = self.net.now();

        // ---- server ----
        let sock = self.net.sockets.get_mut::<tcp::Socket>(self.server.socket);
        if self.server.link.is_none() {
            self.server.read_head(sock)?;
            let received = &self.server.head[..self.server.head_len];
            match self.server_hs.handle_input(received) {
                Ok(None) => {} // read more
                Ok(Some(request)) => {
                    trace(
                        now,
                        "server",
                        &format!("upgrade request for {}", request.path()),
                    );
                    let mut out = [0u8; HEAD_BUF];
                    let n = request.accept(&Accept::default(), &mut out)?;
                    // A fresh socket's transmit buffer has room for the head.
                    assert_eq!(sock.send_slice(&out[..n])?, n);
                    let head_len = request.head_len();
                    self.server
                        .open(now, Connection::server(Config::default()), head_len, sock)?;
                    trace(now, "server", "sent 101, connection open");
                }
                Err(e) => {
                    // Refuse with the matching status (400, 426, 431) and close.
                    let mut out = [0u8; 256];
                    let n = e.write_response(&mut out)?;
                    sock.send_slice(&out[..n])?;
                    sock.close();
                    return Err(e.into());
                }
            }
        } else {
            self.server.service(now, sock)?;
        }

        // ---- client ----
        let sock = self.net.sockets.get_mut::<tcp::Socket>(self.client.socket);
        if self.client.link.is_none() {
            if !self.request_sent && sock.may_send() {
                let mut out = [0u8; HEAD_BUF];
                let n = self.client_hs.write_request(&mut out)?;
                assert_eq!(sock.send_slice(&out[..n])?, n);
                self.request_sent = true;
                trace(now, "client", "TCP connected, sent upgrade request");
            }
            self.client.read_head(sock)?;
            let received = &self.client.head[..self.client.head_len];
            if let Some(response) = self.client_hs.handle_input(received)? {
                let head_len = response.head_len();
                let entropy = self.client_entropy.take().expect("used once");
                self.client.open(
                    now,
                    Connection::client(Config::default(), entropy),
                    head_len,
                    sock,
                )?;
                trace(now, "client", "101 checked, connection open");
            }
        } else {
            self.client.service(now, sock)?;
        }

        // sockwire's timer: the close handshake's deadline, if one is running.
        let server_deadline = self
            .server
            .link
            .as_ref()
            .and_then(|l| l.conn.poll_timeout());
        let client_deadline = self
            .client
            .link
            .as_ref()
            .and_then(|l| l.conn.poll_timeout());
        let deadline = server_deadline.into_iter().chain(client_deadline).min();
        self.net.advance(deadline);
        Ok(())
    }

    /// Runs the loop until `done` holds (bounded, on the virtual clock).
    fn run_until(&mut self, what: &str, done: impl Fn(&Scenario) -> bool) -> Result<()> {
        for _ in 0..100_000 {
            if done(self) {
                return Ok(());
            }
            self.step()?;
        }
        Err(format!("gave up waiting for: {what}").into())
    }

    fn client_command(
        &mut self,
        f: impl FnOnce(&mut Connection<SplitMix64>, &mut [u8]) -> core::result::Result<usize, ws::Error>,
    ) -> Result<()> {
        let sock = self.net.sockets.get_mut::<tcp::Socket>(self.client.socket);
        let sent = self.client.link().command(sock, f)?;
        assert!(
            sent,
            "the write buffer is free between steps of this scenario"
        );
        Ok(())
    }

    fn server_command(
        &mut self,
        f: impl FnOnce(&mut Connection<NoEntropy>, &mut [u8]) -> core::result::Result<usize, ws::Error>,
    ) -> Result<()> {
        let sock = self.net.sockets.get_mut::<tcp::Socket>(self.server.socket);
        let sent = self.server.link().command(sock, f)?;
        assert!(
            sent,
            "the write buffer is free between steps of this scenario"
        );
        Ok(())
    }
}

/// 16 KiB of text with 2-, 3- and 4-byte code points: the 64-byte pieces it
/// arrives in split code points, which sockwire validates across pieces.
fn big_text() -> Vec<u8> {
    let mut s = String::new();
    while s.len() < BIG {
        s.push_str("WebSocket über smoltcp — 🦀 ");
    }
    while s.len() > BIG {
        s.pop();
    }
    while s.len() < BIG {
        s.push('.');
    }
    s.into_bytes()
}

fn big_binary() -> Vec<u8> {
    (0..BIG).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// The whole scenario; returns an error (or panics on a failed assertion) if
/// anything goes wrong.
pub fn run() -> Result<()> {
    let mut s = Scenario::new()?;

    // 1. Opening handshake.
    s.run_until("the opening handshake", |s| {
        s.client.link.is_some() && s.server.link.is_some()
    })?;

    // 2. A text and a binary message each way.
    let now = s.net.now();
    trace(now, "client", "sends text and binary");
    s.client_command(|c, out| c.send_text("hello from the client", out))?;
    s.client_command(|c, out| c.send_binary(&[0, 1, 2, 3, 0xff], out))?;
    trace(now, "server", "sends text and binary");
    s.server_command(|c, out| c.send_text("hello from the server", out))?;
    s.server_command(|c, out| c.send_binary(&[0xde, 0xad, 0xbe, 0xef], out))?;
    s.run_until("the small messages", |s| {
        s.server.inbox.messages.len() == 2 && s.client.inbox.messages.len() == 2
    })?;
    assert_eq!(
        s.server.inbox.messages,
        [
            (MessageKind::Text, b"hello from the client".to_vec()),
            (MessageKind::Binary, vec![0, 1, 2, 3, 0xff]),
        ]
    );
    assert_eq!(
        s.client.inbox.messages,
        [
            (MessageKind::Text, b"hello from the server".to_vec()),
            (MessageKind::Binary, vec![0xde, 0xad, 0xbe, 0xef]),
        ]
    );

    // 3. Large messages: 16 KiB each way, through 1 KiB sockets and 64-byte buffers.
    trace(
        s.net.now(),
        "client",
        &format!("streams a {BIG}-byte binary message (masked, send_payload)"),
    );
    s.client.outgoing = Some(Outgoing {
        kind: MessageKind::Binary,
        data: big_binary(),
        begun: false,
        sent: 0,
        zero_copy: false,
    });
    trace(
        s.net.now(),
        "server",
        &format!("streams a {BIG}-byte text message (zero copy, payload_written)"),
    );
    s.server.outgoing = Some(Outgoing {
        kind: MessageKind::Text,
        data: big_text(),
        begun: false,
        sent: 0,
        zero_copy: true,
    });
    s.server.inbox.largest_piece = 0;
    s.client.inbox.largest_piece = 0;
    s.run_until("the large messages", |s| {
        s.server.inbox.messages.len() == 3 && s.client.inbox.messages.len() == 3
    })?;
    assert!(s.client.outgoing.is_none() && s.server.outgoing.is_none());
    assert_eq!(
        s.server.inbox.messages[2],
        (MessageKind::Binary, big_binary())
    );
    assert_eq!(s.client.inbox.messages[2], (MessageKind::Text, big_text()));
    assert!(std::str::from_utf8(&s.client.inbox.messages[2].1).is_ok());
    // The pieces were never larger than the read buffer.
    assert!(s.server.inbox.largest_piece <= READ_BUF);
    assert!(s.client.inbox.largest_piece <= READ_BUF);

    // 4. A ping each way; the pongs are automatic.
    trace(s.net.now(), "client", "pings");
    s.client_command(|c, out| c.ping(b"client ping", out))?;
    trace(s.net.now(), "server", "pings");
    s.server_command(|c, out| c.ping(b"server ping", out))?;
    s.run_until("the pongs", |s| {
        s.client.inbox.pongs.len() == 1 && s.server.inbox.pongs.len() == 1
    })?;
    assert_eq!(s.server.inbox.pings, [b"client ping".to_vec()]);
    assert_eq!(s.client.inbox.pongs, [b"client ping".to_vec()]);
    assert_eq!(s.client.inbox.pings, [b"server ping".to_vec()]);
    assert_eq!(s.server.inbox.pongs, [b"server ping".to_vec()]);

    // 5. The closing handshake, started by the client; the server's reply is
    //    automatic. Then TCP closes, server first.
    trace(s.net.now(), "client", "starts the closing handshake");
    let now = s.net.now();
    s.client_command(|c, out| c.close(now, 1000, "bye", out))?;
    assert_eq!(s.client.state(), Some(State::Closing));
    s.run_until("the closing handshake", |s| {
        s.client.state() == Some(State::Closed) && s.server.state() == Some(State::Closed)
    })?;
    assert_eq!(s.server.inbox.close, Some((Some(1000), "bye".to_string())));
    assert_eq!(s.client.inbox.close, Some((Some(1000), String::new())));
    s.run_until("both TCP sockets closed", |s| {
        s.client.tcp_closed && s.server.tcp_closed
    })?;
    let now = s.net.now();
    let client_sock = s.net.sockets.get_mut::<tcp::Socket>(s.client.socket);
    assert!(!client_sock.may_recv(), "the server closed TCP first");
    // The transport ended after a clean closing handshake: no error.
    s.client.link().conn.handle_eof(now)?;
    assert!(s.client.link().conn.error().is_none());
    assert!(s.server.link().conn.error().is_none());
    trace(now, "both", "closed cleanly");
    Ok(())
}

#[allow(dead_code)] // unused when `tests/smoltcp_example.rs` includes this file
fn main() -> Result<()> {
    run()
}
