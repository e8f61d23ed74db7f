//! Decomposable queries kept as per-group sums: every measure a sum of per-row contributions,
//! taken over all current rows once and then over each commit's delta rows with a sign.

use std::sync::Arc;

use super::access::Scalar;
use super::columns::{self, parts, Versions};
use super::fold::Plan;
use super::*;
use crate::store::Delta;

/// Whether every measure of `query` is a sum of per-row contributions, so its groups can be kept
/// current from the rows a commit added and removed ([`delta_sums`]). Budget lines are not: each
/// line counts at its latest period, which a new period of the same line replaces.
pub fn decomposable(query: &Query) -> bool {
    query.dataset != Dataset::BudgetLines
        && query.measures.iter().all(|m| {
            m.func.is_decomposable() && (m.func != Func::Sum || m.output() != FieldType::Time)
        })
}

/// Per-group sums of a decomposable query: the rows, then each measure's parts. Sums are `f64`:
/// counts and amounts in sen are exact below 2^53.
pub type Sums = std::collections::HashMap<RawKey, Vec<f64>>;

/// The sums of a decomposable query over every current row of the snapshot `frames` reads.
pub fn full_sums(query: &Query, frames: &Frames, at: &Moment) -> Result<Sums, QueryError> {
    let view = frames.view(query.dataset);
    let versions = Versions::Current;
    let parts = parts(view, &versions)?;
    let plan = Plan::new(query, view, at);
    let now = at.now.timestamp();
    let selected = plan.select(&parts, now)?;
    Ok(plan
        .fold(view, &parts, &selected, now)?
        .into_iter()
        .filter(|g| g.rows > 0)
        .map(|g| {
            let mut sums = Vec::with_capacity(1 + g.sums.len());
            sums.push(g.rows as f64);
            sums.extend(g.sums.iter().map(|v| v.number()));
            (g.key, sums)
        })
        .collect())
}

/// The signed sums of the rows `deltas` made current (+1) and superseded (-1), read from the
/// snapshot `frames` reads (which must be of the deltas' row numbering): O(rows changed).
pub fn delta_sums(
    query: &Query,
    frames: &Frames,
    deltas: &[Arc<Delta>],
    at: &Moment,
) -> Result<Sums, QueryError> {
    let rows = frames.delta_rows(query.dataset, deltas)?;
    let part = columns::Part::frame(query.dataset, &rows.frame)?;
    let view = frames.view(query.dataset);
    Plan::new(query, view, at).fold_signed(&part, &rows.signs, at.now.timestamp())
}

/// The groups of a decomposable query from its per-group sums, as [`groups`] gives them.
pub fn groups_from(query: &Query, view: &TableView, sums: &Sums, at: &Moment) -> Vec<Group> {
    let window_hours = query
        .window()
        .map_or(1.0, |w| w.hours(at.now, at.tz, at.fiscal_start));
    let ungrouped = query.group_by.is_empty() && query.bucket.is_none();
    let rows_of = |v: &Vec<f64>| v.first().copied().unwrap_or(0.0).round().max(0.0) as u64;
    let total: u64 = sums.values().map(rows_of).sum();
    let parts: usize = query.measures.iter().map(|m| parts_of(m.func)).sum();
    let empty = vec![0.0; 1 + parts];
    let mut entries: Vec<(&RawKey, &Vec<f64>)> =
        sums.iter().filter(|(_, v)| rows_of(v) > 0).collect();
    if ungrouped && entries.is_empty() {
        // An ungrouped query always has its one group, as over no rows.
        static NO_KEY: RawKey = Vec::new();
        entries.push((&NO_KEY, &empty));
    }
    entries
        .into_iter()
        .map(|(key, parts)| {
            let rows = rows_of(parts);
            let mut at_part = 1;
            let values = query
                .measures
                .iter()
                .map(|m| {
                    let used = parts_of(m.func);
                    // `measure_value` rounds counts and sen itself.
                    let sums: Vec<Scalar> = (0..used)
                        .map(|j| Scalar::Float(parts.get(at_part + j).copied().unwrap_or(0.0)))
                        .collect();
                    at_part += used;
                    measure_value(m, &sums, None, rows, total, window_hours)
                })
                .collect();
            Group {
                keys: decode_keys(query, view, key),
                values,
                rows,
            }
        })
        .collect()
}
