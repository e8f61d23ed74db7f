//! The answers to export and snapshot requests, whoever asks (the HTTP API today): which rows or
//! values a request names, checked before anything is written, as a [`Download`] ready to be
//! written; snapshots taken and read back.
//!
//! The caller only carries bytes: it hands over the request's pairs and who asks, and streams
//! what [`Download::write`] produces.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::dataset::{check_filters, DatasetExport, DatasetRequest};
use super::panel::tabulate;
use super::query::SNAPSHOT_PARAMS;
use super::query::{
    clip, ExportQuery, DATASET_PARAMS, MAX_COLUMNS, MAX_FILTERS, MAX_TEXT, PANEL_PARAMS,
};
use super::snapshot::{freeze, Creation, FrozenDashboard};
use super::table::{Geometry, Rows};
use super::{ExportError, Exports, Format, Meta, Permit};
use crate::dashboards::{topic, Dashboard, FilterInput, Panel};
use crate::db::SnapshotRecord;
use crate::domain::table::Table;
use crate::domain::{format_local, Dataset};

/// Longest snapshot description.
const MAX_DESCRIPTION: usize = 2_000;

/// A panel topic's value as the screens have it now.
#[derive(Debug, Clone)]
pub struct Current {
    /// The topic's sequence number.
    pub seq: u64,
    /// When the data behind it was committed.
    pub committed_at: Option<DateTime<Utc>>,
    /// The value.
    pub data: Value,
}

/// Reads a topic's current value (the live hub's, connected in `startup`).
pub type CurrentValues = Arc<dyn Fn(&str) -> Option<Current> + Send + Sync>;

/// A file ready to be written: its rows, format, metadata and the headers that describe it; the
/// permit it holds lets the next export in when the file is done.
pub struct Download {
    rows: Box<dyn Rows>,
    format: Format,
    meta: Meta,
    headers: Vec<(&'static str, String)>,
    _permit: Permit,
    metrics: crate::telemetry::Metrics,
    stall_timeout: std::time::Duration,
    omitted: Vec<String>,
}

impl Download {
    /// The HTTP content type.
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    /// A file name for the download.
    pub fn file_name(&self) -> String {
        self.meta.file_name(self.format, Utc::now())
    }

    /// Rows the file will hold.
    pub fn total(&self) -> u64 {
        self.rows.total()
    }

    /// How long the download may take nothing before it is abandoned.
    pub fn stall_timeout(&self) -> std::time::Duration {
        self.stall_timeout
    }

    /// Personal columns left out because the caller may not read them.
    pub fn omitted(&self) -> &[String] {
        &self.omitted
    }

    /// Facts about the file for response headers (`x-pantau-seq`, `x-pantau-as-of`, …).
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// Writes the file to `out` (blocking: call it off the async workers); logs and counts how
    /// it ended. An error means the file is incomplete: the caller must make the transfer fail.
    pub fn write(self, out: Box<dyn Write + Send + '_>) -> Result<u64, ExportError> {
        let started = std::time::Instant::now();
        let format = self.format.extension();
        // A writer that panics (the XLSX writer on a full disk) must fail the transfer like any
        // other error, not end it as if the file were whole.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::write(self.rows.as_ref(), self.format, &self.meta, out)
        }))
        .unwrap_or_else(|panic| {
            Err(ExportError::Encode(format!(
                "the {format} writer failed: {}",
                super::panic_text(panic.as_ref())
            )))
        });
        match written {
            Ok(written) => {
                self.metrics.export(format, "ok", written);
                tracing::info!(export = %self.meta.title, format, rows = written, elapsed_ms = started.elapsed().as_millis() as u64, "Export written.");
                Ok(written)
            }
            Err(e) => {
                self.metrics.export(format, "failed", 0);
                tracing::warn!(export = %self.meta.title, format, error = %e, "Export stopped before its end; the transfer is aborted.");
                Err(e)
            }
        }
    }
}

/// `POST /api/snapshots`: what to freeze.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// Freeze this dashboard (all its panels)…
    #[serde(default)]
    pub dashboard: Option<String>,
    /// …or this dataset's rows.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Dataset: conditions (as in a dashboard file's `query.filter`).
    #[serde(default)]
    pub filter: Vec<FilterInput>,
    /// Dataset: the columns kept.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The moment frozen (RFC 3339, or local time in the deployment's zone); default now.
    #[serde(default)]
    pub as_of: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Who takes it.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// A snapshot as stored: its record, and for a dashboard snapshot the frozen panels.
pub struct SnapshotView {
    /// The record.
    pub record: SnapshotRecord,
    /// The frozen dashboard (dashboard snapshots only).
    pub dashboard: Option<FrozenDashboard>,
}

fn bad(message: impl Into<String>) -> ExportError {
    ExportError::BadQuery(message.into())
}

/// The dataset called `name`, or a 404 listing the known ones.
pub fn find_dataset(name: &str) -> Result<Dataset, ExportError> {
    Dataset::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
        ExportError::NotFound(format!(
            "no dataset '{}'; known: {}",
            clip(name),
            known.join(", ")
        ))
    })
}

fn given_json(given: &[(String, String)]) -> Value {
    Value::Array(
        given
            .iter()
            .map(|(k, v)| json!(format!("{k}={v}")))
            .collect(),
    )
}

/// Runs blocking work (reading every row's flags, polars) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ExportError> + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ExportError::Encode(format!("the export task stopped: {e}")))?
}

impl Exports {
    /// Admits one export of `client`, or says why not (counted as refused).
    pub fn admit(&self, client: &str) -> Result<Permit, ExportError> {
        self.gate.enter(client).map_err(|busy| {
            self.metrics.export("any", "refused", 0);
            ExportError::Busy(busy)
        })
    }

    fn download(
        &self,
        rows: Box<dyn Rows>,
        format: Format,
        meta: Meta,
        headers: Vec<(&'static str, String)>,
        permit: Permit,
    ) -> Download {
        Download {
            rows,
            format,
            meta,
            headers,
            _permit: permit,
            metrics: self.metrics.clone(),
            stall_timeout: self.stall_timeout,
            omitted: Vec::new(),
        }
    }

    /// Checks a dataset export and selects its rows, refusing GeoJSON of rows without
    /// coordinates; a refusal is counted.
    async fn prepare(
        &self,
        request: DatasetRequest,
        format: Format,
    ) -> Result<DatasetExport, ExportError> {
        let dataset = request.dataset;
        let snapshot = self.store.snapshot();
        let max_rows = self.max_rows;
        let prepared = blocking(move || {
            DatasetExport::prepare(snapshot, &request, max_rows, Utc::now())
        })
        .await
        .and_then(|export| {
            if format.needs_geometry() && export.geometry() == Geometry::None {
                return Err(ExportError::NoGeometry(format!(
                    "{} has no coordinates for GeoJSON (or they were left out of `columns`): use another format",
                    dataset.name()
                )));
            }
            Ok(export)
        });
        if let Err(e) = &prepared {
            if e.is_client_error() {
                self.metrics.export(format.extension(), "refused", 0);
            }
        }
        prepared
    }

    /// `GET /api/datasets/{name}/export`: a dataset's rows, current or as of a moment, filtered.
    /// Without `personal`, the dataset's personal columns are left out (named in the file's
    /// metadata and the `x-pantau-omitted-columns` header), and asking for one is refused.
    pub async fn dataset(
        &self,
        name: &str,
        pairs: &[(String, String)],
        client: &str,
        personal: bool,
    ) -> Result<Download, ExportError> {
        let dataset = find_dataset(name)?;
        let query = ExportQuery::parse(pairs, DATASET_PARAMS, Some(dataset), self.time_zone)?;
        let format = query.format();
        let (columns, omitted) = columns_for(dataset, query.columns.clone(), personal)?;
        let permit = self.admit(client)?;
        let request = DatasetRequest {
            dataset,
            filters: check_filters(dataset, &query.filters)?,
            columns,
            as_of: query.as_of,
            limit: query.limit,
            time_zone: self.time_zone,
            to_date: false,
        };
        let export = self.prepare(request, format).await?;
        let tz = self.time_zone;
        let mut meta = Meta::new(dataset.name(), tz, self.snapshots.tmp_dir())
            .with("dataset", dataset.name())
            .with("store_seq", export.seq())
            .with("filters", given_json(&query.given));
        let mut headers = vec![("x-pantau-seq", export.seq().to_string())];
        if let Some(at) = query.as_of {
            let local = format_local(at, tz);
            meta = meta.with("as_of", &local);
            headers.push(("x-pantau-as-of", local));
        }
        if let Some(at) = export.committed_at() {
            meta = meta.with("committed_at", format_local(at, tz));
        }
        if !omitted.is_empty() {
            meta = meta.with("omitted_columns", omitted.join(","));
            headers.push(("x-pantau-omitted-columns", omitted.join(",")));
        }
        let mut download = self.download(Box::new(export), format, meta, headers, permit);
        download.omitted = omitted;
        Ok(download)
    }

    /// The dashboard and panel a request names, or a 404 saying which is missing.
    fn find_panel(&self, id: &str, panel: &str) -> Result<(Arc<Dashboard>, Panel), ExportError> {
        let d = self
            .dashboards
            .get(id)
            .ok_or_else(|| ExportError::NotFound(format!("no dashboard '{}'", clip(id))))?;
        let p = d
            .panels
            .iter()
            .find(|p| p.id == panel)
            .cloned()
            .ok_or_else(|| {
                ExportError::NotFound(format!(
                    "dashboard '{}' has no panel '{}'",
                    clip(id),
                    clip(panel)
                ))
            })?;
        Ok((d, p))
    }

    /// `GET /api/dashboards/{id}/panels/{panel}/export`: the values a panel shows (its topic's
    /// now, or computed as of a moment) or the rows behind them (`scope=rows`).
    pub async fn panel(
        &self,
        dashboard_id: &str,
        panel_id: &str,
        pairs: &[(String, String)],
        client: &str,
    ) -> Result<Download, ExportError> {
        let (dashboard, panel) = self.find_panel(dashboard_id, panel_id)?;
        let query = ExportQuery::parse(pairs, PANEL_PARAMS, None, self.time_zone)?;
        let format = query.format();
        let scope = query.scope.as_deref().unwrap_or("result");
        let tz = dashboard.time_zone;
        let title = format!("{}-{}", dashboard.id, panel.id);
        let meta = Meta::new(&title, tz, self.snapshots.tmp_dir())
            .with("dashboard", &dashboard.id)
            .with("panel", &panel.id)
            .with("scope", scope);
        match scope {
            "result" => {
                if query.limit.is_some() {
                    return Err(bad("limit applies to scope=rows"));
                }
                let permit = self.admit(client)?;
                let (value, meta, headers) = match query.as_of {
                    None => {
                        let current =
                            (self.current)(&topic(&dashboard.id, &panel.id)).ok_or_else(|| {
                                ExportError::NotReady(format!(
                                    "panel '{}' has not been computed yet",
                                    panel.id
                                ))
                            })?;
                        let mut meta = meta.with("seq", current.seq);
                        if let Some(at) = current.committed_at {
                            meta = meta.with("committed_at", format_local(at, tz));
                        }
                        let headers = vec![("x-pantau-seq", current.seq.to_string())];
                        (current.data, meta, headers)
                    }
                    Some(at) => {
                        let value = self.panel_as_of(&dashboard, &panel, at).await?;
                        let local = format_local(at, tz);
                        (
                            value,
                            meta.with("as_of", &local),
                            vec![("x-pantau-as-of", local)],
                        )
                    }
                };
                let table: Table = tabulate(&panel, &value, Some(&self.regions));
                if format.needs_geometry() && table.regions.is_none() {
                    return Err(ExportError::NoGeometry(format!(
                        "panel '{}' is not a map: its result has no geometry for GeoJSON (scope=rows gives complaints as points)",
                        panel.id
                    )));
                }
                Ok(self.download(Box::new(table), format, meta, headers, permit))
            }
            "rows" => {
                let Some(q) = &panel.query else {
                    return Err(bad(format!(
                        "panel '{}' reads no dataset: use scope=result",
                        panel.id
                    )));
                };
                let permit = self.admit(client)?;
                let request = DatasetRequest {
                    dataset: q.dataset,
                    filters: q.filters.clone(),
                    columns: None,
                    as_of: query.as_of,
                    limit: query.limit,
                    time_zone: tz,
                    to_date: true,
                };
                let export = self.prepare(request, format).await?;
                let meta = meta
                    .with("dataset", q.dataset.name())
                    .with("store_seq", export.seq());
                let headers = vec![("x-pantau-seq", export.seq().to_string())];
                Ok(self.download(Box::new(export), format, meta, headers, permit))
            }
            other => Err(bad(format!(
                "unknown scope `{}`: result (the values the panel shows) or rows (the rows behind them)",
                clip(other)
            ))),
        }
    }

    /// `panel` computed over the versions current at `at`, with windows and SLA deadlines at
    /// that clock.
    async fn panel_as_of(
        &self,
        dashboard: &Arc<Dashboard>,
        panel: &Panel,
        at: DateTime<Utc>,
    ) -> Result<Value, ExportError> {
        let snapshot = self.store.snapshot();
        self.check_as_of(&snapshot, at)?;
        let context = self.panels.clone();
        let (d, p) = (dashboard.clone(), panel.clone());
        blocking(move || {
            let frames = crate::engine::query::Frames::new(&snapshot);
            crate::engine::panel::evaluate_at(&d, &p, &frames, &[], &context, at, true)
                .map_err(ExportError::from)
        })
        .await
    }

    /// `POST /api/snapshots`: freezes a dashboard (what the screens show now, or every panel as
    /// of a moment) or a dataset's rows; returns the stored record.
    /// Without `personal`, a dataset snapshot leaves out the personal columns (or refuses them
    /// when named), as a dataset export does.
    pub async fn take_snapshot(
        self: &Arc<Self>,
        body: SnapshotRequest,
        client: &str,
        personal: bool,
    ) -> Result<SnapshotRecord, ExportError> {
        let tz = self.time_zone;
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
                Some(crate::domain::parse_instant(text, tz).map_err(super::query::as_of_error)?)
            }
            None => None,
        };
        if let Some(columns) = &body.columns {
            if columns.len() > MAX_COLUMNS {
                return Err(bad(format!("at most {MAX_COLUMNS} columns")));
            }
        }
        let creation = Creation {
            as_of: as_of.unwrap_or(now),
            created_by,
            description: body.description.trim().to_owned(),
            owner: client.to_owned(),
        };
        let permit = self.admit(client)?;
        self.within_quota(client).await?;
        let record = match (&body.dashboard, &body.dataset) {
            (Some(id), None) => {
                if !body.filter.is_empty() || body.columns.is_some() {
                    return Err(bad("filter and columns apply to dataset snapshots"));
                }
                let dashboard = self
                    .dashboards
                    .get(id)
                    .ok_or_else(|| ExportError::NotFound(format!("no dashboard '{}'", clip(id))))?;
                let snapshot = self.store.snapshot();
                let seq = snapshot.seq;
                let frozen = match as_of {
                    // Now: exactly what the screens show.
                    None => freeze(
                        &dashboard,
                        |p| {
                            (self.current)(&topic(&dashboard.id, &p.id))
                                .map_or(Value::Null, |t| t.data)
                        },
                        Some(&self.regions),
                    ),
                    Some(at) => {
                        self.check_as_of(&snapshot, at)?;
                        let exports = self.clone();
                        let d = dashboard.clone();
                        blocking(move || exports.dashboard_as_of(&d, &snapshot, at)).await?
                    }
                };
                self.snapshots
                    .freeze_dashboard(&dashboard.id, frozen, creation, seq)
                    .await?
            }
            (None, Some(name)) => {
                let dataset = find_dataset(name)?;
                if body.filter.len() > MAX_FILTERS {
                    return Err(bad(format!("at most {MAX_FILTERS} filters")));
                }
                let (columns, _omitted) = columns_for(dataset, body.columns.clone(), personal)?;
                let request = DatasetRequest {
                    dataset,
                    filters: check_filters(dataset, &body.filter)?,
                    columns,
                    as_of,
                    limit: None,
                    time_zone: tz,
                    to_date: false,
                };
                let filters = serde_json::to_value(&body.filter).unwrap_or_default();
                self.snapshots
                    .freeze_dataset(
                        self.store.snapshot(),
                        request,
                        filters,
                        creation,
                        self.max_rows,
                    )
                    .await?
            }
            _ => return Err(bad("name exactly one of `dashboard` or `dataset`")),
        };
        drop(permit);
        self.metrics
            .export("snapshot", "ok", record.rows.max(0) as u64);
        Ok(record)
    }

    /// Refuses a snapshot past the client's hourly count or its storage quota.
    async fn within_quota(&self, client: &str) -> Result<(), ExportError> {
        let usage = self.snapshots.usage(client).await?;
        if usage.taken_since >= i64::from(self.snapshots_per_hour) {
            self.metrics.export("snapshot", "refused", 0);
            return Err(ExportError::Quota {
                code: "snapshot_rate_limited",
                message: format!(
                    "at most {} snapshots an hour per client; try again later",
                    self.snapshots_per_hour
                ),
            });
        }
        if usage.bytes.max(0) as u64 >= self.snapshot_quota_bytes {
            self.metrics.export("snapshot", "refused", 0);
            return Err(ExportError::Quota {
                code: "snapshot_quota_exceeded",
                message: format!(
                    "this client's snapshots take {} MB, its quota (export.snapshot_quota_mb) is {} MB",
                    usage.bytes.max(0) / (1024 * 1024),
                    self.snapshot_quota_bytes / (1024 * 1024)
                ),
            });
        }
        Ok(())
    }

    /// Refuses an `as_of` in the future (a minute of clock skew allowed) or before the oldest record
    /// the store holds: nothing could be said of either.
    fn check_as_of(
        &self,
        snapshot: &crate::store::StoreSnapshot,
        at: DateTime<Utc>,
    ) -> Result<(), ExportError> {
        if at.timestamp() > Utc::now().timestamp() + 60 {
            return Err(ExportError::AsOf("as_of is in the future".to_owned()));
        }
        let earliest = snapshot
            .tables
            .iter()
            .filter_map(|v| v.earliest().ok().flatten())
            .min();
        match earliest {
            Some(earliest) if at < earliest => Err(ExportError::AsOf(format!(
                "as_of {} is before the oldest record this server holds ({})",
                format_local(at, self.time_zone),
                format_local(earliest, self.time_zone)
            ))),
            _ => Ok(()),
        }
    }

    /// A snapshot's record, and its frozen dashboard when it is one.
    pub async fn snapshot(&self, id: &str) -> Result<SnapshotView, ExportError> {
        let record = self.find_snapshot(id).await?;
        let dashboard = if record.kind == "dashboard" {
            let snapshots = self.snapshots.clone();
            let r = record.clone();
            Some(blocking(move || snapshots.dashboard(&r)).await?)
        } else {
            None
        };
        Ok(SnapshotView { record, dashboard })
    }

    async fn find_snapshot(&self, id: &str) -> Result<SnapshotRecord, ExportError> {
        self.snapshots
            .get(id)
            .await?
            .ok_or_else(|| ExportError::NotFound(format!("no snapshot '{}'", clip(id))))
    }

    /// `GET /api/snapshots/{id}/export`: a dataset snapshot's rows, or one panel of a dashboard
    /// snapshot (`panel=`), from the snapshot's files.
    /// Without `personal`, a dataset snapshot holding personal columns is refused.
    pub async fn snapshot_export(
        &self,
        id: &str,
        pairs: &[(String, String)],
        client: &str,
        personal: bool,
    ) -> Result<Download, ExportError> {
        let view = self.snapshot(id).await?;
        let record = view.record;
        let query = ExportQuery::parse(pairs, SNAPSHOT_PARAMS, None, self.time_zone)?;
        let format = query.format();
        let tz = self.time_zone;
        let meta = |title: &str| {
            Meta::new(title, tz, self.snapshots.tmp_dir())
                .with("snapshot", &record.id)
                .with("as_of", format_local(record.as_of, tz))
                .with("created_by", &record.created_by)
                .with("description", &record.description)
                .with("sha256", &record.sha256)
        };
        let headers = vec![("x-pantau-snapshot", record.id.clone())];
        if let Some(frozen) = view.dashboard {
            let ids: Vec<&str> = frozen.panels.iter().map(|p| p.id.as_str()).collect();
            let Some(panel_id) = query.panel.as_deref() else {
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
                    ExportError::NotFound(format!(
                        "snapshot {} has no panel '{}'; panels: {}",
                        record.id,
                        clip(panel_id),
                        ids.join(", ")
                    ))
                })?;
            let mut table = panel.table.clone();
            if let Some(limit) = query.limit {
                table
                    .rows
                    .truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
            if let Some(set) = &panel.set {
                table.regions = self.regions.shapes(set).map(|s| (0, s));
            }
            if format.needs_geometry() && table.regions.is_none() {
                return Err(ExportError::NoGeometry(format!(
                    "panel '{panel_id}' is not a map: no geometry for GeoJSON"
                )));
            }
            let permit = self.admit(client)?;
            let meta = meta(&format!("{}-{}", record.id, panel_id)).with("panel", panel_id);
            return Ok(self.download(Box::new(table), format, meta, headers, permit));
        }
        if query.panel.is_some() {
            return Err(bad("panel applies to dashboard snapshots"));
        }
        let mut rows = self.snapshots.dataset_rows(&record)?;
        if !personal {
            let private =
                Dataset::from_name(&record.target).map_or(&[][..], Dataset::personal_columns);
            let held: Vec<&str> = rows
                .columns()
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| private.contains(n))
                .collect();
            if !held.is_empty() {
                return Err(ExportError::PersonalFields(format!(
                    "snapshot {} holds personal columns ({}): it needs the personal_fields permission",
                    record.id,
                    held.join(", ")
                )));
            }
        }
        if let Some(limit) = query.limit {
            rows.limit(limit);
        }
        if format.needs_geometry() && rows.geometry() == Geometry::None {
            return Err(ExportError::NoGeometry(format!(
                "snapshot {} has no coordinates for GeoJSON",
                record.id
            )));
        }
        let permit = self.admit(client)?;
        let meta =
            meta(&format!("{}-{}", record.target, record.id)).with("dataset", &record.target);
        Ok(self.download(Box::new(rows), format, meta, headers, permit))
    }
}

/// The columns a caller gets: with `personal`, those asked (all when none are); without, the
/// asked ones unless one is personal (refused), or all but the personal ones, which are listed.
fn columns_for(
    dataset: Dataset,
    asked: Option<Vec<String>>,
    personal: bool,
) -> Result<(Option<Vec<String>>, Vec<String>), ExportError> {
    let private = dataset.personal_columns();
    if personal || private.is_empty() {
        return Ok((asked, Vec::new()));
    }
    match asked {
        Some(named) => match named.iter().find(|c| private.contains(&c.as_str())) {
            Some(c) => Err(ExportError::PersonalFields(format!(
                "column '{c}' is personal data: it needs the personal_fields permission"
            ))),
            None => Ok((Some(named), Vec::new())),
        },
        None => {
            let kept = super::dataset::columns_of(dataset)
                .into_iter()
                .map(|(c, _)| c.name.clone())
                .filter(|n| !private.contains(&n.as_str()))
                .collect();
            Ok((Some(kept), private.iter().map(|c| c.to_string()).collect()))
        }
    }
}
