//! The device's half of a sync pass over a space (the engine's
//! [`SyncDevice`](crate::engine::SyncDevice), `drive/space_device.rs`):
//! sealing what this device made into the outbox, the snapshot envelope,
//! and receiving pulled blobs, each persisted before it returns. What to
//! do when (push, pull, compact, how many rounds) is the engine's
//! (`core/src/engine/`); carrying it out over the network is the drivers'
//! (`drive/`).

use super::bundle_report::BundleReport;
use super::cover_leads::fingerprint;
use super::error::{AppError, AppResult};
use super::receive::{receive_envelopes, request_envelope};
use super::registry::{HeldRequest, OutboxItem};
use super::shared::Shared;
use super::space_handle::entry;
use crate::engine::{bound_waiting, compaction_bound, resend_due, settle};
use crate::model::{DeviceId, Timestamp};
use crate::protocol::attendance;
use crate::protocol::authorship::actor_for_device;
use crate::protocol::exchange::batch_body;
use crate::protocol::{Envelope, EnvelopeKind, SpaceId};
use crate::relay::{Blob, RelayError};

/// What one sync did, summed over spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Envelopes this device appended.
    pub pushed: usize,
    /// Blobs pulled.
    pub pulled: usize,
    /// Changes applied from them.
    pub applied: usize,
    /// Changes or envelopes refused.
    pub refused: usize,
    /// Attendance requests recorded as a lead.
    pub requests_recorded: usize,
    /// Snapshots uploaded (compactions).
    pub snapshots: usize,
    /// Spaces this device was removed from (a handover left it out).
    pub left_out: Vec<String>,
    /// Envelopes that verified but could not be kept waiting for what they
    /// depend on (over the waiting list's byte budget): their changes
    /// arrive again with the next snapshot.
    pub waiting_dropped: usize,
    /// Joiners this device admitted (requests for its invites answered).
    pub admitted: usize,
    /// Spaces this device joined in this sync (hex): their welcomes came.
    pub joined: Vec<String>,
    /// Spaces whose sync failed while others went on (hex id and why):
    /// one space's mailbox gone or refused never stops the rest, nor the
    /// journal. Retried at the next sync.
    pub failed: Vec<SpaceSyncFailure>,
    /// Why the journal's sync failed, if it did while the spaces went on.
    pub journal_failed: Option<String>,
    /// Spaces where envelopes were found missing (the relay withheld
    /// them) or an author's number used twice, since the last report
    /// (`author_sequences`); each is reported once. Empty when all is well.
    pub sequence_alerts: Vec<super::author_sequences::SequenceAlert>,
}

impl SyncReport {
    /// Adds what one receive in `space` did.
    fn add_received(&mut self, space: SpaceId, tally: &BundleReport) {
        self.applied += tally.applied;
        self.refused += tally.refused;
        self.requests_recorded += tally.requests_recorded;
        if tally.left_out {
            self.left_out.push(space.to_hex());
        }
    }
}

/// One space whose sync failed in a [`SyncReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceSyncFailure {
    /// The space, hex.
    pub space: String,
    /// What went wrong, as the error says it.
    pub reason: String,
}

impl From<RelayError> for AppError {
    fn from(err: RelayError) -> Self {
        AppError::Relay(err)
    }
}

fn own_actor(device: &DeviceId) -> AppResult<automerge::ActorId> {
    actor_for_device(device).ok_or_else(|| AppError::damaged("the registry's device id"))
}

impl Shared {
    /// Step 1: seal what this device made since the last seal into the
    /// outbox, and persist it.
    pub(crate) fn seal_outbox(&self, space: SpaceId, now: Timestamp) -> AppResult<()> {
        // Sign-up holders first: a departure frees its places before the
        // rotation marks everything so far as sealed. Both are changes
        // sealed below, in the new epoch, so the one who left reads
        // neither. A removal never leaves this device without its rotation.
        self.reseal_for_leads(space, now)?;
        self.rotate_if_needed(space)?;
        let signing = self.keys().signing()?;
        self.with_loaded(|loaded| {
            let secret = self.keys().person_secret(&loaded.registry)?;
            let device = loaded.registry.device.clone();
            self.update_space(loaded, space, |entry, loaded| {
                let key = self.keys().epoch(space, entry.epoch)?;
                let actor = own_actor(&device)?;
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                // Only what is new since the last seal: the heads then are kept,
                // so a sync costs the size of what changed, not of the history.
                let since = entry.sealed_heads.clone();
                let own = doc.own_changes_since(&since, &actor, entry.sealed_own_seq);
                entry.sealed_heads = doc.heads();
                if let Some(last) = own.last() {
                    let top = last.seq();
                    let bytes: Vec<Vec<u8>> = own.iter().map(|c| c.raw_bytes().to_vec()).collect();
                    let (body, attestation) = batch_body(space, &device, &signing, &bytes)
                        .map_err(|e| AppError::internal("signing a change batch", e))?;
                    entry.remember(&attestation);
                    let envelope = Envelope {
                        kind: EnvelopeKind::ChangeBatch,
                        space,
                        epoch: entry.epoch,
                        author: device.clone(),
                        sequence: entry.next_sequence,
                        body,
                    }
                    .seal(&key.content_key(), &signing)
                    .map_err(|e| AppError::internal("sealing a change batch", e))?;
                    entry.outbox.push(OutboxItem {
                        epoch: entry.epoch,
                        envelope: envelope.into(),
                    });
                    entry.next_sequence = entry.next_sequence.saturating_add(1);
                    entry.sealed_own_seq = top;
                }
                let member = entry.member.clone();
                let epoch = entry.epoch;
                for pending in entry.pending_requests.iter_mut() {
                    // No recording lead yet: try again on a later sync.
                    let Ok(recipients) = attendance::lead_recipients(doc, &pending.session) else {
                        continue;
                    };
                    let to = fingerprint(&recipients);
                    let sent = match (&pending.sent_at, &pending.sent_to) {
                        (Some(at), Some(to)) if pending.sent => Some((*at, to.as_str())),
                        _ => None,
                    };
                    if !resend_due(sent, &to, now) {
                        continue;
                    }
                    let Some(envelope) = request_envelope(
                        doc, &secret, space, epoch, &key, &member, &device, pending, &signing,
                    )?
                    else {
                        continue;
                    };
                    entry.outbox.push(OutboxItem {
                        epoch,
                        envelope: envelope.into(),
                    });
                    pending.sent = true;
                    pending.sent_at = Some(now);
                    pending.sent_to = Some(to);
                }
                Ok(())
            })
        })
    }

    /// A snapshot envelope of this device's document, signed by it.
    pub(crate) fn snapshot_envelope(&self, space: SpaceId) -> AppResult<Vec<u8>> {
        let signing = self.keys().signing()?;
        self.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let entry = entry(loaded, space)?.clone();
            let key = self.keys().epoch(space, entry.epoch)?;
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let body = super::snapshots::current_snapshot(doc, &entry, space, &device, &signing);
            // Unnumbered (protocol.md §3): it vouches for numbers instead.
            Envelope {
                kind: EnvelopeKind::Snapshot,
                space,
                epoch: entry.epoch,
                author: device,
                sequence: 0,
                body,
            }
            .seal(&key.content_key(), &signing)
            .map_err(|e| AppError::internal("sealing a snapshot", e))
        })
    }

    /// Step 3, under the lock: receives pulled blobs (and earlier waiting
    /// ones), persists document, cursor and waiting list together. Returns
    /// whether a handover moved the space to a new epoch.
    pub(crate) fn apply_pulled(
        &self,
        space: SpaceId,
        epoch: u32,
        blobs: Vec<Blob>,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<bool> {
        let identity = self.keys().identity()?;
        // To tell which blobs are attendance requests (held from compaction).
        let content = self
            .keys()
            .epoch(space, epoch)
            .ok()
            .map(|k| k.content_key());
        self.with_loaded(|loaded| {
            // The received changes and the cursor past them: one commit.
            let moved = self.update_space_with_document(loaded, space, |entry, loaded| {
                let mut tally = BundleReport::default();
                let mut queue: Vec<Vec<u8>> = entry.waiting.iter().map(|b| b.0.clone()).collect();
                let mut last = entry.cursor;
                for blob in blobs {
                    last = last.max(blob.seq);
                    let request = content.as_ref().is_some_and(|key| {
                        Envelope::open_unverified(&blob.data, key, space, epoch)
                            .is_ok_and(|u| u.peek().kind == EnvelopeKind::AttendanceRequest)
                    });
                    if request && !entry.held_requests.iter().any(|h| h.seq == blob.seq) {
                        entry.held_requests.push(HeldRequest {
                            seq: blob.seq,
                            seen_at: now,
                        });
                    }
                    queue.push(blob.data);
                }
                // Holds that ran out go; the list stays small whether or not
                // this device ever compacts.
                entry.held_requests = compaction_bound(last, &entry.held_requests, now).1;
                // Keep receiving while anything new settles: a blob may wait on
                // one that arrives later in the same page.
                let waiting = settle(queue, |queue| {
                    let fates = receive_envelopes(
                        self,
                        loaded,
                        space,
                        entry,
                        queue,
                        &identity,
                        now,
                        &mut tally,
                        Some(epoch),
                    )?;
                    AppResult::Ok((fates, entry.epoch != epoch))
                })?;
                let (waiting, dropped) = bound_waiting(waiting);
                if dropped > 0 {
                    tracing::warn!(dropped, "waiting envelopes over budget were dropped");
                    report.waiting_dropped += dropped;
                }
                let moved = entry.epoch != epoch;
                if !moved {
                    entry.cursor = last;
                }
                entry.waiting = waiting.into_iter().map(Into::into).collect();
                report.add_received(space, &tally);
                Ok(moved)
            })?;
            self.settle_pending(loaded, space)?;
            Ok(moved)
        })
    }

    /// Receives a page of the mailbox of the epoch this device left by
    /// adopting a handover: a competing handover there may win over the
    /// adopted one (everything else in it is stale, `receive.rs`). Returns
    /// whether the space moved.
    pub(crate) fn receive_previous(
        &self,
        space: SpaceId,
        epoch: u32,
        blobs: Vec<Blob>,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<bool> {
        let Some(last) = blobs.last().map(|b| b.seq) else {
            return Ok(false);
        };
        let identity = self.keys().identity()?;
        let sealed: Vec<Vec<u8>> = blobs.into_iter().map(|b| b.data).collect();
        let moved = self.with_loaded(|loaded| {
            self.update_space(loaded, space, |e, loaded| {
                let (adopted, current) = (e.adopted.clone(), e.epoch);
                let mut tally = BundleReport::default();
                receive_envelopes(
                    self, loaded, space, e, &sealed, &identity, now, &mut tally, None,
                )?;
                let moved = e.epoch != current || e.adopted != adopted;
                if !moved {
                    e.previous_cursor = last;
                }
                report.add_received(space, &tally);
                self.persist_space(loaded, space)?;
                Ok(moved)
            })
        })?;
        if moved {
            tracing::info!(epoch, "a competing handover won; the space moves to it");
        }
        Ok(moved)
    }
}
