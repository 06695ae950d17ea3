//! A deterministic driver for Sans-IO WebSocket connections: feed bytes in
//! chunks of a chosen size, collect normalized events and transmitted bytes.

#![allow(dead_code)]

use sockwire::entropy::{Entropy, SplitMix64};
use sockwire::time::Instant;
use sockwire::ws::{Config, Connection, Error, Event, MessageKind, Role};

/// An event with owned data; message pieces are joined into whole messages so
/// that runs with different chunkings can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

/// What feeding a byte stream produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub events: Vec<Ev>,
    /// The first error, if the input was rejected.
    pub error: Option<Error>,
    /// Everything the connection transmitted on its own (pongs, closes).
    pub transmitted: Vec<u8>,
}

pub fn server() -> Connection {
    Connection::server(Config::default())
}

pub fn client(seed: u64) -> Connection<SplitMix64> {
    Connection::client(Config::default(), SplitMix64::new(seed))
}

pub fn conn(role: Role, config: Config) -> Connection<SplitMix64> {
    Connection::new(role, config, SplitMix64::new(7))
}

/// Drains `poll_transmit` into `sink` with a `tx`-byte buffer.
pub fn drain<E: Entropy>(conn: &mut Connection<E>, tx: usize, sink: &mut Vec<u8>) {
    let mut buf = vec![0u8; tx];
    loop {
        let n = conn.poll_transmit(&mut buf).expect("poll_transmit");
        if n == 0 {
            return;
        }
        sink.extend_from_slice(&buf[..n]);
    }
}

/// Feeds `bytes` to `conn` in pieces of at most `chunk` bytes (each piece in a
/// fresh buffer, as separate reads would be), draining transmit after every
/// call, and returns what came out.
pub fn feed<E: Entropy>(conn: &mut Connection<E>, bytes: &[u8], chunk: usize) -> Outcome {
    feed_split(
        conn,
        bytes,
        &mut (0..bytes.len()).step_by(chunk.max(1)).skip(1),
    )
}

/// Like [`feed`], cutting the input at the given ascending positions.
pub fn feed_split<E: Entropy>(
    conn: &mut Connection<E>,
    bytes: &[u8],
    cuts: &mut dyn Iterator<Item = usize>,
) -> Outcome {
    let now = Instant::from_millis(0);
    let mut out = Outcome {
        events: Vec::new(),
        error: None,
        transmitted: Vec::new(),
    };
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    let mut start = 0;
    let mut bounds: Vec<usize> = cuts.collect();
    bounds.push(bytes.len());
    'reads: for end in bounds {
        let mut read = bytes[start..end].to_vec();
        start = end;
        let mut off = 0;
        while off < read.len() {
            let r = conn.handle_input(now, &mut read[off..]);
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(e);
                    drain(conn, 256, &mut out.transmitted);
                    break 'reads;
                }
            };
            let stalled = r.consumed == 0 && r.event.is_none();
            off += r.consumed;
            match r.event {
                Some(Event::Data { kind, data, fin }) => {
                    let p = partial.get_or_insert_with(|| (kind, Vec::new()));
                    assert_eq!(p.0, kind, "kind changed inside a message");
                    p.1.extend_from_slice(data);
                    if fin {
                        let (k, d) = partial.take().unwrap();
                        out.events.push(Ev::Message(k, d));
                    }
                }
                Some(Event::Ping(p)) => out.events.push(Ev::Ping(p.to_vec())),
                Some(Event::Pong(p)) => out.events.push(Ev::Pong(p.to_vec())),
                Some(Event::Close { code, reason }) => {
                    out.events.push(Ev::Close(code, reason.to_string()))
                }
                Some(_) => unreachable!("unknown event"),
                None => {}
            }
            let before = out.transmitted.len();
            drain(conn, 256, &mut out.transmitted);
            assert!(
                !stalled || out.transmitted.len() > before,
                "input stalled with nothing to transmit"
            );
        }
    }
    out
}

/// Encodes a frame as a peer would send it (for hand-made and invalid input).
pub fn frame(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => v.push(m | n as u8),
        n if n <= 0xffff => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut p = payload.to_vec();
    if let Some(key) = mask {
        v.extend_from_slice(&key);
        sockwire::ws::apply_mask(&mut p, key, 0);
    }
    v.extend_from_slice(&p);
    v
}

/// A masked client frame (what a server receives).
pub fn cframe(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, Some([0x11, 0x22, 0x33, 0x44]), payload)
}
