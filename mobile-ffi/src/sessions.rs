//! Sessions: what is planned, its edits, conflicts and volunteer leads.

use std::time::SystemTime;

use safespaces_core::model::{self, Timestamp};

use crate::error::SafeSpacesError;
use crate::time::{system_time, timestamp};
use crate::training::Clearance;

/// The kinds of session the project runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SessionKind {
    /// A wellbeing event (yoga, art, a walk).
    WellbeingEvent,
    /// A social activity.
    SocialActivity,
    /// A survivor discussion group.
    SurvivorDiscussionGroup,
    /// Anything else.
    Other,
}

impl From<model::SessionKind> for SessionKind {
    fn from(kind: model::SessionKind) -> Self {
        match kind {
            model::SessionKind::WellbeingEvent => SessionKind::WellbeingEvent,
            model::SessionKind::SocialActivity => SessionKind::SocialActivity,
            model::SessionKind::SurvivorDiscussionGroup => SessionKind::SurvivorDiscussionGroup,
            model::SessionKind::Other => SessionKind::Other,
        }
    }
}

impl From<SessionKind> for model::SessionKind {
    fn from(kind: SessionKind) -> Self {
        match kind {
            SessionKind::WellbeingEvent => model::SessionKind::WellbeingEvent,
            SessionKind::SocialActivity => model::SessionKind::SocialActivity,
            SessionKind::SurvivorDiscussionGroup => model::SessionKind::SurvivorDiscussionGroup,
            SessionKind::Other => model::SessionKind::Other,
        }
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SessionStatus {
    /// Going ahead; sign-ups open.
    Planned,
    /// Called off; kept so attendees see it was cancelled.
    Cancelled,
    /// Happened.
    Completed,
}

impl From<model::SessionStatus> for SessionStatus {
    fn from(status: model::SessionStatus) -> Self {
        match status {
            model::SessionStatus::Planned => SessionStatus::Planned,
            model::SessionStatus::Cancelled => SessionStatus::Cancelled,
            model::SessionStatus::Completed => SessionStatus::Completed,
        }
    }
}

/// A session. Who signed up is not here: `Space.roster` gives the counts
/// every member may see, `Space.attendees` the names (leads only), and
/// `Space.myPlace` where this person stands.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Session {
    /// The session's id.
    pub id: String,
    /// What kind of session.
    pub kind: SessionKind,
    /// Its title.
    pub title: String,
    /// What to expect.
    pub description: String,
    /// When it starts.
    pub starts_at: SystemTime,
    /// How long it lasts.
    pub duration_minutes: u32,
    /// Where.
    pub location: String,
    /// Places available; more sign-ups go on the waitlist.
    pub capacity: u32,
    /// Content notes, so people can choose.
    pub content_notes: Vec<String>,
    /// Accessibility information.
    pub accessibility: String,
    /// When it ends: its start plus its duration.
    pub ends_at: SystemTime,
    /// Planned, cancelled or completed: as of `now` from
    /// `Space.upcomingSessions` and `Space.pastSessions` (a planned session
    /// that has ended reads as completed), as stored elsewhere.
    pub status: SessionStatus,
    /// The weekly series it belongs to, if any.
    pub series_id: Option<String>,
    /// Its index in that series, from 0.
    pub occurrence: Option<u32>,
    /// When sign-ups close: its start, or the set time before it.
    pub signups_close_at: SystemTime,
    /// Who planned it (member id).
    pub created_by: String,
    /// Who volunteered to lead it (member ids); `Space.sessionLeads` says
    /// whether each is cleared.
    pub leads: Vec<String>,
}

impl From<(model::SessionId, model::Session)> for Session {
    fn from((id, s): (model::SessionId, model::Session)) -> Self {
        let ends_at = system_time(s.ends_at());
        let signups_close_at = system_time(s.signups_close_at());
        Session {
            id: id.to_string(),
            kind: s.kind.into(),
            title: s.title,
            description: s.description,
            starts_at: system_time(s.starts_at),
            ends_at,
            duration_minutes: s.duration_minutes,
            location: s.location,
            capacity: s.capacity,
            content_notes: s.content_notes,
            accessibility: s.accessibility,
            status: s.status.into(),
            series_id: s.series.map(|id| id.to_string()),
            occurrence: s.occurrence,
            signups_close_at,
            created_by: s.created_by.to_string(),
            leads: s.leads.into_keys().map(|m| m.to_string()).collect(),
        }
    }
}

/// A session to plan.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SessionDraft {
    /// What kind of session.
    pub kind: SessionKind,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: SystemTime,
    /// How long it lasts.
    pub duration_minutes: u32,
    /// Places available.
    pub capacity: u32,
    /// What to expect.
    #[uniffi(default = "")]
    pub description: String,
    /// Where.
    #[uniffi(default = "")]
    pub location: String,
    /// Content notes.
    #[uniffi(default)]
    pub content_notes: Vec<String>,
    /// Accessibility information.
    #[uniffi(default = "")]
    pub accessibility: String,
    /// Close sign-ups this many minutes before the start (`null`: at the
    /// start; at most a week).
    #[uniffi(default = None)]
    pub signups_close_before_minutes: Option<u32>,
}

/// Fallible: the app's `starts_at` may be outside the range core keeps.
impl TryFrom<SessionDraft> for model::SessionDraft {
    type Error = SafeSpacesError;

    fn try_from(d: SessionDraft) -> Result<Self, SafeSpacesError> {
        Ok(model::SessionDraft {
            kind: d.kind.into(),
            title: d.title,
            description: d.description,
            starts_at: timestamp(d.starts_at, "starts_at")?,
            duration_minutes: d.duration_minutes,
            location: d.location,
            capacity: d.capacity,
            content_notes: d.content_notes,
            accessibility: d.accessibility,
            signups_close_before_minutes: d.signups_close_before_minutes,
        })
    }
}

/// Changes to some fields of a session; `null` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct SessionEdit {
    /// New kind.
    #[uniffi(default = None)]
    pub kind: Option<SessionKind>,
    /// New title.
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// New description.
    #[uniffi(default = None)]
    pub description: Option<String>,
    /// New start.
    #[uniffi(default = None)]
    pub starts_at: Option<SystemTime>,
    /// New duration.
    #[uniffi(default = None)]
    pub duration_minutes: Option<u32>,
    /// New location.
    #[uniffi(default = None)]
    pub location: Option<String>,
    /// New capacity.
    #[uniffi(default = None)]
    pub capacity: Option<u32>,
    /// New content notes.
    #[uniffi(default = None)]
    pub content_notes: Option<Vec<String>>,
    /// New accessibility information.
    #[uniffi(default = None)]
    pub accessibility: Option<String>,
    /// When sign-ups close, in minutes before the start (0: at the start).
    #[uniffi(default = None)]
    pub signups_close_before_minutes: Option<u32>,
}

/// Fallible: the app's `starts_at` may be outside the range core keeps.
impl TryFrom<SessionEdit> for model::SessionEdit {
    type Error = SafeSpacesError;

    fn try_from(e: SessionEdit) -> Result<Self, SafeSpacesError> {
        Ok(model::SessionEdit {
            kind: e.kind.map(Into::into),
            title: e.title,
            description: e.description,
            starts_at: e
                .starts_at
                .map(|at| timestamp(at, "starts_at"))
                .transpose()?,
            duration_minutes: e.duration_minutes,
            location: e.location,
            capacity: e.capacity,
            content_notes: e.content_notes,
            accessibility: e.accessibility,
            signups_close_before_minutes: e.signups_close_before_minutes,
        })
    }
}

/// One of the values of a field two people changed at once.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictValue {
    /// A text field (title, location, status…).
    Text {
        /// The value.
        value: String,
    },
    /// A number field (capacity, duration…).
    Integer {
        /// The value.
        value: i64,
    },
    /// A time field (`starts_at`): write it back as it is, e.g. as
    /// `SessionEdit.startsAt`.
    Time {
        /// The value.
        value: SystemTime,
    },
    /// Something else, described.
    Other {
        /// A description.
        value: String,
    },
}

impl From<model::ConflictValue> for ConflictValue {
    fn from(value: model::ConflictValue) -> Self {
        match value {
            model::ConflictValue::Text(value) => ConflictValue::Text { value },
            model::ConflictValue::Integer(value) => ConflictValue::Integer { value },
            model::ConflictValue::Other(value) => ConflictValue::Other { value },
        }
    }
}

/// A field with more than one concurrent value. Show them all; writing one
/// back (`Space.editSession`) resolves the conflict everywhere.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FieldConflict {
    /// The field's stored name (`starts_at`, `title`, …).
    pub field: String,
    /// Every value; the first is the one shown now.
    pub values: Vec<ConflictValue>,
}

/// The session fields core stores as a `Timestamp`. Core reports every
/// conflicting number as an integer; these are instants, so they cross as
/// `Time`, never as bare seconds an app would have to turn back into an
/// instant (the factor-of-1000 mistake `time.rs` rules out).
const TIME_FIELDS: [&str; 2] = ["starts_at", "created_at"];

impl From<model::FieldConflict> for FieldConflict {
    fn from(c: model::FieldConflict) -> Self {
        let is_time = TIME_FIELDS.contains(&c.field.as_str());
        let values = c
            .values
            .into_iter()
            .map(|value| match value {
                model::ConflictValue::Integer(secs) if is_time => ConflictValue::Time {
                    value: system_time(Timestamp(secs)),
                },
                other => other.into(),
            })
            .collect();
        FieldConflict {
            field: c.field,
            values,
        }
    }
}

/// Where an offer to lead stands. Only an accepted lead, cleared at the
/// session's start, sees and records its sign-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LeadState {
    /// Waiting for a coordinator or an accepted lead to decide.
    Offered,
    /// Leads the session.
    Accepted,
    /// Declined (the member may offer again).
    Declined,
}

impl From<model::LeadState> for LeadState {
    fn from(state: model::LeadState) -> Self {
        match state {
            model::LeadState::Offered => LeadState::Offered,
            model::LeadState::Accepted => LeadState::Accepted,
            model::LeadState::Declined => LeadState::Declined,
        }
    }
}

/// Someone who offered to lead a session, and whether they are cleared.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LeadStatus {
    /// Their member id.
    pub member: String,
    /// Their pseudonym (empty if they have left the space).
    pub pseudonym: String,
    /// When they volunteered.
    pub volunteered_at: SystemTime,
    /// Offered, accepted or declined.
    pub state: LeadState,
    /// Whether their training clears them to lead.
    pub clearance: Clearance,
}

/// A planned session that, as things stand, goes ahead without a lead
/// cleared at its start, or with a lead who won't be.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ClearanceWarning {
    /// The session's id.
    pub session: String,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: SystemTime,
    /// No lead will be cleared at its start (also when nobody volunteered).
    pub no_cleared_lead: bool,
    /// The leads who won't be cleared at its start, with what is missing.
    pub uncleared: Vec<LeadStatus>,
}

impl From<model::ClearanceWarning> for ClearanceWarning {
    fn from(w: model::ClearanceWarning) -> Self {
        ClearanceWarning {
            session: w.session.to_string(),
            title: w.title,
            starts_at: system_time(w.starts_at),
            no_cleared_lead: w.no_cleared_lead,
            uncleared: w.uncleared.into_iter().map(Into::into).collect(),
        }
    }
}

/// A member cleared now whose clearance lapses soon, with the planned
/// sessions she leads after it lapses.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ExpiringClearance {
    /// Her member id.
    pub member: String,
    /// Her pseudonym.
    pub pseudonym: String,
    /// When her clearance lapses.
    pub lapses_at: SystemTime,
    /// Ids of the planned sessions she leads that start after that.
    pub sessions: Vec<String>,
}

impl From<model::ExpiringClearance> for ExpiringClearance {
    fn from(e: model::ExpiringClearance) -> Self {
        ExpiringClearance {
            member: e.member.to_string(),
            pseudonym: e.pseudonym,
            lapses_at: system_time(e.lapses_at),
            sessions: e.sessions.into_iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl From<model::LeadStatus> for LeadStatus {
    fn from(l: model::LeadStatus) -> Self {
        LeadStatus {
            member: l.member.to_string(),
            pseudonym: l.pseudonym,
            volunteered_at: system_time(l.volunteered_at),
            state: l.state.into(),
            clearance: l.clearance.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_conflicting_start_crosses_as_a_time_and_a_capacity_as_a_number() {
        let conflict = |field: &str| {
            FieldConflict::from(model::FieldConflict {
                field: field.into(),
                values: vec![
                    model::ConflictValue::Integer(18_000),
                    model::ConflictValue::Integer(19_000),
                ],
            })
        };
        let time = |secs| ConflictValue::Time {
            value: UNIX_EPOCH + Duration::from_secs(secs),
        };
        assert_eq!(
            conflict("starts_at").values,
            vec![time(18_000), time(19_000)]
        );
        assert_eq!(
            conflict("capacity").values,
            vec![
                ConflictValue::Integer { value: 18_000 },
                ConflictValue::Integer { value: 19_000 },
            ]
        );
    }
}
