//! The Autobahn client flow: asks a fuzzing server how many cases there are, runs
//! each one echoing every message back, then asks it to write its reports.
//! It offers permessage-deflate (RFC 7692) on every connection.
//!
//! ```text
//! cargo run --release --example ws_autobahn_client -- 127.0.0.1:9001
//! ```

use std::io;
use std::net::TcpStream;

use sockwire::entropy::StdEntropy;
use sockwire::ws::blocking::{Message, WebSocket};
use sockwire::ws::deflate::DeflateConfig;
use sockwire::ws::{ClientRequest, Config};

const AGENT: &str = "sockwire";

fn open(addr: &str, path: &str) -> io::Result<WebSocket<TcpStream, sockwire::entropy::StdEntropy>> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    // Offer permessage-deflate (sections 12 and 13 of the suite use it).
    // With `client_no_context_takeover` in the offer: RFC 7692 makes it a
    // promise that the client resets its compressor per message, and the
    // suite's server accepts its no-context-takeover cases (13.2, 13.5,
    // 13.6) only from a client that sent it.
    let deflate = DeflateConfig {
        send_no_context_takeover: true,
        ..DeflateConfig::DEFAULT
    };
    WebSocket::connect_deflate(
        tcp,
        ClientRequest::new(addr, path),
        Config::default(),
        StdEntropy::new(),
        deflate,
    )
}

/// Echoes until the connection ends; returns the first text message seen.
fn run(addr: &str, path: &str) -> io::Result<Option<String>> {
    let mut ws = open(addr, path)?;
    let mut first_text = None;
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                ws.send_text(&t)?;
                first_text.get_or_insert(t);
            }
            Ok(Message::Binary(b)) => ws.send_binary(&b)?,
            Ok(_) => {}
            // The closing handshake finished, the connection failed (our Close
            // went out), or the server dropped it: this case is over.
            Err(_) => return Ok(first_text),
        }
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let count: u32 = run(&addr, "/getCaseCount")?
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no case count"))?;
    eprintln!("running {count} cases against {addr}");
    for case in 1..=count {
        run(&addr, &format!("/runCase?case={case}&agent={AGENT}"))?;
    }
    run(&addr, &format!("/updateReports?agent={AGENT}"))?;
    eprintln!("done");
    Ok(())
}
