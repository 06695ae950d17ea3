//! Interop with Node's `ws` (tests/peers/*.mjs), both roles.
//!
//! Needs `bash tests/scripts/setup-peers.sh` (node + `npm ci` in tests/peers);
//! fails, never skips, when that was not run.

mod common;

use common::peers;

/// sockwire as server, Node `ws` as client (`ws_client.mjs`).
#[test]
fn node_ws_client_against_sockwire_server() {
    peers::run_server_scenario("node ws_client.mjs", |url| {
        let mut cmd = peers::node_command("ws_client.mjs");
        cmd.arg(url);
        cmd
    });
}

/// sockwire as client, Node `ws` as server (`ws_server.mjs`).
#[test]
fn sockwire_client_against_node_ws_server() {
    let mut cmd = peers::node_command("ws_server.mjs");
    cmd.args(["--expect-close", "1000"]);
    peers::run_client_against("node ws_server.mjs", cmd);
}
