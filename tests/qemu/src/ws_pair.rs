//! A WebSocket client and server in memory, with firmware-sized buffers: a
//! 64-byte read buffer and a 32-byte write buffer per peer, a 256-byte window
//! per direction. The opening handshake (with a subprotocol), a 1,620-byte
//! text message and a 3,000-byte binary message streamed through those
//! buffers, a fragmented message with a ping between its fragments (split
//! inside UTF-8 code points), a ping from the server, the close handshake, and
//! the close timeout on the virtual clock.

use sockwire::entropy::Entropy;
use sockwire::time::Instant;
use sockwire::ws::{
    Accept, ClientHandshake, ClientRequest, Config, Connection, Event, MessageKind,
    ServerHandshake, State,
};

use core::ops::Range;

use crate::rt::{Role, measured};
use crate::wire::{Peer, Pipe, Rng, deliver};
use crate::{check, check_eq};

const RX: usize = 64;
/// Reads take 61 bytes at most, so frame boundaries fall everywhere.
const READ: usize = 61;
const TX: usize = 32;
const WINDOW: usize = 256;
const HEAD: usize = 256;

/// A message as a repeated unit: the sender streams it, the receiver compares
/// every piece at its offset, and neither holds the whole message.
#[derive(Clone, Copy)]
pub struct Pattern {
    pub unit: &'static [u8],
    pub len: usize,
}

impl Pattern {
    pub fn byte(&self, i: usize) -> u8 {
        self.unit[i % self.unit.len()]
    }

    /// Copies the bytes from offset `at` into `out`; returns how many.
    pub fn fill(&self, at: usize, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len - at);
        for (i, b) in out[..n].iter_mut().enumerate() {
            *b = self.byte(at + i);
        }
        n
    }
}

/// 36 bytes of UTF-8 with 2-, 3- and 4-byte code points.
pub const TEXT_UNIT: &[u8] = "Grüße, 世界! ✓ 🦀 Cortex-M4 ".as_bytes();
const TEXT: Pattern = Pattern {
    unit: TEXT_UNIT,
    len: TEXT_UNIT.len() * 45,
};

const fn binary_unit() -> [u8; 251] {
    let mut u = [0u8; 251];
    let mut i = 0;
    while i < 251 {
        u[i] = (i as u8).wrapping_mul(7).wrapping_add(3);
        i += 1;
    }
    u
}
pub static BINARY_UNIT: [u8; 251] = binary_unit();
const BINARY: Pattern = Pattern {
    unit: &BINARY_UNIT,
    len: 3000,
};

/// What a peer's application saw.
struct Sink {
    expect: Option<(MessageKind, Pattern)>,
    pos: usize,
    pieces: usize,
    fins: usize,
    bad: Option<&'static str>,
    pings: usize,
    pongs: usize,
    /// The last ping or pong payload.
    control: [u8; 16],
    control_len: usize,
    close: Option<(Option<u16>, [u8; 16], usize)>,
    error: Option<sockwire::ws::Error>,
}

impl Sink {
    const fn new() -> Self {
        Sink {
            expect: None,
            pos: 0,
            pieces: 0,
            fins: 0,
            bad: None,
            pings: 0,
            pongs: 0,
            control: [0; 16],
            control_len: 0,
            close: None,
            error: None,
        }
    }

    fn expect(&mut self, kind: MessageKind, p: Pattern) {
        *self = Sink::new();
        self.expect = Some((kind, p));
    }

    fn on(&mut self, e: Event<'_>) {
        match e {
            Event::Data { kind, data, fin } => {
                let Some((want, p)) = self.expect else {
                    self.bad = Some("data that was not sent");
                    return;
                };
                if kind != want {
                    self.bad = Some("wrong message kind");
                }
                if self.pos + data.len() > p.len
                    || data
                        .iter()
                        .enumerate()
                        .any(|(i, &b)| b != p.byte(self.pos + i))
                {
                    self.bad = Some("data differs from what was sent");
                }
                self.pos += data.len();
                self.pieces += 1;
                if fin {
                    self.fins += 1;
                }
            }
            Event::Ping(p) | Event::Pong(p) => {
                if matches!(e, Event::Ping(_)) {
                    self.pings += 1;
                } else {
                    self.pongs += 1;
                }
                self.control_len = p.len().min(16);
                self.control[..self.control_len].copy_from_slice(&p[..self.control_len]);
            }
            Event::Close { code, reason } => {
                let mut r = [0u8; 16];
                let n = reason.len().min(16);
                r[..n].copy_from_slice(&reason.as_bytes()[..n]);
                self.close = Some((code, r, n));
            }
            _ => self.bad = Some("an unknown event"),
        }
    }

    fn control(&self) -> &[u8] {
        &self.control[..self.control_len]
    }

    /// True when exactly the expected message arrived, whole, in `fins` final pieces.
    fn got_message(&self) -> bool {
        matches!(self.expect, Some((_, p)) if self.pos == p.len)
            && self.fins == 1
            && self.bad.is_none()
            && self.error.is_none()
    }
}

struct Side<E> {
    role: Role,
    conn: Connection<E>,
    rx: [u8; RX],
    tx: [u8; TX],
    sink: Sink,
}

impl<E: Entropy> Peer for Side<E> {
    fn role(&self) -> Role {
        self.role
    }

    fn rx(&mut self) -> &mut [u8] {
        &mut self.rx
    }

    fn step(&mut self, now: Instant, range: Range<usize>) -> Option<(usize, bool)> {
        match self.conn.handle_input(now, &mut self.rx[range]) {
            Ok(r) => {
                let progress = r.event.is_some();
                if let Some(e) = r.event {
                    self.sink.on(e);
                }
                Some((r.consumed, progress))
            }
            Err(e) => {
                self.sink.error = Some(e);
                None
            }
        }
    }

    /// Writes what the connection has to send (pongs, close replies) into `to`.
    fn flush<const N: usize>(&mut self, to: &mut Pipe<N>) -> bool {
        let conn = &mut self.conn;
        let moved = to.fill_from(&mut self.tx, |out| conn.poll_transmit(out));
        self.sink.error = self.sink.error.or(moved.err());
        moved.unwrap_or(false)
    }

    fn stalled(&mut self) {
        self.sink.bad = Some("input stalled");
    }
}

/// The pair and its two directions.
struct Pair {
    now: Instant,
    client: Side<Rng>,
    server: Side<sockwire::ws::NoEntropy>,
    c2s: Pipe<WINDOW>,
    s2c: Pipe<WINDOW>,
}

impl Pair {
    /// Lets both sides read until nothing moves.
    fn settle(&mut self) {
        while !self.c2s.is_empty() || !self.s2c.is_empty() {
            self.now = Instant::from_millis(self.now.as_millis() + 1);
            deliver(
                &mut self.server,
                self.now,
                &mut self.c2s,
                &mut self.s2c,
                READ,
            );
            deliver(
                &mut self.client,
                self.now,
                &mut self.s2c,
                &mut self.c2s,
                READ,
            );
        }
    }

    /// Streams one frame of `p[from..to]` from the client (or the server)
    /// with `begin_frame` + `send_payload` through the 32-byte write buffer,
    /// letting the peer read whenever the window fills.
    fn stream(
        &mut self,
        from_client: bool,
        kind: MessageKind,
        p: Pattern,
        range: (usize, usize),
        fin: bool,
    ) -> bool {
        let (start, end) = range;
        let mut chunk = [0u8; TX];
        let ok = self.with_sender(from_client, |s, out| {
            s.begin_frame(kind, (end - start) as u64, fin, out)
        });
        if !ok {
            return false;
        }
        let mut at = start;
        while at < end {
            if self.pipe(from_client).free() < TX {
                self.settle();
            }
            let n = p.fill(at, &mut chunk[..TX.min(end - at)]);
            let mut taken = 0;
            let ok = self.with_sender(from_client, |s, out| {
                s.send_payload(&chunk[..n], out).inspect(|&k| taken = k)
            });
            if !ok || taken == 0 {
                return false;
            }
            at += taken;
        }
        self.settle();
        true
    }

    fn pipe(&mut self, from_client: bool) -> &mut Pipe<WINDOW> {
        if from_client {
            &mut self.c2s
        } else {
            &mut self.s2c
        }
    }

    /// Runs a send command on one side's connection with its write buffer and
    /// puts the bytes written on its outgoing pipe.
    fn with_sender(
        &mut self,
        from_client: bool,
        f: impl FnOnce(&mut dyn Sender, &mut [u8]) -> Result<usize, sockwire::ws::Error>,
    ) -> bool {
        let (conn, tx, pipe): (&mut dyn Sender, _, _) = if from_client {
            (&mut self.client.conn, &mut self.client.tx, &mut self.c2s)
        } else {
            (&mut self.server.conn, &mut self.server.tx, &mut self.s2c)
        };
        let role = if from_client {
            Role::Client
        } else {
            Role::Server
        };
        match measured(role, || f(conn, &mut tx[..])) {
            Ok(n) => {
                pipe.write(&tx[..n]);
                true
            }
            Err(_) => false,
        }
    }
}

/// The sending commands, for either role.
trait Sender {
    fn begin_frame(
        &mut self,
        kind: MessageKind,
        len: u64,
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, sockwire::ws::Error>;
    fn send_payload(&mut self, chunk: &[u8], out: &mut [u8]) -> Result<usize, sockwire::ws::Error>;
    fn ping(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, sockwire::ws::Error>;
}

impl<E: Entropy> Sender for Connection<E> {
    fn begin_frame(
        &mut self,
        kind: MessageKind,
        len: u64,
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, sockwire::ws::Error> {
        Connection::begin_frame(self, kind, len, fin, out)
    }
    fn send_payload(&mut self, chunk: &[u8], out: &mut [u8]) -> Result<usize, sockwire::ws::Error> {
        Connection::send_payload(self, chunk, out)
    }
    fn ping(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, sockwire::ws::Error> {
        Connection::ping(self, payload, out)
    }
}

/// What the scenario keeps on the stack besides call frames, per part.
pub const STATE: [(&str, usize); 4] = [
    (
        "client: ws::Connection + rx 64 + tx 32 + checker",
        size_of::<Side<Rng>>(),
    ),
    (
        "server: ws::Connection + rx 64 + tx 32 + checker",
        size_of::<Side<sockwire::ws::NoEntropy>>(),
    ),
    ("ws::Connection (client)", size_of::<Connection<Rng>>()),
    ("the two pipes", 2 * size_of::<Pipe<WINDOW>>()),
];

pub fn run() {
    let mut rng = Rng::new(0x5eed);
    let Some(mut pair) = handshake(&mut rng) else {
        return;
    };
    messages(&mut pair);
    fragments(&mut pair);
    closing(&mut pair);
    close_timeout();
}

/// The opening handshake through the pipes, the server reading the request in
/// 61-byte pieces; returns the connected pair.
fn handshake(rng: &mut Rng) -> Option<Pair> {
    let mut c2s = Pipe::new();
    let mut s2c = Pipe::new();
    let request = ClientRequest {
        protocols: &["chat"],
        ..ClientRequest::new("device.local", "/chat?room=1")
    };
    let mut client_hs = ClientHandshake::new(request, rng);
    let mut head = [0u8; HEAD];
    let n = measured(Role::Client, || client_hs.write_request(&mut head));
    check!(
        "ws handshake: client writes the request",
        n.is_ok(),
        "{:?}",
        n
    );
    c2s.write(&head[..n.unwrap_or(0)]);

    // The server accumulates the request as it arrives.
    let mut server_hs = ServerHandshake::new();
    let mut accepted = None;
    let mut response = [0u8; 160];
    let got = c2s.read_head(Role::Server, &mut head, READ, |received| {
        match server_hs.handle_input(received) {
            Ok(Some(req)) => {
                let offered = req.protocols().any(|p| p == "chat");
                let ok = req.path() == "/chat" && req.query() == Some("room=1") && offered;
                check!(
                    "ws handshake: server parses the request",
                    ok,
                    "path {:?}",
                    req.path()
                );
                let chat = Accept {
                    protocol: Some("chat"),
                };
                accepted = Some(req.accept(&chat, &mut response));
                true
            }
            Ok(None) => false,
            Err(e) => {
                accepted = Some(Err(e));
                true
            }
        }
    });
    let reads = got.map_or(0, |(_, reads)| reads);
    check!(
        "ws handshake: the request arrived in several reads",
        reads > 1,
        "{} reads",
        reads
    );
    let Some(Ok(n)) = accepted else {
        check!("ws handshake: server accepts", false, "{:?}", accepted);
        return None;
    };
    s2c.write(&response[..n]);

    let mut done = false;
    s2c.read_head(Role::Client, &mut head, READ, |received| {
        let r = client_hs.handle_input(received);
        let ok = matches!(r, Ok(Some(resp)) if resp.protocol() == Some("chat") && resp.head_len() == received.len());
        if !matches!(r, Ok(None)) {
            check!("ws handshake: client accepts the 101 with the subprotocol", ok, "{:?}", r);
            done = ok;
        }
        !matches!(r, Ok(None))
    });
    if !done {
        return None;
    }
    Some(Pair {
        now: Instant::from_millis(10),
        client: Side {
            role: Role::Client,
            conn: Connection::client(Config::DEFAULT, Rng::new(0xc11e)),
            rx: [0; RX],
            tx: [0; TX],
            sink: Sink::new(),
        },
        server: Side {
            role: Role::Server,
            conn: Connection::server(Config::DEFAULT),
            rx: [0; RX],
            tx: [0; TX],
            sink: Sink::new(),
        },
        c2s,
        s2c,
    })
}

/// Messages many times the buffers, streamed both ways.
fn messages(pair: &mut Pair) {
    let name = "ws client -> server: 1,620-byte text streamed through 32/64-byte buffers";
    streamed(pair, name, true, MessageKind::Text, TEXT);
    let name = "ws server -> client: 3,000-byte binary streamed through 32/64-byte buffers";
    streamed(pair, name, false, MessageKind::Binary, BINARY);
}

/// Streams message `p` in one frame and checks that it arrived whole, in pieces.
fn streamed(pair: &mut Pair, name: &'static str, from_client: bool, kind: MessageKind, p: Pattern) {
    let receiver = if from_client {
        &mut pair.server.sink
    } else {
        &mut pair.client.sink
    };
    receiver.expect(kind, p);
    let sent = pair.stream(from_client, kind, p, (0, p.len), true);
    let r = if from_client {
        &pair.server.sink
    } else {
        &pair.client.sink
    };
    check!(
        name,
        sent && r.got_message() && r.pieces > 1,
        "sent {}, received {} of {} bytes in {} pieces, {:?} {:?}",
        sent,
        r.pos,
        p.len,
        r.pieces,
        r.bad,
        r.error
    );
}

/// One text message in three frames, cut inside code points ("ü" at bytes 2-3,
/// "世" at 9-11), with a ping between the first two frames.
fn fragments(pair: &mut Pair) {
    let msg = Pattern {
        unit: TEXT_UNIT,
        len: TEXT_UNIT.len() * 3,
    };
    pair.server.sink.expect(MessageKind::Text, msg);
    pair.client.sink = Sink::new();
    let mut ok = pair.stream(true, MessageKind::Text, msg, (0, 3), false);
    ok &= pair.with_sender(true, |c, out| c.ping(b"between", out));
    pair.settle();
    ok &= pair.stream(true, MessageKind::Text, msg, (3, 10), false);
    ok &= pair.stream(true, MessageKind::Text, msg, (10, msg.len), true);
    let s = &pair.server.sink;
    check!(
        "ws fragmentation: three frames split inside code points, one message",
        ok && s.got_message() && s.pieces >= 3,
        "sent {}, {} of {} bytes in {} pieces, {} final, {:?} {:?}",
        ok,
        s.pos,
        msg.len,
        s.pieces,
        s.fins,
        s.bad,
        s.error
    );
    check!(
        "ws fragmentation: a ping between fragments reaches the server",
        s.pings == 1 && s.control() == b"between",
        "{} pings, last {:?}",
        s.pings,
        s.control()
    );
    let c = &pair.client.sink;
    check!(
        "ws ping: the server's automatic pong echoes the payload",
        c.pongs == 1 && c.control() == b"between",
        "{} pongs, last {:?}",
        c.pongs,
        c.control()
    );

    pair.client.sink = Sink::new();
    pair.server.sink = Sink::new();
    let ok = pair.with_sender(false, |s, out| s.ping(b"from server", out));
    pair.settle();
    let (c, s) = (&pair.client.sink, &pair.server.sink);
    check!(
        "ws ping: server pings, the client's automatic (masked) pong echoes it",
        ok && c.pings == 1 && s.pongs == 1 && s.control() == b"from server",
        "client saw {} pings, server {} pongs, last {:?}",
        c.pings,
        s.pongs,
        s.control()
    );
}

/// The client starts the closing handshake; the server replies automatically.
fn closing(pair: &mut Pair) {
    pair.client.sink = Sink::new();
    pair.server.sink = Sink::new();
    let now = pair.now;
    let n = pair
        .client
        .conn
        .close(now, 1000, "bye", &mut pair.client.tx);
    if let Ok(n) = n {
        pair.c2s.write(&pair.client.tx[..n]);
    }
    check_eq!(
        "ws close: the client starts it",
        pair.client.conn.state(),
        State::Closing
    );
    pair.settle();
    let bye = Some((Some(1000), *b"bye\0\0\0\0\0\0\0\0\0\0\0\0\0", 3));
    check_eq!(
        "ws close: the server gets 1000 \"bye\"",
        pair.server.sink.close,
        bye
    );
    // The automatic reply echoes the code (RFC 6455 section 5.5.1), not the reason.
    let reply = Some((Some(1000), [0u8; 16], 0));
    check_eq!(
        "ws close: the client gets the reply, 1000",
        pair.client.sink.close,
        reply
    );
    let states = (pair.client.conn.state(), pair.server.conn.state());
    check_eq!(
        "ws close: both closed",
        states,
        (State::Closed, State::Closed)
    );
    let errors = (pair.client.conn.error(), pair.server.conn.error());
    check_eq!(
        "ws close: cleanly, no error on either side",
        errors,
        (None, None)
    );
}

/// A server that closes and never hears back gives up at the close timeout,
/// on the virtual clock.
fn close_timeout() {
    let mut s = Connection::server(Config::DEFAULT);
    let mut out = [0u8; TX];
    let t0 = Instant::from_millis(1_000);
    let ok = s.close(t0, 1001, "", &mut out).is_ok();
    let deadline = Instant::from_millis(1_000 + Config::DEFAULT.close_timeout.as_millis());
    check_eq!(
        "ws close timeout: deadline",
        (ok, s.poll_timeout()),
        (true, Some(deadline))
    );
    s.handle_timeout(Instant::from_millis(deadline.as_millis() - 1));
    let early = s.state();
    s.handle_timeout(deadline);
    check_eq!(
        "ws close timeout: closing until the deadline, closed at it",
        (early, s.state()),
        (State::Closing, State::Closed)
    );
}
