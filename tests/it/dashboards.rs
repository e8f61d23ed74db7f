//! Dashboards as an operator meets them: served over HTTP and as live topics, kept current as
//! data arrives, reloaded when a file is saved, a broken file reported while the previous
//! version keeps serving, and `pantau check` naming `file:line:col`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{apply_merge, eventually, spawn_app_with, AppOptions, Backend, TestApp};

crate::tests! {
    async panels_are_served_and_move_with_the_data,
    async a_saved_file_goes_live_and_a_broken_one_keeps_the_previous_version,
    sync check_names_a_bad_dashboard_by_file_line_and_column,
    async a_screen_follows_a_whole_dashboard_and_hears_of_panels_added_and_removed,
}

const OPS: &str = r#"title = { id = "Operasi", en = "Operations" }
audience = "board"

[[panels]]
id = "count"
kind = "kpi"
title = { id = "Aduan", en = "Complaints" }
query.dataset = "complaints"
query.measures = [{ id = "n", fn = "count" }]

[[panels]]
id = "per-category"
kind = "breakdown"
title = { id = "Per kategori", en = "Per category" }
query.dataset = "complaints"
query.group_by = ["category"]
query.measures = [{ id = "n", fn = "count" }]
"#;

async fn spawn_with_dashboards(dir: &Path) -> TestApp {
    let dir = dir.to_path_buf();
    spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        move |s| {
            s.dashboards.dir = Some(dir);
            s.dashboards.reload_ms = 100;
        },
    )
    .await
}

async fn json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `path` until `ok` holds for its JSON, for up to 10 s.
async fn until(app: &TestApp, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    eventually(path, Duration::from_secs(10), || async {
        let (_, body) = json(app, path).await;
        if ok(&body) {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await
}

async fn panels_are_served_and_move_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ops.toml"), OPS).unwrap();
    let app = spawn_with_dashboards(dir.path()).await;

    let (status, list) = json(&app, "/api/dashboards").await;
    assert_eq!(status, 200);
    assert_eq!(list["dashboards"][0]["id"], "ops");
    assert_eq!(
        list["dashboards"][0]["panels"],
        serde_json::json!(["count", "per-category"])
    );
    let (_, one) = json(&app, "/api/dashboards/ops").await;
    assert_eq!(one["panels"][0]["topic"], "dashboards/ops/count");
    assert_eq!(
        one["panels"][1]["query"]["group_by"],
        serde_json::json!(["category"])
    );

    // The simulator files complaints; the count follows them.
    let panel = until(&app, "/api/dashboards/ops/panels/count", |b| {
        b["value"]["value"].as_u64().is_some_and(|n| n > 0)
    })
    .await;
    assert_eq!(panel["kind"], "kpi");
    assert!(panel["committed_at"].is_string());
    // The count is of distinct complaints, never more than the store holds by now.
    let (_, datasets) = json(&app, "/api/datasets").await;
    assert_eq!(datasets["datasets"][0]["name"], "complaints");
    let rows = datasets["datasets"][0]["rows"].as_u64().unwrap();
    assert!(
        rows >= panel["value"]["value"].as_u64().unwrap(),
        "{datasets}"
    );

    // Over the WebSocket: a snapshot, then patches that keep a client's copy equal to the server's.
    let mut ws = app.ws_after_hello().await;
    ws.subscribe("dashboards/ops/per-category", None).await;
    let snapshot = ws.next_of("snapshot").await;
    assert_eq!(snapshot["topic"], "dashboards/ops/per-category");
    let mut copy = snapshot["data"].clone();
    let mut seq = snapshot["seq"].as_u64().unwrap();
    let patch = ws.next_of("patch").await;
    assert_eq!(patch["seq"].as_u64().unwrap(), seq + 1);
    seq += 1;
    apply_merge(&mut copy, &patch["merge"]);
    assert!(patch["committed_at"].is_string());
    let (_, current) = json(&app, "/api/dashboards/ops/panels/per-category").await;
    if current["seq"].as_u64() == Some(seq) {
        assert_eq!(copy, current["value"]);
    }

    let (status, missing) = json(&app, "/api/dashboards/ops/panels/nope").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _) = json(&app, "/api/dashboards/nope").await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_saved_file_goes_live_and_a_broken_one_keeps_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.toml");
    std::fs::write(&path, OPS).unwrap();
    let app = spawn_with_dashboards(dir.path()).await;
    let (_, errors) = json(&app, "/api/dashboards/errors").await;
    assert_eq!(errors["errors"], serde_json::json!([]));

    // A new panel, saved: live within a second.
    let saved = Instant::now();
    let extended = format!(
        "{OPS}\n[[panels]]\nid = \"open\"\nkind = \"kpi\"\ntitle = {{ id = \"Terbuka\", en = \"Open\" }}\n\
         query.dataset = \"complaints\"\nquery.filter = [{{ field = \"is_open\", equals = true }}]\n\
         query.measures = [{{ id = \"n\", fn = \"count\" }}]\n"
    );
    std::fs::write(&path, &extended).unwrap();
    until(&app, "/api/dashboards/ops/panels/open", |b| {
        b["value"]["value"].is_u64()
    })
    .await;
    assert!(
        saved.elapsed() < Duration::from_secs(2),
        "took {:?}",
        saved.elapsed()
    );

    // A typo: reported with its place, and the previous version keeps serving.
    std::fs::write(
        &path,
        extended.replace(
            "fn = \"count\" }]\n\n[[panels]]\nid = \"per-category\"",
            "fn = \"cuont\" }]\n\n[[panels]]\nid = \"per-category\"",
        ),
    )
    .unwrap();
    let errors = until(&app, "/api/dashboards/errors", |b| {
        b["errors"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    let e = &errors["errors"][0];
    assert_eq!(e["line"], 9);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown measure `cuont`"),
        "{e}"
    );
    assert!(e["text"].as_str().unwrap().contains("ops.toml:9:"), "{e}");
    let (_, one) = json(&app, "/api/dashboards/ops").await;
    assert_eq!(
        one["panels"].as_array().unwrap().len(),
        3,
        "the previous version serves"
    );
    let (status, _) = json(&app, "/api/dashboards/ops/panels/open").await;
    assert_eq!(status, 200);

    // Fixed again, without the third panel: the error clears.
    std::fs::write(&path, OPS).unwrap();
    until(&app, "/api/dashboards/errors", |b| {
        b["errors"] == serde_json::json!([])
    })
    .await;
    let (_, one) = json(&app, "/api/dashboards/ops").await;
    assert_eq!(one["panels"].as_array().unwrap().len(), 2);
    // The removed panel's topic is gone too: subscribing to it is refused as unknown.
    let ws = tokio::sync::Mutex::new(app.ws_after_hello().await);
    let answer = eventually(
        "the removed topic is refused",
        Duration::from_secs(5),
        || async {
            let mut ws = ws.lock().await;
            ws.subscribe("dashboards/ops/open", None).await;
            let answer = ws.next_json().await;
            if answer["type"] == "error" {
                Ok(answer)
            } else {
                Err(answer)
            }
        },
    )
    .await;
    assert_eq!(answer["code"], "unknown_topic", "{answer}");
    app.stop().await;
}

fn check_names_a_bad_dashboard_by_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        OPS.replace("group_by = [\"category\"]", "group_by = [\"kategori\"]"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("check")
        .env("PANTAU__DASHBOARDS__DIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let file = dir.path().join("bad.toml").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{file}:16:19: unknown field `kategori` of complaints"
        )),
        "{stderr}"
    );

    // The shipped dashboards are valid.
    let output = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .arg("check")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("7 dashboard(s) valid"), "{stdout}");
}

async fn a_screen_follows_a_whole_dashboard_and_hears_of_panels_added_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ops.toml"), OPS).unwrap();
    let app = spawn_with_dashboards(dir.path()).await;
    until(&app, "/api/dashboards/ops/panels/per-category", |b| {
        b["seq"].as_u64().is_some()
    })
    .await;

    // One prefix: a snapshot of every panel of the dashboard, then its patches.
    let mut ws = app.ws_after_hello().await;
    ws.send_json(serde_json::json!({"type": "subscribe", "prefixes": ["dashboards/ops/"]}))
        .await;
    let mut copies: std::collections::BTreeMap<String, (u64, Value)> = Default::default();
    while copies.len() < 2 {
        let m = ws.next_of("snapshot").await;
        let topic = m["topic"].as_str().unwrap().to_owned();
        copies.insert(topic, (m["seq"].as_u64().unwrap(), m["data"].clone()));
    }
    assert_eq!(
        copies.keys().collect::<Vec<_>>(),
        ["dashboards/ops/count", "dashboards/ops/per-category"]
    );
    // Updates follow: a patch continues its topic's copy with no gap; a client that fell more
    // than one change behind gets the latest state as a snapshot instead (coalescing).
    loop {
        let m = ws.next_json().await;
        let Some(topic) = m["topic"].as_str() else {
            continue;
        };
        let Some((seq, copy)) = copies.get_mut(topic) else {
            continue;
        };
        let new_seq = m["seq"].as_u64().unwrap();
        if m["type"] == "snapshot" {
            assert!(new_seq > *seq, "a snapshot moves its topic forward: {m}");
            (*seq, *copy) = (new_seq, m["data"].clone());
        } else if m["type"] == "patch" {
            assert_eq!(new_seq, *seq + 1, "no gap: {m}");
            apply_merge(copy, &m["merge"]);
            *seq = new_seq;
            break;
        }
    }

    // A panel added to the file is followed at once, without subscribing again.
    let with_channel = format!(
        "{OPS}\n[[panels]]\nid = \"per-channel\"\nkind = \"breakdown\"\ntitle = {{ id = \"Per kanal\", en = \"Per channel\" }}\nquery.dataset = \"complaints\"\nquery.group_by = [\"channel\"]\nquery.measures = [{{ id = \"n\", fn = \"count\" }}]\n"
    );
    std::fs::write(dir.path().join("ops.toml"), &with_channel).unwrap();
    loop {
        let m = ws.next_json().await;
        if m["type"] == "snapshot" && m["topic"] == "dashboards/ops/per-channel" {
            assert!(m["data"]["groups"].is_object(), "{m}");
            break;
        }
    }
    // A panel removed from the file is announced, and nothing more comes from it.
    std::fs::write(
        dir.path().join("ops.toml"),
        with_channel.replace("id = \"count\"", "id = \"total\""),
    )
    .unwrap();
    let removed = loop {
        let m = ws.next_json().await;
        if m["type"] == "removed" {
            break m;
        }
    };
    assert_eq!(removed["topic"], "dashboards/ops/count");
    assert!(removed["seq"].as_u64().unwrap() >= 1);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let m = ws.next_json().await;
        assert_ne!(
            m["topic"], "dashboards/ops/count",
            "a removed topic still sends: {m}"
        );
    }

    // A prefix is refused when it is empty (it would follow everything).
    ws.send_json(serde_json::json!({"type": "unsubscribe", "prefixes": ["dashboards/ops/"]}))
        .await;
    ws.send_json(serde_json::json!({"type": "subscribe", "prefixes": [""]}))
        .await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "invalid_message");
    app.stop().await;
}
