//! A streaming DEFLATE (RFC 1951) decoder over a caller-lent window.
//!
//! The decoder is a resumable state machine: every step (a block header, one
//! code length, one Huffman symbol, its extra bits, a piece of a back-reference
//! or of a stored block) either completes or leaves the decoder exactly where
//! it was, so input and output may be split anywhere. Input bytes are pulled
//! into a small bit buffer only when a step needs them.
//!
//! Huffman codes are decoded canonically from the count of codes of each
//! length and the symbols sorted by code (RFC 1951 section 3.2.2): codes of up
//! to 8 bits (most of them) through a 256-entry table, longer ones one bit at
//! a time. About 2.2 KiB of tables instead of the usual lookup tables of
//! several KiB more, which suits a microcontroller.
//!
//! Every output byte is also written to the window ring (2^bits bytes), so a
//! back-reference can reach data handed out in earlier calls or, with context
//! takeover, in earlier messages.

use super::{DIST_BASE, DIST_EXTRA, InflateError, LEN_BASE, LEN_EXTRA, MAX_WINDOW, MIN_WINDOW};

/// The order in which the code length code lengths arrive (RFC 1951 3.2.7).
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The tail a permessage-deflate sender strips and the receiver appends: an
/// empty stored block (RFC 7692 section 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A canonical Huffman code: how many codes there are of each length, and
/// the symbols in code order.
/// Codes of up to this many bits are decoded by one table lookup.
const FAST_BITS: u32 = 8;

#[derive(Clone, Debug)]
struct Huffman<const N: usize> {
    count: [u16; 16],
    symbol: [u16; N],
    /// By the next `FAST_BITS` input bits: `symbol << 4 | length` of the code
    /// they start with, 0 when it is longer.
    fast: [u16; 1 << FAST_BITS],
}

impl<const N: usize> Huffman<N> {
    const fn new() -> Self {
        Huffman {
            count: [0; 16],
            symbol: [0; N],
            fast: [0; 1 << FAST_BITS],
        }
    }

    /// Builds the code from the code length of each symbol. An over-subscribed
    /// set is an error; an incomplete one is allowed only when it has a single
    /// one-bit code (RFC 1951 allows one distance code) or, if
    /// `allow_empty`, no codes at all.
    fn build(&mut self, lengths: &[u8], allow_empty: bool) -> Result<(), InflateError> {
        self.count = [0; 16];
        for &l in lengths {
            self.count[usize::from(l)] += 1;
        }
        let used = lengths.len() - usize::from(self.count[0]);
        self.count[0] = 0;
        if used == 0 {
            return if allow_empty {
                Ok(())
            } else {
                Err(InflateError::InvalidCodeLengths)
            };
        }
        let mut left: i32 = 1;
        let mut max = 0;
        for len in 1..16 {
            left <<= 1;
            left -= i32::from(self.count[len]);
            if left < 0 {
                return Err(InflateError::InvalidCodeLengths);
            }
            if self.count[len] != 0 {
                max = len;
            }
        }
        if left > 0 && max != 1 {
            return Err(InflateError::InvalidCodeLengths);
        }
        let mut offs = [0u16; 16];
        for len in 1..15 {
            offs[len + 1] = offs[len] + self.count[len];
        }
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let o = &mut offs[usize::from(l)];
                self.symbol[usize::from(*o)] = sym as u16;
                *o += 1;
            }
        }
        // The canonical codes (RFC 1951 section 3.2.2), bit-reversed as they
        // arrive, fill the fast table.
        self.fast = [0; 1 << FAST_BITS];
        let mut next = [0u32; 16];
        let mut code = 0u32;
        for (n, &c) in next[1..].iter_mut().zip(&self.count[..15]) {
            code = (code + u32::from(c)) << 1;
            *n = code;
        }
        for (sym, &l) in lengths.iter().enumerate() {
            let l = u32::from(l);
            if l == 0 {
                continue;
            }
            let c = next[l as usize];
            next[l as usize] += 1;
            if l <= FAST_BITS {
                let mut i = (c.reverse_bits() >> (32 - l)) as usize;
                while i < 1 << FAST_BITS {
                    self.fast[i] = (sym as u16) << 4 | l as u16;
                    i += 1 << l;
                }
            }
        }
        Ok(())
    }

    /// Decodes one symbol from the low `nbits` bits of `bits` without consuming
    /// them: `Ok(Some((symbol, length)))`, or `Ok(None)` if more bits are needed.
    fn decode(&self, bits: u64, nbits: u32) -> Result<Option<(u16, u32)>, InflateError> {
        let e = self.fast[(bits & ((1 << FAST_BITS) - 1)) as usize];
        if e != 0 && u32::from(e & 15) <= nbits {
            return Ok(Some((e >> 4, u32::from(e & 15))));
        }
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16u32 {
            if len > nbits {
                return Ok(None);
            }
            code |= ((bits >> (len - 1)) & 1) as i32;
            let count = i32::from(self.count[len as usize]);
            if code - first < count {
                let at = (index + code - first) as usize;
                return Ok(Some((self.symbol[at], len)));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::InvalidCode)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting the 3-bit header of the next block.
    Header,
    /// A stored block: expecting LEN and NLEN.
    StoredLen,
    /// A stored block with this many bytes left.
    Stored(u16),
    /// A dynamic block: expecting HLIT, HDIST, HCLEN.
    DynCounts,
    /// Reading code length code lengths: `i` of them read.
    DynClen(u8),
    /// Reading code lengths: `i` of them set.
    DynLens(u16),
    /// Expecting a literal/length symbol.
    Symbol,
    /// Expecting the extra bits of length symbol `sym`.
    LenExtra(u16),
    /// Expecting a distance symbol for a match of `len`.
    DistSym(u16),
    /// Expecting the extra bits of distance symbol `dsym`, match length `len`.
    DistExtra(u16, u16),
    /// Copying `len` bytes from `dist` back.
    Copy(u16, u16),
    /// A block with BFINAL set has ended: input up to the end of the message
    /// is ignored.
    Done,
}

/// Why a decoding run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    NeedInput,
    OutputFull,
}

/// The state of a decoder, apart from its window.
#[derive(Clone, Debug)]
struct Core {
    state: State,
    bits: u64,
    nbits: u32,
    /// Window size - 1 (a power of two minus one).
    mask: usize,
    /// Next write position in the window.
    wpos: usize,
    /// Bytes of history in the window (at most its size).
    hist: usize,
    lit: Huffman<288>,
    dist: Huffman<32>,
    /// Dynamic header: counts, and the code lengths read so far (the code
    /// length code's lengths live in the first 19).
    hlit: u16,
    hdist: u8,
    hclen: u8,
    lens: [u8; 320],
    clen: Huffman<19>,
    /// True after a block with BFINAL set began.
    last: bool,
    /// Bytes of the tail fed by `finish`.
    tail: u8,
    /// Bytes written by the current `run`.
    produced: usize,
}

impl Core {
    /// Pulls one input byte into the bit buffer; false if there is none.
    #[inline]
    fn pull(&mut self, input: &[u8], ip: &mut usize) -> bool {
        match input.get(*ip) {
            Some(&b) => {
                self.bits |= u64::from(b) << self.nbits;
                self.nbits += 8;
                *ip += 1;
                true
            }
            None => false,
        }
    }

    /// Makes `n` bits available, pulling input as needed.
    #[inline]
    fn need(&mut self, n: u32, input: &[u8], ip: &mut usize) -> bool {
        while self.nbits < n {
            if !self.pull(input, ip) {
                return false;
            }
        }
        true
    }

    #[inline]
    fn take(&mut self, n: u32) -> u32 {
        let v = (self.bits & ((1u64 << n) - 1)) as u32;
        self.bits >>= n;
        self.nbits -= n;
        v
    }

    /// Decodes one symbol of the literal/length (`which == 0`), distance (1) or
    /// code length (2) code, pulling input as needed.
    #[inline]
    fn symbol(
        &mut self,
        which: u8,
        input: &[u8],
        ip: &mut usize,
    ) -> Result<Option<u16>, InflateError> {
        loop {
            let r = match which {
                0 => self.lit.decode(self.bits, self.nbits)?,
                1 => self.dist.decode(self.bits, self.nbits)?,
                _ => self.clen.decode(self.bits, self.nbits)?,
            };
            match r {
                Some((sym, len)) => {
                    self.take(len);
                    return Ok(Some(sym));
                }
                None if self.pull(input, ip) => {}
                None => return Ok(None),
            }
        }
    }

    #[inline]
    fn put(&mut self, win: &mut [u8], out: &mut [u8], op: &mut usize, b: u8) {
        out[*op] = b;
        *op += 1;
        self.produced = *op;
        win[self.wpos] = b;
        self.wpos = (self.wpos + 1) & self.mask;
        if self.hist <= self.mask {
            self.hist += 1;
        }
    }

    /// `put` for many bytes at once.
    fn put_slice(&mut self, win: &mut [u8], out: &mut [u8], op: &mut usize, bytes: &[u8]) {
        let total = bytes.len();
        out[*op..*op + total].copy_from_slice(bytes);
        *op += total;
        self.produced = *op;
        // Only the last window's worth stays in the ring.
        let size = self.mask + 1;
        let tail = &bytes[total.saturating_sub(size)..];
        let at = (self.wpos + total - tail.len()) & self.mask;
        let first = tail.len().min(size - at);
        win[at..at + first].copy_from_slice(&tail[..first]);
        win[..tail.len() - first].copy_from_slice(&tail[first..]);
        self.wpos = (self.wpos + total) & self.mask;
        self.hist = (self.hist + total).min(size);
    }

    fn fixed_tables(&mut self) {
        let mut l = [0u8; 288];
        l[..144].fill(8);
        l[144..256].fill(9);
        l[256..280].fill(7);
        l[280..].fill(8);
        // The fixed codes are complete by construction.
        let _ = self.lit.build(&l, false);
        // All 32 distance codes, so 30 and 31 decode (and are refused).
        let _ = self.dist.build(&[5; 32], false);
    }

    /// Runs until the input runs out or the output is full. On an error,
    /// `produced` holds the bytes written before it.
    fn run(
        &mut self,
        win: &mut [u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize, Stop), InflateError> {
        self.produced = 0;
        let (mut ip, mut op) = (0, 0);
        macro_rules! need {
            ($n:expr) => {
                if !self.need($n, input, &mut ip) {
                    return Ok((ip, op, Stop::NeedInput));
                }
            };
        }
        macro_rules! sym {
            ($which:expr) => {
                match self.symbol($which, input, &mut ip)? {
                    Some(s) => s,
                    None => return Ok((ip, op, Stop::NeedInput)),
                }
            };
        }
        loop {
            match self.state {
                State::Header => {
                    need!(3);
                    let h = self.take(3);
                    self.last = h & 1 != 0;
                    self.state = match h >> 1 {
                        0 => {
                            let drop = self.nbits % 8;
                            self.take(drop);
                            State::StoredLen
                        }
                        1 => {
                            self.fixed_tables();
                            State::Symbol
                        }
                        2 => State::DynCounts,
                        _ => return Err(InflateError::InvalidBlockType),
                    };
                }
                State::StoredLen => {
                    need!(32);
                    let len = self.take(16) as u16;
                    let nlen = self.take(16) as u16;
                    if len != !nlen {
                        return Err(InflateError::InvalidStoredLength);
                    }
                    self.state = State::Stored(len);
                }
                State::Stored(0) => self.end_block(),
                State::Stored(left) => {
                    if op == out.len() {
                        return Ok((ip, op, Stop::OutputFull));
                    }
                    if self.nbits >= 8 {
                        let b = self.take(8) as u8;
                        self.put(win, out, &mut op, b);
                        self.state = State::Stored(left - 1);
                        continue;
                    }
                    let n = usize::from(left).min(input.len() - ip).min(out.len() - op);
                    if n == 0 {
                        return Ok((ip, op, Stop::NeedInput));
                    }
                    self.put_slice(win, out, &mut op, &input[ip..ip + n]);
                    ip += n;
                    self.state = State::Stored(left - n as u16);
                }
                State::DynCounts => {
                    need!(14);
                    self.hlit = self.take(5) as u16 + 257;
                    self.hdist = self.take(5) as u8 + 1;
                    self.hclen = self.take(4) as u8 + 4;
                    if self.hlit > 286 || self.hdist > 30 {
                        return Err(InflateError::InvalidCodeLengths);
                    }
                    self.lens = [0; 320];
                    self.state = State::DynClen(0);
                }
                State::DynClen(i) if i == self.hclen => {
                    let mut l = [0u8; 19];
                    for (k, &at) in CLEN_ORDER.iter().enumerate() {
                        l[at] = self.lens[k];
                    }
                    self.clen.build(&l, false)?;
                    self.lens = [0; 320];
                    self.state = State::DynLens(0);
                }
                State::DynClen(i) => {
                    need!(3);
                    self.lens[usize::from(i)] = self.take(3) as u8;
                    self.state = State::DynClen(i + 1);
                }
                State::DynLens(i) => {
                    let total = self.hlit + u16::from(self.hdist);
                    if i == total {
                        let (hlit, total) = (usize::from(self.hlit), usize::from(total));
                        if self.lens[256] == 0 {
                            return Err(InflateError::InvalidCodeLengths);
                        }
                        let (l, d) = self.lens[..total].split_at(hlit);
                        self.lit.build(l, false)?;
                        self.dist.build(d, true)?;
                        self.state = State::Symbol;
                        continue;
                    }
                    // One step reads the symbol and its extra bits together:
                    // peek the symbol, then make sure the extra bits are here.
                    let (sym, slen) = loop {
                        match self.clen.decode(self.bits, self.nbits)? {
                            Some(x) => break x,
                            None if self.pull(input, &mut ip) => {}
                            None => return Ok((ip, op, Stop::NeedInput)),
                        }
                    };
                    let extra = match sym {
                        16 => 2,
                        17 => 3,
                        18 => 7,
                        _ => 0,
                    };
                    need!(slen + extra);
                    self.take(slen);
                    let (value, count) = match sym {
                        0..=15 => (sym as u8, 1),
                        16 => {
                            if i == 0 {
                                return Err(InflateError::InvalidCodeLengths);
                            }
                            (self.lens[usize::from(i) - 1], 3 + self.take(2) as u16)
                        }
                        17 => (0, 3 + self.take(3) as u16),
                        _ => (0, 11 + self.take(7) as u16),
                    };
                    if i + count > total {
                        return Err(InflateError::InvalidCodeLengths);
                    }
                    self.lens[usize::from(i)..usize::from(i + count)].fill(value);
                    self.state = State::DynLens(i + count);
                }
                State::Symbol => {
                    if op == out.len() {
                        return Ok((ip, op, Stop::OutputFull));
                    }
                    let s = sym!(0);
                    match s {
                        0..=255 => self.put(win, out, &mut op, s as u8),
                        256 => self.end_block(),
                        257..=285 => self.state = State::LenExtra(s - 257),
                        _ => return Err(InflateError::InvalidCode),
                    }
                }
                State::LenExtra(s) => {
                    let e = u32::from(LEN_EXTRA[usize::from(s)]);
                    need!(e);
                    let len = LEN_BASE[usize::from(s)] + self.take(e) as u16;
                    self.state = State::DistSym(len);
                }
                State::DistSym(len) => {
                    let d = sym!(1);
                    if d >= 30 {
                        return Err(InflateError::InvalidCode);
                    }
                    self.state = State::DistExtra(len, d);
                }
                State::DistExtra(len, d) => {
                    let e = u32::from(DIST_EXTRA[usize::from(d)]);
                    need!(e);
                    let dist = DIST_BASE[usize::from(d)] + self.take(e) as u16;
                    if usize::from(dist) > self.hist {
                        return Err(InflateError::DistanceTooFar);
                    }
                    self.state = State::Copy(len, dist);
                }
                State::Copy(len, dist) => {
                    let n = usize::from(len).min(out.len() - op);
                    if n == 0 {
                        return Ok((ip, op, Stop::OutputFull));
                    }
                    let mask = self.mask;
                    for _ in 0..n {
                        let b = win[(self.wpos.wrapping_sub(usize::from(dist))) & mask];
                        self.put(win, out, &mut op, b);
                    }
                    self.state = if usize::from(len) == n {
                        State::Symbol
                    } else {
                        State::Copy(len - n as u16, dist)
                    };
                }
                State::Done => {
                    // Whatever follows the final block up to the end of the
                    // message (padding, the appended tail) is ignored.
                    self.bits = 0;
                    self.nbits = 0;
                    return Ok((input.len(), op, Stop::NeedInput));
                }
            }
        }
    }

    fn end_block(&mut self) {
        self.state = if self.last {
            State::Done
        } else {
            State::Header
        };
    }
}

/// A streaming DEFLATE decoder for permessage-deflate, with its history window
/// in storage the caller lends (`W` is `[u8; N]`, `&mut [u8]`, a `Vec<u8>`...).
///
/// Feed each message's payload with [`inflate`](Self::inflate) in chunks of any
/// size, then call [`finish`](Self::finish), which appends the stripped
/// `00 00 ff ff` tail and checks that the message ended on a block boundary.
/// Between messages call [`reset`](Self::reset) when the peer does not take
/// context over (`*_no_context_takeover`).
#[derive(Clone, Debug)]
pub struct Inflater<W> {
    window: W,
    core: Core,
    /// The error that stopped the stream, kept until `reset`.
    error: Option<InflateError>,
}

/// What one [`Inflater::inflate`] or [`Inflater::finish`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes written.
    pub written: usize,
    /// True when the call stopped because the output was full: call again
    /// with more room (and the rest of the input) to get the rest.
    pub output_full: bool,
}

impl<W: AsMut<[u8]>> Inflater<W> {
    /// A decoder whose window is the largest power of two, at most 32 KiB, that
    /// fits in `window`. The window must be at least as large as the peer's
    /// (2^`max_window_bits`); fewer than 512 bytes give
    /// [`InflateError::WindowTooSmall`].
    pub fn new(mut window: W) -> Result<Self, InflateError> {
        let len = window.as_mut().len();
        if len < MIN_WINDOW {
            return Err(InflateError::WindowTooSmall);
        }
        let size = if len >= MAX_WINDOW {
            MAX_WINDOW
        } else {
            1 << (usize::BITS - 1 - len.leading_zeros())
        };
        Ok(Inflater {
            window,
            error: None,
            core: Core {
                state: State::Header,
                bits: 0,
                nbits: 0,
                mask: size - 1,
                wpos: 0,
                hist: 0,
                lit: Huffman::new(),
                dist: Huffman::new(),
                hlit: 0,
                hdist: 0,
                hclen: 0,
                lens: [0; 320],
                clen: Huffman::new(),
                last: false,
                tail: 0,
                produced: 0,
            },
        })
    }

    /// The window size in bytes (a power of two from 512 to 32768).
    pub fn window_size(&self) -> usize {
        self.core.mask + 1
    }

    /// Forgets the history, so the next message cannot refer to earlier ones
    /// (the peer's `*_no_context_takeover`), and any message in progress.
    pub fn reset(&mut self) {
        self.error = None;
        let c = &mut self.core;
        c.state = State::Header;
        c.bits = 0;
        c.nbits = 0;
        c.wpos = 0;
        c.hist = 0;
        c.last = false;
        c.tail = 0;
    }

    /// Decodes as much of `input` as `out` has room for. With
    /// `output_full == false` every byte of `input` was consumed, unless the
    /// stream turned out malformed: the bytes decoded before the fault are
    /// still handed out (`Ok`), [`error`](Self::error) tells, and every later
    /// call returns the error until [`reset`](Self::reset).
    pub fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, InflateError> {
        let (consumed, written, stop) = self.run(input, out)?;
        Ok(Progress {
            consumed,
            written,
            output_full: stop == Stop::OutputFull,
        })
    }

    /// The fault found in the stream, if any.
    pub fn error(&self) -> Option<InflateError> {
        self.error
    }

    /// Runs the decoder; a fault after some output is kept for the next call.
    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize, Stop), InflateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.core.run(self.window.as_mut(), input, out) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.error = Some(e);
                match self.core.produced {
                    0 => Err(e),
                    // `consumed` does not matter any more: the stream is dead.
                    n => Ok((input.len(), n, Stop::NeedInput)),
                }
            }
        }
    }

    /// Ends the message: decodes the appended `00 00 ff ff` tail and whatever
    /// the message's last bytes still hold. Returns the bytes written and
    /// whether the message is complete; when it is not (`out` filled up),
    /// call again with more room. A message that does not end on a block
    /// boundary gives [`InflateError::Truncated`] (after the bytes decoded
    /// before it, if any: then [`error`](Self::error) tells).
    pub fn finish(&mut self, out: &mut [u8]) -> Result<(usize, bool), InflateError> {
        let at = usize::from(self.core.tail);
        let (consumed, written, stop) = self.run(&TAIL[at.min(TAIL.len())..], out)?;
        if self.error.is_some() {
            return Ok((written, false));
        }
        self.core.tail = (at + consumed) as u8;
        if stop == Stop::OutputFull {
            return Ok((written, false));
        }
        let c = &mut self.core;
        let clean = c.state == State::Done || (c.state == State::Header && c.nbits == 0);
        if !clean || usize::from(c.tail) != TAIL.len() {
            // Like any fault: the bytes decoded before it are still handed out.
            self.error = Some(InflateError::Truncated);
            return if written > 0 {
                Ok((written, false))
            } else {
                Err(InflateError::Truncated)
            };
        }
        c.state = State::Header;
        c.last = false;
        c.tail = 0;
        Ok((written, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    extern crate std;

    /// Inflates one message whole.
    fn inflate_msg(inf: &mut Inflater<[u8; 32768]>, data: &[u8]) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        let mut pos = 0;
        loop {
            let p = inf.inflate(&data[pos..], &mut buf)?;
            out.extend_from_slice(&buf[..p.written]);
            pos += p.consumed;
            if !p.output_full {
                break;
            }
        }
        loop {
            let (n, done) = inf.finish(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
            if done {
                return Ok(out);
            }
        }
    }

    #[test]
    fn rfc7692_vectors() {
        let mut inf = Inflater::new([0u8; 32768]).unwrap();
        // 7.2.3.1: one fixed block.
        assert_eq!(
            inflate_msg(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
            b"Hello"
        );
        // 7.2.3.2: context takeover: the second "Hello" refers to the first.
        assert_eq!(
            inflate_msg(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
        inf.reset();
        assert_eq!(
            inflate_msg(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            Err(InflateError::DistanceTooFar)
        );
        inf.reset();
        // 7.2.3.3: a stored block.
        assert_eq!(
            inflate_msg(
                &mut inf,
                &[
                    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
                ]
            )
            .unwrap(),
            b"Hello"
        );
        // 7.2.3.4: BFINAL set, one padding byte.
        assert_eq!(
            inflate_msg(&mut inf, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
        // 7.2.3.5: two DEFLATE blocks in one message.
        assert_eq!(
            inflate_msg(
                &mut inf,
                &[
                    0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00
                ]
            )
            .unwrap(),
            b"Hello"
        );
        // 7.2.3.6: an empty message.
        assert_eq!(inflate_msg(&mut inf, &[0x00]).unwrap(), b"");
        assert_eq!(inflate_msg(&mut inf, &[0x02, 0x00]).unwrap(), b"");
    }

    #[test]
    fn malformed() {
        let mut inf = Inflater::new([0u8; 32768]).unwrap();
        let cases: &[(&[u8], InflateError)] = &[
            (&[0x06], InflateError::InvalidBlockType),
            (
                &[0x00, 0x05, 0x00, 0xfb, 0xff],
                InflateError::InvalidStoredLength,
            ),
            // A fixed block that stops in the middle.
            (&[0xf2, 0x48], InflateError::Truncated),
            // Fixed literal/length symbol 286.
            (&[0x1a, 0x03], InflateError::InvalidCode),
            // A dynamic block with all code length code lengths zero.
            (&[0x04, 0x00, 0x00, 0x00], InflateError::InvalidCodeLengths),
        ];
        for (data, e) in cases {
            inf.reset();
            assert_eq!(inflate_msg(&mut inf, data), Err(*e), "{data:02x?}");
        }
        assert_eq!(
            Inflater::new([0u8; 511]).err(),
            Some(InflateError::WindowTooSmall)
        );
        assert_eq!(Inflater::new([0u8; 1000]).unwrap().window_size(), 512);
    }
}
