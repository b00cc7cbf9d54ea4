//! Who may write a session's leads and sign-ups, and what (protocol.md §4).
//!
//! The permission table in [`super::authorship`] says *who* may write under
//! `sessions/<id>/leads` and `sessions/<id>/signups`; this module answers
//! its two questions at a change's causal point and checks the shape and
//! value of every such write:
//!
//! - **who decides on leads**: a coordinator, or a lead already accepted
//!   for the session. An offerer writes only her own offer: `state` =
//!   `offered`, `decided_by` and `decided_at` null;
//! - **who records sign-ups**: an active member whose offer was accepted
//!   and who is cleared (every training module current) *at the session's
//!   start*. Volunteering alone gives nothing, so a hostile member cannot
//!   make herself the lead of a survivor's session and read or rewrite who
//!   is coming;
//! - **what a sign-up write may be**: one scalar, under `<ticket>` (the
//!   sealed holder) or `<ticket>.<counter>` (a statement signed by the
//!   ticket's own key, whose hash is the ticket id, stored under its own
//!   counter). No deletes, no objects. So a lead can record what an
//!   attendee asked and re-seal it, but cannot cancel a place, move it in
//!   the queue, or make an older statement stand again.
//!
//! A change's causal point skips the author's own earlier changes in the
//! same batch (they cannot change her role), but a coordinator may plan a
//! session, accept herself and record her own sign-up before anything
//! leaves her device. [`BatchSessions`] carries what the batch wrote so far
//! that the sign-up rule reads: her lead state, the session's start, and
//! training records.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use automerge::legacy::{Op, OpType};
use automerge::{AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::error::AuthorshipError;
use super::state_at::{child_at, get_in, made_in_batch};
use crate::model::{
    MemberId, Role, SessionId, SignUp, SignUpKey, Timestamp, TrainingModule, TrainingRecord,
    parse_signup_key,
};

/// The fields of a lead entry.
const LEAD_FIELDS: [&str; 4] = ["volunteered_at", "state", "decided_by", "decided_at"];

/// A causal point (`None`: the current state) and a session id.
type RecordsKey = (Option<Vec<ChangeHash>>, String);

/// What a batch wrote so far that later sign-up writes of the same batch
/// rest on (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct BatchSessions {
    /// The author's own lead state per session, as last written ("" for a
    /// withdrawn offer).
    own_lead: HashMap<String, String>,
    /// Session starts written.
    starts: HashMap<String, i64>,
    /// Training record fields written, by record id.
    training: HashMap<String, HashMap<String, ScalarValue>>,
    /// Training records deleted.
    deleted_training: HashSet<String>,
    /// Answers of [`SessionAuthority::records`], until the batch writes
    /// something they read.
    records_cache: RefCell<HashMap<RecordsKey, bool>>,
}

impl BatchSessions {
    /// Notes an operation the checks let through.
    pub(crate) fn note(
        &mut self,
        me: &MemberId,
        op: &Op,
        path: &[String],
        created: &HashMap<String, Vec<String>>,
    ) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let put = match &op.action {
            OpType::Put(v) => Some(v.clone()),
            _ => None,
        };
        let changed = match (p.as_slice(), put) {
            (["sessions", s, "leads", m, "state"], Some(ScalarValue::Str(v)))
                if *m == me.as_str() =>
            {
                self.own_lead.insert(s.to_string(), v.to_string());
                true
            }
            (["sessions", s, "leads", m], None) if *m == me.as_str() => {
                if matches!(op.action, OpType::Delete) {
                    self.own_lead.insert(s.to_string(), String::new());
                }
                true
            }
            (["sessions", s, "starts_at"], Some(v)) => {
                if let Some(at) = int(&v) {
                    self.starts.insert(s.to_string(), at);
                }
                true
            }
            (["training", r], _) => {
                match op.action {
                    OpType::Delete => {
                        self.deleted_training.insert(r.to_string());
                        self.training.remove(*r);
                    }
                    OpType::Make(ObjType::Map) => {
                        self.deleted_training.remove(*r);
                        self.training.insert(r.to_string(), HashMap::new());
                    }
                    _ => {}
                }
                true
            }
            (["training", r, field], Some(v)) if made_in_batch(created, &op.obj) => {
                self.training
                    .entry(r.to_string())
                    .or_default()
                    .insert(field.to_string(), v);
                true
            }
            (["training", ..], _) => true,
            _ => false,
        };
        if changed {
            self.records_cache.borrow_mut().clear();
        }
    }
}

/// The session questions of the permission table, at one change's causal
/// point.
pub(crate) struct SessionAuthority<'a> {
    /// The document.
    pub(crate) am: &'a AutoCommit,
    /// The author.
    pub(crate) member: &'a MemberId,
    /// Her role at the causal point.
    pub(crate) role: Role,
    /// The causal point (`None`: the current state).
    pub(crate) view: Option<&'a [ChangeHash]>,
    /// What her batch wrote before this change.
    pub(crate) batch: &'a BatchSessions,
}

impl SessionAuthority<'_> {
    /// The author's lead state for `session`: "accepted", "offered",
    /// "declined", or "" for none.
    fn lead_state(&self, session: &str) -> String {
        if let Some(state) = self.batch.own_lead.get(session) {
            return state.clone();
        }
        let entry = child_at(self.am, &ROOT, "sessions", self.view)
            .and_then(|s| child_at(self.am, &s, session, self.view))
            .and_then(|s| child_at(self.am, &s, "leads", self.view))
            .and_then(|l| child_at(self.am, &l, self.member.as_str(), self.view));
        entry
            .and_then(|e| str_at(self.am, &e, "state", self.view))
            .unwrap_or_default()
    }

    /// Whether the author may accept, decline, name or stand down leads of
    /// `session`.
    pub(crate) fn decides(&self, session: &str) -> bool {
        self.role.at_least(Role::Coordinator) || self.lead_state(session) == "accepted"
    }

    /// Whether the author may record `session`'s sign-ups: accepted, and
    /// cleared at its start.
    pub(crate) fn records(&self, session: &str) -> bool {
        let key = (self.view.map(<[ChangeHash]>::to_vec), session.to_string());
        if let Some(answer) = self.batch.records_cache.borrow().get(&key) {
            return *answer;
        }
        let answer = self.lead_state(session) == "accepted" && self.cleared_at_start(session);
        self.batch.records_cache.borrow_mut().insert(key, answer);
        answer
    }

    fn cleared_at_start(&self, session: &str) -> bool {
        let start = match self.batch.starts.get(session) {
            Some(at) => *at,
            None => {
                let Some(obj) = child_at(self.am, &ROOT, "sessions", self.view)
                    .and_then(|s| child_at(self.am, &s, session, self.view))
                else {
                    return false;
                };
                match get_in(self.am, &obj, "starts_at", self.view) {
                    Ok(Some((Value::Scalar(v), _))) => match int(v.as_ref()) {
                        Some(at) => at,
                        None => return false,
                    },
                    _ => return false,
                }
            }
        };
        let mut records: Vec<TrainingRecord> = Vec::new();
        if let Some(training) = child_at(self.am, &ROOT, "training", self.view) {
            let keys: Vec<String> = match self.view {
                Some(h) => self.am.keys_at(&training, h).collect(),
                None => self.am.keys(&training).collect(),
            };
            for id in keys {
                if self.batch.deleted_training.contains(&id)
                    || self.batch.training.contains_key(&id)
                {
                    continue;
                }
                let Some(obj) = child_at(self.am, &training, &id, self.view) else {
                    continue;
                };
                let field = |name: &str| match get_in(self.am, &obj, name, self.view) {
                    Ok(Some((Value::Scalar(v), _))) => Some(v.into_owned()),
                    _ => None,
                };
                if let Some(r) = record_from(self.member, field) {
                    records.push(r);
                }
            }
        }
        for fields in self.batch.training.values() {
            if let Some(r) = record_from(self.member, |name| fields.get(name).cloned()) {
                records.push(r);
            }
        }
        crate::model::clearance(self.member, &records, Timestamp(start)).cleared
    }

    /// An offerer who does not decide writes only her own offer: `state`
    /// `offered` and no decision. Any lead `state` written is one of the
    /// three the model reads, so no write can make a session unreadable.
    pub(crate) fn check_lead_value(&self, op: &Op, path: &[String]) -> Result<(), AuthorshipError> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let ["sessions", session, "leads", _, field] = p.as_slice() else {
            return Ok(());
        };
        let OpType::Put(value) = &op.action else {
            return Ok(());
        };
        // Asked only for a write that needs it: reading the author's lead
        // state at the causal point is most of the check's cost, and an
        // offer (the common write) needs none.
        let decides = || self.decides(session);
        let allowed = match (*field, value) {
            ("state", ScalarValue::Str(s)) => match s.as_str() {
                "offered" => true,
                "accepted" | "declined" => decides(),
                _ => false,
            },
            ("decided_by" | "decided_at", ScalarValue::Null) => true,
            ("decided_by", ScalarValue::Str(_)) | ("decided_at", ScalarValue::Int(_)) => decides(),
            ("volunteered_at", ScalarValue::Int(_)) => true,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(AuthorshipError::NotPermitted {
                role: self.role.as_str(),
                path: path.join("/"),
            })
        }
    }
}

/// The shape every role keeps under `sessions` (see the module docs):
/// a session is made once and never deleted or replaced (it is cancelled),
/// its `leads` and `signups` maps and `created_*` fields are written only
/// with it, a lead entry holds only its fields, and `signups` holds only
/// checked scalars.
pub(crate) fn check_session_structure(
    am: &AutoCommit,
    op: &Op,
    path: &[String],
    with_session: bool,
    created: &HashMap<String, Vec<String>>,
    view: Option<&[ChangeHash]>,
) -> Result<(), AuthorshipError> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let refuse = || AuthorshipError::NotPermitted {
        role: "anyone",
        path: path.join("/"),
    };
    let makes_map = matches!(op.action, OpType::Make(ObjType::Map));
    let ok = match p.as_slice() {
        ["sessions"] => false,
        ["sessions", session] => {
            // The sessions map is made once, by the genesis, and no change
            // may write the root's `sessions` key (above): the map at the
            // causal point is the one there now, found without rebuilding
            // the past (half of this check's cost). Only what it held at
            // that point needs the point.
            makes_map
                && child_at(am, &ROOT, "sessions", None)
                    .and_then(|s| child_at(am, &s, session, view))
                    .is_none()
                // Made once in the batch too (this op is among `created`).
                && created.values().filter(|made| *made == path).count() <= 1
        }
        ["sessions", _, "leads" | "signups"] => makes_map && with_session,
        // Who made it, when, and which series it is part of never change.
        [
            "sessions",
            _,
            "created_at" | "created_by" | "series" | "occurrence",
        ] => with_session && session_value_ok(p[2], op),
        ["sessions", _, "leads", _] => makes_map || matches!(op.action, OpType::Delete),
        ["sessions", _, "leads", _, field] => {
            LEAD_FIELDS.contains(field) && matches!(op.action, OpType::Put(_))
        }
        ["sessions", _, "leads", _, _, ..] => false,
        ["sessions", session, "signups", key] => signup_write_ok(session, key, op),
        ["sessions", _, "signups", _, ..] => false,
        ["sessions", _, "content_notes", "[]"] => {
            matches!(op.action, OpType::Put(ScalarValue::Str(_)) | OpType::Delete)
        }
        ["sessions", _, field] => session_value_ok(field, op),
        ["sessions", _, _, ..] => false,
        _ => true,
    };
    if ok { Ok(()) } else { Err(refuse()) }
}

/// A lead entry is made whole: every change that makes one writes all
/// four of its fields into it (an undecided offer's `decided_by` and
/// `decided_at` as null). The model reads an offer only with every field
/// present, so an entry missing one would make its session unreadable on
/// every device, and a member offering to lead could otherwise hide any
/// session from everyone. Fields are matched by the object they are
/// written into (`objs`, and `made` for what each op makes, as the checks
/// name them), not by path, so a write into another entry at the same path
/// does not count for the new one.
pub(crate) fn check_lead_entries_whole(
    ops: &[Op],
    paths: &[Vec<String>],
    objs: &[Option<String>],
    made: &[Option<String>],
) -> Result<(), AuthorshipError> {
    // Entries made in this change: the object's id, its path, the fields
    // written into it.
    let mut entries: Vec<(&str, &[String], Vec<&str>)> = Vec::new();
    for (((op, path), obj), made) in ops.iter().zip(paths).zip(objs).zip(made) {
        if path.len() < 4 || path[0] != "sessions" || path[2] != "leads" {
            continue;
        }
        match (path.len(), &op.action, made, obj) {
            (4, OpType::Make(ObjType::Map), Some(id), _) => entries.push((id, path, Vec::new())),
            (5, OpType::Put(_), _, Some(obj)) => {
                if let Some((_, _, fields)) = entries.iter_mut().find(|(id, _, _)| id == obj) {
                    fields.push(&path[4]);
                }
            }
            _ => {}
        }
    }
    match entries
        .iter()
        .find(|(_, _, fields)| LEAD_FIELDS.iter().any(|f| !fields.contains(f)))
    {
        Some((_, path, _)) => Err(AuthorshipError::NotPermitted {
            role: "anyone",
            path: format!("{} (an offer without all its fields)", path.join("/")),
        }),
        None => Ok(()),
    }
}

/// Whether a write to a session's own field has the field's type (and, for
/// an enum, one of its names): a value of the wrong type would make the
/// session unreadable on every device, so a hostile lead could hide any
/// session from everyone. Unknown fields are refused.
fn session_value_ok(field: &str, op: &Op) -> bool {
    let u32_value = |v: &ScalarValue| match v {
        ScalarValue::Uint(n) => u32::try_from(*n).is_ok(),
        ScalarValue::Int(n) => u32::try_from(*n).is_ok(),
        _ => false,
    };
    match (field, &op.action) {
        ("content_notes", OpType::Make(ObjType::List)) => true,
        (_, OpType::Put(v)) => match field {
            "title" | "description" | "location" | "accessibility" | "created_by" => {
                matches!(v, ScalarValue::Str(_))
            }
            "kind" => {
                matches!(v, ScalarValue::Str(k) if crate::model::SessionKind::parse(k).is_ok_and(|kind| kind.as_str() == k.as_str()))
            }
            "status" => {
                matches!(v, ScalarValue::Str(k) if matches!(k.as_str(), "planned" | "cancelled" | "completed"))
            }
            "starts_at" | "created_at" => matches!(v, ScalarValue::Int(_)),
            "duration_minutes" | "capacity" => u32_value(v),
            "series" => matches!(v, ScalarValue::Str(_) | ScalarValue::Null),
            "occurrence" | "signups_close_before_minutes" => {
                matches!(v, ScalarValue::Null) || u32_value(v)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether one write into a session's `signups` map is a holder (any
/// string under a ticket), a statement signed by the ticket's key and
/// stored under its own counter, or a mark freeing a statement's place
/// whose value has the shape of a signature (readers apply it only to the
/// statement whose signature it names).
fn signup_write_ok(session: &str, key: &str, op: &Op) -> bool {
    let OpType::Put(ScalarValue::Str(value)) = &op.action else {
        return false;
    };
    match parse_signup_key(key) {
        Some(SignUpKey::Holder(_)) => true,
        Some(SignUpKey::Freed(..)) => {
            value.len() == 128
                && value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        Some(SignUpKey::Statement(ticket, counter)) => SignUp::from_entry(value, String::new())
            .is_some_and(|signup| {
                signup.counter == counter
                    && super::attendance::verify_statement(
                        &SessionId::from(session.to_string()),
                        &ticket,
                        &signup,
                    )
            }),
        None => false,
    }
}

fn int(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

fn str_at(
    am: &AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<String> {
    match get_in(am, obj, key, heads) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// A training record of `member` from its stored fields, or `None` for a
/// record of someone else or of the wrong shape (which the model skips
/// too).
fn record_from(
    member: &MemberId,
    field: impl Fn(&str) -> Option<ScalarValue>,
) -> Option<TrainingRecord> {
    let text = |name: &str| match field(name) {
        Some(ScalarValue::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    if text("member")? != member.as_str() {
        return None;
    }
    Some(TrainingRecord {
        member: member.clone(),
        module: match text("module")?.as_str() {
            "signposting" => TrainingModule::Signposting,
            "trauma_informed" => TrainingModule::TraumaInformed,
            _ => return None,
        },
        completed_at: Timestamp(int(&field("completed_at")?)?),
        expires_at: Timestamp(int(&field("expires_at")?)?),
        recorded_by: member.clone(),
    })
}
