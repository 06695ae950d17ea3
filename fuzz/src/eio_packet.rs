//! `eio_packet`: the Engine.IO v4 packet and polling-payload codec.
//!
//! Input: `mode` then, by `mode % 2`:
//! 0. `bytes...`: arbitrary bytes, taken as one packet and as a polling body.
//!    - `Packet::decode` (on a copy) never panics and agrees with a reference
//!      model written from the protocol: empty or an unknown type byte is
//!      `InvalidPacket`; `b` is standard base64 with optional padding
//!      (strict alphabet, no padding inside, no stray trailing bits, checked
//!      against the `base64` crate decoding the whole text at once) or
//!      `InvalidBase64`; otherwise the bytes must be UTF-8 (`InvalidPacket`),
//!      the data after `0`, `2`, `3`, `4` is the rest of the text and the data
//!      after `1`, `5`, `6` is ignored. `decode_text` agrees on text (and
//!      refuses `b`). Text data borrows `bytes[1..]`; binary data is decoded in
//!      place at `bytes[1..]`.
//!    - A decoded packet: `encoded_len` is what `encode` writes (and nothing
//!      past it), the encoding decodes to an equal packet (decode is lenient,
//!      so packets are compared, not bytes) and is a fixed point (encoding the
//!      re-decoded packet gives the same bytes); `encode` into a buffer one
//!      byte short (and into an empty one) is `BufferTooSmall { required }`
//!      with `required == encoded_len`, leaving the buffer untouched.
//!    - `Payload::new` over the bytes yields, record by record (split at each
//!      0x1e), exactly the reference model's results up to and including the
//!      first error, then `None` for ever (never an item after an error); the
//!      items are at most (separators + 1); each packet's borrowed data lies
//!      inside its own record of the body; `is_empty` is true once it ends.
//!      Every record also goes through the single-packet checks above.
//! 1. `size:u16 packet...`: packets built from fields (text messages with any
//!    valid UTF-8 except 0x1e, binary messages with any bytes, `2`/`3` with
//!    `probe` or nothing, `0` with text, noop, close, upgrade; see
//!    [`read_packet`]) pushed with `PayloadWriter` into a `size % 2049`-byte
//!    buffer. `cost` is `encoded_len` plus the separator; a push that does
//!    not fit is `BufferTooSmall { required: len + cost }` (more than the
//!    buffer) and leaves `len()` unchanged; later, smaller packets may still
//!    go in. The buffer then holds exactly the pushed packets' encodings
//!    joined by 0x1e and nothing past `len()`, and `Payload` decodes exactly
//!    the pushed packets back, in order.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use sockwire::engineio::packet::{SEPARATOR, base64_len};
use sockwire::engineio::{Data, Error, Packet, PacketType, Payload, PayloadWriter};

use crate::reader::R;

const SENTINEL: u8 = 0xa5;

/// The reference decoder's base64: the standard alphabet, padding optional.
const REF_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A packet with owned data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    /// `0` and its JSON.
    Open(String),
    /// `1`.
    Close,
    /// `2` and its data.
    Ping(String),
    /// `3` and its data.
    Pong(String),
    /// `4` and its text.
    Text(String),
    /// `b` and its bytes (or a WebSocket binary frame).
    Binary(Vec<u8>),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

impl Owned {
    /// The owned copy of `p`.
    pub fn of(p: &Packet<'_>) -> Owned {
        match *p {
            Packet::Open(t) => Owned::Open(t.into()),
            Packet::Close => Owned::Close,
            Packet::Ping(t) => Owned::Ping(t.into()),
            Packet::Pong(t) => Owned::Pong(t.into()),
            Packet::Message(Data::Text(t)) => Owned::Text(t.into()),
            Packet::Message(Data::Binary(b)) => Owned::Binary(b.into()),
            Packet::Upgrade => Owned::Upgrade,
            Packet::Noop => Owned::Noop,
        }
    }

    /// The owned copy of a message.
    pub fn of_data(d: &Data<'_>) -> Owned {
        Owned::of(&Packet::Message(*d))
    }

    /// The packet borrowing this one's data.
    pub fn packet(&self) -> Packet<'_> {
        match self {
            Owned::Open(t) => Packet::Open(t),
            Owned::Close => Packet::Close,
            Owned::Ping(t) => Packet::Ping(t),
            Owned::Pong(t) => Packet::Pong(t),
            Owned::Text(t) => Packet::Message(Data::Text(t)),
            Owned::Binary(b) => Packet::Message(Data::Binary(b)),
            Owned::Upgrade => Packet::Upgrade,
            Owned::Noop => Packet::Noop,
        }
    }

    /// True for a message packet.
    pub fn is_message(&self) -> bool {
        matches!(self, Owned::Text(_) | Owned::Binary(_))
    }

    /// The packet's text encoding.
    pub fn encode(&self) -> Vec<u8> {
        let p = self.packet();
        let mut out = vec![0; p.encoded_len()];
        assert_eq!(p.encode(&mut out), Ok(out.len()));
        out
    }
}

/// Padded standard base64 by the `base64` crate.
fn std_base64(b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; b.len().div_ceil(3) * 4];
    let n = STANDARD.encode_slice(b, &mut out).expect("base64 length");
    out.truncate(n);
    out
}

/// The reference model of `Packet::decode`, from the protocol notes.
pub fn reference_decode(bytes: &[u8]) -> Result<Owned, Error> {
    let Some((&first, rest)) = bytes.split_first() else {
        return Err(Error::InvalidPacket);
    };
    if first == b'b' {
        let mut out = vec![0u8; rest.len() / 4 * 3 + 3];
        return match REF_B64.decode_slice(rest, &mut out) {
            Ok(n) => {
                out.truncate(n);
                Ok(Owned::Binary(out))
            }
            Err(_) => Err(Error::InvalidBase64),
        };
    }
    let text = core::str::from_utf8(bytes).map_err(|_| Error::InvalidPacket)?;
    if !(b'0'..=b'6').contains(&first) {
        return Err(Error::InvalidPacket);
    }
    let data = String::from(&text[1..]);
    Ok(match first {
        b'0' => Owned::Open(data),
        b'1' => Owned::Close,
        b'2' => Owned::Ping(data),
        b'3' => Owned::Pong(data),
        b'4' => Owned::Text(data),
        b'5' => Owned::Upgrade,
        b'6' => Owned::Noop,
        _ => return Err(Error::InvalidPacket),
    })
}

/// The records of a polling body: (start, end) of each, split at every 0x1e.
pub fn records(body: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut start = 0;
    for (i, &b) in body.iter().enumerate() {
        if b == SEPARATOR {
            v.push((start, i));
            start = i + 1;
        }
    }
    v.push((start, body.len()));
    v
}

/// The reference model of `Payload`: each record's packet up to and including
/// the first error.
pub fn reference_payload(body: &[u8]) -> Vec<Result<Owned, Error>> {
    let mut v = Vec::new();
    for (s, e) in records(body) {
        let p = reference_decode(&body[s..e]);
        let stop = p.is_err();
        v.push(p);
        if stop {
            break;
        }
    }
    v
}

/// A packet from fields: `kind` (mod 10) and its data. Text never holds 0x1e
/// (it would split the record in a polling body).
pub fn read_packet(r: &mut R<'_>) -> Owned {
    match r.u8() % 10 {
        0 => Owned::Text(text_without_separator(r.short_bytes())),
        1 => Owned::Binary(r.short_bytes().to_vec()),
        2 => Owned::Ping("probe".into()),
        3 => Owned::Ping(String::new()),
        4 => Owned::Pong("probe".into()),
        5 => Owned::Pong(String::new()),
        6 => Owned::Noop,
        7 => Owned::Close,
        8 => Owned::Upgrade,
        _ => Owned::Open(text_without_separator(r.short_bytes())),
    }
}

/// Valid UTF-8 made from `bytes`, with every 0x1e removed.
pub fn text_without_separator(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| c != '\u{1e}')
        .collect()
}

/// The checks on one packet's bytes (see the module docs).
fn check_packet(bytes: &[u8]) {
    let want = reference_decode(bytes);
    let mut buf = bytes.to_vec();
    let base = buf.as_ptr() as usize;
    let got = Packet::decode(&mut buf);
    let got_owned = got.as_ref().map(Owned::of).map_err(|e| *e);
    assert_eq!(
        got_owned, want,
        "decode({bytes:02x?}) differs from the model"
    );
    // Where the data lies: text is bytes[1..], binary is decoded at bytes[1..].
    if let Ok(p) = &got {
        let span = match *p {
            Packet::Open(t) | Packet::Ping(t) | Packet::Pong(t) => Some((t.as_ptr(), t.len())),
            Packet::Message(Data::Text(t)) => Some((t.as_ptr(), t.len())),
            Packet::Message(Data::Binary(b)) => Some((b.as_ptr(), b.len())),
            _ => None,
        };
        if let Some((ptr, len)) = span {
            assert_eq!(
                ptr as usize,
                base + 1,
                "data does not start after the type byte"
            );
            assert!(len < bytes.len());
        }
        assert_eq!(
            p.kind(),
            match bytes[0] {
                b'b' => PacketType::Message,
                d => PacketType::from_digit(d).expect("decoded with no type"),
            }
        );
    }
    // decode_text agrees on text, and refuses `b`.
    if let Ok(text) = core::str::from_utf8(bytes) {
        let t = Packet::decode_text(text).map(|p| Owned::of(&p));
        if bytes.first() == Some(&b'b') {
            assert_eq!(t, Err(Error::InvalidPacket), "decode_text took a b packet");
        } else {
            assert_eq!(t, want, "decode_text differs from decode");
        }
    }
    if let Ok(p) = want {
        check_encode(&p);
    }
}

/// `encoded_len`, `encode`, `BufferTooSmall` and the round trip of one packet.
fn check_encode(p: &Owned) {
    let packet = p.packet();
    let len = packet.encoded_len();
    assert!(len >= 1);
    if let Owned::Binary(b) = p {
        assert_eq!(base64_len(b.len()), std_base64(b).len());
        assert_eq!(len, 1 + base64_len(b.len()));
    }
    // Exactly `len` bytes, nothing written past them.
    let mut out = vec![SENTINEL; len + 3];
    assert_eq!(
        packet.encode(&mut out),
        Ok(len),
        "encode length != encoded_len"
    );
    assert!(
        out[len..].iter().all(|&b| b == SENTINEL),
        "encode wrote past its length"
    );
    let enc = out[..len].to_vec();
    // One byte short, and empty: refused, untouched.
    for size in [len - 1, 0] {
        let mut short = vec![SENTINEL; size];
        assert_eq!(
            packet.encode(&mut short),
            Err(Error::BufferTooSmall { required: len }),
            "encode into {size} of {len} bytes"
        );
        assert!(short.iter().all(|&b| b == SENTINEL), "BufferTooSmall wrote");
    }
    // Decodes to an equal packet, and the encoding is a fixed point.
    let mut again = enc.clone();
    let back = Packet::decode(&mut again).map(|q| Owned::of(&q));
    assert_eq!(
        back.as_ref(),
        Ok(p),
        "decode(encode(p)) != p for {enc:02x?}"
    );
    assert_eq!(back.unwrap().encode(), enc, "the encoding is not canonical");
    if let Owned::Binary(b) = p {
        assert_eq!(enc[0], b'b');
        assert_eq!(enc[1..], std_base64(b));
    }
}

/// The checks on a polling body (see the module docs).
fn check_payload(body: &[u8]) {
    let want = reference_payload(body);
    let recs = records(body);
    let separators = recs.len() - 1;
    let mut buf = body.to_vec();
    let base = buf.as_ptr() as usize;
    let mut payload = Payload::new(&mut buf);
    assert!(!payload.is_empty());
    let mut items = 0usize;
    let mut errored = false;
    for item in payload.by_ref() {
        assert!(!errored, "an item after an error");
        assert!(items <= separators, "more items than records");
        let (s, e) = recs[items];
        match &item {
            Ok(p) => {
                let span = match *p {
                    Packet::Open(t) | Packet::Ping(t) | Packet::Pong(t) => {
                        Some((t.as_ptr() as usize, t.len()))
                    }
                    Packet::Message(Data::Text(t)) => Some((t.as_ptr() as usize, t.len())),
                    Packet::Message(Data::Binary(b)) => Some((b.as_ptr() as usize, b.len())),
                    _ => None,
                };
                if let Some((ptr, len)) = span {
                    assert!(
                        ptr >= base + s && ptr + len <= base + e,
                        "record {items} data outside its record"
                    );
                }
            }
            Err(_) => errored = true,
        }
        let item = item.map(|p| Owned::of(&p));
        assert_eq!(
            Some(&item),
            want.get(items),
            "Payload item {items} differs from the model"
        );
        items += 1;
        assert!(items <= 1 + separators);
    }
    assert_eq!(items, want.len(), "Payload stopped early");
    assert!(payload.is_empty());
    for _ in 0..3 {
        assert!(payload.next().is_none(), "an item after the end");
    }
}

fn bytes_mode(data: &[u8]) {
    check_packet(data);
    if data.contains(&SEPARATOR) {
        for (s, e) in records(data) {
            check_packet(&data[s..e]);
        }
    }
    check_payload(data);
}

fn structured(r: &mut R<'_>) {
    let size = usize::from(r.u16()) % 2049;
    let mut packets = Vec::new();
    while !r.is_empty() && packets.len() < 64 {
        packets.push(read_packet(r));
    }
    let mut out = vec![SENTINEL; size];
    let mut pushed: Vec<Owned> = Vec::new();
    {
        let mut w = PayloadWriter::new(&mut out);
        let len = w.len();
        assert!(w.is_empty() && len == 0);
        for p in &packets {
            let before = w.len();
            let packet = p.packet();
            let cost = w.cost(&packet);
            assert_eq!(cost, packet.encoded_len() + usize::from(before > 0));
            match w.push(&packet) {
                Ok(()) => {
                    assert!(before + cost <= size);
                    assert_eq!(w.len(), before + cost, "push wrote other than cost");
                    pushed.push(p.clone());
                }
                Err(Error::BufferTooSmall { required }) => {
                    assert_eq!(required, before + cost);
                    assert!(required > size, "refused a packet that fits");
                    assert_eq!(w.len(), before, "a refused push changed len");
                }
                Err(e) => panic!("push: {e:?}"),
            }
            let len = w.len();
            assert_eq!(w.is_empty(), len == 0);
        }
    }
    let mut want = Vec::new();
    for (i, p) in pushed.iter().enumerate() {
        if i > 0 {
            want.push(SEPARATOR);
        }
        want.extend_from_slice(&p.encode());
    }
    let len = want.len();
    assert_eq!(
        &out[..len],
        &want[..],
        "the body is not the packets joined by 0x1e"
    );
    assert!(
        out[len..].iter().all(|&b| b == SENTINEL),
        "written past len()"
    );
    let got: Vec<Result<Owned, Error>> = Payload::new(&mut out[..len])
        .map(|p| p.map(|p| Owned::of(&p)))
        .collect();
    if pushed.is_empty() {
        assert_eq!(got, [Err(Error::InvalidPacket)]);
    } else {
        let pushed: Vec<Result<Owned, Error>> = pushed.into_iter().map(Ok).collect();
        assert_eq!(got, pushed, "Payload does not give back the pushed packets");
    }
}

/// The `eio_packet` target.
pub fn eio_packet(data: &[u8]) {
    let mut r = R::new(data);
    match r.u8() % 2 {
        0 => bytes_mode(r.rest()),
        _ => structured(&mut r),
    }
}
