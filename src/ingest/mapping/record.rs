//! Records as sources deliver them: CSV rows, JSON objects, typed rows (SQL, Parquet, XLSX); how a
//! mapping finds a value in each, and the raw payload kept for quarantine.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::convert::Cell;

/// Where a value sits in a record, resolved once per file or per source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// A column position in a tabular record.
    Column(usize),
    /// A key (or a dotted path such as `address.lat`) in a JSON object.
    Key(String),
}

/// A record a mapping can read.
pub trait Fields {
    /// The value at `at`; `None` when absent, null or blank text.
    fn cell(&self, at: &Locator) -> Option<Cell<'_>>;
    /// The record as JSON for the quarantine (`header` names the columns of tabular records).
    fn payload(&self, header: &[String]) -> Value;
    /// Keeps the record as delivered in `holding` until its batch is settled; it becomes a
    /// payload only if it must be quarantined then (a key collision is known only once the batch
    /// is complete).
    fn hold(&self, holding: &mut Holding) -> Held;
}

/// The records of a batch kept as delivered until it is settled. CSV rows are packed into one
/// buffer, with no allocation per row (a file is read at hundreds of thousands of rows a
/// second); JSON objects and typed rows are kept as they are.
#[derive(Debug, Default)]
pub struct Holding {
    /// The CSV records' text, one record after the other.
    text: String,
    /// Where each field ends, from the start of its record.
    ends: Vec<u32>,
}

impl Holding {
    fn csv(&mut self, record: &csv::StringRecord) -> Held {
        let start = self.text.len();
        let first = self.ends.len();
        let text = record.as_slice();
        // A field longer than 4 GiB cannot be read from a CSV file in the first place.
        let ends = (0..record.len()).filter_map(|i| u32::try_from(record.range(i)?.end).ok());
        self.text.push_str(text);
        self.ends.extend(ends);
        Held::Csv {
            start,
            fields: first..self.ends.len(),
            line: record.position().map(csv::Position::line),
        }
    }

    /// Forgets every record (their batch is settled); keeps the buffers' capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Takes `other`'s records after this one's; returns the shift for `other`'s [`Held`]s.
    pub fn append(&mut self, other: Holding) -> Shift {
        let shift = Shift {
            text: self.text.len(),
            ends: self.ends.len(),
        };
        self.text.push_str(&other.text);
        self.ends.extend(other.ends);
        shift
    }
}

/// How far a [`Held`] moved when its holding was appended to another.
#[derive(Debug, Clone, Copy)]
pub struct Shift {
    text: usize,
    ends: usize,
}

/// A record kept as delivered until its batch is settled.
#[derive(Debug, Clone)]
pub enum Held {
    /// A CSV row, packed in its batch's [`Holding`].
    Csv {
        /// Where it starts in the holding's text.
        start: usize,
        /// Its fields' ends (from its start), in the holding.
        fields: std::ops::Range<usize>,
        /// The line of the file it was read from.
        line: Option<u64>,
    },
    /// A JSON object.
    Json(Value),
    /// A typed row (SQL, Parquet, XLSX).
    Typed(TypedRow),
}

impl Held {
    /// The record as JSON for the quarantine; `holding` is its batch's.
    pub fn payload(&self, header: &[String], holding: &Holding) -> Value {
        match self {
            Held::Csv { start, fields, .. } => {
                let mut at = 0;
                let text = &holding.text[*start..];
                by_column(
                    header,
                    holding.ends[fields.clone()].iter().map(|&end| {
                        let field = &text[at..end as usize];
                        at = end as usize;
                        Value::String(field.to_owned())
                    }),
                )
            }
            Held::Json(v) => v.clone(),
            Held::Typed(r) => r.payload(header),
        }
    }

    /// The line of the file it was read from, for CSV records.
    pub fn line(&self) -> Option<u64> {
        match self {
            Held::Csv { line, .. } => *line,
            _ => None,
        }
    }

    /// The same record after its holding was appended to another.
    pub fn shifted(self, shift: Shift) -> Held {
        match self {
            Held::Csv {
                start,
                fields,
                line,
            } => Held::Csv {
                start: start + shift.text,
                fields: fields.start + shift.ends..fields.end + shift.ends,
                line,
            },
            other => other,
        }
    }
}

impl Fields for csv::StringRecord {
    fn cell(&self, at: &Locator) -> Option<Cell<'_>> {
        match at {
            Locator::Column(i) => self
                .get(*i)
                .filter(|t| !t.trim().is_empty())
                .map(Cell::Text),
            Locator::Key(_) => None,
        }
    }

    fn payload(&self, header: &[String]) -> Value {
        by_column(header, self.iter().map(|v| Value::String(v.to_owned())))
    }

    fn hold(&self, holding: &mut Holding) -> Held {
        holding.csv(self)
    }
}

impl Fields for Value {
    fn cell(&self, at: &Locator) -> Option<Cell<'_>> {
        let Locator::Key(key) = at else {
            return None;
        };
        let value = lookup(self, key)?;
        json_cell(value)
    }

    fn payload(&self, _header: &[String]) -> Value {
        self.clone()
    }

    fn hold(&self, _holding: &mut Holding) -> Held {
        Held::Json(self.clone())
    }
}

/// A tabular record as a JSON object by column name (`column_N` past the header's end).
fn by_column(header: &[String], values: impl Iterator<Item = Value>) -> Value {
    let mut object = Map::new();
    for (i, value) in values.enumerate() {
        let key = header
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("column_{}", i + 1));
        object.insert(key, value);
    }
    Value::Object(object)
}

/// A JSON value as a cell (objects and arrays are not single values).
fn json_cell(value: &Value) -> Option<Cell<'_>> {
    match value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(Cell::Text(s)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::Bool(b) => Some(Cell::Bool(*b)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `key` in an object: exact, then as a dotted path, then ignoring case (CSV headers in a
/// quarantined payload may differ in case from the mapping's column names).
pub fn lookup<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    if let Some(v) = object.get(key) {
        return Some(v);
    }
    if key.contains('.') {
        let mut at = value;
        for part in key.split('.') {
            at = match at {
                Value::Object(o) => o.get(part)?,
                Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        return Some(at);
    }
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// An owned typed value, for rows read from SQL, Parquet or spreadsheets.
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    /// Text.
    Text(String),
    /// Whole number.
    Int(i64),
    /// Floating-point number.
    Float(f64),
    /// Yes/no.
    Bool(bool),
    /// A typed point in time.
    Time(DateTime<Utc>),
}

impl Owned {
    fn cell(&self) -> Option<Cell<'_>> {
        match self {
            Owned::Text(t) if t.trim().is_empty() => None,
            Owned::Text(t) => Some(Cell::Text(t)),
            Owned::Int(i) => Some(Cell::Int(*i)),
            Owned::Float(f) => Some(Cell::Float(*f)),
            Owned::Bool(b) => Some(Cell::Bool(*b)),
            Owned::Time(t) => Some(Cell::Time(*t)),
        }
    }

    fn json(&self) -> Value {
        match self {
            Owned::Text(t) => Value::String(t.clone()),
            Owned::Int(i) => Value::from(*i),
            Owned::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Owned::Bool(b) => Value::Bool(*b),
            Owned::Time(t) => Value::String(t.to_rfc3339()),
        }
    }
}

/// A typed row: one optional value per column.
pub type TypedRow = Vec<Option<Owned>>;

impl Fields for TypedRow {
    fn cell(&self, at: &Locator) -> Option<Cell<'_>> {
        match at {
            Locator::Column(i) => self.get(*i)?.as_ref()?.cell(),
            Locator::Key(_) => None,
        }
    }

    fn payload(&self, header: &[String]) -> Value {
        by_column(
            header,
            self.iter()
                .map(|v| v.as_ref().map_or(Value::Null, Owned::json)),
        )
    }

    fn hold(&self, _holding: &mut Holding) -> Held {
        Held::Typed(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lookup_by_key_path_and_case() {
        let v: Value = serde_json::json!({"a": {"b": [10, 20]}, "Status": "open", "x": ""});
        assert_eq!(lookup(&v, "a.b.1"), Some(&Value::from(20)));
        assert_eq!(lookup(&v, "status"), Some(&Value::from("open")));
        assert_eq!(v.cell(&Locator::Key("x".into())), None, "blank is absent");
        assert_eq!(v.cell(&Locator::Key("a.b.0".into())), Some(Cell::Int(10)));
    }
}
