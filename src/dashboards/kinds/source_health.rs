//! `source_health`: the sources' health (state, last success and failure, rows in and
//! quarantined), all of them or the `sources` listed. A row per source when exported.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{cell, Checking, Input, Kind, Problems, RegionNames};
use crate::dashboards::model::Panel;
use crate::domain::table::{Cell, ColType, Column, Table};
use crate::domain::SourceStatus;

/// The `source_health` kind.
pub(super) struct SourceHealth;

impl Kind for SourceHealth {
    fn has_query(&self) -> bool {
        false
    }

    fn input(&self, _panel: &Panel) -> Input {
        Input::Sources
    }

    fn check(&self, _c: &Checking<'_>, _p: &mut Problems) {}

    fn shape_sources(&self, panel: &Panel, sources: &[SourceStatus], now: DateTime<Utc>) -> Value {
        let rows: Map<String, Value> = sources
            .iter()
            .filter(|s| panel.sources.as_ref().is_none_or(|ids| ids.contains(&s.id)))
            .map(|s| (s.id.clone(), s.report(now)))
            .collect();
        json!({ "sources": rows })
    }

    /// A row per source, a column per field of the reports (text and numbers as they are).
    fn tabulate(&self, _panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
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
}
