//! HTTP: routes only. Each area exposes `router()`; they are merged here with the shared layers
//! (request tracing, metrics, timeouts) and the static pages.
//!
//! Must not hold business logic: handlers ask the store, hub or database and shape the answer.

mod admin;
mod dashboards;
mod datasets;
mod error;
mod export;
mod extract;
mod geo;
pub(crate) mod guard;
mod health;
mod metrics;
mod openapi;
mod pages;
mod screens;
mod server;
mod session;
mod settings;
mod snapshots;
mod sources;
mod users;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use error::ApiError;
pub use geo::{GeoService, Tiles};
pub use server::{ConnectionLimits, Server};
pub use settings::{HostRule, ServerSettings};

use crate::db::MetaDb;
use crate::domain::SourceHealth;
use crate::live::SessionContext;
use crate::store::Store;
use crate::telemetry::{HttpLabels, Metrics};

/// What handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Metadata database.
    pub db: MetaDb,
    /// Ingested data.
    pub store: Store,
    /// Metric families.
    pub metrics: Metrics,
    /// Per-source status.
    pub health: SourceHealth,
    /// The loaded dashboards and their files' problems.
    pub dashboards: crate::dashboards::Catalog,
    /// Boundary sets for maps.
    pub geo: Arc<GeoService>,
    /// Everything a WebSocket session needs (hub, limits, shutdown signal).
    pub live: Arc<SessionContext>,
    /// Exports and snapshots: limits, the running-exports gate, snapshot files.
    pub exports: Arc<crate::export::Exports>,
    /// Who may do what, and the audit log.
    pub access: Arc<crate::access::Access>,
}

/// The whole HTTP surface of an instance.
pub fn router(state: AppState, static_dir: PathBuf, settings: &ServerSettings) -> Router {
    let files = ServeDir::new(&static_dir).append_index_html_on_directories(true);
    Router::new()
        .merge(health::router())
        .merge(pages::router(&static_dir))
        .merge(metrics::router())
        .merge(ws::router())
        .nest(
            "/api",
            sources::router()
                .merge(datasets::router())
                .merge(dashboards::router())
                .merge(export::router())
                .merge(snapshots::router())
                .merge(geo::router())
                .merge(screens::router())
                .merge(openapi::router())
                .merge(admin::router())
                .merge(session::router())
                .merge(users::router())
                .fallback(error::api_not_found),
        )
        // The nest serves `/api/…` but not `/api/` itself, which would otherwise fall to the files.
        .route("/api/", axum::routing::any(error::api_not_found))
        .fallback_service(files)
        .layer(middleware::from_fn_with_state(
            Arc::new(settings.host_rule()),
            check_host,
        ))
        .layer(middleware::from_fn(security_headers))
        // Each route's guard (`guard::needs!`) finds the access rules here.
        .layer(axum::Extension(state.access.clone()))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            track_request,
        ))
        // Geometry and pages shrink several times over: it matters on a tablet's mobile link.
        // Exports have their own, faster level (`export::router`); Parquet and XLSX are
        // compressed already and pass as they are.
        .layer(CompressionLayer::new().compress_when(not_precompressed()))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout(),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

/// Responses worth compressing: not images, event streams or files compressed already
/// (Parquet, XLSX).
fn not_precompressed() -> impl Predicate {
    DefaultPredicate::new()
        .and(NotForContentType::const_new(
            "application/vnd.apache.parquet",
        ))
        .and(NotForContentType::const_new(
            "application/vnd.openxmlformats-officedocument",
        ))
}

/// Headers every answer carries: scripts and styles only from this server (no inline script),
/// no framing by other sites, no type sniffing, no referrer sent elsewhere.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::{header, HeaderValue};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; \
             connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Refuses a request that names a host this server does not answer to (DNS rebinding, see
/// [`HostRule`]) with 421 `host_not_allowed`, before anything else looks at it.
async fn check_host(State(rule): State<Arc<HostRule>>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    // HTTP/1.0 may send none; a browser always does, so the attack always names one.
    match host {
        Some(host) if !rule.allows(host) => {
            let shown: String = host.chars().take(100).collect();
            tracing::debug!(host = %shown, "Refused a request for an unknown host name.");
            (
                StatusCode::MISDIRECTED_REQUEST,
                axum::Json(serde_json::json!({"error": {
                    "code": "host_not_allowed",
                    "message": format!(
                        "this server does not answer to the name '{shown}'; its administrator \
                         can add it to server.allowed_hosts"
                    ),
                }})),
            )
                .into_response()
        }
        _ => next.run(request).await,
    }
}

/// The span of a request: method and path only, never the query (it may carry a token).
fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Counts and times every request by its route pattern (never the raw path).
async fn track_request(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe_http(
        HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}
