//! Times as people type and read them on a command line: in the space's
//! time zone (`core::model::SpaceZone`, jiff with its database compiled
//! in), or this device's zone for things outside any space (the journal,
//! invites). Durations as minutes (`90`) or with units (`90m`, `1h30m`).

use safespaces_core::model::{SpaceZone, Timestamp};

/// The time a command acts at: the system clock.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// Parses a local date or date-time in `zone` (`2027-01-12 18:00`,
/// `2027-01-12T18:00`, `2027-01-12`), or an instant with an offset.
pub fn parse_time(zone: &SpaceZone, text: &str) -> Result<Timestamp, String> {
    zone.parse_local(text).map_err(|_| {
        format!(
            "{text:?} is not a date: use YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" ({} time)",
            zone.name()
        )
    })
}

/// Parses a duration into whole minutes, between 1 minute and 7 days.
pub fn parse_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a duration: use minutes (90) or 1h30m");
    let text = text.trim();
    let minutes = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().map_err(|_| bad())?
    } else {
        let duration: jiff::SignedDuration = text.parse().map_err(|_| bad())?;
        if duration.as_secs() % 60 != 0 || duration.subsec_nanos() != 0 {
            return Err(bad());
        }
        duration.as_mins()
    };
    if !(1..=7 * 24 * 60).contains(&minutes) {
        return Err(bad());
    }
    u32::try_from(minutes).map_err(|_| bad())
}

/// How long before a session its sign-ups close: a duration as
/// [`parse_minutes`] reads it, or 0 for "at the start".
pub fn parse_minutes_or_zero(text: &str) -> Result<u32, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_minutes(text)
}

/// A time for people, in `zone`: `Tue 12 Jan 2027 18:00 GMT`.
pub fn show_time(zone: &SpaceZone, t: Timestamp) -> String {
    zone.show(t)
}

/// A date for people, in `zone`: `Tue 12 Jan 2027`.
pub fn show_date(zone: &SpaceZone, t: Timestamp) -> String {
    zone.show_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_parse_in_the_spaces_zone() {
        let london = SpaceZone::parse("Europe/London").unwrap();
        let utc = SpaceZone::utc();
        assert_eq!(parse_time(&utc, "1970-01-01").unwrap(), Timestamp(0));
        let summer = parse_time(&london, "2027-06-15 18:00").unwrap();
        assert_eq!(summer, parse_time(&utc, "2027-06-15T17:00").unwrap());
        assert_eq!(show_time(&london, summer), "Tue 15 Jun 2027 18:00 BST");
        assert_eq!(show_date(&london, summer), "Tue 15 Jun 2027");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "tomorrow",
            "2026-12-01T25:00",
            "2026-12",
            "",
        ] {
            assert!(parse_time(&london, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_in_minutes() {
        assert_eq!(parse_minutes("90").unwrap(), 90);
        assert_eq!(parse_minutes("1h30m").unwrap(), 90);
        assert_eq!(parse_minutes("2h").unwrap(), 120);
        assert_eq!(parse_minutes("45m").unwrap(), 45);
        for bad in ["0", "h", "1x", "", "90s", "8d"] {
            assert!(parse_minutes(bad).is_err(), "{bad}");
        }
    }
}
