//! Envelope sequence numbers against a relay that withholds, reorders or
//! replays, and a member's device that signs two envelopes under one
//! number (issue 16; protocol.md §3, "Sequence numbers").
//!
//! The relay an honest device syncs with is, from some point on, the
//! attacker's: a second real relay process holding the real mailboxes'
//! real blobs, copied by a test that plays the relay operator, who leaves
//! one out or changes their order. Every device talks to it over real TLS
//! through the normal sync.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use safespaces_core::app::{SafeSpaces, SequenceAlert, SequenceStatus, Space};
use safespaces_core::model::{Role, Timestamp};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::protocol::{Envelope, EnvelopeKind, SpaceId};
use safespaces_core::relay::{Blob, RelayTransport};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, held_epoch_key, join_through_relay, own_storage,
    session_titles, test_client, test_device, test_session,
};

fn space_id(space: &Space) -> SpaceId {
    let mut id = [0u8; 16];
    hex::decode_to_slice(space.id(), &mut id).unwrap();
    SpaceId(id)
}

/// What the header of one blob of a space's epoch-0 mailbox says (the
/// relay operator cannot read it; the test, holding a member's key, tells
/// the blobs apart to pick one).
fn header(app: &SafeSpaces, space: &Space, blob: &Blob) -> Option<(EnvelopeKind, String, u64)> {
    let key = held_epoch_key(app, &space.id(), 0);
    let unverified =
        Envelope::open_unverified(&blob.data, &key.content_key(), space_id(space), 0).ok()?;
    let peek = unverified.peek();
    Some((peek.kind, peek.author.to_string(), peek.sequence))
}

/// The blobs of a space's epoch-0 mailbox on the real relay.
async fn blobs(app: &SafeSpaces, space: &Space, net: &RelayTransport) -> Vec<Blob> {
    let credential = own_storage::mailbox_credential(app, &space.id(), 0);
    net.read_all(&credential, 0).await.unwrap().blobs
}

/// The attacker's relay takes over a mailbox: it holds `blobs` (real bytes),
/// in the order given.
async fn serve(app: &SafeSpaces, space: &Space, evil: &RelayTransport, blobs: Vec<Blob>) {
    let credential = own_storage::mailbox_credential(app, &space.id(), 0);
    assert!(evil.create_mailbox(&credential).await.unwrap());
    for blob in blobs {
        evil.append(&credential, blob.data).await.unwrap();
    }
}

/// The numbers of `author`'s change batches in `blobs`, with their places.
fn batches_of(app: &SafeSpaces, space: &Space, blobs: &[Blob], author: &str) -> Vec<(usize, u64)> {
    blobs
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match header(app, space, b) {
            Some((EnvelopeKind::ChangeBatch, a, n)) if a == author => Some((i, n)),
            _ => None,
        })
        .collect()
}

/// Robin's circle and walking group, Sam in both, and three sessions Robin
/// planned in the circle with a sync after each: three change batches of
/// Robin's, numbered one after the other, that Sam has not read yet.
struct Group {
    _dirs: Vec<tempfile::TempDir>,
    _relay_dir: tempfile::TempDir,
    _relay: RelayProcess,
    net: RelayTransport,
    robin: SafeSpaces,
    sam: SafeSpaces,
    circle: Space,
    walks: Space,
    now: Timestamp,
}

async fn group() -> Group {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
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
    robin.sync(&net, now).await.unwrap();
    sam.sync(&net, now).await.unwrap();
    for title in ["first", "second", "third"] {
        circle.create_session(test_session(title), now).unwrap();
        robin.sync(&net, now).await.unwrap();
    }
    walks.create_session(test_session("walk"), now).unwrap();
    robin.sync(&net, now).await.unwrap();
    Group {
        _dirs: dirs,
        _relay_dir: relay_dir,
        _relay: relay,
        net,
        robin,
        sam,
        circle,
        walks,
        now,
    }
}

fn status(app: &SafeSpaces, space: &Space) -> SequenceStatus {
    app.space(&space.id()).unwrap().sequence_status().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_withholds_an_envelope_is_reported_as_a_gap_in_that_space() {
    let g = group().await;
    let robin_device = g.robin.device_id().unwrap().to_string();
    let circle = blobs(&g.robin, &g.circle, &g.net).await;
    let walks = blobs(&g.robin, &g.walks, &g.net).await;
    // Robin's batch with the second session in it: the one before her last.
    let batches = batches_of(&g.robin, &g.circle, &circle, &robin_device);
    let (withheld, _) = batches[batches.len() - 2];

    let evil_dir = tempfile::tempdir().unwrap();
    let evil_relay = RelayProcess::start(evil_dir.path());
    let evil = test_client(&evil_relay, Duration::from_secs(10));
    let served: Vec<Blob> = circle
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != withheld)
        .map(|(_, b)| b)
        .collect();
    serve(&g.robin, &g.circle, &evil, served).await;
    serve(&g.robin, &g.walks, &evil, walks).await;

    let report = g.sam.sync(&evil, g.now).await.unwrap();
    assert_eq!(
        report.sequence_alerts,
        vec![SequenceAlert {
            space: g.circle.id(),
            missing: 1,
            reused: 0,
        }],
        "{report:?}"
    );
    // What arrived was applied; the third session waits for the second.
    assert_eq!(session_titles(&g.sam, &g.circle.id()), vec!["first"]);
    assert_eq!(session_titles(&g.sam, &g.walks.id()), vec!["walk"]);
    let gap = SequenceStatus {
        missing: 1,
        missing_noticed: 1,
        reused: 0,
    };
    assert_eq!(status(&g.sam, &g.circle), gap);
    assert_eq!(status(&g.sam, &g.walks), SequenceStatus::default());

    // Reported once; the space still shows it, also after the app is
    // closed and opened again (it is saved with the rest of the space).
    let again = g.sam.sync(&evil, g.now).await.unwrap();
    assert!(again.sequence_alerts.is_empty(), "{again:?}");
    assert_eq!(status(&g.sam, &g.circle), gap);
    // Robin, on the honest relay, sees nothing wrong.
    assert_no_sequence_alerts(&g.robin);
    let Group {
        sam,
        _dirs: dirs,
        circle,
        ..
    } = g;
    drop(sam);
    let sam = SafeSpaces::open(
        dirs[1].path(),
        ProfileOptions {
            passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
        },
    )
    .unwrap();
    sam.unlock(&UnlockSecret::passphrase("test passphrase"))
        .unwrap();
    assert_eq!(status(&sam, &circle), gap);
    let after_restart = sam.sync(&evil, Timestamp(1_000)).await.unwrap();
    assert!(
        after_restart.sequence_alerts.is_empty(),
        "{after_restart:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_reorders_or_replays_envelopes_raises_no_alarm() {
    let g = group().await;
    let robin_device = g.robin.device_id().unwrap().to_string();
    let mut circle = blobs(&g.robin, &g.circle, &g.net).await;
    let walks = blobs(&g.robin, &g.walks, &g.net).await;
    let batches = batches_of(&g.robin, &g.circle, &circle, &robin_device);
    let (second, _) = batches[batches.len() - 2];
    let (third, _) = batches[batches.len() - 1];
    let (first, _) = batches[batches.len() - 3];
    // The last two out of order, and the first one served again at the end.
    circle.swap(second, third);
    let replayed = circle[first].clone();
    circle.push(replayed);

    let evil_dir = tempfile::tempdir().unwrap();
    let evil_relay = RelayProcess::start(evil_dir.path());
    let evil = test_client(&evil_relay, Duration::from_secs(10));
    serve(&g.robin, &g.circle, &evil, circle).await;
    serve(&g.robin, &g.walks, &evil, walks).await;

    let report = g.sam.sync(&evil, g.now).await.unwrap();
    // Order does not matter to the document and a replay changes nothing:
    // nothing to tell the person.
    assert!(report.sequence_alerts.is_empty(), "{report:?}");
    assert_eq!(
        session_titles(&g.sam, &g.circle.id()),
        vec!["first", "second", "third"]
    );
    assert_no_sequence_alerts(&g.sam);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_signs_two_envelopes_under_one_number_is_reported() {
    let g = group().await;
    // Sam has read everything so far.
    g.sam.sync(&g.net, g.now).await.unwrap();
    let robin_device = g.robin.device_id().unwrap();
    let circle = blobs(&g.robin, &g.circle, &g.net).await;
    let batches = batches_of(&g.robin, &g.circle, &circle, robin_device.as_str());
    let (first, first_number) = batches[batches.len() - 3];
    let (third, _) = batches[batches.len() - 1];

    // Robin's device (a modified app, or a copy of it) signs another
    // envelope under the number of her first session's batch: the third
    // session's changes.
    let key = held_epoch_key(&g.robin, &g.circle.id(), 0);
    let signing = g
        .robin
        .profile()
        .with_keyring(|k| k.signing_key().clone())
        .unwrap();
    let open = |blob: &Blob| {
        Envelope::open(
            &blob.data,
            &key.content_key(),
            space_id(&g.circle),
            0,
            |_| Some(signing.verifying_key()),
        )
        .unwrap()
    };
    assert_eq!(open(&circle[first]).sequence, first_number);
    let twin = Envelope {
        sequence: first_number,
        ..open(&circle[third])
    }
    .seal(&key.content_key(), &signing)
    .unwrap();
    // And a batch with no number, which no honest app writes.
    let unnumbered = Envelope {
        sequence: 0,
        ..open(&circle[third])
    }
    .seal(&key.content_key(), &signing)
    .unwrap();
    let credential = own_storage::mailbox_credential(&g.robin, &g.circle.id(), 0);
    g.net.append(&credential, twin.clone()).await.unwrap();
    g.net.append(&credential, unnumbered).await.unwrap();
    // The same twin again (a retried append): not a second reuse.
    g.net.append(&credential, twin).await.unwrap();

    let report = g.sam.sync(&g.net, g.now).await.unwrap();
    assert_eq!(
        report.sequence_alerts,
        vec![SequenceAlert {
            space: g.circle.id(),
            missing: 0,
            reused: 1,
        }],
        "{report:?}"
    );
    assert!(report.refused >= 1, "the unnumbered batch: {report:?}");
    // Still applied as usual: the document is what it was.
    assert_eq!(
        session_titles(&g.sam, &g.circle.id()),
        vec!["first", "second", "third"]
    );
    assert_eq!(
        status(&g.sam, &g.circle),
        SequenceStatus {
            missing: 0,
            missing_noticed: 0,
            reused: 1,
        }
    );
    assert_eq!(status(&g.sam, &g.walks), SequenceStatus::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_back_in_a_space_numbers_on_from_what_it_wrote_before_it_left() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(relay_dir.path());
    let net = test_client(&relay, Duration::from_secs(10));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let robin = test_device(dirs[0].path());
    let lee = test_device(dirs[1].path());
    let blake = test_device(dirs[2].path());
    let now = Timestamp(1_000);
    let space = robin.create_space("Circle", "Robin", now).unwrap();
    robin.sync(&net, now).await.unwrap();
    let (lees, _, _) = join_through_relay(&robin, &space, &lee, Role::Lead, "Lee", &net, now).await;
    let (blakes, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    lees.create_session(test_session("walk"), now).unwrap();
    lee.sync(&net, now).await.unwrap();
    blake.sync(&net, now).await.unwrap();
    let (walk, _) = blakes.sessions().unwrap().pop().unwrap();
    blakes.volunteer_to_lead(&walk, now).unwrap();
    blake.sync(&net, now).await.unwrap();

    // Blake leaves; before any coordinator's device rotates, Lee invites
    // her back, into the same epoch's mailbox, on the same phone.
    blakes.leave(now).unwrap();
    blake.sync(&net, now).await.unwrap();
    let (back, _, _) =
        join_through_relay(&lee, &lees, &blake, Role::Member, "Blake", &net, now).await;
    assert_eq!(back.epoch().unwrap(), 0);
    // What her phone writes now follows what it wrote before it left.
    back.volunteer_to_lead(&walk, now).unwrap();
    blake.sync(&net, now).await.unwrap();
    lee.sync(&net, now).await.unwrap();
    robin.sync(&net, now).await.unwrap();
    for app in [&robin, &lee, &blake] {
        assert_no_sequence_alerts(app);
    }
}
