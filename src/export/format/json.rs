//! JSON and GeoJSON (see `geojson.rs`, which writes through the same sink), written as they
//! stream.
//!
//! JSON: `{"export": {facts}, "columns": [{name, type}], "rows": [{column: value}, …]}`.
//! GeoJSON (RFC 7946): a FeatureCollection whose `pantau` member carries the facts; each row is a
//! Feature — a Point `[lon, lat]` from the row's coordinates (`null` geometry when it has none), or
//! the row's region shape — with the other columns as properties.
//!
//! In both, times are text in the export's zone with their offset and Rupiah are decimal strings
//! (`"1234567.89"`: exact for any amount, unlike a JSON number read into a float).

use std::io::Write;

use crate::domain::table::{ColType, Column};
use super::super::{float_text, write_coord, write_i64, write_money, Block, ExportError, Geometry, Meta, Rows, Values};
use super::{write_blocks, Sink, Writer};
use crate::domain::LocalClock;

const FLUSH_BYTES: usize = 256 * 1024;

pub(super) struct JsonSink<'w> {
    columns: Vec<Column>,
    /// Column names, JSON-encoded once.
    names: Vec<Vec<u8>>,
    geometry: Geometry,
    clock: LocalClock,
    first: bool,
    buf: Vec<u8>,
    out: Box<dyn Write + Send + 'w>,
}

fn json_text(s: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

impl<'w> JsonSink<'w> {
    pub(super) fn new(
        columns: &[Column],
        meta: &Meta,
        geometry: Geometry,
        out: Box<dyn Write + Send + 'w>,
    ) -> Result<JsonSink<'w>, ExportError> {
        let info =
            serde_json::to_string(&meta.info).map_err(|e| ExportError::Encode(e.to_string()))?;
        let mut buf = Vec::with_capacity(FLUSH_BYTES + 64 * 1024);
        if geometry == Geometry::None {
            let header =
                serde_json::to_string(columns).map_err(|e| ExportError::Encode(e.to_string()))?;
            buf.extend_from_slice(b"{\"export\":");
            buf.extend_from_slice(info.as_bytes());
            buf.extend_from_slice(b",\"columns\":");
            buf.extend_from_slice(header.as_bytes());
            buf.extend_from_slice(b",\"rows\":[\n");
        } else {
            buf.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"pantau\":");
            buf.extend_from_slice(info.as_bytes());
            buf.extend_from_slice(b",\"features\":[\n");
        }
        let names = columns
            .iter()
            .map(|c| {
                let mut name = Vec::new();
                json_text(&c.name, &mut name);
                name
            })
            .collect();
        Ok(JsonSink {
            columns: columns.to_vec(),
            names,
            geometry,
            clock: LocalClock::new(meta.time_zone),
            first: true,
            buf,
            out,
        })
    }

    /// Writes the row's properties object; columns that become the geometry are left out.
    fn properties(&mut self, block: &Block<'_>, row: usize) {
        let skip = match self.geometry {
            Geometry::Point { lat, lon } => [Some(lat), Some(lon)],
            _ => [None, None],
        };
        self.buf.push(b'{');
        let mut first = true;
        for (i, values) in block.columns.iter().enumerate() {
            if skip.contains(&Some(i)) {
                continue;
            }
            if !first {
                self.buf.push(b',');
            }
            first = false;
            self.buf.extend_from_slice(&self.names[i]);
            self.buf.push(b':');
            match values {
                Values::Text(v) => match &v[row] {
                    Some(s) => json_text(s, &mut self.buf),
                    None => self.buf.extend_from_slice(b"null"),
                },
                Values::Float(v) => match v[row].and_then(float_text) {
                    Some(s) => self.buf.extend_from_slice(s.as_bytes()),
                    None => self.buf.extend_from_slice(b"null"),
                },
                Values::Int(v) => match v[row] {
                    None => self.buf.extend_from_slice(b"null"),
                    Some(n) => match self.columns[i].ty {
                        ColType::Time => {
                            self.buf.push(b'"');
                            self.clock.write(n, &mut self.buf);
                            self.buf.push(b'"');
                        }
                        ColType::Money => {
                            self.buf.push(b'"');
                            write_money(n, &mut self.buf);
                            self.buf.push(b'"');
                        }
                        ColType::Coord => write_coord(n, &mut self.buf),
                        ColType::Bool => {
                            self.buf
                                .extend_from_slice(if n != 0 { b"true" } else { b"false" })
                        }
                        _ => write_i64(n, &mut self.buf),
                    },
                },
            }
        }
        self.buf.push(b'}');
    }

    fn geometry(&mut self, block: &Block<'_>, row: usize) {
        let int = |col: usize| match &block.columns[col] {
            Values::Int(v) => v[row],
            _ => None,
        };
        match &self.geometry {
            Geometry::Point { lat, lon } => match (int(*lat), int(*lon)) {
                (Some(lat), Some(lon)) => {
                    self.buf
                        .extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":[");
                    write_coord(lon, &mut self.buf);
                    self.buf.push(b',');
                    write_coord(lat, &mut self.buf);
                    self.buf.extend_from_slice(b"]}");
                }
                _ => self.buf.extend_from_slice(b"null"),
            },
            Geometry::Regions { code, shapes } => {
                let shape = match &block.columns[*code] {
                    Values::Text(v) => v[row].as_deref().and_then(|c| shapes.get(c)),
                    _ => None,
                };
                match shape {
                    Some(shape) => {
                        let _ = serde_json::to_writer(&mut self.buf, shape);
                    }
                    None => self.buf.extend_from_slice(b"null"),
                }
            }
            Geometry::None => {}
        }
    }
}

impl Sink for JsonSink<'_> {
    fn block(&mut self, block: &Block<'_>) -> Result<(), ExportError> {
        for row in 0..block.rows {
            if !self.first {
                self.buf.extend_from_slice(b",\n");
            }
            self.first = false;
            if self.geometry == Geometry::None {
                self.properties(block, row);
            } else {
                self.buf
                    .extend_from_slice(b"{\"type\":\"Feature\",\"geometry\":");
                self.geometry(block, row);
                self.buf.extend_from_slice(b",\"properties\":");
                self.properties(block, row);
                self.buf.push(b'}');
            }
            if self.buf.len() >= FLUSH_BYTES {
                self.out.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.buf.extend_from_slice(b"\n]}\n");
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(())
    }
}

/// JSON.
pub(super) struct Json;

impl Writer for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn description(&self) -> &'static str {
        "A JSON object with the columns and one object per row"
    }

    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        let sink = JsonSink::new(rows.columns(), meta, Geometry::None, out)?;
        write_blocks(rows, self.block_rows(), Box::new(sink), progress)
    }
}
