//! Server-side clustering of many points for a map view, so a browser never receives more than a
//! few thousand features.
//!
//! Points are kept in Web Mercator "world" coordinates at zoom 24 in `u32` (projected once, when a
//! record arrives): at zoom `z` a screen pixel is `2^(24 - z)` world units, so the cluster cell of a
//! point is a pair of bit shifts. Cells of the view are a dense array, so one pass over the points
//! with no hashing aggregates a million points in a few milliseconds.

use std::f64::consts::PI;

/// World units per pixel at zoom 0 is `2^WORLD_BITS / 256`; 32 bits give ~2.4 mm at the equator.
const WORLD_BITS: u32 = 32;
/// Web Mercator's latitude limit.
const MAX_LAT: f64 = 85.051_128_779_806_59;
/// Most cells a view may aggregate densely before falling back to coarser cells.
const MAX_CELLS: usize = 1 << 22;

/// A point's Web Mercator position in world units (`0..2^32` on each axis, y growing southwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldPoint {
    /// Easting.
    pub x: u32,
    /// Southing.
    pub y: u32,
}

/// Projects WGS84 lon/lat (latitude clamped to the Mercator limit); `None` for non-finite input.
pub fn project(lon: f64, lat: f64) -> Option<WorldPoint> {
    if !lon.is_finite() || !lat.is_finite() {
        return None;
    }
    Some(WorldPoint {
        x: easting(lon),
        y: southing(lat),
    })
}

/// World units of the whole world on one axis.
const SCALE: f64 = (1u64 << WORLD_BITS) as f64;

/// The easting of a finite longitude (clamped to ±180°).
fn easting(lon: f64) -> u32 {
    let x = ((lon.clamp(-180.0, 180.0) + 180.0) / 360.0) * SCALE;
    x.clamp(0.0, SCALE - 1.0) as u32
}

/// The southing of a finite latitude (clamped to the Mercator limit).
fn southing(lat: f64) -> u32 {
    let phi = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let y = (1.0 - ((PI / 4.0 + phi / 2.0).tan()).ln() / PI) / 2.0 * SCALE;
    y.clamp(0.0, SCALE - 1.0) as u32
}

/// Projects positions stored in millionths of a degree, with the southing of every latitude of a
/// span worked out once: the same points as [`project`], without a tangent and a logarithm per
/// point (a city spans some 100,000 millionths of a degree; a layer may read millions of points).
#[derive(Debug, Default)]
pub struct MicroProjector {
    /// The first latitude of the span, millionths of a degree.
    first: i64,
    /// Southing per latitude of the span.
    southings: Vec<u32>,
}

impl MicroProjector {
    /// Most latitudes a projector tabulates (8 MiB of southings, about 4.5 degrees).
    pub const MAX_SPAN: u64 = 1 << 21;

    /// A projector with the latitudes `min..=max` (millionths of a degree) tabulated, or none
    /// when the span passes [`Self::MAX_SPAN`]; latitudes outside it are projected as they come.
    pub fn new(min: i64, max: i64) -> MicroProjector {
        let span = max.abs_diff(min).saturating_add(1);
        if max < min || span > Self::MAX_SPAN {
            return MicroProjector::default();
        }
        MicroProjector {
            first: min,
            southings: (min..=max).map(|lat| southing(lat as f64 / 1e6)).collect(),
        }
    }

    /// Latitudes tabulated.
    pub fn span(&self) -> usize {
        self.southings.len()
    }

    /// The world position of `lon`, `lat` in millionths of a degree.
    #[inline]
    pub fn project(&self, lon: i64, lat: i64) -> WorldPoint {
        let y = usize::try_from(lat.wrapping_sub(self.first))
            .ok()
            .and_then(|i| self.southings.get(i).copied())
            .unwrap_or_else(|| southing(lat as f64 / 1e6));
        WorldPoint {
            x: easting(lon as f64 / 1e6),
            y,
        }
    }
}

/// Back from world units to lon/lat.
pub fn unproject(x: f64, y: f64) -> (f64, f64) {
    let lon = x / SCALE * 360.0 - 180.0;
    let n = PI * (1.0 - 2.0 * y / SCALE);
    let lat = n.sinh().atan().to_degrees();
    (lon, lat)
}

/// One cluster of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Longitude of the points' centre.
    pub lon: f64,
    /// Latitude of the points' centre.
    pub lat: f64,
    /// Points in the cluster.
    pub count: u32,
    /// Points per category (e.g. lifecycle status), indexed as the caller's categories.
    pub mix: Vec<u32>,
    /// The points' weights added up ([`weigh`]); their count for [`cluster`].
    pub weight: f64,
    /// The cell's id: `zoom/x/y` of its grid (stable while the grid is, so a live update of a
    /// cluster layer changes only the cells that moved).
    pub cell: String,
}

/// The area of a view in world units, inclusive.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Top-left corner.
    pub min: WorldPoint,
    /// Bottom-right corner.
    pub max: WorldPoint,
}

impl View {
    /// Whether `p` is inside the view (edges included).
    pub fn contains(&self, p: WorldPoint) -> bool {
        (self.min.x..=self.max.x).contains(&p.x) && (self.min.y..=self.max.y).contains(&p.y)
    }

    /// The smallest view holding every point; `None` for none.
    pub fn around(points: &[WorldPoint]) -> Option<View> {
        let first = *points.first()?;
        Some(points.iter().fold(
            View {
                min: first,
                max: first,
            },
            |v, p| View {
                min: WorldPoint {
                    x: v.min.x.min(p.x),
                    y: v.min.y.min(p.y),
                },
                max: WorldPoint {
                    x: v.max.x.max(p.x),
                    y: v.max.y.max(p.y),
                },
            },
        ))
    }

    /// The view around lon/lat corners (any order).
    pub fn from_lon_lat(a: (f64, f64), b: (f64, f64)) -> Option<View> {
        let (p, q) = (project(a.0, a.1)?, project(b.0, b.1)?);
        Some(View {
            min: WorldPoint {
                x: p.x.min(q.x),
                y: p.y.min(q.y),
            },
            max: WorldPoint {
                x: p.x.max(q.x),
                y: p.y.max(q.y),
            },
        })
    }
}

/// Clusters the points inside `view` into cells of `cell_px` screen pixels at `zoom`, coarsening the
/// cells until there are at most `max_clusters`. `category[i]` (< `categories`) is point i's
/// category for the mix. Clusters come out in cell order (north-west first).
pub fn cluster(
    points: &[WorldPoint],
    category: &[u8],
    categories: usize,
    view: View,
    zoom: u8,
    cell_px: u32,
    max_clusters: usize,
) -> Vec<Cluster> {
    grid(
        points,
        (category, categories),
        None,
        view,
        zoom,
        cell_px,
        max_clusters,
    )
}

/// [`cluster`] without categories, adding up `weights[i]` of the points in each cell (a heat map
/// weighted by a value of each point).
pub fn weigh(
    points: &[WorldPoint],
    weights: &[f64],
    view: View,
    zoom: u8,
    cell_px: u32,
    max_cells: usize,
) -> Vec<Cluster> {
    grid(
        points,
        (&[], 0),
        Some(weights),
        view,
        zoom,
        cell_px,
        max_cells,
    )
}

fn grid(
    points: &[WorldPoint],
    (category, categories): (&[u8], usize),
    weights: Option<&[f64]>,
    view: View,
    zoom: u8,
    cell_px: u32,
    max_clusters: usize,
) -> Vec<Cluster> {
    // World units per cell at this zoom: 2^(WORLD_BITS - 8 - zoom) per pixel, times the cell size.
    let pixel_shift = (WORLD_BITS - 8).saturating_sub(u32::from(zoom));
    let mut shift = (pixel_shift + cell_px.max(1).next_power_of_two().trailing_zeros()).min(31);
    loop {
        let (x0, y0) = (view.min.x >> shift, view.min.y >> shift);
        let (w, h) = (
            (view.max.x >> shift) - x0 + 1,
            (view.max.y >> shift) - y0 + 1,
        );
        let cells = w as usize * h as usize;
        if cells > MAX_CELLS && shift < 31 {
            shift += 1;
            continue;
        }
        let clusters = aggregate(
            points,
            (category, categories),
            weights,
            view,
            shift,
            (x0, y0, w),
            cells,
        );
        if clusters.len() <= max_clusters.max(1) || shift >= 31 {
            return clusters;
        }
        shift += 1;
    }
}

/// One pass over the points into a dense grid of `cells` cells.
fn aggregate(
    points: &[WorldPoint],
    (category, categories): (&[u8], usize),
    weights: Option<&[f64]>,
    view: View,
    shift: u32,
    (x0, y0, w): (u32, u32, u32),
    cells: usize,
) -> Vec<Cluster> {
    let mut count = vec![0u32; cells];
    let mut sum_x = vec![0u64; cells];
    let mut sum_y = vec![0u64; cells];
    let mut mix = vec![0u32; cells * categories.max(1)];
    let mut sum_w = vec![0f64; if weights.is_some() { cells } else { 0 }];
    for (i, p) in points.iter().enumerate() {
        if !view.contains(*p) {
            continue;
        }
        let cell = ((p.y >> shift) - y0) as usize * w as usize + ((p.x >> shift) - x0) as usize;
        count[cell] += 1;
        sum_x[cell] += u64::from(p.x);
        sum_y[cell] += u64::from(p.y);
        if let Some(w) = weights {
            sum_w[cell] += w.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
        }
        if let Some(&c) = category.get(i) {
            if (c as usize) < categories {
                mix[cell * categories + c as usize] += 1;
            }
        }
    }
    count
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(cell, &n)| {
            let (lon, lat) = unproject(
                sum_x[cell] as f64 / f64::from(n),
                sum_y[cell] as f64 / f64::from(n),
            );
            let (cx, cy) = (
                x0 + (cell % w as usize) as u32,
                y0 + (cell / w as usize) as u32,
            );
            Cluster {
                lon,
                lat,
                count: n,
                mix: mix[cell * categories..(cell + 1) * categories].to_vec(),
                weight: if weights.is_some() {
                    sum_w[cell]
                } else {
                    f64::from(n)
                },
                // The grid's level: cells of 2^shift world units, i.e. tiles of zoom 32 − shift.
                cell: format!("{}/{cx}/{cy}", WORLD_BITS - shift),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn projection_round_trips_to_a_millionth_of_a_degree() {
        for (lon, lat) in [(112.9, -7.64), (-118.24, 34.05), (0.0, 0.0), (179.9, -80.0)] {
            let p = project(lon, lat).unwrap();
            let (lon2, lat2) = unproject(f64::from(p.x), f64::from(p.y));
            assert!(
                (lon - lon2).abs() < 1e-6 && (lat - lat2).abs() < 1e-6,
                "{lon},{lat} → {lon2},{lat2}"
            );
        }
        assert!(project(f64::NAN, 0.0).is_none());
    }

    #[test]
    fn the_micro_projector_gives_the_points_project_gives() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // Kota Pasuruan's span, and points inside and outside it.
        let projector = MicroProjector::new(-7_680_000, -7_600_000);
        assert_eq!(projector.span(), 80_001);
        for _ in 0..200_000 {
            let lon: i64 = rng.random_range(-180_000_000..=180_000_000);
            let lat: i64 = if rng.random_bool(0.8) {
                rng.random_range(-7_680_000..=-7_600_000)
            } else {
                rng.random_range(-90_000_000..=90_000_000)
            };
            assert_eq!(
                Some(projector.project(lon, lat)),
                project(lon as f64 / 1e6, lat as f64 / 1e6),
                "{lon},{lat}"
            );
        }
        // A span too wide is not tabulated and still projects.
        let wide = MicroProjector::new(-90_000_000, 90_000_000);
        assert_eq!(wide.span(), 0);
        assert_eq!(
            Some(wide.project(112_900_000, -7_640_000)),
            project(112.9, -7.64)
        );
    }

    #[test]
    fn clusters_account_for_every_point_in_view_and_respect_the_cap() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let points: Vec<WorldPoint> = (0..50_000)
            .map(|_| {
                project(
                    rng.random_range(112.85..112.95),
                    rng.random_range(-7.68..-7.60),
                )
                .unwrap()
            })
            .collect();
        let category: Vec<u8> = (0..points.len()).map(|i| (i % 3) as u8).collect();
        let city = View::from_lon_lat((112.85, -7.68), (112.95, -7.60)).unwrap();

        let clusters = cluster(&points, &category, 3, city, 14, 64, 5_000);
        assert!(!clusters.is_empty() && clusters.len() <= 5_000);
        let total: u32 = clusters.iter().map(|c| c.count).sum();
        assert_eq!(
            total as usize,
            points.len(),
            "every point in view is in one cluster"
        );
        let ids: std::collections::HashSet<&str> =
            clusters.iter().map(|c| c.cell.as_str()).collect();
        assert_eq!(ids.len(), clusters.len(), "cell ids are unique");
        for c in &clusters {
            assert_eq!(c.mix.iter().sum::<u32>(), c.count, "the mix adds up");
            assert!((112.85..=112.95).contains(&c.lon) && (-7.68..=-7.60).contains(&c.lat));
        }

        // Weighted: each cell's weight is the sum of its points' weights.
        let weights: Vec<f64> = (0..points.len()).map(|i| (i % 5) as f64).collect();
        let weighed = weigh(&points, &weights, city, 14, 64, 5_000);
        let total: f64 = weighed.iter().map(|c| c.weight).sum();
        assert!((total - weights.iter().sum::<f64>()).abs() < 1e-6);
        assert_eq!(
            weighed.iter().map(|c| c.count).sum::<u32>() as usize,
            points.len()
        );

        // A tight cap coarsens the cells instead of dropping points.
        let few = cluster(&points, &category, 3, city, 14, 64, 10);
        assert!(few.len() <= 10);
        assert_eq!(
            few.iter().map(|c| c.count).sum::<u32>() as usize,
            points.len()
        );

        // Points outside the view are left out.
        let half = View::from_lon_lat((112.85, -7.68), (112.90, -7.60)).unwrap();
        let west: u32 = cluster(&points, &category, 3, half, 14, 64, 5_000)
            .iter()
            .map(|c| c.count)
            .sum();
        let expected = points
            .iter()
            .filter(|p| p.x <= half.max.x && p.x >= half.min.x)
            .count();
        assert_eq!(west as usize, expected);
    }
}
