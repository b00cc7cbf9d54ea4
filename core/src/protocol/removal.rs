//! Removals, and who may answer one with a new epoch (protocol.md §6).
//!
//! A removal (or a departure) is a change that writes a non-null
//! `members/<id>/removed_at`. Every value ever written there counts, also
//! one that lost a concurrent write in automerge's conflict order: a
//! removal cannot be undone by writing over it.
//!
//! Rotation is *derived*, not remembered: a removal is answered once the
//! current epoch's key was handed over at a state that includes it (the
//! handover's cut). A coordinator's device that holds an unanswered removal
//! rotates, whenever it finds one, so a removal that was persisted is never
//! left without a rotation, even across a crash between the two writes, and
//! whichever coordinator device sees a departure first answers it.
//!
//! A handover is accepted only from a device of a coordinator who is active
//! at the removal it answers, and whose own removal (if any) is causally
//! after it: a removed coordinator cannot answer a removal he back-dated.

use std::collections::HashSet;

use automerge::{ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::devices::{author_of, written_as};
use super::state_at::role_at;
use crate::model::{DeviceId, MemberId, Role, SpaceDoc};

/// One removal the document records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    /// Who was removed (or left), or whose device was.
    pub member: MemberId,
    /// The one device removed (a lost phone), or `None` when the member
    /// herself was removed or left.
    pub device: Option<DeviceId>,
    /// The change that wrote it.
    pub change: ChangeHash,
}

/// Every removal in `doc`, ordered by change hash (the same order on every
/// replica).
pub fn removals(doc: &SpaceDoc) -> Vec<Removal> {
    let am = doc.automerge();
    let map = |parent: &automerge::ObjId, key: &str| match am.get(parent, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    let mut out = Vec::new();
    let Some(members) = map(&ROOT, "members") else {
        return out;
    };
    for key in am.keys(&members) {
        let Some(member) = map(&members, &key) else {
            continue;
        };
        let whom =
            std::iter::once(("removed_at".to_string(), None)).chain(am.keys(&member).filter_map(
                |k| crate::model::member::removed_device_of(&k).map(|d| (k.clone(), Some(d))),
            ));
        for (field, device) in whom.collect::<Vec<_>>() {
            let Ok(values) = am.get_all(&member, field.as_str()) else {
                continue;
            };
            for (value, op) in values {
                if matches!(value, Value::Scalar(ref s) if matches!(s.as_ref(), ScalarValue::Null))
                {
                    continue;
                }
                if let Some(change) = am.hash_for_opid(&op) {
                    out.push(Removal {
                        member: MemberId::from(key.clone()),
                        device: device.clone(),
                        change,
                    });
                }
            }
        }
    }
    out.sort_by_key(|r| r.change);
    out.dedup();
    out
}

/// Whether `change` is in `doc` and is one of `heads` or causally before
/// them.
pub fn is_before(doc: &mut SpaceDoc, change: &ChangeHash, heads: &[ChangeHash]) -> bool {
    doc.has_change(change) && !doc.changes_after(heads).contains(change)
}

/// The removal a new epoch must answer, if any: the first, by change hash,
/// that is not causally before `cut`, the state at which the current
/// epoch's key was handed over (`None` in the first epoch, whose key every
/// member who ever joined may hold).
pub fn unanswered_removal(doc: &mut SpaceDoc, cut: Option<&[ChangeHash]>) -> Option<Removal> {
    let all = removals(doc);
    if all.is_empty() {
        return None;
    }
    let after: Option<HashSet<ChangeHash>> = cut.map(|c| doc.changes_after(c));
    all.into_iter()
        .find(|r| after.as_ref().is_none_or(|a| a.contains(&r.change)))
}

/// The changes that grant nothing, because removal wins: every change made
/// by a device of a removed member that is not causally before her removal
/// (written concurrently with it, or back-dated to before it), every change
/// by a device of a member such a change made (a puppet), and every change
/// a member made with a role such a change gave her (an accomplice). They stay
/// in the document, judged as her role allowed where she made them; but a
/// member, a device or a role they created is given no key and no
/// authority over rotations.
pub fn void_changes(doc: &mut SpaceDoc) -> HashSet<ChangeHash> {
    let all = removals(doc);
    let mut void = HashSet::new();
    if all.is_empty() {
        return void;
    }
    let members = doc.members().unwrap_or_default();
    for removal in all {
        let Some((_, member)) = members.iter().find(|(id, _)| *id == removal.member) else {
            continue;
        };
        // A removed device's writes after its removal count no more than a
        // removed member's: the lost phone cannot grant anything either.
        let actors = match &removal.device {
            None => actors_of([member]),
            Some(device) => super::authorship::actor_for_device(device)
                .into_iter()
                .collect(),
        };
        if actors.is_empty() {
            continue;
        }
        // Only what her devices wrote as her: a device she came back on,
        // admitted again as a new member, writes as that member after it.
        let after = doc.changes_after_by(&[removal.change], &actors);
        void.extend(
            after
                .into_iter()
                .filter(|c| written_as(doc, c, &removal.member)),
        );
    }
    // A member whose entry a void change made (a puppet) was never a
    // member: everything her devices wrote grants nothing either, and so
    // on for any puppet she made.
    let members_obj = match doc.automerge().get(&ROOT, "members") {
        Ok(Some((Value::Object(ObjType::Map), id))) => id,
        _ => return void,
    };
    let mut done: HashSet<MemberId> = HashSet::new();
    loop {
        let puppets: Vec<&(MemberId, crate::model::Member)> = members
            .iter()
            .filter(|(id, _)| !done.contains(id))
            .filter(|(id, _)| {
                made_by(doc, &members_obj, id.as_str()).is_some_and(|c| void.contains(&c))
            })
            .collect();
        if puppets.is_empty() {
            break;
        }
        done.extend(puppets.iter().map(|(id, _)| id.clone()));
        let actors = actors_of(puppets.iter().map(|(_, m)| m));
        if !actors.is_empty() {
            let ids: Vec<MemberId> = puppets.iter().map(|(id, _)| id.clone()).collect();
            let by = doc.changes_after_by(&[], &actors);
            void.extend(
                by.into_iter()
                    .filter(|c| author_of(doc, c).is_some_and(|a| ids.contains(&a))),
            );
        }
    }
    // A real member promoted by a void change (an accomplice) acted as
    // what she was not: her changes made with that role are void too.
    let mut granted: HashSet<(MemberId, ChangeHash)> = HashSet::new();
    loop {
        let am = doc.automerge();
        let mut grants = Vec::new();
        for (id, _) in &members {
            let Ok(Some((Value::Object(ObjType::Map), entry))) = am.get(&members_obj, id.as_str())
            else {
                continue;
            };
            for (_, op) in am.get_all(&entry, "role").unwrap_or_default() {
                let Some(hash) = am.hash_for_opid(&op).filter(|h| void.contains(h)) else {
                    continue;
                };
                // Only a promotion: a member a void change demoted did
                // nothing she was not allowed to.
                let before = am
                    .get_change_by_hash(&hash)
                    .map(|c| c.deps().to_vec())
                    .unwrap_or_default();
                let was = role_at(am, id, Some(&before)).ok();
                let made = role_at(am, id, Some(&[hash])).ok();
                let promoted = matches!((was, made), (Some(w), Some(m)) if m > w);
                if promoted && granted.insert((id.clone(), hash)) {
                    grants.push((id.clone(), hash));
                }
            }
        }
        if grants.is_empty() {
            return void;
        }
        let mut added = false;
        for (id, grant) in grants {
            let Some((_, member)) = members.iter().find(|(m, _)| *m == id) else {
                continue;
            };
            let actors = actors_of([member]);
            for change in doc.changes_after_by(&[grant], &actors) {
                if !void.contains(&change)
                    && written_as(doc, &change, &id)
                    && role_from_void(doc, &members_obj, &change, &void)
                {
                    void.insert(change);
                    added = true;
                }
            }
        }
        if !added {
            return void;
        }
    }
}

/// The change that made the value at `key` of `obj` (the visible one).
fn made_by(doc: &SpaceDoc, obj: &automerge::ObjId, key: &str) -> Option<ChangeHash> {
    let am = doc.automerge();
    let (_, id) = am.get(obj, key).ok()??;
    am.hash_for_opid(&id)
}

/// Devices of active members that may be handed a new epoch's key: every
/// device whose entry, and whose member's entry, was made by a change that
/// grants something ([`void_changes`]).
pub fn key_holders(doc: &mut SpaceDoc) -> Vec<(DeviceId, String)> {
    let void = void_changes(doc);
    let am_members = {
        let am = doc.automerge();
        match am.get(&ROOT, "members") {
            Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
            _ => None,
        }
    };
    let Some(members_obj) = am_members else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, member) in doc.members().unwrap_or_default() {
        if !member.is_active() {
            continue;
        }
        if made_by(doc, &members_obj, id.as_str()).is_some_and(|c| void.contains(&c)) {
            continue;
        }
        let devices_obj = doc
            .automerge()
            .get(&members_obj, id.as_str())
            .ok()
            .flatten()
            .and_then(|(_, m)| match doc.automerge().get(&m, "devices") {
                Ok(Some((Value::Object(ObjType::Map), d))) => Some(d),
                _ => None,
            });
        let removed = doc.removed_devices(&id);
        for (device, keys) in member.devices {
            if removed.contains_key(&device) {
                continue;
            }
            let granted_by_void = devices_obj
                .as_ref()
                .and_then(|d| made_by(doc, d, device.as_str()))
                .is_some_and(|c| void.contains(&c));
            if !granted_by_void {
                out.push((device, keys.age_recipient));
            }
        }
    }
    out
}

/// What removal wins takes back in the document, for a coordinator's
/// device to write ([`voided_authority`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoidedAuthority {
    /// Active members whose entry a void change made: a removed member's
    /// puppet, added back-dated to before her removal.
    pub members: Vec<MemberId>,
    /// Active members whose visible role a void change wrote, with the role
    /// they held where it was written.
    pub roles: Vec<(MemberId, Role)>,
    /// Everything else a void change wrote that is still visible (a
    /// session's place or time, a resource, volunteering to lead, a
    /// sign-up), put back to what it was before, or removed if the void
    /// change made it. Sign-up writes name their session: only its leads
    /// may write them. The member list and invites are left to the rules
    /// above.
    pub writes: Vec<crate::model::Restore>,
}

impl VoidedAuthority {
    /// Whether there is nothing to take back.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.roles.is_empty() && self.writes.is_empty()
    }
}

/// The members and roles that exist only through [`void_changes`]: what a
/// removed member's devices wrote not causally before her removal grants
/// nothing, so a coordinator's device removes such members and puts such
/// roles back (derived like rotation: whichever coordinator device sees it
/// first; writing it twice is harmless).
///
/// `since` (heads this device already looked from) makes it cheap in the
/// usual case: only a new removal, or a new change by a removed member's
/// device, can void anything, and the history is scanned only then.
pub fn voided_authority(doc: &mut SpaceDoc, since: Option<&[ChangeHash]>) -> VoidedAuthority {
    let mut out = VoidedAuthority::default();
    let all = removals(doc);
    if all.is_empty() {
        return out;
    }
    if let Some(since) = since.filter(|s| ReadDoc::get_missing_deps(doc.automerge(), s).is_empty())
    {
        let new = doc.changes_after(since);
        let members = doc.members().unwrap_or_default();
        let mut removed = actors_of(
            all.iter()
                .filter(|r| r.device.is_none())
                .filter_map(|r| members.iter().find(|(id, _)| *id == r.member))
                .map(|(_, m)| m),
        );
        removed.extend(
            all.iter()
                .filter_map(|r| r.device.as_ref())
                .filter_map(super::authorship::actor_for_device),
        );
        let am = doc.automerge();
        let by_removed = new.iter().any(|h| {
            am.get_change_by_hash(h)
                .is_some_and(|c| removed.contains(c.actor_id()))
        });
        if !by_removed && !all.iter().any(|r| new.contains(&r.change)) {
            return out;
        }
    }
    let void = void_changes(doc);
    if void.is_empty() {
        return out;
    }
    let members = doc.members().unwrap_or_default();
    let am = doc.automerge();
    let Ok(Some((Value::Object(ObjType::Map), members_obj))) = am.get(&ROOT, "members") else {
        return out;
    };
    for (id, member) in members.iter().filter(|(_, m)| m.is_active()) {
        if made_by(doc, &members_obj, id.as_str()).is_some_and(|c| void.contains(&c)) {
            out.members.push(id.clone());
            continue;
        }
        let Ok(Some((Value::Object(ObjType::Map), entry))) = am.get(&members_obj, id.as_str())
        else {
            continue;
        };
        let Some(granted) = made_by(doc, &entry, "role").filter(|c| void.contains(c)) else {
            continue;
        };
        let before = am
            .get_change_by_hash(&granted)
            .map(|c| c.deps().to_vec())
            .unwrap_or_default();
        if let Ok(previous) = role_at(am, id, Some(&before)) {
            if previous != member.role {
                out.roles.push((id.clone(), previous));
            }
        }
    }
    out.writes = restores(doc, &void);
    out
}

/// The automerge actors of these members' devices.
fn actors_of<'a>(
    members: impl IntoIterator<Item = &'a crate::model::Member>,
) -> HashSet<automerge::ActorId> {
    members
        .into_iter()
        .flat_map(|m| m.devices.keys())
        .filter_map(super::authorship::actor_for_device)
        .collect()
}

/// The keys whose visible value a void change wrote, outside the member
/// list and invites, each with the value it held before the
/// first void change in its line of writes. Keys inside an object a void
/// change made go with that object. A list a void change edited (a
/// session's content notes) is put back whole, as it stands without any
/// void change or anything written after one ([`clean_heads`]).
fn restores(doc: &mut SpaceDoc, void: &HashSet<ChangeHash>) -> Vec<crate::model::Restore> {
    let decoded: Vec<(Vec<ChangeHash>, Vec<automerge::legacy::Op>)> = void
        .iter()
        .filter_map(|hash| doc.automerge().get_change_by_hash(hash))
        .map(|c| (c.deps().to_vec(), c.decode().operations))
        .collect();
    let edits_a_list = decoded.iter().any(|(_, ops)| {
        ops.iter()
            .any(|op| matches!(op.key, automerge::legacy::Key::Seq(_)))
    });
    let clean = if edits_a_list {
        clean_heads(doc, void)
    } else {
        Vec::new()
    };
    let now = doc.heads();
    let am = doc.automerge();
    let mut out: Vec<crate::model::Restore> = Vec::new();
    let mut seen: HashSet<(automerge::ObjId, String)> = HashSet::new();
    let made_by_void =
        |id: &automerge::ObjId| am.hash_for_opid(id).is_some_and(|h| void.contains(&h));
    for (deps, ops) in &decoded {
        for op in ops {
            let obj = match &op.obj {
                automerge::legacy::ObjectId::Root => ROOT,
                automerge::legacy::ObjectId::Id(id) => {
                    match am.import(&format!("{}@{}", id.0, id.1.to_hex_string())) {
                        Ok((obj, _)) => obj,
                        Err(_) => continue,
                    }
                }
            };
            if obj != ROOT && made_by_void(&obj) {
                continue;
            }
            let Ok(parents) = am.parents(&obj) else {
                continue;
            };
            let mut path: Vec<(automerge::ObjId, String)> = parents
                .path()
                .into_iter()
                .map(|(o, p)| match p {
                    automerge::Prop::Map(k) => (o, k),
                    automerge::Prop::Seq(_) => (o, "[]".to_string()),
                })
                .collect();
            // A list element: the list goes back whole, under its key.
            let (obj, key) = match &op.key {
                automerge::legacy::Key::Map(key) => {
                    path.push((obj.clone(), key.to_string()));
                    (obj, key.to_string())
                }
                automerge::legacy::Key::Seq(_) => match path.last() {
                    Some((parent, key)) => {
                        let visible = am.get(parent, key.as_str()).ok().flatten();
                        // Replaced since (by a restore, or anyone): not this
                        // list's contents any more.
                        if visible.as_ref().map(|(_, id)| id) != Some(&obj) {
                            continue;
                        }
                        (parent.clone(), key.clone())
                    }
                    None => continue,
                },
            };
            let p: Vec<&str> = path.iter().map(|(_, k)| k.as_str()).collect();
            if matches!(
                p.as_slice(),
                ["members", ..] | ["invites", ..] | ["kind"] | ["schema"]
            ) || p.contains(&"[]")
            {
                continue;
            }
            let signups_of = match p.as_slice() {
                ["sessions", session, "signups", ..] => {
                    Some(crate::model::SessionId::from(session.to_string()))
                }
                _ => None,
            };
            if !seen.insert((obj.clone(), key.clone())) {
                continue;
            }
            if let automerge::legacy::Key::Seq(_) = &op.key {
                let before = value_at(am, &obj, &key, &clean);
                if before.is_some() && before != value_at(am, &obj, &key, &now) {
                    out.push(crate::model::Restore {
                        obj,
                        key,
                        value: before,
                        signups_of,
                    });
                }
                continue;
            }
            let visible = match am.get(&obj, key.as_str()) {
                Ok(Some((_, visible))) => visible,
                // Deleted by this void change: what it held before, again.
                Ok(None) if matches!(op.action, automerge::legacy::OpType::Delete) => {
                    if let Some(value) = value_at(am, &obj, key.as_str(), deps) {
                        out.push(crate::model::Restore {
                            obj,
                            key,
                            value: Some(value),
                            signups_of,
                        });
                    }
                    continue;
                }
                _ => continue,
            };
            if !made_by_void(&visible) {
                continue;
            }
            // Back through the voided writes to the value before them.
            let mut at = am
                .hash_for_opid(&visible)
                .and_then(|h| am.get_change_by_hash(&h))
                .map(|c| c.deps().to_vec())
                .unwrap_or_default();
            let value = loop {
                match am.get_at(&obj, key.as_str(), &at) {
                    Ok(Some((_, id))) if made_by_void(&id) => {
                        at = am
                            .hash_for_opid(&id)
                            .and_then(|h| am.get_change_by_hash(&h))
                            .map(|c| c.deps().to_vec())
                            .unwrap_or_default();
                    }
                    Ok(None) => break Some(None),
                    Ok(Some(_)) => break value_at(am, &obj, key.as_str(), &at).map(Some),
                    Err(_) => break None,
                }
            };
            if let Some(value) = value {
                out.push(crate::model::Restore {
                    obj,
                    key,
                    value,
                    signups_of,
                });
            }
        }
    }
    // Under sign-ups only holders are put back: a statement is the
    // attendee's own signed word, never deleted or overwritten (the newest
    // counter stands, so an older one a void change replayed never wins),
    // and nothing there is ever deleted (session_rules.rs).
    out.retain(|w| w.signups_of.is_none() || (w.value.is_some() && !w.key.contains('.')));
    out
}

/// The heads of the document without the void changes and everything
/// written after one: the largest causally closed part of it that none of
/// them touched, where a list can be read as it would be without them.
/// An honest edit made after a void one is not in it; for a list a void
/// change edited, that is the price of reading it without the void edit
/// (automerge cannot drop a change from the middle of a history).
fn clean_heads(doc: &mut SpaceDoc, void: &HashSet<ChangeHash>) -> Vec<ChangeHash> {
    let metas = doc.change_graph();
    let deps: std::collections::HashMap<ChangeHash, &[ChangeHash]> =
        metas.iter().map(|(h, d)| (*h, d.as_slice())).collect();
    // Tainted: void, or after one. Iterative, so a long history cannot
    // overflow the stack.
    let mut tainted: std::collections::HashMap<ChangeHash, bool> = std::collections::HashMap::new();
    for (hash, _) in &metas {
        let mut stack = vec![(*hash, false)];
        while let Some((h, expanded)) = stack.pop() {
            if tainted.contains_key(&h) {
                continue;
            }
            let ds = deps.get(&h).copied().unwrap_or(&[]);
            if void.contains(&h) {
                tainted.insert(h, true);
            } else if expanded {
                let t = ds.iter().any(|d| tainted.get(d).copied().unwrap_or(false));
                tainted.insert(h, t);
            } else {
                stack.push((h, true));
                stack.extend(
                    ds.iter()
                        .filter(|d| !tainted.contains_key(*d))
                        .map(|d| (*d, false)),
                );
            }
        }
    }
    let kept: Vec<&(ChangeHash, Vec<ChangeHash>)> = metas
        .iter()
        .filter(|(h, _)| !tainted.get(h).copied().unwrap_or(true))
        .collect();
    let depended: HashSet<ChangeHash> = kept.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    kept.iter()
        .map(|(h, _)| *h)
        .filter(|h| !depended.contains(h))
        .collect()
}

/// What `key` of `obj` held at `heads`, with everything inside it.
fn value_at(
    am: &automerge::AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    heads: &[ChangeHash],
) -> Option<crate::model::Restored> {
    let (value, id) = am.get_at(obj, key, heads).ok()??;
    contents_at(am, value, &id, heads)
}

fn contents_at(
    am: &automerge::AutoCommit,
    value: Value<'_>,
    id: &automerge::ObjId,
    heads: &[ChangeHash],
) -> Option<crate::model::Restored> {
    use crate::model::Restored;
    Some(match value {
        Value::Scalar(v) => Restored::Scalar(v.into_owned()),
        Value::Object(ObjType::Map) => Restored::Map(
            am.keys_at(id, heads)
                .filter_map(|k| value_at(am, id, &k, heads).map(|v| (k, v)))
                .collect(),
        ),
        Value::Object(ObjType::List) => Restored::List(
            (0..am.length_at(id, heads))
                .filter_map(|i| {
                    let (v, child) = am.get_at(id, i, heads).ok()??;
                    contents_at(am, v, &child, heads)
                })
                .collect(),
        ),
        // Text and tables are not used in a space document.
        _ => return None,
    })
}

/// The devices a new epoch's mailbox admin seed is sealed to (protocol.md
/// §1): the [`key_holders`] whose member is a coordinator now, by a role no
/// void change wrote (an accomplice promoted by a removed coordinator gets
/// no key to delete what the others wrote).
pub fn admin_holders(doc: &mut SpaceDoc) -> Vec<(DeviceId, String)> {
    let holders = key_holders(doc);
    let void = void_changes(doc);
    let mut coordinators: HashSet<DeviceId> = HashSet::new();
    let members = doc.members().unwrap_or_default();
    let am = doc.automerge();
    let members_obj = match am.get(&ROOT, "members") {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    for (id, member) in members {
        if !member.is_active() || member.role != Role::Coordinator {
            continue;
        }
        let from_void = members_obj
            .as_ref()
            .and_then(|m| match am.get(m, id.as_str()) {
                Ok(Some((Value::Object(ObjType::Map), entry))) => am.get(&entry, "role").ok()?,
                _ => None,
            })
            .and_then(|(_, op)| am.hash_for_opid(&op))
            .is_some_and(|written| void.contains(&written));
        if !from_void {
            coordinators.extend(member.devices.into_keys());
        }
    }
    holders
        .into_iter()
        .filter(|(d, _)| coordinators.contains(d))
        .collect()
}

/// Whether the author of `change` held her role there only through a void
/// change: the role value visible at the change's causal point was written
/// by one.
fn role_from_void(
    doc: &SpaceDoc,
    members_obj: &automerge::ObjId,
    change: &ChangeHash,
    void: &HashSet<ChangeHash>,
) -> bool {
    let am = doc.automerge();
    let Some(written) = am.get_change_by_hash(change) else {
        return false;
    };
    let Some(author) = author_of(doc, change) else {
        return false;
    };
    let at = written.deps().to_vec();
    let Ok(Some((Value::Object(ObjType::Map), entry))) =
        am.get_at(members_obj, author.as_str(), &at)
    else {
        return false;
    };
    am.get_at(&entry, "role", &at)
        .ok()
        .flatten()
        .and_then(|(_, op)| am.hash_for_opid(&op))
        .is_some_and(|granted| void.contains(&granted))
}

/// Whether `member` acts as a coordinator at `change`: an active
/// coordinator in the state right after it; not removed by any change that
/// is not causally after it; and holding that role (and her membership) by
/// changes that grant something ([`void_changes`]): removal wins over
/// anything concurrent, also over what a removed coordinator granted.
pub fn coordinator_at(doc: &mut SpaceDoc, member: &MemberId, change: &ChangeHash) -> bool {
    let at = std::slice::from_ref(change);
    if !matches!(
        role_at(doc.automerge(), member, Some(at)),
        Ok(Role::Coordinator)
    ) {
        return false;
    }
    let removed_after = removals(doc)
        .into_iter()
        .filter(|r| &r.member == member && r.device.is_none())
        .all(|r| r.change != *change && is_before(doc, change, &[r.change]));
    if !removed_after {
        return false;
    }
    let void = void_changes(doc);
    if void.is_empty() {
        return true;
    }
    let am = doc.automerge();
    let entry = match am.get_at(&ROOT, "members", at) {
        Ok(Some((Value::Object(ObjType::Map), members))) => {
            match am.get_at(&members, member.as_str(), at) {
                Ok(Some((Value::Object(ObjType::Map), entry))) => {
                    am.hash_for_opid(&entry).map(|made| (made, entry))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let Some((made, entry)) = entry else {
        return false;
    };
    if void.contains(&made) {
        return false;
    }
    // Every value of the role there must have been granted by a change that
    // counts: a promotion by a removed coordinator does not.
    am.get_all_at(&entry, "role", at)
        .map(|values| {
            values
                .iter()
                .all(|(_, op)| am.hash_for_opid(op).is_some_and(|c| !void.contains(&c)))
        })
        .unwrap_or(false)
}

#[cfg(test)]
#[path = "removal_tests.rs"]
mod tests;
