//! The table of acks a connection waits for, shared by both roles.

use super::Error;
use crate::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    id: u64,
    deadline: Option<Instant>,
}

/// At most `A` outstanding ack ids, each with an optional deadline. Ids count
/// up from 0 per connection.
#[derive(Debug)]
pub(crate) struct Acks<const A: usize> {
    pending: heapless::Vec<Pending, A>,
    next_id: u64,
}

impl<const A: usize> Acks<A> {
    pub(crate) const fn new() -> Self {
        Acks {
            pending: heapless::Vec::new(),
            next_id: 0,
        }
    }

    /// The id the next ack will get: send the event with it, then
    /// [`sent`](Self::sent). [`Error::AckTableFull`] when `A` are pending.
    pub(crate) fn next_id(&self) -> Result<u64, Error> {
        if self.pending.is_full() {
            return Err(Error::AckTableFull);
        }
        Ok(self.next_id)
    }

    /// The event carrying [`next_id`](Self::next_id) went out at `now`.
    pub(crate) fn sent(&mut self, now: Instant, timeout: Option<Duration>) {
        // `next_id` checked the room.
        let _ = self.pending.push(Pending {
            id: self.next_id,
            deadline: timeout.map(|t| now + t),
        });
        self.next_id += 1;
    }

    /// An ack for `id` arrived: true if it was pending (it no longer is).
    pub(crate) fn resolve(&mut self, id: Option<u64>) -> bool {
        match id.and_then(|id| self.pending.iter().position(|p| p.id == id)) {
            Some(i) => {
                self.pending.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().filter_map(|p| p.deadline).min()
    }

    /// Removes one id whose deadline has passed at `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<u64> {
        let i = self
            .pending
            .iter()
            .position(|p| p.deadline.is_some_and(|d| now >= d))?;
        Some(self.pending.swap_remove(i).id)
    }

    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }
}
