//! The panel kinds, one module each implementing [`Kind`]: what the kind needs of a panel
//! (checked with the rest of the file), what its value is computed from, how a query's result
//! becomes its value, and its value as a table for exports. The [`panel_kinds!`] line below
//! registers each under its name; [`PanelKind`] is the typed list, so the dashboard JSON Schema
//! names every kind.
//!
//! Adding a kind is a new module here and one line in `panel_kinds!` (and its drawing,
//! `static/lib/kinds/{kind}.js`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::fields::FieldType;
use super::fields::QueryField;
use super::model::{Dashboard, Func, Layer, Measure, Panel, Query};
pub(crate) use super::result::round;
use super::result::{Group, Key};
use super::spec::PanelSpec;
use super::validate::Problems;
use crate::domain::table::{Cell, ColType, Column, Table};
use crate::domain::{NumberStyle, Rupiah, SourceStatus};

/// What a panel's value is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Its query's groups (shaped by [`Kind::shape`]).
    Groups,
    /// The first rows of its query ([`Kind::shape_rows`]).
    Rows,
    /// Its query's located rows, drawn as a map layer of rows (points, clusters, heat).
    LayerRows,
    /// The sources' health ([`Kind::shape_sources`]).
    Sources,
}

/// A panel being checked: its spec as written and what the common checks made of it.
pub struct Checking<'a> {
    /// The panel as written.
    pub spec: &'a PanelSpec,
    /// Its query, when it has a valid one.
    pub query: Option<&'a Query>,
    /// `columns`, resolved to fields.
    pub columns: &'a [QueryField],
    /// `layer`, when valid.
    pub layer: Option<&'a Layer>,
}

/// What shaping a query's result into a panel's value reads besides the groups.
pub struct Shaping<'a> {
    /// The dashboard (zone, fiscal year).
    pub dashboard: &'a Dashboard,
    /// The panel.
    pub panel: &'a Panel,
    /// Its query.
    pub query: &'a Query,
    /// The clock the value is computed at.
    pub now: DateTime<Utc>,
    /// A KPI's headline value `compare` ago (when the kind compares).
    pub previous: Option<Value>,
    /// The regions of boundary sets, so a map shows regions without rows.
    pub sets: &'a dyn Sets,
}

/// The regions of the boundary sets panels draw.
pub trait Sets {
    /// The region codes of set `set` (none when it is unknown).
    fn regions(&self, set: &str) -> Vec<String>;
}

/// Names of regions, for tables of map panels.
pub trait RegionNames {
    /// The name of region `code` in boundary set `set`.
    fn name(&self, set: &str, code: &str) -> Option<String>;
}

/// One panel kind.
pub trait Kind: Sync {
    /// Whether a panel of this kind has a query (every kind but the sources' health).
    fn has_query(&self) -> bool {
        true
    }

    /// What the value of `panel` is computed from.
    fn input(&self, _panel: &Panel) -> Input {
        Input::Groups
    }

    /// Whether it compares its value with an earlier moment (`compare`).
    fn compares(&self) -> bool {
        false
    }

    /// What the kind needs of a panel with a valid query; problems go to `p`.
    fn check(&self, c: &Checking<'_>, p: &mut Problems);

    /// Its value from the query's groups (kinds whose input is [`Input::Groups`]).
    fn shape(&self, _s: &Shaping<'_>, _groups: Vec<Group>) -> Value {
        Value::Null
    }

    /// Its value from the first rows of its query ([`Input::Rows`]).
    fn shape_rows(&self, _rows: Vec<(String, Map<String, Value>)>) -> Value {
        Value::Null
    }

    /// Its value from the sources' health ([`Input::Sources`]).
    fn shape_sources(
        &self,
        _panel: &Panel,
        _sources: &[SourceStatus],
        _now: DateTime<Utc>,
    ) -> Value {
        Value::Null
    }

    /// Its value as a table: the numbers a screen shows, exactly, for exports.
    fn tabulate(&self, panel: &Panel, value: &Value, names: &dyn RegionNames) -> Table;

    /// The boundary set whose shapes a GeoJSON export of its table draws (the table's first
    /// column holds the region codes), if any.
    fn shapes_set<'p>(&self, _panel: &'p Panel) -> Option<&'p str> {
        None
    }
}

/// Declares the kinds: each line a variant of [`PanelKind`], its name in files, and its module.
macro_rules! panel_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal => $module:ident :: $kind:ident),+ $(,)?) => {
        $(mod $module;)+

        /// What a panel shows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
        pub enum PanelKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl PanelKind {
            /// Every kind, in the order the docs list them.
            pub const ALL: &'static [PanelKind] = &[$(PanelKind::$variant),+];

            /// Its name in dashboard files.
            pub fn name(self) -> &'static str {
                match self {
                    $(PanelKind::$variant => $name,)+
                }
            }

            /// How the kind behaves.
            pub fn kind(self) -> &'static dyn Kind {
                match self {
                    $(PanelKind::$variant => &$module::$kind,)+
                }
            }
        }
    };
}

panel_kinds! {
    /// One number, with change and red/amber/green.
    Kpi = "kpi" => kpi::Kpi,
    /// Values per time bucket.
    Timeseries = "timeseries" => timeseries::Timeseries,
    /// Values per group, top N and the rest.
    Breakdown = "breakdown" => breakdown::Breakdown,
    /// The top N rows.
    Table = "table" => table::TableKind,
    /// Progress of each group (e.g. serapan) against a target.
    Progress = "progress" => progress::Progress,
    /// Counts per lifecycle state, in lifecycle order.
    Funnel = "funnel" => funnel::Funnel,
    /// A map layer.
    Map = "map" => map::Map,
    /// The sources' health.
    SourceHealth = "source_health" => source_health::SourceHealth,
}

impl PanelKind {
    /// The kind called `name` in a file.
    pub fn parse(name: &str) -> Option<PanelKind> {
        PanelKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Every kind's name, for messages.
    pub fn names() -> Vec<&'static str> {
        PanelKind::ALL.iter().map(|k| k.name()).collect()
    }
}

// ── What several kinds share ────────────────────────────────────────────────────────────────

/// A JSON value as a number (money travels as an exact decimal string).
pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The measures of an ungrouped result (no rows: counts 0, the rest empty).
pub(crate) fn single(groups: &[Group]) -> Vec<Value> {
    groups.first().map(|g| g.values.clone()).unwrap_or_default()
}

/// Adds the target and the red/amber/green status (of the measure the thresholds judge, among
/// `values`) to `out`.
pub(crate) fn decorate(panel: &Panel, out: &mut Value, values: &[Value]) {
    if let Some(t) = panel.target {
        out["target"] = json!(t);
    }
    if let Some(bands) = &panel.thresholds {
        if let Some(v) = values.get(bands.measure).and_then(number) {
            out["status"] = json!(bands.status(v));
        }
    }
}

/// Whether summing the measure over groups gives the measure over their union.
pub(crate) fn additive(func: Func) -> bool {
    matches!(
        func,
        Func::Count | Func::Sum | Func::SlaBreached | Func::SlaAtRisk
    )
}

/// A measure's value with nothing to measure: 0 for what adds up, else no value.
pub(crate) fn empty_value(m: &Measure) -> Value {
    if additive(m.func) {
        json!(0)
    } else {
        Value::Null
    }
}

/// `{measure id: value}` for `values` in `q`'s order.
pub(crate) fn measures_object(q: &Query, values: &[Value]) -> Map<String, Value> {
    q.measures
        .iter()
        .zip(values)
        .map(|(m, v)| (m.id.clone(), v.clone()))
        .collect()
}

/// A group's key as the text its JSON member is named by.
pub(crate) fn group_key(keys: &[Key], tz: chrono_tz::Tz) -> String {
    keys.iter()
        .map(|k| k.text(tz))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// How a measure's values are typed in tables.
pub(crate) fn measure_type(m: &Measure) -> ColType {
    match m.output() {
        FieldType::Money => ColType::Money,
        FieldType::Time => ColType::Time,
        FieldType::Label => ColType::Text,
        _ if matches!(
            m.func,
            Func::Count | Func::SlaBreached | Func::SlaAtRisk | Func::CountDistinct
        ) =>
        {
            ColType::Integer
        }
        _ => ColType::Float,
    }
}

/// How a field's values are typed in tables.
pub(crate) fn field_type(ty: FieldType) -> ColType {
    match ty {
        FieldType::Label => ColType::Text,
        FieldType::Bool => ColType::Bool,
        FieldType::Time => ColType::Time,
        FieldType::Money => ColType::Money,
        FieldType::Number | FieldType::Hours => ColType::Float,
    }
}

/// A JSON value of a panel as a cell of type `ty`: money from its exact decimal text, times from
/// RFC 3339 text.
pub(crate) fn cell(v: Option<&Value>, ty: ColType) -> Cell {
    let Some(v) = v else { return Cell::Null };
    match (ty, v) {
        (_, Value::Null) => Cell::Null,
        (ColType::Text, Value::String(s)) => Cell::Text(s.clone()),
        (ColType::Text, other) => Cell::Text(other.to_string()),
        (ColType::Money, Value::String(s)) => {
            Rupiah::parse(s, NumberStyle::English).map_or(Cell::Null, |r| Cell::Int(r.sen()))
        }
        (ColType::Money, Value::Number(n)) => n
            .as_f64()
            .map_or(Cell::Null, |x| Cell::Int((x * 100.0).round() as i64)),
        (ColType::Time, Value::String(s)) => {
            DateTime::parse_from_rfc3339(s).map_or(Cell::Null, |t| Cell::Int(t.timestamp()))
        }
        (ColType::Bool, Value::Bool(b)) => Cell::Int(i64::from(*b)),
        (ColType::Integer, Value::Number(n)) => n
            .as_i64()
            .map(Cell::Int)
            .or_else(|| n.as_f64().map(Cell::Float))
            .unwrap_or(Cell::Null),
        (ColType::Float | ColType::Coord, Value::Number(n)) => {
            n.as_f64().map_or(Cell::Null, Cell::Float)
        }
        (ColType::Float, Value::String(s)) => s.parse().map_or(Cell::Null, Cell::Float),
        _ => Cell::Null,
    }
}

/// A column per measure of `q`.
pub(crate) fn measure_columns(q: &Query) -> Vec<Column> {
    q.measures
        .iter()
        .map(|m| Column::new(m.id.clone(), measure_type(m)))
        .collect()
}

/// The measures of `object` (`{id: value}`) as cells in `q`'s order.
pub(crate) fn measure_cells(q: &Query, object: &Value) -> Vec<Cell> {
    q.measures
        .iter()
        .map(|m| cell(object.get(&m.id), measure_type(m)))
        .collect()
}

/// The problems every kind with a query may have: a measure where it needs one, `bucket`
/// outside a timeseries.
pub(crate) fn check_common(kind: PanelKind, c: &Checking<'_>, p: &mut Problems) {
    let Some(q) = c.query else { return };
    let at = &c.spec.kind;
    let draws_rows = c
        .spec
        .layer
        .as_ref()
        .is_some_and(|l| l.kind.get_ref() != "choropleth");
    let needs_measure = kind != PanelKind::Table && !draws_rows;
    // Measures that failed validation were reported already.
    let listed = c
        .spec
        .query
        .as_ref()
        .is_some_and(|q| !q.measures.is_empty());
    if needs_measure && !listed {
        p.at(at, "this panel needs at least one measure");
    }
    if q.bucket.is_some() && kind != PanelKind::Timeseries {
        p.at(at, "`bucket` belongs to timeseries panels");
    }
}
