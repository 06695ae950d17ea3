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
//! The other requests (`fetchSockets`, `allRooms`, `serverSideEmit` with an
//! ack, broadcasts with acks) want answers a node gives once the Node adapter
//! counts it among the subscribers of the request channel (`PUBSUB NUMSUB`);
//! sockwire does not answer them yet, so it listens to the channel with a
//! pattern subscription, which `NUMSUB` does not count: Node nodes do not
//! wait for it. [`Request::decode`] reads them as `Ok(None)`; a
//! `serverSideEmit` with an ack is delivered, its ack never sent.

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
    /// The sender waits for an ack (which sockwire does not send).
    pub wants_ack: bool,
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
    for a in super::arg_values(args) {
        json::validate(a?, json::MAX_DEPTH).map_err(|_| Error::Json)?;
    }
    msgpack::measured(out, |w| {
        w.put(b"{\"uid\":");
        json_string(w, uid);
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
