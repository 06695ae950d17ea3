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
//! # Pieces
//!
//! - [`json`] (the crate's [`crate::json`]): a bounded JSON validator and
//!   navigator over borrowed text (no tree, no recursion, no allocation).
//! - [`packet`]: the packet codec ([`Packet`]).

mod client;
mod error;
pub mod packet;
pub mod rooms;
mod server;

pub use crate::json;
pub use client::{
    Client, ClientConfig, ClientEvent, ClientNotice, DisconnectReason, MAX_AUTH_LEN,
    MAX_RECOVERY_LEN, backoff,
};
pub use error::Error;
pub use packet::{Limits, Packet, PacketType};
pub use rooms::Rooms;
pub use server::{
    Assembler, AttachmentIter, Attachments, Config, Connection, Event, MAX_NAMESPACE_LEN, Message,
    Notice,
};
