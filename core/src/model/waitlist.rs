//! Sign-ups, and the attending list and waitlist derived from them.
//!
//! Sign-ups happen offline on many devices at once, so no replica may decide
//! "you got a place" and store that decision: two replicas would decide
//! differently. Instead each sign-up records only *that* someone wants to
//! attend and *when* they asked, and every replica derives the same lists
//! from the merged document:
//!
//! 1. take the sign-ups whose state is `attending`;
//! 2. order them by `(signed-up time, ticket)`; the ticket breaks ties, so
//!    the order is total and the same everywhere;
//! 3. the first `capacity` attend, the rest wait, in that order.
//!
//! Sign-ups are keyed by *ticket*, not by member: who holds a ticket is
//! sealed to the session's leads (protocol.md §7), so every member can count
//! places and find their own, and only leads can see who is coming.
//!
//! A cancellation simply drops out of step 1, so the first person waiting is
//! promoted everywhere at once. Re-signing after a cancellation takes a new
//! time and so joins the back of the queue.
//!
//! The trade-off, written down so nobody is surprised: the time is the
//! signing device's clock. A sign-up made offline on Tuesday and synced on
//! Thursday keeps its Tuesday place, which is what "a lead must never lose a
//! sign-up made offline" asks for, but it can push someone who signed up on
//! Wednesday back to the waitlist when it arrives. Apps should say "your
//! place is confirmed once everyone has synced".

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::ids::TicketId;
use super::time::Timestamp;

/// Whether a sign-up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignUpState {
    /// The member wants to attend (they may be on the waitlist).
    #[autosurgeon(rename = "attending")]
    Attending,
    /// The member cancelled.
    #[autosurgeon(rename = "cancelled")]
    Cancelled,
}

/// One sign-up for one session, as stored under its ticket.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct SignUp {
    /// Attending or cancelled.
    pub state: SignUpState,
    /// When the attendee last signed up (or cancelled): their place in the queue.
    pub at: Timestamp,
    /// Who holds the ticket, sealed to the session's leads' devices (an age
    /// file, base64). Opaque to everyone else.
    pub sealed: String,
}

/// Who attends and who waits, in order, by ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Tickets with a place, in sign-up order.
    pub attending: Vec<TicketId>,
    /// Tickets waiting for a place, first in line first.
    pub waitlist: Vec<TicketId>,
}

/// Where one member stands for one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Place {
    /// Has a place.
    Attending,
    /// Waiting; `position` 1 is next in line.
    Waitlisted {
        /// 1-based position in the waitlist.
        position: u32,
    },
    /// Signed up once and cancelled.
    Cancelled,
    /// Never signed up.
    NotSignedUp,
}

/// Derives the roster from stored sign-ups.
pub fn derive_roster(signups: &BTreeMap<TicketId, SignUp>, capacity: u32) -> Roster {
    let mut queue: Vec<(&Timestamp, &TicketId)> = signups
        .iter()
        .filter(|(_, s)| s.state == SignUpState::Attending)
        .map(|(ticket, s)| (&s.at, ticket))
        .collect();
    queue.sort();
    let capacity = capacity as usize;
    let mut roster = Roster::default();
    for (index, (_, ticket)) in queue.into_iter().enumerate() {
        if index < capacity {
            roster.attending.push(ticket.clone());
        } else {
            roster.waitlist.push(ticket.clone());
        }
    }
    roster
}

impl Roster {
    /// Where `ticket` stands, given the stored sign-ups the roster came from.
    pub fn place_of(&self, ticket: &TicketId, signups: &BTreeMap<TicketId, SignUp>) -> Place {
        if self.attending.contains(ticket) {
            return Place::Attending;
        }
        if let Some(index) = self.waitlist.iter().position(|m| m == ticket) {
            return Place::Waitlisted {
                position: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
        }
        match signups.get(ticket) {
            Some(_) => Place::Cancelled,
            None => Place::NotSignedUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(state: SignUpState, at: i64) -> SignUp {
        SignUp {
            state,
            at: Timestamp(at),
            sealed: String::new(),
        }
    }

    fn ids(n: usize) -> Vec<TicketId> {
        let mut ids: Vec<TicketId> = (0..n).map(|_| TicketId::random()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn earliest_signups_attend_and_the_rest_wait_in_order() {
        let m = ids(4);
        let mut signups = BTreeMap::new();
        signups.insert(m[0].clone(), signup(SignUpState::Attending, 30));
        signups.insert(m[1].clone(), signup(SignUpState::Attending, 10));
        signups.insert(m[2].clone(), signup(SignUpState::Attending, 20));
        signups.insert(m[3].clone(), signup(SignUpState::Attending, 40));
        let roster = derive_roster(&signups, 2);
        assert_eq!(roster.attending, vec![m[1].clone(), m[2].clone()]);
        assert_eq!(roster.waitlist, vec![m[0].clone(), m[3].clone()]);
        assert_eq!(
            roster.place_of(&m[3], &signups),
            Place::Waitlisted { position: 2 }
        );
    }

    #[test]
    fn same_instant_signups_are_ordered_by_member_id() {
        let m = ids(3);
        let signups: BTreeMap<_, _> = m
            .iter()
            .rev()
            .map(|id| (id.clone(), signup(SignUpState::Attending, 5)))
            .collect();
        let roster = derive_roster(&signups, 1);
        assert_eq!(roster.attending, vec![m[0].clone()]);
        assert_eq!(roster.waitlist, vec![m[1].clone(), m[2].clone()]);
    }

    #[test]
    fn cancellation_promotes_first_waitlisted() {
        let m = ids(3);
        let mut signups = BTreeMap::new();
        signups.insert(m[0].clone(), signup(SignUpState::Attending, 1));
        signups.insert(m[1].clone(), signup(SignUpState::Attending, 2));
        signups.insert(m[2].clone(), signup(SignUpState::Attending, 3));
        signups.insert(m[0].clone(), signup(SignUpState::Cancelled, 4));
        let roster = derive_roster(&signups, 1);
        assert_eq!(roster.attending, vec![m[1].clone()]);
        assert_eq!(roster.waitlist, vec![m[2].clone()]);
        assert_eq!(roster.place_of(&m[0], &signups), Place::Cancelled);
    }
}
