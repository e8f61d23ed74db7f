//! `/api/screens`: which named wall screens are alive, stale or gone.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use super::guard::needs;
use super::AppState;
use crate::access::Permission;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/screens", get(list))
        .route_layer(needs!(Permission::Operations))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let now = Utc::now();
    let screens: Vec<Value> = state
        .live
        .screens
        .list()
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name,
                "state": s.state(now),
                "page": s.page,
                "address": s.address,
                "connected": s.connected(),
                "last_report": s.last_report,
                "data_age_s": s.data_age_s,
                "stale": s.stale,
                "connections": s.connections,
            })
        })
        .collect();
    Json(json!({ "screens": screens }))
}
