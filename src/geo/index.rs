//! Fast point-in-polygon for a boundary set: which region holds each of millions of points.
//!
//! A uniform grid covers the set's bounding box. A cell that no polygon edge passes through has
//! one answer for every point inside it (the region holding its centre, or none), found once when
//! the index is built. Only points in cells crossed by a boundary are tested against polygons, and
//! only against the regions whose bounding boxes meet that cell, found with an R-tree. The answer is
//! always the same as testing every polygon in file order (a test checks this on the shipped sets).

use std::sync::Arc;

use geo::{Contains, Coord, Point, Rect};
use rstar::{RTree, RTreeObject, AABB};

use super::{Boundaries, Region};

/// Grid cells along the longer side of the set's bounding box.
const GRID_SIDE: usize = 512;

/// What one grid cell knows.
#[derive(Debug, Clone)]
enum Cell {
    /// Every point of the cell is in this region (index into the boundary set)…
    Inside(u32),
    /// …or in none.
    Outside,
    /// A boundary crosses the cell: test these regions (ascending, so file order wins).
    Boundary(Box<[u32]>),
}

/// A region's bounding box in the R-tree.
struct Envelope {
    region: u32,
    bbox: AABB<[f64; 2]>,
}

impl RTreeObject for Envelope {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.bbox
    }
}

/// The grid index of one boundary set.
pub struct RegionIndex {
    set: Arc<Boundaries>,
    origin: Coord<f64>,
    cell_w: f64,
    cell_h: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Cell>,
}

impl RegionIndex {
    /// Builds the index (once per boundary set; milliseconds for a few hundred regions).
    pub fn new(set: Arc<Boundaries>) -> Self {
        let regions = set.regions();
        let extent = regions
            .iter()
            .map(|r| r.bbox)
            .reduce(|a, b| {
                Rect::new(
                    Coord {
                        x: a.min().x.min(b.min().x),
                        y: a.min().y.min(b.min().y),
                    },
                    Coord {
                        x: a.max().x.max(b.max().x),
                        y: a.max().y.max(b.max().y),
                    },
                )
            })
            .expect("a boundary set has at least one region");
        let (w, h) = (extent.width().max(1e-9), extent.height().max(1e-9));
        let (cols, rows) = if w >= h {
            (
                GRID_SIDE,
                ((GRID_SIDE as f64 * h / w).ceil() as usize).max(1),
            )
        } else {
            (
                ((GRID_SIDE as f64 * w / h).ceil() as usize).max(1),
                GRID_SIDE,
            )
        };
        let (cell_w, cell_h) = (w / cols as f64, h / rows as f64);
        let origin = extent.min();

        // Mark every cell an edge's bounding box touches (conservative: more boundary cells, never fewer).
        let mut crossed = vec![false; cols * rows];
        let col_of = |x: f64| (((x - origin.x) / cell_w).floor().max(0.0) as usize).min(cols - 1);
        let row_of = |y: f64| (((y - origin.y) / cell_h).floor().max(0.0) as usize).min(rows - 1);
        for region in regions {
            for polygon in &region.shape {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    for line in ring.lines() {
                        let (c0, c1) = (
                            col_of(line.start.x.min(line.end.x)),
                            col_of(line.start.x.max(line.end.x)),
                        );
                        let (r0, r1) = (
                            row_of(line.start.y.min(line.end.y)),
                            row_of(line.start.y.max(line.end.y)),
                        );
                        for row in r0..=r1 {
                            crossed[row * cols + c0..=row * cols + c1].fill(true);
                        }
                    }
                }
            }
        }

        let tree = RTree::bulk_load(
            regions
                .iter()
                .enumerate()
                .map(|(i, r)| Envelope {
                    region: i as u32,
                    bbox: AABB::from_corners(
                        [r.bbox.min().x, r.bbox.min().y],
                        [r.bbox.max().x, r.bbox.max().y],
                    ),
                })
                .collect(),
        );
        let mut cells = Vec::with_capacity(cols * rows);
        for row in 0..rows {
            for col in 0..cols {
                let min = [
                    origin.x + col as f64 * cell_w,
                    origin.y + row as f64 * cell_h,
                ];
                let max = [min[0] + cell_w, min[1] + cell_h];
                let mut candidates: Vec<u32> = tree
                    .locate_in_envelope_intersecting(&AABB::from_corners(min, max))
                    .map(|e| e.region)
                    .collect();
                candidates.sort_unstable();
                let cell = if crossed[row * cols + col] {
                    Cell::Boundary(candidates.into_boxed_slice())
                } else {
                    // No boundary passes through: the centre's answer holds for the whole cell.
                    let centre = Point::new(min[0] + cell_w / 2.0, min[1] + cell_h / 2.0);
                    candidates
                        .iter()
                        .find(|&&i| regions[i as usize].shape.contains(&centre))
                        .map_or(Cell::Outside, |&i| Cell::Inside(i))
                };
                cells.push(cell);
            }
        }
        Self {
            set,
            origin,
            cell_w,
            cell_h,
            cols,
            rows,
            cells,
        }
    }

    /// The region holding the point, if any.
    pub fn region_at(&self, lon: f64, lat: f64) -> Option<&Region> {
        self.locate(lon, lat)
            .map(|i| &self.set.regions()[i as usize])
    }

    /// Index (into the set's regions) of the region holding the point, if any.
    #[inline]
    pub fn locate(&self, lon: f64, lat: f64) -> Option<u32> {
        let fx = (lon - self.origin.x) / self.cell_w;
        let fy = (lat - self.origin.y) / self.cell_h;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None; // also catches NaN
        }
        let (col, row) = (fx as usize, fy as usize);
        if col >= self.cols || row >= self.rows {
            // On the far edge of the extent (or beyond): the exact test decides.
            return self.exact(lon, lat);
        }
        match &self.cells[row * self.cols + col] {
            Cell::Inside(region) => Some(*region),
            Cell::Outside => None,
            Cell::Boundary(candidates) => {
                let point = Point::new(lon, lat);
                let regions = self.set.regions();
                candidates.iter().copied().find(|&i| {
                    let region = &regions[i as usize];
                    region.bbox.contains(&point) && region.shape.contains(&point)
                })
            }
        }
    }

    /// Assigns many points, using every core (`lon_lat` pairs in, region indices out).
    pub fn locate_all(&self, points: &[(f64, f64)]) -> Vec<Option<u32>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = points.len().div_ceil(threads).max(1);
        let mut out = vec![None; points.len()];
        std::thread::scope(|scope| {
            for (input, output) in points.chunks(chunk).zip(out.chunks_mut(chunk)) {
                scope.spawn(move || {
                    for (slot, &(lon, lat)) in output.iter_mut().zip(input) {
                        *slot = self.locate(lon, lat);
                    }
                });
            }
        });
        out
    }

    fn exact(&self, lon: f64, lat: f64) -> Option<u32> {
        let point = Point::new(lon, lat);
        self.set
            .regions()
            .iter()
            .position(|r| r.bbox.contains(&point) && r.shape.contains(&point))
            .map(|i| i as u32)
    }

    /// Share of grid cells that need an exact test (for benchmarks and tuning).
    pub fn boundary_share(&self) -> f64 {
        let boundary = self
            .cells
            .iter()
            .filter(|c| matches!(c, Cell::Boundary(_)))
            .count();
        boundary as f64 / self.cells.len() as f64
    }

    /// The bounding box of the whole set.
    pub fn extent(&self) -> Rect<f64> {
        Rect::new(
            self.origin,
            Coord {
                x: self.origin.x + self.cell_w * self.cols as f64,
                y: self.origin.y + self.cell_h * self.rows as f64,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;
    use rand::{Rng, SeedableRng};

    fn shipped(name: &str) -> Boundaries {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("static/geo")
            .join(name);
        Boundaries::from_file(&path).unwrap()
    }

    /// The grid gives exactly the answer of testing every polygon in order.
    fn agrees_with_brute_force(set: &Boundaries, points: usize) {
        let index = RegionIndex::new(Arc::new(set.clone()));
        let extent = index.extent();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut inside = 0;
        for _ in 0..points {
            // A margin around the extent covers the far edges and points outside every region.
            let lon = rng.random_range(extent.min().x - 0.01..extent.max().x + 0.01);
            let lat = rng.random_range(extent.min().y - 0.01..extent.max().y + 0.01);
            let expected = set
                .regions()
                .iter()
                .position(|r| r.shape.contains(&Point::new(lon, lat)))
                .map(|i| i as u32);
            assert_eq!(index.locate(lon, lat), expected, "({lon}, {lat})");
            inside += usize::from(expected.is_some());
        }
        assert!(
            inside > points / 10,
            "the sample should hit regions ({inside} of {points})"
        );
    }

    #[test]
    fn the_grid_agrees_with_testing_every_polygon_on_the_shipped_sets() {
        agrees_with_brute_force(&shipped("kota_pasuruan_desa_kelurahan.geojson"), 20_000);
        agrees_with_brute_force(&shipped("kab_pasuruan_desa_kelurahan.geojson"), 5_000);
        agrees_with_brute_force(&shipped("kab_gresik_kecamatan.geojson"), 5_000);
    }

    #[test]
    fn many_points_are_assigned_in_parallel_in_order() {
        let set = shipped("kota_pasuruan_desa_kelurahan.geojson");
        let index = RegionIndex::new(Arc::new(set.clone()));
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let points: Vec<(f64, f64)> = (0..10_001)
            .map(|_| {
                let region = &set.regions()[rng.random_range(0..set.regions().len())];
                set.random_point_in(region, &mut rng)
            })
            .collect();
        let assigned = index.locate_all(&points);
        for (point, region) in points.iter().zip(&assigned) {
            assert_eq!(*region, index.locate(point.0, point.1));
            assert!(
                region.is_some(),
                "points drawn inside a kelurahan are found"
            );
        }
        assert_eq!(index.locate(f64::NAN, 0.0), None);
    }

    #[test]
    fn invalid_source_geometries_are_repaired_and_reported() {
        let set = shipped("kab_gresik_desa_kelurahan.geojson");
        assert_eq!(set.regions().len(), 356);
        let repaired: Vec<&String> = set.repairs().iter().collect();
        assert!(
            repaired.iter().any(|r| r.contains("35.25.09.2021"))
                && repaired.iter().any(|r| r.contains("35.25.10.2007")),
            "{repaired:?}"
        );
        assert!(set.regions().iter().all(|r| r.shape.is_valid()));
        let kecamatan = shipped("kab_gresik_kecamatan.geojson");
        assert_eq!(kecamatan.regions().len(), 18);
        assert!(
            kecamatan.repairs().iter().any(|r| r.contains("Sangkapura")),
            "{:?}",
            kecamatan.repairs()
        );
    }
}
