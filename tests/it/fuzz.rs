//! The fuzz targets' inputs replayed as tests: every seed and every input a fuzzer ever found a
//! crash with (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) goes through the same entry
//! point the fuzzer calls (`pantau::fuzz`), so a fixed crash stays fixed without cargo-fuzz.

use std::path::{Path, PathBuf};

crate::tests! {
    sync every_target_has_a_seed_corpus_from_real_files,
    sync every_seed_and_every_crash_found_replays_clean,
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

/// Every target: the fuzz room's, and the config room's own.
fn targets() -> Vec<(&'static str, pantau::fuzz::Target, &'static str)> {
    let mut all: Vec<_> = pantau::fuzz::TARGETS
        .iter()
        .map(|(name, target)| (*name, *target, "pantau::fuzz"))
        .collect();
    let config: pantau::fuzz::Target = pantau::config::fuzz::config_toml;
    all.push(("config_toml", config, "pantau::config::fuzz"));
    all
}

fn every_target_has_a_seed_corpus_from_real_files() {
    let mut missing = Vec::new();
    for (name, _, path) in targets() {
        let seeds = inputs(&fuzz_dir().join("corpus").join(name));
        if seeds.len() < 5 {
            missing.push(format!("{name}: {} seeds", seeds.len()));
        }
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(
            std::fs::read_to_string(&target)
                .is_ok_and(|text| text.contains(&format!("{path}::{name}("))),
            "{} does not call {path}::{name}",
            target.display()
        );
    }
    assert!(missing.is_empty(), "targets without seeds: {missing:?}");
}

fn every_seed_and_every_crash_found_replays_clean() {
    let mut ran = 0;
    for (name, target, _) in targets() {
        for sub in ["corpus", "regressions"] {
            for input in inputs(&fuzz_dir().join(sub).join(name)) {
                let bytes = std::fs::read(&input).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&bytes));
                assert!(outcome.is_ok(), "{name} panicked on {}", input.display());
                ran += 1;
            }
        }
    }
    assert!(
        ran > pantau::fuzz::TARGETS.len() * 5,
        "only {ran} inputs replayed"
    );
}
