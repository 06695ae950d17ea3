//! What both Engine.IO roles use on a WebSocket: a data event taken as an
//! Engine.IO packet (decoded where it lies, or assembled from pieces), and the
//! result of feeding WebSocket bytes.

use super::Error;
use super::packet::{Data, Packet};
use crate::ws::{self, Assembler, MessageKind};

/// A WebSocket data event as an Engine.IO packet: a whole message is decoded
/// where it lies, pieces go through `assembler`. `Ok(None)`: more pieces to
/// come (or not a data event). Shared by both roles.
pub(crate) fn ws_packet<'a, A: AsMut<[u8]> + AsRef<[u8]>>(
    event: ws::Event<'a>,
    assembler: &'a mut Assembler<A>,
) -> Result<Option<Packet<'a>>, Error> {
    let ws::Event::Data { kind, data, fin } = event else {
        return Ok(None);
    };
    let message = if fin && assembler.pending_len() == 0 {
        match kind {
            MessageKind::Text => {
                ws::Message::Text(core::str::from_utf8(data).map_err(|_| Error::InvalidPacket)?)
            }
            MessageKind::Binary => ws::Message::Binary(data),
        }
    } else {
        match assembler.push(&event).map_err(Error::from)? {
            Some(m) => m,
            None => return Ok(None),
        }
    };
    Ok(Some(match message {
        ws::Message::Text(t) => Packet::decode_text(t)?,
        ws::Message::Binary(b) => Packet::Message(Data::Binary(b)),
    }))
}

/// The result of [`Session::handle_ws_input`](super::Session::handle_ws_input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WsInput<'a> {
    /// Bytes consumed; feed the rest next.
    pub consumed: usize,
    /// A message, borrowed from the input or the assembler.
    pub message: Option<Data<'a>>,
}

#[cfg(all(feature = "deflate", feature = "alloc"))]
pub(crate) use self::deflate::{Deflate, DeflateCtx, Outcome, ws_input_deflate};

/// permessage-deflate on an Engine.IO WebSocket, shared by both roles
/// (features `deflate` and `alloc`).
///
/// Incoming messages are inflated through a small stack buffer into the
/// caller's assembler (a compressed message is never available where it lies
/// in the input), so a session that negotiated compression assembles every
/// message, compressed or not, and hands it out from the assembler.
/// Outgoing messages of at least the threshold are compressed when they are
/// queued, in queue order (which is the order the peer inflates them in), and
/// the queue keeps the compressed bytes: a frame then streams out through any
/// `out` as an uncompressed one does.
#[cfg(all(feature = "deflate", feature = "alloc"))]
mod deflate {
    use alloc::boxed::Box;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::super::Error;
    use super::super::packet::{Data, Packet};
    use crate::entropy::Entropy;
    use crate::time::Instant;
    use crate::ws::deflate::{Agreed, Context, window_len};
    use crate::ws::{self, Assembler};

    /// The compression state of one WebSocket, on the heap.
    pub(crate) type DeflateCtx = Context<Vec<u8>, Vec<u8>, Vec<u16>>;

    /// Entries of the compressor's hash table (8 KiB).
    const HASH_LEN: usize = 4096;
    /// The stack buffer inflated bytes pass through on their way to the
    /// assembler.
    const INFLATE_CHUNK: usize = 512;

    /// A WebSocket's permessage-deflate context and the threshold under
    /// which messages go out uncompressed.
    pub(crate) struct Deflate {
        pub(crate) ctx: DeflateCtx,
        pub(crate) threshold: usize,
    }

    /// The agreement and the threshold, not the windows' bytes.
    impl core::fmt::Debug for Deflate {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Deflate")
                .field("agreed", self.ctx.agreed())
                .field("threshold", &self.threshold)
                .finish_non_exhaustive()
        }
    }

    impl Deflate {
        /// Windows of the agreed sizes, from the heap.
        pub(crate) fn new(agreed: Agreed, threshold: usize) -> Result<Box<Self>, Error> {
            let ctx = Context::new(
                agreed,
                vec![0; window_len(agreed.receive_window_bits)],
                vec![0; window_len(agreed.send_window_bits)],
                vec![0; HASH_LEN],
            )
            .map_err(|_| Error::InvalidState)?;
            Ok(Box::new(Deflate { ctx, threshold }))
        }
    }

    /// What [`ws_input_deflate`] found.
    pub(crate) enum Outcome<'a> {
        /// Nothing for the Engine.IO layer (more bytes needed, a control
        /// frame, a piece of a message).
        Nothing,
        /// The peer's Close frame.
        Close,
        /// A whole message, as a packet.
        Packet(Packet<'a>),
        /// A message that breaks Engine.IO (or the assembler's limit).
        Invalid(Error),
    }

    /// Feeds WebSocket bytes to a connection that negotiated compression,
    /// until a message is whole, a control frame or the Close arrives, or
    /// the input is used up. Returns the bytes consumed and what came of
    /// them; an error only when the WebSocket itself failed (its close frame,
    /// 1007 for bad compressed data or 1009 for a message inflated past the
    /// limit, is then queued).
    pub(crate) fn ws_input_deflate<'a, E, A>(
        conn: &mut ws::Connection<E>,
        z: &mut Deflate,
        now: Instant,
        input: &'a mut [u8],
        assembler: &'a mut Assembler<A>,
    ) -> Result<(usize, Outcome<'a>), ws::Error>
    where
        E: Entropy,
        A: AsMut<[u8]> + AsRef<[u8]>,
    {
        let mut buf = [0u8; INFLATE_CHUNK];
        let mut pos = 0;
        let total = input.len();
        // One call that neither consumed nor said anything while the decoder
        // claimed to hold output: a second would not do better.
        let mut stalled = false;
        loop {
            let r = conn.handle_input_deflate(now, &mut input[pos..], &mut z.ctx, &mut buf)?;
            pos += r.consumed;
            if r.consumed > 0 || r.event.is_some() {
                stalled = false;
            }
            let event = match r.event {
                // A frame header read, or the decoder still holds output:
                // go on while that makes progress.
                None if r.consumed > 0 && (pos < total || conn.has_pending_data()) => {
                    continue;
                }
                None if r.consumed == 0 && conn.has_pending_data() && !stalled => {
                    stalled = true;
                    continue;
                }
                None => return Ok((pos, Outcome::Nothing)),
                Some(ws::Event::Close { .. }) => return Ok((pos, Outcome::Close)),
                Some(ev @ ws::Event::Data { .. }) => ev,
                Some(_) => return Ok((pos, Outcome::Nothing)),
            };
            let ws::Event::Data { fin, .. } = event else {
                return Ok((pos, Outcome::Nothing));
            };
            if !fin {
                if let Err(e) = assembler.push(&event) {
                    return Ok((pos, Outcome::Invalid(Error::from(e))));
                }
                continue;
            }
            let outcome = match assembler.push(&event) {
                Ok(Some(ws::Message::Text(t))) => match Packet::decode_text(t) {
                    Ok(p) => Outcome::Packet(p),
                    Err(e) => Outcome::Invalid(e),
                },
                Ok(Some(ws::Message::Binary(b))) => {
                    Outcome::Packet(Packet::Message(Data::Binary(b)))
                }
                Ok(None) => Outcome::Nothing,
                Err(e) => Outcome::Invalid(Error::from(e)),
            };
            return Ok((pos, outcome));
        }
    }
}
