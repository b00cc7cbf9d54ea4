//! A device a handover missed (protocol.md §6, "Devices a handover
//! missed"): a member admitted, or a phone linked, while a coordinator
//! rotated holds only the old epoch's key. Each test checks the honest
//! devices through `import_bundle` and the public API; the attacks are
//! played with the attacker's own keys.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod adversary;

use adversary::{Group, Mallory, Person, join_face_to_face, now, open_bundle};
use safespaces_core::model::Role;
use safespaces_core::protocol::key_grant::KeyGrant;
use safespaces_core::protocol::{Envelope, EnvelopeKind, EpochKey, Handover};

/// A group in which Ash removes Mallory while Robin, who has not heard of
/// it, admits Casey: Ash's handover is sealed to everyone but Casey (and
/// Mallory). Returns the group, Casey, and Ash's bundle with the handover.
fn casey_admitted_during_a_rotation() -> (Group, Person, Vec<u8>) {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Member),
    ]);
    group
        .space_of("Ash")
        .remove_member(&group.member_id("Mallory"), now())
        .unwrap();
    let ashs = group.bundle_of("Ash");
    let casey = Person::new("Casey");
    join_face_to_face(&group.space_of("Robin"), &casey.app, Role::Lead, "Casey");
    (group, casey, ashs)
}

/// Whether `reader` sees a session `writer` creates now.
fn reads(writer: &Space, reader: &Person, space: &str, title: &str) -> bool {
    writer
        .create_session(
            adversary::draft(title),
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    let _ = reader
        .app
        .import_bundle(&writer.export_bundle().unwrap(), now());
    reader
        .space(space)
        .sessions()
        .unwrap()
        .iter()
        .any(|(_, s)| s.title == title)
}

use safespaces_core::app::Space;

#[test]
fn a_member_admitted_while_a_coordinator_rotated_is_granted_the_new_key() {
    let (group, casey, ashs) = casey_admitted_during_a_rotation();
    // Casey hears of the rotation before anyone has granted her the key:
    // she is not out (her document says she should hold it), she waits.
    let report = casey.import(&ashs);
    assert!(!report.left_out, "{report:?}");
    assert_eq!(report.new_epoch, None, "{report:?}");
    assert_eq!(casey.space(&group.space).epoch().unwrap(), 0);
    // Robin's device moves to Ash's epoch, sees that the handover missed
    // Casey, and grants her the key; her next import moves her on.
    group.person("Robin").import(&ashs);
    let report = casey.import(&group.bundle_of("Robin"));
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
    assert!(!report.left_out, "{report:?}");
    // She reads what is written after, and is read.
    assert!(reads(
        &group.space_of("Robin"),
        &casey,
        &group.space,
        "After the grant"
    ));
    let blake = group.person("Blake");
    blake.import(&ashs);
    blake.import(&group.bundle_of("Robin"));
    assert!(reads(
        &casey.space(&group.space),
        blake,
        &group.space,
        "From Casey"
    ));
    // Mallory, removed, is granted nothing: still out.
    let report = group.person("Mallory").import(&group.bundle_of("Robin"));
    assert!(report.left_out, "{report:?}");
    assert_eq!(
        group.person("Mallory").space(&group.space).epoch().unwrap(),
        0
    );
}

#[test]
fn a_key_of_the_attackers_own_is_refused_and_the_real_grant_still_counts() {
    let (group, casey, ashs) = casey_admitted_during_a_rotation();
    casey.import(&ashs);
    // Mallory, removed but holding the old key and her device's keys, reads
    // Ash's handover from his bundle and grants Casey a key of her own for
    // it, so that Casey would write where only Mallory reads.
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let old = mallory.epoch_key(0);
    let handover = open_bundle(&old.content_key(), &ashs)
        .into_iter()
        .find_map(|sealed| {
            let envelope = Envelope::open(&sealed, &old.content_key(), mallory.space, 0, |_| {
                Some(
                    group
                        .person("Ash")
                        .app
                        .profile()
                        .with_keyring(|k| k.signing_key().verifying_key())
                        .unwrap(),
                )
            })
            .ok()?;
            (envelope.kind == EnvelopeKind::EpochHandover)
                .then(|| Handover::decode(&envelope.body).unwrap())
        })
        .expect("Ash's bundle carries his handover");
    let hers = EpochKey::generate();
    let recipient: age::x25519::Recipient = casey.keys(false).age_recipient.parse().unwrap();
    let forged = KeyGrant {
        from_epoch: 0,
        handover: handover.rank(),
        recipients: vec![casey.device()],
        sealed_key: {
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .unwrap();
            let mut out = Vec::new();
            let mut w = encryptor.wrap_output(&mut out).unwrap();
            std::io::Write::write_all(&mut w, hers.expose_bytes()).unwrap();
            w.finish().unwrap();
            out
        },
        admin_recipients: Vec::new(),
        sealed_admin: Vec::new(),
    };
    let sealed = mallory.envelope(EnvelopeKind::KeyGrant, 0, 950, forged.encode());
    let report = casey.import(&mallory.bundle(&[0], 0, &[sealed]));
    assert_eq!(report.new_epoch, None, "{report:?}");
    assert_eq!(report.refused, 1, "{report:?}");
    assert_eq!(casey.space(&group.space).epoch().unwrap(), 0);
    // Robin's real grant still moves her on.
    group.person("Robin").import(&ashs);
    let report = casey.import(&group.bundle_of("Robin"));
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
    assert!(reads(
        &group.space_of("Robin"),
        &casey,
        &group.space,
        "Real key"
    ));
}

#[test]
fn a_plain_member_grants_nothing_and_nobody_grants_twice() {
    let (group, casey, ashs) = casey_admitted_during_a_rotation();
    casey.import(&ashs);
    // Blake, a member, holds the new key and sees Casey missed: only a
    // coordinator's device (or one of Casey's own) grants.
    let blake = group.person("Blake");
    blake.import(&ashs);
    blake.import(&group.bundle_of("Robin"));
    let report = casey.import(&group.bundle_of("Blake"));
    assert_eq!(report.new_epoch, None, "{report:?}");
    // Robin grants once: her next bundle carries the same grant, and her
    // registry lists Casey as granted.
    group.person("Robin").import(&ashs);
    let first = group.bundle_of("Robin");
    let second = group.bundle_of("Robin");
    let robin = Mallory::new(group.person("Robin"), &group.space);
    let grants = |bundle: &[u8]| {
        open_bundle(&robin.epoch_key(0).content_key(), bundle)
            .into_iter()
            .filter_map(|sealed| {
                let envelope = Envelope::open(
                    &sealed,
                    &robin.epoch_key(0).content_key(),
                    robin.space,
                    0,
                    |_| Some(robin.signing_key().verifying_key()),
                )
                .ok()?;
                (envelope.kind == EnvelopeKind::KeyGrant).then_some(envelope.sequence)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(grants(&first).len(), 1);
    assert_eq!(grants(&first), grants(&second));
    let report = casey.import(&second);
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
}
