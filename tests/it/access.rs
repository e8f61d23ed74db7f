//! Who may see what, against the real server: every documented path refuses a request without a
//! token, each role gets what the matrix gives and nothing more, personal columns stay out
//! without the permission, tokens expire and are revoked, and the audit log records it all in a
//! chain that verifies.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, AppOptions, Backend, TestApp};

crate::tests! {
    async every_documented_path_but_the_public_ones_needs_a_token,
    per_backend each_role_gets_what_the_matrix_gives_and_no_more,
    async tokens_expire_are_revoked_and_bad_ones_get_clear_errors,
    async the_audit_log_records_exports_and_refusals_and_only_admins_read_it,
    sync tokens_made_on_the_command_line_work_on_the_server_and_the_chain_verifies,
    sync serve_refuses_anonymous_rows_unless_allowed,
    sync no_secret_reaches_the_log_at_the_most_verbose_level,
    sync the_demo_is_open_on_loopback_only,
    async an_address_that_guesses_tokens_waits_out_the_minute,
}

const ADMIN: &str = "admin-token-0123456789abcdef";

/// An app that admits no anonymous request, with one admin token from a file.
async fn closed_app(backend: Backend, simulator: bool) -> TestApp {
    closed_app_allowing(backend, simulator, 20).await
}

/// [`closed_app`] that takes `max_failures` refused tokens a minute from one address.
async fn closed_app_allowing(backend: Backend, simulator: bool, max_failures: u32) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("admin {ADMIN}\n")).unwrap();
    let app = spawn_app_with(AppOptions { backend, simulator }, |s| {
        s.access.anonymous = "none".into();
        s.access.allow_anonymous_rows = false;
        s.access.tokens_file = Some(tokens.clone());
        s.access.max_failures_per_minute = max_failures;
    })
    .await;
    // The file is read at start.
    drop(dir);
    app
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == "POST" {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

/// The JSON a GET with `token` answers.
async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    call(app, "GET", path, Some(token))
        .await
        .json()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// Makes a token through the API; returns its secret.
async fn make_token(app: &TestApp, body: Value) -> String {
    let response = app.post_as("/api/tokens", ADMIN, &body).await;
    assert_eq!(response.status(), 201, "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let made: Value = response.json().await.unwrap();
    made["secret"].as_str().unwrap().to_owned()
}

async fn every_documented_path_but_the_public_ones_needs_a_token() {
    // Every path is tried with an invented token too: more than one address may guess a minute.
    let app = closed_app_allowing(Backend::Sqlite, false, 100_000).await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let concrete = path
                .replace("{dashboard}", "kota-pasuruan-wall")
                .replace("{panel}", "open")
                .replace("{name}", "complaints")
                .replace("{set}", "kota-pasuruan")
                .replace("{id}", "demo")
                .replace("{snapshot}", "20260101-000000-abcdef");
            let public = operation["security"] == json!([]);
            let method = method.to_ascii_uppercase();
            for token in [None, Some("pantau_invented")] {
                let response = call(&app, &method, &concrete, token).await;
                let status = response.status().as_u16();
                if public && token.is_none() {
                    // The login takes a name and a password, so `{}` is a bad request there;
                    // what it must not do is ask for a credential.
                    let answered = if (path.as_str(), method.as_str()) == ("/api/session", "POST") {
                        status == 400
                    } else {
                        status < 400
                    };
                    assert!(answered, "{method} {path} is public but answered {status}");
                    continue;
                }
                if public {
                    continue;
                }
                assert_eq!(
                    response
                        .headers()
                        .get("www-authenticate")
                        .map(|v| v.to_str().unwrap()),
                    Some("Bearer realm=\"pantau\""),
                    "{method} {path}"
                );
                let (status, code) = error_code(response).await;
                let expected = if token.is_some() {
                    "token_invalid"
                } else {
                    "token_required"
                };
                assert_eq!((status, code.as_str()), (401, expected), "{method} {path}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} refusals checked");
    // The pages' files answer (they hold no data), with the security headers.
    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    // The WebSocket too, and every refusal is in the audit log.
    let refused = app.get("/ws").await;
    assert_eq!(refused.status(), 401);
    let audit = json_of(&app, "/api/audit?action=request.denied&limit=1000", ADMIN).await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries.len() > checked,
        "{} entries for {checked} refusals",
        entries.len()
    );
    assert!(entries.iter().all(|e| e["outcome"] == "denied"));
    assert!(
        !audit.to_string().contains("pantau_invented"),
        "a refused credential is never written down"
    );
    app.stop().await;
}

/// Waits until the simulator has filed complaints.
async fn wait_for_rows(app: &TestApp) {
    eventually("complaints arrive", Duration::from_secs(30), || async {
        let list = json_of(app, "/api/datasets", ADMIN).await;
        let rows = list["datasets"][0]["rows"].as_u64();
        (rows > Some(5))
            .then_some(())
            .ok_or(format!("{rows:?} rows"))
    })
    .await;
}

async fn each_role_gets_what_the_matrix_gives_and_no_more(backend: Backend) {
    let app = closed_app(backend, true).await;
    wait_for_rows(&app).await;
    let wall = make_token(
        &app,
        json!({"name": "lobby-left", "role": "wall", "screen": "lobby-left",
               "dashboards": ["kota-pasuruan-wall"]}),
    )
    .await;
    let pimpinan = make_token(&app, json!({"name": "walikota", "role": "pimpinan"})).await;
    let analyst = make_token(&app, json!({"name": "bappeda", "role": "analyst"})).await;
    let monitor = make_token(&app, json!({"name": "prometheus", "role": "monitor"})).await;
    // The wall: its dashboard, nothing else.
    let listed: Value = call(&app, "GET", "/api/dashboards", Some(&wall))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["kota-pasuruan-wall"], "{backend:?}");

    // What each role may reach, by route: the matrix of docs/security.md, over the real server.
    for (token, path, expected) in [
        (&wall, "/api/dashboards/kota-pasuruan-wall", 200),
        (&wall, "/api/dashboards/leadership-kpi", 403),
        (
            &wall,
            "/api/dashboards/leadership-kpi/panels/open/export?format=csv",
            403,
        ),
        (&wall, "/api/datasets/complaints/export?limit=1", 403),
        (&wall, "/api/sources", 403),
        (&wall, "/api/regions", 200),
        // Leadership: every figure, no rows.
        (&pimpinan, "/api/dashboards/leadership-kpi", 200),
        (&pimpinan, "/api/datasets/complaints/export?limit=1", 403),
        (&pimpinan, "/api/sources", 200),
        (&pimpinan, "/api/tokens", 403),
        (&pimpinan, "/api/audit", 403),
        // Monitoring: metrics and sources, no figures.
        (&monitor, "/metrics", 200),
        (&monitor, "/api/dashboards", 403),
    ] {
        let status = call(&app, "GET", path, Some(token)).await.status().as_u16();
        assert_eq!(status, expected, "{backend:?}: {path}");
    }

    // Its WebSocket follows its own dashboard only, and reports as its own screen only.
    let mut ws = app.try_ws(&format!("?token={wall}"), &[]).await.unwrap();
    ws.read_greeting().await;
    ws.send_json(json!({"type": "subscribe", "prefixes": ["dashboards/leadership-kpi/"]}))
        .await;
    let denied = ws.next_of("error").await;
    assert_eq!(denied["code"], "not_allowed", "{denied}");
    // The sources' health (the data ages every screen shows) is a wall's to follow.
    ws.subscribe("sources/health", None).await;
    let health = ws.next_json().await;
    assert_eq!(health["type"], "snapshot", "{health}");
    ws.send_json(json!({"type": "screen", "name": "lobby-right", "page": "wall"}))
        .await;
    let denied = ws.next_of("error").await;
    assert_eq!(denied["code"], "not_allowed", "{denied}");

    // The analyst: rows without the personal columns, which the file says it left out.
    let rows = call(
        &app,
        "GET",
        "/api/datasets/complaints/export?format=json",
        Some(&analyst),
    )
    .await;
    assert_eq!(rows.status(), 200, "{backend:?}");
    assert_eq!(rows.headers()["x-pantau-omitted-columns"], "lat,lon");
    let total: u64 = rows.headers()["x-pantau-rows"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let doc: Value = rows.json().await.unwrap();
    let names: Vec<&str> = doc["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"lat") && !names.contains(&"lon"),
        "{names:?}"
    );
    assert!(names.contains(&"kelurahan"), "{names:?}");
    assert_eq!(
        doc["export"]["omitted_columns"], "lat,lon",
        "{}",
        doc["export"]
    );
    assert_eq!(doc["rows"].as_array().unwrap().len() as u64, total);
    let asked = "/api/datasets/complaints/export?columns=source,lat";
    assert_eq!(
        error_code(call(&app, "GET", asked, Some(&analyst)).await).await,
        (403, "forbidden".into())
    );
    for format in ["csv", "parquet", "xlsx"] {
        let path = format!("/api/datasets/complaints/export?format={format}");
        let response = call(&app, "GET", &path, Some(&analyst)).await;
        if response.status() == 400 {
            continue; // a format this build does not write
        }
        assert_eq!(response.status(), 200, "{format}");
        assert_eq!(
            response.headers()["x-pantau-omitted-columns"],
            "lat,lon",
            "{format}"
        );
        // Read whole: a download left unread holds its export slot until it stalls out.
        let bytes = response.bytes().await.unwrap();
        if format == "csv" {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            let header = text.lines().next().unwrap();
            assert!(
                !header.split(',').any(|c| c == "lat" || c == "lon"),
                "{header}"
            );
        }
    }
    // A snapshot an analyst takes leaves them out too; one an admin takes with them is refused
    // to the analyst.
    let body = json!({"dataset": "complaints", "description": "tanpa koordinat"});
    let taken = app.post_as("/api/snapshots", &analyst, &body).await;
    assert_eq!(taken.status(), 201);
    let taken: Value = taken.json().await.unwrap();
    assert_eq!(
        taken["created_by"], "bappeda",
        "the server names who took it"
    );
    let id = taken["id"].as_str().unwrap();
    let path = format!("/api/snapshots/{id}/export?format=csv");
    let csv = call(&app, "GET", &path, Some(&analyst))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !csv.lines().next().unwrap().contains("lat"),
        "{}",
        csv.lines().next().unwrap()
    );
    let body = json!({"dataset": "complaints", "description": "lengkap"});
    let full = app.post_as("/api/snapshots", ADMIN, &body).await;
    let full: Value = full.json().await.unwrap();
    let path = format!(
        "/api/snapshots/{}/export?format=csv",
        full["id"].as_str().unwrap()
    );
    assert_eq!(
        error_code(call(&app, "GET", &path, Some(&analyst)).await).await,
        (403, "forbidden".into())
    );
    let admin_csv = call(&app, "GET", &path, Some(ADMIN))
        .await
        .text()
        .await
        .unwrap();
    assert!(admin_csv.lines().next().unwrap().contains("lat"));
    // A wall does not see dataset snapshots in the list.
    let listed: Value = call(&app, "GET", "/api/snapshots", Some(&wall))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["snapshots"].as_array().unwrap().is_empty(),
        "{listed}"
    );
    ws.stream.close(None).await.ok();
    app.stop().await;
}

async fn tokens_expire_are_revoked_and_bad_ones_get_clear_errors() {
    let app = closed_app(Backend::Sqlite, false).await;
    let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
    let brief = make_token(
        &app,
        json!({"name": "brief", "role": "pimpinan", "expires_at": soon}),
    )
    .await;
    assert_eq!(
        call(&app, "GET", "/api/dashboards", Some(&brief))
            .await
            .status(),
        200
    );
    let analyst = make_token(&app, json!({"name": "leaver", "role": "analyst"})).await;
    assert_eq!(
        call(&app, "GET", "/api/datasets", Some(&analyst))
            .await
            .status(),
        200
    );

    // Revoked: refused at once, by name; the name stays taken.
    let revoked = call(&app, "DELETE", "/api/tokens/leaver", Some(ADMIN)).await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        error_code(call(&app, "GET", "/api/datasets", Some(&analyst)).await).await,
        (401, "token_revoked".into())
    );
    assert_eq!(
        error_code(call(&app, "DELETE", "/api/tokens/leaver", Some(ADMIN)).await).await,
        (404, "not_found".into())
    );
    let body = json!({"name": "leaver", "role": "analyst"});
    let again = app.post_as("/api/tokens", ADMIN, &body).await;
    assert_eq!(error_code(again).await, (400, "name_taken".into()));

    // Bad requests say what is wrong.
    for body in [
        json!({"name": "Lobby Left", "role": "wall", "dashboards": ["x"]}),
        json!({"name": "w", "role": "wall"}),
        json!({"name": "r", "role": "root"}),
        json!({"name": "a", "role": "analyst", "screen": "lobby"}),
        json!({"name": "a", "role": "analyst", "password": "x"}),
        json!({"name": "a", "role": "analyst", "expires_at": "2001-01-01T00:00:00Z"}),
    ] {
        let response = app.post_as("/api/tokens", ADMIN, &body).await;
        assert_eq!(
            error_code(response).await,
            (400, "invalid_token_request".into()),
            "{body}"
        );
    }
    let listed: Value = call(&app, "GET", "/api/tokens", Some(ADMIN))
        .await
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(!text.contains(&brief) && !text.contains("hash"), "{text}");
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 2);

    // Tricks on ids and tokens: clear errors, the server unaffected.
    for (path, token) in [
        ("/api/tokens/..%2F..%2Fetc", Some(ADMIN)),
        (
            "/api/dashboards/..%2Fkota-pasuruan-wall",
            Some(brief.as_str()),
        ),
        (
            "/api/dashboards",
            Some("pantau_0000000000000000000000000000000000000000000000000000000000000000"),
        ),
    ] {
        let (status, _) = error_code(
            call(
                &app,
                if path.starts_with("/api/tokens") {
                    "DELETE"
                } else {
                    "GET"
                },
                path,
                token,
            )
            .await,
        )
        .await;
        assert!(matches!(status, 401 | 403 | 404), "{path}: {status}");
    }
    let long = "x".repeat(10_000);
    assert_eq!(
        error_code(call(&app, "GET", "/api/dashboards", Some(&long)).await)
            .await
            .0,
        401
    );

    // Expired: refused with its own code.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        error_code(call(&app, "GET", "/api/dashboards", Some(&brief)).await).await,
        (401, "token_expired".into())
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.stop().await;
}

async fn the_audit_log_records_exports_and_refusals_and_only_admins_read_it() {
    let app = closed_app(Backend::Sqlite, true).await;
    wait_for_rows(&app).await;
    let analyst = make_token(&app, json!({"name": "bappeda", "role": "analyst"})).await;
    let export = call(
        &app,
        "GET",
        "/api/datasets/complaints/export?format=csv&filter.status=received",
        Some(&analyst),
    )
    .await;
    let rows: i64 = export.headers()["x-pantau-rows"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    export.bytes().await.unwrap();
    let _ = call(&app, "GET", "/api/audit", Some(&analyst)).await;

    let page: Value = call(&app, "GET", "/api/audit?actor=bappeda", Some(ADMIN))
        .await
        .json()
        .await
        .unwrap();
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["request.denied", "export.dataset", "token.use"],
        "{page}"
    );
    let exported = &entries[1];
    assert_eq!(exported["rows"].as_i64(), Some(rows));
    assert_eq!(exported["resource"], "datasets/complaints");
    let detail: Value = serde_json::from_str(exported["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["params"]["filter.status"], "received", "{detail}");
    assert_eq!(detail["omitted_columns"], json!(["lat", "lon"]));
    assert_eq!(entries[0]["outcome"], "denied");
    let created: Value = call(&app, "GET", "/api/audit?action=token.create", Some(ADMIN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["entries"][0]["resource"], "token/bappeda");
    assert_eq!(created["entries"][0]["actor"], "file:1");

    let csv = call(
        &app,
        "GET",
        "/api/audit?format=csv&actor=bappeda",
        Some(ADMIN),
    )
    .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("id,at,actor,actor_kind,address,action"));
    assert_eq!(
        error_code(call(&app, "GET", "/api/audit?limit=0", Some(ADMIN)).await).await,
        (400, "invalid_parameter".into())
    );
    assert_eq!(
        error_code(call(&app, "GET", "/api/audit?since=yesterday", Some(ADMIN)).await).await,
        (400, "invalid_parameter".into())
    );
    app.stop().await;
}

fn tokens_made_on_the_command_line_work_on_the_server_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = crate::cli::pantau()
        .args([
            "token",
            "create",
            "first-admin",
            "--role",
            "admin",
            "--expires",
            "30d",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secret = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(
        secret.starts_with("pantau_") && secret.len() == 71,
        "{secret}"
    );

    let refused = crate::cli::pantau()
        .args(["token", "create", "w", "--role", "wall", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("a wall token names its dashboards"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let data = data.clone();
        let app = spawn_app_with(
            AppOptions {
                backend: Backend::Sqlite,
                simulator: false,
            },
            move |s| {
                s.data.dir = data;
                s.access.anonymous = "none".into();
                s.access.allow_anonymous_rows = false;
            },
        )
        .await;
        assert_eq!(
            call(&app, "GET", "/api/tokens", Some(&secret))
                .await
                .status(),
            200
        );
        app.stop().await;
    });
    let listed = crate::cli::pantau()
        .args(["token", "list", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "first-admin");
    assert!(!listed.to_string().contains(&secret[7..]));

    let verify = crate::cli::pantau()
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && said.starts_with("intact: 2 entries from id 1"),
        "{said}"
    );

    // An entry removed behind Pantau's back is found.
    let db = data.join("pantau.db");
    runtime.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_log WHERE id = 1")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_log SET actor = 'someone' WHERE id = 2")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let verify = crate::cli::pantau()
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{said}");
    assert!(said.contains("entry 2 was changed"), "{said}");
}

fn serve_refuses_anonymous_rows_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pantau.toml");
    std::fs::write(&config, "[access]\nanonymous = \"analyst\"\n").unwrap();
    for command in ["check", "serve"] {
        let output = crate::cli::pantau()
            .args([command, "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "access.anonymous: 'analyst' lets anyone who reaches the server read every row"
            ) && stderr.contains("access.allow_anonymous_rows = true"),
            "{command}: {stderr}"
        );
    }
    std::fs::write(&config, "[live]\nanonymous = true\n").unwrap();
    let output = crate::cli::pantau()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("live.anonymous: moved"));
}

/// A real server at `RUST_LOG=trace` with JSON logs: every secret the test used — file token,
/// API-made token (in headers, in `?token=`, on the WebSocket), a refused guess, a database
/// password — is absent from everything it wrote.
fn no_secret_reaches_the_log_at_the_most_verbose_level() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("admin {ADMIN}\n")).unwrap();
    let port = crate::cli::free_port();
    let config = dir.path().join("pantau.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[access]\ntokens_file = \"{}\"\n[log]\nformat = \"json\"\n",
            tokens.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("server.log");
    let mut child = crate::cli::pantau()
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let guess = "pantau_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let made = runtime.block_on(async {
        crate::cli::wait_ready(port, &mut child).await;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let made: Value = client
            .post(format!("{base}/api/tokens"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "kiosk", "role": "wall", "dashboards": ["*"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = made["secret"].as_str().unwrap().to_owned();
        for url in [
            format!("{base}/api/dashboards?token={secret}"),
            format!("{base}/api/dashboards/kota-pasuruan-wall?token={guess}"),
            format!("{base}/api/datasets/complaints/export?token={secret}"),
        ] {
            let _ = client.get(url).send().await.unwrap().bytes().await;
        }
        let _ = client
            .get(format!("{base}/api/audit"))
            .bearer_auth(guess)
            .send()
            .await
            .unwrap();
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?token={secret}"))
                .await
                .unwrap();
        let _ = futures_util::StreamExt::next(&mut ws).await;
        drop(ws);
        // An account: its one-time password, a wrong one, the chosen one, the session's
        // cookie secret and CSRF token.
        let user: Value = client
            .post(format!("{base}/api/users"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "operator", "role": "monitor"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let otp = user["one_time_password"].as_str().unwrap().to_owned();
        let login = |password: String| {
            client
                .post(format!("{base}/api/session"))
                .json(&json!({"name": "operator", "password": password}))
                .send()
        };
        let _ = login("wrong-password-for-the-log-test".into())
            .await
            .unwrap();
        let opened = login(otp.clone()).await.unwrap();
        let cookie = |name: &str| {
            opened
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap())
                .find_map(|c| c.strip_prefix(&format!("{name}=")))
                .map(|c| c.split(';').next().unwrap().to_owned())
                .unwrap()
        };
        let (session, csrf) = (cookie("pantau_session"), cookie("pantau_csrf"));
        let changed = client
            .post(format!("{base}/api/session/password"))
            .header("cookie", format!("pantau_session={session}"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"current": otp, "new": "chosen password for the log test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 204);
        let _ = client
            .get(format!("{base}/api/sources"))
            .header("cookie", format!("pantau_session={session}"))
            .send()
            .await
            .unwrap();
        vec![secret, otp, session, csrf]
    });
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().count() > 20,
        "the server logged little: {text}"
    );
    assert!(text.contains("request"), "trace level logs requests");
    let (token, account) = made.split_first().unwrap();
    let passwords = [
        "wrong-password-for-the-log-test",
        "chosen password for the log test",
    ];
    for secret in [ADMIN, token.as_str(), &token[7..], guess]
        .into_iter()
        .chain(account.iter().map(String::as_str))
        .chain(passwords)
    {
        assert!(!text.contains(secret), "a secret is in the log: {secret}");
    }
    assert!(
        text.contains("/api/session"),
        "the logins were logged (without secrets)"
    );
}

/// `pantau demo` answers without a token on 127.0.0.1, and asks for one when it listens where
/// other machines reach it.
fn the_demo_is_open_on_loopback_only() {
    use std::process::Stdio;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (listen, expected) in [("127.0.0.1", 200), ("0.0.0.0", 401)] {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::cli::free_port();
        let mut child = crate::cli::pantau()
            .args([
                "demo",
                "--listen",
                &format!("{listen}:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = runtime.block_on(async {
            crate::cli::wait_ready(port, &mut child).await;
            reqwest::get(format!(
                "http://127.0.0.1:{port}/api/datasets/complaints/export?limit=1"
            ))
            .await
            .unwrap()
            .status()
            .as_u16()
        });
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(status, expected, "demo on {listen}");
    }
}

async fn an_address_that_guesses_tokens_waits_out_the_minute() {
    let app = closed_app(Backend::Sqlite, false).await;
    for i in 0..20 {
        let guess = format!("pantau_guess_{i}");
        let (status, code) =
            error_code(call(&app, "GET", "/api/dashboards", Some(&guess)).await).await;
        assert_eq!((status, code.as_str()), (401, "token_invalid"), "guess {i}");
    }
    // The 21st credential from this address waits, even a good one: guessing gains nothing.
    for token in ["pantau_guess_21", ADMIN] {
        let (status, code) =
            error_code(call(&app, "GET", "/api/dashboards", Some(token)).await).await;
        assert_eq!((status, code.as_str()), (429, "too_many_failures"));
    }
    // Requests without a credential are not what is throttled, and the server is well.
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(
        call(&app, "GET", "/api/dashboards", None).await.status(),
        401
    );
    // The throttling is in the audit log.
    let db = pantau::db::MetaDb::connect(
        &pantau::db::DatabaseTarget::Sqlite(app.data_dir.path().join("pantau.db")),
        &pantau::db::DatabaseSettings::default(),
    )
    .await
    .unwrap();
    let entries = pantau::access::AuditLog::new(db.clone())
        .entries(&pantau::db::AuditFilter {
            action_prefix: Some("address.throttled".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    db.close().await;
    app.stop().await;
}
