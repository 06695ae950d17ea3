//! A Socket.IO v5 server over `std::net`, in the reference test-server
//! configuration (`tests/peers/sio_server.mjs` is the same server written with
//! Node `socket.io`; see `shared/CONFORMANCE.md`, "Node peers").
//!
//! ```text
//! cargo run --example sio_server -- [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS] [--deflate] [--recovery] [--redis HOST:PORT]
//! ```
//!
//! `--recovery` turns on connection state recovery
//! (`socketio::Server::set_recovery`, the defaults: sessions kept 120 s,
//! middleware skipped), as `connectionStateRecovery: {}` does in
//! `tests/peers/sio_server.mjs --recovery`: the CONNECT reply carries a
//! `pid`, every event without ack (`auth`, `message-back`, `broadcast-back`)
//! its offset as last argument, and a client back within the window gets the
//! events it missed, its socket id and its rooms. A recovered socket is only
//! logged (`auth` is not emitted again).
//!
//! `--redis 127.0.0.1:6379` makes it one node of a cluster joined through
//! that Redis, on the wire of Node's `@socket.io/redis-adapter` (Node nodes
//! and sockwire nodes mix): `broadcast` then reaches the sockets of every
//! node (`runner::SocketIo::with_redis`).
//!
//! `--deflate` accepts permessage-deflate on WebSocket
//! (`engineio::Config::per_message_deflate`; off by default, as in the Node
//! server).
//!
//! It prints `LISTENING <port>` once it accepts connections, then serves
//! until killed:
//!
//! - path `/socket.io/`, both transports and the upgrade; pingInterval 300 ms,
//!   pingTimeout 200 ms, maxPayload 1 000 000, connectTimeout 1000 ms, CORS
//!   `*`;
//! - namespaces `/` and `/custom`; a CONNECT to any other is refused with
//!   `{"message":"Invalid namespace"}` (by `socketio::Connection` itself);
//! - on connection to `/` and `/custom`: emits `auth` with the handshake auth
//!   (`{}` when the client sent none);
//! - on `/`: `message` is answered with `message-back` (same arguments and
//!   binary attachments); `message-with-ack` is acked with its arguments (and
//!   attachments); `force-disconnect-transport` closes the Engine.IO session;
//!   `join` `[room]` puts the socket in that room of `/` (acked with no
//!   arguments if the client asks); `broadcast` `[room, ...args]` sends
//!   `broadcast-back` `...args` (and attachments) to every socket in that
//!   room, or to every socket of `/` when the room is `null`, or to the
//!   sockets in `rooms` and in none of `except` when it is an object
//!   `{"rooms":[...],"except":[...]}`, on every node of the cluster with
//!   `--redis`; and acks (if asked) with `{"delivered":N,"full":M}`: the
//!   local sockets whose queue took it and those whose queue was full
//!   (refused, never dropped in silence; also counted on stderr), or with
//!   `{"error":"..."}` when it could not be published (Redis down). The
//!   benchmarks in `tests/bench` drive a fan-out through it. `sockets`
//!   `[{"op":"join"|"leave"|"disconnect","rooms":[..],"except":[..],"to":[..],"close":bool}]`
//!   makes the sockets of `/` in one of `rooms` (all when empty) and in
//!   none of `except` join or leave the rooms `to`, or disconnects them, on
//!   every node (the adapter's `socketsJoin`, `socketsLeave`,
//!   `disconnectSockets`), acked with `{}` or `{"error":"..."}`.
//!   `server-side-emit` `[...args]` sends `relay` `...args` to the other
//!   servers of the cluster (`serverSideEmit`), each of which emits
//!   `relayed` `...args` to its own sockets of `/` ([`App`]).
//!   With `--redis`, `fetch-sockets`, `all-rooms`, `server-side-emit-ack`
//!   and `broadcast-with-ack` are the cluster's requests
//!   (`App::cluster_request`), mirrored in `tests/peers/sio_server.mjs`.
//!   `recovery-stats` (with an ack) is acked with the recovery log's size
//!   now and at its peak (`socketio::recovery::Stats` as a JSON object,
//!   `null` without `--recovery`); the Node server does not know it.
//!
//! # What it shows
//!
//! All of the protocol (HTTP, sessions, namespaces, acks, attachments,
//! timeouts) is `sockwire::socketio::Server`, run over `std::net` by
//! `sockwire::runner`: this file is only the application.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sockwire::engineio;
use sockwire::engineio::Sid;
use sockwire::json;
use sockwire::runner::{self, ClusterReply, SocketIo, SocketIoApp, SocketIoServer};
use sockwire::socketio::adapter::{Flags, Outgoing, RequestId, RequestKind, request};
use sockwire::socketio::{self, endpoint::OwnedEvent};
use sockwire::time::{Duration, Instant};

/// The reference test server's Engine.IO settings.
pub const ENGINEIO: engineio::Config = engineio::Config {
    path: "/socket.io/",
    ping_interval: Duration::from_millis(300),
    ping_timeout: Duration::from_millis(200),
    max_payload: 1_000_000,
    ..engineio::Config::DEFAULT
};

/// The reference test server's Socket.IO settings.
pub const SOCKETIO: socketio::Config = socketio::Config {
    connect_timeout: Duration::from_millis(1000),
    namespaces: Some(&["/", "/custom"]),
    ..socketio::Config::DEFAULT
};

/// The reference test server's behaviour.
pub fn app(now: Instant, io: &mut SocketIoServer, event: OwnedEvent) {
    let answered = match &event {
        OwnedEvent::Connect { sid, nsp, auth } => io
            .accept(sid, nsp)
            .and_then(|socket| io.emit(&socket, "auth", auth.as_deref().unwrap_or("{}"), &[])),
        OwnedEvent::Event { socket, message: m } if m.nsp == "/" => {
            let attachments = m.attachment_slices();
            match (m.name(), m.ack_id) {
                (Some("message"), _) => io.emit(socket, "message-back", m.args_raw(), &attachments),
                (Some("message-with-ack"), Some(id)) => {
                    io.ack(socket, id, m.args_raw(), &attachments)
                }
                (Some("force-disconnect-transport"), _) => io.close(now, socket),
                (Some("recovery-stats"), Some(id)) => {
                    let stats = io.recovery_stats().map_or("null".into(), |s| {
                        format!(
                            r#"{{"entries":{},"bytes":{},"peak_entries":{},"peak_bytes":{},"sessions":{},"peak_sessions":{},"recovered":{}}}"#,
                            s.entries,
                            s.bytes,
                            s.peak_entries,
                            s.peak_bytes,
                            s.sessions,
                            s.peak_sessions,
                            s.recovered
                        )
                    });
                    io.ack(socket, id, &stats, &[])
                }
                (Some("join"), ack) => {
                    let mut buf = [0u8; 128];
                    match m.args().next().map(|r| json::unescape(r, &mut buf)) {
                        Some(Ok(room)) => io.join(socket, room),
                        _ => Ok(()),
                    }
                    .and_then(|()| ack.map_or(Ok(()), |id| io.ack(socket, id, "", &[])))
                }
                (Some("broadcast"), ack) => {
                    let mut args = m.args();
                    let target = args.next().unwrap_or("null");
                    let rest = args.collect::<Vec<_>>().join(",");
                    let (rooms, except) = (strings(target, "rooms"), strings(target, "except"));
                    let (rooms, except) = (refs(&rooms), refs(&except));
                    let b = Outgoing {
                        nsp: "/",
                        rooms: &rooms,
                        except: &except,
                        flags: Flags::default(),
                        name: "broadcast-back",
                        args: &rest,
                        attachments: &attachments,
                    };
                    let reply = match io.broadcast_cluster(&b) {
                        Ok(b) => {
                            count_refused(b.full);
                            format!(r#"{{"delivered":{},"full":{}}}"#, b.delivered, b.full)
                        }
                        Err(e) => {
                            eprintln!("sio_server: broadcast failed: {e}");
                            format!(r#"{{"error":"{e}"}}"#)
                        }
                    };
                    ack.map_or(Ok(()), |id| io.ack(socket, id, &reply, &[]))
                }
                (Some("server-side-emit"), ack) => {
                    let reply = match io.server_side_emit_cluster("/", "relay", m.args_raw()) {
                        Ok(()) => String::from("{}"),
                        Err(e) => format!(r#"{{"error":"{e}"}}"#),
                    };
                    ack.map_or(Ok(()), |id| io.ack(socket, id, &reply, &[]))
                }
                (Some("sockets"), ack) => {
                    let op = m.args().next().unwrap_or("{}");
                    let (select, except, to) = (
                        strings(op, "rooms"),
                        strings(op, "except"),
                        strings(op, "to"),
                    );
                    let kind = match json::get(op, "op") {
                        Some(r#""leave""#) => request::Kind::Leave,
                        Some(r#""disconnect""#) => request::Kind::Disconnect {
                            close: json::get(op, "close") == Some("true"),
                        },
                        _ => request::Kind::Join,
                    };
                    let (select, except, to) = (refs(&select), refs(&except), refs(&to));
                    let r = request::Outgoing {
                        nsp: "/",
                        kind,
                        select: &select,
                        except: &except,
                        rooms: &to,
                    };
                    let reply = match io.sockets_cluster(now, &r) {
                        Ok(_) => String::from("{}"),
                        Err(e) => format!(r#"{{"error":"{e}"}}"#),
                    };
                    ack.map_or(Ok(()), |id| io.ack(socket, id, &reply, &[]))
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    };
    // Sessions come and go in the log, as in the Node server's; events do not.
    if matches!(
        event,
        OwnedEvent::Connect { .. }
            | OwnedEvent::Disconnect { .. }
            | OwnedEvent::Recovered { .. }
            | OwnedEvent::Expired { .. }
    ) {
        eprintln!("sio_server: {event:?}");
    }
    if let Err(e) = answered {
        eprintln!("sio_server: cannot answer {event:?}: {e}");
    }
}

/// The rooms (or exceptions) a `broadcast` names: the room string itself,
/// none for `null`, or the strings of member `key` of an object.
fn strings(target: &str, key: &str) -> Vec<String> {
    let unescape = |raw: &str| {
        let mut buf = [0u8; 128];
        json::unescape(raw, &mut buf).ok().map(String::from)
    };
    match json::kind(target) {
        Some(json::Kind::String) if key == "rooms" => unescape(target).into_iter().collect(),
        Some(json::Kind::Object) => json::get(target, key)
            .map(|list| json::elements(list).filter_map(unescape).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// [`app`], and with `--redis` the other servers' `relay` events
/// (`serverSideEmit`): sent as `relayed` to this server's sockets of `/`;
/// their `ask-relay` (`serverSideEmit` with an ack) acked with
/// `"sockwire"`; and the requests to the cluster ([`App::cluster_request`]).
#[derive(Default)]
pub struct App {
    /// The cluster requests waiting for answers: the client to ack, and
    /// this server's part of the answer.
    waiting: HashMap<RequestId, (Sid, u64, Vec<String>)>,
}

impl App {
    /// The cluster requests a client of `/` can make, each acked (when
    /// the client asks) once every server answered or the request timed out
    /// (5 s; 2 s for a broadcast), with an object: its list sorted, and
    /// `"error":"timeout"` beside what came in time.
    ///
    /// - `fetch-sockets` (`fetchSockets()`): `{"ids":[socket ids]}`;
    /// - `all-rooms` (`allRooms()`): `{"rooms":[rooms]}`, socket ids
    ///   included;
    /// - `server-side-emit-ack` `...args` (`serverSideEmit("ask-relay",
    ///   ...args, ack)`): `{"responses":[acks]}` (each server acks with
    ///   `"sockwire"` or `"node"`);
    /// - `broadcast-with-ack` `[target, ...args]` (`io.timeout(2000).to(..)
    ///   .emit("ack-me", ...args, ack)`, the target as for `broadcast`):
    ///   `{"acks":[each client's ack]}`.
    ///
    /// Returns false for any other event.
    fn cluster_request(
        &mut self,
        now: Instant,
        io: &mut SocketIoServer,
        event: &OwnedEvent,
    ) -> bool {
        let OwnedEvent::Event { socket, message: m } = event else {
            return false;
        };
        if m.nsp != "/" {
            return false;
        }
        let mut local = Vec::new();
        let issued = match m.name() {
            Some("fetch-sockets") => {
                let mut buf = vec![0u8; 1 << 20];
                if let Ok(n) = io.local_sockets("/", &[], &[], &mut buf) {
                    local.push(format!("[{}]", String::from_utf8_lossy(&buf[..n])));
                }
                io.fetch_sockets_cluster(now, "/", &[], &[])
            }
            Some("all-rooms") => {
                let mut rooms = Vec::new();
                io.local_rooms("/", &mut |r| rooms.push(json_string(r)));
                local.push(format!("[{}]", rooms.join(",")));
                io.all_rooms_cluster(now, "/")
            }
            Some("server-side-emit-ack") => {
                io.server_side_emit_with_ack_cluster(now, "/", "ask-relay", m.args_raw())
            }
            Some("broadcast-with-ack") => {
                let mut args = m.args();
                let target = args.next().unwrap_or("null");
                let rest = args.collect::<Vec<_>>().join(",");
                let (rooms, except) = (strings(target, "rooms"), strings(target, "except"));
                let (rooms, except) = (refs(&rooms), refs(&except));
                let attachments = m.attachment_slices();
                let b = Outgoing {
                    nsp: "/",
                    rooms: &rooms,
                    except: &except,
                    flags: Flags::default(),
                    name: "ack-me",
                    args: &rest,
                    attachments: &attachments,
                };
                io.broadcast_with_ack_cluster(now, &b, Duration::from_millis(2000))
                    .map(|(id, _)| id)
            }
            _ => return false,
        };
        match (issued, m.ack_id) {
            (Ok(id), Some(ack)) => {
                self.waiting.insert(id, (*socket, ack, local));
            }
            (Err(e), Some(ack)) => {
                let _ = io.ack(socket, ack, &format!(r#"{{"error":"{e}"}}"#), &[]);
            }
            _ => {}
        }
        true
    }
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = vec![0u8; json::str_len(s) + 2];
    let n = json::write_str(s, &mut out).unwrap_or(0);
    String::from_utf8_lossy(&out[..n]).into_owned()
}

impl SocketIoApp for App {
    fn on_event(&mut self, now: Instant, io: &mut SocketIoServer, event: OwnedEvent) {
        if !self.cluster_request(now, io, &event) {
            app(now, io, event);
        }
    }

    fn on_server_side_emit(
        &mut self,
        _: Instant,
        io: &mut SocketIoServer,
        event: &request::ServerSideEmit<'_>,
    ) {
        if event.nsp == "/" && json::str_eq(event.name, "relay") {
            let _ = io.broadcast("/", &[], &[], "relayed", event.args, &[]);
        }
        if event.nsp == "/"
            && json::str_eq(event.name, "ask-relay")
            && let Some(id) = event.request_id
        {
            let _ = io.server_side_emit_ack("/", id, r#""sockwire""#);
        }
    }

    fn on_cluster_reply(&mut self, _: Instant, io: &mut SocketIoServer, reply: ClusterReply) {
        let Some(done) = reply.done else {
            return;
        };
        let Some((socket, ack, local)) = self.waiting.remove(&done.request) else {
            return;
        };
        let unescape = |raw: &str| {
            let mut buf = vec![0u8; raw.len()];
            json::unescape(raw, &mut buf).ok().map(String::from)
        };
        let mut list: Vec<String> = Vec::new();
        let key = match done.kind {
            RequestKind::FetchSockets => {
                for a in local.iter().chain(&reply.answers) {
                    for s in json::elements(a) {
                        list.extend(json::get(s, "id").and_then(unescape));
                    }
                }
                "ids"
            }
            RequestKind::AllRooms => {
                for a in local.iter().chain(&reply.answers) {
                    list.extend(json::elements(a).filter_map(unescape));
                }
                list.sort();
                list.dedup();
                "rooms"
            }
            RequestKind::ServerSideEmit => {
                list.extend(reply.answers.iter().filter_map(|a| unescape(a)));
                "responses"
            }
            _ => {
                list.extend(reply.answers.iter().filter_map(|a| unescape(a)));
                "acks"
            }
        };
        list.sort();
        let list = list
            .iter()
            .map(|s| json_string(s))
            .collect::<Vec<_>>()
            .join(",");
        let error = if done.timed_out {
            r#""error":"timeout","#
        } else {
            ""
        };
        let _ = io.ack(
            &socket,
            ack,
            &format!(r#"{{{error}"{key}":[{list}]}}"#),
            &[],
        );
    }
}

/// The strings as `&str`s.
fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Counts the deliveries a broadcast could not queue; says so on stderr
/// the first time and then at every further thousand.
fn count_refused(full: usize) {
    static REFUSED: AtomicUsize = AtomicUsize::new(0);
    if full > 0 {
        let before = REFUSED.fetch_add(full, Ordering::Relaxed);
        if before == 0 || (before + full) / 1000 > before / 1000 {
            eprintln!(
                "sio_server: broadcast refused by full queues: {} so far",
                before + full
            );
        }
    }
}

/// Serves the reference test server on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    runner::serve(listener, &mut SocketIo::new(ENGINEIO, SOCKETIO, app), stop)
}

/// [`serve`] with recovery on (`--recovery`).
pub fn serve_recovering(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let mut endpoint = SocketIo::new(ENGINEIO, SOCKETIO, App::default());
    endpoint
        .server
        .set_recovery(Some(socketio::recovery::Config::DEFAULT))
        .expect("the heap holds the recovery log");
    runner::serve(listener, &mut endpoint, stop)
}

/// What the command line asks for.
pub struct Cli {
    /// The bound listener.
    pub listener: TcpListener,
    /// The Engine.IO settings.
    pub eio: engineio::Config,
    /// `--recovery`: connection state recovery with the defaults.
    pub recovery: Option<socketio::recovery::Config>,
    /// `--redis HOST:PORT`: the cluster's Redis.
    pub redis: Option<SocketAddr>,
}

/// The command line of this server and of `tokio_server`: the address to
/// bind (any; default `127.0.0.1:3000`), the Engine.IO settings
/// (`--deflate`: permessage-deflate accepted), connection state recovery
/// (`--recovery`) and the cluster's Redis (`--redis HOST:PORT`). Binds it
/// and prints `LISTENING <port>`.
pub fn cli(name: &str) -> Cli {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut eio, mut redis, mut recovery) =
        (String::from("127.0.0.1:3000"), ENGINEIO, None, None);
    let fail = |why: String| -> ! {
        eprintln!("{name}: {why}");
        eprintln!(
            "usage: {name} [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS] [--deflate] [--recovery] [--redis HOST:PORT]"
        );
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut ms = || match args.next().and_then(|v| v.parse().ok()) {
            Some(v) => Duration::from_millis(v),
            None => fail(format!("{a} needs a number of milliseconds")),
        };
        match a.as_str() {
            "--ping-interval" => eio.ping_interval = ms(),
            "--ping-timeout" => eio.ping_timeout = ms(),
            "--deflate" => {
                eio.per_message_deflate = Some(engineio::PerMessageDeflate::DEFAULT);
            }
            "--recovery" => recovery = Some(socketio::recovery::Config::DEFAULT),
            "--redis" => match args.next().and_then(|v| v.to_socket_addrs().ok()?.next()) {
                Some(r) => redis = Some(r),
                None => fail(format!("{a} needs HOST:PORT")),
            },
            _ if !a.starts_with("--") => addr = a,
            _ => fail(format!("unknown option {a}")),
        }
    }
    let listener =
        TcpListener::bind(&addr).unwrap_or_else(|e| fail(format!("cannot bind {addr}: {e}")));
    let local = listener.local_addr().expect("local_addr");
    eprintln!("{name}: serving http://{local}{}", eio.path);
    println!("LISTENING {}", local.port());
    Cli {
        listener,
        eio,
        recovery,
        redis,
    }
}

/// Serves the reference test server on `listener` as a node of the cluster
/// on the Redis at `redis`, until `stop` is set.
pub fn serve_redis(listener: TcpListener, stop: &AtomicBool, redis: SocketAddr) -> io::Result<()> {
    let mut endpoint = SocketIo::new(ENGINEIO, SOCKETIO, App::default()).with_redis(redis)?;
    runner::serve(listener, &mut endpoint, stop)
}

fn main() {
    let Cli {
        listener,
        eio,
        recovery,
        redis,
    } = cli("sio_server");
    let mut endpoint = SocketIo::new(eio, SOCKETIO, App::default());
    endpoint
        .server
        .set_recovery(recovery)
        .expect("the heap holds the recovery log");
    if let Some(redis) = redis {
        endpoint = endpoint.with_redis(redis).unwrap_or_else(|e| {
            eprintln!("sio_server: cannot start the Redis link: {e}");
            std::process::exit(1)
        });
    }
    if let Err(e) = runner::serve(listener, &mut endpoint, &AtomicBool::new(false)) {
        eprintln!("sio_server: {e}");
        std::process::exit(1);
    }
}
