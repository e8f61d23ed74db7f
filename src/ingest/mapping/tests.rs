use super::*;
use crate::domain::{BudgetVersion, Status};
use crate::store::Batch;

const WIB: Tz = chrono_tz::Asia::Jakarta;

fn mapping(toml_text: &str) -> Result<std::sync::Arc<Mapping>, MappingError> {
    let spec: MappingSpec = toml::from_str(toml_text).expect("spec parses");
    Mapping::new(spec, "test.toml", WIB).map(std::sync::Arc::new)
}

const LA: &str = r#"
dataset = "complaints"
time_zone = "America/Los_Angeles"
[fields]
source_id = { column = ["SRNumber"] }
category = "RequestType"
opd = "Owner"
channel = "RequestSource"
status = { column = "Status", map = { Closed = "resolved", Open = "received", "Referred Out" = "rejected" } }
created_at = { column = "CreatedDate", format = ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"] }
updated_at = { column = "UpdatedDate", format = ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"] }
resolved_at = { column = ["ClosedDate"], format = ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"] }
lat = "Latitude"
lon = "Longitude"
"#;

fn header(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|s| s.to_string()).collect()
}

#[test]
fn csv_rows_map_with_formats_zones_and_status_maps() {
    let m = mapping(LA).unwrap();
    // Lower-case headers (the 2020 LA export) bind to the same mapping.
    let h = header(&[
        "srnumber",
        "createddate",
        "updateddate",
        "closeddate",
        "requesttype",
        "owner",
        "requestsource",
        "status",
        "latitude",
        "longitude",
    ]);
    let bound = m.bind(Layout::Header(&h)).unwrap();
    let rec = csv::StringRecord::from(vec![
        "1-1523590121",
        "2020-01-01 00:05:00",
        "2020-01-02 08:43:00",
        "2020-01-02 08:43:00",
        "Illegal Dumping Pickup",
        "BOS",
        "Call",
        "Closed",
        "34.19402846",
        "-118.4994716",
    ]);
    let Row::Complaint(c) = bound.map(&rec, "la311").unwrap() else {
        panic!("a complaint")
    };
    assert_eq!(c.source, "la311");
    assert_eq!(c.source_id, "1-1523590121");
    assert_eq!(c.status, Status::Resolved);
    assert_eq!(c.created_at.to_rfc3339(), "2020-01-01T08:05:00+00:00");
    assert_eq!(
        c.resolved_at.unwrap().to_rfc3339(),
        "2020-01-02T16:43:00+00:00"
    );
    assert_eq!(c.lat, Some(34.19402846));

    // Every problem of a bad row is named, with its column.
    let bad = csv::StringRecord::from(vec![
        "",
        "31/31/2020",
        "",
        "",
        "Graffiti Removal",
        "OCB",
        "Call",
        "Lost",
        "34.1",
        "",
    ]);
    let reason = bound.map(&bad, "la311").unwrap_err();
    assert!(
        reason.contains("source_id (column SRNumber): no value"),
        "{reason}"
    );
    assert!(
        reason.contains("created_at (column CreatedDate): '31/31/2020' does not match"),
        "{reason}"
    );
    assert!(reason.contains("'Lost' is not a known status"), "{reason}");
}

#[test]
fn a_header_without_a_required_column_is_refused_whole() {
    let m = mapping(LA).unwrap();
    let h = header(&["SRNumber", "CreatedDate"]);
    let err = m
        .bind(Layout::Header(&h))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("fields.category: none of the columns RequestType is in the header"),
        "{err}"
    );
}

#[test]
fn specs_are_checked_when_loaded() {
    let err = mapping(
        r#"
dataset = "complaints"
time_zone = "Asia/Nowhere"
[fields]
source_id = "id"
categori = "cat"
status = { column = "s", format = "%Y" }
created_at = { column = "t", map = { a = "b" }, value = 3 }
"#,
    )
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "test.toml: time_zone 'Asia/Nowhere' is not an IANA zone",
        "fields.categori: complaints has no field 'categori'",
        "fields.status: format applies to times only",
        "fields.created_at: give exactly one of column, template or value",
        "fields.opd: required, but not mapped",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in:\n{text}");
    }
    assert!(mapping("dataset = \"budget\"\n[fields]\n").is_err());
}

#[test]
fn json_records_with_a_vocabulary_and_notes() {
    let m = mapping(
        r#"
dataset = "complaints"
[fields]
source_id = "service_request_id"
category = "service_name"
opd = { column = "agency_responsible", default = "Tidak diketahui" }
status = { column = "status", vocabulary = "open311", notes = "status_notes" }
created_at = "requested_datetime"
updated_at = "updated_datetime"
lat = "lat"
lon = "long"
"#,
    )
    .unwrap();
    let bound = m.bind(Layout::Json).unwrap();
    let rec = serde_json::json!({
        "service_request_id": "1-1", "service_name": "Bulky Items", "status": "closed",
        "status_notes": "Referred Out", "requested_datetime": "2020-01-01T00:05:00-08:00",
        "updated_datetime": "2020-01-02T08:43:00-08:00", "lat": 34.1, "long": -118.2
    });
    let Row::Complaint(c) = bound.map(&rec, "la").unwrap() else {
        panic!("a complaint")
    };
    assert_eq!(c.status, Status::Rejected);
    assert!(c.out_of_jurisdiction, "referred out is not ours to handle");
    assert_eq!(
        c.opd, "Tidak diketahui",
        "the default fills a missing agency"
    );
}

#[test]
fn budget_hierarchy_from_code_prefixes_and_templates() {
    let m = mapping(
        r#"
dataset = "budget_lines"
hierarchy = "code_prefix"
[fields]
fiscal_year = "tahun"
opd = { template = "{daerah}:{kode_organisasi|nama_organisasi}" }
account_code = "kode_rekening"
account_name = "uraian"
period = { value = 12 }
pagu = "anggaran"
realisasi = "realisasi"
updated_at = { column = "berkas", digits = 2, format = "unix" }
"#,
    )
    .unwrap();
    let h = header(&[
        "daerah",
        "tahun",
        "kode_organisasi",
        "nama_organisasi",
        "kode_rekening",
        "uraian",
        "anggaran",
        "realisasi",
        "berkas",
    ]);
    let bound = m.bind(Layout::Header(&h)).unwrap();
    let mut rows = Rows::new(crate::domain::Dataset::BudgetLines);
    for (code, pagu) in [
        ("1.01.1.01.01.00.00.5", "759243300538.61"),
        ("1.01.1.01.01.00.00.5.1", "642912497638.61"),
        ("1.01.1.01.01.00.00.5.1.1", "642912497638.61"),
        ("1.01.1.01.01.02.10.5.2..3", "742736400"),
        ("1.01.1.01.01.00.00.5.2", "-5"),
    ] {
        let rec = csv::StringRecord::from(vec![
            "3403",
            "2014",
            "",
            "Dinas Kependudukan",
            code,
            "BELANJA",
            pagu,
            "1",
            "3403_1470526481.csv",
        ]);
        bound.collect(&rec, "apbd", &mut rows);
    }
    bound.finish(&mut rows);
    let Batch::BudgetLines(lines) = &rows.batch else {
        panic!("budget lines")
    };
    assert_eq!(lines.len(), 3);
    let top = &lines[0];
    assert_eq!((top.level, top.parent_code.as_deref()), (1, None));
    assert_eq!(
        top.opd, "3403:Dinas Kependudukan",
        "template falls back to the name"
    );
    assert_eq!(top.version, BudgetVersion::Murni);
    assert_eq!(top.pagu.sen(), 75_924_330_053_861);
    assert_eq!(top.updated_at.timestamp(), 1_470_526_481);
    let leaf = lines
        .iter()
        .find(|l| l.account_code.ends_with("5.1.1"))
        .unwrap();
    assert_eq!(leaf.level, 3);
    assert_eq!(leaf.parent_code.as_deref(), Some("1.01.1.01.01.00.00.5.1"));
    assert_eq!(rows.refused.len(), 2);
    let reasons: Vec<&str> = rows.refused.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("has an empty segment")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("pagu") && r.contains("negative")),
        "{reasons:?}"
    );
    // The refused record is kept whole, by column name, for the quarantine.
    let (payload, _) = rows
        .refused
        .iter()
        .find(|(_, r)| r.contains("empty segment"))
        .unwrap();
    assert_eq!(payload["kode_rekening"], "1.01.1.01.01.02.10.5.2..3");
}

#[test]
fn a_map_beside_a_vocabulary_can_name_canonical_statuses() {
    let m = mapping(
        r#"
dataset = "complaints"
[fields]
source_id = "id"
category = "cat"
opd = "opd"
created_at = "at"
status = { column = "status", vocabulary = "lapor", map = { "Sudah Ditangani" = "resolved" } }
"#,
    )
    .unwrap();
    let bound = m.bind(Layout::Json).unwrap();
    let record = |status: &str| serde_json::json!({"id": "1", "cat": "Sampah", "opd": "DLH", "at": "2026-11-01T08:00:00+07:00", "status": status});
    let status = |status: &str| match bound.map(&record(status), "t") {
        Ok(Row::Complaint(c)) => Ok(c.status),
        Ok(_) => panic!("a complaint"),
        Err(e) => Err(e),
    };
    assert_eq!(
        status("Sudah Ditangani"),
        Ok(Status::Resolved),
        "mapped to a canonical status"
    );
    assert_eq!(
        status("Tunda"),
        Ok(Status::OnHold),
        "the vocabulary still reads its words"
    );
    assert!(status("Hilang")
        .unwrap_err()
        .contains("not a known Lapor status"));
}

/// A complaint mapping over JSON records `{id, cat, at, up}` with the given `keep`.
fn complaints_keeping(keep: &str) -> std::sync::Arc<Mapping> {
    mapping(&format!(
        r#"
dataset = "complaints"
keep = "{keep}"
[fields]
source_id = "id"
category = "cat"
opd = {{ value = "DLH" }}
status = {{ value = "received" }}
created_at = "at"
updated_at = "up"
"#
    ))
    .unwrap()
}

fn complaint_record(id: &str, category: &str, up: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "cat": category, "at": "2026-11-01T08:00:00+07:00", "up": up})
}

/// The categories of the complaints a batch keeps, in order.
fn categories(rows: &Rows) -> Vec<String> {
    let Batch::Complaints(c) = &rows.batch else {
        panic!("complaints")
    };
    c.iter().map(|c| c.category.clone()).collect()
}

#[test]
fn a_repeated_id_with_the_same_stamp_is_a_collision_and_both_records_are_quarantined() {
    let bound = complaints_keeping("quarantine").bind(Layout::Json).unwrap();
    let mut rows = Rows::new(crate::domain::Dataset::Complaints);
    let at = "2026-11-01T09:00:00+07:00";
    for record in [
        complaint_record("A-1", "Sampah", at),
        complaint_record("A-2", "Jalan", at),
        complaint_record("A-1", "Banjir", at),
        // A newer version of A-2, and an exact repeat of it: versions and repeats, no collision.
        complaint_record("A-2", "Jalan rusak", "2026-11-01T10:00:00+07:00"),
        complaint_record("A-2", "Jalan rusak", "2026-11-01T10:00:00+07:00"),
    ] {
        bound.collect(&record, "lapor", &mut rows);
    }
    bound.finish(&mut rows);
    assert_eq!(categories(&rows), ["Jalan", "Jalan rusak", "Jalan rusak"]);
    assert_eq!(
        rows.collisions,
        Settled {
            quarantined: 2,
            merged: 0
        }
    );
    assert_eq!(rows.len(), 5, "every record is accounted for");
    let reasons: Vec<&str> = rows.refused.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons, ["key collision: 2 records share (A-1)"; 2]);
    let kept: Vec<&str> = rows
        .refused
        .iter()
        .map(|(p, _)| p["cat"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["Sampah", "Banjir"], "both payloads, as delivered");
}

#[test]
fn keep_first_and_last_choose_by_delivery_order_and_count_the_rest_as_merged() {
    let at = "2026-11-01T09:00:00+07:00";
    for (keep, expected) in [("first", "Sampah"), ("last", "Pohon")] {
        let bound = complaints_keeping(keep).bind(Layout::Json).unwrap();
        let mut rows = Rows::new(crate::domain::Dataset::Complaints);
        for category in ["Sampah", "Banjir", "Pohon"] {
            bound.collect(&complaint_record("A-1", category, at), "lapor", &mut rows);
        }
        bound.finish(&mut rows);
        assert_eq!(categories(&rows), [expected], "keep = {keep}");
        assert_eq!(
            rows.collisions,
            Settled {
                quarantined: 0,
                merged: 2
            }
        );
        assert!(rows.refused.is_empty());
        assert_eq!(rows.len(), 3);
    }
}

#[test]
fn keep_sum_is_for_budget_lines_and_adds_their_amounts_exactly() {
    let refused = complaints_keeping_err("sum");
    assert!(
        refused.contains("keep = \"sum\" applies to budget_lines only"),
        "{refused}"
    );
    let m = mapping(
        r#"
dataset = "budget_lines"
keep = "sum"
[fields]
fiscal_year = { value = 2026 }
opd = { value = "1.01.01" }
account_code = "code"
account_name = "name"
period = { value = 12 }
level = { value = 1 }
pagu = "pagu"
realisasi = "real"
updated_at = { value = "2026-11-30T00:00:00+07:00" }
"#,
    )
    .unwrap();
    let bound = m.bind(Layout::Json).unwrap();
    let mut rows = Rows::new(crate::domain::Dataset::BudgetLines);
    for (code, pagu, real) in [
        ("5.2.1", "3595000", "3595000"),
        ("5.2.2", "4035000", "4035000"),
        ("5.2.1", "14000000", "13770000.50"),
    ] {
        let record =
            serde_json::json!({"code": code, "name": "BELANJA", "pagu": pagu, "real": real});
        bound.collect(&record, "apbd", &mut rows);
    }
    bound.finish(&mut rows);
    let Batch::BudgetLines(lines) = &rows.batch else {
        panic!("budget lines")
    };
    let summed: Vec<(&str, i64, i64)> = lines
        .iter()
        .map(|l| (l.account_code.as_str(), l.pagu.sen(), l.realisasi.sen()))
        .collect();
    assert_eq!(
        summed,
        [
            ("5.2.1", 1_759_500_000, 1_736_500_050),
            ("5.2.2", 403_500_000, 403_500_000)
        ]
    );
    assert_eq!(
        rows.collisions,
        Settled {
            quarantined: 0,
            merged: 1
        }
    );
}

fn complaints_keeping_err(keep: &str) -> String {
    mapping(&format!(
        "dataset = \"complaints\"\nkeep = \"{keep}\"\n[fields]\nsource_id = \"id\"\ncategory = \"c\"\nopd = \"o\"\nstatus = \"s\"\ncreated_at = \"t\"\n"
    ))
    .unwrap_err()
    .to_string()
}

#[test]
fn a_collision_between_chunks_of_one_file_quarantines_the_later_record() {
    let bound = complaints_keeping("quarantine").bind(Layout::Json).unwrap();
    let mut seen = FileKeys::default();
    let at = "2026-11-01T09:00:00+07:00";
    let mut first = Rows::new(crate::domain::Dataset::Complaints);
    bound.collect(&complaint_record("A-1", "Sampah", at), "lapor", &mut first);
    bound.collect(&complaint_record("A-2", "Jalan", at), "lapor", &mut first);
    bound.finish_chunk(&mut first, &mut seen);
    assert_eq!(categories(&first), ["Sampah", "Jalan"]);
    let mut second = Rows::new(crate::domain::Dataset::Complaints);
    // A-1 again with other values: a collision with a stored record; A-2 repeated exactly: not.
    bound.collect(&complaint_record("A-1", "Banjir", at), "lapor", &mut second);
    bound.collect(&complaint_record("A-2", "Jalan", at), "lapor", &mut second);
    bound.finish_chunk(&mut second, &mut seen);
    assert_eq!(categories(&second), ["Jalan"]);
    assert_eq!(second.collisions.quarantined, 1);
    assert!(
        second.refused[0].1.starts_with(
            "key collision: shares (A-1) and its version with an earlier record of this file"
        ),
        "{}",
        second.refused[0].1
    );
    assert_eq!(second.refused[0].0["cat"], "Banjir");
}

#[test]
fn values_compare_in_lower_case_with_single_spaces() {
    assert_eq!(normalise("  Sampah   LIAR\t"), "sampah liar");
    assert_eq!(normalise("JALAN\tÜBER  Rusak"), "jalan über rusak");
    assert_eq!(normalise(" \t "), "");
}

#[test]
fn canonical_statuses_read_by_their_names_in_either_spelling() {
    for status in Status::ALL {
        let name = serde_json::to_value(status).unwrap();
        let name = name.as_str().unwrap();
        assert_eq!(rows::parse_status(name), Some(status), "{name}");
        let spaced = name.replace('_', " ").to_uppercase();
        assert_eq!(rows::parse_status(&format!(" {spaced} ")), Some(status));
    }
    assert_eq!(rows::parse_status("selesai"), None);
}
