//! What a change reaches, and what the document keeps knowing across the
//! changes that do not reach it.
//!
//! A live group sends a change a few times a second, and every device
//! receives each one. Two questions the device asks after every receive
//! and every seal read across every session: which sessions this member
//! leads (to re-seal sign-ups to their leads) and which of this person's
//! places a lead freed (to ask for them again). Answered from scratch,
//! each is a walk over every session, per blob: quadratic in a group's
//! activity. Answered once and kept, each needs to know what a change
//! touched: the receive's checks know every operation's path, and each
//! local write knows what it writes. A change of unknown reach (a load, a
//! merge, an apply the checks did not see) forgets everything.

use std::collections::BTreeSet;

use crate::model::ids::SessionId;

/// Where a change writes, outside `members` (a write there, or one whose
/// paths are not known, goes through the paths that forget everything
/// the document remembers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Sessions written under (`sessions/<id>`, `sessions/<id>/…`).
    sessions: BTreeSet<SessionId>,
    /// Whether the sessions map itself, or a path not known as map keys
    /// under it, was written: any session may have changed.
    every_session: bool,
    /// Whether the invites were written (what the receive checks read of
    /// who is a member, beside `members`).
    invites: bool,
    /// Whether anything outside the sessions was written (training,
    /// resources, invites, the root's fields): who may lead reads
    /// training records.
    elsewhere: bool,
}

impl Reach {
    /// A write under one session.
    pub fn session(id: &SessionId) -> Self {
        Self::sessions([id])
    }

    /// A write under these sessions.
    pub fn sessions<'a>(ids: impl IntoIterator<Item = &'a SessionId>) -> Self {
        Reach {
            sessions: ids.into_iter().cloned().collect(),
            ..Reach::default()
        }
    }

    /// A write outside the sessions (training, resources, invites).
    pub fn outside_sessions() -> Self {
        Reach {
            elsewhere: true,
            ..Reach::default()
        }
    }

    /// A write that may change any session and anything else (outside
    /// `members`).
    pub fn anything_but_members() -> Self {
        Reach {
            sessions: BTreeSet::new(),
            every_session: true,
            invites: true,
            elsewhere: true,
        }
    }

    /// Adds an operation's path, as the receive's checks resolve it (map
    /// keys from the root; `[]` for a position in a list or text, which
    /// the caller counts as possibly under `members`).
    pub fn add_path(&mut self, path: &[String]) {
        match path {
            [top, id, ..] if top == "sessions" => {
                self.sessions.insert(SessionId::from(id.clone()));
            }
            [top] if top == "sessions" => self.every_session = true,
            [] => {
                self.every_session = true;
                self.invites = true;
                self.elsewhere = true;
            }
            [top, ..] if top == "invites" => {
                self.invites = true;
                self.elsewhere = true;
            }
            _ => self.elsewhere = true,
        }
    }

    /// Adds what another change reached.
    pub fn extend(&mut self, other: Reach) {
        self.sessions.extend(other.sessions);
        self.every_session |= other.every_session;
        self.invites |= other.invites;
        self.elsewhere |= other.elsewhere;
    }

    /// Whether a write under the session `id` may be among these.
    pub fn may_reach(&self, id: &SessionId) -> bool {
        self.every_session || self.sessions.contains(id)
    }

    /// The sessions written under, unless any session may have changed.
    pub(super) fn only_sessions(&self) -> Option<&BTreeSet<SessionId>> {
        (!self.every_session).then_some(&self.sessions)
    }

    /// Whether the invites may have been written.
    pub(super) fn writes_invites(&self) -> bool {
        self.invites
    }

    /// Whether who leads a session may have changed beyond the sessions
    /// named: training records, or sessions not known by id.
    pub(super) fn beyond_named_sessions(&self) -> bool {
        self.every_session || self.elsewhere
    }
}

/// The sessions that changed since [`SpaceDoc::take_changed_sessions`]
/// last looked (`Any` until it first does, and after a change of unknown
/// reach).
///
/// [`SpaceDoc::take_changed_sessions`]: super::SpaceDoc::take_changed_sessions
#[derive(Clone, Debug)]
pub(super) enum ChangedSessions {
    /// Any session may have changed.
    Any,
    /// Only these.
    Only(BTreeSet<SessionId>),
}

impl ChangedSessions {
    /// Adds what a change reached.
    pub(super) fn note(&mut self, reach: &Reach) {
        match (&mut *self, reach.only_sessions()) {
            (ChangedSessions::Only(known), Some(ids)) => known.extend(ids.iter().cloned()),
            (ChangedSessions::Only(_), None) => *self = ChangedSessions::Any,
            (ChangedSessions::Any, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_under_a_session_name_it_and_others_widen_the_reach() {
        let mut reach = Reach::default();
        reach.add_path(&path(&["sessions", "s1", "signups", "t"]));
        reach.add_path(&path(&["sessions", "s2"]));
        assert_eq!(
            reach.only_sessions().map(|s| s.len()),
            Some(2),
            "two sessions named"
        );
        assert!(!reach.beyond_named_sessions());
        reach.add_path(&path(&["training", "r1", "module"]));
        assert!(reach.beyond_named_sessions());
        assert!(reach.only_sessions().is_some(), "training is not a session");
        reach.add_path(&path(&["sessions"]));
        assert!(
            reach.only_sessions().is_none(),
            "the map itself: any session"
        );
        let mut unknown = Reach::default();
        unknown.add_path(&[]);
        assert!(unknown.only_sessions().is_none() && unknown.beyond_named_sessions());
    }

    #[test]
    fn changed_sessions_stay_any_until_looked_at() {
        let mut changed = ChangedSessions::Any;
        changed.note(&Reach::session(&SessionId::from("s1".to_string())));
        assert!(matches!(changed, ChangedSessions::Any));
        let mut changed = ChangedSessions::Only(BTreeSet::new());
        changed.note(&Reach::session(&SessionId::from("s1".to_string())));
        changed.note(&Reach::outside_sessions());
        assert!(matches!(&changed, ChangedSessions::Only(s) if s.len() == 1));
        changed.note(&Reach::anything_but_members());
        assert!(matches!(changed, ChangedSessions::Any));
    }
}
