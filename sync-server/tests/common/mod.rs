//! Shared setup for the relay's integration tests: a real relay on
//! 127.0.0.1:0 over real TLS, in this process, with a fresh data directory;
//! or this crate's relay binary as a child process ([`relay_process`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use rand::RngCore as _;
use rustls::ClientConfig;
use safespaces_relay::test_support::client::{self, TestRelayClient};
use safespaces_relay::test_support::relay_process::RelayOptions;
use safespaces_relay::{Config, Relay};
use safespaces_wire::{ErrorBody, ErrorCode, MailboxId};

pub struct TestRelay {
    pub relay: Relay,
    pub tls: Arc<ClientConfig>,
    pub dir: tempfile::TempDir,
}

impl TestRelay {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            Config::with_defaults(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
        // The operator listener, so tests can read the metrics.
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        tweak(&mut config);
        let relay = Relay::start(config).await.unwrap();
        let tls = client::pinned_config(&relay.pin()).unwrap();
        Self { relay, tls, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        self.relay.local_addr()
    }

    /// The Prometheus text from the operator listener (start the relay
    /// with `metrics_listen` set).
    pub async fn metrics(&self) -> String {
        let addr = self
            .relay
            .metrics_addr()
            .expect("started with metrics_listen");
        let r = client::get_plain(addr, "/metrics").await.unwrap();
        assert_eq!(r.status, 200);
        String::from_utf8(r.body.to_vec()).unwrap()
    }

    pub async fn client(&self) -> TestRelayClient {
        TestRelayClient::connect(self.addr(), self.tls.clone())
            .await
            .unwrap()
    }
}

/// This crate's relay binary as a child process with `dir` for its data,
/// in development mode on `127.0.0.1:0`, with its operator listener on
/// (`RelayProcess::metrics`).
pub fn relay_process(dir: &Path) -> RelayOptions {
    RelayOptions::new(env!("CARGO_BIN_EXE_safespaces-relay"), dir).metrics()
}

pub fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

pub fn random_mailbox() -> MailboxId {
    let mut id = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    MailboxId::from_bytes(id)
}

/// A fresh member key and the id of the mailbox the test client creates
/// for it ([`client::mailbox_for`]).
pub fn key_and_mailbox() -> (SigningKey, MailboxId) {
    let key = random_key();
    let id = client::mailbox_for(&key);
    (key, id)
}

/// A mailbox created on the relay, with its key.
pub async fn new_mailbox(c: &mut TestRelayClient) -> (SigningKey, MailboxId) {
    let key = random_key();
    let id = client::mailbox_for(&key);
    let r = c.create_mailbox(&key, &id).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    (key, id)
}

/// Asserts a refusal: status and code.
pub fn assert_refused(reply: &client::Reply, status: u16, code: ErrorCode) {
    assert_eq!(
        reply.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let body: ErrorBody = reply.json().expect("a JSON error body");
    assert_eq!(body.code, code, "message: {}", body.message);
    assert!(!body.message.is_empty());
}
