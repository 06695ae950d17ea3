//! Runs one in-memory workload in a loop, for a profiler:
//!
//!   valgrind --tool=callgrind target/release/prof decode-16KiB-text sockwire 200
//!
//! workloads: unmask-SIZE (bytes), decode-{20B,16KiB}-{text,binary},
//! encode-{20B,16KiB}-{text,binary}, handshake; impls: sockwire, tungstenite,
//! fastwebsockets, embedded-websocket.

use sockwire_bench::drive::*;
use std::hint::black_box;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let (work, imp) = (a[0].as_str(), a[1].as_str());
    let iters: usize = a.get(2).map(|s| s.parse().unwrap()).unwrap_or(1000);
    if let Some(size) = work.strip_prefix("unmask-") {
        let mut buf = sockwire_bench::binary_payload(size.parse().unwrap());
        let mask = [1, 2, 3, 4];
        for _ in 0..iters {
            match imp {
                "sockwire" => sockwire::ws::apply_mask(black_box(&mut buf), mask, 0),
                "fastwebsockets" => fastwebsockets::unmask(black_box(&mut buf), mask),
                _ => panic!("impl"),
            }
        }
        return;
    }
    if work == "handshake" {
        let req = sockwire_bench::CHROME_REQUEST.as_bytes();
        let mut sw = SockwireHandshake::new();
        let mut v = Vec::new();
        let mut o = [0u8; 1024];
        for _ in 0..iters {
            black_box(match imp {
                "sockwire" => sw.run(black_box(req)),
                "tungstenite" => tungstenite_handshake(black_box(req), &mut v),
                "embedded-websocket" => embedded_handshake(black_box(req), &mut o),
                _ => panic!("impl"),
            });
        }
        return;
    }
    let parts: Vec<&str> = work.split('-').collect();
    let len = if parts[1] == "20B" {
        sockwire_bench::SMALL
    } else {
        sockwire_bench::LARGE
    };
    let count = if parts[1] == "20B" {
        sockwire_bench::SMALL_COUNT
    } else {
        sockwire_bench::LARGE_COUNT
    };
    let case = Case::new(parts[2] == "text", len, count);
    let mut run: Box<dyn FnMut() -> usize> = match (parts[0], imp) {
        ("decode", "sockwire") => {
            let mut d = SockwireDecode::new(&case);
            Box::new(move || d.run())
        }
        ("decode", "tungstenite") => {
            let mut d = TungsteniteDecode::new(&case);
            Box::new(move || d.run())
        }
        ("decode", "fastwebsockets") => {
            let mut d = FastwsDecode::new(&case);
            Box::new(move || d.run())
        }
        ("decode", "embedded-websocket") => {
            let mut d = EmbeddedDecode::new(&case);
            Box::new(move || d.run())
        }
        ("encode", "sockwire") => {
            let mut d = SockwireEncode::new(&case);
            Box::new(move || d.run())
        }
        ("encode", "tungstenite") => {
            let mut d = TungsteniteEncode::new(&case);
            Box::new(move || d.run())
        }
        ("encode", "fastwebsockets") => {
            let mut d = FastwsEncode::new(&case);
            Box::new(move || d.run())
        }
        ("encode", "embedded-websocket") => {
            let mut d = EmbeddedEncode::new(&case);
            Box::new(move || d.run())
        }
        _ => panic!("unknown workload/impl"),
    };
    for _ in 0..iters {
        black_box(run());
    }
}
