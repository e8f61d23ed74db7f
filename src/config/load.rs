//! Layering and validation: defaults → TOML file → `PANTAU__SECTION__KEY` environment → command line.
//!
//! Every problem becomes a [`ConfigIssue`] printed as `origin: key: reason`, all at once, so an
//! administrator fixes a file in one pass.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::Settings;
use crate::domain::settings::{redact_url, Checks};
use crate::telemetry::LogFormat;

/// Prefix of environment variables that override settings; `__` separates the key's parts.
const ENV_PREFIX: &str = "PANTAU__";

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where the value came from: a file (with `:line:col` for syntax errors) or an environment variable.
    pub origin: String,
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// What is wrong, for a person.
    pub reason: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.key, self.reason)
    }
}

/// All problems found while loading; never empty.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in file order where known.
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    /// An error with one issue.
    pub fn single(origin: impl Into<String>, key: &str, reason: impl Into<String>) -> Self {
        Self {
            issues: vec![ConfigIssue {
                origin: origin.into(),
                key: key.to_owned(),
                reason: reason.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

/// Values given on the command line; they win over file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--listen ADDR:PORT`.
    pub listen: Option<SocketAddr>,
    /// `--log-format text|json`.
    pub log_format: Option<LogFormat>,
    /// Forces the simulator on (the demo) or leaves the configured value.
    pub simulator: Option<bool>,
    /// `pantau demo`: opens every path to anyone while it listens on loopback only.
    pub demo: bool,
}

impl Settings {
    /// Loads settings from the process environment and `overrides`.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        Self::load_from(overrides, std::env::vars())
    }

    /// Loads settings from the given environment variables (tests pass their own).
    pub fn load_from(
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let file_label = overrides
            .config
            .as_ref()
            .map_or_else(|| "defaults".to_owned(), |p| p.display().to_string());
        let mut table = match &overrides.config {
            Some(path) => read_table(path)?,
            None => toml::Table::new(),
        };
        let mut issues = Vec::new();
        let env_origins = apply_env(&mut table, env, &mut issues);
        let origin_of = |key: &str| {
            env_origins
                .iter()
                .find(|(k, _)| key == k.as_str() || key.starts_with(&format!("{k}.")))
                .map_or_else(|| file_label.clone(), |(_, var)| var.clone())
        };

        let mut settings = match deserialize_reporting_all(table, &origin_of, &mut issues) {
            Some(settings) => settings,
            None => return Err(ConfigError { issues }),
        };
        settings.origin = overrides.config.clone();
        if let Some(url) = &settings.database.url {
            let from_env = env_origins.iter().any(|(k, _)| k == "database.url");
            if !from_env && redact_url(url.expose()) != url.expose() {
                issues.push(ConfigIssue {
                    origin: file_label.clone(),
                    key: "database.url".to_owned(),
                    reason: "contains a password; secrets belong in PANTAU__DATABASE__URL or database.url_file, not in the file".to_owned(),
                });
            }
        }
        apply_overrides(&mut settings, overrides);
        issues.extend(validate(&settings, &origin_of));
        if issues.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError { issues })
        }
    }
}

/// Deserialises the settings, reporting every unknown key and every badly typed value: after a type
/// error the offending key is removed (its default applies) and deserialisation runs again.
/// Returns `None` when some value was wrong (the issues say which).
fn deserialize_reporting_all(
    mut table: toml::Table,
    origin_of: &dyn Fn(&str) -> String,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Settings> {
    let mut unknown: Vec<String> = Vec::new();
    let mut failed = false;
    // Each round removes one bad key, so the number of keys bounds the rounds.
    for _ in 0..=count_keys(&table) {
        let mut record_unknown = |path: serde_ignored::Path<'_>| {
            let key = path.to_string();
            if !unknown.contains(&key) {
                unknown.push(key);
            }
        };
        let deserializer = serde_ignored::Deserializer::new(
            toml::Value::Table(table.clone()),
            &mut record_unknown,
        );
        match serde_path_to_error::deserialize::<_, Settings>(deserializer) {
            Ok(settings) => {
                for key in unknown {
                    issues.push(ConfigIssue {
                        origin: origin_of(&key),
                        key,
                        reason: "unknown key (see pantau.example.toml for the keys there are)"
                            .to_owned(),
                    });
                }
                return (!failed).then_some(settings);
            }
            Err(err) => {
                failed = true;
                let key = err.path().to_string();
                let removed = remove_path(&mut table, err.path());
                issues.push(ConfigIssue {
                    origin: origin_of(&key),
                    key,
                    reason: err.into_inner().message().trim().to_owned(),
                });
                if !removed {
                    return None;
                }
            }
        }
    }
    None
}

fn count_keys(table: &toml::Table) -> usize {
    table
        .values()
        .map(|v| 1 + v.as_table().map_or(0, count_keys))
        .sum()
}

/// Removes the value at a deserialisation path; false when the path does not lead to a table entry.
fn remove_path(table: &mut toml::Table, path: &serde_path_to_error::Path) -> bool {
    let keys: Vec<&str> = path
        .iter()
        .map_while(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut node = table;
    for key in parents {
        match node.get_mut(*key) {
            Some(toml::Value::Table(inner)) => node = inner,
            _ => return false,
        }
    }
    node.remove(*last).is_some()
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::single(&label, "-", format!("cannot read the file: {e}")))?;
    text.parse::<toml::Table>().map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |span| line_col(&text, span.start));
        ConfigError::single(
            format!("{label}:{line}:{col}"),
            "-",
            format!("not valid TOML: {}", e.message().trim()),
        )
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Writes `PANTAU__A__B=value` into `table` as `a.b`; returns (dotted key, variable name) pairs.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<(String, String)> {
    let mut origins = HashMap::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let parts: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let key = parts.join(".");
        if parts.iter().any(String::is_empty) {
            issues.push(ConfigIssue {
                origin: var.clone(),
                key,
                reason: "malformed variable name: use PANTAU__SECTION__KEY".to_owned(),
            });
            continue;
        }
        if !insert_path(table, &parts, env_value(&raw)) {
            issues.push(ConfigIssue {
                origin: var.clone(),
                key,
                reason: "a parent of this key is not a section".to_owned(),
            });
            continue;
        }
        origins.insert(key, var);
    }
    origins.into_iter().collect()
}

/// Sets `parts` (a key path) in `table`, creating sections; false when a parent is not a section.
fn insert_path(table: &mut toml::Table, parts: &[String], value: toml::Value) -> bool {
    match parts {
        [] => false,
        [last] => {
            table.insert(last.clone(), value);
            true
        }
        [section, rest @ ..] => match table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(inner) => insert_path(inner, rest, value),
            _ => false,
        },
    }
}

/// Reads an environment value as a TOML scalar or array when it is one, else as a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn apply_overrides(settings: &mut Settings, overrides: &Overrides) {
    if let Some(dir) = &overrides.data_dir {
        settings.data.dir = dir.clone();
    }
    if let Some(listen) = overrides.listen {
        settings.server.listen = listen;
    }
    if let Some(format) = overrides.log_format {
        settings.log.format = format;
    }
    if let Some(enabled) = overrides.simulator {
        settings.simulator.enabled = enabled;
    }
    if overrides.demo && settings.server.listen.ip().is_loopback() {
        settings
            .access
            .open_to_anyone_as(crate::access::Role::Admin);
    }
}

/// Runs every section's own checks, then the few that span sections; each problem gets the origin
/// of its key.
fn validate(settings: &Settings, origin_of: &dyn Fn(&str) -> String) -> Vec<ConfigIssue> {
    let mut found = Vec::new();
    settings
        .server
        .check(&mut Checks::new("server", &mut found));
    settings
        .deployment
        .check(&mut Checks::new("deployment", &mut found));
    settings
        .database
        .check(&mut Checks::new("database", &mut found));
    settings.log.check(&mut Checks::new("log", &mut found));
    settings
        .access
        .check(&mut Checks::new("access", &mut found));
    settings.live.check(&mut Checks::new("live", &mut found));
    settings.store.check(&mut Checks::new("store", &mut found));
    settings
        .simulator
        .check(&mut Checks::new("simulator", &mut found));
    settings
        .dashboards
        .check(&mut Checks::new("dashboards", &mut found));
    settings
        .export
        .check(&mut Checks::new("export", &mut found));
    Checks::new("data", &mut found).check(
        !settings.data.dir.as_os_str().is_empty(),
        "dir",
        "must not be empty",
    );
    found
        .into_iter()
        .map(|issue| ConfigIssue {
            origin: origin_of(&issue.key),
            key: issue.key,
            reason: issue.reason,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pantau.toml");
        std::fs::write(&path, text).unwrap();
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(&overrides, env)
    }

    #[test]
    fn file_values_and_defaults_combine() {
        let settings = load_text("[server]\nlisten = \"127.0.0.1:9000\"\n", &[]).unwrap();
        assert_eq!(settings.server.listen.port(), 9000);
        assert_eq!(settings.server.shutdown_timeout_secs, 10);
        assert_eq!(settings.deployment.time_zone, "Asia/Jakarta");
    }

    #[test]
    fn environment_overrides_the_file_and_keeps_types() {
        let settings = load_text(
            "[server]\nlisten = \"127.0.0.1:9000\"\n",
            &[
                ("PANTAU__SERVER__LISTEN", "127.0.0.1:9100"),
                ("PANTAU__SIMULATOR__MAX_BATCH", "7"),
                ("PANTAU__DATABASE__URL", "postgres://u:pw@127.0.0.1/db"),
            ],
        )
        .unwrap();
        assert_eq!(settings.server.listen.port(), 9100);
        assert_eq!(settings.simulator.max_batch, 7);
        assert_eq!(
            settings.database.url.unwrap().expose(),
            "postgres://u:pw@127.0.0.1/db"
        );
    }

    #[test]
    fn store_settings_are_checked_and_become_store_options() {
        let err = load_text("[store]\ncheckpoint_interval_secs = 0\n", &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("store.checkpoint_interval_secs: must be 1..=86400, got 0"),
            "{err}"
        );
        let settings =
            load_text("[store]\nretention_days = 0\ncheckpoint_log_mib = 8\n", &[]).unwrap();
        let options = settings.store.options();
        assert_eq!(options.retention, None, "0 keeps everything hot");
        assert_eq!(options.checkpoint_log_bytes, 8 << 20);
    }

    #[test]
    fn dashboard_settings_are_checked() {
        let err = load_text("[export]\nmax_rows = 0\nmax_concurrent = 65\n", &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("export.max_rows: must be 1..=1000000000, got 0"),
            "{text}"
        );
        assert!(
            text.contains("export.max_concurrent: must be 1..=64, got 65"),
            "{text}"
        );
        let err = load_text("[dashboards]\nreload_ms = 10\nclock_ms = 0\n", &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("dashboards.reload_ms: must be 50..=60000, got 10"),
            "{text}"
        );
        assert!(
            text.contains("dashboards.clock_ms: must be 100..=3600000, got 0"),
            "{text}"
        );
        let settings = load_text("[dashboards]\ndir = \"boards\"\n", &[]).unwrap();
        assert_eq!(
            settings.dashboards.resolved_dir(),
            std::path::PathBuf::from("boards")
        );
    }

    #[test]
    fn every_problem_is_reported_with_origin_and_key() {
        let err = load_text(
            "[server]\nlistne = \"x\"\n[simulator]\nmax_batch = 0\n[deployment]\ntime_zone = \"Mars/Olympus\"\n",
            &[("PANTAU__LOG__LEVEL", "[[[")],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("server.listne: unknown key"), "{text}");
        assert!(
            text.contains("simulator.max_batch: must be 1..=10000, got 0"),
            "{text}"
        );
        assert!(
            text.contains("deployment.time_zone: 'Mars/Olympus'"),
            "{text}"
        );
        assert!(text.contains("PANTAU__LOG__LEVEL: log.level:"), "{text}");
        assert!(
            text.lines()
                .all(|l| l.contains("pantau.toml: ") || l.starts_with("PANTAU__")),
            "{text}"
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = load_text("[server]\nshutdown_timeout_secs = \"soon\"\n", &[]).unwrap_err();
        let issue = &err.issues[0];
        assert_eq!(issue.key, "server.shutdown_timeout_secs");
        assert!(issue.reason.contains("invalid type"), "{}", issue.reason);
    }

    #[test]
    fn several_wrong_types_are_all_reported() {
        let err = load_text(
            "[server]\nshutdown_timeout_secs = \"soon\"\nlisten = 5\n[simulator]\nenabled = \"yes\"\n",
            &[],
        )
        .unwrap_err();
        let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys.len(), 3, "{err}");
        for key in [
            "server.shutdown_timeout_secs",
            "server.listen",
            "simulator.enabled",
        ] {
            assert!(keys.contains(&key), "{key} missing from {err}");
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = load_text("[server]\nlisten = \n", &[]).unwrap_err();
        assert!(err.issues[0].origin.ends_with("pantau.toml:2:10"), "{err}");
    }

    #[test]
    fn passwords_in_the_file_are_refused() {
        let err = load_text("[database]\nurl = \"postgres://u:pw@h/db\"\n", &[]).unwrap_err();
        assert!(err
            .to_string()
            .contains("database.url: contains a password"));
        assert!(!err.to_string().contains("pw@"));
    }
}
