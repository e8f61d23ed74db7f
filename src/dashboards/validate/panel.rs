//! Validation of one panel: id, kind, place on the wall grid, query, comparison, thresholds,
//! top, columns, sort, layer and value measure; then what its kind needs
//! (`dashboards::kinds`).

use std::ops::Range;

use toml::Spanned;

use super::layer::validate_layer;
use super::query::{unknown_field, validate_query};
use super::{valid_id, Problems};
use crate::dashboards::fields::{self, QueryField};
use crate::dashboards::kinds::{check_common, Checking, PanelKind};
use crate::dashboards::model::*;
use crate::dashboards::spec::{Area, PanelSpec};
use crate::dashboards::window::parse_duration;

pub(super) fn panel_order(panel: &PanelSpec, index: usize) -> (u32, usize) {
    (panel.order.unwrap_or(u32::MAX), index)
}

pub(super) fn validate_panel(
    spec: &PanelSpec,
    audience: Audience,
    layout: Option<Layout>,
    rules: &crate::dashboards::Rules,
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
                "unknown panel kind `{}`: use {}",
                spec.kind.get_ref(),
                or_list(&PanelKind::names())
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
    let query = match (&spec.query, kind.map(|k| k.kind().has_query())) {
        (None, Some(false)) => None,
        (Some(_), Some(false)) => {
            p.at(
                &spec.kind,
                format!(
                    "a {} panel has no query; list `sources` instead",
                    spec.kind.get_ref()
                ),
            );
            None
        }
        (None, Some(true)) => {
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
        let checking = Checking {
            spec,
            query: Some(q),
            columns: &columns,
            layer: layer.as_ref(),
        };
        check_common(kind, &checking, p);
        kind.kind().check(&checking, p);
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

/// `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
