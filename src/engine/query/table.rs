//! Table panels: the first rows of a query by a sort field, with their cells.

use super::*;

/// A table panel's row: its key (`source/source_id`) and its cells by field name.
pub type TableRow = (String, serde_json::Map<String, Value>);

/// The rows of a table panel: `columns` of the first `top` rows by `sort`, each with its key.
pub fn table(
    query: &Query,
    columns: &[QueryField],
    sort: Option<&(String, bool)>,
    top: usize,
    frames: &Frames,
    at: &Moment,
) -> Result<Vec<TableRow>, QueryError> {
    let now = at.now.timestamp();
    let view = frames.view(query.dataset);
    let mut lf = rows(query, frames, at)?;
    let mut select: Vec<Expr> = vec![col(KEY_ID)];
    select.extend(
        columns
            .iter()
            .map(|f| value(query.dataset, f, now).alias(name(f))),
    );
    if let Some((by, descending)) = sort {
        if let Some(f) = crate::dashboards::fields::field(query.dataset, by) {
            if let Some(name) = stored_time(query.dataset, &f) {
                lf = beyond_top_time(lf, name, *descending, top)?;
            } else if matches!(
                f.ty,
                FieldType::Number | FieldType::Hours | FieldType::Money
            ) {
                lf = beyond_top(lf, value(query.dataset, &f, now), *descending, top)?;
            }
            lf = lf.sort_by_exprs(
                [value(query.dataset, &f, now)],
                SortMultipleOptions::default()
                    .with_order_descending(*descending)
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            );
        }
    }
    let frame = lf.limit(top as IdxSize).select(select).collect()?;
    let key_ids = frame.column(KEY_ID)?.u32()?.clone();
    let mut out = Vec::with_capacity(frame.height());
    for (row, key_id) in key_ids.into_iter().enumerate() {
        let key = key_id
            .map(|k| {
                view.key(k)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        let mut values = serde_json::Map::new();
        for f in columns {
            let v = frame.column(f.name)?.get(row)?;
            values.insert(f.name.to_owned(), cell(view, query.dataset, f, &v, at.tz));
        }
        out.push((key, values));
    }
    Ok(out)
}

/// Keeps only the rows whose sort value is at least as good as the `top`-th best, so the sort
/// that follows orders a handful of rows instead of the whole table (ties are all kept).
fn beyond_top(
    lf: LazyFrame,
    key: Expr,
    descending: bool,
    top: usize,
) -> Result<LazyFrame, QueryError> {
    let keys = lf
        .clone()
        .select([key.clone().cast(DataType::Float64).alias("_sort")])
        .collect()?;
    let mut values: Vec<f64> = keys.column("_sort")?.f64()?.into_iter().flatten().collect();
    if top == 0 || values.len() <= top {
        return Ok(lf);
    }
    let nth = top - 1;
    let threshold = if descending {
        *values.select_nth_unstable_by(nth, |a, b| b.total_cmp(a)).1
    } else {
        *values.select_nth_unstable_by(nth, f64::total_cmp).1
    };
    let key = key.cast(DataType::Float64);
    Ok(lf.filter(if descending {
        key.gt_eq(lit(threshold))
    } else {
        key.lt_eq(lit(threshold))
    }))
}

/// [`beyond_top`] for a stored time column, read as stored (u32 seconds): no 64-bit copy.
fn beyond_top_time(
    lf: LazyFrame,
    name: &'static str,
    descending: bool,
    top: usize,
) -> Result<LazyFrame, QueryError> {
    let keys = lf.clone().select([col(name)]).collect()?;
    let mut values: Vec<u32> = keys.column(name)?.u32()?.into_iter().flatten().collect();
    if top == 0 || values.len() <= top {
        return Ok(lf);
    }
    let nth = top - 1;
    let threshold = if descending {
        *values.select_nth_unstable_by(nth, |a, b| b.cmp(a)).1
    } else {
        *values.select_nth_unstable(nth).1
    };
    Ok(lf.filter(if descending {
        col(name).gt_eq(lit(threshold))
    } else {
        col(name).lt_eq(lit(threshold))
    }))
}
