//! sockwire: a `no_std`, Sans-IO protocol core for WebSocket (RFC 6455),
//! Engine.IO v4 and Socket.IO v5.
//!
//! sockwire never touches a socket, a clock or a random number generator. Each
//! state machine takes bytes, time ([`time::Instant`]) and randomness
//! ([`entropy::Entropy`]) in, and gives bytes and events out, so the same code
//! runs over smoltcp on a Cortex-M, a blocking `std::net::TcpStream`, tokio, or
//! a fuzzer.
//!
//! # One shape for every state machine
//!
//! - `handle_input(now, bytes)` feeds input and says how many bytes it consumed;
//!   `handle_timeout(now)` lets timers run (harmless early or twice);
//!   `handle_eof(now)` reports the end of the transport.
//! - `poll_transmit(out)` writes bytes to send into the caller's buffer (0 when
//!   there is nothing); `poll_timeout()` says when to call `handle_timeout`.
//! - Commands are plain methods (`send_text`, `ping`, `close`) that write into the
//!   caller's buffer.
//! - **The contract**: after any input or command, drain `poll_transmit` until it
//!   returns 0, then wait for new input or for `poll_timeout`.
//!
//! No state machine allocates. Message data is handed back as slices of the
//! caller's input buffer, unmasked in place; a buffer that is too small for an
//! output gives `BufferTooSmall { required }` and is left untouched. Queues
//! (Engine.IO's send queue, Socket.IO's send buffer and binary assembler) live
//! in storage the caller lends, tables (namespaces, acks, rooms) are sized by
//! const generics, and "full" is a typed error, never a silent drop.
//!
//! # The layers
//!
//! | module | what | machines |
//! |---|---|---|
//! | [`http`] | bounded, incremental HTTP/1.1 head parser and writer | |
//! | [`ws`] | RFC 6455: opening handshake, frames, connection | [`ws::ServerHandshake`], [`ws::ClientHandshake`], [`ws::Connection`] (both roles) |
//! | [`engineio`] | Engine.IO v4: packets, payloads, heartbeat, long-polling, WebSocket, upgrade | [`engineio::Server`] (the endpoint: connections, routing, sessions), [`engineio::Session`] (one session), [`engineio::Client`] (the client endpoint: its connections), [`engineio::ClientSession`] (one client session) |
//! | [`socketio`] | Socket.IO v5: namespaces, events, acks, binary attachments, rooms, reconnection, recovery | [`socketio::Server`] (the endpoint: sockets, rooms, broadcast), [`socketio::Connection`] (one session), [`socketio::Client`] (the client endpoint over its `engineio::Client`), [`socketio::ClientCore`] (the client's Socket.IO state over a transport you run), `socketio::blocking::Client` (`std`) |
//! | [`storage`] | the endpoints' tables: fixed without a heap, growable with `alloc` | |
//! | [`json`] | a bounded, iterative JSON validator and navigator over borrowed text | |
//!
//! An outer machine feeds an inner one and drains it: the Engine.IO session
//! owns its WebSocket [`ws::Connection`]; a Socket.IO connection takes the
//! Engine.IO session's messages and queues its packets on it. On top, the
//! endpoints ([`engineio::Server`], [`socketio::Server`]) own the TCP
//! connections named by handles of the caller's choice, so a driver only
//! accepts, moves bytes and sleeps until input or `poll_timeout`; with `std`,
//! `runner` is that driver over `std::net`. The module docs of
//! [`engineio::server`] and [`socketio::endpoint`] show their run loops.
//!
//! # A WebSocket server's loop
//!
//! ```no_run
//! # #[cfg(feature = "std")] {
//! use std::io::{Read, Write};
//! use sockwire::time::StdClock;
//! use sockwire::ws::{Accept, Connection, Config, Event, ServerHandshake, State};
//!
//! let (mut tcp, _) = std::net::TcpListener::bind("127.0.0.1:9001")?.accept()?;
//! let clock = StdClock::new();
//! let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
//!
//! // 1. The opening handshake: accumulate the head in `rx`.
//! let mut hs = ServerHandshake::new();
//! let mut filled = 0;
//! let head_len = loop {
//!     filled += tcp.read(&mut rx[filled..])?;
//!     match hs.handle_input(&rx[..filled]) {
//!         Ok(None) => continue,
//!         Ok(Some(req)) => {
//!             let n = req.accept(&Accept::default(), &mut tx).unwrap();
//!             tcp.write_all(&tx[..n])?;
//!             break req.head_len();
//!         }
//!         Err(e) => {
//!             let n = e.write_response(&mut tx).unwrap();
//!             tcp.write_all(&tx[..n])?;
//!             return Ok(());
//!         }
//!     }
//! };
//!
//! // 2. The connection: bytes after the head are already frames.
//! let mut conn = Connection::server(Config::default());
//! let (mut start, mut end) = (head_len, filled);
//! while conn.state() != State::Closed {
//!     if start == end {
//!         (start, end) = (0, tcp.read(&mut rx)?);
//!         if end == 0 { let _ = conn.handle_eof(clock.now()); break; }
//!     }
//!     let r = conn.handle_input(clock.now(), &mut rx[start..end]).map_err(std::io::Error::other);
//!     let r = match r { Ok(r) => r, Err(_) => { /* the close frame is queued */ start = end; continue } };
//!     start += r.consumed;
//!     if let Some(Event::Data { data, .. }) = r.event {
//!         println!("{} bytes", data.len());
//!     }
//!     loop {
//!         let n = conn.poll_transmit(&mut tx).unwrap();
//!         if n == 0 { break; }
//!         tcp.write_all(&tx[..n])?;
//!     }
//! }
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! With the `std` feature, [`ws::blocking`] wraps all of this in a ready-made
//! blocking client and server.
//!
//! # Features
//!
//! - `std` (implies `alloc`): blocking helpers over `Read + Write`,
//!   [`entropy::StdEntropy`], [`time::StdClock`], the server runner.
//! - `alloc`: growable endpoint tables (`storage::Growable`, indexed rooms)
//!   for servers with many sessions; no new dependency.
//! - `defmt`: `defmt::Format` on the public types.

#![no_std]
#![deny(missing_docs)]
// `unsafe` is denied everywhere but in `simd`, the one module allowed it.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod engineio;
pub mod entropy;
pub mod http;
pub mod json;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod runner;
#[allow(unsafe_code)]
mod simd;
pub mod socketio;
pub mod storage;
pub mod time;
pub mod ws;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
