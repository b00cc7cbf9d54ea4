//! The one classification of failures that apps and scripts act on.
//!
//! Every [`AppError`] falls in one [`ErrorClass`]; the FFI's
//! `SafeSpacesError` variant and the CLI's exit code are both chosen from
//! the class (`mobile-ffi/src/error.rs`, `cli/src/exit.rs`), so the two can
//! never disagree on what kind of failure something is. The table from
//! core errors to classes is this file and nowhere else.

use crate::model::ModelError;
use crate::profile::ProfileError;
use crate::protocol::RotationError;
use crate::protocol::attendance::AttendanceError;
use crate::protocol::link::LinkError;
use crate::relay::RelayError;
use crate::store::StoreError;

use super::error::AppError;
use super::invite_use_error::InviteUseError;

/// What kind of failure an [`AppError`] is: the distinctions an app's
/// screen or a script's exit code must make, and no finer.
///
/// Deliberately not `#[non_exhaustive]`: the FFI and the CLI match it
/// without a wildcard, so a class added here does not compile until both
/// have decided what it means for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// The profile is locked: unlock it, then retry.
    Locked,
    /// The passphrase or keystore secret is wrong (also a backup's).
    WrongSecret,
    /// No profile there (never created, or wiped).
    NoProfile,
    /// A profile already exists where one was to be created or restored.
    ProfileExists,
    /// This person is not (or no longer) a member of the space.
    NotAMember,
    /// Her role, or the state of the thing, does not allow this.
    NotAllowed,
    /// No such space, session, member, record, resource or entry.
    NotFound,
    /// The invite (or link code) cannot be used, or a join step does not
    /// fit it, or this device is already in that space.
    InviteUnusable,
    /// A value the person or the app passed is not acceptable.
    InvalidInput,
    /// Something from outside this device (a bundle, a backup, another
    /// device's envelope or request, the relay's answer) was refused:
    /// damaged, not meant for this device, or from another version.
    /// Nothing here changed.
    RefusedInput,
    /// This device's own stored data is damaged, or was written by a
    /// version of the app this one does not read.
    DamagedData,
    /// The device's storage failed (disk full, permissions).
    Storage,
    /// The relay cannot be reached.
    Offline,
    /// The relay's certificate carries a key none of the pins name.
    PinMismatch,
    /// The relay refused the request, with a stable code.
    RelayRefused,
    /// A bug in this app.
    Internal,
}

impl ErrorClass {
    /// Every class, in declaration order: for tests that check each side's
    /// table is complete.
    pub const ALL: [ErrorClass; 16] = [
        ErrorClass::Locked,
        ErrorClass::WrongSecret,
        ErrorClass::NoProfile,
        ErrorClass::ProfileExists,
        ErrorClass::NotAMember,
        ErrorClass::NotAllowed,
        ErrorClass::NotFound,
        ErrorClass::InviteUnusable,
        ErrorClass::InvalidInput,
        ErrorClass::RefusedInput,
        ErrorClass::DamagedData,
        ErrorClass::Storage,
        ErrorClass::Offline,
        ErrorClass::PinMismatch,
        ErrorClass::RelayRefused,
        ErrorClass::Internal,
    ];
}

impl AppError {
    /// The class of this failure, from which apps and scripts choose what
    /// to do (see the module docs).
    pub fn class(&self) -> ErrorClass {
        match self {
            AppError::Locked => ErrorClass::Locked,
            AppError::WrongSecret => ErrorClass::WrongSecret,
            AppError::UnknownSpace(_) => ErrorClass::NotFound,
            AppError::Model(e) => model(e),
            AppError::Attendance(e) => attendance(e),
            AppError::Profile(e) => profile(e),
            AppError::Relay(e) => relay(e),
            AppError::Invite(e) => invite(e),
            AppError::AlreadyMember => ErrorClass::InviteUnusable,
            AppError::Link(e) => link(e),
            AppError::Rotation(e) => rotation(e),
            AppError::DamagedLocalData { .. } | AppError::OtherVersion { .. } => {
                ErrorClass::DamagedData
            }
            AppError::RefusedInput { .. } => ErrorClass::RefusedInput,
            AppError::Internal { .. } => ErrorClass::Internal,
        }
    }
}

// Inside the crate these enums are exhaustive: a variant added to any of
// them does not compile until it is classified here.

fn model(err: &ModelError) -> ErrorClass {
    match err {
        ModelError::NotAMember => ErrorClass::NotAMember,
        ModelError::NotPermitted { .. }
        | ModelError::SessionClosed(_)
        | ModelError::LastCoordinator => ErrorClass::NotAllowed,
        ModelError::UnknownMember(_)
        | ModelError::UnknownSession(_)
        | ModelError::UnknownRecord(_)
        | ModelError::UnknownResource(_)
        | ModelError::UnknownEntry(_) => ErrorClass::NotFound,
        ModelError::InvalidInput { .. } => ErrorClass::InvalidInput,
        ModelError::InviteUsed | ModelError::InviteExpired | ModelError::InviteRevoked => {
            ErrorClass::InviteUnusable
        }
        // A document or changes handed in (a bundle, an envelope); a
        // document this device stored and cannot load is reported as
        // `DamagedLocalData` where it is loaded.
        ModelError::InvalidDocument { .. }
        | ModelError::UnsupportedSchema { .. }
        | ModelError::Changes(_) => ErrorClass::RefusedInput,
    }
}

fn invite(err: &InviteUseError) -> ErrorClass {
    match err {
        // The code, the invite or this device does not fit: check the
        // code, ask for a new invite, or (not admitted yet) for a bundle
        // made after the admission.
        InviteUseError::BadCode(_)
        | InviteUseError::Expired
        | InviteUseError::PackageUnreadable(_)
        | InviteUseError::DeviceRemoved
        | InviteUseError::RequestForAnotherSpace
        | InviteUseError::NotIssuedHere
        | InviteUseError::NotAsked
        | InviteUseError::WelcomeForAnotherInvite
        | InviteUseError::BundleForAnotherSpace
        | InviteUseError::NotAdmittedYet => ErrorClass::InviteUnusable,
        // A message another device made (the inviter's package, the
        // joiner's request, the inviter's welcome) that does not open or
        // does not check out: refused, and another one asked for. The
        // inviter must not be told to ask for a new invite.
        InviteUseError::InviterUnreachable(_)
        | InviteUseError::RequestUnreadable(_)
        | InviteUseError::RequestUnproven(_)
        | InviteUseError::JoinerUnreachable(_)
        | InviteUseError::WelcomeUnreadable(_) => ErrorClass::RefusedInput,
    }
}

fn attendance(err: &AttendanceError) -> ErrorClass {
    match err {
        AttendanceError::Model(e) => model(e),
        AttendanceError::NoLeads
        | AttendanceError::NotARecipient
        | AttendanceError::TicketTaken
        | AttendanceError::AlreadySignedUp
        | AttendanceError::SignupsClosed
        | AttendanceError::BeforeJoining => ErrorClass::NotAllowed,
        AttendanceError::BadSignature
        | AttendanceError::StaleOrForged
        | AttendanceError::Malformed(_) => ErrorClass::RefusedInput,
    }
}

fn profile(err: &ProfileError) -> ErrorClass {
    match err {
        ProfileError::Locked => ErrorClass::Locked,
        // A wrong backup passphrase calls for the same action as a wrong
        // unlock passphrase: ask again.
        ProfileError::WrongSecret | ProfileError::BackupPassphrase => ErrorClass::WrongSecret,
        ProfileError::NotFound(_) | ProfileError::Wiped => ErrorClass::NoProfile,
        ProfileError::AlreadyExists(_) => ErrorClass::ProfileExists,
        ProfileError::InvalidInput(_) => ErrorClass::InvalidInput,
        // A backup file comes from outside the profile it restores into.
        ProfileError::InvalidBackup(_) => ErrorClass::RefusedInput,
        ProfileError::Corrupt(_) => ErrorClass::DamagedData,
        ProfileError::Io { .. } => ErrorClass::Storage,
        ProfileError::Store(e) => store(e),
        ProfileError::Seal(_) => ErrorClass::Internal,
    }
}

fn store(err: &StoreError) -> ErrorClass {
    match err {
        StoreError::Io { .. } => ErrorClass::Storage,
        StoreError::Corrupt(_) | StoreError::Automerge(..) => ErrorClass::DamagedData,
        // Sealing into memory fails only through a bug.
        StoreError::Seal(_) => ErrorClass::Internal,
    }
}

fn relay(err: &RelayError) -> ErrorClass {
    match err {
        RelayError::Offline { .. } | RelayError::Tls(_) => ErrorClass::Offline,
        RelayError::PinMismatch { .. } => ErrorClass::PinMismatch,
        RelayError::Refused { .. } => ErrorClass::RelayRefused,
        RelayError::Config(_) => ErrorClass::InvalidInput,
        // A relay behind what this device read lost data it had
        // acknowledged: its answers are not to be trusted, as for a
        // malformed one.
        RelayError::Malformed(_) | RelayError::Rewound { .. } => ErrorClass::RefusedInput,
        RelayError::NotAdmin => ErrorClass::NotAllowed,
    }
}

fn link(err: &LinkError) -> ErrorClass {
    match err {
        // The person must act on the device, not on the code: compare
        // again, or decline.
        LinkError::FingerprintMismatch | LinkError::AlreadyAnswered | LinkError::NotANewDevice => {
            ErrorClass::NotAllowed
        }
        LinkError::BadCode
        | LinkError::Undecryptable
        | LinkError::NotForThisDevice
        | LinkError::NoRequest
        | LinkError::NoPackage
        | LinkError::PackageSlotTaken => ErrorClass::InviteUnusable,
        // `Seal` fails on a bad recipient in the new device's request.
        LinkError::UnsupportedVersion(_) | LinkError::Seal(_) => ErrorClass::RefusedInput,
    }
}

fn rotation(err: &RotationError) -> ErrorClass {
    match err {
        RotationError::NobodyLeft | RotationError::LastEpoch(_) => ErrorClass::NotAllowed,
        RotationError::NotARecipient | RotationError::Malformed(_) => ErrorClass::RefusedInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::error::InputSource;
    use crate::protocol::error::InviteError;

    #[test]
    fn all_lists_every_class_once() {
        let mut seen = std::collections::BTreeSet::new();
        for class in ErrorClass::ALL {
            assert!(seen.insert(class), "{class:?} twice");
        }
    }

    #[test]
    fn core_errors_fall_in_the_class_an_app_acts_on() {
        let cases = [
            (
                AppError::from(ProfileError::WrongSecret),
                ErrorClass::WrongSecret,
            ),
            (
                AppError::from(ProfileError::BackupPassphrase),
                ErrorClass::WrongSecret,
            ),
            (AppError::from(ProfileError::Wiped), ErrorClass::NoProfile),
            (
                AppError::from(ProfileError::AlreadyExists("p".into())),
                ErrorClass::ProfileExists,
            ),
            (
                AppError::from(ProfileError::Corrupt("keyring".into())),
                ErrorClass::DamagedData,
            ),
            (
                AppError::from(ProfileError::Store(StoreError::Corrupt("chunk".into()))),
                ErrorClass::DamagedData,
            ),
            (
                AppError::Model(ModelError::InviteExpired),
                ErrorClass::InviteUnusable,
            ),
            (
                AppError::from(InviteUseError::Expired),
                ErrorClass::InviteUnusable,
            ),
            (
                AppError::from(InviteUseError::BadCode(InviteError::BadCode)),
                ErrorClass::InviteUnusable,
            ),
            (
                AppError::from(InviteUseError::NotAdmittedYet),
                ErrorClass::InviteUnusable,
            ),
            (
                AppError::from(InviteUseError::DeviceRemoved),
                ErrorClass::InviteUnusable,
            ),
            // A request or welcome that does not check out is refused
            // input: the inviter is not told her invite is unusable.
            (
                AppError::from(InviteUseError::RequestUnproven(InviteError::BadProof)),
                ErrorClass::RefusedInput,
            ),
            (
                AppError::from(InviteUseError::WelcomeUnreadable(
                    InviteError::Undecryptable,
                )),
                ErrorClass::RefusedInput,
            ),
            (AppError::AlreadyMember, ErrorClass::InviteUnusable),
            (
                AppError::Attendance(AttendanceError::Model(ModelError::NotAMember)),
                ErrorClass::NotAMember,
            ),
            (AppError::UnknownSpace("00".into()), ErrorClass::NotFound),
            (
                AppError::Relay(RelayError::Tls("x".into())),
                ErrorClass::Offline,
            ),
            (
                AppError::Relay(RelayError::Config("x".into())),
                ErrorClass::InvalidInput,
            ),
            (
                AppError::Relay(RelayError::Rewound {
                    cursor: 9,
                    last_seq: 2,
                }),
                ErrorClass::RefusedInput,
            ),
            (
                AppError::Relay(RelayError::NotAdmin),
                ErrorClass::NotAllowed,
            ),
            (
                AppError::Link(LinkError::FingerprintMismatch),
                ErrorClass::NotAllowed,
            ),
            (
                AppError::Link(LinkError::NoPackage),
                ErrorClass::InviteUnusable,
            ),
            (
                AppError::Link(LinkError::UnsupportedVersion(1)),
                ErrorClass::RefusedInput,
            ),
            (
                AppError::Rotation(RotationError::NobodyLeft),
                ErrorClass::NotAllowed,
            ),
            // The wrong bundle is refused input, never damaged data.
            (
                AppError::refused(InputSource::Bundle, "it is for no space on this device"),
                ErrorClass::RefusedInput,
            ),
            (
                AppError::damaged("the registry's journal id"),
                ErrorClass::DamagedData,
            ),
            (
                AppError::OtherVersion { found: 1, reads: 2 },
                ErrorClass::DamagedData,
            ),
            (AppError::bug("sealing an envelope"), ErrorClass::Internal),
        ];
        for (err, class) in cases {
            assert_eq!(err.class(), class, "{err}");
        }
    }
}
