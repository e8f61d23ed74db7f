//! Typed settings of a Pantau instance, composed of every room's own section.
//!
//! Each room owns its section's shape, defaults and checks (`[live]` is
//! [`crate::live::LiveSettings`], `[export]` is [`crate::export::ExportSettings`], …); this room
//! only composes them, layers file → environment → command line ([`load`]), runs every section's
//! checks and says where a wrong value came from. Must not open anything but the config file and
//! the secret files it names.

mod load;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod fuzz;
pub use load::{ConfigError, ConfigIssue, Overrides};

use crate::access::AccessSettings;
use crate::dashboards::DashboardSettings;
use crate::db::{DatabaseSettings, DatabaseTarget};
use crate::domain::settings::DeploymentSettings;
use crate::export::ExportSettings;
use crate::http::ServerSettings;
use crate::ingest::{IngestSettings, SimulatorSettings, SourceConfig};
use crate::live::LiveSettings;
use crate::store::StoreSettings;
use crate::telemetry::LogSettings;

/// Everything an instance needs to start, after defaults, file, environment and command line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// HTTP listener and shutdown behaviour.
    pub server: ServerSettings,
    /// Where this instance keeps its files.
    pub data: DataSettings,
    /// The deployment: name shown to people and its time zone.
    pub deployment: DeploymentSettings,
    /// The metadata database (cursors, quarantine, snapshots).
    pub database: DatabaseSettings,
    /// Log output.
    pub log: LogSettings,
    /// Who may do what: the anonymous rule, the tokens file, audit retention.
    pub access: AccessSettings,
    /// WebSocket clients: origins, limits, heartbeats, resume history.
    pub live: LiveSettings,
    /// The demo's simulated sources.
    pub simulator: SimulatorSettings,
    /// The columnar store: hot window and checkpoints.
    pub store: StoreSettings,
    /// Ingest-wide settings: the boundary set for geo-enrichment.
    pub ingest: IngestSettings,
    /// Dashboards as code: where the files are and how often they and the clock are looked at.
    pub dashboards: DashboardSettings,
    /// Exports and snapshots: how large and how many at once.
    pub export: ExportSettings,
    /// `[[sources]]`: the sources to pull, each selected by its `type`.
    pub sources: Vec<SourceConfig>,
    /// Where the configuration came from, for messages; not a TOML key.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

impl Settings {
    /// The boundary set complaints are placed in by coordinates: `ingest.boundaries`, else the
    /// simulator's; `None` means the shipped Kota Pasuruan kelurahan.
    pub fn enrichment_boundaries(&self) -> Option<&Path> {
        self.ingest
            .boundaries
            .as_deref()
            .or(self.simulator.boundaries.as_deref())
    }

    /// Every source to run: the demo's simulators when `[simulator]` is enabled, then
    /// `[[sources]]`.
    pub fn all_sources(&self) -> Vec<SourceConfig> {
        let mut all = self.simulator.sources();
        all.extend(self.sources.iter().cloned());
        all
    }

    /// The directory relative paths in the configuration are read from: the config file's, else
    /// the working directory.
    pub fn config_dir(&self) -> PathBuf {
        self.origin
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// `[data]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DataSettings {
    /// Directory for the SQLite database and the store's files; created if missing.
    pub dir: PathBuf,
}

impl Default for DataSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./data"),
        }
    }
}

impl Settings {
    /// The metadata database to use. Reads `database.url_file` when set.
    pub fn database_target(&self) -> Result<DatabaseTarget, ConfigError> {
        self.database
            .target(&self.data.dir)
            .map_err(|issue| ConfigError::single(self.origin_label(), &issue.key, issue.reason))
    }

    /// Name of the file the settings came from, or `defaults`.
    pub fn origin_label(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| "defaults".to_owned(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        let settings = Settings::default();
        match settings.database_target().unwrap() {
            DatabaseTarget::Sqlite(path) => assert_eq!(path, PathBuf::from("./data/pantau.db")),
            other => panic!("expected sqlite, got {other:?}"),
        }
    }

    #[test]
    fn the_demo_sources_come_first_and_are_ordinary_simulator_sources() {
        let mut settings = Settings::default();
        assert!(settings.all_sources().is_empty());
        settings.simulator.enabled = true;
        settings.simulator.interval_ms = 200;
        let ids: Vec<(String, f64)> = settings
            .all_sources()
            .into_iter()
            .map(|s| (s.id, s.interval_secs))
            .collect();
        assert_eq!(
            ids,
            [
                ("simulator".to_owned(), 0.2),
                ("simulator-apbd".to_owned(), 1.0),
                ("simulator-layanan".to_owned(), 1.0)
            ]
        );
    }
}
