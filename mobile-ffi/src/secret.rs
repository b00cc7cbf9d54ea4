//! What opens a profile, and the scrypt cost of passphrases.

use safespaces_core::profile;
use zeroize::Zeroizing;

use crate::SafeSpacesError;

/// What opens a profile.
#[derive(uniffi::Enum)]
pub enum UnlockSecret {
    /// A passphrase the person types. Costs one scrypt (about a second).
    Passphrase {
        /// The passphrase.
        passphrase: String,
    },
    /// 32 random bytes the app keeps in the platform keystore (iOS
    /// Keychain, Android Keystore), typically released by biometrics.
    /// Make one with `generateKeystoreSecret()`.
    Keystore {
        /// Exactly 32 bytes.
        secret: Vec<u8>,
    },
}

// `TryFrom` rather than `From`: a keystore secret of the wrong length is the
// caller's mistake and must be refused, not padded or cut.
impl TryFrom<&UnlockSecret> for profile::UnlockSecret {
    type Error = SafeSpacesError;

    fn try_from(secret: &UnlockSecret) -> Result<Self, SafeSpacesError> {
        match secret {
            UnlockSecret::Passphrase { passphrase } => {
                Ok(profile::UnlockSecret::passphrase(passphrase.clone()))
            }
            UnlockSecret::Keystore { secret } => {
                Ok(profile::UnlockSecret::Keystore(*keystore_bytes(secret)?))
            }
        }
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
