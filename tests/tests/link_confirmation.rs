//! Linking confirms before anything leaves (protocol.md §8), across real
//! processes: a relay, and someone else holding the link code
//! (`link-snoop`, its own process) who polls both link drop-boxes every
//! 50 ms while the person's old device approves. Nothing is published
//! before she confirms the fingerprint; what the snooper takes opens with
//! the code only as far as an age file sealed to the new device; a
//! mismatch, a decline or a taken package slot adds no device anywhere;
//! and a device linked after a removal follows the journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use safespaces_core::app::{AppError, SafeSpaces};
use safespaces_core::model::{DeviceId, DeviceKeys, Timestamp};
use safespaces_core::protocol::invite::bind_device;
use safespaces_core::protocol::link::{LinkError, LinkPackage, LinkRequest, LinkSecret};
use safespaces_core::relay::{DropboxId, RelayTransport};
use safespaces_e2e::{
    RelayProcess, assert_no_sequence_alerts, journal_texts, link_through_relay, test_client,
    test_device, test_session,
};
use serde_json::Value;
use tokio::sync::mpsc;

const SNOOP: &str = env!("CARGO_BIN_EXE_link-snoop");

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The `link-snoop` process and the JSON lines it prints.
struct Snoop {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Snoop {
    /// Starts watching `code`'s drop-boxes for up to `for_ms`, dumping what
    /// it takes into `dump`.
    fn start(relay: &RelayProcess, code: &str, for_ms: u64, dump: &Path) -> Self {
        let mut child = Command::new(SNOOP)
            .args([
                "--relay",
                &relay.url(),
                "--pin",
                relay.pin(),
                "--code",
                code,
            ])
            .args(["--for-ms", &for_ms.to_string(), "--dump"])
            .arg(dump)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("link-snoop starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Snoop { child, lines }
    }

    async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(40), self.lines.recv())
            .await
            .expect("link-snoop answered in time")
            .expect("link-snoop still running")
    }

    /// Waits for the event `name`; returns when it happened (Unix ms).
    async fn event(&mut self, name: &str) -> u64 {
        loop {
            let line = self.next().await;
            if line["event"] == name {
                return line["at_ms"].as_u64().unwrap();
            }
            assert!(line.get("report").is_none(), "ended before {name}: {line}");
        }
    }

    /// Waits for the final report.
    async fn report(mut self) -> Value {
        loop {
            let line = self.next().await;
            if let Some(report) = line.get("report") {
                let _ = self.child.wait();
                return report.clone();
            }
        }
    }
}

impl Drop for Snoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn link_error(result: Result<impl std::fmt::Debug, AppError>) -> LinkError {
    match result {
        Err(AppError::Link(e)) => e,
        other => panic!("expected a link error, got {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How many devices the person's member entry lists in the space.
fn listed_devices(app: &SafeSpaces, space: &str) -> usize {
    let s = app.space(space).unwrap();
    let me = s.my_member_id().unwrap();
    let members = s.members().unwrap();
    let (_, member) = members.iter().find(|(id, _)| *id == me).unwrap();
    member.devices.len()
}

/// A relay, a client of it, and fresh devices, each in a temporary
/// directory that lives as long as this does; `scratch` is where the snoop
/// writes what it took.
struct World {
    relay: RelayProcess,
    net: RelayTransport,
    devices: Vec<SafeSpaces>,
    scratch: tempfile::TempDir,
    _dirs: Vec<tempfile::TempDir>,
    _relay_dir: tempfile::TempDir,
}

impl World {
    fn new(devices: usize) -> Self {
        let relay_dir = tempfile::tempdir().unwrap();
        let relay = RelayProcess::start(relay_dir.path());
        let net = test_client(&relay, Duration::from_secs(10));
        let dirs: Vec<_> = (0..devices).map(|_| tempfile::tempdir().unwrap()).collect();
        World {
            devices: dirs.iter().map(|d| test_device(d.path())).collect(),
            relay,
            net,
            scratch: tempfile::tempdir().unwrap(),
            _dirs: dirs,
            _relay_dir: relay_dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_polling_with_the_code_sees_no_package_before_confirmation_and_opens_nothing_secret()
 {
    let w = World::new(2);
    let (relay, net, now) = (&w.relay, &w.net, Timestamp(1_000));
    let (phone, laptop) = (&w.devices[0], &w.devices[1]);
    let space = phone.create_space("Group", "Robin", now).unwrap();
    space.create_session(test_session("Walk"), now).unwrap();
    phone.sync(net, now).await.unwrap();

    let offer = laptop.offer_link(net).await.unwrap();
    let mut snoop = Snoop::start(relay, &offer.code, 30_000, w.scratch.path());
    snoop.event("request_seen").await;

    // The old device claims the request and shows its fingerprint; the
    // person takes her time comparing. Nothing is written or sent.
    let pending = phone.begin_link(net, &offer.code).await.unwrap();
    assert_eq!(pending.fingerprint(), offer.fingerprint);
    snoop.event("request_gone").await;
    assert_eq!(
        link_error(
            laptop
                .complete_link(net, &offer, Duration::from_secs(1), now)
                .await
        ),
        LinkError::NoPackage,
        "before the confirmation there is nothing to take"
    );
    assert_eq!(phone.devices().unwrap().len(), 1);
    assert_eq!(listed_devices(phone, &space.id()), 1);

    let confirmed_at = unix_ms();
    assert_eq!(
        phone
            .confirm_link(net, &pending, &offer.fingerprint, now)
            .await
            .unwrap(),
        1
    );
    let report = snoop.report().await;
    eprintln!("link-snoop: {report}");

    // It watched all along, and saw the package only after the confirmation.
    assert!(report["polls"].as_u64().unwrap() >= 20, "{report}");
    let seen = report["package_seen_at_ms"]
        .as_u64()
        .expect("it saw the package");
    assert!(seen >= confirmed_at, "{report}");
    assert!(report["request_gone_at_ms"].as_u64().unwrap() < confirmed_at);
    // It took the package first, and opened only the outer layer.
    assert_eq!(report["package_claimed"], true, "{report}");
    assert_eq!(report["outer_opened"], true);
    assert_eq!(report["inner_is_age"], true);
    assert_eq!(report["opened_inside"], serde_json::json!([]), "{report}");
    assert!(
        report["inner_error"]
            .as_str()
            .unwrap()
            .contains("not sealed to this device"),
        "{report}"
    );

    // The new device's package was taken: it says so, and learns nothing.
    assert_eq!(
        link_error(
            laptop
                .complete_link(net, &offer, Duration::from_secs(1), now)
                .await
        ),
        LinkError::NoPackage
    );
    // What the snooper holds is the real package, sealed to the laptop:
    // the laptop's own key opens it, and none of its secrets is in what
    // the code opened.
    let sealed = std::fs::read(w.scratch.path().join("package.sealed")).unwrap();
    let outer = std::fs::read(w.scratch.path().join("package.outer")).unwrap();
    let identity = laptop
        .profile()
        .with_keyring(|k| k.device_identity().clone())
        .unwrap();
    let code = LinkSecret::parse(&offer.code).unwrap();
    let package = LinkPackage::open(&sealed, &code, &identity).unwrap();
    assert_eq!(package.spaces.len(), 1);
    let mut secrets = vec![package.person_secret.to_vec()];
    secrets.extend(
        package
            .spaces
            .iter()
            .map(|s| s.epoch_key.expose_bytes().to_vec()),
    );
    for secret in secrets {
        assert!(!contains(&outer, &secret));
        assert!(!contains(&outer, hex::encode(&secret).as_bytes()));
    }
    // The link was answered: no second confirmation.
    assert_eq!(
        link_error(
            phone
                .confirm_link(net, &pending, &offer.fingerprint, now)
                .await
        ),
        LinkError::AlreadyAnswered
    );
}

/// A request for `code` from a device of the snooper's own, as he would
/// put it after claiming the real one.
fn swapped_request(code: &LinkSecret) -> (LinkRequest, Vec<u8>) {
    let identity = age::x25519::Identity::generate();
    let signer = SigningKey::generate(&mut rand::rngs::OsRng);
    let device = DeviceId::random();
    let mut keys = DeviceKeys {
        age_recipient: identity.to_public().to_string(),
        signing_key: hex::encode(signer.verifying_key().to_bytes()),
        binding: None,
    };
    keys.binding = Some(bind_device(&device, &keys, &signer));
    let request = LinkRequest { device, keys };
    let sealed = request.seal(code).unwrap();
    (request, sealed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_request_shows_another_fingerprint_and_a_mismatch_publishes_nothing() {
    let w = World::new(2);
    let (relay, net, now) = (&w.relay, &w.net, Timestamp(1_000));
    let (phone, laptop) = (&w.devices[0], &w.devices[1]);
    let space = phone.create_space("Group", "Robin", now).unwrap();
    phone.sync(net, now).await.unwrap();

    let offer = laptop.offer_link(net).await.unwrap();
    let code = LinkSecret::parse(&offer.code).unwrap();
    let mut snoop = Snoop::start(relay, &offer.code, 4_000, w.scratch.path());
    snoop.event("request_seen").await;
    // Someone holding the code takes the real request and puts his own.
    let request_box = DropboxId::from_hex(&code.request_dropbox()).unwrap();
    net.claim_dropbox(&request_box).await.unwrap();
    let (theirs, sealed) = swapped_request(&code);
    net.put_dropbox(&request_box, sealed, None).await.unwrap();

    // The old device shows *his* fingerprint; the person types what the
    // laptop shows, and nothing happens.
    let pending = phone.begin_link(net, &offer.code).await.unwrap();
    assert_eq!(pending.fingerprint(), theirs.fingerprint());
    assert_ne!(pending.fingerprint(), offer.fingerprint);
    for typed in [offer.fingerprint.as_str(), "", "0000 0000 0000 0000"] {
        assert_eq!(
            link_error(phone.confirm_link(net, &pending, typed, now).await),
            LinkError::FingerprintMismatch
        );
    }
    phone.decline_link(&pending).unwrap();
    // Declined is answered: not even the matching fingerprint goes through.
    assert_eq!(
        link_error(
            phone
                .confirm_link(net, &pending, &theirs.fingerprint(), now)
                .await
        ),
        LinkError::AlreadyAnswered
    );
    assert_eq!(
        link_error(phone.decline_link(&pending)),
        LinkError::AlreadyAnswered
    );

    let report = snoop.report().await;
    eprintln!("link-snoop: {report}");
    assert!(report["package_seen_at_ms"].is_null(), "{report}");
    assert!(report["polls"].as_u64().unwrap() >= 20, "{report}");
    // No device was added to the space or to her list, here or on the relay.
    phone.sync(net, now).await.unwrap();
    assert_eq!(phone.devices().unwrap().len(), 1);
    assert_eq!(listed_devices(phone, &space.id()), 1);
    assert_eq!(
        link_error(
            laptop
                .complete_link(net, &offer, Duration::from_secs(1), now)
                .await
        ),
        LinkError::NoPackage
    );
    // The code's request is gone, and a code nobody offered has none.
    for unused in [offer.code.clone(), LinkSecret::generate().code()] {
        assert_eq!(
            link_error(phone.begin_link(net, &unused).await),
            LinkError::NoRequest
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_package_slot_stops_the_link_before_any_device_is_added() {
    let w = World::new(2);
    let (net, now) = (&w.net, Timestamp(1_000));
    let (phone, laptop) = (&w.devices[0], &w.devices[1]);
    let space = phone.create_space("Group", "Robin", now).unwrap();
    phone.sync(net, now).await.unwrap();

    let offer = laptop.offer_link(net).await.unwrap();
    let pending = phone.begin_link(net, &offer.code).await.unwrap();
    // Someone holding the code answers the laptop first.
    let code = LinkSecret::parse(&offer.code).unwrap();
    let slot = DropboxId::from_hex(&code.package_dropbox()).unwrap();
    net.put_dropbox(&slot, vec![7; 2048], None).await.unwrap();

    assert_eq!(
        link_error(
            phone
                .confirm_link(net, &pending, &offer.fingerprint, now)
                .await
        ),
        LinkError::PackageSlotTaken
    );
    assert_eq!(phone.devices().unwrap().len(), 1);
    assert_eq!(listed_devices(phone, &space.id()), 1);
    assert_eq!(
        link_error(
            phone
                .confirm_link(net, &pending, &offer.fingerprint, now)
                .await
        ),
        LinkError::AlreadyAnswered
    );
    // What the laptop finds does not open for it.
    assert!(matches!(
        laptop
            .complete_link(net, &offer, Duration::from_secs(1), now)
            .await,
        Err(AppError::Link(LinkError::Undecryptable))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_link_brings_the_spaces_and_the_journal() {
    let w = World::new(2);
    let (net, now) = (&w.net, Timestamp(1_000));
    let (phone, laptop) = (&w.devices[0], &w.devices[1]);
    let space = phone.create_space("Group", "Robin", now).unwrap();
    space.create_session(test_session("Walk"), now).unwrap();
    phone
        .journal()
        .add("written before the link", None, &[], now)
        .unwrap();
    phone.journal().set_sync(true).unwrap();
    phone.sync(net, now).await.unwrap();

    // The person types the fingerprint her way: no spaces, upper case.
    let offer = laptop.offer_link(net).await.unwrap();
    let pending = phone.begin_link(net, &offer.code).await.unwrap();
    let typed = offer.fingerprint.replace(' ', "").to_uppercase();
    let (linked, confirmed) = tokio::join!(
        laptop.complete_link(net, &offer, Duration::from_secs(20), now),
        phone.confirm_link(net, &pending, &typed, now)
    );
    assert_eq!(confirmed.unwrap(), 1);
    assert_eq!(linked.unwrap(), 1);

    let on_laptop = laptop.space(&space.id()).unwrap();
    assert_eq!(
        on_laptop.my_member_id().unwrap(),
        space.my_member_id().unwrap()
    );
    assert_eq!(on_laptop.sessions().unwrap(), space.sessions().unwrap());
    assert_eq!(listed_devices(phone, &space.id()), 2);
    let on_laptop_devices = laptop.devices().unwrap();
    assert_eq!(on_laptop_devices.len(), 2);
    assert_eq!(on_laptop_devices[1].id, phone.device_id().unwrap());

    laptop.journal().set_sync(true).unwrap();
    for _ in 0..2 {
        laptop.sync(net, now).await.unwrap();
        phone.sync(net, now).await.unwrap();
    }
    assert_eq!(
        journal_texts(laptop),
        vec!["written before the link".to_string()]
    );
    assert_no_sequence_alerts(phone);
    assert_no_sequence_alerts(laptop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_linked_after_a_removal_follows_the_journal() {
    let w = World::new(3);
    let (net, now) = (&w.net, Timestamp(1_000));
    let (phone, lost, laptop) = (&w.devices[0], &w.devices[1], &w.devices[2]);
    phone.create_space("Group", "Robin", now).unwrap();
    phone.sync(net, now).await.unwrap();

    // A second phone, linked and syncing the journal, is lost and removed:
    // the journal moves to a key it does not get.
    link_through_relay(phone, lost, net, now).await;
    for app in [&phone, &lost] {
        app.journal().set_sync(true).unwrap();
    }
    phone
        .journal()
        .add("CANARY-before", None, &[], now)
        .unwrap();
    for app in [&phone, &lost, &phone, &lost] {
        app.sync(net, now).await.unwrap();
    }
    assert_eq!(journal_texts(lost), vec!["CANARY-before".to_string()]);
    let lost_id = lost.device_id().unwrap();
    phone.remove_device(&lost_id, now).unwrap();
    phone.sync(net, now).await.unwrap();
    // The removed phone cannot be linked again as it is.
    let again = lost.offer_link(net).await.unwrap();
    assert_eq!(
        link_error(phone.begin_link(net, &again.code).await),
        LinkError::NotANewDevice
    );

    // The laptop is linked after the removal, and written to after that.
    link_through_relay(phone, laptop, net, now).await;
    let listed = laptop.devices().unwrap();
    assert_eq!(listed.len(), 3);
    let lost_there = listed.iter().find(|d| d.id == lost_id).unwrap();
    assert!(lost_there.removed_at.is_some(), "removed stays removed");
    laptop.journal().set_sync(true).unwrap();
    phone.journal().add("CANARY-after", None, &[], now).unwrap();
    for app in [&phone, &laptop, &phone, &laptop] {
        app.sync(net, now).await.unwrap();
    }
    assert_eq!(
        journal_texts(laptop),
        vec!["CANARY-after".to_string(), "CANARY-before".to_string()]
    );
    // And the other way: the phone reads what the laptop writes, in the
    // same epoch's mailbox.
    laptop
        .journal()
        .add("CANARY-from-the-laptop", None, &[], now)
        .unwrap();
    for app in [&laptop, &phone] {
        app.sync(net, now).await.unwrap();
    }
    assert!(journal_texts(phone).contains(&"CANARY-from-the-laptop".to_string()));
    // The removed phone reads none of it.
    for _ in 0..2 {
        lost.sync(net, now).await.unwrap();
    }
    assert_eq!(journal_texts(lost), vec!["CANARY-before".to_string()]);
    // A device removed, the space rotated, another linked into the new
    // epoch: no envelope number out of place.
    for app in [phone, lost, laptop] {
        assert_no_sequence_alerts(app);
    }
}
