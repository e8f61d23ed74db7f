//! Dashboards as code: the files in `dashboards/*.toml`, parsed, validated and kept current.
//!
//! Owns the format ([`spec`]), its validation ([`validate`]) into a typed form ([`model`]), a
//! query's result vocabulary ([`result`]), the queryable fields of each
//! dataset ([`fields`]), time windows and buckets ([`window`]) and the [`Catalog`] of loaded
//! dashboards with hot reload, and the panel kinds ([`kinds`]: what each needs, how a result
//! becomes its value and its table). Runs no query: the engine computes the results.

pub mod fields;
pub mod filter;
pub mod kinds;
pub mod model;
pub mod result;
mod settings;
pub mod spec;
pub mod validate;
pub mod window;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use filter::FilterInput;
pub use kinds::PanelKind;
pub use model::{Dashboard, Panel, Query};
pub use settings::DashboardSettings;

/// Where every dashboard panel's topic begins.
pub const TOPICS: &str = "dashboards/";

/// The live topic of a dashboard panel: `dashboards/{dashboard}/{panel}` (a whole dashboard is
/// followed by the prefix `dashboards/{dashboard}/`).
pub fn topic(dashboard: &str, panel: &str) -> String {
    format!("{TOPICS}{dashboard}/{panel}")
}

/// The dashboard and panel ids of a panel's topic (the reverse of [`topic`]).
pub fn panel_of(topic: &str) -> Option<(&str, &str)> {
    topic.strip_prefix(TOPICS)?.split_once('/')
}

/// A problem in a dashboard file, placed at `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// The file, as given.
    pub file: String,
    /// Line, from 1 (0 when the problem concerns the whole file).
    pub line: usize,
    /// Column, from 1 (0 when the problem concerns the whole file).
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.col, self.message
            )
        }
    }
}

/// What validation checks names against besides the format itself.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Time zone of dashboards that name none (the deployment's).
    pub zone: Tz,
    /// Boundary sets a map layer may name (`/api/geo/{set}`); `None`: not checked.
    pub boundary_sets: Option<Vec<String>>,
}

impl Rules {
    /// Rules with `zone` as the default zone and no boundary-set check.
    pub fn zone(zone: Tz) -> Rules {
        Rules {
            zone,
            boundary_sets: None,
        }
    }
}

/// Line and column (from 1) of byte `offset` in `text`; columns count characters.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses and validates one dashboard file's text; `file` names it in errors.
pub fn parse(text: &str, file: &Path, rules: &Rules) -> Result<Dashboard, Vec<FileError>> {
    let name = file.display().to_string();
    let at = |span: Option<std::ops::Range<usize>>, message: String| {
        let (line, col) = span.map_or((0, 0), |s| line_col(text, s.start));
        FileError {
            file: name.clone(),
            line,
            col,
            message,
        }
    };
    let spec: spec::DashboardSpec =
        toml::from_str(text).map_err(|e| vec![at(e.span(), e.message().trim().to_owned())])?;
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    validate::validate(spec, stem, rules).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| at(p.span, p.message))
            .collect()
    })
}

/// Reads and validates one dashboard file.
pub fn load_file(path: &Path, rules: &Rules) -> Result<Dashboard, Vec<FileError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![FileError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
        }]
    })?;
    parse(&text, path, rules)
}

/// The `*.toml` files directly in `dir`, sorted; a missing directory holds none.
fn dashboard_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Validates every dashboard in `dir` (for `pantau check`): the problems, each `file:line:col`.
pub fn check_dir(dir: &Path, rules: &Rules) -> Vec<FileError> {
    let mut catalog = State::new(dir.to_path_buf(), rules.clone());
    catalog.rescan();
    catalog.errors()
}

/// One loaded file: its last valid dashboard and its current problems.
struct FileState {
    /// The file's bytes when last read, to notice any change.
    content: Vec<u8>,
    /// The last version that validated; kept serving while the file is invalid.
    dashboard: Option<Arc<Dashboard>>,
    /// Problems of the file as it is now (empty when it validated).
    errors: Vec<FileError>,
}

struct State {
    dir: PathBuf,
    rules: Rules,
    files: BTreeMap<PathBuf, FileState>,
    /// A directory-level problem (cannot list it).
    dir_error: Option<FileError>,
    loaded_at: Option<DateTime<Utc>>,
}

impl State {
    fn new(dir: PathBuf, rules: Rules) -> State {
        State {
            dir,
            rules,
            files: BTreeMap::new(),
            dir_error: None,
            loaded_at: None,
        }
    }

    /// Reads every file again; returns whether any dashboard or problem changed.
    fn rescan(&mut self) -> bool {
        let paths = match dashboard_files(&self.dir) {
            Ok(paths) => {
                self.dir_error = None;
                paths
            }
            Err(e) => {
                let error = FileError {
                    file: self.dir.display().to_string(),
                    line: 0,
                    col: 0,
                    message: format!("cannot list dashboards: {e}"),
                };
                let changed = self.dir_error.as_ref() != Some(&error);
                self.dir_error = Some(error);
                return changed;
            }
        };
        let mut changed = false;
        let before = self.files.len();
        self.files.retain(|path, _| paths.contains(path));
        changed |= self.files.len() != before;
        for path in paths {
            let content = match std::fs::read(&path) {
                Ok(c) => c,
                // Gone between listing and reading: the next scan drops it.
                Err(_) => continue,
            };
            if self.files.get(&path).is_some_and(|f| f.content == content) {
                continue;
            }
            changed = true;
            let result = match std::str::from_utf8(&content) {
                Ok(text) => parse(text, &path, &self.rules),
                Err(e) => Err(vec![FileError {
                    file: path.display().to_string(),
                    line: 0,
                    col: 0,
                    message: format!("not UTF-8 text: {e}"),
                }]),
            };
            let entry = self.files.entry(path.clone()).or_insert(FileState {
                content: Vec::new(),
                dashboard: None,
                errors: Vec::new(),
            });
            entry.content = content;
            match result {
                Ok(d) => {
                    tracing::info!(file = %path.display(), dashboard = %d.id, panels = d.panels.len(), "Dashboard loaded.");
                    entry.dashboard = Some(Arc::new(d));
                    entry.errors.clear();
                }
                Err(errors) => {
                    for e in &errors {
                        tracing::warn!(error = %e, "Dashboard file invalid; its previous version keeps serving.");
                    }
                    entry.errors = errors;
                }
            }
        }
        if changed {
            self.loaded_at = Some(Utc::now());
        }
        changed
    }

    /// Valid dashboards by id; a second file claiming an id already taken is an error.
    fn dashboards(&self) -> (BTreeMap<String, Arc<Dashboard>>, Vec<FileError>) {
        let mut out = BTreeMap::new();
        let mut clashes = Vec::new();
        for (path, file) in &self.files {
            if let Some(d) = &file.dashboard {
                if out.contains_key(&d.id) {
                    clashes.push(FileError {
                        file: path.display().to_string(),
                        line: 0,
                        col: 0,
                        message: format!("dashboard id `{}` is already used by another file", d.id),
                    });
                } else {
                    out.insert(d.id.clone(), d.clone());
                }
            }
        }
        (out, clashes)
    }

    fn errors(&self) -> Vec<FileError> {
        let mut out: Vec<FileError> = self.dir_error.iter().cloned().collect();
        out.extend(self.files.values().flat_map(|f| f.errors.iter().cloned()));
        out.extend(self.dashboards().1);
        out
    }
}

/// The loaded dashboards, kept current with their directory; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    state: Arc<RwLock<State>>,
    version: Arc<watch::Sender<u64>>,
}

impl Catalog {
    /// Loads every dashboard in `dir` (missing: none), validated with `rules`.
    pub fn open(dir: &Path, rules: Rules) -> Catalog {
        let mut state = State::new(dir.to_path_buf(), rules);
        state.rescan();
        let (version, _) = watch::channel(0);
        Catalog {
            state: Arc::new(RwLock::new(state)),
            version: Arc::new(version),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The directory watched.
    pub fn dir(&self) -> PathBuf {
        self.read().dir.clone()
    }

    /// Every valid dashboard, by id.
    pub fn dashboards(&self) -> BTreeMap<String, Arc<Dashboard>> {
        self.read().dashboards().0
    }

    /// The dashboard `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Dashboard>> {
        self.dashboards().remove(id)
    }

    /// Current problems of the files, each `file:line:col`.
    pub fn errors(&self) -> Vec<FileError> {
        self.read().errors()
    }

    /// When a file last changed what is loaded.
    pub fn loaded_at(&self) -> Option<DateTime<Utc>> {
        self.read().loaded_at
    }

    /// A receiver woken whenever the loaded dashboards or their problems change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Reads the directory again now; returns whether anything changed.
    pub fn rescan(&self) -> bool {
        let changed = self
            .state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .rescan();
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
        changed
    }

    /// Re-reads the directory every `every` until `shutdown`, so a saved file is live well
    /// within a second. Polling (rather than OS notifications) works the same on every file
    /// system, including network and container mounts.
    pub async fn watch(self, every: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let catalog = self.clone();
            // File reads block; keep them off the sockets' workers.
            if tokio::task::spawn_blocking(move || catalog.rescan())
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

/// The JSON Schema of dashboard files, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(spec::DashboardSpec)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
