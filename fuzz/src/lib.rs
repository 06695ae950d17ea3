//! Oracles for sockwire's fuzz targets.
//!
//! Each target in `fuzz_targets/` is a three-line shim calling one function
//! here, so the oracles can also run as ordinary tests over the seed corpus
//! (`cargo test` in `fuzz/`). Every module documents its input format and what
//! it checks beyond "does not panic".

pub mod connection;
pub mod deflate;
pub mod eio_client;
pub mod eio_packet;
pub mod eio_server;
pub mod endpoint;
pub mod frame;
pub mod handshake;
pub mod http_head;
pub mod json;
pub mod reader;
pub mod redis_adapter;
pub mod seeds;
pub mod sio_client;
pub mod sio_client_endpoint;
pub mod sio_common;
pub mod sio_packet;
pub mod sio_seeds;
pub mod sio_server;
pub mod utf8_simd;

pub use connection::{ws_connection_client, ws_connection_server};
pub use deflate::{deflate_roundtrip, inflate_diff, ws_connection_deflate};
pub use eio_client::eio_client;
pub use eio_packet::eio_packet;
pub use eio_server::eio_server;
pub use endpoint::{eio_endpoint, sio_endpoint};
pub use frame::ws_frame_roundtrip;
pub use handshake::{ws_handshake_client, ws_handshake_server};
pub use http_head::http_head;
pub use json::json;
pub use redis_adapter::redis_adapter;
pub use sio_client::sio_client;
pub use sio_client_endpoint::sio_client_endpoint;
pub use sio_packet::sio_packet;
pub use sio_server::sio_server;
pub use utf8_simd::utf8_simd;

/// A target's entry point.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("http_head", http_head),
    ("ws_handshake_server", ws_handshake_server),
    ("ws_handshake_client", ws_handshake_client),
    ("ws_connection_server", ws_connection_server),
    ("ws_connection_client", ws_connection_client),
    ("ws_frame_roundtrip", ws_frame_roundtrip),
    ("eio_packet", eio_packet),
    ("eio_server", eio_server),
    ("json", json),
    ("redis_adapter", redis_adapter),
    ("sio_packet", sio_packet),
    ("sio_server", sio_server),
    ("sio_client", sio_client),
    ("eio_client", eio_client),
    ("inflate_diff", inflate_diff),
    ("deflate_roundtrip", deflate_roundtrip),
    ("ws_connection_deflate", ws_connection_deflate),
    ("eio_endpoint", eio_endpoint),
    ("sio_endpoint", sio_endpoint),
    ("sio_client_endpoint", sio_client_endpoint),
    ("utf8_simd", utf8_simd),
];

/// Runs `data` through the target called `name`.
pub fn run(name: &str, data: &[u8]) {
    let (_, f) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    f(data)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn seeds_pass() {
        for (target, name, data) in seeds::all() {
            eprintln!("{target}/{name}");
            run(target, &data);
        }
    }

    /// Every committed corpus file (seeds and anything a fuzzer added) passes.
    #[test]
    fn corpus_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (target, _) in TARGETS {
            let Ok(dir) = std::fs::read_dir(root.join(target)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                run(target, &std::fs::read(&path).unwrap());
            }
        }
    }

    #[test]
    fn every_target_has_seeds() {
        let mut seeds = seeds::all();
        seeds.extend(sio_seeds::all());
        for (target, _) in TARGETS {
            assert!(seeds.iter().any(|(t, _, _)| t == target), "{target}");
        }
    }

    /// Writes the seeds to `corpus/<target>/seed-<name>`.
    #[test]
    #[ignore = "writes files; run with --ignored to regenerate the seed corpus"]
    fn write_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (target, name, data) in seeds::all() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        }
    }
}
