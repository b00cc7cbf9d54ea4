//! The core relay client against the real relay binary over real TLS:
//! every method round-trips, the pin is enforced, refusals carry their code,
//! and a relay killed mid-append is reported as offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bounded, client, config, new_mailbox, start_relay, start_relay_with};
use safespaces_core::relay::{
    DropboxId, ErrorCode, MailboxCredential, RelayConfig, RelayError, RelayTransport, SyncStatus,
};

fn random_dropbox() -> DropboxId {
    use rand::RngCore as _;
    let mut id = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    DropboxId::from_bytes(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_round_trips() {
    let relay = start_relay();
    let c = client(&relay.process);
    bounded(async {
        c.health().await.unwrap();
        let mb = new_mailbox();
        assert!(c.create_mailbox(&mb).await.unwrap(), "created");
        assert!(
            !c.create_mailbox(&mb).await.unwrap(),
            "creating again is harmless"
        );

        let mut seqs = Vec::new();
        for i in 0..3u8 {
            seqs.push(c.append(&mb, vec![i; 100]).await.unwrap());
        }
        assert_eq!(seqs, [1, 2, 3]);

        let page = c.read(&mb, 0, Some(2)).await.unwrap();
        assert_eq!(page.blobs.len(), 2);
        assert!(page.more);
        assert_eq!(page.last_seq, 3);
        let rest = c.read(&mb, 2, Some(2)).await.unwrap();
        assert_eq!(rest.blobs.len(), 1);
        assert_eq!(rest.blobs[0].data, vec![2; 100]);
        assert!(!rest.more);

        let all = c.read_all(&mb, 0).await.unwrap();
        let got: Vec<(u64, u8)> = all.blobs.iter().map(|b| (b.seq, b.data[0])).collect();
        assert_eq!(got, [(1, 0), (2, 1), (3, 2)]);

        let snapshot = c.append(&mb, b"snapshot".to_vec()).await.unwrap();
        let compacted = c.compact(&mb, snapshot, 3).await.unwrap();
        assert_eq!((compacted.deleted, compacted.compacted_through), (3, 3));
        let again = c.compact(&mb, snapshot, 3).await.unwrap();
        assert_eq!(again.deleted, 0, "repeating a compaction is harmless");
        let after = c.read_all(&mb, 0).await.unwrap();
        assert_eq!(after.compacted_through, 3);
        assert_eq!(after.blobs.len(), 1);
        assert_eq!(after.blobs[0].data, b"snapshot");

        let dropbox = random_dropbox();
        assert_eq!(
            c.dropbox_waiting(&dropbox).await.unwrap(),
            None,
            "never put"
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expires = c
            .put_dropbox(&dropbox, b"invite".to_vec(), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(
            (now + 59..=now + 61).contains(&expires),
            "{expires} vs {now}"
        );
        assert_eq!(c.dropbox_waiting(&dropbox).await.unwrap(), Some(expires));
        assert_eq!(
            c.dropbox_waiting(&dropbox).await.unwrap(),
            Some(expires),
            "asking does not claim"
        );
        assert_eq!(c.claim_dropbox(&dropbox).await.unwrap(), b"invite");
        assert_eq!(c.dropbox_waiting(&dropbox).await.unwrap(), None, "claimed");
        let gone = c.claim_dropbox(&dropbox).await.unwrap_err();
        assert_eq!(
            gone.code(),
            Some(ErrorCode::DropboxNotFound),
            "claimed once: {gone}"
        );

        c.delete_mailbox(&mb).await.unwrap();
        // Gone: answered like any id the relay does not hold.
        let deleted = c.read(&mb, 0, None).await.unwrap_err();
        assert_eq!(deleted.code(), Some(ErrorCode::MailboxDeleted));
        // The tombstone stays: the id cannot be made again.
        let again = c.create_mailbox(&mb).await.unwrap_err();
        assert_eq!(again.code(), Some(ErrorCode::MailboxDeleted));
        // Answers about one call are not sync errors.
        assert_eq!(c.status().get(), SyncStatus::UpToDate);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_other_than_the_pinned_one_is_refused() {
    let relay = start_relay();
    let wrong = "00".repeat(32);
    let c = RelayTransport::new(
        RelayConfig::pinned(&relay.process.url(), &wrong)
            .unwrap()
            .with_retry(common::quick_retry()),
    )
    .unwrap();
    bounded(async {
        let err = c.create_mailbox(&new_mailbox()).await.unwrap_err();
        match &err {
            RelayError::PinMismatch {
                expected,
                presented,
            } => {
                assert_eq!(expected.len(), 1);
                assert_eq!(expected[0].to_hex(), wrong);
                assert_eq!(presented.to_hex(), relay.process.pin());
            }
            other => panic!("expected a pin mismatch, got {other:?}"),
        }
        assert!(!err.is_transient(), "a wrong certificate is not retried");
        assert!(matches!(c.status().get(), SyncStatus::Error { reason } if reason.contains("pin")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_surface_the_relays_code() {
    let relay = start_relay();
    let c = client(&relay.process);
    bounded(async {
        let mb = new_mailbox();
        // A mailbox the relay does not hold is refused like a wrong key, so
        // that the answer says nothing about which ids exist.
        let err = c.append(&mb, b"x".to_vec()).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadSignature), "{err}");
        assert!(matches!(err, RelayError::Refused { status: 401, .. }));

        c.create_mailbox(&mb).await.unwrap();
        // Another member key names another mailbox: nobody can bind this
        // id to keys of their own.
        let impostor =
            MailboxCredential::new(new_mailbox().signing_key().clone(), mb.admin_public(), None);
        assert_ne!(impostor.id(), mb.id());
        // A member's device (no admin key) uses the same mailbox, and may
        // append and read, but never compact or delete.
        let member = MailboxCredential::new(mb.signing_key().clone(), mb.admin_public(), None);
        assert_eq!(member.id(), mb.id());
        let seq = c.append(&member, b"x".to_vec()).await.unwrap();
        assert!(matches!(
            c.compact(&member, seq, seq - 1).await,
            Err(RelayError::NotAdmin)
        ));
        assert!(matches!(
            c.delete_mailbox(&member).await,
            Err(RelayError::NotAdmin)
        ));
        assert_eq!(c.read_all(&mb, 0).await.unwrap().last_seq, 1);
        assert_eq!(c.status().get(), SyncStatus::UpToDate);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_token_gates_creation() {
    let relay = start_relay_with(&["--access-token", "society-token"]);
    let without = client(&relay.process);
    let with = RelayTransport::new(
        config(&relay.process)
            .with_access_token("society-token")
            .unwrap(),
    )
    .unwrap();
    bounded(async {
        let mb = new_mailbox();
        let err = without.create_mailbox(&mb).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
        let err = without
            .put_dropbox(&random_dropbox(), b"x".to_vec(), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
        assert!(with.create_mailbox(&mb).await.unwrap());
        with.put_dropbox(&random_dropbox(), b"x".to_vec(), None)
            .await
            .unwrap();
        // Signed mailbox requests need no token.
        assert_eq!(without.append(&mb, b"x".to_vec()).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_append_is_offline_and_a_retry_after_restart_succeeds() {
    let mut relay = start_relay();
    let c = client(&relay.process);
    let mb = new_mailbox();
    bounded(c.create_mailbox(&mb)).await.unwrap();

    // Append large blobs continuously; kill the relay while they flow.
    let writer = {
        let c = c.clone();
        let mb = mb.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0u32.. {
                match c.append(&mb, vec![(i % 251) as u8; 256 * 1024]).await {
                    Ok(seq) => acked.push((seq, i)),
                    Err(e) => return (acked, e),
                }
            }
            unreachable!()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.process.kill();
    let (acked, err) = bounded(writer).await.unwrap();
    assert!(
        !acked.is_empty(),
        "some appends went through before the kill"
    );
    assert!(
        matches!(err, RelayError::Offline { .. }),
        "a dead relay is offline, not {err:?}"
    );
    assert!(err.is_transient());
    assert!(matches!(c.status().get(), SyncStatus::Offline { .. }));

    relay.process.restart();
    bounded(async {
        let seq = c.append(&mb, b"after the restart".to_vec()).await.unwrap();
        assert_eq!(c.status().get(), SyncStatus::UpToDate);
        // Every acknowledged append survived the kill, in order, and the
        // retry came after them. (The append that was cut off may or may
        // not be stored: at most one blob between them.)
        let all = c.read_all(&mb, 0).await.unwrap();
        for (seq, i) in &acked {
            let blob = all
                .blobs
                .iter()
                .find(|b| b.seq == *seq)
                .expect("acked is durable");
            assert_eq!(blob.data[0], (*i % 251) as u8);
        }
        let last_acked = acked.last().unwrap().0;
        assert!(
            seq == last_acked + 1 || seq == last_acked + 2,
            "{seq} after {last_acked}"
        );
        assert_eq!(all.blobs.last().unwrap().data, b"after the restart");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_roots_accept_their_relay_and_refuse_another() {
    use safespaces_core::relay::Trust;
    let relay = start_relay();
    let other = start_relay();
    let ca = std::fs::read(relay.dir.path().join("dev-cert.pem")).unwrap();
    let trusting = |url: String| {
        RelayTransport::new(
            RelayConfig::new(&url, Trust::roots_from_pem(&ca).unwrap())
                .unwrap()
                .with_retry(common::quick_retry()),
        )
        .unwrap()
    };
    bounded(async {
        trusting(relay.process.url()).health().await.unwrap();
        let err = trusting(other.process.url()).health().await.unwrap_err();
        assert!(matches!(err, RelayError::Tls(_)), "{err:?}");
        assert!(!err.is_transient());
    })
    .await;
}
