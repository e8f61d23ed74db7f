//! A panel's value: its query's result shaped for its kind (kpi, timeseries, breakdown, …).
//!
//! Collections are JSON objects keyed by a stable id (a label, a bucket time, a row key), so a
//! merge patch between two values carries only the members that changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::classes;
use super::query::{self, round, Frames, Group, Key, Moment, QueryError};
use crate::dashboards::model::{Dashboard, Func, Panel, PanelKind, Query, Test};
use crate::dashboards::window::BucketSize;
use crate::domain::SourceStatus;

/// What panels need besides the data.
#[derive(Clone, Default)]
pub struct PanelContext {
    /// Boundary sets, so a choropleth shows regions without rows (as 0).
    pub geo: Option<Arc<crate::geo::Catalog>>,
}

impl PanelContext {
    /// The lon/lat corners of boundary set `set` (none when the set is unknown or invalid).
    pub fn bounds(&self, set: &str) -> Option<((f64, f64), (f64, f64))> {
        match self.geo.as_ref().and_then(|g| g.get(set)) {
            Some(Ok(b)) => b.bounds(),
            _ => None,
        }
    }

    /// Region codes of boundary set `set` (none when the set is unknown or invalid).
    pub fn regions(&self, set: &str) -> Vec<String> {
        match self.geo.as_ref().and_then(|g| g.get(set)) {
            Some(Ok(b)) => b.regions().iter().map(|r| r.code.to_string()).collect(),
            _ => Vec::new(),
        }
    }
}

pub(crate) fn moment(d: &Dashboard, now: DateTime<Utc>, as_of: bool) -> Moment {
    Moment {
        now,
        as_of,
        tz: d.time_zone,
        fiscal_start: d.fiscal_year_start,
    }
}

/// Whether `panel` can be kept current from the store's deltas: a grouped or single-value kind
/// whose measures are all sums of per-row contributions (see [`query::decomposable`]).
pub fn incremental(panel: &Panel) -> bool {
    matches!(
        panel.kind,
        PanelKind::Kpi
            | PanelKind::Timeseries
            | PanelKind::Breakdown
            | PanelKind::Progress
            | PanelKind::Funnel
            | PanelKind::Map
    ) && !panel.layer.as_ref().is_some_and(|l| l.draws_rows())
        && panel.query.as_ref().is_some_and(query::decomposable)
}

/// A KPI's headline value as of `compare` before `now` (`None` for a panel without a comparison).
pub fn previous(
    dashboard: &Dashboard,
    panel: &Panel,
    frames: &Frames,
    now: DateTime<Utc>,
) -> Result<Option<Value>, QueryError> {
    let (Some(q), Some(back), PanelKind::Kpi) = (&panel.query, panel.compare_secs, panel.kind)
    else {
        return Ok(None);
    };
    let then = moment(dashboard, now - Duration::seconds(back), true);
    let values = single(&query::groups(q, frames, &then)?);
    Ok(Some(
        values
            .get(panel.value_measure)
            .cloned()
            .unwrap_or(Value::Null),
    ))
}

/// The value of a grouped or single-value panel (every kind but table and source health) from
/// its query's groups; a KPI's comparison is `previous` (see [`previous`]).
pub fn shape(
    dashboard: &Dashboard,
    panel: &Panel,
    q: &Query,
    groups: Vec<Group>,
    previous: Option<Value>,
    context: &PanelContext,
    now: DateTime<Utc>,
) -> Value {
    match panel.kind {
        PanelKind::Kpi => {
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
            if let (Some(back), Some(previous)) = (panel.compare_secs, previous) {
                let (now_v, then_v) = (number(out["value"].clone()), number(previous.clone()));
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
        PanelKind::Timeseries => timeseries(dashboard, panel, q, &groups, now),
        PanelKind::Breakdown | PanelKind::Progress => breakdown(dashboard, panel, q, groups),
        PanelKind::Funnel => funnel(panel, q, &groups),
        PanelKind::Map => choropleth(panel, q, &groups, context),
        PanelKind::Table | PanelKind::SourceHealth => Value::Null,
    }
}

/// The value of `panel` of `dashboard` over a snapshot's `Frames` at `now`.
pub fn evaluate(
    dashboard: &Dashboard,
    panel: &Panel,
    frames: &Frames,
    sources: &[SourceStatus],
    context: &PanelContext,
    now: DateTime<Utc>,
) -> Result<Value, QueryError> {
    evaluate_at(dashboard, panel, frames, sources, context, now, false)
}

/// [`evaluate`], reading the data as it was at `now` when `as_of` is set (a snapshot of a past
/// moment): the versions current then, windows and SLA deadlines at that clock. A source-health
/// panel has no past: its value as of a past moment is null.
pub fn evaluate_at(
    dashboard: &Dashboard,
    panel: &Panel,
    frames: &Frames,
    sources: &[SourceStatus],
    context: &PanelContext,
    now: DateTime<Utc>,
    as_of: bool,
) -> Result<Value, QueryError> {
    let Some(q) = &panel.query else {
        if as_of {
            return Ok(Value::Null);
        }
        return Ok(source_health(panel, sources, now));
    };
    let at = moment(dashboard, now, as_of);
    match panel.kind {
        PanelKind::Table => {
            let rows = query::table(
                q,
                &panel.columns,
                panel.sort.as_ref(),
                panel.top.unwrap_or(10),
                frames,
                &at,
            )?;
            let order: Vec<Value> = rows.iter().map(|(k, _)| json!(k)).collect();
            let rows: Map<String, Value> = rows
                .into_iter()
                .map(|(k, v)| (k, Value::Object(v)))
                .collect();
            Ok(json!({ "rows": rows, "order": order }))
        }
        // A query on a source-health panel is refused by validation.
        PanelKind::SourceHealth => Ok(source_health(panel, sources, now)),
        PanelKind::Map if panel.layer.as_ref().is_some_and(|l| l.draws_rows()) => {
            let layer = panel.layer.as_ref().expect("checked above");
            super::layers::value(layer, q, frames, &at, context)
        }
        _ => {
            let groups = query::groups(q, frames, &at)?;
            let previous = previous(dashboard, panel, frames, now)?;
            Ok(shape(dashboard, panel, q, groups, previous, context, now))
        }
    }
}

fn number(v: Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // Money travels as an exact decimal string.
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The measures of an ungrouped result (no rows: counts 0, the rest empty).
fn single(groups: &[Group]) -> Vec<Value> {
    groups.first().map(|g| g.values.clone()).unwrap_or_default()
}

/// Adds the target and the red/amber/green status (of the measure the thresholds judge, among
/// `values`) to `out`.
fn decorate(panel: &Panel, out: &mut Value, values: &[Value]) {
    if let Some(t) = panel.target {
        out["target"] = json!(t);
    }
    if let Some(bands) = &panel.thresholds {
        if let Some(v) = values.get(bands.measure).cloned().and_then(number) {
            out["status"] = json!(bands.status(v));
        }
    }
}

/// Whether summing the measure over groups gives the measure over their union.
fn additive(func: Func) -> bool {
    matches!(
        func,
        Func::Count | Func::Sum | Func::SlaBreached | Func::SlaAtRisk
    )
}

fn measures_object(q: &Query, values: &[Value]) -> Map<String, Value> {
    q.measures
        .iter()
        .zip(values)
        .map(|(m, v)| (m.id.clone(), v.clone()))
        .collect()
}

fn group_key(keys: &[Key], tz: chrono_tz::Tz) -> String {
    keys.iter()
        .map(|k| k.text(tz))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Groups ranked by the sort key (default: the first measure, largest first), top N kept and
/// the rest summed into `other` where the measure adds up.
fn breakdown(d: &Dashboard, panel: &Panel, q: &Query, mut groups: Vec<Group>) -> Value {
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
        let (x, y) = (
            number(a.values[by.0].clone()),
            number(b.values[by.0].clone()),
        );
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
        if panel.kind == PanelKind::Progress {
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
                .filter_map(|s| {
                    crate::domain::Rupiah::parse(s, crate::domain::NumberStyle::English).ok()
                })
                .map(|r| r.sen())
                .sum();
            out.insert(m.id.clone(), json!(crate::domain::Rupiah::from_sen(sen)));
        } else if groups.iter().all(|g| g.values[i].is_i64()) {
            let total: i64 = groups.iter().filter_map(|g| g.values[i].as_i64()).sum();
            out.insert(m.id.clone(), json!(total));
        } else {
            let total: f64 = groups
                .iter()
                .filter_map(|g| number(g.values[i].clone()))
                .sum();
            out.insert(m.id.clone(), round(total));
        }
    }
    out
}

/// Points per bucket (and per series when split by one field); buckets of a bounded window with
/// no rows are filled with zero counts so a chart shows the gap as zero, not as a missing point.
fn timeseries(
    d: &Dashboard,
    panel: &Panel,
    q: &Query,
    groups: &[Group],
    now: DateTime<Utc>,
) -> Value {
    let Some(bucket) = q.bucket else {
        return Value::Null;
    };
    let split = !q.group_by.is_empty();
    let mut points: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
    for g in groups {
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
    let window =
        q.filters
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
            .map(|m| {
                (
                    m.id.clone(),
                    if additive(m.func) {
                        json!(0)
                    } else {
                        Value::Null
                    },
                )
            })
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

/// Buckets filled in at most (a day of minutes is 1,440).
const MAX_FILLED: usize = 2_000;

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

/// Counts per lifecycle stage in lifecycle order, every stage present.
fn funnel(panel: &Panel, q: &Query, groups: &[Group]) -> Value {
    let words = q.group_by.first().and_then(|f| f.words).unwrap_or(&[]);
    let mut stages = Map::new();
    for w in words {
        let found = groups
            .iter()
            .find(|g| matches!(g.keys.first(), Some(Key::Text(t)) if t == w));
        let values = found.map_or_else(
            || {
                q.measures
                    .iter()
                    .map(|m| {
                        if additive(m.func) {
                            json!(0)
                        } else {
                            Value::Null
                        }
                    })
                    .collect()
            },
            |g| g.values.clone(),
        );
        stages.insert((*w).to_owned(), Value::Object(measures_object(q, &values)));
    }
    let mut out = json!({ "stages": stages, "order": words });
    if let Some(t) = panel.target {
        out["target"] = json!(t);
    }
    out
}

/// Values per region code with class breaks computed here, so every screen shows one legend.
/// Regions of the set without rows show 0 for counts and sums, and are absent (no data) for
/// measures that have no value without rows.
fn choropleth(panel: &Panel, q: &Query, groups: &[Group], context: &PanelContext) -> Value {
    let Some(layer) = &panel.layer else {
        return Value::Null;
    };
    let i = q
        .measures
        .iter()
        .position(|m| m.id == layer.measure)
        .unwrap_or(0);
    let mut values = Map::new();
    if additive(q.measures[i].func) {
        for code in context.regions(&layer.set) {
            values.insert(code, json!(0));
        }
    }
    for g in groups {
        if let Some(Key::Text(code)) = g.keys.first() {
            values.insert(code.clone(), g.values[i].clone());
        }
    }
    let numbers: Vec<f64> = values.values().filter_map(|v| number(v.clone())).collect();
    json!({
        "set": layer.set,
        "measure": layer.measure,
        "method": layer.method,
        "breaks": classes::breaks(&numbers, layer.classes, layer.method),
        "values": values,
    })
}

/// The sources shown by a source-health panel, with their state.
fn source_health(panel: &Panel, sources: &[SourceStatus], now: DateTime<Utc>) -> Value {
    let rows: Map<String, Value> = sources
        .iter()
        .filter(|s| panel.sources.as_ref().is_none_or(|ids| ids.contains(&s.id)))
        .map(|s| (s.id.clone(), s.report(now)))
        .collect();
    json!({ "sources": rows })
}
