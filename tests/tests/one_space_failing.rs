//! One space failing to sync never stops the others or the journal
//! (issue 16): a member's device, through a real relay, deletes one
//! space's mailbox with the key every member holds; the person's other
//! space and her journal keep syncing, and the sync reports the space that
//! failed instead of failing whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{Role, Timestamp};
use safespaces_core::profile::KeyId;
use safespaces_core::protocol::EpochKey;
use safespaces_core::sync::MailboxCredential;
use safespaces_e2e::{
    RelayProcess, join_through_relay, journal_texts, link_through_relay, session_titles,
    test_client, test_device, test_session,
};
use sha2::{Digest, Sha256};

/// The epoch key a device holds for `space` (its keyring id is derived:
/// storage.md); what a member's modified app would use.
fn epoch_key(app: &SafeSpaces, space: &str, epoch: u32) -> EpochKey {
    let mut hasher = Sha256::new();
    hasher.update(b"safespaces/v1/keyring/epoch");
    hasher.update(hex::decode(space).unwrap());
    hasher.update(epoch.to_be_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize()[..16]);
    app.profile()
        .with_keyring(|k| k.key(&KeyId(id)).map(|key| *key.expose_bytes()))
        .unwrap()
        .map(EpochKey::from_bytes)
        .expect("the member holds the epoch key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_mailbox_stops_neither_the_other_space_nor_the_journal() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let apps: Vec<SafeSpaces> = dirs.iter().map(|d| test_device(d.path())).collect();
    let (robin, sam, laptop, mallory) = (&apps[0], &apps[1], &apps[2], &apps[3]);
    let now = Timestamp(1_000);
    let circle = robin.create_space("Circle", "Robin", now).unwrap();
    let walks = robin.create_space("Walks", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    for space in [&circle, &walks] {
        join_through_relay(robin, space, sam, Role::Member, "Sam", &net, now).await;
    }
    join_through_relay(robin, &circle, mallory, Role::Member, "Mallory", &net, now).await;
    link_through_relay(sam, laptop, &net, now).await;
    sam.journal().set_sync(true).unwrap();
    laptop.journal().set_sync(true).unwrap();
    for app in [robin, sam, laptop, mallory] {
        app.sync(&net, now).await.unwrap();
    }

    // Mallory's modified app deletes the circle's mailbox, with the key
    // every member holds, and makes it again under a key of her own: every
    // other device's request on it is refused from now on.
    let credential = MailboxCredential::for_epoch(&epoch_key(mallory, &circle.id(), 0));
    net.delete_mailbox(&credential).await.unwrap();
    let hers = MailboxCredential::new(
        credential.id(),
        ed25519_dalek::SigningKey::from_bytes(&rand::random()),
    );
    assert!(net.create_mailbox(&hers).await.unwrap());

    // Robin plans a walk; Sam writes in her journal on her phone.
    walks
        .create_session(test_session("CANARY-walk"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap_or_default();
    sam.journal().add("CANARY-journal", None, &[], now).unwrap();
    let report = sam
        .sync(&net, now)
        .await
        .expect("the rest of the sync went on");
    assert_eq!(report.journal_failed, None, "{report:?}");
    assert_eq!(
        report
            .failed
            .iter()
            .map(|f| f.space.clone())
            .collect::<Vec<_>>(),
        vec![circle.id()],
        "{report:?}"
    );
    assert!(session_titles(sam, &walks.id()).contains(&"CANARY-walk".to_string()));
    // Her laptop gets the walk and the journal entry too.
    let report = laptop
        .sync(&net, now)
        .await
        .expect("the laptop's sync went on");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(session_titles(laptop, &walks.id()).contains(&"CANARY-walk".to_string()));
    assert_eq!(journal_texts(laptop), vec!["CANARY-journal".to_string()]);
}
