//! Rupiah amounts, exact to the sen (1/100 Rp), with the number formats Indonesian sources use.
//!
//! Budget figures (pagu, anggaran kas, realisasi) are summed and shown to leadership: they must
//! never drift the way floating-point sums do, so an amount is an integer count of sen and every
//! sum is checked for overflow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An exact amount of Rupiah.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rupiah {
    sen: i64,
}

/// How to read the separators of a number written by a person or a spreadsheet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberStyle {
    /// Decide from the text: `1.234.567,89` and `1,234,567.89` both read as 1234567.89.
    #[default]
    Auto,
    /// `.` groups thousands, `,` starts the decimals (Indonesian, `1.234.567,89`).
    Indonesian,
    /// `,` groups thousands, `.` starts the decimals (`1,234,567.89`).
    English,
}

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a Rupiah amount: {reason}")]
pub struct MoneyError {
    text: String,
    reason: &'static str,
}

impl Rupiah {
    /// Zero Rupiah.
    pub const ZERO: Rupiah = Rupiah { sen: 0 };

    /// An amount given in sen.
    pub const fn from_sen(sen: i64) -> Rupiah {
        Rupiah { sen }
    }

    /// A whole number of Rupiah; `None` on overflow.
    pub fn from_rupiah(rupiah: i64) -> Option<Rupiah> {
        rupiah.checked_mul(100).map(Rupiah::from_sen)
    }

    /// The amount in sen.
    pub const fn sen(self) -> i64 {
        self.sen
    }

    /// `self + other`, `None` on overflow.
    pub fn checked_add(self, other: Rupiah) -> Option<Rupiah> {
        self.sen.checked_add(other.sen).map(Rupiah::from_sen)
    }

    /// `self - other`, `None` on overflow.
    pub fn checked_sub(self, other: Rupiah) -> Option<Rupiah> {
        self.sen.checked_sub(other.sen).map(Rupiah::from_sen)
    }

    /// The exact sum of amounts, `None` on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Rupiah>) -> Option<Rupiah> {
        amounts
            .into_iter()
            .try_fold(Rupiah::ZERO, Rupiah::checked_add)
    }

    /// `self / whole` as a fraction (e.g. serapan = realisasi / pagu); `None` when `whole` is zero.
    /// The fraction is for display and thresholds; sums stay in sen.
    pub fn ratio_of(self, whole: Rupiah) -> Option<f64> {
        (whole.sen != 0).then(|| self.sen as f64 / whole.sen as f64)
    }

    /// Reads an amount such as `1.234.567,89`, `Rp 1.234.567`, `1,234,567.89`, `(1.500,00)` or
    /// `-2500000`. More than two decimals are refused unless they are zeros.
    pub fn parse(text: &str, style: NumberStyle) -> Result<Rupiah, MoneyError> {
        let fail = |reason| MoneyError {
            text: text.chars().take(60).collect(),
            reason,
        };
        let mut s: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
            .collect();
        let mut negative = false;
        if s.starts_with('(') && s.ends_with(')') && s.len() >= 2 {
            negative = true;
            s = s[1..s.len() - 1].to_owned();
        }
        if let Some(rest) = s.strip_prefix('-') {
            negative = !negative;
            s = rest.to_owned();
        }
        for prefix in ["Rp.", "Rp", "IDR", "rp.", "rp", "RP"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.to_owned();
                break;
            }
        }
        if let Some(rest) = s.strip_prefix('-') {
            negative = !negative;
            s = rest.to_owned();
        }
        if s.is_empty() {
            return Err(fail("no digits"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            return Err(fail(
                "only digits, '.' and ',' may follow the sign and 'Rp'",
            ));
        }
        let (grouping, decimal) =
            separators(&s, style).ok_or_else(|| fail("ambiguous separators"))?;
        let (whole, fraction) = match decimal.and_then(|d| s.rfind(d)) {
            Some(at) => (&s[..at], &s[at + 1..]),
            None => (s.as_str(), ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(fail("no digits"));
        }
        let whole_digits =
            ungroup(whole, grouping).ok_or_else(|| fail("thousands must be grouped by three"))?;
        if !fraction.chars().all(|c| c.is_ascii_digit()) {
            return Err(fail("more than one decimal separator"));
        }
        let (cents, rest) = fraction.split_at(fraction.len().min(2));
        if rest.chars().any(|c| c != '0') {
            return Err(fail("more precise than a sen"));
        }
        let rupiah: i64 = if whole_digits.is_empty() {
            0
        } else {
            whole_digits.parse().map_err(|_| fail("too large"))?
        };
        let sen: i64 = match cents.len() {
            0 => 0,
            1 => cents.parse::<i64>().map_err(|_| fail("bad decimals"))? * 10,
            _ => cents.parse().map_err(|_| fail("bad decimals"))?,
        };
        let total = rupiah
            .checked_mul(100)
            .and_then(|r| r.checked_add(sen))
            .ok_or_else(|| fail("too large"))?;
        Ok(Rupiah::from_sen(if negative { -total } else { total }))
    }
}

/// Picks (thousands separator, decimal separator) for a text of digits, '.' and ','.
fn separators(s: &str, style: NumberStyle) -> Option<(Option<char>, Option<char>)> {
    let dots = s.matches('.').count();
    let commas = s.matches(',').count();
    match style {
        NumberStyle::Indonesian => Some((Some('.'), Some(','))),
        NumberStyle::English => Some((Some(','), Some('.'))),
        NumberStyle::Auto => match (dots, commas) {
            (0, 0) => Some((None, None)),
            // Both present: the last one starts the decimals.
            (_, _) if dots > 0 && commas > 0 => {
                if s.rfind('.') > s.rfind(',') {
                    Some((Some(','), Some('.')))
                } else {
                    Some((Some('.'), Some(',')))
                }
            }
            (d, 0) => Some(single_kind(s, '.', ',', d)),
            (0, c) => Some(single_kind(s, ',', '.', c)),
            _ => None,
        },
    }
}

/// One kind of separator only: several, or one followed by exactly three digits after at most
/// three, group thousands (`1.234.567`, `1,234`); otherwise it starts the decimals (`1234,5`,
/// `12.50`, `2500000.000`).
fn single_kind(s: &str, sep: char, other: char, count: usize) -> (Option<char>, Option<char>) {
    let after = s.rsplit(sep).next().map_or(0, str::len);
    let before = s.split(sep).next().map_or(0, str::len);
    if count > 1 || (after == 3 && before <= 3) {
        (Some(sep), Some(other))
    } else {
        (Some(other), Some(sep))
    }
}

/// Removes thousands separators, checking groups of three; `None` when grouped wrongly.
fn ungroup(whole: &str, grouping: Option<char>) -> Option<String> {
    let Some(sep) = grouping.filter(|g| whole.contains(*g)) else {
        return whole
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| whole.to_owned());
    };
    let groups: Vec<&str> = whole.split(sep).collect();
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    let digits_ok = groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
    (first_ok && rest_ok && digits_ok).then(|| groups.concat())
}

impl fmt::Display for Rupiah {
    /// Indonesian notation: `Rp 1.234.567`, `Rp 1.234.567,89`, `-Rp 500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.sen < 0 { "-" } else { "" };
        let abs = self.sen.unsigned_abs();
        let (rupiah, sen) = (abs / 100, abs % 100);
        let digits = rupiah.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(c);
        }
        if sen == 0 {
            write!(f, "{sign}Rp {grouped}")
        } else {
            write!(f, "{sign}Rp {grouped},{sen:02}")
        }
    }
}

impl FromStr for Rupiah {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rupiah::parse(s, NumberStyle::Auto)
    }
}

/// In JSON an amount is a decimal string (`"1234567.89"`): exact for any size, unlike a JSON number
/// read into a float.
impl Serialize for Rupiah {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if self.sen < 0 { "-" } else { "" };
        let abs = self.sen.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:02}", abs / 100, abs % 100))
    }
}

impl<'de> Deserialize<'de> for Rupiah {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Rupiah::parse(&text, NumberStyle::English).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(text: &str) -> Result<i64, MoneyError> {
        Rupiah::parse(text, NumberStyle::Auto).map(Rupiah::sen)
    }

    #[test]
    fn indonesian_english_and_plain_forms_read_the_same() {
        for text in [
            "1.234.567,89",
            "1,234,567.89",
            "1234567.89",
            "1234567,89",
            "Rp 1.234.567,89",
            "Rp1.234.567,89",
            "IDR 1,234,567.89",
            " 1 234 567,89 ",
        ] {
            assert_eq!(auto(text), Ok(123_456_789), "{text}");
        }
        assert_eq!(auto("1.234.567"), Ok(123_456_700));
        assert_eq!(
            auto("1.234"),
            Ok(123_400),
            "one dot and three digits groups thousands"
        );
        assert_eq!(auto("1234,5"), Ok(123_450));
        assert_eq!(auto("12.50"), Ok(1_250));
        assert_eq!(auto("0,05"), Ok(5));
        assert_eq!(
            auto("2500000.000"),
            Ok(250_000_000),
            "zero sub-sen digits are fine"
        );
    }

    #[test]
    fn negatives_in_every_notation() {
        assert_eq!(auto("(1,234.56)"), Ok(-123_456));
        assert_eq!(auto("(1.234,56)"), Ok(-123_456));
        assert_eq!(auto("-1.234,56"), Ok(-123_456));
        assert_eq!(auto("-Rp 500"), Ok(-50_000));
        assert_eq!(auto("Rp -500"), Ok(-50_000));
    }

    #[test]
    fn malformed_amounts_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "no digits"),
            ("Rp", "no digits"),
            ("12a", "only digits"),
            ("1.23.456", "grouped by three"),
            ("1234.5678", "more precise than a sen"),
            ("1.234,56,7", "grouped by three"),
            ("99999999999999999999", "too large"),
        ] {
            let err = auto(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
        }
        // An explicit style settles what Auto would guess: 1.234 in English is 1.234 (refused: sub-sen).
        assert!(Rupiah::parse("1.234", NumberStyle::English).is_err());
        assert_eq!(
            Rupiah::parse("1.234", NumberStyle::Indonesian).map(Rupiah::sen),
            Ok(123_400)
        );
    }

    #[test]
    fn display_is_indonesian_and_json_is_an_exact_decimal_string() {
        assert_eq!(Rupiah::from_sen(123_456_789).to_string(), "Rp 1.234.567,89");
        assert_eq!(Rupiah::from_sen(123_456_700).to_string(), "Rp 1.234.567");
        assert_eq!(Rupiah::from_sen(-50_000).to_string(), "-Rp 500");
        assert_eq!(Rupiah::ZERO.to_string(), "Rp 0");
        let big = Rupiah::from_sen(330_000_000_000_000_001);
        let json = serde_json::to_string(&big).unwrap();
        assert_eq!(json, "\"3300000000000000.01\"");
        assert_eq!(serde_json::from_str::<Rupiah>(&json).unwrap(), big);
        assert_eq!(
            serde_json::to_string(&Rupiah::from_sen(-5)).unwrap(),
            "\"-0.05\""
        );
    }

    #[test]
    fn sums_are_exact_where_floats_drift() {
        // 0.10 added ten million times: a float sum drifts, the sen sum does not.
        let dime = Rupiah::from_sen(10);
        let sum = Rupiah::checked_sum(std::iter::repeat_n(dime, 10_000_000)).unwrap();
        assert_eq!(sum, Rupiah::from_rupiah(1_000_000).unwrap());
        let float: f64 = std::iter::repeat_n(0.1f64, 10_000_000).sum();
        assert_ne!(float, 1_000_000.0);
        assert_eq!(
            Rupiah::checked_sum([Rupiah::from_sen(i64::MAX), Rupiah::from_sen(1)]),
            None
        );
        let serapan = Rupiah::from_rupiah(750)
            .unwrap()
            .ratio_of(Rupiah::from_rupiah(1000).unwrap());
        assert_eq!(serapan, Some(0.75));
        assert_eq!(Rupiah::ZERO.ratio_of(Rupiah::ZERO), None);
    }
}
