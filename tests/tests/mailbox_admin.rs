//! Who holds a mailbox's admin key (protocol.md §1), through a real relay:
//! a coordinator who joins by invite, and a member promoted to
//! coordinator, are granted the current seed by a device that holds it; a
//! rotation hands the new epoch's seed to the coordinators' devices only; a
//! member's device, and the removed member's, never get it; a
//! coordinator's newly linked device is given it in its link package and
//! can compact; every device finds the same mailbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, join_through_relay, link_through_relay, own_storage, session_titles, test_client,
    test_device, test_session,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_key_reaches_coordinators_devices_only() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = test_device(dirs[0].path());
    let ash = test_device(dirs[1].path());
    let sam = test_device(dirs[2].path());
    let mallory = test_device(dirs[3].path());
    let laptop = test_device(dirs[4].path());
    let now = Timestamp(1_000);
    let circle = robin.create_space("Circle", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let id = circle.id();
    join_through_relay(&robin, &circle, &ash, Role::Coordinator, "Ash", &net, now).await;
    join_through_relay(&robin, &circle, &sam, Role::Member, "Sam", &net, now).await;
    let (malloryss, _, _) = join_through_relay(
        &robin,
        &circle,
        &mallory,
        Role::Member,
        "Mallory",
        &net,
        now,
    )
    .await;
    // The creator's device holds the first epoch's seed, and grants it to
    // Ash's, who joined as a coordinator; the members' devices get none.
    for app in [&robin, &ash, &sam, &mallory] {
        app.sync(&net, now).await.unwrap();
    }
    let first = own_storage::admin_seed(&robin, &id, 0).expect("the creator's seed");
    assert_eq!(own_storage::admin_seed(&ash, &id, 0), Some(first));
    for member in [&sam, &mallory] {
        assert!(own_storage::admin_seed(member, &id, 0).is_none());
    }

    // Robin removes Mallory: the next epoch's seed goes to Robin's and
    // Ash's devices, not to Sam's, and Mallory cannot even open the key.
    let her = malloryss.my_member_id().unwrap();
    circle.remove_member(&her, now).unwrap();
    for app in [&robin, &ash, &sam, &mallory, &robin] {
        app.sync(&net, now).await.unwrap_or_default();
    }
    assert_eq!(circle.epoch().unwrap(), 1);
    assert_eq!(ash.space(&id).unwrap().epoch().unwrap(), 1);
    assert_eq!(sam.space(&id).unwrap().epoch().unwrap(), 1);
    let admin = own_storage::admin_key(&robin, &id, 1);
    for coordinator in [&robin, &ash] {
        let seed = own_storage::admin_seed(coordinator, &id, 1).expect("a coordinator's seed");
        assert_eq!(seed.public(), admin);
        assert_eq!(own_storage::admin_key(coordinator, &id, 1), admin);
    }
    assert!(own_storage::admin_seed(&sam, &id, 1).is_none());
    assert_eq!(own_storage::admin_key(&sam, &id, 1), admin);
    assert!(own_storage::admin_seed(&mallory, &id, 1).is_none());

    // Everyone still in finds the same mailbox and gets what is written.
    circle
        .create_session(test_session("CANARY-epoch-1"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    for app in [&ash, &sam] {
        app.sync(&net, now).await.unwrap();
        assert!(session_titles(app, &id).contains(&"CANARY-epoch-1".to_string()));
    }

    // Sam is made a coordinator: a device holding the seed grants it to hers.
    let sams = sam.space(&id).unwrap().my_member_id().unwrap();
    circle.set_role(&sams, Role::Coordinator).unwrap();
    for app in [&robin, &sam] {
        app.sync(&net, now).await.unwrap();
    }
    let granted = own_storage::admin_seed(&sam, &id, 1).expect("the promoted member's seed");
    assert_eq!(granted.public(), admin);
    // Back to member for the rest (she keeps the seed until the next
    // rotation: protocol.md §1, limits).
    circle.set_role(&sams, Role::Member).unwrap();
    robin.sync(&net, now).await.unwrap();

    // Ash links a laptop: its package carries the seed, so it may compact.
    link_through_relay(&ash, &laptop, &net, now).await;
    let seed = own_storage::admin_seed(&laptop, &id, 1).expect("the linked laptop's seed");
    assert_eq!(seed.public(), admin);
    let on_laptop = own_storage::mailbox_credential(&laptop, &id, 1);
    let page = net.read_all(&on_laptop, 0).await.unwrap();
    let last = page.last_seq;
    assert!(last >= 2, "{last}");
    let compacted = net.compact(&on_laptop, last, last - 1).await.unwrap();
    assert_eq!(compacted.compacted_through, last - 1);
    // Mallory, with the old epoch's member key alone, finds nothing of
    // the new mailbox; and no member key can compact.
    let old = own_storage::mailbox_credential(&mallory, &id, 0);
    assert_ne!(old.id(), on_laptop.id());
    let member_only = safespaces_core::relay::MailboxCredential::new(
        on_laptop.signing_key().clone(),
        admin,
        None,
    );
    assert_eq!(member_only.id(), on_laptop.id());
    assert!(net.compact(&member_only, last, last - 1).await.is_err());
}
