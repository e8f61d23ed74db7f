//! The pull worker against a real store and a real SQLite metadata database: failure, back-off,
//! recovery, and a cursor that moves only after the batch is durable.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use pantau::db::DatabaseSettings;
use pantau::db::DatabaseTarget;
use pantau::db::MetaDb;
use pantau::domain::Complaint;
use pantau::domain::Dataset;
use pantau::domain::{Freshness, SourceHealth};
use pantau::ingest::mapping::Rows;
use pantau::ingest::{self, Enricher, Pulled, Sinks, Source, SourceError, SourceIdentity};
use pantau::store::{Batch, Store};
use pantau::telemetry::Metrics;
use tokio_util::sync::CancellationToken;

use crate::helpers::eventually;

crate::tests! {
    async a_failing_source_is_shown_failing_then_recovers_and_its_cursor_follows_the_store,
    async rows_the_store_refuses_are_quarantined_and_the_rest_is_appended,
}

/// Fails its first pull the way a source with a bad stored cursor would, then files one
/// complaint per pull.
struct FlakySource {
    identity: SourceIdentity,
    pulls: u32,
}

impl FlakySource {
    fn new() -> Self {
        FlakySource {
            identity: SourceIdentity {
                id: "flaky".to_owned(),
                kind: "test",
                dataset: Dataset::Complaints,
                interval: Duration::from_millis(20),
            },
            pulls: 0,
        }
    }
}

impl Source for FlakySource {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        self.pulls += 1;
        let result = if self.pulls == 1 {
            Err(SourceError::BadCursor {
                cursor: "?".into(),
                reason: "simulated outage".into(),
            })
        } else {
            let n: u64 = cursor.as_deref().unwrap_or("0").parse().unwrap_or(0) + 1;
            let now = Utc::now();
            let mut rows = Rows::new(Dataset::Complaints);
            rows.batch = Batch::Complaints(vec![Complaint::new(
                "flaky",
                &n.to_string(),
                "Sampah",
                "DLH",
                now,
            )]);
            rows.newest = Some(now);
            Ok(Pulled {
                rows,
                cursor: Some(n.to_string()),
                more: false,
            })
        };
        Box::pin(std::future::ready(result))
    }
}

async fn a_failing_source_is_shown_failing_then_recovers_and_its_cursor_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = MetaDb::connect(
        &DatabaseTarget::Sqlite(dir.path().join("meta.db")),
        &DatabaseSettings::default(),
    )
    .await
    .unwrap();
    let store = Store::open(&dir.path().join("store"), Default::default())
        .await
        .unwrap();
    let health = SourceHealth::default();
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let sinks = Sinks {
        store: store.clone(),
        db: db.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
        enricher: Enricher::none(),
    };
    let worker = tokio::spawn(ingest::worker(
        Box::new(FlakySource::new()),
        sinks,
        shutdown.clone(),
    ));
    assert_eq!(health.list()[0].freshness(Utc::now()), Freshness::Starting);

    // The first pull fails: failing, with the reason, and nothing stored.
    let status = eventually("the failure is shown", Duration::from_secs(1), || async {
        let status = health.list().remove(0);
        (status.freshness(Utc::now()) == Freshness::Failing).then_some(status)
    })
    .await;
    assert!(status
        .last_error
        .as_deref()
        .unwrap()
        .contains("simulated outage"));
    let shown = pantau::engine::source_status(&health.list(), Utc::now());
    assert_eq!(shown[0]["state"], "failing");
    assert!(shown[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("simulated outage"));
    assert_eq!(store.snapshot().complaints().current_rows(), 0);

    // After the back-off it succeeds: fresh again, rows counted, cursor = what the store holds.
    eventually("the source recovers", Duration::from_secs(4), || async {
        let status = health.list().remove(0);
        if status.freshness(Utc::now()) == Freshness::Fresh && status.rows_in >= 2 {
            Ok(())
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    shutdown.cancel();
    worker.await.unwrap();
    let stored = store.snapshot().complaints().current_rows();
    let cursor: u64 = db
        .load_cursor("flaky")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        cursor, stored,
        "the cursor matches the durable rows exactly"
    );
    assert!(metrics
        .render()
        .contains("pantau_source_errors_total{source=\"flaky\"} 1"));
}

async fn rows_the_store_refuses_are_quarantined_and_the_rest_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let now = Utc::now();
    let old = chrono::DateTime::parse_from_rfc3339("1965-08-17T08:00:00+07:00")
        .unwrap()
        .with_timezone(&Utc);
    // A complaint dated before 1970 is valid as a complaint but outside what the store keeps.
    let rows = Rows::of(Batch::Complaints(vec![
        Complaint::new("t", "1", "Sampah", "DLH", now),
        Complaint::new("t", "2", "Sampah", "DLH", old),
        Complaint::new("t", "3", "Jalan Rusak", "Dinas PUPR", now),
    ]));
    let delivered = ingest::deliver(&store, &Enricher::none(), rows)
        .await
        .unwrap();
    assert_eq!(delivered.stored, 2);
    assert_eq!(delivered.quarantined.len(), 1);
    let refused = &delivered.quarantined[0];
    assert!(
        refused.reason.starts_with("refused by the store: ")
            && refused.reason.contains("1970..2106"),
        "{}",
        refused.reason
    );
    assert!(
        refused.payload.contains("\"source_id\":\"2\""),
        "{}",
        refused.payload
    );
    assert_eq!(store.snapshot().complaints().current_rows(), 2);
}
