//! The frame header codec (RFC 6455 section 5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Decoding enforces what the header alone can tell: known opcodes, control
//! frames that are final and at most 125 bytes, lengths in their shortest
//! encoding with the top bit of a 64-bit length clear. The length stays a `u64`
//! everywhere, so a 32-bit target never truncates it. Rules that depend on the
//! connection (masking by role, reserved bits without extensions, continuation
//! sequencing, size limits) are checked by [`Connection`](super::Connection).

use super::Error;

/// The largest frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a later frame of a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: the closing handshake.
    Close = 0x8,
    /// 0x9: a ping, answered by a pong with the same payload.
    Ping = 0x9,
    /// 0xA: a pong.
    Pong = 0xa,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the reserved values.
    pub const fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            _ => return None,
        })
    }

    /// True for close, ping and pong.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// The three reserved bits, RSV1 as 0b100.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on frames sent by clients.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

impl FrameHeader {
    /// The header length announced by its first two bytes.
    pub const fn len_from_prefix(b0: u8, b1: u8) -> usize {
        let _ = b0;
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
    }

    /// Checks what the first two bytes alone can tell: the opcode is known and a
    /// control frame is final with a short payload.
    pub fn check_prefix(b0: u8, b1: u8) -> Result<OpCode, Error> {
        let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(Error::ReservedOpcode)?;
        if opcode.is_control() && (b0 & 0x80 == 0 || (b1 & 0x7f) as usize > MAX_CONTROL_PAYLOAD) {
            return Err(Error::InvalidControlFrame);
        }
        Ok(opcode)
    }

    /// Decodes a header from the start of `buf`. `Ok(None)` means more bytes are
    /// needed; otherwise returns the header and its encoded length.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, Error> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let opcode = Self::check_prefix(b0, b1)?;
        let hlen = Self::len_from_prefix(b0, b1);
        if buf.len() < hlen {
            return Ok(None);
        }
        let (len, key_at) = match b1 & 0x7f {
            126 => {
                let len = u16::from_be_bytes([buf[2], buf[3]]);
                if len < 126 {
                    return Err(Error::NonMinimalLength);
                }
                (u64::from(len), 4)
            }
            127 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(Error::InvalidLength);
                }
                if len <= 0xffff {
                    return Err(Error::NonMinimalLength);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = (b1 & 0x80 != 0).then(|| {
            [
                buf[key_at],
                buf[key_at + 1],
                buf[key_at + 2],
                buf[key_at + 3],
            ]
        });
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode,
            mask,
            len,
        };
        Ok(Some((header, hlen)))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.len < 126 {
            0
        } else if self.len <= 0xffff {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header, with the length in its shortest form, into the start of
    /// `out`. A buffer that is too small is left untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let n = self.encoded_len();
        if out.len() < n {
            return Err(Error::BufferTooSmall { required: n });
        }
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut i = 2;
        if self.len < 126 {
            out[1] = mask_bit | self.len as u8;
        } else if self.len <= 0xffff {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
            i = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.len.to_be_bytes());
            i = 10;
        }
        if let Some(key) = self.mask {
            out[i..i + 4].copy_from_slice(&key);
        }
        Ok(n)
    }
}

/// The longest header of an unmasked frame: 2 bytes and a 64-bit length.
pub(crate) const MAX_UNMASKED_HEADER_LEN: usize = 10;

/// The encoded header of a final, unmasked data frame, as a server sends it:
/// FIN, the opcode of `kind`, no reserved bits, the length in its shortest
/// form. Built once, it heads the same payload on any number of connections
/// (a broadcast), since nothing in it depends on the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerFrameHead {
    bytes: [u8; MAX_UNMASKED_HEADER_LEN],
    len: u8,
}

impl ServerFrameHead {
    /// The header of a whole `kind` message of `len` payload bytes, or `None`
    /// for a length a frame cannot carry (2^63 or more).
    pub(crate) fn new(kind: super::MessageKind, len: u64) -> Option<Self> {
        if len >> 63 != 0 {
            return None;
        }
        let opcode = match kind {
            super::MessageKind::Text => OpCode::Text,
            super::MessageKind::Binary => OpCode::Binary,
        };
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len,
        };
        let mut bytes = [0u8; MAX_UNMASKED_HEADER_LEN];
        // An unmasked header is at most 10 bytes: it fits.
        let n = h.encode(&mut bytes).ok()?;
        Some(ServerFrameHead {
            bytes,
            len: n as u8,
        })
    }

    /// The header bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            len,
        }
    }

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    // RFC 6455 section 5.7, header part of each example (payload checked in the
    // connection tests).
    #[test]
    fn rfc_5_7_headers() {
        let cases: &[(&[u8], FrameHeader)] = &[
            (&[0x81, 0x05], hdr(true, OpCode::Text, None, 5)),
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                hdr(true, OpCode::Text, Some(KEY), 5),
            ),
            (&[0x01, 0x03], hdr(false, OpCode::Text, None, 3)),
            (&[0x80, 0x02], hdr(true, OpCode::Continuation, None, 2)),
            (&[0x89, 0x05], hdr(true, OpCode::Ping, None, 5)),
            (
                &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                hdr(true, OpCode::Pong, Some(KEY), 5),
            ),
            (
                &[0x82, 0x7e, 0x01, 0x00],
                hdr(true, OpCode::Binary, None, 256),
            ),
            (
                &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
                hdr(true, OpCode::Binary, None, 65536),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                FrameHeader::decode(bytes),
                Ok(Some((*want, bytes.len()))),
                "{bytes:02x?}"
            );
            let mut out = [0u8; MAX_HEADER_LEN];
            assert_eq!(want.encode(&mut out), Ok(bytes.len()));
            assert_eq!(&out[..bytes.len()], *bytes);
            for cut in 0..bytes.len() {
                assert_eq!(FrameHeader::decode(&bytes[..cut]), Ok(None));
            }
        }
    }

    #[test]
    fn header_violations() {
        assert_eq!(
            FrameHeader::decode(&[0x83, 0x00]),
            Err(Error::ReservedOpcode)
        );
        assert_eq!(
            FrameHeader::decode(&[0x8b, 0x00]),
            Err(Error::ReservedOpcode)
        );
        assert_eq!(
            FrameHeader::decode(&[0x09, 0x00]),
            Err(Error::InvalidControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7e]),
            Err(Error::InvalidControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7e, 0x00, 0x7d]),
            Err(Error::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            Err(Error::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::InvalidLength)
        );
        // 2^63 - 1 is representable and decodes without truncation.
        let max = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            FrameHeader::decode(&max).unwrap().unwrap().0.len,
            u64::MAX >> 1
        );
    }

    #[test]
    fn encode_refuses_small_buffer() {
        let mut out = [0xaa; 3];
        let h = hdr(true, OpCode::Binary, Some(KEY), 1000);
        assert_eq!(
            h.encode(&mut out),
            Err(Error::BufferTooSmall { required: 8 })
        );
        assert_eq!(out, [0xaa; 3]);
    }

    #[test]
    fn server_frame_head_matches_the_codec() {
        use super::super::MessageKind;
        for (kind, len, want) in [
            (MessageKind::Text, 0u64, &[0x81u8, 0x00][..]),
            (MessageKind::Text, 125, &[0x81, 0x7d]),
            (MessageKind::Binary, 126, &[0x82, 0x7e, 0x00, 0x7e]),
            (MessageKind::Binary, 0xffff, &[0x82, 0x7e, 0xff, 0xff]),
            (
                MessageKind::Text,
                0x1_0000,
                &[0x81, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
            ),
        ] {
            let h = ServerFrameHead::new(kind, len).unwrap();
            assert_eq!(h.as_bytes(), want, "{kind:?} {len}");
            let (decoded, n) = FrameHeader::decode(h.as_bytes()).unwrap().unwrap();
            assert_eq!(
                (decoded.len, decoded.mask, decoded.fin, n),
                (len, None, true, want.len())
            );
        }
        assert_eq!(ServerFrameHead::new(MessageKind::Binary, 1 << 63), None);
    }
}
