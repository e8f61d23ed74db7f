//! Ingest: pull workers that bring records from sources into the store.
//!
//! Owns the [`Source`] trait, one file per source kind, and the worker loop: pull from the stored
//! cursor, append durably, only then advance the cursor; back off with jitter on failure. Must not
//! know about panels, HTTP or WebSockets.

pub mod health;
pub mod simulator;

pub use health::{Freshness, SourceHealth, SourceStatus};

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::db::MetaDb;
use crate::domain::Complaint;
use crate::store::Store;
use crate::telemetry::Metrics;

/// Longest wait between two attempts of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Why a pull failed; the worker logs it, counts it and backs off.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The stored cursor cannot be understood by this source.
    #[error("cursor '{cursor}' is not valid for this source: {reason}")]
    BadCursor {
        /// The stored cursor.
        cursor: String,
        /// Why it is refused.
        reason: String,
    },
}

/// What one pull brought.
#[derive(Debug)]
pub struct Pulled {
    /// Records, in any order; the store keeps the newest version per key.
    pub complaints: Vec<Complaint>,
    /// The cursor to store once these records are durable.
    pub cursor: String,
    /// Newest record time seen, for the lag metric.
    pub newest: Option<DateTime<Utc>>,
}

/// A place records are pulled from.
pub trait Source: Send {
    /// Source id from the configuration; keys cursors, metrics and complaints.
    fn id(&self) -> &str;
    /// The kind, as the `type` tag names it in the configuration.
    fn kind(&self) -> &'static str;
    /// Time between two pulls when all is well.
    fn interval(&self) -> Duration;
    /// Pulls the records after `cursor` (`None` on the very first pull).
    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>>;
}

/// What a source worker writes to.
#[derive(Clone)]
pub struct Sinks {
    /// Where batches become durable.
    pub store: Store,
    /// Where cursors are kept.
    pub db: MetaDb,
    /// Error and lag metrics.
    pub metrics: Metrics,
    /// Per-source status for operators and screens.
    pub health: SourceHealth,
}

/// Registers a source in the health registry right away (so screens list it from the start) and
/// returns its worker, which runs until `shutdown` is cancelled. A pull in progress is finished and
/// made durable first.
pub fn worker(
    source: Box<dyn Source>,
    sinks: Sinks,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    sinks
        .health
        .register(source.id(), source.kind(), "complaints", source.interval());
    run_source(source, sinks, shutdown)
}

async fn run_source(mut source: Box<dyn Source>, sinks: Sinks, shutdown: CancellationToken) {
    let Sinks {
        store,
        db,
        metrics,
        health,
    } = sinks;
    let id = source.id().to_owned();
    let mut failures = 0u32;
    let mut cursor = None;
    let mut cursor_loaded = false;
    loop {
        if !cursor_loaded {
            match db.load_cursor(&id).await {
                Ok(stored) => {
                    cursor = stored;
                    cursor_loaded = true;
                }
                Err(e) => {
                    failures += 1;
                    metrics.source_error(&id);
                    health.failed(&id, format!("cannot read the cursor: {e}"));
                    tracing::warn!(source = %id, error = %e, "Cannot read the source's cursor.");
                }
            }
        }
        if cursor_loaded {
            match pull_once(source.as_mut(), &cursor, &store, &db, &metrics).await {
                Ok((next, rows, newest)) => {
                    cursor = Some(next);
                    failures = 0;
                    health.succeeded(&id, rows, newest);
                }
                Err(e) => {
                    failures += 1;
                    metrics.source_error(&id);
                    health.failed(&id, format!("{e:#}"));
                    tracing::warn!(source = %id, failures, error = %e, "Pull failed; backing off.");
                }
            }
        }
        let wait = backoff(source.interval(), failures);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(source = %id, "Source stopped.");
}

/// One pull → durable append → cursor advance. Returns the new cursor, the rows appended and the
/// newest record time.
async fn pull_once(
    source: &mut dyn Source,
    cursor: &Option<String>,
    store: &Store,
    db: &MetaDb,
    metrics: &Metrics,
) -> anyhow::Result<(String, u64, Option<DateTime<Utc>>)> {
    let pulled = source.pull(cursor.clone()).await?;
    let rows = pulled.complaints.len() as u64;
    if rows > 0 {
        store.append_complaints(pulled.complaints).await?;
        metrics.rows_ingested("complaints", rows);
    }
    // Only now is the batch durable, so only now may the cursor move.
    db.save_cursor(source.id(), &pulled.cursor, Utc::now())
        .await?;
    if let Some(newest) = pulled.newest {
        let lag = (Utc::now() - newest).num_milliseconds().max(0) as f64 / 1000.0;
        metrics.source_lag(source.id(), lag);
    }
    Ok((pulled.cursor, rows, pulled.newest))
}

/// The wait before the next attempt: the interval when healthy, else exponential with ±20 % jitter.
fn backoff(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let base = interval
        .max(Duration::from_millis(500))
        .saturating_mul(1 << failures.min(10));
    let capped = base.min(MAX_BACKOFF);
    capped.mul_f64(rand::rng().random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let interval = Duration::from_secs(1);
        assert_eq!(backoff(interval, 0), interval);
        let third = backoff(interval, 3);
        assert!(third >= Duration::from_millis(6400) && third <= Duration::from_millis(9600));
        assert!(backoff(interval, 30) <= MAX_BACKOFF.mul_f64(1.2));
    }
}
