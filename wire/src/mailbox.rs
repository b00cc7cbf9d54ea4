//! Bodies of the mailbox endpoints.
//!
//! | endpoint | signed operation | request body | response |
//! | --- | --- | --- | --- |
//! | `POST /v1/mailboxes/{id}` | `create` (by the new key) | [`CreateMailbox`] JSON | [`MailboxCreated`] |
//! | `POST /v1/mailboxes/{id}/blobs` | `append` | the opaque blob, raw bytes | [`Appended`] |
//! | `POST /v1/mailboxes/{id}/read` | `read` | [`ReadRequest`] JSON | [`ReadPage`] |
//! | `POST /v1/mailboxes/{id}/compact` | `compact` | [`CompactRequest`] JSON | [`Compacted`] |
//! | `DELETE /v1/mailboxes/{id}` | `delete` (by the admin key) | empty | [`MailboxDeleted`] |
//!
//! # Two keys, and an id that names them
//!
//! A mailbox is bound to two Ed25519 keys: the **member key**, which every
//! member device derives and which signs `create`, `append`, `read` and
//! `subscribe`, and the **admin key**, which only the devices allowed to
//! retire history hold and which alone signs `compact` and `delete`. A
//! member who turns hostile can read and append, as she could anyway, but
//! cannot delete or compact what the others wrote.
//!
//! The id is [`mailbox_id_for_keys`], a hash of both public keys, and the
//! relay refuses a creation whose id is not that hash. So any member device
//! can create the mailbox (a space made offline still syncs through
//! whoever reaches the relay first), and nobody can create it bound to
//! other keys: there is no id to squat. Both keys are fresh for every
//! mailbox, so the relay still cannot link two mailboxes.
//!
//! A deleted mailbox leaves a tombstone (its keys and last sequence
//! number): its id answers [`crate::error::ErrorCode::MailboxDeleted`] for ever,
//! so it can be neither re-created nor restarted at sequence 1.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::MailboxId;

/// The domain of [`mailbox_id_for_keys`].
pub const MAILBOX_ID_DOMAIN: &[u8] = b"safespaces-relay/v2/mailbox-id";

/// The id of the mailbox bound to `member_key` and `admin_key` (raw
/// Ed25519 public keys): `SHA-256(MAILBOX_ID_DOMAIN ‖ member ‖ admin)`.
pub fn mailbox_id_for_keys(member_key: &[u8; 32], admin_key: &[u8; 32]) -> MailboxId {
    let mut h = Sha256::new();
    h.update(MAILBOX_ID_DOMAIN);
    h.update(member_key);
    h.update(admin_key);
    MailboxId::from_bytes(h.finalize().into())
}

/// Creates a mailbox bound to its two verifying keys. Signed by the member
/// key (proof of possession); the path's id must be
/// [`mailbox_id_for_keys`] of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMailbox {
    /// The member key, 64 hex digits: signs `append`, `read`, `subscribe`.
    pub verifying_key: String,
    /// The admin key, 64 hex digits: the only key that signs `compact` and
    /// `delete`.
    pub admin_key: String,
}

/// Reply to a create. Creating again with the same keys is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxCreated {
    /// `true` if this request created it, `false` if it already existed.
    pub created: bool,
}

/// Reply to an append: the blob is durable once this is received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The server-assigned sequence number: 1, 2, 3… without gaps per mailbox.
    pub seq: u64,
}

/// Asks for the blobs with sequence numbers greater than `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The cursor: the last sequence number the client has (0 for none).
    pub after: u64,
    /// At most this many blobs (the relay may cap it further).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// Its sequence number.
    pub seq: u64,
    /// The opaque bytes, base64 in JSON.
    #[serde(with = "crate::base64_field")]
    pub data: Vec<u8>,
}

/// A page of blobs in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPage {
    /// Blobs with `seq > after`, ascending.
    pub blobs: Vec<Blob>,
    /// The highest sequence number ever assigned in this mailbox (0 if none).
    pub last_seq: u64,
    /// Every blob with `seq <= compacted_through` was deleted by compaction. A
    /// client whose cursor is below it must start from the snapshot.
    pub compacted_through: u64,
    /// `true` if more blobs follow this page; read again after the last `seq`.
    pub more: bool,
}

/// Deletes blobs covered by a snapshot blob.
///
/// The snapshot at `snapshot_seq` must exist and come after `through_seq`;
/// every blob with `seq <= through_seq` is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactRequest {
    /// The sequence number of the snapshot blob, already appended.
    pub snapshot_seq: u64,
    /// The last sequence number the snapshot covers.
    pub through_seq: u64,
}

/// Reply to a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    /// How many blobs this request deleted (0 if an earlier one already did).
    pub deleted: u64,
    /// The mailbox's compaction mark after this request.
    pub compacted_through: u64,
}

/// Reply to a mailbox deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxDeleted {
    /// Always `true`: the mailbox and every blob in it are gone.
    pub deleted: bool,
}
