//! Shared by the source tests: the real data files, the shipped mappings, and polling the
//! running app's `/api/sources` and `/api/datasets`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pantau::config::Settings;
use pantau::ingest::SourceConfig;
use pantau::startup::offline::Offline;
use serde_json::Value;

use crate::helpers::{eventually, spawn_app_with, AppOptions, Backend, TestApp};

pub fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(path)
}

pub fn mapping(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/mappings")
        .join(name)
}

pub fn source(toml_text: &str) -> SourceConfig {
    toml::from_str(toml_text).expect("source config parses")
}

/// Polls `check` on `/api/sources`' entry for `id` until it holds (30 s at most).
pub async fn wait_source(
    app: &TestApp,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, Duration::from_secs(30), || async {
        let body: Value = app.get("/api/sources").await.json().await.unwrap();
        let entry = body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or(Value::Null);
        if check(&entry) {
            Ok(entry)
        } else {
            Err(format!("{entry:#}"))
        }
    })
    .await
}

pub async fn current_rows(app: &TestApp, dataset: &str) -> u64 {
    let body: Value = app.get("/api/datasets").await.json().await.unwrap();
    body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == dataset)
        .and_then(|d| d["rows"].as_u64())
        .unwrap_or(0)
}

/// Default settings on the data dir `data`, and the store and database opened there.
pub async fn offline_at(data: &Path) -> (Settings, Offline) {
    let mut settings = Settings::default();
    settings.data.dir = data.to_path_buf();
    let offline = Offline::open(&settings).await.unwrap();
    (settings, offline)
}

/// A quiet app (SQLite, no simulator) running `sources`.
pub async fn spawn_with_sources(sources: Vec<SourceConfig>) -> TestApp {
    spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: false,
        },
        |s| s.sources = sources,
    )
    .await
}

mod files;
mod remote;
mod sql;

/// The sources' tests.
pub fn trials(services: &crate::harness::Services) -> Vec<libtest_mimic::Trial> {
    [
        files::trials(services),
        remote::trials(services),
        sql::trials(services),
    ]
    .into_iter()
    .flatten()
    .collect()
}
