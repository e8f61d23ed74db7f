//! A panel's value (the JSON its topic carries, see `docs/dashboards.md`) as a typed table, so the
//! numbers a screen shows can be exported exactly: one row per KPI, bucket, group, stage, table
//! row, region or source.

use std::collections::HashMap;

use chrono::DateTime;
use serde_json::Value;

use super::regions::Regions;
use super::table::{Cell, ColType, Column, Table};
use crate::dashboards::fields::FieldType;
use crate::dashboards::model::{Func, Measure, Panel, PanelKind, Query};
use crate::domain::{NumberStyle, Rupiah};

/// How a measure's values are typed.
fn measure_type(m: &Measure) -> ColType {
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

fn field_type(ty: FieldType) -> ColType {
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
fn cell(v: Option<&Value>, ty: ColType) -> Cell {
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
fn measure_columns(q: &Query) -> Vec<Column> {
    q.measures
        .iter()
        .map(|m| Column::new(m.id.clone(), measure_type(m)))
        .collect()
}

/// The measures of `object` (`{id: value}`) as cells in `q`'s order.
fn measure_cells(q: &Query, object: &Value) -> Vec<Cell> {
    q.measures
        .iter()
        .map(|m| cell(object.get(&m.id), measure_type(m)))
        .collect()
}

/// The table of `panel`'s `value`. `regions` gives a map's rows their region names and its
/// GeoJSON the regions' shapes.
pub fn tabulate(panel: &Panel, value: &Value, regions: Option<&Regions>) -> Table {
    let Some(q) = &panel.query else {
        return sources(value);
    };
    match panel.kind {
        PanelKind::Kpi => kpi(panel, q, value),
        PanelKind::Timeseries => timeseries(q, value),
        PanelKind::Breakdown | PanelKind::Progress => breakdown(panel, q, value),
        PanelKind::Funnel => funnel(q, value),
        PanelKind::Table => table(panel, value),
        PanelKind::Map if panel.layer.as_ref().is_some_and(|l| l.draws_rows()) => features(value),
        PanelKind::Map => map(panel, q, value, regions),
        PanelKind::SourceHealth => sources(value),
    }
}

fn kpi(panel: &Panel, q: &Query, value: &Value) -> Table {
    let headline = q
        .measures
        .get(panel.value_measure)
        .map_or(ColType::Float, measure_type);
    let mut columns = vec![Column::new("value", headline)];
    columns.extend(measure_columns(q));
    let mut row = vec![cell(value.get("value"), headline)];
    row.extend(measure_cells(q, &value["measures"]));
    let mut extra = |name: &str, ty: ColType| {
        if value.get(name).is_some() {
            columns.push(Column::new(name, ty));
            row.push(cell(value.get(name), ty));
        }
    };
    extra("previous", headline);
    extra("change", ColType::Float);
    extra("change_pct", ColType::Float);
    extra("compare_secs", ColType::Integer);
    extra("target", ColType::Float);
    extra("status", ColType::Text);
    Table {
        columns,
        rows: vec![row],
        regions: None,
    }
}

fn timeseries(q: &Query, value: &Value) -> Table {
    let series = q.group_by.first().map(|f| f.name);
    let mut columns = vec![Column::new("bucket", ColType::Time)];
    if let Some(name) = series {
        columns.push(Column::new(name, ColType::Text));
    }
    columns.extend(measure_columns(q));
    let mut table = Table::new(columns);
    if let Some(points) = value["points"].as_object() {
        for (bucket, point) in points {
            let at = cell(Some(&Value::String(bucket.clone())), ColType::Time);
            match (series, point.as_object()) {
                (Some(_), Some(by_series)) => {
                    for (name, measures) in by_series {
                        let mut row = vec![at.clone(), Cell::Text(name.clone())];
                        row.extend(measure_cells(q, measures));
                        table.rows.push(row);
                    }
                }
                _ => {
                    let mut row = vec![at];
                    row.extend(measure_cells(q, point));
                    table.rows.push(row);
                }
            }
        }
    }
    table
}

fn breakdown(panel: &Panel, q: &Query, value: &Value) -> Table {
    let dims: Vec<&str> = q.group_by.iter().map(|f| f.name).collect();
    let mut columns = vec![Column::new("rank", ColType::Integer)];
    columns.extend(dims.iter().map(|d| Column::new(*d, ColType::Text)));
    columns.push(Column::new("rows", ColType::Integer));
    columns.extend(measure_columns(q));
    let progress = panel.kind == PanelKind::Progress;
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

fn funnel(q: &Query, value: &Value) -> Table {
    let stage = q.group_by.first().map_or("stage", |f| f.name);
    let mut columns = vec![Column::new(stage, ColType::Text)];
    columns.extend(measure_columns(q));
    let mut table = Table::new(columns);
    let stages = &value["stages"];
    for name in value["order"].as_array().into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let mut row = vec![Cell::Text(name.to_owned())];
        row.extend(measure_cells(q, &stages[name]));
        table.rows.push(row);
    }
    table
}

fn table(panel: &Panel, value: &Value) -> Table {
    let mut columns = vec![Column::new("key", ColType::Text)];
    columns.extend(
        panel
            .columns
            .iter()
            .map(|f| Column::new(f.name, field_type(f.ty))),
    );
    let mut table = Table::new(columns);
    let rows = &value["rows"];
    for key in value["order"].as_array().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        let mut row = vec![Cell::Text(key.to_owned())];
        row.extend(
            panel
                .columns
                .iter()
                .map(|f| cell(rows[key].get(f.name), field_type(f.ty))),
        );
        table.rows.push(row);
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
    let members = ["points", "clusters", "cells"]
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

fn map(panel: &Panel, q: &Query, value: &Value, regions: Option<&Regions>) -> Table {
    let set = panel
        .layer
        .as_ref()
        .map(|l| l.set.as_str())
        .unwrap_or_default();
    let name = |code: &str| regions.and_then(|r| r.name(set, code));
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
            let number = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            // Classes counted from 1 (lowest values), as a legend reads.
            let class = number.map(|x| crate::engine::classes::class_of(x, &breaks) as i64 + 1);
            table.rows.push(vec![
                Cell::Text(code.clone()),
                name(code).map_or(Cell::Null, Cell::Text),
                cell(Some(v), ty),
                class.map_or(Cell::Null, Cell::Int),
            ]);
        }
    }
    table.regions = regions.and_then(|r| r.shapes(set)).map(|s| (0, s));
    table
}

/// A source-health value (`{"sources": {id: report}}`): a row per source, a column per field of
/// the reports (text and numbers as they are).
fn sources(value: &Value) -> Table {
    let mut names: Vec<String> = Vec::new();
    let mut types: HashMap<String, ColType> = HashMap::new();
    let reports = value["sources"].as_object().cloned().unwrap_or_default();
    for report in reports.values() {
        for (k, v) in report.as_object().into_iter().flatten() {
            let ty = match v {
                Value::Number(n) if n.is_i64() => ColType::Integer,
                Value::Number(_) => ColType::Float,
                Value::Bool(_) => ColType::Bool,
                Value::Null => continue,
                _ => ColType::Text,
            };
            if !types.contains_key(k) {
                names.push(k.clone());
            }
            types.entry(k.clone()).or_insert(ty);
        }
    }
    let mut columns = vec![Column::new("source", ColType::Text)];
    columns.extend(names.iter().map(|n| Column::new(n.clone(), types[n])));
    let mut table = Table::new(columns);
    for (id, report) in &reports {
        let mut row = vec![Cell::Text(id.clone())];
        row.extend(names.iter().map(|n| cell(report.get(n), types[n])));
        table.rows.push(row);
    }
    table
}
