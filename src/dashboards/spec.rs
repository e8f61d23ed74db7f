//! The dashboard file format as written: what `dashboards/*.toml` may contain, with the place of
//! every value kept (spans) so a validation error can name `file:line:col`.
//!
//! Only shape lives here; meaning (fields exist, measures fit their types) is checked in
//! [`super::model`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// A text in Bahasa Indonesia and English.
#[derive(Debug, Clone, Deserialize, JsonSchema, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Bahasa Indonesia (shown by default).
    pub id: String,
    /// English.
    pub en: String,
}

/// One dashboard file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardSpec {
    /// Identifier in URLs and topics (`a-z 0-9 _ -`); defaults to the file name without `.toml`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    /// Title in both languages.
    pub title: Text,
    /// What the dashboard is for, in both languages.
    #[serde(default)]
    pub description: Option<Text>,
    /// Who looks at it: `wall` (screens in a grid), `tablet` (cards in order) or `board` (desktop).
    #[schemars(with = "String")]
    pub audience: Spanned<String>,
    /// IANA time zone for windows and buckets (default: the deployment's, Asia/Jakarta = WIB).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub time_zone: Option<Spanned<String>>,
    /// First month (1-12) of the fiscal year for `this fiscal year` (default 1: Indonesian APBD).
    #[serde(default)]
    #[schemars(with = "Option<u8>")]
    pub fiscal_year_start: Option<Spanned<u8>>,
    /// The wall grid (wall dashboards only).
    #[serde(default)]
    pub layout: Option<LayoutSpec>,
    /// Per source id, the age after which its panels show as stale (`90s`, `5m`, `2h`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub staleness: BTreeMap<String, Spanned<String>>,
    /// The panels, in reading order.
    pub panels: Vec<PanelSpec>,
}

/// The grid of a wall dashboard.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutSpec {
    /// Grid columns per screen.
    #[serde(default = "default_columns")]
    pub columns: u8,
    /// Grid rows per screen.
    #[serde(default = "default_rows")]
    pub rows: u8,
    /// How many screens the dashboard spans (`/wall/{id}?screen=N` shows screen N).
    #[serde(default = "default_screens")]
    pub screens: u8,
}

fn default_columns() -> u8 {
    12
}
fn default_rows() -> u8 {
    8
}
fn default_screens() -> u8 {
    1
}

/// Where a panel sits on a wall grid (1-based cells).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Screen number, from 1.
    #[serde(default = "one")]
    pub screen: u8,
    /// First column, from 1.
    pub col: u8,
    /// First row, from 1.
    pub row: u8,
    /// Columns spanned.
    #[serde(default = "one")]
    pub width: u8,
    /// Rows spanned.
    #[serde(default = "one")]
    pub height: u8,
}

fn one() -> u8 {
    1
}

/// One panel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelSpec {
    /// Identifier within the dashboard (`a-z 0-9 _ -`).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// What the panel shows (`docs/dashboards.md`, "Panel kinds").
    #[schemars(with = "super::kinds::PanelKind")]
    pub kind: Spanned<String>,
    /// Title in both languages.
    pub title: Text,
    /// Place on the wall grid (wall dashboards).
    #[serde(default)]
    #[schemars(with = "Option<Area>")]
    pub area: Option<Spanned<Area>>,
    /// Position among the cards (tablet dashboards); default: file order.
    #[serde(default)]
    pub order: Option<u32>,
    /// What the panel computes (every kind but `source_health`).
    #[serde(default)]
    pub query: Option<QuerySpec>,
    /// kpi, progress: the measure id shown as the value and judged by `thresholds` (default:
    /// the first measure).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub value: Option<Spanned<String>>,
    /// kpi: compare with the value this long ago (`1d`, `7d`), computed as of then.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub compare: Option<Spanned<String>>,
    /// kpi, progress: the value aimed at.
    #[serde(default)]
    pub target: Option<f64>,
    /// kpi, progress, breakdown: red/amber/green bands.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// breakdown, table, map: how many groups or rows to keep (the rest become `other`).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub top: Option<Spanned<u32>>,
    /// table: the columns shown, in order.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub columns: Option<Vec<Spanned<String>>>,
    /// table, breakdown: order by a field or measure id; `-` first for descending.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub sort: Option<Spanned<String>>,
    /// map: the layer drawn.
    #[serde(default)]
    pub layer: Option<LayerSpec>,
    /// source_health: the source ids shown (default: all).
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Unit shown beside values (`%`, `jam`, `Rp`).
    #[serde(default)]
    pub unit: Option<String>,
}

/// Red/amber/green bands: a value as good as `green` is green, as good as `amber` amber, else red.
#[derive(Debug, Clone, Deserialize, JsonSchema, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Bound of the green band.
    pub green: f64,
    /// Bound of the amber band.
    pub amber: f64,
    /// The measure id judged (default: the panel's value measure).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub measure: Option<Spanned<String>>,
    /// `higher` (e.g. serapan) or `lower` (e.g. backlog) is better; default `higher`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub better: Option<Spanned<String>>,
}

/// A map layer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// `choropleth` (a value per region), `points` (the rows, or their clusters when more than
    /// `max_features` are in view), `clusters` (rows per grid cell with their status mix) or
    /// `heat` (rows per grid cell).
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// Boundary set whose shapes are drawn (`/api/geo/{set}`).
    #[schemars(with = "String")]
    pub set: Spanned<String>,
    /// The measure coloured (a measure id of the query; default its first).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub measure: Option<Spanned<String>>,
    /// Class-break method: `quantile` or `equal_interval`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    /// Number of classes (2-9, default 5).
    #[serde(default)]
    #[schemars(with = "Option<u8>")]
    pub classes: Option<Spanned<u8>>,
    /// points, clusters, heat: zoom of the grid (8-20; default: the set about 1,024 pixels across).
    #[serde(default)]
    #[schemars(with = "Option<u8>")]
    pub zoom: Option<Spanned<u8>>,
    /// clusters, heat: grid cell in screen pixels (8-256; default 64 for clusters, 32 for heat).
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub cell: Option<Spanned<u16>>,
    /// points, clusters, heat: most features in one value (1-5000, default 2000).
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub max_features: Option<Spanned<u16>>,
    /// heat: a number, hours or money field whose value weighs each row (default: each row 1).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub weight: Option<Spanned<String>>,
}

/// What a panel computes, over one dataset.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// `complaints`, `budget_lines` or `service_events`.
    #[schemars(with = "String")]
    pub dataset: Spanned<String>,
    /// Conditions every row must meet.
    #[serde(default)]
    pub filter: Vec<FilterSpec>,
    /// Group by these fields (labels, booleans, numbers).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub group_by: Vec<Spanned<String>>,
    /// timeseries: the time field bucketed and the bucket size.
    #[serde(default)]
    pub bucket: Option<BucketSpec>,
    /// The values computed per group.
    #[serde(default)]
    pub measures: Vec<MeasureSpec>,
}

/// A condition on one field: exactly one of `equals`, `in`, `min`/`max`, `window`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// The field tested.
    #[schemars(with = "String")]
    pub field: Spanned<String>,
    /// The field equals this value.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<Spanned<toml::Value>>,
    /// The field equals one of these values.
    #[serde(default, rename = "in")]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub one_of: Option<Spanned<Vec<toml::Value>>>,
    /// The field is at least this (inclusive).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub min: Option<Spanned<toml::Value>>,
    /// The field is below this (exclusive).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub max: Option<Spanned<toml::Value>>,
    /// A time field lies in a window relative to now: `last 24h`, `last 7d`, `today`,
    /// `yesterday`, `this week`, `this month`, `this year`, `this fiscal year`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub window: Option<Spanned<String>>,
}

/// Time buckets of a timeseries.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    /// The time field.
    #[schemars(with = "String")]
    pub field: Spanned<String>,
    /// `minute`, `hour`, `day`, `week` (from Monday) or `month`, in the dashboard's zone.
    #[schemars(with = "String")]
    pub size: Spanned<String>,
}

/// One value computed per group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    /// Name of the value in results (`a-z 0-9 _`).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// The function: `count`, `sum`, `avg`, `min`, `max`, `median`, `p90`, `count_distinct`,
    /// `rate_per_hour`, `share`, `sla_breached`, `sla_at_risk`, `sla_within_pct`,
    /// `time_to_first_response`, `serapan`, `plan_pct`, `deviation`.
    #[serde(rename = "fn")]
    #[schemars(with = "String")]
    pub func: Spanned<String>,
    /// The field it reads (sum, avg, min, max, median, p90, count_distinct).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub of: Option<Spanned<String>>,
    /// sla_at_risk: how soon the deadline must fall (`4h`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub within: Option<Spanned<String>>,
    /// Label in both languages (default: the id).
    #[serde(default)]
    pub title: Option<Text>,
}
