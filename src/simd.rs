//! The crate's only `unsafe`: vectorised fast paths for UTF-8 validation and
//! for masking (see `ws::mask`).
//!
//! [`utf8_valid_up_to`] returns a length `k` such that `bytes[..k]` is valid UTF-8
//! made of whole code points. It is free to stop early (at worst it returns 0);
//! the caller checks `bytes[k..]` with the portable validator (`ws::utf8`), which
//! also finds the exact error position and an unfinished code point at the end.
//! So this module only has to be right about "everything before `k` is valid",
//! and the differential fuzz target `utf8_simd` checks exactly that.
//!
//! On x86_64 the AVX2 version runs when the CPU has AVX2: detected at run time
//! (and cached by `std`) with the `std` feature, chosen at compile time with
//! `cfg(target_feature = "avx2")` without it. Everywhere else, and on x86_64
//! without AVX2, [`utf8_valid_up_to`] returns 0 and [`mask`] false, and the
//! portable code does all the work. (SSE2 alone has no byte shuffle for the lookup tables below, and
//! the portable code already skips ASCII a word at a time.)
//!
//! # The method
//!
//! The lookup-table validation of Keiser and Lemire ("Validating UTF-8 in less
//! than one instruction per byte", 2021), written here from the paper's idea:
//! for every byte `c` and the byte `p` before it, three 16-entry tables indexed
//! by `p >> 4`, `p & 15` and `c >> 4` give eight error classes each; a class is
//! an error when its bit is set in all three. The eighth class, "a continuation
//! byte after a continuation byte", must instead be set exactly where the byte
//! two back starts a 3- or 4-byte sequence or the byte three back starts a
//! 4-byte one. The tables are computed below from the classes, not typed in.
//!
//! Blocks are 32 bytes, checked two at a time; a pair that is all ASCII, after
//! a block whose last 3 bytes are ASCII, needs no check. An error in a pair
//! (it may involve up to 3 bytes of the block before) stops the scan; the
//! answer is then the start of the last code point that begins before the
//! pair: every byte before it and the byte itself passed the checks, so the
//! text before it is valid and complete.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

/// Returns `k <= bytes.len()` such that `bytes[..k]` is valid UTF-8 and ends on
/// a code point boundary. `bytes` must start on a code point boundary (as the
/// callers guarantee) for the answer to be useful, not for it to be correct.
#[inline]
pub(crate) fn utf8_valid_up_to(bytes: &[u8]) -> usize {
    if bytes.len() < 64 {
        return 0;
    }
    #[cfg(target_arch = "x86_64")]
    if avx2_available() {
        // SAFETY: `valid_up_to_avx2` needs only the AVX2 target feature, and
        // `avx2_available` has just confirmed the CPU has it (at compile time
        // via `cfg(target_feature)`, or by the run-time check under `std`).
        return unsafe { x86::valid_up_to_avx2(bytes) };
    }
    0
}

/// XORs all of `buf` (at least 32 bytes long) with `key` repeated (`key[0]`
/// on `buf[0]`) and returns true, or returns false and leaves `buf` alone when
/// there is no vectorised path (the caller masks portably).
#[inline]
pub(crate) fn mask(buf: &mut [u8], key: [u8; 4]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= 32 && avx2_available() {
        // SAFETY: `mask_avx2` needs the AVX2 target feature, which
        // `avx2_available` has just confirmed, and `buf.len() >= 32`.
        unsafe { x86::mask_avx2(buf, key) };
        return true;
    }
    let _ = (buf, key);
    false
}

/// True when the AVX2 path may run on this CPU.
#[inline]
pub(crate) fn avx2_available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        true
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    {
        // `std` caches the CPUID answer in an atomic after the first call.
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(all(target_arch = "x86_64", any(target_feature = "avx2", feature = "std"))))]
    {
        false
    }
}

/// The last code point start strictly before `p` among the 4 bytes before it
/// (a code point is at most 4 bytes, so valid text has one there), or 0.
#[cfg(target_arch = "x86_64")]
fn boundary_before(bytes: &[u8], p: usize) -> usize {
    let from = p.saturating_sub(4);
    bytes[from..p]
        .iter()
        .rposition(|&b| b & 0xc0 != 0x80)
        .map_or(0, |i| from + i)
}

/// The three lookup tables, from the error classes.
#[cfg(any(target_arch = "x86_64", test))]
mod tables {
    const ALL: u16 = 0xffff;
    const ASCII: u16 = 0x00ff; // high nibbles 0..=7
    const CONT: u16 = 0x0f00; // high nibbles 8..=b
    const LEAD: u16 = 0xf000; // high nibbles c..=f
    const fn n(x: u16) -> u16 {
        1 << x
    }

    /// One row per class bit: (nibbles of `p >> 4`, of `p & 15`, of `c >> 4`).
    /// A class holds exactly the pairs in the product of its three sets.
    const CLASSES: [(u16, u16, u16); 8] = [
        // 0: a lead byte not followed by a continuation byte.
        (LEAD, ALL, ASCII | LEAD),
        // 1: a continuation byte after ASCII.
        (ASCII, ALL, CONT),
        // 2: overlong 3-byte form: e0 80..9f.
        (n(0xe), n(0x0), n(0x8) | n(0x9)),
        // 3: above U+10FFFF: f4..ff 90..bf.
        (n(0xf), 0xfff0, n(0x9) | n(0xa) | n(0xb)),
        // 4: surrogate: ed a0..bf.
        (n(0xe), n(0xd), n(0xa) | n(0xb)),
        // 5: overlong 2-byte form: c0, c1 then a continuation byte.
        (n(0xc), n(0x0) | n(0x1), CONT),
        // 6: overlong 4-byte form f0 80..8f, and f5..ff 80..8f.
        (n(0xf), 0xffe1, n(0x8)),
        // 7: a continuation byte after a continuation byte (see the module doc).
        (CONT, ALL, CONT),
    ];

    const fn table(which: usize) -> [u8; 16] {
        let mut t = [0u8; 16];
        let mut nibble = 0;
        while nibble < 16 {
            let mut bit = 0;
            while bit < 8 {
                let c = CLASSES[bit];
                let set = match which {
                    0 => c.0,
                    1 => c.1,
                    _ => c.2,
                };
                if set & (1 << nibble) != 0 {
                    t[nibble] |= 1 << bit;
                }
                bit += 1;
            }
            nibble += 1;
        }
        t
    }

    pub(super) const PREV_HIGH: [u8; 16] = table(0);
    pub(super) const PREV_LOW: [u8; 16] = table(1);
    pub(super) const CUR_HIGH: [u8; 16] = table(2);

    /// The scalar meaning of the tables, for the tests.
    #[cfg(test)]
    pub(super) fn classes(p: u8, c: u8) -> u8 {
        PREV_HIGH[(p >> 4) as usize] & PREV_LOW[(p & 15) as usize] & CUR_HIGH[(c >> 4) as usize]
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::tables::{CUR_HIGH, PREV_HIGH, PREV_LOW};
    use core::arch::x86_64::*;

    /// A 16-entry table in both 128-bit lanes (`vpshufb` looks up per lane).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes(t: [u8; 16]) -> __m256i {
        let b = |i: usize| t[i] as i8;
        _mm256_setr_epi8(
            b(0),
            b(1),
            b(2),
            b(3),
            b(4),
            b(5),
            b(6),
            b(7),
            b(8),
            b(9),
            b(10),
            b(11),
            b(12),
            b(13),
            b(14),
            b(15),
            b(0),
            b(1),
            b(2),
            b(3),
            b(4),
            b(5),
            b(6),
            b(7),
            b(8),
            b(9),
            b(10),
            b(11),
            b(12),
            b(13),
            b(14),
            b(15),
        )
    }

    /// The error bits of one 32-byte block `cur`, given the block before it.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn block_errors(cur: __m256i, prev: __m256i, t: &[__m256i; 3]) -> __m256i {
        let low = _mm256_set1_epi8(0x0f);
        // The 32 bytes before `cur`'s bytes shifted by 1, 2 and 3: `vpalignr`
        // works per 128-bit lane, so first build (prev's high lane, cur's low).
        let joined = _mm256_permute2x128_si256::<0x21>(prev, cur);
        let prev1 = _mm256_alignr_epi8::<15>(cur, joined);
        let prev2 = _mm256_alignr_epi8::<14>(cur, joined);
        let prev3 = _mm256_alignr_epi8::<13>(cur, joined);
        let high = |v| _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
        let classes = _mm256_and_si256(
            _mm256_and_si256(
                _mm256_shuffle_epi8(t[0], high(prev1)),
                _mm256_shuffle_epi8(t[1], _mm256_and_si256(prev1, low)),
            ),
            _mm256_shuffle_epi8(t[2], high(cur)),
        );
        // 0x80 where the byte two back is >= e0 or the byte three back >= f0:
        // there the continuation-after-continuation bit must be set.
        let third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(0x60));
        let fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(0x70));
        let must = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(-128));
        _mm256_xor_si256(classes, must)
    }

    /// See [`super::utf8_valid_up_to`].
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn valid_up_to_avx2(bytes: &[u8]) -> usize {
        let t = [lanes(PREV_HIGH), lanes(PREV_LOW), lanes(CUR_HIGH)];
        let mut prev = _mm256_setzero_si256();
        // Whether the last 3 bytes of `prev` are ASCII.
        let mut prev_tail_ascii = true;
        let (blocks, _) = bytes.as_chunks::<32>();
        // Two blocks per step, errors tested once per step: fewer branches.
        let (pairs, single) = blocks.as_chunks::<2>();
        for (i, pair) in pairs.iter().enumerate() {
            // SAFETY: `pair` is a `&[[u8; 32]; 2]`: both 32-byte reads are in
            // bounds and initialised; `loadu` has no alignment requirement.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(pair[0].as_ptr().cast()),
                    _mm256_loadu_si256(pair[1].as_ptr().cast()),
                )
            };
            // All 64 bytes ASCII, and no sequence running in from before: valid.
            let high = _mm256_movemask_epi8(_mm256_or_si256(a, b)) as u32;
            if high != 0 || !prev_tail_ascii {
                let e = _mm256_or_si256(block_errors(a, prev, &t), block_errors(b, a, &t));
                if _mm256_testz_si256(e, e) == 0 {
                    return super::boundary_before(bytes, i * 64);
                }
            }
            prev_tail_ascii = (_mm256_movemask_epi8(b) as u32) >> 29 == 0;
            prev = b;
        }
        if let [block] = single {
            // SAFETY: `block` is a `&[u8; 32]`, in bounds and initialised;
            // `loadu` has no alignment requirement.
            let a = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
            let e = block_errors(a, prev, &t);
            if _mm256_testz_si256(e, e) == 0 {
                return super::boundary_before(bytes, pairs.len() * 64);
            }
        }
        super::boundary_before(bytes, blocks.len() * 32)
    }

    /// `key` as a 32-byte vector for a run starting `n` bytes into the buffer.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn key_at(key: [u8; 4], n: usize) -> __m256i {
        // x86 is little-endian: rotating right by a byte moves `key[1]` first.
        _mm256_set1_epi32(u32::from_le_bytes(key).rotate_right(8 * (n % 4) as u32) as i32)
    }

    /// See [`super::mask`]. The 32-byte-aligned middle is XORed in place; the
    /// unaligned first and last 32 bytes are loaded before and stored after it,
    /// masked from their original values, so the bytes they share with the
    /// middle (or with each other) end up masked exactly once.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, and `buf.len() >= 32`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
        let len = buf.len();
        debug_assert!(len >= 32);
        let p = buf.as_ptr();
        // SAFETY: the caller guarantees `len >= 32`, so bytes `0..32` and
        // `len - 32..len` are in bounds of `buf` and initialised; `loadu` has
        // no alignment requirement.
        let (first, last) = unsafe {
            (
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(len - 32).cast()),
            )
        };
        // SAFETY: every bit pattern is a valid `__m256i` and a valid `u8`, so
        // viewing the aligned middle of the bytes as vectors (and the vectors
        // as bytes again) is sound; `align_to_mut` picks the in-bounds,
        // aligned middle itself.
        let (head, middle, _) = unsafe { buf.align_to_mut::<__m256i>() };
        let k = key_at(key, head.len());
        for v in middle {
            *v = _mm256_xor_si256(*v, k);
        }
        // A fresh pointer: the one above does not outlive the `&mut` reborrow.
        let p = buf.as_mut_ptr();
        // SAFETY: as for the loads, bytes `0..32` and `len - 32..len` are in
        // bounds; `buf` is borrowed exclusively, and no reference into it is
        // alive here (`middle` is done with); `storeu` needs no alignment.
        unsafe {
            _mm256_storeu_si256(
                p.add(len - 32).cast(),
                _mm256_xor_si256(last, key_at(key, len - 32)),
            );
            _mm256_storeu_si256(p.cast(), _mm256_xor_si256(first, key_at(key, 0)));
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every length and every start alignment (the unaligned head and tail
    /// overlap the aligned middle and each other in all ways).
    #[test]
    fn mask_matches_bytewise() {
        let key = [0x12, 0x34, 0x56, 0xf8];
        let mut store = [0u8; 260];
        for start in (0..33).filter(|s| !cfg!(miri) || s % 11 < 2) {
            for len in (0..200).filter(|l| !cfg!(miri) || l % 29 < 3 || *l == 64) {
                for (i, b) in store.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(7);
                }
                let orig = store;
                let done = super::mask(&mut store[start..start + len], key);
                assert_eq!(done, len >= 32 && super::avx2_available());
                for i in 0..store.len() {
                    let inside = done && (start..start + len).contains(&i);
                    let want = if inside {
                        orig[i] ^ key[(i - start) % 4]
                    } else {
                        orig[i]
                    };
                    assert_eq!(store[i], want, "start {start} len {len} at {i}");
                }
            }
        }
    }

    use super::{tables::classes, utf8_valid_up_to};

    /// The scalar model of the tables agrees with the UTF-8 rules on every pair:
    /// a pair of bytes is an error (classes other than bit 7 set) exactly when no
    /// valid text has `c` right after `p`, bit 7 aside.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "exhaustive and scalar: no unsafe content, runs natively"
    )]
    fn tables_match_the_pair_rules() {
        for p in 0..=255u8 {
            for c in 0..=255u8 {
                let second_ok = match p {
                    0x00..=0xbf => true, // ASCII, continuation: judged by the byte before
                    0xc2..=0xdf | 0xe1..=0xec | 0xee..=0xef | 0xf1..=0xf3 => {
                        (0x80..=0xbf).contains(&c)
                    }
                    0xe0 => (0xa0..=0xbf).contains(&c),
                    0xed => (0x80..=0x9f).contains(&c),
                    0xf0 => (0x90..=0xbf).contains(&c),
                    0xf4 => (0x80..=0x8f).contains(&c),
                    _ => false, // c0, c1, f5..ff start nothing valid
                };
                let cont = |b: u8| b & 0xc0 == 0x80;
                let ascii_then_cont = p < 0x80 && cont(c);
                let got = classes(p, c);
                assert_eq!(
                    got & 0x7f != 0,
                    !second_ok || ascii_then_cont,
                    "{p:02x} {c:02x}"
                );
                assert_eq!(got & 0x80 != 0, cont(p) && cont(c), "{p:02x} {c:02x}");
            }
        }
    }

    fn check(bytes: &[u8]) {
        let k = utf8_valid_up_to(bytes);
        assert!(k <= bytes.len());
        assert!(
            core::str::from_utf8(&bytes[..k]).is_ok(),
            "{k} {bytes:02x?}"
        );
        if super::avx2_available() && bytes.len() >= 64 {
            // Valid text is accepted up to its last whole block, less at most
            // 4 bytes.
            let valid_to = match core::str::from_utf8(bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            };
            // An error (found at most 3 bytes after the sequence starts)
            // stops the scan at the start of its pair of blocks (64 bytes),
            // less at most 4 bytes of backing off.
            assert!(
                k + 64 + 4 >= valid_to.min(bytes.len() / 32 * 32),
                "{k} {valid_to}"
            );
        }
    }

    #[test]
    fn valid_prefixes_on_mixed_text() {
        use crate::entropy::SplitMix64;
        let mut rng = SplitMix64::new(7);
        let pieces: [&[u8]; 14] = [
            b"a",
            b"json ",
            "é".as_bytes(),
            "€".as_bytes(),
            "𝄞".as_bytes(),
            "\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}\u{d7ff}\u{e000}".as_bytes(),
            b"\x80",
            b"\xc0\x80",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xff",
            b"0123456789abcdef0123456789abcdef",
        ];
        for round in 0..if cfg!(miri) { 40 } else { 20_000 } {
            let mut text = [0u8; 200];
            let mut len = 0;
            let target = 64 + (rng.next_u64() % 120) as usize;
            while len < target {
                let p = pieces[(rng.next_u64() % 14) as usize];
                // Mostly valid pieces, now and then an invalid one.
                if (p[0] >= 0x80 && p.len() < 5 && core::str::from_utf8(p).is_err())
                    && !rng.next_u64().is_multiple_of(6)
                {
                    continue;
                }
                if len + p.len() > text.len() {
                    break;
                }
                text[len..len + p.len()].copy_from_slice(p);
                len += p.len();
            }
            // Sometimes cut the text mid code point.
            if round % 3 == 0 {
                len -= (rng.next_u64() % 3) as usize;
            }
            check(&text[..len]);
        }
    }

    #[test]
    fn every_single_byte_error_position() {
        let base: [u8; 96] =
            core::array::from_fn(|i| b"ab\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"[i % 11]);
        let base = &base[..88]; // whole code points
        assert!(core::str::from_utf8(base).is_ok());
        if super::avx2_available() {
            assert!(utf8_valid_up_to(base) + 4 >= 64);
        }
        let bad: &[u8] = if cfg!(miri) {
            &[0x80, 0xff]
        } else {
            &[
                0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x41,
            ]
        };
        for pos in (0..88).filter(|p| !cfg!(miri) || p % 7 == 0) {
            for &b in bad {
                let mut t = [0u8; 88];
                t.copy_from_slice(base);
                t[pos] = b;
                check(&t);
            }
        }
    }
}
