//! The main demo: sockwire servers and clients talking over TCP on 127.0.0.1,
//! all driven by the same Sans-IO core.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! 1. WebSocket: the server side is written against the Sans-IO API directly
//!    (handshake, `handle_input`, `poll_transmit`), to show the run loop; the
//!    client uses the blocking helper built on the same API.
//! 2. Socket.IO: the server of `examples/sio_server.rs` (the reference test
//!    server's behaviour, over Engine.IO long-polling and WebSocket) and the
//!    crate's blocking client (`socketio::blocking::Client`) join two
//!    namespaces with auth, send
//!    events, an ack and a binary attachment, then the server drops the
//!    transport and the client reconnects by itself.

#[path = "sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sockwire::socketio::blocking::{Client, Event as OwnedEvent, Options};
use std::net::{TcpListener, TcpStream};

use sockwire::time::StdClock;
use sockwire::ws::blocking::{Message, WebSocket};
use sockwire::ws::{Accept, Config, Connection, Event, MessageKind, ServerHandshake, State};

/// An echo server over one TCP connection with a 256-byte read buffer: messages
/// of any size stream through it. Each piece is echoed as it arrives, as a
/// fragment (header up to 14 bytes + piece), hence the larger write buffer.
fn server(mut tcp: TcpStream) -> io::Result<()> {
    let clock = StdClock::new();
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256 + 14]);

    let mut hs = ServerHandshake::new();
    let mut head = Vec::new();
    let head_len = loop {
        let n = tcp.read(&mut rx)?;
        head.extend_from_slice(&rx[..n]);
        if let Some(req) = hs.handle_input(&head).map_err(io::Error::other)? {
            println!("server: upgrade request for {}", req.path());
            let n = req
                .accept(&Accept::default(), &mut tx)
                .map_err(io::Error::other)?;
            tcp.write_all(&tx[..n])?;
            break req.head_len();
        }
    };

    let mut conn = Connection::server(Config::default());
    // Bytes that came with the head are already frames.
    let mut pending = head.split_off(head_len);
    let mut echo_kind = None;
    while conn.state() != State::Closed {
        let n = if pending.is_empty() {
            let n = tcp.read(&mut rx)?;
            if n == 0 {
                break;
            }
            n
        } else {
            let n = pending.len().min(rx.len());
            rx[..n].copy_from_slice(&pending[..n]);
            pending.drain(..n);
            n
        };
        let mut off = 0;
        while off < n {
            let r = conn
                .handle_input(clock.now(), &mut rx[off..n])
                .map_err(io::Error::other)?;
            off += r.consumed;
            match r.event {
                // Echo each piece as it arrives, as fragments of one message.
                Some(Event::Data { kind, data, fin }) => {
                    if echo_kind.is_none() {
                        echo_kind = Some(kind);
                        println!("server: receiving a {kind:?} message");
                    }
                    let w = conn
                        .send_fragment(kind, data, fin, &mut tx)
                        .map_err(io::Error::other)?;
                    tcp.write_all(&tx[..w])?;
                    if fin {
                        echo_kind = None;
                    }
                }
                Some(Event::Ping(p)) => println!(
                    "server: ping {:?}, pong queued",
                    String::from_utf8_lossy(&p)
                ),
                Some(Event::Close { code, reason }) => {
                    println!("server: close {code:?} {reason:?}")
                }
                _ => {}
            }
            // The contract: drain automatic frames after every input.
            loop {
                let w = conn.poll_transmit(&mut tx).map_err(io::Error::other)?;
                if w == 0 {
                    break;
                }
                tcp.write_all(&tx[..w])?;
            }
        }
    }
    println!("server: closing handshake done, closing TCP");
    Ok(())
}

pub fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || server(listener.accept()?.0));

    let tcp = TcpStream::connect(addr)?;
    let mut ws = WebSocket::connect(tcp, &addr.to_string(), "/demo", Config::default())?;
    println!("client: connected to ws://{addr}/demo");

    ws.send_text("hello, sockwire")?;
    println!("client: echo {:?}", ws.read()?);
    ws.send_fragments(MessageKind::Text, &[b"frag", b"mented"])?;
    println!("client: echo {:?}", ws.read()?);
    let big: Vec<u8> = (0..256 << 10).map(|i| i as u8).collect();
    ws.send_binary(&big)?;
    match ws.read()? {
        Message::Binary(b) => println!(
            "client: 256 KiB binary echoed through a 256-byte server read buffer, intact: {}",
            b == big
        ),
        other => println!("client: unexpected {other:?}"),
    }
    ws.ping(b"are you there")?;
    println!("client: {:?}", ws.read()?);
    ws.close(1000, "demo over")?;
    loop {
        match ws.read()? {
            Message::Close { code, reason } => {
                println!("client: close answered with {code:?} {reason:?}");
                break;
            }
            other => println!("client: {other:?}"),
        }
    }
    server.join().expect("server thread")?;
    socket_io()
}

/// Waits for the first event `want` accepts, printing the others.
fn wait(runner: &Client, what: &str, want: impl Fn(&OwnedEvent) -> bool) -> io::Result<OwnedEvent> {
    loop {
        match runner.next_event(Duration::from_secs(10)) {
            Some(e) if want(&e) => return Ok(e),
            Some(e) => println!("socket.io client: ({e:?})"),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no {what}"),
                ));
            }
        }
    }
}

fn socket_io() -> io::Result<()> {
    static STOP: AtomicBool = AtomicBool::new(false);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || sio_server::serve(listener, &STOP));
    println!();
    println!("socket.io server: http://{addr}/socket.io/ (namespaces / and /custom)");

    let options = Options::default()
        .namespace("/", Some(r#"{"token":"demo"}"#))
        .namespace("/custom", None);
    let client =
        Client::connect(&format!("http://{addr}/socket.io/"), options).map_err(io::Error::other)?;
    let is_event = |name: &'static str| move |e: &OwnedEvent| matches!(e, OwnedEvent::Message(m) if m.name.as_deref() == Some(name));
    // Two joins and each namespace's `auth` event, in whatever order they come.
    let (mut joined, mut auths) = (0, 0);
    while joined < 2 || auths < 2 {
        let e = wait(&client, "connect", |e| {
            matches!(e, OwnedEvent::Connect { .. }) || is_event("auth")(e)
        })?;
        match e {
            OwnedEvent::Connect { nsp, sid, .. } => {
                println!("socket.io client: joined {nsp} as socket {sid}");
                joined += 1;
            }
            OwnedEvent::Message(m) => {
                println!("socket.io client: {} says auth = [{}]", m.nsp, m.args);
                auths += 1;
            }
            _ => {}
        }
    }
    let fail = |e: sockwire::socketio::blocking::Error| io::Error::other(e.to_string());
    client
        .emit("/", "message", r#""hello",{"n":1}"#)
        .map_err(fail)?;
    if let OwnedEvent::Message(m) = wait(&client, "message-back", is_event("message-back"))? {
        println!("socket.io client: message-back [{}]", m.args);
    }
    let m = client
        .emit_with_ack(
            "/",
            "message-with-ack",
            r#""ack me""#,
            Duration::from_secs(5),
        )
        .map_err(fail)?;
    println!("socket.io client: ack answered with [{}]", m.args);
    client
        .emit_binary(
            "/",
            "message",
            r#"{"_placeholder":true,"num":0}"#,
            &[&[0xde, 0xad, 0xbe, 0xef]],
        )
        .map_err(fail)?;
    if let OwnedEvent::Message(m) = wait(&client, "binary message-back", is_event("message-back"))?
    {
        println!(
            "socket.io client: binary message-back, attachment {:02x?}",
            m.attachments[0]
        );
    }
    // The server drops the transport; the client reconnects by itself and
    // delivers what was emitted meanwhile.
    client
        .emit("/", "force-disconnect-transport", "")
        .map_err(fail)?;
    if let OwnedEvent::Disconnected { nsp, reason } = wait(&client, "disconnect", |e| {
        matches!(e, OwnedEvent::Disconnected { .. })
    })? {
        println!("socket.io client: {nsp} disconnected ({reason:?})");
    }
    client
        .emit("/", "message", r#""sent while disconnected""#)
        .map_err(fail)?;
    if let OwnedEvent::Reconnecting { attempt } = wait(&client, "reconnect", |e| {
        matches!(e, OwnedEvent::Reconnecting { .. })
    })? {
        println!("socket.io client: reconnecting (attempt {attempt})");
    }
    if let OwnedEvent::Message(m) =
        wait(&client, "buffered message-back", is_event("message-back"))?
    {
        println!(
            "socket.io client: after reconnecting, message-back [{}]",
            m.args
        );
    }
    client.close();
    STOP.store(true, Ordering::SeqCst);
    server.join().expect("server thread")?;
    println!("socket.io demo over");
    Ok(())
}
