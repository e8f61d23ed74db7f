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
    // A row whose position does not project (never, for stored degrees) is left out of every
    // column alike.
    let mut dropped = Vec::new();
    out.world.reserve(n);
    for (i, (lat, lon)) in lat
        .into_no_null_iter()
        .zip(lon.into_no_null_iter())
        .enumerate()
    {
        let (lon, lat) = (f64::from(lon) / 1e6, f64::from(lat) / 1e6);
        match project(lon, lat) {
            Some(world) => {
                out.world.push(world);
                if needs.rows {
                    out.lon_lat.push((lon, lat));
                }
            }
            None => dropped.push(i),
        }
    }
    if needs.status {
        let status = frame.column("status")?.u8()?;
        out.status = kept(status.into_iter().map(|s| s.unwrap_or(u8::MAX)), &dropped);
    }
    if needs.rows {
        let (keys, created) = (
            frame.column(KEY_ID)?.u32()?,
            frame.column("created_at")?.u32()?,
        );
        out.key_ids = kept(keys.into_iter().map(Option::unwrap_or_default), &dropped);
        out.created = kept(
            created.into_iter().map(|t| t.map_or(0, i64::from)),
            &dropped,
        );
    }
    if needs.weight.is_some() {
        let weight = frame.column("_weight")?.f64()?;
        out.weight = kept(weight.into_iter().map(|w| w.unwrap_or(0.0)), &dropped);
    }
    Ok(out)
}

/// `values` without the rows at the (ascending) positions `dropped`.
fn kept<T>(values: impl Iterator<Item = T>, dropped: &[usize]) -> Vec<T> {
    let mut skip = dropped.iter().copied().peekable();
    values
        .enumerate()
        .filter_map(|(i, v)| {
            if skip.peek() == Some(&i) {
                skip.next();
                None
            } else {
                Some(v)
            }
        })
        .collect()
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
