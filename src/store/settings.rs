//! `[store]`: the hot window and how often checkpoints are written.

use std::time::Duration;

use serde::Deserialize;

use super::StoreOptions;
use crate::domain::settings::Checks;

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    /// Days of history kept in memory (the hot window); 0 keeps everything hot.
    pub retention_days: u32,
    /// Seconds between checkpoints while data arrives.
    pub checkpoint_interval_secs: u64,
    /// Checkpoint early once the log holds this many MiB.
    pub checkpoint_log_mib: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            retention_days: 90,
            checkpoint_interval_secs: 300,
            checkpoint_log_mib: 256,
        }
    }
}

impl StoreSettings {
    /// The store's options.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            retention: (self.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400)),
            checkpoint_interval: Duration::from_secs(self.checkpoint_interval_secs),
            checkpoint_log_bytes: self.checkpoint_log_mib << 20,
        }
    }

    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("retention_days", self.retention_days, 0..=36_500);
        c.range(
            "checkpoint_interval_secs",
            self.checkpoint_interval_secs,
            1..=86_400,
        );
        c.range("checkpoint_log_mib", self.checkpoint_log_mib, 1..=65_536);
    }
}
