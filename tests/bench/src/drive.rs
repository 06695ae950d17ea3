//! In-memory drivers: each implementation decoding a stream of masked client frames
//! as a server, encoding messages as a client, and answering a browser's upgrade
//! request. Each driver is built once and `run` does one benchmark iteration; every
//! `run` returns a number derived from the bytes it saw so the work can't be elided.

use crate::{CountSink, MemStream};
use std::io::Write;

/// One decode/encode workload: `count` messages of `payload`, text or binary.
#[derive(Clone)]
pub struct Case {
    pub text: bool,
    pub payload: Vec<u8>,
    pub count: usize,
}

impl Case {
    pub fn new(text: bool, len: usize, count: usize) -> Self {
        let payload = if text {
            crate::text_payload(len).into_bytes()
        } else {
            crate::binary_payload(len)
        };
        Case {
            text,
            payload,
            count,
        }
    }
    pub fn opcode(&self) -> u8 {
        if self.text { 1 } else { 2 }
    }
    /// The masked client frames of one iteration.
    pub fn stream(&self) -> Vec<u8> {
        crate::masked_stream(self.opcode(), &self.payload, self.count)
    }
    /// What a decoding `run` returns: the payload bytes of one iteration.
    pub fn expected(&self) -> usize {
        self.payload.len() * self.count
    }
}

/// Read buffer of the buffer-oriented (Sans-IO) decoders: as much as a socket read may hand over.
pub const READ_BUF: usize = 64 * 1024;

// ---------------------------------------------------------------- tungstenite

pub struct TungsteniteDecode {
    ws: tungstenite::WebSocket<MemStream>,
    count: usize,
}

impl TungsteniteDecode {
    pub fn new(case: &Case) -> Self {
        let ws = tungstenite::WebSocket::from_raw_socket(
            MemStream::new(case.stream()),
            tungstenite::protocol::Role::Server,
            None,
        );
        TungsteniteDecode {
            ws,
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        let mut sum = 0;
        for _ in 0..self.count {
            match self.ws.read().expect("tungstenite read") {
                tungstenite::Message::Text(t) => sum += t.len(),
                tungstenite::Message::Binary(b) => sum += b.len(),
                m => panic!("unexpected {m:?}"),
            }
        }
        sum
    }
}

pub struct TungsteniteEncode {
    ws: tungstenite::WebSocket<CountSink>,
    msg: tungstenite::Message,
    count: usize,
}

impl TungsteniteEncode {
    pub fn new(case: &Case) -> Self {
        let ws = tungstenite::WebSocket::from_raw_socket(
            CountSink::default(),
            tungstenite::protocol::Role::Client,
            None,
        );
        // The cheapest message to hand over repeatedly: a shared, reference-counted payload.
        let msg = if case.text {
            tungstenite::Message::Text(String::from_utf8(case.payload.clone()).unwrap().into())
        } else {
            tungstenite::Message::Binary(case.payload.clone().into())
        };
        TungsteniteEncode {
            ws,
            msg,
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        self.ws.get_mut().written = 0;
        for _ in 0..self.count {
            self.ws.write(self.msg.clone()).expect("tungstenite write");
        }
        self.ws.flush().expect("tungstenite flush");
        self.ws.get_ref().written
    }
}

/// Parse the request with tungstenite's own parser and write its 101 response.
pub fn tungstenite_handshake(request: &[u8], out: &mut Vec<u8>) -> usize {
    use tungstenite::handshake::machine::TryParse;
    use tungstenite::handshake::server::{Request, create_response, write_response};
    let (_len, req) = Request::try_parse(request)
        .expect("parse")
        .expect("complete");
    let resp = create_response(&req).expect("create_response");
    out.clear();
    write_response(&mut *out, &resp).expect("write_response");
    out.len()
}

// ---------------------------------------------------------------- fastwebsockets

pub struct FastwsDecode {
    ws: fastwebsockets::FragmentCollector<MemStream>,
    count: usize,
}

impl FastwsDecode {
    pub fn new(case: &Case) -> Self {
        let ws = fastwebsockets::WebSocket::after_handshake(
            MemStream::new(case.stream()),
            fastwebsockets::Role::Server,
        );
        FastwsDecode {
            ws: fastwebsockets::FragmentCollector::new(ws),
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        let ws = &mut self.ws;
        let count = self.count;
        crate::block_on(async move {
            let mut sum = 0;
            for _ in 0..count {
                let f = ws.read_frame().await.expect("fastwebsockets read");
                assert!(matches!(
                    f.opcode,
                    fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary
                ));
                sum += f.payload.len();
            }
            sum
        })
    }
}

pub struct FastwsEncode {
    ws: fastwebsockets::WebSocket<MemStream>,
    payload: Vec<u8>,
    text: bool,
    count: usize,
}

impl FastwsEncode {
    pub fn new(case: &Case) -> Self {
        let ws = fastwebsockets::WebSocket::after_handshake(
            MemStream::new(Vec::new()),
            fastwebsockets::Role::Client,
        );
        FastwsEncode {
            ws,
            payload: case.payload.clone(),
            text: case.text,
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        let ws = &mut self.ws;
        let payload = &self.payload[..];
        let (text, count) = (self.text, self.count);
        crate::block_on(async move {
            for _ in 0..count {
                let p = fastwebsockets::Payload::Borrowed(payload);
                let f = if text {
                    fastwebsockets::Frame::text(p)
                } else {
                    fastwebsockets::Frame::binary(p)
                };
                ws.write_frame(f).await.expect("fastwebsockets write");
            }
            ws.flush().await.expect("flush");
        });
        count
    }
}

// ---------------------------------------------------------------- embedded-websocket

pub struct EmbeddedDecode {
    ws: embedded_websocket::WebSocketServer,
    src: MemStream,
    from: Vec<u8>,
    off: usize,
    have: usize,
    to: Vec<u8>,
    case_text: bool,
    count: usize,
}

impl EmbeddedDecode {
    pub fn new(case: &Case) -> Self {
        let mut ws = embedded_websocket::WebSocketServer::new_server();
        ws.state = embedded_websocket::WebSocketState::Open;
        EmbeddedDecode {
            ws,
            src: MemStream::new(case.stream()),
            from: vec![0; READ_BUF],
            off: 0,
            have: 0,
            to: vec![0; case.payload.len() + 64],
            case_text: case.text,
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        use embedded_websocket::{Error, WebSocketReceiveMessageType as T};
        let mut sum = 0;
        let mut msgs = 0;
        let mut to_len = 0;
        while msgs < self.count {
            if self.off == self.have {
                self.off = 0;
                self.have = self.src.fill(&mut self.from);
            }
            match self
                .ws
                .read(&self.from[self.off..self.have], &mut self.to[to_len..])
            {
                Ok(r) => {
                    self.off += r.len_from;
                    to_len += r.len_to;
                    if r.end_of_message {
                        assert!(matches!(r.message_type, T::Text | T::Binary));
                        // embedded-websocket leaves UTF-8 validation to the caller: do it,
                        // so that it does the same work as the others.
                        if self.case_text {
                            core::str::from_utf8(&self.to[..to_len]).expect("utf-8");
                        }
                        sum += to_len;
                        to_len = 0;
                        msgs += 1;
                    }
                }
                Err(Error::ReadFrameIncomplete) => {
                    // A header cut by the end of the buffer: keep it, read more behind it.
                    self.from.copy_within(self.off..self.have, 0);
                    self.have -= self.off;
                    self.off = 0;
                    let n = self.src.fill(&mut self.from[self.have..]);
                    self.have += n;
                }
                Err(e) => panic!("embedded-websocket read: {e:?}"),
            }
        }
        sum
    }
}

pub struct EmbeddedEncode {
    ws: embedded_websocket::WebSocketClient<rand::rngs::ThreadRng>,
    out: Vec<u8>,
    sink: CountSink,
    payload: Vec<u8>,
    text: bool,
    count: usize,
}

impl EmbeddedEncode {
    pub fn new(case: &Case) -> Self {
        let mut ws = embedded_websocket::WebSocketClient::new_client(rand::thread_rng());
        ws.state = embedded_websocket::WebSocketState::Open;
        EmbeddedEncode {
            ws,
            out: vec![0; case.payload.len() + 14],
            sink: CountSink::default(),
            payload: case.payload.clone(),
            text: case.text,
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        use embedded_websocket::WebSocketSendMessageType as T;
        let kind = if self.text { T::Text } else { T::Binary };
        self.sink.written = 0;
        for _ in 0..self.count {
            let n = self
                .ws
                .write(kind, true, &self.payload, &mut self.out)
                .expect("embedded write");
            self.sink.write_all(&self.out[..n]).unwrap();
        }
        self.sink.written
    }
}

/// Parse the request with httparse (as embedded-websocket's docs do), pick out the
/// WebSocket headers with `read_http_header` and write the 101 with `server_accept`.
pub fn embedded_handshake(request: &[u8], out: &mut [u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(_) = req.parse(request).expect("parse") else {
        panic!("partial")
    };
    let ctx = embedded_websocket::read_http_header(req.headers.iter().map(|h| (h.name, h.value)))
        .expect("read_http_header")
        .expect("websocket request");
    let mut ws = embedded_websocket::WebSocketServer::new_server();
    ws.server_accept(&ctx.sec_websocket_key, None, out)
        .expect("server_accept")
}

#[cfg(feature = "sockwire")]
pub use crate::sockwire_drive::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn cases() -> Vec<Case> {
        vec![
            Case::new(true, crate::SMALL, 100),
            Case::new(false, crate::SMALL, 100),
            Case::new(true, crate::LARGE, 9),
            Case::new(false, crate::LARGE, 9),
        ]
    }

    #[test]
    fn decoders_see_every_payload_byte() {
        for c in cases() {
            for _ in 0..3 {
                assert_eq!(TungsteniteDecode::new(&c).run(), c.expected());
                assert_eq!(FastwsDecode::new(&c).run(), c.expected());
                assert_eq!(EmbeddedDecode::new(&c).run(), c.expected());
            }
            let mut t = TungsteniteDecode::new(&c);
            let mut f = FastwsDecode::new(&c);
            let mut e = EmbeddedDecode::new(&c);
            for _ in 0..5 {
                assert_eq!(t.run(), c.expected());
                assert_eq!(f.run(), c.expected());
                assert_eq!(e.run(), c.expected());
            }
            #[cfg(feature = "sockwire")]
            {
                let mut s = SockwireDecode::new(&c);
                for _ in 0..5 {
                    assert_eq!(s.run(), c.expected());
                }
            }
        }
    }

    #[test]
    fn encoders_write_whole_frames() {
        for c in cases() {
            let hdr = if c.payload.len() < 126 { 6 } else { 8 };
            let want = (c.payload.len() + hdr) * c.count;
            assert_eq!(TungsteniteEncode::new(&c).run(), want);
            assert_eq!(EmbeddedEncode::new(&c).run(), want);
            FastwsEncode::new(&c).run();
            #[cfg(feature = "sockwire")]
            assert_eq!(SockwireEncode::new(&c).run(), want);
        }
    }

    #[test]
    fn handshakes_answer_with_101() {
        let mut out = Vec::new();
        let n = tungstenite_handshake(crate::CHROME_REQUEST.as_bytes(), &mut out);
        let s = std::str::from_utf8(&out[..n]).unwrap();
        assert!(
            s.starts_with("HTTP/1.1 101") && s.contains(crate::CHROME_ACCEPT),
            "{s}"
        );
        let mut out = [0u8; 1024];
        let n = embedded_handshake(crate::CHROME_REQUEST.as_bytes(), &mut out);
        let s = std::str::from_utf8(&out[..n]).unwrap();
        assert!(
            s.starts_with("HTTP/1.1 101") && s.contains(crate::CHROME_ACCEPT),
            "{s}"
        );
        #[cfg(feature = "sockwire")]
        {
            let mut hs = SockwireHandshake::new();
            let n = hs.run(crate::CHROME_REQUEST.as_bytes());
            let s = std::str::from_utf8(&hs.out[..n]).unwrap();
            assert!(
                s.starts_with("HTTP/1.1 101") && s.contains(crate::CHROME_ACCEPT),
                "{s}"
            );
        }
    }
}
