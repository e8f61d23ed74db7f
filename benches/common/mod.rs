//! Shared by the benches: the deterministic complaint generator, its Parquet twin for DuckDB,
//! process memory and argument parsing. Included with `mod common;` (each bench is its own crate).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pantau::domain::{Complaint, Status};
use pantau::store::{Store, StoreOptions};
use polars::prelude::*;

pub const BATCH: usize = 10_000;

pub const CATEGORIES: [(&str, &str); 9] = [
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
pub const CHANNELS: [&str; 5] = ["web", "android", "whatsapp", "sms", "call_center"];

pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Complaint `i`, deterministic: a Kota Pasuruan kelurahan, a point, times over a year.
pub fn complaint(i: u64, start: i64) -> Complaint {
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
        kecamatan: Some(format!("35.75.0{kec}").parse().expect("valid code")),
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

/// A store in `dir` holding complaints `0..rows` of [`complaint`], appended in [`BATCH`]-row
/// batches, with no retention and no checkpoint while the bench runs.
pub async fn filled_store(dir: &Path, rows: u64, start: i64) -> anyhow::Result<Store> {
    let options = StoreOptions {
        retention: None,
        checkpoint_interval: Duration::from_secs(86_400),
        checkpoint_log_bytes: u64::MAX,
    };
    let store = Store::open(dir, options).await?;
    for first in (0..rows).step_by(BATCH) {
        let batch = (first..(first + BATCH as u64).min(rows))
            .map(|i| complaint(i, start))
            .collect();
        store.append_complaints(batch).await?;
    }
    Ok(store)
}

pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The same rows as Parquet with plain columns, for DuckDB.
pub fn write_parquet(path: &Path, rows: u64, start: i64) -> PolarsResult<()> {
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
                "kecamatan".into(),
                batch
                    .iter()
                    .map(|c| c.kecamatan.as_ref().map(|k| k.to_string()))
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

pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The file after `name` on the command line, else `default`.
pub fn arg_path(name: &str, default: PathBuf) -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, PathBuf::from)
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs the Python side of a comparison (`python3 script args…`), prints its output and returns
/// it; when Python or its packages are missing, prints why the comparison was not measured.
pub fn run_duckdb(script: &Path, args: &[std::ffi::OsString]) -> Option<String> {
    match std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            print!("{text}");
            Some(text)
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!(
                "duckdb: not measured ({})",
                stderr.lines().last().unwrap_or("failed")
            );
            None
        }
        Err(e) => {
            println!("duckdb: not measured (python3: {e})");
            None
        }
    }
}

/// The number on the line `name value` of a comparison's output.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}
