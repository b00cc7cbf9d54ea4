//! Who may write what: checking a signed change batch before it touches a
//! space document (protocol.md §4).
//!
//! The envelope signature proves which *device* sent a batch. This module
//! proves the batch is that device's to send:
//!
//! 1. the device belongs to a member of the space (the one whose entry
//!    lists it and is active at the change's causal point: a person who
//!    left can come back on the same device as a new member);
//! 2. every change in the batch carries the device's own actor id (each
//!    device uses its 8-byte device id as its automerge actor), so nobody can
//!    slip in a change attributed to someone else;
//! 3. every operation touches only paths the member's role allows, with the
//!    role read **at the change's causal point** (its dependencies), not "now":
//!    every replica evaluates a change against the same state, so all accept
//!    or all refuse it whatever order things arrive in, and documents converge.
//!
//! Operations are checked from the encoded changes without applying them:
//! each operation's target object is resolved to a path (objects created in
//! the same batch are tracked as they are made).

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjType, ReadDoc, ScalarValue};

pub use super::devices::member_of_device;
use super::devices::{
    device_field_parses, device_removed_now, listed_again, listings_at, member_of_device_at,
    role_of_device_now,
};
pub use super::error::AuthorshipError;
use super::session_rules::BatchSessions;
use super::staging::{CheckedBatch, Staged};
use super::state_at::{
    any_set, child_at, device_removed_at, get_in, made_in_batch, member_map_at, object_key, role_at,
};
use crate::model::{DeviceId, MemberId, Role, SessionId, SpaceDoc};

/// The automerge actor id a device writes with: its 8 device-id bytes.
pub fn actor_for_device(device: &DeviceId) -> Option<ActorId> {
    hex::decode(device.as_str())
        .ok()
        .filter(|b| b.len() == 8)
        .map(ActorId::from)
}

/// Checks that `changes` (decoded from an envelope signed by `device`) may
/// be applied to `doc`.
pub fn check_batch(
    doc: &SpaceDoc,
    device: &DeviceId,
    changes: &[Change],
) -> Result<(), AuthorshipError> {
    check_batch_at(doc, device, changes, &[])
}

/// [`check_batch`], told the document's current heads so that changes
/// whose causal point is the current state are checked against it directly.
pub fn check_batch_at(
    doc: &SpaceDoc,
    device: &DeviceId,
    changes: &[Change],
    current_heads: &[ChangeHash],
) -> Result<(), AuthorshipError> {
    let mut staged = Staged::at_heads(current_heads.to_vec());
    check_staged(doc, &mut staged, device, changes).map(|_| ())
}

/// Checks `changes` (signed by `device`) against `doc` with the changes of
/// `staged` as if they were applied (see [`super::staging`]): the same
/// decision [`check_batch_at`] would make once they are. Returns what the
/// stage needs to take the batch.
pub fn check_staged(
    doc: &SpaceDoc,
    staged: &mut Staged,
    device: &DeviceId,
    changes: &[Change],
) -> Result<CheckedBatch, AuthorshipError> {
    let current = staged
        .member_of_device(doc, device)
        .ok_or_else(|| AuthorshipError::UnknownDevice(device.to_string()))?;
    let relisted = listed_again(doc, device);
    let actor = actor_for_device(device)
        .ok_or_else(|| AuthorshipError::UnknownDevice(device.to_string()))?;
    let am = doc.automerge();
    let mut checked = CheckedBatch::default();
    // Base frontiers of this batch's changes, by hash. A batch is one
    // author's changes in causal order, as `get_changes` yields them.
    let mut causal: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
    let mut in_batch_state = BatchSessions::default();
    for change in changes {
        if change.actor_id() != &actor {
            return Err(AuthorshipError::ForeignActor);
        }
        // The causal point: this change's dependencies outside the batch,
        // plus those of its dependencies inside it (changes of one author
        // cannot change that author's role, so they are skipped through),
        // with staged changes replaced by the document changes they reach.
        let mut heads: Vec<ChangeHash> = Vec::new();
        for dep in change.deps() {
            match causal
                .get(dep)
                .map(Vec::as_slice)
                .or(staged.frontier_of(dep))
            {
                Some(inherited) => heads.extend(inherited.iter().copied()),
                None => heads.push(*dep),
            }
        }
        heads.sort();
        heads.dedup();
        if !ReadDoc::get_missing_deps(am, &heads).is_empty() {
            return Err(AuthorshipError::MissingDependencies);
        }
        let view = if staged.is_current(&heads) {
            None
        } else {
            Some(&heads[..])
        };
        // The member list at the causal point is the current one when
        // every change that wrote it (or the invites) is in that point's
        // past: the usual case, even while the group writes concurrently,
        // and far cheaper to read (`SpaceDoc::member_list_settled_at`).
        let member_view = view.filter(|heads| !doc.member_list_settled_at(heads));
        // Who the device writes as is read at the causal point too: after
        // leaving and being admitted again it writes as its new member,
        // and what it writes without knowing its re-admission still counts
        // as the member who left.
        let member = match member_view {
            Some(heads) if relisted => member_of_device_at(am, device, Some(heads))
                .ok_or_else(|| AuthorshipError::UnknownDevice(device.to_string()))?,
            _ => current.clone(),
        };
        // With no view, `member` is the one the device writes as now, and
        // what the document remembers of it answers.
        let removed = match member_view {
            None => device_removed_now(doc, device),
            Some(_) => device_removed_at(am, &member, device, member_view),
        };
        if removed {
            return Err(AuthorshipError::RemovedDevice(device.to_string()));
        }
        let role = match member_view {
            None => role_of_device_now(doc, device)?,
            Some(_) => role_at(am, &member, member_view)?,
        };
        let expanded = change.decode();
        let start = change.start_op().get();
        // Paths first (objects made earlier in the change resolve through
        // `created`), so an admission is recognised before any op of it is
        // judged by the permission table.
        let ops = expanded.operations.len();
        let mut paths = Vec::with_capacity(ops);
        let mut in_batch = Vec::with_capacity(ops);
        // Per op, the object it writes into and the object it makes.
        let mut objs = Vec::with_capacity(ops);
        let mut made = Vec::with_capacity(ops);
        for (index, op) in expanded.operations.iter().enumerate() {
            // The object's id in automerge's text form, made once per op
            // (it was three times, a sixth of the checks' own time).
            let obj = object_key(&op.obj);
            let path = op_path(am, &checked.created, staged, obj.as_deref(), op)?;
            in_batch.push(
                obj.as_ref()
                    .is_some_and(|key| checked.created.contains_key(key)),
            );
            made.push(match op.action {
                automerge::legacy::OpType::Make(_) => {
                    let id = format!("{}@{}", start + index as u64, actor.to_hex_string());
                    checked.created.insert(id.clone(), path.clone());
                    Some(id)
                }
                _ => None,
            });
            objs.push(obj);
            paths.push(path);
        }
        super::session_rules::check_lead_entries_whole(&expanded.operations, &paths, &objs, &made)?;
        super::admission::check_device_bindings(&expanded.operations, &paths)?;
        let admission = super::admission::is_admission(&expanded.operations, &paths);
        if admission {
            super::admission::check_admission(
                am,
                &member,
                role,
                view,
                &expanded.operations,
                &paths,
            )?;
        }
        for ((op, path), in_batch) in expanded.operations.iter().zip(&paths).zip(in_batch) {
            checked.touches_authority |= is_authority(path);
            if let Some(session) = session_authority(path) {
                checked
                    .session_authority
                    .insert(SessionId::from(session.to_string()));
            }
            let members = path.first().is_none_or(|key| key == "members");
            checked.touches_members |= members;
            if !members {
                checked.reach.add_path(
                    path,
                    matches!(op.action, automerge::legacy::OpType::Make(ObjType::Map)),
                );
            }
            check_member_structure(am, op, path, &checked.created, view)?;
            super::session_rules::check_session_structure(
                am,
                op,
                path,
                in_batch,
                &checked.created,
                view,
            )?;
            if admission {
                continue;
            }
            let sessions = super::session_rules::SessionAuthority {
                am,
                member: &member,
                role,
                view,
                batch: &in_batch_state,
            };
            check_path(role, &member, path, &sessions)?;
            sessions.check_lead_value(op, path)?;
            if path.first().is_some_and(|p| p == "invites") {
                super::admission::check_invite_write(am, &member, role, view, op, path, in_batch)?;
            }
            // `removed_at` is null only in a member entry made by this same
            // batch: a removal can be neither undone nor pre-empted.
            if let ["members", _, "removed_at"] = path
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                let unsets = !matches!(&op.action, automerge::legacy::OpType::Put(v) if !matches!(v, ScalarValue::Null));
                if unsets && !in_batch {
                    return Err(AuthorshipError::NotPermitted {
                        role: role.as_str(),
                        path: path.join("/"),
                    });
                }
            }
            // What this batch wrote so far that a later sign-up of it may
            // rest on: the causal point skips the author's own changes.
            in_batch_state.note(&member, op, path, &checked.created);
            if let ["invites", _, "role"] = path
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                let grants_member = matches!(
                    &op.action,
                    automerge::legacy::OpType::Put(ScalarValue::Str(r)) if r.as_str() == "member"
                );
                if !grants_member && !role.at_least(Role::Coordinator) {
                    return Err(AuthorshipError::NotPermitted {
                        role: role.as_str(),
                        path: path.join("/"),
                    });
                }
            }
        }
        causal.insert(change.hash(), heads.clone());
        checked.frontiers.push((change.hash(), heads));
    }
    Ok(checked)
}

/// What no role may do to the member list, whatever the permission table
/// says: a member entry and a device entry, once made, are never deleted
/// or replaced (a removal is `removed_at`, and past changes must keep
/// verifying against the keys that signed them), and a device writes as
/// one member at a time: a new device entry must use an id no active member
/// lists at the change's causal point and no member removed as a device,
/// with the keys any earlier entry for it lists. The fields of a device
/// entry are written only with the entry itself.
fn check_member_structure(
    am: &AutoCommit,
    op: &automerge::legacy::Op,
    path: &[String],
    created: &HashMap<String, Vec<String>>,
    view: Option<&[ChangeHash]>,
) -> Result<(), AuthorshipError> {
    use automerge::legacy::OpType;
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let refuse = || AuthorshipError::NotPermitted {
        role: "anyone",
        path: path.join("/"),
    };
    let makes_map = matches!(op.action, OpType::Make(ObjType::Map));
    match p.as_slice() {
        ["members"] => Err(refuse()),
        ["members", member] | ["members", member, "devices"] => {
            let exists = match p.len() {
                2 => member_map_at(am, member, view).is_some(),
                _ => member_map_at(am, member, view)
                    .is_some_and(|m| child_at(am, &m, "devices", view).is_some()),
            };
            // Made once, as a map, never replaced or deleted.
            if makes_map && !exists {
                Ok(())
            } else {
                Err(refuse())
            }
        }
        ["members", _, "devices", device] => {
            let id_ok = device.len() == 16 && hex::decode(device).is_ok();
            if makes_map && id_ok && may_list_device(am, device, view) {
                Ok(())
            } else {
                Err(refuse())
            }
        }
        ["members", _, "devices", device, field] => {
            if made_in_batch(created, &op.obj)
                && valid_device_field(field, &op.action)
                && keeps_earlier_keys(am, device, field, &op.action, view)
            {
                Ok(())
            } else {
                Err(refuse())
            }
        }
        ["members", _, "devices", _, _, ..] => Err(refuse()),
        // A device removal names a device of that member, is a time, and
        // is never taken back (a null, a deletion, or a removal written
        // again over the first).
        ["members", member, key]
            if key.starts_with(crate::model::member::REMOVED_DEVICE_PREFIX) =>
        {
            let Some(device) = crate::model::member::removed_device_of(key) else {
                return Err(refuse());
            };
            let is_time = matches!(
                &op.action,
                OpType::Put(ScalarValue::Int(t)) if *t >= 0
            );
            let listed = member_map_at(am, member, view)
                .and_then(|m| child_at(am, &m, "devices", view))
                .is_some_and(|d| matches!(get_in(am, &d, device.as_str(), view), Ok(Some(_))));
            let already =
                member_map_at(am, member, view).is_some_and(|m| any_set(am, &m, key, view));
            if is_time && listed && !already {
                Ok(())
            } else {
                Err(refuse())
            }
        }
        _ => Ok(()),
    }
}

/// Whether a device entry's field is a text that parses as what the field
/// holds ([`device_field_parses`]). One bad entry would otherwise be handed
/// keys it cannot open, or sign nothing that verifies.
fn valid_device_field(field: &str, action: &automerge::legacy::OpType) -> bool {
    let automerge::legacy::OpType::Put(ScalarValue::Str(value)) = action else {
        return false;
    };
    device_field_parses(field, value.as_str())
}

/// Whether a new entry may list `device` at `heads`: no active member
/// lists it there (a device writes as one member at a time), and no member
/// ever removed it as a device (a lost phone stays out, also as someone
/// new). A device listed only under members who left or were removed may
/// be listed again, in an admission: the same person coming back on the
/// same phone (protocol.md §5, "Coming back").
fn may_list_device(am: &AutoCommit, device: &str, heads: Option<&[ChangeHash]>) -> bool {
    let id = DeviceId::from(device.to_string());
    listings_at(am, device, heads).iter().all(|l| {
        role_at(am, &l.member, heads).is_err() && !device_removed_at(am, &l.member, &id, heads)
    })
}

/// Whether a device entry's key field repeats what every earlier entry for
/// that device lists: a device listed again is the same device with the
/// same keys, so a signature or an attestation verifies under one key
/// whichever entry a replica reads, and nobody takes over a departed
/// member's device id with keys of his own.
fn keeps_earlier_keys(
    am: &AutoCommit,
    device: &str,
    field: &str,
    action: &automerge::legacy::OpType,
    heads: Option<&[ChangeHash]>,
) -> bool {
    let automerge::legacy::OpType::Put(ScalarValue::Str(value)) = action else {
        return false;
    };
    let value = Some(value.to_string());
    listings_at(am, device, heads).iter().all(|l| match field {
        "signing_key" => l.keys.0 == value,
        "age_recipient" => l.keys.1 == value,
        _ => true,
    })
}

/// Whether writing at `path` can change what the checks read: members
/// (roles, devices, removal), invites, training (clearance), whether a
/// session exists, when it starts, and its leads. Deleting or replacing a parent map counts as writing below it.
fn is_authority(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["members", ..] | ["invites", ..] | ["training", ..] | ["sessions"]
    )
}

/// The session whose authority state a path writes (its existence, its
/// start, its leads), which only checks of writes under that same session
/// read: such a batch may stay staged until a later batch reaches that
/// session (`super::staging`).
fn session_authority(path: &[String]) -> Option<&str> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["sessions", session]
        | ["sessions", session, "starts_at"]
        | ["sessions", session, "leads", ..] => Some(session),
        _ => None,
    }
}

/// The path an operation writes to, as map keys from the root (`[]` for a
/// list or text position). `created` holds objects made earlier in the same
/// batch, and `staged` those made by staged changes, which the document
/// does not know yet.
fn op_path(
    am: &AutoCommit,
    created: &HashMap<String, Vec<String>>,
    staged: &mut Staged,
    obj: Option<&str>,
    op: &automerge::legacy::Op,
) -> Result<Vec<String>, AuthorshipError> {
    let mut path = match obj {
        None => Vec::new(),
        Some(key) => match created.get(key).or_else(|| staged.path(key)) {
            Some(path) => path.clone(),
            None => {
                let path = path_of(am, key)?;
                staged.remember_path(key.to_string(), path.clone());
                path
            }
        },
    };
    path.push(match &op.key {
        automerge::legacy::Key::Map(name) => name.to_string(),
        automerge::legacy::Key::Seq(_) => "[]".to_string(),
    });
    Ok(path)
}

/// The path of an existing object, as map keys from the root.
fn path_of(am: &AutoCommit, id: &str) -> Result<Vec<String>, AuthorshipError> {
    // `import` parses an object id in automerge's own text form; it is public
    // but undocumented, and the version is pinned in the workspace.
    let (obj, _) = am
        .import(id)
        .map_err(|_| AuthorshipError::MissingDependencies)?;
    let parents = am
        .parents(&obj)
        .map_err(|_| AuthorshipError::MissingDependencies)?;
    Ok(parents
        .path()
        .into_iter()
        .map(|(_, prop)| match prop {
            automerge::Prop::Map(key) => key,
            automerge::Prop::Seq(_) => "[]".to_string(),
        })
        .collect())
}

/// The permission table of docs/model.md, over document paths.
/// `sessions` answers, at the change's causal point, who records a
/// session's sign-ups and who decides on its leads.
fn check_path(
    role: Role,
    me: &MemberId,
    path: &[String],
    sessions: &super::session_rules::SessionAuthority<'_>,
) -> Result<(), AuthorshipError> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let own = |i: usize| p.get(i).is_some_and(|k| *k == me.as_str());
    let allowed = match p.as_slice() {
        // The document header is written once, at creation (which arrives as
        // a snapshot, not as a batch).
        ["kind"] | ["schema"] => false,
        ["name"] | ["time_zone"] => role.at_least(Role::Coordinator),
        // A device entry is written by its own member (linking) or in an
        // admission, never by anyone else: a device listed under a member
        // writes as her, so a coordinator who could list one could forge
        // any member's changes.
        ["members", _, "devices", _, ..] => own(1),
        // Removing a device is its member's own act, like listing one.
        ["members", _, key, ..] if key.starts_with(crate::model::member::REMOVED_DEVICE_PREFIX) => {
            own(1)
        }
        ["members", ..] if role.at_least(Role::Coordinator) => true,
        ["members", _, field, ..] if own(1) => {
            matches!(*field, "pseudonym" | "devices" | "removed_at")
        }
        ["members", ..] => false,
        // Sign-ups are recorded by the session's accepted leads cleared at
        // its start, whatever their role, and by nobody else: names are
        // sealed to them alone. What they write is checked against the
        // attendee's signature in `session_rules`.
        ["sessions", session, "signups", _, ..] => sessions.records(session),
        // An offer is the member's own; accepting, declining, naming a
        // cover lead or standing one down is for a coordinator or an
        // accepted lead of the session. Which values an offerer may write
        // is checked in `check_lead_value`.
        ["sessions", session, "leads", _, ..] => own(3) || sessions.decides(session),
        ["sessions", ..] => role.at_least(Role::Lead),
        ["training", ..] => role.at_least(Role::Coordinator),
        ["resources", ..] => role.at_least(Role::Lead),
        // Leads may invite members; which role an invite grants is checked
        // on the written value in `check_batch`.
        ["invites", ..] => role.at_least(Role::Lead),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(AuthorshipError::NotPermitted {
            role: role.as_str(),
            path: path.join("/"),
        })
    }
}

#[cfg(test)]
#[path = "authorship_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "rejoin_tests.rs"]
mod rejoin_tests;
