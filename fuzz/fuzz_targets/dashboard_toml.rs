#![no_main]
//! Fuzz target: see `pantau::fuzz::dashboard_toml` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::dashboard_toml(data));
