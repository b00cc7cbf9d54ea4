//! Syncing the journal between a person's own devices: opt-in.
//!
//! Until [`Journal::set_sync`] turns it on, the journal never leaves the
//! device. When on, the journal travels through its own mailbox, derived
//! from the person's secret (which only the person's own devices hold, see
//! `linking.rs`), as whole-document snapshots: journals are small, and a
//! snapshot carries a purge (a deleted entry) as faithfully as an edit.
//!
//! Each sync pulls the snapshots other devices of the person pushed and
//! folds them in by generation (model.md, "Journal"): the same generation
//! merges, a newer one is adopted (keeping this device's own entries), an
//! older one is ignored (its device adopts ours in turn). Then, if the
//! journal changed, this device pushes a snapshot and compacts away every
//! earlier blob it has seen, so a deleted entry's text leaves the relay too.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::error::{AppError, AppResult};
use super::journal_handle::Journal;
use super::registry::AdoptedJournalHandover;
use super::shared::{Loaded, Shared};
use super::space_sync::SyncReport;
use crate::model::{DeviceId, JournalDoc, Timestamp};
use crate::protocol::epoch::ANONYMOUS_DEVICE;
use crate::protocol::journal_epoch::JournalHandover;
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, SpaceId};
use crate::relay::{MailboxCredential, RelayTransport};

/// At most this many epochs followed in one pass (a device offline
/// through several removals catches up over a few passes).
const MAX_HOPS: usize = 4;

/// The journal's mailbox is not a space; its envelopes carry this id.
const JOURNAL_SPACE: SpaceId = SpaceId([0xff; 16]);

impl Journal {
    /// Turns syncing this journal between the person's own devices on or
    /// off. Off (the default) means it never leaves this device.
    pub fn set_sync(&self, enabled: bool) -> AppResult<()> {
        self.shared.with_loaded(|loaded| {
            self.shared.update_registry(loaded, |registry, _| {
                registry.journal_sync = enabled;
                Ok(())
            })
        })
    }

    /// Whether the journal syncs between the person's devices.
    pub fn sync_enabled(&self) -> AppResult<bool> {
        self.shared
            .with_loaded(|loaded| Ok(loaded.registry.journal_sync))
    }
}

/// A journal handover sealed as an envelope of the epoch it leaves, signed
/// by `device`: receivers check it against the person's devices they know.
pub(crate) fn seal_handover(
    handover: &JournalHandover,
    old_key: &EpochKey,
    device: &DeviceId,
    signing: &SigningKey,
) -> AppResult<Vec<u8>> {
    Envelope {
        kind: EnvelopeKind::EpochHandover,
        space: JOURNAL_SPACE,
        epoch: handover.from_epoch,
        author: device.clone(),
        sequence: 0,
        body: handover.encode(),
    }
    .seal(&old_key.content_key(), signing)
    .map_err(|e| AppError::internal("sealing a journal handover", e))
}

/// What one mailbox of the journal held: snapshots (in order, up to the
/// first handover that counts), handovers out of its epoch with their
/// signers, and where the first handover of any kind sits (compaction
/// stops before it, so a device that has not moved yet still finds it).
#[derive(Default)]
struct JournalPage {
    snapshots: Vec<(u64, Vec<u8>)>,
    handovers: Vec<(DeviceId, JournalHandover, u64)>,
    first_handover: Option<u64>,
    last: u64,
}

/// Opens a mailbox's blobs under the epoch's key: anonymous snapshots, and
/// handovers signed by a device in `roster` (a removed one too: what it
/// removes is weighed in [`JournalHandover::accepted`] terms by the caller).
fn read_page(
    blobs: &[crate::relay::Blob],
    key: &EpochKey,
    epoch: u32,
    roster: &BTreeMap<DeviceId, VerifyingKey>,
    cursor: u64,
    report: &mut SyncReport,
) -> JournalPage {
    let content = key.content_key();
    let anonymous = key.anonymous_signing_key().verifying_key();
    let mut page = JournalPage {
        last: blobs.last().map(|b| b.seq).unwrap_or(cursor),
        ..JournalPage::default()
    };
    for blob in blobs {
        let Ok(unverified) = Envelope::open_unverified(&blob.data, &content, JOURNAL_SPACE, epoch)
        else {
            report.refused += 1;
            continue;
        };
        match unverified.peek().kind {
            EnvelopeKind::Snapshot => match unverified.verify(&anonymous) {
                Ok(envelope) => page.snapshots.push((blob.seq, envelope.body)),
                Err(_) => report.refused += 1,
            },
            EnvelopeKind::EpochHandover => {
                page.first_handover.get_or_insert(blob.seq);
                let author = unverified.peek().author.clone();
                let handover = roster
                    .get(&author)
                    .and_then(|vk| unverified.verify(vk).ok())
                    .and_then(|e| JournalHandover::decode(&e.body).ok())
                    .filter(|h| h.from_epoch == epoch);
                match handover {
                    Some(h) => page.handovers.push((author, h, blob.seq)),
                    None => report.refused += 1,
                }
            }
            _ => report.refused += 1,
        }
    }
    page
}

impl Shared {
    /// The verifying keys of the person's devices this device knows (a
    /// removed one too: whether what it signed counts is weighed by the
    /// caller).
    fn journal_roster(loaded: &Loaded) -> BTreeMap<DeviceId, VerifyingKey> {
        loaded
            .registry
            .own_devices
            .iter()
            .filter_map(|(id, d)| {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(&d.keys.signing_key, &mut bytes).ok()?;
                VerifyingKey::from_bytes(&bytes)
                    .ok()
                    .map(|vk| (id.clone(), vk))
            })
            .collect()
    }

    /// Appends the journal handovers waiting in the registry, each to the
    /// mailbox of the epoch it leaves. Done whether or not this device
    /// syncs its journal: they carry no entry, and another of the person's
    /// devices may sync through the mailbox the removed one knows.
    async fn push_journal_handovers(
        &self,
        client: &RelayTransport,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        let waiting = self.with_loaded(|l| Ok(l.registry.journal_epoch.outbox.clone()))?;
        for item in waiting {
            let key = self.with_loaded(|l| self.keys().journal(&l.registry, item.epoch))?;
            let credential = MailboxCredential::for_journal(&key);
            let envelope = item.envelope.0.clone();
            client.create_mailbox(&credential).await?;
            client.append(&credential, envelope).await?;
            report.pushed += 1;
            self.with_loaded(|loaded| {
                self.update_registry(loaded, |registry, _| {
                    registry.journal_epoch.outbox.retain(|i| i != &item);
                    Ok(())
                })
            })?;
            tracing::info!("pushed a journal handover");
        }
        Ok(())
    }

    /// One pass of journal sync: handovers out, then, if the person turned
    /// sync on, follow the journal's epochs, fold in what the person's
    /// other devices pushed, and push this device's journal.
    pub(crate) async fn sync_journal(
        &self,
        client: &RelayTransport,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        // A removal seen in a space (or made here) that the journal's key
        // has not answered yet moves it first.
        self.with_loaded(|loaded| {
            self.refresh_own_devices(loaded)?;
            self.rotate_journal_if_needed(loaded).map(|_| ())
        })?;
        self.push_journal_handovers(client, report).await?;
        if !self.with_loaded(|loaded| Ok(loaded.registry.journal_sync))? {
            tracing::debug!("journal sync is off; the journal stays on this device");
            return Ok(());
        }
        let mut pass = None;
        for _ in 0..MAX_HOPS {
            let (moved, page) = self.journal_pass(client, now, report).await?;
            self.push_journal_handovers(client, report).await?;
            pass = Some(page);
            if !moved {
                break;
            }
        }
        let Some((last, first_handover, changed_here)) = pass else {
            return Ok(());
        };
        self.push_journal(client, last, first_handover, changed_here, report)
            .await
    }

    /// Reads the current epoch's mailbox (and the previous one, for
    /// handovers competing with the adopted one), moves to the epoch a
    /// handover that counts leads to, and folds in the snapshots written
    /// before it. Returns whether it moved, and for the mailbox it read:
    /// the last sequence number, where the first handover sits, and
    /// whether the journal changed.
    async fn journal_pass(
        &self,
        client: &RelayTransport,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<(bool, (u64, Option<u64>, bool))> {
        let (epoch, cursor, previous_cursor, adopted) = self.with_loaded(|l| {
            let j = &l.registry.journal_epoch;
            Ok((
                j.epoch,
                l.registry.journal_cursor,
                j.previous_cursor,
                j.adopted.clone(),
            ))
        })?;
        let key = self.with_loaded(|l| self.keys().journal(&l.registry, epoch))?;
        let credential = MailboxCredential::for_journal(&key);
        client.create_mailbox(&credential).await?;
        let blobs = client.read_all(&credential, cursor).await?.blobs;
        report.pulled += blobs.len();
        // Handovers competing with the one this device moved by.
        let previous = match (&adopted, epoch.checked_sub(1)) {
            (Some(_), Some(before)) => {
                let old = self.with_loaded(|l| self.keys().journal(&l.registry, before))?;
                let blobs = client
                    .read_all(&MailboxCredential::for_journal(&old), previous_cursor)
                    .await?
                    .blobs;
                Some((before, old, blobs))
            }
            _ => None,
        };
        let identity = self.keys().identity()?;
        self.with_loaded(|loaded| {
            self.refresh_own_devices(loaded)?;
            let roster = Self::journal_roster(loaded);
            let page = read_page(&blobs, &key, epoch, &roster, cursor, report);
            let before = previous
                .as_ref()
                .map(|(e, k, b)| read_page(b, k, *e, &roster, previous_cursor, report));
            let (mut moved, changed) = self.update_registry(loaded, |registry, loaded| {
                // Removal wins: what a device the person still has removes is
                // removed here too, whichever epoch's mailbox said so.
                let all = page
                    .handovers
                    .iter()
                    .chain(before.iter().flat_map(|b| b.handovers.iter()));
                let mut learned = false;
                for (author, handover, _) in all {
                    let author_counts = registry
                        .own_devices
                        .get(author)
                        .is_some_and(|d| d.removed_at.is_none());
                    if !author_counts {
                        continue;
                    }
                    for device in &handover.removed {
                        if let Some(d) = registry.own_devices.get_mut(device) {
                            if d.removed_at.is_none() {
                                d.removed_at = Some(now);
                                learned = true;
                            }
                        }
                    }
                }
                if learned {
                    tracing::info!("learned of a removed device from a journal handover");
                }
                let known: BTreeSet<DeviceId> = registry
                    .own_devices
                    .iter()
                    .filter(|(_, d)| d.removed_at.is_none())
                    .map(|(id, _)| id.clone())
                    .collect();
                let mut moved = false;
                // A competitor out of the previous epoch beats the adopted
                // handover if it ranks lower, or if the adopted one's author is
                // removed (removal wins).
                if let (Some(adopted), Some(before)) = (&adopted, &before) {
                    let candidates: Vec<(DeviceId, JournalHandover)> = before
                        .handovers
                        .iter()
                        .map(|(a, h, _)| (a.clone(), h.clone()))
                        .collect();
                    let best = JournalHandover::accepted(&candidates, &known);
                    let adopted_counts = known.contains(&adopted.author);
                    let beats = best.is_some_and(|(_, b)| {
                        !adopted_counts || hex::encode(b.rank()) < adopted.rank
                    });
                    if let (true, Some((author, best))) = (beats, best) {
                        if let Some(new_key) = best.open(&identity) {
                            self.keys().keep_journal(epoch, &new_key)?;
                            enter_journal_epoch(registry, epoch, author, best, before.last);
                            moved = true;
                            tracing::info!("moved to a competing journal handover");
                        }
                    }
                }
                let candidates: Vec<(DeviceId, JournalHandover)> = page
                    .handovers
                    .iter()
                    .map(|(a, h, _)| (a.clone(), h.clone()))
                    .collect();
                let next = if moved {
                    None
                } else {
                    JournalHandover::accepted(&candidates, &known)
                };
                // The fence: snapshots after the handover this device follows
                // come from a device that has not moved (the removed one, or
                // one offline that pushes again in the new epoch).
                let fence = next.and_then(|(_, h)| {
                    page.handovers
                        .iter()
                        .find(|(_, c, _)| c == h)
                        .map(|(_, _, seq)| *seq)
                });
                let mut changed = false;
                for (seq, body) in &page.snapshots {
                    if fence.is_some_and(|f| *seq > f) {
                        continue;
                    }
                    changed |= fold_snapshot(loaded, body, report)?;
                }
                if let Some((author, h)) = next {
                    match h.open(&identity) {
                        Some(new_key) => {
                            self.keys().keep_journal(h.to_epoch(), &new_key)?;
                            enter_journal_epoch(registry, h.to_epoch(), author, h, page.last);
                            moved = true;
                            tracing::info!(from_epoch = epoch, "followed the journal to a new key");
                        }
                        None => tracing::warn!(
                            "this device was not given the journal's new key: it was removed"
                        ),
                    }
                }
                if !moved {
                    registry.journal_cursor = page.last;
                    if let Some(b) = &before {
                        registry.journal_epoch.previous_cursor = b.last;
                    }
                }
                if changed {
                    // A whole new file: an adopted generation may have purged
                    // text that must not linger in older chunks.
                    self.profile
                        .put_snapshot(registry.journal_document, &loaded.journal.save())?;
                    report.applied += 1;
                }
                Ok((moved, changed))
            })?;
            // What this device learned may leave the current key known to
            // a removed device: move on from it (the handover goes out
            // with the next push).
            if !moved && self.rotate_journal_if_needed(loaded)? {
                moved = true;
            }
            tracing::debug!(pulled = blobs.len(), moved, changed, "journal sync pass");
            Ok((moved, (page.last, page.first_handover, changed)))
        })
    }

    /// Pushes this device's journal when the mailbox may lack it, and
    /// compacts away what the snapshot supersedes, never a handover.
    async fn push_journal(
        &self,
        client: &RelayTransport,
        last: u64,
        first_handover: Option<u64>,
        changed_here: bool,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        let (snapshot, heads, pushed_heads, epoch) = self.with_loaded(|loaded| {
            let heads = loaded.journal.heads();
            Ok((
                loaded.journal.save(),
                heads,
                loaded.registry.journal_pushed_heads.clone(),
                loaded.registry.journal_epoch.epoch,
            ))
        })?;
        if report.refused > 0 {
            tracing::warn!(
                refused = report.refused,
                "refused journal blobs: not sealed by the person's devices"
            );
        }
        if heads == pushed_heads && !changed_here {
            return Ok(());
        }
        let key = self.with_loaded(|l| self.keys().journal(&l.registry, epoch))?;
        let credential = MailboxCredential::for_journal(&key);
        let envelope = Envelope {
            kind: EnvelopeKind::Snapshot,
            space: JOURNAL_SPACE,
            epoch,
            author: DeviceId::from(ANONYMOUS_DEVICE.to_string()),
            sequence: 0,
            body: snapshot,
        }
        .seal(&key.content_key(), &key.anonymous_signing_key())
        .map_err(|e| AppError::internal("sealing a journal snapshot", e))?;
        client.create_mailbox(&credential).await?;
        let seq = client.append(&credential, envelope).await?;
        report.pushed += 1;
        // Everything this device has seen is in the snapshot it just
        // pushed, up to the first handover, which stays for devices that
        // have not moved yet.
        let through = match first_handover {
            Some(h) => last.min(h.saturating_sub(1)),
            None => last,
        }
        .min(seq.saturating_sub(1));
        let compacted = through > 0;
        if compacted {
            client.compact(&credential, seq, through).await?;
            report.snapshots += 1;
        }
        tracing::info!(compacted, "pushed a journal snapshot");
        self.with_loaded(|loaded| {
            self.update_registry(loaded, |registry, _| {
                registry.journal_pushed_heads = heads;
                Ok(())
            })
        })
    }
}

/// Moves the registry into the journal epoch `to` that `handover` (signed
/// by `author`) leads to: the new mailbox is read from its start and gets
/// this device's journal whole; the one left is read on from
/// `previous_cursor` for competitors.
fn enter_journal_epoch(
    registry: &mut super::registry::Registry,
    to: u32,
    author: &DeviceId,
    handover: &JournalHandover,
    previous_cursor: u64,
) {
    let j = &mut registry.journal_epoch;
    j.epoch = to;
    j.adopted = Some(AdoptedJournalHandover {
        author: author.clone(),
        rank: hex::encode(handover.rank()),
    });
    j.answered = handover.removed.clone();
    j.previous_cursor = previous_cursor;
    registry.journal_cursor = 0;
    registry.journal_pushed_heads.clear();
}

/// Folds one journal snapshot of the person's other devices in by
/// generation (model.md, "Journal"): the same generation merges, a newer
/// one is adopted (keeping this device's own entries), an older one is
/// ignored. Returns whether the journal changed.
fn fold_snapshot(loaded: &mut Loaded, body: &[u8], report: &mut SyncReport) -> AppResult<bool> {
    let Ok(mut theirs) = JournalDoc::load(body) else {
        report.refused += 1;
        return Ok(false);
    };
    let (mine_key, their_key) = (loaded.journal.generation_key()?, theirs.generation_key()?);
    if their_key == mine_key {
        let before = loaded.journal.heads();
        loaded.journal.merge(&mut theirs)?;
        Ok(loaded.journal.heads() != before)
    } else if their_key > mine_key {
        loaded.journal.adopt_generation(theirs)?;
        Ok(true)
    } else {
        Ok(false)
    }
}
