//! Runs the main demo (`cargo run --example demo`) under `cargo test`: the
//! WebSocket part and the Socket.IO part over 127.0.0.1 must complete.

#[path = "../examples/demo.rs"]
mod demo;

#[test]
fn the_main_demo_runs_to_the_end() {
    demo::main().expect("the demo");
}
