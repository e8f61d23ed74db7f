//! Keeps every dashboard panel's topic current, in two lanes.
//!
//! - **Fast lane**, after each commit (with the source-health change of the pull that made it,
//!   waited for at most `coalesce`; commits landing during a pass join the next): the
//!   decomposable panels
//!   of the datasets that changed are brought forward from the commit's delta
//!   ([`incremental`](super::incremental), O(batch) whatever the history), the other panels of
//!   those datasets whose last full computation took at most [`FAST_FULL`] (a table of the
//!   newest rows reads only the newest chunks) are computed again, the source-health panels come
//!   from the health registry; all published together, so a commit reaches a screen in one write.
//! - **Slow lane**, a background task: everything that needs every row and costs more —
//!   panels that are not decomposable (medians, wide tables) after their dataset changed; panels
//!   of a changed dashboard file; and, on every clock tick, the panels that move with the clock
//!   (windows, SLA deadlines, KPI comparisons), whose tracked sums are rebuilt at the clock's
//!   time and then brought forward to the newest commit before they replace the fast lane's.
//!
//! Tracked sums are changed and published under one lock, so the two lanes never publish a
//! panel out of order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use polars_core::POOL;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::incremental::Tracked;
use super::panel::{self, PanelContext};
use super::query::{Frames, Moment, QueryError};
use super::TopicSink;
use crate::dashboards::kinds::Input;
use crate::dashboards::model::Query;
use crate::dashboards::{topic, Catalog, Dashboard, Panel};
use crate::domain::Dataset;
use crate::domain::SourceHealth;
use crate::store::{Store, StoreSnapshot};

/// What the dashboard runner reads and where it publishes.
#[derive(Clone)]
pub struct Board {
    /// The loaded dashboards.
    pub catalog: Catalog,
    /// Where panel values go (the live hub, connected in `startup`).
    pub sink: Arc<dyn TopicSink>,
    /// Sources' health, for source-health panels.
    pub health: SourceHealth,
    /// Region sets for choropleths.
    pub context: Arc<PanelContext>,
    /// How often panels that move with the clock are recomputed.
    pub clock: Duration,
    /// How long a commit waits for the source-health change of its pull (or that change for its
    /// commit, a dashboard change for both) to join its pass.
    pub coalesce: Duration,
}

/// A dataset's identity at a snapshot: it changed when this did.
type Stamp = (u64, u64, Option<DateTime<Utc>>);

fn stamp(snapshot: &StoreSnapshot, d: Dataset) -> Stamp {
    let v = snapshot.table(d);
    (v.rows(), v.current_rows(), v.updated_at())
}

/// The tracked sums of decomposable panels, by topic.
type TrackedPanels = Arc<Mutex<HashMap<String, Tracked>>>;

/// How long each panel's last full computation took, by topic.
type Costs = Arc<Mutex<HashMap<String, Duration>>>;

/// A panel that is not followed from deltas but whose last full computation took at most this
/// long (a table over the newest chunks, a budget line sum) is computed again in the fast lane's
/// pass after a commit of its dataset, so a commit reaches a screen in one write.
const FAST_FULL: Duration = Duration::from_millis(2);

/// What has been computed: the dashboards, each dataset's state the panels reflect, and the
/// tracked sums.
pub struct Computed {
    loaded: BTreeMap<String, Arc<Dashboard>>,
    seen: [Stamp; 3],
    tracked: TrackedPanels,
    costs: Costs,
}

/// A panel to compute: its dashboard and its index there.
type Work = Vec<(Arc<Dashboard>, usize)>;

/// A panel computed from every row: its topic, its value, and for a decomposable panel the sums.
type Full = (String, Result<Value, QueryError>, Option<Tracked>);

fn moment(d: &Dashboard, now: DateTime<Utc>) -> Moment {
    Moment {
        now,
        as_of: false,
        tz: d.time_zone,
        fiscal_start: d.fiscal_year_start,
    }
}

/// When the data behind a panel was committed.
fn committed_at(
    p: &Panel,
    snapshot: &StoreSnapshot,
    sources: &[crate::domain::SourceStatus],
) -> Option<DateTime<Utc>> {
    match p.dataset() {
        Some(ds) => snapshot.table(ds).updated_at(),
        None => sources.iter().filter_map(|s| s.last_success).max(),
    }
}

/// A panel from every row of `snapshot`; a decomposable one with its sums (and a KPI's
/// comparison) to track.
fn full(
    d: &Dashboard,
    p: &Panel,
    frames: &Frames,
    snapshot: &StoreSnapshot,
    sources: &[crate::domain::SourceStatus],
    context: &PanelContext,
    now: DateTime<Utc>,
) -> (Result<Value, QueryError>, Option<Tracked>) {
    match &p.query {
        Some(q) if panel::incremental(p) => {
            let at = moment(d, now);
            let tracked = panel::previous(d, p, frames, now)
                .and_then(|previous| Tracked::full(q, frames, snapshot.seq, &at, previous));
            match tracked {
                Ok(t) => (Ok(shaped(d, p, q, &t, frames, context, now)), Some(t)),
                Err(e) => (Err(e), None),
            }
        }
        _ => (panel::evaluate(d, p, frames, sources, context, now), None),
    }
}

/// A tracked panel's value from its sums over the snapshot `frames` reads.
fn shaped(
    d: &Dashboard,
    p: &Panel,
    q: &Query,
    t: &Tracked,
    frames: &Frames,
    context: &PanelContext,
    now: DateTime<Utc>,
) -> Value {
    let groups = t.groups(q, frames, &moment(d, now));
    panel::shape(d, p, q, groups, t.previous.clone(), context, now)
}

/// Logs a panel whose computation failed.
fn not_updated(topic: &str, error: &QueryError) {
    tracing::error!(topic, error = %error, "Panel not updated; it keeps its last value.");
}

/// Logs a lane's pass.
fn passed(lane: &'static str, panels: usize, started: Instant) {
    tracing::debug!(
        panels,
        elapsed_ms = started.elapsed().as_millis() as u64,
        lane,
        "Panels computed."
    );
}

impl Board {
    /// Computes and publishes every panel of every dashboard over `snapshot` (at start, so the
    /// first clients find values); [`Board::run`] continues from what this computed.
    pub async fn publish_all(&self, snapshot: Arc<StoreSnapshot>) -> Computed {
        let loaded = self.catalog.dashboards();
        let work: Work = loaded
            .values()
            .flat_map(|d| (0..d.panels.len()).map(move |i| (d.clone(), i)))
            .collect();
        let seen = Dataset::ALL.map(|d| stamp(&snapshot, d));
        let (tracked, costs) = (TrackedPanels::default(), Costs::default());
        self.compute_full(&tracked, &costs, snapshot, work, None)
            .await;
        Computed {
            loaded,
            seen,
            tracked,
            costs,
        }
    }

    /// Keeps the panels current until `shutdown`, starting from what `publish_all` computed:
    /// the fast lane here, the slow lane in a task of its own.
    pub async fn run(self, store: Store, mut computed: Computed, shutdown: CancellationToken) {
        let (slow_tx, slow_rx) = mpsc::unbounded_channel::<Work>();
        let slow = tokio::spawn(self.clone().slow_lane(
            store.clone(),
            (computed.tracked.clone(), computed.costs.clone()),
            slow_rx,
            shutdown.clone(),
        ));
        let mut commits = store.subscribe();
        let mut catalog_changes = self.catalog.changes();
        let mut health_changes = self.health.changes();
        let mut health = false;
        loop {
            let snapshot = commits.borrow_and_update().clone();
            catalog_changes.borrow_and_update();
            let (fast, slow) = self.changed(&mut computed, &snapshot, health);
            if !slow.is_empty() {
                let _ = slow_tx.send(slow);
            }
            self.compute_fast(&computed.tracked, &computed.costs, snapshot, fast, &store)
                .await;
            health = false;
            let mut commit = false;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = commits.changed() => {
                    if changed.is_err() { break }
                    commit = true;
                }
                changed = catalog_changes.changed() => if changed.is_err() { break },
                changed = health_changes.changed() => {
                    if changed.is_err() { break }
                    health = true;
                }
            }
            // A pull's commit and the source-health change that follows it go out in one pass
            // and one publish: wait for the other half, at most `coalesce`.
            let gathered = tokio::time::sleep(self.coalesce);
            tokio::pin!(gathered);
            while !(commit && health) {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    () = &mut gathered => break,
                    changed = commits.changed(), if !commit => {
                        if changed.is_err() { break }
                        commit = true;
                    }
                    changed = health_changes.changed(), if !health => {
                        if changed.is_err() { break }
                        health = true;
                    }
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            if health_changes.has_changed().unwrap_or(false) {
                health_changes.borrow_and_update();
                health = true;
            }
        }
        drop(slow_tx);
        let _ = slow.await;
    }

    /// What a new catalog, snapshot or health state changed, split by lane: the fast lane takes
    /// tracked panels of the datasets that changed, the untracked ones whose last full
    /// computation was cheap ([`FAST_FULL`]) and source-health panels; the slow lane every panel
    /// of an added or changed dashboard and the other untracked panels of a changed dataset.
    /// Topics of panels that are gone are removed.
    fn changed(
        &self,
        computed: &mut Computed,
        snapshot: &StoreSnapshot,
        health: bool,
    ) -> (Work, Work) {
        let current = self.catalog.dashboards();
        let (mut fast, mut slow): (Work, Work) = (Vec::new(), Vec::new());
        let mut fresh: BTreeSet<String> = BTreeSet::new();
        for (id, d) in &current {
            if computed
                .loaded
                .get(id)
                .is_none_or(|old| !Arc::ptr_eq(old, d))
            {
                slow.extend((0..d.panels.len()).map(|i| (d.clone(), i)));
                fresh.insert(id.clone());
            }
        }
        {
            let mut tracked = lock(&computed.tracked);
            for (id, old) in &computed.loaded {
                let kept = current.get(id);
                for p in &old.panels {
                    let name = topic(id, &p.id);
                    if fresh.contains(id) {
                        // Its definition may have changed: tracked anew by the slow lane.
                        tracked.remove(&name);
                    }
                    if kept.is_none_or(|d| !d.panels.iter().any(|n| n.id == p.id)) {
                        self.sink.remove(&name);
                    }
                }
            }
        }
        computed.loaded = current;
        let tracked = lock(&computed.tracked);
        let costs = lock(&computed.costs);
        for d in Dataset::ALL {
            let now = stamp(snapshot, d);
            if now == computed.seen[d.index()] {
                continue;
            }
            computed.seen[d.index()] = now;
            for (id, board) in &computed.loaded {
                if fresh.contains(id) {
                    continue;
                }
                for (i, p) in board.panels.iter().enumerate() {
                    if p.dataset() != Some(d) {
                        continue;
                    }
                    let name = topic(id, &p.id);
                    let cheap = costs.get(&name).is_some_and(|c| *c <= FAST_FULL);
                    if tracked.contains_key(&name) || cheap {
                        fast.push((board.clone(), i));
                    } else {
                        slow.push((board.clone(), i));
                    }
                }
            }
        }
        if health {
            for (id, board) in &computed.loaded {
                if fresh.contains(id) {
                    continue;
                }
                for (i, p) in board.panels.iter().enumerate() {
                    if p.kind.kind().input(p) == Input::Sources {
                        fast.push((board.clone(), i));
                    }
                }
            }
        }
        (fast, slow)
    }

    /// The fast lane's pass: tracked panels brought forward from the deltas since the snapshot
    /// they reflect, cheap untracked panels computed in full, source-health panels from the
    /// registry; published together, under the tracked sums' lock.
    async fn compute_fast(
        &self,
        tracked: &TrackedPanels,
        costs: &Costs,
        snapshot: Arc<StoreSnapshot>,
        work: Work,
        store: &Store,
    ) {
        if work.is_empty() {
            return;
        }
        let (board, shared, timed) = (self.clone(), tracked.clone(), costs.clone());
        let panels = work.len();
        let started = Instant::now();
        // On this thread alone: the fast lane's small frames never wait behind a full
        // computation holding polars' shared pool (the slow lane's, an export's).
        let done = tokio::task::spawn_blocking(move || {
            POOL.without_threading(|| {
                let now = Utc::now();
                let sources = board.health.list();
                let frames = Frames::new(&snapshot);
                let mut sums = lock(&shared);
                let mut values = Vec::with_capacity(work.len());
                let mut stale = Vec::new();
                for (d, i) in work {
                    let p = &d.panels[i];
                    let name = topic(&d.id, &p.id);
                    let committed = committed_at(p, &snapshot, &sources);
                    let value = match (&p.query, sums.get_mut(&name)) {
                        (Some(q), Some(t)) => {
                            match t.forward(q, &frames, snapshot.seq, &moment(&d, now)) {
                                Some(applied) => applied
                                    .map(|()| shaped(&d, p, q, t, &frames, &board.context, now)),
                                None => {
                                    // Rows renumbered or deltas gone: the slow lane rebuilds it.
                                    sums.remove(&name);
                                    stale.push((d.clone(), i));
                                    continue;
                                }
                            }
                        }
                        _ => {
                            let began = Instant::now();
                            let value =
                                panel::evaluate(&d, p, &frames, &sources, &board.context, now);
                            if p.query.is_some() {
                                lock(&timed).insert(name.clone(), began.elapsed());
                            }
                            value
                        }
                    };
                    match value {
                        Ok(value) => values.push((name, committed, value)),
                        Err(e) => not_updated(&name, &e),
                    }
                }
                board.sink.publish_all(values);
                stale
            })
        })
        .await;
        match done {
            Ok(stale) if !stale.is_empty() => {
                self.compute_full(tracked, costs, store.snapshot(), stale, Some(store.clone()))
                    .await
            }
            Ok(_) => {}
            Err(_) => tracing::error!("Panel computation stopped."),
        }
        passed("fast", panels, started);
    }

    /// Computes `work` from every row of `snapshot` (on the blocking pool: polars must not run on
    /// the sockets' workers); tracked sums of decomposable panels are rebuilt, then — under the
    /// lock — brought forward to the newest commit of `store` and published with everything else.
    async fn compute_full(
        &self,
        tracked: &TrackedPanels,
        costs: &Costs,
        snapshot: Arc<StoreSnapshot>,
        work: Work,
        store: Option<Store>,
    ) {
        if work.is_empty() {
            return;
        }
        let (board, shared, timed) = (self.clone(), tracked.clone(), costs.clone());
        let panels = work.len();
        let started = Instant::now();
        let done = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let sources = board.health.list();
            let frames = Frames::new(&snapshot);
            let computed: Vec<(Arc<Dashboard>, usize, Full)> = work
                .into_iter()
                .map(|(d, i)| {
                    let p = &d.panels[i];
                    let began = Instant::now();
                    let (value, t) = full(&d, p, &frames, &snapshot, &sources, &board.context, now);
                    let name = topic(&d.id, &p.id);
                    lock(&timed).insert(name.clone(), began.elapsed());
                    (d, i, (name, value, t))
                })
                .collect();
            // Commits may have come while this ran: the rebuilt sums catch up before they
            // replace the fast lane's, so no panel goes back in time.
            let newest = store.map_or_else(|| snapshot.clone(), |s| s.snapshot());
            // Under the lock the fast lane waits for: a few commits' rows, on this thread.
            POOL.without_threading(|| {
                board.catch_up(&shared, computed, &snapshot, &newest, &sources, now)
            });
        })
        .await;
        if done.is_err() {
            tracing::error!("Panel computation stopped.");
        }
        passed("slow", panels, started);
    }

    /// Brings the sums rebuilt from `snapshot` forward to `newest` and publishes every computed
    /// value, under the tracked sums' lock. A panel whose rows were renumbered meanwhile gets its
    /// value for `snapshot` only; the next pass rebuilds its sums.
    fn catch_up(
        &self,
        tracked: &TrackedPanels,
        computed: Vec<(Arc<Dashboard>, usize, Full)>,
        snapshot: &StoreSnapshot,
        newest: &StoreSnapshot,
        sources: &[crate::domain::SourceStatus],
        now: DateTime<Utc>,
    ) {
        let newest_frames = Frames::new(newest);
        let mut sums = lock(tracked);
        let mut values = Vec::with_capacity(computed.len());
        for (d, i, (name, value, t)) in computed {
            let p = &d.panels[i];
            if let (Some(mut t), Some(q)) = (t, &p.query) {
                let forward = t.forward(q, &newest_frames, newest.seq, &moment(&d, now));
                if let Some(Ok(())) = forward {
                    let v = shaped(&d, p, q, &t, &newest_frames, &self.context, now);
                    sums.insert(name.clone(), t);
                    values.push((name, committed_at(p, newest, sources), v));
                    continue;
                }
                sums.remove(&name);
            }
            match value {
                Ok(v) => values.push((name, committed_at(p, snapshot, sources), v)),
                Err(e) => not_updated(&name, &e),
            }
        }
        self.sink.publish_all(values);
    }

    /// The slow lane: panels that need every row, as they are sent, and on each clock tick the
    /// panels that move with the clock; each pass over the newest snapshot, requests gathered.
    async fn slow_lane(
        self,
        store: Store,
        (tracked, costs): (TrackedPanels, Costs),
        mut requests: mpsc::UnboundedReceiver<Work>,
        shutdown: CancellationToken,
    ) {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.clock, self.clock);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut work: Work = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = requests.recv() => match received {
                    Some(work) => work,
                    None => break,
                },
                _ = tick.tick() => {
                    self.catalog
                        .dashboards()
                        .values()
                        .flat_map(|d| {
                            let picked: Vec<usize> = (0..d.panels.len())
                                .filter(|i| moves_with_clock(&d.panels[*i]))
                                .collect();
                            picked.into_iter().map(move |i| (d.clone(), i))
                        })
                        .collect()
                }
            };
            while let Ok(more) = requests.try_recv() {
                work.extend(more);
            }
            // One computation per panel, whatever was asked twice.
            let mut seen = BTreeSet::new();
            work.retain(|(d, i)| seen.insert(topic(&d.id, &d.panels[*i].id)));
            self.compute_full(
                &tracked,
                &costs,
                store.snapshot(),
                work,
                Some(store.clone()),
            )
            .await;
        }
    }
}

fn lock<T>(shared: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A panel whose value changes with time alone.
fn moves_with_clock(p: &Panel) -> bool {
    p.compare_secs.is_some() || p.query.as_ref().is_some_and(|q| q.moves_with_clock())
}
