//! The main demo: a sockwire WebSocket server and client talking over TCP on
//! 127.0.0.1, both driven by the same Sans-IO core.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! The server side is written against the Sans-IO API directly (handshake,
//! `handle_input`, `poll_transmit`), to show the run loop; the client uses the
//! blocking helper built on the same API.

use std::io::{self, Read, Write};
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

fn main() -> io::Result<()> {
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
    Ok(())
}
