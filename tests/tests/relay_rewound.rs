//! A relay that goes back in time is noticed (issue 16): the relay is
//! stopped, its SQLite store copied (an operator's old backup, or a seized
//! copy put back), more is synced, and then the old copy is restored. The
//! mailbox's sequence numbers are now below what the devices had read; a
//! device says so for that space instead of reading on as if nothing had
//! happened, and its other space still syncs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::{
    RelayProcess, join_through_relay, session_titles, test_client, test_device, test_session,
};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restored_from_an_old_backup_is_named_not_trusted() {
    let relay_dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = test_device(dirs[0].path());
    let sam = test_device(dirs[1].path());
    let now = Timestamp(1_000);
    let circle = robin.create_space("Circle", "Robin", now).unwrap();
    let walks = robin.create_space("Walks", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    for space in [&circle, &walks] {
        join_through_relay(&robin, space, &sam, Role::Member, "Sam", &net, now).await;
    }
    sam.sync(&net, now).await.unwrap();

    // The operator's backup, taken with the relay stopped.
    relay.kill();
    let backup = tempfile::tempdir().unwrap();
    copy_dir(relay_dir.path(), backup.path());
    relay.restart();

    // Life goes on in the circle after the backup.
    for n in 0..3 {
        circle
            .create_session(test_session(&format!("after-backup-{n}")), now)
            .unwrap();
        robin.sync(&net, now).await.unwrap();
    }
    sam.sync(&net, now).await.unwrap();
    assert!(session_titles(&sam, &circle.id()).contains(&"after-backup-2".to_string()));

    // The old copy is put back in place of the store.
    relay.kill();
    std::fs::remove_dir_all(relay_dir.path()).unwrap();
    copy_dir(backup.path(), relay_dir.path());
    relay.restart();

    walks
        .create_session(test_session("CANARY-walk"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap_or_default();
    let report = sam.sync(&net, now).await.expect("the other space synced");
    let failed: Vec<_> = report.failed.iter().map(|f| f.space.clone()).collect();
    assert_eq!(failed, vec![circle.id()], "{report:?}");
    assert!(
        report.failed[0].reason.contains("went back"),
        "{:?}",
        report.failed[0]
    );
    assert!(session_titles(&sam, &walks.id()).contains(&"CANARY-walk".to_string()));
    // Sam's copy of the circle is untouched by the relay's amnesia.
    assert!(session_titles(&sam, &circle.id()).contains(&"after-backup-2".to_string()));
    // And it keeps saying so: a later sync does not quietly read on.
    let report = sam.sync(&net, now).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
}
