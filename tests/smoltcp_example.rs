//! Runs `examples/smoltcp_ws.rs` (a WebSocket client and server over smoltcp's
//! loopback device on a virtual clock) under `cargo test`.

#[path = "../examples/smoltcp_ws.rs"]
mod smoltcp_ws;

#[test]
fn smoltcp_example_runs_to_a_clean_close() {
    smoltcp_ws::run().expect("the smoltcp scenario");
}
