//! One space's saved state as the engine's [`SyncDevice`]: each call goes
//! through the device state's rules (persist first, then swap memory), so
//! the engine never touches a lock or the store itself.

use super::super::error::{AppError, AppResult};
use super::super::progress_slot::Progress;
use super::super::shared::Shared;
use super::super::space_handle::entry;
use super::super::space_sync::SyncReport;
use super::super::sync_log::PassStart;
use crate::engine::{HeldRequest, SpaceView, SyncDevice};
use crate::model::Timestamp;
use crate::protocol::SpaceId;
use crate::relay::ReadPage;

/// One space on this device, for one pass, with the report it adds to.
pub(crate) struct SpaceDevice<'a> {
    shared: &'a Shared,
    space: SpaceId,
    now: Timestamp,
    report: &'a mut SyncReport,
    /// Where the report stood when the round began: what the round added
    /// is logged, and counted in the progress bar.
    round: PassStart,
    /// The cursor before the round's first page, for the progress total.
    round_cursor: Option<u64>,
}

impl<'a> SpaceDevice<'a> {
    /// `space` on the device `shared`, at `now`, adding to `report`.
    pub(crate) fn new(
        shared: &'a Shared,
        space: SpaceId,
        now: Timestamp,
        report: &'a mut SyncReport,
    ) -> Self {
        let round = PassStart::of(report);
        SpaceDevice {
            shared,
            space,
            now,
            report,
            round,
            round_cursor: None,
        }
    }
}

impl SyncDevice for SpaceDevice<'_> {
    type Error = AppError;

    fn seal(&mut self) -> AppResult<()> {
        self.shared.seal_outbox(self.space, self.now)
    }

    fn view(&mut self) -> AppResult<SpaceView> {
        let space = self.space;
        let view = self.shared.with_loaded(|loaded| {
            let e = entry(loaded, space)?;
            Ok(SpaceView {
                epoch: e.epoch,
                cursor: e.cursor,
                snapshot_seq: e.snapshot_seq,
                outbox: e
                    .outbox
                    .iter()
                    .map(|o| (o.epoch, o.envelope.0.clone()))
                    .collect(),
                waiting: !e.waiting.is_empty(),
                holds: e.held_requests.clone(),
                // Only a device that moved by a handover reads the epoch it
                // left: one that joined there, or came by a bundle, has
                // nothing to compare it with.
                previous: e
                    .adopted
                    .as_ref()
                    .and(e.epoch.checked_sub(1))
                    .map(|before| (before, e.previous_cursor)),
                admin: false,
            })
        })?;
        // Only a coordinator's device holds the admin seed, and only it may
        // compact, so no member can delete what the others wrote.
        let admin = self.shared.keys().admin_seed(space, view.epoch)?.is_some();
        Ok(SpaceView { admin, ..view })
    }

    fn snapshot(&mut self) -> AppResult<Vec<u8>> {
        self.shared.snapshot_envelope(self.space)
    }

    fn snapshot_stored(&mut self, seq: u64, holds: Option<Vec<HeldRequest>>) -> AppResult<()> {
        let space = self.space;
        let compacted = holds.is_some();
        let (since, epoch) = self.shared.with_loaded(|loaded| {
            self.shared.update_space(loaded, space, |e, _| {
                let since = (e.cursor.saturating_sub(e.snapshot_seq), e.epoch);
                e.snapshot_seq = seq;
                if let Some(holds) = holds {
                    e.held_requests = holds;
                }
                Ok(since)
            })
        })?;
        self.report.snapshots += 1;
        if compacted {
            tracing::info!(
                since_snapshot = since,
                "compacted a space's mailbox behind a new snapshot"
            );
        } else {
            tracing::info!(epoch, "created a space's mailbox, starting with a snapshot");
        }
        Ok(())
    }

    fn pushed(&mut self, epoch: u32, envelope: &[u8]) -> AppResult<()> {
        let space = self.space;
        self.shared.with_loaded(|loaded| {
            self.shared.update_space(loaded, space, |e, _| {
                if let Some(pos) = e
                    .outbox
                    .iter()
                    .position(|o| o.epoch == epoch && o.envelope.0 == envelope)
                {
                    e.outbox.remove(pos);
                }
                Ok(())
            })
        })?;
        self.report.pushed += 1;
        Ok(())
    }

    fn receive(&mut self, epoch: u32, page: ReadPage) -> AppResult<bool> {
        let space = self.space;
        if self.round_cursor.is_none() {
            let cursor = self
                .shared
                .with_loaded(|loaded| Ok(entry(loaded, space)?.cursor))?;
            self.round_cursor = Some(cursor);
        }
        self.report.pulled += page.blobs.len();
        let moved = self
            .shared
            .apply_pulled(space, epoch, page.blobs, self.now, self.report)?;
        self.shared.progress.report(Progress {
            space: space.to_hex(),
            received: self.report.pulled.saturating_sub(self.round.pulled) as u64,
            total: page
                .last_seq
                .saturating_sub(self.round_cursor.unwrap_or_default()),
            sent: self.report.pushed as u64,
        });
        Ok(moved)
    }

    fn receive_previous(&mut self, epoch: u32, page: ReadPage) -> AppResult<bool> {
        self.report.pulled += page.blobs.len();
        self.shared
            .receive_previous(self.space, epoch, page.blobs, self.now, self.report)
    }

    fn read_through(&mut self) -> AppResult<()> {
        self.shared.check_numbers(self.space)
    }

    fn round_done(&mut self, epoch: u32, moved: bool) {
        self.shared
            .log_pass(self.space, epoch, &self.round, self.report, moved);
        self.round = PassStart::of(self.report);
        self.round_cursor = None;
    }
}
