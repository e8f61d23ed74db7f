//! Commands that work on a data dir while no server runs on it: `pantau import` (backfill files),
//! `pantau reprocess` (retry a source's quarantine after a mapping fix) and `pantau export` (a
//! dataset's rows to a file) and `pantau store repair`. The store's lock refuses them while a
//! server holds the data dir.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;

use crate::config::Settings;
use crate::db::MetaDb;
use crate::export::{
    write_reporting, DatasetExport, DatasetRequest, Format, Meta, Rows as ExportRows,
};
use crate::geo::Boundaries;
use crate::ingest::import::{import, ImportSummary};
use crate::ingest::mapping::{Layout, Mapping, Rows};
use crate::ingest::{deliver, Enricher};
use crate::store::Store;

/// Repairs the store log of the data dir (`pantau store repair`).
pub fn repair_store(settings: &Settings) -> anyhow::Result<crate::store::RepairReport> {
    let dir = settings.data.dir.join("store");
    crate::store::repair(&dir).with_context(|| format!("store {}", dir.display()))
}

/// Quarantined records retried per round.
const REPROCESS_PAGE: u32 = 5_000;

/// What a reprocess did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ReprocessSummary {
    /// Records retried.
    pub retried: u64,
    /// Records now stored (and gone from the quarantine).
    pub stored: u64,
    /// Records still refused (with their new reasons).
    pub still_quarantined: u64,
}

/// The store, metadata database and enricher of an instance, opened without serving.
pub struct Offline {
    /// The store (locked for this process).
    pub store: Store,
    /// The metadata database.
    pub db: MetaDb,
    /// Region codes from coordinates.
    pub enricher: Enricher,
}

impl Offline {
    /// Opens what `settings` names.
    pub async fn open(settings: &Settings) -> anyhow::Result<Offline> {
        std::fs::create_dir_all(&settings.data.dir)
            .with_context(|| format!("data dir {}: cannot create", settings.data.dir.display()))?;
        let target = settings.database_target()?;
        let db = MetaDb::connect(&target, &settings.database).await?;
        let store = Store::open(&settings.data.dir.join("store"), settings.store.options()).await?;
        let set = Boundaries::from_file_or_shipped(settings.enrichment_boundaries())?;
        Ok(Offline {
            store,
            db,
            enricher: Enricher::new(Some(Arc::new(set))),
        })
    }

    /// Imports files with a mapping file as source `source`.
    pub async fn import(
        &self,
        settings: &Settings,
        mapping: &std::path::Path,
        source: &str,
        paths: &[PathBuf],
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> anyhow::Result<ImportSummary> {
        let mapping = Mapping::from_file(mapping, settings.deployment.tz())?;
        let summary = import(
            &self.store,
            &self.db,
            &self.enricher,
            mapping,
            source,
            paths,
            progress,
        )
        .await?;
        // Leave a checkpoint so the next start does not replay the whole import.
        self.store.checkpoint().await?;
        Ok(summary)
    }

    /// Writes a dataset's rows (`request`) to `output` as `format`, through `output.partial`
    /// renamed at the end (a failed export leaves no file under the final name); `progress`
    /// hears the rows written and the total. Returns the rows written.
    pub async fn export(
        &self,
        settings: &Settings,
        request: DatasetRequest,
        format: Format,
        output: &std::path::Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> anyhow::Result<u64> {
        let snapshot = self.store.snapshot();
        let max_rows = settings.export.max_rows;
        let tmp = settings.data.dir.join("snapshots").join(".work");
        let dataset = request.dataset;
        let rows = tokio::task::spawn_blocking(move || {
            DatasetExport::prepare(snapshot, &request, max_rows, Utc::now())
        })
        .await??;
        let total = rows.total();
        let meta = Meta::new(dataset.name(), settings.deployment.tz(), tmp)
            .with("dataset", dataset.name())
            .with("store_seq", rows.seq());
        let partial = output.with_extension(format!("{}.partial", format.extension()));
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let written = tokio::task::block_in_place(|| -> anyhow::Result<u64> {
            let mut out = std::io::BufWriter::new(file);
            let written = write_reporting(&rows, format, &meta, Box::new(&mut out), &mut |n| {
                progress(n, total)
            })?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok(written)
        });
        match written {
            Ok(written) => {
                std::fs::rename(&partial, output)
                    .with_context(|| format!("cannot rename to {}", output.display()))?;
                Ok(written)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Retries the quarantine of a configured source with its current mapping.
    pub async fn reprocess(
        &self,
        settings: &Settings,
        source_id: &str,
    ) -> anyhow::Result<ReprocessSummary> {
        let source = settings
            .sources
            .iter()
            .find(|s| s.id == source_id)
            .with_context(|| format!("no source '{source_id}' in the configuration"))?;
        let mapping: Arc<Mapping> = source
            .load_mapping(&settings.config_dir(), settings.deployment.tz())
            .map_err(anyhow::Error::msg)?
            .with_context(|| {
                format!(
                    "source '{source_id}' ({}) makes its rows itself and quarantines nothing",
                    source.kind.tag()
                )
            })?;
        if mapping.spec.hierarchy.is_some() {
            anyhow::bail!(
                "source '{source_id}' derives budget hierarchies from whole reports; re-import its files instead"
            );
        }
        let bound = mapping.bind(Layout::Json)?;
        let mut summary = ReprocessSummary::default();
        let mut after = 0;
        loop {
            let page = self.db.quarantine(source_id, after, REPROCESS_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let mut rows = Rows::new(mapping.dataset());
            let mut stored_ids = Vec::new();
            let mut still = Vec::new();
            for record in &page {
                summary.retried += 1;
                let reason = match serde_json::from_str::<serde_json::Value>(&record.payload) {
                    Err(e) => format!("payload is not JSON: {e}"),
                    Ok(value) => {
                        let before = rows.batch.len();
                        bound.collect(&value, source_id, &mut rows);
                        if rows.batch.len() > before {
                            stored_ids.push(record.id);
                            continue;
                        }
                        match rows.refused.pop() {
                            Some((_, reason)) => reason,
                            None => "not mapped".to_owned(),
                        }
                    }
                };
                still.push((record.id, reason));
            }
            rows.refused.clear();
            // Records of this page that collide are quarantined again, as new entries with
            // the collision's reason; their old entries are settled with the rest.
            bound.finish(&mut rows);
            let delivered = deliver(&self.store, &self.enricher, rows).await?;
            if !delivered.quarantined.is_empty() {
                // The store refused some mapped rows: keep them quarantined with its reasons.
                self.db
                    .commit_pull(source_id, None, &delivered.quarantined, Utc::now())
                    .await?;
            }
            summary.stored += delivered.stored;
            summary.still_quarantined += still.len() as u64;
            self.db
                .settle_quarantine(&stored_ids, &still, Utc::now())
                .await?;
        }
        self.store.checkpoint().await?;
        Ok(summary)
    }
}
