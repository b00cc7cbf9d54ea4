//! Syncing with the relay: the async calls (`suspend` in Kotlin, `async`
//! in Swift and Python) and what they report.

use std::sync::Arc;
use std::time::SystemTime;

use safespaces_core::app;

use crate::app::SafeSpaces;
use crate::error::SafeSpacesError;
use crate::invites::{Invitation, PendingJoin};
use crate::relay::RelayClient;
use crate::sequences::SequenceAlert;
use crate::space::Space;
use crate::time::timestamp;

/// What one sync did, summed over spaces.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Changes pushed to the relay.
    pub pushed: u64,
    /// Blobs pulled from the relay.
    pub pulled: u64,
    /// Changes applied.
    pub applied: u64,
    /// Changes refused (not their author's to make), and join requests
    /// for this device's invites that did not check out (dropped).
    pub refused: u64,
    /// Sign-up requests this device recorded as a lead.
    pub requests_recorded: u64,
    /// Snapshots written (compactions).
    pub snapshots: u64,
    /// Spaces this device was left out of (removed), by id.
    pub left_out: Vec<String>,
    /// Received envelopes that verified but could not be kept waiting for
    /// what they depend on (over the waiting list's budget); their changes
    /// arrive again with the next snapshot.
    pub waiting_dropped: u64,
    /// Joiners this device admitted: requests for its invites that it
    /// claimed from the relay and answered (their welcomes are in the
    /// relay's drop-boxes now). Admissions happen here, on the inviter's
    /// device, because only it holds the invite's code.
    pub admitted: u64,
    /// Spaces this device joined in this sync, by id: an inviter's device
    /// admitted a join asked for with `joinViaRelay`. Open each with
    /// `SafeSpaces.space`; they left `pendingJoins`.
    pub joined: Vec<String>,
    /// Spaces whose sync failed while the others went on (their mailbox
    /// gone or refused): show them as not up to date; the next sync tries
    /// again. A sync throws only when nothing got through.
    pub failed: Vec<SpaceSyncFailure>,
    /// Why the journal's sync failed, if it did while the spaces went on.
    pub journal_failed: Option<String>,
    /// Spaces where, since the last report, envelopes were found missing
    /// (the relay withheld or lost them) or a member's device was found
    /// using one number for two envelopes. Each is reported once; show it
    /// with the space (`Space.sequenceStatus` keeps the standing counts).
    /// Empty when all is well.
    pub sequence_alerts: Vec<SequenceAlert>,
}

/// One space whose sync failed in a [`SyncReport`].
#[derive(uniffi::Record, Clone, Debug, PartialEq, Eq)]
pub struct SpaceSyncFailure {
    /// The space's id.
    pub space: String,
    /// What went wrong.
    pub reason: String,
}

impl From<app::SyncReport> for SyncReport {
    fn from(r: app::SyncReport) -> Self {
        SyncReport {
            pushed: r.pushed as u64,
            pulled: r.pulled as u64,
            applied: r.applied as u64,
            refused: r.refused as u64,
            requests_recorded: r.requests_recorded as u64,
            snapshots: r.snapshots as u64,
            left_out: r.left_out,
            waiting_dropped: r.waiting_dropped as u64,
            admitted: r.admitted as u64,
            joined: r.joined,
            failed: r
                .failed
                .into_iter()
                .map(|f| SpaceSyncFailure {
                    space: f.space,
                    reason: f.reason,
                })
                .collect(),
            journal_failed: r.journal_failed,
            sequence_alerts: r.sequence_alerts.into_iter().map(Into::into).collect(),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SafeSpaces {
    /// Syncs every space (and the journal, if turned on) with the relay:
    /// pushes what this device made, pulls what others made. First it
    /// completes pending joins whose welcome came (`SyncReport.joined`);
    /// per space it admits requests for this device's invites before
    /// pushing, then hands out their welcomes (`SyncReport.admitted`). Throws
    /// `Offline`, `PinMismatch` or `RelayRefused` when the relay is not
    /// usable; nothing is lost, retry later.
    pub async fn sync(
        &self,
        client: Arc<RelayClient>,
        now: SystemTime,
    ) -> Result<SyncReport, SafeSpacesError> {
        Ok(self
            .inner
            .sync(&client.inner, timestamp(now, "now")?)
            .await?
            .into())
    }

    /// Asks to join a space with an invite code whose package was
    /// published to the relay (`Space.publishInvite`), as `pseudonym`:
    /// claims the package (it can be claimed once) and leaves a request
    /// sealed to the inviter's devices. It returns before anyone admits
    /// the request: the space arrives with a later `sync`, after an
    /// inviter's device has synced and admitted it (`SyncReport.joined`
    /// then lists it; until then `pendingJoins` does). Throws
    /// `RelayRefused` with code `dropbox_not_found` when the package was
    /// claimed already (or never published).
    pub async fn join_via_relay(
        &self,
        client: Arc<RelayClient>,
        code: String,
        pseudonym: String,
        now: SystemTime,
    ) -> Result<PendingJoin, SafeSpacesError> {
        Ok(self
            .inner
            .join_via_relay(&client.inner, &code, &pseudonym, timestamp(now, "now")?)
            .await?
            .into())
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Space {
    /// Puts an invite's package in its relay drop-box, where the invitee's
    /// device claims it (once) with the code. From then on this device's
    /// `sync` answers the invitee's request, and notices when the package
    /// was claimed but nobody asked to join (`InviteStatus.claimed`).
    pub async fn publish_invite(
        &self,
        client: Arc<RelayClient>,
        invitation: Invitation,
        now: SystemTime,
    ) -> Result<(), SafeSpacesError> {
        Ok(self
            .inner
            .publish_invite(
                &client.inner,
                &invitation.try_into()?,
                timestamp(now, "now")?,
            )
            .await?)
    }
}
