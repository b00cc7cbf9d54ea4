//! The real relay binary on a SQLite file across runs and versions: a file
//! written by a newer relay is refused and left as it was, a file of an
//! older schema is migrated with its data, and a signed request recorded
//! during one run is refused when replayed after a restart (the nonce is in
//! the file, not only in the process's memory).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use common::{key_and_mailbox, relay_process};
use hyper::Method;
use rusqlite::Connection;
use safespaces_relay::server::DB_FILE;
use safespaces_relay::store::sqlite::SCHEMA_VERSION;
use safespaces_relay::test_support::client::{
    Reply, TestRelayClient, pinned_config, proof_headers,
};
use safespaces_relay::test_support::relay_process::RelayProcess;
use safespaces_wire::auth::sign_now;
use safespaces_wire::mailbox::ReadPage;
use safespaces_wire::{ErrorBody, ErrorCode, Operation};

fn user_version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

async fn client(p: &RelayProcess) -> TestRelayClient {
    TestRelayClient::connect(p.addr(), pinned_config(p.pin()).unwrap())
        .await
        .unwrap()
}

/// A graceful shutdown that exits 0.
fn stop(p: &mut RelayProcess) {
    assert!(p.terminate().success());
}

fn code(r: &Reply) -> ErrorCode {
    r.json::<ErrorBody>()
        .unwrap_or_else(|_| panic!("not an error body: {r:?}"))
        .code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_a_newer_relay_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // A real file with data, made by this relay, then stamped as a newer
    // relay would leave it.
    let mut p = relay_process(dir.path()).start();
    let (key, mailbox) = key_and_mailbox();
    assert_eq!(
        client(&p)
            .await
            .create_mailbox(&key, &mailbox)
            .await
            .unwrap()
            .status,
        201
    );
    stop(&mut p);
    let db = dir.path().join(DB_FILE);
    let newer = SCHEMA_VERSION + 1;
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let before = std::fs::read(&db).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_safespaces-relay"))
        .args(["--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a newer schema must stop the relay");
    assert!(out.stdout.is_empty(), "it never announced itself");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the database schema is version {newer}, newer than this relay knows ({SCHEMA_VERSION})"
        )),
        "a clear reason: {stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is untouched");
    assert_eq!(user_version(&db), newer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_file_is_migrated_and_its_one_key_mailboxes_retired() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    let (key, mailbox) = key_and_mailbox();
    // What every relay before migrations wrote: the version 1 schema,
    // stamped 1, in WAL mode, holding one (one-key) mailbox with two blobs.
    {
        let conn = Connection::open(&db).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        conn.execute_batch("PRAGMA user_version = 1").unwrap();
        conn.execute(
            "INSERT INTO mailbox (id, key, last_seq, compacted_through, blob_count, byte_count) VALUES (?1, ?2, 2, 0, 2, 10)",
            (mailbox.as_bytes().as_slice(), key.verifying_key().as_bytes().as_slice()),
        )
        .unwrap();
        let rid = conn.last_insert_rowid();
        for (seq, data) in [(1i64, b"first"), (2, b"later")] {
            conn.execute(
                "INSERT INTO blob (mailbox, seq, data) VALUES (?1, ?2, ?3)",
                (rid, seq, data.as_slice()),
            )
            .unwrap();
        }
    }
    assert_eq!(user_version(&db), 1);

    let mut p = relay_process(dir.path()).start();
    let mut c = client(&p).await;
    // No current client can use a one-key mailbox: migration 3 retires it
    // as a tombstone (its id never comes back), with its blobs gone.
    let r = c.read(&key, &mailbox, 0, None).await.unwrap();
    assert_eq!(r.status, 410, "{r:?}");
    // The migrated file works: a new mailbox is made, written and read.
    let (fresh, id) = key_and_mailbox();
    assert_eq!(c.create_mailbox(&fresh, &id).await.unwrap().status, 201);
    let r = c
        .append(&fresh, &id, b"after the upgrade".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    stop(&mut p);
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let conn = Connection::open(&db).unwrap();
    let blobs: i64 = conn
        .query_row("SELECT count(*) FROM blob", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blobs, 1, "only the new mailbox's blob");
    let nonces: i64 = conn
        .query_row("SELECT count(*) FROM nonce", [], |r| r.get(0))
        .unwrap();
    // The read of the tombstone was refused before its nonce counted.
    assert_eq!(nonces, 2, "the create's and the append's nonces were kept");
}

/// A signed request as an eavesdropper on the client's side of TLS (or a
/// compromised proxy) would record it: method, path, proof headers, body.
struct Recorded {
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Recorded {
    fn new(key: &ed25519_dalek::SigningKey, op: Operation, path: String, body: Vec<u8>) -> Self {
        let mailbox = path.split('/').nth(3).unwrap().parse().unwrap();
        let proof = sign_now(
            key,
            safespaces_relay::test_support::client::HOST,
            op,
            &mailbox,
            &body,
        );
        Self {
            path,
            headers: proof_headers(&proof),
            body: Bytes::from(body),
        }
    }

    async fn send(&self, c: &mut TestRelayClient) -> Reply {
        let headers: Vec<(&str, String)> =
            self.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        c.send(Method::POST, &self.path, &headers, self.body.clone())
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_recorded_before_a_restart_is_refused_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (key, mailbox) = key_and_mailbox();
    let mut p = relay_process(dir.path()).start();
    let addr = p.addr();
    let mut c = client(&p).await;
    assert_eq!(c.create_mailbox(&key, &mailbox).await.unwrap().status, 201);
    let hex = mailbox.to_hex();
    let append = Recorded::new(
        &key,
        Operation::Append,
        format!("/v1/mailboxes/{hex}/blobs"),
        b"sent once".to_vec(),
    );
    let read = Recorded::new(
        &key,
        Operation::Read,
        format!("/v1/mailboxes/{hex}/read"),
        br#"{"after":0}"#.to_vec(),
    );
    assert_eq!(append.send(&mut c).await.status, 200);
    assert_eq!(read.send(&mut c).await.status, 200);
    // Within one run the memory cache refuses them.
    assert_eq!(code(&append.send(&mut c).await), ErrorCode::ReplayedNonce);
    drop(c);

    // The harshest restart: SIGKILL, no shutdown. Then the same file on the
    // same address, so nothing but the nonce can tell the replay apart.
    p.kill();
    let mut p = relay_process(dir.path()).listen(addr).start();
    let mut c = client(&p).await;
    let r = append.send(&mut c).await;
    assert_eq!(code(&r), ErrorCode::ReplayedNonce, "{r:?}");
    let r = read.send(&mut c).await;
    assert_eq!(code(&r), ErrorCode::ReplayedNonce, "{r:?}");
    // Nothing was appended twice, and fresh requests still work.
    let r = c.read(&key, &mailbox, 0, None).await.unwrap();
    let page: ReadPage = r.json().unwrap();
    assert_eq!(page.blobs.len(), 1);
    assert_eq!(page.last_seq, 1);

    // And after a graceful restart too.
    stop(&mut p);
    let mut p = relay_process(dir.path()).listen(addr).start();
    let mut c = client(&p).await;
    assert_eq!(code(&append.send(&mut c).await), ErrorCode::ReplayedNonce);
    stop(&mut p);
}
