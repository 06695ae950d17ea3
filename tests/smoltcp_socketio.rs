//! Runs `examples/smoltcp_socketio.rs` (a Socket.IO server endpoint without a
//! heap and two Socket.IO clients over smoltcp's loopback device on a virtual
//! clock) under `cargo test`.

#[path = "../examples/smoltcp_socketio.rs"]
mod smoltcp_socketio;

#[test]
fn smoltcp_socketio_example_runs_to_a_clean_close() {
    smoltcp_socketio::run().expect("the smoltcp Socket.IO scenario");
}
