//! [`BundleReport`]: what receiving a space's envelopes did, counted the
//! same way for an imported bundle and a relay pull.

/// What importing a bundle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleReport {
    /// The space it was for, hex.
    pub space: String,
    /// Changes applied.
    pub applied: usize,
    /// Changes refused (not their author's to make).
    pub refused: usize,
    /// Attendance requests this device recorded as a lead.
    pub requests_recorded: usize,
    /// The epoch this device moved to, if the bundle carried a handover.
    pub new_epoch: Option<u32>,
    /// A handover left this device out: it was removed from the space.
    pub left_out: bool,
    /// Envelopes this device holds no key for (a later epoch it was not given).
    pub unreadable: usize,
    /// Envelopes of an epoch this device has moved on from, left unapplied
    /// (their authors seal what they still need to send again).
    pub stale: usize,
}
