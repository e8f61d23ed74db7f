//! `[server]`: the HTTP listener, the static pages and how long requests and shutdown may take.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address and port to listen on; several instances need different ports.
    pub listen: SocketAddr,
    /// Directory of the static pages; unset means `./static`, else the one next to the sources.
    pub static_dir: Option<PathBuf>,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout_secs: u64,
    /// Upper bound on one HTTP request (not WebSocket sessions), so a stuck handler cannot pile up.
    pub request_timeout_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            static_dir: None,
            shutdown_timeout_secs: 10,
            request_timeout_secs: 30,
        }
    }
}

impl ServerSettings {
    /// The graceful shutdown budget.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The bound on one request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The static directory to serve: configured, `./static`, or the one shipped with the sources.
    pub fn resolved_static_dir(&self) -> PathBuf {
        if let Some(dir) = &self.static_dir {
            return dir.clone();
        }
        let local = PathBuf::from("static");
        if local.join("index.html").is_file() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
    }

    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("shutdown_timeout_secs", self.shutdown_timeout_secs, 1..=300);
        c.range("request_timeout_secs", self.request_timeout_secs, 1..=3600);
    }
}
