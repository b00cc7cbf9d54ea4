//! Shared setup of the relay-client tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use safespaces_core::protocol::EpochKey;
use safespaces_core::relay::{MailboxCredential, RelayConfig, RelayTransport, RetryPolicy};
use safespaces_e2e::RelayProcess;

/// A relay in a fresh temporary data directory (removed when dropped, after
/// the process: fields drop in order).
pub struct Relay {
    pub process: RelayProcess,
    pub dir: tempfile::TempDir,
}

pub fn start_relay() -> Relay {
    start_relay_with(&[])
}

pub fn start_relay_with(extra: &[&str]) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let process = RelayProcess::start_with(dir.path(), "127.0.0.1:0".parse().unwrap(), extra);
    Relay { process, dir }
}

/// Retries quick enough for tests: 50 ms doubling to 400 ms, 4 attempts.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        max_attempts: 4,
    }
}

pub fn config(relay: &RelayProcess) -> RelayConfig {
    RelayConfig::pinned(&relay.url(), relay.pin())
        .unwrap()
        .with_retry(quick_retry())
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
}

pub fn client(relay: &RelayProcess) -> RelayTransport {
    RelayTransport::new(config(relay)).unwrap()
}

/// A fresh epoch's mailbox credential, as a space would derive it.
pub fn new_mailbox() -> MailboxCredential {
    let admin = safespaces_core::protocol::AdminSeed::generate();
    MailboxCredential::for_epoch(&EpochKey::generate(), admin.public(), Some(&admin))
}

/// Runs a test body with a hard time bound, so a hang fails instead of
/// blocking the suite.
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(25), body)
        .await
        .expect("the test finished within 25 s")
}
