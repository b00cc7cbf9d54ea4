//! The device profile: keys, the encrypted crash-safe store, lock, wipe,
//! duress and backups (issue 3).
//!
//! # Life cycle
//!
//! ```
//! use safespaces_core::profile::{PassphraseWork, Profile, ProfileError, ProfileOptions, UnlockSecret};
//! use safespaces_core::store::DocumentId;
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Tests lower the scrypt cost; apps use `Profile::create`.
//! let options = ProfileOptions { passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 } };
//! let profile = Profile::create_with_options(dir.path(), UnlockSecret::passphrase("river stone"), options).unwrap();
//! let journal = DocumentId::random();
//! profile.put_snapshot(journal, b"automerge bytes").unwrap();
//!
//! profile.lock();
//! assert!(matches!(profile.get_document(journal), Err(ProfileError::Locked)));
//! assert!(matches!(profile.unlock(&UnlockSecret::passphrase("wrong")), Err(ProfileError::WrongSecret)));
//! profile.unlock(&UnlockSecret::passphrase("river stone")).unwrap();
//! assert!(profile.get_document(journal).unwrap().is_some());
//!
//! profile.wipe().unwrap();
//! assert!(!Profile::exists(dir.path()));
//! ```
//!
//! # Key hierarchy
//!
//! unlock secret → (unlock slots file) → master key → keyring file (device
//! X25519 identity, Ed25519 key, storage key, space keys) → storage key →
//! manifest and chunks. Only the slots file depends on the secret, so adding
//! a space key never costs a scrypt, and destroying that one file destroys
//! everything. Details and file formats: `docs/storage.md`.

mod attempts;
mod backup;
mod device_profile;
mod error;
mod journal_export;
mod keyring;
mod passphrase;
mod unlock_slots;

pub use backup::{BACKUP_FORMAT, BACKUP_VERSION};
pub use device_profile::{
    KeystoreAction, Profile, ProfileOptions, UnlockSecret, generate_keystore_secret,
};
pub use error::ProfileError;
pub use journal_export::{JournalEntry, JournalFormat, export_journal, render_journal};
pub use keyring::{KeyId, Keyring};
pub use passphrase::{MAX_LOG_N, PassphraseWork, STANDARD_LOG_N};
