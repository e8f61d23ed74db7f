//! Merging chunks in tiers, so a table holds a few large chunks rather than one per batch.

use super::chunk::merge;
use super::{Table, CHUNK_MAX, FANOUT};

impl Table {
    /// Merges the newest chunks in tiers: once `FANOUT` chunks of one size class (powers of 16
    /// rows) trail the table, they become one chunk of the next class, up to `CHUNK_MAX` rows. A
    /// row is copied about once per class (two or three times for 10k-row batches), and the chunk
    /// count stays under `FANOUT` per class.
    pub(super) fn compact(&mut self) {
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
}
