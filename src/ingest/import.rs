//! One-shot import (`pantau import --mapping FILE PATH...`): backfills files through the same
//! mapping, validation, geo-enrichment, store and quarantine as the pull workers, and sums up.
//!
//! Reading and mapping run on one thread while the previous chunk is appended on another, so the
//! two cores are both busy; at most two chunks are in memory at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::kinds::files::{FileReader, Format, Settling};
use super::mapping::{Holding, Mapping, Rows};
use super::{deliver, Enricher, SourceError};
use crate::db::MetaDb;
use crate::store::Store;

/// Records per chunk.
const CHUNK_ROWS: usize = 50_000;

/// What an import did. Every record read is accounted for once:
/// `read = new_keys + new_versions + unchanged + quarantined + merged`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportSummary {
    /// Records read from the files.
    pub read: u64,
    /// Rows handed to the store (`new_keys + new_versions + unchanged`).
    pub stored: u64,
    /// Of those: keys the store did not hold before.
    pub new_keys: u64,
    /// Of those: newer versions of keys it held.
    pub new_versions: u64,
    /// Of those: exact repeats of a stored version, or older than it (nothing changed).
    pub unchanged: u64,
    /// Records quarantined (for any reason, key collisions included).
    pub quarantined: u64,
    /// Of those: records of key collisions (sharing a key and a version stamp, but differing).
    pub collisions_quarantined: u64,
    /// Records of key collisions folded into another by the mapping's `keep`.
    pub merged: u64,
    /// What the mapping does with key collisions (`quarantine`, `first`, `last`, `sum`).
    pub keep: &'static str,
    /// Complaints outside every region (stored, flagged out of jurisdiction).
    pub outside: u64,
    /// Quarantined records by reason, with the quoted values left out so alike reasons group.
    pub reasons: BTreeMap<String, u64>,
    /// Files that could not be read at all, with the reason.
    pub failed_files: Vec<(String, String)>,
}

/// Progress after each chunk: file, records read so far in it.
pub type Progress<'a> = &'a mut (dyn FnMut(&str, u64) + Send);

/// Imports `paths` with `mapping` as source `source`.
pub async fn import(
    store: &Store,
    db: &MetaDb,
    enricher: &Enricher,
    mapping: Arc<Mapping>,
    source: &str,
    paths: &[PathBuf],
    progress: Progress<'_>,
) -> anyhow::Result<ImportSummary> {
    let mut summary = ImportSummary {
        keep: mapping.keep().name(),
        ..ImportSummary::default()
    };
    for path in paths {
        let shown = path.display().to_string();
        let Some(format) = Format::of(path) else {
            summary
                .failed_files
                .push((shown, "unknown file type".to_owned()));
            continue;
        };
        let (sender, mut chunks) = tokio::sync::mpsc::channel::<Result<Rows, SourceError>>(1);
        // The reader hands its batches unsettled; this loop settles them (key collisions need
        // the whole batch) while the reader reads on, and hands the buffers back.
        let (settle_to, settle_from) = tokio::sync::oneshot::channel::<Settling>();
        let (give_back, spares) = std::sync::mpsc::channel::<Holding>();
        let (path_owned, mapping, source_owned) =
            (path.clone(), mapping.clone(), source.to_owned());
        let reading = tokio::task::spawn_blocking(move || {
            let mut reader = match FileReader::open(&path_owned, format, &mapping) {
                Ok(r) => r,
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            };
            if let Some(settling) = reader.settle_elsewhere() {
                let _ = settle_to.send(settling);
            }
            loop {
                if let Ok(spare) = spares.try_recv() {
                    reader.reuse(spare);
                }
                match reader.next_batch(&source_owned, CHUNK_ROWS) {
                    Ok(Some(rows)) => {
                        if sender.blocking_send(Ok(rows)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = sender.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        // None when the file could not be opened: its error is the first chunk.
        let mut settling = settle_from.await.ok();
        let mut read_in_file = 0u64;
        while let Some(chunk) = chunks.recv().await {
            let mut rows = match chunk {
                Ok(rows) => rows,
                Err(e) => {
                    summary.failed_files.push((shown.clone(), e.to_string()));
                    break;
                }
            };
            if let Some(settling) = &mut settling {
                settling.settle(&mut rows);
                let _ = give_back.send(rows.take_holding());
            }
            read_in_file += rows.len() as u64;
            let delivered = deliver(store, enricher, rows).await?;
            db.commit_pull(source, None, &delivered.quarantined, Utc::now())
                .await?;
            summary.stored += delivered.stored;
            summary.new_keys += delivered.new_keys;
            summary.new_versions += delivered.new_versions;
            summary.unchanged += delivered.unchanged;
            summary.collisions_quarantined += delivered.collisions.quarantined;
            summary.merged += delivered.collisions.merged;
            summary.outside += delivered.outside;
            summary.quarantined += delivered.quarantined.len() as u64;
            for q in &delivered.quarantined {
                for reason in q.reason.split("; ") {
                    *summary.reasons.entry(reason_kind(reason)).or_default() += 1;
                }
            }
            progress(&shown, read_in_file);
        }
        reading.await?;
        summary.read += read_in_file;
    }
    Ok(summary)
}

/// A reason with quoted values and line numbers left out (`created_at (column X): '…' does not match`).
fn reason_kind(reason: &str) -> String {
    if reason.starts_with("key collision") {
        return "key collision: records share a key and a version stamp but differ".to_owned();
    }
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                if quoted {
                    out.push_str("'…'");
                }
            }
            _ if quoted => {}
            c => out.push(c),
        }
    }
    match out.strip_prefix("line ") {
        Some(rest) => rest
            .split_once(": ")
            .map_or(out.clone(), |(_, r)| r.to_owned()),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_without_their_values() {
        assert_eq!(
            reason_kind("created_at (column CreatedDate): '13/45/2020' does not match %m/%d/%Y"),
            "created_at (column CreatedDate): '…' does not match %m/%d/%Y"
        );
        assert_eq!(
            reason_kind("line 12: has 3 fields, the header has 35"),
            "has 3 fields, the header has 35"
        );
        assert_eq!(
            reason_kind("key collision: 2 records share (2014, murni, 3403:1.01.01, 5.2.1, 12) (lines 85, 88)"),
            "key collision: records share a key and a version stamp but differ"
        );
    }
}
