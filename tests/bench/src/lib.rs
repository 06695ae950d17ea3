//! Shared pieces of the side-by-side benchmarks: the inputs every implementation is
//! given (messages, masked client streams, a browser's upgrade request), in-memory
//! streams for the peers that want `Read`/`AsyncRead`, and small helpers for the
//! echo servers and the load generator.
//!
//! Everything here is written for this harness; no peer code is copied.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

pub mod compress;
pub mod drive;
pub mod server;
#[cfg(feature = "sockwire")]
mod sockwire_drive;

/// Payload size of the "small" messages.
pub const SMALL: usize = 20;
/// Payload size of the "large" messages.
pub const LARGE: usize = 16 * 1024;
/// Messages per decoded/encoded stream of small messages (one benchmark iteration).
pub const SMALL_COUNT: usize = 1000;
/// Messages per decoded/encoded stream of large messages (one benchmark iteration).
pub const LARGE_COUNT: usize = 64;

/// A deterministic generator for masks and payload bytes (not for security).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_le_bytes()
    }
}

/// A text payload of exactly `len` bytes of valid UTF-8: JSON-ish ASCII with a
/// two-byte and a three-byte character now and then, as chat traffic has.
pub fn text_payload(len: usize) -> String {
    if len == SMALL {
        let s = String::from("{\"op\":\"m\",\"t\":\"hé\"}");
        debug_assert_eq!(s.len(), SMALL);
        return s;
    }
    let words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "café",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "€5",
        "incididunt",
        "ut",
        "labore",
    ];
    let mut s = String::with_capacity(len);
    let mut i = 0usize;
    while s.len() < len {
        let w = words[(i * 7 + i / 3) % words.len()];
        if s.len() + w.len() + 1 > len {
            break;
        }
        s.push_str(w);
        s.push(' ');
        i += 1;
    }
    while s.len() < len {
        s.push('.');
    }
    debug_assert_eq!(s.len(), len);
    s
}

/// A binary payload of exactly `len` bytes.
pub fn binary_payload(len: usize) -> Vec<u8> {
    let mut r = Rng::new(len as u64);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

/// Append one masked client frame (FIN set, opcode 1 text or 2 binary) to `out`.
pub fn push_masked_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// A stream of `count` masked client frames carrying `payload`, each with its own mask.
pub fn masked_stream(opcode: u8, payload: &[u8], count: usize) -> Vec<u8> {
    let mut r = Rng::new(7);
    let mut out = Vec::with_capacity(count * (payload.len() + 14));
    for _ in 0..count {
        push_masked_frame(&mut out, opcode, payload, r.mask());
    }
    out
}

/// The upgrade request a desktop Chrome sends for `new WebSocket("wss://…/chat?room=lobby")`,
/// cookies and all.
pub const CHROME_REQUEST: &str = "GET /chat?room=lobby HTTP/1.1\r\n\
Host: chat.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://chat.example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Cookie: _ga=GA1.1.1234567890.1700000000; session=eyJ1c2VyIjoiYWxpY2UiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl; theme=dark\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

/// The `Sec-WebSocket-Accept` that answers the key in [`CHROME_REQUEST`] (RFC 6455's example).
pub const CHROME_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// An endless in-memory byte source (the same bytes over and over) and a discarding
/// sink, with the `Read`/`Write` and tokio `AsyncRead`/`AsyncWrite` faces the peers
/// need. Every read copies, as a socket read does, and stops at the end of the cycle,
/// so all implementations see the same chunking.
pub struct MemStream {
    data: Vec<u8>,
    pos: usize,
    /// Bytes written (and dropped).
    pub written: usize,
}

impl MemStream {
    pub fn new(data: Vec<u8>) -> Self {
        MemStream {
            data,
            pos: 0,
            written: 0,
        }
    }
    /// Copy the next bytes into `buf`; returns how many (0 only for an empty `buf`
    /// or an empty source).
    #[inline]
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        if self.data.is_empty() {
            return 0;
        }
        if self.pos == self.data.len() {
            self.pos = 0;
        }
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
    /// Whether the reader stands at a cycle boundary (all it read so far were whole cycles).
    pub fn at_boundary(&self) -> bool {
        self.pos == 0 || self.pos == self.data.len()
    }
}

impl io::Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.fill(buf) {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl io::Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.data.is_empty() {
            return Poll::Pending;
        }
        if me.pos == me.data.len() {
            me.pos = 0;
        }
        let n = buf.remaining().min(me.data.len() - me.pos);
        buf.put_slice(&me.data[me.pos..me.pos + n]);
        me.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.get_mut().written += n;
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A sink that counts and drops what is written (for the encoders that write to a stream).
#[derive(Default)]
pub struct CountSink {
    pub written: usize,
}

impl io::Read for CountSink {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl io::Write for CountSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Poll a future that never really waits (everything here is in memory) to completion.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The command line as `--key value` pairs (keys without the dashes).
pub fn options() -> std::collections::HashMap<String, String> {
    let mut o = std::collections::HashMap::new();
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        o.insert(k.trim_start_matches("--").to_string(), v);
    }
    o
}

/// Raise the soft open-file limit to the hard limit; returns the new soft limit.
// rlim_t is u64 on 64-bit Linux only.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> u64 {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur as u64
    }
}

/// Read a `Key: value kB` line of /proc/<pid>/status, in KiB.
pub fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| {
            l[key.len() + 1..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / hz)
}
