//! `[ingest]` (the boundary set complaints are placed in) and `[simulator]` (the demo's three
//! simulated sources: complaints, budget execution and service events).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::config::SourceConfig;
use super::kinds::simulator::SimulatorConfig;
use super::kinds::SourceKind;
use crate::domain::settings::Checks;
use crate::domain::Dataset;

/// Id of the demo's complaint simulator (keys its cursor and the complaints it files).
pub const SIMULATOR_SOURCE_ID: &str = "simulator";
/// Id of the demo's budget-execution simulator.
pub const SIMULATOR_BUDGET_ID: &str = "simulator-apbd";
/// Id of the demo's service-event simulator.
pub const SIMULATOR_SERVICES_ID: &str = "simulator-layanan";

/// `[ingest]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Kelurahan/desa (or kecamatan) boundaries (GeoJSON) that complaints with coordinates but no
    /// region codes are placed in; unset means the simulator's set (the shipped Kota Pasuruan
    /// kelurahan by default).
    pub boundaries: Option<PathBuf>,
}

/// `[simulator]`: the demo's sources. When enabled (always in `pantau demo`), three ordinary
/// `type = "simulator"` sources run before the configured ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SimulatorSettings {
    /// Run the simulator sources (always on in `pantau demo`).
    pub enabled: bool,
    /// Kelurahan/desa boundaries (GeoJSON) to place complaints in; unset means the shipped Kota Pasuruan set.
    pub boundaries: Option<PathBuf>,
    /// Time between two simulated batches of complaints (budget and service events: five times as long).
    pub interval_ms: u64,
    /// Largest number of complaints in one batch (each batch has 1..=this many).
    pub max_batch: u32,
    /// Seed for reproducible runs; unset means a new random sequence each start.
    pub seed: Option<u64>,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            boundaries: None,
            interval_ms: 1000,
            max_batch: 4,
            seed: None,
        }
    }
}

impl SimulatorSettings {
    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("interval_ms", self.interval_ms, 10..=3_600_000);
        c.range("max_batch", self.max_batch, 1..=10_000);
    }

    /// The demo's sources when enabled, none otherwise: complaints every `interval_ms`, budget
    /// lines and service events every five times that, over `boundaries` (absolute or relative
    /// to the working directory, as given on the command line or in the file).
    pub fn sources(&self) -> Vec<SourceConfig> {
        if !self.enabled {
            return Vec::new();
        }
        let secs = self.interval_ms as f64 / 1000.0;
        let source = |id: &str, dataset: Dataset, interval_secs: f64| SourceConfig {
            id: id.to_owned(),
            interval_secs,
            enabled: true,
            mapping: None,
            kind: SourceKind::Simulator(SimulatorConfig {
                boundaries: self.boundaries.as_deref().map(absolute),
                max_batch: self.max_batch,
                seed: self.seed,
                dataset: dataset.name().to_owned(),
            }),
        };
        vec![
            source(SIMULATOR_SOURCE_ID, Dataset::Complaints, secs),
            source(SIMULATOR_BUDGET_ID, Dataset::BudgetLines, secs * 5.0),
            source(SIMULATOR_SERVICES_ID, Dataset::ServiceEvents, secs * 5.0),
        ]
    }
}

/// A path as given, made absolute against the working directory (a source's relative paths are
/// read against the config file's directory).
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
