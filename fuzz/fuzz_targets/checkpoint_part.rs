#![no_main]
//! Fuzz target: see `pantau::fuzz::checkpoint_part` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::checkpoint_part(data));
