//! Instants across the boundary: the foreign side's own time type, core's
//! whole seconds inside.
//!
//! Every instant the FFI takes or gives is a `SystemTime`, which uniffi
//! maps to `java.time.Instant` in Kotlin, `Date` in Swift and a
//! timezone-aware `datetime.datetime` in Python, never a bare integer.
//! A bare `i64` of seconds let an app pass `System.currentTimeMillis()`
//! (milliseconds) and be wrong by a factor of 1000 without any error; a
//! typed instant cannot be built from the wrong unit by accident.
//!
//! Core stores [`Timestamp`]: whole seconds since the Unix epoch. These two
//! functions are the only conversions between the two; every exported call
//! and record uses them.
//!
//! The range both ways is 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z:
//! core's times are never before the epoch, and Python's `datetime` ends
//! with year 9999 (Kotlin's `Instant` and Swift's `Date` reach further), so
//! a time outside it could not come back. An app's time outside the range
//! is refused with `InvalidInput`; a stored time outside it (written by
//! another device, which is outside input) is pinned to the nearer end, so
//! reading a record never throws in the generated code and every time the
//! FFI hands out is one it accepts back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use safespaces_core::model::Timestamp;

use crate::error::SafeSpacesError;

/// 9999-12-31T23:59:59Z in seconds since the epoch: the last whole second
/// Python's `datetime` can hold.
const LATEST_SECS: i64 = 253_402_300_799;

/// An app's instant as core's whole seconds; the part below a second is
/// dropped (core keeps no finer time). `what` names the argument or field
/// for the error: a time before 1970 or after year 9999 is `InvalidInput`.
pub(crate) fn timestamp(at: SystemTime, what: &str) -> Result<Timestamp, SafeSpacesError> {
    let since_epoch = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| SafeSpacesError::InvalidInput {
            reason: format!("`{what}` is before 1970-01-01T00:00:00Z; pass a later time"),
        })?;
    i64::try_from(since_epoch.as_secs())
        .ok()
        .filter(|secs| *secs <= LATEST_SECS)
        .map(Timestamp)
        .ok_or_else(|| SafeSpacesError::InvalidInput {
            reason: format!("`{what}` is after 9999-12-31T23:59:59Z; pass an earlier time"),
        })
}

/// Core's whole seconds as an instant for the app, pinned to
/// 1970-01-01T00:00:00Z..=9999-12-31T23:59:59Z (see the module docs).
pub(crate) fn system_time(at: Timestamp) -> SystemTime {
    let secs = at.0.clamp(0, LATEST_SECS).unsigned_abs();
    // Every platform Rust supports holds year 9999 in a `SystemTime`; the
    // fallback only keeps this total rather than panicking.
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn an_instant_round_trips_to_the_second() {
        let at = secs(1_767_000_000);
        assert_eq!(timestamp(at, "now").unwrap(), Timestamp(1_767_000_000));
        assert_eq!(system_time(timestamp(at, "now").unwrap()), at);
        assert_eq!(system_time(Timestamp(0)), UNIX_EPOCH);
    }

    #[test]
    fn the_part_below_a_second_is_dropped() {
        let at = secs(1_767_000_000) + Duration::from_millis(999);
        assert_eq!(timestamp(at, "now").unwrap(), Timestamp(1_767_000_000));
    }

    #[test]
    fn a_time_before_1970_is_invalid_input_naming_the_argument() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        let err = timestamp(before, "starts_at").unwrap_err();
        assert!(
            matches!(&err, SafeSpacesError::InvalidInput { reason } if reason.contains("`starts_at`")),
            "{err:?}"
        );
    }

    #[test]
    fn a_time_after_year_9999_is_invalid_input() {
        let last = secs(LATEST_SECS.unsigned_abs());
        assert_eq!(timestamp(last, "at").unwrap(), Timestamp(LATEST_SECS));
        let after = last + Duration::from_secs(1);
        assert!(matches!(
            timestamp(after, "at"),
            Err(SafeSpacesError::InvalidInput { .. })
        ));
    }

    #[test]
    fn stored_times_out_of_range_are_pinned_to_the_nearer_end() {
        assert_eq!(system_time(Timestamp(-1)), UNIX_EPOCH);
        assert_eq!(system_time(Timestamp(i64::MIN)), UNIX_EPOCH);
        let latest = secs(LATEST_SECS.unsigned_abs());
        assert_eq!(system_time(Timestamp(LATEST_SECS + 1)), latest);
        assert_eq!(system_time(Timestamp(i64::MAX)), latest);
        // What comes out is always accepted back.
        assert!(timestamp(system_time(Timestamp(i64::MAX)), "at").is_ok());
    }
}
