//! Socket.IO broadcast fan-out: a fleet of clients over WebSocket in one thread, and
//! one sender, against a server in the reference test-server configuration that
//! answers `broadcast` `[room, ...args]` with `broadcast-back` `...args` to the room
//! (every socket of `/` when the room is `null`), acked with
//! `{"delivered":N,"full":M}` (examples/sio_server.rs, tests/peers/sio_server.mjs).
//!
//!   sio_fanout --port P --server-pid PID --label NAME [--conns 1000] [--rooms 1]
//!              [--secs 5] [--size 100] [--window 64] [--acks 16] [--burst 0]
//!              [--port P1,P2 --server-pid PID1,PID2 --nodes KIND1,KIND2 --redis-pid PID]
//!
//! `--conns` clients connect to `/` (as `sio_fleet` does: `0{...}` open, `40`, pings
//! answered); with `--rooms R` > 1, client i joins room `r{i % R}` (`join`, acked).
//! Then the sender (one more client of `/`, in no room) emits
//! `42<id>["broadcast",room,"<seq>xxx..."]` (a `--size`-byte string starting with a
//! 10-digit sequence number; event `seq` goes to room `r{seq % R}`, or to `null` with
//! one room) for `--secs` seconds, as fast as the server takes them: at most `--acks`
//! broadcasts unacked, and at most `--window` deliveries per client (`--window` x
//! `--conns` in all) neither received by the clients nor refused by the server (so
//! that a server that queues without bound is not flooded past what it delivers). Then the deliveries still on
//! their way are waited for (10 s at most, or 2 s without progress).
//!
//! `--port P1,P2 --server-pid PID1,PID2 --nodes KIND1,KIND2`: a cluster (the
//! servers joined through one Redis): `--conns` clients on each node, the sender
//! on the first; every event goes to the clients of every node. The server CPU is
//! the sum of the nodes' (`--redis-pid` adds Redis's own CPU, `redis_cpu_s`, in /proc's 10 ms ticks);
//! missing and duplicated deliveries are also counted per node (`per_node`).
//! `--nodes` only names the nodes in the output (with `--nodes`, one name per port:
//! the report makes `sio/cluster/...` rows of it, a single name the baseline).
//!
//! `--burst N`: the sender emits N events at once instead, with no window (acks,
//! deliveries or time), then waits for them as above: what a server does with a
//! burst it cannot send at once (queue it, refuse it and say so, or lose it).
//!
//! Every client counts its `broadcast-back` deliveries and checks the sequence: a
//! number below the next one expected is a duplicate, the ones skipped are missing
//! (as are those sent to its room and never received). The server's acks give the
//! deliveries it refused (`full`). Prints one JSON line (kind "sio_broadcast"):
//! deliveries, deliveries/s (from the first event sent to the last delivery),
//! server CPU over the same span (from /proc/PID/stat), the fleet's own CPU, refused,
//! missing, duplicated, errors. Exit status 1 on any error (failed connect, a client
//! closed by the server, a missing or duplicated delivery not accounted as refused).

use futures_util::{SinkExt, StreamExt};
use sockwire_bench::{proc_cpu_seconds, raise_nofile_limit};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

#[derive(Default)]
struct Shared {
    connected: AtomicUsize,
    /// Clients connected (and joined) per room: the deliveries each event expects.
    in_room: Vec<AtomicU64>,
    failed: AtomicUsize,
    errors: AtomicUsize,
    first: Mutex<Vec<String>>,
    closing: AtomicBool,
    /// Deliveries received by all the clients.
    delivered: AtomicU64,
    /// Microseconds since `t0` of the last delivery.
    last_us: AtomicU64,
    /// The sender sleeps until `delivered` reaches this.
    want: AtomicU64,
    wake: Notify,
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut f = self.first.lock().unwrap();
        if f.len() < 5 {
            f.push(what);
        }
    }
}

/// What one client saw.
#[derive(Default, Clone, Copy)]
struct Seen {
    room: u64,
    /// The index of its server in `--port`.
    node: usize,
    received: u64,
    dup: u64,
    /// The next sequence number expected.
    next: u64,
}

fn main() {
    let o = sockwire_bench::options();
    let num = |k: &str, d: u64| o.get(k).map_or(d, |v| v.parse().expect(k));
    let list = |k: &str| -> Vec<u32> {
        o.get(k).map_or(vec![0], |v| v.split(',').map(|x| x.parse().expect(k)).collect())
    };
    let cfg = Cfg {
        ports: list("port").into_iter().map(|p| p as u16).collect(),
        pids: list("server-pid"),
        redis_pid: num("redis-pid", 0) as u32,
        nodes: o.get("nodes").map(|v| v.split(',').map(String::from).collect()),
        label: o.get("label").cloned().unwrap_or_default(),
        conns: num("conns", 1000) as usize,
        rooms: num("rooms", 1).max(1),
        secs: num("secs", 5),
        size: num("size", 100).max(10) as usize,
        window: num("window", 64).max(1),
        acks: num("acks", 16).max(1) as usize,
        burst: num("burst", 0),
    };
    raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(run(cfg));
    println!("{out}");
    std::process::exit(if out["errors"].as_u64() == Some(0) {
        0
    } else {
        1
    });
}

struct Cfg {
    burst: u64,
    /// The servers' ports: the sender on the first, `conns` clients on each.
    ports: Vec<u16>,
    pids: Vec<u32>,
    redis_pid: u32,
    nodes: Option<Vec<String>>,
    label: String,
    conns: usize,
    rooms: u64,
    secs: u64,
    size: usize,
    window: u64,
    acks: usize,
}

async fn run(c: Cfg) -> serde_json::Value {
    let cpu = || c.pids.iter().map(|&p| proc_cpu_seconds(p).unwrap_or(f64::NAN)).sum::<f64>();
    let redis_cpu = || proc_cpu_seconds(c.redis_pid).unwrap_or(f64::NAN);
    // Clients in all (`conns` on each server).
    let total = c.conns * c.ports.len();
    let me = || proc_cpu_seconds(std::process::id()).unwrap_or(f64::NAN);
    let sleep = |s: f64| tokio::time::sleep(Duration::from_secs_f64(s));
    let mut r = serde_json::json!({
        "kind": "sio_broadcast", "label": c.label, "conns": c.conns, "rooms": c.rooms,
        "size": c.size, "window": c.window, "acks": c.acks, "burst": c.burst, "fleet": "rust",
    });
    if let Some(n) = &c.nodes {
        r["nodes"] = n.clone().into();
    }
    if let Ok(p) = std::env::var("SIO_FLEET_PING") {
        r["server_ping"] = p.into(); // the server's pingInterval/pingTimeout, as run.sh set them
    }
    let shared = Arc::new(Shared {
        want: AtomicU64::new(u64::MAX),
        in_room: (0..c.rooms).map(|_| AtomicU64::new(0)).collect(),
        ..Default::default()
    });
    let (close_tx, close_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(50));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..total)
        .map(|i| {
            let room = (c.rooms > 1).then_some((i % c.conns) as u64 % c.rooms);
            tokio::spawn(client(
                (i / c.conns, c.ports[i / c.conns]),
                room,
                c.rooms,
                t0,
                shared.clone(),
                close_rx.clone(),
                gate.clone(),
            ))
        })
        .collect();
    while shared.connected.load(Relaxed) + shared.failed.load(Relaxed) < total
        && t0.elapsed() < Duration::from_secs(60)
    {
        sleep(0.05).await;
    }
    let connected = shared.connected.load(Relaxed);
    r["connected"] = connected.into();
    r["connect_secs"] = t0.elapsed().as_secs_f64().into();
    if connected < total {
        shared.error(format!("only {connected} of {total} connected (and joined)"));
    }
    eprintln!(
        "sio_fanout {}: {connected} connected in {:.1} s",
        c.label,
        t0.elapsed().as_secs_f64()
    );
    let (mut sent, mut server_delivered, mut refused) = (0u64, 0u64, 0u64);
    // The sender connects last (it answers pings only while it sends).
    sleep(1.0).await;
    let mut sender = tokio::time::timeout(Duration::from_secs(30), connect(c.ports[0])).await;
    match sender {
        Ok(Ok(ref mut ws)) if connected > 0 => {
            // Deliveries expected per event: the clients in its room.
            let per = |seq: u64| shared.in_room[(seq % c.rooms) as usize].load(Relaxed);
            let pad = "x".repeat(c.size - 10);
            let (mut acked, mut expected) = (0u64, 0u64);
            let (c0, f0, r0) = (cpu(), me(), redis_cpu());
            let start = Instant::now();
            let start_us = start.duration_since(t0).as_micros() as u64;
            let stop = start + Duration::from_secs(c.secs);
            let mut stopped = false;
            let mut end = start;
            let (mut last_accounted, mut progress_at) = (0u64, start);
            loop {
                let now = Instant::now();
                if !stopped && (now >= stop || (c.burst > 0 && sent >= c.burst)) {
                    stopped = true;
                }
                let accounted = shared.delivered.load(Relaxed) + refused;
                if stopped && (sent == acked && accounted >= expected) {
                    end = now;
                    break;
                }
                if accounted != last_accounted {
                    (last_accounted, progress_at) = (accounted, now);
                }
                if stopped
                    && (now > stop + Duration::from_secs(10)
                        || now > progress_at.max(stop) + Duration::from_secs(2))
                {
                    shared.error(format!(
                        "drain: {} of {expected} deliveries at the end",
                        accounted
                    ));
                    end = now;
                    break;
                }
                let can = !stopped
                    && (c.burst > 0
                        || (sent - acked) < c.acks as u64
                            && expected.saturating_sub(accounted) < c.window * total.max(1) as u64);
                if can {
                    let room = if c.rooms > 1 {
                        format!("\"r{}\"", sent % c.rooms)
                    } else {
                        "null".into()
                    };
                    let m = format!("42{sent}[\"broadcast\",{room},\"{sent:010}{pad}\"]");
                    expected += per(sent);
                    sent += 1;
                    if ws.send(Message::text(m)).await.is_err() {
                        shared.error("sender: send failed".into());
                        break;
                    }
                    continue;
                }
                // Wait for an ack, for deliveries, or for the end of the phase.
                if !stopped && c.burst == 0 && (sent - acked) < c.acks as u64 {
                    let need = expected
                        .saturating_sub(c.window * total.max(1) as u64)
                        .saturating_sub(refused)
                        + 1;
                    shared.want.store(need, Relaxed);
                    if shared.delivered.load(Relaxed) >= need {
                        continue;
                    }
                }
                let wait_until = if stopped {
                    now + Duration::from_millis(10)
                } else {
                    stop.min(now + Duration::from_millis(50))
                };
                tokio::select! {
                    m = ws.next() => {
                        let Some(Ok(m)) = m else {
                            shared.error("sender: closed by the server".into());
                            break;
                        };
                        let Ok(t) = m.to_text() else { continue };
                        if t == "2" {
                            if ws.send(Message::text("3")).await.is_err() { break; }
                        } else if t.starts_with("43") {
                            acked += 1;
                            let n = |k: &str| -> u64 {
                                t.split(k).nth(1).map(|s| s.chars().take_while(char::is_ascii_digit).collect::<String>())
                                    .and_then(|d| d.parse().ok()).unwrap_or(0)
                            };
                            server_delivered += n("\"delivered\":");
                            refused += n("\"full\":");
                        }
                    }
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep_until(wait_until.into()) => {}
                }
            }
            shared.want.store(u64::MAX, Relaxed);
            let (server_cpu, fleet_cpu) = (cpu() - c0, me() - f0);
            if c.redis_pid != 0 {
                r["redis_cpu_s"] = (redis_cpu() - r0).into();
            }
            let delivered = shared.delivered.load(Relaxed);
            let last =
                (shared.last_us.load(Relaxed).saturating_sub(start_us) as f64 / 1e6).max(1e-6);
            r["secs"] = c.secs.into();
            r["span_secs"] = last.into();
            r["run_secs"] = end.duration_since(start).as_secs_f64().into();
            r["drain_secs"] = end.duration_since(stop).as_secs_f64().max(0.0).into();
            r["events"] = sent.into();
            r["expected"] = expected.into();
            r["deliveries"] = delivered.into();
            r["deliveries_per_sec"] = (delivered as f64 / last).into();
            r["server_cpu_s"] = server_cpu.into();
            r["deliveries_per_server_cpu_sec"] = (delivered as f64 / server_cpu).into();
            r["fleet_cpu_s"] = fleet_cpu.into();
            r["server_acked_delivered"] = server_delivered.into();
            r["refused"] = refused.into();
            // Broadcasts whose ack never came (a server that cannot queue the ack either).
            r["unacked"] = (sent - acked).into();
            eprintln!(
                "sio_fanout {}: {sent} events, {delivered} deliveries in {last:.2} s = {:.0}/s, server {server_cpu:.2} CPU-s, fleet {fleet_cpu:.2} CPU-s, refused {refused}",
                c.label,
                delivered as f64 / last
            );
        }
        Ok(Err(ref e)) => shared.error(format!("sender: connect: {e}")),
        Err(_) => shared.error("sender: connect timed out".into()),
        _ => {}
    }
    shared.closing.store(true, Relaxed);
    close_tx.send_replace(true);
    if let Ok(Ok(mut ws)) = sender {
        let _ = ws.close(None).await;
    }
    // Per node: missing, duplicated, received.
    let mut per = vec![[0u64; 3]; c.ports.len()];
    for t in tasks {
        if let Ok(Ok(Some(s))) = tokio::time::timeout(Duration::from_secs(10), t).await {
            // The events sent to its room: seq = room, room + R, ... below `sent`.
            let room_events = sent.saturating_sub(s.room).div_ceil(c.rooms);
            let n = &mut per[s.node];
            n[0] += room_events.saturating_sub(s.received - s.dup);
            n[1] += s.dup;
            n[2] += s.received;
        }
    }
    let (missing, dup) = per.iter().fold((0, 0), |(m, d), n| (m + n[0], d + n[1]));
    r["missing"] = missing.into();
    r["duplicated"] = dup.into();
    if c.ports.len() > 1 {
        let per_node = per.iter().map(|n| serde_json::json!({"missing": n[0], "duplicated": n[1], "received": n[2]}));
        r["per_node"] = per_node.collect::<Vec<_>>().into();
    }
    if dup > 0 || missing > refused {
        shared.error(format!(
            "{missing} deliveries missing ({refused} refused by the server), {dup} duplicated"
        ));
    }
    r["errors"] = shared.errors.load(Relaxed).into();
    r["first_errors"] = shared.first.lock().unwrap().clone().into();
    r
}

async fn connect(port: u16) -> Result<Ws, String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let open = ws
        .next()
        .await
        .ok_or("closed before open")?
        .map_err(|e| e.to_string())?;
    if !open.to_text().is_ok_and(|t| t.starts_with("0{")) {
        return Err(format!("expected open, got {open:?}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let m = ws
            .next()
            .await
            .ok_or("closed before connect")?
            .map_err(|e| e.to_string())?;
        match m.to_text().unwrap_or("") {
            t if t.starts_with("40{") => return Ok(ws),
            "2" => ws
                .send(Message::text("3"))
                .await
                .map_err(|e| e.to_string())?,
            t if t.starts_with("42[\"auth\"") => {}
            t => return Err(format!("expected 40{{sid}}, got {t:?}")),
        }
    }
}

/// Connects, joins `room` if any, then counts deliveries until told to close.
async fn client(
    (node, port): (usize, u16),
    room: Option<u64>,
    rooms: u64,
    t0: Instant,
    shared: Arc<Shared>,
    mut close: watch::Receiver<bool>,
    gate: Arc<Semaphore>,
) -> Option<Seen> {
    let permit = gate.acquire_owned().await;
    let setup = async {
        let mut ws = connect(port).await?;
        if let Some(k) = room {
            ws.send(Message::text(format!("420[\"join\",\"r{k}\"]")))
                .await
                .map_err(|e| e.to_string())?;
            loop {
                let m = ws
                    .next()
                    .await
                    .ok_or("closed before the join ack")?
                    .map_err(|e| e.to_string())?;
                match m.to_text().unwrap_or("") {
                    t if t.starts_with("430") => break,
                    "2" => ws
                        .send(Message::text("3"))
                        .await
                        .map_err(|e| e.to_string())?,
                    _ => {}
                }
            }
        }
        Ok::<_, String>(ws)
    };
    let mut ws = match tokio::time::timeout(Duration::from_secs(30), setup).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            shared.failed.fetch_add(1, Relaxed);
            shared.error(format!("connect: {e}"));
            return None;
        }
        Err(_) => {
            shared.failed.fetch_add(1, Relaxed);
            shared.error("connect: timed out".into());
            return None;
        }
    };
    drop(permit);
    let room = room.unwrap_or(0);
    shared.in_room[room as usize].fetch_add(1, Relaxed);
    shared.connected.fetch_add(1, Relaxed);
    let mut seen = Seen {
        room,
        node,
        next: room,
        ..Seen::default()
    };
    loop {
        tokio::select! {
            _ = close.changed() => {
                let _ = ws.close(None).await;
                return Some(seen);
            }
            m = ws.next() => {
                let Some(Ok(m)) = m else { break };
                let Ok(t) = m.to_text() else { continue };
                if let Some(p) = t.strip_prefix("42[\"broadcast-back\",\"") {
                    let Some(seq) = p.get(..10).and_then(|d| d.parse::<u64>().ok()) else {
                        shared.error(format!("bad delivery {t:?}"));
                        continue;
                    };
                    seen.received += 1;
                    if seq < seen.next {
                        seen.dup += 1;
                    } else {
                        seen.next = seq + rooms;
                    }
                    let n = shared.delivered.fetch_add(1, Relaxed) + 1;
                    shared.last_us.store(t0.elapsed().as_micros() as u64, Relaxed);
                    if n >= shared.want.load(Relaxed) {
                        shared.want.store(u64::MAX, Relaxed);
                        shared.wake.notify_one();
                    }
                } else if t == "2" {
                    if ws.send(Message::text("3")).await.is_err() { break; }
                } else if t.starts_with('1') || t.starts_with("41") {
                    break;
                }
            }
        }
    }
    if !shared.closing.load(Relaxed) {
        shared.error("closed by the server (or a missed ping)".into());
    }
    Some(seen)
}
