//! The one error type of the HTTP surface: JSON `{ "error": { "code", "message" } }` with a stable
//! code. Internal details are logged, never sent.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
            ApiError::Refused(crate::access::Refusal::Throttled(_)) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Refused(r) if r.is_unauthenticated() => StatusCode::UNAUTHORIZED,
            ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::Denied(crate::live::Denied::Origin(_)) => StatusCode::FORBIDDEN,
            ApiError::Denied(crate::live::Denied::TooManyConnections(_)) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "Request failed.");
        }
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = (self.status(), Json(body)).into_response();
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
