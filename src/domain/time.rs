//! Time as people see it: stored in UTC, shown and bucketed in the deployment's zone (WIB by default).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Asia/Jakarta (WIB, UTC+07:00), the default display zone of a deployment.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Jakarta;

/// Formats an instant in `zone` as RFC 3339 with its offset, e.g. `2026-11-22T20:15:00+07:00`.
pub fn format_local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Reads an instant a person or a URL gives: RFC 3339 with an offset (`2026-11-27T08:00:00+07:00`;
/// a `+` that an unencoded URL turned into a space is accepted), or a local date-time without an
/// offset (`2026-11-27T08:00`, `2026-11-27 08:00:00`), read in `zone`.
pub fn parse_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, InstantError> {
    let text = text.trim();
    let at = read_instant(text, zone).map_err(InstantError::NotATime)?;
    if (0..=HELD_UNTIL).contains(&at.timestamp()) {
        Ok(at)
    } else {
        // Nothing before 1970 or after 2106 can be held (times are stored as 32-bit seconds
        // since 1970), and a year such as 0020 is a typing slip, not a moment to ask about.
        Err(InstantError::OutOfRange(format!(
            "'{}' is outside the times Pantau holds (1970-01-01 to 2106-02-07 UTC)",
            text.chars().take(60).collect::<String>()
        )))
    }
}

/// Why a text is not an instant Pantau can answer about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    /// The text is not a time in any accepted form.
    #[error("{0}")]
    NotATime(String),
    /// A time, but outside 1970..2106, the span stored times can hold.
    #[error("{0}")]
    OutOfRange(String),
}

/// The last second a stored time can hold: 2106-02-07T06:28:15Z.
const HELD_UNTIL: i64 = u32::MAX as i64;

fn read_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(&mend_offset(text)) {
        return Ok(at.to_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = chrono::NaiveDateTime::parse_from_str(text, format) {
            use chrono::TimeZone;
            return zone
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.to_utc())
                .ok_or_else(|| {
                    format!("{text} does not exist in {zone} (a clock change skips it)")
                });
        }
    }
    Err(format!(
        "'{}' is not a time: use 2026-11-27T08:00:00+07:00, or 2026-11-27T08:00 in {zone}",
        text.chars().take(60).collect::<String>()
    ))
}

/// `2026-11-01T00:00:00 07:00` — an RFC 3339 time whose `+` an unencoded URL turned into a
/// space — as `2026-11-01T00:00:00+07:00`; other text unchanged.
pub fn mend_offset(text: &str) -> String {
    match text.rfind(' ') {
        Some(at) if text[..at].contains('T') && text[at + 1..].len() == 5 => {
            format!("{}+{}", &text[..at], &text[at + 1..])
        }
        _ => text.to_owned(),
    }
}

/// Writes many instants in one zone as RFC 3339 with their offset, fast enough for exports of
/// millions of rows: the zone's offset changes (DST, law) from 1900 to 2110 are found once per
/// process and zone — a daily sample, each change then narrowed to its second — so an offset is a
/// lookup in a short table (most often the same entry as the previous instant's), and the digits
/// are written by hand. Instants outside the table ask chrono-tz directly.
#[derive(Debug, Clone)]
pub struct LocalClock {
    zone: Tz,
    /// Each period of constant offset, in time order.
    periods: Periods,
    /// The period the last instant fell in.
    last: usize,
}

/// Periods of constant offset: (first second, offset east of UTC).
type Periods = std::sync::Arc<Vec<(i64, i32)>>;

/// The span the table of offset changes covers, seconds since 1970.
const TABLE_FROM: i64 = -2_208_988_800; // 1900-01-01T00:00:00Z
const TABLE_TO: i64 = 4_418_064_000; // 2110-01-01T00:00:00Z

fn offset_at(zone: Tz, secs: i64) -> i32 {
    use chrono::Offset;
    DateTime::from_timestamp(secs, 0).map_or(0, |at| {
        at.with_timezone(&zone).offset().fix().local_minus_utc()
    })
}

/// The periods of constant offset of `zone` over the table's span (one change a day at most).
fn periods(zone: Tz) -> Vec<(i64, i32)> {
    let mut out = vec![(TABLE_FROM, offset_at(zone, TABLE_FROM))];
    let mut day = TABLE_FROM;
    while day < TABLE_TO {
        let next = day + 86_400;
        let current = out.last().map_or(0, |p| p.1);
        let then = offset_at(zone, next);
        if then != current {
            // The first second in (day, next] with the new offset.
            let (mut lo, mut hi) = (day, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(zone, mid) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, then));
        }
        day = next;
    }
    out
}

impl LocalClock {
    /// A clock showing times in `zone`.
    pub fn new(zone: Tz) -> LocalClock {
        static TABLES: std::sync::OnceLock<
            std::sync::Mutex<std::collections::HashMap<Tz, Periods>>,
        > = std::sync::OnceLock::new();
        let tables = TABLES.get_or_init(Default::default);
        let periods = tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(zone)
            .or_insert_with(|| std::sync::Arc::new(periods(zone)))
            .clone();
        LocalClock {
            zone,
            periods,
            last: 0,
        }
    }

    /// The zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The zone's offset east of UTC at `secs` (seconds since 1970), in seconds.
    pub fn offset(&mut self, secs: i64) -> i32 {
        if !(TABLE_FROM..TABLE_TO).contains(&secs) {
            return offset_at(self.zone, secs);
        }
        let p = &self.periods;
        let within = |i: usize| p[i].0 <= secs && p.get(i + 1).is_none_or(|next| secs < next.0);
        if !within(self.last) {
            self.last = p
                .partition_point(|(start, _)| *start <= secs)
                .saturating_sub(1);
        }
        p[self.last].1
    }

    /// Local wall-clock seconds since 1970-01-01T00:00 local (for spreadsheet dates).
    pub fn local_seconds(&mut self, secs: i64) -> i64 {
        secs + i64::from(self.offset(secs))
    }

    /// Appends `secs` as `2026-11-27T21:50:03+07:00` (`Z` never: the offset is always written).
    pub fn write(&mut self, secs: i64, out: &mut Vec<u8>) {
        let offset = self.offset(secs);
        let local = secs + i64::from(offset);
        let (days, day_secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            // Beyond four-digit years (no stored time is): chrono's spelling.
            if let Some(at) = DateTime::from_timestamp(secs, 0) {
                out.extend_from_slice(format_local(at, self.zone).as_bytes());
            }
            return;
        }
        let mut text = [0u8; 25];
        fill(&mut text, year, month, day, day_secs, offset);
        out.extend_from_slice(&text);
    }
}

/// `YYYY-MM-DDTHH:MM:SS±HH:MM` into `text` (25 bytes; the year's four digits first).
fn fill(text: &mut [u8], year: i64, month: i64, day: i64, day_secs: i64, offset: i32) {
    let mut two = |at: usize, n: i64| {
        text[at] = b'0' + (n / 10) as u8;
        text[at + 1] = b'0' + (n % 10) as u8;
    };
    two(0, year / 100);
    two(2, year % 100);
    two(5, month);
    two(8, day);
    two(11, day_secs / 3600);
    two(14, day_secs / 60 % 60);
    two(17, day_secs % 60);
    let abs = i64::from(offset.unsigned_abs());
    two(20, abs / 3600);
    two(23, abs / 60 % 60);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (22, b':'),
    ] {
        text[at] = sep;
    }
    text[19] = if offset < 0 { b'-' } else { b'+' };
}

/// (year, month, day) of a day number counted from 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_read_with_an_offset_or_in_the_zone() {
        let wib = DEFAULT_TIME_ZONE;
        let expected = Utc.with_ymd_and_hms(2026, 11, 27, 1, 0, 0).unwrap();
        for text in [
            "2026-11-27T08:00:00+07:00",
            "2026-11-27T08:00:00 07:00",
            "2026-11-27T01:00:00Z",
            "2026-11-27T08:00",
            "2026-11-27 08:00:00",
        ] {
            assert_eq!(parse_instant(text, wib), Ok(expected), "{text}");
        }
        assert!(parse_instant("yesterday", wib)
            .unwrap_err()
            .to_string()
            .contains("is not a time"));
        // Found by the `time_text` fuzz target: year 20 read in WIB's 1920s local mean time
        // (+07:07:12) could not be written back to the second. Nothing outside what the store
        // can hold is read as a time at all.
        for text in [
            "0020-01-01T8:0:00",
            "1969-12-31T23:59:59Z",
            "2106-02-07T06:28:16Z",
        ] {
            assert!(
                matches!(parse_instant(text, wib), Err(InstantError::OutOfRange(_))),
                "{text}"
            );
        }
        assert!(parse_instant("1970-01-01T00:00:00Z", wib).is_ok());
        assert!(parse_instant("2106-02-07T06:28:15Z", wib).is_ok());
        // 2026-03-08 02:30 does not exist in Los Angeles.
        assert!(
            parse_instant("2026-03-08T02:30", chrono_tz::America::Los_Angeles)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn the_local_clock_writes_what_chrono_writes_across_zones_and_transitions() {
        let zones = [
            DEFAULT_TIME_ZONE,
            chrono_tz::Asia::Makassar,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Australia::Lord_Howe, // half-hour daylight saving
            chrono_tz::Asia::Kolkata,
        ];
        // Every 7,919 seconds over 1965..2040 (crossing many DST changes), plus the instants
        // around Los Angeles' 2026 changes.
        let mut instants: Vec<i64> = (-157_766_400..2_208_988_800).step_by(7_919).collect();
        for change in [1_772_964_000i64, 1_793_523_600] {
            instants.extend(change - 2..change + 2);
        }
        for zone in zones {
            let mut clock = LocalClock::new(zone);
            for &secs in &instants {
                let mut out = Vec::new();
                clock.write(secs, &mut out);
                let at = DateTime::from_timestamp(secs, 0).unwrap();
                let expected = at
                    .with_timezone(&zone)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    expected,
                    "{zone} at {secs}"
                );
            }
        }
    }

    #[test]
    fn wib_is_seven_hours_ahead_of_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 13, 15, 0).unwrap();
        assert_eq!(
            format_local(at, DEFAULT_TIME_ZONE),
            "2026-11-22T20:15:00+07:00"
        );
    }
}
