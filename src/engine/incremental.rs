//! Panels kept current from the store's deltas instead of recomputed from every row.
//!
//! A decomposable panel (every measure a sum of per-row contributions: counts, sums, averages,
//! SLA counters, shares, rates) keeps its per-group sums. A commit's delta — the rows that became
//! current and the rows superseded — is run through the same filters and contributions as a full
//! computation, with a sign, and added to the sums: O(batch), whatever the history.
//!
//! Contributions that depend on the clock (windows, SLA deadlines, a KPI's comparison) are taken
//! at the commit's time; rows leaving a window as time passes are settled by the full
//! recomputation of clock-moving panels on the clock tick, and every tracked panel is recomputed
//! in full now and then, which also bounds any floating-point drift of the sums.

use std::sync::Arc;

use serde_json::Value;

use super::query::{self, Frames, Moment, QueryError, Sums};
use crate::dashboards::model::Query;
use crate::dashboards::result::Group;
use crate::store::Delta;

/// One panel's sums and where they stand.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Row numbering the sums were built in.
    lineage: u64,
    /// The store commit they reflect.
    seq: u64,
    /// Per-group sums.
    sums: Sums,
    /// A KPI's comparison value from the last full computation.
    pub previous: Option<Value>,
}

/// Sums whose row count rounds to this or less are gone (a group with no rows left).
const EMPTY: f64 = 0.5;

impl Tracked {
    /// Sums over every current row of the snapshot `frames` reads (commit `seq`).
    pub fn full(
        query: &Query,
        frames: &Frames,
        seq: u64,
        at: &Moment,
        previous: Option<Value>,
    ) -> Result<Tracked, QueryError> {
        Ok(Tracked {
            lineage: frames.view(query.dataset).lineage(),
            seq,
            sums: query::full_sums(query, frames, at)?,
            previous,
        })
    }

    /// Brings the sums forward to the snapshot `frames` reads (commit `seq`) with the deltas of
    /// the commits since; `None` when the deltas cannot lead there (rows renumbered, deltas no
    /// longer kept): then only a full computation will do.
    pub fn forward(
        &mut self,
        query: &Query,
        frames: &Frames,
        seq: u64,
        at: &Moment,
    ) -> Option<Result<(), QueryError>> {
        let deltas = frames
            .view(query.dataset)
            .changes_since(self.lineage, self.seq)?;
        Some(self.apply(query, frames, &deltas, seq, at))
    }

    /// Adds the rows `deltas` made current and subtracts those they superseded; the sums then
    /// reflect commit `seq`.
    fn apply(
        &mut self,
        query: &Query,
        frames: &Frames,
        deltas: &[Arc<Delta>],
        seq: u64,
        at: &Moment,
    ) -> Result<(), QueryError> {
        if deltas
            .iter()
            .any(|d| !d.added.is_empty() || !d.removed.is_empty())
        {
            let change = query::delta_sums(query, frames, deltas, at)?;
            for (key, parts) in change {
                let sums = self
                    .sums
                    .entry(key)
                    .or_insert_with(|| vec![0.0; parts.len()]);
                for (sum, part) in sums.iter_mut().zip(parts) {
                    *sum += part;
                }
            }
            self.sums
                .retain(|_, parts| parts.first().is_some_and(|rows| *rows > EMPTY));
        }
        self.seq = seq;
        Ok(())
    }

    /// The query's groups from the sums, as a full computation gives them.
    pub fn groups(&self, query: &Query, frames: &Frames, at: &Moment) -> Vec<Group> {
        query::groups_from(query, frames.view(query.dataset), &self.sums, at)
    }
}
