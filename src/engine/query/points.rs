//! Map layers that draw rows: where the rows a query reads are, with what a point shows.

use rayon::prelude::*;

use super::access::{Access, Cols, Scalar};
use super::columns::{self, parts};
use super::fold::Plan;
use super::*;
use crate::geo::cluster::{MicroProjector, WorldPoint};
use crate::store::schema::{complaint_col, STATUS_WORDS};

/// The located rows of a query: parallel columns, one entry per row with a position.
#[derive(Debug, Default)]
pub struct Positions {
    /// Web Mercator world position.
    pub world: Vec<WorldPoint>,
    /// Longitude and latitude, degrees.
    pub lon_lat: Vec<(f64, f64)>,
    /// Lifecycle status code (an index into the status words).
    pub status: Vec<u8>,
    /// Creation time, seconds since 1970 (0 when unknown).
    pub created: Vec<i64>,
    /// Key id, for the row's `source/source_id`.
    pub key_ids: Vec<u32>,
    /// The row's weight (its `weight` field's value, Rupiah for money; 0 when the row has none).
    pub weight: Vec<f64>,
}

/// What a layer needs of each located row besides its position.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs<'a> {
    /// Lifecycle status (points, clusters).
    pub status: bool,
    /// Key, creation time and degrees (points).
    pub rows: bool,
    /// A field whose value weighs the row (heat).
    pub weight: Option<&'a QueryField>,
}

/// Every row `query` reads at `at` that has a position (complaints: `lat`, `lon`), with what
/// `needs` asks for; the columns not asked for stay empty.
pub fn positions(
    query: &Query,
    frames: &Frames,
    at: &Moment,
    needs: Needs,
) -> Result<Positions, QueryError> {
    let dataset = query.dataset;
    if dataset != Dataset::Complaints {
        return Ok(Positions::default());
    }
    let view = frames.view(dataset);
    let versions = frames.versions(dataset, at)?;
    let parts = parts(view, &versions)?;
    let plan = Plan::rows_only(query, view, at, true);
    let now = at.now.timestamp();
    let selected = plan.select(&parts, now)?;
    let weight = needs
        .weight
        .map(|f| (Access::of(dataset, f), f.ty == FieldType::Money));
    let projector = projector_for(&parts, &selected);
    polars_core::POOL.install(|| {
        // Per part: its columns and the selected rows that hold a position.
        let located = parts
            .par_iter()
            .zip(selected.into_par_iter())
            .map(|(part, mut sel)| -> Result<_, QueryError> {
                if sel.iter().all(|w| *w == 0) {
                    return Ok(None);
                }
                let cols = Cols::new(part, dataset, now)?;
                for col in [complaint_col::LAT, complaint_col::LON] {
                    if let Some(valid) = cols.col(col).valid_words() {
                        sel.iter_mut().zip(valid).for_each(|(s, v)| *s &= v);
                    }
                }
                Ok(Some((cols, sel)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let counts: Vec<usize> = located
            .iter()
            .map(|l| l.as_ref().map_or(0, |(_, sel)| columns::count(sel)))
            .collect();
        // Each column allocated once at its full length, each part writing its own stretch.
        let total: usize = counts.iter().sum();
        let sized = |on: bool| if on { total } else { 0 };
        let mut out = Positions {
            world: vec![WorldPoint { x: 0, y: 0 }; total],
            lon_lat: vec![(0.0, 0.0); sized(needs.rows)],
            status: vec![0; sized(needs.status)],
            created: vec![0; sized(needs.rows)],
            key_ids: vec![0; sized(needs.rows)],
            weight: vec![0.0; sized(weight.is_some())],
        };
        let stretches = split(&mut out.world, &counts)
            .into_iter()
            .zip(split(&mut out.lon_lat, &counts))
            .zip(split(&mut out.status, &counts))
            .zip(split(&mut out.created, &counts))
            .zip(split(&mut out.key_ids, &counts))
            .zip(split(&mut out.weight, &counts))
            .zip(located)
            .collect::<Vec<_>>();
        let key_col = dataset.schema().fields.len();
        stretches.into_par_iter().for_each(
            |((((((world, lon_lat), status), created), key_ids), weights), located)| {
                let Some((cols, sel)) = located else {
                    return;
                };
                let (lat, lon) = (cols.col(complaint_col::LAT), cols.col(complaint_col::LON));
                for (n, i) in columns::ones(&sel).enumerate() {
                    // Both present: `sel` holds only rows with a position.
                    let (lat, lon) = (lat.int(i).unwrap_or(0), lon.int(i).unwrap_or(0));
                    world[n] = projector.project(lon, lat);
                    if let Some(code) = status.get_mut(n) {
                        let stored = cols.col(complaint_col::STATUS).int(i);
                        *code = stored.map_or(u8::MAX, |c| c as u8);
                    }
                    if let Some(degrees) = lon_lat.get_mut(n) {
                        *degrees = (lon as f64 / 1e6, lat as f64 / 1e6);
                        key_ids[n] = cols.col(key_col).int(i).map_or(0, |k| k as u32);
                        created[n] = cols.col(complaint_col::CREATED_AT).int(i).unwrap_or(0);
                    }
                    if let Some(((access, money), w)) = weight.zip(weights.get_mut(n)) {
                        let value = access.read(&cols, i).map_or(0.0, Scalar::number);
                        *w = if money { value / 100.0 } else { value };
                    }
                }
            },
        );
        Ok(out)
    })
}

/// `values` cut into consecutive stretches of `counts` (all empty when `values` is).
fn split<'a, T>(mut values: &'a mut [T], counts: &[usize]) -> Vec<&'a mut [T]> {
    counts
        .iter()
        .map(|&n| {
            let n = n.min(values.len());
            let (head, rest) = std::mem::take(&mut values).split_at_mut(n);
            values = rest;
            head
        })
        .collect()
}

/// A projector with the latitudes of the parts that hold selected rows tabulated, when there are
/// fewer of them than half the rows to project (a table costs a projection per latitude).
fn projector_for(parts: &[columns::Part], selected: &[Vec<u64>]) -> MicroProjector {
    let mut rows = 0u64;
    let mut span: Option<(i64, i64)> = None;
    for (part, sel) in parts.iter().zip(selected) {
        let n = columns::count(sel) as u64;
        if n == 0 {
            continue;
        }
        rows += n;
        if let Some((min, max)) = part.range(complaint_col::LAT) {
            span = Some(span.map_or((min, max), |(a, b)| (a.min(min), b.max(max))));
        }
    }
    match span {
        Some((min, max)) if max.abs_diff(min) < rows / 2 => MicroProjector::new(min, max),
        _ => MicroProjector::default(),
    }
}

/// The `source/source_id` of key id `key_id` in `dataset`'s view.
pub fn row_key(frames: &Frames, dataset: Dataset, key_id: u32) -> String {
    super::table::row_key_of(frames.view(dataset), key_id)
}

/// The status words, indexed by code.
pub fn status_words() -> &'static [&'static str] {
    STATUS_WORDS
}
