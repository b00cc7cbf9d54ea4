//! A bundle from another member, through a real profile's `import_bundle`:
//! the input is the bundle's plaintext frame, sealed here under the space's
//! key (the fuzzer cannot forge age), so the frame parser and every
//! envelope's receive path see arbitrary bytes. Never panics, and a bad
//! bundle changes nothing it should not.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use safespaces_core::app::SafeSpaces;
use safespaces_core::crypto::SymmetricKey;
use safespaces_core::model::Timestamp;
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::store::padding::seal_padded;

struct Device {
    app: SafeSpaces,
    key: SymmetricKey,
    _dir: tempfile::TempDir,
}

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = SafeSpaces::create(
            dir.path(),
            UnlockSecret::passphrase("fuzz"),
            ProfileOptions {
                passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
            },
        )
        .expect("a profile");
        let space = app
            .create_space("Group", "Robin", Timestamp(0))
            .expect("a space");
        // The space's epoch key, from the keyring (its id is derived).
        use sha2::{Digest, Sha256};
        let mut id = [0u8; 16];
        hex::decode_to_slice(space.id(), &mut id).expect("hex");
        let mut hasher = Sha256::new();
        hasher.update(b"safespaces/v1/keyring/epoch");
        hasher.update(id);
        hasher.update(0u32.to_be_bytes());
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&hasher.finalize()[..16]);
        let bytes = app
            .profile()
            .with_keyring(|k| {
                k.key(&safespaces_core::profile::KeyId(key_id))
                    .map(|k| *k.expose_bytes())
            })
            .expect("unlocked")
            .expect("the epoch key");
        let key = safespaces_core::protocol::EpochKey::from_bytes(bytes).content_key();
        Device {
            app,
            key,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let device = device();
    if let Ok(bundle) = seal_padded(&device.key, data) {
        let _ = device.app.import_bundle(&bundle, Timestamp(10));
    }
});
