//! What an operator runs the real relay binary with: JSON logs that a log
//! collector can take and that still carry no id, payload or address, the
//! plain-HTTP operator listener, and a readiness probe that notices a
//! PostgreSQL database that stopped answering and recovers with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod pg_server;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{key_and_mailbox, random_key, relay_process};
use hyper::Method;
use safespaces_relay::test_support::client::{TestRelayClient, get_plain, pinned_config};
use safespaces_relay::test_support::relay_process::{RelayProcess, Stderr};
use sqlx::Connection as _;

/// A graceful shutdown that exits 0.
fn sigterm(p: &mut RelayProcess) {
    assert!(p.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_without_ids_payloads_or_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    // Debug level for the relay and every library it uses.
    let mut p = relay_process(dir.path())
        .args(["--log-format", "json"])
        .log("debug", Stderr::File(log_path.clone()))
        .start();
    let mut c = TestRelayClient::connect(p.addr(), pinned_config(p.pin()).unwrap())
        .await
        .unwrap();
    let client_port = {
        // The client's own address as the relay saw it: never to be logged.
        let probe = std::net::TcpStream::connect(p.addr()).unwrap();
        probe.local_addr().unwrap().port().to_string()
    };
    let (key, mailbox) = key_and_mailbox();
    let canary = b"CANARY-PLAINTEXT-7f3a9c".to_vec();
    assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    assert_eq!(
        c.append(&key, &mailbox, canary.clone())
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(c.read(&key, &mailbox, 0, None).await.unwrap().status, 200);
    // Refusals log too (at debug, in libraries); they must not leak either.
    assert_eq!(
        c.append(&random_key(), &mailbox, canary.clone())
            .await
            .unwrap()
            .status,
        401
    );
    let dropbox = "d7".repeat(32);
    let path = format!("/v1/dropboxes/{dropbox}");
    assert_eq!(
        c.send(Method::PUT, &path, &[], canary.clone())
            .await
            .unwrap()
            .status,
        201
    );
    let claim = format!("{path}/claim");
    assert_eq!(
        c.send(Method::POST, &claim, &[], "").await.unwrap().status,
        200
    );
    drop(c);
    sigterm(&mut p);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let mut messages = Vec::new();
    for line in logs.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        assert!(event["target"].is_string(), "{line}");
        if let Some(m) = event["fields"]["message"].as_str() {
            messages.push(m.to_owned());
        }
    }
    assert!(messages.iter().any(|m| m == "relay started"), "{logs}");
    assert!(
        messages.iter().any(|m| m.starts_with("relay stopped")),
        "{logs}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&canary);
    for secret in [
        mailbox.to_hex(),
        dropbox,
        "CANARY".to_owned(),
        b64,
        "127.0.0.1".to_owned(),
        format!(":{client_port}"),
    ] {
        assert!(
            !logs.contains(&secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }
}

/// Reads `/readyz` on the operator listener until it answers `want` (the
/// pool notices a dead connection only when it next uses it).
async fn await_ready(ops: SocketAddr, want: u16) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get_plain(ops, "/readyz").await.unwrap();
        if r.status == want {
            return r.body.to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {} ({:?})",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_a_postgresql_database_that_stops_and_comes_back() {
    let Some(pg) = pg_server::server() else {
        return;
    };
    let url = pg.fresh_database();
    // postgres://relay@localhost/<name>?host=<dir>/sock
    let name = url
        .split_once("@localhost/")
        .and_then(|(_, tail)| tail.split_once('?'))
        .map(|(db, _)| db.to_owned())
        .unwrap();
    let admin_url = url.replacen(&format!("/{name}?"), "/relay?", 1);
    let dir = tempfile::tempdir().unwrap();
    let mut p = relay_process(dir.path())
        .args(["--database-url", &url])
        .start();
    let (addr, ops, pin) = (p.addr(), p.metrics(), p.pin().to_owned());
    assert_eq!(await_ready(ops, 200).await, br#"{"status":"ready"}"#);

    // The database stops taking connections and drops the relay's: the
    // relay's process is fine, but it cannot serve.
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::raw_sql(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    assert_eq!(await_ready(ops, 503).await, br#"{"status":"unavailable"}"#);
    assert_eq!(
        get_plain(ops, "/healthz").await.unwrap().status,
        200,
        "still alive"
    );

    sqlx::raw_sql(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(await_ready(ops, 200).await, br#"{"status":"ready"}"#);
    // Ready means it: the first write after the outage goes through (the
    // writer's connection died with the others; the writer pings a
    // connection idle for over a second before using it, and a real restart
    // takes longer than that), and shutdown is clean.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut c = TestRelayClient::connect(addr, pinned_config(&pin).unwrap())
        .await
        .unwrap();
    let (key, mailbox) = key_and_mailbox();
    assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    assert_eq!(
        c.append(&key, &mailbox, b"after".to_vec())
            .await
            .unwrap()
            .status,
        200
    );
    sigterm(&mut p);
}
