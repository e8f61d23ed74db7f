//! Files through the real mappings: `pantau import` of the real LA/NYC/Open311/APBD files with
//! every record accounted for, a drop folder with good, bad and non-CSV files, workbooks and
//! Parquet, reprocessing after a mapping fix, and the data dir's lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pantau::config::Settings;
use pantau::domain::Dataset;
use pantau::startup::offline::Offline;
use serde_json::Value;

use super::{current_rows, mapping, offline_at, shared, source, spawn_with_sources};

crate::tests! {
    async shipped_mappings_import_the_real_files_and_every_record_is_accounted_for,
    async a_second_process_cannot_open_a_data_dir_in_use,
    async drop_folder_stores_good_files_quarantines_bad_rows_and_refuses_non_csv,
    async workbooks_and_parquet_files_import_with_typed_cells,
    async reprocess_stores_what_a_fixed_mapping_can_read_and_keeps_the_rest,
    async csv_options_read_legacy_exports_semicolons_titles_and_windows_1252,
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
            2_069,
            174,
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
    let files = [
        ("a_requests.csv", csv.clone().into_bytes()),
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
        (settled >= 6)
            .then_some(())
            .ok_or(format!("{settled} of 6"))
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
        301,
        "300 good CSV rows and one NDJSON record"
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
    assert_eq!(reasons.len(), 3, "{reasons:?}");
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
