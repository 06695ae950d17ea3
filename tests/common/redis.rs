//! A real `redis-server` for the Redis adapter tests: Debian's, started on
//! 127.0.0.1 on a free port with no persistence, killed on drop. A missing
//! `redis-server` fails the test naming `setup-peers.sh`: never a skip.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sockwire::socketio::adapter::resp;

use super::peers::SETUP_HINT;

/// A `redis-server` of this test, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn spawn(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server: {e}; {SETUP_HINT}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server on port {port} accepts no connection within 10 s"
        );
        thread::sleep(Duration::from_millis(10));
    }
    child
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        let port = free_port();
        RedisServer {
            child: Some(spawn(port)),
            port,
        }
    }

    /// Kills it (every client sees its connection close).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn(self.port));
    }

    /// Runs one command on a fresh connection; returns the reply's first
    /// item as an integer, if it is one.
    pub fn command(&self, args: &[&[u8]]) -> Option<i64> {
        self.command_item(args, 0)
    }

    /// Runs one command on a fresh connection; returns the reply's item
    /// `i` as an integer, if it is one.
    pub fn command_item(&self, args: &[&[u8]], i: usize) -> Option<i64> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = vec![0u8; resp::encoded_len(args)];
        let n = resp::encode(args, &mut out).unwrap();
        s.write_all(&out[..n]).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((frame, _)) = resp::parse(&buf, &resp::Limits::DEFAULT).unwrap() {
                return frame.integer(i);
            }
            let n = s.read(&mut chunk).expect("redis reply");
            assert!(n > 0, "redis closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// PUBLISHes `message` on `channel`; returns the receivers' count.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> i64 {
        self.command(&[b"PUBLISH", channel, message])
            .expect("PUBLISH answers an integer")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
