//! The shared store behaviour suite against the PostgreSQL store, on a real
//! throwaway server, plus what only several nodes on one database can show:
//! gapless sequences under concurrent appends from two nodes, and commits of
//! one node reaching the other's hub.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_server;
mod store_suite;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use safespaces_relay::store::{CommitSink, NoSink, PgStore, SharedStore, Store};
use safespaces_wire::MailboxId;

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
        s.create_mailbox(m, [9; 32]).await.unwrap();
        for i in 0..5u8 {
            s.append(m, Bytes::from(vec![i; 10])).await.unwrap();
        }
        s.compact(m, 4, 2).await.unwrap();
        s.close().await.unwrap();
    }
    // Opening again runs the migrations again: they must be a no-op.
    let s = open(&url, Arc::new(NoSink)).await;
    assert_eq!(s.mailbox_key(m).await.unwrap(), Some([9; 32]));
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
    assert!(a.create_mailbox(m, [1; 32]).await.unwrap());
    assert!(!b.create_mailbox(m, [1; 32]).await.unwrap());
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
    nodes[0].create_mailbox(m, [2; 32]).await.unwrap();
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
    a.create_mailbox(m, [3; 32]).await.unwrap();
    // Node B caches the key, then node A deletes the mailbox: B must forget it.
    assert_eq!(b.mailbox_key(m).await.unwrap(), Some([3; 32]));
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
    assert_eq!(b.mailbox_key(m).await.unwrap(), None);
    // Re-created with another key through B: A must not authorise with the old one.
    assert!(b.create_mailbox(m, [4; 32]).await.unwrap());
    assert_eq!(a.mailbox_key(m).await.unwrap(), Some([4; 32]));
    a.close().await.unwrap();
    b.close().await.unwrap();
}
