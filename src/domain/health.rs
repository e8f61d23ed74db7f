//! How each source is doing: last success, last error, rows, newest record, and from those its
//! freshness (fresh, stale, failing), for operators (`/api/sources`) and screens (`source_status`).
//!
//! Vocabulary shared by the rooms that write it (ingest's workers) and read it (the engine's
//! source-health panels, the HTTP API): the registry is memory and a change counter, no I/O.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

/// A source is stale when it has not succeeded for this many intervals…
const STALE_INTERVALS: u32 = 3;
/// …and at least this long, so fast sources do not flicker.
const MIN_STALE_AFTER: Duration = Duration::from_secs(30);

/// What a screen should make of a source's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// Registered, no pull finished yet.
    Starting,
    /// The last pull succeeded recently.
    Fresh,
    /// No success for longer than the source's stale threshold.
    Stale,
    /// The last pull failed.
    Failing,
}

/// One source's record.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    /// Source id.
    pub id: String,
    /// Source kind (`simulator`, `open311`, `http_json`, `files`, `sql`).
    pub kind: &'static str,
    /// Dataset it feeds.
    pub dataset: &'static str,
    /// Expected time between pulls.
    pub interval_ms: u64,
    /// End of the last successful pull.
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure's message (kept after a recovery, for the record).
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Rows durably appended since the server started.
    pub rows_in: u64,
    /// Records quarantined since the server started (the whole quarantine is at
    /// `/api/sources/{id}/quarantine`).
    pub rows_quarantined: u64,
    /// Newest record time seen (for lag).
    pub newest_record: Option<DateTime<Utc>>,
    /// What the source's mapping does with records of one pull that share a key and a version
    /// stamp (`quarantine`, `first`, `last`, `sum`); `None` for a source that makes rows itself.
    pub keep: Option<&'static str>,
    /// Records of key collisions since the server started (quarantined, or merged by `keep`).
    pub key_collisions: u64,
}

impl SourceStatus {
    /// A source that has not pulled yet.
    fn new(id: &str, kind: &'static str, dataset: &'static str, interval: Duration) -> Self {
        Self {
            id: id.to_owned(),
            kind,
            dataset,
            interval_ms: interval.as_millis() as u64,
            last_success: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            rows_in: 0,
            rows_quarantined: 0,
            newest_record: None,
            keep: None,
            key_collisions: 0,
        }
    }

    /// No success for this long makes the source stale.
    pub fn stale_after(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
            .saturating_mul(STALE_INTERVALS)
            .max(MIN_STALE_AFTER)
    }

    /// The record as operators and panels see it: every field, plus `state` and `stale_after_secs` at `now`.
    pub fn report(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["state"] = serde_json::json!(self.freshness(now));
        value["stale_after_secs"] = self.stale_after().as_secs().into();
        value
    }

    /// The source's freshness at `now`.
    pub fn freshness(&self, now: DateTime<Utc>) -> Freshness {
        if self.consecutive_failures > 0 {
            return Freshness::Failing;
        }
        match self.last_success {
            None => Freshness::Starting,
            Some(at) => {
                let age = (now - at).to_std().unwrap_or_default();
                if age > self.stale_after() {
                    Freshness::Stale
                } else {
                    Freshness::Fresh
                }
            }
        }
    }
}

/// The registry of source statuses; cheap to clone.
#[derive(Clone)]
pub struct SourceHealth {
    sources: Arc<Mutex<BTreeMap<String, SourceStatus>>>,
    changed: watch::Sender<u64>,
}

impl Default for SourceHealth {
    fn default() -> Self {
        Self {
            sources: Arc::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl SourceHealth {
    /// Adds a source before its first pull.
    pub fn register(
        &self,
        id: &str,
        kind: &'static str,
        dataset: &'static str,
        interval: Duration,
    ) {
        self.update(
            id,
            |_| {},
            || SourceStatus::new(id, kind, dataset, interval),
        );
    }

    /// Records a pull whose batch is durable.
    pub fn succeeded(&self, id: &str, rows: u64, quarantined: u64, newest: Option<DateTime<Utc>>) {
        self.update(
            id,
            |s| {
                s.last_success = Some(Utc::now());
                s.consecutive_failures = 0;
                s.rows_in += rows;
                s.rows_quarantined += quarantined;
                s.newest_record = s.newest_record.max(newest);
            },
            || unregistered(id),
        );
    }

    /// Says what the source's mapping does with key collisions.
    pub fn set_keep(&self, id: &str, keep: &'static str) {
        self.update(id, |s| s.keep = Some(keep), || unregistered(id));
    }

    /// Counts records of key collisions in a pull that succeeded.
    pub fn collided(&self, id: &str, records: u64) {
        self.update(id, |s| s.key_collisions += records, || unregistered(id));
    }

    /// Records a failed pull with a message a person can read.
    pub fn failed(&self, id: &str, error: String) {
        self.update(
            id,
            |s| {
                s.last_error = Some(error);
                s.last_error_at = Some(Utc::now());
                s.consecutive_failures += 1;
            },
            || unregistered(id),
        );
    }

    /// Every source, by id.
    pub fn list(&self) -> Vec<SourceStatus> {
        self.lock().values().cloned().collect()
    }

    /// Wakes after every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut SourceStatus),
        new: impl FnOnce() -> SourceStatus,
    ) {
        {
            let mut sources = self.lock();
            let status = sources.entry(id.to_owned()).or_insert_with(new);
            change(status);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SourceStatus>> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A status for a source that reports without having registered (a wiring mistake, not input).
fn unregistered(id: &str) -> SourceStatus {
    SourceStatus::new(id, "unknown", "unknown", Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_successes_failures_and_time() {
        let health = SourceHealth::default();
        health.register("lapor", "http_json", "complaints", Duration::from_secs(60));
        let status = |h: &SourceHealth| h.list().remove(0);
        let now = Utc::now();
        assert_eq!(status(&health).freshness(now), Freshness::Starting);

        health.succeeded("lapor", 10, 2, None);
        let s = status(&health);
        assert_eq!(s.freshness(Utc::now()), Freshness::Fresh);
        assert_eq!(s.stale_after(), Duration::from_secs(180));
        let later = Utc::now() + chrono::Duration::seconds(181);
        assert_eq!(s.freshness(later), Freshness::Stale);

        health.failed("lapor", "HTTP 503 from https://lapor.example/api".into());
        let s = status(&health);
        assert_eq!(s.freshness(Utc::now()), Freshness::Failing);
        assert_eq!(s.consecutive_failures, 1);

        health.succeeded("lapor", 5, 0, None);
        let s = status(&health);
        assert_eq!(s.freshness(Utc::now()), Freshness::Fresh);
        assert_eq!(s.rows_in, 15);
        assert_eq!(s.rows_quarantined, 2);
        assert!(
            s.last_error.is_some(),
            "the last error stays on record after recovery"
        );
    }

    #[test]
    fn fast_sources_get_a_minimum_stale_threshold() {
        let health = SourceHealth::default();
        health.register("sim", "simulator", "complaints", Duration::from_millis(50));
        assert_eq!(health.list()[0].stale_after(), MIN_STALE_AFTER);
    }
}
