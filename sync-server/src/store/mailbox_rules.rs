//! The rules every store applies to mailboxes and drop-boxes, once: quotas
//! (per mailbox, and the store-wide mailbox, byte and drop-box counts), the
//! next sequence number, what a compaction may delete, what a tombstone
//! refuses, and the refusals with their texts.
//!
//! Plain functions over plain values: a store reads the counters it keeps
//! (inside its write transaction), asks here what to do, stores the answer
//! and writes the counters back. So the SQLite and the PostgreSQL store
//! cannot drift apart on a rule, and each rule has a unit test that needs no
//! database. The stores keep only what is about storing: statements, locks,
//! batching, and reading rows into these values.
//!
//! Every function that refuses changes nothing it was given, so a store can
//! hand over its live counters and a refusal leaves them as they were.
//!
//! ```
//! use safespaces_relay::store::mailbox_rules::{self, MailboxCounters, Totals};
//! use safespaces_relay::store::{MailboxKeys, StoreError, StoreLimits};
//!
//! let limits = StoreLimits {
//!     max_blobs_per_mailbox: 2,
//!     max_bytes_per_mailbox: 1024,
//!     max_dropboxes: 10,
//!     max_mailboxes: 10,
//!     max_total_bytes: 1 << 20,
//!     max_dropboxes_per_mailbox: 4,
//! };
//! let mut totals = Totals::default();
//! mailbox_rules::admit_mailbox(&totals, &limits).unwrap();
//! let keys = MailboxKeys { member: [1; 32], admin: [2; 32] };
//! let mut mailbox = mailbox_rules::mailbox_created(&mut totals, keys);
//! assert_eq!(mailbox_rules::append(&mut mailbox, &mut totals, &limits, 10), Ok(1));
//! assert_eq!(mailbox_rules::append(&mut mailbox, &mut totals, &limits, 10), Ok(2));
//! // The third blob is over the mailbox's quota, and nothing changed.
//! assert_eq!(
//!     mailbox_rules::append(&mut mailbox, &mut totals, &limits, 10),
//!     Err(StoreError::QuotaBlobs)
//! );
//! assert_eq!((mailbox.last_seq, totals.bytes), (2, 20));
//! ```

use super::interface::{Compaction, MailboxKeys, StoreError, StoreLimits, VouchedPut};

/// What a store keeps about one mailbox besides its blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxCounters {
    /// The keys it was created with (a tombstone keeps them).
    pub keys: MailboxKeys,
    /// The highest sequence number ever assigned (0 if none); a tombstone
    /// keeps it too, so the id never restarts at 1.
    pub last_seq: u64,
    /// Blobs up to here were compacted away.
    pub compacted_through: u64,
    /// Blobs stored now.
    pub blob_count: u64,
    /// Bytes of the blobs stored now.
    pub byte_count: u64,
    /// Only the tombstone is left.
    pub deleted: bool,
}

/// Store-wide counts behind the global quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Mailboxes, tombstones included (a tombstone holds its id for ever,
    /// so create-and-delete cannot grow the store without bound).
    pub mailboxes: u64,
    /// Bytes of every blob and every drop-box.
    pub bytes: u64,
    /// Drop-boxes nobody vouched for.
    pub anonymous_dropboxes: u64,
}

impl Totals {
    /// A drop-box of `len` bytes was stored.
    pub fn add_dropbox(&mut self, len: u64, anonymous: bool) {
        self.bytes = self.bytes.saturating_add(len);
        if anonymous {
            self.anonymous_dropboxes = self.anonymous_dropboxes.saturating_add(1);
        }
    }

    /// A drop-box of `len` bytes was deleted.
    pub fn remove_dropbox(&mut self, len: u64, anonymous: bool) {
        self.forget(len, u64::from(anonymous));
    }

    /// Expired drop-boxes were swept: `bytes` in all, `anonymous` of them
    /// nobody vouched for.
    pub fn swept(&mut self, bytes: u64, anonymous: u64) {
        self.forget(bytes, anonymous);
    }

    /// An empty reservation was filled with `len` bytes (it was already
    /// counted as a drop-box when it was reserved).
    pub fn reservation_filled(&mut self, len: u64) {
        self.bytes = self.bytes.saturating_add(len);
    }

    /// A reservation's blob of `len` bytes was claimed; the reservation stays.
    pub fn reservation_emptied(&mut self, len: u64) {
        self.bytes = self.bytes.saturating_sub(len);
    }

    fn forget(&mut self, bytes: u64, anonymous: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
        self.anonymous_dropboxes = self.anonymous_dropboxes.saturating_sub(anonymous);
    }
}

/// The counters of a mailbox the store found, or [`StoreError::MailboxNotFound`].
pub fn found<T>(mailbox: Option<T>) -> Result<T, StoreError> {
    mailbox.ok_or(StoreError::MailboxNotFound)
}

/// Refuses every use of a tombstone: read, append, compact, delete again.
pub fn not_deleted(deleted: bool) -> Result<(), StoreError> {
    if deleted {
        return Err(StoreError::MailboxDeleted);
    }
    Ok(())
}

/// Keys read back from storage (member ‖ admin), or a backend error: a
/// record whose keys are damaged must not authorise anything.
pub fn stored_keys(raw: &[u8]) -> Result<MailboxKeys, StoreError> {
    MailboxKeys::from_slice(raw)
        .ok_or_else(|| StoreError::Backend("stored keys are not 64 bytes".into()))
}

/// The answer to creating a mailbox whose id the store already holds:
/// `Ok(false)` (nothing to do) if with the same keys, else a refusal. Both
/// keys must match: a create naming the right member key but another admin
/// key is someone else's mailbox.
pub fn create_existing(existing: &MailboxCounters, keys: &MailboxKeys) -> Result<bool, StoreError> {
    not_deleted(existing.deleted)?;
    if existing.keys == *keys {
        Ok(false)
    } else {
        Err(StoreError::MailboxExists)
    }
}

/// Whether the store has room for one more mailbox.
pub fn admit_mailbox(totals: &Totals, limits: &StoreLimits) -> Result<(), StoreError> {
    if totals.mailboxes >= limits.max_mailboxes {
        return Err(StoreError::TooManyMailboxes);
    }
    Ok(())
}

/// A new mailbox was stored: its counters, and one more in the totals.
pub fn mailbox_created(totals: &mut Totals, keys: MailboxKeys) -> MailboxCounters {
    totals.mailboxes = totals.mailboxes.saturating_add(1);
    MailboxCounters {
        keys,
        last_seq: 0,
        compacted_through: 0,
        blob_count: 0,
        byte_count: 0,
        deleted: false,
    }
}

/// Whether `more` bytes fit under the store's byte total.
pub fn room_for(totals: &Totals, limits: &StoreLimits, more: u64) -> Result<(), StoreError> {
    if totals.bytes.saturating_add(more) > limits.max_total_bytes {
        return Err(StoreError::RelayBytesFull);
    }
    Ok(())
}

/// Appends a blob of `len` bytes to the counters and returns its sequence
/// number (the previous one + 1: gapless), or refuses it (a tombstone, the
/// mailbox's blob or byte quota, the store's byte total, checked in that
/// order) and changes nothing. The store then stores the blob under that
/// number.
pub fn append(
    mailbox: &mut MailboxCounters,
    totals: &mut Totals,
    limits: &StoreLimits,
    len: u64,
) -> Result<u64, StoreError> {
    not_deleted(mailbox.deleted)?;
    if mailbox.blob_count >= limits.max_blobs_per_mailbox {
        return Err(StoreError::QuotaBlobs);
    }
    if mailbox.byte_count.saturating_add(len) > limits.max_bytes_per_mailbox {
        return Err(StoreError::QuotaBytes);
    }
    room_for(totals, limits, len)?;
    mailbox.last_seq += 1;
    mailbox.blob_count += 1;
    mailbox.byte_count += len;
    totals.bytes += len;
    Ok(mailbox.last_seq)
}

/// A compaction request that passed the checks needing no blob; the store
/// looks the snapshot up and calls [`PendingCompaction::with_snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the snapshot must still be looked up"]
pub struct PendingCompaction {
    through_seq: u64,
    already: u64,
}

/// What a store does for a compaction that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionStep {
    /// The range was compacted before: answer this, delete nothing.
    Done(Compaction),
    /// Delete every blob with `seq <=` this, then call [`compacted`].
    DeleteThrough(u64),
}

/// Checks a request to delete blobs through `through_seq` because the blob
/// at `snapshot_seq` (a snapshot) covers them: not on a tombstone, and the
/// snapshot must come after the range it covers.
pub fn compaction(
    mailbox: &MailboxCounters,
    snapshot_seq: u64,
    through_seq: u64,
) -> Result<PendingCompaction, StoreError> {
    not_deleted(mailbox.deleted)?;
    if through_seq >= snapshot_seq {
        return Err(StoreError::BadCompaction(
            "the snapshot must come after the range it covers",
        ));
    }
    Ok(PendingCompaction {
        through_seq,
        already: mailbox.compacted_through,
    })
}

impl PendingCompaction {
    /// The rest of the check, once the store knows whether a blob with the
    /// snapshot's sequence number is stored: without it nothing may be
    /// deleted (a client could otherwise lose data it has no copy of). A
    /// range at or below the mark is answered as done, so a retried
    /// compaction is harmless.
    pub fn with_snapshot(self, snapshot_stored: bool) -> Result<CompactionStep, StoreError> {
        if !snapshot_stored {
            return Err(StoreError::BadCompaction(
                "no stored blob has the snapshot's sequence number",
            ));
        }
        if self.through_seq <= self.already {
            return Ok(CompactionStep::Done(Compaction {
                deleted: 0,
                compacted_through: self.already,
            }));
        }
        Ok(CompactionStep::DeleteThrough(self.through_seq))
    }
}

/// The store deleted `deleted` blobs of `bytes` bytes through `through_seq`:
/// the counters and totals after it, and the answer.
pub fn compacted(
    mailbox: &mut MailboxCounters,
    totals: &mut Totals,
    through_seq: u64,
    deleted: u64,
    bytes: u64,
) -> Compaction {
    mailbox.blob_count = mailbox.blob_count.saturating_sub(deleted);
    mailbox.byte_count = mailbox.byte_count.saturating_sub(bytes);
    mailbox.compacted_through = through_seq;
    totals.bytes = totals.bytes.saturating_sub(bytes);
    Compaction {
        deleted,
        compacted_through: through_seq,
    }
}

/// Turns a mailbox into its tombstone (no blobs, keys and last sequence
/// number kept, everything compacted through it), or refuses if it is one
/// already. Its bytes leave the totals; it still counts as a mailbox. The
/// store then deletes every blob of it.
pub fn delete(mailbox: &mut MailboxCounters, totals: &mut Totals) -> Result<(), StoreError> {
    not_deleted(mailbox.deleted)?;
    totals.bytes = totals.bytes.saturating_sub(mailbox.byte_count);
    mailbox.deleted = true;
    mailbox.compacted_through = mailbox.last_seq;
    mailbox.blob_count = 0;
    mailbox.byte_count = 0;
    Ok(())
}

/// What a store knows of the drop-box row at an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropboxRow {
    /// Unix seconds; at or before "now" it is gone.
    pub expires_at: u64,
    /// A vouched reservation (empty until an anonymous put fills it).
    pub reserved: bool,
    /// Bytes of its blob.
    pub len: u64,
}

impl DropboxRow {
    fn live(&self, now: u64) -> bool {
        self.expires_at > now
    }
}

/// Where an anonymous drop-box put goes ([`anonymous_put`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousPut {
    /// Into the empty reservation at the id: charged to the mailbox that
    /// reserved it whatever the anonymous pool holds, so only
    /// [`room_for`] applies; its expiry becomes the sooner of the two.
    FillReservation,
    /// A new anonymous drop-box, after deleting the expired row at the id
    /// if `replace_expired`; then [`admit_anonymous_dropbox`] applies.
    Insert {
        /// An expired row is at the id.
        replace_expired: bool,
    },
}

/// Decides an anonymous put at an id holding `row`: an unexpired drop-box
/// (or a filled reservation) there refuses it.
pub fn anonymous_put(row: Option<DropboxRow>, now: u64) -> Result<AnonymousPut, StoreError> {
    match row {
        Some(r) if r.live(now) && r.reserved && r.len == 0 => Ok(AnonymousPut::FillReservation),
        Some(r) if r.live(now) => Err(StoreError::DropboxExists),
        Some(_) => Ok(AnonymousPut::Insert {
            replace_expired: true,
        }),
        None => Ok(AnonymousPut::Insert {
            replace_expired: false,
        }),
    }
}

/// Whether one more anonymous drop-box of `len` bytes fits: the pool's
/// count first, then the byte total. Checked after the expired row at the
/// id left the totals.
pub fn admit_anonymous_dropbox(
    totals: &Totals,
    limits: &StoreLimits,
    len: u64,
) -> Result<(), StoreError> {
    if totals.anonymous_dropboxes >= limits.max_dropboxes {
        return Err(StoreError::RelayFull);
    }
    room_for(totals, limits, len)
}

/// Checks a vouched put before anything changes: the drop-box and the
/// reservation must be two ids, neither holding an unexpired row (`here`,
/// `there`), the owner may hold `held` unexpired ones and gets one or two
/// more, and the blob must fit the byte total. Vouched drop-boxes do not
/// count against the anonymous pool. Expired rows at the ids are the
/// store's to delete before it inserts; the blob is then counted with
/// [`Totals::add_dropbox`] (`anonymous = false`; the reservation holds no
/// bytes).
pub fn vouched_put(
    put: &VouchedPut,
    here: Option<DropboxRow>,
    there: Option<DropboxRow>,
    held: u64,
    totals: &Totals,
    limits: &StoreLimits,
) -> Result<(), StoreError> {
    if put.reserve == Some(put.id) {
        return Err(StoreError::DropboxExists);
    }
    let taken = |row: Option<DropboxRow>| row.is_some_and(|r| r.live(put.now));
    if taken(here) || taken(there) {
        return Err(StoreError::DropboxExists);
    }
    let wanted = 1 + u64::from(put.reserve.is_some());
    if held.saturating_add(wanted) > limits.max_dropboxes_per_mailbox {
        return Err(StoreError::QuotaDropboxes);
    }
    room_for(totals, limits, put.data.len() as u64)
}

/// What a claim does at an id holding `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nothing to hand out and nothing to change: no row, or an empty
    /// reservation.
    Nothing,
    /// Expired: delete the row, hand out nothing.
    DeleteExpired,
    /// Hand out the blob and delete the row.
    Take,
    /// Hand out the blob but keep the reservation, empty, for the next
    /// answer until it expires.
    TakeKeepReservation,
}

/// Decides a claim at an id holding `row` at `now`.
pub fn claim(row: Option<DropboxRow>, now: u64) -> Claim {
    match row {
        None => Claim::Nothing,
        Some(r) if !r.live(now) => Claim::DeleteExpired,
        Some(r) if r.len == 0 => Claim::Nothing,
        Some(r) if r.reserved => Claim::TakeKeepReservation,
        Some(_) => Claim::Take,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use safespaces_wire::{DropboxId, MailboxId};

    use super::*;

    const LIMITS: StoreLimits = StoreLimits {
        max_blobs_per_mailbox: 3,
        max_bytes_per_mailbox: 100,
        max_dropboxes: 2,
        max_mailboxes: 2,
        max_total_bytes: 150,
        max_dropboxes_per_mailbox: 2,
    };
    const KEYS: MailboxKeys = MailboxKeys {
        member: [1; 32],
        admin: [2; 32],
    };

    fn fresh() -> (MailboxCounters, Totals) {
        let mut totals = Totals::default();
        let mailbox = mailbox_created(&mut totals, KEYS);
        (mailbox, totals)
    }

    fn dropbox(n: u8) -> DropboxId {
        DropboxId::from_bytes([n; 32])
    }

    fn put(reserve: Option<DropboxId>, len: usize) -> VouchedPut {
        VouchedPut {
            id: dropbox(1),
            data: Bytes::from(vec![0; len]),
            now: 10,
            expires_at: 100,
            owner: MailboxId::from_bytes([9; 32]),
            reserve,
        }
    }

    fn row(expires_at: u64, reserved: bool, len: u64) -> Option<DropboxRow> {
        Some(DropboxRow {
            expires_at,
            reserved,
            len,
        })
    }

    #[test]
    fn sequence_numbers_are_gapless_from_one() {
        let (mut m, mut t) = fresh();
        let seqs: Vec<_> = (0..3)
            .map(|_| append(&mut m, &mut t, &LIMITS, 1).unwrap())
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!((m.blob_count, m.byte_count, t.bytes), (3, 3, 3));
    }

    #[test]
    fn a_refused_append_changes_nothing() {
        let (mut m, mut t) = fresh();
        append(&mut m, &mut t, &LIMITS, 60).unwrap();
        let before = (m, t);
        assert_eq!(
            append(&mut m, &mut t, &LIMITS, 41),
            Err(StoreError::QuotaBytes)
        );
        assert_eq!((m, t), before);
    }

    #[test]
    fn append_quotas_are_checked_blobs_then_bytes_then_the_store() {
        let (mut m, mut t) = fresh();
        for _ in 0..3 {
            append(&mut m, &mut t, &LIMITS, 1).unwrap();
        }
        // At the blob quota: that refusal wins over an oversized blob.
        assert_eq!(
            append(&mut m, &mut t, &LIMITS, 1000),
            Err(StoreError::QuotaBlobs)
        );
        let (mut m, mut t) = fresh();
        t.bytes = 140;
        assert_eq!(
            append(&mut m, &mut t, &LIMITS, 11),
            Err(StoreError::RelayBytesFull)
        );
        assert_eq!(append(&mut m, &mut t, &LIMITS, 10), Ok(1));
    }

    #[test]
    fn a_tombstone_refuses_everything_and_keeps_its_last_sequence_number() {
        let (mut m, mut t) = fresh();
        append(&mut m, &mut t, &LIMITS, 5).unwrap();
        append(&mut m, &mut t, &LIMITS, 5).unwrap();
        delete(&mut m, &mut t).unwrap();
        assert_eq!((m.last_seq, m.compacted_through), (2, 2));
        assert_eq!((m.blob_count, m.byte_count, t.bytes), (0, 0, 0));
        assert_eq!(t.mailboxes, 1, "a tombstone still counts as a mailbox");
        assert_eq!(
            append(&mut m, &mut t, &LIMITS, 1),
            Err(StoreError::MailboxDeleted)
        );
        assert_eq!(
            compaction(&m, 3, 1).map(|_| ()),
            Err(StoreError::MailboxDeleted)
        );
        assert_eq!(delete(&mut m, &mut t), Err(StoreError::MailboxDeleted));
        assert_eq!(create_existing(&m, &KEYS), Err(StoreError::MailboxDeleted));
        assert_eq!(not_deleted(m.deleted), Err(StoreError::MailboxDeleted));
    }

    #[test]
    fn creating_again_needs_both_keys_to_match() {
        let (m, _) = fresh();
        assert_eq!(create_existing(&m, &KEYS), Ok(false));
        let other_admin = MailboxKeys {
            admin: [3; 32],
            ..KEYS
        };
        assert_eq!(
            create_existing(&m, &other_admin),
            Err(StoreError::MailboxExists)
        );
        let other_member = MailboxKeys {
            member: [3; 32],
            ..KEYS
        };
        assert_eq!(
            create_existing(&m, &other_member),
            Err(StoreError::MailboxExists)
        );
    }

    #[test]
    fn the_mailbox_count_is_a_hard_limit() {
        let mut t = Totals::default();
        for _ in 0..2 {
            admit_mailbox(&t, &LIMITS).unwrap();
            mailbox_created(&mut t, KEYS);
        }
        assert_eq!(
            admit_mailbox(&t, &LIMITS),
            Err(StoreError::TooManyMailboxes)
        );
    }

    #[test]
    fn compaction_needs_a_stored_snapshot_after_the_range() {
        let (m, _) = fresh();
        for (snapshot, through) in [(3, 3), (2, 5)] {
            assert_eq!(
                compaction(&m, snapshot, through),
                Err(StoreError::BadCompaction(
                    "the snapshot must come after the range it covers"
                ))
            );
        }
        let pending = compaction(&m, 4, 3).unwrap();
        assert_eq!(
            pending.with_snapshot(false),
            Err(StoreError::BadCompaction(
                "no stored blob has the snapshot's sequence number"
            ))
        );
        assert_eq!(
            pending.with_snapshot(true),
            Ok(CompactionStep::DeleteThrough(3))
        );
    }

    #[test]
    fn compacting_a_range_again_deletes_nothing_and_keeps_the_mark() {
        let (mut m, mut t) = fresh();
        for _ in 0..3 {
            append(&mut m, &mut t, &LIMITS, 10).unwrap();
        }
        let done = compacted(&mut m, &mut t, 2, 2, 20);
        assert_eq!(
            done,
            Compaction {
                deleted: 2,
                compacted_through: 2
            }
        );
        assert_eq!((m.blob_count, m.byte_count, t.bytes), (1, 10, 10));
        assert_eq!(
            compaction(&m, 3, 1).unwrap().with_snapshot(true),
            Ok(CompactionStep::Done(Compaction {
                deleted: 0,
                compacted_through: 2
            }))
        );
    }

    #[test]
    fn an_anonymous_put_fills_an_empty_reservation_and_replaces_only_expired_rows() {
        assert_eq!(
            anonymous_put(None, 10),
            Ok(AnonymousPut::Insert {
                replace_expired: false
            })
        );
        assert_eq!(
            anonymous_put(row(11, true, 0), 10),
            Ok(AnonymousPut::FillReservation)
        );
        // A filled reservation and a live drop-box are taken.
        assert_eq!(
            anonymous_put(row(11, true, 5), 10),
            Err(StoreError::DropboxExists)
        );
        assert_eq!(
            anonymous_put(row(11, false, 5), 10),
            Err(StoreError::DropboxExists)
        );
        // Expiry at `now` counts as expired, reservations included.
        for reserved in [false, true] {
            assert_eq!(
                anonymous_put(row(10, reserved, 0), 10),
                Ok(AnonymousPut::Insert {
                    replace_expired: true
                })
            );
        }
    }

    #[test]
    fn the_anonymous_pool_is_counted_before_the_bytes() {
        let t = Totals {
            mailboxes: 0,
            bytes: 150,
            anonymous_dropboxes: 2,
        };
        assert_eq!(
            admit_anonymous_dropbox(&t, &LIMITS, 1),
            Err(StoreError::RelayFull)
        );
        let t = Totals {
            anonymous_dropboxes: 1,
            ..t
        };
        assert_eq!(
            admit_anonymous_dropbox(&t, &LIMITS, 1),
            Err(StoreError::RelayBytesFull)
        );
    }

    #[test]
    fn a_vouched_put_is_checked_whole_before_anything_is_stored() {
        let t = Totals::default();
        assert_eq!(
            vouched_put(&put(None, 5), None, None, 1, &t, &LIMITS),
            Ok(())
        );
        assert_eq!(
            vouched_put(&put(Some(dropbox(1)), 5), None, None, 0, &t, &LIMITS),
            Err(StoreError::DropboxExists),
            "a drop-box cannot reserve its own id"
        );
        assert_eq!(
            vouched_put(
                &put(Some(dropbox(2)), 5),
                None,
                row(11, true, 0),
                0,
                &t,
                &LIMITS
            ),
            Err(StoreError::DropboxExists)
        );
        assert_eq!(
            vouched_put(&put(None, 5), row(11, false, 5), None, 0, &t, &LIMITS),
            Err(StoreError::DropboxExists)
        );
        // Expired rows are no obstacle.
        assert_eq!(
            vouched_put(
                &put(Some(dropbox(2)), 5),
                row(10, false, 5),
                row(9, true, 0),
                0,
                &t,
                &LIMITS
            ),
            Ok(())
        );
        assert_eq!(
            vouched_put(&put(Some(dropbox(2)), 5), None, None, 1, &t, &LIMITS),
            Err(StoreError::QuotaDropboxes),
            "a drop-box and its reservation count two"
        );
        assert_eq!(
            vouched_put(&put(None, 151), None, None, 0, &t, &LIMITS),
            Err(StoreError::RelayBytesFull)
        );
    }

    #[test]
    fn a_claim_hands_out_a_blob_once_and_keeps_reservations() {
        assert_eq!(claim(None, 10), Claim::Nothing);
        assert_eq!(claim(row(10, false, 5), 10), Claim::DeleteExpired);
        assert_eq!(claim(row(11, true, 0), 10), Claim::Nothing);
        assert_eq!(claim(row(11, true, 5), 10), Claim::TakeKeepReservation);
        assert_eq!(claim(row(11, false, 5), 10), Claim::Take);
    }

    #[test]
    fn totals_follow_drop_boxes_in_and_out() {
        let mut t = Totals::default();
        t.add_dropbox(10, true);
        t.add_dropbox(5, false);
        t.reservation_filled(3);
        assert_eq!((t.bytes, t.anonymous_dropboxes), (18, 1));
        t.reservation_emptied(3);
        t.remove_dropbox(5, false);
        assert_eq!((t.bytes, t.anonymous_dropboxes), (10, 1));
        t.swept(10, 1);
        assert_eq!(t, Totals::default());
        t.swept(1, 1);
        assert_eq!(t, Totals::default(), "never below zero");
    }

    #[test]
    fn damaged_stored_keys_are_a_backend_error() {
        assert_eq!(stored_keys(&KEYS.to_bytes()), Ok(KEYS));
        assert!(matches!(stored_keys(&[0; 63]), Err(StoreError::Backend(_))));
    }
}
