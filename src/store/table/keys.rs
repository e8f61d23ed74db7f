//! Keys by key id, packed: most keys are a fixed head and a number (`lapor` + `LPR-0000000042`,
//! `la311` + `1-1523590121`), so a key is kept as a *shape* — the bytes before its trailing run
//! of digits (at most nine) and the run's length — and the run's value: 4 bytes and, where keys
//! stored together do not all share a shape, 2 more, whatever the key's length. A table knows a
//! few thousand shapes at most; a key whose head would be a shape past that (ids with no common
//! head) keeps its bytes in an arena instead.
//!
//! A key is either always packed or always kept as bytes (its head is a shape from the first key
//! that has it, or never), so one key hashes and compares the same way every time.

use std::borrow::Cow;
use std::sync::Arc;

use super::{KeyArena, KEY_BLOCK};

/// Most shapes a table keeps; keys with other heads keep their bytes.
const MAX_SHAPES: usize = 4096;
/// The shape code of a key kept as bytes (its number is its place in the arena).
const BYTES: u16 = u16::MAX;
/// Longest run of trailing digits packed into a number (below 2^32).
const MAX_DIGITS: usize = 9;

/// A head and the length of the digit run after it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    head: Box<[u8]>,
    digits: u8,
}

/// The writer's index of shapes by content (snapshots only decode: they keep the list).
#[derive(Default, Clone)]
pub(crate) struct Shapes(hashbrown::HashMap<Shape, u16>);

/// What identifies a key for hashing and comparing: its packed value, or its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Material<'a> {
    /// Shape and number.
    Packed(u64),
    /// A key with no shape.
    Bytes(&'a [u8]),
}

/// A key being looked up: its bytes and, when its head is a shape, its packed value.
pub(crate) struct Probe<'a> {
    bytes: &'a [u8],
    split: (&'a [u8], u8, u32),
    packed: Option<u64>,
}

impl Probe<'_> {
    /// How the key hashes and compares.
    pub(crate) fn material(&self) -> Material<'_> {
        match self.packed {
            Some(p) => Material::Packed(p),
            None => Material::Bytes(self.bytes),
        }
    }
}

fn pack(shape: u16, number: u32) -> u64 {
    (u64::from(shape) << 32) | u64::from(number)
}

/// `bytes` as (head, digit count, number): the trailing run of ASCII digits, at most nine.
fn split(bytes: &[u8]) -> (&[u8], u8, u32) {
    let run = bytes
        .iter()
        .rev()
        .take(MAX_DIGITS)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let (head, digits) = bytes.split_at(bytes.len() - run);
    let number = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    (head, run as u8, number)
}

/// Up to [`KEY_BLOCK`] keys: their numbers, and their shape — one for the whole block while
/// every key has it (keys arriving together nearly always come from one source with one id
/// format), else one per key.
#[derive(Clone)]
struct Block {
    shapes: BlockShapes,
    number: Vec<u32>,
}

#[derive(Clone)]
enum BlockShapes {
    /// Every key of the block has this shape.
    One(u16),
    /// Each key's shape.
    Each(Vec<u16>),
}

impl Block {
    fn new(shape: u16) -> Block {
        Block {
            shapes: BlockShapes::One(shape),
            number: Vec::with_capacity(KEY_BLOCK),
        }
    }

    fn shape(&self, i: usize) -> Option<u16> {
        match &self.shapes {
            BlockShapes::One(s) => (i < self.number.len()).then_some(*s),
            BlockShapes::Each(shapes) => shapes.get(i).copied(),
        }
    }

    fn push(&mut self, shape: u16, number: u32) {
        match &mut self.shapes {
            BlockShapes::One(s) if *s == shape => {}
            BlockShapes::One(s) => {
                let mut each = Vec::with_capacity(KEY_BLOCK);
                each.resize(self.number.len(), *s);
                each.push(shape);
                self.shapes = BlockShapes::Each(each);
            }
            BlockShapes::Each(shapes) => shapes.push(shape),
        }
        self.number.push(number);
    }

    fn heap_bytes(&self) -> usize {
        let shapes = match &self.shapes {
            BlockShapes::One(_) => 0,
            BlockShapes::Each(s) => s.capacity() * 2,
        };
        shapes + self.number.capacity() * 4
    }
}

/// Keys by key id, in blocks so a snapshot shares all but the last block.
#[derive(Clone, Default)]
pub(crate) struct KeyStore {
    blocks: Vec<Arc<Block>>,
    shapes: Arc<Vec<Shape>>,
    /// Bytes of the keys without a shape.
    bytes: KeyArena,
    len: u32,
}

impl KeyStore {
    /// How `bytes` would be found.
    pub(crate) fn probe<'a>(&self, shapes: &Shapes, bytes: &'a [u8]) -> Probe<'a> {
        let split = split(bytes);
        let packed = shapes
            .0
            .get(&ShapeRef {
                head: split.0,
                digits: split.1,
            })
            .map(|s| pack(*s, split.2));
        Probe {
            bytes,
            split,
            packed,
        }
    }

    /// Adds the key of `probe` (not held yet) and returns its id. Its head becomes a shape when
    /// it is not one yet and there is room.
    pub(crate) fn push(&mut self, shapes: &mut Shapes, probe: &Probe) -> u32 {
        let (head, digits, number) = probe.split;
        let (shape, number) = match probe.packed {
            Some(p) => ((p >> 32) as u16, number),
            None if shapes.0.len() < MAX_SHAPES => {
                let code = self.shapes.len() as u16;
                let shape = Shape {
                    head: head.into(),
                    digits,
                };
                Arc::make_mut(&mut self.shapes).push(shape.clone());
                shapes.0.insert(shape, code);
                (code, number)
            }
            None => (BYTES, self.bytes.push_key(probe.bytes)),
        };
        self.append(shape, number);
        self.len - 1
    }

    /// Adds a key's shape and number at the end.
    fn append(&mut self, shape: u16, number: u32) {
        if (self.len as usize).is_multiple_of(KEY_BLOCK) {
            self.blocks.push(Arc::new(Block::new(shape)));
        }
        if let Some(block) = self.blocks.last_mut() {
            Arc::make_mut(block).push(shape, number);
            self.len += 1;
        }
    }

    fn at(&self, id: u32) -> Option<(u16, u32)> {
        let (block, i) = (id as usize / KEY_BLOCK, id as usize % KEY_BLOCK);
        let block = self.blocks.get(block)?;
        Some((block.shape(i)?, *block.number.get(i)?))
    }

    /// How key `id` hashes and compares (as its probe does).
    pub(crate) fn material(&self, id: u32) -> Material<'_> {
        match self.at(id) {
            Some((BYTES, at)) => Material::Bytes(self.bytes.get(at)),
            Some((shape, number)) => Material::Packed(pack(shape, number)),
            None => Material::Bytes(&[]),
        }
    }

    /// The bytes of key `id`.
    pub(crate) fn get(&self, id: u32) -> Cow<'_, [u8]> {
        match self.at(id) {
            Some((BYTES, at)) => Cow::Borrowed(self.bytes.get(at)),
            Some((shape, number)) => {
                let Some(s) = self.shapes.get(usize::from(shape)) else {
                    return Cow::Borrowed(&[]);
                };
                let mut out = Vec::with_capacity(s.head.len() + usize::from(s.digits));
                out.extend_from_slice(&s.head);
                if s.digits > 0 {
                    use std::io::Write;
                    let _ = write!(out, "{number:0width$}", width = usize::from(s.digits));
                }
                Cow::Owned(out)
            }
            None => Cow::Borrowed(&[]),
        }
    }

    /// How many keys.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let blocks: usize = self.blocks.iter().map(|b| b.heap_bytes()).sum();
        let shapes: usize = self.shapes.iter().map(|s| s.head.len() + 24).sum();
        blocks + shapes + self.bytes.heap_bytes()
    }

    /// The shapes' index, for a writer taking over a store read from a checkpoint.
    pub(crate) fn shapes_index(&self) -> Shapes {
        Shapes(
            self.shapes
                .iter()
                .enumerate()
                .map(|(code, s)| (s.clone(), code as u16))
                .collect(),
        )
    }

    /// The store as bytes: shapes, each key's shape and number, the arena; for checkpoints.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.shapes.len() as u32).to_le_bytes());
        for s in self.shapes.iter() {
            out.push(s.digits);
            out.extend_from_slice(&(s.head.len() as u32).to_le_bytes());
            out.extend_from_slice(&s.head);
        }
        out.extend_from_slice(&self.len.to_le_bytes());
        for id in 0..self.len {
            let (shape, _) = self.at(id).unwrap_or((BYTES, 0));
            out.extend_from_slice(&shape.to_le_bytes());
        }
        for id in 0..self.len {
            let (_, number) = self.at(id).unwrap_or((BYTES, 0));
            out.extend_from_slice(&number.to_le_bytes());
        }
        out.extend_from_slice(&self.bytes.encode());
        out
    }

    /// A store from [`KeyStore::encode`]'s bytes (`None` when they do not hold one).
    pub(crate) fn decode(bytes: &[u8]) -> Option<KeyStore> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let part = bytes.get(at..at.checked_add(n)?)?;
            at += n;
            Some(part)
        };
        let u32_of = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
        let shapes_len = u32_of(take(4)?)? as usize;
        let mut shapes = Vec::with_capacity(shapes_len.min(MAX_SHAPES));
        for _ in 0..shapes_len {
            let digits = *take(1)?.first()?;
            let len = u32_of(take(4)?)? as usize;
            shapes.push(Shape {
                head: take(len)?.into(),
                digits,
            });
        }
        let len = u32_of(take(4)?)?;
        let n = len as usize;
        let shape_bytes = take(n.checked_mul(2)?)?;
        let number_bytes = take(n.checked_mul(4)?)?;
        let mut store = KeyStore {
            shapes: Arc::new(shapes),
            ..KeyStore::default()
        };
        for (s, v) in shape_bytes
            .chunks_exact(2)
            .zip(number_bytes.chunks_exact(4))
        {
            store.append(u16::from_le_bytes([s[0], s[1]]), u32_of(v)?);
        }
        if store.len as usize != n {
            return None;
        }
        store.bytes = KeyArena::decode(bytes.get(at..)?)?;
        Some(store)
    }
}

/// A shape borrowed for lookups (no allocation per key); hashes as [`Shape`] does.
#[derive(Hash)]
struct ShapeRef<'a> {
    head: &'a [u8],
    digits: u8,
}

impl hashbrown::Equivalent<Shape> for ShapeRef<'_> {
    fn equivalent(&self, key: &Shape) -> bool {
        self.head == &*key.head && self.digits == key.digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(keys: &[&[u8]]) -> (KeyStore, Shapes, Vec<u32>) {
        let (mut store, mut shapes) = (KeyStore::default(), Shapes::default());
        let ids = keys
            .iter()
            .map(|k| {
                let probe = store.probe(&shapes, k);
                store.push(&mut shapes, &probe)
            })
            .collect();
        (store, shapes, ids)
    }

    #[test]
    fn keys_come_back_byte_for_byte_and_numbered_ids_share_a_shape() {
        let keys: Vec<&[u8]> = vec![
            b"lapor\0LPR-0000000042",
            b"lapor\0LPR-0000000043",
            b"lapor\0LPR-1000000000",
            b"la311\x001-1523590121",
            b"nyc\x0012345678901234567890",
            b"open311\0c1a9-ff",
            b"x\0",
            b"",
            b"lapor\0LPR-42",
            b"lapor\0LPR-042",
        ];
        let (store, shapes, ids) = store(&keys);
        for (id, key) in ids.iter().zip(&keys) {
            assert_eq!(&*store.get(*id), *key);
            let probe = store.probe(&shapes, key);
            assert_eq!(probe.material(), store.material(*id), "{key:?}");
        }
        // The two zero-padded LAPOR ids share one shape; 42 and 042 do not collide.
        assert_eq!(store.material(ids[0]), Material::Packed(pack(0, 42)));
        assert_eq!(store.material(ids[1]), Material::Packed(pack(0, 43)));
        assert_ne!(store.material(ids[8]), store.material(ids[9]));
        let decoded = KeyStore::decode(&store.encode()).unwrap();
        for (id, key) in ids.iter().zip(&keys) {
            assert_eq!(&*decoded.get(*id), *key);
        }
        assert!(KeyStore::decode(&store.encode()[..10]).is_none());
    }

    #[test]
    fn a_block_of_one_shape_keeps_it_once_and_splits_when_another_comes() {
        let same: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("s\0A-{i:05}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = same.iter().map(|k| k.as_slice()).collect();
        let (one, _, _) = store(&refs);
        let (numbers, shape) = (KEY_BLOCK * 4, one.shapes[0].head.len() + 24);
        assert_eq!(one.heap_bytes(), numbers + shape, "no per-key shapes");
        let mut mixed = same.clone();
        mixed.insert(50, b"s\0B-1".to_vec());
        let refs: Vec<&[u8]> = mixed.iter().map(|k| k.as_slice()).collect();
        let (store, _, ids) = store(&refs);
        assert!(store.heap_bytes() > numbers + KEY_BLOCK * 2);
        let decoded = KeyStore::decode(&store.encode()).unwrap();
        for (id, key) in ids.iter().zip(&refs) {
            assert_eq!(&*store.get(*id), *key);
            assert_eq!(&*decoded.get(*id), *key);
        }
    }

    #[test]
    fn heads_past_the_shape_limit_keep_their_bytes() {
        let keys: Vec<Vec<u8>> = (0..MAX_SHAPES + 10)
            .map(|i| format!("src\0id-{i}x").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let (store, shapes, ids) = store(&refs);
        let last = *ids.last().unwrap();
        assert!(matches!(store.material(last), Material::Bytes(_)));
        assert_eq!(&*store.get(last), refs[refs.len() - 1]);
        // A key with a known head still packs; one with an unknown head probes as bytes.
        let probe = store.probe(&shapes, b"src\0id-0x");
        assert!(matches!(probe.material(), Material::Packed(_)));
        let probe = store.probe(&shapes, refs[refs.len() - 1]);
        assert_eq!(probe.material(), store.material(last));
    }
}
