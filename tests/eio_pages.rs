//! `engineio::Config::pages`: plain pages the endpoint answers itself, on a
//! fixed (no heap) server and a virtual clock.

use sockwire::engineio::{Config, Origins, Page, Server, Transmit};
use sockwire::entropy::SplitMix64;
use sockwire::storage::Fixed;
use sockwire::time::Instant;

type Srv = Server<u8, (), Fixed<4, 2, 2048>, SplitMix64>;

const BIG: &[u8] = &[b'x'; 1000];

const PAGES: &[Page] = &[
    Page {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: b"<h1>hi</h1>",
    },
    Page {
        path: "/engine.io/client.js",
        content_type: "application/javascript",
        body: BIG,
    },
    Page {
        path: "/bad",
        content_type: "text/plain\r\nX-Injected: 1",
        body: b"no",
    },
];

fn server() -> Srv {
    let config = Config {
        pages: PAGES,
        allowed_origins: Origins::List(&["http://good.example"]),
        ..Config::default()
    };
    Srv::new(config, SplitMix64::new(7))
}

/// Every transmit for `conn`, written through an `out` of `buf` bytes.
fn drain(s: &mut Srv, buf: usize) -> Vec<(Transmit<u8>, Vec<u8>)> {
    let mut out = vec![0u8; buf];
    let mut v = Vec::new();
    while let Some(t) = s.poll_transmit(&mut out).unwrap() {
        v.push((t, out[..t.len].to_vec()));
    }
    v
}

fn request(s: &mut Srv, conn: u8, head: &str) {
    let mut bytes = head.as_bytes().to_vec();
    let now = Instant::from_millis(0);
    let r = s.handle_input(now, conn, &mut bytes).unwrap();
    assert_eq!(r.consumed, bytes.len(), "{head}");
}

fn joined(tx: &[(Transmit<u8>, Vec<u8>)]) -> String {
    String::from_utf8(tx.iter().flat_map(|(_, b)| b.clone()).collect()).unwrap()
}

#[test]
fn get_head_keep_alive_and_404() {
    let mut s = server();
    request(&mut s, 1, "GET /?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    let tx = drain(&mut s, 4096);
    assert_eq!(tx.len(), 1);
    assert!(!tx[0].0.close_after);
    assert_eq!(
        joined(&tx),
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 11\r\n\r\n<h1>hi</h1>"
    );
    // The same connection, kept alive: HEAD gives the head only.
    request(&mut s, 1, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    let text = joined(&drain(&mut s, 4096));
    assert!(text.ends_with("Content-Length: 11\r\n\r\n"), "{text}");
    // Another path: 404 as before; a POST to a page is not a page.
    request(&mut s, 1, "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
    let text = joined(&drain(&mut s, 4096));
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    request(
        &mut s,
        1,
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    );
    let text = joined(&drain(&mut s, 4096));
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
    // A content type that is not a header value: not served.
    request(&mut s, 2, "GET /bad HTTP/1.1\r\nHost: h\r\n\r\n");
    let text = joined(&drain(&mut s, 4096));
    assert!(
        text.starts_with("HTTP/1.1 404") && !text.contains("Injected"),
        "{text}"
    );
    // The Engine.IO path still routes (a page under it does not shadow it).
    request(
        &mut s,
        3,
        "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let text = joined(&drain(&mut s, 4096));
    assert!(text.contains("\r\n\r\n0{\"sid\":\""), "{text}");
}

#[test]
fn a_large_page_through_a_small_buffer_and_connection_close() {
    let mut s = server();
    // Any origin may load a page (no CORS headers on it).
    request(
        &mut s,
        1,
        "GET /engine.io/client.js HTTP/1.1\r\nHost: h\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n",
    );
    let tx = drain(&mut s, 100);
    assert!(tx.len() > 10, "split into many transmits: {}", tx.len());
    assert!(tx.iter().all(|(t, _)| t.conn == 1 && t.len <= 100));
    let (last, rest) = tx.split_last().unwrap();
    assert!(last.0.close_after && rest.iter().all(|(t, _)| !t.close_after));
    let text = joined(&tx);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: 1000\r\nConnection: close"
    );
    assert_eq!(body.as_bytes(), BIG);
    assert_eq!(s.connections(), 0);
    // A buffer too small for the head: nothing lost, a larger one works.
    request(&mut s, 2, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut tiny = [0u8; 8];
    assert!(s.poll_transmit(&mut tiny).is_err());
    let text = joined(&drain(&mut s, 4096));
    assert!(text.ends_with("\r\n\r\n<h1>hi</h1>"), "{text}");
}

#[test]
fn input_while_a_page_is_pending_waits() {
    let mut s = server();
    let mut two = b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    let now = Instant::from_millis(0);
    let half = two.len() / 2;
    let r = s.handle_input(now, 1, &mut two).unwrap().consumed;
    assert_eq!(r, half);
    let r2 = s.handle_input(now, 1, &mut two[half..]).unwrap();
    assert!(r2.blocked && r2.consumed == 0);
    assert_eq!(drain(&mut s, 4096).len(), 1);
    let r3 = s.handle_input(now, 1, &mut two[half..]).unwrap().consumed;
    assert_eq!(r3, half);
    assert!(joined(&drain(&mut s, 4096)).ends_with("<h1>hi</h1>"));
}
