//! A panel's value: its query computed as its kind asks (`dashboards::kinds::Kind::input`) and
//! shaped by its kind — groups, the first rows, a map layer of rows, or the sources' health.
//!
//! Collections are JSON objects keyed by a stable id (a label, a bucket time, a row key), so a
//! merge patch between two values carries only the members that changed.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::query::{self, Frames, Moment, QueryError};
use crate::dashboards::kinds::{single, Input, Sets, Shaping};
use crate::dashboards::model::{Dashboard, Panel, Query};
use crate::dashboards::result::Group;
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
}

impl Sets for PanelContext {
    fn regions(&self, set: &str) -> Vec<String> {
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

/// Whether `panel` can be kept current from the store's deltas: a kind shaped from groups whose
/// measures are all sums of per-row contributions (see [`query::decomposable`]).
pub fn incremental(panel: &Panel) -> bool {
    panel.kind.kind().input(panel) == Input::Groups
        && panel.query.as_ref().is_some_and(query::decomposable)
}

/// The headline value `compare` before `now`, for a kind that compares (`None` otherwise).
pub fn previous(
    dashboard: &Dashboard,
    panel: &Panel,
    frames: &Frames,
    now: DateTime<Utc>,
) -> Result<Option<Value>, QueryError> {
    let (Some(q), Some(back), true) = (
        &panel.query,
        panel.compare_secs,
        panel.kind.kind().compares(),
    ) else {
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

/// The value of a panel shaped from groups, from its query's groups; a comparison is
/// `previous` (see [`previous`]).
pub fn shape(
    dashboard: &Dashboard,
    panel: &Panel,
    q: &Query,
    groups: Vec<Group>,
    previous: Option<Value>,
    context: &PanelContext,
    now: DateTime<Utc>,
) -> Value {
    let shaping = Shaping {
        dashboard,
        panel,
        query: q,
        now,
        previous,
        sets: context,
    };
    panel.kind.kind().shape(&shaping, groups)
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
/// moment): the versions current then, windows and SLA deadlines at that clock. The sources'
/// health has no past: its value as of a past moment is null.
pub fn evaluate_at(
    dashboard: &Dashboard,
    panel: &Panel,
    frames: &Frames,
    sources: &[SourceStatus],
    context: &PanelContext,
    now: DateTime<Utc>,
    as_of: bool,
) -> Result<Value, QueryError> {
    let kind = panel.kind.kind();
    let at = moment(dashboard, now, as_of);
    match (kind.input(panel), &panel.query) {
        (Input::Sources, _) if as_of => Ok(Value::Null),
        (Input::Sources, _) => Ok(kind.shape_sources(panel, sources, now)),
        (Input::Rows, Some(q)) => {
            let rows = query::table(
                q,
                &panel.columns,
                panel.sort.as_ref(),
                panel.top.unwrap_or(10),
                frames,
                &at,
            )?;
            Ok(kind.shape_rows(rows))
        }
        (Input::LayerRows, Some(q)) => match &panel.layer {
            Some(layer) => super::layers::value(layer, q, frames, &at, context),
            None => Ok(Value::Null),
        },
        (Input::Groups, Some(q)) => {
            let groups = query::groups(q, frames, &at)?;
            let previous = previous(dashboard, panel, frames, now)?;
            Ok(shape(dashboard, panel, q, groups, previous, context, now))
        }
        // Validation gives every kind with a query its query.
        (_, None) => Ok(Value::Null),
    }
}
