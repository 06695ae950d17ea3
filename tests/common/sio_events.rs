//! Waiting for the events of a `socketio::blocking::Client`, bounded in
//! time, for the Socket.IO interop tests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use sockwire::socketio::blocking::{Client, Event, OwnedMessage};

/// How long [`until`] waits.
pub const WAIT: Duration = Duration::from_secs(10);

/// Events until `pred` holds for one (returned with all before it), within
/// [`WAIT`]; panics naming `what` and what was seen otherwise.
pub fn until(c: &Client, what: &str, pred: impl Fn(&Event) -> bool) -> (Event, Vec<Event>) {
    let end = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < end {
        if let Some(e) = c.next_event(Duration::from_millis(100)) {
            if pred(&e) {
                return (e, seen);
            }
            seen.push(e);
        }
    }
    panic!("no {what} within {WAIT:?}; saw {seen:?}");
}

/// Waits for the connection to `nsp`: its socket id, whether it was
/// recovered, and the events before it.
pub fn connected(c: &Client, nsp: &str) -> (String, bool, Vec<Event>) {
    match until(
        c,
        &format!("connect to {nsp}"),
        |e| matches!(e, Event::Connect { nsp: n, .. } if n == nsp),
    ) {
        (Event::Connect { sid, recovered, .. }, seen) => (sid, recovered, seen),
        _ => unreachable!(),
    }
}

/// Waits for the event `name`, on any namespace.
pub fn message(c: &Client, name: &str) -> OwnedMessage {
    match until(
        c,
        name,
        |e| matches!(e, Event::Message(m) if m.name.as_deref() == Some(name)),
    ) {
        (Event::Message(m), _) => m,
        _ => unreachable!(),
    }
}

/// A client started on polling (connecting to "/"): it opens on polling,
/// upgrades, and events still flow after the upgrade (`message` echoed as
/// `message-back`, the reference test-server contract).
pub fn upgrades_from_polling(c: &Client) {
    let (_, _, mut seen) = connected(c, "/");
    let (_, more) = until(c, "upgrade", |e| matches!(e, Event::Upgraded));
    seen.extend(more);
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::TransportOpen {
                transport: sockwire::engineio::Transport::Polling,
                ..
            }
        )),
        "{seen:?}"
    );
    c.emit("/", "message", r#""after""#).unwrap();
    assert_eq!(message(c, "message-back").args, r#""after""#);
}

/// Acks both ways on "/" (the reference test-server contract): one the
/// client asks for (`message-with-ack`, answered with its arguments), then
/// one the server asks for (`ask` -> `question`, answered with `ack_args`
/// and `attachments`); returns the server's `answer`.
pub fn acks_both_ways(c: &Client, ack_args: &str, attachments: &[&[u8]]) -> OwnedMessage {
    let ack = c
        .emit_with_ack("/", "message-with-ack", r#""a",2"#, Duration::from_secs(5))
        .unwrap();
    assert_eq!(ack.args, r#""a",2"#);
    c.emit("/", "ask", r#""q",3"#).unwrap();
    let q = message(c, "question");
    assert_eq!(q.args, r#""q",3"#);
    let id = q.ack_id.expect("the server asks for an ack");
    c.ack("/", id, ack_args, attachments).unwrap();
    message(c, "answer")
}
