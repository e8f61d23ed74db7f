//! Store benchmark: append throughput of 10k-row complaint batches, hot-table memory per row, and
//! cold start from a checkpoint — with DuckDB loading the same rows in the same run.
//!
//! `cargo bench --bench store` (10M rows; `-- --rows N` for another size). Needs `pip install
//! duckdb pyarrow` for the comparison; without it the DuckDB lines say so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pantau::domain::{Complaint, Status};
use pantau::store::{Store, StoreOptions};
use polars::prelude::*;

const BATCH: usize = 10_000;

const CATEGORIES: [(&str, &str); 9] = [
    ("Jalan Rusak", "Dinas PUPR"),
    ("Sampah", "Dinas Lingkungan Hidup"),
    ("Penerangan Jalan Umum", "Dinas Perhubungan"),
    ("Drainase dan Banjir", "Dinas PUPR"),
    ("Air Bersih PDAM", "Perumda Air Minum"),
    ("Administrasi Kependudukan", "Dispendukcapil"),
    ("Layanan Kesehatan", "Dinas Kesehatan"),
    ("Ketertiban Umum", "Satpol PP"),
    ("Pohon Tumbang", "Dinas Lingkungan Hidup"),
];
const CHANNELS: [&str; 5] = ["web", "android", "whatsapp", "sms", "call_center"];

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Complaint `i`, deterministic: a Kota Pasuruan kelurahan, a point, times over a year.
fn complaint(i: u64, start: i64) -> Complaint {
    let r = mix(i);
    let (category, opd) = CATEGORIES[(r % 9) as usize];
    let kec = 1 + (r >> 8) % 4;
    let kel = 1001 + (r >> 12) % 9;
    let created =
        DateTime::<Utc>::from_timestamp(start + (i as i64 % 31_536_000), 0).unwrap_or_default();
    let status = [Status::Received, Status::InProgress, Status::Resolved][((r >> 20) % 3) as usize];
    Complaint {
        channel: Some(CHANNELS[((r >> 16) % 5) as usize].to_owned()),
        status,
        kelurahan: Some(format!("35.75.0{kec}.{kel}").parse().expect("valid code")),
        lat: Some(-7.62 - ((r >> 24) % 10_000) as f64 * 1e-5),
        lon: Some(112.88 + ((r >> 40) % 10_000) as f64 * 1e-5),
        sla_due_at: Some(created + chrono::Duration::hours(72)),
        resolved_at: (status == Status::Resolved).then(|| created + chrono::Duration::hours(20)),
        updated_at: created
            + chrono::Duration::hours(if status == Status::Received { 0 } else { 20 }),
        rating: (status == Status::Resolved).then_some(1 + ((r >> 28) % 5) as u8),
        ..Complaint::new("lapor", &format!("LPR-{i:010}"), category, opd, created)
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The same rows as Parquet with plain columns, for DuckDB.
fn write_parquet(path: &Path, rows: u64, start: i64) -> PolarsResult<()> {
    let file = std::fs::File::create(path)?;
    let mut writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>> = None;
    let mut file = Some(file);
    for first in (0..rows).step_by(BATCH) {
        let batch: Vec<Complaint> = (first..(first + BATCH as u64).min(rows))
            .map(|i| complaint(i, start))
            .collect();
        let ts = |f: &dyn Fn(&Complaint) -> Option<DateTime<Utc>>| {
            Int64Chunked::from_iter_options(
                "".into(),
                batch.iter().map(|c| f(c).map(|t| t.timestamp())),
            )
        };
        let df = DataFrame::new(vec![
            Column::new(
                "source".into(),
                batch.iter().map(|c| c.source.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "source_id".into(),
                batch
                    .iter()
                    .map(|c| c.source_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "category".into(),
                batch
                    .iter()
                    .map(|c| c.category.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "channel".into(),
                batch
                    .iter()
                    .map(|c| c.channel.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "opd".into(),
                batch.iter().map(|c| c.opd.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                batch
                    .iter()
                    .map(|c| format!("{:?}", c.status))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "kelurahan".into(),
                batch
                    .iter()
                    .map(|c| c.kelurahan.as_ref().map(|k| k.to_string()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "lat".into(),
                batch.iter().map(|c| c.lat).collect::<Vec<_>>(),
            ),
            Column::new(
                "lon".into(),
                batch.iter().map(|c| c.lon).collect::<Vec<_>>(),
            ),
            ts(&|c| Some(c.created_at))
                .with_name("created_at".into())
                .into_column(),
            ts(&|c| Some(c.updated_at))
                .with_name("updated_at".into())
                .into_column(),
            ts(&|c| c.resolved_at)
                .with_name("resolved_at".into())
                .into_column(),
            ts(&|c| c.sla_due_at)
                .with_name("sla_due_at".into())
                .into_column(),
            Column::new(
                "rating".into(),
                batch
                    .iter()
                    .map(|c| c.rating.map(u32::from))
                    .collect::<Vec<_>>(),
            ),
        ])?;
        if writer.is_none() {
            let f = file
                .take()
                .ok_or_else(|| polars_err!(ComputeError: "file used twice"))?;
            writer = Some(ParquetWriter::new(f).batched(df.schema())?);
        }
        if let Some(w) = writer.as_mut() {
            w.write_batch(&df)?;
        }
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(())
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

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
        "key index:           {:>12.1} bytes/key  (key bytes, offsets, hash index, current slot)",
        heap.keys as f64 / keys
    );
    println!(
        "hot table, all:      {:>12.1} bytes/row  ({:.0} MiB; process RSS grew {:.0} MiB)",
        total / versions,
        total / 1048576.0,
        (rss_bytes().saturating_sub(rss_start)) as f64 / 1048576.0
    );

    let t = Instant::now();
    // Polars runs on a blocking thread, as in the engine (never on a tokio worker).
    let shared = snapshot.clone();
    let tally = tokio::task::spawn_blocking(move || {
        pantau::engine::tally::ComplaintTally::of(shared.complaints())
    })
    .await??;
    println!(
        "overview tally:      {:>12.3} s  (the demo panel's counts over {} current complaints, polars)",
        secs(t.elapsed()),
        tally.total
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/store_duckdb.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&parquet)
        .arg(BATCH.to_string())
        .arg(work.join("duck.db"))
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            print!("{text}");
            let rate = text
                .lines()
                .find_map(|l| l.strip_prefix("duckdb_batched_rows_per_s "))
                .and_then(|v| v.trim().parse::<f64>().ok());
            if let Some(rate) = rate {
                println!(
                    "ratio:               {:>12.2}× DuckDB's batched upsert rate",
                    insert_rate / rate
                );
            }
        }
        Ok(out) => println!(
            "duckdb: not run ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        ),
        Err(e) => println!("duckdb: not run ({e})"),
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
