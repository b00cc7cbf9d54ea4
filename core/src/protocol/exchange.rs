//! Sending and receiving change batches: the whole path from a replica's
//! new changes to a sealed envelope, and from a received envelope to
//! changes applied, with every check in between (protocol.md §3–§5).
//!
//! Body of a `ChangeBatch` envelope: `count u32 | (length u32 | change)*`,
//! the author's automerge changes in causal order. Every author is a device
//! the document already lists: a joiner is admitted by a change of the
//! inviter's device (`super::admission`).
//!
//! Receiving never touches the document before the envelope opens, the
//! signature verifies under a current member device's key, and
//! [`check_batch`](super::authorship::check_batch)
//! accepts every change. Replaying an envelope already applied changes
//! nothing: automerge already holds those changes.

use std::collections::HashSet;

use automerge::{Change, ChangeHash, ReadDoc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::VerifyingKey;

use super::attestation::{Attestation, AttestationError, Coverage};
use super::authorship::{check_batch_at, check_staged};
pub use super::devices::device_key;
use super::envelope::{Envelope, EnvelopeError, EnvelopeKind, SpaceId, Unverified};
use super::epoch::EpochKey;
use super::error::AuthorshipError;
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
    /// The batch's attestation does not verify.
    #[error(transparent)]
    Attestation(#[from] AttestationError),
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
        /// The author's attestation of the batch's newest change, verified:
        /// kept, so that this replica's snapshots prove who wrote it.
        attestation: Attestation,
    },
    /// An envelope of another kind, opened and verified, for the caller.
    Other(Envelope),
}

/// Encodes automerge changes as a batch body: `count u32 | (length u32 |
/// change)* | attestation signature [64]`, the signature being the
/// author's [`Attestation`] of the batch's newest change.
pub fn encode_batch(changes: &[Vec<u8>], attestation: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + changes.iter().map(|c| c.len() + 4).sum::<usize>() + 64);
    out.extend_from_slice(&(changes.len() as u32).to_be_bytes());
    for change in changes {
        out.extend_from_slice(&(change.len() as u32).to_be_bytes());
        out.extend_from_slice(change);
    }
    out.extend_from_slice(attestation);
    out
}

/// The body of a batch of `author`'s own changes (in causal order), with
/// its attestation of the newest one. Returns the attestation too.
pub fn batch_body(
    space: SpaceId,
    author: &DeviceId,
    signer: &SigningKey,
    changes: &[Vec<u8>],
) -> Result<(Vec<u8>, Attestation), ReceiveError> {
    let last = changes
        .last()
        .ok_or(ReceiveError::Malformed("an empty batch"))?;
    let tip = Change::from_bytes(last.clone())
        .map_err(|_| ReceiveError::Malformed("not an automerge change"))?;
    let attestation = Attestation::sign(space, author, &tip, signer);
    Ok((encode_batch(changes, &attestation.signature), attestation))
}

/// Decodes a batch body into automerge changes and the attestation
/// signature. A batch holds at least one change.
pub fn decode_batch(body: &[u8]) -> Result<(Vec<Change>, [u8; 64]), ReceiveError> {
    fn u32_at(body: &[u8], at: usize) -> Result<usize, ReceiveError> {
        body.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from_be_bytes(b) as usize)
            .ok_or(ReceiveError::Malformed("truncated"))
    }
    let count = u32_at(body, 0)?;
    if count == 0 {
        return Err(ReceiveError::Malformed("an empty batch"));
    }
    let end = body
        .len()
        .checked_sub(64)
        .ok_or(ReceiveError::Malformed("truncated"))?;
    let mut at = 4;
    // Each change needs at least its 4-byte length: bound the allocation by
    // what the body can actually hold.
    let mut changes = Vec::with_capacity(count.min(body.len() / 4));
    for _ in 0..count {
        let len = u32_at(body, at)?;
        at += 4;
        let bytes = body
            .get(at..at + len)
            .filter(|_| at + len <= end)
            .ok_or(ReceiveError::Malformed("truncated"))?;
        at += len;
        changes.push(
            Change::from_bytes(bytes.to_vec())
                .map_err(|_| ReceiveError::Malformed("not an automerge change"))?,
        );
    }
    if at != end {
        return Err(ReceiveError::Malformed("trailing bytes"));
    }
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&body[end..]);
    Ok((changes, signature))
}

/// Checks that `signature` is `author`'s attestation of the newest change
/// of a batch, under the key the batch's envelope verified with.
fn attest_batch(
    space: SpaceId,
    author: &DeviceId,
    key: &VerifyingKey,
    changes: &[Change],
    signature: [u8; 64],
) -> Result<Attestation, ReceiveError> {
    let tip = changes
        .iter()
        .max_by_key(|c| c.seq())
        .ok_or(ReceiveError::Malformed("an empty batch"))?;
    let attestation = Attestation {
        device: author.clone(),
        seq: tip.seq(),
        hash: tip.hash(),
        signature,
    };
    attestation.verify(space, key)?;
    Ok(attestation)
}

/// Seals this replica's changes since `since` (all the author's own) as the
/// author device's envelope number `sequence`. Returns `None` when there is
/// nothing new.
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
    let (body, _) = batch_body(space, author, signer, &changes)
        .map_err(|_| EnvelopeError::Malformed("not an automerge change"))?;
    let envelope = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space,
        epoch,
        author: author.clone(),
        sequence,
        body,
    };
    envelope.seal(&key.content_key(), signer).map(Some)
}

/// Opens an envelope from the mailbox of `space` at `epoch` and, for change
/// batches, checks and applies them to `doc`. Other kinds are
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

/// Staged changes past this many bytes are applied before more are
/// decoded, so a run of large batches never sits in memory whole.
const STAGE_BUDGET: usize = 32 * 1024 * 1024;

/// A change batch opened, its signature verified and its body decoded:
/// what does not depend on earlier batches of the same run.
type Prepared = (DeviceId, Vec<Change>, Attestation);

/// What [`receive_batches`] works out for every batch up front, on several
/// threads: the signature checked under the author's key at the start of
/// the run, and the decoded body.
struct Early {
    signature: Option<(VerifyingKey, Result<(), EnvelopeError>)>,
    changes: Result<(Vec<Change>, Attestation), ReceiveError>,
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
                Some((key, Ok(()))) => decode_attested(unverified, key),
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
        let (author, changes, attestation) = match prepare(doc, &mut staged, unverified, early) {
            Ok(prepared) => prepared,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let mut flush_now = false;
        let mut checked = check_staged(doc, &mut staged, &author, &changes);
        if staged.must_recheck(&checked) {
            flush_segment(doc, &mut staged, &mut segment, &mut results);
            checked = check_staged(doc, &mut staged, &author, &changes);
        }
        results.push(match checked {
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
                    attestation: attestation.clone(),
                })
            }
            Err(e) => Err(e.into()),
        });
        segment.push((results.len() - 1, (author, changes, attestation)));
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
            let (changes, attestation) = early.changes?;
            Ok((author, changes, attestation))
        }
        // The key changed since the early pass (or was unknown then).
        _ => {
            unverified.check_signature(&key)?;
            let (changes, attestation) = decode_attested(&unverified, &key)?;
            Ok((author, changes, attestation))
        }
    }
}

/// A batch whose envelope signature verified under `key`: its body
/// inflated, decoded, and its attestation checked under the same key.
fn decode_attested(
    unverified: &Unverified,
    key: &VerifyingKey,
) -> Result<(Vec<Change>, Attestation), ReceiveError> {
    let (changes, signature) = decode_batch(&unverified.checked_body()?)?;
    let peek = unverified.peek();
    let attestation = attest_batch(peek.space, &peek.author, key, &changes, signature)?;
    Ok((changes, attestation))
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
        for (index, (author, changes, attestation)) in segment.iter() {
            let current = doc.heads();
            results[*index] = check_batch_at(doc, author, changes, &current)
                .map_err(ReceiveError::from)
                .and_then(|()| apply(doc, author.clone(), changes, attestation.clone()));
        }
        *staged = Staged::new(doc);
    }
    segment.clear();
}

/// What importing a copy of someone's history did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Changes applied.
    pub applied: usize,
    /// Changes refused (not proven to be their author's, not their author's
    /// to make, or depending on a refused one). Every replica refuses the
    /// same ones.
    pub refused: usize,
    /// The attestations that verified, to keep for this replica's own
    /// snapshots.
    pub attested: Vec<Attestation>,
}

/// The attestations a snapshot (and this replica) brings, checked lazily:
/// a device's key is known only once the change adding it was taken.
struct Proofs {
    space: SpaceId,
    attestations: Vec<Attestation>,
    coverage: Coverage,
    /// Per attestation: whether it verified, once checked.
    verified: Vec<Option<bool>>,
}

impl Proofs {
    fn new(space: SpaceId, lacking: &[Change], attestations: Vec<Attestation>) -> Self {
        let coverage = Coverage::new(lacking, &attestations);
        let verified = vec![None; attestations.len()];
        Proofs {
            space,
            attestations,
            coverage,
            verified,
        }
    }

    /// Whether `change` is proven to be `device`'s: an attestation by the
    /// device reaches it and verifies under `key`, which the caller took
    /// from its own document.
    fn proves(&mut self, device: &DeviceId, change: &ChangeHash, key: &VerifyingKey) -> bool {
        for index in self.coverage.covering(change) {
            let a = &self.attestations[index];
            if &a.device != device {
                continue;
            }
            let ok = *self.verified[index].get_or_insert_with(|| a.verify(self.space, key).is_ok());
            if ok {
                return true;
            }
        }
        false
    }

    fn into_verified(self, doc: &SpaceDoc) -> Vec<Attestation> {
        self.attestations
            .into_iter()
            .zip(self.verified)
            .filter(|(a, v)| *v == Some(true) && doc.has_change(&a.hash))
            .map(|(a, _)| a)
            .collect()
    }
}

/// Imports the changes of another replica's document (a snapshot or an
/// offline bundle), checking **each** change this replica lacks on its own:
/// it must be proven to be its author's by an attestation in `attestations`
/// (the snapshot's, and this replica's own) that verifies under the key
/// this replica's document records for that device; and its author must be
/// a member's device allowed to make it at its causal point (an admission
/// is checked like any other change, by its inviter's device). No key is ever taken from the data being imported. Changes are
/// taken in causal order; one that fails is refused with everything that
/// depends on it, and the rest still apply, so one member's bad change
/// cannot stop everyone else's from arriving.
pub fn import_history(
    doc: &mut SpaceDoc,
    other: &mut automerge::AutoCommit,
    space: SpaceId,
    attestations: Vec<Attestation>,
) -> ImportReport {
    // Only what this replica lacks: when `other` holds all our heads that is
    // exactly what follows them, without decoding its whole history.
    let ours = doc.heads();
    let lacking = if ReadDoc::get_missing_deps(other, &ours).is_empty() {
        other.get_changes(&ours)
    } else {
        other.get_changes(&[])
    };
    let mut import = Import {
        proofs: Proofs::new(space, &lacking, attestations),
        report: ImportReport::default(),
        refused: HashSet::new(),
        staged: Staged::new(doc),
        segment: Vec::new(),
    };
    for change in lacking {
        let hash = change.hash();
        if import.staged.knows(doc, &hash) {
            continue;
        }
        if change.deps().iter().any(|d| import.refused.contains(d)) {
            import.refuse(change);
            continue;
        }
        let device = DeviceId::from(hex::encode(change.actor_id().to_bytes()));
        let single = std::slice::from_ref(&change);
        if let Some(key) = import.staged.device_key(doc, &device) {
            let proven = import.proofs.proves(&device, &hash, &key);
            let mut checked = check_staged(doc, &mut import.staged, &device, single);
            if import.staged.must_recheck(&checked) {
                import.flush(doc);
                checked = check_staged(doc, &mut import.staged, &device, single);
            }
            match checked {
                Ok(checked) if proven => {
                    let flush_now = checked.touches_authority();
                    import.staged.stage(doc, vec![change.clone()], checked);
                    import.report.applied += 1;
                    import.segment.push(change);
                    if flush_now {
                        import.flush(doc);
                    }
                }
                _ => import.refuse(change),
            }
        } else {
            // No device this replica knows (at this point of the history)
            // made it: nothing can prove it.
            import.refuse(change);
        }
    }
    import.flush(doc);
    let mut report = import.report;
    report.attested = import.proofs.into_verified(doc);
    report
}

/// An import in progress: what is staged, the decisions since the last
/// flush (to redo one by one if automerge refuses it), and the tally.
struct Import {
    proofs: Proofs,
    report: ImportReport,
    refused: HashSet<ChangeHash>,
    staged: Staged,
    segment: Vec<Change>,
}

impl Import {
    /// Refuses a change (and so everything that depends on it).
    fn refuse(&mut self, change: Change) {
        self.refused.insert(change.hash());
        self.report.refused += 1;
        self.segment.push(change);
    }

    /// Imports one change on its own, as [`import_history`] decides it.
    fn one(&mut self, doc: &mut SpaceDoc, change: Change) {
        let hash = change.hash();
        if doc.has_change(&hash) {
            return;
        }
        if change.deps().iter().any(|d| self.refused.contains(d)) {
            self.refused.insert(hash);
            self.report.refused += 1;
            return;
        }
        let device = DeviceId::from(hex::encode(change.actor_id().to_bytes()));
        let single = std::slice::from_ref(&change);
        let allowed = device_key(doc, &device).is_some_and(|key| {
            let current = doc.heads();
            self.proofs.proves(&device, &hash, &key)
                && check_batch_at(doc, &device, single, &current).is_ok()
        });
        if allowed && doc.apply_decoded(vec![change]).is_ok() {
            self.report.applied += 1;
        } else {
            self.refused.insert(hash);
            self.report.refused += 1;
        }
    }

    /// Applies the stage; if automerge refuses it, takes back the segment's
    /// decisions and imports its changes one by one instead.
    fn flush(&mut self, doc: &mut SpaceDoc) {
        if self.staged.flush(doc).is_err() {
            let segment = std::mem::take(&mut self.segment);
            for change in &segment {
                if self.refused.remove(&change.hash()) {
                    self.report.refused -= 1;
                } else {
                    self.report.applied -= 1;
                }
            }
            for change in segment {
                self.one(doc, change);
            }
            self.staged = Staged::new(doc);
        }
        self.segment.clear();
    }
}

fn apply(
    doc: &mut SpaceDoc,
    author: DeviceId,
    changes: &[Change],
    attestation: Attestation,
) -> Result<Received, ReceiveError> {
    let known = changes.iter().filter(|c| doc.has_change(&c.hash())).count();
    let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    doc.apply_changes(&bytes)?;
    Ok(Received::Applied {
        author,
        new: changes.len() - known,
        attestation,
    })
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "exchange_staging_tests.rs"]
mod staging_tests;
