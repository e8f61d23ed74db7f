//! The vocabulary every room's settings share: a problem with one setting, the checks that find
//! them, secrets that must never be shown, and the deployment (its name and time zone).
//!
//! Each room owns its own settings section (`[live]` is `live::LiveSettings`, …) and checks it
//! with [`Checks`]; `config` composes the sections, layers file → environment → flags, and says
//! where each wrong value came from.

use std::fmt;
use std::ops::RangeInclusive;

use serde::Deserialize;

/// One wrong setting: its dotted key (`live.max_topics`) and why, before `config` adds where the
/// value came from (the file or an environment variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingIssue {
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// What is wrong, for a person.
    pub reason: String,
}

/// Collects the problems of one settings section; keys are given within the section.
pub struct Checks<'a> {
    section: &'static str,
    issues: &'a mut Vec<SettingIssue>,
}

impl<'a> Checks<'a> {
    /// Checks of section `section` (`live`, `export`, …) adding to `issues`.
    pub fn new(section: &'static str, issues: &'a mut Vec<SettingIssue>) -> Self {
        Self { section, issues }
    }

    /// The dotted key of `key` in this section.
    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.section)
    }

    /// Records `reason` for `key` unless `ok`.
    pub fn check(&mut self, ok: bool, key: &str, reason: impl Into<String>) {
        if !ok {
            let key = self.key(key);
            self.issues.push(SettingIssue {
                key,
                reason: reason.into(),
            });
        }
    }

    /// Records a value outside `range` as `must be A..=B, got V`.
    pub fn range<T: PartialOrd + fmt::Display>(
        &mut self,
        key: &str,
        value: T,
        range: RangeInclusive<T>,
    ) {
        let ok = range.contains(&value);
        let reason = format!("must be {}..={}, got {value}", range.start(), range.end());
        self.check(ok, key, reason);
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

/// Query parameters whose values never appear in logs or errors.
const SECRET_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "password",
    "sslpassword",
    "secret",
];

/// The URL with its secrets replaced by `***`: the password of `postgres://user:pw@host/db`, and
/// the values of secret query parameters (`?password=…`, `&api_key=…`, `&token=…`).
pub fn redact_url(url: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (url, None),
    };
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority
                .rsplit_once('@')
                .and_then(|(userinfo, host)| Some((userinfo.split_once(':')?.0, host)))
            {
                Some((user, host)) => format!("{scheme}://{user}:***@{host}{tail}"),
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `[deployment]`: the command centre this instance serves.
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
        self.time_zone.parse().unwrap_or(super::DEFAULT_TIME_ZONE)
    }

    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.check(!self.name.trim().is_empty(), "name", "must not be empty");
        c.check(
            self.time_zone.parse::<chrono_tz::Tz>().is_ok(),
            "time_zone",
            format!(
                "'{}' is not an IANA time zone (e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)",
                self.time_zone
            ),
        );
        if let Some(url) = &self.tile_url {
            c.check(
                (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
                    && ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)),
                "tile_url",
                format!(
                    "'{url}' must be an http(s):// or /path URL with {{z}}, {{x}} and {{y}}, e.g. https://tiles.example.go.id/{{z}}/{{x}}/{{y}}.png"
                ),
            );
        }
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
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test",
            "a user without a password has nothing to hide"
        );
        // libpq also takes the password as a query parameter.
        assert_eq!(
            redact_url("postgres://db.internal/pantau?user=pantau&password=s3cret&sslmode=require"),
            "postgres://db.internal/pantau?user=pantau&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u:pw@h/d?PassWord=x"),
            "postgresql://u:***@h/d?PassWord=***"
        );
        let secret = Secret::new("postgres://a:b@c/d");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn checks_name_the_section_and_the_range() {
        let mut issues = Vec::new();
        let mut c = Checks::new("export", &mut issues);
        c.range("max_rows", 0u64, 1..=10);
        c.range("max_concurrent", 3usize, 1..=64);
        assert_eq!(
            issues,
            [SettingIssue {
                key: "export.max_rows".into(),
                reason: "must be 1..=10, got 0".into()
            }]
        );
    }
}
