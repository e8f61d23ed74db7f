//! Files through the real mappings: `pantau import` of the real LA/NYC/Open311/APBD files with
//! every record accounted for, a drop folder with good, bad and non-CSV files, workbooks and
//! Parquet, reprocessing after a mapping fix, and the data dir's lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pantau::config::Settings;
use pantau::domain::Dataset;
use pantau::startup::offline::Offline;
use pantau::store::{DatasetSchema, KEY_ID};
use serde_json::Value;

use super::{current_rows, mapping, offline_at, shared, source, spawn_with_sources};

crate::tests! {
    async shipped_mappings_import_the_real_files_and_every_record_is_accounted_for,
    async a_second_process_cannot_open_a_data_dir_in_use,
    async drop_folder_stores_good_files_quarantines_bad_rows_and_refuses_non_csv,
    async workbooks_and_parquet_files_import_with_typed_cells,
    async reprocess_stores_what_a_fixed_mapping_can_read_and_keeps_the_rest,
    async csv_options_read_legacy_exports_semicolons_titles_and_windows_1252,
    async the_real_apbd_file_stores_each_line_or_quarantines_its_collision_and_the_sums_agree,
    async a_complaint_file_with_a_repeated_id_quarantines_both_and_keep_last_takes_the_later,
}

async fn shipped_mappings_import_the_real_files_and_every_record_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, offline) = offline_at(dir.path()).await;
    let la: Vec<PathBuf> = [
        "la311_2017-12_myla311_subset.csv",
        "la311_2018-12_mini.csv",
        "la311_2020-01_requests.csv",
    ]
    .iter()
    .map(|f| shared(&format!("complaints/{f}")))
    .collect();
    let nyc = vec![
        shared("complaints/nyc311_2011-03_subset.csv"),
        shared("complaints/nyc311_2013-10_sample.csv"),
    ];
    let cases: [(&str, Vec<PathBuf>, u64, u64, u64); 4] = [
        ("la311.toml", la.clone(), 29_999, 29_964, 35),
        ("nyc311.toml", nyc, 2_199, 2_198, 1),
        (
            "open311.toml",
            vec![shared(
                "complaints/la311_derived_georeport_v2_requests.json",
            )],
            2_000,
            2_000,
            0,
        ),
        (
            "apbd_realisasi.toml",
            vec![shared("budget/diy_realisasi_apbd_2014_2015.csv")],
            2_243,
            1_980,
            263,
        ),
    ];
    for (file, paths, read, stored, quarantined) in cases {
        let id = file.trim_end_matches(".toml");
        let summary = offline
            .import(&settings, &mapping(file), id, &paths, &mut |_, _| {})
            .await
            .unwrap();
        assert!(
            summary.failed_files.is_empty(),
            "{file}: {:?}",
            summary.failed_files
        );
        assert_eq!(
            (summary.read, summary.stored, summary.quarantined),
            (read, stored, quarantined),
            "{file}: read/stored/quarantined; reasons {:?}",
            summary.reasons
        );
        assert_eq!(
            summary.read,
            summary.stored + summary.quarantined,
            "{file}: nothing lost"
        );
        // Byte-identical records are kept once (13 rows of the APBD file repeat another row exactly).
        let kept = offline.db.quarantine(id, 0, 1000).await.unwrap();
        let distinct = if id == "apbd_realisasi" {
            quarantined - 13
        } else {
            quarantined
        };
        assert_eq!(
            kept.len() as u64,
            distinct,
            "{file}: every refusal is in the quarantine"
        );
    }
    // LA's refusals are real data errors, named field by field.
    let la_refused = offline.db.quarantine("la311", 0, 10).await.unwrap();
    assert!(la_refused
        .iter()
        .all(|r| r.reason.contains("resolved_at is before created_at")));
    let payload: Value = serde_json::from_str(&la_refused[0].payload).unwrap();
    assert!(
        payload
            .get("SRNumber")
            .or(payload.get("srnumber"))
            .is_some(),
        "the raw row is kept: {payload}"
    );
    // Budget refusals say which column is missing or malformed.
    let budget = offline
        .db
        .quarantine("apbd_realisasi", 0, 1000)
        .await
        .unwrap();
    assert_eq!(
        budget
            .iter()
            .filter(|r| r
                .reason
                .contains("account_code (column kode_rekening): no value"))
            .count(),
        98,
        "111 rows, 13 of them repeats"
    );
    assert_eq!(
        budget
            .iter()
            .filter(|r| r.reason.contains("has an empty segment"))
            .count(),
        1
    );

    let snapshot = offline.store.snapshot();
    let complaints = snapshot.table(Dataset::Complaints).current_rows();
    let budget_lines = snapshot.table(Dataset::BudgetLines).current_rows();
    assert!(budget_lines > 0 && budget_lines <= 2_069, "{budget_lines}");

    // Importing the same files again changes nothing and duplicates no quarantine entry.
    let again = offline
        .import(
            &settings,
            &mapping("la311.toml"),
            "la311",
            &la,
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(again.quarantined, 35);
    assert_eq!(
        offline
            .store
            .snapshot()
            .table(Dataset::Complaints)
            .current_rows(),
        complaints
    );
    assert_eq!(
        offline.db.quarantine("la311", 0, 1000).await.unwrap().len(),
        35
    );
}

async fn a_second_process_cannot_open_a_data_dir_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.data.dir = dir.path().to_path_buf();
    let first = Offline::open(&settings).await.unwrap();
    let second = Offline::open(&settings)
        .await
        .err()
        .expect("refused while the first holds it");
    assert!(
        format!("{second:#}").contains("in use by another Pantau process"),
        "{second:#}"
    );
    drop(first);
}

/// Sets a file's modification time into the past, so the drop folder takes it as complete.
fn settled(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

async fn drop_folder_stores_good_files_quarantines_bad_rows_and_refuses_non_csv() {
    let drop = tempfile::tempdir().unwrap();
    let la = std::fs::read_to_string(shared("complaints/la311_2020-01_requests.csv")).unwrap();
    let mut lines = la.lines();
    let header = lines.next().unwrap();
    let mut csv = format!("{header}\n");
    for line in lines.by_ref().take(300) {
        csv.push_str(line);
        csv.push('\n');
    }
    csv.push_str("\"1-bad-ragged\",\"2020-01-01 00:05:00\"\n");
    let bad_date = la
        .lines()
        .nth(400)
        .unwrap()
        .replacen("2020-01-0", "2020-13-0", 1);
    csv.push_str(&bad_date);
    csv.push('\n');
    // 150 more requests, and at the end (the second chunk of 100) the first of them again with
    // another request type and the same update time: a key collision across chunks.
    let mut twins = format!("{header}\n");
    let body: Vec<&str> = la.lines().skip(501).take(150).collect();
    for line in &body {
        twins.push_str(line);
        twins.push('\n');
    }
    let mut twin: Vec<String> = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body[0].as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    twin[6] = format!("{} (again)", twin[6]);
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(&twin).unwrap();
    twins.push_str(&String::from_utf8(writer.into_inner().unwrap()).unwrap());
    let files = [
        ("a_requests.csv", csv.clone().into_bytes()),
        ("e_twins.csv", twins.into_bytes()),
        ("b_same_content.csv", csv.into_bytes()),
        ("c_scan.csv", vec![0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0, 1, 2, 3]),
        ("d_events.ndjson", b"{\"SRNumber\":\"nd-1\",\"RequestType\":\"Bulky Items\",\"Owner\":\"BOS\",\"Status\":\"Open\",\"CreatedDate\":\"2020-01-05 10:00:00\"}\n{broken\n".to_vec()),
    ];
    for (name, bytes) in &files {
        let path = drop.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        settled(&path);
    }
    let config = source(&format!(
        r#"
id = "drop"
type = "files"
interval_secs = 0.2
dir = "{}"
chunk_rows = 100
mapping = "{}"
"#,
        drop.path().display(),
        mapping("la311.toml").display()
    ));
    let app = spawn_with_sources(vec![config]).await;
    crate::helpers::eventually("the files settle", Duration::from_secs(30), || async {
        let settled = std::fs::read_dir(drop.path().join("done")).unwrap().count()
            + std::fs::read_dir(drop.path().join("failed"))
                .unwrap()
                .count();
        (settled >= 7)
            .then_some(())
            .ok_or(format!("{settled} of 7"))
    })
    .await;
    let done = |n: &str| drop.path().join("done").join(n);
    assert!(done("a_requests.csv").is_file() && done("d_events.ndjson").is_file());
    assert!(done("b_same_content.csv").is_file());
    let dup = std::fs::read_to_string(done("b_same_content.csv.reason.txt")).unwrap();
    assert!(dup.contains("same content was processed before"), "{dup}");
    let reason = std::fs::read_to_string(drop.path().join("failed/c_scan.csv.reason.txt")).unwrap();
    assert!(reason.contains("not a text file"), "{reason}");
    assert_eq!(
        current_rows(&app, "complaints").await,
        451,
        "300 + 150 good CSV rows and one NDJSON record"
    );

    let body: Value = app
        .get("/api/sources/drop/quarantine")
        .await
        .json()
        .await
        .unwrap();
    let reasons: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with(&format!(
            "key collision: shares ({}) and its version with an earlier record of this file",
            twin[0]
        ))),
        "{reasons:?}"
    );
    let sources: Value = app.get("/api/sources").await.json().await.unwrap();
    let drop_source = &sources["sources"][0];
    assert_eq!(drop_source["keep"], "quarantine");
    assert_eq!(drop_source["key_collisions"], 1);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("has 2 fields, the header has 35")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("created_at (column CreatedDate): '2020-13-0")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("line 2: not valid JSON")),
        "{reasons:?}"
    );
    let unknown = app.get("/api/sources/nope/quarantine").await;
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}

const SPREADSHEET_MAPPING: &str = r#"
dataset = "complaints"
time_zone = "Asia/Jakarta"
sheet = "Aduan"
[csv]
skip_lines = 1
[fields]
source_id = "Tiket"
category = "Kategori"
opd = "Dinas"
status = { column = "Status", vocabulary = "lapor" }
created_at = { column = "Dibuat", format = ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"] }
lat = "Lat"
lon = "Lon"
"#;

async fn workbooks_and_parquet_files_import_with_typed_cells() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let mapping_path = dir.path().join("aduan.toml");
    std::fs::write(&mapping_path, SPREADSHEET_MAPPING).unwrap();

    // An e-Budgeting-style workbook: a title row, then the header; a real date cell, a text date,
    // numbers as numbers, and one row with an unknown status.
    let xlsx = dir.path().join("aduan.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("Aduan").unwrap();
    sheet
        .write_string(0, 0, "Rekap Aduan Kota Pasuruan, November 2026")
        .unwrap();
    for (col, name) in [
        "Tiket", "Kategori", "Dinas", "Status", "Dibuat", "Lat", "Lon",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(1, col as u16, *name).unwrap();
    }
    let date = rust_xlsxwriter::ExcelDateTime::parse_from_str("2026-11-20 08:30:00").unwrap();
    let format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let rows: [(&str, &str, f64, f64); 3] = [
        ("LPR-1", "selesai", -7.6453, 112.9075),
        ("LPR-2", "Tindak Lanjut", -7.6400, 112.9000),
        ("LPR-3", "hilang", -7.6453, 112.9075),
    ];
    for (i, (ticket, status, lat, lon)) in rows.iter().enumerate() {
        let r = i as u32 + 2;
        sheet.write_string(r, 0, *ticket).unwrap();
        sheet.write_string(r, 1, "Sampah").unwrap();
        sheet.write_string(r, 2, "Dinas Lingkungan Hidup").unwrap();
        sheet.write_string(r, 3, *status).unwrap();
        if i == 1 {
            sheet.write_string(r, 4, "21/11/2026 09:15").unwrap();
        } else {
            sheet
                .write_datetime_with_format(r, 4, &date, &format)
                .unwrap();
        }
        sheet.write_number(r, 5, *lat).unwrap();
        sheet.write_number(r, 6, *lon).unwrap();
    }
    book.save(&xlsx).unwrap();

    // The same records as Parquet with typed columns (no title row there: its own mapping).
    let parquet = dir.path().join("aduan.parquet");
    let mut frame = df!(
        "Tiket" => ["PQ-1", "PQ-2"],
        "Kategori" => ["Jalan Rusak", "Sampah"],
        "Dinas" => ["Dinas PUPR", "Dinas Lingkungan Hidup"],
        "Status" => ["proses", "selesai"],
        "Dibuat" => ["2026-11-20 08:30:00", "2026-11-20 09:00:00"],
        "Lat" => [-7.6453f64, -7.6400],
        "Lon" => [112.9075f64, 112.9000]
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    let parquet_mapping = dir.path().join("aduan_pq.toml");
    std::fs::write(
        &parquet_mapping,
        SPREADSHEET_MAPPING
            .replace("[csv]\nskip_lines = 1\n", "")
            .replace("sheet = \"Aduan\"\n", ""),
    )
    .unwrap();

    let (settings, offline) = offline_at(&dir.path().join("data")).await;
    let summary = offline
        .import(&settings, &mapping_path, "xlsx", &[xlsx], &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (summary.read, summary.stored, summary.quarantined),
        (3, 2, 1),
        "{summary:?}"
    );
    let refused = offline.db.quarantine("xlsx", 0, 10).await.unwrap();
    assert!(
        refused[0]
            .reason
            .contains("status 'hilang' is not a known Lapor status"),
        "{}",
        refused[0].reason
    );
    let summary = offline
        .import(
            &settings,
            &parquet_mapping,
            "parquet",
            &[parquet],
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(
        (summary.read, summary.stored, summary.quarantined),
        (2, 2, 0),
        "{summary:?}"
    );

    // Both the date cell (LPR-1) and the text date (LPR-2) were read; 2 + 2 rows are current.
    let snapshot = offline.store.snapshot();
    let frame = snapshot.table(Dataset::Complaints).current().unwrap();
    assert_eq!(frame.height(), 4);
    drop(offline);
}

async fn reprocess_stores_what_a_fixed_mapping_can_read_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // A mapping that forgot LA's "Cancelled" and "Referred Out" statuses.
    let original = std::fs::read_to_string(mapping("la311.toml")).unwrap();
    let broken = original.replace(
        ", Cancelled = \"rejected\", \"Referred Out\" = \"rejected\"",
        "",
    );
    assert_ne!(
        broken, original,
        "the test edits the shipped mapping's status map"
    );
    let mapping_path = dir.path().join("la.toml");
    std::fs::write(&mapping_path, &broken).unwrap();
    let mut settings = Settings::default();
    settings.data.dir = dir.path().join("data");
    settings.origin = Some(dir.path().join("pantau.toml"));
    settings.sources = vec![source(&format!(
        "id = \"la\"\ntype = \"files\"\ndir = \"{}\"\nmapping = \"la.toml\"\n",
        dir.path().join("drop").display()
    ))];
    let offline = Offline::open(&settings).await.unwrap();
    let file = shared("complaints/la311_2020-01_requests.csv");
    let first = offline
        .import(&settings, &mapping_path, "la", &[file], &mut |_, _| {})
        .await
        .unwrap();
    // 244 cancelled and 2 referred-out requests in the real file.
    assert_eq!(first.quarantined, 246, "{:?}", first.reasons);
    assert!(first
        .reasons
        .keys()
        .any(|r| r.contains("is not a known status")));

    std::fs::write(&mapping_path, &original).unwrap();
    let summary = offline.reprocess(&settings, "la").await.unwrap();
    assert_eq!(
        (summary.retried, summary.stored, summary.still_quarantined),
        (246, 246, 0)
    );
    assert!(offline.db.quarantine("la", 0, 10).await.unwrap().is_empty());
    assert_eq!(
        offline
            .store
            .snapshot()
            .table(Dataset::Complaints)
            .current_rows(),
        10_000
    );
    let unknown = offline.reprocess(&settings, "nope").await.err().unwrap();
    assert!(format!("{unknown:#}").contains("no source 'nope'"));
}

async fn csv_options_read_legacy_exports_semicolons_titles_and_windows_1252() {
    let dir = tempfile::tempdir().unwrap();
    // A legacy e-Sambat export: two title lines, `;` separators, Windows-1252 text (é, –, ’)
    // and Indonesian decimal commas.
    let text = "Rekap Pengaduan e-Sambat\nPeriode: November 2026\nNo;Kategori;Dinas;Status;Tanggal;Lintang;Bujur\nES-1;Penerangan Jalan Umum – Lampu mati;Dinas Perhubungan;proses;21/11/2026 08:15;-7,6453;112,9075\nES-2;Café liar di trotoar;Satpol PP;selesai;21/11/2026 09:40;-7,6400;112,9000\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    let path = dir.path().join("esambat.csv");
    std::fs::write(&path, &bytes).unwrap();
    let mapping_path = dir.path().join("esambat.toml");
    std::fs::write(
        &mapping_path,
        r#"
dataset = "complaints"
number_style = "indonesian"
[csv]
delimiter = ";"
encoding = "windows-1252"
skip_lines = 2
[fields]
source_id = "No"
category = "Kategori"
opd = "Dinas"
status = { column = "Status", vocabulary = "e_sambat" }
created_at = { column = "Tanggal", format = "%d/%m/%Y %H:%M" }
lat = "Lintang"
lon = "Bujur"
"#,
    )
    .unwrap();
    let (settings, offline) = offline_at(&dir.path().join("data")).await;
    let summary = offline
        .import(&settings, &mapping_path, "esambat", &[path], &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (summary.read, summary.stored, summary.quarantined),
        (2, 2, 0),
        "{summary:?}"
    );
    // Both points are in Kota Pasuruan: placed in a kelurahan, not out of jurisdiction.
    assert_eq!(summary.outside, 0);
    let snapshot = offline.store.snapshot();
    let view = snapshot.table(Dataset::Complaints);
    let categories: Vec<&str> = view
        .labels(pantau::store::schema::complaint_col::CATEGORY)
        .iter()
        .map(|s| s.as_ref())
        .collect();
    assert!(
        categories.contains(&"Penerangan Jalan Umum – Lampu mati"),
        "{categories:?}"
    );
    assert!(
        categories.contains(&"Café liar di trotoar"),
        "{categories:?}"
    );
}

/// Whole Rupiah and sen from a report's number (`759243300538.61`), exactly.
fn sen(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 2 {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

async fn the_real_apbd_file_stores_each_line_or_quarantines_its_collision_and_the_sums_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, offline) = offline_at(dir.path()).await;
    let path = shared("budget/diy_realisasi_apbd_2014_2015.csv");
    let summary = offline
        .import(
            &settings,
            &mapping("apbd_realisasi.toml"),
            "apbd",
            std::slice::from_ref(&path),
            &mut |_, _| {},
        )
        .await
        .unwrap();

    // An independent reading of the file: the lines the mapping can use (a code without an empty
    // segment, both amounts), byte-identical lines counted once (one line delivered twice),
    // grouped by key (year, region:OPD, code) and version stamp (the upload time in `berkas`).
    // A stamp with two or more different lines is a collision; of the rest, the newest stamp of a
    // key is its current line and older ones are superseded versions.
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code, pagu, real) = (col("kode_rekening"), col("anggaran"), col("realisasi"));
    let (year, region, org, org_name, file) = (
        col("tahun"),
        col("kode_bps_daerah"),
        col("kode_organisasi"),
        col("nama_organisasi"),
        col("berkas"),
    );
    type Lines = std::collections::BTreeSet<Vec<String>>;
    let mut by_key: std::collections::BTreeMap<
        (String, String, String),
        std::collections::BTreeMap<String, Lines>,
    > = Default::default();
    for record in reader.records() {
        let record = record.unwrap();
        let c = record[code].trim();
        let well_formed = !c.is_empty() && c.split('.').all(|s| !s.trim().is_empty());
        if let (true, Some(_), Some(_)) = (well_formed, sen(&record[pagu]), sen(&record[real])) {
            let opd = if record[org].is_empty() {
                &record[org_name]
            } else {
                &record[org]
            };
            let key = (
                record[year].to_owned(),
                format!("{}:{opd}", &record[region]),
                c.to_owned(),
            );
            by_key
                .entry(key)
                .or_default()
                .entry(record[file].to_owned())
                .or_default()
                .insert(record.iter().map(str::to_owned).collect());
        }
    }
    let (mut current_lines, mut colliding) = (Vec::new(), Vec::new());
    for stamps in by_key.values() {
        let mut newest = None;
        for (stamp, lines) in stamps {
            if lines.len() > 1 {
                colliding.extend(lines.iter().cloned());
            } else if newest
                .as_ref()
                .is_none_or(|(s, _): &(&String, _)| *s < stamp)
            {
                newest = Some((stamp, lines.iter().next().unwrap().clone()));
            }
        }
        current_lines.extend(newest.map(|(_, line)| line));
    }
    let file_sum = |col: usize| -> i64 {
        current_lines
            .iter()
            .chain(&colliding)
            .map(|r| sen(&r[col]).unwrap())
            .sum()
    };
    let (file_pagu, file_real) = (file_sum(pagu), file_sum(real));

    // What Pantau kept: the stored lines, and the collisions with their reasons and payloads.
    let current = offline
        .store
        .snapshot()
        .table(Dataset::BudgetLines)
        .current()
        .unwrap();
    let column_sum = |name: &str| -> i64 {
        current
            .column(name)
            .unwrap()
            .i64()
            .unwrap()
            .into_iter()
            .flatten()
            .sum()
    };
    let quarantine = offline.db.quarantine("apbd", 0, 10_000).await.unwrap();
    let collisions: Vec<Value> = quarantine
        .iter()
        .filter(|r| r.reason.starts_with("key collision: "))
        .map(|r| serde_json::from_str(&r.payload).unwrap())
        .collect();
    assert!(
        quarantine
            .iter()
            .filter(|r| r.reason.starts_with("key collision: "))
            .all(|r| r.reason.contains(" records share (2014, murni, 34")
                || r.reason.contains(" records share (2015, murni, 34")),
        "each reason names the shared key"
    );
    let payload_sum = |name: &str| -> i64 {
        collisions
            .iter()
            .map(|p| sen(p[name].as_str().unwrap()).unwrap())
            .sum()
    };
    assert!(!collisions.is_empty(), "the real file has colliding lines");
    assert_eq!(
        current.height(),
        current_lines.len(),
        "every line stored as its own line"
    );
    assert_eq!(
        collisions.len(),
        colliding.len(),
        "every colliding line quarantined, each payload kept"
    );
    assert_eq!(
        column_sum("pagu") + payload_sum("anggaran"),
        file_pagu,
        "pagu, exact"
    );
    assert_eq!(
        column_sum("realisasi") + payload_sum("realisasi"),
        file_real,
        "realisasi, exact"
    );

    // The summary accounts for every record read once.
    assert_eq!(summary.read, 2_243);
    assert_eq!(summary.keep, "quarantine");
    assert_eq!(
        summary.new_keys
            + summary.new_versions
            + summary.unchanged
            + summary.quarantined
            + summary.merged,
        summary.read
    );
    assert_eq!(
        summary.stored,
        summary.new_keys + summary.new_versions + summary.unchanged
    );
    assert_eq!(summary.new_keys as usize, current.height());
    assert!(summary.collisions_quarantined as usize >= collisions.len());

    // The same file again: nothing new, every stored line unchanged.
    let again = offline
        .import(
            &settings,
            &mapping("apbd_realisasi.toml"),
            "apbd",
            &[path],
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!((again.new_keys, again.new_versions), (0, 0));
    assert_eq!(again.unchanged, summary.stored);
    assert_eq!(again.collisions_quarantined, summary.collisions_quarantined);
}

async fn a_complaint_file_with_a_repeated_id_quarantines_both_and_keep_last_takes_the_later() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, offline) = offline_at(dir.path()).await;
    let la = std::fs::read_to_string(shared("complaints/la311_2020-01_requests.csv")).unwrap();
    let mut lines = la.lines();
    let header = lines.next().unwrap().to_owned();
    let body: Vec<&str> = lines.take(50).collect();
    // The 11th line repeats the 1st line's request number with another request type and the
    // same update time: one pull, one key, one version stamp, two records.
    let first: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body[0].as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let names = csv::Reader::from_reader(header.as_bytes())
        .headers()
        .unwrap()
        .clone();
    let type_at = names
        .iter()
        .position(|h| h.eq_ignore_ascii_case("RequestType"))
        .unwrap();
    let mut twin = first.clone();
    twin[type_at] = format!("{} (second report)", first[type_at]);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut text = format!("{header}\n");
    writer.write_record(&twin).unwrap();
    let twin_line = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    for (i, line) in body.iter().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i == 9 {
            text.push_str(&twin_line);
        }
    }
    let file = dir.path().join("la_twins.csv");
    std::fs::write(&file, text).unwrap();

    let summary = offline
        .import(
            &settings,
            &mapping("la311.toml"),
            "la",
            std::slice::from_ref(&file),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(summary.read, 51);
    assert_eq!(summary.collisions_quarantined, 2, "{:?}", summary.reasons);
    let kept = offline.db.quarantine("la", 0, 100).await.unwrap();
    let twins: Vec<&str> = kept
        .iter()
        .filter(|r| r.reason.starts_with("key collision: 2 records share ("))
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(twins.len(), 2, "both payloads are kept: {kept:?}");
    assert!(
        twins[0].contains(&format!("({})", first[0])) && twins[0].contains("(lines 2, 12)"),
        "{}",
        twins[0]
    );

    // The same file under `keep = "last"`: the later report is the stored one.
    let mut spec = std::fs::read_to_string(mapping("la311.toml")).unwrap();
    spec = format!("keep = \"last\"\n{spec}");
    let last = dir.path().join("la311_last.toml");
    std::fs::write(&last, spec).unwrap();
    let summary = offline
        .import(&settings, &last, "la-last", &[file], &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (summary.collisions_quarantined, summary.merged, summary.keep),
        (0, 1, "last")
    );
    assert_eq!(
        summary.read,
        summary.stored + summary.quarantined + summary.merged
    );
    let snapshot = offline.store.snapshot();
    let view = snapshot.table(Dataset::Complaints);
    let current = view.current().unwrap();
    let category_col = Dataset::Complaints
        .schema()
        .fields
        .iter()
        .position(|f| f.name == "category")
        .unwrap();
    let key_ids = current.column(KEY_ID).unwrap().u32().unwrap().clone();
    let categories = current
        .column("category")
        .unwrap()
        .cast(&polars::prelude::DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .clone();
    let twin_category = (0..current.height()).find_map(|i| {
        let key = view.key(key_ids.get(i)?);
        (key[0].1 == "la-last" && key[1].1 == first[0])
            .then(|| {
                view.label(category_col, categories.get(i)?)
                    .map(str::to_owned)
            })
            .flatten()
    });
    assert_eq!(twin_category.as_deref(), Some(twin[type_at].as_str()));
}
