//! What the process tells its operators: log lines and Prometheus metrics.
//!
//! Owns the log subscriber and the metric families. Must not decide anything about the product;
//! other rooms only record into [`Metrics`].

mod metrics;

pub use metrics::{ConnectionGuard, HttpLabels, Metrics, SourceLabels};

use std::io::IsTerminal;

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `text` for people at a terminal, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `pantau=debug,tower_http=info`; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl LogSettings {
    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.check(
            EnvFilter::try_new(&self.level).is_ok(),
            "level",
            format!(
                "'{}' is not a log filter (e.g. info, debug, pantau=debug)",
                self.level
            ),
        );
    }
}

/// Shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global log subscriber; `RUST_LOG` wins over `log.level`. A second call is a no-op.
pub fn init_logging(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // Logs go to stderr so that stdout stays clean for command output (`pantau check`).
    let result = match settings.format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    // Colours only for a person at a terminal, not in files or journald.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed (tests start many apps in one process): keep the first subscriber.
    drop(result);
}
