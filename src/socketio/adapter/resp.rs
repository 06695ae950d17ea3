//! A Redis client codec, Sans-IO: commands out (RESP2 arrays of bulk
//! strings, what every Redis takes), replies and pub/sub messages in (RESP2,
//! and RESP3 push frames `>` for a connection switched to RESP3).
//!
//! The decoder is the httparse kind: [`parse`] looks at the bytes received
//! so far and either returns one whole frame and its length, or `Ok(None)`
//! when more bytes are needed; the caller keeps the unconsumed rest and calls
//! again with more. It builds no tree: a frame is a [`Frame`] of at most
//! [`MAX_ITEMS`] flat items (enough for every reply and message of SUBSCRIBE,
//! PSUBSCRIBE, PUBLISH and PUBSUB NUMSUB of a few channels); nested
//! aggregates are skipped and named [`Value::Nested`]. Lengths are bounded by
//! [`Limits`]. Errors are the adapter's [`Error`]: [`Error::Protocol`],
//! [`Error::TooLarge`], [`Error::BufferTooSmall`].
//!
//! ```
//! use sockwire::socketio::adapter::resp::{self, Frame, Limits, PubSub};
//! let mut out = [0u8; 64];
//! let n = resp::encode(&[b"PSUBSCRIBE", b"socket.io#/#*"], &mut out).unwrap();
//! assert_eq!(&out[..n], b"*2\r\n$10\r\nPSUBSCRIBE\r\n$13\r\nsocket.io#/#*\r\n");
//! let input = b"*4\r\n$8\r\npmessage\r\n$1\r\np\r\n$2\r\nch\r\n$3\r\nabc\r\n";
//! assert_eq!(resp::parse(&input[..10], &Limits::DEFAULT), Ok(None)); // need more
//! let (frame, used) = resp::parse(input, &Limits::DEFAULT).unwrap().unwrap();
//! assert_eq!(used, input.len());
//! assert_eq!(
//!     frame.pubsub(),
//!     Some(PubSub::Message { pattern: Some(b"p"), channel: b"ch", message: b"abc" })
//! );
//! ```

pub use super::Error;

/// Bounds the decoder enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Longest bulk string (a published message). Default 1 MiB.
    pub max_bulk: usize,
    /// Longest simple line (status, error, number). Default 1024.
    pub max_line: usize,
    /// Most elements in one aggregate. Default 1024.
    pub max_elements: usize,
    /// Deepest nesting. Default 8.
    pub max_depth: usize,
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_bulk: 1 << 20,
        max_line: 1024,
        max_elements: 1024,
        max_depth: 8,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The most items a [`Frame`] keeps; further ones are counted, not kept.
pub const MAX_ITEMS: usize = 8;

/// The number of bytes of `args` as a RESP command.
pub fn encoded_len(args: &[&[u8]]) -> usize {
    digits_len(args.len())
        + 3
        + args
            .iter()
            .map(|a| digits_len(a.len()) + 5 + a.len())
            .sum::<usize>()
}

fn digits_len(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn put_num(out: &mut [u8], at: &mut usize, mut n: usize) {
    let d = digits_len(n);
    for k in (0..d).rev() {
        out[*at + k] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    *at += d;
}

fn put(out: &mut [u8], at: &mut usize, b: &[u8]) {
    out[*at..*at + b.len()].copy_from_slice(b);
    *at += b.len();
}

/// Writes the command `args` (the name first) as a RESP array of bulk
/// strings; returns its length. [`Error::BufferTooSmall`] leaves `out`
/// untouched.
pub fn encode(args: &[&[u8]], out: &mut [u8]) -> Result<usize, Error> {
    let need = encoded_len(args);
    if need > out.len() {
        return Err(Error::BufferTooSmall { required: need });
    }
    let mut at = 0;
    put(out, &mut at, b"*");
    put_num(out, &mut at, args.len());
    put(out, &mut at, b"\r\n");
    for a in args {
        put(out, &mut at, b"$");
        put_num(out, &mut at, a.len());
        put(out, &mut at, b"\r\n");
        put(out, &mut at, a);
        put(out, &mut at, b"\r\n");
    }
    Ok(at)
}

/// One value of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A simple string (`+OK`), or a RESP3 big number or verbatim string.
    Simple(&'a [u8]),
    /// An error (`-ERR ...`, RESP3 `!`).
    Error(&'a [u8]),
    /// An integer.
    Integer(i64),
    /// A bulk string.
    Bulk(&'a [u8]),
    /// A null (RESP2 `$-1`, `*-1`; RESP3 `_`).
    Null,
    /// A RESP3 boolean.
    Bool(bool),
    /// A RESP3 double, as its text.
    Double(&'a [u8]),
    /// An aggregate inside the frame (skipped), with its element count.
    Nested(usize),
}

/// What the frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// A single value (its item is the first).
    Single,
    /// An array (RESP2 `*`; RESP3 `*`, `~`, `%` (pairs counted twice)).
    Array,
    /// A RESP3 push (`>`): pub/sub messages on a RESP3 connection.
    Push,
}

/// One top-level RESP frame, its first [`MAX_ITEMS`] items borrowed from the
/// input.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame<'a> {
    /// What it is.
    pub kind: Kind,
    /// Its items (one for [`Kind::Single`]).
    pub items: heapless::Vec<Value<'a>, MAX_ITEMS>,
    /// The element count of an aggregate (may exceed the items kept).
    pub len: usize,
}

/// A pub/sub message or subscription reply, from [`Frame::pubsub`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PubSub<'a> {
    /// A published message: `message` (SUBSCRIBE) or `pmessage`
    /// (PSUBSCRIBE, with the pattern).
    Message {
        /// The pattern that matched, for `pmessage`.
        pattern: Option<&'a [u8]>,
        /// The channel.
        channel: &'a [u8],
        /// The message.
        message: &'a [u8],
    },
    /// A confirmation: `subscribe`, `psubscribe`, `unsubscribe`,
    /// `punsubscribe`, with the channel or pattern and the connection's
    /// subscription count.
    Subscription {
        /// The confirmation's kind, as Redis names it.
        kind: &'a [u8],
        /// The channel or pattern.
        channel: &'a [u8],
        /// Subscriptions now held.
        count: i64,
    },
}

impl<'a> Frame<'a> {
    /// The item `i` as bytes (a bulk or simple string).
    pub fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        match self.items.get(i)? {
            Value::Bulk(b) | Value::Simple(b) => Some(b),
            _ => None,
        }
    }

    /// The item `i` as an integer.
    pub fn integer(&self, i: usize) -> Option<i64> {
        match self.items.get(i)? {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The frame as a pub/sub message or confirmation, if it is one.
    pub fn pubsub(&self) -> Option<PubSub<'a>> {
        if self.kind == Kind::Single {
            return None;
        }
        let kind = self.bytes(0)?;
        match (kind, self.len) {
            (b"message", 3) => Some(PubSub::Message {
                pattern: None,
                channel: self.bytes(1)?,
                message: self.bytes(2)?,
            }),
            (b"pmessage", 4) => Some(PubSub::Message {
                pattern: Some(self.bytes(1)?),
                channel: self.bytes(2)?,
                message: self.bytes(3)?,
            }),
            (b"subscribe" | b"psubscribe" | b"unsubscribe" | b"punsubscribe", 3) => {
                Some(PubSub::Subscription {
                    kind,
                    channel: self.bytes(1)?,
                    count: self.integer(2)?,
                })
            }
            _ => None,
        }
    }

    /// The reply to `PUBSUB NUMSUB channel`: the channel's subscriber count.
    pub fn numsub(&self, channel: &[u8]) -> Option<i64> {
        if self.kind != Kind::Array {
            return None;
        }
        (0..self.items.len() / 2)
            .find(|&k| self.bytes(2 * k) == Some(channel))
            .and_then(|k| self.integer(2 * k + 1))
    }

    /// The error text, if the frame is an error reply.
    pub fn error(&self) -> Option<&'a [u8]> {
        match (self.kind, self.items.first()) {
            (Kind::Single, Some(Value::Error(e))) => Some(e),
            _ => None,
        }
    }
}

/// A cursor over the input.
struct Cur<'a, 'l> {
    b: &'a [u8],
    pos: usize,
    limits: &'l Limits,
}

/// `Ok(None)`: need more bytes.
type Step<T> = Result<Option<T>, Error>;

impl<'a> Cur<'a, '_> {
    /// The line at the cursor, without its CRLF.
    fn line(&mut self) -> Step<&'a [u8]> {
        let rest = &self.b[self.pos..];
        let window = &rest[..rest.len().min(self.limits.max_line + 2)];
        match window.iter().position(|&c| c == b'\n') {
            Some(k) => {
                if k == 0 || rest[k - 1] != b'\r' {
                    return Err(Error::Protocol);
                }
                self.pos += k + 1;
                Ok(Some(&rest[..k - 1]))
            }
            None if rest.len() > self.limits.max_line + 1 => Err(Error::TooLarge),
            None => Ok(None),
        }
    }

    fn int(line: &[u8]) -> Result<i64, Error> {
        core::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Error::Protocol)
    }

    /// Reads one value; aggregates are returned as `(kind, len)` for the
    /// caller to walk.
    fn value(&mut self) -> Step<Result<Value<'a>, (Kind, usize)>> {
        let Some(&t) = self.b.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        let len = |n: i64, max: usize| -> Result<Option<usize>, Error> {
            match n {
                -1 => Ok(None),
                n if n < 0 => Err(Error::Protocol),
                n => {
                    let n = usize::try_from(n).map_err(|_| Error::TooLarge)?;
                    if n > max {
                        return Err(Error::TooLarge);
                    }
                    Ok(Some(n))
                }
            }
        };
        Ok(Some(Ok(match t {
            b'+' | b'(' => Value::Simple(line),
            b'-' => Value::Error(line),
            b':' => Value::Integer(Self::int(line)?),
            b'_' => Value::Null,
            b',' => Value::Double(line),
            b'#' => match line {
                b"t" => Value::Bool(true),
                b"f" => Value::Bool(false),
                _ => return Err(Error::Protocol),
            },
            b'$' | b'!' | b'=' => {
                let Some(n) = len(Self::int(line)?, self.limits.max_bulk)? else {
                    return Ok(Some(Ok(Value::Null)));
                };
                let Some(data) = self.b.get(self.pos..self.pos + n + 2) else {
                    return Ok(None);
                };
                if &data[n..] != b"\r\n" {
                    return Err(Error::Protocol);
                }
                self.pos += n + 2;
                let data = &data[..n];
                match t {
                    b'!' => Value::Error(data),
                    // Verbatim: `txt:` then the text.
                    b'=' => Value::Simple(data.get(4..).ok_or(Error::Protocol)?),
                    _ => Value::Bulk(data),
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let Some(n) = len(Self::int(line)?, self.limits.max_elements)? else {
                    return Ok(Some(Ok(Value::Null)));
                };
                let n = if matches!(t, b'%' | b'|') { 2 * n } else { n };
                let kind = if t == b'>' { Kind::Push } else { Kind::Array };
                return Ok(Some(Err((kind, n))));
            }
            _ => return Err(Error::Protocol),
        })))
    }

    /// Skips `n` values, nested at most `depth` more levels.
    fn skip(&mut self, n: usize, depth: usize) -> Step<()> {
        for _ in 0..n {
            match self.value()? {
                None => return Ok(None),
                Some(Ok(_)) => {}
                Some(Err((_, m))) => {
                    if depth == 0 {
                        return Err(Error::TooLarge);
                    }
                    if self.skip(m, depth - 1)?.is_none() {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(()))
    }
}

/// Parses one frame from the start of `input`: the frame and the bytes it
/// took, or `Ok(None)` when `input` holds only part of one. Attribute frames
/// (`|`, RESP3) are read as arrays.
///
/// Errors: [`Error::Protocol`], [`Error::TooLarge`]; the connection cannot
/// go on after either.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Option<(Frame<'a>, usize)>, Error> {
    let mut c = Cur {
        b: input,
        pos: 0,
        limits,
    };
    let Some(first) = c.value()? else {
        return Ok(None);
    };
    let mut frame = Frame {
        kind: Kind::Single,
        items: heapless::Vec::new(),
        len: 1,
    };
    match first {
        Ok(v) => {
            let _ = frame.items.push(v);
        }
        Err((kind, n)) => {
            frame.kind = kind;
            frame.len = n;
            for _ in 0..n {
                let v = match c.value()? {
                    None => return Ok(None),
                    Some(Ok(v)) => v,
                    Some(Err((_, m))) => {
                        if limits.max_depth < 2 {
                            return Err(Error::TooLarge);
                        }
                        if c.skip(m, limits.max_depth - 2)?.is_none() {
                            return Ok(None);
                        }
                        Value::Nested(m)
                    }
                };
                let _ = frame.items.push(v);
            }
        }
    }
    Ok(Some((frame, c.pos)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits::DEFAULT;

    #[test]
    fn commands() {
        let mut out = [0u8; 128];
        let args: [&[u8]; 3] = [b"PUBLISH", b"socket.io#/#", b"\x93\x00"];
        let n = encode(&args, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"*3\r\n$7\r\nPUBLISH\r\n$12\r\nsocket.io#/#\r\n$2\r\n\x93\x00\r\n"
        );
        assert_eq!(n, encoded_len(&args));
        let mut small = [9u8; 10];
        assert_eq!(
            encode(&args, &mut small),
            Err(Error::BufferTooSmall { required: n })
        );
        assert_eq!(small, [9; 10]);
        let big = [0u8; 12345];
        assert_eq!(encoded_len(&[&big]), 4 + 8 + 12345 + 2);
    }

    #[test]
    fn replies_at_every_split() {
        let stream: &[u8] = b"*3\r\n$10\r\npsubscribe\r\n$13\r\nsocket.io#/#*\r\n:1\r\n\
            :2\r\n+OK\r\n-ERR wrong\r\n$-1\r\n*4\r\n$12\r\nsocket.io#/#\r\n:3\r\n$1\r\nx\r\n:0\r\n\
            >4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$0\r\n\r\n\
            *2\r\n*1\r\n:1\r\n#t\r\n_\r\n,1.5\r\n%1\r\n+a\r\n:1\r\n";
        let mut all = std::vec::Vec::new();
        let mut at = 0;
        while let Some((f, n)) = parse(&stream[at..], &L).unwrap() {
            // Every prefix of the frame asks for more.
            for k in 0..n {
                assert_eq!(parse(&stream[at..at + k], &L), Ok(None), "{at}+{k}");
            }
            all.push(f);
            at += n;
        }
        assert_eq!(at, stream.len());
        assert_eq!(
            all[0].pubsub(),
            Some(PubSub::Subscription {
                kind: b"psubscribe",
                channel: b"socket.io#/#*",
                count: 1
            })
        );
        assert_eq!(all[1].integer(0), Some(2));
        assert_eq!(all[2].bytes(0), Some(&b"OK"[..]));
        assert_eq!(all[3].error(), Some(&b"ERR wrong"[..]));
        assert_eq!(all[4].items[0], Value::Null);
        assert_eq!(all[5].numsub(b"socket.io#/#"), Some(3));
        assert_eq!(all[5].numsub(b"x"), Some(0));
        assert_eq!(
            all[6].pubsub(),
            Some(PubSub::Message {
                pattern: Some(b"*"),
                channel: b"c",
                message: b""
            })
        );
        assert_eq!(all[6].kind, Kind::Push);
        assert_eq!(all[7].items[..], [Value::Nested(1), Value::Bool(true)]);
        assert_eq!(all[8].items[0], Value::Null);
        assert_eq!(all[9].items[0], Value::Double(b"1.5"));
        assert_eq!(all[10].len, 2);
    }

    #[test]
    fn bad_and_large_input() {
        for bad in [
            &b"?x\r\n"[..],
            b"+OK\n",
            b":x\r\n",
            b"$3\r\nabcd\r\n",
            b"*-2\r\n",
            b"#x\r\n",
        ] {
            assert_eq!(parse(bad, &L), Err(Error::Protocol), "{bad:?}");
        }
        let small = Limits {
            max_bulk: 4,
            max_line: 8,
            max_elements: 2,
            max_depth: 3,
        };
        assert_eq!(parse(b"$5\r\n", &small), Err(Error::TooLarge));
        assert_eq!(parse(b"*3\r\n", &small), Err(Error::TooLarge));
        assert_eq!(parse(b"+1234567890", &small), Err(Error::TooLarge));
        assert_eq!(
            parse(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", &small),
            Err(Error::TooLarge)
        );
        assert_eq!(
            parse(b"$99999999999999999999999\r\n", &L),
            Err(Error::Protocol)
        );
        // More items than kept: counted.
        let (f, _) = parse(
            b"*9\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n:9\r\n",
            &L,
        )
        .unwrap()
        .unwrap();
        assert_eq!((f.len, f.items.len()), (9, MAX_ITEMS));
    }
}
