//! Retention: versions older than the hot window split off into a history file, then dropped
//! from the table once that file is durable.

use std::sync::Arc;

use polars::prelude::*;

use super::view::ReadError;
use super::{Table, CURRENT, KEY_ID};

/// Rows split off a table by retention, not yet dropped from it.
pub(crate) struct Eviction {
    /// The rows leaving, for their history file.
    pub(crate) history: DataFrame,
    kept: DataFrame,
    cutoff: i64,
}

impl Table {
    /// Splits off the rows past the hot window (`cutoff`, seconds): for append-only datasets every
    /// row whose time is before it; otherwise superseded versions of keys whose current version is
    /// itself before it (so the state at any time inside the window stays answerable from hot rows).
    /// Nothing changes until [`Table::finish_eviction`].
    pub(crate) fn evict(&mut self, cutoff: i64) -> PolarsResult<Option<Eviction>> {
        let frame = self.view().frame().map_err(|e| match e {
            ReadError::Frame { source, .. } => source,
        })?;
        let schema = self.schema;
        let key_ids = frame.column(KEY_ID)?.u32()?;
        let flags = frame.column(CURRENT)?.bool()?;
        let mut out = Vec::with_capacity(frame.height());
        if schema.append_only {
            let times = frame
                .column(schema.fields[schema.time_column].name)?
                .u32()?;
            out.extend(
                times
                    .into_iter()
                    .map(|t| t.is_some_and(|t| i64::from(t) < cutoff)),
            );
        } else {
            let times = frame
                .column(schema.fields[schema.version_column].name)?
                .u32()?;
            for (key, flag) in key_ids.into_iter().zip(flags) {
                // Only superseded rows leave; a key's current row is found through the index.
                let old_key = flag == Some(false)
                    && key
                        .and_then(|k| {
                            let material = self.keys.material(k);
                            self.current_row(self.hash(material), material, &[])
                        })
                        .and_then(|row| times.get(row as usize))
                        .is_some_and(|t| i64::from(t) < cutoff);
                out.push(old_key);
            }
        }
        if !out.contains(&true) {
            return Ok(None);
        }
        let mask = BooleanChunked::from_iter_values("evict".into(), out.into_iter());
        let history = frame.filter(&mask)?.drop(CURRENT)?;
        let kept = frame.filter(&!&mask)?;
        Ok(Some(Eviction {
            history,
            kept,
            cutoff,
        }))
    }

    /// Drops the evicted rows once their history file is durable.
    pub(crate) fn finish_eviction(
        &mut self,
        eviction: Eviction,
        file: crate::store::checkpoint::HistoryFile,
    ) -> PolarsResult<()> {
        self.load_rows(&eviction.kept)?;
        self.hot_since = Some(
            self.hot_since
                .map_or(eviction.cutoff, |s| s.max(eviction.cutoff)),
        );
        Arc::make_mut(&mut self.history).push(file);
        Ok(())
    }
}
