//! Reading one source value as a typed value: text, numbers in Indonesian or English style,
//! timestamps with or without a zone, booleans in Indonesian or English, Rupiah amounts.
//!
//! Every failure is a sentence a person can act on, quoting (a bounded part of) the value.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::format::{Item, ParseResult, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::{NumberStyle, Rupiah};

/// One value as a source delivered it; an absent or empty value is `None` at the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Text (CSV cells, JSON strings, text columns).
    Text(&'a str),
    /// An integer (JSON, SQL, Parquet, XLSX).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A point in time the source already typed (SQL timestamps, Parquet datetimes, XLSX dates).
    Time(DateTime<Utc>),
}

/// Timestamps tried, in order, when a field names no format: ISO-8601/RFC 3339 and the usual
/// spreadsheet and database spellings.
const DEFAULT_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
];

/// Longest part of a value quoted in an error message.
const QUOTE_CHARS: usize = 60;

/// `value` shortened for an error message.
pub fn quote(value: &str) -> String {
    let mut out: String = value.chars().take(QUOTE_CHARS).collect();
    if value.chars().count() > QUOTE_CHARS {
        out.push('…');
    }
    out
}

impl Cell<'_> {
    /// The value as text (numbers in their plain English spelling).
    pub fn text(&self) -> String {
        match *self {
            Cell::Text(t) => t.trim().to_owned(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Time(t) => t.to_rfc3339(),
        }
    }

    /// True for text that is empty after trimming (treated as absent).
    pub fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(t) if t.trim().is_empty())
    }

    /// The value as a floating-point number.
    pub fn float(&self, style: NumberStyle) -> Result<f64, String> {
        match *self {
            Cell::Int(i) => Ok(i as f64),
            Cell::Float(f) if f.is_finite() => Ok(f),
            Cell::Float(f) => Err(format!("{f} is not a finite number")),
            Cell::Text(t) => parse_number(t, style),
            Cell::Bool(_) | Cell::Time(_) => Err(format!("{} is not a number", self.text())),
        }
    }

    /// The value as a whole number.
    pub fn int(&self, style: NumberStyle) -> Result<i64, String> {
        match *self {
            Cell::Int(i) => Ok(i),
            _ => {
                let f = self.float(style)?;
                if f.fract() != 0.0 || f.abs() > 9.0e15 {
                    return Err(format!("'{}' is not a whole number", quote(&self.text())));
                }
                Ok(f as i64)
            }
        }
    }

    /// The value as a Rupiah amount, exact to the sen.
    pub fn money(&self, style: NumberStyle) -> Result<Rupiah, String> {
        match *self {
            Cell::Int(i) => Rupiah::from_rupiah(i).ok_or_else(|| format!("{i} is too large")),
            // Binary floats are exact to the sen only below 2^53 sen; larger amounts must come as text.
            Cell::Float(f) if f.is_finite() && (f * 100.0).abs() < 9.0e15 => {
                Ok(Rupiah::from_sen((f * 100.0).round() as i64))
            }
            Cell::Float(f) => Err(format!(
                "{f} cannot be read exactly as a number; send large amounts as text"
            )),
            Cell::Text(t) => Rupiah::parse(t, style).map_err(|e| e.to_string()),
            Cell::Bool(_) | Cell::Time(_) => Err(format!("{} is not an amount", self.text())),
        }
    }

    /// The value as a yes/no flag (`true/false`, `ya/tidak`, `y/n`, `1/0`).
    pub fn flag(&self) -> Result<bool, String> {
        match *self {
            Cell::Bool(b) => Ok(b),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            Cell::Text(t) => match t.trim().to_lowercase().as_str() {
                "true" | "ya" | "y" | "yes" | "1" | "benar" => Ok(true),
                "false" | "tidak" | "n" | "no" | "0" | "salah" => Ok(false),
                _ => Err(format!("'{}' is not yes or no", quote(t))),
            },
            _ => Err(format!("{} is not yes or no", self.text())),
        }
    }

    /// The value as a point in time. Text is read with `formats` in order (defaults when empty);
    /// a format without an offset reads local time in `zone`.
    pub fn time(&self, formats: &[String], zone: Tz) -> Result<DateTime<Utc>, String> {
        match *self {
            Cell::Time(t) => Ok(t),
            Cell::Int(i) => unix(i, formats),
            Cell::Float(f) if f.fract() == 0.0 => unix(f as i64, formats),
            Cell::Text(t) => parse_time(t.trim(), formats, zone),
            _ => Err(format!("{} is not a time", self.text())),
        }
    }
}

/// Seconds (or milliseconds, with format `unix_ms`) since 1970 as a time.
fn unix(value: i64, formats: &[String]) -> Result<DateTime<Utc>, String> {
    let millis = formats.iter().any(|f| f == "unix_ms");
    let at = if millis {
        DateTime::from_timestamp_millis(value)
    } else {
        DateTime::from_timestamp(value, 0)
    };
    at.ok_or_else(|| format!("{value} is outside the supported time range"))
}

/// Reads a timestamp in the first format that fits.
pub fn parse_time(text: &str, formats: &[String], zone: Tz) -> Result<DateTime<Utc>, String> {
    if formats.is_empty() {
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(at.with_timezone(&Utc));
        }
        for format in DEFAULT_TIME_FORMATS {
            if let Some(local) = parse_with(text, format, |p| p.to_naive_datetime_with_offset(0)) {
                return localise(local, zone, text);
            }
        }
        if let Some(day) = parse_with(text, "%Y-%m-%d", Parsed::to_naive_date) {
            return localise(day.and_time(Default::default()), zone, text);
        }
        return Err(format!(
            "'{}' is not an ISO-8601 time (name its format in the mapping)",
            quote(text)
        ));
    }
    for format in formats {
        match format.as_str() {
            "rfc3339" | "iso8601" => {
                if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                    return Ok(at.with_timezone(&Utc));
                }
            }
            "unix" | "unix_ms" => {
                if let Ok(value) = text.parse::<i64>() {
                    return unix(value, std::slice::from_ref(format));
                }
            }
            f if f.contains("%z") || f.contains("%:z") || f.contains("%#z") => {
                if let Some(at) = parse_with(text, f, Parsed::to_datetime) {
                    return Ok(at.with_timezone(&Utc));
                }
            }
            f if has_time(f) => {
                if let Some(local) = parse_with(text, f, |p| p.to_naive_datetime_with_offset(0)) {
                    return localise(local, zone, text);
                }
            }
            f => {
                if let Some(day) = parse_with(text, f, Parsed::to_naive_date) {
                    return localise(day.and_time(Default::default()), zone, text);
                }
            }
        }
    }
    Err(format!(
        "'{}' does not match {}",
        quote(text),
        formats.join(" or ")
    ))
}

thread_local! {
    /// Formats read once into chrono's items: a file names a few and parses them for millions of
    /// cells (reading the format again for every cell was a tenth of an import's time).
    static ITEMS: RefCell<HashMap<String, Vec<Item<'static>>>> = RefCell::new(HashMap::new());
}

/// `text` read with the strftime `format` and made a value by `finish` (as chrono's
/// `parse_from_str` does); `None` when it does not match or the format is not valid.
fn parse_with<T>(
    text: &str,
    format: &str,
    finish: impl FnOnce(&Parsed) -> ParseResult<T>,
) -> Option<T> {
    ITEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let items = match cache.get(format) {
            Some(items) => items,
            None => {
                let items = StrftimeItems::new(format).parse_to_owned().ok()?;
                cache.entry(format.to_owned()).or_insert(items)
            }
        };
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
        finish(&parsed).ok()
    })
}

fn has_time(format: &str) -> bool {
    ["%H", "%I", "%M", "%S", "%T", "%R", "%s"]
        .iter()
        .any(|p| format.contains(p))
}

/// Local wall-clock time in `zone` as UTC; an hour repeated by a DST change reads as the earlier.
fn localise(local: NaiveDateTime, zone: Tz, text: &str) -> Result<DateTime<Utc>, String> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| format!("'{}' does not exist in {zone} (a DST gap)", quote(text)))
}

/// Reads a number written in Indonesian (`1.234.567,89`), English (`1,234,567.89`) or plain style.
pub fn parse_number(text: &str, style: NumberStyle) -> Result<f64, String> {
    let t = text.trim();
    if let Ok(value) = t.parse::<f64>() {
        if value.is_finite() && style != NumberStyle::Indonesian {
            return Ok(value);
        }
    }
    let (group, decimal) = match style {
        NumberStyle::Indonesian => ('.', ','),
        NumberStyle::English => (',', '.'),
        NumberStyle::Auto => match (t.rfind('.'), t.rfind(',')) {
            (Some(d), Some(c)) if c > d => ('.', ','),
            (Some(_), Some(_)) => (',', '.'),
            // One kind only: a single comma followed by other than three digits is a decimal comma.
            (None, Some(c)) if t.matches(',').count() == 1 && t.len() - c - 1 != 3 => ('.', ','),
            (None, Some(_)) => (',', '.'),
            _ => (',', '.'),
        },
    };
    let plain: String = t
        .chars()
        .filter(|&c| c != group && !c.is_whitespace())
        .map(|c| if c == decimal { '.' } else { c })
        .collect();
    match plain.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("'{}' is not a number", quote(text))),
    }
}

/// The `n`-th run of ASCII digits in `text` (1-based), e.g. the upload time in `3403_1470526481.csv`.
pub fn digit_run(text: &str, n: usize) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .nth(n.checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIB: Tz = chrono_tz::Asia::Jakarta;

    fn formats(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers_in_both_styles() {
        let auto = NumberStyle::Auto;
        assert_eq!(parse_number("1.234.567,89", auto), Ok(1_234_567.89));
        assert_eq!(parse_number("1,234,567.89", auto), Ok(1_234_567.89));
        assert_eq!(parse_number("-7,6453", auto), Ok(-7.6453));
        assert_eq!(parse_number("34.19402846", auto), Ok(34.19402846));
        assert_eq!(
            parse_number("1.234", NumberStyle::Indonesian),
            Ok(1234.0),
            "Indonesian style reads the dot as thousands"
        );
        assert!(parse_number("12abc", auto).is_err());
    }

    #[test]
    fn times_with_formats_zones_and_offsets() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let at = parse_time(
            "12/31/2017 11:59:58 PM",
            &formats(&["%m/%d/%Y %I:%M:%S %p"]),
            la,
        )
        .unwrap();
        assert_eq!(at.to_rfc3339(), "2018-01-01T07:59:58+00:00");
        let wib = parse_time("2026-03-01 08:00:00", &[], WIB).unwrap();
        assert_eq!(wib.to_rfc3339(), "2026-03-01T01:00:00+00:00");
        let offset = parse_time("2020-01-01T00:05:00-08:00", &[], WIB).unwrap();
        assert_eq!(offset.to_rfc3339(), "2020-01-01T08:05:00+00:00");
        let err = parse_time("31-13-2020", &formats(&["%d-%m-%Y"]), WIB).unwrap_err();
        assert!(err.contains("does not match %d-%m-%Y"), "{err}");
        let unix = Cell::Text("1470526481")
            .time(&formats(&["unix"]), WIB)
            .unwrap();
        assert_eq!(unix.to_rfc3339(), "2016-08-06T23:34:41+00:00");
    }

    #[test]
    fn formats_read_once_give_what_chrono_gives() {
        let zoned = parse_time(
            "01/03/2026 08:00 +0700",
            &formats(&["%d/%m/%Y %H:%M %z"]),
            WIB,
        );
        assert_eq!(zoned.unwrap().to_rfc3339(), "2026-03-01T01:00:00+00:00");
        let day = parse_time("01-03-2026", &formats(&["%d-%m-%Y"]), WIB).unwrap();
        assert_eq!(day.to_rfc3339(), "2026-02-28T17:00:00+00:00");
        // The same format again (now from the cache), and a second format after a miss.
        let both = formats(&["%d-%m-%Y", "%Y/%m/%d"]);
        assert!(parse_time("02-03-2026", &both, WIB).is_ok());
        assert!(parse_time("2026/03/02", &both, WIB).is_ok());
        // A format chrono cannot read is a mismatch with a reason, not a panic.
        let err = parse_time("2026-03-01", &formats(&["%Q-%m"]), WIB).unwrap_err();
        assert!(err.contains("does not match %Q-%m"), "{err}");
    }

    #[test]
    fn money_is_exact_and_flags_read_both_languages() {
        let style = NumberStyle::Auto;
        assert_eq!(
            Cell::Text("759243300538.61").money(style).unwrap().sen(),
            75_924_330_053_861
        );
        assert_eq!(Cell::Float(0.1 + 0.2).money(style).unwrap().sen(), 30);
        assert!(Cell::Float(1e17).money(style).is_err());
        assert_eq!(Cell::Text("Ya").flag(), Ok(true));
        assert_eq!(Cell::Text("tidak").flag(), Ok(false));
        assert!(Cell::Text("mungkin").flag().is_err());
    }

    #[test]
    fn digit_runs() {
        assert_eq!(digit_run("3403_1470526481.csv", 2), Some("1470526481"));
        assert_eq!(digit_run("abc", 1), None);
        assert_eq!(digit_run("12", 0), None);
    }
}
