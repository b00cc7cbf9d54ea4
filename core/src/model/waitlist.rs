//! Sign-ups, and the attending list and waitlist derived from them.
//!
//! Sign-ups happen offline on many devices at once, so no replica may decide
//! "you got a place" and store that decision: two replicas would decide
//! differently. Instead each sign-up records only *that* someone wants to
//! attend and *when* they asked, and every replica derives the same lists
//! from the merged document:
//!
//! 1. take the sign-ups whose state is `attending`;
//! 2. order them by `(queue time, ticket)`; the ticket breaks ties, so
//!    the order is total and the same everywhere. The queue time is the
//!    attendee's signed time clamped to `[session created, first recorded by
//!    a lead]` ([`SignUp::queue_time`]);
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
//! signing device's clock, within the clamp. A sign-up made offline on Tuesday and synced on
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

/// One sign-up for one session: its newest statement and its holder (see
/// [`SignUps`] for how they are stored). A statement is one string holding
/// the attendee's signed `state`, `at` and `counter` (signed with the
/// ticket's own key, protocol.md §7) and the time a lead recorded it, so the
/// fields of two statements can never be mixed by a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignUp {
    /// Attending or cancelled.
    pub state: SignUpState,
    /// When the attendee signed up (or cancelled), by her own clock.
    pub at: Timestamp,
    /// When a lead first recorded this statement, by the lead's clock: the
    /// latest queue time the statement can claim.
    pub recorded_at: Timestamp,
    /// The attendee's counter for this ticket: each new statement has a
    /// higher one, so an older one cannot be recorded again.
    pub counter: u64,
    /// The ticket's Ed25519 public key (hex); the ticket id is derived from
    /// it, so only the attendee can sign for her ticket.
    pub key: String,
    /// The attendee's signature over the statement (hex).
    pub signature: String,
    /// Who holds the ticket, sealed to the session's leads' devices (an age
    /// file in a fixed-size frame, base64). Opaque to everyone else.
    pub sealed: String,
    /// A recording lead found that the holder has left the space or was
    /// removed, and freed the place this statement held: it drops out of
    /// the queue like a cancellation, so the first person waiting moves
    /// up. Read from a mark naming this statement's signature, never from
    /// the entry itself; a newer statement of the ticket is not freed.
    pub freed: bool,
}

/// The JSON of a sign-up's `entry` string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    pub key: String,
    pub state: SignUpState,
    pub at: Timestamp,
    pub counter: u64,
    pub signature: String,
    pub recorded_at: Timestamp,
}

impl SignUp {
    /// The `entry` string this sign-up is stored as.
    pub fn entry(&self) -> String {
        serde_json::to_string(&StoredEntry {
            key: self.key.clone(),
            state: self.state,
            at: self.at,
            counter: self.counter,
            signature: self.signature.clone(),
            recorded_at: self.recorded_at,
        })
        .unwrap_or_default()
    }

    /// Parses an `entry` string (with the holder sealed beside it).
    pub fn from_entry(entry: &str, sealed: String) -> Option<SignUp> {
        let e: StoredEntry = serde_json::from_str(entry).ok()?;
        Some(SignUp {
            state: e.state,
            at: e.at,
            recorded_at: e.recorded_at,
            counter: e.counter,
            key: e.key,
            signature: e.signature,
            sealed,
            freed: false,
        })
    }

    /// Where this sign-up stands in the queue: the attendee's time, but no
    /// earlier than the session was created and no later than a lead first
    /// recorded it, so a wrong (or dishonest) clock buys no earlier place
    /// than being there when the session was announced, and costs no place
    /// the attendee had when a lead saw her request.
    pub fn queue_time(&self, session_created_at: Timestamp) -> Timestamp {
        self.at.min(self.recorded_at).max(session_created_at)
    }
}

/// The key a statement is stored under in a session's `signups` map: the
/// ticket, a dot, and the counter as 20 decimal digits (so keys sort as
/// numbers). The sealed holder is stored under the bare ticket.
pub fn statement_key(ticket: &TicketId, counter: u64) -> String {
    format!("{}.{counter:020}", ticket.as_str())
}

/// The key of the mark that frees a statement's place (a lead found its
/// holder gone): the statement's key and `.freed`. Its value is the freed
/// statement's signature ([`SignUp::signature`]), which no lead can know
/// before the attendee signs it, so no mark can free a statement to come.
pub fn freed_key(ticket: &TicketId, counter: u64) -> String {
    format!("{}.freed", statement_key(ticket, counter))
}

/// What one key of a session's `signups` map is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignUpKey {
    /// `<ticket>`: the sealed holder.
    Holder(TicketId),
    /// `<ticket>.<counter>`: one of the attendee's signed statements.
    Statement(TicketId, u64),
    /// `<ticket>.<counter>.freed`: a lead freed that statement's place.
    Freed(TicketId, u64),
}

/// A session's sign-ups by ticket, read from its flat `signups` map.
///
/// The map holds only scalars, so no two writes ever race to create an
/// object whose loser's contents would be hidden: `<ticket>` holds the
/// sealed holder and `<ticket>.<counter>` each statement. Statements are
/// never deleted or overwritten by another counter's, and every replica
/// reads the highest counter of a ticket, so an older statement replayed by
/// a lead never wins, whatever order things merge in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignUps(pub BTreeMap<TicketId, SignUp>);

impl std::ops::Deref for SignUps {
    type Target = BTreeMap<TicketId, SignUp>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a SignUps {
    type Item = (&'a TicketId, &'a SignUp);
    type IntoIter = std::collections::btree_map::Iter<'a, TicketId, SignUp>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Splits a `signups` key into what it holds ([`SignUpKey`]). `None` for a
/// key of any other shape.
pub fn parse_signup_key(key: &str) -> Option<SignUpKey> {
    let mut parts = key.split('.');
    let ticket = parts.next()?;
    let minted = ticket.len() == 16
        && ticket
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !minted {
        return None;
    }
    let ticket = TicketId::from(ticket.to_string());
    let counter = match parts.next() {
        None => return Some(SignUpKey::Holder(ticket)),
        Some(c) if c.len() == 20 && c.bytes().all(|b| b.is_ascii_digit()) => c.parse().ok()?,
        Some(_) => return None,
    };
    match (parts.next(), parts.next()) {
        (None, _) => Some(SignUpKey::Statement(ticket, counter)),
        (Some("freed"), None) => Some(SignUpKey::Freed(ticket, counter)),
        _ => None,
    }
}

impl SignUps {
    /// Reads sign-ups from `(key, value)` pairs of a `signups` map: the
    /// newest statement per ticket with its holder. Keys and values of any
    /// other shape are skipped (every stored one was checked by every
    /// device before it was applied, protocol/session_rules.rs; one that is
    /// not is never fatal to the session).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> SignUps {
        let mut holders: BTreeMap<TicketId, &str> = BTreeMap::new();
        let mut newest: BTreeMap<TicketId, (u64, &str)> = BTreeMap::new();
        let mut freed: BTreeMap<(TicketId, u64), &str> = BTreeMap::new();
        for (key, value) in pairs {
            match parse_signup_key(key) {
                Some(SignUpKey::Holder(ticket)) => {
                    holders.insert(ticket, value);
                }
                Some(SignUpKey::Statement(ticket, counter))
                    if newest.get(&ticket).is_none_or(|(c, _)| counter > *c) =>
                {
                    newest.insert(ticket, (counter, value));
                }
                Some(SignUpKey::Freed(ticket, counter)) => {
                    freed.insert((ticket, counter), value);
                }
                // An older statement of a ticket, or a key of no known shape.
                Some(_) | None => {}
            }
        }
        let mut out = BTreeMap::new();
        for (ticket, (counter, entry)) in newest {
            let sealed = holders
                .get(&ticket)
                .map(|s| s.to_string())
                .unwrap_or_default();
            if let Some(mut signup) =
                SignUp::from_entry(entry, sealed).filter(|s| s.counter == counter)
            {
                // A mark counts only for the statement it names.
                signup.freed = freed
                    .get(&(ticket.clone(), counter))
                    .is_some_and(|mark| *mark == signup.signature);
                out.insert(ticket, signup);
            }
        }
        SignUps(out)
    }
}

impl Hydrate for SignUps {
    fn hydrate_map<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, autosurgeon::HydrateError> {
        let raw: BTreeMap<String, String> = BTreeMap::hydrate_map(doc, obj)?;
        Ok(SignUps::from_pairs(
            raw.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }
}

impl Reconcile for SignUps {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    // Written whole only when the session is made (empty); every later
    // write is one key (`SpaceDoc::record_signup`, `reseal_signup`).
    fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::MapReconciler;
        let mut map = reconciler.map()?;
        for (ticket, signup) in &self.0 {
            map.put(statement_key(ticket, signup.counter), signup.entry())?;
            map.put(ticket.as_str(), signup.sealed.as_str())?;
            if signup.freed {
                map.put(freed_key(ticket, signup.counter), signup.signature.as_str())?;
            }
        }
        Ok(())
    }
}

impl SignUps {
    /// The sign-ups as one value, in the keys their `Reconcile` writes
    /// (for a session written whole, `Session::as_new_value`).
    pub(crate) fn as_new_value(&self) -> automerge::hydrate::Value {
        use automerge::ScalarValue;
        use automerge::hydrate::Value;
        let text = |s: &str| Value::Scalar(ScalarValue::Str(s.into()));
        let mut keys = std::collections::HashMap::new();
        for (ticket, signup) in &self.0 {
            keys.insert(statement_key(ticket, signup.counter), text(&signup.entry()));
            keys.insert(ticket.as_str().to_string(), text(&signup.sealed));
            if signup.freed {
                keys.insert(freed_key(ticket, signup.counter), text(&signup.signature));
            }
        }
        Value::Map(automerge::hydrate::Map::from(keys))
    }
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

/// Derives the roster from stored sign-ups, ordered by queue time
/// ([`SignUp::queue_time`]) and then ticket.
pub fn derive_roster(
    signups: &BTreeMap<TicketId, SignUp>,
    capacity: u32,
    session_created_at: Timestamp,
) -> Roster {
    let mut queue: Vec<(Timestamp, &TicketId)> = signups
        .iter()
        .filter(|(_, s)| s.state == SignUpState::Attending && !s.freed)
        .map(|(ticket, s)| (s.queue_time(session_created_at), ticket))
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
            recorded_at: Timestamp(at),
            counter: 1,
            key: String::new(),
            signature: String::new(),
            sealed: String::new(),
            freed: false,
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
        let roster = derive_roster(&signups, 2, Timestamp(0));
        assert_eq!(roster.attending, vec![m[1].clone(), m[2].clone()]);
        assert_eq!(roster.waitlist, vec![m[0].clone(), m[3].clone()]);
        assert_eq!(
            roster.place_of(&m[3], &signups),
            Place::Waitlisted { position: 2 }
        );
    }

    #[test]
    fn a_freed_mark_counts_only_for_the_statement_whose_signature_it_names() {
        let ticket = TicketId::from("0123456789abcdef".to_string());
        let statement = |counter: u64, signature: &str| {
            let mut s = signup(SignUpState::Attending, 5);
            s.counter = counter;
            s.signature = signature.into();
            (statement_key(&ticket, counter), s.entry())
        };
        let (k1, e1) = statement(1, "aa");
        let (k2, e2) = statement(2, "bb");
        let read = |pairs: &[(String, String)]| {
            SignUps::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .get(&ticket)
                .cloned()
                .unwrap()
        };
        let mark = |counter, value: &str| (freed_key(&ticket, counter), value.to_string());
        assert!(read(&[(k1.clone(), e1.clone()), mark(1, "aa")]).freed);
        // A mark that names another signature, or an older statement, frees
        // nothing: no lead can free a statement before it is signed.
        assert!(!read(&[(k1.clone(), e1.clone()), mark(1, "zz")]).freed);
        assert!(!read(&[(k1, e1), (k2, e2), mark(1, "aa")]).freed);
        assert_eq!(
            parse_signup_key(&freed_key(&ticket, 3)),
            Some(SignUpKey::Freed(ticket.clone(), 3))
        );
        assert_eq!(
            parse_signup_key("0123456789abcdef.00000000000000000003.x"),
            None
        );
        let mut freed = signup(SignUpState::Attending, 1);
        freed.freed = true;
        let mut signups = BTreeMap::new();
        signups.insert(ticket.clone(), freed);
        let roster = derive_roster(&signups, 5, Timestamp(0));
        assert!(roster.attending.is_empty());
        assert_eq!(roster.place_of(&ticket, &signups), Place::Cancelled);
    }

    #[test]
    fn same_instant_signups_are_ordered_by_member_id() {
        let m = ids(3);
        let signups: BTreeMap<_, _> = m
            .iter()
            .rev()
            .map(|id| (id.clone(), signup(SignUpState::Attending, 5)))
            .collect();
        let roster = derive_roster(&signups, 1, Timestamp(0));
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
        let roster = derive_roster(&signups, 1, Timestamp(0));
        assert_eq!(roster.attending, vec![m[1].clone()]);
        assert_eq!(roster.waitlist, vec![m[2].clone()]);
        assert_eq!(roster.place_of(&m[0], &signups), Place::Cancelled);
    }
}
