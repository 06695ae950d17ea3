//! permessage-deflate on Engine.IO / Socket.IO against real Node peers, on
//! 127.0.0.1:
//!
//! - the real `socket.io-client` 4.8 (`tests/peers/sio_deflate.mjs`, which
//!   offers deflate as engine.io-client does on Node) against
//!   `examples/sio_server.rs`'s server with
//!   `engineio::Config::per_message_deflate` on, WebSocket from the start and
//!   after the upgrade from polling: the extension is negotiated, three
//!   ~100 KB JSON messages go round trip, and the TCP byte counts show both
//!   directions compressed;
//! - sockwire's `engineio::ClientSession` offering deflate
//!   (`ClientConfig::per_message_deflate`) against the reference Node
//!   `socket.io` server started with `perMessageDeflate: true`
//!   (`tests/peers/sio_server.mjs --deflate`): the 101 accepts the offer, and
//!   a ~100 KB event and its echo cross compressed; and the same through
//!   `examples/sio_client.rs`'s runner (Socket.IO over `engineio::ClientSession`),
//!   polling first, deflate negotiated on the upgrade's WebSocket.
//!
//! Needs Node and `bash tests/scripts/setup-peers.sh`; fails, never skips,
//! when they are missing.

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

#[path = "common/manual_client.rs"]
#[allow(dead_code)]
mod manual_client;

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::peers::{self, Peer, ServerThread};
use sockwire::engineio::{
    self, ClientConfig, ClientSession, Data, PerMessageDeflate, websocket_target,
};
use sockwire::entropy::SplitMix64;
use sockwire::runner::{self, SocketIo};
use sockwire::time::Instant;
use sockwire::ws::{Assembler, ClientHandshake, ClientRequest};

const PEER_TIMEOUT: Duration = Duration::from_secs(40);

/// The reference test server of `examples/sio_server.rs`, accepting
/// permessage-deflate.
fn serve_deflate(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let eio = engineio::Config {
        per_message_deflate: Some(PerMessageDeflate::DEFAULT),
        ..sio_server::ENGINEIO
    };
    runner::serve(
        listener,
        &mut SocketIo::new(eio, sio_server::SOCKETIO, sio_server::app),
        stop,
    )
}

fn node_client(mode: &str) {
    ServerThread::start("sio_server (deflate)", serve_deflate).run_peer(
        &format!("node sio_deflate.mjs {mode}"),
        PEER_TIMEOUT,
        |url| {
            let mut cmd = peers::node_with_modules("sio_deflate.mjs", &["socket.io-client"]);
            cmd.args([url, mode]);
            cmd
        },
    );
}

#[test]
fn node_socketio_client_compresses_with_our_server_on_websocket() {
    node_client("websocket");
}

#[test]
fn node_socketio_client_compresses_with_our_server_after_upgrade() {
    node_client("upgrade");
}

/// The same script against the reference server with `perMessageDeflate:
/// true`: it asks nothing the reference does not do.
#[test]
fn sio_deflate_script_holds_for_the_reference_server() {
    let mut cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
    cmd.args(["0", "--deflate"]);
    let mut server = Peer::spawn("sio_server.mjs --deflate", cmd);
    let port = server.wait_listening(Duration::from_secs(20));
    let mut cmd = peers::node_with_modules("sio_deflate.mjs", &["socket.io-client"]);
    cmd.arg(format!("http://127.0.0.1:{port}"));
    peers::run_to_end("sio_deflate.mjs", cmd, PEER_TIMEOUT).assert_success();
}

/// ~100 KB of repeated JSON objects, as an event argument.
fn big_json() -> String {
    let items: Vec<String> = (0..2200)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item\",\"tags\":[\"a\",\"b\"]}}"))
        .collect();
    format!("{{\"items\":[{}]}}", items.join(","))
}

/// A blocking run of `engineio::ClientSession` over one TCP stream.
struct Driver {
    tcp: TcpStream,
    client: ClientSession<Vec<u8>, SplitMix64>,
    assembler: Assembler<Vec<u8>>,
    rx: Vec<u8>,
    start: std::time::Instant,
    /// TCP bytes after the handshake, each way.
    read: usize,
    written: usize,
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// Writes everything the client has, through a 64-byte buffer.
    fn flush(&mut self) {
        let mut out = [0u8; 64];
        loop {
            let n = self.client.poll_transmit(&mut out).unwrap();
            if n == 0 {
                return;
            }
            self.tcp.write_all(&out[..n]).unwrap();
            self.written += n;
        }
    }

    /// The next text message, answering pings on the way.
    fn next_text(&mut self) -> String {
        let deadline = self.start.elapsed() + Duration::from_secs(15);
        loop {
            loop {
                let now = self.now();
                let r = self
                    .client
                    .handle_input(now, &mut self.rx, &mut self.assembler)
                    .unwrap();
                let consumed = r.consumed;
                let text = match r.message {
                    Some(Data::Text(t)) => Some(t.to_string()),
                    Some(Data::Binary(_)) => panic!("unexpected binary message"),
                    None => None,
                };
                self.rx.drain(..consumed);
                if let Some(t) = text {
                    self.flush();
                    return t;
                }
                if consumed == 0 {
                    break;
                }
            }
            self.flush();
            if self.client.is_closed() {
                let mut events = Vec::new();
                while let Some(e) = self.client.poll_event() {
                    events.push(e);
                }
                panic!("the session closed: {events:?}");
            }
            assert!(self.start.elapsed() < deadline, "no message in time");
            let mut buf = [0u8; 4096];
            match self.tcp.read(&mut buf) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => {
                    self.read += n;
                    self.rx.extend_from_slice(&buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
            let now = self.now();
            self.client.handle_timeout(now);
        }
    }
}

#[test]
fn our_client_compresses_with_the_reference_server() {
    let mut cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
    cmd.args(["0", "--deflate"]);
    let mut server = Peer::spawn("sio_server.mjs --deflate", cmd);
    let port = server.wait_listening(Duration::from_secs(20));
    // The server's log is shown when the client fails.
    let run = std::panic::catch_unwind(|| client_run(port));
    let log = server.wait(Duration::from_millis(200));
    println!("---- server stderr ----\n{}", log.stderr);
    if let Err(e) = run {
        std::panic::resume_unwind(e);
    }
}

fn client_run(port: u16) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    tcp.set_nodelay(true).unwrap();

    let config = ClientConfig {
        path: "/socket.io/",
        per_message_deflate: Some(PerMessageDeflate::DEFAULT),
        ..ClientConfig::default()
    };
    let start = std::time::Instant::now();
    let mut client = ClientSession::new(
        Instant::ZERO,
        config,
        vec![0u8; 4 << 20],
        SplitMix64::new(21),
    );
    let mut target = [0u8; 128];
    let target = websocket_target("/socket.io/", &mut target).unwrap();
    let host = format!("127.0.0.1:{port}");
    let mut entropy = SplitMix64::new(22);
    let mut hs = ClientHandshake::new(ClientRequest::new(&host, target), &mut entropy)
        .offer_deflate(client.deflate_offer().expect("configured to offer"));
    let mut req = [0u8; 512];
    let n = hs.write_request(&mut req).unwrap();
    tcp.write_all(&req[..n]).unwrap();
    let mut head = Vec::new();
    let (params, rest) = loop {
        let mut buf = [0u8; 1024];
        match tcp.read(&mut buf) {
            Ok(0) => panic!("closed during the handshake"),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                assert!(start.elapsed() < Duration::from_secs(10), "no 101");
                continue;
            }
            Err(e) => panic!("read: {e}"),
        }
        if let Some(res) = hs.handle_input(&head).unwrap() {
            let text = String::from_utf8_lossy(&head[..res.head_len()]).to_string();
            assert!(
                text.to_ascii_lowercase()
                    .contains("sec-websocket-extensions: permessage-deflate"),
                "{text}"
            );
            break (
                res.deflate().expect("deflate accepted"),
                head[res.head_len()..].to_vec(),
            );
        }
    };
    client.enable_deflate(params).unwrap();
    assert!(client.is_deflate());
    let mut d = Driver {
        tcp,
        client,
        assembler: Assembler::new(vec![0u8; 1 << 20]),
        rx: rest,
        start,
        read: 0,
        written: 0,
    };
    // Socket.IO on top, by hand: CONNECT, the server's `auth` event, then a
    // large `message` and its `message-back`.
    // (Engine.IO message packets: the `4` is the client's, these are the
    // Socket.IO packets `0`, `2[...]` inside them.)
    d.client.send_text("0").unwrap();
    let connected = d.next_text();
    assert!(connected.starts_with("0{\"sid\":"), "{connected}");
    assert_eq!(d.next_text(), "2[\"auth\",{}]");
    let json = big_json();
    let (read0, written0) = (d.read, d.written);
    for _ in 0..3 {
        d.client
            .send_text(&format!("2[\"message\",{json}]"))
            .unwrap();
        d.flush();
        assert_eq!(d.next_text(), format!("2[\"message-back\",{json}]"));
    }
    let (read, written) = (d.read - read0, d.written - written0);
    println!(
        "3 x {} bytes each way: {written} bytes sent, {read} received",
        json.len()
    );
    assert!(
        written < 3 * json.len() / 5,
        "sent {written}: not compressed"
    );
    assert!(read < 3 * json.len() / 5, "received {read}: not compressed");
}

/// `examples/sio_client.rs`'s runner with `--deflate` (Socket.IO on
/// `engineio::ClientSession`), polling first and then the upgrade, against the
/// reference server with `perMessageDeflate: true`: the upgrade's WebSocket
/// negotiates deflate and a ~100 KB event and its echo cross compressed.
#[test]
fn our_socketio_client_upgrades_with_deflate() {
    let mut cmd = peers::node_with_modules("sio_server.mjs", &["engine.io", "socket.io"]);
    cmd.args(["0", "--deflate"]);
    let mut server = Peer::spawn("sio_server.mjs --deflate", cmd);
    let port = server.wait_listening(Duration::from_secs(20));
    let run = std::panic::catch_unwind(|| {
        let addr = format!("127.0.0.1:{port}");
        let mut runner = manual_client::Runner::connect_deflate(
            &addr,
            "/socket.io/",
            &[("/", None)],
            manual_client::TransportKind::Polling,
            true,
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !(runner.is_connected("/")
            && runner.transport_name() == Some(engineio::Transport::WebSocket))
        {
            assert!(std::time::Instant::now() < deadline, "no upgrade");
            runner.run_for(Duration::from_millis(20));
        }
        assert!(runner.is_deflate(), "deflate not negotiated on the upgrade");
        let json = big_json();
        let (in0, out0) = runner.transport_bytes().unwrap();
        runner.emit("/", "message", &json, &[]).unwrap();
        let back = loop {
            match runner.next_event(Duration::from_secs(10)) {
                Some(manual_client::OwnedEvent::Event(m))
                    if m.name.as_deref() == Some("message-back") =>
                {
                    break m.args;
                }
                Some(_) => {}
                None => panic!("no message-back"),
            }
        };
        assert_eq!(back, json);
        let (in1, out1) = runner.transport_bytes().unwrap();
        let (read, written) = ((in1 - in0) as usize, (out1 - out0) as usize);
        println!(
            "{} bytes each way: {written} sent, {read} received",
            json.len()
        );
        assert!(written < json.len() / 5, "sent {written}: not compressed");
        assert!(read < json.len() / 5, "received {read}: not compressed");
    });
    let log = server.wait(Duration::from_millis(200));
    println!("---- server stderr ----\n{}", log.stderr);
    if let Err(e) = run {
        std::panic::resume_unwind(e);
    }
}
