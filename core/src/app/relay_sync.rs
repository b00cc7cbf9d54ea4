//! Syncing spaces through the relay (docs/sync.md, "The engine").
//!
//! For each space, one pass:
//!
//! 1. **seal** (under the state lock, no network): this device's own changes
//!    made since the last seal become *one* change-batch envelope (so a
//!    burst of edits is one envelope, not one per keystroke), and attendance
//!    requests not yet sent become request envelopes; all go into the
//!    outbox, which is persisted in the encrypted store before any network
//!    call, so what was made offline survives restarts;
//! 2. **push**: each outbox envelope is appended to its epoch's mailbox and
//!    removed from the outbox once the relay acknowledges it (a retried or
//!    repeated append is harmless: receivers ignore changes they hold);
//! 3. **pull**: blobs after this device's cursor are received one by one
//!    (`receive.rs`); the cursor and the document are persisted together;
//! 4. **compact**: when the mailbox has grown a few hundred blobs past the
//!    last snapshot, this device uploads a snapshot and asks the relay to
//!    drop what it covers (only blobs this device has fully applied, so two
//!    devices compacting at once lose nothing).
//!
//! A handover received while pulling moves the space to the new epoch; the
//! pass then repeats against the new mailbox.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::cover_leads::fingerprint;
use super::offline::BundleReport;
use super::receive::{Fate, bound_waiting, receive_envelopes, request_envelope};
use super::registry::{HeldRequest, OutboxItem, PendingRequest, SpaceEntry};
use super::space_handle::entry;
use super::{AppError, AppResult, SafeSpaces, Shared};
use crate::model::{DeviceId, Timestamp};
use crate::protocol::attendance;
use crate::protocol::authorship::actor_for_device;
use crate::protocol::exchange::batch_body;
use crate::protocol::{Envelope, EnvelopeKind, SpaceId};
use crate::relay::{MailboxCredential, RelayError, RelayTransport};

/// How long an unrecorded attendance request waits before it is sealed
/// again. A request can be lost without its sender knowing (a compaction by
/// a device that cannot open it, a lead who stood down, a mailbox that
/// rotated), so it is re-sent until a lead records it or a newer statement
/// overtakes it; a lead ignores a copy it already recorded.
pub const RESEND_REQUEST_AFTER_SECS: i64 = 6 * 60 * 60;

/// How long compaction keeps an attendance request in the mailbox after a
/// device first pulled it: twice the re-send interval, so while its sender
/// syncs, the newest copy of every unrecorded request is always there for
/// a lead to read, whoever compacts (protocol.md §7).
pub const HOLD_REQUESTS_SECS: i64 = 2 * RESEND_REQUEST_AFTER_SECS;

/// How far a compaction may delete: through `cursor` (what this device has
/// applied), but never an attendance request held for less than
/// [`HOLD_REQUESTS_SECS`]. Returns the bound and the holds still running.
fn compaction_bound(cursor: u64, held: &[HeldRequest], now: Timestamp) -> (u64, Vec<HeldRequest>) {
    let running: Vec<HeldRequest> = held
        .iter()
        // A clock set back keeps a hold rather than ending it early.
        .filter(|h| now < h.seen_at.plus_secs(HOLD_REQUESTS_SECS) || now < h.seen_at)
        .cloned()
        .collect();
    let bound = running
        .iter()
        .map(|h| h.seq.saturating_sub(1))
        .min()
        .map_or(cursor, |first| first.min(cursor));
    (bound, running)
}

/// Whether a pending request should be sealed again now: never sent, sent
/// to another set of lead devices than today's, or unrecorded for
/// [`RESEND_REQUEST_AFTER_SECS`].
fn resend_due(pending: &PendingRequest, to: &str, now: Timestamp) -> bool {
    match (&pending.sent_at, &pending.sent_to) {
        (Some(at), Some(sent_to)) if pending.sent => {
            sent_to != to || now >= at.plus_secs(RESEND_REQUEST_AFTER_SECS) || now < *at
        }
        _ => true,
    }
}

/// Blobs past the last snapshot after which a device compacts.
pub const COMPACT_AFTER_BLOBS: u64 = 300;

/// How far a sync has come, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The space being synced, hex.
    pub space: String,
    /// Blobs received so far for this space in this pass over it.
    pub received: u64,
    /// Blobs there are to receive for this space in this pass (as the
    /// relay counts them on the latest page read).
    pub total: u64,
    /// Envelopes sent so far.
    pub sent: u64,
}

/// A progress callback.
pub type ProgressFn = Box<dyn Fn(Progress) + Send + Sync>;

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
    pub sequence_alerts: Vec<super::SequenceAlert>,
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
        let signing = self.profile.with_keyring(|k| k.signing_key().clone())?;
        self.with_loaded(|loaded| {
            let secret = self.person_secret(&loaded.registry)?;
            let device = loaded.registry.device.clone();
            let mut entry = entry(loaded, space)?.clone();
            let key = self.epoch_key(space, entry.epoch)?;
            let actor = own_actor(&device)?;
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            // Only what is new since the last seal: the heads then are kept,
            // so a sync costs the size of what changed, not of the history.
            let since = entry.sealed_heads();
            let own: Vec<automerge::Change> = doc
                .changes_since(&since)
                .into_iter()
                .filter_map(|bytes| automerge::Change::from_bytes(bytes).ok())
                .filter(|c| c.actor_id() == &actor && c.seq() > entry.sealed_own_seq)
                .collect();
            let heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
            let heads_moved = heads != entry.sealed_heads;
            entry.sealed_heads = heads;
            let mut changed = heads_moved;
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
                .map_err(|e| AppError::internal("sealing an envelope", e))?;
                entry.outbox.push(OutboxItem {
                    epoch: entry.epoch,
                    envelope: BASE64_STANDARD.encode(envelope),
                });
                entry.next_sequence = entry.next_sequence.saturating_add(1);
                entry.sealed_own_seq = top;
                changed = true;
            }
            let member = entry.member.clone();
            let epoch = entry.epoch;
            for pending in entry.pending_requests.iter_mut() {
                // No recording lead yet: try again on a later sync.
                let Ok(recipients) = attendance::lead_recipients(doc, &pending.session) else {
                    continue;
                };
                let to = fingerprint(&recipients);
                if !resend_due(pending, &to, now) {
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
                    envelope: BASE64_STANDARD.encode(envelope),
                });
                pending.sent = true;
                pending.sent_at = Some(now);
                pending.sent_to = Some(to);
                changed = true;
            }
            if changed {
                self.store_entry(loaded, space, entry)?;
            }
            Ok(())
        })
    }

    pub(crate) fn store_entry(
        &self,
        loaded: &mut super::Loaded,
        space: SpaceId,
        entry: SpaceEntry,
    ) -> AppResult<()> {
        let mut registry = loaded.registry.clone();
        registry.spaces.insert(space.to_hex(), entry);
        self.save_registry(&registry)?;
        loaded.registry = registry;
        Ok(())
    }

    /// A snapshot envelope of this device's document, signed by it.
    fn snapshot_envelope(&self, space: SpaceId) -> AppResult<Vec<u8>> {
        let signing = self.profile.with_keyring(|k| k.signing_key().clone())?;
        self.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let entry = entry(loaded, space)?.clone();
            let key = self.epoch_key(space, entry.epoch)?;
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

    /// One pass of push, pull and compaction for one space.
    pub(crate) async fn sync_space(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        self.answer_requests(client, space, now, report).await?;
        self.sync_passes(client, space, now, report).await?;
        // Only now that the admissions are in the mailbox.
        self.deliver_welcomes(client, space, now).await
    }

    /// The passes of [`Shared::sync_space`]: seal, push, pull, compact.
    async fn sync_passes(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        // A handover pulled in a pass moves the space on; the next pass
        // then syncs the new mailbox. Two passes cover one rotation.
        for _ in 0..3 {
            let start = super::sync_log::PassStart::of(report);
            self.seal_outbox(space, now)?;
            let (epoch, outbox, cursor) = self.with_loaded(|loaded| {
                let e = entry(loaded, space)?;
                Ok((e.epoch, e.outbox.clone(), e.cursor))
            })?;
            let credential = self.credential(space, epoch)?;
            if client.create_mailbox(&credential).await? {
                // A new mailbox starts with a snapshot, so a device joining
                // later can start from one blob.
                let snapshot = self.snapshot_envelope(space)?;
                let seq = client.append(&credential, snapshot).await?;
                self.with_loaded(|loaded| {
                    let mut e = entry(loaded, space)?.clone();
                    e.snapshot_seq = seq;
                    self.store_entry(loaded, space, e)
                })?;
                report.snapshots += 1;
                tracing::info!(epoch, "created a space's mailbox, starting with a snapshot");
            }
            self.push_outbox(client, space, epoch, outbox, report)
                .await?;
            // Page by page: progress can be shown, and a long history never
            // sits in memory whole.
            let mut after = cursor;
            let moved = loop {
                let page = client.read(&credential, after, None).await?;
                let more = page.more;
                let last = page.blobs.last().map(|b| b.seq);
                report.pulled += page.blobs.len();
                let moved = self.apply_pulled(space, epoch, page.blobs, now, report)?;
                self.progress.report(Progress {
                    space: space.to_hex(),
                    received: report.pulled.saturating_sub(start.pulled) as u64,
                    total: page.last_seq.saturating_sub(cursor),
                    sent: report.pushed as u64,
                });
                match last {
                    Some(seq) if more && !moved => after = seq,
                    _ => break moved,
                }
            };
            // Read through: what is missing now is a gap (not earlier, when
            // the snapshot vouching for a compacted stretch may be yet to come).
            if !moved {
                self.check_numbers(space)?;
            }
            // What this device wrote while receiving (sign-ups it recorded as
            // a lead) goes out in the same sync.
            self.seal_outbox(space, now)?;
            let outbox = self.with_loaded(|loaded| Ok(entry(loaded, space)?.outbox.clone()))?;
            self.push_outbox(client, space, epoch, outbox, report)
                .await?;
            // A handover that competes with the one this device adopted
            // arrives in the mailbox of the epoch it left.
            let moved = moved
                || self
                    .pull_previous(client, space, epoch, now, report)
                    .await?;
            if !moved {
                self.maybe_compact(client, space, &credential, now, report)
                    .await?;
                self.log_pass(space, epoch, &start, report, false);
                return Ok(());
            }
            self.log_pass(space, epoch, &start, report, true);
        }
        Ok(())
    }

    /// Step 2: appends each outbox envelope to its epoch's mailbox, removing
    /// it from the outbox once acknowledged.
    async fn push_outbox(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        epoch: u32,
        outbox: Vec<OutboxItem>,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        for item in outbox {
            let bytes = BASE64_STANDARD
                .decode(&item.envelope)
                .map_err(|e| AppError::damaged_by("the registry's outbox", e))?;
            let target = self.credential(space, item.epoch)?;
            if item.epoch != epoch {
                client.create_mailbox(&target).await?;
            }
            client.append(&target, bytes).await?;
            self.with_loaded(|loaded| {
                let mut e = entry(loaded, space)?.clone();
                if let Some(pos) = e.outbox.iter().position(|o| o == &item) {
                    e.outbox.remove(pos);
                }
                self.store_entry(loaded, space, e)
            })?;
            report.pushed += 1;
        }
        Ok(())
    }

    /// Step 3, under the lock: receives pulled blobs (and earlier waiting
    /// ones), persists document, cursor and waiting list together. Returns
    /// whether a handover moved the space to a new epoch.
    pub(crate) fn apply_pulled(
        &self,
        space: SpaceId,
        epoch: u32,
        blobs: Vec<crate::relay::Blob>,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<bool> {
        let identity = self.profile.with_keyring(|k| k.device_identity().clone())?;
        // To tell which blobs are attendance requests (held from compaction).
        let content = self.epoch_key(space, epoch).ok().map(|k| k.content_key());
        self.with_loaded(|loaded| {
            let mut entry = entry(loaded, space)?.clone();
            let mut tally = BundleReport::default();
            let mut queue: Vec<Vec<u8>> = entry
                .waiting
                .iter()
                .filter_map(|b| BASE64_STANDARD.decode(b).ok())
                .collect();
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
            let waiting = loop {
                let fates = receive_envelopes(
                    self,
                    loaded,
                    space,
                    &mut entry,
                    &queue,
                    &identity,
                    now,
                    &mut tally,
                    Some(epoch),
                )?;
                let progressed = fates.contains(&Fate::Settled);
                let waiting: Vec<(Vec<u8>, Fate)> = std::mem::take(&mut queue)
                    .into_iter()
                    .zip(fates)
                    .filter(|(_, fate)| *fate != Fate::Settled)
                    .collect();
                if !progressed || waiting.is_empty() || entry.epoch != epoch {
                    break waiting;
                }
                queue = waiting.into_iter().map(|(sealed, _)| sealed).collect();
            };
            let (waiting, dropped) = bound_waiting(waiting);
            if dropped > 0 {
                tracing::warn!(dropped, "waiting envelopes over budget were dropped");
                report.waiting_dropped += dropped;
            }
            let moved = entry.epoch != epoch;
            if !moved {
                entry.cursor = last;
            }
            entry.waiting = waiting.iter().map(|w| BASE64_STANDARD.encode(w)).collect();
            report.applied += tally.applied;
            report.refused += tally.refused;
            report.requests_recorded += tally.requests_recorded;
            if tally.left_out {
                report.left_out.push(space.to_hex());
            }
            self.persist_space(loaded, space)?;
            self.store_entry(loaded, space, entry)?;
            self.settle_pending(loaded, space)?;
            Ok(moved)
        })
    }

    /// Reads the previous epoch's mailbox after its cursor, when this
    /// device moved into the current epoch by a handover: a competing
    /// handover there may win over the adopted one (everything else in it
    /// is stale, `receive.rs`). Returns whether the space moved.
    async fn pull_previous(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        epoch: u32,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<bool> {
        let (adopted, mut after) = self.with_loaded(|loaded| {
            let e = entry(loaded, space)?;
            Ok((e.adopted.clone(), e.previous_cursor))
        })?;
        let (Some(adopted), Some(previous)) = (adopted, epoch.checked_sub(1)) else {
            return Ok(false);
        };
        let credential = self.credential(space, previous)?;
        let identity = self.profile.with_keyring(|k| k.device_identity().clone())?;
        loop {
            let page = match client.read(&credential, after, None).await {
                Ok(page) => page,
                // The epoch was left by a bundle and never had a mailbox. The
                // relay answers a mailbox it does not hold like a wrong key
                // (nobody may probe which ids exist), and this key is right.
                Err(e)
                    if matches!(
                        e.code(),
                        Some(
                            crate::relay::ErrorCode::MailboxNotFound
                                | crate::relay::ErrorCode::BadSignature
                        )
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            };
            let Some(last) = page.blobs.last().map(|b| b.seq) else {
                return Ok(false);
            };
            report.pulled += page.blobs.len();
            let sealed: Vec<Vec<u8>> = page.blobs.into_iter().map(|b| b.data).collect();
            let moved = self.with_loaded(|loaded| {
                let mut e = entry(loaded, space)?.clone();
                let mut tally = BundleReport::default();
                receive_envelopes(
                    self, loaded, space, &mut e, &sealed, &identity, now, &mut tally, None,
                )?;
                let moved = e.epoch != epoch || e.adopted.as_ref() != Some(&adopted);
                if !moved {
                    e.previous_cursor = last;
                }
                report.applied += tally.applied;
                report.refused += tally.refused;
                if tally.left_out {
                    report.left_out.push(space.to_hex());
                }
                self.persist_space(loaded, space)?;
                self.store_entry(loaded, space, e)?;
                Ok(moved)
            })?;
            if moved {
                tracing::info!(epoch, "a competing handover won; the space moves to it");
                return Ok(true);
            }
            if !page.more {
                return Ok(false);
            }
            after = last;
        }
    }

    /// Step 4: snapshot and compaction once the tail has grown, on a device
    /// that holds the mailbox's admin key (a coordinator's): only it may
    /// compact, so no member can delete what the others wrote.
    async fn maybe_compact(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        credential: &MailboxCredential,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        if credential.admin_key().is_none() {
            return Ok(());
        }
        let (cursor, snapshot_seq, waiting, held) = self.with_loaded(|loaded| {
            let e = entry(loaded, space)?;
            Ok((
                e.cursor,
                e.snapshot_seq,
                !e.waiting.is_empty(),
                e.held_requests.clone(),
            ))
        })?;
        // Only what this device has fully applied may be compacted away, and
        // no attendance request a lead may not have read yet.
        // The tail's length says when; the holds say how far.
        let (through, running) = compaction_bound(cursor, &held, now);
        if waiting || cursor < snapshot_seq + COMPACT_AFTER_BLOBS || through <= snapshot_seq {
            return Ok(());
        }
        let snapshot = self.snapshot_envelope(space)?;
        let seq = client.append(credential, snapshot).await?;
        client.compact(credential, seq, through).await?;
        self.with_loaded(|loaded| {
            let mut e = entry(loaded, space)?.clone();
            e.snapshot_seq = seq;
            e.held_requests = running.clone();
            self.store_entry(loaded, space, e)
        })?;
        report.snapshots += 1;
        tracing::info!(
            since_snapshot = cursor.saturating_sub(snapshot_seq),
            "compacted a space's mailbox behind a new snapshot"
        );
        Ok(())
    }
}

impl SafeSpaces {
    /// Syncs every space with the relay: pushes what this device made
    /// (including offline), pulls what others made, and compacts when the
    /// mailbox has grown. The journal syncs only between the person's own
    /// devices and only once they turn it on (`Journal::set_sync`).
    pub async fn sync(&self, client: &RelayTransport, now: Timestamp) -> AppResult<SyncReport> {
        let mut report = SyncReport::default();
        self.shared
            .complete_joins(client, now, &mut report)
            .await
            .inspect_err(|e| super::error::warn_failed!(e, "completing joins failed"))?;
        let spaces: Vec<SpaceId> = self.shared.with_loaded(|loaded| {
            Ok(loaded
                .registry
                .spaces
                .values()
                .filter_map(SpaceEntry::space_id)
                .collect())
        })?;
        let started = std::time::Instant::now();
        let count = spaces.len();
        // One space failing (its mailbox deleted or refused, a damaged
        // document) must not stop the others or the journal: each goes on,
        // and the failures are reported. Only when nothing got through
        // (the relay unreachable, the profile locked) is the sync an error.
        let mut first_error = None;
        let mut got_through = false;
        for space in spaces {
            match self
                .shared
                .sync_space(client, space, now, &mut report)
                .await
            {
                Ok(()) => got_through = true,
                Err(e) => {
                    super::error::warn_failed!(&e, "space sync failed");
                    report.failed.push(SpaceSyncFailure {
                        space: space.to_hex(),
                        reason: e.to_string(),
                    });
                    first_error.get_or_insert(e);
                }
            }
        }
        let journal_on = self
            .shared
            .with_loaded(|loaded| Ok(loaded.registry.journal_sync))?;
        match self.shared.sync_journal(client, now, &mut report).await {
            Ok(()) => got_through |= journal_on,
            Err(e) => {
                super::error::warn_failed!(&e, "journal sync failed");
                report.journal_failed = Some(e.to_string());
                first_error.get_or_insert(e);
            }
        }
        if let (false, Some(e)) = (got_through, first_error) {
            return Err(e);
        }
        // Not marked reported unless saved: a failed write reports them
        // again next time rather than failing a sync that went through.
        report.sequence_alerts = self
            .shared
            .take_sequence_alerts()
            .inspect_err(|e| super::error::warn_failed!(e, "could not report sequence checks"))
            .unwrap_or_default();
        tracing::info!(
            spaces = count,
            pushed = report.pushed,
            pulled = report.pulled,
            applied = report.applied,
            refused = report.refused,
            snapshots = report.snapshots,
            failed = report.failed.len(),
            journal_failed = report.journal_failed.is_some(),
            elapsed_ms = started.elapsed().as_millis(),
            "sync finished"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod resend_tests {
    use super::*;
    use crate::model::{SessionId, SignUpState};

    fn pending(sent: Option<(i64, &str)>) -> PendingRequest {
        PendingRequest {
            session: SessionId::from("s".to_string()),
            state: SignUpState::Attending,
            at: Timestamp(0),
            counter: 1,
            sent_at: sent.map(|(at, _)| Timestamp(at)),
            sent_to: sent.map(|(_, to)| to.to_string()),
            sent: sent.is_some(),
        }
    }

    #[test]
    fn compaction_stops_short_of_a_request_held_for_less_than_twelve_hours() {
        let held = |seq, at| HeldRequest {
            seq,
            seen_at: Timestamp(at),
        };
        let holds = [held(40, 1_000), held(70, 2_000)];
        assert_eq!(compaction_bound(100, &holds, Timestamp(3_000)).0, 39);
        // The first hold ran out: compaction may pass it, not the second.
        let later = Timestamp(1_000 + HOLD_REQUESTS_SECS);
        let (bound, running) = compaction_bound(100, &holds, later);
        assert_eq!((bound, running), (69, vec![held(70, 2_000)]));
        // Nothing held: everything applied may go.
        assert_eq!(compaction_bound(100, &[], later).0, 100);
        // A request past the cursor does not hold anything back.
        assert_eq!(compaction_bound(30, &holds, Timestamp(3_000)).0, 30);
        // A clock set back keeps the hold.
        assert_eq!(compaction_bound(100, &holds, Timestamp(10)).0, 39);
    }

    #[test]
    fn a_request_goes_again_when_unsent_when_the_leads_changed_or_after_six_hours() {
        assert!(resend_due(&pending(None), "leads", Timestamp(5)));
        let sent = pending(Some((100, "leads")));
        assert!(!resend_due(&sent, "leads", Timestamp(101)));
        assert!(resend_due(&sent, "other leads", Timestamp(101)));
        assert!(resend_due(
            &sent,
            "leads",
            Timestamp(100 + RESEND_REQUEST_AFTER_SECS)
        ));
        // A clock set back never strands it.
        assert!(resend_due(&sent, "leads", Timestamp(99)));
    }
}
