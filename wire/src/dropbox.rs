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

use serde::{Deserialize, Serialize};

/// Query parameters of a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutDropboxQuery {
    /// Lifetime in seconds; the relay's maximum if absent.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// Reply to a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxStored {
    /// Unix seconds after which the drop-box can no longer be claimed.
    pub expires_at: u64,
}
