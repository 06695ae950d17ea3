//! The Socket.IO server endpoint: an [`engineio::Server`] and the Socket.IO
//! state of every session on it.
//!
//! [`Server`] owns the Engine.IO endpoint (every TCP connection, the routing,
//! the sessions) and stacks a [`Connection`] on each session: namespaces,
//! CONNECT and its answer, acks both ways with timeouts, binary attachments,
//! the connect timeout. On top it keeps what spans sessions: the socket ids
//! (one per session and namespace, distinct from the Engine.IO sid, as in the
//! reference) and the rooms of each namespace. Commands are addressed by
//! socket id; broadcasts by namespace, rooms and exceptions. With
//! [`Server::set_recovery`], it also keeps the log and the lost sockets of
//! connection state recovery (see [`recovery`]).
//!
//! The verbs are the Engine.IO endpoint's: [`handle_accept`](Server::handle_accept),
//! [`handle_input`](Server::handle_input) (which returns at most one
//! [`Event`] per call, borrowed from the input),
//! [`handle_closed`](Server::handle_closed), [`poll_transmit`](Server::poll_transmit),
//! [`poll_event`](Server::poll_event) (disconnects and timeouts),
//! [`poll_timeout`](Server::poll_timeout) / [`handle_timeout`](Server::handle_timeout).
//!
//! ```
//! use sockwire::engineio;
//! use sockwire::entropy::SplitMix64;
//! use sockwire::socketio::{Config, Server, Event};
//! use sockwire::socketio::rooms::IndexedRooms;
//! use sockwire::storage::Growable;
//! use sockwire::time::Instant;
//!
//! let eio = engineio::Config { path: "/socket.io/", ..engineio::Config::default() };
//! let mut io: Server<u32, Growable, SplitMix64, IndexedRooms> =
//!     Server::new(eio, Config::default(), SplitMix64::new(7));
//! let now = Instant::from_millis(0);
//! let mut get = *b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
//! io.handle_input(now, 1, &mut get).unwrap();
//! let mut out = vec![0u8; 4096];
//! let t = io.poll_transmit(&mut out).unwrap().unwrap();
//! let text = std::str::from_utf8(&out[..t.len]).unwrap();
//! let sid = &text[text.find("\"sid\":\"").unwrap() + 7..][..20];
//! // The client joins `/`, the application accepts and puts it in a room.
//! let post = format!("POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40");
//! let mut post = post.into_bytes();
//! let head = post.len() - 2;
//! assert_eq!(io.handle_input(now, 2, &mut post).unwrap().consumed, head);
//! let input = io.handle_input(now, 2, &mut post[head..]).unwrap();
//! let Some(Event::Connect { sid, nsp: "/", auth: None }) = input.message else { panic!() };
//! let socket = io.accept(&sid, "/").unwrap();
//! io.join(&socket, "lobby").unwrap();
//! let sent = io.broadcast("/", &["lobby"], &[], "hello", "\"all\"", &[]).unwrap();
//! assert_eq!(sent.delivered, 1);
//! ```

use super::recovery;
use super::rooms::RoomTable;
use super::server::{self as conn, Assembler, Connection, Event as ConnEvent, EventText};
use super::{Config, Error, Message, Notice};
use crate::engineio::{self, CloseReason, Data, Session, Sid, Transmit, UserState};
use crate::entropy::Entropy;
use crate::storage::{Buffer, Buffers, Map, Recovery, Storage};
use crate::time::{Duration, Instant};
use crate::ws::{MessageKind, ServerFrameHead};

/// The Socket.IO state of one Engine.IO session (internal; public only as a
/// table entry type).
#[derive(Debug)]
pub struct State<B> {
    conn: Connection,
    asm: Assembler<B>,
}

/// What a session's state is made from.
#[derive(Clone, Copy, Debug)]
pub struct StateInit {
    config: Config,
    assembler_len: usize,
}

impl<B: Buffer> UserState<B> for State<B> {
    type Init = StateInit;
    fn new(init: &StateInit, now: Instant, buffer: fn(usize) -> B) -> Self {
        State {
            conn: Connection::new(now, init.config),
            asm: Assembler::new(buffer(init.assembler_len)),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
}

/// Where a socket lives, and what recovery keeps of it.
#[derive(Clone, Debug)]
pub struct SocketRef {
    sid: Sid,
    nsp: heapless::String<{ conn::MAX_NAMESPACE_LEN }>,
    /// The private id of connection state recovery (unused without it).
    pid: Sid,
    /// The log position at which the socket was first accepted.
    start: u64,
    data: recovery::Data,
}

/// The recovery log, when recovery is on.
type LogSlot<S> = Option<recovery::Log<S>>;

/// The former name of [`Event`].
pub type ServerEvent<'a> = Event<'a>;

/// What the application learns from [`Server::handle_input`] and
/// [`Server::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Session `sid` asks to join `nsp` (a namespace that exists): answer
    /// with [`Server::accept`] or [`Server::refuse`] (the reference's
    /// middleware decides here). No answer within the connect timeout closes
    /// the session.
    Connect {
        /// The Engine.IO session.
        sid: Sid,
        /// The namespace.
        nsp: &'a str,
        /// The handshake auth, raw JSON, if any.
        auth: Option<&'a str>,
    },
    /// An event from `socket`.
    Event {
        /// The socket.
        socket: Sid,
        /// Its namespace, ack id, JSON array and attachments.
        message: Message<'a>,
    },
    /// The answer to one of [`Server::emit_with_ack`]'s events.
    Ack {
        /// The socket.
        socket: Sid,
        /// The ack.
        message: Message<'a>,
    },
    /// `socket` left: the client disconnected its namespace, or the session
    /// closed; its rooms are gone. With recovery on ([`Server::set_recovery`]), a
    /// socket lost with its session (not by the client's DISCONNECT, not on
    /// a parse error) keeps its rooms while it is kept for recovery: an
    /// [`Event::Recovered`] may bring it back.
    Disconnect {
        /// The socket.
        socket: Sid,
        /// Why, as the reference names it (`client namespace disconnect`,
        /// `transport close`, `ping timeout`, ...).
        reason: &'static str,
    },
    /// No ack came in time for `id` from [`Server::emit_with_ack`].
    AckTimeout {
        /// The Engine.IO session.
        sid: Sid,
        /// The ack id.
        id: u64,
    },
    /// Session `sid` joined no namespace within the connect timeout; it is
    /// being closed.
    ConnectTimeout {
        /// The Engine.IO session.
        sid: Sid,
    },
    /// Session `sid` broke the protocol; it is being closed.
    ProtocolError {
        /// The Engine.IO session.
        sid: Sid,
        /// What it did.
        error: Error,
    },
    /// Connection state recovery ([`Server::set_recovery`]): session `sid`
    /// reconnected as `socket`, a socket lost with an earlier session (or
    /// still on one not yet found dead), and got back its socket id, its
    /// rooms and its data slot; the events logged for it since its offset
    /// were queued before the CONNECT reply. This is the connect event of a
    /// recovered socket: with `skip_middlewares` it comes from
    /// [`Server::handle_input`] instead of [`Event::Connect`] (the server
    /// answered the CONNECT itself); without, from [`Server::poll_event`]
    /// after the application's [`Server::accept`]. [`Server::socket`] gives
    /// its namespace.
    Recovered {
        /// The Engine.IO session.
        sid: Sid,
        /// The socket, with its id of before.
        socket: Sid,
        /// The events replayed.
        replayed: usize,
        /// True when the log no longer held every event after the client's
        /// offset (it aged out, the log was full, or an event meant for it
        /// was larger than the whole log): some may be missing.
        /// The client got a new pid, so socket.io-client reports
        /// `recovered: false` and resynchronises as it would after a fresh
        /// start, while the socket keeps its id, rooms and data.
        missed: bool,
    },
    /// A socket kept for recovery is dropped for good: its client did not
    /// come back within `max_disconnection`, or the oldest kept socket made
    /// room (`max_sessions`, or `K` of lent storage
    /// [`Fixed`](crate::storage::Fixed)), or [`Server::set_recovery`] was
    /// called again.
    /// Its rooms and data slot are gone; a CONNECT with its pid starts
    /// afresh.
    Expired {
        /// The socket.
        socket: Sid,
    },
}

/// The result of a [`Server::broadcast`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Broadcast {
    /// Sockets whose session queued the packet.
    pub delivered: usize,
    /// Sockets whose session's queue was full: not queued, and counted, never
    /// dropped in silence.
    pub full: usize,
}

type Buf<S> = <S as Buffers>::Buf;
type Eio<H, S, E> = engineio::Server<H, State<Buf<S>>, S, E>;

/// The notices waiting for [`Server::poll_event`]: with `alloc` a queue that
/// grows (a thousand sessions may time out at once), without it a fixed one
/// of 64, past which timeouts and errors wait in their connections' own
/// queues; disconnects need the application to poll before 64 accumulate.
#[cfg(feature = "alloc")]
type PendingQueue = alloc::collections::VecDeque<Pending>;
#[cfg(not(feature = "alloc"))]
type PendingQueue = heapless::Deque<Pending, 64>;

/// Appends to the pending queue; false when a fixed one is full.
fn push_pending(q: &mut PendingQueue, p: Pending) -> bool {
    #[cfg(feature = "alloc")]
    {
        q.push_back(p);
        true
    }
    #[cfg(not(feature = "alloc"))]
    {
        q.push_back(p).is_ok()
    }
}

fn pending_full(q: &PendingQueue) -> bool {
    #[cfg(feature = "alloc")]
    {
        let _ = q;
        false
    }
    #[cfg(not(feature = "alloc"))]
    {
        q.is_full()
    }
}

/// A notice waiting for [`Server::poll_event`] (never one that borrows).
type Pending = Event<'static>;

/// The Socket.IO server endpoint.
///
/// - `H` names TCP connections; `S` stores the tables
///   ([`storage::Fixed`](crate::storage::Fixed) or `storage::Growable`);
///   `E` is the entropy for session and socket ids; `R` is the room table
///   ([`Rooms`](super::Rooms) without a heap, `IndexedRooms` with one).
///
/// See the [module docs](self).
pub struct Server<H, S, E, R>
where
    S: Storage<H, Sid, engineio::server::Conn, engineio::server::Entry<H, Buf<S>, State<Buf<S>>>>
        + Storage<Sid, Sid, SocketRef, ()>,
{
    eio: Eio<H, S, E>,
    config: Config,
    sockets: <S as Storage<Sid, Sid, SocketRef, ()>>::Conns,
    rooms: R,
    pending: PendingQueue,
    /// The Redis adapter, when the server is one node of a cluster
    /// ([`Server::enable_adapter`], in `socketio::adapter`).
    pub(crate) adapter: Option<super::adapter::Link>,
    /// The time of the latest input, for what `poll_event` keeps.
    now: Instant,
    log: LogSlot<S>,
    /// A pid ready for a recovery that must hand out a new one.
    spare_pid: Option<Sid>,
}

impl<H, S, E, R> core::fmt::Debug for Server<H, S, E, R>
where
    S: Storage<H, Sid, engineio::server::Conn, engineio::server::Entry<H, Buf<S>, State<Buf<S>>>>
        + Storage<Sid, Sid, SocketRef, ()>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("socketio::Server")
            .field("sockets", &self.sockets.len())
            .finish_non_exhaustive()
    }
}

impl<H, S, E, R> Server<H, S, E, R>
where
    H: Copy + Ord + core::fmt::Debug,
    S: Storage<H, Sid, engineio::server::Conn, engineio::server::Entry<H, Buf<S>, State<Buf<S>>>>
        + Storage<Sid, Sid, SocketRef, ()>,
    E: Entropy,
    R: RoomTable,
{
    /// A server with the Engine.IO settings `eio` and the Socket.IO settings
    /// `config`. Binary packets are assembled in a buffer of `max_payload`
    /// bytes per session.
    pub fn new(eio: engineio::Config, config: Config, entropy: E) -> Self {
        let init = StateInit {
            config,
            assembler_len: eio.max_payload,
        };
        Server {
            eio: engineio::Server::with_state(eio, init, entropy),
            config,
            sockets: Default::default(),
            rooms: R::default(),
            pending: PendingQueue::new(),
            adapter: None,
            now: Instant::from_millis(0),
            log: None,
            spare_pid: None,
        }
    }

    /// The Engine.IO endpoint underneath (its sessions, its counters).
    pub fn engine(&self) -> &Eio<H, S, E> {
        &self.eio
    }

    /// The Socket.IO settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of sockets (session and namespace pairs).
    pub fn sockets(&self) -> usize {
        self.sockets.len()
    }

    /// The Engine.IO session and namespace of `socket`.
    pub fn socket(&self, socket: &Sid) -> Option<(Sid, &str)> {
        self.sockets.get(socket).map(|r| (r.sid, r.nsp.as_str()))
    }

    /// The room table.
    pub fn rooms(&self) -> &R {
        &self.rooms
    }

    /// Calls `f` with every socket and its namespace.
    /// The entropy source (for the cluster's request ids).
    pub(crate) fn engine_entropy(&mut self) -> &mut E {
        self.eio.entropy()
    }

    pub(crate) fn for_each_socket(&self, f: &mut dyn FnMut(Sid, &str)) {
        self.sockets.for_each(|socket, r| f(*socket, &r.nsp));
    }

    fn recovery_on(&self) -> bool {
        self.log.is_some()
    }

    /// The log position the next logged event gets (0 without recovery).
    fn next_offset(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.next_offset())
    }

    /// Turns connection state recovery on with the settings `recovery`, or
    /// off with `None` (the default, as in the reference); see [`recovery`].
    /// The log and the kept sessions live in the storage `S`: on the heap
    /// with `storage::Growable`, in [`Fixed`](crate::storage::Fixed)'s lent
    /// `L` bytes and `K` sessions without one.
    ///
    /// Set it before serving: sockets accepted earlier have no pid, and a
    /// later call starts an empty log and forgets the sockets kept for
    /// recovery (their rooms are left).
    ///
    /// Errors: [`Error::NoRecoveryStorage`] when `S` has no room for a log
    /// or for a kept session (`Fixed` with `L` or `K` 0, its defaults);
    /// nothing changes then.
    pub fn set_recovery(&mut self, recovery: Option<recovery::Config>) -> Result<(), Error> {
        if recovery.is_some() && (S::LOG_BYTES == 0 || S::KEPT == 0) {
            return Err(Error::NoRecoveryStorage);
        }
        if let Some(old) = self.log.take() {
            let (rooms, pending) = (&mut self.rooms, &mut self.pending);
            old.for_each_kept(&mut |socket| drop_kept(rooms, pending, socket));
        }
        self.log = recovery.map(recovery::Log::new);
        Ok(())
    }

    /// The recovery log's size now and at its peak, and the sessions kept;
    /// `None` when recovery is off.
    pub fn recovery_stats(&self) -> Option<recovery::Stats> {
        self.log.as_ref().map(|l| l.stats())
    }

    /// Sets `socket`'s application-data slot (kept with the socket through
    /// a recovery, as the reference keeps `socket.data`).
    ///
    /// Errors: [`Error::NotConnected`], [`Error::InvalidPayload`] when
    /// `data` is longer than [`recovery::MAX_DATA_LEN`].
    pub fn set_data(&mut self, socket: &Sid, data: &[u8]) -> Result<(), Error> {
        let r = self.sockets.get_mut(socket).ok_or(Error::NotConnected)?;
        r.data = recovery::Data::from_slice(data).map_err(|_| Error::InvalidPayload)?;
        Ok(())
    }

    /// `socket`'s application-data slot (empty until
    /// [`set_data`](Self::set_data)).
    pub fn data(&self, socket: &Sid) -> Option<&[u8]> {
        self.sockets.get(socket).map(|r| r.data.as_slice())
    }

    // ------------------------------------------------------------------
    // Input (the Engine.IO endpoint's verbs)
    // ------------------------------------------------------------------

    /// See [`engineio::Server::handle_accept`].
    pub fn handle_accept(&mut self, now: Instant, conn: H) -> Result<(), engineio::Error> {
        self.now = now;
        self.eio.handle_accept(now, conn)
    }

    /// Bytes from connection `conn` (see [`engineio::Server::handle_input`]):
    /// returns how many were consumed and at most one event, borrowed from the
    /// input (or the session's assembler, for binary packets).
    pub fn handle_input<'a>(
        &'a mut self,
        now: Instant,
        conn: H,
        input: &'a mut [u8],
    ) -> Result<engineio::Input<Event<'a>>, engineio::Error> {
        self.now = now;
        if self.recovery_on() && self.spare_pid.is_none() {
            self.spare_pid = Some(Sid::random(self.eio.entropy()));
        }
        let mut cx = Cx {
            sockets: &mut self.sockets,
            rooms: &mut self.rooms,
            pending: &mut self.pending,
            log: &mut self.log,
            spare_pid: &mut self.spare_pid,
        };
        let r = self
            .eio
            .input_with(now, conn, input, |now, sid, session, state, data| {
                on_message(now, sid, session, state, data, &mut cx)
            })?;
        Ok(engineio::Input {
            consumed: r.consumed,
            message: r.message.flatten(),
            blocked: r.blocked,
            again: r.again,
        })
    }

    /// See [`engineio::Server::handle_closed`].
    pub fn handle_closed(&mut self, now: Instant, conn: H) {
        self.now = now;
        self.eio.handle_closed(now, conn);
    }

    /// See [`engineio::Server::set_paused`].
    pub fn set_paused(&mut self, conn: H, paused: bool) {
        self.eio.set_paused(conn, paused);
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Accepts session `sid` into `nsp` (after [`Event::Connect`]) with
    /// a fresh socket id, answering its CONNECT.
    ///
    /// With recovery on, the reply carries a fresh pid; and if the CONNECT
    /// was a recovering one that went to the application
    /// (`skip_middlewares` false), the socket is recovered here: its old id
    /// is returned and [`Event::Recovered`] follows from
    /// [`poll_event`](Self::poll_event).
    pub fn accept(&mut self, sid: &Sid, nsp: &str) -> Result<Sid, Error> {
        if let Some(socket) = self.accept_recovering(sid, nsp)? {
            return Ok(socket);
        }
        let socket = Sid::random(self.eio.entropy());
        let name = heapless::String::try_from(nsp).map_err(|_| Error::NamespaceTooLong)?;
        let pid = if self.recovery_on() {
            Some(Sid::random(self.eio.entropy()))
        } else {
            None
        };
        let accepted = self
            .eio
            .with_session(sid, |s, st| {
                st.conn.accept_with_pid(s, nsp, socket, pid.as_ref())
            })
            .ok_or(Error::NotConnected)??;
        if self
            .sockets
            .insert(
                accepted,
                SocketRef {
                    sid: *sid,
                    nsp: name,
                    pid: pid.unwrap_or(Sid::ZERO),
                    start: self.next_offset(),
                    data: recovery::Data::new(),
                },
            )
            .is_err()
        {
            // The socket table is full: take it back.
            let _ = self
                .eio
                .with_session(sid, |s, st| st.conn.disconnect(s, nsp));
            return Err(Error::RoomsFull);
        }
        Ok(accepted)
    }

    /// Refuses session `sid`'s CONNECT to `nsp` with CONNECT_ERROR
    /// `{"message": message}`.
    pub fn refuse(&mut self, sid: &Sid, nsp: &str, message: &str) -> Result<(), Error> {
        self.drop_claim(sid, nsp);
        self.eio
            .with_session(sid, |s, st| st.conn.refuse_with_message(s, nsp, message))
            .ok_or(Error::NotConnected)?
    }

    /// Refuses with CONNECT_ERROR carrying `data`, raw JSON (an object with
    /// `message` and `data`, as the reference's middleware errors).
    pub fn refuse_with(&mut self, sid: &Sid, nsp: &str, data: &str) -> Result<(), Error> {
        self.drop_claim(sid, nsp);
        self.eio
            .with_session(sid, |s, st| st.conn.refuse(s, nsp, data))
            .ok_or(Error::NotConnected)?
    }

    /// An emit to a socket lost with its session and kept for recovery: only
    /// logged, for the replay (as the reference does).
    fn emit_to_kept(
        &mut self,
        socket: &Sid,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let log = self.log.as_mut().ok_or(Error::NotConnected)?;
        let nsp: heapless::String<{ conn::MAX_NAMESPACE_LEN }> = log
            .kept_in(socket)
            .and_then(|n| n.try_into().ok())
            .ok_or(Error::NotConnected)?;
        let suffix = recovery::offset_suffix(args, log.offset_for(false));
        let args = (args, suffix.as_str());
        let to = (nsp.as_str(), socket);
        log_to_socket(log, self.now, &self.config, to, name, args, attachments)
    }

    fn drop_claim(&mut self, sid: &Sid, nsp: &str) {
        if let Some(log) = &mut self.log {
            log.take_claim(*sid, nsp);
        }
    }

    /// The recovery of a CONNECT that went to the application: `None` when
    /// it was not a recovering one (or its socket is gone).
    fn accept_recovering(&mut self, sid: &Sid, nsp: &str) -> Result<Option<Sid>, Error> {
        let Some(log) = &mut self.log else {
            return Ok(None);
        };
        let Some(claim) = log.take_claim(*sid, nsp) else {
            return Ok(None);
        };
        if self.spare_pid.is_none() {
            self.spare_pid = Some(Sid::random(self.eio.entropy()));
        }
        let now = self.now;
        let mut cx = Cx {
            sockets: &mut self.sockets,
            rooms: &mut self.rooms,
            pending: &mut self.pending,
            log: &mut self.log,
            spare_pid: &mut self.spare_pid,
        };
        let done = self
            .eio
            .with_session(sid, |s, st| {
                recover(now, *sid, s, &mut st.conn, nsp, claim, &mut cx)
            })
            .ok_or(Error::NotConnected)?;
        match done {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(p)) => {
                let _ = push_pending(&mut self.pending, p);
                match p {
                    Event::Recovered { socket, .. } => Ok(Some(socket)),
                    _ => Ok(None),
                }
            }
        }
    }

    fn lookup(&self, socket: &Sid) -> Result<SocketRef, Error> {
        self.sockets.get(socket).cloned().ok_or(Error::NotConnected)
    }

    /// Sends event `name` with `args` (raw JSON values, comma separated) and
    /// binary `attachments` to `socket`.
    ///
    /// With recovery on, the event carries its offset and is logged; to a
    /// socket lost with its session and kept for recovery, it is only logged,
    /// and replayed if the socket comes back.
    pub fn emit(
        &mut self,
        socket: &Sid,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.emit_as(socket, name, args, attachments, false)
    }

    /// [`emit`](Self::emit), volatile: never logged for recovery nor
    /// replayed. With recovery on it carries the log's current offset as
    /// its last argument (see [`recovery`]), so that the client's offset
    /// stays one.
    pub fn emit_volatile(
        &mut self,
        socket: &Sid,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.emit_as(socket, name, args, attachments, true)
    }

    fn emit_as(
        &mut self,
        socket: &Sid,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        volatile: bool,
    ) -> Result<(), Error> {
        if !volatile && self.recovery_on() && self.sockets.get(socket).is_none() {
            return self.emit_to_kept(socket, name, args, attachments);
        }
        let r = self.lookup(socket)?;
        if let Some(log) = &mut self.log {
            let suffix = recovery::offset_suffix(args, log.offset_for(volatile));
            let args = (args, suffix.as_str());
            self.eio
                .with_session(&r.sid, |s, st| {
                    st.conn.emit_with_suffix(s, &r.nsp, name, args, attachments)
                })
                .ok_or(Error::NotConnected)??;
            if !volatile {
                let to = (&*r.nsp, socket);
                log_to_socket(log, self.now, &self.config, to, name, args, attachments)?;
            }
            return Ok(());
        }
        self.eio
            .with_session(&r.sid, |s, st| {
                st.conn.emit(s, &r.nsp, name, args, attachments)
            })
            .ok_or(Error::NotConnected)?
    }

    /// [`emit`](Self::emit) asking for an ack: returns its id, which the
    /// [`Event::Ack`] carries; with a `timeout`, a
    /// [`Event::AckTimeout`] comes instead if it is late.
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        socket: &Sid,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<Duration>,
    ) -> Result<u64, Error> {
        let r = self.lookup(socket)?;
        self.eio
            .with_session(&r.sid, |s, st| {
                st.conn
                    .emit_with_ack(now, s, &r.nsp, name, args, attachments, timeout)
            })
            .ok_or(Error::NotConnected)?
    }

    /// Answers `socket`'s event `ack_id` with `args` and `attachments`.
    pub fn ack(
        &mut self,
        socket: &Sid,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let r = self.lookup(socket)?;
        self.eio
            .with_session(&r.sid, |s, st| {
                st.conn.ack(s, &r.nsp, ack_id, args, attachments)
            })
            .ok_or(Error::NotConnected)?
    }

    /// Puts `socket` in `room` (of its namespace).
    pub fn join(&mut self, socket: &Sid, room: &str) -> Result<(), Error> {
        let r = self.lookup(socket)?;
        self.rooms.join(&r.nsp, room, *socket)
    }

    /// Takes `socket` out of `room`; false if it was not in it.
    pub fn leave(&mut self, socket: &Sid, room: &str) -> bool {
        match self.lookup(socket) {
            Ok(r) => self.rooms.leave(&r.nsp, room, *socket),
            Err(_) => false,
        }
    }

    /// True when `socket` is in `room`.
    pub fn is_in(&self, socket: &Sid, room: &str) -> bool {
        self.sockets
            .get(socket)
            .is_some_and(|r| self.rooms.contains(&r.nsp, room, *socket))
    }

    /// Disconnects `socket` from its namespace (DISCONNECT to the client);
    /// its rooms are gone. The Engine.IO session stays.
    pub fn disconnect(&mut self, socket: &Sid) -> Result<(), Error> {
        let r = self.lookup(socket)?;
        let _ = self
            .eio
            .with_session(&r.sid, |s, st| st.conn.disconnect(s, &r.nsp));
        self.forget(socket, "server namespace disconnect");
        Ok(())
    }

    /// Closes `socket`'s whole Engine.IO session (every namespace on it).
    pub fn close(&mut self, now: Instant, socket: &Sid) -> Result<(), Error> {
        let r = self.lookup(socket)?;
        self.eio.close(now, &r.sid);
        Ok(())
    }

    fn forget(&mut self, socket: &Sid, reason: &'static str) {
        self.forget_as(socket, reason, false);
    }

    /// Removes `socket`; with `keep` (a loss by transport, recovery on) its
    /// rooms stay and it is kept for recovery.
    fn forget_as(&mut self, socket: &Sid, reason: &'static str, keep: bool) {
        if let Some(r) = self.sockets.remove(socket) {
            let kept = match &mut self.log {
                Some(log) if keep => {
                    let expires = self.now + log.config.max_disconnection;
                    let saved = recovery::Saved {
                        socket: *socket,
                        nsp: r.nsp,
                        data: r.data,
                        start: r.start,
                        expires,
                    };
                    let (rooms, pending) = (&mut self.rooms, &mut self.pending);
                    log.save(r.pid, saved, &mut |gone| drop_kept(rooms, pending, gone));
                    true
                }
                _ => false,
            };
            if !kept {
                self.rooms.leave_all(*socket);
            }
            // Without a heap the queue holds 64: poll events at least as often
            // as that many sockets can leave.
            let _ = push_pending(
                &mut self.pending,
                Event::Disconnect {
                    socket: *socket,
                    reason,
                },
            );
        }
    }

    /// Sends event `name` with `args` and `attachments` to every socket of
    /// `nsp` that is in one of `rooms` (every socket of `nsp` when `rooms` is
    /// empty) and in none of `except`; in both, a room may be a socket id:
    /// each socket is also the room named by its id, as in the reference.
    ///
    /// The packet is encoded once and queued on each target's session; a
    /// target whose queue is full is counted in [`Broadcast::full`], not
    /// dropped in silence (all or nothing per target: its text and every
    /// attachment, or none of them). Room members are walked through the room
    /// table, never by scanning other rooms.
    ///
    /// On WebSocket it is also framed once: server frames are unmasked, so
    /// the frames (a text frame for the packet, a binary frame per
    /// attachment) are the same bytes for every target, and each target on
    /// the WebSocket transport queues them as one entry that is copied to the
    /// wire as it is. Targets on polling, or still being upgraded, queue the
    /// packets as [`emit`](Self::emit) does, and so do targets whose
    /// WebSocket negotiated permessage-deflate
    /// (`engineio::Config::per_message_deflate`): RFC 7692 would allow the
    /// shared uncompressed frames, but each such session compresses the
    /// packet with its own context (large broadcasts are what compression is
    /// for).
    /// Without the `alloc` feature the frames are described on the stack for
    /// up to [`MAX_FRAMED_ATTACHMENTS`] attachments; a packet with more is
    /// queued per target as packets, as on polling (the wire bytes are the
    /// same either way). A framed entry takes a little more queue storage
    /// than the packets do: its frame headers (2 to 10 bytes each), less 5
    /// bytes per attachment.
    ///
    /// With recovery on, the event carries its offset as its last argument
    /// and is logged for the sockets that may reconnect.
    pub fn broadcast(
        &mut self,
        nsp: &str,
        rooms: &[&str],
        except: &[&str],
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<Broadcast, Error> {
        self.broadcast_as(nsp, rooms, except, name, args, attachments, false)
    }

    /// [`broadcast`](Self::broadcast), volatile: never logged for recovery
    /// nor replayed; with recovery on it carries the log's current offset
    /// as its last argument (see [`recovery`]).
    pub fn broadcast_volatile(
        &mut self,
        nsp: &str,
        rooms: &[&str],
        except: &[&str],
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<Broadcast, Error> {
        self.broadcast_as(nsp, rooms, except, name, args, attachments, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn broadcast_as(
        &mut self,
        nsp: &str,
        rooms: &[&str],
        except: &[&str],
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        volatile: bool,
    ) -> Result<Broadcast, Error> {
        let text = EventText::new(nsp, None, name, attachments.len(), &self.config.limits)?;
        let suffix = self
            .log
            .as_ref()
            .map(|log| recovery::offset_suffix(args, log.offset_for(volatile)))
            .unwrap_or_default();
        let parts = text.parts_with(args, &suffix);
        let heads = frame_heads(&parts, attachments);
        let framed = heads
            .as_ref()
            .and_then(|h| frame_parts(h, &parts, attachments));
        let mut result = Broadcast::default();
        let eio = &mut self.eio;
        let sockets = &self.sockets;
        let table = &self.rooms;
        let mut send = |socket: Sid| {
            let excluded = except
                .iter()
                .any(|e| table.contains(nsp, e, socket) || Sid::parse(e) == Some(socket));
            if excluded {
                return;
            }
            let Some(r) = sockets.get(&socket) else {
                return;
            };
            let queued = eio.with_session(&r.sid, |s, _| match &framed {
                Some(frames) if s.takes_framed() => s.send_framed(frames).map_err(Error::from),
                _ => conn::queue(s, &parts, attachments),
            });
            match queued {
                Some(Ok(())) => result.delivered += 1,
                Some(Err(Error::Engine(engineio::Error::QueueFull))) => result.full += 1,
                _ => {}
            }
        };
        if rooms.is_empty() {
            // Every socket of the namespace.
            sockets.for_each(|socket, r| {
                if r.nsp == nsp {
                    send(*socket);
                }
            });
        } else {
            // Every socket is also the room named by its id, as in the
            // reference (`io.to(socket.id)`).
            let in_room = |r: &str, socket: Sid| {
                table.contains(nsp, r, socket) || Sid::parse(r) == Some(socket)
            };
            for (i, room) in rooms.iter().enumerate() {
                table.for_each_member(nsp, room, &mut |socket| {
                    // A socket in an earlier room already got it.
                    if !rooms[..i].iter().any(|r| in_room(r, socket)) {
                        send(socket);
                    }
                });
                if let Some(socket) = Sid::parse(room)
                    && sockets.get(&socket).is_some_and(|r| r.nsp == nsp)
                    && !table.contains(nsp, room, socket)
                    && !rooms[..i].iter().any(|r| in_room(r, socket))
                {
                    send(socket);
                }
            }
        }
        if let (Some(log), false) = (&mut self.log, volatile) {
            let entry = recovery::Entry {
                nsp,
                rooms,
                except,
                text: &parts,
                attachments,
            };
            log.push(self.now, &entry);
        }
        Ok(result)
    }

    // ------------------------------------------------------------------
    // Time and output
    // ------------------------------------------------------------------

    /// See [`engineio::Server::poll_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut eio = self.eio.poll_timeout();
        if let Some(at) = self.adapter.as_ref().and_then(|l| l.deadline()) {
            eio = Some(eio.map_or(at, |e| e.min(at)));
        }
        if let Some(at) = self.log.as_ref().and_then(|l| l.next_deadline()) {
            return Some(eio.map_or(at, |e| e.min(at)));
        }
        eio
    }

    /// Runs the Engine.IO timers and, per session, the connect timeout and
    /// the ack timeouts; with recovery, drops the log's old entries and the
    /// kept sessions that expired (their rooms with them).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(l) = self.adapter.as_mut() {
            l.sweep(now);
        }
        if let Some(log) = &mut self.log {
            let (rooms, pending) = (&mut self.rooms, &mut self.pending);
            log.sweep(now, &mut |socket| drop_kept(rooms, pending, socket));
        }
        let pending = &mut self.pending;
        self.eio.timeout_with(now, |now, sid, session, state| {
            state.conn.handle_timeout(now, session);
            drain_notices(sid, &mut state.conn, pending);
        });
    }

    /// Bytes to send (see [`engineio::Server::poll_transmit`]).
    pub fn poll_transmit(
        &mut self,
        out: &mut [u8],
    ) -> Result<Option<Transmit<H>>, engineio::Error> {
        self.eio.poll_transmit(out)
    }

    /// What the application must know besides messages: disconnects (with
    /// the sockets' rooms already gone), ack and connect timeouts, protocol
    /// errors.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'static>> {
        loop {
            if let Some(p) = self.pending.pop_front() {
                return Some(p);
            }
            match self.eio.poll_event()? {
                engineio::Event::Closed { sid, reason } => {
                    if let Some(log) = &mut self.log {
                        log.drop_claims(sid);
                    }
                    let keep = !matches!(reason, CloseReason::ParseError(_));
                    // Every socket of the session leaves. The session may be
                    // gone from the table already (a finished session is
                    // removed as its `Closed` is told): its sockets are found
                    // in the socket table, not in its state.
                    loop {
                        let mut gone: heapless::Vec<Sid, 8> = heapless::Vec::new();
                        self.sockets.for_each(|socket, r| {
                            if r.sid == sid {
                                let _ = gone.push(*socket);
                            }
                        });
                        if gone.is_empty() {
                            break;
                        }
                        for socket in gone {
                            self.forget_as(&socket, close_reason(reason), keep);
                        }
                    }
                }
                _ => continue,
            }
        }
    }
}

/// The most attachments a broadcast frames once without the `alloc` feature
/// (the default [`Limits::max_attachments`](super::Limits::max_attachments));
/// a packet with more is queued per target as packets. With `alloc` there is
/// no such bound.
pub const MAX_FRAMED_ATTACHMENTS: usize = 10;

/// The frame headers of a broadcast: the text packet's, then one per
/// attachment.
#[cfg(feature = "alloc")]
type FrameHeads = alloc::vec::Vec<ServerFrameHead>;
#[cfg(not(feature = "alloc"))]
type FrameHeads = heapless::Vec<ServerFrameHead, { MAX_FRAMED_ATTACHMENTS + 1 }>;

/// The bytes of a broadcast's frames, in order, as slices: a header, `4`, the
/// six pieces of the Socket.IO text, then a header and the bytes of each
/// attachment.
#[cfg(feature = "alloc")]
type FrameParts<'a> = alloc::vec::Vec<&'a [u8]>;
#[cfg(not(feature = "alloc"))]
type FrameParts<'a> = heapless::Vec<&'a [u8], { 8 + 2 * MAX_FRAMED_ATTACHMENTS }>;

/// Appends `x`; false when a fixed vector is full.
#[cfg(feature = "alloc")]
fn try_push<T>(v: &mut alloc::vec::Vec<T>, x: T) -> bool {
    v.push(x);
    true
}

/// Appends `x`; false when a fixed vector is full.
#[cfg(not(feature = "alloc"))]
fn try_push<T, const N: usize>(v: &mut heapless::Vec<T, N>, x: T) -> bool {
    v.push(x).is_ok()
}

/// The headers of the frames carrying `text` (the Engine.IO message `4` and
/// the Socket.IO text) and each of `attachments`, built once for every target
/// of a broadcast. `None` when they cannot be described here (too many
/// attachments without `alloc`).
fn frame_heads(text: &[&str], attachments: &[&[u8]]) -> Option<FrameHeads> {
    let text_len = 1 + text.iter().map(|t| t.len()).sum::<usize>();
    let mut heads = FrameHeads::new();
    let first = ServerFrameHead::new(MessageKind::Text, text_len as u64)?;
    if !try_push(&mut heads, first) {
        return None;
    }
    for a in attachments {
        let head = ServerFrameHead::new(MessageKind::Binary, a.len() as u64)?;
        if !try_push(&mut heads, head) {
            return None;
        }
    }
    Some(heads)
}

/// The frames' bytes, in wire order, as slices of `heads`, `text` and
/// `attachments`: what one framed queue entry holds.
fn frame_parts<'a>(
    heads: &'a [ServerFrameHead],
    text: &[&'a str],
    attachments: &[&'a [u8]],
) -> Option<FrameParts<'a>> {
    let (first, rest) = heads.split_first()?;
    if rest.len() != attachments.len() {
        return None;
    }
    let mut parts = FrameParts::new();
    let mut ok = try_push(&mut parts, first.as_bytes()) && try_push(&mut parts, b"4");
    for t in text {
        ok = ok && try_push(&mut parts, t.as_bytes());
    }
    for (head, a) in rest.iter().zip(attachments) {
        ok = ok && try_push(&mut parts, head.as_bytes()) && try_push(&mut parts, a);
    }
    ok.then_some(parts)
}

/// Logs an event emitted to `socket` of `nsp` (`to`), its arguments and
/// the suffix carrying the log's next offset (`args`).
fn log_to_socket<S: Recovery>(
    log: &mut recovery::Log<S>,
    now: Instant,
    config: &Config,
    to: (&str, &Sid),
    name: &str,
    (args, suffix): (&str, &str),
    attachments: &[&[u8]],
) -> Result<(), Error> {
    let (nsp, socket) = to;
    let text = EventText::new(nsp, None, name, attachments.len(), &config.limits)?;
    let entry = recovery::Entry {
        nsp,
        rooms: &[socket.as_str()],
        except: &[],
        text: &text.parts_with(args, suffix),
        attachments,
    };
    log.push(now, &entry);
    Ok(())
}

/// A kept socket is dropped for good: out of its rooms, and the application
/// told.
fn drop_kept<R: RoomTable>(rooms: &mut R, pending: &mut PendingQueue, socket: Sid) {
    rooms.leave_all(socket);
    let _ = push_pending(pending, Event::Expired { socket });
}

/// The reference's name for why a session closed.
fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::TransportClose => "transport close",
        CloseReason::TransportError(_) => "transport error",
        CloseReason::ParseError(_) => "parse error",
        CloseReason::PingTimeout => "ping timeout",
        CloseReason::ForcedClose => "forced close",
    }
}

fn drain_notices(sid: Sid, conn: &mut Connection, pending: &mut PendingQueue) {
    while !pending_full(pending)
        && let Some(n) = conn.poll_event()
    {
        let p = match n {
            Notice::AckTimeout(id) => Event::AckTimeout { sid, id },
            Notice::ConnectTimeout => Event::ConnectTimeout { sid },
            Notice::ProtocolError(error) => Event::ProtocolError { sid, error },
        };
        let _ = push_pending(pending, p);
    }
}

/// The endpoint's tables, lent to the per-session code.
struct Cx<'s, M, R, S: Recovery> {
    sockets: &'s mut M,
    rooms: &'s mut R,
    pending: &'s mut PendingQueue,
    log: &'s mut LogSlot<S>,
    spare_pid: &'s mut Option<Sid>,
}

fn on_message<'a, B, M, R, S>(
    now: Instant,
    sid: Sid,
    session: &mut Session<B>,
    state: &'a mut State<B>,
    data: Data<'a>,
    cx: &mut Cx<'_, M, R, S>,
) -> Option<Event<'a>>
where
    B: Buffer,
    M: Map<Sid, SocketRef>,
    R: RoomTable,
    S: Recovery,
{
    let State { conn, asm } = state;
    let event = conn.handle_message(now, session, data, asm);
    drain_notices(sid, conn, cx.pending);
    let socket_of =
        |conn: &Connection, nsp: &str| conn.socket_id(nsp).copied().unwrap_or(Sid::ZERO);
    match event {
        Ok(Some(ConnEvent::Connect { nsp, auth })) => {
            if let Some(log) = cx.log.as_mut()
                && let Some(claim) = recovery::claim(auth)
            {
                if log.config.skip_middlewares {
                    match recover(now, sid, session, conn, nsp, claim, cx) {
                        Some(Ok(recovered)) => return Some(recovered),
                        // The replay or the reply did not fit: the client
                        // tries again on a new session, the socket is kept.
                        Some(Err(_)) => {
                            session.close(now);
                            return None;
                        }
                        None => {}
                    }
                } else {
                    log.hold_claim(sid, nsp, claim);
                }
            }
            Some(Event::Connect { sid, nsp, auth })
        }
        Ok(Some(ConnEvent::Event(message))) => Some(Event::Event {
            socket: socket_of(conn, message.nsp),
            message,
        }),
        Ok(Some(ConnEvent::Ack(message))) => Some(Event::Ack {
            socket: socket_of(conn, message.nsp),
            message,
        }),
        Ok(Some(ConnEvent::Disconnect { socket, .. })) => {
            cx.sockets.remove(&socket);
            cx.rooms.leave_all(socket);
            Some(Event::Disconnect {
                socket,
                reason: "client namespace disconnect",
            })
        }
        // Protocol errors close the session; the notice says so.
        _ => None,
    }
}

/// Recovers the socket that `claim` names into `nsp` of session `sid`:
/// `None` when there is none to recover (a fresh connect follows), else
/// the [`Event::Recovered`] to tell, or why it failed (the socket is then
/// kept as it was).
fn recover<B, M, R, S>(
    now: Instant,
    sid: Sid,
    session: &mut Session<B>,
    conn: &mut Connection,
    nsp: &str,
    claim: recovery::Claim,
    cx: &mut Cx<'_, M, R, S>,
) -> Option<Result<Pending, Error>>
where
    B: Buffer,
    M: Map<Sid, SocketRef>,
    R: RoomTable,
    S: Recovery,
{
    let log = cx.log.as_mut()?;
    // A socket kept after its session was lost, or one whose session is
    // still open but not yet found dead (the client is already back).
    let (socket, data, start, saved) = match log.take(now, &claim.pid) {
        Some(s) if s.nsp == nsp => (s.socket, s.data.clone(), s.start, Some(s)),
        Some(s) => {
            log.save(claim.pid, s, &mut |_| {});
            return None;
        }
        None => {
            let mut live = None;
            cx.sockets.for_each(|socket, r| {
                if r.pid == claim.pid && r.nsp == nsp && r.sid != sid {
                    live = Some((*socket, r.data.clone(), r.start));
                }
            });
            let (socket, data, start) = live?;
            (socket, data, start, None)
        }
    };
    // Everything after the client's offset, and never anything from before
    // the socket existed (no offset: it got no event yet).
    let from = claim.offset.map_or(0, |o| o.saturating_add(1)).max(start);
    let mut missed = from < log.first_kept();
    let rooms = &*cx.rooms;
    let member = |room: &[u8]| {
        room == socket.as_str().as_bytes()
            || core::str::from_utf8(room).is_ok_and(|r| rooms.contains(nsp, r, socket))
    };
    let mut replayed = 0;
    let spare_pid = &mut *cx.spare_pid;
    let mut sent = || -> Result<Sid, Error> {
        for e in log.since(from) {
            let to_it = e.rooms.is_empty() || e.rooms.iter().any(member);
            if e.nsp != nsp.as_bytes() || !to_it || e.except.iter().any(member) {
                continue;
            }
            if e.gap {
                // Too large for the log: it was not kept.
                missed = true;
                continue;
            }
            conn::queue_iter(session, &[e.text], e.attachments.iter())?;
            replayed += 1;
        }
        let pid = match missed {
            true => spare_pid.unwrap_or(claim.pid),
            false => claim.pid,
        };
        conn.accept_with_pid(session, nsp, socket, Some(&pid))?;
        Ok(pid)
    };
    let pid = match sent() {
        Ok(pid) => pid,
        Err(e) => {
            if let Some(s) = saved {
                log.save(claim.pid, s, &mut |_| {});
            }
            return Some(Err(e));
        }
    };
    if missed {
        cx.spare_pid.take();
    }
    log.recovered();
    let name = heapless::String::try_from(nsp).unwrap_or_default();
    cx.sockets.remove(&socket);
    let entry = SocketRef {
        sid,
        nsp: name,
        pid,
        start,
        data,
    };
    if cx.sockets.insert(socket, entry).is_err() {
        return Some(Err(Error::RoomsFull));
    }
    Some(Ok(Event::Recovered {
        sid,
        socket,
        replayed,
        missed,
    }))
}

#[cfg(feature = "alloc")]
pub use owned::{OwnedEvent, OwnedMessage};

#[cfg(feature = "alloc")]
mod owned {
    use super::{Error, Event, Message, Sid};
    use alloc::string::String;
    use alloc::vec::Vec;

    /// A [`Message`] copied out of the input (feature `alloc`), for code that
    /// keeps it while it calls the server.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct OwnedMessage {
        /// The namespace.
        pub nsp: String,
        /// The ack id, if the sender waits for an ack.
        pub ack_id: Option<u64>,
        /// The whole JSON array.
        pub data: String,
        /// The binary attachments.
        pub attachments: Vec<Vec<u8>>,
        event: bool,
    }

    impl OwnedMessage {
        fn new(m: &Message<'_>, event: bool) -> Self {
            OwnedMessage {
                nsp: m.nsp.into(),
                ack_id: m.ack_id,
                data: m.data.into(),
                attachments: m.attachments.into_iter().map(Vec::from).collect(),
                event,
            }
        }

        fn view(&self) -> Message<'_> {
            Message {
                nsp: &self.nsp,
                ack_id: self.ack_id,
                data: &self.data,
                attachments: super::conn::Attachments::NONE,
                event: self.event,
            }
        }

        /// The event name (see [`Message::name`]).
        pub fn name(&self) -> Option<&str> {
            self.view().name()
        }

        /// The arguments as one raw JSON text, comma separated (after the
        /// name, for an event): ready to pass to an emit or an ack.
        pub fn args_raw(&self) -> &str {
            self.view().args_raw()
        }

        /// The arguments as raw JSON values.
        pub fn args(&self) -> crate::json::Elements<'_> {
            self.view().args()
        }

        /// The attachments as slices.
        pub fn attachment_slices(&self) -> Vec<&[u8]> {
            self.attachments.iter().map(|a| a.as_slice()).collect()
        }
    }

    /// A [`Event`] copied out of the input (feature `alloc`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum OwnedEvent {
        /// See [`Event::Connect`].
        Connect {
            /// The Engine.IO session.
            sid: Sid,
            /// The namespace.
            nsp: String,
            /// The handshake auth, raw JSON.
            auth: Option<String>,
        },
        /// See [`Event::Event`].
        Event {
            /// The socket.
            socket: Sid,
            /// The event.
            message: OwnedMessage,
        },
        /// See [`Event::Ack`].
        Ack {
            /// The socket.
            socket: Sid,
            /// The ack.
            message: OwnedMessage,
        },
        /// See [`Event::Disconnect`].
        Disconnect {
            /// The socket.
            socket: Sid,
            /// Why.
            reason: &'static str,
        },
        /// See [`Event::AckTimeout`].
        AckTimeout {
            /// The Engine.IO session.
            sid: Sid,
            /// The ack id.
            id: u64,
        },
        /// See [`Event::ConnectTimeout`].
        ConnectTimeout {
            /// The Engine.IO session.
            sid: Sid,
        },
        /// See [`Event::ProtocolError`].
        ProtocolError {
            /// The Engine.IO session.
            sid: Sid,
            /// What it did.
            error: Error,
        },
        /// See [`Event::Recovered`].
        Recovered {
            /// The Engine.IO session.
            sid: Sid,
            /// The socket.
            socket: Sid,
            /// The events replayed.
            replayed: usize,
            /// Some events may be missing.
            missed: bool,
        },
        /// See [`Event::Expired`].
        Expired {
            /// The socket.
            socket: Sid,
        },
    }

    impl Event<'_> {
        /// Copies the event out of the input.
        pub fn to_owned(&self) -> OwnedEvent {
            match *self {
                Event::Connect { sid, nsp, auth } => OwnedEvent::Connect {
                    sid,
                    nsp: nsp.into(),
                    auth: auth.map(String::from),
                },
                Event::Event { socket, message } => OwnedEvent::Event {
                    socket,
                    message: OwnedMessage::new(&message, true),
                },
                Event::Ack { socket, message } => OwnedEvent::Ack {
                    socket,
                    message: OwnedMessage::new(&message, false),
                },
                Event::Disconnect { socket, reason } => OwnedEvent::Disconnect { socket, reason },
                Event::AckTimeout { sid, id } => OwnedEvent::AckTimeout { sid, id },
                Event::ConnectTimeout { sid } => OwnedEvent::ConnectTimeout { sid },
                Event::ProtocolError { sid, error } => OwnedEvent::ProtocolError { sid, error },
                Event::Recovered {
                    sid,
                    socket,
                    replayed,
                    missed,
                } => OwnedEvent::Recovered {
                    sid,
                    socket,
                    replayed,
                    missed,
                },
                Event::Expired { socket } => OwnedEvent::Expired { socket },
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::ws::FrameHeader;
    use alloc::vec::Vec;

    /// Splits `wire` into frames: (opcode, payload) of each, checking that
    /// every one is final and unmasked.
    fn frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        while !wire.is_empty() {
            let (h, n) = FrameHeader::decode(wire).unwrap().unwrap();
            assert!(h.fin && h.mask.is_none() && h.rsv == 0);
            let len = h.len as usize;
            v.push((h.opcode as u8, wire[n..n + len].to_vec()));
            wire = &wire[n + len..];
        }
        v
    }

    #[test]
    fn frame_parts_are_one_frame_per_engineio_packet() {
        let text = [
            "451-",
            "[",
            "\"n\"",
            ",",
            "{\"_placeholder\":true,\"num\":0}",
            "]",
        ];
        let big = [3u8; 70_000];
        let mid = [5u8; 300];
        let attachments: [&[u8]; 4] = [&[1, 2], &[], &mid, &big];
        let heads = frame_heads(&text, &attachments).unwrap();
        let parts = frame_parts(&heads, &text, &attachments).unwrap();
        let wire: Vec<u8> = parts.concat();
        let mut want_text = Vec::from(&b"4"[..]);
        want_text.extend(text.iter().flat_map(|t| t.bytes()));
        let mut want = Vec::from([(1, want_text)]);
        want.extend(attachments.iter().map(|a| (2, a.to_vec())));
        assert_eq!(frames(&wire), want);
    }

    #[test]
    fn any_number_of_attachments_is_framed_with_alloc() {
        let one: &[u8] = &[1];
        let attachments = [one; MAX_FRAMED_ATTACHMENTS + 5];
        let text = ["45-", "[", "\"n\"", "", "", "]"];
        let heads = frame_heads(&text, &attachments).unwrap();
        let parts = frame_parts(&heads, &text, &attachments).unwrap();
        assert_eq!(frames(&parts.concat()).len(), attachments.len() + 1);
    }
}
