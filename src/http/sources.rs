//! `/api/sources`: each source's state, last success and error, rows and lag, for operators;
//! `/api/sources/{id}/quarantine`: the records it delivered that could not be stored, and why.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ApiQuery;
use super::guard::needs;
use super::AppState;
use crate::access::Permission;

/// Largest quarantine page.
const MAX_PAGE: u32 = 1000;

pub fn router() -> Router<AppState> {
    let health = Router::new()
        .route("/sources", get(list))
        .route_layer(needs!(Permission::Operations));
    // Quarantined records are what sources delivered, personal data included.
    let quarantine = Router::new()
        .route("/sources/{id}/quarantine", get(quarantine))
        .route_layer(needs!(Permission::Quarantine));
    health.merge(quarantine)
}

#[derive(Deserialize)]
struct PageQuery {
    /// Records after this id (the previous page's `next_after`).
    #[serde(default)]
    after: i64,
    /// Records per page, 1..=1000.
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

async fn quarantine(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    if page.after < 0 {
        return Err(ApiError::BadRequest {
            code: "invalid_parameter",
            message: format!("after is a record id (0 or more), got {}", page.after),
        });
    }
    if !state.health.list().iter().any(|s| s.id == id) {
        return Err(ApiError::NotFound(format!("no source '{id}'")));
    }
    if !(1..=MAX_PAGE).contains(&page.limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_parameter",
            message: format!("limit must be 1..={MAX_PAGE}, got {}", page.limit),
        });
    }
    let records = state
        .db
        .quarantine(&id, page.after, page.limit)
        .await
        .map_err(anyhow::Error::from)?;
    let next_after = (records.len() as u32 == page.limit).then(|| records.last().map(|r| r.id));
    let records: Vec<Value> = records
        .into_iter()
        .map(|r| {
            let payload =
                serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::String(r.payload));
            json!({
                "id": r.id,
                "reason": r.reason,
                "payload": payload,
                "first_seen": r.first_seen,
                "last_seen": r.last_seen,
            })
        })
        .collect();
    Ok(Json(
        json!({ "source": id, "records": records, "next_after": next_after.flatten() }),
    ))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let now = Utc::now();
    let sources: Vec<Value> = state
        .health
        .list()
        .into_iter()
        .map(|s| {
            let lag = s
                .newest_record
                .map(|newest| (now - newest).num_milliseconds().max(0) as f64 / 1000.0);
            let mut entry = s.report(now);
            entry["lag_seconds"] = json!(lag);
            entry
        })
        .collect();
    Json(json!({ "sources": sources }))
}
