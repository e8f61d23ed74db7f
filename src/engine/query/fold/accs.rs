//! What one run of the fold accumulates per group, and how partial results merge.

use std::collections::HashSet;

use super::{Plan, Stat};
use crate::engine::query::access::{Cols, Scalar};
use crate::engine::query::{KeyPart, RawKey};

/// Per-group accumulators of one run of the fold.
#[derive(Default)]
pub(super) struct Accs {
    pub(super) rows: Vec<u64>,
    pub(super) sums: Vec<Sums>,
    pub(super) stats: Vec<Vec<StatAcc>>,
    /// Hashed grouping: each slot's key and the slot of each key.
    pub(super) keys: Vec<RawKey>,
    pub(super) slots: hashbrown::HashMap<RawKey, u32>,
}

pub(super) enum Sums {
    Count(Vec<u64>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

#[derive(Clone)]
pub(super) enum StatAcc {
    Extreme(Option<Scalar>),
    Values(Vec<f64>),
    Distinct(HashSet<KeyPart>),
}

/// Counts each selected row in its slot's rows, and in each condition's count where its bit is
/// set (`flags`: the sum's position and the condition's bits).
#[inline]
pub(super) fn count(
    sel: &[u64],
    slot: impl Fn(usize) -> usize,
    flags: &[(usize, Vec<u64>)],
    accs: &mut Accs,
) {
    let mut counts: Vec<Vec<u64>> = flags
        .iter()
        .map(|(p, _)| match &mut accs.sums[*p] {
            Sums::Count(n) => std::mem::take(n),
            _ => Vec::new(),
        })
        .collect();
    let rows = &mut accs.rows;
    for (w, &word) in sel.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let base = w * 64;
        let mut left = word;
        while left != 0 {
            let b = left.trailing_zeros() as usize;
            left &= left - 1;
            let s = slot(base + b);
            rows[s] += 1;
            for (n, (_, bits)) in counts.iter_mut().zip(flags) {
                n[s] += bits[w] >> b & 1;
            }
        }
    }
    for ((p, _), n) in flags.iter().zip(counts) {
        if let Sums::Count(held) = &mut accs.sums[*p] {
            *held = n;
        }
    }
}

impl Accs {
    /// The slot of `key`, added when new (hashed grouping).
    pub(super) fn slot(&mut self, plan: &Plan, key: &[KeyPart]) -> u32 {
        if let Some(s) = self.slots.get(key) {
            return *s;
        }
        let s = self.keys.len() as u32;
        self.keys.push(key.to_vec());
        self.slots.insert(key.to_vec(), s);
        self.rows.push(0);
        for sums in &mut self.sums {
            match sums {
                Sums::Count(n) => n.push(0),
                Sums::Int(n) => n.push(0),
                Sums::Float(n) => n.push(0.0),
            }
        }
        for (per_group, stat) in self.stats.iter_mut().zip(plan.stats()) {
            per_group.push(stat_acc(stat));
        }
        s
    }
}

/// Adds every slot of `b` into `a`, slot `s` of `b` going to `to(s)`.
pub(super) fn add_into(a: &mut Accs, b: &Accs, stats: &[Stat], to: impl Fn(usize) -> usize) {
    for (s, rows) in b.rows.iter().enumerate() {
        a.rows[to(s)] += rows;
    }
    for (x, y) in a.sums.iter_mut().zip(&b.sums) {
        match (x, y) {
            (Sums::Count(x), Sums::Count(y)) => {
                y.iter().enumerate().for_each(|(s, v)| x[to(s)] += v)
            }
            (Sums::Int(x), Sums::Int(y)) => y.iter().enumerate().for_each(|(s, v)| x[to(s)] += v),
            (Sums::Float(x), Sums::Float(y)) => {
                y.iter().enumerate().for_each(|(s, v)| x[to(s)] += v)
            }
            _ => {}
        }
    }
    for ((x, y), stat) in a.stats.iter_mut().zip(&b.stats).zip(stats) {
        for (s, v) in y.iter().enumerate() {
            merge_stat(&mut x[to(s)], v, *stat);
        }
    }
}

pub(super) fn stat_acc(stat: Stat) -> StatAcc {
    match stat {
        Stat::Min(_) | Stat::Max(_) => StatAcc::Extreme(None),
        Stat::Quantile(..) => StatAcc::Values(Vec::new()),
        Stat::Distinct(_) => StatAcc::Distinct(HashSet::new()),
    }
}

fn better(stat: Stat, candidate: Scalar, held: Scalar) -> bool {
    let (a, b) = match (candidate, held) {
        (Scalar::Int(a), Scalar::Int(b)) => (a as f64, b as f64),
        (a, b) => (a.number(), b.number()),
    };
    match stat {
        Stat::Min(_) => a < b,
        _ => a > b,
    }
}

pub(super) fn add_stat(acc: &mut StatAcc, stat: Stat, cols: &Cols, i: usize) {
    let access = match stat {
        Stat::Min(a) | Stat::Max(a) | Stat::Quantile(a, _) | Stat::Distinct(a) => a,
    };
    let Some(v) = access.read(cols, i) else {
        return;
    };
    match acc {
        StatAcc::Extreme(held) => {
            if held.is_none_or(|h| better(stat, v, h)) {
                *held = Some(v);
            }
        }
        StatAcc::Values(values) => values.push(v.number()),
        StatAcc::Distinct(seen) => {
            seen.insert(KeyPart::from_scalar(v));
        }
    }
}

fn merge_stat(into: &mut StatAcc, from: &StatAcc, stat: Stat) {
    match (into, from) {
        (StatAcc::Extreme(a), StatAcc::Extreme(Some(b)))
            if a.is_none_or(|held| better(stat, *b, held)) =>
        {
            *a = Some(*b);
        }
        (StatAcc::Values(a), StatAcc::Values(b)) => a.extend_from_slice(b),
        (StatAcc::Distinct(a), StatAcc::Distinct(b)) => a.extend(b.iter().copied()),
        _ => {}
    }
}

pub(super) fn finish_stat(acc: &StatAcc, stat: Stat) -> Option<Scalar> {
    match (acc, stat) {
        (StatAcc::Extreme(v), _) => *v,
        (StatAcc::Values(values), Stat::Quantile(_, q)) => {
            quantile(values.clone(), q).map(Scalar::Float)
        }
        (StatAcc::Distinct(seen), _) => Some(Scalar::Int(seen.len() as i64)),
        _ => None,
    }
}

/// The linear-interpolated quantile `q` of `values` (`None` when empty).
fn quantile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let pos = q * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, low, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let low = *low;
    let high = if hi == lo {
        low
    } else {
        above.iter().copied().fold(f64::INFINITY, f64::min)
    };
    Some(low + (high - low) * (pos - lo as f64))
}
