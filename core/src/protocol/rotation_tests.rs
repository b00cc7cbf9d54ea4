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
    let handover = Handover::create(&g.doc, 1, &new).unwrap();
    let handover = Handover::decode(&handover.encode()).unwrap();
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
    assert_ne!(old.mailbox_id(), new.mailbox_id());
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
    let handover = Handover::create(&g.doc, 1, &EpochKey::generate()).unwrap();
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
    let g = group();
    let a = Handover::create(&g.doc, 1, &EpochKey::generate()).unwrap();
    let b = Handover::create(&g.doc, 1, &EpochKey::generate()).unwrap();
    assert_eq!(Handover::prefer(&a, &b), Handover::prefer(&b, &a));
}

#[test]
fn malformed_handovers_are_refused_without_panicking() {
    for body in [
        &b""[..],
        &[0, 0, 0, 1, 0, 9][..],
        &[0, 0, 0, 1, 0, 0, 1, 2, 3][..],
    ] {
        if let Ok(h) = Handover::decode(body) {
            assert!(h.open(&age::x25519::Identity::generate()).is_err());
        }
    }
}

#[test]
fn nobody_left_means_no_rotation() {
    let (doc, _) = SpaceDoc::create("Solo", "Robin", Timestamp(0)).unwrap();
    assert!(matches!(
        Handover::create(&doc, 1, &EpochKey::generate()),
        Err(RotationError::NobodyLeft)
    ));
}
