#![no_main]
//! Fuzz target: see `pantau::fuzz::ws_session` for what it feeds and checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| pantau::fuzz::ws_session(data));
