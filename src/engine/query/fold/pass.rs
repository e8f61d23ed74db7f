//! The fold's passes: selecting rows, finding each one's group slot, adding it to the
//! accumulators (over every part, or over a commit's delta with a sign) and finishing the groups.

use rayon::prelude::*;

use super::accs::*;
use super::{integral, width, Contrib, Dim, Folded, Plan, Stat, DENSE_GROUPS};
use crate::dashboards::window::BucketSize;
use crate::domain::Dataset;
use crate::engine::query::access::{Cols, Int, Scalar};
use crate::engine::query::columns::{ones, with_slice, Part};
use crate::engine::query::{KeyPart, QueryError, RawKey};
use crate::store::schema::{budget_col, Storage};
use crate::store::DatasetSchema;
use crate::store::TableView;

/// How rows find their group's slot.
enum Slots {
    /// An array index from each dimension's slot (its code, or its bucket from the first).
    Dense {
        /// Slots per dimension (the last one of each holds missing values).
        cards: Vec<u64>,
        /// The first bucket of each bucket dimension (0 for others).
        first: Vec<i64>,
    },
    /// Keys hashed.
    Hashed,
}

impl Slots {
    fn groups(&self) -> usize {
        match self {
            Slots::Dense { cards, .. } => cards.iter().product::<u64>() as usize,
            Slots::Hashed => 0,
        }
    }

    /// The key of dense slot `slot`.
    fn key(&self, dims: &[Dim], mut slot: u64) -> RawKey {
        let Slots::Dense { cards, first } = self else {
            return Vec::new();
        };
        let mut key = vec![KeyPart::Null; dims.len()];
        for d in (0..dims.len()).rev() {
            let (card, s) = (cards[d], slot % cards[d]);
            slot /= card;
            if s == card - 1 {
                continue;
            }
            key[d] = match dims[d] {
                Dim::Code(_) => KeyPart::Int(s as i64),
                Dim::Truth(_) | Dim::Open(_) => KeyPart::Bool(s == 1),
                Dim::Bucket { size, .. } => KeyPart::Int(
                    (first[d] + s as i64) * width(size).unwrap_or(1) - bucket_shift(dims[d]),
                ),
                Dim::Value(_) => KeyPart::Null,
            };
        }
        key
    }
}

/// What a fixed-width bucket index is offset by: `start = index × width − shift`.
fn bucket_shift(dim: Dim) -> i64 {
    match dim {
        Dim::Bucket {
            size,
            fixed: Some(off),
            ..
        } => {
            off + if size == BucketSize::Week {
                3 * 86_400
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The index of the fixed-width bucket holding `t`.
#[inline]
fn bucket_index(t: i64, w: i64, shift: i64) -> i64 {
    (t + shift).div_euclid(w)
}

impl Plan {
    /// How the rows of `parts` find their slots: dense when every dimension has a known, small
    /// number of values in these parts.
    fn slots(&self, view: &TableView, parts: &[Part]) -> Slots {
        let mut cards = Vec::with_capacity(self.dims.len());
        let mut first = Vec::with_capacity(self.dims.len());
        for dim in &self.dims {
            let (card, from) = match *dim {
                Dim::Code(c) => {
                    let codes = match view.dataset().schema().fields[c].storage {
                        Storage::Enum(words) => words.len() as i64,
                        _ => view.labels(c).len() as i64,
                    };
                    // Every chunk's codes must be known to lie below the dictionary's size.
                    if !parts.iter().all(|p| p.values_below(c, codes)) {
                        return Slots::Hashed;
                    }
                    (codes as u64 + 1, 0)
                }
                Dim::Truth(_) | Dim::Open(_) => (3, 0),
                Dim::Bucket {
                    of: Int::Col(c),
                    size,
                    fixed: Some(_),
                    ..
                } => {
                    let Some(w) = width(size) else {
                        return Slots::Hashed;
                    };
                    let mut span: Option<(i64, i64)> = None;
                    for p in parts.iter().filter(|p| p.len > 0) {
                        let Some((lo, hi)) = p.range(c) else {
                            return Slots::Hashed;
                        };
                        span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                    }
                    let (mut lo, mut hi) = span.unwrap_or((0, 0));
                    if let Some((from, to)) = self.filter.bounds(Int::Col(c)) {
                        lo = lo.max(from);
                        hi = hi.min(to.saturating_sub(1));
                    }
                    let shift = bucket_shift(*dim);
                    let (a, b) = (
                        bucket_index(lo, w, shift),
                        bucket_index(hi.max(lo), w, shift),
                    );
                    ((b - a + 2) as u64, a)
                }
                _ => return Slots::Hashed,
            };
            cards.push(card);
            first.push(from);
        }
        let groups = cards.iter().try_fold(1u64, |acc, c| acc.checked_mul(*c));
        match groups {
            Some(g) if g <= DENSE_GROUPS => Slots::Dense { cards, first },
            _ => Slots::Hashed,
        }
    }

    fn accs(&self, groups: usize) -> Accs {
        Accs {
            rows: vec![0; groups],
            sums: self
                .contribs()
                .map(|c| match c {
                    Contrib::Rows | Contrib::Flag(_) | Contrib::Present(_) => {
                        Sums::Count(vec![0; groups])
                    }
                    Contrib::Sum(a) if integral(*a) => Sums::Int(vec![0; groups]),
                    Contrib::Sum(_) => Sums::Float(vec![0.0; groups]),
                })
                .collect(),
            stats: self.stats().map(|s| vec![stat_acc(s); groups]).collect(),
            keys: Vec::new(),
            slots: hashbrown::HashMap::new(),
        }
    }

    /// The selection of each part: its base versions passing every filter (and, for budget
    /// lines, each line's latest figures only).
    pub(in crate::engine::query) fn select(
        &self,
        parts: &[Part],
        now: i64,
    ) -> Result<Vec<Vec<u64>>, QueryError> {
        let selected: Vec<Vec<u64>> = polars_core::POOL.install(|| {
            parts
                .par_iter()
                .map(|part| {
                    let mut sel = part.base_words();
                    if sel.iter().any(|w| *w != 0) {
                        let cols = Cols::new(part, self.dataset, now)?;
                        self.filter.narrow(part, &cols, &mut sel);
                    }
                    Ok(sel)
                })
                .collect::<Result<_, QueryError>>()
        })?;
        if self.to_date {
            return latest_figures(parts, selected, self.dataset, now);
        }
        Ok(selected)
    }

    /// Every group of the rows of `parts` that `selected` holds.
    pub(in crate::engine::query) fn fold(
        &self,
        view: &TableView,
        parts: &[Part],
        selected: &[Vec<u64>],
        now: i64,
    ) -> Result<Vec<Folded>, QueryError> {
        let slots = self.slots(view, parts);
        let groups = slots.groups();
        let accs = polars_core::POOL.install(|| {
            parts
                .par_iter()
                .zip(selected.par_iter())
                .try_fold(
                    || self.accs(groups),
                    |mut accs, (part, sel)| {
                        if sel.iter().any(|w| *w != 0) {
                            self.fold_part(&slots, part, sel, now, &mut accs)?;
                        }
                        Ok::<_, QueryError>(accs)
                    },
                )
                .try_reduce(|| self.accs(groups), |a, b| Ok(self.merge(&slots, a, b)))
        })?;
        Ok(self.finish(&slots, accs))
    }

    fn fold_part(
        &self,
        slots: &Slots,
        part: &Part,
        sel: &[u64],
        now: i64,
        accs: &mut Accs,
    ) -> Result<(), QueryError> {
        let cols = Cols::new(part, self.dataset, now)?;
        // Conditions counted per group become bits first, a word at a time.
        let flags: Vec<(usize, Vec<u64>)> = self
            .contribs()
            .enumerate()
            .filter_map(|(p, c)| match c {
                Contrib::Flag(cond) => Some((p, cond.words(part, &cols, sel))),
                _ => None,
            })
            .collect();
        let per_row = self
            .contribs()
            .any(|c| matches!(c, Contrib::Sum(_) | Contrib::Present(_)))
            || !accs.stats.is_empty();
        let single = match (slots, self.dims.as_slice()) {
            (Slots::Dense { .. }, []) => Some(None),
            (Slots::Dense { .. }, [Dim::Code(c)]) if cols.col(*c).no_nulls() => {
                Some(cols.col(*c).ints())
            }
            _ => None,
        };
        match single {
            // One group: rows and conditions are counted by their bits.
            Some(None) => {
                accs.rows[0] += sel.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
                for (p, bits) in &flags {
                    if let Sums::Count(n) = &mut accs.sums[*p] {
                        n[0] += bits.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
                    }
                }
                if per_row {
                    self.add_values(&cols, sel, |_| 0, accs);
                }
            }
            // Grouped by one label: its codes are the slots.
            Some(Some(ints)) => with_slice!(ints, codes => {
                let slot = |i: usize| codes[i] as usize;
                count(sel, slot, &flags, accs);
                if per_row {
                    self.add_values(&cols, sel, slot, accs);
                }
            }),
            _ => {
                let slot_of: Vec<u32> = match slots {
                    Slots::Dense { cards, first } => self.dense_slots(cards, first, &cols, sel),
                    Slots::Hashed => {
                        let mut out = vec![0u32; part.len];
                        let mut key = Vec::with_capacity(self.dims.len());
                        for i in ones(sel) {
                            key.clear();
                            key.extend(self.dims.iter().map(|d| d.key(&cols, i)));
                            out[i] = accs.slot(self, &key);
                        }
                        out
                    }
                };
                let slot = |i: usize| slot_of[i] as usize;
                count(sel, slot, &flags, accs);
                if per_row {
                    self.add_values(&cols, sel, slot, accs);
                }
            }
        }
        Ok(())
    }

    /// Adds each selected row's values (sums, divisors of averages, statistics) to its slot.
    fn add_values(&self, cols: &Cols, sel: &[u64], slot: impl Fn(usize) -> usize, accs: &mut Accs) {
        let contribs: Vec<(usize, &Contrib)> = self
            .contribs()
            .enumerate()
            .filter(|(_, c)| matches!(c, Contrib::Sum(_) | Contrib::Present(_)))
            .collect();
        let stats: Vec<Stat> = self.stats().collect();
        for i in ones(sel) {
            let s = slot(i);
            for &(p, c) in &contribs {
                match (&mut accs.sums[p], c) {
                    (Sums::Count(n), Contrib::Present(a)) => {
                        n[s] += u64::from(a.read(cols, i).is_some());
                    }
                    (Sums::Int(n), Contrib::Sum(a)) => {
                        if let Some(v) = a.read(cols, i) {
                            n[s] += v.number() as i64;
                        }
                    }
                    (Sums::Float(n), Contrib::Sum(a)) => {
                        if let Some(v) = a.read(cols, i) {
                            n[s] += v.number();
                        }
                    }
                    _ => {}
                }
            }
            for (k, stat) in stats.iter().enumerate() {
                add_stat(&mut accs.stats[k][s], *stat, cols, i);
            }
        }
    }

    /// Each selected row's dense slot, a dimension at a time over the typed columns.
    // The typed loops cast every stored type alike, `u32` included.
    #[allow(clippy::unnecessary_cast)]
    fn dense_slots(&self, cards: &[u64], first: &[i64], cols: &Cols, sel: &[u64]) -> Vec<u32> {
        let mut out = vec![0u32; cols.len];
        let mut stride = 1u32;
        for d in (0..self.dims.len()).rev() {
            let (card, null) = (cards[d] as u32, cards[d] as u32 - 1);
            match self.dims[d] {
                Dim::Code(c) => {
                    let col = cols.col(c);
                    match (col.ints(), col.no_nulls()) {
                        (Some(ints), true) => with_slice!(ints, s => {
                            for (w, &word) in sel.iter().enumerate() {
                                if word == 0 {
                                    continue;
                                }
                                let base = w * 64;
                                let end = (base + 64).min(s.len());
                                for (o, v) in out[base..end].iter_mut().zip(&s[base..end]) {
                                    *o += (*v as u32) * stride;
                                }
                            }
                        }),
                        _ => {
                            for i in ones(sel) {
                                let v = col.int(i).map_or(null, |v| v as u32);
                                out[i] += v * stride;
                            }
                        }
                    }
                }
                Dim::Bucket { of, size, .. } => {
                    let w = width(size).unwrap_or(1);
                    let shift = bucket_shift(self.dims[d]);
                    for i in ones(sel) {
                        let v = cols.int(of, i).map_or(null, |t| {
                            (bucket_index(t, w, shift) - first[d]).clamp(0, i64::from(null) - 1)
                                as u32
                        });
                        out[i] += v * stride;
                    }
                }
                dim => {
                    for i in ones(sel) {
                        let v = match dim.key(cols, i) {
                            KeyPart::Bool(b) => u32::from(b),
                            _ => null,
                        };
                        out[i] += v * stride;
                    }
                }
            }
            stride *= card;
        }
        out
    }

    fn merge(&self, slots: &Slots, mut a: Accs, b: Accs) -> Accs {
        let stats: Vec<Stat> = self.stats().collect();
        match slots {
            Slots::Dense { .. } => {
                add_into(&mut a, &b, &stats, |s| s);
                a
            }
            Slots::Hashed => {
                let (mut a, b) = if a.keys.len() >= b.keys.len() {
                    (a, b)
                } else {
                    (b, a)
                };
                let map: Vec<usize> = b.keys.iter().map(|k| a.slot(self, k) as usize).collect();
                add_into(&mut a, &b, &stats, |s| map[s]);
                a
            }
        }
    }

    fn finish(&self, slots: &Slots, accs: Accs) -> Vec<Folded> {
        let ungrouped = self.dims.is_empty();
        let mut out = Vec::new();
        for s in 0..accs.rows.len() {
            let rows = accs.rows[s];
            if rows == 0 && !ungrouped {
                continue;
            }
            let key = match slots {
                Slots::Dense { .. } => slots.key(&self.dims, s as u64),
                Slots::Hashed => accs.keys[s].clone(),
            };
            out.push(Folded {
                key,
                rows,
                sums: accs
                    .sums
                    .iter()
                    .zip(self.contribs())
                    .map(|(sums, c)| match sums {
                        Sums::Count(_) if matches!(c, Contrib::Rows) => Scalar::Int(rows as i64),
                        Sums::Count(n) => Scalar::Int(n[s] as i64),
                        Sums::Int(n) => Scalar::Int(n[s]),
                        Sums::Float(n) => Scalar::Float(n[s]),
                    })
                    .collect(),
                stats: accs
                    .stats
                    .iter()
                    .zip(self.stats())
                    .map(|(per_group, stat)| finish_stat(&per_group[s], stat))
                    .collect(),
            });
        }
        if ungrouped && out.is_empty() {
            // An ungrouped query always has its one group, over no rows if need be.
            out.push(Folded {
                key: Vec::new(),
                rows: 0,
                sums: self
                    .contribs()
                    .map(|c| match c {
                        Contrib::Sum(a) if !integral(*a) => Scalar::Float(0.0),
                        _ => Scalar::Int(0),
                    })
                    .collect(),
                stats: self.stats().map(|_| None).collect(),
            });
        }
        out
    }

    /// The signed sums of every row of `part` (`signs`: +1 for a row that became current, -1
    /// for one that stopped being), row by row: the fast lane's view of a commit. Every row
    /// passes the same filters and contributes the same parts as in a full computation.
    pub(in crate::engine::query) fn fold_signed(
        &self,
        part: &Part,
        signs: &[i32],
        now: i64,
    ) -> Result<crate::engine::query::Sums, QueryError> {
        let mut out = crate::engine::query::Sums::new();
        let cols = Cols::new(part, self.dataset, now)?;
        let contribs: Vec<&Contrib> = self.contribs().collect();
        let mut key = Vec::with_capacity(self.dims.len());
        for (i, &sign) in signs.iter().enumerate().take(part.len) {
            if !self.filter.test(&cols, i) {
                continue;
            }
            key.clear();
            key.extend(self.dims.iter().map(|d| d.key(&cols, i)));
            let sign = f64::from(sign);
            let sums = match out.get_mut(&key) {
                Some(sums) => sums,
                None => out
                    .entry(key.clone())
                    .or_insert_with(|| vec![0.0; 1 + contribs.len()]),
            };
            sums[0] += sign;
            for (p, c) in contribs.iter().enumerate() {
                let v = match c {
                    Contrib::Rows => 1.0,
                    Contrib::Flag(cond) => f64::from(u8::from(cond.test(&cols, i))),
                    Contrib::Sum(a) => a.read(&cols, i).map_or(0.0, Scalar::number),
                    Contrib::Present(a) => f64::from(u8::from(a.read(&cols, i).is_some())),
                };
                sums[1 + p] += sign * v;
            }
        }
        Ok(out)
    }
}

/// Budget figures are cumulative per period and a revised budget (perubahan) replaces the
/// original (murni): of the selected rows, each line (fiscal year, OPD, account) keeps only its
/// latest version and period.
fn latest_figures(
    parts: &[Part],
    mut selected: Vec<Vec<u64>>,
    dataset: Dataset,
    now: i64,
) -> Result<Vec<Vec<u64>>, QueryError> {
    let rank = |cols: &Cols, i: usize| -> Option<((i64, i64, i64), i64)> {
        let col = |c: usize| cols.col(c).int(i);
        let line = (
            col(budget_col::FISCAL_YEAR)?,
            col(budget_col::OPD)?,
            col(budget_col::ACCOUNT_CODE)?,
        );
        Some((
            line,
            col(budget_col::VERSION)? * 100 + col(budget_col::PERIOD)?,
        ))
    };
    let mut best: hashbrown::HashMap<(i64, i64, i64), i64> = hashbrown::HashMap::new();
    let mut all_cols = Vec::with_capacity(parts.len());
    for (part, sel) in parts.iter().zip(&selected) {
        let cols = Cols::new(part, dataset, now)?;
        for i in ones(sel) {
            if let Some((line, r)) = rank(&cols, i) {
                let b = best.entry(line).or_insert(r);
                *b = (*b).max(r);
            }
        }
        all_cols.push(cols);
    }
    for (sel, cols) in selected.iter_mut().zip(&all_cols) {
        let dropped: Vec<usize> = ones(sel)
            .filter(|&i| rank(cols, i).is_none_or(|(line, r)| best.get(&line) != Some(&r)))
            .collect();
        for i in dropped {
            sel[i / 64] &= !(1u64 << (i % 64));
        }
    }
    Ok(selected)
}
