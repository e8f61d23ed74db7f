//! Exports of a real store read back with independent readers (the `csv` crate, calamine for
//! XLSX, polars for Parquet, the `geojson` crate, serde_json) and compared with what was stored.

// Amounts in sen are written `rupiah_sen` (1_234_567_890_12 is Rp 1.234.567.890,12).
#![allow(clippy::inconsistent_digit_grouping)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::dashboards::FilterInput;
use crate::domain::Dataset;
use crate::domain::{BudgetLine, BudgetVersion, Complaint, Rupiah, Status, DEFAULT_TIME_ZONE};
use crate::store::{Batch, Store, StoreSnapshot};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Two complaints, one updated later; one has awkward text, the other a location.
fn complaints() -> Vec<Vec<Complaint>> {
    let mut first = Complaint::new(
        "lapor",
        "LPR-1",
        "Jalan, \"Rusak\"",
        "Dinas PUPR",
        at("2026-11-01T01:00:00Z"),
    );
    first.kelurahan = Some("35.75.01.1001".parse().unwrap());
    first.lat = Some(-7.645123);
    first.lon = Some(112.908765);
    first.sla_due_at = Some(at("2026-11-04T01:00:00Z"));
    let mut second = Complaint::new(
        "lapor",
        "LPR-2",
        "Sampah",
        "DLH",
        at("2026-11-02T10:30:00Z"),
    );
    second.subcategory = Some("Liar\nmalam hari".into());
    second.status = Status::Resolved;
    second.resolved_at = Some(at("2026-11-02T15:00:00Z"));
    second.rating = Some(4);
    second.out_of_jurisdiction = true;
    let mut later = first.clone();
    later.status = Status::InProgress;
    later.updated_at = at("2026-11-03T02:00:00Z");
    later.first_response_at = Some(at("2026-11-03T02:00:00Z"));
    vec![vec![first, second], vec![later]]
}

fn budget() -> Vec<BudgetLine> {
    let line =
        |code: &str, level: u8, parent: Option<&str>, pagu: i64, realisasi: i64| BudgetLine {
            source: "sipd".into(),
            fiscal_year: 2026,
            version: BudgetVersion::Murni,
            opd: "1.02.01".into(),
            account_code: code.into(),
            period: 10,
            level,
            parent_code: parent.map(str::to_owned),
            account_name: format!("Belanja {code}"),
            pagu: Rupiah::from_sen(pagu),
            anggaran_kas: Rupiah::from_sen(pagu / 2),
            realisasi: Rupiah::from_sen(realisasi),
            updated_at: at("2026-11-01T00:00:00Z"),
        };
    vec![
        line("5", 1, None, 1_234_567_890_12, 987_654_321_01),
        line("5.1", 2, Some("5"), 1_000_000_000_05, 900_000_000_99),
    ]
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), Default::default())
        .await
        .unwrap();
    for batch in complaints() {
        store.append(Batch::Complaints(batch)).await.unwrap();
    }
    store.append(Batch::BudgetLines(budget())).await.unwrap();
    (dir, store)
}

fn request(dataset: Dataset) -> DatasetRequest {
    DatasetRequest {
        dataset,
        filters: Vec::new(),
        columns: None,
        as_of: None,
        limit: None,
        time_zone: DEFAULT_TIME_ZONE,
        to_date: false,
    }
}

fn export(
    snapshot: &Arc<StoreSnapshot>,
    request: &DatasetRequest,
    format: Format,
    tmp: &std::path::Path,
) -> Vec<u8> {
    let rows = DatasetExport::prepare(snapshot.clone(), request, 1_000, at("2026-11-27T00:00:00Z"))
        .unwrap();
    let meta =
        Meta::new(request.dataset.name(), DEFAULT_TIME_ZONE, tmp.to_path_buf()).with("test", true);
    let mut out = Vec::new();
    let written = write(&rows, format, &meta, Box::new(&mut out)).unwrap();
    assert_eq!(written, rows.total());
    out
}

fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = ::csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[tokio::test]
async fn csv_has_every_column_with_offsets_exact_money_and_quoted_text() {
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let bytes = export(
        &snapshot,
        &request(Dataset::Complaints),
        Format::Csv,
        dir.path(),
    );
    let (header, rows) = csv_rows(&bytes);
    assert_eq!(
        header,
        [
            "source",
            "source_id",
            "category",
            "subcategory",
            "channel",
            "opd",
            "status",
            "out_of_jurisdiction",
            "kecamatan",
            "kelurahan",
            "lat",
            "lon",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "sla_due_at",
            "rating"
        ]
    );
    assert_eq!(rows.len(), 2, "current versions only");
    let by_id = |id: &str| rows.iter().find(|r| r[1] == id).unwrap().clone();
    let first = by_id("LPR-1");
    assert_eq!(first[2], "Jalan, \"Rusak\"");
    assert_eq!(first[6], "in_progress", "the newer version is current");
    assert_eq!(
        (first[10].as_str(), first[11].as_str()),
        ("-7.645123", "112.908765")
    );
    assert_eq!(
        first[12], "2026-11-01T08:00:00+07:00",
        "times in WIB with the offset"
    );
    assert_eq!(first[14], "2026-11-03T09:00:00+07:00");
    assert_eq!(first[17], "", "a missing value is an empty field");
    let second = by_id("LPR-2");
    assert_eq!(
        second[3], "Liar\nmalam hari",
        "a line break survives quoting"
    );
    assert_eq!(second[7], "true");
    assert_eq!(second[17], "4");

    let bytes = export(
        &snapshot,
        &request(Dataset::BudgetLines),
        Format::Csv,
        dir.path(),
    );
    let (header, rows) = csv_rows(&bytes);
    let pagu = header.iter().position(|h| h == "pagu").unwrap();
    let realisasi = header.iter().position(|h| h == "realisasi").unwrap();
    assert_eq!(rows[0][pagu], "1234567890.12");
    assert_eq!(rows[0][realisasi], "987654321.01");
    assert_eq!(rows[1][pagu], "1000000000.05");
}

#[tokio::test]
async fn xlsx_cells_are_typed_dates_numbers_and_text() {
    use calamine::{Data, DataType, Reader, Xlsx};
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let bytes = export(
        &snapshot,
        &request(Dataset::Complaints),
        Format::Xlsx,
        dir.path(),
    );
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["complaints", "info"]);
    let sheet = book.worksheet_range("complaints").unwrap();
    let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows[0][12], Data::String("created_at".into()));
    let first = rows
        .iter()
        .find(|r| r[1] == Data::String("LPR-1".into()))
        .unwrap();
    // A date-time cell in local (WIB) time.
    let created = first[12]
        .as_datetime()
        .expect("created_at is a date-time cell");
    assert_eq!(created.to_string(), "2026-11-01 08:00:00");
    assert_eq!(first[10], Data::Float(-7.645123));
    assert_eq!(first[7], Data::Bool(false));
    let second = rows
        .iter()
        .find(|r| r[1] == Data::String("LPR-2".into()))
        .unwrap();
    assert_eq!(second[17], Data::Float(4.0));
    let info = book.worksheet_range("info").unwrap();
    let facts: Vec<String> = info.rows().map(|r| r[0].to_string()).collect();
    assert!(facts.contains(&"time_zone".to_owned()), "{facts:?}");

    let bytes = export(
        &snapshot,
        &request(Dataset::BudgetLines),
        Format::Xlsx,
        dir.path(),
    );
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("budget_lines").unwrap();
    let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let pagu = rows[0]
        .iter()
        .position(|h| *h == Data::String("pagu".into()))
        .unwrap();
    assert_eq!(
        rows[1][pagu],
        Data::Float(1_234_567_890.12),
        "Rupiah as a number cell"
    );
}

#[tokio::test]
async fn parquet_keeps_the_dataset_schema_with_utc_times_and_exact_decimals() {
    use polars::prelude::*;
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let bytes = export(
        &snapshot,
        &request(Dataset::Complaints),
        Format::Parquet,
        dir.path(),
    );
    let frame = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    assert_eq!(frame.height(), 2);
    assert_eq!(
        frame.column("created_at").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
    );
    let ids = frame.column("source_id").unwrap().str().unwrap().clone();
    let row = ids.into_iter().position(|id| id == Some("LPR-1")).unwrap();
    let created = frame
        .column("created_at")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .get(row);
    assert_eq!(created, Some(at("2026-11-01T01:00:00Z").timestamp_micros()));
    assert_eq!(
        frame.column("lat").unwrap().f64().unwrap().get(row),
        Some(-7.645123)
    );
    // Labels are dictionary-encoded (an enum of the column's labels), read as text.
    let status = frame
        .column("status")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    assert_eq!(status.str().unwrap().get(row), Some("in_progress"));

    let bytes = export(
        &snapshot,
        &request(Dataset::BudgetLines),
        Format::Parquet,
        dir.path(),
    );
    let frame = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    let pagu = frame.column("pagu").unwrap();
    assert_eq!(pagu.dtype(), &DataType::Decimal(38, 2));
    let sen: Vec<Option<i128>> = pagu.decimal().unwrap().physical().into_iter().collect();
    assert_eq!(sen, [Some(1_234_567_890_12), Some(1_000_000_000_05)]);
}

#[tokio::test]
async fn geojson_and_json_carry_points_properties_and_facts() {
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let bytes = export(
        &snapshot,
        &request(Dataset::Complaints),
        Format::Geojson,
        dir.path(),
    );
    let parsed: geojson::GeoJson = std::str::from_utf8(&bytes)
        .unwrap()
        .parse()
        .expect("valid GeoJSON");
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a FeatureCollection")
    };
    assert_eq!(collection.features.len(), 2);
    let first = collection
        .features
        .iter()
        .find(|f| f.property("source_id") == Some(&Value::from("LPR-1")))
        .unwrap();
    let geometry = first
        .geometry
        .as_ref()
        .expect("a located complaint is a point");
    assert_eq!(
        geometry.value,
        geojson::Value::Point(vec![112.908765, -7.645123]),
        "[lon, lat]"
    );
    assert!(
        first.property("lat").is_none(),
        "coordinates are the geometry"
    );
    let second = collection
        .features
        .iter()
        .find(|f| f.property("source_id") == Some(&Value::from("LPR-2")))
        .unwrap();
    assert!(second.geometry.is_none(), "no location: null geometry");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["pantau"]["test"], true);

    let bytes = export(
        &snapshot,
        &request(Dataset::BudgetLines),
        Format::Json,
        dir.path(),
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        doc["columns"][9],
        serde_json::json!({"name": "pagu", "type": "rupiah"})
    );
    assert_eq!(
        doc["rows"][0]["pagu"], "1234567890.12",
        "money as an exact decimal string"
    );
    assert_eq!(doc["rows"][0]["updated_at"], "2026-11-01T07:00:00+07:00");
    assert_eq!(doc["rows"][1]["level"], 2);

    // Budget lines have no geometry: refused, with what to do instead.
    let rows = DatasetExport::prepare(
        snapshot.clone(),
        &request(Dataset::BudgetLines),
        1_000,
        Utc::now(),
    )
    .unwrap();
    let meta = Meta::new("budget_lines", DEFAULT_TIME_ZONE, dir.path().to_path_buf());
    let err = write(&rows, Format::Geojson, &meta, Box::new(Vec::new())).unwrap_err();
    assert_eq!(err.code(), "no_geometry");
}

#[tokio::test]
async fn an_as_of_export_shows_the_state_before_later_updates() {
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let mut before = request(Dataset::Complaints);
    before.as_of = Some(at("2026-11-02T12:00:00Z"));
    let (_, rows) = csv_rows(&export(&snapshot, &before, Format::Csv, dir.path()));
    let first = rows.iter().find(|r| r[1] == "LPR-1").unwrap();
    assert_eq!(
        first[6], "received",
        "as of 2 Nov the update of 3 Nov had not happened"
    );
    assert_eq!(first[14], "");
    assert_eq!(rows.len(), 2);
    before.as_of = Some(at("2026-11-01T12:00:00Z"));
    let (_, rows) = csv_rows(&export(&snapshot, &before, Format::Csv, dir.path()));
    assert_eq!(rows.len(), 1, "the second complaint was filed later");
}

#[tokio::test]
async fn filters_columns_and_limits_choose_what_is_written() {
    let (dir, store) = store().await;
    let snapshot = store.snapshot();
    let mut r = request(Dataset::Complaints);
    let input = |field: &str, op: &str, v: &[&str]| {
        FilterInput::from_text(
            Dataset::Complaints,
            field,
            op,
            &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    r.filters = check_filters(
        Dataset::Complaints,
        &[input("status", "equals", &["resolved", "rejected"])],
    )
    .unwrap();
    r.columns = Some(vec![
        "source_id".into(),
        "rating".into(),
        "created_at".into(),
    ]);
    let (header, rows) = csv_rows(&export(&snapshot, &r, Format::Csv, dir.path()));
    assert_eq!(header, ["source_id", "rating", "created_at"]);
    assert_eq!(rows, [["LPR-2", "4", "2026-11-02T17:30:00+07:00"]]);

    let mut r = request(Dataset::Complaints);
    r.filters = check_filters(
        Dataset::Complaints,
        &[input("created_at", "min", &["2026-11-02T00:00:00+07:00"])],
    )
    .unwrap();
    let (_, rows) = csv_rows(&export(&snapshot, &r, Format::Csv, dir.path()));
    assert_eq!(rows.len(), 1);

    let mut r = request(Dataset::Complaints);
    r.limit = Some(1);
    let rows = DatasetExport::prepare(snapshot.clone(), &r, 1_000, Utc::now()).unwrap();
    assert_eq!(rows.total(), 1);
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_written() {
    let (_dir, store) = store().await;
    let snapshot = store.snapshot();
    let now = at("2026-11-27T00:00:00Z");
    let refuse = |r: DatasetRequest, max: u64| {
        DatasetExport::prepare(snapshot.clone(), &r, max, now)
            .err()
            .unwrap()
    };
    let mut r = request(Dataset::Complaints);
    r.columns = Some(vec!["source_id".into(), "ratting".into()]);
    let e = refuse(r, 1_000);
    assert_eq!(e.code(), "invalid_parameter");
    assert!(e.to_string().contains("unknown column `ratting`"), "{e}");

    // A name given twice is the client's mistake (it was a 500 from the writer).
    let mut r = request(Dataset::Complaints);
    r.columns = Some(vec!["status".into(), "source_id".into(), "status".into()]);
    let e = refuse(r, 1_000);
    assert_eq!(e.code(), "invalid_parameter");
    assert!(
        e.to_string()
            .contains("column `status` named more than once"),
        "{e}"
    );

    // Many unknown names: the dataset's columns are listed once, not once per name.
    let mut r = request(Dataset::Complaints);
    r.columns = Some((0..500).map(|i| format!("no_such_{i}")).collect());
    let e = refuse(r, 1_000);
    let text = e.to_string();
    assert!(text.contains("unknown columns `no_such_0`"), "{text}");
    assert!(text.contains("and 490 more"), "{text}");
    assert_eq!(text.matches("source_id").count(), 1, "{text}");
    assert!(text.len() < 2_000, "{} bytes", text.len());

    let mut r = request(Dataset::Complaints);
    r.as_of = Some(at("2026-12-27T00:00:00Z"));
    let e = refuse(r, 1_000);
    assert_eq!(e.code(), "as_of_out_of_range");
    assert!(e.to_string().contains("in the future"), "{e}");

    let mut r = request(Dataset::Complaints);
    r.as_of = Some(at("2020-01-01T00:00:00Z"));
    let e = refuse(r, 1_000);
    assert!(
        e.to_string()
            .contains("before the oldest complaints record"),
        "{e}"
    );
    assert!(e.to_string().contains("2026-11-01T08:00:00+07:00"), "{e}");

    let e = refuse(request(Dataset::Complaints), 1);
    assert_eq!(e.code(), "too_many_rows");
    assert!(
        e.to_string().starts_with("2 rows match, more than the 1"),
        "{e}"
    );

    assert_eq!(Format::parse("xls").unwrap_err().code(), "unknown_format");
    assert_eq!(Format::parse("XLSX").unwrap(), Format::Xlsx);
}

#[tokio::test]
async fn a_large_export_streams_in_blocks_and_spans_sheets() {
    // 1,100,000 rows: more than one XLSX sheet holds, many CSV blocks.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), Default::default())
        .await
        .unwrap();
    let start = at("2026-01-01T00:00:00Z");
    for b in 0..11 {
        let batch = (0..100_000)
            .map(|i| {
                let n = b * 100_000 + i;
                Complaint::new(
                    "sim",
                    &format!("S-{n}"),
                    "Sampah",
                    "DLH",
                    start + chrono::Duration::seconds(n),
                )
            })
            .collect();
        store.append(Batch::Complaints(batch)).await.unwrap();
    }
    let snapshot = store.snapshot();
    let rows = DatasetExport::prepare(
        snapshot,
        &request(Dataset::Complaints),
        2_000_000,
        Utc::now(),
    )
    .unwrap();
    let meta = Meta::new("complaints", DEFAULT_TIME_ZONE, dir.path().to_path_buf());
    let mut count = 0usize;
    struct Lines<'a>(&'a mut usize);
    impl std::io::Write for Lines<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            *self.0 += buf.iter().filter(|b| **b == b'\n').count();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    assert_eq!(
        write(&rows, Format::Csv, &meta, Box::new(Lines(&mut count))).unwrap(),
        1_100_000
    );
    assert_eq!(count, 1_100_001, "a header and every row");

    let path = dir.path().join("big.xlsx");
    let file = std::fs::File::create(&path).unwrap();
    write(&rows, Format::Xlsx, &meta, Box::new(file)).unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["complaints", "complaints (2)", "info"]);
    let second = book.worksheet_range("complaints (2)").unwrap();
    assert_eq!(second.height(), 1_100_000 - 1_048_575 + 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "store" && e.file_name() != "big.xlsx")
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files removed: {leftovers:?}"
    );
}

#[test]
fn local_times_and_amounts_are_written_exactly() {
    let mut out = Vec::new();
    write_money(-50, &mut out);
    out.push(b' ');
    write_money(123_456_789_01, &mut out);
    out.push(b' ');
    write_coord(-7_000_001, &mut out);
    out.push(b' ');
    write_coord(5, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "-0.50 123456789.01 -7.000001 0.000005"
    );
    let meta = Meta::new("a/b:c", DEFAULT_TIME_ZONE, std::env::temp_dir());
    assert_eq!(
        meta.file_name(
            Format::Csv,
            Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap()
        ),
        "a-b-c-20261127T210000.csv"
    );
}
