//! Measurements for the sync engine (BENCHMARKS.md, "Sync"), against a real
//! relay process on loopback:
//!
//! 1. two devices with 1,000 offline edits each converge: wall time of the
//!    syncs until both hold the same sessions;
//! 2. bytes on the wire per change batch against the plain automerge change
//!    bytes (batches of 1 to 1,000 edits), and for a snapshot of 100k changes;
//! 3. opening a space of 100k changes from a snapshot plus a tail of 300
//!    envelopes, against plain automerge loading the same document, medians
//!    of alternating runs in one process;
//! 4. a new joiner checking a 100k-change snapshot from the space's creation
//!    (every change proven and allowed), against the same plain load.
//!
//! Run: `cargo run --release -p safespaces-e2e --bin sync-measure`
//! (`SAFESPACES_RELAY_BIN` may point at a prebuilt relay); name parts
//! (`convergence`, `wire`, `open`, `join`) to run only those.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use automerge::AutoCommit;
use ed25519_dalek::SigningKey;
use safespaces_core::app::SafeSpaces;
use safespaces_core::model::{
    DeviceId, DeviceKeys, Role, SessionDraft, SessionEdit, SessionKind, SpaceDoc, Timestamp,
};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::protocol::authorship::actor_for_device;
use safespaces_core::protocol::exchange::{receive_batches, seal_changes};
use safespaces_core::protocol::{Envelope, EnvelopeKind, EpochKey, SpaceId};
use safespaces_core::relay::{RelayConfig, RelayTransport};
use safespaces_e2e::RelayProcess;

fn draft(title: &str) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::WellbeingEvent,
        title: title.into(),
        description: String::new(),
        starts_at: Timestamp(2_000_000_000),
        duration_minutes: 60,
        location: "Room 1".into(),
        capacity: 10,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `sync-measure [convergence|wire|open]…` runs only the parts named.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let wants = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wants("convergence") {
        convergence().await;
    }
    if wants("wire") {
        wire_bytes();
    }
    if wants("open") {
        open_from_snapshot();
    }
    if wants("join") {
        join_from_snapshot();
    }
}

/// A new joiner's import of a 100k-change snapshot, checked from the
/// space's creation with its attestation (`genesis::verify_from_genesis`),
/// against plain automerge loading the same document: medians of
/// alternating runs.
fn join_from_snapshot() {
    use safespaces_core::protocol::attestation::Attestation;
    use safespaces_core::protocol::genesis::{space_id_for, verify_from_genesis};
    let (mut doc, device, signer, _, _) = build(100_000);
    let genesis = automerge::Change::from_bytes(doc.changes_since(&[])[0].clone()).unwrap();
    let space = space_id_for(&genesis.hash());
    let (seq, hash) = doc.last_own_change().unwrap();
    let attestation = Attestation::sign_hash(space, &device, seq, hash, &signer);
    let snapshot = doc.save();
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let (joined, report) =
            verify_from_genesis(space, &snapshot, vec![attestation.clone()]).unwrap();
        ours.push(started.elapsed());
        assert_eq!(report.refused, 0);
        assert_eq!(report.applied + 1, 100_000);
        drop(joined);
        let started = Instant::now();
        let loaded = AutoCommit::load(&snapshot).unwrap();
        plain.push(started.elapsed());
        drop(loaded);
    }
    let (ours, plain) = (median(ours), median(plain));
    println!(
        "join: a new joiner checks a 100k-change snapshot from its creation in {ours:?} (median of 5); plain automerge loads it in {plain:?}; ratio {:.1}",
        ours.as_secs_f64() / plain.as_secs_f64()
    );
}

async fn convergence() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = RelayTransport::new(RelayConfig::pinned(&relay.url(), relay.pin()).unwrap()).unwrap();
    let options = ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = SafeSpaces::create(dirs[0].path(), UnlockSecret::passphrase("x"), options).unwrap();
    let blake = SafeSpaces::create(dirs[1].path(), UnlockSecret::passphrase("x"), options).unwrap();
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let a = space
        .create_session(draft("A"), safespaces_core::model::Timestamp(0))
        .unwrap();
    let (theirs, _, _) =
        safespaces_e2e::join_through_relay(&robin, &space, &blake, Role::Lead, "Blake", &net, now)
            .await;
    let b = theirs
        .create_session(draft("B"), safespaces_core::model::Timestamp(0))
        .unwrap();
    robin.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();

    // 1,000 offline edits each (durable writes; not part of the timing).
    for i in 0..1000 {
        space
            .edit_session(
                &a,
                SessionEdit {
                    description: Some(format!("robin {i}")),
                    ..Default::default()
                },
            )
            .unwrap();
        theirs
            .edit_session(
                &b,
                SessionEdit {
                    description: Some(format!("blake {i}")),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let started = Instant::now();
    let mut rounds = 0;
    while space.sessions().unwrap() != theirs.sessions().unwrap() {
        robin.sync(&net, now).await.unwrap();
        blake.sync(&net, now).await.unwrap();
        rounds += 1;
        assert!(rounds < 5, "did not converge");
    }
    let elapsed = started.elapsed();
    println!(
        "convergence: 2 devices x 1,000 offline edits converged through the relay in {elapsed:?} ({rounds} sync round(s) of both devices)"
    );
}

fn wire_bytes() {
    let (mut doc, me) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let device = DeviceId::random();
    let signer = SigningKey::from_bytes(&[3; 32]);
    doc.set_actor(actor_for_device(&device).unwrap());
    doc.add_device(
        &me,
        &device,
        DeviceKeys {
            age_recipient: age::x25519::Identity::generate().to_public().to_string(),
            signing_key: hex::encode(signer.verifying_key().to_bytes()),
            binding: None,
        },
    )
    .unwrap();
    let session = doc
        .create_session(&me, draft("Walk"), safespaces_core::model::Timestamp(0))
        .unwrap();
    let key = EpochKey::generate();
    let space = SpaceId::random();
    for edits in [1usize, 3, 10, 30, 100, 1000] {
        let since = doc.heads();
        for i in 0..edits {
            doc.edit_session(
                &me,
                &session,
                SessionEdit {
                    title: Some(format!("Walk {i}")),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        let change_bytes: usize = doc.changes_since(&since).iter().map(Vec::len).sum();
        let sealed = seal_changes(&mut doc, &since, space, 0, &key, &device, &signer, 1)
            .unwrap()
            .unwrap();
        println!(
            "wire: batch of {edits} edit(s): automerge changes {change_bytes} B, envelope {} B on the wire ({:+.1} %)",
            sealed.len(),
            (sealed.len() as f64 / change_bytes as f64 - 1.0) * 100.0
        );
    }
    let big = build(100_000);
    let mut big_doc = big.0;
    let save = big_doc.save();
    let snapshot = Envelope {
        kind: EnvelopeKind::Snapshot,
        space,
        epoch: 0,
        author: device,
        sequence: 1,
        body: save.clone(),
    }
    .seal(&key.content_key(), &signer)
    .unwrap();
    println!(
        "wire: snapshot of 100k changes: automerge save {} B, envelope {} B ({:+.2} %)",
        save.len(),
        snapshot.len(),
        (snapshot.len() as f64 / save.len() as f64 - 1.0) * 100.0
    );
}

/// A space of `n` changes written by one device, and that device.
fn build(
    n: usize,
) -> (
    SpaceDoc,
    DeviceId,
    SigningKey,
    safespaces_core::model::MemberId,
    safespaces_core::model::SessionId,
) {
    let device = DeviceId::random();
    let signer = SigningKey::from_bytes(&[4; 32]);
    let (mut doc, me) = SpaceDoc::genesis(
        "Group",
        "Robin",
        &safespaces_core::model::SpaceZone::utc(),
        Timestamp(0),
        &device,
        DeviceKeys {
            age_recipient: age::x25519::Identity::generate().to_public().to_string(),
            signing_key: hex::encode(signer.verifying_key().to_bytes()),
            binding: None,
        },
    )
    .unwrap();
    let session = doc
        .create_session(&me, draft("Walk"), safespaces_core::model::Timestamp(0))
        .unwrap();
    for i in 0..n.saturating_sub(2) {
        doc.edit_session(
            &me,
            &session,
            SessionEdit {
                title: Some(format!("Walk {i}")),
                ..Default::default()
            },
        )
        .unwrap();
    }
    (doc, device, signer, me, session)
}

fn open_from_snapshot() {
    let (mut doc, device, signer, me, session) = build(100_000);
    let key = EpochKey::generate();
    let space = SpaceId::random();
    let snapshot = doc.save();
    // A tail of 300 envelopes of 3 edits each, as a mailbox holds after
    // compaction.
    let mut tail = Vec::new();
    for i in 0..300 {
        let since = doc.heads();
        for j in 0..3 {
            doc.edit_session(
                &me,
                &session,
                SessionEdit {
                    title: Some(format!("Tail {i}.{j}")),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        tail.push(
            seal_changes(
                &mut doc,
                &since,
                space,
                0,
                &key,
                &device,
                &signer,
                2 + i as u64,
            )
            .unwrap()
            .unwrap(),
        );
    }
    let full = doc.save();
    if std::env::var_os("SYNC_MEASURE_PHASES").is_some() {
        let t = Instant::now();
        let mut opened = SpaceDoc::load(&snapshot).unwrap();
        let t_load = t.elapsed();
        let t = Instant::now();
        let envelopes: Vec<_> = tail
            .iter()
            .map(|e| Envelope::open_unverified(e, &key.content_key(), space, 0).unwrap())
            .collect();
        let t_open = t.elapsed();
        let t = Instant::now();
        for received in receive_batches(&mut opened, envelopes) {
            received.unwrap();
        }
        let t_receive = t.elapsed();
        // The one automerge call inside it, alone, on a fresh copy.
        let mut again = SpaceDoc::load(&snapshot).unwrap();
        let changes: Vec<_> = tail
            .iter()
            .flat_map(|e| {
                let opened = Envelope::open(e, &key.content_key(), space, 0, |_| {
                    Some(signer.verifying_key())
                })
                .unwrap();
                safespaces_core::protocol::exchange::decode_batch(&opened.body)
                    .unwrap()
                    .0
            })
            .collect();
        let t = Instant::now();
        again.apply_decoded(changes).unwrap();
        let t_apply = t.elapsed();
        println!(
            "phases: load snapshot {t_load:?}, age-open the tail {t_open:?}, receive_batches {t_receive:?} (verify, decode, check, and one apply of {t_apply:?})"
        );
    }
    // Alternating runs, so both see the same machine; the shared machine is
    // noisy, so take the median of many. Also the snapshot load alone, to
    // show what the tail adds.
    let (mut ours, mut plain, mut snapshot_only) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        let mut opened = SpaceDoc::load(&snapshot).unwrap();
        let envelopes = tail
            .iter()
            .map(|e| Envelope::open_unverified(e, &key.content_key(), space, 0).unwrap())
            .collect();
        for received in receive_batches(&mut opened, envelopes) {
            received.unwrap();
        }
        ours.push(started.elapsed());
        let started = Instant::now();
        let _ = AutoCommit::load(&full).unwrap();
        plain.push(started.elapsed());
        let started = Instant::now();
        let _ = SpaceDoc::load(&snapshot).unwrap();
        snapshot_only.push(started.elapsed());
    }
    let (ours, plain, snapshot_only) = (median(ours), median(plain), median(snapshot_only));
    println!(
        "open: 100k-change space from snapshot + 300 verified envelopes {ours:?}, plain automerge load of the same document {plain:?}, ratio {:.2} (the snapshot alone: {snapshot_only:?})",
        ours.as_secs_f64() / plain.as_secs_f64()
    );
}
