//! Whole-message assembly into a buffer the caller lends.

use super::{Error, Event, MessageKind};

/// A whole message, borrowed from an [`Assembler`]'s buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message<'a> {
    /// A text message (validated UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// Collects [`Event::Data`] pieces into whole messages in a lent buffer.
///
/// Set [`Config::max_message_size`](super::Config::max_message_size) to the
/// buffer's size so that the connection refuses larger messages with close
/// code 1009 before their bytes arrive.
///
/// ```
/// use sockwire::ws::{Assembler, Event, Message, MessageKind};
/// let mut storage = [0u8; 16];
/// let mut asm = Assembler::new(&mut storage[..]);
/// let first = Event::Data { kind: MessageKind::Text, data: b"Hel", fin: false };
/// assert_eq!(asm.push(&first), Ok(None));
/// let last = Event::Data { kind: MessageKind::Text, data: b"lo", fin: true };
/// assert_eq!(asm.push(&last), Ok(Some(Message::Text("Hello"))));
/// ```
#[derive(Debug)]
pub struct Assembler<B> {
    buf: B,
    len: usize,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Assembler<B> {
    /// An assembler writing into `buf`.
    pub fn new(buf: B) -> Self {
        Assembler { buf, len: 0 }
    }

    /// Adds an event. Returns the message when `event` completes one; other
    /// events are ignored. A message longer than the buffer gives
    /// [`Error::MessageTooLarge`] and is discarded.
    pub fn push(&mut self, event: &Event<'_>) -> Result<Option<Message<'_>>, Error> {
        let Event::Data { kind, data, fin } = *event else {
            return Ok(None);
        };
        let buf = self.buf.as_mut();
        if data.len() > buf.len() - self.len {
            self.len = 0;
            return Err(Error::MessageTooLarge);
        }
        buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
        if !fin {
            return Ok(None);
        }
        let len = core::mem::take(&mut self.len);
        let bytes = &self.buf.as_ref()[..len];
        Ok(Some(match kind {
            // The connection validated the text; the check cannot fail for its events.
            MessageKind::Text => {
                Message::Text(core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?)
            }
            MessageKind::Binary => Message::Binary(bytes),
        }))
    }

    /// Bytes of the unfinished message collected so far.
    pub fn pending_len(&self) -> usize {
        self.len
    }
}
