//! Behaviour of the space document. Each test names the rule it proves.

use automerge::{AutoCommit, ROOT, transaction::Transactable};

use super::doc::{SESSIONS, SpaceDoc};
use crate::model::conflict::ConflictValue;
use crate::model::document::child_map;
use crate::model::error::{ModelError, ModelResult};
use crate::model::ids::{DeviceId, MemberId, SessionId, TicketId};
use crate::model::member::{DeviceKeys, Role};
use crate::model::series::SeriesRule;
use crate::model::session::{LeadState, SessionDraft, SessionEdit, SessionKind, SessionStatus};
use crate::model::signposting::{Resource, ResourceCategory};
use crate::model::time::Timestamp;
use crate::model::training::TrainingModule;
use crate::model::waitlist::{Place, SignUp, SignUpState};
use crate::model::zone::SpaceZone;

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
        signups_close_before_minutes: None,
    }
}

struct Fixture {
    doc: SpaceDoc,
    coordinator: MemberId,
    lead: MemberId,
    members: Vec<MemberId>,
}

/// Both training modules for `who`, current from 0 to far in the future.
fn clear(doc: &mut SpaceDoc, coordinator: &MemberId, who: &MemberId) {
    for module in TrainingModule::ALL {
        doc.record_training(coordinator, who, module, Timestamp(0), Timestamp(1_000_000))
            .unwrap();
    }
}

fn fixture(members: usize) -> Fixture {
    let (mut doc, coordinator) = SpaceDoc::create("Tuesday group", "Robin", Timestamp(0)).unwrap();
    let lead = doc
        .add_member(&coordinator, "Ash", Role::Lead, Timestamp(1))
        .unwrap();
    clear(&mut doc, &coordinator, &coordinator);
    clear(&mut doc, &coordinator, &lead);
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

/// A statement as a lead records it, newer than the ticket's last. The
/// model stores what it is given; the signature is checked by every device
/// on receipt (protocol::session_rules), not here.
fn statement(
    doc: &SpaceDoc,
    session: &SessionId,
    ticket: &TicketId,
    state: SignUpState,
    at: i64,
    sealed: &str,
) -> SignUp {
    let counter = doc
        .signup(session, ticket)
        .unwrap()
        .map_or(0, |s| s.counter)
        + 1;
    SignUp {
        state,
        at: Timestamp(at),
        recorded_at: Timestamp(at),
        counter,
        key: String::new(),
        signature: String::new(),
        sealed: sealed.into(),
        freed: false,
    }
}

fn record(
    doc: &mut SpaceDoc,
    lead: &MemberId,
    session: &SessionId,
    ticket: &TicketId,
    state: SignUpState,
    at: i64,
) -> ModelResult<()> {
    let signup = statement(doc, session, ticket, state, at, "sealed");
    doc.record_signup(lead, session, ticket, &signup)
}

/// A lead records an attendance request (what protocol::attendance does on
/// receiving one).
fn attend(doc: &mut SpaceDoc, lead: &MemberId, session: &SessionId, ticket: &TicketId, at: i64) {
    record(doc, lead, session, ticket, SignUpState::Attending, at).unwrap();
}

fn cancel(doc: &mut SpaceDoc, lead: &MemberId, session: &SessionId, ticket: &TicketId, at: i64) {
    record(doc, lead, session, ticket, SignUpState::Cancelled, at).unwrap();
}

/// A session led by the fixture's lead, accepted by the coordinator.
fn led_session(f: &mut Fixture, capacity: u32) -> SessionId {
    let session = f
        .doc
        .create_session(&f.lead, draft(capacity), Timestamp(0))
        .unwrap();
    f.doc
        .volunteer_to_lead(&f.lead, &session, Timestamp(3))
        .unwrap();
    f.doc
        .decide_lead(&f.coordinator, &session, &f.lead, true, Timestamp(3))
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
    let err = f
        .doc
        .create_session(&f.members[0], draft(5), Timestamp(0))
        .unwrap_err();
    assert!(matches!(
        err,
        ModelError::NotPermitted {
            required: "lead",
            ..
        }
    ));
    f.doc
        .create_session(&f.lead, draft(5), Timestamp(0))
        .unwrap();
}

#[test]
fn strangers_can_do_nothing() {
    let mut f = fixture(0);
    let stranger = MemberId::random();
    let session = f
        .doc
        .create_session(&f.lead, draft(5), Timestamp(0))
        .unwrap();
    assert!(matches!(
        f.doc.volunteer_to_lead(&stranger, &session, Timestamp(1)),
        Err(ModelError::NotAMember)
    ));
    assert!(matches!(
        f.doc.create_session(&stranger, draft(5), Timestamp(0)),
        Err(ModelError::NotAMember)
    ));
}

#[test]
fn refused_write_changes_nothing() {
    let mut f = fixture(1);
    let before = f.doc.heads();
    let mut bad = draft(0);
    assert!(
        f.doc
            .create_session(&f.lead, bad.clone(), Timestamp(0))
            .is_err()
    );
    bad.capacity = 3;
    bad.title = "   ".into();
    assert!(f.doc.create_session(&f.lead, bad, Timestamp(0)).is_err());
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
        record(
            &mut f.doc,
            &f.lead,
            &session,
            &TicketId::random(),
            SignUpState::Attending,
            1
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
fn only_accepted_leads_cleared_at_the_start_record_signups() {
    let mut f = fixture(1);
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
    let ticket = TicketId::random();
    let volunteer = f.members[0].clone();
    // Not even the coordinator, unless they lead this session: whoever
    // records a sign-up is visible to all, and the names are sealed to leads.
    for who in [&f.coordinator, &f.lead, &volunteer] {
        assert!(matches!(
            record(
                &mut f.doc,
                who,
                &session,
                &ticket,
                SignUpState::Attending,
                1
            ),
            Err(ModelError::NotPermitted { .. })
        ));
    }
    // An offer is not enough, nor acceptance without clearance at the start.
    f.doc
        .volunteer_to_lead(&volunteer, &session, Timestamp(2))
        .unwrap();
    assert!(!f.doc.is_session_lead(&session, &volunteer).unwrap());
    f.doc
        .decide_lead(&f.coordinator, &session, &volunteer, true, Timestamp(2))
        .unwrap();
    assert!(!f.doc.is_session_lead(&session, &volunteer).unwrap());
    // Training that lapses before the session starts (at 10,000) does not count.
    for module in TrainingModule::ALL {
        f.doc
            .record_training(
                &f.coordinator,
                &volunteer,
                module,
                Timestamp(0),
                Timestamp(9_000),
            )
            .unwrap();
    }
    assert!(!f.doc.is_session_lead(&session, &volunteer).unwrap());
    clear(&mut f.doc, &f.coordinator.clone(), &volunteer);
    record(
        &mut f.doc,
        &volunteer,
        &session,
        &ticket,
        SignUpState::Attending,
        3,
    )
    .unwrap();
    assert!(f.doc.is_session_lead(&session, &volunteer).unwrap());
    assert_eq!(
        f.doc.signup(&session, &ticket).unwrap().unwrap().sealed,
        "sealed"
    );
    // An older statement than the one recorded is refused.
    let mut stale = statement(
        &f.doc,
        &session,
        &ticket,
        SignUpState::Cancelled,
        4,
        "sealed",
    );
    stale.counter = 1;
    assert!(
        f.doc
            .record_signup(&volunteer, &session, &ticket, &stale)
            .is_err()
    );
}

#[test]
fn offers_are_accepted_or_declined_by_a_coordinator_or_an_accepted_lead() {
    let mut f = fixture(3);
    let session = led_session(&mut f, 3);
    let (a, b, c) = (
        f.members[0].clone(),
        f.members[1].clone(),
        f.members[2].clone(),
    );
    f.doc.volunteer_to_lead(&a, &session, Timestamp(4)).unwrap();
    f.doc.volunteer_to_lead(&b, &session, Timestamp(4)).unwrap();
    let state = |doc: &SpaceDoc, who: &MemberId| {
        doc.session_leads(&session, Timestamp(5))
            .unwrap()
            .into_iter()
            .find(|l| &l.member == who)
            .map(|l| l.state)
    };
    assert_eq!(state(&f.doc, &a), Some(LeadState::Offered));
    // Another offerer cannot decide, nor can the offerer herself.
    assert!(
        f.doc
            .decide_lead(&b, &session, &a, true, Timestamp(5))
            .is_err()
    );
    assert!(
        f.doc
            .decide_lead(&a, &session, &a, true, Timestamp(5))
            .is_err()
    );
    // The session's accepted lead can.
    f.doc
        .decide_lead(&f.lead, &session, &a, true, Timestamp(5))
        .unwrap();
    f.doc
        .decide_lead(&f.coordinator, &session, &b, false, Timestamp(5))
        .unwrap();
    assert_eq!(state(&f.doc, &a), Some(LeadState::Accepted));
    assert_eq!(state(&f.doc, &b), Some(LeadState::Declined));
    // Offering again after a decline re-opens the offer.
    f.doc.volunteer_to_lead(&b, &session, Timestamp(6)).unwrap();
    assert_eq!(state(&f.doc, &b), Some(LeadState::Offered));
    // A coordinator names a cover lead, accepted at once; she can withdraw.
    f.doc
        .name_lead(&f.coordinator, &session, &c, Timestamp(7))
        .unwrap();
    assert_eq!(state(&f.doc, &c), Some(LeadState::Accepted));
    f.doc.withdraw_as_lead(&c, &session, &c).unwrap();
    assert_eq!(state(&f.doc, &c), None);
    // An accepted lead stands another down; an offerer cannot.
    assert!(f.doc.withdraw_as_lead(&b, &session, &a).is_err());
    f.doc.withdraw_as_lead(&f.lead, &session, &a).unwrap();
    assert_eq!(state(&f.doc, &a), None);
}

#[test]
fn a_coordinators_own_offer_is_accepted_at_once() {
    let mut f = fixture(0);
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
    f.doc
        .volunteer_to_lead(&f.coordinator, &session, Timestamp(1))
        .unwrap();
    assert!(f.doc.is_session_lead(&session, &f.coordinator).unwrap());
}

#[test]
fn the_queue_time_is_clamped_between_creation_and_first_recording() {
    let mut f = fixture(0);
    let session = f
        .doc
        .create_session(&f.lead, draft(1), Timestamp(100))
        .unwrap();
    f.doc
        .volunteer_to_lead(&f.coordinator, &session, Timestamp(100))
        .unwrap();
    let (early, honest) = (TicketId::random(), TicketId::random());
    // A clock set to 1970 buys no place before the session existed; an
    // honest sign-up at creation time then comes first by ticket order at
    // worst, never behind.
    let mut back_dated = statement(&f.doc, &session, &early, SignUpState::Attending, 5, "s");
    back_dated.recorded_at = Timestamp(300);
    f.doc
        .record_signup(&f.coordinator, &session, &early, &back_dated)
        .unwrap();
    assert_eq!(back_dated.queue_time(Timestamp(100)), Timestamp(100));
    // A clock in the future costs no place it had when a lead saw it.
    let mut future = statement(
        &f.doc,
        &session,
        &honest,
        SignUpState::Attending,
        9_999,
        "s",
    );
    future.recorded_at = Timestamp(150);
    f.doc
        .record_signup(&f.coordinator, &session, &honest, &future)
        .unwrap();
    assert_eq!(future.queue_time(Timestamp(100)), Timestamp(150));
    let roster = f.doc.roster(&session).unwrap();
    assert_eq!(roster.attending, vec![early]);
    assert_eq!(roster.waitlist, vec![honest]);
}

#[test]
fn an_older_statement_is_refused_and_the_newest_stands() {
    let mut f = fixture(0);
    let session = led_session(&mut f, 3);
    f.doc
        .volunteer_to_lead(&f.coordinator, &session, Timestamp(3))
        .unwrap();
    let ticket = TicketId::random();
    attend(&mut f.doc, &f.lead, &session, &ticket, 10);
    let mut other = f.doc.fork();
    // One lead records the cancellation; the other, offline, the same
    // attending statement again (its counter is already there).
    cancel(&mut f.doc, &f.lead, &session, &ticket, 20);
    let again = statement(
        &other,
        &session,
        &ticket,
        SignUpState::Attending,
        10,
        "other",
    );
    let mut replay = again.clone();
    replay.counter = 1;
    assert!(
        other
            .record_signup(&f.coordinator, &session, &ticket, &replay)
            .is_err()
    );
    sync(&mut f.doc, &mut other);
    assert_eq!(f.doc.place(&session, &ticket).unwrap(), Place::Cancelled);
    assert_eq!(
        f.doc.roster(&session).unwrap(),
        other.roster(&session).unwrap()
    );
}

#[test]
fn volunteer_is_cleared_only_with_both_current_training_records() {
    let mut f = fixture(1);
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
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
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
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
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
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
    let session = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
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
    let session = f
        .doc
        .create_session(&f.lead, draft(1), Timestamp(0))
        .unwrap();
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
    let good = f
        .doc
        .create_session(&f.lead, draft(3), Timestamp(0))
        .unwrap();
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

fn london(doc: &mut SpaceDoc, coordinator: &MemberId) -> SpaceZone {
    let zone = SpaceZone::parse("Europe/London").unwrap();
    doc.set_time_zone(coordinator, &zone).unwrap();
    zone
}

#[test]
fn a_weekly_series_is_ten_sessions_at_six_in_the_evening_local_time() {
    let mut f = fixture(0);
    let zone = london(&mut f.doc, &f.coordinator);
    assert_eq!(f.doc.time_zone(), zone);
    let mut term = draft(8);
    term.starts_at = zone.parse_local("2027-03-02 18:00").unwrap();
    let rule = SeriesRule {
        every_weeks: 1,
        end: crate::model::SeriesEnd::Count(10),
    };
    let (series, ids) = f
        .doc
        .create_series(&f.lead, term, rule, Timestamp(5))
        .unwrap();
    let sessions = f.doc.series_sessions(&series).unwrap();
    assert_eq!(sessions.len(), 10);
    assert_eq!(
        sessions
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    for (i, (_, s)) in sessions.iter().enumerate() {
        assert_eq!(s.occurrence, Some(i as u32));
        assert_eq!(zone.local(s.starts_at).time().hour(), 18, "{i}");
        assert_eq!(s.signups.len(), 0);
    }
    // The clock change on 28 March falls between the fourth and fifth.
    assert!(zone.show(sessions[3].1.starts_at).ends_with("GMT"));
    assert!(zone.show(sessions[4].1.starts_at).ends_with("BST"));
    // A member plans nothing; a lead cannot change the zone.
    let rule1 = SeriesRule {
        every_weeks: 1,
        end: crate::model::SeriesEnd::Count(2),
    };
    let member = f.members_or_new();
    assert!(
        f.doc
            .create_series(&member, draft(1), rule1, Timestamp(5))
            .is_err()
    );
    assert!(f.doc.set_time_zone(&f.lead, &SpaceZone::utc()).is_err());
}

impl Fixture {
    fn members_or_new(&mut self) -> MemberId {
        match self.members.first() {
            Some(m) => m.clone(),
            None => self
                .doc
                .add_member(&self.coordinator, "Kit", Role::Member, Timestamp(3))
                .unwrap(),
        }
    }
}

#[test]
fn this_and_following_edits_and_cancels_only_later_occurrences() {
    let mut f = fixture(0);
    let zone = london(&mut f.doc, &f.coordinator);
    let mut term = draft(8);
    term.starts_at = zone.parse_local("2027-03-02 18:00").unwrap();
    let rule = SeriesRule {
        every_weeks: 1,
        end: crate::model::SeriesEnd::Count(6),
    };
    let (series, ids) = f
        .doc
        .create_series(&f.lead, term, rule, Timestamp(5))
        .unwrap();
    // From the third: Wednesdays at 18:30, in room 2.
    let edit = SessionEdit {
        location: Some("room 2".into()),
        starts_at: Some(zone.parse_local("2027-03-17 18:30").unwrap()),
        ..Default::default()
    };
    let edited = f.doc.edit_series_from(&f.lead, &ids[2], edit).unwrap();
    assert_eq!(edited, ids[2..].to_vec());
    f.doc.cancel_series_from(&f.lead, &ids[4]).unwrap();
    let sessions = f.doc.series_sessions(&series).unwrap();
    let shown: Vec<String> = sessions
        .iter()
        .map(|(_, s)| {
            format!(
                "{} {} {}",
                zone.show(s.starts_at),
                s.location,
                s.status.as_str()
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "Tue 2 Mar 2027 18:00 GMT shared with attendees planned",
            "Tue 9 Mar 2027 18:00 GMT shared with attendees planned",
            "Wed 17 Mar 2027 18:30 GMT room 2 planned",
            "Wed 24 Mar 2027 18:30 GMT room 2 planned",
            "Wed 31 Mar 2027 18:30 BST room 2 cancelled",
            "Wed 7 Apr 2027 18:30 BST room 2 cancelled",
        ]
    );
    // A cancelled occurrence is reinstated on its own.
    f.doc
        .set_session_status(&f.lead, &ids[5], SessionStatus::Planned)
        .unwrap();
    assert_eq!(
        f.doc.session(&ids[5]).unwrap().status,
        SessionStatus::Planned
    );
    assert_eq!(
        f.doc.session(&ids[4]).unwrap().status,
        SessionStatus::Cancelled
    );
}

#[test]
fn two_devices_editing_a_series_offline_converge_without_duplicates() {
    let mut f = fixture(0);
    let zone = london(&mut f.doc, &f.coordinator);
    let mut term = draft(8);
    term.starts_at = zone.parse_local("2027-03-02 18:00").unwrap();
    let rule = SeriesRule {
        every_weeks: 2,
        end: crate::model::SeriesEnd::Until(zone.parse_date("2027-05-25").unwrap()),
    };
    let (series, ids) = f
        .doc
        .create_series(&f.lead, term, rule, Timestamp(5))
        .unwrap();
    assert_eq!(ids.len(), 7);
    let mut a = f.doc.fork();
    let mut b = f.doc.fork();
    a.edit_series_from(
        &f.lead,
        &ids[1],
        SessionEdit {
            title: Some("Circle (new room)".into()),
            ..Default::default()
        },
    )
    .unwrap();
    b.cancel_series_from(&f.coordinator, &ids[5]).unwrap();
    b.edit_session(
        &f.coordinator,
        &ids[3],
        SessionEdit {
            capacity: Some(12),
            ..Default::default()
        },
    )
    .unwrap();
    b.volunteer_to_lead(&f.coordinator, &ids[3], Timestamp(6))
        .unwrap();
    let mut a2 = a.fork();
    a2.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    for doc in [&a2, &b] {
        let sessions = doc.series_sessions(&series).unwrap();
        assert_eq!(sessions.len(), 7);
        assert_eq!(doc.sessions().unwrap().len(), 7);
        let titles: Vec<&str> = sessions.iter().map(|(_, s)| s.title.as_str()).collect();
        assert_eq!(titles[0], "Peer circle");
        assert!(titles[1..].iter().all(|t| *t == "Circle (new room)"));
        assert_eq!(sessions[3].1.capacity, 12);
        assert!(sessions[3].1.leads.contains_key(&f.coordinator));
        let cancelled: Vec<bool> = sessions
            .iter()
            .map(|(_, s)| s.status == SessionStatus::Cancelled)
            .collect();
        assert_eq!(cancelled, [false, false, false, false, false, true, true]);
    }
}

/// What a freshly loaded copy of `doc` (which remembers nothing) says
/// `member` leads.
fn led_from_scratch(doc: &mut SpaceDoc, member: &MemberId) -> Vec<SessionId> {
    SpaceDoc::load(&doc.save())
        .unwrap()
        .sessions_led_by(member)
        .unwrap()
}

#[test]
fn who_leads_what_stays_true_across_writes_that_reach_one_session() {
    let mut f = fixture(1);
    let (lead, coordinator) = (f.lead.clone(), f.coordinator.clone());
    let first = led_session(&mut f, 4);
    let check = |doc: &mut SpaceDoc, step: &str| {
        let remembered = doc.sessions_led_by(&lead).unwrap();
        assert_eq!(remembered, led_from_scratch(doc, &lead), "after {step}");
        remembered.len()
    };
    assert_eq!(check(&mut f.doc, "the first session"), 1);
    // A session nobody leads yet, then the lead taken on for it.
    let second = f
        .doc
        .create_session(&coordinator, draft(4), Timestamp(5))
        .unwrap();
    assert_eq!(check(&mut f.doc, "a session nobody leads"), 1);
    f.doc
        .volunteer_to_lead(&lead, &second, Timestamp(6))
        .unwrap();
    assert_eq!(check(&mut f.doc, "an offer not yet accepted"), 1);
    f.doc
        .decide_lead(&coordinator, &second, &lead, true, Timestamp(7))
        .unwrap();
    assert_eq!(check(&mut f.doc, "the offer accepted"), 2);
    // Standing down from the first: gone from the answer.
    f.doc.withdraw_as_lead(&lead, &first, &lead).unwrap();
    assert_eq!(check(&mut f.doc, "standing down"), 1);
    // Training lapsing is a write outside the sessions: who leads what is
    // read again, not kept.
    let records: Vec<_> = f
        .doc
        .training_records()
        .unwrap()
        .into_iter()
        .filter(|(_, r)| r.member == lead)
        .map(|(id, _)| id)
        .collect();
    for record in records {
        f.doc.remove_training_record(&coordinator, &record).unwrap();
    }
    assert_eq!(check(&mut f.doc, "training removed"), 0);
}

#[test]
fn signups_under_changed_reads_only_sessions_changed_since_the_last_look() {
    let mut f = fixture(1);
    let lead = f.lead.clone();
    let one = led_session(&mut f, 4);
    let two = led_session(&mut f, 4);
    let ticket = TicketId::random();
    attend(&mut f.doc, &lead, &one, &ticket, 10);
    attend(&mut f.doc, &lead, &two, &ticket, 10);
    let ids =
        |found: Vec<(SessionId, SignUp)>| found.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    // The first look, after loading, reads every session.
    let mut all = vec![one.clone(), two.clone()];
    all.sort();
    assert_eq!(
        ids(f.doc.signups_under_changed(|_| ticket.clone()).unwrap()),
        all
    );
    assert!(
        f.doc
            .signups_under_changed(|_| ticket.clone())
            .unwrap()
            .is_empty(),
        "nothing changed"
    );
    cancel(&mut f.doc, &lead, &two, &ticket, 11);
    let changed = f.doc.signups_under_changed(|_| ticket.clone()).unwrap();
    assert_eq!(
        ids(changed.clone()),
        vec![two.clone()],
        "only the session written"
    );
    assert_eq!(changed[0].1.state, SignUpState::Cancelled);
    // A merge's reach is not known: every session again.
    let mut other = f.doc.fork();
    other
        .create_session(&lead, draft(2), Timestamp(12))
        .unwrap();
    f.doc.merge(&mut other).unwrap();
    assert_eq!(
        ids(f.doc.signups_under_changed(|_| ticket.clone()).unwrap()),
        all
    );
}

#[test]
fn a_members_standing_is_read_again_after_a_write_or_a_receive_that_changes_it() {
    let mut f = fixture(1);
    let (lead, coordinator) = (f.lead.clone(), f.coordinator.clone());
    // Remembered by the role check of the lead's own write.
    f.doc.create_session(&lead, draft(4), Timestamp(5)).unwrap();
    assert_eq!(f.doc.member(&lead).unwrap().role, Role::Lead);
    // A local write to the member list: the next check reads it again.
    f.doc.set_role(&coordinator, &lead, Role::Member).unwrap();
    assert_eq!(f.doc.member(&lead).unwrap().role, Role::Member);
    assert!(matches!(
        f.doc.create_session(&lead, draft(4), Timestamp(6)),
        Err(ModelError::NotPermitted { .. })
    ));
    f.doc.set_role(&coordinator, &lead, Role::Lead).unwrap();
    f.doc.create_session(&lead, draft(4), Timestamp(7)).unwrap();
    // A removal made on another replica and received: read again too.
    let mut other = f.doc.fork();
    let before = other.heads();
    other
        .remove_member(&coordinator, &lead, Timestamp(8))
        .unwrap();
    let removal = other.changes_since(&before);
    f.doc.apply_changes(&removal).unwrap();
    assert!(f.doc.member(&lead).unwrap().removed_at.is_some());
    assert!(f.doc.create_session(&lead, draft(4), Timestamp(9)).is_err());
    // And writes that reach only sessions keep the answer, unchanged.
    let after = f.doc.member(&coordinator).unwrap();
    f.doc
        .create_session(&coordinator, draft(4), Timestamp(10))
        .unwrap();
    assert_eq!(f.doc.member(&coordinator).unwrap(), after);
}

/// The changes `doc` made since `since`, decoded as a receive gets them.
fn decoded(doc: &mut SpaceDoc, since: &[automerge::ChangeHash]) -> Vec<automerge::Change> {
    doc.changes_since(since)
        .into_iter()
        .map(|c| automerge::Change::from_bytes(c).unwrap())
        .collect()
}

#[test]
fn an_increment_after_received_changes_holds_them_and_loses_nothing_written_between() {
    let (mut a, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let snapshot = a.save();
    let mut b = a.fork();
    let at_fork = a.heads();
    b.create_session(&coordinator, draft(3), Timestamp(1))
        .unwrap();
    b.create_session(&coordinator, draft(3), Timestamp(2))
        .unwrap();
    let received = decoded(&mut b, &at_fork);
    let own_bytes: Vec<u8> = received
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    a.apply_decoded(received).unwrap();
    // Only received changes since the save: their own bytes, not rebuilt.
    let first = a.save_incremental();
    assert_eq!(first, own_bytes);

    // A local write, then a received change: neither may be left out.
    a.create_session(&coordinator, draft(3), Timestamp(3))
        .unwrap();
    let before = b.heads();
    b.create_session(&coordinator, draft(3), Timestamp(4))
        .unwrap();
    a.apply_decoded(decoded(&mut b, &before)).unwrap();
    let second = a.save_incremental();
    // Changes already held record nothing.
    a.apply_decoded(decoded(&mut b, &at_fork)).unwrap();
    assert!(a.save_incremental().is_empty());

    let mut reloaded = SpaceDoc::load(&snapshot).unwrap();
    reloaded.load_incremental(&first).unwrap();
    reloaded.load_incremental(&second).unwrap();
    let mut want = a.heads();
    let mut got = reloaded.heads();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(reloaded.sessions().unwrap().len(), 4);
}

#[test]
fn own_changes_since_are_this_actors_in_order_whether_few_or_many_and_nobody_elses() {
    let (mut a, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let mut b = a.fork();
    let actor = a.automerge().get_actor().clone();
    let from = a.heads();
    // Few among many others' (rebuilt one by one), then a run of its own
    // (rebuilt in one walk).
    for (few, theirs_each) in [(3_usize, 3), (12, 0)] {
        let since = a.heads();
        // This actor's last change number so far (genesis made some).
        let sealed_seq = a
            .own_changes_since(&[], &actor, 0)
            .last()
            .map_or(0, automerge::Change::seq);
        for i in 0..few {
            a.create_session(&coordinator, draft(3), Timestamp(i as i64))
                .unwrap();
            // Others' changes in between, received.
            let theirs_from = b.heads();
            for _ in 0..theirs_each {
                b.create_session(&coordinator, draft(3), Timestamp(i as i64))
                    .unwrap();
            }
            let theirs: Vec<automerge::Change> = b
                .changes_since(&theirs_from)
                .into_iter()
                .map(|c| automerge::Change::from_bytes(c).unwrap())
                .collect();
            a.apply_decoded(theirs).unwrap();
        }
        let own = a.own_changes_since(&since, &actor, sealed_seq);
        assert_eq!(own.len(), few);
        assert!(own.iter().all(|c| c.actor_id() == &actor));
        let seqs: Vec<u64> = own.iter().map(automerge::Change::seq).collect();
        let want: Vec<u64> = (sealed_seq + 1..=sealed_seq + few as u64).collect();
        assert_eq!(seqs, want);
    }
    // From the start: every change of this actor since the fork, none of b's.
    assert_eq!(a.own_changes_since(&from, &actor, 0).len(), 15);
}

#[test]
fn a_save_whose_write_failed_is_held_by_the_next_save() {
    let (mut a, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let snapshot = a.save();
    let mut b = a.fork();
    let at_fork = a.heads();
    b.create_session(&coordinator, draft(3), Timestamp(1))
        .unwrap();
    // Received changes (their bytes recorded) and a local write: the disk
    // refuses the save.
    a.apply_decoded(decoded(&mut b, &at_fork)).unwrap();
    a.create_session(&coordinator, draft(3), Timestamp(2))
        .unwrap();
    let refused: Result<(), &str> = a.save_incremental_then(|bytes, _| {
        assert!(!bytes.is_empty());
        Err("disk full")
    });
    assert!(refused.is_err());
    // One more change, then a save that is written: it holds all three.
    a.create_session(&coordinator, draft(3), Timestamp(3))
        .unwrap();
    let mut written = Vec::new();
    a.save_incremental_then(|bytes, _| {
        written = bytes.to_vec();
        Ok::<(), &str>(())
    })
    .unwrap();
    let mut reloaded = SpaceDoc::load(&snapshot).unwrap();
    reloaded.load_incremental(&written).unwrap();
    assert_eq!(reloaded.heads(), a.heads());
    assert_eq!(reloaded.sessions().unwrap().len(), 3);
}
