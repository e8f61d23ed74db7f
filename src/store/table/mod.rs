//! One dataset's hot table: versions as columnar chunks, a key index, and the current flags.
//!
//! Rows are versions, appended in ingest order and never changed: a row's number is its ingest
//! order, which breaks ties between versions with the same source time. The only thing that
//! changes is which version of a key is *current*; those flags live in copy-on-write bitsets per
//! chunk, so a reader's snapshot keeps the flags it saw while the writer moves on.
//!
//! Memory per row: the schema's columns (about 45 bytes for a complaint), 4 bytes of key id and a
//! bit; per key: 6 bytes of packed key (see `keys`) and a slot of the hash index, which holds the
//! row of the key's current version.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hashbrown::{DefaultHashBuilder, HashTable};
use polars::prelude::*;

use super::records::key_parts;
use super::schema::{Schema, Storage};
use crate::domain::Dataset;
use crate::store::DatasetSchema;

mod arena;
mod dicts;
mod keys;
mod view;

pub(crate) use arena::KeyArena;
pub(crate) use dicts::{Dicts, SharedLabels};
pub(crate) use keys::KeyStore;
use keys::{Material, Shapes};
pub use view::{ReadError, TableView};

/// No row: a key whose current version moved to history, or a row superseded.
pub(crate) const NONE: u32 = u32::MAX;
/// Name of the key id column in frames.
pub const KEY_ID: &str = "key_id";
/// Name of the current-version flag column in frames.
pub const CURRENT: &str = "current";
/// Chunks merge until they reach this many rows.
const CHUNK_MAX: u32 = 1 << 20;
/// Chunks of one size class that are merged together.
const FANOUT: usize = 16;
/// Keys per block of the key arena and of the packed keys.
const KEY_BLOCK: usize = 1 << 12;

/// A run of rows: immutable columns plus copy-on-write current flags.
#[derive(Clone)]
pub(crate) struct Chunk {
    start: u32,
    len: u32,
    /// The schema's columns, then the key id column.
    columns: Arc<Columns>,
    current: Arc<Vec<u64>>,
}

/// A chunk's immutable columns and, worked out on first use, each column's range of values: a
/// reader skips a chunk whose times all fall outside a window without reading them.
pub(crate) struct Columns {
    series: Vec<Series>,
    ranges: Vec<std::sync::OnceLock<Option<(i64, i64)>>>,
}

impl Columns {
    fn new(series: Vec<Series>) -> Columns {
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
    chunk: &'a Chunk,
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
    fn is_current(&self, offset: u32) -> bool {
        self.current[offset as usize / 64] >> (offset % 64) & 1 == 1
    }

    fn set_current(&mut self, offset: u32, on: bool) {
        let words = Arc::make_mut(&mut self.current);
        let (w, bit) = (offset as usize / 64, 1u64 << (offset % 64));
        if on {
            words[w] |= bit;
        } else {
            words[w] &= !bit;
        }
    }
}

/// Rows ready to be applied, flat: each row's key bytes and its column values.
pub(crate) struct Prepared {
    width: usize,
    values: Vec<Option<i64>>,
    keys: Vec<u8>,
    ends: Vec<u32>,
}

impl Prepared {
    pub(crate) fn with_capacity(width: usize, rows: usize) -> Prepared {
        Prepared {
            width,
            values: Vec::with_capacity(width * rows),
            keys: Vec::with_capacity(rows * 24),
            ends: Vec::with_capacity(rows),
        }
    }

    /// Adds a row: `key` writes its key bytes, `values` fills its columns (all `None` at first).
    pub(crate) fn push<E>(
        &mut self,
        key: impl FnOnce(&mut Vec<u8>),
        values: impl FnOnce(&mut [Option<i64>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.values.len();
        self.values.resize(start + self.width, None);
        if let Err(e) = values(&mut self.values[start..]) {
            self.values.truncate(start);
            return Err(e);
        }
        key(&mut self.keys);
        self.ends.push(self.keys.len() as u32);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.keys[start..self.ends[i] as usize]
    }

    fn values(&self, i: usize) -> &[Option<i64>] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// Rows split off a table by retention, not yet dropped from it.
pub(crate) struct Eviction {
    /// The rows leaving, for their history file.
    pub(crate) history: DataFrame,
    kept: DataFrame,
    cutoff: i64,
}

/// Heap bytes of one hot table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HeapUse {
    /// Column chunks (schema columns and key ids) and current flags.
    pub rows: usize,
    /// The packed keys and the hash index of their current rows.
    pub keys: usize,
}

/// The writer's side of one dataset.
/// What one commit changed in a table: the rows that became current versions and the rows that
/// stopped being current (superseded by a newer version). Rows are numbered as in
/// [`TableView::frame`], within one lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The commit.
    pub seq: u64,
    /// Rows that are current versions after the commit and were not before.
    pub added: Vec<u32>,
    /// Rows that were current versions before the commit and are not after.
    pub removed: Vec<u32>,
}

/// Deltas kept per table for readers that follow commits (the engine).
const DELTAS_KEPT: usize = 1_024;

/// A new lineage: row numbers of one lineage are never reused for other rows.
fn new_lineage() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) struct Table {
    pub(crate) dataset: Dataset,
    pub(crate) schema: &'static Schema,
    pub(crate) dicts: Dicts,
    keys: KeyStore,
    /// The writer's index of the keys' shapes.
    shapes: Shapes,
    /// The row of each key's current version, found by the key's hash; a row is compared
    /// through its key id. A key whose rows all moved to history is not in it.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Superseded rows whose time equals their key's current version (same-time versions), so
    /// a repeat of any of them is recognised as a repeat. Empty for nearly every key.
    ties: hashbrown::HashMap<u32, Vec<u32>>,
    chunks: Vec<Chunk>,
    rows: u32,
    current_rows: u64,
    /// When the last batch that changed this table was committed.
    pub(crate) updated_at: Option<DateTime<Utc>>,
    /// Rows whose time is before this (seconds) were moved to history files.
    pub(crate) hot_since: Option<i64>,
    /// History Parquet files, oldest first.
    pub(crate) history: Arc<Vec<std::path::PathBuf>>,
    /// Identifies the row numbering: a new one whenever rows are renumbered (a checkpoint load,
    /// an eviction to history).
    lineage: u64,
    /// The latest commits' deltas, oldest first.
    deltas: std::collections::VecDeque<Arc<Delta>>,
    /// The newest commit whose delta is no longer kept (0: none dropped).
    dropped_through: u64,
}

impl Table {
    pub(crate) fn new(dataset: Dataset) -> Table {
        let schema = dataset.schema();
        Table {
            dataset,
            schema,
            dicts: Dicts::new(schema),
            keys: KeyStore::default(),
            shapes: Shapes::default(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            ties: hashbrown::HashMap::new(),
            chunks: Vec::new(),
            rows: 0,
            current_rows: 0,
            updated_at: None,
            hot_since: None,
            history: Arc::new(Vec::new()),
            lineage: new_lineage(),
            deltas: std::collections::VecDeque::new(),
            dropped_through: 0,
        }
    }

    /// Keeps `delta` for readers, dropping the oldest past the limit.
    fn remember(&mut self, delta: Delta) {
        if self.deltas.len() == DELTAS_KEPT {
            if let Some(old) = self.deltas.pop_front() {
                self.dropped_through = old.seq;
            }
        }
        self.deltas.push_back(Arc::new(delta));
    }

    fn hash(&self, material: Material) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(material)
    }

    /// The row of the current version of the key with `material` (and `hash`), if it has one;
    /// `batch` are the key ids of the rows of the batch being applied, numbered from `base`.
    fn current_row(&self, hash: u64, material: Material, batch: &[(u32, usize)]) -> Option<u32> {
        let key_col = self.schema.fields.len();
        let (chunks, keys, base) = (&self.chunks, &self.keys, self.rows);
        self.index
            .find(hash, |row| {
                key_id_at(chunks, key_col, batch, base, *row)
                    .is_some_and(|id| keys.material(id) == material)
            })
            .copied()
    }

    /// Makes room in the index for `more` keys. The index is grown here, built anew from the
    /// current rows read in order, rather than by the hash table's own rehash, which would find
    /// each entry's key through its row at random.
    fn reserve_index(&mut self, more: usize) {
        let needed = self.index.len() + more;
        if needed <= self.index.capacity() {
            return;
        }
        let key_col = self.schema.fields.len();
        let current = self.chunks.iter().flat_map(|chunk| {
            let ids = chunk.columns[key_col].u32().ok();
            let ids = ids.and_then(|ids| ids.downcast_iter().next().map(|a| a.values().as_slice()));
            chunk
                .current
                .iter()
                .enumerate()
                .flat_map(move |(w, &word)| {
                    let mut left = word;
                    std::iter::from_fn(move || {
                        (left != 0).then(|| {
                            let offset = w * 64 + left.trailing_zeros() as usize;
                            left &= left - 1;
                            offset
                        })
                    })
                    .filter_map(move |offset| {
                        Some((*ids?.get(offset)?, chunk.start + offset as u32))
                    })
                })
        });
        let capacity = needed.max(self.index.capacity() * 2);
        self.index = self.build_index(capacity, current);
    }

    /// A hash index of the current rows `current` (key id, row), with room for `capacity`.
    fn build_index(
        &self,
        capacity: usize,
        current: impl Iterator<Item = (u32, u32)>,
    ) -> HashTable<u32> {
        use std::hash::BuildHasher;
        let key_col = self.schema.fields.len();
        let (chunks, keys, hasher) = (&self.chunks, &self.keys, &self.hasher);
        let rehash = |r: &u32| {
            key_id_at(chunks, key_col, &[], u32::MAX, *r)
                .map_or(0, |id| hasher.hash_one(keys.material(id)))
        };
        let mut index = HashTable::with_capacity(capacity);
        for (key_id, row) in current {
            let hash = hasher.hash_one(keys.material(key_id));
            index.insert_unique(hash, row, rehash);
        }
        index
    }

    /// Points the index at `row` as the current version of the key with `material` (and `hash`),
    /// which has a current row.
    fn replace_current_row(
        &mut self,
        hash: u64,
        material: Material,
        row: u32,
        batch: &[(u32, usize)],
    ) {
        let key_col = self.schema.fields.len();
        let (chunks, keys, base) = (&self.chunks, &self.keys, self.rows);
        let same = |r: &u32| {
            key_id_at(chunks, key_col, batch, base, *r)
                .is_some_and(|id| keys.material(id) == material)
        };
        if let Some(slot) = self.index.find_mut(hash, same) {
            *slot = row;
        }
    }

    /// Adds key `key_id` (just stored, with no current row) to the index with its row `row`.
    /// It is hashed as stored: the first key of a new shape was probed as bytes, and is packed.
    fn insert_current_row(&mut self, key_id: u32, row: u32, batch: &[(u32, usize)]) {
        use std::hash::BuildHasher;
        let key_col = self.schema.fields.len();
        let (chunks, keys, base, hasher) = (&self.chunks, &self.keys, self.rows, &self.hasher);
        let hash = hasher.hash_one(keys.material(key_id));
        self.index.insert_unique(hash, row, |r| {
            key_id_at(chunks, key_col, batch, base, *r)
                .map_or(0, |id| hasher.hash_one(keys.material(id)))
        });
    }

    fn chunk_of(&self, row: u32) -> usize {
        self.chunks.partition_point(|c| c.start + c.len <= row)
    }

    /// The stored value of one column of `row`.
    fn cell_at(&self, row: u32, col: usize) -> Option<i64> {
        let chunk = &self.chunks[self.chunk_of(row)];
        cell(&chunk.columns[col], (row - chunk.start) as usize)
    }

    /// The stored values of `row`, all columns.
    pub(crate) fn row_values(&self, row: u32) -> Vec<Option<i64>> {
        let chunk = &self.chunks[self.chunk_of(row)];
        let offset = (row - chunk.start) as usize;
        (0..self.schema.fields.len())
            .map(|col| cell(&chunk.columns[col], offset))
            .collect()
    }

    /// Applies prepared rows of commit `seq`: newest version time wins, ties go to the later row,
    /// a row identical to the current version changes nothing. Deterministic, so a log replay
    /// rebuilds the same table. Returns how many rows became the current version of their key.
    pub(crate) fn apply(&mut self, batch: &Prepared, seq: u64, at: DateTime<Utc>) -> usize {
        let vcol = self.schema.version_column;
        // (key id, position in `batch`) of each row that becomes a version.
        let mut kept: Vec<(u32, usize)> = Vec::with_capacity(batch.len());
        // Whether each kept row was superseded by a later row of this batch.
        let mut replaced: Vec<bool> = Vec::with_capacity(batch.len());
        let mut superseded: Vec<u32> = Vec::new();
        let base = self.rows;
        self.reserve_index(batch.len());
        for i in 0..batch.len() {
            let (key, values) = (batch.key(i), batch.values(i));
            let probe = self.keys.probe(&self.shapes, key);
            let material = probe.material();
            let hash = self.hash(material);
            // A current row at or past `base` is an earlier row of this batch.
            let previous = self.current_row(hash, material, &kept);
            let key_id = match previous {
                Some(row) => key_id_at(&self.chunks, self.schema.fields.len(), &kept, base, row)
                    .unwrap_or(NONE),
                None => self.keys.push(&mut self.shapes, &probe),
            };
            if let Some(prev_row) = previous {
                let same = |row: u32| match row.checked_sub(base) {
                    Some(k) => batch.values(kept[k as usize].1) == values,
                    None => self.row_values(row) == values,
                };
                let old_t = match prev_row.checked_sub(base) {
                    Some(k) => batch.values(kept[k as usize].1)[vcol],
                    None => self.cell_at(prev_row, vcol),
                };
                let new_t = values[vcol];
                let repeat = new_t == old_t
                    && (same(prev_row)
                        || self
                            .ties
                            .get(&key_id)
                            .is_some_and(|rows| rows.iter().any(|r| same(*r))));
                if new_t < old_t || repeat {
                    continue;
                }
                if new_t == old_t {
                    self.ties.entry(key_id).or_default().push(prev_row);
                } else if !self.ties.is_empty() {
                    self.ties.remove(&key_id);
                }
                match prev_row.checked_sub(base) {
                    Some(k) => replaced[k as usize] = true,
                    None => superseded.push(prev_row),
                }
            }
            let row = base + kept.len() as u32;
            match previous {
                // The material borrows the probe's bytes, not the table: the index may change.
                Some(_) => self.replace_current_row(hash, probe.material(), row, &kept),
                None => self.insert_current_row(key_id, row, &kept),
            }
            kept.push((key_id, i));
            replaced.push(false);
        }
        if kept.is_empty() {
            return 0;
        }
        for row in superseded.iter().copied() {
            let c = self.chunk_of(row);
            let chunk = &mut self.chunks[c];
            let offset = row - chunk.start;
            chunk.set_current(offset, false);
            self.current_rows -= 1;
        }
        let current_in_batch: Vec<bool> = replaced.iter().map(|r| !r).collect();
        self.current_rows += current_in_batch.iter().filter(|c| **c).count() as u64;
        let added = current_in_batch
            .iter()
            .enumerate()
            .filter(|(_, c)| **c)
            .map(|(p, _)| base + p as u32)
            .collect();
        self.remember(Delta {
            seq,
            added,
            removed: superseded,
        });
        let chunk = self.build_chunk(batch, &kept, &current_in_batch);
        self.rows += chunk.len;
        self.chunks.push(chunk);
        self.compact();
        self.updated_at = Some(at);
        kept.len()
    }

    fn build_chunk(&self, batch: &Prepared, rows: &[(u32, usize)], current: &[bool]) -> Chunk {
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

    /// Merges the newest chunks in tiers: once `FANOUT` chunks of one size class (powers of 16
    /// rows) trail the table, they become one chunk of the next class, up to `CHUNK_MAX` rows. A
    /// row is copied about once per class (two or three times for 10k-row batches), and the chunk
    /// count stays under `FANOUT` per class.
    fn compact(&mut self) {
        fn class(len: u32) -> u32 {
            (32 - len.max(1).leading_zeros()) / 4
        }
        loop {
            let n = self.chunks.len();
            let Some(last) = self.chunks.last() else {
                return;
            };
            let c = class(last.len);
            let run = self
                .chunks
                .iter()
                .rev()
                .take_while(|chunk| class(chunk.len) == c)
                .count();
            let from = n - run;
            let total: u32 = self.chunks[from..].iter().map(|chunk| chunk.len).sum();
            if run < FANOUT || total > CHUNK_MAX {
                return;
            }
            let merged = merge(&self.chunks[from..]);
            self.chunks.truncate(from);
            self.chunks.push(merged);
        }
    }

    /// An immutable view for readers.
    pub(crate) fn view(&mut self) -> TableView {
        TableView {
            dataset: self.dataset,
            chunks: self.chunks.clone(),
            rows: self.rows,
            current_rows: self.current_rows,
            keys: self.keys.clone(),
            labels: self.dicts.view(),
            updated_at: self.updated_at,
            hot_since: self.hot_since,
            history: self.history.clone(),
            lineage: self.lineage,
            deltas: Arc::new(self.deltas.iter().cloned().collect()),
            dropped_through: self.dropped_through,
        }
    }

    /// Heap bytes held by the hot data, split into rows and keys.
    pub(crate) fn heap_use(&self) -> HeapUse {
        let columns: usize = self
            .chunks
            .iter()
            .map(|c| {
                c.columns.iter().map(|s| s.estimated_size()).sum::<usize>() + c.current.len() * 8
            })
            .sum();
        HeapUse {
            rows: columns,
            keys: self.keys.heap_bytes() + self.index.allocation_size(),
        }
    }

    /// Rebuilds the table from a frame of rows with the keys and dictionaries it refers to
    /// (checkpoint load).
    pub(crate) fn restore(
        &mut self,
        frame: &DataFrame,
        keys: KeyStore,
        dicts: Dicts,
    ) -> PolarsResult<()> {
        self.dicts = dicts;
        self.shapes = keys.shapes_index();
        self.keys = keys;
        self.load_rows(frame)
    }

    /// Replaces the rows with `frame` (all columns, key ids and current flags), keeping the keys.
    /// Rows are renumbered: a new lineage begins and earlier deltas no longer apply.
    fn load_rows(&mut self, frame: &DataFrame) -> PolarsResult<()> {
        let n = frame.height();
        self.lineage = new_lineage();
        if let Some(last) = self.deltas.back() {
            self.dropped_through = last.seq;
        }
        self.deltas.clear();
        self.chunks.clear();
        self.current_rows = 0;
        let key_ids = frame.column(KEY_ID)?.u32()?;
        let flags = frame.column(CURRENT)?.bool()?;
        // Each key's current row while loading (dropped after: the index holds them).
        let mut current = vec![NONE; self.keys.len() as usize];
        for (row, (key, flag)) in key_ids.into_iter().zip(flags).enumerate() {
            if let (Some(key), Some(true)) = (key, flag) {
                if let Some(slot) = current.get_mut(key as usize) {
                    *slot = row as u32;
                    self.current_rows += 1;
                }
            }
        }
        // Same-time versions: superseded rows with their key's current time.
        self.ties.clear();
        let times = frame
            .column(self.schema.fields[self.schema.version_column].name)?
            .u32()?;
        for (row, ((key, flag), t)) in key_ids.into_iter().zip(flags).zip(times).enumerate() {
            let Some(key) = key.filter(|_| flag == Some(false)) else {
                continue;
            };
            let current = current.get(key as usize).copied().unwrap_or(NONE);
            if current != NONE && times.get(current as usize) == t {
                self.ties.entry(key).or_default().push(row as u32);
            }
        }
        let mut offset = 0usize;
        while offset < n {
            let len = (n - offset).min(CHUNK_MAX as usize);
            let part = frame.slice(offset as i64, len);
            let mut columns = Vec::with_capacity(self.schema.fields.len() + 1);
            for f in self.schema.fields {
                let column = part.column(f.name)?.as_materialized_series();
                columns.push(column.cast(&f.storage.dtype())?.rechunk());
            }
            columns.push(part.column(KEY_ID)?.as_materialized_series().rechunk());
            let mut words = vec![0u64; len.div_ceil(64)];
            for (i, flag) in part.column(CURRENT)?.bool()?.into_iter().enumerate() {
                if flag == Some(true) {
                    words[i / 64] |= 1 << (i % 64);
                }
            }
            self.chunks.push(Chunk {
                start: offset as u32,
                len: len as u32,
                columns: Arc::new(Columns::new(columns)),
                current: Arc::new(words),
            });
            offset += len;
        }
        self.rows = n as u32;
        // The index, sized for every key with a current row.
        let current = (0u32..).zip(current).filter(|(_, row)| *row != NONE);
        self.index = self.build_index(self.current_rows as usize, current);
        Ok(())
    }

    /// Splits off the rows past the hot window (`cutoff`, seconds): for append-only datasets every
    /// row whose time is before it; otherwise superseded versions of keys whose current version is
    /// itself before it (so the state at any time inside the window stays answerable from hot rows).
    /// Nothing changes until [`Table::finish_eviction`].
    pub(crate) fn evict(&mut self, cutoff: i64) -> PolarsResult<Option<Eviction>> {
        let frame = self.view().frame().map_err(|e| match e {
            ReadError::Frame { source, .. } => source,
        })?;
        let schema = self.schema;
        let key_ids = frame.column(KEY_ID)?.u32()?;
        let flags = frame.column(CURRENT)?.bool()?;
        let mut out = Vec::with_capacity(frame.height());
        if schema.append_only {
            let times = frame
                .column(schema.fields[schema.time_column].name)?
                .u32()?;
            out.extend(
                times
                    .into_iter()
                    .map(|t| t.is_some_and(|t| i64::from(t) < cutoff)),
            );
        } else {
            let times = frame
                .column(schema.fields[schema.version_column].name)?
                .u32()?;
            for (key, flag) in key_ids.into_iter().zip(flags) {
                // Only superseded rows leave; a key's current row is found through the index.
                let old_key = flag == Some(false)
                    && key
                        .and_then(|k| {
                            let material = self.keys.material(k);
                            self.current_row(self.hash(material), material, &[])
                        })
                        .and_then(|row| times.get(row as usize))
                        .is_some_and(|t| i64::from(t) < cutoff);
                out.push(old_key);
            }
        }
        if !out.contains(&true) {
            return Ok(None);
        }
        let mask = BooleanChunked::from_iter_values("evict".into(), out.into_iter());
        let history = frame.filter(&mask)?.drop(CURRENT)?;
        let kept = frame.filter(&!&mask)?;
        Ok(Some(Eviction {
            history,
            kept,
            cutoff,
        }))
    }

    /// Drops the evicted rows once their history file at `path` is durable.
    pub(crate) fn finish_eviction(
        &mut self,
        eviction: Eviction,
        path: std::path::PathBuf,
    ) -> PolarsResult<()> {
        self.load_rows(&eviction.kept)?;
        self.hot_since = Some(
            self.hot_since
                .map_or(eviction.cutoff, |s| s.max(eviction.cutoff)),
        );
        Arc::make_mut(&mut self.history).push(path);
        Ok(())
    }
}

/// The key id of `row`: one of the batch being applied (`batch`: key ids of the rows numbered
/// from `base`), else a stored row of `chunks` (column `key_col`).
fn key_id_at(
    chunks: &[Chunk],
    key_col: usize,
    batch: &[(u32, usize)],
    base: u32,
    row: u32,
) -> Option<u32> {
    if let Some(k) = row.checked_sub(base) {
        return batch.get(k as usize).map(|(id, _)| *id);
    }
    let at = chunks.partition_point(|c| c.start + c.len <= row);
    let chunk = chunks.get(at).filter(|c| c.start <= row)?;
    let keys = chunk.columns[key_col].u32().ok()?;
    let offset = (row - chunk.start) as usize;
    keys.downcast_iter()
        .next()
        .filter(|_| keys.chunks().len() == 1)
        .and_then(|a| a.values().get(offset).copied())
        .or_else(|| keys.get(offset))
}

/// The stored value at `offset` of a column, as the integer it is underneath.
fn cell(series: &Series, offset: usize) -> Option<i64> {
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
fn column(name: &str, storage: Storage, values: impl Iterator<Item = Option<i64>>) -> Series {
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
fn merge(parts: &[Chunk]) -> Chunk {
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
