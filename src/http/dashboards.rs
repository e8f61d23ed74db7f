//! `/api/dashboards`: the loaded dashboards, their panels' current values, the files' problems
//! and the JSON Schema of the format.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::guard::{needs, Caller};
use super::AppState;
use crate::access::Permission;
use crate::dashboards::topic;

pub fn router() -> Router<AppState> {
    let figures = Router::new()
        .route("/dashboards", get(list))
        .route("/dashboards/{dashboard}", get(one))
        .route("/dashboards/{dashboard}/panels/{panel}", get(panel))
        .route_layer(needs!(Permission::Aggregates));
    let operations = Router::new()
        .route("/dashboards/errors", get(errors))
        .route_layer(needs!(Permission::Operations));
    let public = Router::new()
        .route("/dashboards/schema", get(schema))
        .route_layer(needs!(Permission::Boundaries));
    figures.merge(operations).merge(public)
}

/// The dashboards the caller may see.
async fn list(State(state): State<AppState>, caller: Caller) -> Json<Value> {
    let dashboards: Vec<Value> = state
        .dashboards
        .dashboards()
        .values()
        .filter(|d| caller.principal.may_see_dashboard(&d.id))
        .map(|d| {
            json!({
                "id": d.id,
                "title": d.title,
                "audience": d.audience,
                "panels": d.panels.iter().map(|p| &p.id).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "dashboards": dashboards,
        "errors": state.dashboards.errors().len(),
        "loaded_at": state.dashboards.loaded_at(),
    }))
}

async fn errors(State(state): State<AppState>) -> Json<Value> {
    let errors: Vec<Value> = state
        .dashboards
        .errors()
        .into_iter()
        .map(|e| {
            json!({
                "file": e.file,
                "line": e.line,
                "col": e.col,
                "message": e.message,
                "text": e.to_string(),
            })
        })
        .collect();
    Json(json!({ "errors": errors }))
}

async fn schema() -> Json<Value> {
    Json(crate::dashboards::json_schema())
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_see_dashboard(&state.access, &id).await?;
    let d = state
        .dashboards
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard '{id}'")))?;
    let mut value = serde_json::to_value(&*d).map_err(anyhow::Error::from)?;
    if let Some(panels) = value["panels"].as_array_mut() {
        for p in panels {
            let panel_id = p["id"].as_str().unwrap_or_default().to_owned();
            p["topic"] = json!(topic(&d.id, &panel_id));
        }
    }
    Ok(Json(value))
}

async fn panel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, panel)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_see_dashboard(&state.access, &id).await?;
    let d = state
        .dashboards
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard '{id}'")))?;
    let p =
        d.panels.iter().find(|p| p.id == panel).ok_or_else(|| {
            ApiError::NotFound(format!("dashboard '{id}' has no panel '{panel}'"))
        })?;
    let name = topic(&d.id, &p.id);
    let current =
        state.live.hub.get(&name).ok_or_else(|| {
            ApiError::NotReady(format!("panel '{panel}' has not been computed yet"))
        })?;
    Ok(Json(json!({
        "dashboard": d.id,
        "panel": p.id,
        "kind": p.kind,
        "title": p.title,
        "topic": name,
        "seq": current.seq,
        "committed_at": current.committed_at,
        "value": current.data,
    })))
}
