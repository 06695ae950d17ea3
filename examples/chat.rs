//! The main demo: a chat server with its own page, on `sockwire::runner`.
//!
//! ```text
//! cargo run --example chat -- [ADDR:PORT] [SOCKET_IO_JS] [--redis HOST:PORT]
//! ```
//!
//! With `--redis`, several chat servers (and Node `socket.io` servers with
//! `@socket.io/redis-adapter`) on one Redis share their rooms: a message or
//! a typing notice reaches the room's members on every server. The user
//! lists, and a message's `delivered` count, stay per server (they would
//! need the adapter's `fetchSockets`, not there yet).
//!
//! It prints `LISTENING <port>` and the page's URL (default
//! `http://127.0.0.1:3000/`), then serves until killed:
//!
//! - `/`: the page (`examples/chat/index.html`), which uses the official
//!   `socket.io-client` browser bundle: `/socket.io/socket.io.js`, served from
//!   `SOCKET_IO_JS` (default: the copy `npm ci` put in
//!   `tests/peers/node_modules`), or, when there is no such file, the public
//!   CDN's `socket.io-client` 4.8.1;
//! - `/socket.io/`: Socket.IO, namespace `/`. A socket connects with
//!   `auth: {nick}`; `join` and `leave` (room, with an ack: the room's users)
//!   put it in rooms, several at once, and the room's members get `users`
//!   `{room, users}`; `message` (room, text) goes to the room's other
//!   members as `message` `{room, nick, text}`, and its ack `{delivered,
//!   full}` (the members it was queued to, those whose queue was full) is
//!   the page's "delivered" mark; `typing` (room) goes to them best-effort:
//!   the page sends it volatile, the server drops it for a member whose
//!   queue is full.
//!
//! `Origin`s allowed: the page's own (`http://ADDR:PORT`, and
//! `http://localhost:PORT` on a loopback address), so another site's page
//! cannot use the chat from a visitor's browser (403). When bound to an
//! unspecified address (`0.0.0.0`) the page's host is unknown and any origin
//! is allowed; `CHAT_ORIGINS=http://a,http://b` replaces the list.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::AtomicBool;

use sockwire::engineio::{self, Origins, Page, Sid};
use sockwire::json;
use sockwire::runner::{self, SocketIo, SocketIoApp, SocketIoServer};
use sockwire::socketio::{
    self,
    adapter::{Flags, Outgoing},
    endpoint::{OwnedEvent, OwnedMessage},
    rooms::RoomTable,
};
use sockwire::time::Instant;

const PAGE: &str = include_str!("chat/index.html");
const CDN: &str = "https://cdn.socket.io/4.8.1/socket.io.min.js";
const LOCAL_BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/node_modules/socket.io-client/dist/socket.io.min.js"
);

/// The chat's state: each socket's nickname and rooms.
#[derive(Default)]
pub struct Chat {
    nicks: HashMap<Sid, String>,
    rooms: HashMap<Sid, BTreeSet<String>>,
}

impl Chat {
    /// The nicknames in `room`, as a JSON array.
    fn users(&self, io: &SocketIoServer, room: &str) -> String {
        let mut names = Vec::new();
        io.rooms().for_each_member("/", room, &mut |s| {
            names.extend(self.nicks.get(&s).map(|n| quote(n)));
        });
        names.sort();
        format!("[{}]", names.join(","))
    }

    /// Tells `room`'s members who is in it.
    fn announce(&self, io: &mut SocketIoServer, room: &str) {
        let args = format!(
            r#"{{"room":{},"users":{}}}"#,
            quote(room),
            self.users(io, room)
        );
        let _ = io.broadcast("/", &[room], &[], "users", &args, &[]);
    }

    /// An event from `socket`: `join`, `leave`, `message` or `typing`.
    fn on_message(&mut self, io: &mut SocketIoServer, socket: Sid, m: &OwnedMessage) {
        let args: Vec<String> = m.args().filter_map(text).collect();
        let room = args.first().map(|r| r.trim()).unwrap_or("");
        let valid = (1..=32).contains(&room.chars().count());
        let joined = self.rooms.get(&socket).is_some_and(|r| r.contains(room));
        let nick = quote(self.nicks.get(&socket).map_or("?", |n| n.as_str()));
        let answer = match m.name() {
            Some("join") if valid && io.join(&socket, room).is_ok() => {
                self.rooms.entry(socket).or_default().insert(room.into());
                self.announce(io, room);
                self.users(io, room)
            }
            Some("leave") if joined => {
                io.leave(&socket, room);
                self.rooms.entry(socket).or_default().remove(room);
                self.announce(io, room);
                String::from("true")
            }
            Some("message") if joined => {
                let text: String = args
                    .get(1)
                    .map_or("", |t| t.trim())
                    .chars()
                    .take(500)
                    .collect();
                let args = format!(
                    r#"{{"room":{},"nick":{nick},"text":{}}}"#,
                    quote(room),
                    quote(&text)
                );
                let sent = to_room(io, room, socket, "message", &args, false);
                // `full`: members whose queue had no room for it.
                let b = sent.unwrap_or_default();
                format!(r#"{{"delivered":{},"full":{}}}"#, b.delivered, b.full)
            }
            Some("typing") if joined => {
                // Best-effort: a member whose queue is full misses it.
                let args = format!(r#"{{"room":{},"nick":{nick}}}"#, quote(room));
                let _ = to_room(io, room, socket, "typing", &args, true);
                return;
            }
            _ => String::from("null"),
        };
        if let Some(id) = m.ack_id {
            let _ = io.ack(&socket, id, &answer, &[]);
        }
    }
}

impl SocketIoApp for Chat {
    fn on_event(&mut self, _: Instant, io: &mut SocketIoServer, event: OwnedEvent) {
        match event {
            OwnedEvent::Connect { sid, nsp, auth } => {
                let nick = auth
                    .as_deref()
                    .and_then(|a| json::get(a, "nick"))
                    .and_then(text);
                let nick: String = nick
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .take(24)
                    .collect();
                if nick.is_empty() {
                    let _ = io.refuse(&sid, &nsp, "a nickname is needed");
                } else if let Ok(socket) = io.accept(&sid, &nsp) {
                    eprintln!("chat: {nick} connected");
                    self.nicks.insert(socket, nick);
                }
            }
            OwnedEvent::Event { socket, message } => self.on_message(io, socket, &message),
            OwnedEvent::Disconnect { socket, reason } => {
                // The server has taken it out of its rooms already.
                let nick = self.nicks.remove(&socket).unwrap_or_default();
                eprintln!("chat: {nick} left ({reason})");
                for room in self.rooms.remove(&socket).unwrap_or_default() {
                    self.announce(io, &room);
                }
            }
            _ => {}
        }
    }
}

/// Sends event `name` to `room`'s members but `socket`, on every server of
/// the cluster (only this one without `--redis`).
fn to_room(
    io: &mut SocketIoServer,
    room: &str,
    socket: Sid,
    name: &str,
    args: &str,
    volatile: bool,
) -> Result<socketio::Broadcast, socketio::adapter::Error> {
    io.broadcast_cluster(&Outgoing {
        nsp: "/",
        rooms: &[room],
        except: &[socket.as_str()],
        flags: Flags {
            volatile,
            ..Flags::default()
        },
        name,
        args,
        attachments: &[],
    })
}

/// A JSON string's text, if `raw` is one.
fn text(raw: &str) -> Option<String> {
    let mut buf = vec![0u8; raw.len()];
    json::unescape(raw, &mut buf).ok().map(String::from)
}

/// `s` as a JSON string.
fn quote(s: &str) -> String {
    let mut buf = vec![0u8; json::str_len(s)];
    let n = json::write_str(s, &mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Vec::leak(v)
}

/// Serves the chat on `listener` until `stop` is set; the page loads
/// `socket.io.js` from `bundle` (a file) when it can be read, else from the CDN.
pub fn serve_with(listener: TcpListener, bundle: &str, stop: &AtomicBool) -> io::Result<()> {
    serve_cluster(listener, bundle, stop, None)
}

/// [`serve_with`], one server of a cluster on the Redis at `redis`.
pub fn serve_cluster(
    listener: TcpListener,
    bundle: &str,
    stop: &AtomicBool,
    redis: Option<SocketAddr>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let script = std::fs::read(bundle).ok().map(leak);
    let page = PAGE.replace(
        r#"src="SOCKET_IO_CLIENT_URL""#,
        &format!(
            r#"src="{}""#,
            if script.is_some() {
                "/socket.io/socket.io.js"
            } else {
                CDN
            }
        ),
    );
    let mut pages = vec![Page {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: leak(page.into_bytes()),
    }];
    if let Some(body) = script {
        pages.push(Page {
            path: "/socket.io/socket.io.js",
            content_type: "application/javascript",
            body,
        });
    }
    let origins: Vec<&'static str> = match std::env::var("CHAT_ORIGINS") {
        Ok(list) => list
            .split(',')
            .map(|o| &*String::leak(o.trim().into()))
            .collect(),
        Err(_) if local.ip().is_unspecified() => Vec::new(),
        Err(_) => {
            let mut own = vec![format!("http://{local}")];
            if local.ip().is_loopback() {
                own.push(format!("http://localhost:{}", local.port()));
            }
            own.into_iter().map(String::leak).map(|s| &*s).collect()
        }
    };
    let eio = engineio::Config {
        path: "/socket.io/",
        pages: leak(pages),
        allowed_origins: if origins.is_empty() {
            Origins::Any
        } else {
            Origins::List(leak(origins))
        },
        ..engineio::Config::DEFAULT
    };
    let mut server = SocketIo::new(eio, socketio::Config::DEFAULT, Chat::default());
    if let Some(redis) = redis {
        server = server.with_redis(redis)?;
    }
    runner::serve(listener, &mut server, stop)
}

/// Serves the chat with the local bundle, if installed.
pub fn serve(listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    serve_with(listener, LOCAL_BUNDLE, stop)
}

fn main() {
    let (mut positional, mut redis) = (Vec::new(), None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--redis" {
            match args.next().and_then(|v| v.to_socket_addrs().ok()?.next()) {
                Some(r) => redis = Some(r),
                None => {
                    eprintln!("chat: --redis needs HOST:PORT");
                    std::process::exit(2)
                }
            }
        } else {
            positional.push(a);
        }
    }
    let mut positional = positional.into_iter();
    let addr = positional
        .next()
        .unwrap_or_else(|| String::from("127.0.0.1:3000"));
    let bundle = positional
        .next()
        .unwrap_or_else(|| String::from(LOCAL_BUNDLE));
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("chat: cannot bind {addr}: {e}");
        std::process::exit(1)
    });
    let local = listener.local_addr().expect("local_addr");
    if !std::path::Path::new(&bundle).is_file() {
        eprintln!("chat: {bundle} not found: the page loads socket.io-client from {CDN}");
    }
    println!("LISTENING {}", local.port());
    let host = if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    };
    println!("chat: open http://{host}/ in two or more browser tabs");
    if let Err(e) = serve_cluster(listener, &bundle, &AtomicBool::new(false), redis) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}
