//! The WebSocket subscription protocol against a real relay over real TLS:
//! backlog then live, resume without gaps or duplicates, many mailboxes per
//! connection, and every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestRelay, new_mailbox, random_key, random_mailbox};
use futures_util::{SinkExt as _, StreamExt as _};
use safespaces_relay::test_support::client::{Subscription, connect_ws, subscribe_frame};
use safespaces_wire::auth::{sign, subscribe_body};
use safespaces_wire::subscription::{ClientFrame, ServerFrame};
use safespaces_wire::{ErrorCode, MailboxId, Operation};
use tokio_tungstenite::tungstenite::Message;

async fn send(ws: &mut Subscription, text: String) {
    ws.send(Message::text(text)).await.unwrap();
}

async fn next(ws: &mut Subscription) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn next_text(ws: &mut Subscription) -> String {
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

fn blob(mailbox: MailboxId, seq: u64, data: &[u8]) -> ServerFrame {
    ServerFrame::Blob {
        mailbox,
        seq,
        data: data.to_vec(),
    }
}

fn assert_error(frame: ServerFrame, mailbox: Option<MailboxId>, code: ErrorCode) {
    match frame {
        ServerFrame::Error {
            mailbox: m,
            code: c,
            message,
        } => {
            assert_eq!((m, c), (mailbox, code), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn backlog_then_live_then_resume_without_gaps_or_duplicates() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    for b in ["a", "b", "c"] {
        c.append(&key, &id, b).await.unwrap();
    }
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    send(&mut ws, subscribe_frame(&key, &id, 1)).await;
    // Exact wire form of the first frames.
    assert_eq!(
        next_text(&mut ws).await,
        format!(
            r#"{{"type":"subscribed","mailbox":"{}","last_seq":3,"compacted_through":0}}"#,
            id.to_hex()
        )
    );
    assert_eq!(
        next_text(&mut ws).await,
        format!(
            r#"{{"type":"blob","mailbox":"{}","seq":2,"data":"Yg=="}}"#,
            id.to_hex()
        )
    );
    assert_eq!(next(&mut ws).await, blob(id, 3, b"c"));
    c.append(&key, &id, "d").await.unwrap();
    assert_eq!(next(&mut ws).await, blob(id, 4, b"d"));
    drop(ws);

    // Offline for a while, then resume from the last seq received.
    c.append(&key, &id, "e").await.unwrap();
    c.append(&key, &id, "f").await.unwrap();
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    send(&mut ws, subscribe_frame(&key, &id, 4)).await;
    assert_eq!(
        next(&mut ws).await,
        ServerFrame::Subscribed {
            mailbox: id,
            last_seq: 6,
            compacted_through: 0
        }
    );
    assert_eq!(next(&mut ws).await, blob(id, 5, b"e"));
    assert_eq!(next(&mut ws).await, blob(id, 6, b"f"));
    send(&mut ws, r#"{"type":"ping"}"#.to_owned()).await;
    assert_eq!(next(&mut ws).await, ServerFrame::Pong);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn many_mailboxes_on_one_connection_and_unsubscribe() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (k1, m1) = new_mailbox(&mut c).await;
    let (k2, m2) = new_mailbox(&mut c).await;
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    send(&mut ws, subscribe_frame(&k1, &m1, 0)).await;
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Subscribed { .. }
    ));
    send(&mut ws, subscribe_frame(&k2, &m2, 0)).await;
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Subscribed { .. }
    ));
    c.append(&k1, &m1, "one").await.unwrap();
    assert_eq!(next(&mut ws).await, blob(m1, 1, b"one"));
    c.append(&k2, &m2, "two").await.unwrap();
    assert_eq!(next(&mut ws).await, blob(m2, 1, b"two"));

    let unsub = serde_json::to_string(&ClientFrame::Unsubscribe { mailbox: m1 }).unwrap();
    send(&mut ws, unsub).await;
    assert_eq!(
        next(&mut ws).await,
        ServerFrame::Unsubscribed { mailbox: m1 }
    );
    c.append(&k1, &m1, "unseen").await.unwrap();
    c.append(&k2, &m2, "seen").await.unwrap();
    assert_eq!(next(&mut ws).await, blob(m2, 2, b"seen"));

    // Deleting a mailbox ends its subscription.
    let path = format!("/v1/mailboxes/{}", m2.to_hex());
    let r = c
        .signed(
            hyper::Method::DELETE,
            &path,
            &safespaces_relay::test_support::client::admin_key_for(&k2),
            Operation::Delete,
            &m2,
            "",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        next(&mut ws).await,
        ServerFrame::Unsubscribed { mailbox: m2 }
    );
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn subscription_refusals() {
    let t = TestRelay::start_with(|c| {
        c.max_subscriptions_per_conn = 1;
        c.max_ws_frame_bytes = 1024;
    })
    .await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let (k2, m2) = new_mailbox(&mut c).await;
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();

    // Wrong key.
    send(&mut ws, subscribe_frame(&random_key(), &id, 0)).await;
    assert_error(next(&mut ws).await, Some(id), ErrorCode::BadSignature);
    // Signed over another cursor than the one sent.
    let proof = sign(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Subscribe,
        &id,
        &subscribe_body(5),
        now(),
        [3; 16],
    );
    let forged = ClientFrame::Subscribe {
        mailbox: id,
        after: 0,
        timestamp: proof.timestamp,
        nonce: proof.nonce_hex(),
        signature: proof.signature_hex(),
    };
    send(&mut ws, serde_json::to_string(&forged).unwrap()).await;
    assert_error(next(&mut ws).await, Some(id), ErrorCode::BadSignature);
    // Expired.
    let proof = sign(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Subscribe,
        &id,
        &subscribe_body(0),
        now() - 400,
        [4; 16],
    );
    let stale = ClientFrame::Subscribe {
        mailbox: id,
        after: 0,
        timestamp: proof.timestamp,
        nonce: proof.nonce_hex(),
        signature: proof.signature_hex(),
    };
    send(&mut ws, serde_json::to_string(&stale).unwrap()).await;
    assert_error(next(&mut ws).await, Some(id), ErrorCode::StaleTimestamp);
    // Unknown mailbox: refused like a wrong key.
    let ghost = random_mailbox();
    send(&mut ws, subscribe_frame(&key, &ghost, 0)).await;
    assert_error(next(&mut ws).await, Some(ghost), ErrorCode::BadSignature);
    // Malformed and binary frames, oversized frames.
    send(&mut ws, r#"{"type":"subscribe"}"#.to_owned()).await;
    assert_error(next(&mut ws).await, None, ErrorCode::MalformedRequest);
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_error(next(&mut ws).await, None, ErrorCode::MalformedRequest);
    send(
        &mut ws,
        format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2000)),
    )
    .await;
    assert_error(next(&mut ws).await, None, ErrorCode::PayloadTooLarge);

    // A good one; then its replay; then a second mailbox over the limit.
    let good = subscribe_frame(&key, &id, 0);
    send(&mut ws, good.clone()).await;
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Subscribed { .. }
    ));
    send(&mut ws, good).await;
    assert_error(next(&mut ws).await, Some(id), ErrorCode::ReplayedNonce);
    send(&mut ws, subscribe_frame(&k2, &m2, 0)).await;
    assert_error(
        next(&mut ws).await,
        Some(m2),
        ErrorCode::TooManySubscriptions,
    );

    // None of the refused subscriptions receive anything; the good one does.
    c.append(&k2, &m2, "not for you").await.unwrap();
    c.append(&key, &id, "yours").await.unwrap();
    assert_eq!(next(&mut ws).await, blob(id, 1, b"yours"));
    t.relay.shutdown().await.unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let t = TestRelay::start_with(|c| c.idle_timeout_secs = 1).await;
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    let start = std::time::Instant::now();
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match msg {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.reason.as_str(), "idle_timeout"),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(900));
    t.relay.shutdown().await.unwrap();
}

/// Appends race the subscription and the subscriber does not read for a
/// while (its queue overflows): it still gets every seq exactly once, in order.
#[tokio::test]
async fn concurrent_appends_and_a_slow_reader_lose_nothing() {
    let t = TestRelay::start_with(|c| c.max_page_blobs = 50).await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    for i in 0..20u32 {
        c.append(&key, &id, i.to_string()).await.unwrap();
    }
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let mut wc = t.client().await;
        let key = key.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..100u32 {
                let r = wc.append(&key, &id, format!("{w}-{i}")).await.unwrap();
                assert_eq!(r.status, 200);
            }
        }));
    }
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    send(&mut ws, subscribe_frame(&key, &id, 0)).await;
    // Do not read until every writer is done: the live queue overflows.
    for w in writers {
        w.await.unwrap();
    }
    let mut expected = 1u64;
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Subscribed { .. }
    ));
    while expected <= 420 {
        match next(&mut ws).await {
            ServerFrame::Blob { seq, .. } => {
                assert_eq!(seq, expected, "gap or duplicate");
                expected += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Nothing more (no duplicates trailing behind).
    send(&mut ws, r#"{"type":"ping"}"#.to_owned()).await;
    assert_eq!(next(&mut ws).await, ServerFrame::Pong);
    t.relay.shutdown().await.unwrap();
}
