//! A dataset's rows for an export: the current or as-of versions, filtered, in ingest order, with
//! labels decoded, read from the store's shared columns one block at a time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;

use super::table::{Block, Geometry, Rows, Values};
use super::ExportError;
use crate::dashboards::model::{Filter, Query};
use crate::dashboards::FilterInput;
use crate::domain::table::{ColType, Column};
use crate::domain::Dataset;
use crate::engine::query::{selection, Frames, Moment, QueryError};
use crate::store::DatasetSchema;
use crate::store::{Storage, StoreSnapshot, KEY_ID};

/// How far ahead of the server's clock an `as_of` may be (clocks of clients drift).
const FUTURE_SLACK_SECS: i64 = 60;

/// What to export from a dataset.
#[derive(Debug, Clone)]
pub struct DatasetRequest {
    /// The dataset.
    pub dataset: Dataset,
    /// Conditions every row must meet (see [`check_filters`]).
    pub filters: Vec<Filter>,
    /// Columns to write, in this order; `None`: every column.
    pub columns: Option<Vec<String>>,
    /// The state at this moment instead of the current one.
    pub as_of: Option<DateTime<Utc>>,
    /// Write at most this many rows (the first in ingest order).
    pub limit: Option<u64>,
    /// Zone of relative windows in filters (`today`) and of times written as text.
    pub time_zone: Tz,
    /// Budget lines reduced to each line's latest figures (version and period), as panels sum
    /// them; off for a plain dataset export, which writes every current row.
    pub to_date: bool,
}

/// Filters given by a client, checked against `dataset`'s fields; every problem in one error.
pub fn check_filters(dataset: Dataset, inputs: &[FilterInput]) -> Result<Vec<Filter>, ExportError> {
    let mut problems = Vec::new();
    let filters = inputs
        .iter()
        .filter_map(|f| f.check(dataset).map_err(|e| problems.extend(e)).ok())
        .collect();
    if problems.is_empty() {
        Ok(filters)
    } else {
        Err(ExportError::BadQuery(problems.join("; ")))
    }
}

/// Where a column's values come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// A stored column, by position in the schema.
    Field(usize),
    /// The record's id within its source (from the key index).
    LocalId,
}

/// The columns of `dataset` as exported: the schema's, with the id within the source
/// (`source_id`, `event_id`) right after `source`.
pub(crate) fn columns_of(dataset: Dataset) -> Vec<(Column, Origin)> {
    let schema = dataset.schema();
    let mut out = Vec::new();
    for (i, f) in schema.fields.iter().enumerate() {
        let ty = match f.storage {
            Storage::Dict16 | Storage::Dict32 | Storage::Enum(_) => ColType::Text,
            Storage::Time => ColType::Time,
            Storage::Coord => ColType::Coord,
            Storage::Money => ColType::Money,
            Storage::Bool => ColType::Bool,
            Storage::U8 | Storage::U16 | Storage::U32 => ColType::Integer,
        };
        out.push((Column::new(f.name, ty), Origin::Field(i)));
        if f.name == "source" {
            for key in schema.key {
                if schema.position(key).is_none() {
                    out.push((Column::new(*key, ColType::Text), Origin::LocalId));
                }
            }
        }
    }
    out
}

/// The rows of one dataset export, ready to be written.
pub struct DatasetExport {
    snapshot: Arc<StoreSnapshot>,
    dataset: Dataset,
    /// The dataset's frame (shared with the store), narrowed to the columns written.
    frame: DataFrame,
    /// Which rows of `frame` are written.
    mask: BooleanChunked,
    total: u64,
    columns: Vec<Column>,
    origins: Vec<Origin>,
    /// For label columns, an enum type whose categories are the column's labels in code order:
    /// a block's codes become its values as they are (no text copied, and Parquet writes the
    /// labels once per row group as the dictionary instead of hashing every value).
    enums: Vec<Option<DataType>>,
}

impl DatasetExport {
    /// Checks `request` against the dataset and selects its rows in `snapshot` at `now`; refuses
    /// more than `max_rows` rows before anything is written.
    pub fn prepare(
        snapshot: Arc<StoreSnapshot>,
        request: &DatasetRequest,
        max_rows: u64,
        now: DateTime<Utc>,
    ) -> Result<DatasetExport, ExportError> {
        let dataset = request.dataset;
        let mut problems = Vec::new();
        let all = columns_of(dataset);
        let chosen: Vec<(Column, Origin)> = match &request.columns {
            None => all.clone(),
            Some(names) => {
                let mut chosen = Vec::with_capacity(names.len());
                let (mut unknown, mut twice) = (Vec::new(), Vec::new());
                for n in names {
                    match all.iter().find(|(c, _)| &c.name == n) {
                        Some(_) if chosen.iter().any(|(c, _): &(Column, Origin)| &c.name == n) => {
                            if !twice.contains(&n) {
                                twice.push(n);
                            }
                        }
                        Some(found) => chosen.push(found.clone()),
                        None => unknown.push(n),
                    }
                }
                // Each name once, clipped, and the dataset's columns listed once, however many
                // names a request sends.
                let listed = |names: &[&String]| {
                    let mut text: Vec<String> = names
                        .iter()
                        .take(10)
                        .map(|n| format!("`{}`", super::query::clip(n)))
                        .collect();
                    if names.len() > 10 {
                        text.push(format!("and {} more", names.len() - 10));
                    }
                    text.join(", ")
                };
                if !unknown.is_empty() {
                    problems.push(format!(
                        "unknown column{} {} of {}: one of {}",
                        if unknown.len() == 1 { "" } else { "s" },
                        listed(&unknown),
                        dataset.name(),
                        all.iter()
                            .map(|(c, _)| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !twice.is_empty() {
                    problems.push(format!(
                        "column{} {} named more than once",
                        if twice.len() == 1 { "" } else { "s" },
                        listed(&twice)
                    ));
                }
                chosen
            }
        };
        if chosen.is_empty() && problems.is_empty() {
            problems.push("`columns` names no column".to_owned());
        }
        if !problems.is_empty() {
            return Err(ExportError::BadQuery(problems.join("; ")));
        }
        let view = snapshot.table(dataset);
        if let Some(at) = request.as_of {
            let earliest = view.earliest().map_err(QueryError::from)?;
            check_as_of(dataset, at, now, earliest, request.time_zone)?;
        }
        let query = Query {
            dataset,
            filters: request.filters.clone(),
            group_by: Vec::new(),
            bucket: None,
            measures: Vec::new(),
        };
        let moment = Moment {
            now: request.as_of.unwrap_or(now),
            as_of: request.as_of.is_some(),
            tz: request.time_zone,
            fiscal_start: 1,
        };
        let (frame, mut mask) = {
            let frames = Frames::new(&snapshot);
            selection(&query, &frames, &moment, request.to_date)?
        };
        let mut total = mask.sum().unwrap_or(0) as u64;
        if let Some(limit) = request.limit.filter(|l| *l < total) {
            let mut left = limit;
            mask = mask
                .into_iter()
                .map(|keep| {
                    let keep = keep.unwrap_or(false) && left > 0;
                    left -= u64::from(keep);
                    keep
                })
                .collect();
            total = limit;
        }
        if total > max_rows {
            return Err(ExportError::TooManyRows {
                rows: total,
                limit: max_rows,
            });
        }
        let schema = dataset.schema();
        let mut names: Vec<PlSmallStr> = chosen
            .iter()
            .filter_map(|(_, o)| match o {
                Origin::Field(i) => Some(schema.fields[*i].name.into()),
                Origin::LocalId => None,
            })
            .collect();
        if chosen.iter().any(|(_, o)| matches!(o, Origin::LocalId)) {
            names.push(KEY_ID.into());
        }
        let frame = frame.select(names).map_err(QueryError::from)?;
        let (columns, origins): (Vec<Column>, Vec<Origin>) = chosen.into_iter().unzip();
        let view = snapshot.table(dataset);
        let enum_of = |labels: &mut dyn Iterator<Item = &str>| {
            FrozenCategories::new(labels)
                .map(DataType::from_frozen_categories)
                .map_err(QueryError::from)
        };
        let enums = origins
            .iter()
            .map(|o| match *o {
                Origin::Field(f) => match schema.fields[f].storage {
                    Storage::Dict16 | Storage::Dict32 => {
                        enum_of(&mut view.labels(f).iter().map(|l| &**l)).map(Some)
                    }
                    Storage::Enum(words) => enum_of(&mut words.iter().copied()).map(Some),
                    _ => Ok(None),
                },
                Origin::LocalId => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DatasetExport {
            snapshot,
            dataset,
            frame,
            mask,
            total,
            columns,
            origins,
            enums,
        })
    }

    /// The store commit the rows were read at.
    pub fn seq(&self) -> u64 {
        self.snapshot.seq
    }

    /// When that commit became durable.
    pub fn committed_at(&self) -> Option<DateTime<Utc>> {
        self.snapshot.committed_at
    }

    /// Calls `f` with the selected rows of each run of `block_rows` frame rows (zero-copy slices
    /// when every row of a run is selected).
    fn each_part(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(&DataFrame) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let polars = |e: PolarsError| ExportError::Query(e.into());
        let height = self.frame.height();
        let mut offset = 0usize;
        while offset < height {
            let len = block_rows.max(1).min(height - offset);
            let keep = self.mask.slice(offset as i64, len);
            let selected = keep.sum().unwrap_or(0) as usize;
            if selected > 0 {
                let part = self.frame.slice(offset as i64, len);
                let part = if selected == len {
                    part
                } else {
                    part.filter(&keep).map_err(polars)?
                };
                f(&part)?;
            }
            offset += len;
        }
        Ok(())
    }

    /// The selected rows `part` as a frame of the export's types, column by column: labels as
    /// enums over the column's dictionary (the stored codes, no text), times and amounts
    /// converted whole.
    fn typed(&self, part: &DataFrame) -> PolarsResult<DataFrame> {
        let view = self.snapshot.table(self.dataset);
        let schema = self.dataset.schema();
        let mut out = Vec::with_capacity(self.columns.len());
        for (i, origin) in self.origins.iter().enumerate() {
            let name: PlSmallStr = self.columns[i].name.as_str().into();
            let series = match *origin {
                Origin::LocalId => {
                    let keys = part.column(KEY_ID)?.u32()?;
                    StringChunked::from_iter_options(
                        name,
                        keys.into_iter().map(|k| k.and_then(|k| view.local_id(k))),
                    )
                    .into_series()
                }
                Origin::Field(f) => {
                    let field = &schema.fields[f];
                    let column = part.column(field.name)?.as_materialized_series();
                    match field.storage {
                        Storage::Dict16 | Storage::Dict32 | Storage::Enum(_) => {
                            let dtype = self.enums[i].clone().ok_or_else(
                                || polars_err!(ComputeError: "no categories for {}", field.name),
                            )?;
                            let cats = match dtype.cat_physical()? {
                                CategoricalPhysical::U8 => {
                                    Categorical8Chunked::from_cats_and_dtype(
                                        column.cast(&DataType::UInt8)?.u8()?.clone(),
                                        dtype,
                                    )
                                    .into_series()
                                }
                                CategoricalPhysical::U16 => {
                                    Categorical16Chunked::from_cats_and_dtype(
                                        column.cast(&DataType::UInt16)?.u16()?.clone(),
                                        dtype,
                                    )
                                    .into_series()
                                }
                                CategoricalPhysical::U32 => {
                                    Categorical32Chunked::from_cats_and_dtype(
                                        column.cast(&DataType::UInt32)?.u32()?.clone(),
                                        dtype,
                                    )
                                    .into_series()
                                }
                            };
                            cats.with_name(name)
                        }
                        Storage::Time => (column.cast(&DataType::Int64)?.i64()? * 1_000_000i64)
                            .with_name(name)
                            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                            .into_series(),
                        Storage::Coord => (column.cast(&DataType::Float64)?.f64()? / 1e6)
                            .with_name(name)
                            .into_series(),
                        Storage::Money => Int128Chunked::from_iter_options(
                            name,
                            column.i64()?.into_iter().map(|v| v.map(i128::from)),
                        )
                        .into_decimal(38, 2)?
                        .into_series(),
                        Storage::Bool => column.clone().with_name(name),
                        Storage::U8 | Storage::U16 | Storage::U32 => {
                            column.cast(&DataType::Int64)?.with_name(name)
                        }
                    }
                }
            };
            out.push(series.into_column());
        }
        DataFrame::new(out)
    }

    /// One block's values of column `i` from the selected rows `part`.
    fn values<'a>(&'a self, part: &DataFrame, i: usize) -> Result<Values<'a>, PolarsError> {
        let view = self.snapshot.table(self.dataset);
        let schema = self.dataset.schema();
        match self.origins[i] {
            Origin::LocalId => {
                let keys = part.column(KEY_ID)?.u32()?;
                Ok(Values::Text(
                    keys.into_iter()
                        .map(|k| k.and_then(|k| view.local_id(k)).map(Into::into))
                        .collect(),
                ))
            }
            Origin::Field(f) => {
                let field = &schema.fields[f];
                let column = part.column(field.name)?.as_materialized_series();
                match field.storage {
                    Storage::Dict16 | Storage::Dict32 => {
                        let labels = view.labels(f);
                        let codes = column.cast(&DataType::UInt32)?;
                        Ok(Values::Text(
                            codes
                                .u32()?
                                .into_iter()
                                .map(|c| {
                                    c.and_then(|c| labels.get(c as usize))
                                        .map(|l| (&**l).into())
                                })
                                .collect(),
                        ))
                    }
                    Storage::Enum(words) => Ok(Values::Text(
                        column
                            .u8()?
                            .into_iter()
                            .map(|c| c.and_then(|c| words.get(c as usize).map(|w| (*w).into())))
                            .collect(),
                    )),
                    Storage::Bool => Ok(Values::Int(
                        column
                            .bool()?
                            .into_iter()
                            .map(|b| b.map(i64::from))
                            .collect(),
                    )),
                    _ => Ok(Values::Int(
                        column.cast(&DataType::Int64)?.i64()?.into_iter().collect(),
                    )),
                }
            }
        }
    }
}

/// Refuses an `as_of` the store cannot answer: ahead of the clock, or before its oldest record.
fn check_as_of(
    dataset: Dataset,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    earliest: Option<DateTime<Utc>>,
    tz: Tz,
) -> Result<(), ExportError> {
    let show = |t: DateTime<Utc>| crate::domain::format_local(t, tz);
    if at.timestamp() > now.timestamp() + FUTURE_SLACK_SECS {
        return Err(ExportError::AsOf(format!(
            "as_of {} is in the future (now is {})",
            show(at),
            show(now)
        )));
    }
    if let Some(earliest) = earliest.filter(|e| at < *e) {
        return Err(ExportError::AsOf(format!(
            "as_of {} is before the oldest {} record this server holds ({}): nothing to show then",
            show(at),
            dataset.name(),
            show(earliest)
        )));
    }
    Ok(())
}

impl Rows for DatasetExport {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn total(&self) -> u64 {
        self.total
    }

    fn geometry(&self) -> Geometry {
        Geometry::points_in(&self.columns)
    }

    fn each(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(&Block<'_>) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        self.each_part(block_rows, &mut |part| {
            let columns = (0..self.columns.len())
                .map(|i| self.values(part, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ExportError::Query(e.into()))?;
            f(&Block {
                rows: part.height(),
                columns,
            })
        })
    }

    fn each_frame(
        &self,
        block_rows: usize,
        f: &mut dyn FnMut(DataFrame) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        self.each_part(block_rows, &mut |part| {
            f(self.typed(part).map_err(|e| ExportError::Query(e.into()))?)
        })
    }
}
