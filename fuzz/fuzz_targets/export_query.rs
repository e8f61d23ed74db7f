#![no_main]
//! Fuzz target: see `pantau::fuzz::export_query` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::export_query(data));
