//! Two coordinators remove two people at the same time, each rotating the
//! space's key, through a real relay: every device settles on the same key
//! (the competing handover with the lower rank, read from the old mailbox),
//! the removal the winner did not answer is answered by the next epoch, and
//! neither removed member reads what follows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::{SafeSpaces, Space};
use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, test_client, test_device,
    test_session,
};

fn has(space: &Space, title: &str) -> bool {
    space
        .sessions()
        .unwrap()
        .iter()
        .any(|(_, s)| s.title == title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_through_the_relay_settle_on_one_key() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(20));
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let apps: Vec<SafeSpaces> = dirs.iter().map(|d| test_device(d.path())).collect();
    let (robin, ash, blake, mallory, casey) = (&apps[0], &apps[1], &apps[2], &apps[3], &apps[4]);
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let mut spaces = vec![space.clone()];
    for (who, name, role) in [
        (ash, "Ash", Role::Coordinator),
        (blake, "Blake", Role::Member),
        (mallory, "Mallory", Role::Member),
        (casey, "Casey", Role::Member),
    ] {
        spaces.push(
            join_through_relay(robin, &space, who, role, name, &net, now)
                .await
                .0,
        );
    }
    for app in &apps {
        app.sync(&net, now).await.unwrap();
    }
    let (mallory_id, casey_id) = (
        spaces[3].my_member_id().unwrap(),
        spaces[4].my_member_id().unwrap(),
    );
    // Offline, each coordinator removes someone (and rotates).
    spaces[0].remove_member(&mallory_id, now).unwrap();
    spaces[1].remove_member(&casey_id, now).unwrap();
    // Then everyone syncs, in an order that lets devices adopt either
    // handover first.
    for round in 0..4 {
        for i in [round % 2, 2, 1 - round % 2] {
            apps[i].sync(&net, now).await.unwrap();
        }
    }
    // One key for the three who remain: what each writes, the others read.
    for (i, title) in [(0, "From Robin"), (1, "From Ash")] {
        spaces[i]
            .create_session(test_session(title), safespaces_core::model::Timestamp(0))
            .unwrap();
    }
    for _ in 0..2 {
        for app in [robin, ash, blake] {
            app.sync(&net, now).await.unwrap();
        }
    }
    for (i, name) in [(0, "Robin"), (1, "Ash"), (2, "Blake")] {
        for title in ["From Robin", "From Ash"] {
            assert!(has(&spaces[i], title), "{name} lacks {title:?}");
        }
    }
    // Neither removed member reads it, whatever they sync.
    for i in [3, 4] {
        let _ = apps[i].sync(&net, now).await;
        assert!(!has(&spaces[i], "From Robin"));
        assert!(!has(&spaces[i], "From Ash"));
    }
    // Two rotations racing, a device moving from the loser's mailbox to
    // the winner's: every number in every mailbox accounted for.
    for app in &apps {
        assert_no_sequence_alerts(app);
    }
}
