//! Parquet: one row group per block, typed columns — text as UTF-8 strings (a dataset's labels
//! dictionary-encoded from its own dictionary, read back as categorical/enum strings), timestamps
//! as UTC microseconds, Rupiah as decimal(38,2) (exact), coordinates as float degrees — with the
//! export's facts as file key-value metadata (`pantau`). Compressed with zstd.

use std::io::Write;

use polars::prelude::*;

use super::{Block, ColType, Column, ExportError, Meta, Values};

fn encode(e: PolarsError) -> ExportError {
    ExportError::Encode(e.to_string())
}

pub(super) struct ParquetSink<'w> {
    /// Made at the first frame, with that frame's schema (label columns may be enums).
    writer: Option<polars::io::parquet::write::BatchedWriter<Box<dyn Write + Send + 'w>>>,
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
    pub(super) fn new(
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

    fn writer(
        &mut self,
        schema: &Schema,
    ) -> Result<
        &mut polars::io::parquet::write::BatchedWriter<Box<dyn Write + Send + 'w>>,
        ExportError,
    > {
        if let Some((out, info)) = self.pending.take() {
            let writer = ParquetWriter::new(out)
                .with_compression(ParquetCompression::Zstd(None))
                .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                    "pantau".to_owned(),
                    info,
                )])))
                .batched(schema)
                .map_err(encode)?;
            self.writer = Some(writer);
        }
        self.writer
            .as_mut()
            .ok_or_else(|| ExportError::Encode("Parquet writer already finished".into()))
    }
}

/// A block as a frame of the export's types (what [`super::Rows::each_frame`] delivers).
pub(super) fn typed_frame(columns: &[Column], block: &Block<'_>) -> Result<DataFrame, ExportError> {
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
            StringChunked::from_iter_options(name, v.iter().copied()).into_series()
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
        self.writer(&schema)?.write_batch(&frame).map_err(encode)
    }

    /// Writes the footer.
    pub(super) fn finish(mut self) -> Result<(), ExportError> {
        let declared = self.declared.clone();
        self.writer(&declared)?.finish().map_err(encode)?;
        Ok(())
    }
}
