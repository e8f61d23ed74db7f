//! `map`: a layer over a boundary set — a `choropleth` (a measure per region, in classes whose
//! breaks are computed here so every screen shows one legend), or the rows themselves as
//! `points`, `clusters` or `heat` (computed by the engine's map layers). Exported as a row per
//! region (with its name and class; GeoJSON draws the regions' shapes) or per feature.

use serde_json::{json, Map as JsonMap, Value};

use super::{
    additive, cell, measure_type, number, Checking, Input, Kind, Problems, RegionNames, Shaping,
};
use crate::dashboards::fields;
use crate::dashboards::model::{Method, Panel};
use crate::dashboards::result::{Group, Key};
use crate::domain::table::{Cell, ColType, Column, Table};

/// The `map` kind.
pub(super) struct Map;

impl Kind for Map {
    fn input(&self, panel: &Panel) -> Input {
        if panel.layer.as_ref().is_some_and(|l| l.draws_rows()) {
            Input::LayerRows
        } else {
            Input::Groups
        }
    }

    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        let (at, spec) = (&c.spec.kind, c.spec);
        if c.layer.is_none() && spec.layer.is_none() {
            p.at(at, "a map needs a [panels.layer]");
        }
        let Some(q) = c.query else { return };
        let draws_rows = spec
            .layer
            .as_ref()
            .is_some_and(|l| l.kind.get_ref() != "choropleth");
        if draws_rows {
            let located = ["lat", "lon"]
                .iter()
                .all(|f| fields::field(q.dataset, f).is_some());
            if !located {
                p.at(
                    at,
                    "a points, clusters or heat layer needs a dataset with lat and lon (complaints)",
                );
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

    /// Values per region code with class breaks. Regions of the set without rows show 0 for
    /// counts and sums, and are absent (no data) for measures that have no value without rows.
    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        let (panel, q) = (s.panel, s.query);
        let Some(layer) = &panel.layer else {
            return Value::Null;
        };
        let i = q
            .measures
            .iter()
            .position(|m| m.id == layer.measure)
            .unwrap_or(0);
        let mut values = JsonMap::new();
        if additive(q.measures[i].func) {
            for code in s.sets.regions(&layer.set) {
                values.insert(code, json!(0));
            }
        }
        for g in &groups {
            if let Some(Key::Text(code)) = g.keys.first() {
                values.insert(code.clone(), g.values[i].clone());
            }
        }
        let numbers: Vec<f64> = values.values().filter_map(number).collect();
        json!({
            "set": layer.set,
            "measure": layer.measure,
            "method": layer.method,
            "breaks": breaks(&numbers, layer.classes, layer.method),
            "values": values,
        })
    }

    fn tabulate(&self, panel: &Panel, value: &Value, names: &dyn RegionNames) -> Table {
        match self.input(panel) {
            Input::LayerRows => features(value),
            _ => regions(panel, value, names),
        }
    }

    fn shapes_set<'p>(&self, panel: &'p Panel) -> Option<&'p str> {
        match self.input(panel) {
            Input::Groups => panel.layer.as_ref().map(|l| l.set.as_str()),
            _ => None,
        }
    }
}

/// A choropleth: a row per region with its name, value and class (from 1, lowest values).
fn regions(panel: &Panel, value: &Value, names: &dyn RegionNames) -> Table {
    let Some(q) = &panel.query else {
        return Table::default();
    };
    let set = panel
        .layer
        .as_ref()
        .map(|l| l.set.as_str())
        .unwrap_or_default();
    let measure = value["measure"].as_str().unwrap_or_default();
    let ty = q
        .measures
        .iter()
        .find(|m| m.id == measure)
        .map_or(ColType::Float, measure_type);
    let mut table = Table::new(vec![
        Column::new("region", ColType::Text),
        Column::new("name", ColType::Text),
        Column::new(measure, ty),
        Column::new("class", ColType::Integer),
    ]);
    let breaks: Vec<f64> = value["breaks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    if let Some(values) = value["values"].as_object() {
        for (code, v) in values {
            // Classes counted from 1 (lowest values), as a legend reads.
            let class = number(v).map(|x| class_of(x, &breaks) as i64 + 1);
            table.rows.push(vec![
                Cell::Text(code.clone()),
                names.name(set, code).map_or(Cell::Null, Cell::Text),
                cell(Some(v), ty),
                class.map_or(Cell::Null, Cell::Int),
            ]);
        }
    }
    table
}

/// A points, clusters or heat layer: one row per feature (a complaint, a cluster or a cell);
/// `weight` for heat cells.
fn features(value: &Value) -> Table {
    let mut table = Table::new(vec![
        Column::new("feature", ColType::Text),
        Column::new("lon", ColType::Float),
        Column::new("lat", ColType::Float),
        Column::new("count", ColType::Integer),
        Column::new("weight", ColType::Float),
        Column::new("status", ColType::Text),
    ]);
    let members: Option<&JsonMap<String, Value>> = ["points", "clusters", "cells"]
        .iter()
        .find_map(|m| value[*m].as_object());
    for (id, f) in members.into_iter().flatten() {
        let count = f["count"].as_i64().unwrap_or(1);
        table.rows.push(vec![
            Cell::Text(id.clone()),
            f["lon"].as_f64().map_or(Cell::Null, Cell::Float),
            f["lat"].as_f64().map_or(Cell::Null, Cell::Float),
            Cell::Int(count),
            f["weight"].as_f64().map_or(Cell::Null, Cell::Float),
            f["status"]
                .as_str()
                .map_or(Cell::Null, |s| Cell::Text(s.to_owned())),
        ]);
    }
    table
}

/// Upper bounds of the classes but the last: a value `v` is in the first class whose break is
/// `>= v`, or in the last class. Fewer classes come back when the values do not support them
/// (e.g. all regions equal); an empty slice means one class.
pub fn breaks(values: &[f64], classes: usize, method: Method) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() || classes < 2 {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let mut out: Vec<f64> = match method {
        Method::EqualInterval => (1..classes)
            .map(|i| min + (max - min) * i as f64 / classes as f64)
            .collect(),
        Method::Quantile => (1..classes)
            .map(|i| {
                let rank = (sorted.len() * i).div_ceil(classes).max(1) - 1;
                sorted[rank]
            })
            .collect(),
    };
    // Breaks must rise strictly and lie below the maximum, else a class would be empty.
    out.dedup();
    out.retain(|b| *b < max);
    out
}

/// The class (0-based) of `value` for `breaks`.
pub fn class_of(value: f64, breaks: &[f64]) -> usize {
    breaks
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(breaks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_breaks_fill_classes_evenly() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let b = breaks(&values, 5, Method::Quantile);
        assert_eq!(b, [2.0, 4.0, 6.0, 8.0]);
        let mut counts = [0; 5];
        for v in &values {
            counts[class_of(*v, &b)] += 1;
        }
        assert_eq!(counts, [2, 2, 2, 2, 2]);
    }

    #[test]
    fn equal_intervals_split_the_range() {
        assert_eq!(
            breaks(&[0.0, 100.0, 30.0], 4, Method::EqualInterval),
            [25.0, 50.0, 75.0]
        );
        assert_eq!(class_of(100.0, &[25.0, 50.0, 75.0]), 3);
        assert_eq!(class_of(0.0, &[25.0, 50.0, 75.0]), 0);
    }

    #[test]
    fn degenerate_inputs_give_fewer_classes_never_empty_ones() {
        assert!(breaks(&[], 5, Method::Quantile).is_empty());
        assert!(breaks(&[3.0, 3.0, 3.0], 5, Method::Quantile).is_empty());
        assert_eq!(breaks(&[0.0, 0.0, 0.0, 7.0], 4, Method::Quantile), [0.0]);
        assert!(breaks(&[1.0, f64::NAN], 3, Method::EqualInterval).is_empty());
    }
}
