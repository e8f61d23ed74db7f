//! The export formats, one file each implementing [`Writer`], listed once by the [`formats!`]
//! line below. [`Format::ALL`] is the one list every other place is made from: format parameters
//! and content types in the OpenAPI description, `pantau export --help`, and the formats the
//! analyst page offers (served by `GET /api/datasets`).
//!
//! Adding a format is a new file here with its [`Writer`] and one line in `formats!`.

use std::io::Write;

use serde::Serialize;

use super::table::Block;
use super::{ExportError, Meta, Rows};

/// What a format is called and how it writes rows.
pub trait Writer: Sync {
    /// Its name, also its file extension (`csv`).
    fn name(&self) -> &'static str;
    /// The HTTP content type.
    fn content_type(&self) -> &'static str;
    /// What it is, for people (API docs, help texts).
    fn description(&self) -> &'static str;
    /// Rows per block read from the store and handed to the writer.
    fn block_rows(&self) -> usize {
        32_768
    }
    /// Whether it needs each row's geometry (a point or a region shape).
    fn needs_geometry(&self) -> bool {
        false
    }
    /// Writes `rows` to `out`, calling `progress` with the rows written so far after every block;
    /// returns the rows written.
    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError>;
}

/// How a row-by-row writer (CSV, JSON, GeoJSON, XLSX) receives rows.
pub(super) trait Sink {
    /// Writes one block.
    fn block(&mut self, block: &Block<'_>) -> Result<(), ExportError>;
    /// Ends the file.
    fn finish(self: Box<Self>) -> Result<(), ExportError>;
}

/// Feeds every block of `rows` to a row-by-row `sink` and ends the file.
fn write_blocks(
    rows: &dyn Rows,
    block_rows: usize,
    mut sink: Box<dyn Sink + '_>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    let mut written = 0u64;
    rows.each(block_rows, &mut |block| {
        sink.block(block)?;
        written += block.rows as u64;
        progress(written);
        Ok(())
    })?;
    sink.finish()?;
    Ok(written)
}

/// Declares the formats: each line a variant of [`Format`], its module here and its writer.
macro_rules! formats {
    ($($(#[doc = $doc:literal])* $variant:ident => $module:ident :: $writer:ident),+ $(,)?) => {
        $(mod $module;)+

        /// A file format an export is written in.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum Format {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Format {
            /// Every format, in the order they are offered.
            pub const ALL: &'static [Format] = &[$(Format::$variant),+];

            /// How it writes.
            pub fn writer(self) -> &'static dyn Writer {
                match self {
                    $(Format::$variant => &$module::$writer,)+
                }
            }
        }
    };
}

formats! {
    /// Comma-separated values, UTF-8, a header line, times with their offset.
    Csv => csv::Csv,
    /// An Excel workbook with typed cells (dates as dates, Rupiah as numbers).
    Xlsx => xlsx::Xlsx,
    /// Apache Parquet with typed columns (timestamps in UTC, Rupiah as decimal(18,2)).
    Parquet => parquet::Parquet,
    /// An RFC 7946 FeatureCollection (rows or regions with geometry).
    Geojson => geojson::GeoJson,
    /// A JSON object with the columns and one object per row.
    Json => json::Json,
}

pub(crate) use parquet::typed_frame;

impl Format {
    /// The names of every format (`csv`, `xlsx`, …), for messages and help texts.
    pub fn names() -> Vec<&'static str> {
        Format::ALL.iter().map(|f| f.extension()).collect()
    }

    /// The format called `name`, in any case.
    pub fn parse(name: &str) -> Result<Format, ExportError> {
        let wanted = name.to_ascii_lowercase();
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.extension() == wanted)
            .ok_or_else(|| {
                ExportError::UnknownFormat(format!(
                    "unknown format '{}': use one of {}",
                    name.chars().take(40).collect::<String>(),
                    Format::names().join(", ")
                ))
            })
    }

    /// The file extension, also the format's name.
    pub fn extension(self) -> &'static str {
        self.writer().name()
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        self.writer().content_type()
    }

    /// What the format is, for people.
    pub fn description(self) -> &'static str {
        self.writer().description()
    }

    /// Whether rows need a geometry to be written in it.
    pub fn needs_geometry(self) -> bool {
        self.writer().needs_geometry()
    }

    /// The formats as the API lists them: name, content type and description.
    pub fn catalog() -> serde_json::Value {
        Format::ALL
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.extension(),
                    "content_type": f.content_type(),
                    "description": f.description(),
                    "geometry": f.needs_geometry(),
                })
            })
            .collect()
    }
}
