//! Durations, relative time windows and calendar buckets, in a dashboard's time zone.
//!
//! Windows are computed when a panel is evaluated, so `today` turns at local midnight and
//! `last 24h` rolls with the clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Parses `90s`, `15m`, `4h`, `1d`, `2w` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: s, m, h, d or w (e.g. `4h`)"))?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `4h` or `7d`"))?;
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use s, m, h, d or w"
            ))
        }
    };
    if n == 0 {
        return Err(format!("`{text}` is zero"));
    }
    n.checked_mul(unit_secs)
        .filter(|s| *s <= 10 * 366 * 86_400)
        .ok_or_else(|| format!("`{text}` is longer than ten years"))
}

/// A window of time relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last N seconds up to now.
    Last(i64),
    /// From now to N seconds ahead (deadlines about to pass, e.g. `sla_due_at` in `next 4h`).
    Next(i64),
    /// Since local midnight.
    Today,
    /// The whole previous local day.
    Yesterday,
    /// Since Monday 00:00 local.
    ThisWeek,
    /// Since the 1st of the month, local.
    ThisMonth,
    /// Since 1 January, local.
    ThisYear,
    /// Since the first day of the fiscal year, local.
    ThisFiscalYear,
}

/// The duration of a `last`/`next` window, its error naming the whole window.
fn span(window: &str, duration: &str) -> Result<i64, String> {
    parse_duration(duration).map_err(|e| format!("unknown window `{window}`: {e}"))
}

impl Window {
    /// Parses `last 24h`, `today`, `yesterday`, `this week`, `this month`, `this year`,
    /// `this fiscal year`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["last", d] => Window::Last(span(text, d)?),
            ["next", d] => Window::Next(span(text, d)?),
            ["today"] => Window::Today,
            ["yesterday"] => Window::Yesterday,
            ["this", "week"] => Window::ThisWeek,
            ["this", "month"] => Window::ThisMonth,
            ["this", "year"] => Window::ThisYear,
            ["this", "fiscal", "year"] => Window::ThisFiscalYear,
            _ => {
                return Err(format!(
                    "unknown window `{text}`: use `last 24h`, `next 4h`, `today`, `yesterday`, \
                     `this week`, `this month`, `this year` or `this fiscal year`"
                ))
            }
        })
    }

    /// The window `[start, end)` in seconds since 1970 at `now`, in zone `tz`, with the fiscal
    /// year starting in month `fiscal_start`.
    pub fn range(self, now: DateTime<Utc>, tz: Tz, fiscal_start: u32) -> (i64, i64) {
        let t = now.timestamp();
        let local = now.with_timezone(&tz).date_naive();
        let day_start = |d: NaiveDate| midnight(d, tz);
        match self {
            // A second past now, so a row stamped this very second counts.
            Window::Last(secs) => (t - secs, t + 1),
            Window::Next(secs) => (t, t + secs),
            Window::Today => (day_start(local), day_start(local + Duration::days(1))),
            Window::Yesterday => (day_start(local - Duration::days(1)), day_start(local)),
            Window::ThisWeek => {
                let monday =
                    local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
                (day_start(monday), t + 1)
            }
            Window::ThisMonth => (day_start(local.with_day(1).unwrap_or(local)), t + 1),
            Window::ThisYear => (day_start(ymd(local.year(), 1)), t + 1),
            Window::ThisFiscalYear => {
                let year = if local.month() >= fiscal_start {
                    local.year()
                } else {
                    local.year() - 1
                };
                (day_start(ymd(year, fiscal_start)), t + 1)
            }
        }
    }

    /// How long the window is at `now`, in hours (for rates).
    pub fn hours(self, now: DateTime<Utc>, tz: Tz, fiscal_start: u32) -> f64 {
        if let Window::Next(secs) = self {
            return secs as f64 / 3600.0;
        }
        let (start, end) = self.range(now, tz, fiscal_start);
        let end = end.min(now.timestamp() + 1);
        ((end - start).max(1)) as f64 / 3600.0
    }
}

fn ymd(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

/// Local midnight of `day` in `tz`, as seconds since 1970 (the first instant of the day where a
/// zone skips midnight).
pub fn midnight(day: NaiveDate, tz: Tz) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or(naive.and_utc().timestamp(), |t| t.timestamp()),
    }
}

/// Calendar bucket sizes of a timeseries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketSize {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One local day.
    Day,
    /// One local week from Monday.
    Week,
    /// One local calendar month.
    Month,
}

impl BucketSize {
    /// Parses `minute`, `hour`, `day`, `week`, `month`.
    pub fn parse(text: &str) -> Result<BucketSize, String> {
        Ok(match text {
            "minute" => BucketSize::Minute,
            "hour" => BucketSize::Hour,
            "day" => BucketSize::Day,
            "week" => BucketSize::Week,
            "month" => BucketSize::Month,
            other => {
                return Err(format!(
                    "unknown bucket `{other}`: use minute, hour, day, week or month"
                ))
            }
        })
    }

    /// The start of the bucket holding instant `t` (seconds), in zone `tz`.
    pub fn start_of(self, t: i64, tz: Tz) -> i64 {
        let Some(at) = DateTime::from_timestamp(t, 0) else {
            return t;
        };
        let local = at.with_timezone(&tz);
        let day = local.date_naive();
        match self {
            // Whole-hour zones and Indonesia's: minutes and hours align in UTC too.
            BucketSize::Minute => t - t.rem_euclid(60),
            BucketSize::Hour => {
                let offset = i64::from(chrono::Offset::fix(local.offset()).local_minus_utc());
                let l = t + offset;
                l - l.rem_euclid(3600) - offset
            }
            BucketSize::Day => midnight(day, tz),
            BucketSize::Week => midnight(
                day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
                tz,
            ),
            BucketSize::Month => midnight(day.with_day(1).unwrap_or(day), tz),
        }
    }
}

/// The zone's constant offset from UTC in seconds, if it has had one since 2000 (WIB, WITA, WIT
/// do), so buckets can be computed by arithmetic.
pub fn fixed_offset(tz: Tz) -> Option<i32> {
    let mut seen = None;
    for year in 2000..=2040 {
        for month in [1, 4, 7, 10] {
            let at = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()?;
            let off = chrono::Offset::fix(at.with_timezone(&tz).offset()).local_minus_utc();
            match seen {
                None => seen = Some(off),
                Some(s) if s != off => return None,
                _ => {}
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::Los_Angeles, Asia::Jakarta, Asia::Makassar};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn durations_and_windows_parse() {
        assert_eq!(parse_duration("4h"), Ok(4 * 3600));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert!(parse_duration("4").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("4y").unwrap_err().contains("unknown unit"));
        assert_eq!(Window::parse("last 24h"), Ok(Window::Last(86_400)));
        assert_eq!(Window::parse("next 4h"), Ok(Window::Next(14_400)));
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 5, 0, 0).unwrap();
        let t = now.timestamp();
        assert_eq!(
            Window::Next(14_400).range(now, chrono_tz::Asia::Jakarta, 1),
            (t, t + 14_400),
            "from now, four hours ahead"
        );
        assert_eq!(
            Window::parse("this  fiscal year"),
            Ok(Window::ThisFiscalYear)
        );
        assert!(Window::parse("tomorrow").is_err());
    }

    #[test]
    fn today_starts_at_local_midnight_in_wib_and_wita() {
        // 2026-11-22 01:30 WIB is still 2026-11-21 in UTC.
        let now = at("2026-11-21T18:30:00Z");
        let (start, end) = Window::Today.range(now, Jakarta, 1);
        assert_eq!(start, at("2026-11-21T17:00:00Z").timestamp());
        assert_eq!(end, at("2026-11-22T17:00:00Z").timestamp());
        let (start, _) = Window::Today.range(now, Makassar, 1);
        assert_eq!(start, at("2026-11-21T16:00:00Z").timestamp());
        let (y0, y1) = Window::Yesterday.range(now, Jakarta, 1);
        assert_eq!((y1 - y0), 86_400);
    }

    #[test]
    fn month_and_fiscal_year_follow_the_local_calendar() {
        // 1 December 00:30 WIB is 30 November in UTC: this month is December locally.
        let now = at("2026-11-30T17:30:00Z");
        let (start, _) = Window::ThisMonth.range(now, Jakarta, 1);
        assert_eq!(start, at("2026-11-30T17:00:00Z").timestamp());
        // A July fiscal year (Los Angeles): in March 2026 it began on 1 July 2025, PDT.
        let (start, _) = Window::ThisFiscalYear.range(at("2026-03-10T12:00:00Z"), Los_Angeles, 7);
        assert_eq!(start, at("2025-07-01T07:00:00Z").timestamp());
    }

    #[test]
    fn buckets_respect_daylight_saving_where_a_zone_has_it() {
        // 8 March 2026: Los Angeles moves from PST (-8) to PDT (-7).
        let t = at("2026-03-08T20:00:00Z").timestamp();
        assert_eq!(
            BucketSize::Day.start_of(t, Los_Angeles),
            at("2026-03-08T08:00:00Z").timestamp()
        );
        let next = at("2026-03-09T20:00:00Z").timestamp();
        assert_eq!(
            BucketSize::Day.start_of(next, Los_Angeles),
            at("2026-03-09T07:00:00Z").timestamp()
        );
        // Weeks start on Monday (2026-11-23 is a Monday) at local midnight.
        let sunday = at("2026-11-22T10:00:00Z").timestamp();
        assert_eq!(
            BucketSize::Week.start_of(sunday, Jakarta),
            at("2026-11-15T17:00:00Z").timestamp()
        );
        assert_eq!(
            BucketSize::Month.start_of(sunday, Jakarta),
            at("2026-10-31T17:00:00Z").timestamp()
        );
        assert_eq!(fixed_offset(Jakarta), Some(7 * 3600));
        assert_eq!(fixed_offset(Los_Angeles), None);
    }
}
