//! Map layers that draw rows: where the rows a query reads are, with what a point shows.

use super::*;
use crate::geo::cluster::{project, WorldPoint};

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
    let mut select = vec![col("lat"), col("lon")];
    if needs.status {
        select.push(col("status"));
    }
    if needs.rows {
        select.extend([col(KEY_ID), col("created_at")]);
    }
    if let Some(f) = needs.weight {
        let v = value(query.dataset, f, at.now.timestamp()).cast(DataType::Float64);
        let v = if f.ty == FieldType::Money {
            v / lit(100.0)
        } else {
            v
        };
        select.push(v.fill_null(lit(0.0)).alias("_weight"));
    }
    let frame = rows(query, frames, at)?
        .filter(col("lat").is_not_null().and(col("lon").is_not_null()))
        .select(select)
        .collect()?;
    let n = frame.height();
    let (lat, lon) = (frame.column("lat")?.i32()?, frame.column("lon")?.i32()?);
    let mut out = Positions::default();
    // Rows whose position does not project (never, for stored degrees) are left out of every
    // column alike.
    let mut kept = Vec::with_capacity(n);
    out.world.reserve(n);
    for (i, (lat, lon)) in lat
        .into_no_null_iter()
        .zip(lon.into_no_null_iter())
        .enumerate()
    {
        if let Some(world) = project(f64::from(lon) / 1e6, f64::from(lat) / 1e6) {
            out.world.push(world);
            kept.push(i);
            if needs.rows {
                out.lon_lat
                    .push((f64::from(lon) / 1e6, f64::from(lat) / 1e6));
            }
        }
    }
    let all_kept = kept.len() == n;
    let pick = |i: usize| if all_kept { i } else { kept[i] };
    if needs.status {
        let status = frame.column("status")?.u8()?;
        out.status = (0..kept.len())
            .map(|i| status.get(pick(i)).unwrap_or(u8::MAX))
            .collect();
    }
    if needs.rows {
        let (keys, created) = (
            frame.column(KEY_ID)?.u32()?,
            frame.column("created_at")?.u32()?,
        );
        out.key_ids = (0..kept.len())
            .map(|i| keys.get(pick(i)).unwrap_or_default())
            .collect();
        out.created = (0..kept.len())
            .map(|i| created.get(pick(i)).map_or(0, i64::from))
            .collect();
    }
    if needs.weight.is_some() {
        let weight = frame.column("_weight")?.f64()?;
        out.weight = (0..kept.len())
            .map(|i| weight.get(pick(i)).unwrap_or(0.0))
            .collect();
    }
    Ok(out)
}

/// The `source/source_id` of key id `key_id` in `dataset`'s view.
pub fn row_key(frames: &Frames, dataset: Dataset, key_id: u32) -> String {
    frames
        .view(dataset)
        .key(key_id)
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join("/")
}

/// The status words, indexed by code.
pub fn status_words() -> &'static [&'static str] {
    STATUS_WORDS
}
