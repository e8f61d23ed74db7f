//! The source kinds, one module each: its `[[sources]]` settings implement [`SourceSpec`] (how to
//! check and build the source), and the one [`source_kinds!`] line below registers the kind under
//! its `type` tag. Adding a kind is a new module here and one line there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use super::config::MappingRef;
use super::mapping::Mapping;
use super::Source;
use crate::db::MetaDb;

/// What building a source of any kind is given: its common settings and where it runs.
pub struct BuildContext<'a> {
    /// The source's id (keys its cursor, quarantine and metrics).
    pub id: &'a str,
    /// Time between two pulls when all is well.
    pub interval: Duration,
    /// Directory relative paths are read from (the config file's).
    pub base: &'a Path,
    /// The deployment's zone (local times in records).
    pub zone: Tz,
    /// The `mapping` key as configured.
    pub mapping: Option<&'a MappingRef>,
    /// The metadata database; `None` while only checking (`pantau check`).
    pub db: Option<&'a MetaDb>,
}

impl BuildContext<'_> {
    /// `path` as the source means it: relative to the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_relative() {
            self.base.join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// The configured mapping, loaded and checked.
    pub fn load_mapping(&self) -> Result<Arc<Mapping>, String> {
        match self.mapping {
            None => Err("mapping: required for this source type".to_owned()),
            Some(MappingRef::File(path)) => {
                Mapping::from_file(&self.resolve(path), self.zone).map_err(|e| e.to_string())
            }
            // Problems are prefixed with `sources.ID` by the caller.
            Some(MappingRef::Inline(spec)) => Mapping::new((**spec).clone(), "mapping", self.zone)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
        }
    }

    /// The metadata database, which building (not checking) needs.
    pub fn db(&self) -> Result<&MetaDb, String> {
        self.db
            .ok_or_else(|| "this source needs the metadata database".to_owned())
    }
}

/// A source kind's settings: how its records become rows, and how the source is checked and built.
pub trait SourceSpec {
    /// The mapping its records go through (a kind with a built-in mapping gives that one; one
    /// that makes rows itself gives none). By default the configured `mapping`.
    fn mapping(&self, ctx: &BuildContext<'_>) -> Result<Option<Arc<Mapping>>, String> {
        ctx.load_mapping().map(Some)
    }

    /// Builds the source (reading secrets from the environment and mapping files).
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String>;

    /// Checks the source as building would, creating nothing (`pantau check`). By default it is
    /// built without the metadata database and dropped.
    fn check(&self, ctx: &BuildContext<'_>) -> Result<(), String> {
        self.build(ctx).map(drop)
    }
}

/// Declares the kinds: each line a `type` tag, the variant of [`SourceKind`] holding its settings,
/// and the module that has them.
macro_rules! source_kinds {
    ($($tag:literal => $variant:ident($module:ident :: $settings:ident)),+ $(,)?) => {
        $(pub mod $module;)+

        /// The source kinds, by their `type` tag.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type")]
        pub enum SourceKind {
            $(
                #[doc = concat!("`type = \"", $tag, "\"`")]
                #[serde(rename = $tag)]
                $variant($module::$settings),
            )+
        }

        impl SourceKind {
            /// Every kind's `type` tag.
            pub const TAGS: &'static [&'static str] = &[$($tag),+];

            /// The kind's settings as a spec.
            pub fn spec(&self) -> &dyn SourceSpec {
                match self {
                    $(SourceKind::$variant(settings) => settings,)+
                }
            }

            /// The kind's `type` tag.
            pub fn tag(&self) -> &'static str {
                match self {
                    $(SourceKind::$variant(_) => $tag,)+
                }
            }
        }
    };
}

source_kinds! {
    "open311" => Open311(open311::Open311Config),
    "http_json" => HttpJson(http_json::HttpJsonConfig),
    "files" => Files(files::FilesConfig),
    "sql" => Sql(sql::SqlConfig),
    "simulator" => Simulator(simulator::SimulatorConfig),
}
