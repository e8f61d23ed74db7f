//! Typed settings of a Pantau instance.
//!
//! Owns the shape of `pantau.toml`, its defaults and its validation. Layering (file → environment →
//! command line) lives in [`load`]. Must not open connections or files other than the config itself
//! and the secret files it names.

mod load;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use load::{ConfigError, ConfigIssue, Overrides};

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
    /// The metadata database (cursors, later users, snapshots, audit).
    pub database: DatabaseSettings,
    /// Log output.
    pub log: LogSettings,
    /// WebSocket clients: access, limits, heartbeats, resume history.
    pub live: LiveSettings,
    /// The built-in simulator source used by the demo.
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
    pub sources: Vec<crate::ingest::SourceConfig>,
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
    pub fn options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            retention: (self.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400)),
            checkpoint_interval: Duration::from_secs(self.checkpoint_interval_secs),
            checkpoint_log_bytes: self.checkpoint_log_mib << 20,
        }
    }
}

/// `[ingest]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Kelurahan/desa (or kecamatan) boundaries (GeoJSON) that complaints with coordinates but no
    /// region codes are placed in; unset means the simulator's set (the shipped Kota Pasuruan
    /// kelurahan by default).
    pub boundaries: Option<PathBuf>,
}

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
}

/// `[export]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// Most rows one export or snapshot may hold (a request for more is refused before anything
    /// is written).
    pub max_rows: u64,
    /// Exports and snapshots running at once on this server.
    pub max_concurrent: usize,
    /// Exports and snapshots one client (token, else address) may run at once.
    pub max_per_client: usize,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            max_rows: 20_000_000,
            max_concurrent: 4,
            max_per_client: 2,
        }
    }
}

/// `[deployment]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DeploymentSettings {
    /// Name of the region this command centre serves, shown on the pages.
    pub name: String,
    /// IANA zone used to show and bucket times (Asia/Jakarta = WIB, Asia/Makassar = WITA, Asia/Jayapura = WIT).
    pub time_zone: String,
    /// A raster tile URL (`{z}`, `{x}`, `{y}`) drawn under the maps, for a city that has a tile
    /// server; unset: the maps show the boundaries alone (a command centre may be offline).
    pub tile_url: Option<String>,
    /// Attribution shown with the tiles (the tile provider's licence asks for it).
    pub tile_attribution: Option<String>,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        Self {
            name: "Kota Pasuruan".to_owned(),
            time_zone: "Asia/Jakarta".to_owned(),
            tile_url: None,
            tile_attribution: None,
        }
    }
}

impl DeploymentSettings {
    /// The parsed time zone; validation guarantees it parses, WIB otherwise.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone
            .parse()
            .unwrap_or(crate::domain::DEFAULT_TIME_ZONE)
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite:PATH` or `postgres://…`; unset means `pantau.db` in the data dir. Holds secrets: set it
    /// through `PANTAU__DATABASE__URL` or `url_file`, not in the file.
    pub url: Option<Secret>,
    /// A file whose first line is the database URL (e.g. a mounted secret).
    pub url_file: Option<PathBuf>,
    /// PostgreSQL schema to keep Pantau's tables in (created if missing); unset means `public`.
    pub schema: Option<String>,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// How long to wait for the database at start and for health checks.
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            schema: None,
            max_connections: 5,
            connect_timeout_secs: 5,
        }
    }
}

/// The metadata database an instance uses, resolved from the settings.
#[derive(Clone)]
pub enum DatabaseTarget {
    /// A SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (may contain a password: never log it, use [`redact_url`]).
    Postgres(Secret),
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseTarget::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DatabaseTarget::Postgres(url) => f.write_str(&redact_url(url.expose())),
        }
    }
}

/// `[live]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LiveSettings {
    /// Let clients without a token connect (always on in `pantau demo`).
    pub anonymous: bool,
    /// File of access tokens, one per line: `ROLE TOKEN [TOPIC_PREFIX,…]` (role `display` or `viewer`).
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
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            anonymous: false,
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
        }
    }
}

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

/// Shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[simulator]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SimulatorSettings {
    /// Run the simulator source (always on in `pantau demo`).
    pub enabled: bool,
    /// Kelurahan/desa boundaries (GeoJSON) to place complaints in; unset means the shipped Kota Pasuruan set.
    pub boundaries: Option<PathBuf>,
    /// Time between two simulated batches.
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

/// A value that must never appear in logs or error messages.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Replaces the password of a URL like `postgres://user:pw@host/db` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

impl Settings {
    /// The metadata database to use. Reads `database.url_file` when set.
    pub fn database_target(&self) -> Result<DatabaseTarget, ConfigError> {
        let url = match (&self.database.url, &self.database.url_file) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(file)) => Some(load::read_secret_file(file)?),
            (None, None) => None,
        };
        let Some(url) = url else {
            return Ok(DatabaseTarget::Sqlite(self.data.dir.join("pantau.db")));
        };
        let raw = url.expose();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(DatabaseTarget::Postgres(url))
        } else if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or(raw.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
        } else {
            Err(ConfigError::single(
                self.origin_label(),
                "database.url",
                format!(
                    "unsupported scheme in '{}': use sqlite:PATH or postgres://…",
                    redact_url(raw)
                ),
            ))
        }
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
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://pantau:s3cret@db.internal:5432/pantau"),
            "postgres://pantau:***@db.internal:5432/pantau"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/test"),
            "postgres://127.0.0.1/test"
        );
        let secret = Secret::new("postgres://a:b@c/d");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        let settings = Settings::default();
        match settings.database_target().unwrap() {
            DatabaseTarget::Sqlite(path) => assert_eq!(path, PathBuf::from("./data/pantau.db")),
            other => panic!("expected sqlite, got {other:?}"),
        }
    }
}
