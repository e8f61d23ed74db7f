//! What a server needs to answer export and snapshot requests: the limits, the gate that bounds
//! how many run at once, the snapshots, region shapes, the data and dashboards, and the
//! evaluation of a dashboard as of a past moment. The requests themselves are [`super::requests`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::regions::Regions;
use super::requests::CurrentValues;
use super::snapshot::{freeze, FrozenDashboard, Snapshots};
use super::ExportError;
use super::ExportSettings;
use crate::dashboards::Catalog;
use crate::dashboards::Dashboard;
use crate::engine::panel::{evaluate_at, PanelContext};
use crate::engine::query::Frames;
use crate::store::Store;
use crate::store::StoreSnapshot;
use crate::telemetry::Metrics;

/// Why an export could not start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// The server runs as many as it may.
    #[error("{0} exports are running on this server; try again when one has finished")]
    Server(usize),
    /// This client runs as many as it may.
    #[error("you have {0} exports running; wait for one to finish")]
    Client(usize),
}

/// Bounds the exports running at once, in all and per client.
pub struct Gate {
    max_total: usize,
    max_per_client: usize,
    running: Mutex<HashMap<String, usize>>,
}

/// One running export; dropping it lets the next one in.
pub struct Permit {
    gate: Arc<Gate>,
    client: String,
}

impl Gate {
    /// A gate for `max_total` exports, `max_per_client` of one client.
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<Gate> {
        Arc::new(Gate {
            max_total,
            max_per_client,
            running: Mutex::default(),
        })
    }

    /// Admits one export of `client`, or says why not.
    pub fn enter(self: &Arc<Self>, client: &str) -> Result<Permit, Busy> {
        let mut running = self.lock();
        let total: usize = running.values().sum();
        if total >= self.max_total {
            return Err(Busy::Server(total));
        }
        let mine = running.entry(client.to_owned()).or_default();
        if *mine >= self.max_per_client {
            return Err(Busy::Client(*mine));
        }
        *mine += 1;
        Ok(Permit {
            gate: self.clone(),
            client: client.to_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut running = self.gate.lock();
        if let Some(n) = running.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.client);
            }
        }
    }
}

/// Exports and snapshots of one server.
pub struct Exports {
    /// Most rows one export or snapshot may hold.
    pub max_rows: u64,
    /// Running exports, bounded.
    pub gate: Arc<Gate>,
    /// How long a download may take nothing before it is abandoned.
    pub stall_timeout: std::time::Duration,
    /// The snapshot files and records.
    pub snapshots: Snapshots,
    /// Snapshots one client may take in an hour.
    pub snapshots_per_hour: u32,
    /// Bytes of snapshots one client may keep.
    pub snapshot_quota_bytes: u64,
    /// Region names and shapes for map panels.
    pub regions: Regions,
    /// Boundary sets for evaluating map panels as of a past moment.
    pub panels: Arc<PanelContext>,
    /// The deployment's zone (dataset exports' times, relative windows).
    pub time_zone: Tz,
    /// The data exported.
    pub store: Store,
    /// The dashboards whose panels are exported and frozen.
    pub dashboards: Catalog,
    /// The panel values the screens have now.
    pub current: CurrentValues,
    /// Export counters.
    pub metrics: Metrics,
}

/// What exports read besides their settings.
pub struct ExportInputs {
    /// The snapshot files and records.
    pub snapshots: Snapshots,
    /// Region names and shapes for map panels.
    pub regions: Regions,
    /// Boundary sets for evaluating map panels as of a past moment.
    pub panels: Arc<PanelContext>,
    /// The deployment's zone.
    pub time_zone: Tz,
    /// The data.
    pub store: Store,
    /// The dashboards.
    pub dashboards: Catalog,
    /// The panel values the screens have now.
    pub current: CurrentValues,
    /// Export counters.
    pub metrics: Metrics,
}

impl Exports {
    /// From the `[export]` settings and what exports read.
    pub fn new(settings: &ExportSettings, inputs: ExportInputs) -> Exports {
        Exports {
            max_rows: settings.max_rows,
            gate: Gate::new(settings.max_concurrent, settings.max_per_client),
            stall_timeout: std::time::Duration::from_secs(settings.stall_timeout_secs),
            snapshots: inputs.snapshots,
            snapshots_per_hour: settings.snapshots_per_hour,
            snapshot_quota_bytes: settings.snapshot_quota_mb.saturating_mul(1024 * 1024),
            regions: inputs.regions,
            panels: inputs.panels,
            time_zone: inputs.time_zone,
            store: inputs.store,
            dashboards: inputs.dashboards,
            current: inputs.current,
            metrics: inputs.metrics,
        }
    }

    /// `dashboard` as it was at `at`: every panel computed over the versions current then, with
    /// windows and SLA deadlines at that clock (source-health panels have no past: null).
    pub fn dashboard_as_of(
        &self,
        dashboard: &Dashboard,
        snapshot: &StoreSnapshot,
        at: DateTime<Utc>,
    ) -> Result<FrozenDashboard, ExportError> {
        let frames = Frames::new(snapshot);
        let mut failed = None;
        let frozen = freeze(
            dashboard,
            |panel| match evaluate_at(dashboard, panel, &frames, &[], &self.panels, at, true) {
                Ok(value) => value,
                Err(e) => {
                    failed.get_or_insert(e);
                    serde_json::Value::Null
                }
            },
            Some(&self.regions),
        );
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(frozen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_bounds_exports_in_all_and_per_client_and_reopens_on_drop() {
        let gate = Gate::new(3, 2);
        let a1 = gate.enter("a").unwrap();
        let _a2 = gate.enter("a").unwrap();
        assert_eq!(gate.enter("a").err(), Some(Busy::Client(2)));
        let _b1 = gate.enter("b").unwrap();
        assert_eq!(gate.enter("c").err(), Some(Busy::Server(3)));
        drop(a1);
        let _c1 = gate.enter("c").unwrap();
        assert_eq!(gate.enter("a").err(), Some(Busy::Server(3)));
    }
}
