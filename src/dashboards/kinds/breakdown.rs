//! `breakdown`: groups ranked by the sort measure (default: the first measure, largest first),
//! the top N kept and the rest summed into `other` where the measure adds up, with the total. A
//! row per group (and `other`) when exported. `progress` ranks its groups the same way.

use serde_json::{json, Map, Value};

use super::{
    cell, decorate, group_key, measure_cells, measure_columns, measures_object, number, round,
    additive, Checking, Kind, Problems, RegionNames, Shaping,
};
use crate::dashboards::model::{Panel, Query};
use crate::dashboards::result::Group;
use crate::domain::table::{Cell, ColType, Column, Table};
use crate::domain::{NumberStyle, Rupiah};

/// The `breakdown` kind.
pub(super) struct Breakdown;

impl Kind for Breakdown {
    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        needs_groups(c, p);
    }

    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        ranked(s, groups, false)
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
        ranked_table(panel, value, false)
    }
}

/// Ranked kinds group their rows.
pub(super) fn needs_groups(c: &Checking<'_>, p: &mut Problems) {
    if c.query.is_some_and(|q| q.group_by.is_empty()) {
        p.at(&c.spec.kind, "this panel needs group_by");
    }
}

/// The groups ranked, the top N and `other`; with `progress`, each group's value measure, its
/// target and status.
pub(super) fn ranked(s: &Shaping<'_>, mut groups: Vec<Group>, progress: bool) -> Value {
    let (d, panel, q) = (s.dashboard, s.panel, s.query);
    let by = panel
        .sort
        .as_ref()
        .and_then(|(id, desc)| {
            q.measures
                .iter()
                .position(|m| &m.id == id)
                .map(|i| (i, *desc))
        })
        .unwrap_or((0, true));
    groups.sort_by(|a, b| {
        let (x, y) = (number(&a.values[by.0]), number(&b.values[by.0]));
        let ord = x
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&y.unwrap_or(f64::NEG_INFINITY));
        let ord = if by.1 { ord.reverse() } else { ord };
        ord.then_with(|| a.keys.cmp(&b.keys))
    });
    let top = panel.top.unwrap_or(usize::MAX);
    let mut out_groups = Map::new();
    let mut order = Vec::new();
    let dims: Vec<&str> = q.group_by.iter().map(|f| f.name).collect();
    for (rank, g) in groups.iter().take(top).enumerate() {
        let key = group_key(&g.keys, d.time_zone);
        let mut entry = json!({
            "rank": rank + 1,
            "rows": g.rows,
        });
        entry["labels"] = Value::Object(
            dims.iter()
                .zip(&g.keys)
                .map(|(n, k)| ((*n).to_owned(), json!(k.text(d.time_zone))))
                .collect(),
        );
        entry["measures"] = Value::Object(measures_object(q, &g.values));
        if progress {
            if let Some(v) = g.values.get(panel.value_measure) {
                entry["value"] = v.clone();
                decorate(panel, &mut entry, &g.values);
            }
        }
        order.push(json!(key));
        out_groups.insert(key, entry);
    }
    let rest = &groups[groups.len().min(top)..];
    let mut out = json!({ "groups": out_groups, "order": order, "group_count": groups.len() });
    if !rest.is_empty() {
        out["other"] = json!({
            "groups": rest.len(),
            "rows": rest.iter().map(|g| g.rows).sum::<u64>(),
            "measures": summed(q, rest),
        });
    }
    out["total"] = json!({
        "rows": groups.iter().map(|g| g.rows).sum::<u64>(),
        "measures": summed(q, &groups),
    });
    if let Some(t) = panel.target {
        out["target"] = json!(t);
    }
    out
}

/// Additive measures summed over `groups` (others are not sums of their parts: absent).
fn summed(q: &Query, groups: &[Group]) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, m) in q.measures.iter().enumerate() {
        if !additive(m.func) {
            continue;
        }
        let money = groups
            .iter()
            .any(|g| matches!(g.values[i], Value::String(_)));
        if money {
            let sen: i64 = groups
                .iter()
                .filter_map(|g| g.values[i].as_str())
                .filter_map(|s| Rupiah::parse(s, NumberStyle::English).ok())
                .map(|r| r.sen())
                .sum();
            out.insert(m.id.clone(), json!(Rupiah::from_sen(sen)));
        } else if groups.iter().all(|g| g.values[i].is_i64()) {
            let total: i64 = groups.iter().filter_map(|g| g.values[i].as_i64()).sum();
            out.insert(m.id.clone(), json!(total));
        } else {
            let total: f64 = groups.iter().filter_map(|g| number(&g.values[i])).sum();
            out.insert(m.id.clone(), round(total));
        }
    }
    out
}

/// A ranked value as a table: rank, the group's labels, rows, measures (and status for
/// progress), then `other` as the panel shows it.
pub(super) fn ranked_table(panel: &Panel, value: &Value, progress: bool) -> Table {
    let Some(q) = &panel.query else {
        return Table::default();
    };
    let dims: Vec<&str> = q.group_by.iter().map(|f| f.name).collect();
    let mut columns = vec![Column::new("rank", ColType::Integer)];
    columns.extend(dims.iter().map(|d| Column::new(*d, ColType::Text)));
    columns.push(Column::new("rows", ColType::Integer));
    columns.extend(measure_columns(q));
    if progress {
        columns.push(Column::new("status", ColType::Text));
    }
    let mut table = Table::new(columns);
    let groups = &value["groups"];
    for key in value["order"].as_array().into_iter().flatten() {
        let Some(group) = key.as_str().and_then(|k| groups.get(k)) else {
            continue;
        };
        let mut row = vec![cell(group.get("rank"), ColType::Integer)];
        row.extend(
            dims.iter()
                .map(|d| cell(group["labels"].get(*d), ColType::Text)),
        );
        row.push(cell(group.get("rows"), ColType::Integer));
        row.extend(measure_cells(q, &group["measures"]));
        if progress {
            row.push(cell(group.get("status"), ColType::Text));
        }
        table.rows.push(row);
    }
    if let Some(other) = value.get("other") {
        // The groups beyond `top`, as the panel shows them: additive measures summed.
        let mut row = vec![Cell::Null];
        row.extend(dims.iter().enumerate().map(|(i, _)| {
            if i == 0 {
                Cell::Text("other".to_owned())
            } else {
                Cell::Null
            }
        }));
        row.push(cell(other.get("rows"), ColType::Integer));
        row.extend(measure_cells(q, &other["measures"]));
        if progress {
            row.push(Cell::Null);
        }
        table.rows.push(row);
    }
    table
}
