//! The Autobahn client flow: asks a fuzzing server how many cases there are, runs
//! each one echoing every message back, then asks it to write its reports.
//!
//! ```text
//! cargo run --release --example ws_autobahn_client -- 127.0.0.1:9001
//! ```

use std::io;
use std::net::TcpStream;

use sockwire::ws::Config;
use sockwire::ws::blocking::{Message, WebSocket};

const AGENT: &str = "sockwire";

fn open(addr: &str, path: &str) -> io::Result<WebSocket<TcpStream, sockwire::entropy::StdEntropy>> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    WebSocket::connect(tcp, addr, path, Config::default())
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
