//! sockwire's in-memory drivers, the counterparts of the peers' in `drive`.

use crate::drive::{Case, READ_BUF};
use crate::{CountSink, MemStream};
use sockwire::entropy::StdEntropy;
use sockwire::time::Instant;
use sockwire::ws::{self, Connection, Event, MessageKind};
use std::io::Write;

/// A server connection fed by socket-sized reads into one buffer: every read is
/// handed to `handle_input` whole (the connection keeps a split header itself).
pub struct SockwireDecode {
    conn: Connection,
    src: MemStream,
    rbuf: Vec<u8>,
    wbuf: [u8; 256],
    count: usize,
}

impl SockwireDecode {
    pub fn new(case: &Case) -> Self {
        SockwireDecode {
            conn: Connection::server(ws::Config::default()),
            src: MemStream::new(case.stream()),
            rbuf: vec![0; READ_BUF],
            wbuf: [0; 256],
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        let now = Instant::from_millis(0);
        let mut sum = 0;
        let mut msgs = 0;
        while msgs < self.count {
            let n = self.src.fill(&mut self.rbuf);
            let mut off = 0;
            while off < n {
                let r = self
                    .conn
                    .handle_input(now, &mut self.rbuf[off..n])
                    .expect("sockwire input");
                off += r.consumed;
                if let Some(Event::Data { data, fin, .. }) = r.event {
                    sum += data.len();
                    msgs += fin as usize;
                }
                // The contract: drain automatic frames after every input.
                if self.conn.wants_transmit() {
                    while self.conn.poll_transmit(&mut self.wbuf).expect("transmit") > 0 {}
                }
            }
        }
        sum
    }
}

/// A client connection masking with `StdEntropy` (the unpredictable source a real
/// client uses), one frame at a time into a reused buffer, then "sent".
pub struct SockwireEncode {
    conn: Connection<StdEntropy>,
    out: Vec<u8>,
    sink: CountSink,
    payload: Vec<u8>,
    /// The same payload as a `String` for the text case (validated once, here).
    text: String,
    kind: MessageKind,
    count: usize,
}

impl SockwireEncode {
    pub fn new(case: &Case) -> Self {
        SockwireEncode {
            conn: Connection::client(ws::Config::default(), StdEntropy::new()),
            out: vec![0; case.payload.len() + ws::MAX_HEADER_LEN],
            sink: CountSink::default(),
            payload: case.payload.clone(),
            text: if case.text {
                String::from_utf8(case.payload.clone()).unwrap()
            } else {
                String::new()
            },
            kind: if case.text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            },
            count: case.count,
        }
    }
    pub fn run(&mut self) -> usize {
        self.sink.written = 0;
        for _ in 0..self.count {
            let n = match self.kind {
                MessageKind::Text => self.conn.send_text(&self.text, &mut self.out),
                MessageKind::Binary => self.conn.send_binary(&self.payload, &mut self.out),
            }
            .expect("sockwire send");
            self.sink.write_all(&self.out[..n]).unwrap();
        }
        self.sink.written
    }
}

/// Parse a browser's upgrade request and write the 101 into `out`.
pub struct SockwireHandshake {
    pub out: [u8; 512],
}

impl SockwireHandshake {
    pub fn new() -> Self {
        SockwireHandshake { out: [0; 512] }
    }
    pub fn run(&mut self, request: &[u8]) -> usize {
        let mut hs = ws::ServerHandshake::new();
        let req = hs
            .handle_input(request)
            .expect("valid request")
            .expect("complete");
        req.accept(&ws::Accept { protocol: None }, &mut self.out)
            .expect("accept")
    }
}

impl Default for SockwireHandshake {
    fn default() -> Self {
        Self::new()
    }
}
