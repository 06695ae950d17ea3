//! The WebSocket connection state machine: both roles, after the handshake.

use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use super::mask::copy_masked;
use super::utf8::Utf8Validator;
use super::{Error, apply_mask, close_code};
use crate::entropy::{Entropy, NoEntropy};
use crate::time::{Duration, Instant};

#[cfg(feature = "deflate")]
use super::deflate::{Codec, Context};
/// Without the feature nothing implements it: the decoder argument is always `None`.
#[cfg(not(feature = "deflate"))]
trait Codec {}

/// The decoder and output buffer lent to one input call, if compression is on.
type Dx<'x, 'a> = Option<(&'x mut dyn Codec, &'a mut [u8])>;

/// The state of a compressed message being received (permessage-deflate).
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct RxDeflate {
    /// A decoder was lent to this input call, so RSV1 may start a message.
    allowed: bool,
    /// The message in progress is compressed.
    compressed: bool,
    /// Its inflated length so far.
    inflated: u64,
    /// The decoder holds output it could not hand out yet.
    pending: bool,
    /// The message's last byte went in; the decoder is ending it.
    finishing: bool,
}

/// Which end of the connection this is. It decides masking: clients mask every
/// frame they send and servers must reject unmasked frames, and the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// The end that sent the opening handshake.
    Client,
    /// The end that accepted it.
    Server,
}

/// Limits and timers of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Largest accepted frame payload; a larger frame fails the connection with
    /// 1009 as soon as its header arrives. Default 16 MiB.
    pub max_frame_size: u64,
    /// Largest accepted message, counted across fragments; checked from each
    /// frame header before its payload is read. Default 64 MiB.
    pub max_message_size: u64,
    /// How long to wait for the peer's Close after sending ours before giving up
    /// (the state becomes [`State::Closed`]). Default 5 s.
    pub close_timeout: Duration,
}

impl Config {
    /// The defaults (16 MiB frames, 64 MiB messages, 5 s close timeout).
    pub const DEFAULT: Config = Config {
        max_frame_size: 16 << 20,
        max_message_size: 64 << 20,
        close_timeout: Duration::from_secs(5),
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl MessageKind {
    fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// The connection's place in the closing handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// A Close frame was sent or received and the handshake is not finished:
    /// after sending ours we still receive until the peer's Close; after
    /// receiving theirs, ours is waiting in `poll_transmit`.
    Closing,
    /// The closing handshake is over (or the connection failed, timed out, or
    /// the transport ended): once `poll_transmit` is drained, close the TCP
    /// connection. A server closes first; a client may wait briefly for the
    /// server to do so.
    Closed,
}

/// The payload of a control frame (at most 125 bytes), returned by value so that
/// an [`Event`] borrows nothing but the caller's input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ControlPayload {
    len: u8,
    bytes: [u8; MAX_CONTROL_PAYLOAD],
}

impl ControlPayload {
    fn new(payload: &[u8]) -> Self {
        let mut bytes = [0; MAX_CONTROL_PAYLOAD];
        bytes[..payload.len()].copy_from_slice(payload);
        ControlPayload {
            len: payload.len() as u8,
            bytes,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl core::ops::Deref for ControlPayload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl core::fmt::Debug for ControlPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_bytes().fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ControlPayload {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=[u8]}", self.as_bytes())
    }
}

/// The reason of a Close frame (validated UTF-8, at most 123 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CloseReason(ControlPayload);

impl CloseReason {
    /// The reason text.
    pub fn as_str(&self) -> &str {
        // Validated when the frame arrived.
        core::str::from_utf8(self.0.as_bytes()).unwrap_or("")
    }
}

impl core::ops::Deref for CloseReason {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl core::fmt::Debug for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CloseReason {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// What the application learns from one [`Connection::handle_input`] call.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event<'a> {
    /// A piece of a text or binary message, unmasked in place in the caller's
    /// input buffer. The pieces of a message arrive in order; `fin` marks the last
    /// one (which may be empty). For text, the concatenation is valid UTF-8 but a
    /// piece may end inside a code point.
    Data {
        /// Text or binary.
        kind: MessageKind,
        /// The bytes, borrowed from the input.
        data: &'a [u8],
        /// True on the last piece of the message.
        fin: bool,
    },
    /// A ping. The pong is already queued for `poll_transmit`.
    Ping(ControlPayload),
    /// A pong.
    Pong(ControlPayload),
    /// The peer's Close frame. If we had not sent one, the reply is queued for
    /// `poll_transmit`. `code` is `None` for an empty close frame.
    Close {
        /// The close code, if the frame had one.
        code: Option<u16>,
        /// The reason, possibly empty.
        reason: CloseReason,
    },
}

/// The result of [`Connection::handle_input`]: how many bytes it took and what,
/// if anything, the application must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Input<'a> {
    /// Bytes of the input consumed; feed the rest in the next call.
    pub consumed: usize,
    /// At most one event per call.
    pub event: Option<Event<'a>>,
}

/// An automatic control frame in the process of being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Pending {
    Nothing,
    Pong,
    Close(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// Reading a frame header: `hdr_len` bytes are in `hdr`.
    Header,
    /// Reading a frame's payload.
    Payload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Inner {
    Open,
    /// We sent Close and wait for the peer's until the deadline.
    CloseSent {
        deadline: Instant,
    },
    /// The peer's Close arrived; ours is pending.
    CloseReceived,
    /// We failed the connection; our Close is pending, then we are done.
    Failed,
    Closed,
}

/// A WebSocket connection after the opening handshake, in either role.
///
/// It owns no buffers for data: input is unmasked in place in the caller's
/// buffer and handed back as borrowed [`Event::Data`] pieces, and frames are
/// written into the caller's output buffer. The only storage inside is one
/// control-frame payload (125 bytes), kept so a ping can be answered and a close
/// reason checked when their bytes arrive split across reads.
///
/// See the [module docs](super) for the run loop.
#[derive(Clone, Debug)]
pub struct Connection<E = NoEntropy> {
    entropy: E,
    config: Config,
    role: Role,
    inner: Inner,
    error: Option<Error>,
    // ---- receiving ----
    phase: Phase,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: u8,
    /// Current frame: opcode, fin, masking key, position (mod 4 for data
    /// frames; bytes so far for control frames), bytes of payload left.
    rx_opcode: OpCode,
    rx_fin: bool,
    rx_mask: Option<[u8; 4]>,
    rx_pos: u8,
    rx_left: u64,
    /// The fragmented message in progress, its length so far and its UTF-8 state.
    rx_msg: Option<MessageKind>,
    rx_msg_len: u64,
    utf8: Utf8Validator,
    #[cfg(feature = "deflate")]
    rx_z: RxDeflate,
    /// Control-frame payload being received, or the payload of the pending pong.
    ctrl: [u8; MAX_CONTROL_PAYLOAD],
    ctrl_len: u8,
    // ---- sending ----
    /// An automatic pong is queued; its payload is in `ctrl[..ctrl_len]`.
    pong_pending: bool,
    /// An automatic Close (a reply, or the answer to a protocol error) is queued.
    close_pending: Option<u16>,
    /// The automatic frame being written, the bytes of it already written, and
    /// its mask.
    in_flight: Pending,
    ctrl_tx_off: u8,
    ctrl_tx_mask: [u8; 4],
    /// The frame begun with `begin_frame`: bytes left, its mask, its position mod 4.
    tx_left: u64,
    tx_pos: u8,
    tx_mask: Option<[u8; 4]>,
    /// The fragmented message being sent.
    tx_msg: Option<MessageKind>,
}

impl Connection<NoEntropy> {
    /// A server-side connection (servers never mask, so no entropy is needed).
    pub fn server(config: Config) -> Self {
        Connection::new(Role::Server, config, NoEntropy)
    }
}

impl<E: Entropy> Connection<E> {
    /// A client-side connection masking with keys drawn from `entropy`.
    pub fn client(config: Config, entropy: E) -> Self {
        Connection::new(Role::Client, config, entropy)
    }

    /// Gives back the entropy source (the connection is dropped).
    pub fn into_entropy(self) -> E {
        self.entropy
    }

    /// The entropy source, for draws of the layer above (a new handshake key).
    pub(crate) fn entropy_mut(&mut self) -> &mut E {
        &mut self.entropy
    }

    /// A connection in `role`. `entropy` supplies masking keys in the client role
    /// and is never used in the server role.
    pub fn new(role: Role, config: Config, entropy: E) -> Self {
        Connection {
            entropy,
            config,
            role,
            inner: Inner::Open,
            error: None,
            phase: Phase::Header,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            rx_opcode: OpCode::Continuation,
            rx_fin: false,
            rx_mask: None,
            rx_pos: 0,
            rx_left: 0,
            rx_msg: None,
            rx_msg_len: 0,
            utf8: Utf8Validator::new(),
            #[cfg(feature = "deflate")]
            rx_z: RxDeflate::default(),
            ctrl: [0; MAX_CONTROL_PAYLOAD],
            ctrl_len: 0,
            pong_pending: false,
            close_pending: None,
            in_flight: Pending::Nothing,
            ctrl_tx_off: 0,
            ctrl_tx_mask: [0; 4],
            tx_left: 0,
            tx_pos: 0,
            tx_mask: None,
            tx_msg: None,
        }
    }

    /// This connection's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the connection stands in the closing handshake.
    pub fn state(&self) -> State {
        match self.inner {
            Inner::Open => State::Open,
            Inner::CloseSent { .. } | Inner::CloseReceived => State::Closing,
            // A failed connection still has its Close frame to write.
            Inner::Failed => State::Closing,
            Inner::Closed => State::Closed,
        }
    }

    /// The error that ended the connection, if it did not close cleanly.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// True when an automatic frame (pong, close reply) waits in
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn wants_transmit(&self) -> bool {
        self.pong_pending || self.close_pending.is_some() || self.in_flight != Pending::Nothing
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e);
        match e.close_code() {
            Some(code) if matches!(self.inner, Inner::Open | Inner::CloseSent { .. }) => {
                // Our close frame, if we already sent one, ends our side; a
                // second one is not allowed.
                if matches!(self.inner, Inner::Open) {
                    self.close_pending = Some(code);
                    self.inner = Inner::Failed;
                } else {
                    self.inner = Inner::Closed;
                }
            }
            _ => self.inner = Inner::Closed,
        }
        e
    }

    /// Feeds bytes received from the peer. They are unmasked in place, so the
    /// buffer is `&mut`. Returns how many bytes were consumed and at most one
    /// event, which borrows only from `input`: the connection stays free for
    /// sending while the event is held. Call again with the rest of the input.
    ///
    /// After every call, drain [`poll_transmit`](Self::poll_transmit): while an
    /// automatic pong waits there, the payload of the next control frame is not
    /// consumed (its header may be; the call returns with no event), so that no
    /// pong is lost.
    ///
    /// A protocol violation returns the error and queues a Close frame with its
    /// [`close_code`](Error::close_code); every later call returns the same error.
    /// Bytes arriving after the peer's Close frame are ignored.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Input<'a>, Error> {
        self.input(now, input, None)
    }

    /// [`handle_input`](Self::handle_input) on a connection that negotiated
    /// permessage-deflate: a compressed message (RSV1) is inflated with `ctx`
    /// into `out`, and its [`Event::Data`] pieces borrow `out` (uncompressed
    /// messages still borrow `input`). `out` may be any size from one byte.
    ///
    /// The decoder may hold output that did not fit in `out` after all of
    /// `input` was consumed: while [`has_pending_data`](Self::has_pending_data)
    /// is true, call again, with an empty `input` if there is no more.
    ///
    /// The inflated size counts against [`Config::max_message_size`] while it
    /// is produced (1009 as soon as it is exceeded, after at most `out.len()`
    /// bytes of work), text is validated as it comes out (1007 at the first
    /// invalid byte), and malformed compressed data fails with 1007
    /// ([`Error::Inflate`]).
    #[cfg(feature = "deflate")]
    pub fn handle_input_deflate<'a, R, S, H>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        ctx: &mut Context<R, S, H>,
        out: &'a mut [u8],
    ) -> Result<Input<'a>, Error>
    where
        R: AsMut<[u8]>,
        S: AsMut<[u8]>,
        H: AsMut<[u16]>,
    {
        if out.is_empty() {
            return Err(Error::BufferTooSmall { required: 1 });
        }
        self.input(now, input, Some((ctx, out)))
    }

    /// [`handle_input_deflate`](Self::handle_input_deflate) with any
    /// decoder (the Engine.IO layer's, which makes its windows on first use).
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    pub(crate) fn handle_input_codec<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        codec: &mut dyn Codec,
        out: &'a mut [u8],
    ) -> Result<Input<'a>, Error> {
        if out.is_empty() {
            return Err(Error::BufferTooSmall { required: 1 });
        }
        self.input(now, input, Some((codec, out)))
    }

    /// True while the decoder of a compressed message holds data (or the
    /// message's end) that the next
    /// `handle_input_deflate` call hands out,
    /// even with no new input. Always false without compression.
    pub fn has_pending_data(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.rx_z.pending;
        #[cfg(not(feature = "deflate"))]
        false
    }

    #[cfg_attr(not(feature = "deflate"), allow(unused_mut, unused_variables))]
    fn input<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        mut dx: Dx<'_, 'a>,
    ) -> Result<Input<'a>, Error> {
        let _ = now;
        // An error is only ever recorded together with the end of the connection.
        if let Some(e) = self.error {
            return Err(e);
        }
        if matches!(self.inner, Inner::CloseReceived | Inner::Closed) {
            return Ok(Input {
                consumed: input.len(),
                event: None,
            });
        }
        #[cfg(feature = "deflate")]
        {
            self.rx_z.allowed = dx.is_some();
            if self.rx_z.pending
                && let Some((codec, out)) = dx.take()
            {
                // Hand out what the decoder holds before reading on.
                let ends = self.rx_left == 0 && self.rx_fin;
                let (_, w, fin) = self
                    .inflate_step(codec, &[], ends, out)
                    .map_err(|e| self.fail(e))?;
                if w > 0 || fin {
                    return self.inflated_event(0, w, fin, out);
                }
                dx = Some((codec, out));
            }
        }
        if let Some((kind, hlen, len)) = self.whole_message(input) {
            // Fast path: the whole frame of a one-frame message is here.
            let (head, rest) = input.split_at_mut(hlen);
            let data = &mut rest[..len];
            if let [.., a, b, c, d] = *head
                && self.role == Role::Server
            {
                apply_mask(data, [a, b, c, d], 0);
            }
            if kind == MessageKind::Text && super::utf8::check(data).is_err() {
                return Err(self.fail(Error::InvalidUtf8));
            }
            return Ok(Input {
                consumed: hlen + len,
                event: Some(Event::Data {
                    kind,
                    data,
                    fin: true,
                }),
            });
        }
        let mut pos = 0;
        loop {
            if self.phase == Phase::Header {
                match self.read_header(&input[pos..]) {
                    Ok(Some(used)) => pos += used,
                    Ok(None) => {
                        return Ok(Input {
                            consumed: input.len(),
                            event: None,
                        });
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            }
            if self.rx_opcode.is_control() {
                return self.read_control(input, pos);
            }
            #[cfg(feature = "deflate")]
            if self.rx_z.compressed {
                return match dx.take() {
                    Some((codec, out)) => self.inflate_payload(input, pos, codec, out),
                    // Begun with a decoder, continued without one.
                    None => Err(Error::InvalidState),
                };
            }
            // A data frame: hand out what is here, unmasked in place.
            let avail = (input.len() - pos) as u64;
            let n = avail.min(self.rx_left) as usize;
            if n == 0 && self.rx_left > 0 {
                return Ok(Input {
                    consumed: pos,
                    event: None,
                });
            }
            let start = pos;
            let chunk = &mut input[start..start + n];
            if let Some(key) = self.rx_mask {
                apply_mask(chunk, key, usize::from(self.rx_pos));
            }
            self.rx_pos = ((usize::from(self.rx_pos) + n) % 4) as u8;
            self.rx_left -= n as u64;
            pos += n;
            let kind = self.rx_msg.unwrap_or(MessageKind::Binary);
            if kind == MessageKind::Text && self.utf8.feed(chunk).is_err() {
                return Err(self.fail(Error::InvalidUtf8));
            }
            let fin = self.rx_left == 0 && self.rx_fin;
            if self.rx_left == 0 {
                self.phase = Phase::Header;
            }
            if fin {
                self.end_message()?;
            }
            if n > 0 || fin {
                let data = &input[start..start + n];
                return Ok(Input {
                    consumed: pos,
                    event: Some(Event::Data { kind, data, fin }),
                });
            }
            // An empty non-final frame: nothing to report, read the next header.
        }
    }

    /// The last piece of a message arrived: its text must be complete.
    fn end_message(&mut self) -> Result<(), Error> {
        if !self.utf8.is_complete() {
            return Err(self.fail(Error::InvalidUtf8));
        }
        self.rx_msg = None;
        self.rx_msg_len = 0;
        self.utf8 = Utf8Validator::new();
        Ok(())
    }

    /// The fast path's test: at a frame boundary with no message in progress,
    /// does `input` start with a whole final text or binary frame that breaks no
    /// rule (masked as the role requires, no reserved bits, minimal length,
    /// within the limits)? Returns its kind, header length and payload length.
    /// Everything else, errors included, goes through the general path.
    #[inline]
    fn whole_message(&self, input: &[u8]) -> Option<(MessageKind, usize, usize)> {
        if self.phase != Phase::Header || self.hdr_len != 0 || self.rx_msg.is_some() {
            return None;
        }
        let [b0, b1, ..] = *input else { return None };
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.role == Role::Server) {
            return None;
        }
        let (len, ext) = match b1 & 0x7f {
            126 => match input.get(2..4) {
                Some(&[hi, lo]) if u16::from_be_bytes([hi, lo]) >= 126 => {
                    (usize::from(u16::from_be_bytes([hi, lo])), 2)
                }
                _ => return None,
            },
            127 => return None,
            n => (usize::from(n), 0),
        };
        let hlen = 2 + ext + if masked { 4 } else { 0 };
        let limit = self.config.max_frame_size.min(self.config.max_message_size);
        if input.len() < hlen + len || len as u64 > limit {
            return None;
        }
        Some((kind, hlen, len))
    }

    /// Reads (the rest of) a frame header from `input`. Returns the bytes used
    /// once the header is complete and checked, `None` if `input` ran out first.
    fn read_header(&mut self, input: &[u8]) -> Result<Option<usize>, Error> {
        let (header, used) = if self.hdr_len == 0
            && input.len() >= 2
            && input.len() >= FrameHeader::len_from_prefix(input[0], input[1])
        {
            // Fast path: the whole header is in this input. The first two
            // bytes are checked first, as on the byte-at-a-time path, so the
            // error does not depend on where reads end.
            FrameHeader::check_prefix(input[0], input[1])?;
            self.check_start(input[0], input[1])?;
            match FrameHeader::decode(input)? {
                Some(h) => h,
                None => return Ok(None),
            }
        } else {
            let mut used = 0;
            loop {
                let have = self.hdr_len as usize;
                let need = if have < 2 {
                    2
                } else {
                    FrameHeader::len_from_prefix(self.hdr[0], self.hdr[1])
                };
                if have == need {
                    break;
                }
                let take = (need - have).min(input.len() - used);
                if take == 0 {
                    return Ok(None);
                }
                self.hdr[have..have + take].copy_from_slice(&input[used..used + take]);
                self.hdr_len += take as u8;
                used += take;
                if self.hdr_len == 2 {
                    // Fail as early as the first two bytes allow.
                    FrameHeader::check_prefix(self.hdr[0], self.hdr[1])?;
                    self.check_start(self.hdr[0], self.hdr[1])?;
                }
            }
            let (h, _) = FrameHeader::decode(&self.hdr[..self.hdr_len as usize])?
                .ok_or(Error::InvalidLength)?;
            self.hdr_len = 0;
            (h, used)
        };
        self.start_frame(&header)?;
        Ok(Some(used))
    }

    /// Checks of the first two bytes that depend on the connection.
    fn check_start(&self, b0: u8, b1: u8) -> Result<(), Error> {
        if b0 & 0x70 != 0 && !(b0 & 0x70 == 0x40 && self.rsv1_allowed(b0)) {
            return Err(Error::ReservedBits);
        }
        let masked = b1 & 0x80 != 0;
        match self.role {
            Role::Server if !masked => return Err(Error::UnmaskedFrame),
            Role::Client if masked => return Err(Error::MaskedFrame),
            _ => {}
        }
        match (OpCode::from_u8(b0 & 0x0f), self.rx_msg) {
            (Some(OpCode::Continuation), None) => Err(Error::UnexpectedContinuation),
            (Some(OpCode::Text | OpCode::Binary), Some(_)) => Err(Error::ExpectedContinuation),
            _ => Ok(()),
        }
    }

    /// permessage-deflate: RSV1 marks the first frame of a compressed message,
    /// and only when a decoder was lent.
    fn rsv1_allowed(&self, b0: u8) -> bool {
        #[cfg(feature = "deflate")]
        return self.rx_z.allowed
            && matches!(
                OpCode::from_u8(b0 & 0x0f),
                Some(OpCode::Text | OpCode::Binary)
            );
        #[cfg(not(feature = "deflate"))]
        {
            let _ = b0;
            false
        }
    }

    /// Inflates the payload of a compressed message that is in `input` from
    /// `pos` on. Bytes the decoder does not take are masked again, so the
    /// caller can feed them once more.
    #[cfg(feature = "deflate")]
    fn inflate_payload<'a>(
        &mut self,
        input: &'a mut [u8],
        mut pos: usize,
        codec: &mut dyn Codec,
        out: &'a mut [u8],
    ) -> Result<Input<'a>, Error> {
        let n = ((input.len() - pos) as u64).min(self.rx_left) as usize;
        if n == 0 && self.rx_left > 0 {
            return Ok(Input {
                consumed: pos,
                event: None,
            });
        }
        let chunk = &mut input[pos..pos + n];
        let at = usize::from(self.rx_pos);
        if let Some(key) = self.rx_mask {
            apply_mask(chunk, key, at);
        }
        let ends = self.rx_fin && n as u64 == self.rx_left;
        let (c, w, fin) = self
            .inflate_step(codec, chunk, ends, out)
            .map_err(|e| self.fail(e))?;
        if let Some(key) = self.rx_mask {
            apply_mask(&mut chunk[c..], key, at + c);
        }
        self.rx_pos = ((at + c) % 4) as u8;
        self.rx_left -= c as u64;
        pos += c;
        if self.rx_left == 0 {
            self.phase = Phase::Header;
        }
        self.inflated_event(pos, w, fin, out)
    }

    /// One run of the decoder over `chunk` (`ends`: it holds the message's
    /// last byte), with the size limit, and UTF-8 for text. Returns the bytes
    /// consumed and written, and whether the message is complete.
    #[cfg(feature = "deflate")]
    fn inflate_step(
        &mut self,
        codec: &mut dyn Codec,
        chunk: &[u8],
        ends: bool,
        out: &mut [u8],
    ) -> Result<(usize, usize, bool), Error> {
        // One byte over the limit is enough to tell.
        let allowance = self
            .config
            .max_message_size
            .saturating_sub(self.rx_z.inflated);
        let lim = (out.len() as u64).min(allowance.saturating_add(1)) as usize;
        let out = &mut out[..lim];
        let (mut c, mut w, mut fin) = (0, 0, false);
        if !self.rx_z.finishing {
            let p = codec.inflate(chunk, out).map_err(Error::Inflate)?;
            (c, w) = (p.consumed, p.written);
            self.rx_z.pending = p.output_full;
            self.rx_z.finishing = ends && !p.output_full;
            self.account(&out[..w], codec)?;
        }
        if self.rx_z.finishing {
            let (n, done) = codec.finish(&mut out[w..]).map_err(Error::Inflate)?;
            self.account(&out[w..w + n], codec)?;
            w += n;
            self.rx_z.pending = !done;
            self.rx_z.finishing = !done;
            fin = done;
        }
        Ok((c, w, fin))
    }

    /// Counts and checks inflated bytes in stream order: UTF-8 of what is
    /// within the limit, then the limit, then a fault the decoder found after
    /// them, so the first error does not depend on buffer sizes.
    #[cfg(feature = "deflate")]
    fn account(&mut self, bytes: &[u8], codec: &dyn Codec) -> Result<(), Error> {
        self.rx_z.inflated += bytes.len() as u64;
        let over = self
            .rx_z
            .inflated
            .saturating_sub(self.config.max_message_size) as usize;
        if self.rx_msg == Some(MessageKind::Text)
            && self.utf8.feed(&bytes[..bytes.len() - over]).is_err()
        {
            return Err(Error::InvalidUtf8);
        }
        if over > 0 {
            return Err(Error::MessageTooLarge);
        }
        match codec.inflate_error() {
            Some(e) => Err(Error::Inflate(e)),
            None => Ok(()),
        }
    }

    /// The event for `w` inflated bytes in `out`; ends the message on `fin`.
    #[cfg(feature = "deflate")]
    fn inflated_event<'a>(
        &mut self,
        consumed: usize,
        w: usize,
        fin: bool,
        out: &'a mut [u8],
    ) -> Result<Input<'a>, Error> {
        let kind = self.rx_msg.unwrap_or(MessageKind::Binary);
        if fin {
            self.end_message()?;
            self.rx_z.compressed = false;
        }
        let event = (w > 0 || fin).then_some(Event::Data {
            kind,
            data: &out[..w],
            fin,
        });
        Ok(Input { consumed, event })
    }

    /// Takes a header whose first two bytes passed `check_start`.
    fn start_frame(&mut self, h: &FrameHeader) -> Result<(), Error> {
        if h.len > self.config.max_frame_size {
            return Err(Error::FrameTooLarge);
        }
        match h.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if h.len > self.config.max_message_size.saturating_sub(self.rx_msg_len) {
                    return Err(Error::MessageTooLarge);
                }
                self.rx_msg_len += h.len;
                if h.opcode == OpCode::Text {
                    self.rx_msg = Some(MessageKind::Text);
                } else if h.opcode == OpCode::Binary {
                    self.rx_msg = Some(MessageKind::Binary);
                }
                #[cfg(feature = "deflate")]
                if h.opcode != OpCode::Continuation {
                    self.rx_z.compressed = h.rsv & 0b100 != 0;
                    self.rx_z.inflated = 0;
                }
            }
            _ => {}
        }
        self.rx_opcode = h.opcode;
        self.rx_fin = h.fin;
        self.rx_mask = h.mask;
        self.rx_pos = 0;
        self.rx_left = h.len;
        self.phase = Phase::Payload;
        Ok(())
    }

    fn read_control<'a>(&mut self, input: &'a [u8], mut pos: usize) -> Result<Input<'a>, Error> {
        if self.pong_pending || self.in_flight == Pending::Pong {
            // The pending pong's payload lives in `ctrl`: wait until it is sent.
            return Ok(Input {
                consumed: pos,
                event: None,
            });
        }
        let n = ((input.len() - pos) as u64).min(self.rx_left) as usize;
        let at = usize::from(self.rx_pos);
        let dst = &mut self.ctrl[at..at + n];
        dst.copy_from_slice(&input[pos..pos + n]);
        if let Some(key) = self.rx_mask {
            apply_mask(dst, key, at);
        }
        self.rx_pos += n as u8;
        self.rx_left -= n as u64;
        pos += n;
        if self.rx_left > 0 {
            return Ok(Input {
                consumed: pos,
                event: None,
            });
        }
        self.phase = Phase::Header;
        let len = usize::from(self.rx_pos);
        self.ctrl_len = len as u8;
        let event = match self.rx_opcode {
            OpCode::Ping => {
                if self.inner == Inner::Open {
                    self.pong_pending = true;
                }
                Event::Ping(ControlPayload::new(&self.ctrl[..len]))
            }
            OpCode::Pong => Event::Pong(ControlPayload::new(&self.ctrl[..len])),
            _ => {
                let code = match parse_close(&self.ctrl[..len]) {
                    Ok(code) => code,
                    Err(e) => return Err(self.fail(e)),
                };
                self.inner = match self.inner {
                    Inner::Open => {
                        // Echo the peer's code; an empty close is answered with 1000.
                        self.close_pending = Some(code.unwrap_or(close_code::NORMAL));
                        Inner::CloseReceived
                    }
                    _ => Inner::Closed,
                };
                Event::Close {
                    code,
                    reason: CloseReason(ControlPayload::new(&self.ctrl[2.min(len)..len])),
                }
            }
        };
        Ok(Input {
            consumed: pos,
            event: Some(event),
        })
    }

    /// Tells the connection that the transport reached end of file. Returns
    /// `Ok` if the closing handshake had finished (or the peer's Close had
    /// arrived), otherwise [`Error::UnexpectedEof`]. Either way the state is now
    /// [`State::Closed`].
    pub fn handle_eof(&mut self, now: Instant) -> Result<(), Error> {
        let _ = now;
        let clean =
            matches!(self.inner, Inner::CloseReceived | Inner::Closed) && self.error.is_none();
        self.close_pending = None;
        self.pong_pending = false;
        self.inner = Inner::Closed;
        if clean {
            Ok(())
        } else {
            let e = *self.error.get_or_insert(Error::UnexpectedEof);
            Err(e)
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if
    /// ever. It changes when a Close frame is sent or the state changes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.inner {
            Inner::CloseSent { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Lets timers run: after sending Close, the connection gives up waiting for
    /// the peer's Close at the deadline ([`Error::CloseTimeout`], state
    /// [`State::Closed`]). Harmless when called early or twice.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Inner::CloseSent { deadline } = self.inner
            && now >= deadline
        {
            self.inner = Inner::Closed;
            self.error.get_or_insert(Error::CloseTimeout);
        }
    }

    /// Writes automatic frames (pongs, close replies, the close after a
    /// protocol error) into `out`. Returns the number of bytes written; 0 means
    /// nothing is waiting. A frame may be written across several calls when
    /// `out` is small. Call until it returns 0 after every input and command.
    ///
    /// Nothing is written while a frame begun with [`begin_frame`](Self::begin_frame)
    /// is unfinished: control frames may not split a frame.
    #[must_use = "the bytes written must be sent to the peer"]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if self.tx_left > 0 {
            return Ok(0);
        }
        if self.in_flight == Pending::Nothing {
            // Choose what to send next: a close supersedes a pong.
            if let Some(code) = self.close_pending.take() {
                self.in_flight = Pending::Close(code);
                self.pong_pending = false;
            } else if self.pong_pending {
                self.in_flight = Pending::Pong;
                self.pong_pending = false;
            } else {
                return Ok(0);
            }
            self.ctrl_tx_off = 0;
            if self.role == Role::Client {
                self.entropy.fill_bytes(&mut self.ctrl_tx_mask);
            }
        }
        if out.is_empty() {
            return Err(Error::BufferTooSmall { required: 1 });
        }
        let mut frame = [0u8; MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD];
        let code;
        let (opcode, payload): (OpCode, &[u8]) = match self.in_flight {
            Pending::Pong => (OpCode::Pong, &self.ctrl[..self.ctrl_len as usize]),
            Pending::Close(c) => {
                code = c.to_be_bytes();
                (OpCode::Close, &code)
            }
            Pending::Nothing => return Ok(0),
        };
        let mask = (self.role == Role::Client).then_some(self.ctrl_tx_mask);
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            len: payload.len() as u64,
        };
        let total = encode_frame(&mut frame, &h, payload)?;
        let off = self.ctrl_tx_off as usize;
        let n = (total - off).min(out.len());
        out[..n].copy_from_slice(&frame[off..off + n]);
        if off + n < total {
            self.ctrl_tx_off = (off + n) as u8;
            return Ok(n);
        }
        self.ctrl_tx_off = 0;
        if let Pending::Close(_) = self.in_flight {
            // A reply to the peer's Close, or the Close after a protocol error:
            // either way the handshake is over for us.
            self.inner = Inner::Closed;
        }
        self.in_flight = Pending::Nothing;
        Ok(n)
    }

    /// The header of an outgoing frame, after checking that `room` bytes of
    /// output hold it and `payload` more bytes. Only then is a masking key drawn
    /// (client role), so a refused frame changes nothing.
    fn outgoing_header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        len: u64,
        room: usize,
        payload: usize,
    ) -> Result<FrameHeader, Error> {
        let client = self.role == Role::Client;
        let mut h = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: client.then_some([0; 4]),
            len,
        };
        let required = h.encoded_len() + payload;
        if room < required {
            return Err(Error::BufferTooSmall { required });
        }
        if let Some(key) = &mut h.mask {
            self.entropy.fill_bytes(key);
        }
        Ok(h)
    }

    /// Writes a whole frame, masked with a fresh key in the client role.
    fn write_frame(
        &mut self,
        out: &mut [u8],
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<usize, Error> {
        let h =
            self.outgoing_header(opcode, fin, payload.len() as u64, out.len(), payload.len())?;
        encode_frame(out, &h, payload)
    }

    /// Checks that a new frame may be started now: nothing automatic is half
    /// written, no frame is unfinished, and no Close was sent or received.
    fn check_can_send(&self) -> Result<(), Error> {
        if self.in_flight != Pending::Nothing {
            return Err(Error::TransmitPending);
        }
        if self.tx_left > 0 || self.inner != Inner::Open {
            return Err(Error::InvalidState);
        }
        Ok(())
    }

    fn data_opcode(&self, kind: MessageKind) -> Result<OpCode, Error> {
        match self.tx_msg {
            None => Ok(kind.opcode()),
            Some(k) if k == kind => Ok(OpCode::Continuation),
            Some(_) => Err(Error::InvalidState),
        }
    }

    /// Sends a whole text message as one frame. Returns the bytes written to `out`.
    pub fn send_text(&mut self, text: &str, out: &mut [u8]) -> Result<usize, Error> {
        self.send_whole(MessageKind::Text, text.as_bytes(), out)
    }

    /// Sends a whole binary message as one frame. Returns the bytes written to `out`.
    pub fn send_binary(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.send_whole(MessageKind::Binary, data, out)
    }

    /// Sends a whole message compressed with `ctx` (permessage-deflate), as one
    /// frame with RSV1. `out` must hold the frame for the worst case:
    /// [`MAX_HEADER_LEN`] + [`compress_bound`](super::deflate::compress_bound)`(data.len())`
    /// bytes, else [`Error::BufferTooSmall`] and nothing changes. A message may
    /// also be sent uncompressed with the other `send_*` commands at any time.
    #[cfg(feature = "deflate")]
    pub fn send_deflate<R, S, H>(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        ctx: &mut Context<R, S, H>,
        out: &mut [u8],
    ) -> Result<usize, Error>
    where
        R: AsMut<[u8]>,
        S: AsMut<[u8]>,
        H: AsMut<[u16]>,
    {
        self.check_can_send()?;
        if self.tx_msg.is_some() {
            return Err(Error::InvalidState);
        }
        let required = MAX_HEADER_LEN + super::deflate::compress_bound(data.len());
        if out.len() < required {
            return Err(Error::BufferTooSmall { required });
        }
        let n =
            Codec::compress(ctx, data, &mut out[MAX_HEADER_LEN..]).ok_or(Error::InvalidState)?;
        let mut h = self.outgoing_header(kind.opcode(), true, n as u64, out.len(), n)?;
        h.rsv = 0b100;
        let hl = h.encoded_len();
        out.copy_within(MAX_HEADER_LEN..MAX_HEADER_LEN + n, hl);
        h.encode(out)?;
        if let Some(key) = h.mask {
            apply_mask(&mut out[hl..hl + n], key, 0);
        }
        Ok(hl + n)
    }

    /// A one-frame message: not allowed while a fragmented one is unfinished.
    fn send_whole(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if self.tx_msg.is_some() {
            return Err(Error::InvalidState);
        }
        self.send_fragment(kind, data, true, out)
    }

    /// Sends one frame of a message: the first call starts a message of `kind`,
    /// later calls (with the same `kind`) continue it, and `fin` ends it. For
    /// text, the concatenated fragments must be UTF-8; a fragment may end inside
    /// a code point.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_can_send()?;
        let opcode = self.data_opcode(kind)?;
        let n = self.write_frame(out, opcode, fin, data)?;
        self.tx_msg = if fin { None } else { Some(kind) };
        Ok(n)
    }

    /// Writes only the header of a data frame with a `len`-byte payload, so the
    /// payload can follow in pieces through [`send_payload`](Self::send_payload)
    /// (which masks in the client role) or, in the server role, be written by
    /// the caller straight from its own buffer and reported with
    /// [`payload_written`](Self::payload_written). Fragmentation follows the
    /// same rules as [`send_fragment`](Self::send_fragment). Needs at most 14
    /// bytes of `out`.
    pub fn begin_frame(
        &mut self,
        kind: MessageKind,
        len: u64,
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.begin_frame_rsv(kind, len, fin, 0, out)
    }

    /// [`begin_frame`](Self::begin_frame) for the single frame of a message
    /// whose payload is already compressed (permessage-deflate: RSV1 set). The
    /// caller compressed it with the context agreed for this connection.
    #[cfg(feature = "deflate")]
    pub(crate) fn begin_compressed_frame(
        &mut self,
        kind: MessageKind,
        len: u64,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.begin_frame_rsv(kind, len, true, 0b100, out)
    }

    fn begin_frame_rsv(
        &mut self,
        kind: MessageKind,
        len: u64,
        fin: bool,
        rsv: u8,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_can_send()?;
        let opcode = self.data_opcode(kind)?;
        if len >> 63 != 0 {
            return Err(Error::InvalidArgument);
        }
        let mut h = self.outgoing_header(opcode, fin, len, out.len(), 0)?;
        h.rsv = rsv;
        let n = h.encode(out)?;
        self.tx_msg = if fin { None } else { Some(kind) };
        self.tx_left = len;
        self.tx_pos = 0;
        self.tx_mask = h.mask;
        Ok(n)
    }

    /// Server role: accounts for `len` bytes that are already whole frames
    /// (built elsewhere, the same for every connection: final, unmasked data
    /// frames with no reserved bits), which the caller now writes verbatim
    /// through [`send_payload`](Self::send_payload) or
    /// [`payload_written`](Self::payload_written). Until they are all out the
    /// connection behaves as during a frame begun with
    /// [`begin_frame`](Self::begin_frame): no control frame is written in
    /// between and no other frame may start. Refused like `begin_frame` when a
    /// frame may not start now (a Close sent or received, an automatic frame
    /// half written, a frame or a fragmented message unfinished), and for an
    /// empty `len`.
    pub(crate) fn begin_preframed(&mut self, len: u64) -> Result<(), Error> {
        if self.role != Role::Server {
            return Err(Error::InvalidState);
        }
        self.check_can_send()?;
        if self.tx_msg.is_some() {
            return Err(Error::InvalidState);
        }
        if len == 0 || len >> 63 != 0 {
            return Err(Error::InvalidArgument);
        }
        self.tx_left = len;
        self.tx_pos = 0;
        self.tx_mask = None;
        Ok(())
    }

    /// Copies (and in the client role masks) as much of `chunk` into `out` as
    /// fits and the frame still expects. Returns the number of bytes taken from
    /// `chunk`, which is also the number written to `out`.
    pub fn send_payload(&mut self, chunk: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        if self.tx_left == 0 {
            return Err(Error::InvalidState);
        }
        let n = (chunk.len().min(out.len()) as u64).min(self.tx_left) as usize;
        match self.tx_mask {
            Some(key) => copy_masked(out, &chunk[..n], key, usize::from(self.tx_pos)),
            None => out[..n].copy_from_slice(&chunk[..n]),
        }
        self.tx_pos = ((usize::from(self.tx_pos) + n) % 4) as u8;
        self.tx_left -= n as u64;
        Ok(n)
    }

    /// Server role: records that the caller wrote `n` bytes of the current
    /// frame's payload itself, unmasked, straight after the header.
    pub fn payload_written(&mut self, n: u64) -> Result<(), Error> {
        if self.role != Role::Server {
            return Err(Error::InvalidState);
        }
        if n > self.tx_left {
            return Err(Error::InvalidArgument);
        }
        self.tx_left -= n;
        self.tx_pos = ((u64::from(self.tx_pos) + n) % 4) as u8;
        Ok(())
    }

    /// Bytes of the current frame's payload still to be sent.
    pub fn payload_remaining(&self) -> u64 {
        self.tx_left
    }

    fn send_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::InvalidArgument);
        }
        self.write_frame(out, opcode, true, payload)
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.send_control(OpCode::Ping, payload, out)
    }

    /// Sends an unsolicited pong (payload at most 125 bytes), e.g. as a heartbeat.
    pub fn pong(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.send_control(OpCode::Pong, payload, out)
    }

    /// Starts the closing handshake: writes a Close frame with `code` (one that
    /// may be sent: 1000-1003, 1007-1014, 3000-4999) and `reason` (at most 123
    /// bytes). Afterwards the connection only receives, until the peer's Close
    /// arrives or [`Config::close_timeout`] passes.
    ///
    /// If the peer's Close already arrived and the reply has not been written
    /// yet, this reply replaces the automatic one.
    pub fn close(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if !close_code::is_sendable(code) || reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(Error::InvalidArgument);
        }
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.start_close(now, &payload[..2 + reason.len()], out)
    }

    /// [`close`](Self::close) with an empty Close frame: no status code (the
    /// peer reports 1005), as Node's `ws` sends for `close()` with no
    /// arguments and so the reference Engine.IO server does.
    pub fn close_without_status(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, Error> {
        self.start_close(now, &[], out)
    }

    /// Writes a Close frame with `payload` and enters the closing handshake.
    fn start_close(
        &mut self,
        now: Instant,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let replying = self.inner == Inner::CloseReceived && self.in_flight == Pending::Nothing;
        if !replying {
            self.check_can_send()?;
        } else if self.tx_left > 0 {
            return Err(Error::InvalidState);
        }
        let n = self.write_frame(out, OpCode::Close, true, payload)?;
        self.close_pending = None;
        self.pong_pending = false;
        self.inner = if replying {
            Inner::Closed
        } else {
            Inner::CloseSent {
                deadline: now + self.config.close_timeout,
            }
        };
        Ok(n)
    }
}

/// Encodes a whole frame: `h` (whose length is `payload`'s) and the payload,
/// masked with `h`'s key if it has one.
fn encode_frame(out: &mut [u8], h: &FrameHeader, payload: &[u8]) -> Result<usize, Error> {
    let hl = h.encoded_len();
    let total = hl + payload.len();
    if out.len() < total {
        return Err(Error::BufferTooSmall { required: total });
    }
    h.encode(out)?;
    match h.mask {
        Some(key) => copy_masked(&mut out[hl..total], payload, key, 0),
        None => out[hl..total].copy_from_slice(payload),
    }
    Ok(total)
}

/// Validates a close payload: empty, or a code that may be sent plus a UTF-8
/// reason. Returns the code.
fn parse_close(payload: &[u8]) -> Result<Option<u16>, Error> {
    match payload {
        [] => Ok(None),
        [_] => Err(Error::InvalidClosePayload),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !close_code::is_valid(code) {
                return Err(Error::InvalidCloseCode(code));
            }
            core::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(Some(code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preframed_bytes_hold_back_control_frames_until_written() {
        let mut c = Connection::server(Config::DEFAULT);
        let now = Instant::from_millis(0);
        // Two whole frames, "4a" and [7], as a broadcast builds them.
        let frames = [0x81, 0x02, b'4', b'a', 0x82, 0x01, 7];
        c.begin_preframed(frames.len() as u64).unwrap();
        // A ping arrives in the middle: its pong waits.
        let mut ping = [0x89, 0x81, 1, 2, 3, 4, b'p' ^ 1];
        let input = c.handle_input(now, &mut ping).unwrap();
        assert!(matches!(input.event, Some(Event::Ping(_))));
        let mut out = [0u8; 16];
        assert_eq!(c.poll_transmit(&mut out), Ok(0));
        assert_eq!(c.send_text("x", &mut out), Err(Error::InvalidState));
        assert_eq!(c.begin_preframed(1), Err(Error::InvalidState));
        let mut wire = [0u8; 7];
        let mut at = 0;
        while c.payload_remaining() > 0 {
            let n = c.send_payload(&frames[at..], &mut out[..3]).unwrap();
            wire[at..at + n].copy_from_slice(&out[..n]);
            at += n;
        }
        assert_eq!((at, wire), (frames.len(), frames));
        // Then the pong, and other frames again.
        let n = c.poll_transmit(&mut out).unwrap();
        assert_eq!(&out[..n], [0x8a, 0x01, b'p']);
        assert_eq!(c.send_text("x", &mut out), Ok(3));
    }

    #[test]
    fn preframed_bytes_are_refused_when_no_frame_may_start() {
        let now = Instant::from_millis(0);
        let mut out = [0u8; 16];
        let mut c = Connection::server(Config::DEFAULT);
        assert_eq!(c.begin_preframed(0), Err(Error::InvalidArgument));
        // In the middle of a fragmented message.
        c.send_fragment(MessageKind::Text, b"a", false, &mut out)
            .unwrap();
        assert_eq!(c.begin_preframed(3), Err(Error::InvalidState));
        // After our Close.
        let mut c = Connection::server(Config::DEFAULT);
        c.close(now, 1000, "", &mut out).unwrap();
        assert_eq!(c.begin_preframed(3), Err(Error::InvalidState));
        // Never in the client role (its frames are masked).
        let mut c = Connection::client(Config::DEFAULT, crate::entropy::SplitMix64::new(1));
        assert_eq!(c.begin_preframed(3), Err(Error::InvalidState));
    }
}
