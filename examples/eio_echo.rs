//! An Engine.IO v4 echo server: every message comes back unchanged (text as
//! text, binary as binary), except the text `close-me`, on which the server
//! closes the session.
//!
//! ```text
//! cargo run --example eio_echo -- [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS]
//! ```
//!
//! It serves `/engine.io/` with both transports (long-polling and WebSocket)
//! and the upgrade between them on any address given (default
//! `127.0.0.1:3000`), and prints `LISTENING <port>` once it accepts
//! connections. All of the protocol (HTTP, sessions, the upgrade, deadlines)
//! is `sockwire::engineio::Server`; `sockwire::runner` moves the bytes.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;

use sockwire::engineio::{Config, Data, Event, Session, Sid};
use sockwire::runner::{self, Buf, Engine, EngineApp, EngineServer};
use sockwire::time::{Duration, Instant};

/// The echo application.
pub struct Echo;

impl EngineApp for Echo {
    type State = ();

    fn on_message(
        &mut self,
        now: Instant,
        sid: Sid,
        s: &mut Session<Buf>,
        _: &mut (),
        data: Data<'_>,
    ) {
        let sent = match data {
            Data::Text("close-me") => {
                s.close(now);
                Ok(())
            }
            Data::Text(text) => s.send_text(text),
            Data::Binary(bytes) => s.send_binary(bytes),
        };
        if let Err(e) = sent {
            eprintln!("eio_echo: {sid:?}: cannot echo ({e}); closing the session");
            s.close(now);
        }
    }

    fn on_event(&mut self, _: Instant, _: &mut EngineServer<()>, event: Event) {
        eprintln!("eio_echo: {event:?}");
    }
}

/// Serves the echo application on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, config: Config, stop: &AtomicBool) -> io::Result<()> {
    runner::serve(listener, &mut Engine::new(config, Echo), stop)
}

fn usage() -> ! {
    eprintln!("usage: eio_echo [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS]");
    std::process::exit(2);
}

fn main() {
    let (mut addr, mut config) = (String::from("127.0.0.1:3000"), Config::default());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut millis = || match args.next().and_then(|v| v.parse().ok()) {
            Some(ms) => Duration::from_millis(ms),
            None => usage(),
        };
        match arg.as_str() {
            "--ping-interval" => config.ping_interval = millis(),
            "--ping-timeout" => config.ping_timeout = millis(),
            a if a.starts_with('-') => usage(),
            a => addr = a.to_owned(),
        }
    }
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("eio_echo: cannot bind {addr}: {e}");
        std::process::exit(1)
    });
    let local = listener.local_addr().expect("local_addr");
    eprintln!("eio_echo: serving http://{local}{}", config.path);
    println!("LISTENING {}", local.port());
    if let Err(e) = serve(listener, config, &AtomicBool::new(false)) {
        eprintln!("eio_echo: {e}");
        std::process::exit(1);
    }
}
