//! The WebSocket protocol with a real client: hello, snapshot, patches from live ingest, resume,
//! refused input, and the goodbye on shutdown.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{apply_merge, spawn_app, spawn_quiet_app, AppOptions, Backend};

crate::tests! {
    per_backend patches_from_live_ingest_rebuild_exactly_the_servers_value,
    async resuming_with_the_current_seq_sends_nothing_and_an_old_seq_gets_a_snapshot,
    async bad_frames_get_errors_and_the_connection_and_server_carry_on,
    async repeated_and_refused_topics_are_answered_once_and_counted,
    async shutdown_says_bye_and_closes_with_going_away,
    async the_load_generator_measures_a_live_server,
    async screens_and_operators_see_each_sources_freshness,
    async the_source_health_table_is_a_topic_that_moves_with_each_pull,
}

const TOPIC: &str = "dashboards/overview/total";

async fn patches_from_live_ingest_rebuild_exactly_the_servers_value(backend: Backend) {
    let app = spawn_app(AppOptions {
        backend,
        simulator: true,
    })
    .await;
    let mut ws = app.ws().await;
    let hello = ws.next_of("hello").await;
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["time_zone"], "Asia/Jakarta");
    assert!(hello["topics"].as_array().unwrap().contains(&json!(TOPIC)));

    ws.subscribe(TOPIC, None).await;
    let snapshot = ws.next_of("snapshot").await;
    let mut value = snapshot["data"].clone();
    let mut seq = snapshot["seq"].as_u64().unwrap();
    let first_total = value["value"].as_u64().unwrap();

    // Follow at least three patches: each is the next seq, never a gap or a repeat. A client
    // that falls more than one change behind (a loaded machine) is sent the latest state as a
    // snapshot instead, by design (coalescing): it takes it, as a client does.
    let mut patches = 0;
    while patches < 3 {
        let patch = loop {
            let m = ws.next_json().await;
            if m["type"] == "snapshot" && m["topic"] == TOPIC {
                let new_seq = m["seq"].as_u64().unwrap();
                assert!(new_seq > seq, "{backend:?}: a snapshot moves forward: {m}");
                value = m["data"].clone();
                seq = new_seq;
            } else if m["type"] == "patch" {
                break m;
            }
        };
        patches += 1;
        assert_eq!(patch["topic"], TOPIC);
        assert_eq!(
            patch["seq"].as_u64().unwrap(),
            seq + 1,
            "{backend:?}: gap or repeat"
        );
        assert!(
            patch["committed_at"].is_string(),
            "patch carries its commit time"
        );
        apply_merge(&mut value, &patch["merge"]);
        seq += 1;
    }
    assert!(
        value["value"].as_u64().unwrap() > first_total,
        "the live figure moved"
    );

    // A second client's fresh snapshot at the same seq equals what the patches rebuilt.
    let mut other = app.ws_after_hello().await;
    other.subscribe(TOPIC, None).await;
    let mut fresh = other.next_of("snapshot").await;
    while fresh["seq"].as_u64().unwrap() > seq {
        let patch = ws.next_of("patch").await;
        apply_merge(&mut value, &patch["merge"]);
        seq = patch["seq"].as_u64().unwrap();
    }
    while fresh["seq"].as_u64().unwrap() < seq {
        let patch = other.next_of("patch").await;
        apply_merge(&mut fresh["data"], &patch["merge"]);
        fresh["seq"] = patch["seq"].clone();
    }
    assert_eq!(
        fresh["data"], value,
        "{backend:?}: patched value differs from the snapshot"
    );
    app.stop().await;
}

async fn resuming_with_the_current_seq_sends_nothing_and_an_old_seq_gets_a_snapshot() {
    let app = spawn_quiet_app().await;
    let mut ws = app.ws_after_hello().await;
    ws.subscribe(TOPIC, None).await;
    let snapshot = ws.next_of("snapshot").await;
    let seq = snapshot["seq"].as_u64().unwrap();
    assert_eq!(
        snapshot["data"]["value"], 0,
        "an empty store shows zero, not nothing"
    );

    let mut resumed = app.ws_after_hello().await;
    resumed.subscribe(TOPIC, Some(seq)).await;
    resumed.send_json(json!({"type": "ping", "id": 7})).await;
    let next = resumed.next_json().await;
    assert_eq!(
        next["type"], "pong",
        "nothing may come before the pong: {next}"
    );
    assert_eq!(next["id"], 7);

    let mut stale = app.ws_after_hello().await;
    stale.subscribe(TOPIC, Some(seq + 100)).await;
    assert_eq!(stale.next_json().await["type"], "snapshot");
    app.stop().await;
}

async fn bad_frames_get_errors_and_the_connection_and_server_carry_on() {
    let app = spawn_quiet_app().await;
    let mut ws = app.ws_after_hello().await;

    ws.send(Message::binary(vec![0u8, 159, 146, 150])).await;
    assert_eq!(ws.next_json().await["code"], "binary_not_supported");
    ws.send(Message::text("{not json")).await;
    assert_eq!(ws.next_json().await["code"], "invalid_message");
    ws.send_json(json!({"type": "launch_missiles"})).await;
    assert_eq!(ws.next_json().await["code"], "invalid_message");
    ws.send_json(json!({"type": "subscribe", "topics": [{"topic": "nope"}]}))
        .await;
    let unknown = ws.next_json().await;
    assert_eq!(unknown["code"], "unknown_topic");
    assert_eq!(unknown["message"], "no topic named 'nope'");
    ws.send(Message::text("x".repeat(100 * 1024))).await;
    assert_eq!(ws.next_json().await["code"], "message_too_large");
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(
        ws.next_json().await["type"],
        "pong",
        "the connection survived"
    );

    // A frame past the hard limit closes that connection only.
    let mut huge = app.ws_after_hello().await;
    let _ = huge
        .stream
        .send(Message::text("y".repeat(1024 * 1024)))
        .await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(message)) = huge.stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a 1 MiB frame must close the connection");
    assert_eq!(app.get("/healthz").await.status(), 200);
    ws.send_json(json!({"type": "ping"})).await;
    assert_eq!(
        ws.next_json().await["type"],
        "pong",
        "other clients are unaffected"
    );
    app.stop().await;
}

/// A subscribe cannot be used to amplify: a topic named twice is sent once, refusals come in one
/// frame per kind, are counted in the metrics and toward `max_errors` (20 by default).
async fn repeated_and_refused_topics_are_answered_once_and_counted() {
    let app = spawn_quiet_app().await;
    let mut ws = app.ws_after_hello().await;
    let ping = json!({"type": "ping"});

    let repeated: Vec<_> = (0..50).map(|_| json!({ "topic": TOPIC })).collect();
    ws.send_json(json!({"type": "subscribe", "topics": repeated}))
        .await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    ws.send_json(ping.clone()).await;
    assert_eq!(
        ws.next_json().await["type"],
        "pong",
        "one snapshot, not one per repeat"
    );

    let unknown: Vec<_> = (0..2000)
        .map(|i| json!({ "topic": format!("nope/{i}") }))
        .collect();
    ws.send_json(json!({"type": "subscribe", "topics": unknown}))
        .await;
    let refused = ws.next_json().await;
    assert_eq!(refused["code"], "unknown_topic", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.starts_with("2000 refused: no topic named 'nope/0'; no topic named 'nope/1'"),
        "{message}"
    );
    assert!(message.ends_with("; and 1990 more"), "{message}");
    ws.send_json(ping.clone()).await;
    assert_eq!(
        ws.next_json().await["type"],
        "pong",
        "one error frame for 2,000 refusals"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "pantau_ws_refused_total{reason=\"unknown_topic\"} 2000"),
        "every refusal counted:\n{metrics}"
    );

    // That message was one error; twenty more refused subscribes pass max_errors = 20.
    for i in 0..20 {
        ws.subscribe(&format!("still/nope/{i}"), None).await;
    }
    let bye = ws.next_of("bye").await;
    assert_eq!(bye["reason"], "too_many_errors", "{bye}");
    app.stop().await;
}

async fn shutdown_says_bye_and_closes_with_going_away() {
    let app = spawn_quiet_app().await;
    let mut ws = app.ws_after_hello().await;
    app.shutdown.cancel();
    let bye = ws.next_json().await;
    assert_eq!(bye, json!({"type": "bye", "reason": "shutdown"}));
    let close = ws
        .stream
        .next()
        .await
        .expect("close frame")
        .expect("close frame");
    match close {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    app.stop().await;
}

async fn the_load_generator_measures_a_live_server() {
    let app = spawn_app(AppOptions {
        backend: crate::helpers::Backend::Sqlite,
        simulator: true,
    })
    .await;
    let mut args = pantau::loadgen::LoadgenArgs {
        url: format!("ws://{}/ws", app.addr),
        clients: 20,
        duration: 1,
        topic: TOPIC.to_owned(),
        dashboard: None,
        token: None,
        connect_concurrency: 10,
        settle: 0,
        json: false,
        by_topic: false,
    };
    let report = pantau::loadgen::run(&args).await.unwrap();
    assert_eq!(report.connected, 20);
    assert!(report.messages >= 20, "{report}");
    assert_eq!(report.gaps, 0, "{report}");
    assert_eq!(report.latency_ms.samples as u64, report.messages);
    assert!(
        report.server_rss_connected.is_some(),
        "server memory is exposed"
    );
    assert!(report
        .to_string()
        .contains("clients connected     20 of 20"));
    // Following the whole wall dashboard: every panel's updates, per topic without gaps, and
    // with `--by-topic` each topic's share of them.
    args.dashboard = Some("kota-pasuruan-wall".into());
    args.by_topic = true;
    let report = pantau::loadgen::run(&args).await.unwrap();
    assert_eq!(report.connected, 20);
    assert!(
        report.messages >= 40,
        "several panels move per commit: {report}"
    );
    assert_eq!(report.gaps, 0, "{report}");
    let per_topic: usize = report.by_topic.values().map(|l| l.samples).sum();
    assert_eq!(per_topic as u64, report.messages, "{report}");
    assert!(
        report
            .by_topic
            .keys()
            .all(|t| t.starts_with("dashboards/kota-pasuruan-wall/")),
        "{report}"
    );
    app.stop().await;
}

async fn screens_and_operators_see_each_sources_freshness() {
    let app = spawn_app(AppOptions {
        backend: crate::helpers::Backend::Sqlite,
        simulator: true,
    })
    .await;
    let mut ws = app.ws().await;
    ws.next_of("hello").await;
    let status = ws.next_json().await;
    assert_eq!(
        status["type"], "source_status",
        "right after hello: {status}"
    );
    let sources = status["sources"].as_array().unwrap();
    // The demo simulates all three datasets.
    let listed_ids: Vec<(&str, &str)> = sources
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["dataset"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed_ids,
        [
            ("simulator", "complaints"),
            ("simulator-apbd", "budget_lines"),
            ("simulator-layanan", "service_events")
        ]
    );
    assert!(["starting", "fresh"].contains(&sources[0]["state"].as_str().unwrap()));

    // Operators get the detail over HTTP once the simulator has pulled.
    let listed = crate::helpers::eventually(
        "the simulator's pull is listed",
        std::time::Duration::from_secs(2),
        || async {
            let listed: serde_json::Value = app.get("/api/sources").await.json().await.unwrap();
            if listed["sources"][0]["rows_in"].as_u64().unwrap_or(0) > 0 {
                Ok(listed)
            } else {
                Err(listed)
            }
        },
    )
    .await;
    let simulator = &listed["sources"][0];
    assert_eq!(simulator["state"], "fresh", "{listed}");
    assert_eq!(simulator["kind"], "simulator");
    assert_eq!(simulator["consecutive_failures"], 0);
    assert!(simulator["last_success"].is_string());
    assert!(simulator["lag_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(simulator["stale_after_secs"], 30);
    app.stop().await;
}

async fn the_source_health_table_is_a_topic_that_moves_with_each_pull() {
    let app = spawn_app(AppOptions {
        backend: crate::helpers::Backend::Sqlite,
        simulator: true,
    })
    .await;
    let mut ws = app.ws_after_hello().await;
    ws.subscribe("sources/health", None).await;
    let snapshot = ws.next_of("snapshot").await;
    assert_eq!(snapshot["topic"], "sources/health");
    let sources = &snapshot["data"]["sources"];
    for (id, dataset) in [
        ("simulator", "complaints"),
        ("simulator-apbd", "budget_lines"),
        ("simulator-layanan", "service_events"),
    ] {
        assert_eq!(sources[id]["dataset"], dataset, "{sources}");
        assert_eq!(sources[id]["kind"], "simulator");
    }
    let first_rows = sources["simulator"]["rows_in"].as_u64().unwrap();
    // Each pull changes the table; a patch carries only what changed, with its commit time.
    let mut rows = first_rows;
    for _ in 0..50 {
        let patch = ws.next_of("patch").await;
        assert_eq!(patch["topic"], "sources/health");
        assert!(patch["committed_at"].is_string(), "{patch}");
        if let Some(n) = patch["merge"]["sources"]["simulator"]["rows_in"].as_u64() {
            rows = n;
            break;
        }
    }
    assert!(rows > first_rows, "rows_in grew from {first_rows}");
    app.stop().await;
}
