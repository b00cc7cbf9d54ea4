//! The one error the foreign side sees.
//!
//! Few variants, each one something an app can act on (show the unlock
//! screen, ask again, refresh a list, ask for a new invite, update, report a
//! bug). The detail is in `reason`, a message that names ids and fields but
//! never content (no journal text, no names), so apps may log it.
//!
//! The enum is `#[non_exhaustive]` in Rust, and foreign code should keep an
//! `else`/`default` branch: later versions may add variants.

use safespaces_core::app::AppError;
use safespaces_core::model::ModelError;
use safespaces_core::profile::ProfileError;
use safespaces_core::protocol::attendance::AttendanceError;
use safespaces_core::protocol::link::LinkError;
use safespaces_core::relay::RelayError;

/// Why an operation failed. A failed operation changed nothing.
///
/// Kotlin sees it as `SafeSpacesException`, Swift as `SafeSpacesError`,
/// Python as the exception `SafeSpacesError` with one subclass per variant.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum SafeSpacesError {
    /// The profile is locked: unlock it, then retry.
    #[error("the profile is locked; unlock it first")]
    Locked,
    /// The passphrase or keystore secret is wrong (also: a backup's
    /// passphrase). Ask again; a limit of failed attempts may be set.
    #[error("wrong passphrase or key")]
    WrongSecret,
    /// There is no profile here any more (never created, wiped, or wiped
    /// after too many failed attempts): offer to create or restore one.
    #[error("no profile: {reason}")]
    NoProfile {
        /// What was found.
        reason: String,
    },
    /// This person is not (or no longer) a member of the space.
    #[error("not a member of this space")]
    NotAMember,
    /// Their role, or the state of the thing, does not allow this (only
    /// coordinators may…, the session is cancelled, the last coordinator
    /// cannot leave…).
    #[error("not allowed: {reason}")]
    NotAllowed {
        /// What is not allowed and why.
        reason: String,
    },
    /// No such space, session, member, record, resource or journal entry
    /// (perhaps deleted elsewhere): refresh what is shown.
    #[error("not found: {reason}")]
    NotFound {
        /// What was looked for.
        reason: String,
    },
    /// The invite cannot be used (bad code, expired, already used,
    /// withdrawn), or a join request, welcome or bundle does not fit it
    /// (another space or invite, a bundle from before the admission):
    /// check the code, or ask for a new invite (or a newer bundle). Also a
    /// link code that cannot be used (typed wrong, expired, used, no answer
    /// in time, or someone else holding it interfered): check it, or start
    /// linking again on the new device.
    #[error("this invite cannot be used: {reason}")]
    InviteUnusable {
        /// What was wrong with it.
        reason: String,
    },
    /// A value the app passed is not acceptable (length, range, id format).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// Which value and what would be accepted.
        reason: String,
    },
    /// Bytes from disk or from another device (a bundle, an invite, a
    /// backup) are damaged, not what they claim, or from a newer version
    /// ("update the app").
    #[error("invalid data: {reason}")]
    InvalidData {
        /// What was wrong.
        reason: String,
    },
    /// The device's storage failed (disk full, permissions).
    #[error("storage failed: {reason}")]
    Storage {
        /// What the operating system said.
        reason: String,
    },
    /// The relay cannot be reached (no network, relay down, timeout, TLS
    /// failure). Work stays on the device; retry later.
    #[error("offline: {reason}")]
    Offline {
        /// What failed.
        reason: String,
    },
    /// The relay's certificate carries a key none of the pins name:
    /// possibly an attacker in the middle, possibly a relay whose operator
    /// changed its key without announcing the new pin first. Do not retry
    /// silently; ask the person to check the relay's pins.
    #[error("the relay's certificate does not match the pin: {reason}")]
    PinMismatch {
        /// The expected and presented pins.
        reason: String,
    },
    /// The relay refused the request; nothing was stored there. Branch on
    /// `code` (stable, e.g. `mailbox_not_found`), never on `detail`.
    /// (Not `message`: that would clash with Kotlin's `Throwable.message`.)
    #[error("the relay refused the request: {code}: {detail}")]
    RelayRefused {
        /// The relay's stable error code.
        code: String,
        /// The relay's explanation; may change between versions.
        detail: String,
    },
    /// A bug: a callback into the app failed unexpectedly, or core reported
    /// an error this version of the FFI does not know.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl From<AppError> for SafeSpacesError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Locked => SafeSpacesError::Locked,
            AppError::WrongSecret => SafeSpacesError::WrongSecret,
            AppError::UnknownSpace(_) => SafeSpacesError::NotFound {
                reason: err.to_string(),
            },
            AppError::Model(model) => model.into(),
            AppError::Attendance(attendance) => attendance.into(),
            AppError::Profile(profile) => profile.into(),
            AppError::Invite(_) | AppError::AlreadyMember => SafeSpacesError::InviteUnusable {
                reason: err.to_string(),
            },
            AppError::Corrupt(_) => SafeSpacesError::InvalidData {
                reason: err.to_string(),
            },
            AppError::Relay(relay) => relay.into(),
            AppError::Link(link) => link.into(),
            other => SafeSpacesError::Internal {
                reason: other.to_string(),
            },
        }
    }
}

impl From<RelayError> for SafeSpacesError {
    fn from(err: RelayError) -> Self {
        let reason = err.to_string();
        match err {
            RelayError::Offline { .. } | RelayError::Tls(_) => SafeSpacesError::Offline { reason },
            RelayError::PinMismatch { .. } => SafeSpacesError::PinMismatch { reason },
            RelayError::Refused { code, message, .. } => SafeSpacesError::RelayRefused {
                code: code.as_str().to_owned(),
                detail: message,
            },
            RelayError::Config(_) => SafeSpacesError::InvalidInput { reason },
            // A relay behind what this device read lost data it had
            // acknowledged: its answers are not to be trusted, as for a
            // malformed one.
            RelayError::Malformed(_) | RelayError::Rewound { .. } => {
                SafeSpacesError::InvalidData { reason }
            }
            RelayError::NotAdmin => SafeSpacesError::NotAllowed { reason },
            _ => SafeSpacesError::Internal { reason },
        }
    }
}

impl From<ModelError> for SafeSpacesError {
    fn from(err: ModelError) -> Self {
        let reason = err.to_string();
        match err {
            ModelError::NotAMember => SafeSpacesError::NotAMember,
            ModelError::NotPermitted { .. }
            | ModelError::SessionClosed(_)
            | ModelError::LastCoordinator => SafeSpacesError::NotAllowed { reason },
            ModelError::UnknownMember(_)
            | ModelError::UnknownSession(_)
            | ModelError::UnknownRecord(_)
            | ModelError::UnknownResource(_)
            | ModelError::UnknownEntry(_) => SafeSpacesError::NotFound { reason },
            ModelError::InvalidInput { .. } => SafeSpacesError::InvalidInput { reason },
            ModelError::InviteUsed | ModelError::InviteExpired | ModelError::InviteRevoked => {
                SafeSpacesError::InviteUnusable { reason }
            }
            ModelError::InvalidDocument { .. }
            | ModelError::UnsupportedSchema { .. }
            | ModelError::Changes(_) => SafeSpacesError::InvalidData { reason },
            _ => SafeSpacesError::Internal { reason },
        }
    }
}

impl From<LinkError> for SafeSpacesError {
    fn from(err: LinkError) -> Self {
        let reason = err.to_string();
        match err {
            // The person must act on the device, not on the code: compare
            // again, or decline.
            LinkError::FingerprintMismatch
            | LinkError::AlreadyAnswered
            | LinkError::NotANewDevice => SafeSpacesError::NotAllowed { reason },
            LinkError::BadCode
            | LinkError::Undecryptable
            | LinkError::NotForThisDevice
            | LinkError::NoRequest
            | LinkError::NoPackage
            | LinkError::PackageSlotTaken => SafeSpacesError::InviteUnusable { reason },
            LinkError::UnsupportedVersion(_) | LinkError::Seal(_) => {
                SafeSpacesError::InvalidData { reason }
            }
            _ => SafeSpacesError::Internal { reason },
        }
    }
}

impl From<AttendanceError> for SafeSpacesError {
    fn from(err: AttendanceError) -> Self {
        let reason = err.to_string();
        match err {
            AttendanceError::Model(model) => model.into(),
            AttendanceError::NoLeads
            | AttendanceError::NotARecipient
            | AttendanceError::TicketTaken
            | AttendanceError::AlreadySignedUp
            | AttendanceError::SignupsClosed
            | AttendanceError::BeforeJoining => SafeSpacesError::NotAllowed { reason },
            AttendanceError::BadSignature | AttendanceError::Malformed(_) => {
                SafeSpacesError::InvalidData { reason }
            }
            _ => SafeSpacesError::Internal { reason },
        }
    }
}

impl From<ProfileError> for SafeSpacesError {
    fn from(err: ProfileError) -> Self {
        let reason = err.to_string();
        match err {
            ProfileError::Locked => SafeSpacesError::Locked,
            // A wrong backup passphrase calls for the same action as a wrong
            // unlock passphrase: ask again.
            ProfileError::WrongSecret | ProfileError::BackupPassphrase => {
                SafeSpacesError::WrongSecret
            }
            ProfileError::NotFound(_) | ProfileError::Wiped => {
                SafeSpacesError::NoProfile { reason }
            }
            ProfileError::AlreadyExists(_) | ProfileError::InvalidInput(_) => {
                SafeSpacesError::InvalidInput { reason }
            }
            ProfileError::InvalidBackup(_) | ProfileError::Corrupt(_) => {
                SafeSpacesError::InvalidData { reason }
            }
            ProfileError::Io { .. } | ProfileError::Store(_) | ProfileError::Seal(_) => {
                SafeSpacesError::Storage { reason }
            }
            _ => SafeSpacesError::Internal { reason },
        }
    }
}

/// A foreign callback (a listener) threw
/// something it did not declare.
impl From<uniffi::UnexpectedUniFFICallbackError> for SafeSpacesError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SafeSpacesError::Internal { reason: err.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_variant_an_app_acts_on() {
        assert!(matches!(
            SafeSpacesError::from(AppError::from(ProfileError::WrongSecret)),
            SafeSpacesError::WrongSecret
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Model(ModelError::InviteExpired)),
            SafeSpacesError::InviteUnusable { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Model(ModelError::InviteRevoked)),
            SafeSpacesError::InviteUnusable { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Invite("expired".into())),
            SafeSpacesError::InviteUnusable { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Attendance(AttendanceError::Model(
                ModelError::NotAMember
            ))),
            SafeSpacesError::NotAMember
        ));
        assert!(matches!(
            SafeSpacesError::from(ProfileError::Wiped),
            SafeSpacesError::NoProfile { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Relay(RelayError::Tls("x".into()))),
            SafeSpacesError::Offline { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Relay(RelayError::Config("x".into()))),
            SafeSpacesError::InvalidInput { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Relay(RelayError::Rewound {
                cursor: 9,
                last_seq: 2
            })),
            SafeSpacesError::InvalidData { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Relay(RelayError::NotAdmin)),
            SafeSpacesError::NotAllowed { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::UnknownSpace("00".into())),
            SafeSpacesError::NotFound { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Link(LinkError::FingerprintMismatch)),
            SafeSpacesError::NotAllowed { .. }
        ));
        for unusable in [
            LinkError::NoRequest,
            LinkError::NoPackage,
            LinkError::PackageSlotTaken,
        ] {
            assert!(matches!(
                SafeSpacesError::from(AppError::Link(unusable)),
                SafeSpacesError::InviteUnusable { .. }
            ));
        }
        assert!(matches!(
            SafeSpacesError::from(AppError::Link(LinkError::UnsupportedVersion(1))),
            SafeSpacesError::InvalidData { .. }
        ));
    }
}
