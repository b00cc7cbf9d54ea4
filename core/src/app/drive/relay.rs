//! The relay driver: carries each space's [`SpacePass`] out against the
//! relay, with the drop-box work of invites around it, then the journal.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::super::error::{AppError, AppResult};
use super::super::safe_spaces::SafeSpaces;
use super::super::shared::Shared;
use super::super::space_sync::{SpaceSyncFailure, SyncReport};
use super::space_device::SpaceDevice;
use crate::engine::{Outcome, PassError, PassMode, SpacePass, SpaceSyncState, Step};
use crate::model::Timestamp;
use crate::protocol::SpaceId;
use crate::relay::{ErrorCode, MailboxCredential, RelayTransport};

impl From<PassError<AppError>> for AppError {
    fn from(err: PassError<AppError>) -> Self {
        match err {
            PassError::Device(e) => e,
            // A bug in a driver of ours, never something from outside.
            PassError::Driver(e) => AppError::internal("driving a sync pass", e),
        }
    }
}

impl Shared {
    /// Runs one pass over `space` in `mode` against the relay: asks the
    /// engine for each step and carries it out, until it is done.
    pub(crate) async fn run_pass(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        mode: PassMode,
        state: &mut SpaceSyncState,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        let mut device = SpaceDevice::new(self, space, now, report);
        let mut pass = SpacePass::new(mode, now);
        // Deriving a mailbox's keys costs a few signatures' worth: once per
        // epoch per pass.
        let mut credentials: HashMap<u32, MailboxCredential> = HashMap::new();
        loop {
            let step = pass.next(state, &mut device)?;
            let Some(epoch) = step.epoch() else {
                return Ok(());
            };
            let credential = match credentials.entry(epoch) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(self.credential(space, epoch)?),
            };
            let outcome = match step {
                // Answered by the `epoch()` check above.
                Step::Done => return Ok(()),
                Step::CreateMailbox { .. } => {
                    Outcome::Created(client.create_mailbox(credential).await?)
                }
                Step::Append { envelope, .. } => {
                    Outcome::Appended(client.append(credential, envelope).await?)
                }
                // Page by page: progress can be shown, and a long history
                // never sits in memory whole.
                Step::Read { after, .. } => {
                    Outcome::Page(client.read(credential, after, None).await?)
                }
                Step::ReadPrevious { after, .. } => {
                    match client.read(credential, after, None).await {
                        Ok(page) => Outcome::Page(page),
                        // The epoch was left by a bundle and never had a
                        // mailbox. The relay answers a mailbox it does not hold
                        // like a wrong key (nobody may probe which ids exist),
                        // and this key is right.
                        Err(e)
                            if matches!(
                                e.code(),
                                Some(ErrorCode::MailboxNotFound | ErrorCode::BadSignature)
                            ) =>
                        {
                            Outcome::NoMailbox
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Step::Compact {
                    snapshot_seq,
                    through,
                    ..
                } => {
                    client.compact(credential, snapshot_seq, through).await?;
                    Outcome::Compacted
                }
            };
            let received = matches!(outcome, Outcome::Page(_));
            pass.told(state, &mut device, outcome)?;
            // What was received may have moved the space to another key
            // (a competing handover can lead to the same epoch number).
            if received {
                credentials.clear();
            }
        }
    }

    /// One full sync of one space: claims and admits requests for this
    /// device's invites, runs the pass, then delivers the welcomes (only
    /// now that the admissions are in the mailbox).
    pub(crate) async fn sync_space(
        &self,
        client: &RelayTransport,
        space: SpaceId,
        now: Timestamp,
        report: &mut SyncReport,
    ) -> AppResult<()> {
        self.answer_requests(client, space, now, report).await?;
        let mut state = SpaceSyncState::default();
        self.run_pass(client, space, PassMode::Full, &mut state, now, report)
            .await?;
        self.deliver_welcomes(client, space, now).await
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
            .inspect_err(|e| super::super::error::warn_failed!(e, "completing joins failed"))?;
        let spaces: Vec<SpaceId> = self
            .shared
            .with_loaded(|loaded| Ok(loaded.registry.spaces.keys().copied().collect()))?;
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
                    super::super::error::warn_failed!(&e, "space sync failed");
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
                super::super::error::warn_failed!(&e, "journal sync failed");
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
            .inspect_err(|e| {
                super::super::error::warn_failed!(e, "could not report sequence checks")
            })
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
