//! `table`: the first `top` rows of a query by `sort`, with the `columns` asked for, keyed by
//! the row's key. A row per row when exported.

use serde_json::{json, Map, Value};

use super::{cell, field_type, Checking, Input, Kind, Problems, RegionNames};
use crate::dashboards::model::Panel;
use crate::domain::table::{Cell, ColType, Column, Table};

/// The `table` kind.
pub(super) struct TableKind;

impl Kind for TableKind {
    fn input(&self, _panel: &Panel) -> Input {
        Input::Rows
    }

    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        let at = &c.spec.kind;
        if c.columns.is_empty() {
            p.at(at, "a table needs `columns`");
        }
        if c
            .query
            .is_some_and(|q| !q.measures.is_empty() || !q.group_by.is_empty())
        {
            p.at(at, "a table lists rows: drop measures and group_by");
        }
        if c.spec.top.is_none() {
            p.at(at, "a table needs `top` (how many rows)");
        }
    }

    fn shape_rows(&self, rows: Vec<(String, Map<String, Value>)>) -> Value {
        let order: Vec<Value> = rows.iter().map(|(k, _)| json!(k)).collect();
        let rows: Map<String, Value> = rows
            .into_iter()
            .map(|(k, v)| (k, Value::Object(v)))
            .collect();
        json!({ "rows": rows, "order": order })
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
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
}
