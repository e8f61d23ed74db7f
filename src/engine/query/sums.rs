//! Decomposable queries kept as per-group sums: every measure a sum of per-row contributions,
//! taken over all current rows once and then over each commit's delta rows with a sign.

use super::*;

/// Whether every measure of `query` is a sum of per-row contributions, so its groups can be kept
/// current from the rows a commit added and removed ([`partials`]). Budget lines are not: each
/// line counts at its latest period, which a new period of the same line replaces.
pub fn decomposable(query: &Query) -> bool {
    query.dataset != Dataset::BudgetLines
        && query.measures.iter().all(|m| {
            m.func.is_decomposable() && (m.func != Func::Sum || m.output() != FieldType::Time)
        })
}

/// One group's key as stored (codes, numbers, the bucket start), hashable.
pub type RawKey = Vec<KeyPart>;

/// A stored group-by value.
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
    fn of(v: &AnyValue) -> KeyPart {
        match v {
            AnyValue::Null => KeyPart::Null,
            AnyValue::Boolean(b) => KeyPart::Bool(*b),
            AnyValue::Float32(f) => KeyPart::Float(f64::from(*f).to_bits()),
            AnyValue::Float64(f) => KeyPart::Float(f.to_bits()),
            other => other.extract::<i64>().map_or(KeyPart::Null, KeyPart::Int),
        }
    }

    fn value(self) -> AnyValue<'static> {
        match self {
            KeyPart::Null => AnyValue::Null,
            KeyPart::Int(i) => AnyValue::Int64(i),
            KeyPart::Float(bits) => AnyValue::Float64(f64::from_bits(bits)),
            KeyPart::Bool(b) => AnyValue::Boolean(b),
        }
    }
}

/// Per-group sums of a decomposable query: the rows, then each measure's parts.
pub type Sums = std::collections::HashMap<RawKey, Vec<f64>>;

/// Every current row of `dataset` in `frames`, each counting once (`_sign` 1), for [`partials`].
pub fn current_rows(frames: &Frames, dataset: Dataset) -> Result<LazyFrame, QueryError> {
    Ok(plan(frames.frame(dataset)?)
        .filter(col(CURRENT))
        .with_column(lit(1i32).alias("_sign")))
}

/// The rows `deltas` added (`_sign` 1) and removed (`_sign` -1), read from `frames` (which must
/// be of the deltas' lineage), for [`partials`]; read once per `frames` for every panel that
/// follows the same run of commits.
pub fn delta_rows(
    frames: &Frames,
    dataset: Dataset,
    deltas: &[std::sync::Arc<crate::store::Delta>],
) -> Result<LazyFrame, QueryError> {
    let run = (
        dataset,
        deltas.first().map_or(0, |d| d.seq),
        deltas.last().map_or(0, |d| d.seq),
    );
    let mut read = frames.deltas.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, rows)) = read.iter().find(|(r, _)| *r == run) {
        return Ok(plan(rows.clone()));
    }
    let mut signed: Vec<(u32, i32)> = Vec::new();
    for d in deltas {
        signed.extend(d.removed.iter().map(|&r| (r, -1)));
        signed.extend(d.added.iter().map(|&r| (r, 1)));
    }
    // Ascending rows, each with its sign (a row may come and go over several deltas).
    signed.sort_unstable();
    let rows: Vec<u32> = signed.iter().map(|&(r, _)| r).collect();
    let mut taken = frames.view(dataset).gather(&rows)?;
    let signs: Vec<i32> = signed.into_iter().map(|(_, s)| s).collect();
    taken.with_column(Column::new("_sign".into(), signs))?;
    read.push((run, taken.clone()));
    Ok(plan(taken))
}

/// The sums of a decomposable query's measures per group over `rows` (rows of the dataset with a
/// `_sign` column: +1 for a row that counts, -1 for one that no longer does — see
/// [`current_rows`], [`delta_rows`]), at `at`. The rows pass the same filters as in [`groups`];
/// every sum is of `_sign × contribution`. Sums are `f64`: counts and amounts in sen are exact
/// below 2^53.
///
/// With `row_by_row` (a batch's few rows) the contributions are read per row and added up here
/// instead of grouped by polars: no group-by plan, which polars would hand to its streaming engine
/// — that engine cannot run on the fast lane's own thread (see `engine::board`).
pub fn partials(
    query: &Query,
    view: &TableView,
    rows: LazyFrame,
    at: &Moment,
    row_by_row: bool,
) -> Result<Sums, QueryError> {
    let now = at.now.timestamp();
    let sign = || col("_sign").cast(DataType::Float64);
    let lf = rows.filter(predicate(query, view, at));
    let mut keys: Vec<Expr> = query
        .group_by
        .iter()
        .enumerate()
        .map(|(i, f)| value(query.dataset, f, now).alias(format!("_k{i}")))
        .collect();
    if let Some(b) = &query.bucket {
        let k = keys.len();
        keys.push(
            bucket_expr(value(query.dataset, &b.field, now), b.size, at.tz).alias(format!("_k{k}")),
        );
    }
    let key_count = keys.len();
    let flag = |cond: Expr| cond.fill_null(lit(false)).cast(DataType::Float64) * sign();
    // Each row's contributions, summed per group below.
    let mut parts_of_row = vec![sign().alias("_rows")];
    for (i, m) in query.measures.iter().enumerate() {
        let of =
            m.of.map(|f| value(query.dataset, &f, now).cast(DataType::Float64));
        let parts: Vec<Expr> = match m.func {
            Func::Count | Func::RatePerHour | Func::Share => vec![sign()],
            Func::Sum => vec![of.unwrap_or(lit(NULL)) * sign()],
            Func::Avg => {
                let of = of.unwrap_or(lit(NULL));
                vec![of.clone() * sign(), flag(of.is_not_null())]
            }
            Func::SlaBreached => {
                let (due, open, _, t) = sla_parts(query.dataset);
                vec![flag(open.and(due.lt(t(now))))]
            }
            Func::SlaAtRisk => {
                let (due, open, _, t) = sla_parts(query.dataset);
                let within = m.within_secs.unwrap_or(0);
                vec![flag(
                    open.and(due.clone().gt_eq(t(now)))
                        .and(due.lt(t(now + within))),
                )]
            }
            Func::SlaWithinPct => {
                let (due, open, closed_at, _) = sla_parts(query.dataset);
                let closed = open
                    .not()
                    .and(closed_at.clone().is_not_null())
                    .and(due.clone().is_not_null());
                vec![flag(closed.clone().and(closed_at.lt_eq(due))), flag(closed)]
            }
            // `decomposable` keeps the others out.
            _ => vec![lit(NULL)],
        };
        for (j, e) in parts.into_iter().enumerate() {
            parts_of_row.push(e.alias(format!("p{i}_{j}")));
        }
    }
    let summed = || -> Vec<Expr> { parts_of_row.iter().map(|e| e.clone().sum()).collect() };
    let frame = if row_by_row {
        let mut exprs = keys;
        exprs.extend(parts_of_row.iter().cloned());
        lf.select(exprs).collect()?
    } else if keys.is_empty() {
        lf.select(summed()).collect()?
    } else {
        lf.group_by(keys).agg(summed()).collect()?
    };
    let mut out = Sums::new();
    let columns: Vec<&Column> = frame
        .get_columns()
        .iter()
        .filter(|c| !c.name().starts_with("_k"))
        .collect();
    for row in 0..frame.height() {
        let key: RawKey = (0..key_count)
            .map(|k| {
                frame
                    .column(&format!("_k{k}"))
                    .and_then(|c| c.get(row))
                    .map(|v| KeyPart::of(&v))
            })
            .collect::<PolarsResult<_>>()?;
        let values: Vec<f64> = columns
            .iter()
            .map(|c| c.get(row).map(|v| v.extract::<f64>().unwrap_or(0.0)))
            .collect::<PolarsResult<_>>()?;
        match out.get_mut(&key) {
            Some(sums) => sums.iter_mut().zip(values).for_each(|(s, v)| *s += v),
            None => {
                out.insert(key, values);
            }
        }
    }
    Ok(out)
}

/// The groups of a decomposable query from its per-group sums, as [`groups`] gives them.
pub fn groups_from(query: &Query, view: &TableView, sums: &Sums, at: &Moment) -> Vec<Group> {
    let now = at.now;
    let window_hours = query
        .window()
        .map_or(1.0, |w| w.hours(now, at.tz, at.fiscal_start));
    let ungrouped = query.group_by.is_empty() && query.bucket.is_none();
    let rows_of = |v: &Vec<f64>| v.first().copied().unwrap_or(0.0).round().max(0.0) as u64;
    let total: u64 = sums.values().map(rows_of).sum();
    let mut out = Vec::new();
    let empty = vec![0.0; 1 + query.measures.len() * 2];
    let mut entries: Vec<(&RawKey, &Vec<f64>)> =
        sums.iter().filter(|(_, v)| rows_of(v) > 0).collect();
    if ungrouped && entries.is_empty() {
        // An ungrouped query always has its one group, as a select over no rows does.
        static NO_KEY: RawKey = Vec::new();
        entries.push((&NO_KEY, &empty));
    }
    for (key, parts) in entries {
        let rows = rows_of(parts);
        let mut keys: Vec<Key> = query
            .group_by
            .iter()
            .zip(key)
            .map(|(f, k)| decode_key(view, query.dataset, f, &k.value()))
            .collect();
        if query.bucket.is_some() {
            keys.push(match key.last() {
                Some(KeyPart::Int(t)) => Key::Time(*t),
                _ => Key::Missing,
            });
        }
        let mut at_part = 1;
        let values = query
            .measures
            .iter()
            .map(|m| {
                let p = |j: usize| parts.get(at_part + j).copied().unwrap_or(0.0);
                let exact = |x: f64| AnyValue::Int64(x.round() as i64);
                let (used, args): (usize, Vec<AnyValue>) = match m.func {
                    Func::Count
                    | Func::RatePerHour
                    | Func::Share
                    | Func::SlaBreached
                    | Func::SlaAtRisk => (1, vec![exact(p(0))]),
                    Func::SlaWithinPct => {
                        (2, vec![AnyValue::Float64(p(0)), AnyValue::Float64(p(1))])
                    }
                    Func::Sum => (
                        1,
                        vec![match m.output() {
                            FieldType::Money => exact(p(0)),
                            _ => AnyValue::Float64(p(0)),
                        }],
                    ),
                    Func::Avg => (
                        2,
                        vec![if p(1).round() >= 1.0 {
                            AnyValue::Float64(p(0) / p(1).round())
                        } else {
                            AnyValue::Null
                        }],
                    ),
                    _ => (1, vec![AnyValue::Null]),
                };
                at_part += used;
                finish(m, &args, rows, total, window_hours)
            })
            .collect();
        out.push(Group { keys, values, rows });
    }
    out
}
