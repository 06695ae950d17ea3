//! A minimal sockwire WebSocket server, for flash and RAM measurement.
//!
//! Scenario: parse and check the client's opening handshake request, answer 101
//! (or the 400/426 refusal), receive frames (unmasked in place, text validated
//! as it streams, pings and the peer's close answered through `poll_transmit`),
//! echo each message's pieces back as one streamed frame, then start the close
//! handshake. The bytes "received" come through `black_box`, the bytes
//! produced go into it.
#![no_std]
#![no_main]

use sockwire::time::Instant;
use sockwire::ws::{self, Accept, Config, Connection, Event, MessageKind, ServerHandshake};
use sockwire_footprint::{export_size, export_state, halt, input, output, recv};

// size_of of the server-side state, as this target lays it out (zero bytes of image).
export_size!(ws__Connection_server, Connection);
export_size!(ws__ServerHandshake, ServerHandshake);
export_size!(ws__Request, ws::Request<'static>);
// On the stack besides call frames: connection, handshake, tx and rx.
export_state!(
    ws_server,
    size_of::<Connection>() + size_of::<ServerHandshake>() + 256 + 256
);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut tx = [0u8; 256];
    let mut rx = [0u8; 256];
    let now = Instant::from_millis(input(0));

    // Opening handshake.
    let mut hs = ServerHandshake::new();
    let filled = recv(&mut rx).min(rx.len());
    let head_len = match hs.handle_input(&rx[..filled]) {
        Ok(Some(request)) => {
            output(request.path());
            let Ok(n) = request.accept(&Accept::default(), &mut tx) else {
                halt()
            };
            output(&tx[..n]);
            request.head_len()
        }
        Ok(None) => halt(),
        Err(e) => {
            if let Ok(n) = e.write_response(&mut tx) {
                output(&tx[..n]);
            }
            halt()
        }
    };
    let mut conn = Connection::server(Config::default());

    // Receive until the peer closes; echo data as it streams in.
    let mut off = head_len;
    while off < filled && conn.state() == ws::State::Open {
        let Ok(r) = conn.handle_input(now, &mut rx[off..filled]) else {
            break;
        };
        off += r.consumed;
        match r.event {
            Some(Event::Data { kind, data, fin }) => {
                let kind = if input(kind == MessageKind::Text) {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                if let Ok(n) = conn.send_fragment(kind, data, fin, &mut tx) {
                    output(&tx[..n]);
                }
            }
            Some(Event::Ping(p) | Event::Pong(p)) => output(p),
            Some(Event::Close { code, .. }) => output(code),
            _ => {}
        }
        // Automatic pong / close reply.
        while let Ok(n @ 1..) = conn.poll_transmit(&mut tx) {
            output(&tx[..n]);
        }
        if r.consumed == 0 {
            break;
        }
    }

    // Start the close handshake.
    if let Ok(n) = conn.close(now, 1000, input("bye"), &mut tx) {
        output(&tx[..n]);
    }
    output(conn.state());
    halt()
}
