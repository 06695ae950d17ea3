//! Criterion benchmarks, sockwire beside its peers. Each group holds one workload; the
//! function ids name the implementation (`sockwire`, `tungstenite`, `fastwebsockets`,
//! `embedded-websocket`, `memcpy`). The report (src/bin/report.rs) pairs `sockwire`
//! with every other id in the same group.
//!
//! BENCH_QUICK=1 shortens warm-up and measurement for the one-command run.

mod common;
use common::config;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sockwire_bench::drive::*;
use std::hint::black_box;

fn size_name(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

fn unmask(c: &mut Criterion) {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    for size in [16usize, 1024, 64 * 1024, 1024 * 1024] {
        let mut g = c.benchmark_group(format!("unmask/{}", size_name(size)));
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf = sockwire_bench::binary_payload(size);
        #[cfg(feature = "sockwire")]
        g.bench_function("sockwire", |b| {
            b.iter(|| sockwire::ws::apply_mask(black_box(&mut buf[..]), black_box(mask), 0))
        });
        g.bench_function("fastwebsockets", |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf[..]), black_box(mask)))
        });
        // tungstenite 0.30 keeps `apply_mask` private; the only public way to mask is
        // `Frame::format`, which copies the payload into a new Vec, masks it and writes
        // header and payload out. It is measured as that (copy + mask).
        {
            use tungstenite::protocol::frame::{Frame, FrameHeader};
            let payload = bytes::Bytes::from(buf.clone());
            let mut out: Vec<u8> = Vec::with_capacity(size + 16);
            g.bench_function("tungstenite (Frame::format, copies)", |b| {
                b.iter(|| {
                    out.clear();
                    let header = FrameHeader {
                        mask: Some(black_box(mask)),
                        ..FrameHeader::default()
                    };
                    Frame::from_payload(header, payload.clone())
                        .format(&mut out)
                        .unwrap();
                    black_box(&out);
                })
            });
        }
        let src = buf.clone();
        let mut dst = vec![0u8; size];
        g.bench_function("memcpy", |b| {
            b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src[..])))
        });
        g.finish();
    }
}

fn cases() -> Vec<(String, Case)> {
    let mut v = Vec::new();
    for (len, count) in [
        (sockwire_bench::SMALL, sockwire_bench::SMALL_COUNT),
        (sockwire_bench::LARGE, sockwire_bench::LARGE_COUNT),
    ] {
        for text in [true, false] {
            let kind = if text { "text" } else { "binary" };
            v.push((
                format!("{}-{kind}", size_name(len)),
                Case::new(text, len, count),
            ));
        }
    }
    v
}

fn decode(c: &mut Criterion) {
    for (name, case) in cases() {
        let mut g = c.benchmark_group(format!("decode/{name}"));
        // Messages per second.
        g.throughput(Throughput::Elements(case.count as u64));
        #[cfg(feature = "sockwire")]
        {
            let mut d = SockwireDecode::new(&case);
            g.bench_function("sockwire", |b| b.iter(|| black_box(d.run())));
        }
        let mut d = TungsteniteDecode::new(&case);
        g.bench_function("tungstenite", |b| b.iter(|| black_box(d.run())));
        let mut d = FastwsDecode::new(&case);
        g.bench_function("fastwebsockets", |b| b.iter(|| black_box(d.run())));
        let mut d = EmbeddedDecode::new(&case);
        g.bench_function("embedded-websocket", |b| b.iter(|| black_box(d.run())));
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (name, case) in cases() {
        if !case.text {
            continue; // masking cost does not depend on the opcode
        }
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(case.count as u64));
        #[cfg(feature = "sockwire")]
        {
            let mut e = SockwireEncode::new(&case);
            g.bench_function("sockwire", |b| b.iter(|| black_box(e.run())));
        }
        let mut e = TungsteniteEncode::new(&case);
        g.bench_function("tungstenite", |b| b.iter(|| black_box(e.run())));
        let mut e = FastwsEncode::new(&case);
        g.bench_function("fastwebsockets", |b| b.iter(|| black_box(e.run())));
        let mut e = EmbeddedEncode::new(&case);
        g.bench_function("embedded-websocket", |b| b.iter(|| black_box(e.run())));
        g.finish();
    }
}

fn handshake(c: &mut Criterion) {
    let req = sockwire_bench::CHROME_REQUEST.as_bytes();
    let mut g = c.benchmark_group("handshake/chrome");
    g.throughput(Throughput::Elements(1));
    #[cfg(feature = "sockwire")]
    {
        let mut h = SockwireHandshake::new();
        g.bench_function("sockwire", |b| b.iter(|| black_box(h.run(black_box(req)))));
    }
    let mut out = Vec::with_capacity(256);
    g.bench_function("tungstenite", |b| {
        b.iter(|| black_box(tungstenite_handshake(black_box(req), &mut out)))
    });
    let mut out = [0u8; 1024];
    g.bench_function("embedded-websocket", |b| {
        b.iter(|| black_box(embedded_handshake(black_box(req), &mut out)))
    });
    g.finish();
}

fn compression(c: &mut Criterion) {
    use sockwire_bench::compress::*;
    for (name, data) in inputs() {
        let mut g = c.benchmark_group(format!("deflate/{name}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        #[cfg(feature = "sockwire")]
        {
            let mut d = SockwireDeflate::new();
            g.bench_function("sockwire", |b| {
                b.iter(|| black_box(d.run(black_box(&data))))
            });
        }
        for level in [1, 6] {
            let mut z = ZlibDeflate::new(level);
            g.bench_function(format!("zlib level {level}"), |b| {
                b.iter(|| black_box(z.run(black_box(&data))))
            });
        }
        g.finish();
        let mut z = ZlibDeflate::new(6);
        z.run(&data);
        let compressed = z.output().to_vec();
        let mut g = c.benchmark_group(format!("inflate/{name}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        #[cfg(feature = "sockwire")]
        {
            let mut i = SockwireInflate::new(&compressed);
            assert_eq!(i.run(), data.len());
            g.bench_function("sockwire", |b| b.iter(|| black_box(i.run())));
        }
        let mut i = ZlibInflate::new(&compressed);
        g.bench_function("zlib", |b| b.iter(|| black_box(i.run())));
        g.finish();
    }
}

criterion_group! { name = benches; config = config(); targets = unmask, decode, encode, handshake, compression }
criterion_main!(benches);
