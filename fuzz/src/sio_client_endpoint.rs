//! `sio_client_endpoint`: the owning Socket.IO client (`socketio::Client`,
//! over the `engineio::Client` that owns its connections) driven as a driver
//! would, with the server's side scripted by the input, on a virtual clock.
//!
//! Input: `config:u8 seed:u8` then operations (at most [`MAX_OPS`]), each an
//! op byte (see [`op`]) and its arguments. The config byte picks the first
//! transport (`& 1`: WebSocket, else polling), the upgrade (`& 2`),
//! reconnection off (`& 4`), the buffers (`& 8`: 256 bytes, else 4096) and
//! the attempts (`>> 4 & 3`: unlimited, 0, 1, 3).
//!
//! The connections are those the client asked for (`OpenConnection`); an
//! operation names one by index. Server bytes are raw, or look right: an
//! HTTP `200` with a `Content-Length` body (an Engine.IO open packet,
//! Socket.IO packets, a payload, `ok`), the `101` answer to the WebSocket
//! handshake the client wrote on that connection (its accept key computed),
//! WebSocket frames (Engine.IO / Socket.IO packets, fragmented or not,
//! control frames). Bytes are fed as a driver does: kept per connection,
//! what is consumed dropped.
//!
//! Oracles:
//! - No panic; bounded operations.
//! - `handle_input`: "consumed 0, no message, not `again`" means exactly
//!   "need more bytes": the same call with the same bytes, nothing else
//!   changed, gives the same answer.
//! - `poll_transmit`: the bytes fit `out`; the connection named is one the
//!   client announced; `BufferTooSmall { required }` is honest: an `out` of
//!   `required` bytes is not refused as too small again.
//! - No busy loop: after `handle_timeout(now)` at or past `poll_timeout()`,
//!   and a driver's drain of events and transmits, `poll_timeout()` is `None`
//!   or later than `now`.

use std::collections::{HashMap, HashSet};

use sockwire::engineio::{self, ConnId, Transmit, Transport};
use sockwire::entropy::SplitMix64;
use sockwire::socketio::{self, ClientBuffers, ClientNotice};
use sockwire::time::{Duration, Instant};
use sockwire::ws::{self, MessageKind};

use crate::reader::R;
use crate::seeds::Writer;
use crate::sio_common::{arb_args, arb_name, server_control, server_frames, trace_env};

/// The most operations one input runs.
pub const MAX_OPS: usize = 256;
/// The large `out` (the doc's "max_payload plus 512").
const MAX_PAYLOAD: usize = 4096;
const LARGE_OUT: usize = MAX_PAYLOAD + 512;
/// Clock steps, in ms.
const STEPS: [u64; 16] = [
    0, 1, 10, 100, 199, 200, 201, 299, 300, 301, 500, 1000, 2000, 5000, 20_000, 60_000,
];
/// Engine.IO / Socket.IO packets a server sends.
const PACKETS: &[&str] = &[
    r#"0{"sid":"S1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":4096}"#,
    r#"0{"sid":"S2","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100}"#,
    r#"40{"sid":"abc"}"#,
    r#"40/x,{"sid":"def"}"#,
    r#"44{"message":"no"}"#,
    "2",
    "3probe",
    "6",
    "1",
    r#"42["message-back",1,"two"]"#,
    r#"421["ask",{"a":1}]"#,
    r#"430["a",2]"#,
    r#"431[]"#,
    "41",
    r#"451-["bin",{"_placeholder":true,"num":0}]"#,
    "4",
];
const NAMESPACES: [&str; 4] = ["/", "/x", "/y", "bad"];

type Client = socketio::Client<Vec<u8>, SplitMix64, 4, 4>;

/// The operations (`(op & 0x7f) % 12`; `op & 0x80` is a flag).
pub mod op {
    /// `conn:u8 kind:u8 ...`: server bytes on a connection.
    pub const INPUT: u8 = 0;
    /// `conn:u8`: the connection opened.
    pub const CONNECTED: u8 = 1;
    /// `conn:u8`: the connection ended (or failed to open).
    pub const CLOSED: u8 = 2;
    /// `step:u8`: the clock advances, then `handle_timeout`.
    pub const TICK: u8 = 3;
    /// `nsp:u8`: `connect` (with an auth if flagged).
    pub const JOIN: u8 = 4;
    /// `nsp:u8 name args`: `emit`.
    pub const EMIT: u8 = 5;
    /// `nsp:u8 name args timeout:u8`: `emit_with_ack` (the timeout if
    /// flagged).
    pub const EMIT_ACK: u8 = 6;
    /// `nsp:u8 name args`: `emit_volatile`.
    pub const VOLATILE: u8 = 7;
    /// `nsp:u8 id:u8 args`: `ack`; flagged: `disconnect` (`nsp:u8` only).
    pub const ACK: u8 = 8;
    /// `close`.
    pub const CLOSE: u8 = 9;
    /// `len:u8`: drain `poll_transmit` with an `out` of `len` bytes.
    pub const TRANSMIT_SMALL: u8 = 10;
    /// Drain `poll_event`, then `poll_transmit` with a large `out`.
    pub const DRAIN: u8 = 11;
}

struct Driver {
    c: Client,
    now: Instant,
    /// Every connection the client announced, in order.
    conns: Vec<ConnId>,
    /// Announced and not ended (as far as the driver knows).
    live: HashSet<ConnId>,
    /// Bytes received and not consumed, per connection.
    held: HashMap<ConnId, Vec<u8>>,
    /// The last WebSocket key the client wrote on each connection.
    keys: HashMap<ConnId, Vec<u8>>,
    /// The large `out`.
    large: Vec<u8>,
}

/// Runs one input.
pub fn sio_client_endpoint(data: &[u8]) {
    let mut r = R::new(data);
    let config = r.u8();
    let seed = r.u8();
    let eio = engineio::ClientConfig {
        path: "/socket.io/",
        max_payload: MAX_PAYLOAD,
        upgrade: config & 2 != 0,
        ..Default::default()
    };
    let attempts = [u32::MAX, 0, 1, 3][usize::from(config >> 4 & 3)];
    let sio = socketio::ClientConfig {
        reconnection: config & 4 == 0,
        reconnection_attempts: attempts,
        ..Default::default()
    };
    let start = if config & 1 != 0 {
        Transport::WebSocket
    } else {
        Transport::Polling
    };
    let len = if config & 8 != 0 { 256 } else { 4096 };
    let buffers = ClientBuffers::with_len(len, |n| vec![0u8; n]);
    let now = Instant::from_millis(0);
    let entropy = SplitMix64::new(u64::from(seed));
    let Ok(c) = Client::new(now, eio, sio, start, "example.com", buffers, entropy) else {
        return;
    };
    let mut d = Driver {
        c,
        now,
        conns: Vec::new(),
        live: HashSet::new(),
        held: HashMap::new(),
        keys: HashMap::new(),
        large: vec![0u8; LARGE_OUT],
    };
    for _ in 0..MAX_OPS {
        if r.is_empty() {
            break;
        }
        d.step(&mut r);
    }
    d.drain();
}

impl Driver {
    fn pick(&self, r: &mut R<'_>) -> Option<ConnId> {
        let i = usize::from(r.u8());
        match self.conns.len() {
            0 => None,
            // The latest by default (index 0), else any.
            n => Some(self.conns[n - 1 - i % n]),
        }
    }

    fn step(&mut self, r: &mut R<'_>) {
        let o = r.u8();
        let nsp = |r: &mut R<'_>| NAMESPACES[usize::from(r.u8() % 4)];
        let which = (o & 0x7f) % 12;
        if trace_env() {
            eprintln!("op {which} (flag {}) at {:?}", o >> 7, self.now);
        }
        match which {
            op::INPUT => {
                let Some(conn) = self.pick(r) else { return };
                let bytes = self.server_bytes(conn, r);
                self.input(conn, &bytes);
            }
            op::CONNECTED => {
                if let Some(conn) = self.pick(r) {
                    self.c.handle_connected(self.now, conn);
                }
            }
            op::CLOSED => {
                if let Some(conn) = self.pick(r) {
                    self.live.remove(&conn);
                    self.held.remove(&conn);
                    self.c.handle_closed(self.now, conn);
                }
            }
            op::TICK => {
                self.now = self.now + Duration::from_millis(STEPS[usize::from(r.u8() % 16)]);
                self.tick();
            }
            op::JOIN => {
                let auth = (o & 0x80 != 0).then_some(r#"{"token":"t"}"#);
                let _ = self.c.connect(nsp(r), auth);
            }
            op::EMIT | op::EMIT_ACK | op::VOLATILE => {
                let n = nsp(r);
                let name = arb_name(r);
                let (args, _) = arb_args(r, 0);
                let _ = match which {
                    op::EMIT => self.c.emit(n, &name, &args, &[]),
                    op::EMIT_ACK => {
                        let t = Duration::from_millis(STEPS[usize::from(r.u8() % 16)]);
                        let t = (o & 0x80 != 0).then_some(t);
                        self.c
                            .emit_with_ack(self.now, n, &name, &args, &[], t)
                            .map(drop)
                    }
                    _ => self.c.emit_volatile(n, &name, &args).map(drop),
                };
            }
            op::ACK => {
                let n = nsp(r);
                if o & 0x80 != 0 {
                    let _ = self.c.disconnect(n);
                } else {
                    let id = u64::from(r.u8() % 4);
                    let (args, _) = arb_args(r, 0);
                    let _ = self.c.ack(n, id, &args, &[]);
                }
            }
            op::CLOSE => self.c.close(self.now),
            op::TRANSMIT_SMALL => {
                let mut out = vec![0u8; usize::from(r.u8())];
                for _ in 0..16 {
                    if !self.transmit(&mut out) {
                        break;
                    }
                }
            }
            _ => self.drain(),
        }
    }

    /// Server bytes for `conn`, as the input asks.
    fn server_bytes(&self, conn: ConnId, r: &mut R<'_>) -> Vec<u8> {
        let kind = r.u8();
        let packet = |r: &mut R<'_>| -> Vec<u8> {
            let k = r.u8();
            if k & 0x80 != 0 {
                return r.short_bytes().to_vec();
            }
            PACKETS[usize::from(k) % PACKETS.len()].as_bytes().to_vec()
        };
        match kind % 8 {
            // An HTTP answer with a body of 1 to 3 packets (a payload).
            0 | 1 => {
                let count = 1 + usize::from(kind >> 3 & 3) % 3;
                let mut body = Vec::new();
                for i in 0..count {
                    if i > 0 {
                        body.push(0x1e);
                    }
                    body.extend(packet(r));
                }
                let status = ["200 OK", "400 Bad Request", "200 OK", "404 Not Found"];
                let status = status[usize::from(kind >> 5 & 3)];
                let mut a = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                a.extend(body);
                a
            }
            2 => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            // The WebSocket handshake's answer (a wrong key with `& 0x80`).
            3 => {
                let key = self.keys.get(&conn).map_or(&b"x"[..], Vec::as_slice);
                let mut accept = ws::accept_key(key);
                if kind & 0x80 != 0 {
                    accept[0] ^= 1;
                }
                let mut a = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
                a.extend_from_slice(&accept);
                a.extend_from_slice(b"\r\n\r\n");
                a
            }
            // A text frame, possibly fragmented.
            4 | 5 => {
                let text = String::from_utf8_lossy(&packet(r)).into_owned();
                server_frames(
                    MessageKind::Text,
                    text.as_bytes(),
                    usize::from(kind >> 4 & 3),
                )
            }
            6 => {
                if kind & 0x80 != 0 {
                    server_control(kind >> 3, r.short_bytes(), 1000)
                } else {
                    server_frames(MessageKind::Binary, r.short_bytes(), 1)
                }
            }
            _ => r.short_bytes().to_vec(),
        }
    }

    /// Feeds `bytes` on `conn` as a driver does, checking the progress rule.
    fn input(&mut self, conn: ConnId, bytes: &[u8]) {
        let mut buf = self.held.remove(&conn).unwrap_or_default();
        buf.extend_from_slice(bytes);
        let mut start = 0;
        for _ in 0..64 {
            if start >= buf.len() {
                break;
            }
            let copy = buf[start..].to_vec();
            let Ok(a) = self.c.handle_input(self.now, conn, &mut buf[start..]) else {
                start = buf.len();
                break;
            };
            let answer = (a.consumed, a.message.is_some(), a.again, a.blocked);
            if trace_env() {
                eprintln!(
                    "  input {conn:?} {:?} -> {answer:?}",
                    String::from_utf8_lossy(&copy)
                );
            }
            if a.consumed == 0 && a.message.is_none() && !a.again {
                // "Need more bytes": asking again changes nothing.
                let mut again = copy.clone();
                let b = self.c.handle_input(self.now, conn, &mut again);
                let b = b.map(|b| (b.consumed, b.message.is_some(), b.again, b.blocked));
                assert_eq!(b.ok(), Some(answer), "need more bytes, then not: {copy:?}");
                break;
            }
            start += a.consumed;
            self.drain();
        }
        buf.drain(..start.min(buf.len()));
        if self.live.contains(&conn) && !buf.is_empty() {
            self.held.insert(conn, buf);
        }
    }

    fn tick(&mut self) {
        let due = self.c.poll_timeout().is_some_and(|t| t <= self.now);
        self.c.handle_timeout(self.now);
        self.drain();
        if due && let Some(t) = self.c.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not past now {:?} after handle_timeout",
                self.now
            );
        }
    }

    /// One `poll_transmit` into `out`: false when there was nothing.
    fn transmit(&mut self, out: &mut [u8]) -> bool {
        let r = self.c.poll_transmit(out);
        self.transmitted(r, out)
    }

    fn transmitted(
        &mut self,
        r: Result<Option<Transmit<ConnId>>, engineio::Error>,
        out: &mut [u8],
    ) -> bool {
        match r {
            Ok(Some(t)) => {
                assert!(t.len <= out.len());
                assert!(
                    self.conns.contains(&t.conn),
                    "{t:?} names no announced connection"
                );
                let sent = &out[..t.len];
                if trace_env() {
                    eprintln!("  transmit {t:?} {:?}", String::from_utf8_lossy(sent));
                }
                if let Some(i) = find(sent, b"Sec-WebSocket-Key: ") {
                    let key = &sent[i + 19..];
                    let end = find(key, b"\r\n").unwrap_or(key.len());
                    self.keys.insert(t.conn, key[..end].to_vec());
                }
                if t.close_after {
                    self.live.remove(&t.conn);
                    self.held.remove(&t.conn);
                }
                true
            }
            Ok(None) => false,
            Err(engineio::Error::BufferTooSmall { required }) => {
                if required > LARGE_OUT || required <= out.len() {
                    return false;
                }
                let mut big = vec![0u8; required];
                let again = self.c.poll_transmit(&mut big);
                assert!(
                    !matches!(again, Err(engineio::Error::BufferTooSmall { .. })),
                    "BufferTooSmall {{ required: {required} }}, then {again:?} with {required} bytes"
                );
                self.transmitted(again, &mut big)
            }
            Err(_) => false,
        }
    }

    /// What a driver does after every input and command: events, then
    /// transmits, until neither has anything (bounded).
    fn drain(&mut self) {
        for _ in 0..64 {
            let mut any = false;
            while let Some(n) = self.c.poll_event() {
                any = true;
                if trace_env() {
                    eprintln!("  notice {n:?}");
                }
                if let ClientNotice::OpenConnection { conn, .. } = n {
                    self.conns.push(conn);
                    self.live.insert(conn);
                }
            }
            let mut out = std::mem::take(&mut self.large);
            for _ in 0..256 {
                if !self.transmit(&mut out) {
                    break;
                }
                any = true;
            }
            self.large = out;
            if !any {
                return;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Seeds: scripted sessions (WebSocket: handshake, open packet, CONNECT,
/// an emit and its ack; polling: the handshake answer, CONNECT, the upgrade).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    const T: &str = "sio_client_endpoint";
    let mut w = Writer::default();
    // The first connection, opened; its request written.
    let open = |w: &mut Writer, config: u8| {
        w.u8(config).u8(7).u8(op::JOIN).u8(0).u8(op::DRAIN);
        w.u8(op::CONNECTED).u8(0).u8(op::DRAIN);
    };
    // An Engine.IO or Socket.IO packet (index into PACKETS) in a text frame
    // on connection `c` (0: the latest).
    let frame = |w: &mut Writer, c: u8, packet: u8| {
        w.u8(op::INPUT).u8(c).u8(4).u8(packet).u8(op::DRAIN);
    };
    // ... in an HTTP answer.
    let answer = |w: &mut Writer, c: u8, packet: u8| {
        w.u8(op::INPUT).u8(c).u8(0).u8(packet).u8(op::DRAIN);
    };
    let switch = |w: &mut Writer, c: u8| {
        w.u8(op::INPUT).u8(c).u8(3).u8(op::DRAIN);
    };
    let mut out = Vec::new();

    open(&mut w, 1);
    switch(&mut w, 0);
    frame(&mut w, 0, 0);
    frame(&mut w, 0, 2);
    w.u8(op::EMIT).u8(0).u8(0).u8(1).u8(op::DRAIN);
    w.u8(op::EMIT_ACK | 0x80)
        .u8(0)
        .u8(2)
        .u8(2)
        .u8(12)
        .u8(op::DRAIN);
    frame(&mut w, 0, 11);
    frame(&mut w, 0, 9);
    frame(&mut w, 0, 10);
    w.u8(op::ACK).u8(0).u8(1).u8(1).u8(op::DRAIN);
    w.u8(op::TICK).u8(8).u8(op::TRANSMIT_SMALL).u8(3);
    frame(&mut w, 0, 5);
    w.u8(op::TICK).u8(5).u8(op::DRAIN);
    w.u8(op::CLOSE).u8(op::DRAIN);
    out.push((T, "websocket-session".into(), w.done()));

    open(&mut w, 1);
    switch(&mut w, 0);
    frame(&mut w, 0, 0);
    w.u8(op::CLOSED)
        .u8(0)
        .u8(op::DRAIN)
        .u8(op::TICK)
        .u8(12)
        .u8(op::DRAIN);
    w.u8(op::CONNECTED).u8(0).u8(op::DRAIN);
    switch(&mut w, 0);
    frame(&mut w, 0, 0);
    frame(&mut w, 0, 2);
    out.push((T, "websocket-lost-and-reconnect".into(), w.done()));

    // Polling: the GET is connection 1 (index 1 once the POST is asked for).
    open(&mut w, 0);
    answer(&mut w, 0, 0);
    w.u8(op::CONNECTED).u8(0).u8(op::DRAIN);
    w.u8(op::INPUT).u8(0).u8(2).u8(op::DRAIN);
    answer(&mut w, 1, 2);
    w.u8(op::EMIT).u8(0).u8(0).u8(2).u8(op::DRAIN);
    w.u8(op::INPUT).u8(0).u8(2).u8(op::DRAIN);
    answer(&mut w, 1, 9);
    w.u8(op::TICK).u8(8).u8(op::DRAIN);
    answer(&mut w, 1, 5);
    out.push((T, "polling-session".into(), w.done()));

    // The upgrade: GET 1, upgrade 2, POST 3 (indices 2, 1, 0).
    open(&mut w, 2);
    answer(&mut w, 0, 0);
    w.u8(op::CONNECTED)
        .u8(0)
        .u8(op::CONNECTED)
        .u8(1)
        .u8(op::DRAIN);
    w.u8(op::INPUT).u8(0).u8(2).u8(op::DRAIN);
    switch(&mut w, 1);
    frame(&mut w, 1, 6);
    answer(&mut w, 2, 7);
    frame(&mut w, 1, 2);
    frame(&mut w, 1, 9);
    out.push((T, "polling-upgrade".into(), w.done()));
    out
}

#[cfg(test)]
mod tests {
    /// `SOCKWIRE_FUZZ_TRACE=1 cargo test --lib sio_client_endpoint -- --nocapture`
    /// shows what each seed does.
    #[test]
    fn seeds_run() {
        for (_, name, data) in super::seeds() {
            eprintln!("--- {name}");
            super::sio_client_endpoint(&data);
        }
    }
}
