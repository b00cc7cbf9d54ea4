//! The on-device store: only ciphertext, crash-safe, sizes padded.
//!
//! The store persists automerge bytes per document id and knows nothing of
//! the model. The directory layout, chunk and manifest formats, padding and
//! the atomic-write protocol are specified in `docs/storage.md`.
//!
//! ```
//! use safespaces_core::profile::{Profile, UnlockSecret};
//! use safespaces_core::store::DocumentId;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let profile = Profile::create(dir.path(), UnlockSecret::Keystore([7; 32])).unwrap();
//! let id = DocumentId::random();
//! profile.put_snapshot(id, b"automerge bytes").unwrap();
//! profile.append_increment(id, b"more automerge bytes").unwrap();
//! let stored = profile.get_document(id).unwrap().unwrap();
//! assert_eq!(stored.increments.len(), 1);
//! ```

pub(crate) mod atomic_file;
mod document_id;
mod document_store;
mod error;
mod manifest;

pub use document_id::DocumentId;
pub use document_store::{
    COMPACT_AFTER_INCREMENT_BYTES, COMPACT_AFTER_INCREMENTS, INLINE_BUDGET, INLINE_CHUNK_MAX,
    StoredDocument,
};
pub(crate) use document_store::{DocumentStore, is_sweepable_name};
pub use error::StoreError;

/// The padding every stored file gets; it lives in [`crate::crypto::padding`],
/// below the protocol, which pads envelopes with it too. Re-exported so the
/// `store::padding` path keeps working.
pub use crate::crypto::padding;
