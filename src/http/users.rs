//! `/api/users` (make, list, disable, reset a password): local accounts, for admins. A new or
//! reset account's one-time password is in the answer once; its owner chooses their own at the
//! first login.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{needs, Caller};
use super::{ApiError, AppState};
use crate::access::{NewUser, Permission, Role, UserError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{name}/disable", post(disable))
        .route("/users/{name}/reset-password", post(reset_password))
        .route_layer(needs!(Permission::Users))
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let users = state
        .access
        .accounts()
        .list()
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Json(json!({ "users": users })))
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    dashboards: Vec<String>,
}

/// The answer that carries a one-time password: never cached.
fn with_password(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        UserError::Invalid(format!(
            "the body must be a JSON account: {}",
            e.body_text()
        ))
    })?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        UserError::Invalid(format!(
            "role must be one of {}",
            Role::ALL.map(Role::name).join(", ")
        ))
    })?;
    let new = NewUser {
        name: body.name,
        display_name: body.display_name,
        role,
        dashboards: body.dashboards,
    };
    let (password, user) = state
        .access
        .accounts()
        .add(
            state.access.audit(),
            &caller.principal,
            &caller.address(),
            new,
        )
        .await?;
    Ok(with_password(
        StatusCode::CREATED,
        json!({ "user": user, "one_time_password": password,
            "note": "shown this once; it must be replaced at the first login" }),
    ))
}

async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .access
        .accounts()
        .disable(
            state.access.audit(),
            &caller.principal,
            &caller.address(),
            &name,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let password = state
        .access
        .accounts()
        .reset_password(
            state.access.audit(),
            &caller.principal,
            &caller.address(),
            &name,
        )
        .await?;
    Ok(with_password(
        StatusCode::OK,
        json!({ "name": name, "one_time_password": password,
            "note": "shown this once; the account's sessions have ended" }),
    ))
}
