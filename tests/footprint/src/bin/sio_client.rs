//! A minimal sockwire Socket.IO client, for flash and RAM measurement: the
//! whole stack a sensor needs to talk to a Socket.IO server.
//!
//! Scenario: the WebSocket opening handshake for `/socket.io/?EIO=4&
//! transport=websocket`, an Engine.IO client on it, a Socket.IO client joining
//! `/` with an auth object, one emit and one emit with an ack (buffered until
//! the namespace is connected), then frames are read until the peer closes:
//! the open packet, the CONNECT reply, pings (answered), events (their name
//! and arguments read, an ack sent when asked), acks, binary attachments. The
//! bytes "received" come through `black_box`, the bytes produced go into it.
#![no_std]
#![no_main]

use sockwire::engineio::{self, ClientSessionEvent as EioEvent, websocket_target};
use sockwire::entropy::Entropy;
use sockwire::socketio::{self, ClientEvent};
use sockwire::time::Instant;
use sockwire::ws::{Assembler, ClientHandshake, ClientRequest};
use sockwire_footprint::{TinyRng, export_size, export_state, halt, input, output, recv};

/// The firmware's RNG, as sockwire sees it.
struct Rng(TinyRng);

impl Entropy for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
}

type Eio = engineio::ClientSession<[u8; 512], Rng>;
type Sio = socketio::ClientCore<[u8; 512], 1, 4>;

// size_of of the client-side state, as this target lays it out.
export_size!(engineio__Client_512, Eio);
export_size!(socketio__Client_512_1ns_4acks, Sio);
export_size!(socketio__Assembler_0, socketio::Assembler<[u8; 0]>);
// On the stack besides call frames: both clients, the handshake, both
// assemblers (256 B each), tx, rx and the target path.
export_state!(
    sio_client,
    size_of::<Eio>()
        + size_of::<Sio>()
        + size_of::<ClientHandshake<'static>>()
        + size_of::<Assembler<[u8; 256]>>()
        + size_of::<socketio::Assembler<[u8; 256]>>()
        + 256
        + 512
        + 48
);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut tx = [0u8; 256];
    let mut rx = [0u8; 512];
    let mut target = [0u8; 48];
    let now = Instant::from_millis(input(0));
    let mut rng = Rng(TinyRng::new());

    // The WebSocket opening handshake.
    let Ok(path) = websocket_target(input("/socket.io/"), &mut target) else {
        halt()
    };
    let mut hs = ClientHandshake::new(ClientRequest::new(input("device.local"), path), &mut rng);
    let Ok(n) = hs.write_request(&mut tx) else {
        halt()
    };
    output(&tx[..n]);
    let filled = recv(&mut rx).min(rx.len());
    let head_len = match hs.handle_input(&rx[..filled]) {
        Ok(Some(response)) => response.head_len(),
        _ => halt(),
    };

    // Engine.IO and Socket.IO on top.
    let mut eio: Eio = engineio::ClientSession::new(now, engineio::ClientConfig::DEFAULT, [0u8; 512], Rng(TinyRng::new()));
    let mut sio: Sio = socketio::ClientCore::new(socketio::ClientConfig::DEFAULT, [0u8; 512]);
    let _ = sio.connect(Some(&mut eio), "/", Some(input(r#"{"token":"123"}"#)));
    let _ = sio.emit("/", input("reading"), input(r#"{"t":21.5}"#), &[]);
    let _ = sio.emit_with_ack(now, "/", input("hello"), "", &[], None);

    let mut ws_asm = Assembler::new([0u8; 256]);
    let mut sio_asm = socketio::Assembler::new([0u8; 256]);
    let mut off = head_len;
    while off < filled && !eio.is_closed() {
        let mut message = None;
        match eio.handle_input(now, &mut rx[off..filled], &mut ws_asm) {
            Ok(r) => {
                off += r.consumed;
                message = r.message;
                if r.consumed == 0 {
                    break;
                }
            }
            Err(e) => output(e),
        }
        while let Some(e) = eio.poll_event() {
            match e {
                EioEvent::Open => {
                    let _ = sio.handle_open(&mut eio);
                }
                EioEvent::Closed(reason) => sio.handle_transport_closed(now, reason, &mut rng),
                _ => {}
            }
        }
        if let Some(m) = message {
            let mut ack = None;
            match sio.handle_message(now, &mut eio, m, &mut sio_asm, &mut rng) {
                Ok(Some(ClientEvent::Event(m))) => {
                    output(m.name());
                    for arg in m.args() {
                        output(arg);
                    }
                    output(m.attachments.get(0));
                    ack = m.ack_id;
                }
                Ok(Some(ClientEvent::Ack(m))) => output(m.data),
                Ok(Some(ClientEvent::Connect { sid, .. })) => output(sid),
                Ok(other) => output(other.is_some()),
                Err(e) => output(e),
            }
            if let Some(id) = ack {
                let _ = sio.ack("/", id, input("true"), &[]);
            }
        }
        while let Some(n) = sio.poll_event() {
            output(n);
        }
        let _ = sio.flush(&mut eio);
        while let Ok(n @ 1..) = eio.poll_transmit(&mut tx) {
            output(&tx[..n]);
        }
    }
    output(eio.is_closed());
    halt()
}
