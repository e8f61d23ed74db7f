//! `[export]`: how large exports and snapshots may be and how many run at once.

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[export]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// Most rows one export or snapshot may hold (a request for more is refused before anything
    /// is written).
    pub max_rows: u64,
    /// Exports and snapshots running at once on this server.
    pub max_concurrent: usize,
    /// Exports and snapshots one client (a known token, else its address) may run at once.
    pub max_per_client: usize,
    /// Seconds a download may take nothing from the server before it is abandoned and its slot
    /// freed (a client that stops reading must not hold a slot for ever).
    pub stall_timeout_secs: u64,
    /// Snapshots one client (a token, else an address) may take in an hour.
    pub snapshots_per_hour: u32,
    /// Megabytes of snapshot files one client may keep; past it, new snapshots are refused.
    pub snapshot_quota_mb: u64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            max_rows: 20_000_000,
            max_concurrent: 4,
            max_per_client: 2,
            stall_timeout_secs: 60,
            snapshots_per_hour: 60,
            snapshot_quota_mb: 2048,
        }
    }
}

impl ExportSettings {
    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("max_rows", self.max_rows, 1..=1_000_000_000);
        c.range("max_concurrent", self.max_concurrent, 1..=64);
        c.range("max_per_client", self.max_per_client, 1..=64);
        c.range("stall_timeout_secs", self.stall_timeout_secs, 1..=3600);
        c.range("snapshots_per_hour", self.snapshots_per_hour, 1..=100_000);
        c.range("snapshot_quota_mb", self.snapshot_quota_mb, 1..=10_000_000);
    }
}
