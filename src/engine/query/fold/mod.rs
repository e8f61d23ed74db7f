//! Rows grouped and measured: each group-by field (and the time bucket) is a dimension, every
//! measure a few sums per group (rows, counts of rows meeting a condition, sums of a value) or,
//! for medians, percentiles, extremes and distinct counts, what it needs of each row.
//!
//! Over every row (a full computation) the parts are folded on polars' thread pool, one part a
//! task: the selection is made a word (64 rows) at a time, conditions of the SLA measures become
//! bits too, and each selected row adds to the slot of its group. Labels, booleans and buckets
//! of a bounded span give dense slots (an array index, no hashing); other keys are hashed.
//! Over a commit's delta the same plan is applied row by row with a sign.

use chrono_tz::Tz;

use super::access::{Access, Cols, Int, OpenRule, Scalar};
use super::cond::{Cond, Sla};
use super::{KeyPart, Moment, RawKey};
use crate::dashboards::model::{Func, Measure, Query};
use crate::dashboards::window::{fixed_offset, BucketSize};
use crate::domain::Dataset;
use crate::store::schema::budget_col;
use crate::store::TableView;

mod accs;
mod pass;

/// Dense slots up to this many groups; beyond, keys are hashed.
const DENSE_GROUPS: u64 = 1 << 16;

/// One grouping dimension.
#[derive(Debug, Clone, Copy)]
pub(super) enum Dim {
    /// A label's code.
    Code(usize),
    /// A stored boolean.
    Truth(usize),
    /// Derived: open or not.
    Open(OpenRule),
    /// The start of the time bucket holding an instant.
    Bucket {
        /// The instant.
        of: Int,
        /// Bucket size.
        size: BucketSize,
        /// Zone of the buckets.
        tz: Tz,
        /// The zone's offset when it never changes (buckets by arithmetic).
        fixed: Option<i64>,
    },
    /// Any other value, hashed.
    Value(Access),
}

impl Dim {
    fn key(self, cols: &Cols, i: usize) -> KeyPart {
        match self {
            Dim::Code(c) => cols.col(c).int(i).map_or(KeyPart::Null, KeyPart::Int),
            Dim::Truth(c) => cols
                .col(c)
                .int(i)
                .map_or(KeyPart::Null, |v| KeyPart::Bool(v != 0)),
            Dim::Open(rule) => cols
                .col(rule.col)
                .int(i)
                .map_or(KeyPart::Null, |code| KeyPart::Bool(rule.is_open(code))),
            Dim::Bucket { of, .. } => cols
                .int(of, i)
                .map_or(KeyPart::Null, |t| KeyPart::Int(self.bucket_start(t))),
            Dim::Value(access) => access
                .read(cols, i)
                .map_or(KeyPart::Null, KeyPart::from_scalar),
        }
    }

    /// The start of the bucket holding `t` (seconds).
    fn bucket_start(self, t: i64) -> i64 {
        let Dim::Bucket {
            size, tz, fixed, ..
        } = self
        else {
            return t;
        };
        match (fixed, width(size)) {
            (Some(off), Some(w)) => {
                // 1970-01-01 was a Thursday: shift three days so weeks start on Monday.
                let shift = if size == BucketSize::Week {
                    3 * 86_400
                } else {
                    0
                };
                let local = t + off + shift;
                local - local.rem_euclid(w) - off - shift
            }
            _ => size.start_of(t, tz),
        }
    }
}

fn width(size: BucketSize) -> Option<i64> {
    match size {
        BucketSize::Minute => Some(60),
        BucketSize::Hour => Some(3600),
        BucketSize::Day => Some(86_400),
        BucketSize::Week => Some(7 * 86_400),
        BucketSize::Month => None,
    }
}

/// What a measure adds up per group.
#[derive(Debug, Clone)]
pub(super) enum Contrib {
    /// Each row counts once (count, rate, share).
    Rows,
    /// Rows meeting a condition (the SLA measures).
    Flag(Cond),
    /// A value, summed (missing values add nothing).
    Sum(Access),
    /// Rows with a value (an average's divisor).
    Present(Access),
}

/// What a measure that is not a sum needs of each row of a group.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stat {
    /// The least value.
    Min(Access),
    /// The greatest value.
    Max(Access),
    /// A quantile (linear interpolation) of the values.
    Quantile(Access, f64),
    /// How many distinct values.
    Distinct(Access),
}

/// A query made ready to run over one view: its conditions, dimensions and measures' parts.
pub(super) struct Plan {
    /// The dataset read.
    pub dataset: Dataset,
    /// Every filter.
    pub filter: Cond,
    /// Grouping dimensions (group-by fields, then the bucket).
    pub dims: Vec<Dim>,
    /// Each measure's sums, in measure order, and its statistic if it has one.
    pub measures: Vec<(Vec<Contrib>, Option<Stat>)>,
    /// Budget lines: only each line's latest version and period count.
    pub to_date: bool,
}

impl Plan {
    /// `query` over `view` at `at`.
    pub(super) fn new(query: &Query, view: &TableView, at: &Moment) -> Plan {
        let dataset = query.dataset;
        let now = at.now.timestamp();
        let mut dims: Vec<Dim> = query
            .group_by
            .iter()
            .map(|f| match Access::of(dataset, f) {
                Access::Code(c) => Dim::Code(c),
                Access::Truth(c) => Dim::Truth(c),
                Access::Open(rule) => Dim::Open(rule),
                other => Dim::Value(other),
            })
            .collect();
        if let Some(b) = &query.bucket {
            match Access::of(dataset, &b.field).int() {
                Some(of) => dims.push(Dim::Bucket {
                    of,
                    size: b.size,
                    tz: at.tz,
                    fixed: fixed_offset(at.tz).map(i64::from),
                }),
                None => dims.push(Dim::Value(Access::Missing)),
            }
        }
        let measures = query
            .measures
            .iter()
            .map(|m| measure_parts(dataset, m, now))
            .collect();
        Plan {
            dataset,
            filter: Cond::filters(view, &query.filters, at),
            dims,
            measures,
            to_date: dataset == Dataset::BudgetLines,
        }
    }

    /// Only the filter: which rows the query reads.
    pub(super) fn rows_only(query: &Query, view: &TableView, at: &Moment, to_date: bool) -> Plan {
        Plan {
            dataset: query.dataset,
            filter: Cond::filters(view, &query.filters, at),
            dims: Vec::new(),
            measures: Vec::new(),
            to_date: to_date && query.dataset == Dataset::BudgetLines,
        }
    }

    fn contribs(&self) -> impl Iterator<Item = &Contrib> {
        self.measures.iter().flat_map(|(c, _)| c.iter())
    }

    fn stats(&self) -> impl Iterator<Item = Stat> + '_ {
        self.measures.iter().filter_map(|(_, s)| *s)
    }
}

fn measure_parts(dataset: Dataset, m: &Measure, now: i64) -> (Vec<Contrib>, Option<Stat>) {
    let of = m.of.map_or(Access::Missing, |f| Access::of(dataset, &f));
    let money = |c: usize| Contrib::Sum(Access::Int(Int::Col(c)));
    let sla = Sla::of(dataset);
    let flag = |cond: Option<Cond>| Contrib::Flag(cond.unwrap_or(Cond::Never));
    match m.func {
        Func::Count | Func::RatePerHour | Func::Share => (vec![Contrib::Rows], None),
        Func::Sum => (vec![Contrib::Sum(of)], None),
        Func::Avg => (vec![Contrib::Sum(of), Contrib::Present(of)], None),
        Func::Min => (Vec::new(), Some(Stat::Min(of))),
        Func::Max => (Vec::new(), Some(Stat::Max(of))),
        Func::Median => (Vec::new(), Some(Stat::Quantile(of, 0.5))),
        Func::P90 => (Vec::new(), Some(Stat::Quantile(of, 0.9))),
        Func::CountDistinct => (Vec::new(), Some(Stat::Distinct(of))),
        Func::TimeToFirstResponse => {
            let first = crate::dashboards::fields::field(dataset, "first_response_hours")
                .map_or(Access::Missing, |f| Access::of(dataset, &f));
            (Vec::new(), Some(Stat::Quantile(first, 0.5)))
        }
        Func::SlaBreached => (vec![flag(sla.map(|s| s.open_due(i64::MIN, now)))], None),
        Func::SlaAtRisk => {
            let within = m.within_secs.unwrap_or(0);
            (
                vec![flag(
                    sla.map(|s| s.open_due(now, now.saturating_add(within))),
                )],
                None,
            )
        }
        Func::SlaWithinPct => (
            vec![
                flag(sla.as_ref().map(Sla::within)),
                flag(sla.as_ref().map(Sla::closed)),
            ],
            None,
        ),
        Func::Serapan => (
            vec![money(budget_col::REALISASI), money(budget_col::PAGU)],
            None,
        ),
        Func::PlanPct => (
            vec![money(budget_col::ANGGARAN_KAS), money(budget_col::PAGU)],
            None,
        ),
        Func::Deviation => (
            vec![
                money(budget_col::REALISASI),
                money(budget_col::ANGGARAN_KAS),
                money(budget_col::PAGU),
            ],
            None,
        ),
    }
}

/// Whether a sum of `access` is kept as an exact integer (seconds, sen, whole numbers).
fn integral(access: Access) -> bool {
    matches!(access, Access::Int(_) | Access::Code(_) | Access::Truth(_))
}

/// One group's result: its key, its rows, each sum (in [`Plan`] order) and each statistic.
#[derive(Debug, Clone)]
pub(super) struct Folded {
    /// The group's key.
    pub key: RawKey,
    /// Rows in the group.
    pub rows: u64,
    /// The sums of the measures' parts.
    pub sums: Vec<Scalar>,
    /// The statistics of the measures that have one (`None`: no value).
    pub stats: Vec<Option<Scalar>>,
}
