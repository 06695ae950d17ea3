//! Incremental UTF-8 validation that fails at the first invalid byte.
//!
//! A text message may arrive in many frames and each frame in many reads, and
//! code points may straddle any of those boundaries. The validator carries the
//! state of an unfinished code point (at most three bytes of context, kept as the
//! number of continuation bytes still expected and the range the next one must
//! fall in) from one chunk to the next. Whole runs of complete code points are
//! checked with `core::str::from_utf8`, which is fast; only the few bytes around a
//! boundary are stepped through one at a time. Overlong forms, surrogates and
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
        let rest = &chunk[i..];
        match core::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) => {
                let bad = i + e.valid_up_to();
                if e.error_len().is_some() {
                    // Find the exact byte: the sequence's lead byte or a later one.
                    for (j, &b) in chunk[bad..].iter().enumerate() {
                        if !self.step(b) {
                            return Err(bad + j);
                        }
                    }
                    return Err(bad);
                }
                // A valid but unfinished code point at the end: carry its state.
                for &b in &chunk[bad..] {
                    self.step(b);
                }
                Ok(())
            }
        }
    }
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
