//! What opens a profile, and the scrypt cost of passphrases.

use safespaces_core::profile;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::SafeSpacesError;

/// What opens a profile: a passphrase or a keystore secret.
///
/// An opaque object rather than a record on purpose: generated records and
/// enums print their fields (`toString`, `repr`, `description`), and a
/// secret must never end up in a log. Rust keeps its copy zeroized on drop.
#[derive(uniffi::Object)]
pub struct UnlockSecret {
    // Not `Arc<core::UnlockSecret>` like the other objects: core consumes
    // its `UnlockSecret` when creating a profile and cannot clone it, so
    // this keeps the material and hands core a fresh value per call.
    secret: Secret,
}

enum Secret {
    Passphrase(SecretString),
    Keystore(Zeroizing<[u8; 32]>),
}

#[uniffi::export]
impl UnlockSecret {
    /// A passphrase the person types. Each use costs one scrypt (about a
    /// second at the production cost).
    #[uniffi::constructor]
    pub fn passphrase(passphrase: String) -> Self {
        UnlockSecret {
            secret: Secret::Passphrase(SecretString::from(passphrase)),
        }
    }

    /// 32 random bytes the app keeps in the platform keystore (iOS
    /// Keychain, Android Keystore), typically released by biometrics. Make
    /// them once with `generateKeystoreSecret()`.
    #[uniffi::constructor]
    pub fn keystore(secret: Vec<u8>) -> Result<Self, SafeSpacesError> {
        Ok(UnlockSecret {
            secret: Secret::Keystore(keystore_bytes(&secret)?),
        })
    }
}

impl From<&UnlockSecret> for profile::UnlockSecret {
    fn from(secret: &UnlockSecret) -> Self {
        match &secret.secret {
            Secret::Passphrase(passphrase) => profile::UnlockSecret::Passphrase(passphrase.clone()),
            Secret::Keystore(bytes) => profile::UnlockSecret::Keystore(**bytes),
        }
    }
}

/// What the app must do with the platform keystore item (Keychain,
/// Android Keystore) that holds this profile's keystore secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum KeystoreChange {
    /// The item the app holds (if any) is right; leave it.
    Keep,
    /// Delete the item if there is one: it opens nothing now, and an item
    /// that opens nothing gives away a duress unlock or a wipe.
    Delete,
    /// Replace the item with `KeystoreAction.newSecret()` now; the old one
    /// opens nothing. Until it is stored, the passphrase opens the profile.
    Replace,
}

/// The answer of every unlock, slot change and wipe about the keystore
/// item. An object rather than a record for the same reason as
/// `UnlockSecret`: a record would print the new secret in `toString`.
#[derive(uniffi::Object)]
pub struct KeystoreAction {
    change: KeystoreChange,
    secret: Option<Zeroizing<[u8; 32]>>,
}

#[uniffi::export]
impl KeystoreAction {
    /// Keep, delete or replace the keystore item.
    pub fn change(&self) -> KeystoreChange {
        self.change
    }

    /// The 32 bytes to store when `change()` is `Replace`; `null` otherwise.
    pub fn new_secret(&self) -> Option<Vec<u8>> {
        self.secret.as_ref().map(|s| s.to_vec())
    }
}

impl From<profile::KeystoreAction> for KeystoreAction {
    fn from(action: profile::KeystoreAction) -> Self {
        let (change, secret) = match action {
            profile::KeystoreAction::Keep => (KeystoreChange::Keep, None),
            profile::KeystoreAction::Delete => (KeystoreChange::Delete, None),
            profile::KeystoreAction::Replace(secret) => (KeystoreChange::Replace, Some(secret)),
        };
        KeystoreAction { change, secret }
    }
}

/// A keystore secret as core takes it: exactly 32 bytes.
pub(crate) fn keystore_bytes(secret: &[u8]) -> Result<Zeroizing<[u8; 32]>, SafeSpacesError> {
    <[u8; 32]>::try_from(secret)
        .map(Zeroizing::new)
        .map_err(|_| SafeSpacesError::InvalidInput {
            reason: format!(
                "a keystore secret is 32 bytes, not {}; use generateKeystoreSecret()",
                secret.len()
            ),
        })
}

/// How much work the scrypt behind passphrases costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PassphraseWork {
    /// The production cost (stock `age -p`): 256 MiB, about a second.
    Standard,
    /// TEST ONLY: a low cost so binding tests unlock in milliseconds. Never
    /// ship this: it makes guessing passphrases cheap for whoever holds the
    /// files.
    InsecureTestOnly {
        /// scrypt `log2(N)`, 1 to 20 (a test uses 4 or so).
        log_n: u8,
    },
}

/// Tuning that is not stored in the profile. Apps leave it out
/// (`null`/`nil`/`None`): the defaults are the production ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ProfileOptions {
    /// scrypt cost for passphrase slots, backups and exports.
    pub passphrase_work: PassphraseWork,
}

impl From<PassphraseWork> for profile::PassphraseWork {
    fn from(work: PassphraseWork) -> Self {
        match work {
            PassphraseWork::Standard => profile::PassphraseWork::Standard,
            PassphraseWork::InsecureTestOnly { log_n } => {
                profile::PassphraseWork::InsecureTestOnly { log_n }
            }
        }
    }
}

impl From<ProfileOptions> for profile::ProfileOptions {
    fn from(options: ProfileOptions) -> Self {
        profile::ProfileOptions {
            passphrase_work: options.passphrase_work.into(),
        }
    }
}

/// The options core takes; left out, the production defaults.
pub(crate) fn core_options(options: Option<ProfileOptions>) -> profile::ProfileOptions {
    options.map(Into::into).unwrap_or_default()
}
