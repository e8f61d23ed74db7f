//! The boundary sets an instance can serve, by name, loaded on first use; and their display form:
//! RFC 7946 GeoJSON simplified for a zoom level.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use geo::orient::{Direction, Orient};
use geo::{CoordsIter, MultiPolygon, SimplifyVwPreserve};
use serde_json::{json, Value};

use super::{Boundaries, GeoError};

/// Highest zoom accepted (web-map convention).
pub const MAX_ZOOM: u8 = 22;

/// A set once loaded, or why it could not be.
type Loaded = Result<Arc<Boundaries>, String>;

/// Named boundary sets: every `*.geojson` in a directory, named by file stem.
pub struct Catalog {
    files: BTreeMap<String, PathBuf>,
    /// One cell per set, so two first requests for a set parse it once.
    loaded: Mutex<BTreeMap<String, Arc<OnceLock<Loaded>>>>,
}

impl Catalog {
    /// Lists the sets in `dir` (nothing is parsed until a set is asked for).
    pub fn open(dir: &Path) -> Catalog {
        let mut files = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "geojson") {
                    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                        files.insert(stem.to_owned(), path);
                    }
                }
            }
        }
        Catalog {
            files,
            loaded: Mutex::default(),
        }
    }

    /// Names of the sets, sorted.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// A set by name, loading (and validating) it on first use; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<Loaded> {
        let path = self.files.get(name)?;
        let cell = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone();
        Some(
            cell.get_or_init(|| {
                Boundaries::from_file(path)
                    .map(|set| {
                        for repair in set.repairs() {
                            tracing::warn!(%repair, "Repaired an invalid boundary.");
                        }
                        Arc::new(set)
                    })
                    .map_err(|e: GeoError| e.to_string())
            })
            .clone(),
        )
    }
}

/// The set as an RFC 7946 FeatureCollection: exteriors counter-clockwise, holes clockwise, rings
/// closed, coordinates rounded to 6 decimals (~0.1 m), and — with a zoom — simplified to about half
/// a screen pixel at that zoom, never below a triangle. Properties: `kode`, `nama`, `induk` (parent code).
pub fn to_geojson(set: &Boundaries, zoom: Option<u8>) -> (Value, usize) {
    let mut vertices = 0;
    let features: Vec<Value> = set
        .regions()
        .iter()
        .map(|region| {
            let shape = match zoom {
                Some(z) => simplify(&region.shape, z),
                None => region.shape.clone(),
            };
            let shape = shape.orient(Direction::Default);
            vertices += shape.coords_count();
            let polygons: Vec<Value> = shape
                .iter()
                .map(|polygon| {
                    std::iter::once(polygon.exterior())
                        .chain(polygon.interiors())
                        .map(|ring| {
                            Value::Array(
                                ring.coords()
                                    .map(|c| json!([round6(c.x), round6(c.y)]))
                                    .collect(),
                            )
                        })
                        .collect()
                })
                .collect();
            let geometry = if polygons.len() == 1 {
                json!({"type": "Polygon", "coordinates": polygons[0]})
            } else {
                json!({"type": "MultiPolygon", "coordinates": polygons})
            };
            json!({
                "type": "Feature",
                "id": region.code.as_str(),
                "properties": {
                    "kode": region.code.as_str(),
                    "nama": region.name,
                    "induk": region.code.parent().map(|p| p.to_string()),
                },
                "geometry": geometry,
            })
        })
        .collect();
    (
        json!({"type": "FeatureCollection", "features": features}),
        vertices,
    )
}

/// Visvalingam–Whyatt simplification that keeps rings valid, with an area tolerance of half a
/// pixel squared at `zoom`; a ring that would collapse keeps its original shape.
fn simplify(shape: &MultiPolygon<f64>, zoom: u8) -> MultiPolygon<f64> {
    let pixel = 360.0 / (256.0 * f64::from(1u32 << zoom.min(MAX_ZOOM)));
    let simplified = shape.simplify_vw_preserve(pixel * pixel * 0.5);
    let collapsed =
        simplified.iter().any(|p| p.exterior().0.len() < 4) || simplified.0.len() != shape.0.len();
    if collapsed {
        shape.clone()
    } else {
        simplified
    }
}

/// Six decimals of a degree (about 0.1 m), as RFC 7946 output is written.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
