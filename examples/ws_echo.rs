//! A WebSocket echo server: every text and binary message comes back unchanged.
//!
//! ```text
//! cargo run --release --example ws_echo -- 127.0.0.1:9001
//! ```
//!
//! It accepts permessage-deflate (RFC 7692) when the client offers it.
//! One thread per connection over blocking `std::net`, using the
//! `sockwire::ws::blocking` helper. It is the server the Autobahn conformance
//! run and the Node/Python interoperability tests talk to.

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use sockwire::ws::Config;
use sockwire::ws::blocking::{Message, WebSocket};
use sockwire::ws::deflate::DeflateConfig;

/// Echoes on one accepted connection until it closes.
pub fn serve(stream: TcpStream) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    // permessage-deflate is accepted when the client offers it.
    let mut ws = WebSocket::accept_deflate(stream, Config::default(), DeflateConfig::DEFAULT)?;
    let result = loop {
        match ws.read() {
            Ok(Message::Text(t)) => ws.send_text(&t)?,
            Ok(Message::Binary(b)) => ws.send_binary(&b)?,
            Ok(_) => {}
            // NotConnected: the closing handshake is over. Anything else: the
            // connection failed and its Close frame was sent.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    linger(ws.get_mut());
    result
}

/// The server closes the TCP connection first. Half-close, then read what the
/// peer still sends, so that unread bytes do not turn our close into a reset
/// that could destroy the Close frame in flight.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("ws_echo listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}
