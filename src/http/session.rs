//! `/api/session`: logging in with a local account's name and password, who is logged in,
//! logging out, and choosing a new password. A login sets two cookies: the session's secret
//! (`HttpOnly`, so no script reads it) and its CSRF token (readable, so the page can send it back
//! in `X-CSRF-Token` on requests that change state). Both are `SameSite=Strict`, and `Secure` over
//! HTTPS (`access.secure_cookies`).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::guard::{credential_of, Peer, CSRF_COOKIE, SESSION_COOKIE};
use super::{ApiError, AppState};
use crate::access::{Credential, LoginError, Principal, UserError, Via};

/// A login or password body is small; anything larger is not one.
const MAX_BODY: usize = 4 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", get(who).post(login).delete(logout))
        .route("/session/password", post(change_password))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// `POST /api/session` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    name: String,
    password: String,
}

/// `POST /api/session/password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: String,
    new: String,
}

/// Whether the request reached us over HTTPS: a reverse proxy in front says so.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the session's cookies; `max_age` 0 removes the cookie.
fn cookie(name: &str, value: &str, max_age: i64, http_only: bool, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        text.push_str("; HttpOnly");
    }
    if secure {
        text.push_str("; Secure");
    }
    // Secrets and CSRF tokens are hex: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session's two cookies (a tuple array would keep only the last `Set-Cookie`), and
/// `Cache-Control: no-store`.
fn cookie_headers(secret: HeaderValue, csrf: HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.append(header::SET_COOKIE, secret);
    headers.append(header::SET_COOKIE, csrf);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}

/// Headers that remove both cookies.
fn cleared(secure: bool) -> HeaderMap {
    cookie_headers(
        cookie(SESSION_COOKIE, "", 0, true, secure),
        cookie(CSRF_COOKIE, "", 0, false, secure),
    )
}

async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    Peer(ip): Peer,
    headers: HeaderMap,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        LoginError::Invalid(format!(
            "the body must be JSON {{\"name\": …, \"password\": …}}: {}",
            e.body_text()
        ))
    })?;
    let done = state.access.login(&body.name, &body.password, ip).await?;
    let accounts = state.access.accounts();
    let secure = accounts.secure_cookies(over_https(&headers));
    let max_age = accounts.session_ttl().num_seconds();
    let answer = json!({
        "user": done.user,
        "csrf_token": done.csrf,
        "expires_at": done.expires_at,
        "must_change_password": done.user.must_change_password,
    });
    let headers = cookie_headers(
        cookie(SESSION_COOKIE, &done.secret, max_age, true, secure),
        cookie(CSRF_COOKIE, &done.csrf, max_age, false, secure),
    );
    Ok((headers, Json(answer)).into_response())
}

/// The session's principal and its cookie's secret, for the routes that act on a session. A
/// failed credential is refused as anywhere else; a good token, or none where anonymous access is
/// open, is not a session to act on.
async fn session_of(
    state: &AppState,
    ip: std::net::IpAddr,
    method: &axum::http::Method,
    headers: &HeaderMap,
    resource: &str,
) -> Result<(Principal, String), ApiError> {
    let credential = credential_of(method, headers, &Default::default());
    let principal = state
        .access
        .authenticate(credential.as_ref(), ip, resource)
        .await?;
    match credential {
        Some(Credential::Session { secret, .. }) => Ok((principal, secret)),
        _ => Err(ApiError::BadRequest {
            code: "not_a_session",
            message: "this acts on a browser session (the pantau_session cookie from POST \
                      /api/session); a token is revoked with DELETE /api/tokens/{name}"
                .into(),
        }),
    }
}

/// `GET /api/session`: who the request is (a session, a token or anonymous), and for a session
/// its account. A session that must change its password may ask this.
async fn who(
    axum::extract::State(state): axum::extract::State<AppState>,
    Peer(ip): Peer,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let credential = credential_of(&method, &headers, &uri);
    let principal = state
        .access
        .authenticate(credential.as_ref(), ip, "GET /api/session")
        .await?;
    let user = match principal.via {
        Via::Session => state
            .access
            .accounts()
            .user(&principal.name)
            .await
            .map_err(anyhow::Error::from)?,
        _ => None,
    };
    let answer = json!({
        "name": principal.name,
        "role": principal.role,
        "via": principal.via.name(),
        "screen": principal.screen,
        "must_change_password": principal.must_change_password(),
        "user": user,
    });
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(answer),
    )
        .into_response())
}

/// `DELETE /api/session`: ends the session and removes its cookies.
async fn logout(
    axum::extract::State(state): axum::extract::State<AppState>,
    Peer(ip): Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (principal, secret) = session_of(
        &state,
        ip,
        &axum::http::Method::DELETE,
        &headers,
        "DELETE /api/session",
    )
    .await?;
    state
        .access
        .accounts()
        .logout(state.access.audit(), &principal, &ip.to_string(), &secret)
        .await
        .map_err(anyhow::Error::from)?;
    let secure = state.access.accounts().secure_cookies(over_https(&headers));
    Ok((StatusCode::NO_CONTENT, cleared(secure)).into_response())
}

/// `POST /api/session/password`: replaces the account's password (the current one is asked
/// again); other sessions of the account end, this one stays.
async fn change_password(
    axum::extract::State(state): axum::extract::State<AppState>,
    Peer(ip): Peer,
    headers: HeaderMap,
    body: Result<Json<PasswordChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let (principal, secret) = session_of(
        &state,
        ip,
        &axum::http::Method::POST,
        &headers,
        "POST /api/session/password",
    )
    .await?;
    let Json(body) = body.map_err(|e| {
        UserError::Invalid(format!(
            "the body must be JSON {{\"current\": …, \"new\": …}}: {}",
            e.body_text()
        ))
    })?;
    state
        .access
        .accounts()
        .change_password(
            state.access.audit(),
            &principal,
            ip,
            &body.current,
            &body.new,
            &secret,
        )
        .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_strict_and_only_the_secret_is_http_only() {
        let secret = cookie(SESSION_COOKIE, "pantau_s_ab", 3600, true, false);
        assert_eq!(
            secret,
            "pantau_session=pantau_s_ab; Path=/; Max-Age=3600; SameSite=Strict; HttpOnly"
        );
        let csrf = cookie(CSRF_COOKIE, "cd", 3600, false, true);
        assert_eq!(
            csrf,
            "pantau_csrf=cd; Path=/; Max-Age=3600; SameSite=Strict; Secure"
        );
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_https(&headers));
    }
}
