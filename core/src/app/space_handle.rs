//! A handle on one space.
//!
//! Every method locks the app's state, works on the decrypted document, and
//! persists what it wrote before returning. The handle itself holds only the
//! space id, so it is cheap to clone and safe to keep across a lock.

use std::sync::Arc;

use super::error::{AppError, AppResult};
use super::registry::{PendingRequest, SpaceEntry};
use super::shared::{Loaded, Shared};
use crate::model::{
    Clearance, ClearanceWarning, ExpiringClearance, FieldConflict, LeadState, LeadStatus, Member,
    MemberId, Place, RecordId, Resource, ResourceCategory, ResourceId, Role, SeriesId, SeriesRule,
    Session, SessionDraft, SessionEdit, SessionId, SessionStatus, SignUpState, SpaceDoc, SpaceZone,
    Timestamp, TrainingModule, TrainingRecord,
};
use crate::protocol::SpaceId;
use crate::protocol::attendance::{self, AttendanceError, AttendanceRequest, Attendee};

/// Where this person stands for a session, as they see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MyPlace {
    /// Recorded by a lead: the derived place.
    Recorded(Place),
    /// Asked for, not yet recorded by a lead (offline, or no lead has
    /// synced yet). Shown as "requested".
    Requested(SignUpState),
    /// Asked for, and as things stand no lead will record it, for the
    /// reason given: every device derives the same answer from the shared
    /// state, so the member learns it without a lead sending anything.
    Blocked(SignUpState, Blocked),
    /// Nothing asked.
    None,
}

/// Why a request cannot be recorded as things stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// The session was cancelled.
    Cancelled,
    /// Sign-ups closed (it started, or was moved earlier) before the
    /// request was made, or it is over.
    SignupsClosed,
    /// The session has no accepted lead cleared at its start; the request
    /// waits and goes out when it has one.
    NoClearedLead,
}

/// What any member may see of a session's sign-ups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterView {
    /// Places taken.
    pub attending: u32,
    /// People waiting.
    pub waitlisted: u32,
    /// The session's capacity.
    pub capacity: u32,
}

/// One space, as this device holds it.
#[derive(Clone)]
pub struct Space {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SpaceId,
}

impl Space {
    pub(crate) fn new(shared: Arc<Shared>, id: SpaceId) -> Self {
        Space { shared, id }
    }

    /// The space's id, hex.
    pub fn id(&self) -> String {
        self.id.to_hex()
    }

    fn read<R>(&self, f: impl FnOnce(&SpaceDoc, &SpaceEntry) -> AppResult<R>) -> AppResult<R> {
        self.shared.with_loaded(|loaded| {
            let entry = entry(loaded, self.id)?;
            let doc = loaded
                .spaces
                .get(&self.id)
                .ok_or_else(|| AppError::UnknownSpace(self.id.to_hex()))?;
            f(doc, entry)
        })
    }

    /// Runs a write as this device's member and persists its changes
    /// (tests use it to write what a modified app could).
    pub(super) fn write<R>(
        &self,
        f: impl FnOnce(&mut SpaceDoc, &MemberId) -> AppResult<R>,
    ) -> AppResult<R> {
        self.shared.with_loaded(|loaded| {
            // Only what the write needs: the entry holds the outbox too.
            let (document, member) = {
                let e = entry(loaded, self.id)?;
                (e.document, e.member.clone())
            };
            let doc = loaded
                .spaces
                .get_mut(&self.id)
                .ok_or_else(|| AppError::UnknownSpace(self.id.to_hex()))?;
            let out = f(doc, &member)?;
            let mut wrote = false;
            doc.save_incremental_then(|increment, doc| {
                if increment.is_empty() {
                    return Ok(());
                }
                wrote = true;
                self.shared
                    .profile
                    .append_increment_of(document, increment, || doc.save())
            })?;
            if wrote {
                self.shared.edited.notify_one();
            }
            Ok(out)
        })
    }

    /// The space's name.
    pub fn name(&self) -> AppResult<String> {
        self.read(|doc, _| Ok(doc.name()?))
    }

    /// This person's member id in the space.
    pub fn my_member_id(&self) -> AppResult<MemberId> {
        self.read(|_, entry| Ok(entry.member.clone()))
    }

    /// The epoch this device holds the space at: it moves by one with each
    /// rotation it takes part in. Shown in diagnostics, never secret.
    pub fn epoch(&self) -> AppResult<u32> {
        self.read(|_, entry| Ok(entry.epoch))
    }

    /// Every member, including those who left.
    pub fn members(&self) -> AppResult<Vec<(MemberId, Member)>> {
        self.read(|doc, _| Ok(doc.members()?))
    }

    /// Adds a member directly (coordinators). Most people join by invite.
    pub fn add_member(&self, pseudonym: &str, role: Role, now: Timestamp) -> AppResult<MemberId> {
        self.write(|doc, me| Ok(doc.add_member(me, pseudonym, role, now)?))
    }

    /// Changes a member's role (coordinators).
    pub fn set_role(&self, member: &MemberId, role: Role) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.set_role(me, member, role)?))
    }

    /// Every session, soonest first.
    pub fn sessions(&self) -> AppResult<Vec<(SessionId, Session)>> {
        self.read(|doc, _| Ok(doc.sessions()?))
    }

    /// Sessions that have not ended by `now`, soonest first: what a
    /// session list shows first.
    pub fn upcoming_sessions(&self, now: Timestamp) -> AppResult<Vec<(SessionId, Session)>> {
        let mut sessions = self.sessions()?;
        sessions.retain(|(_, s)| s.is_upcoming(now));
        Ok(sessions)
    }

    /// Sessions that have ended by `now`, most recent first (shown on
    /// request).
    pub fn past_sessions(&self, now: Timestamp) -> AppResult<Vec<(SessionId, Session)>> {
        let mut sessions = self.sessions()?;
        sessions.retain(|(_, s)| !s.is_upcoming(now));
        sessions.reverse();
        Ok(sessions)
    }

    /// The space's time zone, in which times are typed and shown.
    pub fn time_zone(&self) -> AppResult<SpaceZone> {
        self.read(|doc, _| Ok(doc.time_zone()))
    }

    /// Sets the space's time zone (coordinators).
    pub fn set_time_zone(&self, zone: &SpaceZone) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.set_time_zone(me, zone)?))
    }

    /// Plans a weekly series (leads and coordinators): every occurrence is
    /// a session made now, in one change. Returns the series and its
    /// sessions in order.
    pub fn create_series(
        &self,
        draft: SessionDraft,
        rule: SeriesRule,
        now: Timestamp,
    ) -> AppResult<(SeriesId, Vec<SessionId>)> {
        self.write(|doc, me| Ok(doc.create_series(me, draft, rule, now)?))
    }

    /// Edits a session and the later ones of its series ("this and
    /// following"); returns the sessions edited.
    pub fn edit_series_from(&self, id: &SessionId, edit: SessionEdit) -> AppResult<Vec<SessionId>> {
        self.write(|doc, me| Ok(doc.edit_series_from(me, id, edit)?))
    }

    /// Cancels a session and the later planned ones of its series; returns
    /// the sessions cancelled.
    pub fn cancel_series_from(&self, id: &SessionId) -> AppResult<Vec<SessionId>> {
        self.write(|doc, me| Ok(doc.cancel_series_from(me, id)?))
    }

    /// The sessions of one series, by occurrence.
    pub fn series_sessions(&self, series: &SeriesId) -> AppResult<Vec<(SessionId, Session)>> {
        self.read(|doc, _| Ok(doc.series_sessions(series)?))
    }

    /// Puts a cancelled session back on (leads and coordinators).
    pub fn reinstate_session(&self, id: &SessionId) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.set_session_status(me, id, SessionStatus::Planned)?))
    }

    /// One session.
    pub fn session(&self, id: &SessionId) -> AppResult<Session> {
        self.read(|doc, _| Ok(doc.session(id)?))
    }

    /// Plans a session (leads and coordinators) at `now`, the earliest
    /// queue time a sign-up for it can claim.
    pub fn create_session(&self, draft: SessionDraft, now: Timestamp) -> AppResult<SessionId> {
        self.write(|doc, me| Ok(doc.create_session(me, draft, now)?))
    }

    /// Edits some fields of a session.
    pub fn edit_session(&self, id: &SessionId, edit: SessionEdit) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.edit_session(me, id, edit)?))
    }

    /// Cancels a session.
    pub fn cancel_session(&self, id: &SessionId) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.set_session_status(me, id, SessionStatus::Cancelled)?))
    }

    /// Concurrent edits to one field of a session, with every value.
    pub fn session_conflicts(&self, id: &SessionId) -> AppResult<Vec<FieldConflict>> {
        self.read(|doc, _| Ok(doc.session_conflicts(id)?))
    }

    /// Offers to lead a session.
    pub fn volunteer_to_lead(&self, id: &SessionId, now: Timestamp) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.volunteer_to_lead(me, id, now)?))
    }

    /// Offers to lead this session and the later planned ones of its
    /// series: a whole term at once. Returns the sessions offered for. The
    /// first offer's refusal refuses all; a later one that cannot be made
    /// (it was cancelled meanwhile) is skipped, so what was written is
    /// always what is kept.
    pub fn volunteer_from(&self, id: &SessionId, now: Timestamp) -> AppResult<Vec<SessionId>> {
        self.write(|doc, me| {
            let ids = doc.this_and_following(id)?;
            doc.volunteer_to_lead(me, id, now)?;
            let mut done = vec![id.clone()];
            for other in ids.into_iter().filter(|other| other != id) {
                if doc.volunteer_to_lead(me, &other, now).is_ok() {
                    done.push(other);
                }
            }
            Ok(done)
        })
    }

    /// Accepts or declines a member's offers for this session and for the
    /// later ones of its series she offered for. Returns the sessions
    /// decided; the first decision's refusal refuses all.
    pub fn decide_lead_from(
        &self,
        id: &SessionId,
        member: &MemberId,
        accept: bool,
        now: Timestamp,
    ) -> AppResult<Vec<SessionId>> {
        self.write(|doc, me| {
            let ids = doc.this_and_following(id)?;
            doc.decide_lead(me, id, member, accept, now)?;
            let mut done = vec![id.clone()];
            for other in ids.into_iter().filter(|other| other != id) {
                let offered = doc.session(&other).is_ok_and(|s| {
                    s.leads
                        .get(member)
                        .is_some_and(|o| o.state == LeadState::Offered)
                });
                if offered && doc.decide_lead(me, &other, member, accept, now).is_ok() {
                    done.push(other);
                }
            }
            Ok(done)
        })
    }

    /// Accepts (`accept`) or declines a member's offer to lead a session:
    /// a coordinator, or a lead already accepted for it.
    pub fn decide_lead(
        &self,
        id: &SessionId,
        member: &MemberId,
        accept: bool,
        now: Timestamp,
    ) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.decide_lead(me, id, member, accept, now)?))
    }

    /// Names a member as a (cover) lead of a session, accepted at once: a
    /// coordinator, or a lead already accepted for it.
    pub fn name_lead(&self, id: &SessionId, member: &MemberId, now: Timestamp) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.name_lead(me, id, member, now)?))
    }

    /// Withdraws this person's own offer to lead, or (a coordinator or an
    /// accepted lead of the session) stands another lead down.
    pub fn withdraw_lead(&self, id: &SessionId, member: &MemberId) -> AppResult<()> {
        self.write(|doc, me| Ok(doc.withdraw_as_lead(me, id, member)?))
    }

    /// A session's volunteers with their clearance at `now`.
    pub fn session_leads(&self, id: &SessionId, now: Timestamp) -> AppResult<Vec<LeadStatus>> {
        self.read(|doc, _| Ok(doc.session_leads(id, now)?))
    }

    /// Planned sessions that, as things stand, go ahead without a lead
    /// cleared at their start (or with a lead who won't be), soonest first:
    /// for coordinators and leads to act on from the moment it is known.
    pub fn clearance_warnings(&self, now: Timestamp) -> AppResult<Vec<ClearanceWarning>> {
        self.read(|doc, _| Ok(doc.clearance_warnings(now)?))
    }

    /// Members whose clearance lapses within `within_days` of `now`, with
    /// the planned sessions they lead that it affects (30 days is what a
    /// coordinator's view shows).
    pub fn expiring_clearances(
        &self,
        now: Timestamp,
        within_days: u32,
    ) -> AppResult<Vec<ExpiringClearance>> {
        self.read(|doc, _| Ok(doc.expiring_clearances(now, i64::from(within_days) * 86_400)?))
    }

    /// Counts every member may see.
    pub fn roster(&self, id: &SessionId) -> AppResult<RosterView> {
        self.read(|doc, _| {
            let session = doc.session(id)?;
            let roster = doc.roster(id)?;
            Ok(RosterView {
                attending: roster.attending.len() as u32,
                waitlisted: roster.waitlist.len() as u32,
                capacity: session.capacity,
            })
        })
    }

    /// Who is coming, by name: only for the session's leads (their device
    /// opens the sealed names; anyone else gets an empty list).
    pub fn attendees(&self, id: &SessionId) -> AppResult<Vec<Attendee>> {
        let identity = self.shared.keys().identity()?;
        self.read(|doc, _| Ok(attendance::attendees(doc, id, &identity)?))
    }

    /// Asks to attend a session (or cancels). If this person is a cleared
    /// lead of the session, the sign-up is recorded at once; otherwise the
    /// request is kept (persisted) until it is delivered to a lead by sync.
    pub fn sign_up(
        &self,
        id: &SessionId,
        state: SignUpState,
        now: Timestamp,
    ) -> AppResult<MyPlace> {
        let identity = self.shared.keys().identity()?;
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        let place = self.shared.with_loaded(|loaded| {
            let secret = shared.keys().person_secret(&loaded.registry)?;
            let device = loaded.registry.device.clone();
            let entry = entry(loaded, space)?.clone();
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let session = doc.session(id)?;
            if state == SignUpState::Attending && !session.signups_open(now) {
                return Err(AttendanceError::SignupsClosed.into());
            }
            let ticket = attendance::ticket_for(&secret, space, id);
            let recorded = doc.signup(id, &ticket)?;
            let pending = entry.pending_requests.iter().find(|p| &p.session == id);
            // Asking for what already stands changes nothing: attending
            // again keeps the place the first request earned.
            if pending.is_none()
                && recorded
                    .as_ref()
                    .is_some_and(|s| s.state == state && !s.freed)
            {
                return Ok(MyPlace::Recorded(doc.place(id, &ticket)?));
            }
            // Newer than anything the ticket has or this device asked: a
            // lead records a statement once, never after a newer one.
            let counter = recorded
                .as_ref()
                .map_or(0, |s| s.counter)
                .max(pending.map_or(0, |p| p.counter))
                + 1;
            let signing = shared.keys().signing()?;
            // Attending again before a lead saw the cancellation keeps the
            // recorded place: the cancellation never took effect.
            // A clock behind the admitting device's never dates a request
            // before joining, which leads refuse.
            let joined = doc.member(&entry.member)?.joined_at;
            let at = match &recorded {
                Some(s) if s.state == SignUpState::Attending && state == SignUpState::Attending => {
                    s.at
                }
                _ => now.max(joined),
            };
            let request = AttendanceRequest::new(
                &secret,
                space,
                id,
                state,
                at,
                counter,
                &entry.member,
                &device,
                &signing,
            );
            if doc.is_session_lead(id, &entry.member)? {
                attendance::apply_request(doc, &entry.member, &identity, &request, now)?;
                doc.save_incremental_then(|increment, _| {
                    shared.profile.append_increment(entry.document, increment)
                })?;
                return Ok(MyPlace::Recorded(doc.place(id, &ticket)?));
            }
            shared.update_space(loaded, space, |e, _| {
                e.pending_requests.retain(|p| &p.session != id);
                e.pending_requests.push(PendingRequest {
                    session: id.clone(),
                    state,
                    at,
                    counter,
                    sent_at: None,
                    sent_to: None,
                    sent: false,
                });
                Ok(())
            })?;
            let doc = loaded
                .spaces
                .get(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            pending_place(doc, id, state, at, now)
        })?;
        // Recorded in the document, or a request to send: either goes out.
        self.shared.edited.notify_one();
        Ok(place)
    }

    /// Where this person stands for a session at `now`.
    pub fn my_place(&self, id: &SessionId, now: Timestamp) -> AppResult<MyPlace> {
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            let secret = shared.keys().person_secret(&loaded.registry)?;
            let entry = entry(loaded, space)?;
            let doc = loaded
                .spaces
                .get(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            if let Some(pending) = entry.pending_requests.iter().find(|p| &p.session == id) {
                return pending_place(doc, id, pending.state, pending.at, now);
            }
            match doc.place(id, &attendance::ticket_for(&secret, space, id))? {
                Place::NotSignedUp => Ok(MyPlace::None),
                place => Ok(MyPlace::Recorded(place)),
            }
        })
    }

    /// Records a completed training module (coordinators).
    pub fn record_training(
        &self,
        member: &MemberId,
        module: TrainingModule,
        completed_at: Timestamp,
        expires_at: Timestamp,
    ) -> AppResult<RecordId> {
        self.write(|doc, me| {
            Ok(doc.record_training(me, member, module, completed_at, expires_at)?)
        })
    }

    /// Every training record.
    pub fn training_records(&self) -> AppResult<Vec<(RecordId, TrainingRecord)>> {
        self.read(|doc, _| Ok(doc.training_records()?))
    }

    /// Whether a member is cleared to lead at `at`.
    pub fn clearance(&self, member: &MemberId, at: Timestamp) -> AppResult<Clearance> {
        self.read(|doc, _| Ok(doc.clearance(member, at)?))
    }

    /// The signposting directory, optionally one category.
    pub fn resources(
        &self,
        category: Option<ResourceCategory>,
    ) -> AppResult<Vec<(ResourceId, Resource)>> {
        self.read(|doc, _| Ok(doc.resources(category)?))
    }

    /// Adds a resource (leads and coordinators).
    pub fn add_resource(&self, resource: Resource) -> AppResult<ResourceId> {
        self.write(|doc, me| Ok(doc.add_resource(me, resource)?))
    }

    /// Leaves the space, first giving up every place this person holds or
    /// asked for in sessions still to come, so the people waiting move up
    /// (the cancellations reach a lead at the next sync, also after the
    /// departure). A lead who sees the departure frees any place left.
    pub fn leave(&self, now: Timestamp) -> AppResult<()> {
        // Refused (the last coordinator) before any place is given up.
        self.read(|doc, e| Ok(doc.may_remove(&e.member, &e.member)?))?;
        for (id, session) in self.upcoming_sessions(now)? {
            let holds = match self.my_place(&id, now)? {
                MyPlace::Recorded(place) => {
                    matches!(place, Place::Attending | Place::Waitlisted { .. })
                }
                MyPlace::Requested(state) | MyPlace::Blocked(state, _) => {
                    state == SignUpState::Attending
                }
                MyPlace::None => false,
            };
            if holds && session.status == SessionStatus::Planned {
                self.sign_up(&id, SignUpState::Cancelled, now)?;
            }
        }
        self.write(|doc, me| Ok(doc.remove_member(me, &me.clone(), now)?))
    }
}

/// Where a request not yet recorded stands: waiting for a lead, or blocked
/// for a reason every device can see.
fn pending_place(
    doc: &SpaceDoc,
    id: &SessionId,
    state: SignUpState,
    at: Timestamp,
    now: Timestamp,
) -> AppResult<MyPlace> {
    let session = doc.session(id)?;
    let attending = state == SignUpState::Attending;
    let blocked = if attending && session.status == SessionStatus::Cancelled {
        Some(Blocked::Cancelled)
    } else if attending
        && (!session.signups_open(at) || session.status_at(now) != SessionStatus::Planned)
    {
        Some(Blocked::SignupsClosed)
    } else if doc.recording_leads(id)?.is_empty() {
        Some(Blocked::NoClearedLead)
    } else {
        None
    };
    Ok(match blocked {
        Some(reason) => MyPlace::Blocked(state, reason),
        None => MyPlace::Requested(state),
    })
}

pub(crate) fn entry(loaded: &Loaded, space: SpaceId) -> AppResult<&SpaceEntry> {
    loaded
        .registry
        .spaces
        .get(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))
}
