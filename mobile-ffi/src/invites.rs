//! Invites, joining, and what importing a bundle did.
//!
//! Joining is a round trip (protocol v2): the inviter's `invite` makes a
//! code and a sealed package; the joiner answers with a request sealed to
//! the inviter's devices; the inviter's device admits it (a change every
//! member's device checks) and answers with a welcome sealed to the
//! joiner's device. The package holds no key to the space: without the
//! code it reads nothing, with it only the space's name and the role.
//! Only an admission by the inviter lets a device read the space.

use std::time::SystemTime;

use safespaces_core::{app, model};

use crate::error::SafeSpacesError;
use crate::members::Role;
use crate::time::{system_time, timestamp};

/// An invite, ready to hand over. The invitee needs the code and the
/// package: through the relay's drop-box (`Space.publishInvite`, then the
/// invitee's `joinViaRelay`), or as a file (`SafeSpaces.requestJoin`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Invitation {
    /// The code to give the invitee (QR code, aloud, another messenger).
    /// Starts with `ss2-`.
    pub code: String,
    /// The invite's id in the space, to follow it in `Space.invites` and
    /// withdraw it with `Space.revokeInvite`.
    pub invite_id: String,
    /// The relay drop-box the package goes in, hex.
    pub dropbox_id: String,
    /// The sealed package: the space's name, the role, and the inviter's
    /// devices to seal the request to, readable only with the code. It
    /// holds no key to the space.
    pub sealed_package: Vec<u8>,
    /// When it stops working.
    pub expires_at: SystemTime,
}

impl From<app::Invitation> for Invitation {
    fn from(i: app::Invitation) -> Self {
        Invitation {
            code: i.code,
            invite_id: i.invite_id,
            dropbox_id: i.dropbox_id,
            sealed_package: i.package,
            expires_at: system_time(i.expires_at),
        }
    }
}

/// Fallible because the app may build an `Invitation` itself, with any
/// `expires_at`.
impl TryFrom<Invitation> for app::Invitation {
    type Error = SafeSpacesError;

    fn try_from(i: Invitation) -> Result<Self, SafeSpacesError> {
        Ok(app::Invitation {
            code: i.code,
            invite_id: i.invite_id,
            dropbox_id: i.dropbox_id,
            package: i.sealed_package,
            expires_at: timestamp(i.expires_at, "expires_at")?,
        })
    }
}

/// Where an invite stands, as the space records it, so an inviter can see
/// which invites may still let someone in and withdraw those that should
/// not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum InviteState {
    /// Nobody has been admitted with it yet; it can still admit one person.
    Open,
    /// Someone was admitted with it (`InviteStatus.usedBy`); it admits
    /// nobody else.
    Used,
    /// Withdrawn before it was used (`Space.revokeInvite`).
    Revoked,
    /// Past its expiry, unused.
    Expired,
}

impl From<model::InviteState> for InviteState {
    fn from(state: model::InviteState) -> Self {
        match state {
            model::InviteState::Open => InviteState::Open,
            model::InviteState::Used => InviteState::Used,
            model::InviteState::Revoked => InviteState::Revoked,
            model::InviteState::Expired => InviteState::Expired,
        }
    }
}

/// One of the space's invites (`Space.invites`), for a screen where the
/// inviter follows and withdraws them.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct InviteStatus {
    /// The invite's id (`Invitation.inviteId`).
    pub invite_id: String,
    /// The role it grants.
    pub role: Role,
    /// The member who issued it.
    pub created_by: String,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// Open, used, revoked or expired, as the space records it.
    pub state: InviteState,
    /// The member it admitted, once used; `null` before.
    pub used_by: Option<String>,
    /// This device issued it, the relay no longer holds its package, and
    /// nobody has been admitted: someone has the package. If the person it
    /// was for has not taken it, withdraw it (`Space.revokeInvite`).
    pub claimed: bool,
}

impl From<app::InviteStatus> for InviteStatus {
    fn from(s: app::InviteStatus) -> Self {
        InviteStatus {
            invite_id: s.invite_id,
            role: s.role.into(),
            created_by: s.created_by.to_string(),
            expires_at: system_time(s.expires_at),
            state: s.state.into(),
            used_by: s.used_by.map(|m| m.to_string()),
            claimed: s.claimed,
        }
    }
}

/// A join request made without the relay (`SafeSpaces.requestJoin`): hand
/// `request` to the inviter as a file, who admits it with `Space.admit`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct JoinRequestFile {
    /// The space's name, from the package, to show before handing it over.
    pub space_name: String,
    /// The role the invite grants.
    pub role: Role,
    /// The sealed request; only the inviter's devices open it.
    pub request: Vec<u8>,
}

impl From<app::JoinRequestFile> for JoinRequestFile {
    fn from(r: app::JoinRequestFile) -> Self {
        JoinRequestFile {
            space_name: r.space_name,
            role: r.role.into(),
            request: r.request,
        }
    }
}

/// A join this device asked for that no inviter's device has answered yet
/// (`SafeSpaces.pendingJoins`): the space is not on this device until its
/// welcome arrives, so show it as "waiting to be let in" meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PendingJoin {
    /// The space's id (32 hex digits); `SafeSpaces.space` finds it once
    /// `SyncReport.joined` lists it (or `SafeSpaces.join` returned it).
    pub space: String,
    /// Its name, from the package.
    pub space_name: String,
    /// The role the invite grants.
    pub role: Role,
    /// When the invite stops working: past it, no inviter admits the
    /// request; ask for a new invite.
    pub expires_at: SystemTime,
}

impl From<app::PendingJoinStatus> for PendingJoin {
    fn from(p: app::PendingJoinStatus) -> Self {
        PendingJoin {
            space: p.space,
            space_name: p.space_name,
            role: p.role.into(),
            expires_at: system_time(p.expires_at),
        }
    }
}

/// What importing a bundle did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct BundleReport {
    /// The space it was for.
    pub space: String,
    /// Changes applied.
    pub applied: u64,
    /// Changes refused (not their author's to make).
    pub refused: u64,
    /// Sign-up requests this device recorded as a lead.
    pub requests_recorded: u64,
    /// Envelopes of an epoch this device has moved on from, left unapplied:
    /// the bundle's author has not caught up with a removal yet; ask them
    /// to import a newer bundle first.
    pub stale: u64,
}

impl From<app::BundleReport> for BundleReport {
    fn from(r: app::BundleReport) -> Self {
        BundleReport {
            space: r.space,
            applied: r.applied as u64,
            refused: r.refused as u64,
            requests_recorded: r.requests_recorded as u64,
            stale: r.stale as u64,
        }
    }
}
