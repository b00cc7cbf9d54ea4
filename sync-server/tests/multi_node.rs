//! Several relay processes on one PostgreSQL database, as behind a load
//! balancer: clients on different nodes converge live, and killing a node
//! with SIGKILL loses no acknowledged blob while its clients carry on through
//! the other node, resuming from their cursors without gaps or duplicates.
//!
//! Both nodes share one data directory, so they present the same development
//! certificate (the same pin), as nodes behind one name do in production.
//! A signed request accepted by one node is refused as a replay by the
//! other. Also: debug-level logs of PostgreSQL nodes (sqlx's statement log
//! included) hold no mailbox id, payload, address or database URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod pg_server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{random_key, relay_process};
use futures_util::{SinkExt as _, StreamExt as _};
use rustls::ClientConfig;
use safespaces_relay::test_support::client::proof_headers;
use safespaces_relay::test_support::client::{
    TestRelayClient, connect_ws, pinned_config, subscribe_frame,
};
use safespaces_relay::test_support::relay_process::{RelayProcess, Stderr};
use safespaces_wire::auth::sign_now;
use safespaces_wire::mailbox::{Appended, ReadPage};
use safespaces_wire::subscription::ServerFrame;
use safespaces_wire::{ErrorBody, ErrorCode, MailboxId, Operation};
use tokio_tungstenite::tungstenite::Message;

fn spawn_node(dir: &Path, url: &str) -> RelayProcess {
    relay_process(dir).args(["--database-url", url]).start()
}

/// Two nodes on a fresh database, started one after the other so the second
/// reuses the first one's development certificate.
fn two_nodes(dir: &Path, url: &str) -> (RelayProcess, RelayProcess, Arc<ClientConfig>) {
    let a = spawn_node(dir, url);
    let b = spawn_node(dir, url);
    assert_eq!(a.pin(), b.pin());
    let tls = pinned_config(a.pin()).unwrap();
    (a, b, tls)
}

type Log = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// Subscribes to `mailbox` on the first address, records every blob, and on
/// losing the socket resubscribes on the next address from the last
/// sequence number received. Asserts that sequence numbers arrive without
/// gaps or repeats (nothing is compacted in these tests).
async fn subscriber(
    addrs: Vec<SocketAddr>,
    tls: Arc<ClientConfig>,
    key: ed25519_dalek::SigningKey,
    mailbox: MailboxId,
    log: Log,
) {
    for addr in addrs {
        let Ok(mut ws) = connect_ws(addr, tls.clone()).await else {
            continue;
        };
        let after = log.lock().unwrap().last().map_or(0, |b| b.0);
        if ws
            .send(Message::text(subscribe_frame(&key, &mailbox, after)))
            .await
            .is_err()
        {
            continue;
        }
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            match serde_json::from_str::<ServerFrame>(t.as_str()).unwrap() {
                ServerFrame::Blob { seq, data, .. } => {
                    let mut log = log.lock().unwrap();
                    let expected = log.last().map_or(1, |b| b.0 + 1);
                    assert_eq!(seq, expected, "a gap or a repeat in the live stream");
                    log.push((seq, data));
                }
                ServerFrame::Subscribed { .. } => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn read_all(
    c: &mut TestRelayClient,
    key: &ed25519_dalek::SigningKey,
    m: &MailboxId,
) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = c.read(key, m, after, Some(500)).await.unwrap();
        assert_eq!(r.status, 200);
        let page: ReadPage = r.json().unwrap();
        for b in &page.blobs {
            out.push((b.seq, b.data.clone()));
            after = b.seq;
        }
        if !page.more {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_two_nodes_converge_live() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, tls) = two_nodes(dir.path(), &url);
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let mut ca = TestRelayClient::connect(a.addr(), tls.clone())
        .await
        .unwrap();
    let mut cb = TestRelayClient::connect(b.addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(ca.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    // The other node knows the mailbox at once (same database).
    assert_eq!(cb.create_mailbox(&key, &mailbox).await.unwrap().status, 200);

    let logs: Vec<Log> = vec![Log::default(), Log::default()];
    let mut subs = Vec::new();
    for (addr, log) in [a.addr(), b.addr()].into_iter().zip(&logs) {
        subs.push(tokio::spawn(subscriber(
            vec![addr],
            tls.clone(),
            key.clone(),
            mailbox,
            log.clone(),
        )));
    }
    // Let both subscriptions register before appending (not required for
    // correctness, the backlog covers it, but then the blobs arrive live).
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Two writers, one per node, appending concurrently.
    let mut writers = Vec::new();
    for (node, mut c) in [("a", ca), ("b", cb)] {
        let key = key.clone();
        writers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                let r = c
                    .append(&key, &mailbox, format!("{node}-{i}").into_bytes())
                    .await
                    .unwrap();
                assert_eq!(r.status, 200);
                seqs.push(r.json::<Appended>().unwrap().seq);
            }
            (c, seqs)
        }));
    }
    let mut all = Vec::new();
    let mut clients = Vec::new();
    for w in writers {
        let (c, seqs) = w.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        all.extend(seqs);
        clients.push(c);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=50).collect::<Vec<u64>>());

    // Both subscribers, one per node, see all 50 blobs, in order, once each.
    let stored = read_all(&mut clients[0], &key, &mailbox).await;
    assert_eq!(stored.len(), 50);
    for log in &logs {
        wait_until("both subscribers received every blob", || {
            log.lock().unwrap().len() == 50
        })
        .await;
        assert_eq!(*log.lock().unwrap(), stored);
    }
    for s in subs {
        s.abort();
    }
    for p in [&mut a, &mut b] {
        p.kill();
    }
}

type Acked = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// Appends through each address in turn, moving to the next when a node
/// goes away, until `count` blobs were acknowledged.
async fn writer(
    addrs: Vec<SocketAddr>,
    tls: Arc<ClientConfig>,
    key: ed25519_dalek::SigningKey,
    mailbox: MailboxId,
    tag: String,
    count: u64,
    acked: Acked,
) {
    let mut i = 0;
    for addr in addrs {
        let Ok(mut c) = TestRelayClient::connect(addr, tls.clone()).await else {
            continue;
        };
        while i < count {
            let blob = format!("{tag}-{i}").into_bytes();
            match c.append(&key, &mailbox, blob.clone()).await {
                Ok(r) if r.status == 200 => {
                    let seq = r.json::<Appended>().unwrap().seq;
                    acked.lock().unwrap().push((seq, blob));
                    i += 1;
                }
                // Not acknowledged: the node died mid-request. Retrying the
                // same content elsewhere may store it twice, which is what a
                // real client does too; only acknowledged blobs are checked.
                _ => break,
            }
        }
    }
    assert_eq!(i, count, "{tag} could not finish on any node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_no_acknowledged_blob_and_its_clients_move_over() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, tls) = two_nodes(dir.path(), &url);
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let mut c = TestRelayClient::connect(b.addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);

    // A subscriber on node A that falls back to node B.
    let seen = Log::default();
    let sub = tokio::spawn(subscriber(
        vec![a.addr(), b.addr()],
        tls.clone(),
        key.clone(),
        mailbox,
        seen.clone(),
    ));
    // Writers: two start on A (and move to B when A dies), two stay on B.
    let acked: Acked = Acked::default();
    let mut writers = Vec::new();
    for (w, addrs) in [
        vec![a.addr(), b.addr()],
        vec![a.addr(), b.addr()],
        vec![b.addr()],
        vec![b.addr()],
    ]
    .into_iter()
    .enumerate()
    {
        writers.push(tokio::spawn(writer(
            addrs,
            tls.clone(),
            key.clone(),
            mailbox,
            format!("w{w}"),
            400,
            acked.clone(),
        )));
    }
    // Kill A while everyone is busy.
    wait_until("some appends through both nodes", || {
        acked.lock().unwrap().len() > 150
    })
    .await;
    a.kill(); // SIGKILL
    let at_kill = acked.lock().unwrap().len();
    for w in writers {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .unwrap()
            .unwrap();
    }

    let stored = read_all(&mut c, &key, &mailbox).await;
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 1600);
    assert!(
        at_kill < 1600,
        "the kill happened after the writers were done"
    );
    // No gaps, and every acknowledged blob under the number it was given.
    let seqs: Vec<u64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>());
    for (seq, blob) in &acked {
        assert_eq!(
            &stored[(*seq - 1) as usize],
            &(*seq, blob.clone()),
            "acknowledged blob lost"
        );
    }
    // The subscriber that was on A resumed on B and has exactly the log.
    wait_until("the moved subscriber caught up", || {
        seen.lock().unwrap().len() == stored.len()
    })
    .await;
    assert_eq!(*seen.lock().unwrap(), stored);
    eprintln!(
        "{} acknowledged ({at_kill} before the SIGKILL), {} stored",
        acked.len(),
        stored.len()
    );
    sub.abort();
    b.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_of_postgres_nodes_hold_no_ids_payloads_or_the_url() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    // Debug-level logs of the relay and every library it uses (sqlx included).
    let log_path = |n: u8| dir.path().join(format!("node{n}.log"));
    let spawn_logging = |n: u8| {
        relay_process(dir.path())
            .args(["--database-url", &url])
            .log("debug", Stderr::File(log_path(n)))
            .start()
    };
    let mut a = spawn_logging(1);
    let mut b = spawn_logging(2);
    let tls = pinned_config(a.pin()).unwrap();
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let mut ca = TestRelayClient::connect(a.addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(ca.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    let seen = Log::default();
    let sub = tokio::spawn(subscriber(
        vec![b.addr()],
        tls.clone(),
        key.clone(),
        mailbox,
        seen.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        let r = ca
            .append(&key, &mailbox, format!("secret-payload-{i}").into_bytes())
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    wait_until("node B delivered", || seen.lock().unwrap().len() == 5).await;
    sub.abort();
    for p in [&mut a, &mut b] {
        p.kill();
    }
    for n in [1, 2] {
        let logs = std::fs::read_to_string(log_path(n)).unwrap();
        assert!(logs.contains("relay started"), "{logs}");
        // The database library's statement log is on at this level.
        assert!(logs.contains("sqlx::query"), "{logs}");
        for secret in [
            mailbox.to_hex(),
            "secret-payload".to_owned(),
            "127.0.0.1".to_owned(),
            url.clone(),
        ] {
            assert!(
                !logs.contains(&secret),
                "node {n} logged {secret:?}:\n{logs}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_replayed_to_the_other_node_is_refused() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, tls) = two_nodes(dir.path(), &url);
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let mut ca = TestRelayClient::connect(a.addr(), tls.clone())
        .await
        .unwrap();
    let mut cb = TestRelayClient::connect(b.addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(ca.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    let path = format!("/v1/mailboxes/{}/blobs", mailbox.to_hex());
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &mailbox,
        b"once",
    );
    let r = ca
        .send(hyper::Method::POST, &path, &proof_headers(&proof), "once")
        .await
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"seq":1}"#[..]));
    for c in [&mut cb, &mut ca] {
        let r = c
            .send(hyper::Method::POST, &path, &proof_headers(&proof), "once")
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json::<ErrorBody>().unwrap().code,
            ErrorCode::ReplayedNonce
        );
    }
    // Nothing was stored by the replays.
    assert_eq!(read_all(&mut cb, &key, &mailbox).await.len(), 1);
    for p in [&mut a, &mut b] {
        p.kill();
    }
}
