//! Weekly series: when each occurrence starts, in the space's local time
//! (docs/model.md, "Time zone and weekly series").
//!
//! Only arithmetic lives here; `SpaceDoc::create_series` writes every
//! occurrence as a session in one change, so no later write can ever make a
//! second copy of one.

use jiff::SignedDuration;
use jiff::civil::Date;

use super::error::{ModelError, ModelResult};
use super::time::Timestamp;
use super::zone::SpaceZone;

/// The most occurrences one series may have: two years of weekly sessions,
/// which bounds the one change that creates them.
pub const MAX_OCCURRENCES: u32 = 104;

/// When a series stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesEnd {
    /// After this many occurrences (the first counts).
    Count(u32),
    /// With the last occurrence on or before this local date.
    Until(Date),
}

/// How a series repeats: every `every_weeks` weeks on the weekday and at
/// the local time of its first session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesRule {
    /// 1 for weekly, 2 for fortnightly (1 to 52).
    pub every_weeks: u32,
    /// When it stops.
    pub end: SeriesEnd,
}

fn refuse(reason: impl Into<String>) -> ModelError {
    ModelError::InvalidInput {
        field: "series",
        reason: reason.into(),
    }
}

fn add_days(date: Date, days: i64) -> ModelResult<Date> {
    date.checked_add(SignedDuration::from_hours(days.saturating_mul(24)))
        .map_err(|_| refuse("a date out of range"))
}

/// The start of every occurrence, the first at `first`: the same local
/// weekday and time each time, so 18:00 stays 18:00 across a clock change.
pub fn occurrence_starts(
    first: Timestamp,
    rule: SeriesRule,
    zone: &SpaceZone,
) -> ModelResult<Vec<Timestamp>> {
    if !(1..=52).contains(&rule.every_weeks) {
        return Err(refuse("repeats every 1 to 52 weeks"));
    }
    let local = zone.local(first);
    let limit = match rule.end {
        SeriesEnd::Count(n) if n == 0 || n > MAX_OCCURRENCES => {
            return Err(refuse(format!(
                "a series has 1 to {MAX_OCCURRENCES} sessions"
            )));
        }
        SeriesEnd::Count(n) => n,
        SeriesEnd::Until(last) if last < local.date() => {
            return Err(refuse("it ends before its first session"));
        }
        SeriesEnd::Until(_) => MAX_OCCURRENCES + 1,
    };
    let mut starts = Vec::new();
    for i in 0..limit {
        let date = add_days(local.date(), i64::from(i) * 7 * i64::from(rule.every_weeks))?;
        if let SeriesEnd::Until(last) = rule.end {
            if date > last {
                break;
            }
            if i == MAX_OCCURRENCES {
                return Err(refuse(format!(
                    "a series has at most {MAX_OCCURRENCES} sessions: end it sooner"
                )));
            }
        }
        starts.push(zone.instant(date.to_datetime(local.time()))?);
    }
    Ok(starts)
}

/// Where an occurrence starting at `start` moves when the one at `from`
/// moves to `to`, for "this and following": by the same number of days,
/// to the same new local time, so every occurrence keeps its local rhythm
/// on both sides of a clock change.
pub fn shifted_start(
    from: Timestamp,
    to: Timestamp,
    start: Timestamp,
    zone: &SpaceZone,
) -> ModelResult<Timestamp> {
    let (from, to, start) = (zone.local(from), zone.local(to), zone.local(start));
    let days = to.date().duration_since(from.date()).as_hours() / 24;
    let date = add_days(start.date(), days)?;
    zone.instant(date.to_datetime(to.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> SpaceZone {
        SpaceZone::parse("Europe/London").unwrap()
    }

    #[test]
    fn a_weekly_series_keeps_its_local_time_across_the_clock_change() {
        let zone = london();
        let first = zone.parse_local("2027-03-09 18:00").unwrap();
        let rule = SeriesRule {
            every_weeks: 1,
            end: SeriesEnd::Count(4),
        };
        let starts = occurrence_starts(first, rule, &zone).unwrap();
        let shown: Vec<String> = starts.iter().map(|s| zone.show(*s)).collect();
        assert_eq!(
            shown,
            [
                "Tue 9 Mar 2027 18:00 GMT",
                "Tue 16 Mar 2027 18:00 GMT",
                "Tue 23 Mar 2027 18:00 GMT",
                "Tue 30 Mar 2027 18:00 BST",
            ]
        );
        // An hour less apart across the change: the same local time.
        assert_eq!(starts[3].0 - starts[2].0, 7 * 86_400 - 3_600);
    }

    #[test]
    fn until_is_inclusive_and_every_two_weeks_skips_a_week() {
        let zone = london();
        let first = zone.parse_local("2027-01-05 18:00").unwrap();
        let until = zone.parse_date("2027-02-02").unwrap();
        let rule = SeriesRule {
            every_weeks: 2,
            end: SeriesEnd::Until(until),
        };
        let starts = occurrence_starts(first, rule, &zone).unwrap();
        let days: Vec<String> = starts.iter().map(|s| zone.show_date(*s)).collect();
        assert_eq!(
            days,
            ["Tue 5 Jan 2027", "Tue 19 Jan 2027", "Tue 2 Feb 2027"]
        );
    }

    #[test]
    fn series_out_of_bounds_are_refused() {
        let zone = london();
        let first = zone.parse_local("2027-01-05 18:00").unwrap();
        let rule = |every_weeks, end| SeriesRule { every_weeks, end };
        assert!(occurrence_starts(first, rule(0, SeriesEnd::Count(3)), &zone).is_err());
        assert!(occurrence_starts(first, rule(1, SeriesEnd::Count(0)), &zone).is_err());
        assert!(occurrence_starts(first, rule(1, SeriesEnd::Count(105)), &zone).is_err());
        assert!(occurrence_starts(first, rule(1, SeriesEnd::Count(104)), &zone).is_ok());
        let far = zone.parse_date("2030-01-01").unwrap();
        assert!(occurrence_starts(first, rule(1, SeriesEnd::Until(far)), &zone).is_err());
        let before = zone.parse_date("2027-01-04").unwrap();
        assert!(occurrence_starts(first, rule(1, SeriesEnd::Until(before)), &zone).is_err());
    }

    #[test]
    fn this_and_following_moves_by_local_days_and_time() {
        let zone = london();
        let from = zone.parse_local("2027-03-16 18:00").unwrap();
        let to = zone.parse_local("2027-03-17 18:30").unwrap();
        let later = zone.parse_local("2027-03-30 18:00").unwrap();
        let moved = shifted_start(from, to, later, &zone).unwrap();
        assert_eq!(zone.show(moved), "Wed 31 Mar 2027 18:30 BST");
    }
}
