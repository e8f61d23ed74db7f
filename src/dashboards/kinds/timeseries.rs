//! `timeseries`: values per time bucket of the dashboard's zone (and per series when split by one
//! field); the buckets of a bounded window with no rows are filled with zero counts, so a chart
//! shows a gap as zero, not as a missing point. A row per bucket (and series) when exported.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    cell, empty_value, measure_cells, measure_columns, measures_object, Checking, Kind, Problems,
    RegionNames, Shaping,
};
use crate::dashboards::model::{Panel, Test};
use crate::dashboards::result::{Group, Key};
use crate::dashboards::window::BucketSize;
use crate::domain::table::{Cell, ColType, Column, Table};

/// The `timeseries` kind.
pub(super) struct Timeseries;

/// Buckets filled in at most (a day of minutes is 1,440).
const MAX_FILLED: usize = 2_000;

impl Kind for Timeseries {
    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        let Some(q) = c.query else { return };
        if q.bucket.is_none() {
            p.at(
                &c.spec.kind,
                "a timeseries needs `bucket = { field = …, size = … }`",
            );
        }
        if q.group_by.len() > 1 {
            p.at(
                &c.spec.kind,
                "a timeseries splits by at most one group_by field",
            );
        }
    }

    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        let (d, panel, q, now) = (s.dashboard, s.panel, s.query, s.now);
        let Some(bucket) = q.bucket else {
            return Value::Null;
        };
        let split = !q.group_by.is_empty();
        let mut points: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
        for g in &groups {
            let Some(Key::Time(t)) = g.keys.last() else {
                continue;
            };
            let measures = Value::Object(measures_object(q, &g.values));
            let slot = points.entry(*t).or_default();
            if split {
                slot.insert(g.keys[0].text(d.time_zone), measures);
            } else {
                *slot = measures.as_object().cloned().unwrap_or_default();
            }
        }
        let window = q
            .filters
            .iter()
            .find_map(|f| match (&f.test, f.field.name == bucket.field.name) {
                (Test::Window(w), true) => Some(*w),
                _ => None,
            });
        if let (Some(w), false) = (window, split) {
            let (start, end) = w.range(now, d.time_zone, d.fiscal_year_start);
            let end = end.min(now.timestamp() + 1);
            let zero: Map<String, Value> = q
                .measures
                .iter()
                .map(|m| (m.id.clone(), empty_value(m)))
                .collect();
            let mut t = bucket.size.start_of(start, d.time_zone);
            let mut n = 0;
            while t < end && n < MAX_FILLED {
                points.entry(t).or_insert_with(|| zero.clone());
                t = next_bucket(t, bucket.size, d.time_zone);
                n += 1;
            }
        }
        let out: Map<String, Value> = points
            .into_iter()
            .map(|(t, v)| (Key::Time(t).text(d.time_zone), Value::Object(v)))
            .collect();
        let mut value = json!({
            "bucket": bucket.size,
            "time_zone": d.time_zone.name(),
            "points": out,
        });
        if let Some(t) = panel.target {
            value["target"] = json!(t);
        }
        value
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
        let Some(q) = &panel.query else {
            return Table::default();
        };
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
}

fn next_bucket(t: i64, size: BucketSize, tz: chrono_tz::Tz) -> i64 {
    // One step past the bucket's shortest length lands in the next bucket even across DST.
    let step = match size {
        BucketSize::Minute => 60,
        BucketSize::Hour => 3600,
        BucketSize::Day => 23 * 3600 + 1,
        BucketSize::Week => 7 * 86_400 - 3600 + 1,
        BucketSize::Month => 28 * 86_400,
    };
    let mut next = size.start_of(t + step, tz);
    if next <= t {
        next = size.start_of(t + step + 3 * 3600, tz);
    }
    next
}
