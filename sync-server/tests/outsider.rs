//! Limits that hold against an outsider (issue 16): each test plays the
//! attacker with real bytes over real TLS against a real relay on
//! 127.0.0.1:0, and checks that honest requests still get through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    TestRelay, assert_refused, key_and_mailbox, new_mailbox, random_key, random_mailbox,
    relay_process,
};
use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use hyper::Method;
use rustls::ClientConfig;
use safespaces_relay::test_support::client::{
    self, Reply, TestRelayClient, connect_tls, connect_ws, proof_headers, subscribe_frame,
};
use safespaces_wire::auth::{sign, sign_now};
use safespaces_wire::dropbox::{put_query, vouch_body};
use safespaces_wire::mailbox::ReadPage;
use safespaces_wire::subscription::ServerFrame;
use safespaces_wire::{DropboxId, ErrorBody, ErrorCode, MailboxId, Operation};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

/// Bounds how long a test may wait for the relay to do something, so that
/// a relay that never does it fails the test instead of hanging it. Not a
/// speed claim: the bounds are many times what is needed.
const PATIENCE: Duration = Duration::from_secs(30);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The value of an unlabelled metric, from the operator listener.
async fn metric(t: &TestRelay, name: &str) -> i64 {
    metric_at(t.relay.metrics_addr().expect("a metrics listener"), name).await
}

/// The value of an unlabelled metric at an operator listener.
async fn metric_at(addr: std::net::SocketAddr, name: &str) -> i64 {
    let r = client::get_plain(addr, "/metrics").await.unwrap();
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no metric {name}"))
        .parse()
        .unwrap()
}

/// Waits until `metric` satisfies `ok`, or fails the test.
async fn wait_for_metric(t: &TestRelay, name: &str, ok: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let v = metric(t, name).await;
        if ok(v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} stayed at {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads until the relay closes the connection (EOF or reset); returns what
/// it sent. Fails the test if the relay keeps it open.
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    patience: Duration,
) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the relay kept the connection open"),
        }
    }
}

/// Splits a raw HTTP/1.1 response into its status and body.
fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |i| raw[i + 4..].to_vec());
    (status, body)
}

/// A signed request as raw HTTP/1.1 bytes, to write onto a socket directly.
fn raw_signed(
    method: &str,
    path: &str,
    key: &SigningKey,
    op: Operation,
    mailbox: &MailboxId,
    body: &[u8],
) -> Vec<u8> {
    let proof = sign_now(
        key,
        safespaces_relay::test_support::client::HOST,
        op,
        mailbox,
        body,
    );
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in proof_headers(&proof) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

async fn last_seq(c: &mut TestRelayClient, key: &SigningKey, id: &MailboxId) -> u64 {
    let r = c.read(key, id, 0, None).await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json::<ReadPage>().unwrap().last_seq
}

// ---------------------------------------------------------------- connections

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_open_ones_keep_working() {
    let t = TestRelay::start_with(|c| c.max_connections = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = t.client().await;
        let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
        assert_eq!(r.status, 200);
        open.push(c);
    }
    // The attacker's extra connections get no TLS at all.
    for _ in 0..5 {
        assert!(
            TestRelayClient::connect(t.addr(), t.tls.clone())
                .await
                .is_err(),
            "a connection over the cap was served"
        );
    }
    for c in &mut open {
        let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
        assert_eq!(r.status, 200, "an open connection was disturbed");
    }
    assert_eq!(metric(&t, "relay_connections_refused_total").await, 5);
    wait_for_metric(&t, "relay_connections_open", |v| v == 3).await;
    // A slot that frees up is usable again.
    open.pop();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(mut c) = TestRelayClient::connect(t.addr(), t.tls.clone()).await {
            if let Ok(r) = c.send(Method::GET, "/healthz", &[], "").await {
                assert_eq!(r.status, 200);
                break;
            }
        }
        assert!(Instant::now() < deadline, "the freed slot never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(open);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_finishes_is_closed() {
    let t = TestRelay::start_with(|c| c.handshake_timeout_secs = 1).await;
    // Silent after connecting.
    let mut silent = tokio::net::TcpStream::connect(t.addr()).await.unwrap();
    // Half a TLS record header, then nothing: mid-handshake.
    let mut halfway = tokio::net::TcpStream::connect(t.addr()).await.unwrap();
    halfway.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut silent, PATIENCE).await.is_empty());
    assert!(read_until_closed(&mut halfway, PATIENCE).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    let _c = t.client().await;
    // The relay closes the socket just before it counts the cut.
    wait_for_metric(&t, "relay_slow_peers_cut_total", |v| v == 2).await;
    wait_for_metric(&t, "relay_connections_open", |v| v == 1).await;
    t.relay.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_before_and_between_requests() {
    let t = TestRelay::start_with(|c| c.idle_timeout_secs = 1).await;
    // TLS done, but no request ever.
    let mut never = connect_tls(t.addr(), t.tls.clone()).await.unwrap();
    assert!(read_until_closed(&mut never, PATIENCE).await.is_empty());
    // Request headers trickled in, a byte a second.
    let mut trickle = connect_tls(t.addr(), t.tls.clone()).await.unwrap();
    let closed = tokio::time::timeout(PATIENCE, async {
        for b in b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n" {
            if trickle.write_all(&[*b]).await.is_err() || trickle.flush().await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        false
    })
    .await
    .unwrap();
    assert!(closed, "trickled headers were waited for");
    // Between keep-alive requests.
    let mut c = t.client().await;
    assert_eq!(
        c.send(Method::GET, "/healthz", &[], "")
            .await
            .unwrap()
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(c.send(Method::GET, "/healthz", &[], "").await.is_err());
    t.relay.shutdown().await.unwrap();
}

// ------------------------------------------------------------- slow transfers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_at_one_byte_a_second_is_cut_off_and_stores_nothing() {
    let t = TestRelay::start_with(|c| {
        c.transfer_grace_secs = 2;
        c.min_transfer_rate = 1024;
    })
    .await;
    let mut c = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;
    let body = vec![7u8; 1000];
    let raw = raw_signed(
        "POST",
        &format!("/v1/mailboxes/{}/blobs", id.to_hex()),
        &key,
        Operation::Append,
        &id,
        &body,
    );
    let split = raw.len() - body.len();
    let mut s = connect_tls(t.addr(), t.tls.clone()).await.unwrap();
    s.write_all(&raw[..split]).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(s);
    let trickler = tokio::spawn(async move {
        for b in &raw[split..] {
            if wr.write_all(&[*b]).await.is_err() || wr.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let started = Instant::now();
    let answer = read_until_closed(&mut rd, PATIENCE).await;
    trickler.abort();
    let (status, body) = parse_response(&answer);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&answer));
    let err: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(err.code, ErrorCode::RequestTimeout);
    assert!(
        String::from_utf8_lossy(&answer)
            .to_ascii_lowercase()
            .contains("connection: close")
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(last_seq(&mut c, &key, &id).await, 0, "nothing was stored");
    // The same body sent at once is fine.
    let r = c.append(&key, &id, vec![7u8; 1000]).await.unwrap();
    assert_eq!(r.status, 200);
    wait_for_metric(&t, "relay_slow_peers_cut_total", |v| v == 1).await;
    t.relay.shutdown().await.unwrap();
}

/// A TLS connection whose receive buffer is as small as the OS allows, so
/// that a peer that never reads blocks the relay's writes early.
async fn tiny_window_tls(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_queues_bounded_bytes_and_is_cut_off() {
    const QUEUE_CAP: usize = 512 * 1024;
    let t = TestRelay::start_with(|c| {
        c.transfer_grace_secs = 2;
        c.max_queued_bytes_per_conn = QUEUE_CAP;
        c.rate_per_conn = 1e6;
        c.burst_per_conn = 1e6;
    })
    .await;
    let mut c = t.client().await;
    let _watch = t.client().await;
    let (key, id) = new_mailbox(&mut c).await;

    // The attacker subscribes to its own mailbox and never reads again.
    let tls = tiny_window_tls(t.addr(), t.tls.clone()).await;
    let (mut attacker, _) = tokio_tungstenite::client_async("wss://localhost/v1/subscribe", tls)
        .await
        .unwrap();
    attacker
        .send(Message::text(subscribe_frame(&key, &id, 0)))
        .await
        .unwrap();
    // An honest device on the same mailbox reads everything.
    let mut honest = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    honest
        .send(Message::text(subscribe_frame(&key, &id, 0)))
        .await
        .unwrap();
    let blobs = 60u64;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while (seqs.len() as u64) < blobs {
            let Ok(Some(Ok(Message::Text(t)))) =
                tokio::time::timeout(PATIENCE, honest.next()).await
            else {
                panic!("the honest subscriber stopped receiving");
            };
            if let ServerFrame::Blob { seq, .. } = serde_json::from_str(t.as_str()).unwrap() {
                seqs.push(seq);
            }
        }
        (honest, seqs)
    });
    wait_for_metric(&t, "relay_subscriptions_active", |v| v == 2).await;

    // 60 blobs of 200 KiB: far more than the sockets' buffers hold.
    let mut most_queued = 0;
    for _ in 0..blobs {
        let r = c.append(&key, &id, vec![0x55u8; 200 * 1024]).await.unwrap();
        assert_eq!(r.status, 200);
        most_queued = most_queued.max(metric(&t, "relay_live_bytes_queued").await);
    }
    let (honest, seqs) = reader.await.unwrap();
    assert_eq!(
        seqs,
        (1..=blobs).collect::<Vec<_>>(),
        "the honest device got every blob once"
    );
    // Two subscribers, each at most at the cap, whatever the attacker does.
    assert!(
        most_queued <= 2 * QUEUE_CAP as i64,
        "{most_queued} bytes queued"
    );
    // The attacker's blocked socket is cut after the grace; the honest one stays.
    wait_for_metric(&t, "relay_websockets_open", |v| v == 1).await;
    assert!(metric(&t, "relay_slow_peers_cut_total").await >= 1);
    drop((attacker, honest));
    t.relay.shutdown().await.unwrap();
}

/// Resident memory of a process, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_client_that_never_reads_costs_bounded_memory_and_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = relay_process(dir.path())
        .args(["--transfer-grace-secs", "3", "--max-blob-bytes", "2097152"])
        .start();
    let pid = relay.id();
    let tls = client::pinned_config(relay.pin()).unwrap();
    let mut c = TestRelayClient::connect(relay.addr(), tls.clone())
        .await
        .unwrap();
    let (key, id) = new_mailbox(&mut c).await;
    // Eight 1 MiB blobs: one read page answers ~10.7 MiB of JSON.
    for _ in 0..8 {
        let r = c
            .append(&key, &id, vec![0xaau8; 1024 * 1024])
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let page = c.read(&key, &id, 0, None).await.unwrap();
    let response_len = page.body.len();
    assert!(response_len > 10 * 1024 * 1024);
    let before = rss_kib(pid);

    // 64 pipelined reads, written at once, never read: 680 MiB of answers
    // if the relay queued them all.
    let pipelined = 64usize;
    let mut raw = Vec::new();
    for _ in 0..pipelined {
        let body = br#"{"after":0}"#;
        raw.extend(raw_signed(
            "POST",
            &format!("/v1/mailboxes/{}/read", id.to_hex()),
            &key,
            Operation::Read,
            &id,
            body,
        ));
    }
    let mut s = tiny_window_tls(relay.addr(), tls.clone()).await;
    s.write_all(&raw).await.unwrap();
    s.flush().await.unwrap();
    let mut peak = before;
    let deadline = Instant::now() + PATIENCE;
    loop {
        peak = peak.max(rss_kib(pid));
        let cut = metric_at(relay.metrics(), "relay_slow_peers_cut_total").await;
        if cut >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the non-reading client was never cut off"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    let unbounded_mib = (pipelined * response_len / (1024 * 1024)) as u64;
    eprintln!(
        "relay VmRSS before {before} KiB, peak {peak} KiB: +{grown_mib} MiB (unbounded queueing: {unbounded_mib} MiB)"
    );
    // At most a few answers are ever held for one connection.
    assert!(grown_mib < 96, "the relay grew by {grown_mib} MiB");
    // Everyone else is served as before.
    let r = c.read(&key, &id, 7, None).await.unwrap();
    assert_eq!(r.status, 200);
    drop(s);
    assert!(relay.terminate().success());
}

// ------------------------------------------------------------------ probing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_cannot_tell_whether_a_mailbox_exists() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (_, real) = new_mailbox(&mut c).await;
    let absent = random_mailbox();
    let prober = random_key();

    // Every signed operation, with the prober's own key: byte-identical answers.
    let compact = br#"{"snapshot_seq":2,"through_seq":1}"#;
    let read = br#"{"after":0}"#;
    for (method, suffix, op, body) in [
        (Method::POST, "/blobs", Operation::Append, &b"x"[..]),
        (Method::POST, "/read", Operation::Read, &read[..]),
        (Method::POST, "/compact", Operation::Compact, &compact[..]),
        (Method::DELETE, "", Operation::Delete, &b""[..]),
    ] {
        let mut answers = Vec::new();
        for id in [real, absent] {
            let path = format!("/v1/mailboxes/{}{suffix}", id.to_hex());
            let r = c
                .signed(method.clone(), &path, &prober, op, &id, body.to_vec())
                .await
                .unwrap();
            answers.push((r.status, r.body));
        }
        assert_eq!(answers[0], answers[1], "{op}");
        let r = Reply {
            status: answers[0].0,
            content_type: Some("application/json".into()),
            body: answers[0].1.clone(),
        };
        assert_refused(&r, 401, ErrorCode::BadSignature);
        // An expired signature, too.
        let mut answers = Vec::new();
        for id in [real, absent] {
            let path = format!("/v1/mailboxes/{}{suffix}", id.to_hex());
            let proof = sign(
                &prober,
                safespaces_relay::test_support::client::HOST,
                op,
                &id,
                body,
                now() - 3600,
                [1; 16],
            );
            let r = c
                .send(method.clone(), &path, &proof_headers(&proof), body.to_vec())
                .await
                .unwrap();
            answers.push((r.status, r.body));
        }
        assert_eq!(answers[0], answers[1], "{op}, stale");
    }

    // A subscription.
    let mut ws = connect_ws(t.addr(), t.tls.clone()).await.unwrap();
    let mut frames = Vec::new();
    for id in [real, absent] {
        ws.send(Message::text(subscribe_frame(&prober, &id, 0)))
            .await
            .unwrap();
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("no answer");
        };
        // The frames name the mailbox asked about; everything else is the same.
        frames.push(text.as_str().replace(&id.to_hex(), "<id>"));
    }
    assert_eq!(frames[0], frames[1]);
    assert!(frames[0].contains("bad_signature"));

    // A vouched drop-box put.
    let mut answers = Vec::new();
    for (i, id) in [real, absent].into_iter().enumerate() {
        let dropbox = DropboxId::from_bytes([i as u8 + 1; 32]);
        let r = vouched_put(&mut c, &prober, &id, &dropbox, None, b"blob").await;
        answers.push((r.status, r.body));
    }
    assert_eq!(answers[0], answers[1]);
    t.relay.shutdown().await.unwrap();
}

// ------------------------------------------------------------- replay memory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_made_mailboxes_cannot_make_the_replay_memory_forget_or_grow() {
    let t = TestRelay::start_with(|c| {
        c.max_nonces = 200;
        c.max_nonces_per_mailbox = 150;
    })
    .await;
    let mut c = t.client().await;
    // An honest mailbox, used a little (create + 3 appends = 4 nonces).
    let (honest_key, honest) = new_mailbox(&mut c).await;
    let first = sign_now(
        &honest_key,
        safespaces_relay::test_support::client::HOST,
        Operation::Append,
        &honest,
        b"h0",
    );
    let path = format!("/v1/mailboxes/{}/blobs", honest.to_hex());
    let r = c
        .send(Method::POST, &path, &proof_headers(&first), "h0")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    for i in 1..3 {
        assert_eq!(
            c.append(&honest_key, &honest, format!("h{i}"))
                .await
                .unwrap()
                .status,
            200
        );
    }

    // The flood, from mailboxes the attacker made with its own keys.
    let mut flood = t.client().await;
    let (k1, m1) = new_mailbox(&mut flood).await;
    // Bounded loops: a relay that never says busy fails the test instead of
    // running it forever.
    let mut held = 1;
    for _ in 0..1000 {
        let r = flood.read(&k1, &m1, 0, None).await.unwrap();
        if r.status != 200 {
            assert_refused(&r, 503, ErrorCode::RelayBusy);
            break;
        }
        held += 1;
    }
    assert_eq!(held, 150, "one mailbox holds at most its share");
    let (k2, m2) = new_mailbox(&mut flood).await;
    let mut busy = false;
    for _ in 0..1000 {
        let r = flood.read(&k2, &m2, 0, None).await.unwrap();
        if r.status != 200 {
            assert_refused(&r, 503, ErrorCode::RelayBusy);
            busy = true;
            break;
        }
    }
    assert!(busy, "the second mailbox was never refused");
    // The memory is full: no new mailboxes, no more from the big holders.
    let (k3, m3) = key_and_mailbox();
    let r = flood.create_mailbox(&k3, &m3).await.unwrap();
    assert_refused(&r, 503, ErrorCode::RelayBusy);
    let r = flood.read(&k1, &m1, 0, None).await.unwrap();
    assert_refused(&r, 503, ErrorCode::RelayBusy);
    let remembered = metric(&t, "relay_nonces_remembered").await;
    assert!(
        remembered <= 200 + i64::from(safespaces_relay::replay::FLOOR),
        "{remembered} nonces"
    );

    // The honest mailbox still works...
    let r = c
        .append(&honest_key, &honest, "during the flood")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // ...and nothing it signed before was forgotten: a replay is still refused.
    let r = c
        .send(Method::POST, &path, &proof_headers(&first), "h0")
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::ReplayedNonce);
    assert_eq!(last_seq(&mut c, &honest_key, &honest).await, 4);
    assert!(metric(&t, "relay_nonces_refused_total").await >= 4);
    t.relay.shutdown().await.unwrap();
}

// ------------------------------------------------------------- global quotas

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_quotas_refuse_with_relay_full_and_store_nothing() {
    let t = TestRelay::start_with(|c| {
        c.max_mailboxes = 2;
        c.max_total_bytes = 10_000;
    })
    .await;
    let mut c = t.client().await;
    let (k1, m1) = new_mailbox(&mut c).await;
    let (k2, m2) = new_mailbox(&mut c).await;
    let (k3, m3) = key_and_mailbox();
    let r = c.create_mailbox(&k3, &m3).await.unwrap();
    assert_refused(&r, 507, ErrorCode::RelayFull);
    // Not created: the id is free for a create once there is room.
    assert_eq!(
        c.append(&k1, &m1, vec![0u8; 6000]).await.unwrap().status,
        200
    );
    let r = c.append(&k2, &m2, vec![0u8; 5000]).await.unwrap();
    assert_refused(&r, 507, ErrorCode::RelayFull);
    let r = c
        .send(
            Method::PUT,
            &format!("/v1/dropboxes/{}", "ab".repeat(32)),
            &[],
            vec![0u8; 4001],
        )
        .await
        .unwrap();
    assert_refused(&r, 507, ErrorCode::RelayFull);
    assert_eq!(last_seq(&mut c, &k2, &m2).await, 0);
    let r = c
        .send(
            Method::GET,
            &format!("/v1/dropboxes/{}", "ab".repeat(32)),
            &[],
            "",
        )
        .await
        .unwrap();
    assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    // Deleting a mailbox (with its admin key) frees its bytes; its
    // tombstone keeps its place, so create-and-delete cannot grow the store.
    let proof = sign_now(
        &client::admin_key_for(&k1),
        safespaces_relay::test_support::client::HOST,
        Operation::Delete,
        &m1,
        b"",
    );
    let r = c
        .send(
            Method::DELETE,
            &format!("/v1/mailboxes/{}", m1.to_hex()),
            &proof_headers(&proof),
            "",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c.create_mailbox(&k3, &m3).await.unwrap();
    assert_refused(&r, 507, ErrorCode::RelayFull);
    assert_eq!(
        c.append(&k2, &m2, vec![0u8; 5000]).await.unwrap().status,
        200
    );
    t.relay.shutdown().await.unwrap();
}

// ----------------------------------------------------------- drop-box flood

/// `PUT /v1/dropboxes/{id}` vouched for by `mailbox` (signed with `key`).
async fn vouched_put(
    c: &mut TestRelayClient,
    key: &SigningKey,
    mailbox: &MailboxId,
    dropbox: &DropboxId,
    reserve: Option<&DropboxId>,
    blob: &[u8],
) -> Reply {
    let ttl = Some(3600);
    let signed = vouch_body(dropbox, reserve, ttl, blob);
    let proof = sign_now(
        key,
        safespaces_relay::test_support::client::HOST,
        Operation::Vouch,
        mailbox,
        &signed,
    );
    let path = format!(
        "/v1/dropboxes/{}{}",
        dropbox.to_hex(),
        put_query(ttl, Some(mailbox), reserve)
    );
    c.send(Method::PUT, &path, &proof_headers(&proof), blob.to_vec())
        .await
        .unwrap()
}

fn random_dropbox() -> DropboxId {
    DropboxId::from_bytes(*random_mailbox().as_bytes())
}

async fn put(c: &mut TestRelayClient, id: &DropboxId, blob: &[u8]) -> Reply {
    c.send(
        Method::PUT,
        &format!("/v1/dropboxes/{}?ttl_secs=3600", id.to_hex()),
        &[],
        blob.to_vec(),
    )
    .await
    .unwrap()
}

async fn claim(c: &mut TestRelayClient, id: &DropboxId) -> Reply {
    c.send(
        Method::POST,
        &format!("/v1/dropboxes/{}/claim", id.to_hex()),
        &[],
        "",
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_self_made_drop_boxes_cannot_make_a_real_invite_fail() {
    let t = TestRelay::start_with(|c| {
        c.max_dropboxes = 100;
        c.max_dropboxes_per_mailbox = 8;
    })
    .await;
    let mut attacker = t.client().await;
    // A hundred anonymous drop-boxes fill the shared pool...
    for _ in 0..100 {
        assert_eq!(
            put(&mut attacker, &random_dropbox(), b"junk").await.status,
            201
        );
    }
    let r = put(&mut attacker, &random_dropbox(), b"junk").await;
    assert_refused(&r, 507, ErrorCode::RelayFull);
    // ...and the attacker's own mailboxes vouch for as many as they may.
    for _ in 0..3 {
        let (k, m) = new_mailbox(&mut attacker).await;
        for _ in 0..4 {
            let r = vouched_put(
                &mut attacker,
                &k,
                &m,
                &random_dropbox(),
                Some(&random_dropbox()),
                b"junk",
            )
            .await;
            assert_eq!(r.status, 201);
        }
        let r = vouched_put(&mut attacker, &k, &m, &random_dropbox(), None, b"junk").await;
        assert_refused(&r, 507, ErrorCode::QuotaDropboxesExceeded);
    }
    // A vouch that does not verify stores nothing.
    let (_, space) = new_mailbox(&mut attacker).await;
    let forged = random_dropbox();
    let r = vouched_put(&mut attacker, &random_key(), &space, &forged, None, b"junk").await;
    assert_refused(&r, 401, ErrorCode::BadSignature);
    assert_refused(
        &claim(&mut attacker, &forged).await,
        404,
        ErrorCode::DropboxNotFound,
    );

    // The real invite, as the apps run it: the inviter's device vouches for
    // the package with its space's mailbox and reserves the request slot.
    let mut inviter = t.client().await;
    let (space_key, space) = new_mailbox(&mut inviter).await;
    let (package, request, welcome) = (random_dropbox(), random_dropbox(), random_dropbox());
    let r = vouched_put(
        &mut inviter,
        &space_key,
        &space,
        &package,
        Some(&request),
        b"package",
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    // The invitee has no key: anonymous claim and put, into the reservation.
    let mut invitee = t.client().await;
    let r = claim(&mut invitee, &package).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"package"[..]));
    assert_eq!(put(&mut invitee, &request, b"request").await.status, 201);
    let r = claim(&mut inviter, &request).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"request"[..]));
    // The invitee asks again on its next sync: the reservation takes it.
    assert_eq!(
        put(&mut invitee, &request, b"request again").await.status,
        201
    );
    let r = vouched_put(&mut inviter, &space_key, &space, &welcome, None, b"welcome").await;
    assert_eq!(r.status, 201);
    let r = claim(&mut invitee, &welcome).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"welcome"[..]));
    // The anonymous pool is still full for everyone else.
    let r = put(&mut attacker, &random_dropbox(), b"junk").await;
    assert_refused(&r, 507, ErrorCode::RelayFull);
    t.relay.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouched_puts_refuse_malformed_and_stolen_vouches() {
    let t = TestRelay::start().await;
    let mut c = t.client().await;
    let (key, space) = new_mailbox(&mut c).await;
    let d = random_dropbox();
    // reserve without vouch, reserve of itself.
    let r = c
        .send(
            Method::PUT,
            &format!(
                "/v1/dropboxes/{}?reserve={}",
                d.to_hex(),
                random_dropbox().to_hex()
            ),
            &[],
            "x",
        )
        .await
        .unwrap();
    assert_refused(&r, 400, ErrorCode::MalformedRequest);
    let r = vouched_put(&mut c, &key, &space, &d, Some(&d), b"x").await;
    assert_refused(&r, 400, ErrorCode::MalformedRequest);
    // vouch without a proof.
    let r = c
        .send(
            Method::PUT,
            &format!("/v1/dropboxes/{}?vouch={}", d.to_hex(), space.to_hex()),
            &[],
            "x",
        )
        .await
        .unwrap();
    assert_refused(&r, 401, ErrorCode::Unauthenticated);
    // A vouch signed for one put, spent on another drop-box or blob.
    let signed = vouch_body(&d, None, Some(3600), b"x");
    let proof = sign_now(
        &key,
        safespaces_relay::test_support::client::HOST,
        Operation::Vouch,
        &space,
        &signed,
    );
    let other = random_dropbox();
    for (id, blob) in [(other, "x"), (d, "y")] {
        let r = c
            .send(
                Method::PUT,
                &format!(
                    "/v1/dropboxes/{}{}",
                    id.to_hex(),
                    put_query(Some(3600), Some(&space), None)
                ),
                &proof_headers(&proof),
                blob,
            )
            .await
            .unwrap();
        assert_refused(&r, 401, ErrorCode::BadSignature);
    }
    for id in [d, other] {
        let r = c
            .send(
                Method::GET,
                &format!("/v1/dropboxes/{}", id.to_hex()),
                &[],
                "",
            )
            .await
            .unwrap();
        assert_refused(&r, 404, ErrorCode::DropboxNotFound);
    }
    t.relay.shutdown().await.unwrap();
}
