//! Chunking invariance: every input fed whole, one byte at a time, and split at
//! every position gives the same events, errors and automatic replies.

#[path = "common/pair.rs"]
mod pair;

use pair::{Outcome, cframe, conn, feed, feed_split, frame};
use sockwire::ws::{ClientHandshake, ClientRequest, Config, Role, ServerHandshake};

fn inputs() -> Vec<(&'static str, Role, Vec<u8>)> {
    let text = "κόσμε 𝄞 chunk".as_bytes();
    let long: Vec<u8> = (0..300).map(|i| i as u8).collect();
    vec![
        (
            "rfc text",
            Role::Client,
            vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        ("masked utf-8 text", Role::Server, cframe(0x81, text)),
        (
            "fragments with control frames between",
            Role::Server,
            [
                cframe(0x01, &text[..3]),
                cframe(0x89, b"ping"),
                cframe(0x00, &text[3..7]),
                cframe(0x8a, b""),
                cframe(0x80, &text[7..]),
            ]
            .concat(),
        ),
        ("16-bit length binary", Role::Server, cframe(0x82, &long)),
        (
            "empty messages",
            Role::Client,
            [
                frame(0x81, None, b""),
                frame(0x02, None, b""),
                frame(0x80, None, b""),
            ]
            .concat(),
        ),
        (
            "two pings back to back",
            Role::Server,
            [cframe(0x89, b"a"), cframe(0x89, b"bb"), cframe(0x81, b"x")].concat(),
        ),
        (
            "close with reason",
            Role::Server,
            cframe(0x88, b"\x0f\xa0bye"),
        ),
        (
            "close then junk",
            Role::Client,
            [frame(0x88, None, b"\x03\xe8"), vec![0xff; 10]].concat(),
        ),
        (
            "invalid utf-8 mid-frame",
            Role::Server,
            cframe(0x81, b"abc\xf5def"),
        ),
        (
            "invalid utf-8 across frames",
            Role::Server,
            [cframe(0x01, b"a\xf0\x9f"), cframe(0x80, b"\x98x")].concat(),
        ),
        (
            "reserved opcode after data",
            Role::Server,
            [cframe(0x81, b"ok"), cframe(0x85, b"")].concat(),
        ),
        (
            "non-minimal length",
            Role::Client,
            vec![0x81, 126, 0, 3, b'a', b'b', b'c'],
        ),
        (
            "bad close code",
            Role::Server,
            cframe(0x88, &1005u16.to_be_bytes()),
        ),
    ]
}

fn run(role: Role, bytes: &[u8], cuts: &[usize]) -> Outcome {
    let mut c = conn(role, Config::default());
    feed_split(&mut c, bytes, &mut cuts.iter().copied())
}

#[test]
fn connection_events_do_not_depend_on_chunking() {
    for (name, role, bytes) in inputs() {
        let whole = run(role, &bytes, &[]);
        let bytewise = feed(&mut conn(role, Config::default()), &bytes, 1);
        assert_eq!(bytewise, whole, "{name}: one byte at a time");
        for cut in 1..bytes.len() {
            assert_eq!(run(role, &bytes, &[cut]), whole, "{name}: split at {cut}");
        }
        if bytes.len() <= 40 {
            for a in 1..bytes.len() {
                for b in a + 1..bytes.len() {
                    assert_eq!(
                        run(role, &bytes, &[a, b]),
                        whole,
                        "{name}: split at {a} and {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn handshakes_do_not_depend_on_chunking() {
    let request =
        b"GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x80";
    let whole = {
        let mut hs = ServerHandshake::new();
        let r = hs.handle_input(request).unwrap().unwrap();
        (r.path(), r.query(), r.head_len())
    };
    // Bytes arriving one at a time into the same accumulating buffer.
    let mut hs = ServerHandshake::new();
    let mut got = None;
    for end in 1..=request.len() {
        if let Some(r) = hs.handle_input(&request[..end]).unwrap() {
            got = Some((r.path(), r.query(), r.head_len()));
            break;
        }
    }
    assert_eq!(got, Some(whole));
    // Split at every position.
    for cut in 1..request.len() {
        let mut hs = ServerHandshake::new();
        let first = hs
            .handle_input(&request[..cut])
            .unwrap()
            .map(|r| r.head_len());
        let second = hs.handle_input(request).unwrap().map(|r| r.head_len());
        assert_eq!(first.or(second), Some(whole.2), "split at {cut}");
    }

    // The client side, against a response built for its key.
    let mut rng = sockwire::entropy::SplitMix64::new(4);
    let mut hs = ClientHandshake::new(ClientRequest::new("h", "/"), &mut rng);
    let accept = sockwire::ws::accept_key(hs.key());
    let response = [
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "[..],
        &accept,
        b"\r\n\r\n\x81\x02hi",
    ]
    .concat();
    let mut done = None;
    for end in 1..=response.len() {
        if let Some(r) = hs.handle_input(&response[..end]).unwrap() {
            done = Some(r.head_len());
            break;
        }
    }
    assert_eq!(done, Some(response.len() - 4));
}
