//! Why an invite could not be used at one step of a join (protocol.md §5):
//! on the joiner's device (the code, the package, the welcome, the bundle)
//! or on the inviter's (the join request).
//!
//! Each variant names the step and what was wrong with it; where the
//! protocol refused a message, its [`InviteError`] is the source. The
//! messages name no person, space or invite (they may be logged). How each
//! is classified (an invite that does not fit, or input that was refused)
//! is in `error_class.rs`.

use crate::protocol::error::InviteError;

/// Why a join step failed. Nothing was changed: no request recorded, nobody
/// admitted, no space joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InviteUseError {
    /// The text is not an invite code: typed or copied wrong.
    #[error("{0}; check the code")]
    BadCode(#[source] InviteError),
    /// The invite expired before this device asked to join with it.
    #[error("this invite has expired; ask for a new one")]
    Expired,
    /// The invite's package does not open with the code: the code is for
    /// another invite, or the package was damaged on the way.
    #[error("the invite's package does not open with this code; check the code")]
    PackageUnreadable(#[source] InviteError),
    /// The package lists an inviter's device whose key a join request
    /// cannot be sealed to: an invite that reaches all of them or none.
    #[error("the invite lists an inviter's device that cannot be written to; ask for a new invite")]
    InviterUnreachable(#[source] InviteError),
    /// This device was removed from that space (a lost device): it cannot
    /// join it again, the person can from another device.
    #[error(
        "this device was removed from that space and cannot join it again; join from another device"
    )]
    DeviceRemoved,
    /// The join request does not open with this device's keys, or is
    /// damaged: not meant for this device, or changed on the way.
    #[error("the join request does not open on this device, or was damaged on the way")]
    RequestUnreadable(#[source] InviteError),
    /// The join request does not prove what it claims: its invite proof
    /// does not verify under the invite's key, or its device's binding
    /// under the device's own key. Whoever else holds the code may send
    /// such a request.
    #[error("the join request was not made with this invite's code or its device's own keys")]
    RequestUnproven(#[source] InviteError),
    /// The join request is for another space than the one answering it.
    #[error("this join request is for another space")]
    RequestForAnotherSpace,
    /// The join request names an invite this device did not issue in this
    /// space, or one it withdrew.
    #[error(
        "this join request is not for an invite this device issued in this space (or it was withdrawn)"
    )]
    NotIssuedHere,
    /// The join request names a device key a welcome cannot be sealed to.
    #[error("the join request names a device key the welcome cannot be sealed to")]
    JoinerUnreachable(#[source] InviteError),
    /// The welcome does not open with this device's keys, or is damaged:
    /// sealed to another device, or changed on the way.
    #[error("the welcome does not open on this device, or was damaged on the way")]
    WelcomeUnreadable(#[source] InviteError),
    /// This device has no pending join for the welcome's space.
    #[error("this device has not asked to join that space")]
    NotAsked,
    /// The welcome answers another invite (or space) than the one this
    /// device asked with.
    #[error("this welcome is for another invite")]
    WelcomeForAnotherInvite,
    /// The bundle handed over with a welcome is not of the welcome's space.
    #[error("the bundle is not for the space of this welcome")]
    BundleForAnotherSpace,
    /// The bundle was made before the inviter admitted this device: a
    /// bundle made after the admission will do.
    #[error("the bundle does not show your admission yet; ask for one made after it")]
    NotAdmittedYet,
}

impl InviteUseError {
    /// The package could not be opened (`InvitePackage::open`): expired,
    /// or not opened by this code.
    pub(crate) fn package(err: InviteError) -> Self {
        match err {
            InviteError::Expired => InviteUseError::Expired,
            other => InviteUseError::PackageUnreadable(other),
        }
    }

    /// A join request could not be opened (`JoinRequest::open`): one that
    /// opened and whose device binding does not verify is unproven, any
    /// other unreadable.
    pub(crate) fn request(err: InviteError) -> Self {
        match err {
            InviteError::BadProof => InviteUseError::RequestUnproven(err),
            other => InviteUseError::RequestUnreadable(other),
        }
    }
}
