//! sockwire clients in a mixed cluster: the command-line client of
//! `examples/sio_client.rs` (`run_cli`, in process) on a Node node
//! (`socket.io` 4.8 + `@socket.io/redis-adapter` 8.3) and on a sockwire node
//! (`examples/sio_server.rs --redis`), one real Redis. Broadcasts each client
//! asks its server for (to a room with a binary attachment, to all, to a
//! room except a socket id, to a socket id) reach the clients of both nodes
//! exactly once; a `serverSideEmit` from each server reaches the other.

#[path = "../examples/sio_client.rs"]
#[allow(dead_code)]
mod sio_client;

#[path = "../examples/sio_server.rs"]
#[allow(dead_code)]
mod sio_server;

mod common;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::peers::{Peer, ServerThread, node_with_modules};
use common::redis::RedisServer;

const MODULES: &[&str] = &["socket.io", "@socket.io/redis-adapter", "redis"];

/// What a client printed, shared with the test.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Printed {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(String::from)
            .collect()
    }

    /// Waits up to 10 s for a line satisfying `f`; returns it.
    fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| f(l)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}; printed {:#?}",
                self.lines()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A `run_cli` client of `url` on a thread: its stdin and what it prints.
struct Client {
    stdin: Sender<String>,
    out: Printed,
    sid: String,
}

impl Client {
    fn start(url: &str) -> Client {
        let args: Vec<String> = [url, "--transport", "websocket"].map(String::from).into();
        let o = sio_client::parse_args(&args).expect("arguments");
        let (stdin, input) = mpsc::channel();
        let out = Printed::default();
        let (mut o_out, mut o_err) = (out.clone(), io::sink());
        thread::spawn(move || sio_client::run_cli(&o, input, &mut o_out, &mut o_err));
        let connected = out.wait("connection", |l| {
            l.starts_with(r#"{"nsp":"/","connected":""#)
        });
        let sid = connected
            .split('"')
            .nth(7)
            .expect("a socket id")
            .to_string();
        Client { stdin, out, sid }
    }

    fn send(&self, line: &str) {
        self.stdin.send(line.into()).unwrap();
    }

    /// How many times `event_line` was printed.
    fn count(&self, event_line: &str) -> usize {
        self.out.lines().iter().filter(|l| *l == event_line).count()
    }
}

#[test]
fn sockwire_clients_on_both_node_kinds() {
    let redis = RedisServer::start();
    let addr = SocketAddr::from(([127, 0, 0, 1], redis.port));
    let server = ServerThread::start("sio_server", move |l, stop| {
        sio_server::serve_redis(l, stop, addr)
    });
    let mut cmd = node_with_modules("sio_server.mjs", MODULES);
    cmd.args(["0", "--redis", &redis.port.to_string()]);
    let mut node = Peer::spawn("sio_server.mjs --redis", cmd);
    let node_port = node.wait_listening(Duration::from_secs(15));
    // Both nodes subscribed: a probe reaches two receivers.
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.publish(b"socket.io#/#nobody#", b"\x90") < 2 {
        assert!(Instant::now() < deadline, "the nodes did not subscribe");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(300));

    let on_node = Client::start(&format!("http://127.0.0.1:{node_port}/socket.io/"));
    let on_sockwire = Client::start(&format!("{}/socket.io/", server.base_url()));
    for c in [&on_node, &on_sockwire] {
        c.send(r#"call join ["red"]"#);
        c.out.wait("the join ack", |l| l.contains("ack_response"));
    }
    let expect = |line: &str, on_node_n: usize, on_sockwire_n: usize| {
        let line = format!(r#"{{"nsp":"/","event":"broadcast-back","args":{line}}}"#);
        if on_node_n > 0 {
            on_node.out.wait(&line, |l| l == line);
        }
        if on_sockwire_n > 0 {
            on_sockwire.out.wait(&line, |l| l == line);
        }
        (line, on_node_n, on_sockwire_n)
    };
    let mut checks = Vec::new();
    on_node.send(r#"broadcast ["red","from-node",{"base64":"AAECAw=="}]"#);
    checks.push(expect(r#"["from-node",{"base64":"AAECAw=="}]"#, 1, 1));
    on_sockwire.send(r#"broadcast [null,"from-sockwire",{"base64":"/w=="}]"#);
    checks.push(expect(r#"["from-sockwire",{"base64":"/w=="}]"#, 1, 1));
    on_sockwire.send(&format!(
        r#"broadcast [{{"rooms":["red"],"except":["{}"]}},"not-on-node"]"#,
        on_node.sid
    ));
    checks.push(expect(r#"["not-on-node"]"#, 0, 1));
    on_node.send(&format!(
        r#"broadcast [{{"rooms":["red"],"except":["{}"]}},"not-on-sockwire"]"#,
        on_sockwire.sid
    ));
    checks.push(expect(r#"["not-on-sockwire"]"#, 1, 0));
    // A private message to the other node's socket, by its id.
    on_node.send(&format!(r#"broadcast ["{}","private"]"#, on_sockwire.sid));
    checks.push(expect(r#"["private"]"#, 0, 1));

    // serverSideEmit: each server relays the other's event to its own
    // clients; the sender's server does not get its own.
    on_node.send(r#"call server-side-emit ["from-node",{"n":1}]"#);
    on_sockwire.out.wait("relayed", |l| {
        l.contains(r#""relayed","args":["from-node""#)
    });
    on_sockwire.send(r#"call server-side-emit ["from-sockwire"]"#);
    on_node.out.wait("relayed", |l| {
        l.contains(r#""relayed","args":["from-sockwire""#)
    });
    let relayed = |args: &str| format!(r#"{{"nsp":"/","event":"relayed","args":{args}}}"#);
    checks.push((relayed(r#"["from-node",{"n":1}]"#), 0, 1));
    checks.push((relayed(r#"["from-sockwire"]"#), 1, 0));

    thread::sleep(Duration::from_millis(500));
    for (line, n, s) in checks {
        assert_eq!(
            (on_node.count(&line), on_sockwire.count(&line)),
            (n, s),
            "{line}\non the Node node: {:#?}\non the sockwire node: {:#?}",
            on_node.out.lines(),
            on_sockwire.out.lines()
        );
    }
    drop(on_node);
    drop(on_sockwire);
    server.finish();
}
