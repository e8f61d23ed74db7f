//! Exports and snapshots over HTTP and from the command line, against real LA 311 data imported
//! into a real store; every file is read back with an independent reader (the `csv` crate,
//! calamine, polars, the `geojson` crate) and compared with the server's own numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pantau::config::Settings;
use serde_json::{json, Value};

use crate::cli::pantau;
use crate::helpers::{eventually, spawn_app_with, AppOptions, Backend, TestApp};
use crate::sources::{mapping, offline_at, shared, source};

crate::tests! {
    async dataset_exports_in_every_format_hold_exactly_the_stored_rows,
    async bad_export_requests_get_a_clear_error_before_any_byte,
    async a_client_that_runs_too_many_exports_at_once_is_told_to_wait,
    async a_download_nobody_reads_is_abandoned_and_frees_its_slot,
    async a_slow_download_outlasts_the_request_timeout_and_arrives_whole,
    async panel_exports_hold_the_values_on_screen_and_the_rows_behind_them,
    per_backend snapshots_stay_as_taken_while_the_data_moves_on_both_databases,
    async snapshot_requests_are_checked,
    async pantau_export_writes_the_same_rows_from_the_data_dir_and_from_a_server,
    needs(Tmpfs) async an_export_the_disk_cannot_hold_is_aborted_not_cut_short,
}

/// A data dir holding the 9,995 stored rows of the real January 2020 LA 311 export (imported
/// through the shipped mapping, as `pantau import` does).
async fn la_data_dir() -> tempfile::TempDir {
    la_data_dir_of(&["complaints/la311_2020-01_requests.csv"], 9_900).await
}

/// A data dir holding `files` (under `../shared/data/`), at least `stored` rows of them.
async fn la_data_dir_of(files: &[&str], stored: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (settings, offline) = offline_at(dir.path()).await;
    let summary = offline
        .import(
            &settings,
            &mapping("la311.toml"),
            "la311",
            &files.iter().map(|f| shared(f)).collect::<Vec<_>>(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert!(summary.stored as u64 > stored, "{summary:?}");
    offline.db.close().await;
    drop(offline);
    dir
}

/// `/metrics` counts a failed export of `format`.
async fn assert_failed_export_counted(app: &TestApp, format: &str) {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pantau_exports_total{")
                && l.contains(&format!("format=\"{format}\""))
                && l.contains("outcome=\"failed\"")),
        "a failed {format} export is counted:\n{metrics}"
    );
}

/// A quiet app serving `data`, on `backend`, with `tweak` applied.
async fn serve(data: &Path, backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data = data.to_path_buf();
    spawn_app_with(
        AppOptions {
            backend,
            simulator: false,
        },
        move |s| {
            s.data.dir = data;
            tweak(s);
        },
    )
    .await
}

async fn download(
    app: &TestApp,
    path: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.get(path).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .expect("the transfer completed")
        .to_vec();
    (status, headers, bytes)
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn error_of(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn csv_records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("well-formed CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    (header, rows)
}

/// Waits until the dashboard panel has a value.
async fn panel_value(app: &TestApp, dashboard: &str, panel: &str) -> Value {
    let path = format!("/api/dashboards/{dashboard}/panels/{panel}");
    eventually(
        &format!("{panel} computed"),
        Duration::from_secs(20),
        || async {
            let response = app.get(&path).await;
            if response.status().is_success() {
                let body: Value = response.json().await.unwrap();
                Ok(body["value"].clone())
            } else {
                Err(response.status())
            }
        },
    )
    .await
}

async fn dataset_exports_in_every_format_hold_exactly_the_stored_rows() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |_| {}).await;
    let datasets = json_of(&app, "/api/datasets").await;
    let stored = datasets["datasets"][0]["rows"].as_u64().unwrap();
    let seq = datasets["seq"].as_u64().unwrap();
    // The funnel panel counts per status: the exports must agree with it.
    let funnel = panel_value(&app, "la-311", "status").await;

    // CSV: every row once, statuses as the panel counts them, times in WIB.
    let (status, headers, bytes) =
        download(&app, "/api/datasets/complaints/export?format=csv").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["x-pantau-rows"], stored.to_string().as_str());
    assert_eq!(headers["x-pantau-seq"], seq.to_string().as_str());
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"complaints-"));
    let (header, rows) = csv_records(&bytes);
    assert_eq!(rows.len() as u64, stored);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let ids: std::collections::HashSet<&String> =
        rows.iter().map(|r| &r[col("source_id")]).collect();
    assert_eq!(ids.len() as u64, stored, "no key twice");
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *by_status.entry(r[col("status")].clone()).or_default() += 1;
    }
    for (stage, measures) in funnel["stages"].as_object().unwrap() {
        assert_eq!(
            by_status.get(stage).copied().unwrap_or(0),
            measures["n"].as_u64().unwrap(),
            "{stage}"
        );
    }
    // The first LA request: filed 2020-01-01 00:05 in Los Angeles = 15:05 WIB.
    let first = rows
        .iter()
        .find(|r| r[col("source_id")] == "1-1523590121")
        .unwrap();
    assert_eq!(first[col("created_at")], "2020-01-01T15:05:00+07:00");
    assert_eq!(first[col("category")], "Illegal Dumping Pickup");
    assert_eq!(first[col("lat")], "34.194028");

    // Parquet read back by polars: the same rows and schema.
    let (_, _, bytes) = download(&app, "/api/datasets/complaints/export?format=parquet").await;
    let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    use polars::prelude::SerReader;
    assert_eq!(frame.height() as u64, stored);
    let status = frame
        .column("status")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let resolved = status
        .str()
        .unwrap()
        .into_iter()
        .filter(|s| *s == Some("resolved"))
        .count() as u64;
    assert_eq!(resolved, by_status["resolved"]);

    // XLSX read back by calamine: one sheet of rows plus the info sheet.
    let (_, headers, bytes) = download(&app, "/api/datasets/complaints/export?format=xlsx").await;
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["complaints", "info"]);
    assert_eq!(
        book.worksheet_range("complaints").unwrap().height() as u64,
        stored + 1
    );

    // GeoJSON: a valid FeatureCollection, located requests as points in Los Angeles.
    let (_, headers, bytes) =
        download(&app, "/api/datasets/complaints/export?format=geojson").await;
    assert_eq!(headers["content-type"], "application/geo+json");
    let parsed: geojson::GeoJson = std::str::from_utf8(&bytes)
        .unwrap()
        .parse()
        .expect("valid GeoJSON");
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a collection")
    };
    assert_eq!(collection.features.len() as u64, stored);
    let points: Vec<(f64, f64)> = collection
        .features
        .iter()
        .filter_map(|f| match f.geometry.as_ref().map(|g| &g.value) {
            Some(geojson::Value::Point(p)) => Some((p[0], p[1])),
            _ => None,
        })
        .collect();
    assert!(points.len() as u64 > stored * 9 / 10);
    assert!(
        points
            .iter()
            .all(|(lon, lat)| (-119.0..-117.0).contains(lon) && (33.0..35.0).contains(lat)),
        "[lon, lat] order"
    );

    // Over HTTP compression: CSV shrinks, Parquet and XLSX (compressed already) pass as they are.
    for (format, gzipped) in [("csv", true), ("parquet", false), ("xlsx", false)] {
        let response = app
            .client
            .get(app.url(&format!(
                "/api/datasets/complaints/export?format={format}&limit=2000"
            )))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{format}");
        let headers = response.headers().clone();
        let encoding = headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            encoding.as_deref() == Some("gzip"),
            gzipped,
            "{format}: {headers:?}"
        );
        // Read to the end, so this export has finished before the next starts.
        response.bytes().await.unwrap();
    }

    // JSON with filters, chosen columns and a limit.
    let doc = json_of(
        &app,
        "/api/datasets/complaints/export?format=json&columns=source_id,status,created_at&filter.status=resolved&filter.created_at.min=2020-01-02T00:00:00-08:00&limit=5",
    )
    .await;
    assert_eq!(
        doc["columns"],
        json!([{"name": "source_id", "type": "string"}, {"name": "status", "type": "string"}, {"name": "created_at", "type": "timestamp"}])
    );
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["status"] == "resolved"
        && r["created_at"].as_str().unwrap() >= "2020-01-02T15:00:00+07:00"));
    assert_eq!(doc["export"]["filters"][0], "filter.status=resolved");
    app.stop().await;
}

async fn bad_export_requests_get_a_clear_error_before_any_byte() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |s| s.export.max_rows = 1_000).await;
    for (path, status, code, says) in [
        (
            "/api/datasets/complaints/export?format=xls",
            400,
            "unknown_format",
            "use one of csv, xlsx, parquet, geojson, json",
        ),
        (
            "/api/datasets/complaints/export?fromat=csv&limit=1",
            400,
            "invalid_parameter",
            "unknown parameter `fromat`",
        ),
        (
            "/api/datasets/complaints/export?filter.ratting=1&limit=1",
            400,
            "invalid_parameter",
            "unknown field `ratting`",
        ),
        (
            "/api/datasets/complaints/export?filter.rating=abc&limit=1",
            400,
            "invalid_parameter",
            "`rating` takes a number",
        ),
        (
            "/api/datasets/complaints/export?filter.status=open&limit=1",
            400,
            "invalid_parameter",
            "`open` is not a value of `status`",
        ),
        (
            "/api/datasets/complaints/export?columns=source_id,nama&limit=1",
            400,
            "invalid_parameter",
            "unknown column `nama`",
        ),
        (
            "/api/datasets/complaints/export?limit=0",
            400,
            "invalid_parameter",
            "limit must be a whole number from 1",
        ),
        (
            "/api/datasets/complaints/export?as_of=2090-01-01T00:00:00%2B07:00&limit=1",
            400,
            "as_of_out_of_range",
            "in the future",
        ),
        (
            "/api/datasets/complaints/export?as_of=2019-06-01T00:00:00Z&limit=1",
            400,
            "as_of_out_of_range",
            "before the oldest complaints record",
        ),
        (
            "/api/datasets/complaints/export?as_of=kemarin",
            400,
            "invalid_parameter",
            "is not a time",
        ),
        (
            "/api/datasets/complaints/export",
            400,
            "too_many_rows",
            "more than the 1000 an export may hold",
        ),
        (
            "/api/datasets/budget_lines/export?format=geojson",
            400,
            "no_geometry",
            "no coordinates",
        ),
        (
            "/api/datasets/complaints/export?format=geojson&columns=source_id&limit=1",
            400,
            "no_geometry",
            "left out of `columns`",
        ),
        (
            "/api/datasets/aduan/export",
            404,
            "not_found",
            "known: complaints, budget_lines, service_events",
        ),
        (
            "/api/dashboards/la-311/panels/status/export?format=geojson",
            400,
            "no_geometry",
            "is not a map",
        ),
        (
            "/api/dashboards/la-311/panels/status/export?scope=all",
            400,
            "invalid_parameter",
            "unknown scope `all`",
        ),
        (
            "/api/dashboards/la-311/panels/nope/export",
            404,
            "not_found",
            "has no panel 'nope'",
        ),
        (
            "/api/snapshots/..%2F..%2Fstore/export",
            404,
            "not_found",
            "no snapshot",
        ),
        (
            "/api/snapshots/20261127-000000-abcdef",
            404,
            "not_found",
            "no snapshot",
        ),
    ] {
        let (got_status, got_code, message) = error_of(&app, path).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{path}: {message}"
        );
        assert!(message.contains(says), "{path}: {message}");
    }
    // The as-of bound names the oldest record in WIB.
    let (_, _, message) = error_of(
        &app,
        "/api/datasets/complaints/export?as_of=2019-06-01T00:00:00Z&limit=1",
    )
    .await;
    assert!(message.contains("+07:00"), "{message}");
    // Refusals are counted.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("pantau_exports_total{format=\"csv\",outcome=\"refused\"}"),
        "{metrics}"
    );
    app.stop().await;
}

async fn a_client_that_runs_too_many_exports_at_once_is_told_to_wait() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |s| {
        s.export.max_per_client = 1
    })
    .await;
    // A download nobody reads stalls on its bounded queue and keeps its place.
    let stalled = app.get("/api/datasets/complaints/export?format=json").await;
    assert_eq!(stalled.status(), 200);
    let (status, code, message) = error_of(&app, "/api/datasets/complaints/export?limit=1").await;
    assert_eq!(
        (status, code.as_str()),
        (429, "too_many_exports"),
        "{message}"
    );
    // Once it ends (here: the client goes away), the next one runs.
    drop(stalled);
    eventually("the gate reopens", Duration::from_secs(20), || async {
        let status = app
            .get("/api/datasets/complaints/export?limit=1")
            .await
            .status();
        if status == 200 {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
    app.stop().await;
}

/// A client that stops reading held its slot (and a worker) for ever, and a made-up bearer value
/// made a new client each time: the cap was one address's to take.
async fn a_download_nobody_reads_is_abandoned_and_frees_its_slot() {
    // All three LA files: their JSON export (≈ 10 MB) is more than the sockets and the export
    // queue can hold.
    let data = la_data_dir_of(
        &[
            "complaints/la311_2017-12_myla311_subset.csv",
            "complaints/la311_2018-12_mini.csv",
            "complaints/la311_2020-01_requests.csv",
        ],
        29_000,
    )
    .await;
    let app = serve(data.path(), Backend::Sqlite, |s| {
        s.export.max_per_client = 1;
        s.export.stall_timeout_secs = 1;
    })
    .await;
    // A client with a 4 KiB receive buffer that reads the status line and then nothing: the
    // file cannot hide in the sockets' buffers.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stalled
            .write_all(
                b"GET /api/datasets/complaints/export?format=json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
            )
            .await
            .unwrap();
        let mut start = [0u8; 12];
        stalled.read_exact(&mut start).await.unwrap();
        assert_eq!(&start, b"HTTP/1.1 200");
    }
    assert_eq!(
        app.get("/api/datasets/complaints/export?limit=1")
            .await
            .status(),
        429,
        "the address's one export slot is taken"
    );
    // An invented bearer is no new client with a slot of its own: it is refused outright.
    for bearer in ["Bearer invented-1", "Bearer invented-2"] {
        let response = app
            .client
            .get(app.url("/api/datasets/complaints/export?limit=1"))
            .header("authorization", bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "an unknown bearer gets nothing");
    }
    // The stalled download is abandoned after a second: its slot is free while its socket is
    // still open.
    eventually("the gate reopens", Duration::from_secs(10), || async {
        let status = app
            .get("/api/datasets/complaints/export?limit=1")
            .await
            .status();
        (status == 200).then_some(()).ok_or(status)
    })
    .await;
    assert_failed_export_counted(&app, "json").await;
    // The socket is closed once the client drains what was queued: an aborted chunked body,
    // without its last chunk.
    let mut rest = Vec::new();
    {
        use tokio::io::AsyncReadExt;
        let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest)).await;
    }
    assert!(
        !rest.ends_with(b"\r\n0\r\n\r\n"),
        "the abandoned download must not end like a whole one"
    );
    app.stop().await;
}

async fn a_slow_download_outlasts_the_request_timeout_and_arrives_whole() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |s| {
        s.server.request_timeout_secs = 1
    })
    .await;
    let mut response = app.get("/api/datasets/complaints/export?format=json").await;
    assert_eq!(response.status(), 200);
    let started = std::time::Instant::now();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("the transfer was not cut") {
        body.extend_from_slice(&chunk);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the download was not slower than the timeout"
    );
    let doc: Value = serde_json::from_slice(&body).expect("a complete JSON document");
    assert!(doc["rows"].as_array().unwrap().len() > 9_900);
    app.stop().await;
}

async fn panel_exports_hold_the_values_on_screen_and_the_rows_behind_them() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |_| {}).await;
    // The agency breakdown as a table: a row per agency with the panel's numbers.
    let value = panel_value(&app, "la-311", "agency").await;
    let (status, headers, bytes) = download(
        &app,
        "/api/dashboards/la-311/panels/agency/export?format=csv",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(headers.contains_key("x-pantau-seq"));
    let (header, rows) = csv_records(&bytes);
    assert_eq!(
        header,
        [
            "rank",
            "opd",
            "rows",
            "n",
            "median_close_hours",
            "p90_close_hours"
        ]
    );
    assert_eq!(rows.len(), value["order"].as_array().unwrap().len());
    for row in &rows {
        let group = &value["groups"][&row[1]];
        assert_eq!(row[0], group["rank"].to_string());
        assert_eq!(row[3], group["measures"]["n"].to_string());
        let median: f64 = row[4].parse().unwrap();
        assert_eq!(
            Some(median),
            group["measures"]["median_close_hours"].as_f64()
        );
    }
    // The rows behind the funnel: exactly as many as it counts.
    let funnel = panel_value(&app, "la-311", "status").await;
    let counted: u64 = funnel["stages"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["n"].as_u64().unwrap())
        .sum();
    let (_, headers, bytes) = download(
        &app,
        "/api/dashboards/la-311/panels/status/export?scope=rows&format=csv",
    )
    .await;
    assert_eq!(headers["x-pantau-rows"], counted.to_string().as_str());
    assert_eq!(csv_records(&bytes).1.len() as u64, counted);
    // A map panel's result as GeoJSON: every kelurahan of the wall's set with its polygon.
    let (status, _, bytes) = download(
        &app,
        "/api/dashboards/kota-pasuruan-wall/panels/map/export?format=geojson",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let parsed: geojson::GeoJson = std::str::from_utf8(&bytes)
        .unwrap()
        .parse()
        .expect("valid GeoJSON");
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a collection")
    };
    assert_eq!(collection.features.len(), 34);
    for f in &collection.features {
        assert!(f
            .property("region")
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("35.75."));
        assert!(f.property("name").and_then(Value::as_str).is_some());
        assert!(matches!(
            f.geometry.as_ref().map(|g| &g.value),
            Some(geojson::Value::Polygon(_) | geojson::Value::MultiPolygon(_))
        ));
    }
    // A KPI as of the end of 1 January (LA time): computed over the data as it was then.
    let (_, headers, bytes) = download(
        &app,
        "/api/dashboards/la-311/panels/total/export?format=json&as_of=2020-01-02T00:00:00-08:00",
    )
    .await;
    // A panel's times are in its dashboard's zone: Los Angeles for this one.
    assert_eq!(headers["x-pantau-as-of"], "2020-01-02T00:00:00-08:00");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let then = doc["rows"][0]["requests"].as_u64().unwrap();
    let now = panel_value(&app, "la-311", "total").await["value"]
        .as_u64()
        .unwrap();
    assert!(
        then > 0 && then < now,
        "as of 2 January fewer requests had been filed ({then} vs {now})"
    );
    // A moment nothing can be said of is refused, not answered (it gave values "as of 9999").
    for (as_of, says) in [
        ("2105-12-31T00:00:00Z", "in the future"),
        ("9999-12-31T00:00:00Z", "outside the times Pantau holds"),
        ("2000-01-01T00:00:00Z", "before the oldest record"),
    ] {
        let (status, _, bytes) = download(
            &app,
            &format!("/api/dashboards/la-311/panels/total/export?format=json&as_of={as_of}"),
        )
        .await;
        assert_eq!(status, 400, "{as_of}");
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"]["code"], "as_of_out_of_range", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    app.stop().await;
}

/// Writes into the drop folder `count` closed requests of the LA export as pending again, updated
/// in 2021 (newer versions of stored requests: the export's updates run to August 2020).
fn later_versions(drop: &Path, count: usize) -> Vec<String> {
    let text = std::fs::read_to_string(shared("complaints/la311_2020-01_requests.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut out = csv::Writer::from_path(drop.join("updates.csv")).unwrap();
    out.write_record(&header).unwrap();
    let mut ids = Vec::new();
    let closed = reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[at("status")] == "Closed");
    for record in closed.take(count) {
        let mut fields: Vec<String> = record.iter().map(str::to_owned).collect();
        fields[at("status")] = "Pending".into();
        fields[at("updateddate")] = "2021-01-01 09:00:00".into();
        fields[at("closeddate")] = String::new();
        ids.push(fields[at("srnumber")].clone());
        out.write_record(&fields).unwrap();
    }
    out.flush().unwrap();
    ids
}

async fn snapshots_stay_as_taken_while_the_data_moves_on_both_databases(backend: Backend) {
    let data = la_data_dir().await;
    let drop_dir = tempfile::tempdir().unwrap();
    let files = source(&format!(
        // The id is the rows' source: the updates are new versions of the imported requests.
        "id = \"la311\"\ntype = \"files\"\ninterval_secs = 0.2\ndir = \"{}\"\nmapping = \"{}\"\n",
        drop_dir.path().display(),
        mapping("la311.toml").display()
    ));
    let app = serve(data.path(), backend, |s| s.sources = vec![files]).await;
    let funnel_then = panel_value(&app, "la-311", "status").await;

    // A dataset snapshot of resolved requests, and a dashboard snapshot, now.
    let client = reqwest::Client::new();
    let created: Value = {
        let response = client
            .post(app.url("/api/snapshots"))
            .json(&json!({
                "dataset": "complaints",
                "filter": [{"field": "status", "equals": "resolved"}],
                "columns": ["source_id", "status", "updated_at"],
                "description": "Permintaan selesai, awal Januari",
                "created_by": "Rina (Bappeda)",
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status != 201 {
            panic!("{backend:?}: {status}: {}", response.text().await.unwrap());
        }
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/snapshots/{}", body["id"].as_str().unwrap())
        );
        body
    };
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["created_by"], "Rina (Bappeda)");
    assert_eq!(created["view"], format!("/analyst/?snapshot={id}"));
    let resolved = funnel_then["stages"]["resolved"]["n"].as_u64().unwrap();
    assert_eq!(created["rows"].as_u64(), Some(resolved));
    let board: Value = client
        .post(app.url("/api/snapshots"))
        .json(&json!({"dashboard": "la-311", "description": "Papan LA"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let board_id = board["id"].as_str().unwrap().to_owned();
    let (_, _, first_csv) = download(&app, &format!("/api/snapshots/{id}/export?format=csv")).await;
    let (_, _, first_funnel) = download(
        &app,
        &format!("/api/snapshots/{board_id}/export?format=csv&panel=status"),
    )
    .await;
    let file = data.path().join("snapshots").join(&id).join("rows.parquet");
    assert!(
        std::fs::metadata(&file).unwrap().permissions().readonly(),
        "snapshot files are read-only"
    );

    // Later versions arrive: three resolved requests are pending again.
    let changed = later_versions(drop_dir.path(), 3);
    eventually("the updates arrive", Duration::from_secs(30), || async {
        let funnel = panel_value(&app, "la-311", "status").await;
        let now = funnel["stages"]["resolved"]["n"].as_u64();
        (now == Some(resolved - 3))
            .then_some(())
            .ok_or(format!("{now:?} resolved"))
    })
    .await;

    // The snapshot and its exports are unchanged; a fresh export is not.
    let (_, _, again_csv) = download(&app, &format!("/api/snapshots/{id}/export?format=csv")).await;
    assert_eq!(again_csv, first_csv, "{backend:?}: the snapshot moved");
    let (_, rows) = csv_records(&again_csv);
    assert!(changed
        .iter()
        .all(|c| rows.iter().any(|r| &r[0] == c && r[1] == "resolved")));
    let (_, _, again_funnel) = download(
        &app,
        &format!("/api/snapshots/{board_id}/export?format=csv&panel=status"),
    )
    .await;
    assert_eq!(again_funnel, first_funnel);
    let now = json_of(
        &app,
        "/api/datasets/complaints/export?format=json&filter.status=resolved&columns=source_id",
    )
    .await;
    assert_eq!(now["rows"].as_array().unwrap().len() as u64, resolved - 3);
    // As of a moment before the updates (the export's own updates end in August 2020), the
    // export agrees with the snapshot.
    let (_, _, as_of_csv) = download(
        &app,
        "/api/datasets/complaints/export?format=csv&filter.status=resolved&columns=source_id,status,updated_at&as_of=2020-12-31T00:00:00Z",
    )
    .await;
    assert_eq!(
        as_of_csv, first_csv,
        "{backend:?}: an as-of export before the updates equals the snapshot"
    );

    // Every format reads back from the snapshot file.
    let (_, _, parquet) =
        download(&app, &format!("/api/snapshots/{id}/export?format=parquet")).await;
    use polars::prelude::SerReader;
    let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(parquet))
        .finish()
        .unwrap();
    assert_eq!(frame.height() as u64, resolved);
    let (status, _, _) = download(&app, &format!("/api/snapshots/{id}/export?format=xlsx")).await;
    assert_eq!(status, 200);

    // Listing and details.
    let list = json_of(&app, "/api/snapshots?limit=1").await;
    assert_eq!(
        list["snapshots"][0]["id"],
        board_id.as_str(),
        "newest first"
    );
    let next = list["next_before"].as_str().unwrap();
    let page = json_of(&app, &format!("/api/snapshots?limit=1&before={next}")).await;
    assert_eq!(page["snapshots"][0]["id"], id.as_str());
    let detail = json_of(&app, &format!("/api/snapshots/{board_id}")).await;
    let panels = detail["panels"].as_array().unwrap();
    let status_panel = panels.iter().find(|p| p["id"] == "status").unwrap();
    assert_eq!(
        status_panel["value"], funnel_then,
        "the frozen value is what the screen showed"
    );
    let (code, _, message) = error_of(&app, &format!("/api/snapshots/{board_id}/export")).await;
    assert_eq!(code, 400);
    assert!(
        message.contains("add panel= one of total, status"),
        "{message}"
    );
    app.stop().await;
}

async fn snapshot_requests_are_checked() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |_| {}).await;
    let client = reqwest::Client::new();
    for (body, status, says) in [
        (
            json!({"dashboard": "la-311", "dataset": "complaints"}),
            400,
            "exactly one of",
        ),
        (json!({}), 400, "exactly one of"),
        (
            json!({"dataset": "complaints", "filter": [{"field": "ratting", "equals": 1}]}),
            400,
            "unknown field `ratting`",
        ),
        (
            json!({"dataset": "complaints", "as_of": "2090-01-01T00:00:00Z"}),
            400,
            "in the future",
        ),
        (
            json!({"dashboard": "la-311", "as_of": "2010-01-01T00:00:00Z"}),
            400,
            "before the oldest record",
        ),
        (json!({"dashboard": "nope"}), 404, "no dashboard"),
        (
            json!({"dataset": "complaints", "colour": "red"}),
            400,
            "unknown field `colour`",
        ),
    ] {
        let response = client
            .post(app.url("/api/snapshots"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(code, status, "{body}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    // A dashboard as of a past moment: every panel computed over the data then.
    let response = client
        .post(app.url("/api/snapshots"))
        .json(&json!({"dashboard": "la-311", "as_of": "2020-01-02T00:00:00-08:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    let detail = json_of(
        &app,
        &format!("/api/snapshots/{}", record["id"].as_str().unwrap()),
    )
    .await;
    let total = detail["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "total")
        .unwrap();
    let then = total["value"]["value"].as_u64().unwrap();
    let now = panel_value(&app, "la-311", "total").await["value"]
        .as_u64()
        .unwrap();
    assert!(then > 0 && then < now, "{then} vs {now}");
    app.stop().await;
}

async fn pantau_export_writes_the_same_rows_from_the_data_dir_and_from_a_server() {
    let data = la_data_dir().await;
    let out = tempfile::tempdir().unwrap();
    let offline_file: PathBuf = out.path().join("resolved.csv");
    let output = pantau()
        .args([
            "export",
            "complaints",
            "--filter",
            "status=resolved",
            "--columns",
            "source_id,status,created_at",
            "--output",
        ])
        .arg(&offline_file)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("rows/s"), "progress on stderr: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("rows to"), "{stdout}");
    let offline = std::fs::read(&offline_file).unwrap();
    let (header, rows) = csv_records(&offline);
    assert_eq!(header, ["source_id", "status", "created_at"]);
    assert!(rows.len() > 5_000 && rows.iter().all(|r| r[1] == "resolved"));

    // A bad request is refused with the reason and exit 2; nothing is left behind.
    let bad = pantau()
        .args(["export", "complaints", "--filter", "ratting=3", "--output"])
        .arg(out.path().join("bad.csv"))
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown field `ratting`"));
    assert!(!out.path().join("bad.csv").exists() && !out.path().join("bad.csv.partial").exists());

    // With a server on the data dir, the data dir is locked: --url downloads the same rows.
    let app = serve(data.path(), Backend::Sqlite, |_| {}).await;
    let locked = pantau()
        .args(["export", "complaints", "--output"])
        .arg(out.path().join("x.csv"))
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&locked.stderr).contains("in use by another Pantau process"));
    let served_file = out.path().join("served.csv");
    let url = app.url("");
    let status = tokio::task::spawn_blocking(move || {
        pantau()
            .args([
                "export",
                "complaints",
                "--filter",
                "status=resolved",
                "--columns",
                "source_id,status,created_at",
                "--url",
                &url,
                "--output",
            ])
            .arg(&served_file)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        std::fs::read(out.path().join("served.csv")).unwrap(),
        offline,
        "the same file both ways"
    );
    app.stop().await;
}

/// Unmounts a test's tmpfs however the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        crate::harness::unmount(&self.0);
    }
}

/// XLSX is assembled in the work dir before its first byte is sent: with that disk full the
/// writer panicked, and the download ended as a whole-looking 200 of 0 bytes.
async fn an_export_the_disk_cannot_hold_is_aborted_not_cut_short() {
    let data = la_data_dir().await;
    let app = serve(data.path(), Backend::Sqlite, |_| {}).await;
    let small = "/api/datasets/complaints/export?format=xlsx&limit=10";
    let (status, _, bytes) = download(&app, small).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"PK"), "an XLSX file");
    let work = data.path().join("snapshots").join(".work");
    assert!(work.is_dir(), "the XLSX work dir is {}", work.display());
    assert!(
        crate::harness::mount_tmpfs(&work, 256 * 1024),
        "mount a tmpfs"
    );
    let _mounted = Mounted(work);

    let response = app.get("/api/datasets/complaints/export?format=xlsx").await;
    let outcome = match response.status().as_u16() {
        200 => response.bytes().await.map(|b| b.len()),
        status => panic!("the refusal came before the body: {status}"),
    };
    assert!(
        outcome.is_err(),
        "the transfer must fail visibly, it ended whole with {outcome:?} bytes"
    );
    assert_failed_export_counted(&app, "xlsx").await;
    // The server carries on.
    let (status, _, _) =
        download(&app, "/api/datasets/complaints/export?format=csv&limit=10").await;
    assert_eq!(status, 200);
    app.stop().await;
}
