//! Socket.IO v5: the event protocol on top of Engine.IO.
//!
//! Socket.IO multiplexes *namespaces* (`/`, `/admin`, ...) over one Engine.IO
//! session. A client joins each namespace with CONNECT (the server answers with
//! a socket id, or CONNECT_ERROR), then both sides exchange *events*: a name
//! and JSON arguments, optionally with an *acknowledgement id* that asks the
//! other side to answer with an ACK. Binary arguments travel as attachments:
//! the JSON holds a placeholder and each attachment follows as its own
//! Engine.IO binary message.
//!
//! sockwire never builds a JSON tree: event arguments are handed over as raw
//! JSON text borrowed from the input (validated, bounded in depth), and
//! commands take raw JSON text for the arguments. Deserialise with whatever the
//! application already uses.
//!
//! # Pieces
//!
//! - [`packet`]: the packet codec ([`Packet`]) with the reference parser's
//!   rules.
//! - [`Connection`]: one client on the server: namespaces (static, with
//!   automatic `Invalid namespace`, or dynamic), CONNECT middleware, events,
//!   acks both ways with timeouts, binary attachments (assembled in an
//!   [`Assembler`] over lent storage), the connect timeout.
//! - [`Rooms`]: a bounded membership table for `to(...).except(...)`
//!   broadcasts.
//! - [`Server`]: the endpoint over an Engine.IO server: socket ids, rooms,
//!   broadcast, and connection state [`recovery`].
//! - [`Client`]: the client endpoint: it owns its [`engineio::Client`](crate::engineio::Client)
//!   (and through it every connection), and [`ClientCore`] underneath:
//!   namespaces with auth, events and acks, a send buffer kept while
//!   disconnected, reconnection with the reference client's [`backoff`],
//!   volatile emits, connection state recovery. With `std`,
//!   `blocking::Client` drives it over `std::net`.
//! - [`json`] (the crate's [`crate::json`]): the bounded JSON validator and
//!   navigator.
//!
//! # A server's loop
//!
//! One [`Connection`] per Engine.IO session: every message the session reads
//! goes to [`Connection::handle_message`]; its commands queue packets on the
//! session, which the Engine.IO run loop then writes out.
//!
//! ```
//! use sockwire::engineio::{self, Data, Session, Transport};
//! use sockwire::entropy::SplitMix64;
//! use sockwire::socketio::{Assembler, Config, Connection, ConnectionEvent as Event};
//! use sockwire::time::Instant;
//!
//! let now = Instant::from_millis(0);
//! let mut rng = SplitMix64::new(1);
//! let eio_config = engineio::Config { path: "/socket.io/", ..engineio::Config::default() };
//! let mut eio = Session::open(now, Transport::Polling, eio_config, vec![0u8; 4096], &mut rng).unwrap();
//! let mut sio: Connection = Connection::new(now, Config::default());
//! let mut asm = Assembler::new(vec![0u8; 4096]);
//! # let mut out = [0u8; 512];
//! # let _ = eio.poll_http(&mut out).unwrap();
//!
//! // The client POSTs a CONNECT with its auth, then an event asking for an ack.
//! let mut body = *b"40{\"token\":\"123\"}\x1e4212[\"hello\",\"world\"]";
//! let mut payload = eio.handle_post(now, &mut body).unwrap();
//! while let Some(message) = eio.read_message(now, &mut payload).unwrap() {
//!     match sio.handle_message(now, &mut eio, message, &mut asm).unwrap() {
//!         Some(Event::Connect { nsp, auth }) => {
//!             assert_eq!(auth, Some(r#"{"token":"123"}"#));
//!             sio.accept(&mut eio, nsp, &mut rng).unwrap();
//!             sio.emit(&mut eio, nsp, "welcome", r#""you are in""#, &[]).unwrap();
//!         }
//!         Some(Event::Event(m)) => {
//!             assert_eq!(m.name(), Some("hello"));
//!             let args = m.args_raw();
//!             sio.ack(&mut eio, m.nsp, m.ack_id.unwrap(), args, &[]).unwrap();
//!         }
//!         _ => {}
//!     }
//! }
//!
//! // The client's next GET carries the three answers in one body.
//! eio.handle_poll(now).unwrap();
//! let mut out = [0u8; 512];
//! let n = eio.poll_http(&mut out).unwrap();
//! let body = std::str::from_utf8(&out[..n]).unwrap().split("\r\n\r\n").nth(1).unwrap();
//! let packets: Vec<&str> = body.split('\x1e').collect();
//! assert!(packets[0].starts_with(r#"40{"sid":""#));
//! assert_eq!(packets[1..], [r#"42["welcome","you are in"]"#, r#"4312["world"]"#]);
//! ```
//!
//! The client side mirrors it: [`ClientCore::handle_message`] takes an
//! [`engineio::ClientSession`](crate::engineio::ClientSession)'s messages, and
//! [`ClientCore::flush`] moves the send buffer onto it while the namespace is
//! connected. `examples/sio_server.rs` and `examples/sio_client.rs` are
//! complete programs over `std::net`.

mod acks;
pub mod adapter;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod blocking;
pub mod client;
mod client_core;
pub mod endpoint;
mod error;
pub mod packet;
pub mod recovery;
pub mod rooms;
mod server;
mod wire;

pub use crate::json;
pub use client::{Client, ClientBuffers};
pub use client_core::{
    ClientConfig, ClientCore, ClientEvent, ClientNotice, DisconnectReason, MAX_AUTH_LEN,
    MAX_RECOVERY_LEN, backoff,
};
pub use endpoint::{Broadcast, Event, Server, ServerEvent};
pub use error::Error;
pub use packet::{Limits, Packet, PacketType};
pub use rooms::{RoomTable, Rooms};
pub use server::{
    Assembler, AttachmentIter, Attachments, Config, Connection, Event as ConnectionEvent,
    MAX_EVENT_NAME_LEN, MAX_NAMESPACE_LEN, Message, Notice,
};
