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
