//! A space's time zone: how people type and read the instants the
//! documents store (docs/model.md, "Time zone and weekly series").
//!
//! Every conversion uses the IANA database compiled into this binary rather
//! than the device's own: a phone's may be missing, stale or unreadable
//! from an app sandbox, and two devices must turn "Tuesday 18:00" into the
//! same instant.

use std::sync::LazyLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{TimeZone, TimeZoneDatabase};

use super::error::{ModelError, ModelResult};
use super::time::Timestamp;

static DATABASE: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// A space's time zone, by IANA name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceZone {
    name: String,
    zone: TimeZone,
    known: bool,
}

fn bad_time(text: &str, what: &str) -> ModelError {
    ModelError::InvalidInput {
        field: "time",
        reason: format!("{text:?} is not {what}"),
    }
}

impl SpaceZone {
    /// UTC: the zone of a space whose document names none.
    pub fn utc() -> Self {
        SpaceZone {
            name: "UTC".into(),
            zone: TimeZone::UTC,
            known: true,
        }
    }

    /// A zone a person chose, refused unless this build knows it, so a
    /// typo never becomes a group's time zone.
    pub fn parse(name: &str) -> ModelResult<Self> {
        let name = name.trim();
        let zone = DATABASE.get(name).map_err(|_| ModelError::InvalidInput {
            field: "time zone",
            reason: format!("{name:?} is not an IANA time zone such as Europe/London"),
        })?;
        // The database's own spelling, so `europe/london` is stored once.
        let name = zone.iana_name().unwrap_or(name).to_string();
        Ok(SpaceZone {
            name,
            zone,
            known: true,
        })
    }

    /// The zone a document names. One this build does not know (a newer
    /// database, or a modified app) reads as UTC with [`Self::is_known`]
    /// false, never as an error: the space stays readable.
    pub fn from_stored(name: &str) -> Self {
        match Self::parse(name) {
            Ok(zone) => zone,
            Err(_) => SpaceZone {
                name: name.chars().take(64).collect(),
                zone: TimeZone::UTC,
                known: false,
            },
        }
    }

    /// This device's zone, or UTC when it has none this build knows: the
    /// default for a space created here.
    pub fn device() -> Self {
        TimeZone::try_system()
            .ok()
            .and_then(|zone| zone.iana_name().and_then(|n| Self::parse(n).ok()))
            .unwrap_or_else(Self::utc)
    }

    /// The IANA name as stored.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this build knows the zone (if not, times are shown in UTC).
    pub fn is_known(&self) -> bool {
        self.known
    }

    /// The jiff zone, for callers that format times themselves.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// An instant from local text: `2027-01-12 18:00`, `2027-01-12T18:00`,
    /// or a date alone (midnight); text with an offset or `Z`
    /// (`2027-01-12T18:00:00Z`) is that instant whatever the zone. A local
    /// time a clock change skips moves forward; one it repeats takes the
    /// earlier.
    pub fn parse_local(&self, text: &str) -> ModelResult<Timestamp> {
        let text = text.trim();
        if let Ok(instant) = text.parse::<jiff::Timestamp>() {
            return Ok(Timestamp(instant.as_second()));
        }
        let local: DateTime = match text.parse() {
            Ok(local) => local,
            Err(_) => text
                .parse::<Date>()
                .map_err(|_| bad_time(text, "a date and time: use YYYY-MM-DD HH:MM"))?
                .to_datetime(Time::midnight()),
        };
        self.instant(local)
    }

    /// A local calendar date (`2027-03-16`).
    pub fn parse_date(&self, text: &str) -> ModelResult<Date> {
        text.trim()
            .parse::<Date>()
            .map_err(|_| bad_time(text, "a date: use YYYY-MM-DD"))
    }

    /// The instant of a local date and time in this zone.
    pub fn instant(&self, local: DateTime) -> ModelResult<Timestamp> {
        let zoned = local
            .to_zoned_datetime(self.zone.clone())
            .map_err(|_| bad_time(&local.to_string(), "a time in range"))?;
        Ok(Timestamp(zoned.timestamp().as_second()))
    }

    /// The local date and time of an instant in this zone.
    pub fn local(&self, at: Timestamp) -> DateTime {
        self.zoned(at).datetime()
    }

    fn zoned(&self, at: Timestamp) -> jiff::ZonedDateTime {
        // Out-of-range instants (a damaged or hostile value) show as the
        // nearest representable one rather than failing a whole listing.
        let instant = jiff::Timestamp::from_second(at.0).unwrap_or(if at.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        instant.to_zoned_datetime(self.zone.clone())
    }

    /// For people: `Tue 12 Jan 2027 18:00 GMT`.
    pub fn show(&self, at: Timestamp) -> String {
        self.zoned(at).strftime("%a %-d %b %Y %H:%M %Z").to_string()
    }

    /// A date for people: `Tue 12 Jan 2027`.
    pub fn show_date(&self, at: Timestamp) -> String {
        self.zoned(at).strftime("%a %-d %b %Y").to_string()
    }

    /// For programs: RFC 9557, the offset and the zone's name
    /// (`2027-01-12T18:00:00+00:00[Europe/London]`).
    pub fn rfc9557(&self, at: Timestamp) -> String {
        self.zoned(at).to_string()
    }
}

/// A local time of day from `HH:MM`.
pub fn parse_time_of_day(text: &str) -> ModelResult<Time> {
    text.trim()
        .parse::<Time>()
        .map_err(|_| bad_time(text, "a time of day: use HH:MM"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_hundred_in_london_is_gmt_in_winter_and_bst_in_summer() {
        let london = SpaceZone::parse("europe/london").unwrap();
        assert_eq!(london.name(), "Europe/London");
        let winter = london.parse_local("2027-01-12 18:00").unwrap();
        let summer = london.parse_local("2027-06-15T18:00").unwrap();
        assert_eq!(
            winter,
            SpaceZone::utc().parse_local("2027-01-12 18:00").unwrap()
        );
        assert_eq!(
            summer,
            SpaceZone::utc().parse_local("2027-06-15 17:00").unwrap()
        );
        assert_eq!(london.show(winter), "Tue 12 Jan 2027 18:00 GMT");
        assert_eq!(london.show(summer), "Tue 15 Jun 2027 18:00 BST");
        assert_eq!(
            london.rfc9557(summer),
            "2027-06-15T18:00:00+01:00[Europe/London]"
        );
    }

    #[test]
    fn a_skipped_local_time_moves_forward_and_instants_ignore_the_zone() {
        let london = SpaceZone::parse("Europe/London").unwrap();
        // 01:30 does not exist on 28 March 2027 in London.
        let gap = london.parse_local("2027-03-28 01:30").unwrap();
        assert_eq!(london.show(gap), "Sun 28 Mar 2027 02:30 BST");
        let z = london.parse_local("2027-06-15T17:00:00Z").unwrap();
        assert_eq!(london.show(z), "Tue 15 Jun 2027 18:00 BST");
    }

    #[test]
    fn unknown_zones_are_refused_when_chosen_and_read_as_utc_when_stored() {
        assert!(SpaceZone::parse("Mars/Olympus").is_err());
        let stored = SpaceZone::from_stored("Mars/Olympus");
        assert!(!stored.is_known());
        assert_eq!(stored.name(), "Mars/Olympus");
        assert_eq!(stored.show(Timestamp(0)), "Thu 1 Jan 1970 00:00 UTC");
        assert!(SpaceZone::utc().parse_local("18:00 tomorrow").is_err());
        // Huge instants show as the nearest one instead of panicking.
        let _ = stored.show(Timestamp(i64::MAX));
    }
}
