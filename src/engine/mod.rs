//! The engine: turns store commits into panel results and publishes them as live topics.
//!
//! Owns what each panel shows. Knows the store and the hub, nothing of HTTP or sockets.
//!
//! This first version publishes one fixed panel, `overview/complaints` (totals, status mix,
//! categories, kecamatan and the newest complaints), recomputed from the store's running tallies on
//! every commit. Dashboards from `dashboards/*.toml` compiled to queries replace the fixed panel.

use std::collections::HashMap;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::domain::Status;
use crate::live::Hub;
use crate::store::{Store, StoreSnapshot};

/// Topic of the complaints overview panel.
pub const OVERVIEW_TOPIC: &str = "overview/complaints";

/// Names of regions by Kemendagri code, to label panels.
pub type RegionNames = HashMap<String, String>;

/// Publishes the overview once now and after every store commit, until `shutdown`.
/// A burst of commits while a publish runs is coalesced into one publish of the newest state.
pub async fn run(store: Store, hub: Hub, names: RegionNames, shutdown: CancellationToken) {
    let mut commits = store.subscribe();
    loop {
        let snapshot = commits.borrow_and_update().clone();
        hub.publish(
            OVERVIEW_TOPIC,
            snapshot.committed_at,
            overview(&snapshot, &names),
        );
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = commits.changed() => if changed.is_err() { break },
        }
    }
}

/// Publishes the overview of the store's current state right away (used at start).
pub fn publish_now(store: &Store, hub: &Hub, names: &RegionNames) {
    let snapshot = store.snapshot();
    hub.publish(
        OVERVIEW_TOPIC,
        snapshot.committed_at,
        overview(&snapshot, names),
    );
}

/// The overview panel's value.
pub fn overview(snapshot: &StoreSnapshot, names: &RegionNames) -> Value {
    let tally = &snapshot.complaints;
    let count = |status| tally.by_status.get(&status).copied().unwrap_or(0);
    let closed = count(Status::Resolved) + count(Status::Rejected);
    let mut categories: Vec<(&String, &u64)> = tally.by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut kecamatan: Vec<(&String, &u64)> = tally.by_kecamatan.iter().collect();
    kecamatan.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let name_of = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());
    json!({
        "total": tally.total,
        "open": tally.total - closed,
        "resolved": count(Status::Resolved),
        "rejected": count(Status::Rejected),
        "by_status": tally.by_status,
        "by_category": categories
            .iter()
            .map(|(category, n)| json!({"category": category, "count": n}))
            .collect::<Vec<_>>(),
        "by_kecamatan": kecamatan
            .iter()
            .map(|(code, n)| json!({"code": code, "name": name_of(code), "count": n}))
            .collect::<Vec<_>>(),
        "newest": tally
            .newest
            .iter()
            .map(|c| {
                let kelurahan = c.kelurahan.as_ref().map(|k| k.to_string());
                json!({
                    "id": c.source_id,
                    "category": c.category,
                    "opd": c.opd,
                    "status": c.status,
                    "kelurahan": kelurahan,
                    "kelurahan_name": kelurahan.as_deref().map(name_of),
                    "created_at": c.created_at,
                })
            })
            .collect::<Vec<_>>(),
    })
}
