//! Connection state recovery, server side: what [`Server`](super::Server)
//! keeps so that a client whose connection dropped gets back its socket id,
//! its rooms, its data slot and the events it missed.
//!
//! # The reference's mechanics, kept on the wire
//!
//! With recovery on (`socketio::Server::set_recovery`), every socket gets a
//! private id (`pid`, 20 characters, as a socket id) sent in the CONNECT
//! reply `{"sid":...,"pid":...}`. Every event without an ack id that is not
//! volatile, broadcast or emitted to one socket, gets an *offset* appended as
//! its last argument (a decimal string: `"17"`) and is kept in a log with its
//! namespace, rooms and exceptions. socket.io-client 4.8 takes the last
//! string argument of every event as its offset and, on reconnection, sends
//! `{"pid":...,"offset":...}` in its CONNECT auth. When a session closes by
//! transport loss (transport close or error, ping timeout, forced close; not
//! a client's DISCONNECT, not a parse error), its sockets are kept (socket
//! id, pid, rooms, data) until [`Config::max_disconnection`] (then
//! `Event::Expired` says it is gone). A CONNECT whose
//! auth names a kept pid gets the logged events after its offset that its
//! rooms would have received (exceptions respected), then the CONNECT reply
//! with the same socket id; the application learns it from
//! `Event::Recovered`.
//!
//! # Where it does better than socket.io 4.8
//!
//! - **No event received before the drop** (socket.io issues 4888, 5538):
//!   the reference needs an offset to recover. Here each socket remembers the
//!   log position at which it was accepted, so a CONNECT with a known `pid`
//!   and no offset (what socket.io-client 4.8 sends when it got no event)
//!   recovers, replaying everything logged for it since it connected. The
//!   same floor keeps a stale offset (socket.io-client keeps its last offset
//!   across a failed recovery) from replaying events from before the socket
//!   existed.
//! - **Volatile events** (PR 5539): socket.io-client takes the last string
//!   argument of *any* event as its offset, so a volatile event ending in a
//!   string would move the client's offset to something that is not one.
//!   Here a volatile event, with recovery on, carries the log's current
//!   offset as its last argument: the client's offset stays a real offset,
//!   and a correct one (everything logged before it was queued ahead of it on
//!   the same session). The application sees one more argument on volatile
//!   events, as it does on the others.
//! - **The old connection found dead late** (issue 4880): a recovering
//!   CONNECT may name a socket whose old session is still open (its ping
//!   timeout not yet fired). The socket moves to the new session; the old
//!   session's later close finds no socket of its own and touches no room.
//! - **An offset older than the log** (issue 5282): the session is still
//!   restored (socket id, rooms, data), the log's remaining events are
//!   replayed, and the application is told (`missed: true`). The client gets
//!   a new pid in the reply, so socket.io-client reports `recovered: false`
//!   and an application that resynchronises on it does so.
//!
//! # Bounds and storage
//!
//! The log is bounded by bytes ([`Config::max_log_bytes`]), by entries
//! ([`Config::max_log_entries`]) and by age ([`Config::max_disconnection`]);
//! kept sessions by [`Config::max_sessions`] (the oldest goes first,
//! `Event::Expired` tells it). There is one log for all namespaces (offsets
//! are unique across them), each entry tagged with its namespace.
//!
//! Both live in the server's storage
//! ([`storage::Recovery`](crate::storage::Recovery)), through one
//! code path:
//!
//! - `storage::Growable` (feature `alloc`): the log is a deque of heap
//!   records found by binary search, the sessions trees; only the
//!   configured bounds apply.
//! - [`storage::Fixed<C, S, B, L, K>`](crate::storage::Fixed), no heap:
//!   the log is a [`Ring`](crate::storage::Ring) of `L` bytes inside the
//!   server (found by a scan, cheap at the sizes a microcontroller lends),
//!   the kept sessions a table of `K`; the bounds are then the smaller of
//!   the configured ones and these. `Fixed<C, S, B>` has `L = K = 0`, and
//!   `set_recovery` refuses it (`Error::NoRecoveryStorage`).
//!
//! Sizing `L`: an event takes 12 bytes of ring header, 29 bytes of its own
//! (time, flags, lengths and counts), its packet text (with its offset), its namespace,
//! 4 bytes plus the name of each target room and exception (an emit to one
//! socket targets its 20-character id) and 4 bytes plus each attachment.
//! [`Stats::peak_bytes`] shows what a run needed. Each of `K` costs about
//! 420 bytes: a kept socket (its id, pid, namespace and data slot), its
//! deadline, and room for one recovering CONNECT waiting for the
//! application (`skip_middlewares: false`).
//!
//! When the log is full the oldest events go first. An event larger than
//! the whole log is kept as a *gap*: its namespace and targets without its
//! packet, so a socket it would have reached recovers with `missed: true`
//! and a new pid (never a silent loss), and the others recover in full; if
//! even its targets do not fit, the log is emptied and every socket kept
//! from before it recovers with `missed: true`.

use crate::time::Duration;

/// Recovery settings; the defaults are the reference's where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// How long a session lost by transport is kept, and how long a logged
    /// event is kept. Default 120 s (`maxDisconnectionDuration`).
    pub max_disconnection: Duration,
    /// A recovering CONNECT is accepted by the server itself, the
    /// application told by `Event::Recovered` (true, the default, as
    /// `skipMiddlewares`); or it goes to the application as `Event::Connect`
    /// and the recovery happens when it accepts (false).
    pub skip_middlewares: bool,
    /// The most bytes the log holds (packets, attachments, room names and a
    /// fixed cost per entry); the oldest entries go first. Default 16 MiB.
    /// In lent storage, also at most `Fixed`'s `L`.
    pub max_log_bytes: usize,
    /// The most entries the log holds. Default 100 000.
    pub max_log_entries: usize,
    /// The most sessions kept at once; the oldest goes first. Default
    /// 100 000. In lent storage, also at most `Fixed`'s `K`.
    pub max_sessions: usize,
}

impl Config {
    /// The defaults.
    pub const DEFAULT: Config = Config {
        max_disconnection: Duration::from_millis(120_000),
        skip_middlewares: true,
        max_log_bytes: 16 << 20,
        max_log_entries: 100_000,
        max_sessions: 100_000,
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The log's size now and at its peak (see `Server::recovery_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Entries in the log.
    pub entries: usize,
    /// Bytes the log holds, counted as [`Config::max_log_bytes`] counts.
    pub bytes: usize,
    /// The most entries it held.
    pub peak_entries: usize,
    /// The most bytes it held.
    pub peak_bytes: usize,
    /// Sessions kept for recovery.
    pub sessions: usize,
    /// The most sessions kept at once.
    pub peak_sessions: usize,
    /// Sockets recovered so far.
    pub recovered: u64,
}

/// The most bytes of a socket's application-data slot
/// (`Server::set_data`).
pub const MAX_DATA_LEN: usize = 64;

/// A socket's application-data slot.
pub(crate) type Data = heapless::Vec<u8, MAX_DATA_LEN>;

/// What appends `offset` to an event's arguments `args` as a JSON string:
/// `,"17"`, or `"17"` when there are none.
pub(crate) fn offset_suffix(args: &str, offset: u64) -> heapless::String<24> {
    use core::fmt::Write;
    let mut s = heapless::String::new();
    let comma = if args.trim().is_empty() { "" } else { "," };
    // At most 1 + 1 + 20 + 1 bytes.
    let _ = write!(s, "{comma}\"{offset}\"");
    s
}

/// The pid and offset of a recovering CONNECT's auth, if it names a pid.
pub(crate) fn claim(auth: Option<&str>) -> Option<Claim> {
    let auth = auth?;
    let string =
        |key| crate::json::get(auth, key).and_then(|v| v.strip_prefix('"')?.strip_suffix('"'));
    let pid = crate::engineio::Sid::parse(string("pid")?)?;
    let offset = string("offset").and_then(|o| o.parse().ok());
    Some(Claim { pid, offset })
}

/// What a recovering CONNECT claims.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub pid: crate::engineio::Sid,
    pub offset: Option<u64>,
}

pub(crate) use log::{Entry, Log, Saved};

mod log {
    use super::{Claim, Config, Data, Stats};
    use crate::engineio::Sid;
    use crate::socketio::MAX_NAMESPACE_LEN;
    use crate::storage::{Map, Records, Recovery, Timers};
    use crate::time::Instant;

    /// A namespace's name.
    type Nsp = heapless::String<MAX_NAMESPACE_LEN>;

    /// An event to log, borrowed from the emit or broadcast.
    ///
    /// It is kept as one record of bytes (the same in lent storage and on
    /// the heap): its time (8 bytes), a gap flag (1), then its namespace,
    /// its rooms, its exceptions, its packet text and its attachments, each
    /// string with a 4-byte length and each list with a 4-byte count. A
    /// *gap* is an event too large for the log: only its namespace and
    /// targets are kept, so that a socket it would have reached learns on
    /// recovery that it missed something.
    pub(crate) struct Entry<'a> {
        pub nsp: &'a str,
        /// Target rooms (socket ids count as rooms); empty: the namespace.
        pub rooms: &'a [&'a str],
        pub except: &'a [&'a str],
        /// The Socket.IO packet text in parts, offset included.
        pub text: &'a [&'a str],
        pub attachments: &'a [&'a [u8]],
    }

    fn len32(n: usize) -> [u8; 4] {
        u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
    }

    impl Entry<'_> {
        /// Hands the record's bytes, in order, to `put`.
        fn write(&self, at: Instant, gap: bool, put: &mut dyn FnMut(&[u8])) {
            put(&at.as_millis().to_le_bytes());
            put(&[gap as u8]);
            put(&len32(self.nsp.len()));
            put(self.nsp.as_bytes());
            for list in [self.rooms, self.except] {
                put(&len32(list.len()));
                for r in list {
                    put(&len32(r.len()));
                    put(r.as_bytes());
                }
            }
            let (text, attachments) = if gap {
                (&[][..], &[][..])
            } else {
                (self.text, self.attachments)
            };
            put(&len32(text.iter().map(|t| t.len()).sum()));
            for t in text {
                put(t.as_bytes());
            }
            put(&len32(attachments.len()));
            for a in attachments {
                put(&len32(a.len()));
                put(a);
            }
        }

        fn len(&self, gap: bool) -> usize {
            let mut n = 0usize;
            self.write(Instant::ZERO, gap, &mut |b| n = n.saturating_add(b.len()));
            n
        }

        fn encode(&self, at: Instant, gap: bool, out: &mut [u8]) {
            let mut pos = 0;
            self.write(at, gap, &mut |b| {
                if let Some(dst) = out.get_mut(pos..pos + b.len()) {
                    dst.copy_from_slice(b);
                }
                pos += b.len();
            });
        }
    }

    /// Reads a record.
    #[derive(Clone)]
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if n > self.0.len() {
                return None;
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Some(a)
        }
        fn u32(&mut self) -> Option<usize> {
            let b = self.take(4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        fn string(&mut self) -> Option<&'a [u8]> {
            let n = self.u32()?;
            self.take(n)
        }
        fn list(&mut self) -> Option<List<'a>> {
            let n = self.u32()?;
            let all = self.0;
            for _ in 0..n {
                self.string()?;
            }
            Some(List(&all[..all.len() - self.0.len()]))
        }
    }

    /// A list of strings of a record.
    #[derive(Clone, Copy)]
    pub(crate) struct List<'a>(&'a [u8]);

    impl<'a> List<'a> {
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a> {
            let mut r = Reader(self.0);
            core::iter::from_fn(move || r.string())
        }
    }

    /// A logged event, read back.
    pub(crate) struct View<'a> {
        pub gap: bool,
        pub nsp: &'a [u8],
        pub rooms: List<'a>,
        pub except: List<'a>,
        pub text: &'a str,
        pub attachments: List<'a>,
    }

    /// The time of a record.
    fn time_of(record: &[u8]) -> Option<Instant> {
        let b = record.get(..8)?;
        let mut at = [0; 8];
        at.copy_from_slice(b);
        Some(Instant::from_millis(u64::from_le_bytes(at)))
    }

    impl<'a> View<'a> {
        fn decode(record: &'a [u8]) -> Option<Self> {
            let mut r = Reader(record);
            r.take(8)?;
            let gap = r.take(1)?[0] != 0;
            let nsp = r.string()?;
            let rooms = r.list()?;
            let except = r.list()?;
            let text = core::str::from_utf8(r.string()?).ok()?;
            let attachments = r.list()?;
            Some(View {
                gap,
                nsp,
                rooms,
                except,
                text,
                attachments,
            })
        }
    }

    /// A socket kept after its session was lost.
    #[derive(Clone, Debug)]
    pub(crate) struct Saved {
        pub socket: Sid,
        pub nsp: Nsp,
        pub data: Data,
        /// The log position at which the socket was first accepted.
        pub start: u64,
        pub expires: Instant,
    }

    /// The log and the kept sessions, in the storage `S` chooses.
    pub(crate) struct Log<S: Recovery> {
        pub config: Config,
        next: u64,
        entries: S::Log,
        /// The costs of the records held ([`Records::cost`]).
        bytes: usize,
        saved: S::Table<Sid, Saved>,
        /// The pid of each kept socket.
        kept: S::Table<Sid, Sid>,
        expiries: S::Deadlines<Sid>,
        /// Recovering CONNECTs waiting for the application (middleware run).
        claims: S::Table<(Sid, Nsp), Claim>,
        stats: Stats,
    }

    impl<S: Recovery> Log<S> {
        pub fn new(config: Config) -> Self {
            Log {
                config,
                next: 1,
                entries: S::log(),
                bytes: 0,
                saved: Default::default(),
                kept: Default::default(),
                expiries: Default::default(),
                claims: Default::default(),
                stats: Stats::default(),
            }
        }

        /// The offset the next entry gets.
        pub fn next_offset(&self) -> u64 {
            self.next
        }

        /// The offset an event carries: a logged one its own (the next), a
        /// volatile one the last logged (0: none yet).
        pub fn offset_for(&self, volatile: bool) -> u64 {
            if volatile { self.next - 1 } else { self.next }
        }

        /// The oldest record: its offset and bytes.
        fn front(&self) -> Option<(u64, &[u8])> {
            let (key, bytes, _) = self.entries.read(self.entries.seek(0))?;
            Some((key, bytes))
        }

        /// The oldest offset still held (the next one when empty).
        pub fn first_kept(&self) -> u64 {
            self.front().map_or(self.next, |(offset, _)| offset)
        }

        fn budget(&self) -> usize {
            self.config.max_log_bytes.min(self.entries.capacity())
        }

        fn pop_front(&mut self) -> bool {
            let Some((_, bytes)) = self.front() else {
                return false;
            };
            self.bytes = self.bytes.saturating_sub(S::Log::cost(bytes.len()));
            self.entries.pop()
        }

        fn clear(&mut self) {
            while self.pop_front() {}
            self.bytes = 0;
        }

        /// Logs `entry` under the next offset and drops what no longer
        /// fits, the oldest first. An entry larger than the whole log is
        /// kept as a gap (its targets only); if even that is too large, the
        /// log is emptied: every socket that could have missed it is told
        /// (`missed`) on recovery.
        pub fn push(&mut self, now: Instant, entry: &Entry<'_>) {
            let offset = self.next;
            self.next += 1;
            let budget = self.budget();
            let mut gap = false;
            let mut len = entry.len(false);
            if S::Log::cost(len) > budget {
                gap = true;
                len = entry.len(true);
            }
            let cost = S::Log::cost(len);
            if cost > budget {
                self.clear();
                return;
            }
            while self.bytes.saturating_add(cost) > budget && self.pop_front() {}
            let mut write = |out: &mut [u8]| entry.encode(now, gap, out);
            if !self.entries.push(offset, len, &mut write) {
                self.clear();
                return;
            }
            self.bytes += cost;
            self.prune(now);
            self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes);
            self.stats.peak_entries = self.stats.peak_entries.max(self.entries.len());
        }

        fn prune(&mut self, now: Instant) {
            let max_age = self.config.max_disconnection;
            while let Some((_, record)) = self.front() {
                let old = time_of(record).is_none_or(|at| at + max_age <= now);
                if !(old
                    || self.bytes > self.budget()
                    || self.entries.len() > self.config.max_log_entries)
                {
                    break;
                }
                self.pop_front();
            }
        }

        /// The entries from offset `from` on.
        pub fn since(&self, from: u64) -> impl Iterator<Item = View<'_>> {
            let mut at = self.entries.seek(from);
            core::iter::from_fn(move || {
                loop {
                    let (_, record, next) = self.entries.read(at)?;
                    at = next;
                    if let Some(v) = View::decode(record) {
                        return Some(v);
                    }
                }
            })
        }

        /// Keeps `pid`'s socket until `saved.expires`; calls `gone` with the
        /// socket id of each session dropped to make room (or with this
        /// one's, if the tables cannot take it).
        pub fn save(&mut self, pid: Sid, saved: Saved, gone: &mut dyn FnMut(Sid)) {
            self.remove(&pid);
            let max = self.config.max_sessions.clamp(1, S::KEPT.max(1));
            while self.saved.len() >= max {
                let Some(oldest) = self.expiries.first().and_then(|t| self.expiries.pop_due(t))
                else {
                    break;
                };
                if let Some(s) = self.saved.remove(&oldest) {
                    self.kept.remove(&s.socket);
                    gone(s.socket);
                }
            }
            let (socket, expires) = (saved.socket, saved.expires);
            if self.saved.insert(pid, saved).is_err() {
                gone(socket);
                return;
            }
            let timed = self.expiries.update(pid, None, Some(expires)).is_ok();
            if !timed || self.kept.insert(socket, pid).is_err() {
                self.remove(&pid);
                gone(socket);
                return;
            }
            self.stats.peak_sessions = self.stats.peak_sessions.max(self.saved.len());
        }

        /// Takes back `pid`'s kept socket, if it has not expired (an expired
        /// one stays for [`sweep`](Self::sweep), which takes its rooms).
        pub fn take(&mut self, now: Instant, pid: &Sid) -> Option<Saved> {
            if self.saved.get(pid)?.expires <= now {
                return None;
            }
            self.remove(pid)
        }

        fn remove(&mut self, pid: &Sid) -> Option<Saved> {
            let saved = self.saved.remove(pid)?;
            let _ = self.expiries.update(*pid, Some(saved.expires), None);
            self.kept.remove(&saved.socket);
            Some(saved)
        }

        /// Calls `f` with every kept socket.
        pub fn for_each_kept(&self, f: &mut dyn FnMut(Sid)) {
            self.kept.for_each(|socket, _| f(*socket));
        }

        /// The namespace of `socket` if it is kept (lost, not expired).
        pub fn kept_in(&self, socket: &Sid) -> Option<&str> {
            let pid = self.kept.get(socket)?;
            self.saved.get(pid).map(|s| s.nsp.as_str())
        }

        /// Drops old entries and expired sessions; calls `gone` with the
        /// socket id of each expired session.
        pub fn sweep(&mut self, now: Instant, gone: &mut dyn FnMut(Sid)) {
            self.prune(now);
            while let Some(pid) = self.expiries.pop_due(now) {
                if let Some(s) = self.saved.remove(&pid) {
                    self.kept.remove(&s.socket);
                    gone(s.socket);
                }
            }
        }

        /// When [`sweep`](Self::sweep) has work next.
        pub fn next_deadline(&self) -> Option<Instant> {
            let log = self
                .front()
                .and_then(|(_, r)| time_of(r))
                .map(|at| at + self.config.max_disconnection);
            let session = self.expiries.first();
            match (log, session) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }

        /// Keeps a recovering CONNECT for the application's answer; a full
        /// table drops it (the CONNECT is then a fresh one).
        pub fn hold_claim(&mut self, sid: Sid, nsp: &str, claim: Claim) {
            let Ok(nsp) = Nsp::try_from(nsp) else { return };
            let key = (sid, nsp);
            self.claims.remove(&key);
            let _ = self.claims.insert(key, claim);
        }

        /// The recovering CONNECT of `sid` to `nsp`, taken.
        pub fn take_claim(&mut self, sid: Sid, nsp: &str) -> Option<Claim> {
            let nsp = Nsp::try_from(nsp).ok()?;
            self.claims.remove(&(sid, nsp))
        }

        /// Forgets every recovering CONNECT of session `sid`.
        pub fn drop_claims(&mut self, sid: Sid) {
            loop {
                let mut found = None;
                self.claims.for_each(|key, _| {
                    if key.0 == sid {
                        found = Some(key.clone());
                    }
                });
                match found {
                    Some(key) => {
                        self.claims.remove(&key);
                    }
                    None => break,
                }
            }
        }

        /// Counts a recovery.
        pub fn recovered(&mut self) {
            self.stats.recovered += 1;
        }

        pub fn stats(&self) -> Stats {
            Stats {
                entries: self.entries.len(),
                bytes: self.bytes,
                sessions: self.saved.len(),
                ..self.stats
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_appended_as_strings() {
        assert_eq!(offset_suffix("", 3), "\"3\"");
        assert_eq!(offset_suffix(" ", 3), "\"3\"");
        assert_eq!(offset_suffix("1,\"a\"", 12), ",\"12\"");
    }

    #[test]
    fn claims_need_a_string_pid() {
        let pid = "AAAAAAAAAAAAAAAAAAAB";
        let c = claim(Some(&alloc::format!(r#"{{"pid":"{pid}","offset":"7"}}"#))).unwrap();
        assert_eq!((c.pid.as_str(), c.offset), (pid, Some(7)));
        let c = claim(Some(&alloc::format!(r#"{{"pid":"{pid}"}}"#))).unwrap();
        assert_eq!(c.offset, None);
        assert!(claim(Some(r#"{"pid":3}"#)).is_none());
        assert!(claim(Some(r#"{"token":"x"}"#)).is_none());
        assert!(claim(None).is_none());
    }
}
