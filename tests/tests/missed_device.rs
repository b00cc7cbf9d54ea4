//! A phone linked while a coordinator rotated, through a real relay: the
//! handover is sealed to the devices its author knew, so it misses the new
//! phone; the person's other phone, which got the new key, grants it to the
//! new one through the old mailbox (protocol.md §6, "Devices a handover
//! missed"), and the new phone reads what is written after. The member who
//! was removed gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, link_through_relay,
    session_titles, test_client, test_device, test_session,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_linked_while_a_coordinator_rotated_is_granted_the_key_by_her_other_phone() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(20));
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let apps: Vec<SafeSpaces> = dirs.iter().map(|d| test_device(d.path())).collect();
    let (robin, ash, sam, blake, laptop) = (&apps[0], &apps[1], &apps[2], &apps[3], &apps[4]);
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let ashs = join_through_relay(robin, &space, ash, Role::Coordinator, "Ash", &net, now)
        .await
        .0;
    join_through_relay(robin, &space, sam, Role::Member, "Sam", &net, now).await;
    let blakes = join_through_relay(robin, &space, blake, Role::Member, "Blake", &net, now)
        .await
        .0;
    for app in [robin, ash, sam, blake] {
        app.sync(&net, now).await.unwrap();
    }
    let id = space.id();

    // Ash removes Blake and rotates, offline; meanwhile Sam links her
    // laptop, which her phone lists in the space under the old key.
    ashs.remove_member(&blakes.my_member_id().unwrap(), now)
        .unwrap();
    let (_, linked) = link_through_relay(sam, laptop, &net, now).await;
    assert_eq!(linked, 1);
    // Ash's handover reaches the relay, sealed to the devices Ash knew:
    // Robin's, Ash's and Sam's phone, not the laptop.
    ash.sync(&net, now).await.unwrap();
    let report = laptop.sync(&net, now).await.unwrap();
    assert!(report.left_out.is_empty(), "{report:?}");
    assert_eq!(laptop.space(&id).unwrap().epoch().unwrap(), 0);

    // Sam's phone takes the new key, sees its laptop missed, and grants it.
    sam.sync(&net, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    robin
        .space(&id)
        .unwrap()
        .create_session(test_session("CANARY-after-the-rotation"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let report = laptop.sync(&net, now).await.unwrap();
    assert!(report.left_out.is_empty(), "{report:?}");
    assert_eq!(laptop.space(&id).unwrap().epoch().unwrap(), 1);
    assert!(
        session_titles(laptop, &id).contains(&"CANARY-after-the-rotation".to_string()),
        "{:?}",
        session_titles(laptop, &id)
    );
    // Blake, removed, reads none of it.
    blake.sync(&net, now).await.unwrap();
    assert!(!session_titles(blake, &id).contains(&"CANARY-after-the-rotation".to_string()));
    assert_eq!(blake.space(&id).unwrap().epoch().unwrap(), 0);
    // A linked phone, a rotation, a key grant into the old mailbox: no
    // envelope number out of place anywhere.
    for app in &apps {
        assert_no_sequence_alerts(app);
    }
}
