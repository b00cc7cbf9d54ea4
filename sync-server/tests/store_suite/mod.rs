//! The behaviour every [`Store`] implementation must have, written once.
//!
//! Each backend's test file calls [`run_all`] with a factory that opens a
//! fresh, empty store (`store_sqlite.rs`, and `store_postgres.rs` on a
//! throwaway PostgreSQL server), so both stores give the same outcomes and
//! the same errors.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use safespaces_relay::store::{
    CommitSink, MailboxKeys, MailboxRecord, SharedStore, StoreError, StoreLimits, VouchedPut,
};
use safespaces_wire::{DropboxId, MailboxId};

/// Opens a fresh store with these limits, reporting commits to the sink.
pub type Factory = dyn Fn(StoreLimits, Arc<dyn CommitSink>) -> SharedStore;

pub const LIMITS: StoreLimits = StoreLimits {
    max_blobs_per_mailbox: 1000,
    max_bytes_per_mailbox: 1_000_000,
    max_dropboxes: 3,
    max_mailboxes: 1000,
    max_total_bytes: 100_000_000,
    max_dropboxes_per_mailbox: 4,
};

/// Records what the store reported.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(MailboxId, Option<u64>)>>);

impl CommitSink for Recorder {
    fn committed(&self, m: &MailboxId, seq: u64, _: &Bytes) {
        self.0.lock().unwrap().push((*m, Some(seq)));
    }
    fn mailbox_deleted(&self, m: &MailboxId) {
        self.0.lock().unwrap().push((*m, None));
    }
}

/// Member and admin keys for test mailbox number `n` (the store checks
/// neither; the relay's routes do).
pub fn keys(n: u8) -> MailboxKeys {
    MailboxKeys {
        member: [n; 32],
        admin: [n.wrapping_add(100); 32],
    }
}

fn mb(n: u8) -> MailboxId {
    MailboxId::from_bytes([n; 32])
}

fn db(n: u8) -> DropboxId {
    DropboxId::from_bytes([n; 32])
}

fn fresh(make: &Factory) -> (SharedStore, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (make(LIMITS, rec.clone()), rec)
}

/// Runs every case, each on a fresh store.
pub async fn run_all(make: &Factory) {
    create_is_idempotent_per_key(make).await;
    appends_number_from_one_without_gaps(make).await;
    quotas_refuse_and_store_nothing(make).await;
    reads_page_by_count_and_bytes(make).await;
    compaction_deletes_only_the_covered_range(make).await;
    a_deleted_mailbox_leaves_a_tombstone_that_refuses_everything(make).await;
    dropboxes_are_claimed_once_and_expire(make).await;
    dropbox_expiry_reads_without_claiming(make).await;
    concurrent_appends_get_distinct_consecutive_seqs(make).await;
    commits_are_reported_in_order(make).await;
    close_finishes_and_then_refuses(make).await;
    nonces_are_refused_until_they_expire(make).await;
    global_quotas_refuse_and_store_nothing(make).await;
    global_quotas_are_freed_by_what_removes_data(make).await;
    vouched_dropboxes_are_charged_to_their_mailbox(make).await;
    a_reservation_takes_one_answer_at_a_time(make).await;
}

async fn create_is_idempotent_per_key(make: &Factory) {
    let (s, _) = fresh(make);
    assert_eq!(s.mailbox_record(mb(1)).await.unwrap(), None);
    assert!(s.create_mailbox(mb(1), keys(1)).await.unwrap());
    assert!(!s.create_mailbox(mb(1), keys(1)).await.unwrap());
    assert_eq!(
        s.create_mailbox(mb(1), keys(2)).await,
        Err(StoreError::MailboxExists)
    );
    assert_eq!(
        s.mailbox_record(mb(1)).await.unwrap().map(|r| r.keys),
        Some(keys(1))
    );
    s.close().await.unwrap();
}

async fn appends_number_from_one_without_gaps(make: &Factory) {
    let (s, _) = fresh(make);
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"x")).await,
        Err(StoreError::MailboxNotFound)
    );
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    s.create_mailbox(mb(2), keys(2)).await.unwrap();
    for i in 1..=5u64 {
        assert_eq!(
            s.append(mb(1), Bytes::from(vec![i as u8])).await.unwrap(),
            i
        );
    }
    // Sequences are per mailbox.
    assert_eq!(s.append(mb(2), Bytes::from_static(b"y")).await.unwrap(), 1);
    let page = s.read(mb(1), 0, 100, usize::MAX).await.unwrap();
    assert_eq!(page.last_seq, 5);
    assert_eq!(
        page.blobs
            .iter()
            .map(|(seq, d)| (*seq, d[0]))
            .collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    );
    assert!(!page.more);
    assert_eq!(
        s.read(mb(9), 0, 10, 10).await,
        Err(StoreError::MailboxNotFound)
    );
    s.close().await.unwrap();
}

async fn quotas_refuse_and_store_nothing(make: &Factory) {
    let rec = Arc::new(Recorder::default());
    let s = make(
        StoreLimits {
            max_blobs_per_mailbox: 2,
            max_bytes_per_mailbox: 10,
            max_dropboxes: 1,
            ..LIMITS
        },
        rec,
    );
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    assert_eq!(
        s.append(mb(1), Bytes::from(vec![0; 11])).await,
        Err(StoreError::QuotaBytes)
    );
    assert_eq!(s.append(mb(1), Bytes::from(vec![0; 6])).await.unwrap(), 1);
    assert_eq!(
        s.append(mb(1), Bytes::from(vec![0; 5])).await,
        Err(StoreError::QuotaBytes)
    );
    assert_eq!(s.append(mb(1), Bytes::from(vec![0; 4])).await.unwrap(), 2);
    assert_eq!(
        s.append(mb(1), Bytes::new()).await,
        Err(StoreError::QuotaBlobs)
    );
    let page = s.read(mb(1), 0, 100, usize::MAX).await.unwrap();
    assert_eq!((page.last_seq, page.blobs.len()), (2, 2));
    // Compaction frees quota.
    s.compact(mb(1), 2, 1).await.unwrap();
    assert_eq!(s.append(mb(1), Bytes::from(vec![0; 6])).await.unwrap(), 3);
    s.put_dropbox(db(1), Bytes::from_static(b"a"), 100, 200)
        .await
        .unwrap();
    assert_eq!(
        s.put_dropbox(db(2), Bytes::from_static(b"b"), 100, 200)
            .await,
        Err(StoreError::RelayFull)
    );
    assert_eq!(s.claim_dropbox(db(2), 100).await.unwrap(), None);
    s.close().await.unwrap();
}

async fn reads_page_by_count_and_bytes(make: &Factory) {
    let (s, _) = fresh(make);
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    for _ in 0..10 {
        s.append(mb(1), Bytes::from(vec![7; 100])).await.unwrap();
    }
    let p = s.read(mb(1), 2, 3, usize::MAX).await.unwrap();
    assert_eq!(
        p.blobs.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert!(p.more);
    let p = s.read(mb(1), 0, 100, 250).await.unwrap();
    assert_eq!(p.blobs.len(), 2);
    assert!(p.more);
    // A blob larger than the byte budget still comes alone, never an empty page.
    let p = s.read(mb(1), 0, 100, 10).await.unwrap();
    assert_eq!(p.blobs.len(), 1);
    let p = s.read(mb(1), 10, 100, usize::MAX).await.unwrap();
    assert!(p.blobs.is_empty() && !p.more);
    s.close().await.unwrap();
}

async fn compaction_deletes_only_the_covered_range(make: &Factory) {
    let (s, _) = fresh(make);
    assert_eq!(
        s.compact(mb(1), 2, 1).await,
        Err(StoreError::MailboxNotFound)
    );
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    for _ in 0..6 {
        s.append(mb(1), Bytes::from_static(b"z")).await.unwrap();
    }
    assert!(matches!(
        s.compact(mb(1), 3, 3).await,
        Err(StoreError::BadCompaction(_))
    ));
    assert!(matches!(
        s.compact(mb(1), 7, 3).await,
        Err(StoreError::BadCompaction(_))
    ));
    let c = s.compact(mb(1), 5, 3).await.unwrap();
    assert_eq!((c.deleted, c.compacted_through), (3, 3));
    let p = s.read(mb(1), 0, 100, usize::MAX).await.unwrap();
    assert_eq!(
        p.blobs.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert_eq!((p.last_seq, p.compacted_through), (6, 3));
    // The snapshot itself can be covered by a later snapshot.
    let c = s.compact(mb(1), 6, 5).await.unwrap();
    assert_eq!((c.deleted, c.compacted_through), (2, 5));
    assert!(matches!(
        s.compact(mb(1), 5, 4).await,
        Err(StoreError::BadCompaction(_))
    ));
    assert_eq!(s.append(mb(1), Bytes::from_static(b"n")).await.unwrap(), 7);
    s.close().await.unwrap();
}

async fn a_deleted_mailbox_leaves_a_tombstone_that_refuses_everything(make: &Factory) {
    let (s, _) = fresh(make);
    assert_eq!(
        s.delete_mailbox(mb(1)).await,
        Err(StoreError::MailboxNotFound)
    );
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    s.append(mb(1), Bytes::from_static(b"a")).await.unwrap();
    s.append(mb(1), Bytes::from_static(b"b")).await.unwrap();
    // Warm the key cache, then delete: the live record must not survive.
    assert_eq!(
        s.mailbox_record(mb(1)).await.unwrap(),
        Some(MailboxRecord {
            keys: keys(1),
            deleted: false
        })
    );
    s.delete_mailbox(mb(1)).await.unwrap();
    assert_eq!(
        s.mailbox_record(mb(1)).await.unwrap(),
        Some(MailboxRecord {
            keys: keys(1),
            deleted: true
        })
    );
    assert_eq!(
        s.read(mb(1), 0, 10, 10).await,
        Err(StoreError::MailboxDeleted)
    );
    // Neither with its own keys nor with others can the id come back, so
    // its sequence numbers never restart at 1.
    for k in [keys(1), keys(2)] {
        assert_eq!(
            s.create_mailbox(mb(1), k).await,
            Err(StoreError::MailboxDeleted)
        );
    }
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"c")).await,
        Err(StoreError::MailboxDeleted)
    );
    assert_eq!(
        s.compact(mb(1), 2, 1).await,
        Err(StoreError::MailboxDeleted)
    );
    assert_eq!(
        s.delete_mailbox(mb(1)).await,
        Err(StoreError::MailboxDeleted)
    );
    s.close().await.unwrap();
}

async fn dropboxes_are_claimed_once_and_expire(make: &Factory) {
    let (s, _) = fresh(make);
    s.put_dropbox(db(1), Bytes::from_static(b"invite"), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(
        s.put_dropbox(db(1), Bytes::from_static(b"other"), 1000, 2000)
            .await,
        Err(StoreError::DropboxExists)
    );
    assert_eq!(
        s.claim_dropbox(db(1), 1500).await.unwrap(),
        Some(Bytes::from_static(b"invite"))
    );
    assert_eq!(s.claim_dropbox(db(1), 1500).await.unwrap(), None);
    // Expiry: not claimable at or after expires_at, and replaceable.
    s.put_dropbox(db(2), Bytes::from_static(b"old"), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(s.claim_dropbox(db(2), 2000).await.unwrap(), None);
    s.put_dropbox(db(3), Bytes::from_static(b"old"), 1000, 2000)
        .await
        .unwrap();
    s.put_dropbox(db(3), Bytes::from_static(b"new"), 2000, 3000)
        .await
        .unwrap();
    assert_eq!(
        s.claim_dropbox(db(3), 2500).await.unwrap(),
        Some(Bytes::from_static(b"new"))
    );
    // Sweeping removes only expired ones.
    s.put_dropbox(db(4), Bytes::from_static(b"a"), 0, 10)
        .await
        .unwrap();
    s.put_dropbox(db(5), Bytes::from_static(b"b"), 0, 30)
        .await
        .unwrap();
    assert_eq!(s.sweep_dropboxes(20).await.unwrap(), 1);
    assert_eq!(
        s.claim_dropbox(db(5), 20).await.unwrap(),
        Some(Bytes::from_static(b"b"))
    );
    s.close().await.unwrap();
}

async fn dropbox_expiry_reads_without_claiming(make: &Factory) {
    let (s, _) = fresh(make);
    // Never put.
    assert_eq!(s.dropbox_expiry(db(1), 1000).await.unwrap(), None);
    s.put_dropbox(db(1), Bytes::from_static(b"invite"), 1000, 2000)
        .await
        .unwrap();
    // Asking twice changes nothing: the blob is still there to claim.
    assert_eq!(s.dropbox_expiry(db(1), 1500).await.unwrap(), Some(2000));
    assert_eq!(s.dropbox_expiry(db(1), 1999).await.unwrap(), Some(2000));
    assert_eq!(
        s.put_dropbox(db(1), Bytes::from_static(b"other"), 1500, 2500)
            .await,
        Err(StoreError::DropboxExists)
    );
    assert_eq!(
        s.claim_dropbox(db(1), 1500).await.unwrap(),
        Some(Bytes::from_static(b"invite"))
    );
    // Claimed.
    assert_eq!(s.dropbox_expiry(db(1), 1500).await.unwrap(), None);
    // Expired at exactly expires_at, as for a claim, even before the sweep;
    // and asking after expiry does not stop it being replaced.
    s.put_dropbox(db(2), Bytes::from_static(b"old"), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(s.dropbox_expiry(db(2), 2000).await.unwrap(), None);
    assert_eq!(s.claim_dropbox(db(2), 2000).await.unwrap(), None);
    s.put_dropbox(db(3), Bytes::from_static(b"old"), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(s.dropbox_expiry(db(3), 2500).await.unwrap(), None);
    s.put_dropbox(db(3), Bytes::from_static(b"new"), 2500, 3000)
        .await
        .unwrap();
    assert_eq!(s.dropbox_expiry(db(3), 2500).await.unwrap(), Some(3000));
    // Another drop-box is unaffected by all of the above.
    assert_eq!(s.dropbox_expiry(db(4), 1500).await.unwrap(), None);
    s.close().await.unwrap();
}

async fn concurrent_appends_get_distinct_consecutive_seqs(make: &Factory) {
    let (s, _) = fresh(make);
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..100u8 {
                seqs.push(s.append(mb(1), Bytes::from(vec![t, i])).await.unwrap());
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        // Each writer sees its own appends in increasing order.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<u64>>());
    s.close().await.unwrap();
}

async fn commits_are_reported_in_order(make: &Factory) {
    let (s, rec) = fresh(make);
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                s.append(mb(1), Bytes::from_static(b"e")).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    s.create_mailbox(mb(2), keys(1)).await.unwrap();
    s.delete_mailbox(mb(2)).await.unwrap();
    let got = rec.0.lock().unwrap().clone();
    let seqs: Vec<u64> = got
        .iter()
        .filter(|(m, _)| *m == mb(1))
        .filter_map(|e| e.1)
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    assert_eq!(got.last(), Some(&(mb(2), None)));
    s.close().await.unwrap();
}

async fn close_finishes_and_then_refuses(make: &Factory) {
    let (s, _) = fresh(make);
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    let pending: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.append(mb(1), Bytes::from_static(b"q")).await })
        })
        .collect();
    tokio::task::yield_now().await;
    s.close().await.unwrap();
    let mut ok = 0;
    for p in pending {
        match p.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Closed) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"late")).await,
        Err(StoreError::Closed)
    );
    // Closing twice is fine.
    s.close().await.unwrap();
    let _ = ok;
}

/// Replay protection in the store (every store keeps nonces now: SQLite so
/// they outlive a restart, PostgreSQL so every node sees them).
async fn nonces_are_refused_until_they_expire(make: &Factory) {
    use rand::RngCore as _;
    let (s, _) = fresh(make);
    let mut long = [0u8; 16];
    let mut short = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut long);
    rand::rngs::OsRng.fill_bytes(&mut short);
    assert!(s.remember_nonce(long, 10_000).await.unwrap());
    assert!(!s.remember_nonce(long, 10_000).await.unwrap(), "a replay");
    assert!(s.remember_nonce(short, 100).await.unwrap());
    // The sweep forgets nonces whose timestamps can no longer be accepted,
    // and only those.
    s.sweep_dropboxes(100).await.unwrap();
    assert!(!s.remember_nonce(long, 10_000).await.unwrap());
    assert!(
        s.remember_nonce(short, 200).await.unwrap(),
        "an expired nonce was pruned"
    );
    s.close().await.unwrap();
}

fn vouched(id: u8, owner: u8, data: &'static [u8], reserve: Option<u8>) -> VouchedPut {
    VouchedPut {
        id: db(id),
        data: Bytes::from_static(data),
        now: 1000,
        expires_at: 2000,
        owner: mb(owner),
        reserve: reserve.map(db),
    }
}

async fn global_quotas_refuse_and_store_nothing(make: &Factory) {
    let rec = Arc::new(Recorder::default());
    let s = make(
        StoreLimits {
            max_mailboxes: 2,
            max_total_bytes: 100,
            ..LIMITS
        },
        rec,
    );
    assert!(s.create_mailbox(mb(1), keys(1)).await.unwrap());
    assert!(s.create_mailbox(mb(2), keys(2)).await.unwrap());
    assert_eq!(
        s.create_mailbox(mb(3), keys(3)).await,
        Err(StoreError::TooManyMailboxes)
    );
    assert_eq!(s.mailbox_record(mb(3)).await.unwrap(), None);
    // An existing mailbox is still "created" (idempotent), full or not.
    assert!(!s.create_mailbox(mb(1), keys(1)).await.unwrap());
    // Bytes are counted across mailboxes and drop-boxes.
    assert_eq!(s.append(mb(1), Bytes::from(vec![0; 60])).await.unwrap(), 1);
    assert_eq!(
        s.append(mb(2), Bytes::from(vec![0; 41])).await,
        Err(StoreError::RelayBytesFull)
    );
    assert_eq!(s.append(mb(2), Bytes::from(vec![0; 30])).await.unwrap(), 1);
    assert_eq!(
        s.put_dropbox(db(1), Bytes::from(vec![0; 11]), 1000, 2000)
            .await,
        Err(StoreError::RelayBytesFull)
    );
    assert_eq!(
        s.put_vouched_dropbox(VouchedPut {
            data: Bytes::from(vec![0; 11]),
            ..vouched(1, 1, b"", None)
        })
        .await,
        Err(StoreError::RelayBytesFull)
    );
    s.put_dropbox(db(1), Bytes::from(vec![0; 10]), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"x")).await,
        Err(StoreError::RelayBytesFull)
    );
    // Nothing refused was stored.
    assert_eq!(s.read(mb(2), 0, 10, usize::MAX).await.unwrap().last_seq, 1);
    assert_eq!(s.claim_dropbox(db(2), 1000).await.unwrap(), None);
    assert_eq!(s.dropbox_expiry(db(1), 1000).await.unwrap(), Some(2000));
    s.close().await.unwrap();
}

async fn global_quotas_are_freed_by_what_removes_data(make: &Factory) {
    let rec = Arc::new(Recorder::default());
    let s = make(
        StoreLimits {
            max_mailboxes: 1,
            max_total_bytes: 100,
            ..LIMITS
        },
        rec,
    );
    s.create_mailbox(mb(1), keys(1)).await.unwrap();
    for _ in 0..4 {
        s.append(mb(1), Bytes::from(vec![0; 25])).await.unwrap();
    }
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"x")).await,
        Err(StoreError::RelayBytesFull)
    );
    // Compaction frees bytes...
    s.compact(mb(1), 4, 2).await.unwrap();
    s.put_dropbox(db(1), Bytes::from(vec![0; 50]), 1000, 2000)
        .await
        .unwrap();
    assert_eq!(
        s.append(mb(1), Bytes::from_static(b"x")).await,
        Err(StoreError::RelayBytesFull)
    );
    // ...so do claims...
    assert!(s.claim_dropbox(db(1), 1500).await.unwrap().is_some());
    s.put_dropbox(db(2), Bytes::from(vec![0; 50]), 1000, 2000)
        .await
        .unwrap();
    // ...and sweeps of expired drop-boxes...
    assert_eq!(s.sweep_dropboxes(2000).await.unwrap(), 1);
    assert_eq!(s.append(mb(1), Bytes::from(vec![0; 50])).await.unwrap(), 5);
    // ...and deleting a mailbox frees its bytes, but not its place: its
    // tombstone holds the id for ever, so creating and deleting cannot
    // grow the store without bound.
    assert_eq!(
        s.create_mailbox(mb(2), keys(2)).await,
        Err(StoreError::TooManyMailboxes)
    );
    s.delete_mailbox(mb(1)).await.unwrap();
    assert_eq!(
        s.create_mailbox(mb(2), keys(2)).await,
        Err(StoreError::TooManyMailboxes)
    );
    s.put_dropbox(db(3), Bytes::from(vec![0; 100]), 1000, 2000)
        .await
        .unwrap();
    s.close().await.unwrap();
}

async fn vouched_dropboxes_are_charged_to_their_mailbox(make: &Factory) {
    let (s, _) = fresh(make);
    // A stranger fills the anonymous pool (3 in LIMITS).
    for i in 10..13 {
        s.put_dropbox(db(i), Bytes::from_static(b"junk"), 1000, 2000)
            .await
            .unwrap();
    }
    assert_eq!(
        s.put_dropbox(db(13), Bytes::from_static(b"junk"), 1000, 2000)
            .await,
        Err(StoreError::RelayFull)
    );
    // A vouched put does not draw on that pool: up to 4 per mailbox.
    for i in 1..=4 {
        s.put_vouched_dropbox(vouched(i, 1, b"invite", None))
            .await
            .unwrap();
    }
    assert_eq!(
        s.put_vouched_dropbox(vouched(5, 1, b"invite", None)).await,
        Err(StoreError::QuotaDropboxes)
    );
    // Another mailbox has its own share, whatever the first one holds.
    s.put_vouched_dropbox(vouched(5, 2, b"other", None))
        .await
        .unwrap();
    assert_eq!(s.dropbox_expiry(db(5), 1500).await.unwrap(), Some(2000));
    // Taken ids are refused whoever vouches.
    assert_eq!(
        s.put_vouched_dropbox(vouched(10, 3, b"mine", None)).await,
        Err(StoreError::DropboxExists)
    );
    // Claiming frees the mailbox's share; a vouched drop-box is one-time.
    assert_eq!(
        s.claim_dropbox(db(1), 1500).await.unwrap(),
        Some(Bytes::from_static(b"invite"))
    );
    assert_eq!(s.claim_dropbox(db(1), 1500).await.unwrap(), None);
    s.put_vouched_dropbox(VouchedPut {
        now: 1500,
        ..vouched(6, 1, b"again", None)
    })
    .await
    .unwrap();
    // Expired ones stop counting, even before the sweep.
    s.put_vouched_dropbox(VouchedPut {
        now: 2000,
        expires_at: 3000,
        ..vouched(7, 1, b"later", None)
    })
    .await
    .unwrap();
    s.close().await.unwrap();
}

async fn a_reservation_takes_one_answer_at_a_time(make: &Factory) {
    let (s, _) = fresh(make);
    for i in 10..13 {
        s.put_dropbox(db(i), Bytes::from_static(b"junk"), 1000, 2000)
            .await
            .unwrap();
    }
    // Refused as a whole if the reserved id is taken: nothing stored.
    assert_eq!(
        s.put_vouched_dropbox(vouched(1, 1, b"package", Some(10)))
            .await,
        Err(StoreError::DropboxExists)
    );
    assert_eq!(s.dropbox_expiry(db(1), 1500).await.unwrap(), None);
    // A reservation counts against the mailbox's share (4): 2 + 2 fit, then no more.
    s.put_vouched_dropbox(vouched(1, 1, b"package", Some(2)))
        .await
        .unwrap();
    s.put_vouched_dropbox(vouched(3, 1, b"package", Some(4)))
        .await
        .unwrap();
    assert_eq!(
        s.put_vouched_dropbox(vouched(5, 1, b"x", None)).await,
        Err(StoreError::QuotaDropboxes)
    );
    // An empty reservation looks like nothing at all.
    assert_eq!(s.dropbox_expiry(db(2), 1500).await.unwrap(), None);
    assert_eq!(s.claim_dropbox(db(2), 1500).await.unwrap(), None);
    // An anonymous put fills it although the anonymous pool is full, and
    // keeps the sooner of the two expiries.
    s.put_dropbox(db(2), Bytes::from_static(b"request"), 1500, 1800)
        .await
        .unwrap();
    assert_eq!(s.dropbox_expiry(db(2), 1500).await.unwrap(), Some(1800));
    assert_eq!(
        s.put_dropbox(db(2), Bytes::from_static(b"second"), 1500, 1800)
            .await,
        Err(StoreError::DropboxExists)
    );
    // Claimed once, then empty again and ready for the next answer.
    assert_eq!(
        s.claim_dropbox(db(2), 1600).await.unwrap(),
        Some(Bytes::from_static(b"request"))
    );
    assert_eq!(s.claim_dropbox(db(2), 1600).await.unwrap(), None);
    s.put_dropbox(db(2), Bytes::from_static(b"again"), 1600, 1900)
        .await
        .unwrap();
    assert_eq!(
        s.claim_dropbox(db(2), 1700).await.unwrap(),
        Some(Bytes::from_static(b"again"))
    );
    // The answer shortened the reservation to its own expiry (1800); after
    // it the id is an ordinary one, and the anonymous pool is full.
    assert_eq!(
        s.put_dropbox(db(2), Bytes::from_static(b"late"), 1800, 2500)
            .await,
        Err(StoreError::RelayFull)
    );
    // Left: the 3 anonymous ones, package 1, package 3 and reservation 4.
    assert_eq!(s.sweep_dropboxes(2000).await.unwrap(), 6);
    s.close().await.unwrap();
}
