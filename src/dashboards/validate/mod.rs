//! Validation of a parsed dashboard file into a [`Dashboard`]: the dashboard itself here (id,
//! audience, zone, grid, staleness), its panels in [`panel`] (their common fields and place on
//! the grid; what each kind needs is the kind's own, `dashboards::kinds`), map layers in
//! [`layer`], queries in [`query`]. Every problem is collected with its place in the file, so
//! one pass reports them all.

mod layer;
mod panel;
mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono_tz::Tz;
use toml::Spanned;

use super::model::*;
use super::spec::{Area, DashboardSpec};
use super::window::parse_duration;
use panel::{panel_order, validate_panel};
pub(crate) use query::check_filter;

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
pub struct Problems(Vec<Problem>);

impl Problems {
    /// A problem at the place of `spanned` in the file.
    pub fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.0.push(Problem {
            span: Some(spanned.span()),
            message: message.into(),
        });
    }

    /// A problem near `span` (or the whole file when `None`).
    pub fn near(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
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
