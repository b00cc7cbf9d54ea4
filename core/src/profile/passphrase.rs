//! Passphrase (age scrypt) sealing, used only at unlock and for exports.
//!
//! Production uses `log2(N) = 18` (256 MiB, about a second on this kind of
//! machine), the factor the stock `age -p` CLI writes. We do not use the age
//! crate's self-calibration: it extrapolates from a 2^10 run, and on the
//! project's machines it picked 2^20 (1 GiB per derivation, 2.8 s), which a
//! phone cannot afford twice per unlock (both passphrase slots are always
//! tried). Tests and benchmarks may lower the factor through
//! [`PassphraseWork::InsecureTestOnly`]; it is written in the age header, so
//! files made that way are still standard and still open with stock `age`,
//! they are just cheap to brute-force.

use std::io::{Read, Write};
use std::iter;

use age::scrypt;
use age_core::format::Stanza;
use age_core::secrecy::SecretString;
use zeroize::Zeroizing;

use super::error::ProfileError;
use crate::crypto::SealError;

/// The production scrypt `log2(N)`: stock `age -p`'s factor.
pub const STANDARD_LOG_N: u8 = 18;

/// The largest `log2(N)` accepted when opening a passphrase file.
pub const MAX_LOG_N: u8 = 20;

/// How much work the scrypt passphrase recipient costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PassphraseWork {
    /// `log2(N)` = [`STANDARD_LOG_N`]: 256 MiB of memory, about a second.
    #[default]
    Standard,
    /// A fixed, low `log2(N)` for tests and benchmarks only. Never ship this:
    /// it makes passphrase guessing cheap for whoever holds the files.
    InsecureTestOnly {
        /// scrypt `log2(N)`, between 1 and 63.
        log_n: u8,
    },
}

impl PassphraseWork {
    /// Pins an already-chosen factor, e.g. the one read back from the slots
    /// file so a new slot matches its neighbours. This reuses the fixed-factor
    /// variant; it weakens nothing, as `log_n` came from an existing slot.
    pub(crate) fn exact(log_n: u8) -> Self {
        PassphraseWork::InsecureTestOnly { log_n }
    }

    /// The concrete `log2(N)` new passphrase files get.
    pub(crate) fn log_n(self) -> u8 {
        match self {
            PassphraseWork::Standard => STANDARD_LOG_N,
            PassphraseWork::InsecureTestOnly { log_n } => log_n.clamp(1, 63),
        }
    }

    pub(crate) fn recipient(self, passphrase: &SecretString) -> scrypt::Recipient {
        let mut r = scrypt::Recipient::new(passphrase.clone());
        r.set_work_factor(self.log_n());
        r
    }
}

/// The work factor of a scrypt stanza.
pub(crate) fn scrypt_log_n(stanza: &Stanza) -> Option<u8> {
    if stanza.tag != "scrypt" {
        return None;
    }
    stanza.args.get(1)?.parse().ok()
}

/// Seals what `write` produces to `passphrase` as a standard age file.
pub(crate) fn seal_with_passphrase(
    passphrase: &SecretString,
    work: PassphraseWork,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<Vec<u8>, ProfileError> {
    let recipient = work.recipient(passphrase);
    let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
        .map_err(SealError::from)?;
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).map_err(SealError::from)?;
    write(&mut writer).map_err(SealError::from)?;
    writer.finish().map_err(SealError::from)?;
    Ok(out)
}

/// Opens a passphrase age file; `None` if the passphrase does not open it
/// (or it is not a passphrase file).
pub(crate) fn open_with_passphrase(
    passphrase: &SecretString,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let mut identity = scrypt::Identity::new(passphrase.clone());
    // Accept what we write (2^18) with headroom, on every device: age's own
    // cap depends on the device's calibration and could refuse 2^18 on a
    // slow phone. Beyond 2^20 (1 GiB) a crafted file could exhaust memory.
    identity.set_max_work_factor(MAX_LOG_N);
    let decryptor = age::Decryptor::new_buffered(sealed).ok()?;
    let mut reader = decryptor
        .decrypt(iter::once(&identity as &dyn age::Identity))
        .ok()?;
    let mut out = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}
