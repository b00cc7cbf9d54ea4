//! Whether the planned sessions will have a cleared lead: derived on read
//! for coordinators and leads, from the moment it is known, not at the
//! start. A lead must be cleared *at the session's start* (training that
//! lapses the day before counts as lapsed), so both rules look ahead.

use std::collections::BTreeMap;

use super::error::ModelResult;
use super::ids::{MemberId, SessionId};
use super::member::Member;
use super::session::{LeadOffer, LeadState, SessionStatus};
use super::space::{LeadStatus, SpaceDoc};
use super::time::Timestamp;
use super::training::clearance;

/// A planned session that, as things stand, has no lead cleared at its
/// start, or a lead who will not be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearanceWarning {
    /// The session.
    pub session: SessionId,
    /// Its title, to say which.
    pub title: String,
    /// When it starts.
    pub starts_at: Timestamp,
    /// Whether no lead will be cleared at its start (also when nobody has
    /// volunteered): sign-ups wait and nobody can lead it.
    pub no_cleared_lead: bool,
    /// The leads who will not be cleared at its start, each with her
    /// clearance there (what is missing).
    pub uncleared: Vec<LeadStatus>,
}

/// A member cleared now whose clearance lapses within the window asked
/// for, with the planned sessions she leads that start after it lapses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringClearance {
    /// Who.
    pub member: MemberId,
    /// Her pseudonym.
    pub pseudonym: String,
    /// When her clearance lapses unless new training is recorded.
    pub lapses_at: Timestamp,
    /// The planned sessions she leads that start at or after that.
    pub sessions: Vec<SessionId>,
}

impl SpaceDoc {
    /// Every planned session that has not started yet and that, as things
    /// stand, goes ahead without a lead cleared at its start, or with a lead
    /// who won't be: soonest first.
    pub fn clearance_warnings(&self, now: Timestamp) -> ModelResult<Vec<ClearanceWarning>> {
        let mut out = Vec::new();
        for (id, session) in self.sessions()? {
            if session.status != SessionStatus::Planned || session.starts_at < now {
                continue;
            }
            // Only accepted leads lead; a pending offer is not a lead yet.
            let leads: Vec<LeadStatus> = self
                .session_leads(&id, session.starts_at)?
                .into_iter()
                .filter(|l| l.state == LeadState::Accepted)
                .collect();
            let no_cleared_lead = !leads.iter().any(|l| l.clearance.cleared);
            let uncleared: Vec<LeadStatus> =
                leads.into_iter().filter(|l| !l.clearance.cleared).collect();
            if no_cleared_lead || !uncleared.is_empty() {
                out.push(ClearanceWarning {
                    session: id,
                    title: session.title,
                    starts_at: session.starts_at,
                    no_cleared_lead,
                    uncleared,
                });
            }
        }
        out.sort_by(|a, b| {
            a.starts_at
                .cmp(&b.starts_at)
                .then_with(|| a.session.cmp(&b.session))
        });
        Ok(out)
    }

    /// Every active member cleared at `now` whose clearance lapses before
    /// `now + within_seconds`, soonest first, with the planned sessions she
    /// leads that it affects.
    pub fn expiring_clearances(
        &self,
        now: Timestamp,
        within_seconds: i64,
    ) -> ModelResult<Vec<ExpiringClearance>> {
        let horizon = Timestamp(now.0.saturating_add(within_seconds));
        let records = self.training_records()?;
        let members: BTreeMap<MemberId, Member> = self.members()?.into_iter().collect();
        let sessions = self.sessions()?;
        let mut out = Vec::new();
        for (id, member) in members.iter().filter(|(_, m)| m.is_active()) {
            let c = clearance(id, records.iter().map(|(_, r)| r), now);
            let Some(lapses_at) = c.valid_until.filter(|t| *t < horizon) else {
                continue;
            };
            let affected = sessions
                .iter()
                .filter(|(_, s)| {
                    s.status == SessionStatus::Planned
                        && s.starts_at >= lapses_at
                        && s.leads.get(id).is_some_and(LeadOffer::is_accepted)
                })
                .map(|(sid, _)| sid.clone())
                .collect();
            out.push(ExpiringClearance {
                member: id.clone(),
                pseudonym: member.pseudonym.clone(),
                lapses_at,
                sessions: affected,
            });
        }
        out.sort_by(|a, b| {
            a.lapses_at
                .cmp(&b.lapses_at)
                .then_with(|| a.member.cmp(&b.member))
        });
        Ok(out)
    }
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
mod tests;
