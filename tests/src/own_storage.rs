//! What a device's own storage gives its owner: the keys a hostile member's
//! modified app holds and may use however it likes.
//!
//! Attack tests play that member with these, writing whatever bytes they
//! like to the real relay, and then check the honest devices through their
//! normal paths. Everything here is read from the device's own unlocked
//! profile (keyring ids are derived, storage.md; the registry is document
//! zero), never from another device.

use safespaces_core::app::SafeSpaces;
use safespaces_core::profile::KeyId;
use safespaces_core::protocol::{AdminKey, AdminSeed, EpochKey};
use safespaces_core::relay::MailboxCredential;
use safespaces_core::store::DocumentId;
use sha2::{Digest, Sha256};

fn keyring_id(label: &[u8], space: &[u8], epoch: u32) -> KeyId {
    let mut hasher = Sha256::new();
    hasher.update(label);
    hasher.update(space);
    hasher.update(epoch.to_be_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize()[..16]);
    KeyId(id)
}

fn keyring_key(app: &SafeSpaces, id: &KeyId) -> Option<[u8; 32]> {
    app.profile()
        .with_keyring(|k| k.key(id).map(|key| *key.expose_bytes()))
        .expect("the profile is unlocked")
}

/// The epoch key `app` holds for `space` (hex) at `epoch`.
pub fn epoch_key(app: &SafeSpaces, space: &str, epoch: u32) -> EpochKey {
    let space = hex::decode(space).expect("a space id is hex");
    let id = keyring_id(b"safespaces/v1/keyring/epoch", &space, epoch);
    EpochKey::from_bytes(keyring_key(app, &id).expect("the device holds the epoch key"))
}

/// The admin seed of `space`'s mailbox at `epoch`, if `app` holds it (a
/// coordinator's device).
pub fn admin_seed(app: &SafeSpaces, space: &str, epoch: u32) -> Option<AdminSeed> {
    let space = hex::decode(space).expect("a space id is hex");
    let id = keyring_id(b"safespaces/v3/keyring/mailbox-admin", &space, epoch);
    keyring_key(app, &id).map(AdminSeed::from_bytes)
}

/// The public admin key of `space`'s mailbox at `epoch`, from `app`'s
/// registry.
pub fn admin_key(app: &SafeSpaces, space: &str, epoch: u32) -> AdminKey {
    let stored = app
        .profile()
        .get_document(DocumentId([0; 16]))
        .expect("the profile is unlocked")
        .and_then(|d| d.snapshot)
        .expect("the registry is saved");
    let registry: serde_json::Value =
        serde_json::from_slice(&stored).expect("the registry is JSON");
    let hex = registry["spaces"][space]["mailbox_admins"][epoch.to_string()]
        .as_str()
        .expect("the device knows the mailbox's admin key");
    AdminKey::from_hex(hex).expect("a valid admin key")
}

/// The credential `app` signs `space`'s mailbox requests with at `epoch`:
/// with the admin key only if it holds the seed.
pub fn mailbox_credential(app: &SafeSpaces, space: &str, epoch: u32) -> MailboxCredential {
    let seed = admin_seed(app, space, epoch);
    MailboxCredential::for_epoch(
        &epoch_key(app, space, epoch),
        admin_key(app, space, epoch),
        seed.as_ref(),
    )
}
