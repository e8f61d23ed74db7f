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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn wib_is_seven_hours_ahead_of_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 13, 15, 0).unwrap();
        assert_eq!(
            format_local(at, DEFAULT_TIME_ZONE),
            "2026-11-22T20:15:00+07:00"
        );
    }
}
