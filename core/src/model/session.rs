//! Sessions: what is planned, when, where, for whom.

use std::collections::BTreeMap;

use automerge::ScalarValue;
use automerge::hydrate::{self, Value as NewValue};
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
    /// The offer as one value, in the shape its `Reconcile` writes (see
    /// [`Session::as_new_value`]).
    fn as_new_value(&self) -> NewValue {
        let scalar = NewValue::Scalar;
        let fields: std::collections::HashMap<&str, NewValue> = [
            (
                "volunteered_at",
                scalar(ScalarValue::Int(self.volunteered_at.0)),
            ),
            (
                "state",
                scalar(ScalarValue::Str(self.state.as_str().into())),
            ),
            (
                "decided_by",
                scalar(
                    self.decided_by
                        .as_ref()
                        .map_or(ScalarValue::Null, |m| ScalarValue::Str(m.as_str().into())),
                ),
            ),
            (
                "decided_at",
                scalar(
                    self.decided_at
                        .map_or(ScalarValue::Null, |t| ScalarValue::Int(t.0)),
                ),
            ),
        ]
        .into_iter()
        .collect();
        NewValue::Map(hydrate::Map::from(fields))
    }

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
    /// The session as one value for automerge to write whole
    /// (`batch_create_object`), in exactly the shape its `Reconcile`
    /// writes (`a_new_session_is_written_in_the_shape_reconcile_writes`).
    /// A reconcile reads every key back before writing it, which for a
    /// new session in a space of hundreds costs several times the write
    /// itself, on the path of every session a lead plans.
    pub(crate) fn as_new_value(&self) -> NewValue {
        let text = |s: &str| NewValue::Scalar(ScalarValue::Str(s.into()));
        let uint = |n: u32| NewValue::Scalar(ScalarValue::Uint(u64::from(n)));
        let time = |t: Timestamp| NewValue::Scalar(ScalarValue::Int(t.0));
        let or_null = |v: Option<NewValue>| v.unwrap_or(NewValue::Scalar(ScalarValue::Null));
        let leads: std::collections::HashMap<&str, NewValue> = self
            .leads
            .iter()
            .map(|(member, offer)| (member.as_str(), offer.as_new_value()))
            .collect();
        let notes: Vec<NewValue> = self.content_notes.iter().map(|n| text(n)).collect();
        let fields: std::collections::HashMap<&str, NewValue> = [
            ("kind", text(self.kind.as_str())),
            ("title", text(&self.title)),
            ("description", text(&self.description)),
            ("starts_at", time(self.starts_at)),
            ("duration_minutes", uint(self.duration_minutes)),
            ("location", text(&self.location)),
            ("capacity", uint(self.capacity)),
            ("content_notes", NewValue::List(hydrate::List::from(notes))),
            ("accessibility", text(&self.accessibility)),
            ("status", text(self.status.as_str())),
            ("created_by", text(self.created_by.as_str())),
            ("created_at", time(self.created_at)),
            (
                "series",
                or_null(self.series.as_ref().map(|s| text(s.as_str()))),
            ),
            ("occurrence", or_null(self.occurrence.map(uint))),
            (
                "signups_close_before_minutes",
                or_null(self.signups_close_before_minutes.map(uint)),
            ),
            ("leads", NewValue::Map(hydrate::Map::from(leads))),
            ("signups", self.signups.as_new_value()),
        ]
        .into_iter()
        .collect();
        NewValue::Map(hydrate::Map::from(fields))
    }

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

#[cfg(test)]
mod new_value_tests {
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, transaction::Transactable};
    use autosurgeon::reconcile_prop;

    use super::*;
    use crate::model::ids::TicketId;
    use crate::model::waitlist::{SignUp, SignUpState};

    fn member(n: u8) -> MemberId {
        MemberId::from(format!("{n:016x}"))
    }

    /// Sessions of every shape a write can hold: bare, and with every
    /// optional field set, notes, offers in each state and sign-ups (one
    /// freed).
    fn shapes() -> Vec<Session> {
        let bare = Session {
            kind: SessionKind::WellbeingEvent,
            title: "Walk".into(),
            description: String::new(),
            starts_at: Timestamp(1_900_000_000),
            duration_minutes: 60,
            location: "Park gate".into(),
            capacity: 10,
            content_notes: vec![],
            accessibility: String::new(),
            status: SessionStatus::Planned,
            created_by: member(1),
            created_at: Timestamp(5),
            series: None,
            occurrence: None,
            signups_close_before_minutes: None,
            leads: BTreeMap::new(),
            signups: SignUps::default(),
        };
        let signup = |counter: u64, freed: bool| SignUp {
            state: SignUpState::Attending,
            at: Timestamp(7),
            recorded_at: Timestamp(8),
            counter,
            key: "ab".repeat(32),
            signature: "cd".repeat(64),
            sealed: "c2VhbGVk".into(),
            freed,
        };
        let mut full = bare.clone();
        full.kind = SessionKind::SurvivorDiscussionGroup;
        full.description = "A circle".into();
        full.content_notes = vec!["assault".into(), "grief".into()];
        full.accessibility = "Step-free".into();
        full.status = SessionStatus::Cancelled;
        full.series = Some(SeriesId::random());
        full.occurrence = Some(3);
        full.signups_close_before_minutes = Some(1440);
        full.leads.insert(
            member(2),
            LeadOffer {
                volunteered_at: Timestamp(6),
                state: LeadState::Accepted,
                decided_by: Some(member(1)),
                decided_at: Some(Timestamp(9)),
            },
        );
        full.leads.insert(
            member(3),
            LeadOffer {
                volunteered_at: Timestamp(6),
                state: LeadState::Offered,
                decided_by: None,
                decided_at: None,
            },
        );
        full.signups.0.insert(TicketId::random(), signup(1, false));
        full.signups.0.insert(TicketId::random(), signup(4, true));
        vec![bare, full]
    }

    #[test]
    fn a_new_session_is_written_in_the_shape_reconcile_writes() {
        for session in shapes() {
            let mut reconciled = AutoCommit::new();
            reconcile_prop(&mut reconciled, ROOT, "s", &session).unwrap();
            let mut batched = AutoCommit::new();
            let sessions = batched.put_object(ROOT, "sessions", ObjType::Map).unwrap();
            let obj = batched
                .batch_create_object(&sessions, "s", &session.as_new_value(), false)
                .unwrap();
            let (_, expected) = reconciled.get(ROOT, "s").unwrap().unwrap();
            // Every key, value and scalar type (an unsigned int is not an
            // int to automerge), and what reads it back.
            assert_eq!(
                batched.hydrate(&obj, None).unwrap(),
                reconciled.hydrate(&expected, None).unwrap()
            );
            let read: Session = autosurgeon::hydrate_prop(&batched, &sessions, "s").unwrap();
            assert_eq!(read, session);
        }
    }
}
