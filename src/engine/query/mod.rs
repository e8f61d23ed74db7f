//! A dashboard query evaluated over a store snapshot's columns, and its result.
//!
//! The query runs natively over the store's chunks ([`columns`]): its filters and the SLA
//! measures' tests become bits a word (64 rows) at a time ([`cond`]), rows are grouped and
//! measured into per-group sums and statistics ([`fold`]), chunks in parallel on polars' thread
//! pool, and a chunk whose range of times misses a window is skipped without being read. Stored
//! values are integers (dictionary codes, seconds, micro-degrees, sen); only the result's few
//! groups are turned back into labels. A commit's delta runs through the same plan row by row
//! ([`sums`]), so a panel kept current from deltas always equals its full computation.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use serde_json::{json, Value};

use crate::dashboards::fields::{FieldType, Origin, QueryField};
use crate::dashboards::model::{Func, Measure, Query};
use crate::dashboards::result::{round, Group, Key};
use crate::domain::Dataset;
use crate::domain::Rupiah;
use crate::store::DatasetSchema;
use crate::store::{ReadError, StoreSnapshot, TableView};

mod access;
mod columns;
mod cond;
mod fold;
mod points;
mod sums;
mod table;

use access::Scalar;
use columns::{parts, Versions};
use fold::{Folded, Plan};
pub use points::{positions, row_key, status_words, Needs, Positions};
pub use sums::{decomposable, delta_sums, full_sums, groups_from, Sums};
pub use table::{table, TableRow};

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The snapshot could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// polars failed (reading history, building an export's frame).
    #[error("query: {0}")]
    Polars(#[from] PolarsError),
}

/// When and where a query is evaluated.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The clock the windows and SLA measures use.
    pub now: DateTime<Utc>,
    /// Read the data as it was at `now` (history included) rather than its current state.
    pub as_of: bool,
    /// Zone of windows and buckets.
    pub tz: Tz,
    /// First month of the fiscal year.
    pub fiscal_start: u32,
}

/// One group-by value as stored (a code, a number, a bucket start), hashable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPart {
    /// No value.
    Null,
    /// An integer (a dictionary code, a number, a bucket start).
    Int(i64),
    /// A float, by its bits.
    Float(u64),
    /// A boolean.
    Bool(bool),
}

impl KeyPart {
    fn from_scalar(v: Scalar) -> KeyPart {
        match v {
            Scalar::Int(i) => KeyPart::Int(i),
            Scalar::Float(f) => KeyPart::Float(f.to_bits()),
            Scalar::Bool(b) => KeyPart::Bool(b),
        }
    }
}

/// One group's key as stored, in `group_by` order then the bucket.
pub type RawKey = Vec<KeyPart>;

/// The data of one snapshot as the panels computed from it read it: its views, each dataset's
/// versions as of a past moment (worked out once, shared by every panel asking for them), and
/// the frames exports read.
pub struct Frames<'a> {
    snapshot: &'a StoreSnapshot,
    built: Mutex<[Option<DataFrame>; 3]>,
    versions: Mutex<Vec<(Dataset, i64, Arc<Versions>)>>,
    /// Rows of delta runs already gathered, by dataset and the run's first and last commit:
    /// the panels of one pass usually follow the same run.
    deltas: Mutex<Vec<(DeltaRun, Arc<DeltaRows>)>>,
}

/// A run of commits' deltas of one dataset: the dataset, the first and the last commit.
type DeltaRun = (Dataset, u64, u64);

/// The rows a run of deltas changed, gathered into one contiguous frame, each with its sign
/// (+1 became current, -1 superseded).
pub(crate) struct DeltaRows {
    frame: DataFrame,
    signs: Vec<i32>,
}

impl<'a> Frames<'a> {
    /// Frames over `snapshot`, built on first use.
    pub fn new(snapshot: &'a StoreSnapshot) -> Frames<'a> {
        Frames {
            snapshot,
            built: Mutex::new([None, None, None]),
            versions: Mutex::default(),
            deltas: Mutex::default(),
        }
    }

    /// The view of `dataset`.
    pub fn view(&self, dataset: Dataset) -> &'a TableView {
        self.snapshot.table(dataset)
    }

    /// Every hot row of `dataset` with the `current` flag (a cheap clone of the cached frame).
    fn frame(&self, dataset: Dataset) -> Result<DataFrame, QueryError> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut built[dataset.index()];
        if let Some(frame) = slot {
            return Ok(frame.clone());
        }
        let frame = self.view(dataset).frame()?;
        *slot = Some(frame.clone());
        Ok(frame)
    }

    /// The rows `deltas` (of `dataset`, in this snapshot's row numbering) changed, read once
    /// from their chunks for every panel that follows the same run of commits.
    fn delta_rows(
        &self,
        dataset: Dataset,
        deltas: &[Arc<crate::store::Delta>],
    ) -> Result<Arc<DeltaRows>, QueryError> {
        let run = (
            dataset,
            deltas.first().map_or(0, |d| d.seq),
            deltas.last().map_or(0, |d| d.seq),
        );
        let mut read = self.deltas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, rows)) = read.iter().find(|(r, _)| *r == run) {
            return Ok(rows.clone());
        }
        let mut signed: Vec<(u32, i32)> = Vec::new();
        for d in deltas {
            signed.extend(d.removed.iter().map(|&r| (r, -1)));
            signed.extend(d.added.iter().map(|&r| (r, 1)));
        }
        // Ascending rows, each with its sign (a row may come and go over several deltas).
        signed.sort_unstable();
        let rows: Vec<u32> = signed.iter().map(|&(r, _)| r).collect();
        let frame = self.view(dataset).gather(&rows)?;
        let gathered = Arc::new(DeltaRows {
            frame,
            signs: signed.into_iter().map(|(_, s)| s).collect(),
        });
        read.push((run, gathered.clone()));
        Ok(gathered)
    }

    /// The versions of `dataset` a query at `at` reads: the current ones, or those of `at`.
    fn versions(&self, dataset: Dataset, at: &Moment) -> Result<Arc<Versions>, QueryError> {
        if !at.as_of {
            return Ok(Arc::new(Versions::Current));
        }
        let t = at.now.timestamp();
        let mut cached = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, v)) = cached.iter().find(|(d, s, _)| *d == dataset && *s == t) {
            return Ok(v.clone());
        }
        let view = self.view(dataset);
        let versions = if view.hot_since().is_some_and(|since| at.now < since) {
            // Before the hot window: the history files hold the versions of then.
            let mut frame = view.as_of(at.now)?;
            frame.rechunk_mut();
            Versions::History(Arc::new(frame))
        } else {
            Versions::AsOf(Arc::new(columns::as_of_words(view, t)?))
        };
        let versions = Arc::new(versions);
        cached.push((dataset, t, versions.clone()));
        Ok(versions)
    }
}

/// Runs a grouped query: one [`Group`] per group (one group when nothing is grouped).
pub fn groups(query: &Query, frames: &Frames, at: &Moment) -> Result<Vec<Group>, QueryError> {
    let view = frames.view(query.dataset);
    let versions = frames.versions(query.dataset, at)?;
    let parts = parts(view, &versions)?;
    let plan = Plan::new(query, view, at);
    let now = at.now.timestamp();
    let selected = plan.select(&parts, now)?;
    let folded = plan.fold(view, &parts, &selected, now)?;
    Ok(to_groups(query, view, at, folded))
}

/// The groups of `folded` with labels decoded and measures finished.
fn to_groups(query: &Query, view: &TableView, at: &Moment, folded: Vec<Folded>) -> Vec<Group> {
    let window_hours = query
        .window()
        .map_or(1.0, |w| w.hours(at.now, at.tz, at.fiscal_start));
    let total: u64 = folded.iter().map(|g| g.rows).sum();
    folded
        .into_iter()
        .map(|g| {
            let keys = decode_keys(query, view, &g.key);
            let (mut at_sum, mut at_stat) = (0, 0);
            let values = query
                .measures
                .iter()
                .map(|m| {
                    let used = parts_of(m.func);
                    let sums = &g.sums[at_sum..at_sum + used];
                    at_sum += used;
                    // A measure without sums has a statistic instead.
                    let stat = if used == 0 {
                        at_stat += 1;
                        g.stats.get(at_stat - 1).copied().flatten()
                    } else {
                        None
                    };
                    measure_value(m, sums, stat, g.rows, total, window_hours)
                })
                .collect();
            Group {
                keys,
                values,
                rows: g.rows,
            }
        })
        .collect()
}

/// How many sums a measure keeps (see `fold::Plan`).
fn parts_of(func: Func) -> usize {
    match func {
        Func::Count
        | Func::RatePerHour
        | Func::Share
        | Func::Sum
        | Func::SlaBreached
        | Func::SlaAtRisk => 1,
        Func::Avg | Func::SlaWithinPct | Func::Serapan | Func::PlanPct => 2,
        Func::Deviation => 3,
        Func::Min
        | Func::Max
        | Func::Median
        | Func::P90
        | Func::CountDistinct
        | Func::TimeToFirstResponse => 0,
    }
}

/// A stored group key decoded: labels as text, the bucket as its start.
fn decode_keys(query: &Query, view: &TableView, key: &[KeyPart]) -> Vec<Key> {
    let mut keys: Vec<Key> = query
        .group_by
        .iter()
        .zip(key)
        .map(|(f, k)| decode_key(view, query.dataset, f, *k))
        .collect();
    if query.bucket.is_some() {
        keys.push(match key.get(query.group_by.len()) {
            Some(KeyPart::Int(t)) => Key::Time(*t),
            _ => Key::Missing,
        });
    }
    keys
}

/// The rows `query` reads at `at` — current (or as-of) versions, filtered, and with `to_date`
/// budget lines reduced to their figures to date, i.e. the rows [`groups`] aggregates — as a mask
/// over a frame of the dataset. The frame is the view's shared frame, or, when `at` is before the
/// hot window, the as-of frame read with the history files. Nothing of the rows is copied.
pub fn selection(
    query: &Query,
    frames: &Frames,
    at: &Moment,
    to_date: bool,
) -> Result<(DataFrame, BooleanChunked), QueryError> {
    let view = frames.view(query.dataset);
    let versions = frames.versions(query.dataset, at)?;
    let parts = parts(view, &versions)?;
    let plan = Plan::rows_only(query, view, at, to_date);
    let selected = plan.select(&parts, at.now.timestamp())?;
    let frame = match &*versions {
        Versions::History(frame) => (**frame).clone(),
        _ => frames.frame(query.dataset)?,
    };
    // One array per part, cut like the frame's columns, so polars filters without re-chunking.
    let mut mask = BooleanChunked::from_slice("_keep".into(), &[]);
    for (part, words) in parts.iter().zip(&selected) {
        let bits = (0..part.len).map(|i| words[i / 64] >> (i % 64) & 1 == 1);
        mask.append(&BooleanChunked::from_iter_values("_keep".into(), bits))?;
    }
    Ok((frame, mask))
}

/// Rounds a float for display and stable diffs (4 decimals).
fn pct(part: Option<f64>, whole: Option<f64>) -> Value {
    match (part, whole) {
        (Some(p), Some(w)) if w != 0.0 => round(p / w * 100.0),
        _ => Value::Null,
    }
}

/// A measure's value from its sums (in `fold::Plan` order) or its statistic.
fn measure_value(
    m: &Measure,
    sums: &[Scalar],
    stat: Option<Scalar>,
    rows: u64,
    total: u64,
    window_hours: f64,
) -> Value {
    let int = |i: usize| sums.get(i).map(|v| v.number().round() as i64);
    let num = |i: usize| sums.get(i).map(|v| v.number());
    match m.func {
        Func::Count | Func::SlaBreached | Func::SlaAtRisk => json!(int(0).unwrap_or(0)),
        Func::CountDistinct => json!(stat.map_or(0, |v| v.number() as i64)),
        Func::RatePerHour => round(rows as f64 / window_hours),
        Func::Share => pct(Some(rows as f64), Some(total as f64)),
        Func::SlaWithinPct => pct(num(0), num(1)),
        Func::Serapan | Func::PlanPct => pct(int(0).map(|v| v as f64), int(1).map(|v| v as f64)),
        Func::Deviation => match (int(0), int(1), int(2)) {
            (Some(r), Some(k), Some(p)) if p != 0 => round((r - k) as f64 / p as f64 * 100.0),
            _ => Value::Null,
        },
        Func::Sum => typed(m, sums.first().copied()),
        Func::Avg => typed(
            m,
            match (num(0), int(1)) {
                (Some(sum), Some(n)) if n >= 1 => Some(Scalar::Float(sum / n as f64)),
                _ => None,
            },
        ),
        Func::Min | Func::Max | Func::Median | Func::P90 | Func::TimeToFirstResponse => {
            typed(m, stat)
        }
    }
}

/// A value in the measure's output type: money exact, times as instants, numbers rounded.
fn typed(m: &Measure, v: Option<Scalar>) -> Value {
    let Some(v) = v else {
        return Value::Null;
    };
    match m.output() {
        FieldType::Money => match v {
            // Sums, minima and maxima of sen stay exact; a median may fall between two.
            Scalar::Int(sen) => json!(Rupiah::from_sen(sen)),
            other => json!(Rupiah::from_sen(other.number().round() as i64)),
        },
        FieldType::Time => {
            DateTime::from_timestamp(v.number() as i64, 0).map_or(Value::Null, |t| json!(t))
        }
        _ => round(v.number()),
    }
}

fn decode_key(view: &TableView, dataset: Dataset, f: &QueryField, v: KeyPart) -> Key {
    match (v, f.ty, f.origin) {
        (KeyPart::Null, ..) => Key::Missing,
        (KeyPart::Int(code), FieldType::Label, Origin::Column(c)) => {
            let label = match dataset.schema().fields[c].storage {
                crate::store::Storage::Enum(words) => usize::try_from(code)
                    .ok()
                    .and_then(|i| words.get(i))
                    .copied(),
                _ => view.label(c, code),
            };
            label.map_or(Key::Missing, |l| Key::Text(l.to_owned()))
        }
        (KeyPart::Bool(b), ..) => Key::Text(if b { "true" } else { "false" }.to_owned()),
        (KeyPart::Int(i), ..) => Key::Text(i.to_string()),
        (KeyPart::Float(bits), ..) => {
            let n = f64::from_bits(bits);
            Key::Text(if n.fract() == 0.0 {
                format!("{}", n as i64)
            } else {
                format!("{n}")
            })
        }
    }
}

/// One table cell as JSON: labels as text, times in the dashboard's zone, money exact.
fn cell(view: &TableView, dataset: Dataset, f: &QueryField, v: Option<Scalar>, tz: Tz) -> Value {
    let Some(v) = v else {
        return Value::Null;
    };
    match f.ty {
        FieldType::Label => match decode_key(view, dataset, f, KeyPart::from_scalar(v)) {
            Key::Text(t) => json!(t),
            _ => Value::Null,
        },
        FieldType::Time => DateTime::from_timestamp(v.number() as i64, 0)
            .map_or(Value::Null, |t| json!(crate::domain::format_local(t, tz))),
        FieldType::Money => json!(Rupiah::from_sen(v.number() as i64)),
        FieldType::Bool => json!(matches!(v, Scalar::Bool(true))),
        FieldType::Number | FieldType::Hours => round(v.number()),
    }
}
