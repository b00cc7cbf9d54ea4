//! Link codes, requests and packages, with committed vectors
//! (`testdata/link_packages.json`): a version 3 package that opens with its
//! code and the new device's identity, and packages that must not open.
//! Regenerate with
//! `cargo test -p safespaces-core --lib regenerate_link_vectors -- --ignored`
//! only when the format deliberately changes.

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::*;
use crate::model::{Role, SpaceDoc};
use crate::protocol::authorship::{actor_for_device, check_batch};
use crate::protocol::invite::bind_device;

const VECTORS: &str = include_str!("testdata/link_packages.json");

/// A new device's request, with its binding, and its age identity.
fn request() -> (LinkRequest, age::x25519::Identity) {
    let identity = age::x25519::Identity::generate();
    let signer = SigningKey::generate(&mut rand::rngs::OsRng);
    let device = DeviceId::random();
    let mut keys = DeviceKeys {
        age_recipient: identity.to_public().to_string(),
        signing_key: hex::encode(signer.verifying_key().to_bytes()),
        binding: None,
    };
    keys.binding = Some(bind_device(&device, &keys, &signer));
    (LinkRequest { device, keys }, identity)
}

/// A package with every part filled: two spaces, the journal past a
/// removal with an adopted handover, three devices (one removed).
fn full_package(new_device: &LinkRequest) -> LinkPackage {
    let old = DeviceId::from("00000000000000a1".to_string());
    let lost = DeviceId::from("00000000000000b2".to_string());
    let keys = |n: u8| DeviceKeys {
        age_recipient: age::x25519::Identity::generate().to_public().to_string(),
        signing_key: hex::encode([n; 32]),
        binding: Some(hex::encode([n; 64])),
    };
    LinkPackage {
        person_secret: [5; 32],
        spaces: vec![
            LinkedSpace {
                space: SpaceId([1; 16]),
                member: MemberId::from("1111111111111111".to_string()),
                epoch: 3,
                epoch_key: EpochKey::from_bytes([6; 32]),
                admin_key: AdminSeed::from_bytes([3; 32]).public(),
                admin_seed: Some(AdminSeed::from_bytes([3; 32])),
            },
            LinkedSpace {
                space: SpaceId([2; 16]),
                member: MemberId::from("2222222222222222".to_string()),
                epoch: 0,
                epoch_key: EpochKey::from_bytes([7; 32]),
                admin_key: AdminSeed::from_bytes([4; 32]).public(),
                admin_seed: None,
            },
        ],
        journal: LinkedJournal {
            epoch: 2,
            key: Some(EpochKey::from_bytes([8; 32])),
            previous_key: Some(EpochKey::from_bytes([9; 32])),
            answered: vec![lost.clone()],
            adopted: Some((old.clone(), "ab".repeat(32))),
        },
        devices: vec![
            LinkedDevice {
                device: old,
                keys: keys(1),
                removed_at: None,
            },
            LinkedDevice {
                device: lost,
                keys: keys(2),
                removed_at: Some(Timestamp(1_000)),
            },
            LinkedDevice {
                device: new_device.device.clone(),
                keys: new_device.keys.clone(),
                removed_at: None,
            },
        ],
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn codes_round_trip_and_are_not_invite_codes() {
    let secret = LinkSecret::generate();
    let parsed = LinkSecret::parse(&secret.code().to_uppercase()).unwrap();
    assert_eq!(parsed.package_dropbox(), secret.package_dropbox());
    assert_ne!(secret.request_dropbox(), secret.package_dropbox());
    assert_eq!(
        LinkSecret::parse(&crate::protocol::invite::InviteSecret::generate().code()).unwrap_err(),
        LinkError::BadCode
    );
}

#[test]
fn a_request_opens_only_with_its_code_and_only_with_a_valid_binding() {
    let secret = LinkSecret::generate();
    let (req, _) = request();
    let sealed = req.seal(&secret).unwrap();
    assert_eq!(LinkRequest::open(&sealed, &secret).unwrap(), req);
    assert_eq!(
        LinkRequest::open(&sealed, &LinkSecret::generate()).unwrap_err(),
        LinkError::Undecryptable
    );
    assert_eq!(req.fingerprint().len(), 19);
    assert_eq!(req.fingerprint(), req.keys.fingerprint(&req.device));

    // Keys someone else signed for, or none, or a recipient the package
    // could not be sealed to.
    let (other, _) = request();
    for bad in [
        LinkRequest {
            device: req.device.clone(),
            keys: DeviceKeys {
                binding: other.keys.binding.clone(),
                ..req.keys.clone()
            },
        },
        LinkRequest {
            device: req.device.clone(),
            keys: DeviceKeys {
                binding: None,
                ..req.keys.clone()
            },
        },
        LinkRequest {
            device: req.device.clone(),
            keys: DeviceKeys {
                age_recipient: "age1notarecipient".into(),
                ..req.keys.clone()
            },
        },
        LinkRequest {
            device: DeviceId::from("not an id".to_string()),
            keys: req.keys.clone(),
        },
    ] {
        let sealed = bad.seal(&secret).unwrap();
        assert_eq!(
            LinkRequest::open(&sealed, &secret).unwrap_err(),
            LinkError::Undecryptable
        );
    }
}

#[test]
fn fingerprints_match_ignoring_spaces_dashes_and_case_only() {
    let (req, _) = request();
    let shown = req.fingerprint();
    assert!(fingerprints_match(&shown, &shown));
    assert!(fingerprints_match(&shown.to_uppercase(), &shown));
    assert!(fingerprints_match(&shown.replace(' ', ""), &shown));
    assert!(fingerprints_match(&shown.replace(' ', "-"), &shown));
    assert!(fingerprints_match(&format!("  {shown}\n"), &shown));
    let mut one_off = shown.clone().into_bytes();
    one_off[0] = if one_off[0] == b'0' { b'1' } else { b'0' };
    assert!(!fingerprints_match(
        &String::from_utf8(one_off).unwrap(),
        &shown
    ));
    assert!(!fingerprints_match(&shown[..14], &shown), "a prefix");
    assert!(!fingerprints_match("", ""), "nothing matches nothing");
}

#[test]
fn a_version_2_package_round_trips_with_every_part() {
    let secret = LinkSecret::generate();
    let (req, identity) = request();
    let package = full_package(&req);
    let sealed = package.seal(&secret, &req.keys.age_recipient).unwrap();
    assert_eq!(
        LinkPackage::open(&sealed, &secret, &identity).unwrap(),
        package
    );
    let empty = LinkPackage::new([3; 32]);
    let sealed = empty.seal(&secret, &req.keys.age_recipient).unwrap();
    assert_eq!(
        LinkPackage::open(&sealed, &secret, &identity).unwrap(),
        empty
    );
}

#[test]
fn the_code_opens_the_outer_layer_but_nothing_inside_it() {
    let secret = LinkSecret::generate();
    let (req, identity) = request();
    let package = full_package(&req);
    let sealed = package.seal(&secret, &req.keys.age_recipient).unwrap();

    // Someone who claimed it with the code: an age file to the new device.
    let outer = LinkPackage::open_outer(&sealed, &secret).unwrap();
    assert!(outer.starts_with(b"age-encryption.org/v1\n-> X25519 "));
    for secret_bytes in [
        package.person_secret.to_vec(),
        package.spaces[0].epoch_key.expose_bytes().to_vec(),
        package
            .journal
            .key
            .as_ref()
            .unwrap()
            .expose_bytes()
            .to_vec(),
    ] {
        assert!(!contains(&outer, &secret_bytes));
        assert!(!contains(&outer, hex::encode(&secret_bytes).as_bytes()));
    }
    // Nothing the code derives opens the inner layer, nor does any other
    // device's identity.
    let as_sealed = outer.to_vec();
    assert!(LinkRequest::open(&as_sealed, &secret).is_err());
    assert!(LinkPackage::open_outer(&as_sealed, &secret).is_err());
    assert_eq!(
        LinkPackage::open(&sealed, &secret, &age::x25519::Identity::generate()).unwrap_err(),
        LinkError::NotForThisDevice
    );
    // The new device's identity without the code opens nothing either.
    assert_eq!(
        LinkPackage::open(&sealed, &LinkSecret::generate(), &identity).unwrap_err(),
        LinkError::Undecryptable
    );
    // The request key does not open the package.
    assert!(LinkRequest::open(&sealed, &secret).is_err());
}

#[test]
fn a_package_of_another_version_or_damaged_inside_is_refused() {
    let secret = LinkSecret::generate();
    let (req, identity) = request();
    // Version 1: the JSON right under the code's key.
    let v1 = br#"{"v":1,"person_secret":"0505050505050505050505050505050505050505050505050505050505050505","spaces":[]}"#;
    let sealed = seal_padded(&secret.package_key(), v1).unwrap();
    assert_eq!(
        LinkPackage::open(&sealed, &secret, &identity).unwrap_err(),
        LinkError::UnsupportedVersion(1)
    );
    // Inner JSON of another version, or not a package, or a journal past
    // epoch 0 without its key.
    let inner = |json: &[u8]| {
        let recipient: age::x25519::Recipient = req.keys.age_recipient.parse().unwrap();
        let age_file = seal_to_devices(&[recipient], json).unwrap();
        seal_padded(&secret.package_key(), &age_file).unwrap()
    };
    let mut v4: serde_json::Value =
        serde_json::from_slice(&LinkPackage::new([1; 32]).to_json()).unwrap();
    v4["v"] = 4.into();
    assert_eq!(
        LinkPackage::open(
            &inner(&serde_json::to_vec(&v4).unwrap()),
            &secret,
            &identity
        )
        .unwrap_err(),
        LinkError::UnsupportedVersion(4)
    );
    let mut keyless = v4.clone();
    keyless["v"] = 3.into();
    keyless["journal"]["epoch"] = 4.into();
    // A space whose admin seed does not sign for its admin key.
    let mut wrong_seed: serde_json::Value =
        serde_json::from_slice(&vector_package().to_json()).unwrap();
    wrong_seed["spaces"][0]["admin_seed"] = hex::encode([0x69; 32]).into();
    for bad in [
        b"not json".to_vec(),
        br#"{"v":3}"#.to_vec(),
        serde_json::to_vec(&keyless).unwrap(),
        serde_json::to_vec(&wrong_seed).unwrap(),
    ] {
        assert_eq!(
            LinkPackage::open(&inner(&bad), &secret, &identity).unwrap_err(),
            LinkError::Undecryptable
        );
    }
}

#[test]
fn a_linked_device_writes_as_its_person() {
    let (mut doc, me) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let old = DeviceId::random();
    doc.add_device(&me, &old, request().0.keys).unwrap();
    doc.add_member(&me, "Sam", Role::Member, Timestamp(1))
        .unwrap();
    // The old device records the new one under the same member.
    let (new, _) = request();
    let mut on_old = doc.fork();
    on_old.set_actor(actor_for_device(&old).unwrap());
    on_old
        .add_device(&me, &new.device, new.keys.clone())
        .unwrap();
    doc.merge(&mut on_old).unwrap();
    // The new device's own changes now pass authorship checks as `me`.
    let mut on_new = doc.fork();
    on_new.set_actor(actor_for_device(&new.device).unwrap());
    let since = on_new.heads();
    on_new.set_pseudonym(&me, "Robin (laptop)").unwrap();
    let changes: Vec<automerge::Change> = on_new
        .changes_since(&since)
        .into_iter()
        .map(|b| automerge::Change::from_bytes(b).unwrap())
        .collect();
    assert_eq!(check_batch(&doc, &new.device, &changes), Ok(()));
}

/// One committed package: the code and identity it is opened with, the
/// sealed bytes, and what must come out (a package's JSON, or an error).
#[derive(Serialize, Deserialize)]
struct Vector {
    name: String,
    code: String,
    identity: String,
    sealed: String,
    /// The package's inner JSON, if it must open.
    opens_to: Option<serde_json::Value>,
    /// The error's `Debug` text, if it must not.
    fails_with: Option<String>,
}

fn vector_package() -> LinkPackage {
    let device = DeviceId::from("0123456789abcdef".to_string());
    LinkPackage {
        person_secret: [0x42; 32],
        spaces: vec![LinkedSpace {
            space: SpaceId([0x55; 16]),
            member: MemberId::from("fedcba9876543210".to_string()),
            epoch: 1,
            epoch_key: EpochKey::from_bytes([0x66; 32]),
            admin_key: AdminSeed::from_bytes([0x68; 32]).public(),
            admin_seed: Some(AdminSeed::from_bytes([0x68; 32])),
        }],
        journal: LinkedJournal {
            epoch: 1,
            key: Some(EpochKey::from_bytes([0x77; 32])),
            previous_key: None,
            answered: vec![DeviceId::from("00000000000000b2".to_string())],
            adopted: None,
        },
        devices: vec![LinkedDevice {
            device,
            keys: DeviceKeys {
                age_recipient: "age1-a-placeholder-never-parsed".into(),
                signing_key: "11".repeat(32),
                binding: Some("22".repeat(64)),
            },
            removed_at: None,
        }],
    }
}

#[test]
fn committed_link_package_vectors_open_or_fail_as_recorded() {
    use base64::Engine;
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS).unwrap();
    assert!(vectors.len() >= 4);
    for v in vectors {
        let secret = LinkSecret::parse(&v.code).unwrap();
        let identity: age::x25519::Identity = v.identity.parse().unwrap();
        let sealed = base64::prelude::BASE64_STANDARD.decode(&v.sealed).unwrap();
        match (LinkPackage::open(&sealed, &secret, &identity), &v.opens_to) {
            (Ok(package), Some(json)) => {
                let opened: serde_json::Value = serde_json::from_slice(&package.to_json()).unwrap();
                assert_eq!(&opened, json, "{}", v.name);
                assert_eq!(package, vector_package(), "{}", v.name);
            }
            (Err(e), None) => {
                assert_eq!(Some(format!("{e:?}")), v.fails_with, "{}", v.name);
            }
            (got, _) => panic!("{}: {got:?}", v.name),
        }
    }
}

/// Writes `testdata/link_packages.json`. Not run by default: the vectors
/// are a commitment, regenerated only for a deliberate format change.
#[test]
#[ignore]
fn regenerate_link_vectors() {
    use base64::Engine;
    let code = LinkSecret::generate();
    let identity = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    let package = vector_package();
    let sealed = package
        .seal(&code, &identity.to_public().to_string())
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&package.to_json()).unwrap();
    let v1 = seal_padded(
        &code.package_key(),
        br#"{"v":1,"person_secret":"4242424242424242424242424242424242424242424242424242424242424242","spaces":[]}"#,
    )
    .unwrap();
    let b64 = |b: &[u8]| base64::prelude::BASE64_STANDARD.encode(b);
    let id = |i: &age::x25519::Identity| {
        use age::secrecy::ExposeSecret;
        i.to_string().expose_secret().to_string()
    };
    let vectors = vec![
        Vector {
            name: "v3 package opens with its code and the new device's identity".into(),
            code: code.code(),
            identity: id(&identity),
            sealed: b64(&sealed),
            opens_to: Some(json),
            fails_with: None,
        },
        Vector {
            name: "fail: v3 package, another device's identity".into(),
            code: code.code(),
            identity: id(&other),
            sealed: b64(&sealed),
            opens_to: None,
            fails_with: Some("NotForThisDevice".into()),
        },
        Vector {
            name: "fail: v3 package, another code".into(),
            code: LinkSecret::generate().code(),
            identity: id(&identity),
            sealed: b64(&sealed),
            opens_to: None,
            fails_with: Some("Undecryptable".into()),
        },
        Vector {
            name: "fail: v1 package (sealed with the code alone)".into(),
            code: code.code(),
            identity: id(&identity),
            sealed: b64(&v1),
            opens_to: None,
            fails_with: Some("UnsupportedVersion(1)".into()),
        },
    ];
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/protocol/testdata/link_packages.json"
    );
    std::fs::write(path, serde_json::to_string_pretty(&vectors).unwrap() + "\n").unwrap();
}
