//! The one error type of the HTTP surface: JSON `{ "error": { "code", "message" } }` with a stable
//! code. Internal details are logged, never sent.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::access::{LoginError, Refusal, UserError};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `code` says how (e.g. `invalid_parameter`).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// For a person.
        message: String,
    },
    /// No such resource (`not_found`).
    #[error("{0}")]
    NotFound(String),
    /// A live connection was refused (`origin_not_allowed`, `too_many_connections`).
    #[error("{0}")]
    Denied(#[from] crate::live::Denied),
    /// Access refused: 401 for a missing or failed credential (`token_required`,
    /// `token_invalid`, `token_expired`, `token_revoked`), 403 for missing rights (`forbidden`).
    #[error("{0}")]
    Refused(#[from] crate::access::Refusal),
    /// A login failed: 401 `login_failed`, 429 `account_locked` / `too_many_failures` with
    /// `Retry-After`, 400 `invalid_login`.
    #[error("{0}")]
    Login(#[from] crate::access::LoginError),
    /// An account could not be made or changed: 400 `invalid_user`, 409 `name_taken`,
    /// 404 `not_found`, 403 `wrong_password`.
    #[error("{0}")]
    User(#[from] crate::access::UserError),
    /// Too many of something at once (`too_many_exports`): try again later.
    #[error("{message}")]
    TooMany {
        /// Stable code.
        code: &'static str,
        /// For a person.
        message: String,
    },
    /// The request body is larger than the route takes (`body_too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// The resource exists but has no value yet (`not_ready`), e.g. a panel not yet computed.
    #[error("{0}")]
    NotReady(String),
    /// Something failed inside; the client sees only that (`internal`).
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::TooMany { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::NotReady(_) => "not_ready",
            ApiError::TooLarge(_) => "body_too_large",
            ApiError::Denied(denied) => denied.code(),
            ApiError::Refused(refusal) => refusal.code(),
            ApiError::Login(e) => e.code(),
            ApiError::User(e) => match e {
                UserError::Invalid(_) => "invalid_user",
                UserError::NameTaken(_) => "name_taken",
                UserError::NotFound(_) => "not_found",
                UserError::WrongPassword => "wrong_password",
                UserError::Db(_) => "internal",
            },
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Refused(Refusal::Throttled(_)) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Refused(Refusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused(r) if r.is_unauthenticated() => StatusCode::UNAUTHORIZED,
            ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::Denied(crate::live::Denied::Origin(_)) => StatusCode::FORBIDDEN,
            ApiError::Denied(crate::live::Denied::TooManyConnections(_)) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Login(LoginError::Failed) => StatusCode::UNAUTHORIZED,
            ApiError::Login(LoginError::Locked(_) | LoginError::Throttled(_)) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Login(LoginError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ApiError::User(UserError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ApiError::User(UserError::NameTaken(_)) => StatusCode::CONFLICT,
            ApiError::User(UserError::NotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::User(UserError::WrongPassword) => StatusCode::FORBIDDEN,
            ApiError::Login(LoginError::Db(_)) | ApiError::User(UserError::Db(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds a client should wait before trying again, for `Retry-After`.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Refused(Refusal::Throttled(secs))
            | ApiError::Login(LoginError::Locked(secs) | LoginError::Throttled(secs)) => {
                Some(*secs)
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "Request failed."),
            ApiError::Login(LoginError::Db(e)) | ApiError::User(UserError::Db(e)) => {
                tracing::error!(error = %e, "Request failed in the metadata database.")
            }
            _ => {}
        }
        let message = if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let body = json!({ "error": { "code": self.code(), "message": message } });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            // RFC 6750: how to authenticate.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"pantau\""),
            );
        }
        response
    }
}

/// Any `/api/…` path that no route serves.
pub async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound(format!("no API endpoint at {path}"))
}
