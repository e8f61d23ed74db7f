//! Chunks: runs of rows as immutable typed columns (each column's range of values worked out on
//! first use) plus copy-on-write current flags; how a batch becomes one, how chunks merge, and
//! how a stored integer is read back.

use std::sync::Arc;

use polars::prelude::*;

use super::{Prepared, Table, KEY_ID};
use crate::store::schema::Storage;

/// A run of rows: immutable columns plus copy-on-write current flags.
#[derive(Clone)]
pub(crate) struct Chunk {
    /// Its first row.
    pub(super) start: u32,
    /// Rows in it.
    pub(super) len: u32,
    /// The schema's columns, then the key id column.
    pub(super) columns: Arc<Columns>,
    /// A bit per row: the row is its key's current version.
    pub(super) current: Arc<Vec<u64>>,
}

/// A chunk's immutable columns and, worked out on first use, each column's range of values: a
/// reader skips a chunk whose times all fall outside a window without reading them.
pub(crate) struct Columns {
    series: Vec<Series>,
    ranges: Vec<std::sync::OnceLock<Option<(i64, i64)>>>,
}

impl Columns {
    pub(super) fn new(series: Vec<Series>) -> Columns {
        let ranges = series.iter().map(|_| std::sync::OnceLock::new()).collect();
        Columns { series, ranges }
    }

    /// The least and greatest value of column `col` as integers (`None`: no value, or not an
    /// integer column).
    fn range(&self, col: usize) -> Option<(i64, i64)> {
        let series = self.series.get(col)?;
        *self.ranges[col].get_or_init(|| {
            let min = series.min::<i64>().ok().flatten()?;
            let max = series.max::<i64>().ok().flatten()?;
            Some((min, max))
        })
    }
}

impl std::ops::Deref for Columns {
    type Target = [Series];

    fn deref(&self) -> &[Series] {
        &self.series
    }
}

/// One chunk of a view as a reader that scans columns itself sees it: a run of rows, their
/// columns and current-version flags.
#[derive(Clone, Copy)]
pub struct ChunkRef<'a> {
    pub(super) chunk: &'a Chunk,
}

impl<'a> ChunkRef<'a> {
    /// Number of the chunk's first row in the view (as in [`TableView::frame`]).
    pub fn start(&self) -> u32 {
        self.chunk.start
    }

    /// Rows in the chunk.
    pub fn len(&self) -> usize {
        self.chunk.len as usize
    }

    /// True when the chunk holds no row.
    pub fn is_empty(&self) -> bool {
        self.chunk.len == 0
    }

    /// Column `col` of the schema (the key id column after the last), one contiguous array.
    pub fn column(&self, col: usize) -> &'a Series {
        &self.chunk.columns[col]
    }

    /// Which rows are current versions: bit `i % 64` of word `i / 64` for row `start + i`.
    pub fn current(&self) -> &'a [u64] {
        &self.chunk.current
    }

    /// The least and greatest value of column `col` (as integers), worked out once per chunk.
    pub fn range(&self, col: usize) -> Option<(i64, i64)> {
        self.chunk.columns.range(col)
    }
}

impl Chunk {
    pub(super) fn is_current(&self, offset: u32) -> bool {
        self.current[offset as usize / 64] >> (offset % 64) & 1 == 1
    }

    pub(super) fn set_current(&mut self, offset: u32, on: bool) {
        let words = Arc::make_mut(&mut self.current);
        let (w, bit) = (offset as usize / 64, 1u64 << (offset % 64));
        if on {
            words[w] |= bit;
        } else {
            words[w] &= !bit;
        }
    }
}

impl Table {
    pub(super) fn build_chunk(
        &self,
        batch: &Prepared,
        rows: &[(u32, usize)],
        current: &[bool],
    ) -> Chunk {
        let mut columns: Vec<Series> = self
            .schema
            .fields
            .iter()
            .enumerate()
            .map(|(col, f)| {
                column(
                    f.name,
                    f.storage,
                    rows.iter().map(|r| batch.values(r.1)[col]),
                )
            })
            .collect();
        columns.push(Series::from_vec(
            KEY_ID.into(),
            rows.iter().map(|r| r.0).collect::<Vec<u32>>(),
        ));
        let mut words = vec![0u64; rows.len().div_ceil(64)];
        for (i, on) in current.iter().enumerate() {
            if *on {
                words[i / 64] |= 1 << (i % 64);
            }
        }
        Chunk {
            start: self.rows,
            len: rows.len() as u32,
            columns: Arc::new(Columns::new(columns)),
            current: Arc::new(words),
        }
    }
}

/// The stored value at `offset` of a column, as the integer it is underneath.
pub(super) fn cell(series: &Series, offset: usize) -> Option<i64> {
    match series.dtype() {
        DataType::UInt8 => series.u8().ok()?.get(offset).map(i64::from),
        DataType::UInt16 => series.u16().ok()?.get(offset).map(i64::from),
        DataType::UInt32 => series.u32().ok()?.get(offset).map(i64::from),
        DataType::Int32 => series.i32().ok()?.get(offset).map(i64::from),
        DataType::Int64 => series.i64().ok()?.get(offset),
        DataType::Boolean => series.bool().ok()?.get(offset).map(i64::from),
        _ => None,
    }
}

/// A typed column from integer values (validated against the column's range before this point).
pub(super) fn column(
    name: &str,
    storage: Storage,
    values: impl Iterator<Item = Option<i64>>,
) -> Series {
    let name = PlSmallStr::from(name);
    match storage.dtype() {
        DataType::UInt8 => {
            UInt8Chunked::from_iter_options(name, values.map(|v| v.map(|v| v as u8))).into_series()
        }
        DataType::UInt16 => {
            UInt16Chunked::from_iter_options(name, values.map(|v| v.map(|v| v as u16)))
                .into_series()
        }
        DataType::UInt32 => {
            UInt32Chunked::from_iter_options(name, values.map(|v| v.map(|v| v as u32)))
                .into_series()
        }
        DataType::Int32 => {
            Int32Chunked::from_iter_options(name, values.map(|v| v.map(|v| v as i32))).into_series()
        }
        DataType::Boolean => {
            BooleanChunked::from_iter_options(name, values.map(|v| v.map(|v| v != 0))).into_series()
        }
        _ => Int64Chunked::from_iter_options(name, values).into_series(),
    }
}

/// One chunk holding `parts` (consecutive) in order, contiguous.
pub(super) fn merge(parts: &[Chunk]) -> Chunk {
    let width = parts[0].columns.len();
    let columns = (0..width)
        .map(|col| {
            let mut s = parts[0].columns[col].clone();
            for part in &parts[1..] {
                // Same names and types by construction.
                s.append(&part.columns[col])
                    .expect("chunks of one table share a schema");
            }
            s.rechunk()
        })
        .collect();
    let len: u32 = parts.iter().map(|p| p.len).sum();
    let mut words = vec![0u64; len.div_ceil(64) as usize];
    let mut at = 0u32;
    for part in parts {
        for i in 0..part.len {
            if part.is_current(i) {
                words[(at / 64) as usize] |= 1 << (at % 64);
            }
            at += 1;
        }
    }
    Chunk {
        start: parts[0].start,
        len,
        columns: Arc::new(Columns::new(columns)),
        current: Arc::new(words),
    }
}
