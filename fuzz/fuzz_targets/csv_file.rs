#![no_main]
//! Fuzz target: see `pantau::fuzz::csv_file` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::csv_file(data));
