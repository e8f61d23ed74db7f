//! Exports and snapshots: the exact data behind a dataset or a panel, as of any moment, in the
//! formats analysts open (CSV, XLSX, Parquet, GeoJSON, JSON), and snapshots that freeze them.
//!
//! Owns the export formats, the selection of a dataset's rows for an export (current or as of a
//! time, filtered), the tabular form of panel values, and the snapshot files and records. Reads the
//! store's snapshots and the engine's queries; knows nothing of HTTP (the `http` room streams what
//! [`write`] produces).
//!
//! Memory stays bounded: a dataset export reads the store's shared columns a block of rows at a
//! time and writes each block out before building the next, so ten million rows are never held
//! a second time.

pub mod dataset;
mod format;
pub mod panel;
pub mod query;
pub mod regions;
mod requests;
mod service;
mod settings;
pub mod snapshot;
pub mod table;

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use dataset::{check_filters, DatasetExport, DatasetRequest};
pub use format::{Format, Writer};
pub use query::ExportQuery;
pub use requests::{find_dataset, Current, CurrentValues, Download, SnapshotRequest, SnapshotView};
pub use service::{Busy, ExportInputs, Exports, Gate, Permit};
pub use settings::ExportSettings;
pub use table::{Block, Geometry, Rows, Values};

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The format is not one Pantau writes.
    #[error("{0}")]
    UnknownFormat(String),
    /// A field, filter or column does not fit the dataset (`file:line:col`-free text).
    #[error("{0}")]
    BadQuery(String),
    /// `as_of` lies outside what the store can answer.
    #[error("{0}")]
    AsOf(String),
    /// Personal columns were asked for without the `personal_fields` permission.
    #[error("{0}")]
    PersonalFields(String),
    /// GeoJSON was asked of rows without geometry.
    #[error("{0}")]
    NoGeometry(String),
    /// More rows match than an export may hold.
    #[error("{rows} rows match, more than the {limit} an export may hold: add filters or a limit")]
    TooManyRows {
        /// Rows that match.
        rows: u64,
        /// The configured bound.
        limit: u64,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Query(#[from] crate::engine::query::QueryError),
    /// Writing the file failed (disk, the client went away).
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// An encoder failed (polars for Parquet, the XLSX writer).
    #[error("encoding the export: {0}")]
    Encode(String),
    /// The metadata database failed (snapshot records).
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// No such dataset, dashboard, panel or snapshot.
    #[error("{0}")]
    NotFound(String),
    /// The panel exists but has no value yet.
    #[error("{0}")]
    NotReady(String),
    /// As many exports run as may: try again later.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The client took as many snapshots this hour as it may (`snapshot_rate_limited`), or its
    /// snapshots fill its quota (`snapshot_quota_exceeded`).
    #[error("{message}")]
    Quota {
        /// Stable code.
        code: &'static str,
        /// For a person.
        message: String,
    },
}

impl ExportError {
    /// A stable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::UnknownFormat(_) => "unknown_format",
            ExportError::BadQuery(_) => "invalid_parameter",
            ExportError::AsOf(_) => "as_of_out_of_range",
            ExportError::NoGeometry(_) => "no_geometry",
            ExportError::PersonalFields(_) => "personal_fields_required",
            ExportError::TooManyRows { .. } => "too_many_rows",
            ExportError::NotFound(_) => "not_found",
            ExportError::NotReady(_) => "not_ready",
            ExportError::Busy(_) => "too_many_exports",
            ExportError::Quota { code, .. } => code,
            ExportError::Query(_)
            | ExportError::Io(_)
            | ExportError::Encode(_)
            | ExportError::Db(_) => "internal",
        }
    }

    /// True when the request was at fault (a 4xx), false for failures inside.
    pub fn is_client_error(&self) -> bool {
        self.code() != "internal"
    }
}

/// What an export says about itself besides its rows: shown in JSON/GeoJSON headers, Parquet
/// key-value metadata and the XLSX info sheet.
#[derive(Debug, Clone)]
pub struct Meta {
    /// What was exported (`complaints`, `kota-pasuruan-wall/open`), also the XLSX sheet name.
    pub title: String,
    /// Zone times are written in (CSV, JSON, XLSX).
    pub time_zone: Tz,
    /// Facts for the reader: dataset, as_of, store sequence, filters, generated_at…
    pub info: serde_json::Map<String, serde_json::Value>,
    /// A directory for temporary files (XLSX is assembled on disk, never in memory).
    pub tmp_dir: PathBuf,
}

impl Meta {
    /// Metadata for `title` in `time_zone` with the generation time filled in.
    pub fn new(title: impl Into<String>, time_zone: Tz, tmp_dir: PathBuf) -> Meta {
        let mut info = serde_json::Map::new();
        info.insert(
            "generated_at".into(),
            serde_json::Value::String(crate::domain::format_local(Utc::now(), time_zone)),
        );
        info.insert(
            "time_zone".into(),
            serde_json::Value::String(time_zone.name().to_owned()),
        );
        Meta {
            title: title.into(),
            time_zone,
            info,
            tmp_dir,
        }
    }

    /// Adds a fact.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Meta {
        self.info.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
        self
    }

    /// A file name for the download: the title and the time, safe in any file system.
    pub fn file_name(&self, format: Format, at: DateTime<Utc>) -> String {
        let mut name: String = self
            .title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(80)
            .collect();
        let local = at.with_timezone(&self.time_zone);
        name.push_str(&local.format("-%Y%m%dT%H%M%S").to_string());
        format!("{name}.{}", format.extension())
    }
}

/// Writes `rows` to `out` in `format`; returns the rows written. Blocks are encoded and written
/// one after the other, so memory holds one block (plus Parquet's row group) at a time.
pub fn write(
    rows: &dyn Rows,
    format: Format,
    meta: &Meta,
    out: Box<dyn Write + Send + '_>,
) -> Result<u64, ExportError> {
    write_reporting(rows, format, meta, out, &mut |_| {})
}

/// [`write`], calling `progress` with the rows written so far after every block.
pub fn write_reporting(
    rows: &dyn Rows,
    format: Format,
    meta: &Meta,
    out: Box<dyn Write + Send + '_>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    format.writer().write(rows, meta, out, progress)
}

/// What a caught panic said.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Money in sen as a plain decimal (`1234567.89`, `-0.50`): exact, readable by every tool.
pub(crate) fn write_money(sen: i64, out: &mut Vec<u8>) {
    if sen < 0 {
        out.push(b'-');
    }
    let abs = sen.unsigned_abs();
    write_u64(abs / 100, out);
    let cents = (abs % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + cents / 10, b'0' + cents % 10]);
}

/// A coordinate in micro-degrees as degrees with six decimals (`-7.645123`), exactly as stored.
pub(crate) fn write_coord(micro: i64, out: &mut Vec<u8>) {
    if micro < 0 {
        out.push(b'-');
    }
    let abs = micro.unsigned_abs();
    write_u64(abs / 1_000_000, out);
    out.push(b'.');
    let mut frac = abs % 1_000_000;
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits);
}

fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

pub(crate) fn write_i64(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(n.unsigned_abs(), out);
}

/// A float as the shortest text that reads back to it; `None` for NaN and infinities.
pub(crate) fn float_text(x: f64) -> Option<String> {
    x.is_finite().then(|| format!("{x}"))
}

#[cfg(test)]
mod tests;
