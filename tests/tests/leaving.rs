//! A member leaves, through a real relay over TLS: the first coordinator
//! device that sees the departure moves the space to a new epoch (once,
//! even when two see it at the same time), and neither her device nor a
//! profile restored from her earlier backup opens anything written after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use age::secrecy::SecretString;
use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, join_through_relay, restore_test_device, session_titles, test_client,
    test_device, test_session,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_member_and_her_restored_backup_read_nothing_written_after_she_left() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let robin = test_device(dirs[0].path());
    let ash = test_device(dirs[1].path());
    let blake = test_device(dirs[2].path());

    // Robin and Ash coordinate; Blake is a member.
    let space = robin.create_space("Group", "Robin", now).unwrap();
    space
        .create_session(test_session("CANARY-before"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let (ashs, _, _) =
        join_through_relay(&robin, &space, &ash, Role::Coordinator, "Ash", &net, now).await;
    let (blakes, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    for app in [&robin, &ash, &blake] {
        app.sync(&net, now).await.unwrap();
    }
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
    // Written after the departure, by both coordinators.
    space
        .create_session(test_session("CANARY-after-robin"), now)
        .unwrap();
    ashs.create_session(test_session("CANARY-after-ash"), now)
        .unwrap();
    for app in [&robin, &ash, &robin, &ash] {
        app.sync(&net, now).await.unwrap();
    }
    let expected = vec![
        "CANARY-after-ash".to_string(),
        "CANARY-after-robin".to_string(),
        "CANARY-before".to_string(),
    ];
    assert_eq!(session_titles(&robin, &id), expected);
    assert_eq!(session_titles(&ash, &id), expected, "the rest converge");

    // Her device syncs and sees nothing new; it is told it is out.
    let report = blake.sync(&net, now).await.unwrap();
    assert_eq!(
        session_titles(&blake, &id),
        vec!["CANARY-before".to_string()]
    );
    assert_eq!(report.left_out, vec![id.clone()], "told she is out of it");

    // Nor does a profile restored from the backup she made before leaving.
    let restored = restore_test_device(&backup, "backup words", dirs[3].path());
    for _ in 0..2 {
        restored.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        session_titles(&restored, &id),
        vec!["CANARY-before".to_string()]
    );
}
