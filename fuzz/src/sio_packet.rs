//! `sio_packet`: the Socket.IO v5 packet codec (`socketio::Packet`).
//!
//! Input: `mode` then, by `mode % 2`:
//! 0. `att:u8 nsp:u8 depth:u8 text...`: the limits (`max_attachments` `att %
//!    16`, or 10 when `att >= 128`; `max_namespace_len` `nsp`; `max_depth`
//!    `depth % 70`), then the text (the rest, as UTF-8 with invalid sequences
//!    replaced), decoded with those limits and with the defaults.
//!    - `decode` never panics and agrees with [`reference_decode`], a model
//!      written from the module docs and the protocol notes (socket.io-parser
//!      4.2 rules): same packet, or the same error, including the offset of a
//!      `JsonSyntax` error counted from the start of the text (the data starts
//!      where the header ends, whatever its spelling).
//!    - A decoded packet respects the limits (explicit namespace length,
//!      attachment count, data depth), a binary type has attachments and the
//!      others none, the data validates; `encoded_len` is what `encode` writes
//!      and nothing is written past it; the encoding decodes (same limits) to
//!      an equal packet (the canonical form may be spelled differently:
//!      `40/custom` gains its comma, leading zeros go) and encodes to the same
//!      bytes again; into a buffer one byte short, or empty, `encode` is
//!      `BufferTooSmall { required: encoded_len }` and leaves the buffer
//!      untouched.
//! 1. `count:u8` then up to 8 packets built from fields (see
//!    [`arb_packet`]): any type, a namespace valid or not (no `/`, a comma,
//!    long, non-ASCII), an ack id, an attachment count (0, 1..=12, huge), data
//!    of many shapes (none, objects, strings, arrays led by a string, a
//!    number, a reserved name, an escaped name, placeholders in range or
//!    not, deep nesting, invalid JSON). `encode` refuses exactly with
//!    `InvalidNamespace` (no leading `/`, or a `,`) and then
//!    `InvalidAttachments` (a binary type without attachments or another type
//!    with some); otherwise the text decodes (limits wide enough) exactly as
//!    [`reference_decode`] says, and when the data has the shape the type
//!    needs, to the same packet.

use sockwire::json::{self, Kind};
use sockwire::socketio::{Error, Limits, Packet, PacketType};

use crate::reader::R;

const SENTINEL: u8 = 0xa5;

/// The packet types, by digit.
pub const TYPES: [PacketType; 7] = [
    PacketType::Connect,
    PacketType::Disconnect,
    PacketType::Event,
    PacketType::Ack,
    PacketType::ConnectError,
    PacketType::BinaryEvent,
    PacketType::BinaryAck,
];

const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// A decoded packet, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedPacket {
    /// The type.
    pub kind: PacketType,
    /// The namespace.
    pub nsp: String,
    /// The ack id.
    pub ack_id: Option<u64>,
    /// The attachment count.
    pub attachments: usize,
    /// The raw JSON data.
    pub data: Option<String>,
}

impl OwnedPacket {
    /// The owned copy of `p`.
    pub fn of(p: &Packet<'_>) -> Self {
        OwnedPacket {
            kind: p.kind,
            nsp: p.nsp.to_owned(),
            ack_id: p.ack_id,
            attachments: p.attachments,
            data: p.data.map(str::to_owned),
        }
    }
}

/// True for an object `{"_placeholder":true,...}` (first `_placeholder` member,
/// as [`json::get`] finds it) whose `num` is not an integer below `count`,
/// anywhere in `v` (raw, validated JSON).
fn bad_placeholder(raw: &str, count: usize, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match json::kind(raw) {
        Some(Kind::Array) => json::elements(raw).any(|e| bad_placeholder(e, count, budget)),
        Some(Kind::Object) => {
            let members: Vec<(&str, &str)> = json::members(raw).collect();
            let first = |key: &str| {
                members
                    .iter()
                    .find(|(k, _)| unescape_owned(k) == key)
                    .map(|(_, v)| *v)
            };
            if first("_placeholder") == Some("true") {
                let num = first("num").and_then(|v| {
                    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| v.parse::<u64>().ok())
                        .flatten()
                        .filter(|_| v == "0" || !v.starts_with('0'))
                });
                if !num.is_some_and(|n| n < count as u64) {
                    return true;
                }
            }
            members
                .iter()
                .any(|(_, v)| bad_placeholder(v, count, budget))
        }
        _ => false,
    }
}

fn unescape_owned(raw: &str) -> String {
    let mut buf = vec![0u8; raw.len() * 3 + 4];
    json::unescape(raw, &mut buf).unwrap_or("\u{0}").to_owned()
}

/// The decoder as documented, written independently of `src/`.
pub fn reference_decode(text: &str, limits: &Limits) -> Result<OwnedPacket, Error> {
    let b = text.as_bytes();
    let kind = match b.first() {
        Some(d @ b'0'..=b'6') => TYPES[usize::from(d - b'0')],
        _ => return Err(Error::UnknownPacketType),
    };
    let mut i = 1;
    let mut attachments = 0usize;
    if kind.is_binary() {
        let digits: String = text[1..].chars().take_while(char::is_ascii_digit).collect();
        i += digits.len();
        if digits.is_empty() || b.get(i) != Some(&b'-') {
            return Err(Error::InvalidAttachments);
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() {
            return Err(Error::InvalidAttachments);
        }
        match trimmed.parse::<u128>() {
            Ok(n) if n <= limits.max_attachments as u128 => attachments = n as usize,
            _ => return Err(Error::TooManyAttachments),
        }
        i += 1;
    }
    let mut nsp = "/".to_owned();
    if b.get(i) == Some(&b'/') {
        let end = text[i..].find(',').map_or(text.len(), |k| i + k);
        nsp = text[i..end].to_owned();
        if nsp.len() > limits.max_namespace_len {
            return Err(Error::NamespaceTooLong);
        }
        i = (end + 1).min(text.len());
    }
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    let mut ack_id = None;
    if !digits.is_empty() {
        ack_id = Some(digits.parse::<u64>().map_err(|_| Error::InvalidAckId)?);
        i += digits.len();
    }
    let data = (i < text.len()).then(|| &text[i..]);
    let p = OwnedPacket {
        kind,
        nsp,
        ack_id,
        attachments,
        data: data.map(str::to_owned),
    };
    check_data(kind, attachments, data, limits, i)?;
    Ok(p)
}

/// The data rules, for data starting at byte `at` of the text.
pub fn check_data(
    kind: PacketType,
    attachments: usize,
    data: Option<&str>,
    limits: &Limits,
    at: usize,
) -> Result<(), Error> {
    let Some(data) = data else {
        return match kind {
            PacketType::Connect | PacketType::Disconnect | PacketType::ConnectError => Ok(()),
            _ => Err(Error::InvalidPayload),
        };
    };
    // (Empty data only comes from structured packets: it encodes as none.)
    let Some(&first) = data.as_bytes().first() else {
        return Err(Error::InvalidPayload);
    };
    if !matches!(
        first,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    ) {
        return Err(Error::InvalidPayload);
    }
    match json::validate(data, limits.max_depth) {
        Ok(()) => {}
        Err(json::Error::Syntax { offset }) => {
            return Err(Error::JsonSyntax {
                offset: at + offset,
            });
        }
        Err(json::Error::TooDeep) => return Err(Error::JsonTooDeep),
        Err(e) => panic!("validate: {e:?}"),
    }
    let k = json::kind(data);
    let ok = match kind {
        PacketType::Connect => k == Some(Kind::Object),
        PacketType::Disconnect => false,
        PacketType::ConnectError => matches!(k, Some(Kind::Object | Kind::String)),
        PacketType::Event | PacketType::BinaryEvent => {
            let first = json::elements(data).next();
            match first.map(|f| (json::kind(f), f)) {
                _ if k != Some(Kind::Array) => false,
                Some((Some(Kind::Number), _)) => true,
                Some((Some(Kind::String), name)) => {
                    if RESERVED.contains(&unescape_owned(name).as_str()) {
                        return Err(Error::ReservedEventName);
                    }
                    true
                }
                _ => false,
            }
        }
        PacketType::Ack | PacketType::BinaryAck => k == Some(Kind::Array),
    };
    if !ok {
        return Err(Error::InvalidPayload);
    }
    if kind.is_binary() && bad_placeholder(data, attachments, &mut 4096) {
        return Err(Error::InvalidPlaceholder);
    }
    Ok(())
}

/// Decodes `text` and checks everything the module docs list for mode 0.
/// Returns the decoded packet, if any.
pub fn check_decode(text: &str, limits: &Limits) -> Result<OwnedPacket, Error> {
    let got = Packet::decode(text, limits);
    let want = reference_decode(text, limits);
    let got_owned = got.as_ref().map(OwnedPacket::of).map_err(|e| *e);
    assert_eq!(got_owned, want, "decode({text:?}) with {limits:?}");
    let p = match got {
        Ok(p) => p,
        Err(Error::JsonSyntax { offset }) => {
            assert!(offset <= text.len());
            return Err(Error::JsonSyntax { offset });
        }
        Err(e) => return Err(e),
    };
    // Limits.
    assert_eq!(p.kind.is_binary(), p.attachments > 0);
    assert!(p.attachments <= limits.max_attachments);
    assert!(p.nsp.starts_with('/'));
    if p.nsp != "/" {
        assert!(p.nsp.len() <= limits.max_namespace_len);
    }
    assert!(!p.nsp.contains(','));
    if let Some(d) = p.data {
        assert_eq!(json::validate(d, limits.max_depth), Ok(()));
        assert!(crate::json::depth_of(d) <= limits.max_depth.min(json::MAX_DEPTH));
    }
    check_encode(&p, limits);
    Ok(OwnedPacket::of(&p))
}

/// `p` encodes, and decodes back to itself.
fn check_encode(p: &Packet<'_>, limits: &Limits) {
    let len = p.encoded_len();
    let mut out = vec![SENTINEL; len + 4];
    let n = p.encode(&mut out).expect("a decoded packet encodes");
    assert_eq!(n, len, "encoded_len");
    assert!(
        out[n..].iter().all(|&b| b == SENTINEL),
        "encode wrote past n"
    );
    let text = std::str::from_utf8(&out[..n])
        .expect("encode wrote UTF-8")
        .to_owned();
    let back = Packet::decode(&text, limits);
    assert_eq!(back.as_ref(), Ok(p), "decode(encode(p)) from {text:?}");
    let mut again = vec![0u8; len];
    assert_eq!(back.unwrap().encode(&mut again), Ok(len));
    assert_eq!(again, text.as_bytes(), "the encoding is not a fixed point");
    for short in [len - 1, 0] {
        let mut buf = vec![SENTINEL; short];
        assert_eq!(
            p.encode(&mut buf),
            Err(Error::BufferTooSmall { required: len })
        );
        assert!(buf.iter().all(|&b| b == SENTINEL), "BufferTooSmall wrote");
    }
}

/// Namespaces for structured packets.
pub const NAMESPACES: [&str; 12] = [
    "/", "/admin", "/chat", "/a,b", "admin", "", "/ü", "/12", "//", "/x y", ",", "/{}",
];

/// A data choice for structured packets; `att` is the attachment count the
/// placeholders should be valid for.
pub fn arb_data(r: &mut R<'_>, att: usize) -> Option<String> {
    let c = r.u8();
    let ph = |n: u64| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
    let last = att.saturating_sub(1) as u64;
    Some(match c % 24 {
        0 => return None,
        1 => r#"{"token":"123"}"#.into(),
        2 => r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#.into(),
        3 => r#""refused""#.into(),
        4 => r#"{"message":"Not authorized"}"#.into(),
        5 => r#"["foo"]"#.into(),
        6 => r#"["msg","hi",{"n":1},[1,2],null,true]"#.into(),
        7 => "[1,2]".into(),
        8 => "[]".into(),
        9 => format!(r#"["{}"]"#, RESERVED[usize::from(r.u8()) % 6]),
        10 => r#"["\u0063onnect"]"#.into(),
        11 => r#"["a\"b",1]"#.into(),
        12 => format!(r#"["bin",{}]"#, ph(0)),
        13 => format!(r#"["bin",{},{}]"#, ph(last), ph(0)),
        14 => format!(r#"["bin",{}]"#, ph(att as u64)),
        15 => format!(r#"[{}]"#, ph(last)),
        16 => format!(
            r#"["deep",{}{}]"#,
            "[".repeat(usize::from(r.u8() % 70)),
            "]".repeat(usize::from(r.u8() % 70))
        ),
        17 => r#"{"_placeholder":true,"num":0.5}"#.into(),
        18 => "[".into(),
        19 => " [\"a\"]".into(),
        20 => "12".into(),
        21 => format!(
            "[\"{}\"]",
            String::from_utf8_lossy(r.short_bytes()).replace(['"', '\\'], "")
        ),
        22 => String::from_utf8_lossy(r.short_bytes()).into_owned(),
        _ => format!(r#"["x",{{"a":{}}}]"#, ph(u64::from(r.u8()))),
    })
}

/// A packet from fields: `kind ns ack att data` (see the module docs).
pub fn arb_packet(r: &mut R<'_>) -> OwnedPacket {
    let k = r.u8();
    let kind = TYPES[usize::from(k % 7)];
    let ns = r.u8();
    let nsp = match ns {
        0..=199 => NAMESPACES[usize::from(ns) % NAMESPACES.len()].to_owned(),
        200..=249 => format!("/{}", String::from_utf8_lossy(r.short_bytes())),
        _ => format!("/{}", "n".repeat(usize::from(r.u8()))),
    };
    let a = r.u8();
    let ack_id = match a % 4 {
        0 => None,
        1 => Some(u64::from(a >> 2)),
        2 => Some(u64::MAX),
        _ => Some(r.u64()),
    };
    let t = r.u8();
    let binary_ok = k & 0x80 == 0;
    let attachments = match t % 8 {
        0 => 0,
        1..=5 => usize::from(t >> 3) % 12 + 1,
        6 => usize::MAX,
        _ => usize::from(t),
    };
    // Mostly consistent with the type, so most packets get past the encoder.
    let attachments = if binary_ok {
        if kind.is_binary() {
            attachments.max(1)
        } else {
            0
        }
    } else {
        attachments
    };
    let data = arb_data(r, attachments);
    OwnedPacket {
        kind,
        nsp,
        ack_id,
        attachments,
        data,
    }
}

fn data_fits(p: &OwnedPacket) -> bool {
    let limits = Limits {
        max_attachments: usize::MAX,
        max_namespace_len: usize::MAX,
        max_depth: json::MAX_DEPTH,
    };
    check_data(p.kind, p.attachments, p.data.as_deref(), &limits, 0).is_ok()
}

fn header(p: &OwnedPacket) -> String {
    let mut s = String::new();
    s.push(char::from(p.kind.digit()));
    if p.kind.is_binary() {
        s += &format!("{}-", p.attachments);
    }
    if p.nsp != "/" {
        s += &p.nsp;
        s.push(',');
    }
    if let Some(id) = p.ack_id {
        s += &id.to_string();
    }
    s
}

fn structured(r: &mut R<'_>) {
    let count = r.u8() % 8 + 1;
    for _ in 0..count {
        let owned = arb_packet(r);
        let p = Packet {
            kind: owned.kind,
            nsp: &owned.nsp,
            ack_id: owned.ack_id,
            attachments: owned.attachments,
            data: owned.data.as_deref(),
        };
        let bad_nsp = !owned.nsp.starts_with('/') || owned.nsp.contains(',');
        let bad_att = owned.kind.is_binary() != (owned.attachments > 0);
        let len = p.encoded_len();
        let mut out = vec![SENTINEL; len.min(1 << 16) + 2];
        let res = p.encode(&mut out);
        if bad_nsp {
            assert_eq!(res, Err(Error::InvalidNamespace), "{owned:?}");
            continue;
        }
        if bad_att {
            assert_eq!(res, Err(Error::InvalidAttachments), "{owned:?}");
            continue;
        }
        let n = res.unwrap_or_else(|e| panic!("encode {owned:?}: {e:?}"));
        assert_eq!(n, len);
        let text = std::str::from_utf8(&out[..n]).unwrap().to_owned();
        assert_eq!(text, header(&owned) + owned.data.as_deref().unwrap_or(""));
        let limits = Limits {
            max_attachments: owned.attachments.max(10),
            max_namespace_len: owned.nsp.len().max(1),
            max_depth: json::MAX_DEPTH,
        };
        let got = check_decode(&text, &limits);
        if data_fits(&owned) {
            assert_eq!(got, Ok(owned.clone()), "round trip of {text:?}");
        } else {
            // It may decode as another packet (digits read as an ack id),
            // never as this one.
            assert_ne!(
                got,
                Ok(owned.clone()),
                "{text:?} decoded although its data does not fit"
            );
        }
    }
}

/// The `sio_packet` target.
pub fn sio_packet(data: &[u8]) {
    let mut r = R::new(data);
    match r.u8() % 2 {
        0 => {
            let att = r.u8();
            let limits = Limits {
                max_attachments: if att >= 128 {
                    10
                } else {
                    usize::from(att % 16)
                },
                max_namespace_len: usize::from(r.u8()),
                max_depth: usize::from(r.u8() % 70),
            };
            let text = String::from_utf8_lossy(r.rest()).into_owned();
            let _ = check_decode(&text, &limits);
            let _ = check_decode(&text, &Limits::DEFAULT);
        }
        _ => structured(&mut r),
    }
}
