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
//!
//! Here the table and a batch's application; the chunks in [`chunk`], the key index in
//! [`index`], merging chunks in [`compact`], moving old versions to history in [`evict`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hashbrown::{DefaultHashBuilder, HashTable};
use polars::prelude::*;

use super::records::key_parts;
use super::schema::Schema;
use crate::domain::Dataset;
use crate::store::DatasetSchema;

mod arena;
mod chunk;
mod compact;
mod dicts;
mod evict;
mod index;
mod keys;
mod view;

pub(crate) use arena::KeyArena;
pub use chunk::ChunkRef;
use chunk::{cell, Chunk, Columns};
pub(crate) use dicts::{Dicts, SharedLabels};
use index::key_id_at;
pub(crate) use keys::KeyStore;
use keys::Shapes;
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
    pub(crate) history: Arc<Vec<crate::store::checkpoint::HistoryFile>>,
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
    /// rebuilds the same table. Returns how many rows became the current version of their key,
    /// and how many of those keys were new.
    pub(crate) fn apply(
        &mut self,
        batch: &Prepared,
        seq: u64,
        at: DateTime<Utc>,
    ) -> (usize, usize) {
        let vcol = self.schema.version_column;
        // (key id, position in `batch`) of each row that becomes a version.
        let mut kept: Vec<(u32, usize)> = Vec::with_capacity(batch.len());
        // Whether each kept row was superseded by a later row of this batch.
        let mut replaced: Vec<bool> = Vec::with_capacity(batch.len());
        let mut superseded: Vec<u32> = Vec::new();
        let base = self.rows;
        let mut new_keys = 0;
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
                None => {
                    new_keys += 1;
                    self.keys.push(&mut self.shapes, &probe)
                }
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
            return (0, 0);
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
        (kept.len(), new_keys)
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
}
