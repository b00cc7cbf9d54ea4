//! Reading a space document as it was at a causal point (`heads`), or in
//! its current state (`None`, much cheaper): what the authorship,
//! admission, session and removal checks read before they judge a change.
//! Values that lost a concurrent write count where a rule says they must
//! (a removal, a use, a revocation cannot be written over).

use std::collections::HashMap;

use automerge::{AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::error::AuthorshipError;
use crate::model::{DeviceId, MemberId, Role};

/// Reads `key` of `obj` at `heads`, or in the current state when `heads` is
/// `None`. Reading the current state is much cheaper (automerge need not
/// rebuild a historical view), and exact whenever a change's causal point is
/// the document's current heads, which is the usual case when a device
/// catches up in order.
pub(crate) fn get_in(
    am: &AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Result<Option<(Value<'static>, automerge::ObjId)>, automerge::AutomergeError> {
    let got = match heads {
        Some(heads) => am.get_at(obj, key, heads)?,
        None => am.get(obj, key)?,
    };
    Ok(got.map(|(v, id)| (v.into_owned(), id)))
}

/// The child map `key` of `parent` at `heads`, if there is one.
pub(crate) fn child_at(
    am: &AutoCommit,
    parent: &automerge::ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<automerge::ObjId> {
    match get_in(am, parent, key, heads) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// The entry `members/<member>` at `heads`, if there is one.
pub(crate) fn member_map_at(
    am: &AutoCommit,
    member: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<automerge::ObjId> {
    child_at(am, &ROOT, "members", heads).and_then(|m| child_at(am, &m, member, heads))
}

/// Whether any value of `key` in `obj` at `heads` is set (not null), also
/// one that lost a concurrent write: a removal, a use or a revocation
/// cannot be written over.
pub(crate) fn any_set(
    am: &AutoCommit,
    obj: &automerge::ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> bool {
    match heads {
        Some(heads) => am.get_all_at(obj, key, heads),
        None => am.get_all(obj, key),
    }
    .is_ok_and(|values| {
        values.into_iter().any(
            |(v, _)| !matches!(v, Value::Scalar(ref s) if matches!(s.as_ref(), ScalarValue::Null)),
        )
    })
}

/// The invite map `invites/<id>` at `heads`, if there is one.
pub(crate) fn invite_at(
    am: &AutoCommit,
    id: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<automerge::ObjId> {
    child_at(am, &ROOT, "invites", heads).and_then(|i| child_at(am, &i, id, heads))
}

/// The member's role at `heads`, refusing if they were not an active member.
/// Any value of `removed_at` that is not null counts, also one that lost a
/// concurrent write: a removal cannot be written over.
pub(crate) fn role_at(
    am: &AutoCommit,
    member: &MemberId,
    heads: Option<&[ChangeHash]>,
) -> Result<Role, AuthorshipError> {
    let map = |parent: &automerge::ObjId, key: &str| match get_in(am, parent, key, heads) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    let members = map(&ROOT, "members").ok_or(AuthorshipError::NotAMember)?;
    let me = map(&members, member.as_str()).ok_or(AuthorshipError::NotAMember)?;
    if any_set(am, &me, "removed_at", heads) {
        return Err(AuthorshipError::NotAMember);
    }
    // A joiner is a member only if her invite's `used_by` shows her: of
    // concurrent joins with one invite, one wins on every replica; and a
    // revocation concurrent with the admission wins.
    if let Ok(Some((Value::Scalar(v), _))) = get_in(am, &me, "invite", heads) {
        if let ScalarValue::Str(invite) = v.as_ref() {
            let invite = invite_at(am, invite.as_str(), heads);
            let used_by = invite
                .as_ref()
                .and_then(|i| match get_in(am, i, "used_by", heads) {
                    Ok(Some((Value::Scalar(u), _))) => match u.as_ref() {
                        ScalarValue::Str(u) => Some(u.to_string()),
                        _ => None,
                    },
                    _ => None,
                });
            let revoked = invite.is_some_and(|i| any_set(am, &i, "revoked_at", heads));
            if used_by.as_deref() != Some(member.as_str()) || revoked {
                return Err(AuthorshipError::NotAMember);
            }
        }
    }
    match get_in(am, &me, "role", heads) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Role::from_name(s).ok_or(AuthorshipError::NotAMember),
            _ => Err(AuthorshipError::NotAMember),
        },
        _ => Err(AuthorshipError::NotAMember),
    }
}

/// Whether `member`'s entry records `device` as removed at `heads` (any
/// value, also one that lost a concurrent write).
pub(crate) fn device_removed_at(
    am: &AutoCommit,
    member: &MemberId,
    device: &DeviceId,
    heads: Option<&[ChangeHash]>,
) -> bool {
    member_map_at(am, member.as_str(), heads).is_some_and(|m| {
        any_set(
            am,
            &m,
            &crate::model::member::removed_device_key(device),
            heads,
        )
    })
}

/// Whether `obj` was made earlier in the batch being checked.
pub(crate) fn made_in_batch(
    created: &HashMap<String, Vec<String>>,
    obj: &automerge::legacy::ObjectId,
) -> bool {
    object_key(obj).is_some_and(|key| created.contains_key(&key))
}

/// An object's id in automerge's text form (`<counter>@<actor hex>`), the
/// key of the checks' maps of objects made and paths resolved; `None` for
/// the root.
pub(crate) fn object_key(obj: &automerge::legacy::ObjectId) -> Option<String> {
    match obj {
        automerge::legacy::ObjectId::Root => None,
        automerge::legacy::ObjectId::Id(id) => Some(format!("{}@{}", id.0, id.1.to_hex_string())),
    }
}
