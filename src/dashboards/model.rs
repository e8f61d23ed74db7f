//! A dashboard after validation (see [`super::validate`]): every name resolved to a field,
//! measure, window or bucket; the typed form the engine computes from.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Serialize;

use super::fields::{FieldType, QueryField};
use super::kinds::PanelKind;
use super::spec::{Area, Text};
use super::window::{BucketSize, Window};
use crate::domain::Dataset;

/// Who a dashboard is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Wall screens: a grid, possibly over several screens.
    Wall,
    /// Tablets and phones: cards in order.
    Tablet,
    /// A desktop board.
    Board,
}

/// The wall grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// Columns per screen.
    pub columns: u8,
    /// Rows per screen.
    pub rows: u8,
    /// Screens spanned.
    pub screens: u8,
}

/// A validated dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Identifier in URLs and topics.
    pub id: String,
    /// Title in both languages.
    pub title: Text,
    /// Description in both languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Who it is for.
    pub audience: Audience,
    /// Zone of windows and buckets.
    #[serde(serialize_with = "zone_name")]
    pub time_zone: Tz,
    /// First month of the fiscal year.
    pub fiscal_year_start: u32,
    /// The wall grid, for wall dashboards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// Seconds after which a source's panels are stale, per source id.
    pub staleness: BTreeMap<String, i64>,
    /// Panels in reading order (tablet dashboards: card order).
    pub panels: Vec<Panel>,
}

fn zone_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Red/amber/green bands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    /// Bound of green.
    pub green: f64,
    /// Bound of amber.
    pub amber: f64,
    /// Whether higher values are better.
    pub higher_is_better: bool,
    /// Index of the measure judged.
    pub measure: usize,
}

impl Bands {
    /// `green`, `amber` or `red` for `value`.
    pub fn status(&self, value: f64) -> &'static str {
        let at_least = |bound: f64| {
            if self.higher_is_better {
                value >= bound
            } else {
                value <= bound
            }
        };
        if at_least(self.green) {
            "green"
        } else if at_least(self.amber) {
            "amber"
        } else {
            "red"
        }
    }
}

/// How values are split into classes on a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Each class holds about the same number of regions.
    Quantile,
    /// Each class spans the same range of values.
    EqualInterval,
}

/// What a map layer draws over its boundary set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// A measure per region, in classes.
    Choropleth,
    /// The rows themselves when few are in view, else their clusters.
    Points,
    /// Rows aggregated per grid cell, with count and status mix.
    Clusters,
    /// Rows per grid cell, for a heat map.
    Heat,
}

/// A map layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// What it draws.
    pub kind: LayerKind,
    /// Boundary set drawn (and, for the row layers, the view they cover).
    pub set: String,
    /// choropleth: measure id coloured.
    pub measure: String,
    /// choropleth: class-break method.
    pub method: Method,
    /// choropleth: number of classes.
    pub classes: usize,
    /// Row layers: zoom of the grid (default: the set's view about 1,024 pixels across).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoom: Option<u8>,
    /// Row layers: grid cell in screen pixels at that zoom.
    pub cell_px: u32,
    /// points: most rows sent as points; more are sent as clusters. Clusters and cells are
    /// capped at the same number.
    pub max_features: usize,
    /// heat: the field whose value weighs each row (`None`: each row weighs 1).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_field_name"
    )]
    pub weight: Option<QueryField>,
}

impl Layer {
    /// True for the layers that draw rows (points, clusters, heat) rather than regions.
    pub fn draws_rows(&self) -> bool {
        self.kind != LayerKind::Choropleth
    }
}

/// A validated panel.
#[derive(Debug, Clone, Serialize)]
pub struct Panel {
    /// Identifier within the dashboard.
    pub id: String,
    /// What it shows.
    pub kind: PanelKind,
    /// Title in both languages.
    pub title: Text,
    /// Place on the wall grid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
    /// What it computes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<Query>,
    /// kpi, progress: index of the measure shown as the value (and judged by the thresholds).
    pub value_measure: usize,
    /// kpi: seconds back to compare with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_secs: Option<i64>,
    /// Target value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// Red/amber/green bands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Bands>,
    /// Groups or rows kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// table: the fields shown.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "field_names")]
    pub columns: Vec<QueryField>,
    /// Sort key (a field or measure id) and whether descending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<(String, bool)>,
    /// map: the layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<Layer>,
    /// source_health: the sources shown (`None`: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// Unit shown beside values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn field_names<S: serde::Serializer>(f: &[QueryField], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(f.iter().map(|f| f.name))
}

impl Panel {
    /// The dataset it reads, if any.
    pub fn dataset(&self) -> Option<Dataset> {
        self.query.as_ref().map(|q| q.dataset)
    }
}

/// A validated query.
#[derive(Debug, Clone, Serialize)]
pub struct Query {
    /// Dataset read.
    pub dataset: Dataset,
    /// Conditions, all of which must hold.
    pub filters: Vec<Filter>,
    /// Grouping fields.
    #[serde(serialize_with = "field_names")]
    pub group_by: Vec<QueryField>,
    /// Time buckets (timeseries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// Measures.
    pub measures: Vec<Measure>,
}

impl Query {
    /// True when the result changes with the clock even without new data.
    pub fn moves_with_clock(&self) -> bool {
        self.filters
            .iter()
            .any(|f| matches!(f.test, Test::Window(_)) || f.field.moves_with_clock())
            || self.measures.iter().any(|m| {
                matches!(
                    m.func,
                    Func::SlaBreached | Func::SlaAtRisk | Func::RatePerHour
                ) || m.of.is_some_and(|f| f.moves_with_clock())
            })
            || self.group_by.iter().any(QueryField::moves_with_clock)
    }

    /// The window a rate is taken over: the first window filter's.
    pub fn window(&self) -> Option<Window> {
        self.filters.iter().find_map(|f| match f.test {
            Test::Window(w) => Some(w),
            _ => None,
        })
    }
}

/// Time buckets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bucket {
    /// Field bucketed.
    #[serde(serialize_with = "field_name")]
    pub field: QueryField,
    /// Bucket size.
    pub size: BucketSize,
}

fn field_name<S: serde::Serializer>(f: &QueryField, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name)
}

/// A condition on one field.
#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    /// Field tested.
    #[serde(serialize_with = "field_name")]
    pub field: QueryField,
    /// The test.
    pub test: Test,
}

/// What a filter tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Equal to one of these.
    In(Vec<Literal>),
    /// Within `[min, max)`; either end may be open.
    Range {
        /// Inclusive lower bound.
        min: Option<Literal>,
        /// Exclusive upper bound.
        max: Option<Literal>,
    },
    /// In a window relative to now.
    Window(Window),
}

/// A value in a filter, already in the field's type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Literal {
    /// A label.
    Text(String),
    /// A number (hours for durations).
    Number(f64),
    /// True or false.
    Bool(bool),
    /// An instant, seconds since 1970.
    Time(i64),
    /// Rupiah in sen.
    Money(i64),
}

/// A measure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    /// Rows.
    Count,
    /// Sum of a field.
    Sum,
    /// Mean of a field.
    Avg,
    /// Least value.
    Min,
    /// Greatest value.
    Max,
    /// Median.
    Median,
    /// 90th percentile.
    P90,
    /// Distinct values.
    CountDistinct,
    /// Rows per hour of the query's window.
    RatePerHour,
    /// The group's rows as a % of all rows of the panel.
    Share,
    /// Open items past their deadline now.
    SlaBreached,
    /// Open items whose deadline falls within `within` from now.
    SlaAtRisk,
    /// Of closed items with a deadline, % closed by it.
    SlaWithinPct,
    /// Median hours to the first answer.
    TimeToFirstResponse,
    /// realisasi / pagu, %.
    Serapan,
    /// anggaran kas / pagu, % (the plan to date).
    PlanPct,
    /// serapan − plan, percentage points.
    Deviation,
}

impl Func {
    pub(crate) fn parse(text: &str) -> Option<Func> {
        Some(match text {
            "count" => Func::Count,
            "sum" => Func::Sum,
            "avg" => Func::Avg,
            "min" => Func::Min,
            "max" => Func::Max,
            "median" => Func::Median,
            "p90" => Func::P90,
            "count_distinct" => Func::CountDistinct,
            "rate_per_hour" => Func::RatePerHour,
            "share" => Func::Share,
            "sla_breached" => Func::SlaBreached,
            "sla_at_risk" => Func::SlaAtRisk,
            "sla_within_pct" => Func::SlaWithinPct,
            "time_to_first_response" => Func::TimeToFirstResponse,
            "serapan" => Func::Serapan,
            "plan_pct" => Func::PlanPct,
            "deviation" => Func::Deviation,
            _ => return None,
        })
    }

    /// Whether it reads a field (`of`).
    pub(crate) fn needs_field(self) -> bool {
        matches!(
            self,
            Func::Sum
                | Func::Avg
                | Func::Min
                | Func::Max
                | Func::Median
                | Func::P90
                | Func::CountDistinct
        )
    }

    /// Whether its result can be maintained from per-row contributions alone (sums of rows).
    pub fn is_decomposable(self) -> bool {
        matches!(
            self,
            Func::Count
                | Func::Sum
                | Func::Avg
                | Func::RatePerHour
                | Func::Share
                | Func::SlaBreached
                | Func::SlaAtRisk
                | Func::SlaWithinPct
                | Func::Serapan
                | Func::PlanPct
                | Func::Deviation
        )
    }
}

/// A validated measure.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// Name in results.
    pub id: String,
    /// Function.
    pub func: Func,
    /// Field read.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_field_name"
    )]
    pub of: Option<QueryField>,
    /// sla_at_risk: seconds ahead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_secs: Option<i64>,
    /// Label in both languages.
    pub title: Text,
}

fn opt_field_name<S: serde::Serializer>(f: &Option<QueryField>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => s.serialize_str(f.name),
        None => s.serialize_none(),
    }
}

impl Measure {
    /// The type of its values.
    pub fn output(&self) -> FieldType {
        match (self.func, self.of) {
            (Func::Sum | Func::Min | Func::Max | Func::Median | Func::P90, Some(f)) => f.ty,
            (Func::Avg, Some(f)) if f.ty == FieldType::Hours => FieldType::Hours,
            _ => FieldType::Number,
        }
    }
}
