//! Devices for the end-to-end tests (and a session for them to plan): a real profile (with the scrypt work
//! turned down, which only tests may do) and a relay client pinned to a
//! [`RelayProcess`](crate::RelayProcess), with retries short enough for
//! loopback; joining a space and linking a device through the relay.

use std::path::Path;
use std::time::Duration;

use safespaces_core::app::{Invitation, LinkOffer, SafeSpaces, Space, SyncReport};
use safespaces_core::model::{Role, SessionDraft, SessionKind, Timestamp};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::relay::{RelayConfig, RelayTransport, RetryPolicy};

use safespaces_relay::test_support::relay_process::RelayProcess;

fn test_options() -> ProfileOptions {
    ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    }
}

/// A new device: a profile created in `dir`, unlocked.
pub fn test_device(dir: &Path) -> SafeSpaces {
    SafeSpaces::create(
        dir,
        UnlockSecret::passphrase("test passphrase"),
        test_options(),
    )
    .expect("a test profile")
}

/// A device restored into `dir` from `backup` (a test device's export,
/// under `backup_passphrase`), unlocked with the test passphrase: what
/// someone holding an old backup of a phone runs.
pub fn restore_test_device(backup: &[u8], backup_passphrase: &str, dir: &Path) -> SafeSpaces {
    safespaces_core::profile::Profile::restore_backup(
        backup,
        &age::secrecy::SecretString::from(backup_passphrase.to_string()),
        dir,
        UnlockSecret::passphrase("test passphrase"),
        test_options(),
    )
    .expect("a restored backup");
    let app = SafeSpaces::open(dir, test_options()).expect("the restored profile");
    app.unlock(&UnlockSecret::passphrase("test passphrase"))
        .expect("unlocks");
    app
}

/// The titles of a space's sessions on `app`, sorted (the order of
/// sessions at one time depends on their random ids).
pub fn session_titles(app: &SafeSpaces, space: &str) -> Vec<String> {
    let mut titles: Vec<String> = app
        .space(space)
        .expect("the space")
        .sessions()
        .expect("its sessions")
        .into_iter()
        .map(|(_, s)| s.title)
        .collect();
    titles.sort();
    titles
}

/// The texts of the journal's entries on `app`, sorted (entries written at
/// one time on two devices come in either order).
pub fn journal_texts(app: &SafeSpaces) -> Vec<String> {
    let mut texts: Vec<String> = app
        .journal()
        .entries()
        .expect("the journal")
        .into_iter()
        .map(|e| e.text)
        .collect();
    texts.sort();
    texts
}

/// A client of `relay`, pinned to its certificate, whose requests give up
/// after `request` (a body of many megabytes needs more than the default).
pub fn test_client(relay: &RelayProcess, request: Duration) -> RelayTransport {
    let config = RelayConfig::pinned(&relay.url(), relay.pin())
        .expect("the relay's pin")
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_attempts: 4,
        })
        .with_timeouts(Duration::from_secs(5), request);
    RelayTransport::new(config).expect("a relay client")
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
    net: &RelayTransport,
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

/// Links `new` to the person whose device `old` is, through the relay the
/// way the apps do: the new device offers, the old one claims the request
/// and shows its fingerprint, the person confirms the one the new screen
/// shows (the same, checked here), and the new device takes the package.
/// Returns the offer and how many spaces the new device took on.
pub async fn link_through_relay(
    old: &SafeSpaces,
    new: &SafeSpaces,
    net: &RelayTransport,
    now: Timestamp,
) -> (LinkOffer, usize) {
    let offer = new.offer_link(net).await.expect("the offer");
    let pending = old
        .begin_link(net, &offer.code)
        .await
        .expect("the request claimed");
    assert_eq!(
        pending.fingerprint(),
        offer.fingerprint,
        "both screens show the same fingerprint"
    );
    let (linked, confirmed) = tokio::join!(
        new.complete_link(net, &offer, Duration::from_secs(20), now),
        old.confirm_link(net, &pending, &offer.fingerprint, now)
    );
    confirmed.expect("the link confirmed");
    let linked = linked.expect("the package taken");
    (offer, linked)
}

/// The epoch key `app` holds for `space` (hex) at `epoch`: what a member's
/// modified app, or a test playing the relay's part with real bytes, uses
/// (its keyring id is derived, storage.md).
pub fn held_epoch_key(
    app: &SafeSpaces,
    space: &str,
    epoch: u32,
) -> safespaces_core::protocol::EpochKey {
    crate::own_storage::epoch_key(app, space, epoch)
}

/// Asserts that no envelope of any space on `app` was ever found missing
/// or its number reused (`Space::sequence_status`): what every honest flow
/// must show, since a false alarm tells a survivor something is wrong when
/// it is not.
pub fn assert_no_sequence_alerts(app: &SafeSpaces) {
    for summary in app.spaces().expect("the spaces") {
        let status = app
            .space(&summary.id)
            .and_then(|s| s.sequence_status())
            .expect("the space's status");
        assert_eq!(
            status,
            safespaces_core::app::SequenceStatus::default(),
            "a false alarm in {}",
            summary.name
        );
    }
}
