//! Echo server: sockwire's Sans-IO `ws::Connection` driven by tokio.
//!
//! How it is built, and why:
//! - Readiness, not buffers, is what a connection waits on: each task awaits
//!   `readable()` and then reads with `try_read` into a read buffer shared by every
//!   connection of the thread. Input is unmasked in place there and echoed from
//!   there, so an idle connection owns no buffer at all: its memory is the task,
//!   the socket and the `Connection` (a few hundred bytes).
//! - The replies to one read are gathered in a shared write buffer and written with
//!   one `try_write`; only what the socket does not take is copied into the
//!   connection's own `pending` queue, and then the task stops reading until that
//!   is written (back-pressure).
//! - A message whose pieces arrive over several reads is collected in the
//!   connection's `msg` buffer; a message that arrives whole is never copied there.
//! - The opening handshake reads into a small buffer that is dropped afterwards.
//! - A read shorter than the buffer means the socket is drained: readiness is
//!   cleared right then, saving the recv that would only return EAGAIN.

use sockwire::time::StdClock;
use sockwire::ws::{self, Connection, Event, MessageKind, State};
use std::cell::RefCell;
use std::io;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// One read's worth of input, and the replies to it.
const READ_BUF: usize = 64 * 1024;
/// Output for a whole read fits (server frames are never larger than the client
/// frames they answer); the slack takes a close reply.
const WRITE_BUF: usize = READ_BUF + 1024;
/// Largest opening-handshake head accepted (ServerHandshake's default limit).
const MAX_HEAD: usize = 8 * 1024;

struct Shared {
    rbuf: Box<[u8]>,
    wbuf: Box<[u8]>,
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared {
        rbuf: vec![0; READ_BUF].into_boxed_slice(),
        wbuf: vec![0; WRITE_BUF].into_boxed_slice(),
    });
}

/// What a connection keeps between reads (besides its output queue).
struct Conn {
    ws: Connection,
    /// Pieces of a message that spans reads (empty otherwise).
    msg: Vec<u8>,
    msg_kind: Option<MessageKind>,
}

/// Where replies go: the shared write buffer or — once anything had to be queued
/// because it did not fit — the connection's own queue, to keep the order.
struct Out<'a> {
    wbuf: &'a mut [u8],
    wlen: usize,
    pending: &'a mut Vec<u8>,
}

impl Out<'_> {
    /// Write one frame with `f`, which needs at most `need` bytes.
    fn frame(
        &mut self,
        need: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize, ws::Error>,
    ) -> Result<usize, ws::Error> {
        if self.pending.is_empty() && self.wlen + need <= self.wbuf.len() {
            let n = f(&mut self.wbuf[self.wlen..])?;
            self.wlen += n;
            Ok(n)
        } else {
            if self.pending.is_empty() {
                self.pending.extend_from_slice(&self.wbuf[..self.wlen]);
                self.wlen = 0;
            }
            let old = self.pending.len();
            self.pending.resize(old + need, 0);
            let n = f(&mut self.pending[old..]);
            self.pending.truncate(old + *n.as_ref().unwrap_or(&0));
            n
        }
    }
}

fn echo(
    ws: &mut Connection,
    out: &mut Out<'_>,
    kind: MessageKind,
    data: &[u8],
) -> Result<(), ws::Error> {
    out.frame(data.len() + ws::MAX_HEADER_LEN, |buf| {
        ws.send_fragment(kind, data, true, buf)
    })?;
    Ok(())
}

fn drain_transmit(ws: &mut Connection, out: &mut Out<'_>) -> Result<(), ws::Error> {
    // An automatic frame is at most a 125-byte control frame.
    while ws.wants_transmit() {
        if out.frame(ws::MAX_HEADER_LEN + ws::MAX_CONTROL_PAYLOAD, |buf| {
            ws.poll_transmit(buf)
        })? == 0
        {
            break;
        }
    }
    Ok(())
}

/// Feed one read's bytes to the connection and queue the echoes. Returns Err when
/// the connection failed (its Close frame is queued by then).
fn process(
    c: &mut Conn,
    now: sockwire::time::Instant,
    input: &mut [u8],
    out: &mut Out<'_>,
) -> Result<(), ws::Error> {
    let base = input.as_ptr() as usize;
    let n = input.len();
    let mut off = 0;
    while off < n {
        let r = match c.ws.handle_input(now, &mut input[off..n]) {
            Ok(r) => r,
            Err(e) => {
                drain_transmit(&mut c.ws, out)?;
                return Err(e);
            }
        };
        off += r.consumed;
        if let Some(Event::Data { kind, data, fin }) = r.event {
            // `data` also borrows the connection (the event's one lifetime covers
            // control payloads kept inside it): note where the piece lies in the
            // input and let go of the event before sending.
            let start = data.as_ptr() as usize - base;
            let len = data.len();
            if fin && c.msg_kind.is_none() {
                // The whole message is here, unmasked in place: echo it from here.
                echo(&mut c.ws, out, kind, &input[start..start + len])?;
            } else {
                c.msg.extend_from_slice(&input[start..start + len]);
                c.msg_kind = Some(kind);
                if fin {
                    echo(&mut c.ws, out, kind, &c.msg)?;
                    c.msg.clear();
                    c.msg_kind = None;
                    if c.msg.capacity() > READ_BUF {
                        c.msg = Vec::new();
                    }
                }
            }
        }
        drain_transmit(&mut c.ws, out)?;
    }
    Ok(())
}

/// Write `bytes` now as far as the socket takes them; queue the rest.
fn send_now(stream: &TcpStream, bytes: &[u8], pending: &mut Vec<u8>) -> io::Result<()> {
    if !pending.is_empty() {
        // Order: the queue goes first.
        pending.extend_from_slice(bytes);
        return Ok(());
    }
    let mut done = 0;
    while done < bytes.len() {
        match stream.try_write(&bytes[done..]) {
            Ok(k) => done += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    pending.extend_from_slice(&bytes[done..]);
    Ok(())
}

/// Process `input` with output into the shared write buffer, then write it.
/// Returns whether the connection stays open.
fn feed(
    stream: &TcpStream,
    c: &mut Conn,
    pending: &mut Vec<u8>,
    now: sockwire::time::Instant,
    input: &mut [u8],
    wbuf: &mut [u8],
) -> io::Result<bool> {
    let mut out = Out {
        wbuf,
        wlen: 0,
        pending,
    };
    let result = process(c, now, input, &mut out);
    let wlen = out.wlen;
    send_now(stream, &wbuf[..wlen], pending)?;
    Ok(result.is_ok() && c.ws.state() != State::Closed)
}

/// One readiness event's worth of work. The shared buffers are borrowed only in
/// here, never across an await.
fn on_readable(
    stream: &TcpStream,
    c: &mut Conn,
    pending: &mut Vec<u8>,
    clock: &StdClock,
) -> io::Result<bool> {
    SHARED.with(|shared| {
        let Shared { rbuf, wbuf } = &mut *shared.borrow_mut();
        match stream.try_read(rbuf) {
            Ok(0) => {
                let _ = c.ws.handle_eof(clock.now());
                Ok(false)
            }
            Ok(n) => {
                if n < rbuf.len() {
                    // A short read emptied the socket's receive queue. Tell tokio it
                    // is no longer readable, as nginx does after a short recv, instead
                    // of finding out with one more recv that fails with EAGAIN. This
                    // is race-free: tokio only clears readiness it has not seen
                    // renewed since, and epoll (edge-triggered) reports bytes that
                    // arrive after the read as a new event.
                    let _ = stream.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                feed(stream, c, pending, clock.now(), &mut rbuf[..n], wbuf)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
        }
    })
}

async fn flush_pending(stream: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<()> {
    if !pending.is_empty() {
        stream.write_all(pending).await?;
        pending.clear();
        if pending.capacity() > WRITE_BUF {
            *pending = Vec::new();
        }
    }
    Ok(())
}

/// Read the upgrade request, answer it, and hand over any frames that came with it.
async fn handshake(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    clock: &StdClock,
) -> io::Result<Option<Conn>> {
    let mut head = vec![0u8; 1024];
    let mut len = 0;
    let mut hs = ws::ServerHandshake::new();
    loop {
        if len == head.len() {
            if head.len() > MAX_HEAD {
                return Ok(None); // the handshake refuses it before this
            }
            head.resize(head.len() * 2, 0);
        }
        stream.readable().await?;
        match stream.try_read(&mut head[len..]) {
            Ok(0) => return Ok(None),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
        let mut resp = [0u8; 512];
        let (n, head_len) = match hs.handle_input(&head[..len]) {
            Ok(None) => continue,
            Ok(Some(req)) => {
                let n = req
                    .accept(&ws::Accept { protocol: None }, &mut resp)
                    .map_err(io::Error::other)?;
                (n, req.head_len())
            }
            Err(e) => {
                if let Ok(n) = e.write_response(&mut resp) {
                    let _ = stream.write_all(&resp[..n]).await;
                }
                return Ok(None);
            }
        };
        stream.write_all(&resp[..n]).await?;
        let mut c = Conn {
            ws: Connection::server(ws::Config::default()),
            msg: Vec::new(),
            msg_kind: None,
        };
        if len > head_len {
            // Frames right behind the head (a client need not wait for the 101).
            let open = SHARED.with(|shared| {
                let wbuf = &mut shared.borrow_mut().wbuf;
                feed(
                    stream,
                    &mut c,
                    pending,
                    clock.now(),
                    &mut head[head_len..len],
                    wbuf,
                )
            })?;
            if !open {
                flush_pending(stream, pending).await?;
                return Ok(None);
            }
        }
        return Ok(Some(c));
    }
}

async fn serve(mut stream: TcpStream) {
    // Timers: a server that never starts the closing handshake itself has none
    // (`poll_timeout` is only set after sending Close), so none are polled here.
    let clock = StdClock::new();
    let mut pending = Vec::new();
    // Boxed: the handshake's buffers live on the heap only while it runs, instead of
    // widening every connection's future for its whole life.
    let Ok(Some(mut c)) = Box::pin(handshake(&mut stream, &mut pending, &clock)).await else {
        return;
    };
    loop {
        if flush_pending(&mut stream, &mut pending).await.is_err() {
            return;
        }
        if stream.readable().await.is_err() {
            return;
        }
        match on_readable(&stream, &mut c, &mut pending, &clock) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return,
        }
    }
    // The closing handshake is over (or the connection failed or hit EOF): send what
    // is queued, then close first, as a server does, reading out what the client
    // still sends for a moment so that unread bytes don't turn the close into a reset.
    let _ = flush_pending(&mut stream, &mut pending).await;
    let _ = stream.shutdown().await;
    let _ = Box::pin(tokio::time::timeout(
        std::time::Duration::from_secs(2),
        async {
            let mut sink = [0u8; 512];
            while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
                if n == 0 {
                    break;
                }
            }
        },
    ))
    .await;
}

/// The size of the per-connection task's future (the state every connection holds).
fn future_size<F: Fn(TcpStream) -> Fut, Fut>(_: F) -> usize {
    std::mem::size_of::<Fut>()
}

fn main() {
    eprintln!(
        "per connection: serve() future {} bytes, ws::Connection {} bytes",
        future_size(serve),
        std::mem::size_of::<Connection>()
    );
    let args = sockwire_bench::server::args();
    sockwire_bench::server::runtime(args.threads).block_on(async move {
        let listener = sockwire_bench::server::listen(args.port);
        sockwire_bench::server::accept_loop(listener, serve).await;
    });
}
