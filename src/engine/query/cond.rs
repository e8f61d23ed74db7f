//! Conditions on rows — a query's filters and the tests of the SLA measures — evaluated 64 rows
//! at a time into bits over a part, or for one row. A missing value never passes.
//!
//! The common conditions (a label among some values, a stored time or amount inside a range, a
//! stored boolean) run as tight loops over the typed slices, and first ask the chunk's range of
//! values whether any (or every) row can pass: a window over the last day skips the chunks of
//! last year without reading them. The rest fall back to reading each selected row.

use super::access::{Access, Cols, Int, OpenRule, Scalar};
use super::columns::{ones, with_slice, Part};
use super::Moment;
use crate::dashboards::fields::{FieldType, QueryField};
use crate::dashboards::model::{Filter, Literal, Test};
use crate::domain::Dataset;
use crate::store::schema::Storage;
use crate::store::DatasetSchema;
use crate::store::TableView;

/// A condition on one row.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    /// No row passes.
    Never,
    /// The code in column `col` is one of `accept` (a bit per code).
    Codes {
        /// The label (or lifecycle) column.
        col: usize,
        /// Accepted codes, a bit each.
        accept: Vec<u64>,
    },
    /// The stored boolean in `col` is one of `accept` (`[false, true]`).
    Truth {
        /// The boolean column.
        col: usize,
        /// Whether false, and whether true, pass.
        accept: [bool; 2],
    },
    /// `lo <= value < hi`.
    Between {
        /// The integer compared.
        of: Int,
        /// Inclusive lower bound.
        lo: i64,
        /// Exclusive upper bound.
        hi: i64,
    },
    /// The value equals one of `values` (numbers compare as numbers).
    OneOf {
        /// The value read.
        of: Access,
        /// Accepted values.
        values: Vec<Scalar>,
    },
    /// `min <= value < max` as numbers, either end open.
    Range {
        /// The value read.
        of: Access,
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Exclusive upper bound.
        max: Option<f64>,
    },
    /// The first integer is at or before the second.
    NotAfter(Int, Int),
    /// Every one holds.
    All(Vec<Cond>),
}

/// The code of `label` in column `c` of `view`, if its dictionary holds it.
pub(super) fn code_of(view: &TableView, c: usize, label: &str) -> Option<usize> {
    match view.dataset().schema().fields[c].storage {
        Storage::Enum(words) => words.iter().position(|w| *w == label),
        _ => view.labels(c).iter().position(|l| &**l == label),
    }
}

fn bit_set(codes: impl IntoIterator<Item = usize>) -> Vec<u64> {
    let mut accept = Vec::new();
    for code in codes {
        if accept.len() <= code / 64 {
            accept.resize(code / 64 + 1, 0);
        }
        accept[code / 64] |= 1 << (code % 64);
    }
    accept
}

fn literal_int(l: &Literal) -> Option<i64> {
    match l {
        Literal::Time(t) | Literal::Money(t) => Some(*t),
        Literal::Number(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

fn literal_scalar(l: &Literal) -> Option<Scalar> {
    match l {
        Literal::Text(_) => None,
        Literal::Number(n) => Some(Scalar::Float(*n)),
        Literal::Bool(b) => Some(Scalar::Bool(*b)),
        Literal::Time(t) | Literal::Money(t) => Some(Scalar::Int(*t)),
    }
}

/// Whether the field holds seconds or sen: compared as integers, exactly.
fn integral(field: &QueryField) -> bool {
    matches!(field.ty, FieldType::Time | FieldType::Money)
}

impl Cond {
    /// The condition of `filter` over `view`, at `at` (windows).
    pub(super) fn filter(view: &TableView, filter: &Filter, at: &Moment) -> Cond {
        let dataset = view.dataset();
        let field = &filter.field;
        let access = Access::of(dataset, field);
        match (&filter.test, access) {
            (Test::In(values), Access::Code(c)) => {
                let codes = values.iter().filter_map(|l| match l {
                    Literal::Text(t) => code_of(view, c, t),
                    _ => None,
                });
                Cond::Codes {
                    col: c,
                    accept: bit_set(codes),
                }
            }
            (Test::In(values), Access::Truth(col)) => Cond::Truth {
                col,
                accept: [
                    values.contains(&Literal::Bool(false)),
                    values.contains(&Literal::Bool(true)),
                ],
            },
            (Test::In(values), Access::Open(rule)) => {
                let mut codes = 0u64;
                for l in values {
                    if let Literal::Bool(b) = l {
                        codes |= rule.codes(*b);
                    }
                }
                Cond::Codes {
                    col: rule.col,
                    accept: vec![codes],
                }
            }
            (Test::In(values), Access::Int(of)) if integral(field) && values.len() == 1 => {
                match literal_int(&values[0]) {
                    Some(v) => Cond::Between {
                        of,
                        lo: v,
                        hi: v.saturating_add(1),
                    },
                    None => Cond::Never,
                }
            }
            (Test::In(values), of) => Cond::OneOf {
                of,
                values: values.iter().filter_map(literal_scalar).collect(),
            },
            (Test::Range { min, max }, Access::Int(of)) if integral(field) => Cond::Between {
                of,
                lo: min.as_ref().and_then(literal_int).unwrap_or(i64::MIN),
                hi: max.as_ref().and_then(literal_int).unwrap_or(i64::MAX),
            },
            (Test::Range { min, max }, of) => Cond::Range {
                of,
                min: min.as_ref().and_then(literal_scalar).map(Scalar::number),
                max: max.as_ref().and_then(literal_scalar).map(Scalar::number),
            },
            (Test::Window(w), access) => {
                let (start, end) = w.range(at.now, at.tz, at.fiscal_start);
                match access {
                    Access::Int(of) => Cond::Between {
                        of,
                        lo: start,
                        hi: end,
                    },
                    // Validation keeps windows to time fields.
                    _ => Cond::Never,
                }
            }
        }
    }

    /// Every filter of a query, in order.
    pub(super) fn filters(view: &TableView, filters: &[Filter], at: &Moment) -> Cond {
        Cond::All(filters.iter().map(|f| Cond::filter(view, f, at)).collect())
    }

    /// Open items (complaints not resolved or rejected, pending service events).
    pub(super) fn open(dataset: Dataset, open: bool) -> Cond {
        match OpenRule::of(dataset) {
            Some(rule) => Cond::Codes {
                col: rule.col,
                accept: vec![rule.codes(open)],
            },
            None => Cond::Never,
        }
    }

    /// The bounds `[lo, hi)` the condition puts on integer `of`, when it puts any.
    pub(super) fn bounds(&self, of: Int) -> Option<(i64, i64)> {
        match self {
            Cond::Between { of: o, lo, hi } if *o == of => Some((*lo, *hi)),
            Cond::All(all) => all.iter().find_map(|c| c.bounds(of)),
            _ => None,
        }
    }

    /// Whether row `i` passes.
    pub(super) fn test(&self, cols: &Cols, i: usize) -> bool {
        match self {
            Cond::Never => false,
            Cond::Codes { col, accept } => cols
                .col(*col)
                .int(i)
                .is_some_and(|code| accepted(accept, code)),
            Cond::Truth { col, accept } => cols
                .col(*col)
                .int(i)
                .is_some_and(|v| accept[usize::from(v != 0)]),
            Cond::Between { of, lo, hi } => cols.int(*of, i).is_some_and(|v| v >= *lo && v < *hi),
            Cond::OneOf { of, values } => of.read(cols, i).is_some_and(|v| {
                values.iter().any(|l| match (v, *l) {
                    (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
                    (Scalar::Int(a), Scalar::Int(b)) => a == b,
                    (Scalar::Bool(_), _) | (_, Scalar::Bool(_)) => false,
                    (a, b) => a.number() == b.number(),
                })
            }),
            Cond::Range { of, min, max } => of.read(cols, i).is_some_and(|v| {
                let v = v.number();
                min.is_none_or(|m| v >= m) && max.is_none_or(|m| v < m)
            }),
            Cond::NotAfter(a, b) => match (cols.int(*a, i), cols.int(*b, i)) {
                (Some(a), Some(b)) => a <= b,
                _ => false,
            },
            Cond::All(all) => all.iter().all(|c| c.test(cols, i)),
        }
    }

    /// Clears in `sel` (a bit per row of `part`) every row that fails; rows already clear are
    /// not looked at.
    // The typed loops cast every stored type alike, `i64` included.
    #[allow(clippy::unnecessary_cast)]
    pub(super) fn narrow(&self, part: &Part, cols: &Cols, sel: &mut [u64]) {
        match self {
            Cond::Never => sel.fill(0),
            Cond::All(all) => {
                // Ask every condition's ranges first: one that no row of the part can pass
                // spares the others' work.
                if all.iter().any(|c| c.passes_none(part)) {
                    sel.fill(0);
                    return;
                }
                for c in all {
                    if sel.iter().all(|w| *w == 0) {
                        return;
                    }
                    c.narrow(part, cols, sel);
                }
            }
            Cond::Codes { col, accept } => {
                if self.passes_none(part) {
                    sel.fill(0);
                    return;
                }
                let c = cols.col(*col);
                if let Some(ints) = c.ints() {
                    with_slice!(ints, s => narrow_words(sel, s, c.valid_words(), |v| {
                        accepted(accept, v as i64)
                    }));
                } else {
                    self.narrow_rows(cols, sel);
                }
            }
            Cond::Truth { col, accept } => {
                let c = cols.col(*col);
                let Some(values) = c.bool_words() else {
                    return self.narrow_rows(cols, sel);
                };
                let valid = c.valid_words();
                for (w, word) in sel.iter_mut().enumerate() {
                    let v = values[w];
                    let mut pass = 0u64;
                    if accept[1] {
                        pass |= v;
                    }
                    if accept[0] {
                        pass |= !v;
                    }
                    if let Some(valid) = valid {
                        pass &= valid[w];
                    }
                    *word &= pass;
                }
            }
            Cond::Between {
                of: Int::Col(col),
                lo,
                hi,
            } => {
                let (lo, hi) = (*lo, *hi);
                let c = cols.col(*col);
                if self.passes_none(part) {
                    sel.fill(0);
                    return;
                }
                // Every row passes: nothing to clear.
                if c.no_nulls()
                    && part
                        .range(*col)
                        .is_some_and(|(min, max)| lo <= min && max < hi)
                {
                    return;
                }
                if let Some(ints) = c.ints() {
                    with_slice!(ints, s => narrow_words(sel, s, c.valid_words(), |v| {
                        let v = v as i64;
                        v >= lo && v < hi
                    }));
                } else {
                    self.narrow_rows(cols, sel);
                }
            }
            _ => self.narrow_rows(cols, sel),
        }
    }

    /// Whether the part's ranges of values show that no row can pass.
    fn passes_none(&self, part: &Part) -> bool {
        match self {
            Cond::Never => true,
            Cond::Codes { col, accept } => part
                .range(*col)
                .is_some_and(|(min, max)| !(min..=max).any(|code| accepted(accept, code))),
            Cond::Between {
                of: Int::Col(col),
                lo,
                hi,
            } => part
                .range(*col)
                .is_some_and(|(min, max)| max < *lo || min >= *hi),
            Cond::All(all) => all.iter().any(|c| c.passes_none(part)),
            _ => false,
        }
    }

    /// [`Cond::narrow`] one selected row at a time.
    fn narrow_rows(&self, cols: &Cols, sel: &mut [u64]) {
        let failing: Vec<usize> = ones(sel).filter(|&i| !self.test(cols, i)).collect();
        for i in failing {
            sel[i / 64] &= !(1u64 << (i % 64));
        }
    }

    /// The rows of `sel` that pass, as new bits.
    pub(super) fn words(&self, part: &Part, cols: &Cols, sel: &[u64]) -> Vec<u64> {
        let mut out = sel.to_vec();
        self.narrow(part, cols, &mut out);
        out
    }
}

/// Whether `code` is in the bit set `accept`.
#[inline]
fn accepted(accept: &[u64], code: i64) -> bool {
    usize::try_from(code)
        .ok()
        .and_then(|c| accept.get(c / 64).map(|w| w >> (c % 64) & 1 == 1))
        .unwrap_or(false)
}

/// Clears the bits of `sel` whose row's value in `s` fails `pass` or is missing.
#[inline]
fn narrow_words<T: Copy>(
    sel: &mut [u64],
    s: &[T],
    valid: Option<&[u64]>,
    pass: impl Fn(T) -> bool,
) {
    for (w, word) in sel.iter_mut().enumerate() {
        if *word == 0 {
            continue;
        }
        let base = w * 64;
        let end = (base + 64).min(s.len());
        let mut bits = 0u64;
        for (k, v) in s[base..end].iter().enumerate() {
            bits |= u64::from(pass(*v)) << k;
        }
        if let Some(valid) = valid {
            bits &= valid[w];
        }
        *word &= bits;
    }
}

/// The SLA tests of a dataset: open and past the deadline, open with the deadline ahead within
/// a span, closed by the deadline, closed with a deadline.
pub(super) struct Sla {
    dataset: Dataset,
    due: Int,
    closed_at: Int,
}

impl Sla {
    /// The SLA columns of `dataset` (`None` for budget lines).
    pub(super) fn of(dataset: Dataset) -> Option<Sla> {
        use crate::store::schema::{complaint_col, service_col};
        match dataset {
            Dataset::Complaints => Some(Sla {
                dataset,
                due: Int::Col(complaint_col::SLA_DUE_AT),
                closed_at: Int::Col(complaint_col::RESOLVED_AT),
            }),
            Dataset::ServiceEvents => Some(Sla {
                dataset,
                due: Int::ServiceDue,
                closed_at: Int::Col(service_col::COMPLETED_AT),
            }),
            Dataset::BudgetLines => None,
        }
    }

    /// Open with the deadline in `[from, to)`.
    pub(super) fn open_due(&self, from: i64, to: i64) -> Cond {
        Cond::All(vec![
            Cond::open(self.dataset, true),
            Cond::Between {
                of: self.due,
                lo: from,
                hi: to,
            },
        ])
    }

    /// Closed, with both a closing time and a deadline.
    pub(super) fn closed(&self) -> Cond {
        Cond::All(vec![
            Cond::open(self.dataset, false),
            Cond::Between {
                of: self.closed_at,
                lo: i64::MIN,
                hi: i64::MAX,
            },
            Cond::Between {
                of: self.due,
                lo: i64::MIN,
                hi: i64::MAX,
            },
        ])
    }

    /// Closed at or before the deadline.
    pub(super) fn within(&self) -> Cond {
        Cond::All(vec![
            self.closed(),
            Cond::NotAfter(self.closed_at, self.due),
        ])
    }
}
