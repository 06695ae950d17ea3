//! Where the endpoints keep their tables: fixed capacities without a heap,
//! tables that grow with the `alloc` feature.
//!
//! An endpoint ([`engineio::Server`](crate::engineio::Server),
//! [`socketio::Server`](crate::socketio::Server)) keeps a table of TCP
//! connections, a table of sessions, a set of deadlines and a queue of
//! connections with bytes to send. It never names a collection type itself: it
//! asks its [`Storage`] parameter for them, through the small traits here.
//!
//! - [`Fixed`]: `heapless` tables sized by const generics, each session's send
//!   queue and message assembler inline (`[u8; Q]`, `[u8; A]`). Lookups scan,
//!   which is the fastest there is for the 2 to 8 connections of a
//!   microcontroller. Full tables are typed refusals (HTTP 503).
//! - `Growable` (feature `alloc`): `BTreeMap`s and a `BTreeSet` of deadlines
//!   (every lookup and timer O(log n)), buffers from the heap sized by the
//!   configuration; the caps are then only the configured ones.
//!
//! The same choice holds for connection state recovery ([`Recovery`]):
//! `Fixed`'s last two parameters lend it a log [`Ring`] and a table of kept
//! sessions; `Growable` keeps them on the heap.

use crate::time::Instant;

/// A map from keys to values with a capacity that may be fixed.
pub trait Map<K, V> {
    /// The value of `key`.
    fn get(&self, key: &K) -> Option<&V>;
    /// The value of `key`, mutably.
    fn get_mut(&mut self, key: &K) -> Option<&mut V>;
    /// Inserts a new key (the caller checked it is absent); gives the pair back
    /// when the map is full.
    fn insert(&mut self, key: K, value: V) -> Result<(), (K, V)>;
    /// Removes `key`.
    fn remove(&mut self, key: &K) -> Option<V>;
    /// The number of entries.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `f` for each entry (in no promised order).
    fn for_each_mut(&mut self, f: impl FnMut(&K, &mut V));
    /// Calls `f` for each entry, reading.
    fn for_each(&self, f: impl FnMut(&K, &V));
}

/// A set of `(deadline, key)` pairs: the endpoint's timers.
pub trait Timers<K> {
    /// Moves `key`'s deadline from `old` to `new` (either may be `None`).
    fn update(&mut self, key: K, old: Option<Instant>, new: Option<Instant>) -> Result<(), K>;
    /// The earliest deadline.
    fn first(&self) -> Option<Instant>;
    /// Removes and returns a key whose deadline is at or before `now`.
    fn pop_due(&mut self, now: Instant) -> Option<K>;
}

/// A first-in first-out queue.
pub trait Fifo<T> {
    /// Appends; gives it back when full.
    fn push(&mut self, item: T) -> Result<(), T>;
    /// Takes the oldest.
    fn pop(&mut self) -> Option<T>;
    /// The number queued.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A byte buffer that a send queue lives in: fixed (an array, a slice, a
/// `Vec` of a set length), or growing on demand up to a most
/// ([`LazyBuf`] with `alloc`), so a session takes memory for what it
/// actually queues.
pub trait Buffer: AsMut<[u8]> + AsRef<[u8]> {
    /// Makes at least `len` bytes usable; false if `len` is past
    /// [`max_len`](Self::max_len). A fixed buffer only checks.
    fn reserve(&mut self, len: usize) -> bool {
        self.as_ref().len() >= len
    }
    /// The most bytes it can ever hold.
    fn max_len(&self) -> usize {
        self.as_ref().len()
    }
    /// Called when it holds nothing: a growing buffer may give memory back.
    fn relax(&mut self) {}
}

impl<const N: usize> Buffer for [u8; N] {}
impl Buffer for &mut [u8] {}
impl<const N: usize> Buffer for Inline<N> {}
#[cfg(feature = "alloc")]
impl Buffer for alloc::vec::Vec<u8> {}

/// The byte buffers of a [`Storage`].
pub trait Buffers {
    /// A byte buffer (a session's send queue, a message assembler).
    type Buf: Buffer + core::fmt::Debug;
    /// A send-queue buffer of (at most) `len` bytes.
    fn queue_buf(len: usize) -> Self::Buf;
    /// An assembler buffer of (at most) `len` bytes; 0 asks for the smallest
    /// (a session that may never need one).
    fn assembler_buf(len: usize) -> Self::Buf;
    /// True when a session may take permessage-deflate windows from the heap
    /// (feature `deflate`, and `alloc` to have one): `Growable`'s do;
    /// [`Fixed`] storage has no heap, so its endpoint declines every offer.
    #[cfg(feature = "deflate")]
    const DEFLATE_ON_HEAP: bool = false;
}

/// A first-in first-out log of byte records, each under a key larger than
/// the one before: where connection state recovery keeps its log
/// (`socketio::recovery`). A [`Ring`] in lent bytes without a heap, a
/// `RecordQueue` (a deque of heap records) with `alloc`.
pub trait Records {
    /// What a record of `len` bytes counts against the log's budget (its
    /// bytes and the store's own cost per record).
    fn cost(len: usize) -> usize;
    /// The most the costs of the records held can add up to (`usize::MAX`
    /// when it grows).
    fn capacity(&self) -> usize;
    /// Appends a record of `len` bytes under `key`, written by `write` into
    /// a slice of exactly `len` bytes; false (nothing changes) when it does
    /// not fit now: the caller pops first.
    fn push(&mut self, key: u64, len: usize, write: &mut dyn FnMut(&mut [u8])) -> bool;
    /// Drops the oldest record; false when empty.
    fn pop(&mut self) -> bool;
    /// The number of records.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A cursor at the first record whose key is at least `key` (for
    /// [`read`](Self::read); past the end when there is none).
    fn seek(&self, key: u64) -> usize;
    /// The record at cursor `at`: its key, its bytes and the cursor of the
    /// next one. A cursor is valid until the next `push` or `pop`.
    fn read(&self, at: usize) -> Option<(u64, &[u8], usize)>;
}

/// [`Records`] in a byte buffer lent once (`[u8; L]` inside [`Fixed`]):
/// each record is its length (4 bytes), its key (8 bytes) and its bytes, one
/// after the other. The oldest go first; when a record does not fit at the
/// end of the buffer the records held are moved to its start (one copy of
/// at most the buffer), so a record is always one slice.
#[derive(Debug)]
pub struct Ring<B> {
    buf: B,
    start: usize,
    end: usize,
    len: usize,
}

/// The bytes a [`Ring`] spends on each record besides the record's own.
pub const RING_HEAD: usize = 12;

impl<B: Buffer> Ring<B> {
    /// A ring in `buf`.
    pub fn new(buf: B) -> Self {
        Ring {
            buf,
            start: 0,
            end: 0,
            len: 0,
        }
    }

    fn head(&self, at: usize) -> Option<(usize, u64)> {
        let h = self.buf.as_ref().get(at..at.checked_add(RING_HEAD)?)?;
        let mut len = [0; 4];
        let mut key = [0; 8];
        len.copy_from_slice(&h[..4]);
        key.copy_from_slice(&h[4..]);
        Some((u32::from_le_bytes(len) as usize, u64::from_le_bytes(key)))
    }
}

impl<B: Buffer> Records for Ring<B> {
    fn cost(len: usize) -> usize {
        len.saturating_add(RING_HEAD)
    }
    fn capacity(&self) -> usize {
        self.buf.max_len()
    }
    fn push(&mut self, key: u64, len: usize, write: &mut dyn FnMut(&mut [u8])) -> bool {
        let Ok(len32) = u32::try_from(len) else {
            return false;
        };
        let need = Self::cost(len);
        let held = self.end - self.start;
        if held.saturating_add(need) > self.buf.max_len() {
            return false;
        }
        if self.end + need > self.buf.max_len() {
            let (start, end) = (self.start, self.end);
            self.buf.as_mut().copy_within(start..end, 0);
            self.start = 0;
            self.end = held;
        }
        if !self.buf.reserve(self.end + need) {
            return false;
        }
        let at = self.end;
        let Some(slot) = self.buf.as_mut().get_mut(at..at + need) else {
            return false;
        };
        slot[..4].copy_from_slice(&len32.to_le_bytes());
        slot[4..RING_HEAD].copy_from_slice(&key.to_le_bytes());
        write(&mut slot[RING_HEAD..]);
        self.end += need;
        self.len += 1;
        true
    }
    fn pop(&mut self) -> bool {
        let Some((len, _)) = self.head(self.start).filter(|_| self.len > 0) else {
            return false;
        };
        self.start = (self.start + RING_HEAD + len).min(self.end);
        self.len -= 1;
        if self.len == 0 {
            (self.start, self.end) = (0, 0);
            self.buf.relax();
        }
        true
    }
    fn len(&self) -> usize {
        self.len
    }
    fn seek(&self, key: u64) -> usize {
        let mut at = self.start;
        while at < self.end {
            match self.head(at) {
                Some((_, k)) if k >= key => return at,
                Some((len, _)) => at += RING_HEAD + len,
                None => break,
            }
        }
        self.end
    }
    fn read(&self, at: usize) -> Option<(u64, &[u8], usize)> {
        if at < self.start || at >= self.end {
            return None;
        }
        let (len, key) = self.head(at)?;
        let next = at.checked_add(RING_HEAD)?.checked_add(len)?;
        let bytes = self.buf.as_ref().get(at + RING_HEAD..next.min(self.end))?;
        Some((key, bytes, next))
    }
}

/// Where connection state recovery (`socketio::recovery`) keeps its log
/// and the sessions it keeps: lent storage sized by [`Fixed`]'s `L` and
/// `K`, or the heap with `Growable`.
pub trait Recovery {
    /// The log.
    type Log: Records;
    /// A table of kept sessions (and of recovering CONNECTs waiting for the
    /// application).
    type Table<Key: Ord, V>: Map<Key, V> + Default;
    /// The deadlines of kept sessions.
    type Deadlines<Key: Ord + Copy>: Timers<Key> + Default;
    /// The most bytes the log can hold (0: no log; `usize::MAX` when it
    /// grows).
    const LOG_BYTES: usize;
    /// The most sessions the tables can keep (0: none).
    const KEPT: usize;
    /// An empty log.
    fn log() -> Self::Log;
}

/// How an endpoint stores its tables. `K` is the connection handle type, `S`
/// the session key, `C` a connection's state, `V` a session's state.
pub trait Storage<K, S, C, V>: Buffers + Recovery {
    /// The connections.
    type Conns: Map<K, C> + Default;
    /// The sessions.
    type Sessions: Map<S, V> + Default;
    /// The deadlines of connections and sessions.
    type Timers: Timers<TimerKey<K, S>> + Default;
    /// Connections with bytes to send.
    type Ready: Fifo<K> + Default;
    /// Sessions with events for the application.
    type Notify: Fifo<S> + Default;
    /// The most connections the tables can hold (`usize::MAX` when they grow).
    const MAX_CONNS: usize;
    /// The most sessions the tables can hold.
    const MAX_SESSIONS: usize;
}

/// The key of a deadline: a connection's or a session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimerKey<K, S> {
    /// A connection's (head, body, idle, linger).
    Conn(K),
    /// A session's (heartbeat, upgrade, close, the layer above's).
    Session(S),
}

// ---------------------------------------------------------------------------
// Fixed: no heap.
// ---------------------------------------------------------------------------

/// Tables without a heap: at most `C` connections and `S` sessions (with
/// `C + S <= 64`: the deadline table holds one per connection and session);
/// each session's send queue and its message assembler take `B` bytes each,
/// inline.
///
/// Connection state recovery (`socketio::Server::set_recovery`) takes two
/// more, 0 by default (no recovery: `set_recovery` refuses):
/// - `L`: the bytes of its log, a [`Ring`] of `[u8; L]`. An event takes 41
///   bytes, its packet text, its namespace, 4 bytes and the name of each
///   target room and exception, 4 bytes and the bytes of each attachment;
///   the oldest go first.
/// - `K`: the sessions kept at once after their transport was lost (about
///   420 bytes each, with room for as many recovering CONNECTs waiting for
///   the application); the oldest goes first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fixed<
    const C: usize,
    const S: usize,
    const B: usize,
    const L: usize = 0,
    const K: usize = 0,
>;

/// The size of the deadline and ready tables of [`Fixed`].
pub const FIXED_TIMERS: usize = 64;

/// A linear map of at most `N` entries (a `heapless::Vec` of pairs).
#[derive(Debug)]
pub struct LinearMap<K, V, const N: usize>(heapless::Vec<(K, V), N>);

impl<K, V, const N: usize> Default for LinearMap<K, V, N> {
    fn default() -> Self {
        LinearMap(heapless::Vec::new())
    }
}

impl<K: PartialEq, V, const N: usize> Map<K, V> for LinearMap<K, V, N> {
    fn get(&self, key: &K) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn insert(&mut self, key: K, value: V) -> Result<(), (K, V)> {
        self.0.push((key, value))
    }
    fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(i).1)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn for_each_mut(&mut self, mut f: impl FnMut(&K, &mut V)) {
        for (k, v) in self.0.iter_mut() {
            f(k, v);
        }
    }
    fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for (k, v) in self.0.iter() {
            f(k, v);
        }
    }
}

/// At most `N` deadlines, scanned.
#[derive(Debug)]
pub struct LinearTimers<K, const N: usize>(heapless::Vec<(Instant, K), N>);

impl<K, const N: usize> Default for LinearTimers<K, N> {
    fn default() -> Self {
        LinearTimers(heapless::Vec::new())
    }
}

impl<K: PartialEq + Copy, const N: usize> Timers<K> for LinearTimers<K, N> {
    fn update(&mut self, key: K, old: Option<Instant>, new: Option<Instant>) -> Result<(), K> {
        if old.is_some()
            && let Some(i) = self.0.iter().position(|(_, k)| *k == key)
        {
            match new {
                Some(t) => {
                    self.0[i].0 = t;
                    return Ok(());
                }
                None => {
                    self.0.swap_remove(i);
                }
            }
        }
        match new {
            Some(t) => self.0.push((t, key)).map_err(|(_, k)| k),
            None => Ok(()),
        }
    }
    fn first(&self) -> Option<Instant> {
        self.0.iter().map(|(t, _)| *t).min()
    }
    fn pop_due(&mut self, now: Instant) -> Option<K> {
        let i = self.0.iter().position(|(t, _)| *t <= now)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// A bounded FIFO of `N` items.
#[derive(Debug)]
pub struct BoundedFifo<T, const N: usize>(heapless::Deque<T, N>);

impl<T, const N: usize> Default for BoundedFifo<T, N> {
    fn default() -> Self {
        BoundedFifo(heapless::Deque::new())
    }
}

impl<T, const N: usize> Fifo<T> for BoundedFifo<T, N> {
    fn push(&mut self, item: T) -> Result<(), T> {
        self.0.push_back(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A fixed-size byte buffer, inline.
#[derive(Clone, Copy)]
pub struct Inline<const N: usize>(pub [u8; N]);

impl<const N: usize> core::fmt::Debug for Inline<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Inline<{N}>")
    }
}

impl<const N: usize> AsRef<[u8]> for Inline<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> AsMut<[u8]> for Inline<N> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const C: usize, const S: usize, const B: usize, const L: usize, const K: usize> Buffers
    for Fixed<C, S, B, L, K>
{
    type Buf = Inline<B>;
    fn queue_buf(_len: usize) -> Self::Buf {
        Inline([0; B])
    }
    fn assembler_buf(_len: usize) -> Self::Buf {
        Inline([0; B])
    }
}

impl<const C: usize, const S: usize, const B: usize, const L: usize, const K: usize> Recovery
    for Fixed<C, S, B, L, K>
{
    type Log = Ring<Inline<L>>;
    type Table<Key: Ord, V> = LinearMap<Key, V, K>;
    type Deadlines<Key: Ord + Copy> = LinearTimers<Key, K>;
    const LOG_BYTES: usize = L;
    const KEPT: usize = K;
    fn log() -> Self::Log {
        Ring::new(Inline([0; L]))
    }
}

impl<
    K,
    SK,
    CV,
    SV,
    const C: usize,
    const S: usize,
    const B: usize,
    const L: usize,
    const KEPT: usize,
> Storage<K, SK, CV, SV> for Fixed<C, S, B, L, KEPT>
where
    K: PartialEq + Copy,
    SK: PartialEq + Copy,
{
    type Conns = LinearMap<K, CV, C>;
    type Sessions = LinearMap<SK, SV, S>;
    type Timers = LinearTimers<TimerKey<K, SK>, FIXED_TIMERS>;
    type Ready = BoundedFifo<K, FIXED_TIMERS>;
    type Notify = BoundedFifo<SK, FIXED_TIMERS>;
    const MAX_CONNS: usize = {
        assert!(
            C + S <= FIXED_TIMERS,
            "Fixed<C, S, B>: C + S must be at most 64"
        );
        C
    };
    const MAX_SESSIONS: usize = S;
}

// ---------------------------------------------------------------------------
// Growable: with a heap.
// ---------------------------------------------------------------------------

/// Tables that grow (feature `alloc`): `BTreeMap`s, a `BTreeSet` of deadlines,
/// buffers from the heap sized by the configuration. The only caps are the
/// configured ones.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Growable;

#[cfg(feature = "alloc")]
mod growable {
    use super::*;
    use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
    use alloc::vec::Vec;

    /// A `BTreeMap` as a [`Map`].
    #[derive(Debug)]
    pub struct TreeMap<K, V>(pub BTreeMap<K, V>);

    impl<K, V> Default for TreeMap<K, V> {
        fn default() -> Self {
            TreeMap(BTreeMap::new())
        }
    }

    impl<K: Ord, V> Map<K, V> for TreeMap<K, V> {
        fn get(&self, key: &K) -> Option<&V> {
            self.0.get(key)
        }
        fn get_mut(&mut self, key: &K) -> Option<&mut V> {
            self.0.get_mut(key)
        }
        fn insert(&mut self, key: K, value: V) -> Result<(), (K, V)> {
            self.0.insert(key, value);
            Ok(())
        }
        fn remove(&mut self, key: &K) -> Option<V> {
            self.0.remove(key)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
        fn for_each_mut(&mut self, mut f: impl FnMut(&K, &mut V)) {
            for (k, v) in self.0.iter_mut() {
                f(k, v);
            }
        }
        fn for_each(&self, mut f: impl FnMut(&K, &V)) {
            for (k, v) in self.0.iter() {
                f(k, v);
            }
        }
    }

    /// A `BTreeSet` of `(deadline, key)` as [`Timers`].
    #[derive(Debug)]
    pub struct TreeTimers<K>(BTreeSet<(Instant, K)>);

    impl<K> Default for TreeTimers<K> {
        fn default() -> Self {
            TreeTimers(BTreeSet::new())
        }
    }

    impl<K: Ord + Copy> Timers<K> for TreeTimers<K> {
        fn update(&mut self, key: K, old: Option<Instant>, new: Option<Instant>) -> Result<(), K> {
            if old == new {
                return Ok(());
            }
            if let Some(t) = old {
                self.0.remove(&(t, key));
            }
            if let Some(t) = new {
                self.0.insert((t, key));
            }
            Ok(())
        }
        fn first(&self) -> Option<Instant> {
            self.0.first().map(|(t, _)| *t)
        }
        fn pop_due(&mut self, now: Instant) -> Option<K> {
            if self.0.first()?.0 <= now {
                self.0.pop_first().map(|(_, k)| k)
            } else {
                None
            }
        }
    }

    /// A `VecDeque` as a [`Fifo`].
    #[derive(Debug)]
    pub struct Queue<T>(VecDeque<T>);

    impl<T> Default for Queue<T> {
        fn default() -> Self {
            Queue(VecDeque::new())
        }
    }

    impl<T> Fifo<T> for Queue<T> {
        fn push(&mut self, item: T) -> Result<(), T> {
            self.0.push_back(item);
            Ok(())
        }
        fn pop(&mut self) -> Option<T> {
            self.0.pop_front()
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    /// The largest buffer [`LazyBuf`] defers: reads of a buffer not yet
    /// written see this many shared zero bytes.
    pub const LAZY_MAX: usize = 4 << 20;
    static ZEROS: [u8; LAZY_MAX] = [0; LAZY_MAX];

    /// A heap buffer that takes memory only as it is used (feature
    /// `alloc`). Two kinds:
    ///
    /// - [`LazyBuf::new`]: a zeroed buffer of a fixed length, allocated when
    ///   first written; reads before that see shared zeros. A session that
    ///   never assembles a fragmented or binary message never allocates its
    ///   assemblers (a megabyte each with the default `maxPayload`).
    /// - [`LazyBuf::growing`]: empty at first, grown by
    ///   [`Buffer::reserve`] up to its most and given back when empty after
    ///   a burst: a send queue holds memory for what it queues, not for the
    ///   largest message it might.
    #[derive(Clone, Debug, Default)]
    pub struct LazyBuf {
        len: usize,
        data: Vec<u8>,
        grow: bool,
    }

    /// Memory a growing [`LazyBuf`] keeps when it empties.
    const KEEP: usize = 16 * 1024;

    impl LazyBuf {
        /// A buffer of `len` zero bytes (allocated at once above
        /// [`LAZY_MAX`]).
        pub fn new(len: usize) -> Self {
            let data = if len > LAZY_MAX {
                alloc::vec![0; len]
            } else {
                Vec::new()
            };
            LazyBuf {
                len,
                data,
                grow: false,
            }
        }

        /// An empty buffer that grows on demand up to `max` bytes.
        pub fn growing(max: usize) -> Self {
            LazyBuf {
                len: max,
                data: Vec::new(),
                grow: true,
            }
        }

        /// True once the buffer holds memory of its own.
        pub fn is_allocated(&self) -> bool {
            !self.data.is_empty()
        }

        /// Bytes of memory it holds now.
        pub fn allocated(&self) -> usize {
            self.data.len()
        }
    }

    impl AsRef<[u8]> for LazyBuf {
        fn as_ref(&self) -> &[u8] {
            if self.grow || self.data.len() == self.len {
                &self.data
            } else {
                &ZEROS[..self.len]
            }
        }
    }

    impl AsMut<[u8]> for LazyBuf {
        fn as_mut(&mut self) -> &mut [u8] {
            if !self.grow && self.data.len() != self.len {
                self.data = alloc::vec![0; self.len];
            }
            &mut self.data
        }
    }

    impl Buffer for LazyBuf {
        fn reserve(&mut self, len: usize) -> bool {
            if !self.grow {
                return len <= self.len;
            }
            if len > self.len {
                return false;
            }
            if self.data.len() < len {
                let target = len.max(self.data.len() * 2).max(256).min(self.len);
                self.data.resize(target, 0);
            }
            true
        }
        fn max_len(&self) -> usize {
            self.len
        }
        fn relax(&mut self) {
            if self.grow && self.data.len() > KEEP {
                self.data = Vec::new();
            }
        }
    }

    impl Buffers for Growable {
        type Buf = LazyBuf;
        fn queue_buf(len: usize) -> LazyBuf {
            LazyBuf::growing(len)
        }
        fn assembler_buf(len: usize) -> LazyBuf {
            LazyBuf::new(len)
        }
        #[cfg(feature = "deflate")]
        const DEFLATE_ON_HEAP: bool = true;
    }

    /// [`Records`] on the heap: a deque of records (feature `alloc`),
    /// found by binary search.
    #[derive(Debug, Default)]
    pub struct RecordQueue(VecDeque<(u64, Vec<u8>)>);

    /// What a [`RecordQueue`] counts per record besides its bytes.
    pub const RECORD_COST: usize = 96;

    impl Records for RecordQueue {
        fn cost(len: usize) -> usize {
            len.saturating_add(RECORD_COST)
        }
        fn capacity(&self) -> usize {
            usize::MAX
        }
        fn push(&mut self, key: u64, len: usize, write: &mut dyn FnMut(&mut [u8])) -> bool {
            let mut bytes = alloc::vec![0; len];
            write(&mut bytes);
            self.0.push_back((key, bytes));
            true
        }
        fn pop(&mut self) -> bool {
            self.0.pop_front().is_some()
        }
        fn len(&self) -> usize {
            self.0.len()
        }
        fn seek(&self, key: u64) -> usize {
            self.0.partition_point(|(k, _)| *k < key)
        }
        fn read(&self, at: usize) -> Option<(u64, &[u8], usize)> {
            self.0.get(at).map(|(k, b)| (*k, b.as_slice(), at + 1))
        }
    }

    impl Recovery for Growable {
        type Log = RecordQueue;
        type Table<Key: Ord, V> = TreeMap<Key, V>;
        type Deadlines<Key: Ord + Copy> = TreeTimers<Key>;
        const LOG_BYTES: usize = usize::MAX;
        const KEPT: usize = usize::MAX;
        fn log() -> RecordQueue {
            RecordQueue::default()
        }
    }

    impl<K: Ord + Copy, SK: Ord + Copy, CV, SV> Storage<K, SK, CV, SV> for Growable {
        type Conns = TreeMap<K, CV>;
        type Sessions = TreeMap<SK, SV>;
        type Timers = TreeTimers<TimerKey<K, SK>>;
        type Ready = Queue<K>;
        type Notify = Queue<SK>;
        const MAX_CONNS: usize = usize::MAX;
        const MAX_SESSIONS: usize = usize::MAX;
    }
}

#[cfg(feature = "alloc")]
pub use growable::{LAZY_MAX, LazyBuf, Queue, RECORD_COST, RecordQueue, TreeMap, TreeTimers};

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn lazy_buf_allocates_when_first_written() {
        // Smaller under miri, which interprets the scan byte by byte.
        let len = if cfg!(miri) { 4096 } else { 1 << 20 };
        let mut b = LazyBuf::new(len);
        assert!(!b.is_allocated());
        assert_eq!(b.as_ref().len(), len);
        assert!(b.as_ref().iter().all(|&x| x == 0));
        assert!(!b.is_allocated());
        b.as_mut()[7] = 1;
        assert!(b.is_allocated());
        assert_eq!(b.as_ref()[7], 1);
        let big = LazyBuf::new(LAZY_MAX + 1);
        assert!(big.is_allocated());
    }

    #[test]
    fn a_growing_buf_takes_what_is_reserved_and_gives_it_back() {
        let mut b = LazyBuf::growing(1 << 20);
        assert_eq!(b.as_ref().len(), 0);
        assert_eq!(b.max_len(), 1 << 20);
        assert!(b.reserve(10));
        assert_eq!(b.allocated(), 256);
        assert!(b.reserve(100_000));
        assert!(b.allocated() >= 100_000 && b.allocated() < 1 << 20);
        assert!(!b.reserve((1 << 20) + 1));
        b.relax();
        assert_eq!(b.allocated(), 0);
    }

    #[test]
    fn tree_timers_pop_in_order() {
        let mut t: TreeTimers<u8> = TreeTimers::default();
        t.update(1, None, Some(Instant::from_millis(30))).unwrap();
        t.update(2, None, Some(Instant::from_millis(10))).unwrap();
        t.update(
            1,
            Some(Instant::from_millis(30)),
            Some(Instant::from_millis(5)),
        )
        .unwrap();
        assert_eq!(t.first(), Some(Instant::from_millis(5)));
        assert_eq!(t.pop_due(Instant::from_millis(20)), Some(1));
        assert_eq!(t.pop_due(Instant::from_millis(20)), Some(2));
        assert_eq!(t.pop_due(Instant::from_millis(20)), None);
    }

    #[test]
    fn a_ring_keeps_records_whole_as_it_wraps() {
        let mut r = Ring::new(Inline([0u8; 64]));
        assert_eq!(r.capacity(), 64);
        // 20 bytes each (12 + 8): three fit; a fourth needs a pop first.
        let put = |r: &mut Ring<Inline<64>>, key: u64| {
            r.push(key, 8, &mut |b| b.copy_from_slice(&key.to_le_bytes()))
        };
        for key in 1..=3 {
            assert!(put(&mut r, key));
        }
        assert!(!put(&mut r, 4));
        for key in 4..200 {
            assert!(r.pop());
            assert!(put(&mut r, key), "{key}");
            assert_eq!(r.len(), 3);
            let mut at = r.seek(0);
            for want in key - 2..=key {
                let (k, bytes, next) = r.read(at).unwrap();
                assert_eq!((k, bytes), (want, &want.to_le_bytes()[..]));
                at = next;
            }
            assert!(r.read(at).is_none());
            assert_eq!(r.read(r.seek(key)).unwrap().0, key);
            assert!(r.read(r.seek(key + 1)).is_none());
        }
        // Larger than the whole ring: refused, nothing changes.
        assert!(!r.push(1000, 60, &mut |_| {}));
        assert_eq!(r.len(), 3);
        while r.pop() {}
        assert!(r.is_empty() && r.read(r.seek(0)).is_none());
        assert!(r.push(1000, 52, &mut |_| {}));
    }

    #[test]
    fn linear_tables_refuse_when_full() {
        let mut m: LinearMap<u8, u8, 2> = LinearMap::default();
        assert!(m.insert(1, 1).is_ok() && m.insert(2, 2).is_ok());
        assert_eq!(m.insert(3, 3), Err((3, 3)));
        assert_eq!(m.remove(&1), Some(1));
        assert!(m.insert(3, 3).is_ok());
        let mut t: LinearTimers<u8, 1> = LinearTimers::default();
        assert!(t.update(1, None, Some(Instant::from_millis(1))).is_ok());
        assert_eq!(t.update(2, None, Some(Instant::from_millis(1))), Err(2));
    }
}
