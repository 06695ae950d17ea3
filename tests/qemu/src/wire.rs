//! The in-memory network between two peers: a bounded byte pipe per direction,
//! and the deterministic entropy the peers draw masks, keys and ids from.

use core::ops::Range;

use sockwire::entropy::Entropy;
use sockwire::time::Instant;

use crate::rt::{Role, measured};

/// A FIFO of at most `N` bytes in flight (a TCP connection's window).
pub struct Pipe<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes that ever went through, for the checks.
    pub total: usize,
}

impl<const N: usize> Pipe<N> {
    pub const fn new() -> Self {
        Pipe {
            buf: [0; N],
            len: 0,
            total: 0,
        }
    }

    pub fn free(&self) -> usize {
        N - self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends all of `bytes`; a writer that sends more than the window is a
    /// bug of the test driver (it must let the peer read first).
    pub fn write(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.free(), "pipe overflow");
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self.total += bytes.len();
    }

    /// Moves up to `out.len()` bytes out of the pipe.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        n
    }
}

/// xorshift32: a firmware's hardware RNG, reproducible for the test.
pub struct Rng(u32);

impl Rng {
    pub const fn new(seed: u32) -> Self {
        Rng(seed | 1)
    }
}

impl Entropy for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(4) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
    }
}

impl<const N: usize> Pipe<N> {
    /// Moves what `poll` writes (a `poll_transmit`) into the pipe through the
    /// sender's write buffer `tx`, while the window has room for a useful
    /// piece; returns whether any byte moved.
    pub fn fill_from<E>(
        &mut self,
        tx: &mut [u8],
        mut poll: impl FnMut(&mut [u8]) -> Result<usize, E>,
    ) -> Result<bool, E> {
        let mut moved = false;
        loop {
            let room = tx.len().min(self.free());
            if room < 16.min(tx.len()) {
                return Ok(moved);
            }
            match poll(&mut tx[..room])? {
                0 => return Ok(moved),
                n => {
                    self.write(&tx[..n]);
                    moved = true;
                }
            }
        }
    }

    /// An HTTP head arriving: reads `read` bytes at a time, appending to
    /// `head`, and offers everything so far to `parse` until it says the head
    /// is complete (its call depth counted for `role`). Returns (bytes,
    /// reads), or `None` if the pipe ran dry first.
    pub fn read_head(
        &mut self,
        role: Role,
        head: &mut [u8],
        read: usize,
        mut parse: impl FnMut(&[u8]) -> bool,
    ) -> Option<(usize, usize)> {
        let (mut len, mut reads) = (0, 0);
        loop {
            let end = (len + read).min(head.len());
            let n = self.read(&mut head[len..end]);
            if n == 0 {
                return None;
            }
            len += n;
            reads += 1;
            if measured(role, || parse(&head[..len])) {
                return Some((len, reads));
            }
        }
    }
}

/// A peer that reads from a pipe, as a driver loop sees it.
pub trait Peer {
    /// Whose call depth its calls count toward.
    fn role(&self) -> Role;
    /// The read buffer.
    fn rx(&mut self) -> &mut [u8];
    /// Feeds `rx[range]` to the peer once; returns the bytes consumed and
    /// whether an event or message came out, or `None` to stop reading.
    fn step(&mut self, now: Instant, range: Range<usize>) -> Option<(usize, bool)>;
    /// Writes what the peer has to send into `to`; true if any byte moved.
    fn flush<const N: usize>(&mut self, to: &mut Pipe<N>) -> bool;
    /// Records that the input made no progress.
    fn stalled(&mut self);
}

/// Reads everything waiting in `from`, `read` bytes at a time, feeding the
/// peer and letting it answer into `back` after every call.
pub fn deliver<P: Peer, const N: usize>(
    p: &mut P,
    now: Instant,
    from: &mut Pipe<N>,
    back: &mut Pipe<N>,
    read: usize,
) {
    loop {
        let n = from.read(&mut p.rx()[..read]);
        if n == 0 {
            return;
        }
        let mut off = 0;
        while off < n {
            let role = p.role();
            let Some((consumed, progress)) = measured(role, || p.step(now, off..n)) else {
                return;
            };
            off += consumed;
            let moved = measured(role, || p.flush(back));
            if consumed == 0 && !progress && !moved {
                p.stalled();
                return;
            }
        }
    }
}
