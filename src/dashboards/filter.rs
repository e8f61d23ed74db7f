//! Filters given outside a dashboard file — an export's query parameters, a snapshot request's
//! JSON — checked by the same rules as a panel's `query.filter`, with messages instead of
//! `file:line:col` positions.

use serde::Deserialize;
use toml::Spanned;

use super::fields::{self, FieldType};
use super::model::Filter;
use super::spec::FilterSpec;
use crate::domain::Dataset;

/// One test on one field: exactly one of `equals`, `in`, `min`/`max`, `window` (as in a
/// dashboard file), with values as JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    /// The field tested.
    pub field: String,
    /// The field equals this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The field equals one of these values.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<serde_json::Value>>,
    /// The field is at least this (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    /// The field is below this (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    /// A time field lies in a window relative to now (`last 24h`, `today`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

/// Longest text of a filter's field name, value or window.
pub const MAX_FILTER_TEXT: usize = 200;
/// Most values one `in` test may list (every kelurahan of a large kabupaten fits).
pub const MAX_IN_VALUES: usize = 500;

impl FilterInput {
    /// Refuses what no real filter needs and a stored request must not carry: long texts and
    /// long lists (they would be kept with a snapshot and echoed in every listing).
    fn bounded(&self) -> Result<(), String> {
        let field: String = self.field.chars().take(40).collect();
        let long = |v: &serde_json::Value| {
            v.as_str()
                .is_some_and(|t| t.chars().count() > MAX_FILTER_TEXT)
        };
        if self.field.chars().count() > MAX_FILTER_TEXT {
            return Err(format!(
                "a filter's field name is longer than {MAX_FILTER_TEXT} characters ('{field}…')"
            ));
        }
        if let Some(values) = &self.one_of {
            if values.len() > MAX_IN_VALUES {
                return Err(format!(
                    "filter on `{field}`: `in` lists {} values; at most {MAX_IN_VALUES}",
                    values.len()
                ));
            }
        }
        let values = [&self.equals, &self.min, &self.max]
            .into_iter()
            .flatten()
            .chain(self.one_of.iter().flatten());
        let window_long = self
            .window
            .as_ref()
            .is_some_and(|w| w.chars().count() > MAX_FILTER_TEXT);
        if window_long || values.into_iter().any(long) {
            return Err(format!(
                "filter on `{field}`: a value is longer than {MAX_FILTER_TEXT} characters"
            ));
        }
        Ok(())
    }

    /// A filter from the text of a URL query parameter: `field` tested with `op` (`equals` with
    /// one or more values — several mean "one of" —, `min`, `max` or `window`). Each text is read
    /// in the field's type (numbers, `true`/`false`); a time whose `+` offset arrived as a space
    /// (an unencoded `+` in a URL) is mended.
    pub fn from_text(
        dataset: Dataset,
        field: &str,
        op: &str,
        texts: &[String],
    ) -> Result<FilterInput, String> {
        let ty = fields::field(dataset, field).map(|f| f.ty);
        let value = |text: &str| -> serde_json::Value {
            match ty {
                Some(FieldType::Number | FieldType::Hours) => text
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .or_else(|_| text.parse::<f64>().map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::String(text.to_owned())),
                Some(FieldType::Bool) => match text {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => serde_json::Value::String(text.to_owned()),
                },
                Some(FieldType::Time) => {
                    serde_json::Value::String(crate::domain::time::mend_offset(text))
                }
                _ => serde_json::Value::String(text.to_owned()),
            }
        };
        let one = || match texts {
            [text] => Ok(text.as_str()),
            _ => Err(format!(
                "filter `{field}.{op}` takes one value, not {}",
                texts.len()
            )),
        };
        let mut input = FilterInput {
            field: field.to_owned(),
            ..FilterInput::default()
        };
        match op {
            "equals" if texts.len() == 1 => input.equals = Some(value(&texts[0])),
            "equals" => input.one_of = Some(texts.iter().map(|t| value(t)).collect()),
            "min" => input.min = Some(value(one()?)),
            "max" => input.max = Some(value(one()?)),
            "window" => input.window = Some(one()?.to_owned()),
            other => {
                return Err(format!(
                    "unknown filter test `{other}` on `{field}`: use filter.{field}=VALUE (repeat for several), filter.{field}.min=, filter.{field}.max= or filter.{field}.window="
                ))
            }
        }
        Ok(input)
    }

    /// Filters from `FIELD[.TEST]` = value pairs (URL parameters after `filter.`, command-line
    /// `--filter` flags): pairs of one field and test are one filter, several values of
    /// `FIELD` meaning "one of". Every malformed pair is reported.
    pub fn from_pairs(
        dataset: Dataset,
        pairs: &[(String, String)],
    ) -> Result<Vec<FilterInput>, Vec<String>> {
        let mut grouped: std::collections::BTreeMap<(&str, &str), Vec<String>> = Default::default();
        for (key, value) in pairs {
            let (field, test) = key.rsplit_once('.').unwrap_or((key.as_str(), "equals"));
            grouped
                .entry((field, test))
                .or_default()
                .push(value.clone());
        }
        let mut problems = Vec::new();
        let inputs = grouped
            .into_iter()
            .filter_map(|((field, test), values)| {
                FilterInput::from_text(dataset, field, test, &values)
                    .map_err(|e| problems.push(e))
                    .ok()
            })
            .collect();
        if problems.is_empty() {
            Ok(inputs)
        } else {
            Err(problems)
        }
    }

    /// The checked filter on `dataset`, or every problem with it.
    pub fn check(&self, dataset: Dataset) -> Result<Filter, Vec<String>> {
        self.bounded().map_err(|e| vec![e])?;
        let spanned = |v: toml::Value| Spanned::new(0..0, v);
        let convert = |v: &serde_json::Value| -> Result<toml::Value, String> {
            match v {
                serde_json::Value::String(s) => Ok(toml::Value::String(s.clone())),
                serde_json::Value::Bool(b) => Ok(toml::Value::Boolean(*b)),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Ok(toml::Value::Integer(i)),
                    None => Ok(toml::Value::Float(n.as_f64().unwrap_or(f64::NAN))),
                },
                other => Err(format!(
                    "filter on `{}`: a value must be text, a number or true/false, not {other}",
                    self.field
                )),
            }
        };
        let one = |v: &Option<serde_json::Value>| v.as_ref().map(convert).transpose();
        let spec = FilterSpec {
            field: Spanned::new(0..0, self.field.clone()),
            equals: one(&self.equals).map_err(|e| vec![e])?.map(spanned),
            one_of: self
                .one_of
                .as_ref()
                .map(|vs| vs.iter().map(convert).collect::<Result<Vec<_>, _>>())
                .transpose()
                .map_err(|e| vec![e])?
                .map(|vs| Spanned::new(0..0, vs)),
            min: one(&self.min).map_err(|e| vec![e])?.map(spanned),
            max: one(&self.max).map_err(|e| vec![e])?.map(spanned),
            window: self.window.clone().map(|w| Spanned::new(0..0, w)),
        };
        super::validate::check_filter(dataset, &spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::model::{Literal, Test};

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn url_filters_are_read_in_the_fields_types_and_checked() {
        let d = Dataset::Complaints;
        let f = FilterInput::from_text(d, "status", "equals", &texts(&["received", "verified"]))
            .unwrap()
            .check(d)
            .unwrap();
        assert_eq!(
            f.test,
            Test::In(vec![
                Literal::Text("received".into()),
                Literal::Text("verified".into())
            ])
        );
        let f = FilterInput::from_text(d, "rating", "min", &texts(&["3"]))
            .unwrap()
            .check(d)
            .unwrap();
        assert_eq!(
            f.test,
            Test::Range {
                min: Some(Literal::Number(3.0)),
                max: None
            }
        );
        // The `+` of an offset sent unencoded arrives as a space.
        let f = FilterInput::from_text(
            d,
            "created_at",
            "max",
            &texts(&["2026-11-01T00:00:00 07:00"]),
        )
        .unwrap()
        .check(d)
        .unwrap();
        assert_eq!(
            f.test,
            Test::Range {
                min: None,
                max: Some(Literal::Time(1_793_466_000))
            }
        );
    }

    #[test]
    fn wrong_fields_types_and_tests_say_what_is_expected() {
        let d = Dataset::Complaints;
        let err = |field: &str, op: &str, v: &[&str]| -> String {
            match FilterInput::from_text(d, field, op, &texts(v)) {
                Err(e) => e,
                Ok(input) => input.check(d).unwrap_err().join("; "),
            }
        };
        assert!(err("ratting", "equals", &["3"]).contains("unknown field `ratting`"));
        assert!(
            err("rating", "equals", &["abc"]).contains("`rating` takes a number, not `\"abc\"`")
        );
        assert!(err("status", "equals", &["open"]).contains("`open` is not a value of `status`"));
        assert!(err("created_at", "min", &["yesterday"]).contains("a date-time with an offset"));
        assert!(err("category", "min", &["a"]).contains("is a label"));
        assert!(err("status", "like", &["x"]).contains("unknown filter test `like`"));
        assert!(err("rating", "min", &["1", "2"]).contains("takes one value"));
        assert!(err("created_at", "window", &["tomorrow"]).contains("tomorrow"));
    }

    #[test]
    fn long_values_and_long_lists_are_refused() {
        let d = Dataset::Complaints;
        let check = |f: FilterInput| f.check(d).unwrap_err().join("; ");
        let long = "x".repeat(MAX_FILTER_TEXT + 1);
        let equals = FilterInput {
            field: "category".into(),
            equals: Some(serde_json::Value::String(long.clone())),
            ..FilterInput::default()
        };
        assert!(check(equals).contains("longer than 200"));
        let list = FilterInput {
            field: "kelurahan".into(),
            one_of: Some(vec![serde_json::json!("35.75.01.1001"); MAX_IN_VALUES + 1]),
            ..FilterInput::default()
        };
        assert!(check(list).contains("at most 500"));
        let field = FilterInput {
            field: long,
            equals: Some(serde_json::json!("a")),
            ..FilterInput::default()
        };
        assert!(check(field).contains("field name is longer"));
        let fits = FilterInput {
            field: "kelurahan".into(),
            one_of: Some(vec![serde_json::json!("35.75.01.1001"); MAX_IN_VALUES]),
            ..FilterInput::default()
        };
        assert!(fits.check(d).is_ok());
    }
}
