//! Errors of the encrypted document store.

use std::io;
use std::path::PathBuf;

use crate::crypto::SealError;

/// Something went wrong reading or writing the encrypted document store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file system refused an operation.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What the store was doing, e.g. "write chunk".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file the manifest references is missing, fails authentication, or
    /// does not have the expected structure. The store refuses to guess.
    #[error("the store is damaged: {0}; restore from a backup")]
    Corrupt(String),
    /// Sealing a file failed (a bug, not a user error).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// automerge could not load the stored chunks while compacting.
    #[error("the stored document {0} does not load as automerge: {1}")]
    Automerge(String, String),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}
