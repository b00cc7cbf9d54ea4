//! Admissions and revocations: the only changes that use an invite
//! (protocol.md §5).
//!
//! A joiner never writes to the space. The inviter's device, holding the
//! joiner's request, writes one change that creates the member (the
//! invite's role, one device with its keys and binding), and sets the
//! invite's `used_by` and `proof`. Every receiver checks that change here,
//! from its operations and the document at its causal point, before it
//! applies anything: so one invite admits one joiner, only its creator
//! admits, only while she may still invite, and the joiner's keys are the
//! ones the joiner signed for, not ones the inviter chose.
//!
//! Any change that writes an invite's `used_by` is checked as an admission,
//! whoever wrote it; the rest of an invite is written only with the invite
//! itself, except `revoked_at`, which the creator (or a coordinator) writes
//! while the invite is unused.

use std::collections::HashMap;

use automerge::legacy::{Op, OpType};
use automerge::{AutoCommit, ChangeHash, ObjType, ScalarValue, Value};

use super::error::AuthorshipError;
use super::state_at::{any_set, get_in, invite_at};
use crate::model::{DeviceId, DeviceKeys, MemberId, Role};

/// Whether a change is an admission: it sets some invite's `used_by`
/// (recording an invite writes it as null).
pub(crate) fn is_admission(ops: &[Op], paths: &[Vec<String>]) -> bool {
    ops.iter().zip(paths).any(|(op, p)| {
        matches!(p.as_slice(), [i, _, f] if i == "invites" && f == "used_by")
            && !matches!(op.action, OpType::Put(ScalarValue::Null))
    })
}

/// Checks one write under `invites` outside an admission: an invite map is
/// made once; its fields are written only with it (`created_by` the author,
/// `used_by`, `proof` and `revoked_at` null); afterwards only `revoked_at`
/// is written, by [`check_revocation`]'s rule.
pub(crate) fn check_invite_write(
    am: &AutoCommit,
    author: &MemberId,
    author_role: Role,
    view: Option<&[ChangeHash]>,
    op: &Op,
    path: &[String],
    in_batch: bool,
) -> Result<(), AuthorshipError> {
    let refuse = || AuthorshipError::NotPermitted {
        role: author_role.as_str(),
        path: path.join("/"),
    };
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["invites", id] => {
            let exists = invite_at(am, id, view).is_some();
            if matches!(op.action, OpType::Make(ObjType::Map)) && !exists {
                Ok(())
            } else {
                Err(refuse())
            }
        }
        ["invites", _, field] if in_batch => {
            let ok = match (*field, &op.action) {
                ("role" | "verifying_key", OpType::Put(ScalarValue::Str(_))) => true,
                ("expires_at", OpType::Put(ScalarValue::Int(_))) => true,
                ("created_by", OpType::Put(ScalarValue::Str(s))) => s.as_str() == author.as_str(),
                ("used_by" | "proof" | "revoked_at", OpType::Put(ScalarValue::Null)) => true,
                _ => false,
            };
            if ok { Ok(()) } else { Err(refuse()) }
        }
        ["invites", id, "revoked_at"] => {
            check_revocation(am, author, author_role, view, id, &op.action)
        }
        _ => Err(refuse()),
    }
}

/// The values an admission writes, gathered from its operations.
#[derive(Default)]
struct Written {
    member: Option<String>,
    device: Option<String>,
    invite: Option<String>,
    member_fields: HashMap<String, ScalarValue>,
    device_fields: HashMap<String, ScalarValue>,
    invite_fields: HashMap<String, ScalarValue>,
}

fn slot(seen: &mut Option<String>, value: &str) -> bool {
    match seen {
        Some(existing) => existing == value,
        None => {
            *seen = Some(value.to_string());
            true
        }
    }
}

fn text(v: Option<&ScalarValue>) -> Option<&str> {
    match v {
        Some(ScalarValue::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn int(v: Option<&ScalarValue>) -> Option<i64> {
    match v {
        Some(ScalarValue::Int(i)) => Some(*i),
        Some(ScalarValue::Uint(u)) => i64::try_from(*u).ok(),
        _ => None,
    }
}

/// Checks one change that writes an invite's `used_by`: it must be exactly
/// an admission of one new member with one device, by a device of the
/// invite's creator while she may still invite, of an invite that is
/// unused and not withdrawn at the change's causal point, with the invite's
/// role, joined before its recorded expiry, with a proof that verifies
/// under the invite's recorded key and a binding that verifies under the
/// new device's own key.
pub(crate) fn check_admission(
    am: &AutoCommit,
    author: &MemberId,
    author_role: Role,
    view: Option<&[ChangeHash]>,
    ops: &[Op],
    paths: &[Vec<String>],
) -> Result<(), AuthorshipError> {
    let refuse = |path: &[String]| AuthorshipError::NotPermitted {
        role: "inviter",
        path: path.join("/"),
    };
    let mut w = Written::default();
    for (op, path) in ops.iter().zip(paths) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let value = match &op.action {
            OpType::Put(v) => Some(v.clone()),
            _ => None,
        };
        let makes_map = matches!(op.action, OpType::Make(ObjType::Map));
        let ok = match (p.as_slice(), value) {
            (["members", m], None) => makes_map && slot(&mut w.member, m),
            (["members", m, "devices"], None) => makes_map && slot(&mut w.member, m),
            (["members", m, "devices", d], None) => {
                makes_map && slot(&mut w.member, m) && slot(&mut w.device, d)
            }
            (["members", m, f], Some(v))
                if matches!(
                    *f,
                    "pseudonym" | "role" | "joined_at" | "removed_at" | "invite"
                ) =>
            {
                slot(&mut w.member, m) && w.member_fields.insert(f.to_string(), v).is_none()
            }
            (["members", m, "devices", d, f], Some(v))
                if matches!(*f, "age_recipient" | "signing_key" | "binding") =>
            {
                slot(&mut w.member, m)
                    && slot(&mut w.device, d)
                    && w.device_fields.insert(f.to_string(), v).is_none()
            }
            (["invites", i, f], Some(v)) if matches!(*f, "used_by" | "proof") => {
                slot(&mut w.invite, i) && w.invite_fields.insert(f.to_string(), v).is_none()
            }
            _ => false,
        };
        if !ok {
            return Err(refuse(path));
        }
    }
    let (Some(member), Some(device), Some(invite_id)) = (w.member, w.device, w.invite) else {
        return Err(refuse(&[
            "(an admission adds one member with one device)".into()
        ]));
    };
    let at_invite = |field: &str| -> Option<ScalarValue> {
        let invite = invite_at(am, &invite_id, view)?;
        match get_in(am, &invite, field, view) {
            Ok(Some((Value::Scalar(v), _))) => Some(v.into_owned()),
            _ => None,
        }
    };
    let invite_path = || vec!["invites".to_string(), invite_id.clone()];
    // The invite as recorded at the causal point.
    let role = text(at_invite("role").as_ref())
        .and_then(Role::from_name)
        .ok_or_else(|| refuse(&invite_path()))?;
    let expires_at = int(at_invite("expires_at").as_ref()).ok_or_else(|| refuse(&invite_path()))?;
    let created_by = at_invite("created_by");
    let verifying_key = at_invite("verifying_key");
    if text(created_by.as_ref()) != Some(author.as_str()) {
        return Err(refuse(&invite_path()));
    }
    if invite_taken(am, &invite_id, view) {
        return Err(AuthorshipError::InviteUsed);
    }
    // Its creator may still issue it: a removed member's codes, and a
    // demoted lead's for other roles, are dead.
    let may_invite = author_role.at_least(Role::Lead)
        && (role == Role::Member || author_role.at_least(Role::Coordinator));
    if !may_invite {
        return Err(refuse(&invite_path()));
    }
    let member_path = || vec!["members".to_string(), member.clone()];
    let f = |k: &str| w.member_fields.get(k);
    let pseudonym = text(f("pseudonym")).unwrap_or("");
    let joined_at = int(f("joined_at"));
    if text(f("role")).and_then(Role::from_name) != Some(role)
        || text(f("invite")) != Some(invite_id.as_str())
        || !matches!(f("removed_at"), Some(ScalarValue::Null))
        || pseudonym.trim().is_empty()
        || pseudonym.chars().count() > 64
        || joined_at.is_none_or(|j| j >= expires_at)
        || text(w.invite_fields.get("used_by")) != Some(member.as_str())
    {
        return Err(refuse(&member_path()));
    }
    let d = |k: &str| text(w.device_fields.get(k)).map(str::to_string);
    let (Some(age_recipient), Some(signing_key)) = (d("age_recipient"), d("signing_key")) else {
        return Err(refuse(&member_path()));
    };
    let keys = DeviceKeys {
        age_recipient,
        signing_key,
        binding: d("binding"),
    };
    let (member, device) = (MemberId::from(member), DeviceId::from(device));
    let proof = text(w.invite_fields.get("proof")).ok_or(AuthorshipError::BadProof)?;
    let verifying_key = text(verifying_key.as_ref()).ok_or(AuthorshipError::BadProof)?;
    super::invite::verify_join(verifying_key, &invite_id, &member, &device, &keys, proof)
        .map_err(|_| AuthorshipError::BadProof)?;
    super::invite::verify_binding(&device, &keys).map_err(|_| AuthorshipError::BadProof)
}

/// Checks a write of an invite's `revoked_at`: by its creator or a
/// coordinator, to a timestamp, while the invite is unused at the causal
/// point (a used invite cannot be withdrawn, which would remove its
/// member).
pub(crate) fn check_revocation(
    am: &AutoCommit,
    author: &MemberId,
    author_role: Role,
    view: Option<&[ChangeHash]>,
    invite_id: &str,
    action: &OpType,
) -> Result<(), AuthorshipError> {
    let refuse = || AuthorshipError::NotPermitted {
        role: author_role.as_str(),
        path: format!("invites/{invite_id}/revoked_at"),
    };
    if !matches!(action, OpType::Put(ScalarValue::Int(_))) {
        return Err(refuse());
    }
    let invite = invite_at(am, invite_id, view).ok_or_else(refuse)?;
    let creator = match get_in(am, &invite, "created_by", view) {
        Ok(Some((Value::Scalar(v), _))) => text(Some(&v)).map(str::to_string),
        _ => None,
    };
    if creator.as_deref() != Some(author.as_str()) && !author_role.at_least(Role::Coordinator) {
        return Err(refuse());
    }
    if invite_taken(am, invite_id, view) {
        return Err(AuthorshipError::InviteUsed);
    }
    Ok(())
}

/// Whether the invite was used at `view`: any value of its `used_by` set.
fn invite_taken(am: &AutoCommit, invite_id: &str, view: Option<&[ChangeHash]>) -> bool {
    invite_at(am, invite_id, view).is_some_and(|invite| any_set(am, &invite, "used_by", view))
}

/// Checks that every device entry a change makes carries its binding: the
/// device's own signature over its id and keys
/// (`protocol::invite::bind_device`), so nobody lists a key they do not
/// hold, or another device's key, as a device of the space.
pub(crate) fn check_device_bindings(
    ops: &[Op],
    paths: &[Vec<String>],
) -> Result<(), AuthorshipError> {
    let mut made: Vec<&str> = Vec::new();
    let mut fields: HashMap<(&str, &str), &str> = HashMap::new();
    for (op, path) in ops.iter().zip(paths) {
        let is_device = path.len() >= 4 && path[0] == "members" && path[2] == "devices";
        match (path.len(), &op.action) {
            (4, OpType::Make(ObjType::Map)) if is_device => made.push(path[3].as_str()),
            (5, OpType::Put(ScalarValue::Str(v))) if is_device => {
                fields.insert((path[3].as_str(), path[4].as_str()), v.as_str());
            }
            _ => {}
        }
    }
    for device in made {
        let get = |f: &str| fields.get(&(device, f)).map(|v| v.to_string());
        let keys = DeviceKeys {
            age_recipient: get("age_recipient").unwrap_or_default(),
            signing_key: get("signing_key").unwrap_or_default(),
            binding: get("binding"),
        };
        super::invite::verify_binding(&DeviceId::from(device.to_string()), &keys).map_err(
            |_| AuthorshipError::NotPermitted {
                role: "anyone",
                path: format!("members/…/devices/{device} (not signed by the device's own key)"),
            },
        )?;
    }
    Ok(())
}
