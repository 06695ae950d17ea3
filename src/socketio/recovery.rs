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
//! # Bounds
//!
//! The log is bounded by bytes ([`Config::max_log_bytes`]), by entries
//! ([`Config::max_log_entries`]) and by age ([`Config::max_disconnection`]);
//! kept sessions by [`Config::max_sessions`] (the oldest goes first). The log
//! needs the `alloc` feature: without it the setting is ignored and no offset
//! or pid is sent. There is one log for all namespaces (offsets are unique
//! across them), each entry tagged with its namespace.

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
    pub max_log_bytes: usize,
    /// The most entries the log holds. Default 100 000.
    pub max_log_entries: usize,
    /// The most sessions kept at once; the oldest goes first. Default
    /// 100 000.
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

/// `args` with `offset` appended as a JSON string.
#[cfg(feature = "alloc")]
pub(crate) fn with_offset(args: &str, offset: u64) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::with_capacity(args.len() + 24);
    s.push_str(args);
    if !args.trim().is_empty() {
        s.push(',');
    }
    let _ = write!(s, "\"{offset}\"");
    s
}

/// The pid and offset of a recovering CONNECT's auth, if it names a pid.
#[cfg(feature = "alloc")]
pub(crate) fn claim(auth: Option<&str>) -> Option<Claim> {
    let auth = auth?;
    let string =
        |key| crate::json::get(auth, key).and_then(|v| v.strip_prefix('"')?.strip_suffix('"'));
    let pid = crate::engineio::Sid::parse(string("pid")?)?;
    let offset = string("offset").and_then(|o| o.parse().ok());
    Some(Claim { pid, offset })
}

/// What a recovering CONNECT claims.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub pid: crate::engineio::Sid,
    pub offset: Option<u64>,
}

#[cfg(feature = "alloc")]
pub(crate) use log::{Entry, Log, Saved};

#[cfg(feature = "alloc")]
mod log {
    use super::{Claim, Config, Data, Stats};
    use crate::engineio::Sid;
    use crate::time::Instant;
    use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
    use alloc::string::String;
    use alloc::vec::Vec;

    /// The fixed cost counted per entry besides its bytes.
    const ENTRY_COST: usize = 96;

    /// One logged event.
    #[derive(Debug)]
    pub(crate) struct Entry {
        pub offset: u64,
        pub at: Instant,
        pub nsp: String,
        /// Target rooms (socket ids count as rooms); empty: the namespace.
        pub rooms: Vec<String>,
        pub except: Vec<String>,
        /// The Socket.IO packet text, offset included.
        pub text: String,
        pub attachments: Vec<Vec<u8>>,
    }

    impl Entry {
        fn cost(&self) -> usize {
            ENTRY_COST
                + self.nsp.len()
                + self.text.len()
                + self
                    .rooms
                    .iter()
                    .chain(&self.except)
                    .map(|r| r.len() + 24)
                    .sum::<usize>()
                + self.attachments.iter().map(|a| a.len() + 24).sum::<usize>()
        }
    }

    /// A socket kept after its session was lost.
    #[derive(Clone, Debug)]
    pub(crate) struct Saved {
        pub socket: Sid,
        pub nsp: heapless::String<{ crate::socketio::MAX_NAMESPACE_LEN }>,
        pub data: Data,
        /// The log position at which the socket was first accepted.
        pub start: u64,
        pub expires: Instant,
    }

    /// The log and the kept sessions.
    #[derive(Debug)]
    pub(crate) struct Log {
        pub config: Config,
        next: u64,
        entries: VecDeque<Entry>,
        bytes: usize,
        saved: BTreeMap<Sid, Saved>,
        /// The pid of each kept socket.
        kept: BTreeMap<Sid, Sid>,
        expiries: BTreeSet<(Instant, Sid)>,
        /// Recovering CONNECTs waiting for the application (middleware run).
        pub claims: BTreeMap<(Sid, String), Claim>,
        stats: Stats,
    }

    impl Log {
        pub fn new(config: Config) -> Self {
            Log {
                config,
                next: 1,
                entries: VecDeque::new(),
                bytes: 0,
                saved: BTreeMap::new(),
                kept: BTreeMap::new(),
                expiries: BTreeSet::new(),
                claims: BTreeMap::new(),
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

        /// The oldest offset still held (the next one when empty).
        pub fn first_kept(&self) -> u64 {
            self.entries.front().map_or(self.next, |e| e.offset)
        }

        /// Logs `entry` (its offset must be [`next_offset`](Self::next_offset))
        /// and drops what no longer fits.
        pub fn push(&mut self, now: Instant, entry: Entry) {
            self.next = entry.offset + 1;
            self.bytes += entry.cost();
            self.entries.push_back(entry);
            self.prune(now);
            self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes);
            self.stats.peak_entries = self.stats.peak_entries.max(self.entries.len());
        }

        fn prune(&mut self, now: Instant) {
            let max_age = self.config.max_disconnection;
            while let Some(e) = self.entries.front() {
                let old = e.at + max_age <= now;
                if !(old
                    || self.bytes > self.config.max_log_bytes
                    || self.entries.len() > self.config.max_log_entries)
                {
                    break;
                }
                self.bytes -= e.cost();
                self.entries.pop_front();
            }
        }

        /// The entries from offset `from` on.
        pub fn since(&self, from: u64) -> impl Iterator<Item = &Entry> {
            let i = self.entries.partition_point(|e| e.offset < from);
            self.entries.range(i..)
        }

        /// Keeps `pid`'s socket until `saved.expires`; calls `gone` with the
        /// socket id of each session dropped to make room.
        pub fn save(&mut self, pid: Sid, saved: Saved, gone: &mut dyn FnMut(Sid)) {
            while self.saved.len() >= self.config.max_sessions.max(1) {
                let Some((_, oldest)) = self.expiries.pop_first() else {
                    break;
                };
                if let Some(s) = self.remove(&oldest) {
                    gone(s.socket);
                }
            }
            self.remove(&pid);
            self.expiries.insert((saved.expires, pid));
            self.kept.insert(saved.socket, pid);
            self.saved.insert(pid, saved);
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
            self.expiries.remove(&(saved.expires, *pid));
            self.kept.remove(&saved.socket);
            Some(saved)
        }

        /// Calls `f` with every kept socket.
        pub fn for_each_kept(&self, f: &mut dyn FnMut(Sid)) {
            for socket in self.kept.keys() {
                f(*socket);
            }
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
            while let Some(&(at, pid)) = self.expiries.first() {
                if at > now {
                    break;
                }
                self.expiries.pop_first();
                if let Some(s) = self.remove(&pid) {
                    gone(s.socket);
                }
            }
        }

        /// When [`sweep`](Self::sweep) has work next.
        pub fn next_deadline(&self) -> Option<Instant> {
            let log = self
                .entries
                .front()
                .map(|e| e.at + self.config.max_disconnection);
            let session = self.expiries.first().map(|(at, _)| *at);
            match (log, session) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
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
        assert_eq!(with_offset("", 3), "\"3\"");
        assert_eq!(with_offset("1,\"a\"", 12), "1,\"a\",\"12\"");
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
