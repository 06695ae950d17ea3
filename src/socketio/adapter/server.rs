//! [`Adapter`] on a [`Server`]: a local broadcast that is also published, and
//! another node's broadcast applied locally.

use super::{Adapter, Error, Incoming, MAX_ROOMS, Outgoing, Publish};
use crate::engineio::{self, Sid};
use crate::entropy::Entropy;
use crate::socketio::Server;
use crate::socketio::endpoint::{Broadcast, SocketRef, State};
use crate::socketio::rooms::RoomTable;
use crate::storage::{Buffers, Storage};

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

fn apply<H, S, E, R>(
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
    Ok(server.broadcast(m.nsp, &rooms, &except, m.name, args, &bins)?)
}
