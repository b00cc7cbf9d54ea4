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
    /// Set when the inviter (or a coordinator) withdrew the invite before it
    /// was used: a join concurrent with the revocation does not admit.
    #[autosurgeon(missing = "Option::default")]
    pub revoked_at: Option<Timestamp>,
}

/// Where an invite stands, as its inviter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteState {
    /// Waiting: nobody has been admitted with it.
    Open,
    /// Someone was admitted with it (`Invite::used_by`).
    Used,
    /// Withdrawn before it was used.
    Revoked,
    /// Past its expiry unused.
    Expired,
}

impl Invite {
    /// Where the invite stands at `now` (by the reader's clock; admissions
    /// go by the inviter's).
    pub fn state(&self, now: Timestamp) -> InviteState {
        if self.used_by.is_some() {
            InviteState::Used
        } else if self.revoked_at.is_some() {
            InviteState::Revoked
        } else if now >= self.expires_at {
            InviteState::Expired
        } else {
            InviteState::Open
        }
    }
}
