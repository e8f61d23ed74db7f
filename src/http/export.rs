//! Exports over HTTP: `GET /api/datasets/{name}/export` and
//! `GET /api/dashboards/{id}/panels/{panel}/export`; the snapshot routes are [`super::snapshots`].
//!
//! The `export` room checks a request before anything is written (400 with the reason) and says
//! what to write; here the file streams from a blocking task through a small bounded channel, so
//! a slow download holds a few hundred kilobytes, not the export. A failure after the first
//! bytes aborts the transfer (the client sees an incomplete download, never a silently short
//! file).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::extract::ApiQuery;
use super::guard::{needs, Caller};
use super::{ApiError, AppState};
use crate::access::{AuditEvent, Permission, Via};
use crate::export::{Download, ExportError};

/// Bytes per chunk sent to the client, and chunks queued at most.
const CHUNK_BYTES: usize = 256 * 1024;
const QUEUED_CHUNKS: usize = 4;

pub fn router() -> Router<AppState> {
    let rows = Router::new()
        .route("/datasets/{name}/export", get(dataset_export))
        .route_layer(needs!(Permission::Rows));
    let figures = Router::new()
        .route(
            "/dashboards/{dashboard}/panels/{panel}/export",
            get(panel_export),
        )
        .route_layer(needs!(Permission::Aggregates));
    rows.merge(figures).layer(compression())
}

/// gzip's fastest level for CSV and JSON: a gigabyte-sized export is not bound by gzip, and
/// the outer compression layer leaves a response that already has an encoding alone.
pub(super) fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::compression::CompressionLevel::Fastest)
        .compress_when(super::not_precompressed())
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> ApiError {
        match e {
            ExportError::NotFound(message) => ApiError::NotFound(message),
            ExportError::NotReady(message) => ApiError::NotReady(message),
            ExportError::PersonalFields(message) => {
                ApiError::Refused(crate::access::Refusal::OutOfReach(message))
            }
            ExportError::Busy(busy) => ApiError::TooMany {
                code: "too_many_exports",
                message: busy.to_string(),
            },
            ExportError::Quota { code, message } => ApiError::TooMany { code, message },
            e if e.is_client_error() => ApiError::BadRequest {
                code: e.code(),
                message: e.to_string(),
            },
            e => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

/// Who runs an export, for the per-client bound: a token's name, else the address (anonymous
/// requests are anyone's).
pub(super) fn client_of(caller: &Caller, peer: SocketAddr) -> String {
    match caller.principal.via {
        Via::Anonymous => format!("ip:{}", peer.ip()),
        _ => format!("token:{}", caller.principal.name),
    }
}

/// Writes an export to the audit log before its first byte leaves: who, what, the parameters
/// (never the token), the columns left out and the rows.
pub(super) async fn audit_download(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    pairs: &[(String, String)],
    download: Download,
) -> Result<Download, ApiError> {
    let (format, omitted, rows) = (
        download.content_type(),
        download.omitted().to_vec(),
        download.total(),
    );
    let params: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .filter(|(k, _)| k != "token")
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let event = AuditEvent::new(action, resource)
        .detail(serde_json::json!({
            "params": params,
            "format": format,
            "omitted_columns": omitted,
        }))
        .rows(rows);
    caller.audit(&state.access, event).await?;
    // Owned, not borrowed, across the await: a download is sent between threads, not shared.
    Ok(download)
}

/// Sends what a blocking writer produces to an HTTP body, a chunk at a time; a full queue
/// blocks the writer (back-pressure) for `stall` at most, a gone client fails its next write.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
    stall: std::time::Duration,
    runtime: tokio::runtime::Handle,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        use tokio::sync::mpsc::error::SendTimeoutError;
        match self
            .runtime
            .block_on(self.tx.send_timeout(Ok(chunk), self.stall))
        {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the client took nothing for {} s; the download is abandoned",
                    self.stall.as_secs()
                ),
            )),
            Err(SendTimeoutError::Closed(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // At most a chunk at a time, so a large write does not become one large chunk.
        let take = data
            .len()
            .min(CHUNK_BYTES - self.buf.len().min(CHUNK_BYTES - 1));
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        // What is left goes too (bounded by the stall timeout); after a failed send nothing is.
        let _ = self.send();
    }
}

/// Streams `download`: headers now, the file as it is written.
pub(super) fn stream(download: Download) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUED_CHUNKS);
    let mut headers = vec![
        ("content-type", download.content_type().to_owned()),
        (
            "content-disposition",
            format!("attachment; filename=\"{}\"", download.file_name()),
        ),
        ("cache-control", "no-store".to_owned()),
        ("x-pantau-rows", download.total().to_string()),
    ];
    headers.extend(download.headers().iter().cloned());
    // Why the writer stopped, told to the body after what was queued: the body then fails, so
    // the client sees an aborted transfer. Never a blocking send: a stalled client's queue is full.
    let failed: Arc<Mutex<Option<String>>> = Arc::default();
    let failure = failed.clone();
    let runtime = tokio::runtime::Handle::current();
    let stall = download.stall_timeout();
    tokio::task::spawn_blocking(move || {
        // Held until the failure is recorded: the body must not see the channel close first.
        let open = tx.clone();
        let out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
            stall,
            runtime,
        };
        if let Err(e) = download.write(Box::new(out)) {
            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        drop(open);
    });
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        match rx.poll_recv(cx) {
            std::task::Poll::Ready(None) => std::task::Poll::Ready(
                failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .map(|e| Err(std::io::Error::other(e))),
            ),
            other => other,
        }
    }));
    let mut response = (StatusCode::OK, body).into_response();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

async fn dataset_export(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let client = client_of(&caller, peer);
    let personal = caller.principal.may(Permission::PersonalFields);
    let download = state
        .exports
        .dataset(&name, &pairs, &client, personal)
        .await?;
    let resource = format!("datasets/{}", name.chars().take(60).collect::<String>());
    let download = audit_download(
        &state,
        &caller,
        "export.dataset",
        &resource,
        &pairs,
        download,
    )
    .await?;
    Ok(stream(download))
}

async fn panel_export(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, panel)): Path<(String, String)>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    caller.may_see_dashboard(&state.access, &id).await?;
    let client = client_of(&caller, peer);
    let download = state.exports.panel(&id, &panel, &pairs, &client).await?;
    let resource = format!("dashboards/{id}/panels/{panel}");
    let download =
        audit_download(&state, &caller, "export.panel", &resource, &pairs, download).await?;
    Ok(stream(download))
}
