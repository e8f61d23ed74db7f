//! Import benchmark: the LA 311 CSVs through `pantau import`'s path — CSV parsing, mapping and
//! validation, geo-enrichment (point-in-polygon against the Kota Pasuruan kelurahan), durable
//! appends and the quarantine — with DuckDB's `read_csv` of the same files in the same run.
//!
//! `cargo bench --bench import` (`-- --copies N`, default 10). The three real files hold 29,999
//! rows; to measure a rate rather than start-up, each file is written N times into one larger
//! file with its header once and `-copyK` added to the request number (the rows are otherwise
//! the real ones, so the quarantine and enrichment work is the real mix). Needs `pip install
//! duckdb` for the comparison; without it the DuckDB line says so.

mod common;

use common::run_duckdb;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pantau::config::Settings;
use pantau::startup::offline::Offline;

const FILES: [&str; 3] = [
    "la311_2017-12_myla311_subset.csv",
    "la311_2018-12_mini.csv",
    "la311_2020-01_requests.csv",
];

/// Writes `copies` of a CSV (header once), suffixing the first column of every copy after the first.
fn replicate(source: &Path, target: &Path, copies: usize) -> usize {
    let text = std::fs::read_to_string(source).expect("read the LA file");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(
        std::fs::File::create(target).expect("create"),
    ));
    writer.write_record(&header).expect("write");
    for copy in 0..copies {
        for record in &records {
            let mut fields: Vec<String> = record.iter().map(str::to_owned).collect();
            if copy > 0 {
                fields[0] = format!("{}-copy{copy}", fields[0]);
            }
            writer.write_record(&fields).expect("write");
        }
    }
    writer.flush().expect("flush");
    records.len() * copies
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let copies: usize = args
        .iter()
        .position(|a| a == "--copies")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data/complaints");
    let work = tempfile::tempdir().expect("temp dir");
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut rows = 0;
    for file in FILES {
        let target = work.path().join(file);
        rows += replicate(&shared.join(file), &target, copies);
        paths.push(target);
    }
    println!(
        "import bench: {rows} LA 311 rows in 3 CSV files ({copies} copies of the real 29,999)"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rates = Vec::new();
    for run in 1..=3 {
        let data = work.path().join(format!("data{run}"));
        let mut settings = Settings::default();
        settings.data.dir = data;
        let (summary, secs) = runtime.block_on(async {
            let offline = Offline::open(&settings).await.expect("open");
            let started = Instant::now();
            let mapping = pantau::ingest::mapping::Mapping::from_file(
                &root.join("examples/mappings/la311.toml"),
                settings.deployment.tz(),
            )
            .expect("mapping");
            let summary = pantau::ingest::import::import(
                &offline.store,
                &offline.db,
                &offline.enricher,
                mapping,
                "la311",
                &paths,
                &mut |_, _| {},
            )
            .await
            .expect("import");
            (summary, started.elapsed().as_secs_f64())
        });
        let rate = summary.read as f64 / secs;
        println!(
            "run {run}: read {} stored {} quarantined {} outside {} in {secs:.2} s = {rate:.0} rows/s",
            summary.read, summary.stored, summary.quarantined, summary.outside
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("pantau import median: {:.0} rows/s", rates[1]);

    let args: Vec<std::ffi::OsString> = paths.iter().map(|p| p.clone().into_os_string()).collect();
    run_duckdb(&root.join("benches/import_duckdb.py"), &args);
}
