//! What an export request asks for, as `KEY=VALUE` pairs — the HTTP query string and the
//! arguments of `pantau export` both become these pairs and are checked by [`ExportQuery::parse`],
//! so the two accept exactly the same things and refuse them with the same words.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{ExportError, Format};
use crate::dashboards::FilterInput;
use crate::domain::Dataset;

/// Longest value of one parameter (`columns` may be longer: it lists names).
pub const MAX_TEXT: usize = 200;
/// Most filters one request may give.
pub const MAX_FILTERS: usize = 32;
/// Most columns one request may name.
pub const MAX_COLUMNS: usize = 64;

/// The parameters a dataset export takes (`filter.FIELD[.TEST]` stands for every filter).
pub const DATASET_PARAMS: &[&str] = &["format", "as_of", "columns", "limit", "filter", "token"];
/// The parameters a panel export takes.
pub const PANEL_PARAMS: &[&str] = &["format", "as_of", "scope", "limit", "token"];
/// The parameters a snapshot's export takes.
pub const SNAPSHOT_PARAMS: &[&str] = &["format", "panel", "limit", "token"];

/// A checked export request.
#[derive(Debug, Default, Clone)]
pub struct ExportQuery {
    /// `format`; CSV when not given.
    pub format: Option<Format>,
    /// `as_of`: the state at this moment.
    pub as_of: Option<DateTime<Utc>>,
    /// `columns`: only these, in this order.
    pub columns: Option<Vec<String>>,
    /// `limit`: at most this many rows.
    pub limit: Option<u64>,
    /// `scope` of a panel export: `result` or `rows`.
    pub scope: Option<String>,
    /// `panel` of a dashboard snapshot's export.
    pub panel: Option<String>,
    /// `filter.FIELD[.TEST]=VALUE`, read against the dataset.
    pub filters: Vec<FilterInput>,
    /// The filters as given, for the file's metadata and the snapshot record.
    pub given: Vec<(String, String)>,
}

fn bad(message: impl Into<String>) -> ExportError {
    ExportError::BadQuery(message.into())
}

/// An `as_of` that is not a time is a bad query; one outside what the store holds is out of range.
pub(crate) fn as_of_error(e: crate::domain::InstantError) -> ExportError {
    match e {
        crate::domain::InstantError::OutOfRange(m) => ExportError::AsOf(format!("as_of: {m}")),
        crate::domain::InstantError::NotATime(m) => bad(format!("as_of: {m}")),
    }
}

/// The start of a client's text, for messages.
pub(crate) fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

impl ExportQuery {
    /// Checks `pairs` against the parameters `allowed` (filters need a `dataset`); `zone` reads
    /// local `as_of` times. Anything unknown is refused by name.
    pub fn parse(
        pairs: &[(String, String)],
        allowed: &[&str],
        dataset: Option<Dataset>,
        zone: Tz,
    ) -> Result<ExportQuery, ExportError> {
        let mut out = ExportQuery::default();
        let mut tests: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in pairs {
            if value.chars().count() > MAX_TEXT && key != "columns" {
                return Err(bad(format!(
                    "parameter `{}` is longer than {MAX_TEXT} characters",
                    clip(key)
                )));
            }
            if let Some(rest) = key.strip_prefix("filter.") {
                if dataset.is_none() || !allowed.contains(&"filter") {
                    return Err(bad("filters are not taken here"));
                }
                out.given.push((key.clone(), value.clone()));
                tests.push((rest.to_owned(), value.clone()));
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown parameter `{}`: this endpoint takes {}",
                    clip(key),
                    allowed.join(", ")
                )));
            }
            // Which of two values was meant is not for the server to guess (a link edited by hand,
            // a script that appends): a parameter given twice is refused, not read as the last one.
            if key != "token" {
                if seen.contains(&key.as_str()) {
                    return Err(bad(format!("parameter `{key}` is given more than once")));
                }
                seen.push(key.as_str());
            }
            match key.as_str() {
                "format" => out.format = Some(Format::parse(value)?),
                "as_of" => {
                    out.as_of =
                        Some(crate::domain::parse_instant(value, zone).map_err(as_of_error)?)
                }
                "columns" => {
                    let names: Vec<String> = value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if names.len() > MAX_COLUMNS {
                        return Err(bad(format!("at most {MAX_COLUMNS} columns")));
                    }
                    out.columns = Some(names);
                }
                "limit" => {
                    let n: u64 = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        bad(format!(
                            "limit must be a whole number from 1, not `{}`",
                            clip(value)
                        ))
                    })?;
                    out.limit = Some(n);
                }
                "scope" => out.scope = Some(value.clone()),
                "panel" => out.panel = Some(value.clone()),
                // `token` authenticates the request; it is read by the access check.
                _ => {}
            }
        }
        if let Some(dataset) = dataset {
            out.filters = FilterInput::from_pairs(dataset, &tests)
                .map_err(|problems| bad(problems.join("; ")))?;
            if out.filters.len() > MAX_FILTERS {
                return Err(bad(format!("at most {MAX_FILTERS} filters")));
            }
        }
        Ok(out)
    }

    /// The format to write: the one asked for, else CSV.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(Format::Csv)
    }

    /// The pairs that ask a server for this dataset export (`pantau export --url`).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![("format".to_owned(), self.format().extension().to_owned())];
        if let Some(at) = self.as_of {
            pairs.push(("as_of".to_owned(), at.to_rfc3339()));
        }
        if let Some(columns) = &self.columns {
            pairs.push(("columns".to_owned(), columns.join(",")));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit".to_owned(), limit.to_string()));
        }
        pairs.extend(self.given.iter().cloned());
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_dataset_query_is_read_and_given_back_as_the_same_pairs() {
        let given = pairs(&[
            ("format", "parquet"),
            ("as_of", "2026-11-27T08:00"),
            ("columns", "source, status"),
            ("limit", "10"),
            ("filter.status", "resolved"),
        ]);
        let q = ExportQuery::parse(
            &given,
            DATASET_PARAMS,
            Some(Dataset::Complaints),
            crate::domain::DEFAULT_TIME_ZONE,
        )
        .unwrap();
        assert_eq!(q.format(), Format::Parquet);
        assert_eq!(q.as_of.unwrap().to_rfc3339(), "2026-11-27T01:00:00+00:00");
        assert_eq!(q.columns.as_deref().unwrap(), ["source", "status"]);
        assert_eq!(q.filters.len(), 1);
        let again = ExportQuery::parse(
            &q.to_pairs(),
            DATASET_PARAMS,
            Some(Dataset::Complaints),
            crate::domain::DEFAULT_TIME_ZONE,
        )
        .unwrap();
        assert_eq!(again.to_pairs(), q.to_pairs());
    }

    #[test]
    fn unknown_and_misplaced_parameters_are_refused_by_name() {
        let zone = crate::domain::DEFAULT_TIME_ZONE;
        let err =
            ExportQuery::parse(&pairs(&[("fromat", "csv")]), PANEL_PARAMS, None, zone).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown parameter `fromat`: this endpoint takes format, as_of, scope, limit, token"
        );
        let err = ExportQuery::parse(&pairs(&[("filter.status", "x")]), PANEL_PARAMS, None, zone)
            .unwrap_err();
        assert_eq!(err.to_string(), "filters are not taken here");
        let err =
            ExportQuery::parse(&pairs(&[("limit", "0")]), PANEL_PARAMS, None, zone).unwrap_err();
        assert!(err.to_string().starts_with("limit must be a whole number"));
        let twice = pairs(&[("as_of", "2018-12-31T02:00"), ("as_of", "2019-01-01T02:00")]);
        let err = ExportQuery::parse(&twice, PANEL_PARAMS, None, zone).unwrap_err();
        assert_eq!(err.to_string(), "parameter `as_of` is given more than once");
    }
}
