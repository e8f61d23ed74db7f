//! The rows a query reads, as plain slices: the chunks of a snapshot's table (or one frame read
//! from history files) as parts, and each column of a part as a typed slice with its validity.

use std::sync::OnceLock;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use super::QueryError;
use crate::domain::Dataset;
use crate::store::DatasetSchema;
use crate::store::{ChunkRef, TableView};

/// A column's stored integers (codes, seconds, micro-degrees, sen, small numbers).
#[derive(Clone, Copy)]
pub(super) enum Ints<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl Ints<'_> {
    /// The value at `i` (whatever the validity says).
    #[inline]
    pub(super) fn at(&self, i: usize) -> i64 {
        match self {
            Ints::U8(s) => i64::from(s[i]),
            Ints::U16(s) => i64::from(s[i]),
            Ints::U32(s) => i64::from(s[i]),
            Ints::I32(s) => i64::from(s[i]),
            Ints::I64(s) => s[i],
        }
    }
}

/// Calls `$body` with `$s` bound to the typed slice of `$ints`, monomorphised per type.
macro_rules! with_slice {
    ($ints:expr, $s:ident => $body:expr) => {
        match $ints {
            $crate::engine::query::columns::Ints::U8($s) => $body,
            $crate::engine::query::columns::Ints::U16($s) => $body,
            $crate::engine::query::columns::Ints::U32($s) => $body,
            $crate::engine::query::columns::Ints::I32($s) => $body,
            $crate::engine::query::columns::Ints::I64($s) => $body,
        }
    };
}
pub(super) use with_slice;

/// One column of a part: its values and which rows hold one.
pub(super) struct Col<'a> {
    values: Values<'a>,
    valid: Option<&'a Bitmap>,
    /// `valid` as words (bit `i % 64` of word `i / 64`), made when a word-wise pass needs them.
    valid_words: OnceLock<Vec<u64>>,
}

enum Values<'a> {
    Ints(Ints<'a>),
    Bools(&'a Bitmap),
}

fn single<A>(mut arrays: impl Iterator<Item = A>) -> Result<A, QueryError> {
    match (arrays.next(), arrays.next()) {
        (Some(a), None) => Ok(a),
        _ => Err(QueryError::Polars(polars_err!(
            ComputeError: "a part's column must be one contiguous array"
        ))),
    }
}

impl<'a> Col<'a> {
    fn of(series: &'a Series) -> Result<Col<'a>, QueryError> {
        macro_rules! prim {
            ($ca:expr, $variant:ident) => {{
                let arr = single($ca.downcast_iter())?;
                (Values::Ints(Ints::$variant(arr.values())), arr.validity())
            }};
        }
        let (values, valid) = match series.dtype() {
            DataType::UInt8 => prim!(series.u8()?, U8),
            DataType::UInt16 => prim!(series.u16()?, U16),
            DataType::UInt32 => prim!(series.u32()?, U32),
            DataType::Int32 => prim!(series.i32()?, I32),
            DataType::Int64 => prim!(series.i64()?, I64),
            DataType::Boolean => {
                let arr = single(series.bool()?.downcast_iter())?;
                (Values::Bools(arr.values()), arr.validity())
            }
            other => {
                return Err(QueryError::Polars(polars_err!(
                    ComputeError: "unexpected stored type {other}"
                )))
            }
        };
        Ok(Col {
            values,
            valid: valid.filter(|v| v.unset_bits() > 0),
            valid_words: OnceLock::new(),
        })
    }

    /// The stored integers (`None` for a boolean column).
    pub(super) fn ints(&self) -> Option<Ints<'a>> {
        match self.values {
            Values::Ints(ints) => Some(ints),
            Values::Bools(_) => None,
        }
    }

    /// Whether row `i` holds a value.
    #[inline]
    pub(super) fn is_valid(&self, i: usize) -> bool {
        self.valid.is_none_or(|v| v.get_bit(i))
    }

    /// Whether every row holds a value.
    pub(super) fn no_nulls(&self) -> bool {
        self.valid.is_none()
    }

    /// The value at `i` as an integer (booleans 0 and 1), `None` when missing.
    #[inline]
    pub(super) fn int(&self, i: usize) -> Option<i64> {
        if !self.is_valid(i) {
            return None;
        }
        Some(match self.values {
            Values::Ints(ints) => ints.at(i),
            Values::Bools(b) => i64::from(b.get_bit(i)),
        })
    }

    /// Validity as words (`None`: every row holds a value).
    pub(super) fn valid_words(&self) -> Option<&[u64]> {
        let valid = self.valid?;
        Some(self.valid_words.get_or_init(|| words(valid)))
    }

    /// A boolean column's values as words (`None` for other columns).
    pub(super) fn bool_words(&self) -> Option<Vec<u64>> {
        match self.values {
            Values::Bools(b) => Some(words(b)),
            Values::Ints(_) => None,
        }
    }
}

/// A bitmap as words, bit `i % 64` of word `i / 64` for bit `i`.
fn words(bits: &Bitmap) -> Vec<u64> {
    let chunks = bits.chunks::<u64>();
    let rest = chunks.remainder();
    let mut out: Vec<u64> = chunks.collect();
    out.push(rest);
    out.truncate(bits.len().div_ceil(64));
    out
}

/// A run of rows read together: one chunk of a view, or a whole frame read from history.
pub(super) struct Part<'a> {
    /// Rows in the part.
    pub len: usize,
    columns: Vec<&'a Series>,
    /// The versions that count before any filter, a bit per row (`None`: every row).
    base: Option<&'a [u64]>,
    chunk: Option<ChunkRef<'a>>,
}

impl<'a> Part<'a> {
    /// A chunk of a view, its rows counted where `base` says.
    pub(super) fn chunk(
        dataset: Dataset,
        chunk: ChunkRef<'a>,
        base: Option<&'a [u64]>,
    ) -> Part<'a> {
        let columns = (0..=dataset.schema().fields.len())
            .map(|c| chunk.column(c))
            .collect();
        Part {
            len: chunk.len(),
            columns,
            base,
            chunk: Some(chunk),
        }
    }

    /// Every row of `frame` (the schema's columns and the key id, each one array).
    pub(super) fn frame(dataset: Dataset, frame: &'a DataFrame) -> Result<Part<'a>, QueryError> {
        let schema = dataset.schema();
        let mut columns = Vec::with_capacity(schema.fields.len() + 1);
        for name in schema
            .fields
            .iter()
            .map(|f| f.name)
            .chain([crate::store::KEY_ID])
        {
            columns.push(frame.column(name)?.as_materialized_series());
        }
        Ok(Part {
            len: frame.height(),
            columns,
            base: None,
            chunk: None,
        })
    }

    /// Column `col` (the schema's, then the key id) as a typed slice.
    pub(super) fn col(&self, col: usize) -> Result<Col<'a>, QueryError> {
        Col::of(self.columns[col])
    }

    /// Whether every value of column `col` is known to lie below `n` (a chunk with no value in
    /// it qualifies; a history frame's values are not known).
    pub(super) fn values_below(&self, col: usize, n: i64) -> bool {
        self.len == 0
            || self
                .chunk
                .is_some_and(|c| c.range(col).is_none_or(|(_, max)| max < n))
    }

    /// The least and greatest value of column `col`, when known without reading it.
    pub(super) fn range(&self, col: usize) -> Option<(i64, i64)> {
        self.chunk.and_then(|c| c.range(col))
    }

    /// The selection before filters: the base versions, or every row; bits past `len` clear.
    pub(super) fn base_words(&self) -> Vec<u64> {
        let n = self.len.div_ceil(64);
        match self.base {
            Some(words) => words[..n].to_vec(),
            None => {
                let mut out = vec![u64::MAX; n];
                if let Some(last) = out.last_mut() {
                    let tail = self.len % 64;
                    if tail != 0 {
                        *last = (1u64 << tail) - 1;
                    }
                }
                out
            }
        }
    }
}

/// The versions of a dataset a query reads.
pub(super) enum Versions {
    /// The current version of every key.
    Current,
    /// The version of every key at a moment inside the hot window: per chunk, which rows.
    AsOf(std::sync::Arc<Vec<Vec<u64>>>),
    /// The version of every key at a moment before the hot window, read with the history files.
    History(std::sync::Arc<DataFrame>),
}

/// The parts of `view` holding `versions`.
pub(super) fn parts<'a>(
    view: &'a TableView,
    versions: &'a Versions,
) -> Result<Vec<Part<'a>>, QueryError> {
    let dataset = view.dataset();
    Ok(match versions {
        Versions::Current => view
            .chunks()
            .map(|c| Part::chunk(dataset, c, Some(c.current())))
            .collect(),
        Versions::AsOf(words) => view
            .chunks()
            .zip(words.iter())
            .map(|(c, w)| Part::chunk(dataset, c, Some(w)))
            .collect(),
        Versions::History(frame) => vec![Part::frame(dataset, frame)?],
    })
}

/// For each chunk of `view`, which rows are their key's version at `at` (seconds): the last row
/// of each key whose version time is at or before it. Inside the hot window only.
///
/// Versions of a key are stored in non-decreasing time, so its current row is its last. A key
/// with no version after `at` is at `at` what it is now: its current row, when that is at or
/// before `at`. Only the keys changed after `at` (found in the chunks whose times reach past it)
/// need their earlier rows looked at.
pub(super) fn as_of_words(view: &TableView, at: i64) -> Result<Vec<Vec<u64>>, QueryError> {
    let dataset = view.dataset();
    let time_col = dataset.schema().version_column;
    let key_col = dataset.schema().fields.len();
    let keys = view.keys_len() as usize;
    let mut changed = vec![0u64; keys.div_ceil(64)];
    let mut any_changed = false;
    let mut out = Vec::with_capacity(view.chunks().len());
    for chunk in view.chunks() {
        let part = Part::chunk(dataset, chunk, Some(chunk.current()));
        let mut words = part.base_words();
        match chunk.range(time_col) {
            Some((_, max)) if max <= at => {}
            Some((min, _)) if min > at => {
                words.iter_mut().for_each(|w| *w = 0);
                mark_keys(&part, key_col, 0..part.len, &mut changed)?;
                any_changed = true;
            }
            _ => {
                let times = part.col(time_col)?;
                let mut later = Vec::new();
                for i in 0..part.len {
                    if times.int(i).is_some_and(|t| t > at) {
                        words[i / 64] &= !(1u64 << (i % 64));
                        later.push(i);
                    }
                }
                if !later.is_empty() {
                    any_changed = true;
                    mark_keys(&part, key_col, later, &mut changed)?;
                }
            }
        }
        out.push(words);
    }
    if !any_changed {
        return Ok(out);
    }
    // Keys changed after `at`: their last earlier row (never current) is their version then.
    let mut latest: hashbrown::HashMap<u32, (usize, usize)> = hashbrown::HashMap::new();
    for (c, chunk) in view.chunks().enumerate() {
        if chunk.range(time_col).is_some_and(|(min, _)| min > at) {
            continue;
        }
        let part = Part::chunk(dataset, chunk, None);
        let mut superseded = part.base_words();
        for (w, current) in superseded.iter_mut().zip(chunk.current()) {
            *w &= !current;
        }
        if superseded.iter().all(|w| *w == 0) {
            continue;
        }
        let (times, key_ids) = (part.col(time_col)?, part.col(key_col)?);
        for i in ones(&superseded) {
            let Some(key) = key_ids.int(i).map(|k| k as usize) else {
                continue;
            };
            if changed
                .get(key / 64)
                .is_some_and(|w| w >> (key % 64) & 1 == 1)
                && times.int(i).is_some_and(|t| t <= at)
            {
                latest.insert(key as u32, (c, i));
            }
        }
    }
    for (c, i) in latest.into_values() {
        out[c][i / 64] |= 1u64 << (i % 64);
    }
    Ok(out)
}

/// Marks the keys of rows `rows` of `part` in `changed`.
fn mark_keys(
    part: &Part,
    key_col: usize,
    rows: impl IntoIterator<Item = usize>,
    changed: &mut [u64],
) -> Result<(), QueryError> {
    let key_ids = part.col(key_col)?;
    for i in rows {
        if let Some(key) = key_ids.int(i).map(|k| k as usize) {
            if let Some(w) = changed.get_mut(key / 64) {
                *w |= 1u64 << (key % 64);
            }
        }
    }
    Ok(())
}

/// How many bits of `words` are set.
pub(super) fn count(words: &[u64]) -> usize {
    words.iter().map(|w| w.count_ones() as usize).sum()
}

/// The positions of the set bits of `words`, in order.
pub(in crate::engine) fn ones(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut left = word;
        std::iter::from_fn(move || {
            (left != 0).then(|| {
                let bit = left.trailing_zeros() as usize;
                left &= left - 1;
                w * 64 + bit
            })
        })
    })
}
