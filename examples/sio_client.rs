//! A command-line Socket.IO v5 client like `wscat`, over the crate's
//! blocking client (`socketio::blocking::Client`), with no other crate.
//!
//! ```text
//! cargo run --example sio_client -- URL [--nsp NSP]... [--auth JSON] [--transport websocket|polling|both]
//!     [--deflate] [--timeout MS] [--reconnection-attempts N] [--wait SECONDS]
//! cargo run --example sio_client -- --demo [HOST:PORT] [--transport ...] [--deflate]
//! ```
//!
//! It connects to any address given (URL `http://HOST:PORT/PATH`,
//! `ws://...` or `HOST:PORT`), joins every `--nsp` (default `/`) with the
//! `--auth` object, prints every event received as one JSON line on stdout
//! (`{"nsp":"/","event":"e","args":[...],"ack":1}`, binary attachments as
//! `{"base64":"..."}`; connections, disconnections and reconnection
//! attempts too) and runs each stdin line as a command (`[@NSP] EVENT
//! [ARGS]`, `[@NSP] call EVENT [ARGS]`, `[@NSP] ack ID [ARGS]`, ARGS a JSON
//! array). It exits 0 at the end of stdin, 1 with the typed error on a
//! fatal one (`engineio::Error::NotEngineIo`, reconnection given up, every
//! namespace refused), 2 on a usage error.
//!
//! The demo (`--demo`; `--polling` and `--polling-only` still work) joins
//! `/`, emits `message` and prints the `message-back` the reference test
//! server (`tests/peers/sio_server.mjs`, or `examples/sio_server.rs`)
//! answers with.
//!
//! Every transport detail (connections, polling requests, the upgrade,
//! reconnection) is the crate's; this file is the command line only.
//! Tests include it with `#[path = "../examples/sio_client.rs"] mod sio_client;`.

use std::io::{self, ErrorKind, Write};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use sockwire::engineio::{self, ClientCloseReason};
use sockwire::socketio::DisconnectReason;
pub use sockwire::socketio::blocking::OwnedMessage;
use sockwire::socketio::blocking::{Client, Event, Options as ClientOptions, Transports};
use sockwire::time::Duration;

/// The longest a wait for an event lasts, so stdin lines are taken often.
const MAX_WAIT: StdDuration = StdDuration::from_millis(20);

/// How every transport starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// WebSocket.
    WebSocket,
    /// HTTP long-polling (upgraded when `Options::upgrade`).
    Polling,
}

/// Splits `URL` into `HOST:PORT` and the Engine.IO path
/// (`socketio::blocking::parse_url`).
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    sockwire::socketio::blocking::parse_url(url).map(|u| (u.addr, u.path))
}

// ---------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------

/// The command line's usage text.
pub const USAGE: &str = "\
usage: sio_client URL [--nsp NSP]... [--auth JSON] [--transport websocket|polling|both]
                      [--deflate] [--timeout MS] [--reconnection-attempts N] [--wait SECONDS]
       sio_client --demo [HOST:PORT] [--transport ...] [--deflate]
URL: http://HOST:PORT/PATH, ws://HOST:PORT/PATH or HOST:PORT (PATH default /socket.io/)
stdin lines: [@NSP] EVENT [ARGS] | [@NSP] call EVENT [ARGS] | [@NSP] ack ID [ARGS]
  (ARGS a JSON array; {\"base64\":\"...\"} in it is sent as a binary attachment)";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `HOST:PORT` (any host).
    pub addr: String,
    /// The Engine.IO path (`/socket.io/`).
    pub path: String,
    /// The namespaces to join, in order (`/` when none given).
    pub namespaces: Vec<String>,
    /// The handshake auth (a JSON object) sent to every namespace.
    pub auth: Option<String>,
    /// How every transport starts.
    pub kind: TransportKind,
    /// On polling: move to WebSocket when the server offers it.
    pub upgrade: bool,
    /// Offer permessage-deflate on every WebSocket.
    pub deflate: bool,
    /// The Engine.IO open timeout (socket.io-client's `timeout`), ms.
    pub timeout_ms: u64,
    /// Reconnection attempts before giving up (`None`: no limit).
    pub reconnection_attempts: Option<u32>,
    /// How long to keep running after stdin ends, ms.
    pub wait_ms: u64,
    /// Run the demo (emit `message`, print `message-back`) instead.
    pub demo: bool,
}

/// Parses the arguments (without the program name). The old demo form
/// `[ADDR] [--polling | --polling-only] [--deflate]` works with `--demo`.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        addr: String::new(),
        path: "/socket.io/".to_owned(),
        namespaces: Vec::new(),
        auth: None,
        kind: TransportKind::Polling,
        upgrade: true,
        deflate: false,
        timeout_ms: 20_000,
        reconnection_attempts: None,
        wait_ms: 0,
        demo: false,
    };
    let mut url = None;
    let mut transport = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--nsp" => {
                let nsp = value()?;
                if !nsp.starts_with('/') {
                    return Err(format!("--nsp {nsp}: a namespace starts with /"));
                }
                o.namespaces.push(nsp);
            }
            "--auth" => {
                let auth = value()?;
                sockwire::json::validate(&auth, sockwire::json::MAX_DEPTH)
                    .map_err(|e| format!("--auth: {e}"))?;
                if sockwire::json::kind(&auth) != Some(sockwire::json::Kind::Object) {
                    return Err("--auth: the auth is a JSON object".into());
                }
                o.auth = Some(auth);
            }
            "--transport" => {
                transport = Some(match value()?.as_str() {
                    "websocket" => (TransportKind::WebSocket, true),
                    "polling" => (TransportKind::Polling, false),
                    "both" => (TransportKind::Polling, true),
                    t => return Err(format!("--transport {t}: websocket, polling or both")),
                })
            }
            // The demo's old spellings.
            "--polling" => transport = Some((TransportKind::Polling, true)),
            "--polling-only" => transport = Some((TransportKind::Polling, false)),
            "--deflate" => o.deflate = true,
            "--demo" => o.demo = true,
            "--timeout" => {
                o.timeout_ms = value()?
                    .parse()
                    .map_err(|_| "--timeout needs a number of milliseconds".to_owned())?
            }
            "--reconnection-attempts" => {
                o.reconnection_attempts = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--reconnection-attempts needs a number".to_owned())?,
                )
            }
            "--wait" => {
                let s: f64 = value()?
                    .parse()
                    .map_err(|_| "--wait needs a number of seconds".to_owned())?;
                if !(0.0..=86_400.0).contains(&s) {
                    return Err("--wait: 0 to 86400 seconds".into());
                }
                o.wait_ms = (s * 1000.0) as u64;
            }
            "-h" | "--help" => return Err(String::new()),
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ if url.is_some() => return Err(format!("one URL only ({a})")),
            _ => url = Some(a.clone()),
        }
    }
    match url {
        Some(u) => (o.addr, o.path) = parse_url(&u)?,
        None if o.demo => o.addr = "127.0.0.1:3000".into(),
        None => return Err("no URL".into()),
    }
    // The demo starts on WebSocket, as it always did; the client on
    // polling then WebSocket, socket.io-client's default transports.
    (o.kind, o.upgrade) = transport.unwrap_or(if o.demo {
        (TransportKind::WebSocket, true)
    } else {
        (TransportKind::Polling, true)
    });
    if o.namespaces.is_empty() {
        o.namespaces.push("/".into());
    }
    Ok(o)
}

/// A line typed on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Emit `event` on `nsp` (`None`: the first namespace), asking for an
    /// ack when `with_ack`.
    Emit {
        nsp: Option<String>,
        event: String,
        /// The arguments, raw JSON comma separated (placeholders for the
        /// attachments).
        args: String,
        attachments: Vec<Vec<u8>>,
        with_ack: bool,
    },
    /// Answer the server's event `id`.
    Ack {
        nsp: Option<String>,
        id: u64,
        args: String,
        attachments: Vec<Vec<u8>>,
    },
}

/// Splits the first word (up to a space) off `s`.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// Parses one stdin line: `[@NSP] EVENT [ARGS]`, `[@NSP] call EVENT
/// [ARGS]` or `[@NSP] ack ID [ARGS]`; EVENT is a word or a JSON string
/// (`"ack"` emits an event named ack), ARGS a JSON array in which
/// `{"base64":"..."}` is a binary attachment. `Ok(None)` for a blank line
/// or a `#` comment.
pub fn parse_line(line: &str) -> Result<Option<Command>, String> {
    let mut rest = line.trim();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let mut nsp = None;
    if rest.starts_with('@') {
        let (w, r) = word(rest);
        let n = &w[1..];
        if !n.starts_with('/') {
            return Err(format!("{w}: a namespace starts with /"));
        }
        nsp = Some(n.to_owned());
        rest = r;
    }
    let (w, after) = word(rest);
    if w == "ack" {
        let (id, args) = word(after);
        let id = id
            .parse()
            .map_err(|_| format!("ack {id:?}: the id is a number"))?;
        let (args, attachments) = parse_args_array(args)?;
        return Ok(Some(Command::Ack {
            nsp,
            id,
            args,
            attachments,
        }));
    }
    let (with_ack, rest) = if w == "call" {
        (true, after)
    } else {
        (false, rest)
    };
    let (event, args) = event_name(rest)?;
    let (args, attachments) = parse_args_array(args)?;
    Ok(Some(Command::Emit {
        nsp,
        event,
        args,
        attachments,
        with_ack,
    }))
}

/// The event name at the start of `s` (a word or a JSON string) and the
/// rest.
fn event_name(s: &str) -> Result<(String, &str), String> {
    let s = s.trim_start();
    if !s.starts_with('"') {
        let (w, rest) = word(s);
        if w.is_empty() {
            return Err("no event name".into());
        }
        return Ok((w.to_owned(), rest));
    }
    // The closing quote: the first `"` not escaped.
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    if i >= b.len() {
        return Err("the event name's string is not closed".into());
    }
    let raw = &s[..=i];
    sockwire::json::validate(raw, 1).map_err(|e| format!("event name {raw}: {e}"))?;
    let mut out = vec![0u8; raw.len()];
    let name = sockwire::json::unescape(raw, &mut out)
        .map_err(|e| format!("event name {raw}: {e}"))?
        .to_owned();
    Ok((name, s[i + 1..].trim_start()))
}

/// ARGS as typed (a JSON array, or nothing) into the raw arguments, comma
/// separated, with `{"base64":"..."}` objects turned into placeholders for
/// the attachments returned.
pub fn parse_args_array(args: &str) -> Result<(String, Vec<Vec<u8>>), String> {
    use sockwire::json;
    let args = args.trim();
    if args.is_empty() {
        return Ok((String::new(), Vec::new()));
    }
    json::validate(args, json::MAX_DEPTH).map_err(|e| format!("ARGS: {e}"))?;
    if json::kind(args) != Some(json::Kind::Array) {
        return Err("ARGS: a JSON array of the arguments, e.g. [\"x\",{\"a\":1}]".into());
    }
    let mut attachments = Vec::new();
    let mut error = None;
    let mut to_placeholder = |obj: &str| {
        let mut m = json::members(obj);
        let (Some((k, v)), None) = (m.next(), m.next()) else {
            return None;
        };
        if !json::str_eq(k, "base64") || json::kind(v) != Some(json::Kind::String) {
            return None;
        }
        let inner = &v[1..v.len() - 1];
        match base64::Engine::decode(&base64::engine::general_purpose::STANDARD, inner) {
            Ok(bytes) => {
                attachments.push(bytes);
                Some(format!(
                    r#"{{"_placeholder":true,"num":{}}}"#,
                    attachments.len() - 1
                ))
            }
            Err(e) => {
                error.get_or_insert(format!("{v}: not base64: {e}"));
                None
            }
        }
    };
    let mut out = String::new();
    for (i, e) in json::elements(args).enumerate() {
        if i > 0 {
            out.push(',');
        }
        rewrite_json(e, &mut to_placeholder, &mut out);
    }
    match error {
        Some(e) => Err(e),
        None => Ok((out, attachments)),
    }
}

/// Copies the JSON value `raw` into `out` without whitespace, each object
/// replaced by what `object` returns for it when `Some`.
fn rewrite_json(raw: &str, object: &mut dyn FnMut(&str) -> Option<String>, out: &mut String) {
    use sockwire::json;
    match json::kind(raw) {
        Some(json::Kind::Array) => {
            out.push('[');
            for (i, e) in json::elements(raw).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                rewrite_json(e, object, out);
            }
            out.push(']');
        }
        Some(json::Kind::Object) => {
            if let Some(replaced) = object(raw) {
                out.push_str(&replaced);
                return;
            }
            out.push('{');
            for (i, (k, v)) in json::members(raw).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push(':');
                rewrite_json(v, object, out);
            }
            out.push('}');
        }
        _ => out.push_str(raw.trim()),
    }
}

/// `s` as a JSON string, quoted and escaped.
pub fn json_string(s: &str) -> String {
    let mut out = vec![0u8; sockwire::json::str_len(s)];
    let n = sockwire::json::write_str(s, &mut out).expect("sized by str_len");
    out.truncate(n);
    String::from_utf8(out).expect("JSON text is UTF-8")
}

/// The arguments of `m` as a JSON array on one line, every attachment
/// placeholder replaced by `{"base64":"..."}`.
pub fn args_json(m: &OwnedMessage) -> String {
    use sockwire::json;
    let mut to_base64 = |obj: &str| {
        let is_placeholder = json::get(obj, "_placeholder").is_some_and(|v| v.trim() == "true");
        let n = json::get(obj, "num").and_then(json::as_u64)?;
        let bytes = m.attachments.get(usize::try_from(n).ok()?)?;
        is_placeholder.then(|| {
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
            format!(r#"{{"base64":"{b64}"}}"#)
        })
    };
    let mut out = String::from("[");
    for (i, a) in m.arg_list().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        rewrite_json(a, &mut to_base64, &mut out);
    }
    out.push(']');
    out
}

/// The JSON line of an event from the server:
/// `{"nsp":"/","event":"name","args":[...]}`, with `"ack":ID` when the
/// server asked for an ack.
pub fn event_line(m: &OwnedMessage) -> String {
    // The name as the server wrote it (a JSON string, escapes kept).
    let name = match sockwire::json::elements(&m.data).next() {
        Some(raw) if sockwire::json::kind(raw) == Some(sockwire::json::Kind::String) => {
            raw.trim().to_owned()
        }
        _ => json_string(m.name.as_deref().unwrap_or("")),
    };
    let mut line = format!(
        r#"{{"nsp":{},"event":{name},"args":{}"#,
        json_string(&m.nsp),
        args_json(m)
    );
    if let Some(id) = m.ack_id {
        line.push_str(&format!(r#","ack":{id}"#));
    }
    line.push('}');
    line
}

/// The reference client's words for why a namespace lost its connection.
pub fn reason_str(reason: DisconnectReason) -> String {
    match reason {
        DisconnectReason::ServerDisconnect => "io server disconnect".into(),
        DisconnectReason::ClientDisconnect => "io client disconnect".into(),
        DisconnectReason::TransportClosed(r) => match r {
            ClientCloseReason::ServerClose | ClientCloseReason::TransportClose => {
                "transport close".into()
            }
            ClientCloseReason::PingTimeout => "ping timeout".into(),
            ClientCloseReason::ForcedClose => "forced close".into(),
            ClientCloseReason::OpenTimeout => "open timeout".into(),
            ClientCloseReason::Error(e) => format!("transport error: {e}"),
            other => format!("{other:?}"),
        },
        DisconnectReason::ParseError(e) => format!("parse error: {e}"),
        other => format!("{other:?}"),
    }
}

/// Why the command line client stopped with a failure.
#[derive(Debug)]
pub enum CliError {
    /// The address could not be resolved, or writing the output failed.
    Io(io::Error),
    /// An error no retry mends ([`engineio::Error::NotEngineIo`]).
    Fatal(engineio::Error),
    /// Reconnection gave up; the last connection failure, if known.
    ReconnectFailed(Option<String>),
    /// The server refused every namespace (the last one's data).
    Refused { nsp: String, data: String },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Io(e) => write!(f, "{e}"),
            CliError::Fatal(e) => write!(f, "fatal: engineio::Error::{e:?}: {e}"),
            CliError::ReconnectFailed(Some(last)) => {
                write!(f, "reconnection failed (last attempt: {last})")
            }
            CliError::ReconnectFailed(None) => f.write_str("reconnection failed"),
            CliError::Refused { nsp, data } => {
                write!(f, "every namespace was refused ({nsp}: {data})")
            }
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Io(e)
    }
}

/// Sends the lines of `input` over a channel from a thread; the channel
/// closes at the end of the input.
pub fn spawn_reader<R: io::BufRead + Send + 'static>(
    input: R,
) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in input.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The command line client: connects as `o` says, prints every event as a
/// JSON line on `out` and diagnostics on `err`, and runs the commands
/// received on `input` until it closes (then waits `o.wait_ms`, leaves and
/// returns `Ok`) or a fatal error.
pub fn run_cli(
    o: &Options,
    input: std::sync::mpsc::Receiver<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    use std::sync::mpsc::TryRecvError;
    let client = Client::connect(&format!("http://{}{}", o.addr, o.path), client_options(o))
        .map_err(|e| CliError::Io(io::Error::other(e.to_string())))?;
    let mut st = CliState {
        live: o.namespaces.clone(),
        last_failure: None,
        asked: Vec::new(),
    };
    let mut end: Option<StdInstant> = None;
    loop {
        while end.is_none() {
            match input.try_recv() {
                Ok(line) => run_line(&client, &mut st, &o.namespaces[0], &line, err)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    end = Some(StdInstant::now() + StdDuration::from_millis(o.wait_ms))
                }
            }
        }
        if end.is_some_and(|t| StdInstant::now() >= t) {
            for nsp in &st.live {
                let _ = client.leave(nsp);
            }
            while let Some(e) = client.next_event(StdDuration::from_millis(50)) {
                print_event(e, &mut st, out, err)?;
            }
            client.close();
            out.flush()?;
            return Ok(());
        }
        if let Some(e) = client.next_event(MAX_WAIT) {
            print_event(e, &mut st, out, err)?;
            out.flush()?;
        }
    }
}

/// The blocking client's options for `o`.
pub fn client_options(o: &Options) -> ClientOptions {
    let transports = match (o.kind, o.upgrade) {
        (TransportKind::WebSocket, _) => Transports::WebSocket,
        (TransportKind::Polling, true) => Transports::Both,
        (TransportKind::Polling, false) => Transports::Polling,
    };
    let mut c = ClientOptions::default().transports(transports);
    c.engine.open_timeout = Duration::from_millis(o.timeout_ms);
    c.engine.per_message_deflate = o.deflate.then_some(engineio::PerMessageDeflate::DEFAULT);
    c.socket.reconnection_attempts = o.reconnection_attempts.unwrap_or(u32::MAX);
    for nsp in &o.namespaces {
        c = c.namespace(nsp, o.auth.as_deref());
    }
    c
}

/// What the command line client keeps between events.
struct CliState {
    /// Namespaces not refused (yet).
    live: Vec<String>,
    /// The last connection failure.
    last_failure: Option<String>,
    /// The server's events waiting for an ack: id and namespace.
    asked: Vec<(u64, String)>,
}

/// Runs one stdin line; a bad one is reported on `err`.
fn run_line(
    client: &Client,
    st: &mut CliState,
    first: &str,
    line: &str,
    err: &mut dyn Write,
) -> io::Result<()> {
    let result = match parse_line(line) {
        Ok(None) => return Ok(()),
        Ok(Some(Command::Emit {
            nsp,
            event,
            args,
            attachments,
            with_ack,
        })) => {
            let nsp = nsp.as_deref().unwrap_or(first);
            let atts: Vec<&[u8]> = attachments.iter().map(Vec::as_slice).collect();
            if with_ack {
                client
                    .emit_with_ack_id(nsp, &event, &args, &atts, None)
                    .map(|id| {
                        let _ = writeln!(err, "sio_client: {event} sent, ack id {id}");
                    })
            } else {
                client.emit_binary(nsp, &event, &args, &atts)
            }
            .map_err(|e| format!("emit {event}: {e}"))
        }
        Ok(Some(Command::Ack {
            nsp,
            id,
            args,
            attachments,
        })) => {
            // The namespace of the event that asked, unless given.
            let asked = st.asked.iter().position(|(i, _)| *i == id);
            let asked = asked.map(|i| st.asked.remove(i).1);
            let nsp = nsp.as_deref().or(asked.as_deref()).unwrap_or(first);
            let atts: Vec<&[u8]> = attachments.iter().map(Vec::as_slice).collect();
            client
                .ack(nsp, id, &args, &atts)
                .map_err(|e| format!("ack {id}: {e}"))
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        writeln!(err, "sio_client: {e}")?;
    }
    Ok(())
}

/// Prints one event: a JSON line on `out` for what the application sees,
/// a line on `err` for the transport; fatal ones end the client.
fn print_event(
    e: Event,
    st: &mut CliState,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    match e {
        Event::Message(m) => {
            if let Some(id) = m.ack_id {
                if st.asked.len() >= 1024 {
                    st.asked.remove(0);
                }
                st.asked.push((id, m.nsp.clone()));
            }
            writeln!(out, "{}", event_line(&m))?
        }
        Event::Ack(m) => writeln!(
            out,
            r#"{{"nsp":{},"ack_response":{},"args":{}}}"#,
            json_string(&m.nsp),
            m.ack_id.unwrap_or(0),
            args_json(&m)
        )?,
        Event::Connect {
            nsp,
            sid,
            recovered,
        } => {
            let recovered = if recovered {
                r#","recovered":true"#
            } else {
                ""
            };
            writeln!(
                out,
                r#"{{"nsp":{},"connected":{}{recovered}}}"#,
                json_string(&nsp),
                json_string(&sid)
            )?
        }
        Event::ConnectError { nsp, data } => {
            let mut data_line = String::new();
            rewrite_json(&data, &mut |_| None, &mut data_line);
            writeln!(
                out,
                r#"{{"nsp":{},"connect_error":{data_line}}}"#,
                json_string(&nsp)
            )?;
            st.live.retain(|n| *n != nsp);
            if st.live.is_empty() {
                out.flush()?;
                return Err(CliError::Refused {
                    nsp,
                    data: data_line,
                });
            }
        }
        Event::Disconnect { nsp } => writeln!(
            out,
            r#"{{"nsp":{},"disconnected":"io server disconnect"}}"#,
            json_string(&nsp)
        )?,
        Event::Disconnected { nsp, reason } => {
            // The server's DISCONNECT was printed as it came.
            if reason != DisconnectReason::ServerDisconnect {
                writeln!(
                    out,
                    r#"{{"nsp":{},"disconnected":{}}}"#,
                    json_string(&nsp),
                    json_string(&reason_str(reason))
                )?
            }
        }
        Event::Reconnecting { attempt } => writeln!(out, r#"{{"reconnect_attempt":{attempt}}}"#)?,
        Event::ReconnectFailed => {
            writeln!(out, r#"{{"reconnect_failed":true}}"#)?;
            out.flush()?;
            return Err(CliError::ReconnectFailed(st.last_failure.take()));
        }
        Event::AckTimeout(id) => writeln!(out, r#"{{"ack_timeout":{id}}}"#)?,
        Event::TransportOpen { sid, transport } => writeln!(
            err,
            "sio_client: Engine.IO session {sid} open on {transport:?}"
        )?,
        Event::TransportClosed(r) => {
            writeln!(err, "sio_client: Engine.IO session closed: {r:?}")?;
            st.last_failure = Some(format!("{r:?}"));
        }
        Event::Upgraded => writeln!(err, "sio_client: upgraded to websocket")?,
        Event::UpgradeFailed => writeln!(err, "sio_client: upgrade failed, staying on polling")?,
        Event::Fatal(e) => {
            writeln!(err, "sio_client: {e}")?;
            out.flush()?;
            return Err(CliError::Fatal(e));
        }
        other => writeln!(err, "sio_client: {other:?}")?,
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return;
            }
            eprintln!("sio_client: {e}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if o.demo {
        if let Err(e) = demo(&o.addr, o.kind, o.upgrade, o.deflate) {
            eprintln!("sio_client: {e}");
            std::process::exit(1);
        }
        return;
    }
    let input = spawn_reader(io::BufReader::new(io::stdin()));
    let (mut out, mut err) = (io::stdout(), io::stderr());
    if let Err(e) = run_cli(&o, input, &mut out, &mut err) {
        eprintln!("sio_client: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

/// The demo (`--demo`): joins `/`, emits `message` and prints the
/// `message-back` that the reference test server answers with.
pub fn demo(addr: &str, kind: TransportKind, upgrade: bool, deflate: bool) -> io::Result<()> {
    let o = Options {
        addr: addr.to_owned(),
        kind,
        upgrade,
        deflate,
        namespaces: vec!["/".into()],
        ..parse_args(&["--demo".into()]).map_err(io::Error::other)?
    };
    let client = Client::connect(&format!("http://{}{}", o.addr, o.path), client_options(&o))
        .map_err(io::Error::other)?;
    let step = StdDuration::from_secs(10);
    let timed_out = |what: &str| io::Error::new(ErrorKind::TimedOut, format!("no {what}"));
    loop {
        match client
            .next_event(step)
            .ok_or_else(|| timed_out("connection"))?
        {
            Event::Connect { nsp, sid, .. } if nsp == "/" => {
                println!("connected to / as {sid}");
                break;
            }
            Event::ConnectError { nsp, data } => {
                return Err(io::Error::other(format!("refused: {nsp}: {data}")));
            }
            Event::Fatal(e) => return Err(io::Error::other(e)),
            other => println!("{other:?}"),
        }
    }
    client
        .emit("/", "message", r#""hello from sockwire",1,{"two":2}"#)
        .map_err(io::Error::other)?;
    loop {
        match client
            .next_event(step)
            .ok_or_else(|| timed_out("message-back"))?
        {
            Event::Message(m) if m.name.as_deref() == Some("message-back") => {
                println!("message-back: [{}]", m.args);
                break;
            }
            other => println!("{other:?}"),
        }
    }
    client.close();
    Ok(())
}
