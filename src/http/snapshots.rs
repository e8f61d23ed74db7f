//! Snapshots over HTTP: `POST /api/snapshots`, `GET /api/snapshots`, `GET /api/snapshots/{id}`
//! and `GET /api/snapshots/{id}/export`. The `export` room takes and reads them; here they are
//! shaped for the API.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::export::{client_of, compression, stream};
use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::db::SnapshotRecord;
use crate::export::SnapshotRequest;

/// Most snapshots listed in one page.
const MAX_PAGE: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/snapshots", get(list_snapshots).post(create_snapshot))
        .route("/snapshots/{snapshot}", get(one_snapshot))
        .route("/snapshots/{snapshot}/export", get(snapshot_export))
        .layer(compression())
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: message.into(),
    }
}

async fn create_snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SnapshotRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "the body must be a JSON snapshot request: {}",
            e.body_text()
        ))
    })?;
    let record = state
        .exports
        .take_snapshot(body, &client_of(&state, &headers, peer))
        .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(describe(&record, state.exports.time_zone)),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/snapshots/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A snapshot's record as the API shows it, with where to see and export it.
fn describe(r: &SnapshotRecord, time_zone: chrono_tz::Tz) -> Value {
    json!({
        "id": r.id,
        "kind": r.kind,
        "target": r.target,
        "request": serde_json::from_str::<Value>(&r.request).unwrap_or(Value::Null),
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
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(format!("limit must be 1..={MAX_PAGE}")));
    }
    let list = state
        .exports
        .snapshots
        .list(page.before.as_deref(), limit)
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(json!({
        "snapshots": list.iter().map(|r| describe(r, state.exports.time_zone)).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

async fn one_snapshot(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = state.exports.snapshot(&id).await?;
    let mut value = describe(&view.record, state.exports.time_zone);
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
    Path(id): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let client = client_of(&state, &headers, peer);
    let download = state.exports.snapshot_export(&id, &pairs, &client).await?;
    Ok(stream(download))
}
