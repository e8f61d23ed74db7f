//! `kpi`: one number (the value measure), its other measures, the change against `compare` ago,
//! the target and red/amber/green. One row when exported.

use serde_json::{json, Map, Value};

use super::{
    cell, decorate, measure_cells, measure_columns, measure_type, number, round, single, Checking,
    Kind, Problems, RegionNames, Shaping,
};
use crate::dashboards::model::Panel;
use crate::dashboards::result::Group;
use crate::domain::table::{ColType, Column, Table};

/// The `kpi` kind.
pub(super) struct Kpi;

impl Kind for Kpi {
    fn compares(&self) -> bool {
        true
    }

    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        if c.query.is_some_and(|q| !q.group_by.is_empty()) {
            p.at(
                &c.spec.kind,
                "a kpi shows one number: drop group_by (use a breakdown for groups)",
            );
        }
    }

    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        let (panel, q) = (s.panel, s.query);
        let value = single(&groups);
        let headline = |v: &[Value]| v.get(panel.value_measure).cloned().unwrap_or(Value::Null);
        let mut out = json!({ "value": headline(&value) });
        let ids: Map<String, Value> = q
            .measures
            .iter()
            .zip(&value)
            .map(|(m, v)| (m.id.clone(), v.clone()))
            .collect();
        out["measures"] = Value::Object(ids);
        if let (Some(back), Some(previous)) = (panel.compare_secs, s.previous.clone()) {
            let (now_v, then_v) = (number(&out["value"]), number(&previous));
            out["previous"] = previous;
            out["compare_secs"] = json!(back);
            if let (Some(a), Some(b)) = (now_v, then_v) {
                out["change"] = round(a - b);
                out["change_pct"] = if b == 0.0 {
                    Value::Null
                } else {
                    round((a - b) / b.abs() * 100.0)
                };
            }
        }
        decorate(panel, &mut out, &value);
        out
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
        let Some(q) = &panel.query else {
            return Table::default();
        };
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
}
