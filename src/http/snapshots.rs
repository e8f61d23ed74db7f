//! Snapshots over HTTP: `POST /api/snapshots`, `GET /api/snapshots`, `GET /api/snapshots/{id}`
//! and `GET /api/snapshots/{id}/export`. The `export` room takes and reads them; here they are
//! shaped for the API.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::export::{audit_download, client_of, compression, stream};
use super::extract::ApiQuery;
use super::guard::{needs, Caller};
use super::{ApiError, AppState};
use crate::access::{AuditEvent, Permission};
use crate::db::SnapshotRecord;
use crate::export::SnapshotRequest;

/// Most snapshots listed in one page.
const MAX_PAGE: u32 = 200;
/// Largest request a listing shows in full; longer ones are shown by their size (the snapshot's
/// own page has them whole), so a page of 200 stays small.
const MAX_LISTED_REQUEST: usize = 2048;
/// Largest snapshot request body: 32 filters of 500 short values fit.
const MAX_BODY: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/snapshots",
            get(list_snapshots)
                .post(create_snapshot)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/snapshots/{snapshot}", get(one_snapshot))
        .route("/snapshots/{snapshot}/export", get(snapshot_export))
        // Which snapshots: a dataset's need `rows`, a dashboard's that dashboard (below).
        .route_layer(needs!(Permission::Aggregates))
        .layer(compression())
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: message.into(),
    }
}

/// Refuses (and audits) a snapshot outside the caller's reach: a dataset's without `rows`, a
/// dashboard's the caller may not see.
async fn within_reach(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    target: &str,
) -> Result<(), ApiError> {
    if kind == "dataset" {
        caller
            .require(
                &state.access,
                Permission::Rows,
                &format!("dataset/{target}"),
            )
            .await
    } else {
        caller.may_see_dashboard(&state.access, target).await
    }
}

async fn create_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SnapshotRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(mut body) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(format!(
                "a snapshot request is at most {} KiB",
                MAX_BODY / 1024
            ));
        }
        bad(format!(
            "the body must be a JSON snapshot request: {}",
            e.body_text()
        ))
    })?;
    match (&body.dashboard, &body.dataset) {
        (Some(id), None) => within_reach(&state, &caller, "dashboard", id).await?,
        (None, Some(name)) => within_reach(&state, &caller, "dataset", name).await?,
        _ => {}
    }
    // Who took it is who the server knows, not what the body says.
    if caller.principal.via != crate::access::Via::Anonymous {
        body.created_by = Some(caller.principal.name.clone());
    }
    let personal = caller.principal.may(Permission::PersonalFields);
    let record = state
        .exports
        .take_snapshot(body, &client_of(&caller, peer), personal)
        .await?;
    let event = AuditEvent::new("snapshot.create", &format!("snapshots/{}", record.id))
        .detail(json!({"kind": record.kind, "target": record.target,
            "request": serde_json::from_str::<Value>(&record.request).unwrap_or(Value::Null)}))
        .rows(record.rows.max(0) as u64);
    caller.audit(&state.access, event).await?;
    let mut response = (
        StatusCode::CREATED,
        Json(describe(&record, state.exports.time_zone, true)),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/snapshots/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A snapshot's record as the API shows it, with where to see and export it; `whole` false (a
/// listing) shows a long request by its size only.
fn describe(r: &SnapshotRecord, time_zone: chrono_tz::Tz, whole: bool) -> Value {
    let request = if whole || r.request.len() <= MAX_LISTED_REQUEST {
        serde_json::from_str::<Value>(&r.request).unwrap_or(Value::Null)
    } else {
        json!({"omitted": true, "bytes": r.request.len()})
    };
    json!({
        "id": r.id,
        "kind": r.kind,
        "target": r.target,
        "request": request,
        "as_of": r.as_of,
        "created_at": r.created_at,
        "created_by": r.created_by,
        "description": r.description,
        "store_seq": r.store_seq,
        "rows": r.rows,
        "bytes": r.bytes,
        "sha256": r.sha256,
        "time_zone": time_zone.name(),
        "url": format!("/api/snapshots/{}", r.id),
        "view": format!("/analyst/?snapshot={}", r.id),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn list_snapshots(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(format!("limit must be 1..={MAX_PAGE}")));
    }
    let mut list = state
        .exports
        .snapshots
        .list(page.before.as_deref(), limit)
        .await?;
    let full = list.len() == limit as usize;
    let next_before = list.last().map(|r| r.id.clone());
    let who = &caller.principal;
    list.retain(|r| match r.kind.as_str() {
        "dataset" => who.may(Permission::Rows),
        _ => who.may_see_dashboard(&r.target),
    });
    // The page continues after the last record read, seen or not.
    let next = full.then_some(next_before).flatten();
    Ok(Json(json!({
        "snapshots": list.iter().map(|r| describe(r, state.exports.time_zone, false)).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

async fn one_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = state.exports.snapshot(&id).await?;
    within_reach(&state, &caller, &view.record.kind, &view.record.target).await?;
    let mut value = describe(&view.record, state.exports.time_zone, true);
    if let Some(frozen) = view.dashboard {
        value["dashboard"] = frozen.dashboard;
        value["time_zone"] = json!(frozen.time_zone);
        value["panels"] = frozen
            .panels
            .iter()
            .map(|p| json!({"id": p.id, "kind": p.kind, "title": p.title, "value": p.value, "table": p.table}))
            .collect();
    }
    Ok(Json(value))
}

async fn snapshot_export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let record = state.exports.snapshot(&id).await?.record;
    within_reach(&state, &caller, &record.kind, &record.target).await?;
    let client = client_of(&caller, peer);
    let personal = caller.principal.may(Permission::PersonalFields);
    let download = state
        .exports
        .snapshot_export(&id, &pairs, &client, personal)
        .await?;
    let resource = format!("snapshots/{id}");
    let download = audit_download(
        &state,
        &caller,
        "export.snapshot",
        &resource,
        &pairs,
        download,
    )
    .await?;
    Ok(stream(download))
}
