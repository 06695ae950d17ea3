//! Socket.IO v5 packets.
//!
//! A packet is one Engine.IO text message:
//!
//! ```text
//! <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//! ```
//!
//! `type` is one digit (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK,
//! 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK). Binary packets announce how
//! many attachments follow, each as its own Engine.IO binary message, and the
//! data holds a placeholder `{"_placeholder":true,"num":N}` where each one
//! goes. The namespace is omitted when it is `/`. Examples: `40`,
//! `40/admin,{"token":"123"}`, `42["foo"]`, `212["foo"]` (ack id 12),
//! `3/admin,13["bar"]`, `451-["baz",{"_placeholder":true,"num":0}]`.
//!
//! Decoding follows the reference parser (socket.io-parser 4.2): the namespace
//! ends at `,` or at the end of the text (`40/custom` is accepted), the ack id
//! is a run of digits, and the data must have the shape its type requires.
//! Where the reference is lenient by accident, sockwire is strict and says so:
//! an EVENT or ACK without data, whitespace before the data, an ack id that
//! does not fit in a `u64`, and a binary packet with zero attachments are
//! errors.

use super::Error;
use crate::json::{self, Kind};

/// The packet types of Socket.IO v5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client), or the acceptance (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: the answer to an event that asked for one.
    Ack = 3,
    /// `4`: the server refuses a CONNECT.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type of an ASCII digit.
    pub const fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The ASCII digit.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// True for the types that carry attachments.
    pub const fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Event names the reference implementation reserves for itself; an EVENT
/// named so is refused.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Bounds the decoder enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Most attachments a binary packet may announce. Default 10 (the
    /// reference parser's `maxAttachments`).
    pub max_attachments: usize,
    /// Longest namespace, in bytes, `/` included. Default 128.
    pub max_namespace_len: usize,
    /// Deepest JSON nesting of the data. Default 32, at most
    /// [`json::MAX_DEPTH`].
    pub max_depth: usize,
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_attachments: 10,
        max_namespace_len: 128,
        max_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One Socket.IO packet, borrowing the text it was decoded from. `data` is raw
/// JSON (validated by the decoder); navigate it with [`json`].
///
/// ```
/// use sockwire::socketio::{Limits, Packet, PacketType};
/// let p = Packet::decode(r#"2/chat,7["msg","hi"]"#, &Limits::default()).unwrap();
/// assert_eq!((p.kind, p.nsp, p.ack_id), (PacketType::Event, "/chat", Some(7)));
/// assert_eq!(p.event_name(), Some("msg"));
/// assert_eq!(p.args().collect::<Vec<_>>(), [r#""hi""#]);
/// let mut out = [0u8; 32];
/// let n = p.encode(&mut out).unwrap();
/// assert_eq!(&out[..n], br#"2/chat,7["msg","hi"]"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Packet<'a> {
    /// The type.
    pub kind: PacketType,
    /// The namespace, `/` when the packet names none.
    pub nsp: &'a str,
    /// The acknowledgement id, if the sender wants an answer (EVENT) or this is
    /// one (ACK).
    pub ack_id: Option<u64>,
    /// How many binary attachments follow (binary types only).
    pub attachments: usize,
    /// The data as raw JSON, if any.
    pub data: Option<&'a str>,
}

impl<'a> Packet<'a> {
    /// A packet with no ack id and no attachments.
    pub const fn new(kind: PacketType, nsp: &'a str, data: Option<&'a str>) -> Self {
        Packet {
            kind,
            nsp,
            ack_id: None,
            attachments: 0,
            data,
        }
    }

    /// Decodes a packet from an Engine.IO text message.
    ///
    /// Errors (each one closes the connection in the reference server):
    /// [`Error::UnknownPacketType`], [`Error::InvalidAttachments`],
    /// [`Error::TooManyAttachments`], [`Error::NamespaceTooLong`],
    /// [`Error::InvalidAckId`], [`Error::InvalidPayload`],
    /// [`Error::ReservedEventName`], [`Error::InvalidPlaceholder`],
    /// [`Error::JsonSyntax`], [`Error::JsonTooDeep`].
    pub fn decode(text: &'a str, limits: &Limits) -> Result<Self, Error> {
        let p = Self::decode_header(text, limits)?;
        // The data is the text's tail: its offset, however the header was
        // spelled.
        p.check_data(limits, text.len() - p.data.map_or(0, str::len))?;
        Ok(p)
    }

    /// The header only (type, attachments, namespace, ack id); `data` is the
    /// rest, unchecked.
    pub(crate) fn decode_header(text: &'a str, limits: &Limits) -> Result<Self, Error> {
        let b = text.as_bytes();
        let kind = b
            .first()
            .and_then(|&d| PacketType::from_digit(d))
            .ok_or(Error::UnknownPacketType)?;
        let mut i = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || b.get(i) != Some(&b'-') {
                return Err(Error::InvalidAttachments);
            }
            // Leading zeros are fine; anything with more digits than the
            // limit can have is too many, however it would parse.
            let digits = text[start..i].trim_start_matches('0');
            attachments = match digits.parse::<usize>() {
                Ok(n) if digits.len() <= 20 => n,
                _ if digits.is_empty() => 0,
                _ => return Err(Error::TooManyAttachments),
            };
            if attachments == 0 {
                return Err(Error::InvalidAttachments);
            }
            if attachments > limits.max_attachments {
                return Err(Error::TooManyAttachments);
            }
            i += 1;
        }
        let mut nsp = "/";
        if b.get(i) == Some(&b'/') {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            nsp = &text[start..i];
            if nsp.len() > limits.max_namespace_len {
                return Err(Error::NamespaceTooLong);
            }
            if i < b.len() {
                i += 1; // the ','
            }
        }
        let mut ack_id = None;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i > start {
            ack_id = Some(
                text[start..i]
                    .parse::<u64>()
                    .map_err(|_| Error::InvalidAckId)?,
            );
        }
        let data = (i < b.len()).then(|| &text[i..]);
        Ok(Packet {
            kind,
            nsp,
            ack_id,
            attachments,
            data,
        })
    }

    /// Checks the data's syntax and its shape for the packet type; the data
    /// starts at `data_offset` in the packet's text.
    fn check_data(&self, limits: &Limits, data_offset: usize) -> Result<(), Error> {
        let Some(data) = self.data else {
            return match self.kind {
                PacketType::Connect | PacketType::Disconnect | PacketType::ConnectError => Ok(()),
                _ => Err(Error::InvalidPayload),
            };
        };
        // The data follows the header directly.
        if json::kind(data).is_none() || data.starts_with([' ', '\t', '\n', '\r']) {
            return Err(Error::InvalidPayload);
        }
        json::validate(data, limits.max_depth).map_err(|e| match e {
            json::Error::Syntax { offset } => Error::JsonSyntax {
                offset: offset + data_offset,
            },
            e => Error::from(e),
        })?;
        let kind = json::kind(data);
        let shape_ok = match self.kind {
            PacketType::Connect => kind == Some(Kind::Object),
            PacketType::Disconnect => false,
            PacketType::ConnectError => matches!(kind, Some(Kind::Object | Kind::String)),
            PacketType::Event | PacketType::BinaryEvent => {
                match json::elements(data)
                    .next()
                    .map(|first| (json::kind(first), first))
                {
                    _ if kind != Some(Kind::Array) => false,
                    Some((Some(Kind::Number), _)) => true,
                    Some((Some(Kind::String), name)) => {
                        if RESERVED_EVENTS.iter().any(|r| json::str_eq(name, r)) {
                            return Err(Error::ReservedEventName);
                        }
                        true
                    }
                    _ => false,
                }
            }
            PacketType::Ack | PacketType::BinaryAck => kind == Some(Kind::Array),
        };
        if !shape_ok {
            return Err(Error::InvalidPayload);
        }
        if self.kind.is_binary() {
            check_placeholders(data, self.attachments)?;
        }
        Ok(())
    }

    /// The length of the header: everything before the data.
    fn header_len(&self) -> usize {
        1 + if self.kind.is_binary() {
            decimal_len(self.attachments as u64) + 1
        } else {
            0
        } + if self.nsp != "/" {
            self.nsp.len() + 1
        } else {
            0
        } + self.ack_id.map_or(0, decimal_len)
    }

    /// The length of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        self.header_len() + self.data.map_or(0, str::len)
    }

    /// Writes the packet into `out`; returns the length.
    ///
    /// The packet must decode back to itself: [`Error::InvalidNamespace`] for a
    /// namespace that does not start with `/` or contains `,`;
    /// [`Error::InvalidAttachments`] for an attachment count that does not fit
    /// the type. The data is written as given (it is the caller's JSON).
    /// [`Error::BufferTooSmall`] leaves `out` untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        if !self.nsp.starts_with('/') || self.nsp.contains(',') {
            return Err(Error::InvalidNamespace);
        }
        if self.kind.is_binary() != (self.attachments > 0) {
            return Err(Error::InvalidAttachments);
        }
        let len = self.encoded_len();
        if out.len() < len {
            return Err(Error::BufferTooSmall { required: len });
        }
        out[0] = self.kind.digit();
        let mut n = 1;
        if self.kind.is_binary() {
            n += write_decimal(self.attachments as u64, &mut out[n..]);
            out[n] = b'-';
            n += 1;
        }
        if self.nsp != "/" {
            out[n..n + self.nsp.len()].copy_from_slice(self.nsp.as_bytes());
            n += self.nsp.len();
            out[n] = b',';
            n += 1;
        }
        if let Some(id) = self.ack_id {
            n += write_decimal(id, &mut out[n..]);
        }
        if let Some(d) = self.data {
            out[n..n + d.len()].copy_from_slice(d.as_bytes());
            n += d.len();
        }
        Ok(n)
    }

    /// The event name, for an EVENT whose first element is a string without
    /// escapes (the usual case); `None` otherwise (use [`json`] on `data`).
    pub fn event_name(&self) -> Option<&'a str> {
        if !matches!(self.kind, PacketType::Event | PacketType::BinaryEvent) {
            return None;
        }
        let first = json::elements(self.data?).next()?;
        let inner = first.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains('\\')).then_some(inner)
    }

    /// The arguments as raw JSON: an EVENT's elements after its name, an ACK's
    /// elements. Empty for other types.
    pub fn args(&self) -> json::Elements<'a> {
        let data = match self.kind {
            PacketType::Event
            | PacketType::BinaryEvent
            | PacketType::Ack
            | PacketType::BinaryAck => self.data.unwrap_or(""),
            _ => "",
        };
        let mut it = json::elements(data);
        if matches!(self.kind, PacketType::Event | PacketType::BinaryEvent) {
            let _ = it.next();
        }
        it
    }
}

/// Every placeholder object in `data` must have an integer `num` below
/// `count`. Scans each object once per enclosing object (bounded by the depth
/// limit), without recursion.
fn check_placeholders(data: &str, count: usize) -> Result<(), Error> {
    let b = data.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' => {
                let obj = &data[i..];
                // The form every client writes, read without a key search.
                if let Some(n) = canonical_placeholder(obj) {
                    if n < count as u64 {
                        continue;
                    }
                    return Err(Error::InvalidPlaceholder);
                }
                if json::get(obj, "_placeholder") == Some("true") {
                    match json::get(obj, "num").and_then(json::as_u64) {
                        Some(n) if n < count as u64 => {}
                        _ => return Err(Error::InvalidPlaceholder),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `num` of a placeholder spelled exactly `{"_placeholder":true,"num":N}`
/// (N a plain decimal integer), or `None` for anything else, which the
/// general check then reads.
fn canonical_placeholder(obj: &str) -> Option<u64> {
    let rest = obj.strip_prefix(r#"{"_placeholder":true,"num":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=19).contains(&digits) || rest.as_bytes().get(digits) != Some(&b'}') {
        return None;
    }
    if digits > 1 && rest.starts_with('0') {
        return None;
    }
    rest[..digits].parse().ok()
}

fn decimal_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Writes `v` in decimal; `out` has room for [`decimal_len`] bytes.
fn write_decimal(v: u64, out: &mut [u8]) -> usize {
    let n = decimal_len(v);
    let mut x = v;
    for k in (0..n).rev() {
        out[k] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketType::*;

    /// Decodes a packet as it appears on the wire: after the Engine.IO
    /// message type `4`.
    fn dec(wire: &str) -> Result<Packet<'_>, Error> {
        let text = wire.strip_prefix('4').expect("an Engine.IO message");
        Packet::decode(text, &Limits::default())
    }

    fn p<'a>(
        kind: PacketType,
        nsp: &'a str,
        ack: Option<u64>,
        att: usize,
        data: Option<&'a str>,
    ) -> Packet<'a> {
        Packet {
            kind,
            nsp,
            ack_id: ack,
            attachments: att,
            data,
        }
    }

    #[test]
    fn protocol_vectors() {
        // As they appear on the wire, after the Engine.IO message type `4`.
        let placeholder0 = r#"{"_placeholder":true,"num":0}"#;
        let baz = std::format!(r#"["baz",{placeholder0}]"#);
        let bar = std::format!(r#"["bar",{placeholder0}]"#);
        let two = r#"[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#;
        let cases = [
            (
                std::string::String::from("40"),
                p(Connect, "/", None, 0, None),
            ),
            (
                r#"40/admin,{"token":"123"}"#.into(),
                p(Connect, "/admin", None, 0, Some(r#"{"token":"123"}"#)),
            ),
            (
                r#"40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#.into(),
                p(
                    Connect,
                    "/admin",
                    None,
                    0,
                    Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
                ),
            ),
            ("41/admin,".into(), p(Disconnect, "/admin", None, 0, None)),
            ("41".into(), p(Disconnect, "/", None, 0, None)),
            (
                r#"42["foo"]"#.into(),
                p(Event, "/", None, 0, Some(r#"["foo"]"#)),
            ),
            (
                r#"4212["foo"]"#.into(),
                p(Event, "/", Some(12), 0, Some(r#"["foo"]"#)),
            ),
            (
                r#"43/admin,13["bar"]"#.into(),
                p(Ack, "/admin", Some(13), 0, Some(r#"["bar"]"#)),
            ),
            (
                std::format!("451-{baz}"),
                p(BinaryEvent, "/", None, 1, Some(&baz)),
            ),
            (
                std::format!("461-15{bar}"),
                p(BinaryAck, "/", Some(15), 1, Some(&bar)),
            ),
            (
                std::format!("462-/x,1{two}"),
                p(BinaryAck, "/x", Some(1), 2, Some(two)),
            ),
            (
                r#"44{"message":"Not authorized"}"#.into(),
                p(
                    ConnectError,
                    "/",
                    None,
                    0,
                    Some(r#"{"message":"Not authorized"}"#),
                ),
            ),
            (
                r#"44/random,{"message":"Invalid namespace"}"#.into(),
                p(
                    ConnectError,
                    "/random",
                    None,
                    0,
                    Some(r#"{"message":"Invalid namespace"}"#),
                ),
            ),
            (
                r#"44"refused""#.into(),
                p(ConnectError, "/", None, 0, Some(r#""refused""#)),
            ),
            ("40/custom".into(), p(Connect, "/custom", None, 0, None)),
            (r#"42[1,2]"#.into(), p(Event, "/", None, 0, Some("[1,2]"))),
            (r#"43456[]"#.into(), p(Ack, "/", Some(456), 0, Some("[]"))),
        ];
        for (wire, want) in &cases {
            assert_eq!(dec(wire).as_ref(), Ok(want), "{wire}");
            // Re-encoding gives the canonical text back.
            let mut out = [0u8; 128];
            let n = want.encode(&mut out).unwrap();
            assert_eq!(n, want.encoded_len());
            let canonical = if wire == "40/custom" {
                "40/custom,"
            } else {
                wire
            };
            assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), &canonical[1..]);
        }
    }

    #[test]
    fn refusals() {
        let long_nsp = alloc_string("/", 200);
        let cases: &[(&str, Error)] = &[
            ("4", Error::UnknownPacketType),
            ("47", Error::UnknownPacketType),
            ("4abc", Error::UnknownPacketType),
            ("42{}", Error::InvalidPayload),
            (r#"42abc["message-with-ack",1]"#, Error::InvalidPayload),
            ("42", Error::InvalidPayload),
            ("42[]", Error::InvalidPayload),
            (r#"42[{}]"#, Error::InvalidPayload),
            (r#"42 ["a"]"#, Error::InvalidPayload),
            (r#"42["connect"]"#, Error::ReservedEventName),
            (r#"42["disconnecting"]"#, Error::ReservedEventName),
            (r#"42["\u0063onnect"]"#, Error::ReservedEventName),
            (r#"41{}"#, Error::InvalidPayload),
            (r#"40[]"#, Error::InvalidPayload),
            (r#"40"x""#, Error::InvalidPayload),
            (r#"43{}"#, Error::InvalidPayload),
            ("43", Error::InvalidPayload),
            (r#"44[]"#, Error::InvalidPayload),
            (r#"45["a"]"#, Error::InvalidAttachments),
            (r#"45-["a"]"#, Error::InvalidAttachments),
            (r#"450-["a"]"#, Error::InvalidAttachments),
            (r#"45x-["a"]"#, Error::InvalidAttachments),
            (r#"4511-["a"]"#, Error::TooManyAttachments),
            (r#"451000000000-["a"]"#, Error::TooManyAttachments),
            (
                r#"4599999999999999999999999999-["a"]"#,
                Error::TooManyAttachments,
            ),
            (
                r#"451-["a",{"_placeholder":true,"num":1}]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"451-["a",{"_placeholder":true,"num":-1}]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"451-["a",{"_placeholder":true,"num":"0"}]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"451-["a",{"_placeholder":true}]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"451-["a",[{"x":{"_placeholder":true,"num":0.5}}]]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"452-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":2}]"#,
                Error::InvalidPlaceholder,
            ),
            (
                r#"451-["a",{"_placeholder":true,"num":99999999999999999999}]"#,
                Error::InvalidPlaceholder,
            ),
            (r#"4218446744073709551616["a"]"#, Error::InvalidAckId),
            (
                r#"4299999999999999999999999999999["a"]"#,
                Error::InvalidAckId,
            ),
            (r#"42["a",]"#, Error::JsonSyntax { offset: 6 }),
            (r#"42/x,["a""#, Error::JsonSyntax { offset: 8 }),
            // Offsets count from where the data starts, however the header
            // is spelled.
            (r#"42007[1,]"#, Error::JsonSyntax { offset: 7 }),
            (r#"42/,[1,]"#, Error::JsonSyntax { offset: 6 }),
        ];
        for &(wire, want) in cases {
            assert_eq!(dec(wire), Err(want), "{wire}");
        }
        // Placeholders spelled otherwise than the usual form are read too.
        for wire in [
            r#"451-["a",{"num":0,"_placeholder":true}]"#,
            r#"451-["a",{ "_placeholder" : true , "num" : 0 }]"#,
            r#"451-["a",{"_placeholder":true,"num":0,"x":1}]"#,
        ] {
            assert!(dec(wire).is_ok(), "{wire}");
        }
        let wire = std::format!("40{long_nsp},");
        assert_eq!(dec(&wire), Err(Error::NamespaceTooLong));
        let deep = std::format!("42[\"a\",{}{}]", "[".repeat(40), "]".repeat(40));
        assert_eq!(dec(&deep), Err(Error::JsonTooDeep));
        // A placeholder-looking string is not a placeholder.
        assert!(
            dec(r#"451-["a","{\"_placeholder\":true,\"num\":9}",{"_placeholder":true,"num":0}]"#)
                .is_ok()
        );
        assert_eq!(
            dec(r#"4218446744073709551615["a"]"#).unwrap().ack_id,
            Some(u64::MAX)
        );
    }

    extern crate std;

    fn alloc_string(start: &str, len: usize) -> std::string::String {
        let mut s = std::string::String::from(start);
        while s.len() < len {
            s.push('n');
        }
        s
    }

    #[test]
    fn encoder_refuses_what_would_not_decode_back() {
        let mut out = [0u8; 64];
        assert_eq!(
            Packet::new(Event, "admin", Some("[1]")).encode(&mut out),
            Err(Error::InvalidNamespace)
        );
        assert_eq!(
            Packet::new(Event, "/a,b", Some("[1]")).encode(&mut out),
            Err(Error::InvalidNamespace)
        );
        assert_eq!(
            Packet::new(BinaryEvent, "/", Some("[1]")).encode(&mut out),
            Err(Error::InvalidAttachments)
        );
        let mut small = [0u8; 4];
        assert_eq!(
            Packet::new(Event, "/", Some(r#"["hello"]"#)).encode(&mut small),
            Err(Error::BufferTooSmall { required: 10 })
        );
        assert_eq!(small, [0; 4]);
    }

    #[test]
    fn names_and_args() {
        let pk = dec(r#"42["a\"b",1]"#).unwrap();
        assert_eq!(pk.event_name(), None, "escaped names need json::unescape");
        let pk = dec(r#"42[42,"x"]"#).unwrap();
        assert_eq!(pk.event_name(), None);
        assert_eq!(pk.args().collect::<std::vec::Vec<_>>(), [r#""x""#]);
        let pk = dec(r#"431[1,{"a":2}]"#).unwrap();
        assert_eq!(pk.args().collect::<std::vec::Vec<_>>(), ["1", r#"{"a":2}"#]);
        assert_eq!(dec("40").unwrap().args().count(), 0);
    }
}
