//! Committed test vectors for the request signature: a client in another
//! language must produce these exact bytes, and the `fail_*` vectors must be
//! refused. The values were checked independently with Python's
//! `cryptography` (Ed25519) and `hashlib`.
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
const HOST: &str = "relay.example.org";

/// SHA-256("hello relay") = d6d73b3e…692b.
const CANONICAL_APPEND: &str = "safespaces-relay/v2\nrelay.example.org\nappend\nabababababababababababababababababababababababababababababababab\n1767225600\n5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\nd6d73b3e899f235e4c4540a978ac34c5bcd2dea1437991da046282f41844692b";
const SIGNATURE_APPEND: &str = "c156fb5f646a9bec433e3a4976109de151852a1ff70e6d71ed3ab81cecd817b356cf0c423e45eb9f537558773f27522fda2c49bb7083bc256ab532f05953e00b";
/// Subscribe with cursor 7 (body "7"), same key, mailbox, time and nonce.
const SIGNATURE_SUBSCRIBE_7: &str = "b3dd772a3f6ef2aa8bff9fe68dac3cdf35a7fd63dc7d3b687af59acb03957c0b527cbe4a9a7b394345a30e49cf96ee3b8d7831c5b18602b4e5f16711e7b8f508";

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
    let c = canonical_bytes(HOST, Operation::Append, &mailbox(), TIMESTAMP, &NONCE, BODY);
    assert_eq!(std::str::from_utf8(&c).unwrap(), CANONICAL_APPEND);
    assert_eq!(hex::encode(key().verifying_key().as_bytes()), VERIFYING_KEY);
}

#[test]
fn signatures_match_the_vectors() {
    let p = sign(
        &key(),
        HOST,
        Operation::Append,
        &mailbox(),
        BODY,
        TIMESTAMP,
        NONCE,
    );
    assert_eq!(p.signature_hex(), SIGNATURE_APPEND);
    let p = sign(
        &key(),
        HOST,
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
        HOST,
        Operation::Append,
        &mailbox(),
        BODY,
        &proof(SIGNATURE_APPEND),
    )
    .unwrap();
    auth::verify(
        &vk,
        HOST,
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
        HOST,
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
        HOST,
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
        HOST,
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
        auth::verify(&vk, HOST, Operation::Append, &mailbox(), BODY, &p),
        Err(AuthError::BadSignature)
    );
    let mut p = proof(SIGNATURE_APPEND);
    p.nonce[0] ^= 1;
    assert_eq!(
        auth::verify(&vk, HOST, Operation::Append, &mailbox(), BODY, &p),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn fail_other_host() {
    let vk = key().verifying_key();
    let r = auth::verify(
        &vk,
        "relay.example.net",
        Operation::Append,
        &mailbox(),
        BODY,
        &proof(SIGNATURE_APPEND),
    );
    assert_eq!(r, Err(AuthError::BadSignature));
}

/// The mailbox id of member key `VERIFYING_KEY` and admin key of seed 0x22 × 32.
const MAILBOX_FOR_KEYS: &str = "4238643b10b259d6eea898c300e85b2f5d3045bd895219b3a868e70846a78f8a";

#[test]
fn the_mailbox_id_names_both_keys() {
    let admin = SigningKey::from_bytes(&[0x22; 32]).verifying_key();
    let id = safespaces_wire::mailbox::mailbox_id_for_keys(
        key().verifying_key().as_bytes(),
        admin.as_bytes(),
    );
    assert_eq!(id.to_hex(), MAILBOX_FOR_KEYS);
    // Swapping the keys' roles names another mailbox.
    let swapped = safespaces_wire::mailbox::mailbox_id_for_keys(
        admin.as_bytes(),
        key().verifying_key().as_bytes(),
    );
    assert_ne!(swapped, id);
}

#[test]
fn fail_other_key() {
    let vk = SigningKey::from_bytes(&[0x12; 32]).verifying_key();
    let r = auth::verify(
        &vk,
        HOST,
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
const SIGNATURE_VOUCH: &str = "45950f3c4c9badc5da32241d083eaf7a4e0be3cf3bc5d8a982856381d8825f007fef247148a04a49b2eaeaa2468b0efbe5ece1942dec238e3c6e63139fe75e03";

fn vouch_body() -> Vec<u8> {
    let d = safespaces_wire::DropboxId::from_bytes([0xcd; 32]);
    let r = safespaces_wire::DropboxId::from_bytes([0xef; 32]);
    safespaces_wire::dropbox::vouch_body(&d, Some(&r), Some(600), b"invite")
}

#[test]
fn vouch_signature_matches_the_vector() {
    let p = sign(
        &key(),
        HOST,
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
    assert!(auth::verify(&vk, HOST, Operation::Vouch, &mailbox(), &vouch_body(), &p).is_ok());
    let d = safespaces_wire::DropboxId::from_bytes([0xcd; 32]);
    for other in [
        safespaces_wire::dropbox::vouch_body(&d, None, Some(600), b"invite"),
        safespaces_wire::dropbox::vouch_body(&d, None, None, b"invite"),
        safespaces_wire::dropbox::vouch_body(&d, None, Some(600), b"other"),
    ] {
        assert_eq!(
            auth::verify(&vk, HOST, Operation::Vouch, &mailbox(), &other, &p),
            Err(AuthError::BadSignature)
        );
    }
    assert_eq!(
        auth::verify(&vk, HOST, Operation::Append, &mailbox(), &vouch_body(), &p),
        Err(AuthError::BadSignature)
    );
}
