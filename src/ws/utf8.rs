//! Incremental UTF-8 validation that fails at the first invalid byte.
//!
//! A text message may arrive in many frames and each frame in many reads, and
//! code points may straddle any of those boundaries. The validator carries the
//! state of an unfinished code point (at most three bytes of context, kept as the
//! number of continuation bytes still expected and the range the next one must
//! fall in) from one chunk to the next. Whole runs of complete code points are
//! checked in one pass (ASCII a word at a time, long runs with AVX2 where the
//! CPU has it, see `crate::simd`); only the few bytes around a boundary are
//! stepped through one at a time. Overlong forms, surrogates and
//! code points above U+10FFFF are rejected as soon as their second byte arrives.

/// The validation state carried between chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Utf8Validator {
    /// Continuation bytes still expected for the current code point.
    need: u8,
    /// Smallest allowed value of the next continuation byte.
    lo: u8,
    /// Largest allowed value of the next continuation byte.
    hi: u8,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Utf8Validator {
            need: 0,
            lo: 0x80,
            hi: 0xbf,
        }
    }

    /// True when the bytes so far end on a code point boundary.
    pub fn is_complete(&self) -> bool {
        self.need == 0
    }

    fn step(&mut self, b: u8) -> bool {
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                return false;
            }
            self.need -= 1;
            self.lo = 0x80;
            self.hi = 0xbf;
            return true;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7f => return true,
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xe1..=0xef => (2, 0x80, 0xbf),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return false,
        };
        *self = Utf8Validator { need, lo, hi };
        true
    }

    /// Validates the next chunk. On failure returns the index in `chunk` of the
    /// first byte that makes the text invalid; the validator must then be discarded.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        while self.need > 0 {
            let Some(&b) = chunk.get(i) else {
                return Ok(());
            };
            if !self.step(b) {
                return Err(i);
            }
            i += 1;
        }
        match check(&chunk[i..]) {
            Ok(()) => Ok(()),
            Err((at, unfinished)) => {
                let bad = i + at;
                if unfinished {
                    // A valid but unfinished code point at the end: carry its state.
                    for &b in &chunk[bad..] {
                        self.step(b);
                    }
                    return Ok(());
                }
                // Find the exact byte: the sequence's lead byte or a later one.
                for (j, &b) in chunk[bad..].iter().enumerate() {
                    if !self.step(b) {
                        return Err(bad + j);
                    }
                }
                Err(bad)
            }
        }
    }
}

/// Validates `bytes` as whole code points. On failure returns where the first
/// bad sequence starts, and whether it is merely unfinished (a valid prefix cut
/// off by the end of `bytes`) rather than invalid.
///
/// Long inputs first go through the vectorised prefix check of `crate::simd`
/// (AVX2 on x86_64 when the CPU has it), which vouches for a valid prefix; the
/// rest, at least the last few bytes and everything from a block with an error,
/// goes through [`check_portable`], which gives the exact answer.
#[inline]
pub fn check(bytes: &[u8]) -> Result<(), (usize, bool)> {
    let k = crate::simd::utf8_valid_up_to(bytes);
    check_portable(&bytes[k..]).map_err(|(at, unfinished)| (k + at, unfinished))
}

/// [`check`] without the vectorised prefix: the reference the fuzz target
/// `utf8_simd` compares against.
///
/// ASCII is skipped a 64-bit word at a time, jumping straight to the first byte
/// with its top bit set, so mostly-ASCII text with scattered multi-byte
/// characters (chat messages, JSON) costs little more than ASCII.
#[inline]
pub fn check_portable(bytes: &[u8]) -> Result<(), (usize, bool)> {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        while let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            // Little-endian, so the lowest set bit belongs to the first such byte
            // on every target.
            let high = u64::from_le_bytes(w) & HIGH_BITS;
            if high != 0 {
                i += (high.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        let Some(&lead) = bytes.get(i) else { break };
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let (width, lo, hi) = match lead {
            0xc2..=0xdf => (2, 0x80, 0xbf),
            0xe0 => (3, 0xa0, 0xbf),
            0xed => (3, 0x80, 0x9f),
            0xe1..=0xef => (3, 0x80, 0xbf),
            0xf0 => (4, 0x90, 0xbf),
            0xf1..=0xf3 => (4, 0x80, 0xbf),
            0xf4 => (4, 0x80, 0x8f),
            _ => return Err((i, false)),
        };
        match bytes.get(i + 1) {
            None => return Err((i, true)),
            Some(&b) if b < lo || b > hi => return Err((i, false)),
            Some(_) => {}
        }
        for k in 2..width {
            match bytes.get(i + k) {
                None => return Err((i, true)),
                Some(&b) if b & 0xc0 != 0x80 => return Err((i, false)),
                Some(_) => {}
            }
        }
        i += width;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Utf8Validator;

    fn check_split(bytes: &[u8]) -> Option<usize> {
        // Returns the first bad index with the input fed whole, and asserts every
        // two-way split agrees.
        let whole = {
            let mut v = Utf8Validator::new();
            match v.feed(bytes) {
                Ok(()) if v.is_complete() => None,
                Ok(()) => Some(bytes.len()),
                Err(i) => Some(i),
            }
        };
        for cut in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            let got = match v.feed(&bytes[..cut]) {
                Err(i) => Some(i),
                Ok(()) => match v.feed(&bytes[cut..]) {
                    Err(i) => Some(cut + i),
                    Ok(()) if v.is_complete() => None,
                    Ok(()) => Some(bytes.len()),
                },
            };
            assert_eq!(got, whole, "split at {cut} of {bytes:02x?}");
        }
        whole
    }

    #[test]
    fn agrees_with_core_and_fails_at_first_bad_byte() {
        assert_eq!(check_split("κόσμε".as_bytes()), None);
        assert_eq!(check_split("a\u{10ffff}b\u{7ff}\u{ffff}".as_bytes()), None);
        assert_eq!(check_split(b"ab\xed\xa0\x80"), Some(3)); // surrogate
        assert_eq!(check_split(b"\xf4\x90\x80\x80"), Some(1)); // above U+10FFFF
        assert_eq!(check_split(b"\xc0\xaf"), Some(0)); // overlong
        assert_eq!(check_split(b"\xe0\x80\xaf"), Some(1)); // overlong
        assert_eq!(check_split(b"\xce\xba\xe1\xbd"), Some(4)); // truncated at end
        assert_eq!(check_split(b"\x80"), Some(0));
        assert_eq!(check_split(b"\xf8\x88\x80\x80\x80"), Some(0));
        assert_eq!(check_split(b"abc\xe1\xbd\xb9def\xff"), Some(9));
    }

    #[test]
    fn check_agrees_with_core_on_random_text() {
        use crate::entropy::SplitMix64;
        let mut rng = SplitMix64::new(99);
        let pieces: [&[u8]; 12] = [
            b"a",
            b"json ",
            "é".as_bytes(),
            "€".as_bytes(),
            "𝄞".as_bytes(),
            b"\x80",
            b"\xc0",
            b"\xed\xa0",
            b"\xf4\x90",
            b"\xe2\x82",
            b"\xff",
            b"0123456789abcdef",
        ];
        // Fewer rounds under miri, which runs this for UB and byte order only.
        for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
            let mut text = [0u8; 64];
            let mut len = 0;
            while len < 40 {
                let p = pieces[(rng.next_u64() % 12) as usize];
                // Mostly valid pieces, now and then an invalid one.
                if p[0] >= 0x80
                    && p.len() < 3
                    && p != "é".as_bytes()
                    && !rng.next_u64().is_multiple_of(8)
                {
                    continue;
                }
                text[len..len + p.len()].copy_from_slice(p);
                len += p.len();
            }
            let text = &text[..len];
            let core = core::str::from_utf8(text);
            match (super::check(text), core) {
                (Ok(()), Ok(_)) => {}
                (Err((at, unfinished)), Err(e)) => {
                    assert_eq!(at, e.valid_up_to(), "{text:02x?}");
                    assert_eq!(unfinished, e.error_len().is_none(), "{text:02x?}");
                }
                (mine, core) => panic!("{text:02x?}: {mine:?} vs {core:?}"),
            }
        }
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "exhaustive; no byte-order or memory-safety content, covered natively and by fuzzing"
    )]
    fn exhaustive_two_byte_prefixes_match_core() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let bytes = [a, b, b'x'];
                let mut v = Utf8Validator::new();
                let ok = v.feed(&bytes).is_ok() && v.is_complete();
                assert_eq!(ok, core::str::from_utf8(&bytes).is_ok(), "{a:02x} {b:02x}");
            }
        }
    }
}
