//! Devices for the end-to-end tests (and a session for them to plan): a real profile (with the scrypt work
//! turned down, which only tests may do) and a relay client pinned to a
//! [`RelayProcess`](crate::RelayProcess), with retries short enough for
//! loopback.

use std::path::Path;
use std::time::Duration;

use safespaces_core::app::{Invitation, SafeSpaces, Space, SyncReport};
use safespaces_core::model::{Role, SessionDraft, SessionKind, Timestamp};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::sync::{RelayClient, RelayConfig, RetryPolicy};

use crate::RelayProcess;

/// A new device: a profile created in `dir`, unlocked.
pub fn test_device(dir: &Path) -> SafeSpaces {
    SafeSpaces::create(
        dir,
        UnlockSecret::passphrase("test passphrase"),
        ProfileOptions {
            passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
        },
    )
    .expect("a test profile")
}

/// A client of `relay`, pinned to its certificate, whose requests give up
/// after `request` (a body of many megabytes needs more than the default).
pub fn test_client(relay: &RelayProcess, request: Duration) -> RelayClient {
    let config = RelayConfig::pinned(&relay.url(), relay.pin())
        .expect("the relay's pin")
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_attempts: 4,
        })
        .with_timeouts(Duration::from_secs(5), request);
    RelayClient::new(config).expect("a relay client")
}

/// A session a lead or coordinator may plan, far in the future.
pub fn test_session(title: &str) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::WellbeingEvent,
        title: title.into(),
        description: String::new(),
        starts_at: Timestamp(2_000_000_000),
        duration_minutes: 60,
        location: String::new(),
        capacity: 8,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

/// Joins `joiner` to `space` through the relay the way the apps do: the
/// inviter's device records and publishes an invite, the joiner asks with
/// its code, the inviter's next sync admits the request, and the joiner's
/// next sync brings the space. Returns the joiner's space, the invitation
/// and the joiner's report of that sync.
pub async fn join_through_relay(
    inviter: &SafeSpaces,
    space: &Space,
    joiner: &SafeSpaces,
    role: Role,
    pseudonym: &str,
    net: &RelayClient,
    now: Timestamp,
) -> (Space, Invitation, SyncReport) {
    let invitation = space.invite(role, now, None).expect("an invite");
    space
        .publish_invite(net, &invitation, now)
        .await
        .expect("the package published");
    inviter.sync(net, now).await.expect("the inviter's sync");
    let asked = joiner
        .join_via_relay(net, &invitation.code, pseudonym, now)
        .await
        .expect("the request left");
    let admitted = inviter.sync(net, now).await.expect("the inviter's sync");
    assert!(admitted.admitted >= 1, "{admitted:?}");
    let report = joiner.sync(net, now).await.expect("the joiner's sync");
    assert_eq!(report.joined, vec![asked.space.clone()], "{report:?}");
    let joined = joiner.space(&asked.space).expect("the joined space");
    (joined, invitation, report)
}
