//! A small space every target checks other devices' bytes against: a
//! coordinator and a member, each with one device whose keys are fixed.

use ed25519_dalek::SigningKey;
use safespaces_core::model::{DeviceId, DeviceKeys, MemberId, Role, SpaceDoc, Timestamp};
use safespaces_core::protocol::SpaceId;

pub struct Fixture {
    pub doc: SpaceDoc,
    pub space: SpaceId,
    pub coordinator: (MemberId, DeviceId),
    pub member: (MemberId, DeviceId),
    pub identity: age::x25519::Identity,
}

fn keys(seed: u8, identity: &age::x25519::Identity) -> DeviceKeys {
    DeviceKeys {
        age_recipient: identity.to_public().to_string(),
        signing_key: hex::encode(
            SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .to_bytes(),
        ),
        binding: None,
    }
}

/// The fixture, built once per process; each call gets a fresh copy of its
/// document (loaded from the saved bytes), so one input cannot affect the
/// next.
pub fn fixture() -> Fixture {
    static BUILT: std::sync::OnceLock<(
        Vec<u8>,
        SpaceId,
        MemberId,
        DeviceId,
        MemberId,
        DeviceId,
        String,
    )> = std::sync::OnceLock::new();
    let (saved, space, c, cdev, m, mdev, identity) = BUILT.get_or_init(|| {
        let mut f = build();
        (
            f.doc.save(),
            f.space,
            f.coordinator.0,
            f.coordinator.1,
            f.member.0,
            f.member.1,
            age::secrecy::ExposeSecret::expose_secret(&f.identity.to_string()).to_string(),
        )
    });
    Fixture {
        doc: SpaceDoc::load(saved).expect("the fixture loads"),
        space: *space,
        coordinator: (c.clone(), cdev.clone()),
        member: (m.clone(), mdev.clone()),
        identity: identity.parse().expect("the fixture's identity parses"),
    }
}

fn build() -> Fixture {
    let identity = age::x25519::Identity::generate();
    let cdev = DeviceId::from("0101010101010101".to_string());
    let (mut doc, coordinator) = SpaceDoc::genesis(
        "Group",
        "Robin",
        &safespaces_core::model::SpaceZone::utc(),
        Timestamp(0),
        &cdev,
        keys(1, &identity),
    )
    .expect("a genesis");
    let member = doc
        .add_member(&coordinator, "Sam", Role::Member, Timestamp(1))
        .expect("a member");
    let mdev = DeviceId::from("0202020202020202".to_string());
    doc.add_device(&member, &mdev, keys(2, &identity))
        .expect("a device");
    let genesis = doc.changes_since(&[]);
    let first = automerge::Change::from_bytes(genesis[0].clone()).expect("a change");
    Fixture {
        space: safespaces_core::protocol::genesis::space_id_for(&first.hash()),
        doc,
        coordinator: (coordinator, cdev),
        member: (member, mdev),
        identity,
    }
}
