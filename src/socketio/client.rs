//! The Socket.IO client endpoint: [`Client`] owns its [`engineio::Client`],
//! which owns the connections.
//!
//! The driver's loop is the Engine.IO client's (see [`engineio::Client`]):
//! open a TCP connection on [`ClientNotice::OpenConnection`] and report it
//! with [`Client::handle_connected`] (or [`Client::handle_closed`]), feed
//! each connection's bytes to [`Client::handle_input`], drain
//! [`Client::poll_transmit`] and [`Client::poll_event`] after every input
//! and command, and sleep until input or [`Client::poll_timeout`].
//! Everything else happens inside: the polling requests and the upgrade,
//! CONNECT for every namespace when a session opens (with the recovery id
//! and offset after a drop), the send buffer flushed while a namespace is
//! connected, the reconnection with the reference back-off after a lost
//! transport, and the ack timeouts.
//!
//! ```
//! use sockwire::engineio::{self, Transport};
//! use sockwire::entropy::SplitMix64;
//! use sockwire::socketio::{self, Client, ClientBuffers, ClientNotice};
//! use sockwire::time::Instant;
//!
//! let mut eio = engineio::ClientConfig::default();
//! eio.path = "/socket.io/";
//! let buffers = ClientBuffers::with_len(4096, |n| vec![0u8; n]);
//! let mut client: Client<Vec<u8>, SplitMix64> = Client::new(
//!     Instant::from_millis(0),
//!     eio,
//!     socketio::ClientConfig::default(),
//!     Transport::WebSocket,
//!     "example.com",
//!     buffers,
//!     SplitMix64::new(7),
//! )
//! .unwrap();
//! client.connect("/", Some(r#"{"token":"abc"}"#)).unwrap();
//! client.emit("/", "hello", r#""world""#, &[]).unwrap();
//! // The first thing it asks for is a connection.
//! assert!(matches!(client.poll_event(), Some(ClientNotice::OpenConnection { .. })));
//! ```

use super::Error;
use super::client_core::{ClientConfig, ClientCore, ClientEvent, ClientNotice};
use super::wire::Assembler;
use crate::engineio::{self, ConnId, Input, Transmit, Transport};
use crate::entropy::{Entropy, NoEntropy, SplitMix64};
use crate::storage::Buffer;
use crate::time::{Duration, Instant};

/// The storage a [`Client`] borrows for its whole life.
#[derive(Debug)]
pub struct ClientBuffers<B> {
    /// The Engine.IO send queue (each message its length plus a few bytes).
    pub queue: B,
    /// A WebSocket message arriving in pieces (up to the largest message).
    pub assembly: B,
    /// The Socket.IO send buffer, which keeps emits while disconnected.
    pub send_buffer: B,
    /// A binary packet's attachments being received.
    pub attachments: B,
}

impl<B> ClientBuffers<B> {
    /// Four buffers of `len` bytes each from `make`.
    pub fn with_len(len: usize, make: impl Fn(usize) -> B) -> Self {
        ClientBuffers {
            queue: make(len),
            assembly: make(len),
            send_buffer: make(len),
            attachments: make(len),
        }
    }
}

/// A Socket.IO client over its own Engine.IO client (see the
/// [module docs](self)): up to `N` namespaces, `A` acks outstanding.
#[derive(Debug)]
pub struct Client<B, E, const N: usize = 4, const A: usize = 16> {
    core: ClientCore<B, N, A>,
    eio: engineio::Client<B, E>,
    asm: Assembler<B>,
    notices: heapless::Deque<ClientNotice, 16>,
    /// A reconnection is due once the previous session has let go.
    reconnect_due: bool,
    now: Instant,
}

impl<B: Buffer, E: Entropy, const N: usize, const A: usize> Client<B, E, N, A> {
    /// A client of the server at `host` (the `Host` header), whose Engine.IO
    /// path is `eio.path` (Socket.IO's is `/socket.io/`), starting on
    /// `start` ([`Transport::Polling`] upgrades to WebSocket when
    /// `eio.upgrade` is on). Its first connection is asked for at once.
    pub fn new(
        now: Instant,
        eio: engineio::ClientConfig,
        config: ClientConfig,
        start: Transport,
        host: &str,
        buffers: ClientBuffers<B>,
        entropy: E,
    ) -> Result<Self, engineio::Error> {
        let mut eio =
            engineio::Client::new(eio, start, host, buffers.queue, buffers.assembly, entropy)?;
        eio.connect(now)?;
        Ok(Client {
            core: ClientCore::new(config, buffers.send_buffer),
            eio,
            asm: Assembler::new(buffers.attachments),
            notices: heapless::Deque::new(),
            reconnect_due: false,
            now,
        })
    }

    /// The Socket.IO state underneath (namespaces, buffer, reconnection).
    pub fn core(&self) -> &ClientCore<B, N, A> {
        &self.core
    }

    /// The Engine.IO client underneath.
    pub fn engine(&self) -> &engineio::Client<B, E> {
        &self.eio
    }

    /// True while `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.core.is_connected(nsp)
    }

    /// True once the client stopped: [`close`](Self::close), reconnection
    /// gave up or is off, or a fatal error.
    pub fn is_stopped(&self) -> bool {
        self.core.is_stopped()
    }

    /// The current session's transport, if one is open.
    pub fn transport(&self) -> Option<Transport> {
        self.eio
            .session()
            .filter(|s| s.is_open())
            .map(|s| s.transport())
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Joins `nsp` with the handshake `auth` (a JSON object); see
    /// [`ClientCore::connect`]. The reference client joins `/` too: join it
    /// if you use it.
    pub fn connect(&mut self, nsp: &str, auth: Option<&str>) -> Result<(), Error> {
        let session = self.eio.session_mut().filter(|s| s.is_open());
        self.core.connect(session, nsp, auth)
    }

    /// Emits event `name` with `args` (raw JSON values, comma separated) and
    /// binary `attachments` on `nsp`, through the send buffer (kept while
    /// disconnected); see [`ClientCore::emit`].
    pub fn emit(
        &mut self,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        let session = self.eio.session_mut();
        self.core
            .emit_via(session, self.now, nsp, name, args, attachments, None)
            .map(drop)
    }

    /// [`emit`](Self::emit) asking for an ack, answered by
    /// [`ClientEvent::Ack`] or, after `timeout`, [`ClientNotice::AckTimeout`].
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &str,
        attachments: &[&[u8]],
        timeout: Option<Duration>,
    ) -> Result<u64, Error> {
        self.now = now;
        let session = self.eio.session_mut();
        let id = self
            .core
            .emit_via(session, now, nsp, name, args, attachments, Some(timeout))?;
        // An id is always given when one is asked for.
        id.ok_or(Error::InvalidState)
    }

    /// A volatile emit: sent now if `nsp` is connected and the transport
    /// takes it, else dropped; returns whether it was sent.
    pub fn emit_volatile(&mut self, nsp: &str, name: &str, args: &str) -> Result<bool, Error> {
        match self.eio.session_mut().filter(|s| s.is_open()) {
            Some(s) => self.core.emit_volatile(s, nsp, name, args),
            None => Ok(false),
        }
    }

    /// Answers the server's event `ack_id` on `nsp`.
    pub fn ack(
        &mut self,
        nsp: &str,
        ack_id: u64,
        args: &str,
        attachments: &[&[u8]],
    ) -> Result<(), Error> {
        self.core.ack(nsp, ack_id, args, attachments)
    }

    /// Leaves `nsp` (DISCONNECT if connected); it is not rejoined.
    pub fn disconnect(&mut self, nsp: &str) -> Result<(), Error> {
        self.core.disconnect(nsp)
    }

    /// Stops: the buffered packets that can go out do, then the session
    /// closes and no reconnection follows.
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        self.pump();
        self.core.close();
        self.reconnect_due = false;
        self.eio.close(now);
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// The TCP connection `conn` asked for is open.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        self.eio.handle_connected(now, conn);
    }

    /// Connection `conn` ended or could not be opened.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        self.eio.handle_closed(now, conn);
    }

    /// Bytes received on `conn`: returns how many were consumed and at most
    /// one event, borrowed from `input` or the client's assemblers. "Consumed
    /// 0, nothing else" means exactly "need more bytes". A server that breaks
    /// the protocol costs its session (a [`ClientNotice::Disconnected`] says
    /// why, and reconnection follows), never an error here.
    pub fn handle_input<'a>(
        &'a mut self,
        now: Instant,
        conn: ConnId,
        input: &'a mut [u8],
    ) -> Result<Input<ClientEvent<'a>>, engineio::Error> {
        self.now = now;
        let core = &mut self.core;
        let asm = &mut self.asm;
        let r = self.eio.input_with(now, conn, input, |session, data| {
            // Jitter for a reconnection after a parse error.
            let mut seed = [0u8; 8];
            if let Some(e) = session.entropy_mut() {
                e.fill_bytes(&mut seed);
            }
            let jitter = SplitMix64::new(u64::from_le_bytes(seed));
            core.handle_message(now, session, data, asm, jitter)
                .ok()
                .flatten()
        })?;
        Ok(Input {
            consumed: r.consumed,
            message: r.message.flatten(),
            blocked: r.blocked,
            again: r.again,
        })
    }

    // ------------------------------------------------------------------
    // Glue between the layers
    // ------------------------------------------------------------------

    /// Takes the Engine.IO events (open, closed), flushes the send buffer,
    /// takes the Socket.IO notices (a reconnection starts the next session).
    fn pump(&mut self) {
        let now = self.now;
        self.pump_engine();
        if let Some(s) = self.eio.session_mut().filter(|s| s.is_open()) {
            // A packet the transport refuses waits in the buffer.
            let _ = self.core.flush(s);
        }
        while !self.notices.is_full()
            && let Some(n) = self.core.poll_event()
        {
            if let ClientNotice::Reconnect { .. } = n {
                self.reconnect_due = true;
            }
            let _ = self.notices.push_back(n);
        }
        if self.reconnect_due && self.eio.is_idle() && !self.core.is_stopped() {
            self.reconnect_due = false;
            let _ = self.eio.connect(now);
            // Its connection request.
            self.pump_engine();
        }
    }

    fn pump_engine(&mut self) {
        let now = self.now;
        // Room for the event and its Transport notice.
        while self.notices.len() + 2 <= self.notices.capacity()
            && let Some(ev) = self.eio.poll_event()
        {
            match ev {
                engineio::ClientEvent::OpenConnection { conn, purpose } => {
                    let _ = self
                        .notices
                        .push_back(ClientNotice::OpenConnection { conn, purpose });
                }
                engineio::ClientEvent::Open => {
                    if let Some(s) = self.eio.session_mut()
                        && self.core.handle_open(s).is_err()
                    {
                        // Stopped meanwhile: the session is not wanted.
                        self.eio.close(now);
                    }
                }
                engineio::ClientEvent::Closed(reason) => match self.eio.entropy_mut() {
                    Some(e) => self.core.handle_transport_closed(now, reason, e),
                    None => self.core.handle_transport_closed(now, reason, NoEntropy),
                },
                _ => {}
            }
            if !matches!(ev, engineio::ClientEvent::OpenConnection { .. }) {
                let _ = self.notices.push_back(ClientNotice::Transport(ev));
            }
        }
    }

    // ------------------------------------------------------------------
    // Time and output
    // ------------------------------------------------------------------

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.eio.poll_timeout(), self.core.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the heartbeat, open, probe, reconnection and ack timers.
    /// Harmless when early or repeated.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.eio.handle_timeout(now);
        self.core.handle_timeout(now);
    }

    /// What the application must know besides messages: connections to
    /// open, disconnections, reconnection attempts, ack timeouts, a fatal
    /// error.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientNotice> {
        self.pump();
        self.notices.pop_front()
    }

    /// Bytes to send and the connection they go to (see
    /// [`engineio::Client::poll_transmit`]). A connection is named only
    /// after its [`ClientNotice::OpenConnection`] was taken.
    #[must_use = "the bytes must be written to the named connection"]
    pub fn poll_transmit(
        &mut self,
        out: &mut [u8],
    ) -> Result<Option<Transmit<ConnId>>, engineio::Error> {
        self.pump();
        loop {
            let t = self.eio.poll_transmit(out)?;
            // A connection closed before the driver heard of it: neither
            // its close nor the request to open it goes out.
            if let Some(t) = t.filter(|t| t.close_after) {
                let before = self.notices.len();
                self.notices.retain(
                    |n| !matches!(n, ClientNotice::OpenConnection { conn, .. } if *conn == t.conn),
                );
                if self.notices.len() != before {
                    continue;
                }
            }
            return Ok(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `close` before the driver took the first `OpenConnection`: neither a
    /// close for a connection it never heard of, nor a request to open a
    /// connection nobody wants.
    #[test]
    fn a_connection_closed_before_it_was_announced_is_never_named() {
        let eio = engineio::ClientConfig {
            path: "/socket.io/",
            ..Default::default()
        };
        let buffers = ClientBuffers::with_len(1024, |n| alloc::vec![0u8; n]);
        let now = Instant::from_millis(0);
        let config = super::ClientConfig::default();
        let mut c: Client<alloc::vec::Vec<u8>, SplitMix64> = Client::new(
            now,
            eio,
            config,
            Transport::Polling,
            "h",
            buffers,
            SplitMix64::new(1),
        )
        .unwrap();
        c.close(now);
        let mut out = [0u8; 1024];
        assert_eq!(c.poll_transmit(&mut out).unwrap(), None);
        while let Some(n) = c.poll_event() {
            assert!(!matches!(n, ClientNotice::OpenConnection { .. }), "{n:?}");
        }
    }
}
