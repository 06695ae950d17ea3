//! [`Adapter`] on a [`Server`]: a local broadcast that is also published, and
//! another node's broadcast applied locally.

use super::{Adapter, Error, Incoming, MAX_ROOMS, Outgoing, Publish, request};
use crate::engineio::{self, Sid};
use crate::entropy::Entropy;
use crate::socketio::Server;
use crate::socketio::endpoint::{Broadcast, SocketRef, State};
use crate::socketio::rooms::RoomTable;
use crate::storage::{Buffers, Storage};
use crate::time::Instant;

type Buf<S> = <S as Buffers>::Buf;

/// The storage a [`Server`] over connections named by `H` needs.
pub trait Tables<H>:
    Storage<H, Sid, engineio::server::Conn, engineio::server::Entry<H, Buf<Self>, State<Buf<Self>>>>
    + Storage<Sid, Sid, SocketRef, ()>
{
}

impl<H, S> Tables<H> for S where
    S: Storage<H, Sid, engineio::server::Conn, engineio::server::Entry<H, Buf<S>, State<Buf<S>>>>
        + Storage<Sid, Sid, SocketRef, ()>
{
}

/// The most binary values a broadcast from another node may carry.
const MAX_BINS: usize = 64;

impl Adapter {
    /// Broadcasts `b` to the local sockets (as
    /// [`Server::broadcast`]) and encodes the message to publish into `out`
    /// (see [`Adapter::encode`]). The message is encoded first: when it
    /// cannot be (a buffer too small, arguments that are not JSON), nothing
    /// is sent anywhere.
    pub fn broadcast<H, S, E, R>(
        &self,
        server: &mut Server<H, S, E, R>,
        b: &Outgoing<'_>,
        out: &mut [u8],
    ) -> Result<(Broadcast, Publish), Error>
    where
        H: Copy + Ord + core::fmt::Debug,
        S: Tables<H>,
        E: Entropy,
        R: RoomTable,
    {
        let publish = self.encode(b, server.config().limits.max_depth, out)?;
        let local = server.broadcast(b.nsp, b.rooms, b.except, b.name, b.args, b.attachments)?;
        Ok((local, publish))
    }

    /// Applies a message from Redis (`channel`, `message`) to the local
    /// sockets: another node's broadcast, with its rooms and exceptions.
    /// `scratch` holds the arguments transcoded to JSON. `Ok(None)` for this
    /// node's own messages and for namespaces this server does not have.
    ///
    /// Errors: those of [`Incoming::decode`] and [`Incoming::args`] (skip
    /// the message), [`Error::TooManyRooms`], [`Error::Server`] when the
    /// local broadcast fails.
    pub fn handle_message<H, S, E, R>(
        &self,
        server: &mut Server<H, S, E, R>,
        channel: &[u8],
        message: &[u8],
        scratch: &mut [u8],
    ) -> Result<Option<Broadcast>, Error>
    where
        H: Copy + Ord + core::fmt::Debug,
        S: Tables<H>,
        E: Entropy,
        R: RoomTable,
    {
        let Some(m) = self.decode(channel, message)? else {
            return Ok(None);
        };
        if m.flags.local
            || server
                .config()
                .namespaces
                .is_some_and(|names| !names.contains(&m.nsp))
        {
            return Ok(None);
        }
        apply(server, &m, scratch).map(Some)
    }
}

pub(super) fn apply<H, S, E, R>(
    server: &mut Server<H, S, E, R>,
    m: &Incoming<'_>,
    scratch: &mut [u8],
) -> Result<Broadcast, Error>
where
    H: Copy + Ord + core::fmt::Debug,
    S: Tables<H>,
    E: Entropy,
    R: RoomTable,
{
    let limits = server.config().limits;
    fn collect<'a>(it: super::Strs<'a>) -> Result<heapless::Vec<&'a str, MAX_ROOMS>, Error> {
        let mut v = heapless::Vec::new();
        for s in it {
            v.push(s).map_err(|_| Error::TooManyRooms)?;
        }
        Ok(v)
    }
    let mut bins: heapless::Vec<&[u8], MAX_BINS> = heapless::Vec::new();
    for b in m.attachments() {
        bins.push(b).map_err(|_| Error::TooManyRooms)?;
    }
    let rooms = collect(m.rooms())?;
    let except = collect(m.except())?;
    let len = m.args(limits.max_depth, scratch)?;
    // Written by the transcoder from UTF-8 strings and ASCII.
    let args = core::str::from_utf8(&scratch[..len]).map_err(|_| Error::Malformed)?;
    Ok(server.broadcast_rooms(m.nsp, &rooms, &except, m.name, args, &bins)?)
}

/// The most bytes of messages waiting for
/// [`Server::poll_adapter_publish`] (channels and messages together): with
/// `alloc` 1 MiB in any number of messages, without it one message of at
/// most 2 KiB.
#[cfg(feature = "alloc")]
pub const MAX_QUEUED: usize = 1 << 20;
/// The most bytes of messages waiting for
/// [`Server::poll_adapter_publish`] (channels and messages together): with
/// `alloc` 1 MiB in any number of messages, without it one message of at
/// most 2 KiB.
#[cfg(not(feature = "alloc"))]
pub const MAX_QUEUED: usize = 2048;

/// Messages to publish, each `channel ++ message` with the channel's length.
#[cfg(feature = "alloc")]
type Queue = alloc::collections::VecDeque<(usize, alloc::vec::Vec<u8>)>;
#[cfg(not(feature = "alloc"))]
type Queue = Option<(usize, heapless::Vec<u8, MAX_QUEUED>)>;

/// A server's adapter: the node, whether Redis is reachable, the messages to
/// publish.
#[derive(Debug)]
pub(crate) struct Link {
    pub(super) adapter: Adapter,
    pub(super) connected: bool,
    queue: Queue,
    queued: usize,
    pub(super) cluster: super::cluster::Requests,
}

impl Link {
    /// The earliest deadline of the cluster's requests.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.cluster.deadline()
    }

    /// Ends the requests past their deadline.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.cluster.sweep(now);
    }

    /// Queues what `encode` writes (a channel, then a message), measured
    /// first with an empty buffer.
    pub(super) fn push(
        &mut self,
        encode: impl Fn(&mut [u8]) -> Result<Publish, Error>,
    ) -> Result<(), Error> {
        let need = match encode(&mut []) {
            Err(Error::BufferTooSmall { required }) => required,
            other => other.map(|p| p.channel_len + p.len)?,
        };
        if self.queued + need > MAX_QUEUED {
            return Err(Error::QueueFull);
        }
        #[cfg(feature = "alloc")]
        {
            let mut bytes = alloc::vec![0u8; need];
            let p = encode(&mut bytes)?;
            self.queue.push_back((p.channel_len, bytes));
        }
        #[cfg(not(feature = "alloc"))]
        {
            if self.queue.is_some() {
                return Err(Error::QueueFull);
            }
            let mut bytes = heapless::Vec::new();
            bytes.resize(need, 0).map_err(|_| Error::QueueFull)?;
            let p = encode(&mut bytes)?;
            self.queue = Some((p.channel_len, bytes));
        }
        self.queued += need;
        Ok(())
    }

    /// Queues a message on the request channel of `nsp`, its body written
    /// by `body`.
    pub(super) fn push_request(
        &mut self,
        nsp: &str,
        body: impl Fn(&Adapter, &mut [u8]) -> Result<usize, Error>,
    ) -> Result<(), Error> {
        self.push_on(nsp, false, body)
    }

    /// Queues a message on the request channel of `nsp` (or its response
    /// channel, with `response`), its body written by `body`.
    pub(super) fn push_on(
        &mut self,
        nsp: &str,
        response: bool,
        body: impl Fn(&Adapter, &mut [u8]) -> Result<usize, Error>,
    ) -> Result<(), Error> {
        let adapter = self.adapter.clone();
        let channel = |out: &mut [u8]| {
            if response {
                request::response_channel(adapter.prefix(), nsp, out)
            } else {
                request::channel(adapter.prefix(), nsp, out)
            }
        };
        self.push(|out| {
            let channel_len = super::measure(channel(&mut []))?;
            let len = super::measure(body(&adapter, &mut []))?;
            if channel_len + len > out.len() {
                return Err(Error::BufferTooSmall {
                    required: channel_len + len,
                });
            }
            channel(out)?;
            body(&adapter, &mut out[channel_len..])?;
            Ok(Publish { channel_len, len })
        })
    }

    fn pop(&mut self, out: &mut [u8]) -> Result<Option<Publish>, Error> {
        #[cfg(feature = "alloc")]
        let front = self.queue.front();
        #[cfg(not(feature = "alloc"))]
        let front = self.queue.as_ref();
        let Some((channel_len, bytes)) = front else {
            return Ok(None);
        };
        let len = bytes.len();
        let dst = out
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        dst.copy_from_slice(bytes);
        let channel_len = *channel_len;
        #[cfg(feature = "alloc")]
        self.queue.pop_front();
        #[cfg(not(feature = "alloc"))]
        {
            self.queue = None;
        }
        self.queued -= len;
        Ok(Some(Publish {
            channel_len,
            len: len - channel_len,
        }))
    }
}

impl<H, S, E, R> Server<H, S, E, R>
where
    H: Copy + Ord + core::fmt::Debug,
    S: Tables<H>,
    E: Entropy,
    R: RoomTable,
{
    /// Makes this server node `adapter` of a cluster: from now on
    /// [`broadcast_cluster`](Self::broadcast_cluster) also queues the
    /// message other nodes need, for the driver to publish
    /// ([`poll_adapter_publish`](Self::poll_adapter_publish)), and the
    /// driver hands every message of the subscription to
    /// [`handle_adapter_message`](Self::handle_adapter_message). The driver
    /// says when Redis is reachable with
    /// [`set_adapter_connected`](Self::set_adapter_connected) (not yet).
    pub fn enable_adapter(&mut self, adapter: Adapter) {
        self.adapter = Some(Link {
            adapter,
            connected: false,
            queue: Queue::default(),
            queued: 0,
            cluster: Default::default(),
        });
    }

    /// The node, if [`enable_adapter`](Self::enable_adapter) made this
    /// server one.
    pub fn adapter(&self) -> Option<&Adapter> {
        self.adapter.as_ref().map(|l| &l.adapter)
    }

    /// Tells whether the driver's connections to Redis are up (subscribed,
    /// and able to publish). While they are not,
    /// [`broadcast_cluster`](Self::broadcast_cluster) fails.
    pub fn set_adapter_connected(&mut self, connected: bool) {
        if let Some(l) = self.adapter.as_mut() {
            l.connected = connected;
        }
    }

    /// Broadcasts `b` on every node of the cluster: to the local sockets
    /// (as [`broadcast`](Self::broadcast), whose result it returns) and, as
    /// a message queued for [`poll_adapter_publish`](Self::poll_adapter_publish),
    /// to the other nodes. Without an adapter, only locally.
    ///
    /// All or nothing: on any error nothing was sent anywhere.
    /// [`Error::NotConnected`] while Redis is unreachable,
    /// [`Error::QueueFull`] past [`MAX_QUEUED`] bytes waiting, the encoder's
    /// errors ([`Error::Json`], ...), [`Error::Server`] for the local
    /// broadcast's (checked before anything is queued).
    pub fn broadcast_cluster(&mut self, b: &Outgoing<'_>) -> Result<Broadcast, Error> {
        let limits = self.config().limits;
        if let Some(l) = self.adapter.as_mut() {
            if !l.connected {
                return Err(Error::NotConnected);
            }
            // The local broadcast's own checks (name, namespace, attachments)
            // come first: once queued, the message goes.
            super::super::wire::EventText::new(b.nsp, None, b.name, b.attachments.len(), &limits)?;
            let adapter = l.adapter.clone();
            l.push(|out| adapter.encode(b, limits.max_depth, out))?;
        }
        Ok(self.broadcast_rooms(b.nsp, b.rooms, b.except, b.name, b.args, b.attachments)?)
    }

    /// The local socket of `nsp` whose id `room` is, if any: as in the
    /// Node server, every socket is in the room named by its id.
    pub(super) fn id_room(&self, nsp: &str, room: &str) -> Option<Sid> {
        Sid::parse(room).filter(|s| self.socket(s).is_some_and(|(_, n)| n == nsp))
    }

    /// True when `socket` is in one of `except` (rooms or socket ids).
    fn excluded(&self, nsp: &str, except: &[&str], socket: Sid) -> bool {
        except
            .iter()
            .any(|e| self.rooms().contains(nsp, e, socket) || Sid::parse(e) == Some(socket))
    }

    /// [`broadcast`](Self::broadcast): a room may also be a socket id (a
    /// broadcast from Node to `io.to(socket.id)`), each socket reached once.
    fn broadcast_rooms(
        &mut self,
        nsp: &str,
        rooms: &[&str],
        except: &[&str],
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<Broadcast, crate::socketio::Error> {
        self.broadcast(nsp, rooms, except, name, args, attachments)
    }

    /// The next message to publish, written into `out`: the channel, then
    /// the message (see [`Publish`]). `Ok(None)` when none waits.
    /// [`Error::BufferTooSmall`] leaves `out` and the queue untouched.
    /// The answer changes after [`broadcast_cluster`](Self::broadcast_cluster).
    #[must_use = "the message must be published"]
    pub fn poll_adapter_publish(&mut self, out: &mut [u8]) -> Result<Option<Publish>, Error> {
        match self.adapter.as_mut() {
            Some(l) => l.pop(out),
            None => Ok(None),
        }
    }

    /// A message from Redis (`channel`, `message`), as the subscription
    /// delivered it: another node's broadcast is applied to the local
    /// sockets (see [`Adapter::handle_message`]), a request
    /// ([`request`]: `socketsJoin`, `socketsLeave`,
    /// `disconnectSockets`, this node's own included) to the sockets it
    /// selects. `scratch` holds the arguments transcoded to JSON, or the
    /// request's room names. Without an adapter, nothing.
    /// Errors mean the message was skipped.
    pub fn handle_adapter_message<'m>(
        &mut self,
        now: Instant,
        channel: &'m [u8],
        message: &'m [u8],
        scratch: &mut [u8],
    ) -> Result<Applied<'m>, Error> {
        let Some(adapter) = self.adapter.as_ref().map(|l| l.adapter.clone()) else {
            return Ok(Applied::Nothing);
        };
        if request::is_response_channel(adapter.prefix(), channel) {
            let Some(r) = request::Response::decode(adapter.prefix(), channel, message)? else {
                return Ok(Applied::Nothing);
            };
            let l = self.adapter.as_mut().ok_or(Error::NotConnected)?;
            return Ok(match l.cluster.answered(&r) {
                Some(request) => Applied::Response {
                    request,
                    response: r,
                },
                None => Applied::Nothing,
            });
        }
        if request::is_request_channel(adapter.prefix(), channel) {
            if message.first() != Some(&b'{') {
                // A broadcast with acks.
                return match Incoming::decode_with_ack(adapter.prefix(), channel, message)? {
                    Some(m) if m.uid != adapter.uid() && self.serves(m.nsp) => self
                        .apply_with_ack(now, &m, scratch)
                        .map(Applied::BroadcastWithAck),
                    _ => Ok(Applied::Nothing),
                };
            }
            if let Some(q) = request::QueryRequest::decode(adapter.prefix(), channel, message)? {
                if q.uid == adapter.uid() || !self.serves(q.nsp) {
                    return Ok(Applied::Nothing);
                }
                self.answer_query(&q, scratch)?;
                return Ok(Applied::Answered);
            }
            if let Some(e) = request::ServerSideEmit::decode(adapter.prefix(), channel, message)? {
                return Ok(if e.uid != adapter.uid() && self.serves(e.nsp) {
                    Applied::ServerSideEmit(e)
                } else {
                    Applied::Nothing
                });
            }
            return match request::Request::decode(adapter.prefix(), channel, message)? {
                Some(r) if self.serves(r.nsp) => {
                    self.apply_request(now, &r, scratch).map(Applied::Request)
                }
                _ => Ok(Applied::Nothing),
            };
        }
        Ok(
            match adapter.handle_message(self, channel, message, scratch)? {
                Some(b) => Applied::Broadcast(b),
                None => Applied::Nothing,
            },
        )
    }

    /// True when this server has namespace `nsp`.
    pub(super) fn serves(&self, nsp: &str) -> bool {
        self.config()
            .namespaces
            .is_none_or(|names| names.contains(&nsp))
    }

    /// Makes the sockets of `r.nsp` in one of `r.select` (all when empty)
    /// and in none of `r.except` join or leave `r.rooms`, or disconnects
    /// them, on every node of the cluster. Like the Node adapter, this node
    /// applies it when its message comes back from Redis
    /// ([`handle_adapter_message`](Self::handle_adapter_message)), and
    /// returns 0; without an adapter, at once, and returns how many local
    /// sockets it changed. A room may be a socket id.
    ///
    /// Errors: [`Error::NotConnected`], [`Error::QueueFull`],
    /// [`Error::TooManyRooms`] past [`MAX_ROOMS`]: nothing was done. Without
    /// an adapter, [`Error::Server`] when a join finds the room table full
    /// (the sockets before it have joined).
    pub fn sockets_cluster(
        &mut self,
        now: Instant,
        r: &request::Outgoing<'_>,
    ) -> Result<usize, Error> {
        let Some(l) = self.adapter.as_mut() else {
            let mut select: heapless::Vec<&str, MAX_ROOMS> = heapless::Vec::new();
            let mut except: heapless::Vec<&str, MAX_ROOMS> = heapless::Vec::new();
            for (v, list) in [(&mut select, r.select), (&mut except, r.except)] {
                for s in list {
                    v.push(s).map_err(|_| Error::TooManyRooms)?;
                }
            }
            return self.apply(now, r.nsp, r.kind, &select, &except, r.rooms);
        };
        if !l.connected {
            return Err(Error::NotConnected);
        }
        l.push_request(r.nsp, |a, out| r.encode(a.uid(), out))?;
        Ok(0)
    }

    /// Emits event `name` with `args` (raw JSON values separated by commas)
    /// to the other servers of the cluster, for their applications (Node's
    /// `serverSideEmit`, without an ack): queued for
    /// [`poll_adapter_publish`](Self::poll_adapter_publish). Without an
    /// adapter there is no other server: nothing to do.
    ///
    /// Errors: [`Error::NotConnected`], [`Error::QueueFull`], [`Error::Json`].
    pub fn server_side_emit_cluster(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
    ) -> Result<(), Error> {
        let Some(l) = self.adapter.as_mut() else {
            return Ok(());
        };
        if !l.connected {
            return Err(Error::NotConnected);
        }
        l.push_request(nsp, |a, out| {
            request::encode_server_side_emit(a.uid(), name, args, out)
        })
    }

    fn apply_request(
        &mut self,
        now: Instant,
        r: &request::Request<'_>,
        scratch: &mut [u8],
    ) -> Result<usize, Error> {
        let (select, rest) = request::strings(r.select, scratch)?;
        let (except, rest) = request::strings(r.except, rest)?;
        let (rooms, _) = request::strings(r.rooms, rest)?;
        self.apply(now, r.nsp, r.kind, &select, &except, &rooms)
    }

    /// Calls `f` with each socket of `nsp` in one of `select` (every one
    /// when empty) and in none of `except` (rooms or socket ids), once.
    pub(super) fn targets(
        &self,
        nsp: &str,
        select: &[&str],
        except: &[&str],
        f: &mut dyn FnMut(Sid),
    ) {
        let table = self.rooms();
        let excluded = |s: Sid| self.excluded(nsp, except, s);
        if select.is_empty() {
            self.for_each_socket(&mut |s, n| {
                if n == nsp && !excluded(s) {
                    f(s);
                }
            });
            return;
        }
        for (i, room) in select.iter().enumerate() {
            table.for_each_member(nsp, room, &mut |s| {
                if !select[..i].iter().any(|r| table.contains(nsp, r, s)) && !excluded(s) {
                    f(s);
                }
            });
        }
        // Socket ids, each the room of its socket.
        for (i, room) in select.iter().enumerate() {
            if let Some(s) = self.id_room(nsp, room)
                && !select[..i].contains(room)
                && !select.iter().any(|r| table.contains(nsp, r, s))
                && !excluded(s)
            {
                f(s);
            }
        }
    }

    /// Applies a request to the local sockets it selects, a batch at a
    /// time (each pass changes what it selects, so passes end); returns how
    /// many it changed.
    fn apply(
        &mut self,
        now: Instant,
        nsp: &str,
        kind: request::Kind,
        select: &[&str],
        except: &[&str],
        rooms: &[&str],
    ) -> Result<usize, Error> {
        let mut done = 0;
        for _ in 0..=self.sockets() / BATCH + 1 {
            let mut batch: heapless::Vec<Sid, BATCH> = heapless::Vec::new();
            self.targets(nsp, select, except, &mut |s| {
                let pending = match kind {
                    request::Kind::Join => rooms.iter().any(|r| !self.is_in(&s, r)),
                    request::Kind::Leave => rooms.iter().any(|r| self.is_in(&s, r)),
                    request::Kind::Disconnect { .. } => true,
                };
                if pending {
                    let _ = batch.push(s);
                }
            });
            if batch.is_empty() {
                break;
            }
            for s in batch {
                match kind {
                    request::Kind::Join => {
                        for r in rooms {
                            self.join(&s, r)?;
                        }
                    }
                    request::Kind::Leave => {
                        for r in rooms {
                            self.leave(&s, r);
                        }
                    }
                    request::Kind::Disconnect { close } => {
                        if close {
                            self.close(now, &s)?;
                        }
                        self.disconnect(&s)?;
                    }
                }
                done += 1;
            }
        }
        Ok(done)
    }
}

/// Sockets changed per pass of a request.
const BATCH: usize = 64;

/// What [`Server::handle_adapter_message`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied<'m> {
    /// Nothing: this node's own broadcast, a namespace it does not serve,
    /// a request it does not handle, or no adapter.
    Nothing,
    /// Another node's broadcast, sent to the local sockets.
    Broadcast(Broadcast),
    /// A request, applied to this many local sockets.
    Request(usize),
    /// Another node's `serverSideEmit`: an event for this server (the
    /// application's), borrowed from the message. With a
    /// [`request_id`](request::ServerSideEmit::request_id) the sender waits
    /// for an answer: [`Server::server_side_emit_ack`].
    ServerSideEmit(request::ServerSideEmit<'m>),
    /// Another node's `allRooms` or `fetchSockets`, answered.
    Answered,
    /// Another node's broadcast with acks, sent to this many local
    /// sockets, each asked for an ack (the count is published; the acks are
    /// for [`Server::handle_cluster_ack`]).
    BroadcastWithAck(usize),
    /// An answer to a request of this node (see
    /// [`Server::poll_cluster_event`] for its end).
    Response {
        /// The request.
        request: super::RequestId,
        /// The answer, borrowed from the message.
        response: request::Response<'m>,
    },
}
