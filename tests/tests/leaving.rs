//! A member leaves, through a real relay over TLS: the first coordinator
//! device that sees the departure moves the space to a new epoch (once,
//! even when two see it at the same time), and neither her device nor a
//! profile restored from her earlier backup opens anything written after.
//! She can forget the space, or come back on the same phone with a new
//! invite, through the relay or with files handed over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use age::secrecy::SecretString;
use safespaces_core::app::{AppError, SafeSpaces, Space};
use safespaces_core::model::{Resource, ResourceCategory, Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, restore_test_device,
    session_titles, test_client, test_device, test_session,
};

fn resource(name: &str) -> Resource {
    Resource {
        category: ResourceCategory::CrisisLine,
        name: name.into(),
        contact: "0800 000 000".into(),
        hours: "24/7".into(),
        notes: String::new(),
    }
}

fn resources(app: &SafeSpaces, space: &str) -> Vec<String> {
    let mut r: Vec<String> = app
        .space(space)
        .unwrap()
        .resources(None)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.name)
        .collect();
    r.sort();
    r
}

/// Whether this device lists the space as one its person is no longer in.
fn left(app: &SafeSpaces, space: &str) -> bool {
    app.spaces()
        .unwrap()
        .into_iter()
        .find(|s| s.id == space)
        .expect("the space is listed")
        .left
}

/// A relay in a fresh directory (the process drops before its directory)
/// and a client of it.
struct Relay {
    _process: RelayProcess,
    _dir: tempfile::TempDir,
}

fn relay() -> (Relay, safespaces_core::relay::RelayTransport) {
    let dir = tempfile::tempdir().unwrap();
    let process = RelayProcess::start(dir.path());
    let net = test_client(&process, Duration::from_secs(10));
    (
        Relay {
            _process: process,
            _dir: dir,
        },
        net,
    )
}

/// `n` new devices, each in its own directory.
fn devices(n: usize) -> (Vec<tempfile::TempDir>, Vec<SafeSpaces>) {
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let apps = dirs.iter().map(|d| test_device(d.path())).collect();
    (dirs, apps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_member_and_her_restored_backup_read_nothing_written_after_she_left() {
    let (_relay, net) = relay();
    let (_dirs, apps) = devices(4);
    let restored_dir = tempfile::tempdir().unwrap();
    let now = Timestamp(1_000);
    let [robin, ash, blake, casey] = <[SafeSpaces; 4]>::try_from(apps).ok().unwrap();

    // Robin and Ash coordinate; Blake and Casey are members.
    let space = robin.create_space("Group", "Robin", now).unwrap();
    space
        .create_session(test_session("CANARY-before"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let (ashs, _, _) =
        join_through_relay(&robin, &space, &ash, Role::Coordinator, "Ash", &net, now).await;
    let (blakes, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    join_through_relay(&robin, &space, &casey, Role::Member, "Casey", &net, now).await;
    for app in [&robin, &ash, &blake, &casey] {
        app.sync(&net, now).await.unwrap();
    }
    assert_eq!(space.epoch().unwrap(), 0);
    let id = space.id();
    let backup = blake
        .profile()
        .export_backup(&SecretString::from("backup words".to_string()))
        .unwrap();

    // Blake leaves and syncs: the departure goes out under the old key.
    blakes.leave(now).unwrap();
    blake.sync(&net, now).await.unwrap();
    // Both coordinators' devices see it in the same round and both rotate;
    // the lower handover wins on both, so they end on one key.
    let (a, b) = tokio::join!(robin.sync(&net, now), ash.sync(&net, now));
    a.unwrap();
    b.unwrap();
    for app in [&robin, &ash, &robin, &ash] {
        app.sync(&net, now).await.unwrap();
    }
    // One step, whoever rotated: both hold epoch 1 (and below, each reads
    // what the other seals there, so they hold its one key).
    assert_eq!(space.epoch().unwrap(), 1);
    assert_eq!(ashs.epoch().unwrap(), 1);
    // Written after the departure, by both coordinators.
    space
        .create_session(test_session("CANARY-after-robin"), now)
        .unwrap();
    space.add_resource(resource("CANARY-line")).unwrap();
    ashs.create_session(test_session("CANARY-after-ash"), now)
        .unwrap();
    for app in [&robin, &ash, &casey, &robin, &ash, &casey] {
        app.sync(&net, now).await.unwrap();
    }
    let expected = vec![
        "CANARY-after-ash".to_string(),
        "CANARY-after-robin".to_string(),
        "CANARY-before".to_string(),
    ];
    assert_eq!(session_titles(&robin, &id), expected);
    assert_eq!(session_titles(&ash, &id), expected, "the rest converge");
    assert_eq!(session_titles(&casey, &id), expected, "the rest converge");
    assert_eq!(casey.space(&id).unwrap().epoch().unwrap(), 1);
    for app in [&robin, &ash, &casey] {
        assert_eq!(resources(app, &id), vec!["CANARY-line".to_string()]);
        assert!(!left(app, &id));
    }

    // Her device syncs and sees nothing new; it is told it is out, and
    // lists the space as one she left (no error: nothing is damaged).
    let report = blake.sync(&net, now).await.unwrap();
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string()]
    );
    assert!(resources(&blake, &id).is_empty());
    assert_eq!(report.left_out, vec![id.clone()], "told she is out of it");
    assert!(left(&blake, &id));
    assert_eq!(blakes.epoch().unwrap(), 0);

    // Nor does a profile restored from the backup she made before leaving.
    let restored = restore_test_device(&backup, "backup words", restored_dir.path());
    for _ in 0..2 {
        restored.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        session_titles(&restored, &id),
        vec!["CANARY-before".to_string()]
    );
    assert!(resources(&restored, &id).is_empty());
    // It read her departure under the old key, and shows her out too.
    assert!(left(&restored, &id));

    // She forgets the space on her phone: it is gone from it, and the rest
    // carry on.
    blake.forget_space(&id).unwrap();
    assert!(blake.spaces().unwrap().is_empty());
    assert!(matches!(blake.space(&id), Err(AppError::UnknownSpace(_))));
    blake.sync(&net, now).await.unwrap();
    // A member cannot forget a space she is still in.
    assert!(casey.forget_space(&id).is_err());
}

/// Her offer to lead the session titled `title`: what a member writes.
fn offer_to_lead(space: &Space, title: &str, now: Timestamp) -> safespaces_core::model::SessionId {
    let (session, _) = space
        .sessions()
        .unwrap()
        .into_iter()
        .find(|(_, s)| s.title == title)
        .unwrap();
    space.volunteer_to_lead(&session, now).unwrap();
    session
}

/// Robin's space with Blake in it, through the relay: both devices synced.
async fn group(
    robin: &SafeSpaces,
    blake: &SafeSpaces,
    net: &safespaces_core::relay::RelayTransport,
    now: Timestamp,
) -> (Space, Space) {
    let space = robin.create_space("Group", "Robin", now).unwrap();
    space
        .create_session(test_session("CANARY-before"), now)
        .unwrap();
    robin.sync(net, now).await.unwrap();
    let (blakes, _, _) =
        join_through_relay(robin, &space, blake, Role::Member, "Blake", net, now).await;
    (space, blakes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_left_comes_back_on_the_same_phone_through_the_relay() {
    let (_relay, net) = relay();
    let (_dirs, apps) = devices(3);
    let now = Timestamp(1_000);
    let [robin, blake, casey] = <[SafeSpaces; 3]>::try_from(apps).ok().unwrap();
    let (space, blakes) = group(&robin, &blake, &net, now).await;
    let id = space.id();
    let first_self = blakes.my_member_id().unwrap();

    // Still in it, an invite cannot be used from her phone: a typed answer.
    let invitation = space.invite(Role::Member, now, None).unwrap();
    let refused = blake
        .request_join(&invitation.code, &invitation.package, "Blake", now)
        .unwrap_err();
    assert!(matches!(refused, AppError::AlreadyMember), "{refused:?}");
    space.revoke_invite(&invitation.invite_id, now).unwrap();

    // She leaves; Robin rotates and writes.
    blakes.leave(now).unwrap();
    blake.sync(&net, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    space
        .create_session(test_session("CANARY-while-away"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();
    assert!(left(&blake, &id));
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string()]
    );

    // Invited again, she comes back on the same phone.
    let (back, _, report) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    assert_eq!(report.joined, vec![id.clone()]);
    assert!(!left(&blake, &id));
    let second_self = back.my_member_id().unwrap();
    assert_ne!(
        second_self, first_self,
        "a new member, the old one stays left"
    );
    assert_eq!(back.epoch().unwrap(), space.epoch().unwrap());
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string(), "CANARY-while-away".to_string()],
        "back in, she reads the space as it is"
    );

    // What she writes counts as her new self on the others' devices.
    let session = offer_to_lead(&back, "CANARY-while-away", now);
    blake.sync(&net, now).await.unwrap();
    let pulled = robin.sync(&net, now).await.unwrap();
    assert_eq!(pulled.refused, 0, "{pulled:?}");
    let leads = space.session_leads(&session, now).unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].member, second_self);

    // And the next rotation gives her phone the new key: Casey joins and
    // leaves, Robin rotates, and Blake reads what Robin writes after.
    join_through_relay(&robin, &space, &casey, Role::Member, "Casey", &net, now).await;
    casey.space(&id).unwrap().leave(now).unwrap();
    casey.sync(&net, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    let epoch = space.epoch().unwrap();
    space
        .create_session(test_session("CANARY-after-casey"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let report = blake.sync(&net, now).await.unwrap();
    assert!(report.left_out.is_empty(), "{report:?}");
    assert_eq!(back.epoch().unwrap(), epoch);
    assert!(session_titles(&blake, &id).contains(&"CANARY-after-casey".to_string()));
    assert!(!session_titles(&casey, &id).contains(&"CANARY-after-casey".to_string()));
    // Her phone went on numbering past what it wrote before it left:
    // nobody sees a number of its used twice.
    for app in [&robin, &blake, &casey] {
        assert_no_sequence_alerts(app);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_left_comes_back_on_the_same_phone_with_files_handed_over() {
    let (_relay, net) = relay();
    let (_dirs, apps) = devices(2);
    let now = Timestamp(1_000);
    let [robin, blake] = <[SafeSpaces; 2]>::try_from(apps).ok().unwrap();
    let (space, blakes) = group(&robin, &blake, &net, now).await;
    let id = space.id();

    // She leaves; her departure reaches Robin in a bundle, and Robin's
    // device rotates before the bundle it hands back leaves it.
    blakes.leave(now).unwrap();
    robin
        .import_bundle(&blakes.export_bundle().unwrap(), now)
        .unwrap();
    space
        .create_session(test_session("CANARY-while-away"), now)
        .unwrap();
    let report = blake
        .import_bundle(&space.export_bundle().unwrap(), now)
        .unwrap();
    assert!(report.left_out, "{report:?}");
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string()]
    );

    // Face to face: the package, her request, the welcome with a bundle.
    let invitation = space.invite(Role::Member, now, None).unwrap();
    let asked = blake
        .request_join(&invitation.code, &invitation.package, "Blake", now)
        .unwrap();
    let welcome = space.admit(&asked.request, now).unwrap();
    let back = blake
        .join(&welcome, &space.export_bundle().unwrap(), now)
        .unwrap();
    assert!(!left(&blake, &id));
    assert_eq!(back.epoch().unwrap(), space.epoch().unwrap());
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string(), "CANARY-while-away".to_string()]
    );
    // Her offer to lead, in a bundle, counts on Robin's device.
    let session = offer_to_lead(&back, "CANARY-while-away", now);
    let imported = robin
        .import_bundle(&back.export_bundle().unwrap(), now)
        .unwrap();
    assert_eq!(imported.refused, 0, "{imported:?}");
    assert_eq!(
        space.session_leads(&session, now).unwrap()[0].member,
        back.my_member_id().unwrap()
    );
    // Then both sync through the relay as well: the handover the files
    // carried is the one in the mailbox, and nothing is out of place.
    for _ in 0..2 {
        robin.sync(&net, now).await.unwrap();
        blake.sync(&net, now).await.unwrap();
    }
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&blake);
}
