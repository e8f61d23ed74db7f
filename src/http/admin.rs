//! `/api/tokens` (create, list, revoke) and `/api/audit` (read, export as CSV): for admins.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::ApiQuery;
use super::guard::{needs, Caller};
use super::{ApiError, AppState};
use crate::access::{NewToken, Permission, Role, TokenError};
use crate::db::{AuditFilter, AuditRow};

/// Largest audit page.
const MAX_PAGE: u32 = 1000;

pub fn router() -> Router<AppState> {
    let tokens = Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{name}", delete(revoke_token))
        .route_layer(needs!(Permission::Tokens));
    let audit = Router::new()
        .route("/audit", get(audit))
        .route_layer(needs!(Permission::Audit));
    tokens.merge(audit)
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        match e {
            TokenError::Invalid(message) => ApiError::BadRequest {
                code: "invalid_token_request",
                message,
            },
            TokenError::NameTaken(_) => ApiError::BadRequest {
                code: "name_taken",
                message: e.to_string(),
            },
            TokenError::NotFound(_) => ApiError::NotFound(e.to_string()),
            TokenError::Db(e) => ApiError::Internal(e.into()),
        }
    }
}

async fn list_tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tokens = state
        .access
        .tokens()
        .list()
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Json(json!({ "tokens": tokens })))
}

/// `POST /api/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: String,
    #[serde(default)]
    screen: Option<String>,
    #[serde(default)]
    dashboards: Vec<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest {
        code: "invalid_token_request",
        message: format!("the body must be a JSON token request: {}", e.body_text()),
    })?;
    let role = Role::parse(&body.role).ok_or_else(|| ApiError::BadRequest {
        code: "invalid_token_request",
        message: format!(
            "role must be one of {}",
            Role::ALL.map(Role::name).join(", ")
        ),
    })?;
    let new = NewToken {
        name: body.name,
        role,
        screen: body.screen,
        dashboards: body.dashboards,
        expires_at: body.expires_at,
    };
    let (secret, info) = state
        .access
        .tokens()
        .create(
            state.access.audit(),
            &caller.principal,
            &caller.address(),
            new,
        )
        .await?;
    let body = json!({ "token": info, "secret": secret,
        "note": "the secret is shown this once; Pantau keeps only its hash" });
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .access
        .tokens()
        .revoke(
            state.access.audit(),
            &caller.principal,
            &caller.address(),
            &name,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<i64>,
    limit: Option<u32>,
    format: Option<String>,
    /// A download link's credential; read by the guard.
    #[allow(dead_code)]
    token: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let bad = |message: String| ApiError::BadRequest {
        code: "invalid_parameter",
        message,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(format!("limit must be 1..={MAX_PAGE}")));
    }
    if let Some(o) = &q.outcome {
        if !["ok", "denied", "failed"].contains(&o.as_str()) {
            return Err(bad("outcome is ok, denied or failed".into()));
        }
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(bad("format is json or csv".into())),
    };
    let clip = |t: Option<String>| t.map(|t| t.chars().take(200).collect::<String>());
    let filter = AuditFilter {
        actor: clip(q.actor),
        action_prefix: clip(q.action),
        outcome: q.outcome,
        since: q.since,
        until: q.until,
        before_id: q.before,
        limit,
    };
    let entries = state
        .access
        .audit()
        .entries(&filter)
        .await
        .map_err(anyhow::Error::from)?;
    if csv {
        return Ok(csv_response(&entries));
    }
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next_before": next })).into_response())
}

fn csv_response(entries: &[AuditRow]) -> Response {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record([
        "id",
        "at",
        "actor",
        "actor_kind",
        "address",
        "action",
        "resource",
        "detail",
        "rows",
        "outcome",
        "prev_hash",
        "hash",
    ]);
    for e in entries {
        let _ = out.write_record([
            e.id.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.actor.clone(),
            e.actor_kind.clone(),
            e.address.clone(),
            e.action.clone(),
            e.resource.clone(),
            e.detail.clone(),
            e.rows.map(|r| r.to_string()).unwrap_or_default(),
            e.outcome.clone(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ]);
    }
    let body = out.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
