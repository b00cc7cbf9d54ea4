//! Crash durability of the real binary: clients append continuously while
//! the relay process is killed with SIGKILL and restarted, repeatedly. Every
//! blob the relay acknowledged must be there afterwards, in order, and the
//! stored sequence numbers must have no gaps. Also: SIGTERM shuts down
//! gracefully, and the development certificate (and so its pin) is reused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{random_key, relay_process};
use safespaces_relay::test_support::client::{TestRelayClient, pinned_config};
use safespaces_relay::test_support::relay_process::{RelayProcess, Stderr};
use safespaces_wire::mailbox::ReadPage;

fn spawn_relay(dir: &Path) -> RelayProcess {
    relay_process(dir).start()
}

type Acked = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// Appends until the relay goes away; records every acknowledged (seq, blob).
async fn append_until_gone(
    mut c: TestRelayClient,
    key: ed25519_dalek::SigningKey,
    mailbox: safespaces_wire::MailboxId,
    tag: String,
    acked: Acked,
) {
    for i in 0u64.. {
        let blob = format!("{tag}-{i}").into_bytes();
        match c.append(&key, &mailbox, blob.clone()).await {
            Ok(r) if r.status == 200 => {
                let seq = r.json::<safespaces_wire::mailbox::Appended>().unwrap().seq;
                acked.lock().unwrap().push((seq, blob));
            }
            _ => return,
        }
    }
}

async fn read_all(
    c: &mut TestRelayClient,
    key: &ed25519_dalek::SigningKey,
    m: &safespaces_wire::MailboxId,
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
async fn acknowledged_appends_survive_repeated_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let acked: Acked = Arc::default();
    let mut pin = None;
    for round in 0..5 {
        let mut p = spawn_relay(dir.path());
        // Same certificate across restarts: clients keep their pin.
        assert_eq!(pin.get_or_insert_with(|| p.pin().to_owned()), p.pin());
        let tls = pinned_config(p.pin()).unwrap();
        if round == 0 {
            let mut c = TestRelayClient::connect(p.addr(), tls.clone())
                .await
                .unwrap();
            assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
        }
        let mut writers = Vec::new();
        for w in 0..4 {
            let c = TestRelayClient::connect(p.addr(), tls.clone())
                .await
                .unwrap();
            writers.push(tokio::spawn(append_until_gone(
                c,
                key.clone(),
                mailbox,
                format!("r{round}w{w}"),
                acked.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(300 + 70 * round)).await;
        p.kill(); // SIGKILL
        for w in writers {
            tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .unwrap()
                .unwrap();
        }
    }

    let mut p = spawn_relay(dir.path());
    let mut c = TestRelayClient::connect(p.addr(), pinned_config(p.pin()).unwrap())
        .await
        .unwrap();
    let stored = read_all(&mut c, &key, &mailbox).await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the test appended too little to mean anything: {}",
        acked.len()
    );
    // No gaps: stored sequence numbers are exactly 1..=n.
    let seqs: Vec<u64> = stored.iter().map(|s| s.0).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>());
    // Every acknowledged blob is there, under the sequence number it was given.
    for (seq, blob) in &acked {
        let got = &stored[(*seq - 1) as usize];
        assert_eq!(
            (&got.0, &got.1),
            (seq, blob),
            "acknowledged blob lost or changed"
        );
    }
    // Each writer's blobs are stored in the order it appended them.
    for round in 0..5 {
        for w in 0..4 {
            let tag = format!("r{round}w{w}-");
            let mine: Vec<u64> = stored
                .iter()
                .filter_map(|(_, b)| {
                    std::str::from_utf8(b)
                        .ok()?
                        .strip_prefix(&tag)?
                        .parse()
                        .ok()
                })
                .collect();
            assert_eq!(mine, (0..mine.len() as u64).collect::<Vec<_>>());
        }
    }
    eprintln!(
        "{} acknowledged, {} stored across 5 SIGKILLs",
        acked.len(),
        stored.len()
    );
    p.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_appends_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let key = random_key();
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    let acked: Acked = Arc::default();
    // Debug-level logs of the relay and every library it uses go to a file,
    // checked below for ids, payloads and addresses.
    let log_path = dir.path().join("stderr.log");
    let mut p = relay_process(dir.path())
        .log("debug", Stderr::File(log_path.clone()))
        .start();
    let tls = pinned_config(p.pin()).unwrap();
    let mut c = TestRelayClient::connect(p.addr(), tls.clone())
        .await
        .unwrap();
    assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    let mut writers = Vec::new();
    for w in 0..4 {
        let c = TestRelayClient::connect(p.addr(), tls.clone())
            .await
            .unwrap();
        writers.push(tokio::spawn(append_until_gone(
            c,
            key.clone(),
            mailbox,
            format!("w{w}"),
            acked.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.signal("TERM");
    let exit = tokio::task::spawn_blocking(move || p.wait()).await.unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    for w in writers {
        tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .unwrap()
            .unwrap();
    }
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("relay stopped"), "{logs}");
    for secret in [mailbox.to_hex(), "w0-1".to_owned(), "127.0.0.1".to_owned()] {
        assert!(
            !logs.contains(&secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }
    let mut p = spawn_relay(dir.path());
    let mut c = TestRelayClient::connect(p.addr(), pinned_config(p.pin()).unwrap())
        .await
        .unwrap();
    let stored = read_all(&mut c, &key, &mailbox).await;
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    for (seq, blob) in &acked {
        assert_eq!(&stored[(*seq - 1) as usize], &(*seq, blob.clone()));
    }
    p.kill();
}
