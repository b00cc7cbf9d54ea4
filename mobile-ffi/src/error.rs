//! The one error the foreign side sees.
//!
//! Few variants, each one something an app can act on (show the unlock
//! screen, ask again, refresh a list, ask for a new invite, update, report a
//! bug), chosen from core's `ErrorClass`, the classification the CLI's exit
//! codes come from too. The detail is in `reason`, a message that names ids and fields but
//! never content (no journal text, no names), so apps may log it.
//!
//! The enum is `#[non_exhaustive]` in Rust, and foreign code should keep an
//! `else`/`default` branch: later versions may add variants.

use safespaces_core::app::{AppError, ErrorClass};
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
    /// Something from outside this device (a bundle, a backup, an invite
    /// package, another device's envelope, request or welcome, the relay's
    /// answer) was refused: not meant for this device, for another space,
    /// damaged on the way, not what it claims, or from a newer version
    /// ("update the app"). Nothing on the device changed and nothing there
    /// is damaged: say so, and ask for another. (Core's
    /// `ErrorClass::RefusedInput`; this device's own damaged data is
    /// [`SafeSpacesError::DamagedData`].)
    #[error("input refused: {reason}")]
    RefusedInput {
        /// What was refused and why.
        reason: String,
    },
    /// This device's own stored data is damaged (a registry field, a key
    /// or document it names, the store), or was written by a version of
    /// the app this one does not read. Restore from a backup, or update.
    #[error("stored data is damaged: {reason}")]
    DamagedData {
        /// What is damaged.
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
        let reason = err.to_string();
        from_class(err.class(), reason, err.relay())
    }
}

/// The variant for a class: the one table from core's classification to
/// what the foreign side sees (the CLI's exit codes come from the same
/// classes, in `cli/src/exit.rs`).
fn from_class(class: ErrorClass, reason: String, relay: Option<&RelayError>) -> SafeSpacesError {
    match class {
        ErrorClass::Locked => SafeSpacesError::Locked,
        ErrorClass::WrongSecret => SafeSpacesError::WrongSecret,
        ErrorClass::NoProfile => SafeSpacesError::NoProfile { reason },
        ErrorClass::NotAMember => SafeSpacesError::NotAMember,
        ErrorClass::NotAllowed => SafeSpacesError::NotAllowed { reason },
        ErrorClass::NotFound => SafeSpacesError::NotFound { reason },
        ErrorClass::InviteUnusable => SafeSpacesError::InviteUnusable { reason },
        // Creating a profile where one exists: an app passed a directory in
        // use, its own input (the CLI, where a person typed the path,
        // reports it with the profile's other states).
        ErrorClass::InvalidInput | ErrorClass::ProfileExists => {
            SafeSpacesError::InvalidInput { reason }
        }
        ErrorClass::RefusedInput => SafeSpacesError::RefusedInput { reason },
        ErrorClass::DamagedData => SafeSpacesError::DamagedData { reason },
        ErrorClass::Storage => SafeSpacesError::Storage { reason },
        ErrorClass::Offline => SafeSpacesError::Offline { reason },
        ErrorClass::PinMismatch => SafeSpacesError::PinMismatch { reason },
        ErrorClass::RelayRefused => match relay {
            Some(RelayError::Refused { code, message, .. }) => SafeSpacesError::RelayRefused {
                code: code.as_str().to_owned(),
                detail: message.clone(),
            },
            // Core classes only the relay's own refusals so; anything else
            // would be a bug in that table.
            _ => SafeSpacesError::Internal { reason },
        },
        ErrorClass::Internal => SafeSpacesError::Internal { reason },
    }
}

impl From<RelayError> for SafeSpacesError {
    fn from(err: RelayError) -> Self {
        AppError::from(err).into()
    }
}

impl From<ModelError> for SafeSpacesError {
    fn from(err: ModelError) -> Self {
        AppError::from(err).into()
    }
}

impl From<LinkError> for SafeSpacesError {
    fn from(err: LinkError) -> Self {
        AppError::from(err).into()
    }
}

impl From<AttendanceError> for SafeSpacesError {
    fn from(err: AttendanceError) -> Self {
        AppError::from(err).into()
    }
}

impl From<ProfileError> for SafeSpacesError {
    fn from(err: ProfileError) -> Self {
        AppError::from(err).into()
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
    use safespaces_core::app::{InputSource, InviteUseError};
    use safespaces_core::protocol::error::InviteError;
    use safespaces_core::relay::ErrorCode;

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
            SafeSpacesError::from(AppError::from(InviteUseError::Expired)),
            SafeSpacesError::InviteUnusable { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::from(InviteUseError::NotAdmittedYet)),
            SafeSpacesError::InviteUnusable { .. }
        ));
        // A join request that does not check out is refused input: the
        // inviter is not told her invite is unusable.
        assert!(matches!(
            SafeSpacesError::from(AppError::from(InviteUseError::RequestUnproven(
                InviteError::BadProof
            ))),
            SafeSpacesError::RefusedInput { .. }
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
            SafeSpacesError::RefusedInput { .. }
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
            SafeSpacesError::RefusedInput { .. }
        ));
        // A bundle that is not hers is refused input, never damaged data;
        // her own damaged store is.
        assert!(matches!(
            SafeSpacesError::from(AppError::RefusedInput {
                from: InputSource::Bundle,
                why: "it is for no space on this device",
                source: None,
            }),
            SafeSpacesError::RefusedInput { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(ProfileError::Corrupt("keyring".into())),
            SafeSpacesError::DamagedData { .. }
        ));
        assert!(matches!(
            SafeSpacesError::from(AppError::Relay(RelayError::Refused {
                code: ErrorCode::MailboxNotFound,
                status: 404,
                message: "no mailbox".into(),
            })),
            SafeSpacesError::RelayRefused { code, .. } if code == "mailbox_not_found"
        ));
    }

    /// Every class core knows reaches the variant an app acts on for it;
    /// with core's `core_errors_fall_in_the_class_an_app_acts_on` and the
    /// CLI's `every_class_exits_with_its_documented_code`, each core error's
    /// variant and exit code follow from one classification.
    #[test]
    fn every_class_has_the_variant_an_app_acts_on() {
        let refused = RelayError::Refused {
            code: ErrorCode::Forbidden,
            status: 403,
            message: "no".into(),
        };
        for class in ErrorClass::ALL {
            let variant = from_class(class, "r".into(), Some(&refused));
            let expected = match class {
                ErrorClass::Locked => matches!(variant, SafeSpacesError::Locked),
                ErrorClass::WrongSecret => matches!(variant, SafeSpacesError::WrongSecret),
                ErrorClass::NoProfile => matches!(variant, SafeSpacesError::NoProfile { .. }),
                ErrorClass::NotAMember => matches!(variant, SafeSpacesError::NotAMember),
                ErrorClass::NotAllowed => matches!(variant, SafeSpacesError::NotAllowed { .. }),
                ErrorClass::NotFound => matches!(variant, SafeSpacesError::NotFound { .. }),
                ErrorClass::InviteUnusable => {
                    matches!(variant, SafeSpacesError::InviteUnusable { .. })
                }
                ErrorClass::InvalidInput | ErrorClass::ProfileExists => {
                    matches!(variant, SafeSpacesError::InvalidInput { .. })
                }
                ErrorClass::RefusedInput => matches!(variant, SafeSpacesError::RefusedInput { .. }),
                ErrorClass::DamagedData => matches!(variant, SafeSpacesError::DamagedData { .. }),
                ErrorClass::Storage => matches!(variant, SafeSpacesError::Storage { .. }),
                ErrorClass::Offline => matches!(variant, SafeSpacesError::Offline { .. }),
                ErrorClass::PinMismatch => matches!(variant, SafeSpacesError::PinMismatch { .. }),
                ErrorClass::RelayRefused => matches!(
                    &variant,
                    SafeSpacesError::RelayRefused { code, .. } if code == "forbidden"
                ),
                ErrorClass::Internal => matches!(variant, SafeSpacesError::Internal { .. }),
            };
            assert!(expected, "{class:?} became {variant:?}");
        }
    }
}
