//! The delivery check of connection state recovery at scale (`run.sh --only
//! recovery`): `--conns` clients of one kind behind the chaos proxy of
//! `tests/common/delivery.rs` (every connection cut at random, `--life-min` to
//! `--life-max` ms after it opened, a third of the cuts silent on the server side, each new
//! connection held up to 0.5 s), while a sender connected directly has the
//! server broadcast `--events` numbered events to their room, one every
//! `--interval` ms.
//!
//!   sio_recovery --port P --server-pid PID --label NAME --clients node|sockwire
//!                [--conns 1000] [--events 300] [--interval 50] [--settle 6000] [--stats 1]
//!                [--life-min 2000] [--life-max 5000]
//!
//! `node`: socket.io-client 4.8 clients (`tests/peers/sio_recovery_fleet.mjs`);
//! `sockwire`: the `sio_client` example's command line, one thread each. Prints
//! one JSON line (kind "sio_recovery"): per kind the events expected, delivered
//! (percent of clients x events), missing, duplicated, out of order, clients that
//! got every event once and in order, recovered connects, the proxy's cuts; with
//! `--stats 1` the server's recovery log at its peak (`recovery-stats`, the
//! sockwire test server only) and the server's peak RSS.

#[path = "../../../common/delivery.rs"]
#[allow(dead_code)]
mod delivery;

#[path = "../../../../examples/sio_client.rs"]
#[allow(dead_code)]
mod sio_client;

use serde_json::{Value, json};
use sockwire_bench::raise_nofile_limit;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let o = sockwire_bench::options();
    let num = |k: &str, d: u64| o.get(k).map_or(d, |v| v.parse().expect(k));
    let port = num("port", 0) as u16;
    let pid = num("server-pid", 0);
    let label = o.get("label").cloned().unwrap_or_default();
    let kind = o.get("clients").cloned().unwrap_or_else(|| "node".into());
    let conns = num("conns", 1000) as usize;
    let stats = num("stats", 0) == 1;
    raise_nofile_limit();
    let plan = delivery::Plan {
        node_clients: if kind == "node" { conns } else { 0 },
        sockwire_clients: if kind == "sockwire" { conns } else { 0 },
        events: num("events", 300),
        interval_ms: num("interval", 50),
        settle_ms: num("settle", 6000),
        chaos: delivery::Chaos {
            hold_ms: 500,
            life_ms: (num("life-min", 2000), num("life-max", 5000)),
            silent_percent: 33,
        },
        seed: 13,
        stats,
    };
    let peers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../peers");
    let mut fleet = Command::new("node");
    fleet
        .arg("--max-old-space-size=4096")
        .arg(peers.join("sio_recovery_fleet.mjs"))
        .current_dir(&peers);
    let out = delivery::run(SocketAddr::from(([127, 0, 0, 1], port)), fleet, plan);
    let s = if kind == "node" {
        out.node
    } else {
        out.sockwire
    };
    let recovered = if kind == "node" {
        out.node_recovered
    } else {
        out.sockwire_recovered
    };
    let log: Value = out
        .stats
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let hwm_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        });
    eprintln!(
        "{}",
        s.line(&format!("sio_recovery {label}, {kind} clients"))
    );
    eprintln!(
        "  recovered connects {recovered}; proxy: {} connections, {} cuts ({} silent); {:.1} s",
        out.accepted, out.cuts, out.silent_cuts, out.secs
    );
    if !log.is_null() {
        eprintln!("  server recovery log: {log}; server peak RSS {hwm_kib:?} KiB");
    }
    let line = json!({
        "kind": "sio_recovery",
        "label": label,
        "clients": kind,
        "conns": conns,
        "events": plan.events,
        "delivered_percent": s.delivered_percent(),
        "received": s.total.received,
        "missing": s.total.missing,
        "duplicated": s.total.duplicated,
        "out_of_order": s.total.out_of_order,
        "perfect_clients": s.perfect,
        "recovered_connects": recovered,
        "cuts": out.cuts,
        "silent_cuts": out.silent_cuts,
        "secs": out.secs,
        "log": log,
        "log_max_bytes": sockwire::socketio::recovery::Config::DEFAULT.max_log_bytes,
        "server_hwm_kib": hwm_kib,
    });
    println!("{line}");
}
