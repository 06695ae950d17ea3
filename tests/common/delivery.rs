//! The delivery check of connection state recovery: a TCP proxy that cuts
//! its clients' connections at random moments, the per-client count of what
//! arrived, and one whole run ([`run`]): Node `socket.io-client` clients
//! (`tests/peers/sio_recovery_fleet.mjs`, which also sends the numbered
//! events) and sockwire clients (the `sio_client` example's command line on
//! threads, the only use of the client here) at once, through the proxy.
//! `tests/recovery_delivery.rs` and `tests/bench` (`sio_recovery`) include
//! it with `#[path]`, beside `examples/sio_client.rs` as the crate's
//! `sio_client` module.
//!
//! The proxy forwards every accepted connection to `upstream`. While chaos
//! is on, each new connection waits a random `0..hold_ms` before it is
//! forwarded (the client is offline that much longer) and lives a random
//! `life_ms`; then it is cut: either both sides at once (the server sees a
//! transport close) or, for `silent_percent` of the cuts, the client side
//! only, the server side left open and silent, so that the server finds the
//! connection dead only at its ping timeout, possibly after the client came
//! back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::sio_client;

/// How the proxy disturbs its connections.
#[derive(Clone, Copy, Debug)]
pub struct Chaos {
    /// The longest a new connection waits before it is forwarded, ms.
    pub hold_ms: u64,
    /// A connection lives between these many ms before it is cut.
    pub life_ms: (u64, u64),
    /// The share of cuts (percent) that leave the server side open.
    pub silent_percent: u64,
}

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A connection the reaper will cut.
struct Victim {
    at: Instant,
    client: TcpStream,
    server: TcpStream,
    silent: bool,
    /// Set when cut: the pumps stop forwarding.
    cut: Arc<AtomicBool>,
}

/// The chaos proxy. Stops (and closes everything) when dropped.
pub struct Proxy {
    /// Where clients connect: `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    chaos: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Connections accepted.
    pub accepted: Arc<AtomicU64>,
    /// Connections cut (silent ones included).
    pub cuts: Arc<AtomicU64>,
    /// Cuts that left the server side open.
    pub silent_cuts: Arc<AtomicU64>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 in front of `upstream`, chaos off.
    pub fn start(upstream: SocketAddr, chaos: Chaos, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local_addr");
        let on = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (accepted, cuts, silent_cuts) = Default::default();
        let proxy = Proxy {
            addr,
            chaos: on.clone(),
            stop: stop.clone(),
            accepted,
            cuts,
            silent_cuts,
        };
        let victims: Arc<Mutex<Vec<Victim>>> = Arc::default();
        let rng = Arc::new(Mutex::new(Rng(seed)));
        // The reaper: cuts what is due, every 20 ms.
        {
            let (victims, on, stop) = (victims.clone(), on.clone(), stop.clone());
            let (cuts, silent_cuts) = (proxy.cuts.clone(), proxy.silent_cuts.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(20));
                    let now = Instant::now();
                    let mut list = victims.lock().unwrap();
                    list.retain(|v| {
                        if !on.load(Ordering::Relaxed) || v.at > now {
                            return !v.cut.load(Ordering::Relaxed);
                        }
                        v.cut.store(true, Ordering::Relaxed);
                        let _ = v.client.shutdown(Shutdown::Both);
                        if v.silent {
                            silent_cuts.fetch_add(1, Ordering::Relaxed);
                        } else {
                            let _ = v.server.shutdown(Shutdown::Both);
                        }
                        cuts.fetch_add(1, Ordering::Relaxed);
                        false
                    });
                }
                for v in victims.lock().unwrap().drain(..) {
                    let _ = v.client.shutdown(Shutdown::Both);
                    let _ = v.server.shutdown(Shutdown::Both);
                }
            });
        }
        // The acceptor.
        {
            let (on, stop, accepted) = (on, stop, proxy.accepted.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let client = match listener.accept() {
                        Ok((c, _)) => c,
                        Err(_) => {
                            thread::sleep(Duration::from_millis(2));
                            continue;
                        }
                    };
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let chaotic = on.load(Ordering::Relaxed);
                    let (hold, life, silent) = {
                        let mut r = rng.lock().unwrap();
                        let hold = if chaotic {
                            r.range(0, chaos.hold_ms)
                        } else {
                            0
                        };
                        let life = r.range(chaos.life_ms.0, chaos.life_ms.1);
                        (hold, life, r.range(1, 100) <= chaos.silent_percent)
                    };
                    let victims = victims.clone();
                    thread::spawn(move || {
                        let _ = client.set_nonblocking(false);
                        thread::sleep(Duration::from_millis(hold));
                        let Ok(server) = TcpStream::connect(upstream) else {
                            return;
                        };
                        let _ = server.set_nodelay(true);
                        let _ = client.set_nodelay(true);
                        let cut = Arc::new(AtomicBool::new(false));
                        let victim = Victim {
                            at: Instant::now() + Duration::from_millis(life),
                            client: client.try_clone().expect("clone"),
                            server: server.try_clone().expect("clone"),
                            silent,
                            cut: cut.clone(),
                        };
                        victims.lock().unwrap().push(victim);
                        let (c2, s2) = (
                            client.try_clone().expect("clone"),
                            server.try_clone().expect("clone"),
                        );
                        let cut2 = cut.clone();
                        thread::spawn(move || pump(s2, c2, &cut2));
                        pump(client, server, &cut);
                    });
                }
            });
        }
        proxy
    }

    /// Turns the cuts on or off (off: connections live on).
    pub fn set_chaos(&self, on: bool) {
        self.chaos.store(on, Ordering::Relaxed);
    }

    /// The proxy's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` until either ends or the connection is cut; after a
/// cut, whatever still comes from `from` is read and dropped (a silent cut:
/// the server's pings go nowhere) until it closes.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !cut.load(Ordering::Relaxed) && to.write_all(&buf[..n]).is_err() {
            cut.store(true, Ordering::Relaxed);
        }
    }
    // Ended by a peer (not cut): end the other side too, and tell the
    // reaper there is nothing left to cut.
    if !cut.swap(true, Ordering::Relaxed) {
        let _ = to.shutdown(Shutdown::Both);
    }
}

/// What one client got of the numbered events `1..=expected`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events received (duplicates included).
    pub received: u64,
    /// Numbers never received.
    pub missing: u64,
    /// Receptions of a number already received.
    pub duplicated: u64,
    /// Receptions of a number lower than the one before.
    pub out_of_order: u64,
}

impl Tally {
    /// Counts `seqs`, in the order received, against `1..=expected`.
    pub fn of(seqs: &[u64], expected: u64) -> Tally {
        let mut seen = std::collections::BTreeSet::new();
        let mut t = Tally {
            received: seqs.len() as u64,
            ..Tally::default()
        };
        for (i, s) in seqs.iter().enumerate() {
            if !seen.insert(*s) {
                t.duplicated += 1;
            }
            if i > 0 && *s < seqs[i - 1] {
                t.out_of_order += 1;
            }
        }
        t.missing = (1..=expected).filter(|n| !seen.contains(n)).count() as u64;
        t
    }
}

/// The sum over clients, and how many clients got every event exactly once
/// and in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Clients counted.
    pub clients: u64,
    /// Clients with nothing missing, duplicated or out of order.
    pub perfect: u64,
    /// The sums.
    pub total: Tally,
    /// Events each client should have received.
    pub expected: u64,
}

impl Summary {
    /// Sums `tallies`.
    pub fn of(tallies: &[Tally], expected: u64) -> Summary {
        let mut s = Summary {
            clients: tallies.len() as u64,
            expected,
            ..Summary::default()
        };
        for t in tallies {
            s.total.received += t.received;
            s.total.missing += t.missing;
            s.total.duplicated += t.duplicated;
            s.total.out_of_order += t.out_of_order;
            if t.missing + t.duplicated + t.out_of_order == 0 {
                s.perfect += 1;
            }
        }
        s
    }

    /// The share of the expected events received (distinct), in percent.
    pub fn delivered_percent(&self) -> f64 {
        let want = (self.clients * self.expected) as f64;
        if want == 0.0 {
            return 0.0;
        }
        100.0 * (want - self.total.missing as f64) / want
    }

    /// One line: clients, delivered %, missing, duplicated, out of order.
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label}: {} clients x {} events: {:.2}% delivered, {} missing, {} duplicated, {} out of order, {} clients perfect",
            self.clients,
            self.expected,
            self.delivered_percent(),
            self.total.missing,
            self.total.duplicated,
            self.total.out_of_order,
            self.perfect
        )
    }
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

/// What one run does.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Node clients (the fleet's).
    pub node_clients: usize,
    /// sockwire clients (threads).
    pub sockwire_clients: usize,
    /// Numbered events, one every `interval_ms`.
    pub events: u64,
    /// Between two events, ms.
    pub interval_ms: u64,
    /// How long the clients have to come back after the last event, ms.
    pub settle_ms: u64,
    /// The cuts.
    pub chaos: Chaos,
    /// The proxy's seed.
    pub seed: u64,
    /// Ask the server for `recovery-stats` at the end.
    pub stats: bool,
}

/// What one run found.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The Node clients.
    pub node: Summary,
    /// The sockwire clients.
    pub sockwire: Summary,
    /// Connects that were recoveries, Node clients.
    pub node_recovered: u64,
    /// Connects that were recoveries, sockwire clients.
    pub sockwire_recovered: u64,
    /// Connections the proxy accepted.
    pub accepted: u64,
    /// Cuts, and of those the silent ones.
    pub cuts: u64,
    /// Cuts that left the server side open.
    pub silent_cuts: u64,
    /// The server's answer to `recovery-stats` (raw JSON), if asked.
    pub stats: Option<String>,
    /// Wall time, s.
    pub secs: f64,
}

/// A sockwire client: the `sio_client` command line on a thread, told to
/// join the room on every connect that is not a recovery.
struct SockwireClient {
    input: Arc<Mutex<Option<Sender<String>>>>,
    seqs: Arc<Mutex<Vec<u64>>>,
    recovered: Arc<AtomicUsize>,
    handle: thread::JoinHandle<()>,
}

/// The client's stdout: acts on its JSON lines.
struct Lines {
    partial: Vec<u8>,
    input: Arc<Mutex<Option<Sender<String>>>>,
    seqs: Arc<Mutex<Vec<u64>>>,
    recovered: Arc<AtomicUsize>,
    joined: Arc<AtomicUsize>,
    joined_once: bool,
}

impl Lines {
    fn line(&mut self, line: &str) {
        if line.contains(r#""connected":"#) {
            if line.contains(r#""recovered":true"#) {
                self.recovered.fetch_add(1, Ordering::Relaxed);
            } else if let Some(tx) = self.input.lock().unwrap().as_ref() {
                let _ = tx.send(r#"call join ["r"]"#.into());
            }
        } else if line.contains(r#""ack_response":"#) && !self.joined_once {
            self.joined_once = true;
            self.joined.fetch_add(1, Ordering::Relaxed);
        } else if line.contains(r#""event":"broadcast-back""#) {
            let n = json_field(line, "args")
                .and_then(|a| a.trim_start_matches('[').split([',', ']']).next())
                .and_then(|n| n.parse().ok());
            if let Some(n) = n {
                self.seqs.lock().unwrap().push(n);
            }
        }
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.line(&String::from_utf8_lossy(&line));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SockwireClient {
    fn start(url: &str, joined: &Arc<AtomicUsize>) -> SockwireClient {
        let args: Vec<String> = [url, "--transport", "websocket", "--wait", "0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = sio_client::parse_args(&args).expect("client arguments");
        let (tx, rx) = mpsc::channel();
        let input = Arc::new(Mutex::new(Some(tx)));
        let (seqs, recovered) = (Arc::default(), Arc::default());
        let mut out = Lines {
            partial: Vec::new(),
            input: input.clone(),
            seqs: Arc::clone(&seqs),
            recovered: Arc::clone(&recovered),
            joined: joined.clone(),
            joined_once: false,
        };
        let handle = thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut err = std::io::sink();
                if let Err(e) = sio_client::run_cli(&options, rx, &mut out, &mut err) {
                    eprintln!("sockwire client: {e}");
                }
            })
            .expect("a client thread");
        SockwireClient {
            input,
            seqs,
            recovered,
            handle,
        }
    }

    /// Closes the client's stdin (it ends).
    fn stop(&self) {
        self.input.lock().unwrap().take();
    }

    /// Waits (bounded) for the client to end: its events and recoveries.
    fn finish(self, deadline: Instant) -> (Vec<u64>, usize) {
        while !self.handle.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let seqs = self.seqs.lock().unwrap().clone();
        (seqs, self.recovered.load(Ordering::Relaxed))
    }
}

/// The raw value of `key` in a flat JSON line (an array or a scalar).
fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = if rest.starts_with('[') {
        rest.find(']')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(&rest[..end])
}

/// The fleet process: its stdin, its stdout lines.
struct Fleet {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Fleet {
    fn spawn(mut cmd: Command) -> Fleet {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the fleet ({cmd:?}): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Fleet {
            child,
            stdin,
            lines,
        }
    }

    fn line(&mut self, deadline: Instant, what: &str) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = self.child.kill();
                panic!("the fleet said no {what} in time: {e}");
            }
        }
    }

    fn wait_for(&mut self, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.line(deadline, want) != want {}
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the fleet");
        self.stdin.flush().expect("flush");
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run against the server at `server`: the fleet is `fleet` (the
/// caller's `node sio_recovery_fleet.mjs`, which gets the rest of its
/// arguments here), the sockwire clients are threads. Every wait bounded;
/// panics when a phase does not finish in time.
pub fn run(server: SocketAddr, mut fleet: Command, plan: Plan) -> Outcome {
    let started = Instant::now();
    let proxy = Proxy::start(server, plan.chaos, plan.seed);
    fleet
        .args(["--url", &proxy.url()])
        .args(["--conns", &plan.node_clients.to_string()])
        .args(["--send-url", &format!("http://{server}")])
        .args(["--events", &plan.events.to_string()])
        .args(["--interval", &plan.interval_ms.to_string()])
        .args(["--settle", &plan.settle_ms.to_string()])
        .args(["--stats", if plan.stats { "1" } else { "0" }]);
    let mut fleet = Fleet::spawn(fleet);
    let joined = Arc::new(AtomicUsize::new(0));
    let ours: Vec<SockwireClient> = (0..plan.sockwire_clients)
        .map(|_| SockwireClient::start(&proxy.url(), &joined))
        .collect();
    let connect_time =
        Duration::from_secs(30 + (plan.node_clients + plan.sockwire_clients) as u64 / 20);
    fleet.wait_for("READY", connect_time);
    let deadline = Instant::now() + connect_time;
    while joined.load(Ordering::Relaxed) < plan.sockwire_clients {
        assert!(
            Instant::now() < deadline,
            "the sockwire clients did not all join"
        );
        thread::sleep(Duration::from_millis(20));
    }
    proxy.set_chaos(true);
    fleet.say("GO");
    let sending = Duration::from_millis(plan.events * plan.interval_ms);
    fleet.wait_for("SENT", sending + Duration::from_secs(60));
    proxy.set_chaos(false);
    // The fleet reports `settle_ms` after SENT; the sockwire clients have as
    // long, then stop.
    let settled = Instant::now() + Duration::from_millis(plan.settle_ms);
    let mut out = Outcome::default();
    let mut node = Vec::new();
    let deadline = settled + Duration::from_secs(60);
    loop {
        let line = fleet.line(deadline, "report");
        if line.contains(r#""done":true"#) {
            break;
        }
        if let Some(stats) = line.strip_prefix(r#"{"stats":"#) {
            out.stats = stats
                .strip_suffix('}')
                .filter(|s| *s != "null")
                .map(String::from);
            continue;
        }
        let Some(list) = json_field(&line, "seqs") else {
            continue;
        };
        let list = list.trim_start_matches('[').trim_end_matches(']');
        let seqs: Vec<u64> = list.split(',').filter_map(|n| n.parse().ok()).collect();
        out.node_recovered += json_field(&line, "recovered").map_or(0, |n| n.parse().unwrap_or(0));
        node.push(Tally::of(&seqs, plan.events));
    }
    thread::sleep(settled.saturating_duration_since(Instant::now()));
    for c in &ours {
        c.stop();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sockwire = Vec::new();
    for c in ours {
        let (seqs, recovered) = c.finish(deadline);
        out.sockwire_recovered += recovered as u64;
        sockwire.push(Tally::of(&seqs, plan.events));
    }
    out.node = Summary::of(&node, plan.events);
    out.sockwire = Summary::of(&sockwire, plan.events);
    out.accepted = proxy.accepted.load(Ordering::Relaxed);
    out.cuts = proxy.cuts.load(Ordering::Relaxed);
    out.silent_cuts = proxy.silent_cuts.load(Ordering::Relaxed);
    out.secs = started.elapsed().as_secs_f64();
    out
}
