//! The requests that want answers, both ways: this node answering another
//! node's `allRooms`, `fetchSockets`, `serverSideEmit` with an ack and
//! broadcast with acks, and this node issuing them and collecting the
//! answers.
//!
//! # Issuing
//!
//! [`Server::all_rooms_cluster`], [`Server::fetch_sockets_cluster`],
//! [`Server::server_side_emit_with_ack_cluster`] and
//! [`Server::broadcast_with_ack_cluster`] queue the request for
//! [`Server::poll_adapter_publish`] and ask the driver, through
//! [`Server::poll_adapter_count`], for the request channel's subscriber count
//! (`PUBSUB NUMSUB`, this node included, as the Node adapter counts servers);
//! the driver hands the reply to [`Server::handle_adapter_count`]. Each answer
//! comes back from [`Server::handle_adapter_message`] as
//! [`Applied::Response`](super::Applied::Response), borrowed from its
//! message; once every other node has answered (and, for a broadcast, every
//! client counted has acked), or at the deadline
//! ([`Server::poll_timeout`] / [`Server::handle_timeout`], Node's
//! `requestsTimeout`, 5 s by default, or the broadcast's own timeout),
//! [`Server::poll_cluster_event`] gives a [`RequestDone`], which says
//! whether it timed out and how many answers came. The local part
//! (this node's rooms, sockets, and clients' acks) is the application's:
//! [`Server::local_rooms`], [`Server::local_sockets`], and the acks of its
//! own clients that [`Server::handle_cluster_ack`] names.
//!
//! # Answering
//!
//! `allRooms` and `fetchSockets` are answered at once from the local tables;
//! a broadcast with acks goes to the local sockets, each asked for an ack
//! (the driver hands every [`Event::Ack`](crate::socketio::endpoint::Event::Ack)
//! to [`Server::handle_cluster_ack`], which publishes the ones owed), and
//! the client count is published; a `serverSideEmit` with an ack reaches the
//! application, which answers with [`Server::server_side_emit_ack`].
//!
//! Everything is bounded: [`MAX_REQUESTS`] requests of this node at once, and
//! with `alloc` 65 536 client acks owed at once (4 without: a broadcast
//! with acks then asks at most 4 local sockets, and counts only those).
//! Without `alloc` an `allRooms` answer lists at most 16 names of 64 bytes,
//! and a `fetchSockets` answer is empty when its sockets take over 1 KiB.

use super::{Error, Outgoing, request};
use crate::engineio::Sid;
use crate::entropy::Entropy;
use crate::socketio::Server;
use crate::socketio::rooms::RoomTable;
use crate::time::{Duration, Instant};

use super::server::Tables;

/// Writes a request's body for a node and request id.
type Body<'a> = &'a dyn Fn(&super::Adapter, &str, &mut [u8]) -> Result<usize, Error>;

/// The most requests of this node waiting for answers at once (4 without
/// the `alloc` feature, where the tables live in the server).
#[cfg(feature = "alloc")]
pub const MAX_REQUESTS: usize = 16;
/// The most requests of this node waiting for answers at once (16 with
/// the `alloc` feature).
#[cfg(not(feature = "alloc"))]
pub const MAX_REQUESTS: usize = 4;

/// The Node adapter's default `requestsTimeout`.
pub const DEFAULT_REQUESTS_TIMEOUT: Duration = Duration::from_millis(5000);

#[cfg(feature = "alloc")]
const MAX_OWED: usize = 1 << 16;
#[cfg(not(feature = "alloc"))]
const MAX_OWED: usize = 4;

#[cfg(feature = "alloc")]
type List<T> = alloc::vec::Vec<T>;
#[cfg(not(feature = "alloc"))]
type List<T> = heapless::Vec<T, 4>;

fn push<T>(list: &mut List<T>, max: usize, t: T) -> Result<(), Error> {
    if list.len() >= max {
        return Err(Error::QueueFull);
    }
    #[cfg(feature = "alloc")]
    {
        list.push(t);
        Ok(())
    }
    #[cfg(not(feature = "alloc"))]
    {
        list.push(t).map_err(|_| Error::QueueFull)
    }
}

type Nsp = heapless::String<64>;

fn nsp_of(nsp: &str) -> Result<Nsp, Error> {
    Nsp::try_from(nsp).map_err(|_| Error::TooLarge)
}

/// The id of a request this node issued: six alphanumerics, as the Node
/// adapter makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestId([u8; 6]);

impl RequestId {
    fn random(entropy: &mut impl Entropy) -> Self {
        const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut b = [0u8; 6];
        entropy.fill_bytes(&mut b);
        RequestId(b.map(|b| ALNUM[usize::from(b) % ALNUM.len()]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Display for RequestId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request of this node asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RequestKind {
    /// `allRooms`.
    AllRooms,
    /// `fetchSockets`.
    FetchSockets,
    /// `serverSideEmit` with an ack.
    ServerSideEmit,
    /// A broadcast with acks.
    BroadcastWithAck,
}

/// A request of this node is over: from [`Server::poll_cluster_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestDone {
    /// The request.
    pub request: RequestId,
    /// What it asked.
    pub kind: RequestKind,
    /// True when the deadline came first: the answers are those that came.
    pub timed_out: bool,
    /// The other nodes' answers that came (for a broadcast, their client
    /// counts).
    pub responses: usize,
    /// The other nodes `PUBSUB NUMSUB` counted (`None`: Redis never said).
    pub expected: Option<usize>,
    /// For a broadcast with acks: the clients counted, on every node, and
    /// the acks that came.
    pub clients: usize,
    /// For a broadcast with acks: the acks that came.
    pub acks: usize,
}

/// What [`Server::handle_cluster_ack`] made of a client's ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClusterAck {
    /// Not an ack the cluster asked for: the application's.
    NotClusters,
    /// An ack of this node's broadcast `request`
    /// ([`Server::broadcast_with_ack_cluster`]): one of its answers.
    Own(RequestId),
    /// An ack owed to another node's broadcast: published to it.
    Forwarded,
}

#[derive(Debug)]
struct Outstanding {
    id: RequestId,
    kind: RequestKind,
    nsp: Nsp,
    deadline: Instant,
    others: Option<usize>,
    answers: usize,
    clients: usize,
    acks: usize,
}

impl Outstanding {
    fn complete(&self) -> bool {
        self.others.is_some_and(|o| self.answers >= o)
            && (self.kind != RequestKind::BroadcastWithAck || self.acks >= self.clients)
    }

    fn done(&self, timed_out: bool) -> RequestDone {
        RequestDone {
            request: self.id,
            kind: self.kind,
            timed_out,
            responses: self.answers,
            expected: self.others,
            clients: self.clients,
            acks: self.acks,
        }
    }
}

#[derive(Debug)]
enum Owner {
    Own(RequestId),
    Other {
        request_id: heapless::String<{ request::MAX_REQUEST_ID }>,
        nsp: Nsp,
    },
}

#[derive(Debug)]
struct Owed {
    socket: Sid,
    ack_id: u64,
    deadline: Instant,
    owner: Owner,
}

/// The cluster requests of a server's adapter.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    outstanding: List<Outstanding>,
    owed: List<Owed>,
    /// Namespaces whose request channel's subscribers to count, in order.
    counts: List<Nsp>,
    done: List<RequestDone>,
    timeout: Option<Duration>,
}

impl Requests {
    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_REQUESTS_TIMEOUT)
    }

    fn finish(&mut self, i: usize, timed_out: bool) {
        let o = self.outstanding.remove(i);
        // The list of done requests cannot hold more than the outstanding
        // ones it came from.
        let _ = push(&mut self.done, usize::MAX, o.done(timed_out));
        if timed_out {
            // Acks of its clients still to come are no one's now.
            self.owed
                .retain(|w| !matches!(w.owner, Owner::Own(id) if id == o.id));
        }
    }

    fn settle(&mut self, id: RequestId) {
        if let Some(i) = self.outstanding.iter().position(|o| o.id == id)
            && self.outstanding[i].complete()
        {
            self.finish(i, false);
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        let a = self.outstanding.iter().map(|o| o.deadline).min();
        let b = self.owed.iter().map(|o| o.deadline).min();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn sweep(&mut self, now: Instant) {
        while let Some(i) = self.outstanding.iter().position(|o| o.deadline <= now) {
            self.finish(i, true);
        }
        self.owed.retain(|o| o.deadline > now);
    }

    /// Notes an answer to request `id` (a response of another node).
    pub(crate) fn answered(&mut self, r: &request::Response<'_>) -> Option<RequestId> {
        let o = self
            .outstanding
            .iter_mut()
            .find(|o| o.id.as_str() == r.request_id())?;
        let fits = matches!(
            (o.kind, r),
            (RequestKind::AllRooms, request::Response::Rooms { .. })
                | (RequestKind::FetchSockets, request::Response::Sockets { .. })
                | (
                    RequestKind::ServerSideEmit,
                    request::Response::ServerSideEmitAck { .. }
                )
                | (
                    RequestKind::BroadcastWithAck,
                    request::Response::ClientCount { .. } | request::Response::BroadcastAck { .. }
                )
        );
        if !fits {
            return None;
        }
        match r {
            request::Response::ClientCount { count, .. } => {
                o.answers += 1;
                o.clients = o
                    .clients
                    .saturating_add(usize::try_from(*count).unwrap_or(usize::MAX));
            }
            request::Response::BroadcastAck { .. } => o.acks += 1,
            _ => o.answers += 1,
        }
        let id = o.id;
        self.settle(id);
        Some(id)
    }
}

impl<H, S, E, R> Server<H, S, E, R>
where
    H: Copy + Ord + core::fmt::Debug,
    S: Tables<H>,
    E: Entropy,
    R: RoomTable,
{
    /// Sets how long this node's `allRooms`, `fetchSockets` and
    /// `serverSideEmit` with an ack wait for answers (Node's
    /// `requestsTimeout`; [`DEFAULT_REQUESTS_TIMEOUT`] until set).
    pub fn set_requests_timeout(&mut self, timeout: Duration) {
        if let Some(l) = self.adapter.as_mut() {
            l.cluster.timeout = Some(timeout);
        }
    }

    /// Queues request `kind` on `nsp`'s request channel (its body written by
    /// `body`) and the count of its subscribers; returns its id.
    fn issue(
        &mut self,
        now: Instant,
        nsp: &str,
        kind: RequestKind,
        timeout: Option<Duration>,
        clients: usize,
        body: Body<'_>,
    ) -> Result<RequestId, Error> {
        let id = RequestId::random(self.engine_entropy());
        let l = self.adapter.as_mut().ok_or(Error::NotConnected)?;
        if !l.connected {
            return Err(Error::NotConnected);
        }
        let c = &l.cluster;
        if c.outstanding.len() >= MAX_REQUESTS || c.counts.len() >= MAX_REQUESTS {
            return Err(Error::QueueFull);
        }
        let name = nsp_of(nsp)?;
        let deadline = now + timeout.unwrap_or(c.timeout());
        l.push_request(nsp, |a, out| body(a, id.as_str(), out))?;
        let c = &mut l.cluster;
        push(&mut c.counts, MAX_REQUESTS, name.clone())?;
        push(
            &mut c.outstanding,
            MAX_REQUESTS,
            Outstanding {
                id,
                kind,
                nsp: name,
                deadline,
                others: None,
                answers: 0,
                clients,
                acks: 0,
            },
        )?;
        Ok(id)
    }

    /// Asks every other node of the cluster for its rooms of `nsp` (Node's
    /// `allRooms`); see the [module docs](self) for the answers. This
    /// node's are [`local_rooms`](Self::local_rooms).
    ///
    /// Errors: [`Error::NotConnected`] (no adapter, or Redis down),
    /// [`Error::QueueFull`] past [`MAX_REQUESTS`], [`Error::TooLarge`] for a
    /// namespace over 64 bytes.
    pub fn all_rooms_cluster(&mut self, now: Instant, nsp: &str) -> Result<RequestId, Error> {
        self.issue(now, nsp, RequestKind::AllRooms, None, 0, &|a, id, out| {
            request::encode_all_rooms(a.uid(), id, out)
        })
    }

    /// Asks every other node of the cluster for its sockets of `nsp` in one
    /// of `select` (all when empty) and in none of `except` (Node's
    /// `fetchSockets`). This node's are [`local_sockets`](Self::local_sockets).
    /// Errors as [`all_rooms_cluster`](Self::all_rooms_cluster).
    pub fn fetch_sockets_cluster(
        &mut self,
        now: Instant,
        nsp: &str,
        select: &[&str],
        except: &[&str],
    ) -> Result<RequestId, Error> {
        self.issue(
            now,
            nsp,
            RequestKind::FetchSockets,
            None,
            0,
            &|a, id, out| request::encode_fetch(a.uid(), id, select, except, out),
        )
    }

    /// Emits event `name` with `args` (raw JSON values separated by commas)
    /// to the other servers' applications, each answering with an ack
    /// (Node's `serverSideEmit` with an ack). Errors as
    /// [`all_rooms_cluster`](Self::all_rooms_cluster), and [`Error::Json`].
    pub fn server_side_emit_with_ack_cluster(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &str,
    ) -> Result<RequestId, Error> {
        self.issue(
            now,
            nsp,
            RequestKind::ServerSideEmit,
            None,
            0,
            &|a, id, out| request::encode_server_side_emit_with_ack(a.uid(), id, name, args, out),
        )
    }

    /// Answers another server's `serverSideEmit` with an ack (whose
    /// [`request_id`](request::ServerSideEmit::request_id) it carried) with
    /// the first of `args` (raw JSON values separated by commas; none is
    /// `undefined`), on `nsp`'s response channel.
    ///
    /// Errors: [`Error::NotConnected`], [`Error::QueueFull`], [`Error::Json`].
    pub fn server_side_emit_ack(
        &mut self,
        nsp: &str,
        request_id: &str,
        args: &str,
    ) -> Result<(), Error> {
        let l = self.adapter.as_mut().ok_or(Error::NotConnected)?;
        if !l.connected {
            return Err(Error::NotConnected);
        }
        let first = request::first_arg(args)?;
        l.push_on(nsp, true, |_, out| {
            request::encode_server_side_emit_ack(request_id, first, out)
        })
    }

    /// Broadcasts `b` on every node of the cluster, each client asked for
    /// an ack within `timeout` (Node's `io.timeout(ms).emit(..., ack)`):
    /// sent to the local sockets at once, published as a request for the
    /// others. Returns the request and the local sockets asked; their acks
    /// are named by [`handle_cluster_ack`](Self::handle_cluster_ack) as
    /// [`ClusterAck::Own`], the other nodes' come as
    /// [`Applied::Response`](super::Applied::Response).
    ///
    /// Errors as [`all_rooms_cluster`](Self::all_rooms_cluster), the
    /// encoder's, and [`Error::Server`] for the local broadcast's checks
    /// (made before anything is queued).
    pub fn broadcast_with_ack_cluster(
        &mut self,
        now: Instant,
        b: &Outgoing<'_>,
        timeout: Duration,
    ) -> Result<(RequestId, usize), Error> {
        let limits = self.config().limits;
        crate::socketio::wire::EventText::new(b.nsp, None, b.name, b.attachments.len(), &limits)?;
        let mut flags = b.flags;
        flags.timeout = Some(timeout.as_millis());
        let b = Outgoing { flags, ..*b };
        let id = self.issue(
            now,
            b.nsp,
            RequestKind::BroadcastWithAck,
            Some(timeout),
            0,
            &|a, id, out| b.encode_with_ack(a.uid(), id, limits.max_depth, out),
        )?;
        let asked = self.emit_for_acks(
            now,
            b.nsp,
            b.rooms,
            b.except,
            b.name,
            b.args,
            b.attachments,
            timeout,
            &|| Owner::Own(id),
        )?;
        if let Some(l) = self.adapter.as_mut() {
            if let Some(o) = l.cluster.outstanding.iter_mut().find(|o| o.id == id) {
                o.clients += asked;
            }
            l.cluster.settle(id);
        }
        Ok((id, asked))
    }

    /// Emits to the local sockets a broadcast selects, each asked for an
    /// ack owed to `owner`; returns how many were asked.
    #[allow(clippy::too_many_arguments)]
    fn emit_for_acks(
        &mut self,
        now: Instant,
        nsp: &str,
        rooms: &[&str],
        except: &[&str],
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Duration,
        owner: &dyn Fn() -> Owner,
    ) -> Result<usize, Error> {
        // Past the bound (MAX_OWED, or 16 without `alloc`) sockets are not
        // asked, and not counted: the count published stays true.
        let mut targets: List<Sid> = List::new();
        self.targets(nsp, rooms, except, &mut |s| {
            let _ = push(&mut targets, MAX_OWED, s);
        });
        let mut asked = 0;
        for s in targets {
            let Ok(ack_id) = self.emit_with_ack(now, &s, name, args, attachments, Some(timeout))
            else {
                continue;
            };
            let Some(l) = self.adapter.as_mut() else {
                break;
            };
            let owed = Owed {
                socket: s,
                ack_id,
                deadline: now + timeout,
                owner: owner(),
            };
            if push(&mut l.cluster.owed, MAX_OWED, owed).is_ok() {
                asked += 1;
            }
        }
        Ok(asked)
    }

    /// Applies another node's broadcast with acks (request type 7) to the
    /// local sockets and publishes how many were asked.
    pub(super) fn apply_with_ack(
        &mut self,
        now: Instant,
        m: &super::Incoming<'_>,
        scratch: &mut [u8],
    ) -> Result<usize, Error> {
        let limits = self.config().limits;
        let mut bins: heapless::Vec<&[u8], 64> = heapless::Vec::new();
        for b in m.attachments() {
            bins.push(b).map_err(|_| Error::TooManyRooms)?;
        }
        let mut rooms: heapless::Vec<&str, { super::MAX_ROOMS }> = heapless::Vec::new();
        for r in m.rooms() {
            rooms.push(r).map_err(|_| Error::TooManyRooms)?;
        }
        let mut except: heapless::Vec<&str, { super::MAX_ROOMS }> = heapless::Vec::new();
        for r in m.except() {
            except.push(r).map_err(|_| Error::TooManyRooms)?;
        }
        let len = m.args(limits.max_depth, scratch)?;
        let args = core::str::from_utf8(&scratch[..len]).map_err(|_| Error::Malformed)?;
        let request_id = m.request_id.unwrap_or("");
        let rid = heapless::String::try_from(request_id).map_err(|_| Error::Malformed)?;
        let nsp = nsp_of(m.nsp)?;
        let timeout = Duration::from_millis(
            m.flags
                .timeout
                .unwrap_or(DEFAULT_REQUESTS_TIMEOUT.as_millis()),
        );
        let asked = self.emit_for_acks(
            now,
            m.nsp,
            &rooms,
            &except,
            m.name,
            args,
            &bins,
            timeout,
            &|| Owner::Other {
                request_id: rid.clone(),
                nsp: nsp.clone(),
            },
        )?;
        if let Some(l) = self.adapter.as_mut() {
            l.push_on(m.nsp, true, |_, out| {
                request::encode_client_count(request_id, asked as u64, out)
            })?;
        }
        Ok(asked)
    }

    /// A client's ack (an [`Event::Ack`](crate::socketio::endpoint::Event::Ack)
    /// of `socket` with `ack_id`, `args` and `attachments`): if a broadcast
    /// with acks of the cluster asked for it, an ack owed to another node
    /// is published to it ([`ClusterAck::Forwarded`]), one of this node's
    /// own broadcast is counted ([`ClusterAck::Own`]); otherwise it is the
    /// application's ([`ClusterAck::NotClusters`]). A driver hands every
    /// ack here first. A client that does not ack in time gives the
    /// application an [`Event::AckTimeout`](crate::socketio::endpoint::Event::AckTimeout)
    /// for an id it never asked for: ignore those.
    pub fn handle_cluster_ack(
        &mut self,
        socket: &Sid,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<ClusterAck, Error> {
        let max_depth = self.config().limits.max_depth;
        let Some(l) = self.adapter.as_mut() else {
            return Ok(ClusterAck::NotClusters);
        };
        let Some(i) = l
            .cluster
            .owed
            .iter()
            .position(|o| o.socket == *socket && o.ack_id == ack_id)
        else {
            return Ok(ClusterAck::NotClusters);
        };
        let owed = l.cluster.owed.remove(i);
        match owed.owner {
            Owner::Own(id) => {
                if let Some(o) = l.cluster.outstanding.iter_mut().find(|o| o.id == id) {
                    o.acks += 1;
                }
                l.cluster.settle(id);
                Ok(ClusterAck::Own(id))
            }
            Owner::Other { request_id, nsp } => {
                let first = request::first_arg(args)?;
                l.push_on(&nsp, true, |_, out| {
                    request::encode_broadcast_ack(&request_id, first, attachments, max_depth, out)
                })?;
                Ok(ClusterAck::Forwarded)
            }
        }
    }

    /// Answers another node's `allRooms` or `fetchSockets`.
    pub(super) fn answer_query(
        &mut self,
        q: &request::QueryRequest<'_>,
        scratch: &mut [u8],
    ) -> Result<(), Error> {
        let nsp = q.nsp;
        let id = q.request_id;
        match q.query {
            request::Query::AllRooms => {
                let rooms = self.rooms_snapshot(nsp);
                let l = self.adapter.as_mut().ok_or(Error::NotConnected)?;
                l.push_on(nsp, true, |_, out| {
                    request::encode_rooms_response(id, &|f| rooms.iter().for_each(|r| f(r)), out)
                })
            }
            request::Query::Fetch { select, except } => {
                let (select, rest) = request::strings(select, scratch)?;
                let (except, _) = request::strings(except, rest)?;
                let body = self.sockets_snapshot(nsp, &select, &except);
                let l = self.adapter.as_mut().ok_or(Error::NotConnected)?;
                l.push_on(nsp, true, |_, out| {
                    request::encode_sockets_response(id, &|w| w.put(body.as_bytes()), out)
                })
            }
        }
    }

    /// Calls `f` with each room of `nsp` on this node, the sockets' own
    /// (each socket is in the room named by its id) first: this node's part
    /// of an `allRooms`.
    pub fn local_rooms(&self, nsp: &str, f: &mut dyn FnMut(&str)) {
        self.for_each_socket(&mut |s, n| {
            if n == nsp {
                f(s.as_str());
            }
        });
        self.rooms().for_each_room(nsp, f);
    }

    /// Writes this node's sockets of `nsp` in one of `select` (all when
    /// empty) and in none of `except`, as a `fetchSockets` answer lists
    /// them: `{"id","handshake","rooms","data"}` objects separated by
    /// commas; returns the length.
    pub fn local_sockets(
        &self,
        nsp: &str,
        select: &[&str],
        except: &[&str],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        super::msgpack::measured(out, |w| {
            self.write_sockets(w, nsp, select, except);
            Ok(())
        })
    }

    fn write_sockets(
        &self,
        w: &mut dyn super::msgpack::Sink,
        nsp: &str,
        select: &[&str],
        except: &[&str],
    ) {
        let mut first = true;
        self.targets(nsp, select, except, &mut |s| {
            if !core::mem::take(&mut first) {
                w.put(b",");
            }
            let data = self
                .data(&s)
                .and_then(|d| core::str::from_utf8(d).ok())
                .filter(|d| crate::json::validate(d, crate::json::MAX_DEPTH).is_ok())
                .unwrap_or("{}");
            let sock = request::FetchedSocket {
                id: s.as_str(),
                auth: "{}",
                data,
            };
            request::write_fetched_socket(w, &sock, &|f| self.rooms().for_each_room_of(nsp, s, f));
        });
    }

    #[cfg(feature = "alloc")]
    fn rooms_snapshot(&self, nsp: &str) -> alloc::vec::Vec<alloc::string::String> {
        let mut v = alloc::vec::Vec::new();
        self.local_rooms(nsp, &mut |r| v.push(r.into()));
        v
    }

    #[cfg(feature = "alloc")]
    fn sockets_snapshot(
        &self,
        nsp: &str,
        select: &[&str],
        except: &[&str],
    ) -> alloc::string::String {
        let mut w = alloc::vec::Vec::new();
        self.write_sockets(&mut VecSink(&mut w), nsp, select, except);
        alloc::string::String::from_utf8(w).unwrap_or_default()
    }

    #[cfg(not(feature = "alloc"))]
    fn rooms_snapshot(&self, nsp: &str) -> heapless::Vec<heapless::String<64>, 16> {
        let mut v = heapless::Vec::new();
        self.local_rooms(nsp, &mut |r| {
            if let Ok(s) = heapless::String::try_from(r) {
                let _ = v.push(s);
            }
        });
        v
    }

    #[cfg(not(feature = "alloc"))]
    fn sockets_snapshot(
        &self,
        nsp: &str,
        select: &[&str],
        except: &[&str],
    ) -> heapless::String<1024> {
        let mut w = FixedSink(heapless::Vec::new(), false);
        self.write_sockets(&mut w, nsp, select, except);
        if w.1 {
            return heapless::String::new();
        }
        heapless::String::from_utf8(w.0).unwrap_or_default()
    }

    /// The next request channel whose subscribers the driver must count
    /// (`PUBSUB NUMSUB <channel>`), written into `out`; returns its length.
    /// The driver hands the reply to
    /// [`handle_adapter_count`](Self::handle_adapter_count). `Ok(None)` when
    /// none waits; [`Error::BufferTooSmall`] leaves it queued.
    #[must_use = "the count must be asked for"]
    pub fn poll_adapter_count(&mut self, out: &mut [u8]) -> Result<Option<usize>, Error> {
        let Some(l) = self.adapter.as_mut() else {
            return Ok(None);
        };
        let Some(nsp) = l.cluster.counts.first() else {
            return Ok(None);
        };
        let n = request::channel(l.adapter.prefix(), nsp, out)?;
        l.cluster.counts.remove(0);
        Ok(Some(n))
    }

    /// Redis's answer to `PUBSUB NUMSUB channel`: `count` subscribers of the
    /// request channel, this node one of them. It goes to the oldest request
    /// on that namespace still waiting for its count.
    pub fn handle_adapter_count(&mut self, channel: &[u8], count: i64) {
        let Some(l) = self.adapter.as_mut() else {
            return;
        };
        let Ok(nsp) = request::channel_nsp(l.adapter.prefix(), channel) else {
            return;
        };
        let c = &mut l.cluster;
        if let Some(o) = c
            .outstanding
            .iter_mut()
            .find(|o| o.nsp == nsp && o.others.is_none())
        {
            o.others = Some(usize::try_from(count.saturating_sub(1)).unwrap_or(0));
            let id = o.id;
            c.settle(id);
        }
    }

    /// The next request of this node that is over (answered by every other
    /// node, or timed out). Changes after
    /// [`handle_adapter_message`](Self::handle_adapter_message),
    /// [`handle_adapter_count`](Self::handle_adapter_count),
    /// [`handle_cluster_ack`](Self::handle_cluster_ack) and
    /// [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_cluster_event(&mut self) -> Option<RequestDone> {
        let l = self.adapter.as_mut()?;
        if l.cluster.done.is_empty() {
            return None;
        }
        Some(l.cluster.done.remove(0))
    }
}

#[cfg(feature = "alloc")]
struct VecSink<'a>(&'a mut alloc::vec::Vec<u8>);

#[cfg(feature = "alloc")]
impl super::msgpack::Sink for VecSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

#[cfg(not(feature = "alloc"))]
struct FixedSink(heapless::Vec<u8, 1024>, bool);

#[cfg(not(feature = "alloc"))]
impl super::msgpack::Sink for FixedSink {
    fn put(&mut self, bytes: &[u8]) {
        if self.0.extend_from_slice(bytes).is_err() {
            self.1 = true;
        }
    }
}
