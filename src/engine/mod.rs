//! The engine: turns store commits into panel results and publishes them as live topics.
//!
//! Owns what each panel shows. Knows the store and the hub, nothing of HTTP or sockets.
//!
//! This first version publishes two fixed panels: `overview/complaints` (totals, status mix,
//! categories, kecamatan and the newest complaints), recomputed from the store's
//! snapshot on every commit (coalesced), and `sources/health` (the source-health table, from the
//! ingest health registry). Dashboards from `dashboards/*.toml` are computed by [`board`]:
//! each panel's query ([`query`], run over the store's chunks) shaped by its kind ([`panel`]).

pub mod board;
pub mod classes;
pub mod incremental;
pub mod layers;
pub mod panel;
pub mod query;
pub mod tally;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};

use crate::ingest::{Freshness, SourceHealth, SourceStatus};
use crate::live::Hub;
use crate::store::{Store, StoreSnapshot};
use tally::ComplaintTally;

/// Topic of the complaints overview panel.
pub const OVERVIEW_TOPIC: &str = "overview/complaints";
/// Topic of the source-health table.
pub const SOURCES_TOPIC: &str = "sources/health";

/// Names of regions by Kemendagri code, to label panels.
pub type RegionNames = HashMap<String, String>;

/// What the engine needs besides the data: region names and the overview map's regions.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Region names by Kemendagri code.
    pub names: RegionNames,
    /// The kelurahan drawn on the overview map, if there is a map.
    pub map: Option<MapSet>,
}

/// The regions of a map layer and the `/api/geo` set holding their shapes.
#[derive(Debug, Clone)]
pub struct MapSet {
    /// Boundary set name (`/api/geo/{set}`).
    pub set: String,
    /// Codes of the regions drawn, each shown even with no data.
    pub regions: Vec<String>,
}

/// Publishes the overview once now and after every store commit, until `shutdown`.
/// A burst of commits while a publish runs is coalesced into one publish of the newest state.
pub async fn run(store: Store, hub: Hub, labels: Labels, shutdown: CancellationToken) {
    let mut commits = store.subscribe();
    let labels = Arc::new(labels);
    loop {
        let snapshot = commits.borrow_and_update().clone();
        publish(&hub, snapshot, labels.clone()).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = commits.changed() => if changed.is_err() { break },
        }
    }
}

/// Keeps the sources' freshness on screens current: on every health change, and every second since
/// a source turns stale by the clock alone. Only state changes reach clients.
pub async fn run_source_status(health: SourceHealth, hub: Hub, shutdown: CancellationToken) {
    let mut changes = health.changes();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        publish_source_health(&health, &hub);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
}

/// Sends every screen the sources' states (`source_status`) and updates the `sources/health`
/// topic, the table a source-health panel shows.
pub fn publish_source_health(health: &SourceHealth, hub: &Hub) {
    let now = Utc::now();
    let list = health.list();
    hub.set_source_status(source_status(&list, now));
    let committed_at = list.iter().filter_map(|s| s.last_success).max();
    hub.publish(SOURCES_TOPIC, committed_at, source_health_table(&list, now));
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

/// Publishes the overview of the store's current state right away (used at start).
pub async fn publish_now(store: &Store, hub: &Hub, labels: &Labels) {
    publish(hub, store.snapshot(), Arc::new(labels.clone())).await;
}

/// Computes and publishes the overview. Polars runs on the blocking pool: its streaming engine
/// drives its own runtime, which must not be entered from a tokio worker (and a query must not
/// stall the sockets' tasks).
async fn publish(hub: &Hub, snapshot: Arc<StoreSnapshot>, labels: Arc<Labels>) {
    let committed_at = snapshot.committed_at;
    let seq = snapshot.seq;
    let value = tokio::task::spawn_blocking(move || overview(&snapshot, &labels)).await;
    match value {
        Ok(Ok(value)) => {
            hub.publish(OVERVIEW_TOPIC, committed_at, value);
        }
        Ok(Err(e)) => tracing::error!(error = %e, seq, "Overview not updated."),
        Err(e) => tracing::error!(error = %e, seq, "Overview computation stopped."),
    }
}

/// The overview panel's value. Collections are objects keyed by a stable id rather than arrays, so
/// that a merge patch carries only the members that changed (a new complaint, one count).
pub fn overview(snapshot: &StoreSnapshot, labels: &Labels) -> Result<Value, tally::TallyError> {
    let names = &labels.names;
    let tally = ComplaintTally::of(snapshot.complaints())?;
    let closed = tally.count("resolved") + tally.count("rejected");
    let name_of = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());
    let by_kecamatan: serde_json::Map<String, Value> = tally
        .by_kecamatan
        .iter()
        .map(|(code, n)| (code.clone(), json!({"name": name_of(code), "count": n})))
        .collect();
    let newest: serde_json::Map<String, Value> = tally
        .newest
        .iter()
        .map(|c| {
            let kelurahan = c.kelurahan.as_ref().map(|k| k.to_string());
            let value = json!({
                "category": c.category,
                "opd": c.opd,
                "status": c.status,
                "kelurahan": kelurahan,
                "kelurahan_name": kelurahan.as_deref().map(name_of),
                "created_at": c.created_at,
            });
            (format!("{}/{}", c.source, c.source_id), value)
        })
        .collect();
    Ok(json!({
        "map": labels.map.as_ref().map(|map| choropleth(&tally.by_kelurahan, map)),
        "total": tally.total,
        "open": tally.total - closed,
        "resolved": tally.count("resolved"),
        "rejected": tally.count("rejected"),
        "by_status": tally.by_status,
        "by_category": tally.by_category,
        "by_kecamatan": by_kecamatan,
        "newest": newest,
    }))
}

/// Classes shown on the wall map: five for a city's kelurahan.
const MAP_CLASSES: usize = 5;

/// The overview map layer: complaints per kelurahan of the map's set, with quantile breaks so every
/// screen draws the same legend. Every region of the set appears (0 when it has none), so "no
/// complaints" is told apart from a region without data (absent, drawn as such).
fn choropleth(by_kelurahan: &std::collections::BTreeMap<String, u64>, map: &MapSet) -> Value {
    let values: serde_json::Map<String, Value> = map
        .regions
        .iter()
        .map(|code| {
            (
                code.clone(),
                json!(by_kelurahan.get(code).copied().unwrap_or(0)),
            )
        })
        .collect();
    let numbers: Vec<f64> = values.values().filter_map(Value::as_f64).collect();
    json!({
        "set": map.set,
        "measure": "count",
        "method": classes::Method::Quantile,
        "breaks": classes::breaks(&numbers, MAP_CLASSES, classes::Method::Quantile),
        "values": values,
    })
}

#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod overview_tests {
    use super::*;
    use crate::live::Hub;

    #[tokio::test]
    async fn a_new_complaint_patches_only_what_it_changed() {
        use crate::domain::Complaint;
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let complaint = |id: &str, category: &str| Complaint::sample(id, category, at);
        let labels = Labels {
            names: RegionNames::from([("35.75.01".to_owned(), "Gadingrejo".to_owned())]),
            map: Some(MapSet {
                set: "kota_pasuruan_desa_kelurahan".into(),
                regions: vec!["35.75.01.1001".into(), "35.75.01.1002".into()],
            }),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Default::default()).await.unwrap();
        let hub = Hub::new(4);
        for (id, category) in [("1", "Sampah"), ("2", "Jalan Rusak")] {
            store
                .append_complaints(vec![complaint(id, category)])
                .await
                .unwrap();
            publish_now(&store, &hub, &labels).await;
        }

        let state = hub.get(OVERVIEW_TOPIC).unwrap();
        let patch: Value = serde_json::from_str(state.patch_frame.as_ref().unwrap()).unwrap();
        let merge = &patch["merge"];
        assert_eq!(merge["total"], 2);
        assert_eq!(merge["open"], 2);
        assert_eq!(merge["by_category"], json!({"Jalan Rusak": 1}));
        assert_eq!(merge["by_kecamatan"], json!({"35.75.01": {"count": 2}}));
        let newest = merge["newest"].as_object().unwrap();
        assert_eq!(newest.keys().collect::<Vec<_>>(), ["test/2"]);
        assert_eq!(newest["test/2"]["kelurahan_name"], "35.75.01.1001");
        // The map moves by one region's value; the region without complaints stays 0.
        assert_eq!(merge["map"]["values"], json!({"35.75.01.1001": 2}));
        let full = &hub.get(OVERVIEW_TOPIC).unwrap().data;
        assert_eq!(full["map"]["values"]["35.75.01.1002"], 0);
        assert_eq!(full["map"]["set"], "kota_pasuruan_desa_kelurahan");
    }
}
