//! Administrative boundaries: GeoJSON loading and point-in-polygon lookups.
//!
//! Owns region polygons and the questions asked of them (which kelurahan holds this point, a random
//! point inside a kelurahan). Must not know about sources, the store or HTTP.

mod catalog;
pub mod cluster;
mod index;

use std::collections::HashSet;

use geo::{Area, BoundingRect, Buffer, Contains, MultiPolygon, Point, Rect, Validation};
use rand::Rng;

use crate::domain::RegionCode;

pub use catalog::{round6, to_geojson, Catalog, MAX_ZOOM};
pub use index::RegionIndex;

/// The kelurahan of Kota Pasuruan (Kemendagri 35.75), shipped with Pantau for the demo.
/// Source: cahyadsn/wilayah_boundaries (MIT), see `static/geo/ATTRIBUTION.md`.
const KOTA_PASURUAN_KELURAHAN: &str =
    include_str!("../../static/geo/kota_pasuruan_desa_kelurahan.geojson");

/// Why a boundary set was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The text is not GeoJSON.
    #[error("{origin}: not GeoJSON: {reason}")]
    Parse {
        /// File or set name.
        origin: String,
        /// Parser message.
        reason: String,
    },
    /// A feature cannot be used as a region.
    #[error("{origin}: feature {index} ({id}): {reason}")]
    Feature {
        /// File or set name.
        origin: String,
        /// Position in the collection, from 0.
        index: usize,
        /// The feature's code or id when it has one.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read.
    #[error("{origin}: cannot read: {source}")]
    Io {
        /// File name.
        origin: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One administrative region with its polygon.
#[derive(Debug, Clone)]
pub struct Region {
    /// Kemendagri code (property `kode`).
    pub code: RegionCode,
    /// Name (property `nama`).
    pub name: String,
    /// Polygon(s) in lon/lat (WGS84).
    pub shape: MultiPolygon<f64>,
    /// Bounding box, to skip most polygons cheaply.
    bbox: Rect<f64>,
}

/// A set of regions of one level (e.g. the 34 kelurahan of Kota Pasuruan).
#[derive(Debug, Clone)]
pub struct Boundaries {
    regions: Vec<Region>,
    /// Invalid geometries that were repaired on load, one line each (feature, code, reason).
    repairs: Vec<String>,
}

impl Boundaries {
    /// The shipped kelurahan set of Kota Pasuruan.
    pub fn kota_pasuruan_kelurahan() -> Result<Self, GeoError> {
        Self::from_geojson(
            KOTA_PASURUAN_KELURAHAN,
            "builtin:kota_pasuruan_desa_kelurahan",
        )
    }

    /// The set in `path`, or the shipped Kota Pasuruan kelurahan when there is none.
    pub fn from_file_or_shipped(path: Option<&std::path::Path>) -> Result<Self, GeoError> {
        match path {
            Some(path) => Self::from_file(path),
            None => Self::kota_pasuruan_kelurahan(),
        }
    }

    /// Reads a GeoJSON file of regions.
    pub fn from_file(path: &std::path::Path) -> Result<Self, GeoError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GeoError::Io {
            origin: origin.clone(),
            source,
        })?;
        Self::from_geojson(&text, &origin)
    }

    /// Parses a FeatureCollection whose features carry `kode` and `nama` properties.
    pub fn from_geojson(text: &str, origin: &str) -> Result<Self, GeoError> {
        let parsed: geojson::GeoJson =
            text.parse().map_err(|e: geojson::Error| GeoError::Parse {
                origin: origin.to_owned(),
                reason: e.to_string(),
            })?;
        let geojson::GeoJson::FeatureCollection(collection) = parsed else {
            return Err(GeoError::Parse {
                origin: origin.to_owned(),
                reason: "expected a FeatureCollection".to_owned(),
            });
        };
        let mut seen = HashSet::new();
        let mut repairs = Vec::new();
        let mut regions = Vec::with_capacity(collection.features.len());
        for (index, feature) in collection.features.into_iter().enumerate() {
            let fail = |id: &str, reason: String| GeoError::Feature {
                origin: origin.to_owned(),
                index,
                id: id.to_owned(),
                reason,
            };
            let text_prop = |name: &str| {
                feature
                    .property(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let raw_code =
                text_prop("kode").ok_or_else(|| fail("-", "no 'kode' property".into()))?;
            let code: RegionCode = raw_code
                .parse()
                .map_err(|e| fail(&raw_code, format!("{e}")))?;
            if !seen.insert(code.clone()) {
                return Err(fail(&raw_code, "duplicate code".into()));
            }
            let name = text_prop("nama").unwrap_or_else(|| raw_code.clone());
            let geometry = feature
                .geometry
                .ok_or_else(|| fail(&raw_code, "no geometry".into()))?;
            let mut shape = match geo::Geometry::<f64>::try_from(geometry) {
                Ok(geo::Geometry::Polygon(p)) => MultiPolygon::new(vec![p]),
                Ok(geo::Geometry::MultiPolygon(mp)) => mp,
                Ok(_) => {
                    return Err(fail(
                        &raw_code,
                        "geometry is not a Polygon or MultiPolygon".into(),
                    ))
                }
                Err(e) => return Err(fail(&raw_code, format!("bad geometry: {e}"))),
            };
            if let Err(problem) = shape.check_validation() {
                let fixed = repair(&shape).map_err(|still| {
                    fail(
                        &raw_code,
                        format!("invalid geometry that could not be repaired: {problem}; after repair: {still}"),
                    )
                })?;
                repairs.push(format!(
                    "{origin}: feature {index} ({raw_code} {name}): {problem}; repaired"
                ));
                shape = fixed;
            }
            let bbox = shape
                .bounding_rect()
                .ok_or_else(|| fail(&raw_code, "empty geometry".into()))?;
            regions.push(Region {
                code,
                name,
                shape,
                bbox,
            });
        }
        if regions.is_empty() {
            return Err(GeoError::Parse {
                origin: origin.to_owned(),
                reason: "the collection has no features".to_owned(),
            });
        }
        Ok(Self { regions, repairs })
    }

    /// Invalid geometries repaired on load, for the log and `pantau check`.
    pub fn repairs(&self) -> &[String] {
        &self.repairs
    }

    /// All regions, in file order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The lon/lat corners (south-west, north-east) of every region together; `None` when empty.
    pub fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut boxes = self.regions.iter().map(|r| r.bbox);
        let first = boxes.next()?;
        let (mut lo, mut hi) = (first.min(), first.max());
        for b in boxes {
            lo = geo::coord! { x: lo.x.min(b.min().x), y: lo.y.min(b.min().y) };
            hi = geo::coord! { x: hi.x.max(b.max().x), y: hi.y.max(b.max().y) };
        }
        Some(((lo.x, lo.y), (hi.x, hi.y)))
    }

    /// The region containing the point, if any.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&Region> {
        let point = Point::new(lon, lat);
        self.regions
            .iter()
            .filter(|r| r.bbox.contains(&point))
            .find(|r| r.shape.contains(&point))
    }

    /// A uniformly random point inside a region (rejection sampling in its bounding box).
    pub fn random_point_in(&self, region: &Region, rng: &mut impl Rng) -> (f64, f64) {
        let (min, max) = (region.bbox.min(), region.bbox.max());
        // Kelurahan fill a good share of their box; 1000 tries failing means a degenerate shape.
        for _ in 0..1000 {
            let point = Point::new(
                rng.random_range(min.x..=max.x),
                rng.random_range(min.y..=max.y),
            );
            if region.shape.contains(&point) {
                return (point.x(), point.y());
            }
        }
        let centre = region.bbox.center();
        (centre.x, centre.y)
    }
}

/// Rebuilds an invalid (multi)polygon from its filled area: a zero-distance buffer (as `buffer(0)`
/// in GEOS), then any exterior ring that still touches itself at a vertex is split there into two
/// loops — two polygons side by side, or a polygon and its hole. Returns the valid result, or the
/// remaining problem.
fn repair(shape: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, String> {
    let buffered = shape.buffer(0.0);
    let mut polygons = Vec::new();
    for polygon in buffered {
        let (exterior, interiors) = polygon.into_inner();
        let mut loops = Vec::new();
        split_at_touching_vertices(exterior.0, &mut loops);
        let mut rings: Vec<geo::Polygon<f64>> = loops
            .into_iter()
            .map(|ring| geo::Polygon::new(geo::LineString::new(ring), Vec::new()))
            .collect();
        // The largest loop is the outline; a smaller loop inside it is a hole, others stand alone.
        rings.sort_by(|a, b| b.unsigned_area().total_cmp(&a.unsigned_area()));
        let mut outline = rings.remove(0);
        for ring in rings {
            let inside = ring
                .exterior()
                .0
                .iter()
                .all(|c| outline.contains(c) || outline.exterior().0.contains(c));
            if inside {
                outline.interiors_push(ring.exterior().clone());
            } else {
                polygons.push(ring);
            }
        }
        for hole in interiors {
            outline.interiors_push(hole);
        }
        polygons.push(outline);
    }
    let repaired = MultiPolygon::new(polygons);
    repaired
        .check_validation()
        .map(|()| repaired.clone())
        .map_err(|e| e.to_string())
}

/// Splits a closed ring at every vertex it passes twice, pushing each simple loop to `out`.
fn split_at_touching_vertices(ring: Vec<geo::Coord<f64>>, out: &mut Vec<Vec<geo::Coord<f64>>>) {
    let open = &ring[..ring.len().saturating_sub(1)];
    for i in 0..open.len() {
        if let Some(j) = (i + 1..open.len()).find(|&j| open[j] == open[i]) {
            let inner: Vec<_> = open[i..=j].to_vec();
            let mut outer: Vec<_> = open[..i].to_vec();
            outer.extend_from_slice(&open[j..]);
            outer.push(outer[0]);
            split_at_touching_vertices(inner, out);
            split_at_touching_vertices(outer, out);
            return;
        }
    }
    out.push(ring);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shipped_kota_pasuruan_has_34_kelurahan_in_4_kecamatan() {
        let set = Boundaries::kota_pasuruan_kelurahan().unwrap();
        assert_eq!(set.regions().len(), 34);
        let kecamatan: HashSet<_> = set
            .regions()
            .iter()
            .map(|r| r.code.parent().unwrap())
            .collect();
        assert_eq!(kecamatan.len(), 4);
    }

    #[test]
    fn random_points_fall_inside_their_kelurahan() {
        let set = Boundaries::kota_pasuruan_kelurahan().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for region in set.regions() {
            let (lon, lat) = set.random_point_in(region, &mut rng);
            assert_eq!(set.locate(lon, lat).map(|r| &r.code), Some(&region.code));
        }
        // The sea off Pasuruan is in no kelurahan.
        assert!(set.locate(112.95, -7.55).is_none());
    }

    #[test]
    fn bad_features_are_refused_with_their_position() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"kode":"35.75.01.1001"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
          {"type":"Feature","properties":{"kode":"35.75.01.1001"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        let err = Boundaries::from_geojson(text, "t.geojson").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.geojson: feature 1 (35.75.01.1001): duplicate code"
        );
        let err = Boundaries::from_geojson("{}", "t.geojson").unwrap_err();
        assert!(
            err.to_string().starts_with("t.geojson: not GeoJSON"),
            "{err}"
        );
    }
}
