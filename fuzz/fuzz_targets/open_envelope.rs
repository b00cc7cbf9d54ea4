//! Opening envelopes (and the other things that arrive from other devices)
//! never panics, whatever the bytes.
//!
//! The input is tried three ways: as a sealed envelope (the age layer first,
//! as the relay delivers it), as an already-decrypted envelope plaintext (so
//! the fuzzer reaches the parser and signature check without having to
//! forge age), and as a handover body, an invite code and an invite package.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use safespaces_core::model::Timestamp;
use safespaces_core::protocol::invite::{InvitePackage, InviteSecret};
use safespaces_core::protocol::{Envelope, EpochKey, Handover, SpaceId};

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
    let secret = InviteSecret::parse("ss1-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-a").ok();
    if let Some(secret) = secret {
        let _ = InvitePackage::open(data, &secret, Timestamp(0));
    }
});
