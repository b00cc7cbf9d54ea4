//! A symmetric 32-byte key used as an age recipient and identity.
//!
//! # Stanza
//!
//! ```text
//! -> safespaces-key <key id> <salt>
//! <body>
//! ```
//!
//! - `key id`: the first 8 bytes of `HKDF-SHA256(salt = "", ikm = key,
//!   info = "safespaces-key/v1/id")`, base64 without padding (11 characters).
//!   It lets an identity skip stanzas sealed to other keys without trying
//!   them, and reveals only *which* key sealed a file, never the key.
//! - `salt`: 16 fresh random bytes per stanza, base64 without padding.
//! - `body`: the 16-byte file key sealed with ChaCha20-Poly1305 under a zero
//!   nonce and the wrapping key `HKDF-SHA256(salt = salt, ikm = key,
//!   info = "safespaces-key/v1/wrap")` (32 bytes of body).
//!
//! The per-stanza salt is what makes the zero nonce safe: the same long-lived
//! key seals many file keys, and without a fresh wrapping key each time the
//! ChaCha20 keystream and the Poly1305 key would repeat.
//!
//! The recipient returns an empty label set, so it can share a header with
//! other recipients. Anyone holding the key can produce files it opens: this
//! is a confidentiality and integrity mechanism among key holders, not an
//! authorship proof (authorship is signed inside the ciphertext, design
//! decision 3).
//!
//! # Example
//!
//! ```
//! use safespaces_core::crypto::SymmetricKey;
//!
//! let key = SymmetricKey::generate();
//! let sealed = key.seal(b"meet at the usual room").unwrap();
//! assert!(sealed.starts_with(b"age-encryption.org/v1\n-> safespaces-key "));
//! assert_eq!(&key.open(&sealed).unwrap()[..], b"meet at the usual room");
//! assert!(SymmetricKey::generate().open(&sealed).is_err());
//! ```

use std::collections::HashSet;
use std::io::{Read, Write};
use std::iter;

use age::{DecryptError, EncryptError};
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::{aead_decrypt, aead_encrypt, hkdf};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The age stanza tag of [`SymmetricKey`] recipients.
pub const KEY_STANZA_TAG: &str = "safespaces-key";

const ID_LABEL: &[u8] = b"safespaces-key/v1/id";
const WRAP_LABEL: &[u8] = b"safespaces-key/v1/wrap";
const KEY_ID_BYTES: usize = 8;
const SALT_BYTES: usize = 16;
const BODY_BYTES: usize = FILE_KEY_BYTES + 16;

/// A 32-byte symmetric key that seals and opens age files through the
/// `safespaces-key` stanza. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey {
    key: [u8; 32],
    // Cached because every unwrap compares it; derived from `key`, not secret.
    #[zeroize(skip)]
    id: [u8; KEY_ID_BYTES],
}

/// Sealing a blob failed. This only happens if age rejects the recipient set
/// or writing to memory fails, both of which indicate a bug.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// age refused to build the file.
    #[error("could not seal the blob as an age file: {0}")]
    Age(#[from] EncryptError),
    /// Writing the age stream failed.
    #[error("could not write the sealed age stream: {0}")]
    Io(#[from] std::io::Error),
}

/// Opening a blob failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No stanza in the file is addressed to this key.
    #[error(
        "the blob was not sealed to this key (no `safespaces-key` stanza with its key id); \
         open it with the key it was sealed to"
    )]
    WrongKey,
    /// The file is not a well-formed age file, a stanza addressed to this key
    /// does not unwrap, or the payload fails authentication: it was truncated
    /// or modified after sealing.
    #[error("the blob is corrupt, truncated or was tampered with: {0}")]
    Corrupt(DecryptError),
}

impl SymmetricKey {
    /// Wraps 32 bytes of key material.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let mut derived = Zeroizing::new(hkdf(&[], ID_LABEL, &key));
        let mut id = [0u8; KEY_ID_BYTES];
        id.copy_from_slice(&derived[..KEY_ID_BYTES]);
        derived.zeroize();
        Self { key, id }
    }

    /// Draws a fresh random key from the operating system.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self::from_bytes(*key)
    }

    /// The raw key bytes, for serializing into the keyring. Handle with care.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The public key id placed in every stanza, base64 without padding.
    pub fn key_id(&self) -> String {
        BASE64_STANDARD_NO_PAD.encode(self.id)
    }

    /// Derives an independent subkey for `label`, e.g. one per document, so
    /// that a blob sealed for one purpose never opens as another.
    pub fn derive(&self, label: &[u8]) -> SymmetricKey {
        let derived = Zeroizing::new(hkdf(b"safespaces-key/v1/derive", label, &self.key));
        SymmetricKey::from_bytes(*derived)
    }

    /// Derives a 32-byte keyed hash of `data` (HKDF with `data` as the info),
    /// for names that must look random but be recomputable from the key.
    pub fn keyed_name(&self, data: &[u8]) -> [u8; 32] {
        hkdf(b"safespaces-key/v1/name", data, &self.key)
    }

    /// Seals `plaintext` into an age v1 file addressed to this key alone.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let encryptor = age::Encryptor::with_recipients(iter::once(self as &dyn age::Recipient))?;
        let mut out = Vec::with_capacity(plaintext.len() + 200);
        let mut writer = encryptor.wrap_output(&mut out)?;
        writer.write_all(plaintext)?;
        writer.finish()?;
        Ok(out)
    }

    /// Opens an age file sealed to this key and returns the plaintext, which
    /// is zeroized when dropped.
    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let decryptor = age::Decryptor::new_buffered(sealed).map_err(OpenError::Corrupt)?;
        let mut reader = decryptor
            .decrypt(iter::once(self as &dyn age::Identity))
            .map_err(|e| match e {
                DecryptError::NoMatchingKeys => OpenError::WrongKey,
                other => OpenError::Corrupt(other),
            })?;
        let mut out = Zeroizing::new(Vec::with_capacity(sealed.len()));
        reader
            .read_to_end(&mut out)
            .map_err(|e| OpenError::Corrupt(DecryptError::Io(e)))?;
        Ok(out)
    }

    fn wrapping_key(&self, salt: &[u8; SALT_BYTES]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(hkdf(salt, WRAP_LABEL, &self.key))
    }
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in debug logs.
        f.debug_struct("SymmetricKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl age::Recipient for SymmetricKey {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let mut salt = [0u8; SALT_BYTES];
        OsRng.fill_bytes(&mut salt);
        let wrap = self.wrapping_key(&salt);
        let body = aead_encrypt(&wrap, file_key.expose_secret());
        Ok((
            vec![Stanza {
                tag: KEY_STANZA_TAG.to_owned(),
                args: vec![self.key_id(), BASE64_STANDARD_NO_PAD.encode(salt)],
                body,
            }],
            HashSet::new(),
        ))
    }
}

impl age::Identity for SymmetricKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != KEY_STANZA_TAG {
            return None;
        }
        // Enforce the canonical format, as age does for its own stanzas, so a
        // file has exactly one valid encoding.
        let (id, salt) = match &stanza.args[..] {
            [id, salt] => match (
                decode_arg::<KEY_ID_BYTES>(id),
                decode_arg::<SALT_BYTES>(salt),
            ) {
                (Some(id), Some(salt)) => (id, salt),
                _ => return Some(Err(DecryptError::InvalidHeader)),
            },
            _ => return Some(Err(DecryptError::InvalidHeader)),
        };
        if id != self.id {
            // Sealed to another key: not ours to judge.
            return None;
        }
        if stanza.body.len() != BODY_BYTES {
            return Some(Err(DecryptError::InvalidHeader));
        }
        let wrap = self.wrapping_key(&salt);
        Some(
            aead_decrypt(&wrap, FILE_KEY_BYTES, &stanza.body)
                .map_err(|_| DecryptError::DecryptionFailed)
                .and_then(|mut pt| {
                    let key = FileKey::try_init_with_mut(|fk| {
                        if pt.len() == FILE_KEY_BYTES {
                            fk.copy_from_slice(&pt);
                            Ok(())
                        } else {
                            Err(DecryptError::DecryptionFailed)
                        }
                    });
                    pt.zeroize();
                    key
                }),
        )
    }
}

/// Decodes a canonical unpadded base64 argument of exactly `N` bytes.
fn decode_arg<const N: usize>(arg: &str) -> Option<[u8; N]> {
    let bytes = BASE64_STANDARD_NO_PAD.decode(arg).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of the committed vectors: bytes 0, 1, ..., 31.
    fn vector_key() -> SymmetricKey {
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = i as u8;
        }
        SymmetricKey::from_bytes(key)
    }

    const VECTOR_PLAINTEXT: &[u8] = b"safespaces-key test vector\n";

    #[test]
    fn sealed_blob_opens_with_same_key() {
        let key = SymmetricKey::generate();
        let sealed = key.seal(b"hello").expect("seal");
        assert_eq!(&key.open(&sealed).expect("open")[..], b"hello");
    }

    #[test]
    fn empty_and_large_plaintexts_round_trip() {
        let key = SymmetricKey::generate();
        for len in [0usize, 1, 64 * 1024, 64 * 1024 + 1, 300_000] {
            let pt = vec![0xa5u8; len];
            let sealed = key.seal(&pt).expect("seal");
            assert_eq!(&key.open(&sealed).expect("open")[..], &pt[..]);
        }
    }

    #[test]
    fn other_key_reports_wrong_key() {
        let sealed = SymmetricKey::generate().seal(b"x").expect("seal");
        assert!(matches!(
            SymmetricKey::generate().open(&sealed),
            Err(OpenError::WrongKey)
        ));
    }

    #[test]
    fn every_seal_uses_a_fresh_salt() {
        let key = SymmetricKey::generate();
        let a = key.seal(b"same").expect("seal");
        let b = key.seal(b"same").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn derived_keys_are_independent() {
        let key = SymmetricKey::generate();
        let a = key.derive(b"doc-a");
        let sealed = a.seal(b"x").expect("seal");
        assert!(key.derive(b"doc-b").open(&sealed).is_err());
        assert!(key.open(&sealed).is_err());
        assert_eq!(&key.derive(b"doc-a").open(&sealed).expect("open")[..], b"x");
    }

    #[test]
    fn debug_output_hides_key_material() {
        let key = vector_key();
        let shown = format!("{key:?}");
        assert!(!shown.contains("0, 1, 2"));
        assert!(shown.contains(&key.key_id()));
    }

    #[test]
    fn interoperates_with_x25519_in_one_header() {
        let key = SymmetricKey::generate();
        let device = age::x25519::Identity::generate();
        let recipient = device.to_public();
        let encryptor = age::Encryptor::with_recipients(
            [
                &key as &dyn age::Recipient,
                &recipient as &dyn age::Recipient,
            ]
            .into_iter(),
        )
        .expect("compatible recipients");
        let mut sealed = vec![];
        let mut w = encryptor.wrap_output(&mut sealed).expect("header");
        w.write_all(b"both").expect("write");
        w.finish().expect("finish");
        assert_eq!(&key.open(&sealed).expect("open")[..], b"both");
        assert_eq!(age::decrypt(&device, &sealed).expect("x25519"), b"both");
    }

    // --- committed vectors (core/src/crypto/testdata/safespaces-key) ---

    #[test]
    fn vector_ok_opens_to_known_plaintext() {
        let sealed = include_bytes!("testdata/safespaces-key/ok.age");
        assert_eq!(
            &vector_key().open(sealed).expect("vector opens")[..],
            VECTOR_PLAINTEXT
        );
    }

    #[test]
    fn vector_key_id_is_stable() {
        // Pins the key-id derivation: changing it would orphan every blob.
        assert_eq!(
            vector_key().key_id(),
            include_str!("testdata/safespaces-key/key_id.txt").trim()
        );
    }

    #[test]
    fn vector_fail_wrong_key() {
        let sealed = include_bytes!("testdata/safespaces-key/ok.age");
        assert!(matches!(
            SymmetricKey::from_bytes([0x42; 32]).open(sealed),
            Err(OpenError::WrongKey)
        ));
    }

    #[test]
    fn vector_fail_tampered_body() {
        let sealed = include_bytes!("testdata/safespaces-key/fail_tampered_body.age");
        assert!(matches!(
            vector_key().open(sealed),
            Err(OpenError::Corrupt(DecryptError::DecryptionFailed))
        ));
    }

    #[test]
    fn vector_fail_tampered_salt() {
        let sealed = include_bytes!("testdata/safespaces-key/fail_tampered_salt.age");
        assert!(matches!(
            vector_key().open(sealed),
            Err(OpenError::Corrupt(DecryptError::DecryptionFailed))
        ));
    }

    #[test]
    fn vector_fail_noncanonical_args() {
        let sealed = include_bytes!("testdata/safespaces-key/fail_extra_arg.age");
        assert!(matches!(
            vector_key().open(sealed),
            Err(OpenError::Corrupt(DecryptError::InvalidHeader))
        ));
    }

    #[test]
    fn vector_fail_truncated_payload() {
        let sealed = include_bytes!("testdata/safespaces-key/fail_truncated.age");
        assert!(matches!(
            vector_key().open(sealed),
            Err(OpenError::Corrupt(_))
        ));
    }

    #[test]
    fn vector_fail_tampered_payload() {
        let sealed = include_bytes!("testdata/safespaces-key/fail_tampered_payload.age");
        assert!(matches!(
            vector_key().open(sealed),
            Err(OpenError::Corrupt(_))
        ));
    }

    /// Regenerates the committed vectors. Run only when the format changes on
    /// purpose: `cargo test -p safespaces-core regenerate_vectors -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand when the stanza format changes"]
    fn regenerate_vectors() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/crypto/testdata/safespaces-key");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let key = vector_key();
        let ok = key.seal(VECTOR_PLAINTEXT).expect("seal");
        std::fs::write(dir.join("ok.age"), &ok).expect("write");
        std::fs::write(dir.join("key_id.txt"), format!("{}\n", key.key_id())).expect("write");

        let text_end = ok
            .windows(4)
            .position(|w| w == b"\n---")
            .expect("header end");
        let header = std::str::from_utf8(&ok[..text_end]).expect("ascii header");
        let mut lines: Vec<String> = header.lines().map(str::to_owned).collect();
        // lines: [version, "-> safespaces-key id salt", body]
        let stanza_args: Vec<String> = lines[1].split(' ').map(str::to_owned).collect();

        let rebuild = |lines: &[String]| {
            let mut out = lines.join("\n").into_bytes();
            out.extend_from_slice(&ok[text_end..]);
            out
        };

        let mut body = BASE64_STANDARD_NO_PAD.decode(&lines[2]).expect("body");
        body[0] ^= 1;
        let mut tampered = lines.clone();
        tampered[2] = BASE64_STANDARD_NO_PAD.encode(&body);
        std::fs::write(dir.join("fail_tampered_body.age"), rebuild(&tampered)).expect("write");

        let mut salt = BASE64_STANDARD_NO_PAD
            .decode(&stanza_args[3])
            .expect("salt");
        salt[0] ^= 1;
        let mut tampered = lines.clone();
        tampered[1] = format!(
            "-> {} {} {}",
            KEY_STANZA_TAG,
            stanza_args[2],
            BASE64_STANDARD_NO_PAD.encode(&salt)
        );
        std::fs::write(dir.join("fail_tampered_salt.age"), rebuild(&tampered)).expect("write");

        lines[1].push_str(" extra");
        std::fs::write(dir.join("fail_extra_arg.age"), rebuild(&lines)).expect("write");

        std::fs::write(dir.join("fail_truncated.age"), &ok[..ok.len() - 5]).expect("write");
        let mut payload = ok.clone();
        let last = payload.len() - 1;
        payload[last] ^= 0x80;
        std::fs::write(dir.join("fail_tampered_payload.age"), payload).expect("write");
    }
}
