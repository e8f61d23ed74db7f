//! A query's result as the engine gives it and the panel kinds shape it: groups with their
//! decoded key values and their measures.

use chrono::DateTime;
use chrono_tz::Tz;
use serde_json::Value;

/// One group of a result: its key values (decoded) and its measures (as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Group-by values, in `group_by` order, then the bucket start if bucketed (seconds).
    pub keys: Vec<Key>,
    /// Measure values in `measures` order.
    pub values: Vec<Value>,
    /// Rows in the group (for shares and "other").
    pub rows: u64,
}

/// A decoded group-by value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A label (or a number or boolean written out).
    Text(String),
    /// A bucket start, seconds since 1970.
    Time(i64),
    /// No value.
    Missing,
}

impl Key {
    /// The key as text for JSON object keys.
    pub fn text(&self, tz: Tz) -> String {
        match self {
            Key::Text(s) => s.clone(),
            Key::Time(t) => DateTime::from_timestamp(*t, 0)
                .map(|t| crate::domain::format_local(t, tz))
                .unwrap_or_default(),
            Key::Missing => "unknown".to_owned(),
        }
    }
}

/// A measure's number as results carry it: four decimals at most; `null` for NaN and infinities.
pub fn round(v: f64) -> Value {
    if v.is_finite() {
        serde_json::json!((v * 10_000.0).round() / 10_000.0)
    } else {
        Value::Null
    }
}
