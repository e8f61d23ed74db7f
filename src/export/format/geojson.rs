//! GeoJSON (RFC 7946): a FeatureCollection, one Feature per row, through the JSON writer's sink
//! (`json.rs` says how rows become features).

use std::io::Write;

use super::super::{ExportError, Geometry, Meta, Rows};
use super::json::JsonSink;
use super::{write_blocks, Writer};

/// GeoJSON.
pub(super) struct GeoJson;

impl Writer for GeoJson {
    fn name(&self) -> &'static str {
        "geojson"
    }

    fn content_type(&self) -> &'static str {
        "application/geo+json"
    }

    fn description(&self) -> &'static str {
        "An RFC 7946 FeatureCollection (rows or regions with geometry)"
    }

    fn needs_geometry(&self) -> bool {
        true
    }

    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        let geometry = rows.geometry();
        if geometry == Geometry::None {
            return Err(ExportError::NoGeometry(format!(
                "{} has no geometry for GeoJSON: export complaints (points) or a map panel (regions), or use another format",
                meta.title
            )));
        }
        let sink = JsonSink::new(rows.columns(), meta, geometry, out)?;
        write_blocks(rows, self.block_rows(), Box::new(sink), progress)
    }
}
