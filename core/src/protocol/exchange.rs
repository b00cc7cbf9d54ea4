//! Sending and receiving change batches: the whole path from a replica's
//! new changes to a sealed envelope, and from a received envelope to
//! changes applied, with every check in between (protocol.md §3–§5).
//!
//! Body of a `ChangeBatch` envelope: `count u32 | (length u32 | change)*`,
//! the author's automerge changes in causal order. A `Join` body is the same;
//! the kind says that the author's key is to be found in the batch itself
//! (the joiner's device is not in the space yet), and the join proof is in
//! the batch too (`invites/<id>/proof`).
//!
//! Receiving never touches the document before the envelope opens, the
//! signature verifies under a current member device's key, and
//! [`check_batch`](super::authorship::check_batch) (or `check_join`)
//! accepts every change. Replaying an envelope already applied changes
//! nothing: automerge already holds those changes.

use automerge::Change;
use ed25519_dalek::SigningKey;

use super::authorship::{AuthorshipError, check_batch_at, check_join, member_of_device};
use super::envelope::{Envelope, EnvelopeError, EnvelopeKind, SpaceId};
use super::epoch::EpochKey;
use crate::model::{DeviceId, ModelError, SpaceDoc};

/// Why a received envelope was not applied. Nothing was applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The envelope itself was refused (wrong key, tampered, forged…).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The changes are not the author's to make.
    #[error(transparent)]
    Authorship(#[from] AuthorshipError),
    /// The body is not a well-formed batch.
    #[error("malformed change batch: {0}")]
    Malformed(&'static str),
    /// The document refused the changes.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What receiving an envelope did.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Changes were applied (`new` of them were not already known).
    Applied {
        /// The device that wrote them.
        author: DeviceId,
        /// How many were new to this replica.
        new: usize,
    },
    /// An envelope of another kind, opened and verified, for the caller.
    Other(Envelope),
}

/// Encodes automerge changes as a batch body.
pub fn encode_batch(changes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + changes.iter().map(|c| c.len() + 4).sum::<usize>());
    out.extend_from_slice(&(changes.len() as u32).to_be_bytes());
    for change in changes {
        out.extend_from_slice(&(change.len() as u32).to_be_bytes());
        out.extend_from_slice(change);
    }
    out
}

/// Decodes a batch body into automerge changes.
pub fn decode_batch(body: &[u8]) -> Result<Vec<Change>, ReceiveError> {
    fn u32_at(body: &[u8], at: usize) -> Result<usize, ReceiveError> {
        body.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from_be_bytes(b) as usize)
            .ok_or(ReceiveError::Malformed("truncated"))
    }
    let count = u32_at(body, 0)?;
    let mut at = 4;
    // Each change needs at least its 4-byte length: bound the allocation by
    // what the body can actually hold.
    let mut changes = Vec::with_capacity(count.min(body.len() / 4));
    for _ in 0..count {
        let len = u32_at(body, at)?;
        at += 4;
        let bytes = body
            .get(at..at + len)
            .ok_or(ReceiveError::Malformed("truncated"))?;
        at += len;
        changes.push(
            Change::from_bytes(bytes.to_vec())
                .map_err(|_| ReceiveError::Malformed("not an automerge change"))?,
        );
    }
    if at != body.len() {
        return Err(ReceiveError::Malformed("trailing bytes"));
    }
    Ok(changes)
}

/// Seals this replica's changes since `since` as the author device's
/// envelope number `sequence`. Returns `None` when there is nothing new.
#[allow(clippy::too_many_arguments)]
pub fn seal_changes(
    doc: &mut SpaceDoc,
    since: &[automerge::ChangeHash],
    space: SpaceId,
    epoch: u32,
    key: &EpochKey,
    author: &DeviceId,
    signer: &SigningKey,
    sequence: u64,
) -> Result<Option<Vec<u8>>, EnvelopeError> {
    let changes = doc.changes_since(since);
    if changes.is_empty() {
        return Ok(None);
    }
    let envelope = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space,
        epoch,
        author: author.clone(),
        sequence,
        body: encode_batch(&changes),
    };
    envelope.seal(&key.content_key(), signer).map(Some)
}

/// Seals a joiner's first batch (which records their proof).
pub fn seal_join(
    changes: &[Vec<u8>],
    space: SpaceId,
    epoch: u32,
    key: &EpochKey,
    author: &DeviceId,
    signer: &SigningKey,
) -> Result<Vec<u8>, EnvelopeError> {
    let body = encode_batch(changes);
    Envelope {
        kind: EnvelopeKind::Join,
        space,
        epoch,
        author: author.clone(),
        sequence: 1,
        body,
    }
    .seal(&key.content_key(), signer)
}

/// The Ed25519 key a space document records for a device of one of its
/// members, if any.
pub fn device_key(doc: &SpaceDoc, device: &DeviceId) -> Option<ed25519_dalek::VerifyingKey> {
    let member = member_of_device(doc, device)?;
    let keys = doc.member(&member).ok()?.devices.get(device)?.clone();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(&keys.signing_key, &mut bytes).ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()
}

/// Opens an envelope from the mailbox of `space` at `epoch` and, for change
/// batches and joins, checks and applies them to `doc`. Other kinds are
/// returned verified for the caller to handle; attendance requests are
/// verified against the epoch's anonymous member key.
pub fn receive(
    doc: &mut SpaceDoc,
    space: SpaceId,
    epoch: u32,
    key: &EpochKey,
    sealed: &[u8],
) -> Result<Received, ReceiveError> {
    let unverified = Envelope::open_unverified(sealed, &key.content_key(), space, epoch)?;
    let peek = unverified.peek();
    match peek.kind {
        EnvelopeKind::Join => {
            let changes = decode_batch(&peek.body)?;
            let author = peek.author.clone();
            let device_key = check_join(doc, &author, &changes)?;
            let envelope = unverified.verify(&device_key)?;
            apply(doc, envelope.author, &changes)
        }
        EnvelopeKind::AttendanceRequest => {
            let anonymous = key.anonymous_signing_key().verifying_key();
            if peek.author.as_str() != super::epoch::ANONYMOUS_DEVICE {
                return Err(EnvelopeError::Malformed("attendance requests are anonymous").into());
            }
            Ok(Received::Other(unverified.verify(&anonymous)?))
        }
        _ => {
            let author = peek.author.clone();
            let device_key = device_key(doc, &author)
                .ok_or_else(|| EnvelopeError::UnknownAuthor(author.to_string()))?;
            let envelope = unverified.verify(&device_key)?;
            if envelope.kind != EnvelopeKind::ChangeBatch {
                return Ok(Received::Other(envelope));
            }
            let changes = decode_batch(&envelope.body)?;
            let current = doc.heads();
            check_batch_at(doc, &envelope.author, &changes, &current)?;
            apply(doc, envelope.author, &changes)
        }
    }
}

/// What importing a copy of someone's history did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Changes applied.
    pub applied: usize,
    /// Changes refused (not their author's to make, or depending on a
    /// refused one). Every replica refuses the same ones.
    pub refused: usize,
}

/// Imports the changes of another replica's document (a snapshot or an
/// offline bundle), checking **each** change this replica lacks on its own:
/// its actor must be a member's device allowed to make it at its causal
/// point, or it must be a join carrying a valid proof. Changes are taken in
/// causal order; one that fails is refused with everything that depends on
/// it, and the rest still apply, so one member's bad change cannot stop
/// everyone else's from arriving.
///
/// What this cannot check is that a change attributed to a device was
/// really written by it: the signatures of the envelopes it first travelled
/// in are not in a snapshot. A snapshot is therefore trusted for
/// attribution as much as the member whose device signed it
/// (threat-model.md).
pub fn import_history(doc: &mut SpaceDoc, other: &mut automerge::AutoCommit) -> ImportReport {
    let mut report = ImportReport::default();
    let mut refused: std::collections::HashSet<automerge::ChangeHash> = Default::default();
    for change in other.get_changes(&[]) {
        let hash = change.hash();
        if doc.has_change(&hash) {
            continue;
        }
        if change.deps().iter().any(|d| refused.contains(d)) {
            refused.insert(hash);
            report.refused += 1;
            continue;
        }
        let device = DeviceId::from(hex::encode(change.actor_id().to_bytes()));
        let single = std::slice::from_ref(&change);
        let allowed = if member_of_device(doc, &device).is_some() {
            let current = doc.heads();
            check_batch_at(doc, &device, single, &current).is_ok()
        } else {
            check_join(doc, &device, single).is_ok()
        };
        if allowed && doc.apply_changes(&[change.raw_bytes().to_vec()]).is_ok() {
            report.applied += 1;
        } else {
            refused.insert(hash);
            report.refused += 1;
        }
    }
    report
}

fn apply(
    doc: &mut SpaceDoc,
    author: DeviceId,
    changes: &[Change],
) -> Result<Received, ReceiveError> {
    let known = changes.iter().filter(|c| doc.has_change(&c.hash())).count();
    let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    doc.apply_changes(&bytes)?;
    Ok(Received::Applied {
        author,
        new: changes.len() - known,
    })
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
