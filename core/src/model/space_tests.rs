//! Behaviour of the space document. Each test names the rule it proves.

use super::*;
use crate::model::{ConflictValue, SessionKind};
use crate::model::{SignUpState, TicketId};

fn draft(capacity: u32) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::SurvivorDiscussionGroup,
        title: "Peer circle".into(),
        description: "An informal circle".into(),
        starts_at: Timestamp(10_000),
        duration_minutes: 90,
        location: "shared with attendees".into(),
        capacity,
        content_notes: vec!["discusses experiences of assault".into()],
        accessibility: "step-free".into(),
    }
}

struct Fixture {
    doc: SpaceDoc,
    coordinator: MemberId,
    lead: MemberId,
    members: Vec<MemberId>,
}

fn fixture(members: usize) -> Fixture {
    let (mut doc, coordinator) = SpaceDoc::create("Tuesday group", "Robin", Timestamp(0)).unwrap();
    let lead = doc
        .add_member(&coordinator, "Ash", Role::Lead, Timestamp(1))
        .unwrap();
    let members = (0..members)
        .map(|i| {
            doc.add_member(
                &coordinator,
                &format!("member {i}"),
                Role::Member,
                Timestamp(2),
            )
            .unwrap()
        })
        .collect();
    Fixture {
        doc,
        coordinator,
        lead,
        members,
    }
}

fn tickets(n: usize) -> Vec<TicketId> {
    let mut t: Vec<TicketId> = (0..n).map(|_| TicketId::random()).collect();
    t.sort();
    t
}

/// A lead records an attendance request (what protocol::attendance does on
/// receiving one).
fn attend(doc: &mut SpaceDoc, lead: &MemberId, session: &SessionId, ticket: &TicketId, at: i64) {
    doc.record_signup(
        lead,
        session,
        ticket,
        SignUpState::Attending,
        Timestamp(at),
        "sealed",
    )
    .unwrap();
}

fn cancel(doc: &mut SpaceDoc, lead: &MemberId, session: &SessionId, ticket: &TicketId, at: i64) {
    doc.record_signup(
        lead,
        session,
        ticket,
        SignUpState::Cancelled,
        Timestamp(at),
        "sealed",
    )
    .unwrap();
}

/// A session led by the fixture's lead.
fn led_session(f: &mut Fixture, capacity: u32) -> SessionId {
    let session = f.doc.create_session(&f.lead, draft(capacity)).unwrap();
    f.doc
        .volunteer_to_lead(&f.lead, &session, Timestamp(3))
        .unwrap();
    session
}

fn sync(a: &mut SpaceDoc, b: &mut SpaceDoc) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
}

#[test]
fn creator_is_the_first_coordinator() {
    let (doc, creator) = SpaceDoc::create("Group", "Robin", Timestamp(5)).unwrap();
    let member = doc.member(&creator).unwrap();
    assert_eq!(member.role, Role::Coordinator);
    assert_eq!(member.pseudonym, "Robin");
    assert_eq!(doc.name().unwrap(), "Group");
}

#[test]
fn members_cannot_plan_sessions_but_leads_can() {
    let mut f = fixture(1);
    let err = f.doc.create_session(&f.members[0], draft(5)).unwrap_err();
    assert!(matches!(
        err,
        ModelError::NotPermitted {
            required: "lead",
            ..
        }
    ));
    f.doc.create_session(&f.lead, draft(5)).unwrap();
}

#[test]
fn strangers_can_do_nothing() {
    let mut f = fixture(0);
    let stranger = MemberId::random();
    let session = f.doc.create_session(&f.lead, draft(5)).unwrap();
    assert!(matches!(
        f.doc.volunteer_to_lead(&stranger, &session, Timestamp(1)),
        Err(ModelError::NotAMember)
    ));
    assert!(matches!(
        f.doc.create_session(&stranger, draft(5)),
        Err(ModelError::NotAMember)
    ));
}

#[test]
fn refused_write_changes_nothing() {
    let mut f = fixture(1);
    let before = f.doc.heads();
    let mut bad = draft(0);
    assert!(f.doc.create_session(&f.lead, bad.clone()).is_err());
    bad.capacity = 3;
    bad.title = "   ".into();
    assert!(f.doc.create_session(&f.lead, bad).is_err());
    assert!(
        f.doc
            .record_training(
                &f.lead,
                &f.members[0],
                TrainingModule::Signposting,
                Timestamp(0),
                Timestamp(9)
            )
            .is_err()
    );
    assert_eq!(f.doc.heads(), before);
}

#[test]
fn concurrent_offline_signups_over_capacity_converge_to_one_list_and_waitlist() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 2);
    f.doc
        .volunteer_to_lead(&f.coordinator, &session, Timestamp(3))
        .unwrap();
    let t = tickets(4);
    let mut replicas: Vec<SpaceDoc> = (0..4).map(|_| f.doc.fork()).collect();
    // Four requests recorded offline by two leads on four devices, in an
    // order that is not the order of their sign-up times.
    for (i, at) in [(0, 40), (1, 10), (2, 30), (3, 20)] {
        let lead = if i % 2 == 0 { &f.lead } else { &f.coordinator };
        attend(&mut replicas[i], lead, &session, &t[i], at);
    }
    let mut forward = f.doc.fork();
    for r in replicas.iter_mut() {
        forward.merge(r).unwrap();
    }
    let mut backward = f.doc.fork();
    for r in replicas.iter_mut().rev() {
        backward.merge(r).unwrap();
    }
    let roster = forward.roster(&session).unwrap();
    assert_eq!(roster, backward.roster(&session).unwrap());
    assert_eq!(roster.attending, vec![t[1].clone(), t[3].clone()]);
    assert_eq!(roster.waitlist, vec![t[2].clone(), t[0].clone()]);
    assert_eq!(
        forward.place(&session, &t[0]).unwrap(),
        Place::Waitlisted { position: 2 }
    );
}

#[test]
fn cancellation_promotes_the_first_waitlisted_on_every_replica() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 1);
    let t = tickets(3);
    for (i, ticket) in t.iter().enumerate() {
        attend(
            &mut f.doc,
            &f.lead.clone(),
            &session,
            ticket,
            100 + i as i64,
        );
    }
    let mut other = f.doc.fork();
    cancel(&mut f.doc, &f.lead.clone(), &session, &t[0], 200);
    sync(&mut f.doc, &mut other);
    for doc in [&f.doc, &other] {
        let roster = doc.roster(&session).unwrap();
        assert_eq!(roster.attending, vec![t[1].clone()]);
        assert_eq!(roster.waitlist, vec![t[2].clone()]);
        assert_eq!(doc.place(&session, &t[0]).unwrap(), Place::Cancelled);
        assert_eq!(
            doc.place(&session, &TicketId::random()).unwrap(),
            Place::NotSignedUp
        );
    }
}

#[test]
fn raising_capacity_promotes_from_the_waitlist_and_lowering_it_demotes_the_latest() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 1);
    let t = tickets(3);
    for (i, ticket) in t.iter().enumerate() {
        attend(
            &mut f.doc,
            &f.lead.clone(),
            &session,
            ticket,
            100 + i as i64,
        );
    }
    let edit = |capacity| SessionEdit {
        capacity: Some(capacity),
        ..Default::default()
    };
    f.doc.edit_session(&f.lead, &session, edit(2)).unwrap();
    assert_eq!(f.doc.roster(&session).unwrap().attending.len(), 2);
    f.doc.edit_session(&f.lead, &session, edit(1)).unwrap();
    let roster = f.doc.roster(&session).unwrap();
    assert_eq!(roster.attending, vec![t[0].clone()]);
    assert_eq!(roster.waitlist, vec![t[1].clone(), t[2].clone()]);
}

#[test]
fn signing_up_again_keeps_the_original_place() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 1);
    let t = tickets(2);
    let lead = f.lead.clone();
    attend(&mut f.doc, &lead, &session, &t[0], 1);
    attend(&mut f.doc, &lead, &session, &t[1], 2);
    attend(&mut f.doc, &lead, &session, &t[0], 3);
    assert_eq!(
        f.doc.roster(&session).unwrap().attending,
        vec![t[0].clone()]
    );
}

#[test]
fn re_signing_after_cancelling_joins_the_back_of_the_queue() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 1);
    let t = tickets(2);
    let lead = f.lead.clone();
    attend(&mut f.doc, &lead, &session, &t[0], 1);
    attend(&mut f.doc, &lead, &session, &t[1], 2);
    cancel(&mut f.doc, &lead, &session, &t[0], 3);
    attend(&mut f.doc, &lead, &session, &t[0], 4);
    let roster = f.doc.roster(&session).unwrap();
    assert_eq!(roster.attending, vec![t[1].clone()]);
    assert_eq!(roster.waitlist, vec![t[0].clone()]);
}

#[test]
fn cancelled_sessions_take_no_signups_or_volunteers() {
    let mut f = fixture(1);
    let session = led_session(&mut f, 3);
    f.doc
        .set_session_status(&f.lead, &session, SessionStatus::Cancelled)
        .unwrap();
    assert!(matches!(
        f.doc.record_signup(
            &f.lead,
            &session,
            &TicketId::random(),
            SignUpState::Attending,
            Timestamp(1),
            "s"
        ),
        Err(ModelError::SessionClosed("cancelled"))
    ));
    assert!(matches!(
        f.doc
            .volunteer_to_lead(&f.members[0], &session, Timestamp(1)),
        Err(ModelError::SessionClosed("cancelled"))
    ));
}

#[test]
fn only_the_sessions_leads_record_signups() {
    let mut f = fixture(1);
    let session = f.doc.create_session(&f.lead, draft(3)).unwrap();
    let ticket = TicketId::random();
    // Not even the coordinator, unless they lead this session: whoever
    // records a sign-up is visible to all, and the names are sealed to leads.
    for who in [&f.coordinator, &f.lead, &f.members[0]] {
        assert!(matches!(
            f.doc.record_signup(
                who,
                &session,
                &ticket,
                SignUpState::Attending,
                Timestamp(1),
                "s"
            ),
            Err(ModelError::NotPermitted { .. })
        ));
    }
    f.doc
        .volunteer_to_lead(&f.members[0], &session, Timestamp(2))
        .unwrap();
    f.doc
        .record_signup(
            &f.members[0],
            &session,
            &ticket,
            SignUpState::Attending,
            Timestamp(3),
            "s",
        )
        .unwrap();
    assert!(f.doc.is_session_lead(&session, &f.members[0]).unwrap());
    assert_eq!(
        f.doc.signup(&session, &ticket).unwrap().unwrap().sealed,
        "s"
    );
}

#[test]
fn volunteer_is_cleared_only_with_both_current_training_records() {
    let mut f = fixture(1);
    let session = f.doc.create_session(&f.lead, draft(3)).unwrap();
    let volunteer = f.members[0].clone();
    f.doc
        .volunteer_to_lead(&volunteer, &session, Timestamp(5))
        .unwrap();
    let leads = f.doc.session_leads(&session, Timestamp(50)).unwrap();
    assert_eq!(leads.len(), 1);
    assert!(!leads[0].clearance.cleared);
    assert_eq!(leads[0].clearance.missing.len(), 2);

    f.doc
        .record_training(
            &f.coordinator,
            &volunteer,
            TrainingModule::Signposting,
            Timestamp(0),
            Timestamp(100),
        )
        .unwrap();
    assert!(!f.doc.clearance(&volunteer, Timestamp(50)).unwrap().cleared);
    f.doc
        .record_training(
            &f.coordinator,
            &volunteer,
            TrainingModule::TraumaInformed,
            Timestamp(0),
            Timestamp(80),
        )
        .unwrap();
    let clearance = f.doc.clearance(&volunteer, Timestamp(50)).unwrap();
    assert!(clearance.cleared);
    assert_eq!(clearance.valid_until, Some(Timestamp(80)));
    // Expired training means not cleared: nothing stored needs to change.
    assert!(!f.doc.clearance(&volunteer, Timestamp(80)).unwrap().cleared);
    assert!(
        !f.doc.session_leads(&session, Timestamp(90)).unwrap()[0]
            .clearance
            .cleared
    );
}

#[test]
fn only_coordinators_record_training() {
    let mut f = fixture(1);
    let err = f
        .doc
        .record_training(
            &f.lead,
            &f.members[0],
            TrainingModule::Signposting,
            Timestamp(0),
            Timestamp(9),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::NotPermitted {
            required: "coordinator",
            ..
        }
    ));
    assert!(
        f.doc
            .record_training(
                &f.coordinator,
                &f.members[0],
                TrainingModule::Signposting,
                Timestamp(9),
                Timestamp(9)
            )
            .is_err()
    );
}

#[test]
fn removing_a_mistaken_training_record_removes_clearance() {
    let mut f = fixture(1);
    let m = f.members[0].clone();
    let a = f
        .doc
        .record_training(
            &f.coordinator,
            &m,
            TrainingModule::Signposting,
            Timestamp(0),
            Timestamp(100),
        )
        .unwrap();
    f.doc
        .record_training(
            &f.coordinator,
            &m,
            TrainingModule::TraumaInformed,
            Timestamp(0),
            Timestamp(100),
        )
        .unwrap();
    assert!(f.doc.clearance(&m, Timestamp(1)).unwrap().cleared);
    f.doc.remove_training_record(&f.coordinator, &a).unwrap();
    assert!(!f.doc.clearance(&m, Timestamp(1)).unwrap().cleared);
}

#[test]
fn a_member_can_withdraw_their_offer_to_lead() {
    let mut f = fixture(2);
    let session = f.doc.create_session(&f.lead, draft(3)).unwrap();
    f.doc
        .volunteer_to_lead(&f.members[0], &session, Timestamp(1))
        .unwrap();
    assert!(
        f.doc
            .withdraw_as_lead(&f.members[1], &session, &f.members[0])
            .is_err()
    );
    f.doc
        .withdraw_as_lead(&f.members[0], &session, &f.members[0])
        .unwrap();
    assert!(
        f.doc
            .session_leads(&session, Timestamp(1))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn concurrent_edits_to_the_start_time_are_exposed_not_lost() {
    let mut f = fixture(0);
    let session = f.doc.create_session(&f.lead, draft(3)).unwrap();
    let mut other = f.doc.fork();
    let at = |t| SessionEdit {
        starts_at: Some(Timestamp(t)),
        ..Default::default()
    };
    f.doc.edit_session(&f.lead, &session, at(18_000)).unwrap();
    other
        .edit_session(&f.coordinator, &session, at(19_000))
        .unwrap();
    sync(&mut f.doc, &mut other);

    let conflicts = f.doc.session_conflicts(&session).unwrap();
    assert_eq!(conflicts, other.session_conflicts(&session).unwrap());
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].field, "starts_at");
    let mut values = conflicts[0].values.clone();
    values.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        values,
        vec![
            ConflictValue::Integer(18_000),
            ConflictValue::Integer(19_000)
        ]
    );
    // The shown value is listed first and is what the session reads as.
    let shown = f.doc.session(&session).unwrap().starts_at;
    assert_eq!(conflicts[0].values[0], ConflictValue::Integer(shown.0));

    // Choosing a value resolves the conflict everywhere.
    f.doc.edit_session(&f.lead, &session, at(19_000)).unwrap();
    sync(&mut f.doc, &mut other);
    assert!(f.doc.session_conflicts(&session).unwrap().is_empty());
    assert!(other.session_conflicts(&session).unwrap().is_empty());
    assert_eq!(
        other.session(&session).unwrap().starts_at,
        Timestamp(19_000)
    );
}

#[test]
fn concurrent_edits_to_different_fields_both_survive() {
    let mut f = fixture(0);
    let session = f.doc.create_session(&f.lead, draft(3)).unwrap();
    let mut other = f.doc.fork();
    f.doc
        .edit_session(
            &f.lead,
            &session,
            SessionEdit {
                title: Some("Art and chat".into()),
                ..Default::default()
            },
        )
        .unwrap();
    other
        .edit_session(
            &f.coordinator,
            &session,
            SessionEdit {
                location: Some("Room 4".into()),
                ..Default::default()
            },
        )
        .unwrap();
    sync(&mut f.doc, &mut other);
    let s = f.doc.session(&session).unwrap();
    assert_eq!(
        (s.title.as_str(), s.location.as_str()),
        ("Art and chat", "Room 4")
    );
    assert!(f.doc.session_conflicts(&session).unwrap().is_empty());
}

#[test]
fn signposting_directory_lists_crisis_lines_first_and_filters_by_category() {
    let mut f = fixture(1);
    let resource = |category, name: &str| Resource {
        category,
        name: name.into(),
        contact: "0808 000 0000".into(),
        hours: "24/7".into(),
        notes: String::new(),
    };
    f.doc
        .add_resource(
            &f.lead,
            resource(ResourceCategory::University, "Student welfare"),
        )
        .unwrap();
    f.doc
        .add_resource(
            &f.lead,
            resource(ResourceCategory::CrisisLine, "Rape crisis line"),
        )
        .unwrap();
    assert!(
        f.doc
            .add_resource(&f.members[0], resource(ResourceCategory::Legal, "x"))
            .is_err()
    );
    let all = f.doc.resources(None).unwrap();
    assert_eq!(all[0].1.name, "Rape crisis line");
    let welfare = f.doc.resources(Some(ResourceCategory::University)).unwrap();
    assert_eq!(welfare.len(), 1);
    let id = welfare[0].0.clone();
    let mut edited = welfare[0].1.clone();
    edited.hours = "Mon-Fri 9-5".into();
    f.doc.edit_resource(&f.lead, &id, edited).unwrap();
    assert_eq!(
        f.doc.resources(Some(ResourceCategory::University)).unwrap()[0]
            .1
            .hours,
        "Mon-Fri 9-5"
    );
    f.doc.remove_resource(&f.lead, &id).unwrap();
    assert_eq!(f.doc.resources(None).unwrap().len(), 1);
}

#[test]
fn removed_members_can_do_nothing() {
    let mut f = fixture(2);
    let session = f.doc.create_session(&f.lead, draft(1)).unwrap();
    f.doc
        .volunteer_to_lead(&f.members[0], &session, Timestamp(1))
        .unwrap();
    f.doc
        .remove_member(&f.coordinator, &f.members[0], Timestamp(3))
        .unwrap();
    assert!(!f.doc.is_session_lead(&session, &f.members[0]).unwrap());
    assert!(
        f.doc
            .session_leads(&session, Timestamp(4))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        f.doc
            .volunteer_to_lead(&f.members[0], &session, Timestamp(4)),
        Err(ModelError::NotAMember)
    ));
}

#[test]
fn members_can_leave_but_the_last_coordinator_cannot() {
    let mut f = fixture(1);
    f.doc
        .remove_member(&f.members[0], &f.members[0], Timestamp(3))
        .unwrap();
    assert!(!f.doc.member(&f.members[0]).unwrap().is_active());
    assert!(matches!(
        f.doc
            .remove_member(&f.coordinator, &f.coordinator, Timestamp(3)),
        Err(ModelError::LastCoordinator)
    ));
    assert!(matches!(
        f.doc.set_role(&f.coordinator, &f.coordinator, Role::Member),
        Err(ModelError::LastCoordinator)
    ));
    f.doc
        .set_role(&f.coordinator, &f.lead, Role::Coordinator)
        .unwrap();
    f.doc
        .remove_member(&f.coordinator, &f.coordinator, Timestamp(4))
        .unwrap();
}

#[test]
fn devices_are_recorded_for_their_member() {
    let mut f = fixture(1);
    let device = DeviceId::random();
    let keys = DeviceKeys {
        age_recipient: "age1example".into(),
        signing_key: "00".repeat(32),
        binding: None,
    };
    f.doc
        .add_device(&f.members[0], &device, keys.clone())
        .unwrap();
    assert_eq!(
        f.doc.member(&f.members[0]).unwrap().devices.get(&device),
        Some(&keys)
    );
}

#[test]
fn save_and_load_round_trip() {
    let mut f = fixture(2);
    let session = led_session(&mut f, 1);
    attend(
        &mut f.doc,
        &f.lead.clone(),
        &session,
        &TicketId::random(),
        1,
    );
    let bytes = f.doc.save();
    let loaded = SpaceDoc::load(&bytes).unwrap();
    assert_eq!(loaded.sessions().unwrap(), f.doc.sessions().unwrap());
    assert_eq!(loaded.members().unwrap(), f.doc.members().unwrap());
}

#[test]
fn changes_applied_in_any_order_converge() {
    let mut f = fixture(2);
    let base_bytes = f.doc.save();
    let base = f.doc.heads();
    let session = led_session(&mut f, 1);
    let lead = f.lead.clone();
    attend(&mut f.doc, &lead, &session, &TicketId::random(), 1);
    attend(&mut f.doc, &lead, &session, &TicketId::random(), 2);
    let mut changes = f.doc.changes_since(&base);
    assert!(changes.len() >= 4);
    changes.reverse();
    // A replica at the base, receiving the changes newest first.
    let mut late = SpaceDoc::load(&base_bytes).unwrap();
    late.apply_changes(&changes).unwrap();
    assert_eq!(late.heads(), f.doc.heads());
    assert_eq!(
        late.roster(&session).unwrap(),
        f.doc.roster(&session).unwrap()
    );
}

#[test]
fn garbage_bytes_and_other_documents_are_refused() {
    assert!(matches!(
        SpaceDoc::load(b"definitely not automerge"),
        Err(ModelError::InvalidDocument { .. })
    ));
    let mut journal = crate::model::JournalDoc::new();
    assert!(matches!(
        SpaceDoc::load(&journal.save()),
        Err(ModelError::InvalidDocument { .. })
    ));
    let mut plain = AutoCommit::new();
    plain.put(ROOT, "kind", "safespaces.space").unwrap();
    plain.put(ROOT, "schema", 99u64).unwrap();
    assert!(matches!(
        SpaceDoc::load(&plain.save()),
        Err(ModelError::UnsupportedSchema { found: 99, .. })
    ));
    let mut f = fixture(0);
    let before = f.doc.heads();
    assert!(f.doc.apply_changes(&[b"bogus".to_vec()]).is_err());
    assert_eq!(f.doc.heads(), before);
}

#[test]
fn a_malformed_session_from_another_device_does_not_hide_the_others() {
    let mut f = fixture(0);
    let good = f.doc.create_session(&f.lead, draft(3)).unwrap();
    let sessions = child_map(&f.doc.doc, &ROOT, SESSIONS).unwrap();
    f.doc
        .doc
        .put(&sessions, "0000000000000000", "not a session")
        .unwrap();
    f.doc.doc.commit();
    let listed = f.doc.sessions().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, good);
    assert!(
        f.doc
            .session(&SessionId::parse("0000000000000000").unwrap())
            .is_err()
    );
}
