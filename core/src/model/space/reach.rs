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

use std::collections::{BTreeMap, BTreeSet};

use crate::model::ids::SessionId;

/// Where a change writes, outside `members` (a write there, or one whose
/// paths are not known, goes through the paths that forget everything
/// the document remembers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Sessions written under (`sessions/<id>`, `sessions/<id>/…`).
    sessions: BTreeSet<SessionId>,
    /// Of those, sessions made here (a map put at `sessions/<id>`) and
    /// written only at their own fields and empty child maps: nothing
    /// under `leads/…` or `signups/…`, nothing else at `sessions/<id>`.
    /// What a session made this way shows is a new session nobody leads
    /// and nobody signed up for, or, if it lost to one made concurrently
    /// under the same id, that one unchanged: the freed-place scan skips
    /// it, and who leads it is read again only for a member remembered to
    /// lead it.
    /// Any other session written (at `sessions/<id>` other than by making
    /// a map, under `leads/…`, `signups/…` or a list, or at a field before
    /// being made here) is in `sessions` alone.
    fresh: BTreeSet<SessionId>,
    /// Of `sessions`, those written only inside lead entries
    /// (`sessions/<id>/leads/<member>`, `…/leads/<member>/<field>`), with
    /// the members whose entries were written. Whether someone leads such
    /// a session changes only for those members: in a group whose leads
    /// offer on the same sessions, each device would otherwise read its
    /// own standing again for every offer another lead sends.
    offers_only: BTreeMap<SessionId, BTreeSet<String>>,
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

    /// The making of these new sessions, whole, with empty `leads` and
    /// `signups` (see `Reach::fresh`).
    pub fn new_sessions<'a>(ids: impl IntoIterator<Item = &'a SessionId>) -> Self {
        let sessions: BTreeSet<SessionId> = ids.into_iter().cloned().collect();
        Reach {
            fresh: sessions.clone(),
            sessions,
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
            every_session: true,
            invites: true,
            elsewhere: true,
            ..Reach::default()
        }
    }

    /// Adds an operation's path, as the receive's checks resolve it (map
    /// keys from the root; `[]` for a position in a list or text, which
    /// the caller counts as possibly under `members`).
    /// `makes_map`: whether the operation makes a map (a new session at
    /// `sessions/<id>`, or one of its child maps).
    pub fn add_path(&mut self, path: &[String], makes_map: bool) {
        match path {
            [top, id, rest @ ..] if top == "sessions" => {
                let id = SessionId::from(id.clone());
                // A field or child map of a session made earlier here
                // keeps it fresh; of any other session, it is an edit.
                let fresh = match rest {
                    [] => makes_map && (self.fresh.contains(&id) || !self.sessions.contains(&id)),
                    [_] => self.fresh.contains(&id),
                    [_, ..] => false,
                };
                if fresh {
                    self.fresh.insert(id.clone());
                } else {
                    self.fresh.remove(&id);
                }
                match rest {
                    [leads, member, ..]
                        if leads == "leads"
                            && (self.offers_only.contains_key(&id)
                                || !self.sessions.contains(&id)) =>
                    {
                        self.offers_only
                            .entry(id.clone())
                            .or_default()
                            .insert(member.clone());
                    }
                    _ => {
                        self.offers_only.remove(&id);
                    }
                }
                self.sessions.insert(id);
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
        // Fresh in both, or in one and not written by the other.
        let fresh: BTreeSet<SessionId> = self
            .fresh
            .iter()
            .filter(|id| other.fresh.contains(*id) || !other.sessions.contains(*id))
            .chain(other.fresh.iter().filter(|id| !self.sessions.contains(*id)))
            .cloned()
            .collect();
        self.fresh = fresh;
        // Offers only in both (their members together), or in one and not
        // written by the other.
        let mut offers_only = BTreeMap::new();
        for (id, members) in &self.offers_only {
            match other.offers_only.get(id) {
                Some(more) => {
                    offers_only.insert(id.clone(), members.union(more).cloned().collect());
                }
                None if !other.sessions.contains(id) => {
                    offers_only.insert(id.clone(), members.clone());
                }
                None => {}
            }
        }
        for (id, members) in other.offers_only {
            if !self.sessions.contains(&id) {
                offers_only.insert(id, members);
            }
        }
        self.offers_only = offers_only;
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

    /// Whether `id` is among the fresh sessions (see `Reach::fresh`).
    pub(super) fn is_fresh(&self, id: &SessionId) -> bool {
        self.fresh.contains(id)
    }

    /// Whether who leads the session `id` may have changed for `member`:
    /// not when everything written under it is other members' lead
    /// entries (see `Reach::offers_only`).
    pub(super) fn may_change_lead(&self, id: &SessionId, member: &str) -> bool {
        self.offers_only
            .get(id)
            .is_none_or(|members| members.contains(member))
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
            // A fresh session holds no sign-up to look at.
            (ChangedSessions::Only(known), Some(ids)) => {
                known.extend(ids.iter().filter(|id| !reach.is_fresh(id)).cloned());
            }
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
        reach.add_path(&path(&["sessions", "s1", "signups", "t"]), false);
        reach.add_path(&path(&["sessions", "s2"]), false);
        assert_eq!(
            reach.only_sessions().map(|s| s.len()),
            Some(2),
            "two sessions named"
        );
        assert!(!reach.beyond_named_sessions());
        reach.add_path(&path(&["training", "r1", "module"]), false);
        assert!(reach.beyond_named_sessions());
        assert!(reach.only_sessions().is_some(), "training is not a session");
        reach.add_path(&path(&["sessions"]), false);
        assert!(
            reach.only_sessions().is_none(),
            "the map itself: any session"
        );
        let mut unknown = Reach::default();
        unknown.add_path(&[], false);
        assert!(unknown.only_sessions().is_none() && unknown.beyond_named_sessions());
    }

    #[test]
    fn other_members_offers_change_who_leads_for_them_alone() {
        let s1 = SessionId::from("s1".to_string());
        let offers = |paths: &[&[&str]]| {
            let mut reach = Reach::default();
            for p in paths {
                reach.add_path(&path(p), false);
            }
            reach
        };
        let others = offers(&[
            &["sessions", "s1", "leads", "a"],
            &["sessions", "s1", "leads", "a", "state"],
            &["sessions", "s1", "leads", "b", "volunteered_at"],
        ]);
        assert!(!others.may_change_lead(&s1, "me"));
        assert!(others.may_change_lead(&s1, "a") && others.may_change_lead(&s1, "b"));
        assert!(others.may_reach(&s1), "still a write under it");
        // Any other write under the session, before or after, may change
        // it for everyone: its start, the leads map itself.
        for other in [
            &["sessions", "s1", "starts_at"][..],
            &["sessions", "s1", "leads"][..],
            &["sessions", "s1"][..],
        ] {
            assert!(
                offers(&[other, &["sessions", "s1", "leads", "a", "state"]])
                    .may_change_lead(&s1, "me")
            );
            assert!(
                offers(&[&["sessions", "s1", "leads", "a", "state"], other])
                    .may_change_lead(&s1, "me")
            );
        }
        // Together with another change's reach.
        let mut both = others.clone();
        both.extend(offers(&[&["sessions", "s1", "leads", "c", "state"]]));
        assert!(!both.may_change_lead(&s1, "me") && both.may_change_lead(&s1, "c"));
        let mut widened = others.clone();
        widened.extend(offers(&[&["sessions", "s1", "starts_at"]]));
        assert!(widened.may_change_lead(&s1, "me"));
        let mut elsewhere = offers(&[&["sessions", "s2", "title"]]);
        elsewhere.extend(others);
        assert!(!elsewhere.may_change_lead(&s1, "me"));
        // A local write names its sessions without paths: anyone may lead.
        assert!(Reach::session(&s1).may_change_lead(&s1, "me"));
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

    #[test]
    fn a_session_made_whole_is_fresh_until_written_under_or_edited() {
        let s1 = SessionId::from("s1".to_string());
        let made = |extra: &[(&[&str], bool)]| {
            let mut reach = Reach::default();
            reach.add_path(&path(&["sessions", "s1"]), true);
            reach.add_path(&path(&["sessions", "s1", "title"]), false);
            reach.add_path(&path(&["sessions", "s1", "signups"]), true);
            reach.add_path(&path(&["sessions", "s1", "leads"]), true);
            for (p, makes) in extra {
                reach.add_path(&path(p), *makes);
            }
            reach
        };
        assert!(made(&[]).is_fresh(&s1), "made whole, with empty maps");
        assert!(made(&[]).may_reach(&s1), "still a write under it");
        for (what, extra) in [
            (
                "a sign-up written",
                &[(&["sessions", "s1", "signups", "t"][..], false)][..],
            ),
            (
                "an offer written",
                &[(&["sessions", "s1", "leads", "m", "state"][..], false)],
            ),
            (
                "a note inserted",
                &[(&["sessions", "s1", "content_notes", "[]"][..], false)],
            ),
            ("a put over it", &[(&["sessions", "s1"][..], false)]),
        ] {
            assert!(!made(extra).is_fresh(&s1), "{what}");
        }
        // A field edited before a make in the same reach: the earlier
        // session under that id changed.
        let mut edited = Reach::default();
        edited.add_path(&path(&["sessions", "s1", "starts_at"]), false);
        edited.add_path(&path(&["sessions", "s1"]), true);
        assert!(!edited.is_fresh(&s1));
        // Across changes: fresh in one, written under in the other.
        let mut both = made(&[]);
        let mut signed = Reach::default();
        signed.add_path(&path(&["sessions", "s1", "signups", "t"]), false);
        both.extend(signed);
        assert!(!both.is_fresh(&s1));
        let mut both = made(&[]);
        both.extend(Reach::session(&SessionId::from("s2".to_string())));
        assert!(
            both.is_fresh(&s1),
            "another session's write leaves it fresh"
        );
        let mut both = made(&[]);
        both.extend(Reach::session(&s1));
        assert!(!both.is_fresh(&s1), "a local write to it is not fresh");
        // The freed-place scan skips it; an edit brings it back.
        let mut changed = ChangedSessions::Only(BTreeSet::new());
        changed.note(&Reach::new_sessions([&s1]));
        assert!(matches!(&changed, ChangedSessions::Only(s) if s.is_empty()));
        changed.note(&Reach::session(&s1));
        assert!(matches!(&changed, ChangedSessions::Only(s) if s.contains(&s1)));
    }
}
