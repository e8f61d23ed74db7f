//! `[dashboards]`: where the dashboard files are and how often they and the clock are looked at.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[dashboards]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DashboardSettings {
    /// Directory of `*.toml` dashboard files; unset: `./dashboards`, else the shipped ones.
    pub dir: Option<PathBuf>,
    /// How often the directory is re-read for changed files, milliseconds.
    pub reload_ms: u64,
    /// How often panels that move with the clock (windows, SLA deadlines, comparisons) are
    /// recomputed, milliseconds.
    pub clock_ms: u64,
    /// How long events (a commit, the source-health change that follows it) are gathered into
    /// one recomputation and one publish, milliseconds.
    pub coalesce_ms: u64,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            dir: None,
            reload_ms: 250,
            clock_ms: 5_000,
            coalesce_ms: 10,
        }
    }
}

impl DashboardSettings {
    /// The dashboards directory: configured, else `./dashboards` when there is one, else the
    /// dashboards shipped with the source.
    pub fn resolved_dir(&self) -> PathBuf {
        if let Some(dir) = &self.dir {
            return dir.clone();
        }
        let local = PathBuf::from("dashboards");
        if local.is_dir() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
    }

    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("reload_ms", self.reload_ms, 50..=60_000);
        c.range("clock_ms", self.clock_ms, 100..=3_600_000);
        c.range("coalesce_ms", self.coalesce_ms, 0..=1_000);
    }
}
