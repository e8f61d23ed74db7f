//! `/healthz`, `/readyz`, `/metrics`, static pages and JSON errors, on both metadata backends.

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_quiet_app, AppOptions, Backend};

crate::tests! {
    per_backend health_and_readiness_answer_on_every_backend,
    async metrics_cover_http_websockets_ingest_and_source_lag,
    async pages_are_served_and_unknown_api_paths_get_a_json_error,
    needs(Postgres) async readiness_turns_503_with_a_reason_when_the_database_goes_away,
    async the_openapi_description_lists_exactly_what_is_served,
}

async fn health_and_readiness_answer_on_every_backend(backend: Backend) {
    let app = spawn_app(AppOptions {
        backend,
        simulator: true,
    })
    .await;

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "{backend:?}");
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200, "{backend:?}");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    };
    assert_eq!(body["checks"]["database"]["backend"], expected);
    assert_eq!(body["checks"]["store"]["ok"], true);
    app.stop().await;
}

async fn metrics_cover_http_websockets_ingest_and_source_lag() {
    let app = spawn_app(AppOptions {
        backend: crate::helpers::Backend::Sqlite,
        simulator: true,
    })
    .await;
    app.get("/healthz").await;
    let _ws = app.ws().await;
    // Wait (bounded) until the simulator has finished a pull: the lag is recorded last, after
    // the append and the cursor.
    let text = crate::helpers::eventually(
        "the simulator's lag is recorded",
        std::time::Duration::from_secs(5),
        || async {
            let text = app.get("/metrics").await.text().await.unwrap();
            text.contains("pantau_source_lag_seconds{source=\"simulator\"}")
                .then_some(text)
        },
    )
    .await;
    assert!(
        text.contains(
            "pantau_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("pantau_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("pantau_ws_connections 1"), "{text}");
    assert!(
        text.contains("pantau_rows_ingested_total{dataset=\"complaints\"}"),
        "{text}"
    );
    assert!(
        text.contains("pantau_source_lag_seconds{source=\"simulator\"}"),
        "{text}"
    );
    // What the store holds, so an operator can tell data from anything else in the RSS.
    let gauge = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{{dataset=\"complaints\"}} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} for complaints: {text}"))
    };
    assert!(gauge("pantau_store_rows") >= 1.0, "{text}");
    assert!(gauge("pantau_store_heap_bytes") > 0.0, "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "not OpenMetrics text");
    app.stop().await;
}

async fn pages_are_served_and_unknown_api_paths_get_a_json_error() {
    let app = spawn_quiet_app().await;
    let index = app.get("/").await;
    assert_eq!(index.status(), 200);
    let html = index.text().await.unwrap();
    assert!(html.contains("<title>Pantau"), "{html}");
    assert!(
        html.contains("src=\"/wall/wall.js\""),
        "the overview is the wall's page"
    );
    assert!(html.contains("data-dashboard=\"overview\""));
    assert_eq!(
        app.get("/geo/kota_pasuruan_desa_kelurahan.geojson")
            .await
            .status(),
        200
    );
    // Every page the overview links to is there; the wall serves any dashboard id (the page
    // itself explains an unknown one), with its scripts beside it.
    let links: Vec<&str> = html
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(links.len() >= 5, "{links:?}");
    for path in links.into_iter().chain(["/wall/no-such-board", "/wall"]) {
        let page = app.get(path).await;
        assert_eq!(page.status(), 200, "{path}");
        assert!(
            page.text().await.unwrap().contains("<title>Pantau"),
            "{path}"
        );
    }
    for script in [
        "/wall/wall.js",
        "/kpi/kpi.js",
        "/map/explore.js",
        "/analyst/analyst.js",
        "/lib/live.js",
        "/lib/kinds/kpi.js",
    ] {
        let response = app.get(script).await;
        assert_eq!(response.status(), 200, "{script}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"));
    }

    let missing = app.get("/api/nothing/here").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["message"],
        "no API endpoint at /api/nothing/here"
    );
    // The API's own root and a query string that does not parse answer the API's JSON error too.
    for (path, status, code) in [
        ("/api/", 404, "not_found"),
        ("/api", 404, "not_found"),
        (
            "/api/sources/demo/quarantine?limit=many",
            400,
            "invalid_parameter",
        ),
        // Found by schemathesis: a negative record id was accepted.
        (
            "/api/sources/demo/quarantine?after=-1",
            400,
            "invalid_parameter",
        ),
        ("/api/geo/kelurahan?zoom=near", 400, "invalid_parameter"),
        ("/api/snapshots?limit=-1", 400, "invalid_parameter"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text:?}"));
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    app.stop().await;
}

/// A TCP proxy to PostgreSQL that the test can cut, to make the database unreachable mid-run.
async fn cuttable_proxy(target: &str) -> (u16, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut = tokio_util::sync::CancellationToken::new();
    let target = target.to_owned();
    let token = cut.clone();
    tokio::spawn(async move {
        loop {
            let (mut inbound, _) = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => accepted.unwrap(),
            };
            let target = target.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(&target).await.unwrap();
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                }
            });
        }
    });
    (port, cut)
}

async fn readiness_turns_503_with_a_reason_when_the_database_goes_away() {
    let (port, cut) = cuttable_proxy("127.0.0.1:5432").await;
    let data_dir = tempfile::tempdir().unwrap();
    let options = AppOptions {
        backend: crate::helpers::Backend::Postgres,
        simulator: false,
    };
    let (mut settings, schema) = crate::helpers::settings(&options, data_dir.path());
    let url =
        crate::helpers::postgres_url().replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    settings.database.url = Some(pantau::domain::settings::Secret::new(url));
    settings.database.connect_timeout_secs = 1;
    let app = pantau::startup::Application::build(settings).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();

    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    cut.cancel();
    let response = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert!(body["checks"]["database"]["reason"].is_string(), "{body}");
    assert_eq!(
        body["checks"]["store"]["ok"], true,
        "only the failing part is blamed"
    );
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    stop.cancel();
    server.await.unwrap().unwrap();
    if let Some(schema) = schema {
        crate::helpers::drop_schema(&schema).await;
    }
}

async fn the_openapi_description_lists_exactly_what_is_served() {
    // With the simulator on, a source exists for the templated source paths.
    let app = spawn_app(AppOptions {
        backend: Backend::Sqlite,
        simulator: true,
    })
    .await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // A snapshot to try the snapshot paths with.
    let snapshot: Value = app
        .client
        .post(app.url("/api/snapshots"))
        .json(&serde_json::json!({"dashboard": "kota-pasuruan-wall"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let snapshot = snapshot["id"]
        .as_str()
        .expect("a snapshot was taken")
        .to_owned();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for served in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/ws",
        "/api/sources",
        "/api/datasets",
        "/api/datasets/{name}/schema",
        "/api/dashboards",
        "/api/dashboards/errors",
        "/api/dashboards/{dashboard}/panels/{panel}",
        "/api/datasets/{name}/export",
        "/api/dashboards/{dashboard}/panels/{panel}/export",
        "/api/snapshots",
        "/api/snapshots/{snapshot}",
        "/api/snapshots/{snapshot}/export",
        "/api/openapi.json",
        "/api/regions",
    ] {
        assert!(
            paths.iter().any(|p| p.as_str() == served),
            "{served} is not documented"
        );
    }
    for path in paths {
        // Templated paths are tried with their documented example.
        let path = path
            .replace("{set}", "kota_pasuruan_kecamatan")
            .replace("{name}", "complaints")
            .replace("{id}", "simulator")
            .replace("{dashboard}", "kota-pasuruan-wall")
            .replace("{panel}", "open")
            .replace("{snapshot}", &snapshot);
        let status = app.get(&path).await.status().as_u16();
        // /ws answers a plain GET with a client error (no upgrade), never 404.
        assert_ne!(status, 404, "{path} is documented but not served");
    }
    // Every $ref points at a defined schema.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "undefined schema {name}"
        );
    }
    app.stop().await;
}
