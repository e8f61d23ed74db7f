//! `/api/sources`: each source's state, last success and error, rows and lag, for operators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sources", get(list))
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
            json!({
                "id": s.id,
                "kind": s.kind,
                "dataset": s.dataset,
                "state": s.freshness(now),
                "interval_ms": s.interval_ms,
                "stale_after_secs": s.stale_after().as_secs(),
                "last_success": s.last_success,
                "last_error": s.last_error,
                "last_error_at": s.last_error_at,
                "consecutive_failures": s.consecutive_failures,
                "rows_in": s.rows_in,
                "newest_record": s.newest_record,
                "lag_seconds": lag,
            })
        })
        .collect();
    Json(json!({ "sources": sources }))
}
