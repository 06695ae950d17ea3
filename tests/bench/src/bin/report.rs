//! Gathers one run's results into the sockwire / peer / ratio table.
//!
//!   report --criterion DIR --load FILE [--load FILE ...] --sizes FILE --out DIR
//!
//! Criterion: every group under DIR that has a `sockwire` function is paired with each
//! other function of the group (median of the samples, as throughput: higher is better).
//! Load: the JSON lines the load generator printed, labelled by implementation.
//! Sizes: the JSON lines `deflate_sizes` printed (compressed size in % of the input).
//! Writes DIR/summary.json (an array of rows: bench, unit, sockwire, peer, peer_value,
//! ratio) and DIR/summary.md (the same table with the machine), and prints the table.
//! `ratio` > 1 means sockwire is better, whatever the unit's direction.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone)]
struct Measure {
    group: String,
    imp: String,
    unit: String,
    value: f64,
    higher_is_better: bool,
}

fn main() {
    let mut criterion_dir = None;
    let mut load_files = Vec::new();
    let mut sizes_file = None;
    let mut out_dir = PathBuf::from("target/bench");
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("value");
        match k.as_str() {
            "--criterion" => criterion_dir = Some(PathBuf::from(v)),
            "--load" => load_files.push(PathBuf::from(v)),
            "--sizes" => sizes_file = Some(PathBuf::from(v)),
            "--out" => out_dir = PathBuf::from(v),
            _ => panic!("unknown argument {k}"),
        }
    }
    let mut ms = Vec::new();
    if let Some(d) = &criterion_dir {
        criterion_measures(d, &mut ms);
    }
    for f in &load_files {
        load_measures(f, &mut ms);
    }
    if let Some(f) = &sizes_file {
        load_measures(f, &mut ms);
    }
    let rows = pair(&ms);
    let machine = machine();

    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        out_dir.join("summary.json"),
        serde_json::to_string_pretty(&rows).unwrap() + "\n",
    )
    .unwrap();
    let table = markdown(&rows, &machine);
    std::fs::write(out_dir.join("summary.md"), &table).unwrap();
    print!("{table}");
    println!(
        "\nwritten: {} and summary.md",
        out_dir.join("summary.json").display()
    );
}

fn criterion_measures(dir: &Path, out: &mut Vec<Measure>) {
    let mut files = Vec::new();
    walk(dir, &mut files);
    for f in files {
        let Some(parent) = f.parent() else { continue };
        if parent.file_name().and_then(|s| s.to_str()) != Some("new") {
            continue;
        }
        let read = |p: PathBuf| -> Option<Value> {
            serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
        };
        let (Some(b), Some(e)) = (read(f.clone()), read(parent.join("estimates.json"))) else {
            continue;
        };
        let group = b["group_id"].as_str().unwrap_or_default().to_string();
        let imp = b["function_id"].as_str().unwrap_or_default().to_string();
        let ns = e["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        let (unit, value) = match (&b["throughput"]["Bytes"], &b["throughput"]["Elements"]) {
            (Value::Number(n), _) => (
                "GiB/s".to_string(),
                n.as_f64().unwrap() / ns * 1e9 / (1u64 << 30) as f64,
            ),
            (_, Value::Number(n)) => {
                let unit = match group.split('/').next() {
                    Some("handshake") => "handshakes/s",
                    Some("sio") => "packets/s",
                    _ => "msg/s",
                };
                (unit.to_string(), n.as_f64().unwrap() / ns * 1e9)
            }
            _ => ("ns".to_string(), ns),
        };
        let higher_is_better = unit != "ns";
        out.push(Measure {
            group,
            imp,
            unit,
            value,
            higher_is_better,
        });
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().and_then(|s| s.to_str()) == Some("benchmark.json") {
            out.push(p);
        }
    }
}

fn load_measures(file: &Path, out: &mut Vec<Measure>) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let imp = v["label"].as_str().unwrap_or_default().to_string();
        let conns = v["conns"].as_u64().unwrap_or(0);
        match v["kind"].as_str() {
            Some("echo") => {
                let size = v["size"].as_u64().unwrap_or(0) as usize;
                let size = if size >= 1024 {
                    format!("{}KiB", size / 1024)
                } else {
                    format!("{size}B")
                };
                let kind = if v["binary"].as_bool() == Some(true) {
                    " binary"
                } else {
                    ""
                };
                let g = format!("echo/{conns}x{size}{kind}");
                if let Some(x) = v["msgs_per_sec"].as_f64() {
                    out.push(Measure {
                        group: g.clone(),
                        imp: imp.clone(),
                        unit: "msg/s".into(),
                        value: x,
                        higher_is_better: true,
                    });
                }
                if let Some(x) = v["msgs_per_server_cpu_sec"].as_f64() {
                    out.push(Measure {
                        group: format!("{g} per server CPU-s"),
                        imp: imp.clone(),
                        unit: "msg/CPU-s".into(),
                        value: x,
                        higher_is_better: true,
                    });
                }
            }
            Some("size") => {
                let g = format!("deflate size/{}", v["data"].as_str().unwrap_or_default());
                if let Some(x) = v["percent"].as_f64() {
                    out.push(Measure {
                        group: g,
                        imp,
                        unit: "% of input".into(),
                        value: x,
                        higher_is_better: false,
                    });
                }
            }
            Some("idle") => {
                let g = format!("idle/{conns} conns");
                if let Some(x) = v["hwm_kib"].as_f64() {
                    out.push(Measure {
                        group: format!("{g} peak RSS (VmHWM)"),
                        imp: imp.clone(),
                        unit: "MiB".into(),
                        value: x / 1024.0,
                        higher_is_better: false,
                    });
                }
                if let Some(x) = v["kib_per_conn"].as_f64() {
                    out.push(Measure {
                        group: format!("{g} RSS per conn"),
                        imp: imp.clone(),
                        unit: "KiB".into(),
                        value: x,
                        higher_is_better: false,
                    });
                }
            }
            Some("sio_broadcast") if v["nodes"].is_array() => cluster_measures(&v, out),
            Some("sio" | "sio_broadcast") => sio_measures(&v, &imp, out),
            Some("sio_recovery") => recovery_measures(&v, &imp, out),
            _ => {}
        }
    }
}

/// The Socket.IO rows (`sio_fleet`, `sio_fanout`): each sockwire driver
/// ("sockwire-std", "sockwire-tokio") is the `sockwire` side of its own rows, every
/// other server (Node `socket.io`) the peer of both.
fn sio_measures(v: &Value, label: &str, out: &mut Vec<Measure>) {
    let conns = v["conns"].as_u64().unwrap_or(0);
    let (drivers, imp): (&[&str], &str) = match label {
        "sockwire-std" => (&["std runner"], "sockwire"),
        "sockwire-tokio" => (&["tokio"], "sockwire"),
        _ => (&["std runner", "tokio"], label),
    };
    let f = |k: &str| v[k].as_f64();
    let mut m = |what: String, unit: &str, value: Option<f64>, higher_is_better: bool| {
        let Some(value) = value else { return };
        for d in drivers {
            let group = format!("sio/{what} ({d})");
            out.push(Measure {
                group,
                imp: imp.into(),
                unit: unit.into(),
                value,
                higher_is_better,
            });
        }
    };
    if v["kind"] == "sio_broadcast" {
        // The fan-out runs (`sio_fanout`): one sender, every client counting.
        let rooms = v["rooms"].as_u64().unwrap_or(1);
        let burst = v["burst"].as_u64().unwrap_or(0);
        let what = if burst > 0 {
            format!("broadcast burst of {burst} events to {conns} clients")
        } else if rooms > 1 {
            format!("room broadcast {conns} clients {rooms} rooms")
        } else {
            format!("broadcast {conns} clients")
        };
        m(what.clone(), "deliveries/s", f("deliveries_per_sec"), true);
        m(
            format!("{what} per server CPU-s"),
            "deliveries/CPU-s",
            f("deliveries_per_server_cpu_sec"),
            true,
        );
        m(
            format!("{what}: refused"),
            "deliveries",
            f("refused"),
            false,
        );
        m(
            format!("{what}: missing"),
            "deliveries",
            f("missing"),
            false,
        );
        let fleet = f("fleet_cpu_s")
            .zip(f("run_secs"))
            .filter(|(_, s)| *s > 0.0);
        // Below 100 %: the server was not the bottleneck either (the sender's window
        // and the wake-ups between the two cores were).
        let server = f("server_cpu_s")
            .zip(f("run_secs"))
            .filter(|(_, s)| *s > 0.0);
        m(
            format!("{what}: server CPU"),
            "% of a core",
            server.map(|(c, s)| 100.0 * c / s),
            false,
        );
        m(
            format!("{what}: client fleet CPU"),
            "% of a core",
            fleet.map(|(c, s)| 100.0 * c / s),
            false,
        );
        m(format!("{what}: errors"), "errors", f("errors"), false);
        return;
    }
    if v["hold_secs"].is_number() {
        // The many-clients run (`sio/idle10k/...` for 10,000): how many held on, with what.
        let ping = v["server_ping"]
            .as_str()
            .map(|p| format!("ping {p} ms"))
            .unwrap_or_default();
        let hold = f("hold_secs").unwrap_or(0.0);
        let what = if conns == 10_000 {
            format!("idle10k/{ping}")
        } else {
            format!("{conns} clients held {hold}s, {ping}")
        };
        m(
            format!("{what}: connected"),
            "clients",
            f("still_connected"),
            true,
        );
        m(format!("{what}: errors"), "errors", f("errors"), false);
        m(
            format!("{what}: RSS"),
            "MiB",
            f("rss_kib").map(|k| k / 1024.0),
            false,
        );
        m(
            format!("{what}: RSS per connection"),
            "KiB",
            f("rss_per_conn_kib"),
            false,
        );
        m(
            format!("{what}: CPU over {hold}s"),
            "CPU-s",
            f("hold_cpu_s"),
            false,
        );
        m(
            format!("{what}: connect time"),
            "s",
            f("connect_secs"),
            false,
        );
        return;
    }
    if let Some(secs) = f("empty_idle_secs") {
        m(
            format!("no client: CPU over {secs}s"),
            "CPU-s",
            f("empty_idle_cpu_s"),
            false,
        );
    }
    m(
        format!("{conns} clients round trips"),
        "msg/s",
        f("msgs_per_sec"),
        true,
    );
    let per_cpu = f("rt_msgs")
        .zip(f("rt_server_cpu_s"))
        .filter(|(_, c)| *c > 0.0);
    m(
        format!("{conns} clients round trips per server CPU-s"),
        "msg/CPU-s",
        per_cpu.map(|(n, c)| n / c),
        true,
    );
    m(
        format!("{conns} clients round trip p50"),
        "ms",
        f("p50_ms"),
        false,
    );
    m(
        format!("{conns} clients round trip p99"),
        "ms",
        f("p99_ms"),
        false,
    );
    m(
        format!("{conns} clients ack round trips"),
        "acks/s",
        f("acks_per_sec"),
        true,
    );
    let per_cpu = f("ack_msgs")
        .zip(f("ack_server_cpu_s"))
        .filter(|(_, c)| *c > 0.0);
    m(
        format!("{conns} clients ack round trips per server CPU-s"),
        "acks/CPU-s",
        per_cpu.map(|(n, c)| n / c),
        true,
    );
    m(
        format!("{conns} clients ack round trip p50"),
        "ms",
        f("ack_p50_ms"),
        false,
    );
    m(
        format!("{conns} clients ack round trip p99"),
        "ms",
        f("ack_p99_ms"),
        false,
    );
    m(
        format!("connect {conns} clients"),
        "connects/s",
        f("connects_per_sec"),
        true,
    );
    if let Some(secs) = f("idle_secs") {
        m(
            format!("{conns} idle clients: CPU over {secs}s"),
            "CPU-s",
            f("idle_cpu_s"),
            false,
        );
    }
    m(
        format!("{conns} idle clients: RSS"),
        "MiB",
        f("rss_kib").map(|k| k / 1024.0),
        false,
    );
    m(
        format!("{conns} clients: errors"),
        "errors",
        f("errors"),
        false,
    );
}

/// The cluster rows (`sio_fanout --nodes`, `sio/cluster/...`): one node alone (the
/// baseline, sockwire only), then two nodes on one Redis, `conns` clients on each,
/// the sender on the first, per sockwire driver: with the sender on a sockwire node
/// the `sockwire` column has a sockwire node (same driver) as the other node and the
/// `socket.io` column a Node socket.io 4.8 node; with the sender on a Node node the
/// other node is sockwire (no Node + Node cluster is measured).
fn cluster_measures(v: &Value, out: &mut Vec<Measure>) {
    let conns = v["conns"].as_u64().unwrap_or(0);
    let nodes: Vec<&str> = v["nodes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let driver = |n: &str| match n {
        "sockwire-std" => "std runner",
        "sockwire-tokio" => "tokio",
        _ => "socket.io",
    };
    // The groups end with the sockwire driver in the cluster, as the other sio rows.
    let two = |sender: &str, d: &str| format!("sio/cluster/broadcast {conns} clients on each of 2 nodes, sender's node {sender}, other node ({d})");
    let (what, imp) = match nodes[..] {
        [a] => (format!("sio/cluster/broadcast {conns} clients, one node alone ({})", driver(a)), "sockwire"),
        ["socket.io", b] => (two("socket.io", driver(b)), "sockwire"),
        [a, b] => (two("sockwire", driver(a)), if b.starts_with("sockwire") { "sockwire" } else { "socket.io" }),
        _ => return,
    };
    let f = |k: &str| v[k].as_f64();
    let mut m = |group: String, unit: &str, value: Option<f64>, higher_is_better: bool| {
        if let Some(value) = value {
            out.push(Measure { group, imp: imp.into(), unit: unit.into(), value, higher_is_better });
        }
    };
    m(what.clone(), "deliveries/s", f("deliveries_per_sec"), true);
    m(format!("{what}, per server CPU-s"), "deliveries/CPU-s", f("deliveries_per_server_cpu_sec"), true);
    let pct = |k: &str| f(k).zip(f("run_secs")).filter(|(_, s)| *s > 0.0).map(|(c, s)| 100.0 * c / s);
    // Below 100 %: the servers were not the bottleneck (the fleet, on the other core with
    // Redis, was).
    m(format!("{what}: servers' CPU"), "% of a core", pct("server_cpu_s"), false);
    m(format!("{what}: client fleet CPU"), "% of a core", pct("fleet_cpu_s"), false);
    m(format!("{what}: refused"), "deliveries", f("refused"), false);
    match v["per_node"].as_array() {
        Some(per) => {
            for (n, name) in per.iter().zip(["sender's node", "other node"]) {
                m(format!("{what}: missing on the {name}"), "deliveries", n["missing"].as_f64(), false);
                m(format!("{what}: duplicated on the {name}"), "deliveries", n["duplicated"].as_f64(), false);
            }
        }
        None => {
            m(format!("{what}: missing"), "deliveries", f("missing"), false);
            m(format!("{what}: duplicated"), "deliveries", f("duplicated"), false);
        }
    }
    m(format!("{what}: errors"), "errors", f("errors"), false);
}

/// The recovery rows (`sio_recovery`): the sockwire server with recovery beside
/// socket.io 4.8 with and without it, per client kind; the sockwire server's log
/// at its peak and its peak RSS (sockwire only).
fn recovery_measures(v: &Value, label: &str, out: &mut Vec<Measure>) {
    let conns = v["conns"].as_u64().unwrap_or(0);
    let clients = match v["clients"].as_str() {
        Some("node") => "socket.io-client 4.8",
        _ => "sockwire client",
    };
    let what = format!("sio/recovery/{conns} clients ({clients}), connections cut at random");
    let f = |k: &str| v[k].as_f64();
    let mut m = |what: String, unit: &str, value: Option<f64>, higher_is_better: bool| {
        if let Some(value) = value {
            out.push(Measure {
                group: what,
                imp: label.into(),
                unit: unit.into(),
                value,
                higher_is_better,
            });
        }
    };
    m(
        format!("{what}: delivered"),
        "% of events",
        f("delivered_percent"),
        true,
    );
    m(format!("{what}: missing"), "events", f("missing"), false);
    m(
        format!("{what}: duplicated"),
        "events",
        f("duplicated"),
        false,
    );
    m(
        format!("{what}: out of order"),
        "events",
        f("out_of_order"),
        false,
    );
    m(
        format!("{what}: clients with every event once, in order"),
        "clients",
        f("perfect_clients"),
        true,
    );
    if label == "sockwire" {
        let log = &v["log"];
        m(
            format!("{what}: recovery log peak"),
            "KiB",
            log["peak_bytes"].as_f64().map(|b| b / 1024.0),
            false,
        );
        m(
            format!("{what}: recovery log peak entries"),
            "entries",
            log["peak_entries"].as_f64(),
            false,
        );
        m(
            format!("{what}: server peak RSS"),
            "MiB",
            f("server_hwm_kib").map(|k| k / 1024.0),
            false,
        );
    }
}

/// Rows in a stable order: criterion groups as the benches define them, then load.
fn pair(ms: &[Measure]) -> Vec<Value> {
    let mut groups: BTreeMap<(u8, String), Vec<&Measure>> = BTreeMap::new();
    for m in ms {
        let rank = match m.group.split('/').next().unwrap_or_default() {
            "unmask" => 0,
            "decode" => 1,
            "encode" => 2,
            "handshake" => 3,
            "echo" => 4,
            "idle" => 5,
            "sio" => 6,
            _ => 7,
        };
        groups
            .entry((rank, sort_key(&m.group)))
            .or_default()
            .push(m);
    }
    let mut rows = Vec::new();
    for ms in groups.values() {
        let sw = ms.iter().find(|m| m.imp == "sockwire");
        let mut peers: Vec<&&Measure> = ms.iter().filter(|m| m.imp != "sockwire").collect();
        peers.sort_by_key(|m| peer_rank(&m.imp));
        if peers.is_empty()
            && let Some(s) = sw.filter(|s| s.group.starts_with("sio/"))
        {
            // A sockwire-only result (the many-clients run).
            rows.push(json!({
                "bench": s.group, "unit": s.unit, "sockwire": round(s.value),
                "peer": null, "peer_value": null, "ratio": null,
            }));
        }
        for p in peers {
            if sw.is_none() && p.group.starts_with("sio/idle10k/") {
                continue; // that sockwire driver did not run (run.sh skips the std runner without descriptors)
            }
            let ratio = sw.map(|s| {
                if p.higher_is_better {
                    s.value / p.value
                } else {
                    p.value / s.value
                }
            });
            rows.push(json!({
                "bench": p.group,
                "unit": p.unit,
                "sockwire": sw.map(|s| round(s.value)),
                "peer": p.imp,
                "peer_value": round(p.value),
                "ratio": ratio.map(|r| (r * 1000.0).round() / 1000.0),
            }));
        }
    }
    rows
}

/// Sizes sort by their numeric value (16B < 1KiB < 64KiB < 1MiB), the rest by name.
fn sort_key(g: &str) -> String {
    let mut key = String::new();
    for part in g.split(['/', '-', ' ', 'x']) {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse::<u64>() {
            let mult = match &part[digits.len()..] {
                s if s.starts_with("KiB") => 1 << 10,
                s if s.starts_with("MiB") => 1 << 20,
                _ => 1,
            };
            key.push_str(&format!("{:012}{}", n * mult, &part[digits.len()..]));
        } else {
            key.push_str(part);
        }
        key.push('/');
    }
    key
}

fn peer_rank(imp: &str) -> u8 {
    match imp {
        "memcpy" => 0,
        i if i.starts_with("tungstenite") || i.starts_with("tokio-tungstenite") => 1,
        "fastwebsockets" => 2,
        "embedded-websocket" => 3,
        _ => 4,
    }
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 1000.0).round() / 1000.0
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    // Which sockwire was measured: the commit, and whether the tree had changes.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(r) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--",
                "../../src",
                "../../Cargo.toml",
            ])
            .is_some_and(|s| !s.is_empty());
            format!(
                ", sockwire {r}{}",
                if dirty { " + uncommitted changes" } else { "" }
            )
        }
        None => String::new(),
    };
    format!(
        "{model}, {cores} cores, {} GiB RAM, Linux {}, {rustc}{rev}",
        (mem_kib as f64 / 1048576.0).round(),
        kernel.trim()
    )
}

fn human(x: f64, unit: &str) -> String {
    if unit.ends_with("/s") && unit != "GiB/s" || unit.ends_with("/CPU-s") {
        if x >= 1e6 {
            return format!("{:.2} M", x / 1e6);
        } else if x >= 1e3 {
            return format!("{:.1} k", x / 1e3);
        }
        return format!("{x:.0}");
    }
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn markdown(rows: &[Value], machine: &str) -> String {
    let mut s = format!("Machine: {machine}\n\n");
    s.push_str(
        "| bench | unit | sockwire | peer | peer value | ratio |\n|---|---|---:|---|---:|---:|\n",
    );
    for r in rows {
        let unit = r["unit"].as_str().unwrap_or_default();
        let sw = r["sockwire"]
            .as_f64()
            .map(|x| human(x, unit))
            .unwrap_or_else(|| "–".into());
        let pv = r["peer_value"]
            .as_f64()
            .map(|x| human(x, unit))
            .unwrap_or_default();
        let ratio = r["ratio"]
            .as_f64()
            .map(|x| format!("{x:.2}x"))
            .unwrap_or_else(|| "–".into());
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r["bench"].as_str().unwrap_or_default(),
            unit,
            sw,
            r["peer"].as_str().unwrap_or_default(),
            pv,
            ratio
        ));
    }
    s.push_str("\nratio = how many times better sockwire is (higher throughput or lower memory); below 1.00x sockwire loses.\n");
    s
}
