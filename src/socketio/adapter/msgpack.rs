//! A small MessagePack codec: what the Node Redis adapter's messages need,
//! written the way notepack.io 3 writes it, read the way any encoder may.
//!
//! There is no tree: [`Reader`] yields one item at a time (a container
//! gives its length, its members follow), and the transcoders
//! ([`json_to_msgpack`], [`msgpack_to_json`]) walk JSON text and MessagePack
//! bytes side by side, iteratively, with a depth bound.
//!
//! Writing goes through a [`Sink`]: a [`Counter`] measures, a [`SliceSink`]
//! writes. Encoders run once to measure and once to write, so a buffer that
//! is too small is reported with the size it needs and left untouched.

use super::Error;
use crate::json;

/// Where encoded bytes go.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

/// A [`Sink`] that only counts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// A [`Sink`] over a slice measured beforehand (by a [`Counter`]): writes
/// past its end are dropped, and `len` still counts them.
#[derive(Debug)]
pub struct SliceSink<'a> {
    /// The output.
    pub out: &'a mut [u8],
    /// Bytes put so far.
    pub len: usize,
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.out.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }
}

/// Runs `f` once into a [`Counter`], then, when it fits, into `out`; returns
/// the length written. [`Error::BufferTooSmall`] leaves `out` untouched.
pub fn measured(
    out: &mut [u8],
    mut f: impl FnMut(&mut dyn Sink) -> Result<(), Error>,
) -> Result<usize, Error> {
    let mut count = Counter(0);
    f(&mut count)?;
    if count.0 > out.len() {
        return Err(Error::BufferTooSmall { required: count.0 });
    }
    let mut sink = SliceSink { out, len: 0 };
    f(&mut sink)?;
    Ok(sink.len)
}

/// Writes `nil`.
pub fn write_nil(w: &mut dyn Sink) {
    w.put(&[0xc0]);
}

/// Writes `true` or `false`.
pub fn write_bool(w: &mut dyn Sink, v: bool) {
    w.put(&[if v { 0xc3 } else { 0xc2 }]);
}

/// Writes a non-negative integer in the smallest form (positive fixint,
/// uint8 to uint64).
pub fn write_uint(w: &mut dyn Sink, v: u64) {
    if v < 0x80 {
        w.put(&[v as u8]);
    } else if v <= 0xff {
        w.put(&[0xcc, v as u8]);
    } else if v <= 0xffff {
        w.put(&[0xcd]);
        w.put(&(v as u16).to_be_bytes());
    } else if v <= 0xffff_ffff {
        w.put(&[0xce]);
        w.put(&(v as u32).to_be_bytes());
    } else {
        w.put(&[0xcf]);
        w.put(&v.to_be_bytes());
    }
}

/// Writes an integer in the smallest form (negative fixint, int8 to int64
/// for negative values).
pub fn write_int(w: &mut dyn Sink, v: i64) {
    if v >= 0 {
        write_uint(w, v as u64);
    } else if v >= -32 {
        w.put(&[v as u8]);
    } else if v >= -128 {
        w.put(&[0xd0, v as u8]);
    } else if v >= -32768 {
        w.put(&[0xd1]);
        w.put(&(v as i16).to_be_bytes());
    } else if v >= -(1 << 31) {
        w.put(&[0xd2]);
        w.put(&(v as i32).to_be_bytes());
    } else {
        w.put(&[0xd3]);
        w.put(&v.to_be_bytes());
    }
}

/// Writes a float64.
pub fn write_f64(w: &mut dyn Sink, v: f64) {
    w.put(&[0xcb]);
    w.put(&v.to_bits().to_be_bytes());
}

fn write_len(w: &mut dyn Sink, len: usize, fix: Option<(u8, usize)>, codes: [u8; 3]) {
    match fix {
        Some((base, max)) if len <= max => w.put(&[base | len as u8]),
        _ if len <= 0xff && codes[0] != 0 => w.put(&[codes[0], len as u8]),
        _ if len <= 0xffff => {
            w.put(&[codes[1]]);
            w.put(&(len as u16).to_be_bytes());
        }
        _ => {
            w.put(&[codes[2]]);
            w.put(&(len as u32).to_be_bytes());
        }
    }
}

/// Writes the header of a string of `len` bytes.
pub fn write_str_header(w: &mut dyn Sink, len: usize) {
    write_len(w, len, Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
}

/// Writes a string.
pub fn write_str(w: &mut dyn Sink, s: &str) {
    write_str_header(w, s.len());
    w.put(s.as_bytes());
}

/// Writes binary data (bin8, bin16, bin32).
pub fn write_bin(w: &mut dyn Sink, b: &[u8]) {
    write_len(w, b.len(), None, [0xc4, 0xc5, 0xc6]);
    w.put(b);
}

/// Writes the header of an array of `len` items.
pub fn write_array_header(w: &mut dyn Sink, len: usize) {
    write_len(w, len, Some((0x90, 15)), [0, 0xdc, 0xdd]);
}

/// Writes the header of a map of `len` pairs.
pub fn write_map_header(w: &mut dyn Sink, len: usize) {
    write_len(w, len, Some((0x80, 15)), [0, 0xde, 0xdf]);
}

/// One MessagePack item; a container's members follow it in the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// `nil`, or the `undefined` of older notepack (`d4 00 00`).
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    Uint(u64),
    /// A float32 or float64.
    Float(f64),
    /// A string's bytes (not yet checked to be UTF-8).
    Str(&'a [u8]),
    /// Binary data.
    Bin(&'a [u8]),
    /// An array of this many items.
    Array(usize),
    /// A map of this many key and value pairs.
    Map(usize),
    /// An extension type other than `undefined`.
    Ext(i8, &'a [u8]),
}

/// Reads MessagePack items from a byte slice, one at a time.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.b.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |v, &b| v << 8 | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, Error> {
        usize::try_from(self.uint(n)?).map_err(|_| Error::Truncated)
    }

    /// The next item. Errors: [`Error::Truncated`], [`Error::Malformed`]
    /// (the reserved byte `c1`).
    pub fn item(&mut self) -> Result<Item<'a>, Error> {
        let t = self.take(1)?[0];
        Ok(match t {
            0x00..=0x7f => Item::Uint(t.into()),
            0x80..=0x8f => Item::Map((t & 0x0f).into()),
            0x90..=0x9f => Item::Array((t & 0x0f).into()),
            0xa0..=0xbf => Item::Str(self.take((t & 0x1f).into())?),
            0xc0 => Item::Nil,
            0xc1 => return Err(Error::Malformed),
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (t - 0xc4))?;
                Item::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (t - 0xc7))?;
                self.ext(n)?
            }
            0xca => Item::Float(f32::from_bits(self.uint(4)? as u32).into()),
            0xcb => Item::Float(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => Item::Uint(self.uint(1 << (t - 0xcc))?),
            0xd0..=0xd3 => {
                let n = 1 << (t - 0xd0);
                let raw = self.uint(n)?;
                // Sign-extend from n bytes.
                let shift = 64 - 8 * n as u32;
                let v = ((raw << shift) as i64) >> shift;
                if v >= 0 {
                    Item::Uint(v as u64)
                } else {
                    Item::Int(v)
                }
            }
            0xd4..=0xd8 => self.ext(1 << (t - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.len(1 << (t - 0xd9))?;
                Item::Str(self.take(n)?)
            }
            0xdc | 0xdd => Item::Array(self.len(2 << (t - 0xdc))?),
            0xde | 0xdf => Item::Map(self.len(2 << (t - 0xde))?),
            0xe0..=0xff => Item::Int(i64::from(t as i8)),
        })
    }

    fn ext(&mut self, n: usize) -> Result<Item<'a>, Error> {
        let kind = self.take(1)?[0] as i8;
        let data = self.take(n)?;
        Ok(if kind == 0 && data.iter().all(|&b| b == 0) && n == 1 {
            Item::Nil
        } else {
            Item::Ext(kind, data)
        })
    }

    /// Reads a string item as `&str`. Errors: [`Error::Malformed`] for
    /// anything else, or bytes that are not UTF-8.
    pub fn str(&mut self) -> Result<&'a str, Error> {
        match self.item()? {
            Item::Str(s) => core::str::from_utf8(s).map_err(|_| Error::Malformed),
            _ => Err(Error::Malformed),
        }
    }

    /// Skips one value (a container with all its members), iteratively:
    /// at most [`json::MAX_DEPTH`] levels, past which [`Error::TooDeep`].
    /// Returns the raw bytes of the value.
    pub fn skip(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        let mut pending = [0usize; json::MAX_DEPTH + 1];
        let mut depth = 0;
        pending[0] = 1;
        loop {
            while pending[depth] == 0 {
                if depth == 0 {
                    return Ok(&self.b[start..self.pos]);
                }
                depth -= 1;
            }
            pending[depth] -= 1;
            let n = match self.item()? {
                Item::Array(n) => n,
                Item::Map(n) => n.checked_mul(2).ok_or(Error::Truncated)?,
                _ => continue,
            };
            if n > self.b.len() - self.pos {
                // Each item takes a byte at least.
                return Err(Error::Truncated);
            }
            if depth == json::MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            depth += 1;
            pending[depth] = n;
        }
    }
}

/// When the JSON object at `text[i..]` is a Socket.IO attachment placeholder
/// `{"_placeholder":true,"num":N}`: `N` and the object's length.
fn placeholder_at(text: &str, i: usize) -> Option<(usize, usize)> {
    let rest = text[i + 1..].trim_start_matches([' ', '\t', '\n', '\r']);
    // Cheap first: the first key names a placeholder member.
    if !rest.starts_with("\"_placeholder\"") && !rest.starts_with("\"num\"") {
        return None;
    }
    let obj = &text[i..i + json::value_len(&text[i..])];
    if json::get(obj, "_placeholder")? != "true" {
        return None;
    }
    let n = json::get(obj, "num")
        .and_then(json::as_u64)
        .and_then(|n| usize::try_from(n).ok())?;
    Some((n, obj.len()))
}

/// Writes the JSON number `raw` as notepack.io would write the JavaScript
/// number it denotes: an integer in its smallest form when it is one that a
/// double holds exactly, a float64 otherwise.
fn write_number(w: &mut dyn Sink, raw: &str) -> Result<(), Error> {
    let is_int = !raw.contains(['.', 'e', 'E']);
    if is_int {
        if let Ok(v) = raw.parse::<i64>() {
            // Beyond 2^53 a JavaScript number is not exact; notepack then
            // writes the double's integer value, which this matches up to
            // 2^64.
            write_int(w, v);
            return Ok(());
        }
        if let Ok(v) = raw.parse::<u64>() {
            write_uint(w, v);
            return Ok(());
        }
    }
    let v: f64 = raw.parse().map_err(|_| Error::Malformed)?;
    if let Some(i) = integral(v) {
        // `1.0`, `2e3`: an integer to JavaScript.
        write_int(w, i);
    } else {
        write_f64(w, v);
    }
    Ok(())
}

/// `v` as an integer, when it is one a double holds exactly (below 2^53).
fn integral(v: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (-EXACT < v && v < EXACT && (v as i64) as f64 == v).then_some(v as i64)
}

/// The length of the JSON string `raw` (with quotes) once unescaped.
fn unescaped_len(raw: &str) -> usize {
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains('\\') {
        return inner.len();
    }
    json::chars(raw).map(char::len_utf8).sum()
}

fn write_json_str(w: &mut dyn Sink, raw: &str) {
    let inner = &raw[1..raw.len() - 1];
    write_str_header(w, unescaped_len(raw));
    if !inner.contains('\\') {
        w.put(inner.as_bytes());
        return;
    }
    for c in json::chars(raw) {
        let mut buf = [0u8; 4];
        w.put(c.encode_utf8(&mut buf).as_bytes());
    }
}

/// The number of values in the JSON array or object that starts at `b[i]`
/// (valid JSON): its commas at depth one, plus one unless it is empty.
fn count_members(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut count = 0;
    let mut empty = true;
    let mut in_str = false;
    let mut k = i;
    while let Some(&c) = b.get(k) {
        k += 1;
        if in_str {
            match c {
                b'\\' => k += 1,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'[' | b'{' => {
                depth += 1;
                if depth > 1 {
                    empty = false;
                }
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return if empty { 0 } else { count + 1 };
                }
            }
            b',' if depth == 1 => count += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_str = true;
                empty = false;
            }
            _ => empty = false,
        }
    }
    count + 1
}

/// Writes the JSON value `text` (valid, at most `max_depth` deep) as
/// MessagePack, iteratively; each attachment placeholder becomes a `bin`
/// with the bytes of its attachment.
///
/// Errors: [`Error::Json`] for invalid JSON, [`Error::TooDeep`],
/// [`Error::InvalidPlaceholder`] for a placeholder naming no attachment.
pub fn json_to_msgpack(
    w: &mut dyn Sink,
    text: &str,
    attachments: &[&[u8]],
    max_depth: usize,
) -> Result<(), Error> {
    json::validate(text, max_depth).map_err(|e| match e {
        json::Error::TooDeep => Error::TooDeep,
        _ => Error::Json,
    })?;
    let b = text.as_bytes();
    // Bit d set: the container at depth d+1 is an object.
    let mut objects: u64 = 0;
    let mut depth = 0usize;
    let mut i = 0usize;
    let ws = |i: &mut usize| {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(*i) {
            *i += 1;
        }
    };
    ws(&mut i);
    'value: loop {
        // A value starts at `i`; an object member's key was written.
        match b[i] {
            b'{' | b'[' => {
                let is_object = b[i] == b'{';
                if is_object && let Some((n, len)) = placeholder_at(text, i) {
                    let a = attachments.get(n).ok_or(Error::InvalidPlaceholder)?;
                    write_bin(w, a);
                    i += len;
                } else {
                    let n = count_members(b, i);
                    if is_object {
                        write_map_header(w, n);
                        objects |= 1 << depth;
                    } else {
                        write_array_header(w, n);
                        objects &= !(1 << depth);
                    }
                    depth += 1;
                    i += 1;
                    if n == 0 {
                        ws(&mut i);
                        i += 1;
                        depth -= 1;
                    } else {
                        ws(&mut i);
                        if is_object {
                            i = key(w, text, i);
                        }
                        continue 'value;
                    }
                }
            }
            b'"' => {
                let len = json::value_len(&text[i..]);
                write_json_str(w, &text[i..i + len]);
                i += len;
            }
            b't' => {
                write_bool(w, true);
                i += 4;
            }
            b'f' => {
                write_bool(w, false);
                i += 5;
            }
            b'n' => {
                write_nil(w);
                i += 4;
            }
            _ => {
                let len = json::value_len(&text[i..]);
                write_number(w, &text[i..i + len])?;
                i += len;
            }
        }
        // A value ended: close containers until one has more.
        loop {
            if depth == 0 {
                return Ok(());
            }
            let in_object = objects & (1 << (depth - 1)) != 0;
            ws(&mut i);
            if b[i] == b',' {
                i += 1;
                ws(&mut i);
                if in_object {
                    i = key(w, text, i);
                }
                continue 'value;
            }
            i += 1;
            depth -= 1;
        }
    }
}

/// Writes the member key at `i` (valid JSON) as a string; returns the start
/// of its value.
fn key(w: &mut dyn Sink, text: &str, i: usize) -> usize {
    let b = text.as_bytes();
    let len = json::value_len(&text[i..]);
    write_json_str(w, &text[i..i + len]);
    let mut k = i + len;
    while let Some(b' ' | b'\t' | b'\n' | b'\r' | b':') = b.get(k) {
        k += 1;
    }
    k
}

/// What [`msgpack_to_json`] does with a `bin` value.
pub trait BinSink<'a> {
    /// Takes binary `data`; returns its attachment number.
    fn bin(&mut self, data: &'a [u8]) -> Result<usize, Error>;
}

/// Counts `bin` values, numbering them in order.
#[derive(Debug, Default)]
pub struct BinCounter(pub usize);

impl BinSink<'_> for BinCounter {
    fn bin(&mut self, _: &[u8]) -> Result<usize, Error> {
        self.0 += 1;
        Ok(self.0 - 1)
    }
}

fn write_json_f64(w: &mut dyn Sink, v: f64) {
    use core::fmt::Write;
    struct Adapt<'s>(&'s mut dyn Sink);
    impl Write for Adapt<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.put(s.as_bytes());
            Ok(())
        }
    }
    if !v.is_finite() {
        // JSON.stringify's answer.
        w.put(b"null");
    } else if let Some(i) = integral(v) {
        // JavaScript prints integral doubles without a fraction.
        if i < 0 {
            w.put(b"-");
        }
        write_json_uint(w, i.unsigned_abs());
    } else {
        // Rust's shortest round-trip form: `0.5`, `1e-7`.
        let _ = write!(Adapt(w), "{v:?}");
    }
}

fn write_json_uint(w: &mut dyn Sink, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    w.put(&buf[i..]);
}

/// Writes `s` as the inside of a JSON string (escaped, without the quotes).
pub(crate) fn write_json_string(w: &mut dyn Sink, s: &str) {
    let mut buf = [0u8; 64];
    // Chunks whose escaped form fits the stack buffer: at most 6 bytes each.
    let mut rest = s;
    while !rest.is_empty() {
        let mut cut = rest.len().min(10);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (chunk, tail) = rest.split_at(cut);
        let n = json::write_str(chunk, &mut buf).unwrap_or(2);
        // Without the quotes: they go around the whole string.
        w.put(&buf[1..n - 1]);
        rest = tail;
    }
}

/// Writes the MessagePack value at `r` as JSON text, iteratively, at most
/// `max_depth` deep: `bin` values become attachment placeholders
/// `{"_placeholder":true,"num":N}`, numbered by `bins`; `nil` is `null`.
///
/// Errors: [`Error::TooDeep`], [`Error::Truncated`], [`Error::Malformed`]
/// (a string that is not UTF-8, a map key that is not a string),
/// [`Error::Unsupported`] (an extension type).
pub fn msgpack_to_json<'a>(
    w: &mut dyn Sink,
    r: &mut Reader<'a>,
    bins: &mut dyn BinSink<'a>,
    max_depth: usize,
) -> Result<(), Error> {
    let max_depth = max_depth.min(json::MAX_DEPTH);
    // Per open container: items left, and whether it is a map (whose items
    // alternate key, value).
    let mut left = [0usize; json::MAX_DEPTH + 1];
    let mut is_map: u64 = 0;
    let mut first: u64 = 0;
    let mut depth = 0usize;
    left[0] = 1;
    loop {
        while left[depth] == 0 {
            if depth == 0 {
                return Ok(());
            }
            w.put(if is_map & (1 << (depth - 1)) != 0 {
                b"}"
            } else {
                b"]"
            });
            depth -= 1;
        }
        left[depth] -= 1;
        let in_map = depth > 0 && is_map & (1 << (depth - 1)) != 0;
        let key = in_map && left[depth] % 2 == 1;
        if depth > 0 {
            let bit = 1u64 << (depth - 1);
            if first & bit != 0 {
                first &= !bit;
            } else if !in_map || key {
                w.put(b",");
            }
        }
        let item = r.item()?;
        if key {
            let Item::Str(s) = item else {
                return Err(Error::Malformed);
            };
            let s = core::str::from_utf8(s).map_err(|_| Error::Malformed)?;
            w.put(b"\"");
            write_json_string(w, s);
            w.put(b"\":");
            continue;
        }
        match item {
            Item::Nil => w.put(b"null"),
            Item::Bool(true) => w.put(b"true"),
            Item::Bool(false) => w.put(b"false"),
            Item::Uint(v) => write_json_uint(w, v),
            Item::Int(v) => {
                w.put(b"-");
                write_json_uint(w, v.unsigned_abs());
            }
            Item::Float(v) => write_json_f64(w, v),
            Item::Str(s) => {
                let s = core::str::from_utf8(s).map_err(|_| Error::Malformed)?;
                w.put(b"\"");
                write_json_string(w, s);
                w.put(b"\"");
            }
            Item::Bin(data) => {
                let n = bins.bin(data)?;
                w.put(b"{\"_placeholder\":true,\"num\":");
                write_json_uint(w, n as u64);
                w.put(b"}");
            }
            Item::Array(n) | Item::Map(n) => {
                let map = matches!(item, Item::Map(_));
                let n = if map {
                    n.checked_mul(2).ok_or(Error::Truncated)?
                } else {
                    n
                };
                if n > r.b.len() - r.pos {
                    return Err(Error::Truncated);
                }
                if depth == max_depth {
                    return Err(Error::TooDeep);
                }
                w.put(if map { b"{" } else { b"[" });
                let bit = 1u64 << depth;
                if map {
                    is_map |= bit;
                } else {
                    is_map &= !bit;
                }
                first |= bit;
                depth += 1;
                left[depth] = n;
            }
            Item::Ext(..) => return Err(Error::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn to_mp(json: &str, att: &[&[u8]]) -> Vec<u8> {
        let mut c = Counter(0);
        json_to_msgpack(&mut c, json, att, 32).unwrap();
        let mut out = std::vec![0u8; c.0];
        let n = measured(&mut out, |w| json_to_msgpack(w, json, att, 32)).unwrap();
        assert_eq!(n, c.0);
        out
    }

    fn to_json(mp: &[u8]) -> (String, usize) {
        let mut bins = BinCounter(0);
        let mut c = Counter(0);
        msgpack_to_json(&mut c, &mut Reader::new(mp), &mut bins, 32).unwrap();
        let mut out = std::vec![0u8; c.0];
        let n = measured(&mut out, |w| {
            msgpack_to_json(w, &mut Reader::new(mp), &mut BinCounter(0), 32)
        })
        .unwrap();
        (String::from_utf8(out[..n].to_vec()).unwrap(), bins.0)
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn notepack_integer_forms() {
        for (json, mp) in [
            ("0", "00"),
            ("127", "7f"),
            ("128", "cc80"),
            ("256", "cd0100"),
            ("65536", "ce00010000"),
            ("4294967296", "cf0000000100000000"),
            ("-1", "ff"),
            ("-32", "e0"),
            ("-33", "d0df"),
            ("-129", "d1ff7f"),
            ("-32769", "d2ffff7fff"),
            ("-2147483649", "d3ffffffff7fffffff"),
            ("0.5", "cb3fe0000000000000"),
            ("2.0", "02"),
            ("1e3", "cd03e8"),
            ("-0.0", "00"),
            ("\"\"", "a0"),
            ("\"a\\nb\"", "a3610a62"),
            ("[]", "90"),
            ("{}", "80"),
            ("[[],{}]", "929080"),
            (
                r#"{"a":[1,{"b":null}],"c":true}"#,
                "82a161920181a162c0a163c3",
            ),
        ] {
            let mp = hex(mp);
            assert_eq!(to_mp(json, &[]), mp, "{json}");
        }
    }

    #[test]
    fn round_trips() {
        for json in [
            r#"["hello","world"]"#,
            r#"[{"a":1,"b":[true,false,null]},-1,3.5,"é😀"]"#,
            r#"["q\"\\\n\t\u0001/",[],{},[[]],{"k":{}}]"#,
            r#"[1e300,-2.25,0.1,123456789012]"#,
            r#"["x",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]]"#,
        ] {
            let att: [&[u8]; 2] = [b"ab", &[0; 300]];
            let mp = to_mp(json, &att);
            let (back, bins) = to_json(&mp);
            // Placeholders are numbered in order on the way back.
            let renumbered: [&[u8]; 2] = [att[1], att[0]];
            let again = to_mp(&back, if bins > 0 { &renumbered } else { &att });
            assert_eq!(mp, again, "{json} -> {back}");
            if json.contains("_placeholder") {
                assert_eq!(bins, 2);
                assert_eq!(
                    back,
                    r#"["x",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#
                );
            }
        }
        assert_eq!(to_json(&hex("cb3fe0000000000000")).0, "0.5");
        assert_eq!(to_json(&hex("cb4059000000000000")).0, "100");
        assert_eq!(to_json(&hex("ca3f800000")).0, "1");
        assert_eq!(to_json(&hex("d40000")).0, "null");
        assert_eq!(to_json(&hex("92c0c3")).0, "[null,true]");
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut bins = BinCounter(0);
        for (mp, e) in [
            ("", Error::Truncated),
            ("c1", Error::Malformed),
            ("92c0", Error::Truncated),
            ("dcffff", Error::Truncated),
            ("dfffffffff", Error::Truncated),
            ("a2ff", Error::Truncated),
            ("a1ff", Error::Malformed),
            ("810102", Error::Malformed),
            ("d70100000000000000", Error::Truncated),
            ("d5010000", Error::Unsupported),
        ] {
            let mp = hex(mp);
            assert_eq!(
                msgpack_to_json(&mut Counter(0), &mut Reader::new(&mp), &mut bins, 32),
                Err(e)
            );
        }
        let deep = std::vec![0x91u8; 20];
        assert_eq!(
            msgpack_to_json(&mut Counter(0), &mut Reader::new(&deep), &mut bins, 32),
            Err(Error::Truncated)
        );
        let mut deep = std::vec![0x91u8; 40];
        deep.push(0xc0);
        assert_eq!(
            msgpack_to_json(&mut Counter(0), &mut Reader::new(&deep), &mut bins, 32),
            Err(Error::TooDeep)
        );
        let mut deep = std::vec![0x91u8; 100];
        deep.push(0xc0);
        assert_eq!(Reader::new(&deep).skip(), Err(Error::TooDeep));
        assert_eq!(
            json_to_msgpack(
                &mut Counter(0),
                "[{\"_placeholder\":true,\"num\":2}]",
                &[],
                32
            ),
            Err(Error::InvalidPlaceholder)
        );
        assert_eq!(
            json_to_msgpack(&mut Counter(0), "[1,]", &[], 32),
            Err(Error::Json)
        );
        let mut small = [7u8; 2];
        assert_eq!(
            measured(&mut small, |w| json_to_msgpack(w, "\"abc\"", &[], 32)),
            Err(Error::BufferTooSmall { required: 4 })
        );
        assert_eq!(small, [7; 2]);
    }
}
