//! Every HTTP endpoint and every refusal, over real TLS against a real relay
//! on 127.0.0.1:0, checking exact responses and that refusals store nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestRelay, assert_refused, new_mailbox, random_key, random_mailbox};
use hyper::Method;
use safespaces_relay::Config;
use safespaces_relay::test_support::client::{TestRelayClient, get_plain, proof_headers};
use safespaces_wire::auth::{self, sign, sign_now};
use safespaces_wire::mailbox::ReadPage;
use safespaces_wire::{ErrorCode, MailboxId, Operation};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn blobs_path(id: &MailboxId) -> String {
    format!("/v1/mailboxes/{}/blobs", id.to_hex())
}

async fn last_seq(
    c: &mut TestRelayClient,
    key: &ed25519_dalek::SigningKey,
    id: &MailboxId,
) -> (u64, usize) {
    let r = c.read(key, id, 0, None).await.unwrap();
    assert_eq!(r.status, 200);
    let page: ReadPage = r.json().unwrap();
    (page.last_seq, page.blobs.len())
}

#[tokio::test]
async fn healthz_openapi_and_unknown_routes() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"status":"ok"}"#[..]));

    let r = c.send(Method::GET, "/openapi.json", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    let doc: serde_json::Value = r.json().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/mailboxes/{id}",
        "/v1/mailboxes/{id}/blobs",
        "/v1/mailboxes/{id}/read",
        "/v1/mailboxes/{id}/compact",
        "/v1/dropboxes/{id}",
        "/v1/dropboxes/{id}/claim",
        "/v1/subscribe",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "openapi.json lacks {path}"
        );
    }

    let r = c.send(Method::GET, "/nope", &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::NotFound);
    let r = c
        .send(Method::DELETE, "/v1/dropboxes/00", &[], "")
        .await
        .unwrap();
    assert_refused(&r, 405, ErrorCode::MethodNotAllowed);
    let r = c
        .send(Method::GET, "/v1/dropboxes/00/claim", &[], "")
        .await
        .unwrap();
    assert_refused(&r, 405, ErrorCode::MethodNotAllowed);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_append_read_round_trip_with_exact_replies() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let key = random_key();
    let id = safespaces_relay::test_support::client::mailbox_for(&key);

    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (201, &br#"{"created":true}"#[..]));
    // Idempotent with the same key.
    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"created":false}"#[..]));
    // Another key cannot take the id over: the id names its keys.
    let r = c.create_mailbox(&random_key(), &id).await.unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);

    let r = c.read(&key, &id, 0, None).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (
            200,
            &br#"{"blobs":[],"last_seq":0,"compacted_through":0,"more":false}"#[..]
        )
    );
    for (i, blob) in [&b"first"[..], b"second", b"third"].iter().enumerate() {
        let r = c.append(&key, &id, blob.to_vec()).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, format!("{{\"seq\":{}}}", i + 1));
    }
    let r = c.read(&key, &id, 1, Some(1)).await.unwrap();
    // base64("second") = "c2Vjb25k"
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"blobs":[{"seq":2,"data":"c2Vjb25k"}],"last_seq":3,"compacted_through":0,"more":true}"#
    );
    let r = c.read(&key, &id, 2, Some(10)).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"blobs":[{"seq":3,"data":"dGhpcmQ="}],"last_seq":3,"compacted_through":0,"more":false}"#
    );
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_refusals_store_nothing() {
    let t = TestRelay::start_with(|c| c.access_token = Some("s3cret".into())).await;
    let mut c = t.client().await;
    let key = random_key();
    let id = safespaces_relay::test_support::client::mailbox_for(&key);
    let admin = safespaces_relay::test_support::client::admin_key_for(&key);
    let body = serde_json::json!({
        "verifying_key": hex::encode(key.verifying_key().as_bytes()),
        "admin_key": hex::encode(admin.verifying_key().as_bytes()),
    })
    .to_string();
    let path = format!("/v1/mailboxes/{}", id.to_hex());

    // No access token.
    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_refused(&r, 403, ErrorCode::Forbidden);
    let token = ("authorization", "Bearer s3cret".to_owned());
    let wrong = ("authorization", "Bearer guess".to_owned());
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Create,
        &id,
        body.as_bytes(),
    );
    let mut h = proof_headers(&proof);
    h.push(wrong);
    let r = c.send(Method::POST, &path, &h, body.clone()).await.unwrap();
    assert_refused(&r, 403, ErrorCode::Forbidden);

    // Signed by someone else than the key being registered.
    let proof = sign_now(
        &random_key(),
        safespaces_relay::test_support::client::HOST,
        Operation::Create,
        &id,
        body.as_bytes(),
    );
    let mut h = proof_headers(&proof);
    h.push(token.clone());
    let r = c.send(Method::POST, &path, &h, body.clone()).await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);

    // Unsigned.
    let r = c
        .send(
            Method::POST,
            &path,
            std::slice::from_ref(&token),
            body.clone(),
        )
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::Unauthenticated);

    // Malformed bodies and ids.
    for bad in [
        "not json".to_owned(),
        r#"{"verifying_key":"abcd"}"#.to_owned(),
        r#"{"verifying_key":"00"}"#.to_owned(),
        format!(r#"{{"verifying_key":"{}","extra":1}}"#, "11".repeat(32)),
    ] {
        let proof = sign_now(
            &key,
            safespaces_relay::test_support::client::HOST,
            Operation::Create,
            &id,
            bad.as_bytes(),
        );
        let mut h = proof_headers(&proof);
        h.push(token.clone());
        let r = c.send(Method::POST, &path, &h, bad).await.unwrap();
        assert_refused(&r, 400, ErrorCode::MalformedRequest);
    }
    let r = c
        .send(
            Method::POST,
            "/v1/mailboxes/xyz",
            std::slice::from_ref(&token),
            body.clone(),
        )
        .await
        .unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);

    // Nothing was created by any of that (a read of an id the relay does
    // not hold is refused like a wrong key; the create below proves it).
    let r = c.read(&key, &id, 0, None).await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);

    // With the token and a proper signature it works.
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Create,
        &id,
        body.as_bytes(),
    );
    let mut h = proof_headers(&proof);
    h.push(token);
    let r = c.send(Method::POST, &path, &h, body).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (201, &br#"{"created":true}"#[..]));
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_refusals_store_nothing() {
    let t = TestRelay::start_with(|c| {
        c.max_blob_bytes = 1024;
        c.max_blobs_per_mailbox = 3;
        c.max_bytes_per_mailbox = 100;
    })
    .await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let path = blobs_path(&id);
    let r = c.append(&key, &id, vec![1u8; 40]).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"seq":1}"#[..]));

    // Unsigned.
    let r = c.send(Method::POST, &path, &[], "x").await.unwrap();
    assert_refused(&r, 401, ErrorCode::Unauthenticated);
    // Knowing the id but not the key.
    let r = c.append(&random_key(), &id, "x").await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // Signed for one body, sent with another.
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &id,
        b"signed body",
    );
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), "other body")
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // Signed for another operation.
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Read,
        &id,
        b"x",
    );
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), "x")
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // Expired and future timestamps.
    for ts in [now() - 301, now() + 301, 0] {
        let proof = sign(
            &key,
            safespaces_relay::test_support::client::HOST,
            Operation::Append,
            &id,
            b"x",
            ts,
            [7; 16],
        );
        let r = c
            .send(Method::POST, &path, &proof_headers(&proof), "x")
            .await
            .unwrap();
        assert_refused(&r, 401, ErrorCode::StaleTimestamp);
    }
    // Malformed proof headers.
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &id,
        b"x",
    );
    let mut h = proof_headers(&proof);
    h[1].1 = "zz".into();
    let r = c.send(Method::POST, &path, &h, "x").await.unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);
    let mut h = proof_headers(&proof);
    h[0].1 = "+12".into();
    let r = c.send(Method::POST, &path, &h, "x").await.unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);
    // Oversized body.
    let big = vec![0u8; 1025];
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &id,
        &big,
    );
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), big)
        .await
        .unwrap();
    assert_refused(&r, 413, ErrorCode::PayloadTooLarge);
    // Over the byte quota (40 stored + 61 > 100).
    let r = c.append(&key, &id, vec![2u8; 61]).await.unwrap();
    assert_refused(&r, 507, ErrorCode::QuotaBytesExceeded);
    // Unknown mailbox: refused exactly like a wrong key, so nobody learns
    // from the answer whether an id exists (see tests/outsider.rs).
    let other = random_mailbox();
    let r = c.append(&key, &other, "x").await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // Malformed id.
    let r = c
        .send(Method::POST, "/v1/mailboxes/1234/blobs", &[], "x")
        .await
        .unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);

    // Nothing of the above was stored.
    assert_eq!(last_seq(&mut c, &key, &id).await, (1, 1));

    // Replay: the exact same signed request twice.
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &id,
        b"once",
    );
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), "once")
        .await
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"seq":2}"#[..]));
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), "once")
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::ReplayedNonce);
    assert_eq!(last_seq(&mut c, &key, &id).await, (2, 2));

    // Blob-count quota: 3 allowed.
    let r = c.append(&key, &id, "three").await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"seq":3}"#[..]));
    let r = c.append(&key, &id, "four").await.unwrap();
    assert_refused(&r, 507, ErrorCode::QuotaBlobsExceeded);
    assert_eq!(last_seq(&mut c, &key, &id).await, (3, 3));
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn read_refusals() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let path = format!("/v1/mailboxes/{}/read", id.to_hex());
    let r = c
        .send(Method::POST, &path, &[], r#"{"after":0}"#)
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::Unauthenticated);
    let r = c.read(&random_key(), &id, 0, None).await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    for bad in [&b"{"[..], br#"{"after":-1}"#, br#"{"after":0,"x":1}"#] {
        let proof = sign_now(
            &key,
            safespaces_relay::test_support::client::HOST,
            Operation::Read,
            &id,
            bad,
        );
        let r = c
            .send(Method::POST, &path, &proof_headers(&proof), bad.to_vec())
            .await
            .unwrap();
        assert_refused(&r, 400, ErrorCode::MalformedRequest);
    }
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn compaction_deletes_the_covered_range() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let admin = safespaces_relay::test_support::client::admin_key_for(&key);
    for i in 1..=5u8 {
        c.append(&key, &id, vec![i]).await.unwrap();
    }
    let path = format!("/v1/mailboxes/{}/compact", id.to_hex());
    let compact = |snap: u64, through: u64| {
        serde_json::json!({ "snapshot_seq": snap, "through_seq": through }).to_string()
    };
    // Snapshot must come after the range, and exist.
    for (snap, through) in [(3, 3), (2, 4), (9, 4)] {
        let body = compact(snap, through);
        let r = c
            .signed(Method::POST, &path, &admin, Operation::Compact, &id, body)
            .await
            .unwrap();
        assert_refused(&r, 400, ErrorCode::BadCompaction);
    }
    let r = c
        .signed(
            Method::POST,
            &path,
            &random_key(),
            Operation::Compact,
            &id,
            compact(5, 3),
        )
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // The member key, which every member holds, cannot compact either.
    let r = c
        .signed(
            Method::POST,
            &path,
            &key,
            Operation::Compact,
            &id,
            compact(5, 3),
        )
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    assert_eq!(last_seq(&mut c, &key, &id).await, (5, 5));

    let r = c
        .signed(
            Method::POST,
            &path,
            &admin,
            Operation::Compact,
            &id,
            compact(5, 3),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, std::str::from_utf8(&r.body).unwrap()),
        (200, r#"{"deleted":3,"compacted_through":3}"#)
    );
    let r = c.read(&key, &id, 0, None).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"blobs":[{"seq":4,"data":"BA=="},{"seq":5,"data":"BQ=="}],"last_seq":5,"compacted_through":3,"more":false}"#
    );
    // Repeating is harmless.
    let r = c
        .signed(
            Method::POST,
            &path,
            &admin,
            Operation::Compact,
            &id,
            compact(5, 2),
        )
        .await
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"deleted":0,"compacted_through":3}"#
    );
    // Sequence numbers continue, never reused.
    let r = c.append(&key, &id, "6").await.unwrap();
    assert_eq!(&r.body[..], br#"{"seq":6}"#);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_needs_the_admin_key_and_leaves_a_tombstone() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let admin = safespaces_relay::test_support::client::admin_key_for(&key);
    c.append(&key, &id, "x").await.unwrap();
    let path = format!("/v1/mailboxes/{}", id.to_hex());
    let r = c.send(Method::DELETE, &path, &[], "").await.unwrap();
    assert_refused(&r, 401, ErrorCode::Unauthenticated);
    // Neither a stranger's key nor the member key (every member's, and a
    // removed member's) can delete it.
    for k in [random_key(), key.clone()] {
        let r = c
            .signed(Method::DELETE, &path, &k, Operation::Delete, &id, "")
            .await
            .unwrap();
        assert_refused(&r, 401, ErrorCode::BadSignature);
    }
    assert_eq!(last_seq(&mut c, &key, &id).await, (1, 1));

    let proof = sign_now(
        &admin,
        safespaces_relay::test_support::client::HOST,
        Operation::Delete,
        &id,
        b"",
    );
    let r = c
        .send(Method::DELETE, &path, &proof_headers(&proof), "")
        .await
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"deleted":true}"#[..]));
    // Gone: the relay holds no key for the id any more, so every request
    // for it is refused as for an id it never held.
    let r = c.read(&key, &id, 0, None).await.unwrap();
    assert_refused(&r, 410, ErrorCode::MailboxDeleted);
    let r = c.append(&key, &id, "y").await.unwrap();
    assert_refused(&r, 410, ErrorCode::MailboxDeleted);
    let r = c
        .signed(Method::DELETE, &path, &admin, Operation::Delete, &id, "")
        .await
        .unwrap();
    assert_refused(&r, 410, ErrorCode::MailboxDeleted);
    // The tombstone answers only a correct signature: to anyone else the
    // id looks as it did before.
    let r = c.read(&random_key(), &id, 0, None).await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // The id never comes back, so its sequence numbers never restart at 1.
    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_refused(&r, 410, ErrorCode::MailboxDeleted);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropbox_put_claim_once_and_refusals() {
    let t = TestRelay::start_with(|c| {
        c.max_dropbox_bytes = 16;
        c.dropbox_max_ttl_secs = 3600;
    })
    .await;
    let mut c = t.client().await;
    let id = hex::encode([0x42u8; 32]);
    let path = format!("/v1/dropboxes/{id}");
    let claim = format!("/v1/dropboxes/{id}/claim");

    for (query, body, status, code) in [
        (
            "?ttl_secs=3601",
            &b"invite"[..],
            400,
            ErrorCode::TtlOutOfRange,
        ),
        ("?ttl_secs=0", b"invite", 400, ErrorCode::TtlOutOfRange),
        ("?ttl=5", b"invite", 400, ErrorCode::MalformedRequest),
        ("?ttl_secs=-1", b"invite", 400, ErrorCode::MalformedRequest),
        ("", b"seventeen bytes!!", 413, ErrorCode::PayloadTooLarge),
        ("", b"", 400, ErrorCode::MalformedRequest),
    ] {
        let r = c
            .send(Method::PUT, &format!("{path}{query}"), &[], body.to_vec())
            .await
            .unwrap();
        assert_refused(&r, status, code);
    }
    let r = c.send(Method::POST, &claim, &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);

    let before = now();
    let r = c
        .send(Method::PUT, &format!("{path}?ttl_secs=600"), &[], "invite")
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let stored: safespaces_wire::dropbox::DropboxStored = r.json().unwrap();
    assert!((before + 600..=now() + 600).contains(&stored.expires_at));
    let r = c.send(Method::PUT, &path, &[], "again").await.unwrap();
    assert_refused(&r, 409, ErrorCode::DropboxExists);

    let r = c.send(Method::POST, &claim, &[], "").await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"invite"[..]));
    let r = c.send(Method::POST, &claim, &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    let r = c
        .send(Method::POST, "/v1/dropboxes/nothex/claim", &[], "")
        .await
        .unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropbox_expires() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let path = format!("/v1/dropboxes/{}", "ab".repeat(32));
    let r = c
        .send(Method::PUT, &format!("{path}?ttl_secs=1"), &[], "soon gone")
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // Expired counts as absent for the status query too (before the sweep).
    let r = c.send(Method::GET, &path, &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    let r = c
        .send(Method::POST, &format!("{path}/claim"), &[], "")
        .await
        .unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropbox_status_reads_without_claiming() {
    // The access token gates puts only: the status query, like claim, needs none.
    let t = TestRelay::start_with(|c| {
        c.access_token = Some("tok".into());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut c = t.client().await;
    let id = "5e".repeat(32);
    let path = format!("/v1/dropboxes/{id}");
    let claim = format!("{path}/claim");

    // Never put.
    let r = c.send(Method::GET, &path, &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    let r = c
        .send(
            Method::PUT,
            &format!("{path}?ttl_secs=600"),
            &[("authorization", "Bearer tok".into())],
            "invite",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let stored: safespaces_wire::dropbox::DropboxStored = r.json().unwrap();

    // Waiting, with the expiry the put answered; asking again still finds it.
    for _ in 0..2 {
        let r = c.send(Method::GET, &path, &[], "").await.unwrap();
        assert_eq!(
            (r.status, std::str::from_utf8(&r.body).unwrap()),
            (200, &*format!("{{\"expires_at\":{}}}", stored.expires_at))
        );
    }
    // Not consumed: the claim still gets the blob, and afterwards the status
    // answers exactly what the claim answers.
    let r = c.send(Method::POST, &claim, &[], "").await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"invite"[..]));
    let r = c.send(Method::GET, &path, &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    let claimed = r.body.clone();
    let r = c.send(Method::POST, &claim, &[], "").await.unwrap();
    assert_eq!(r.body, claimed, "status and claim refuse alike");

    let r = c
        .send(Method::GET, "/v1/dropboxes/nothex", &[], "")
        .await
        .unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);

    let text = t.metrics().await;
    for line in [
        "relay_dropboxes_checked_total 2",
        "relay_dropboxes_claimed_total 1",
        "relay_http_requests_total{route=\"/v1/dropboxes/{id}\",status=\"200\"} 2",
        "relay_http_requests_total{route=\"/v1/dropboxes/{id}\",status=\"404\"} 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(!text.contains(&id));
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropbox_put_needs_the_access_token_when_set() {
    let t = TestRelay::start_with(|c| c.access_token = Some("tok".into())).await;
    let mut c = t.client().await;
    let path = format!("/v1/dropboxes/{}", "cd".repeat(32));
    let r = c.send(Method::PUT, &path, &[], "invite").await.unwrap();
    assert_refused(&r, 403, ErrorCode::Forbidden);
    let r = c
        .send(Method::POST, &format!("{path}/claim"), &[], "")
        .await
        .unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    let r = c
        .send(
            Method::PUT,
            &path,
            &[("authorization", "Bearer tok".into())],
            "invite",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn rate_limit_is_per_connection() {
    let t = TestRelay::start_with(|c| {
        c.rate_per_conn = 0.0;
        c.burst_per_conn = 3.0;
    })
    .await;
    let mut c = t.client().await;
    for _ in 0..3 {
        let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
        assert_eq!(r.status, 200);
    }
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_refused(&r, 429, ErrorCode::RateLimited);
    let mut fresh = t.client().await;
    let r = fresh.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_count_without_ids() {
    let t =
        TestRelay::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    c.append(&key, &id, vec![0u8; 100]).await.unwrap();
    c.append(&random_key(), &id, "x").await.unwrap();
    let text = t.metrics().await;
    for line in [
        "relay_http_requests_total{route=\"/v1/mailboxes/{id}\",status=\"201\"} 1",
        "relay_http_requests_total{route=\"/v1/mailboxes/{id}/blobs\",status=\"200\"} 1",
        "relay_http_requests_total{route=\"/v1/mailboxes/{id}/blobs\",status=\"401\"} 1",
        "relay_refusals_total{code=\"bad_signature\"} 1",
        "relay_blobs_appended_total 1",
        "relay_blob_bytes_appended_total 100",
        "relay_fanout_delay_seconds_bucket{le=\"+Inf\"} 0",
        "relay_fanout_delay_seconds_count 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(!text.contains(&id.to_hex()));
    assert!(!text.contains("127.0.0.1"));
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_are_only_on_the_operator_listener() {
    let t =
        TestRelay::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let mut c = t.client().await;
    // Not on the public port: a stranger cannot watch traffic volumes.
    let r = c.send(Method::GET, "/metrics", &[], "").await.unwrap();
    assert_refused(&r, 404, ErrorCode::NotFound);
    let ops = t.relay.metrics_addr().unwrap();
    assert!(ops.ip().is_loopback());
    assert_ne!(ops, t.addr());
    let r = get_plain(ops, "/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(
        std::str::from_utf8(&r.body)
            .unwrap()
            .contains("relay_http_requests_total")
    );
    for path in ["/readyz", "/healthz"] {
        assert_eq!(get_plain(ops, path).await.unwrap().status, 200, "{path}");
    }
    let r = get_plain(ops, "/v1/mailboxes/00").await.unwrap();
    assert_eq!(r.status, 404, "the operator listener serves nothing else");
    t.relay.shutdown().await.unwrap();

    // Without `--metrics-listen` there is no operator listener at all.
    let t = TestRelay::start_with(|c| c.metrics_listen = None).await;
    assert_eq!(t.relay.metrics_addr(), None);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_checks_the_store_file() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let r = c.send(Method::GET, "/readyz", &[], "").await.unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (200, &br#"{"status":"ready"}"#[..])
    );
    // The database file disappears under the running relay (a data volume
    // unmounted, a careless cleanup): the relay still holds it open, but
    // nothing it writes now would be found again. Not ready.
    let db = t.dir.path().join(safespaces_relay::server::DB_FILE);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let r = c.send(Method::GET, "/readyz", &[], "").await.unwrap();
    assert_eq!(
        (r.status, &r.body[..]),
        (503, &br#"{"status":"unavailable"}"#[..])
    );
    // Liveness is another question: the process still serves.
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_pin_is_refused_by_the_client() {
    let t = TestRelay::start().await;
    let tls = safespaces_relay::test_support::client::pinned_config(&"00".repeat(32)).unwrap();
    assert!(TestRelayClient::connect(t.addr(), tls).await.is_err());
    // And the signing helpers agree with the relay's canonical form.
    let key = random_key();
    let id = safespaces_relay::test_support::client::mailbox_for(&key);
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Read,
        &id,
        b"",
    );
    assert!(
        auth::verify(
            &key.verifying_key(),
            safespaces_relay::test_support::client::HOST,
            Operation::Read,
            &id,
            b"",
            &proof
        )
        .is_ok()
    );
    t.relay.shutdown().await.unwrap();
}

/// A self-signed certificate for `localhost`, written as PEM files in `dir`.
fn self_signed_files(
    dir: &std::path::Path,
) -> (
    rcgen::CertifiedKey<rcgen::KeyPair>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("chain.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (generated, cert, key)
}

#[tokio::test]
async fn outside_dev_the_relay_must_be_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = self_signed_files(dir.path());
    let mut config = Config::with_defaults(dir.path().into(), "127.0.0.1:0".parse().unwrap());
    config.dev = false;
    config.open = true;
    config.cert = Some(cert);
    config.key = Some(key);
    let e = safespaces_relay::Relay::start(config).await.unwrap_err();
    assert!(e.to_string().contains("--public-host"), "{e}");
}

#[tokio::test]
async fn a_request_signed_for_another_relay_is_refused() {
    let t = TestRelay::start_with(|c| c.public_host = vec!["relay-a.example".into()]).await;
    let mut c = t.client().await;
    // The client signs for "localhost" (and sends Host: localhost): this
    // relay answers only to relay-a.example, so even its own Host header
    // cannot make a signature for another name count.
    let key = random_key();
    let id = safespaces_relay::test_support::client::mailbox_for(&key);
    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_refused(&r, 401, ErrorCode::BadSignature);
    // A request signed for relay-a.example passes.
    let admin = safespaces_relay::test_support::client::admin_key_for(&key);
    let body = serde_json::json!({
        "verifying_key": hex::encode(key.verifying_key().as_bytes()),
        "admin_key": hex::encode(admin.verifying_key().as_bytes()),
    })
    .to_string();
    let proof = sign_now(
        &key,
        "relay-a.example",
        Operation::Create,
        &id,
        body.as_bytes(),
    );
    let path = format!("/v1/mailboxes/{}", id.to_hex());
    let r = c
        .send(Method::POST, &path, &proof_headers(&proof), body)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    t.relay.shutdown().await.unwrap();
}

#[tokio::test]
async fn production_mode_serves_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (generated, cert, key) = self_signed_files(dir.path());
    // The pin is of the public key, not of the certificate.
    use rcgen::PublicKeyData as _;
    let expected_pin = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        generated.signing_key.subject_public_key_info(),
    ));

    let t = TestRelay::start_with(|c| {
        c.dev = false;
        c.cert = Some(cert.clone());
        c.key = Some(key.clone());
        c.public_host = vec!["localhost".into()];
        c.access_token = Some("society-token".into());
    })
    .await;
    assert_eq!(t.relay.pin(), expected_pin);
    let mut c = t.client().await;
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    // No development certificate was generated.
    assert!(
        !t.dir
            .path()
            .join(safespaces_relay::tls::DEV_CERT_FILE)
            .exists()
    );
    t.relay.shutdown().await.unwrap();

    // Missing files are a clear startup error, not a panic.
    let mut config = safespaces_relay::Config::with_defaults(
        dir.path().to_owned(),
        "127.0.0.1:0".parse().unwrap(),
    );
    config.dev = false;
    config.public_host = vec!["localhost".into()];
    config.open = true;
    config.cert = Some(dir.path().join("missing.pem"));
    config.key = Some(key);
    let err = safespaces_relay::Relay::start(config).await.unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let t = TestRelay::start_with(|c| c.idle_timeout_secs = 1).await;
    let mut c = t.client().await;
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert!(c.send(Method::GET, "/healthz", &[], "").await.is_err());
    t.relay.shutdown().await.unwrap();
}
