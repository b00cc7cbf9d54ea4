//! A batch is accepted only when the device that signed it wrote it and its
//! author's role allows every operation in it.

use automerge::transaction::Transactable;
use automerge::{ROOT, Value};

use super::*;
use crate::model::{
    DeviceKeys, SessionDraft, SessionEdit, SessionKind, SignUpState, TicketId, Timestamp,
};

struct World {
    doc: SpaceDoc,
    coordinator: (MemberId, DeviceId),
    member: (MemberId, DeviceId),
    session: crate::model::SessionId,
}

fn keys() -> DeviceKeys {
    DeviceKeys {
        age_recipient: "age1test".into(),
        signing_key: "00".repeat(32),
        binding: None,
    }
}

fn world() -> World {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let cdev = DeviceId::random();
    doc.add_device(&coordinator, &cdev, keys()).unwrap();
    let member = doc
        .add_member(&coordinator, "Sam", Role::Member, Timestamp(1))
        .unwrap();
    let mdev = DeviceId::random();
    doc.add_device(&member, &mdev, keys()).unwrap();
    let other = doc
        .add_member(&coordinator, "Kit", Role::Member, Timestamp(1))
        .unwrap();
    let odev = DeviceId::random();
    doc.add_device(&other, &odev, keys()).unwrap();
    let session = doc
        .create_session(
            &coordinator,
            SessionDraft {
                kind: SessionKind::Other,
                title: "t".into(),
                description: String::new(),
                starts_at: Timestamp(5),
                duration_minutes: 10,
                location: String::new(),
                capacity: 3,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            Timestamp(0),
        )
        .unwrap();
    World {
        doc,
        coordinator: (coordinator, cdev),
        member: (member, mdev),
        session,
    }
}

/// A replica of `doc` writing as `device`, and a function returning the
/// changes it made since the fork.
fn replica(doc: &mut SpaceDoc, device: &DeviceId) -> (SpaceDoc, Vec<ChangeHash>) {
    let mut r = doc.fork();
    r.set_actor(actor_for_device(device).unwrap());
    let heads = r.heads();
    (r, heads)
}

fn new_changes(r: &mut SpaceDoc, since: &[ChangeHash]) -> Vec<Change> {
    r.changes_since(since)
        .into_iter()
        .map(|b| Change::from_bytes(b).unwrap())
        .collect()
}

/// A raw automerge replica: what a modified app could write, bypassing the
/// model's own permission checks.
fn raw(doc: &mut SpaceDoc, device: &DeviceId) -> (AutoCommit, Vec<ChangeHash>) {
    let mut am = AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(actor_for_device(device).unwrap());
    let heads = am.get_heads();
    (am, heads)
}

fn raw_changes(am: &mut AutoCommit, since: &[ChangeHash]) -> Vec<Change> {
    am.get_changes(since)
}

fn obj(am: &AutoCommit, path: &[&str]) -> automerge::ObjId {
    let mut cur = ROOT;
    for key in path {
        cur = match am.get(&cur, *key).unwrap() {
            Some((Value::Object(_), id)) => id,
            _ => panic!("no object at {key}"),
        };
    }
    cur
}

/// Both training modules for `who`, current from 0 to far in the future.
fn clear(doc: &mut SpaceDoc, coordinator: &MemberId, who: &MemberId) {
    for module in crate::model::TrainingModule::ALL {
        doc.record_training(coordinator, who, module, Timestamp(0), Timestamp(1_000_000))
            .unwrap();
    }
}

/// An attendee's signed statement for a ticket of her own (seeded key).
fn signed(
    session: &crate::model::SessionId,
    seed: u8,
    state: SignUpState,
    at: i64,
    counter: u64,
) -> (TicketId, crate::model::SignUp) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let mut signup =
        super::super::attendance::sign_statement(&key, session, state, Timestamp(at), counter);
    signup.sealed = "s".into();
    (
        super::super::attendance::ticket_of_key(&key.verifying_key()),
        signup,
    )
}

#[test]
fn volunteering_alone_gives_no_right_to_record_signups() {
    let mut w = world();
    clear(&mut w.doc, &w.coordinator.0.clone(), &w.member.0.clone());
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.volunteer_to_lead(&w.member.0, &w.session, Timestamp(1))
        .unwrap();
    r.set_pseudonym(&w.member.0, "Sammy").unwrap();
    let changes = new_changes(&mut r, &since);
    assert_eq!(check_batch(&w.doc, &w.member.1, &changes), Ok(()));
    w.doc.apply_decoded(changes).unwrap();
    // A modified app writes a sign-up anyway.
    let (ticket, signup) = signed(&w.session, 7, SignUpState::Attending, 2, 1);
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let signups = obj(&am, &["sessions", w.session.as_str(), "signups"]);
    am.put(
        &signups,
        crate::model::statement_key(&ticket, 1),
        signup.entry(),
    )
    .unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // Nor may she accept her own offer.
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let mine = obj(
        &am,
        &["sessions", w.session.as_str(), "leads", w.member.0.as_str()],
    );
    am.put(&mine, "state", "accepted").unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
        Err(AuthorshipError::NotPermitted { .. })
    ));
}

/// The world's member, accepted as lead of its session by the coordinator;
/// cleared when `cleared`.
fn accepted_member(w: &mut World, cleared: bool) {
    if cleared {
        clear(&mut w.doc, &w.coordinator.0.clone(), &w.member.0.clone());
    }
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.volunteer_to_lead(&w.member.0, &w.session, Timestamp(1))
        .unwrap();
    let changes = new_changes(&mut r, &since);
    w.doc.apply_decoded(changes).unwrap();
    w.doc
        .decide_lead(
            &w.coordinator.0,
            &w.session,
            &w.member.0,
            true,
            Timestamp(1),
        )
        .unwrap();
}

#[test]
fn an_accepted_lead_not_cleared_at_the_start_cannot_record_signups() {
    let mut w = world();
    accepted_member(&mut w, false);
    let (ticket, signup) = signed(&w.session, 7, SignUpState::Attending, 2, 1);
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    // The model says no; a modified app writes it anyway.
    assert!(
        r.record_signup(&w.member.0, &w.session, &ticket, &signup)
            .is_err()
    );
    let (mut am, since2) = raw(&mut w.doc, &w.member.1);
    let signups = obj(&am, &["sessions", w.session.as_str(), "signups"]);
    am.put(
        &signups,
        crate::model::statement_key(&ticket, 1),
        signup.entry(),
    )
    .unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since2)),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    drop((r, since));
}

#[test]
fn an_accepted_cleared_lead_records_signed_statements_and_nothing_else() {
    let mut w = world();
    accepted_member(&mut w, true);
    let (ticket, signup) = signed(&w.session, 7, SignUpState::Attending, 2, 1);
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.record_signup(&w.member.0, &w.session, &ticket, &signup)
        .unwrap();
    let changes = new_changes(&mut r, &since);
    assert_eq!(check_batch(&w.doc, &w.member.1, &changes), Ok(()));
    w.doc.apply_decoded(changes).unwrap();
    let key = |counter| crate::model::statement_key(&ticket, counter);
    let attempt = |w: &mut World, write: &dyn Fn(&mut AutoCommit, &automerge::ObjId)| {
        let (mut am, since) = raw(&mut w.doc, &w.member.1);
        let signups = obj(&am, &["sessions", w.session.as_str(), "signups"]);
        write(&mut am, &signups);
        am.commit();
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since))
    };
    // She cannot cancel the place: a cancellation needs the ticket's key.
    let mut forged = signup.clone();
    forged.state = SignUpState::Cancelled;
    forged.counter = 2;
    assert!(attempt(&mut w, &|am, s| am.put(s, key(2), forged.entry()).unwrap()).is_err());
    // Nor store a real statement under another counter (to make it newest).
    assert!(attempt(&mut w, &|am, s| am.put(s, key(9), signup.entry()).unwrap()).is_err());
    // Nor delete it, nor turn it into an object.
    assert!(attempt(&mut w, &|am, s| am.delete(s, key(1).as_str()).unwrap()).is_err());
    assert!(
        attempt(&mut w, &|am, s| {
            am.put_object(s, ticket.as_str(), automerge::ObjType::Map)
                .unwrap();
        })
        .is_err()
    );
    // Nor move the place by rewriting its time: the time is signed.
    let mut earlier = signup.clone();
    earlier.at = Timestamp(0);
    assert!(attempt(&mut w, &|am, s| am.put(s, key(1), earlier.entry()).unwrap()).is_err());
    // She may re-seal the holder, and record the attendee's own cancellation.
    assert_eq!(
        attempt(&mut w, &|am, s| am
            .put(s, ticket.as_str(), "resealed")
            .unwrap()),
        Ok(())
    );
    let key7 = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let mut cancel = super::super::attendance::sign_statement(
        &key7,
        &w.session,
        SignUpState::Cancelled,
        Timestamp(3),
        2,
    );
    cancel.sealed = "s".into();
    assert_eq!(
        attempt(&mut w, &|am, s| am.put(s, key(2), cancel.entry()).unwrap()),
        Ok(())
    );
}

#[test]
fn a_coordinator_may_plan_accept_herself_and_record_in_one_batch() {
    let mut w = world();
    let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
    let s = r
        .create_session(
            &w.coordinator.0,
            SessionDraft {
                kind: SessionKind::WellbeingEvent,
                title: "Yoga".into(),
                description: String::new(),
                starts_at: Timestamp(50),
                duration_minutes: 60,
                location: "Gym".into(),
                capacity: 10,
                content_notes: vec!["none".into()],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            Timestamp(0),
        )
        .unwrap();
    clear(&mut r, &w.coordinator.0.clone(), &w.coordinator.0.clone());
    r.volunteer_to_lead(&w.coordinator.0, &s, Timestamp(51))
        .unwrap();
    let (ticket, signup) = signed(&s, 5, SignUpState::Attending, 51, 1);
    r.record_signup(&w.coordinator.0, &s, &ticket, &signup)
        .unwrap();
    r.record_training(
        &w.coordinator.0,
        &w.member.0,
        crate::model::TrainingModule::Signposting,
        Timestamp(0),
        Timestamp(9),
    )
    .unwrap();
    let changes = new_changes(&mut r, &since);
    assert_eq!(check_batch(&w.doc, &w.coordinator.1, &changes), Ok(()));
}

#[test]
fn a_lead_role_cannot_make_herself_an_accepted_lead_of_any_session() {
    let mut w = world();
    w.doc
        .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
        .unwrap();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let leads = obj(&am, &["sessions", w.session.as_str(), "leads"]);
    let mine = am
        .put_object(&leads, w.member.0.as_str(), automerge::ObjType::Map)
        .unwrap();
    am.put(&mine, "volunteered_at", 1).unwrap();
    am.put(&mine, "state", "accepted").unwrap();
    // Whole, so only the state is what is refused.
    am.put(&mine, "decided_by", ()).unwrap();
    am.put(&mine, "decided_at", ()).unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // Nor replace the session's sign-ups or leads wholesale.
    for key in ["signups", "leads"] {
        let (mut am, since) = raw(&mut w.doc, &w.member.1);
        let session = obj(&am, &["sessions", w.session.as_str()]);
        am.put_object(&session, key, automerge::ObjType::Map)
            .unwrap();
        am.commit();
        assert!(
            check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)).is_err(),
            "{key}"
        );
    }
}

#[test]
fn a_lead_cannot_write_a_session_field_of_the_wrong_type_or_move_it_into_a_series() {
    let mut w = world();
    w.doc
        .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
        .unwrap();
    // A lead's own honest edits (including content notes) pass.
    let (mut lead_doc, since) = replica(&mut w.doc, &w.member.1);
    let edit = SessionEdit {
        capacity: Some(3),
        content_notes: Some(vec!["new note".into()]),
        signups_close_before_minutes: Some(120),
        ..Default::default()
    };
    lead_doc
        .edit_session(&w.member.0, &w.session, edit)
        .unwrap();
    check_batch(&w.doc, &w.member.1, &new_changes(&mut lead_doc, &since)).unwrap();
    // Values that would make the session unreadable everywhere are refused,
    // as are fields no session has and a later move into a series.
    let bad: [(&str, automerge::ScalarValue); 7] = [
        ("capacity", "lots".into()),
        ("signups_close_before_minutes", (-5i64).into()),
        ("starts_at", "soon".into()),
        ("kind", "party".into()),
        ("status", "postponed".into()),
        ("series", "0123456789abcdef".into()),
        ("colour", "red".into()),
    ];
    for (field, value) in bad {
        let (mut am, since) = raw(&mut w.doc, &w.member.1);
        let session = obj(&am, &["sessions", w.session.as_str()]);
        am.put(&session, field, value).unwrap();
        am.commit();
        assert!(
            matches!(
                check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
                Err(AuthorshipError::NotPermitted { .. })
            ),
            "{field}"
        );
    }
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let notes = obj(&am, &["sessions", w.session.as_str(), "content_notes"]);
    am.insert(&notes, 0, 7).unwrap();
    am.commit();
    assert!(check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)).is_err());
}

#[test]
fn only_a_coordinator_sets_the_time_zone() {
    let mut w = world();
    w.doc
        .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
        .unwrap();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    am.put(automerge::ROOT, "time_zone", "Pacific/Auckland")
        .unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
        Err(AuthorshipError::NotPermitted { role: "lead", .. })
    ));
    let (mut coordinator, since) = replica(&mut w.doc, &w.coordinator.1);
    let zone = crate::model::SpaceZone::parse("Europe/London").unwrap();
    coordinator.set_time_zone(&w.coordinator.0, &zone).unwrap();
    check_batch(
        &w.doc,
        &w.coordinator.1,
        &new_changes(&mut coordinator, &since),
    )
    .unwrap();
}

#[test]
fn a_series_is_checked_like_the_sessions_it_makes() {
    let mut w = world();
    let (mut coordinator, since) = replica(&mut w.doc, &w.coordinator.1);
    let draft = SessionDraft {
        kind: SessionKind::SurvivorDiscussionGroup,
        title: "Tuesday circle".into(),
        description: String::new(),
        starts_at: Timestamp(100_000),
        duration_minutes: 90,
        location: String::new(),
        capacity: 8,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    };
    let rule = crate::model::SeriesRule {
        every_weeks: 1,
        end: crate::model::SeriesEnd::Count(10),
    };
    let (_, sessions) = coordinator
        .create_series(&w.coordinator.0, draft, rule, Timestamp(50))
        .unwrap();
    assert_eq!(sessions.len(), 10);
    let id = sessions[4].clone();
    let edit = SessionEdit {
        title: Some("Tuesday circle (room 2)".into()),
        ..Default::default()
    };
    coordinator
        .edit_series_from(&w.coordinator.0, &id, edit)
        .unwrap();
    coordinator
        .cancel_series_from(&w.coordinator.0, &sessions[8])
        .unwrap();
    check_batch(
        &w.doc,
        &w.coordinator.1,
        &new_changes(&mut coordinator, &since),
    )
    .unwrap();
    // A member cannot plan one.
    let (mut member, _) = replica(&mut w.doc, &w.member.1);
    assert!(
        member
            .create_series(&w.member.0, w_draft(), rule, Timestamp(50))
            .is_err()
    );
}

fn w_draft() -> SessionDraft {
    SessionDraft {
        kind: SessionKind::Other,
        title: "t".into(),
        description: String::new(),
        starts_at: Timestamp(100_000),
        duration_minutes: 60,
        location: String::new(),
        capacity: 1,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

#[test]
fn a_member_cannot_promote_themselves() {
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let me = obj(&am, &["members", w.member.0.as_str()]);
    am.put(&me, "role", "coordinator").unwrap();
    am.commit();
    let err = check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)).unwrap_err();
    assert!(
        matches!(err, AuthorshipError::NotPermitted { role: "member", .. }),
        "{err}"
    );
}

#[test]
fn a_member_cannot_edit_sessions_or_the_directory() {
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let session = obj(&am, &["sessions", w.session.as_str()]);
    am.put(&session, "title", "hijacked").unwrap();
    am.commit();
    assert!(check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)).is_err());
}

#[test]
fn a_change_attributed_to_another_device_is_refused() {
    let mut w = world();
    // Written with the coordinator's actor, but signed by the member's device.
    let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
    r.volunteer_to_lead(&w.member.0, &w.session, Timestamp(9))
        .unwrap();
    let changes = new_changes(&mut r, &since);
    assert_eq!(
        check_batch(&w.doc, &w.member.1, &changes),
        Err(AuthorshipError::ForeignActor)
    );
}

#[test]
fn a_stranger_device_is_refused() {
    let mut w = world();
    let stranger = DeviceId::random();
    let (mut r, since) = replica(&mut w.doc, &stranger);
    r.volunteer_to_lead(&w.member.0, &w.session, Timestamp(9))
        .unwrap();
    let changes = new_changes(&mut r, &since);
    assert!(matches!(
        check_batch(&w.doc, &stranger, &changes),
        Err(AuthorshipError::UnknownDevice(_))
    ));
}

#[test]
fn removal_is_judged_at_the_changes_causal_point() {
    let mut w = world();
    // The member signs up offline, concurrently with their removal.
    let (mut concurrent, since) = replica(&mut w.doc, &w.member.1);
    concurrent
        .volunteer_to_lead(&w.member.0, &w.session, Timestamp(9))
        .unwrap();
    let concurrent_changes = new_changes(&mut concurrent, &since);
    w.doc
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(10))
        .unwrap();
    // Made before they saw the removal: accepted, by every replica alike.
    assert_eq!(
        check_batch(&w.doc, &w.member.1, &concurrent_changes),
        Ok(())
    );

    // A change made after seeing the removal is refused.
    let (mut after, since) = raw(&mut w.doc, &w.member.1);
    let me = obj(&after, &["members", w.member.0.as_str()]);
    after.put(&me, "pseudonym", "still here").unwrap();
    after.commit();
    assert_eq!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut after, &since)),
        Err(AuthorshipError::NotAMember)
    );
}

#[test]
fn a_batch_with_unseen_dependencies_waits() {
    let mut w = world();
    let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
    r.rename(&w.coordinator.0, "first").unwrap();
    let middle = r.heads();
    r.rename(&w.coordinator.0, "second").unwrap();
    let _ = since;
    let later = new_changes(&mut r, &middle);
    assert_eq!(
        check_batch(&w.doc, &w.coordinator.1, &later),
        Err(AuthorshipError::MissingDependencies)
    );
}

mod admitting {
    use super::*;
    use crate::protocol::SpaceId;
    use crate::protocol::invite::{InviteSecret, JoinRequest};
    use ed25519_dalek::SigningKey;

    struct Joiner {
        secret: InviteSecret,
        device: DeviceId,
        signing: SigningKey,
        identity: age::x25519::Identity,
    }

    impl Joiner {
        fn keys(&self) -> DeviceKeys {
            DeviceKeys {
                age_recipient: self.identity.to_public().to_string(),
                signing_key: hex::encode(self.signing.verifying_key().to_bytes()),
                binding: None,
            }
        }

        /// The joiner's request, proven with `prover`'s invite key.
        fn request(&self, prover: &InviteSecret) -> JoinRequest {
            JoinRequest::new(
                prover,
                SpaceId([0; 16]),
                "Alex",
                &self.device,
                &self.keys(),
                &self.signing,
            )
        }
    }

    /// A lead (Sam, promoted) invites; the joiner holds the code.
    fn invite(w: &mut World, role: Role, expires: i64) -> Joiner {
        w.doc
            .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
            .unwrap();
        let secret = InviteSecret::generate();
        let by = if role == Role::Member {
            &w.member.0
        } else {
            &w.coordinator.0
        };
        w.doc
            .record_invite(
                by,
                &secret.invite_id(),
                &secret.verifying_key_hex(),
                role,
                Timestamp(expires),
            )
            .unwrap();
        Joiner {
            secret,
            device: DeviceId::random(),
            signing: SigningKey::from_bytes(&[42; 32]),
            identity: age::x25519::Identity::generate(),
        }
    }

    /// The inviter's device writes the admission of `request`.
    fn admit(
        w: &mut World,
        by: &(MemberId, DeviceId),
        request: &JoinRequest,
        at: i64,
    ) -> Vec<Change> {
        let (mut r, since) = replica(&mut w.doc, &by.1);
        r.admit(
            &by.0,
            &request.invite,
            &request.member,
            &request.proof,
            &request.pseudonym,
            &request.device,
            request.keys.clone(),
            Timestamp(at),
        )
        .unwrap();
        new_changes(&mut r, &since)
    }

    fn apply(w: &mut World, changes: &[Change]) {
        let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
        w.doc.apply_changes(&bytes).unwrap();
    }

    #[test]
    fn the_inviters_admission_is_accepted_and_the_joiner_can_write() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        let lead = w.member.clone();
        let changes = admit(&mut w, &lead, &request, 50);
        assert_eq!(check_batch(&w.doc, &lead.1, &changes), Ok(()));
        apply(&mut w, &changes);
        let (mut r, since) = replica(&mut w.doc, &j.device);
        r.volunteer_to_lead(&request.member, &w.session, Timestamp(60))
            .unwrap();
        assert_eq!(
            check_batch(&w.doc, &j.device, &new_changes(&mut r, &since)),
            Ok(())
        );
    }

    #[test]
    fn an_admission_without_the_code_is_refused() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let mut request = j.request(&j.secret);
        request.proof = hex::encode(InviteSecret::generate().prove_join(
            &request.member,
            &request.device,
            &request.keys,
        ));
        let lead = w.member.clone();
        let changes = admit(&mut w, &lead, &request, 50);
        assert_eq!(
            check_batch(&w.doc, &lead.1, &changes),
            Err(AuthorshipError::BadProof)
        );
    }

    #[test]
    fn the_inviter_cannot_admit_the_joiner_with_keys_she_chose() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let mut request = j.request(&j.secret);
        // The inviter swaps in a key she holds: the joiner's binding and
        // the invite proof no longer verify.
        request.keys.age_recipient = age::x25519::Identity::generate().to_public().to_string();
        let lead = w.member.clone();
        let changes = admit(&mut w, &lead, &request, 50);
        assert!(matches!(
            check_batch(&w.doc, &lead.1, &changes),
            Err(AuthorshipError::BadProof | AuthorshipError::NotPermitted { .. })
        ));
    }

    #[test]
    fn only_the_invites_creator_admits() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        // The coordinator writes the admission of the lead's invite by hand
        // (the model refuses to).
        let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
        let members = obj(&am, &["members"]);
        let m = am
            .put_object(&members, request.member.as_str(), automerge::ObjType::Map)
            .unwrap();
        am.put(&m, "pseudonym", "Alex").unwrap();
        let invite = obj(&am, &["invites", request.invite.as_str()]);
        am.put(&invite, "used_by", request.member.as_str()).unwrap();
        am.commit();
        assert!(matches!(
            check_batch(&w.doc, &w.coordinator.1, &raw_changes(&mut am, &since)),
            Err(AuthorshipError::NotPermitted { .. })
        ));
    }

    #[test]
    fn an_invite_admits_once_and_concurrent_admissions_settle_on_one() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let lead = w.member.clone();
        let (first, second) = (j.request(&j.secret), j.request(&j.secret));
        // Two of the lead's devices admit two requests concurrently: each
        // checks out at its own causal point…
        let phone = (lead.0.clone(), DeviceId::random());
        w.doc.add_device(&lead.0, &phone.1, keys()).unwrap();
        let a = admit(&mut w, &lead, &first, 50);
        let b = admit(&mut w, &phone, &second, 51);
        assert_eq!(check_batch(&w.doc, &lead.1, &a), Ok(()));
        assert_eq!(check_batch(&w.doc, &phone.1, &b), Ok(()));
        apply(&mut w, &a);
        apply(&mut w, &b);
        // …and exactly the one the invite's `used_by` shows is a member.
        let used_by = w
            .doc
            .invite(&first.invite)
            .unwrap()
            .unwrap()
            .used_by
            .unwrap();
        let active: Vec<MemberId> = [&first.member, &second.member]
            .into_iter()
            .filter(|m| w.doc.member(m).unwrap().is_active())
            .cloned()
            .collect();
        assert_eq!(active, vec![used_by]);
        // After that, the model refuses another use…
        let third = j.request(&j.secret);
        assert!(matches!(
            w.doc.fork().admit(
                &lead.0,
                &third.invite,
                &third.member,
                &third.proof,
                "Again",
                &third.device,
                third.keys.clone(),
                Timestamp(52)
            ),
            Err(crate::model::ModelError::InviteUsed)
        ));
        // …and a hand-written use is refused by every receiver.
        let (mut am, since) = raw(&mut w.doc, &lead.1);
        let invite = obj(&am, &["invites", third.invite.as_str()]);
        am.put(&invite, "used_by", third.member.as_str()).unwrap();
        am.commit();
        assert!(check_batch(&w.doc, &lead.1, &raw_changes(&mut am, &since)).is_err());
    }

    #[test]
    fn an_admission_that_also_promotes_or_touches_anything_else_is_refused() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        let lead = w.member.clone();
        let (mut am, since) = raw(&mut w.doc, &lead.1);
        let members = obj(&am, &["members"]);
        let m = am
            .put_object(&members, request.member.as_str(), automerge::ObjType::Map)
            .unwrap();
        am.put(&m, "role", "coordinator").unwrap();
        let invite = obj(&am, &["invites", request.invite.as_str()]);
        am.put(&invite, "used_by", request.member.as_str()).unwrap();
        am.put(&invite, "proof", request.proof.as_str()).unwrap();
        let session = obj(&am, &["sessions", w.session.as_str()]);
        am.put(&session, "title", "x").unwrap();
        am.commit();
        assert!(matches!(
            check_batch(&w.doc, &lead.1, &raw_changes(&mut am, &since)),
            Err(AuthorshipError::NotPermitted { .. })
        ));
    }

    #[test]
    fn an_expired_or_withdrawn_invite_admits_nobody() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        let lead = w.member.clone();
        assert!(matches!(
            w.doc.fork().admit(
                &lead.0,
                &request.invite,
                &request.member,
                &request.proof,
                "Late",
                &request.device,
                request.keys.clone(),
                Timestamp(100)
            ),
            Err(crate::model::ModelError::InviteExpired)
        ));
        // Withdrawn concurrently with an admission: the admission checks out
        // at its own causal point, but the joiner is no member anywhere
        // that holds both.
        let admission = admit(&mut w, &lead, &request, 50);
        let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
        r.revoke_invite(&w.coordinator.0, &request.invite, Timestamp(60))
            .unwrap();
        let revocation = new_changes(&mut r, &since);
        assert_eq!(check_batch(&w.doc, &w.coordinator.1, &revocation), Ok(()));
        assert_eq!(check_batch(&w.doc, &lead.1, &admission), Ok(()));
        apply(&mut w, &revocation);
        apply(&mut w, &admission);
        assert!(!w.doc.member(&request.member).unwrap().is_active());
        // After it: refused.
        assert!(matches!(
            w.doc.fork().admit(
                &lead.0,
                &request.invite,
                &MemberId::random(),
                &request.proof,
                "Again",
                &request.device,
                request.keys.clone(),
                Timestamp(61)
            ),
            Err(crate::model::ModelError::InviteUsed | crate::model::ModelError::InviteRevoked)
        ));
    }

    #[test]
    fn a_withdrawal_received_after_her_admission_ends_what_the_receiver_remembers_of_her() {
        // The receiver looks up the joiner's role for a write of hers and
        // remembers it; the withdrawal that wins over her admission then
        // arrives through the receive's stage (a write under `invites`
        // only). Her modified app writes on regardless, knowing of it.
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        let lead = w.member.clone();
        let admission = admit(&mut w, &lead, &request, 50);
        let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
        r.revoke_invite(&w.coordinator.0, &request.invite, Timestamp(60))
            .unwrap();
        let revocation = new_changes(&mut r, &since);
        apply(&mut w, &admission);
        let (mut joiner, since) = replica(&mut w.doc, &j.device);
        joiner
            .volunteer_to_lead(&request.member, &w.session, Timestamp(61))
            .unwrap();
        let first = new_changes(&mut joiner, &since);
        assert_eq!(check_batch(&w.doc, &j.device, &first), Ok(()));

        let mut staged = Staged::new(&mut w.doc);
        let checked = check_staged(&w.doc, &mut staged, &w.coordinator.1, &revocation).unwrap();
        staged.stage(&w.doc, revocation, checked);
        staged.flush(&mut w.doc).unwrap();
        assert!(!w.doc.member(&request.member).unwrap().is_active());

        let (mut am, since) = raw(&mut w.doc, &j.device);
        let me = obj(&am, &["members", request.member.as_str()]);
        am.put(&me, "pseudonym", "Still here").unwrap();
        assert_eq!(
            check_batch(&w.doc, &j.device, &raw_changes(&mut am, &since)),
            Err(AuthorshipError::NotAMember)
        );
    }

    #[test]
    fn a_used_invite_cannot_be_withdrawn_nor_another_leads_invite_rewritten() {
        let mut w = world();
        let j = invite(&mut w, Role::Member, 100);
        let request = j.request(&j.secret);
        let lead = w.member.clone();
        let admission = admit(&mut w, &lead, &request, 50);
        apply(&mut w, &admission);
        let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
        let invite = obj(&am, &["invites", request.invite.as_str()]);
        am.put(&invite, "revoked_at", 60_i64).unwrap();
        am.commit();
        assert_eq!(
            check_batch(&w.doc, &w.coordinator.1, &raw_changes(&mut am, &since)),
            Err(AuthorshipError::InviteUsed)
        );
        // A lead stretches another invite's expiry: refused.
        let other = InviteSecret::generate();
        w.doc
            .record_invite(
                &w.coordinator.0,
                &other.invite_id(),
                &other.verifying_key_hex(),
                Role::Member,
                Timestamp(100),
            )
            .unwrap();
        let (mut am, since) = raw(&mut w.doc, &lead.1);
        let invite = obj(&am, &["invites", other.invite_id().as_str()]);
        am.put(&invite, "expires_at", 1_000_000_i64).unwrap();
        am.commit();
        assert!(matches!(
            check_batch(&w.doc, &lead.1, &raw_changes(&mut am, &since)),
            Err(AuthorshipError::NotPermitted { .. })
        ));
    }

    #[test]
    fn only_coordinators_invite_leads() {
        let mut w = world();
        let secret = InviteSecret::generate();
        assert!(
            w.doc
                .record_invite(
                    &w.member.0,
                    &secret.invite_id(),
                    &secret.verifying_key_hex(),
                    Role::Member,
                    Timestamp(9)
                )
                .is_err()
        );
        w.doc
            .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
            .unwrap();
        assert!(
            w.doc
                .record_invite(
                    &w.member.0,
                    &secret.invite_id(),
                    &secret.verifying_key_hex(),
                    Role::Lead,
                    Timestamp(9)
                )
                .is_err()
        );
        w.doc
            .record_invite(
                &w.member.0,
                &secret.invite_id(),
                &secret.verifying_key_hex(),
                Role::Member,
                Timestamp(9),
            )
            .unwrap();
    }
}

#[test]
fn invites_pass_for_coordinators_and_leads_may_only_invite_members() {
    let mut w = world();
    let (mut r, since) = replica(&mut w.doc, &w.coordinator.1);
    r.record_invite(
        &w.coordinator.0,
        "00000000000000aa",
        "ab",
        Role::Lead,
        Timestamp(9),
    )
    .unwrap();
    assert_eq!(
        check_batch(&w.doc, &w.coordinator.1, &new_changes(&mut r, &since)),
        Ok(())
    );

    w.doc
        .set_role(&w.coordinator.0, &w.member.0, Role::Lead)
        .unwrap();
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.record_invite(
        &w.member.0,
        "00000000000000bb",
        "ab",
        Role::Member,
        Timestamp(9),
    )
    .unwrap();
    assert_eq!(
        check_batch(&w.doc, &w.member.1, &new_changes(&mut r, &since)),
        Ok(())
    );

    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let invites = obj(&am, &["invites"]);
    let inv = am
        .put_object(&invites, "00000000000000cc", automerge::ObjType::Map)
        .unwrap();
    am.put(&inv, "role", "coordinator").unwrap();
    am.commit();
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &raw_changes(&mut am, &since)),
        Err(AuthorshipError::NotPermitted { role: "lead", .. })
    ));
}

#[test]
fn a_removed_member_cannot_write_her_removal_back_to_null() {
    let mut w = world();
    w.doc
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(10))
        .unwrap();
    // Sequential: she saw her removal and writes over it.
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let me = obj(&am, &["members", w.member.0.as_str()]);
    am.put(&me, "removed_at", ScalarValue::Null).unwrap();
    am.commit();
    let changes = raw_changes(&mut am, &since);
    assert!(check_batch(&w.doc, &w.member.1, &changes).is_err());

    // Nor can anyone, coordinators included, in the same batch as a
    // departure or after it.
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
    let them = obj(&am, &["members", w.member.0.as_str()]);
    am.put(&them, "removed_at", 5i64).unwrap();
    am.commit();
    am.put(&them, "removed_at", ScalarValue::Null).unwrap();
    am.commit();
    let changes = raw_changes(&mut am, &since);
    assert_eq!(changes.len(), 2);
    assert!(check_batch(&w.doc, &w.coordinator.1, &changes).is_err());
    assert_eq!(check_batch(&w.doc, &w.coordinator.1, &changes[..1]), Ok(()));
}

#[test]
fn a_member_cannot_list_another_members_device_under_herself() {
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let devices = obj(&am, &["members", w.member.0.as_str(), "devices"]);
    let captured = am
        .put_object(&devices, w.coordinator.1.as_str(), ObjType::Map)
        .unwrap();
    am.put(&captured, "age_recipient", "age1mallory").unwrap();
    am.put(&captured, "signing_key", "11".repeat(32)).unwrap();
    am.commit();
    let changes = raw_changes(&mut am, &since);
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &changes),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // Applied anyway (a replica that did not check), the device belongs to
    // nobody rather than to whoever sorts first.
    let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    w.doc.apply_changes(&bytes).unwrap();
    assert_eq!(member_of_device(&w.doc, &w.coordinator.1), None);
}

#[test]
fn a_device_entry_is_never_rewritten_and_a_member_never_replaced() {
    let mut w = world();
    // Her own device's key, swapped for another.
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let mine = obj(
        &am,
        &[
            "members",
            w.member.0.as_str(),
            "devices",
            w.member.1.as_str(),
        ],
    );
    am.put(&mine, "signing_key", "22".repeat(32)).unwrap();
    am.commit();
    let changes = raw_changes(&mut am, &since);
    assert!(check_batch(&w.doc, &w.member.1, &changes).is_err());
    // A coordinator replacing or deleting a member entry.
    for delete in [false, true] {
        let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
        let members = obj(&am, &["members"]);
        if delete {
            am.delete(&members, w.member.0.as_str()).unwrap();
        } else {
            am.put_object(&members, w.member.0.as_str(), ObjType::Map)
                .unwrap();
        }
        am.commit();
        let changes = raw_changes(&mut am, &since);
        assert!(check_batch(&w.doc, &w.coordinator.1, &changes).is_err());
    }
}

#[test]
fn a_device_entry_with_an_unusable_key_is_refused() {
    // A member lists a new device of her own whose age recipient does not
    // parse, or whose signing key is not a key: it could never be handed an
    // epoch key or sign anything, and is refused on receive.
    for (recipient, key) in [
        ("age1notarecipient".to_string(), hex::encode([5u8; 32])),
        (
            age::x25519::Identity::generate().to_public().to_string(),
            "zz".repeat(32),
        ),
    ] {
        let mut w = world();
        let (mut am, since) = raw(&mut w.doc, &w.member.1);
        let devices = obj(&am, &["members", w.member.0.as_str(), "devices"]);
        let entry = am
            .put_object(&devices, "00000000000000dd", ObjType::Map)
            .unwrap();
        am.put(&entry, "age_recipient", recipient.as_str()).unwrap();
        am.put(&entry, "signing_key", key.as_str()).unwrap();
        am.commit();
        let changes = raw_changes(&mut am, &since);
        assert!(check_batch(&w.doc, &w.member.1, &changes).is_err());
    }
    // A good one passes.
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let devices = obj(&am, &["members", w.member.0.as_str(), "devices"]);
    let entry = am
        .put_object(&devices, "00000000000000dd", ObjType::Map)
        .unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    am.put(&entry, "age_recipient", recipient.as_str()).unwrap();
    let key = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .to_bytes(),
    );
    am.put(&entry, "signing_key", key.as_str()).unwrap();
    // Without the device's own signature over its id and keys, refused…
    let mut unbound = am.clone();
    unbound.commit();
    let changes = raw_changes(&mut unbound, &since);
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &changes),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // …and a binding made with another key is no better…
    let keys = |binding: String| DeviceKeys {
        age_recipient: recipient.clone(),
        signing_key: key.clone(),
        binding: Some(binding),
    };
    let device = DeviceId::from("00000000000000dd".to_string());
    let forged = crate::protocol::invite::bind_device(
        &device,
        &keys(String::new()),
        &ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
    );
    let mut wrong = am.clone();
    wrong.put(&entry, "binding", forged.as_str()).unwrap();
    wrong.commit();
    let changes = raw_changes(&mut wrong, &since);
    assert!(check_batch(&w.doc, &w.member.1, &changes).is_err());
    // …with its own, it passes.
    let binding = crate::protocol::invite::bind_device(
        &device,
        &keys(String::new()),
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    );
    am.put(&entry, "binding", binding.as_str()).unwrap();
    am.commit();
    let changes = raw_changes(&mut am, &since);
    assert_eq!(check_batch(&w.doc, &w.member.1, &changes), Ok(()));
}

#[test]
fn only_a_recording_lead_frees_a_place_and_only_with_a_mark_that_names_a_statement() {
    let mut w = world();
    accepted_member(&mut w, true);
    let (ticket, signup) = signed(&w.session, 7, SignUpState::Attending, 2, 1);
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.record_signup(&w.member.0, &w.session, &ticket, &signup)
        .unwrap();
    let changes = new_changes(&mut r, &since);
    w.doc.apply_decoded(changes).unwrap();
    let mark = crate::model::freed_key(&ticket, 1);
    let attempt = |w: &mut World, device: &DeviceId, value: &str| {
        let (mut am, since) = raw(&mut w.doc, device);
        let signups = obj(&am, &["sessions", w.session.as_str(), "signups"]);
        am.put(&signups, mark.as_str(), value).unwrap();
        am.commit();
        check_batch(&w.doc, device, &raw_changes(&mut am, &since))
    };
    // A member who does not lead the session frees nobody's place.
    let (kit, kit_device) = {
        let members = w.doc.members().unwrap();
        let (id, m) = members
            .into_iter()
            .find(|(_, m)| m.pseudonym == "Kit")
            .unwrap();
        (id, m.devices.keys().next().unwrap().clone())
    };
    assert_ne!(kit, w.member.0);
    assert!(attempt(&mut w, &kit_device, &signup.signature).is_err());
    // The lead's mark must have the shape of a signature.
    let member_device = w.member.1.clone();
    assert!(attempt(&mut w, &member_device, "departed").is_err());
    assert_eq!(attempt(&mut w, &member_device, &signup.signature), Ok(()));
}

/// Sam's second device, listed under her entry.
fn second_device(w: &mut World) -> DeviceId {
    let dev = DeviceId::random();
    w.doc.add_device(&w.member.0, &dev, keys()).unwrap();
    dev
}

#[test]
fn a_member_removes_her_own_lost_device_and_nobody_else_can() {
    let mut w = world();
    let lost = second_device(&mut w);
    // Her own device removes the lost one: accepted.
    let (mut r, since) = replica(&mut w.doc, &w.member.1);
    r.remove_device(&w.member.0, &lost, Timestamp(7)).unwrap();
    let ok = new_changes(&mut r, &since);
    assert_eq!(check_batch(&w.doc, &w.member.1, &ok), Ok(()));
    // A coordinator writing the same key for her: refused (he would cut a
    // member off from her own phone; he removes the member instead).
    let key = crate::model::member::removed_device_key(&lost);
    let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
    let sam = obj(&am, &["members", w.member.0.as_str()]);
    am.put(&sam, key.as_str(), 7i64).unwrap();
    let forged = raw_changes(&mut am, &since);
    assert!(matches!(
        check_batch(&w.doc, &w.coordinator.1, &forged),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // Naming a device that is not hers, or a removal that is not a time.
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let sam = obj(&am, &["members", w.member.0.as_str()]);
    let strangers = crate::model::member::removed_device_key(&w.coordinator.1);
    am.put(&sam, strangers.as_str(), 7i64).unwrap();
    let not_hers = raw_changes(&mut am, &since);
    assert!(check_batch(&w.doc, &w.member.1, &not_hers).is_err());
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let sam = obj(&am, &["members", w.member.0.as_str()]);
    am.put(&sam, key.as_str(), "soon").unwrap();
    let not_a_time = raw_changes(&mut am, &since);
    assert!(check_batch(&w.doc, &w.member.1, &not_a_time).is_err());
}

#[test]
fn a_device_removal_cannot_be_taken_back() {
    let mut w = world();
    let lost = second_device(&mut w);
    w.doc.set_actor(actor_for_device(&w.member.1).unwrap());
    w.doc
        .remove_device(&w.member.0, &lost, Timestamp(7))
        .unwrap();
    let key = crate::model::member::removed_device_key(&lost);
    for undo in [
        |am: &mut AutoCommit, o: &automerge::ObjId, k: &str| am.put(o, k, ScalarValue::Null),
        |am: &mut AutoCommit, o: &automerge::ObjId, k: &str| am.delete(o, k),
        |am: &mut AutoCommit, o: &automerge::ObjId, k: &str| am.put(o, k, 99i64),
    ] {
        let (mut am, since) = raw(&mut w.doc, &w.member.1);
        let sam = obj(&am, &["members", w.member.0.as_str()]);
        undo(&mut am, &sam, key.as_str()).unwrap();
        let changes = raw_changes(&mut am, &since);
        assert!(
            check_batch(&w.doc, &w.member.1, &changes).is_err(),
            "a removal was undone"
        );
    }
}

#[test]
fn a_removed_device_writes_nothing_that_counts_after_its_removal() {
    let mut w = world();
    let lost = second_device(&mut w);
    // The thief, holding the lost phone, writes before he learns of the
    // removal (concurrently) and after it.
    let (mut thief, since) = replica(&mut w.doc, &lost);
    thief.set_pseudonym(&w.member.0, "Stolen").unwrap();
    let concurrent = new_changes(&mut thief, &since);
    w.doc.set_actor(actor_for_device(&w.member.1).unwrap());
    w.doc
        .remove_device(&w.member.0, &lost, Timestamp(7))
        .unwrap();
    let (mut after, since) = replica(&mut w.doc, &lost);
    after.set_pseudonym(&w.member.0, "Stolen again").unwrap();
    let later = new_changes(&mut after, &since);
    assert_eq!(
        check_batch(&w.doc, &lost, &later),
        Err(AuthorshipError::RemovedDevice(lost.to_string()))
    );
    // What it wrote concurrently is judged as the member could, and voided:
    // it grants nothing and is taken back like a removed member's writes.
    assert_eq!(check_batch(&w.doc, &lost, &concurrent), Ok(()));
    let hashes: Vec<ChangeHash> = concurrent.iter().map(Change::hash).collect();
    w.doc.apply_decoded(concurrent).unwrap();
    let void = crate::protocol::removal::void_changes(&mut w.doc);
    assert!(
        hashes.iter().all(|h| void.contains(h)),
        "the thief's concurrent change would count"
    );
}

#[test]
fn a_session_made_again_over_one_that_stands_is_refused_from_behind_the_heads_too() {
    let mut w = world();
    // The coordinator's device writes a fresh map over the existing
    // session, from a point the document has since moved past (so the
    // check reads the session map at that point, not now).
    let (mut am, since) = raw(&mut w.doc, &w.coordinator.1);
    let sessions = obj(&am, &["sessions"]);
    am.put_object(&sessions, w.session.as_str(), automerge::ObjType::Map)
        .unwrap();
    am.commit();
    let over = raw_changes(&mut am, &since);
    // And, from the same point, a session of its own.
    let (mut r, behind) = replica(&mut w.doc, &w.coordinator.1);
    r.create_session(&w.coordinator.0, w_draft(), Timestamp(2))
        .unwrap();
    let own = new_changes(&mut r, &behind);
    w.doc
        .add_member(&w.coordinator.0, "Ash", Role::Member, Timestamp(3))
        .unwrap();
    assert!(!over.iter().all(|c| c.deps() == w.doc.heads().as_slice()));
    assert!(matches!(
        check_batch(&w.doc, &w.coordinator.1, &over),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    assert!(check_batch(&w.doc, &w.coordinator.1, &own).is_ok());
}

#[test]
fn an_offer_to_lead_without_all_its_fields_is_refused() {
    // A member (any member may offer to lead) writes her offer as a map
    // holding only its state: readers need its time too, so the session
    // would be unreadable on every device, hidden from the group.
    let mut w = world();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let leads = obj(&am, &["sessions", w.session.as_str(), "leads"]);
    let entry = am
        .put_object(&leads, w.member.0.as_str(), automerge::ObjType::Map)
        .unwrap();
    am.put(&entry, "state", "offered").unwrap();
    am.commit();
    let partial = raw_changes(&mut am, &since);
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &partial),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // With its time too but no decision fields: still unreadable (the
    // model reads none as a null, not as nothing).
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let leads = obj(&am, &["sessions", w.session.as_str(), "leads"]);
    let entry = am
        .put_object(&leads, w.member.0.as_str(), automerge::ObjType::Map)
        .unwrap();
    am.put(&entry, "volunteered_at", 1).unwrap();
    am.put(&entry, "state", "offered").unwrap();
    am.commit();
    let undecided = raw_changes(&mut am, &since);
    let mut probe = w.doc.fork();
    let bytes: Vec<Vec<u8>> = undecided.iter().map(|c| c.raw_bytes().to_vec()).collect();
    probe.apply_changes(&bytes).unwrap();
    assert!(
        probe.session(&w.session).is_err(),
        "the shape the check must refuse"
    );
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &undecided),
        Err(AuthorshipError::NotPermitted { .. })
    ));

    // Nor may the fields go into her standing entry while a new, empty one
    // takes its place.
    let (mut r, behind) = replica(&mut w.doc, &w.member.1);
    r.volunteer_to_lead(&w.member.0, &w.session, Timestamp(1))
        .unwrap();
    let offer = new_changes(&mut r, &behind);
    assert_eq!(check_batch(&w.doc, &w.member.1, &offer), Ok(()));
    let bytes: Vec<Vec<u8>> = offer.iter().map(|c| c.raw_bytes().to_vec()).collect();
    w.doc.apply_changes(&bytes).unwrap();
    let (mut am, since) = raw(&mut w.doc, &w.member.1);
    let leads = obj(&am, &["sessions", w.session.as_str(), "leads"]);
    let standing = obj(
        &am,
        &["sessions", w.session.as_str(), "leads", w.member.0.as_str()],
    );
    am.put_object(&leads, w.member.0.as_str(), automerge::ObjType::Map)
        .unwrap();
    for (field, value) in [
        ("volunteered_at", ScalarValue::Int(2)),
        ("state", ScalarValue::Str("offered".into())),
        ("decided_by", ScalarValue::Null),
        ("decided_at", ScalarValue::Null),
    ] {
        am.put(&standing, field, value).unwrap();
    }
    am.commit();
    let beside = raw_changes(&mut am, &since);
    assert!(matches!(
        check_batch(&w.doc, &w.member.1, &beside),
        Err(AuthorshipError::NotPermitted { .. })
    ));
    // The session still reads, with her one whole offer.
    assert_eq!(w.doc.session(&w.session).unwrap().leads.len(), 1);
}
