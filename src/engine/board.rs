//! Keeps every dashboard panel's topic current: after store commits (only panels of the
//! datasets that changed), after a dashboard file changes (only that dashboard), as the clock
//! moves (panels with windows, SLA deadlines or comparisons), and after source-health changes.

use std::collections::BTreeMap;
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
    /// How long events are gathered into one recomputation.
    pub coalesce: Duration,
}

/// A dataset's identity at a snapshot: it changed when this did.
type Stamp = (u64, u64, Option<DateTime<Utc>>);

fn stamp(snapshot: &StoreSnapshot, d: Dataset) -> Stamp {
    let v = snapshot.table(d);
    (v.rows(), v.current_rows(), v.updated_at())
}

/// What has been computed: the dashboards and each dataset's state the panels reflect.
pub struct Computed {
    loaded: BTreeMap<String, Arc<Dashboard>>,
    seen: [Stamp; 3],
}

/// A panel to compute: its dashboard and its index there.
type Work = Vec<(Arc<Dashboard>, usize)>;

impl Board {
    /// Computes and publishes every panel of every dashboard over `snapshot` (at start, so the
    /// first clients find values); [`Board::run`] continues from what this computed.
    pub async fn publish_all(&self, snapshot: Arc<StoreSnapshot>) -> Computed {
        let loaded = self.catalog.dashboards();
        let work = loaded
            .values()
            .flat_map(|d| (0..d.panels.len()).map(move |i| (d.clone(), i)))
            .collect();
        let seen = Dataset::ALL.map(|d| stamp(&snapshot, d));
        self.evaluate(snapshot, work).await;
        Computed { loaded, seen }
    }

    /// Keeps the panels current until `shutdown`, starting from what `publish_all` computed.
    ///
    /// Events are gathered for `coalesce` after the first one, so a commit and the source-health
    /// change that follows it (the pull that delivered it) are one pass and one publish: every
    /// screen gets one write for both.
    pub async fn run(self, store: Store, mut computed: Computed, shutdown: CancellationToken) {
        let mut commits = store.subscribe();
        let mut catalog_changes = self.catalog.changes();
        let mut health_changes = self.health.changes();
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.clock, self.clock);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // What `publish_all` computed is current; pick up anything that changed since.
        let mut clock = false;
        let mut health = false;
        loop {
            let snapshot = commits.borrow_and_update().clone();
            catalog_changes.borrow_and_update();
            let mut work = self.changed(&mut computed, &snapshot);
            // Panels moved by the clock, or by a source's health.
            for d in computed.loaded.values() {
                for (i, p) in d.panels.iter().enumerate() {
                    let moved = (clock && moves_with_clock(p))
                        || (health && p.kind == PanelKind::SourceHealth);
                    if moved && !work.iter().any(|(w, j)| Arc::ptr_eq(w, d) && *j == i) {
                        work.push((d.clone(), i));
                    }
                }
            }
            self.evaluate(snapshot, work).await;
            (clock, health) = (false, false);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = commits.changed() => if changed.is_err() { break },
                changed = catalog_changes.changed() => if changed.is_err() { break },
                changed = health_changes.changed() => {
                    if changed.is_err() { break }
                    health = true;
                }
                _ = tick.tick() => clock = true,
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.coalesce) => {}
            }
            if health_changes.has_changed().unwrap_or(false) {
                health_changes.borrow_and_update();
                health = true;
            }
        }
    }

    /// The panels a new catalog or snapshot changed: every panel of an added or changed
    /// dashboard, every panel over a dataset that changed. Topics of panels that are gone are
    /// removed.
    fn changed(&self, computed: &mut Computed, snapshot: &StoreSnapshot) -> Work {
        let current = self.catalog.dashboards();
        let mut work: Work = Vec::new();
        for (id, d) in &current {
            if computed
                .loaded
                .get(id)
                .is_none_or(|old| !Arc::ptr_eq(old, d))
            {
                work.extend((0..d.panels.len()).map(|i| (d.clone(), i)));
            }
        }
        for (id, old) in &computed.loaded {
            let kept = current.get(id);
            for p in &old.panels {
                if kept.is_none_or(|d| !d.panels.iter().any(|n| n.id == p.id)) {
                    self.hub.remove(&topic(id, &p.id));
                }
            }
        }
        computed.loaded = current;
        for d in Dataset::ALL {
            let now = stamp(snapshot, d);
            if now == computed.seen[d.index()] {
                continue;
            }
            computed.seen[d.index()] = now;
            for board in computed.loaded.values() {
                for (i, p) in board.panels.iter().enumerate() {
                    let listed = work.iter().any(|(w, j)| Arc::ptr_eq(w, board) && *j == i);
                    if p.dataset() == Some(d) && !listed {
                        work.push((board.clone(), i));
                    }
                }
            }
        }
        work
    }

    /// Computes the panels on the blocking pool (polars must not run on the sockets' workers)
    /// and publishes them together; the hub sends nothing for a value that did not change.
    async fn evaluate(&self, snapshot: Arc<StoreSnapshot>, work: Work) {
        if work.is_empty() {
            return;
        }
        let sources = self.health.list();
        let context = self.context.clone();
        let panels = work.len();
        let started = Instant::now();
        let computed = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let frames = Frames::new(&snapshot);
            work.into_iter()
                .map(|(d, i)| {
                    let p = &d.panels[i];
                    let value = panel::evaluate(&d, p, &frames, &sources, &context, now);
                    let committed_at = match p.dataset() {
                        Some(ds) => snapshot.table(ds).updated_at(),
                        None => sources.iter().filter_map(|s| s.last_success).max(),
                    };
                    (topic(&d.id, &p.id), committed_at, value)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(computed) = computed else {
            tracing::error!("Panel computation stopped.");
            return;
        };
        // All at once: a screen following the dashboard gets every changed panel in one write.
        let values = computed
            .into_iter()
            .filter_map(|(topic, committed_at, value)| match value {
                Ok(value) => Some((topic, committed_at, value)),
                Err(e) => {
                    tracing::error!(%topic, error = %e, "Panel not updated; it keeps its last value.");
                    None
                }
            });
        self.hub.publish_all(values);
        tracing::debug!(
            panels,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Panels computed."
        );
    }
}

/// A panel whose value changes with time alone.
fn moves_with_clock(p: &crate::dashboards::Panel) -> bool {
    p.compare_secs.is_some() || p.query.as_ref().is_some_and(|q| q.moves_with_clock())
}
