//! `[live]`: who may connect over WebSocket and the bounds every connection lives within.

use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[live]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LiveSettings {
    /// Moved to `access.anonymous` (one rule for every path); refused with that advice.
    pub anonymous: Option<bool>,
    /// Moved to `access.tokens_file`; refused with that advice.
    pub tokens_file: Option<PathBuf>,
    /// Browser origins allowed besides the server's own (e.g. `https://dashboard.pasuruankota.go.id`).
    pub allowed_origins: Vec<String>,
    /// Open WebSocket connections allowed from one IP address.
    pub max_connections_per_ip: usize,
    /// Largest client message, in bytes.
    pub max_message_bytes: usize,
    /// Most topics one connection may follow.
    pub max_topics: usize,
    /// Client messages per second (a burst of twice as many is tolerated).
    pub messages_per_second: u32,
    /// Refused client messages tolerated before the connection is closed.
    pub max_errors: u32,
    /// Seconds between server pings.
    pub ping_interval_secs: u64,
    /// Seconds of client silence after which the connection is closed.
    pub idle_timeout_secs: u64,
    /// Patches kept per topic so a reconnecting client gets exactly what it missed.
    pub history: usize,
    /// Least time between two writes of updates to one client, milliseconds: updates that come
    /// closer together go out together (a wall needs no more than 20 per second); 0 sends each
    /// at once.
    pub min_send_interval_ms: u64,
    /// Map views (`view` messages) computed at once over all connections; more wait their turn.
    pub max_concurrent_views: usize,
    /// Seconds a map view may wait for its turn before it is refused with `server_busy`.
    pub view_wait_secs: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            anonymous: None,
            tokens_file: None,
            allowed_origins: Vec::new(),
            max_connections_per_ip: 256,
            max_message_bytes: 64 * 1024,
            max_topics: 256,
            messages_per_second: 20,
            max_errors: 20,
            ping_interval_secs: 20,
            idle_timeout_secs: 60,
            history: 64,
            min_send_interval_ms: 50,
            max_concurrent_views: 4,
            view_wait_secs: 10,
        }
    }
}

impl LiveSettings {
    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.check(
            self.anonymous.is_none(),
            "anonymous",
            "moved: one rule now governs HTTP, WebSocket and pages; set access.anonymous to \
             none or a role (e.g. \"wall\"), see docs/security.md",
        );
        c.check(
            self.tokens_file.is_none(),
            "tokens_file",
            "moved to access.tokens_file (same format; roles display/viewer are now wall/pimpinan)",
        );
        c.range(
            "max_connections_per_ip",
            self.max_connections_per_ip,
            1..=100_000,
        );
        c.range(
            "max_message_bytes",
            self.max_message_bytes,
            256..=16 * 1024 * 1024,
        );
        c.range("max_topics", self.max_topics, 1..=100_000);
        c.range("messages_per_second", self.messages_per_second, 1..=10_000);
        c.range("max_errors", self.max_errors, 0..=100_000);
        c.range("ping_interval_secs", self.ping_interval_secs, 1..=3600);
        c.range("history", self.history, 0..=100_000);
        c.range("max_concurrent_views", self.max_concurrent_views, 1..=256);
        c.range("view_wait_secs", self.view_wait_secs, 1..=300);
        c.range(
            "min_send_interval_ms",
            self.min_send_interval_ms,
            0..=10_000,
        );
        c.check(
            self.idle_timeout_secs > self.ping_interval_secs && self.idle_timeout_secs <= 86_400,
            "idle_timeout_secs",
            format!(
                "must be greater than live.ping_interval_secs ({}) and at most 86400, got {}",
                self.ping_interval_secs, self.idle_timeout_secs
            ),
        );
        for origin in &self.allowed_origins {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            c.check(
                host.is_some_and(|h| !h.is_empty() && !h.contains('/')),
                "allowed_origins",
                format!(
                    "'{origin}' must be a scheme and host like https://example.go.id, without a path"
                ),
            );
        }
    }
}
