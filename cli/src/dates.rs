//! Dates and times as people type them on a command line, in UTC.
//!
//! `2026-12-01`, `2026-12-01T18:00`, `2026-12-01T18:00:00Z` and
//! `2026-12-01 18:00` are accepted; durations as minutes (`90`) or with units
//! (`90m`, `1h30m`, `2h`). Everything is UTC: the CLI never guesses a time
//! zone, and says so in its help.

use safespaces_core::model::Timestamp;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn number(text: &str, min: i64, max: i64) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// Parses a UTC date or date-time.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let bad = || format!("{text:?} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)");
    let text = text.trim().trim_end_matches(['Z', 'z']);
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d) = (
        number(y, 1970, 9999).ok_or_else(bad)?,
        number(m, 1, 12).ok_or_else(bad)?,
        number(d, 1, 31).ok_or_else(bad)?,
    );
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(bad());
    }
    let mut secs = days * 86_400;
    if let Some(time) = time {
        let mut parts = time.split(':');
        let h = parts
            .next()
            .and_then(|h| number(h, 0, 23))
            .ok_or_else(bad)?;
        let min = parts
            .next()
            .and_then(|m| number(m, 0, 59))
            .ok_or_else(bad)?;
        let s = match parts.next() {
            Some(s) => number(s, 0, 59).ok_or_else(bad)?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        secs += h * 3600 + min * 60 + s;
    }
    Ok(Timestamp(secs))
}

/// Parses a duration into minutes.
pub fn parse_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a duration: use minutes (90) or 1h30m");
    let text = text.trim().to_ascii_lowercase();
    if let Some(n) = number(&text, 1, 100_000) {
        return u32::try_from(n).map_err(|_| bad());
    }
    let mut total = 0i64;
    let mut digits = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' => {
                let n = number(&digits, 0, 100_000).ok_or_else(bad)?;
                total += if c == 'h' { n * 60 } else { n };
                digits.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Formats a time for people: `2026-12-01 18:00 UTC`.
pub fn show_time(t: Timestamp) -> String {
    let days = t.0.div_euclid(86_400);
    let secs = t.0.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Formats a date for people: `2026-12-01`.
pub fn show_date(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.0.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-01").unwrap(), Timestamp(0));
        assert_eq!(
            parse_time("2026-12-01T18:00").unwrap(),
            Timestamp(1_796_148_000)
        );
        assert_eq!(
            parse_time("2026-12-01 18:00:00Z").unwrap(),
            Timestamp(1_796_148_000)
        );
        assert_eq!(show_time(Timestamp(1_796_148_000)), "2026-12-01 18:00 UTC");
        assert_eq!(show_date(parse_time("2024-02-29").unwrap()), "2024-02-29");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "tomorrow",
            "2026-12-01T25:00",
            "2026-12",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_in_minutes() {
        assert_eq!(parse_minutes("90").unwrap(), 90);
        assert_eq!(parse_minutes("1h30m").unwrap(), 90);
        assert_eq!(parse_minutes("2h").unwrap(), 120);
        for bad in ["0", "h", "1x", "", "90s"] {
            assert!(parse_minutes(bad).is_err(), "{bad}");
        }
    }
}
