//! Errors of the device profile.

use std::io;
use std::path::PathBuf;

use crate::crypto::SealError;
use crate::store::StoreError;

/// Something went wrong with the device profile. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The directory holds no profile.
    #[error("there is no profile in {0}; create one or restore a backup")]
    NotFound(PathBuf),
    /// `create` or `restore_backup` was pointed at a directory that already
    /// holds a profile.
    #[error("{0} already holds a profile; open it, or wipe it first")]
    AlreadyExists(PathBuf),
    /// The operation needs keys and the profile is locked.
    #[error("the profile is locked; unlock it before reading or writing")]
    Locked,
    /// The keystore secret or passphrase does not open this profile.
    #[error("the unlock secret is not correct; nothing was read or changed")]
    WrongSecret,
    /// The profile was wiped through this handle (or reached its limit of
    /// failed attempts); its data is gone.
    #[error("the profile has been wiped; create a new one")]
    Wiped,
    /// The backup passphrase is wrong, or the file is not a backup.
    #[error("the backup does not open with this passphrase, or is not an age passphrase file")]
    BackupPassphrase,
    /// The backup opened but its content is not a valid profile archive.
    #[error("the backup opened but is not a valid Safe Spaces archive: {0}")]
    InvalidBackup(String),
    /// A profile file is damaged or has the wrong structure.
    #[error("the profile is damaged: {0}; restore from a backup")]
    Corrupt(String),
    /// An argument was rejected.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The file system refused an operation.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What the profile was doing.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The document store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed (a bug, not a user error).
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl ProfileError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| ProfileError::Io {
            action,
            path,
            source,
        }
    }
}
