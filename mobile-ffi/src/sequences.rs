//! What a space's envelope numbers say: an alert in a sync report, and
//! where they stand on this device.

use safespaces_core::app;

/// Something wrong with one space's envelope numbers, in a [`SyncReport`](crate::SyncReport).
/// What arrived was applied as usual; this says some of it may be missing
/// or that someone's app misbehaves.
#[derive(uniffi::Record, Clone, Debug, PartialEq, Eq)]
pub struct SequenceAlert {
    /// The space's id.
    pub space: String,
    /// Envelopes newly found missing: later ones of the same member's
    /// device arrived, these did not, and no snapshot covers them.
    pub missing: u64,
    /// Numbers newly found used by one device for two different envelopes:
    /// a modified app, or a device restored from an old backup.
    pub reused: u64,
}

impl From<app::SequenceAlert> for SequenceAlert {
    fn from(a: app::SequenceAlert) -> Self {
        SequenceAlert {
            space: a.space,
            missing: a.missing,
            reused: a.reused,
        }
    }
}

/// Where one space's envelope numbers stand on this device
/// (`Space.sequenceStatus`): all zero when all is well.
#[derive(uniffi::Record, Clone, Debug, PartialEq, Eq)]
pub struct SequenceStatus {
    /// Envelopes missing now from the current epoch's mailbox (0 again if
    /// they arrive after all, and after the space moves to a new epoch).
    pub missing: u64,
    /// Missing envelopes noticed over the space's life on this device.
    pub missing_noticed: u64,
    /// Numbers a member's device used for two different envelopes,
    /// noticed over the space's life on this device.
    pub reused: u64,
}

impl From<app::SequenceStatus> for SequenceStatus {
    fn from(s: app::SequenceStatus) -> Self {
        SequenceStatus {
            missing: s.missing,
            missing_noticed: s.missing_noticed,
            reused: s.reused,
        }
    }
}
