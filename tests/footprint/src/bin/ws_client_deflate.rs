//! The `ws_client` image with permessage-deflate (RFC 7692, sockwire's feature
//! `deflate`), for flash and RAM measurement: `run.sh` prints its delta against
//! `ws_client`, which runs the same scenario without the feature.
//!
//! The client offers the extension for 512-byte windows without context
//! takeover (`DeflateConfig::small(9)`, the least memory), builds the
//! compression context over lent storage on the stack (a 512-byte inflate
//! window, a 512-byte deflate window, a 256-entry hash table) when the server
//! accepts, sends its text compressed and inflates what arrives into a
//! 256-byte buffer. Otherwise the scenario is `ws_client`'s: write the opening handshake request,
//! check the server's 101 response, send a text and a binary message, read
//! frames until the peer's close (text is validated as UTF-8 by sockwire as it
//! streams, pings and the peer's close are answered through `poll_transmit`),
//! then start the close handshake. The bytes "received" come through
//! `black_box`, the bytes produced go into it.
#![no_std]
#![no_main]

use sockwire::entropy::Entropy;
use sockwire::time::Instant;
use sockwire::ws::deflate::{Context, DeflateConfig, compress_bound};
use sockwire::ws::{
    self, ClientHandshake, ClientRequest, Config, Connection, Event, MAX_HEADER_LEN, MessageKind,
    Role,
};
use sockwire_footprint::{TinyRng, export_size, export_state, halt, input, output, recv};

/// The firmware's RNG, as sockwire sees it.
struct Rng(TinyRng);

impl Entropy for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
}

/// The compression state over lent storage: inflate window, deflate window,
/// hash table.
type Ctx = Context<[u8; 512], [u8; 512], [u16; 256]>;

/// The text this client sends.
const TEXT_MAX: usize = 64;

// size_of with the feature on: the connection grows by the state of a
// compressed message being received; the context lives beside it.
export_size!(ws__Connection_deflate, Connection<Rng>);
export_size!(ws__deflate__Context_512_512_256, Ctx);
// On the stack besides call frames: connection, handshake, context, the
// buffers (tx, rx, inflate output).
export_state!(
    ws_client_deflate,
    size_of::<Connection<Rng>>()
        + size_of::<ClientHandshake<'static>>()
        + size_of::<Ctx>()
        + TX
        + 256
        + 256
);

/// The write buffer: a whole compressed frame of `TEXT_MAX` bytes fits.
const TX: usize = MAX_HEADER_LEN + compress_bound(TEXT_MAX);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut tx = [0u8; TX];
    let mut rx = [0u8; 256];
    let mut inflated = [0u8; 256];
    let deflate = DeflateConfig::small(9);
    let now = Instant::from_millis(input(0));
    let mut rng = Rng(TinyRng::new());

    // Opening handshake.
    let mut hs = ClientHandshake::new(
        ClientRequest::new(input("device.local"), input("/chat")),
        &mut rng,
    )
    .offer_deflate(deflate);
    let Ok(n) = hs.write_request(&mut tx) else {
        halt()
    };
    output(&tx[..n]);
    let filled = recv(&mut rx).min(rx.len());
    let (head_len, params) = match hs.handle_input(&rx[..filled]) {
        Ok(Some(response)) => (response.head_len(), response.deflate()),
        _ => halt(),
    };
    // The context over lent storage (the windows the offer asked for).
    let Some(params) = params else { halt() };
    let Ok(mut ctx) = Ctx::new(
        params.agreed(Role::Client, &deflate),
        [0u8; 512],
        [0u8; 512],
        [0u16; 256],
    ) else {
        halt()
    };
    let mut conn = Connection::client(Config::default(), rng);

    // Send a text and a binary message.
    let text: &str = input("hello, hello, hello, compressed hello");
    if let Ok(n) = conn.send_deflate(MessageKind::Text, text.as_bytes(), &mut ctx, &mut tx) {
        output(&tx[..n]);
    }
    if let Ok(n) = conn.send_binary(input(&[1u8, 2, 3][..]), &mut tx) {
        output(&tx[..n]);
    }

    // Receive until the peer closes. Frames after the head are already in `rx`.
    let mut off = head_len;
    while (off < filled || conn.has_pending_data()) && conn.state() == ws::State::Open {
        let Ok(r) = conn.handle_input_deflate(now, &mut rx[off..filled], &mut ctx, &mut inflated)
        else {
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
        if r.consumed == 0 && !conn.has_pending_data() {
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
