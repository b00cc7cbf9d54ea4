//! Request signatures: what a mailbox signature covers, and how it is checked.
//!
//! Every mailbox operation (create, append, read, subscribe, compact, delete)
//! carries a [`RequestProof`]: a Unix timestamp, a 16-byte random nonce and an
//! Ed25519 signature by the mailbox's key over these canonical bytes:
//!
//! ```text
//! safespaces-relay/v2\n
//! <relay host>\n          e.g. "relay.example.org" (lowercase, no port)
//! <operation>\n           e.g. "append"
//! <mailbox id, 64 lowercase hex>\n
//! <timestamp, decimal Unix seconds>\n
//! <nonce, 32 lowercase hex>\n
//! <SHA-256 of the request body, 64 lowercase hex>
//! ```
//!
//! (no trailing newline). The body is the exact HTTP request body; for a
//! WebSocket subscription it is the decimal cursor (see
//! [`subscribe_body`]). The domain prefix keeps these signatures useless for
//! anything else the key might sign; the operation and body hash bind the
//! signature to one request; the host binds it to one relay, so a request
//! recorded by one relay's operator is refused by every other relay (which
//! checks the host against its own names); the timestamp and nonce let the
//! relay reject replays while remembering nonces only for the length of its
//! window (persisted, so a restart does not reopen it).
//!
//! Which key signs: `create`, `append`, `read` and `subscribe` are signed
//! with the mailbox's **member key**, which every member device derives;
//! `compact` and `delete` only with its **admin key**, which only the
//! devices that may retire history hold (see [`crate::mailbox`]).
//!
//! The relay additionally enforces the time window and nonce uniqueness,
//! which need a clock and memory and therefore live in the relay.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The domain-separation prefix of the canonical bytes.
pub const DOMAIN: &str = "safespaces-relay/v2";

/// HTTP header carrying [`RequestProof::timestamp`] (decimal Unix seconds).
pub const HEADER_TIMESTAMP: &str = "x-safespaces-timestamp";
/// HTTP header carrying [`RequestProof::nonce`] (32 hex digits).
pub const HEADER_NONCE: &str = "x-safespaces-nonce";
/// HTTP header carrying [`RequestProof::signature`] (128 hex digits).
pub const HEADER_SIGNATURE: &str = "x-safespaces-signature";

/// The operation a signature authorises. Part of the signed bytes, so a
/// signature for `read` can never be replayed as a `delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Create a mailbox (signed with the new key: proof of possession).
    Create,
    /// Append one blob.
    Append,
    /// Read a page of blobs after a cursor.
    Read,
    /// Subscribe over a WebSocket.
    Subscribe,
    /// Delete blobs covered by a snapshot.
    Compact,
    /// Delete the whole mailbox.
    Delete,
    /// Vouch for a drop-box put: the mailbox's holder answers for it, so it
    /// is charged to the mailbox rather than to the relay's shared pool of
    /// anonymous drop-boxes (see [`crate::dropbox::vouch_body`]).
    Vouch,
}

impl Operation {
    /// Whether the mailbox's admin key (not its member key) must sign it:
    /// the operations that destroy history.
    pub const fn needs_admin_key(self) -> bool {
        matches!(self, Operation::Compact | Operation::Delete)
    }

    /// The name used in the canonical bytes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Append => "append",
            Operation::Read => "read",
            Operation::Subscribe => "subscribe",
            Operation::Compact => "compact",
            Operation::Delete => "delete",
            Operation::Vouch => "vouch",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client attaches to a mailbox request to prove it holds the key.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestProof {
    /// Unix seconds when the client made the request.
    pub timestamp: u64,
    /// 16 random bytes, never reused within the relay's time window.
    pub nonce: [u8; 16],
    /// Ed25519 signature over [`canonical_bytes`].
    pub signature: [u8; 64],
}

impl fmt::Debug for RequestProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestProof")
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// Why a request proof is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A proof field is missing.
    #[error("the request is not signed: {0} is missing")]
    Missing(&'static str),
    /// A proof field is present but not well formed.
    #[error("{0} is malformed")]
    Malformed(&'static str),
    /// The signature does not verify with the mailbox's key.
    #[error("the signature does not verify with this mailbox's key")]
    BadSignature,
}

impl RequestProof {
    /// Parses the three proof fields from their wire forms (the header values).
    pub fn from_wire(
        timestamp: Option<&str>,
        nonce: Option<&str>,
        signature: Option<&str>,
    ) -> Result<Self, AuthError> {
        let timestamp = timestamp.ok_or(AuthError::Missing(HEADER_TIMESTAMP))?;
        let nonce = nonce.ok_or(AuthError::Missing(HEADER_NONCE))?;
        let signature = signature.ok_or(AuthError::Missing(HEADER_SIGNATURE))?;
        let timestamp = parse_decimal(timestamp).ok_or(AuthError::Malformed(HEADER_TIMESTAMP))?;
        let mut n = [0u8; 16];
        hex::decode_to_slice(nonce, &mut n).map_err(|_| AuthError::Malformed(HEADER_NONCE))?;
        let mut s = [0u8; 64];
        hex::decode_to_slice(signature, &mut s)
            .map_err(|_| AuthError::Malformed(HEADER_SIGNATURE))?;
        Ok(Self {
            timestamp,
            nonce: n,
            signature: s,
        })
    }

    /// The nonce as 32 hex digits, as sent in [`HEADER_NONCE`].
    pub fn nonce_hex(&self) -> String {
        hex::encode(self.nonce)
    }

    /// The signature as 128 hex digits, as sent in [`HEADER_SIGNATURE`].
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }
}

/// Only plain ASCII digits: `u64::from_str` would also take a leading `+`,
/// and two spellings of one timestamp are one spelling too many.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The body a subscription signs: its cursor in decimal ASCII.
pub fn subscribe_body(after: u64) -> Vec<u8> {
    after.to_string().into_bytes()
}

/// The host name as it is signed: the host part of an authority
/// (`Host` header or URL), without a port, in lowercase. `[::1]:8443` gives
/// `[::1]`; `Relay.Example.org:443` gives `relay.example.org`.
pub fn normalize_host(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        // An IPv6 literal keeps its brackets; a port may follow them.
        authority
            .split_once(']')
            .map_or(authority.to_string(), |(h, _)| format!("{h}]"))
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, port)| {
                if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    authority
                }
            })
            .to_string()
    };
    host.to_ascii_lowercase()
}

/// The exact bytes a request signature covers (see the module docs). `host`
/// is normalised with [`normalize_host`] first.
pub fn canonical_bytes(
    host: &str,
    op: Operation,
    mailbox: &crate::id::MailboxId,
    timestamp: u64,
    nonce: &[u8; 16],
    body: &[u8],
) -> Vec<u8> {
    let body_hash = Sha256::digest(body);
    format!(
        "{DOMAIN}\n{}\n{}\n{}\n{timestamp}\n{}\n{}",
        normalize_host(host),
        op.as_str(),
        mailbox.to_hex(),
        hex::encode(nonce),
        hex::encode(body_hash)
    )
    .into_bytes()
}

/// Signs a request with an explicit timestamp and nonce (deterministic; see
/// [`sign_now`] for the everyday form).
pub fn sign(
    key: &SigningKey,
    host: &str,
    op: Operation,
    mailbox: &crate::id::MailboxId,
    body: &[u8],
    timestamp: u64,
    nonce: [u8; 16],
) -> RequestProof {
    let msg = canonical_bytes(host, op, mailbox, timestamp, &nonce, body);
    RequestProof {
        timestamp,
        nonce,
        signature: key.sign(&msg).to_bytes(),
    }
}

/// Signs a request with the current time and a fresh random nonce.
pub fn sign_now(
    key: &SigningKey,
    host: &str,
    op: Operation,
    mailbox: &crate::id::MailboxId,
    body: &[u8],
) -> RequestProof {
    use rand::RngCore;
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    sign(key, host, op, mailbox, body, now, nonce)
}

/// Checks the signature of a request (not its time window or nonce, which
/// need the relay's clock and memory).
pub fn verify(
    key: &VerifyingKey,
    host: &str,
    op: Operation,
    mailbox: &crate::id::MailboxId,
    body: &[u8],
    proof: &RequestProof,
) -> Result<(), AuthError> {
    let msg = canonical_bytes(host, op, mailbox, proof.timestamp, &proof.nonce, body);
    let sig = Signature::from_bytes(&proof.signature);
    // verify_strict refuses small-order keys and non-canonical signatures, so
    // a signature has exactly one valid encoding.
    key.verify_strict(&msg, &sig)
        .map_err(|_| AuthError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_signed_without_port_and_in_lowercase() {
        assert_eq!(
            normalize_host("Relay.Example.org:8443"),
            "relay.example.org"
        );
        assert_eq!(normalize_host("relay.example.org"), "relay.example.org");
        assert_eq!(normalize_host("[::1]:8443"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
        assert_eq!(normalize_host("127.0.0.1:1"), "127.0.0.1");
        assert_eq!(normalize_host("host:"), "host:");
    }

    #[test]
    fn a_request_signed_for_one_relay_is_refused_by_another() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let m = crate::id::MailboxId::from_bytes([4; 32]);
        let p = sign(
            &key,
            "relay-a.example",
            Operation::Read,
            &m,
            b"{}",
            1,
            [0; 16],
        );
        let vk = key.verifying_key();
        assert!(verify(&vk, "RELAY-A.example:443", Operation::Read, &m, b"{}", &p).is_ok());
        assert_eq!(
            verify(&vk, "relay-b.example", Operation::Read, &m, b"{}", &p),
            Err(AuthError::BadSignature)
        );
    }
}
