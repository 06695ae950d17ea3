//! Several Socket.IO servers as one, through Redis, on the wire of Node's
//! `@socket.io/redis-adapter` (8.x, the classic adapter): a sockwire node
//! joins a cluster of Node nodes, each seeing the others' broadcasts.
//!
//! # The protocol
//!
//! Each node of a namespace has a *uid* (six alphanumerics). A broadcast is
//! sent to the local sockets at once and PUBLISHed to Redis as a MessagePack
//! array `[uid, packet, opts]`:
//!
//! - `packet` is the Socket.IO packet as an object,
//!   `{"type": 2, "data": [event, ...args], "nsp": "/"}`; binary arguments
//!   travel inline as MessagePack `bin` (never as attachments with
//!   placeholders: the type stays 2, and each node turns them back into a
//!   binary event for its clients);
//! - `opts` is `{"rooms": [...], "except": [...], "flags": {...}}`.
//!
//! The channel is `socket.io#<nsp>#`, or `socket.io#<nsp>#<room>#` when the
//! broadcast names exactly one room. Every node PSUBSCRIBEs to
//! `socket.io#<nsp>#*`, drops its own messages (same uid) and broadcasts the
//! others' to its local sockets, rooms and exceptions applied.
//!
//! # Pieces
//!
//! - [`msgpack`]: the MessagePack codec and the JSON transcoders, with no
//!   tree: JSON arguments are walked into MessagePack and back.
//! - [`resp`]: the Redis client codec (RESP2, and RESP3 push frames) for the
//!   commands the adapter needs.
//! - [`request`]: the requests `socketsJoin`, `socketsLeave`,
//!   `disconnectSockets` (JSON on `socket.io-request#<nsp>#`), both ways
//!   ([`Server::sockets_cluster`](super::Server::sockets_cluster)), and
//!   `serverSideEmit` without an ack
//!   ([`Server::server_side_emit_cluster`](super::Server::server_side_emit_cluster)),
//!   and the requests that want answers (`allRooms`, `fetchSockets`,
//!   `serverSideEmit` with an ack, broadcasts with acks) with their answers.
//! - [`cluster`]: those requests on a server, both ways: answering another
//!   node's, issuing this node's and collecting the answers, with the
//!   server count from `PUBSUB NUMSUB` and a timeout.
//! - [`Outgoing`] and [`Incoming`]: a broadcast to publish, and one that
//!   came from another node; [`Adapter`] holds the node's uid and channel
//!   prefix and joins them to a [`socketio::Server`](super::Server):
//!   [`Adapter::broadcast`] broadcasts locally and encodes the message to
//!   publish, [`Adapter::handle_message`] applies another node's.
//!
//! Everything is Sans-IO and `no_std`: output goes into caller-lent buffers,
//! and a buffer that is too small is reported with the size it needs, left
//! untouched. What comes from Redis is never trusted: a message that does not
//! decode gives a typed [`Error`] (skip it), sizes and depth are bounded.
//!
//! ```
//! use sockwire::socketio::adapter::{Flags, Incoming, Outgoing};
//! let b = Outgoing {
//!     nsp: "/",
//!     rooms: &["room1"],
//!     except: &[],
//!     flags: Flags::default(),
//!     name: "hello",
//!     args: r#""world""#,
//!     attachments: &[],
//! };
//! let (mut channel, mut message) = ([0u8; 64], [0u8; 128]);
//! let c = b.channel("socket.io", &mut channel).unwrap();
//! assert_eq!(&channel[..c], b"socket.io#/#room1#");
//! let n = b.encode("Ab3dE6", 32, &mut message).unwrap();
//! let got = Incoming::decode("socket.io", &channel[..c], &message[..n]).unwrap();
//! assert_eq!((got.uid, got.nsp, got.name), ("Ab3dE6", "/", "hello"));
//! assert_eq!(got.rooms().collect::<Vec<_>>(), ["room1"]);
//! let mut args = [0u8; 32];
//! let len = got.args(32, &mut args).unwrap();
//! assert_eq!(&args[..len], br#""world""#);
//! ```

pub mod cluster;
pub mod msgpack;
pub mod request;
pub mod resp;
mod server;

pub use cluster::{
    ClusterAck, DEFAULT_REQUESTS_TIMEOUT, MAX_REQUESTS, RequestDone, RequestId, RequestKind,
};
pub(crate) use server::Link;
pub use server::{Applied, MAX_QUEUED, Tables};

use core::fmt;

use msgpack::{Item, Reader, Sink};

/// The channel prefix of the Node adapter (its `key` option's default).
pub const DEFAULT_PREFIX: &str = "socket.io";

/// The length of a node's uid.
pub const UID_LEN: usize = 6;

/// The most rooms, and the most exceptions, a broadcast from another node
/// may name for [`Adapter::handle_message`]; more is
/// [`Error::TooManyRooms`].
pub const MAX_ROOMS: usize = 32;

/// What can go wrong in the adapter layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The output buffer is too small; it was left untouched.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
    /// A message from Redis ends inside a value.
    Truncated,
    /// A message from Redis is not MessagePack of the adapter's shape: a
    /// reserved byte, a string that is not UTF-8, a map key that is not a
    /// string, a missing or mistyped member.
    Malformed,
    /// Arrays and maps nest deeper than the limit.
    TooDeep,
    /// A message uses a MessagePack extension type, or a packet type other
    /// than EVENT, or an event name that is not a string: not something a
    /// Node node broadcasts.
    Unsupported,
    /// The channel is not a broadcast channel of this prefix.
    WrongChannel,
    /// A broadcast names more than [`MAX_ROOMS`] rooms or exceptions, or
    /// more binary values than the Socket.IO limits allow.
    TooManyRooms,
    /// Event arguments given to an encoder are not JSON values separated by
    /// commas.
    Json,
    /// An attachment placeholder in the arguments names no attachment.
    InvalidPlaceholder,
    /// The local broadcast failed.
    Server(super::Error),
    /// Redis sent something that is not RESP: an unknown type byte, a
    /// length or number that does not parse, a missing CRLF. The connection
    /// cannot go on.
    Protocol,
    /// The server's adapter is not connected to Redis
    /// ([`Server::set_adapter_connected`](super::Server::set_adapter_connected)),
    /// or has no adapter: nothing was sent anywhere.
    NotConnected,
    /// The queue of messages to publish is full (the driver has not drained
    /// [`Server::poll_adapter_publish`](super::Server::poll_adapter_publish)):
    /// nothing was sent anywhere.
    QueueFull,
    /// A RESP bulk string, line or aggregate is longer than the
    /// [`resp::Limits`]. The connection cannot go on.
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            Error::Truncated => f.write_str("adapter message truncated"),
            Error::Malformed => f.write_str("malformed adapter message"),
            Error::TooDeep => f.write_str("adapter message nested too deeply"),
            Error::Unsupported => f.write_str("unsupported adapter message"),
            Error::WrongChannel => f.write_str("not a broadcast channel"),
            Error::TooManyRooms => f.write_str("too many rooms or binary values"),
            Error::Json => f.write_str("event arguments are not JSON values"),
            Error::InvalidPlaceholder => f.write_str("placeholder names no attachment"),
            Error::Server(e) => write!(f, "local broadcast: {e}"),
            Error::Protocol => f.write_str("not RESP"),
            Error::NotConnected => f.write_str("not connected to Redis"),
            Error::QueueFull => f.write_str("publish queue full"),
            Error::TooLarge => f.write_str("RESP frame over the limits"),
        }
    }
}

impl core::error::Error for Error {}

impl From<super::Error> for Error {
    fn from(e: super::Error) -> Self {
        Error::Server(e)
    }
}

/// A broadcast's flags, as the Node adapter carries them (`opts.flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags {
    /// `volatile`: may be dropped.
    pub volatile: bool,
    /// `compress`, when set.
    pub compress: Option<bool>,
    /// `local`: for this node only (never published by a Node node).
    pub local: bool,
    /// `broadcast`: set by `socket.broadcast`.
    pub broadcast: bool,
    /// `timeout` in milliseconds, for a broadcast with acks.
    pub timeout: Option<u64>,
}

impl Flags {
    fn count(&self) -> usize {
        usize::from(self.volatile)
            + usize::from(self.compress.is_some())
            + usize::from(self.local)
            + usize::from(self.broadcast)
            + usize::from(self.timeout.is_some())
    }

    fn encode(&self, w: &mut dyn Sink) {
        msgpack::write_map_header(w, self.count());
        for (name, on) in [
            ("volatile", self.volatile),
            ("local", self.local),
            ("broadcast", self.broadcast),
        ] {
            if on {
                msgpack::write_str(w, name);
                msgpack::write_bool(w, true);
            }
        }
        if let Some(c) = self.compress {
            msgpack::write_str(w, "compress");
            msgpack::write_bool(w, c);
        }
        if let Some(t) = self.timeout {
            msgpack::write_str(w, "timeout");
            msgpack::write_uint(w, t);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mut flags = Flags::default();
        let Item::Map(n) = r.item()? else {
            // `flags: undefined` is left out; nil is harmless too.
            return Ok(flags);
        };
        for _ in 0..n {
            let key = r.str()?;
            let value = r.item()?;
            let on = matches!(value, Item::Bool(true));
            match (key, value) {
                ("volatile", _) => flags.volatile = on,
                ("local", _) => flags.local = on,
                ("broadcast", _) => flags.broadcast = on,
                ("compress", Item::Bool(c)) => flags.compress = Some(c),
                ("timeout", Item::Uint(t)) => flags.timeout = Some(t),
                (_, Item::Array(_) | Item::Map(_)) => return Err(Error::Unsupported),
                _ => {}
            }
        }
        Ok(flags)
    }
}

/// Writes `prefix#nsp#` and, with a room, `room#`.
fn write_channel(w: &mut dyn Sink, prefix: &str, nsp: &str, room: Option<&str>) {
    for part in [prefix, "#", nsp, "#"] {
        w.put(part.as_bytes());
    }
    if let Some(room) = room {
        w.put(room.as_bytes());
        w.put(b"#");
    }
}

/// Writes the pattern a node PSUBSCRIBEs to for the broadcasts of `nsp`:
/// `prefix#nsp#*`; returns its length.
pub fn broadcast_pattern(prefix: &str, nsp: &str, out: &mut [u8]) -> Result<usize, Error> {
    msgpack::measured(out, |w| {
        write_channel(w, prefix, nsp, None);
        w.put(b"*");
        Ok(())
    })
}

/// A broadcast to publish: what [`Server::broadcast`](super::Server::broadcast)
/// takes, and the flags.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// The namespace.
    pub nsp: &'a str,
    /// The rooms (every socket of the namespace when empty).
    pub rooms: &'a [&'a str],
    /// Rooms and socket ids left out.
    pub except: &'a [&'a str],
    /// The flags.
    pub flags: Flags,
    /// The event name.
    pub name: &'a str,
    /// The arguments, raw JSON values separated by commas; binary ones as
    /// attachment placeholders `{"_placeholder":true,"num":N}`.
    pub args: &'a str,
    /// The attachments the placeholders name.
    pub attachments: &'a [&'a [u8]],
}

/// The JSON values of `args` (comma separated), as raw text.
fn arg_values(args: &str) -> impl Iterator<Item = Result<&str, Error>> {
    let mut rest = Some(args.trim_matches([' ', '\t', '\n', '\r']));
    core::iter::from_fn(move || {
        let r = rest.take()?;
        if r.is_empty() {
            return None;
        }
        let len = crate::json::value_len(r);
        let (value, tail) = r.split_at(len);
        let tail = tail.trim_start_matches([' ', '\t', '\n', '\r']);
        match tail.strip_prefix(',') {
            Some(t) => {
                let t = t.trim_start_matches([' ', '\t', '\n', '\r']);
                if t.is_empty() {
                    return Some(Err(Error::Json));
                }
                rest = Some(t);
            }
            None if tail.is_empty() => {}
            None => return Some(Err(Error::Json)),
        }
        Some(Ok(value))
    })
}

impl Outgoing<'_> {
    /// The room named by the channel: the only room, if there is exactly one.
    fn channel_room(&self) -> Option<&str> {
        match self.rooms {
            [room] => Some(room),
            _ => None,
        }
    }

    /// Writes the channel to publish on (`prefix#nsp#`, or
    /// `prefix#nsp#room#` for exactly one room); returns its length.
    pub fn channel(&self, prefix: &str, out: &mut [u8]) -> Result<usize, Error> {
        msgpack::measured(out, |w| {
            write_channel(w, prefix, self.nsp, self.channel_room());
            Ok(())
        })
    }

    /// Writes the broadcast as a broadcast with acks (request type 7) of
    /// node `uid`, for the request channel: MessagePack
    /// `{uid, requestId, type: 7, packet, opts}`; returns its length.
    /// Errors as [`encode`](Self::encode).
    pub fn encode_with_ack(
        &self,
        uid: &str,
        request_id: &str,
        max_depth: usize,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.write(Some(request_id), uid, max_depth, out)
    }

    /// Writes the message as node `uid` publishes it; returns its length.
    /// The arguments may nest `max_depth` deep.
    ///
    /// Errors: [`Error::Json`], [`Error::TooDeep`],
    /// [`Error::InvalidPlaceholder`], [`Error::BufferTooSmall`].
    pub fn encode(&self, uid: &str, max_depth: usize, out: &mut [u8]) -> Result<usize, Error> {
        self.write(None, uid, max_depth, out)
    }

    fn write(
        &self,
        request_id: Option<&str>,
        uid: &str,
        max_depth: usize,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let mut args = 0;
        for a in arg_values(self.args) {
            a?;
            args += 1;
        }
        msgpack::measured(out, |w| {
            match request_id {
                Some(id) => {
                    msgpack::write_map_header(w, 5);
                    msgpack::write_str(w, "uid");
                    msgpack::write_str(w, uid);
                    msgpack::write_str(w, "requestId");
                    msgpack::write_str(w, id);
                    msgpack::write_str(w, "type");
                    msgpack::write_uint(w, 7);
                    msgpack::write_str(w, "packet");
                }
                None => {
                    msgpack::write_array_header(w, 3);
                    msgpack::write_str(w, uid);
                }
            }
            msgpack::write_map_header(w, 3);
            msgpack::write_str(w, "type");
            msgpack::write_uint(w, 2);
            msgpack::write_str(w, "data");
            msgpack::write_array_header(w, 1 + args);
            msgpack::write_str(w, self.name);
            for a in arg_values(self.args) {
                // The depth counts the data array.
                msgpack::json_to_msgpack(w, a?, self.attachments, max_depth.saturating_sub(1))?;
            }
            msgpack::write_str(w, "nsp");
            msgpack::write_str(w, self.nsp);
            if request_id.is_some() {
                msgpack::write_str(w, "opts");
            }
            msgpack::write_map_header(w, 3);
            msgpack::write_str(w, "rooms");
            msgpack::write_array_header(w, self.rooms.len());
            for r in self.rooms {
                msgpack::write_str(w, r);
            }
            // A set, as the Node adapter makes it.
            let unique = |i: usize| !self.except[..i].contains(&self.except[i]);
            msgpack::write_str(w, "except");
            msgpack::write_array_header(w, (0..self.except.len()).filter(|&i| unique(i)).count());
            for (i, e) in self.except.iter().enumerate() {
                if unique(i) {
                    msgpack::write_str(w, e);
                }
            }
            msgpack::write_str(w, "flags");
            self.flags.encode(w);
            Ok(())
        })
    }
}

/// A list of strings in a decoded message (checked when it was decoded).
#[derive(Clone, Debug)]
pub struct Strs<'a> {
    r: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Strs<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.r.str().ok()
    }
}

/// Reads an array of strings; returns it for iteration later.
fn read_strs<'a>(r: &mut Reader<'a>) -> Result<Strs<'a>, Error> {
    let Item::Array(n) = r.item()? else {
        return Err(Error::Malformed);
    };
    let list = Strs {
        r: r.clone(),
        left: n,
    };
    for _ in 0..n {
        r.str()?;
    }
    Ok(list)
}

/// The binary values of a decoded event, in order: attachment `N` is the one
/// whose placeholder has `"num":N` in [`Incoming::args`].
#[derive(Clone, Debug)]
pub struct Bins<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Bins<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.r.is_empty() {
            if let Ok(Item::Bin(b)) = self.r.item() {
                return Some(b);
            }
        }
        None
    }
}

/// A broadcast another node published, borrowed from its message.
#[derive(Clone, Debug)]
pub struct Incoming<'a> {
    /// The sender's uid.
    pub uid: &'a str,
    /// The namespace (`/` when the packet has none).
    pub nsp: &'a str,
    /// The room the channel names, if any.
    pub channel_room: Option<&'a str>,
    /// The event name.
    pub name: &'a str,
    /// The flags.
    pub flags: Flags,
    /// The ack id, if the packet has one.
    pub ack_id: Option<u64>,
    /// For a broadcast with acks (request type 7), its request id.
    pub request_id: Option<&'a str>,
    rooms: Strs<'a>,
    except: Strs<'a>,
    /// The arguments after the name, MessagePack items one after another.
    args: &'a [u8],
    arg_count: usize,
}

impl<'a> Incoming<'a> {
    /// Decodes a message published on `channel` under `prefix`.
    ///
    /// Errors: [`Error::WrongChannel`], [`Error::Truncated`],
    /// [`Error::Malformed`], [`Error::Unsupported`], [`Error::TooDeep`].
    pub fn decode(prefix: &str, channel: &'a [u8], message: &'a [u8]) -> Result<Self, Error> {
        let channel = core::str::from_utf8(channel).map_err(|_| Error::WrongChannel)?;
        let rest = channel
            .strip_prefix(prefix)
            .and_then(|c| c.strip_prefix('#'))
            .ok_or(Error::WrongChannel)?;
        // `nsp#` or `nsp#room#`: the namespace has no `#` in practice, the
        // room may.
        let rest = rest.strip_suffix('#').ok_or(Error::WrongChannel)?;
        let (channel_nsp, channel_room) = match rest.split_once('#') {
            Some((nsp, room)) => (nsp, Some(room)),
            None => (rest, None),
        };
        let mut r = Reader::new(message);
        if r.item()? != Item::Array(3) {
            return Err(Error::Malformed);
        }
        let uid = r.str()?;
        let packet = read_packet(&mut r, message)?;
        let opts = read_opts(&mut r)?;
        Self::new(uid, channel_nsp, channel_room, packet, opts)
    }

    /// Decodes a broadcast with acks (`io.timeout(ms).emit(..., ack)` on a
    /// Node node) published on the request channel `channel`: MessagePack
    /// `{uid, requestId, type: 7, packet, opts}`. The broadcast reaches
    /// this node's sockets, without asking them for acks: the sender counts
    /// the acks of the nodes `PUBSUB NUMSUB` counts, which a sockwire node
    /// is not (see [`request`]). `Ok(None)` for the other MessagePack
    /// messages of the channel (the answers).
    pub fn decode_with_ack(
        prefix: &str,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Self>, Error> {
        let nsp = request::channel_nsp(prefix, channel)?;
        let mut r = Reader::new(message);
        let Item::Map(n) = r.item()? else {
            return Err(Error::Malformed);
        };
        let (mut uid, mut kind, mut packet, mut opts, mut id) = (None, None, None, None, None);
        for _ in 0..n {
            match r.str()? {
                "uid" => uid = Some(r.str()?),
                "requestId" => id = Some(r.str()?),
                "type" => kind = Some(r.item()?),
                // Read once the type says it is a broadcast.
                "packet" => packet = Some(r.skip()?),
                "opts" => opts = Some(r.skip()?),
                _ => {
                    r.skip()?;
                }
            }
        }
        if kind != Some(Item::Uint(7)) {
            return Ok(None);
        }
        let (Some(uid), Some(packet), Some(opts)) = (uid, packet, opts) else {
            return Err(Error::Malformed);
        };
        let packet = read_packet(&mut Reader::new(packet), packet)?;
        let opts = read_opts(&mut Reader::new(opts))?;
        let mut m = Self::new(uid, nsp, None, packet, opts)?;
        m.request_id = Some(
            id.filter(|i| i.len() <= request::MAX_REQUEST_ID)
                .ok_or(Error::Malformed)?,
        );
        Ok(Some(m))
    }

    fn new(
        uid: &'a str,
        channel_nsp: &str,
        channel_room: Option<&'a str>,
        packet: Packet<'a>,
        opts: Opts<'a>,
    ) -> Result<Self, Error> {
        let Packet {
            nsp,
            data,
            kind,
            ack_id,
        } = packet;
        if kind != Some(2) {
            return Err(Error::Unsupported);
        }
        let (count, data) = data.ok_or(Error::Malformed)?;
        if nsp != channel_nsp {
            return Err(Error::WrongChannel);
        }
        let mut d = Reader::new(data);
        if count == 0 {
            return Err(Error::Malformed);
        }
        let name = match d.item()? {
            Item::Str(s) => core::str::from_utf8(s).map_err(|_| Error::Malformed)?,
            _ => return Err(Error::Unsupported),
        };
        let args = &data[d.position()..];
        let empty = Strs {
            r: Reader::new(&[]),
            left: 0,
        };
        Ok(Incoming {
            uid,
            nsp,
            channel_room,
            name,
            flags: opts.flags,
            ack_id,
            request_id: None,
            rooms: opts.rooms.unwrap_or_else(|| empty.clone()),
            except: opts.except.unwrap_or(empty),
            args,
            arg_count: count - 1,
        })
    }

    /// The rooms.
    pub fn rooms(&self) -> Strs<'a> {
        self.rooms.clone()
    }

    /// The rooms and socket ids left out.
    pub fn except(&self) -> Strs<'a> {
        self.except.clone()
    }

    /// The binary values, in order (the attachments of the event).
    pub fn attachments(&self) -> Bins<'a> {
        Bins {
            r: Reader::new(self.args),
        }
    }

    /// Writes the arguments after the event name as JSON values separated by
    /// commas, binary values as attachment placeholders numbered in order (see
    /// [`attachments`](Self::attachments)); returns the length. The data
    /// array may nest `max_depth` deep.
    ///
    /// Errors: [`Error::TooDeep`], [`Error::Malformed`],
    /// [`Error::Unsupported`], [`Error::BufferTooSmall`].
    pub fn args(&self, max_depth: usize, out: &mut [u8]) -> Result<usize, Error> {
        msgpack::measured(out, |w| {
            let mut r = Reader::new(self.args);
            let mut bins = msgpack::BinCounter(0);
            for i in 0..self.arg_count {
                if i > 0 {
                    w.put(b",");
                }
                msgpack::msgpack_to_json(w, &mut r, &mut bins, max_depth.saturating_sub(1))?;
            }
            Ok(())
        })
    }
}

/// The packet object of a message.
struct Packet<'a> {
    nsp: &'a str,
    /// The data array's length and raw items.
    data: Option<(usize, &'a [u8])>,
    kind: Option<u64>,
    ack_id: Option<u64>,
}

fn read_packet<'a>(r: &mut Reader<'a>, message: &'a [u8]) -> Result<Packet<'a>, Error> {
    let Item::Map(n) = r.item()? else {
        return Err(Error::Malformed);
    };
    let mut p = Packet {
        nsp: "/",
        data: None,
        kind: None,
        ack_id: None,
    };
    for _ in 0..n {
        match r.str()? {
            "type" => match r.item()? {
                Item::Uint(t) => p.kind = Some(t),
                _ => return Err(Error::Malformed),
            },
            "nsp" => p.nsp = r.str()?,
            "id" => match r.item()? {
                Item::Uint(id) => p.ack_id = Some(id),
                Item::Nil => {}
                _ => return Err(Error::Malformed),
            },
            "data" => {
                let Item::Array(n) = r.item()? else {
                    return Err(Error::Malformed);
                };
                let start = r.position();
                for _ in 0..n {
                    r.skip()?;
                }
                p.data = Some((n, &message[start..r.position()]));
            }
            _ => {
                r.skip()?;
            }
        }
    }
    Ok(p)
}

/// The options object of a message.
struct Opts<'a> {
    rooms: Option<Strs<'a>>,
    except: Option<Strs<'a>>,
    flags: Flags,
}

fn read_opts<'a>(r: &mut Reader<'a>) -> Result<Opts<'a>, Error> {
    let Item::Map(n) = r.item()? else {
        return Err(Error::Malformed);
    };
    let mut o = Opts {
        rooms: None,
        except: None,
        flags: Flags::default(),
    };
    for _ in 0..n {
        match r.str()? {
            "rooms" => o.rooms = Some(read_strs(r)?),
            "except" => o.except = Some(read_strs(r)?),
            "flags" => o.flags = Flags::decode(r)?,
            _ => {
                r.skip()?;
            }
        }
    }
    Ok(o)
}

/// The length an encoder needs, from its answer for an empty buffer.
pub(crate) fn measure(r: Result<usize, Error>) -> Result<usize, Error> {
    match r {
        Err(Error::BufferTooSmall { required }) => Ok(required),
        other => other,
    }
}

/// Where a published message lies in the buffer given to
/// [`Adapter::broadcast`]: the channel, then the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Publish {
    /// The channel's length, from the buffer's start.
    pub channel_len: usize,
    /// The message's length, after the channel.
    pub len: usize,
}

/// One node of a cluster: its uid and channel prefix. It joins a
/// [`socketio::Server`](super::Server) to the others.
#[derive(Clone, Debug)]
pub struct Adapter {
    uid: [u8; UID_LEN],
    prefix: heapless::String<64>,
}

impl Adapter {
    /// A node with a random uid, on the default prefix.
    pub fn new(entropy: &mut impl crate::entropy::Entropy) -> Self {
        const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = [0u8; UID_LEN];
        entropy.fill_bytes(&mut bytes);
        Adapter {
            uid: bytes.map(|b| ALNUM[usize::from(b) % ALNUM.len()]),
            prefix: heapless::String::try_from(DEFAULT_PREFIX).unwrap_or_default(),
        }
    }

    /// The same node on another channel prefix (the Node adapter's `key`);
    /// `None` if it is longer than 64 bytes.
    pub fn with_prefix(mut self, prefix: &str) -> Option<Self> {
        self.prefix = heapless::String::try_from(prefix).ok()?;
        Some(self)
    }

    /// The node's uid.
    pub fn uid(&self) -> &str {
        core::str::from_utf8(&self.uid).unwrap_or("")
    }

    /// The channel prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Writes the pattern to PSUBSCRIBE to for the broadcasts of `nsp`.
    pub fn pattern(&self, nsp: &str, out: &mut [u8]) -> Result<usize, Error> {
        broadcast_pattern(&self.prefix, nsp, out)
    }

    /// Encodes `b` as this node publishes it: into `out`, the channel, then
    /// the message (see [`Publish`]). `max_depth` bounds the arguments'
    /// nesting. Nothing is sent anywhere.
    pub fn encode(
        &self,
        b: &Outgoing<'_>,
        max_depth: usize,
        out: &mut [u8],
    ) -> Result<Publish, Error> {
        let mut need = msgpack::Counter(0);
        write_channel(&mut need, &self.prefix, b.nsp, b.channel_room());
        let channel_len = need.0;
        let len = measure(b.encode(self.uid(), max_depth, &mut []))?;
        if channel_len + len > out.len() {
            return Err(Error::BufferTooSmall {
                required: channel_len + len,
            });
        }
        b.channel(&self.prefix, out)?;
        b.encode(self.uid(), max_depth, &mut out[channel_len..])?;
        Ok(Publish { channel_len, len })
    }

    /// Decodes a message from Redis: `Ok(None)` for this node's own (Redis
    /// sends a publisher its own messages back).
    pub fn decode<'a>(
        &self,
        channel: &'a [u8],
        message: &'a [u8],
    ) -> Result<Option<Incoming<'a>>, Error> {
        let m = Incoming::decode(&self.prefix, channel, message)?;
        Ok((m.uid != self.uid()).then_some(m))
    }
}
