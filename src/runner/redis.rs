//! The Redis connections of a clustered Socket.IO server (the Node Redis
//! adapter's protocol, [`socketio::adapter`](crate::socketio::adapter)), for
//! the std runner.
//!
//! Two TCP connections, each on a thread of its own: the subscriber
//! PSUBSCRIBEs to the broadcast channels of the server's namespaces and
//! SUBSCRIBEs to their request and response channels (by exact name, so
//! that `PUBSUB NUMSUB` counts this node as the Node adapter counts its
//! own), and hands every message to the endpoint thread (waking it); the
//! publisher writes the PUBLISH and `PUBSUB NUMSUB` commands the endpoint
//! queues, drops the PUBLISH replies and hands the counts back
//! ([`LinkEvent::Count`]). Either
//! one reconnects when Redis goes away (every 100 ms at first, backing off to
//! 2 s), and the subscriber subscribes again. The endpoint learns of each
//! change as a [`LinkEvent`], and tells its `socketio::Server`
//! (`set_adapter_connected`), so that broadcasts made while Redis is down
//! fail instead of vanishing.
//!
//! Redis pub/sub delivers at most once: a message published while a node's
//! subscriber is down never reaches that node.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::string::{String, ToString};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

use super::Waker;
use crate::socketio::adapter::resp;

/// How long a blocking read or write waits before looking at the stop flag.
const TICK: Duration = Duration::from_millis(250);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// What the link tells the endpoint thread.
#[derive(Debug)]
pub enum LinkEvent {
    /// A message of the subscription.
    Message {
        /// Its channel.
        channel: Vec<u8>,
        /// Its bytes.
        message: Vec<u8>,
    },
    /// The subscriber is connected and every pattern and channel is
    /// subscribed.
    Subscribed,
    /// Redis's answer to [`RedisLink::count`]: `channel` has `count`
    /// subscribers.
    Count {
        /// The channel.
        channel: Vec<u8>,
        /// Its subscribers (`PUBSUB NUMSUB`).
        count: i64,
    },
    /// The publisher is connected.
    PublisherUp,
    /// A connection went down, or could not be made: `role` is `subscriber`
    /// or `publisher`, `why` says what happened. It is being retried.
    Down {
        /// Which connection.
        role: &'static str,
        /// What happened.
        why: String,
    },
}

/// The two connections to one Redis server, on their threads; stopped when
/// dropped.
#[derive(Debug)]
pub struct RedisLink {
    addr: SocketAddr,
    events: Receiver<LinkEvent>,
    publish: Sender<Vec<u8>>,
    stop: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

struct Shared {
    addr: SocketAddr,
    events: Sender<LinkEvent>,
    stop: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Shared {
    fn tell(&self, e: LinkEvent) {
        let _ = self.events.send(e);
        if let Some(w) = self.waker.lock().ok().and_then(|w| w.clone()) {
            w.wake();
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Connects, retrying with backoff until it works or the link stops;
    /// reports the first failure of each outage.
    fn connect(&self, role: &'static str, mut down_told: bool) -> Option<TcpStream> {
        let mut delay = FIRST_RETRY;
        while !self.stopped() {
            match TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(TICK));
                    return Some(s);
                }
                Err(e) => {
                    if !down_told {
                        self.tell(LinkEvent::Down {
                            role,
                            why: std::format!("cannot connect to {}: {e}", self.addr),
                        });
                        down_told = true;
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(LAST_RETRY);
                }
            }
        }
        None
    }
}

impl RedisLink {
    /// Starts the connections to the Redis server at `addr`; the subscriber
    /// PSUBSCRIBEs to `patterns` (see
    /// [`Adapter::pattern`](crate::socketio::adapter::Adapter::pattern)).
    /// Returns at once: [`LinkEvent`]s tell when they are up.
    pub fn start(addr: SocketAddr, patterns: Vec<Vec<u8>>) -> io::Result<RedisLink> {
        Self::start_with(addr, patterns, Vec::new())
    }

    /// [`start`](Self::start), the subscriber also SUBSCRIBing to
    /// `channels` by exact name (the request and response channels, see
    /// [`request::channel`](crate::socketio::adapter::request::channel) and
    /// [`request::response_channel`](crate::socketio::adapter::request::response_channel)).
    pub fn start_with(
        addr: SocketAddr,
        patterns: Vec<Vec<u8>>,
        channels: Vec<Vec<u8>>,
    ) -> io::Result<RedisLink> {
        let (etx, events) = mpsc::channel();
        let (publish, prx) = mpsc::channel::<Vec<u8>>();
        let stop = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(Mutex::new(None));
        let shared = || Shared {
            addr,
            events: etx.clone(),
            stop: stop.clone(),
            waker: waker.clone(),
        };
        let sub = shared();
        std::thread::Builder::new()
            .name("sockwire-redis-sub".into())
            .spawn(move || subscriber(sub, patterns, channels))?;
        let publ = shared();
        std::thread::Builder::new()
            .name("sockwire-redis-pub".into())
            .spawn(move || publisher(publ, prx))?;
        Ok(RedisLink {
            addr,
            events,
            publish,
            stop,
            waker,
        })
    }

    /// The Redis server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wakes `waker` after each event.
    pub fn set_waker(&self, waker: Waker) {
        if let Ok(mut w) = self.waker.lock() {
            *w = Some(waker);
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&self) -> Option<LinkEvent> {
        self.events.try_recv().ok()
    }

    /// Asks Redis for `channel`'s subscriber count (`PUBSUB NUMSUB`,
    /// queued for the publisher thread): a [`LinkEvent::Count`] answers
    /// (none if the publisher is down).
    pub fn count(&self, channel: &[u8]) {
        let args: [&[u8]; 3] = [b"PUBSUB", b"NUMSUB", channel];
        let mut cmd = std::vec![0u8; resp::encoded_len(&args)];
        if resp::encode(&args, &mut cmd).is_ok() {
            let _ = self.publish.send(cmd);
        }
    }

    /// PUBLISHes `message` on `channel` (queued for the publisher thread).
    pub fn publish(&self, channel: &[u8], message: &[u8]) {
        let args: [&[u8]; 3] = [b"PUBLISH", channel, message];
        let mut cmd = std::vec![0u8; resp::encoded_len(&args)];
        if resp::encode(&args, &mut cmd).is_ok() {
            let _ = self.publish.send(cmd);
        }
    }
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn subscriber(link: Shared, patterns: Vec<Vec<u8>>, channels: Vec<Vec<u8>>) {
    let limits = resp::Limits {
        // The largest message the adapter can be sent (Engine.IO's default
        // maxPayload is 1 MB; binary arguments make it larger).
        max_bulk: 64 << 20,
        ..resp::Limits::DEFAULT
    };
    let mut down_told = false;
    while let Some(mut s) = link.connect("subscriber", down_told) {
        let mut cmd = Vec::new();
        for (verb, list) in [
            (&b"PSUBSCRIBE"[..], &patterns),
            (&b"SUBSCRIBE"[..], &channels),
        ] {
            if list.is_empty() {
                continue;
            }
            let mut args: Vec<&[u8]> = std::vec![verb];
            args.extend(list.iter().map(|p| p.as_slice()));
            let at = cmd.len();
            cmd.resize(at + resp::encoded_len(&args), 0);
            let _ = resp::encode(&args, &mut cmd[at..]);
        }
        let why = match s.write_all(&cmd) {
            Ok(()) => read_subscription(&link, &mut s, &limits, patterns.len() + channels.len()),
            Err(e) => e.to_string(),
        };
        if link.stopped() {
            return;
        }
        link.tell(LinkEvent::Down {
            role: "subscriber",
            why,
        });
        down_told = true;
        std::thread::sleep(FIRST_RETRY);
    }
}

/// Reads the subscription until the connection ends; returns why it did.
fn read_subscription(
    link: &Shared,
    s: &mut TcpStream,
    limits: &resp::Limits,
    patterns: usize,
) -> String {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = std::vec![0u8; 64 * 1024];
    loop {
        let mut used = 0;
        loop {
            match resp::parse(&buf[used..], limits) {
                Ok(Some((frame, n))) => {
                    used += n;
                    match frame.pubsub() {
                        Some(resp::PubSub::Message {
                            channel, message, ..
                        }) => link.tell(LinkEvent::Message {
                            channel: channel.to_vec(),
                            message: message.to_vec(),
                        }),
                        Some(resp::PubSub::Subscription {
                            kind: b"psubscribe" | b"subscribe",
                            count,
                            ..
                        }) if count == patterns as i64 => link.tell(LinkEvent::Subscribed),
                        _ => {
                            if let Some(e) = frame.error() {
                                return std::format!(
                                    "Redis answered (P)SUBSCRIBE with {}",
                                    String::from_utf8_lossy(e)
                                );
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return std::format!("Redis sent what the client cannot read: {e}"),
            }
        }
        buf.drain(..used);
        match s.read(&mut chunk) {
            Ok(0) => return "Redis closed the connection".into(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if link.stopped() {
                    return String::new();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return e.to_string(),
        }
    }
}

fn publisher(link: Shared, commands: Receiver<Vec<u8>>) {
    let mut down_told = false;
    while let Some(s) = link.connect("publisher", down_told) {
        let alive = Arc::new(AtomicBool::new(true));
        // PUBLISH replies (the receivers' counts) are read and dropped,
        // `PUBSUB NUMSUB` replies handed on; the reader notices when Redis
        // goes away.
        let reader = {
            let (mut r, alive, stop) = (s.try_clone(), alive.clone(), link.stop.clone());
            let tell = Shared {
                addr: link.addr,
                events: link.events.clone(),
                stop: link.stop.clone(),
                waker: link.waker.clone(),
            };
            std::thread::Builder::new()
                .name("sockwire-redis-pub-read".into())
                .spawn(move || {
                    let mut chunk = [0u8; 4096];
                    let mut buf: Vec<u8> = Vec::new();
                    while let Ok(r) = r.as_mut() {
                        match r.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => {
                                buf.extend_from_slice(&chunk[..n]);
                                if !replies(&tell, &mut buf) {
                                    break;
                                }
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    io::ErrorKind::WouldBlock
                                        | io::ErrorKind::TimedOut
                                        | io::ErrorKind::Interrupted
                                ) =>
                            {
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    alive.store(false, Ordering::Relaxed);
                })
        };
        if reader.is_err() {
            return;
        }
        link.tell(LinkEvent::PublisherUp);
        let mut s = s;
        let why = loop {
            if !alive.load(Ordering::Relaxed) {
                break String::from("Redis closed the connection");
            }
            match commands.recv_timeout(TICK) {
                Ok(cmd) => {
                    if let Err(e) = s.write_all(&cmd) {
                        break e.to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if link.stopped() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        let _ = s.shutdown(std::net::Shutdown::Both);
        if link.stopped() {
            return;
        }
        link.tell(LinkEvent::Down {
            role: "publisher",
            why,
        });
        down_told = true;
        std::thread::sleep(FIRST_RETRY);
    }
}

/// Reads the publisher's complete replies off `buf`: each `PUBSUB NUMSUB`
/// answer becomes a [`LinkEvent::Count`]. False when Redis sent what is not
/// RESP.
fn replies(link: &Shared, buf: &mut Vec<u8>) -> bool {
    let limits = resp::Limits::DEFAULT;
    let mut used = 0;
    loop {
        match resp::parse(&buf[used..], &limits) {
            Ok(Some((frame, n))) => {
                used += n;
                if frame.kind == resp::Kind::Array
                    && frame.len == 2
                    && let (Some(channel), Some(count)) = (frame.bytes(0), frame.integer(1))
                {
                    link.tell(LinkEvent::Count {
                        channel: channel.to_vec(),
                        count,
                    });
                }
            }
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    buf.drain(..used);
    true
}
