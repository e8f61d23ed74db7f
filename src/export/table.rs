//! What every export writes: typed columns, and rows delivered in blocks of column values.
//!
//! A dataset export produces its blocks from the store's columns a few tens of thousands of rows
//! at a time (memory stays bounded whatever the row count); a panel or snapshot export holds its
//! few rows in a [`Table`]. Writers see only [`Rows`], so every format handles both.

use super::ExportError;
use crate::domain::table::{Cell, ColType, Column, Table};

/// One column's values in a block, in the representation its [`ColType`] asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Values<'a> {
    /// Text columns (labels borrowed from the store's dictionaries, ids decoded from its keys).
    Text(Vec<Option<std::borrow::Cow<'a, str>>>),
    /// Integer, bool, time (seconds), money (sen) and coordinate (micro-degree) columns.
    Int(Vec<Option<i64>>),
    /// Float columns.
    Float(Vec<Option<f64>>),
}

impl Values<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
        }
    }

    /// True when it has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A run of rows, column by column (every column has `rows` values).
#[derive(Debug, Clone, PartialEq)]
pub struct Block<'a> {
    /// Rows in the block.
    pub rows: usize,
    /// Values per column, in the order of [`Rows::columns`].
    pub columns: Vec<Values<'a>>,
}

/// Where the features of a GeoJSON export get their geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// The rows have no geometry: GeoJSON is refused.
    None,
    /// A point per row from two [`ColType::Coord`] columns (positions in [`Rows::columns`]).
    Point {
        /// Latitude column.
        lat: usize,
        /// Longitude column.
        lon: usize,
    },
    /// A region's shape per row: the text column `code` holds a region code, `shapes` maps each
    /// code to its GeoJSON geometry object.
    Regions {
        /// Region code column.
        code: usize,
        /// Geometry JSON by region code.
        shapes: std::sync::Arc<std::collections::HashMap<String, serde_json::Value>>,
    },
}

impl Geometry {
    /// Points from the columns named `lat` and `lon`, when both are among `columns`.
    pub fn points_in(columns: &[Column]) -> Geometry {
        let at = |name: &str| columns.iter().position(|c| c.name == name);
        match (at("lat"), at("lon")) {
            (Some(lat), Some(lon)) => Geometry::Point { lat, lon },
            _ => Geometry::None,
        }
    }
}

/// Rows an export writes: a header of typed columns, then blocks of values.
pub trait Rows: Send {
    /// The columns, in order.
    fn columns(&self) -> &[Column];
    /// How many rows [`Rows::each`] delivers.
    fn total(&self) -> u64;
    /// Where GeoJSON features get their geometry.
    fn geometry(&self) -> Geometry {
        Geometry::None
    }
    /// Calls `f` with every block of at most `block_rows` rows, in order; stops at `f`'s first error.
    fn each(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(&Block<'_>) -> Result<(), ExportError>,
    ) -> Result<(), ExportError>;

    /// The blocks as polars frames of the export's types (text; `Datetime[µs, UTC]`;
    /// `Decimal(38,2)` Rupiah; float degrees; integers; booleans), for Parquet. By default each
    /// block of [`Rows::each`] is converted; rows held in columns build them directly.
    fn each_frame(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(polars::prelude::DataFrame) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let columns = self.columns().to_vec();
        self.each(block_rows, &mut |block| {
            f(super::format::typed_frame(&columns, block)?)
        })
    }
}

impl Rows for Table {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn total(&self) -> u64 {
        self.rows.len() as u64
    }

    fn geometry(&self) -> Geometry {
        match &self.regions {
            Some((code, shapes)) => Geometry::Regions {
                code: *code,
                shapes: shapes.clone(),
            },
            None => Geometry::None,
        }
    }

    fn each(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(&Block<'_>) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        for rows in self.rows.chunks(block_rows.max(1)) {
            let columns = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let cell = |r: &Vec<Cell>| r.get(i).cloned().unwrap_or(Cell::Null);
                    match c.ty {
                        ColType::Text => Values::Text(
                            rows.iter()
                                .map(|r| match r.get(i) {
                                    Some(Cell::Text(s)) => Some(s.as_str().into()),
                                    _ => None,
                                })
                                .collect(),
                        ),
                        ColType::Float => Values::Float(
                            rows.iter()
                                .map(|r| match cell(r) {
                                    Cell::Float(x) => Some(x),
                                    Cell::Int(n) => Some(n as f64),
                                    _ => None,
                                })
                                .collect(),
                        ),
                        _ => Values::Int(
                            rows.iter()
                                .map(|r| match cell(r) {
                                    Cell::Int(n) => Some(n),
                                    _ => None,
                                })
                                .collect(),
                        ),
                    }
                })
                .collect();
            f(&Block {
                rows: rows.len(),
                columns,
            })?;
        }
        Ok(())
    }
}
