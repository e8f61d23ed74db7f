//! Parquet: one row group per block, typed columns — text as UTF-8 strings (a dataset's labels
//! dictionary-encoded from its own dictionary, read back as categorical/enum strings), timestamps
//! as UTC microseconds, Rupiah as decimal(38,2) (exact), coordinates as float degrees — with the
//! export's facts as file key-value metadata (`pantau`). Compressed with zstd.
//!
//! The columns of a row group are encoded and compressed on every core (each worker takes the
//! next column), then the row group is written in column order: polars' own batched writer
//! compresses lazily on the writing thread, which left the second core idle.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::io::parquet::write::{get_column_write_options, BatchedWriter};
use polars::prelude::*;
use polars_parquet::write::{
    array_to_columns, ColumnWriteOptions, CompressedPage, Compressor, ParquetType,
    StatisticsOptions, Version, WriteOptions,
};

/// The file's compression: zstd at its default level.
const COMPRESSION: ParquetCompression = ParquetCompression::Zstd(None);

use crate::domain::table::{ColType, Column};
use super::super::{Block, ExportError, Meta, Rows, Values};
use super::Writer;

fn encode(e: PolarsError) -> ExportError {
    ExportError::Encode(e.to_string())
}

/// The file writer and each column's write options.
type PageWriter<'w> = (
    BatchedWriter<Box<dyn Write + Send + 'w>>,
    Vec<ColumnWriteOptions>,
);

struct ParquetSink<'w> {
    /// Made at the first frame, with that frame's schema (label columns may be enums), with
    /// each column's write options.
    writer: Option<PageWriter<'w>>,
    /// The output and the file's key-value metadata until then.
    pending: Option<(Box<dyn Write + Send + 'w>, String)>,
    /// The schema of the columns as declared, for a file without rows.
    declared: Schema,
}

/// The polars (and Parquet) type of an exported column.
pub(super) fn dtype(ty: ColType) -> DataType {
    match ty {
        ColType::Text => DataType::String,
        ColType::Integer => DataType::Int64,
        ColType::Float | ColType::Coord => DataType::Float64,
        ColType::Bool => DataType::Boolean,
        ColType::Time => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        ColType::Money => DataType::Decimal(38, 2),
    }
}

impl<'w> ParquetSink<'w> {
    fn new(
        columns: &[Column],
        meta: &Meta,
        out: Box<dyn Write + Send + 'w>,
    ) -> Result<ParquetSink<'w>, ExportError> {
        let declared: Schema = columns
            .iter()
            .map(|c| Field::new(c.name.as_str().into(), dtype(c.ty)))
            .collect();
        let info =
            serde_json::to_string(&meta.info).map_err(|e| ExportError::Encode(e.to_string()))?;
        Ok(ParquetSink {
            writer: None,
            pending: Some((out, info)),
            declared,
        })
    }

    fn writer(&mut self, schema: &Schema) -> Result<&mut PageWriter<'w>, ExportError> {
        if let Some((out, info)) = self.pending.take() {
            let writer = ParquetWriter::new(out)
                .with_compression(COMPRESSION)
                .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                    "pantau".to_owned(),
                    info,
                )])))
                .batched(schema)
                .map_err(encode)?;
            // The options `batched` derives, for encoding pages outside the writer.
            let arrow = schema.to_arrow(CompatLevel::newest());
            let columns = get_column_write_options(&arrow, &[]);
            self.writer = Some((writer, columns));
        }
        self.writer
            .as_mut()
            .ok_or_else(|| ExportError::Encode("Parquet writer already finished".into()))
    }
}

/// The page options the writer uses (`ParquetWriter` with [`COMPRESSION`] and its defaults).
fn page_options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: COMPRESSION.into(),
        data_page_size: None,
    }
}

/// One column's pages, encoded and compressed (a flat column is one Parquet column).
fn compressed(
    column: &polars::prelude::Column,
    parquet_type: ParquetType,
    options: &ColumnWriteOptions,
) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    let array = column
        .as_materialized_series()
        .to_arrow(0, CompatLevel::newest());
    let write = page_options();
    array_to_columns(array, parquet_type, options, write)?
        .into_iter()
        .map(|pages| {
            Compressor::new_from_vec(
                pages.map(|page| {
                    page.map_err(|e| {
                        polars_parquet::parquet::error::ParquetError::FeatureNotSupported(
                            e.to_string(),
                        )
                    })
                }),
                write.compression,
                Vec::new(),
            )
            .collect::<Result<Vec<_>, _>>()
            .map_err(PolarsError::from)
        })
        .collect()
}

/// A block as a frame of the export's types (what [`Rows::each_frame`] delivers).
pub(crate) fn typed_frame(columns: &[Column], block: &Block<'_>) -> Result<DataFrame, ExportError> {
    let columns = columns
        .iter()
        .zip(&block.columns)
        .map(|(c, v)| series(c, v))
        .collect::<Result<Vec<_>, _>>()?;
    DataFrame::new(columns).map_err(encode)
}

/// One block column as a polars column of the export's type.
fn series(column: &Column, values: &Values<'_>) -> Result<polars::prelude::Column, ExportError> {
    let name: PlSmallStr = column.name.as_str().into();
    let series = match (column.ty, values) {
        (_, Values::Text(v)) => {
            StringChunked::from_iter_options(name, v.iter().map(|c| c.as_deref())).into_series()
        }
        (_, Values::Float(v)) => {
            Float64Chunked::from_iter_options(name, v.iter().copied()).into_series()
        }
        (ColType::Bool, Values::Int(v)) => {
            BooleanChunked::from_iter_options(name, v.iter().map(|x| x.map(|n| n != 0)))
                .into_series()
        }
        (ColType::Time, Values::Int(v)) => {
            Int64Chunked::from_iter_options(name, v.iter().map(|x| x.map(|secs| secs * 1_000_000)))
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_series()
        }
        (ColType::Money, Values::Int(v)) => {
            Int128Chunked::from_iter_options(name, v.iter().map(|x| x.map(i128::from)))
                .into_decimal(38, 2)
                .map_err(encode)?
                .into_series()
        }
        (ColType::Coord, Values::Int(v)) => Float64Chunked::from_iter_options(
            name,
            v.iter().map(|x| x.map(|micro| micro as f64 / 1e6)),
        )
        .into_series(),
        (_, Values::Int(v)) => {
            Int64Chunked::from_iter_options(name, v.iter().copied()).into_series()
        }
    };
    Ok(series.into_column())
}

impl ParquetSink<'_> {
    /// Writes one typed frame as a row group (its columns made contiguous first: a block read
    /// across two store chunks arrives in pieces).
    pub(super) fn frame(&mut self, mut frame: DataFrame) -> Result<(), ExportError> {
        frame.as_single_chunk_par();
        let schema = frame.schema().clone();
        let (writer, options) = self.writer(&schema)?;
        let types = writer.parquet_schema().fields().to_vec();
        let columns = frame.get_columns();
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(columns.len().max(1));
        let mut done: Vec<(usize, PolarsResult<Vec<Vec<CompressedPage>>>)> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                let (Some(column), Some(ty), Some(opts)) =
                                    (columns.get(i), types.get(i), options.get(i))
                                else {
                                    break;
                                };
                                mine.push((i, compressed(column, ty.clone(), opts)));
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            });
        if done.len() != columns.len() {
            return Err(ExportError::Encode(
                "a Parquet encoder thread failed".into(),
            ));
        }
        done.sort_by_key(|(i, _)| *i);
        let mut row_group = Vec::with_capacity(columns.len());
        for (_, pages) in done {
            row_group.extend(pages.map_err(encode)?);
        }
        writer.write_row_group(&row_group).map_err(encode)
    }

    /// Writes the footer.
    pub(super) fn finish(mut self) -> Result<(), ExportError> {
        let declared = self.declared.clone();
        self.writer(&declared)?.0.finish().map_err(encode)?;
        Ok(())
    }
}

/// Parquet.
pub(super) struct Parquet;

impl Writer for Parquet {
    fn name(&self) -> &'static str {
        "parquet"
    }

    fn content_type(&self) -> &'static str {
        "application/vnd.apache.parquet"
    }

    fn description(&self) -> &'static str {
        "Apache Parquet with typed columns (timestamps in UTC, Rupiah as decimal(18,2))"
    }

    /// A block is a row group: large enough for good compression and statistics.
    fn block_rows(&self) -> usize {
        131_072
    }

    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        // Parquet takes whole typed columns: a source with columnar data builds them directly.
        let mut sink = ParquetSink::new(rows.columns(), meta, out)?;
        let mut written = 0u64;
        rows.each_frame(self.block_rows(), &mut |frame| {
            let n = frame.height() as u64;
            sink.frame(frame)?;
            written += n;
            progress(written);
            Ok(())
        })?;
        sink.finish()?;
        Ok(written)
    }
}
