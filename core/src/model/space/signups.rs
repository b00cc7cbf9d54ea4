//! Sign-ups: recording an attendee's signed statement, re-sealing and
//! freeing a place, and the roster derived from them.

use automerge::{ObjId, ROOT, ReadDoc, transaction::Transactable};

use super::doc::{SESSIONS, SpaceDoc};
use super::reach::Reach;
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{MemberId, SessionId, TicketId};
use crate::model::waitlist::{
    Place, Roster, SignUp, SignUpState, SignUps, derive_roster, freed_key, statement_key,
};

impl SpaceDoc {
    /// Who attends a session and who waits, by ticket, derived from the
    /// merged sign-ups. Everyone can count; only leads can tell who is who.
    pub fn roster(&self, session: &SessionId) -> ModelResult<Roster> {
        let session = self.session(session)?;
        Ok(derive_roster(
            &session.signups,
            session.capacity,
            session.created_at,
        ))
    }

    /// Where the holder of `ticket` stands for `session`.
    pub fn place(&self, session_id: &SessionId, ticket: &TicketId) -> ModelResult<Place> {
        let session = self.session(session_id)?;
        let roster = derive_roster(&session.signups, session.capacity, session.created_at);
        Ok(roster.place_of(ticket, &session.signups))
    }

    /// Records a sign-up (or its cancellation) under its ticket, as a lead
    /// of the session does on receiving an attendance request
    /// (protocol::attendance). Only the session's recording leads write
    /// sign-ups: whoever writes an entry is visible to every member, so
    /// attendees never write their own. `signup` carries the attendee's
    /// signed statement, checked by the caller and by every device; a
    /// statement no newer than the recorded one is refused.
    pub fn record_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
        signup: &SignUp,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "record sign-ups for this session",
                required: "accepted lead of this session, cleared at its start",
            });
        }
        let obj = match signup.state {
            SignUpState::Attending => self.open_session(session)?,
            SignUpState::Cancelled => self
                .item_obj(SESSIONS, session.as_str())
                .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?,
        };
        let signups = self.session_child(&obj, "signups")?;
        if let Some(existing) = self.stored_signup(&signups, ticket)? {
            if existing.counter >= signup.counter {
                return Err(ModelError::InvalidInput {
                    field: "sign-up",
                    reason: "an older request than the one recorded".into(),
                });
            }
            if existing.key != signup.key {
                return Err(ModelError::InvalidInput {
                    field: "sign-up",
                    reason: "signed with another key than the ticket's".into(),
                });
            }
        }
        // Only the new statement's key and the holder: statements are
        // never deleted or rewritten (protocol.md §4).
        self.transact_within(Reach::session(session), |doc, _| {
            doc.put(
                &signups,
                statement_key(ticket, signup.counter),
                signup.entry(),
            )?;
            doc.put(&signups, ticket.as_str(), signup.sealed.as_str())?;
            Ok(())
        })
    }

    /// Replaces the sealed holder of a sign-up (a lead re-sealing it to a
    /// new set of leads), leaving its state and place alone.
    pub fn reseal_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
        sealed: &str,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "re-seal sign-ups for this session",
                required: "lead of this session",
            });
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        if self.stored_signup(&signups, ticket)?.is_none() {
            return Err(ModelError::InvalidInput {
                field: "ticket",
                reason: "no sign-up under this ticket".into(),
            });
        }
        self.transact_within(Reach::session(session), |doc, _| {
            doc.put(&signups, ticket.as_str(), sealed)?;
            Ok(())
        })
    }

    /// Frees the place a sign-up holds because its holder has left the
    /// space or was removed (protocol.md §7): a recording lead, who alone
    /// can open the holder, marks the ticket's newest statement. Every
    /// replica then reads it like a cancellation and the waitlist moves.
    /// The caller checks the holder; a mark on a member still here is
    /// undone by her own device, which asks again with her original time.
    pub fn free_signup(
        &mut self,
        by: &MemberId,
        session: &SessionId,
        ticket: &TicketId,
    ) -> ModelResult<()> {
        if !self.is_session_lead(session, by)? {
            return Err(ModelError::NotPermitted {
                action: "free places in this session",
                required: "accepted lead of this session, cleared at its start",
            });
        }
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        let Some(signup) = self.stored_signup(&signups, ticket)? else {
            return Err(ModelError::InvalidInput {
                field: "ticket",
                reason: "no sign-up under this ticket".into(),
            });
        };
        if signup.state != SignUpState::Attending || signup.freed {
            return Ok(());
        }
        self.transact_within(Reach::session(session), |doc, _| {
            doc.put(
                &signups,
                freed_key(ticket, signup.counter),
                signup.signature.as_str(),
            )?;
            Ok(())
        })
    }

    /// The sign-up under each session's ticket, for every session that
    /// has one: one pass over the sessions, with `ticket_of` naming the
    /// ticket to look for in each (a person's ticket differs per session).
    pub fn signups_under(
        &self,
        mut ticket_of: impl FnMut(&SessionId) -> TicketId,
    ) -> ModelResult<Vec<(SessionId, SignUp)>> {
        let mut out = Vec::new();
        for (id, session) in self.session_objs()? {
            if let Some(signup) = self.signup_in(&session, || ticket_of(&id))? {
                out.push((id, signup));
            }
        }
        Ok(out)
    }

    /// The sign-up in the session whose map is `session` under the ticket
    /// `ticket` names, asked for only when the session holds any.
    fn signup_in(
        &self,
        session: &ObjId,
        ticket: impl FnOnce() -> TicketId,
    ) -> ModelResult<Option<SignUp>> {
        match child_map(&self.doc, session, "signups") {
            Some(signups) if self.doc.length(&signups) > 0 => {
                self.stored_signup(&signups, &ticket())
            }
            _ => Ok(None),
        }
    }

    /// [`SpaceDoc::signups_under`] for only the sessions changed since the
    /// last call: every session on the first call after loading and after
    /// a change of unknown reach, none when nothing changed. For the one
    /// reader that looks after every receive (this person's freed places,
    /// `app/offline.rs`), so a burst costs what it changed, not a walk
    /// over every session.
    pub fn signups_under_changed(
        &mut self,
        mut ticket_of: impl FnMut(&SessionId) -> TicketId,
    ) -> ModelResult<Vec<(SessionId, SignUp)>> {
        let found = match self.take_changed_sessions() {
            None => self.signups_under(ticket_of),
            Some(changed) => {
                // The sessions map once, not once per session: a burst
                // changes tens of sessions of a map of thousands.
                let all = child_map(&self.doc, &ROOT, SESSIONS);
                changed
                    .into_iter()
                    .filter_map(|id| {
                        let session = child_map(&self.doc, all.as_ref()?, id.as_str())?;
                        self.signup_in(&session, || ticket_of(&id))
                            .transpose()
                            .map(|signup| signup.map(|s| (id, s)))
                    })
                    .collect()
            }
        };
        // Not read through: the next look reads every session.
        if found.is_err() {
            self.forget_changed_sessions();
        }
        found
    }

    /// Whether `session` holds any sign-up, read without hydrating it.
    pub fn has_signups(&self, session: &SessionId) -> bool {
        self.item_obj(SESSIONS, session.as_str())
            .and_then(|obj| child_map(&self.doc, &obj, "signups"))
            .is_some_and(|signups| self.doc.length(&signups) > 0)
    }

    /// The stored sign-up under `ticket`, for a lead to open its sealed part.
    pub fn signup(&self, session: &SessionId, ticket: &TicketId) -> ModelResult<Option<SignUp>> {
        let obj = self
            .item_obj(SESSIONS, session.as_str())
            .ok_or_else(|| ModelError::UnknownSession(session.to_string()))?;
        let signups = self.session_child(&obj, "signups")?;
        self.stored_signup(&signups, ticket)
    }

    /// The stored sign-up under a ticket, if any.
    fn stored_signup(&self, signups: &ObjId, ticket: &TicketId) -> ModelResult<Option<SignUp>> {
        // Only this ticket's keys (`<ticket>` and `<ticket>.<counter>`;
        // '/' sorts right after '.'): recording stays cheap however many
        // sign-ups the session holds.
        let range = ticket.as_str().to_string()..format!("{}/", ticket.as_str());
        let pairs: Vec<(String, String)> = self
            .doc
            .map_range(signups, range)
            .filter_map(|item| match item.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                    Some((item.key.to_string(), s.to_string()))
                }
                _ => None,
            })
            .collect();
        let all = SignUps::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Ok(all.0.get(ticket).cloned())
    }
}
