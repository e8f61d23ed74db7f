//! The key index: a hash table holding the row of each key's current version (compared through
//! the row's key id), grown by rebuilding it from the current rows in order.

use hashbrown::HashTable;

use super::keys::Material;
use super::{Chunk, Table};

impl Table {
    pub(super) fn hash(&self, material: Material) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(material)
    }

    /// The row of the current version of the key with `material` (and `hash`), if it has one;
    /// `batch` are the key ids of the rows of the batch being applied, numbered from `base`.
    pub(super) fn current_row(
        &self,
        hash: u64,
        material: Material,
        batch: &[(u32, usize)],
    ) -> Option<u32> {
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
    pub(super) fn reserve_index(&mut self, more: usize) {
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
    pub(super) fn build_index(
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
    pub(super) fn replace_current_row(
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
    pub(super) fn insert_current_row(&mut self, key_id: u32, row: u32, batch: &[(u32, usize)]) {
        use std::hash::BuildHasher;
        let key_col = self.schema.fields.len();
        let (chunks, keys, base, hasher) = (&self.chunks, &self.keys, self.rows, &self.hasher);
        let hash = hasher.hash_one(keys.material(key_id));
        self.index.insert_unique(hash, row, |r| {
            key_id_at(chunks, key_col, batch, base, *r)
                .map_or(0, |id| hasher.hash_one(keys.material(id)))
        });
    }
}

/// The key id of `row`: one of the batch being applied (`batch`: key ids of the rows numbered
/// from `base`), else a stored row of `chunks` (column `key_col`).
pub(super) fn key_id_at(
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
