//! A space's time zone and weekly series: times typed and shown in the
//! group's own zone, sessions that repeat in local time (docs/model.md,
//! "Time zone and weekly series").

use safespaces_core::model;

/// A space's time zone.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TimeZoneInfo {
    /// Its IANA name (`Europe/London`), as the space stores it.
    pub name: String,
    /// Whether this build knows it. If not, times are shown in UTC: tell
    /// the person, and ask a coordinator to choose the zone again.
    pub known: bool,
}

impl From<model::SpaceZone> for TimeZoneInfo {
    fn from(zone: model::SpaceZone) -> Self {
        TimeZoneInfo {
            name: zone.name().to_string(),
            known: zone.is_known(),
        }
    }
}

/// How a series repeats: every `every_weeks` weeks on the weekday and local
/// time of its draft's start. Give exactly one of `count` and `until`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SeriesRule {
    /// 1 for weekly, 2 for fortnightly (1 to 52).
    pub every_weeks: u32,
    /// How many sessions, the first included (at most 104).
    pub count: Option<u32>,
    /// The last local date one may fall on (`2027-03-16`).
    pub until: Option<String>,
}

/// A series just planned.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SeriesPlan {
    /// The series' id, carried by each of its sessions.
    pub series_id: String,
    /// Its sessions, in order.
    pub session_ids: Vec<String>,
}

impl SeriesRule {
    pub(crate) fn to_model(
        &self,
        zone: &model::SpaceZone,
    ) -> Result<model::SeriesRule, crate::error::SafeSpacesError> {
        let end = match (self.count, &self.until) {
            (Some(n), None) => model::SeriesEnd::Count(n),
            (None, Some(until)) => model::SeriesEnd::Until(zone.parse_date(until)?),
            _ => {
                return Err(crate::error::SafeSpacesError::InvalidInput {
                    reason: "a series needs exactly one of count and until".into(),
                });
            }
        };
        Ok(model::SeriesRule {
            every_weeks: self.every_weeks,
            end,
        })
    }
}
