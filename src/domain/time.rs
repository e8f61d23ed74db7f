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
pub fn parse_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
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
/// millions of rows: the zone's offset is looked up once per quarter hour of time it is asked
/// about (and only cached when it is the same at both ends of that quarter hour, so a transition
/// inside it is still exact), and the digits are written by hand.
#[derive(Debug, Clone)]
pub struct LocalClock {
    zone: Tz,
    /// Quarter hour (seconds / 900) whose offset is cached.
    cached: i64,
    /// Its offset east of UTC, seconds.
    offset: i32,
}

/// Seconds a cached offset covers.
const OFFSET_SPAN: i64 = 900;

impl LocalClock {
    /// A clock showing times in `zone`.
    pub fn new(zone: Tz) -> LocalClock {
        LocalClock {
            zone,
            cached: i64::MIN,
            offset: 0,
        }
    }

    /// The zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    fn lookup(&self, secs: i64) -> i32 {
        use chrono::Offset;
        DateTime::from_timestamp(secs, 0).map_or(0, |at| {
            at.with_timezone(&self.zone)
                .offset()
                .fix()
                .local_minus_utc()
        })
    }

    /// The zone's offset east of UTC at `secs` (seconds since 1970), in seconds.
    pub fn offset(&mut self, secs: i64) -> i32 {
        let span = secs.div_euclid(OFFSET_SPAN);
        if span == self.cached {
            return self.offset;
        }
        let start = self.lookup(span * OFFSET_SPAN);
        if start == self.lookup(span * OFFSET_SPAN + OFFSET_SPAN - 1) {
            self.cached = span;
            self.offset = start;
            start
        } else {
            self.lookup(secs)
        }
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
        let two = |out: &mut Vec<u8>, n: i64| {
            out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
        };
        if (0..=9999).contains(&year) {
            two(out, year / 100);
            two(out, year % 100);
        } else {
            out.extend_from_slice(year.to_string().as_bytes());
        }
        out.push(b'-');
        two(out, month);
        out.push(b'-');
        two(out, day);
        out.push(b'T');
        two(out, day_secs / 3600);
        out.push(b':');
        two(out, day_secs / 60 % 60);
        out.push(b':');
        two(out, day_secs % 60);
        out.push(if offset < 0 { b'-' } else { b'+' });
        let abs = i64::from(offset.unsigned_abs());
        two(out, abs / 3600);
        out.push(b':');
        two(out, abs / 60 % 60);
    }
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
            .contains("is not a time"));
        // 2026-03-08 02:30 does not exist in Los Angeles.
        assert!(
            parse_instant("2026-03-08T02:30", chrono_tz::America::Los_Angeles)
                .unwrap_err()
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
