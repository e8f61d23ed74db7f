#![no_main]
//! Fuzz target: see `pantau::config::fuzz::config_toml` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::config::fuzz::config_toml(data));
