//! Store benchmark: append throughput of 10k-row complaint batches, hot-table memory per row, and
//! cold start from a checkpoint — with DuckDB loading the same rows in the same run.
//!
//! `cargo bench --bench store` (10M rows; `-- --rows N` for another size). Needs `pip install
//! duckdb pyarrow` for the comparison; without it the DuckDB lines say so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pantau::domain::{Complaint, Status};
use pantau::store::{Store, StoreOptions};

mod common;

use common::*;

/// The allocator the `pantau` binary uses, so the bench measures what the server does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg("--rows", 10_000_000);
    let updates = arg("--updates", rows / 10);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-store");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let start = 1_767_200_000; // 2025-12-31T16:53:20Z
    let options = StoreOptions {
        retention: None,
        checkpoint_interval: Duration::from_secs(86_400),
        checkpoint_log_bytes: u64::MAX,
    };
    println!("store bench: {rows} complaint rows in batches of {BATCH}, then {updates} updates");

    let rss_start = rss_bytes();
    let store = Store::open(&work.join("store"), options.clone()).await?;
    let mut appending = Duration::ZERO;
    for first in (0..rows).step_by(BATCH) {
        let batch: Vec<Complaint> = (first..(first + BATCH as u64).min(rows))
            .map(|i| complaint(i, start))
            .collect();
        let t = Instant::now();
        store.append_complaints(batch).await?;
        appending += t.elapsed();
    }
    let insert_rate = rows as f64 / secs(appending);
    println!(
        "append (new keys):   {:>12.0} rows/s  ({rows} rows in {:.2} s, fsync per batch)",
        insert_rate,
        secs(appending)
    );

    let mut updating = Duration::ZERO;
    for first in (0..updates).step_by(BATCH) {
        let batch: Vec<Complaint> = (first..(first + BATCH as u64).min(updates))
            .map(|n| {
                let i = mix(n ^ 0x5555) % rows;
                let mut c = complaint(i, start);
                c.status = Status::Resolved;
                c.updated_at += chrono::Duration::days(2);
                c.resolved_at = Some(c.updated_at);
                c
            })
            .collect();
        let t = Instant::now();
        store.append_complaints(batch).await?;
        updating += t.elapsed();
    }
    if updates > 0 {
        println!(
            "append (upserts):    {:>12.0} rows/s  ({updates} rows in {:.2} s)",
            updates as f64 / secs(updating),
            secs(updating)
        );
    }

    let snapshot = store.snapshot();
    let view = snapshot.complaints();
    let heap = store.heap_use()[0];
    let (versions, keys) = (view.rows() as f64, view.current_rows() as f64);
    let total = (heap.rows + heap.keys) as f64;
    println!(
        "hot table rows:      {:>12.1} bytes/row  (columns, key id, flags; {} rows = {} keys + {} newer versions)",
        heap.rows as f64 / versions,
        view.rows(),
        view.current_rows(),
        view.rows() - view.current_rows(),
    );
    println!(
        "key index:           {:>12.1} bytes/key  (packed keys, hash index of current rows)",
        heap.keys as f64 / keys
    );
    println!(
        "hot table, all:      {:>12.1} bytes/row  ({:.0} MiB; process RSS grew {:.0} MiB)",
        total / versions,
        total / 1048576.0,
        (rss_bytes().saturating_sub(rss_start)) as f64 / 1048576.0
    );

    let t = Instant::now();
    store.checkpoint().await?;
    println!("checkpoint:          {:>12.2} s", secs(t.elapsed()));
    drop(snapshot);
    drop(store);

    let t = Instant::now();
    let reopened = Store::open(&work.join("store"), options).await?;
    let cold = t.elapsed();
    let n = reopened.snapshot().complaints().rows();
    println!(
        "cold start:          {:>12.2} s  ({n} rows from the checkpoint)",
        secs(cold)
    );
    drop(reopened);

    if std::env::args().any(|a| a == "--no-duckdb") {
        let _ = std::fs::remove_dir_all(&work);
        return Ok(());
    }
    let parquet = work.join("complaints.parquet");
    write_parquet(&parquet, rows, start)?;
    let args = [
        parquet.into_os_string(),
        BATCH.to_string().into(),
        work.join("duck.db").into_os_string(),
    ];
    let text = run_duckdb(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/store_duckdb.py"),
        &args,
    );
    if let Some(rate) = text.and_then(|t| metric(&t, "duckdb_batched_rows_per_s")) {
        println!(
            "ratio:               {:>12.2}× DuckDB's batched upsert rate",
            insert_rate / rate
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
