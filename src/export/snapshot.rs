//! Snapshots: a dashboard's panel values or a dataset's rows frozen at a moment, citable by id.
//!
//! Files live under `<data dir>/snapshots/<id>/` — `dashboard.json` (every panel's value and its
//! table) or `rows.parquet` (the dataset's rows) — written into `<id>.tmp/`, fsynced, made
//! read-only and renamed into place; the record (who, when, what, the file's SHA-256) goes to
//! the metadata database after. A snapshot is never changed; its exports are made from its files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::dataset::{DatasetExport, DatasetRequest};
use super::panel::tabulate;
use super::regions::Regions;
use super::table::{Block, Geometry, Rows, Values};
use super::{ExportError, Format, Meta};
use crate::dashboards::{Dashboard, Panel};
use crate::db::{MetaDb, SnapshotRecord};
use crate::domain::table::{ColType, Column, Table};
use crate::store::StoreSnapshot;

/// Who takes a snapshot, for what, of which moment.
#[derive(Debug, Clone)]
pub struct Creation {
    /// The moment the data is as of.
    pub as_of: DateTime<Utc>,
    /// Who took it.
    pub created_by: String,
    /// What it is for.
    pub description: String,
    /// Whose quota it counts against (`token:<name>`, `ip:<address>`).
    pub owner: String,
}

/// One panel as frozen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrozenPanel {
    /// Panel id.
    pub id: String,
    /// Panel kind (`kpi`, `map`, …).
    pub kind: String,
    /// Title in both languages.
    pub title: serde_json::Value,
    /// The value as its topic carried it (null when it has none at that moment).
    pub value: serde_json::Value,
    /// The value as a table (what exports write).
    pub table: Table,
    /// A map panel's boundary set (its GeoJSON draws those shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
}

/// A dashboard as frozen: its definition then, and every panel's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrozenDashboard {
    /// The dashboard's definition at the time (as `GET /api/dashboards/{id}` shows it).
    pub dashboard: serde_json::Value,
    /// Zone of its times.
    pub time_zone: String,
    /// The panels.
    pub panels: Vec<FrozenPanel>,
}

/// `dashboard` as frozen: each panel's value from `value_of` (null where it has none) and its
/// table (`regions` names a map's regions and keeps its boundary set for GeoJSON).
pub fn freeze(
    dashboard: &Dashboard,
    mut value_of: impl FnMut(&Panel) -> serde_json::Value,
    regions: Option<&Regions>,
) -> FrozenDashboard {
    let panels = dashboard
        .panels
        .iter()
        .map(|panel| {
            let value = value_of(panel);
            let mut table = if value.is_null() {
                Table::default()
            } else {
                tabulate(panel, &value, regions)
            };
            table.regions = None;
            FrozenPanel {
                id: panel.id.clone(),
                kind: serde_json::to_value(panel.kind)
                    .ok()
                    .and_then(|k| k.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                title: serde_json::to_value(&panel.title).unwrap_or_default(),
                value,
                table,
                set: panel.layer.as_ref().map(|l| l.set.clone()),
            }
        })
        .collect();
    FrozenDashboard {
        dashboard: serde_json::to_value(dashboard).unwrap_or_default(),
        time_zone: dashboard.time_zone.name().to_owned(),
        panels,
    }
}

/// The snapshot files of an instance and their records.
#[derive(Clone)]
pub struct Snapshots {
    dir: PathBuf,
    db: MetaDb,
}

/// Whether `id` has the shape of a snapshot id: it alone names a directory, so nothing else
/// (`..`, `/`) may pass.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 48
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
        && !id.starts_with('-')
}

fn new_id(at: DateTime<Utc>) -> String {
    let suffix: u32 = rand::random::<u32>() & 0xff_ffff;
    format!("{}-{suffix:06x}", at.format("%Y%m%d-%H%M%S"))
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// File name of a dataset snapshot's rows.
const ROWS_FILE: &str = "rows.parquet";
/// File name of a dashboard snapshot.
const DASHBOARD_FILE: &str = "dashboard.json";

impl Snapshots {
    /// The snapshots under `data_dir/snapshots` (created if missing; unfinished `*.tmp`
    /// directories of an interrupted snapshot are removed).
    pub fn open(data_dir: &Path, db: MetaDb) -> std::io::Result<Snapshots> {
        let dir = data_dir.join("snapshots");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = make_writable(&entry.path());
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Snapshots { dir, db })
    }

    /// A directory for an export's temporary files (inside the data dir).
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join(".work")
    }

    /// Freezes a dataset's rows (`request`, checked as an export is) from `snapshot`; `filters`
    /// is the request's filters as the client gave them, kept in the record.
    pub async fn freeze_dataset(
        &self,
        snapshot: Arc<StoreSnapshot>,
        request: DatasetRequest,
        filters: serde_json::Value,
        creation: Creation,
        max_rows: u64,
    ) -> Result<SnapshotRecord, ExportError> {
        let id = new_id(Utc::now());
        let tmp = self.dir.join(format!("{id}.tmp"));
        let meta = Meta::new(request.dataset.name(), request.time_zone, self.tmp_dir())
            .with("snapshot", &id)
            .with("dataset", request.dataset.name())
            .with(
                "as_of",
                crate::domain::format_local(creation.as_of, request.time_zone),
            );
        let now = Utc::now();
        let seq = snapshot.seq;
        let (request_json, rows, bytes, sha) = {
            let work = tmp.clone();
            let request = request.clone();
            tokio::task::spawn_blocking(move || -> Result<_, ExportError> {
                let tmp = work;
                let export = DatasetExport::prepare(snapshot, &request, max_rows, now)?;
                std::fs::create_dir_all(&tmp)?;
                let file = std::fs::File::create(tmp.join(ROWS_FILE))?;
                let mut out = Hashing {
                    inner: std::io::BufWriter::new(file),
                    hash: sha2::Sha256::new(),
                    bytes: 0,
                };
                let rows = super::write(&export, Format::Parquet, &meta, Box::new(&mut out))?;
                let file = out.inner.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                let request_json = serde_json::json!({
                    "dataset": request.dataset.name(),
                    "filter": filters,
                    "columns": export.columns(),
                    "time_zone": request.time_zone.name(),
                    "limit": request.limit,
                });
                Ok((
                    request_json,
                    rows,
                    out.bytes,
                    crate::db::hex(&out.hash.finalize()),
                ))
            })
            .await
            .map_err(|e| ExportError::Encode(e.to_string()))?
            .inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&tmp);
            })?
        };
        let record = SnapshotRecord {
            id,
            kind: "dataset".into(),
            target: request.dataset.name().into(),
            request: request_json.to_string(),
            as_of: creation.as_of,
            created_at: now,
            created_by: creation.created_by,
            description: creation.description,
            store_seq: seq as i64,
            rows: rows as i64,
            bytes: bytes as i64,
            sha256: sha,
            owner: creation.owner,
        };
        self.settle(&tmp, &record).await?;
        Ok(record)
    }

    /// Freezes a dashboard's panels as `frozen` holds them (taken `store_seq`).
    pub async fn freeze_dashboard(
        &self,
        dashboard_id: &str,
        frozen: FrozenDashboard,
        creation: Creation,
        store_seq: u64,
    ) -> Result<SnapshotRecord, ExportError> {
        let now = Utc::now();
        let id = new_id(now);
        let tmp = self.dir.join(format!("{id}.tmp"));
        let text = serde_json::to_vec(&frozen).map_err(|e| ExportError::Encode(e.to_string()))?;
        let rows: usize = frozen.panels.iter().map(|p| p.table.rows.len()).sum();
        let panels: Vec<&str> = frozen.panels.iter().map(|p| p.id.as_str()).collect();
        {
            let tmp = tmp.clone();
            let text = text.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::create_dir_all(&tmp)?;
                let mut file = std::fs::File::create(tmp.join(DASHBOARD_FILE))?;
                file.write_all(&text)?;
                file.sync_all()
            })
            .await
            .map_err(|e| ExportError::Encode(e.to_string()))??;
        }
        let record = SnapshotRecord {
            id,
            kind: "dashboard".into(),
            target: dashboard_id.to_owned(),
            request: serde_json::json!({ "dashboard": dashboard_id, "panels": panels }).to_string(),
            as_of: creation.as_of,
            created_at: now,
            created_by: creation.created_by,
            description: creation.description,
            store_seq: store_seq as i64,
            rows: rows as i64,
            bytes: text.len() as i64,
            sha256: crate::db::hex(&sha2::Sha256::digest(&text)),
            owner: creation.owner,
        };
        self.settle(&tmp, &record).await?;
        Ok(record)
    }

    /// Makes the files read-only, renames them into place and records the snapshot; on any
    /// failure nothing of it remains.
    async fn settle(&self, tmp: &Path, record: &SnapshotRecord) -> Result<(), ExportError> {
        let done = self.dir.join(&record.id);
        let placed = (|| -> std::io::Result<()> {
            for entry in std::fs::read_dir(tmp)?.flatten() {
                let mut perms = entry.metadata()?.permissions();
                perms.set_readonly(true);
                std::fs::set_permissions(entry.path(), perms)?;
            }
            std::fs::rename(tmp, &done)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = placed {
            let _ = make_writable(tmp);
            let _ = std::fs::remove_dir_all(tmp);
            return Err(e.into());
        }
        if let Err(e) = self.db.insert_snapshot(record).await {
            let _ = make_writable(&done);
            let _ = std::fs::remove_dir_all(&done);
            return Err(ExportError::Db(e));
        }
        tracing::info!(
            id = %record.id,
            kind = %record.kind,
            target = %record.target,
            rows = record.rows,
            "Snapshot taken."
        );
        Ok(())
    }

    /// A snapshot's record; `None` for an unknown (or malformed) id.
    pub async fn get(&self, id: &str) -> Result<Option<SnapshotRecord>, ExportError> {
        if !valid_id(id) {
            return Ok(None);
        }
        Ok(self.db.snapshot(id).await?)
    }

    /// Snapshots newest first: `limit` of them, after snapshot `before` when given.
    /// What `owner`'s snapshots take: how many in the last hour, and their bytes.
    pub async fn usage(&self, owner: &str) -> Result<crate::db::SnapshotUsage, ExportError> {
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        Ok(self.db.snapshot_usage(owner, hour_ago).await?)
    }

    pub async fn list(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SnapshotRecord>, ExportError> {
        let before = match before {
            Some(id) => Some(self.get(id).await?.ok_or_else(|| {
                ExportError::BadQuery(format!("no snapshot '{id}' to page from"))
            })?),
            None => None,
        };
        Ok(self.db.snapshots(before.as_ref(), limit).await?)
    }

    /// The frozen dashboard of a dashboard snapshot.
    pub fn dashboard(&self, record: &SnapshotRecord) -> Result<FrozenDashboard, ExportError> {
        let path = self.dir.join(&record.id).join(DASHBOARD_FILE);
        let text = std::fs::read(&path)?;
        serde_json::from_slice(&text)
            .map_err(|e| ExportError::Encode(format!("snapshot {} is unreadable: {e}", record.id)))
    }

    /// The rows of a dataset snapshot, read back from its file a block at a time.
    pub fn dataset_rows(&self, record: &SnapshotRecord) -> Result<FrozenRows, ExportError> {
        let request: serde_json::Value = serde_json::from_str(&record.request)
            .map_err(|e| ExportError::Encode(e.to_string()))?;
        let columns: Vec<Column> = serde_json::from_value(request["columns"].clone())
            .map_err(|e| ExportError::Encode(e.to_string()))?;
        Ok(FrozenRows {
            path: self.dir.join(&record.id).join(ROWS_FILE),
            columns,
            total: record.rows.max(0) as u64,
        })
    }
}

/// Lets a read-only snapshot directory be removed (an unfinished or unrecorded one).
fn make_writable(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let mut perms = entry.metadata()?.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(entry.path(), perms)?;
    }
    Ok(())
}

/// A dataset snapshot's rows, read from its Parquet file.
pub struct FrozenRows {
    path: PathBuf,
    columns: Vec<Column>,
    total: u64,
}

impl FrozenRows {
    /// Delivers at most the first `n` rows.
    pub fn limit(&mut self, n: u64) {
        self.total = self.total.min(n);
    }

    fn read(&self, offset: usize, len: usize) -> PolarsResult<DataFrame> {
        let file = std::fs::File::open(&self.path).map_err(|e| PolarsError::IO {
            error: Arc::new(e),
            msg: None,
        })?;
        ParquetReader::new(file)
            .with_slice(Some((offset, len)))
            .finish()
    }
}

/// A frozen column's values back in the export's representation.
fn values<'a>(column: &Column, series: &'a polars::prelude::Column) -> PolarsResult<Values<'a>> {
    let s = series.as_materialized_series();
    Ok(match column.ty {
        ColType::Text => Values::Text(s.str()?.into_iter().map(|c| c.map(Into::into)).collect()),
        ColType::Float => Values::Float(s.f64()?.into_iter().collect()),
        ColType::Coord => Values::Int(
            s.f64()?
                .into_iter()
                .map(|x| x.map(|d| (d * 1e6).round() as i64))
                .collect(),
        ),
        ColType::Bool => Values::Int(s.bool()?.into_iter().map(|b| b.map(i64::from)).collect()),
        ColType::Time => Values::Int(
            s.datetime()?
                .physical()
                .into_iter()
                .map(|us| us.map(|us| us.div_euclid(1_000_000)))
                .collect(),
        ),
        ColType::Money => Values::Int(
            s.decimal()?
                .physical()
                .into_iter()
                .map(|sen| sen.and_then(|sen| i64::try_from(sen).ok()))
                .collect(),
        ),
        ColType::Integer => Values::Int(s.i64()?.into_iter().collect()),
    })
}

impl Rows for FrozenRows {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn total(&self) -> u64 {
        self.total
    }

    fn geometry(&self) -> Geometry {
        Geometry::points_in(&self.columns)
    }

    fn each(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(&Block<'_>) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let polars = |e: PolarsError| ExportError::Query(e.into());
        let total = self.total as usize;
        let mut offset = 0;
        while offset < total {
            let len = block_rows.max(1).min(total - offset);
            let mut frame = self.read(offset, len).map_err(polars)?;
            if frame.height() == 0 {
                break;
            }
            // Labels come back as enums over their dictionary: read them as text.
            for c in &self.columns {
                let column = frame.column(&c.name).map_err(polars)?;
                if column.dtype().is_categorical() || column.dtype().is_enum() {
                    let text = column.cast(&DataType::String).map_err(polars)?;
                    frame.with_column(text).map_err(polars)?;
                }
            }
            let columns = self
                .columns
                .iter()
                .map(|c| values(c, frame.column(&c.name)?))
                .collect::<PolarsResult<Vec<_>>>()
                .map_err(polars)?;
            f(&Block {
                rows: frame.height(),
                columns,
            })?;
            offset += frame.height();
        }
        Ok(())
    }
}
