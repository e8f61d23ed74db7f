//! A dashboard query compiled to a polars lazy plan over a store snapshot, and its result.
//!
//! Stored values are integers (dictionary codes, seconds, micro-degrees, sen); the plan filters
//! and groups on those and only the result's few rows are turned back into labels.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use serde_json::{json, Value};

use crate::dashboards::fields::{Derived, FieldType, Origin, QueryField};
use crate::dashboards::model::{Func, Literal, Measure, Query, Test};
use crate::dashboards::window::{fixed_offset, BucketSize};
use crate::domain::Rupiah;
use crate::store::schema::{budget_col, STATUS_WORDS};
use crate::store::{Dataset, ReadError, StoreSnapshot, TableView, CURRENT, KEY_ID};

mod points;
mod sums;
mod table;

pub use points::{positions, row_key, status_words, Needs, Positions};
pub use sums::{
    current_rows, decomposable, delta_rows, groups_from, partials, KeyPart, RawKey, Sums,
};
pub use table::{table, TableRow};

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The snapshot could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// polars failed.
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

/// One group of a result: its key values (decoded) and its measures (as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Group-by values, in `group_by` order, then the bucket start if bucketed (seconds).
    pub keys: Vec<Key>,
    /// Measure values in `measures` order.
    pub values: Vec<Value>,
    /// Rows in the group (for shares and "other").
    pub rows: u64,
}

/// A decoded group-by value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A label (or a number or boolean written out).
    Text(String),
    /// A bucket start, seconds since 1970.
    Time(i64),
    /// No value.
    Missing,
}

impl Key {
    /// The key as text for JSON object keys.
    pub fn text(&self, tz: Tz) -> String {
        match self {
            Key::Text(s) => s.clone(),
            Key::Time(t) => DateTime::from_timestamp(*t, 0)
                .map(|t| crate::domain::format_local(t, tz))
                .unwrap_or_default(),
            Key::Missing => "unknown".to_owned(),
        }
    }
}

fn name(f: &QueryField) -> PlSmallStr {
    f.name.into()
}

fn seconds(c: &str) -> Expr {
    col(c).cast(DataType::Int64)
}

/// Status codes that close a complaint.
/// Compared as stored (u8 codes): no wider copy of the column.
fn closed_status(status: Expr) -> Expr {
    let code = |w: &str| STATUS_WORDS.iter().position(|s| *s == w).unwrap_or(0) as u8;
    status
        .clone()
        .eq(lit(code("resolved")))
        .or(status.eq(lit(code("rejected"))))
}

fn stored_name(dataset: Dataset, column: usize) -> &'static str {
    dataset.schema().fields[column].name
}

/// The field's values as people mean them: codes for labels, seconds for times, degrees for
/// coordinates, sen for money, hours for durations.
fn value(dataset: Dataset, f: &QueryField, now: i64) -> Expr {
    let hours =
        |from: &str, to: &str| (seconds(to) - seconds(from)).cast(DataType::Float64) / lit(3600.0);
    match f.origin {
        Origin::Column(c) => {
            let storage = dataset.schema().fields[c].storage;
            let e = col(stored_name(dataset, c));
            match storage {
                crate::store::Storage::Coord => e.cast(DataType::Float64) / lit(1e6),
                crate::store::Storage::Time | crate::store::Storage::U32 => e.cast(DataType::Int64),
                _ => e,
            }
        }
        Origin::Derived(d) => match (dataset, d) {
            (Dataset::Complaints, Derived::IsOpen) => closed_status(col("status")).not(),
            (Dataset::Complaints, Derived::ResolveHours) => hours("created_at", "resolved_at"),
            (Dataset::Complaints, Derived::FirstResponseHours) => {
                hours("created_at", "first_response_at")
            }
            (Dataset::Complaints, Derived::AgeHours) => {
                (lit(now) - seconds("created_at")).cast(DataType::Float64) / lit(3600.0)
            }
            (Dataset::ServiceEvents, Derived::IsOpen) => col("outcome").eq(lit(0u8)),
            (Dataset::ServiceEvents, Derived::DurationHours) => {
                hours("requested_at", "completed_at")
            }
            (Dataset::ServiceEvents, Derived::SlaDueAt) => service_due(),
            // Validation keeps derived fields to their datasets.
            _ => lit(NULL),
        },
    }
}

/// The stored column of a time field, when it is one (not derived).
fn stored_time(dataset: Dataset, f: &QueryField) -> Option<&'static str> {
    match f.origin {
        Origin::Column(c) if dataset.schema().fields[c].storage == crate::store::Storage::Time => {
            Some(stored_name(dataset, c))
        }
        _ => None,
    }
}

fn service_due() -> Expr {
    seconds("requested_at") + col("sla_target_minutes").cast(DataType::Int64) * lit(60i64)
}

/// (deadline, open, closed at, an instant as a literal comparable with the deadline) of the SLA
/// measures. Complaints compare their stored u32 seconds as they are (no 64-bit copy).
fn sla_parts(dataset: Dataset) -> (Expr, Expr, Expr, fn(i64) -> Expr) {
    match dataset {
        Dataset::ServiceEvents => (
            service_due(),
            col("outcome").eq(lit(0u8)),
            seconds("completed_at"),
            lit,
        ),
        _ => (
            col("sla_due_at"),
            closed_status(col("status")).not(),
            col("resolved_at"),
            |t| lit(t.clamp(0, i64::from(u32::MAX)) as u32),
        ),
    }
}

/// The code of `label` in column `c` of `view`, if the dictionary holds it.
fn code_of(view: &TableView, dataset: Dataset, c: usize, label: &str) -> Option<i64> {
    match dataset.schema().fields[c].storage {
        crate::store::Storage::Enum(words) => {
            words.iter().position(|w| *w == label).map(|p| p as i64)
        }
        _ => view
            .labels(c)
            .iter()
            .position(|l| &**l == label)
            .map(|p| p as i64),
    }
}

fn literal_expr(l: &Literal) -> Expr {
    match l {
        Literal::Text(_) => lit(NULL),
        Literal::Number(n) => lit(*n),
        Literal::Bool(b) => lit(*b),
        Literal::Time(t) | Literal::Money(t) => lit(*t),
    }
}

/// The condition of every filter of `query`, at `at`.
fn predicate(query: &Query, view: &TableView, at: &Moment) -> Expr {
    let now = at.now.timestamp();
    let mut all = lit(true);
    for f in &query.filters {
        let v = value(query.dataset, &f.field, now);
        let cond = match &f.test {
            Test::In(values) => {
                let mut any = lit(false);
                for l in values {
                    let eq = match (l, f.field.origin) {
                        (Literal::Text(t), Origin::Column(c)) => {
                            match code_of(view, query.dataset, c, t) {
                                Some(code) => v.clone().cast(DataType::Int64).eq(lit(code)),
                                None => lit(false),
                            }
                        }
                        _ => v.clone().eq(literal_expr(l)),
                    };
                    any = any.or(eq);
                }
                any
            }
            Test::Range { min, max } => {
                let mut c = lit(true);
                if let Some(m) = min {
                    c = c.and(v.clone().gt_eq(literal_expr(m)));
                }
                if let Some(m) = max {
                    c = c.and(v.clone().lt(literal_expr(m)));
                }
                c
            }
            Test::Window(w) => {
                let (start, end) = w.range(at.now, at.tz, at.fiscal_start);
                match stored_time(query.dataset, &f.field) {
                    // Compared as stored (u32 seconds): no 64-bit copy of the column.
                    Some(name) => {
                        let secs = |t: i64| lit(t.clamp(0, i64::from(u32::MAX)) as u32);
                        col(name).gt_eq(secs(start)).and(col(name).lt(secs(end)))
                    }
                    None => v.clone().gt_eq(lit(start)).and(v.lt(lit(end))),
                }
            }
        };
        // A missing value never passes a filter.
        all = all.and(cond.fill_null(lit(false)));
    }
    all
}

/// The data of one snapshot as the panels computed from it read it: each dataset's frame is
/// built once (its columns are shared with the store, not copied) and reused by every panel.
pub struct Frames<'a> {
    snapshot: &'a StoreSnapshot,
    built: std::sync::Mutex<[Option<DataFrame>; 3]>,
    /// Rows of delta runs already read, by dataset and the run's first and last commit: the
    /// panels of one pass usually follow the same run.
    deltas: std::sync::Mutex<Vec<(DeltaRun, DataFrame)>>,
}

/// A run of commits' deltas of one dataset: the dataset, the first and the last commit.
type DeltaRun = (Dataset, u64, u64);

impl<'a> Frames<'a> {
    /// Frames over `snapshot`, built on first use.
    pub fn new(snapshot: &'a StoreSnapshot) -> Frames<'a> {
        Frames {
            snapshot,
            built: std::sync::Mutex::new([None, None, None]),
            deltas: std::sync::Mutex::default(),
        }
    }

    /// The view of `dataset`.
    pub fn view(&self, dataset: Dataset) -> &'a TableView {
        self.snapshot.table(dataset)
    }

    /// Every hot row of `dataset` with the `current` flag (a cheap clone of the cached frame).
    fn frame(&self, dataset: Dataset) -> Result<DataFrame, QueryError> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut built[Dataset::ALL.iter().position(|d| *d == dataset).unwrap_or(0)];
        if let Some(frame) = slot {
            return Ok(frame.clone());
        }
        let frame = self.view(dataset).frame()?;
        *slot = Some(frame.clone());
        Ok(frame)
    }
}

/// A lazy plan over `frame`. Common-subexpression elimination is off: it turns a repeated
/// aggregation (the row count of a KPI and of its `count` measure) into a one-row column, which
/// polars 0.52 then fails to line up with the other columns when it projects a frame of several
/// chunks in parallel — a panic on every KPI of a store reloaded from its checkpoint.
fn plan(frame: DataFrame) -> LazyFrame {
    let lf = frame.lazy();
    let mut flags = lf.get_current_optimizations();
    flags.remove(OptFlags::COMM_SUBEXPR_ELIM);
    lf.with_optimizations(flags)
}

/// The rows a query reads: current (or as-of) versions, filtered; budget lines reduced to the
/// figures to date of each line.
pub fn rows(query: &Query, frames: &Frames, at: &Moment) -> Result<LazyFrame, QueryError> {
    let view = frames.view(query.dataset);
    let frame = if at.as_of {
        match view.as_of_mask(at.now) {
            // Inside the hot window: a mask over the shared frame, nothing copied.
            Some(mask) => {
                let mut frame = frames.frame(query.dataset)?;
                frame.with_column(mask.into_series())?;
                plan(frame).filter(col("as_of"))
            }
            None => plan(view.as_of(at.now)?),
        }
    } else {
        plan(frames.frame(query.dataset)?).filter(col(CURRENT))
    };
    let mut lf = frame.filter(predicate(query, view, at));
    if query.dataset == Dataset::BudgetLines {
        lf = budget_to_date(lf);
    }
    Ok(lf)
}

/// The rows `query` reads at `at` — current (or as-of) versions, filtered, and with `to_date`
/// budget lines reduced to their figures to date, i.e. the rows [`rows`] aggregates — as a mask
/// over a frame of the dataset. The frame is the view's shared frame, or, when `at` is before the
/// hot window, the as-of frame read with the history files. Nothing of the rows is copied.
pub fn selection(
    query: &Query,
    frames: &Frames,
    at: &Moment,
    to_date: bool,
) -> Result<(DataFrame, BooleanChunked), QueryError> {
    let view = frames.view(query.dataset);
    let (frame, versions) = if at.as_of {
        match view.as_of_mask(at.now) {
            Some(mask) => {
                let mut frame = frames.frame(query.dataset)?;
                frame.with_column(mask.into_series())?;
                (frame, col("as_of"))
            }
            None => (view.as_of(at.now)?, lit(true)),
        }
    } else {
        (frames.frame(query.dataset)?, col(CURRENT))
    };
    let keep = versions.and(predicate(query, view, at));
    let height = frame.height();
    let mask = if to_date && query.dataset == Dataset::BudgetLines {
        let picked = budget_to_date(
            plan(frame.clone())
                .with_row_index("_row", None)
                .filter(keep),
        )
        .select([col("_row")])
        .collect()?;
        let mut bits = vec![false; height];
        for row in picked.column("_row")?.idx()?.into_no_null_iter() {
            if let Some(b) = bits.get_mut(row as usize) {
                *b = true;
            }
        }
        BooleanChunked::from_slice("_keep".into(), &bits)
    } else {
        let out = plan(frame.clone())
            .select([keep.fill_null(lit(false)).alias("_keep")])
            .collect()?;
        let mask = out.column("_keep")?.bool()?.clone();
        if mask.len() == height {
            mask
        } else {
            // A condition without columns (no filters over an as-of frame) is one value.
            BooleanChunked::full("_keep".into(), mask.get(0).unwrap_or(false), height)
        }
    };
    Ok((frame, mask))
}

/// Budget figures are cumulative per period and a revised budget (perubahan) replaces the
/// original (murni): each line counts once, at its latest version and period.
fn budget_to_date(lf: LazyFrame) -> LazyFrame {
    let rank = col(stored_name(Dataset::BudgetLines, budget_col::VERSION)).cast(DataType::Int64)
        * lit(100i64)
        + col(stored_name(Dataset::BudgetLines, budget_col::PERIOD)).cast(DataType::Int64);
    let line = [
        col(stored_name(Dataset::BudgetLines, budget_col::FISCAL_YEAR)),
        col(stored_name(Dataset::BudgetLines, budget_col::OPD)),
        col(stored_name(Dataset::BudgetLines, budget_col::ACCOUNT_CODE)),
    ];
    lf.with_column(rank.alias("_rank"))
        .filter(col("_rank").eq(col("_rank").max().over(line)))
}

/// The expression of a bucket's start for `t` (seconds).
fn bucket_expr(t: Expr, size: BucketSize, tz: Tz) -> Expr {
    let fixed = fixed_offset(tz).map(i64::from);
    let width = match size {
        BucketSize::Minute => Some(60),
        BucketSize::Hour => Some(3600),
        BucketSize::Day => Some(86_400),
        BucketSize::Week => Some(7 * 86_400),
        BucketSize::Month => None,
    };
    match (fixed, width) {
        (Some(off), Some(w)) => {
            // 1970-01-01 was a Thursday: shift three days so weeks start on Monday.
            let shift = if size == BucketSize::Week {
                3 * 86_400
            } else {
                0
            };
            let local = t + lit(off + shift);
            (local.clone() - local % lit(w)) - lit(off + shift)
        }
        _ => t.map(
            move |c: Column| {
                let s = c.as_materialized_series().i64()?.clone();
                let out: Int64Chunked = s
                    .into_iter()
                    .map(|v| v.map(|v| size.start_of(v, tz)))
                    .collect();
                Ok(out.with_name(c.name().clone()).into_column())
            },
            |_, f| Ok(Field::new(f.name().clone(), DataType::Int64)),
        ),
    }
}

/// Rows counted through the key-id column: a plain `len()` carries no column, and with more
/// than one in a plan polars stops pruning the frame's columns (measured: 8× slower).
fn rows_len() -> Expr {
    col(KEY_ID).len()
}

/// One aggregation of a measure.
enum Agg {
    /// An aggregation over the rows.
    Plain(Expr),
    /// A per-row column computed first, and the aggregation over it.
    Counted(Expr, Expr),
}

/// Aggregations of a measure (named `m{i}_{j}`); the final value is made from them by
/// [`finish`].
fn aggs(i: usize, m: &Measure, dataset: Dataset, now: i64) -> Vec<Agg> {
    let a = |j: usize, e: Expr| Agg::Plain(e.alias(format!("m{i}_{j}")));
    // A condition counted per group: computed as a 0/1 column first, then summed (a plain
    // column sum is polars' fast path; a summed expression is evaluated per group).
    let flag = |j: usize, cond: Expr| {
        let name = format!("_p{i}_{j}");
        Agg::Counted(
            cond.fill_null(lit(false))
                .cast(DataType::UInt32)
                .alias(name.clone()),
            col(name).sum().alias(format!("m{i}_{j}")),
        )
    };
    let of = m.of.map(|f| value(dataset, &f, now));
    let money = |c: usize| col(stored_name(Dataset::BudgetLines, c)).sum();
    match m.func {
        Func::Count | Func::RatePerHour | Func::Share => vec![a(0, rows_len())],
        Func::Sum => vec![a(0, of.map(Expr::sum).unwrap_or(lit(NULL)))],
        Func::Avg => vec![a(0, of.map(Expr::mean).unwrap_or(lit(NULL)))],
        Func::Min => vec![a(0, of.map(Expr::min).unwrap_or(lit(NULL)))],
        Func::Max => vec![a(0, of.map(Expr::max).unwrap_or(lit(NULL)))],
        Func::Median => vec![a(0, of.map(Expr::median).unwrap_or(lit(NULL)))],
        Func::P90 => vec![a(
            0,
            of.map(|e| e.quantile(lit(0.9), QuantileMethod::Linear))
                .unwrap_or(lit(NULL)),
        )],
        Func::CountDistinct => vec![a(
            0,
            of.map(|e| e.drop_nulls().n_unique()).unwrap_or(lit(NULL)),
        )],
        Func::TimeToFirstResponse => vec![a(
            0,
            value(
                dataset,
                &crate::dashboards::fields::field(dataset, "first_response_hours").unwrap_or(
                    QueryField {
                        name: "first_response_hours",
                        ty: FieldType::Hours,
                        origin: Origin::Derived(Derived::FirstResponseHours),
                        words: None,
                    },
                ),
                now,
            )
            .median(),
        )],
        Func::SlaBreached => {
            let (due, open, _, at) = sla_parts(dataset);
            vec![flag(0, open.and(due.lt(at(now))))]
        }
        Func::SlaAtRisk => {
            let (due, open, _, at) = sla_parts(dataset);
            let within = m.within_secs.unwrap_or(0);
            vec![flag(
                0,
                open.and(due.clone().gt_eq(at(now)))
                    .and(due.lt(at(now + within))),
            )]
        }
        Func::SlaWithinPct => {
            let (due, open, closed_at, _) = sla_parts(dataset);
            let closed = open
                .not()
                .and(closed_at.clone().is_not_null())
                .and(due.clone().is_not_null());
            vec![
                flag(0, closed.clone().and(closed_at.lt_eq(due))),
                flag(1, closed),
            ]
        }
        Func::Serapan => vec![
            a(0, money(budget_col::REALISASI)),
            a(1, money(budget_col::PAGU)),
        ],
        Func::PlanPct => vec![
            a(0, money(budget_col::ANGGARAN_KAS)),
            a(1, money(budget_col::PAGU)),
        ],
        Func::Deviation => vec![
            a(0, money(budget_col::REALISASI)),
            a(1, money(budget_col::ANGGARAN_KAS)),
            a(2, money(budget_col::PAGU)),
        ],
    }
}

/// Rounds a float for display and stable diffs (4 decimals).
pub(crate) fn round(v: f64) -> Value {
    if v.is_finite() {
        json!((v * 10_000.0).round() / 10_000.0)
    } else {
        Value::Null
    }
}

fn pct(part: Option<f64>, whole: Option<f64>) -> Value {
    match (part, whole) {
        (Some(p), Some(w)) if w != 0.0 => round(p / w * 100.0),
        _ => Value::Null,
    }
}

/// A measure's final value from its aggregations `parts` (already read out of the frame).
fn finish(m: &Measure, parts: &[AnyValue], rows: u64, total: u64, window_hours: f64) -> Value {
    let f = |i: usize| parts.get(i).and_then(|v| v.extract::<f64>());
    let int = |i: usize| parts.get(i).and_then(|v| v.extract::<i64>());
    match m.func {
        Func::Count | Func::SlaBreached | Func::SlaAtRisk | Func::CountDistinct => {
            json!(int(0).unwrap_or(0))
        }
        Func::RatePerHour => round(rows as f64 / window_hours),
        Func::Share => pct(Some(rows as f64), Some(total as f64)),
        Func::SlaWithinPct => pct(f(0), f(1)),
        Func::Serapan | Func::PlanPct => pct(int(0).map(|v| v as f64), int(1).map(|v| v as f64)),
        Func::Deviation => match (int(0), int(1), int(2)) {
            (Some(r), Some(k), Some(p)) if p != 0 => round((r - k) as f64 / p as f64 * 100.0),
            _ => Value::Null,
        },
        _ => match m.output() {
            FieldType::Money => match m.func {
                // Sums, minima and maxima of sen stay exact; a median may fall between two.
                Func::Sum | Func::Min | Func::Max => {
                    int(0).map_or(Value::Null, |sen| json!(Rupiah::from_sen(sen)))
                }
                _ => f(0).map_or(Value::Null, |sen| {
                    json!(Rupiah::from_sen(sen.round() as i64))
                }),
            },
            FieldType::Time => int(0)
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map_or(Value::Null, |t| json!(t)),
            _ => f(0).map_or(Value::Null, round),
        },
    }
}

/// Runs a grouped query: one [`Group`] per group (one group when nothing is grouped).
pub fn groups(query: &Query, frames: &Frames, at: &Moment) -> Result<Vec<Group>, QueryError> {
    let now = at.now.timestamp();
    let view = frames.view(query.dataset);
    let lf = rows(query, frames, at)?;
    let mut keys: Vec<Expr> = query
        .group_by
        .iter()
        .map(|f| value(query.dataset, f, now).alias(name(f)))
        .collect();
    if let Some(b) = &query.bucket {
        keys.push(bucket_expr(value(query.dataset, &b.field, now), b.size, at.tz).alias("_bucket"));
    }
    let mut aggregations = vec![rows_len().alias("_rows")];
    let mut columns = Vec::new();
    for (i, m) in query.measures.iter().enumerate() {
        for agg in aggs(i, m, query.dataset, now) {
            match agg {
                Agg::Plain(e) => aggregations.push(e),
                Agg::Counted(column, e) => {
                    columns.push(column);
                    aggregations.push(e);
                }
            }
        }
    }
    let lf = if columns.is_empty() {
        lf
    } else {
        lf.with_columns(columns)
    };
    let frame = if keys.is_empty() {
        lf.select(aggregations).collect()?
    } else {
        lf.group_by(keys).agg(aggregations).collect()?
    };
    let window_hours = query
        .window()
        .map_or(1.0, |w| w.hours(at.now, at.tz, at.fiscal_start));
    let height = frame.height();
    let row_counts: Vec<u64> = frame
        .column("_rows")?
        .cast(&DataType::UInt64)?
        .u64()?
        .into_iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let total: u64 = row_counts.iter().sum();
    let mut out = Vec::with_capacity(height);
    for (row, rows) in row_counts.iter().copied().enumerate() {
        let mut keys = Vec::new();
        for f in &query.group_by {
            let v = frame.column(f.name)?.get(row)?;
            keys.push(decode_key(view, query.dataset, f, &v));
        }
        if query.bucket.is_some() {
            keys.push(match frame.column("_bucket")?.get(row)?.extract::<i64>() {
                Some(t) => Key::Time(t),
                None => Key::Missing,
            });
        }
        let mut values = Vec::with_capacity(query.measures.len());
        for (i, m) in query.measures.iter().enumerate() {
            let mut parts = Vec::new();
            let mut j = 0;
            while let Ok(c) = frame.column(&format!("m{i}_{j}")) {
                parts.push(c.get(row)?.into_static());
                j += 1;
            }
            values.push(finish(m, &parts, rows, total, window_hours));
        }
        out.push(Group { keys, values, rows });
    }
    Ok(out)
}

fn decode_key(view: &TableView, dataset: Dataset, f: &QueryField, v: &AnyValue) -> Key {
    if v.is_null() {
        return Key::Missing;
    }
    match (f.ty, f.origin) {
        (FieldType::Label, Origin::Column(c)) => {
            let code = v.extract::<i64>().unwrap_or(-1);
            let label = match dataset.schema().fields[c].storage {
                crate::store::Storage::Enum(words) => usize::try_from(code)
                    .ok()
                    .and_then(|i| words.get(i))
                    .copied(),
                _ => view.label(c, code),
            };
            label.map_or(Key::Missing, |l| Key::Text(l.to_owned()))
        }
        (FieldType::Bool, _) => Key::Text(
            match v {
                AnyValue::Boolean(true) => "true",
                _ => "false",
            }
            .to_owned(),
        ),
        _ => Key::Text(match v.extract::<f64>() {
            Some(n) if n.fract() == 0.0 => format!("{}", n as i64),
            Some(n) => format!("{n}"),
            None => v.to_string(),
        }),
    }
}

/// One table cell as JSON: labels as text, times in the dashboard's zone, money exact.
fn cell(view: &TableView, dataset: Dataset, f: &QueryField, v: &AnyValue, tz: Tz) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    match f.ty {
        FieldType::Label => match decode_key(view, dataset, f, v) {
            Key::Text(t) => json!(t),
            _ => Value::Null,
        },
        FieldType::Time => v
            .extract::<i64>()
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map_or(Value::Null, |t| json!(crate::domain::format_local(t, tz))),
        FieldType::Money => v
            .extract::<i64>()
            .map_or(Value::Null, |sen| json!(Rupiah::from_sen(sen))),
        FieldType::Bool => json!(matches!(v, AnyValue::Boolean(true))),
        FieldType::Number | FieldType::Hours => v.extract::<f64>().map_or(Value::Null, round),
    }
}
