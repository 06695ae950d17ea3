//! What both Engine.IO roles use on a WebSocket: a data event taken as an
//! Engine.IO packet (decoded where it lies, or assembled from pieces), and the
//! result of feeding WebSocket bytes.

use super::Error;
use super::packet::{Data, Packet};
use crate::ws::{self, Assembler, MessageKind};

/// A WebSocket data event as an Engine.IO packet: a whole message is decoded
/// where it lies, pieces go through `assembler`. `Ok(None)`: more pieces to
/// come (or not a data event). Shared by both roles.
pub(crate) fn ws_packet<'a, A: AsMut<[u8]> + AsRef<[u8]>>(
    event: ws::Event<'a>,
    assembler: &'a mut Assembler<A>,
) -> Result<Option<Packet<'a>>, Error> {
    let ws::Event::Data { kind, data, fin } = event else {
        return Ok(None);
    };
    let message = if fin && assembler.pending_len() == 0 {
        match kind {
            MessageKind::Text => {
                ws::Message::Text(core::str::from_utf8(data).map_err(|_| Error::InvalidPacket)?)
            }
            MessageKind::Binary => ws::Message::Binary(data),
        }
    } else {
        match assembler.push(&event).map_err(Error::from)? {
            Some(m) => m,
            None => return Ok(None),
        }
    };
    Ok(Some(match message {
        ws::Message::Text(t) => Packet::decode_text(t)?,
        ws::Message::Binary(b) => Packet::Message(Data::Binary(b)),
    }))
}

/// The result of [`Session::handle_ws_input`](super::Session::handle_ws_input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WsInput<'a> {
    /// Bytes consumed; feed the rest next.
    pub consumed: usize,
    /// A message, borrowed from the input or the assembler.
    pub message: Option<Data<'a>>,
    /// The call handled something although it consumed nothing: a control
    /// frame whose header an earlier call read was held until a pending pong
    /// went out, and is handled now. Call again with the same bytes; this is
    /// not "need more bytes".
    pub again: bool,
}

impl<'a> WsInput<'a> {
    /// The answer builder of both roles after the WebSocket consumed
    /// `consumed` bytes and did or did not hand over an event: `again` when
    /// an event came with nothing consumed and no message results.
    pub(crate) fn after(
        consumed: usize,
        event: bool,
    ) -> impl Fn(Option<Data<'a>>) -> Result<WsInput<'a>, Error> {
        move |message| {
            Ok(WsInput {
                consumed,
                again: consumed == 0 && event && message.is_none(),
                message,
            })
        }
    }
}
