//! A small, bounded JSON layer: just what the Socket.IO protocol needs.
//!
//! Socket.IO carries its event arguments as JSON text. sockwire never builds a
//! document tree: it validates the text once (RFC 8259, iteratively, with a
//! depth limit so a hostile `[[[[...` cannot exhaust a stack), then hands the
//! application borrowed slices of raw JSON: the elements of an array, the
//! members of an object, a string's content. Deserialise them with whatever the
//! application already uses (serde_json on a server, a hand parser on a
//! microcontroller); sockwire only needs to find the event name, the
//! attachment placeholders and a few handshake fields.
//!
//! Everything here works on `&str` that [`validate`] accepted; on other text
//! the iterators stop early but never panic.
//!
//! It lives at the crate root because both protocols use it: Engine.IO for
//! its open packet, Socket.IO for everything it carries.
//!
//! ```
//! use sockwire::json;
//! let args = r#"["chat", {"text": "hi \u00e9", "n": 2}, [1, 2]]"#;
//! json::validate(args, json::MAX_DEPTH).unwrap();
//! let mut it = json::elements(args);
//! let name = it.next().unwrap();
//! assert!(json::str_eq(name, "chat"));
//! let obj = it.next().unwrap();
//! let mut buf = [0u8; 16];
//! assert_eq!(json::unescape(json::get(obj, "text").unwrap(), &mut buf), Ok("hi é"));
//! assert_eq!(json::get(obj, "n").and_then(json::as_u64), Some(2));
//! assert_eq!(it.next(), Some("[1, 2]"));
//! assert_eq!(it.next(), None);
//! ```

use core::fmt;

/// The deepest nesting [`validate`] can check: arrays and objects inside each
/// other 64 levels deep. Socket.IO's
/// [`Limits::max_depth`](crate::socketio::Limits) is at most this.
pub const MAX_DEPTH: usize = 64;

/// What can go wrong in the JSON layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The text is not JSON (RFC 8259): `offset` is the first byte at which
    /// it stops being valid, or its length when it ends too early.
    Syntax {
        /// Byte offset into the text given.
        offset: usize,
    },
    /// Arrays and objects nest deeper than the limit.
    TooDeep,
    /// [`unescape`] was given something that is not a JSON string.
    NotAString,
    /// The output buffer is too small; it was left untouched.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax { offset } => write!(f, "invalid JSON at byte {offset}"),
            Error::TooDeep => f.write_str("JSON nested too deeply"),
            Error::NotAString => f.write_str("not a JSON string"),
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for Error {}

/// The type of a JSON value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// `-1.5e3`
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

/// The kind of the value `text` starts with (after whitespace), if any.
pub fn kind(text: &str) -> Option<Kind> {
    let b = text.as_bytes();
    Some(match b.get(skip_ws(b, 0))? {
        b'{' => Kind::Object,
        b'[' => Kind::Array,
        b'"' => Kind::String,
        b'-' | b'0'..=b'9' => Kind::Number,
        b't' | b'f' => Kind::Bool,
        b'n' => Kind::Null,
        _ => return None,
    })
}

/// Checks that `text` is exactly one JSON value (whitespace around it
/// allowed), nested at most `max_depth` (capped at [`MAX_DEPTH`]) levels.
///
/// Errors: [`Error::Syntax`] with the offset of the first byte that makes
/// it invalid; [`Error::TooDeep`]. Runs in one pass, in constant space.
pub fn validate(text: &str, max_depth: usize) -> Result<(), Error> {
    let b = text.as_bytes();
    let end = scan_value(b, skip_ws(b, 0), max_depth.min(MAX_DEPTH))?;
    let end = skip_ws(b, end);
    if end != b.len() {
        return Err(Error::Syntax { offset: end });
    }
    Ok(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

fn syntax(offset: usize) -> Error {
    Error::Syntax { offset }
}

/// Scans the value that starts at `i`; returns the offset just past it.
fn scan_value(b: &[u8], mut i: usize, max_depth: usize) -> Result<usize, Error> {
    // Bit d of `objects` is set when the container at depth d+1 is an object.
    let mut objects: u64 = 0;
    let mut depth = 0usize;
    'value: loop {
        // A value starts at `i` (whitespace skipped).
        match b.get(i) {
            Some(&open @ (b'{' | b'[')) => {
                if depth == max_depth {
                    return Err(Error::TooDeep);
                }
                let is_object = open == b'{';
                if is_object {
                    objects |= 1 << depth;
                } else {
                    objects &= !(1 << depth);
                }
                depth += 1;
                i = skip_ws(b, i + 1);
                let close = if is_object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    // Empty: closed at once.
                    i += 1;
                    depth -= 1;
                } else {
                    if is_object {
                        i = member_key(b, i)?;
                    }
                    continue 'value;
                }
            }
            Some(b'"') => i = scan_string(b, i)?,
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = scan_number(b, i)?,
            _ => return Err(syntax(i)),
        }
        // A value ended at `i`: close containers until one wants more.
        loop {
            if depth == 0 {
                return Ok(i);
            }
            let in_object = objects & (1 << (depth - 1)) != 0;
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => {
                    i = skip_ws(b, i + 1);
                    if in_object {
                        i = member_key(b, i)?;
                    }
                    continue 'value;
                }
                Some(b'}') if in_object => {}
                Some(b']') if !in_object => {}
                _ => return Err(syntax(i)),
            }
            i += 1;
            depth -= 1;
        }
    }
}

/// `"key" :` at `i`; returns the start of the member's value.
fn member_key(b: &[u8], i: usize) -> Result<usize, Error> {
    if b.get(i) != Some(&b'"') {
        return Err(syntax(i));
    }
    let i = skip_ws(b, scan_string(b, i)?);
    if b.get(i) != Some(&b':') {
        return Err(syntax(i));
    }
    Ok(skip_ws(b, i + 1))
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, Error> {
    for (k, &w) in word.iter().enumerate() {
        if b.get(i + k) != Some(&w) {
            return Err(syntax(i + k));
        }
    }
    Ok(i + word.len())
}

/// The string starting with `"` at `i`; returns the offset past its closing
/// quote. The text is `&str`, so only escapes and control bytes need checks.
fn scan_string(b: &[u8], mut i: usize) -> Result<usize, Error> {
    i += 1;
    loop {
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    for k in 2..6 {
                        if !b.get(i + k).is_some_and(u8::is_ascii_hexdigit) {
                            return Err(syntax(i + k));
                        }
                    }
                    i += 6;
                }
                _ => return Err(syntax(i + 1)),
            },
            Some(0x00..=0x1f) | None => return Err(syntax(i)),
            Some(_) => i += 1,
        }
    }
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

fn scan_number(b: &[u8], mut i: usize) -> Result<usize, Error> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i),
        _ => return Err(syntax(i)),
    }
    if b.get(i) == Some(&b'.') {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return Err(syntax(j));
        }
        i = j;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return Err(syntax(j));
        }
        i = j;
    }
    Ok(i)
}

/// The raw text of the value at the start of `text` (after whitespace) and the
/// rest after it, or `None` if it is not valid JSON.
fn split_value(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    let end = scan_value(b, start, MAX_DEPTH).ok()?;
    Some((&text[start..end], &text[end..]))
}

/// The length of the JSON value at the very start of `text` (no whitespace
/// before it), or of all of `text` when it is not valid JSON there.
pub(crate) fn value_len(text: &str) -> usize {
    scan_value(text.as_bytes(), 0, MAX_DEPTH).unwrap_or(text.len())
}

/// The elements of a JSON array, as raw JSON text, in order. Empty for
/// anything that is not an array.
pub fn elements(array: &str) -> Elements<'_> {
    let rest = array.trim_start_matches([' ', '\t', '\n', '\r']);
    Elements {
        rest: rest.strip_prefix('['),
        first: true,
    }
}

/// Iterator returned by [`elements`].
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: Option<&'a str>,
    first: bool,
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let mut rest = self
            .rest
            .take()?
            .trim_start_matches([' ', '\t', '\n', '\r']);
        if rest.starts_with(']') {
            return None;
        }
        if !self.first {
            rest = rest.strip_prefix(',')?;
        }
        self.first = false;
        let (value, rest) = split_value(rest)?;
        self.rest = Some(rest);
        Some(value)
    }
}

/// The members of a JSON object as `(raw key string with its quotes, raw
/// value)`, in order. Empty for anything that is not an object.
pub fn members(object: &str) -> Members<'_> {
    let rest = object.trim_start_matches([' ', '\t', '\n', '\r']);
    Members {
        rest: rest.strip_prefix('{'),
        first: true,
    }
}

/// Iterator returned by [`members`].
#[derive(Clone, Debug)]
pub struct Members<'a> {
    rest: Option<&'a str>,
    first: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let mut rest = self
            .rest
            .take()?
            .trim_start_matches([' ', '\t', '\n', '\r']);
        if rest.starts_with('}') {
            return None;
        }
        if !self.first {
            rest = rest
                .strip_prefix(',')?
                .trim_start_matches([' ', '\t', '\n', '\r']);
        }
        self.first = false;
        if !rest.starts_with('"') {
            return None;
        }
        let key_end = scan_string(rest.as_bytes(), 0).ok()?;
        let (key, rest) = rest.split_at(key_end);
        let rest = rest
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .strip_prefix(':')?;
        let (value, rest) = split_value(rest)?;
        self.rest = Some(rest);
        Some((key, value))
    }
}

/// The raw value of the first member of `object` whose key equals `key`.
pub fn get<'a>(object: &'a str, key: &str) -> Option<&'a str> {
    members(object).find_map(|(k, v)| str_eq(k, key).then_some(v))
}

/// The characters of a JSON string (raw, with quotes), escapes decoded one
/// `char` at a time. Stops at the first invalid escape.
pub(crate) fn chars(raw: &str) -> impl Iterator<Item = char> + '_ {
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or("");
    let mut it = inner.chars();
    core::iter::from_fn(move || {
        let c = it.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match it.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hex = |it: &mut core::str::Chars<'_>| -> Option<u32> {
                    let mut v = 0;
                    for _ in 0..4 {
                        v = v * 16 + it.next()?.to_digit(16)?;
                    }
                    Some(v)
                };
                let hi = hex(&mut it)?;
                if (0xd800..0xdc00).contains(&hi) {
                    // A surrogate pair; a lone surrogate becomes U+FFFD, as
                    // a JavaScript string would turn into UTF-8.
                    let mut look = it.clone();
                    if look.next() == Some('\\')
                        && look.next() == Some('u')
                        && let Some(lo) = hex(&mut look).filter(|lo| (0xdc00..0xe000).contains(lo))
                    {
                        it = look;
                        let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                        return Some(char::from_u32(c).unwrap_or('\u{fffd}'));
                    }
                    '\u{fffd}'
                } else {
                    char::from_u32(hi).unwrap_or('\u{fffd}')
                }
            }
            other => other,
        })
    })
}

/// True when the raw JSON string `raw` (with its quotes) decodes to `s`.
/// False for anything that is not a string.
pub fn str_eq(raw: &str, s: &str) -> bool {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    if !inner.contains('\\') {
        return inner == s;
    }
    let mut want = s.chars();
    chars(raw).all(|c| want.next() == Some(c)) && want.next().is_none()
}

/// Decodes the raw JSON string `raw` (with its quotes) into `out`.
///
/// Errors: [`Error::NotAString`] if `raw` is not a string;
/// [`Error::BufferTooSmall`] (with the length needed).
pub fn unescape<'o>(raw: &str, out: &'o mut [u8]) -> Result<&'o str, Error> {
    if kind(raw) != Some(Kind::String) {
        return Err(Error::NotAString);
    }
    let need: usize = chars(raw).map(char::len_utf8).sum();
    if need > out.len() {
        return Err(Error::BufferTooSmall { required: need });
    }
    let mut n = 0;
    for c in chars(raw) {
        n += c.encode_utf8(&mut out[n..]).len();
    }
    // Only whole chars were written.
    core::str::from_utf8(&out[..n]).map_err(|_| Error::NotAString)
}

/// The value as an integer, if it is a JSON number with no fraction or
/// exponent that fits in a `u64`.
pub fn as_u64(raw: &str) -> Option<u64> {
    let raw = raw.trim_matches([' ', '\t', '\n', '\r']);
    if raw.is_empty()
        || !raw.bytes().all(|b| b.is_ascii_digit())
        || (raw.len() > 1 && raw.starts_with('0'))
    {
        return None;
    }
    raw.parse().ok()
}

/// The length of `s` written as a JSON string by [`write_str`].
pub fn str_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Writes `s` as a JSON string (quoted, escaped) into `out`; returns the
/// length. [`Error::BufferTooSmall`] leaves `out` untouched.
pub fn write_str(s: &str, out: &mut [u8]) -> Result<usize, Error> {
    let need = str_len(s);
    if out.len() < need {
        return Err(Error::BufferTooSmall { required: need });
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out[0] = b'"';
    let mut n = 1;
    for b in s.bytes() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out[n..n + 6].copy_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
                n += 6;
                continue;
            }
            _ => {
                out[n] = b;
                n += 1;
                continue;
            }
        };
        out[n..n + esc.len()].copy_from_slice(esc);
        n += esc.len();
    }
    out[n] = b'"';
    Ok(n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        validate(s, MAX_DEPTH).is_ok()
    }

    #[test]
    fn rfc8259_values() {
        for s in [
            "0",
            "-0",
            "12",
            "-1.5e+3",
            "1E9",
            "0.25",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00""#,
            "[]",
            "{}",
            " [ 1 , 2 ] ",
            r#"{"a":[1,{"b":null}],"c":"d"}"#,
            "\"é😀\"",
        ] {
            assert!(ok(s), "{s}");
        }
        for (s, at) in [
            ("", 0),
            ("01", 1),
            ("1.", 2),
            (".5", 0),
            ("1e", 2),
            ("+1", 0),
            ("tru", 3),
            ("[1,]", 3),
            ("[,1]", 1),
            ("{\"a\"}", 4),
            ("{\"a\":}", 5),
            ("{a:1}", 1),
            ("{\"a\":1,}", 7),
            ("[1 2]", 3),
            ("\"\\x\"", 2),
            ("\"\\u12g4\"", 5),
            ("\"a\u{1}\"", 2),
            ("\"abc", 4),
            ("[1]]", 3),
            ("1 2", 2),
            ("[", 1),
            ("NaN", 0),
            ("'a'", 0),
        ] {
            assert_eq!(
                validate(s, MAX_DEPTH),
                Err(Error::Syntax { offset: at }),
                "{s:?}"
            );
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(validate(&deep(64), 64).is_ok());
        assert_eq!(validate(&deep(65), 64), Err(Error::TooDeep));
        assert_eq!(validate(&deep(3), 2), Err(Error::TooDeep));
        // A megabyte of open brackets fails at the limit, in constant space.
        assert_eq!(validate(&"[".repeat(1 << 20), 32), Err(Error::TooDeep));
        let objs = "{\"a\":".repeat(10) + "1" + &"}".repeat(10);
        assert!(validate(&objs, 10).is_ok());
        assert_eq!(validate(&objs, 9), Err(Error::TooDeep));
        // Mixed nesting keeps each level's container type apart.
        assert!(ok(r#"[{"a":[{"b":[]}]},[{}]]"#));
        assert!(!ok(r#"[{"a":[{"b":[}]}]]"#));
    }

    #[test]
    fn navigation() {
        let v: std::vec::Vec<&str> = elements(r#" [ "a" , {"k": [1, 2]} , -3 ,null] "#).collect();
        assert_eq!(v, [r#""a""#, r#"{"k": [1, 2]}"#, "-3", "null"]);
        assert_eq!(elements("[]").count(), 0);
        assert_eq!(elements("{}").count(), 0);
        let obj = r#"{"_placeholder":true,"num":3, "k\u0065y": "v"}"#;
        assert_eq!(get(obj, "_placeholder"), Some("true"));
        assert_eq!(get(obj, "num").and_then(as_u64), Some(3));
        assert_eq!(get(obj, "key"), Some(r#""v""#));
        assert_eq!(get(obj, "nope"), None);
        assert_eq!(as_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(as_u64("18446744073709551616"), None);
        assert_eq!(as_u64("1.0"), None);
        assert_eq!(as_u64("-1"), None);
        assert_eq!(as_u64("01"), None);
    }

    #[test]
    fn strings_round_trip() {
        extern crate std;
        let mut buf = [0u8; 64];
        for s in [
            "",
            "plain",
            "quote\" back\\ nl\n tab\t",
            "\u{1}\u{1f}",
            "é😀",
            "</script>",
        ] {
            let n = write_str(s, &mut buf).unwrap();
            assert_eq!(n, str_len(s));
            let raw = std::string::String::from_utf8(buf[..n].to_vec()).unwrap();
            assert!(ok(&raw), "{raw}");
            assert!(str_eq(&raw, s));
            let mut out = [0u8; 64];
            assert_eq!(unescape(&raw, &mut out), Ok(s));
        }
        assert!(str_eq(r#""\uD83D\uDE00""#, "😀"));
        assert!(str_eq(r#""\uD83D""#, "\u{fffd}"));
        assert!(!str_eq(r#""ab""#, "a"));
        assert!(!str_eq("1", "1"));
        // Unterminated, ending inside a multi-byte character: no panic.
        assert!(!str_eq("\"é", "x"));
        assert!(!str_eq("\"", ""));
        let mut small = [0u8; 3];
        assert_eq!(
            write_str("abcd", &mut small),
            Err(Error::BufferTooSmall { required: 6 })
        );
        assert_eq!(small, [0; 3]);
        assert_eq!(
            unescape(r#""abcd""#, &mut small),
            Err(Error::BufferTooSmall { required: 4 })
        );
        assert_eq!(unescape("12", &mut small), Err(Error::NotAString));
    }
}
