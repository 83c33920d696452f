//! Schedule times: cron expressions in a time zone (`croner`, `chrono-tz`) and fixed
//! intervals counted from the Unix epoch.
//!
//! Times are pure functions of the schedule and the clock, so every scheduler (two
//! replicas, or one before and after a restart) computes the same ones; the store
//! makes each (job, schedule, time) one run (see the jobs store).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};

use crate::spec::{MissedPolicy, Schedule, ScheduleKind};

/// Parses a cron expression (five fields, or six with seconds; `@daily` and the
/// like), POSIX day-of-month/day-of-week rules.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::Cron::from_str(expr.trim())
        .map_err(|e| format!("`{expr}` is not a cron expression: {e}"))
}

/// The first time of `schedule` strictly after `after_ms` (Unix ms), if any.
pub fn next_after(schedule: &Schedule, after_ms: i64) -> Option<i64> {
    match &schedule.when {
        ScheduleKind::Interval { every } => {
            let step = every.as_millis().max(1) as i64;
            Some((after_ms.div_euclid(step) + 1) * step)
        }
        ScheduleKind::Cron { expr, timezone } => {
            let cron = parse_cron(expr).ok()?;
            let tz: chrono_tz::Tz = timezone.parse().ok()?;
            let after = Utc
                .timestamp_millis_opt(after_ms)
                .single()?
                .with_timezone(&tz);
            let next: DateTime<chrono_tz::Tz> = cron.find_next_occurrence(&after, false).ok()?;
            Some(next.timestamp_millis())
        }
    }
}

/// The last time of `schedule` at or before `at_ms`, if any.
pub fn last_at_or_before(schedule: &Schedule, at_ms: i64) -> Option<i64> {
    match &schedule.when {
        ScheduleKind::Interval { every } => {
            let step = every.as_millis().max(1) as i64;
            Some(at_ms.div_euclid(step) * step)
        }
        ScheduleKind::Cron { expr, timezone } => {
            let cron = parse_cron(expr).ok()?;
            let tz: chrono_tz::Tz = timezone.parse().ok()?;
            // Whole seconds: cron's finest unit (croner would round a fraction up).
            let at = Utc
                .timestamp_millis_opt(at_ms.div_euclid(1000) * 1000)
                .single()?
                .with_timezone(&tz);
            let prev: DateTime<chrono_tz::Tz> = cron.find_previous_occurrence(&at, true).ok()?;
            Some(prev.timestamp_millis())
        }
    }
}

/// The time a run is due for now, given the last time this schedule fired (`None`:
/// never) and the clock.
///
/// One time in `(last, now]` is on time and runs. More than one means the scheduler
/// was down: with `RunOnce` the latest of them runs, once (a nightly job after a
/// week's downtime runs one night, not seven); with `Skip` none does, and the next run
/// is the next time on the clock. Prefect, for comparison, creates runs ahead of time,
/// and those a down scheduler left behind start late when it is back, every one of
/// them. A schedule that never fired starts now: its first run is its next time.
pub fn due(
    schedule: &Schedule,
    last_ms: Option<i64>,
    now_ms: i64,
    missed: MissedPolicy,
) -> Option<i64> {
    let last = last_ms?;
    let latest = last_at_or_before(schedule, now_ms).filter(|&t| t > last)?;
    // The time before `latest` (a second earlier is the finest any schedule has).
    let missed_one = last_at_or_before(schedule, latest - 1000).is_some_and(|t| t > last);
    match (missed_one, missed) {
        (false, _) | (true, MissedPolicy::RunOnce) => Some(latest),
        (true, MissedPolicy::Skip) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cron(expr: &str, tz: &str) -> Schedule {
        Schedule {
            when: ScheduleKind::Cron {
                expr: expr.into(),
                timezone: tz.into(),
            },
            paused: false,
            parameters: Vec::new(),
        }
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn cron_in_a_time_zone() {
        // 02:00 in Paris is 01:00 UTC in winter.
        let s = cron("0 2 * * *", "Europe/Paris");
        assert_eq!(
            next_after(&s, ms("2026-12-05T12:00:00Z")),
            Some(ms("2026-12-06T01:00:00Z"))
        );
        // And 00:00 UTC in summer.
        assert_eq!(
            next_after(&s, ms("2026-07-05T12:00:00Z")),
            Some(ms("2026-07-06T00:00:00Z"))
        );
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch() {
        let s = Schedule {
            when: ScheduleKind::Interval {
                every: Duration::from_secs(60),
            },
            paused: false,
            parameters: Vec::new(),
        };
        assert_eq!(next_after(&s, 119_999), Some(120_000));
        assert_eq!(next_after(&s, 120_000), Some(180_000));
    }

    #[test]
    fn missed_times_run_once_or_are_skipped() {
        let s = cron("0 * * * *", "UTC");
        let last = ms("2026-12-05T00:00:00Z");
        let now = ms("2026-12-05T05:30:00Z");
        assert_eq!(
            due(&s, Some(last), now, MissedPolicy::RunOnce),
            Some(ms("2026-12-05T05:00:00Z"))
        );
        assert_eq!(due(&s, Some(last), now, MissedPolicy::Skip), None);
        // One time due is on time under either policy.
        let now = ms("2026-12-05T01:00:05Z");
        assert_eq!(
            due(&s, Some(last), now, MissedPolicy::Skip),
            Some(ms("2026-12-05T01:00:00Z"))
        );
        // Nothing is due before the next time, nor for a schedule that never fired.
        assert_eq!(
            due(
                &s,
                Some(ms("2026-12-05T01:00:00Z")),
                now,
                MissedPolicy::RunOnce
            ),
            None
        );
        assert_eq!(due(&s, None, now, MissedPolicy::RunOnce), None);
    }

    #[test]
    fn bad_cron_is_refused() {
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("every day").is_err());
        assert!(parse_cron("@daily").is_ok());
    }
}
