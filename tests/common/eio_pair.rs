//! Moving Engine.IO traffic between an in-memory client and server session:
//! the byte pump shared by the Engine.IO and Socket.IO client tests.

#![allow(dead_code)]

use sockwire::engineio::{ClientSession, Data, Error, Session};
use sockwire::entropy::SplitMix64;
use sockwire::time::Instant;
use sockwire::ws::Assembler;

/// An Engine.IO message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum M {
    T(String),
    B(Vec<u8>),
}

impl M {
    pub fn data(&self) -> Data<'_> {
        match self {
            M::T(t) => Data::Text(t),
            M::B(b) => Data::Binary(b),
        }
    }
}

pub fn own(d: Data<'_>) -> M {
    match d {
        Data::Text(t) => M::T(t.into()),
        Data::Binary(b) => M::B(b.to_vec()),
    }
}

pub type EioClient = ClientSession<Vec<u8>, SplitMix64>;

/// Everything the client has to send, delivered to the server: the messages
/// the server received (and whether any byte moved).
pub fn client_to_server(
    c: &mut EioClient,
    s: &mut Session<Vec<u8>>,
    asm: &mut Assembler<Vec<u8>>,
    now: Instant,
    tx: usize,
) -> (Vec<M>, bool) {
    let mut out = vec![0u8; tx];
    let mut wire = Vec::new();
    loop {
        let n = c.poll_transmit(&mut out).unwrap();
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&out[..n]);
    }
    let mut got = Vec::new();
    let mut off = 0;
    while off < wire.len() {
        match s.handle_ws_input(now, &mut wire[off..], asm) {
            Ok(r) => {
                off += r.consumed;
                if let Some(d) = r.message {
                    got.push(own(d));
                }
            }
            Err(_) => break,
        }
    }
    (got, !wire.is_empty())
}

/// Everything the server has to send, delivered to the client (unless
/// `deliver` is false: the link is cut): the messages and errors the client
/// got, and whether any byte moved.
pub fn server_to_client(
    s: &mut Session<Vec<u8>>,
    c: &mut EioClient,
    asm: &mut Assembler<Vec<u8>>,
    now: Instant,
    tx: usize,
    deliver: bool,
) -> (Vec<M>, Vec<Error>, bool) {
    let mut out = vec![0u8; tx];
    let mut wire = Vec::new();
    loop {
        let n = s.poll_ws(&mut out).unwrap();
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&out[..n]);
    }
    let (mut got, mut errors) = (Vec::new(), Vec::new());
    let mut off = 0;
    while deliver && off < wire.len() {
        match c.handle_input(now, &mut wire[off..], asm) {
            Ok(r) => {
                off += r.consumed;
                if let Some(d) = r.message {
                    got.push(own(d));
                }
            }
            Err(e) => {
                errors.push(e);
                break;
            }
        }
    }
    (got, errors, deliver && !wire.is_empty())
}
