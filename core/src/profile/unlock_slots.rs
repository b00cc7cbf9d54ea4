//! The unlock slots: the only file that wraps the profile's master key.
//!
//! Every profile has exactly three slots, always, each a complete age file
//! wrapping 32 bytes:
//!
//! 0. *keystore*: sealed with the `safespaces-key` recipient under the
//!    32-byte secret the app keeps in the platform keystore;
//! 1. *passphrase*: an age scrypt file under the person's passphrase;
//! 2. *duress*: an age scrypt file under the duress passphrase, wrapping the
//!    master key of the empty profile that replaces this one on duress.
//!
//! A slot that is not in use holds a *decoy* of the same shape: a keystore
//! decoy is sealed to a random key; a scrypt decoy is produced by age itself
//! from a stanza with a random salt, the same work factor as slot 1, and a
//! random body, so without the passphrase it is indistinguishable from a real
//! scrypt file (the real body is ChaCha20-Poly1305 output under an unknown
//! key). Hence the file does not reveal whether a passphrase or a duress
//! passphrase is configured, and after a duress unlock it looks exactly like a
//! fresh profile's.
//!
//! Layout: three times `u32 little-endian length | age file`, then zero
//! bytes up to a power-of-two size (at least 1 KiB). Destroying this
//! file destroys every way to the master key, which is why `wipe` scrubs it
//! first.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::iter;
use std::path::Path;

use age::EncryptError;
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::SecretString;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use rand::RngCore;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::error::ProfileError;
use super::passphrase::{PassphraseWork, open_with_passphrase, scrypt_log_n, seal_with_passphrase};
use crate::crypto::padding::bucket_for;
use crate::crypto::{SealError, SymmetricKey};
use crate::store::atomic_file;

/// File name of the slots file; fixed, as every profile has one.
pub(crate) const SLOTS_FILE: &str = "unlock";

/// The three slots as opaque age files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnlockSlots {
    pub keystore: Vec<u8>,
    pub passphrase: Vec<u8>,
    pub duress: Vec<u8>,
}

/// What a passphrase opened.
pub(crate) enum PassphraseMatch {
    /// The passphrase slot: the real profile.
    Real(SymmetricKey),
    /// The duress slot: wipe and replace with an empty profile keyed so.
    Duress(SymmetricKey),
    /// Neither.
    None,
}

impl UnlockSlots {
    /// Reads the slots of the profile in `dir`.
    pub(crate) fn read(dir: &Path) -> Result<Self, ProfileError> {
        let path = dir.join(SLOTS_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ProfileError::NotFound(dir.to_owned()));
            }
            Err(e) => return Err(ProfileError::io("read unlock slots", path)(e)),
        };
        Self::decode(&bytes)
    }

    /// Atomically replaces the slots file and overwrites the replaced one
    /// in place, so no earlier slot survives in the file system's free
    /// blocks.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), ProfileError> {
        self.commit(dir)?;
        Self::scrub_replaced(dir)
    }

    /// Atomically replaces the slots file, keeping the replaced one as
    /// `unlock.old` for [`UnlockSlots::scrub_replaced`]. When this returns
    /// `Ok`, the new slots are the profile's.
    pub(crate) fn commit(&self, dir: &Path) -> Result<(), ProfileError> {
        atomic_file::replace_keeping_old(dir, SLOTS_FILE, &self.encode())
            .map_err(ProfileError::io("write unlock slots", dir.join(SLOTS_FILE)))
    }

    /// Whether `dir`'s slots file is exactly these slots (after a commit
    /// whose outcome is unknown).
    pub(crate) fn is_on_disk(&self, dir: &Path) -> bool {
        fs::read(dir.join(SLOTS_FILE)).is_ok_and(|bytes| bytes == self.encode())
    }

    /// Overwrites and deletes the slots file a commit replaced.
    pub(crate) fn scrub_replaced(dir: &Path) -> Result<(), ProfileError> {
        atomic_file::finish_scrubbing(dir, SLOTS_FILE).map_err(ProfileError::io(
            "overwrite replaced unlock slots",
            dir.join(SLOTS_FILE),
        ))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for slot in [&self.keystore, &self.passphrase, &self.duress] {
            out.extend_from_slice(&(slot.len() as u32).to_le_bytes());
            out.extend_from_slice(slot);
        }
        // The keystore slot's random grease stanza varies its length; pad so
        // every profile's slots file has the same size.
        out.resize(bucket_for(out.len() as u64) as usize, 0);
        out
    }

    fn decode(file: &[u8]) -> Result<Self, ProfileError> {
        let mut bytes = file;
        let mut slots = Vec::with_capacity(3);
        for _ in 0..3 {
            let bad = || ProfileError::Corrupt("the unlock slots file is truncated".into());
            let len = bytes.get(..4).ok_or_else(bad)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let slot = bytes.get(4..4 + len).ok_or_else(bad)?;
            slots.push(slot.to_vec());
            bytes = &bytes[4 + len..];
        }
        let used = (file.len() - bytes.len()) as u64;
        if bytes.iter().any(|&b| b != 0) || file.len() as u64 != bucket_for(used) {
            return Err(ProfileError::Corrupt(
                "the unlock slots file has trailing bytes or lost its padding".into(),
            ));
        }
        let duress = slots.pop().unwrap_or_default();
        let passphrase = slots.pop().unwrap_or_default();
        let keystore = slots.pop().unwrap_or_default();
        Ok(Self {
            keystore,
            passphrase,
            duress,
        })
    }

    /// The scrypt work factor slot 1 uses (real or decoy).
    pub(crate) fn log_n(&self) -> Option<u8> {
        header_log_n(&self.passphrase)
    }

    /// Opens slot 0 with a keystore secret.
    pub(crate) fn open_keystore(&self, secret: &[u8; 32]) -> Option<SymmetricKey> {
        let key = SymmetricKey::from_bytes(*secret);
        master_from(key.open(&self.keystore).ok()?)
    }

    /// Tries slots 1 and 2 with a passphrase. Both scrypt derivations always
    /// run, so timing does not tell a real unlock from a duress unlock from a
    /// wrong passphrase, nor whether a duress passphrase exists.
    pub(crate) fn open_passphrase(&self, passphrase: &SecretString) -> PassphraseMatch {
        let real = open_with_passphrase(passphrase, &self.passphrase).and_then(master_from);
        let duress = open_with_passphrase(passphrase, &self.duress).and_then(master_from);
        match (real, duress) {
            (Some(master), _) => PassphraseMatch::Real(master),
            (None, Some(master)) => PassphraseMatch::Duress(master),
            (None, None) => PassphraseMatch::None,
        }
    }
}

fn master_from(plain: Zeroizing<Vec<u8>>) -> Option<SymmetricKey> {
    let bytes: [u8; 32] = plain.as_slice().try_into().ok()?;
    Some(SymmetricKey::from_bytes(bytes))
}

/// Slot 0 for a keystore secret.
pub(crate) fn keystore_slot(
    secret: &[u8; 32],
    master: &SymmetricKey,
) -> Result<Vec<u8>, SealError> {
    SymmetricKey::from_bytes(*secret).seal(master.expose_bytes())
}

/// A keystore-slot decoy: a real seal of random bytes to a random key.
pub(crate) fn decoy_keystore_slot() -> Result<Vec<u8>, SealError> {
    let mut junk = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(junk.as_mut());
    SymmetricKey::generate().seal(junk.as_ref())
}

/// A scrypt slot wrapping `master` under `passphrase` at `work`; returns the
/// slot and the work factor it got (for matching decoys).
pub(crate) fn passphrase_slot(
    passphrase: &SecretString,
    work: PassphraseWork,
    master: &SymmetricKey,
) -> Result<(Vec<u8>, u8), ProfileError> {
    let slot = seal_with_passphrase(passphrase, work, |w| w.write_all(master.expose_bytes()))?;
    let log_n = header_log_n(&slot)
        .ok_or_else(|| ProfileError::Corrupt("age wrote no scrypt work factor".into()))?;
    Ok((slot, log_n))
}

/// A scrypt-slot decoy at `log_n`; costs no scrypt.
pub(crate) fn decoy_passphrase_slot(log_n: u8) -> Result<Vec<u8>, SealError> {
    let decoy = DecoyScrypt { log_n };
    let encryptor = age::Encryptor::with_recipients(iter::once(&decoy as &dyn age::Recipient))?;
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out)?;
    let mut junk = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(junk.as_mut());
    io::Write::write_all(&mut writer, junk.as_ref())?;
    writer.finish()?;
    Ok(out)
}

/// The work factor written in a scrypt age file's header.
pub(crate) fn header_log_n(file: &[u8]) -> Option<u8> {
    // The binary payload follows the header; cut at the MAC line.
    let end = file.windows(4).position(|w| w == b"\n---")?;
    let text = std::str::from_utf8(&file[..end]).ok()?;
    let line = text.lines().find(|l| l.starts_with("-> scrypt "))?;
    let args: Vec<String> = line.split(' ').skip(2).map(str::to_owned).collect();
    scrypt_log_n(&Stanza {
        tag: "scrypt".into(),
        args,
        body: Vec::new(),
    })
}

/// A recipient that emits a scrypt stanza nobody can open: random salt,
/// random body. age builds the rest of the file (header MAC, payload) exactly
/// as for a real passphrase, so the result has a real file's shape and size.
struct DecoyScrypt {
    log_n: u8,
}

impl age::Recipient for DecoyScrypt {
    fn wrap_file_key(
        &self,
        _file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut body = vec![0u8; 32];
        OsRng.fill_bytes(&mut body);
        // Like age's scrypt recipient: a random label keeps it alone in the header.
        let label = Alphanumeric.sample_string(&mut OsRng, 32);
        Ok((
            vec![Stanza {
                tag: "scrypt".to_owned(),
                args: vec![BASE64_STANDARD_NO_PAD.encode(salt), self.log_n.to_string()],
                body,
            }],
            iter::once(label).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG_N: u8 = 4;
    const WORK: PassphraseWork = PassphraseWork::InsecureTestOnly { log_n: LOG_N };

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn decoy_has_the_shape_and_size_of_a_real_slot() {
        let master = SymmetricKey::generate();
        let real = passphrase_slot(&pass("correct horse"), WORK, &master)
            .expect("real")
            .0;
        let decoy = decoy_passphrase_slot(LOG_N).expect("decoy");
        assert_eq!(real.len(), decoy.len());
        assert_eq!(header_log_n(&real), Some(LOG_N));
        assert_eq!(header_log_n(&decoy), Some(LOG_N));
        assert!(open_with_passphrase(&pass("correct horse"), &decoy).is_none());
        assert!(open_with_passphrase(&pass(""), &decoy).is_none());
    }

    #[test]
    fn passphrase_opens_the_right_slot() {
        let master = SymmetricKey::generate();
        let duress = SymmetricKey::generate();
        let slots = UnlockSlots {
            keystore: decoy_keystore_slot().expect("decoy"),
            passphrase: passphrase_slot(&pass("real"), WORK, &master)
                .expect("slot")
                .0,
            duress: passphrase_slot(&pass("duress"), WORK, &duress)
                .expect("slot")
                .0,
        };
        let slots = UnlockSlots::decode(&slots.encode()).expect("round trip");
        assert!(matches!(slots.open_passphrase(&pass("real")),
            PassphraseMatch::Real(k) if k.expose_bytes() == master.expose_bytes()));
        assert!(matches!(slots.open_passphrase(&pass("duress")),
            PassphraseMatch::Duress(k) if k.expose_bytes() == duress.expose_bytes()));
        assert!(matches!(
            slots.open_passphrase(&pass("wrong")),
            PassphraseMatch::None
        ));
        assert!(slots.open_keystore(&[0; 32]).is_none());
    }

    #[test]
    fn keystore_slot_opens_only_with_its_secret() {
        let master = SymmetricKey::generate();
        let slot = keystore_slot(&[5; 32], &master).expect("slot");
        let slots = UnlockSlots {
            keystore: slot,
            passphrase: decoy_passphrase_slot(LOG_N).expect("decoy"),
            duress: decoy_passphrase_slot(LOG_N).expect("decoy"),
        };
        assert!(slots.open_keystore(&[5; 32]).is_some());
        assert!(slots.open_keystore(&[6; 32]).is_none());
    }

    #[test]
    fn truncated_slots_file_is_corrupt() {
        let slots = UnlockSlots {
            keystore: vec![1; 10],
            passphrase: vec![2; 10],
            duress: vec![3; 10],
        };
        let bytes = slots.encode();
        assert!(UnlockSlots::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(1);
        assert!(UnlockSlots::decode(&longer).is_err());
    }
}
