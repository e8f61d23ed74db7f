//! Pantau — the backend of a smart-city command centre.
//!
//! Ingest workers pull complaints, budget execution and service levels into a store; an engine
//! turns the store into panel results; the live room pushes them over WebSockets to wall screens,
//! tablets and analysts.
//!
//! # Layout
//!
//! Dependencies point down this list; nothing imports `startup`, `cli` or `fuzz`.
//!
//! - [`cli`]: the `pantau` command line (`demo`, `serve`, `check`, `import`, `reprocess`, `loadgen`); turns errors into one line and an exit code.
//! - [`startup`]: the only place that wires concrete parts together: `Application::build` /
//!   `run_until_stopped`, and `startup::offline` for `import`, `reprocess` and `export` on a data
//!   dir no server holds.
//! - [`fuzz`]: entry points for the fuzz targets (`fuzz/`) and their replay test; nothing imports it.
//! - [`config`]: typed settings, layered file → environment (`PANTAU__SECTION__KEY`) → command line, validated.
//! - [`loadgen`]: `pantau loadgen`, real WebSocket clients that measure delivery, latency and memory.
//! - [`telemetry`]: log output (text or JSON lines) and the Prometheus metric families.
//! - [`http`]: routes only; one JSON error type with stable codes; each area exposes `router()`.
//! - [`live`]: topics with sequence numbers, the WebSocket protocol and sessions; knows nothing of the store.
//! - [`export`]: the exact data behind a dataset or panel, as of any moment, as CSV, XLSX,
//!   Parquet, GeoJSON or JSON, streamed with bounded memory; snapshots that freeze it.
//! - [`engine`]: runs dashboard panels' queries over store snapshots' columns and publishes
//!   their results as topics, recomputing only what a commit, a file change or the clock moved.
//! - [`access`]: who a request is (tokens hashed at rest, the anonymous rule), what each role
//!   may do (the permission matrix), and the hash-chained audit log.
//! - [`dashboards`]: the dashboard file format (`dashboards/*.toml`), its validation with
//!   `file:line:col` errors, and the hot-reloading catalog.
//! - [`ingest`]: pull workers behind one `Source` trait, one file per source kind (`open311`, `http_json`,
//!   `files`, `sql`, `simulator`); declarative mappings, quarantine, geo-enrichment, imports.
//! - [`store`]: the only owner of ingested data: columnar hot tables (polars), the durable log,
//!   Parquet checkpoints and history, snapshots and as-of reads.
//! - [`db`]: the metadata database (SQLite by default, PostgreSQL in production) through sqlx.
//! - [`geo`]: administrative boundaries (GeoJSON) and point-in-polygon lookups.
//! - [`domain`]: the vocabulary — complaints, region codes, WIB time; no I/O.

pub mod access;
pub mod cli;
pub mod config;
pub mod dashboards;
pub mod db;
pub mod domain;
pub mod engine;
pub mod export;
pub mod fuzz;
pub mod geo;
pub mod http;
pub mod ingest;
pub mod live;
pub mod loadgen;
pub mod startup;
pub mod store;
pub mod telemetry;
