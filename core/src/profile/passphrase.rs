//! Passphrase (age scrypt) sealing, used only at unlock and for exports.
//!
//! Production uses age's calibrated work factor (about one second and
//! 256 MiB on a phone). Tests and benchmarks may lower it through
//! [`PassphraseWork::InsecureTestOnly`]; the chosen factor is written in the
//! age header, so files made that way are still standard and still open with
//! stock `age`, they are just cheap to brute-force.

use std::io::{Read, Write};
use std::iter;

use age::scrypt;
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::SecretString;
use zeroize::Zeroizing;

use super::ProfileError;
use crate::crypto::SealError;

/// How much work the scrypt passphrase recipient costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PassphraseWork {
    /// age's default: calibrated on this device to take about a second.
    #[default]
    Calibrated,
    /// A fixed, low `log2(N)` for tests and benchmarks only. Never ship this:
    /// it makes passphrase guessing cheap for whoever holds the files.
    InsecureTestOnly {
        /// scrypt `log2(N)`, between 1 and 63.
        log_n: u8,
    },
}

impl PassphraseWork {
    /// Pins an already-chosen factor, e.g. the calibrated one read back from
    /// the slots file so a new slot matches its neighbours. This reuses the
    /// fixed-factor variant; it weakens nothing, as `log_n` came from age.
    pub(crate) fn exact(log_n: u8) -> Self {
        PassphraseWork::InsecureTestOnly { log_n }
    }

    pub(crate) fn recipient(self, passphrase: &SecretString) -> scrypt::Recipient {
        let mut r = scrypt::Recipient::new(passphrase.clone());
        if let PassphraseWork::InsecureTestOnly { log_n } = self {
            r.set_work_factor(log_n.clamp(1, 63));
        }
        r
    }

    /// The concrete `log2(N)` new passphrase files get. For `Calibrated` this
    /// runs age's calibration (one scrypt at the target cost).
    pub(crate) fn log_n(self) -> Result<u8, ProfileError> {
        if let PassphraseWork::InsecureTestOnly { log_n } = self {
            return Ok(log_n.clamp(1, 63));
        }
        let probe = self.recipient(&SecretString::from(String::new()));
        let (stanzas, _) = age::Recipient::wrap_file_key(&probe, &FileKey::new(Box::new([0; 16])))
            .map_err(SealError::from)?;
        stanzas
            .first()
            .and_then(scrypt_log_n)
            .ok_or_else(|| ProfileError::Corrupt("age produced no scrypt stanza".into()))
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
    let identity = scrypt::Identity::new(passphrase.clone());
    let decryptor = age::Decryptor::new_buffered(sealed).ok()?;
    let mut reader = decryptor
        .decrypt(iter::once(&identity as &dyn age::Identity))
        .ok()?;
    let mut out = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}
