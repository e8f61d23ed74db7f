//! `[[sources]]`: one table per source, its kind chosen by the `type` tag; building the sources.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use super::files::{DropFolder, FilesConfig};
use super::http_json::{HttpJson, HttpJsonConfig};
use super::mapping::{Mapping, MappingSpec};
use super::open311::{Open311, Open311Config};
use super::simulator::{BudgetSimulator, ServiceSimulator, Simulator};
use super::sql::{SqlConfig, SqlSource};
use super::Source;
use crate::db::MetaDb;
use crate::geo::Boundaries;

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

/// The source kinds, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceKind {
    /// GeoReport v2.
    Open311(Open311Config),
    /// A generic JSON API.
    HttpJson(HttpJsonConfig),
    /// A drop folder.
    Files(FilesConfig),
    /// A PostgreSQL or SQLite table or query.
    Sql(SqlConfig),
    /// Simulated complaints over kelurahan boundaries (the demo's source).
    Simulator(SimulatorConfig),
}

/// `type = "simulator"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Kelurahan/desa boundaries (GeoJSON); unset means the shipped Kota Pasuruan set.
    #[serde(default)]
    pub boundaries: Option<PathBuf>,
    /// Largest number of complaints in one batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// Seed for reproducible runs.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Dataset to simulate: `complaints` (default), `budget_lines` or `service_events`.
    #[serde(default = "default_sim_dataset")]
    pub dataset: String,
}

fn default_sim_dataset() -> String {
    "complaints".to_owned()
}

fn default_max_batch() -> u32 {
    5
}

impl SourceConfig {
    /// The source's mapping, resolved against the config file's directory.
    pub fn load_mapping(&self, base: &Path, zone: Tz) -> Result<Arc<Mapping>, String> {
        match &self.mapping {
            None => Err("mapping: required for this source type".to_owned()),
            Some(MappingRef::File(path)) => {
                let path = if path.is_relative() {
                    base.join(path)
                } else {
                    path.clone()
                };
                Mapping::from_file(&path, zone).map_err(|e| e.to_string())
            }
            // Problems are prefixed with `sources.ID` by the caller.
            Some(MappingRef::Inline(spec)) => Mapping::new((**spec).clone(), "mapping", zone)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
        }
    }

    /// Checks the source as `build` would, without creating anything (for `pantau check`).
    pub fn validate(&self, base: &Path, zone: Tz) -> Result<(), String> {
        self.check_common()?;
        let interval = Duration::from_secs_f64(self.interval_secs);
        match &self.kind {
            SourceKind::Files(_) => self.load_mapping(base, zone).map(drop),
            SourceKind::Open311(_)
            | SourceKind::HttpJson(_)
            | SourceKind::Sql(_)
            | SourceKind::Simulator(_) => self.construct(base, zone, interval, None).map(drop),
        }
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
        let interval = Duration::from_secs_f64(self.interval_secs);
        self.construct(base, zone, interval, Some(db))
    }

    fn construct(
        &self,
        base: &Path,
        zone: Tz,
        interval: Duration,
        db: Option<&MetaDb>,
    ) -> Result<Box<dyn Source>, String> {
        Ok(match &self.kind {
            SourceKind::Open311(c) => {
                if self.mapping.is_some() {
                    return Err("mapping: open311 has a built-in mapping".to_owned());
                }
                Box::new(Open311::new(&self.id, interval, c.clone())?)
            }
            SourceKind::HttpJson(c) => Box::new(HttpJson::new(
                &self.id,
                interval,
                c.clone(),
                self.load_mapping(base, zone)?,
            )?),
            SourceKind::Files(c) => {
                let mut c = c.clone();
                if c.dir.is_relative() {
                    c.dir = base.join(&c.dir);
                }
                Box::new(DropFolder::new(
                    &self.id,
                    interval,
                    c,
                    self.load_mapping(base, zone)?,
                    db.ok_or("a drop folder needs the metadata database")?
                        .clone(),
                )?)
            }
            SourceKind::Sql(c) => Box::new(SqlSource::new(
                &self.id,
                interval,
                c.clone(),
                self.load_mapping(base, zone)?,
            )?),
            SourceKind::Simulator(c) => {
                let set = match &c.boundaries {
                    Some(p) => Boundaries::from_file(&base.join(p)).map_err(|e| e.to_string())?,
                    None => Boundaries::kota_pasuruan_kelurahan().map_err(|e| e.to_string())?,
                };
                match c.dataset.as_str() {
                    "complaints" => {
                        Box::new(Simulator::new(&self.id, set, interval, c.max_batch, c.seed))
                    }
                    "budget_lines" => {
                        Box::new(BudgetSimulator::new(&self.id, interval, zone, c.seed))
                    }
                    "service_events" => Box::new(ServiceSimulator::new(
                        &self.id,
                        set,
                        interval,
                        c.max_batch,
                        c.seed,
                    )),
                    other => {
                        return Err(format!(
                        "dataset '{other}' is not one of complaints, budget_lines, service_events"
                    ))
                    }
                }
            }
        })
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
