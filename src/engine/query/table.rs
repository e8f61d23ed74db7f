//! Table panels: the first rows of a query by a sort field, with their cells.
//!
//! Only rows that can still make the top are read: chunks are visited best first by their
//! range of the sort column, and once `top` rows are held, a chunk whose best value is worse
//! than the last of them is not read at all — the newest ten complaints come from the newest
//! chunk, whatever the history.

use std::cmp::Ordering;

use super::access::{Access, Cols, Int, Scalar};
use super::columns::{parts, Part};
use super::fold::Plan;
use super::*;

/// A table panel's row: its key (`source/source_id`) and its cells by field name.
pub type TableRow = (String, serde_json::Map<String, Value>);

/// A candidate row: its sort value, its key id (ties go in the order keys were first stored),
/// part and row in the part.
type Candidate = (Option<Scalar>, u32, usize, usize);

/// The rows of a table panel: `columns` of the first `top` rows by `sort`, each with its key.
/// Ties go in the order their keys were first stored (the same whether the versions are current,
/// of a moment in the hot window, or read with the history files); rows without a sort value come
/// last.
pub fn table(
    query: &Query,
    columns: &[QueryField],
    sort: Option<&(String, bool)>,
    top: usize,
    frames: &Frames,
    at: &Moment,
) -> Result<Vec<TableRow>, QueryError> {
    let dataset = query.dataset;
    let view = frames.view(dataset);
    let versions = frames.versions(dataset, at)?;
    let parts = parts(view, &versions)?;
    let plan = Plan::rows_only(query, view, at, true);
    let now = at.now.timestamp();
    let by = sort.and_then(|(name, descending)| {
        crate::dashboards::fields::field(dataset, name)
            .map(|f| (Access::of(dataset, &f), *descending))
    });
    let cols: Vec<Cols> = parts
        .iter()
        .map(|p| Cols::new(p, dataset, now))
        .collect::<Result<_, _>>()?;
    let chosen = match by {
        _ if top == 0 => Vec::new(),
        None => first_rows(&plan, &parts, top, now)?,
        Some((access, descending)) => best_rows(
            &plan,
            &parts,
            &cols,
            Ranking {
                access,
                descending,
                top,
            },
            now,
        )?,
    };
    let mut out = Vec::with_capacity(chosen.len());
    let key_col = dataset.schema().fields.len();
    for (_, _, p, i) in chosen {
        let c = &cols[p];
        let key = c
            .col(key_col)
            .int(i)
            .map(|k| row_key_of(view, k as u32))
            .unwrap_or_default();
        let mut values = serde_json::Map::new();
        for f in columns {
            let v = Access::of(dataset, f).read(c, i);
            values.insert(f.name.to_owned(), cell(view, dataset, f, v, at.tz));
        }
        out.push((key, values));
    }
    Ok(out)
}

/// `source/source_id` (or a budget line's key parts) of key id `key_id`.
pub(super) fn row_key_of(view: &TableView, key_id: u32) -> String {
    view.key(key_id)
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join("/")
}

/// The first `top` rows the query reads, in row order.
fn first_rows(
    plan: &Plan,
    parts: &[Part],
    top: usize,
    now: i64,
) -> Result<Vec<Candidate>, QueryError> {
    let selected = plan.select(parts, now)?;
    Ok(selected
        .iter()
        .enumerate()
        .flat_map(|(p, sel)| columns::ones(sel).map(move |i| (None, 0, p, i)))
        .take(top)
        .collect())
}

fn order(descending: bool) -> impl Fn(&Candidate, &Candidate) -> Ordering {
    move |a, b| {
        let by_value = match (a.0, b.0) {
            (Some(x), Some(y)) => {
                let o = compare(x, y);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)))
    }
}

fn compare(a: Scalar, b: Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => x.cmp(&y),
        (x, y) => x.number().total_cmp(&y.number()),
    }
}

/// Whether `v` ranks strictly after `t` (ties may still make the top: they go by key).
fn worse(v: Scalar, t: Scalar, descending: bool) -> bool {
    match compare(v, t) {
        Ordering::Less => descending,
        Ordering::Greater => !descending,
        Ordering::Equal => false,
    }
}

/// Keeps the best `top` of `held` (in order) and gives the value of the last of them.
fn keep_best(
    held: &mut Vec<Candidate>,
    top: usize,
    order: &impl Fn(&Candidate, &Candidate) -> Ordering,
) -> Option<Scalar> {
    if held.len() > top {
        held.select_nth_unstable_by(top - 1, order);
        held.truncate(top);
    }
    held.sort_by(order);
    held.last().and_then(|c| c.0)
}

/// How rows are ranked: by the value of `access`, the `top` first.
#[derive(Clone, Copy)]
struct Ranking {
    access: Access,
    descending: bool,
    top: usize,
}

/// The best rows by `ranking`.
fn best_rows(
    plan: &Plan,
    parts: &[Part],
    cols: &[Cols],
    ranking: Ranking,
    now: i64,
) -> Result<Vec<Candidate>, QueryError> {
    let Ranking {
        access,
        descending,
        top,
    } = ranking;
    let stored = match access {
        Access::Int(Int::Col(c)) | Access::Code(c) => Some(c),
        _ => None,
    };
    // The best value each part could hold; parts whose range is unknown come first.
    let bound = |p: &Part| -> Option<i64> {
        let (min, max) = p.range(stored?)?;
        Some(if descending { max } else { min })
    };
    let mut visit: Vec<usize> = (0..parts.len()).collect();
    visit.sort_by(|&a, &b| match (bound(&parts[a]), bound(&parts[b])) {
        (None, None) => a.cmp(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) if descending => y.cmp(&x).then(a.cmp(&b)),
        (Some(x), Some(y)) => x.cmp(&y).then(a.cmp(&b)),
    });
    if plan.to_date {
        // Budget tables: each line's latest figures need every part at once.
        return best_of_all(plan, parts, cols, ranking, now);
    }
    let order = order(descending);
    let key_col = plan.dataset.schema().fields.len();
    let key_of = |p: usize, i: usize| cols[p].col(key_col).int(i).unwrap_or(0) as u32;
    let mut held: Vec<Candidate> = Vec::new();
    let mut nulls: Vec<Candidate> = Vec::new();
    let mut threshold: Option<Scalar> = None;
    for p in visit {
        if let (Some(b), Some(t)) = (bound(&parts[p]), threshold) {
            // Nothing in this part (nor, parts being sorted, in any later one) can make the top.
            if worse(Scalar::Int(b), t, descending) {
                break;
            }
        }
        let part = &parts[p];
        let mut sel = part.base_words();
        plan.filter.narrow(part, &cols[p], &mut sel);
        for i in columns::ones(&sel) {
            match access.read(&cols[p], i) {
                // A value worse than the last of the best held cannot make the top.
                Some(v) if threshold.is_some_and(|t| worse(v, t, descending)) => {}
                Some(v) => {
                    held.push((Some(v), key_of(p, i), p, i));
                    if held.len() >= 4 * top.max(16) {
                        threshold = keep_best(&mut held, top, &order);
                    }
                }
                None => {
                    // Rows without a value: the first `top` by key, whatever the order parts
                    // are read in (a part without any value is read first).
                    nulls.push((None, key_of(p, i), p, i));
                    if nulls.len() >= 4 * top.max(16) {
                        keep_best(&mut nulls, top, &order);
                    }
                }
            }
        }
        if held.len() >= top {
            threshold = keep_best(&mut held, top, &order);
        }
    }
    held.sort_by(&order);
    nulls.sort_by(&order);
    held.extend(nulls);
    held.truncate(top);
    Ok(held)
}

/// [`best_rows`] over every part's selection at once (budget lines, reduced to each line's latest
/// figures first).
fn best_of_all(
    plan: &Plan,
    parts: &[Part],
    cols: &[Cols],
    by: Ranking,
    now: i64,
) -> Result<Vec<Candidate>, QueryError> {
    let selected = plan.select(parts, now)?;
    let key_col = plan.dataset.schema().fields.len();
    let mut all: Vec<Candidate> = selected
        .iter()
        .enumerate()
        .flat_map(|(p, sel)| columns::ones(sel).map(move |i| (p, i)))
        .map(|(p, i)| {
            let key = cols[p].col(key_col).int(i).unwrap_or(0) as u32;
            (by.access.read(&cols[p], i), key, p, i)
        })
        .collect();
    all.sort_by(order(by.descending));
    all.truncate(by.top);
    Ok(all)
}
