//! permessage-deflate interop over 127.0.0.1, both roles: Node `ws` with
//! `perMessageDeflate` (default, no context takeover, 9-bit windows) and
//! Python `websockets` (compression on by default), peers in
//! tests/peers/ws_deflate.{mjs,py}.
//!
//! Needs `bash tests/scripts/setup-peers.sh`; fails, never skips, without it.

mod common;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::peers::{self, Peer, ServerThread, pseudo_random};
use sockwire::entropy::StdEntropy;
use sockwire::ws::blocking::{Message, WebSocket};
use sockwire::ws::deflate::DeflateConfig;
use sockwire::ws::{ClientRequest, Config};

const PEER_TIMEOUT: Duration = Duration::from_secs(90);

fn tune(s: &TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
}

/// Echoes every message of every connection, compressed; a connection that
/// did not negotiate permessage-deflate is an error.
fn echo_server(listener: TcpListener, stop: &AtomicBool, config: DeflateConfig) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(e),
        };
        stream.set_nonblocking(false)?;
        tune(&stream)?;
        let mut ws = WebSocket::accept_deflate(stream, Config::default(), config)?;
        if ws.compression().is_none() {
            return Err(io::Error::other("permessage-deflate was not negotiated"));
        }
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => ws.send_text(&t)?,
                Ok(Message::Binary(b)) => ws.send_binary(&b)?,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn serve_peer(name: &'static str, config: DeflateConfig, make_cmd: impl FnOnce(&str) -> Command) {
    let server = ServerThread::start(name, move |l, stop| echo_server(l, stop, config));
    server.run_peer(name, PEER_TIMEOUT, |base| {
        make_cmd(&format!("{}/", base.replace("http://", "ws://")))
    });
}

fn messages() -> Vec<(bool, Vec<u8>)> {
    let text = "sockwire says κόσμε 𝄞 ".repeat(4000).into_bytes();
    vec![
        (true, b"Hello".to_vec()),
        (true, b"Hello".to_vec()),
        (true, Vec::new()),
        (true, text.clone()),
        (false, pseudo_random(70_000, 5)),
        (false, vec![7; 300_000]),
        (true, text[..5000].to_vec()),
    ]
}

/// sockwire as client against a peer server on `port`.
fn client_scenario(port: u16, config: DeflateConfig) {
    let host = format!("127.0.0.1:{port}");
    let stream = TcpStream::connect(&host).expect("connect");
    tune(&stream).unwrap();
    let mut ws = WebSocket::connect_deflate(
        stream,
        ClientRequest::new(&host, "/"),
        Config::default(),
        StdEntropy::new(),
        config,
    )
    .expect("handshake");
    assert!(
        ws.compression().is_some(),
        "permessage-deflate not negotiated"
    );
    for (text, data) in messages() {
        if text {
            ws.send_text(std::str::from_utf8(&data).unwrap()).unwrap();
        } else {
            ws.send_binary(&data).unwrap();
        }
        match ws.read().expect("echo") {
            Message::Text(t) if text => assert_eq!(t.as_bytes(), &data[..]),
            Message::Binary(b) if !text => assert_eq!(b, data),
            other => panic!("unexpected {:?}", std::mem::discriminant(&other)),
        }
    }
    ws.close(1000, "").unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close { code, .. }) => {
                assert_eq!(code, Some(1000));
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("waiting for the close reply: {e}"),
        }
    }
}

fn against_peer_server(name: &str, cmd: Command, config: DeflateConfig) {
    let mut peer = Peer::spawn(name, cmd);
    let port = peer.wait_listening(Duration::from_secs(30));
    client_scenario(port, config);
    peer.wait(PEER_TIMEOUT).assert_success();
}

const NODE_OPTIONS: [&str; 4] = [
    "{}",
    r#"{"serverNoContextTakeover":true,"clientNoContextTakeover":true}"#,
    r#"{"serverMaxWindowBits":9,"clientMaxWindowBits":9}"#,
    r#"{"serverMaxWindowBits":9,"clientMaxWindowBits":12,"clientNoContextTakeover":true}"#,
];

/// Node `ws` clients offering each option set; sockwire servers with default
/// and small configurations.
#[test]
fn node_ws_deflate_clients_against_sockwire() {
    for server_config in [DeflateConfig::DEFAULT, DeflateConfig::small(15)] {
        for opts in NODE_OPTIONS {
            serve_peer("node ws_deflate.mjs client", server_config, |url| {
                let mut cmd = peers::node_command("ws_deflate.mjs");
                cmd.args(["client", url, opts]);
                cmd
            });
        }
    }
}

/// sockwire clients (default, small windows without context takeover)
/// against Node `ws` servers with each option set.
#[test]
fn sockwire_deflate_client_against_node_ws() {
    for client_config in [DeflateConfig::DEFAULT, DeflateConfig::small(9)] {
        for opts in NODE_OPTIONS {
            let mut cmd = peers::node_command("ws_deflate.mjs");
            cmd.args(["server", opts]);
            against_peer_server("node ws_deflate.mjs server", cmd, client_config);
        }
    }
}

#[test]
fn python_websockets_client_against_sockwire() {
    for server_config in [DeflateConfig::DEFAULT, DeflateConfig::small(12)] {
        serve_peer("python ws_deflate.py client", server_config, |url| {
            let mut cmd = peers::python_command("ws_deflate.py");
            cmd.args(["client", url]);
            cmd
        });
    }
}

#[test]
fn sockwire_client_against_python_websockets() {
    for client_config in [DeflateConfig::DEFAULT, DeflateConfig::small(9)] {
        let mut cmd = peers::python_command("ws_deflate.py");
        cmd.arg("server");
        against_peer_server("python ws_deflate.py server", cmd, client_config);
    }
}
