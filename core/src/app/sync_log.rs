//! What the sync engine logs about one pass over a space (docs/sync.md,
//! "What the engine logs").
//!
//! Only counts and epoch numbers, never content or ids (see "Logging" in
//! the crate docs): a pass is described by what it moved, not by which
//! space it moved it for.

use super::shared::Shared;
use super::space_handle::entry;
use super::space_sync::SyncReport;
use crate::protocol::SpaceId;

/// The engine's counters when a pass started, to log what the pass added.
pub(crate) struct PassStart {
    pushed: usize,
    /// Also the base of a pass's progress count.
    pub(crate) pulled: usize,
    applied: usize,
    refused: usize,
    requests_recorded: usize,
    snapshots: usize,
    left_out: usize,
}

impl PassStart {
    /// Remembers where `report` stands before a pass.
    pub(crate) fn of(report: &SyncReport) -> Self {
        Self {
            pushed: report.pushed,
            pulled: report.pulled,
            applied: report.applied,
            refused: report.refused,
            requests_recorded: report.requests_recorded,
            snapshots: report.snapshots,
            left_out: report.left_out.len(),
        }
    }
}

impl Shared {
    /// Logs one finished pass over `space` at `epoch`: its counts at
    /// `debug`, refusals at `warn`, a handover this device adopted (`moved`)
    /// or was left out of at `info`.
    pub(crate) fn log_pass(
        &self,
        space: SpaceId,
        epoch: u32,
        start: &PassStart,
        report: &SyncReport,
        moved: bool,
    ) {
        // Read outside the event: the logger must never run under the
        // state lock. A locked profile just logs without them.
        let (waiting, now_epoch) = self
            .with_loaded(|loaded| {
                let e = entry(loaded, space)?;
                Ok((e.waiting.len(), e.epoch))
            })
            .unwrap_or((0, epoch));
        let refused = report.refused.saturating_sub(start.refused);
        tracing::debug!(
            epoch,
            pushed = report.pushed.saturating_sub(start.pushed),
            pulled = report.pulled.saturating_sub(start.pulled),
            applied = report.applied.saturating_sub(start.applied),
            refused,
            requests_recorded = report
                .requests_recorded
                .saturating_sub(start.requests_recorded),
            snapshots = report.snapshots.saturating_sub(start.snapshots),
            waiting,
            "space sync pass"
        );
        if refused > 0 {
            tracing::warn!(
                epoch,
                refused,
                "refused received envelopes: forged, or not their author's to make"
            );
        }
        if report.left_out.len() > start.left_out {
            tracing::info!(epoch, "a handover left this device out of a space");
        } else if moved {
            tracing::info!(
                from_epoch = epoch,
                to_epoch = now_epoch,
                "handover adopted: a space moved to a new epoch"
            );
        }
    }
}
