//! `/healthz` (the process answers) and `/readyz` (it can do its job: database reachable, store
//! healthy, not shutting down).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

/// How long a readiness probe waits for the database.
const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = match tokio::time::timeout(DB_PROBE_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => json!({ "ok": true, "backend": state.db.backend() }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Readiness: database check failed.");
            json!({ "ok": false, "backend": state.db.backend(), "reason": "database query failed" })
        }
        Err(_) => {
            json!({ "ok": false, "backend": state.db.backend(), "reason": "database did not answer within 2 s" })
        }
    };
    let snapshot = state.store.snapshot();
    let mut store = match state.store.last_error() {
        None => json!({ "ok": true, "seq": snapshot.seq }),
        Some(e) => {
            tracing::warn!(error = %e, "Readiness: store check failed.");
            json!({ "ok": false, "seq": snapshot.seq, "reason": "the last write to the store failed" })
        }
    };
    // Ready, but an operator should know: a damaged checkpoint was set aside at start.
    if let Some(note) = state.store.recovered() {
        store["recovered"] = json!(note);
    }
    let stopping = state.live.shutdown.is_cancelled();
    let server = if stopping {
        json!({ "ok": false, "reason": "shutting down" })
    } else {
        json!({ "ok": true })
    };
    let ready = [&database, &store, &server]
        .iter()
        .all(|c| c["ok"] == json!(true));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "database": database, "store": store, "server": server },
    });
    (status, Json(body))
}
