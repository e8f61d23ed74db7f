//! Map layers that draw rows over a boundary set: `points` (the rows themselves when at most
//! `max_features` are in view, else their clusters), `clusters` (rows per grid cell with their
//! status mix) and `heat` (rows per grid cell). The view is the boundary set's extent; the grid
//! is the layer's zoom (default: the set about 1,024 pixels across). Features are keyed by row
//! (`source/source_id`) or grid cell (`zoom/x/y`), so a live update carries only what moved.

use serde_json::{json, Map, Value};

use super::panel::PanelContext;
use super::query::{self, Frames, Moment, Positions, QueryError};
use crate::dashboards::model::{Layer, LayerKind, Query};
use crate::geo::cluster::{cluster, weigh, View};
use crate::geo::round6;

/// Pixels across that the default zoom gives the set's view.
const FIT_PIXELS: f64 = 1024.0;

/// The value of a row layer over `frames` at `at`: the whole boundary set, at the layer's zoom.
pub fn value(
    layer: &Layer,
    q: &Query,
    frames: &Frames,
    at: &Moment,
    context: &PanelContext,
) -> Result<Value, QueryError> {
    let positions = query::positions(q, frames, at, needs(layer))?;
    let view = match context.bounds(&layer.set) {
        Some((a, b)) => View::from_lon_lat(a, b),
        // No boundary set to frame them: the rows frame themselves.
        None => View::around(&positions.world),
    };
    Ok(match view {
        Some(view) => {
            let zoom = layer.zoom.unwrap_or_else(|| fit_zoom(view));
            shape(layer, q, frames, at, &positions, view, zoom)
        }
        None => empty(layer),
    })
}

/// The value of a row layer inside a client's `bbox` (west, south, east, north) at `zoom` (a map
/// that pans and zooms): the same shape as [`value`], never more than `max_features` features.
pub fn value_in(
    layer: &Layer,
    q: &Query,
    frames: &Frames,
    at: &Moment,
    bbox: [f64; 4],
    zoom: u8,
) -> Result<Value, QueryError> {
    let positions = query::positions(q, frames, at, needs(layer))?;
    let view = View::from_lon_lat((bbox[0], bbox[1]), (bbox[2], bbox[3]));
    Ok(match view {
        Some(view) => shape(layer, q, frames, at, &positions, view, zoom),
        None => empty(layer),
    })
}

/// A layer with nothing to show.
fn empty(layer: &Layer) -> Value {
    json!({ "layer": layer.kind, "set": layer.set, "total": 0 })
}

fn shape(
    layer: &Layer,
    q: &Query,
    frames: &Frames,
    at: &Moment,
    positions: &Positions,
    view: View,
    zoom: u8,
) -> Value {
    let inside: Vec<usize> = (0..positions.world.len())
        .filter(|&i| view.contains(positions.world[i]))
        .collect();
    let mut out = json!({
        "layer": layer.kind,
        "set": layer.set,
        "zoom": zoom,
        "total": inside.len(),
    });
    let words = query::status_words();
    match layer.kind {
        LayerKind::Points if inside.len() <= layer.max_features => {
            let mut points = Map::new();
            let mut newest: Option<(i64, String)> = None;
            for &i in &inside {
                let key = query::row_key(frames, q.dataset, positions.key_ids[i]);
                let (lon, lat) = positions.lon_lat[i];
                let created = positions.created[i];
                let when = chrono::DateTime::from_timestamp(created, 0)
                    .map(|t| crate::domain::format_local(t, at.tz));
                if newest
                    .as_ref()
                    .is_none_or(|(t, k)| (created, &key) > (*t, k))
                {
                    newest = Some((created, key.clone()));
                }
                points.insert(
                    key,
                    json!({
                        "lon": round6(lon),
                        "lat": round6(lat),
                        "status": words.get(usize::from(positions.status[i])),
                        "created_at": when,
                    }),
                );
            }
            out["points"] = Value::Object(points);
            out["newest"] = json!(newest.map(|(_, k)| k));
        }
        LayerKind::Points | LayerKind::Clusters => {
            out["layer"] = json!(LayerKind::Clusters);
            out["cell_px"] = json!(layer.cell_px);
            out["clusters"] = clusters(positions, view, zoom, layer, words);
        }
        LayerKind::Heat => {
            let cells = match layer.weight {
                Some(_) => weigh(
                    &positions.world,
                    &positions.weight,
                    view,
                    zoom,
                    layer.cell_px,
                    layer.max_features,
                ),
                None => cluster(
                    &positions.world,
                    &[],
                    0,
                    view,
                    zoom,
                    layer.cell_px,
                    layer.max_features,
                ),
            };
            out["cell_px"] = json!(layer.cell_px);
            out["weight"] = json!(layer.weight.map(|f| f.name));
            // Without a weight field a cell weighs its row count, a whole number.
            let weighed = |w: f64| match layer.weight {
                Some(_) => crate::dashboards::result::round(w),
                None => json!(w as u64),
            };
            out["max"] = weighed(cells.iter().map(|c| c.weight).fold(0.0, f64::max));
            out["cells"] = Value::Object(
                cells
                    .into_iter()
                    .map(|c| {
                        let cell = json!({
                            "lon": round6(c.lon),
                            "lat": round6(c.lat),
                            "count": c.count,
                            "weight": weighed(c.weight),
                        });
                        (c.cell, cell)
                    })
                    .collect(),
            );
        }
        LayerKind::Choropleth => {}
    }
    out
}

/// The columns `layer` reads of each row besides its position.
fn needs(layer: &Layer) -> query::Needs<'_> {
    query::Needs {
        status: matches!(layer.kind, LayerKind::Points | LayerKind::Clusters),
        rows: layer.kind == LayerKind::Points,
        weight: layer.weight.as_ref(),
    }
}

fn clusters(positions: &Positions, view: View, zoom: u8, layer: &Layer, words: &[&str]) -> Value {
    let found = cluster(
        &positions.world,
        &positions.status,
        words.len(),
        view,
        zoom,
        layer.cell_px,
        layer.max_features,
    );
    Value::Object(
        found
            .into_iter()
            .map(|c| {
                let mix: Map<String, Value> = words
                    .iter()
                    .zip(&c.mix)
                    .filter(|(_, n)| **n > 0)
                    .map(|(w, n)| ((*w).to_owned(), json!(n)))
                    .collect();
                let value = json!({
                    "lon": round6(c.lon),
                    "lat": round6(c.lat),
                    "count": c.count,
                    "mix": mix,
                });
                (c.cell, value)
            })
            .collect(),
    )
}

/// The zoom at which `view` is about [`FIT_PIXELS`] across (8 to 20).
fn fit_zoom(view: View) -> u8 {
    // A pixel at zoom z is 2^(24 − z) world units.
    let span = f64::from((view.max.x - view.min.x).max(view.max.y - view.min.y)).max(1.0);
    (24.0 - (span / FIT_PIXELS).log2()).floor().clamp(8.0, 20.0) as u8
}

/// Why a map view was not computed: a stable code (`unknown_topic`, `invalid_message`) and a
/// message for a person.
#[derive(Debug)]
pub struct ViewRefused {
    /// The protocol's error code.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

/// Map views (a box and a zoom over a row layer's topic): the topic's dashboard panel, computed
/// over the store's newest snapshot inside the box. `startup` connects it to the live room's
/// `view` messages.
pub struct LayerViews {
    /// The data.
    pub store: crate::store::Store,
    /// The dashboards, for the panel behind a topic.
    pub catalog: crate::dashboards::Catalog,
}

impl LayerViews {
    /// The layer value of `topic` inside `bbox` (west, south, east, north) at `zoom`.
    pub fn features(&self, topic: &str, bbox: [f64; 4], zoom: u8) -> Result<Value, ViewRefused> {
        let refused = |code: &'static str, message: String| ViewRefused { code, message };
        let (dashboard, panel) = crate::dashboards::panel_of(topic).ok_or_else(|| {
            refused(
                "invalid_message",
                format!("'{topic}' is not a map panel's topic"),
            )
        })?;
        let d = self
            .catalog
            .get(dashboard)
            .ok_or_else(|| refused("unknown_topic", format!("no dashboard '{dashboard}'")))?;
        let p = d
            .panels
            .iter()
            .find(|p| p.id == panel)
            .ok_or_else(|| refused("unknown_topic", format!("no panel '{panel}'")))?;
        let (Some(layer), Some(q)) = (p.layer.as_ref().filter(|l| l.draws_rows()), &p.query) else {
            return Err(refused(
                "invalid_message",
                format!("'{topic}' is not a points, clusters or heat layer"),
            ));
        };
        let snapshot = self.store.snapshot();
        let frames = Frames::new(&snapshot);
        let at = super::panel::moment(&d, chrono::Utc::now(), false);
        value_in(layer, q, &frames, &at, bbox, zoom).map_err(|e| {
            tracing::warn!(error = %e, topic, "A map view failed.");
            refused("invalid_message", "the view could not be computed".into())
        })
    }
}
