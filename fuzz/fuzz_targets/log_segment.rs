#![no_main]
//! Fuzz target: see `pantau::fuzz::log_segment` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::log_segment(data));
