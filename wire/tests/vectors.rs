//! Committed test vectors for the request signature: a client in another
//! language must produce these exact bytes, and the `fail_*` vectors must be
//! refused.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use safespaces_wire::auth::{self, AuthError, RequestProof, canonical_bytes, sign, subscribe_body};
use safespaces_wire::{MailboxId, Operation};

const SEED: [u8; 32] = [0x11; 32];
const VERIFYING_KEY: &str = "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737";
const MAILBOX: [u8; 32] = [0xab; 32];
const TIMESTAMP: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const NONCE: [u8; 16] = [0x5a; 16];
const BODY: &[u8] = b"hello relay";

/// SHA-256("hello relay") = d6d73b3e…692b.
const CANONICAL_APPEND: &str = "safespaces-relay/v1\nappend\nabababababababababababababababababababababababababababababababab\n1767225600\n5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\nd6d73b3e899f235e4c4540a978ac34c5bcd2dea1437991da046282f41844692b";
const SIGNATURE_APPEND: &str = "9b94fdb4cfd854186e85fa842950ee377e9dcae9a174bd17c75342154281745f54d4a7a1f58816b20060e0fc811c4b68ac472af1b423fe37df469bb0ee4aa908";
/// Subscribe with cursor 7 (body "7"), same key, mailbox, time and nonce.
const SIGNATURE_SUBSCRIBE_7: &str = "bce18bf671b15947ed756308c22e20685e92dcca5003877b3a231ab793c11185d08c31f3b4d6b4d8d5c032c0356523a20b5152847b2cdb73461292bdc31d3f05";

fn key() -> SigningKey {
    SigningKey::from_bytes(&SEED)
}

fn mailbox() -> MailboxId {
    MailboxId::from_bytes(MAILBOX)
}

fn proof(sig: &str) -> RequestProof {
    RequestProof::from_wire(
        Some(&TIMESTAMP.to_string()),
        Some(&hex::encode(NONCE)),
        Some(sig),
    )
    .unwrap()
}

#[test]
fn canonical_bytes_match_the_vector() {
    let c = canonical_bytes(Operation::Append, &mailbox(), TIMESTAMP, &NONCE, BODY);
    assert_eq!(std::str::from_utf8(&c).unwrap(), CANONICAL_APPEND);
    assert_eq!(hex::encode(key().verifying_key().as_bytes()), VERIFYING_KEY);
}

#[test]
fn signatures_match_the_vectors() {
    let p = sign(
        &key(),
        Operation::Append,
        &mailbox(),
        BODY,
        TIMESTAMP,
        NONCE,
    );
    assert_eq!(p.signature_hex(), SIGNATURE_APPEND);
    let p = sign(
        &key(),
        Operation::Subscribe,
        &mailbox(),
        &subscribe_body(7),
        TIMESTAMP,
        NONCE,
    );
    assert_eq!(p.signature_hex(), SIGNATURE_SUBSCRIBE_7);
    let vk = key().verifying_key();
    auth::verify(
        &vk,
        Operation::Append,
        &mailbox(),
        BODY,
        &proof(SIGNATURE_APPEND),
    )
    .unwrap();
    auth::verify(
        &vk,
        Operation::Subscribe,
        &mailbox(),
        b"7",
        &proof(SIGNATURE_SUBSCRIBE_7),
    )
    .unwrap();
}

#[test]
fn fail_other_operation() {
    let vk = key().verifying_key();
    let r = auth::verify(
        &vk,
        Operation::Delete,
        &mailbox(),
        BODY,
        &proof(SIGNATURE_APPEND),
    );
    assert_eq!(r, Err(AuthError::BadSignature));
}

#[test]
fn fail_other_body() {
    let vk = key().verifying_key();
    let r = auth::verify(
        &vk,
        Operation::Append,
        &mailbox(),
        b"hello relay!",
        &proof(SIGNATURE_APPEND),
    );
    assert_eq!(r, Err(AuthError::BadSignature));
}

#[test]
fn fail_other_mailbox() {
    let vk = key().verifying_key();
    let other = MailboxId::from_bytes([0xac; 32]);
    let r = auth::verify(
        &vk,
        Operation::Append,
        &other,
        BODY,
        &proof(SIGNATURE_APPEND),
    );
    assert_eq!(r, Err(AuthError::BadSignature));
}

#[test]
fn fail_other_timestamp_or_nonce() {
    let vk = key().verifying_key();
    let mut p = proof(SIGNATURE_APPEND);
    p.timestamp += 1;
    assert_eq!(
        auth::verify(&vk, Operation::Append, &mailbox(), BODY, &p),
        Err(AuthError::BadSignature)
    );
    let mut p = proof(SIGNATURE_APPEND);
    p.nonce[0] ^= 1;
    assert_eq!(
        auth::verify(&vk, Operation::Append, &mailbox(), BODY, &p),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn fail_other_key() {
    let vk = SigningKey::from_bytes(&[0x12; 32]).verifying_key();
    let r = auth::verify(
        &vk,
        Operation::Append,
        &mailbox(),
        BODY,
        &proof(SIGNATURE_APPEND),
    );
    assert_eq!(r, Err(AuthError::BadSignature));
}

#[test]
fn fail_malformed_proof_fields() {
    let ts = TIMESTAMP.to_string();
    let n = hex::encode(NONCE);
    assert_eq!(
        RequestProof::from_wire(None, Some(&n), Some(SIGNATURE_APPEND)),
        Err(AuthError::Missing(auth::HEADER_TIMESTAMP))
    );
    for bad_ts in ["", "+1767225600", "-1", "1.5", "99999999999999999999999"] {
        assert!(matches!(
            RequestProof::from_wire(Some(bad_ts), Some(&n), Some(SIGNATURE_APPEND)),
            Err(AuthError::Malformed(_))
        ));
    }
    assert!(RequestProof::from_wire(Some(&ts), Some("5a5a"), Some(SIGNATURE_APPEND)).is_err());
    assert!(RequestProof::from_wire(Some(&ts), Some(&n), Some(&SIGNATURE_APPEND[2..])).is_err());
}

/// A vouch for a drop-box put (`safespaces_wire::dropbox::vouch_body`):
/// drop-box `cd…cd`, reserving `ef…ef`, 600 s, blob "invite"; same key,
/// mailbox, time and nonce as above.
const SIGNATURE_VOUCH: &str = "2f7a363dafb528aa1358632e9749581d962381f7d772d99a754503658dd5f0eb68fdcacf30dc5d032767ea13611e0604e971d860a8439661d2abaad70bfc9807";

fn vouch_body() -> Vec<u8> {
    let d = safespaces_wire::DropboxId::from_bytes([0xcd; 32]);
    let r = safespaces_wire::DropboxId::from_bytes([0xef; 32]);
    safespaces_wire::dropbox::vouch_body(&d, Some(&r), Some(600), b"invite")
}

#[test]
fn vouch_signature_matches_the_vector() {
    let p = sign(
        &key(),
        Operation::Vouch,
        &mailbox(),
        &vouch_body(),
        TIMESTAMP,
        NONCE,
    );
    assert_eq!(p.signature_hex(), SIGNATURE_VOUCH);
}

#[test]
fn fail_vouch_spent_on_another_put_or_operation() {
    let vk = key().verifying_key();
    let p = proof(SIGNATURE_VOUCH);
    assert!(auth::verify(&vk, Operation::Vouch, &mailbox(), &vouch_body(), &p).is_ok());
    let d = safespaces_wire::DropboxId::from_bytes([0xcd; 32]);
    for other in [
        safespaces_wire::dropbox::vouch_body(&d, None, Some(600), b"invite"),
        safespaces_wire::dropbox::vouch_body(&d, None, None, b"invite"),
        safespaces_wire::dropbox::vouch_body(&d, None, Some(600), b"other"),
    ] {
        assert_eq!(
            auth::verify(&vk, Operation::Vouch, &mailbox(), &other, &p),
            Err(AuthError::BadSignature)
        );
    }
    assert_eq!(
        auth::verify(&vk, Operation::Append, &mailbox(), &vouch_body(), &p),
        Err(AuthError::BadSignature)
    );
}
