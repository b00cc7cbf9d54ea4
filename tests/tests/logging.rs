//! What core logs while devices sync through a real relay process: the
//! events a support person needs arrive, and none of them carries content
//! or identifiers (the rule in `safespaces_core`'s crate docs, "Logging").
//!
//! Every event of this project's crates (targets `safespaces…`, what the
//! FFI forwards to the app; dependencies' events never reach it) is
//! captured at every level, rendered the way a plain text logger prints
//! it, and searched for canary strings written into the space, the session
//! and the journal, and for the ids, codes, address and pin the devices
//! used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use safespaces_core::app::{SafeSpaces, SpaceListener};
use safespaces_core::model::{Role, SessionDraft, SessionKind, SignUpState, Timestamp};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::relay::{RelayConfig, RelayTransport};
use safespaces_e2e::{join_through_relay, link_through_relay};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

mod common;

/// Everything every event printed, in this test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn device(dir: &std::path::Path) -> SafeSpaces {
    let options = ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    };
    SafeSpaces::create(dir, UnlockSecret::passphrase("test passphrase"), options).unwrap()
}

/// A client like the other tests' but for any address and pin, to fail.
fn client_for(url: &str, pin: &str) -> RelayTransport {
    RelayTransport::new(
        RelayConfig::pinned(url, pin)
            .unwrap()
            .with_retry(common::quick_retry()),
    )
    .unwrap()
}

struct Changes(tokio::sync::mpsc::UnboundedSender<()>);

impl SpaceListener for Changes {
    fn space_changed(&self, _: String) {
        let _ = self.0.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_sync_logs_what_happened_and_never_content_or_ids() {
    let captured = Captured::default();
    // The process-wide subscriber: sync work runs on every runtime thread.
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(Targets::new().with_target("safespaces", LevelFilter::TRACE))
        .try_init()
        .expect("no other subscriber in this test process");

    let relay = common::start_relay();
    let net = common::client(&relay.process);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let phone = device(dirs[0].path());
    let laptop = device(dirs[1].path());
    let friend = device(dirs[2].path());

    // Content: a space, a session, a journal entry, all full of canaries.
    let space = phone
        .create_space("CANARY-space-name", "CANARY-pseudonym-phone", now)
        .unwrap();
    let session = space
        .create_session(
            SessionDraft {
                kind: SessionKind::SurvivorDiscussionGroup,
                title: "CANARY-session-title".into(),
                description: "CANARY-session-description".into(),
                starts_at: Timestamp(2_000_000_000),
                duration_minutes: 60,
                location: "CANARY-location".into(),
                capacity: 4,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    let entry = phone
        .journal()
        .add(
            "CANARY-journal-text",
            Some(2),
            &["CANARY-journal-tag".to_string()],
            now,
        )
        .unwrap();
    phone.journal().set_sync(true).unwrap();
    phone.sync(&net, now).await.unwrap();

    // A second device of the same person, linked through the relay; its
    // journal syncs too.
    let (offer, linked) = link_through_relay(&phone, &laptop, &net, now).await;
    assert_eq!(linked, 1);
    let fingerprint = offer.fingerprint.clone();
    laptop.journal().set_sync(true).unwrap();
    for _ in 0..2 {
        laptop.sync(&net, now).await.unwrap();
        phone.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        laptop.journal().entries().unwrap()[0].text,
        "CANARY-journal-text"
    );

    // Someone else joins through an invite and signs up; the phone is live.
    let (theirs, invitation, _) = join_through_relay(
        &phone,
        &space,
        &friend,
        Role::Member,
        "CANARY-pseudonym-friend",
        &net,
        now,
    )
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let live = phone.live(net.clone(), Arc::new(Changes(tx))).unwrap();
    theirs
        .sign_up(&session, SignUpState::Attending, now)
        .unwrap();
    // A change the phone hears about (the sign-up waits for a cleared lead).
    theirs.volunteer_to_lead(&session, now).unwrap();
    friend.sync(&net, now).await.unwrap();
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("the live listener fired");
    // The listener may have fired from the live task's periodic pass, which
    // also pulls; wait until the subscription has delivered the blob too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !captured.text().contains("live update received") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription never delivered the sign-up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(live);

    // Failures: a wrong pin, and nobody listening.
    let wrong_pin = client_for(&relay.process.url(), &"00".repeat(32));
    assert!(phone.sync(&wrong_pin, now).await.is_err());
    let nobody = client_for("https://127.0.0.1:1", relay.process.pin());
    assert!(phone.sync(&nobody, now).await.is_err());
    // Give the live task's last events (and its subscription's) a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = captured.text();
    // What a support person needs is there…
    for expected in [
        "space sync pass",
        "sync finished",
        "journal sync pass",
        "pushed a journal snapshot",
        "created a space's mailbox",
        "device link step done step=\"offer\"",
        "step=\"begin\"",
        "step=\"confirm\"",
        "step=\"complete\"",
        "joined a space through the relay",
        "relay request done",
        "live updates started",
        "live update received",
        "live updates stopped",
        "subscription connected",
        "subscription stopped",
        "sync status changed",
        "kind=\"pin_mismatch\"",
        "relay request failed; retrying",
        "kind=\"offline\"",
        "space sync failed",
    ] {
        assert!(log.contains(expected), "no {expected:?} in the log:\n{log}");
    }
    // …and nothing a log must never carry.
    let mut never = vec![
        "CANARY".to_string(),
        space.id(),
        session.as_str().to_owned(),
        entry.as_str().to_owned(),
        space.my_member_id().unwrap().as_str().to_owned(),
        invitation.code.clone(),
        invitation.dropbox_id.clone(),
        invitation.invite_id.clone(),
        safespaces_core::protocol::invite::InviteSecret::parse(&invitation.code)
            .unwrap()
            .request_dropbox_id(),
        safespaces_core::protocol::invite::InviteSecret::parse(&invitation.code)
            .unwrap()
            .welcome_dropbox_id(),
        offer.code.clone(),
        fingerprint,
        // The relay's address (the test relay's and the unreachable one).
        "127.0.0.1".to_string(),
        relay.process.pin().to_string(),
    ];
    for d in [&phone, &laptop, &friend] {
        never.push(d.device_id().unwrap().as_str().to_owned());
    }
    for secret in never {
        assert!(!log.contains(&secret), "the log carries {secret:?}:\n{log}");
    }
}
