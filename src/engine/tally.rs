//! Complaint counts over the current versions of a store snapshot, read from its chunks: the
//! codes of each counted column under the current flags, and the newest complaints from the
//! chunks whose range of creation times can hold them.
//!
//! The fixed overview panel's query (the first version's wall page); dashboards replace it.

use std::collections::BTreeMap;

use polars::prelude::*;
use polars_arrow::array::Array;

use super::query::ones;
use crate::domain::Complaint;
use crate::store::schema::{complaint_col as c, Dataset, STATUS_WORDS};
use crate::store::{ReadError, TableView};

/// How many of the newest complaints a tally carries (for tickers).
const NEWEST_KEPT: usize = 10;

/// Counts over the current version of every complaint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComplaintTally {
    /// Distinct complaints.
    pub total: u64,
    /// Complaints per lifecycle state (snake_case state names).
    pub by_status: BTreeMap<String, u64>,
    /// Complaints per category.
    pub by_category: BTreeMap<String, u64>,
    /// Complaints per kecamatan code (`unknown` when the location is unknown).
    pub by_kecamatan: BTreeMap<String, u64>,
    /// Complaints per kelurahan/desa code (`unknown` when the location is unknown).
    pub by_kelurahan: BTreeMap<String, u64>,
    /// The newest complaints by creation time, newest first.
    pub newest: Vec<Complaint>,
}

/// Why a tally could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum TallyError {
    /// The snapshot could not be read as a frame.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A query over the frame failed.
    #[error("complaint tally: {0}")]
    Query(#[from] PolarsError),
}

impl ComplaintTally {
    /// Tallies the current complaints of `view` (which must be the complaints dataset).
    pub fn of(view: &TableView) -> Result<ComplaintTally, TallyError> {
        debug_assert_eq!(view.dataset(), Dataset::Complaints);
        let label = |col: usize| {
            move |code: Option<i64>| match code {
                Some(code) if col == c::STATUS => STATUS_WORDS
                    .get(code as usize)
                    .map_or_else(|| "unknown".to_owned(), |s| (*s).to_owned()),
                Some(code) => view.label(col, code).unwrap_or("unknown").to_owned(),
                None => "unknown".to_owned(),
            }
        };
        Ok(ComplaintTally {
            total: view.current_rows(),
            by_status: counts(view, c::STATUS, label(c::STATUS))?,
            by_category: counts(view, c::CATEGORY, label(c::CATEGORY))?,
            by_kecamatan: counts(view, c::KECAMATAN, label(c::KECAMATAN))?,
            by_kelurahan: counts(view, c::KELURAHAN, label(c::KELURAHAN))?,
            newest: newest(view, NEWEST_KEPT)?,
        })
    }

    /// Complaints in `status` (a snake_case state name).
    pub fn count(&self, status: &str) -> u64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }
}

/// Current rows per value of the code column `col` (u8 or u16), labelled.
fn counts(
    view: &TableView,
    col: usize,
    label: impl Fn(Option<i64>) -> String,
) -> PolarsResult<BTreeMap<String, u64>> {
    let mut by_code: Vec<u64> = Vec::new();
    let mut missing = 0u64;
    let mut add = |code: Option<usize>| match code {
        Some(code) => {
            if by_code.len() <= code {
                by_code.resize(code + 1, 0);
            }
            by_code[code] += 1;
        }
        None => missing += 1,
    };
    for chunk in view.chunks() {
        let series = chunk.column(col);
        let current = chunk.current();
        match series.dtype() {
            DataType::UInt8 => {
                for a in series.u8()?.downcast_iter() {
                    for i in ones(current).take_while(|i| *i < a.len()) {
                        add(a.is_valid(i).then(|| usize::from(a.value(i))));
                    }
                }
            }
            _ => {
                let codes = series.cast(&DataType::UInt16)?;
                for a in codes.u16()?.downcast_iter() {
                    for i in ones(current).take_while(|i| *i < a.len()) {
                        add(a.is_valid(i).then(|| usize::from(a.value(i))));
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (code, n) in by_code.into_iter().enumerate().filter(|(_, n)| *n > 0) {
        *out.entry(label(Some(code as i64))).or_default() += n;
    }
    if missing > 0 {
        *out.entry(label(None)).or_default() += missing;
    }
    Ok(out)
}

/// The `k` current complaints with the latest creation times, newest first (the later ingest
/// first among equal times), read only from chunks whose creation times can reach them.
fn newest(view: &TableView, k: usize) -> PolarsResult<Vec<Complaint>> {
    let mut chunks: Vec<_> = view.chunks().collect();
    let latest = |c: &crate::store::ChunkRef| c.range(c::CREATED_AT).map_or(i64::MAX, |r| r.1);
    chunks.sort_by_key(|c| std::cmp::Reverse(latest(c)));
    let mut best: Vec<(i64, u32)> = Vec::new();
    for chunk in chunks {
        if best.len() >= k && best.get(k - 1).is_some_and(|(t, _)| latest(&chunk) < *t) {
            break;
        }
        let times = chunk.column(c::CREATED_AT).u32()?;
        for a in times.downcast_iter() {
            for i in ones(chunk.current()).take_while(|i| *i < a.len()) {
                if a.is_valid(i) {
                    best.push((i64::from(a.value(i)), chunk.start() + i as u32));
                }
            }
        }
        best.sort_unstable_by(|x, y| y.cmp(x));
        best.truncate(k);
    }
    Ok(best
        .into_iter()
        .filter_map(|(_, row)| {
            let (key_id, values) = view.row(row)?;
            let source_id = view
                .key(key_id)
                .into_iter()
                .find(|(name, _)| *name == "source_id")
                .map(|(_, id)| id)
                .unwrap_or_default();
            Some(view.with_decoder(&values, |d| d.complaint(source_id)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::store::Store;

    #[tokio::test]
    async fn counts_and_the_newest_match_a_plain_count_over_many_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Default::default()).await.unwrap();
        let start = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let categories = ["Sampah", "Banjir", "PJU"];
        let make = |i: usize, status: Status, minute: i64| {
            let mut c = Complaint::sample(&format!("c{i}"), categories[i % 3], start);
            // Creation times tie in threes; every fifth has no location.
            c.created_at = start + chrono::Duration::minutes((i / 3) as i64);
            c.updated_at = c.created_at.max(start + chrono::Duration::minutes(minute));
            c.status = status;
            if i.is_multiple_of(5) {
                c.kelurahan = None;
            }
            c
        };
        let mut model: BTreeMap<usize, Complaint> = BTreeMap::new();
        // Forty batches (many chunks, some merged), then newer versions of earlier ones.
        for b in 0..40 {
            let batch: Vec<Complaint> = (b * 7..b * 7 + 7)
                .map(|i| make(i, Status::Received, 0))
                .collect();
            for (i, c) in (b * 7..).zip(&batch) {
                model.insert(i, c.clone());
            }
            store.append_complaints(batch).await.unwrap();
        }
        let updates: Vec<Complaint> = (0..280)
            .step_by(4)
            .map(|i| make(i, Status::Resolved, 10_000))
            .collect();
        for c in &updates {
            let i: usize = c.source_id[1..].parse().unwrap();
            model.insert(i, c.clone());
        }
        store.append_complaints(updates).await.unwrap();

        let tally = ComplaintTally::of(store.snapshot().complaints()).unwrap();
        let count = |f: &dyn Fn(&Complaint) -> String| {
            let mut out: BTreeMap<String, u64> = BTreeMap::new();
            for c in model.values() {
                *out.entry(f(c)).or_default() += 1;
            }
            out
        };
        assert_eq!(tally.total, 280);
        assert_eq!(
            tally.by_status,
            count(&|c| crate::store::schema::STATUS_WORDS[c.status as usize].to_owned())
        );
        assert_eq!(tally.by_category, count(&|c| c.category.clone()));
        assert_eq!(
            tally.by_kelurahan,
            count(&|c| c
                .kelurahan
                .as_ref()
                .map_or("unknown".to_owned(), |k| k.to_string()))
        );
        assert_eq!(tally.by_kelurahan["unknown"], 56);
        // Newest first; among equal creation times the later ingest first: c276 and c272 were
        // updated last, so each leads the complaints filed in its minute.
        let ids: Vec<&str> = tally.newest.iter().map(|c| c.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["c279", "c276", "c278", "c277", "c275", "c274", "c273", "c272", "c271", "c270"]
        );
        assert_eq!(tally.newest[0].status, Status::Received);
        assert_eq!(
            tally.newest[1].status,
            Status::Resolved,
            "c276's newer version"
        );
    }
}
