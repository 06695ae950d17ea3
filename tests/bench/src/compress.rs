//! permessage-deflate rows: sockwire's own deflater and inflater beside zlib
//! (through `flate2`, the system library) at levels 1 and 6.
//!
//! Each message is compressed on its own (no context takeover: the compressor
//! is reset per message, as a server without `server_no_context_takeover`
//! memory would do for its first message) with a 32 KiB window, ending in a
//! sync flush whose `00 00 ff ff` is dropped, exactly what goes on the wire.
//! Inflating takes zlib level 6's output of the same message.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use crate::{Rng, binary_payload, text_payload};

/// The messages: chat-like text, JSON records, random bytes.
pub fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut r = Rng::new(7);
    let mut json = String::from("[");
    while json.len() < 16 * 1024 - 120 {
        let id = r.next_u64() % 100_000;
        let score = r.next_u64() % 1000;
        json.push_str(&format!(
            "{{\"id\":{id},\"name\":\"user-{id}\",\"score\":{score},\"online\":{},\"tags\":[\"a{}\",\"b\"]}},",
            score.is_multiple_of(2),
            score % 7
        ));
    }
    json.push_str("{}]");
    vec![
        ("text-16KiB", text_payload(16 * 1024).into_bytes()),
        ("json-16KiB", json.into_bytes()),
        ("binary-16KiB", binary_payload(16 * 1024)),
    ]
}

/// zlib raw deflate at `level`, one message, sync flush, tail dropped.
pub struct ZlibDeflate {
    c: Compress,
    out: Vec<u8>,
}

impl ZlibDeflate {
    /// A compressor at `level` (0-9).
    pub fn new(level: u32) -> Self {
        ZlibDeflate {
            c: Compress::new(Compression::new(level), false),
            out: Vec::with_capacity(1 << 20),
        }
    }
    /// Compresses `data`; returns the compressed length.
    pub fn run(&mut self, data: &[u8]) -> usize {
        self.c.reset();
        self.out.clear();
        self.c
            .compress_vec(data, &mut self.out, FlushCompress::Sync)
            .expect("zlib");
        assert!(self.out.ends_with(&[0, 0, 0xff, 0xff]));
        self.out.len() - 4
    }
    /// The last message's compressed bytes (without the tail).
    pub fn output(&self) -> &[u8] {
        &self.out[..self.out.len() - 4]
    }
}

/// zlib raw inflate of one message (tail appended).
pub struct ZlibInflate {
    d: Decompress,
    input: Vec<u8>,
    out: Vec<u8>,
}

impl ZlibInflate {
    /// An inflater for messages of `compressed` bytes.
    pub fn new(compressed: &[u8]) -> Self {
        let mut input = compressed.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        ZlibInflate {
            d: Decompress::new(false),
            input,
            out: Vec::with_capacity(1 << 20),
        }
    }
    /// Inflates the message; returns its length.
    pub fn run(&mut self) -> usize {
        self.d.reset(false);
        self.out.clear();
        self.d
            .decompress_vec(&self.input, &mut self.out, FlushDecompress::Sync)
            .expect("zlib");
        self.out.len()
    }
}

/// sockwire's deflater, reset per message.
#[cfg(feature = "sockwire")]
pub struct SockwireDeflate {
    d: sockwire::ws::deflate::Deflater<Vec<u8>, Vec<u16>>,
    out: Vec<u8>,
}

#[cfg(feature = "sockwire")]
impl SockwireDeflate {
    /// A 32 KiB window and 4096 hash heads (what `ws::blocking` lends).
    pub fn new() -> Self {
        let d =
            sockwire::ws::deflate::Deflater::new(vec![0; 1 << 15], vec![0; 4096]).expect("storage");
        SockwireDeflate {
            d,
            out: vec![0; 1 << 20],
        }
    }
    /// Compresses `data`; returns the compressed length.
    pub fn run(&mut self, data: &[u8]) -> usize {
        let n = self.d.compress_message(data, &mut self.out).expect("bound");
        self.d.reset();
        n
    }
}

#[cfg(feature = "sockwire")]
impl Default for SockwireDeflate {
    fn default() -> Self {
        Self::new()
    }
}

/// sockwire's inflater over one message into a 64 KiB buffer.
#[cfg(feature = "sockwire")]
pub struct SockwireInflate {
    i: sockwire::ws::deflate::Inflater<Vec<u8>>,
    input: Vec<u8>,
    out: Vec<u8>,
}

#[cfg(feature = "sockwire")]
impl SockwireInflate {
    /// An inflater for messages of `compressed` bytes.
    pub fn new(compressed: &[u8]) -> Self {
        let i = sockwire::ws::deflate::Inflater::new(vec![0; 1 << 15]).expect("storage");
        SockwireInflate {
            i,
            input: compressed.to_vec(),
            out: vec![0; 1 << 16],
        }
    }
    /// Inflates the message; returns its length.
    pub fn run(&mut self) -> usize {
        let mut total = 0;
        let mut pos = 0;
        while pos < self.input.len() {
            let p = self
                .i
                .inflate(&self.input[pos..], &mut self.out)
                .expect("valid");
            pos += p.consumed;
            total += p.written;
        }
        loop {
            let (n, done) = self.i.finish(&mut self.out).expect("valid");
            total += n;
            if done {
                break;
            }
        }
        self.i.reset();
        total
    }
}
