//! `json`: the bounded JSON validator and navigator (`sockwire::json`),
//! differential against serde_json.
//!
//! Input: `depth:u8 flags:u8 text...` (the text is the rest, taken as UTF-8
//! with invalid sequences replaced; `depth % 70` is the limit given to
//! `validate`, so limits past [`MAX_DEPTH`] are exercised and capped).
//!
//! The reference is serde_json parsing into `IgnoredAny`: that path checks the
//! RFC 8259 grammar only (strings are not decoded, so escapes of lone
//! surrogates are accepted, and numbers are not converted, so `1e400` is
//! accepted), exactly the language `validate` accepts. Its one other rule is a
//! nesting limit of 128, above `MAX_DEPTH`, so it never decides alone.
//! Deliberate difference: serde_json parsing into a `Value` or `String`
//! refuses lone surrogate escapes (`"\ud800"`) and out-of-range numbers;
//! `validate` accepts both (the grammar allows them) and `unescape` turns a
//! lone surrogate into U+FFFD. Value comparisons below are made only where
//! serde_json builds a `Value`.
//!
//! Oracles:
//! - `validate(text, d)` is `Ok` exactly when serde_json accepts the text and
//!   its nesting depth is at most `min(d, MAX_DEPTH)`; accepted by serde_json
//!   but deeper is exactly `TooDeep`; refused by serde_json is an error.
//! - `Syntax { offset }`: `offset <= len`, on a char boundary, the same at any
//!   depth limit that does not stop it first; the text cut at `offset`
//!   validates or "ends too early" (`Syntax { offset }` again), so every byte
//!   before `offset` can be continued to JSON; cut one character later it
//!   fails at `offset` again (unless `offset` is the length), so the byte at
//!   `offset` is the first that cannot. Both cuts also go through the
//!   serde_json differential.
//! - `kind`, `elements`, `members`, `get`, `str_eq`, `unescape` and `as_u64`
//!   never panic on any text (the whole input, every element and member of
//!   it, unvalidated suffixes).
//! - On validated text, against serde_json's `Value` (when it builds one):
//!   `kind` matches the variant; an array has as many `elements` as the
//!   `Value`, each element re-parses to the `Value`'s element and is checked
//!   the same way, recursively; an object's `members` come in text order,
//!   their keys unescape to the `Value`'s keys and the last value of each key
//!   is the `Value`'s (serde_json keeps the last duplicate), and `get` returns
//!   the first; a string `unescape`s to serde_json's string (`BufferTooSmall`
//!   one byte short with `required` the length, buffer untouched), `str_eq`
//!   holds for it and not for a longer or shorter string; `as_u64` equals
//!   `Value::as_u64` for numbers without `-`, fraction or exponent, and is
//!   `None` for the others (also with whitespace around).
//! - `write_str(s)` for the input text and every string in it: writes
//!   `str_len(s)` bytes, which `validate` accepts, serde_json parses to `s`,
//!   `unescape` gives back and `str_eq` matches; one byte short is
//!   `BufferTooSmall { required }` with the buffer untouched.

use serde_json::Value;
use sockwire::json::{self, Error, Kind, MAX_DEPTH};

use crate::reader::R;

const SENTINEL: u8 = 0xa5;

/// Nesting depth of JSON text serde_json accepted (strings skipped).
pub fn depth_of(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &c in text.as_bytes() {
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
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// serde_json's grammar check (see the module docs).
pub fn serde_accepts(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The differential for one text and limit; returns `validate`'s answer.
fn differential(text: &str, limit: usize) -> Result<(), Error> {
    let got = json::validate(text, limit);
    let eff = limit.min(MAX_DEPTH);
    if serde_accepts(text) {
        if depth_of(text) <= eff {
            assert_eq!(got, Ok(()), "serde_json accepts {text:?} (depth <= {eff})");
        } else {
            assert_eq!(got, Err(Error::TooDeep), "{text:?} is deeper than {eff}");
        }
    } else {
        assert!(
            got.is_err(),
            "serde_json refuses {text:?}, validate accepts"
        );
    }
    if let Err(Error::Syntax { offset }) = got {
        assert!(offset <= text.len(), "offset {offset} past {}", text.len());
        assert!(
            text.is_char_boundary(offset),
            "offset {offset} inside a char"
        );
    }
    match got {
        Ok(()) | Err(Error::TooDeep) | Err(Error::Syntax { .. }) => {}
        Err(e) => panic!("validate returned {e:?}"),
    }
    got
}

fn check_syntax_offset(text: &str, limit: usize, offset: usize) {
    // The same failure with the largest limit (a smaller one could only have
    // stopped earlier, with TooDeep).
    assert_eq!(
        json::validate(text, MAX_DEPTH),
        Err(Error::Syntax { offset }),
        "the syntax error moved with the depth limit"
    );
    let cut = &text[..offset];
    match differential(cut, limit) {
        Ok(()) => {}
        Err(Error::Syntax { offset: o }) => {
            assert_eq!(o, offset, "the text cut at the error fails elsewhere")
        }
        Err(e) => panic!("the text cut at the error: {e:?}"),
    }
    if offset < text.len() {
        let c = text[offset..].chars().next().unwrap();
        let longer = &text[..offset + c.len_utf8()];
        assert_eq!(
            differential(longer, limit),
            Err(Error::Syntax { offset }),
            "the byte at the offset is not where it fails"
        );
    }
}

/// `str_eq` (it once panicked on `"é`, fixed in 36b6626).
fn str_eq(raw: &str, s: &str) -> bool {
    json::str_eq(raw, s)
}

/// Navigation on any text: no panic, bounded.
fn navigate_blind(text: &str) {
    let _ = json::kind(text);
    let mut buf = [0u8; 64];
    let _ = json::unescape(text, &mut buf);
    let _ = str_eq(text, "a");
    let _ = json::as_u64(text);
    for e in json::elements(text).take(64) {
        let _ = json::kind(e);
        let _ = json::unescape(e, &mut buf);
        let _ = json::as_u64(e);
        let _ = str_eq(e, "");
    }
    for (k, v) in json::members(text).take(64) {
        let _ = json::unescape(k, &mut buf);
        let _ = json::get(text, "a");
        let _ = str_eq(k, "_placeholder");
        let _ = json::as_u64(v);
    }
    let _ = json::get(text, "sid");
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::Array,
        Value::Object(_) => Kind::Object,
    }
}

fn unescaped(raw: &str) -> String {
    let need = match json::unescape(raw, &mut []) {
        Ok(s) => return s.to_owned(),
        Err(Error::BufferTooSmall { required }) => required,
        Err(e) => panic!("unescape {raw:?}: {e:?}"),
    };
    let mut buf = vec![0u8; need];
    json::unescape(raw, &mut buf).unwrap().to_owned()
}

fn check_string(raw: &str, s: &str) {
    assert_eq!(json::kind(raw), Some(Kind::String));
    let mut buf = vec![SENTINEL; s.len() + 8];
    assert_eq!(json::unescape(raw, &mut buf), Ok(s), "unescape {raw:?}");
    if !s.is_empty() {
        let mut short = vec![SENTINEL; s.len() - 1];
        assert_eq!(
            json::unescape(raw, &mut short),
            Err(Error::BufferTooSmall { required: s.len() })
        );
        assert!(short.iter().all(|&b| b == SENTINEL), "unescape wrote");
        let mut fewer = s.to_owned();
        fewer.pop();
        assert!(!json::str_eq(raw, &fewer), "str_eq({raw:?}, {fewer:?})");
    }
    assert!(json::str_eq(raw, s), "str_eq({raw:?}, {s:?})");
    assert!(!json::str_eq(raw, &format!("{s}x")));
    check_write_str(s);
}

/// `raw` is validated JSON (trimmed); `v` is serde_json's value of it.
fn compare(raw: &str, v: &Value, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    assert_eq!(json::kind(raw), Some(kind_of(v)), "kind of {raw:?}");
    let plain_integer = |r: &str| !r.contains(['-', '.', 'e', 'E']);
    match v {
        Value::Number(_) => {
            let want = if plain_integer(raw) { v.as_u64() } else { None };
            assert_eq!(json::as_u64(raw), want, "as_u64({raw:?})");
            assert_eq!(json::as_u64(&format!(" \t{raw}\n")), want);
        }
        Value::String(s) => check_string(raw, s),
        Value::Array(items) => {
            let elems: Vec<&str> = json::elements(raw).collect();
            assert_eq!(elems.len(), items.len(), "elements of {raw:?}");
            for (e, item) in elems.iter().zip(items) {
                assert_eq!(e.trim(), *e, "an element with whitespace");
                let re: Value = serde_json::from_str(e).expect("an element re-parses");
                assert_eq!(&re, item, "element {e:?}");
                compare(e, item, budget);
            }
            assert_eq!(json::as_u64(raw), None);
        }
        Value::Object(map) => {
            let members: Vec<(&str, &str)> = json::members(raw).collect();
            let mut last = std::collections::BTreeMap::new();
            let mut first = std::collections::BTreeMap::new();
            let mut at = 0usize;
            for (k, val) in &members {
                // In text order, each a slice of `raw`.
                let pos = k.as_ptr() as usize - raw.as_ptr() as usize;
                assert!(pos >= at, "members out of order");
                at = val.as_ptr() as usize - raw.as_ptr() as usize + val.len();
                let key = unescaped(k);
                last.insert(key.clone(), *val);
                first.entry(key).or_insert(*val);
            }
            assert_eq!(last.len(), map.len(), "keys of {raw:?}");
            for (key, item) in map {
                let val = last.get(key.as_str()).expect("a key serde_json has");
                let re: Value = serde_json::from_str(val).unwrap();
                assert_eq!(&re, item, "member {key:?}");
                compare(val, item, budget);
                // `get` gives the first member with the key. Keys that
                // unescape a lone surrogate to U+FFFD are not matched by it.
                if !key.contains('\u{fffd}') {
                    assert_eq!(json::get(raw, key), first.get(key.as_str()).copied());
                }
            }
            for (k, _) in &members {
                check_string(k, &unescaped(k));
            }
        }
        Value::Null | Value::Bool(_) => {
            assert!(json::elements(raw).next().is_none());
            assert!(json::members(raw).next().is_none());
        }
    }
}

fn check_write_str(s: &str) {
    let need = json::str_len(s);
    let mut out = vec![SENTINEL; need + 3];
    let n = json::write_str(s, &mut out).expect("write_str with room");
    assert_eq!(n, need, "write_str length");
    assert!(out[n..].iter().all(|&b| b == SENTINEL), "wrote past n");
    let text = std::str::from_utf8(&out[..n]).expect("write_str wrote UTF-8");
    assert_eq!(json::validate(text, 0), Ok(()), "{text:?}");
    let back: String = serde_json::from_str(text).expect("serde_json parses write_str");
    assert_eq!(back, s, "write_str round trip");
    assert!(json::str_eq(text, s));
    let mut buf = vec![0u8; s.len()];
    assert_eq!(json::unescape(text, &mut buf), Ok(s));
    let mut short = vec![SENTINEL; need - 1];
    assert_eq!(
        json::write_str(s, &mut short),
        Err(Error::BufferTooSmall { required: need })
    );
    assert!(
        short.iter().all(|&b| b == SENTINEL),
        "refused write_str wrote"
    );
}

/// The `json` target.
pub fn json(data: &[u8]) {
    let mut r = R::new(data);
    let limit = usize::from(r.u8() % 70);
    let flags = r.u8();
    let text = String::from_utf8_lossy(r.rest()).into_owned();
    let got = differential(&text, limit);
    if let Err(Error::Syntax { offset }) = got {
        check_syntax_offset(&text, limit, offset);
    }
    navigate_blind(&text);
    if flags & 1 == 1 {
        // Suffixes: navigation that starts anywhere.
        for (i, _) in text.char_indices().take(64) {
            navigate_blind(&text[i..]);
        }
    }
    check_write_str(&text);
    if json::validate(&text, MAX_DEPTH).is_ok()
        && let Ok(v) = serde_json::from_str::<Value>(&text)
    {
        let mut budget = 4096;
        compare(text.trim_matches([' ', '\t', '\n', '\r']), &v, &mut budget);
    }
}
