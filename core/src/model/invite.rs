//! Invites as the space document records them.
//!
//! The secret part of an invite (the code) never enters the document. What
//! the inviter records is the invite's id and the public key that the joiner
//! must sign with, both derived from the secret (protocol.md §5), so every
//! member's device can check that whoever joined held a valid, unused code.

use autosurgeon::{Hydrate, Reconcile};

use super::ids::MemberId;
use super::member::Role;
use super::time::Timestamp;

/// An invite as stored under `invites/<invite id>`.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Invite {
    /// The role the joiner receives.
    pub role: Role,
    /// When the invite stops working.
    pub expires_at: Timestamp,
    /// Who issued it.
    pub created_by: MemberId,
    /// Hex Ed25519 key derived from the invite secret; the joiner's proof
    /// must verify under it.
    pub verifying_key: String,
    /// The member who used it, once used: an invite works once.
    pub used_by: Option<MemberId>,
    /// The joiner's proof (hex Ed25519 signature by the invite's key over
    /// the invite, member and device ids), so the join can be verified from
    /// any copy of the history.
    pub proof: Option<String>,
}
