//! Randomness as an input.
//!
//! WebSocket clients mask every frame with a key that the peer (and anything in
//! between) must not be able to predict, and the client's `Sec-WebSocket-Key` is a
//! random nonce. sockwire takes that randomness through the one-method
//! [`Entropy`] trait, so a firmware can plug in its hardware RNG and a fuzzer a
//! byte stream.
//!
//! # One way to pass it
//!
//! Every API takes its randomness the same way: a value of a type that
//! implements [`Entropy`] (`E: Entropy` or `impl Entropy`), never a `&mut`
//! parameter of its own. A machine that draws over its whole life keeps the
//! value ([`ws::Connection`](crate::ws::Connection) in the client role,
//! [`engineio::Server`](crate::engineio::Server),
//! [`engineio::ClientSession`](crate::engineio::ClientSession),
//! [`socketio::Server`](crate::socketio::Server)); a call that draws once
//! uses it and returns ([`engineio::Session::open`](crate::engineio::Session::open)'s
//! sid, [`ws::ClientHandshake::new`](crate::ws::ClientHandshake::new)'s key,
//! the socket id of `socketio::Connection::accept`, the back-off jitter of
//! `socketio::ClientCore::handle_transport_closed`). Since `&mut E` is an
//! `Entropy` too, either kind can be lent a source the caller keeps: pass
//! `&mut rng`.
//!
//! ```
//! use sockwire::entropy::{Entropy, SplitMix64};
//! use sockwire::engineio::Sid;
//!
//! let mut rng = SplitMix64::new(7);
//! let lent = Sid::random(&mut rng); // lent: `rng` is still ours
//! let given = Sid::random(SplitMix64::new(7)); // or given away
//! assert_eq!(lent, given);
//! let mut b = [0u8; 4];
//! rng.fill_bytes(&mut b);
//! ```

/// A source of random bytes.
///
/// For production use it must be unpredictable (a hardware RNG, the operating
/// system's generator, or a CSPRNG seeded from one). [`SplitMix64`] is
/// deterministic and exists for tests, benchmarks and fuzzing.
pub trait Entropy {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<E: Entropy + ?Sized> Entropy for &mut E {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (**self).fill_bytes(dest)
    }
}

/// The entropy of a role that never needs any: the WebSocket server side.
///
/// It fills with zeros. A client given `NoEntropy` would send all-zero masking
/// keys, which peers accept but which defeats the purpose of masking; give
/// clients a real source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoEntropy;

impl Entropy for NoEntropy {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
}

/// A deterministic generator (SplitMix64) for tests, benchmarks and fuzzing.
///
/// Its output is predictable from its seed: never use it to mask real traffic.
///
/// ```
/// use sockwire::entropy::{Entropy, SplitMix64};
/// let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
/// let (mut x, mut y) = ([0u8; 5], [0u8; 5]);
/// a.fill_bytes(&mut x);
/// b.fill_bytes(&mut y);
/// assert_eq!(x, y);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Entropy for SplitMix64 {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// An unpredictable source for `std` programs.
///
/// It runs SipHash, keyed by the process's randomly seeded
/// `std::collections::hash_map::RandomState`, over a counter: a keyed
/// pseudo-random function whose outputs cannot be predicted without the key.
#[cfg(feature = "std")]
#[derive(Clone, Debug)]
pub struct StdEntropy {
    keys: std::collections::hash_map::RandomState,
    counter: u64,
    /// Unused bytes of the last output (a client mask takes 4 of its 8).
    spare: [u8; 8],
    spare_len: u8,
}

#[cfg(feature = "std")]
impl StdEntropy {
    /// A new source with fresh keys.
    pub fn new() -> Self {
        StdEntropy {
            keys: std::collections::hash_map::RandomState::new(),
            counter: 0,
            spare: [0; 8],
            spare_len: 0,
        }
    }

    fn next_block(&mut self) -> [u8; 8] {
        use core::hash::{BuildHasher, Hasher};
        let mut h = self.keys.build_hasher();
        h.write_u64(self.counter);
        self.counter = self.counter.wrapping_add(1);
        h.finish().to_le_bytes()
    }
}

#[cfg(feature = "std")]
impl Default for StdEntropy {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Entropy for StdEntropy {
    fn fill_bytes(&mut self, mut dest: &mut [u8]) {
        // Spare bytes first; every output byte is used once.
        let take = dest.len().min(usize::from(self.spare_len));
        let from = 8 - usize::from(self.spare_len);
        dest[..take].copy_from_slice(&self.spare[from..from + take]);
        self.spare_len -= take as u8;
        dest = &mut dest[take..];
        while !dest.is_empty() {
            let block = self.next_block();
            let n = dest.len().min(8);
            dest[..n].copy_from_slice(&block[..n]);
            if n < 8 {
                self.spare = block;
                self.spare_len = (8 - n) as u8;
            }
            dest = &mut dest[n..];
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::{Entropy, StdEntropy};

    #[test]
    fn std_entropy_never_repeats_output_across_calls() {
        let mut e = StdEntropy::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let mut mask = [0u8; 4];
            e.fill_bytes(&mut mask);
            assert!(seen.insert(mask), "repeated mask");
        }
        let mut big = [0u8; 37];
        e.fill_bytes(&mut big);
        assert!(big.iter().any(|&b| b != 0));
    }
}
