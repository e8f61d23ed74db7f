//! The `files` source: a drop folder for CSV, NDJSON, JSON, Parquet and XLSX exports (SIPD and
//! e-Budgeting exports are spreadsheets).
//!
//! Each file is identified by its content (SHA-256) and processed once: streamed in chunks, each
//! chunk appended durably before the cursor (`hash:records`) moves, so a restart resumes inside a
//! file; then moved to `done/`. A file that cannot be read as its format goes to `failed/` with a
//! `<name>.reason.txt` beside it. Files still being written (changed in the last two seconds) wait.

mod reader;
mod tabular;

pub use reader::{records_at, FileReader, Format, Settling};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::{BuildContext, SourceSpec};
use crate::ingest::mapping::{Keep, Mapping, Rows};
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
use crate::db::{MetaDb, ProcessedFile};

/// A file changed more recently than this is assumed to be still arriving.
const SETTLE_TIME: Duration = Duration::from_secs(2);

/// `type = "files"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// The drop folder; `done/` and `failed/` are created inside it.
    pub dir: PathBuf,
    /// Records per appended batch (memory stays bounded by this, whatever the file size).
    #[serde(default = "default_chunk_rows")]
    pub chunk_rows: usize,
}

fn default_chunk_rows() -> usize {
    50_000
}

/// A file being read.
struct Open {
    path: PathBuf,
    hash: String,
    reader: FileReader,
    stored: u64,
    quarantined: u64,
}

/// What to do with a file once the pull that ended it is committed.
struct Settle {
    path: PathBuf,
    record: ProcessedFile,
    failed: bool,
}

/// The drop-folder source.
pub struct DropFolder {
    identity: SourceIdentity,
    config: FilesConfig,
    mapping: Arc<Mapping>,
    db: MetaDb,
    open: Option<Open>,
    settle: Option<Settle>,
}

impl DropFolder {
    /// A drop folder source; creates the folder and its `done/` and `failed/` subfolders.
    pub fn new(
        id: &str,
        interval: Duration,
        config: FilesConfig,
        mapping: Arc<Mapping>,
        db: MetaDb,
    ) -> Result<DropFolder, String> {
        for dir in [
            config.dir.clone(),
            config.dir.join("done"),
            config.dir.join("failed"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        Ok(DropFolder {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "files",
                dataset: mapping.dataset(),
                interval,
            },
            config,
            mapping,
            db,
            open: None,
            settle: None,
        })
    }

    /// The oldest settled file waiting in the folder, if any.
    fn next_file(&self) -> Result<Option<PathBuf>, SourceError> {
        let io = |e: std::io::Error| SourceError::Io {
            path: self.config.dir.display().to_string(),
            reason: e.to_string(),
        };
        let now = SystemTime::now();
        let mut waiting = Vec::new();
        for entry in std::fs::read_dir(&self.config.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let meta = entry.metadata().map_err(io)?;
            if !meta.is_file() || name.to_string_lossy().starts_with('.') {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            if now.duration_since(modified).unwrap_or_default() < SETTLE_TIME {
                continue;
            }
            waiting.push((modified, entry.path()));
        }
        waiting.sort();
        Ok(waiting.into_iter().next().map(|(_, p)| p))
    }

    async fn pull_inner(&mut self, cursor: Option<String>) -> Result<Pulled, SourceError> {
        let dataset = self.mapping.dataset();
        let empty = move |more| Pulled {
            rows: Rows::new(dataset),
            cursor: None,
            more,
        };
        if self.open.is_none() {
            let Some(path) = self.next_file()? else {
                return Ok(empty(false));
            };
            let hash = hash_file(&path).await?;
            if let Some(outcome) = self
                .db
                .processed_file(&self.identity.id, &hash)
                .await
                .map_err(|e| SourceError::Io {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
            {
                self.settle = Some(Settle {
                    record: ProcessedFile {
                        content_hash: hash,
                        file_name: file_name(&path),
                        outcome: format!(
                            "skipped: the same content was processed before ({outcome})"
                        ),
                        rows_stored: 0,
                        rows_quarantined: 0,
                    },
                    path,
                    failed: false,
                });
                return Ok(empty(true));
            }
            let Some(format) = Format::of(&path) else {
                self.fail(path, hash, "unknown file type (expected .csv, .tsv, .ndjson, .jsonl, .json, .parquet or .xlsx)".to_owned(), 0);
                return Ok(empty(true));
            };
            let mapping = self.mapping.clone();
            let opened = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || FileReader::open(&path, format, &mapping))
                    .await
                    .map_err(|e| SourceError::Io {
                        path: self.config.dir.display().to_string(),
                        reason: e.to_string(),
                    })?
            };
            let mut reader = match opened {
                Ok(reader) => reader,
                // The folder itself cannot be read: the source fails and retries, the file stays.
                Err(e @ SourceError::Io { .. }) => return Err(e),
                Err(e) => {
                    self.fail(path, hash, e.to_string(), 0);
                    return Ok(empty(true));
                }
            };
            // Resume inside this file if the last run stopped part-way through it.
            let done: u64 = cursor
                .as_deref()
                .and_then(|c| c.strip_prefix(&format!("{hash}:")))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if done > 0 && !reader.needs_whole_file() {
                tracing::info!(source = %self.identity.id, file = %path.display(), records = done, "Resuming a file part-way through.");
                reader = run_blocking(move || reader.skip(done).map(|_| reader)).await??;
            }
            self.open = Some(Open {
                path,
                hash,
                reader,
                stored: 0,
                quarantined: 0,
            });
        }
        let Some(mut open) = self.open.take() else {
            return Ok(empty(false));
        };
        let source = self.identity.id.clone();
        let chunk = self.config.chunk_rows.max(1);
        let (open_back, result) = run_blocking(move || {
            let result = open.reader.next_batch(&source, chunk);
            (open, result)
        })
        .await?;
        open = open_back;
        match result {
            Ok(Some(rows)) => {
                open.stored += rows.batch.len() as u64;
                open.quarantined += rows.refused.len() as u64;
                let cursor = format!("{}:{}", open.hash, open.reader.records_read);
                self.open = Some(open);
                Ok(Pulled {
                    rows,
                    cursor: Some(cursor),
                    more: true,
                })
            }
            Ok(None) => {
                self.settle = Some(Settle {
                    record: ProcessedFile {
                        content_hash: open.hash,
                        file_name: file_name(&open.path),
                        outcome: "done".to_owned(),
                        rows_stored: open.stored,
                        rows_quarantined: open.quarantined,
                    },
                    path: open.path,
                    failed: false,
                });
                Ok(Pulled {
                    rows: Rows::new(self.mapping.dataset()),
                    cursor: Some(String::new()),
                    more: true,
                })
            }
            Err(e @ SourceError::Io { .. }) => Err(e),
            Err(e) => {
                let reason = format!("{e} (records before this point were stored)");
                self.fail(open.path, open.hash, reason, open.stored);
                Ok(Pulled {
                    rows: Rows::new(self.mapping.dataset()),
                    cursor: Some(String::new()),
                    more: true,
                })
            }
        }
    }

    fn fail(&mut self, path: PathBuf, hash: String, reason: String, stored: u64) {
        tracing::warn!(source = %self.identity.id, file = %path.display(), %reason, "File refused.");
        self.settle = Some(Settle {
            record: ProcessedFile {
                content_hash: hash,
                file_name: file_name(&path),
                outcome: format!("failed: {reason}"),
                rows_stored: stored,
                rows_quarantined: 0,
            },
            path,
            failed: true,
        });
    }

    async fn settle(&mut self) -> Result<(), SourceError> {
        let Some(settle) = self.settle.take() else {
            return Ok(());
        };
        let io = |e: String| SourceError::Io {
            path: settle.path.display().to_string(),
            reason: e,
        };
        self.db
            .record_file(&self.identity.id, &settle.record, Utc::now())
            .await
            .map_err(|e| io(e.to_string()))?;
        let folder = if settle.failed { "failed" } else { "done" };
        let target = free_name(&self.config.dir.join(folder), &settle.record.file_name);
        std::fs::rename(&settle.path, &target)
            .map_err(|e| io(format!("cannot move to {folder}/: {e}")))?;
        if settle.failed || settle.record.outcome.starts_with("skipped") {
            let mut reason = target.clone().into_os_string();
            reason.push(".reason.txt");
            std::fs::write(&reason, format!("{}\n", settle.record.outcome))
                .map_err(|e| io(format!("cannot write the reason file: {e}")))?;
        }
        tracing::info!(source = %self.identity.id, file = %target.display(), outcome = %settle.record.outcome, stored = settle.record.rows_stored, quarantined = settle.record.rows_quarantined, "File settled.");
        Ok(())
    }
}

impl Source for DropFolder {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn keep(&self) -> Option<Keep> {
        Some(self.mapping.keep())
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        Box::pin(self.pull_inner(cursor))
    }

    fn committed(&mut self) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(self.settle())
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SourceError::Io {
            path: "worker".to_owned(),
            reason: e.to_string(),
        })
}

/// SHA-256 of a file's content, read in blocks off the runtime.
pub async fn hash_file(path: &Path) -> Result<String, SourceError> {
    let path = path.to_path_buf();
    run_blocking(move || {
        use sha2::Digest;
        let io = |e: std::io::Error| SourceError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await?
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `dir/name`, or `dir/name.<n>` when a file of that name is already there.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| dir.join(format!("{name}.{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

impl SourceSpec for FilesConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String> {
        let mut config = self.clone();
        config.dir = ctx.resolve(&config.dir);
        Ok(Box::new(DropFolder::new(
            ctx.id,
            ctx.interval,
            config,
            ctx.load_mapping()?,
            ctx.db()?.clone(),
        )?))
    }

    /// Only the mapping: building would create the folder's directories.
    fn check(&self, ctx: &BuildContext<'_>) -> Result<(), String> {
        ctx.load_mapping().map(drop)
    }
}
