//! Stable error codes and the JSON error body every refusal carries.
//!
//! Clients branch on [`ErrorCode`], never on the message. Codes are only ever
//! added, never renamed. Every refusal means nothing was stored.

use serde::{Deserialize, Serialize};

/// Why the relay refused a request. Serialized in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body, a path segment or a query parameter is not well formed (400).
    MalformedRequest,
    /// The request carries no signature headers (401).
    Unauthenticated,
    /// The signature does not verify with the mailbox's key (401).
    BadSignature,
    /// The signed timestamp is outside the relay's window (401).
    StaleTimestamp,
    /// This nonce was already used within the window (401).
    ReplayedNonce,
    /// The operator access token is missing or wrong (403).
    Forbidden,
    /// No such mailbox (404).
    MailboxNotFound,
    /// The mailbox was deleted; its id can never be used again (410).
    MailboxDeleted,
    /// No such drop-box, or it expired, or it was already claimed (404).
    DropboxNotFound,
    /// No such endpoint (404).
    NotFound,
    /// The endpoint exists but not with this method (405).
    MethodNotAllowed,
    /// A mailbox with this id exists with a different key (409).
    MailboxExists,
    /// A drop-box with this id exists (409).
    DropboxExists,
    /// The body or a WebSocket frame is larger than the relay accepts (413).
    PayloadTooLarge,
    /// The mailbox holds as many blobs as the relay allows (507).
    QuotaBlobsExceeded,
    /// The mailbox holds as many bytes as the relay allows (507).
    QuotaBytesExceeded,
    /// The relay as a whole is full: it holds as many mailboxes, anonymous
    /// drop-boxes or bytes as its operator allows (507). Nothing the client
    /// can fix; the message says which.
    RelayFull,
    /// The drop-box lifetime is zero or longer than the relay allows (400).
    TtlOutOfRange,
    /// The compaction request names no stored snapshot after its range (400).
    BadCompaction,
    /// Too many requests on this connection; slow down (429).
    RateLimited,
    /// Too many subscriptions on this WebSocket (400, WebSocket only).
    TooManySubscriptions,
    /// The relay is shutting down; retry elsewhere or later (503).
    ShuttingDown,
    /// Something failed inside the relay; nothing was stored (500).
    Internal,
    /// The request (its body) did not arrive at the relay's minimum rate;
    /// the connection is closed (408).
    RequestTimeout,
    /// The relay cannot take this request now without risking its replay
    /// protection; nothing was done, retry later (503).
    RelayBusy,
    /// The mailbox vouches for as many drop-boxes as the relay allows (507).
    QuotaDropboxesExceeded,
}

impl ErrorCode {
    /// The HTTP status that goes with this code.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest
            | ErrorCode::TtlOutOfRange
            | ErrorCode::BadCompaction
            | ErrorCode::TooManySubscriptions => 400,
            ErrorCode::Unauthenticated
            | ErrorCode::BadSignature
            | ErrorCode::StaleTimestamp
            | ErrorCode::ReplayedNonce => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::MailboxNotFound | ErrorCode::DropboxNotFound | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::MailboxDeleted => 410,
            ErrorCode::MailboxExists | ErrorCode::DropboxExists => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::ShuttingDown | ErrorCode::RelayBusy => 503,
            ErrorCode::QuotaBlobsExceeded
            | ErrorCode::QuotaBytesExceeded
            | ErrorCode::RelayFull
            | ErrorCode::QuotaDropboxesExceeded => 507,
        }
    }

    /// Every code, in declaration order: what documentation (the relay's
    /// OpenAPI document) is checked against. The test `all_is_complete`
    /// fails to compile when a variant is added here and not to this list.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::MalformedRequest,
        ErrorCode::Unauthenticated,
        ErrorCode::BadSignature,
        ErrorCode::StaleTimestamp,
        ErrorCode::ReplayedNonce,
        ErrorCode::Forbidden,
        ErrorCode::MailboxNotFound,
        ErrorCode::DropboxNotFound,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MailboxExists,
        ErrorCode::DropboxExists,
        ErrorCode::PayloadTooLarge,
        ErrorCode::QuotaBlobsExceeded,
        ErrorCode::QuotaBytesExceeded,
        ErrorCode::RelayFull,
        ErrorCode::TtlOutOfRange,
        ErrorCode::BadCompaction,
        ErrorCode::RateLimited,
        ErrorCode::TooManySubscriptions,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::MailboxDeleted,
        ErrorCode::RequestTimeout,
        ErrorCode::RelayBusy,
        ErrorCode::QuotaDropboxesExceeded,
    ];

    /// The `snake_case` wire name, e.g. `"replayed_nonce"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::StaleTimestamp => "stale_timestamp",
            ErrorCode::ReplayedNonce => "replayed_nonce",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::MailboxNotFound => "mailbox_not_found",
            ErrorCode::MailboxDeleted => "mailbox_deleted",
            ErrorCode::DropboxNotFound => "dropbox_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MailboxExists => "mailbox_exists",
            ErrorCode::DropboxExists => "dropbox_exists",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::QuotaBlobsExceeded => "quota_blobs_exceeded",
            ErrorCode::QuotaBytesExceeded => "quota_bytes_exceeded",
            ErrorCode::RelayFull => "relay_full",
            ErrorCode::TtlOutOfRange => "ttl_out_of_range",
            ErrorCode::BadCompaction => "bad_compaction",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RelayBusy => "relay_busy",
            ErrorCode::QuotaDropboxesExceeded => "quota_dropboxes_exceeded",
        }
    }
}

/// The JSON body of every refusal: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// Human-readable; may change between versions.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_complete() {
        // No wildcard: a new variant breaks this match until it is listed.
        fn position(code: ErrorCode) -> usize {
            match code {
                ErrorCode::MalformedRequest => 0,
                ErrorCode::Unauthenticated => 1,
                ErrorCode::BadSignature => 2,
                ErrorCode::StaleTimestamp => 3,
                ErrorCode::ReplayedNonce => 4,
                ErrorCode::Forbidden => 5,
                ErrorCode::MailboxNotFound => 6,
                ErrorCode::DropboxNotFound => 7,
                ErrorCode::NotFound => 8,
                ErrorCode::MethodNotAllowed => 9,
                ErrorCode::MailboxExists => 10,
                ErrorCode::DropboxExists => 11,
                ErrorCode::PayloadTooLarge => 12,
                ErrorCode::QuotaBlobsExceeded => 13,
                ErrorCode::QuotaBytesExceeded => 14,
                ErrorCode::RelayFull => 15,
                ErrorCode::TtlOutOfRange => 16,
                ErrorCode::BadCompaction => 17,
                ErrorCode::RateLimited => 18,
                ErrorCode::TooManySubscriptions => 19,
                ErrorCode::ShuttingDown => 20,
                ErrorCode::Internal => 21,
                ErrorCode::MailboxDeleted => 22,
                ErrorCode::RequestTimeout => 23,
                ErrorCode::RelayBusy => 24,
                ErrorCode::QuotaDropboxesExceeded => 25,
            }
        }
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(position(*code), i);
        }
    }

    #[test]
    fn serde_name_matches_as_str() {
        for code in [
            ErrorCode::MalformedRequest,
            ErrorCode::ReplayedNonce,
            ErrorCode::QuotaBytesExceeded,
            ErrorCode::TooManySubscriptions,
            ErrorCode::RequestTimeout,
            ErrorCode::RelayBusy,
            ErrorCode::QuotaDropboxesExceeded,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
