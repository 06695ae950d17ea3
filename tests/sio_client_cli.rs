//! The command-line client of `examples/sio_client.rs` (`run_cli`): its
//! argument, URL and stdin-line parsers and its JSON line formatter (unit
//! tests), then the client itself with scripted input and captured output
//! against the reference test server (`examples/sio_server.rs`'s `serve`),
//! a plain WebSocket server (`examples/ws_echo.rs`'s `serve`: the typed
//! `NotEngineIo` error) and a closed port (reconnection exhausted). All on
//! 127.0.0.1.

#[path = "../examples/sio_client.rs"]
#[allow(dead_code)]
mod sio_client;

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

#[path = "../examples/ws_echo.rs"]
#[allow(dead_code)]
mod ws_echo;

use std::io::{self, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sio_client::{
    CliError, Command, Options, OwnedMessage, TransportKind, event_line, parse_args, parse_line,
    parse_url, run_cli,
};
use sockwire::engineio;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// Parsers and formatter
// ---------------------------------------------------------------------------

#[test]
fn urls() {
    let ok = |u: &str| parse_url(u).unwrap_or_else(|e| panic!("{u}: {e}"));
    let pair = |a: &str, p: &str| (a.to_owned(), p.to_owned());
    assert_eq!(
        ok("http://127.0.0.1:3000"),
        pair("127.0.0.1:3000", "/socket.io/")
    );
    assert_eq!(
        ok("http://example.com:80/"),
        pair("example.com:80", "/socket.io/")
    );
    assert_eq!(ok("ws://10.0.0.7:9/sio/"), pair("10.0.0.7:9", "/sio/"));
    assert_eq!(
        ok("http://example.com"),
        pair("example.com:80", "/socket.io/")
    );
    assert_eq!(ok("host.lan:3000"), pair("host.lan:3000", "/socket.io/"));
    assert_eq!(ok("[::1]:3000/x/"), pair("[::1]:3000", "/x/"));
    assert_eq!(ok("http://[::1]/"), pair("[::1]:80", "/socket.io/"));
    for bad in [
        "https://h:1",
        "wss://h:1",
        "ftp://h:1",
        "host",
        "h:99999",
        "http://h:1/?EIO=4",
        "http://:1/",
    ] {
        assert!(parse_url(bad).is_err(), "{bad} is refused");
    }
}

#[test]
fn arguments() {
    let o = parse_args(&args(&["http://h:1"])).unwrap();
    assert_eq!(o.addr, "h:1");
    assert_eq!(o.namespaces, ["/"]);
    assert_eq!(
        (o.kind, o.upgrade, o.demo),
        (TransportKind::Polling, true, false)
    );
    assert_eq!(o.auth, None);

    let o = parse_args(&args(&[
        "--nsp",
        "/a",
        "ws://h:2/p/",
        "--nsp",
        "/b",
        "--auth",
        r#"{"token":"x"}"#,
        "--transport",
        "websocket",
        "--deflate",
        "--timeout",
        "1500",
        "--reconnection-attempts",
        "3",
        "--wait",
        "0.5",
    ]))
    .unwrap();
    assert_eq!((o.addr.as_str(), o.path.as_str()), ("h:2", "/p/"));
    assert_eq!(o.namespaces, ["/a", "/b"]);
    assert_eq!(o.auth.as_deref(), Some(r#"{"token":"x"}"#));
    assert_eq!((o.kind, o.deflate), (TransportKind::WebSocket, true));
    assert_eq!(
        (o.timeout_ms, o.reconnection_attempts, o.wait_ms),
        (1500, Some(3), 500)
    );

    let o = parse_args(&args(&["u:1", "--transport", "polling"])).unwrap();
    assert_eq!((o.kind, o.upgrade), (TransportKind::Polling, false));

    // The demo: its old form, its own defaults.
    let o = parse_args(&args(&["--demo"])).unwrap();
    assert_eq!(
        (o.addr.as_str(), o.kind, o.demo),
        ("127.0.0.1:3000", TransportKind::WebSocket, true)
    );
    let o = parse_args(&args(&["--demo", "h:5", "--polling-only", "--deflate"])).unwrap();
    assert_eq!(
        (o.addr.as_str(), o.kind, o.upgrade),
        ("h:5", TransportKind::Polling, false)
    );

    for bad in [
        &[][..],
        &["h:1", "--auth", "{"],
        &["h:1", "--auth", "[1]"],
        &["h:1", "--nsp", "x"],
        &["h:1", "--nsp"],
        &["h:1", "--transport", "carrier-pigeon"],
        &["h:1", "--bogus"],
        &["h:1", "h:2"],
        &["h:1", "--timeout", "soon"],
    ] {
        assert!(parse_args(&args(bad)).is_err(), "{bad:?} is refused");
    }
}

fn emit(nsp: Option<&str>, event: &str, a: &str, att: &[&[u8]], with_ack: bool) -> Command {
    Command::Emit {
        nsp: nsp.map(str::to_owned),
        event: event.into(),
        args: a.into(),
        attachments: att.iter().map(|b| b.to_vec()).collect(),
        with_ack,
    }
}

#[test]
fn stdin_lines() {
    let ok = |l: &str| parse_line(l).unwrap_or_else(|e| panic!("{l}: {e}"));
    assert_eq!(ok(""), None);
    assert_eq!(ok("   # a comment"), None);
    assert_eq!(
        ok(r#"message [{"a":1},"x"]"#),
        Some(emit(None, "message", r#"{"a":1},"x""#, &[], false))
    );
    assert_eq!(ok("ping"), Some(emit(None, "ping", "", &[], false)));
    assert_eq!(ok("ping []"), Some(emit(None, "ping", "", &[], false)));
    // Whitespace inside ARGS goes; strings keep theirs.
    assert_eq!(
        ok("  m [ 1 , { \"k\" : [ \"a b\" ] } ]  "),
        Some(emit(None, "m", r#"1,{"k":["a b"]}"#, &[], false))
    );
    assert_eq!(
        ok(r#"@/custom call echo [1]"#),
        Some(emit(Some("/custom"), "echo", "1", &[], true))
    );
    // A JSON string names events with spaces, or the words taken.
    assert_eq!(ok(r#""ack" [2]"#), Some(emit(None, "ack", "2", &[], false)));
    assert_eq!(
        ok(r#""two words\u0021" []"#),
        Some(emit(None, "two words!", "", &[], false))
    );
    // Binary: {"base64":...} anywhere becomes a placeholder, in order.
    assert_eq!(
        ok(r#"up ["f", {"base64":"AAEC"}, [{"base64":""}]]"#),
        Some(emit(
            None,
            "up",
            r#""f",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]"#,
            &[&[0, 1, 2], &[]],
            false
        ))
    );
    assert_eq!(
        ok("ack 7 [null]"),
        Some(Command::Ack {
            nsp: None,
            id: 7,
            args: "null".into(),
            attachments: vec![]
        })
    );
    assert_eq!(
        ok("@/x ack 0"),
        Some(Command::Ack {
            nsp: Some("/x".into()),
            id: 0,
            args: String::new(),
            attachments: vec![]
        })
    );
    for bad in [
        "message {\"a\":1}",
        "message [1",
        "message [1] x",
        "ack x [1]",
        "ack",
        "@custom m []",
        "@/x",
        "\"open m []",
        "m [{\"base64\":\"!!\"}]",
    ] {
        assert!(parse_line(bad).is_err(), "{bad:?} is refused");
    }
}

fn message(nsp: &str, data: &str, ack_id: Option<u64>, attachments: &[&[u8]]) -> OwnedMessage {
    let args = sockwire::json::elements(data)
        .skip(1)
        .collect::<Vec<_>>()
        .join(",");
    OwnedMessage {
        nsp: nsp.into(),
        ack_id,
        name: None,
        args,
        data: data.into(),
        attachments: attachments.iter().map(|b| b.to_vec()).collect(),
    }
}

#[test]
fn json_lines() {
    assert_eq!(
        event_line(&message("/", r#"["message-back","hi",{"a":1}]"#, None, &[])),
        r#"{"nsp":"/","event":"message-back","args":["hi",{"a":1}]}"#
    );
    assert_eq!(
        event_line(&message("/", r#"["q"]"#, Some(12), &[])),
        r#"{"nsp":"/","event":"q","args":[],"ack":12}"#
    );
    // Escapes kept, whitespace (newlines too) gone: one line.
    assert_eq!(
        event_line(&message(
            "/a\"b",
            "[\"e\\n\\\"\" ,\n {\"t\" : \"x\\u0000\"} ]",
            None,
            &[]
        )),
        r#"{"nsp":"/a\"b","event":"e\n\"","args":[{"t":"x\u0000"}]}"#
    );
    // Attachments as base64, wherever their placeholders are.
    let line = event_line(&message(
        "/",
        r#"["bin",{"_placeholder":true,"num":1},[{"num":0,"_placeholder":true}],{"num":0}]"#,
        Some(3),
        &[b"\x00\xff", b"hello"],
    ));
    assert_eq!(
        line,
        r#"{"nsp":"/","event":"bin","args":[{"base64":"aGVsbG8="},[{"base64":"AP8="}],{"num":0}],"ack":3}"#
    );
    assert!(!line.contains('\n'));
    sockwire::json::validate(&line, 64).expect("a JSON line");
    assert_eq!(sio_client::json_string("a\u{1}\\"), r#""a\u0001\\""#);
}

// ---------------------------------------------------------------------------
// The client against servers
// ---------------------------------------------------------------------------

/// A `Write` sending each whole line over a channel.
struct Lines {
    tx: Sender<String>,
    partial: Vec<u8>,
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            let _ = self.tx.send(line);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `run_cli` on a thread: stdin lines in, stdout and stderr lines out.
struct Cli {
    stdin: Option<Sender<String>>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    seen: Vec<String>,
    thread: JoinHandle<Result<(), CliError>>,
}

impl Cli {
    fn start(a: &[&str]) -> Cli {
        let o: Options = parse_args(&args(a)).expect("arguments");
        let (stdin, input) = mpsc::channel();
        let (out_tx, stdout) = mpsc::channel();
        let (err_tx, stderr) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut out = Lines {
                tx: out_tx,
                partial: Vec::new(),
            };
            let mut err = Lines {
                tx: err_tx,
                partial: Vec::new(),
            };
            run_cli(&o, input, &mut out, &mut err)
        });
        Cli {
            stdin: Some(stdin),
            stdout,
            stderr,
            seen: Vec::new(),
            thread,
        }
    }

    fn send(&self, line: &str) {
        self.stdin.as_ref().unwrap().send(line.into()).unwrap();
    }

    /// Waits for the stdout line `want` (lines before it are kept).
    fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line == want => return,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {want} on stdout; saw {:?}; stderr {:?}",
                    self.seen,
                    self.stderr.try_iter().collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Waits for a stdout line starting with `prefix`; returns it.
    fn expect_prefix(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no {prefix}... on stdout; saw {:?}", self.seen),
            }
        }
    }

    /// Waits for the stderr line containing `part`.
    fn expect_stderr(&mut self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(part) => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {part} on stderr; saw {seen:?}"),
            }
        }
    }

    /// Closes stdin; the client's result.
    fn finish(mut self, within: Duration) -> Result<(), CliError> {
        self.stdin = None;
        let deadline = Instant::now() + within;
        while !self.thread.is_finished() {
            assert!(Instant::now() < deadline, "the client did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.thread.join().expect("run_cli panicked")
    }
}

/// The reference test server on a thread until dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || sio_server::serve(listener, &s));
        Server { port, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn exchange(transport: &str) {
    let server = Server::start();
    let url = format!("http://127.0.0.1:{}/socket.io/", server.port);
    let mut cli = Cli::start(&[
        &url,
        "--nsp",
        "/",
        "--nsp",
        "/custom",
        "--auth",
        r#"{"token":"t\"1"}"#,
        "--transport",
        transport,
    ]);
    cli.expect_prefix(r#"{"nsp":"/","connected":""#);
    cli.expect(r#"{"nsp":"/","event":"auth","args":[{"token":"t\"1"}]}"#);
    cli.expect_prefix(r#"{"nsp":"/custom","connected":""#);
    cli.expect(r#"{"nsp":"/custom","event":"auth","args":[{"token":"t\"1"}]}"#);

    cli.send(r#"message ["hi",{"a":1}]"#);
    cli.expect(r#"{"nsp":"/","event":"message-back","args":["hi",{"a":1}]}"#);
    // Binary both ways.
    cli.send(r#"message [{"base64":"AAECAw=="},"x"]"#);
    cli.expect(r#"{"nsp":"/","event":"message-back","args":[{"base64":"AAECAw=="},"x"]}"#);
    // The server acks message-with-ack with its arguments.
    cli.send(r#"call message-with-ack [1,{"base64":"/w=="}]"#);
    cli.expect_stderr("ack id 0");
    cli.expect(r#"{"nsp":"/","ack_response":0,"args":[1,{"base64":"/w=="}]}"#);
    // A bad line: one line on stderr, the client goes on.
    cli.send("message [1");
    cli.expect_stderr("ARGS: invalid JSON");
    cli.send("@/nowhere message []");
    cli.expect_stderr("emit message");
    cli.send(r#"message ["still here"]"#);
    cli.expect(r#"{"nsp":"/","event":"message-back","args":["still here"]}"#);

    // Reconnection: the server closes the session; the client says so,
    // reconnects and both namespaces come back.
    cli.send("force-disconnect-transport");
    cli.expect(r#"{"nsp":"/","disconnected":"transport close"}"#);
    cli.expect(r#"{"reconnect_attempt":1}"#);
    cli.expect_prefix(r#"{"nsp":"/","connected":""#);
    cli.send(r#"message [2]"#);
    cli.expect(r#"{"nsp":"/","event":"message-back","args":[2]}"#);

    // EOF: leaves cleanly, Ok.
    let result = cli.finish(Duration::from_secs(5));
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn against_the_test_server_over_websocket() {
    exchange("websocket");
}

#[test]
fn against_the_test_server_over_polling_and_upgrade() {
    exchange("both");
}

#[test]
fn against_the_test_server_over_polling_only() {
    exchange("polling");
}

#[test]
fn every_namespace_refused_is_an_error() {
    let server = Server::start();
    let url = format!("127.0.0.1:{}", server.port);
    let cli = Cli::start(&[&url, "--nsp", "/nowhere", "--transport", "websocket"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cli.thread.is_finished() {
        assert!(Instant::now() < deadline, "the client did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    let line = cli.stdout.try_iter().last().unwrap_or_default();
    assert!(
        line.starts_with(r#"{"nsp":"/nowhere","connect_error":{"#),
        "{line}"
    );
    match cli.finish(Duration::ZERO) {
        Err(CliError::Refused { nsp, .. }) => assert_eq!(nsp, "/nowhere"),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn a_plain_websocket_server_is_a_typed_fatal_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let _ = ws_echo::serve(stream);
    });
    let url = format!("ws://127.0.0.1:{port}");
    // ws_echo says nothing: the open packet's timeout (shortened) tells.
    let started = Instant::now();
    let mut cli = Cli::start(&[&url, "--transport", "websocket", "--timeout", "1000"]);
    cli.expect_stderr("not an Engine.IO/Socket.IO server");
    let stdin = cli.stdin.clone();
    let result = cli.finish(Duration::from_secs(5));
    drop(stdin);
    match result {
        Err(CliError::Fatal(engineio::Error::NotEngineIo)) => {}
        other => panic!("expected Fatal(NotEngineIo), got {other:?}"),
    }
    let e = CliError::Fatal(engineio::Error::NotEngineIo).to_string();
    assert!(e.contains("NotEngineIo"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn reconnection_exhausted_is_an_error() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().unwrap().port()
    };
    let url = format!("127.0.0.1:{port}");
    let mut cli = Cli::start(&[&url, "--reconnection-attempts", "1"]);
    cli.expect(r#"{"reconnect_attempt":1}"#);
    cli.expect(r#"{"reconnect_failed":true}"#);
    let stdin = cli.stdin.clone();
    let result = cli.finish(Duration::from_secs(5));
    drop(stdin);
    match result {
        Err(CliError::ReconnectFailed(Some(why))) => assert!(!why.is_empty()),
        other => panic!("expected ReconnectFailed, got {other:?}"),
    }
}

/// The same over long-polling (the default `both`): ws_echo answers the
/// polling handshake with a plain 400, not the reference server's JSON
/// refusal, so the client stops at once instead of retrying for ever.
#[test]
fn a_plain_websocket_server_is_a_typed_fatal_error_over_polling_too() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8).flatten() {
            std::thread::spawn(move || ws_echo::serve(stream));
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut cli = Cli::start(&[&url, "--timeout", "3000"]);
    cli.expect_stderr("not an Engine.IO/Socket.IO server");
    let stdin = cli.stdin.clone();
    let result = cli.finish(Duration::from_secs(5));
    drop(stdin);
    match result {
        Err(CliError::Fatal(engineio::Error::NotEngineIo)) => {}
        other => panic!("expected Fatal(NotEngineIo), got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}
