//! `[[sources]]`: one table per source — the settings every kind shares, and the kind chosen by
//! its `type` tag ([`super::kinds`]) — and building or checking them all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use super::kinds::{BuildContext, SourceKind};
use super::mapping::{Mapping, MappingSpec};
use super::Source;
use crate::db::MetaDb;

/// One `[[sources]]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceConfig {
    /// Unique id: keys the cursor, the quarantine, metrics and the rows' `source` field.
    pub id: String,
    /// Seconds between pulls when all is well.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: f64,
    /// Set false to keep a source configured but not running.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The mapping: a file path (relative to the config file) or an inline table.
    #[serde(default)]
    pub mapping: Option<MappingRef>,
    /// The kind and its settings.
    #[serde(flatten)]
    pub kind: SourceKind,
}

fn default_interval_secs() -> f64 {
    60.0
}

fn yes() -> bool {
    true
}

/// A mapping given by file or inline.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MappingRef {
    /// Path of a mapping file.
    File(PathBuf),
    /// The mapping itself.
    Inline(Box<MappingSpec>),
}

impl SourceConfig {
    fn context<'a>(&'a self, base: &'a Path, zone: Tz, db: Option<&'a MetaDb>) -> BuildContext<'a> {
        BuildContext {
            id: &self.id,
            interval: Duration::from_secs_f64(self.interval_secs),
            base,
            zone,
            mapping: self.mapping.as_ref(),
            db,
        }
    }

    /// The mapping its records go through (none for a kind that makes rows itself).
    pub fn load_mapping(&self, base: &Path, zone: Tz) -> Result<Option<Arc<Mapping>>, String> {
        self.kind.spec().mapping(&self.context(base, zone, None))
    }

    /// Checks the source as `build` would, without creating anything (for `pantau check`).
    pub fn validate(&self, base: &Path, zone: Tz) -> Result<(), String> {
        self.check_common()?;
        self.kind.spec().check(&self.context(base, zone, None))
    }

    fn check_common(&self) -> Result<(), String> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(format!(
                "id '{}' must be letters, digits, '_', '-' or '.'",
                self.id
            ));
        }
        if !(self.interval_secs.is_finite() && self.interval_secs >= 0.01) {
            return Err("interval_secs must be at least 0.01".to_owned());
        }
        Ok(())
    }

    /// Builds the source (reading secrets from the environment and mapping files).
    pub fn build(&self, base: &Path, zone: Tz, db: &MetaDb) -> Result<Box<dyn Source>, String> {
        self.check_common()?;
        self.kind.spec().build(&self.context(base, zone, Some(db)))
    }
}

/// Builds every enabled source; all problems are returned, one line each (`sources.ID: reason`).
pub fn build_sources(
    sources: &[SourceConfig],
    base: &Path,
    zone: Tz,
    db: &MetaDb,
) -> Result<Vec<Box<dyn Source>>, Vec<String>> {
    each_source(sources, |source| {
        source
            .enabled
            .then(|| source.build(base, zone, db))
            .transpose()
    })
}

/// Checks every source, enabled or not, as `pantau check` does: lines `sources.ID: reason`.
pub fn check_sources(sources: &[SourceConfig], base: &Path, zone: Tz) -> Vec<String> {
    each_source(sources, |source| {
        source.validate(base, zone).map(|()| None::<()>)
    })
    .err()
    .unwrap_or_default()
}

/// Applies `f` to each source with a unique id, collecting what it gives and every problem
/// (a repeated id, or `f`'s reasons line by line), prefixed `sources.ID: `.
fn each_source<T>(
    sources: &[SourceConfig],
    mut f: impl FnMut(&SourceConfig) -> Result<Option<T>, String>,
) -> Result<Vec<T>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for source in sources {
        if !seen.insert(source.id.as_str()) {
            problems.push(format!("sources.{}: the id is used twice", source.id));
            continue;
        }
        match f(source) {
            Ok(item) => out.extend(item),
            Err(e) => problems.extend(e.lines().map(|l| format!("sources.{}: {l}", source.id))),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
