//! The shared store behaviour suite against the PostgreSQL store, on a real
//! throwaway server, plus what only several nodes on one database can show:
//! gapless sequences under concurrent appends from two nodes, commits of
//! one node reaching the other's hub (also when notifications are lost),
//! and replay protection shared by the nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_server;
mod store_suite;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use safespaces_relay::store::{CommitSink, NoSink, PgStore, SharedStore, Store};
use safespaces_wire::MailboxId;
use store_suite::keys;

async fn open(url: &str, sink: Arc<dyn CommitSink>) -> PgStore {
    PgStore::connect(url, store_suite::LIMITS, sink)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_suite() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let factory = move |limits, sink| -> SharedStore {
        let url = pg.fresh_database();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                Arc::new(PgStore::connect(&url, limits, sink).await.unwrap()) as SharedStore
            })
        })
    };
    store_suite::run_all(&factory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_reopen() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let m = MailboxId::from_bytes([5; 32]);
    {
        let s = open(&url, Arc::new(NoSink)).await;
        s.create_mailbox(m, keys(9)).await.unwrap();
        for i in 0..5u8 {
            s.append(m, Bytes::from(vec![i; 10])).await.unwrap();
        }
        s.compact(m, 4, 2).await.unwrap();
        s.close().await.unwrap();
    }
    // Opening again runs the migrations again: they must be a no-op.
    let s = open(&url, Arc::new(NoSink)).await;
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
async fn two_nodes_starting_together_on_an_empty_database_both_work() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let (a, b) = tokio::join!(open(&url, Arc::new(NoSink)), open(&url, Arc::new(NoSink)));
    let m = MailboxId::from_bytes([1; 32]);
    assert!(a.create_mailbox(m, keys(1)).await.unwrap());
    assert!(!b.create_mailbox(m, keys(1)).await.unwrap());
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_appending_to_one_mailbox_keep_sequences_gapless() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let nodes: Vec<SharedStore> = vec![
        Arc::new(open(&url, Arc::new(NoSink)).await),
        Arc::new(open(&url, Arc::new(NoSink)).await),
    ];
    let m = MailboxId::from_bytes([2; 32]);
    nodes[0].create_mailbox(m, keys(2)).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let s = nodes[usize::from(t % 2)].clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..60u8 {
                seqs.push(s.append(m, Bytes::from(vec![t, i])).await.unwrap());
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=480).collect::<Vec<u64>>());
    // And the stored log agrees, read through the other node.
    let p = nodes[1].read(m, 0, 1000, usize::MAX).await.unwrap();
    assert_eq!(
        p.blobs.iter().map(|b| b.0).collect::<Vec<_>>(),
        (1..=480).collect::<Vec<u64>>()
    );
    assert_eq!(p.last_seq, 480);
    for n in nodes {
        n.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nodes_commits_and_deletions_reach_the_other_nodes_sink() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let rec = Arc::new(store_suite::Recorder::default());
    let a = open(&url, Arc::new(NoSink)).await;
    let b = open(&url, rec.clone()).await;
    let m = MailboxId::from_bytes([3; 32]);
    a.create_mailbox(m, keys(3)).await.unwrap();
    // Node B caches the key, then node A deletes the mailbox: B must forget it.
    assert_eq!(
        b.mailbox_record(m).await.unwrap().map(|r| r.keys),
        Some(keys(3))
    );
    for i in 1..=20u8 {
        a.append(m, Bytes::from(vec![i])).await.unwrap();
    }
    let wait_for = |want: usize| {
        let rec = rec.clone();
        async move {
            let start = Instant::now();
            while rec.0.lock().unwrap().len() < want {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "node B saw only {:?}",
                    rec.0.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(20).await;
    let seqs: Vec<u64> = rec.0.lock().unwrap().iter().filter_map(|e| e.1).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    a.delete_mailbox(m).await.unwrap();
    wait_for(21).await;
    assert_eq!(rec.0.lock().unwrap().last(), Some(&(m, None)));
    // B forgot the live record and now sees the tombstone, as A does:
    // neither node authorises the deleted mailbox, nor lets it be re-created.
    for node in [&a, &b] {
        assert_eq!(
            node.mailbox_record(m).await.unwrap().map(|r| r.deleted),
            Some(true)
        );
    }
    assert_eq!(
        b.create_mailbox(m, keys(3)).await,
        Err(safespaces_relay::store::StoreError::MailboxDeleted)
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// A sink that watches one mailbox, like a hub with one subscriber.
struct Watching {
    mailbox: MailboxId,
    seen: std::sync::Mutex<Vec<u64>>,
}

impl CommitSink for Watching {
    fn committed(&self, m: &MailboxId, seq: u64, _: &Bytes) {
        if *m == self.mailbox {
            self.seen.lock().unwrap().push(seq);
        }
    }
    fn mailbox_deleted(&self, _: &MailboxId) {}
    fn watches(&self, m: &MailboxId) -> bool {
        *m == self.mailbox
    }
    fn watched(&self) -> Vec<(MailboxId, u64)> {
        let last = self.seen.lock().unwrap().iter().copied().max().unwrap_or(0);
        vec![(self.mailbox, last)]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_notification_never_came_is_caught_up_by_the_resync() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let m = MailboxId::from_bytes([8; 32]);
    let watching = Arc::new(Watching {
        mailbox: m,
        seen: std::sync::Mutex::default(),
    });
    let a = open(&url, Arc::new(NoSink)).await;
    let b = open(&url, watching.clone()).await;
    a.create_mailbox(m, keys(8)).await.unwrap();
    a.append(m, Bytes::from_static(b"1")).await.unwrap();
    let wait_for = |want: u64, within: Duration| {
        let watching = watching.clone();
        async move {
            let start = Instant::now();
            while !watching.seen.lock().unwrap().contains(&want) {
                assert!(start.elapsed() < within, "seq {want} never reached node B");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(1, Duration::from_secs(5)).await;
    // A node that committed and died before notifying: the row is there, no
    // notification ever comes.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO blob (mailbox, seq, data) SELECT rid, 2, '\\x32' FROM mailbox;
         UPDATE mailbox SET last_seq = 2, blob_count = 2, byte_count = 2;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // The resync runs every 5 s.
    wait_for(2, Duration::from_secs(12)).await;
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listen_connection_is_reopened_and_caught_up() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let m = MailboxId::from_bytes([9; 32]);
    let watching = Arc::new(Watching {
        mailbox: m,
        seen: std::sync::Mutex::default(),
    });
    let a = open(&url, Arc::new(NoSink)).await;
    let b = open(&url, watching.clone()).await;
    a.create_mailbox(m, keys(9)).await.unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    // Wait until node B listens, then cut its LISTEN connection (as a
    // network failure or a database restart would).
    let start = Instant::now();
    loop {
        let cut: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        if !cut.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "nobody listens");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 1..=3u8 {
        a.append(m, Bytes::from(vec![i])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Whatever was missed while reconnecting comes with the resync that
    // follows the reconnection; nothing may be missing.
    let start = Instant::now();
    while !watching.seen.lock().unwrap().contains(&3) {
        assert!(
            start.elapsed() < Duration::from_secs(12),
            "node B saw only {:?}",
            watching.seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_recorded_on_one_node_is_a_replay_on_every_node() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let a = open(&url, Arc::new(NoSink)).await;
    let b = open(&url, Arc::new(NoSink)).await;
    assert!(a.remember_nonce([1; 16], 1000).await.unwrap());
    assert!(!b.remember_nonce([1; 16], 1000).await.unwrap());
    assert!(!a.remember_nonce([1; 16], 1000).await.unwrap());
    // The same fresh nonce from many requests at once: exactly one wins,
    // also when they land in one batch.
    let b = Arc::new(b);
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move { b.remember_nonce([2; 16], 1000 + i).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        winners += usize::from(r.await.unwrap());
    }
    assert_eq!(winners, 1);
    // Expired nonces are forgotten by the sweep (and could not be accepted
    // by the time window any more anyway).
    assert!(a.remember_nonce([3; 16], 10).await.unwrap());
    a.sweep_dropboxes(20).await.unwrap();
    assert!(a.remember_nonce([3; 16], 30).await.unwrap());
    assert!(!a.remember_nonce([1; 16], 1000).await.unwrap());
    a.close().await.unwrap();
    b.close().await.unwrap();
    assert_eq!(
        a.remember_nonce([4; 16], 1000).await,
        Err(safespaces_relay::store::StoreError::Closed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_quotas_hold_exactly_across_two_nodes() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    use safespaces_relay::store::{StoreError, StoreLimits};
    let url = pg.fresh_database();
    let limits = StoreLimits {
        max_mailboxes: 10,
        max_total_bytes: 1000,
        ..store_suite::LIMITS
    };
    let a = Arc::new(
        PgStore::connect(&url, limits, Arc::new(NoSink))
            .await
            .unwrap(),
    );
    let b = Arc::new(
        PgStore::connect(&url, limits, Arc::new(NoSink))
            .await
            .unwrap(),
    );
    // Both nodes create as many mailboxes as they can, at the same time.
    let mut tasks = Vec::new();
    for (n, s) in [(0u8, a.clone()), (1u8, b.clone())] {
        tasks.push(tokio::spawn(async move {
            let mut created = Vec::new();
            for i in 0..10u8 {
                let id = MailboxId::from_bytes([n * 16 + i + 1; 32]);
                match s.create_mailbox(id, keys(1)).await {
                    Ok(true) => created.push(id),
                    Err(StoreError::TooManyMailboxes) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            created
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    assert_eq!(created.len(), 10, "exactly the quota, across both nodes");
    // Bytes too: 100-byte appends from both nodes, 10 fit.
    let mut tasks = Vec::new();
    for (n, s) in [(0usize, a.clone()), (1usize, b.clone())] {
        let ids = created.clone();
        tasks.push(tokio::spawn(async move {
            let mut stored = 0;
            for i in 0..10 {
                match s
                    .append(ids[(n * 5 + i) % ids.len()], Bytes::from(vec![0u8; 100]))
                    .await
                {
                    Ok(_) => stored += 1,
                    Err(StoreError::RelayBytesFull) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            stored
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await.unwrap();
    }
    assert_eq!(stored, 10);
    a.close().await.unwrap();
    b.close().await.unwrap();
}
