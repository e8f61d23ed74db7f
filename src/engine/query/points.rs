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
    /// The row's weight (its `weight` field's value, Rupiah for money; 1 without a field; 0 when
    /// the row has no value).
    pub weight: Vec<f64>,
}

/// Every row `query` reads at `at` that has a position (complaints: `lat`, `lon`), weighed by
/// `weight` when given.
pub fn positions(
    query: &Query,
    frames: &Frames,
    at: &Moment,
    weight: Option<&QueryField>,
) -> Result<Positions, QueryError> {
    let weigh = match weight {
        Some(f) if f.ty == FieldType::Money => {
            value(query.dataset, f, at.now.timestamp()).cast(DataType::Float64) / lit(100.0)
        }
        Some(f) => value(query.dataset, f, at.now.timestamp()).cast(DataType::Float64),
        None => lit(1.0),
    };
    let frame = rows(query, frames, at)?
        .filter(col("lat").is_not_null().and(col("lon").is_not_null()))
        .select([
            col(KEY_ID),
            col("lat"),
            col("lon"),
            col("status"),
            col("created_at"),
            weigh.alias("_weight"),
        ])
        .collect()?;
    let weights = frame.column("_weight")?.f64()?.clone();
    let (keys, lat, lon) = (
        frame.column(KEY_ID)?.u32()?,
        frame.column("lat")?.i32()?,
        frame.column("lon")?.i32()?,
    );
    let (status, created) = (
        frame.column("status")?.u8()?,
        frame.column("created_at")?.u32()?,
    );
    let mut out = Positions::default();
    let rows = keys.into_iter().zip(lat).zip(lon).zip(status).zip(created);
    for (((((key, lat), lon), status), created), weight) in rows.zip(&weights) {
        let (Some(key), Some(lat), Some(lon)) = (key, lat, lon) else {
            continue;
        };
        let (lon, lat) = (f64::from(lon) / 1e6, f64::from(lat) / 1e6);
        let Some(world) = project(lon, lat) else {
            continue;
        };
        out.world.push(world);
        out.lon_lat.push((lon, lat));
        out.status.push(status.unwrap_or(u8::MAX));
        out.created.push(created.map_or(0, i64::from));
        out.key_ids.push(key);
        out.weight.push(weight.unwrap_or(0.0));
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
