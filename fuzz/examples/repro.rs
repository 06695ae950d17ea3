//! Runs one input file through a target outside libFuzzer:
//! `cargo run --example repro -- TARGET FILE` (set `SOCKWIRE_FUZZ_TRACE=1` to
//! print each operation of the connection targets).
fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: repro TARGET FILE");
        std::process::exit(2);
    };
    let data = std::fs::read(&file).expect("read input");
    sockwire_fuzz::run(&target, &data);
    eprintln!("ok");
}
