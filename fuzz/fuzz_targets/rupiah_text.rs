#![no_main]
//! Fuzz target: see `pantau::fuzz::rupiah_text` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::rupiah_text(data));
