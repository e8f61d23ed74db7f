//! Key bytes in blocks shared with snapshots: the keys that fit no packed shape (see `keys`),
//! and every key of a checkpoint of the first format.

use std::sync::Arc;

use super::KEY_BLOCK;

/// Key bytes by key id, in blocks so a snapshot shares all but the last block.
#[derive(Clone, Default)]
pub(crate) struct KeyArena {
    blocks: Vec<Arc<KeyBlock>>,
    len: u32,
}

#[derive(Clone, Default)]
struct KeyBlock {
    ends: Vec<u32>,
    bytes: Vec<u8>,
}

impl KeyArena {
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        let (block, i) = (id as usize / KEY_BLOCK, id as usize % KEY_BLOCK);
        let Some(block) = self.blocks.get(block) else {
            return &[];
        };
        let start = if i == 0 {
            0
        } else {
            block.ends[i - 1] as usize
        };
        let end = block.ends.get(i).map_or(start, |e| *e as usize);
        &block.bytes[start..end]
    }

    pub(crate) fn push_key(&mut self, key: &[u8]) -> u32 {
        if (self.len as usize).is_multiple_of(KEY_BLOCK) {
            // Seal the full block at its exact size; the new one never reallocates its ends.
            if let Some(full) = self.blocks.last_mut() {
                let full = Arc::make_mut(full);
                full.bytes.shrink_to_fit();
            }
            self.blocks.push(Arc::new(KeyBlock {
                ends: Vec::with_capacity(KEY_BLOCK),
                bytes: Vec::new(),
            }));
        }
        let block = Arc::make_mut(self.blocks.last_mut().expect("a block was just ensured"));
        block.bytes.extend_from_slice(key);
        block.ends.push(block.bytes.len() as u32);
        self.len += 1;
        self.len - 1
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.ends.capacity() * 4 + b.bytes.capacity())
            .sum()
    }

    /// The arena as bytes (count, ends, bytes), for checkpoints.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.len.to_le_bytes());
        let mut end = 0u64;
        let mut bytes = Vec::new();
        for id in 0..self.len {
            let key = self.get(id);
            end += key.len() as u64;
            out.extend_from_slice(&end.to_le_bytes());
            bytes.extend_from_slice(key);
        }
        out.extend_from_slice(&bytes);
        out
    }

    /// An arena from [`KeyArena::encode`]'s bytes (`None` when they do not hold one).
    pub(crate) fn decode(body: &[u8]) -> Option<KeyArena> {
        let n = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
        let ends_at = 4;
        let data_at = ends_at + n.checked_mul(8)?;
        let data = body.get(data_at..)?;
        let mut arena = KeyArena::default();
        let mut start = 0usize;
        for i in 0..n {
            let raw = body.get(ends_at + i * 8..ends_at + i * 8 + 8)?;
            let end = usize::try_from(u64::from_le_bytes(raw.try_into().ok()?)).ok()?;
            arena.push_key(data.get(start..end)?);
            start = end;
        }
        (start == data.len()).then_some(arena)
    }
}
