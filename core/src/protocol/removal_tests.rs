//! Who may answer a removal with a new epoch, and which removals are open.

use super::*;
use crate::model::{DeviceKeys, Role, Timestamp};
use crate::protocol::EpochKey;
use crate::protocol::rotation::{Handover, HandoverRefusal, check_handover};

struct World {
    doc: SpaceDoc,
    coordinator: (MemberId, DeviceId),
    second: (MemberId, DeviceId),
    member: (MemberId, DeviceId),
}

fn keys(seed: u8) -> DeviceKeys {
    DeviceKeys {
        age_recipient: age::x25519::Identity::generate().to_public().to_string(),
        signing_key: hex::encode([seed; 32]),
        binding: None,
    }
}

fn world() -> World {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let cdev = DeviceId::random();
    doc.add_device(&coordinator, &cdev, keys(1)).unwrap();
    let second = doc
        .add_member(&coordinator, "Ash", Role::Coordinator, Timestamp(1))
        .unwrap();
    let sdev = DeviceId::random();
    doc.add_device(&second, &sdev, keys(2)).unwrap();
    let member = doc
        .add_member(&coordinator, "Sam", Role::Member, Timestamp(1))
        .unwrap();
    let mdev = DeviceId::random();
    doc.add_device(&member, &mdev, keys(3)).unwrap();
    World {
        doc,
        coordinator: (coordinator, cdev),
        second: (second, sdev),
        member: (member, mdev),
    }
}

/// A session draft at `location`.
fn draft(title: &str, location: &str) -> crate::model::SessionDraft {
    crate::model::SessionDraft {
        kind: crate::model::SessionKind::Other,
        title: title.into(),
        description: String::new(),
        starts_at: Timestamp(100),
        duration_minutes: 60,
        location: location.into(),
        capacity: 8,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

fn handover(doc: &mut SpaceDoc, answers: ChangeHash) -> Handover {
    Handover::create(
        doc,
        0,
        answers,
        &EpochKey::generate(),
        &crate::protocol::AdminSeed::generate(),
    )
    .unwrap()
}

#[test]
fn a_coordinator_answers_a_removal_and_it_is_then_answered() {
    let mut w = world();
    assert_eq!(unanswered_removal(&mut w.doc, None), None);
    w.doc
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(5))
        .unwrap();
    let removal = unanswered_removal(&mut w.doc, None).unwrap();
    assert_eq!(removal.member, w.member.0);
    let h = handover(&mut w.doc, removal.change);
    assert_eq!(
        check_handover(&mut w.doc, &w.coordinator.1, &h, None),
        Ok(w.member.0.clone())
    );
    // The new epoch starts at the handover's cut: nothing is open any more,
    // and the same removal cannot be answered twice.
    assert_eq!(unanswered_removal(&mut w.doc, Some(&h.cut)), None);
    assert_eq!(
        check_handover(&mut w.doc, &w.second.1, &h, Some(&h.cut)),
        Err(HandoverRefusal::Answered)
    );
}

#[test]
fn a_plain_member_cannot_hand_over_and_nothing_but_a_removal_can_be_answered() {
    let mut w = world();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    let removal = unanswered_removal(&mut w.doc, None).unwrap();
    let h = handover(&mut w.doc, removal.change);
    assert_eq!(
        check_handover(&mut w.doc, &w.member.1, &h, None),
        Err(HandoverRefusal::NotACoordinator)
    );
    // The removed coordinator was not active at his own removal.
    assert_eq!(
        check_handover(&mut w.doc, &w.second.1, &h, None),
        Err(HandoverRefusal::NotACoordinator)
    );
    w.doc.rename(&w.coordinator.0, "Renamed").unwrap();
    let not_a_removal = w.doc.heads()[0];
    let h = handover(&mut w.doc, not_a_removal);
    assert_eq!(
        check_handover(&mut w.doc, &w.coordinator.1, &h, None),
        Err(HandoverRefusal::NotARemoval)
    );
    assert_eq!(
        check_handover(&mut w.doc, &DeviceId::random(), &h, None),
        Err(HandoverRefusal::UnknownAuthor)
    );
}

#[test]
fn a_coordinator_removed_concurrently_cannot_answer_a_removal_he_wrote() {
    // Robin removes Ash; Ash, concurrently (or back-dating), removes Sam
    // and hands over. Removal wins: Ash's removal of Sam stands as a
    // removal (it was his to make where he made it), but he does not act
    // as a coordinator at it, so his handover is refused.
    let mut w = world();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.remove_member(&w.second.0, &w.member.0, Timestamp(6))
        .unwrap();
    let ash_removal = ash.heads()[0];
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut ash).unwrap();
    let h = handover(&mut ash, ash_removal);
    assert_eq!(
        check_handover(&mut w.doc, &w.second.1, &h, None),
        Err(HandoverRefusal::NotACoordinator)
    );
    // Robin answers both removals in one epoch.
    let first = unanswered_removal(&mut w.doc, None).unwrap();
    let robins = handover(&mut w.doc, first.change);
    assert!(check_handover(&mut w.doc, &w.coordinator.1, &robins, None).is_ok());
    assert_eq!(unanswered_removal(&mut w.doc, Some(&robins.cut)), None);
}

#[test]
fn a_handover_naming_changes_not_received_yet_waits() {
    let mut w = world();
    let mut ahead = w.doc.fork();
    ahead.set_actor(crate::protocol::authorship::actor_for_device(&w.coordinator.1).unwrap());
    ahead
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(5))
        .unwrap();
    let removal = ahead.heads()[0];
    let h = handover(&mut ahead, removal);
    assert_eq!(
        check_handover(&mut w.doc, &w.coordinator.1, &h, None),
        Err(HandoverRefusal::Waiting)
    );
}

#[test]
fn what_a_removed_coordinator_back_dates_is_found_to_take_back() {
    // Robin removes Ash; Ash, on the state before, adds a puppet
    // coordinator and promotes Sam, who records training for herself.
    let mut w = world();
    let before = w.doc.heads();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    let puppet = ash
        .add_member(&w.second.0, "Puppet", Role::Coordinator, Timestamp(6))
        .unwrap();
    ash.set_role(&w.second.0, &w.member.0, Role::Coordinator)
        .unwrap();
    let mut sam = ash.fork();
    sam.set_actor(crate::protocol::authorship::actor_for_device(&w.member.1).unwrap());
    let record = sam
        .record_training(
            &w.member.0,
            &w.member.0,
            crate::model::TrainingModule::Signposting,
            Timestamp(6),
            Timestamp(99),
        )
        .unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    let removed = w.doc.heads();
    w.doc.merge(&mut sam).unwrap();
    let expected = voided_authority(&mut w.doc, None);
    assert_eq!(expected.members, vec![puppet]);
    assert_eq!(expected.roles, vec![(w.member.0.clone(), Role::Member)]);
    // Sam's record, written with the role Ash gave her, goes (as one of
    // the writes of a change that is void itself).
    assert!(
        expected
            .writes
            .iter()
            .any(|w| w.key == record.as_str() && w.value.is_none()),
        "{expected:?}"
    );
    // Looking again from before any of it, or from after the removal
    // alone (Ash's changes are new), finds the same…
    assert_eq!(voided_authority(&mut w.doc, Some(&before)), expected);
    assert_eq!(voided_authority(&mut w.doc, Some(&removed)), expected);
    // …and from now, with nothing new, nothing is scanned.
    let now = w.doc.heads();
    assert!(voided_authority(&mut w.doc, Some(&now)).is_empty());
    // What was made before the removal, causally, is not taken back.
    let mut fresh = world();
    let kept = fresh
        .doc
        .add_member(&fresh.second.0, "Kept", Role::Member, Timestamp(4))
        .unwrap();
    fresh
        .doc
        .remove_member(&fresh.coordinator.0, &fresh.second.0, Timestamp(5))
        .unwrap();
    let found = voided_authority(&mut fresh.doc, None);
    assert!(!found.members.contains(&kept), "{found:?}");
}

#[test]
fn what_a_removed_member_back_dates_elsewhere_is_put_back() {
    // Ash, removed, back-dates deleting the crisis line, moving a session
    // somewhere else (twice), and a new "resource" pointing at him.
    let mut w = world();
    let session = w
        .doc
        .create_session(
            &w.coordinator.0,
            draft("Circle", "Union, room 2"),
            Timestamp(0),
        )
        .unwrap();
    let night_line = crate::model::Resource {
        category: crate::model::ResourceCategory::CrisisLine,
        name: "Night line".into(),
        contact: "0800 000".into(),
        hours: "24/7".into(),
        notes: String::new(),
    };
    let kept = w
        .doc
        .add_resource(&w.coordinator.0, night_line.clone())
        .unwrap();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.remove_resource(&w.second.0, &kept).unwrap();
    let edit = |location: &str| crate::model::SessionEdit {
        location: Some(location.into()),
        ..Default::default()
    };
    ash.edit_session(&w.second.0, &session, edit("His flat"))
        .unwrap();
    ash.edit_session(&w.second.0, &session, edit("His flat, upstairs"))
        .unwrap();
    ash.add_resource(
        &w.second.0,
        crate::model::Resource {
            category: crate::model::ResourceCategory::CrisisLine,
            name: "Call Ash".into(),
            contact: "0700".into(),
            hours: String::new(),
            notes: String::new(),
        },
    )
    .unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut ash).unwrap();
    assert_eq!(
        w.doc.session(&session).unwrap().location,
        "His flat, upstairs"
    );
    let found = voided_authority(&mut w.doc, None);
    assert_eq!(found.writes.len(), 3, "{found:?}");
    w.doc.restore(&w.coordinator.0, &found.writes).unwrap();
    assert_eq!(w.doc.session(&session).unwrap().location, "Union, room 2");
    // The crisis line he deleted is back, whole; his own is gone.
    assert_eq!(w.doc.resources(None).unwrap(), vec![(kept, night_line)]);
    // Nothing is left to put back.
    assert!(voided_authority(&mut w.doc, None).writes.is_empty());
}

#[test]
fn a_list_a_removed_member_edited_is_put_back_whole() {
    // Ash, removed, back-dates stripping a session's content warning; Sam,
    // concurrently and honestly, edits another session's notes. Only the
    // list Ash touched goes back, to what it was without him, and once.
    let mut w = world();
    let notes = |v: &[&str]| crate::model::SessionEdit {
        content_notes: Some(v.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let circle = w
        .doc
        .create_session(&w.coordinator.0, draft("Circle", ""), Timestamp(0))
        .unwrap();
    let walk = w
        .doc
        .create_session(&w.coordinator.0, draft("Walk", ""), Timestamp(0))
        .unwrap();
    w.doc
        .edit_session(&w.coordinator.0, &circle, notes(&["assault", "no photos"]))
        .unwrap();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.edit_session(&w.second.0, &circle, notes(&["no photos", "call Ash"]))
        .unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc
        .edit_session(&w.coordinator.0, &walk, notes(&["steep"]))
        .unwrap();
    w.doc.merge(&mut ash).unwrap();
    let found = voided_authority(&mut w.doc, None);
    assert_eq!(found.writes.len(), 1, "{found:?}");
    w.doc.restore(&w.coordinator.0, &found.writes).unwrap();
    assert_eq!(
        w.doc.session(&circle).unwrap().content_notes,
        vec!["assault", "no photos"]
    );
    assert_eq!(w.doc.session(&walk).unwrap().content_notes, vec!["steep"]);
    assert!(voided_authority(&mut w.doc, None).writes.is_empty());
}

#[test]
fn a_holder_a_removed_lead_rewrote_is_put_back_by_a_lead_of_the_session() {
    // Ash and Sam lead a session with one sign-up. Ash, removed, back-dates
    // overwriting who holds it (she cannot cancel it: that needs the
    // attendee's signature). Only a lead of the session may put it back.
    let mut w = world();
    let session = w
        .doc
        .create_session(&w.coordinator.0, draft("Circle", ""), Timestamp(0))
        .unwrap();
    for lead in [&w.second.0.clone(), &w.member.0.clone()] {
        for module in crate::model::TrainingModule::ALL {
            w.doc
                .record_training(
                    &w.coordinator.0,
                    lead,
                    module,
                    Timestamp(0),
                    Timestamp(1_000_000),
                )
                .unwrap();
        }
        w.doc
            .name_lead(&w.coordinator.0, &session, lead, Timestamp(2))
            .unwrap();
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let mut signup = crate::protocol::attendance::sign_statement(
        &key,
        &session,
        crate::model::SignUpState::Attending,
        Timestamp(3),
        1,
    );
    signup.sealed = "sealed".into();
    let ticket = crate::protocol::attendance::ticket_of_key(&key.verifying_key());
    w.doc
        .record_signup(&w.member.0, &session, &ticket, &signup)
        .unwrap();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.reseal_signup(&w.second.0, &session, &ticket, "garbage")
        .unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut ash).unwrap();
    let holder = |doc: &SpaceDoc| doc.signup(&session, &ticket).unwrap().unwrap().sealed;
    assert_eq!(holder(&w.doc), "garbage");
    let found = voided_authority(&mut w.doc, None);
    let signups: Vec<_> = found
        .writes
        .iter()
        .filter(|r| r.signups_of.as_ref() == Some(&session))
        .cloned()
        .collect();
    assert!(!signups.is_empty(), "{found:?}");
    // Robin, a coordinator but no lead of it, may not; Sam may.
    assert!(w.doc.fork().restore(&w.coordinator.0, &signups).is_err());
    w.doc.restore(&w.member.0, &signups).unwrap();
    assert_eq!(holder(&w.doc), "sealed");
}

#[test]
fn what_a_puppet_wrote_is_put_back_with_the_puppet() {
    // Ash, removed, back-dates a puppet coordinator with a device; the
    // puppet renames the space. The puppet was never a member: her rename
    // is put back too.
    let mut w = world();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    let puppet = ash
        .add_member(&w.second.0, "Puppet", Role::Coordinator, Timestamp(6))
        .unwrap();
    let device = DeviceId::random();
    ash.add_device(&puppet, &device, keys(9)).unwrap();
    let mut hers = ash.fork();
    hers.set_actor(crate::protocol::authorship::actor_for_device(&device).unwrap());
    hers.rename(&puppet, "Puppet's group").unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut hers).unwrap();
    assert_eq!(w.doc.name().unwrap(), "Puppet's group");
    let found = voided_authority(&mut w.doc, None);
    assert_eq!(found.members, vec![puppet]);
    w.doc.restore(&w.coordinator.0, &found.writes).unwrap();
    assert_eq!(w.doc.name().unwrap(), "Group");
}

#[test]
fn what_an_accomplice_did_with_a_back_dated_role_is_put_back() {
    // Ash, removed, back-dates promoting Sam; Sam, as "coordinator",
    // renames the space. Her rename is put back with her role.
    let mut w = world();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.set_role(&w.second.0, &w.member.0, Role::Coordinator)
        .unwrap();
    let mut sam = ash.fork();
    sam.set_actor(crate::protocol::authorship::actor_for_device(&w.member.1).unwrap());
    sam.rename(&w.member.0, "Sam's group").unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut sam).unwrap();
    let found = voided_authority(&mut w.doc, None);
    assert_eq!(found.roles, vec![(w.member.0.clone(), Role::Member)]);
    w.doc.restore(&w.coordinator.0, &found.writes).unwrap();
    assert_eq!(w.doc.name().unwrap(), "Group");
    // A member a void change demoted is not an accomplice: what she then
    // did stays.
    let mut w = world();
    let mut ash = w.doc.fork();
    ash.set_actor(crate::protocol::authorship::actor_for_device(&w.second.1).unwrap());
    ash.set_role(&w.second.0, &w.coordinator.0, Role::Lead)
        .unwrap();
    let mut robin = ash.fork();
    robin.set_actor(crate::protocol::authorship::actor_for_device(&w.coordinator.1).unwrap());
    let session = robin
        .create_session(&w.coordinator.0, draft("Kept", ""), Timestamp(0))
        .unwrap();
    w.doc
        .remove_member(&w.coordinator.0, &w.second.0, Timestamp(5))
        .unwrap();
    w.doc.merge(&mut robin).unwrap();
    let found = voided_authority(&mut w.doc, None);
    assert!(
        !found.writes.iter().any(|r| r.key == session.as_str()),
        "{found:?}"
    );
}

#[test]
fn a_removed_device_is_answered_by_a_new_epoch_it_gets_no_key_to() {
    let mut w = world();
    let lost = DeviceId::random();
    w.doc.add_device(&w.member.0, &lost, keys(9)).unwrap();
    assert!(key_holders(&mut w.doc).iter().any(|(d, _)| *d == lost));
    w.doc
        .remove_device(&w.member.0, &lost, Timestamp(5))
        .unwrap();
    let removal = unanswered_removal(&mut w.doc, None).unwrap();
    assert_eq!(removal.member, w.member.0);
    assert_eq!(removal.device.as_ref(), Some(&lost));
    // The member herself stays, and stays a key holder on her other device.
    assert!(w.doc.member(&w.member.0).unwrap().is_active());
    let holders: Vec<DeviceId> = key_holders(&mut w.doc)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert!(!holders.contains(&lost));
    assert!(holders.contains(&w.member.1));
    let h = handover(&mut w.doc, removal.change);
    assert!(!h.recipients.contains(&lost));
    assert!(h.missing_devices(&w.doc).is_empty());
    assert_eq!(
        check_handover(&mut w.doc, &w.coordinator.1, &h, None),
        Ok(w.member.0.clone())
    );
    assert_eq!(unanswered_removal(&mut w.doc, Some(&h.cut)), None);
}

#[test]
fn a_coordinators_stolen_phone_cannot_answer_its_own_removal() {
    // Robin's second phone is stolen; she removes it. The thief, holding
    // a coordinator's device, hands over to a key he chose: refused.
    let mut w = world();
    let stolen = DeviceId::random();
    w.doc
        .add_device(&w.coordinator.0, &stolen, keys(8))
        .unwrap();
    w.doc
        .remove_device(&w.coordinator.0, &stolen, Timestamp(5))
        .unwrap();
    let removal = unanswered_removal(&mut w.doc, None).unwrap();
    let h = handover(&mut w.doc, removal.change);
    assert_eq!(
        check_handover(&mut w.doc, &stolen, &h, None),
        Err(HandoverRefusal::NotACoordinator)
    );
    assert_eq!(
        check_handover(&mut w.doc, &w.coordinator.1, &h, None),
        Ok(w.coordinator.0.clone())
    );
}
