//! The delivery check of connection state recovery: a TCP proxy that cuts
//! its clients' connections at random moments, and the per-client count of
//! what arrived. Std only, so that `tests/bench` includes it too
//! (`#[path]`).
//!
//! The proxy forwards every accepted connection to `upstream`. While chaos
//! is on, each new connection waits a random `0..hold_ms` before it is
//! forwarded (the client is offline that much longer) and lives a random
//! `life_ms`; then it is cut: either both sides at once (the server sees a
//! transport close) or, for `silent_percent` of the cuts, the client side
//! only, the server side left open and silent, so that the server finds the
//! connection dead only at its ping timeout, possibly after the client came
//! back.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
