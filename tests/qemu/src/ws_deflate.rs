//! permessage-deflate (RFC 7692) on the core, in the image built with the
//! feature `deflate` (`run.sh` builds and runs it second): a client and a
//! server negotiate the extension with the real handshake for 512-byte
//! windows without context takeover (`DeflateConfig::small(9)`, the least
//! memory) and build their contexts over lent storage (a 512-byte inflate
//! window, a 512-byte deflate window, a 256-entry hash table). A 1,620-byte
//! UTF-8 text and a 1,000-byte binary message go each way compressed
//! (`send_deflate`: the whole frame in a write buffer of `MAX_HEADER_LEN +
//! compress_bound`), the receiver inflates them from 61-byte reads into a
//! 64-byte output buffer and compares every piece; then the close handshake.

use sockwire::entropy::Entropy;
use sockwire::time::Instant;
use sockwire::ws::deflate::{Context, DeflateConfig, compress_bound};
use sockwire::ws::{
    self, Accept, ClientHandshake, ClientRequest, Config, Connection, Event, MAX_HEADER_LEN,
    MessageKind, NoEntropy, ServerHandshake, State,
};

use crate::rt::{Role, measured};
use crate::wire::Rng;
use crate::ws_pair::{BINARY_UNIT, Pattern, TEXT_UNIT};
use crate::{check, check_eq};

/// The compression state of one side, over lent storage.
type Ctx = Context<[u8; 512], [u8; 512], [u16; 256]>;

const RX: usize = 64;
const READ: usize = 61;
/// The inflated output buffer.
const OUT: usize = 64;
const MSG: usize = 1620;
/// The write buffer: a whole compressed frame of `MSG` bytes.
const TX: usize = MAX_HEADER_LEN + compress_bound(MSG);

const TEXT: Pattern = Pattern {
    unit: TEXT_UNIT,
    len: TEXT_UNIT.len() * 45,
};
const BINARY: Pattern = Pattern {
    unit: &BINARY_UNIT,
    len: 1000,
};

/// What the scenario keeps on the stack besides call frames.
pub const STATE: [(&str, usize); 3] = [
    (
        "client: ws::Connection + deflate context + rx 64 + out 64 + tx + message 1620 + checker",
        size_of::<Side<Rng>>(),
    ),
    ("server: the same", size_of::<Side<NoEntropy>>()),
    (
        "ws::deflate::Context (512 + 512 B windows, 256-entry hash)",
        size_of::<Ctx>(),
    ),
];

/// What one side's application saw of the message it expects.
struct Sink {
    expect: Option<(MessageKind, Pattern)>,
    pos: usize,
    fins: usize,
    bad: Option<&'static str>,
    close: Option<Option<u16>>,
    error: Option<ws::Error>,
}

impl Sink {
    const fn new() -> Self {
        Sink {
            expect: None,
            pos: 0,
            fins: 0,
            bad: None,
            close: None,
            error: None,
        }
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
                self.fins += usize::from(fin);
            }
            Event::Close { code, .. } => self.close = Some(code),
            _ => self.bad = Some("an unexpected event"),
        }
    }

    fn got(&self) -> bool {
        matches!(self.expect, Some((_, p)) if self.pos == p.len)
            && self.fins == 1
            && self.bad.is_none()
            && self.error.is_none()
    }
}

struct Side<E> {
    role: Role,
    conn: Connection<E>,
    ctx: Ctx,
    rx: [u8; RX],
    out: [u8; OUT],
    tx: [u8; TX],
    msg: [u8; MSG],
    sink: Sink,
}

impl<E: Entropy> Side<E> {
    /// Sends `p` compressed; the frame is `tx[..n]`.
    fn send(&mut self, kind: MessageKind, p: Pattern) -> Option<usize> {
        let n = p.fill(0, &mut self.msg);
        let (conn, ctx, msg, tx) = (&mut self.conn, &mut self.ctx, &self.msg, &mut self.tx);
        measured(self.role, || conn.send_deflate(kind, &msg[..n], ctx, tx)).ok()
    }

    /// What `poll_transmit` has (a close reply), into `tx`.
    fn poll(&mut self) -> usize {
        let (conn, tx) = (&mut self.conn, &mut self.tx);
        measured(self.role, || conn.poll_transmit(tx)).unwrap_or(0)
    }

    /// Receives `wire` from 61-byte reads, inflating into the 64-byte buffer
    /// until the decoder holds nothing more. False if the input stalled.
    fn receive(&mut self, now: Instant, wire: &[u8]) -> bool {
        let mut at = 0;
        while at < wire.len() {
            let n = READ.min(wire.len() - at);
            self.rx[..n].copy_from_slice(&wire[at..at + n]);
            at += n;
            let mut off = 0;
            loop {
                let (conn, ctx, rx, out, sink) = (
                    &mut self.conn,
                    &mut self.ctx,
                    &mut self.rx,
                    &mut self.out,
                    &mut self.sink,
                );
                let r = measured(self.role, || {
                    match conn.handle_input_deflate(now, &mut rx[off..n], ctx, out) {
                        Ok(r) => {
                            let progress = r.event.is_some();
                            if let Some(e) = r.event {
                                sink.on(e);
                            }
                            Some((r.consumed, progress))
                        }
                        Err(e) => {
                            sink.error = Some(e);
                            None
                        }
                    }
                });
                let Some((consumed, progress)) = r else {
                    return false;
                };
                off += consumed;
                if off == n && !self.conn.has_pending_data() {
                    break;
                }
                if consumed == 0 && !progress {
                    self.sink.bad = Some("input stalled");
                    return false;
                }
            }
        }
        true
    }
}

/// The opening handshake with the extension offered and accepted; the
/// agreed parameters of each side's context, or `None` after a failed check.
fn handshake(
    rng: &mut Rng,
    cfg: DeflateConfig,
) -> Option<(ws::deflate::Agreed, ws::deflate::Agreed)> {
    let mut client_hs =
        ClientHandshake::new(ClientRequest::new("device.local", "/z"), rng).offer_deflate(cfg);
    let mut request = [0u8; 384];
    let written = measured(Role::Client, || client_hs.write_request(&mut request));
    let n = written.unwrap_or(0);
    let mut server_hs = ServerHandshake::new();
    let mut response = [0u8; 384];
    let answered = measured(Role::Server, || {
        match server_hs.handle_input(&request[..n]) {
            Ok(Some(req)) => {
                let params = req.deflate_offer(&cfg);
                let written =
                    req.accept_deflate(&Accept::default(), params.as_ref(), &mut response);
                Ok((params, written))
            }
            Ok(None) => Err(None),
            Err(e) => Err(Some(e)),
        }
    });
    let Ok((Some(server_params), Ok(m))) = answered else {
        check!(
            "ws deflate: the server accepts the offer",
            false,
            "request {:?}, answer {:?}",
            written,
            answered.map(|(p, w)| (p.is_some(), w))
        );
        return None;
    };
    let client_params = measured(Role::Client, || {
        match client_hs.handle_input(&response[..m]) {
            Ok(Some(resp)) => resp.deflate(),
            _ => None,
        }
    });
    check_eq!(
        "ws deflate: both sides agree (9-bit windows, no context takeover)",
        client_params,
        Some(server_params),
    );
    let client_params = client_params?;
    Some((
        client_params.agreed(ws::Role::Client, &cfg),
        server_params.agreed(ws::Role::Server, &cfg),
    ))
}

/// One message from one side to the other: sent compressed, received
/// through the small buffers, compared.
fn one_way<A: Entropy, B: Entropy>(
    from: &mut Side<A>,
    to: &mut Side<B>,
    now: Instant,
    kind: MessageKind,
    p: Pattern,
    name: &'static str,
) {
    to.sink = Sink::new();
    to.sink.expect = Some((kind, p));
    let sent = from.send(kind, p);
    let n = sent.unwrap_or(0);
    let received = sent.is_some() && to.receive(now, &from.tx[..n]);
    check!(
        name,
        received && to.sink.got(),
        "{} bytes on the wire for {}, {} received, {:?} {:?}",
        n,
        p.len,
        to.sink.pos,
        to.sink.bad,
        to.sink.error
    );
    if kind == MessageKind::Text {
        check!(
            "ws deflate: the repeated text is compressed to under a quarter",
            n > 0 && n < p.len / 4,
            "{} bytes for {}",
            n,
            p.len
        );
    }
}

pub fn run() {
    let now = Instant::from_millis(10);
    let mut rng = Rng::new(0xdef1);
    let cfg = DeflateConfig::small(9);
    let Some((client_agreed, server_agreed)) = handshake(&mut rng, cfg) else {
        return;
    };
    let client_ctx = Ctx::new(client_agreed, [0; 512], [0; 512], [0; 256]);
    let server_ctx = Ctx::new(server_agreed, [0; 512], [0; 512], [0; 256]);
    let (Ok(client_ctx), Ok(server_ctx)) = (client_ctx, server_ctx) else {
        check!("ws deflate: contexts over 512-byte windows", false, "");
        return;
    };
    let mut client = Side {
        role: Role::Client,
        conn: Connection::client(Config::DEFAULT, Rng::new(0xc11e)),
        ctx: client_ctx,
        rx: [0; RX],
        out: [0; OUT],
        tx: [0; TX],
        msg: [0; MSG],
        sink: Sink::new(),
    };
    let mut server = Side {
        role: Role::Server,
        conn: Connection::server(Config::DEFAULT),
        ctx: server_ctx,
        rx: [0; RX],
        out: [0; OUT],
        tx: [0; TX],
        msg: [0; MSG],
        sink: Sink::new(),
    };
    for _ in 0..2 {
        // Twice: without context takeover, each message starts afresh.
        one_way(
            &mut client,
            &mut server,
            now,
            MessageKind::Text,
            TEXT,
            "ws deflate: 1,620-byte text client -> server, inflated through 64 B",
        );
        one_way(
            &mut server,
            &mut client,
            now,
            MessageKind::Text,
            TEXT,
            "ws deflate: 1,620-byte text server -> client, inflated through 64 B",
        );
    }
    one_way(
        &mut client,
        &mut server,
        now,
        MessageKind::Binary,
        BINARY,
        "ws deflate: 1,000-byte binary client -> server",
    );
    one_way(
        &mut server,
        &mut client,
        now,
        MessageKind::Binary,
        BINARY,
        "ws deflate: 1,000-byte binary server -> client",
    );

    // The close handshake, through the same input path.
    let n = measured(Role::Client, || {
        client.conn.close(now, 1000, "bye", &mut client.tx)
    })
    .unwrap_or(0);
    let ok = server.receive(now, &client.tx[..n]);
    let reply = server.poll();
    let ok = ok && client.receive(now, &server.tx[..reply]);
    check!(
        "ws deflate: close handshake",
        ok && server.sink.close == Some(Some(1000))
            && client.conn.state() == State::Closed
            && server.conn.state() == State::Closed,
        "{:?} {:?} {:?} {:?}",
        server.sink.close,
        client.sink.close,
        client.conn.state(),
        server.conn.state()
    );
}
