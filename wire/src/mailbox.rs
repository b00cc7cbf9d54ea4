//! Bodies of the mailbox endpoints.
//!
//! | endpoint | signed operation | request body | response |
//! | --- | --- | --- | --- |
//! | `POST /v1/mailboxes/{id}` | `create` (by the new key) | [`CreateMailbox`] JSON | [`MailboxCreated`] |
//! | `POST /v1/mailboxes/{id}/blobs` | `append` | the opaque blob, raw bytes | [`Appended`] |
//! | `POST /v1/mailboxes/{id}/read` | `read` | [`ReadRequest`] JSON | [`ReadPage`] |
//! | `POST /v1/mailboxes/{id}/compact` | `compact` | [`CompactRequest`] JSON | [`Compacted`] |
//! | `DELETE /v1/mailboxes/{id}` | `delete` | empty | [`MailboxDeleted`] |

use serde::{Deserialize, Serialize};

/// Creates a mailbox bound to a verifying key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMailbox {
    /// The Ed25519 verifying key, 64 hex digits, that must sign every later
    /// request on this mailbox.
    pub verifying_key: String,
}

/// Reply to a create. Creating again with the same key is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxCreated {
    /// `true` if this request created it, `false` if it already existed with this key.
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
