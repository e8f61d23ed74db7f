#![no_main]
//! Fuzz target: see `pantau::fuzz::json_records` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::json_records(data));
