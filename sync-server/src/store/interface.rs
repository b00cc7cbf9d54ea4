//! The one async trait every store implements ([`Store`]), what it takes
//! and answers (mailbox keys and records, pages, limits, [`StoreError`]),
//! and the few helpers both implementations share.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use safespaces_wire::{DropboxId, ErrorCode, MailboxId};

/// Databases store integers as i64; sequence numbers and counters never get near 2^63.
pub(crate) fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql`]; a negative value (never written) reads as 0.
pub(crate) fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The future every [`Store`] method returns (boxed so `dyn Store` works).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Waits for a store's own close command to be answered. An already closed
/// store answers [`StoreError::Closed`], which is fine: close is idempotent.
pub(crate) async fn close_once(closed: StoreFuture<'_, ()>) -> Result<(), StoreError> {
    match closed.await {
        Ok(()) | Err(StoreError::Closed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why a store operation did not happen. Every error means nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No mailbox with this id.
    #[error("no such mailbox")]
    MailboxNotFound,
    /// The mailbox exists with other verifying keys.
    #[error("a mailbox with this id exists with different keys")]
    MailboxExists,
    /// The mailbox was deleted: its tombstone refuses every use of the id.
    #[error("this mailbox was deleted; its id cannot be used again")]
    MailboxDeleted,
    /// The mailbox is at its blob-count quota.
    #[error("the mailbox holds the maximum number of blobs")]
    QuotaBlobs,
    /// The mailbox is at its byte quota.
    #[error("the mailbox holds the maximum number of bytes")]
    QuotaBytes,
    /// The compaction request does not name a stored snapshot after its range.
    #[error("bad compaction: {0}")]
    BadCompaction(&'static str),
    /// A drop-box with this id exists and has not expired.
    #[error("a drop-box with this id exists")]
    DropboxExists,
    /// The store holds its maximum number of anonymous drop-boxes.
    #[error("the relay holds the maximum number of drop-boxes")]
    RelayFull,
    /// The store holds its maximum number of mailboxes.
    #[error("the relay holds the maximum number of mailboxes")]
    TooManyMailboxes,
    /// The store holds its maximum number of bytes altogether.
    #[error("the relay holds the maximum number of bytes it keeps altogether")]
    RelayBytesFull,
    /// The vouching mailbox already answers for its maximum of drop-boxes.
    #[error("this mailbox vouches for the maximum number of drop-boxes")]
    QuotaDropboxes,
    /// The store is shut down.
    #[error("the store is closed")]
    Closed,
    /// The backend failed; the message is for the operator's log only.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The database was written by a newer relay: its schema version is
    /// higher than this binary knows. The store refuses it rather than
    /// write with assumptions that no longer hold, and changes nothing.
    #[error(
        "the database schema is version {found}, newer than this relay knows ({known}); run a relay at least as new as the one that last wrote it"
    )]
    SchemaTooNew {
        /// The version the database carries.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
    },
}

impl StoreError {
    /// The wire error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::MailboxNotFound => ErrorCode::MailboxNotFound,
            StoreError::MailboxExists => ErrorCode::MailboxExists,
            StoreError::MailboxDeleted => ErrorCode::MailboxDeleted,
            StoreError::QuotaBlobs => ErrorCode::QuotaBlobsExceeded,
            StoreError::QuotaBytes => ErrorCode::QuotaBytesExceeded,
            StoreError::BadCompaction(_) => ErrorCode::BadCompaction,
            StoreError::DropboxExists => ErrorCode::DropboxExists,
            StoreError::RelayFull | StoreError::TooManyMailboxes | StoreError::RelayBytesFull => {
                ErrorCode::RelayFull
            }
            StoreError::QuotaDropboxes => ErrorCode::QuotaDropboxesExceeded,
            StoreError::Closed => ErrorCode::ShuttingDown,
            StoreError::Backend(_) | StoreError::SchemaTooNew { .. } => ErrorCode::Internal,
        }
    }
}

/// The two verifying keys a mailbox is bound to (`safespaces_wire::mailbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxKeys {
    /// Signs create, append, read and subscribe.
    pub member: [u8; 32],
    /// Alone signs compact and delete.
    pub admin: [u8; 32],
}

impl MailboxKeys {
    /// Both keys in one column: member ‖ admin.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.member);
        out[32..].copy_from_slice(&self.admin);
        out
    }

    /// The inverse of [`MailboxKeys::to_bytes`]; `None` unless 64 bytes.
    pub fn from_slice(raw: &[u8]) -> Option<Self> {
        if raw.len() != 64 {
            return None;
        }
        let mut member = [0u8; 32];
        let mut admin = [0u8; 32];
        member.copy_from_slice(&raw[..32]);
        admin.copy_from_slice(&raw[32..]);
        Some(Self { member, admin })
    }
}

/// What a store knows of a mailbox id it has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxRecord {
    /// Its keys (a tombstone keeps them, so answers about it stay signed).
    pub keys: MailboxKeys,
    /// It was deleted: only a tombstone is left, and its last sequence
    /// number, so the id is never re-created nor restarts at 1.
    pub deleted: bool,
}

/// Quotas a store enforces inside the same transaction as the write, so a
/// refused write leaves nothing behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most blobs per mailbox.
    pub max_blobs_per_mailbox: u64,
    /// Most bytes per mailbox.
    pub max_bytes_per_mailbox: u64,
    /// Most anonymous drop-boxes in the store (vouched ones are bounded per
    /// mailbox instead, by `max_dropboxes_per_mailbox`).
    pub max_dropboxes: u64,
    /// Most mailboxes in the store.
    pub max_mailboxes: u64,
    /// Most bytes of blobs and drop-boxes in the whole store.
    pub max_total_bytes: u64,
    /// Most unexpired drop-boxes (reservations included) one mailbox
    /// vouches for at once.
    pub max_dropboxes_per_mailbox: u64,
}

/// A drop-box put that a mailbox vouches for ([`Store::put_vouched_dropbox`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VouchedPut {
    /// The drop-box.
    pub id: DropboxId,
    /// Its blob.
    pub data: Bytes,
    /// Unix seconds now.
    pub now: u64,
    /// When it expires (and the reservation with it).
    pub expires_at: u64,
    /// The mailbox it is charged to.
    pub owner: MailboxId,
    /// A second id to reserve for one later (anonymous) put, charged to
    /// `owner` too.
    pub reserve: Option<DropboxId>,
}

/// A page of blobs from [`Store::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `(seq, data)` ascending, all with `seq > after`.
    pub blobs: Vec<(u64, Bytes)>,
    /// Highest sequence number ever assigned (0 if none).
    pub last_seq: u64,
    /// Blobs up to here were compacted away.
    pub compacted_through: u64,
    /// More blobs follow.
    pub more: bool,
}

/// Result of a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Blobs deleted by this request.
    pub deleted: u64,
    /// The mark after this request.
    pub compacted_through: u64,
}

/// Told about every committed change that subscribers care about.
///
/// A store calls it after the change is durable, and for one mailbox in
/// commit (= sequence) order. Implementations must be quick and never block:
/// the SQLite store calls it on its writer thread.
///
/// With several relay nodes on one PostgreSQL database, a node also reports
/// blobs that *other* nodes committed (read back from the database after a
/// notification). Those may arrive late, repeated or, rarely, out of order
/// relative to local commits; subscribers already skip what they have and
/// re-read gaps from the store.
pub trait CommitSink: Send + Sync + 'static {
    /// A blob was committed.
    fn committed(&self, mailbox: &MailboxId, seq: u64, data: &Bytes);
    /// A mailbox was deleted.
    fn mailbox_deleted(&self, mailbox: &MailboxId);
    /// Whether anyone here wants `mailbox`'s commits. A store that must read
    /// another node's blobs back from the database asks first, so that
    /// mailboxes nobody on this node watches cost nothing.
    fn watches(&self, _mailbox: &MailboxId) -> bool {
        true
    }
    /// Every watched mailbox with the highest sequence number reported for it
    /// so far (0 if none yet). Used to catch up after notifications were lost.
    fn watched(&self) -> Vec<(MailboxId, u64)> {
        Vec::new()
    }
}

/// A sink that ignores everything (for stores used without subscribers).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl CommitSink for NoSink {
    fn committed(&self, _: &MailboxId, _: u64, _: &Bytes) {}
    fn mailbox_deleted(&self, _: &MailboxId) {}
}

/// The relay's storage. Every method is atomic: it happens entirely or not at all.
pub trait Store: Send + Sync + 'static {
    /// Creates a mailbox bound to `keys`. Returns `true` if created, `false` if
    /// it existed with the same keys; [`StoreError::MailboxExists`] if with
    /// others, [`StoreError::MailboxDeleted`] if its tombstone is there.
    fn create_mailbox(&self, id: MailboxId, keys: MailboxKeys) -> StoreFuture<'_, bool>;

    /// The keys of a mailbox, and whether it is a tombstone, if the id was
    /// ever created.
    fn mailbox_record(&self, id: MailboxId) -> StoreFuture<'_, Option<MailboxRecord>>;

    /// Appends a blob durably and returns its sequence number (previous + 1).
    /// On a tombstone, [`StoreError::MailboxDeleted`] (as for read and compact).
    fn append(&self, id: MailboxId, data: Bytes) -> StoreFuture<'_, u64>;

    /// Reads blobs with `seq > after`: at most `limit` of them, and stops
    /// before `max_bytes` unless the page would be empty.
    fn read(
        &self,
        id: MailboxId,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreFuture<'_, Page>;

    /// Deletes every blob with `seq <= through_seq`, provided the snapshot
    /// blob `snapshot_seq > through_seq` exists.
    fn compact(
        &self,
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> StoreFuture<'_, Compaction>;

    /// Deletes every blob of a mailbox and leaves its tombstone (keys and
    /// last sequence number); [`StoreError::MailboxDeleted`] if it already is one.
    fn delete_mailbox(&self, id: MailboxId) -> StoreFuture<'_, ()>;

    /// Stores a drop-box until `expires_at` (Unix seconds). An expired one with
    /// the same id is replaced. Anonymous: it counts against `max_dropboxes`,
    /// unless the id is reserved (see [`Store::put_vouched_dropbox`]), in
    /// which case it fills the reservation (keeping the reservation's expiry,
    /// or `expires_at` if sooner).
    fn put_dropbox(
        &self,
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
    ) -> StoreFuture<'_, ()>;

    /// Stores a drop-box charged to the mailbox that vouched for it, and
    /// optionally reserves a second id (see [`VouchedPut`]), in one step:
    /// both or neither. Vouched drop-boxes and reservations do not count
    /// against `max_dropboxes`, only against the owner's
    /// `max_dropboxes_per_mailbox` and the store's byte total. A reservation
    /// makes a later [`Store::put_dropbox`] on its id succeed even when the
    /// anonymous pool is full (the blob is then charged to the owner), and a
    /// claim of a reserved id returns its blob but leaves the reservation in
    /// place, empty, until it expires. Reserving an id that holds an
    /// unexpired drop-box or reservation is refused with
    /// [`StoreError::DropboxExists`].
    fn put_vouched_dropbox(&self, put: VouchedPut) -> StoreFuture<'_, ()>;

    /// Takes a drop-box: returns its blob and deletes it, or `None` if it does
    /// not exist or expired at or before `now`.
    fn claim_dropbox(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<Bytes>>;

    /// When a drop-box expires (Unix seconds), or `None` if it does not exist
    /// or expired at or before `now` (exactly when a claim would find
    /// nothing). Changes nothing: it lets an inviter's device see whether its
    /// invite package is still waiting or was claimed, without taking it.
    fn dropbox_expiry(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<u64>>;

    /// Deletes drop-boxes expired at or before `now`; returns how many.
    /// Stores that keep request nonces also forget the expired ones.
    fn sweep_dropboxes(&self, now: u64) -> StoreFuture<'_, u64>;

    /// Records a signed request's nonce until `expires_at` (Unix seconds) in
    /// storage that outlives the process and is shared by every relay node;
    /// `false` if it was recorded before (a replay, possibly to another node
    /// or to an earlier run of this one). The relay asks only after its own
    /// in-memory nonce cache accepted the nonce. Both stores keep nonces;
    /// the default, which accepts everything, is for stores that need no
    /// replay protection beyond one process's memory.
    fn remember_nonce(&self, _nonce: [u8; 16], _expires_at: u64) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    /// Whether the store can serve right now, checked for real (a query on
    /// the SQLite file, a round trip to PostgreSQL): what `/readyz` answers.
    /// Changes nothing.
    fn ready(&self) -> StoreFuture<'_, ()>;

    /// Finishes every write already submitted, then refuses new ones with
    /// [`StoreError::Closed`].
    fn close(&self) -> StoreFuture<'_, ()>;
}

/// A shared store handle.
pub type SharedStore = Arc<dyn Store>;
