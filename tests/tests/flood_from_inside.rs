//! Bombs and floods from inside (threat-model.md, "A member"): a member
//! fills the space's mailbox with 150 signed batches that each inflate to
//! 64 MiB and 1,100 envelopes from an author nobody knows. Another member's
//! sync gets through with bounded memory, and an honest edit made after
//! the flood still arrives.
//!
//! One test in its own binary: the peak resident size it checks is the
//! whole process's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use safespaces_core::model::{DeviceId, Role, Timestamp};
use safespaces_core::protocol::{Envelope, EnvelopeKind, SpaceId};
use safespaces_e2e::{
    RelayProcess, join_through_relay, own_storage, test_client, test_device, test_session,
};

const BOMBS: usize = 150;
const JUNK: usize = 1_100;
const PEAK_LIMIT_MIB: u64 = 300;

/// The peak resident size of this process since the last reset, in MiB.
fn peak_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024
}

/// Resets the peak resident size to the current one (Linux: `clear_refs` 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_and_junk_from_a_member_do_not_stop_a_sync_or_exhaust_memory() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(60));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (robin, blake, mallory) = (
        test_device(dirs[0].path()),
        test_device(dirs[1].path()),
        test_device(dirs[2].path()),
    );
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    for (who, name) in [(&blake, "Blake"), (&mallory, "Mallory")] {
        join_through_relay(&robin, &space, who, Role::Member, name, &net, now).await;
    }
    robin.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();

    // Mallory's modified app: batches signed by her own device whose
    // bodies inflate to 64 MiB each, and junk signed by a key nobody knows.
    let mut id = [0u8; 16];
    hex::decode_to_slice(space.id(), &mut id).unwrap();
    let space_id = SpaceId(id);
    let key = own_storage::epoch_key(&mallory, &space.id(), 0);
    let signing = mallory
        .profile()
        .with_keyring(|k| k.signing_key().clone())
        .unwrap();
    let bomb = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space: space_id,
        epoch: 0,
        author: mallory.device_id().unwrap(),
        sequence: 50,
        body: vec![0; safespaces_core::protocol::envelope::MAX_BODY],
    }
    .seal(&key.content_key(), &signing)
    .unwrap();
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let junk = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space: space_id,
        epoch: 0,
        author: DeviceId::random(),
        sequence: 1,
        body: vec![1; 200],
    }
    .seal(&key.content_key(), &stranger)
    .unwrap();
    let credential = own_storage::mailbox_credential(&mallory, &space.id(), 0);
    for _ in 0..BOMBS {
        net.append(&credential, bomb.clone()).await.unwrap();
    }
    for _ in 0..JUNK {
        net.append(&credential, junk.clone()).await.unwrap();
    }
    drop(bomb);

    // An honest edit after the flood.
    let session = space
        .create_session(
            test_session("After the flood"),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    robin.sync(&net, now).await.unwrap();

    reset_peak();
    let report = blake.sync(&net, now).await.unwrap();
    let peak = peak_mib();
    let blakes = blake.space(&space.id()).unwrap();
    assert!(
        blakes.session(&session).is_ok(),
        "the honest edit did not arrive: {report:?}"
    );
    assert!(report.refused >= BOMBS, "{report:?}");
    assert_eq!(report.waiting_dropped, 0, "{report:?}");
    // Her app numbered the bombs far past her last envelope: numbers she
    // skipped show as missing (here no relay withheld them, but something
    // is wrong, and the person is told so).
    assert!(
        report
            .sequence_alerts
            .iter()
            .any(|a| a.space == space.id() && a.missing > 0),
        "{report:?}"
    );
    assert!(
        peak < PEAK_LIMIT_MIB,
        "peak resident size during the sync: {peak} MiB"
    );
    eprintln!("peak resident size during the flooded sync: {peak} MiB ({report:?})");
}
