//! A panel's value (the JSON its topic carries, see `docs/dashboards.md`) as a typed table, so the
//! numbers a screen shows can be exported exactly: each kind says how (`dashboards::kinds`);
//! a map's table gets its regions' shapes here, for GeoJSON.

use serde_json::Value;

use super::regions::Regions;
use crate::dashboards::kinds::RegionNames;
use crate::dashboards::model::Panel;
use crate::domain::table::Table;

impl RegionNames for Regions {
    fn name(&self, set: &str, code: &str) -> Option<String> {
        Regions::name(self, set, code)
    }
}

/// No region names (a table made without the boundary sets).
struct Unnamed;

impl RegionNames for Unnamed {
    fn name(&self, _set: &str, _code: &str) -> Option<String> {
        None
    }
}

/// The table of `panel`'s `value`. `regions` gives a map's rows their region names and its
/// GeoJSON the regions' shapes.
pub fn tabulate(panel: &Panel, value: &Value, regions: Option<&Regions>) -> Table {
    let kind = panel.kind.kind();
    let names: &dyn RegionNames = match regions {
        Some(r) => r,
        None => &Unnamed,
    };
    let mut table = kind.tabulate(panel, value, names);
    if let (Some(set), Some(regions)) = (kind.shapes_set(panel), regions) {
        table.regions = regions.shapes(set).map(|s| (0, s));
    }
    table
}
