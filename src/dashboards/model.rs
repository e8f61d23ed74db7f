//! A dashboard after validation: every name resolved to a field, measure or window, every
//! problem found reported with its place in the file.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono_tz::Tz;
use serde::Serialize;
use toml::Spanned;

use super::fields::{self, FieldType, QueryField};
use super::spec::{self, Area, DashboardSpec, PanelSpec, QuerySpec, Text};
use super::window::{parse_duration, BucketSize, Window};
use crate::store::Dataset;

/// A problem in a dashboard file, at a byte range of its text when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub span: Option<Range<usize>>,
    /// What is wrong, for the person editing the file.
    pub message: String,
}

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

/// What a panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelKind {
    /// One number, with change and red/amber/green.
    Kpi,
    /// Values per time bucket.
    Timeseries,
    /// Values per group, top N and the rest.
    Breakdown,
    /// The top N rows.
    Table,
    /// Progress of each group (e.g. serapan) against a target.
    Progress,
    /// Counts per lifecycle state, in lifecycle order.
    Funnel,
    /// A map layer.
    Map,
    /// The sources' health.
    SourceHealth,
}

impl PanelKind {
    fn parse(text: &str) -> Option<PanelKind> {
        Some(match text {
            "kpi" => PanelKind::Kpi,
            "timeseries" => PanelKind::Timeseries,
            "breakdown" => PanelKind::Breakdown,
            "table" => PanelKind::Table,
            "progress" => PanelKind::Progress,
            "funnel" => PanelKind::Funnel,
            "map" => PanelKind::Map,
            "source_health" => PanelKind::SourceHealth,
            _ => return None,
        })
    }
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

/// A choropleth layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// Boundary set drawn.
    pub set: String,
    /// Measure id coloured.
    pub measure: String,
    /// Class-break method.
    pub method: Method,
    /// Number of classes.
    pub classes: usize,
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
    fn parse(text: &str) -> Option<Func> {
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
    fn needs_field(self) -> bool {
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

/// Collects problems while validating one file.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.0.push(Problem {
            span: Some(spanned.span()),
            message: message.into(),
        });
    }

    fn near(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.0.push(Problem {
            span,
            message: message.into(),
        });
    }
}

/// Dashboard ids that would collide with `/api/dashboards/errors` and `/api/dashboards/schema`.
const RESERVED_IDS: &[&str] = &["errors", "schema"];

fn valid_id(id: &str, extra: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
}

/// Validates a parsed file; `default_id` is the file stem.
pub fn validate(
    spec: DashboardSpec,
    default_id: &str,
    rules: &super::Rules,
) -> Result<Dashboard, Vec<Problem>> {
    let zone = rules.zone;
    let mut p = Problems::default();
    let id = match &spec.id {
        Some(id) => {
            if !valid_id(id.get_ref(), "_-") {
                p.at(id, "a dashboard id is 1-64 of a-z, 0-9, _ and -");
            } else if RESERVED_IDS.contains(&id.get_ref().as_str()) {
                p.at(
                    id,
                    format!(
                        "`{}` is reserved by the API; choose another id",
                        id.get_ref()
                    ),
                );
            }
            id.get_ref().clone()
        }
        None => {
            if !valid_id(default_id, "_-") {
                p.near(
                    None,
                    format!("the file name `{default_id}` is not a valid id (a-z, 0-9, _ and -); set `id`"),
                );
            }
            default_id.to_owned()
        }
    };
    let audience = match spec.audience.get_ref().as_str() {
        "wall" => Audience::Wall,
        "tablet" => Audience::Tablet,
        "board" => Audience::Board,
        other => {
            p.at(
                &spec.audience,
                format!("unknown audience `{other}`: use wall, tablet or board"),
            );
            Audience::Board
        }
    };
    let time_zone = match &spec.time_zone {
        Some(z) => z.get_ref().parse::<Tz>().unwrap_or_else(|_| {
            p.at(
                z,
                format!(
                    "unknown time zone `{}` (an IANA name such as Asia/Jakarta)",
                    z.get_ref()
                ),
            );
            zone
        }),
        None => zone,
    };
    let fiscal_year_start = match &spec.fiscal_year_start {
        Some(m) if !(1..=12).contains(m.get_ref()) => {
            p.at(m, "fiscal_year_start is a month, 1 to 12");
            1
        }
        Some(m) => u32::from(*m.get_ref()),
        None => 1,
    };
    let layout = spec.layout.as_ref().map(|l| Layout {
        columns: l.columns.max(1),
        rows: l.rows.max(1),
        screens: l.screens.max(1),
    });
    if audience == Audience::Wall && layout.is_none() {
        p.near(
            Some(spec.audience.span()),
            "a wall dashboard needs a [layout] grid (columns, rows, screens)",
        );
    }
    let mut staleness = BTreeMap::new();
    for (source, after) in &spec.staleness {
        match parse_duration(after.get_ref()) {
            Ok(secs) => {
                staleness.insert(source.clone(), secs);
            }
            Err(e) => p.at(after, format!("staleness of `{source}`: {e}")),
        }
    }
    if spec.panels.is_empty() {
        p.near(None, "a dashboard needs at least one [[panels]] entry");
    }
    let mut seen = BTreeSet::new();
    let mut panels = Vec::new();
    let mut placed: Vec<(Area, Range<usize>)> = Vec::new();
    for (i, panel) in spec.panels.iter().enumerate() {
        if !seen.insert(panel.id.get_ref().clone()) {
            p.at(
                &panel.id,
                format!("panel id `{}` is used twice", panel.id.get_ref()),
            );
        }
        if let Some(panel) = validate_panel(panel, audience, layout, rules, &mut placed, &mut p) {
            panels.push((panel_order(&spec.panels[i], i), panel));
        }
    }
    panels.sort_by_key(|(order, _)| *order);
    if p.0.is_empty() {
        Ok(Dashboard {
            id,
            title: spec.title,
            description: spec.description,
            audience,
            time_zone,
            fiscal_year_start,
            layout,
            staleness,
            panels: panels.into_iter().map(|(_, panel)| panel).collect(),
        })
    } else {
        Err(p.0)
    }
}

fn panel_order(panel: &PanelSpec, index: usize) -> (u32, usize) {
    (panel.order.unwrap_or(u32::MAX), index)
}

fn validate_panel(
    spec: &PanelSpec,
    audience: Audience,
    layout: Option<Layout>,
    rules: &super::Rules,
    placed: &mut Vec<(Area, Range<usize>)>,
    p: &mut Problems,
) -> Option<Panel> {
    let before = p.0.len();
    if !valid_id(spec.id.get_ref(), "_-") {
        p.at(&spec.id, "a panel id is 1-64 of a-z, 0-9, _ and -");
    }
    let kind = PanelKind::parse(spec.kind.get_ref());
    if kind.is_none() {
        p.at(
            &spec.kind,
            format!(
                "unknown panel kind `{}`: use kpi, timeseries, breakdown, table, progress, funnel, map or source_health",
                spec.kind.get_ref()
            ),
        );
    }
    let area = spec.area.as_ref().map(|a| {
        check_area(a, layout, placed, p);
        *a.get_ref()
    });
    if audience == Audience::Wall && area.is_none() {
        p.at(
            &spec.id,
            "a panel of a wall dashboard needs an `area` on the grid",
        );
    }
    let query = match (&spec.query, kind) {
        (None, Some(PanelKind::SourceHealth)) => None,
        (Some(_), Some(PanelKind::SourceHealth)) => {
            p.at(
                &spec.kind,
                "a source_health panel has no query; list `sources` instead",
            );
            None
        }
        (None, Some(_)) => {
            p.at(&spec.id, "this panel needs a [panels.query]");
            None
        }
        (Some(q), _) => validate_query(q, p),
        (None, None) => None,
    };
    let compare_secs = spec.compare.as_ref().and_then(|c| {
        parse_duration(c.get_ref())
            .map_err(|e| p.at(c, format!("compare: {e}")))
            .ok()
    });
    let thresholds = spec.thresholds.as_ref().map(|t| {
        let higher_is_better = match t.better.as_ref().map(|b| b.get_ref().as_str()) {
            None | Some("higher") => true,
            Some("lower") => false,
            Some(other) => {
                if let Some(b) = &t.better {
                    p.at(b, format!("better is `higher` or `lower`, not `{other}`"));
                }
                true
            }
        };
        let ordered = if higher_is_better {
            t.green >= t.amber
        } else {
            t.green <= t.amber
        };
        if !ordered {
            p.at(
                &spec.id,
                "thresholds: the green bound must be at least as good as the amber one",
            );
        }
        let measure = match (&t.measure, &query) {
            (Some(m), Some(q)) => q
                .measures
                .iter()
                .position(|x| &x.id == m.get_ref())
                .unwrap_or_else(|| {
                    p.at(
                        m,
                        format!("`{}` is not a measure id of the query", m.get_ref()),
                    );
                    0
                }),
            _ => usize::MAX,
        };
        Bands {
            green: t.green,
            amber: t.amber,
            higher_is_better,
            measure,
        }
    });
    let top = spec.top.as_ref().map(|t| {
        if !(1..=1000).contains(t.get_ref()) {
            p.at(t, "top is 1 to 1000");
        }
        *t.get_ref() as usize
    });
    let columns: Vec<QueryField> = match (&spec.columns, &query) {
        (Some(cols), Some(q)) => cols
            .iter()
            .filter_map(|c| {
                let f = fields::field(q.dataset, c.get_ref());
                if f.is_none() {
                    p.at(c, unknown_field(q.dataset, c.get_ref()));
                }
                f
            })
            .collect(),
        _ => Vec::new(),
    };
    let sort = spec.sort.as_ref().map(|s| {
        let (desc, name) = match s.get_ref().strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, s.get_ref().as_str()),
        };
        let known = query.as_ref().is_some_and(|q| {
            q.measures.iter().any(|m| m.id == name) || fields::field(q.dataset, name).is_some()
        });
        if !known {
            p.at(
                s,
                format!("cannot sort by `{name}`: not a measure id or field of the query"),
            );
        }
        (name.to_owned(), desc)
    });
    let layer = spec
        .layer
        .as_ref()
        .and_then(|l| validate_layer(l, &query, rules, p));
    let value_measure = match (&spec.value, &query) {
        (Some(v), Some(q)) => match q.measures.iter().position(|m| &m.id == v.get_ref()) {
            Some(i) => i,
            None => {
                p.at(
                    v,
                    format!("`{}` is not a measure id of the query", v.get_ref()),
                );
                0
            }
        },
        _ => 0,
    };
    let thresholds = thresholds.map(|mut b| {
        if b.measure == usize::MAX {
            b.measure = value_measure;
        }
        b
    });
    if let (Some(kind), Some(q)) = (kind, &query) {
        check_kind(kind, spec, q, &columns, &layer, p);
    }
    if p.0.len() > before {
        return None;
    }
    Some(Panel {
        id: spec.id.get_ref().clone(),
        kind: kind?,
        title: spec.title.clone(),
        area,
        query,
        value_measure,
        compare_secs,
        target: spec.target,
        thresholds,
        top,
        columns,
        sort,
        layer,
        sources: spec.sources.clone(),
        unit: spec.unit.clone(),
    })
}

fn check_area(
    area: &Spanned<Area>,
    layout: Option<Layout>,
    placed: &mut Vec<(Area, Range<usize>)>,
    p: &mut Problems,
) {
    let a = area.get_ref();
    let Some(l) = layout else {
        p.at(area, "`area` needs a [layout] grid");
        return;
    };
    if a.col == 0 || a.row == 0 || a.screen == 0 || a.width == 0 || a.height == 0 {
        p.at(area, "area cells count from 1 and span at least one cell");
        return;
    }
    let fits = u16::from(a.col) + u16::from(a.width) - 1 <= u16::from(l.columns)
        && u16::from(a.row) + u16::from(a.height) - 1 <= u16::from(l.rows)
        && a.screen <= l.screens;
    if !fits {
        p.at(
            area,
            format!(
                "area does not fit the {}×{} grid of {} screen(s)",
                l.columns, l.rows, l.screens
            ),
        );
        return;
    }
    let overlaps = |b: &Area| {
        a.screen == b.screen
            && a.col < b.col + b.width
            && b.col < a.col + a.width
            && a.row < b.row + b.height
            && b.row < a.row + a.height
    };
    if placed.iter().any(|(b, _)| overlaps(b)) {
        p.at(area, "area overlaps another panel's");
    }
    placed.push((*a, area.span()));
}

fn unknown_field(dataset: Dataset, name: &str) -> String {
    let names: Vec<&str> = fields::fields(dataset).iter().map(|f| f.name).collect();
    format!(
        "unknown field `{name}` of {}: one of {}",
        dataset.name(),
        names.join(", ")
    )
}

fn validate_query(spec: &QuerySpec, p: &mut Problems) -> Option<Query> {
    let Some(dataset) = Dataset::from_name(spec.dataset.get_ref()) else {
        p.at(
            &spec.dataset,
            format!(
                "unknown dataset `{}`: use complaints, budget_lines or service_events",
                spec.dataset.get_ref()
            ),
        );
        return None;
    };
    let field = |p: &mut Problems, name: &Spanned<String>| {
        let f = fields::field(dataset, name.get_ref());
        if f.is_none() {
            p.at(name, unknown_field(dataset, name.get_ref()));
        }
        f
    };
    let filters: Vec<Filter> = spec
        .filter
        .iter()
        .filter_map(|f| validate_filter(dataset, f, p))
        .collect();
    let group_by: Vec<QueryField> = spec
        .group_by
        .iter()
        .filter_map(|name| {
            let f = field(p, name)?;
            if matches!(f.ty, FieldType::Time | FieldType::Hours | FieldType::Money) {
                p.at(
                    name,
                    format!("cannot group by `{}` ({:?}): group by labels, booleans or numbers; use `bucket` for time", f.name, f.ty),
                );
            }
            Some(f)
        })
        .collect();
    if group_by.len() > 3 {
        p.at(&spec.group_by[3], "group by at most three fields");
    }
    let bucket = spec.bucket.as_ref().and_then(|b| {
        let f = field(p, &b.field)?;
        if f.ty != FieldType::Time {
            p.at(&b.field, format!("`{}` is not a time field", f.name));
        }
        let size = BucketSize::parse(b.size.get_ref())
            .map_err(|e| p.at(&b.size, e))
            .ok()?;
        Some(Bucket { field: f, size })
    });
    let mut ids = BTreeSet::new();
    let mut measures = Vec::new();
    for m in &spec.measures {
        if !valid_id(m.id.get_ref(), "_") {
            p.at(&m.id, "a measure id is 1-64 of a-z, 0-9 and _");
        }
        if !ids.insert(m.id.get_ref().clone()) {
            p.at(
                &m.id,
                format!("measure id `{}` is used twice", m.id.get_ref()),
            );
        }
        if let Some(m) = validate_measure(dataset, m, &filters, p) {
            measures.push(m);
        }
    }
    let query = Query {
        dataset,
        filters,
        group_by,
        bucket,
        measures,
    };
    if dataset == Dataset::BudgetLines {
        check_budget_levels(spec, &query, p);
    }
    Some(query)
}

/// Budget lines nest (OPD → program → kegiatan → …): summing money over more than one level
/// counts the same rupiah several times, so such a query must pin one level.
fn check_budget_levels(spec: &QuerySpec, q: &Query, p: &mut Problems) {
    let sums_money = q.measures.iter().any(|m| {
        matches!(m.func, Func::Serapan | Func::PlanPct | Func::Deviation)
            || (matches!(m.func, Func::Sum | Func::Avg)
                && m.of.is_some_and(|f| f.ty == FieldType::Money))
    });
    let pinned = q.filters.iter().any(|f| {
        f.field.name == "level" && matches!(&f.test, Test::In(values) if values.len() == 1)
    }) || q.group_by.iter().any(|f| f.name == "level");
    if sums_money && !pinned {
        p.at(
            &spec.dataset,
            "budget sums need one hierarchy level: add a filter `{ field = \"level\", equals = N }` \
             (or group by level), else parents and children are counted twice",
        );
    }
}

fn validate_filter(dataset: Dataset, spec: &spec::FilterSpec, p: &mut Problems) -> Option<Filter> {
    let field = fields::field(dataset, spec.field.get_ref());
    let Some(field) = field else {
        p.at(&spec.field, unknown_field(dataset, spec.field.get_ref()));
        return None;
    };
    let given = [
        spec.equals.is_some(),
        spec.one_of.is_some(),
        spec.min.is_some() || spec.max.is_some(),
        spec.window.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        p.at(
            &spec.field,
            "a filter takes exactly one of `equals`, `in`, `min`/`max` or `window`",
        );
        return None;
    }
    let test = if let Some(v) = &spec.equals {
        Test::In(vec![literal(&field, v.get_ref(), v.span(), p)?])
    } else if let Some(vs) = &spec.one_of {
        if vs.get_ref().is_empty() {
            p.at(vs, "`in` needs at least one value");
        }
        let values: Vec<Option<Literal>> = vs
            .get_ref()
            .iter()
            .map(|v| literal(&field, v, vs.span(), p))
            .collect();
        Test::In(values.into_iter().collect::<Option<Vec<_>>>()?)
    } else if let Some(w) = &spec.window {
        if field.ty != FieldType::Time {
            p.at(
                w,
                format!("a window needs a time field; `{}` is not one", field.name),
            );
            return None;
        }
        Test::Window(Window::parse(w.get_ref()).map_err(|e| p.at(w, e)).ok()?)
    } else {
        if matches!(field.ty, FieldType::Label | FieldType::Bool) {
            p.at(
                &spec.field,
                format!(
                    "`{}` is a label: use `equals` or `in`, not min/max",
                    field.name
                ),
            );
            return None;
        }
        let bound = |b: &Option<Spanned<toml::Value>>, p: &mut Problems| match b {
            Some(v) => literal(&field, v.get_ref(), v.span(), p).map(Some),
            None => Some(None),
        };
        Test::Range {
            min: bound(&spec.min, p)?,
            max: bound(&spec.max, p)?,
        }
    };
    Some(Filter { field, test })
}

/// A filter value in the field's type, or a problem saying what was expected.
fn literal(
    field: &QueryField,
    value: &toml::Value,
    span: Range<usize>,
    p: &mut Problems,
) -> Option<Literal> {
    let wrong = |p: &mut Problems, expected: &str| {
        p.near(
            Some(span.clone()),
            format!("`{}` takes {expected}, not `{value}`", field.name),
        );
        None
    };
    match (field.ty, value) {
        (FieldType::Label, toml::Value::String(s)) => {
            if let Some(words) = field.words {
                if !words.contains(&s.as_str()) {
                    p.near(
                        Some(span),
                        format!(
                            "`{s}` is not a value of `{}`: one of {}",
                            field.name,
                            words.join(", ")
                        ),
                    );
                    return None;
                }
            }
            Some(Literal::Text(s.clone()))
        }
        (FieldType::Label, _) => wrong(p, "text"),
        (FieldType::Bool, toml::Value::Boolean(b)) => Some(Literal::Bool(*b)),
        (FieldType::Bool, _) => wrong(p, "true or false"),
        (FieldType::Number | FieldType::Hours, toml::Value::Integer(i)) => {
            Some(Literal::Number(*i as f64))
        }
        (FieldType::Number | FieldType::Hours, toml::Value::Float(f)) => Some(Literal::Number(*f)),
        (FieldType::Number | FieldType::Hours, _) => wrong(p, "a number"),
        (FieldType::Money, toml::Value::Integer(i)) => i
            .checked_mul(100)
            .map(Literal::Money)
            .or_else(|| wrong(p, "an amount in Rupiah that fits")),
        (FieldType::Money, toml::Value::String(s)) => {
            match crate::domain::Rupiah::parse(s, crate::domain::NumberStyle::Auto) {
                Ok(r) => Some(Literal::Money(r.sen())),
                Err(e) => wrong(p, &format!("an amount in Rupiah ({e})")),
            }
        }
        (FieldType::Money, _) => wrong(p, "an amount in Rupiah"),
        (FieldType::Time, toml::Value::Datetime(d)) => {
            match chrono::DateTime::parse_from_rfc3339(&d.to_string()) {
                Ok(t) => Some(Literal::Time(t.timestamp())),
                Err(_) => wrong(p, "a date-time with an offset (2026-11-01T00:00:00+07:00)"),
            }
        }
        (FieldType::Time, toml::Value::String(s)) => {
            match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(Literal::Time(t.timestamp())),
                Err(_) => wrong(p, "a date-time with an offset (2026-11-01T00:00:00+07:00)"),
            }
        }
        (FieldType::Time, _) => wrong(p, "a date-time with an offset"),
    }
}

fn validate_measure(
    dataset: Dataset,
    spec: &spec::MeasureSpec,
    filters: &[Filter],
    p: &mut Problems,
) -> Option<Measure> {
    let Some(func) = Func::parse(spec.func.get_ref()) else {
        p.at(
            &spec.func,
            format!(
                "unknown measure `{}`: count, sum, avg, min, max, median, p90, count_distinct, \
                 rate_per_hour, share, sla_breached, sla_at_risk, sla_within_pct, \
                 time_to_first_response, serapan, plan_pct or deviation",
                spec.func.get_ref()
            ),
        );
        return None;
    };
    let of = match (&spec.of, func.needs_field()) {
        (Some(name), true) => {
            let f = fields::field(dataset, name.get_ref());
            match f {
                None => {
                    p.at(name, unknown_field(dataset, name.get_ref()));
                    return None;
                }
                Some(f) => {
                    let fits = match func {
                        Func::CountDistinct => true,
                        Func::Min | Func::Max => f.ty.is_numeric() || f.ty == FieldType::Time,
                        _ => f.ty.is_numeric(),
                    };
                    if !fits {
                        p.at(
                            name,
                            format!(
                                "`{}` cannot take `{}` ({:?}): it needs a number, money or duration",
                                spec.func.get_ref(),
                                f.name,
                                f.ty
                            ),
                        );
                        return None;
                    }
                    Some(f)
                }
            }
        }
        (None, true) => {
            p.at(
                &spec.func,
                format!("`{}` needs `of = \"field\"`", spec.func.get_ref()),
            );
            return None;
        }
        (Some(name), false) => {
            p.at(
                name,
                format!("`{}` reads no field; drop `of`", spec.func.get_ref()),
            );
            return None;
        }
        (None, false) => None,
    };
    let sla = matches!(
        func,
        Func::SlaBreached | Func::SlaAtRisk | Func::SlaWithinPct
    );
    if sla && !fields::sla_support(dataset) {
        p.at(
            &spec.func,
            format!(
                "SLA measures need complaints or service_events, not {}",
                dataset.name()
            ),
        );
    }
    if func == Func::TimeToFirstResponse && dataset != Dataset::Complaints {
        p.at(&spec.func, "time_to_first_response is a complaints measure");
    }
    if matches!(func, Func::Serapan | Func::PlanPct | Func::Deviation)
        && dataset != Dataset::BudgetLines
    {
        p.at(
            &spec.func,
            format!("`{}` is a budget_lines measure", spec.func.get_ref()),
        );
    }
    if func == Func::RatePerHour && !filters.iter().any(|f| matches!(f.test, Test::Window(_))) {
        p.at(
            &spec.func,
            "rate_per_hour needs a `window` filter to divide by",
        );
    }
    let within_secs = match (&spec.within, func) {
        (Some(w), Func::SlaAtRisk) => {
            Some(parse_duration(w.get_ref()).map_err(|e| p.at(w, e)).ok()?)
        }
        (None, Func::SlaAtRisk) => {
            p.at(&spec.func, "sla_at_risk needs `within` (e.g. \"4h\")");
            return None;
        }
        (Some(w), _) => {
            p.at(w, "`within` belongs to sla_at_risk only");
            return None;
        }
        (None, _) => None,
    };
    Some(Measure {
        id: spec.id.get_ref().clone(),
        func,
        of,
        within_secs,
        title: spec.title.clone().unwrap_or_else(|| Text {
            id: spec.id.get_ref().clone(),
            en: spec.id.get_ref().clone(),
        }),
    })
}

fn validate_layer(
    spec: &spec::LayerSpec,
    query: &Option<Query>,
    rules: &super::Rules,
    p: &mut Problems,
) -> Option<Layer> {
    if let Some(sets) = &rules.boundary_sets {
        if !sets.contains(spec.set.get_ref()) {
            p.at(
                &spec.set,
                format!(
                    "unknown boundary set `{}`: one of {}",
                    spec.set.get_ref(),
                    sets.join(", ")
                ),
            );
            return None;
        }
    }
    if spec.kind.get_ref() != "choropleth" {
        p.at(
            &spec.kind,
            format!("unknown layer kind `{}`: choropleth", spec.kind.get_ref()),
        );
        return None;
    }
    let q = query.as_ref()?;
    let measure = match &spec.measure {
        Some(m) => {
            if !q.measures.iter().any(|x| &x.id == m.get_ref()) {
                p.at(
                    m,
                    format!("`{}` is not a measure id of the query", m.get_ref()),
                );
                return None;
            }
            m.get_ref().clone()
        }
        None => q.measures.first()?.id.clone(),
    };
    let method = match spec.method.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("quantile") => Method::Quantile,
        Some("equal_interval") => Method::EqualInterval,
        Some(other) => {
            if let Some(m) = &spec.method {
                p.at(
                    m,
                    format!("unknown method `{other}`: quantile or equal_interval"),
                );
            }
            return None;
        }
    };
    let classes = match &spec.classes {
        Some(c) if !(2..=9).contains(c.get_ref()) => {
            p.at(c, "classes is 2 to 9");
            return None;
        }
        Some(c) => usize::from(*c.get_ref()),
        None => 5,
    };
    Some(Layer {
        set: spec.set.get_ref().clone(),
        measure,
        method,
        classes,
    })
}

/// What each kind needs of its query.
fn check_kind(
    kind: PanelKind,
    spec: &PanelSpec,
    q: &Query,
    columns: &[QueryField],
    layer: &Option<Layer>,
    p: &mut Problems,
) {
    let at = &spec.kind;
    let needs_measure = !matches!(kind, PanelKind::Table);
    // Measures that failed validation were reported already.
    let listed = spec.query.as_ref().is_some_and(|q| !q.measures.is_empty());
    if needs_measure && !listed {
        p.at(at, "this panel needs at least one measure");
    }
    if q.bucket.is_some() && kind != PanelKind::Timeseries {
        p.at(at, "`bucket` belongs to timeseries panels");
    }
    match kind {
        PanelKind::Kpi => {
            if !q.group_by.is_empty() {
                p.at(
                    at,
                    "a kpi shows one number: drop group_by (use a breakdown for groups)",
                );
            }
        }
        PanelKind::Timeseries => {
            if q.bucket.is_none() {
                p.at(at, "a timeseries needs `bucket = { field = …, size = … }`");
            }
            if q.group_by.len() > 1 {
                p.at(at, "a timeseries splits by at most one group_by field");
            }
        }
        PanelKind::Breakdown | PanelKind::Progress => {
            if q.group_by.is_empty() {
                p.at(at, "this panel needs group_by");
            }
        }
        PanelKind::Funnel => {
            let by_stage = q.group_by.len() == 1 && q.group_by[0].words.is_some();
            if !by_stage {
                p.at(
                    at,
                    "a funnel groups by one lifecycle field (status or outcome)",
                );
            }
        }
        PanelKind::Table => {
            if columns.is_empty() {
                p.at(at, "a table needs `columns`");
            }
            if !q.measures.is_empty() || !q.group_by.is_empty() {
                p.at(at, "a table lists rows: drop measures and group_by");
            }
            if spec.top.is_none() {
                p.at(at, "a table needs `top` (how many rows)");
            }
        }
        PanelKind::Map => {
            if layer.is_none() && spec.layer.is_none() {
                p.at(at, "a map needs a [panels.layer]");
            }
            let by_region = q.group_by.len() == 1 && fields::is_region(q.dataset, &q.group_by[0]);
            if !by_region {
                p.at(
                    at,
                    "a choropleth groups by one region field (kecamatan, kelurahan or region)",
                );
            }
        }
        PanelKind::SourceHealth => {}
    }
}
