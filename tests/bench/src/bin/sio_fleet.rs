//! A fleet of Socket.IO clients over WebSocket in one thread, against one server in
//! the reference test-server configuration (`message` answered with `message-back`).
//! Each client speaks the Engine.IO v4 / Socket.IO v5 text protocol as
//! `socket.io-client` does over its WebSocket transport (tokio-tungstenite frames):
//! `0{...}` open, `40` connect, `40{"sid"}` back, every ping `2` answered with `3`.
//!
//!   sio_fleet --port P --server-pid PID --label NAME [--conns 1000] [--empty-idle 10]
//!             [--rt-secs 5] [--ack-secs 0] [--idle 10] [--hold 0]
//!
//! Phases, each bounded in time, as `sio_fleet.mjs` (the same with socket.io-client):
//! server CPU with no client; connect (60 s at most); round trips (every client in a
//! server CPU over idle seconds and its VmRSS (or `--hold`: only hold the clients);
//! round trips (every client in a closed loop: `42["message","ping",n]` ->
//! `42["message-back",...]`); with `--ack-secs`, ack round trips (every client in a
//! closed loop: `42<id>["message-with-ack","ping",n]` -> the ACK `43<id>[...]`); close.
//! The connect rate is the clients connected over the time from the first handshake
//! to the last `40{"sid"}` (`SIO_FLEET_BURST`, default 50, handshakes in flight at
//! once); `rss_per_conn_kib` is (VmRSS with the clients - VmRSS before) / connected.
//! Prints one
//! JSON line (kind "sio"). Any failed connect, or close by the server before the
//! end (a missed ping, say), is an error; exit status 1 if there was any (the phases
//! still run on the clients left, and their numbers are reported beside the errors).

use futures_util::{SinkExt, StreamExt};
use sockwire_bench::{proc_cpu_seconds, proc_status_kib, raise_nofile_limit};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Connect,
    RoundTrips,
    Acks,
    Quiet,
    Close,
}

#[derive(Default)]
struct Shared {
    connected: AtomicUsize,
    failed: AtomicUsize,
    errors: AtomicUsize,
    dropped: AtomicUsize,
    /// Microseconds from the first handshake to the latest `40{"sid"}`.
    last_connect_us: AtomicU64,
    first: Mutex<Vec<String>>,
    closing: AtomicBool,
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut f = self.first.lock().unwrap();
        if f.len() < 5 {
            f.push(what);
        }
    }
}

fn main() {
    let mut o = std::collections::HashMap::new();
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        o.insert(k.trim_start_matches("--").to_string(), v);
    }
    let num = |k: &str, d: f64| o.get(k).map_or(d, |v| v.parse().expect(k));
    let port = num("port", 0.0) as u16;
    let pid = num("server-pid", 0.0) as u32;
    let label = o.get("label").cloned().unwrap_or_default();
    let conns = num("conns", 1000.0) as usize;
    let (empty, rt, idle, hold) = (
        num("empty-idle", 10.0),
        num("rt-secs", 5.0),
        num("idle", 10.0),
        num("hold", 0.0),
    );
    let ack = num("ack-secs", 0.0);
    raise_nofile_limit();
    let rt_ = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt_.block_on(run(port, pid, label, conns, [empty, rt, ack, idle, hold]));
    println!("{out}");
    std::process::exit(if out["errors"].as_u64() == Some(0) {
        0
    } else {
        1
    });
}

/// `secs`: empty idle, round trips, ack round trips, idle, hold.
async fn run(
    port: u16,
    pid: u32,
    label: String,
    conns: usize,
    secs: [f64; 5],
) -> serde_json::Value {
    let [empty, rt, ack, idle, hold] = secs;
    let cpu = || proc_cpu_seconds(pid).unwrap_or(f64::NAN);
    let sleep = |s: f64| tokio::time::sleep(Duration::from_secs_f64(s));
    let mut r =
        serde_json::json!({ "kind": "sio", "label": label, "conns": conns, "fleet": "rust" });
    if let Ok(p) = std::env::var("SIO_FLEET_PING") {
        r["server_ping"] = p.into(); // the server's pingInterval/pingTimeout, as run.sh set them
    }
    if empty > 0.0 {
        let c0 = cpu();
        sleep(empty).await;
        r["empty_idle_secs"] = empty.into();
        r["empty_idle_cpu_s"] = (cpu() - c0).into();
        r["empty_rss_kib"] = proc_status_kib(pid, "VmRSS").into();
    }
    r["base_rss_kib"] = proc_status_kib(pid, "VmRSS").into();
    let shared = Arc::new(Shared::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let gate = Arc::new(Semaphore::new(conns_at_once()));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            tokio::spawn(client(
                port,
                t0,
                shared.clone(),
                phase_rx.clone(),
                gate.clone(),
            ))
        })
        .collect();
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < conns
        && t0.elapsed() < Duration::from_secs(60)
    {
        sleep(0.05).await;
    }
    let connected = shared.connected.load(Ordering::Relaxed);
    r["connected"] = connected.into();
    r["connect_secs"] = t0.elapsed().as_secs_f64().into();
    let last = shared.last_connect_us.load(Ordering::Relaxed) as f64 / 1e6;
    if connected > 0 && last > 0.0 {
        r["connects_per_sec"] = (connected as f64 / last).into();
    }
    if connected < conns {
        shared.error(format!("only {connected} of {conns} connected"));
    }
    eprintln!(
        "sio_fleet {label}: {connected} connected in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if connected > 0 {
        let secs = if hold > 0.0 { hold } else { idle };
        if hold <= 0.0 {
            sleep(1.0).await;
        }
        let c0 = cpu();
        let me0 = proc_cpu_seconds(std::process::id()).unwrap_or(f64::NAN);
        sleep(secs).await;
        let (k, kc) = if hold > 0.0 {
            ("hold_secs", "hold_cpu_s")
        } else {
            ("idle_secs", "idle_cpu_s")
        };
        r[k] = secs.into();
        r[kc] = (cpu() - c0).into();
        r["fleet_idle_cpu_s"] =
            (proc_cpu_seconds(std::process::id()).unwrap_or(f64::NAN) - me0).into();
        r["rss_kib"] = proc_status_kib(pid, "VmRSS").into();
        r["hwm_kib"] = proc_status_kib(pid, "VmHWM").into();
        if let (Some(a), Some(b)) = (r["rss_kib"].as_f64(), r["base_rss_kib"].as_f64()) {
            r["rss_per_conn_kib"] = ((a - b) / connected as f64).into();
        }
        r["dropped_idle"] = shared.dropped.load(Ordering::Relaxed).into();
        eprintln!(
            "sio_fleet {label}: {connected} idle clients: {:.3} CPU-s over {secs} s",
            r[kc].as_f64().unwrap_or(0.0)
        );
    }
    let (mut lat, mut acks): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    // With errors the phases still run (on the clients left), so that the numbers
    // show how the server fared; the errors are reported beside them.
    let phases = [
        (rt, Phase::RoundTrips, "rt_server_cpu_s", "rt_secs"),
        (ack, Phase::Acks, "ack_server_cpu_s", "ack_secs"),
    ];
    for (secs, p, cpu_key, secs_key) in phases {
        if secs <= 0.0 || connected == 0 {
            continue;
        }
        let c0 = cpu();
        let start = Instant::now();
        phase_tx.send_replace(p);
        sleep(secs).await;
        phase_tx.send_replace(Phase::Quiet);
        let secs = start.elapsed().as_secs_f64();
        r[cpu_key] = (cpu() - c0).into();
        r[secs_key] = secs.into();
        sleep(0.5).await; // the last answers come in
        if p == Phase::RoundTrips {
            r["dropped_by_rt_end"] = shared.dropped.load(Ordering::Relaxed).into();
        }
    }
    // Still connected: every client that has not failed by now.
    r["still_connected"] =
        (connected - shared.dropped.load(Ordering::Relaxed).min(connected)).into();
    shared.closing.store(true, Ordering::SeqCst);
    phase_tx.send_replace(Phase::Close);
    for t in tasks {
        if let Ok(Ok((l, a))) = tokio::time::timeout(Duration::from_secs(10), t).await {
            lat.extend(l);
            acks.extend(a);
        }
    }
    // (phase seconds key, latencies, keys: count, rate, p50, p99, what)
    let keys = [
        (
            "rt_secs",
            &mut lat,
            ["rt_msgs", "msgs_per_sec", "p50_ms", "p99_ms", "round trips"],
        ),
        (
            "ack_secs",
            &mut acks,
            [
                "ack_msgs",
                "acks_per_sec",
                "ack_p50_ms",
                "ack_p99_ms",
                "ack round trips",
            ],
        ),
    ];
    for (secs, lat, [n, rate, p50, p99, what]) in keys {
        let Some(secs) = r[secs].as_f64() else {
            continue;
        };
        lat.sort_by(f64::total_cmp);
        let q = |p: f64| {
            lat.get(((p * lat.len() as f64) as usize).min(lat.len().saturating_sub(1)))
                .copied()
        };
        r[n] = lat.len().into();
        r[rate] = (lat.len() as f64 / secs).into();
        r[p50] = q(0.5).into();
        r[p99] = q(0.99).into();
        eprintln!(
            "sio_fleet {label}: {:.0} {what}/s, p50 {:?} ms, p99 {:?} ms",
            lat.len() as f64 / secs,
            q(0.5),
            q(0.99)
        );
    }
    r["errors"] = shared.errors.load(Ordering::Relaxed).into();
    r["first_errors"] = shared.first.lock().unwrap().clone().into();
    r
}

/// The message a client sends in a closed loop in `phase`, with its number `n` (also
/// the ack id of `message-with-ack`).
fn request(phase: Phase, n: u64) -> Option<Message> {
    match phase {
        Phase::RoundTrips => Some(Message::text(format!("42[\"message\",\"ping\",{n}]"))),
        Phase::Acks => Some(Message::text(format!(
            "42{n}[\"message-with-ack\",\"ping\",{n}]"
        ))),
        _ => None,
    }
}

/// Whether `t` answers request `n` sent in `phase`.
fn answers(t: &str, phase: Phase, n: u64) -> bool {
    match phase {
        Phase::RoundTrips => t.starts_with("42[\"message-back\""),
        Phase::Acks => t
            .strip_prefix("43")
            .and_then(|r| r.strip_prefix(n.to_string().as_str()))
            .is_some_and(|r| r.starts_with('[')),
        _ => false,
    }
}

/// One client; returns its round-trip latencies (`message`, then ack) in milliseconds.
async fn client(
    port: u16,
    t0: Instant,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    gate: Arc<Semaphore>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut lat, mut acks) = (Vec::new(), Vec::new());
    let permit = gate.acquire_owned().await;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let connect = async {
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
                t => return Err(format!("expected 40{{sid}}, got {t:?}")),
            }
        }
    };
    let failure = match tokio::time::timeout(Duration::from_secs(30), connect).await {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("timed out".to_string()),
    };
    let mut ws = match failure {
        Ok(ws) => ws,
        Err(e) => {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            shared.error(format!("connect: {e}"));
            return (lat, acks);
        }
    };
    drop(permit);
    shared
        .last_connect_us
        .fetch_max(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
    shared.connected.fetch_add(1, Ordering::Relaxed);
    // `waiting`: the phase of the request in flight, if any.
    let (mut sent, mut n, mut waiting) = (Instant::now(), 0u64, None::<Phase>);
    loop {
        tokio::select! {
            changed = phase.changed() => {
                let p = *phase.borrow_and_update();
                if changed.is_err() || p == Phase::Close {
                    let _ = ws.close(None).await;
                    return (lat, acks);
                }
                if waiting.is_none() && let Some(m) = request(p, n + 1) {
                    sent = Instant::now();
                    waiting = Some(p);
                    n += 1;
                    if ws.send(m).await.is_err() { break; }
                }
            }
            m = ws.next() => {
                let Some(Ok(m)) = m else { break };
                let Ok(t) = m.to_text() else { continue };
                if t == "2" {
                    if ws.send(Message::text("3")).await.is_err() { break; }
                } else if let Some(w) = waiting.filter(|&w| answers(t, w, n)) {
                    let ms = sent.elapsed().as_secs_f64() * 1e3;
                    if w == Phase::Acks { acks.push(ms) } else { lat.push(ms) }
                    waiting = None;
                    let p = *phase.borrow();
                    if let Some(m) = request(p, n + 1) {
                        sent = Instant::now();
                        waiting = Some(p);
                        n += 1;
                        if ws.send(m).await.is_err() { break; }
                    }
                } else if t.starts_with('1') || t.starts_with("41") {
                    break;
                }
            }
        }
    }
    if !shared.closing.load(Ordering::SeqCst) {
        shared.dropped.fetch_add(1, Ordering::Relaxed);
        shared.error("closed by the server (or a missed ping)".into());
    }
    (lat, acks)
}

/// Handshakes in flight at once (`SIO_FLEET_BURST`, default 50).
fn conns_at_once() -> usize {
    std::env::var("SIO_FLEET_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}
