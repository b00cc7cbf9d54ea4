//! The protocol's errors that more than one file returns, and an index of
//! every way the protocol refuses input.
//!
//! Defined here, because several files return them:
//! - [`AuthorshipError`]: a change batch that is not its signer's to send
//!   (authorship, admissions, session rules, staging).
//! - [`InviteError`]: an invite code, package, request or welcome refused,
//!   or a device binding that does not verify (invites, device keys).
//! - [`RotationError`]: a handover, key grant or admin grant that could not
//!   be made or opened (rotation, key grants, admin grants).
//!
//! Defined next to the one format each refuses, whose limits and versions
//! their messages name:
//! - [`EnvelopeError`](super::envelope::EnvelopeError): a blob that is not
//!   a sealed, signed envelope of this space and epoch.
//! - [`ReceiveError`](super::exchange::ReceiveError): a received envelope
//!   whose changes were not applied (wraps envelope, authorship and
//!   attestation errors).
//! - [`AttestationError`](super::attestation::AttestationError): a device's
//!   proof that changes are its own that does not verify.
//! - [`AttendanceError`](super::attendance::AttendanceError): a sign-up
//!   request that could not be made, opened or applied.
//! - [`GenesisError`](super::genesis::GenesisError): a history that does
//!   not start with this space's creation.
//! - [`JournalEpochError`](super::journal_epoch::JournalEpochError): a
//!   journal handover that could not be made or read.
//! - [`LinkError`](super::link::LinkError): a device link refused.
//! - [`SnapshotError`](super::snapshot::SnapshotError): a snapshot body
//!   that does not decode.
//! - [`HandoverRefusal`](super::rotation::HandoverRefusal): a handover that
//!   does not (yet) move the space on.

/// Why a batch may not be applied. Nothing was applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorshipError {
    /// The signing device is not a device of any member of the space.
    #[error("device {0} does not belong to a member of this space")]
    UnknownDevice(String),
    /// The signing device was removed (a lost phone) at the change's causal
    /// point: nothing it writes after its removal counts.
    #[error("device {0} was removed from this space")]
    RemovedDevice(String),
    /// A change carries another actor id than the signing device's.
    #[error("a change in the batch is attributed to another device than the one that signed it")]
    ForeignActor,
    /// The author was not an active member at the change's causal point.
    #[error("the author was not a member when they made this change")]
    NotAMember,
    /// An operation touches something the author's role may not change.
    #[error("a {role} may not change {path}")]
    NotPermitted {
        /// The author's role at the change's causal point.
        role: &'static str,
        /// The path, e.g. `members/<id>/role`.
        path: String,
    },
    /// The batch depends on changes this replica has not received yet; try
    /// again when they arrive.
    #[error("the batch depends on changes not received yet")]
    MissingDependencies,
    /// The invite was already used at the join's causal point.
    #[error("the invite was already used")]
    InviteUsed,
    /// The join proof does not verify under the invite's key.
    #[error("the join was not made with a valid invite code")]
    BadProof,
    /// The batch could not be decoded.
    #[error("malformed change: {0}")]
    Malformed(String),
}

/// Why an invite could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteError {
    /// The text is not an invite code.
    #[error("not an invite code: expected `ss2-` followed by 26 letters and digits")]
    BadCode,
    /// The package, request or welcome does not open here, or is damaged.
    #[error("the invite could not be opened; check the code")]
    Undecryptable,
    /// The invite expired.
    #[error("this invite has expired; ask for a new one")]
    Expired,
    /// The join proof or the device's binding does not verify.
    #[error("the join was not made with a valid invite")]
    BadProof,
    /// The request or welcome is for another invite or space.
    #[error("this is for another invite")]
    Mismatch,
}

/// Why a handover could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// This device is not among the handover's recipients.
    #[error("this device was not given the new key")]
    NotARecipient,
    /// Nobody would remain to receive the key.
    #[error("no remaining device to hand the new key to")]
    NobodyLeft,
    /// The space is at the last epoch a handover can leave.
    #[error("the space cannot move past epoch {0}")]
    LastEpoch(u32),
    /// The handover bytes are damaged or not a handover.
    #[error("malformed handover: {0}")]
    Malformed(String),
}
