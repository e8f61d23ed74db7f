//! `[database]`: which metadata database to use and how to connect to it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::settings::{redact_url, Checks, Secret, SettingIssue};

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

impl DatabaseSettings {
    /// The database to use: `url`, else the first line of `url_file`, else `pantau.db` in
    /// `data_dir`.
    pub fn target(&self, data_dir: &Path) -> Result<DatabaseTarget, SettingIssue> {
        let url = match (&self.url, &self.url_file) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(file)) => Some(read_secret_file(file)?),
            (None, None) => None,
        };
        let Some(url) = url else {
            return Ok(DatabaseTarget::Sqlite(data_dir.join("pantau.db")));
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
            Err(SettingIssue {
                key: "database.url".to_owned(),
                reason: format!(
                    "unsupported scheme in '{}': use sqlite:PATH or postgres://…",
                    redact_url(raw)
                ),
            })
        }
    }

    /// Checks the section (the URL's scheme; a `url_file` is read when the target is resolved).
    pub fn check(&self, c: &mut Checks<'_>) {
        if let (Some(_), Err(issue)) = (&self.url, self.target(Path::new("."))) {
            c.check(false, "url", issue.reason);
        }
        c.check(
            !(self.url.is_some() && self.url_file.is_some()),
            "url_file",
            "set either database.url or database.url_file, not both",
        );
        if let Some(schema) = &self.schema {
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            c.check(
                valid,
                "schema",
                format!(
                    "'{schema}' must be 1-63 characters of a-z, 0-9 and _, not starting with a digit"
                ),
            );
        }
        c.range("max_connections", self.max_connections, 1..=100);
        c.range("connect_timeout_secs", self.connect_timeout_secs, 1..=120);
    }
}

/// Reads the first line of a secret file (`database.url_file`).
fn read_secret_file(path: &Path) -> Result<Secret, SettingIssue> {
    let issue = |reason: String| SettingIssue {
        key: "database.url_file".to_owned(),
        reason: format!("{}: {reason}", path.display()),
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| issue(format!("cannot read the file: {e}")))?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(issue("the file is empty".to_owned()));
    }
    Ok(Secret::new(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        let settings = DatabaseSettings::default();
        match settings.target(Path::new("./data")).unwrap() {
            DatabaseTarget::Sqlite(path) => assert_eq!(path, PathBuf::from("./data/pantau.db")),
            other => panic!("expected sqlite, got {other:?}"),
        }
    }
}
