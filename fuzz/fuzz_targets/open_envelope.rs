//! Opening envelopes (and the other things that arrive from other devices)
//! never panics, whatever the bytes.
//!
//! The input is tried three ways: as a sealed envelope (the age layer first,
//! as the relay delivers it), as an already-decrypted envelope plaintext (so
//! the fuzzer reaches the parser and signature check without having to
//! forge age), and as a handover body, an invite code, an invite package,
//! and a join request and a welcome (sealed, and as opened plaintext).
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use safespaces_core::model::Timestamp;
use safespaces_core::protocol::invite::{InvitePackage, InviteSecret, JoinRequest, Welcome};
use safespaces_core::protocol::{Envelope, EpochKey, Handover, SpaceId};

/// One device identity for every run: generating one per input would cost
/// more than the decoding it guards.
fn identity() -> &'static age::x25519::Identity {
    static IDENTITY: std::sync::OnceLock<age::x25519::Identity> = std::sync::OnceLock::new();
    IDENTITY.get_or_init(age::x25519::Identity::generate)
}

fuzz_target!(|data: &[u8]| {
    let epoch = EpochKey::from_bytes([7; 32]);
    let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let space = SpaceId([2; 16]);
    let _ = Envelope::open(data, &epoch.content_key(), space, 0, |_| Some(key));
    let _ = Envelope::decode_signed(data, space, 0, |_| Some(key));
    if let Ok(handover) = Handover::decode(data) {
        let _ = handover.encode();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = InviteSecret::parse(text);
    }
    let secret = InviteSecret::parse("ss2-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-a").expect("a code");
    let _ = InvitePackage::open(data, &secret, Timestamp(0));
    let _ = JoinRequest::decode(data);
    let _ = Welcome::decode(data);
    let identity = identity();
    let _ = JoinRequest::open(identity, data);
    let _ = Welcome::open(identity, data);
});
