//! `utf8_simd`: the vectorised UTF-8 prefix check (`sockwire`'s `simd` module,
//! AVX2 when the CPU has it) against the portable validator and against
//! `core::str::from_utf8`.
//!
//! Input: `cut_a:u16 cut_b:u16 fill:u8 text...`. The text is the rest; when
//! `fill` is odd the text is first repeated (up to 4 KiB) so that long inputs,
//! many 32-byte blocks with an error far from the start, are common.
//! `cut_a` and `cut_b` (modulo the length plus one) split the text in three
//! chunks for the streaming validator.
//!
//! Oracles:
//! - `simd_valid_up_to(text) = k` (when the CPU has a vectorised path):
//!   `k <= len`, `text[..k]` is valid UTF-8 (whole code points), and it does
//!   not give up early: with `len >= 64`, `k + 68 >= min(valid_up_to, len
//!   rounded down to 32)` (the start of the error's pair of 32-byte blocks, or
//!   the end of the last whole block, less at most 4 bytes of backing off to a
//!   code point start).
//! - `check` (vectorised prefix, then portable) and `check_portable` give the
//!   same answer, and it is `from_utf8`'s: `Ok`, or the error offset
//!   (`valid_up_to`) and whether it is only unfinished (`error_len() == None`).
//! - `Utf8Validator` fed the three chunks fails at `valid_up_to` for an invalid
//!   text, and otherwise accepts, `is_complete()` exactly when the text is valid.

use sockwire::ws::Utf8Validator;
use sockwire::ws::utf8_internals::{check, check_portable, simd_valid_up_to};

pub fn utf8_simd(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let cut_a = u16::from_le_bytes([data[0], data[1]]) as usize;
    let cut_b = u16::from_le_bytes([data[2], data[3]]) as usize;
    let fill = data[4];
    let mut text = data[5..].to_vec();
    if fill & 1 == 1 && !text.is_empty() {
        while text.len() < 4096 {
            text.extend_from_within(..text.len().min(4096 - text.len()));
        }
    }
    let text = &text[..];
    let len = text.len();

    let core = core::str::from_utf8(text);
    let expected = match core {
        Ok(_) => Ok(()),
        Err(e) => Err((e.valid_up_to(), e.error_len().is_none())),
    };
    let valid_to = match core {
        Ok(_) => len,
        Err(e) => e.valid_up_to(),
    };

    if let Some(k) = simd_valid_up_to(text) {
        assert!(k <= len, "k {k} > len {len}");
        assert!(
            core::str::from_utf8(&text[..k]).is_ok(),
            "prefix of {k} bytes not valid: {text:02x?}"
        );
        if len >= 64 {
            assert!(
                k + 68 >= valid_to.min(len / 32 * 32),
                "gave up early: k {k}, valid to {valid_to}, len {len}"
            );
        }
    }
    assert_eq!(check_portable(text), expected, "portable: {text:02x?}");
    assert_eq!(check(text), expected, "check: {text:02x?}");

    let (a, b) = {
        let a = cut_a % (len + 1);
        let b = cut_b % (len + 1);
        (a.min(b), a.max(b))
    };
    let mut v = Utf8Validator::new();
    let mut got = None;
    for (start, chunk) in [(0, &text[..a]), (a, &text[a..b]), (b, &text[b..])] {
        if let Err(i) = v.feed(chunk) {
            got = Some(start + i);
            break;
        }
    }
    match (core, got) {
        (Ok(_), None) => assert!(v.is_complete()),
        (Err(e), None) => {
            // Only an unfinished code point at the very end passes the feeds.
            assert!(
                e.error_len().is_none(),
                "missed error at {}",
                e.valid_up_to()
            );
            assert!(!v.is_complete());
        }
        (Err(e), Some(i)) => {
            // The first byte that cannot continue: the bad sequence's first
            // byte or one of its later bytes.
            let end = e.valid_up_to() + e.error_len().unwrap_or(0);
            assert!(e.valid_up_to() <= i && i <= end, "failed at {i}, {e:?}");
        }
        (Ok(_), Some(i)) => panic!("valid text refused at {i}"),
    }
}

/// Seeds: short and long, valid and not, ASCII and mixed.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let head = |a: u16, b: u16, fill: u8| {
        let mut v = a.to_le_bytes().to_vec();
        v.extend(b.to_le_bytes());
        v.push(fill);
        v
    };
    let texts: [(&str, &[u8], u8); 8] = [
        ("ascii", b"hello, world", 1),
        ("mixed", "lorem café ipsum €5 dolor 𝄞 sit".as_bytes(), 1),
        ("kosme", "κόσμε".as_bytes(), 0),
        ("surrogate", b"ab\xed\xa0\x80", 0),
        ("above-max", b"\xf4\x90\x80\x80", 0),
        ("overlong", b"\xc0\xaf\xe0\x80\xaf", 0),
        ("truncated", "abc€".as_bytes().split_last().unwrap().1, 1),
        (
            "long-then-bad",
            b"0123456789abcdef0123456789abcdef0123456789abcdef\xe2\x82",
            0,
        ),
    ];
    texts
        .iter()
        .map(|(name, t, fill)| {
            let mut v = head(7, 300, *fill);
            v.extend_from_slice(t);
            ("utf8_simd", name.to_string(), v)
        })
        .collect()
}
