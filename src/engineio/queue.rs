//! The bounded send queue both Engine.IO roles keep in storage the caller
//! lends.

use super::Error;
use super::packet::{Data, Packet};
use crate::entropy::Entropy;
use crate::storage::Buffer;
use crate::ws::{self, MessageKind};

pub(crate) const TAG_TEXT: u8 = 0;
pub(crate) const TAG_BINARY: u8 = 1;
/// Bytes that are already whole WebSocket frames (final, unmasked: a server's),
/// one per Engine.IO packet, written to the WebSocket verbatim. Only a
/// session on the WebSocket transport queues them (a broadcast frames its
/// packets once for every such target); they never go out on polling.
pub(crate) const TAG_FRAMED: u8 = 2;
/// A text message compressed with the WebSocket's permessage-deflate
/// context (the `4` type digit included): sent as one frame with RSV1.
#[cfg(feature = "deflate")]
pub(crate) const TAG_Z_TEXT: u8 = 3;
/// A binary message compressed like [`TAG_Z_TEXT`].
#[cfg(feature = "deflate")]
pub(crate) const TAG_Z_BINARY: u8 = 4;
pub(crate) const ENTRY_HEADER: usize = 5;

/// The storage a message of `len` bytes takes: the entry header, plus the `4`
/// type digit a text entry keeps in front.
pub(crate) const fn cost(binary: bool, len: usize) -> usize {
    ENTRY_HEADER + len + if binary { 0 } else { 1 }
}

/// The send queue: entries `[tag][len: u32 LE][bytes]` in lent storage. Text
/// entries hold the encoded packet (`4hello`), binary entries the raw bytes,
/// framed entries whole WebSocket frames ([`TAG_FRAMED`]).
#[derive(Debug)]
pub(crate) struct Queue<B> {
    buf: B,
    head: usize,
    tail: usize,
}

impl<B: Buffer> Queue<B> {
    /// Makes room for an entry of `len` bytes at the tail.
    fn make_room(&mut self, len: usize) -> Result<(), Error> {
        let need = ENTRY_HEADER + len;
        let used = self.tail - self.head;
        if u32::try_from(len).is_err()
            || used + need > self.buf.max_len()
            || !self.buf.reserve(used + need)
        {
            return Err(Error::QueueFull);
        }
        let cap = self.buf.as_ref().len();
        if self.tail + need > cap {
            self.buf.as_mut().copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, tag: u8, parts: &[&[u8]]) -> Result<(), Error> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.make_room(len)?;
        let buf = self.buf.as_mut();
        buf[self.tail] = tag;
        buf[self.tail + 1..self.tail + ENTRY_HEADER].copy_from_slice(&(len as u32).to_le_bytes());
        let mut at = self.tail + ENTRY_HEADER;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.tail = at;
        Ok(())
    }

    pub(crate) fn front(&self) -> Option<(u8, &[u8])> {
        if self.head == self.tail {
            return None;
        }
        let buf = self.buf.as_ref();
        let tag = buf[self.head];
        let mut len = [0u8; 4];
        len.copy_from_slice(&buf[self.head + 1..self.head + ENTRY_HEADER]);
        let start = self.head + ENTRY_HEADER;
        Some((tag, &buf[start..start + u32::from_le_bytes(len) as usize]))
    }

    pub(crate) fn pop(&mut self) {
        if let Some((_, bytes)) = self.front() {
            self.head += ENTRY_HEADER + bytes.len();
            if self.head == self.tail {
                (self.head, self.tail) = (0, 0);
                self.buf.relax();
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        (self.head, self.tail) = (0, 0);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }
}

pub(crate) fn entry_packet(tag: u8, bytes: &[u8]) -> Packet<'_> {
    match tag {
        TAG_BINARY => return Packet::Message(Data::Binary(bytes)),
        TAG_TEXT => {}
        // Framed and compressed entries are queued only on the WebSocket
        // transport, which a session never leaves: not packets polling can
        // carry.
        _ => return Packet::Noop,
    }
    // Text entries are built from `&str` and an ASCII type digit.
    Packet::decode_text(core::str::from_utf8(bytes).unwrap_or("6")).unwrap_or(Packet::Noop)
}

impl<B: Buffer> Queue<B> {
    /// An empty queue over `buf`.
    pub(crate) fn new(buf: B) -> Self {
        Queue {
            buf,
            head: 0,
            tail: 0,
        }
    }

    /// Gives the storage back.
    pub(crate) fn into_inner(self) -> B {
        self.buf
    }

    /// Drops every entry, or every entry but the front one.
    pub(crate) fn discard(&mut self, keep_front: bool) {
        match self.front().map(|(_, b)| b.len()) {
            Some(len) if keep_front => self.tail = self.head + ENTRY_HEADER + len,
            _ => self.clear(),
        }
    }

    /// Every entry, front first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u8, &[u8])> + '_ {
        let buf = &self.buf.as_ref()[self.head..self.tail];
        let mut at = 0;
        core::iter::from_fn(move || {
            let header = buf.get(at..at + ENTRY_HEADER)?;
            let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let bytes = buf.get(at + ENTRY_HEADER..at + ENTRY_HEADER + len)?;
            at += ENTRY_HEADER + len;
            Some((header[0], bytes))
        })
    }

    /// Queues a message, compressed when `ctx` is given (a WebSocket that
    /// negotiated permessage-deflate) and the message is at least its
    /// threshold long, and the queue has room for the worst case; else as it
    /// is, which RFC 7692 always allows. Both roles queue through this.
    pub(crate) fn push_message(
        &mut self,
        tag: u8,
        parts: &[&[u8]],
        #[cfg(all(feature = "deflate", feature = "alloc"))] ctx: Option<
            &mut super::transport::Deflate,
        >,
    ) -> Result<(), Error> {
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        if let Some(z) = ctx
            && parts.iter().map(|p| p.len()).sum::<usize>() >= z.threshold
            && self.push_deflated(tag, parts, z).is_ok()
        {
            return Ok(());
        }
        self.push(tag, parts)
    }

    /// Queues a message ([`TAG_TEXT`] with its `4`, or [`TAG_BINARY`], as
    /// `parts` joined) compressed with `ctx`, as [`TAG_Z_TEXT`] or
    /// [`TAG_Z_BINARY`]; a message that does not shrink is queued as it is
    /// (and the compressor forgets it, since the peer's window will not hold
    /// it), so an entry never takes more than the uncompressed one would and
    /// callers that checked [`cost`] for several messages still find room.
    /// [`Error::QueueFull`] when the queue has no room for the worst case
    /// ([`compress_bound`](crate::ws::deflate::compress_bound)); then `ctx` is
    /// untouched and the message may go uncompressed.
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    pub(crate) fn push_deflated(
        &mut self,
        tag: u8,
        parts: &[&[u8]],
        ctx: &mut super::transport::Deflate,
    ) -> Result<(), Error> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let room = crate::ws::deflate::compress_bound(len);
        self.make_room(room)?;
        let at = self.tail + ENTRY_HEADER;
        let buf = self.buf.as_mut();
        let (tag, n) = match ctx.compress_parts(parts, &mut buf[at..at + room]) {
            Some(n) if n < len => (
                if tag == TAG_BINARY {
                    TAG_Z_BINARY
                } else {
                    TAG_Z_TEXT
                },
                n,
            ),
            _ => {
                ctx.forget_sent();
                let mut w = at;
                for p in parts {
                    buf[w..w + p.len()].copy_from_slice(p);
                    w += p.len();
                }
                (tag, len)
            }
        };
        buf[self.tail] = tag;
        buf[self.tail + 1..at].copy_from_slice(&(n as u32).to_le_bytes());
        self.tail = at + n;
        Ok(())
    }

    /// Writes the front entry, or its next piece, as one WebSocket frame into
    /// `out` (a frame may take several calls when `out` is small; `started`
    /// remembers that its header is out) and pops it once it is all written.
    /// A framed entry ([`TAG_FRAMED`]) is copied as it is, its bytes accounted
    /// on `conn` with `begin_preframed` so that nothing comes between them.
    /// `None` when the queue is empty; `Some((written, popped))` otherwise.
    pub(crate) fn write_front_frame<E: Entropy>(
        &mut self,
        conn: &mut ws::Connection<E>,
        started: &mut bool,
        out: &mut [u8],
    ) -> Result<Option<(usize, bool)>, ws::Error> {
        let Some((tag, bytes)) = self.front() else {
            return Ok(None);
        };
        let mut n = 0;
        if !*started && tag == TAG_FRAMED {
            if out.is_empty() {
                return Err(ws::Error::BufferTooSmall { required: 1 });
            }
            conn.begin_preframed(bytes.len() as u64)?;
            *started = true;
        } else if !*started {
            #[cfg(feature = "deflate")]
            let (binary, compressed) = (
                tag == TAG_BINARY || tag == TAG_Z_BINARY,
                tag == TAG_Z_TEXT || tag == TAG_Z_BINARY,
            );
            #[cfg(not(feature = "deflate"))]
            let binary = tag == TAG_BINARY;
            let kind = if binary {
                MessageKind::Binary
            } else {
                MessageKind::Text
            };
            let len = bytes.len() as u64;
            #[cfg(feature = "deflate")]
            {
                n = if compressed {
                    conn.begin_compressed_frame(kind, len, out)?
                } else {
                    conn.begin_frame(kind, len, true, out)?
                };
            }
            #[cfg(not(feature = "deflate"))]
            {
                n = conn.begin_frame(kind, len, true, out)?;
            }
            *started = true;
        }
        // An empty message is its header alone.
        if conn.payload_remaining() > 0 {
            let from = bytes.len() - conn.payload_remaining() as usize;
            n += conn.send_payload(&bytes[from..], &mut out[n..])?;
        }
        let done = conn.payload_remaining() == 0;
        if done {
            *started = false;
            self.pop();
        }
        Ok(Some((n, done)))
    }

    /// Bytes free.
    pub(crate) fn free(&self) -> usize {
        self.buf.max_len() - (self.tail - self.head)
    }
}

/// The parts of a message packet: `4` and `parts` (at most 7), and how many
/// slots are used.
pub(crate) fn text_parts<'p>(parts: &[&'p str]) -> Result<([&'p [u8]; 8], usize), Error> {
    let mut all: [&[u8]; 8] = [&[]; 8];
    if parts.len() + 1 > all.len() {
        return Err(Error::InvalidState);
    }
    all[0] = b"4";
    for (slot, p) in all[1..].iter_mut().zip(parts) {
        *slot = p.as_bytes();
    }
    Ok((all, parts.len() + 1))
}
