//! The engine: turns store commits into panel results and publishes them as topics.
//!
//! Owns what each panel shows. Knows the store and the dashboards, nothing of HTTP, sockets or
//! sources: values go out through a [`TopicSink`] (the live hub, connected in `startup`), and the
//! sources' health is read from the shared registry in [`crate::domain`].
//!
//! Dashboards from `dashboards/*.toml` are computed by [`board`]: each panel's query ([`query`],
//! run over the store's chunks) shaped by its kind ([`panel`]). The sources' health is the
//! `sources/health` topic and every screen's `source_status`.

pub mod board;
pub mod incremental;
pub mod layers;
pub mod panel;
pub mod query;
mod sink;

pub use sink::{TopicSink, TopicValue};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};

use crate::domain::{Freshness, SourceHealth, SourceStatus};

/// Topic of the source-health table.
pub const SOURCES_TOPIC: &str = "sources/health";

/// Keeps the sources' freshness on screens current: on every health change, and every second since
/// a source turns stale by the clock alone. Only state changes reach clients.
pub async fn run_source_status(
    health: SourceHealth,
    sink: std::sync::Arc<dyn TopicSink>,
    shutdown: CancellationToken,
) {
    let mut changes = health.changes();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        publish_source_health(&health, sink.as_ref());
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
}

/// Sends every screen the sources' states (`source_status`) and updates the `sources/health`
/// topic, the table a source-health panel shows.
pub fn publish_source_health(health: &SourceHealth, sink: &dyn TopicSink) {
    let now = Utc::now();
    let list = health.list();
    sink.set_source_status(source_status(&list, now));
    let committed_at = list.iter().filter_map(|s| s.last_success).max();
    sink.publish_all(vec![(
        SOURCES_TOPIC.to_owned(),
        committed_at,
        source_health_table(&list, now),
    )]);
}

/// The `sources/health` value: per source id, its state and history (times, not ages, so the
/// value changes only when a pull ends or a state turns).
pub fn source_health_table(sources: &[SourceStatus], now: DateTime<Utc>) -> Value {
    let rows: serde_json::Map<String, Value> = sources
        .iter()
        .map(|s| (s.id.clone(), s.report(now)))
        .collect();
    json!({ "sources": rows })
}

/// The `source_status` value: what a screen needs to mark panels, nothing that changes every pull.
pub fn source_status(sources: &[SourceStatus], now: DateTime<Utc>) -> Value {
    sources
        .iter()
        .map(|s| {
            let state = s.freshness(now);
            let mut entry = json!({
                "id": s.id,
                "kind": s.kind,
                "dataset": s.dataset,
                "state": state,
            });
            if state == Freshness::Failing {
                entry["last_error"] = json!(s.last_error);
            }
            entry
        })
        .collect()
}

#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
