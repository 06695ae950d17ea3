//! `ws_frame_roundtrip`: the frame header codec, masking and UTF-8 validation.
//!
//! Input: `mode` then, by `mode % 4`:
//! 0. header bytes: decode, and a decoded header re-encodes to exactly the bytes
//!    it came from (decoding accepts only the shortest length form, so the
//!    encoding is canonical); every shorter prefix says "need more" or fails
//!    the same way; the length it reports is `encoded_len`.
//! 1. a header built by `arbitrary` and an output size: encoding fits or gives
//!    `BufferTooSmall` with `out` untouched; a valid header decodes back to
//!    itself, an invalid one (fragmented or long control frame, length of
//!    2^63 or more) fails to decode.
//! 2. `key[4] offset cuts data`: `apply_mask` equals the byte-by-byte
//!    definition at any offset, masking in pieces equals masking at once, and
//!    masking twice restores the data.
//! 3. `cuts data`: `Utf8Validator` fed in any chunking agrees with
//!    `core::str::from_utf8`: valid and complete exactly when the text is
//!    valid, and a failure is reported at the first byte after which no valid
//!    text can begin with the bytes so far.

use arbitrary::Arbitrary;
use sockwire::ws::{self, FrameHeader, MAX_HEADER_LEN, OpCode, Utf8Validator, apply_mask};

use crate::reader::{Cuts, R};

#[derive(Arbitrary, Debug)]
struct Header {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    small: bool,
    out: u8,
}

fn decode_bytes(bytes: &[u8]) {
    let full = FrameHeader::decode(bytes);
    if let Ok(Some((h, n))) = full {
        assert!(n <= bytes.len() && n <= MAX_HEADER_LEN);
        assert_eq!(n, h.encoded_len());
        assert!(h.rsv < 8 && h.len >> 63 == 0);
        if h.opcode.is_control() {
            assert!(h.fin && h.len <= 125);
        }
        let mut out = [0u8; MAX_HEADER_LEN];
        assert_eq!(h.encode(&mut out), Ok(n));
        assert_eq!(&out[..n], &bytes[..n], "encode(decode(b)) != b");
        let (b0, b1) = (bytes[0], bytes[1]);
        assert_eq!(FrameHeader::len_from_prefix(b0, b1), n);
        assert_eq!(FrameHeader::check_prefix(b0, b1), Ok(h.opcode));
    }
    for cut in 0..bytes.len().min(MAX_HEADER_LEN) {
        let part = FrameHeader::decode(&bytes[..cut]);
        match (&full, &part) {
            (_, Ok(None)) => {}
            (Ok(Some(a)), Ok(Some(b))) => assert_eq!(a, b, "prefix {cut} decodes differently"),
            (Err(a), Err(b)) => assert_eq!(a, b, "prefix {cut} fails differently"),
            _ => panic!("prefix {cut} of {bytes:02x?} gives {part:?}, whole {full:?}"),
        }
    }
    if let Err(e) = full {
        assert!(e.close_code() == Some(1002), "{e:?}");
    }
}

fn header_roundtrip(h: Header) {
    let opcode = OpCode::from_u8(h.opcode & 0xf);
    let Some(opcode) = opcode else {
        assert!(matches!(h.opcode & 0xf, 3..=7 | 0xb..=0xf));
        return;
    };
    let len = if h.small { h.len % 200 } else { h.len };
    let fh = FrameHeader {
        fin: h.fin,
        rsv: h.rsv & 7,
        opcode,
        mask: h.mask,
        len,
    };
    let size = usize::from(h.out) % (MAX_HEADER_LEN + 2);
    let mut out = [0xa5u8; MAX_HEADER_LEN + 2];
    let n = match fh.encode(&mut out[..size]) {
        Ok(n) => n,
        Err(ws::Error::BufferTooSmall { required }) => {
            assert!(required > size && required == fh.encoded_len());
            assert!(out.iter().all(|&b| b == 0xa5), "BufferTooSmall wrote");
            return;
        }
        Err(e) => panic!("encode: {e:?}"),
    };
    assert_eq!(n, fh.encoded_len());
    assert!(out[n..].iter().all(|&b| b == 0xa5));
    let valid = len >> 63 == 0 && (!opcode.is_control() || (fh.fin && len <= 125));
    match FrameHeader::decode(&out[..n]) {
        Ok(Some((back, m))) => {
            assert!(valid, "invalid header {fh:?} decoded");
            assert_eq!((back, m), (fh, n), "decode(encode(h)) != h");
        }
        Ok(None) => panic!("an encoded header is incomplete"),
        Err(e) => assert!(!valid, "valid header {fh:?} refused: {e:?}"),
    }
    decode_bytes(&out[..n]);
}

fn naive_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

fn mask(r: &mut R<'_>) {
    let key = [r.u8(), r.u8(), r.u8(), r.u8()];
    let offset = usize::from(r.u16()) | if r.bool() { 1 << 40 } else { 0 };
    let cuts = Cuts::read(r);
    let data = r.rest();
    let mut want = data.to_vec();
    naive_mask(&mut want, key, offset);
    let mut once = data.to_vec();
    apply_mask(&mut once, key, offset);
    assert_eq!(once, want, "apply_mask != definition");
    let mut pieces = data.to_vec();
    let mut start = 0;
    for end in cuts.prefixes(data.len()) {
        apply_mask(&mut pieces[start..end], key, offset + start);
        start = end;
    }
    assert_eq!(pieces, want, "masking in pieces differs");
    apply_mask(&mut once, key, offset);
    assert_eq!(once, data, "masking twice does not restore");
}

/// Can `bytes` be the start of valid UTF-8?
fn valid_prefix(bytes: &[u8]) -> bool {
    match core::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fn utf8(r: &mut R<'_>) {
    let cuts = Cuts::read(r);
    let data = r.rest();
    let mut v = Utf8Validator::new();
    let mut start = 0;
    let mut got = Ok(());
    for end in cuts.prefixes(data.len()) {
        if let Err(i) = v.feed(&data[start..end]) {
            got = Err(start + i);
            break;
        }
        start = end;
    }
    match core::str::from_utf8(data) {
        Ok(_) => {
            assert_eq!(got, Ok(()), "valid text refused");
            assert!(v.is_complete(), "valid text not complete");
        }
        Err(e) => match e.error_len() {
            None => {
                // Valid so far, unfinished at the end.
                assert_eq!(got, Ok(()), "a valid prefix refused");
                assert!(!v.is_complete());
            }
            Some(_) => {
                let Err(i) = got else {
                    panic!("invalid text accepted: {data:02x?}")
                };
                assert!(valid_prefix(&data[..i]), "failed late: {i} of {data:02x?}");
                assert!(
                    !valid_prefix(&data[..=i]),
                    "failed early: {i} of {data:02x?}"
                );
            }
        },
    }
}

/// The `ws_frame_roundtrip` target.
pub fn ws_frame_roundtrip(data: &[u8]) {
    let mut r = R::new(data);
    match r.u8() % 4 {
        0 => decode_bytes(r.rest()),
        1 => {
            if let Ok(h) = Header::arbitrary(r.unstructured()) {
                header_roundtrip(h);
            }
        }
        2 => mask(&mut r),
        _ => utf8(&mut r),
    }
}
