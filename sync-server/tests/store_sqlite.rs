//! The shared store behaviour suite against the SQLite store, plus what is
//! specific to a file: everything survives closing and reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_suite;

use std::sync::Arc;

use bytes::Bytes;
use safespaces_relay::store::{NoSink, SharedStore, SqliteStore, Store};
use safespaces_wire::MailboxId;
use store_suite::keys;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    let factory = move |limits, sink| -> SharedStore {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(SqliteStore::open(&dir.path().join(format!("s{n}.db")), limits, sink).unwrap())
    };
    store_suite::run_all(&factory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let m = MailboxId::from_bytes([5; 32]);
    {
        let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
        s.create_mailbox(m, keys(9)).await.unwrap();
        for i in 0..5u8 {
            s.append(m, Bytes::from(vec![i; 10])).await.unwrap();
        }
        s.compact(m, 4, 2).await.unwrap();
        s.close().await.unwrap();
    }
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    assert_eq!(
        s.mailbox_record(m).await.unwrap().map(|r| r.keys),
        Some(keys(9))
    );
    let p = s.read(m, 0, 100, usize::MAX).await.unwrap();
    assert_eq!(
        p.blobs.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert_eq!((p.last_seq, p.compacted_through), (5, 2));
    assert_eq!(s.append(m, Bytes::from_static(b"next")).await.unwrap(), 6);
    s.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_and_claimed_bytes_are_gone_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let secret = b"PLAINTEXT-LOOKING-MARKER-0123456789".repeat(8);
    let invite = b"INVITE-MARKER-9876543210".repeat(8);
    {
        let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
        let m = MailboxId::from_bytes([6; 32]);
        s.create_mailbox(m, keys(9)).await.unwrap();
        s.append(m, Bytes::from(secret.clone())).await.unwrap();
        s.append(m, Bytes::from_static(b"snapshot")).await.unwrap();
        let d = safespaces_wire::DropboxId::from_bytes([1; 32]);
        s.put_dropbox(d, Bytes::from(invite.clone()), 0, u64::MAX / 2)
            .await
            .unwrap();
        s.compact(m, 2, 1).await.unwrap();
        assert!(s.claim_dropbox(d, 1).await.unwrap().is_some());
        s.close().await.unwrap();
        // Dropping the store closes every connection; SQLite checkpoints the WAL.
    }
    let mut all = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        all.extend(wal);
    }
    let find = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(!find(&secret[..32]), "compacted blob still on disk");
    assert!(!find(&invite[..24]), "claimed drop-box still on disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_survive_a_reopen_and_the_sweep_prunes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    for n in 0..10u8 {
        assert!(
            s.remember_nonce([n; 16], 1000 + u64::from(n))
                .await
                .unwrap()
        );
    }
    s.close().await.unwrap();
    drop(s);
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    assert!(
        !s.remember_nonce([3; 16], 1003).await.unwrap(),
        "replay after reopen"
    );
    s.sweep_dropboxes(1004).await.unwrap();
    s.close().await.unwrap();
    drop(s);
    let left: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM nonce", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 5, "nonces expiring at or before the sweep are gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_without_writing_to_the_file() {
    use safespaces_relay::store::StoreError;
    use safespaces_relay::store::sqlite::SCHEMA_VERSION;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    s.create_mailbox(MailboxId::from_bytes([1; 32]), keys(2))
        .await
        .unwrap();
    s.close().await.unwrap();
    drop(s);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap_err();
    assert_eq!(
        err,
        StoreError::SchemaTooNew {
            found: SCHEMA_VERSION + 5,
            known: SCHEMA_VERSION
        }
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_quotas_count_what_a_reopened_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let limits = safespaces_relay::store::StoreLimits {
        max_mailboxes: 2,
        max_total_bytes: 100,
        max_dropboxes: 1,
        ..store_suite::LIMITS
    };
    {
        let s = SqliteStore::open(&path, limits, Arc::new(NoSink)).unwrap();
        s.create_mailbox(MailboxId::from_bytes([1; 32]), keys(1))
            .await
            .unwrap();
        s.create_mailbox(MailboxId::from_bytes([2; 32]), keys(2))
            .await
            .unwrap();
        s.append(MailboxId::from_bytes([1; 32]), Bytes::from(vec![0; 60]))
            .await
            .unwrap();
        let d = safespaces_wire::DropboxId::from_bytes([1; 32]);
        s.put_dropbox(d, Bytes::from(vec![0; 30]), 0, u64::MAX / 2)
            .await
            .unwrap();
        s.close().await.unwrap();
    }
    let s = SqliteStore::open(&path, limits, Arc::new(NoSink)).unwrap();
    use safespaces_relay::store::StoreError;
    assert_eq!(
        s.create_mailbox(MailboxId::from_bytes([3; 32]), keys(3))
            .await,
        Err(StoreError::TooManyMailboxes)
    );
    assert_eq!(
        s.append(MailboxId::from_bytes([2; 32]), Bytes::from(vec![0; 11]))
            .await,
        Err(StoreError::RelayBytesFull)
    );
    let d = safespaces_wire::DropboxId::from_bytes([2; 32]);
    assert_eq!(
        s.put_dropbox(d, Bytes::from_static(b"x"), 0, u64::MAX / 2)
            .await,
        Err(StoreError::RelayFull)
    );
    s.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_drop_box_owners_opens_and_keeps_its_drop_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    {
        // The drop-box table as it was made before vouching existed.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE dropbox (id BLOB PRIMARY KEY, data BLOB NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
             CREATE INDEX dropbox_expiry ON dropbox (expires_at);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO dropbox (id, data, expires_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![&[7u8; 32][..], &b"old invite"[..], i64::MAX / 2],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    let d = safespaces_wire::DropboxId::from_bytes([7; 32]);
    assert_eq!(
        s.claim_dropbox(d, 1).await.unwrap(),
        Some(Bytes::from_static(b"old invite"))
    );
    s.close().await.unwrap();
    // Opening again finds the columns there and changes nothing.
    let s = SqliteStore::open(&path, store_suite::LIMITS, Arc::new(NoSink)).unwrap();
    s.close().await.unwrap();
}
