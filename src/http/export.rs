//! Exports and snapshots over HTTP: `GET /api/datasets/{name}/export`,
//! `GET /api/dashboards/{id}/panels/{panel}/export`, `POST /api/snapshots`, `GET /api/snapshots`,
//! `GET /api/snapshots/{id}` and `GET /api/snapshots/{id}/export`.
//!
//! Requests are checked before anything is written (400 with the reason); the file then streams
//! from a blocking task through a small bounded channel, so a slow download holds a few hundred
//! kilobytes, not the export. A failure after the first bytes aborts the transfer (the client
//! sees an incomplete download, never a silently short file).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::dashboards::{Dashboard, FilterInput, Panel};
use crate::db::SnapshotRecord;
use crate::engine::board::topic;
use crate::export::panel::tabulate;
use crate::export::snapshot::{freeze, Creation};
use crate::export::{
    check_filters, write, DatasetExport, DatasetRequest, ExportError, Format, Meta, Permit, Rows,
    Table,
};
use crate::store::Dataset;

/// Bytes per chunk sent to the client, and chunks queued at most.
const CHUNK_BYTES: usize = 256 * 1024;
const QUEUED_CHUNKS: usize = 4;
/// Bounds on what a request may name.
const MAX_FILTERS: usize = 32;
const MAX_COLUMNS: usize = 64;
const MAX_TEXT: usize = 200;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_PAGE: u32 = 200;

pub fn router() -> Router<AppState> {
    // gzip's fastest level for CSV and JSON: a gigabyte-sized export is not bound by gzip, and
    // the outer compression layer leaves a response that already has an encoding alone.
    let compression = tower_http::compression::CompressionLayer::new()
        .quality(tower_http::compression::CompressionLevel::Fastest)
        .compress_when(super::not_precompressed());
    Router::new()
        .route("/datasets/{name}/export", get(dataset_export))
        .route(
            "/dashboards/{dashboard}/panels/{panel}/export",
            get(panel_export),
        )
        .route("/snapshots", get(list_snapshots).post(create_snapshot))
        .route("/snapshots/{snapshot}", get(one_snapshot))
        .route("/snapshots/{snapshot}/export", get(snapshot_export))
        .layer(compression)
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> ApiError {
        match e {
            e if e.is_client_error() => ApiError::BadRequest {
                code: e.code(),
                message: e.to_string(),
            },
            e => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: message.into(),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

/// The export parameters of a query string: `format`, `as_of`, `columns`, `limit`, `scope`,
/// `panel` and `filter.FIELD[.TEST]=VALUE`; anything else is refused by name.
#[derive(Debug, Default)]
struct Params {
    format: Option<Format>,
    as_of: Option<DateTime<Utc>>,
    columns: Option<Vec<String>>,
    limit: Option<u64>,
    scope: Option<String>,
    panel: Option<String>,
    filters: Vec<FilterInput>,
    /// The filters as given, for records and metadata.
    given: Vec<(String, String)>,
}

impl Params {
    fn parse(
        pairs: Vec<(String, String)>,
        allowed: &[&str],
        dataset: Option<Dataset>,
        state: &AppState,
    ) -> Result<Params, ApiError> {
        let tz = state.exports.time_zone;
        let mut out = Params::default();
        let mut tests: Vec<(String, String)> = Vec::new();
        for (key, value) in pairs {
            if value.chars().count() > MAX_TEXT && key != "columns" {
                return Err(bad(format!(
                    "parameter `{}` is longer than {MAX_TEXT} characters",
                    clip(&key)
                )));
            }
            if let Some(rest) = key.strip_prefix("filter.") {
                if dataset.is_none() || !allowed.contains(&"filter") {
                    return Err(bad("filters are not taken here"));
                }
                out.given.push((key.clone(), value.clone()));
                tests.push((rest.to_owned(), value));
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown parameter `{}`: this endpoint takes {}",
                    clip(&key),
                    allowed.join(", ")
                )));
            }
            match key.as_str() {
                "format" => out.format = Some(Format::parse(&value)?),
                "as_of" => {
                    out.as_of = Some(
                        crate::domain::parse_instant(&value, tz)
                            .map_err(|e| bad(format!("as_of: {e}")))?,
                    )
                }
                "columns" => {
                    let names: Vec<String> = value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if names.len() > MAX_COLUMNS {
                        return Err(bad(format!("at most {MAX_COLUMNS} columns")));
                    }
                    out.columns = Some(names);
                }
                "limit" => {
                    let n: u64 = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        bad(format!(
                            "limit must be a whole number from 1, not `{}`",
                            clip(&value)
                        ))
                    })?;
                    out.limit = Some(n);
                }
                "scope" => out.scope = Some(value),
                "panel" => out.panel = Some(value),
                _ => {}
            }
        }
        if let Some(dataset) = dataset {
            out.filters = FilterInput::from_pairs(dataset, &tests)
                .map_err(|problems| bad(problems.join("; ")))?;
            if out.filters.len() > MAX_FILTERS {
                return Err(bad(format!("at most {MAX_FILTERS} filters")));
            }
        }
        Ok(out)
    }

    fn format(&self) -> Format {
        self.format.unwrap_or(Format::Csv)
    }
}

/// Who runs an export, for the per-client bound: the bearer token (hashed), else the address.
fn client_of(headers: &HeaderMap, peer: SocketAddr) -> String {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(token) => format!("token:{}", &crate::db::payload_hash(token)[..16]),
        None => format!("ip:{}", peer.ip()),
    }
}

fn admit(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Result<Permit, ApiError> {
    state
        .exports
        .gate
        .enter(&client_of(headers, peer))
        .map_err(|busy| {
            state.metrics.export("any", "refused", 0);
            ApiError::TooMany {
                code: "too_many_exports",
                message: busy.to_string(),
            }
        })
}

/// Sends what a blocking writer produces to an HTTP body, a chunk at a time; a full queue
/// blocks the writer (back-pressure), a gone client fails its next write.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
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
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
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
        let _ = self.send();
    }
}

/// Streams `rows` as `format`: headers now, the file as it is written. The permit is held until
/// the last byte is written.
fn stream(
    state: &AppState,
    rows: Box<dyn Rows>,
    format: Format,
    meta: Meta,
    extra: Vec<(&'static str, String)>,
    permit: Permit,
) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUED_CHUNKS);
    let file_name = meta.file_name(format, Utc::now());
    let total = rows.total();
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let error_tx = tx.clone();
        let out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        let started = std::time::Instant::now();
        match write(rows.as_ref(), format, &meta, Box::new(out)) {
            Ok(written) => {
                metrics.export(format.extension(), "ok", written);
                tracing::info!(export = %meta.title, format = format.extension(), rows = written, elapsed_ms = started.elapsed().as_millis() as u64, "Export written.");
            }
            Err(e) => {
                metrics.export(format.extension(), "failed", 0);
                tracing::warn!(export = %meta.title, format = format.extension(), error = %e, "Export stopped before its end; the transfer is aborted.");
                let _ = error_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("content-type", format.content_type().to_owned());
    set(
        "content-disposition",
        format!("attachment; filename=\"{file_name}\""),
    );
    set("cache-control", "no-store".to_owned());
    set("x-pantau-rows", total.to_string());
    for (name, value) in extra {
        set(name, value);
    }
    response
}

/// Checks a dataset export and selects its rows (on the blocking pool: it reads every row's
/// flags), refusing GeoJSON of rows without coordinates; a refusal is counted.
async fn prepare(
    state: &AppState,
    request: DatasetRequest,
    format: Format,
) -> Result<DatasetExport, ApiError> {
    let dataset = request.dataset;
    let snapshot = state.store.snapshot();
    let max_rows = state.exports.max_rows;
    let prepared = tokio::task::spawn_blocking(move || {
        DatasetExport::prepare(snapshot, &request, max_rows, Utc::now())
    })
    .await
    .map_err(anyhow::Error::from)?
    .and_then(|export| {
        if format == Format::Geojson && export.geometry() == crate::export::Geometry::None {
            return Err(ExportError::NoGeometry(format!(
                "{} has no coordinates for GeoJSON (or they were left out of `columns`): use another format",
                dataset.name()
            )));
        }
        Ok(export)
    });
    if let Err(e) = &prepared {
        if e.is_client_error() {
            state.metrics.export(format.extension(), "refused", 0);
        }
    }
    Ok(prepared?)
}

fn find_dataset(name: &str) -> Result<Dataset, ApiError> {
    Dataset::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
        ApiError::NotFound(format!(
            "no dataset '{}'; known: {}",
            clip(name),
            known.join(", ")
        ))
    })
}

fn find_panel(
    state: &AppState,
    id: &str,
    panel: &str,
) -> Result<(Arc<Dashboard>, Panel), ApiError> {
    let d = state
        .dashboards
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard '{}'", clip(id))))?;
    let p = d
        .panels
        .iter()
        .find(|p| p.id == panel)
        .cloned()
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "dashboard '{}' has no panel '{}'",
                clip(id),
                clip(panel)
            ))
        })?;
    Ok((d, p))
}

fn given_json(given: &[(String, String)]) -> Value {
    Value::Array(
        given
            .iter()
            .map(|(k, v)| json!(format!("{k}={v}")))
            .collect(),
    )
}

async fn dataset_export(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let dataset = find_dataset(&name)?;
    let params = Params::parse(
        pairs,
        &["format", "as_of", "columns", "limit", "filter", "token"],
        Some(dataset),
        &state,
    )?;
    let format = params.format();
    let permit = admit(&state, &headers, peer)?;
    let request = DatasetRequest {
        dataset,
        filters: check_filters(dataset, &params.filters)?,
        columns: params.columns.clone(),
        as_of: params.as_of,
        limit: params.limit,
        time_zone: state.exports.time_zone,
        to_date: false,
    };
    let export = prepare(&state, request, format).await?;
    let tz = state.exports.time_zone;
    let mut meta = Meta::new(dataset.name(), tz, state.exports.snapshots.tmp_dir())
        .with("dataset", dataset.name())
        .with("store_seq", export.seq())
        .with("filters", given_json(&params.given));
    let mut extra = vec![("x-pantau-seq", export.seq().to_string())];
    if let Some(at) = params.as_of {
        let local = crate::domain::format_local(at, tz);
        meta = meta.with("as_of", &local);
        extra.push(("x-pantau-as-of", local));
    }
    if let Some(at) = export.committed_at() {
        meta = meta.with("committed_at", crate::domain::format_local(at, tz));
    }
    Ok(stream(
        &state,
        Box::new(export),
        format,
        meta,
        extra,
        permit,
    ))
}

async fn panel_export(
    State(state): State<AppState>,
    Path((id, panel_id)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let (dashboard, panel) = find_panel(&state, &id, &panel_id)?;
    let params = Params::parse(
        pairs,
        &["format", "as_of", "scope", "limit", "token"],
        None,
        &state,
    )?;
    let format = params.format();
    let scope = params.scope.as_deref().unwrap_or("result");
    let tz = dashboard.time_zone;
    let title = format!("{}-{}", dashboard.id, panel.id);
    let meta = Meta::new(&title, tz, state.exports.snapshots.tmp_dir())
        .with("dashboard", &dashboard.id)
        .with("panel", &panel.id)
        .with("scope", scope);
    match scope {
        "result" => {
            if params.limit.is_some() {
                return Err(bad("limit applies to scope=rows"));
            }
            let permit = admit(&state, &headers, peer)?;
            let (value, meta, extra) = match params.as_of {
                None => {
                    let current = state.live.hub.get(&topic(&dashboard.id, &panel.id)).ok_or_else(|| {
                        ApiError::NotReady(format!("panel '{}' has not been computed yet", panel.id))
                    })?;
                    let mut meta = meta.with("seq", current.seq);
                    if let Some(at) = current.committed_at {
                        meta = meta.with("committed_at", crate::domain::format_local(at, tz));
                    }
                    (current.data.clone(), meta, vec![("x-pantau-seq", current.seq.to_string())])
                }
                Some(at) => {
                    let snapshot = state.store.snapshot();
                    let exports = state.exports.clone();
                    let d = dashboard.clone();
                    let p = panel.clone();
                    let value = tokio::task::spawn_blocking(move || {
                        let frames = crate::engine::query::Frames::new(&snapshot);
                        crate::engine::panel::evaluate_at(&d, &p, &frames, &[], &exports.panels, at, true)
                    })
                    .await
                    .map_err(anyhow::Error::from)?
                    .map_err(ExportError::from)?;
                    let local = crate::domain::format_local(at, tz);
                    (value, meta.with("as_of", &local), vec![("x-pantau-as-of", local)])
                }
            };
            let table: Table = tabulate(&panel, &value, Some(&state.exports.regions));
            if format == Format::Geojson && table.regions.is_none() {
                return Err(ExportError::NoGeometry(format!(
                    "panel '{}' is not a map: its result has no geometry for GeoJSON (scope=rows gives complaints as points)",
                    panel.id
                ))
                .into());
            }
            Ok(stream(&state, Box::new(table), format, meta, extra, permit))
        }
        "rows" => {
            let Some(query) = &panel.query else {
                return Err(bad(format!("panel '{}' reads no dataset: use scope=result", panel.id)));
            };
            let permit = admit(&state, &headers, peer)?;
            let request = DatasetRequest {
                dataset: query.dataset,
                filters: query.filters.clone(),
                columns: None,
                as_of: params.as_of,
                limit: params.limit,
                time_zone: tz,
                to_date: true,
            };
            let export = prepare(&state, request, format).await?;
            let meta = meta
                .with("dataset", query.dataset.name())
                .with("store_seq", export.seq());
            let extra = vec![("x-pantau-seq", export.seq().to_string())];
            Ok(stream(&state, Box::new(export), format, meta, extra, permit))
        }
        other => Err(bad(format!(
            "unknown scope `{}`: result (the values the panel shows) or rows (the rows behind them)",
            clip(other)
        ))),
    }
}

/// `POST /api/snapshots` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    /// Freeze this dashboard (all its panels)…
    #[serde(default)]
    dashboard: Option<String>,
    /// …or this dataset's rows.
    #[serde(default)]
    dataset: Option<String>,
    /// Dataset: conditions (as in a dashboard file's `query.filter`).
    #[serde(default)]
    filter: Vec<FilterInput>,
    /// Dataset: the columns kept.
    #[serde(default)]
    columns: Option<Vec<String>>,
    /// The moment frozen (RFC 3339, or local time in the deployment's zone); default now.
    #[serde(default)]
    as_of: Option<String>,
    /// What it is for.
    #[serde(default)]
    description: String,
    /// Who takes it.
    #[serde(default)]
    created_by: Option<String>,
}

async fn create_snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SnapshotBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "the body must be a JSON snapshot request: {}",
            e.body_text()
        ))
    })?;
    let tz = state.exports.time_zone;
    if body.description.chars().count() > MAX_DESCRIPTION {
        return Err(bad(format!(
            "description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    let created_by = body
        .created_by
        .clone()
        .map(|c| c.trim().chars().take(MAX_TEXT).collect::<String>())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "anonymous".to_owned());
    let now = Utc::now();
    let as_of = match &body.as_of {
        Some(text) => {
            Some(crate::domain::parse_instant(text, tz).map_err(|e| bad(format!("as_of: {e}")))?)
        }
        None => None,
    };
    if as_of.is_some_and(|at| at.timestamp() > now.timestamp() + 60) {
        return Err(ExportError::AsOf("as_of is in the future".to_owned()).into());
    }
    let creation = Creation {
        as_of: as_of.unwrap_or(now),
        created_by,
        description: body.description.trim().to_owned(),
    };
    let permit = admit(&state, &headers, peer)?;
    let record = match (&body.dashboard, &body.dataset) {
        (Some(id), None) => {
            if !body.filter.is_empty() || body.columns.is_some() {
                return Err(bad("filter and columns apply to dataset snapshots"));
            }
            let dashboard = state
                .dashboards
                .get(id)
                .ok_or_else(|| ApiError::NotFound(format!("no dashboard '{}'", clip(id))))?;
            let snapshot = state.store.snapshot();
            let seq = snapshot.seq;
            let frozen = match as_of {
                // Now: exactly what the screens show.
                None => {
                    let hub = state.live.hub.clone();
                    freeze(
                        &dashboard,
                        |p| {
                            hub.get(&topic(&dashboard.id, &p.id))
                                .map_or(Value::Null, |t| t.data.clone())
                        },
                        Some(&state.exports.regions),
                    )
                }
                Some(at) => {
                    let exports = state.exports.clone();
                    let d = dashboard.clone();
                    if let Some(earliest) = snapshot
                        .tables
                        .iter()
                        .filter_map(|v| v.earliest().ok().flatten())
                        .min()
                    {
                        if at < earliest {
                            return Err(ExportError::AsOf(format!(
                                "as_of {} is before the oldest record this server holds ({})",
                                crate::domain::format_local(at, tz),
                                crate::domain::format_local(earliest, tz)
                            ))
                            .into());
                        }
                    }
                    tokio::task::spawn_blocking(move || exports.dashboard_as_of(&d, &snapshot, at))
                        .await
                        .map_err(anyhow::Error::from)??
                }
            };
            state
                .exports
                .snapshots
                .freeze_dashboard(&dashboard.id, frozen, creation, seq)
                .await?
        }
        (None, Some(name)) => {
            let dataset = find_dataset(name)?;
            if body.filter.len() > MAX_FILTERS {
                return Err(bad(format!("at most {MAX_FILTERS} filters")));
            }
            let request = DatasetRequest {
                dataset,
                filters: check_filters(dataset, &body.filter)?,
                columns: body.columns.clone(),
                as_of,
                limit: None,
                time_zone: tz,
                to_date: false,
            };
            let filters = serde_json::to_value(&body.filter).unwrap_or_default();
            state
                .exports
                .snapshots
                .freeze_dataset(
                    state.store.snapshot(),
                    request,
                    filters,
                    creation,
                    state.exports.max_rows,
                )
                .await?
        }
        _ => return Err(bad("name exactly one of `dashboard` or `dataset`")),
    };
    drop(permit);
    state
        .metrics
        .export("snapshot", "ok", record.rows.max(0) as u64);
    let mut response = (
        StatusCode::CREATED,
        Json(describe(&record, state.exports.time_zone)),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/snapshots/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A snapshot's record as the API shows it, with where to see and export it.
fn describe(r: &SnapshotRecord, time_zone: chrono_tz::Tz) -> Value {
    json!({
        "id": r.id,
        "kind": r.kind,
        "target": r.target,
        "request": serde_json::from_str::<Value>(&r.request).unwrap_or(Value::Null),
        "as_of": r.as_of,
        "created_at": r.created_at,
        "created_by": r.created_by,
        "description": r.description,
        "store_seq": r.store_seq,
        "rows": r.rows,
        "bytes": r.bytes,
        "sha256": r.sha256,
        "time_zone": time_zone.name(),
        "url": format!("/api/snapshots/{}", r.id),
        "view": format!("/analyst/?snapshot={}", r.id),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn list_snapshots(
    State(state): State<AppState>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(page) = page.map_err(|e| bad(e.body_text()))?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(format!("limit must be 1..={MAX_PAGE}")));
    }
    let list = state
        .exports
        .snapshots
        .list(page.before.as_deref(), limit)
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(json!({
        "snapshots": list.iter().map(|r| describe(r, state.exports.time_zone)).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

async fn find_snapshot(state: &AppState, id: &str) -> Result<SnapshotRecord, ApiError> {
    state
        .exports
        .snapshots
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no snapshot '{}'", clip(id))))
}

async fn one_snapshot(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = find_snapshot(&state, &id).await?;
    let mut value = describe(&record, state.exports.time_zone);
    if record.kind == "dashboard" {
        let snapshots = state.exports.snapshots.clone();
        let r = record.clone();
        let frozen = tokio::task::spawn_blocking(move || snapshots.dashboard(&r))
            .await
            .map_err(anyhow::Error::from)??;
        value["dashboard"] = frozen.dashboard;
        value["time_zone"] = json!(frozen.time_zone);
        value["panels"] = frozen
            .panels
            .iter()
            .map(|p| json!({"id": p.id, "kind": p.kind, "title": p.title, "value": p.value, "table": p.table}))
            .collect();
    }
    Ok(Json(value))
}

async fn snapshot_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Response, ApiError> {
    let record = find_snapshot(&state, &id).await?;
    let params = Params::parse(pairs, &["format", "panel", "limit", "token"], None, &state)?;
    let format = params.format();
    let tz = state.exports.time_zone;
    let meta = |title: &str| {
        Meta::new(title, tz, state.exports.snapshots.tmp_dir())
            .with("snapshot", &record.id)
            .with("as_of", crate::domain::format_local(record.as_of, tz))
            .with("created_by", &record.created_by)
            .with("description", &record.description)
            .with("sha256", &record.sha256)
    };
    let extra = vec![("x-pantau-snapshot", record.id.clone())];
    if record.kind == "dashboard" {
        let snapshots = state.exports.snapshots.clone();
        let r = record.clone();
        let frozen = tokio::task::spawn_blocking(move || snapshots.dashboard(&r))
            .await
            .map_err(anyhow::Error::from)??;
        let ids: Vec<&str> = frozen.panels.iter().map(|p| p.id.as_str()).collect();
        let Some(panel_id) = params.panel.as_deref() else {
            return Err(bad(format!(
                "a dashboard snapshot is exported a panel at a time: add panel= one of {}",
                ids.join(", ")
            )));
        };
        let panel = frozen
            .panels
            .iter()
            .find(|p| p.id == panel_id)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "snapshot {} has no panel '{}'; panels: {}",
                    record.id,
                    clip(panel_id),
                    ids.join(", ")
                ))
            })?;
        let mut table = panel.table.clone();
        if let Some(limit) = params.limit {
            table
                .rows
                .truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        if let Some(set) = &panel.set {
            table.regions = state.exports.regions.shapes(set).map(|s| (0, s));
        }
        if format == Format::Geojson && table.regions.is_none() {
            return Err(ExportError::NoGeometry(format!(
                "panel '{panel_id}' is not a map: no geometry for GeoJSON"
            ))
            .into());
        }
        let permit = admit(&state, &headers, peer)?;
        let meta = meta(&format!("{}-{}", record.id, panel_id)).with("panel", panel_id);
        return Ok(stream(&state, Box::new(table), format, meta, extra, permit));
    }
    if params.panel.is_some() {
        return Err(bad("panel applies to dashboard snapshots"));
    }
    let mut rows = state.exports.snapshots.dataset_rows(&record)?;
    if let Some(limit) = params.limit {
        rows.limit(limit);
    }
    if format == Format::Geojson && rows.geometry() == crate::export::Geometry::None {
        return Err(ExportError::NoGeometry(format!(
            "snapshot {} has no coordinates for GeoJSON",
            record.id
        ))
        .into());
    }
    let permit = admit(&state, &headers, peer)?;
    let meta = meta(&format!("{}-{}", record.target, record.id)).with("dataset", &record.target);
    Ok(stream(&state, Box::new(rows), format, meta, extra, permit))
}
