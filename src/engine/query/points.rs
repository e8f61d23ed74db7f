//! Map layers that draw rows: where the rows a query reads are, with what a point shows.

use rayon::prelude::*;

use super::access::{Access, Cols, Scalar};
use super::columns::{self, parts};
use super::fold::Plan;
use super::*;
use crate::geo::cluster::{project, WorldPoint};
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
    let located: Vec<Positions> = polars_core::POOL.install(|| {
        parts
            .par_iter()
            .zip(selected.par_iter())
            .map(|(part, sel)| -> Result<Positions, QueryError> {
                let mut out = Positions::default();
                if sel.iter().all(|w| *w == 0) {
                    return Ok(out);
                }
                let cols = Cols::new(part, dataset, now)?;
                let (lat, lon) = (cols.col(complaint_col::LAT), cols.col(complaint_col::LON));
                let key_col = dataset.schema().fields.len();
                for i in columns::ones(sel) {
                    let (Some(lat), Some(lon)) = (lat.int(i), lon.int(i)) else {
                        continue;
                    };
                    let (lon, lat) = (lon as f64 / 1e6, lat as f64 / 1e6);
                    // A position that does not project (never, for stored degrees) is left out.
                    let Some(world) = project(lon, lat) else {
                        continue;
                    };
                    out.world.push(world);
                    if needs.status {
                        let code = cols.col(complaint_col::STATUS).int(i);
                        out.status.push(code.map_or(u8::MAX, |c| c as u8));
                    }
                    if needs.rows {
                        out.lon_lat.push((lon, lat));
                        out.key_ids
                            .push(cols.col(key_col).int(i).map_or(0, |k| k as u32));
                        out.created
                            .push(cols.col(complaint_col::CREATED_AT).int(i).unwrap_or(0));
                    }
                    if let Some((access, money)) = weight {
                        let w = access.read(&cols, i).map_or(0.0, Scalar::number);
                        out.weight.push(if money { w / 100.0 } else { w });
                    }
                }
                Ok(out)
            })
            .collect::<Result<_, _>>()
    })?;
    let mut out = Positions::default();
    for p in located {
        out.world.extend(p.world);
        out.lon_lat.extend(p.lon_lat);
        out.status.extend(p.status);
        out.created.extend(p.created);
        out.key_ids.extend(p.key_ids);
        out.weight.extend(p.weight);
    }
    Ok(out)
}

/// The `source/source_id` of key id `key_id` in `dataset`'s view.
pub fn row_key(frames: &Frames, dataset: Dataset, key_id: u32) -> String {
    super::table::row_key_of(frames.view(dataset), key_id)
}

/// The status words, indexed by code.
pub fn status_words() -> &'static [&'static str] {
    STATUS_WORDS
}
