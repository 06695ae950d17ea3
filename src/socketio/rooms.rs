//! Rooms: named groups of connections for broadcasting, on the server.
//!
//! A room is a server-side label; clients never see it. The reference server
//! keeps rooms per namespace and adds every socket to a room named after its
//! id; sockwire leaves both to the application: keep one [`Rooms`] per
//! namespace, and join a socket to its own id's room if you want to address it
//! by id.
//!
//! Members are whatever handle the application uses for its connections (an
//! index into its table, a `u32`); [`Rooms`] stores them, never the
//! connections. A broadcast is a loop over [`Rooms::targets`] calling
//! [`Connection::emit`](super::Connection::emit) on each target, so that a
//! target whose queue is full is reported to the application, not dropped.
//!
//! ```
//! use sockwire::socketio::Rooms;
//! let mut rooms: Rooms<u32, 8, 16> = Rooms::new();
//! rooms.join("lobby", 1).unwrap();
//! rooms.join("lobby", 2).unwrap();
//! rooms.join("game", 2).unwrap();
//! rooms.join("game", 3).unwrap();
//! rooms.join("muted", 3).unwrap();
//! // to("lobby").to("game").except("muted"): each member once.
//! let t: Vec<u32> = rooms.targets(&["lobby", "game"], &["muted"]).collect();
//! assert_eq!(t, [1, 2]);
//! rooms.leave_all(2);
//! assert_eq!(rooms.members("lobby").collect::<Vec<_>>(), [1]);
//! ```

use super::Error;

/// The longest room name, in bytes.
pub const MAX_ROOM_LEN: usize = 64;

#[derive(Clone, Debug)]
struct Room<M, const P: usize> {
    name: heapless::String<MAX_ROOM_LEN>,
    members: heapless::Vec<M, P>,
}

/// At most `R` rooms of at most `P` members each; a room is dropped when its
/// last member leaves.
#[derive(Clone, Debug)]
pub struct Rooms<M, const R: usize, const P: usize> {
    rooms: heapless::Vec<Room<M, P>, R>,
}

impl<M: Copy + Eq, const R: usize, const P: usize> Default for Rooms<M, R, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Copy + Eq, const R: usize, const P: usize> Rooms<M, R, P> {
    /// No rooms.
    pub const fn new() -> Self {
        Rooms {
            rooms: heapless::Vec::new(),
        }
    }

    fn find(&self, room: &str) -> Option<usize> {
        self.rooms.iter().position(|r| r.name == room)
    }

    /// Adds `member` to `room` (creating it). Joining twice is harmless.
    ///
    /// Errors, nothing changed: [`Error::RoomsFull`] when `R` rooms exist
    /// or the room has `P` members; [`Error::RoomNameTooLong`].
    pub fn join(&mut self, room: &str, member: M) -> Result<(), Error> {
        let i = match self.find(room) {
            Some(i) => i,
            None => {
                let name = heapless::String::try_from(room).map_err(|_| Error::RoomNameTooLong)?;
                self.rooms
                    .push(Room {
                        name,
                        members: heapless::Vec::new(),
                    })
                    .map_err(|_| Error::RoomsFull)?;
                self.rooms.len() - 1
            }
        };
        let members = &mut self.rooms[i].members;
        if members.contains(&member) {
            return Ok(());
        }
        if members.push(member).is_err() {
            if members.is_empty() {
                self.rooms.swap_remove(i);
            }
            return Err(Error::RoomsFull);
        }
        Ok(())
    }

    /// Removes `member` from `room`; true if it was there.
    pub fn leave(&mut self, room: &str, member: M) -> bool {
        let Some(i) = self.find(room) else {
            return false;
        };
        let members = &mut self.rooms[i].members;
        let Some(k) = members.iter().position(|m| *m == member) else {
            return false;
        };
        members.swap_remove(k);
        if members.is_empty() {
            self.rooms.swap_remove(i);
        }
        true
    }

    /// Removes `member` from every room (when its connection ends).
    pub fn leave_all(&mut self, member: M) {
        self.rooms.retain_mut(|r| {
            r.members.retain(|m| *m != member);
            !r.members.is_empty()
        });
    }

    /// The members of `room`.
    pub fn members(&self, room: &str) -> impl Iterator<Item = M> + '_ {
        self.find(room)
            .map(|i| self.rooms[i].members.as_slice())
            .unwrap_or(&[])
            .iter()
            .copied()
    }

    /// The rooms `member` is in.
    pub fn rooms_of(&self, member: M) -> impl Iterator<Item = &str> + '_ {
        self.rooms
            .iter()
            .filter(move |r| r.members.contains(&member))
            .map(|r| r.name.as_str())
    }

    /// True if `member` is in `room`.
    pub fn contains(&self, room: &str, member: M) -> bool {
        self.members(room).any(|m| m == member)
    }

    /// The members of any room in `to`, each once, that are in no room of
    /// `except`: the targets of `to(...).except(...)` broadcasts. Order: by
    /// room in `to`, then by joining order.
    pub fn targets<'s>(
        &'s self,
        to: &'s [&'s str],
        except: &'s [&'s str],
    ) -> impl Iterator<Item = M> + 's {
        to.iter().enumerate().flat_map(move |(k, room)| {
            self.members(room).filter(move |&m| {
                !to[..k].iter().any(|earlier| self.contains(earlier, m))
                    && !except.iter().any(|x| self.contains(x, m))
            })
        })
    }

    /// How many rooms exist.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// True when there are no rooms.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn bounded_and_deduplicated() {
        let mut r: Rooms<u8, 2, 2> = Rooms::new();
        r.join("a", 1).unwrap();
        r.join("a", 1).unwrap();
        r.join("a", 2).unwrap();
        assert_eq!(r.join("a", 3), Err(Error::RoomsFull));
        r.join("b", 3).unwrap();
        assert_eq!(r.join("c", 3), Err(Error::RoomsFull));
        assert_eq!(r.join(&"x".repeat(65), 1), Err(Error::RoomNameTooLong));
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.targets(&["a", "b", "a"], &[]).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(r.targets(&["a", "b"], &["b"]).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(r.rooms_of(3).collect::<Vec<_>>(), ["b"]);
        assert!(r.leave("b", 3));
        assert!(!r.leave("b", 3));
        assert_eq!(r.len(), 1, "an empty room is dropped");
        r.join("c", 3).unwrap();
        r.leave_all(1);
        r.leave_all(2);
        assert_eq!(r.len(), 1);
        assert_eq!(r.members("c").collect::<Vec<_>>(), [3]);
        assert_eq!(r.members("nope").count(), 0);
    }
}

/// The room table of a [`socketio::Server`](super::Server): members are
/// socket ids, rooms are named within a namespace.
pub trait RoomTable: Default {
    /// Adds `socket` to `room` of `nsp`. Joining twice is harmless.
    fn join(&mut self, nsp: &str, room: &str, socket: Sid) -> Result<(), Error>;
    /// Removes `socket` from `room` of `nsp`; false if it was not in it.
    fn leave(&mut self, nsp: &str, room: &str, socket: Sid) -> bool;
    /// Removes `socket` from every room.
    fn leave_all(&mut self, socket: Sid);
    /// True when `socket` is in `room` of `nsp`.
    fn contains(&self, nsp: &str, room: &str, socket: Sid) -> bool;
    /// Calls `f` for each member of `room` of `nsp`.
    fn for_each_member(&self, nsp: &str, room: &str, f: &mut dyn FnMut(Sid));
    /// Calls `f` with the name of each room of `nsp` (for the cluster's
    /// `allRooms`). The default lists none.
    fn for_each_room(&self, nsp: &str, f: &mut dyn FnMut(&str)) {
        let _ = (nsp, f);
    }
    /// Calls `f` with the name of each room of `nsp` that `socket` is in
    /// (for the cluster's `fetchSockets`). The default lists none.
    fn for_each_room_of(&self, nsp: &str, socket: Sid, f: &mut dyn FnMut(&str)) {
        let _ = (nsp, socket, f);
    }
}

use crate::engineio::Sid;

/// The key of a room of a namespace in a [`Rooms`] table.
fn room_key(nsp: &str, room: &str) -> Result<heapless::String<MAX_ROOM_LEN>, Error> {
    let mut key = heapless::String::new();
    key.push_str(nsp)
        .and_then(|()| key.push('#'))
        .and_then(|()| key.push_str(room))
        .map_err(|_| Error::RoomNameTooLong)?;
    Ok(key)
}

/// The fixed table: at most `R` rooms (namespace and name together at most
/// [`MAX_ROOM_LEN`] bytes) of at most `P` members; lookups scan, which is
/// what a microcontroller's handful of rooms wants.
impl<const R: usize, const P: usize> RoomTable for Rooms<Sid, R, P> {
    fn join(&mut self, nsp: &str, room: &str, socket: Sid) -> Result<(), Error> {
        Rooms::join(self, &room_key(nsp, room)?, socket)
    }
    fn leave(&mut self, nsp: &str, room: &str, socket: Sid) -> bool {
        room_key(nsp, room).is_ok_and(|k| Rooms::leave(self, &k, socket))
    }
    fn leave_all(&mut self, socket: Sid) {
        Rooms::leave_all(self, socket)
    }
    fn contains(&self, nsp: &str, room: &str, socket: Sid) -> bool {
        room_key(nsp, room).is_ok_and(|k| Rooms::contains(self, &k, socket))
    }
    fn for_each_member(&self, nsp: &str, room: &str, f: &mut dyn FnMut(Sid)) {
        if let Ok(k) = room_key(nsp, room) {
            for m in self.members(&k) {
                f(m);
            }
        }
    }
    fn for_each_room(&self, nsp: &str, f: &mut dyn FnMut(&str)) {
        for r in &self.rooms {
            if let Some(name) = strip_nsp(&r.name, nsp) {
                f(name);
            }
        }
    }
    fn for_each_room_of(&self, nsp: &str, socket: Sid, f: &mut dyn FnMut(&str)) {
        for r in self.rooms_of(socket) {
            if let Some(name) = strip_nsp(r, nsp) {
                f(name);
            }
        }
    }
}

/// The room name of key `key` (`nsp#room`) when it is of `nsp`.
fn strip_nsp<'k>(key: &'k str, nsp: &str) -> Option<&'k str> {
    key.strip_prefix(nsp)?.strip_prefix('#')
}

#[cfg(feature = "alloc")]
pub use indexed::IndexedRooms;

#[cfg(feature = "alloc")]
mod indexed {
    use super::{Error, RoomTable, Sid};
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::string::String;
    use alloc::vec::Vec;

    /// The growable table (feature `alloc`): rooms indexed by (namespace,
    /// name) and sockets indexed by id, so a join, a leave, a lookup and a
    /// member walk never scan other rooms or members: O(log n).
    #[derive(Debug, Default)]
    pub struct IndexedRooms {
        rooms: BTreeMap<(String, String), BTreeSet<Sid>>,
        of_socket: BTreeMap<Sid, Vec<(String, String)>>,
    }

    impl IndexedRooms {
        /// The number of rooms.
        pub fn len(&self) -> usize {
            self.rooms.len()
        }
        /// True when there are no rooms.
        pub fn is_empty(&self) -> bool {
            self.rooms.is_empty()
        }
    }

    impl RoomTable for IndexedRooms {
        fn join(&mut self, nsp: &str, room: &str, socket: Sid) -> Result<(), Error> {
            let key = (String::from(nsp), String::from(room));
            if self.rooms.entry(key.clone()).or_default().insert(socket) {
                self.of_socket.entry(socket).or_default().push(key);
            }
            Ok(())
        }
        fn leave(&mut self, nsp: &str, room: &str, socket: Sid) -> bool {
            let key = (String::from(nsp), String::from(room));
            let Some(members) = self.rooms.get_mut(&key) else {
                return false;
            };
            let was = members.remove(&socket);
            if members.is_empty() {
                self.rooms.remove(&key);
            }
            if let Some(list) = self.of_socket.get_mut(&socket) {
                list.retain(|k| *k != key);
                if list.is_empty() {
                    self.of_socket.remove(&socket);
                }
            }
            was
        }
        fn leave_all(&mut self, socket: Sid) {
            for key in self.of_socket.remove(&socket).unwrap_or_default() {
                if let Some(members) = self.rooms.get_mut(&key) {
                    members.remove(&socket);
                    if members.is_empty() {
                        self.rooms.remove(&key);
                    }
                }
            }
        }
        fn contains(&self, nsp: &str, room: &str, socket: Sid) -> bool {
            // The socket's own list is short: no allocation for the key.
            self.of_socket
                .get(&socket)
                .is_some_and(|l| l.iter().any(|(n, r)| n == nsp && r == room))
        }
        fn for_each_member(&self, nsp: &str, room: &str, f: &mut dyn FnMut(Sid)) {
            let key = (String::from(nsp), String::from(room));
            if let Some(members) = self.rooms.get(&key) {
                for m in members {
                    f(*m);
                }
            }
        }
        fn for_each_room(&self, nsp: &str, f: &mut dyn FnMut(&str)) {
            let from = (String::from(nsp), String::new());
            for ((n, r), _) in self.rooms.range(from..) {
                if n != nsp {
                    break;
                }
                f(r);
            }
        }
        fn for_each_room_of(&self, nsp: &str, socket: Sid, f: &mut dyn FnMut(&str)) {
            for (n, r) in self.of_socket.get(&socket).into_iter().flatten() {
                if n == nsp {
                    f(r);
                }
            }
        }
    }
}
