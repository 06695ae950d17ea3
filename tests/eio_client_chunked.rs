//! The Engine.IO client endpoint (`engineio::Client`) reading polling answers
//! with `Transfer-Encoding: chunked` (as uvicorn sends python-engineio's):
//! the payload's packets across chunk boundaries, whatever the pieces the
//! bytes arrive in; extensions and trailers; the connection kept alive after
//! the last chunk; a chunked refusal read whole; broken or oversized chunks
//! ending the session. In memory, on a virtual clock.

use sockwire::engineio::{
    Client, ClientCloseReason, ClientConfig, ClientEvent, ConnId, Data, Error, Purpose, Transport,
};
use sockwire::entropy::SplitMix64;
use sockwire::time::Instant;

const OPEN: &str = r#"0{"sid":"abcdefghijklmnopqrst","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

#[derive(Debug, PartialEq)]
enum M {
    Text(String),
    Binary(Vec<u8>),
}

struct Harness {
    c: Client<Vec<u8>, SplitMix64>,
    get: ConnId,
    /// The POST connection, once asked for.
    post: Option<ConnId>,
    now: Instant,
    /// What the driver keeps of the GET connection's input.
    buf: Vec<u8>,
    events: Vec<ClientEvent>,
    /// Connections the client asked to close.
    closed: Vec<ConnId>,
    /// Requests the client wrote, by connection.
    requests: Vec<(ConnId, String)>,
}

impl Harness {
    fn new(config: ClientConfig) -> Self {
        let now = Instant::from_millis(0);
        let mut c = Client::new(
            config,
            Transport::Polling,
            "127.0.0.1:3000",
            vec![0u8; 4096],
            vec![0u8; 4096],
            SplitMix64::new(7),
        )
        .unwrap();
        c.connect(now).unwrap();
        let get = match c.poll_event() {
            Some(ClientEvent::OpenConnection {
                conn,
                purpose: Purpose::PollingGet,
            }) => conn,
            other => panic!("expected the GET connection, got {other:?}"),
        };
        c.handle_connected(now, get);
        let mut h = Harness {
            c,
            get,
            post: None,
            now,
            buf: Vec::new(),
            events: Vec::new(),
            closed: Vec::new(),
            requests: Vec::new(),
        };
        h.drain();
        assert!(
            h.requests
                .iter()
                .any(|(c, r)| *c == get && r.starts_with("GET ")),
            "{:?}",
            h.requests
        );
        h
    }

    fn drain(&mut self) {
        let mut out = vec![0u8; 8192];
        for _ in 0..64 {
            match self.c.poll_transmit(&mut out).unwrap() {
                Some(t) => {
                    if t.len > 0 {
                        let text = String::from_utf8_lossy(&out[..t.len]).into_owned();
                        self.requests.push((t.conn, text));
                    }
                    if t.close_after {
                        self.closed.push(t.conn);
                    }
                }
                None => break,
            }
        }
        let mut opened = false;
        while let Some(e) = self.c.poll_event() {
            // The POST connection is opened when asked for.
            if let ClientEvent::OpenConnection {
                conn,
                purpose: Purpose::PollingPost,
            } = e
            {
                self.c.handle_connected(self.now, conn);
                self.post = Some(conn);
                opened = true;
            }
            self.events.push(e);
        }
        if opened {
            self.drain();
        }
    }

    /// The session ended with an error.
    fn assert_failed(&self) {
        assert!(
            self.events
                .iter()
                .any(|e| matches!(e, ClientEvent::Closed(ClientCloseReason::Error(_)))),
            "{:?}",
            self.events
        );
    }

    /// Feeds `bytes` to the GET connection in pieces of `piece` bytes, the
    /// way a driver does: keep what was not consumed, append what arrives.
    fn feed(&mut self, bytes: &[u8], piece: usize) -> Vec<M> {
        let get = self.get;
        self.feed_to(get, bytes, piece)
    }

    /// [`feed`](Self::feed) to connection `conn`.
    fn feed_to(&mut self, conn: ConnId, bytes: &[u8], piece: usize) -> Vec<M> {
        let mut got = Vec::new();
        for part in bytes.chunks(piece) {
            self.buf.extend_from_slice(part);
            let mut start = 0;
            // Each step consumes or delivers something, or stops.
            for _ in 0..10_000 {
                let r = self
                    .c
                    .handle_input(self.now, conn, &mut self.buf[start..])
                    .unwrap();
                start += r.consumed;
                let progressed = r.progressed();
                match r.message {
                    Some(Data::Text(t)) => got.push(M::Text(t.to_string())),
                    Some(Data::Binary(b)) => got.push(M::Binary(b.to_vec())),
                    None => {}
                }
                if !progressed || start >= self.buf.len() {
                    break;
                }
            }
            self.buf.drain(..start);
            self.drain();
        }
        got
    }
}

/// `body` as a chunked answer, cut in chunks of the sizes in `sizes`
/// (cycled), with `ext` after each size and `trailers` after the last chunk.
fn chunked(head_extra: &str, body: &[u8], sizes: &[usize], ext: &str, trailers: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=UTF-8\r\n{head_extra}Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let mut at = 0;
    for &n in sizes.iter().cycle() {
        if at >= body.len() {
            break;
        }
        let n = n.min(body.len() - at);
        out.extend_from_slice(format!("{n:x}{ext}\r\n").as_bytes());
        out.extend_from_slice(&body[at..at + n]);
        out.extend_from_slice(b"\r\n");
        at += n;
    }
    out.extend_from_slice(format!("0{ext}\r\n{trailers}\r\n").as_bytes());
    out
}

fn payload(packets: &[&str]) -> Vec<u8> {
    packets.join("\u{1e}").into_bytes()
}

fn expected() -> Vec<M> {
    vec![
        M::Text("hello".into()),
        M::Binary(vec![1, 2, 3]),
        M::Text("héllo wörld ✓".into()),
    ]
}

#[test]
fn a_chunked_handshake_and_payload_in_every_cut() {
    let body = payload(&[OPEN, "4hello", "bAQID", "4héllo wörld ✓"]);
    for sizes in [&[1][..], &[2, 7], &[3], &[64], &[10_000], &[5, 1, 130]] {
        for piece in [1, 2, 5, 17, 4096] {
            let mut h = Harness::new(ClientConfig::default());
            let answer = chunked("", &body, sizes, "", "");
            let got = h.feed(&answer, piece);
            assert_eq!(got, expected(), "chunks {sizes:?}, pieces of {piece}");
            assert!(
                h.events.contains(&ClientEvent::Open),
                "chunks {sizes:?}, pieces of {piece}: {:?}",
                h.events
            );
            assert!(h.buf.is_empty(), "all consumed: {:?}", h.buf);
            // Kept alive: the next long poll goes out on the same connection.
            assert!(h.closed.is_empty(), "{:?}", h.closed);
            let gets = h
                .requests
                .iter()
                .filter(|(c, r)| *c == h.get && r.starts_with("GET "))
                .count();
            assert_eq!(gets, 2, "{:?}", h.requests);
        }
    }
}

#[test]
fn extensions_and_trailers_are_skipped() {
    let body = payload(&[OPEN, "4hello", "bAQID", "4héllo wörld ✓"]);
    for piece in [1, 3, 4096] {
        let mut h = Harness::new(ClientConfig::default());
        let answer = chunked(
            "",
            &body,
            &[9],
            ";name=\"v\"",
            "X-Trailer: 1\r\nX-Other: two\r\n",
        );
        assert_eq!(h.feed(&answer, piece), expected(), "pieces of {piece}");
        assert!(h.buf.is_empty());
        assert!(h.closed.is_empty(), "{:?}", h.closed);
    }
}

#[test]
fn transfer_encoding_overrides_content_length() {
    let body = payload(&[OPEN, "4hello"]);
    let mut h = Harness::new(ClientConfig::default());
    let answer = chunked("Content-Length: 3\r\n", &body, &[4], "", "");
    assert_eq!(h.feed(&answer, 4096), vec![M::Text("hello".into())]);
    assert!(h.events.contains(&ClientEvent::Open));
}

#[test]
fn a_chunked_refusal_is_read_whole() {
    // python-engineio's refusal, chunked: its JSON body tells an Engine.IO
    // server saying no from another server.
    let body = br#"{"code":1,"message":"Session ID unknown"}"#;
    let mut answer = chunked("", body, &[6], "", "");
    answer.splice(..15, b"HTTP/1.1 400 Bad Request".iter().copied());
    let mut h = Harness::new(ClientConfig::default());
    h.feed(&answer, 3);
    assert!(
        h.events
            .contains(&ClientEvent::Closed(ClientCloseReason::Error(
                Error::RequestFailed(400)
            ))),
        "{:?}",
        h.events
    );
}

#[test]
fn a_broken_chunk_ends_the_session() {
    let mut h = Harness::new(ClientConfig::default());
    let answer =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n0{}\r\n0\r\n\r\n".to_vec();
    assert!(h.feed(&answer, 4096).is_empty());
    h.assert_failed();
    assert!(h.closed.contains(&h.get), "the connection is dropped");
}

#[test]
fn data_without_its_crlf_ends_the_session() {
    let mut h = Harness::new(ClientConfig::default());
    let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    answer.extend_from_slice(format!("{:x}\r\n{OPEN}XX0\r\n\r\n", OPEN.len()).as_bytes());
    h.feed(&answer, 4096);
    h.assert_failed();
}

/// A session opened by a chunked handshake answer, its next GET written.
fn opened(config: ClientConfig) -> Harness {
    let mut h = Harness::new(config);
    let answer = chunked("", OPEN.as_bytes(), &[16], "", "");
    assert!(h.feed(&answer, 4096).is_empty());
    assert!(h.events.contains(&ClientEvent::Open), "{:?}", h.events);
    h
}

#[test]
fn chunks_beyond_max_payload_end_the_session() {
    let config = ClientConfig {
        max_payload: 200,
        ..ClientConfig::default()
    };
    let mut h = opened(config);
    // Announced sizes add up past max_payload: refused at the second size,
    // before its data.
    let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n".to_vec();
    answer.extend_from_slice(&[b'4'; 0x80]);
    answer.extend_from_slice(b"\r\n80\r\n");
    h.feed(&answer, 4096);
    let failed = ClientEvent::Closed(ClientCloseReason::Error(Error::RequestFailed(413)));
    assert!(h.events.contains(&failed), "{:?}", h.events);
    // A size that does not fit at all.
    let mut h = opened(ClientConfig::default());
    let answer =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n".to_vec();
    h.feed(&answer, 4096);
    assert!(h.events.contains(&failed), "{:?}", h.events);
}

#[test]
fn another_transfer_coding_is_refused() {
    let mut h = Harness::new(ClientConfig::default());
    let answer =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nxxxxx\r\n0\r\n\r\n";
    h.feed(answer, 4096);
    h.assert_failed();
}

/// The POSTs' answers chunked, a short one ("ok", as python-engineio's) and
/// one too long to keep (skipped unread): each ends its request, and the
/// connection is kept for the next POST.
#[test]
fn chunked_post_answers_keep_the_connection() {
    let mut h = opened(ClientConfig::default());
    let long = vec![b'k'; 5000];
    for (i, body) in [&b"ok"[..], &long].into_iter().enumerate() {
        h.c.send_text(&format!("m{i}")).unwrap();
        h.drain();
        let post = h.post.expect("a POST connection");
        let posts = |h: &Harness| {
            h.requests
                .iter()
                .filter(|(c, r)| *c == post && r.starts_with("POST "))
                .count()
        };
        assert_eq!(posts(&h), i + 1, "{:?}", h.requests);
        let mut answer = chunked("", body, &[1000], ";e", "X: y\r\n");
        answer.splice(..15, b"HTTP/1.1 200 OK".iter().copied());
        assert!(h.feed_to(post, &answer, 7).is_empty());
        assert!(h.buf.is_empty(), "all consumed");
        assert!(h.closed.is_empty(), "{:?}", h.closed);
        assert!(
            !h.events.iter().any(|e| matches!(e, ClientEvent::Closed(_))),
            "{:?}",
            h.events
        );
    }
    // The next message goes out on the same connection.
    h.c.send_text("m2").unwrap();
    h.drain();
    let opens = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::OpenConnection {
                    purpose: Purpose::PollingPost,
                    ..
                }
            )
        })
        .count();
    assert_eq!(opens, 1, "{:?}", h.events);
    assert!(
        h.requests
            .iter()
            .filter(|(c, r)| Some(*c) == h.post && r.starts_with("POST "))
            .count()
            == 3
    );
}
