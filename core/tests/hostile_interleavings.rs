//! Random interleavings of honest work and a hostile member's attacks, all
//! through the honest devices' normal receive path (bundles): every honest
//! device ends with the same state, and the hostile member's effect stays
//! within what her role allows.
//!
//! Mallory (a member) forges changes as the coordinator's device, writes
//! back-dated changes on an old copy of her document, posts her own key
//! handovers, lists the coordinator's device id under herself, admits a
//! puppet of her own, and replays bundles she captured; the coordinator may
//! remove her along the way.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod adversary;

use adversary::{Group, Mallory, draft, now};
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use proptest::prelude::*;
use safespaces_core::model::{Role, SpaceDoc};
use safespaces_core::protocol::attestation::Attestation;
use safespaces_core::protocol::{EnvelopeKind, EpochKey, Handover};

const HONEST: [&str; 3] = ["Robin", "Lee", "Blake"];

#[derive(Clone, Debug)]
enum Op {
    /// An honest person does something their role allows.
    Work { who: usize, what: u8 },
    /// An honest person's bundle to another.
    Exchange { from: usize, to: usize },
    /// Robin removes Mallory (once; later ones do nothing).
    RemoveMallory,
    /// One of Mallory's attacks, delivered to an honest person.
    Attack { kind: u8, to: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3u8).prop_map(|(who, what)| Op::Work { who, what }),
        4 => (0..3usize, 0..3usize).prop_map(|(from, to)| Op::Exchange { from, to }),
        1 => Just(Op::RemoveMallory),
        4 => (0..6u8, 0..3usize).prop_map(|(kind, to)| Op::Attack { kind, to }),
    ]
}

fn raw_as(doc: &mut SpaceDoc, device: &safespaces_core::model::DeviceId) -> automerge::AutoCommit {
    automerge::AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(safespaces_core::protocol::authorship::actor_for_device(device).unwrap())
}

fn obj(am: &automerge::AutoCommit, path: &[&str]) -> automerge::ObjId {
    let mut cur = ROOT;
    for key in path {
        cur = am.get(&cur, *key).unwrap().unwrap().1;
    }
    cur
}

fn new_changes(am: &mut automerge::AutoCommit, since: &[automerge::ChangeHash]) -> Vec<Vec<u8>> {
    am.get_changes(since)
        .into_iter()
        .map(|mut c| c.bytes().to_vec())
        .collect()
}

/// What Mallory does for attack `kind`, as bundles she can seal (she holds
/// epoch 0's key at least; `epoch` is the newest she holds).
fn attack(group: &Group, kind: u8, old: &mut SpaceDoc, captured: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let person = group.person("Mallory");
    let mallory = Mallory::new(person, &group.space);
    let epoch = mallory.newest_epoch();
    let robin_device = group.person("Robin").device();
    let me = group.member_id("Mallory");
    match kind {
        // Forged attribution: a rename as Robin's device, in her snapshot
        // with an attestation she signs for it.
        0 => {
            let mut doc = mallory.doc(epoch);
            let mut raw = raw_as(&mut doc, &robin_device);
            raw.put(ROOT, "name", "Mallory's group").unwrap();
            raw.commit();
            let mut forged = SpaceDoc::load(&raw.save()).unwrap();
            let mut attestations = mallory.attestations(epoch);
            attestations.push(Attestation::sign_hash(
                mallory.space,
                &robin_device,
                10_000,
                forged.heads()[0],
                &mallory.signing_key(),
            ));
            let snapshot = mallory.snapshot(epoch, &mut forged, attestations);
            vec![mallory.bundle(&[epoch], epoch, &[snapshot])]
        }
        // Back-dated: on her copy from before anything happened, she
        // volunteers (hers to do) and renames the space (not hers).
        1 => {
            let since = old.heads();
            let sessions = old.sessions().unwrap();
            if let Some((session, _)) = sessions.first() {
                let _ = old.volunteer_to_lead(&me, session, now());
            }
            let mut raw = raw_as(old, &mallory.device());
            raw.put(ROOT, "name", "Renamed by Mallory").unwrap();
            raw.commit();
            let mut changes = new_changes(&mut raw, &since);
            changes.dedup();
            vec![mallory.bundle(&[0], 0, &[mallory.batch(0, &changes)])]
        }
        // A handover of her own out of the newest epoch she holds.
        2 => {
            let mut doc = mallory.doc(epoch);
            let at = doc.heads()[0];
            let handover = Handover::create(
                &mut doc,
                epoch,
                at,
                &EpochKey::generate(),
                &safespaces_core::protocol::AdminSeed::generate(),
            )
            .unwrap();
            let sealed =
                mallory.envelope(EnvelopeKind::EpochHandover, epoch, 77, handover.encode());
            vec![mallory.bundle(&[epoch], epoch, &[sealed])]
        }
        // Robin's device id listed under herself.
        3 => {
            let mut doc = mallory.doc(epoch);
            let since = doc.heads();
            let mut raw = raw_as(&mut doc, &mallory.device());
            let devices = obj(&raw, &["members", me.as_str(), "devices"]);
            let entry = raw
                .put_object(&devices, robin_device.as_str(), ObjType::Map)
                .unwrap();
            raw.put(&entry, "age_recipient", "age1mallory").unwrap();
            raw.put(
                &entry,
                "signing_key",
                hex::encode(mallory.signing_key().verifying_key().to_bytes()),
            )
            .unwrap();
            raw.commit();
            let changes = new_changes(&mut raw, &since);
            vec![mallory.bundle(&[epoch], epoch, &[mallory.batch(epoch, &changes)])]
        }
        // A puppet admitted by herself: a member entry with a device of
        // hers and an invite's `used_by`, with no invite of hers behind it.
        4 => {
            let mut doc = mallory.doc(epoch);
            let since = doc.heads();
            let mut raw = raw_as(&mut doc, &mallory.device());
            let members = obj(&raw, &["members"]);
            let puppet = raw
                .put_object(&members, "00000000000000ee", ObjType::Map)
                .unwrap();
            raw.put(&puppet, "pseudonym", "Puppet").unwrap();
            raw.put(&puppet, "role", "coordinator").unwrap();
            raw.put(&puppet, "joined_at", 0i64).unwrap();
            raw.put(&puppet, "removed_at", automerge::ScalarValue::Null)
                .unwrap();
            raw.put(&puppet, "invite", "00000000000000ff").unwrap();
            let invites = obj(&raw, &["invites"]);
            let invite = raw
                .put_object(&invites, "00000000000000ff", ObjType::Map)
                .unwrap();
            raw.put(&invite, "used_by", "00000000000000ee").unwrap();
            raw.commit();
            let changes = new_changes(&mut raw, &since);
            vec![mallory.bundle(&[epoch], epoch, &[mallory.batch(epoch, &changes)])]
        }
        // Replays of bundles she captured on the way.
        _ => captured.to_vec(),
    }
}

fn state(group: &Group, name: &str) -> String {
    let space = group.space_of(name);
    format!(
        "{:?} {:?} {:?} {:?}",
        space.name().unwrap(),
        space.members().unwrap(),
        space.sessions().unwrap(),
        space.training_records().unwrap()
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn hostile_interleavings_leave_honest_devices_identical_and_mallory_within_her_role(
        ops in proptest::collection::vec(op(), 4..18)
    ) {
        let group = Group::new(&[
            ("Robin", Role::Coordinator),
            ("Lee", Role::Lead),
            ("Blake", Role::Member),
            ("Mallory", Role::Member),
        ]);
        let mut old = Mallory::new(group.person("Mallory"), &group.space).doc(0);
        let mut captured: Vec<Vec<u8>> = Vec::new();
        let mut removed = false;
        for op in &ops {
            match op {
                Op::Work { who, what } => {
                    let space = group.space_of(HONEST[*who]);
                    match (*who, what) {
                        (0 | 1, _) => {
                            space.create_session(draft("Walk"), safespaces_core::model::Timestamp(0)).unwrap();
                        }
                        _ => {
                            let first = space.sessions().unwrap()[0].0.clone();
                            space.volunteer_to_lead(&first, now()).unwrap();
                        }
                    }
                }
                Op::Exchange { from, to } if from != to => {
                    let bundle = group.bundle_of(HONEST[*from]);
                    // Mallory overhears it (a shared folder, say).
                    captured.push(bundle.clone());
                    let _ = group.person(HONEST[*to]).app.import_bundle(&bundle, now());
                    let _ = group.person("Mallory").app.import_bundle(&bundle, now());
                }
                Op::Exchange { .. } => {}
                Op::RemoveMallory => {
                    let id = group.member_id("Mallory");
                    let robin = group.space_of("Robin");
                    if robin.members().unwrap().iter().any(|(m, x)| m == &id && x.is_active()) {
                        robin.remove_member(&id, now()).unwrap();
                        removed = true;
                    }
                }
                Op::Attack { kind, to } => {
                    for bundle in attack(&group, *kind, &mut old, &captured) {
                        let _ = group.person(HONEST[*to]).app.import_bundle(&bundle, now());
                    }
                }
            }
        }
        // Everyone honest hears everyone honest, until nothing changes.
        for _ in 0..3 {
            for from in HONEST {
                let bundle = group.bundle_of(from);
                for to in HONEST.iter().filter(|to| **to != from) {
                    let _ = group.person(to).app.import_bundle(&bundle, now());
                }
            }
        }
        // One group: every honest device reads every other's bundle whole,
        // all in the epoch the removals made (none of Mallory's).
        for from in HONEST {
            let bundle = group.bundle_of(from);
            for to in HONEST.iter().filter(|to| **to != from) {
                let report = group.person(to).app.import_bundle(&bundle, now());
                prop_assert!(report.as_ref().is_ok_and(|r| r.unreadable == 0), "{:?}", report);
            }
        }
        for name in HONEST {
            prop_assert_eq!(group.person(name).epoch_of(&group.space), u64::from(removed));
        }
        let first = state(&group, "Robin");
        for name in &HONEST[1..] {
            prop_assert_eq!(&state(&group, name), &first, "{} differs from Robin", name);
        }
        // Mallory stayed within her role: the name is the one Robin chose,
        // she is a plain member (or removed), Robin's device is Robin's,
        // and no training was recorded.
        let robin = group.space_of("Robin");
        prop_assert_eq!(robin.name().unwrap(), "Tuesday group");
        let me = group.member_id("Mallory");
        let members = robin.members().unwrap();
        let (_, mallory) = members.iter().find(|(id, _)| id == &me).unwrap();
        prop_assert_eq!(mallory.role, Role::Member);
        prop_assert!(!mallory.devices.contains_key(&group.person("Robin").device()));
        prop_assert!(!members.iter().any(|(_, m)| m.pseudonym == "Puppet"));
        prop_assert!(robin.training_records().unwrap().is_empty());
        // Removed, she reads nothing written after.
        if removed {
            let session = robin.create_session(draft("After Mallory"), safespaces_core::model::Timestamp(0)).unwrap();
            let bundle = group.bundle_of("Robin");
            let _ = group.person("Mallory").app.import_bundle(&bundle, now());
            prop_assert!(group.space_of("Mallory").session(&session).is_err());
        }
    }
}
