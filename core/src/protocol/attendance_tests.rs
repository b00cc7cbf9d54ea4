//! Attendance privacy: members count, leads see names.

use ed25519_dalek::SigningKey;

use super::*;
use crate::model::{DeviceKeys, Role, SessionDraft, SessionKind, SessionStatus, TrainingModule};
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, epoch::ANONYMOUS_DEVICE};

struct Person {
    member: MemberId,
    device: DeviceId,
    identity: age::x25519::Identity,
    signing: SigningKey,
    secret: [u8; 32],
}

fn person(doc: &mut SpaceDoc, by: &MemberId, name: &str, role: Role, seed: u8) -> Person {
    let member = doc.add_member(by, name, role, Timestamp(0)).unwrap();
    enrol(doc, member, seed)
}

fn enrol(doc: &mut SpaceDoc, member: MemberId, seed: u8) -> Person {
    let p = Person {
        member,
        device: DeviceId::random(),
        identity: age::x25519::Identity::generate(),
        signing: SigningKey::from_bytes(&[seed; 32]),
        secret: [seed.wrapping_add(100); 32],
    };
    doc.add_device(
        &p.member,
        &p.device,
        DeviceKeys {
            age_recipient: p.identity.to_public().to_string(),
            signing_key: hex::encode(p.signing.verifying_key().to_bytes()),
            binding: None,
        },
    )
    .unwrap();
    p
}

fn clear(doc: &mut SpaceDoc, coordinator: &MemberId, who: &MemberId) {
    for module in TrainingModule::ALL {
        doc.record_training(coordinator, who, module, Timestamp(0), Timestamp(10_000))
            .unwrap();
    }
}

struct World {
    doc: SpaceDoc,
    space: SpaceId,
    lead: Person,
    alex: Person,
    blake: Person,
    coordinator: MemberId,
    session: SessionId,
}

fn world() -> World {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let lead = person(&mut doc, &coordinator, "Ash", Role::Lead, 1);
    let alex = person(&mut doc, &coordinator, "Alex", Role::Member, 2);
    let blake = person(&mut doc, &coordinator, "Blake", Role::Member, 3);
    clear(&mut doc, &coordinator, &lead.member);
    let session = doc
        .create_session(
            &lead.member,
            SessionDraft {
                kind: SessionKind::SurvivorDiscussionGroup,
                title: "Circle".into(),
                description: String::new(),
                starts_at: Timestamp(500),
                duration_minutes: 60,
                location: "shared with attendees".into(),
                capacity: 1,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            Timestamp(0),
        )
        .unwrap();
    doc.volunteer_to_lead(&lead.member, &session, Timestamp(1))
        .unwrap();
    doc.decide_lead(&coordinator, &session, &lead.member, true, Timestamp(1))
        .unwrap();
    World {
        doc,
        space: SpaceId([4; 16]),
        lead,
        alex,
        blake,
        coordinator,
        session,
    }
}

fn request(w: &World, who: &Person, state: SignUpState, at: i64) -> AttendanceRequest {
    // The tests ask in time order, so the time serves as the counter.
    AttendanceRequest::new(
        &who.secret,
        w.space,
        &w.session,
        state,
        Timestamp(at),
        at as u64,
        &who.member,
        &who.device,
        &who.signing,
    )
}

/// The session's lead opens a sealed request and records it.
fn lead_records(w: &mut World, body: &[u8], now: i64) -> Result<(), AttendanceError> {
    let opened = AttendanceRequest::open(body, &w.lead.identity, &w.doc)?;
    apply_request(
        &mut w.doc,
        &w.lead.member,
        &w.lead.identity,
        &opened,
        Timestamp(now),
    )
}

#[test]
fn only_the_sessions_leads_learn_who_signed_up() {
    let mut w = world();
    let req = request(&w, &w.alex, SignUpState::Attending, 10);
    let body = req.seal(&w.doc, &w.alex.signing).unwrap();

    // Another member cannot open the request…
    assert!(matches!(
        AttendanceRequest::open(&body, &w.blake.identity, &w.doc),
        Err(AttendanceError::NotARecipient)
    ));
    // …the lead can, and records it.
    let opened = AttendanceRequest::open(&body, &w.lead.identity, &w.doc).unwrap();
    assert_eq!(opened, req);
    apply_request(
        &mut w.doc,
        &w.lead.member,
        &w.lead.identity,
        &opened,
        Timestamp(6),
    )
    .unwrap();

    // Every member sees one place taken, and nothing naming Alex.
    let roster = w.doc.roster(&w.session).unwrap();
    assert_eq!(roster.attending.len(), 1);
    let saved = w.doc.save();
    assert!(
        !saved
            .windows(alex_id_len(&w))
            .any(|win| win == w.alex.member.as_str().as_bytes())
    );
    assert!(
        attendees(&w.doc, &w.session, &w.blake.identity)
            .unwrap()
            .is_empty()
    );
    // Alex finds their own place from their ticket, on any of their devices.
    let mine = ticket_for(&w.alex.secret, w.space, &w.session);
    assert_eq!(w.doc.place(&w.session, &mine).unwrap(), Place::Attending);
    // The lead sees Alex by name.
    let seen = attendees(&w.doc, &w.session, &w.lead.identity).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].holder.pseudonym, "Alex");
    assert_eq!(seen[0].place, Place::Attending);
}

fn alex_id_len(w: &World) -> usize {
    w.alex.member.as_str().len()
}

#[test]
fn waitlist_order_converges_on_request_times_not_processing_order() {
    let mut w = world();
    let late = request(&w, &w.alex, SignUpState::Attending, 30);
    let early = request(&w, &w.blake, SignUpState::Attending, 20);
    // The lead happens to process the later request first.
    for r in [&late, &early] {
        let body = r
            .seal(
                &w.doc,
                &if r.member == w.alex.member {
                    w.alex.signing.clone()
                } else {
                    w.blake.signing.clone()
                },
            )
            .unwrap();
        lead_records(&mut w, &body, 40).unwrap();
    }
    let roster = w.doc.roster(&w.session).unwrap();
    assert_eq!(roster.attending, vec![early.ticket.clone()]);
    assert_eq!(roster.waitlist, vec![late.ticket.clone()]);
}

#[test]
fn a_member_cannot_cancel_someone_elses_place() {
    let mut w = world();
    let alex = request(&w, &w.alex, SignUpState::Attending, 10);
    let body = alex.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 2).unwrap();
    // Blake learned Alex's ticket somehow and asks to cancel it.
    let mut forged = request(&w, &w.blake, SignUpState::Cancelled, 11);
    forged.ticket = alex.ticket.clone();
    // Her statement is signed by her own ticket key, which does not hash
    // to Alex's ticket: refused on opening.
    let body = forged.seal(&w.doc, &w.blake.signing).unwrap();
    assert!(matches!(
        AttendanceRequest::open(&body, &w.lead.identity, &w.doc),
        Err(AttendanceError::BadSignature)
    ));
    // Signing as Alex without Alex's device key fails too.
    let mut impostor = request(&w, &w.alex, SignUpState::Cancelled, 12);
    impostor.device = w.alex.device.clone();
    let body = impostor.seal(&w.doc, &w.blake.signing).unwrap();
    assert!(matches!(
        AttendanceRequest::open(&body, &w.lead.identity, &w.doc),
        Err(AttendanceError::BadSignature)
    ));
    assert_eq!(
        w.doc.place(&w.session, &alex.ticket).unwrap(),
        Place::Attending
    );
}

#[test]
fn a_new_lead_sees_names_once_an_existing_lead_reseals() {
    let mut w = world();
    let req = request(&w, &w.alex, SignUpState::Attending, 10);
    let body = req.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 2).unwrap();

    let second = person(&mut w.doc, &w.coordinator.clone(), "Kai", Role::Lead, 7);
    clear(&mut w.doc, &w.coordinator.clone(), &second.member);
    w.doc
        .volunteer_to_lead(&second.member, &w.session, Timestamp(3))
        .unwrap();
    w.doc
        .decide_lead(
            &w.lead.member,
            &w.session,
            &second.member,
            true,
            Timestamp(3),
        )
        .unwrap();
    assert!(
        attendees(&w.doc, &w.session, &second.identity)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        reseal(&mut w.doc, &w.lead.member, &w.lead.identity, &w.session).unwrap(),
        1
    );
    let seen = attendees(&w.doc, &w.session, &second.identity).unwrap();
    assert_eq!(seen[0].holder.member, w.alex.member);
}

#[test]
fn requests_wait_when_no_lead_is_cleared() {
    let mut w = world();
    let uncleared = w
        .doc
        .create_session(
            &w.lead.member,
            SessionDraft {
                kind: SessionKind::Other,
                title: "Later".into(),
                description: String::new(),
                starts_at: Timestamp(900),
                duration_minutes: 30,
                location: String::new(),
                capacity: 5,
                content_notes: vec![],
                accessibility: String::new(),
                signups_close_before_minutes: None,
            },
            Timestamp(0),
        )
        .unwrap();
    w.doc
        .volunteer_to_lead(&w.blake.member, &uncleared, Timestamp(1))
        .unwrap();
    w.doc
        .decide_lead(
            &w.coordinator,
            &uncleared,
            &w.blake.member,
            true,
            Timestamp(1),
        )
        .unwrap();
    let mut req = request(&w, &w.alex, SignUpState::Attending, 10);
    req.session = uncleared;
    assert!(matches!(
        req.seal(&w.doc, &w.alex.signing),
        Err(AttendanceError::NoLeads)
    ));
}

#[test]
fn requests_travel_in_envelopes_signed_only_by_the_anonymous_member_key() {
    let w = world();
    let epoch = EpochKey::generate();
    let body = request(&w, &w.alex, SignUpState::Attending, 10)
        .seal(&w.doc, &w.alex.signing)
        .unwrap();
    let envelope = Envelope {
        kind: EnvelopeKind::AttendanceRequest,
        space: w.space,
        epoch: 0,
        author: DeviceId::from(ANONYMOUS_DEVICE.to_string()),
        sequence: 0,
        body,
    };
    let sealed = envelope
        .seal(&epoch.content_key(), &epoch.anonymous_signing_key())
        .unwrap();
    let anon = epoch.anonymous_signing_key().verifying_key();
    let opened = Envelope::open(&sealed, &epoch.content_key(), w.space, 0, |id| {
        (id.as_str() == ANONYMOUS_DEVICE).then_some(anon)
    })
    .unwrap();
    assert_eq!(opened.author.as_str(), ANONYMOUS_DEVICE);
    assert!(AttendanceRequest::open(&opened.body, &w.lead.identity, &w.doc).is_ok());
}

#[test]
fn every_sealed_holder_is_the_same_size_whatever_the_name() {
    // A lead reads names; everyone else sees only sealed bytes, whose
    // length must not tell a short pseudonym from a long one (here 64
    // characters of four bytes and JSON escapes), before or after a re-seal
    // to a new set of leads.
    let mut w = world();
    let name = "\u{1F600}\"".repeat(32);
    let long = person(&mut w.doc, &w.coordinator.clone(), &name, Role::Member, 8);
    let bodies = [
        request(&w, &w.alex, SignUpState::Attending, 10)
            .seal(&w.doc, &w.alex.signing)
            .unwrap(),
        request(&w, &long, SignUpState::Attending, 11)
            .seal(&w.doc, &long.signing)
            .unwrap(),
    ];
    for body in bodies {
        lead_records(&mut w, &body, 6).unwrap();
    }
    let sizes = |doc: &SpaceDoc| -> Vec<usize> {
        doc.session(&w.session)
            .unwrap()
            .signups
            .values()
            .map(|s| s.sealed.len())
            .collect()
    };
    let before = sizes(&w.doc);
    assert_eq!(before.len(), 2);
    assert_eq!(before[0], before[1], "{before:?}");
    let seen = attendees(&w.doc, &w.session, &w.lead.identity).unwrap();
    assert!(seen.iter().any(|a| a.holder.pseudonym == name));

    // Re-sealed to two leads: still one size for both.
    let second = person(&mut w.doc, &w.coordinator.clone(), "Kai", Role::Lead, 9);
    clear(&mut w.doc, &w.coordinator.clone(), &second.member);
    w.doc
        .volunteer_to_lead(&second.member, &w.session, Timestamp(7))
        .unwrap();
    w.doc
        .decide_lead(
            &w.lead.member,
            &w.session,
            &second.member,
            true,
            Timestamp(7),
        )
        .unwrap();
    let lead = w.lead.member.clone();
    reseal(&mut w.doc, &lead, &w.lead.identity, &w.session).unwrap();
    let after = sizes(&w.doc);
    assert_eq!(after[0], after[1], "{after:?}");
    // age's random grease stanza does not show either.
    for _ in 9..29 {
        reseal(&mut w.doc, &lead, &w.lead.identity, &w.session).unwrap();
        assert_eq!(sizes(&w.doc), after);
    }
    assert_eq!(
        attendees(&w.doc, &w.session, &second.identity)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn attending_again_keeps_the_original_place_and_an_old_request_is_not_recorded_again() {
    let mut w = world();
    let first = request(&w, &w.alex, SignUpState::Attending, 10);
    let body = first.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 11).unwrap();
    let blake = request(&w, &w.blake, SignUpState::Attending, 12);
    let sealed = blake.seal(&w.doc, &w.blake.signing).unwrap();
    lead_records(&mut w, &sealed, 12).unwrap();
    // Alex's device asks again (a re-send, or another of her devices).
    let again = request(&w, &w.alex, SignUpState::Attending, 20);
    let sealed = again.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &sealed, 21).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &first.ticket).unwrap(),
        Place::Attending
    );
    // She cancels; the lead then receives her first request again (a
    // replay): refused, the cancellation stands.
    let cancel = request(&w, &w.alex, SignUpState::Cancelled, 30);
    let sealed = cancel.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &sealed, 31).unwrap();
    assert!(matches!(
        lead_records(&mut w, &body, 32),
        Err(AttendanceError::StaleOrForged)
    ));
    assert_eq!(
        w.doc.place(&w.session, &first.ticket).unwrap(),
        Place::Cancelled
    );
    assert_eq!(
        w.doc.roster(&w.session).unwrap().attending,
        vec![blake.ticket]
    );
}

#[test]
fn a_ticket_a_lead_made_up_shows_as_unverified_to_the_other_leads() {
    let mut w = world();
    let real = request(&w, &w.alex, SignUpState::Attending, 10);
    let sealed = real.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &sealed, 10).unwrap();
    // The lead names Blake on a ticket of her own making, without Blake's
    // device binding it.
    let mut fake = request(&w, &w.blake, SignUpState::Attending, 11);
    fake.binding = real.binding.clone();
    let pseudonym = w.doc.member(&w.blake.member).unwrap().pseudonym;
    let holder = Holder {
        member: w.blake.member.clone(),
        pseudonym,
        device: w.blake.device.clone(),
        binding: fake.binding.clone(),
    };
    let sealed = seal_holder(&w.doc, &w.session, &holder).unwrap();
    let lead = w.lead.member.clone();
    w.doc
        .record_signup(
            &lead,
            &w.session,
            &fake.ticket,
            &fake.signup(Timestamp(11), sealed),
        )
        .unwrap();
    let seen = attendees(&w.doc, &w.session, &w.lead.identity).unwrap();
    let verified: Vec<(String, bool)> = seen
        .iter()
        .map(|a| (a.holder.pseudonym.clone(), a.verified))
        .collect();
    assert!(
        verified.contains(&("Alex".to_string(), true)),
        "{verified:?}"
    );
    assert!(
        verified.contains(&("Blake".to_string(), false)),
        "{verified:?}"
    );
}

#[test]
fn a_request_made_before_the_start_is_recorded_late_and_one_made_after_is_refused() {
    let mut w = world();
    // Alex asked at 400, offline; the lead records it after the start (500).
    let early = request(&w, &w.alex, SignUpState::Attending, 400);
    let body = early.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 600).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &early.ticket).unwrap(),
        Place::Attending
    );
    // Blake's (modified) app asks at 550: closed.
    let late = request(&w, &w.blake, SignUpState::Attending, 550);
    let body = late.seal(&w.doc, &w.blake.signing).unwrap();
    assert!(matches!(
        lead_records(&mut w, &body, 551),
        Err(AttendanceError::SignupsClosed)
    ));
    // Cancelling stays possible; nobody attends a cancelled session anew.
    let cancel = request(&w, &w.alex, SignUpState::Cancelled, 560);
    let body = cancel.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 561).unwrap();
    w.doc
        .set_session_status(&w.coordinator, &w.session, SessionStatus::Cancelled)
        .unwrap();
    let again = request(&w, &w.blake, SignUpState::Attending, 100);
    let body = again.seal(&w.doc, &w.blake.signing).unwrap();
    assert!(matches!(
        lead_records(&mut w, &body, 562),
        Err(AttendanceError::SignupsClosed)
    ));
}

/// Alex asks at 10 and takes the one place; Blake asks at 20 and waits.
fn alex_attends_and_blake_waits(w: &mut World) -> (AttendanceRequest, AttendanceRequest) {
    let alex = request(w, &w.alex, SignUpState::Attending, 10);
    let body = alex.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(w, &body, 11).unwrap();
    let blake = request(w, &w.blake, SignUpState::Attending, 20);
    let body = blake.seal(&w.doc, &w.blake.signing).unwrap();
    lead_records(w, &body, 21).unwrap();
    (alex, blake)
}

/// Alex's request signed at her original time 10 with `counter`.
fn alex_at_ten(w: &World, counter: u64) -> AttendanceRequest {
    AttendanceRequest::new(
        &w.alex.secret,
        w.space,
        &w.session,
        SignUpState::Attending,
        Timestamp(10),
        counter,
        &w.alex.member,
        &w.alex.device,
        &w.alex.signing,
    )
}

#[test]
fn a_departed_members_place_is_freed_by_a_lead_and_the_first_waiting_moves_up() {
    let mut w = world();
    let (alex, blake) = alex_attends_and_blake_waits(&mut w);
    assert_eq!(
        w.doc.place(&w.session, &blake.ticket).unwrap(),
        Place::Waitlisted { position: 1 }
    );
    // Nothing to free while everyone is still here.
    let lead = w.lead.member.clone();
    assert_eq!(
        free_departed(&mut w.doc, &lead, &w.lead.identity, &w.session).unwrap(),
        0
    );
    let coordinator = w.coordinator.clone();
    w.doc
        .remove_member(&coordinator, &w.alex.member, Timestamp(30))
        .unwrap();
    // A removed member can take no place, and cannot stop the lead's
    // device from freeing the one she had.
    let again = alex_at_ten(&w, 99);
    let body = again.seal(&w.doc, &w.alex.signing).unwrap();
    assert!(matches!(
        lead_records(&mut w, &body, 31),
        Err(AttendanceError::BadSignature)
    ));
    assert_eq!(
        free_departed(&mut w.doc, &lead, &w.lead.identity, &w.session).unwrap(),
        1
    );
    assert_eq!(
        w.doc.place(&w.session, &alex.ticket).unwrap(),
        Place::Cancelled
    );
    assert_eq!(
        w.doc.place(&w.session, &blake.ticket).unwrap(),
        Place::Attending
    );
    // Freeing again writes nothing.
    assert_eq!(
        free_departed(&mut w.doc, &lead, &w.lead.identity, &w.session).unwrap(),
        0
    );
    // A member only reads the mark; she cannot free anyone herself.
    let blake_member = w.blake.member.clone();
    assert!(
        w.doc
            .free_signup(&blake_member, &w.session, &blake.ticket)
            .is_err()
    );
}

#[test]
fn someone_who_left_may_still_give_up_her_place_after_the_departure_arrives() {
    let mut w = world();
    let (alex, blake) = alex_attends_and_blake_waits(&mut w);
    // She cancelled and then left, offline; the lead sees the departure
    // before the cancellation.
    let cancel = request(&w, &w.alex, SignUpState::Cancelled, 25);
    let body = cancel.seal(&w.doc, &w.alex.signing).unwrap();
    let alex_member = w.alex.member.clone();
    w.doc
        .remove_member(&alex_member, &alex_member, Timestamp(26))
        .unwrap();
    lead_records(&mut w, &body, 30).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &alex.ticket).unwrap(),
        Place::Cancelled
    );
    assert_eq!(
        w.doc.place(&w.session, &blake.ticket).unwrap(),
        Place::Attending
    );
}

#[test]
fn a_place_freed_from_a_member_still_here_comes_back_where_it_was_when_she_asks_again() {
    let mut w = world();
    let (alex, blake) = alex_attends_and_blake_waits(&mut w);
    // A hostile lead frees Alex's place though she is still here.
    let lead = w.lead.member.clone();
    w.doc.free_signup(&lead, &w.session, &alex.ticket).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &blake.ticket).unwrap(),
        Place::Attending
    );
    // Her device asks again with her original time and a newer counter:
    // even that lead records it (or another lead does), and the place is hers.
    let back = alex_at_ten(&w, 11);
    let body = back.seal(&w.doc, &w.alex.signing).unwrap();
    lead_records(&mut w, &body, 40).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &alex.ticket).unwrap(),
        Place::Attending
    );
    assert_eq!(
        w.doc.place(&w.session, &blake.ticket).unwrap(),
        Place::Waitlisted { position: 1 }
    );
    // The old mark names the old statement's signature: it frees nothing now.
    assert!(
        !w.doc
            .signup(&w.session, &alex.ticket)
            .unwrap()
            .unwrap()
            .freed
    );
}

#[test]
fn a_request_dated_before_its_member_joined_is_refused() {
    let mut w = world();
    // Casey joins at 40 and back-dates her request to 5, ahead of everyone
    // who asked since the session was announced.
    let coordinator = w.coordinator.clone();
    let member = w
        .doc
        .add_member(&coordinator, "Casey", Role::Member, Timestamp(40))
        .unwrap();
    let casey = enrol(&mut w.doc, member, 9);
    let back_dated = request(&w, &casey, SignUpState::Attending, 5);
    let body = back_dated.seal(&w.doc, &casey.signing).unwrap();
    assert!(matches!(
        lead_records(&mut w, &body, 50),
        Err(AttendanceError::BeforeJoining)
    ));
    assert_eq!(
        w.doc.place(&w.session, &back_dated.ticket).unwrap(),
        Place::NotSignedUp
    );
    // Dated from her join on, it is recorded (and a cancellation needs no
    // date at all).
    let honest = request(&w, &casey, SignUpState::Attending, 40);
    let body = honest.seal(&w.doc, &casey.signing).unwrap();
    lead_records(&mut w, &body, 50).unwrap();
    assert_eq!(
        w.doc.place(&w.session, &honest.ticket).unwrap(),
        Place::Attending
    );
}
