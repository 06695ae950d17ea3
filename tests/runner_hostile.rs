//! Hostile peers on real sockets: `sockwire::runner` (through
//! `examples/eio_echo.rs`) on 127.0.0.1 with shortened deadlines. 1,000
//! connections trickle one byte a second and 1,000 open and say nothing;
//! meanwhile a new client opens a session and exchanges messages, and a
//! connection past the cap is refused with 503. Every hostile connection is
//! closed by its deadline: 408 for a head that started, a close with no bytes
//! for one that sent nothing. Bounded: about 10 s.

#[path = "../examples/eio_echo.rs"]
#[allow(dead_code)]
mod eio_echo;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use sockwire::engineio::Config;
use sockwire::time::Duration as EioDuration;

const HOSTILE: usize = 1000;
const HEAD_TIMEOUT_MS: u64 = 3_000;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One blocking HTTP request on `s`: the status and body.
fn request(s: &mut TcpStream, req: &str) -> (u16, String) {
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before a response to {req:?}");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return (head[9..12].parse().unwrap(), body);
        }
    }
}

/// What a hostile connection saw: its bytes, and whether it was closed.
fn read_until_closed(s: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 512];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn slowloris_and_silent_connections_are_shed_while_a_client_works() {
    let config = Config {
        head_timeout: EioDuration::from_millis(HEAD_TIMEOUT_MS),
        idle_timeout: EioDuration::from_millis(4_000),
        max_connections: 2 * HOSTILE + 2,
        max_sessions: 10,
        ..Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let server = thread::spawn(move || eio_echo::serve(listener, config, &flag));
    let rss_before = rss_kib();

    let started = Instant::now();
    // Opened in batches, so that the listen backlog never overflows.
    let open = |n: usize| -> Vec<TcpStream> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            v.push(TcpStream::connect(addr).unwrap());
            if v.len() % 50 == 0 {
                thread::sleep(Duration::from_millis(5));
            }
        }
        v
    };
    let mut silent = open(HOSTILE);
    let mut trickle = open(HOSTILE);
    for s in silent.iter().chain(&trickle) {
        s.set_nonblocking(true).unwrap();
    }
    // Let the server accept the last ones.
    thread::sleep(Duration::from_millis(200));
    let opened = started.elapsed();
    let head = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    let first_byte = Instant::now();
    let mut second = 0usize;
    let mut client_done = false;
    let mut peak_rss = 0;
    // Trickle one byte a second until the deadline has passed for all.
    while first_byte.elapsed() < Duration::from_millis(HEAD_TIMEOUT_MS + 1_000) {
        for s in &mut trickle {
            let _ = s.write_all(&head[second..second + 1]);
        }
        second += 1;
        if !client_done {
            // A new client: handshake, a message, its echo.
            let mut get = TcpStream::connect(addr).unwrap();
            let mut post = TcpStream::connect(addr).unwrap();
            get.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            post.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let (status, open) = request(&mut get, std::str::from_utf8(head).unwrap());
            assert_eq!(status, 200, "{open}");
            let at = open.find("\"sid\":\"").unwrap() + 7;
            let sid = &open[at..at + 20];
            let body = "4hello";
            let (status, ok) = request(
                &mut post,
                &format!(
                    "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            );
            assert_eq!((status, ok.as_str()), (200, "ok"));
            let (status, echo) = request(
                &mut get,
                &format!(
                    "GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"
                ),
            );
            assert_eq!((status, echo.as_str()), (200, "4hello"));
            // The cap is reached: one more connection is refused with 503.
            let mut extra = TcpStream::connect(addr).unwrap();
            extra
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut refusal = String::new();
            let r = extra.read_to_string(&mut refusal);
            assert!(
                refusal.starts_with("HTTP/1.1 503 "),
                "{refusal:?} {r:?} after {:?} (opened in {opened:?})",
                first_byte.elapsed()
            );
            client_done = true;
            assert!(
                first_byte.elapsed() < Duration::from_millis(HEAD_TIMEOUT_MS),
                "the client took {:?}",
                first_byte.elapsed()
            );
        }
        if second as u64 == HEAD_TIMEOUT_MS / 1000 - 1 {
            // A second before the deadline: none is closed yet.
            for (i, s) in silent.iter_mut().chain(trickle.iter_mut()).enumerate() {
                let mut early = Vec::new();
                assert!(!read_until_closed(s, &mut early), "{i} closed early");
                assert!(early.is_empty(), "{i} got bytes early");
            }
        }
        peak_rss = peak_rss.max(rss_kib());
        // The next second after the first byte.
        let next = first_byte + Duration::from_secs(second as u64);
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    // Every hostile connection is closed by now, or within a moment.
    let give_up = Instant::now() + Duration::from_millis(3_000);
    let mut seen: Vec<Vec<u8>> = vec![Vec::new(); 2 * HOSTILE];
    let mut closed = vec![false; 2 * HOSTILE];
    while closed.iter().any(|c| !c) && Instant::now() < give_up {
        for (i, s) in silent.iter_mut().chain(trickle.iter_mut()).enumerate() {
            if !closed[i] {
                closed[i] = read_until_closed(s, &mut seen[i]);
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    let shed_by = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let rss_growth = peak_rss.saturating_sub(rss_before);
    println!(
        "opened 2,000 in {opened:?}; all shed by {shed_by:?}; RSS {rss_before} KiB before, peak growth {rss_growth} KiB"
    );
    assert_eq!(
        closed.iter().filter(|c| !**c).count(),
        0,
        "hostile connections left open"
    );
    for (i, bytes) in seen[..HOSTILE].iter().enumerate() {
        assert!(
            bytes.is_empty(),
            "silent {i} got {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for (i, bytes) in seen[HOSTILE..].iter().enumerate() {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.starts_with("HTTP/1.1 408 "),
            "trickler {i} got {text:?}"
        );
    }
    // Two threads and a socket per connection, on both sides of the test.
    assert!(rss_growth < 256 * 1024, "RSS grew by {rss_growth} KiB");
    server.join().unwrap().unwrap();
}

/// Past `runner::Options::max_connections` (two threads each), a connection
/// gets a 503 and is closed before the endpoint sees it; the ones held keep
/// working, and a place freed is taken again.
#[test]
fn the_runner_refuses_connections_past_its_thread_budget() {
    use sockwire::runner::{self, Engine, Options};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let options = Options {
        max_connections: 3,
        ..Options::default()
    };
    let server = thread::spawn(move || {
        let mut engine = Engine::new(Config::default(), eio_echo::Echo);
        runner::serve_with(listener, &mut engine, &flag, options)
    });
    let handshake = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for s in &mut held {
        assert_eq!(request(s, handshake).0, 200);
    }
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut seen = Vec::new();
    assert!(read_until_closed(&mut extra, &mut seen), "closed");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    // The held ones still answer; one closed makes room for another.
    assert_eq!(request(&mut held[0], handshake).0, 200);
    drop(held.pop());
    thread::sleep(Duration::from_millis(200));
    let mut again = TcpStream::connect(addr).unwrap();
    assert_eq!(request(&mut again, handshake).0, 200);
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap().unwrap();
}
