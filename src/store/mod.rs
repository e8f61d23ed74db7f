//! The store: the only owner of ingested data and of its durable log.
//!
//! Hands out immutable snapshots and announces each commit. Must not know about sources, panels,
//! HTTP or WebSockets.
//!
//! This first version keeps complaints in memory keyed by (source, source_id) with running tallies,
//! made durable by an append-only log that is replayed at start. The columnar hot tables, Parquet
//! checkpoints and as-of reads replace the in-memory map without changing this interface's spirit:
//! `append` returns only once the batch is durable, and applying a batch twice changes nothing.

mod log;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::domain::{Complaint, Status};
use log::{BatchLog, LoggedBatch};

/// How many of the newest complaints a snapshot carries (for tickers).
const NEWEST_KEPT: usize = 10;

/// Why the store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or log could not be read or written.
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
    /// The log holds a line that is not a batch, before its last line (not a torn write).
    #[error("store {path}: line {line} is corrupt ({reason}); move the file away to start empty")]
    Corrupt {
        /// Log file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Parser message.
        reason: String,
    },
    /// The background task writing the log stopped (only during shutdown).
    #[error("store is shut down")]
    Closed,
}

/// What one durable append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Commit {
    /// Commit sequence number, increasing by one per batch.
    pub seq: u64,
    /// When the batch became durable.
    pub committed_at: DateTime<Utc>,
    /// Rows in the batch.
    pub rows: usize,
    /// Rows that changed the state (new keys or newer versions).
    pub changed: usize,
}

/// Running figures over the current version of every complaint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ComplaintTally {
    /// Distinct complaints.
    pub total: u64,
    /// Complaints per category.
    pub by_category: BTreeMap<String, u64>,
    /// Complaints per lifecycle state.
    pub by_status: BTreeMap<Status, u64>,
    /// Complaints per kecamatan code (`unknown` when the location is unknown).
    pub by_kecamatan: BTreeMap<String, u64>,
    /// Complaints per kelurahan/desa code (`unknown` when the location is unknown).
    pub by_kelurahan: BTreeMap<String, u64>,
    /// The newest complaints by creation time, newest first.
    pub newest: Vec<Complaint>,
}

/// An immutable view of the store as of one commit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreSnapshot {
    /// Sequence number of the last commit included (0 = empty).
    pub seq: u64,
    /// When that commit became durable.
    pub committed_at: Option<DateTime<Utc>>,
    /// The complaints dataset.
    pub complaints: ComplaintTally,
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// Log and state change together under one lock so a snapshot never runs ahead of the log.
    /// A std mutex: nothing awaits while holding it (appends run on the blocking pool).
    state: Mutex<State>,
    commits: watch::Sender<Arc<StoreSnapshot>>,
}

struct State {
    log: BatchLog,
    complaints: HashMap<(String, String), Complaint>,
    newest: VecDeque<Complaint>,
    snapshot: StoreSnapshot,
    last_error: Option<String>,
}

impl Store {
    /// Opens the store under `dir` (created if missing), replaying its log.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Store::open_blocking(&dir))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    fn open_blocking(dir: &Path) -> Result<Store, StoreError> {
        let (log, batches) = BatchLog::open(&dir.join("complaints.log"))?;
        let mut state = State {
            log,
            complaints: HashMap::new(),
            newest: VecDeque::new(),
            snapshot: StoreSnapshot::default(),
            last_error: None,
        };
        for batch in batches {
            state.apply(batch);
        }
        tracing::info!(
            seq = state.snapshot.seq,
            complaints = state.snapshot.complaints.total,
            "Store opened."
        );
        let (commits, _) = watch::channel(Arc::new(state.snapshot.clone()));
        Ok(Store {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                commits,
            }),
        })
    }

    /// Appends complaints; returns once the batch is fsynced, then announces the new snapshot.
    pub async fn append_complaints(&self, rows: Vec<Complaint>) -> Result<Commit, StoreError> {
        let shared = self.shared.clone();
        let (commit, snapshot) = tokio::task::spawn_blocking(move || {
            let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            let batch = LoggedBatch {
                seq: state.snapshot.seq + 1,
                committed_at: Utc::now(),
                complaints: rows,
            };
            if let Err(e) = state.log.append(&batch) {
                state.last_error = Some(e.to_string());
                return Err(e);
            }
            state.last_error = None;
            let commit = state.apply(batch);
            Ok((commit, Arc::new(state.snapshot.clone())))
        })
        .await
        .map_err(|_| StoreError::Closed)??;
        self.shared.commits.send_replace(snapshot);
        Ok(commit)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<StoreSnapshot> {
        self.shared.commits.borrow().clone()
    }

    /// Notified with every new snapshot; a slow reader sees only the latest.
    pub fn subscribe(&self) -> watch::Receiver<Arc<StoreSnapshot>> {
        self.shared.commits.subscribe()
    }

    /// The error of the last failed append, until an append succeeds again.
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Applies a durable batch: newest `updated_at` wins per key; a re-applied version changes nothing.
    fn apply(&mut self, batch: LoggedBatch) -> Commit {
        let rows = batch.complaints.len();
        let mut changed = 0;
        let tally = &mut self.snapshot.complaints;
        for row in batch.complaints {
            let key = (row.source.clone(), row.source_id.clone());
            if let Some(old) = self.complaints.get(&key) {
                if old.updated_at >= row.updated_at {
                    continue;
                }
                decrement(&mut tally.by_category, &old.category);
                decrement(&mut tally.by_status, &old.status);
                decrement(&mut tally.by_kecamatan, &kecamatan_key(old));
                decrement(&mut tally.by_kelurahan, &kelurahan_key(old));
                tally.total -= 1;
            }
            *tally.by_category.entry(row.category.clone()).or_default() += 1;
            *tally.by_status.entry(row.status).or_default() += 1;
            *tally.by_kecamatan.entry(kecamatan_key(&row)).or_default() += 1;
            *tally.by_kelurahan.entry(kelurahan_key(&row)).or_default() += 1;
            tally.total += 1;
            changed += 1;
            self.newest
                .retain(|c| (&c.source, &c.source_id) != (&key.0, &key.1));
            let pos = self
                .newest
                .iter()
                .position(|c| c.created_at <= row.created_at)
                .unwrap_or(self.newest.len());
            self.newest.insert(pos, row.clone());
            self.newest.truncate(NEWEST_KEPT);
            self.complaints.insert(key, row);
        }
        tally.newest = self.newest.iter().cloned().collect();
        self.snapshot.seq = batch.seq;
        self.snapshot.committed_at = Some(batch.committed_at);
        Commit {
            seq: batch.seq,
            committed_at: batch.committed_at,
            rows,
            changed,
        }
    }
}

fn kelurahan_key(c: &Complaint) -> String {
    c.kelurahan
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |k| k.to_string())
}

fn kecamatan_key(c: &Complaint) -> String {
    c.kelurahan
        .as_ref()
        .and_then(|k| k.parent())
        .map_or_else(|| "unknown".to_owned(), |k| k.to_string())
}

fn decrement<K, Q>(map: &mut BTreeMap<Q, u64>, key: &K)
where
    K: Ord + ?Sized,
    Q: std::borrow::Borrow<K> + Ord,
{
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complaint(id: &str, category: &str, minute: i64) -> Complaint {
        let at = DateTime::from_timestamp(1_790_000_000 + minute * 60, 0).unwrap();
        Complaint::sample(id, category, at)
    }

    #[tokio::test]
    async fn applying_a_batch_twice_changes_nothing_and_newest_version_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let batch = vec![
            complaint("1", "Sampah", 0),
            complaint("2", "Jalan Rusak", 1),
        ];
        store.append_complaints(batch.clone()).await.unwrap();
        let again = store.append_complaints(batch).await.unwrap();
        assert_eq!(again.changed, 0);
        let mut newer = complaint("1", "Drainase", 0);
        newer.updated_at += chrono::Duration::minutes(5);
        let mut older = complaint("2", "Drainase", 1);
        older.updated_at -= chrono::Duration::minutes(5);
        store.append_complaints(vec![newer, older]).await.unwrap();

        let snap = store.snapshot();
        assert_eq!(snap.seq, 3);
        assert_eq!(snap.complaints.total, 2);
        assert_eq!(snap.complaints.by_category.get("Drainase"), Some(&1));
        assert_eq!(snap.complaints.by_category.get("Jalan Rusak"), Some(&1));
        assert_eq!(snap.complaints.by_category.get("Sampah"), None);
        assert_eq!(snap.complaints.by_kecamatan.get("35.75.01"), Some(&2));
        assert_eq!(snap.complaints.by_kelurahan.get("35.75.01.1001"), Some(&2));
        assert_eq!(snap.complaints.newest[0].source_id, "2");
    }

    #[tokio::test]
    async fn a_reopened_store_has_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        for i in 0..5 {
            let batch = vec![complaint(&i.to_string(), "Sampah", i)];
            store.append_complaints(batch).await.unwrap();
        }
        let before = store.snapshot();
        drop(store);
        let reopened = Store::open(dir.path()).await.unwrap();
        let after = reopened.snapshot();
        assert_eq!(after.seq, before.seq);
        assert_eq!(after.complaints, before.complaints);
        let next = reopened
            .append_complaints(vec![complaint("9", "Sampah", 9)])
            .await
            .unwrap();
        assert_eq!(next.seq, 6);
    }
}
