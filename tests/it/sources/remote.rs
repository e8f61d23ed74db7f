//! Remote APIs replayed by local servers from the real LA GeoReport payloads: an Open311 endpoint
//! that is down, fails, truncates and then recovers; LAPOR!-style JSON APIs paged by number and by
//! token, behind a bearer token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{current_rows, shared, source, spawn_with_sources, wait_source};

crate::tests! {
    async open311_source_survives_a_down_failing_and_truncating_server_then_pulls_everything,
    async http_json_sources_page_by_number_token_and_next_link_with_auth_and_follow_updates,
    async http_json_sends_its_credential_only_to_its_own_origin,
    async an_http_json_pull_ends_at_its_byte_budget_and_the_next_goes_on,
}

/// How the replay server answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Fail500,
    Truncated,
    Healthy,
}

#[derive(Clone)]
struct Replay {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Vec<Value>>,
    services: Arc<Value>,
}

/// GeoReport v2 `requests.json`: the real payloads filtered by `start_date`/`end_date` on
/// `requested_datetime` and paged by `page`/`page_size`.
async fn requests(
    State(replay): State<Replay>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let mode = *replay.mode.lock().unwrap();
    match mode {
        Mode::Fail500 => {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "upstream database timeout",
            )
                .into_response()
        }
        Mode::Truncated => {
            return (
                [("content-type", "application/json")],
                "[{\"service_request_id\": \"1-15",
            )
                .into_response()
        }
        Mode::Healthy => {}
    }
    let time = |k: &str| {
        q.get(k)
            .map(|v| DateTime::parse_from_rfc3339(v).unwrap().with_timezone(&Utc))
    };
    let (start, end) = (time("start_date"), time("end_date"));
    let matching: Vec<&Value> = replay
        .requests
        .iter()
        .filter(|r| {
            let at =
                DateTime::parse_from_rfc3339(r["requested_datetime"].as_str().unwrap()).unwrap();
            start.is_none_or(|s| at >= s) && end.is_none_or(|e| at < e)
        })
        .collect();
    let size: usize = q.get("page_size").map_or(1000, |s| s.parse().unwrap());
    let page: usize = q.get("page").map_or(1, |s| s.parse().unwrap());
    let slice: Vec<&Value> = matching
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    axum::Json(slice).into_response()
}

async fn open311_source_survives_a_down_failing_and_truncating_server_then_pulls_everything() {
    let text = std::fs::read_to_string(shared(
        "complaints/la311_derived_georeport_v2_requests.json",
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let services: Value = serde_json::from_str(
        &std::fs::read_to_string(shared(
            "complaints/la311_derived_georeport_v2_services.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let replay = Replay {
        mode: Arc::new(Mutex::new(Mode::Fail500)),
        requests: Arc::new(all),
        services: Arc::new(services),
    };
    // Reserve a port, then leave it closed: the source starts against a server that is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = source(&format!(
        r#"
id = "la311"
type = "open311"
interval_secs = 0.2
base_url = "http://127.0.0.1:{port}/open311/v2"
since = "2019-12-31T00:00:00Z"
window_days = 400
page_size = 500
"#
    ));
    let app = spawn_with_sources(vec![config]).await;
    wait_source(&app, "la311", "a connection failure", |s| {
        s["state"] == "failing"
            && s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot connect"))
    })
    .await;

    let router = axum::Router::new()
        .route(
            "/open311/v2/services.json",
            get(|State(r): State<Replay>| async move { axum::Json((*r.services).clone()) }),
        )
        .route("/open311/v2/requests.json", get(requests))
        .with_state(replay.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let failing = wait_source(&app, "la311", "HTTP 500", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 500"))
    })
    .await;
    // The upstream's own words stay in the server log; clients see the status and where.
    assert!(
        !failing["last_error"]
            .as_str()
            .unwrap()
            .contains("upstream database timeout"),
        "{failing}"
    );
    *replay.mode.lock().unwrap() = Mode::Truncated;
    wait_source(&app, "la311", "truncated JSON", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON"))
    })
    .await;
    assert_eq!(
        current_rows(&app, "complaints").await,
        0,
        "failed pulls store nothing"
    );
    *replay.mode.lock().unwrap() = Mode::Healthy;
    let status = wait_source(&app, "la311", "every request", |s| {
        s["rows_in"].as_u64() >= Some(2_000) && s["state"] == "fresh"
    })
    .await;
    assert_eq!(status["rows_quarantined"], 0);
    assert_eq!(
        current_rows(&app, "complaints").await,
        2_000,
        "each request once, however often re-pulled"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("source_errors_total{source=\"la311\"}"),
        "{metrics}"
    );
    app.stop().await;
    server.abort();
}

/// A LAPOR!-style API over the real LA GeoReport records, reshaped: Indonesian keys, e-Sambat
/// status words, a `%z` time format, decimal-comma coordinates; `updated_since` filters, pages by
/// number (`/v1`) or by token (`/v2`), and a bearer token is required.
#[derive(Clone)]
struct Lapor {
    items: Arc<Mutex<Vec<Value>>>,
    /// The `updated_since` of the latest request: the source's cursor as the API sees it.
    last_since: Arc<Mutex<String>>,
    /// Every request's `updated_since` and `page`, in order.
    asked: Arc<Mutex<Vec<(String, usize)>>>,
}

const PAGE: usize = 300;

/// The real LA 311 records, and a LAPOR!-style API serving them reshaped.
fn lapor_api() -> (Vec<Value>, Lapor) {
    let text = std::fs::read_to_string(shared(
        "complaints/la311_derived_georeport_v2_requests.json",
    ))
    .unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    let api = Lapor {
        items: Arc::new(Mutex::new(records.iter().map(reshape).collect())),
        last_since: Arc::default(),
        asked: Arc::default(),
    };
    (records, api)
}

fn reshape(r: &Value) -> Value {
    let time = |k: &str| {
        DateTime::parse_from_rfc3339(r[k].as_str().unwrap())
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S %z")
            .to_string()
    };
    let comma = |k: &str| r[k].as_f64().map(|v| v.to_string().replace('.', ","));
    serde_json::json!({
        "no_tiket": r["service_request_id"],
        "kategori": r["service_name"],
        "instansi": r["agency_responsible"],
        "status": if r["status"] == "closed" { "selesai" } else { "proses" },
        "tgl_lapor": time("requested_datetime"),
        "tgl_update": time("updated_datetime"),
        "lokasi": { "lat": comma("lat"), "lng": comma("long") },
    })
}

fn since(items: &[Value], q: &std::collections::HashMap<String, String>) -> Vec<Value> {
    let from = q
        .get("updated_since")
        .filter(|s| !s.is_empty())
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
    let mut out: Vec<(DateTime<Utc>, Value)> = items
        .iter()
        .map(|i| {
            let at =
                DateTime::parse_from_str(i["tgl_update"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S %z")
                    .unwrap();
            (at.with_timezone(&Utc), i.clone())
        })
        .filter(|(at, _)| from.is_none_or(|f| *at >= f))
        .collect();
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, v)| v).collect()
}

fn authorised(headers: &axum::http::HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer rahasia-lapor-0001")
}

async fn lapor_v1(
    State(api): State<Lapor>,
    headers: axum::http::HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return (axum::http::StatusCode::UNAUTHORIZED, "token tidak valid").into_response();
    }
    *api.last_since.lock().unwrap() = q.get("updated_since").cloned().unwrap_or_default();
    let page: usize = q["page"].parse().unwrap();
    api.asked
        .lock()
        .unwrap()
        .push((q.get("updated_since").cloned().unwrap_or_default(), page));
    let items: Vec<Value> = since(&api.items.lock().unwrap(), &q)
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    axum::Json(serde_json::json!({ "status": "ok", "data": { "items": items } })).into_response()
}

async fn lapor_v2(
    State(api): State<Lapor>,
    headers: axum::http::HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return (axum::http::StatusCode::UNAUTHORIZED, "token tidak valid").into_response();
    }
    let offset: usize = q
        .get("token")
        .filter(|t| !t.is_empty())
        .map_or(0, |t| t.parse().unwrap());
    let all = since(&api.items.lock().unwrap(), &q);
    let items: Vec<Value> = all.iter().skip(offset).take(PAGE).cloned().collect();
    let next = (offset + PAGE < all.len()).then(|| (offset + PAGE).to_string());
    axum::Json(serde_json::json!({ "data": { "items": items }, "meta": { "next": next } }))
        .into_response()
}

/// Pages by an absolute next link in `links.next` (null on the last page).
async fn lapor_v3(
    State(api): State<Lapor>,
    headers: axum::http::HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return (axum::http::StatusCode::UNAUTHORIZED, "token tidak valid").into_response();
    }
    let offset: usize = q.get("offset").map_or(0, |t| t.parse().unwrap());
    let all = since(&api.items.lock().unwrap(), &q);
    let items: Vec<Value> = all.iter().skip(offset).take(PAGE).cloned().collect();
    let host = headers["host"].to_str().unwrap();
    let since = q.get("updated_since").cloned().unwrap_or_default();
    let next = (offset + PAGE < all.len()).then(|| {
        format!(
            "http://{host}/api/v3/aduan?updated_since={}&offset={}",
            pantau::ingest::kinds::http_json::encode(&since),
            offset + PAGE
        )
    });
    axum::Json(serde_json::json!({ "data": { "items": items }, "links": { "next": next } }))
        .into_response()
}

async fn http_json_sources_page_by_number_token_and_next_link_with_auth_and_follow_updates() {
    let (records, api) = lapor_api();
    let router = axum::Router::new()
        .route("/api/v1/aduan", get(lapor_v1))
        .route("/api/v2/aduan", get(lapor_v2))
        .route("/api/v3/aduan", get(lapor_v3))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    // SAFETY of the environment: the names are unique to this test.
    std::env::set_var("PANTAU_TEST_LAPOR_TOKEN", "Bearer rahasia-lapor-0001");
    std::env::set_var("PANTAU_TEST_LAPOR_WRONG", "Bearer salah");
    let mapping = LAPOR_MAPPING;
    let common = |id: &str, path: &str, env: &str, pagination: &str| {
        source(&format!(
            "id = \"{id}\"\ntype = \"http_json\"\ninterval_secs = 0.2\nurl = \"http://127.0.0.1:{port}{path}\"\nrecords = \"data.items\"\npagination = {pagination}\nauth_header = \"Authorization\"\nauth_env = \"{env}\"\nmax_pages = 3\n{mapping}"
        ))
    };
    let sources = vec![
        common(
            "lapor",
            "/api/v1/aduan?updated_since={cursor}&page={page}",
            "PANTAU_TEST_LAPOR_TOKEN",
            "{ kind = \"page\" }",
        ),
        common(
            "qlue",
            "/api/v2/aduan?updated_since={cursor}&token={token}",
            "PANTAU_TEST_LAPOR_TOKEN",
            "{ kind = \"token\", path = \"meta.next\" }",
        ),
        common(
            "sipd",
            "/api/v3/aduan?updated_since={cursor}",
            "PANTAU_TEST_LAPOR_TOKEN",
            "{ kind = \"next_link\", path = \"links.next\" }",
        ),
        common(
            "lapor-bad",
            "/api/v1/aduan?updated_since={cursor}&page={page}",
            "PANTAU_TEST_LAPOR_WRONG",
            "{ kind = \"page\" }",
        ),
    ];
    let app = spawn_with_sources(sources).await;
    let bad = wait_source(&app, "lapor-bad", "a refused token", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 401") && !e.contains("token tidak valid"))
    })
    .await;
    assert_eq!(bad["state"], "failing");
    // max_pages = 3 of 300: the 2,000 records take several pulls, each continuing at once. A
    // source has caught up when its newest record is the newest upstream (`rows_in` alone says
    // less: the API's `>=` hands the records at the cursor's own second back on every pull).
    let latest = records
        .iter()
        .map(|r| DateTime::parse_from_rfc3339(r["updated_datetime"].as_str().unwrap()).unwrap())
        .max()
        .unwrap()
        .with_timezone(&Utc);
    let newest = |s: &Value| {
        s["newest_record"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    for id in ["lapor", "qlue", "sipd"] {
        let s = wait_source(&app, id, "every record", |s| newest(s) == Some(latest)).await;
        assert!(s["rows_in"].as_u64().unwrap() >= 2_000, "{s}");
        assert_eq!(s["rows_quarantined"], 0, "{s}");
    }
    // Records sharing the newest second may still be a pull away: give them a moment.
    crate::helpers::eventually(
        "6,000 complaints stored",
        Duration::from_secs(10),
        || async {
            let rows = current_rows(&app, "complaints").await;
            (rows >= 6_000).then_some(()).ok_or(rows)
        },
    )
    .await;
    assert_eq!(
        current_rows(&app, "complaints").await,
        6_000,
        "2,000 per source, none twice"
    );

    // Five complaints are resolved upstream later: the source picks them up and its cursor
    // (the newest record time, RFC 3339) moves to their update time.
    let before = wait_source(&app, "lapor", "steady", |_| true).await["rows_in"]
        .as_u64()
        .unwrap();
    {
        let mut items = api.items.lock().unwrap();
        for item in items.iter_mut().take(5) {
            item["status"] = Value::from("selesai");
            item["tgl_update"] = Value::from("2030-01-01 10:00:00 +0700");
        }
    }
    let after = wait_source(&app, "lapor", "the updates", |s| {
        s["newest_record"] == "2030-01-01T03:00:00Z"
    })
    .await;
    assert!(after["rows_in"].as_u64().unwrap() >= before + 5, "{after}");
    crate::helpers::eventually(
        "the cursor follows the updates",
        Duration::from_secs(10),
        || async {
            let since = api.last_since.lock().unwrap().clone();
            (since == "2030-01-01T03:00:00Z").then_some(()).ok_or(since)
        },
    )
    .await;
    assert_eq!(current_rows(&app, "complaints").await, 6_000);
    app.stop().await;
    server.abort();
}

/// The LAPOR!-style records of the replay servers, read as complaints.
const LAPOR_MAPPING: &str = r#"
[mapping]
dataset = "complaints"
[mapping.fields]
source_id = "no_tiket"
category = "kategori"
opd = "instansi"
status = { column = "status", vocabulary = "e_sambat" }
created_at = { column = "tgl_lapor", format = "%Y-%m-%d %H:%M:%S %z" }
updated_at = { column = "tgl_update", format = "%Y-%m-%d %H:%M:%S %z" }
lat = { column = "lokasi.lat", number_style = "indonesian" }
lon = { column = "lokasi.lng", number_style = "indonesian" }
"#;

/// What the other origin was sent: the credential and the configured header of each request.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// A next link or a redirect to another origin must not carry the source's secrets there. The
/// other origin is a second local server (another port is another origin).
async fn http_json_sends_its_credential_only_to_its_own_origin() {
    let text = std::fs::read_to_string(shared(
        "complaints/la311_derived_georeport_v2_requests.json",
    ))
    .unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    let items: Vec<Value> = records.iter().map(reshape).collect();
    let (first, rest) = (items[..40].to_vec(), items[40..70].to_vec());

    // The other origin: one page, recording what each request carried.
    let seen: Seen = Arc::default();
    let other = axum::Router::new()
        .route(
            "/more",
            get(
                |State((seen, rest)): State<(Seen, Arc<Vec<Value>>)>,
                 headers: axum::http::HeaderMap| async move {
                    let header =
                        |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
                    seen.lock()
                        .unwrap()
                        .push((header("authorization"), header("x-pantau-test")));
                    axum::Json(serde_json::json!({
                        "data": { "items": *rest }, "links": { "next": null }
                    }))
                },
            ),
        )
        .with_state((seen.clone(), Arc::new(rest)));
    let other_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_origin = format!("http://{}", other_listener.local_addr().unwrap());
    let other_server = tokio::spawn(async move { axum::serve(other_listener, other).await });

    // The configured origin: its first page links to the other origin; /moved redirects there.
    let next = format!("{other_origin}/more");
    let home = axum::Router::new()
        .route(
            "/aduan",
            get({
                let (first, next) = (first.clone(), next.clone());
                move |headers: axum::http::HeaderMap| async move {
                    if !authorised(&headers) {
                        return (axum::http::StatusCode::UNAUTHORIZED, "token tidak valid")
                            .into_response();
                    }
                    axum::Json(serde_json::json!({
                        "data": { "items": first }, "links": { "next": next }
                    }))
                    .into_response()
                }
            }),
        )
        .route(
            "/moved",
            get(move || async move { axum::response::Redirect::temporary(&next) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, home).await });

    // SAFETY of the environment: the name is unique to this test.
    std::env::set_var("PANTAU_TEST_ORIGIN_TOKEN", "Bearer rahasia-lapor-0001");
    let config = |id: &str, path: &str, follow: &str| {
        source(&format!(
            r#"id = "{id}"
type = "http_json"
interval_secs = 0.2
url = "http://127.0.0.1:{port}{path}"
records = "data.items"
pagination = {{ kind = "next_link", path = "links.next" }}
auth_header = "Authorization"
auth_env = "PANTAU_TEST_ORIGIN_TOKEN"
headers = {{ "X-Pantau-Test" = "kunci-rahasia" }}
{follow}
{LAPOR_MAPPING}"#
        ))
    };
    let app = spawn_with_sources(vec![
        config("unlisted", "/aduan", ""),
        config("redirected", "/moved", ""),
    ])
    .await;
    let unlisted = wait_source(&app, "unlisted", "the other origin refused", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("another origin ({other_origin})")))
    })
    .await;
    assert_eq!(unlisted["state"], "failing", "{unlisted}");
    assert!(
        unlisted["last_error"]
            .as_str()
            .unwrap()
            .contains("follow_origins"),
        "the error says which setting follows it: {unlisted}"
    );
    let redirected = wait_source(&app, "redirected", "the redirect refused", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("redirected to another origin"))
    })
    .await;
    assert_eq!(redirected["state"], "failing", "{redirected}");
    // A failed pull stores nothing and keeps its cursor: the first page is read again later.
    assert_eq!(current_rows(&app, "complaints").await, 0);
    assert!(
        seen.lock().unwrap().is_empty(),
        "neither a refused link nor a refused redirect reached the other origin"
    );
    app.stop().await;

    // Listed in follow_origins, the other origin is read, without the credential and headers.
    let follow = format!("follow_origins = [\"{other_origin}\"]");
    let app = spawn_with_sources(vec![config("listed", "/aduan", &follow)]).await;
    let listed = wait_source(&app, "listed", "both origins read", |s| {
        s["rows_in"].as_u64().is_some_and(|n| n >= 70)
    })
    .await;
    assert_eq!(listed["state"], "fresh", "{listed}");
    crate::helpers::eventually("70 complaints stored", Duration::from_secs(10), || async {
        let rows = current_rows(&app, "complaints").await;
        (rows == 70).then_some(()).ok_or(rows)
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|(auth, header)| auth.is_none() && header.is_none()),
        "the other origin saw a secret: {seen:?}"
    );
    app.stop().await;
    server.abort();
    other_server.abort();
}

/// Pages of 300 records (about 75 KB each) against a 0.1 MiB budget: each pull reads two pages
/// and ends, though `max_pages` would allow a hundred; the next pull continues from the cursor and
/// every record arrives.
async fn an_http_json_pull_ends_at_its_byte_budget_and_the_next_goes_on() {
    let (_, api) = lapor_api();
    let router = axum::Router::new()
        .route("/api/v1/aduan", get(lapor_v1))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    std::env::set_var("PANTAU_TEST_LAPOR_BUDGET", "Bearer rahasia-lapor-0001");
    let config = source(&format!(
        "id = \"lapor\"\ntype = \"http_json\"\ninterval_secs = 0.2\n\
         url = \"http://127.0.0.1:{port}/api/v1/aduan?updated_since={{cursor}}&page={{page}}\"\n\
         records = \"data.items\"\npagination = {{ kind = \"page\" }}\nauth_header = \"Authorization\"\n\
         auth_env = \"PANTAU_TEST_LAPOR_BUDGET\"\nmax_pages = 100\nmax_pull_mib = 0.1\n{LAPOR_MAPPING}"
    ));
    let app = spawn_with_sources(vec![config]).await;
    crate::helpers::eventually("2,000 complaints", Duration::from_secs(30), || async {
        let rows = current_rows(&app, "complaints").await;
        (rows == 2_000).then_some(()).ok_or(rows)
    })
    .await;
    let asked = api.asked.lock().unwrap().clone();
    let first_pull: Vec<usize> = asked
        .iter()
        .take_while(|(since, _)| since.is_empty())
        .map(|(_, page)| *page)
        .collect();
    assert_eq!(
        first_pull,
        vec![1, 2],
        "the first pull stops at its budget: {asked:?}"
    );
    let distinct: std::collections::BTreeSet<&String> = asked.iter().map(|(s, _)| s).collect();
    assert!(
        distinct.len() >= 3,
        "later pulls continue from the cursor: {asked:?}"
    );
    app.stop().await;
    server.abort();
}
