//! Map views over the WebSocket: a client following a points/clusters/heat topic asks for the
//! features inside its bounding box at its zoom, gets them at the topic's seq, and gets them
//! again when the topic moves; bad views get a clear error and the connection goes on.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, AppOptions, Backend, Ws};

crate::tests! {
    async a_client_gets_the_features_of_its_view_and_again_when_the_layer_moves,
    async bad_views_are_refused_with_a_reason_and_the_connection_goes_on,
    async a_row_layer_exports_one_row_per_feature,
}

const CLUSTERS: &str = "dashboards/kota-pasuruan-peta/open-clusters";
/// Kota Pasuruan and around (west, south, east, north).
const CITY: [f64; 4] = [112.85, -7.70, 112.96, -7.60];
/// Its western half.
const WEST: [f64; 4] = [112.85, -7.70, 112.905, -7.60];

async fn view(ws: &mut Ws, bbox: [f64; 4], zoom: u8) -> Value {
    ws.send_json(json!({"type": "view", "topic": CLUSTERS, "bbox": bbox, "zoom": zoom}))
        .await;
    loop {
        let m = ws.next_json().await;
        match m["type"].as_str() {
            Some("features") => return m,
            Some("error") => panic!("view refused: {m}"),
            _ => {}
        }
    }
}

/// Every feature (cluster or point) of a layer value, as (lon, lat, rows).
fn features(data: &Value) -> Vec<(f64, f64, u64)> {
    let members = data["clusters"]
        .as_object()
        .or(data["points"].as_object())
        .cloned()
        .unwrap_or_default();
    members
        .values()
        .map(|f| {
            (
                f["lon"].as_f64().unwrap(),
                f["lat"].as_f64().unwrap(),
                f["count"].as_u64().unwrap_or(1),
            )
        })
        .collect()
}

async fn a_client_gets_the_features_of_its_view_and_again_when_the_layer_moves() {
    // A commit every 1.5 s: a view asked for right after one is computed over the same rows as
    // the topic's value.
    let app = spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |s| s.simulator.interval_ms = 1_500,
    )
    .await;
    let mut ws = app.ws_after_hello().await;
    ws.subscribe(CLUSTERS, None).await;
    let mut layer = ws.next_of("snapshot").await;
    while layer["data"]["total"].as_u64().unwrap_or(0) == 0 {
        let patch = ws.next_of("patch").await;
        crate::helpers::apply_merge(&mut layer["data"], &patch["merge"]);
        layer["seq"] = patch["seq"].clone();
    }
    let whole = view(&mut ws, CITY, 13).await;
    assert_eq!(whole["topic"], CLUSTERS);
    assert_eq!(whole["zoom"], 13);
    assert_eq!(whole["bbox"], json!(CITY));
    assert!(whole["committed_at"].is_string());
    let seq = whole["seq"].as_u64().unwrap();
    if seq == layer["seq"].as_u64().unwrap() {
        // The same rows: the whole city holds every open complaint of the topic's value.
        assert_eq!(whole["data"]["total"], layer["data"]["total"], "{whole}");
    }
    let rows: u64 = features(&whole["data"]).iter().map(|f| f.2).sum();
    assert_eq!(rows, whole["data"]["total"].as_u64().unwrap());

    // The western half at a street zoom: only features inside the box, fewer rows, ≤ 5,000.
    let west = view(&mut ws, WEST, 16).await;
    let inside = features(&west["data"]);
    assert!(inside.len() <= 5_000);
    for (lon, lat, _) in &inside {
        assert!(
            (WEST[0]..=WEST[2]).contains(lon) && (WEST[1]..=WEST[3]).contains(lat),
            "{lon},{lat} outside the view"
        );
    }
    let west_rows = west["data"]["total"].as_u64().unwrap();
    assert_eq!(inside.iter().map(|f| f.2).sum::<u64>(), west_rows);
    // At zoom 20 a cell is a few centimetres: the city's features are the complaints' own
    // places, and those inside the western half are exactly its rows.
    let fine = view(&mut ws, CITY, 20).await;
    if fine["seq"] == west["seq"] {
        let expected: u64 = features(&fine["data"])
            .iter()
            .filter(|(lon, _, _)| *lon <= WEST[2])
            .map(|f| f.2)
            .sum();
        assert_eq!(west_rows, expected, "{fine}");
    }

    // The layer moves with the next commit: the view comes again, at the new seq. One view per
    // topic: the last one asked for (a map that pans replaces its view).
    let moved = loop {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next_json())
            .await
            .expect("no features after a commit");
        if m["type"] == "features" {
            break m;
        }
    };
    assert!(
        moved["seq"].as_u64().unwrap() > fine["seq"].as_u64().unwrap(),
        "{moved}"
    );
    assert_eq!((&moved["bbox"], &moved["zoom"]), (&json!(CITY), &json!(20)));

    // Stopped: a view without a bbox is dropped.
    ws.send_json(json!({"type": "view", "topic": CLUSTERS}))
        .await;
    ws.send_json(json!({"type": "ping", "id": 1})).await;
    loop {
        let m = ws.next_json().await;
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "pong" {
            break;
        }
    }
    app.stop().await;
}

async fn bad_views_are_refused_with_a_reason_and_the_connection_goes_on() {
    let app = spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |_| {},
    )
    .await;
    let mut ws = app.ws_after_hello().await;
    ws.subscribe("dashboards/kota-pasuruan-wall/map", None)
        .await;
    ws.next_of("snapshot").await;
    let cases = [
        (
            json!({"type": "view", "topic": CLUSTERS, "bbox": CITY}),
            "invalid_message",
            "subscribe",
        ),
        (
            json!({"type": "view", "topic": "dashboards/kota-pasuruan-wall/map", "bbox": CITY}),
            "invalid_message",
            "not a points, clusters or heat layer",
        ),
        (
            json!({"type": "view", "topic": CLUSTERS, "bbox": [112.96, -7.7, 112.85, -7.6]}),
            "invalid_message",
            "west < east",
        ),
        (
            json!({"type": "view", "topic": CLUSTERS, "bbox": [112.85, -95.0, 112.96, -7.6]}),
            "invalid_message",
            "bbox",
        ),
        (
            json!({"type": "view", "topic": CLUSTERS, "bbox": CITY, "zoom": 30}),
            "invalid_message",
            "zoom is 0 to 22",
        ),
        (
            json!({"type": "view", "topic": CLUSTERS, "bbox": [1, 2, 3]}),
            "invalid_message",
            "not a protocol message",
        ),
    ];
    for (message, code, reason) in cases {
        ws.send_json(message.clone()).await;
        let error = ws.next_of("error").await;
        assert_eq!(error["code"], code, "{message}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(reason),
            "{message}: {error}"
        );
    }
    // Still served.
    ws.send_json(json!({"type": "ping", "id": 7})).await;
    assert_eq!(ws.next_of("pong").await["id"], 7);
    app.stop().await;
}

async fn a_row_layer_exports_one_row_per_feature() {
    let app = spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |_| {},
    )
    .await;
    let path = "/api/dashboards/kota-pasuruan-peta/panels/heat-today/export?format=csv";
    let body =
        crate::helpers::eventually("heat cells exported", Duration::from_secs(20), || async {
            let response = app.get(path).await;
            if response.status() != 200 {
                return Err(format!("HTTP {}", response.status()));
            }
            let body = response.text().await.unwrap();
            if body.lines().count() > 1 {
                Ok(body)
            } else {
                Err(body)
            }
        })
        .await;
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("feature,lon,lat,count,weight,status"));
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        // A grid cell `level/x/y` in and around Kota Pasuruan; unweighted heat: weight = count.
        assert_eq!(cells[0].split('/').count(), 3, "{line}");
        let (lon, lat): (f64, f64) = (cells[1].parse().unwrap(), cells[2].parse().unwrap());
        assert!(
            (112.8..113.0).contains(&lon) && (-7.8..-7.5).contains(&lat),
            "{line}"
        );
        assert_eq!(
            cells[3].parse::<f64>().unwrap(),
            cells[4].parse::<f64>().unwrap(),
            "{line}"
        );
    }
    app.stop().await;
}
