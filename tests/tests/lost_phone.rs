//! A person removes her lost phone, through a real relay over TLS: from
//! then on neither the phone nor a profile restored from its backup opens
//! anything new, in the space or in her journal, and nothing it writes
//! counts on the devices that remain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use age::secrecy::SecretString;
use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, join_through_relay, journal_texts, link_through_relay,
    restore_test_device, session_titles, test_client, test_device, test_session,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_phone_and_its_restored_backup_open_nothing_written_afterwards() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let now = Timestamp(1_000);
    let robin = test_device(dirs[0].path());
    let sam = test_device(dirs[1].path());
    let lost = test_device(dirs[2].path());

    // Robin coordinates a space Sam joins; Sam links a second phone.
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let first = space
        .create_session(test_session("CANARY-first"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let (sams, _, _) =
        join_through_relay(&robin, &space, &sam, Role::Member, "Sam", &net, now).await;
    let space_id = space.id();
    let (offer, _) = link_through_relay(&sam, &lost, &net, now).await;
    // Both of Sam's phones sync her journal; what she wrote before is on both.
    sam.journal().set_sync(true).unwrap();
    lost.journal().set_sync(true).unwrap();
    sam.journal().add("CANARY-before", None, &[], now).unwrap();
    for app in [&sam, &lost, &sam, &lost, &robin] {
        app.sync(&net, now).await.unwrap();
    }
    assert_eq!(journal_texts(&lost), vec!["CANARY-before".to_string()]);
    // The lost phone wrote in the space before it was lost: Sam's phone
    // heard from it.
    lost.space(&space_id)
        .unwrap()
        .volunteer_to_lead(&first, now)
        .unwrap();
    lost.sync(&net, now).await.unwrap();
    sam.sync(&net, now).await.unwrap();
    let backup = lost
        .profile()
        .export_backup(&SecretString::from("backup words".to_string()))
        .unwrap();

    // The device list shows both, with the fingerprint linking showed.
    let devices = sam.devices().unwrap();
    assert_eq!(devices.len(), 2);
    assert!(devices[0].this_device);
    let phone2 = devices[1].clone();
    assert_eq!(phone2.id, lost.device_id().unwrap());
    assert_eq!(phone2.fingerprint, offer.fingerprint);
    assert!(
        phone2.last_seen.is_some(),
        "heard from it through the space"
    );
    sam.name_device(&phone2.id, Some("old phone")).unwrap();

    // The phone is lost: Sam removes it.
    assert_eq!(sam.remove_device(&phone2.id, now).unwrap(), 1);
    let listed = sam.devices().unwrap();
    assert_eq!(listed[1].name.as_deref(), Some("old phone"));
    assert!(listed[1].removed_at.is_some());
    sam.sync(&net, now).await.unwrap();
    // Robin's device, a coordinator's, answers the removal with a new epoch,
    // then plans a session; Sam writes in her journal.
    robin.sync(&net, now).await.unwrap();
    space
        .create_session(test_session("CANARY-after"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    sam.journal()
        .add("CANARY-after-journal", None, &[], now)
        .unwrap();
    for app in [&sam, &robin, &sam] {
        app.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        session_titles(&sam, &space_id),
        vec!["CANARY-after".to_string(), "CANARY-first".to_string()]
    );
    assert_eq!(
        journal_texts(&sam),
        vec![
            "CANARY-after-journal".to_string(),
            "CANARY-before".to_string()
        ]
    );

    // The thief syncs the phone, and writes: nothing new opens, and what he
    // writes counts nowhere.
    let sam_id = sams.my_member_id().unwrap();
    lost.space(&space_id)
        .unwrap()
        .withdraw_lead(&first, &sam_id)
        .unwrap();
    lost.journal()
        .add("CANARY-thief-journal", None, &[], now)
        .unwrap();
    for _ in 0..2 {
        lost.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        session_titles(&lost, &space_id),
        vec!["CANARY-first".to_string()],
        "the new session stays closed"
    );
    assert!(!journal_texts(&lost).contains(&"CANARY-after-journal".to_string()));
    for app in [&sam, &robin, &sam] {
        app.sync(&net, now).await.unwrap();
    }
    // The thief's withdrawal of Sam's offer counts nowhere.
    for app in [&sam, &robin] {
        let leads = app
            .space(&space_id)
            .unwrap()
            .session_leads(&first, now)
            .unwrap();
        assert_eq!(leads.len(), 1, "Sam's offer stands");
    }
    assert!(!journal_texts(&sam).contains(&"CANARY-thief-journal".to_string()));

    // A profile restored from the phone's backup is no better off.
    let restored = restore_test_device(&backup, "backup words", dirs[3].path());
    for _ in 0..2 {
        restored.sync(&net, now).await.unwrap();
    }
    assert_eq!(
        session_titles(&restored, &space_id),
        vec!["CANARY-first".to_string()]
    );
    assert_eq!(journal_texts(&restored), vec!["CANARY-before".to_string()]);

    // The two remaining devices agree.
    assert_eq!(
        session_titles(&sam, &space_id),
        session_titles(&robin, &space_id)
    );
    assert_eq!(
        sams.members().unwrap(),
        space.members().unwrap(),
        "the same members, the same devices, on both"
    );
    assert_no_sequence_alerts(&robin);
    assert_no_sequence_alerts(&sam);
}
