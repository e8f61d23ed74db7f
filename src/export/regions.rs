//! Region names and shapes for exports of map panels, from the boundary sets the server serves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::geo::{to_geojson, Catalog};

/// Shapes by region code of one boundary set, as RFC 7946 geometry objects.
pub type Shapes = Arc<HashMap<String, Value>>;

/// Names and shapes of the regions of every boundary set, built once per set.
pub struct Regions {
    catalog: Arc<Catalog>,
    shapes: Mutex<HashMap<String, Shapes>>,
}

impl Regions {
    /// Over the sets of `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> Regions {
        Regions {
            catalog,
            shapes: Mutex::default(),
        }
    }

    /// The name of region `code` in set `set`.
    pub fn name(&self, set: &str, code: &str) -> Option<String> {
        let set = self.catalog.get(set)?.ok()?;
        set.regions()
            .iter()
            .find(|r| r.code.as_str() == code)
            .map(|r| r.name.clone())
    }

    /// The shapes of set `set` (full detail, counter-clockwise exteriors, 6 decimals).
    pub fn shapes(&self, set: &str) -> Option<Shapes> {
        if let Some(hit) = self.lock().get(set) {
            return Some(hit.clone());
        }
        let boundaries = self.catalog.get(set)?.ok()?;
        let (collection, _) = to_geojson(&boundaries, None);
        let shapes: HashMap<String, Value> = collection["features"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["id"].as_str()?.to_owned(), f["geometry"].clone())))
            .collect();
        let shapes = Arc::new(shapes);
        self.lock().insert(set.to_owned(), shapes.clone());
        Some(shapes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Shapes>> {
        self.shapes.lock().unwrap_or_else(|p| p.into_inner())
    }
}
