//! A device's keys as a space lists them (`members/<id>/devices/<device>`:
//! an age X25519 recipient, an Ed25519 signing key, and a binding), and
//! what the protocol does with them in one place:
//!
//! - parsing them: [`verifying_key`], [`age_recipient`], and whether a
//!   field of an entry parses at all (`device_field_parses`, for the
//!   authorship rules);
//! - binding them to the device: [`bind_device`], [`verify_binding`], the
//!   proof of possession every listing carries;
//! - which member a device writes as, now or at a causal point
//!   ([`member_of_device`]), and the key that checks its signatures
//!   ([`device_key`]);
//! - the recipients to seal to devices: [`recipients`] (all or none) and
//!   [`usable_recipients`] (skipping any that does not parse), used by
//!   invites, handovers, key and admin grants and journal epochs.

use std::str::FromStr;

use automerge::{AutoCommit, ChangeHash, ROOT, ReadDoc, ScalarValue, Value};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::error::{AuthorshipError, InviteError};
use super::state_at::{child_at, device_removed_at, get_in, role_at};
use crate::model::space::{DeviceListing, DeviceListings, DeviceLookup, LookupAnswer};
use crate::model::{DeviceId, DeviceKeys, MemberId, Role, SpaceDoc};

const BINDING_CONTEXT: &[u8] = b"safespaces/v2/device-binding";

/// A device's (or an invite's) Ed25519 verifying key as a space document
/// lists it: 64 hex digits. `None` for anything else.
pub fn verifying_key(hex_text: &str) -> Option<VerifyingKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut key).ok()?;
    VerifyingKey::from_bytes(&key).ok()
}

/// A device's age X25519 recipient as a space document lists it.
pub fn age_recipient(text: &str) -> Option<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(text).ok()
}

/// An Ed25519 signature as documents carry it: 128 hex digits.
pub(crate) fn decode_signature(hex_text: &str) -> Option<Signature> {
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(hex_text, &mut bytes).ok()?;
    Some(Signature::from_bytes(&bytes))
}

/// Whether `value` parses as what the device entry's `field` holds, with
/// the parsers every reader uses: an age X25519 recipient
/// ([`age_recipient`]), an Ed25519 key that is a valid point
/// ([`verifying_key`]), a 64-byte signature ([`decode_signature`], checked
/// against the keys only where the binding is verified). Any other field
/// is not part of a device entry.
pub(crate) fn device_field_parses(field: &str, value: &str) -> bool {
    match field {
        "age_recipient" => age_recipient(value).is_some(),
        "signing_key" => verifying_key(value).is_some(),
        "binding" => decode_signature(value).is_some(),
        _ => false,
    }
}

/// The bytes a protocol signature covers: a context string, then each
/// field after a NUL, so no field can be shifted into another.
pub(crate) fn framed(context: &[u8], parts: &[&str]) -> Vec<u8> {
    let mut m = context.to_vec();
    for part in parts {
        m.push(0);
        m.extend_from_slice(part.as_bytes());
    }
    m
}

/// What a device binding signs: the device id and both its keys.
fn binding_message(device: &DeviceId, keys: &DeviceKeys) -> Vec<u8> {
    framed(
        BINDING_CONTEXT,
        &[device.as_str(), &keys.age_recipient, &keys.signing_key],
    )
}

/// A device's signature, made with its own signing key, over its id and
/// keys: proof of possession, so nobody can list a key they do not hold (or
/// another device's key under a new id) as a device. Which member a device
/// belongs to is the writer's to say, under the permission rules, and a
/// device id belongs to one member for the life of a space. Hex.
pub fn bind_device(device: &DeviceId, keys: &DeviceKeys, signer: &SigningKey) -> String {
    hex::encode(signer.sign(&binding_message(device, keys)).to_bytes())
}

/// Checks a device binding ([`bind_device`]) under the signing key the
/// entry itself lists: only the holder of that key could have made it.
pub fn verify_binding(device: &DeviceId, keys: &DeviceKeys) -> Result<(), InviteError> {
    let key = verifying_key(&keys.signing_key).ok_or(InviteError::BadProof)?;
    let binding = keys
        .binding
        .as_deref()
        .and_then(decode_signature)
        .ok_or(InviteError::BadProof)?;
    key.verify(&binding_message(device, keys), &binding)
        .map_err(|_| InviteError::BadProof)
}

/// Every device recipient in `list`, refusing the whole list if one does
/// not parse: a message for a named set of devices (a join request to the
/// inviter's devices) must reach all of them or none.
pub fn recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>, InviteError> {
    list.iter()
        .map(|r| age::x25519::Recipient::from_str(r).map_err(|_| InviteError::Undecryptable))
        .collect()
}

/// The devices of `list` (id and age recipient) whose recipient parses,
/// with their recipients, in order. A device with a bad recipient is
/// skipped rather than refused: one bad entry must not keep everyone else
/// from a new key (handovers, key and admin grants, journal epochs).
pub fn usable_recipients<'a>(
    list: impl IntoIterator<Item = &'a (DeviceId, String)>,
) -> (Vec<DeviceId>, Vec<age::x25519::Recipient>) {
    list.into_iter()
        .filter_map(|(device, recipient)| Some((device.clone(), age_recipient(recipient)?)))
        .unzip()
}

/// The Ed25519 key a space document records for a device of one of its
/// members, if any.
pub fn device_key(doc: &SpaceDoc, device: &DeviceId) -> Option<VerifyingKey> {
    let answer = doc.remembered(DeviceLookup::SigningKey, device, || {
        LookupAnswer::SigningKey(member_of_device(doc, device).and_then(|member| {
            Some(
                doc.member(&member)
                    .ok()?
                    .devices
                    .get(device)?
                    .signing_key
                    .clone(),
            )
        }))
    });
    match answer {
        LookupAnswer::SigningKey(Some(key)) => verifying_key(&key),
        _ => None,
    }
}

/// The member a device writes as in the document's current state
/// ([`member_of_device_at`]), remembered by the document until its member
/// list may have changed.
pub fn member_of_device(doc: &SpaceDoc, device: &DeviceId) -> Option<MemberId> {
    let answer = doc.remembered(DeviceLookup::Member, device, || {
        let listings = current_listings(doc);
        let listed = listings.get(device).map_or(&[][..], Vec::as_slice);
        LookupAnswer::Member(member_of_listings(doc.automerge(), listed, None))
    });
    match answer {
        LookupAnswer::Member(member) => member,
        _ => None,
    }
}

/// Whether the entry of the member `device` writes as now marks it
/// removed ([`device_removed_at`] in the current state), remembered by the
/// document like [`member_of_device`].
pub(crate) fn device_removed_now(doc: &SpaceDoc, device: &DeviceId) -> bool {
    let answer = doc.remembered(DeviceLookup::Removed, device, || {
        LookupAnswer::Removed(
            member_of_device(doc, device)
                .is_some_and(|member| device_removed_at(doc.automerge(), &member, device, None)),
        )
    });
    matches!(answer, LookupAnswer::Removed(true))
}

/// The role, in the current state, of the member `device` writes as now
/// ([`role_at`]), remembered by the document like [`member_of_device`].
pub(crate) fn role_of_device_now(
    doc: &SpaceDoc,
    device: &DeviceId,
) -> Result<Role, AuthorshipError> {
    let answer = doc.remembered(DeviceLookup::Role, device, || {
        LookupAnswer::Role(
            member_of_device(doc, device)
                .and_then(|member| role_at(doc.automerge(), &member, None).ok()),
        )
    });
    match answer {
        LookupAnswer::Role(Some(role)) => Ok(role),
        _ => Err(AuthorshipError::NotAMember),
    }
}

/// The member `device` writes as at `heads` (the current state for `None`).
///
/// A device id may be listed under several members over the life of a
/// space (a person who left, or was removed, and was admitted again from
/// the same device), but under at most one *active* member at any causal
/// point (`check_member_structure`), always with the same keys. So the
/// device writes as the member whose entry is active there; where none is,
/// as the one it is listed under (then every check refuses it as not a
/// member). Listings that disagree on the device's keys, or two active
/// ones (concurrent additions), belong to nobody: one is a capture
/// attempt, and no replica may guess which.
pub(crate) fn member_of_device_at(
    am: &AutoCommit,
    device: &DeviceId,
    heads: Option<&[ChangeHash]>,
) -> Option<MemberId> {
    member_of_listings(am, &listings_at(am, device.as_str(), heads), heads)
}

/// [`member_of_device_at`] over the device's listings at `heads`.
fn member_of_listings(
    am: &AutoCommit,
    listings: &[DeviceListing],
    heads: Option<&[ChangeHash]>,
) -> Option<MemberId> {
    let first = listings.first()?;
    if listings.iter().any(|l| l.keys != first.keys) {
        return None;
    }
    let mut active = listings
        .iter()
        .filter(|l| role_at(am, &l.member, heads).is_ok());
    match (active.next(), active.next()) {
        (Some(one), None) => Some(one.member.clone()),
        (Some(_), Some(_)) => None,
        (None, _) => Some(first.member.clone()),
    }
}

/// Whether `device` is listed under more than one member in the current
/// state: only then can the member it writes as differ between causal
/// points (entries are never deleted, so a single listing now is the only
/// one there ever was).
pub(crate) fn listed_again(doc: &SpaceDoc, device: &DeviceId) -> bool {
    current_listings(doc)
        .get(device)
        .is_some_and(|listed| listed.len() > 1)
}

/// Whether `change` (in `doc`) was written as `member`: its actor's device
/// wrote as her at the change's causal point (its dependencies). A removal
/// voids what her devices wrote as her, never what one of them wrote later
/// as the member it was admitted again as.
pub(crate) fn written_as(doc: &SpaceDoc, change: &ChangeHash, member: &MemberId) -> bool {
    let am = doc.automerge();
    let Some(c) = am.get_change_by_hash(change) else {
        return false;
    };
    let device = DeviceId::from(hex::encode(c.actor_id().to_bytes()));
    if !listed_again(doc, &device) {
        return member_of_device(doc, &device).as_ref() == Some(member);
    }
    member_of_device_at(am, &device, Some(c.deps())).as_ref() == Some(member)
}

/// The member who wrote `change`, resolved at its causal point
/// ([`member_of_device_at`]).
pub(crate) fn author_of(doc: &SpaceDoc, change: &ChangeHash) -> Option<MemberId> {
    let am = doc.automerge();
    let c = am.get_change_by_hash(change)?;
    let device = DeviceId::from(hex::encode(c.actor_id().to_bytes()));
    if !listed_again(doc, &device) {
        return member_of_device(doc, &device);
    }
    member_of_device_at(am, &device, Some(c.deps()))
}

/// Every member entry that lists `device` at `heads`, by member id.
pub(crate) fn listings_at(
    am: &AutoCommit,
    device: &str,
    heads: Option<&[ChangeHash]>,
) -> Vec<DeviceListing> {
    collect_listings(am, Some(device), heads)
        .into_values()
        .next()
        .unwrap_or_default()
}

/// Every device's listings in the current state, remembered by the
/// document: one walk over the member list serves every author of a burst
/// (each walked it alone before, for every author a device heard from).
fn current_listings(doc: &SpaceDoc) -> std::sync::Arc<DeviceListings> {
    doc.remembered_listings(|| collect_listings(doc.automerge(), None, None))
}

/// The listings at `heads` of `device`, or of every device for `None`.
fn collect_listings(
    am: &AutoCommit,
    device: Option<&str>,
    heads: Option<&[ChangeHash]>,
) -> DeviceListings {
    let mut out = DeviceListings::new();
    let Some(members) = child_at(am, &ROOT, "members", heads) else {
        return out;
    };
    let keys = |obj: &automerge::ObjId| -> Vec<String> {
        match heads {
            Some(h) => am.keys_at(obj, h).collect(),
            None => am.keys(obj).collect(),
        }
    };
    let text = |obj: &automerge::ObjId, key: &str| match get_in(am, obj, key, heads) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    };
    // Member ids in key order, so each device's listings are too.
    for id in keys(&members) {
        let Some(devices) =
            child_at(am, &members, &id, heads).and_then(|m| child_at(am, &m, "devices", heads))
        else {
            continue;
        };
        let listed = match device {
            Some(device) => vec![device.to_string()],
            None => keys(&devices),
        };
        for name in listed {
            let Some(entry) = child_at(am, &devices, &name, heads) else {
                continue;
            };
            out.entry(DeviceId::from(name))
                .or_default()
                .push(DeviceListing {
                    member: MemberId::from(id.clone()),
                    keys: (text(&entry, "signing_key"), text(&entry, "age_recipient")),
                });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The check the authorship rules made by hand before they used the
    /// parsers above: what a replica accepts must not move.
    fn by_hand(field: &str, value: &str) -> bool {
        match field {
            "age_recipient" => age::x25519::Recipient::from_str(value).is_ok(),
            "binding" => value.len() == 128 && hex::decode(value).is_ok(),
            "signing_key" => {
                let mut key = [0u8; 32];
                hex::decode_to_slice(value, &mut key).is_ok()
                    && VerifyingKey::from_bytes(&key).is_ok()
            }
            _ => false,
        }
    }

    const FIELDS: [&str; 4] = ["age_recipient", "binding", "signing_key", "name"];

    #[test]
    fn device_fields_parse_as_the_authorship_rules_accepted_them() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let key = hex::encode(signer.verifying_key().to_bytes());
        let signature = hex::encode(signer.sign(b"m").to_bytes());
        // A y coordinate that is no point on the curve.
        let off_curve = format!("02{}", "00".repeat(31));
        let values = [
            String::new(),
            recipient.clone(),
            recipient.to_uppercase(),
            format!("{recipient} "),
            key.clone(),
            key.to_uppercase(),
            key[..62].to_string(),
            format!("{key}00"),
            off_curve,
            signature.clone(),
            signature.to_uppercase(),
            signature[..127].to_string(),
            format!("{signature}0"),
            format!("{}zz", &signature[..126]),
            format!("{}é", &signature[..126]),
            "00".repeat(64),
        ];
        for field in FIELDS {
            for value in &values {
                assert_eq!(
                    device_field_parses(field, value),
                    by_hand(field, value),
                    "{field} = {value:?}"
                );
            }
        }
        assert!(device_field_parses("age_recipient", &recipient));
        assert!(device_field_parses("signing_key", &key));
        assert!(device_field_parses("binding", &signature));
    }

    proptest! {
        #[test]
        fn any_text_parses_as_the_authorship_rules_accepted_it(
            field in prop::sample::select(FIELDS.to_vec()),
            value in "[0-9a-fA-Fg-z1 é]{0,130}",
        ) {
            prop_assert_eq!(device_field_parses(field, &value), by_hand(field, &value));
        }
    }
}
