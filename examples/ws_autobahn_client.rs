//! The Autobahn client flow: asks a fuzzing server how many cases there are, runs
//! each one echoing every message back, then asks it to write its reports.
//! It offers permessage-deflate (RFC 7692) on every connection.
//!
//! ```text
//! cargo run --release --example ws_autobahn_client -- 127.0.0.1:9001 [--jobs N]
//! ```
//!
//! `--jobs N` runs N cases at a time, each on its own connection (default 1).

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
    let mut addr = String::from("127.0.0.1:9001");
    let mut jobs = 1u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            // Cases run on this many connections at once (each case is still
            // one connection, run from start to end); the reports are asked
            // for once all are done.
            "--jobs" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => jobs = n,
                _ => return Err(io::Error::other("--jobs needs a positive number")),
            },
            _ => addr = a,
        }
    }
    let count: u32 = run(&addr, "/getCaseCount")?
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no case count"))?;
    eprintln!("running {count} cases against {addr}, {jobs} at a time");
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|k| {
                let addr = &addr;
                s.spawn(move || -> io::Result<()> {
                    for case in (1..=count).filter(|c| c % jobs == k) {
                        run(addr, &format!("/runCase?case={case}&agent={AGENT}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(io::Error::other("a worker panicked")))
        })
    })?;
    run(&addr, &format!("/updateReports?agent={AGENT}"))?;
    eprintln!("done");
    Ok(())
}
