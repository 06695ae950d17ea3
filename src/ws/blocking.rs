//! A blocking WebSocket client and server over any `Read + Write` (feature `std`).
//!
//! This wraps the Sans-IO [`Connection`] for programs that want a socket-like
//! object: whole messages in, whole messages out, automatic pongs and close
//! replies. Messages are assembled in a growable buffer up to
//! [`Config::max_message_size`].
//!
//! ```no_run
//! use sockwire::ws::{Config, blocking::{Message, WebSocket}};
//! let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
//! let mut ws = WebSocket::connect(tcp, "127.0.0.1:9001", "/", Config::default())?;
//! ws.send_text("hello")?;
//! if let Message::Text(reply) = ws.read()? {
//!     println!("{reply}");
//! }
//! ws.close(1000, "bye")?;
//! while !matches!(ws.read()?, Message::Close { .. }) {}
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read, Write};
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::{
    Accept, ClientHandshake, ClientRequest, Config, Connection, Error, Event, MessageKind,
    ServerHandshake, State,
};
use crate::entropy::{Entropy, NoEntropy, StdEntropy};
use crate::time::StdClock;

#[cfg(feature = "deflate")]
use super::deflate::{Context, DeflateConfig, Params};

/// The compression state of a blocking connection: the lent windows, on the heap.
#[cfg(feature = "deflate")]
type Deflate = std::boxed::Box<Context<Vec<u8>, Vec<u8>, Vec<u16>>>;

#[cfg(feature = "deflate")]
fn deflate_context(params: &Params, role: super::Role, config: &DeflateConfig) -> Deflate {
    let a = params.agreed(role, config);
    let ctx = Context::new(
        a,
        vec![0; 1 << a.receive_window_bits],
        vec![0; 1 << a.send_window_bits],
        vec![0; 4096],
    );
    // The windows are sized from the agreement itself.
    std::boxed::Box::new(ctx.unwrap_or_else(|_| unreachable!()))
}

const READ_BUF: usize = 64 * 1024;
const WRITE_BUF: usize = 64 * 1024;

/// A whole message or control frame received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping (already answered).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's Close frame (already answered if we had not closed).
    Close {
        /// The code, if any.
        code: Option<u16>,
        /// The reason.
        reason: String,
    },
}

fn to_io(e: Error) -> io::Error {
    let kind = match e {
        Error::UnexpectedEof => io::ErrorKind::UnexpectedEof,
        Error::CloseTimeout => io::ErrorKind::TimedOut,
        Error::InvalidState => io::ErrorKind::NotConnected,
        Error::InvalidArgument => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

/// A blocking WebSocket over a stream `S`, masking (in the client role) with `E`.
#[derive(Debug)]
pub struct WebSocket<S, E = NoEntropy> {
    stream: S,
    conn: Connection<E>,
    clock: StdClock,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    msg: Vec<u8>,
    /// permessage-deflate, when negotiated, and the buffer messages inflate into.
    #[cfg(feature = "deflate")]
    deflate: Option<(Deflate, Vec<u8>)>,
}

impl<S: Read + Write> WebSocket<S, NoEntropy> {
    /// Runs the server side of the opening handshake on `stream`, accepting any
    /// path and no subprotocol. An invalid request is answered with its HTTP
    /// refusal and returned as an `InvalidData` error.
    pub fn accept(stream: S, config: Config) -> io::Result<Self> {
        Self::accept_with(stream, config, |_| Ok(Accept::default()))
    }

    /// Like [`accept`](Self::accept), accepting the client's
    /// permessage-deflate offer when `deflate` can honour it; messages are then
    /// compressed and inflated (see [`compression`](Self::compression)).
    #[cfg(feature = "deflate")]
    pub fn accept_deflate(stream: S, config: Config, deflate: DeflateConfig) -> io::Result<Self> {
        Self::accept_inner(stream, config, |_| Ok(Accept::default()), Some(deflate))
    }

    /// Like [`accept`](Self::accept), with a callback that sees the request and
    /// picks a subprotocol, or refuses with an HTTP status.
    pub fn accept_with(
        stream: S,
        config: Config,
        decide: impl FnOnce(&super::Request<'_>) -> Result<Accept<'static>, u16>,
    ) -> io::Result<Self> {
        #[cfg(feature = "deflate")]
        return Self::accept_inner(stream, config, decide, None);
        #[cfg(not(feature = "deflate"))]
        Self::accept_inner(stream, config, decide)
    }

    fn accept_inner(
        mut stream: S,
        config: Config,
        decide: impl FnOnce(&super::Request<'_>) -> Result<Accept<'static>, u16>,
        #[cfg(feature = "deflate")] deflate_config: Option<DeflateConfig>,
    ) -> io::Result<Self> {
        let mut rbuf = vec![0u8; READ_BUF];
        let mut wbuf = vec![0u8; WRITE_BUF];
        let mut hs = ServerHandshake::new();
        let mut filled = 0;
        loop {
            let n = stream.read(&mut rbuf[filled..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
            match hs.handle_input(&rbuf[..filled]) {
                Ok(None) => continue,
                Ok(Some(req)) => {
                    #[cfg(feature = "deflate")]
                    let params = deflate_config.and_then(|c| req.deflate_offer(&c));
                    let n = match decide(&req) {
                        #[cfg(feature = "deflate")]
                        Ok(accept) => req
                            .accept_deflate(&accept, params.as_ref(), &mut wbuf)
                            .map_err(to_io)?,
                        #[cfg(not(feature = "deflate"))]
                        Ok(accept) => req.accept(&accept, &mut wbuf).map_err(to_io)?,
                        Err(status) => {
                            let n = super::write_refusal(status, &mut wbuf).map_err(to_io)?;
                            stream.write_all(&wbuf[..n])?;
                            return Err(io::Error::new(
                                io::ErrorKind::PermissionDenied,
                                "handshake refused",
                            ));
                        }
                    };
                    stream.write_all(&wbuf[..n])?;
                    let head_len = req.head_len();
                    return Ok(WebSocket {
                        stream,
                        conn: Connection::server(config),
                        clock: StdClock::new(),
                        rbuf,
                        rstart: head_len,
                        rend: filled,
                        wbuf,
                        msg: Vec::new(),
                        #[cfg(feature = "deflate")]
                        deflate: params.map(|p| {
                            let c = deflate_config.unwrap_or_default();
                            (
                                deflate_context(&p, super::Role::Server, &c),
                                vec![0; READ_BUF],
                            )
                        }),
                    });
                }
                Err(e) => {
                    if let Ok(n) = e.write_response(&mut wbuf) {
                        stream.write_all(&wbuf[..n])?;
                    }
                    return Err(to_io(e));
                }
            }
        }
    }
}

impl<S: Read + Write> WebSocket<S, StdEntropy> {
    /// Runs the client side of the opening handshake for `path` on `host`.
    pub fn connect(stream: S, host: &str, path: &str, config: Config) -> io::Result<Self> {
        Self::connect_with(
            stream,
            ClientRequest::new(host, path),
            config,
            StdEntropy::new(),
        )
    }
}

impl<S: Read + Write, E: Entropy> WebSocket<S, E> {
    /// Runs the client side of the opening handshake for `request`, masking
    /// with `entropy`.
    pub fn connect_with(
        stream: S,
        request: ClientRequest<'_>,
        config: Config,
        entropy: E,
    ) -> io::Result<Self> {
        #[cfg(feature = "deflate")]
        return Self::connect_inner(stream, request, config, entropy, None);
        #[cfg(not(feature = "deflate"))]
        Self::connect_inner(stream, request, config, entropy)
    }

    fn connect_inner(
        mut stream: S,
        request: ClientRequest<'_>,
        config: Config,
        mut entropy: E,
        #[cfg(feature = "deflate")] deflate_config: Option<DeflateConfig>,
    ) -> io::Result<Self> {
        let mut rbuf = vec![0u8; READ_BUF];
        let mut wbuf = vec![0u8; WRITE_BUF];
        let hs = ClientHandshake::new(request, &mut entropy);
        #[cfg(feature = "deflate")]
        let hs = match deflate_config {
            Some(c) => hs.offer_deflate(c),
            None => hs,
        };
        let mut hs = hs;
        let n = hs.write_request(&mut wbuf).map_err(to_io)?;
        stream.write_all(&wbuf[..n])?;
        let mut filled = 0;
        let head_len = loop {
            let n = stream.read(&mut rbuf[filled..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
            if let Some(res) = hs.handle_input(&rbuf[..filled]).map_err(to_io)? {
                #[cfg(feature = "deflate")]
                break (res.head_len(), res.deflate());
                #[cfg(not(feature = "deflate"))]
                break res.head_len();
            }
        };
        #[cfg(feature = "deflate")]
        let (head_len, deflate) = head_len;
        Ok(WebSocket {
            stream,
            conn: Connection::client(config, entropy),
            clock: StdClock::new(),
            rbuf,
            rstart: head_len,
            rend: filled,
            wbuf,
            msg: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: deflate.map(|p| {
                let c = deflate_config.unwrap_or_default();
                (
                    deflate_context(&p, super::Role::Client, &c),
                    vec![0; READ_BUF],
                )
            }),
        })
    }

    /// Like [`connect_with`](Self::connect_with), offering permessage-deflate
    /// with `deflate`; messages are compressed and inflated when the server
    /// accepts (see [`compression`](Self::compression)).
    #[cfg(feature = "deflate")]
    pub fn connect_deflate(
        stream: S,
        request: ClientRequest<'_>,
        config: Config,
        entropy: E,
        deflate: DeflateConfig,
    ) -> io::Result<Self> {
        Self::connect_inner(stream, request, config, entropy, Some(deflate))
    }

    /// The permessage-deflate parameters in force, if any.
    #[cfg(feature = "deflate")]
    pub fn compression(&self) -> Option<&super::deflate::Agreed> {
        self.deflate.as_ref().map(|(c, _)| c.agreed())
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (writing to it directly corrupts the connection).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The Sans-IO connection underneath.
    pub fn connection(&self) -> &Connection<E> {
        &self.conn
    }

    /// Writes every automatic frame waiting in the connection.
    pub fn flush(&mut self) -> io::Result<()> {
        loop {
            let n = self.conn.poll_transmit(&mut self.wbuf).map_err(to_io)?;
            if n == 0 {
                return self.stream.flush();
            }
            self.stream.write_all(&self.wbuf[..n])?;
        }
    }

    /// Reads until a whole message, a ping, a pong or a Close arrives. After the
    /// closing handshake it returns `NotConnected`; a protocol violation by the
    /// peer sends the matching Close frame and returns `InvalidData`.
    pub fn read(&mut self) -> io::Result<Message> {
        loop {
            if self.rstart == self.rend && !self.conn.has_pending_data() {
                self.flush()?;
                if self.conn.state() == State::Closed {
                    return Err(io::ErrorKind::NotConnected.into());
                }
                let n = self.stream.read(&mut self.rbuf)?;
                if n == 0 {
                    self.conn.handle_eof(self.clock.now()).map_err(to_io)?;
                    return Err(io::ErrorKind::NotConnected.into());
                }
                (self.rstart, self.rend) = (0, n);
            }
            let now = self.clock.now();
            let input = &mut self.rbuf[self.rstart..self.rend];
            #[cfg(feature = "deflate")]
            let result = match &mut self.deflate {
                Some((ctx, zbuf)) => self.conn.handle_input_deflate(now, input, &mut **ctx, zbuf),
                None => self.conn.handle_input(now, input),
            };
            #[cfg(not(feature = "deflate"))]
            let result = self.conn.handle_input(now, input);
            let input = match result {
                Ok(input) => input,
                Err(e) => {
                    self.rstart = self.rend;
                    // Send the Close frame that answers the violation.
                    let _ = self.flush();
                    return Err(to_io(e));
                }
            };
            self.rstart += input.consumed;
            let message = match input.event {
                None => None,
                Some(Event::Data { kind, data, fin }) => {
                    self.msg.extend_from_slice(data);
                    fin.then(|| {
                        let bytes = core::mem::take(&mut self.msg);
                        match kind {
                            // Validated by the connection.
                            MessageKind::Text => {
                                Message::Text(String::from_utf8(bytes).unwrap_or_default())
                            }
                            MessageKind::Binary => Message::Binary(bytes),
                        }
                    })
                }
                Some(Event::Ping(p)) => Some(Message::Ping(p.to_vec())),
                Some(Event::Pong(p)) => Some(Message::Pong(p.to_vec())),
                Some(Event::Close { code, reason }) => Some(Message::Close {
                    code,
                    reason: reason.as_str().into(),
                }),
            };
            self.flush()?;
            if let Some(m) = message {
                return Ok(m);
            }
        }
    }

    /// A whole message, compressed when permessage-deflate is on.
    fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> io::Result<()> {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            self.flush()?;
            let Some((ctx, _)) = &mut self.deflate else {
                return Ok(());
            };
            let need = super::MAX_HEADER_LEN + super::deflate::compress_bound(data.len());
            if self.wbuf.len() < need {
                self.wbuf.resize(need, 0);
            }
            let n = self
                .conn
                .send_deflate(kind, data, &mut **ctx, &mut self.wbuf)
                .map_err(to_io)?;
            return self.stream.write_all(&self.wbuf[..n]);
        }
        self.send(kind, data, true)
    }

    fn send(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> io::Result<()> {
        self.flush()?;
        match self.conn.send_fragment(kind, data, fin, &mut self.wbuf) {
            Ok(n) => return self.stream.write_all(&self.wbuf[..n]),
            Err(Error::BufferTooSmall { .. }) => {}
            Err(e) => return Err(to_io(e)),
        }
        // Too large for the write buffer: stream the payload.
        let n = self
            .conn
            .begin_frame(kind, data.len() as u64, fin, &mut self.wbuf)
            .map_err(to_io)?;
        self.stream.write_all(&self.wbuf[..n])?;
        if self.conn.role() == super::Role::Server {
            // Servers do not mask: write straight from the caller's slice.
            self.stream.write_all(data)?;
            self.conn
                .payload_written(data.len() as u64)
                .map_err(to_io)?;
            return Ok(());
        }
        let mut rest = data;
        while !rest.is_empty() {
            let n = self
                .conn
                .send_payload(rest, &mut self.wbuf)
                .map_err(to_io)?;
            self.stream.write_all(&self.wbuf[..n])?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.send_message(MessageKind::Binary, data)
    }

    /// Sends one message as several frames, one per part.
    pub fn send_fragments(&mut self, kind: MessageKind, parts: &[&[u8]]) -> io::Result<()> {
        if parts.is_empty() {
            return self.send(kind, &[], true);
        }
        for (i, part) in parts.iter().enumerate() {
            self.send(kind, part, i + 1 == parts.len())?;
        }
        Ok(())
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.flush()?;
        let n = self.conn.ping(payload, &mut self.wbuf).map_err(to_io)?;
        self.stream.write_all(&self.wbuf[..n])
    }

    /// Starts the closing handshake; keep calling [`read`](Self::read) until it
    /// returns the peer's Close.
    pub fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        self.flush()?;
        let n = self
            .conn
            .close(self.clock.now(), code, reason, &mut self.wbuf)
            .map_err(to_io)?;
        self.stream.write_all(&self.wbuf[..n])?;
        self.stream.flush()
    }
}
