//! What the writer task's queue carries: a command ([`Op`]), what it
//! produced ([`Outcome`]), and where the answer goes ([`Request`]).

use bytes::Bytes;
use safespaces_wire::{DropboxId, MailboxId};
use tokio::sync::oneshot;

use super::super::interface::{Compaction, MailboxKeys, StoreError, VouchedPut};

/// Most commands committed in one transaction.
pub const MAX_BATCH: usize = 2048;

/// What a command asks for.
pub(super) enum Op {
    Create {
        id: MailboxId,
        key: MailboxKeys,
    },
    Append {
        id: MailboxId,
        data: Bytes,
    },
    Compact {
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    },
    Delete {
        id: MailboxId,
    },
    PutDropbox {
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
    },
    PutVouched {
        put: VouchedPut,
    },
    ClaimDropbox {
        id: DropboxId,
        now: u64,
    },
    Sweep {
        now: u64,
    },
    Close,
}

impl Op {
    pub(super) fn mailbox(&self) -> Option<&MailboxId> {
        match self {
            Op::Create { id, .. }
            | Op::Append { id, .. }
            | Op::Compact { id, .. }
            | Op::Delete { id } => Some(id),
            _ => None,
        }
    }
}

/// What a command produced. Kept apart from the reply channel so that a
/// batch can be retried without losing where its answers go.
pub(super) enum Outcome {
    Created(bool),
    Seq(u64),
    Compacted(Compaction),
    Done,
    Claimed(Option<Bytes>),
    Swept(u64),
}

pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Outcome, StoreError>>,
}
