//! Engine.IO v4 packets and HTTP long-polling payloads.
//!
//! A packet is one ASCII type digit followed by its data. Over WebSocket each
//! packet is one message: a text frame holds the encoded packet (`4hello`), and a
//! binary frame is a message packet whose data is the frame's bytes, with no type
//! byte. Over HTTP long-polling a body carries one or more packets separated by
//! the record separator 0x1e, and binary data travels as `b` followed by its
//! base64 (`bAQIDBA==` is the bytes 01 02 03 04).
//!
//! Decoding is zero-copy: text is borrowed from the caller's buffer, and base64 is
//! decoded in place (the bytes always shrink), which is why decoding takes
//! `&mut [u8]`.
//!
//! The reference parser is lenient about base64 (Node ignores characters outside
//! the alphabet); sockwire is strict, so a corrupted body is a
//! [`Error::InvalidBase64`] rather than silently different bytes. Padding may be
//! present or absent.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use super::Error;

/// The separator between packets in a polling body.
pub const SEPARATOR: u8 = 0x1e;

/// Decodes the standard alphabet with or without padding.
const B64_LENIENT_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The packet types of Engine.IO v4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the server's handshake, with the session parameters as JSON.
    Open = 0,
    /// `1`: the session ends.
    Close = 1,
    /// `2`: a heartbeat from the server, or `2probe` from a client testing a
    /// WebSocket during an upgrade.
    Ping = 2,
    /// `3`: the answer to a ping.
    Pong = 3,
    /// `4`: application data.
    Message = 4,
    /// `5`: the client switches to the probed WebSocket.
    Upgrade = 5,
    /// `6`: nothing; releases a waiting long-poll.
    Noop = 6,
}

impl PacketType {
    /// The type of an ASCII digit `0`..=`6`.
    pub const fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The ASCII digit of this type.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// The data of a message packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Data<'a> {
    /// Text (UTF-8).
    Text(&'a str),
    /// Bytes.
    Binary(&'a [u8]),
}

/// One Engine.IO packet, borrowing the buffer it was decoded from.
///
/// ```
/// use sockwire::engineio::{Data, Packet};
/// let mut text = *b"4hello";
/// assert_eq!(Packet::decode(&mut text), Ok(Packet::Message(Data::Text("hello"))));
/// let mut b64 = *b"bAQIDBA==";
/// assert_eq!(Packet::decode(&mut b64), Ok(Packet::Message(Data::Binary(&[1, 2, 3, 4]))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Packet<'a> {
    /// `0{...}`: the handshake JSON.
    Open(&'a str),
    /// `1`.
    Close,
    /// `2` with optional data (`probe`).
    Ping(&'a str),
    /// `3` with optional data (`probe`).
    Pong(&'a str),
    /// `4...` or `b...`, or a WebSocket binary frame.
    Message(Data<'a>),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

impl<'a> Packet<'a> {
    /// The packet's type.
    pub fn kind(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Decodes one text-encoded packet (a WebSocket text frame, or one record of a
    /// polling body). A `b` packet's base64 is decoded in place. Data after `1`,
    /// `5` and `6` is ignored, as the reference parser does.
    ///
    /// Errors: [`Error::InvalidPacket`] for an empty packet, an unknown type or
    /// text that is not UTF-8; [`Error::InvalidBase64`].
    pub fn decode(bytes: &'a mut [u8]) -> Result<Self, Error> {
        if let [b'b', rest @ ..] = bytes {
            let n = decode_base64_in_place(rest)?;
            return Ok(Packet::Message(Data::Binary(&rest[..n])));
        }
        let text = core::str::from_utf8(bytes).map_err(|_| Error::InvalidPacket)?;
        Self::decode_text(text)
    }

    /// Decodes a packet from text with no base64 to undo: a WebSocket text
    /// frame. Over WebSocket binary data travels in binary frames, so a `b`
    /// packet here is [`Error::InvalidPacket`] (the reference parser would decode
    /// it; no reference client sends it).
    pub fn decode_text(text: &'a str) -> Result<Self, Error> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(Error::InvalidPacket);
        };
        let kind = PacketType::from_digit(first).ok_or(Error::InvalidPacket)?;
        // The first byte is an ASCII digit, so index 1 is a char boundary.
        let text = &text[1..];
        Ok(match kind {
            PacketType::Open => Packet::Open(text),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(text),
            PacketType::Pong => Packet::Pong(text),
            PacketType::Message => Packet::Message(Data::Text(text)),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// The length of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        match self {
            Packet::Open(t) | Packet::Ping(t) | Packet::Pong(t) => 1 + t.len(),
            Packet::Message(Data::Text(t)) => 1 + t.len(),
            Packet::Message(Data::Binary(b)) => 1 + base64_len(b.len()),
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
        }
    }

    /// Writes the text encoding (`4hello`, `bAQIDBA==`, `2probe`) into `out`.
    /// Returns the bytes written; [`Error::BufferTooSmall`] leaves `out` untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.encoded_len();
        if out.len() < len {
            return Err(Error::BufferTooSmall { required: len });
        }
        match self {
            Packet::Message(Data::Binary(b)) => {
                out[0] = b'b';
                encode_base64(b, &mut out[1..len]);
            }
            Packet::Open(t) | Packet::Ping(t) | Packet::Pong(t) => {
                out[0] = self.kind().digit();
                out[1..len].copy_from_slice(t.as_bytes());
            }
            Packet::Message(Data::Text(t)) => {
                out[0] = b'4';
                out[1..len].copy_from_slice(t.as_bytes());
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => out[0] = self.kind().digit(),
        }
        Ok(len)
    }
}

/// The length of the padded base64 of `n` bytes.
pub const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Writes the padded base64 of `data` into `out`, which is exactly
/// [`base64_len`] long.
pub(crate) fn encode_base64(data: &[u8], out: &mut [u8]) {
    // The length is exact, so this cannot fail.
    let _ = STANDARD.encode_slice(data, out);
}

/// Decodes base64 (padded or not) in place; returns the decoded length. Works
/// through a small stack buffer in whole 4-character groups, so the write
/// position never passes the read position.
fn decode_base64_in_place(buf: &mut [u8]) -> Result<usize, Error> {
    const CHUNK: usize = 64;
    let mut scratch = [0u8; CHUNK / 4 * 3];
    let (mut read, mut written) = (0, 0);
    while read < buf.len() {
        let end = (read + CHUNK).min(buf.len());
        let n = B64_LENIENT_PAD
            .decode_slice(&buf[read..end], &mut scratch)
            .map_err(|_| Error::InvalidBase64)?;
        // A chunk that is not the last must be padding-free whole groups; the
        // engine sees each chunk as a complete input, so padding in the middle
        // of the text is caught here.
        if end < buf.len() && buf[read..end].contains(&b'=') {
            return Err(Error::InvalidBase64);
        }
        buf[written..written + n].copy_from_slice(&scratch[..n]);
        written += n;
        read = end;
    }
    Ok(written)
}

/// The packets of a polling body, decoded one at a time in place.
///
/// Decoding stops at the first invalid packet (after yielding its error), like
/// the reference parser: the packets before it are delivered.
///
/// ```
/// use sockwire::engineio::{Data, Packet, Payload};
/// let mut body = *b"4hello\x1e2\x1ebAQIDBA==";
/// let packets: Vec<_> = Payload::new(&mut body).collect();
/// assert_eq!(packets, [
///     Ok(Packet::Message(Data::Text("hello"))),
///     Ok(Packet::Ping("")),
///     Ok(Packet::Message(Data::Binary(&[1, 2, 3, 4]))),
/// ]);
/// ```
#[derive(Debug)]
pub struct Payload<'a> {
    rest: Option<&'a mut [u8]>,
}

impl<'a> Payload<'a> {
    /// The packets of `body`. An empty body holds one empty (invalid) packet.
    pub fn new(body: &'a mut [u8]) -> Self {
        Payload { rest: Some(body) }
    }

    /// True when every packet has been taken.
    pub fn is_empty(&self) -> bool {
        self.rest.is_none()
    }
}

impl<'a> Iterator for Payload<'a> {
    type Item = Result<Packet<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        let (record, tail) = match rest.iter().position(|&b| b == SEPARATOR) {
            Some(i) => {
                let (record, tail) = rest.split_at_mut(i);
                (record, Some(&mut tail[1..]))
            }
            None => (rest, None),
        };
        let packet = Packet::decode(record);
        if packet.is_ok() {
            self.rest = tail;
        }
        Some(packet)
    }
}

/// Writes packets into a polling body, separated by 0x1e.
///
/// ```
/// use sockwire::engineio::{Data, Packet, PayloadWriter};
/// let mut out = [0u8; 32];
/// let mut w = PayloadWriter::new(&mut out);
/// w.push(&Packet::Message(Data::Text("hello"))).unwrap();
/// w.push(&Packet::Ping("")).unwrap();
/// let n = w.len();
/// assert_eq!(&out[..n], b"4hello\x1e2");
/// ```
#[derive(Debug)]
pub struct PayloadWriter<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> PayloadWriter<'o> {
    /// A writer filling `out` from its start.
    pub fn new(out: &'o mut [u8]) -> Self {
        PayloadWriter { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes [`push`](Self::push) would add for `packet`.
    pub fn cost(&self, packet: &Packet<'_>) -> usize {
        packet.encoded_len() + usize::from(self.len > 0)
    }

    /// Appends a packet; [`Error::BufferTooSmall`] (with the total length needed)
    /// leaves the written part unchanged.
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<(), Error> {
        let need = self.cost(packet);
        if self.out.len() - self.len < need {
            return Err(Error::BufferTooSmall {
                required: self.len + need,
            });
        }
        if self.len > 0 {
            self.out[self.len] = SEPARATOR;
            self.len += 1;
        }
        self.len += packet.encode(&mut self.out[self.len..])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a copy of `s` and compares with `want` (no leak, for miri).
    fn check(s: &[u8], want: Result<Packet<'_>, Error>) {
        let mut copy = s.to_vec();
        assert_eq!(Packet::decode(&mut copy), want, "{s:?}");
    }

    fn enc(p: &Packet<'_>) -> std::vec::Vec<u8> {
        let mut out = std::vec![0u8; p.encoded_len()];
        assert_eq!(p.encode(&mut out), Ok(out.len()));
        out
    }

    extern crate std;

    #[test]
    fn protocol_vectors() {
        use Data::*;
        use Packet::*;
        let open = r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let mut o = std::vec![b'0'];
        o.extend_from_slice(open.as_bytes());
        check(&o, Ok(Open(open)));
        check(b"1", Ok(Close));
        check(b"2", Ok(Ping("")));
        check(b"2probe", Ok(Ping("probe")));
        check(b"3probe", Ok(Pong("probe")));
        check(b"4hello", Ok(Message(Text("hello"))));
        check(b"4", Ok(Message(Text(""))));
        check("4€".as_bytes(), Ok(Message(Text("€"))));
        check(b"5", Ok(Upgrade));
        check(b"6", Ok(Noop));
        check(b"6junk", Ok(Noop));
        check(b"bAQIDBA==", Ok(Message(Binary(&[1, 2, 3, 4]))));
        check(b"bAQIDBA", Ok(Message(Binary(&[1, 2, 3, 4]))));
        check(b"b", Ok(Message(Binary(&[]))));
        check(b"", Err(Error::InvalidPacket));
        check(b"7", Err(Error::InvalidPacket));
        check(b"x", Err(Error::InvalidPacket));
        check(b"4\xff", Err(Error::InvalidPacket));
        check(b"b!!!!", Err(Error::InvalidBase64));
        check(b"bAQ=IDBA", Err(Error::InvalidBase64));
        check(b"bA", Err(Error::InvalidBase64));
        assert_eq!(enc(&Message(Binary(&[1, 2, 3, 4]))), b"bAQIDBA==");
        assert_eq!(enc(&Ping("probe")), b"2probe");
        assert_eq!(enc(&Noop), b"6");
    }

    #[test]
    fn long_base64_crosses_chunks() {
        let data: std::vec::Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let p = Packet::Message(Data::Binary(&data));
        let mut e = enc(&p);
        assert_eq!(Packet::decode(&mut e), Ok(p));
        // Padding in the middle of a long text is refused.
        let mut e = enc(&p);
        e[70] = b'=';
        assert_eq!(Packet::decode(&mut e), Err(Error::InvalidBase64));
    }

    #[test]
    fn payload_vectors() {
        let mut body = *b"4hello\x1e4world";
        let v: std::vec::Vec<_> = Payload::new(&mut body).collect();
        assert_eq!(
            v,
            [
                Ok(Packet::Message(Data::Text("hello"))),
                Ok(Packet::Message(Data::Text("world")))
            ]
        );
        let mut body = *b"4a\x1e9\x1e4b";
        let v: std::vec::Vec<_> = Payload::new(&mut body).collect();
        assert_eq!(
            v,
            [
                Ok(Packet::Message(Data::Text("a"))),
                Err(Error::InvalidPacket)
            ]
        );
        let mut body = *b"";
        assert_eq!(
            Payload::new(&mut body).collect::<std::vec::Vec<_>>(),
            [Err(Error::InvalidPacket)]
        );
        let mut body = *b"4a\x1e";
        assert_eq!(
            Payload::new(&mut body).collect::<std::vec::Vec<_>>(),
            [
                Ok(Packet::Message(Data::Text("a"))),
                Err(Error::InvalidPacket)
            ]
        );
    }

    #[test]
    fn writer_refuses_without_change() {
        let mut out = [0u8; 8];
        let mut w = PayloadWriter::new(&mut out);
        w.push(&Packet::Message(Data::Text("abc"))).unwrap();
        assert_eq!(
            w.push(&Packet::Message(Data::Text("abc"))),
            Err(Error::BufferTooSmall { required: 9 })
        );
        assert_eq!(w.len(), 4);
        w.push(&Packet::Noop).unwrap();
        assert_eq!(&out[..6], b"4abc\x1e6");
    }
}
