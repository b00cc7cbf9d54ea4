//! One space: members, sessions, sign-ups, training, signposting, invites.

use std::sync::Arc;
use std::time::SystemTime;

use safespaces_core::app;
use safespaces_core::model::{self, MemberId, SessionId, Timestamp};

use crate::attendance::{Attendee, MyPlace, RosterView, SignUpState};
use crate::convert::convert_all;
use crate::error::SafeSpacesError;
use crate::invites::{Invitation, InviteStatus};
use crate::members::{Member, Role};
use crate::series::{SeriesPlan, SeriesRule, TimeZoneInfo};
use crate::sessions::{
    ClearanceWarning, ExpiringClearance, FieldConflict, LeadStatus, Session, SessionDraft,
    SessionEdit,
};
use crate::signposting::{Resource, ResourceCategory, ResourceEntry};
use crate::time::{system_time, timestamp};
use crate::training::{Clearance, TrainingModule, TrainingRecord};

/// One space on this device. The handle holds only the space's id: it is
/// cheap, and safe to keep across a lock (it throws `Locked` meanwhile).
#[derive(uniffi::Object)]
pub struct Space {
    pub(crate) inner: Arc<app::Space>,
}

impl From<app::Space> for Space {
    fn from(inner: app::Space) -> Self {
        Space {
            inner: Arc::new(inner),
        }
    }
}

/// Sessions with their status as of `now`.
fn as_of(sessions: Vec<(SessionId, model::Session)>, now: Timestamp) -> Vec<Session> {
    sessions
        .into_iter()
        .map(|(id, mut s)| {
            s.status = s.status_at(now);
            Session::from((id, s))
        })
        .collect()
}

fn session_id(id: &str) -> Result<SessionId, SafeSpacesError> {
    Ok(SessionId::parse(id)?)
}

fn member_id(id: &str) -> Result<MemberId, SafeSpacesError> {
    Ok(MemberId::parse(id)?)
}

#[uniffi::export]
impl Space {
    /// The space's id.
    pub fn id(&self) -> String {
        self.inner.id()
    }

    /// The space's name.
    pub fn name(&self) -> Result<String, SafeSpacesError> {
        Ok(self.inner.name()?)
    }

    /// This person's member id here.
    pub fn my_member_id(&self) -> Result<String, SafeSpacesError> {
        Ok(self.inner.my_member_id()?.to_string())
    }

    /// Whether envelopes of this space went missing on the way (the relay
    /// withheld them) or a member's device used a number twice: all zero
    /// when all is well. Show anything else with the space.
    pub fn sequence_status(&self) -> Result<crate::sequences::SequenceStatus, SafeSpacesError> {
        Ok(self.inner.sequence_status()?.into())
    }

    /// Every member, including those who left.
    pub fn members(&self) -> Result<Vec<Member>, SafeSpacesError> {
        Ok(convert_all(self.inner.members()?))
    }

    /// Adds a member directly (coordinators); most people join by invite.
    pub fn add_member(
        &self,
        pseudonym: String,
        role: Role,
        now: SystemTime,
    ) -> Result<String, SafeSpacesError> {
        Ok(self
            .inner
            .add_member(&pseudonym, role.into(), timestamp(now, "now")?)?
            .to_string())
    }

    /// Changes a member's role (coordinators).
    pub fn set_role(&self, member: String, role: Role) -> Result<(), SafeSpacesError> {
        Ok(self.inner.set_role(&member_id(&member)?, role.into())?)
    }

    /// Removes a member (coordinators) and moves the space to a new key
    /// that only the remaining devices receive (with the next sync).
    pub fn remove_member(&self, member: String, now: SystemTime) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .remove_member(&member_id(&member)?, timestamp(now, "now")?)?)
    }

    /// Answers a removal or departure that the current key has not answered
    /// yet with a new key, sealed to every remaining device (coordinators).
    /// Sync and bundles do this on their own; call it to rotate at once,
    /// e.g. right after a member left. Fails when nothing is waiting.
    pub fn rotate(&self) -> Result<(), SafeSpacesError> {
        Ok(self.inner.rotate()?)
    }

    /// Leaves the space.
    pub fn leave(&self, now: SystemTime) -> Result<(), SafeSpacesError> {
        Ok(self.inner.leave(timestamp(now, "now")?)?)
    }

    /// Every session, soonest first.
    pub fn sessions(&self) -> Result<Vec<Session>, SafeSpacesError> {
        Ok(convert_all(self.inner.sessions()?))
    }

    /// Sessions that have not ended by `now`, soonest first, with their
    /// status as of `now`.
    pub fn upcoming_sessions(&self, now: SystemTime) -> Result<Vec<Session>, SafeSpacesError> {
        let now = timestamp(now, "now")?;
        Ok(as_of(self.inner.upcoming_sessions(now)?, now))
    }

    /// Sessions that have ended by `now`, most recent first (shown on
    /// request), with their status as of `now`.
    pub fn past_sessions(&self, now: SystemTime) -> Result<Vec<Session>, SafeSpacesError> {
        let now = timestamp(now, "now")?;
        Ok(as_of(self.inner.past_sessions(now)?, now))
    }

    /// The space's time zone.
    pub fn time_zone(&self) -> Result<TimeZoneInfo, SafeSpacesError> {
        Ok(self.inner.time_zone()?.into())
    }

    /// Sets the space's time zone by IANA name (coordinators). Planned
    /// sessions keep their instants.
    pub fn set_time_zone(&self, name: String) -> Result<(), SafeSpacesError> {
        Ok(self.inner.set_time_zone(&model::SpaceZone::parse(&name)?)?)
    }

    /// A time for people in the space's zone: `Tue 12 Jan 2027 18:00 GMT`.
    pub fn show_time(&self, at: SystemTime) -> Result<String, SafeSpacesError> {
        Ok(self.inner.time_zone()?.show(timestamp(at, "at")?))
    }

    /// A time for programs in the space's zone, RFC 9557:
    /// `2027-01-12T18:00:00+00:00[Europe/London]`.
    pub fn local_time(&self, at: SystemTime) -> Result<String, SafeSpacesError> {
        Ok(self.inner.time_zone()?.rfc9557(timestamp(at, "at")?))
    }

    /// The instant of a local date and time typed in the space's zone
    /// (`2027-01-12 18:00`, `2027-01-12T18:00`, a date alone for
    /// midnight; text with an offset is that instant).
    pub fn parse_local_time(&self, text: String) -> Result<SystemTime, SafeSpacesError> {
        Ok(system_time(self.inner.time_zone()?.parse_local(&text)?))
    }

    /// Plans a weekly series (leads and coordinators): every session is
    /// made now, in one change, from `draft` (whose start fixes the weekday
    /// and local time).
    pub fn create_series(
        &self,
        draft: SessionDraft,
        rule: SeriesRule,
        now: SystemTime,
    ) -> Result<SeriesPlan, SafeSpacesError> {
        let rule = rule.to_model(&self.inner.time_zone()?)?;
        let (series, ids) =
            self.inner
                .create_series(draft.try_into()?, rule, timestamp(now, "now")?)?;
        Ok(SeriesPlan {
            series_id: series.to_string(),
            session_ids: ids.iter().map(|id| id.to_string()).collect(),
        })
    }

    /// Edits a session and every later one of its series ("this and
    /// following"); a new start moves each by the same days to the same
    /// local time. Returns the sessions edited.
    pub fn edit_series_from(
        &self,
        id: String,
        edit: SessionEdit,
    ) -> Result<Vec<String>, SafeSpacesError> {
        let ids = self
            .inner
            .edit_series_from(&session_id(&id)?, edit.try_into()?)?;
        Ok(ids.iter().map(|id| id.to_string()).collect())
    }

    /// Cancels a session and every later planned one of its series;
    /// returns the sessions cancelled.
    pub fn cancel_series_from(&self, id: String) -> Result<Vec<String>, SafeSpacesError> {
        let ids = self.inner.cancel_series_from(&session_id(&id)?)?;
        Ok(ids.iter().map(|id| id.to_string()).collect())
    }

    /// Puts a cancelled session back on (leads and coordinators).
    pub fn reinstate_session(&self, id: String) -> Result<(), SafeSpacesError> {
        Ok(self.inner.reinstate_session(&session_id(&id)?)?)
    }

    /// One session.
    pub fn session(&self, id: String) -> Result<Session, SafeSpacesError> {
        let id = session_id(&id)?;
        Ok((id.clone(), self.inner.session(&id)?).into())
    }

    /// Plans a session (leads and coordinators) at `now` (the earliest
    /// queue time a sign-up can claim); returns its id.
    pub fn create_session(
        &self,
        draft: SessionDraft,
        now: SystemTime,
    ) -> Result<String, SafeSpacesError> {
        Ok(self
            .inner
            .create_session(draft.try_into()?, timestamp(now, "now")?)?
            .to_string())
    }

    /// Edits some fields of a session.
    pub fn edit_session(&self, id: String, edit: SessionEdit) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .edit_session(&session_id(&id)?, edit.try_into()?)?)
    }

    /// Cancels a session.
    pub fn cancel_session(&self, id: String) -> Result<(), SafeSpacesError> {
        Ok(self.inner.cancel_session(&session_id(&id)?)?)
    }

    /// Fields of a session that people changed at once, with every value.
    pub fn session_conflicts(&self, id: String) -> Result<Vec<FieldConflict>, SafeSpacesError> {
        Ok(convert_all(
            self.inner.session_conflicts(&session_id(&id)?)?,
        ))
    }

    /// Offers to lead a session.
    pub fn volunteer_to_lead(&self, id: String, now: SystemTime) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .volunteer_to_lead(&session_id(&id)?, timestamp(now, "now")?)?)
    }

    /// Offers to lead this session and the later planned ones of its
    /// series (a whole term); returns the sessions offered for.
    pub fn volunteer_to_lead_from(
        &self,
        id: String,
        now: SystemTime,
    ) -> Result<Vec<String>, SafeSpacesError> {
        Ok(self
            .inner
            .volunteer_from(&session_id(&id)?, timestamp(now, "now")?)?
            .into_iter()
            .map(|s| s.to_string())
            .collect())
    }

    /// Accepts or declines a member's offers for this session and the
    /// later ones of its series she offered for; returns the sessions
    /// decided.
    pub fn decide_lead_from(
        &self,
        id: String,
        member: String,
        accept: bool,
        now: SystemTime,
    ) -> Result<Vec<String>, SafeSpacesError> {
        Ok(self
            .inner
            .decide_lead_from(
                &session_id(&id)?,
                &member_id(&member)?,
                accept,
                timestamp(now, "now")?,
            )?
            .into_iter()
            .map(|s| s.to_string())
            .collect())
    }

    /// Accepts (`accept`) or declines a member's offer to lead a session:
    /// a coordinator, or a lead already accepted for it.
    pub fn decide_lead(
        &self,
        id: String,
        member: String,
        accept: bool,
        now: SystemTime,
    ) -> Result<(), SafeSpacesError> {
        Ok(self.inner.decide_lead(
            &session_id(&id)?,
            &member_id(&member)?,
            accept,
            timestamp(now, "now")?,
        )?)
    }

    /// Names a member as a (cover) lead of a session, accepted at once.
    pub fn name_lead(
        &self,
        id: String,
        member: String,
        now: SystemTime,
    ) -> Result<(), SafeSpacesError> {
        Ok(self.inner.name_lead(
            &session_id(&id)?,
            &member_id(&member)?,
            timestamp(now, "now")?,
        )?)
    }

    /// Withdraws an offer to lead: one's own, or (a coordinator or an
    /// accepted lead) another lead's.
    pub fn withdraw_lead(&self, id: String, member: String) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .withdraw_lead(&session_id(&id)?, &member_id(&member)?)?)
    }

    /// A session's volunteers with their clearance at `now`.
    pub fn session_leads(
        &self,
        id: String,
        now: SystemTime,
    ) -> Result<Vec<LeadStatus>, SafeSpacesError> {
        Ok(convert_all(self.inner.session_leads(
            &session_id(&id)?,
            timestamp(now, "now")?,
        )?))
    }

    /// Planned sessions that, as things stand, have no lead cleared at
    /// their start (or a lead who won't be), soonest first: show them to
    /// coordinators and leads as soon as they are known.
    pub fn clearance_warnings(
        &self,
        now: SystemTime,
    ) -> Result<Vec<ClearanceWarning>, SafeSpacesError> {
        Ok(convert_all(
            self.inner.clearance_warnings(timestamp(now, "now")?)?,
        ))
    }

    /// Members whose clearance lapses within `within_days` (30 in the
    /// coordinator's view), with the planned sessions it affects.
    pub fn expiring_clearances(
        &self,
        now: SystemTime,
        within_days: u32,
    ) -> Result<Vec<ExpiringClearance>, SafeSpacesError> {
        Ok(convert_all(self.inner.expiring_clearances(
            timestamp(now, "now")?,
            within_days,
        )?))
    }

    /// The counts every member may see.
    pub fn roster(&self, id: String) -> Result<RosterView, SafeSpacesError> {
        Ok(self.inner.roster(&session_id(&id)?)?.into())
    }

    /// Who is coming, by name: only the session's leads get names; anyone
    /// else gets an empty list.
    pub fn attendees(&self, id: String) -> Result<Vec<Attendee>, SafeSpacesError> {
        Ok(convert_all(self.inner.attendees(&session_id(&id)?)?))
    }

    /// Asks to attend a session (`Attending`) or cancels (`Cancelled`). A
    /// cleared lead of the session is recorded at once; anyone else's
    /// request waits (persisted) until a lead records it from a bundle or
    /// sync, and shows as `Requested` meanwhile.
    pub fn sign_up(
        &self,
        id: String,
        state: SignUpState,
        now: SystemTime,
    ) -> Result<MyPlace, SafeSpacesError> {
        Ok(self
            .inner
            .sign_up(&session_id(&id)?, state.into(), timestamp(now, "now")?)?
            .into())
    }

    /// Where this person stands for a session at `now`.
    pub fn my_place(&self, id: String, now: SystemTime) -> Result<MyPlace, SafeSpacesError> {
        Ok(self
            .inner
            .my_place(&session_id(&id)?, timestamp(now, "now")?)?
            .into())
    }

    /// Records a completed training module (coordinators); returns the
    /// record's id.
    pub fn record_training(
        &self,
        member: String,
        module: TrainingModule,
        completed_at: SystemTime,
        expires_at: SystemTime,
    ) -> Result<String, SafeSpacesError> {
        let member = member_id(&member)?;
        let completed = timestamp(completed_at, "completed_at")?;
        let expires = timestamp(expires_at, "expires_at")?;
        Ok(self
            .inner
            .record_training(&member, module.into(), completed, expires)?
            .to_string())
    }

    /// Every training record.
    pub fn training_records(&self) -> Result<Vec<TrainingRecord>, SafeSpacesError> {
        Ok(convert_all(self.inner.training_records()?))
    }

    /// Whether a member is cleared to lead at `at`.
    pub fn clearance(&self, member: String, at: SystemTime) -> Result<Clearance, SafeSpacesError> {
        Ok(self
            .inner
            .clearance(&member_id(&member)?, timestamp(at, "at")?)?
            .into())
    }

    /// The signposting directory, or one category of it.
    #[uniffi::method(default(category = None))]
    pub fn resources(
        &self,
        category: Option<ResourceCategory>,
    ) -> Result<Vec<ResourceEntry>, SafeSpacesError> {
        Ok(convert_all(self.inner.resources(category.map(Into::into))?))
    }

    /// Adds a resource (leads and coordinators); returns its id.
    pub fn add_resource(&self, resource: Resource) -> Result<String, SafeSpacesError> {
        Ok(self.inner.add_resource(resource.into())?.to_string())
    }

    /// Invites someone (coordinators any role, leads members). Expires at
    /// `expires_at`, by default 7 days after `now`. The invite admits one
    /// person, and only through this device: it keeps the code to answer
    /// the joiner's request (`admit`, or its next `sync` through the
    /// relay), because the package holds no key to the space.
    #[uniffi::method(default(expires_at = None))]
    pub fn invite(
        &self,
        role: Role,
        now: SystemTime,
        expires_at: Option<SystemTime>,
    ) -> Result<Invitation, SafeSpacesError> {
        let expires_at = expires_at
            .map(|at| timestamp(at, "expires_at"))
            .transpose()?;
        Ok(self
            .inner
            .invite(role.into(), timestamp(now, "now")?, expires_at)?
            .into())
    }

    /// Every invite the space records, latest expiry first, with where it
    /// stands at `now`, so the inviter sees which may still let someone in.
    /// `claimed` marks one of this device's invites whose package someone
    /// took from the relay without being admitted: if that was not the
    /// person it was for, `revokeInvite` it.
    pub fn invites(&self, now: SystemTime) -> Result<Vec<InviteStatus>, SafeSpacesError> {
        Ok(convert_all(self.inner.invites(timestamp(now, "now")?)?))
    }

    /// Withdraws an invite nobody has been admitted with (its creator or a
    /// coordinator): every device then refuses an admission with it, and
    /// this device forgets its code. Withdrawing twice changes nothing.
    /// Throws `InviteUnusable` for an invite already used, `NotAllowed` for
    /// another member's invite (unless a coordinator), `InvalidInput` for
    /// an id the space does not record.
    pub fn revoke_invite(&self, invite_id: String, now: SystemTime) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .revoke_invite(&invite_id, timestamp(now, "now")?)?)
    }

    /// Admits a joiner without the relay: checks their request (a file
    /// from `SafeSpaces.requestJoin` on their device) against one of this
    /// device's invites, records the admission, and returns the welcome to
    /// hand back together with a bundle exported after it (`exportBundle`).
    /// Admitting the same request again (the welcome was lost) answers it
    /// again, sealed afresh, and admits nobody new; a request for an
    /// invite that is used, withdrawn, expired or not this device's throws
    /// `InviteUnusable`.
    pub fn admit(&self, request: Vec<u8>, now: SystemTime) -> Result<Vec<u8>, SafeSpacesError> {
        Ok(self.inner.admit(&request, timestamp(now, "now")?)?)
    }

    /// Everything this device can tell another member of the space, as one
    /// age file to pass by any means (file share, nearby share, USB stick):
    /// its copy of the space and its pending sign-up requests.
    pub fn export_bundle(&self) -> Result<Vec<u8>, SafeSpacesError> {
        Ok(self.inner.export_bundle()?)
    }
}
