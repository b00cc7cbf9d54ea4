//! A PostgreSQL failure, as the store reports it.

use super::super::interface::StoreError;

/// A database failure, as every store reports one.
pub(super) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}
