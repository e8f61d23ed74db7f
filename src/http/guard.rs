//! Every route says what it needs: `.route_layer(needs!(Permission::X))` authenticates the
//! request through `access` (a bearer header, or `?token=` where a page cannot set one: a
//! WebSocket, a download link) and checks the role. The principal goes into the request's
//! extensions for the handler; a refusal is the API's JSON 401/403, audited by `access`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::{bearer, cookie};
use super::ApiError;
use crate::access::{Access, AuditEvent, Credential, Permission, Principal};

/// The layer that lets a request through to the route only with `$permission`.
macro_rules! needs {
    ($permission:expr) => {
        axum::middleware::from_fn(|request, next| {
            $crate::http::guard::check($permission, request, next)
        })
    };
}
pub(super) use needs;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pantau_session";
/// The cookie that hands a page its session's CSRF token (readable by the page's script).
pub const CSRF_COOKIE: &str = "pantau_csrf";
/// The header a page sends the CSRF token back in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The credential a request carries: the `Authorization: Bearer` header, else `?token=`, else
/// the session cookie (with the CSRF header, which requests that change state need).
pub fn credential(request: &Request) -> Option<Credential> {
    credential_of(request.method(), request.headers(), request.uri())
}

/// [`credential`] from a request's parts.
pub fn credential_of(
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
) -> Option<Credential> {
    if let Some(token) = bearer(headers) {
        return Some(Credential::Token(token.to_owned()));
    }
    let pairs: Option<Query<Vec<(String, String)>>> = Query::try_from_uri(uri).ok();
    let from_query = pairs.and_then(|pairs| {
        pairs
            .0
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    });
    if let Some(token) = from_query {
        return Some(Credential::Token(token));
    }
    let secret = cookie(headers, SESSION_COOKIE)?;
    Some(Credential::Session {
        secret: secret.to_owned(),
        csrf: headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        changes_state: !(method.is_safe()),
    })
}

/// The client's address as the listener saw it.
fn address(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Authenticates and authorises; see the module's text.
pub async fn check(permission: Permission, mut request: Request, next: Next) -> Response {
    let Some(access) = request.extensions().get::<Arc<Access>>().cloned() else {
        return ApiError::Internal(anyhow::anyhow!("the access layer is not installed"))
            .into_response();
    };
    let ip = address(request.extensions());
    let resource: String = format!("{} {}", request.method(), request.uri().path())
        .chars()
        .take(300)
        .collect();
    let presented = credential(&request);
    let principal = match access
        .admit(presented.as_ref(), permission, ip, &resource)
        .await
    {
        Ok(principal) => principal,
        Err(refusal) => return ApiError::Refused(refusal).into_response(),
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Refuses (and audits) a principal outside its reach for `resource`, e.g. a wall token asking
/// for another dashboard.
pub async fn within_reach(
    access: &Access,
    principal: &Principal,
    ip: IpAddr,
    resource: &str,
    decided: Result<(), crate::access::Refusal>,
) -> Result<(), ApiError> {
    if let Err(refusal) = decided {
        access.deny(principal, ip, resource, &refusal).await;
        return Err(ApiError::Refused(refusal));
    }
    Ok(())
}

/// The client's address, for handlers of routes without a guard (logging in).
pub struct Peer(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(address(&parts.extensions)))
    }
}

/// Who is calling, for handlers: the principal the route's guard admitted and the address.
pub struct Caller {
    /// The admitted principal.
    pub principal: Principal,
    /// The client's address.
    pub ip: IpAddr,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("a route without its access guard"))
            })?;
        let ip = address(&parts.extensions);
        Ok(Caller { principal, ip })
    }
}

impl Caller {
    /// `Ok` when the caller may see dashboard `id`; a refusal is audited.
    pub async fn may_see_dashboard(&self, access: &Access, id: &str) -> Result<(), ApiError> {
        let resource = format!("dashboard/{}", id.chars().take(100).collect::<String>());
        within_reach(
            access,
            &self.principal,
            self.ip,
            &resource,
            self.principal.require_dashboard(id),
        )
        .await
    }

    /// `Ok` when the caller's role carries `permission`; a refusal is audited.
    pub async fn require(
        &self,
        access: &Access,
        permission: Permission,
        resource: &str,
    ) -> Result<(), ApiError> {
        within_reach(
            access,
            &self.principal,
            self.ip,
            resource,
            self.principal.require(permission),
        )
        .await
    }

    /// Appends `event` by the caller to the audit log; the answer waits for it (an export is
    /// recorded before its first byte leaves).
    pub async fn audit(&self, access: &Access, event: AuditEvent) -> Result<(), ApiError> {
        access
            .audit()
            .record(&self.principal, &self.address(), event)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(())
    }

    /// The address as text, for the audit log.
    pub fn address(&self) -> String {
        self.ip.to_string()
    }
}
