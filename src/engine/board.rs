//! Keeps every dashboard panel's topic current: after store commits (only panels of the
//! datasets that changed), after a dashboard file changes (only that dashboard), as the clock
//! moves (panels with windows, SLA deadlines or comparisons), and after source-health changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::panel::{self, PanelContext};
use super::query::Frames;
use crate::dashboards::{Catalog, Dashboard, PanelKind};
use crate::ingest::SourceHealth;
use crate::live::Hub;
use crate::store::{Dataset, Store, StoreSnapshot};

/// The topic of a dashboard panel.
pub fn topic(dashboard: &str, panel: &str) -> String {
    format!("dashboards/{dashboard}/{panel}")
}

/// What the dashboard runner reads and where it publishes.
#[derive(Clone)]
pub struct Board {
    /// The loaded dashboards.
    pub catalog: Catalog,
    /// Where panel values go.
    pub hub: Hub,
    /// Sources' health, for source-health panels.
    pub health: SourceHealth,
    /// Region sets for choropleths.
    pub context: Arc<PanelContext>,
    /// How often panels that move with the clock are recomputed.
    pub clock: Duration,
}

/// Why a panel is recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Loaded,
    Data,
    Clock,
    Health,
}

/// A dataset's identity at a snapshot: it changed when this did.
fn stamp(snapshot: &StoreSnapshot, d: Dataset) -> (u64, u64, Option<DateTime<Utc>>) {
    let v = snapshot.table(d);
    (v.rows(), v.current_rows(), v.updated_at())
}

impl Board {
    /// Computes and publishes every panel of every dashboard once (at start and in tests).
    pub async fn publish_all(&self, snapshot: Arc<StoreSnapshot>) {
        let work: Vec<(Arc<Dashboard>, usize)> = self
            .catalog
            .dashboards()
            .into_values()
            .flat_map(|d| (0..d.panels.len()).map(move |i| (d.clone(), i)))
            .collect();
        self.evaluate(snapshot, work, Reason::Loaded).await;
    }

    /// Runs until `shutdown`.
    pub async fn run(self, store: Store, shutdown: CancellationToken) {
        let mut commits = store.subscribe();
        let mut catalog_changes = self.catalog.changes();
        let mut health_changes = self.health.changes();
        let mut tick = tokio::time::interval(self.clock);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut loaded: BTreeMap<String, Arc<Dashboard>> = BTreeMap::new();
        let mut seen = Dataset::ALL.map(|_| (0, 0, None));
        let mut first = true;
        loop {
            let snapshot = commits.borrow_and_update().clone();
            let mut work = Vec::new();
            // Dashboards added or changed: all their panels.
            let current = self.catalog.dashboards();
            for (id, d) in &current {
                if first || loaded.get(id).is_none_or(|old| !Arc::ptr_eq(old, d)) {
                    work.extend((0..d.panels.len()).map(|i| (d.clone(), i, Reason::Loaded)));
                }
            }
            // Panels gone with their file or from it: their topics go too.
            for (id, old) in &loaded {
                let kept = current.get(id);
                for p in &old.panels {
                    if kept.is_none_or(|d| !d.panels.iter().any(|n| n.id == p.id)) {
                        self.hub.remove(&topic(id, &p.id));
                    }
                }
            }
            loaded = current;
            // Datasets that changed: their panels.
            for d in Dataset::ALL {
                let now = stamp(&snapshot, d);
                if now != seen[d.index()] {
                    seen[d.index()] = now;
                    for board in loaded.values() {
                        for (i, p) in board.panels.iter().enumerate() {
                            if p.dataset() == Some(d) {
                                work.push((board.clone(), i, Reason::Data));
                            }
                        }
                    }
                }
            }
            first = false;
            self.run_work(snapshot, work).await;
            let reason = tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = commits.changed() => { if changed.is_err() { break } None }
                changed = catalog_changes.changed() => { if changed.is_err() { break } None }
                changed = health_changes.changed() => { if changed.is_err() { break } Some(Reason::Health) }
                _ = tick.tick() => Some(Reason::Clock),
            };
            if let Some(reason) = reason {
                let snapshot = commits.borrow().clone();
                let work: Vec<_> = loaded
                    .values()
                    .flat_map(|d| {
                        d.panels
                            .iter()
                            .enumerate()
                            .filter(|(_, p)| match reason {
                                Reason::Health => p.kind == PanelKind::SourceHealth,
                                _ => moves_with_clock(p),
                            })
                            .map(|(i, _)| (d.clone(), i, reason))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                self.run_work(snapshot, work).await;
            }
        }
    }

    async fn run_work(
        &self,
        snapshot: Arc<StoreSnapshot>,
        mut work: Vec<(Arc<Dashboard>, usize, Reason)>,
    ) {
        // One computation per panel even when several reasons name it.
        let mut seen = std::collections::HashSet::new();
        work.retain(|(d, i, _)| seen.insert((d.id.clone(), *i)));
        let reason = work.first().map_or(Reason::Data, |w| w.2);
        let work = work.into_iter().map(|(d, i, _)| (d, i)).collect();
        self.evaluate(snapshot, work, reason).await;
    }

    /// Computes the panels on the blocking pool (polars must not run on the sockets' workers)
    /// and publishes each; the hub sends nothing for a value that did not change.
    async fn evaluate(
        &self,
        snapshot: Arc<StoreSnapshot>,
        work: Vec<(Arc<Dashboard>, usize)>,
        reason: Reason,
    ) {
        if work.is_empty() {
            return;
        }
        let sources = self.health.list();
        let context = self.context.clone();
        let computed = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let frames = Frames::new(&snapshot);
            work.into_iter()
                .map(|(d, i)| {
                    let started = Instant::now();
                    let p = &d.panels[i];
                    let value = panel::evaluate(&d, p, &frames, &sources, &context, now);
                    let committed_at = match p.dataset() {
                        Some(ds) => snapshot.table(ds).updated_at(),
                        None => sources.iter().filter_map(|s| s.last_success).max(),
                    };
                    (topic(&d.id, &p.id), committed_at, value, started.elapsed())
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(computed) = computed else {
            tracing::error!("Panel computation stopped.");
            return;
        };
        let mut timings: HashMap<&'static str, Duration> = HashMap::new();
        for (topic, committed_at, value, took) in computed {
            *timings.entry(reason_name(reason)).or_default() += took;
            match value {
                Ok(value) => {
                    self.hub.publish(&topic, committed_at, value);
                }
                Err(e) => {
                    tracing::error!(%topic, error = %e, "Panel not updated; it keeps its last value.")
                }
            }
        }
        for (reason, took) in timings {
            tracing::debug!(
                reason,
                elapsed_ms = took.as_millis() as u64,
                "Panels computed."
            );
        }
    }
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Loaded => "loaded",
        Reason::Data => "data",
        Reason::Clock => "clock",
        Reason::Health => "health",
    }
}

/// A panel whose value changes with time alone.
fn moves_with_clock(p: &crate::dashboards::Panel) -> bool {
    p.compare_secs.is_some() || p.query.as_ref().is_some_and(|q| q.moves_with_clock())
}
