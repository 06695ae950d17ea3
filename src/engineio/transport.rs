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
    /// The call handled something although it consumed nothing: a control
    /// frame whose header an earlier call read was held until a pending pong
    /// went out, and is handled now. Call again with the same bytes; this is
    /// not "need more bytes".
    pub again: bool,
}

impl<'a> WsInput<'a> {
    /// The answer builder of both roles after the WebSocket consumed
    /// `consumed` bytes and did or did not hand over an event: `again` when
    /// an event came with nothing consumed and no message results.
    pub(crate) fn after(
        consumed: usize,
        event: bool,
    ) -> impl Fn(Option<Data<'a>>) -> Result<WsInput<'a>, Error> {
        move |message| {
            Ok(WsInput {
                consumed,
                again: consumed == 0 && event && message.is_none(),
                message,
            })
        }
    }
}

#[cfg(all(feature = "deflate", feature = "alloc"))]
pub(crate) use self::deflate::{Deflate, Outcome, ws_input_deflate};

/// permessage-deflate on an Engine.IO WebSocket, shared by both roles
/// (features `deflate` and `alloc`).
///
/// Each half takes its memory from the heap when it is first used, not when
/// the extension is negotiated: the decoder (its 2^bits window and about
/// 2.7 KiB of tables) when the first compressed message arrives, the encoder
/// (its window and an 8 KiB hash table) when the first message of at least
/// the threshold is sent. A session that never exchanges a large message
/// keeps a few dozen bytes.
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
    use crate::ws::deflate::{
        Agreed, Codec, Deflater, InflateError, Inflater, Progress, compress_bound, window_len,
    };
    use crate::ws::{self, Assembler};

    /// Entries of the compressor's hash table (8 KiB).
    const HASH_LEN: usize = 4096;
    /// The stack buffer inflated bytes pass through on their way to the
    /// assembler.
    const INFLATE_CHUNK: usize = 512;

    /// A WebSocket's permessage-deflate state: the agreement, the threshold
    /// under which messages go out uncompressed, and each direction's coder
    /// once used.
    pub(crate) struct Deflate {
        agreed: Agreed,
        pub(crate) threshold: usize,
        rx: Option<Box<Inflater<Vec<u8>>>>,
        tx: Option<Box<Deflater<Vec<u8>, Vec<u16>>>>,
    }

    /// The agreement, the threshold and what is allocated, not the windows'
    /// bytes.
    impl core::fmt::Debug for Deflate {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Deflate")
                .field("agreed", &self.agreed)
                .field("threshold", &self.threshold)
                .field("inflater", &self.rx.is_some())
                .field("deflater", &self.tx.is_some())
                .finish()
        }
    }

    impl Deflate {
        /// Nothing allocated yet.
        pub(crate) fn new(agreed: Agreed, threshold: usize) -> Self {
            Deflate {
                agreed,
                threshold,
                rx: None,
                tx: None,
            }
        }

        fn inflater(&mut self) -> Result<&mut Inflater<Vec<u8>>, InflateError> {
            if self.rx.is_none() {
                let window = vec![0; window_len(self.agreed.receive_window_bits)];
                self.rx = Some(Box::new(Inflater::new(window)?));
            }
            self.rx.as_deref_mut().ok_or(InflateError::WindowTooSmall)
        }

        fn deflater(&mut self) -> Option<&mut Deflater<Vec<u8>, Vec<u16>>> {
            if self.tx.is_none() {
                let window = vec![0; window_len(self.agreed.send_window_bits)];
                let mut d = Deflater::new(window, vec![0; HASH_LEN]).ok()?;
                d.limit_distance(self.agreed.send_max_distance);
                self.tx = Some(Box::new(d));
            }
            self.tx.as_deref_mut()
        }

        /// Compresses one message made of `parts` joined (without joining
        /// them) into `out`, which must hold [`compress_bound`] of their
        /// total length; `None` (and nothing changed) when it does not.
        /// Resets the compressor afterwards when this side does not take its
        /// context over.
        pub(crate) fn compress_parts(&mut self, parts: &[&[u8]], out: &mut [u8]) -> Option<usize> {
            let len: usize = parts.iter().map(|p| p.len()).sum();
            if out.len() < compress_bound(len) {
                return None;
            }
            let reset = self.agreed.send_reset;
            let d = self.deflater()?;
            let n = if let [one] = parts {
                d.compress_message(one, out)?
            } else {
                // Fixed Huffman codes never take more than the bound, so
                // every part goes in whole and the flush fits.
                let mut w = 0;
                for p in parts {
                    let mut at = 0;
                    while at < p.len() {
                        let r = d.compress(&p[at..], &mut out[w..]);
                        if r.consumed == 0 && r.written == 0 {
                            return None;
                        }
                        at += r.consumed;
                        w += r.written;
                    }
                }
                loop {
                    let (n, done) = d.finish(&mut out[w..]);
                    w += n;
                    if done {
                        break w;
                    }
                    if n == 0 {
                        return None;
                    }
                }
            };
            if reset {
                d.reset();
            }
            Some(n)
        }

        /// Forgets what was compressed so far (after a whole message only):
        /// the next message refers to nothing before it, which a peer that
        /// keeps its window can always inflate. For a message that did not
        /// shrink and goes out uncompressed instead (it then is in neither
        /// side's window).
        pub(crate) fn forget_sent(&mut self) {
            if let Some(d) = self.tx.as_deref_mut() {
                d.reset();
            }
        }
    }

    /// The connection's view: the decoder, made on first use.
    impl Codec for Deflate {
        fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, InflateError> {
            self.inflater()?.inflate(input, out)
        }

        fn inflate_error(&self) -> Option<InflateError> {
            self.rx.as_ref().and_then(|i| i.error())
        }

        fn finish(&mut self, out: &mut [u8]) -> Result<(usize, bool), InflateError> {
            let reset = self.agreed.receive_reset;
            let inflater = self.inflater()?;
            let r = inflater.finish(out)?;
            if r.1 && reset {
                inflater.reset();
            }
            Ok(r)
        }

        fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
            self.compress_parts(&[input], out)
        }
    }

    /// What [`ws_input_deflate`] found.
    pub(crate) enum Outcome<'a> {
        /// Nothing for the Engine.IO layer (more bytes needed, a piece of a
        /// message).
        Nothing,
        /// A control frame (ping, pong) was handled: nothing for the
        /// Engine.IO layer either, but not "need more bytes".
        Control,
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
            let r = conn.handle_input_codec(now, &mut input[pos..], z, &mut buf)?;
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
                Some(_) => return Ok((pos, Outcome::Control)),
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
