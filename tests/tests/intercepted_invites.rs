//! An invite code that reaches the wrong person, through a real relay:
//! whoever claims the package first reads nothing of the space (the package
//! holds no key, and the welcome is sealed to the admitted device alone);
//! the inviter sees the invite claimed and unused and withdraws it; a
//! request made with a withdrawn code is refused; the person it was meant
//! for joins with a new one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::{AppError, SafeSpaces};
use safespaces_core::model::{InviteState, ModelError, Role, Timestamp};
use safespaces_core::protocol::invite::{InvitePackage, InviteSecret};
use safespaces_core::relay::{DropboxId, ErrorCode};
use safespaces_e2e::{RelayProcess, join_through_relay, test_client, test_device, test_session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intercepted_code_reads_nothing_and_the_inviter_can_withdraw_it() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(20));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let apps: Vec<SafeSpaces> = dirs.iter().map(|d| test_device(d.path())).collect();
    let (robin, ivy, mallory) = (&apps[0], &apps[1], &apps[2]);
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    space
        .create_session(
            test_session("Tuesday circle"),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    robin.sync(&net, now).await.unwrap();

    // Robin sends Ivy a code; Mallory sees it first and claims the package
    // with a modified app that only claims and opens.
    let invitation = space.invite(Role::Member, now, None).unwrap();
    space.publish_invite(&net, &invitation, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    let secret = InviteSecret::parse(&invitation.code).unwrap();
    let package = net
        .claim_dropbox(&DropboxId::from_hex(&invitation.dropbox_id).unwrap())
        .await
        .unwrap();
    let opened = InvitePackage::open(&package, &secret, now).unwrap();
    // What she learns: the space's id and name, and whom to ask. No key:
    // the welcome drop-box is empty, nothing was admitted.
    assert_eq!(opened.space_name, "Group");
    let welcome = net
        .claim_dropbox(&DropboxId::from_hex(&secret.welcome_dropbox_id()).unwrap())
        .await;
    assert_eq!(
        welcome.unwrap_err().code(),
        Some(ErrorCode::DropboxNotFound)
    );
    assert!(mallory.spaces().unwrap().is_empty());

    // Ivy's join fails (the package is gone) and she tells Robin, whose
    // device has seen the package claimed while nobody was admitted.
    assert!(
        ivy.join_via_relay(&net, &invitation.code, "Ivy", now)
            .await
            .is_err()
    );
    robin.sync(&net, now).await.unwrap();
    let status = space
        .invites(now)
        .unwrap()
        .into_iter()
        .find(|i| i.invite_id == invitation.invite_id)
        .unwrap();
    assert_eq!(status.state, InviteState::Open);
    assert!(status.claimed, "{status:?}");

    // Robin withdraws it. Mallory's request, left afterwards with the code
    // and package she holds, is refused on Robin's next sync.
    space.revoke_invite(&invitation.invite_id, now).unwrap();
    let asked = mallory.request_join(&invitation.code, &package, "Mallory", now);
    let request = asked.unwrap().request;
    net.put_dropbox(
        &DropboxId::from_hex(&secret.request_dropbox_id()).unwrap(),
        request,
        None,
    )
    .await
    .unwrap();
    let report = robin.sync(&net, now).await.unwrap();
    assert_eq!(report.admitted, 0, "{report:?}");
    assert!(mallory.sync(&net, now).await.unwrap().joined.is_empty());
    assert!(mallory.spaces().unwrap().is_empty());
    assert_eq!(
        space
            .invites(now)
            .unwrap()
            .into_iter()
            .find(|i| i.invite_id == invitation.invite_id)
            .unwrap()
            .state,
        InviteState::Revoked
    );

    // A typo (an empty name) is refused before the package is claimed, so
    // it does not use up the invite.
    let spare = space.invite(Role::Member, now, None).unwrap();
    space.publish_invite(&net, &spare, now).await.unwrap();
    let typo = ivy
        .join_via_relay(&net, &spare.code, "  ", now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            typo,
            AppError::Model(ModelError::InvalidInput {
                field: "pseudonym",
                ..
            })
        ),
        "{typo:?}"
    );
    let waiting = net
        .dropbox_waiting(&DropboxId::from_hex(&spare.dropbox_id).unwrap())
        .await
        .unwrap();
    assert!(waiting.is_some());
    space.revoke_invite(&spare.invite_id, now).unwrap();

    // A new code, this time straight to Ivy: she joins and reads the space.
    let (joined, second, _) =
        join_through_relay(robin, &space, ivy, Role::Member, "Ivy", &net, now).await;
    assert_eq!(joined.sessions().unwrap(), space.sessions().unwrap());
    let members: Vec<String> = space
        .members()
        .unwrap()
        .into_iter()
        .filter(|(_, m)| m.is_active())
        .map(|(_, m)| m.pseudonym)
        .collect();
    assert_eq!(members, vec!["Ivy".to_string(), "Robin".to_string()]);
    let used = space
        .invites(now)
        .unwrap()
        .into_iter()
        .find(|i| i.invite_id == second.invite_id)
        .unwrap();
    assert_eq!(used.state, InviteState::Used);
    assert!(!used.claimed);
    // A used invite cannot be withdrawn (it would remove Ivy).
    assert!(space.revoke_invite(&second.invite_id, now).is_err());
}
