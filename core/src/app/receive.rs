//! Receiving one envelope into a space, whatever carried it (a relay
//! mailbox or an offline bundle): the one place that decides what each kind
//! of envelope does to this device's state.
//!
//! A refused envelope (forged, tampered, not its author's to send) is
//! counted and skipped: one bad blob must not stop everything after it from
//! arriving. One whose dependencies have not arrived yet is kept for later.

use super::author_sequences::{Stamp, unnumbered};
use super::bundle::device_key;
use super::bundle_report::BundleReport;
use super::error::{AppError, AppResult};
use super::registry::{AwaitingGrant, SpaceEntry};
use super::rotation::enter_epoch;
use super::shared::{Loaded, Shared};
use crate::engine::Fate;
use crate::model::{SpaceDoc, Timestamp};
use crate::protocol::EnvelopeError;
use crate::protocol::admin_grant::AdminGrant;
use crate::protocol::attendance::{self, AttendanceRequest};
use crate::protocol::authorship::AuthorshipError;
use crate::protocol::envelope::Unverified;
use crate::protocol::exchange::{ReceiveError, Received, import_history, receive, receive_batches};
use crate::protocol::key_grant::KeyGrant;
use crate::protocol::removal::key_holders;
use crate::protocol::rotation::{HandoverRefusal, check_handover};
use crate::protocol::snapshot::SnapshotBody;
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, Handover, RotationError, SpaceId};

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
    // Consecutive change batches of one epoch, by index in `sealed`, with
    // their numbers.
    let mut run: Vec<(usize, Unverified, Option<Stamp>)> = Vec::new();
    let mut run_epoch = None;
    // The last snapshot of an epoch this device has left: a competing
    // handover right after it may need its state (its cut) to be checked.
    let mut stale_snapshot: Option<Unverified> = None;
    for (index, bytes) in sealed.iter().enumerate() {
        if only_epoch.is_some_and(|e| e != entry.epoch) {
            fates[index] = Fate::Unverified;
            continue;
        }
        let Some((unverified, key, epoch)) = open(shared, space, entry, bytes) else {
            report.unreadable += 1;
            continue;
        };
        note_seen(loaded, &unverified, now);
        // No honest app leaves a batch or a handover unnumbered; one that
        // is would keep its author's envelopes out of the sequence check.
        if unnumbered(&unverified) {
            report.refused += 1;
            continue;
        }
        let stamp = Stamp::of(&unverified);
        // The fence: once this device moved on, nothing sealed under the
        // epoch it left is applied. Whatever is causally before the
        // handover's cut it holds already (it checked the handover against
        // it); anything else was written by a device that has not moved,
        // and is sealed again under the new key once that device does (or
        // came from the removed member). Only handovers that compete with
        // the adopted one still count.
        if epoch < entry.epoch && unverified.peek().kind != EnvelopeKind::EpochHandover {
            report.stale += 1;
            // Still counted in the previous mailbox's numbers, which this
            // device takes up again if a competing handover leaves it there.
            if let Some(stamp) = &stamp {
                note_if_signed(loaded, space, entry, &unverified, stamp);
            }
            if unverified.peek().kind == EnvelopeKind::Snapshot {
                stale_snapshot = Some(unverified);
            }
            continue;
        }
        let batch = unverified.peek().kind == EnvelopeKind::ChangeBatch;
        if !batch || run_epoch != Some(epoch) {
            receive_run(
                loaded,
                space,
                entry,
                std::mem::take(&mut run),
                &mut fates,
                report,
            )?;
        }
        if batch {
            run_epoch = Some(epoch);
            run.push((index, unverified, stamp));
            continue;
        }
        run_epoch = None;
        let cut_snapshot = stale_snapshot.take();
        fates[index] = receive_one(
            shared,
            loaded,
            space,
            entry,
            bytes,
            unverified,
            &key,
            epoch,
            identity,
            now,
            report,
            cut_snapshot,
        )?;
    }
    receive_run(loaded, space, entry, run, &mut fates, report)?;
    Ok(fates)
}

/// Notes when this device last heard from one of the person's other
/// devices: an envelope it signed (checked here: the author field alone
/// proves nothing). Held in memory until the registry is next saved,
/// which every pass does: a timestamp lost to a crash is harmless, unlike
/// the rest of the registry, which is persisted before it is swapped in.
fn note_seen(loaded: &mut Loaded, unverified: &Unverified, now: Timestamp) {
    let author = &unverified.peek().author;
    if *author == loaded.registry.device {
        return;
    }
    let Some(own) = loaded.registry.own_devices.get_mut(author) else {
        return;
    };
    let mut key = [0u8; 32];
    let signed = hex::decode_to_slice(&own.keys.signing_key, &mut key).is_ok()
        && ed25519_dalek::VerifyingKey::from_bytes(&key)
            .is_ok_and(|vk| unverified.check_signature(&vk).is_ok());
    if signed && own.last_seen.is_none_or(|seen| seen < now) {
        own.last_seen = Some(now);
    }
}

/// Notes a numbered envelope's number if it is signed by its author under
/// the key this device's document records (a stale one, not otherwise
/// verified).
fn note_if_signed(
    loaded: &mut Loaded,
    space: SpaceId,
    entry: &mut SpaceEntry,
    unverified: &Unverified,
    stamp: &Stamp,
) {
    let Some(doc) = loaded.spaces.get(&space) else {
        return;
    };
    let signed = device_key(doc, &unverified.peek().author)
        .is_some_and(|key| unverified.check_signature(&key).is_ok());
    if signed {
        entry.note_number(&loaded.registry.device, stamp);
    }
}

/// Whether a change batch's result says its signature verified under its
/// author's key: applied, or refused for what it holds (its author's to
/// number all the same), but not unknown or forged.
fn signed_by_author(result: &Result<Received, ReceiveError>) -> bool {
    match result {
        Ok(_) => true,
        Err(ReceiveError::Envelope(EnvelopeError::Malformed(_))) => true,
        Err(ReceiveError::Envelope(_)) => false,
        Err(_) => true,
    }
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
        let Ok(key) = shared.keys().epoch(space, epoch) else {
            continue;
        };
        if let Ok(u) = Envelope::open_unverified(sealed, &key.content_key(), space, epoch) {
            return Some((u, key, epoch));
        }
    }
    None
}

/// Imports a verified snapshot body into `doc`: every change it adds must
/// be proven by an attestation (its own, or one this device holds) under a
/// key this device's document records. Keeps the attestations that proved
/// something. Returns whether the body was a snapshot at all.
#[allow(clippy::too_many_arguments)]
fn import_snapshot(
    doc: &mut SpaceDoc,
    space: SpaceId,
    entry: &mut SpaceEntry,
    (epoch, own): (u32, &crate::model::DeviceId),
    body: &[u8],
    report: &mut BundleReport,
) -> bool {
    let Ok(body) = SnapshotBody::decode(body) else {
        return false;
    };
    let Ok(mut theirs) = automerge::AutoCommit::load(&body.document) else {
        return false;
    };
    let mut attestations = body.attestations;
    attestations.extend(entry.attestations());
    let imported = import_history(doc, &mut theirs, space, attestations);
    report.applied += imported.applied;
    report.refused += imported.refused;
    for a in &imported.attested {
        entry.remember(a);
    }
    // After the import, so that devices it brought are known.
    entry.note_vouched(own, epoch, &body.vouched, |d| device_key(doc, d).is_some());
    true
}

/// Receives a run of change batches and records what became of each.
fn receive_run(
    loaded: &mut Loaded,
    space: SpaceId,
    entry: &mut SpaceEntry,
    run: Vec<(usize, Unverified, Option<Stamp>)>,
    fates: &mut [Fate],
    report: &mut BundleReport,
) -> AppResult<()> {
    if run.is_empty() {
        return Ok(());
    }
    let own = loaded.registry.device.clone();
    let doc = loaded
        .spaces
        .get_mut(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
    let mut indices = Vec::with_capacity(run.len());
    let mut envelopes = Vec::with_capacity(run.len());
    let mut stamps = Vec::with_capacity(run.len());
    for (index, unverified, stamp) in run {
        indices.push(index);
        envelopes.push(unverified);
        stamps.push(stamp);
    }
    let results = receive_batches(doc, envelopes);
    for ((index, result), stamp) in indices.into_iter().zip(results).zip(stamps) {
        if let Some(stamp) = stamp.filter(|_| signed_by_author(&result)) {
            entry.note_number(&own, &stamp);
        }
        fates[index] = tally(result, report, entry);
    }
    Ok(())
}

/// What a change batch's or join's result means for this device.
fn tally(
    result: Result<Received, ReceiveError>,
    report: &mut BundleReport,
    entry: &mut SpaceEntry,
) -> Fate {
    match result {
        Ok(Received::Applied {
            new, attestation, ..
        }) => {
            report.applied += new;
            entry.remember(&attestation);
        }
        Ok(Received::Other(_)) => {}
        // Its dependencies, or the change adding its author's device, may
        // simply not have arrived yet.
        Err(ReceiveError::Authorship(AuthorshipError::MissingDependencies)) => {
            return Fate::Waiting;
        }
        Err(ReceiveError::Envelope(crate::protocol::EnvelopeError::UnknownAuthor(_))) => {
            return Fate::Unverified;
        }
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
    cut_snapshot: Option<Unverified>,
) -> AppResult<Fate> {
    let device = loaded.registry.device.clone();
    let stamp = Stamp::of(&unverified);
    let doc = loaded
        .spaces
        .get_mut(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
    match unverified.peek().kind {
        EnvelopeKind::KeyGrant => {
            return receive_grant(
                shared, doc, &device, space, entry, unverified, epoch, identity, report,
            );
        }
        EnvelopeKind::EpochHandover => {
            return receive_handover(
                shared,
                doc,
                &device,
                space,
                entry,
                (sealed, unverified, cut_snapshot),
                epoch,
                identity,
                report,
            );
        }
        EnvelopeKind::Snapshot => {
            // The signer's key comes from this device's own document, never
            // from the snapshot, and is checked before the body is loaded:
            // a non-member cannot make a member's device parse anything.
            let Some((envelope, _)) = signed_by_member(doc, unverified) else {
                report.refused += 1;
                return Ok(Fate::Settled);
            };
            if !import_snapshot(doc, space, entry, (epoch, &device), &envelope.body, report) {
                report.refused += 1;
            }
        }
        EnvelopeKind::AdminGrant => {
            receive_admin_grant(
                shared, doc, &device, space, entry, unverified, epoch, identity, report,
            )?;
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
        EnvelopeKind::ChangeBatch => {
            drop(unverified);
            let result = receive(doc, space, epoch, key, sealed);
            if let Some(stamp) = stamp.filter(|_| signed_by_author(&result)) {
                entry.note_number(&device, &stamp);
            }
            return Ok(tally(result, report, entry));
        }
    }
    Ok(Fate::Settled)
}

/// An admin grant (`protocol::admin_grant`): a coordinator's device that
/// does not hold the current epoch mailbox's admin seed keeps the one
/// sealed to it, if it signs for the admin key this device already holds
/// for the epoch; anything else changes nothing.
#[allow(clippy::too_many_arguments)]
fn receive_admin_grant(
    shared: &Shared,
    doc: &SpaceDoc,
    device: &crate::model::DeviceId,
    space: SpaceId,
    entry: &SpaceEntry,
    unverified: Unverified,
    epoch: u32,
    identity: &age::x25519::Identity,
    report: &mut BundleReport,
) -> AppResult<()> {
    let Some((envelope, _)) = signed_by_member(doc, unverified) else {
        report.refused += 1;
        return Ok(());
    };
    let Ok(grant) = AdminGrant::decode(&envelope.body) else {
        report.refused += 1;
        return Ok(());
    };
    let Some(admin) = entry.admin_key(epoch) else {
        return Ok(());
    };
    if grant.epoch != epoch || epoch != entry.epoch || !grant.recipients.contains(device) {
        return Ok(());
    }
    if shared
        .keys()
        .admin_seed(space, epoch)?
        .is_some_and(|held| held.public() == admin)
    {
        return Ok(());
    }
    match grant.open(identity, &admin) {
        Some(seed) => {
            shared.keys().keep_admin_seed(space, epoch, &seed)?;
            tracing::info!(
                epoch,
                "took the mailbox admin key granted to this coordinator's device"
            );
        }
        None => {
            tracing::warn!("refused an admin grant whose seed is not this mailbox's");
            report.refused += 1;
        }
    }
    Ok(())
}

/// The envelope, if it is signed by the device its header names under the
/// key this device's own document records for it (never a key from the
/// envelope), with that key.
fn signed_by_member(
    doc: &SpaceDoc,
    unverified: Unverified,
) -> Option<(Envelope, ed25519_dalek::VerifyingKey)> {
    let signer = device_key(doc, &unverified.peek().author)?;
    let envelope = unverified.verify(&signer).ok()?;
    Some((envelope, signer))
}

/// A handover: checked against this device's document
/// ([`check_handover`]), then taken if it moves the space on from the
/// current epoch, or if it wins over the one adopted into the current epoch
/// ([`Handover::prefer`]); a device that adopted the loser moves to the
/// winner. Anything else (older, or losing) changes nothing.
#[allow(clippy::too_many_arguments)]
fn receive_handover(
    shared: &Shared,
    doc: &mut SpaceDoc,
    device: &crate::model::DeviceId,
    space: SpaceId,
    entry: &mut SpaceEntry,
    (sealed, unverified, cut_snapshot): (&[u8], Unverified, Option<Unverified>),
    epoch: u32,
    identity: &age::x25519::Identity,
    report: &mut BundleReport,
) -> AppResult<Fate> {
    let stamp = Stamp::of(&unverified);
    let Some((envelope, signer)) = signed_by_member(doc, unverified) else {
        report.refused += 1;
        return Ok(Fate::Settled);
    };
    if let Some(stamp) = &stamp {
        entry.note_number(device, stamp);
    }
    let author = envelope.author.clone();
    let Ok(handover) = Handover::decode(&envelope.body) else {
        report.refused += 1;
        return Ok(Fate::Settled);
    };
    // A handover travels in the mailbox of the epoch it leaves.
    if handover.from_epoch != epoch {
        report.refused += 1;
        return Ok(Fate::Settled);
    }
    let competing = if handover.from_epoch == entry.epoch {
        false
    } else if handover.to_epoch() == entry.epoch
        && entry
            .adopted
            .as_ref()
            .is_some_and(|a| hex::encode(handover.rank()) < a.rank)
    {
        true
    } else {
        return Ok(Fate::Settled);
    };
    // A competitor was checked against the epoch before this one, whose
    // cut this device no longer keeps; the first check is the one that
    // decides which removals are still open.
    let answered = if competing {
        None
    } else {
        entry.cut().map(<[_]>::to_vec)
    };
    let mut checked = check_handover(doc, &author, &handover, answered.as_deref());
    if checked == Err(HandoverRefusal::Waiting) {
        // A competitor's cut may hold a removal this device never saw: its
        // author published the state it rotated at right before it.
        if let Some(snapshot) = cut_snapshot.filter(|s| s.peek().author == author) {
            if let Ok(state) = snapshot.verify(&signer) {
                let at = (state.epoch, device);
                if import_snapshot(doc, space, entry, at, &state.body, report) {
                    checked = check_handover(doc, &author, &handover, answered.as_deref());
                }
            }
        }
    }
    match checked {
        Ok(_) => {}
        Err(HandoverRefusal::Waiting) => return Ok(Fate::Waiting),
        Err(refusal) => {
            tracing::warn!(reason = %refusal, "refused a handover");
            report.refused += 1;
            return Ok(Fate::Settled);
        }
    }
    match handover.open(identity) {
        Ok(new_key) => {
            let admin = handover.open_admin(identity);
            take_key(
                shared, doc, device, space, entry, &handover, sealed, &new_key, admin, competing,
                report,
            )?;
        }
        Err(RotationError::NotARecipient) => {
            if competing {
                // The winner leaves this device out: it stays in the epoch
                // it held a key for before.
                entry.epoch = handover.from_epoch;
                entry.adopted = None;
                entry.cursor = entry.previous_cursor;
                entry.held_requests.clear();
                entry.return_to_previous_mailbox();
            }
            // Out, or missed? A device that should hold the key by this
            // device's own document (which holds the cut) was listed
            // concurrently with it: it waits for a grant of the key from a
            // device that has it (protocol.md §6, "Devices a handover
            // missed"), keeping the best-ranked handover that missed it.
            let missed = key_holders(doc).iter().any(|(d, _)| d == device);
            if missed {
                let better = entry
                    .awaiting_grant
                    .as_ref()
                    .and_then(|a| awaited_handover(a).ok())
                    .is_none_or(|(held, _)| handover.rank() < held.rank());
                if better {
                    entry.awaiting_grant = Some(AwaitingGrant {
                        sealed: sealed.to_vec().into(),
                        body: handover.encode().into(),
                    });
                }
            } else {
                report.left_out = true;
            }
        }
        Err(_) => report.refused += 1,
    }
    Ok(Fate::Settled)
}

/// The handover a waiting device holds, and its sealed envelope.
fn awaited_handover(awaiting: &AwaitingGrant) -> AppResult<(Handover, Vec<u8>)> {
    let corrupt = || AppError::damaged("the registry's awaited handover");
    let handover = Handover::decode(awaiting.body.bytes()).map_err(|_| corrupt())?;
    Ok((handover, awaiting.sealed.0.clone()))
}

/// Moves this device into the epoch `handover` leads to, with its key
/// (opened from the handover, or granted for it).
#[allow(clippy::too_many_arguments)]
fn take_key(
    shared: &Shared,
    doc: &mut SpaceDoc,
    device: &crate::model::DeviceId,
    space: SpaceId,
    entry: &mut SpaceEntry,
    handover: &Handover,
    sealed: &[u8],
    new_key: &crate::protocol::EpochKey,
    admin: Option<crate::protocol::AdminSeed>,
    competing: bool,
    report: &mut BundleReport,
) -> AppResult<()> {
    // Key first: a crash after this leaves an unused key, never a registry
    // pointing at a missing one.
    shared
        .keys()
        .keep_epoch(space, handover.to_epoch(), new_key)?;
    // A coordinator's device also takes the new mailbox's admin seed.
    if let Some(seed) = &admin {
        shared
            .keys()
            .keep_admin_seed(space, handover.to_epoch(), seed)?;
    }
    let first_own_after = crate::protocol::authorship::actor_for_device(device)
        .and_then(|actor| doc.first_seq_after(&handover.cut, &actor));
    let previous_cursor = if competing {
        entry.previous_cursor
    } else {
        entry.cursor
    };
    let signing = shared.keys().signing()?;
    let at_cut =
        super::snapshots::attestations_at_cut(doc, entry, &handover.cut, space, device, &signing);
    enter_epoch(
        entry,
        handover,
        sealed,
        previous_cursor,
        first_own_after,
        &at_cut,
    );
    report.new_epoch = Some(handover.to_epoch());
    Ok(())
}

/// A key grant (`protocol::key_grant`): taken only by a device waiting for
/// one, for the handover it holds, signed by a member's device, with the
/// key that handover committed to; anything else changes nothing.
#[allow(clippy::too_many_arguments)]
fn receive_grant(
    shared: &Shared,
    doc: &mut SpaceDoc,
    device: &crate::model::DeviceId,
    space: SpaceId,
    entry: &mut SpaceEntry,
    unverified: Unverified,
    epoch: u32,
    identity: &age::x25519::Identity,
    report: &mut BundleReport,
) -> AppResult<Fate> {
    let Some((envelope, _)) = signed_by_member(doc, unverified) else {
        report.refused += 1;
        return Ok(Fate::Settled);
    };
    let Ok(grant) = KeyGrant::decode(&envelope.body) else {
        report.refused += 1;
        return Ok(Fate::Settled);
    };
    let Some(awaiting) = entry.awaiting_grant.clone() else {
        return Ok(Fate::Settled);
    };
    let (handover, sealed) = awaited_handover(&awaiting)?;
    if grant.from_epoch != epoch
        || handover.from_epoch != entry.epoch
        || grant.handover != handover.rank()
        || !grant.recipients.contains(device)
    {
        return Ok(Fate::Settled);
    }
    match grant.open(&handover, identity) {
        Ok(key) => {
            let admin = grant.open_admin(&handover, identity);
            take_key(
                shared, doc, device, space, entry, &handover, &sealed, &key, admin, false, report,
            )?;
            tracing::info!("took a key granted for a handover that missed this device");
        }
        Err(RotationError::NotARecipient) => {}
        Err(e) => {
            tracing::warn!(reason = %e, "refused a key grant");
            report.refused += 1;
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
) -> AppResult<Option<Vec<u8>>> {
    let request = AttendanceRequest::new(
        person_secret,
        space,
        &pending.session,
        pending.state,
        pending.at,
        pending.counter,
        member,
        device,
        signing,
    );
    let body = match request.seal(doc, signing) {
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
    .map_err(|e| AppError::internal("sealing a snapshot", e))
}
