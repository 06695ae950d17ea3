//! A minimal sockwire WebSocket client, for flash and RAM measurement.
//!
//! Scenario (the same as `ews_client.rs`): write the opening handshake request,
//! check the server's 101 response, send a text and a binary message, read
//! frames until the peer's close (text is validated as UTF-8 by sockwire as it
//! streams, pings and the peer's close are answered through `poll_transmit`),
//! then start the close handshake. The bytes "received" come through
//! `black_box`, the bytes produced go into it.
#![no_std]
#![no_main]

use sockwire::entropy::Entropy;
use sockwire::time::Instant;
use sockwire::ws::{self, ClientHandshake, ClientRequest, Config, Connection, Event};
use sockwire_footprint::{TinyRng, export_size, export_state, halt, input, output, recv};

/// The firmware's RNG, as sockwire sees it.
struct Rng(TinyRng);

impl Entropy for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
}

// size_of of the client-side state, as this target lays it out (zero bytes of image).
export_size!(ws__Connection_client, Connection<Rng>);
export_size!(ws__ClientHandshake, ClientHandshake<'static>);
export_size!(ws__Response, ws::Response<'static>);
export_size!(ws__Event, Event<'static>);
export_size!(ws__Input, ws::Input<'static>);
export_size!(ws__Error, ws::Error);
export_size!(ws__Config, Config);
export_size!(ws__Utf8Validator, ws::Utf8Validator);
// On the stack besides call frames: connection, handshake, tx and rx.
export_state!(
    ws_client,
    size_of::<Connection<Rng>>() + size_of::<ClientHandshake<'static>>() + 256 + 256
);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut tx = [0u8; 256];
    let mut rx = [0u8; 256];
    let now = Instant::from_millis(input(0));
    let mut rng = Rng(TinyRng::new());

    // Opening handshake.
    let mut hs = ClientHandshake::new(
        ClientRequest::new(input("device.local"), input("/chat")),
        &mut rng,
    );
    let Ok(n) = hs.write_request(&mut tx) else {
        halt()
    };
    output(&tx[..n]);
    let filled = recv(&mut rx).min(rx.len());
    let head_len = match hs.handle_input(&rx[..filled]) {
        Ok(Some(response)) => response.head_len(),
        _ => halt(),
    };
    let mut conn = Connection::client(Config::default(), rng);

    // Send a text and a binary message.
    if let Ok(n) = conn.send_text(input("hello"), &mut tx) {
        output(&tx[..n]);
    }
    if let Ok(n) = conn.send_binary(input(&[1u8, 2, 3][..]), &mut tx) {
        output(&tx[..n]);
    }

    // Receive until the peer closes. Frames after the head are already in `rx`.
    let mut off = head_len;
    while off < filled && conn.state() == ws::State::Open {
        let Ok(r) = conn.handle_input(now, &mut rx[off..filled]) else {
            break;
        };
        off += r.consumed;
        match r.event {
            Some(Event::Data { data, .. }) => output(data),
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
