//! permessage-deflate (RFC 7692): a DEFLATE (RFC 1951) decoder and encoder of
//! the project's own, over storage the caller lends.
//!
//! # The extension in brief
//!
//! Each message is compressed as raw DEFLATE data ending with a *sync flush*
//! (an empty stored block, `00 00 ff ff`), which the sender strips and the
//! receiver appends before inflating. The first frame of a compressed message
//! carries RSV1; control frames are never compressed, and a sender may always
//! send a message uncompressed. With *context takeover* (the default) each
//! side's compressor keeps its LZ77 window from one message to the next, so a
//! message may refer to earlier ones; `*_no_context_takeover` resets it per
//! message. `*_max_window_bits` bounds the window (2^9..2^15 bytes; zlib turns
//! 8 into 9, so this code never uses fewer than 512 bytes).
//!
//! # Memory
//!
//! Nothing here allocates. The [`Inflater`] keeps a window ring of 2^bits
//! bytes in storage the caller lends plus about 2.7 KiB of its own (canonical
//! Huffman tables with a 256-entry lookup for codes of up to 8 bits, longer
//! codes bit by bit). The [`Deflater`] keeps a window ring of 2^bits bytes and
//! a hash table of `u16` entries (buckets of the last four positions per hash,
//! no chains), both lent, and 64 bytes of its own. A
//! microcontroller that asks for 9-bit windows and no context takeover needs
//! 512 + 512 bytes and a small hash table.
//!
//! # Streaming
//!
//! Both are incremental over input and output of any size: every step either
//! completes or leaves the state as it was, so a message may be fed one byte
//! at a time into a one-byte output buffer and gives the same bytes.

mod context;
mod deflater;
mod inflater;
mod negotiate;

pub(crate) use context::Codec;
pub use context::Context;
pub use deflater::Deflater;
pub use inflater::{Inflater, Progress};
pub use negotiate::{
    Agreed, DeflateConfig, Params, accept_offer, check_answer, window_len, write_offer,
};

use core::fmt;

/// The smallest window this code uses (2^9 bytes).
pub const MIN_WINDOW: usize = 1 << 9;
/// The largest window DEFLATE allows (2^15 bytes).
pub const MAX_WINDOW: usize = 1 << 15;

/// The output room [`Deflater::compress_message`] needs for a message of
/// `len` bytes: fixed Huffman codes grow incompressible data by at most one
/// bit in eight, stored blocks by five bytes per 64 KiB.
pub const fn compress_bound(len: usize) -> usize {
    len + len / 8 + 5 * (len / 65535 + 1) + 8
}

/// Base lengths of the length symbols 257..=285 (RFC 1951 section 3.2.5).
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits of the length symbols.
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances of the distance symbols 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits of the distance symbols.
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// A malformed DEFLATE stream, or storage that is too small. On a connection
/// a malformed stream fails with close code 1007.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InflateError {
    /// A block header has the reserved block type 3.
    InvalidBlockType,
    /// A stored block's NLEN is not the complement of its LEN.
    InvalidStoredLength,
    /// A dynamic block's code lengths are malformed: too many symbols, an
    /// over-subscribed or incomplete code, a repeat with nothing to repeat or
    /// past the end, or no end-of-block code.
    InvalidCodeLengths,
    /// A Huffman code that is not in the table, or a reserved symbol
    /// (literal/length 286-287, distance 30-31).
    InvalidCode,
    /// A back-reference reaches further back than the data decoded so far (or
    /// than the window).
    DistanceTooFar,
    /// The message ended inside a block (it did not end with a flush).
    Truncated,
    /// The lent window is under 512 bytes.
    WindowTooSmall,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InflateError::InvalidBlockType => "reserved DEFLATE block type",
            InflateError::InvalidStoredLength => "stored block length check failed",
            InflateError::InvalidCodeLengths => "malformed Huffman code lengths",
            InflateError::InvalidCode => "invalid Huffman code or reserved symbol",
            InflateError::DistanceTooFar => "back-reference beyond the window",
            InflateError::Truncated => "compressed message ends inside a block",
            InflateError::WindowTooSmall => "window storage under 512 bytes",
        })
    }
}

impl core::error::Error for InflateError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A small deterministic generator: xorshift64.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        /// Data of mixed compressibility: runs, repeats of earlier text, random
        /// bytes from a small or the whole alphabet.
        fn data(&mut self, len: usize) -> Vec<u8> {
            let mut v: Vec<u8> = Vec::with_capacity(len);
            while v.len() < len {
                match self.below(4) {
                    0 => {
                        let b = self.next() as u8;
                        v.extend(core::iter::repeat_n(b, self.below(300)));
                    }
                    1 if !v.is_empty() => {
                        let from = self.below(v.len());
                        let n = self.below(400);
                        for k in 0..n {
                            v.push(v[from + k % (v.len() - from)]);
                        }
                    }
                    2 => {
                        for _ in 0..self.below(100) {
                            v.push(b'a' + self.below(4) as u8);
                        }
                    }
                    _ => {
                        for _ in 0..self.below(100) {
                            v.push(self.next() as u8);
                        }
                    }
                }
            }
            v.truncate(len);
            v
        }
    }

    fn inflate_all<W: AsMut<[u8]>>(
        inf: &mut Inflater<W>,
        data: &[u8],
        in_chunk: usize,
        out_chunk: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; out_chunk];
        let mut pos = 0;
        while pos < data.len() {
            let end = (pos + in_chunk).min(data.len());
            let p = inf.inflate(&data[pos..end], &mut buf)?;
            out.extend_from_slice(&buf[..p.written]);
            pos += p.consumed;
        }
        loop {
            let (n, done) = inf.finish(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
            if done {
                return Ok(out);
            }
        }
    }

    fn deflate_stream<W: AsMut<[u8]>, H: AsMut<[u16]>>(
        def: &mut Deflater<W, H>,
        data: &[u8],
        in_chunk: usize,
        out_chunk: usize,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; out_chunk];
        let mut pos = 0;
        while pos < data.len() {
            let end = (pos + in_chunk).min(data.len());
            let p = def.compress(&data[pos..end], &mut buf);
            out.extend_from_slice(&buf[..p.written]);
            pos += p.consumed;
        }
        loop {
            let (n, done) = def.finish(&mut buf);
            out.extend_from_slice(&buf[..n]);
            if done {
                return out;
            }
        }
    }

    fn deflate_msg<W: AsMut<[u8]>, H: AsMut<[u16]>>(
        def: &mut Deflater<W, H>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = std::vec![0u8; Deflater::<W, H>::bound(data.len())];
        let n = def.compress_message(data, &mut out).unwrap();
        out.truncate(n);
        out
    }

    /// miri interprets every instruction: the randomised tests shrink
    /// under it (sizes divided by this) and still cover every branch kind.
    const MIRI_DIV: usize = if cfg!(miri) { 50 } else { 1 };

    #[test]
    fn rfc7692_deflate_vectors() {
        let mut def = Deflater::new([0u8; 32768], [0u16; 4096]).unwrap();
        assert_eq!(
            deflate_msg(&mut def, b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        // zlib writes "H" and a 4-byte match (f2 00 11 00 00); one 5-byte
        // match is as valid and shorter.
        assert_eq!(deflate_msg(&mut def, b"Hello"), [0x02, 0x13, 0x00, 0x00]);
        def.reset();
        assert_eq!(
            deflate_msg(&mut def, b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        // An empty message is the flush alone (RFC 7692 section 7.2.3.6).
        assert_eq!(deflate_msg(&mut def, b""), [0x00]);
    }

    /// Every window size, both takeover modes, several messages per context.
    #[test]
    fn round_trip_every_window() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for bits in 9..=15 {
            if cfg!(miri) && bits % 3 != 0 {
                continue;
            }
            for takeover in [true, false] {
                let w = 1usize << bits;
                let mut def = Deflater::new(std::vec![0u8; w], std::vec![0u16; 1024]).unwrap();
                let mut inf = Inflater::new(std::vec![0u8; w]).unwrap();
                assert_eq!((def.window_size(), inf.window_size()), (w, w));
                for m in 0..6 {
                    let data = rng.data([0, 1, 5, 700, 5000 / MIRI_DIV, 70_000 / MIRI_DIV][m]);
                    let c = deflate_msg(&mut def, &data);
                    assert!(c.len() <= data.len() + 6 * (data.len() / 65535 + 1));
                    let back = inflate_all(&mut inf, &c, 1 << 20, 1 << 20).unwrap();
                    assert_eq!(back, data, "bits {bits} takeover {takeover} message {m}");
                    // miniz_oxide agrees (tail + an empty final block appended).
                    let mut z = c.clone();
                    z.extend_from_slice(&[0, 0, 0xff, 0xff, 0x03, 0x00]);
                    if !takeover || m == 0 {
                        assert_eq!(miniz_oxide::inflate::decompress_to_vec(&z).unwrap(), data);
                    }
                    if !takeover {
                        def.reset();
                        inf.reset();
                    }
                }
            }
        }
    }

    /// Streamed compression, in small pieces, inflates to the same data.
    #[test]
    fn deflate_streaming() {
        let mut rng = Rng(77);
        let data = rng.data(20_000 / MIRI_DIV);
        for (ic, oc) in [(1, 1), (7, 3), (100, 1), (1, 64), (4096, 4096)] {
            let mut def = Deflater::new([0u8; 1024], [0u16; 256]).unwrap();
            let c = deflate_stream(&mut def, &data, ic, oc);
            let mut inf = Inflater::new([0u8; 1024]).unwrap();
            assert_eq!(inflate_all(&mut inf, &c, 1 << 20, 1 << 20).unwrap(), data);
        }
    }

    /// Every split of the input, and one-byte output, give the same bytes.
    #[test]
    fn inflate_chunking_invariance() {
        let mut rng = Rng(99);
        let data = rng.data(600);
        let mut msgs = Vec::new();
        msgs.push(deflate_msg(
            &mut Deflater::new([0u8; 512], [0u16; 64]).unwrap(),
            &data,
        ));
        for level in [1, 6, 9] {
            msgs.push(miniz_oxide::deflate::compress_to_vec(&data, level));
        }
        // A stored block.
        msgs.push(miniz_oxide::deflate::compress_to_vec(&data, 0));
        for c in &msgs {
            let whole = inflate_all(
                &mut Inflater::new([0u8; 32768]).unwrap(),
                c,
                1 << 20,
                1 << 20,
            )
            .unwrap();
            assert_eq!(whole, data);
            for split in (0..=c.len()).step_by(if cfg!(miri) { 97 } else { 1 }) {
                let mut inf = Inflater::new([0u8; 32768]).unwrap();
                let mut out = Vec::new();
                let mut buf = [0u8; 1];
                for part in [&c[..split], &c[split..]] {
                    let mut pos = 0;
                    loop {
                        let p = inf.inflate(&part[pos..], &mut buf).unwrap();
                        out.extend_from_slice(&buf[..p.written]);
                        pos += p.consumed;
                        if !p.output_full {
                            break;
                        }
                    }
                }
                loop {
                    let (n, done) = inf.finish(&mut buf).unwrap();
                    out.extend_from_slice(&buf[..n]);
                    if done {
                        break;
                    }
                }
                assert_eq!(out, data, "split {split}");
            }
        }
        let one = inflate_all(&mut Inflater::new([0u8; 32768]).unwrap(), &msgs[2], 1, 1).unwrap();
        assert_eq!(one, data);
    }

    /// Differential: miniz_oxide's output at every level inflates to the
    /// input; corrupted streams give the same verdict or at worst a typed
    /// error, never a panic.
    #[test]
    fn differential_miniz() {
        let mut rng = Rng(0xdead_beef);
        for round in 0..200 / MIRI_DIV {
            let len = rng.below(if round % 10 == 0 {
                100_000 / MIRI_DIV
            } else {
                3000
            });
            let data = rng.data(len);
            let level = rng.below(11) as u8;
            let c = miniz_oxide::deflate::compress_to_vec(&data, level);
            let mut inf = Inflater::new([0u8; 32768]).unwrap();
            let ic = 1 + rng.below(5000);
            let oc = 1 + rng.below(5000);
            assert_eq!(
                inflate_all(&mut inf, &c, ic, oc).unwrap(),
                data,
                "round {round}"
            );
            // Flip some bits: both decoders must not panic; when miniz
            // accepts the stream as complete, we produce the same bytes or an error.
            let mut bad = c.clone();
            for _ in 0..1 + rng.below(3) {
                if bad.is_empty() {
                    break;
                }
                let i = rng.below(bad.len());
                bad[i] ^= 1 << rng.below(8);
            }
            let mut inf = Inflater::new([0u8; 32768]).unwrap();
            let ours = inflate_all(&mut inf, &bad, 1 << 20, 1 << 20);
            if let (Ok(o), Ok(t)) = (&ours, miniz_oxide::inflate::decompress_to_vec(&bad)) {
                assert_eq!(*o, t, "round {round}");
            }
        }
    }

    /// A decoder with a small window refuses references beyond it.
    #[test]
    fn window_bounds() {
        let mut rng = Rng(5);
        let mut data: Vec<u8> = (0..2000).map(|_| rng.next() as u8).collect();
        data.extend_from_within(..);
        let c = miniz_oxide::deflate::compress_to_vec(&data, 6);
        let mut inf = Inflater::new([0u8; 512]).unwrap();
        assert_eq!(
            inflate_all(&mut inf, &c, 1 << 20, 1 << 20),
            Err(InflateError::DistanceTooFar)
        );
    }
}
