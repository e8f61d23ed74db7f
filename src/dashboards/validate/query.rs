//! Validation of a panel's query: dataset, filters (values checked against each field's type),
//! group-by, buckets and measures, and the budget rule (one hierarchy level per sum).

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::{valid_id, Problems};
use crate::dashboards::fields::{self, FieldType, QueryField};
use crate::dashboards::model::*;
use crate::dashboards::spec::{self, QuerySpec, Text};
use crate::dashboards::window::{parse_duration, BucketSize, Window};
use crate::domain::Dataset;

pub(super) fn unknown_field(dataset: Dataset, name: &str) -> String {
    let names: Vec<&str> = fields::fields(dataset).iter().map(|f| f.name).collect();
    format!(
        "unknown field `{name}` of {}: one of {}",
        dataset.name(),
        names.join(", ")
    )
}

pub(super) fn validate_query(spec: &QuerySpec, p: &mut Problems) -> Option<Query> {
    let Some(dataset) = Dataset::from_name(spec.dataset.get_ref()) else {
        p.at(
            &spec.dataset,
            format!(
                "unknown dataset `{}`: use complaints, budget_lines or service_events",
                spec.dataset.get_ref()
            ),
        );
        return None;
    };
    let field = |p: &mut Problems, name: &Spanned<String>| {
        let f = fields::field(dataset, name.get_ref());
        if f.is_none() {
            p.at(name, unknown_field(dataset, name.get_ref()));
        }
        f
    };
    let filters: Vec<Filter> = spec
        .filter
        .iter()
        .filter_map(|f| validate_filter(dataset, f, p))
        .collect();
    let group_by: Vec<QueryField> = spec
        .group_by
        .iter()
        .filter_map(|name| {
            let f = field(p, name)?;
            if matches!(f.ty, FieldType::Time | FieldType::Hours | FieldType::Money) {
                p.at(
                    name,
                    format!("cannot group by `{}` ({:?}): group by labels, booleans or numbers; use `bucket` for time", f.name, f.ty),
                );
            }
            Some(f)
        })
        .collect();
    if group_by.len() > 3 {
        p.at(&spec.group_by[3], "group by at most three fields");
    }
    let bucket = spec.bucket.as_ref().and_then(|b| {
        let f = field(p, &b.field)?;
        if f.ty != FieldType::Time {
            p.at(&b.field, format!("`{}` is not a time field", f.name));
        }
        let size = BucketSize::parse(b.size.get_ref())
            .map_err(|e| p.at(&b.size, e))
            .ok()?;
        Some(Bucket { field: f, size })
    });
    let mut ids = BTreeSet::new();
    let mut measures = Vec::new();
    for m in &spec.measures {
        if !valid_id(m.id.get_ref(), "_") {
            p.at(&m.id, "a measure id is 1-64 of a-z, 0-9 and _");
        }
        if !ids.insert(m.id.get_ref().clone()) {
            p.at(
                &m.id,
                format!("measure id `{}` is used twice", m.id.get_ref()),
            );
        }
        if let Some(m) = validate_measure(dataset, m, &filters, p) {
            measures.push(m);
        }
    }
    let query = Query {
        dataset,
        filters,
        group_by,
        bucket,
        measures,
    };
    if dataset == Dataset::BudgetLines {
        check_budget_levels(spec, &query, p);
    }
    Some(query)
}

/// Budget lines nest (OPD → program → kegiatan → …): summing money over more than one level
/// counts the same rupiah several times, so such a query must pin one level.
fn check_budget_levels(spec: &QuerySpec, q: &Query, p: &mut Problems) {
    let sums_money = q.measures.iter().any(|m| {
        matches!(m.func, Func::Serapan | Func::PlanPct | Func::Deviation)
            || (matches!(m.func, Func::Sum | Func::Avg)
                && m.of.is_some_and(|f| f.ty == FieldType::Money))
    });
    let pinned = q.filters.iter().any(|f| {
        f.field.name == "level" && matches!(&f.test, Test::In(values) if values.len() == 1)
    }) || q.group_by.iter().any(|f| f.name == "level");
    if sums_money && !pinned {
        p.at(
            &spec.dataset,
            "budget sums need one hierarchy level: add a filter `{ field = \"level\", equals = N }` \
             (or group by level), else parents and children are counted twice",
        );
    }
}

/// A filter checked outside a file: its problems as messages.
pub(crate) fn check_filter(
    dataset: Dataset,
    spec: &spec::FilterSpec,
) -> Result<Filter, Vec<String>> {
    let mut p = Problems::default();
    match validate_filter(dataset, spec, &mut p) {
        Some(f) if p.0.is_empty() => Ok(f),
        _ => Err(p.0.into_iter().map(|problem| problem.message).collect()),
    }
}

fn validate_filter(dataset: Dataset, spec: &spec::FilterSpec, p: &mut Problems) -> Option<Filter> {
    let field = fields::field(dataset, spec.field.get_ref());
    let Some(field) = field else {
        p.at(&spec.field, unknown_field(dataset, spec.field.get_ref()));
        return None;
    };
    let given = [
        spec.equals.is_some(),
        spec.one_of.is_some(),
        spec.min.is_some() || spec.max.is_some(),
        spec.window.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        p.at(
            &spec.field,
            "a filter takes exactly one of `equals`, `in`, `min`/`max` or `window`",
        );
        return None;
    }
    let test = if let Some(v) = &spec.equals {
        Test::In(vec![literal(&field, v.get_ref(), v.span(), p)?])
    } else if let Some(vs) = &spec.one_of {
        if vs.get_ref().is_empty() {
            p.at(vs, "`in` needs at least one value");
        }
        let values: Vec<Option<Literal>> = vs
            .get_ref()
            .iter()
            .map(|v| literal(&field, v, vs.span(), p))
            .collect();
        Test::In(values.into_iter().collect::<Option<Vec<_>>>()?)
    } else if let Some(w) = &spec.window {
        if field.ty != FieldType::Time {
            p.at(
                w,
                format!("a window needs a time field; `{}` is not one", field.name),
            );
            return None;
        }
        Test::Window(Window::parse(w.get_ref()).map_err(|e| p.at(w, e)).ok()?)
    } else {
        if matches!(field.ty, FieldType::Label | FieldType::Bool) {
            p.at(
                &spec.field,
                format!(
                    "`{}` is a label: use `equals` or `in`, not min/max",
                    field.name
                ),
            );
            return None;
        }
        let bound = |b: &Option<Spanned<toml::Value>>, p: &mut Problems| match b {
            Some(v) => literal(&field, v.get_ref(), v.span(), p).map(Some),
            None => Some(None),
        };
        Test::Range {
            min: bound(&spec.min, p)?,
            max: bound(&spec.max, p)?,
        }
    };
    Some(Filter { field, test })
}

/// A filter value in the field's type, or a problem saying what was expected.
fn literal(
    field: &QueryField,
    value: &toml::Value,
    span: Range<usize>,
    p: &mut Problems,
) -> Option<Literal> {
    let wrong = |p: &mut Problems, expected: &str| {
        p.near(
            Some(span.clone()),
            format!("`{}` takes {expected}, not `{value}`", field.name),
        );
        None
    };
    match (field.ty, value) {
        (FieldType::Label, toml::Value::String(s)) => {
            if let Some(words) = field.words {
                if !words.contains(&s.as_str()) {
                    p.near(
                        Some(span),
                        format!(
                            "`{s}` is not a value of `{}`: one of {}",
                            field.name,
                            words.join(", ")
                        ),
                    );
                    return None;
                }
            }
            Some(Literal::Text(s.clone()))
        }
        (FieldType::Label, _) => wrong(p, "text"),
        (FieldType::Bool, toml::Value::Boolean(b)) => Some(Literal::Bool(*b)),
        (FieldType::Bool, _) => wrong(p, "true or false"),
        (FieldType::Number | FieldType::Hours, toml::Value::Integer(i)) => {
            Some(Literal::Number(*i as f64))
        }
        (FieldType::Number | FieldType::Hours, toml::Value::Float(f)) => Some(Literal::Number(*f)),
        (FieldType::Number | FieldType::Hours, _) => wrong(p, "a number"),
        (FieldType::Money, toml::Value::Integer(i)) => i
            .checked_mul(100)
            .map(Literal::Money)
            .or_else(|| wrong(p, "an amount in Rupiah that fits")),
        (FieldType::Money, toml::Value::String(s)) => {
            match crate::domain::Rupiah::parse(s, crate::domain::NumberStyle::Auto) {
                Ok(r) => Some(Literal::Money(r.sen())),
                Err(e) => wrong(p, &format!("an amount in Rupiah ({e})")),
            }
        }
        (FieldType::Money, _) => wrong(p, "an amount in Rupiah"),
        (FieldType::Time, toml::Value::Datetime(d)) => {
            match chrono::DateTime::parse_from_rfc3339(&d.to_string()) {
                Ok(t) => Some(Literal::Time(t.timestamp())),
                Err(_) => wrong(p, "a date-time with an offset (2026-11-01T00:00:00+07:00)"),
            }
        }
        (FieldType::Time, toml::Value::String(s)) => {
            match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(Literal::Time(t.timestamp())),
                Err(_) => wrong(p, "a date-time with an offset (2026-11-01T00:00:00+07:00)"),
            }
        }
        (FieldType::Time, _) => wrong(p, "a date-time with an offset"),
    }
}

fn validate_measure(
    dataset: Dataset,
    spec: &spec::MeasureSpec,
    filters: &[Filter],
    p: &mut Problems,
) -> Option<Measure> {
    let Some(func) = Func::parse(spec.func.get_ref()) else {
        p.at(
            &spec.func,
            format!(
                "unknown measure `{}`: count, sum, avg, min, max, median, p90, count_distinct, \
                 rate_per_hour, share, sla_breached, sla_at_risk, sla_within_pct, \
                 time_to_first_response, serapan, plan_pct or deviation",
                spec.func.get_ref()
            ),
        );
        return None;
    };
    let of = match (&spec.of, func.needs_field()) {
        (Some(name), true) => {
            let f = fields::field(dataset, name.get_ref());
            match f {
                None => {
                    p.at(name, unknown_field(dataset, name.get_ref()));
                    return None;
                }
                Some(f) => {
                    let fits = match func {
                        Func::CountDistinct => true,
                        Func::Min | Func::Max => f.ty.is_numeric() || f.ty == FieldType::Time,
                        _ => f.ty.is_numeric(),
                    };
                    if !fits {
                        p.at(
                            name,
                            format!(
                                "`{}` cannot take `{}` ({:?}): it needs a number, money or duration",
                                spec.func.get_ref(),
                                f.name,
                                f.ty
                            ),
                        );
                        return None;
                    }
                    Some(f)
                }
            }
        }
        (None, true) => {
            p.at(
                &spec.func,
                format!("`{}` needs `of = \"field\"`", spec.func.get_ref()),
            );
            return None;
        }
        (Some(name), false) => {
            p.at(
                name,
                format!("`{}` reads no field; drop `of`", spec.func.get_ref()),
            );
            return None;
        }
        (None, false) => None,
    };
    let sla = matches!(
        func,
        Func::SlaBreached | Func::SlaAtRisk | Func::SlaWithinPct
    );
    if sla && !fields::sla_support(dataset) {
        p.at(
            &spec.func,
            format!(
                "SLA measures need complaints or service_events, not {}",
                dataset.name()
            ),
        );
    }
    if func == Func::TimeToFirstResponse && dataset != Dataset::Complaints {
        p.at(&spec.func, "time_to_first_response is a complaints measure");
    }
    if matches!(func, Func::Serapan | Func::PlanPct | Func::Deviation)
        && dataset != Dataset::BudgetLines
    {
        p.at(
            &spec.func,
            format!("`{}` is a budget_lines measure", spec.func.get_ref()),
        );
    }
    if func == Func::RatePerHour && !filters.iter().any(|f| matches!(f.test, Test::Window(_))) {
        p.at(
            &spec.func,
            "rate_per_hour needs a `window` filter to divide by",
        );
    }
    let within_secs = match (&spec.within, func) {
        (Some(w), Func::SlaAtRisk) => {
            Some(parse_duration(w.get_ref()).map_err(|e| p.at(w, e)).ok()?)
        }
        (None, Func::SlaAtRisk) => {
            p.at(&spec.func, "sla_at_risk needs `within` (e.g. \"4h\")");
            return None;
        }
        (Some(w), _) => {
            p.at(w, "`within` belongs to sla_at_risk only");
            return None;
        }
        (None, _) => None,
    };
    Some(Measure {
        id: spec.id.get_ref().clone(),
        func,
        of,
        within_secs,
        title: spec.title.clone().unwrap_or_else(|| Text {
            id: spec.id.get_ref().clone(),
            en: spec.id.get_ref().clone(),
        }),
    })
}
