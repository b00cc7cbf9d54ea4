//! The one error type of the app layer, with variants an app can act on.

use crate::model::ModelError;
use crate::profile::ProfileError;
use crate::protocol::attendance::AttendanceError;
use crate::protocol::link::LinkError;

/// Why an app-level operation failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The profile is locked: unlock it first.
    #[error("the profile is locked")]
    Locked,
    /// The unlock secret was wrong.
    #[error("wrong passphrase or key")]
    WrongSecret,
    /// No space with that id on this device.
    #[error("no space {0} on this device")]
    UnknownSpace(String),
    /// The model refused the operation (not a member, not permitted, bad
    /// input, unknown session…).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An attendance request could not be made or applied.
    #[error(transparent)]
    Attendance(#[from] AttendanceError),
    /// The profile or its storage failed.
    #[error(transparent)]
    Profile(ProfileError),
    /// The relay could not be reached, or refused (with its stable code).
    #[error(transparent)]
    Relay(crate::relay::RelayError),
    /// An invite code or package could not be used (bad code, expired,
    /// already claimed).
    #[error("invite: {0}")]
    Invite(String),
    /// This device is already a member of that space: an invite to it
    /// cannot be used from here (only a person who left comes back).
    #[error("this device is already a member of that space")]
    AlreadyMember,
    /// Linking a device failed or was refused: a bad or used code, a
    /// fingerprint that does not match, a link already answered, or
    /// someone else holding the code interfering ([`LinkError`] says
    /// which, and what to do).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A new epoch could not be started (nobody would remain, or the space
    /// is at its last epoch).
    #[error(transparent)]
    Rotation(crate::protocol::RotationError),
    /// Stored state on this device is damaged.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl AppError {
    /// A stable, content-free name for the kind of failure, for logs: the
    /// message itself may name ids or a path, which a log must never carry.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::Locked => "locked",
            AppError::WrongSecret => "wrong_secret",
            AppError::UnknownSpace(_) => "unknown_space",
            AppError::Model(_) => "model",
            AppError::Attendance(_) => "attendance",
            AppError::Profile(_) => "storage",
            AppError::Relay(_) => "relay",
            AppError::Invite(_) => "invite",
            AppError::AlreadyMember => "already_member",
            AppError::Link(_) => "link",
            AppError::Rotation(_) => "rotation",
            AppError::Corrupt(_) => "corrupt",
        }
    }

    /// The relay's failure, if this is one, for its kind and code.
    pub fn relay(&self) -> Option<&crate::relay::RelayError> {
        match self {
            AppError::Relay(err) => Some(err),
            _ => None,
        }
    }
}

impl From<ProfileError> for AppError {
    fn from(err: ProfileError) -> Self {
        match err {
            ProfileError::Locked => AppError::Locked,
            ProfileError::WrongSecret => AppError::WrongSecret,
            other => AppError::Profile(other),
        }
    }
}

/// Logs a failed operation at `warn` with its content-free kind, and for a
/// relay failure the relay's kind and code; extra fields and the message
/// follow as in `tracing::warn!`. A macro, so the event's target is the
/// module that failed.
macro_rules! warn_failed {
    ($err:expr, $($rest:tt)+) => {{
        let err: &$crate::app::AppError = $err;
        let relay = err.relay();
        tracing::warn!(
            kind = err.kind(),
            relay_kind = relay.map($crate::relay::RelayError::kind),
            code = relay
                .and_then($crate::relay::RelayError::code)
                .map($crate::relay::ErrorCode::as_str),
            $($rest)+
        );
    }};
}
pub(crate) use warn_failed;

/// Shorthand for app-layer results.
pub type AppResult<T> = Result<T, AppError>;
