//! Reading fuzz input front to back.
//!
//! Every field is taken from the front of the input with `arbitrary`'s
//! front-reading primitives (`u8`/`u16`/`u64` as little-endian bytes, `bytes(n)`),
//! and an exhausted input reads as zeros. That keeps the format simple enough to
//! write seeds by hand ([`Writer`](crate::seeds::Writer) mirrors it): a seed is a
//! few control bytes followed by protocol bytes.

use arbitrary::Unstructured;

/// A cursor over fuzz input.
pub struct R<'a> {
    u: Unstructured<'a>,
}

impl<'a> R<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        R {
            u: Unstructured::new(data),
        }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.u.len()
    }

    /// One byte, 0 once exhausted.
    pub fn u8(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    /// A flag from one byte.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Up to `n` bytes (fewer if the input runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.u.len());
        self.u.bytes(n).unwrap_or(&[])
    }

    /// A length byte followed by that many bytes.
    pub fn short_bytes(&mut self) -> &'a [u8] {
        let n = self.u8() as usize;
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let n = self.u.len();
        self.bytes(n)
    }

    /// The underlying `Unstructured`, for `#[derive(Arbitrary)]` types.
    pub fn unstructured(&mut self) -> &mut Unstructured<'a> {
        &mut self.u
    }
}

/// How to cut an input into reads, read as `count, step...`. A count of 255
/// means one byte at a time; otherwise up to 32 steps of 1..=255 bytes.
#[derive(Clone, Debug)]
pub enum Cuts {
    /// Every prefix: one byte per read.
    EveryByte,
    /// Read sizes (0 counts as 1); the last read takes the rest.
    Steps(Vec<u8>),
}

impl Cuts {
    /// Reads a plan from `r`.
    pub fn read(r: &mut R<'_>) -> Cuts {
        let count = r.u8();
        if count == 255 {
            return Cuts::EveryByte;
        }
        Cuts::Steps((0..count.min(32)).map(|_| r.u8()).collect())
    }

    /// Ascending prefix lengths of a `len`-byte input, always ending with `len`.
    pub fn prefixes(&self, len: usize) -> Vec<usize> {
        let mut v = Vec::new();
        match self {
            Cuts::EveryByte => v.extend(1..=len),
            Cuts::Steps(steps) => {
                let mut at = 0usize;
                for &s in steps {
                    at += usize::from(s).max(1);
                    if at >= len {
                        break;
                    }
                    v.push(at);
                }
                v.push(len);
            }
        }
        if v.last() != Some(&len) {
            v.push(len);
        }
        v
    }
}
