//! The WebSocket subscription protocol (`GET /v1/subscribe`).
//!
//! One connection per device carries subscriptions to many mailboxes. Every
//! frame is a JSON text frame. The client sends [`ClientFrame`]s, the relay
//! answers with [`ServerFrame`]s:
//!
//! 1. Client: `{"type":"subscribe","mailbox":"<hex>","after":N,"timestamp":T,"nonce":"<hex>","signature":"<hex>"}`,
//!    signed as operation `subscribe` over [`crate::auth::subscribe_body`]`(N)`.
//! 2. Relay: `{"type":"subscribed","mailbox":"<hex>","last_seq":L,"compacted_through":C}`,
//!    then every stored blob with `seq > N` as `blob` frames, in order, then
//!    each new blob as it commits. Per mailbox, the client sees every
//!    sequence number above its cursor that still exists exactly once, in
//!    ascending order: reconnect with the last `seq` received and nothing is
//!    lost or repeated.
//! 3. Refusals come as `{"type":"error","mailbox":"<hex>"|null,"code":"...","message":"..."}`;
//!    a refused subscription leaves the others untouched.
//!
//! The client must send something (a `ping` frame works) at least every idle
//! timeout, or the relay closes the connection.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::id::MailboxId;

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Start (or restart) a subscription from a cursor.
    Subscribe {
        /// Which mailbox.
        mailbox: MailboxId,
        /// The last sequence number the client has (0 for none).
        after: u64,
        /// Unix seconds, part of the signature.
        timestamp: u64,
        /// 32 hex digits, part of the signature.
        nonce: String,
        /// 128 hex digits: the mailbox key's signature.
        signature: String,
    },
    /// Stop a subscription.
    Unsubscribe {
        /// Which mailbox.
        mailbox: MailboxId,
    },
    /// Keeps the connection alive; answered with `pong`.
    Ping,
}

/// A frame from the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// The subscription is active; backlog `blob` frames follow.
    Subscribed {
        /// Which mailbox.
        mailbox: MailboxId,
        /// Highest sequence number assigned when the subscription started.
        last_seq: u64,
        /// Blobs up to here were compacted away.
        compacted_through: u64,
    },
    /// A stored blob.
    Blob {
        /// Which mailbox.
        mailbox: MailboxId,
        /// Its sequence number.
        seq: u64,
        /// The opaque bytes, base64.
        #[serde(with = "crate::base64_field")]
        data: Vec<u8>,
    },
    /// The subscription ended (answer to `unsubscribe`, or the mailbox was deleted).
    Unsubscribed {
        /// Which mailbox.
        mailbox: MailboxId,
    },
    /// Answer to `ping`.
    Pong,
    /// A refusal.
    Error {
        /// The mailbox concerned, if any.
        mailbox: Option<MailboxId>,
        /// Stable code.
        code: ErrorCode,
        /// Human-readable.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_documented_json_form() {
        let m = MailboxId::from_bytes([0xab; 32]);
        let hex = m.to_hex();
        let sub: ClientFrame = serde_json::from_str(&format!(
            r#"{{"type":"subscribe","mailbox":"{hex}","after":7,"timestamp":1,"nonce":"00","signature":"11"}}"#
        ))
        .unwrap();
        assert_eq!(
            sub,
            ClientFrame::Subscribe {
                mailbox: m,
                after: 7,
                timestamp: 1,
                nonce: "00".into(),
                signature: "11".into()
            }
        );
        assert_eq!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"shout"}"#).is_err());
        let blob = ServerFrame::Blob {
            mailbox: m,
            seq: 3,
            data: b"hi".to_vec(),
        };
        assert_eq!(
            serde_json::to_string(&blob).unwrap(),
            format!(r#"{{"type":"blob","mailbox":"{hex}","seq":3,"data":"aGk="}}"#)
        );
        let err = ServerFrame::Error {
            mailbox: None,
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
        };
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"error","mailbox":null,"code":"rate_limited","message":"slow down"}"#
        );
    }
}
