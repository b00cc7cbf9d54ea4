//! Removal locks the removed device out of everything that follows.

use ed25519_dalek::SigningKey;

use super::*;
use crate::model::{DeviceKeys, MemberId, Role, Timestamp};
use crate::protocol::{Envelope, EnvelopeError, EnvelopeKind, SpaceId};

struct Device {
    id: DeviceId,
    identity: age::x25519::Identity,
    signing: SigningKey,
}

impl Device {
    fn new(seed: u8) -> Self {
        Device {
            id: DeviceId::random(),
            identity: age::x25519::Identity::generate(),
            signing: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    fn keys(&self) -> DeviceKeys {
        DeviceKeys {
            age_recipient: self.identity.to_public().to_string(),
            signing_key: hex::encode(self.signing.verifying_key().to_bytes()),
            binding: None,
        }
    }
}

struct Group {
    doc: SpaceDoc,
    coordinator: MemberId,
    devices: Vec<(MemberId, Device)>,
}

fn group() -> Group {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let mut devices = Vec::new();
    let d = Device::new(1);
    doc.add_device(&coordinator, &d.id, d.keys()).unwrap();
    devices.push((coordinator.clone(), d));
    for (i, name) in ["Sam", "Kit"].iter().enumerate() {
        let m = doc
            .add_member(&coordinator, name, Role::Member, Timestamp(1))
            .unwrap();
        let d = Device::new(2 + i as u8);
        doc.add_device(&m, &d.id, d.keys()).unwrap();
        devices.push((m, d));
    }
    // Sam has a second device.
    let extra = Device::new(9);
    doc.add_device(&devices[1].0, &extra.id, extra.keys())
        .unwrap();
    devices.push((devices[1].0.clone(), extra));
    Group {
        doc,
        coordinator,
        devices,
    }
}

#[test]
fn removed_member_cannot_open_new_envelopes() {
    let mut g = group();
    let space = SpaceId::random();
    let old = EpochKey::generate();
    let kit = g.devices[2].0.clone();
    g.doc
        .remove_member(&g.coordinator, &kit, Timestamp(5))
        .unwrap();
    let new = EpochKey::generate();
    let removal = g.doc.heads()[0];
    let handover = Handover::create(
        &mut g.doc,
        0,
        removal,
        &new,
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap();
    let handover = Handover::decode(&handover.encode()).unwrap();
    assert_eq!((handover.from_epoch, handover.to_epoch()), (0, 1));
    assert_eq!(handover.answers, removal);
    assert_eq!(handover.cut, vec![removal]);
    assert_eq!(handover.recipients.len(), 3);
    assert!(handover.missing_devices(&g.doc).is_empty());

    // Every remaining device, including Sam's second one, gets the new key.
    for i in [0, 1, 3] {
        assert_eq!(handover.open(&g.devices[i].1.identity).unwrap(), new);
    }
    // Kit's device does not…
    let kit_device = &g.devices[2].1;
    assert!(matches!(
        handover.open(&kit_device.identity),
        Err(RotationError::NotARecipient)
    ));
    // …and cannot open what is written in the new epoch with the old key,
    // nor find its mailbox.
    let author = &g.devices[0].1;
    let envelope = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space,
        epoch: 1,
        author: author.id.clone(),
        sequence: 7,
        body: b"after the removal".to_vec(),
    };
    let sealed = envelope.seal(&new.content_key(), &author.signing).unwrap();
    assert!(matches!(
        Envelope::open(&sealed, &old.content_key(), space, 1, |_| Some(
            author.signing.verifying_key()
        )),
        Err(EnvelopeError::Undecryptable(_))
    ));
    assert_ne!(
        old.mailbox_id(&handover.admin_key),
        new.mailbox_id(&handover.admin_key)
    );
    // Remaining members read it.
    assert!(
        Envelope::open(&sealed, &new.content_key(), space, 1, |_| Some(
            author.signing.verifying_key()
        ))
        .is_ok()
    );
}

#[test]
fn a_device_joining_concurrently_is_reported_missing_not_dropped() {
    let mut g = group();
    let at = g.doc.heads()[0];
    let handover = Handover::create(
        &mut g.doc,
        0,
        at,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap();
    let late = Device::new(20);
    let m = g
        .doc
        .add_member(&g.coordinator, "Late", Role::Member, Timestamp(6))
        .unwrap();
    g.doc.add_device(&m, &late.id, late.keys()).unwrap();
    assert_eq!(handover.missing_devices(&g.doc), vec![late.id.clone()]);
}

#[test]
fn concurrent_rotations_settle_on_the_same_handover_everywhere() {
    let mut g = group();
    let at = g.doc.heads()[0];
    let a = Handover::create(
        &mut g.doc,
        0,
        at,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap();
    let b = Handover::create(
        &mut g.doc,
        0,
        at,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap();
    assert_eq!(Handover::prefer(&a, &b), Handover::prefer(&b, &a));
    assert_ne!(a.rank(), b.rank());
}

#[test]
fn malformed_handovers_are_refused_without_panicking() {
    let mut no_cut = vec![0u8; 4 + 32];
    no_cut.extend_from_slice(&[0, 0, 0, 0]);
    for body in [
        &b""[..],
        &[0, 0, 0, 1, 0, 9][..],
        &[0, 0, 0, 1, 0, 0, 1, 2, 3][..],
        &no_cut[..],
    ] {
        if let Ok(h) = Handover::decode(body) {
            assert!(h.open(&age::x25519::Identity::generate()).is_err());
        }
    }
}

#[test]
fn nobody_left_means_no_rotation() {
    let (mut doc, _) = SpaceDoc::create("Solo", "Robin", Timestamp(0)).unwrap();
    let at = doc.heads()[0];
    assert!(matches!(
        Handover::create(
            &mut doc,
            0,
            at,
            &EpochKey::generate(),
            &crate::protocol::AdminSeed::generate()
        ),
        Err(RotationError::NobodyLeft)
    ));
}

#[test]
fn no_handover_leaves_the_last_epoch() {
    let mut g = group();
    let at = g.doc.heads()[0];
    assert!(matches!(
        Handover::create(
            &mut g.doc,
            u32::MAX,
            at,
            &EpochKey::generate(),
            &crate::protocol::AdminSeed::generate()
        ),
        Err(RotationError::LastEpoch(u32::MAX))
    ));
    let mut body = Handover::create(
        &mut g.doc,
        0,
        at,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap()
    .encode();
    body[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(Handover::decode(&body).is_err());
}

#[test]
fn a_device_with_a_bad_recipient_is_skipped_not_fatal() {
    let mut g = group();
    let broken = Device::new(30);
    let mut keys = broken.keys();
    keys.age_recipient = "age1notarecipient".into();
    let m = g
        .doc
        .add_member(&g.coordinator, "Broken", Role::Member, Timestamp(6))
        .unwrap();
    g.doc.add_device(&m, &broken.id, keys).unwrap();
    let at = g.doc.heads()[0];
    let handover = Handover::create(
        &mut g.doc,
        0,
        at,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap();
    assert_eq!(handover.recipients.len(), 4);
    assert!(!handover.recipients.contains(&broken.id));
}
