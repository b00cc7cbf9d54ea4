//! Bodies of the one-time drop-box endpoints.
//!
//! An inviter puts one opaque blob under an id derived from the invite secret;
//! whoever holds the id claims it once, and then it is gone. Unclaimed
//! drop-boxes expire. The relay learns nothing about the space.
//!
//! | endpoint | request | response |
//! | --- | --- | --- |
//! | `PUT /v1/dropboxes/{id}?ttl_secs=N` | the opaque blob, raw bytes | 201 [`DropboxStored`] |
//! | `POST /v1/dropboxes/{id}/claim` | empty | 200, the blob as `application/octet-stream` |
//! | `GET /v1/dropboxes/{id}` | empty | 200 [`DropboxStored`] while it holds a blob (not consumed), else 404 |
//!
//! # Vouched puts and reserved slots
//! Anyone may put a drop-box, so the relay's shared pool of *anonymous*
//! drop-boxes can be filled by a stranger. A device that holds a mailbox key
//! can instead *vouch* for its put: `?vouch=<mailbox id>` with a request
//! proof (the usual `x-safespaces-*` headers) for [`Operation::Vouch`] on
//! that mailbox over [`vouch_body`]. A vouched drop-box is charged to the
//! mailbox (a few at a time), never to the anonymous pool, so no stranger
//! can crowd it out. `&reserve=<drop-box id>` additionally reserves one more
//! id, charged to the same mailbox, until the same expiry: a later put to
//! that id (by whoever knows it, anonymous) fills the reservation instead of
//! the anonymous pool, and a claim empties it again without ending it. An
//! inviter reserves the slot its invitee answers in this way.
//!
//! [`Operation::Vouch`]: crate::auth::Operation::Vouch

use serde::{Deserialize, Serialize};

use crate::id::{DropboxId, MailboxId};

/// Query parameters of a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutDropboxQuery {
    /// Lifetime in seconds; the relay's maximum if absent.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// The mailbox that vouches for this put (a signed [`Operation::Vouch`]
    /// request on it must come with the put).
    ///
    /// [`Operation::Vouch`]: crate::auth::Operation::Vouch
    #[serde(default)]
    pub vouch: Option<MailboxId>,
    /// A second drop-box id to reserve under the same vouch (needs `vouch`).
    #[serde(default)]
    pub reserve: Option<DropboxId>,
}

/// The body a vouch signs: the put's drop-box id, the reserved id (empty if
/// none) and the lifetime as asked (empty if absent), one per line, then the
/// blob itself. The signature thereby covers everything the put stores, so
/// a vouch for one put cannot be spent on another.
pub fn vouch_body(
    dropbox: &DropboxId,
    reserve: Option<&DropboxId>,
    ttl_secs: Option<u64>,
    blob: &[u8],
) -> Vec<u8> {
    let head = format!(
        "{}\n{}\n{}\n",
        dropbox.to_hex(),
        reserve.map(DropboxId::to_hex).unwrap_or_default(),
        ttl_secs.map(|t| t.to_string()).unwrap_or_default()
    );
    let mut body = Vec::with_capacity(head.len() + blob.len());
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(blob);
    body
}

/// The query string of a put (`?ttl_secs=…&vouch=…&reserve=…`, or empty).
pub fn put_query(
    ttl_secs: Option<u64>,
    vouch: Option<&MailboxId>,
    reserve: Option<&DropboxId>,
) -> String {
    let mut parts = Vec::new();
    if let Some(t) = ttl_secs {
        parts.push(format!("ttl_secs={t}"));
    }
    if let Some(m) = vouch {
        parts.push(format!("vouch={}", m.to_hex()));
    }
    if let Some(r) = reserve {
        parts.push(format!("reserve={}", r.to_hex()));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Reply to a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxStored {
    /// Unix seconds after which the drop-box can no longer be claimed.
    pub expires_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouch_body_binds_ids_lifetime_and_blob() {
        let d = DropboxId::from_bytes([1; 32]);
        let r = DropboxId::from_bytes([2; 32]);
        let body = vouch_body(&d, Some(&r), Some(600), b"blob");
        let expected = format!("{}\n{}\n600\nblob", "01".repeat(32), "02".repeat(32));
        assert_eq!(body, expected.as_bytes());
        assert_eq!(
            vouch_body(&d, None, None, b""),
            format!("{}\n\n\n", "01".repeat(32)).as_bytes()
        );
        assert_ne!(
            vouch_body(&d, None, None, b"x"),
            vouch_body(&r, None, None, b"x")
        );
    }

    #[test]
    fn query_parses_back() {
        let m = MailboxId::from_bytes([3; 32]);
        let r = DropboxId::from_bytes([4; 32]);
        let q = put_query(Some(5), Some(&m), Some(&r));
        assert_eq!(
            q,
            format!("?ttl_secs=5&vouch={}&reserve={}", m.to_hex(), r.to_hex())
        );
        assert_eq!(put_query(None, None, None), "");
    }
}
