//! Leads: offering to lead a session, accepting, declining or naming
//! leads, withdrawing, and who is cleared to lead.

use std::collections::{BTreeMap, HashMap};

use automerge::{ROOT, ReadDoc, transaction::Transactable};
use autosurgeon::{hydrate_prop, reconcile_prop};

use super::doc::{SESSIONS, SpaceDoc, invalid};
use super::reach::Reach;
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, RecordId, SessionId};
use crate::model::member::{Member, Role};
use crate::model::session::{LeadOffer, LeadState};
use crate::model::time::Timestamp;
use crate::model::training::{Clearance, TrainingRecord, clearance};

/// A session's lead volunteer with their clearance at the time asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadStatus {
    /// Who volunteered.
    pub member: MemberId,
    /// Their pseudonym (empty if they have since been removed from the space).
    pub pseudonym: String,
    /// When they volunteered.
    pub volunteered_at: Timestamp,
    /// Offered, accepted or declined.
    pub state: LeadState,
    /// Whether they are cleared to lead, and what is missing if not.
    pub clearance: Clearance,
}

impl SpaceDoc {
    /// Whether `member` may see and record the sign-ups of `session`: an
    /// active member whose offer to lead it was accepted, cleared at its
    /// start. The same rule every device applies to incoming sign-up writes
    /// (protocol/authorship.rs), read here on the current state.
    ///
    /// Only what the rule reads is read: the member's own offer and the
    /// session's start, as the protocol's check reads them, not the whole
    /// session with every other offer and sign-up. This is asked for
    /// every received change that touches a session this device offered
    /// to lead, so hydrating the session each time made a group of leads
    /// offering on the same sessions quadratic.
    pub fn is_session_lead(&self, session: &SessionId, member: &MemberId) -> ModelResult<bool> {
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let leads = self.session_child(&obj, "leads")?;
        self.leads_with(&obj, &leads, member)
    }

    /// [`SpaceDoc::is_session_lead`] given the session's map and its
    /// offers map: the offer's `state` (the only field the rule reads), the
    /// member's standing, and their clearance at the session's start.
    fn leads_with(
        &self,
        session: &automerge::ObjId,
        offers: &automerge::ObjId,
        member: &MemberId,
    ) -> ModelResult<bool> {
        let Some(offer) = child_map(&self.doc, offers, member.as_str()) else {
            return Ok(false);
        };
        let state: LeadState = hydrate_prop(&self.doc, &offer, "state")?;
        // Most offers are not accepted: no start or records to read then.
        if state != LeadState::Accepted {
            return Ok(false);
        }
        let starts_at: Timestamp = hydrate_prop(&self.doc, session, "starts_at")?;
        Ok(self.records_signups(member, state, starts_at, &self.training_records()?))
    }

    /// The rule of [`SpaceDoc::is_session_lead`] on what it reads: an
    /// accepted offer, an active member, cleared at the session's start.
    fn records_signups(
        &self,
        member: &MemberId,
        state: LeadState,
        starts_at: Timestamp,
        records: &[(RecordId, TrainingRecord)],
    ) -> bool {
        state == LeadState::Accepted
            && self.require_active(member).is_ok()
            && clearance(member, records.iter().map(|(_, r)| r), starts_at).cleared
    }

    /// The sessions `member` may see and record the sign-ups of (see
    /// [`SpaceDoc::is_session_lead`]), in id order. Each session costs a
    /// few point reads (her offer, its start), not a hydration, so a
    /// session listed here may still fail to read as a whole: callers that
    /// read one in full skip it then.
    pub fn sessions_led_by(&self, member: &MemberId) -> ModelResult<Vec<SessionId>> {
        if let Some(led) = self
            .led
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(member)
        {
            return Ok(led.clone());
        }
        let mut out = Vec::new();
        for (id, session) in self.session_objs()? {
            if self.leads_session(&session, member) {
                out.push(id);
            }
        }
        self.led
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(member.clone(), out.clone());
        Ok(out)
    }

    /// Keeps `led` (each member's led sessions, in id order, as
    /// [`SpaceDoc::sessions_led_by`] answers) true across a change that
    /// wrote under `sessions` only. Each session is read once for every
    /// member asked about: its offers map, and only a session where a
    /// member made an offer is read in full for them. A session that is
    /// gone, or has no offers, is led by nobody.
    pub(super) fn keep_led_across(
        &self,
        reach: &Reach,
        led: &mut HashMap<MemberId, Vec<SessionId>>,
    ) {
        let Some(sessions) = reach.only_sessions() else {
            return;
        };
        if led.is_empty() || sessions.is_empty() {
            return;
        }
        let all = child_map(&self.doc, &ROOT, SESSIONS);
        for id in sessions {
            // A fresh session is led by nobody, or is one made before
            // under its id, unchanged: read only for a member remembered
            // to lead it (see `Reach::fresh`).
            if reach.is_fresh(id) && led.values().all(|ids| ids.binary_search(id).is_err()) {
                continue;
            }
            // Only other members' offers were written here: nothing to read.
            if led
                .keys()
                .all(|member| !reach.may_change_lead(id, member.as_str()))
            {
                continue;
            }
            let objs = all
                .as_ref()
                .and_then(|all| child_map(&self.doc, all, id.as_str()))
                .and_then(|session| Some((child_map(&self.doc, &session, "leads")?, session)))
                .filter(|(offers, _)| self.doc.length(offers) > 0);
            for (member, ids) in led.iter_mut() {
                if !reach.may_change_lead(id, member.as_str()) {
                    continue;
                }
                let leads = objs
                    .as_ref()
                    .is_some_and(|(offers, session)| self.leads_or_not(session, offers, member));
                match (ids.binary_search(id), leads) {
                    (Err(at), true) => ids.insert(at, id.clone()),
                    (Ok(at), false) => {
                        ids.remove(at);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Whether `member` leads the session whose map is `session`.
    fn leads_session(&self, session: &automerge::ObjId, member: &MemberId) -> bool {
        child_map(&self.doc, session, "leads")
            .is_some_and(|offers| self.leads_or_not(session, &offers, member))
    }

    /// [`SpaceDoc::leads_with`], where a session another device wrote in a
    /// shape this build cannot read leads nobody, as it is skipped
    /// everywhere else.
    fn leads_or_not(
        &self,
        session: &automerge::ObjId,
        offers: &automerge::ObjId,
        member: &MemberId,
    ) -> bool {
        self.leads_with(session, offers, member).unwrap_or(false)
    }

    /// The members who may record `session`'s sign-ups (see
    /// [`SpaceDoc::is_session_lead`]), in member-id order.
    pub fn recording_leads(&self, session: &SessionId) -> ModelResult<Vec<MemberId>> {
        let stored = self.session(session)?;
        let records = self.training_records()?;
        Ok(stored
            .leads
            .iter()
            .filter(|(id, offer)| self.records_signups(id, offer.state, stored.starts_at, &records))
            .map(|(id, _)| id.clone())
            .collect())
    }

    /// Whether `member` is cleared to lead at `at`, derived from the records.
    pub fn clearance(&self, member: &MemberId, at: Timestamp) -> ModelResult<Clearance> {
        let records = self.training_records()?;
        Ok(clearance(member, records.iter().map(|(_, r)| r), at))
    }

    /// A session's lead volunteers, each with their clearance at `at`.
    pub fn session_leads(
        &self,
        session: &SessionId,
        at: Timestamp,
    ) -> ModelResult<Vec<LeadStatus>> {
        let session = self.session(session)?;
        let records = self.training_records()?;
        let members: BTreeMap<MemberId, Member> = self.members()?.into_iter().collect();
        let mut leads: Vec<LeadStatus> = session
            .leads
            .iter()
            .filter(|(id, _)| members.get(*id).is_some_and(Member::is_active))
            .map(|(id, offer)| LeadStatus {
                member: id.clone(),
                pseudonym: members
                    .get(id)
                    .map(|m| m.pseudonym.clone())
                    .unwrap_or_default(),
                volunteered_at: offer.volunteered_at,
                state: offer.state,
                clearance: clearance(id, records.iter().map(|(_, r)| r), at),
            })
            .collect();
        leads.sort_by(|a, b| {
            a.volunteered_at
                .cmp(&b.volunteered_at)
                .then(a.member.cmp(&b.member))
        });
        Ok(leads)
    }

    /// `member` offers to lead a session. Anyone may offer; a coordinator's
    /// own offer is accepted at once (she may accept anyone's), everyone
    /// else's waits for a coordinator or an accepted lead of the session
    /// ([`SpaceDoc::decide_lead`]). Offering again after a decline re-opens
    /// the offer; offering while offered or accepted changes nothing.
    pub fn volunteer_to_lead(
        &mut self,
        member: &MemberId,
        session: &SessionId,
        now: Timestamp,
    ) -> ModelResult<()> {
        let me = self.require_active(member)?;
        let obj = self.open_session(session)?;
        let leads = self.session_child(&obj, "leads")?;
        let existing: Option<LeadOffer> = match self.doc.get(&leads, member.as_str())? {
            Some(_) => hydrate_prop(&self.doc, &leads, member.as_str()).ok(),
            None => None,
        };
        if existing
            .as_ref()
            .is_some_and(|o| o.state != LeadState::Declined)
        {
            return Ok(());
        }
        let coordinator = me.role.at_least(Role::Coordinator);
        let offer = LeadOffer {
            volunteered_at: now,
            state: if coordinator {
                LeadState::Accepted
            } else {
                LeadState::Offered
            },
            decided_by: coordinator.then(|| member.clone()),
            decided_at: coordinator.then_some(now),
        };
        self.transact_within(Reach::session(session), |doc, _| {
            match child_map(doc, &leads, member.as_str()) {
                // Re-offering after a decline: the same entry, so a decision
                // made concurrently on it is not lost with a replaced map.
                Some(entry) => {
                    reconcile_prop(doc, &entry, "volunteered_at", offer.volunteered_at)?;
                    reconcile_prop(doc, &entry, "state", offer.state)?;
                    reconcile_prop(doc, &entry, "decided_by", &offer.decided_by)?;
                    reconcile_prop(doc, &entry, "decided_at", offer.decided_at)?;
                }
                None => reconcile_prop(doc, &leads, member.as_str(), &offer)?,
            }
            Ok(())
        })
    }

    /// Accepts or declines `member`'s offer to lead `session`: a
    /// coordinator, or a lead already accepted for this session.
    pub fn decide_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
        accept: bool,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.require_decider(by, session)?;
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let leads = self.session_child(&obj, "leads")?;
        let entry = child_map(&self.doc, &leads, member.as_str()).ok_or_else(|| {
            ModelError::InvalidInput {
                field: "lead",
                reason: "has not offered to lead this session".into(),
            }
        })?;
        let state = if accept {
            LeadState::Accepted
        } else {
            LeadState::Declined
        };
        self.transact_within(Reach::session(session), |doc, _| {
            reconcile_prop(doc, &entry, "state", state)?;
            reconcile_prop(doc, &entry, "decided_by", by)?;
            reconcile_prop(doc, &entry, "decided_at", now)?;
            Ok(())
        })
    }

    /// Names `member` as a lead of `session` (a cover lead), accepted at
    /// once: a coordinator, or a lead already accepted for this session.
    /// She can withdraw like any lead.
    pub fn name_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
        now: Timestamp,
    ) -> ModelResult<()> {
        self.require_decider(by, session)?;
        self.require_active(member)?;
        let obj = self.open_session(session)?;
        let leads = self.session_child(&obj, "leads")?;
        let offer = LeadOffer {
            volunteered_at: now,
            state: LeadState::Accepted,
            decided_by: Some(by.clone()),
            decided_at: Some(now),
        };
        self.transact_within(Reach::session(session), |doc, _| {
            match child_map(doc, &leads, member.as_str()) {
                Some(entry) => {
                    reconcile_prop(doc, &entry, "state", offer.state)?;
                    reconcile_prop(doc, &entry, "decided_by", &offer.decided_by)?;
                    reconcile_prop(doc, &entry, "decided_at", offer.decided_at)?;
                }
                None => reconcile_prop(doc, &leads, member.as_str(), &offer)?,
            }
            Ok(())
        })
    }

    /// Who may accept, decline or name leads of a session: an active
    /// coordinator, or an active lead already accepted for it.
    fn require_decider(&self, by: &MemberId, session: &SessionId) -> ModelResult<()> {
        let me = self.require_active(by)?;
        if me.role.at_least(Role::Coordinator) {
            return Ok(());
        }
        let stored = self.session(session)?;
        if stored.leads.get(by).is_some_and(LeadOffer::is_accepted) {
            return Ok(());
        }
        Err(ModelError::NotPermitted {
            action: "accept, decline or name leads of this session",
            required: "coordinator or accepted lead of this session",
        })
    }

    /// Withdraws from leading (the member's own offer), or stands a lead
    /// down (a coordinator, or another accepted lead of the session).
    pub fn withdraw_as_lead(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        member: &MemberId,
    ) -> ModelResult<()> {
        if by != member {
            self.require_decider(by, session)?;
        } else {
            self.require_active(by)?;
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let leads =
            child_map(&self.doc, &obj, "leads").ok_or_else(|| invalid("session without leads"))?;
        if self.doc.get(&leads, member.as_str())?.is_none() {
            return Err(ModelError::InvalidInput {
                field: "lead",
                reason: "has not volunteered to lead this session".into(),
            });
        }
        self.transact_within(Reach::session(session), |doc, _| {
            doc.delete(&leads, member.as_str())?;
            Ok(())
        })
    }
}
