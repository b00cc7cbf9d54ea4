//! The backup archive: everything needed to restore a profile elsewhere, as
//! JSON inside one standard age passphrase file.
//!
//! ```text
//! {
//!   "format": "safespaces-profile-backup",
//!   "version": 1,
//!   "keyring": {
//!     "device_identity": "AGE-SECRET-KEY-1…",      // age X25519 identity
//!     "signing_key": "<64 hex>",                    // Ed25519 seed
//!     "keys": [{ "id": "<32 hex>", "key": "<64 hex>" }]
//!   },
//!   "documents": [
//!     { "id": "<32 hex>", "snapshot": "<base64>" | null,
//!       "increments": ["<base64>", …] }             // automerge bytes
//!   ]
//! }
//! ```
//!
//! JSON, so that a person holding their backup can inspect it with
//! `age -d backup.age | jq` and nothing else. The device-local storage key
//! is not exported: a restored profile gets a new one. The archive is not
//! padded; it is a file the person keeps, not something at rest in the
//! profile directory.

use std::collections::BTreeMap;
use std::str::FromStr;

use age_core::secrecy::{ExposeSecret, SecretString};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::ProfileError;
use super::keyring::{KeyId, Keyring};
use super::passphrase::{PassphraseWork, open_with_passphrase, seal_with_passphrase};
use crate::crypto::SymmetricKey;
use crate::store::{DocumentId, DocumentStore};

/// The `format` value of a backup archive.
pub const BACKUP_FORMAT: &str = "safespaces-profile-backup";
/// The archive version this code writes and reads.
pub const BACKUP_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub(crate) struct Archive {
    format: String,
    version: u32,
    keyring: ArchiveKeyring,
    documents: Vec<ArchiveDocument>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct ArchiveKeyring {
    device_identity: String,
    signing_key: String,
    keys: Vec<ArchiveKey>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct ArchiveKey {
    id: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct ArchiveDocument {
    id: String,
    snapshot: Option<String>,
    increments: Vec<String>,
}

/// A document decoded from an archive.
pub(crate) struct RestoredDocument {
    pub id: DocumentId,
    pub snapshot: Option<Vec<u8>>,
    pub increments: Vec<Vec<u8>>,
}

pub(crate) fn export(
    keyring: &Keyring,
    store: &DocumentStore,
    passphrase: &SecretString,
    work: PassphraseWork,
) -> Result<Vec<u8>, ProfileError> {
    let mut documents = Vec::new();
    for id in store.document_ids() {
        let Some(doc) = store.get(id)? else { continue };
        documents.push(ArchiveDocument {
            id: hex::encode(id.as_bytes()),
            snapshot: doc.snapshot.map(|s| BASE64_STANDARD.encode(s)),
            increments: doc
                .increments
                .iter()
                .map(|i| BASE64_STANDARD.encode(i))
                .collect(),
        });
    }
    let archive = Archive {
        format: BACKUP_FORMAT.to_owned(),
        version: BACKUP_VERSION,
        keyring: ArchiveKeyring {
            device_identity: keyring
                .device_identity()
                .to_string()
                .expose_secret()
                .to_owned(),
            signing_key: hex::encode(keyring.signing_key().as_bytes()),
            keys: keyring
                .keys()
                .iter()
                .map(|(id, key)| ArchiveKey {
                    id: hex::encode(id.0),
                    key: hex::encode(key.expose_bytes()),
                })
                .collect(),
        },
        documents,
    };
    // Serialize straight into the age stream: no plaintext copy of the
    // archive is ever held in one buffer.
    seal_with_passphrase(passphrase, work, |w| {
        serde_json::to_writer(w, &archive).map_err(std::io::Error::other)
    })
}

pub(crate) fn open(backup: &[u8], passphrase: &SecretString) -> Result<Archive, ProfileError> {
    let plain = open_with_passphrase(passphrase, backup).ok_or(ProfileError::BackupPassphrase)?;
    let archive: Archive = serde_json::from_slice(&plain)
        .map_err(|e| ProfileError::InvalidBackup(format!("not the archive JSON: {e}")))?;
    if archive.format != BACKUP_FORMAT {
        return Err(ProfileError::InvalidBackup(format!(
            "format is {:?}, expected {BACKUP_FORMAT:?}",
            archive.format
        )));
    }
    if archive.version != BACKUP_VERSION {
        return Err(ProfileError::InvalidBackup(format!(
            "version {} is not supported (this build reads version {BACKUP_VERSION})",
            archive.version
        )));
    }
    Ok(archive)
}

impl Archive {
    pub(crate) fn into_parts(self) -> Result<(Keyring, Vec<RestoredDocument>), ProfileError> {
        let bad = |what: &str| ProfileError::InvalidBackup(what.to_owned());
        let k = &self.keyring;
        let identity = age::x25519::Identity::from_str(&k.device_identity)
            .map_err(|_| bad("device_identity is not an age X25519 identity"))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            hex32(&k.signing_key).ok_or_else(|| bad("signing_key is not 32 hex bytes"))?,
        );
        let mut keys = BTreeMap::new();
        for entry in &k.keys {
            let id = hex::decode(&entry.id)
                .ok()
                .and_then(|v| <[u8; 16]>::try_from(v).ok())
                .ok_or_else(|| bad("a key id is not 16 hex bytes"))?;
            let key =
                Zeroizing::new(hex32(&entry.key).ok_or_else(|| bad("a key is not 32 hex bytes"))?);
            keys.insert(KeyId(id), SymmetricKey::from_bytes(*key));
        }
        let keyring = Keyring::from_parts(identity, SigningKey::from_bytes(&seed), keys);
        let mut documents = Vec::with_capacity(self.documents.len());
        for doc in &self.documents {
            let id = hex::decode(&doc.id)
                .ok()
                .and_then(|v| <[u8; 16]>::try_from(v).ok())
                .ok_or_else(|| bad("a document id is not 16 hex bytes"))?;
            let decode = |s: &String| {
                BASE64_STANDARD
                    .decode(s)
                    .map_err(|_| bad("document bytes are not base64"))
            };
            documents.push(RestoredDocument {
                id: DocumentId(id),
                snapshot: doc.snapshot.as_ref().map(decode).transpose()?,
                increments: doc
                    .increments
                    .iter()
                    .map(decode)
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok((keyring, documents))
    }
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut v = Zeroizing::new(hex::decode(s).ok()?);
    let out = <[u8; 32]>::try_from(v.as_slice()).ok();
    v.zeroize();
    out
}
