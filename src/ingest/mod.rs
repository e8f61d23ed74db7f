//! Ingest: pull workers that bring records from sources into the store.
//!
//! Owns the [`Source`] trait, one module per source kind ([`kinds`]), the declarative [`mapping`] from a
//! source's records to dataset rows, geo-enrichment, the quarantine of records that cannot be
//! stored, and the worker loop: pull from the stored cursor, append durably, only then advance the
//! cursor (together with the pull's quarantined records); back off with jitter on failure. Must
//! not know about panels, HTTP or WebSockets.

pub mod config;
pub mod enrich;
pub mod import;
pub mod kinds;
pub mod mapping;
mod settings;

pub use config::{build_sources, check_sources, SourceConfig};
pub use enrich::Enricher;
pub use settings::{
    IngestSettings, SimulatorSettings, SIMULATOR_BUDGET_ID, SIMULATOR_SERVICES_ID,
    SIMULATOR_SOURCE_ID,
};

use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::db::{MetaDb, QuarantineEntry};
use crate::domain::Dataset;
use crate::domain::SourceHealth;
use crate::store::{Batch, Store, StoreError};
use crate::telemetry::Metrics;
use mapping::{Keep, Rows, Settled};

/// Longest wait between two attempts of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Largest payload kept per quarantined record; longer ones are cut (and say so).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

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
    /// The remote system did not answer (refused, reset, timed out).
    #[error("{target}: {reason}")]
    Unreachable {
        /// URL or address (secrets removed).
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The remote system answered with an error status.
    #[error("{target}: HTTP {status}: {body}")]
    Status {
        /// URL (secrets removed).
        target: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The answer could not be read as the expected format (truncated JSON, not a CSV, …).
    #[error("{target}: {reason}")]
    Malformed {
        /// URL, file or table.
        target: String,
        /// What is wrong, where.
        reason: String,
    },
    /// A local file or directory could not be read or moved.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The system's reason.
        reason: String,
    },
}

/// Longest failure reason shown to clients.
const MAX_SHOWN_REASON: usize = 300;

impl SourceError {
    /// What clients that see source health are shown: the kind of failure and where, never the
    /// upstream's own words — an error body may echo its internals or a citizen's data. The
    /// whole error goes to the log.
    pub fn shown(&self) -> String {
        match self {
            SourceError::Status { target, status, .. } => {
                format!("{target}: HTTP {status} (the answer's body is in the server log)")
            }
            other => other.to_string().chars().take(MAX_SHOWN_REASON).collect(),
        }
    }
}

/// The reason a failed pull shows: a source's error as [`SourceError::shown`], any other (the
/// store, the database) with its causes, bounded.
fn shown_reason(e: &anyhow::Error) -> String {
    match e.downcast_ref::<SourceError>() {
        Some(source) => source.shown(),
        None => format!("{e:#}").chars().take(MAX_SHOWN_REASON).collect(),
    }
}

/// What one pull brought.
#[derive(Debug)]
pub struct Pulled {
    /// Mapped rows, refused records and the newest record time.
    pub rows: Rows,
    /// The cursor to store once the rows are durable; `None` leaves it as it is.
    pub cursor: Option<String>,
    /// More records are waiting (another page): pull again without waiting for the interval.
    pub more: bool,
}

/// What names a source and paces it, the same for every kind.
#[derive(Debug, Clone)]
pub struct SourceIdentity {
    /// Source id from the configuration; keys cursors, metrics and the rows' `source`.
    pub id: String,
    /// The kind, as the `type` tag names it in the configuration.
    pub kind: &'static str,
    /// The dataset its rows go to.
    pub dataset: Dataset,
    /// Time between two pulls when all is well.
    pub interval: Duration,
}

/// A place records are pulled from.
pub trait Source: Send {
    /// Its id, kind, dataset and interval.
    fn identity(&self) -> &SourceIdentity;
    /// Source id from the configuration.
    fn id(&self) -> &str {
        &self.identity().id
    }
    /// The kind (`open311`, `http_json`, `files`, `sql`, `simulator`).
    fn kind(&self) -> &'static str {
        self.identity().kind
    }
    /// The dataset its rows go to.
    fn dataset(&self) -> Dataset {
        self.identity().dataset
    }
    /// Time between two pulls when all is well.
    fn interval(&self) -> Duration {
        self.identity().interval
    }
    /// What its mapping does with key collisions; `None` for a kind that makes rows itself.
    fn keep(&self) -> Option<Keep> {
        None
    }
    /// Pulls the records after `cursor` (`None` on the very first pull).
    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>>;
    /// Called once the pull's rows are durable and its cursor stored (a drop folder moves its
    /// file to `done/` here). The default does nothing.
    fn committed(&mut self) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// What a source worker writes to.
#[derive(Clone)]
pub struct Sinks {
    /// Where batches become durable.
    pub store: Store,
    /// Where cursors and the quarantine are kept.
    pub db: MetaDb,
    /// Error and lag metrics.
    pub metrics: Metrics,
    /// Per-source status for operators and screens.
    pub health: SourceHealth,
    /// Region codes from coordinates.
    pub enricher: Enricher,
}

/// What a delivery stored and kept aside.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Rows appended to the store.
    pub stored: u64,
    /// Records for the quarantine (mapping refusals and rows the store refused).
    pub quarantined: Vec<QuarantineEntry>,
    /// Complaints placed outside every region (kept, flagged out of jurisdiction).
    pub outside: u64,
    /// Of the stored rows: keys the store did not hold before.
    pub new_keys: u64,
    /// Of the stored rows: newer versions of keys it held.
    pub new_versions: u64,
    /// Of the stored rows: exact repeats of a stored version, or older than it (nothing changed).
    pub unchanged: u64,
    /// Key collisions: records quarantined (they are among `quarantined`) and records merged
    /// into another by the mapping's `keep`.
    pub collisions: Settled,
}

/// Enriches and appends mapped rows. Rows the store refuses are moved to the quarantine list
/// with its reasons and the rest is appended, so nothing is lost. The caller then makes the
/// quarantine (and its cursor) durable with [`MetaDb::commit_pull`].
pub async fn deliver(
    store: &Store,
    enricher: &Enricher,
    rows: Rows,
) -> Result<Delivered, StoreError> {
    let Rows {
        mut batch,
        refused,
        collisions,
        ..
    } = rows;
    let mut delivered = Delivered {
        collisions,
        quarantined: refused
            .into_iter()
            .map(|(payload, reason)| quarantine_entry(&payload, reason))
            .collect(),
        ..Delivered::default()
    };
    if let Batch::Complaints(complaints) = &mut batch {
        delivered.outside = enricher.apply(complaints) as u64;
    }
    while !batch.is_empty() {
        let len = batch.len() as u64;
        match store.append_or_return(batch).await {
            Ok(commit) => {
                delivered.stored = len;
                delivered.new_keys = commit.new_keys as u64;
                delivered.new_versions = (commit.changed - commit.new_keys) as u64;
                delivered.unchanged = (commit.rows - commit.changed) as u64;
                break;
            }
            Err((StoreError::Rejected { problems, .. }, Some(refused))) if !problems.is_empty() => {
                batch = refused;
                let positions: Vec<usize> = problems.iter().map(|p| p.row).collect();
                let taken = batch.take_rows(&positions);
                for (payload, problem) in taken.iter().zip(&problems) {
                    let reason = format!("refused by the store: {}", problem.reasons.join("; "));
                    delivered
                        .quarantined
                        .push(quarantine_entry(payload, reason));
                }
            }
            Err((e, _)) => return Err(e),
        }
    }
    Ok(delivered)
}

/// A quarantine entry with the payload cut to [`MAX_PAYLOAD_BYTES`].
fn quarantine_entry(payload: &serde_json::Value, reason: String) -> QuarantineEntry {
    let mut text = payload.to_string();
    if text.len() > MAX_PAYLOAD_BYTES {
        let mut cut = MAX_PAYLOAD_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("… [cut]");
    }
    QuarantineEntry {
        payload: text,
        reason,
    }
}

/// Registers a source in the health registry right away (so screens list it from the start) and
/// returns its worker, which runs until `shutdown` is cancelled. A pull in progress is finished and
/// made durable first.
pub fn worker(
    source: Box<dyn Source>,
    sinks: Sinks,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    sinks.health.register(
        source.id(),
        source.kind(),
        source.dataset().name(),
        source.interval(),
    );
    if let Some(keep) = source.keep() {
        sinks.health.set_keep(source.id(), keep.name());
    }
    run_source(source, sinks, shutdown)
}

async fn run_source(mut source: Box<dyn Source>, sinks: Sinks, shutdown: CancellationToken) {
    let id = source.id().to_owned();
    let mut failures = 0u32;
    let mut cursor = None;
    let mut cursor_loaded = false;
    loop {
        let mut more = false;
        if !cursor_loaded {
            match sinks.db.load_cursor(&id).await {
                Ok(stored) => {
                    cursor = stored;
                    cursor_loaded = true;
                }
                Err(e) => {
                    failures += 1;
                    sinks.metrics.source_error(&id);
                    sinks
                        .health
                        .failed(&id, format!("cannot read the cursor: {e}"));
                    tracing::warn!(source = %id, error = %e, "Cannot read the source's cursor.");
                }
            }
        }
        if cursor_loaded {
            match pull_once(source.as_mut(), &cursor, &sinks).await {
                Ok(outcome) => {
                    if let Some(next) = outcome.cursor {
                        cursor = Some(next);
                    }
                    more = outcome.more;
                    failures = 0;
                    sinks.health.succeeded(
                        &id,
                        outcome.stored,
                        outcome.quarantined,
                        outcome.newest,
                    );
                    if outcome.collisions > 0 {
                        sinks.health.collided(&id, outcome.collisions);
                    }
                }
                Err(e) => {
                    failures += 1;
                    sinks.metrics.source_error(&id);
                    sinks.health.failed(&id, shown_reason(&e));
                    tracing::warn!(source = %id, failures, error = %format!("{e:#}"), "Pull failed; backing off.");
                }
            }
        }
        let wait = if more {
            Duration::ZERO
        } else {
            backoff(source.interval(), failures)
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(source = %id, "Source stopped.");
}

/// What one successful pull did.
struct PullOutcome {
    cursor: Option<String>,
    more: bool,
    stored: u64,
    quarantined: u64,
    /// Records of key collisions, quarantined or merged.
    collisions: u64,
    newest: Option<chrono::DateTime<Utc>>,
}

/// One pull → durable append → quarantine and cursor together → the source's commit hook.
async fn pull_once(
    source: &mut dyn Source,
    cursor: &Option<String>,
    sinks: &Sinks,
) -> anyhow::Result<PullOutcome> {
    let pulled = source.pull(cursor.clone()).await?;
    let dataset = pulled.rows.batch.dataset();
    let newest = pulled.rows.newest;
    let delivered = deliver(&sinks.store, &sinks.enricher, pulled.rows).await?;
    // Only now is the batch durable, so only now may the cursor move.
    sinks
        .db
        .commit_pull(
            source.id(),
            pulled.cursor.as_deref(),
            &delivered.quarantined,
            Utc::now(),
        )
        .await?;
    source.committed().await?;
    let quarantined = delivered.quarantined.len() as u64;
    sinks
        .metrics
        .rows_ingested(dataset.name(), delivered.stored);
    if quarantined > 0 {
        sinks.metrics.rows_quarantined(source.id(), quarantined);
        tracing::info!(source = %source.id(), quarantined, "Records quarantined.");
    }
    let Settled {
        quarantined: collided,
        merged,
    } = delivered.collisions;
    if collided + merged > 0 {
        tracing::warn!(source = %source.id(), quarantined = collided, merged, "Records of this pull share a key and a version stamp (key collisions).");
    }
    if let Some(newest) = newest {
        let lag = (Utc::now() - newest).num_milliseconds().max(0) as f64 / 1000.0;
        sinks.metrics.source_lag(source.id(), lag);
    }
    Ok(PullOutcome {
        cursor: pulled.cursor,
        more: pulled.more,
        stored: delivered.stored,
        quarantined,
        collisions: delivered.collisions.quarantined + delivered.collisions.merged,
        newest,
    })
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

    #[test]
    fn long_payloads_are_cut_on_a_character_boundary() {
        let payload = serde_json::Value::String("é".repeat(MAX_PAYLOAD_BYTES));
        let entry = quarantine_entry(&payload, "too long".into());
        assert!(entry.payload.len() <= MAX_PAYLOAD_BYTES + 10);
        assert!(entry.payload.ends_with("… [cut]"));
    }

    #[test]
    fn clients_see_a_failures_kind_and_place_never_the_upstreams_body() {
        let status = SourceError::Status {
            target: "https://lapor.example.go.id/api".into(),
            status: 500,
            body: "ORA-01017: invalid password for user APP_LAPOR; Budi 0812-3456-7890".into(),
        };
        let e = anyhow::Error::new(status);
        let shown = shown_reason(&e);
        assert!(
            shown.starts_with("https://lapor.example.go.id/api: HTTP 500"),
            "{shown}"
        );
        assert!(
            !shown.contains("ORA-01017") && !shown.contains("0812"),
            "{shown}"
        );
        assert!(format!("{e:#}").contains("ORA-01017"), "the log keeps it");
        let long = SourceError::Malformed {
            target: "x".into(),
            reason: "y".repeat(5_000),
        };
        assert_eq!(long.shown().chars().count(), MAX_SHOWN_REASON);
        let other = anyhow::anyhow!("disk full").context("the store refused the batch");
        assert_eq!(
            shown_reason(&other),
            "the store refused the batch: disk full"
        );
    }
}
