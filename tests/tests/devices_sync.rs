//! Devices converge through a real relay process over TLS: create, invite,
//! join, plan, sign up while offline, sync, remove; and the relay's files
//! hold none of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::{MyPlace, SafeSpaces};
use safespaces_core::model::{
    Place, Role, SessionDraft, SessionKind, SignUpState, Timestamp, TrainingModule,
};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::relay::{RelayConfig, RelayTransport, RetryPolicy};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, journal_texts, link_through_relay,
};

fn options() -> ProfileOptions {
    ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    }
}

fn device(dir: &std::path::Path) -> SafeSpaces {
    SafeSpaces::create(dir, UnlockSecret::passphrase("test passphrase"), options()).unwrap()
}

fn client(relay: &RelayProcess) -> RelayTransport {
    let config = RelayConfig::pinned(&relay.url(), relay.pin())
        .unwrap()
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_attempts: 4,
        })
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(10));
    RelayTransport::new(config).unwrap()
}

fn draft(title: &str, capacity: u32) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::SurvivorDiscussionGroup,
        title: title.into(),
        description: "CANARY-description".into(),
        starts_at: Timestamp(2_000_000_000),
        duration_minutes: 90,
        location: "shared with attendees".into(),
        capacity,
        content_notes: vec!["discusses experiences of assault".into()],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_converge_through_the_relay_and_a_removed_one_stays_behind() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = device(dirs[0].path());
    let blake = device(dirs[1].path());
    let casey = device(dirs[2].path());
    let now = Timestamp(1_000);

    // Robin: a space, a session Robin is cleared to lead.
    let space = robin
        .create_space("CANARY-space", "CANARY-Robin", now)
        .unwrap();
    let me = space.my_member_id().unwrap();
    let session = space
        .create_session(
            draft("CANARY-circle", 1),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    for module in TrainingModule::ALL {
        space
            .record_training(&me, module, Timestamp(0), Timestamp(i64::MAX / 2))
            .unwrap();
    }
    space.volunteer_to_lead(&session, now).unwrap();
    robin.sync(&net, now).await.unwrap();

    // Invites travel through one-time drop-boxes.
    let mut joined = Vec::new();
    for (who, name) in [(&blake, "CANARY-Blake"), (&casey, "CANARY-Casey")] {
        let (theirs, invitation, _) =
            join_through_relay(&robin, &space, who, Role::Member, name, &net, now).await;
        joined.push(theirs);
        // The code works once: its package is gone from the relay.
        assert!(
            who.join_via_relay(&net, &invitation.code, name, now)
                .await
                .is_err()
        );
    }
    robin.sync(&net, now).await.unwrap();
    assert_eq!(space.members().unwrap().len(), 3);

    // Blake and Casey sign up while offline; Blake first.
    assert_eq!(
        joined[0]
            .sign_up(&session, SignUpState::Attending, Timestamp(1_100))
            .unwrap(),
        MyPlace::Requested(SignUpState::Attending)
    );
    joined[1]
        .sign_up(&session, SignUpState::Attending, Timestamp(1_200))
        .unwrap();
    // Casey syncs first, but Blake asked first: the order is by request time.
    casey.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();
    // Robin's device records them later (its clock bounds each queue time
    // from above: a place is never later than when a lead first saw it).
    let recorded = robin.sync(&net, Timestamp(1_300)).await.unwrap();
    assert_eq!(recorded.requests_recorded, 2, "{recorded:?}");
    blake.sync(&net, now).await.unwrap();
    casey.sync(&net, now).await.unwrap();
    assert_eq!(
        joined[0].my_place(&session, now).unwrap(),
        MyPlace::Recorded(Place::Attending)
    );
    assert_eq!(
        joined[1].my_place(&session, now).unwrap(),
        MyPlace::Recorded(Place::Waitlisted { position: 1 })
    );
    let names: Vec<String> = space
        .attendees(&session)
        .unwrap()
        .into_iter()
        .map(|a| a.holder.pseudonym)
        .collect();
    assert_eq!(names, vec!["CANARY-Blake", "CANARY-Casey"]);
    assert!(
        joined[0].attendees(&session).unwrap().is_empty(),
        "members see counts, not names"
    );

    // Identical state everywhere.
    for other in &joined {
        assert_eq!(other.sessions().unwrap(), space.sessions().unwrap());
        assert_eq!(other.members().unwrap(), space.members().unwrap());
    }

    // Removal through the relay: Casey stays at the old state.
    let casey_id = joined[1].my_member_id().unwrap();
    space.remove_member(&casey_id, now).unwrap();
    space
        .create_session(
            draft("CANARY-after", 5),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();
    let casey_report = casey.sync(&net, now).await.unwrap();
    assert_eq!(casey_report.left_out, vec![space.id()]);
    assert_eq!(joined[0].sessions().unwrap().len(), 2);
    assert_eq!(joined[1].sessions().unwrap().len(), 1);
    for app in [&robin, &blake, &casey] {
        assert_no_sequence_alerts(app);
    }

    // The relay's files hold none of it.
    drop(relay);
    for entry in walk(relay_dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !contains(&bytes, "CANARY"),
            "plaintext in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_downloads_a_snapshot_and_a_bounded_tail() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = device(dirs[0].path());
    let blake = device(dirs[1].path());
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let session = space
        .create_session(draft("Walk", 5), safespaces_core::model::Timestamp(0))
        .unwrap();
    // 2,000 changes in 400 syncs: 400 blobs, past the compaction bound.
    let mut snapshots = 0;
    for round in 0..400 {
        for i in 0..5 {
            space
                .edit_session(
                    &session,
                    safespaces_core::model::SessionEdit {
                        title: Some(format!("Walk {round}.{i}")),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        snapshots += robin.sync(&net, now).await.unwrap().snapshots;
    }
    assert!(
        snapshots >= 2,
        "the mailbox was compacted ({snapshots} snapshots)"
    );
    let (joined, _, report) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    assert!(
        report.pulled <= safespaces_core::app::COMPACT_AFTER_BLOBS as usize + 10,
        "downloaded {} blobs",
        report.pulled
    );
    assert_eq!(joined.session(&session).unwrap().title, "Walk 399.4");
    assert_eq!(joined.sessions().unwrap(), space.sessions().unwrap());
    // The joiner started from a snapshot that vouches for the numbers the
    // compactions deleted.
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&blake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_while_the_relay_is_down_go_out_once_it_is_back() {
    let relay_dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let robin = device(dirs[0].path());
    let blake = device(dirs[1].path());
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let (theirs, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Lead, "Blake", &net, now).await;
    robin.sync(&net, now).await.unwrap();

    // The relay goes down; both keep planning.
    relay.kill();
    let a = space
        .create_session(
            draft("Made by Robin offline", 5),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    let b = theirs
        .create_session(
            draft("Made by Blake offline", 5),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    match robin.sync(&net, now).await {
        Err(safespaces_core::app::AppError::Relay(e)) => assert!(e.is_transient(), "{e}"),
        other => panic!("expected an offline error, got {other:?}"),
    }
    // Nothing is lost across a restart of the app either.
    drop(robin);
    let robin = SafeSpaces::open(dirs[0].path(), options()).unwrap();
    robin
        .unlock(&UnlockSecret::passphrase("test passphrase"))
        .unwrap();

    relay.restart();
    let net = client(&relay);
    for _ in 0..2 {
        robin.sync(&net, now).await.unwrap();
        blake.sync(&net, now).await.unwrap();
    }
    let space = robin.space(&space.id()).unwrap();
    for s in [&space, &theirs] {
        let titles: Vec<String> = s
            .sessions()
            .unwrap()
            .into_iter()
            .map(|(_, s)| s.title)
            .collect();
        assert_eq!(titles.len(), 2, "{titles:?}");
        assert!(s.session(&a).is_ok() && s.session(&b).is_ok());
    }
    // Syncing again sends and applies nothing new: no duplicates.
    let again = robin.sync(&net, now).await.unwrap();
    assert_eq!((again.pushed, again.applied), (0, 0), "{again:?}");
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&blake);
}

struct Changes(tokio::sync::mpsc::UnboundedSender<String>);

impl safespaces_core::app::SpaceListener for Changes {
    fn space_changed(&self, space_id: String) {
        let _ = self.0.send(space_id);
    }

    fn journal_changed(&self) {
        let _ = self.0.send("journal".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_reach_the_listener_without_calling_sync() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let robin = device(dirs[0].path());
    let blake = device(dirs[1].path());
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let (theirs, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Lead, "Blake", &net, now).await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let live = robin
        .live(net.clone(), std::sync::Arc::new(Changes(tx)))
        .unwrap();
    // Blake plans a session and syncs; Robin's app only listens.
    let session = theirs
        .create_session(draft("Made live", 4), safespaces_core::model::Timestamp(0))
        .unwrap();
    blake.sync(&net, now).await.unwrap();
    let robin_space = robin.space(&space.id()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let changed = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the listener fired in time")
            .unwrap();
        assert_eq!(changed, space.id());
        if robin_space.session(&session).is_ok() {
            break;
        }
    }
    // Robin's own edits go out on the live tick, without calling sync.
    robin_space
        .edit_session(
            &session,
            safespaces_core::model::SessionEdit {
                title: Some("Renamed live".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        blake.sync(&net, now).await.unwrap();
        if theirs.session(&session).unwrap().title == "Renamed live" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Robin's edit never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(live);
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&blake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_links_a_second_device_that_then_writes_as_them() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let phone = device(dirs[0].path());
    let laptop = device(dirs[1].path());
    let space = phone.create_space("Group", "Robin", now).unwrap();
    let session = space
        .create_session(draft("Walk", 5), safespaces_core::model::Timestamp(0))
        .unwrap();
    phone.sync(&net, now).await.unwrap();

    let (offer, linked) = link_through_relay(&phone, &laptop, &net, now).await;
    assert!(offer.code.starts_with("sl1-"));
    assert_eq!(linked, 1);
    let on_laptop = laptop.space(&space.id()).unwrap();
    assert_eq!(
        on_laptop.my_member_id().unwrap(),
        space.my_member_id().unwrap()
    );
    assert_eq!(on_laptop.sessions().unwrap(), space.sessions().unwrap());

    // The laptop writes as the same person, and the phone accepts it.
    on_laptop
        .edit_session(
            &session,
            safespaces_core::model::SessionEdit {
                title: Some("Walk (from the laptop)".into()),
                ..Default::default()
            },
        )
        .unwrap();
    laptop.sync(&net, now).await.unwrap();
    let report = phone.sync(&net, now).await.unwrap();
    assert_eq!(report.refused, 0, "{report:?}");
    assert_eq!(
        space.session(&session).unwrap().title,
        "Walk (from the laptop)"
    );
    // The link code works once.
    assert!(phone.begin_link(&net, &offer.code).await.is_err());
    assert_no_sequence_alerts(&phone);
    assert_no_sequence_alerts(&laptop);
}

/// One person's phone, with a space, and their laptop linked to it through
/// the relay.
async fn linked_pair(
    dirs: &[tempfile::TempDir],
    net: &RelayTransport,
    now: Timestamp,
) -> (SafeSpaces, SafeSpaces) {
    let phone = device(dirs[0].path());
    let laptop = device(dirs[1].path());
    phone.create_space("Group", "Robin", now).unwrap();
    phone.sync(net, now).await.unwrap();
    link_through_relay(&phone, &laptop, net, now).await;
    (phone, laptop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_stays_on_the_device_until_journal_sync_is_turned_on() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let (phone, laptop) = linked_pair(&dirs, &net, now).await;

    let entry = phone
        .journal()
        .add("a private thought", Some(3), &[], now)
        .unwrap();
    phone.sync(&net, now).await.unwrap();
    laptop.sync(&net, now).await.unwrap();
    assert!(
        laptop.journal().entries().unwrap().is_empty(),
        "off by default: never leaves the device"
    );

    phone.journal().set_sync(true).unwrap();
    laptop.journal().set_sync(true).unwrap();
    // Two journals that began apart settle on one by adoption (model.md):
    // at most two rounds.
    for _ in 0..2 {
        phone.sync(&net, now).await.unwrap();
        laptop.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        laptop.journal().entries().unwrap()[0].text,
        "a private thought"
    );

    // Offline on both: the laptop deletes the entry, the phone writes another.
    laptop.journal().delete(&entry).unwrap();
    phone
        .journal()
        .add("written later on the phone", None, &[], now)
        .unwrap();
    for _ in 0..2 {
        laptop.sync(&net, now).await.unwrap();
        phone.sync(&net, now).await.unwrap();
    }
    for journal in [phone.journal(), laptop.journal()] {
        let texts: Vec<String> = journal
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(
            texts,
            vec!["written later on the phone".to_string()],
            "the delete holds, nothing else lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_journal_sync_on_an_entry_reaches_the_other_device_live() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let (phone, laptop) = linked_pair(&dirs, &net, now).await;
    phone.journal().set_sync(true).unwrap();
    laptop.journal().set_sync(true).unwrap();
    for _ in 0..2 {
        phone.sync(&net, now).await.unwrap();
        laptop.sync(&net, now).await.unwrap();
    }

    // Both apps are live; neither calls sync from here on.
    let (tx, _phone_changes) = tokio::sync::mpsc::unbounded_channel();
    let phone_live = phone
        .live(net.clone(), std::sync::Arc::new(Changes(tx)))
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let laptop_live = laptop
        .live(net.clone(), std::sync::Arc::new(Changes(tx)))
        .unwrap();
    phone
        .journal()
        .add("written on the phone, read on the laptop", None, &[], now)
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let changed = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the laptop heard of the journal in time")
            .unwrap();
        if changed != "journal" {
            continue;
        }
        if journal_texts(&laptop).contains(&"written on the phone, read on the laptop".to_string())
        {
            break;
        }
    }
    drop((phone_live, laptop_live));
}

/// `n` edits by `who` (a coordinator's space), each synced at `at`: past
/// the compaction bound. Returns how many snapshots it uploaded.
async fn churn(
    who: &SafeSpaces,
    space: &safespaces_core::app::Space,
    session: &safespaces_core::model::SessionId,
    net: &RelayTransport,
    at: Timestamp,
) -> usize {
    let mut snapshots = 0;
    for round in 0..320 {
        space
            .edit_session(
                session,
                safespaces_core::model::SessionEdit {
                    description: Some(format!("round {round}")),
                    ..Default::default()
                },
            )
            .unwrap();
        snapshots += who.sync(net, at).await.unwrap().snapshots;
    }
    snapshots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_unread_requests_and_one_lost_anyway_is_sent_again() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = client(&relay);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = device(dirs[0].path());
    let casey = device(dirs[1].path());
    let blake = device(dirs[2].path());
    let now = Timestamp(1_000);
    // Robin is the session's only recording lead.
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let me = space.my_member_id().unwrap();
    let session = space
        .create_session(draft("Circle", 4), Timestamp(0))
        .unwrap();
    for module in TrainingModule::ALL {
        space
            .record_training(&me, module, Timestamp(0), Timestamp(i64::MAX / 2))
            .unwrap();
    }
    space.volunteer_to_lead(&session, now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let (cs, _, _) = join_through_relay(
        &robin,
        &space,
        &casey,
        Role::Coordinator,
        "Casey",
        &net,
        now,
    )
    .await;
    let (bs, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    robin.sync(&net, now).await.unwrap();
    casey.sync(&net, now).await.unwrap();

    // Blake asks; the request waits in the mailbox for Robin, who is away.
    // Casey, a coordinator but not the session's lead, cannot open it; she
    // compacts the mailbox, and keeps it.
    bs.sign_up(&session, SignUpState::Attending, Timestamp(1_100))
        .unwrap();
    blake.sync(&net, Timestamp(1_100)).await.unwrap();
    assert!(churn(&casey, &cs, &session, &net, Timestamp(1_200)).await >= 1);
    let back = robin.sync(&net, Timestamp(1_300)).await.unwrap();
    assert_eq!(back.requests_recorded, 1, "{back:?}");
    blake.sync(&net, Timestamp(1_300)).await.unwrap();
    assert_eq!(
        bs.my_place(&session, Timestamp(1_300)).unwrap(),
        MyPlace::Recorded(Place::Attending)
    );

    // Blake cancels; Robin stays away for longer than compaction holds a
    // request, so Casey's next compaction drops it unread.
    bs.sign_up(&session, SignUpState::Cancelled, Timestamp(2_000))
        .unwrap();
    blake.sync(&net, Timestamp(2_000)).await.unwrap();
    casey.sync(&net, Timestamp(2_000)).await.unwrap();
    let late = Timestamp(2_000 + safespaces_core::app::HOLD_REQUESTS_SECS);
    assert!(churn(&casey, &cs, &session, &net, late).await >= 1);
    let back = robin.sync(&net, late).await.unwrap();
    assert_eq!(back.requests_recorded, 0, "the request was compacted away");
    assert_eq!(
        bs.my_place(&session, late).unwrap(),
        MyPlace::Requested(SignUpState::Cancelled)
    );
    // Blake's device sends it again (it is past the re-send interval);
    // Robin records it, and Blake's place is given up.
    blake.sync(&net, late).await.unwrap();
    let recorded = robin.sync(&net, late).await.unwrap();
    assert_eq!(recorded.requests_recorded, 1, "{recorded:?}");
    blake.sync(&net, late).await.unwrap();
    assert_eq!(
        bs.my_place(&session, late).unwrap(),
        MyPlace::Recorded(Place::Cancelled)
    );
    // Robin came back past two compactions: the snapshots vouch for what
    // they deleted, and requests are not numbered.
    for app in [&robin, &casey, &blake] {
        assert_no_sequence_alerts(app);
    }
}
