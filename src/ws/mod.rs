//! WebSocket (RFC 6455): the opening handshake, framing and the connection
//! state machine, in both roles.
//!
//! # The protocol in brief
//!
//! A WebSocket connection starts as an HTTP/1.1 request with `Upgrade:
//! websocket` and a random `Sec-WebSocket-Key`; the server proves it speaks
//! WebSocket by answering `101 Switching Protocols` with `Sec-WebSocket-Accept`,
//! a hash of that key. From then on both ends exchange *frames*: a 2 to 14 byte
//! header (final-fragment bit, opcode, length, optional masking key) and a
//! payload. Text and binary *messages* may be split into several frames;
//! control frames (ping, pong, close) are short, never split, and may appear
//! between the fragments of a message. Every frame a client sends is masked with
//! a fresh random key; server frames never are. Either end starts the closing
//! handshake with a Close frame (a code and a UTF-8 reason); the other answers
//! with its own Close, and the server then closes the TCP connection.
//!
//! # The pieces
//!
//! - [`ServerHandshake`] / [`ClientHandshake`]: the opening handshake over bytes
//!   the caller accumulates; they hand over at [`Request::head_len`] /
//!   [`Response::head_len`], where frames begin.
//! - [`Connection`]: everything after the handshake. Input goes in through
//!   [`Connection::handle_input`] and is unmasked *in place*: message data comes
//!   back as [`Event::Data`] pieces borrowed from the caller's buffer, so a read
//!   buffer of any size (one byte works) carries messages of any size. Output is
//!   written into the caller's buffer by the `send_*` commands and by
//!   [`Connection::poll_transmit`], which produces the automatic frames (pongs,
//!   close replies, the close after a protocol error).
//! - [`FrameHeader`], [`apply_mask`], [`Utf8Validator`]: the codecs underneath,
//!   usable on their own.
//! - [`Assembler`]: collects pieces into whole messages in a buffer the caller
//!   lends, for applications that want messages rather than streams.
//! - `blocking` (feature `std`): a ready-made blocking client and server over any
//!   `Read + Write`.
//!
//! # Compression (feature `deflate`)
//!
//! permessage-deflate (RFC 7692) is negotiated by
//! `ClientHandshake::offer_deflate` / `Request::deflate_offer` and
//! `Request::accept_deflate`, with a `deflate::DeflateConfig` that can ask
//! for small windows and no context takeover, or by not offering at all. The
//! agreed `deflate::Params` give a `deflate::Context`: the decoder's
//! window, the encoder's window and hash table, all in storage the caller
//! lends. The context lives *beside* the connection and is passed to
//! `Connection::handle_input_deflate` and `Connection::send_deflate`, so
//! `Connection` keeps no storage type parameter and its size does not
//! change; code that never compresses never sees it.
//!
//! Inflated bytes cannot be handed back from the input buffer (they are more
//! than the input), so `handle_input_deflate` also takes an output buffer of
//! any size: the `Event::Data` pieces of a compressed message borrow it, those
//! of an uncompressed message still borrow the input. Both have the input's
//! lifetime, so the connection stays free for sending while an event is held,
//! as before. When the output fills up, the decoder keeps its place, and
//! `Connection::has_pending_data` says to call again even with no new input.
//!
//! # Strictness
//!
//! Every rule of RFC 6455 that the receiver can check is checked as early as the
//! bytes allow: reserved bits and opcodes, masking by role, control-frame size
//! and fragmentation, minimal length encodings, continuation sequencing, close
//! codes and reasons, and UTF-8, which fails at the first invalid byte even in
//! the middle of a frame. Size limits are checked from each frame header before
//! any payload is read. A violation returns a typed [`Error`] and queues the
//! Close frame with the matching code (1002, 1007, 1009).
//!
//! # The run loop
//!
//! ```
//! use sockwire::time::Instant;
//! use sockwire::ws::{Config, Connection, Event, State};
//!
//! // Bytes as a client would send them: a masked "Hello" (RFC 6455 section 5.7).
//! let mut rx = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let mut tx = [0u8; 64];
//! let mut conn = Connection::server(Config::default());
//! let now = Instant::from_millis(0);
//!
//! let n = rx.len(); // as returned by a read
//! let mut off = 0;
//! while off < n {
//!     let r = conn.handle_input(now, &mut rx[off..n]).expect("valid input");
//!     off += r.consumed;
//!     if let Some(Event::Data { data, fin, .. }) = r.event {
//!         assert_eq!((data, fin), (&b"Hello"[..], true));
//!     }
//!     // Drain automatic frames after every input.
//!     loop {
//!         let w = conn.poll_transmit(&mut tx).expect("tx buffer large enough");
//!         if w == 0 { break; }
//!         // socket.write_all(&tx[..w])
//!     }
//! }
//! // Echo it back: server frames are not masked.
//! let w = conn.send_text("Hello", &mut tx).unwrap();
//! assert_eq!(&tx[..w], &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
//! assert_eq!(conn.state(), State::Open);
//! ```

mod assemble;
#[cfg(feature = "std")]
pub mod blocking;
mod connection;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
mod error;
mod frame;
mod handshake;
mod mask;
mod utf8;

pub use assemble::{Assembler, Message};
pub use connection::{
    CloseReason, Config, Connection, ControlPayload, Event, Input, MessageKind, Role, State,
};
pub use error::Error;
pub(crate) use frame::ServerFrameHead;
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
pub use handshake::{
    Accept, ClientHandshake, ClientRequest, Request, Response, ServerHandshake, accept_key,
    write_refusal,
};
pub use mask::apply_mask;
pub use utf8::Utf8Validator;

/// The UTF-8 checks behind [`Utf8Validator`], for the differential fuzz target
/// `utf8_simd` only: not part of the API, may change at any time.
#[doc(hidden)]
pub mod utf8_internals {
    pub use super::utf8::{check, check_portable};

    /// The vectorised prefix check alone (`Some(k)`: `bytes[..k]` is valid and
    /// whole), or `None` when this CPU or build has no vectorised path.
    pub fn simd_valid_up_to(bytes: &[u8]) -> Option<usize> {
        crate::simd::avx2_available().then(|| crate::simd::utf8_valid_up_to(bytes))
    }
}

pub use crate::entropy::NoEntropy;

/// Close codes (RFC 6455 section 7.4 and the IANA registry).
pub mod close_code {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a message of a kind the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1005: no code was present (never sent on the wire).
    pub const NO_STATUS: u16 = 1005;
    /// 1006: the connection ended without a Close frame (never sent on the wire).
    pub const ABNORMAL: u16 = 1006;
    /// 1007: a message's data was inconsistent with its type (invalid UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;

    /// True for codes that may appear in a Close frame: 1000-1003, 1007-1014
    /// (1012-1014 are registered with IANA) and 3000-4999.
    pub const fn is_valid(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// True for codes an endpoint may send; the same set as [`is_valid`].
    pub const fn is_sendable(code: u16) -> bool {
        is_valid(code)
    }
}
