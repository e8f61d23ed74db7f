//! What every export writes: typed columns, and rows delivered in blocks of column values.
//!
//! A dataset export produces its blocks from the store's columns a few tens of thousands of rows
//! at a time (memory stays bounded whatever the row count); a panel or snapshot export holds its
//! few rows in a [`Table`]. Writers see only [`Rows`], so every format handles both.

use serde::{Deserialize, Serialize};

use super::ExportError;

/// How a column's values are typed in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColType {
    /// Text (labels, ids, codes).
    #[serde(rename = "string")]
    Text,
    /// A whole number.
    #[serde(rename = "integer")]
    Integer,
    /// A number with a fraction.
    #[serde(rename = "float")]
    Float,
    /// True or false (stored as 0/1 in [`Values::Int`]).
    #[serde(rename = "boolean")]
    Bool,
    /// An instant, seconds since 1970 in [`Values::Int`]; shown in the export's time zone.
    #[serde(rename = "timestamp")]
    Time,
    /// Rupiah, exact: sen in [`Values::Int`].
    #[serde(rename = "rupiah")]
    Money,
    /// A WGS84 coordinate in degrees: micro-degrees in [`Values::Int`].
    #[serde(rename = "coordinate")]
    Coord,
}

impl ColType {
    /// The name used in JSON headers, the XLSX info sheet and docs (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            ColType::Text => "string",
            ColType::Integer => "integer",
            ColType::Float => "float",
            ColType::Bool => "boolean",
            ColType::Time => "timestamp",
            ColType::Money => "rupiah",
            ColType::Coord => "coordinate",
        }
    }
}

/// One exported column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// How its values are typed.
    #[serde(rename = "type")]
    pub ty: ColType,
}

impl Column {
    /// A column called `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: ColType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }
}

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

/// One value of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// An integer, bool (0/1), time (seconds), money (sen) or coordinate (micro-degrees).
    Int(i64),
    /// A float.
    Float(f64),
}

/// A small table held in memory (a panel's result, a snapshot's panel).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
    /// The column holding a region code whose shape a GeoJSON export draws, if any.
    #[serde(skip)]
    pub regions: Option<(
        usize,
        std::sync::Arc<std::collections::HashMap<String, serde_json::Value>>,
    )>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            regions: None,
        }
    }

    /// The position of column `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Adds a column of nulls (kept when rows are pushed later) and returns its position.
    pub fn add_column(&mut self, column: Column) -> usize {
        self.columns.push(column);
        for row in &mut self.rows {
            row.push(Cell::Null);
        }
        self.columns.len() - 1
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
