//! A stranger floods the relay's drop-boxes (threat-model.md, "An outsider
//! who knows the relay's address"): a hundred anonymous drop-boxes fill the
//! shared pool of a relay that allows a hundred, and drop-boxes vouched for
//! by mailboxes the stranger made with keys of its own fill those
//! mailboxes' shares. A real invite still goes through, as the apps run
//! it: the inviter's device vouches for the package and the welcome with
//! the space's mailbox and reserves the slot the invitee answers in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rand::RngCore as _;
use safespaces_core::model::{Role, Timestamp};
use safespaces_core::relay::{DropboxId, ErrorCode, MailboxCredential};
use safespaces_e2e::{RelayProcess, join_through_relay, test_client, test_device};

fn random_id() -> [u8; 32] {
    let mut id = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_strangers_drop_boxes_cannot_make_a_real_invite_fail() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start_with(
        relay_dir.path(),
        "127.0.0.1:0".parse().unwrap(),
        &["--max-dropboxes", "100", "--max-dropboxes-per-mailbox", "8"],
    );
    let net = test_client(&relay, Duration::from_secs(20));

    // The flood: the anonymous pool, full.
    for _ in 0..100 {
        net.put_dropbox(&DropboxId::from_bytes(random_id()), b"junk".to_vec(), None)
            .await
            .unwrap();
    }
    let full = net
        .put_dropbox(&DropboxId::from_bytes(random_id()), b"junk".to_vec(), None)
        .await
        .unwrap_err();
    assert_eq!(full.code(), Some(ErrorCode::RelayFull), "{full}");
    // And self-made mailboxes, each vouching for as many as it may.
    for _ in 0..3 {
        let admin = safespaces_core::protocol::AdminSeed::generate();
        let mine = MailboxCredential::for_epoch(
            &safespaces_core::protocol::EpochKey::from_bytes(random_id()),
            admin.public(),
            Some(&admin),
        );
        net.create_mailbox(&mine).await.unwrap();
        for _ in 0..8 {
            net.put_dropbox_vouched(
                &DropboxId::from_bytes(random_id()),
                b"junk".to_vec(),
                None,
                &mine,
                None,
            )
            .await
            .unwrap();
        }
        let spent = net
            .put_dropbox_vouched(
                &DropboxId::from_bytes(random_id()),
                b"junk".to_vec(),
                None,
                &mine,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(spent.code(), Some(ErrorCode::QuotaDropboxesExceeded));
    }

    // The real invite: Robin's space, Ivy joining through the relay.
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (robin, ivy) = (test_device(dirs[0].path()), test_device(dirs[1].path()));
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let (joined, _, _) =
        join_through_relay(&robin, &space, &ivy, Role::Member, "Ivy", &net, now).await;
    assert_eq!(joined.name().unwrap(), "Group");
    // Her device keeps asking until welcomed; that too went into the
    // reservation, and the pool is as full as the stranger left it.
    let still = net
        .put_dropbox(&DropboxId::from_bytes(random_id()), b"junk".to_vec(), None)
        .await
        .unwrap_err();
    assert_eq!(still.code(), Some(ErrorCode::RelayFull));
}
