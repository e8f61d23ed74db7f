//! Validation of a parsed dashboard file into a [`Dashboard`]: the dashboard and its panels
//! (ids, audience and grid, kinds and what each needs, map layers) here, queries in [`query`].
//! Every problem is collected with its place in the file, so one pass reports them all.

mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono_tz::Tz;
use toml::Spanned;

use super::fields::{self, QueryField};
use super::model::*;
use super::spec::{self, Area, DashboardSpec, PanelSpec};
use super::window::parse_duration;
pub(crate) use query::check_filter;
use query::{unknown_field, validate_query};

/// A problem in a dashboard file, at a byte range of its text when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub span: Option<Range<usize>>,
    /// What is wrong, for the person editing the file.
    pub message: String,
}

/// Collects problems while validating one file.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.0.push(Problem {
            span: Some(spanned.span()),
            message: message.into(),
        });
    }

    pub(super) fn near(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.0.push(Problem {
            span,
            message: message.into(),
        });
    }
}

/// Dashboard ids that would collide with `/api/dashboards/errors` and `/api/dashboards/schema`.
const RESERVED_IDS: &[&str] = &["errors", "schema"];

pub(super) fn valid_id(id: &str, extra: &str) -> bool {
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
    let kind = match spec.kind.get_ref().as_str() {
        "choropleth" => LayerKind::Choropleth,
        "points" => LayerKind::Points,
        "clusters" => LayerKind::Clusters,
        "heat" => LayerKind::Heat,
        other => {
            p.at(
                &spec.kind,
                format!("unknown layer kind `{other}`: choropleth, points, clusters or heat"),
            );
            return None;
        }
    };
    let q = query.as_ref()?;
    let zoom = match &spec.zoom {
        Some(z) if !(8..=20).contains(z.get_ref()) => {
            p.at(z, "zoom is 8 to 20");
            return None;
        }
        z => z.as_ref().map(|z| *z.get_ref()),
    };
    let cell_px = match &spec.cell {
        Some(c) if !(8..=256).contains(c.get_ref()) => {
            p.at(c, "cell is 8 to 256 pixels");
            return None;
        }
        Some(c) => u32::from(*c.get_ref()),
        None if kind == LayerKind::Heat => 32,
        None => 64,
    };
    let max_features = match &spec.max_features {
        Some(m) if !(1..=5000).contains(m.get_ref()) => {
            p.at(m, "max_features is 1 to 5000");
            return None;
        }
        Some(m) => usize::from(*m.get_ref()),
        None => 2000,
    };
    let weight = match &spec.weight {
        None => None,
        Some(w) if kind != LayerKind::Heat => {
            p.at(w, "`weight` belongs to heat layers");
            return None;
        }
        Some(w) => match fields::field(q.dataset, w.get_ref()) {
            Some(f) if f.ty.is_numeric() => Some(f),
            Some(_) => {
                p.at(
                    w,
                    format!("`{}` is not a number, hours or money field", w.get_ref()),
                );
                return None;
            }
            None => {
                p.at(w, format!("unknown field `{}`", w.get_ref()));
                return None;
            }
        },
    };
    if kind != LayerKind::Choropleth {
        let row_only = |name: &str, given: bool, p: &mut Problems| {
            if given {
                p.at(&spec.kind, format!("`{name}` belongs to choropleth layers"));
            }
        };
        row_only("measure", spec.measure.is_some(), p);
        row_only("method", spec.method.is_some(), p);
        row_only("classes", spec.classes.is_some(), p);
        return Some(Layer {
            kind,
            set: spec.set.get_ref().clone(),
            measure: String::new(),
            method: Method::Quantile,
            classes: 5,
            zoom,
            cell_px,
            max_features,
            weight,
        });
    }
    for (name, given) in [
        ("zoom", spec.zoom.is_some()),
        ("cell", spec.cell.is_some()),
        ("max_features", spec.max_features.is_some()),
    ] {
        if given {
            p.at(
                &spec.kind,
                format!("`{name}` belongs to points, clusters and heat layers"),
            );
        }
    }
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
        kind,
        set: spec.set.get_ref().clone(),
        measure,
        method,
        classes,
        zoom,
        cell_px,
        max_features,
        weight,
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
    let draws_rows = spec
        .layer
        .as_ref()
        .is_some_and(|l| l.kind.get_ref() != "choropleth");
    let needs_measure = !matches!(kind, PanelKind::Table) && !draws_rows;
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
            if draws_rows {
                let located = ["lat", "lon"]
                    .iter()
                    .all(|f| fields::field(q.dataset, f).is_some());
                if !located {
                    p.at(at, "a points, clusters or heat layer needs a dataset with lat and lon (complaints)");
                }
                if !q.measures.is_empty() || !q.group_by.is_empty() {
                    p.at(
                        at,
                        "a points, clusters or heat layer draws rows: drop measures and group_by",
                    );
                }
                return;
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
