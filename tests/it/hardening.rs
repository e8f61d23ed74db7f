//! What an outside probe found, each fixed and kept fixed: host names (DNS rebinding), a
//! header-read deadline (slowloris), connection caps, bounded snapshot requests and quotas.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, AppOptions, Backend, TestApp};

crate::tests! {
    async a_request_naming_an_unknown_host_is_refused,
    async a_client_that_dribbles_its_headers_is_cut_off,
    async connections_are_capped_per_address_and_in_all,
    async snapshot_requests_are_bounded_and_listings_stay_small,
    async snapshots_are_rate_limited_and_held_to_a_quota_per_client,
    async a_damaged_acknowledged_batch_stops_the_start_and_store_repair_says_what_is_lost,
    async a_damaged_checkpoint_falls_back_and_readyz_says_so,
}

fn quiet() -> AppOptions {
    AppOptions {
        backend: Backend::Sqlite,
        simulator: false,
    }
}

/// A raw HTTP/1.1 request over a fresh socket; the status code and body of the answer, or
/// `None` when the server closed without answering.
async fn raw(app: &TestApp, request: &str) -> Option<(u16, String)> {
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    read_answer(&mut socket).await
}

async fn read_answer(socket: &mut TcpStream) -> Option<(u16, String)> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((status, body))
}

fn code_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().unwrap_or("").to_owned()
}

async fn a_request_naming_an_unknown_host_is_refused() {
    let app = spawn_app_with(quiet(), |s| {
        s.server.allowed_hosts = vec!["pantau.pasuruankota.go.id".into()];
        // The refused upgrade leaves its connection open: let it close soon.
        s.server.header_read_timeout_secs = 2;
    })
    .await;
    let get = |host: &str| {
        format!("GET /api/dashboards HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    // A page of an attacker's domain that resolves to this server (DNS rebinding).
    let (status, body) = raw(&app, &get("rebind.evil.example:8080")).await.unwrap();
    assert_eq!((status, code_of(&body).as_str()), (421, "host_not_allowed"));
    // Also the WebSocket upgrade, where the page's origin is the same rebound name.
    let upgrade =
        "GET /ws HTTP/1.1\r\nHost: rebind.evil.example\r\nOrigin: http://rebind.evil.example\r\n\
                   Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let (status, body) = raw(&app, upgrade).await.unwrap();
    assert_eq!((status, code_of(&body).as_str()), (421, "host_not_allowed"));
    // The configured name, IP addresses and localhost are answered.
    for host in [
        "pantau.pasuruankota.go.id",
        "PANTAU.pasuruankota.go.id:443",
        &app.addr.to_string(),
        "localhost:8080",
        "[::1]:8080",
    ] {
        let (status, body) = raw(&app, &get(host)).await.unwrap();
        assert_eq!(status, 200, "{host}: {body}");
    }
    app.stop().await;
}

async fn a_client_that_dribbles_its_headers_is_cut_off() {
    let app = spawn_app_with(quiet(), |s| s.server.header_read_timeout_secs = 1).await;
    // A slowloris client: one header byte every 300 ms, never the end of the headers.
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let mut cut_off = false;
    for byte in
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    {
        if socket.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), socket.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            _ => {}
        }
    }
    assert!(
        cut_off,
        "the server kept a connection that never finished its headers"
    );
    // Well before the bytes ran out (80 bytes × 300 ms = 24 s).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // A connection that sends nothing at all is closed too.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), idle.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "an idle connection was kept");
    // An ordinary request is still answered.
    let (status, _) = raw(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    app.stop().await;
}

async fn connections_are_capped_per_address_and_in_all() {
    let app = spawn_app_with(quiet(), |s| {
        s.server.max_connections = 16;
        s.server.max_connections_per_ip = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // The fourth from this address is answered 429 and closed; others' are not affected.
    let mut fourth = TcpStream::connect(app.addr).await.unwrap();
    let (status, body) = read_answer(&mut fourth).await.expect("an answer");
    assert_eq!(
        (status, code_of(&body).as_str()),
        (429, "too_many_connections_per_address")
    );
    // A WebSocket session holds its slot as long as it lives: closing an idle socket frees one
    // for a session, and the session's slot is not free while it runs.
    drop(held.pop());
    let mut ws = None;
    for _ in 0..50 {
        match app.try_ws("", &[]).await {
            Ok(session) => {
                ws = Some(session);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let ws = ws.expect("a freed slot takes a WebSocket session");
    let mut again = TcpStream::connect(app.addr).await.unwrap();
    let (status, _) = read_answer(&mut again).await.expect("an answer");
    assert_eq!(status, 429, "the session holds its slot");
    drop(ws);
    drop(held);
    app.stop().await;

    // The global cap: 16 in all, then 503.
    let app = spawn_app_with(quiet(), |s| {
        s.server.max_connections = 16;
        s.server.max_connections_per_ip = 16;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let mut over = TcpStream::connect(app.addr).await.unwrap();
    let (status, body) = read_answer(&mut over).await.expect("an answer");
    assert_eq!(
        (status, code_of(&body).as_str()),
        (503, "too_many_connections")
    );
    drop(held);
    // Slots come back when the sockets close.
    let mut answered = false;
    for _ in 0..50 {
        if let Some((200, _)) = raw(
            &app,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await
        {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "closed connections did not free their slots");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "pantau_http_connections_refused_total{reason=\"too_many_connections\"} ",
            )
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(refused >= 1.0, "{metrics}");
    app.stop().await;
}

async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/snapshots"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn snapshot_requests_are_bounded_and_listings_stay_small() {
    let app = spawn_app_with(quiet(), |_| {}).await;
    let long = "x".repeat(1_000_000);
    let many: Vec<String> = (0..50_000)
        .map(|i| format!("35.75.{:02}.{:04}", i % 100, i / 100))
        .collect();
    for (body, status, code) in [
        // The probe's 1 MB value and 50,000-value list: larger than a request may be.
        (
            json!({"dataset": "complaints", "filter": [{"field": "category", "equals": long}]}),
            413,
            "body_too_large",
        ),
        (
            json!({"dataset": "complaints", "filter": [{"field": "kelurahan", "in": many}]}),
            413,
            "body_too_large",
        ),
        // Within the body bound, each value and list is bounded too.
        (
            json!({"dataset": "complaints", "filter": [{"field": "category", "equals": "x".repeat(201)}]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"dataset": "complaints", "filter": [{"field": "kelurahan", "in": many[..501]}]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"dataset": "complaints", "columns": vec!["category"; 65]}),
            400,
            "invalid_parameter",
        ),
    ] {
        let (got, answer) = post(&app, &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{answer}"
        );
    }
    // Nothing of those was stored.
    let list: Value = app.get("/api/snapshots").await.json().await.unwrap();
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 0, "{list}");

    // A long but valid request is kept whole with its snapshot, and listed by its size.
    let (status, created) = post(
        &app,
        &json!({"dataset": "complaints", "filter": [{"field": "kelurahan", "in": many[..400]}]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["request"]["filter"][0]["in"]
            .as_array()
            .unwrap()
            .len(),
        400
    );
    let list: Value = app.get("/api/snapshots").await.json().await.unwrap();
    let listed = &list["snapshots"][0]["request"];
    assert_eq!(listed["omitted"], true, "{listed}");
    assert!(listed["bytes"].as_u64().unwrap() > 2048);
    let one: Value = app
        .get(&format!(
            "/api/snapshots/{}",
            created["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["request"]["filter"][0]["in"].as_array().unwrap().len(),
        400
    );
    app.stop().await;
}

async fn snapshots_are_rate_limited_and_held_to_a_quota_per_client() {
    let app = spawn_app_with(quiet(), |s| s.export.snapshots_per_hour = 3).await;
    let body = json!({"dataset": "complaints", "description": "uji batas"});
    for i in 0..3 {
        let (status, answer) = post(&app, &body).await;
        assert_eq!(status, 201, "snapshot {i}: {answer}");
    }
    let (status, answer) = post(&app, &body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str().unwrap()),
        (429, "snapshot_rate_limited"),
        "{answer}"
    );
    app.stop().await;

    // Storage: this address's snapshots already take more than its quota.
    let app = spawn_app_with(quiet(), |s| s.export.snapshot_quota_mb = 1).await;
    let (status, first) = post(&app, &body).await;
    assert_eq!(status, 201, "{first}");
    let db = pantau::db::MetaDb::connect(
        &pantau::db::DatabaseTarget::Sqlite(app.data_dir.path().join("pantau.db")),
        &pantau::db::DatabaseSettings::default(),
    )
    .await
    .unwrap();
    let mut big: pantau::db::SnapshotRecord = db
        .snapshot(first["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(big.owner, "ip:127.0.0.1");
    big.id = "20261207-000000-b16b16".into();
    big.bytes = 2 * 1024 * 1024;
    db.insert_snapshot(&big).await.unwrap();
    db.close().await;
    let (status, answer) = post(&app, &body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str().unwrap()),
        (429, "snapshot_quota_exceeded"),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("snapshot_quota_mb"),
        "{answer}"
    );
    app.stop().await;
}

/// Runs `pantau demo` on `data` until its store holds at least `batches` commits, then stops it
/// with SIGTERM; returns the store's last sequence number.
async fn demo_with_batches(data: &std::path::Path, batches: u64) -> u64 {
    let port = crate::cli::free_port();
    let mut child = crate::cli::pantau()
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("PANTAU__SIMULATOR__INTERVAL_MS", "50")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::cli::wait_ready(port, &mut child).await;
    let client = reqwest::Client::new();
    let seq = crate::helpers::eventually(
        "the demo to commit batches",
        Duration::from_secs(30),
        || {
            let ready = client.get(format!("http://127.0.0.1:{port}/readyz")).send();
            async move {
                let body: Value = ready.await.ok()?.json().await.ok()?;
                body["checks"]["store"]["seq"]
                    .as_u64()
                    .filter(|s| *s >= batches)
            }
        },
    )
    .await;
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().unwrap().success());
    seq
}

/// The frames of a log segment: (offset, sequence number, frame length).
fn frames(bytes: &[u8]) -> Vec<(usize, u64, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        out.push((at, seq, 16 + len));
        at += 16 + len;
    }
    out
}

async fn a_damaged_acknowledged_batch_stops_the_start_and_store_repair_says_what_is_lost() {
    let data = tempfile::tempdir().unwrap();
    demo_with_batches(data.path(), 5).await;
    // The newest segment's last complete frame: an acknowledged batch. One flipped payload byte.
    let log_dir = data.path().join("store").join("log");
    let mut segments: Vec<_> = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    segments.sort();
    let segment = segments.last().unwrap().clone();
    let mut bytes = std::fs::read(&segment).unwrap();
    let (at, seq, len) = *frames(&bytes).last().unwrap();
    assert_eq!(at + len, bytes.len(), "the last frame is complete");
    bytes[at + len - 1] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();

    // Before: cut as a "torn write", rows gone in silence. Now the start refuses and says why.
    let port = crate::cli::free_port();
    let refused = crate::cli::pantau()
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("entry {seq}: checksum mismatch")),
        "{said}"
    );
    assert!(said.contains("pantau store repair"), "{said}");
    assert_eq!(std::fs::read(&segment).unwrap(), bytes, "nothing was cut");

    let repaired = crate::cli::pantau()
        .args(["store", "repair", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&repaired.stdout);
    assert!(
        repaired.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&repaired.stderr)
    );
    assert!(
        report.contains(&format!("entry {seq} lost"))
            || report.contains(&format!("from entry {seq} on")),
        "{report}"
    );
    assert!(report.contains("original is kept"), "{report}");
    // The store opens again and goes on.
    let after = demo_with_batches(data.path(), seq + 2).await;
    assert!(after >= seq + 2);
}

async fn a_damaged_checkpoint_falls_back_and_readyz_says_so() {
    let data = tempfile::tempdir().unwrap();
    let live = AppOptions {
        backend: Backend::Sqlite,
        simulator: true,
    };
    let app = spawn_app_with(live, |s| {
        s.data.dir = data.path().to_path_buf();
        s.store.checkpoint_interval_secs = 1;
    })
    .await;
    let checkpoints = data.path().join("store").join("checkpoints");
    let sound = || -> Vec<std::path::PathBuf> {
        let mut dirs: Vec<_> = std::fs::read_dir(&checkpoints)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        dirs.retain(|p: &std::path::PathBuf| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .parse::<u64>()
                .is_ok()
        });
        dirs.sort();
        dirs
    };
    crate::helpers::eventually("two checkpoints", Duration::from_secs(30), || {
        let n = sound().len();
        async move { (n >= 2).then_some(()) }
    })
    .await;
    app.stop().await;
    // An undamaged copy tells what the store holds.
    let control = tempfile::tempdir().unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", data.path().display()))
        .arg(control.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let file = sound().last().unwrap().join("complaints.parquet");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x08;
    std::fs::write(&file, bytes).unwrap();

    let state = |dir: std::path::PathBuf| async move {
        let app = spawn_app_with(quiet(), |s| s.data.dir = dir).await;
        let response = app.get("/readyz").await;
        let status = response.status().as_u16();
        let ready: Value = response.json().await.unwrap();
        let csv = app
            .get("/api/datasets/complaints/export?format=csv")
            .await
            .text()
            .await
            .unwrap();
        app.stop().await;
        (status, ready, csv)
    };
    let (_, expected_ready, expected_rows) = state(control.path().to_path_buf()).await;
    let (status, ready, rows) = state(data.path().to_path_buf()).await;
    assert_eq!(status, 200, "the fallback is whole: ready: {ready}");
    let note = ready["checks"]["store"]["recovered"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.contains("was damaged") && note.contains("SHA-256"),
        "{ready}"
    );
    assert_eq!(
        ready["checks"]["store"]["seq"],
        expected_ready["checks"]["store"]["seq"]
    );
    assert!(expected_rows.lines().count() > 1);
    assert_eq!(
        rows, expected_rows,
        "the previous checkpoint and the log give the same rows"
    );
}
