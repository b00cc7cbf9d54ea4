//! No member can brick a mailbox, and one space failing to sync never
//! stops the others or the journal (issue 16), through a real relay.
//!
//! Mallory, a member, runs a modified app holding only her own device's
//! keys (`own_storage`): she signs delete and compact requests on the
//! space's mailbox with the member key every member holds, and tries to
//! create the mailbox id bound to an admin key of her own. The relay
//! refuses all of it and the space keeps syncing. Then the mailbox does go
//! (the coordinator's device deletes it, as an operator wiping it would):
//! its id is a tombstone for ever, and the person's other space and her
//! journal still sync on both her devices, the sync naming the space that
//! failed instead of failing whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hyper::Method;
use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{Role, Timestamp};
use safespaces_core::relay::{ErrorCode, RelayError};
use safespaces_e2e::{
    RelayProcess, join_through_relay, journal_texts, link_through_relay, own_storage,
    session_titles, test_client, test_device, test_session,
};
use safespaces_relay::test_support::client::{TestRelayClient as RawClient, pinned_config};
use safespaces_wire::{ErrorBody, Operation};

/// The relay's refusal code in a raw reply.
fn code(reply: &safespaces_relay::test_support::client::Reply) -> ErrorCode {
    reply.json::<ErrorBody>().expect("a JSON refusal").code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_delete_or_compact_and_a_deleted_mailbox_stops_nothing_else() {
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

    // Mallory's modified app. She holds the member key, not the admin seed.
    let hers = own_storage::mailbox_credential(mallory, &circle.id(), 0);
    assert!(own_storage::admin_seed(mallory, &circle.id(), 0).is_none());
    assert!(hers.admin_key().is_none());
    // The everyday client will not even try without an admin key...
    assert!(matches!(
        net.delete_mailbox(&hers).await,
        Err(RelayError::NotAdmin)
    ));
    // ...so she signs the requests herself, with the member key.
    let mut raw = RawClient::connect(relay.addr(), pinned_config(relay.pin()).unwrap())
        .await
        .unwrap();
    let id = hers.id();
    let member_key = hers.signing_key().clone();
    let path = format!("/v1/mailboxes/{}", id.to_hex());
    let r = raw
        .signed(
            Method::DELETE,
            &path,
            &member_key,
            Operation::Delete,
            &id,
            "",
        )
        .await
        .unwrap();
    assert_eq!((r.status, code(&r)), (401, ErrorCode::BadSignature));
    let compact = serde_json::json!({ "snapshot_seq": 2, "through_seq": 1 }).to_string();
    let r = raw
        .signed(
            Method::POST,
            &format!("{path}/compact"),
            &member_key,
            Operation::Compact,
            &id,
            compact,
        )
        .await
        .unwrap();
    assert_eq!((r.status, code(&r)), (401, ErrorCode::BadSignature));
    // Nor can she bind the id to an admin key of her own.
    let own_admin = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let body = serde_json::json!({
        "verifying_key": hex::encode(member_key.verifying_key().as_bytes()),
        "admin_key": hex::encode(own_admin.verifying_key().as_bytes()),
    })
    .to_string();
    let r = raw
        .signed(
            Method::POST,
            &path,
            &member_key,
            Operation::Create,
            &id,
            body,
        )
        .await
        .unwrap();
    assert_eq!((r.status, code(&r)), (400, ErrorCode::MalformedRequest));

    // The circle kept everything: what Robin writes now reaches Sam.
    circle
        .create_session(test_session("CANARY-circle"), now)
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    let report = sam.sync(&net, now).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(session_titles(sam, &circle.id()).contains(&"CANARY-circle".to_string()));

    // Now the mailbox goes, by its admin key (the coordinator's device).
    let robins = own_storage::mailbox_credential(robin, &circle.id(), 0);
    assert!(robins.admin_key().is_some());
    net.delete_mailbox(&robins).await.unwrap();
    // A tombstone: nobody can make the id again, so it never restarts at 1.
    let again = net.create_mailbox(&robins).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::MailboxDeleted), "{again}");

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
    assert!(
        report.failed[0].reason.contains("deleted"),
        "{:?}",
        report.failed[0]
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
