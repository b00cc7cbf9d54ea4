//! Cryptographic building blocks shared by the device store and, later, the
//! sync protocol.
//!
//! Everything that leaves memory is an age v1 file (design decision 2). This
//! module holds the pieces that make that cheap enough to do per blob:
//!
//! - [`SymmetricKey`]: a 32-byte key that is both an age `Recipient` and an
//!   age `Identity`, through a custom `safespaces-key` stanza. Sealing a blob
//!   costs one HKDF and one ChaCha20-Poly1305 of 16 bytes instead of an X25519
//!   exchange. The store seals every file with it; the protocol reuses it for
//!   epoch keys.
//! - [`seal_to_devices`] / [`open_as_device`]: age files to specific devices'
//!   X25519 keys (handovers, attendance), where a shared key would reach too many.
//! - [`padding`]: size padding for everything sealed: bucketed age files
//!   (the store, envelopes, links, bundles) and fixed JSON frames (invites).
//!   Below both the store and the protocol, which both use it.

pub(crate) mod device_seal;
pub mod padding;
mod symmetric_key;

pub use device_seal::{DeviceSealError, open_as_device, seal_to_devices};
pub use symmetric_key::{KEY_STANZA_TAG, OpenError, SealError, SymmetricKey};
