//! The adapter's requests that need no answer: `socketsJoin`,
//! `socketsLeave` and `disconnectSockets` across the cluster.
//!
//! The Node adapter publishes them as JSON on the request channel
//! `socket.io-request#<nsp>#`:
//!
//! ```text
//! {"uid":"jEhh9X","type":2,"opts":{"rooms":["r1"],"except":["r3"]},"rooms":["x","y"]}   socketsJoin
//! {"uid":"jEhh9X","type":3,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}           socketsLeave
//! {"uid":"jEhh9X","type":4,"opts":{"rooms":[],"except":["r1"]},"close":true}             disconnectSockets
//! ```
//!
//! Every node, the publisher included (the message comes back to it), applies
//! them to its sockets of the namespace that are in one of `opts.rooms`
//! (all when empty) and in none of `opts.except`.
//!
//! `serverSideEmit` (an event for the other servers, not for clients) is
//! `{"uid":"iSfCJs","type":6,"data":["relay","x",{"n":1}]}` on the same
//! channel ([`ServerSideEmit`]); the publisher drops its own.
//!
//! The other requests want answers, published on the response channel
//! `socket.io-response#<nsp>#` ([`response_channel`]), which every node
//! SUBSCRIBEs to beside the request channel (by exact name: `PUBSUB NUMSUB`
//! counts those subscribers, and a requester waits for that many answers,
//! itself included):
//!
//! ```text
//! {"uid":"jEhh9X","requestId":"Qx1Y2z","type":1}                                        allRooms
//! {"requestId":"Qx1Y2z","rooms":["r1","zHk..."]}                                         its answer
//! {"uid":"jEhh9X","requestId":"Qx1Y2z","type":5,"opts":{"rooms":[],"except":[]}}        fetchSockets
//! {"requestId":"Qx1Y2z","sockets":[{"id","handshake","rooms","data"}]}                   its answer
//! {"uid":"jEhh9X","requestId":"Qx1Y2z","type":6,"data":["ev",1]}                        serverSideEmit with ack
//! {"type":6,"requestId":"Qx1Y2z","data":<the ack's first argument>}                      its answer
//! MessagePack {uid, requestId, type: 7, packet, opts}                                    broadcast with acks
//! {"type":8,"requestId":"Qx1Y2z","clientCount":2}                                        a node's client count
//! MessagePack {type: 9, requestId, packet: <a client's ack argument>}                   each client's ack
//! ```
//!
//! [`QueryRequest`] decodes the first two kinds, [`Response`] every answer;
//! the `encode_*` functions write each shape.

use super::msgpack::{self, Sink};
use super::{Error, MAX_ROOMS};
use crate::json;

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// `socketsJoin`: the sockets join the rooms.
    Join,
    /// `socketsLeave`: the sockets leave the rooms.
    Leave,
    /// `disconnectSockets`: the sockets are disconnected from the namespace,
    /// and with `close` their whole connection is closed.
    Disconnect {
        /// Close the underlying connection too.
        close: bool,
    },
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Join => 2,
            Kind::Leave => 3,
            Kind::Disconnect { .. } => 4,
        }
    }
}

/// A request of another node (or this one's, back from Redis), borrowed from
/// its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The sender's uid.
    pub uid: &'a str,
    /// The namespace (from the channel).
    pub nsp: &'a str,
    /// What it does.
    pub kind: Kind,
    /// `opts.rooms`, a raw JSON array of strings.
    pub select: &'a str,
    /// `opts.except`, a raw JSON array of strings.
    pub except: &'a str,
    /// The rooms to join or leave, a raw JSON array of strings (`[]` for
    /// a disconnect).
    pub rooms: &'a str,
}

/// `prefix-request#`.
fn request_prefix(w: &mut dyn Sink, prefix: &str) {
    w.put(prefix.as_bytes());
    w.put(b"-request#");
}

/// Writes the request channel of `nsp`: `prefix-request#nsp#`; returns its
/// length. A node listens to it (PSUBSCRIBE with this exact name).
pub fn channel(prefix: &str, nsp: &str, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        request_prefix(w, prefix);
        w.put(nsp.as_bytes());
        w.put(b"#");
        Ok(())
    })
}

/// True when `channel` is a request channel of `prefix`.
pub fn is_request_channel(prefix: &str, channel: &[u8]) -> bool {
    channel
        .strip_prefix(prefix.as_bytes())
        .is_some_and(|c| c.starts_with(b"-request#"))
}

/// The namespace a request channel names (`prefix-request#nsp#`).
pub(crate) fn channel_nsp<'a>(prefix: &str, channel: &'a [u8]) -> Result<&'a str, Error> {
    core::str::from_utf8(channel)
        .ok()
        .and_then(|c| c.strip_prefix(prefix))
        .and_then(|c| c.strip_prefix("-request#"))
        .and_then(|c| c.strip_suffix('#'))
        .ok_or(Error::WrongChannel)
}

/// A JSON message of the request channel.
struct JsonRequest<'a> {
    nsp: &'a str,
    text: &'a str,
    kind: Option<u64>,
}

/// The JSON message on request channel `channel`; `None` for MessagePack.
fn json_request<'a>(
    prefix: &str,
    channel: &'a [u8],
    message: &'a [u8],
) -> Result<Option<JsonRequest<'a>>, Error> {
    let nsp = channel_nsp(prefix, channel)?;
    if message.first() != Some(&b'{') {
        return Ok(None);
    }
    let text = core::str::from_utf8(message).map_err(|_| Error::Json)?;
    json::validate(text, json::MAX_DEPTH).map_err(|_| Error::Json)?;
    let kind = json::get(text, "type").and_then(json::as_u64);
    Ok(Some(JsonRequest { nsp, text, kind }))
}

/// A raw JSON array of strings, or an error.
fn string_array(raw: Option<&str>) -> Result<&str, Error> {
    let raw = raw.ok_or(Error::Malformed)?;
    if json::kind(raw) != Some(json::Kind::Array)
        || json::elements(raw).any(|e| json::kind(e) != Some(json::Kind::String))
    {
        return Err(Error::Malformed);
    }
    Ok(raw)
}

impl<'a> Request<'a> {
    /// Decodes a message of the request channel `channel`: `Ok(None)` for the
    /// requests sockwire does not handle (see the module docs), and for
    /// their answers.
    ///
    /// Errors: [`Error::WrongChannel`], [`Error::Json`] (not JSON; the
    /// MessagePack requests are broadcasts with acks, read as `Ok(None)`),
    /// [`Error::Malformed`] (a member missing or mistyped).
    pub fn decode(
        prefix: &str,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Self>, Error> {
        let Some(JsonRequest { nsp, text, kind }) = json_request(prefix, channel, message)? else {
            return Ok(None);
        };
        let kind = match kind {
            Some(2) => Kind::Join,
            Some(3) => Kind::Leave,
            Some(4) => Kind::Disconnect {
                close: json::get(text, "close") == Some("true"),
            },
            _ => return Ok(None),
        };
        // The older form names one socket (`sid`, `room`) and wants an
        // answer: not handled.
        let Some(opts) = json::get(text, "opts") else {
            return Ok(None);
        };
        let uid = json::get(text, "uid")
            .filter(|u| json::kind(u) == Some(json::Kind::String))
            .ok_or(Error::Malformed)?;
        let uid = &uid[1..uid.len() - 1];
        let rooms = match kind {
            Kind::Disconnect { .. } => "[]",
            _ => string_array(json::get(text, "rooms"))?,
        };
        Ok(Some(Request {
            uid,
            nsp,
            kind,
            select: string_array(json::get(opts, "rooms").or(Some("[]")))?,
            except: string_array(json::get(opts, "except").or(Some("[]")))?,
            rooms,
        }))
    }
}

/// Unescapes the strings of the raw JSON array `raw` into `scratch`; returns
/// them and the unused rest of `scratch`.
pub(crate) fn strings<'s>(
    raw: &str,
    mut scratch: &'s mut [u8],
) -> Result<(heapless::Vec<&'s str, MAX_ROOMS>, &'s mut [u8]), Error> {
    let mut v = heapless::Vec::new();
    for e in json::elements(raw) {
        let need = match json::unescape(e, &mut []) {
            Ok(_) => 0,
            Err(json::Error::BufferTooSmall { required }) => required,
            Err(_) => return Err(Error::Malformed),
        };
        if need > scratch.len() {
            return Err(Error::BufferTooSmall {
                required: raw.len(),
            });
        }
        let (head, tail) = core::mem::take(&mut scratch).split_at_mut(need);
        let s = json::unescape(e, head).map_err(|_| Error::Malformed)?;
        v.push(s).map_err(|_| Error::TooManyRooms)?;
        scratch = tail;
    }
    Ok((v, scratch))
}

fn json_string(w: &mut dyn Sink, s: &str) {
    w.put(b"\"");
    msgpack::write_json_string(w, s);
    w.put(b"\"");
}

fn json_strings(w: &mut dyn Sink, list: &[&str]) {
    w.put(b"[");
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            w.put(b",");
        }
        json_string(w, s);
    }
    w.put(b"]");
}

/// A request this node publishes: the sockets of `nsp` in one of `select`
/// (all when empty) and in none of `except` do `kind` (with `rooms`).
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// The namespace.
    pub nsp: &'a str,
    /// What they do.
    pub kind: Kind,
    /// The rooms whose sockets do it (every socket of the namespace when
    /// empty).
    pub select: &'a [&'a str],
    /// Rooms and socket ids left out.
    pub except: &'a [&'a str],
    /// The rooms to join or leave (ignored for a disconnect).
    pub rooms: &'a [&'a str],
}

impl Outgoing<'_> {
    /// Writes the message as node `uid` publishes it, in the Node
    /// adapter's member order; returns its length.
    pub fn encode(&self, uid: &str, out: &mut [u8]) -> Result<usize, Error> {
        msgpack::measured(out, |w| {
            w.put(b"{\"uid\":");
            json_string(w, uid);
            w.put(b",\"type\":");
            w.put(&[b'0' + self.kind.code()]);
            w.put(b",\"opts\":{\"rooms\":");
            json_strings(w, self.select);
            w.put(b",\"except\":");
            json_strings(w, self.except);
            w.put(b"},");
            match self.kind {
                Kind::Disconnect { close } => {
                    w.put(if close {
                        b"\"close\":true}"
                    } else {
                        b"\"close\":false}"
                    });
                }
                _ => {
                    w.put(b"\"rooms\":");
                    json_strings(w, self.rooms);
                    w.put(b"}");
                }
            }
            Ok(())
        })
    }
}

/// A `serverSideEmit` from a node: an event for the servers, borrowed from
/// its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSideEmit<'a> {
    /// The sender's uid.
    pub uid: &'a str,
    /// The namespace (from the channel).
    pub nsp: &'a str,
    /// The event name, raw JSON (a string).
    pub name: &'a str,
    /// The arguments, raw JSON values separated by commas.
    pub args: &'a str,
    /// The sender waits for an ack: answer it with
    /// [`Server::server_side_emit_ack`](crate::socketio::Server::server_side_emit_ack).
    pub wants_ack: bool,
    /// The request id the ack carries, when the sender waits for one.
    pub request_id: Option<&'a str>,
}

impl<'a> ServerSideEmit<'a> {
    /// Decodes a message of the request channel `channel`: `Ok(None)` for
    /// anything but a `serverSideEmit`.
    ///
    /// Errors: [`Error::WrongChannel`], [`Error::Json`], [`Error::Malformed`]
    /// (no uid, data that is not an array led by a string).
    pub fn decode(
        prefix: &str,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Self>, Error> {
        let Some(JsonRequest { nsp, text, kind }) = json_request(prefix, channel, message)? else {
            return Ok(None);
        };
        if kind != Some(6) {
            return Ok(None);
        }
        let uid = json::get(text, "uid")
            .filter(|u| json::kind(u) == Some(json::Kind::String))
            .ok_or(Error::Malformed)?;
        let data = json::get(text, "data")
            .filter(|d| json::kind(d) == Some(json::Kind::Array))
            .ok_or(Error::Malformed)?;
        let mut it = json::elements(data);
        let name = it
            .next()
            .filter(|n| json::kind(n) == Some(json::Kind::String))
            .ok_or(Error::Malformed)?;
        // The arguments: the array's text after the name and its comma.
        let after = &data[name.as_ptr() as usize - data.as_ptr() as usize + name.len()..];
        let args = after
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .strip_prefix(',')
            .unwrap_or("")
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .strip_suffix(']')
            .unwrap_or("")
            .trim_matches([' ', '\t', '\n', '\r']);
        Ok(Some(ServerSideEmit {
            uid: &uid[1..uid.len() - 1],
            nsp,
            name,
            args,
            wants_ack: json::get(text, "requestId").is_some(),
            request_id: plain_id(text, "requestId")?,
        }))
    }
}

/// Writes the `serverSideEmit` of event `name` with `args` (raw JSON values
/// separated by commas) as node `uid` publishes it; returns its length.
/// [`Error::Json`] when `args` are not JSON values.
pub fn encode_server_side_emit(
    uid: &str,
    name: &str,
    args: &str,
    out: &mut [u8],
) -> Result<usize, Error> {
    server_side_emit(uid, None, name, args, out)
}

/// A `serverSideEmit`, with the `requestId` of one that wants acks.
fn server_side_emit(
    uid: &str,
    request_id: Option<&str>,
    name: &str,
    args: &str,
    out: &mut [u8],
) -> Result<usize, Error> {
    for a in super::arg_values(args) {
        json::validate(a?, json::MAX_DEPTH).map_err(|_| Error::Json)?;
    }
    msgpack::measured(out, |w| {
        w.put(b"{\"uid\":");
        json_string(w, uid);
        if let Some(id) = request_id {
            w.put(b",\"requestId\":");
            json_string(w, id);
        }
        w.put(b",\"type\":6,\"data\":[");
        json_string(w, name);
        if !args.trim().is_empty() {
            w.put(b",");
            w.put(args.trim().as_bytes());
        }
        w.put(b"]}");
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Requests that want answers, and the answers
// ---------------------------------------------------------------------------

/// The longest request id accepted from another node (the Node adapter's are
/// six alphanumerics).
pub const MAX_REQUEST_ID: usize = 32;

/// Request type numbers on the wire.
pub mod code {
    /// `allRooms`.
    pub const ALL_ROOMS: u8 = 1;
    /// `fetchSockets`.
    pub const REMOTE_FETCH: u8 = 5;
    /// `serverSideEmit`.
    pub const SERVER_SIDE_EMIT: u8 = 6;
    /// A broadcast with acks.
    pub const BROADCAST: u8 = 7;
    /// A node's client count for a broadcast with acks.
    pub const BROADCAST_CLIENT_COUNT: u8 = 8;
    /// One client's ack of a broadcast with acks.
    pub const BROADCAST_ACK: u8 = 9;
}

/// The value of member `key` of `text` as a plain JSON string (no escapes,
/// at most [`MAX_REQUEST_ID`] bytes), without its quotes.
fn plain_id<'a>(text: &'a str, key: &str) -> Result<Option<&'a str>, Error> {
    let Some(raw) = json::get(text, key) else {
        return Ok(None);
    };
    if json::kind(raw) != Some(json::Kind::String) {
        return Err(Error::Malformed);
    }
    let inner = &raw[1..raw.len() - 1];
    if inner.len() > MAX_REQUEST_ID || inner.contains('\\') {
        return Err(Error::Malformed);
    }
    Ok(Some(inner))
}

/// What another node asks of the others, wanting answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query<'a> {
    /// `allRooms()`: the rooms of the namespace.
    AllRooms,
    /// `fetchSockets()`: the sockets in one of `select` (all when empty) and
    /// in none of `except`, raw JSON arrays of strings.
    Fetch {
        /// `opts.rooms`.
        select: &'a str,
        /// `opts.except`.
        except: &'a str,
    },
}

/// A request wanting answers (`allRooms`, `fetchSockets`), borrowed from its
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryRequest<'a> {
    /// The sender's uid.
    pub uid: &'a str,
    /// The namespace (from the channel).
    pub nsp: &'a str,
    /// The id the answers carry.
    pub request_id: &'a str,
    /// What it asks.
    pub query: Query<'a>,
}

impl<'a> QueryRequest<'a> {
    /// Decodes a message of the request channel: `Ok(None)` for anything
    /// but an `allRooms` or a `fetchSockets`.
    ///
    /// Errors: [`Error::WrongChannel`], [`Error::Json`], [`Error::Malformed`].
    pub fn decode(
        prefix: &str,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Self>, Error> {
        let Some(JsonRequest { nsp, text, kind }) = json_request(prefix, channel, message)? else {
            return Ok(None);
        };
        let query = match kind {
            Some(1) => Query::AllRooms,
            Some(5) => {
                let opts = json::get(text, "opts").unwrap_or("{}");
                Query::Fetch {
                    select: string_array(json::get(opts, "rooms").or(Some("[]")))?,
                    except: string_array(json::get(opts, "except").or(Some("[]")))?,
                }
            }
            _ => return Ok(None),
        };
        let uid = plain_id(text, "uid")?.ok_or(Error::Malformed)?;
        let request_id = plain_id(text, "requestId")?.ok_or(Error::Malformed)?;
        Ok(Some(QueryRequest {
            uid,
            nsp,
            request_id,
            query,
        }))
    }
}

/// Writes the response channel of `nsp`: `prefix-response#nsp#`; returns its
/// length. A node SUBSCRIBEs to it.
pub fn response_channel(prefix: &str, nsp: &str, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        w.put(prefix.as_bytes());
        w.put(b"-response#");
        w.put(nsp.as_bytes());
        w.put(b"#");
        Ok(())
    })
}

/// Writes node `uid`'s own response channel of `nsp`:
/// `prefix-response#nsp#uid#`, where Node nodes with
/// `publishOnSpecificResponseChannel` answer it; returns its length. A node
/// SUBSCRIBEs to it beside the shared one.
pub fn own_response_channel(
    prefix: &str,
    nsp: &str,
    uid: &str,
    out: &mut [u8],
) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        w.put(prefix.as_bytes());
        w.put(b"-response#");
        w.put(nsp.as_bytes());
        w.put(b"#");
        w.put(uid.as_bytes());
        w.put(b"#");
        Ok(())
    })
}

/// The namespace a response channel names (`prefix-response#nsp#`, or
/// `prefix-response#nsp#uid#`, a node's own).
pub(crate) fn response_nsp<'a>(prefix: &str, channel: &'a [u8]) -> Option<&'a str> {
    let rest = core::str::from_utf8(channel)
        .ok()?
        .strip_prefix(prefix)?
        .strip_prefix("-response#")?
        .strip_suffix('#')?;
    Some(rest.split_once('#').map_or(rest, |(nsp, _)| nsp))
}

/// True when `channel` is a response channel of `prefix`.
pub fn is_response_channel(prefix: &str, channel: &[u8]) -> bool {
    channel
        .strip_prefix(prefix.as_bytes())
        .is_some_and(|c| c.starts_with(b"-response#"))
}

/// An answer to a request, borrowed from its message on the response
/// channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// To `allRooms`: a raw JSON array of room names.
    Rooms {
        /// The request's id.
        request_id: &'a str,
        /// The rooms.
        rooms: &'a str,
    },
    /// To `fetchSockets`: a raw JSON array of
    /// `{"id","handshake","rooms","data"}` objects.
    Sockets {
        /// The request's id.
        request_id: &'a str,
        /// The sockets.
        sockets: &'a str,
    },
    /// To a `serverSideEmit` with an ack: the other server's ack argument,
    /// raw JSON (`None` when it acked with none).
    ServerSideEmitAck {
        /// The request's id.
        request_id: &'a str,
        /// The argument.
        data: Option<&'a str>,
    },
    /// To a broadcast with acks: how many of its clients a node asked.
    ClientCount {
        /// The request's id.
        request_id: &'a str,
        /// The clients.
        count: u64,
    },
    /// To a broadcast with acks: one client's ack argument, one MessagePack
    /// item (see [`ack_json`]); empty when the client acked with none.
    BroadcastAck {
        /// The request's id.
        request_id: &'a str,
        /// The argument, MessagePack.
        packet: &'a [u8],
    },
}

impl<'a> Response<'a> {
    /// The id of the request it answers.
    pub fn request_id(&self) -> &'a str {
        match *self {
            Response::Rooms { request_id, .. }
            | Response::Sockets { request_id, .. }
            | Response::ServerSideEmitAck { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// Decodes a message of a response channel of `prefix`: `Ok(None)` for
    /// answers of kinds sockwire does not ask for (the legacy ones).
    ///
    /// Errors: [`Error::WrongChannel`], [`Error::Json`], [`Error::Malformed`],
    /// the MessagePack reader's errors.
    pub fn decode(
        prefix: &str,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Self>, Error> {
        response_nsp(prefix, channel).ok_or(Error::WrongChannel)?;
        if message.first() != Some(&b'{') {
            let mut r = msgpack::Reader::new(message);
            let msgpack::Item::Map(n) = r.item()? else {
                return Err(Error::Malformed);
            };
            let (mut kind, mut id, mut packet) = (None, None, &[][..]);
            for _ in 0..n {
                match r.str()? {
                    "type" => kind = Some(r.item()?),
                    "requestId" => id = Some(r.str()?),
                    "packet" => packet = r.skip()?,
                    _ => {
                        r.skip()?;
                    }
                }
            }
            if kind != Some(msgpack::Item::Uint(u64::from(code::BROADCAST_ACK))) {
                return Ok(None);
            }
            let request_id = id
                .filter(|i| i.len() <= MAX_REQUEST_ID)
                .ok_or(Error::Malformed)?;
            return Ok(Some(Response::BroadcastAck { request_id, packet }));
        }
        let text = core::str::from_utf8(message).map_err(|_| Error::Json)?;
        json::validate(text, json::MAX_DEPTH).map_err(|_| Error::Json)?;
        let Some(request_id) = plain_id(text, "requestId")? else {
            return Ok(None);
        };
        let kind = json::get(text, "type").and_then(json::as_u64);
        let array = |key| json::get(text, key).filter(|a| json::kind(a) == Some(json::Kind::Array));
        Ok(match kind {
            Some(6) => Some(Response::ServerSideEmitAck {
                request_id,
                data: json::get(text, "data"),
            }),
            Some(8) => Some(Response::ClientCount {
                request_id,
                count: json::get(text, "clientCount")
                    .and_then(json::as_u64)
                    .ok_or(Error::Malformed)?,
            }),
            Some(_) => None,
            None => {
                if let Some(rooms) = array("rooms") {
                    // Room names are strings; anything else is not an answer
                    // this node can pass on as one.
                    if json::elements(rooms).any(|r| json::kind(r) != Some(json::Kind::String)) {
                        return Err(Error::Malformed);
                    }
                    Some(Response::Rooms { request_id, rooms })
                } else {
                    array("sockets").map(|sockets| Response::Sockets {
                        request_id,
                        sockets,
                    })
                }
            }
        })
    }
}

/// Writes a [`Response::BroadcastAck`]'s argument as JSON (binary values as
/// attachment placeholders numbered in order, `null` for none); returns its
/// length.
pub fn ack_json(packet: &[u8], max_depth: usize, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        if packet.is_empty() {
            w.put(b"null");
            return Ok(());
        }
        let mut r = msgpack::Reader::new(packet);
        msgpack::msgpack_to_json(w, &mut r, &mut msgpack::BinCounter(0), max_depth)
    })
}

fn open_response(w: &mut dyn Sink, kind: Option<u8>, request_id: &str) {
    w.put(b"{");
    if let Some(k) = kind {
        w.put(b"\"type\":");
        write_small(w, u64::from(k));
        w.put(b",");
    }
    w.put(b"\"requestId\":");
    json_string(w, request_id);
}

fn write_small(w: &mut dyn Sink, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    w.put(&digits[i..]);
}

/// A list of names, given by calling its argument with each.
pub type Names<'a> = &'a dyn Fn(&mut dyn FnMut(&str));

/// Writes the answer to an `allRooms`: `{"requestId":..,"rooms":[..]}`,
/// the rooms from `rooms` (called with a function taking each name).
pub fn encode_rooms_response(
    request_id: &str,
    rooms: Names<'_>,
    out: &mut [u8],
) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        open_response(w, None, request_id);
        w.put(b",\"rooms\":[");
        let mut first = true;
        rooms(&mut |r| {
            if !core::mem::take(&mut first) {
                w.put(b",");
            }
            json_string(w, r);
        });
        w.put(b"]}");
        Ok(())
    })
}

/// One socket of an answer to `fetchSockets`.
#[derive(Clone, Copy, Debug)]
pub struct FetchedSocket<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its handshake auth, raw JSON (`{}` when none).
    pub auth: &'a str,
    /// Its data, raw JSON (`{}` when none).
    pub data: &'a str,
}

/// Writes one socket of a `fetchSockets` answer, as the Node adapter does:
/// `{"id","handshake","rooms","data"}`; `rooms` lists its rooms (after its
/// own id, which comes first).
pub fn write_fetched_socket(w: &mut dyn Sink, s: &FetchedSocket<'_>, rooms: Names<'_>) {
    w.put(b"{\"id\":");
    json_string(w, s.id);
    w.put(b",\"handshake\":{\"headers\":{},\"time\":\"\",\"address\":\"\",\"xdomain\":false,\"secure\":false,\"issued\":0,\"url\":\"\",\"query\":{},\"auth\":");
    w.put(s.auth.as_bytes());
    w.put(b"},\"rooms\":[");
    json_string(w, s.id);
    rooms(&mut |r| {
        w.put(b",");
        json_string(w, r);
    });
    w.put(b"],\"data\":");
    w.put(s.data.as_bytes());
    w.put(b"}");
}

/// Writes the answer to a `fetchSockets`: `{"requestId":..,"sockets":[..]}`,
/// each socket written by `sockets` (with [`write_fetched_socket`], commas
/// included: it is given the sink).
pub fn encode_sockets_response(
    request_id: &str,
    sockets: &dyn Fn(&mut dyn Sink),
    out: &mut [u8],
) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        open_response(w, None, request_id);
        w.put(b",\"sockets\":[");
        sockets(w);
        w.put(b"]}");
        Ok(())
    })
}

/// Writes the answer to a `serverSideEmit` with an ack:
/// `{"type":6,"requestId":..,"data":<arg>}` (no `data` for `None`).
/// [`Error::Json`] when `data` is not one JSON value.
pub fn encode_server_side_emit_ack(
    request_id: &str,
    data: Option<&str>,
    out: &mut [u8],
) -> Result<usize, Error> {
    if let Some(d) = data {
        json::validate(d, json::MAX_DEPTH).map_err(|_| Error::Json)?;
    }
    msgpack::measured(out, |w| {
        open_response(w, Some(code::SERVER_SIDE_EMIT), request_id);
        if let Some(d) = data {
            w.put(b",\"data\":");
            w.put(d.trim().as_bytes());
        }
        w.put(b"}");
        Ok(())
    })
}

/// Writes a node's client count for a broadcast with acks:
/// `{"type":8,"requestId":..,"clientCount":N}`.
pub fn encode_client_count(request_id: &str, count: u64, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        open_response(w, Some(code::BROADCAST_CLIENT_COUNT), request_id);
        w.put(b",\"clientCount\":");
        write_small(w, count);
        w.put(b"}");
        Ok(())
    })
}

/// Writes one client's ack of a broadcast with acks, MessagePack
/// `{type: 9, requestId, packet: <arg>}` (no `packet` for `None`); the
/// argument is JSON whose placeholders name `attachments`.
pub fn encode_broadcast_ack(
    request_id: &str,
    arg: Option<&str>,
    attachments: &[&[u8]],
    max_depth: usize,
    out: &mut [u8],
) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        msgpack::write_map_header(w, 2 + usize::from(arg.is_some()));
        msgpack::write_str(w, "type");
        msgpack::write_uint(w, u64::from(code::BROADCAST_ACK));
        msgpack::write_str(w, "requestId");
        msgpack::write_str(w, request_id);
        if let Some(a) = arg {
            msgpack::write_str(w, "packet");
            msgpack::json_to_msgpack(w, a, attachments, max_depth)?;
        }
        Ok(())
    })
}

/// Writes an `allRooms` request: `{"uid","requestId","type":1}`.
pub fn encode_all_rooms(uid: &str, request_id: &str, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        w.put(b"{\"uid\":");
        json_string(w, uid);
        w.put(b",\"requestId\":");
        json_string(w, request_id);
        w.put(b",\"type\":1}");
        Ok(())
    })
}

/// Writes a `fetchSockets` request:
/// `{"uid","requestId","type":5,"opts":{"rooms":[..],"except":[..]}}`.
pub fn encode_fetch(
    uid: &str,
    request_id: &str,
    select: &[&str],
    except: &[&str],
    out: &mut [u8],
) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        w.put(b"{\"uid\":");
        json_string(w, uid);
        w.put(b",\"requestId\":");
        json_string(w, request_id);
        w.put(b",\"type\":5,\"opts\":{\"rooms\":");
        json_strings(w, select);
        w.put(b",\"except\":");
        json_strings(w, except);
        w.put(b"}}");
        Ok(())
    })
}

/// Writes a `serverSideEmit` with an ack: as [`encode_server_side_emit`],
/// with a `requestId` after the uid.
pub fn encode_server_side_emit_with_ack(
    uid: &str,
    request_id: &str,
    name: &str,
    args: &str,
    out: &mut [u8],
) -> Result<usize, Error> {
    server_side_emit(uid, Some(request_id), name, args, out)
}

/// The first of `args` (raw JSON values separated by commas), if any.
pub fn first_arg(args: &str) -> Result<Option<&str>, Error> {
    super::arg_values(args).next().transpose()
}
