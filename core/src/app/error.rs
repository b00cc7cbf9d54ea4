//! The one error type of the app layer, with variants an app can act on.

use crate::model::ModelError;
use crate::profile::ProfileError;
use crate::protocol::attendance::AttendanceError;

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
    Relay(crate::sync::RelayError),
    /// An invite code or package could not be used (bad code, expired,
    /// already claimed).
    #[error("invite: {0}")]
    Invite(String),
    /// Stored state on this device is damaged.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
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

/// Shorthand for app-layer results.
pub type AppResult<T> = Result<T, AppError>;
