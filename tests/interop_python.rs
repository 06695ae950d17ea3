//! Interop with Python's `websockets` 17 (tests/peers/*.py), both roles.
//!
//! Needs `bash tests/scripts/setup-peers.sh` (the venv in `<repo>/.venv`);
//! fails, never skips, when that was not run.

mod common;

use common::peers;

/// sockwire as server, `websockets` as client (`ws_client.py`).
#[test]
fn python_websockets_client_against_sockwire_server() {
    peers::run_server_scenario("python ws_client.py", |url| {
        let mut cmd = peers::python_command("ws_client.py");
        cmd.arg(url);
        cmd
    });
}

/// sockwire as client, `websockets` as server (`ws_server.py`).
#[test]
fn sockwire_client_against_python_websockets_server() {
    let mut cmd = peers::python_command("ws_server.py");
    cmd.args(["--expect-close", "1000"]);
    peers::run_client_against("python ws_server.py", cmd);
}
