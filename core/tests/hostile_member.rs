//! A hostile member with a modified app (threat-model.md, "A member" and
//! "A removed member"): each test plays one attack with the attacker's own
//! keys only, and checks the honest devices through their normal receive
//! path (`import_bundle`) and public API.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod adversary;

use adversary::{Group, Mallory, now};
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use safespaces_core::model::{Role, SessionEdit, Timestamp};
use safespaces_core::protocol::{EnvelopeKind, EpochKey, Handover};

/// A handover from Mallory's device, answering `answers`, sealed to every
/// device her copy of the document lists (herself included).
fn rogue_handover(
    mallory: &Mallory,
    from: u32,
    answers: automerge::ChangeHash,
) -> (Vec<u8>, EpochKey) {
    let mut doc = mallory.doc(from);
    let key = EpochKey::generate();
    let handover = Handover::create(
        &mut doc,
        from,
        answers,
        &key,
        &safespaces_core::protocol::AdminSeed::generate(),
    )
    .unwrap();
    let sealed = mallory.envelope(EnvelopeKind::EpochHandover, from, 900, handover.encode());
    (mallory.bundle(&[from], from, &[sealed]), key)
}

/// Whether `reader` can read what `writer` writes from now on: the writer
/// volunteers to lead a new session if it may plan one, or else the first
/// session, and shares a bundle; the reader looks for that.
fn reads_new_writes(group: &Group, writer: &str, reader: &str, title: &str) -> bool {
    let space = group.space_of(writer);
    let session = match space.create_session(
        adversary::draft(title),
        safespaces_core::model::Timestamp(0),
    ) {
        Ok(session) => session,
        Err(_) => space.sessions().unwrap()[0].0.clone(),
    };
    space.volunteer_to_lead(&session, now()).unwrap();
    let me = group.member_id(writer);
    // A bundle the reader cannot open at all is not read either.
    let got = group
        .person(reader)
        .app
        .import_bundle(&group.bundle_of(writer), now());
    if got.is_err() {
        return false;
    }
    group
        .space_of(reader)
        .session_leads(&session, now())
        .map(|leads| leads.iter().any(|l| l.member == me))
        .unwrap_or(false)
}

#[test]
fn handover_from_a_plain_member_is_refused() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Member),
    ]);
    // Mallory removes nobody (she may not), so she answers her own
    // departure-less "removal": the latest change she holds.
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let answers = mallory.doc(0).heads()[0];
    let (bundle, _) = rogue_handover(&mallory, 0, answers);
    for honest in ["Robin", "Blake"] {
        let report = group.person(honest).import(&bundle);
        assert_eq!(report.new_epoch, None, "{honest}: {report:?}");
        assert_eq!(report.refused, 1, "{honest}: {report:?}");
    }
    // Everyone still reads everyone in the epoch they share.
    assert!(reads_new_writes(
        &group,
        "Robin",
        "Blake",
        "Still one group"
    ));
    assert!(reads_new_writes(
        &group,
        "Robin",
        "Mallory",
        "Mallory reads it too"
    ));
}

#[test]
fn handover_from_a_member_answering_a_real_removal_is_refused() {
    // Robin removes Casey; before Robin's rotation reaches Blake, Mallory
    // (a member who saw the removal) answers it with her own key.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Member),
        ("Casey", Role::Member),
    ]);
    let casey = group.member_id("Casey");
    let robin = group.space_of("Robin");
    robin.remove_member(&casey, now()).unwrap();
    let robins = group.bundle_of("Robin");
    group.person("Mallory").import(&robins);
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let mut doc = mallory.doc(1);
    let removal = safespaces_core::protocol::removal::unanswered_removal(&mut doc, None).unwrap();
    let (bundle, _) = rogue_handover(&mallory, 0, removal.change);
    // Mallory's rogue handover travels with the state it names.
    let report = group.person("Blake").import(&bundle);
    assert_eq!(report.new_epoch, None, "{report:?}");
    let report = group.person("Blake").import(&robins);
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
    assert!(reads_new_writes(&group, "Robin", "Blake", "After Casey"));
}

#[test]
fn a_removed_member_cannot_split_the_group_with_her_own_handover() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Dana", Role::Member),
        ("Mallory", Role::Member),
    ]);
    let mallory_id = group.member_id("Mallory");
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let before = mallory.doc(0).heads()[0];
    group
        .space_of("Robin")
        .remove_member(&mallory_id, now())
        .unwrap();
    let robins = group.bundle_of("Robin");
    // Blake moves with Robin; Dana has not heard yet.
    assert_eq!(group.person("Blake").import(&robins).new_epoch, Some(1));
    // Mallory, left out, appends her own handover out of epoch 0, sealed
    // to everyone she knows, with the lowest rank she can draw.
    let (bundle, _) = (0..16)
        .map(|_| rogue_handover(&mallory, 0, before))
        .min_by_key(|(b, _)| b.len())
        .unwrap();
    for honest in ["Blake", "Dana"] {
        let report = group.person(honest).import(&bundle);
        assert_eq!(report.new_epoch, None, "{honest}: {report:?}");
    }
    assert_eq!(group.person("Dana").import(&robins).new_epoch, Some(1));
    assert!(reads_new_writes(&group, "Blake", "Dana", "One group"));
    assert!(!reads_new_writes(
        &group,
        "Robin",
        "Mallory",
        "Not for Mallory"
    ));
}

#[test]
fn a_handover_to_a_far_epoch_is_refused_and_removals_keep_working() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Coordinator),
        ("Casey", Role::Member),
    ]);
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let mut doc = mallory.doc(0);
    let at = doc.heads()[0];
    let key = EpochKey::generate();
    // Even a coordinator's device cannot skip epochs: the body names the
    // epoch it leaves, which must be the envelope's; and no handover
    // leaves the last epoch.
    let mut handover = Handover::create(
        &mut doc,
        0,
        at,
        &key,
        &safespaces_core::protocol::AdminSeed::generate(),
    )
    .unwrap();
    for from in [0xFFFF_FFFEu32, u32::MAX] {
        handover.from_epoch = from;
        let sealed = mallory.envelope(EnvelopeKind::EpochHandover, 0, 901, handover.encode());
        let report = group
            .person("Blake")
            .import(&mallory.bundle(&[0], 0, &[sealed]));
        assert_eq!(report.new_epoch, None, "{report:?}");
    }
    // Robin's removal still moves everyone on by one epoch.
    let casey = group.member_id("Casey");
    group
        .space_of("Robin")
        .remove_member(&casey, now())
        .unwrap();
    let report = group.person("Blake").import(&group.bundle_of("Robin"));
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
}

#[test]
fn a_removal_is_answered_by_the_first_coordinator_device_that_sees_it() {
    // Ash's modified app writes a removal and never rotates; Casey leaves
    // on her own. Robin's device answers both before anything leaves it.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Coordinator),
        ("Blake", Role::Member),
        ("Casey", Role::Member),
        ("Mallory", Role::Member),
    ]);
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mallory_id = group.member_id("Mallory");
    let mut doc = ash.doc(0);
    let before = doc.heads();
    doc.remove_member(&group.member_id("Ash"), &mallory_id, now())
        .unwrap();
    let removal = ash.batch(0, &doc.changes_since(&before));
    group
        .person("Robin")
        .import(&ash.bundle(&[0], 0, &[removal]));
    let report = group.person("Blake").import(&group.bundle_of("Robin"));
    assert_eq!(report.new_epoch, Some(1), "{report:?}");
    assert!(
        group
            .person("Mallory")
            .import(&group.bundle_of("Robin"))
            .left_out
    );

    group.share(0);
    group.space_of("Casey").leave(now()).unwrap();
    group.person("Robin").import(&group.bundle_of("Casey"));
    let report = group.person("Blake").import(&group.bundle_of("Robin"));
    assert_eq!(report.new_epoch, Some(2), "{report:?}");
    assert!(
        group
            .person("Casey")
            .import(&group.bundle_of("Robin"))
            .left_out
    );
    assert!(reads_new_writes(&group, "Robin", "Blake", "After both"));
}

#[test]
fn concurrent_removals_settle_on_one_key_and_both_leave() {
    // Robin removes Mallory while Ash, offline, removes Casey: two
    // handovers out of epoch 0. Blake and Dana hear them in opposite
    // orders; both end on the same key, and the removal the winner did not
    // answer is answered by the next epoch.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Coordinator),
        ("Blake", Role::Member),
        ("Dana", Role::Member),
        ("Mallory", Role::Member),
        ("Casey", Role::Member),
    ]);
    let (mallory_id, casey_id) = (group.member_id("Mallory"), group.member_id("Casey"));
    group
        .space_of("Robin")
        .remove_member(&mallory_id, now())
        .unwrap();
    group
        .space_of("Ash")
        .remove_member(&casey_id, now())
        .unwrap();
    let robins = group.bundle_of("Robin");
    let ashs = group.bundle_of("Ash");
    group.person("Blake").import(&robins);
    group.person("Blake").import(&ashs);
    group.person("Dana").import(&ashs);
    group.person("Dana").import(&robins);
    // Blake and Dana heard the two handovers in opposite orders and are on
    // the same epoch key: each reads the other.
    for (writer, reader) in [("Blake", "Dana"), ("Dana", "Blake")] {
        assert!(
            reads_new_writes(&group, writer, reader, &format!("{writer} to {reader}")),
            "{reader} cannot read {writer}"
        );
    }
    // Each coordinator's device, seeing the other's handover, finds the
    // removal the winner left open and answers it as the import ends
    // (protocol.md §6), before anything more leaves it.
    group.person("Robin").import(&ashs);
    group.person("Ash").import(&robins);
    let epochs = ["Robin", "Ash"].map(|n| group.space_of(n).epoch().unwrap());
    assert!(epochs.contains(&2), "{epochs:?}");
    // Once the rest hear of it, everyone still in is on one key again, and
    // that rotation leaves both removed members out.
    group.share(0);
    group.share(1);
    group.share(0);
    for (writer, reader) in [
        ("Blake", "Dana"),
        ("Dana", "Robin"),
        ("Robin", "Ash"),
        ("Ash", "Blake"),
    ] {
        assert!(
            reads_new_writes(
                &group,
                writer,
                reader,
                &format!("{writer} to {reader} after")
            ),
            "{reader} cannot read {writer}"
        );
    }
    assert!(!reads_new_writes(
        &group,
        "Robin",
        "Mallory",
        "Not for Mallory"
    ));
    assert!(!reads_new_writes(&group, "Robin", "Casey", "Not for Casey"));
    assert!(reads_new_writes(&group, "Robin", "Dana", "For Dana"));
}

#[test]
fn nothing_sealed_under_the_old_epoch_is_applied_after_the_move() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Lee", Role::Lead),
        ("Mallory", Role::Lead),
    ]);
    let session = group
        .space_of("Robin")
        .create_session(
            safespaces_core::model::SessionDraft {
                kind: safespaces_core::model::SessionKind::WellbeingEvent,
                title: "Walk".into(),
                description: String::new(),
                starts_at: safespaces_core::model::Timestamp(5_000),
                duration_minutes: 60,
                location: String::new(),
                capacity: 4,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    group.share(0);
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    // Lee edits offline, concurrently with the removal.
    group
        .space_of("Lee")
        .edit_session(
            &session,
            SessionEdit {
                location: Some("Room 4".into()),
                ..SessionEdit::default()
            },
        )
        .unwrap();
    let lees_old = group.bundle_of("Lee");
    let mallory_id = group.member_id("Mallory");
    group
        .space_of("Robin")
        .remove_member(&mallory_id, now())
        .unwrap();
    group.person("Blake").import(&group.bundle_of("Robin"));
    // Mallory still holds epoch 0's key and writes under it, from the state
    // before her removal.
    let mut doc = mallory.doc(0);
    let hers = edit_batch(
        &mallory,
        &mut doc,
        0,
        &group.member_id("Mallory"),
        &session,
        SessionEdit {
            location: Some("Her address".into()),
            ..SessionEdit::default()
        },
    );
    let report = group
        .person("Blake")
        .import(&mallory.bundle(&[0], 0, &[hers]));
    assert_eq!(report.applied, 0, "{report:?}");
    // Lee's offline edit is not applied from the old epoch either, and is
    // not lost: once Lee moves on, it is sealed again under the new key.
    let report = group.person("Blake").import(&lees_old);
    assert_eq!(report.applied, 0, "{report:?}");
    group.person("Lee").import(&group.bundle_of("Robin"));
    group.person("Blake").import(&group.bundle_of("Lee"));
    let location = group.space_of("Blake").session(&session).unwrap().location;
    assert_eq!(location, "Room 4");
}

#[test]
fn a_member_cannot_capture_the_coordinators_device_id() {
    // Mallory lists Robin's device id under herself, with her own key;
    // today's first-by-pseudonym lookup would then give Robin's later
    // edits to her ("Aaron" sorts before "Robin") and refuse them.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Aaron", Role::Member),
    ]);
    let mallory = Mallory::new(group.person("Aaron"), &group.space);
    let mut doc = mallory.doc(0);
    let since = doc.heads();
    let robin_device = group.person("Robin").device();
    let me = group.member_id("Aaron");
    let mut raw = automerge::AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(
            safespaces_core::protocol::authorship::actor_for_device(&mallory.device()).unwrap(),
        );
    let members = match raw.get(ROOT, "members").unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let mine = match raw.get(&members, me.as_str()).unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let devices = match raw.get(&mine, "devices").unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let captured = raw
        .put_object(&devices, robin_device.as_str(), ObjType::Map)
        .unwrap();
    raw.put(
        &captured,
        "age_recipient",
        age::x25519::Identity::generate().to_public().to_string(),
    )
    .unwrap();
    raw.put(
        &captured,
        "signing_key",
        hex::encode(mallory.signing_key().verifying_key().to_bytes()),
    )
    .unwrap();
    raw.commit();
    let changes: Vec<Vec<u8>> = raw
        .get_changes(&since)
        .into_iter()
        .map(|mut c| c.bytes().to_vec())
        .collect();
    let report =
        group
            .person("Blake")
            .import(&mallory.bundle(&[0], 0, &[mallory.batch(0, &changes)]));
    assert_eq!(report.applied, 0, "{report:?}");
    assert!(report.refused >= 1, "{report:?}");
    // Robin's later edits still reach Blake as Robin's.
    group
        .space_of("Robin")
        .create_session(
            safespaces_core::model::SessionDraft {
                kind: safespaces_core::model::SessionKind::WellbeingEvent,
                title: "Robin's".into(),
                description: String::new(),
                starts_at: safespaces_core::model::Timestamp(5_000),
                duration_minutes: 60,
                location: String::new(),
                capacity: 4,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            safespaces_core::model::Timestamp(0),
        )
        .unwrap();
    assert!(reads_new_writes(&group, "Robin", "Blake", "Still Robin's"));
}

#[test]
fn a_member_who_left_cannot_write_herself_back() {
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Member),
    ]);
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let me = group.member_id("Mallory");
    let mut doc = mallory.doc(0);
    let since = doc.heads();
    doc.remove_member(&me, &me, now()).unwrap();
    let mut raw = automerge::AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(
            safespaces_core::protocol::authorship::actor_for_device(&mallory.device()).unwrap(),
        );
    let members = raw.get(ROOT, "members").unwrap().unwrap().1;
    let mine = raw.get(&members, me.as_str()).unwrap().unwrap().1;
    raw.put(&mine, "removed_at", automerge::ScalarValue::Null)
        .unwrap();
    raw.commit();
    let changes: Vec<Vec<u8>> = raw
        .get_changes(&since)
        .into_iter()
        .map(|mut c| c.bytes().to_vec())
        .collect();
    assert_eq!(changes.len(), 2);
    let report =
        group
            .person("Robin")
            .import(&mallory.bundle(&[0], 0, &[mallory.batch(0, &changes)]));
    assert_eq!(report.applied, 0, "{report:?}");
    assert!(
        !group
            .space_of("Robin")
            .members()
            .unwrap()
            .iter()
            .any(|(id, m)| id == &me && !m.is_active()),
        "nothing of the batch was taken, not even her departure"
    );
}

#[test]
fn a_removed_coordinator_cannot_bring_anyone_back_by_back_dating() {
    // Ash is removed. His modified app then writes, on the state before his
    // removal, a new coordinator ("Puppet", a device he controls) and a
    // promotion of Mallory. Dana, who has not moved on yet, takes them (as
    // his role allowed where he wrote them) and passes them on in the new
    // epoch. Removal wins: the first coordinator device that sees them
    // removes the puppet and puts Mallory's role back, the rotation that
    // follows gives the puppet's device no key, and Mallory's promotion
    // never gave her authority over rotations.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Coordinator),
        ("Blake", Role::Member),
        ("Dana", Role::Member),
        ("Mallory", Role::Member),
        ("Casey", Role::Member),
    ]);
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mut doc = ash.doc(0);
    let since = doc.heads();
    group
        .space_of("Robin")
        .remove_member(&group.member_id("Ash"), now())
        .unwrap();
    let robins = group.bundle_of("Robin");
    group.person("Blake").import(&robins);

    let puppet = adversary::Person::new("Puppet");
    let ash_id = group.member_id("Ash");
    // The puppet colludes: a back-dated invite, and an admission with it,
    // of a device he controls (which signs its own entry).
    let invite = back_dated_invite(&mut doc, &ash_id, Role::Coordinator);
    let recorded = doc.heads();
    back_dated_admission(&mut doc, group.space_id(), &ash_id, &invite, &puppet);
    doc.set_role(&ash_id, &group.member_id("Mallory"), Role::Coordinator)
        .unwrap();
    let mut all = doc.changes_since(&since);
    let rest = all.split_off(all.len() - doc.changes_since(&recorded).len());
    let back_dated = [
        ash.envelope(EnvelopeKind::ChangeBatch, 0, 1_000, batch_body(&ash, &all)),
        ash.envelope(EnvelopeKind::ChangeBatch, 0, 1_001, batch_body(&ash, &rest)),
    ];
    let report = group
        .person("Dana")
        .import(&ash.bundle(&[0], 0, &back_dated));
    assert!(report.applied >= 3, "{report:?}");
    group.person("Dana").import(&robins);
    group.person("Robin").import(&group.bundle_of("Dana"));
    group.person("Mallory").import(&group.bundle_of("Dana"));
    // What Mallory's modified app holds: the state with her promotion,
    // which it never takes back (Dana's copy, as Mallory's device).
    let mut hers = Mallory::new(group.person("Dana"), &group.space).doc(1);
    hers.set_actor(
        safespaces_core::protocol::authorship::actor_for_device(&group.person("Mallory").device())
            .unwrap(),
    );
    // With that role, Mallory clears herself to lead (so that sign-ups would
    // be sealed to her). Robin's device, a coordinator's, answered the
    // removal as it imported Dana's bundle (the puppet out, the epoch
    // moved on): the training, sealed in the epoch it left, is never
    // applied, and Mallory is never shown cleared there.
    let me = group.member_id("Mallory");
    let since = hers.heads();
    for module in safespaces_core::model::TrainingModule::ALL {
        hers.record_training(&me, &me, module, Timestamp(0), Timestamp(4_000_000_000))
            .unwrap();
    }
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let training = mallory.batch(1, &hers.changes_since(&since));
    group
        .person("Robin")
        .import(&mallory.bundle(&[1], 1, &[training]));
    let cleared = |name: &str| group.space_of(name).clearance(&me, now()).unwrap().cleared;
    assert!(!cleared("Robin"));
    // Removal wins: Robin's device took back what exists only through
    // Ash's back-dated changes before anything of the space leaves it (the
    // puppet is removed, Mallory is a member again), and the rotation that
    // removal takes leaves the puppet's device out.
    let robins_next = group.bundle_of("Robin");
    let shape = |name: &str| -> Vec<(String, bool, Role)> {
        group
            .space_of(name)
            .members()
            .unwrap()
            .into_iter()
            .map(|(_, m)| (m.pseudonym.clone(), m.is_active(), m.role))
            .collect()
    };
    let at_robin = shape("Robin");
    assert!(
        at_robin.contains(&("Puppet".to_string(), false, Role::Coordinator)),
        "{at_robin:?}"
    );
    assert!(
        at_robin.contains(&("Mallory".to_string(), true, Role::Member)),
        "{at_robin:?}"
    );
    group.person("Dana").import(&robins_next);
    assert_eq!(shape("Dana"), at_robin);
    // Her self-clearance went with the role she wrote it with.
    assert!(!cleared("Robin"));
    assert!(!cleared("Dana"));
    let robin = Mallory::new(group.person("Robin"), &group.space);
    let key = robin.epoch_key(1);
    let handover = adversary::open_bundle(&key.content_key(), &robins_next)
        .into_iter()
        .find_map(|sealed| {
            let envelope = safespaces_core::protocol::Envelope::open(
                &sealed,
                &key.content_key(),
                robin.space,
                1,
                |_| Some(robin.signing_key().verifying_key()),
            )
            .ok()?;
            (envelope.kind == EnvelopeKind::EpochHandover)
                .then(|| Handover::decode(&envelope.body).unwrap())
        })
        .expect("Robin's bundle carries the handover out of epoch 1");
    assert!(!handover.recipients.contains(&puppet.device()));
    assert!(handover.recipients.contains(&group.person("Dana").device()));

    // Mallory, "promoted" by him, removes Blake and hands over: refused.
    let since = hers.heads();
    hers.remove_member(&me, &group.member_id("Blake"), now())
        .unwrap();
    let removal = hers.heads()[0];
    let batch = mallory.batch(1, &hers.changes_since(&since));
    let h = Handover::create(
        &mut hers,
        1,
        removal,
        &EpochKey::generate(),
        &safespaces_core::protocol::AdminSeed::generate(),
    )
    .unwrap();
    let sealed = mallory.envelope(EnvelopeKind::EpochHandover, 1, 902, h.encode());
    let report = group
        .person("Dana")
        .import(&mallory.bundle(&[1], 1, &[batch, sealed]));
    assert_eq!(report.new_epoch, None, "{report:?}");
}

#[test]
fn a_coordinator_cannot_list_a_device_under_another_member() {
    // Ash, a coordinator, lists a device he controls under Robin, the other
    // coordinator (its binding verifies: the device signs its own entry),
    // and then writes as Robin from it: he renames the space and makes
    // Mallory a coordinator. A device listed under a member writes as her,
    // so only her own devices (linking) or an admission may list one.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Coordinator),
        ("Dana", Role::Member),
        ("Mallory", Role::Member),
    ]);
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mut doc = ash.doc(0);
    let since = doc.heads();
    let second = adversary::Person::new("Ash's second phone");
    let robin = group.member_id("Robin");
    doc.add_device(&robin, &second.device(), second.keys(true))
        .unwrap();
    let listing = ash.batch(0, &doc.changes_since(&since));
    let report = group
        .person("Dana")
        .import(&ash.bundle(&[0], 0, &[listing]));
    assert_eq!(report.applied, 0, "{report:?}");
    assert_eq!(report.refused, 1, "{report:?}");
    let listed = |name: &str| {
        group
            .space_of(name)
            .members()
            .unwrap()
            .iter()
            .any(|(_, m)| m.devices.contains_key(&second.device()))
    };
    assert!(!listed("Dana"));

    // What the device would then write as Robin is from nobody Dana knows.
    let since = doc.heads();
    let mut raw = raw_as(&mut doc, &second.device());
    raw.put(ROOT, "name", "Taken over").unwrap();
    let members = obj_at(&raw, &["members", group.member_id("Mallory").as_str()]);
    raw.put(&members, "role", "coordinator").unwrap();
    raw.commit();
    let forged: Vec<Vec<u8>> = raw
        .get_changes(&since)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let (body, _) = safespaces_core::protocol::exchange::batch_body(
        ash.space,
        &second.device(),
        &second.signer(),
        &forged,
    )
    .unwrap();
    let sealed = ash.envelope(EnvelopeKind::ChangeBatch, 0, 1_001, body);
    group.person("Dana").import(&ash.bundle(&[0], 0, &[sealed]));
    let space = group.space_of("Dana");
    assert_ne!(space.name().unwrap(), "Taken over");
    let members = space.members().unwrap();
    let mallory = members
        .iter()
        .find(|(id, _)| *id == group.member_id("Mallory"))
        .unwrap();
    assert_eq!(mallory.1.role, Role::Member);
}

/// A batch from `author`'s modified app, sealed for `epoch`, that edits
/// `session` as `by` on `doc` (whatever state her copy is in).
fn edit_batch(
    author: &Mallory,
    doc: &mut safespaces_core::model::SpaceDoc,
    epoch: u32,
    by: &safespaces_core::model::MemberId,
    session: &safespaces_core::model::SessionId,
    edit: SessionEdit,
) -> Vec<u8> {
    let since = doc.heads();
    doc.edit_session(by, session, edit).unwrap();
    author.batch(epoch, &doc.changes_since(&since))
}

/// `who` signs up for `session`; `lead`'s device records it from her
/// bundle and passes it on to everyone.
fn signs_up(group: &Group, who: &str, session: &safespaces_core::model::SessionId, lead: &str) {
    group
        .space_of(who)
        .sign_up(
            session,
            safespaces_core::model::SignUpState::Attending,
            now(),
        )
        .unwrap();
    group.person(lead).import(&group.bundle_of(who));
    group.share(group.people.iter().position(|p| p.name == lead).unwrap());
}

/// Robin removes Ash, a lead of `session`; Ash's modified app then cancels
/// the session's first sign-up, written on the state before his removal.
/// He has no statement of the attendee's to cancel with, so he forges one:
/// the cancellation under the next counter, with the signature he has.
/// Returns his bundle with it (epoch 0).
fn removed_lead_cancels(group: &Group, session: &safespaces_core::model::SessionId) -> Vec<u8> {
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mut doc = ash.doc(0);
    let since = doc.heads();
    let (ticket, signup) = doc
        .session(session)
        .unwrap()
        .signups
        .0
        .into_iter()
        .next()
        .unwrap();
    group
        .space_of("Robin")
        .remove_member(&group.member_id("Ash"), now())
        .unwrap();
    let mut forged = signup;
    forged.state = safespaces_core::model::SignUpState::Cancelled;
    forged.counter += 1;
    doc.record_signup(&group.member_id("Ash"), session, &ticket, &forged)
        .unwrap();
    ash.bundle(&[0], 0, &[ash.batch(0, &doc.changes_since(&since))])
}

/// An invite a modified app of `by` records for `role` (the first half of
/// bringing someone in; the admission must come in a later batch).
fn back_dated_invite(
    doc: &mut safespaces_core::model::SpaceDoc,
    by: &safespaces_core::model::MemberId,
    role: Role,
) -> safespaces_core::protocol::invite::InviteSecret {
    let secret = safespaces_core::protocol::invite::InviteSecret::generate();
    doc.record_invite(
        by,
        &secret.invite_id(),
        &secret.verifying_key_hex(),
        role,
        Timestamp(4_000_000_000),
    )
    .unwrap();
    secret
}

/// The admission a modified app of `by` writes with `invite`, of a
/// `joiner` who colludes (her device signs its own entry). Returns her
/// member id.
fn back_dated_admission(
    doc: &mut safespaces_core::model::SpaceDoc,
    space: safespaces_core::protocol::SpaceId,
    by: &safespaces_core::model::MemberId,
    invite: &safespaces_core::protocol::invite::InviteSecret,
    joiner: &adversary::Person,
) -> safespaces_core::model::MemberId {
    let request = safespaces_core::protocol::invite::JoinRequest::new(
        invite,
        space,
        joiner.name,
        &joiner.device(),
        &joiner.keys(false),
        &joiner.signer(),
    );
    doc.admit(
        by,
        &request.invite,
        &request.member,
        &request.proof,
        &request.pseudonym,
        &request.device,
        request.keys,
        Timestamp(1),
    )
    .unwrap();
    request.member
}

/// A change batch's signed body from `author`'s device.
fn batch_body(author: &Mallory, changes: &[Vec<u8>]) -> Vec<u8> {
    safespaces_core::protocol::exchange::batch_body(
        author.space,
        &author.device(),
        &author.signing_key(),
        changes,
    )
    .unwrap()
    .0
}

/// Raw automerge access to a space document as a modified app has it,
/// writing as `device`.
fn raw_as(
    doc: &mut safespaces_core::model::SpaceDoc,
    device: &safespaces_core::model::DeviceId,
) -> automerge::AutoCommit {
    automerge::AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(safespaces_core::protocol::authorship::actor_for_device(device).unwrap())
}

fn obj_at(am: &automerge::AutoCommit, path: &[&str]) -> automerge::ObjId {
    let mut cur = ROOT;
    for key in path {
        cur = am.get(&cur, *key).unwrap().unwrap().1;
    }
    cur
}

#[test]
fn forged_training_in_a_snapshot_is_refused() {
    // Mallory forks the document and, as the coordinator's device (his
    // actor id), records both training modules for herself, volunteers to
    // lead, and hands everyone her snapshot. Today's import checks each
    // change against the role of the actor it carries; with attestations,
    // a change must be proven to be its actor's, and Mallory can attest
    // only her own.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Blake", Role::Member),
        ("Mallory", Role::Member),
    ]);
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let mut doc = mallory.doc(0);
    let robin_device = group.person("Robin").device();
    let mut forged = raw_as(&mut doc, &robin_device);
    let training = obj_at(&forged, &["training"]);
    let me = group.member_id("Mallory");
    let robin = group.member_id("Robin");
    for (i, module) in ["signposting", "trauma_informed_care"].iter().enumerate() {
        let record = forged
            .put_object(&training, format!("00000000000000a{i}"), ObjType::Map)
            .unwrap();
        forged.put(&record, "member", me.as_str()).unwrap();
        forged.put(&record, "module", *module).unwrap();
        forged.put(&record, "completed_at", 0i64).unwrap();
        forged.put(&record, "expires_at", 4_000_000_000i64).unwrap();
        forged.put(&record, "recorded_by", robin.as_str()).unwrap();
    }
    forged.commit();
    let mut forged_doc = safespaces_core::model::SpaceDoc::load(&forged.save()).unwrap();
    // Her snapshot, with every attestation her device holds, and one she
    // signs for the forged change as if it were Robin's.
    let mut attestations = mallory.attestations(0);
    let tip = forged_doc.heads()[0];
    attestations.push(
        safespaces_core::protocol::attestation::Attestation::sign_hash(
            mallory.space,
            &robin_device,
            1_000,
            tip,
            &mallory.signing_key(),
        ),
    );
    let snapshot = mallory.snapshot(0, &mut forged_doc, attestations);
    let report = group
        .person("Blake")
        .import(&mallory.bundle(&[0], 0, &[snapshot]));
    assert_eq!(report.applied, 0, "{report:?}");
    assert!(report.refused >= 1, "{report:?}");
    let blakes = group.space_of("Blake");
    assert!(blakes.training_records().unwrap().is_empty());
    assert!(!blakes.clearance(&me, now()).unwrap().cleared);
}

#[test]
fn an_outsider_with_the_epoch_key_cannot_hand_a_joiner_a_made_up_space() {
    // Eve holds epoch 0's key without being a member (Blake's old phone,
    // say). Ivy is admitted by Robin and given her welcome; Eve hands her a
    // bundle: her own copy of the space with herself as its creator, or a
    // copy of the real one where she adds herself as a coordinator with a
    // device of hers, each signed by her device. Ivy checks history from
    // the creation the space id commits to.
    let group = Group::new(&[("Robin", Role::Coordinator), ("Blake", Role::Member)]);
    let robin = group.space_of("Robin");
    let invitation = robin.invite(Role::Member, now(), None).unwrap();
    let eve = adversary::Person::new("Eve");
    struct Stolen {
        space: safespaces_core::protocol::SpaceId,
        epoch_key: safespaces_core::protocol::EpochKey,
    }
    let package = Stolen {
        space: group.space_id(),
        epoch_key: Mallory::new(group.person("Blake"), &group.space).epoch_key(0),
    };
    let eve_signing = eve.signer();
    let eve_device = eve.device();
    let eve_keys = eve.keys(false);
    let seal = |doc: &mut safespaces_core::model::SpaceDoc| {
        let body = safespaces_core::protocol::snapshot::SnapshotBody {
            document: doc.save(),
            attestations: doc
                .last_own_change()
                .map(|(seq, hash)| {
                    safespaces_core::protocol::attestation::Attestation::sign_hash(
                        package.space,
                        &eve_device,
                        seq,
                        hash,
                        &eve_signing,
                    )
                })
                .into_iter()
                .collect(),
            vouched: Vec::new(),
        };
        let envelope = safespaces_core::protocol::Envelope {
            kind: EnvelopeKind::Snapshot,
            space: package.space,
            epoch: 0,
            author: eve_device.clone(),
            sequence: 1,
            body: body.encode(),
        }
        .seal(&package.epoch_key.content_key(), &eve_signing)
        .unwrap();
        let mut frame = b"SSB1".to_vec();
        frame.extend_from_slice(&package.space.0);
        frame.extend_from_slice(&0u32.to_be_bytes());
        frame.extend_from_slice(&1u32.to_be_bytes());
        frame.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
        frame.extend_from_slice(&envelope);
        safespaces_core::store::padding::seal_padded_to(&[&package.epoch_key.content_key()], &frame)
            .unwrap()
    };
    // A made-up space under the real space id.
    let (mut made_up, _) = safespaces_core::model::SpaceDoc::genesis(
        "Tuesday group",
        "Eve",
        &safespaces_core::model::SpaceZone::utc(),
        now(),
        &eve_device,
        eve_keys.clone(),
    )
    .unwrap();
    let invitee = adversary::Person::new("Ivy");
    let asked = invitee
        .app
        .request_join(&invitation.code, &invitation.package, "Ivy", now())
        .unwrap();
    let welcome = robin.admit(&asked.request, now()).unwrap();
    assert!(
        invitee
            .app
            .join(&welcome, &seal(&mut made_up), now())
            .is_err()
    );
    // The real space, with Eve added as a coordinator by her own device.
    let blake = Mallory::new(group.person("Blake"), &group.space);
    let mut real = blake.doc(0);
    real.set_actor(safespaces_core::protocol::authorship::actor_for_device(&eve_device).unwrap());
    let mut raw = raw_as(&mut real, &eve_device);
    let members = obj_at(&raw, &["members"]);
    let entry = raw
        .put_object(&members, "00000000000000ee", ObjType::Map)
        .unwrap();
    raw.put(&entry, "pseudonym", "Eve").unwrap();
    raw.put(&entry, "role", "coordinator").unwrap();
    raw.put(&entry, "joined_at", 0i64).unwrap();
    raw.put(&entry, "removed_at", automerge::ScalarValue::Null)
        .unwrap();
    let devices = raw.put_object(&entry, "devices", ObjType::Map).unwrap();
    let device = raw
        .put_object(&devices, eve_device.as_str(), ObjType::Map)
        .unwrap();
    raw.put(&device, "age_recipient", eve_keys.age_recipient.as_str())
        .unwrap();
    raw.put(&device, "signing_key", eve_keys.signing_key.as_str())
        .unwrap();
    raw.commit();
    let mut tampered = safespaces_core::model::SpaceDoc::load(&raw.save()).unwrap();
    tampered
        .set_actor(safespaces_core::protocol::authorship::actor_for_device(&eve_device).unwrap());
    // Signed by Eve, who is no device of the history as it checks out.
    assert!(
        invitee
            .app
            .join(&welcome, &seal(&mut tampered), now())
            .is_err()
    );
    // With a member's honest bundle, the same welcome works.
    let joined = invitee
        .app
        .join(&welcome, &group.bundle_of("Robin"), now())
        .unwrap();
    assert!(
        !joined
            .members()
            .unwrap()
            .iter()
            .any(|(_, m)| m.pseudonym == "Eve")
    );
}

#[test]
fn an_intercepted_invite_reads_nothing_and_admits_one_joiner() {
    // Mallory intercepts the code and package meant for Ivy. The package
    // holds no key: no bundle of the space opens for her, and Ivy's welcome
    // is sealed to Ivy's device alone. Both ask to join; Robin admits the
    // first request and refuses the second, the same on every device.
    let group = Group::new(&[("Robin", Role::Coordinator), ("Blake", Role::Member)]);
    let robin = group.space_of("Robin");
    let invitation = robin.invite(Role::Member, now(), None).unwrap();
    let (ivy, mallory) = (
        adversary::Person::new("Ivy"),
        adversary::Person::new("Mallory"),
    );
    let bundle = group.bundle_of("Robin");
    assert!(mallory.app.import_bundle(&bundle, now()).is_err());
    let asked = |p: &adversary::Person| {
        p.app
            .request_join(&invitation.code, &invitation.package, p.name, now())
            .unwrap()
            .request
    };
    let (from_ivy, from_mallory) = (asked(&ivy), asked(&mallory));
    let welcome = robin.admit(&from_ivy, now()).unwrap();
    assert!(robin.admit(&from_mallory, now()).is_err());
    // The welcome and a fresh bundle are useless to Mallory.
    let after = group.bundle_of("Robin");
    assert!(mallory.app.join(&welcome, &after, now()).is_err());
    assert!(mallory.app.import_bundle(&after, now()).is_err());
    let joined = ivy.app.join(&welcome, &after, now()).unwrap();
    group.person("Blake").import(&after);
    let active = |space: &safespaces_core::app::Space| -> Vec<String> {
        space
            .members()
            .unwrap()
            .into_iter()
            .filter(|(_, m)| m.is_active())
            .map(|(_, m)| m.pseudonym)
            .collect()
    };
    let everyone = active(&robin);
    assert_eq!(everyone, active(&group.space_of("Blake")));
    assert_eq!(everyone, active(&joined));
    assert!(everyone.contains(&"Ivy".to_string()));
    assert!(!everyone.contains(&"Mallory".to_string()));
}

#[test]
fn an_invite_claimed_but_not_used_is_visible_and_can_be_withdrawn() {
    // The package went astray (Mallory has it). Robin sees the invite open,
    // withdraws it, and a request made with it is then refused; a
    // withdrawal is refused once the invite is used.
    let group = Group::new(&[("Robin", Role::Coordinator), ("Blake", Role::Member)]);
    let robin = group.space_of("Robin");
    let invitation = robin.invite(Role::Member, now(), None).unwrap();
    let listed = robin.invites(now()).unwrap();
    let open = listed
        .iter()
        .find(|i| i.invite_id == invitation.invite_id)
        .unwrap();
    assert_eq!(open.state, safespaces_core::model::InviteState::Open);
    robin.revoke_invite(&invitation.invite_id, now()).unwrap();
    let mallory = adversary::Person::new("Mallory");
    let late = mallory
        .app
        .request_join(&invitation.code, &invitation.package, "Mallory", now())
        .unwrap();
    assert!(robin.admit(&late.request, now()).is_err());
    let state = |space: &safespaces_core::app::Space| {
        space
            .invites(now())
            .unwrap()
            .into_iter()
            .find(|i| i.invite_id == invitation.invite_id)
            .unwrap()
            .state
    };
    assert_eq!(state(&robin), safespaces_core::model::InviteState::Revoked);
    // Blake's device sees the same.
    group.person("Blake").import(&group.bundle_of("Robin"));
    assert_eq!(
        state(&group.space_of("Blake")),
        safespaces_core::model::InviteState::Revoked
    );
    // A used invite cannot be withdrawn (that would remove its member).
    let second = robin.invite(Role::Member, now(), None).unwrap();
    let ivy = adversary::Person::new("Ivy");
    let asked = ivy
        .app
        .request_join(&second.code, &second.package, "Ivy", now())
        .unwrap();
    robin.admit(&asked.request, now()).unwrap();
    assert!(robin.revoke_invite(&second.invite_id, now()).is_err());
}

#[test]
fn a_removed_lead_cannot_move_a_session_by_back_dating() {
    // Robin removes Ash, a lead. Ash's modified app then moves the group's
    // session to his own address, written on the state before his removal,
    // and hands it to Blake, who has not heard of the removal and takes it
    // (it was Ash's to write there). Removal wins: Robin's device puts the
    // place back before anything of the space leaves it, and Blake follows.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Lead),
        ("Blake", Role::Member),
    ]);
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mut doc = ash.doc(0);
    let (session, before) = group.space_of("Robin").sessions().unwrap()[0].clone();
    group
        .space_of("Robin")
        .remove_member(&group.member_id("Ash"), now())
        .unwrap();
    let moved = edit_batch(
        &ash,
        &mut doc,
        0,
        &group.member_id("Ash"),
        &session,
        SessionEdit {
            location: Some("Ash's flat".into()),
            ..Default::default()
        },
    );
    let report = group.person("Blake").import(&ash.bundle(&[0], 0, &[moved]));
    assert_eq!(report.applied, 1, "{report:?}");
    let place = |name: &str| group.space_of(name).session(&session).unwrap().location;
    assert_eq!(place("Blake"), "Ash's flat");
    // Blake's bundle reaches Robin (who moved on: Blake's epoch-0 bundle is
    // stale there, so Robin's own bundle goes first and Blake replies).
    group.person("Blake").import(&group.bundle_of("Robin"));
    group.person("Robin").import(&group.bundle_of("Blake"));
    let robins = group.bundle_of("Robin");
    assert_eq!(place("Robin"), before.location);
    group.person("Blake").import(&robins);
    assert_eq!(place("Blake"), before.location);
}

#[test]
fn a_removed_lead_cannot_strip_a_content_note_by_back_dating() {
    // The circle warns that it discusses assault. Robin removes Ash, a
    // lead; Ash's modified app then deletes that warning and adds a note of
    // his own, written on the state before his removal, and Blake, who has
    // not heard of the removal, takes it. Removal wins: Robin's device puts
    // the notes back as they were, and Blake follows.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Lead),
        ("Blake", Role::Member),
    ]);
    let (session, _) = group.space_of("Robin").sessions().unwrap()[0].clone();
    let warned = vec![
        "discusses experiences of assault".to_string(),
        "no photos".to_string(),
    ];
    group
        .space_of("Robin")
        .edit_session(
            &session,
            SessionEdit {
                content_notes: Some(warned.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    group.share(0);
    let ash = Mallory::new(group.person("Ash"), &group.space);
    let mut doc = ash.doc(0);
    group
        .space_of("Robin")
        .remove_member(&group.member_id("Ash"), now())
        .unwrap();
    let stripped = edit_batch(
        &ash,
        &mut doc,
        0,
        &group.member_id("Ash"),
        &session,
        SessionEdit {
            content_notes: Some(vec!["no photos".into(), "lifts home from Ash".into()]),
            ..Default::default()
        },
    );
    let report = group
        .person("Blake")
        .import(&ash.bundle(&[0], 0, &[stripped]));
    assert_eq!(report.applied, 1, "{report:?}");
    let notes = |name: &str| {
        group
            .space_of(name)
            .session(&session)
            .unwrap()
            .content_notes
    };
    assert_eq!(notes("Blake"), vec!["no photos", "lifts home from Ash"]);
    group.person("Blake").import(&group.bundle_of("Robin"));
    group.person("Robin").import(&group.bundle_of("Blake"));
    let robins = group.bundle_of("Robin");
    assert_eq!(notes("Robin"), warned);
    group.person("Blake").import(&robins);
    assert_eq!(notes("Blake"), warned);
}

#[test]
fn a_removed_sole_lead_cannot_cancel_a_place_and_the_next_lead_sees_it() {
    // Ash leads the circle alone and recorded Blake's place. He is removed;
    // his modified app cancels the place, back-dated. A cancellation needs
    // Blake's own signature, so every device refuses it, also Blake's, which
    // has not heard of the removal yet. Lee is then named cover lead and
    // sees Blake coming.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Lead),
        ("Lee", Role::Lead),
        ("Blake", Role::Member),
    ]);
    let robin = group.space_of("Robin");
    let session = robin.sessions().unwrap()[0].0.clone();
    for lead in ["Ash", "Lee"] {
        group.clear("Robin", lead);
    }
    group.share(0);
    group
        .space_of("Ash")
        .volunteer_to_lead(&session, now())
        .unwrap();
    group.share(1);
    group.accept("Robin", &session, "Ash");
    group.share(0);
    signs_up(&group, "Blake", &session, "Ash");
    let attending = |name: &str| group.space_of(name).roster(&session).unwrap().attending;
    assert_eq!(attending("Lee"), 1);

    let cancelled = removed_lead_cancels(&group, &session);
    let report = group.person("Blake").import(&cancelled);
    assert_eq!(report.applied, 0, "{report:?}");
    assert_eq!(attending("Blake"), 1);
    let robins = group.bundle_of("Robin");
    for name in ["Lee", "Blake"] {
        group.person(name).import(&robins);
    }
    group.person("Lee").import(&cancelled);
    assert_eq!(attending("Lee"), 1);
    // Robin names Lee; Lee's device can open who is coming once it holds
    // the holders sealed to her, which only a lead's device can do: with
    // Ash gone, nobody can (noted in docs/threat-model.md), so she sees
    // the count and Blake her place.
    robin
        .name_lead(&session, &group.member_id("Lee"), now())
        .unwrap();
    group.share(0);
    assert_eq!(attending("Lee"), 1);
    assert_eq!(attending("Blake"), 1);
}

#[test]
fn a_removed_lead_cannot_cancel_a_place_by_back_dating() {
    // Ash and Lee lead the circle; Blake has a place, recorded by Lee. Ash
    // is removed; his modified app cancels Blake's place, written on the
    // state before his removal, and hands it to Blake's device, which has
    // not heard of the removal. The cancellation is not Blake's: refused.
    let group = Group::new(&[
        ("Robin", Role::Coordinator),
        ("Ash", Role::Lead),
        ("Lee", Role::Lead),
        ("Blake", Role::Member),
    ]);
    let robin = group.space_of("Robin");
    let session = robin.sessions().unwrap()[0].0.clone();
    group.clear("Robin", "Lee");
    group.clear("Robin", "Ash");
    group.share(0);
    for lead in ["Ash", "Lee"] {
        group
            .space_of(lead)
            .volunteer_to_lead(&session, now())
            .unwrap();
        group.share(group.people.iter().position(|p| p.name == lead).unwrap());
        group.accept("Robin", &session, lead);
        group.share(0);
    }
    signs_up(&group, "Blake", &session, "Lee");
    let attending = |name: &str| group.space_of(name).roster(&session).unwrap().attending;
    assert_eq!(attending("Blake"), 1);

    let cancelled = removed_lead_cancels(&group, &session);
    let report = group.person("Blake").import(&cancelled);
    assert_eq!(report.applied, 0, "{report:?}");
    assert_eq!(attending("Blake"), 1);
    let robins = group.bundle_of("Robin");
    group.person("Lee").import(&robins);
    group.person("Lee").import(&cancelled);
    assert_eq!(attending("Lee"), 1);
}
