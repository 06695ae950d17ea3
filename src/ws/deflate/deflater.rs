//! A streaming DEFLATE (RFC 1951) encoder over a caller-lent window and hash
//! table.
//!
//! LZ77 is greedy: at each position the three next bytes are hashed into a
//! bucket of the table that holds the last four positions with that hash
//! (`u16` each, no chains: the table is all the memory), the longest match
//! among them is taken, and every candidate is checked byte by byte, so a
//! stale or colliding entry can cost a miss but never a wrong match. Matches reach back at most
//! the window (2^bits bytes, the size the peer's decoder agreed to) and never
//! before the last reset. Symbols go out in one fixed-Huffman block per
//! message, closed by a sync flush whose `00 00 ff ff` is left out (RFC 7692
//! section 7.2.1). [`Deflater::compress_message`] rewrites a message that did
//! not shrink as stored blocks, so a message never grows by more than a few
//! bytes.

use super::inflater::Progress;
use super::{DIST_BASE, DIST_EXTRA, InflateError, LEN_BASE, LEN_EXTRA, MAX_WINDOW, MIN_WINDOW};

/// Longest match DEFLATE can express.
const MAX_MATCH: usize = 258;

#[derive(Clone, Debug)]
struct Core {
    /// Window size - 1.
    mask: usize,
    /// Number of buckets - 1.
    hmask: usize,
    /// Entries per bucket (1 to 4).
    ways: usize,
    /// Position of the next input byte since creation (wrapping).
    pos: usize,
    /// Bytes of history usable by matches (at most the window size).
    hist: usize,
    /// The farthest back a match may refer.
    max_dist: usize,
    bits: u64,
    nbits: u32,
    /// A fixed-Huffman block is open.
    in_block: bool,
    /// `finish` has written its bits and only flushes them now.
    flushing: bool,
}

/// The bit-reversed fixed Huffman code of a literal/length symbol, and its length.
fn fixed_lit(sym: u16) -> (u32, u32) {
    let s = u32::from(sym);
    let (code, len) = match sym {
        0..=143 => (0x30 + s, 8),
        144..=255 => (0x190 + s - 144, 9),
        256..=279 => (s - 256, 7),
        _ => (0xc0 + s - 280, 8),
    };
    (code.reverse_bits() >> (32 - len), len)
}

/// The index of the largest `base` entry not above `v`.
fn bucket(base: &[u16], v: u16) -> usize {
    base.iter().rposition(|&b| b <= v).unwrap_or(0)
}

impl Core {
    #[inline]
    fn put(&mut self, v: u32, n: u32) {
        self.bits |= u64::from(v) << self.nbits;
        self.nbits += n;
    }

    #[inline]
    fn flush(&mut self, out: &mut [u8], op: &mut usize) {
        while self.nbits >= 8 && *op < out.len() {
            out[*op] = self.bits as u8;
            *op += 1;
            self.bits >>= 8;
            self.nbits -= 8;
        }
    }

    fn literal(&mut self, b: u8) {
        let (c, l) = fixed_lit(u16::from(b));
        self.put(c, l);
    }

    fn matched(&mut self, len: usize, dist: usize) {
        let (len, dist) = (len as u16, dist as u16);
        let li = bucket(&LEN_BASE, len);
        let (c, l) = fixed_lit(257 + li as u16);
        self.put(c, l);
        self.put(u32::from(len - LEN_BASE[li]), u32::from(LEN_EXTRA[li]));
        let di = bucket(&DIST_BASE, dist);
        self.put((di as u32).reverse_bits() >> 27, 5);
        self.put(u32::from(dist - DIST_BASE[di]), u32::from(DIST_EXTRA[di]));
    }

    /// The first entry of the bucket of the three bytes at `b`.
    #[inline]
    fn bucket(&self, b: &[u8]) -> usize {
        let x = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        ((x.wrapping_mul(0x9e37_79b1) >> 15) as usize & self.hmask) * self.ways
    }

    /// Records the current position as the newest entry of bucket `at`.
    #[inline]
    fn insert(&self, head: &mut [u16], at: usize) {
        // By hand: a `copy_within` of three entries is a library call per byte.
        for k in (1..self.ways).rev() {
            head[at + k] = head[at + k - 1];
        }
        head[at] = self.pos as u16;
    }

    /// The byte `d` back from `rest[l]`: in the window, or in `rest` itself.
    #[inline]
    fn byte_back(&self, win: &[u8], rest: &[u8], d: usize, l: usize) -> u8 {
        if l < d {
            win[self.pos.wrapping_sub(d - l) & self.mask]
        } else {
            rest[l - d]
        }
    }

    /// The length of the match `d` bytes back for `rest` (up to `max`).
    #[inline]
    fn match_len(&self, win: &[u8], rest: &[u8], d: usize, max: usize) -> usize {
        let mut l = 0;
        while l < max && self.byte_back(win, rest, d, l) == rest[l] {
            l += 1;
        }
        l
    }

    /// Records `b` as the byte at `pos` in the window.
    #[inline]
    fn push(&mut self, win: &mut [u8], b: u8) {
        win[self.pos & self.mask] = b;
        self.pos = self.pos.wrapping_add(1);
        if self.hist <= self.mask {
            self.hist += 1;
        }
    }

    fn run(&mut self, win: &mut [u8], head: &mut [u16], input: &[u8], out: &mut [u8]) -> Progress {
        let (mut ip, mut op) = (0, 0);
        if !self.in_block {
            // BFINAL 0, BTYPE 01 (fixed Huffman).
            self.put(0b010, 3);
            self.in_block = true;
        }
        loop {
            self.flush(out, &mut op);
            if self.nbits > 32 {
                return Progress {
                    consumed: ip,
                    written: op,
                    output_full: true,
                };
            }
            if ip == input.len() {
                return Progress {
                    consumed: ip,
                    written: op,
                    output_full: false,
                };
            }
            let rest = &input[ip..];
            let (mut len, mut dist) = (0, 0);
            if rest.len() >= 3 {
                let at = self.bucket(rest);
                let max = rest.len().min(MAX_MATCH);
                for &cand in &head[at..at + self.ways] {
                    let d = usize::from((self.pos as u16).wrapping_sub(cand));
                    if d == 0 || d > self.hist || d > self.max_dist {
                        continue;
                    }
                    // A candidate that differs at the best length so far cannot beat it.
                    if len > 0 && len < max && self.byte_back(win, rest, d, len) != rest[len] {
                        continue;
                    }
                    let l = self.match_len(win, rest, d, max);
                    if l > len {
                        (len, dist) = (l, d);
                    }
                }
                if len < 3 {
                    len = 0;
                }
                self.insert(head, at);
            }
            if len == 0 {
                self.literal(rest[0]);
                self.push(win, rest[0]);
                ip += 1;
                continue;
            }
            self.matched(len, dist);
            for k in 0..len {
                if k > 0 && rest.len() - k >= 3 {
                    let at = self.bucket(&rest[k..]);
                    self.insert(head, at);
                }
                self.push(win, rest[k]);
            }
            ip += len;
        }
    }

    fn finish(&mut self, out: &mut [u8]) -> (usize, bool) {
        let mut op = 0;
        self.flush(out, &mut op);
        if !self.flushing {
            if self.nbits > 40 {
                return (op, false);
            }
            if !self.in_block {
                self.put(0b010, 3);
            }
            // End of block, then an empty stored block (BFINAL 0, BTYPE 00)
            // padded to a byte; its LEN and NLEN (00 00 ff ff) are left out.
            self.put(0, 7 + 3);
            self.nbits += (8 - self.nbits % 8) % 8;
            self.flushing = true;
            self.in_block = false;
            self.flush(out, &mut op);
        }
        if self.nbits > 0 {
            return (op, false);
        }
        self.flushing = false;
        (op, true)
    }
}

/// A streaming DEFLATE encoder for permessage-deflate, with its window (`W`:
/// `[u8; N]`, `&mut [u8]`, ...) and hash table (`H`: `[u16; N]`, ...) in
/// storage the caller lends.
///
/// Either compress a whole message with
/// [`compress_message`](Self::compress_message), or stream it with
/// [`compress`](Self::compress) and end it with [`finish`](Self::finish).
/// After a message, call [`reset`](Self::reset) when this side does not take
/// context over.
#[derive(Clone, Debug)]
pub struct Deflater<W, H> {
    window: W,
    head: H,
    core: Core,
}

/// The largest power of two not above `n` (n >= 1).
fn floor_pow2(n: usize) -> usize {
    1 << (usize::BITS - 1 - n.leading_zeros())
}

impl<W: AsMut<[u8]>, H: AsMut<[u16]>> Deflater<W, H> {
    /// An encoder whose window is the largest power of two, at most 32 KiB,
    /// that fits in `window`, and whose hash table is the largest power of two
    /// that fits in `head`. The window must not be larger than the peer
    /// accepted (2^`max_window_bits`); fewer than 512 bytes of window or an
    /// empty `head` give [`InflateError::WindowTooSmall`].
    pub fn new(mut window: W, mut head: H) -> Result<Self, InflateError> {
        let wl = window.as_mut().len();
        let hl = head.as_mut().len();
        if wl < MIN_WINDOW || hl == 0 {
            return Err(InflateError::WindowTooSmall);
        }
        let ways = floor_pow2(hl.min(1 << 16)).min(4);
        Ok(Deflater {
            window,
            head,
            core: Core {
                mask: floor_pow2(wl.min(MAX_WINDOW)) - 1,
                hmask: floor_pow2(hl.min(1 << 16)) / ways - 1,
                ways,
                pos: 0,
                hist: 0,
                max_dist: MAX_WINDOW,
                bits: 0,
                nbits: 0,
                in_block: false,
                flushing: false,
            },
        })
    }

    /// The window size in bytes (a power of two from 512 to 32768).
    pub fn window_size(&self) -> usize {
        self.core.mask + 1
    }

    /// Limits how far back matches refer (for a peer that asked for an 8-bit,
    /// 256-byte window); the window size is the limit otherwise.
    pub fn limit_distance(&mut self, max: usize) {
        self.core.max_dist = max;
    }

    /// Forgets the history (this side's `*_no_context_takeover`). Call between
    /// messages only.
    pub fn reset(&mut self) {
        self.core.hist = 0;
    }

    /// The output room [`compress_message`](Self::compress_message) needs for
    /// a message of `len` bytes.
    pub const fn bound(len: usize) -> usize {
        super::compress_bound(len)
    }

    /// Compresses as much of `input` as `out` has room for, as part of the
    /// current message. With `output_full == false` every byte was consumed.
    pub fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Progress {
        let win = self.window.as_mut();
        self.core.run(win, self.head.as_mut(), input, out)
    }

    /// Ends the current message with a sync flush, leaving out its final
    /// `00 00 ff ff`. Returns the bytes written and whether the message is
    /// complete; if not, call again with more room.
    pub fn finish(&mut self, out: &mut [u8]) -> (usize, bool) {
        self.core.finish(out)
    }

    /// Compresses a whole message into `out`, which must hold
    /// [`bound`](Self::bound)`(input.len())` bytes; returns the compressed
    /// length, or `None` (and nothing changed) when `out` is smaller or a
    /// streamed message is unfinished. A message that fixed Huffman codes
    /// would not shrink is written as stored blocks instead.
    pub fn compress_message(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
        if out.len() < Self::bound(input.len()) || self.core.in_block || self.core.nbits != 0 {
            return None;
        }
        let p = self.compress(input, out);
        let (n, _) = self.finish(&mut out[p.written..]);
        let fixed = p.written + n;
        let stored = input.len() + 5 * input.len().div_ceil(65535) + 1;
        if fixed <= stored {
            return Some(fixed);
        }
        // Stored blocks put the same bytes in the peer's window, so the
        // history kept above stays in step with the peer's.
        let mut o = 0;
        for chunk in input.chunks(65535) {
            let l = chunk.len() as u16;
            out[o] = 0;
            out[o + 1..o + 3].copy_from_slice(&l.to_le_bytes());
            out[o + 3..o + 5].copy_from_slice(&(!l).to_le_bytes());
            out[o + 5..o + 5 + chunk.len()].copy_from_slice(chunk);
            o += 5 + chunk.len();
        }
        out[o] = 0;
        Some(o + 1)
    }
}
