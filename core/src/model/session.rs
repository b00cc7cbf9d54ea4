//! Sessions: what is planned, when, where, for whom.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::error::{ModelError, ModelResult};
use super::ids::{MemberId, SeriesId};
use super::time::Timestamp;
use super::waitlist::SignUps;

/// The kinds of session the project runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A wellbeing event (yoga, art, a walk).
    #[autosurgeon(rename = "wellbeing_event")]
    WellbeingEvent,
    /// A social activity.
    #[autosurgeon(rename = "social_activity")]
    SocialActivity,
    /// A survivor discussion group.
    #[autosurgeon(rename = "survivor_discussion_group")]
    SurvivorDiscussionGroup,
    /// Anything else.
    #[autosurgeon(rename = "other")]
    Other,
}

impl SessionKind {
    /// The stable name, as stored and as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::WellbeingEvent => "wellbeing_event",
            SessionKind::SocialActivity => "social_activity",
            SessionKind::SurvivorDiscussionGroup => "survivor_discussion_group",
            SessionKind::Other => "other",
        }
    }

    /// Parses the stable name (also accepting `-` for `_`).
    pub fn parse(text: &str) -> ModelResult<Self> {
        match text.trim().replace('-', "_").to_ascii_lowercase().as_str() {
            "wellbeing_event" | "wellbeing" => Ok(SessionKind::WellbeingEvent),
            "social_activity" | "social" => Ok(SessionKind::SocialActivity),
            "survivor_discussion_group" | "discussion" | "discussion_group" => {
                Ok(SessionKind::SurvivorDiscussionGroup)
            }
            "other" => Ok(SessionKind::Other),
            _ => Err(ModelError::InvalidInput {
                field: "session kind",
                reason:
                    "expected wellbeing_event, social_activity, survivor_discussion_group or other"
                        .into(),
            }),
        }
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Going ahead; sign-ups open.
    #[autosurgeon(rename = "planned")]
    Planned,
    /// Called off; sign-ups closed, kept so attendees see it was cancelled.
    #[autosurgeon(rename = "cancelled")]
    Cancelled,
    /// Happened.
    #[autosurgeon(rename = "completed")]
    Completed,
}

impl SessionStatus {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Planned => "planned",
            SessionStatus::Cancelled => "cancelled",
            SessionStatus::Completed => "completed",
        }
    }
}

/// Where an offer to lead stands. Only an accepted lead may record
/// sign-ups, and only while cleared at the session's start (protocol.md §4):
/// volunteering alone gives a member nothing, so a hostile member cannot
/// make herself a lead of a survivor's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    /// Offered, waiting for a coordinator or an accepted lead to decide.
    #[autosurgeon(rename = "offered")]
    Offered,
    /// Accepted: leads the session.
    #[autosurgeon(rename = "accepted")]
    Accepted,
    /// Declined: does not lead it (the member may offer again).
    #[autosurgeon(rename = "declined")]
    Declined,
}

impl LeadState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadState::Offered => "offered",
            LeadState::Accepted => "accepted",
            LeadState::Declined => "declined",
        }
    }
}

/// A member's offer to lead a session, and the decision on it. Whether
/// they are *cleared* to lead is derived from training records when asked,
/// never stored here.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct LeadOffer {
    /// When they volunteered (or were named as a cover lead).
    pub volunteered_at: Timestamp,
    /// Offered, accepted or declined.
    pub state: LeadState,
    /// Who accepted or declined the offer (or named this lead).
    pub decided_by: Option<MemberId>,
    /// When they did.
    pub decided_at: Option<Timestamp>,
}

impl LeadOffer {
    /// Whether this lead leads the session (before any clearance check).
    pub fn is_accepted(&self) -> bool {
        self.state == LeadState::Accepted
    }
}

/// A session as stored in the space document.
///
/// Scalar fields are separate automerge keys, so two leads editing different
/// fields offline both keep their edit, and two leads editing the *same*
/// field leave a conflict the app can show (see [`super::conflict`]).
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Session {
    /// What kind of session.
    pub kind: SessionKind,
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// When it starts.
    pub starts_at: Timestamp,
    /// How long it runs, in minutes.
    pub duration_minutes: u32,
    /// Where. May be "shared with attendees" when the place itself is sensitive.
    pub location: String,
    /// How many people can attend; further sign-ups join the waitlist.
    pub capacity: u32,
    /// Content notes, e.g. "discusses experiences of assault".
    pub content_notes: Vec<String>,
    /// Accessibility information (step-free access, BSL, quiet room…).
    pub accessibility: String,
    /// Planned, cancelled or completed.
    pub status: SessionStatus,
    /// Who created it.
    pub created_by: MemberId,
    /// When it was created (the creating device's clock): the earliest
    /// queue time a sign-up can claim (see [`super::waitlist`]).
    pub created_at: Timestamp,
    /// The weekly series it belongs to, if any (see [`super::series`]).
    pub series: Option<SeriesId>,
    /// Its index in that series, from 0.
    pub occurrence: Option<u32>,
    /// How long before the start sign-ups close, in minutes; `None` (or
    /// 0) closes them at the start. Leads need the list a day ahead for a
    /// room booking, say.
    pub signups_close_before_minutes: Option<u32>,
    /// Members who offered to lead it, and the decisions on their offers.
    pub leads: BTreeMap<MemberId, LeadOffer>,
    /// Sign-ups by ticket; who holds each ticket is sealed to the leads.
    /// The attending list and waitlist are derived from these (see
    /// [`super::waitlist`]).
    pub signups: SignUps,
}

impl Session {
    /// When it ends: its start plus its duration.
    pub fn ends_at(&self) -> Timestamp {
        self.starts_at
            .plus_secs(i64::from(self.duration_minutes).saturating_mul(60))
    }

    /// Its status at `now`: a planned session that has ended reads as
    /// completed on every device without anyone writing it, so no session
    /// stays "planned" for ever because nobody closed it.
    pub fn status_at(&self, now: Timestamp) -> SessionStatus {
        match self.status {
            SessionStatus::Planned if now >= self.ends_at() => SessionStatus::Completed,
            status => status,
        }
    }

    /// When sign-ups close: at the start, or the set time before it.
    pub fn signups_close_at(&self) -> Timestamp {
        let before = i64::from(self.signups_close_before_minutes.unwrap_or(0));
        self.starts_at.plus_secs(-before.saturating_mul(60))
    }

    /// Whether a request to attend made at `at` can still be recorded:
    /// sign-ups close at [`Session::signups_close_at`], and for a cancelled
    /// or completed session. (Cancelling one's own place is always
    /// recorded.)
    pub fn signups_open(&self, at: Timestamp) -> bool {
        self.status == SessionStatus::Planned && at < self.signups_close_at()
    }

    /// Whether it has not ended by `now`: what "upcoming" lists show.
    pub fn is_upcoming(&self, now: Timestamp) -> bool {
        now < self.ends_at()
    }
}

/// Everything needed to plan a new session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDraft {
    /// What kind of session.
    pub kind: SessionKind,
    /// Short title (required).
    pub title: String,
    /// Longer description.
    pub description: String,
    /// When it starts.
    pub starts_at: Timestamp,
    /// How long it runs, in minutes (at least 1).
    pub duration_minutes: u32,
    /// Where, or "shared with attendees".
    pub location: String,
    /// How many people can attend (at least 1).
    pub capacity: u32,
    /// Content notes.
    pub content_notes: Vec<String>,
    /// Accessibility information.
    pub accessibility: String,
    /// Close sign-ups this many minutes before the start (`None`: at the
    /// start; at most a week).
    pub signups_close_before_minutes: Option<u32>,
}

/// A change to some fields of a session; `None` leaves a field alone, so
/// that an edit never overwrites a field its author did not touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionEdit {
    /// New kind.
    pub kind: Option<SessionKind>,
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New start.
    pub starts_at: Option<Timestamp>,
    /// New duration in minutes.
    pub duration_minutes: Option<u32>,
    /// New location.
    pub location: Option<String>,
    /// New capacity. Lowering it moves the latest attendees back to the
    /// waitlist; raising it promotes from the waitlist.
    pub capacity: Option<u32>,
    /// New content notes (replaces the list).
    pub content_notes: Option<Vec<String>>,
    /// New accessibility information.
    pub accessibility: Option<String>,
    /// When sign-ups close, in minutes before the start (0: at the start).
    /// Requests already recorded keep their places.
    pub signups_close_before_minutes: Option<u32>,
}

pub(crate) fn check_title(title: &str) -> ModelResult<()> {
    if title.trim().is_empty() {
        return Err(ModelError::InvalidInput {
            field: "title",
            reason: "a session needs a title".into(),
        });
    }
    check_len("title", title, 200)
}

/// The longest sign-ups may close before a session: a week.
pub const MAX_CLOSE_BEFORE_MINUTES: u32 = 7 * 24 * 60;

fn check_close_before(minutes: Option<u32>) -> ModelResult<()> {
    if minutes.is_some_and(|m| m > MAX_CLOSE_BEFORE_MINUTES) {
        return Err(ModelError::InvalidInput {
            field: "sign-ups close",
            reason: "at most a week before the start".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_capacity(capacity: u32) -> ModelResult<()> {
    if capacity == 0 {
        return Err(ModelError::InvalidInput {
            field: "capacity",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_duration(minutes: u32) -> ModelResult<()> {
    if minutes == 0 || minutes > 7 * 24 * 60 {
        return Err(ModelError::InvalidInput {
            field: "duration",
            reason: "must be between 1 minute and 7 days".into(),
        });
    }
    Ok(())
}

/// Bounds free text so one member cannot bloat everyone's document.
pub(crate) fn check_len(field: &'static str, text: &str, max_chars: usize) -> ModelResult<()> {
    if text.chars().count() > max_chars {
        return Err(ModelError::InvalidInput {
            field,
            reason: format!("at most {max_chars} characters"),
        });
    }
    Ok(())
}

impl SessionDraft {
    pub(crate) fn validate(&self) -> ModelResult<()> {
        check_title(&self.title)?;
        check_len("description", &self.description, 10_000)?;
        check_len("location", &self.location, 500)?;
        check_len("accessibility", &self.accessibility, 2_000)?;
        for note in &self.content_notes {
            check_len("content note", note, 500)?;
        }
        check_capacity(self.capacity)?;
        check_close_before(self.signups_close_before_minutes)?;
        check_duration(self.duration_minutes)
    }
}

impl SessionEdit {
    pub(crate) fn validate(&self) -> ModelResult<()> {
        if let Some(title) = &self.title {
            check_title(title)?;
        }
        if let Some(text) = &self.description {
            check_len("description", text, 10_000)?;
        }
        if let Some(text) = &self.location {
            check_len("location", text, 500)?;
        }
        if let Some(text) = &self.accessibility {
            check_len("accessibility", text, 2_000)?;
        }
        if let Some(notes) = &self.content_notes {
            for note in notes {
                check_len("content note", note, 500)?;
            }
        }
        if let Some(capacity) = self.capacity {
            check_capacity(capacity)?;
        }
        if let Some(minutes) = self.duration_minutes {
            check_duration(minutes)?;
        }
        check_close_before(self.signups_close_before_minutes)?;
        Ok(())
    }
}
