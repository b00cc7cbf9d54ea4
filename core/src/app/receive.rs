//! Receiving one envelope into a space, whatever carried it (a relay
//! mailbox or an offline bundle): the one place that decides what each kind
//! of envelope does to this device's state.
//!
//! A refused envelope (forged, tampered, not its author's to send) is
//! counted and skipped: one bad blob must not stop everything after it from
//! arriving. One whose dependencies have not arrived yet is kept for later.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::bundle::device_key;
use super::offline::BundleReport;
use super::registry::{SpaceEntry, epoch_key_id};
use super::{AppError, AppResult, Loaded, Shared};
use crate::model::{SpaceDoc, Timestamp};
use crate::protocol::attendance::{self, AttendanceRequest};
use crate::protocol::authorship::AuthorshipError;
use crate::protocol::envelope::Unverified;
use crate::protocol::exchange::{ReceiveError, Received, import_history, receive, receive_batches};
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, Handover, RotationError, SpaceId};

/// What became of one envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Applied, skipped as known, or refused (and counted).
    Settled,
    /// Needs changes that have not arrived yet (or, with an epoch given to
    /// [`receive_envelopes`], came after a handover); keep it and try again.
    Waiting,
}

/// Applies sealed envelopes to `space`, in order. `entry` is this device's
/// registry entry, updated in place (a handover moves it to a new epoch);
/// the caller persists it. With `only_epoch`, envelopes that come up after
/// a handover moved the space past that epoch are left `Waiting`.
///
/// Consecutive change batches of one epoch go to the document together
/// ([`receive_batches`]): the same decisions as one by one, in one
/// automerge call instead of one per envelope.
#[allow(clippy::too_many_arguments)]
pub(crate) fn receive_envelopes(
    shared: &Shared,
    loaded: &mut Loaded,
    space: SpaceId,
    entry: &mut SpaceEntry,
    sealed: &[Vec<u8>],
    identity: &age::x25519::Identity,
    now: Timestamp,
    report: &mut BundleReport,
    only_epoch: Option<u32>,
) -> AppResult<Vec<Fate>> {
    let mut fates = vec![Fate::Settled; sealed.len()];
    // Consecutive change batches of one epoch, by index in `sealed`.
    let mut run: Vec<(usize, Unverified)> = Vec::new();
    let mut run_epoch = None;
    for (index, bytes) in sealed.iter().enumerate() {
        if only_epoch.is_some_and(|e| e != entry.epoch) {
            fates[index] = Fate::Waiting;
            continue;
        }
        let Some((unverified, key, epoch)) = open(shared, space, entry, bytes) else {
            report.unreadable += 1;
            continue;
        };
        let batch = unverified.peek().kind == EnvelopeKind::ChangeBatch;
        if !batch || run_epoch != Some(epoch) {
            receive_run(loaded, space, std::mem::take(&mut run), &mut fates, report)?;
        }
        if batch {
            run_epoch = Some(epoch);
            run.push((index, unverified));
            continue;
        }
        run_epoch = None;
        fates[index] = receive_one(
            shared, loaded, space, entry, bytes, unverified, &key, epoch, identity, now, report,
        )?;
    }
    receive_run(loaded, space, run, &mut fates, report)?;
    Ok(fates)
}

/// Opens an envelope with the key of its own epoch (the current one or the
/// one before); one of an epoch this device was not given stays closed.
fn open(
    shared: &Shared,
    space: SpaceId,
    entry: &SpaceEntry,
    sealed: &[u8],
) -> Option<(Unverified, EpochKey, u32)> {
    for epoch in [entry.epoch, entry.epoch.saturating_sub(1)] {
        let Ok(key) = shared.epoch_key(space, epoch) else {
            continue;
        };
        if let Ok(u) = Envelope::open_unverified(sealed, &key.content_key(), space, epoch) {
            return Some((u, key, epoch));
        }
    }
    None
}

/// Receives a run of change batches and records what became of each.
fn receive_run(
    loaded: &mut Loaded,
    space: SpaceId,
    run: Vec<(usize, Unverified)>,
    fates: &mut [Fate],
    report: &mut BundleReport,
) -> AppResult<()> {
    if run.is_empty() {
        return Ok(());
    }
    let doc = loaded
        .spaces
        .get_mut(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
    let (indices, envelopes): (Vec<usize>, Vec<Unverified>) = run.into_iter().unzip();
    for (index, result) in indices.into_iter().zip(receive_batches(doc, envelopes)) {
        fates[index] = tally(result, report);
    }
    Ok(())
}

/// What a change batch's or join's result means for this device.
fn tally(result: Result<Received, ReceiveError>, report: &mut BundleReport) -> Fate {
    match result {
        Ok(Received::Applied { new, .. }) => report.applied += new,
        Ok(Received::Other(_)) => {}
        // Its dependencies, or the change adding its author's device, may
        // simply not have arrived yet.
        Err(
            ReceiveError::Authorship(AuthorshipError::MissingDependencies)
            | ReceiveError::Envelope(crate::protocol::EnvelopeError::UnknownAuthor(_)),
        ) => return Fate::Waiting,
        Err(_) => report.refused += 1,
    }
    Fate::Settled
}

/// Applies one opened envelope that is not part of a run of change batches.
#[allow(clippy::too_many_arguments)]
fn receive_one(
    shared: &Shared,
    loaded: &mut Loaded,
    space: SpaceId,
    entry: &mut SpaceEntry,
    sealed: &[u8],
    unverified: Unverified,
    key: &EpochKey,
    epoch: u32,
    identity: &age::x25519::Identity,
    now: Timestamp,
    report: &mut BundleReport,
) -> AppResult<Fate> {
    let doc = loaded
        .spaces
        .get_mut(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
    match unverified.peek().kind {
        EnvelopeKind::EpochHandover => {
            let author = unverified.peek().author.clone();
            let Some(signer) = device_key(doc, &author) else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            let Ok(envelope) = unverified.verify(&signer) else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            let Ok(handover) = Handover::decode(&envelope.body) else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            if handover.to_epoch <= entry.epoch {
                return Ok(Fate::Settled);
            }
            match handover.open(identity) {
                Ok(new_key) => {
                    // Key first: a crash after this leaves an unused key,
                    // never a registry pointing at a missing one.
                    shared.profile.insert_key(
                        epoch_key_id(space, handover.to_epoch),
                        *new_key.expose_bytes(),
                    )?;
                    entry.epoch = handover.to_epoch;
                    entry.handovers = vec![BASE64_STANDARD.encode(sealed)];
                    entry.cursor = 0;
                    report.new_epoch = Some(handover.to_epoch);
                }
                Err(RotationError::NotARecipient) => report.left_out = true,
                Err(_) => report.refused += 1,
            }
        }
        EnvelopeKind::Snapshot => {
            let author = unverified.peek().author.clone();
            let (Ok(mut theirs), Ok(their_doc)) = (
                automerge::AutoCommit::load(&unverified.peek().body),
                SpaceDoc::load(&unverified.peek().body),
            ) else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            let Some(signer) = device_key(doc, &author).or_else(|| device_key(&their_doc, &author))
            else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            if unverified.verify(&signer).is_err() {
                report.refused += 1;
                return Ok(Fate::Settled);
            }
            let imported = import_history(doc, &mut theirs);
            report.applied += imported.applied;
            report.refused += imported.refused;
        }
        EnvelopeKind::AttendanceRequest => {
            let Ok(envelope) = unverified.verify(&key.anonymous_signing_key().verifying_key())
            else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            // Only the session's leads can open it; everyone else carries on.
            let Ok(request) = AttendanceRequest::open(&envelope.body, identity, doc) else {
                return Ok(Fate::Settled);
            };
            if doc.is_session_lead(&request.session, &entry.member)?
                && attendance::apply_request(doc, &entry.member, identity, &request, now).is_ok()
            {
                report.requests_recorded += 1;
            }
        }
        EnvelopeKind::ChangeBatch | EnvelopeKind::Join => {
            drop(unverified);
            return Ok(tally(receive(doc, space, epoch, key, sealed), report));
        }
    }
    Ok(Fate::Settled)
}

/// Seals one of this device's pending sign-ups as an attendance-request
/// envelope for the session's cleared leads (protocol.md §7), or `None`
/// while the session has no cleared lead (it stays pending). Shared by
/// relay sync and offline bundles.
#[allow(clippy::too_many_arguments)]
pub(crate) fn request_envelope(
    doc: &SpaceDoc,
    person_secret: &[u8; 32],
    space: SpaceId,
    epoch: u32,
    key: &crate::protocol::EpochKey,
    member: &crate::model::MemberId,
    device: &crate::model::DeviceId,
    pending: &super::registry::PendingRequest,
    signing: &ed25519_dalek::SigningKey,
    now: Timestamp,
) -> AppResult<Option<Vec<u8>>> {
    let request = AttendanceRequest {
        session: pending.session.clone(),
        ticket: attendance::ticket_for(person_secret, space, &pending.session),
        state: pending.state,
        at: pending.at,
        member: member.clone(),
        device: device.clone(),
    };
    let body = match request.seal(doc, signing, now) {
        Ok(body) => body,
        Err(attendance::AttendanceError::NoLeads) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Envelope {
        kind: EnvelopeKind::AttendanceRequest,
        space,
        epoch,
        author: crate::model::DeviceId::from(crate::protocol::epoch::ANONYMOUS_DEVICE.to_string()),
        sequence: 0,
        body,
    }
    .seal(&key.content_key(), &key.anonymous_signing_key())
    .map(Some)
    .map_err(|e| AppError::Corrupt(e.to_string()))
}
