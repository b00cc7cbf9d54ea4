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

use super::relay_sync::SyncReport;
use super::{AppError, AppResult, Journal, Shared};
use crate::model::{DeviceId, JournalDoc};
use crate::protocol::epoch::ANONYMOUS_DEVICE;
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, SpaceId};
use crate::sync::{MailboxCredential, RelayClient};

/// The journal's mailbox is not a space; its envelopes carry this id.
const JOURNAL_SPACE: SpaceId = SpaceId([0xff; 16]);

impl Journal {
    /// Turns syncing this journal between the person's own devices on or
    /// off. Off (the default) means it never leaves this device.
    pub fn set_sync(&self, enabled: bool) -> AppResult<()> {
        self.shared.with_loaded(|loaded| {
            let mut registry = loaded.registry.clone();
            registry.journal_sync = enabled;
            self.shared.save_registry(&registry)?;
            loaded.registry = registry;
            Ok(())
        })
    }

    /// Whether the journal syncs between the person's devices.
    pub fn sync_enabled(&self) -> AppResult<bool> {
        self.shared
            .with_loaded(|loaded| Ok(loaded.registry.journal_sync))
    }
}

impl Shared {
    fn journal_key(&self) -> AppResult<EpochKey> {
        self.with_loaded(|loaded| Ok(EpochKey::from_bytes(*self.person_secret(&loaded.registry)?)))
    }

    /// One pass of journal sync, if the person turned it on.
    pub(crate) async fn sync_journal(
        &self,
        client: &RelayClient,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        if !self.with_loaded(|loaded| Ok(loaded.registry.journal_sync))? {
            tracing::debug!("journal sync is off; the journal stays on this device");
            return Ok(());
        }
        let key = self.journal_key()?;
        let credential = MailboxCredential::for_epoch(&key);
        client.create_mailbox(&credential).await?;
        let cursor = self.with_loaded(|loaded| Ok(loaded.registry.journal_cursor))?;
        let page = client.read_all(&credential, cursor).await?;
        report.pulled += page.blobs.len();
        let anonymous = key.anonymous_signing_key();
        let verifying = anonymous.verifying_key();
        let content = key.content_key();
        let last = page.blobs.last().map(|b| b.seq).unwrap_or(cursor);
        let refused_before = report.refused;
        // Fold in what the person's other devices pushed.
        let changed_here = self.with_loaded(|loaded| {
            let document = loaded
                .registry
                .journal_id()
                .ok_or_else(|| AppError::Corrupt("registry: journal id".into()))?;
            let mut touched = false;
            for blob in &page.blobs {
                let Ok(unverified) =
                    Envelope::open_unverified(&blob.data, &content, JOURNAL_SPACE, 0)
                else {
                    report.refused += 1;
                    continue;
                };
                let Ok(envelope) = unverified.verify(&verifying) else {
                    report.refused += 1;
                    continue;
                };
                let Ok(mut theirs) = JournalDoc::load(&envelope.body) else {
                    report.refused += 1;
                    continue;
                };
                let (mine_key, their_key) =
                    (loaded.journal.generation_key()?, theirs.generation_key()?);
                if their_key == mine_key {
                    let before = loaded.journal.heads();
                    loaded.journal.merge(&mut theirs)?;
                    touched |= loaded.journal.heads() != before;
                } else if their_key > mine_key {
                    loaded.journal.adopt_generation(theirs)?;
                    touched = true;
                }
            }
            if touched {
                // A whole new file: an adopted generation may have purged
                // text that must not linger in older chunks.
                self.profile
                    .put_snapshot(document, &loaded.journal.save())?;
                report.applied += 1;
            }
            let mut registry = loaded.registry.clone();
            registry.journal_cursor = last;
            self.save_registry(&registry)?;
            loaded.registry = registry;
            Ok(touched)
        })?;
        // Push when this device has something the mailbox may lack.
        let (snapshot, heads, pushed_heads) = self.with_loaded(|loaded| {
            let heads: Vec<String> = loaded
                .journal
                .heads()
                .iter()
                .map(|h| h.to_string())
                .collect();
            Ok((
                loaded.journal.save(),
                heads,
                loaded.registry.journal_pushed_heads.clone(),
            ))
        })?;
        let refused = report.refused - refused_before;
        if refused > 0 {
            tracing::warn!(
                refused,
                "refused journal snapshots: not sealed by the person's devices"
            );
        }
        tracing::debug!(
            pulled = page.blobs.len(),
            refused,
            changed = changed_here,
            "journal sync pass"
        );
        if heads == pushed_heads && !changed_here {
            return Ok(());
        }
        let envelope = Envelope {
            kind: EnvelopeKind::Snapshot,
            space: JOURNAL_SPACE,
            epoch: 0,
            author: DeviceId::from(ANONYMOUS_DEVICE.to_string()),
            sequence: 0,
            body: snapshot,
        }
        .seal(&content, &anonymous)
        .map_err(|e| AppError::Corrupt(e.to_string()))?;
        let seq = client.append(&credential, envelope).await?;
        report.pushed += 1;
        // Everything this device has seen is in the snapshot it just pushed.
        let compacted = last > 0;
        if compacted {
            client.compact(&credential, seq, last.min(seq - 1)).await?;
            report.snapshots += 1;
        }
        tracing::info!(compacted, "pushed a journal snapshot");
        self.with_loaded(|loaded| {
            let mut registry = loaded.registry.clone();
            registry.journal_pushed_heads = heads;
            self.save_registry(&registry)?;
            loaded.registry = registry;
            Ok(())
        })
    }
}
