//! `funnel`: counts per lifecycle stage (`status`, `outcome`) in lifecycle order, every stage
//! present. A row per stage when exported.

use serde_json::{json, Map, Value};

use super::{
    empty_value, measure_cells, measure_columns, measures_object, Checking, Kind, Problems,
    RegionNames, Shaping,
};
use crate::dashboards::model::Panel;
use crate::dashboards::result::{Group, Key};
use crate::domain::table::{Cell, ColType, Column, Table};

/// The `funnel` kind.
pub(super) struct Funnel;

impl Kind for Funnel {
    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        let by_stage = c
            .query
            .is_some_and(|q| q.group_by.len() == 1 && q.group_by[0].words.is_some());
        if c.query.is_some() && !by_stage {
            p.at(
                &c.spec.kind,
                "a funnel groups by one lifecycle field (status or outcome)",
            );
        }
    }

    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        let q = s.query;
        let words = q.group_by.first().and_then(|f| f.words).unwrap_or(&[]);
        let mut stages = Map::new();
        for w in words {
            let found = groups
                .iter()
                .find(|g| matches!(g.keys.first(), Some(Key::Text(t)) if t == w));
            let values = found.map_or_else(
                || q.measures.iter().map(empty_value).collect(),
                |g| g.values.clone(),
            );
            stages.insert((*w).to_owned(), Value::Object(measures_object(q, &values)));
        }
        let mut out = json!({ "stages": stages, "order": words });
        if let Some(t) = s.panel.target {
            out["target"] = json!(t);
        }
        out
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
        let Some(q) = &panel.query else {
            return Table::default();
        };
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
}
