//! The reference Socket.IO test server (as `examples/sio_server.rs` and
//! `tests/peers/sio_server.mjs`) written with `socketioxide` 0.18 over hyper, for the
//! fan-out rows of `run.sh` (peer `socketioxide`).
//!
//!   sio_socketioxide [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS] [--max-buffer N]
//!
//! Prints `LISTENING <port>`, then serves until killed, on one thread (a current-thread
//! tokio runtime, as `tokio_server`). Path `/socket.io/`, pingInterval 300 ms /
//! pingTimeout 200 ms unless told, maxPayload 1,000,000, connectTimeout 1000 ms;
//! socketioxide's per-socket buffer (`max_buffer_size`, default 128 packets) unless
//! `--max-buffer`. Namespaces `/` and `/custom` (each emits `auth` with the handshake
//! auth). On `/`: `message` -> `message-back`; `message-with-ack` acked with its
//! arguments; `join` `[room]` (acked if asked); `broadcast` `[room, ...args]` ->
//! `broadcast-back` `...args` to the room (every socket of `/` when it is `null`),
//! acked with `{"delivered":N,"full":M}`: N the sockets targeted less those whose
//! buffer refused it, M those (socketioxide's broadcast reports them as errors; they
//! are also counted on stderr).

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::{BroadcastError, SocketIo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// All the arguments of an event (socketioxide gives a type that is not a tuple only
/// the first one), emitted as as many arguments (not as one array).
struct Args(Vec<Value>);

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Args;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("event arguments")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Args, S::Error> {
                let mut v = Vec::new();
                while let Some(x) = s.next_element()? {
                    v.push(x);
                }
                Ok(Args(v))
            }
        }
        d.deserialize_tuple(usize::MAX, V)
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

static REFUSED: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut ping, mut timeout, mut buffer) =
        ("127.0.0.1:3000".to_string(), 300, 200, 128);
    while let Some(a) = args.next() {
        let mut num = || -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("sio_socketioxide: {a} needs a number");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--ping-interval" => ping = num(),
            "--ping-timeout" => timeout = num(),
            "--max-buffer" => buffer = num() as usize,
            _ if !a.starts_with("--") => addr = a,
            _ => {
                eprintln!(
                    "usage: sio_socketioxide [ADDR:PORT] [--ping-interval MS] [--ping-timeout MS] [--max-buffer N]"
                );
                std::process::exit(2)
            }
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(serve(addr, ping, timeout, buffer));
}

async fn serve(addr: String, ping: u64, timeout: u64, buffer: usize) {
    let (svc, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(ping))
        .ping_timeout(Duration::from_millis(timeout))
        .max_payload(1_000_000)
        .max_buffer_size(buffer)
        .connect_timeout(Duration::from_millis(1000))
        .build_svc();
    on_connect(&io);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("sio_socketioxide: cannot bind {addr}: {e}");
            std::process::exit(2)
        });
    let port = listener.local_addr().unwrap().port();
    eprintln!("sio_socketioxide: serving http://127.0.0.1:{port}/socket.io/");
    println!("LISTENING {port}");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let svc = svc.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                .with_upgrades();
            let _ = conn.await;
        });
    }
}

/// The namespaces and their handlers.
fn on_connect(io: &SocketIo) {
    let io2 = io.clone();
    io.ns(
        "/",
        async move |socket: SocketRef, Data(auth): Data<Value>| {
            let _ = socket.emit("auth", &auth);
            socket.on("message", async |s: SocketRef, Data(v): Data<Args>| {
                let _ = s.emit("message-back", &v);
            });
            socket.on(
                "message-with-ack",
                async |Data(v): Data<Args>, ack: AckSender| {
                    let _ = ack.send(&v);
                },
            );
            socket.on(
                "join",
                async |s: SocketRef, Data(room): Data<Value>, ack: AckSender| {
                    if let Some(room) = room
                        .as_str()
                        .or_else(|| room.get(0).and_then(Value::as_str))
                    {
                        s.join(room.to_string());
                    }
                    let _ = ack.send(&());
                },
            );
            let io = io2.clone();
            socket.on("broadcast", move |args: Data<Args>, ack: AckSender| {
                broadcast(io.clone(), args, ack)
            });
        },
    );
    io.ns(
        "/custom",
        async |socket: SocketRef, Data(auth): Data<Value>| {
            let _ = socket.emit("auth", &auth);
        },
    );
}

async fn broadcast(io: SocketIo, Data(Args(args)): Data<Args>, ack: AckSender) {
    let (room, rest) = match args.split_first() {
        Some((room, rest)) => (room.clone(), rest.to_vec()),
        None => (Value::Null, Vec::new()),
    };
    let Some(nsp) = io.of("/") else { return };
    let op = match room.as_str() {
        Some(r) => nsp.to(r.to_string()),
        None => nsp,
    };
    let targets = op.clone().sockets().len();
    let sent = op.emit("broadcast-back", &Args(rest)).await;
    let full = match sent {
        Ok(()) => 0,
        Err(BroadcastError::Socket(errors)) => errors.len(),
        Err(e) => {
            eprintln!("sio_socketioxide: broadcast: {e}");
            targets
        }
    };
    if full > 0 {
        let before = REFUSED.fetch_add(full, Ordering::Relaxed);
        if before == 0 || (before + full) / 1000 > before / 1000 {
            eprintln!(
                "sio_socketioxide: broadcast refused by full buffers: {} so far",
                before + full
            );
        }
    }
    let _ = ack.send(&json!({ "delivered": targets - full.min(targets), "full": full }));
}
