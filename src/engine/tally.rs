//! Complaint counts over the current versions of a store snapshot, computed with polars.
//!
//! The fixed overview panel's query; dashboards compiled to plans replace it.

use std::collections::BTreeMap;

use polars::prelude::*;

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
        // Only the four grouped columns of the current versions are materialised.
        let fields = Dataset::Complaints.schema().fields;
        let grouped =
            [c::STATUS, c::CATEGORY, c::KECAMATAN, c::KELURAHAN].map(|i| col(fields[i].name));
        let frame = view
            .frame()?
            .lazy()
            .filter(col(crate::store::CURRENT))
            .select(grouped)
            .collect()?;
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
            total: frame.height() as u64,
            by_status: counts(&frame, c::STATUS, label(c::STATUS))?,
            by_category: counts(&frame, c::CATEGORY, label(c::CATEGORY))?,
            by_kecamatan: counts(&frame, c::KECAMATAN, label(c::KECAMATAN))?,
            by_kelurahan: counts(&frame, c::KELURAHAN, label(c::KELURAHAN))?,
            newest: newest(view, NEWEST_KEPT),
        })
    }

    /// Complaints in `status` (a snake_case state name).
    pub fn count(&self, status: &str) -> u64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }
}

/// Rows per value of column `col`, labelled.
fn counts(
    frame: &DataFrame,
    col: usize,
    label: impl Fn(Option<i64>) -> String,
) -> PolarsResult<BTreeMap<String, u64>> {
    let name = Dataset::Complaints.schema().fields[col].name;
    let grouped = frame
        .clone()
        .lazy()
        .group_by([polars::prelude::col(name)])
        .agg([len().alias("n")])
        .collect()?;
    let codes = grouped.column(name)?.cast(&DataType::Int64)?;
    let n = grouped.column("n")?.cast(&DataType::UInt64)?;
    let mut out = BTreeMap::new();
    for (code, n) in codes.i64()?.into_iter().zip(n.u64()?) {
        *out.entry(label(code)).or_default() += n.unwrap_or(0);
    }
    Ok(out)
}

/// The `k` current complaints with the latest creation times, newest first.
fn newest(view: &TableView, k: usize) -> Vec<Complaint> {
    let mut best: Vec<(i64, u32)> = Vec::with_capacity(k + 1);
    view.scan_u32(c::CREATED_AT, |row, t, current| {
        if let (Some(t), true) = (t, current) {
            let t = i64::from(t);
            if best.len() < k || t >= best[best.len() - 1].0 {
                let at = best.partition_point(|(bt, _)| *bt > t);
                best.insert(at, (t, row));
                best.truncate(k);
            }
        }
    });
    best.into_iter()
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
        .collect()
}
