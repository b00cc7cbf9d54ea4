//! Epoch rotation: how a removal or a departure locks someone out
//! (protocol.md §6).
//!
//! A coordinator's device answers a removal by drawing the next epoch's key
//! and sealing it, in one standard age file, to the X25519 recipient of
//! **every device of every remaining active member**. That file, with the
//! list of devices it covers, the epoch it leaves, the removal it answers and
//! the state it was made at (its *cut*), is the *handover*. A device that is
//! not in the list cannot open it; everything of the new epoch (content key,
//! mailbox, relay credential) derives from the new key, so the removed device
//! can neither read nor find what comes after.
//!
//! Who may hand over is decided by every receiver on its own
//! ([`super::removal::check_handover`]): only a device of a coordinator who
//! was active at the removal it answers, for a removal the current epoch has
//! not answered yet, one epoch at a time. Concurrent handovers for the same
//! epoch are settled by [`Handover::prefer`]: every device keeps the same one.

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use super::devices::{member_of_device_at, usable_recipients};
use super::epoch::{AdminKey, AdminSeed, EpochKey};
pub use super::error::RotationError;
use super::removal::{coordinator_at, is_before, removals};
use crate::crypto::{DeviceSealError, open_as_device, seal_to_devices};
use crate::model::{DeviceId, MemberId, SpaceDoc};

/// A new epoch's key, sealed to the remaining devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// The epoch it leaves; it hands over to the next one, never further.
    pub from_epoch: u32,
    /// The removal (or departure) change it answers.
    pub answers: ChangeHash,
    /// [`key_commitment`] of the new key: a device the handover missed
    /// (added concurrently with its cut) checks a key granted to it later
    /// ([`super::key_grant::KeyGrant`]) against it, so a grant needs no
    /// trust in whoever re-sealed it.
    pub key_commitment: [u8; 32],
    /// The document heads it was made at: what its recipients were chosen
    /// from. Every removal causally before the cut is answered by it.
    pub cut: Vec<ChangeHash>,
    /// The public admin key of the new epoch's mailbox: with the key it
    /// names the mailbox (protocol.md §1).
    pub admin_key: AdminKey,
    /// Every device that can open it.
    pub recipients: Vec<DeviceId>,
    /// The age file (X25519 recipients) holding the 32-byte key.
    pub sealed_key: Vec<u8>,
    /// The coordinators' devices the admin seed is sealed to
    /// ([`super::removal::admin_holders`]).
    pub admin_recipients: Vec<DeviceId>,
    /// The age file holding the new mailbox's admin seed (empty if no
    /// recipient could be sealed to).
    pub sealed_admin: Vec<u8>,
}

const HASH_LEN: usize = 32;

impl Handover {
    /// Seals `key` for the epoch after `from_epoch` to every device of every
    /// active member of `doc` that no removed member added after her removal
    /// ([`super::removal::key_holders`]), answering the removal `answers`
    /// (which `doc` must already hold, so the removed member is not
    /// active). A device
    /// whose recorded age recipient does not parse is skipped, never fatal:
    /// one bad entry must not keep everyone else in an epoch a removed
    /// member can read.
    pub fn create(
        doc: &mut SpaceDoc,
        from_epoch: u32,
        answers: ChangeHash,
        key: &EpochKey,
        admin: &AdminSeed,
    ) -> Result<Self, RotationError> {
        if from_epoch.checked_add(1).is_none() {
            return Err(RotationError::LastEpoch(from_epoch));
        }
        let (recipients, age_recipients) = usable_recipients(&super::removal::key_holders(doc));
        if age_recipients.is_empty() {
            return Err(RotationError::NobodyLeft);
        }
        let sealed_key =
            seal_to_devices(&age_recipients, key.expose_bytes()).map_err(|e| match e {
                DeviceSealError::NoRecipients => RotationError::NobodyLeft,
                other => RotationError::Malformed(other.to_string()),
            })?;
        let (admin_recipients, sealed_admin) =
            seal_admin_seed(admin, &super::removal::admin_holders(doc))?;
        Ok(Handover {
            from_epoch,
            answers,
            key_commitment: key_commitment(key),
            cut: doc.heads(),
            admin_key: admin.public(),
            recipients,
            sealed_key,
            admin_recipients,
            sealed_admin,
        })
    }

    /// Opens the new mailbox's admin seed, on a coordinator's device it was
    /// sealed to; `None` anywhere else, or if what it holds does not sign
    /// for [`Handover::admin_key`] (then this device cannot compact, and
    /// nothing else changes).
    pub fn open_admin(&self, identity: &age::x25519::Identity) -> Option<AdminSeed> {
        open_admin_seed(identity, &self.sealed_admin, &self.admin_key)
    }

    /// The epoch this hands over to: always the one after the epoch it
    /// leaves (decoding refuses a handover out of the last epoch).
    pub fn to_epoch(&self) -> u32 {
        self.from_epoch.saturating_add(1)
    }

    /// Opens the handover with this device's identity. A key that does not
    /// match the handover's commitment is refused as malformed: every
    /// recipient, and every device granted the key later, must end on the
    /// same key.
    pub fn open(&self, identity: &age::x25519::Identity) -> Result<EpochKey, RotationError> {
        open_committed_key(identity, &self.sealed_key, &self.key_commitment)
    }

    /// Active devices in `doc` that this handover does not cover: they must
    /// be re-sealed to before the old epoch can be retired.
    pub fn missing_devices(&self, doc: &SpaceDoc) -> Vec<DeviceId> {
        let Ok(members) = doc.members() else {
            return Vec::new();
        };
        members
            .into_iter()
            .filter(|(_, m)| m.is_active())
            .flat_map(|(id, _)| doc.active_devices(&id).unwrap_or_default().into_keys())
            .filter(|d| !self.recipients.contains(d))
            .collect()
    }

    /// Encodes the handover as an envelope body:
    /// `from_epoch u32 | answers [32] | key commitment [32] | admin key [32] |
    /// cut count u16 | cut [32]* | recipient count u16 | device id [8]* |
    /// key file length u32 | age file | admin recipient count u16 |
    /// device id [8]* | admin age file`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            4 + HASH_LEN * 3
                + 2
                + HASH_LEN * self.cut.len()
                + 2
                + 8 * self.recipients.len()
                + key_files_len(&self.sealed_key, &self.admin_recipients, &self.sealed_admin),
        );
        out.extend_from_slice(&self.from_epoch.to_be_bytes());
        out.extend_from_slice(&self.answers.0);
        out.extend_from_slice(&self.key_commitment);
        out.extend_from_slice(&self.admin_key.0);
        out.extend_from_slice(&(self.cut.len() as u16).to_be_bytes());
        for head in &self.cut {
            out.extend_from_slice(&head.0);
        }
        write_devices(&mut out, &self.recipients);
        write_key_files(
            &mut out,
            &self.sealed_key,
            &self.admin_recipients,
            &self.sealed_admin,
        );
        out
    }

    /// Decodes an envelope body written by [`Handover::encode`], refusing
    /// one that would leave the last epoch (nothing can follow it).
    pub fn decode(body: &[u8]) -> Result<Self, RotationError> {
        let bad = |what: &str| RotationError::Malformed(what.to_string());
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], RotationError> {
            let slice = body.get(at..at + n).ok_or_else(|| bad("truncated"))?;
            at += n;
            Ok(slice)
        };
        let from_epoch = u32::from_be_bytes(array(take(4)?));
        if from_epoch.checked_add(1).is_none() {
            return Err(bad("no epoch follows this one"));
        }
        let answers = ChangeHash(array(take(HASH_LEN)?));
        let key_commitment = array(take(HASH_LEN)?);
        let admin_raw: [u8; 32] = array(take(HASH_LEN)?);
        let admin_key = AdminKey::from_bytes(admin_raw)
            .ok_or_else(|| bad("the admin key is not an Ed25519 public key"))?;
        let cut_count = u16::from_be_bytes(array(take(2)?)) as usize;
        let mut cut = Vec::with_capacity(cut_count);
        for _ in 0..cut_count {
            cut.push(ChangeHash(array(take(HASH_LEN)?)));
        }
        if cut.is_empty() {
            return Err(bad("no cut"));
        }
        let count = u16::from_be_bytes(array(take(2)?)) as usize;
        let mut recipients = Vec::with_capacity(count);
        for _ in 0..count {
            recipients.push(DeviceId::from(hex::encode(take(8)?)));
        }
        let (sealed_key, admin_recipients, sealed_admin) = read_key_files(&body[at..])?;
        Ok(Handover {
            from_epoch,
            answers,
            key_commitment,
            cut,
            admin_key,
            recipients,
            sealed_key,
            admin_recipients,
            sealed_admin,
        })
    }

    /// What [`Handover::prefer`] compares: SHA-256 of the encoded body.
    pub fn rank(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// Of two concurrent handovers out of the same epoch, the one every
    /// device keeps: the lower SHA-256 of the encoded body. Nobody can aim
    /// for a low hash without redrawing keys, and it does not matter who
    /// wins: both were made by coordinators answering a removal, and a
    /// removal the winner did not answer is answered by the next epoch.
    pub fn prefer<'a>(a: &'a Handover, b: &'a Handover) -> &'a Handover {
        if a.rank() <= b.rank() { a } else { b }
    }
}

/// A commitment to an epoch key: SHA-256 over a label and the key. It
/// reveals nothing of a random 32-byte key and binds a handover to exactly
/// one.
pub fn key_commitment(key: &EpochKey) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"safespaces/v2/epoch-key-commitment");
    hash.update(key.expose_bytes());
    hash.finalize().into()
}

/// Opens an age file holding an epoch key sealed to this device, and checks
/// it against `commitment` (a handover's, for the handover itself and for
/// a grant of its key).
pub(super) fn open_committed_key(
    identity: &age::x25519::Identity,
    sealed_key: &[u8],
    commitment: &[u8; 32],
) -> Result<EpochKey, RotationError> {
    let key = open_as_device(identity, sealed_key).map_err(|e| match e {
        DeviceSealError::NotARecipient => RotationError::NotARecipient,
        other => RotationError::Malformed(other.to_string()),
    })?;
    let bytes: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| RotationError::Malformed("key is not 32 bytes".into()))?;
    let key = EpochKey::from_bytes(bytes);
    if key_commitment(&key) != *commitment {
        return Err(RotationError::Malformed(
            "the key does not match the handover's commitment".into(),
        ));
    }
    Ok(key)
}

/// Seals an admin seed to `holders` (id and age recipient), skipping any
/// whose recipient does not parse. No usable holder gives no file: nobody
/// compacts that mailbox, which costs space, never data.
pub(super) fn seal_admin_seed(
    seed: &AdminSeed,
    holders: &[(DeviceId, String)],
) -> Result<(Vec<DeviceId>, Vec<u8>), RotationError> {
    let (devices, recipients) = usable_recipients(holders);
    if recipients.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let sealed = seal_to_devices(&recipients, seed.expose_bytes())
        .map_err(|e| RotationError::Malformed(e.to_string()))?;
    Ok((devices, sealed))
}

/// The encoded length of [`write_key_files`]'s part.
pub(super) fn key_files_len(sealed_key: &[u8], admins: &[DeviceId], sealed_admin: &[u8]) -> usize {
    4 + sealed_key.len() + 2 + 8 * admins.len() + sealed_admin.len()
}

/// Writes the tail handovers and grants share: `key file length u32 | age
/// file | admin recipient count u16 | device id [8]* | admin age file`.
pub(super) fn write_key_files(
    out: &mut Vec<u8>,
    sealed_key: &[u8],
    admins: &[DeviceId],
    sealed_admin: &[u8],
) {
    // An age file is far below 4 GiB; saturate rather than wrap.
    let key_len = u32::try_from(sealed_key.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&key_len.to_be_bytes());
    out.extend_from_slice(sealed_key);
    write_devices(out, admins);
    out.extend_from_slice(sealed_admin);
}

/// The sealed key, the admin seed's recipients and its sealed file.
pub(super) type KeyFiles = (Vec<u8>, Vec<DeviceId>, Vec<u8>);

/// Reads what [`write_key_files`] wrote; the admin age file is the rest.
pub(super) fn read_key_files(rest: &[u8]) -> Result<KeyFiles, RotationError> {
    let bad = || RotationError::Malformed("truncated".into());
    let key_len = u32::from_be_bytes(array(rest.get(..4).ok_or_else(bad)?)) as usize;
    let rest = &rest[4..];
    let sealed_key = rest.get(..key_len).ok_or_else(bad)?.to_vec();
    let rest = &rest[key_len..];
    let count = u16::from_be_bytes(array(rest.get(..2).ok_or_else(bad)?)) as usize;
    let mut rest = &rest[2..];
    let mut admins = Vec::with_capacity(count.min(rest.len() / 8));
    for _ in 0..count {
        let id = rest.get(..8).ok_or_else(bad)?;
        admins.push(DeviceId::from(hex::encode(id)));
        rest = &rest[8..];
    }
    Ok((sealed_key, admins, rest.to_vec()))
}

/// Opens an age file holding an admin seed sealed to this device, and
/// checks that it signs for `admin_key`.
pub(super) fn open_admin_seed(
    identity: &age::x25519::Identity,
    sealed: &[u8],
    admin_key: &AdminKey,
) -> Option<AdminSeed> {
    if sealed.is_empty() {
        return None;
    }
    let bytes = open_as_device(identity, sealed).ok()?;
    let raw: [u8; 32] = bytes.as_slice().try_into().ok()?;
    let seed = AdminSeed::from_bytes(raw);
    (seed.public() == *admin_key).then_some(seed)
}

/// Writes `count u16 | device id [8]*`.
pub(super) fn write_devices(out: &mut Vec<u8>, devices: &[DeviceId]) {
    out.extend_from_slice(&(devices.len() as u16).to_be_bytes());
    for device in devices {
        let mut id = [0u8; 8];
        // Device ids come from the space document, where a malformed one
        // would already have been refused; write zeros rather than panic
        // if one slipped through.
        let _ = hex::decode_to_slice(device.as_str(), &mut id);
        out.extend_from_slice(&id);
    }
}

/// Copies a slice whose length the caller has already checked.
fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&slice[..N]);
    out
}

/// Why a handover was not adopted. Nothing was changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandoverRefusal {
    /// The removal it answers, or part of its cut, has not arrived yet: keep
    /// it and try again.
    #[error("the handover answers changes not received yet")]
    Waiting,
    /// Its author's device belongs to no member (or to more than one).
    #[error("the handover's author is not a device of a member")]
    UnknownAuthor,
    /// The change it names is not a removal, or not within its cut.
    #[error("the handover does not answer a removal")]
    NotARemoval,
    /// Its author was not an active coordinator at the removal, or was
    /// removed by a change not causally after it.
    #[error("only a coordinator active at a removal may answer it with a new epoch")]
    NotACoordinator,
    /// The removal was answered by the current epoch already.
    #[error("the removal was answered already")]
    Answered,
}

/// Checks that `handover`, signed by `author`, may move the space on:
/// everything it names has arrived, it answers a removal within its cut,
/// its author acts as a coordinator at that removal, and the removal is not
/// causally before `answered` (the cut of the handover into the epoch it
/// leaves; `None` for the first epoch). Returns the removed member.
pub fn check_handover(
    doc: &mut SpaceDoc,
    author: &DeviceId,
    handover: &Handover,
    answered: Option<&[ChangeHash]>,
) -> Result<MemberId, HandoverRefusal> {
    if !doc.has_change(&handover.answers) || handover.cut.iter().any(|h| !doc.has_change(h)) {
        return Err(HandoverRefusal::Waiting);
    }
    // The member the device writes as at the cut: a device that left and
    // came back answers as the member it is there.
    let member = member_of_device_at(doc.automerge(), author, Some(&handover.cut))
        .ok_or(HandoverRefusal::UnknownAuthor)?;
    if !is_before(doc, &handover.answers, &handover.cut) {
        return Err(HandoverRefusal::NotARemoval);
    }
    let removed = removals(doc)
        .into_iter()
        .find(|r| r.change == handover.answers)
        .ok_or(HandoverRefusal::NotARemoval)?;
    if !coordinator_at(doc, &member, &handover.answers) {
        return Err(HandoverRefusal::NotACoordinator);
    }
    // Nor may a removed device answer, unless its removal came causally
    // after the one it answers: the thief of a coordinator's phone cannot
    // hand over a key he chose.
    let author_removed = removals(doc)
        .into_iter()
        .filter(|r| r.device.as_ref() == Some(author))
        .any(|r| r.change == handover.answers || !is_before(doc, &handover.answers, &[r.change]));
    if author_removed {
        return Err(HandoverRefusal::NotACoordinator);
    }
    if let Some(cut) = answered {
        if is_before(doc, &handover.answers, cut) {
            return Err(HandoverRefusal::Answered);
        }
    }
    Ok(removed.member)
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
