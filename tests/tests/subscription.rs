//! The live subscription against the real relay binary: blobs from another
//! client arrive in order, refusals and deletions are reported per mailbox,
//! and killing and restarting the relay mid-subscription loses and repeats
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{bounded, client, new_mailbox, start_relay};
use safespaces_core::relay::{
    ErrorCode, MailboxId, RelayError, StatusWatch, Subscription, SubscriptionEvent, SyncStatus,
};

/// Takes events until `n` blobs have arrived; returns everything seen.
async fn take_blobs(sub: &mut Subscription, n: usize) -> Vec<SubscriptionEvent> {
    let mut events = Vec::new();
    let mut blobs = 0;
    while blobs < n {
        let event = sub.next().await.expect("the subscription runs");
        if matches!(event, SubscriptionEvent::Blob { .. }) {
            blobs += 1;
        }
        events.push(event);
    }
    events
}

fn blobs_of(events: &[SubscriptionEvent], mailbox: MailboxId) -> Vec<(u64, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match e {
            SubscriptionEvent::Blob {
                mailbox: m,
                seq,
                data,
            } if *m == mailbox => Some((*seq, data.clone())),
            _ => None,
        })
        .collect()
}

async fn wait_for(status: &mut StatusWatch, want: impl Fn(&SyncStatus) -> bool) {
    while !want(&status.get()) {
        status.changed().await.expect("the client lives");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_blobs_from_another_client_arrive_in_order_per_mailbox() {
    let relay = start_relay();
    let reader = client(&relay.process);
    let writer = client(&relay.process);
    bounded(async {
        let (m1, m2) = (new_mailbox(), new_mailbox());
        writer.create_mailbox(&m1).await.unwrap();
        writer.create_mailbox(&m2).await.unwrap();
        // A backlog the reader partly has already (seq 1).
        for i in 1..=3u8 {
            writer.append(&m1, vec![b'a', i]).await.unwrap();
        }

        let mut sub = reader.subscribe();
        sub.add(m1.clone(), 1);
        sub.add(m2.clone(), 0);
        let missing = new_mailbox();
        sub.add(missing.clone(), 0);
        let mut status = reader.status();

        for i in 4..=20u8 {
            writer.append(&m1, vec![b'a', i]).await.unwrap();
            writer.append(&m2, vec![b'b', i]).await.unwrap();
        }
        let events = take_blobs(&mut sub, 19 + 17).await;

        let expected_m1: Vec<(u64, Vec<u8>)> =
            (2..=20u8).map(|i| (u64::from(i), vec![b'a', i])).collect();
        let expected_m2: Vec<(u64, Vec<u8>)> = (4..=20u8)
            .map(|i| (u64::from(i) - 3, vec![b'b', i]))
            .collect();
        assert_eq!(blobs_of(&events, m1.id()), expected_m1);
        assert_eq!(blobs_of(&events, m2.id()), expected_m2);

        // The unknown mailbox is refused on its own; the others carry on.
        let refused = events.iter().find_map(|e| match e {
            SubscriptionEvent::Refused { mailbox, error } => Some((*mailbox, error.clone())),
            _ => None,
        });
        let (mailbox, error) = refused.expect("the missing mailbox was refused");
        assert_eq!(mailbox, missing.id());
        assert_eq!(error.code(), Some(ErrorCode::BadSignature));

        wait_for(&mut status, |s| *s == SyncStatus::UpToDate).await;

        // Deleting a mailbox ends its subscription.
        writer.delete_mailbox(&m2).await.unwrap();
        assert_eq!(
            sub.next().await,
            Some(SubscriptionEvent::Ended { mailbox: m2.id() })
        );
        // Removing one stops its blobs without touching the others.
        let m3 = new_mailbox();
        writer.create_mailbox(&m3).await.unwrap();
        sub.add(m3.clone(), 0);
        sub.remove(m1.id());
        writer.append(&m1, b"unwatched".to_vec()).await.unwrap();
        writer.append(&m3, b"watched".to_vec()).await.unwrap();
        let next = sub.next().await.unwrap();
        assert_eq!(
            next,
            SubscriptionEvent::Blob {
                mailbox: m3.id(),
                seq: 1,
                data: b"watched".to_vec()
            }
        );

        // Dropping the handle stops the subscription.
        drop(sub);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(status.get(), SyncStatus::UpToDate);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_below_the_compaction_mark_is_told_to_use_the_snapshot() {
    let relay = start_relay();
    let c = client(&relay.process);
    bounded(async {
        let mb = new_mailbox();
        c.create_mailbox(&mb).await.unwrap();
        for i in 1..=3u8 {
            c.append(&mb, vec![i]).await.unwrap();
        }
        let snapshot = c.append(&mb, b"snapshot".to_vec()).await.unwrap();
        c.compact(&mb, snapshot, 3).await.unwrap();

        let mut sub = c.subscribe();
        sub.add(mb.clone(), 1);
        assert_eq!(
            sub.next().await,
            Some(SubscriptionEvent::Compacted {
                mailbox: mb.id(),
                compacted_through: 3
            })
        );
        assert_eq!(
            sub.next().await,
            Some(SubscriptionEvent::Blob {
                mailbox: mb.id(),
                seq: 4,
                data: b"snapshot".to_vec()
            })
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_and_restarting_the_relay_mid_subscription_loses_and_repeats_nothing() {
    let mut relay = start_relay();
    let reader = client(&relay.process);
    let writer = client(&relay.process);
    let (m1, m2) = (new_mailbox(), new_mailbox());
    bounded(async {
        writer.create_mailbox(&m1).await.unwrap();
        writer.create_mailbox(&m2).await.unwrap();
    })
    .await;
    let mut sub = reader.subscribe();
    sub.add(m1.clone(), 0);
    sub.add(m2.clone(), 0);
    let mut status = reader.status();

    // The writer keeps appending through the outage, retrying each blob
    // until the relay acknowledges it.
    let writing = {
        let (writer, m1, m2) = (writer.clone(), m1.clone(), m2.clone());
        tokio::spawn(async move {
            for i in 0..60u32 {
                let mailbox = if i % 2 == 0 { &m1 } else { &m2 };
                let blob = format!("blob {i}").into_bytes();
                loop {
                    match writer.append(mailbox, blob.clone()).await {
                        Ok(_) => break,
                        Err(RelayError::Offline { .. }) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("unexpected failure: {e}"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let mut events = bounded(take_blobs(&mut sub, 10)).await;
    relay.process.kill();
    bounded(wait_for(&mut status, |s| {
        matches!(s, SyncStatus::Offline { .. })
    }))
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.process.restart();
    bounded(writing).await.unwrap();

    // Everything stored must arrive exactly once, in order, including what
    // was appended while the reader was disconnected.
    let stored: HashMap<MailboxId, Vec<(u64, Vec<u8>)>> = bounded(async {
        let mut stored = HashMap::new();
        for m in [&m1, &m2] {
            let page = writer.read_all(m, 0).await.unwrap();
            let blobs = page.blobs.into_iter().map(|b| (b.seq, b.data)).collect();
            stored.insert(m.id(), blobs);
        }
        stored
    })
    .await;
    let total: usize = stored.values().map(Vec::len).sum();
    assert!(total >= 60, "every blob was acknowledged: {total}");
    let already = events
        .iter()
        .filter(|e| matches!(e, SubscriptionEvent::Blob { .. }))
        .count();
    events.extend(bounded(take_blobs(&mut sub, total - already)).await);
    for m in [&m1, &m2] {
        assert_eq!(blobs_of(&events, m.id()), stored[&m.id()]);
    }
    assert!(
        events
            .iter()
            .all(|e| matches!(e, SubscriptionEvent::Blob { .. })),
        "no refusals or compaction notices: {events:?}"
    );
    bounded(wait_for(&mut status, |s| *s == SyncStatus::UpToDate)).await;
    // Nothing more is queued: no duplicates trail behind.
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(extra.is_err(), "unexpected extra event: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_and_re_adding_a_mailbox_restarts_it_from_the_new_cursor() {
    let relay = start_relay();
    let c = client(&relay.process);
    bounded(async {
        let mb = new_mailbox();
        c.create_mailbox(&mb).await.unwrap();
        for i in 1..=3u8 {
            c.append(&mb, vec![i]).await.unwrap();
        }
        let mut sub = c.subscribe();
        sub.add(mb.clone(), 0);
        let first = take_blobs(&mut sub, 3).await;
        assert_eq!(blobs_of(&first, mb.id()).len(), 3);

        // The relay's answer to the unsubscribe arrives after the re-add:
        // it must not be taken for a deletion.
        sub.remove(mb.id());
        sub.add(mb.clone(), 1);
        c.append(&mb, vec![4]).await.unwrap();
        let again = take_blobs(&mut sub, 3).await;
        assert_eq!(
            blobs_of(&again, mb.id()),
            [(2, vec![2]), (3, vec![3]), (4, vec![4])]
        );
        assert_eq!(again.len(), 3, "only blobs: {again:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_network_cut_is_noticed_and_the_subscription_resumes_after_it() {
    use safespaces_core::relay::{RelayConfig, RelayTransport};
    use safespaces_e2e::CuttableProxy;

    let relay = start_relay();
    let writer = client(&relay.process);
    bounded(async {
        let proxy = CuttableProxy::start(relay.process.addr()).await.unwrap();
        // The reader reaches the relay only through the proxy, with quick
        // pings and timeouts so a silent path is noticed within a second.
        let url = format!("https://{}", proxy.addr());
        let reader = RelayTransport::new(
            RelayConfig::pinned(&url, relay.process.pin())
                .unwrap()
                .with_retry(common::quick_retry())
                .with_ping_interval(Duration::from_millis(200))
                .with_timeouts(Duration::from_millis(500), Duration::from_millis(800)),
        )
        .unwrap();
        let mb = new_mailbox();
        writer.create_mailbox(&mb).await.unwrap();
        writer.append(&mb, b"before".to_vec()).await.unwrap();
        let mut sub = reader.subscribe();
        sub.add(mb.clone(), 0);
        let mut status = reader.status();
        assert_eq!(take_blobs(&mut sub, 1).await.len(), 1);

        // A keep-alive connection for the next request.
        reader.health().await.unwrap();

        proxy.cut();
        // The request goes out on the pooled connection and no answer comes
        // back; the retries cannot even connect. The client says the outcome
        // is unknown: the stalled bytes may still reach the relay.
        let err = reader.append(&mb, b"lost?".to_vec()).await.unwrap_err();
        assert!(matches!(err, RelayError::Offline { .. }), "{err:?}");
        assert!(err.outcome_unknown(), "{err}");
        wait_for(&mut status, |s| matches!(s, SyncStatus::Offline { .. })).await;
        for i in 0..5u8 {
            writer.append(&mb, vec![i]).await.unwrap();
        }
        proxy.restore();

        // Everything the relay holds arrives once, in order. (If the stalled
        // append lands after this read, it only adds a later event.)
        let stored = writer.read_all(&mb, 0).await.unwrap();
        let mut events = take_blobs(&mut sub, stored.blobs.len() - 1).await;
        events.insert(
            0,
            SubscriptionEvent::Blob {
                mailbox: mb.id(),
                seq: 1,
                data: b"before".to_vec(),
            },
        );
        let expected: Vec<(u64, Vec<u8>)> =
            stored.blobs.into_iter().map(|b| (b.seq, b.data)).collect();
        assert_eq!(blobs_of(&events, mb.id()), expected);
        wait_for(&mut status, |s| *s == SyncStatus::UpToDate).await;
    })
    .await;
}
