//! Authorising mailbox requests: the relay's half of [`safespaces_wire::auth`].
//!
//! Checks run cheapest first so unauthenticated traffic costs little: proof
//! present and well formed, timestamp inside the window, mailbox keys known,
//! signature valid (by the member key, or by the admin key for compact and
//! delete, over this relay's host name), a tombstone refused only after
//! that, and only then the nonce is recorded (so only correctly
//! signed requests can occupy replay memory): in this node's memory, and, if
//! the store is shared by several nodes (PostgreSQL), in the store too.
//!
//! Until a signature verified, no answer depends on whether the mailbox
//! exists: a request for an id the relay does not hold is refused with
//! `bad_signature`, like a request signed with the wrong key.

use axum::http::HeaderMap;
use ed25519_dalek::VerifyingKey;
use safespaces_wire::auth::{self, AuthError, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use safespaces_wire::{ErrorCode, MailboxId, Operation, RequestProof};

use crate::api_error::ApiError;
use crate::app::{App, unix_now};
use crate::metrics::Metrics;
use crate::replay::Admission;
use crate::store::MailboxRecord;

/// The host a request was sent to, as its `Host` header gives it (the
/// signed bytes normalise it: no port, lowercase).
pub fn request_host(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Whether `proof` verifies with `key` for a host this relay answers to:
/// one of the operator's `--public-host` names if given (so a request
/// signed for another relay is refused even if its `Host` header is forged
/// to match), else the request's own host.
fn signed_for_this_relay(
    app: &App,
    host: &str,
    key: &VerifyingKey,
    op: Operation,
    mailbox: &MailboxId,
    body: &[u8],
    proof: &RequestProof,
) -> bool {
    let verifies = |h: &str| auth::verify(key, h, op, mailbox, body, proof).is_ok();
    if app.config.public_host.is_empty() {
        verifies(host)
    } else {
        app.config.public_host.iter().any(|h| verifies(h))
    }
}

/// The key requests for a mailbox that does not exist are checked against.
/// It comes from a fixed seed, but what matters is only that no valid
/// signature under it can turn up for a request (Ed25519 is unforgeable), and
/// that verifying against it costs what verifying against a real key costs.
fn absent_mailbox_key() -> VerifyingKey {
    static KEY: std::sync::OnceLock<VerifyingKey> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let seed: [u8; 32] = Sha256::digest(b"safespaces-relay/v1 absent mailbox").into();
        ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key()
    })
}

/// Reads the proof headers.
pub fn proof_from_headers(headers: &HeaderMap) -> Result<RequestProof, ApiError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    RequestProof::from_wire(
        get(HEADER_TIMESTAMP),
        get(HEADER_NONCE),
        get(HEADER_SIGNATURE),
    )
    .map_err(auth_error)
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Missing(_) => ApiError::new(ErrorCode::Unauthenticated, e.to_string()),
        AuthError::BadSignature => ApiError::new(
            ErrorCode::BadSignature,
            "the signature does not verify with this mailbox's key for this relay",
        ),
        _ => ApiError::new(ErrorCode::MalformedRequest, e.to_string()),
    }
}

/// Parses a 64-hex-digit Ed25519 verifying key.
pub fn parse_verifying_key(hex_key: &str) -> Result<VerifyingKey, ApiError> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut raw).map_err(|_| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            "verifying_key must be 64 hex digits",
        )
    })?;
    VerifyingKey::from_bytes(&raw).map_err(|_| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            "verifying_key is not a valid Ed25519 public key",
        )
    })
}

/// Checks a proof for `op` on `mailbox` over `body`, sent to `host` (see
/// [`request_host`]). With `key` given (mailbox creation) it is used instead
/// of the stored keys.
pub async fn check(
    app: &App,
    host: &str,
    op: Operation,
    mailbox: &MailboxId,
    body: &[u8],
    proof: &RequestProof,
    key: Option<VerifyingKey>,
) -> Result<(), ApiError> {
    let now = unix_now();
    if now.abs_diff(proof.timestamp) > app.config.clock_window_secs {
        return Err(ApiError::new(
            ErrorCode::StaleTimestamp,
            format!(
                "the signed timestamp is more than {} seconds from the relay's clock; check the device clock",
                app.config.clock_window_secs
            ),
        ));
    }
    let creating = key.is_some();
    let (key, deleted) = match key {
        Some(k) => (k, false),
        None => match app.store.mailbox_record(*mailbox).await? {
            Some(MailboxRecord { keys, deleted }) => {
                // Only the admin key may destroy history: a member's key,
                // which every member (and every removed member) holds,
                // cannot.
                let raw = if op.needs_admin_key() {
                    keys.admin
                } else {
                    keys.member
                };
                let key = VerifyingKey::from_bytes(&raw).map_err(|_| {
                    ApiError::new(ErrorCode::Internal, "the stored key is unusable")
                })?;
                (key, deleted)
            }
            // No such mailbox. Answering that before the signature is
            // checked would tell anyone who knows an id whether it exists,
            // so the request is checked against a key nobody holds and
            // refused exactly like a wrong key: same code, same message,
            // same Ed25519 work. Only a proof that verifies learns more
            // (a tombstone's `mailbox_deleted`).
            None => (absent_mailbox_key(), false),
        },
    };
    if !signed_for_this_relay(app, host, &key, op, mailbox, body, proof) {
        return Err(auth_error(AuthError::BadSignature));
    }
    if deleted {
        return Err(ApiError::new(
            ErrorCode::MailboxDeleted,
            "this mailbox was deleted; its id cannot be used again",
        ));
    }
    let replayed = || {
        ApiError::new(
            ErrorCode::ReplayedNonce,
            "this nonce was already used; sign every request with a fresh nonce",
        )
    };
    match app.nonces.insert(mailbox, proof.nonce, now, creating) {
        Admission::Fresh => {}
        Admission::Replayed => return Err(replayed()),
        Admission::Busy => {
            Metrics::add(&app.metrics.nonces_refused, 1);
            return Err(ApiError::new(
                ErrorCode::RelayBusy,
                "the relay is at its limit of signed requests it can remember; nothing was done, try again in a few minutes",
            ));
        }
    }
    // Several nodes on one database: the request may have been replayed to
    // another node, whose memory this node cannot see. The nonce matters
    // only while its timestamp can still be accepted.
    let expires_at = proof
        .timestamp
        .saturating_add(app.config.clock_window_secs)
        .saturating_add(1);
    if !app.store.remember_nonce(proof.nonce, expires_at).await? {
        return Err(replayed());
    }
    Ok(())
}

/// Reads the proof from headers and checks it.
pub async fn authorize(
    app: &App,
    headers: &HeaderMap,
    op: Operation,
    mailbox: &MailboxId,
    body: &[u8],
) -> Result<(), ApiError> {
    let proof = proof_from_headers(headers)?;
    check(app, &request_host(headers), op, mailbox, body, &proof, None).await
}

/// Checks `Authorization: Bearer <token>` against the operator token, if one is set.
pub fn check_access_token(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &app.config.access_token else {
        return Ok(());
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare digests so the comparison time says nothing about the token.
    use sha2::{Digest, Sha256};
    if Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "this relay needs its operator access token (Authorization: Bearer <token>)",
        ))
    }
}
