//! The store: the only owner of ingested data, its durable log, checkpoints and history.
//!
//! Hands out immutable snapshots and announces each commit. Must not know about sources, panels,
//! HTTP or WebSockets.
//!
//! - `append(batch)` validates the whole batch (rejecting it with row-level reasons before anything
//!   is written), writes it to the log and fsyncs, then applies it to the dataset's hot table:
//!   newest source time wins per key, ties go to the later ingest, an identical version changes
//!   nothing — so applying a batch twice changes nothing.
//! - Hot tables are polars columns in chunks (see `table`); a snapshot shares them and only copies
//!   the current-version flags a later commit changes.
//! - `checkpoint()` writes the hot tables as Parquet (atomically) and drops the log entries it
//!   covers; rows past the retention window move to Parquet history files first. Opening the store
//!   loads the latest checkpoint and replays the log after it.

mod checkpoint;
mod codec;
pub mod fuzz;
mod log;
mod records;
pub mod schema;
mod settings;
mod table;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::domain::{BudgetLine, Complaint, ServiceEvent};
pub use codec::LogEntry;
pub use log::{BatchLog, Dropped, FileLog, RepairReport};
use records::Record;
pub use schema::{DatasetSchema, Field, Schema, Storage};
pub use settings::StoreSettings;

use crate::domain::Dataset;
pub use table::{ChunkRef, Delta, HeapUse, ReadError, TableView, CURRENT, KEY_ID};
use table::{Prepared, Table};

/// Batches from this many rows on are validated and logged on two threads.
const PARALLEL_ROWS: usize = 1_000;

/// Rows shown per rejected batch in its error message (all are in `StoreError::Rejected`).
const PROBLEMS_SHOWN: usize = 5;

/// Rows of one dataset to append together.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Complaint versions.
    Complaints(Vec<Complaint>),
    /// Budget execution lines.
    BudgetLines(Vec<BudgetLine>),
    /// Service events.
    ServiceEvents(Vec<ServiceEvent>),
}

impl Batch {
    /// The dataset the rows belong to.
    pub fn dataset(&self) -> Dataset {
        match self {
            Batch::Complaints(_) => Dataset::Complaints,
            Batch::BudgetLines(_) => Dataset::BudgetLines,
            Batch::ServiceEvents(_) => Dataset::ServiceEvents,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Batch::Complaints(r) => r.len(),
            Batch::BudgetLines(r) => r.len(),
            Batch::ServiceEvents(r) => r.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the rows at `positions` (as a [`StoreError::Rejected`] names them) and returns
    /// them as JSON, so a caller can keep what the store refused and append the rest.
    pub fn take_rows(&mut self, positions: &[usize]) -> Vec<serde_json::Value> {
        fn take<T: Serialize>(rows: &mut Vec<T>, positions: &[usize]) -> Vec<serde_json::Value> {
            let mut taken = Vec::new();
            let mut index = 0;
            rows.retain(|row| {
                let keep = !positions.contains(&index);
                if !keep {
                    taken.push(serde_json::to_value(row).unwrap_or_default());
                }
                index += 1;
                keep
            });
            taken
        }
        match self {
            Batch::Complaints(r) => take(r, positions),
            Batch::BudgetLines(r) => take(r, positions),
            Batch::ServiceEvents(r) => take(r, positions),
        }
    }
}

/// Why one row of a batch cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// Position of the row in the batch, from 0.
    pub row: usize,
    /// The row's key as text (`source/source_id`, …).
    pub key: String,
    /// Every reason, readable by a person.
    pub reasons: Vec<String>,
}

/// Why the store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store could not be read or written (disk full, permissions…).
    #[error("store {path}: {action}: {source}")]
    Io {
        /// File involved.
        path: String,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data is damaged where losing it would lose acknowledged batches.
    #[error("store {path}: corrupt at byte {offset}: {reason}; move the store directory away to start empty")]
    Corrupt {
        /// File involved.
        path: String,
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The batch breaks the dataset's rules; nothing of it was written.
    #[error("{dataset} batch of {rows} rows refused, {} bad: {}", problems.len(), summary(problems))]
    Rejected {
        /// Dataset name.
        dataset: &'static str,
        /// Rows in the batch.
        rows: usize,
        /// Every bad row.
        problems: Vec<RowProblem>,
    },
    /// The batch is too large to log as one entry.
    #[error("batch of {bytes} bytes exceeds the log's limit of {limit}")]
    TooLarge {
        /// Encoded size.
        bytes: usize,
        /// Limit.
        limit: usize,
    },
    /// The store's worker stopped (only during shutdown).
    #[error("store is shut down")]
    Closed,
    /// A failed write could not be undone; appends are refused until a restart.
    #[error("store refuses writes until restarted: {0}")]
    Unavailable(String),
    /// Another process (a running server, an import) has the store open.
    #[error(
        "store {0} is in use by another Pantau process (a running server or import); stop it first"
    )]
    Locked(String),
}

/// Maps an OS error on `path` while doing `action` to a store error.
fn io_error(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io {
        path,
        action,
        source,
    }
}

/// Makes a directory's entries (a created, renamed or removed file) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "sync directory"))
}

fn summary(problems: &[RowProblem]) -> String {
    let mut out: Vec<String> = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .map(|p| format!("row {} ({}): {}", p.row, p.key, p.reasons.join("; ")))
        .collect();
    if problems.len() > PROBLEMS_SHOWN {
        out.push(format!("and {} more", problems.len() - PROBLEMS_SHOWN));
    }
    out.join(" | ")
}

/// What one durable append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Commit {
    /// Commit sequence number, increasing by one per batch.
    pub seq: u64,
    /// When the batch became durable.
    pub committed_at: DateTime<Utc>,
    /// The dataset appended to.
    pub dataset: Dataset,
    /// Rows in the batch.
    pub rows: usize,
    /// Rows that changed the state (new keys or newer versions).
    pub changed: usize,
    /// Of those, rows whose key was not stored before (the rest are new versions of stored
    /// keys; `rows - changed` were repeats or older than the stored version).
    pub new_keys: usize,
}

/// Store tuning, from `[store]` in the configuration.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Hot window: versions superseded, and events older, than this move to history files.
    pub retention: Option<Duration>,
    /// Checkpoint at least this often while data arrives.
    pub checkpoint_interval: Duration,
    /// Checkpoint early once the log holds this many bytes.
    pub checkpoint_log_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            retention: Some(Duration::from_secs(90 * 86_400)),
            checkpoint_interval: Duration::from_secs(300),
            checkpoint_log_bytes: 256 << 20,
        }
    }
}

/// An immutable view of every dataset as of one commit.
#[derive(Clone)]
pub struct StoreSnapshot {
    /// Sequence number of the last commit included (0 = empty).
    pub seq: u64,
    /// When that commit became durable.
    pub committed_at: Option<DateTime<Utc>>,
    /// One view per dataset, in [`Dataset::ALL`] order.
    pub tables: [TableView; 3],
}

impl StoreSnapshot {
    /// The view of `dataset`.
    pub fn table(&self, dataset: Dataset) -> &TableView {
        &self.tables[dataset.index()]
    }

    /// The complaints view.
    pub fn complaints(&self) -> &TableView {
        self.table(Dataset::Complaints)
    }
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    root: PathBuf,
    options: StoreOptions,
    /// Log and tables change together under one lock, so a snapshot never runs ahead of the log.
    /// A std mutex: nothing awaits while holding it (appends run on the blocking pool).
    state: Mutex<State>,
    /// Held for a whole checkpoint so two never overlap.
    checkpointing: Mutex<()>,
    commits: watch::Sender<Arc<StoreSnapshot>>,
    /// What opening had to repair (a damaged checkpoint set aside), for `/readyz`.
    recovered: Option<String>,
    /// An exclusive lock on `LOCK`, held while the store is open: one writer per data dir.
    _lock: std::fs::File,
}

struct State {
    log: Box<dyn BatchLog>,
    data: Tables,
    last_error: Option<String>,
    /// Set when a failed write could not be undone: the writer's tables may hold a batch that
    /// is not in the log, so nothing more is appended until a restart rebuilds them.
    broken: Option<String>,
    /// Sequence number of the latest checkpoint.
    checkpointed: u64,
}

/// The hot tables, their published views and the commit they reflect.
struct Tables {
    tables: [Table; 3],
    views: [TableView; 3],
    seq: u64,
    committed_at: Option<DateTime<Utc>>,
}

impl Tables {
    fn snapshot(&self) -> StoreSnapshot {
        StoreSnapshot {
            seq: self.seq,
            committed_at: self.committed_at,
            tables: self.views.clone(),
        }
    }

    fn refresh(&mut self, dataset: Dataset) {
        self.views[dataset.index()] = self.tables[dataset.index()].view();
    }

    /// Validates and encodes a batch against its table; nothing is changed but dictionaries.
    fn prepare(&mut self, batch: &Batch) -> Result<Prepared, StoreError> {
        let table = &mut self.tables[batch.dataset().index()];
        let result = match batch {
            Batch::Complaints(rows) => prepare(table, rows),
            Batch::BudgetLines(rows) => prepare(table, rows),
            Batch::ServiceEvents(rows) => prepare(table, rows),
        };
        result.map_err(|problems| StoreError::Rejected {
            dataset: batch.dataset().name(),
            rows: batch.len(),
            problems,
        })
    }

    fn apply(&mut self, entry: &LogEntry, rows: Prepared) -> Commit {
        let dataset = entry.batch.dataset();
        let (changed, new_keys) =
            self.tables[dataset.index()].apply(&rows, entry.seq, entry.committed_at);
        self.seq = entry.seq;
        self.committed_at = Some(entry.committed_at);
        if changed > 0 {
            self.refresh(dataset);
        }
        Commit {
            seq: entry.seq,
            committed_at: entry.committed_at,
            dataset,
            rows: entry.batch.len(),
            changed,
            new_keys,
        }
    }
}

fn prepare<R: Record>(table: &mut Table, rows: &[R]) -> Result<Prepared, Vec<RowProblem>> {
    let mut out = Prepared::with_capacity(table.schema.fields.len(), rows.len());
    let mut problems = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut reasons = row.problems();
        if reasons.is_empty() {
            let dicts = &mut table.dicts;
            if let Err(e) = out.push(|key| row.key(key), |values| row.encode(dicts, values)) {
                reasons.push(e);
            }
        }
        if !reasons.is_empty() {
            let mut key = Vec::new();
            row.key(&mut key);
            let key = records::key_parts(R::DATASET, &key)
                .into_iter()
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
                .join("/");
            problems.push(RowProblem {
                row: i,
                key,
                reasons,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The tables of the newest sound checkpoint under `dir` (empty tables when there is none), and
/// what was wrong with newer ones: a damaged checkpoint is set aside and the one before it is
/// loaded (the log since it is kept for this). When none is sound, opening refuses.
fn load_checkpoint(dir: &Path) -> Result<(Tables, Option<String>), StoreError> {
    let mut damaged: Vec<String> = Vec::new();
    for seq in checkpoint::complete(dir) {
        match load_one_checkpoint(dir, seq) {
            Ok(tables) => {
                let note = (!damaged.is_empty()).then(|| {
                    format!(
                        "{}; started from checkpoint {seq} and the log since it",
                        damaged.join("; ")
                    )
                });
                return Ok((tables, note));
            }
            Err(e @ StoreError::Corrupt { .. }) => {
                let aside = checkpoint::set_aside(dir, seq)?;
                tracing::error!(checkpoint = seq, error = %e, kept = %aside.display(), "A checkpoint is damaged; set it aside and trying the one before it.");
                damaged.push(format!("checkpoint {seq} was damaged ({e}) and set aside"));
            }
            Err(e) => return Err(e),
        }
    }
    // No sound checkpoint: the log alone, which opening refuses unless it holds every entry
    // from the first (rows silently missing would be worse than not starting).
    let note = (!damaged.is_empty()).then(|| {
        format!(
            "{}; no sound checkpoint is left, so the store starts from the log alone",
            damaged.join("; ")
        )
    });
    Ok((load_tables(Dataset::ALL.map(Table::new), 0, None), note))
}

fn load_one_checkpoint(dir: &Path, seq: u64) -> Result<Tables, StoreError> {
    let (cp_dir, manifest) = checkpoint::open(dir, seq)?;
    let mut tables = Dataset::ALL.map(Table::new);
    for table in &mut tables {
        checkpoint::load(dir, &cp_dir, &manifest, table)?;
    }
    Ok(load_tables(tables, manifest.seq, manifest.committed_at))
}

fn load_tables(mut tables: [Table; 3], seq: u64, committed_at: Option<DateTime<Utc>>) -> Tables {
    let views = tables.each_mut().map(|t| t.view());
    Tables {
        tables,
        views,
        seq,
        committed_at,
    }
}

/// The exclusive lock on `dir/LOCK`: one writer per store.
fn take_lock(dir: &Path) -> Result<std::fs::File, StoreError> {
    let lock_path = dir.join("LOCK");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_error(&lock_path, "open"))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StoreError::Locked(dir.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(&lock_path, "lock")(e)),
    }
}

/// Repairs the log of the store under `dir`: keeps every intact batch, sets damaged bytes aside
/// and reports the entries lost (see `log::repair`). Refuses while a server or another command
/// holds the store.
pub fn repair(dir: &Path) -> Result<RepairReport, StoreError> {
    if !dir.join("log").is_dir() {
        return Err(StoreError::Io {
            path: dir.join("log").display().to_string(),
            action: "find the store log",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let _lock = take_lock(dir)?;
    log::repair(&dir.join("log"))
}

/// Applies every log entry after `data.seq`; returns how many.
fn replay(dir: &Path, log: &mut dyn BatchLog, data: &mut Tables) -> Result<usize, StoreError> {
    let mut replayed = 0usize;
    log.replay(data.seq, &mut |at, payload| {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: dir.join("log").display().to_string(),
            offset: 0,
            reason: format!("entry {at}: {reason}"),
        };
        let entry = codec::decode(payload).map_err(|e| corrupt(e.to_string()))?;
        if entry.seq != at {
            return Err(corrupt(format!("holds sequence number {}", entry.seq)));
        }
        let rows = data
            .prepare(&entry.batch)
            .map_err(|e| corrupt(e.to_string()))?;
        data.apply(&entry, rows);
        replayed += 1;
        Ok(())
    })?;
    Ok(replayed)
}

impl Store {
    /// Opens the store under `dir` (created if missing): the latest checkpoint, then the log after it.
    pub async fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Store::open_blocking(&dir, options, None))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Opens the store with another log in place of the local file log (a replicated log, or a
    /// test's failing one); the log must hold every entry after the latest checkpoint.
    pub async fn open_with_log(
        dir: &Path,
        options: StoreOptions,
        log: Box<dyn BatchLog>,
    ) -> Result<Store, StoreError> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Store::open_blocking(&dir, options, Some(log)))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    fn open_blocking(
        dir: &Path,
        options: StoreOptions,
        log: Option<Box<dyn BatchLog>>,
    ) -> Result<Store, StoreError> {
        let started = std::time::Instant::now();
        std::fs::create_dir_all(dir).map_err(io_error(dir, "create directory"))?;
        let lock = take_lock(dir)?;
        if dir.join("complaints.log").exists() {
            tracing::warn!(path = %dir.join("complaints.log").display(), "Ignoring a store log of an earlier Pantau version; its sources re-pull what it held.");
        }
        let (mut data, recovered) = load_checkpoint(dir)?;
        let checkpointed = data.seq;
        let mut log = match log {
            Some(log) => log,
            None => {
                Box::new(FileLog::open(&dir.join("log"), checkpointed).map_err(|e| {
                    match (e, &recovered) {
                        (
                            StoreError::Corrupt {
                                path,
                                offset,
                                reason,
                            },
                            Some(note),
                        ) => StoreError::Corrupt {
                            path,
                            offset,
                            reason: format!("{reason} (after: {note})"),
                        },
                        (e, _) => e,
                    }
                })?)
            }
        };
        let replayed = replay(dir, log.as_mut(), &mut data)?;
        let state = State {
            log,
            data,
            last_error: None,
            broken: None,
            checkpointed,
        };
        for view in &state.data.views {
            checkpoint::remove_orphan_history(dir, view);
        }
        tracing::info!(
            seq = state.data.seq,
            checkpoint = checkpointed,
            replayed,
            complaints = state.data.views[0].current_rows(),
            budget_lines = state.data.views[1].current_rows(),
            service_events = state.data.views[2].current_rows(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Store opened."
        );
        let (commits, _) = watch::channel(Arc::new(state.data.snapshot()));
        Ok(Store {
            shared: Arc::new(Shared {
                root: dir.to_path_buf(),
                options,
                state: Mutex::new(state),
                checkpointing: Mutex::new(()),
                commits,
                recovered,
                _lock: lock,
            }),
        })
    }

    /// Appends a batch; returns once it is fsynced in the log, then announces the new snapshot.
    /// A batch that breaks the dataset's rules is refused whole with every bad row's reasons.
    pub async fn append(&self, batch: Batch) -> Result<Commit, StoreError> {
        self.append_or_return(batch).await.map_err(|(e, _)| e)
    }

    /// [`Store::append`], handing a refused batch back with the error (`Rejected` only), so a
    /// caller can set the bad rows aside and append the rest without copying every batch first.
    pub async fn append_or_return(
        &self,
        batch: Batch,
    ) -> Result<Commit, (StoreError, Option<Batch>)> {
        let shared = self.shared.clone();
        let (commit, snapshot) = tokio::task::spawn_blocking(move || {
            let mut state = shared.lock();
            let state = &mut *state;
            if let Some(reason) = &state.broken {
                return Err((StoreError::Unavailable(reason.clone()), None));
            }
            let entry = LogEntry {
                seq: state.data.seq + 1,
                committed_at: Utc::now(),
                batch,
            };
            let give_back = |e: StoreError, entry: LogEntry| match e {
                StoreError::Rejected { .. } => (e, Some(entry.batch)),
                e => (e, None),
            };
            // After a failed write (a full disk) the one-core path: it logs before it applies,
            // so another failure costs nothing, where the two-core path would rebuild every
            // table each time.
            let commit = if entry.batch.len() >= PARALLEL_ROWS && state.last_error.is_none() {
                match shared.append_parallel(state, &entry) {
                    Ok(commit) => commit,
                    Err(e) => return Err(give_back(e, entry)),
                }
            } else {
                let rows = match state.data.prepare(&entry.batch) {
                    Ok(rows) => rows,
                    Err(e) => return Err(give_back(e, entry)),
                };
                let payload = codec::encode(&entry);
                if let Err(e) = state.log.append(entry.seq, &payload) {
                    state.last_error = Some(e.to_string());
                    tracing::error!(error = %e, "Store append failed; nothing of the batch was applied.");
                    return Err((e, None));
                }
                state.data.apply(&entry, rows)
            };
            state.last_error = None;
            Ok((commit, Arc::new(state.data.snapshot())))
        })
        .await
        .map_err(|_| (StoreError::Closed, None))??;
        self.shared.commits.send_replace(snapshot);
        Ok(commit)
    }

    /// Appends complaint versions (see [`Store::append`]).
    pub async fn append_complaints(&self, rows: Vec<Complaint>) -> Result<Commit, StoreError> {
        self.append(Batch::Complaints(rows)).await
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<StoreSnapshot> {
        self.shared.commits.borrow().clone()
    }

    /// Notified with every new snapshot; a slow reader sees only the latest.
    pub fn subscribe(&self) -> watch::Receiver<Arc<StoreSnapshot>> {
        self.shared.commits.subscribe()
    }

    /// What opening the store had to recover from (a damaged checkpoint set aside), if anything.
    pub fn recovered(&self) -> Option<&str> {
        self.shared.recovered.as_deref()
    }

    /// The error of the last failed append or checkpoint, until one succeeds again.
    pub fn last_error(&self) -> Option<String> {
        self.shared.lock().last_error.clone()
    }

    /// Bytes of memory the hot tables hold, per dataset in [`Dataset::ALL`] order.
    pub fn heap_use(&self) -> [HeapUse; 3] {
        let state = self.shared.lock();
        [0, 1, 2].map(|i| state.data.tables[i].heap_use())
    }

    /// Bytes the log holds (what a restart would replay).
    pub fn log_bytes(&self) -> u64 {
        self.shared.lock().log.size()
    }

    /// Writes a checkpoint of everything committed so far and drops the log it covers; first moves
    /// rows past the retention window to history. Returns the sequence number checkpointed, or
    /// `None` when nothing changed since the last checkpoint.
    pub async fn checkpoint(&self) -> Result<Option<u64>, StoreError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.checkpoint())
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Checkpoints every `checkpoint_interval`, or sooner once the log passes its size, until
    /// `shutdown`; a failure is logged, kept for `/readyz`, and retried at the next turn.
    pub async fn run_checkpoints(self, shutdown: tokio_util::sync::CancellationToken) {
        let options = self.shared.options.clone();
        let mut last = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let due = last.elapsed() >= options.checkpoint_interval
                || self.log_bytes() >= options.checkpoint_log_bytes;
            if !due {
                continue;
            }
            last = tokio::time::Instant::now();
            match self.checkpoint().await {
                Ok(Some(seq)) => tracing::info!(seq, "Store checkpoint written."),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "Store checkpoint failed; the log keeps everything until the next attempt.");
                    self.shared.lock().last_error = Some(e.to_string());
                }
            }
        }
    }
}

impl Shared {
    /// A large batch on two cores: one encodes it for the log and, once the other has validated
    /// it, writes and fsyncs it, while the other applies it to the tables. Readers see nothing
    /// until both are done (the snapshot is published after). If the log write fails, the
    /// writer's tables are rebuilt from the checkpoint and the log, which lack the batch — so a
    /// failed append leaves no trace, as in the one-core path.
    fn append_parallel(&self, state: &mut State, entry: &LogEntry) -> Result<Commit, StoreError> {
        let (valid_tx, valid_rx) = std::sync::mpsc::sync_channel::<bool>(1);
        let State { log, data, .. } = state;
        let (applied, logged) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                let payload = codec::encode(entry);
                match valid_rx.recv() {
                    Ok(true) => log.append(entry.seq, &payload).map(|()| true),
                    _ => Ok(false),
                }
            });
            let applied = match data.prepare(&entry.batch) {
                Ok(rows) => {
                    let _ = valid_tx.send(true);
                    Ok(data.apply(entry, rows))
                }
                Err(rejected) => {
                    let _ = valid_tx.send(false);
                    Err(rejected)
                }
            };
            (applied, writer.join())
        });
        let commit = applied?;
        match logged {
            Ok(Ok(true)) => Ok(commit),
            Ok(Ok(false)) => Err(StoreError::Closed),
            Ok(Err(e)) => {
                state.last_error = Some(e.to_string());
                tracing::error!(error = %e, "Store append failed; rebuilding the tables without the batch.");
                self.reload(state)?;
                Err(e)
            }
            Err(_) => {
                self.reload(state)?;
                Err(StoreError::Closed)
            }
        }
    }

    /// Rebuilds the writer's tables from the checkpoint and the log.
    fn reload(&self, state: &mut State) -> Result<(), StoreError> {
        let rebuilt = load_checkpoint(&self.root).and_then(|(mut data, _)| {
            replay(&self.root, state.log.as_mut(), &mut data)?;
            Ok(data)
        });
        match rebuilt {
            Ok(data) => {
                state.data = data;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "Store could not rebuild its tables after a failed write; refusing writes until restarted.");
                state.broken = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn checkpoint(&self) -> Result<Option<u64>, StoreError> {
        let _one = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
        let snapshot = {
            let mut state = self.lock();
            if state.data.seq == state.checkpointed {
                return Ok(None);
            }
            if let Some(retention) = self.options.retention {
                let cutoff = Utc::now().timestamp() - retention.as_secs() as i64;
                if self.evict(&mut state.data, cutoff)? {
                    // Same data, fewer hot rows: readers move to the new views.
                    self.commits.send_replace(Arc::new(state.data.snapshot()));
                }
            }
            state.log.roll()?;
            state.data.snapshot()
        };
        let previous = self.lock().checkpointed;
        checkpoint::write(&self.root, &snapshot, previous)?;
        let mut state = self.lock();
        // The log since the previous checkpoint stays: a damaged new one falls back on it.
        state.log.truncate_through(previous)?;
        state.checkpointed = snapshot.seq;
        state.last_error = None;
        Ok(Some(snapshot.seq))
    }

    /// Moves rows before `cutoff` (seconds) out of the hot tables into history files.
    /// True when any row moved.
    fn evict(&self, state: &mut Tables, cutoff: i64) -> Result<bool, StoreError> {
        let seq = state.seq;
        let mut moved = false;
        for dataset in Dataset::ALL {
            let table = &mut state.tables[dataset.index()];
            let Some(mut evicted) = table.evict(cutoff).map_err(|e| StoreError::Io {
                path: self.root.display().to_string(),
                action: "move rows to history",
                source: std::io::Error::other(e.to_string()),
            })?
            else {
                continue;
            };
            let dir = checkpoint::history_dir(&self.root, dataset);
            std::fs::create_dir_all(&dir).map_err(io_error(&dir, "create directory"))?;
            let path = dir.join(format!("{seq:020}.parquet"));
            let sha256 = checkpoint::write_parquet_atomic(&path, &mut evicted.history)?;
            let file = checkpoint::HistoryFile {
                path,
                sha256: Some(sha256),
            };
            table
                .finish_eviction(evicted, file)
                .map_err(|e| StoreError::Io {
                    path: self.root.display().to_string(),
                    action: "move rows to history",
                    source: std::io::Error::other(e.to_string()),
                })?;
            tracing::info!(
                dataset = dataset.name(),
                cutoff,
                "Moved rows past the hot window to history."
            );
            state.refresh(dataset);
            moved = true;
        }
        Ok(moved)
    }
}
