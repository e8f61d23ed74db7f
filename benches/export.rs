//! Export benchmark: N complaints (10M by default) exported from the store to Parquet and to CSV
//! files, rows/s and the peak memory the export adds; DuckDB's `COPY … TO` of the same rows from
//! an in-memory table in the same run.
//!
//! `cargo bench --bench export` (`-- --rows N --runs R`, `--only parquet|csv`, `--no-duckdb`).
//! Needs `pip install duckdb pyarrow` for the comparison; without it the DuckDB lines say so.
//! Dirty pages of earlier files are flushed (`sync`) before every timed run on both sides, so one
//! run's writeback does not slow the next. `--out-dir DIR` puts both sides' output files there
//! (e.g. `/dev/shm` to time the exporters without the disk).

mod common;

/// The allocator the `pantau` binary uses, so the bench measures what the server does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use pantau::domain::Dataset;
use pantau::export::{write, DatasetExport, DatasetRequest, Format, Meta};

/// Resets the kernel's record of this process's peak resident memory (VmHWM).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory (VmHWM) since the last reset, bytes.
fn peak_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg("--rows", 10_000_000);
    let runs = arg("--runs", 3) as usize;
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-export");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let start = 1_767_200_000;
    let store = filled_store(&work.join("store"), rows, start).await?;
    let snapshot = store.snapshot();
    println!("export bench: {rows} complaints, 18 columns, {runs} runs per format");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|f| Format::parse(f))
        .transpose()?;
    let out_dir = args
        .iter()
        .position(|a| a == "--out-dir")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || work.clone(),
            |d| PathBuf::from(d).join("pantau-bench-export"),
        );
    std::fs::create_dir_all(&out_dir)?;
    let mut ours = Vec::new();
    for format in [Format::Parquet, Format::Csv] {
        if only.is_some_and(|o| o != format) {
            continue;
        }
        let out = out_dir.join(format!("pantau.{}", format.extension()));
        let mut times = Vec::new();
        let mut peaks = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let snapshot = snapshot.clone();
            let out = out.clone();
            let tmp = work.join("tmp");
            let _ = std::process::Command::new("sync").status();
            let (elapsed, peak, written, bytes) = tokio::task::spawn_blocking(move || {
                let before = rss_bytes();
                reset_peak();
                let started = Instant::now();
                let request = DatasetRequest {
                    dataset: Dataset::Complaints,
                    filters: Vec::new(),
                    columns: None,
                    as_of: None,
                    limit: None,
                    time_zone: pantau::domain::DEFAULT_TIME_ZONE,
                    to_date: false,
                };
                let export = DatasetExport::prepare(snapshot, &request, u64::MAX, Utc::now())?;
                let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
                let meta = Meta::new("complaints", pantau::domain::DEFAULT_TIME_ZONE, tmp);
                let written = write(&export, format, &meta, Box::new(file))?;
                let elapsed = started.elapsed();
                let peak = peak_bytes().saturating_sub(before);
                anyhow::Ok((elapsed, peak, written, std::fs::metadata(&out)?.len()))
            })
            .await??;
            assert_eq!(written, rows);
            times.push(elapsed);
            peaks.push(peak);
            size = bytes;
        }
        let m = median(times.clone());
        let peak = *peaks.iter().max().unwrap_or(&0);
        println!(
            "pantau {:<8} {:>12.0} rows/s  ({:.2} s median, runs {}; {:.0} MB file; peak memory added {:.1} MiB)",
            format.extension(),
            rows as f64 / m.as_secs_f64(),
            m.as_secs_f64(),
            times.iter().map(|t| format!("{:.2}", t.as_secs_f64())).collect::<Vec<_>>().join("/"),
            size as f64 / 1e6,
            peak as f64 / (1 << 20) as f64,
        );
        println!(
            "pantau_{}_rows_per_s {:.0}",
            format.extension(),
            rows as f64 / m.as_secs_f64()
        );
        ours.push((format, rows as f64 / m.as_secs_f64()));
        let _ = std::fs::remove_file(&out);
    }
    println!(
        "store: {:.0} MiB resident with {rows} rows",
        rss_bytes() as f64 / (1 << 20) as f64
    );

    if args.iter().any(|a| a == "--no-duckdb") {
        let _ = std::fs::remove_dir_all(&work);
        let _ = std::fs::remove_dir_all(&out_dir);
        return Ok(());
    }
    let parquet = work.join("complaints.parquet");
    write_parquet(&parquet, rows, start)?;
    println!("output files in {} (both sides)", out_dir.display());
    let args = [
        parquet.into_os_string(),
        out_dir.clone().into_os_string(),
        runs.to_string().into(),
    ];
    if let Some(text) = run_duckdb(&root.join("benches/export_duckdb.py"), &args) {
        for (format, pantau) in ours {
            if let Some(duck) = metric(&text, &format!("duckdb_{}_rows_per_s", format.extension()))
            {
                let verdict = if pantau >= duck {
                    "at least as fast"
                } else {
                    "slower"
                };
                println!(
                    "ratio {}: pantau {:.2}× DuckDB's rows/s ({verdict})",
                    format.extension(),
                    pantau / duck
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(())
}
