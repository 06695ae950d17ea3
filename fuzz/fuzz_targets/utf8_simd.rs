#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sockwire_fuzz::utf8_simd(data));
