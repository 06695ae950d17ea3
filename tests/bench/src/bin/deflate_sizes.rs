//! Prints, as JSON lines, the compressed size of each `compress::inputs()`
//! message in percent of its length: sockwire's deflater and zlib at levels 1
//! and 6 (`kind: "size"`, read by `report --sizes`).

use sockwire_bench::compress::{SockwireDeflate, ZlibDeflate, inputs};

fn main() {
    for (name, data) in inputs() {
        let pct = |n: usize| (n as f64 * 1000.0 / data.len() as f64).round() / 10.0;
        let mut rows = vec![("sockwire".to_string(), SockwireDeflate::new().run(&data))];
        for level in [1, 6] {
            rows.push((
                format!("zlib level {level}"),
                ZlibDeflate::new(level).run(&data),
            ));
        }
        for (label, n) in rows {
            println!(
                "{}",
                serde_json::json!({"kind": "size", "data": name, "label": label, "percent": pct(n), "bytes": n, "input": data.len()})
            );
        }
    }
}
