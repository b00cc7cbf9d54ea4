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

use std::collections::HashSet;

use automerge::{Change, ChangeHash, ReadDoc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::VerifyingKey;

use super::authorship::{
    AuthorshipError, check_batch_at, check_join, check_staged, member_of_device,
};
use super::envelope::{Envelope, EnvelopeError, EnvelopeKind, SpaceId, Unverified};
use super::epoch::EpochKey;
use super::staging::Staged;
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
            // The joiner's key is in the body, so this one body is read
            // before its signature: bounded to what a join can hold.
            let changes = decode_batch(&unverified.unverified_body(MAX_JOIN_BODY)?)?;
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
        EnvelopeKind::ChangeBatch => receive_batches(doc, vec![unverified])
            .pop()
            .unwrap_or(Err(ReceiveError::Malformed("no result"))),
        _ => {
            let author = peek.author.clone();
            let device_key = device_key(doc, &author)
                .ok_or_else(|| EnvelopeError::UnknownAuthor(author.to_string()))?;
            Ok(Received::Other(unverified.verify(&device_key)?))
        }
    }
}

/// The largest inflated join body: one member entry, one device and an
/// invite's `used_by` and proof take a few hundred bytes.
pub const MAX_JOIN_BODY: usize = 64 * 1024;

/// Staged changes past this many bytes are applied before more are
/// decoded, so a run of large batches never sits in memory whole.
const STAGE_BUDGET: usize = 32 * 1024 * 1024;

/// A change batch opened, its signature verified and its body decoded:
/// what does not depend on earlier batches of the same run.
type Prepared = (DeviceId, Vec<Change>);

/// What [`receive_batches`] works out for every batch up front, on several
/// threads: the signature checked under the author's key at the start of
/// the run, and the decoded body.
struct Early {
    signature: Option<(VerifyingKey, Result<(), EnvelopeError>)>,
    changes: Result<Vec<Change>, ReceiveError>,
}

/// Below this many batches per thread, another thread costs more than it
/// saves (one check and decode is ~50 µs).
const EARLY_PER_THREAD: usize = 16;

/// Receives consecutive change-batch envelopes of one mailbox, in order,
/// with exactly the results and effects of calling [`receive`] on each in
/// turn, but in (usually) one automerge call instead of one per envelope:
/// batches are checked against a [`Staged`] view of the ones before them
/// (`super::staging` says why the decisions are the same). An envelope of
/// another kind is refused as malformed; the caller sends those through
/// [`receive`].
pub fn receive_batches(
    doc: &mut SpaceDoc,
    envelopes: Vec<Unverified>,
) -> Vec<Result<Received, ReceiveError>> {
    let mut results: Vec<Result<Received, ReceiveError>> = Vec::with_capacity(envelopes.len());
    let mut staged = Staged::new(doc);
    // Every batch prepared since the last flush, by index in `results`, in
    // case the flush fails and the segment must be redone one by one.
    let mut segment: Vec<(usize, Prepared)> = Vec::new();
    // Signatures and decoding first, for all at once on several threads,
    // under the keys the document lists now. Members change only at a
    // flush below; a batch whose author's key changed by then is checked
    // again under the new key.
    let keys: Vec<Option<VerifyingKey>> = envelopes
        .iter()
        .map(|u| staged.device_key(doc, &u.peek().author))
        .collect();
    let pairs: Vec<_> = envelopes.iter().zip(keys).collect();
    let early = super::parallel::map(
        &pairs,
        EARLY_PER_THREAD,
        |(unverified, key)| {
            // Inflated and decoded only under a signature that verifies.
            let signature = key.map(|k| (k, unverified.check_signature(&k)));
            let changes = match &signature {
                Some((_, Ok(()))) => unverified
                    .checked_body()
                    .map_err(ReceiveError::from)
                    .and_then(|body| decode_batch(&body)),
                _ => Err(ReceiveError::Malformed("not decoded before its signature")),
            };
            Early { signature, changes }
        },
        || Early {
            signature: None,
            changes: Err(ReceiveError::Malformed("could not be decoded")),
        },
    );
    drop(pairs);
    for (unverified, early) in envelopes.into_iter().zip(early) {
        let (author, changes) = match prepare(doc, &mut staged, unverified, early) {
            Ok(prepared) => prepared,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let mut flush_now = false;
        results.push(match check_staged(doc, &mut staged, &author, &changes) {
            Ok(checked) => {
                let known = changes
                    .iter()
                    .filter(|c| staged.knows(doc, &c.hash()))
                    .count();
                flush_now = checked.touches_authority();
                staged.stage(doc, changes.clone(), checked);
                flush_now |= staged.bytes() > STAGE_BUDGET;
                Ok(Received::Applied {
                    author: author.clone(),
                    new: changes.len() - known,
                })
            }
            Err(e) => Err(e.into()),
        });
        segment.push((results.len() - 1, (author, changes)));
        if flush_now {
            flush_segment(doc, &mut staged, &mut segment, &mut results);
        }
    }
    flush_segment(doc, &mut staged, &mut segment, &mut results);
    results
}

/// Finds the author's key, checks the signature (or takes the check made
/// early under the same key) and takes the decoded batch, in the order
/// [`receive`] does.
fn prepare(
    doc: &SpaceDoc,
    staged: &mut Staged,
    unverified: Unverified,
    early: Early,
) -> Result<Prepared, ReceiveError> {
    if unverified.peek().kind != EnvelopeKind::ChangeBatch {
        return Err(ReceiveError::Malformed("not a change batch"));
    }
    let author = unverified.peek().author.clone();
    let key = staged
        .device_key(doc, &author)
        .ok_or_else(|| EnvelopeError::UnknownAuthor(author.to_string()))?;
    match early.signature {
        Some((checked_under, result)) if checked_under == key => {
            result?;
            Ok((author, early.changes?))
        }
        // The key changed since the early pass (or was unknown then).
        _ => {
            unverified.check_signature(&key)?;
            let changes = decode_batch(&unverified.checked_body()?)?;
            Ok((author, changes))
        }
    }
}

/// Applies the stage; if automerge refuses the combined changes, redoes the
/// segment's batches one at a time as [`receive`] always did, so each gets
/// the result it would have had alone.
fn flush_segment(
    doc: &mut SpaceDoc,
    staged: &mut Staged,
    segment: &mut Vec<(usize, Prepared)>,
    results: &mut [Result<Received, ReceiveError>],
) {
    if staged.flush(doc).is_err() {
        for (index, (author, changes)) in segment.iter() {
            let current = doc.heads();
            results[*index] = check_batch_at(doc, author, changes, &current)
                .map_err(ReceiveError::from)
                .and_then(|()| apply(doc, author.clone(), changes));
        }
        *staged = Staged::new(doc);
    }
    segment.clear();
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
    // Only what this replica lacks: when `other` holds all our heads that is
    // exactly what follows them, without decoding its whole history.
    let ours = doc.heads();
    let lacking = if ReadDoc::get_missing_deps(other, &ours).is_empty() {
        other.get_changes(&ours)
    } else {
        other.get_changes(&[])
    };
    let mut report = ImportReport::default();
    let mut refused: HashSet<ChangeHash> = HashSet::new();
    let mut staged = Staged::new(doc);
    // Changes decided since the last flush, to redo one by one if automerge
    // refuses the flush.
    let mut segment: Vec<Change> = Vec::new();
    for change in lacking {
        let hash = change.hash();
        if staged.knows(doc, &hash) {
            continue;
        }
        if change.deps().iter().any(|d| refused.contains(d)) {
            refused.insert(hash);
            report.refused += 1;
            segment.push(change);
            continue;
        }
        let device = DeviceId::from(hex::encode(change.actor_id().to_bytes()));
        let single = std::slice::from_ref(&change);
        if staged.member_of_device(doc, &device).is_some() {
            match check_staged(doc, &mut staged, &device, single) {
                Ok(checked) => {
                    let flush_now = checked.touches_authority();
                    staged.stage(doc, vec![change.clone()], checked);
                    report.applied += 1;
                    segment.push(change);
                    if flush_now {
                        flush_import(doc, &mut staged, &mut segment, &mut refused, &mut report);
                    }
                }
                Err(_) => {
                    refused.insert(hash);
                    report.refused += 1;
                    segment.push(change);
                }
            }
        } else {
            // A join reads (and copies) the real document: apply what is
            // staged first.
            flush_import(doc, &mut staged, &mut segment, &mut refused, &mut report);
            import_one(doc, change, &mut refused, &mut report);
            staged = Staged::new(doc);
        }
    }
    flush_import(doc, &mut staged, &mut segment, &mut refused, &mut report);
    report
}

/// Imports one change on its own, as [`import_history`] decides it.
fn import_one(
    doc: &mut SpaceDoc,
    change: Change,
    refused: &mut HashSet<ChangeHash>,
    report: &mut ImportReport,
) {
    let hash = change.hash();
    if doc.has_change(&hash) {
        return;
    }
    if change.deps().iter().any(|d| refused.contains(d)) {
        refused.insert(hash);
        report.refused += 1;
        return;
    }
    let device = DeviceId::from(hex::encode(change.actor_id().to_bytes()));
    let single = std::slice::from_ref(&change);
    let allowed = if member_of_device(doc, &device).is_some() {
        let current = doc.heads();
        check_batch_at(doc, &device, single, &current).is_ok()
    } else {
        check_join(doc, &device, single).is_ok()
    };
    if allowed && doc.apply_decoded(vec![change]).is_ok() {
        report.applied += 1;
    } else {
        refused.insert(hash);
        report.refused += 1;
    }
}

/// Applies the stage; if automerge refuses it, takes back the segment's
/// decisions and imports its changes one by one instead.
fn flush_import(
    doc: &mut SpaceDoc,
    staged: &mut Staged,
    segment: &mut Vec<Change>,
    refused: &mut HashSet<ChangeHash>,
    report: &mut ImportReport,
) {
    if staged.flush(doc).is_err() {
        for change in segment.iter() {
            if refused.remove(&change.hash()) {
                report.refused -= 1;
            } else {
                report.applied -= 1;
            }
        }
        for change in segment.drain(..) {
            import_one(doc, change, refused, report);
        }
        *staged = Staged::new(doc);
    }
    segment.clear();
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

#[cfg(test)]
#[path = "exchange_staging_tests.rs"]
mod staging_tests;
