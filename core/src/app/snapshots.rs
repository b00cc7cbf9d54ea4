//! Snapshots at the app level: the ones this device makes (its document
//! with every attestation it holds, and a fresh one of its own newest
//! change), and the first one a device that holds nothing of a space yet
//! starts from, checked from the space's creation (protocol.md §4).

use ed25519_dalek::SigningKey;

use super::registry::SpaceEntry;
use crate::crypto::SymmetricKey;
use crate::model::{DeviceId, SpaceDoc};
use crate::protocol::attestation::Attestation;
use crate::protocol::exchange::device_key;
use crate::protocol::genesis::verify_from_genesis;
use crate::protocol::snapshot::SnapshotBody;
use crate::protocol::{Envelope, EnvelopeKind, SpaceId};

/// A snapshot body of `doc` as it is now, with every attestation `entry`
/// holds and this device's own newest change attested afresh (its changes
/// since its last batch are in the document too), vouching for the
/// envelope numbers of the current epoch's mailbox this device has seen
/// and used.
pub(crate) fn current_snapshot(
    doc: &mut SpaceDoc,
    entry: &SpaceEntry,
    space: SpaceId,
    device: &DeviceId,
    signing: &SigningKey,
) -> Vec<u8> {
    let mut attestations: Vec<Attestation> = entry
        .attestations()
        .into_iter()
        .filter(|a| &a.device != device)
        .collect();
    if let Some((seq, hash)) = doc.last_own_change() {
        attestations.push(Attestation::sign_hash(space, device, seq, hash, signing));
    }
    SnapshotBody {
        document: doc.save(),
        attestations,
        vouched: entry.vouched_numbers(device),
    }
    .encode()
}

/// What a snapshot of the document at `cut` can prove: the attestations
/// `entry` holds of changes within the cut, and this device's own newest
/// change within it attested afresh. Kept with the epoch the cut starts,
/// for the snapshot at the cut that bundles carry.
pub(crate) fn attestations_at_cut(
    doc: &mut SpaceDoc,
    entry: &SpaceEntry,
    cut: &[automerge::ChangeHash],
    space: SpaceId,
    device: &DeviceId,
    signing: &SigningKey,
) -> Vec<Attestation> {
    let after = doc.changes_after(cut);
    let within = |doc: &SpaceDoc, hash: &automerge::ChangeHash| {
        doc.has_change(hash) && !after.contains(hash)
    };
    let mut out: Vec<Attestation> = entry
        .attestations()
        .into_iter()
        .filter(|a| &a.device != device && within(doc, &a.hash))
        .collect();
    let actor = crate::protocol::authorship::actor_for_device(device);
    let own = match actor.as_ref().and_then(|a| doc.first_seq_after(cut, a)) {
        // Every change of this device's is within the cut.
        None => doc.last_own_change(),
        Some(first_after) => actor
            .zip(first_after.checked_sub(1).filter(|s| *s > 0))
            .and_then(|(actor, seq)| doc.change_of(&actor, seq).map(|h| (seq, h))),
    };
    if let Some((seq, hash)) = own {
        out.push(Attestation::sign_hash(space, device, seq, hash, signing));
    }
    out
}

/// A space taken from a first snapshot: the verified document and the
/// attestations that proved it.
pub(crate) struct FirstSnapshot {
    pub(crate) doc: SpaceDoc,
    pub(crate) attestations: Vec<Attestation>,
    /// The envelope numbers it vouches for: the device starting from it
    /// counts them as seen (`author_sequences`).
    pub(crate) vouched: Vec<crate::protocol::snapshot::Vouched>,
}

/// Splits a mailbox's blobs into the first snapshot that opens under
/// `content_key` and checks out from the space's creation, and every other
/// blob (the tail to receive after it). A device that holds nothing of the
/// space yet (joining, or newly linked) takes no key from the snapshot: the
/// genesis is the one change whose hash gives the space id, every other
/// change must be proven by keys that history recorded, and the snapshot
/// must be signed by a device of the history it carries.
pub(crate) fn first_snapshot(
    blobs: Vec<crate::relay::Blob>,
    content_key: &SymmetricKey,
    space: SpaceId,
    epoch: u32,
) -> (Option<FirstSnapshot>, Vec<crate::relay::Blob>) {
    let mut first = None;
    let mut rest = Vec::new();
    for blob in blobs {
        if first.is_none() {
            if let Some(candidate) = verified_snapshot(&blob.data, content_key, space, epoch) {
                first = Some(candidate);
                continue;
            }
        }
        rest.push(blob);
    }
    (first, rest)
}

/// One sealed snapshot envelope, checked from the space's creation.
pub(crate) fn verified_snapshot(
    sealed: &[u8],
    content_key: &SymmetricKey,
    space: SpaceId,
    epoch: u32,
) -> Option<FirstSnapshot> {
    let unverified = Envelope::open_unverified(sealed, content_key, space, epoch).ok()?;
    if unverified.peek().kind != EnvelopeKind::Snapshot {
        return None;
    }
    let body = SnapshotBody::decode(&unverified.peek().body).ok()?;
    let (doc, report) = verify_from_genesis(space, &body.document, body.attestations).ok()?;
    let key = device_key(&doc, &unverified.peek().author)?;
    unverified.verify(&key).ok()?;
    Some(FirstSnapshot {
        doc,
        attestations: report.attested,
        vouched: body.vouched,
    })
}
