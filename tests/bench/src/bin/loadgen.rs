//! The project's load generator: a minimal hand-written WebSocket client (no library,
//! so it favours no server) on one tokio thread, against 127.0.0.1 only.
//!
//! echo: N connections each send one masked message, wait for the whole echo, and
//!       repeat, for a warm-up and then a measured time; prints messages/second and
//!       the server's CPU use over the measured window.
//! idle: opens N connections, completes the opening handshakes, waits, and prints the
//!       server's resident memory (VmRSS, VmHWM) before and after.
//!
//! Every loop is bounded in time; connections are closed with RST (SO_LINGER 0) so
//! repeated runs leave no TIME_WAIT behind to exhaust the ephemeral ports.

use sockwire_bench::{CHROME_ACCEPT, proc_cpu_seconds, proc_status_kib, push_masked_frame};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    mode: String,
    port: u16,
    conns: usize,
    size: usize,
    binary: bool,
    warmup: f64,
    duration: f64,
    settle: f64,
    server_pid: u32,
    label: String,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .expect("usage: loadgen echo|idle --port P --conns N ...");
    let mut a = Args {
        mode,
        port: 9001,
        conns: 100,
        size: 20,
        binary: false,
        warmup: 1.0,
        duration: 3.0,
        settle: 1.0,
        server_pid: 0,
        label: String::new(),
    };
    while let Some(k) = it.next() {
        if k == "--binary" {
            a.binary = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--port" => a.port = v.parse().unwrap(),
            "--conns" => a.conns = v.parse().unwrap(),
            "--size" => a.size = v.parse().unwrap(),
            "--warmup" => a.warmup = v.parse().unwrap(),
            "--duration" => a.duration = v.parse().unwrap(),
            "--settle" => a.settle = v.parse().unwrap(),
            "--server-pid" => a.server_pid = v.parse().unwrap(),
            "--label" => a.label = v,
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const REQUEST_TAIL: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Connect, upgrade, and return the stream ready for frames.
async fn connect(port: u16) -> Res<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    stream.set_zero_linger()?;
    let mut stream = stream;
    let req = format!("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{REQUEST_TAIL}");
    stream.write_all(req.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 512];
    loop {
        let n = stream.read(&mut b).await?;
        if n == 0 {
            return Err("closed during handshake".into());
        }
        head.extend_from_slice(&b[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = std::str::from_utf8(&head[..end])?;
            if !text.starts_with("HTTP/1.1 101") || !text.contains(CHROME_ACCEPT) {
                return Err(format!("bad handshake response: {text}").into());
            }
            if head.len() != end + 4 {
                return Err("server sent data before any message".into());
            }
            return Ok(stream);
        }
        if head.len() > 8192 {
            return Err("handshake response too long".into());
        }
    }
}

/// Received bytes not yet parsed: `buf[pos..filled]`.
struct RecvBuf {
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl RecvBuf {
    fn new(cap: usize) -> Self {
        RecvBuf {
            buf: vec![0; cap.max(4096)],
            pos: 0,
            filled: 0,
        }
    }
    /// Make at least `n` unparsed bytes available, reading as much as is there.
    async fn ensure(&mut self, stream: &mut TcpStream, n: usize) -> Res<()> {
        if self.filled - self.pos >= n {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.filled < n {
            let k = stream.read(&mut self.buf[self.filled..]).await?;
            if k == 0 {
                return Err("server closed the connection".into());
            }
            self.filled += k;
        }
        Ok(())
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }
}

/// Read one whole message (all frames up to FIN) into `msg`; returns its opcode.
async fn read_message(stream: &mut TcpStream, rb: &mut RecvBuf, msg: &mut Vec<u8>) -> Res<u8> {
    msg.clear();
    let mut opcode = 0u8;
    loop {
        // Header: 2 bytes, then 0/2/8 length bytes (server frames are not masked).
        rb.ensure(stream, 2).await?;
        let (b0, b1) = (rb.buf[rb.pos], rb.buf[rb.pos + 1]);
        if b1 & 0x80 != 0 {
            return Err("masked server frame".into());
        }
        let ext = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        rb.ensure(stream, 2 + ext).await?;
        let h = rb.take(2 + ext);
        let len = match ext {
            0 => (b1 & 0x7F) as usize,
            2 => u16::from_be_bytes([h[2], h[3]]) as usize,
            _ => u64::from_be_bytes(h[2..10].try_into().unwrap()) as usize,
        };
        rb.ensure(stream, len).await?;
        let payload = rb.take(len);
        let op = b0 & 0x0F;
        match op {
            0x8 => return Err("server closed".into()),
            0x9 | 0xA => continue, // control frames: not part of the message
            0 => {}
            _ => opcode = op,
        }
        msg.extend_from_slice(payload);
        if b0 & 0x80 != 0 {
            return Ok(opcode);
        }
    }
}

/// Open `n` connections, at most 256 handshakes in flight at once.
async fn open_many(port: u16, n: usize) -> Res<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(n);
    let mut set = tokio::task::JoinSet::new();
    let mut started = 0;
    while out.len() < n {
        while started < n && set.len() < 256 {
            set.spawn(connect(port));
            started += 1;
        }
        match set.join_next().await {
            Some(r) => out.push(r??),
            None => break,
        }
    }
    Ok(out)
}

fn main() {
    sockwire_bench::raise_nofile_limit();
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let line = rt.block_on(async {
        match a.mode.as_str() {
            "echo" => echo(&a).await,
            "idle" => idle(&a).await,
            m => panic!("unknown mode {m}"),
        }
    });
    match line {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("loadgen {} {}: {e}", a.mode, a.label);
            std::process::exit(1);
        }
    }
}

async fn echo(a: &Args) -> Res<serde_json::Value> {
    let payload: Vec<u8> = if a.binary {
        sockwire_bench::binary_payload(a.size)
    } else {
        sockwire_bench::text_payload(a.size).into_bytes()
    };
    let opcode = if a.binary { 2 } else { 1 };
    let mut frame = Vec::new();
    push_masked_frame(&mut frame, opcode, &payload, [0x1f, 0x2e, 0x3d, 0x4c]);
    let frame: Arc<[u8]> = frame.into();
    let payload: Arc<[u8]> = payload.into();

    let streams = open_many(a.port, a.conns).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for mut s in streams {
        let (frame, payload, stop, count, errors) = (
            frame.clone(),
            payload.clone(),
            stop.clone(),
            count.clone(),
            errors.clone(),
        );
        set.spawn(async move {
            let mut rb = RecvBuf::new(payload.len() + 16);
            let mut msg = Vec::with_capacity(payload.len());
            let mut checked = false;
            while !stop.load(Ordering::Relaxed) {
                let r: Res<()> = async {
                    s.write_all(&frame).await?;
                    let op = read_message(&mut s, &mut rb, &mut msg).await?;
                    if !checked {
                        // The first echo of each connection is compared byte for byte.
                        if op != opcode || msg[..] != payload[..] {
                            return Err("echo differs from what was sent".into());
                        }
                        checked = true;
                    } else if msg.len() != payload.len() {
                        return Err("echo has the wrong length".into());
                    }
                    Ok(())
                }
                .await;
                if let Err(e) = r {
                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("connection error: {e}");
                    }
                    return;
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let c0 = count.load(Ordering::Relaxed);
    let cpu0 = proc_cpu_seconds(a.server_pid);
    let me0 = proc_cpu_seconds(std::process::id());
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    let c1 = count.load(Ordering::Relaxed);
    let cpu1 = proc_cpu_seconds(a.server_pid);
    let me1 = proc_cpu_seconds(std::process::id());
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    // Every task ends after its current round trip; don't wait on a stuck one for long.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    set.abort_all();

    let msgs = c1 - c0;
    let server_cpu = match (cpu0, cpu1) {
        (Some(x), Some(y)) => Some((y - x) / secs),
        _ => None,
    };
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        return Err(format!("{errors} connection(s) failed").into());
    }
    Ok(serde_json::json!({
        "kind": "echo", "label": a.label, "conns": a.conns, "size": a.size,
        "binary": a.binary, "msgs": msgs, "secs": secs,
        "msgs_per_sec": msgs as f64 / secs,
        "server_cpu": server_cpu,
        "loadgen_cpu": match (me0, me1) { (Some(x), Some(y)) => Some((y - x) / secs), _ => None },
        "msgs_per_server_cpu_sec": server_cpu.map(|c| msgs as f64 / secs / c),
    }))
}

async fn idle(a: &Args) -> Res<serde_json::Value> {
    let pid = a.server_pid;
    let rss0 = proc_status_kib(pid, "VmRSS");
    let t0 = Instant::now();
    let streams = open_many(a.port, a.conns).await?;
    let open_secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let rss1 = proc_status_kib(pid, "VmRSS");
    let hwm = proc_status_kib(pid, "VmHWM");
    // Every connection must still be open: none may have been read to EOF by now.
    let mut closed = 0;
    for s in &streams {
        let mut b = [0u8; 1];
        if let Ok(0) = s.try_read(&mut b) {
            closed += 1;
        }
    }
    drop(streams);
    if closed > 0 {
        return Err(format!("{closed} idle connection(s) were closed by the server").into());
    }
    Ok(serde_json::json!({
        "kind": "idle", "label": a.label, "conns": a.conns, "open_secs": open_secs,
        "rss_before_kib": rss0, "rss_kib": rss1, "hwm_kib": hwm,
        "kib_per_conn": match (rss0, rss1) { (Some(x), Some(y)) => Some((y as f64 - x as f64) / a.conns as f64), _ => None },
    }))
}
