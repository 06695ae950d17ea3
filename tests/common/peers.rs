//! Real WebSocket peers (Node `ws`, Python `websockets`) for the interop tests.
//!
//! The peers live in `tests/peers/` and are installed by
//! `bash tests/scripts/setup-peers.sh` (a venv in `<repo>/.venv`, `npm ci` in
//! `tests/peers`). A missing peer fails the test with a message naming that
//! script: these tests never skip.
//!
//! Contents:
//! - locating the peers: [`node_command`], [`node_with_modules`],
//!   [`require_npm_modules`], [`python_command`];
//! - running them bounded in time, killed on drop: [`Peer`], [`run_to_end`];
//! - a sockwire example server (`serve(listener, &stop)`) on a thread,
//!   stopped on drop, with a peer run against it: [`ServerThread`];
//! - sockwire's side of the scenarios, written only against the std blocking
//!   helper: [`EchoServer`] (sockwire as server) and [`run_client_scenario`]
//!   (sockwire as client of a peer's `ws_server.*`).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sockwire::entropy::Entropy;
use sockwire::ws::blocking::{Message, WebSocket};
use sockwire::ws::{Config, MessageKind};

/// What to run when a peer is missing.
pub const SETUP_HINT: &str = "run `bash tests/scripts/setup-peers.sh` from the repository root";

/// Size of the large message exchanged in both roles.
pub const BIG_LEN: usize = 16 * 1024 * 1024;

/// Bound on reads and writes of sockwire's side of a test connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_dir() -> PathBuf {
    repo_root().join("tests").join("peers")
}

/// The venv interpreter made by `setup-peers.sh`.
pub fn venv_python() -> PathBuf {
    repo_root().join(".venv").join("bin").join("python")
}

/// `node <tests/peers/SCRIPT>`, after checking that node and the npm modules
/// are installed (panics naming `setup-peers.sh` otherwise).
pub fn node_command(script: &str) -> Command {
    let version = Command::new("node").arg("--version").output();
    match version {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`node --version` failed ({}): {}; {SETUP_HINT}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run `node` ({e}): install Node.js >= 20, then {SETUP_HINT}"),
    }
    let ws_pkg = peers_dir()
        .join("node_modules")
        .join("ws")
        .join("package.json");
    assert!(
        ws_pkg.is_file(),
        "the npm module `ws` is not installed ({} missing): {SETUP_HINT}",
        ws_pkg.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(peers_dir().join(script)).current_dir(peers_dir());
    cmd
}

/// Panics naming `setup-peers.sh` unless every npm module in `modules` is
/// installed in `tests/peers/node_modules`.
pub fn require_npm_modules(modules: &[&str]) {
    for module in modules {
        let pkg = peers_dir()
            .join("node_modules")
            .join(module)
            .join("package.json");
        assert!(
            pkg.is_file(),
            "the npm module `{module}` is not installed ({} missing): {SETUP_HINT}",
            pkg.display()
        );
    }
}

/// [`node_command`] for a script that also imports the npm `modules`
/// (checked with [`require_npm_modules`]).
pub fn node_with_modules(script: &str, modules: &[&str]) -> Command {
    let cmd = node_command(script);
    require_npm_modules(modules);
    cmd
}

/// `<repo>/.venv/bin/python <tests/peers/SCRIPT>`, after checking that the
/// venv exists and has `websockets` (panics naming `setup-peers.sh` otherwise).
pub fn python_command(script: &str) -> Command {
    let python = venv_python();
    assert!(
        python.exists(),
        "the Python venv is missing ({} not found): {SETUP_HINT}",
        python.display()
    );
    let check = Command::new(&python)
        .args(["-c", "import websockets"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): {SETUP_HINT}", python.display()));
    assert!(
        check.status.success(),
        "{} cannot import websockets ({}): {SETUP_HINT}",
        python.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    let mut cmd = Command::new(python);
    cmd.arg(peers_dir().join(script))
        .current_dir(peers_dir())
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

// ---------------------------------------------------------------------------
// Child processes, bounded in time and killed on drop
// ---------------------------------------------------------------------------

/// What a finished peer printed.
#[derive(Debug)]
pub struct PeerOutput {
    pub name: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl PeerOutput {
    /// Prints the output (shown by the test harness on failure, or always
    /// with `--nocapture`) and asserts exit status 0.
    pub fn assert_success(&self) {
        println!("---- {} stdout ----\n{}", self.name, self.stdout);
        if !self.stderr.trim().is_empty() {
            println!("---- {} stderr ----\n{}", self.name, self.stderr);
        }
        assert!(
            self.status.success(),
            "peer `{}` failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.name,
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// A running peer process. Killed (and reaped) when dropped.
pub struct Peer {
    name: String,
    child: Option<Child>,
    stdout_lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect<R: Read + Send + 'static>(
    pipe: R,
    sink: Arc<Mutex<String>>,
    lines: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    sink.lock().unwrap().push_str(&line);
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.trim_end().to_string());
                    }
                }
            }
        }
    })
}

impl Peer {
    /// Starts `cmd` with piped stdout and stderr.
    pub fn spawn(name: &str, mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start peer `{name}` ({cmd:?}): {e}; {SETUP_HINT}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            collect(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        Peer {
            name: name.to_string(),
            child: Some(child),
            stdout_lines: rx,
            stdout,
            stderr,
            readers,
        }
    }

    /// Waits for the `LISTENING <port>` line of a peer server.
    pub fn wait_listening(&mut self, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line.strip_prefix("LISTENING ") {
                        return port.trim().parse().unwrap_or_else(|e| {
                            panic!("peer `{}` printed a bad port {line:?}: {e}", self.name)
                        });
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    panic!(
                        "peer `{}` printed no `LISTENING <port>` line within {timeout:?}\n{}",
                        self.name,
                        self.output_so_far()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.wait(Duration::from_secs(5));
                    panic!(
                        "peer `{}` exited ({}) before listening\nstdout:\n{}\nstderr:\n{}",
                        self.name, out.status, out.stdout, out.stderr
                    );
                }
            }
        }
    }

    /// Waits up to `timeout` for the peer to exit; kills it after that (the
    /// test then fails on the status).
    pub fn wait(&mut self, timeout: Duration) -> PeerOutput {
        let mut child = self.child.take().expect("peer already waited for");
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait for a killed peer");
                }
                Err(e) => panic!("waiting for peer `{}`: {e}", self.name),
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let mut stderr = self.stderr.lock().unwrap().clone();
        if timed_out {
            stderr.push_str(&format!("\n[test harness: killed after {timeout:?}]\n"));
        }
        PeerOutput {
            name: self.name.clone(),
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr,
        }
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn output_so_far(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a peer to completion, bounded by `timeout`.
pub fn run_to_end(name: &str, cmd: Command, timeout: Duration) -> PeerOutput {
    Peer::spawn(name, cmd).wait(timeout)
}

/// Runs the conformance script `script` (`eio_protocol.mjs`,
/// `sio_protocol.mjs`) against the reference Node server `server`
/// (`eio_server.mjs`, `sio_server.mjs`) on 127.0.0.1, bounded by `timeout`:
/// the script's every check must hold for the reference too.
pub fn run_script_against_reference(server: &str, script: &str, timeout: Duration) {
    let mut server_peer = Peer::spawn(
        server,
        node_with_modules(server, &["engine.io", "socket.io"]),
    );
    let port = server_peer.wait_listening(Duration::from_secs(20));
    let mut cmd = node_with_modules(script, &["ws"]);
    cmd.arg(format!("http://127.0.0.1:{port}"));
    let out = run_to_end(script, cmd, timeout);
    let log = server_peer.wait(Duration::from_millis(200));
    println!("---- {} stderr ----\n{}", log.name, log.stderr);
    out.assert_success();
}

// ---------------------------------------------------------------------------
// A sockwire example server on a thread
// ---------------------------------------------------------------------------

/// An example's `serve(listener, &stop)` (`examples/eio_echo.rs`,
/// `examples/sio_server.rs`) on a thread on 127.0.0.1, stopped on drop.
pub struct ServerThread {
    /// Names the server in failures (`eio_echo`, `sio_server`).
    name: &'static str,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl ServerThread {
    /// Binds 127.0.0.1:0 and runs `serve` on a thread until stopped.
    pub fn start<F>(name: &'static str, serve: F) -> ServerThread
    where
        F: FnOnce(TcpListener, &AtomicBool) -> io::Result<()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || serve(listener, &flag));
        ServerThread {
            name,
            addr,
            stop,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and checks that `serve` returned `Ok`.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("server already stopped");
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}::serve failed: {e}", self.name),
            Err(_) => panic!("the {} server thread panicked", self.name),
        }
    }

    /// Runs the peer `make_cmd(base_url)` against this server, bounded by
    /// `timeout`; asserts its exit status 0 (its output is printed, and shown
    /// on failure), then stops the server.
    pub fn run_peer(self, name: &str, timeout: Duration, make_cmd: impl FnOnce(&str) -> Command) {
        let cmd = make_cmd(&self.base_url());
        let out = run_to_end(name, cmd, timeout);
        out.assert_success();
        self.finish();
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        // On a failing test: stop the thread without asserting again.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

// ---------------------------------------------------------------------------
// sockwire's side
// ---------------------------------------------------------------------------

/// The configuration of sockwire's side: large enough for the 16 MiB message.
pub fn ws_config() -> Config {
    Config::default()
}

fn tune(stream: &TcpStream) {
    stream.set_nodelay(true).expect("set_nodelay");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("set_read_timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("set_write_timeout");
}

/// What sockwire's echo server saw on its one connection.
#[derive(Debug, Default)]
pub struct ServerReport {
    /// Text and binary messages echoed.
    pub echoed: usize,
    /// The close frame received: code and reason.
    pub close: Option<(Option<u16>, String)>,
    /// `read` ended with `NotConnected` after the closing handshake.
    pub clean_end: bool,
    /// The error that ended the connection otherwise.
    pub error: Option<String>,
}

/// sockwire as server: an echo server for one connection on 127.0.0.1,
/// thread per connection, through `WebSocket::accept`.
pub struct EchoServer {
    addr: SocketAddr,
    handle: Option<JoinHandle<ServerReport>>,
}

impl EchoServer {
    /// Serves the first client that connects within `accept_timeout`.
    pub fn start(accept_timeout: Duration) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let handle = thread::spawn(move || serve_one(listener, accept_timeout));
        EchoServer {
            addr,
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Waits for the connection to end and returns what the server saw.
    pub fn finish(mut self) -> ServerReport {
        let handle = self.handle.take().unwrap();
        // The connection is bounded by IO_TIMEOUT per read, the accept by
        // accept_timeout: this join cannot hang for long.
        handle.join().expect("echo server thread panicked")
    }
}

fn serve_one(listener: TcpListener, accept_timeout: Duration) -> ServerReport {
    let mut report = ServerReport::default();
    let deadline = Instant::now() + accept_timeout;
    listener.set_nonblocking(true).expect("set_nonblocking");
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                report.error = Some(format!("accept: {e}"));
                return report;
            }
        }
    };
    stream
        .set_nonblocking(false)
        .expect("set_nonblocking(false)");
    tune(&stream);
    let mut ws = match WebSocket::accept(stream, ws_config()) {
        Ok(ws) => ws,
        Err(e) => {
            report.error = Some(format!("WebSocket::accept: {e}"));
            return report;
        }
    };
    loop {
        let sent = match ws.read() {
            Ok(Message::Text(text)) => ws.send_text(&text),
            Ok(Message::Binary(data)) => ws.send_binary(&data),
            Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => continue,
            Ok(Message::Close { code, reason }) => {
                // The close reply is sent by sockwire itself.
                report.close = Some((code, reason));
                continue;
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => {
                report.clean_end = true;
                break;
            }
            Err(e) => {
                report.error = Some(format!("read: {e}"));
                break;
            }
        };
        match sent {
            Ok(()) => report.echoed += 1,
            Err(e) => {
                report.error = Some(format!("echo: {e}"));
                break;
            }
        }
    }
    // Dropping the socket closes the TCP connection (the server closes first).
    drop(ws);
    report
}

/// Runs a peer client script (`ws_client.*`) against a fresh sockwire echo
/// server and checks both sides: the script's own checks (exit status 0) and
/// the close frame 4000 "bye" the server received.
pub fn run_server_scenario(name: &str, make_cmd: impl FnOnce(&str) -> Command) {
    let server = EchoServer::start(Duration::from_secs(60));
    let cmd = make_cmd(&server.url("/sockwire-echo"));
    let out = run_to_end(name, cmd, Duration::from_secs(90));
    out.assert_success();
    let report = server.finish();
    println!("sockwire echo server: {report:?}");
    assert!(report.error.is_none(), "sockwire echo server: {report:?}");
    assert_eq!(
        report.close,
        Some((Some(4000), "bye".to_string())),
        "close frame received by the sockwire server"
    );
    assert!(
        report.clean_end,
        "read() did not end with NotConnected: {report:?}"
    );
    // text, binary, fragmented text, fragmented binary, 16 MiB
    assert_eq!(report.echoed, 5, "messages echoed by the sockwire server");
}

fn describe(msg: &Message) -> String {
    match msg {
        Message::Text(t) if t.len() <= 64 => format!("Text({t:?})"),
        Message::Text(t) => format!("Text(<{} bytes>)", t.len()),
        Message::Binary(b) if b.len() <= 64 => format!("Binary({b:?})"),
        Message::Binary(b) => format!("Binary(<{} bytes>)", b.len()),
        Message::Ping(p) => format!("Ping({:?})", String::from_utf8_lossy(p)),
        Message::Pong(p) => format!("Pong({:?})", String::from_utf8_lossy(p)),
        Message::Close { code, reason } => format!("Close({code:?}, {reason:?})"),
    }
}

fn read<S: io::Read + io::Write, E: Entropy>(ws: &mut WebSocket<S, E>, what: &str) -> Message {
    ws.read()
        .unwrap_or_else(|e| panic!("{what}: read failed: {e} ({:?})", e.kind()))
}

fn expect_text<S: io::Read + io::Write, E: Entropy>(
    ws: &mut WebSocket<S, E>,
    what: &str,
    want: &str,
) {
    match read(ws, what) {
        Message::Text(t) if t == want => println!("ok - {what}"),
        other => panic!("{what}: expected Text({want:?}), got {}", describe(&other)),
    }
}

fn expect_binary<S: io::Read + io::Write, E: Entropy>(
    ws: &mut WebSocket<S, E>,
    what: &str,
    want: &[u8],
) {
    match read(ws, what) {
        Message::Binary(b) if b == want => println!("ok - {what}"),
        Message::Binary(b) => panic!(
            "{what}: binary echo differs ({} bytes, expected {}; first difference at {:?})",
            b.len(),
            want.len(),
            b.iter().zip(want).position(|(x, y)| x != y)
        ),
        other => panic!(
            "{what}: expected a binary message, got {}",
            describe(&other)
        ),
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// sockwire as client: connects to a peer's `ws_server.*` on `127.0.0.1:port`
/// and runs the scenario: text, binary, fragmented text and binary, 16 MiB
/// binary, ping -> pong, `please-ping` -> server ping answered automatically
/// -> `pong-ok`, close 1000 "done" -> close reply 1000, then `NotConnected`.
pub fn run_client_scenario(port: u16) {
    let host = format!("127.0.0.1:{port}");
    let stream = TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    tune(&stream);
    let mut ws = WebSocket::connect(stream, &host, "/sockwire-client?interop=1", ws_config())
        .unwrap_or_else(|e| panic!("WebSocket::connect to {host}: {e}"));
    println!("ok - opening handshake with ws://{host}");

    let text = "Hello from sockwire: héllo wörld ✓ 日本語 😀";
    ws.send_text(text).expect("send_text");
    expect_text(&mut ws, "text echo (non-ASCII UTF-8)", text);

    let bytes: Vec<u8> = (0..=255).collect();
    ws.send_binary(&bytes).expect("send_binary");
    expect_binary(&mut ws, "binary echo (256 byte values)", &bytes);

    // "frag ✓ ment 😀 ed", the fragment boundaries inside U+2713 and U+1F600
    let whole = "frag ✓ ment 😀 ed".as_bytes();
    let a = whole.windows(3).position(|w| w == "✓".as_bytes()).unwrap() + 1;
    let b = whole.windows(4).position(|w| w == "😀".as_bytes()).unwrap() + 2;
    let parts: [&[u8]; 3] = [&whole[..a], &whole[a..b], &whole[b..]];
    ws.send_fragments(MessageKind::Text, &parts)
        .expect("send_fragments(Text)");
    expect_text(
        &mut ws,
        "fragmented text (3 frames, code points split) echoed whole",
        "frag ✓ ment 😀 ed",
    );

    let bin_parts: [&[u8]; 4] = [&[0, 1, 2], &[], &[0xff, 0xfe], &[7]];
    ws.send_fragments(MessageKind::Binary, &bin_parts)
        .expect("send_fragments(Binary)");
    expect_binary(
        &mut ws,
        "fragmented binary (4 frames, one empty) echoed whole",
        &[0, 1, 2, 0xff, 0xfe, 7],
    );

    let big = pseudo_random(BIG_LEN, 0x5eed_50c4_d1e5_0001);
    let started = Instant::now();
    ws.send_binary(&big).expect("send_binary(16 MiB)");
    expect_binary(&mut ws, "16 MiB binary echoed intact", &big);
    println!("   (16 MiB round trip in {:?})", started.elapsed());
    drop(big);

    ws.ping(b"cli-ping").expect("ping");
    match read(&mut ws, "pong") {
        Message::Pong(p) if p == b"cli-ping" => {
            println!("ok - ping answered by a pong with the same payload")
        }
        other => panic!("expected Pong(\"cli-ping\"), got {}", describe(&other)),
    }

    // The peer pings us; sockwire answers automatically; the peer reports it.
    ws.send_text("please-ping").expect("send_text(please-ping)");
    let mut pings = 0;
    loop {
        match read(&mut ws, "server ping / pong-ok") {
            Message::Ping(p) if p == b"srv-ping" => pings += 1,
            Message::Text(t) if t == "pong-ok" => break,
            other => panic!(
                "after please-ping: expected Ping(\"srv-ping\") then Text(\"pong-ok\"), got {}",
                describe(&other)
            ),
        }
    }
    println!(
        "ok - server ping answered automatically (peer replied pong-ok; {pings} Ping event(s) seen)"
    );

    ws.close(1000, "done").expect("close");
    match read(&mut ws, "close reply") {
        Message::Close {
            code: Some(1000), ..
        } => println!("ok - close 1000 answered with close 1000"),
        other => panic!("expected Close(1000), got {}", describe(&other)),
    }
    match ws.read() {
        Err(e) if e.kind() == ErrorKind::NotConnected => {
            println!("ok - read() after the closing handshake: NotConnected")
        }
        other => panic!(
            "read() after the closing handshake: expected Err(NotConnected), got {:?}",
            other.map(|m| describe(&m))
        ),
    }
}

/// Starts a peer server script, runs [`run_client_scenario`] against it and
/// asserts that the peer saw a clean close with code 1000 (exit status 0).
pub fn run_client_against(name: &str, cmd: Command) {
    let mut peer = Peer::spawn(name, cmd);
    let port = peer.wait_listening(Duration::from_secs(20));
    let result = std::panic::catch_unwind(|| run_client_scenario(port));
    let out = peer.wait(Duration::from_secs(30));
    if let Err(panic) = result {
        println!(
            "---- {} stdout ----\n{}\n---- {} stderr ----\n{}",
            out.name, out.stdout, out.name, out.stderr
        );
        std::panic::resume_unwind(panic);
    }
    out.assert_success();
}

/// The browser the Chromium scripts launch (Debian package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Panics naming `setup-peers.sh` unless Debian's Chromium, playwright-core
/// and the socket.io-client browser bundle are installed.
pub fn require_chromium() {
    let bundle = peers_dir().join("node_modules/socket.io-client/dist/socket.io.min.js");
    for (path, what) in [
        (
            PathBuf::from(CHROMIUM),
            "Debian's chromium (apt package `chromium`)",
        ),
        (bundle, "the socket.io-client browser bundle"),
    ] {
        assert!(
            path.is_file(),
            "{what} is not installed ({} missing): {SETUP_HINT}",
            path.display()
        );
    }
    require_npm_modules(&["playwright-core", "socket.io-client"]);
}

/// Runs `node tests/peers/SCRIPT ARGS...` to its end (killed after
/// `timeout`) and checks that it passed: exit 0 and its `{"ok":true}` line.
pub fn run_node_script_ok<I, S>(script: &str, args: I, timeout: Duration) -> PeerOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = node_command(script);
    cmd.args(args);
    let started = Instant::now();
    let out = run_to_end(&format!("node {script}"), cmd, timeout);
    println!("{script} took {:?}", started.elapsed());
    out.assert_success();
    assert!(
        out.stdout.lines().any(|l| l == r#"{"ok":true}"#),
        "{script} exited 0 without its {{\"ok\":true}} line:\n{}",
        out.stdout
    );
    out
}
