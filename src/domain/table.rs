//! Typed tables: columns with a type each (text, integer, float, boolean, timestamp, Rupiah,
//! coordinate) and rows of cells. A panel's value as a table (what its exports write and a
//! snapshot keeps), shared by the panel kinds that make them and the export formats that write
//! them.

use serde::{Deserialize, Serialize};

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
    /// True or false (stored as 0/1 in integer cells).
    #[serde(rename = "boolean")]
    Bool,
    /// An instant, seconds since 1970 in integer cells; shown in the export's time zone.
    #[serde(rename = "timestamp")]
    Time,
    /// Rupiah, exact: sen in integer cells.
    #[serde(rename = "rupiah")]
    Money,
    /// A WGS84 coordinate in degrees: micro-degrees in integer cells.
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
