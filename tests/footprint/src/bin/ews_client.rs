//! Baseline: the same minimal WebSocket client as `ws_client.rs`, written with
//! `embedded-websocket` 0.9 (default features off), for the flash comparison.
//!
//! Scenario (identical to the sockwire client): write the opening handshake
//! request, check the server's 101 response, send a text and a binary message,
//! read frames until the peer's close (text checked as UTF-8 as the crate's own
//! framer does, pings answered with pongs, a peer close answered), then start
//! the close handshake. The bytes "received" come through `black_box`.
#![no_std]
#![no_main]

use embedded_websocket::{
    WebSocketClient, WebSocketCloseStatusCode, WebSocketOptions, WebSocketReceiveMessageType,
    WebSocketSendMessageType,
};
use sockwire_footprint::{TinyRng, export_size, halt, input, output, recv};

// For comparison with sockwire's state (zero bytes of image).
export_size!(embedded_websocket__WebSocketClient, WebSocketClient<Rng>);

/// embedded-websocket takes its masking keys from a `rand_core::RngCore`.
struct Rng(TinyRng);

impl rand_core::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        (u64::from(self.0.next_u32()) << 32) | u64::from(self.0.next_u32())
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut tx = [0u8; 256];
    let mut frame = [0u8; 256];
    // What the network delivers: the 101 response, then frames.
    let mut rx_buf = [0u8; 256];
    let rx_len = recv(&mut rx_buf).min(rx_buf.len());
    let rx = &rx_buf[..rx_len];

    let mut ws = WebSocketClient::new_client(Rng(TinyRng::new()));

    // Opening handshake.
    let options = WebSocketOptions {
        path: input("/chat"),
        host: input("device.local"),
        origin: input(""),
        sub_protocols: None,
        additional_headers: None,
    };
    let Ok((n, key)) = ws.client_connect(&options, &mut tx) else {
        halt()
    };
    output(&tx[..n]);
    let Ok((head_len, _protocol)) = ws.client_accept(&key, rx) else {
        halt()
    };
    let mut off = head_len;

    // Send a text and a binary message.
    if let Ok(n) = ws.write(
        WebSocketSendMessageType::Text,
        true,
        input(b"hello"),
        &mut tx,
    ) {
        output(&tx[..n]);
    }
    if let Ok(n) = ws.write(
        WebSocketSendMessageType::Binary,
        true,
        input(&[1u8, 2, 3][..]),
        &mut tx,
    ) {
        output(&tx[..n]);
    }

    // Receive until the peer closes.
    while off < rx.len() {
        let Ok(r) = ws.read(&rx[off..], &mut frame) else {
            break;
        };
        off += r.len_from;
        let payload = &frame[..r.len_to];
        match r.message_type {
            WebSocketReceiveMessageType::Text => {
                if let Ok(s) = core::str::from_utf8(payload) {
                    output(s);
                }
            }
            WebSocketReceiveMessageType::Binary => output(payload),
            WebSocketReceiveMessageType::Ping => {
                if let Ok(n) = ws.write(WebSocketSendMessageType::Pong, true, payload, &mut tx) {
                    output(&tx[..n]);
                }
            }
            WebSocketReceiveMessageType::Pong => output(payload),
            WebSocketReceiveMessageType::CloseMustReply => {
                if let Ok(n) =
                    ws.write(WebSocketSendMessageType::CloseReply, true, payload, &mut tx)
                {
                    output(&tx[..n]);
                }
                break;
            }
            WebSocketReceiveMessageType::CloseCompleted => break,
        }
        if r.len_from == 0 {
            break;
        }
    }

    // Start the close handshake.
    if let Ok(n) = ws.close(
        WebSocketCloseStatusCode::NormalClosure,
        Some(input("bye")),
        &mut tx,
    ) {
        output(&tx[..n]);
    }
    output(&ws.state);
    halt()
}
