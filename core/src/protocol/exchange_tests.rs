//! The whole receive path: forged, tampered, replayed, removed.

use ed25519_dalek::SigningKey;

use super::*;
use crate::model::{DeviceKeys, MemberId, Role, SessionDraft, SessionKind, Timestamp};
use crate::protocol::authorship::actor_for_device;
use crate::protocol::invite::InviteSecret;

struct Device {
    id: DeviceId,
    signing: SigningKey,
}

struct World {
    space: SpaceId,
    key: EpochKey,
    origin: SpaceDoc,
    coordinator: (MemberId, Device),
    member: (MemberId, Device),
}

fn enrol(doc: &mut SpaceDoc, member: &MemberId, seed: u8) -> Device {
    let d = Device {
        id: DeviceId::random(),
        signing: SigningKey::from_bytes(&[seed; 32]),
    };
    doc.add_device(
        member,
        &d.id,
        DeviceKeys {
            age_recipient: age::x25519::Identity::generate().to_public().to_string(),
            signing_key: hex::encode(d.signing.verifying_key().to_bytes()),
            binding: None,
        },
    )
    .unwrap();
    d
}

fn world() -> World {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let cdev = enrol(&mut doc, &coordinator, 1);
    let member = doc
        .add_member(&coordinator, "Sam", Role::Member, Timestamp(1))
        .unwrap();
    let mdev = enrol(&mut doc, &member, 2);
    World {
        space: SpaceId([3; 16]),
        key: EpochKey::generate(),
        origin: doc,
        coordinator: (coordinator, cdev),
        member: (member, mdev),
    }
}

/// A device's replica, writing with its own actor id.
fn replica(origin: &mut SpaceDoc, device: &DeviceId) -> SpaceDoc {
    let mut r = origin.fork();
    r.set_actor(actor_for_device(device).unwrap());
    r
}

/// What `device` seals of `replica`'s changes since `since`, as envelope
/// number `sequence` of the space's first epoch.
fn sealed_by(
    w: &World,
    replica: &mut SpaceDoc,
    since: &[ChangeHash],
    device: &Device,
    sequence: u64,
) -> Vec<u8> {
    seal_changes(
        replica,
        since,
        w.space,
        0,
        &w.key,
        &device.id,
        &device.signing,
        sequence,
    )
    .unwrap()
    .unwrap()
}

fn draft() -> SessionDraft {
    SessionDraft {
        kind: SessionKind::SocialActivity,
        title: "Board games".into(),
        description: String::new(),
        starts_at: Timestamp(100),
        duration_minutes: 120,
        location: "Union".into(),
        capacity: 8,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

#[test]
fn a_signed_batch_from_a_member_is_applied_once_and_replays_change_nothing() {
    let mut w = world();
    let mut lead = replica(&mut w.origin, &w.coordinator.1.id);
    let since = lead.heads();
    lead.create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let sealed = sealed_by(&w, &mut lead, &since, &w.coordinator.1, 1);
    let mut receiver = w.origin.fork();
    let got = receive(&mut receiver, w.space, 0, &w.key, &sealed).unwrap();
    assert!(matches!(got, Received::Applied { new: 1, .. }));
    assert_eq!(receiver.sessions().unwrap().len(), 1);
    let heads = receiver.heads();
    // The same envelope again, e.g. a retried push or a relay replay.
    let again = receive(&mut receiver, w.space, 0, &w.key, &sealed).unwrap();
    assert!(matches!(again, Received::Applied { new: 0, .. }));
    assert_eq!(receiver.heads(), heads);
}

#[test]
fn a_forged_author_is_rejected_before_touching_the_document() {
    let mut w = world();
    let mut lead = replica(&mut w.origin, &w.coordinator.1.id);
    let since = lead.heads();
    lead.create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    // Claims to be the coordinator's device, signed with another key.
    let impostor = SigningKey::from_bytes(&[99; 32]);
    let sealed = seal_changes(
        &mut lead,
        &since,
        w.space,
        0,
        &w.key,
        &w.coordinator.1.id,
        &impostor,
        1,
    )
    .unwrap()
    .unwrap();
    let mut receiver = w.origin.fork();
    let before = receiver.heads();
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &sealed),
        Err(ReceiveError::Envelope(EnvelopeError::BadSignature))
    ));
    assert_eq!(receiver.heads(), before);
}

#[test]
fn a_member_signing_a_lead_only_change_is_rejected() {
    let mut w = world();
    // The member's device, bypassing its own app's checks, plans a session.
    let mut rogue = w.origin.fork();
    rogue.set_actor(actor_for_device(&w.member.1.id).unwrap());
    let since = rogue.heads();
    rogue
        .create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let sealed = sealed_by(&w, &mut rogue, &since, &w.member.1, 1);
    let mut receiver = w.origin.fork();
    let before = receiver.heads();
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &sealed),
        Err(ReceiveError::Authorship(
            AuthorshipError::NotPermitted { .. }
        ))
    ));
    assert_eq!(receiver.heads(), before);
}

#[test]
fn tampered_truncated_and_foreign_envelopes_are_rejected() {
    let mut w = world();
    let mut lead = replica(&mut w.origin, &w.coordinator.1.id);
    let since = lead.heads();
    lead.create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let sealed = sealed_by(&w, &mut lead, &since, &w.coordinator.1, 1);
    let mut receiver = w.origin.fork();
    let mut tampered = sealed.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x40;
    assert!(receive(&mut receiver, w.space, 0, &w.key, &tampered).is_err());
    assert!(
        receive(
            &mut receiver,
            w.space,
            0,
            &w.key,
            &sealed[..sealed.len() - 17]
        )
        .is_err()
    );
    assert!(receive(&mut receiver, w.space, 0, &EpochKey::generate(), &sealed).is_err());
    assert!(receive(&mut receiver, SpaceId([8; 16]), 0, &w.key, &sealed).is_err());
    assert!(receive(&mut receiver, w.space, 1, &w.key, &sealed).is_err());
    assert!(receiver.sessions().unwrap().is_empty());
}

#[test]
fn malformed_batches_never_panic() {
    for body in [
        &b""[..],
        &[0, 0, 0, 1][..],
        &[0, 0, 0, 1, 0, 0, 0, 9, 1][..],
        &[255, 255, 255, 255][..],
        &[0, 0, 0, 0, 7][..],
        // No change at all, with or without an attestation.
        &[0, 0, 0, 0][..],
        &[[0u8; 4].as_slice(), &[0u8; 64]].concat()[..],
    ] {
        assert!(decode_batch(body).is_err());
    }
}

/// Attestations of every listed device's newest change in `doc`, as each
/// device's own key signs them.
pub(super) fn attest_newest(
    doc: &mut automerge::AutoCommit,
    space: SpaceId,
    devices: &[(&DeviceId, &SigningKey)],
) -> Vec<Attestation> {
    let metas: Vec<(automerge::ActorId, u64, ChangeHash)> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| (m.actor.into_owned(), m.seq, m.hash))
        .collect();
    devices
        .iter()
        .filter_map(|(id, signing)| {
            let actor = actor_for_device(id)?;
            let (_, seq, hash) = metas
                .iter()
                .filter(|(a, _, _)| *a == actor)
                .max_by_key(|(_, seq, _)| *seq)?;
            Some(Attestation::sign_hash(space, id, *seq, *hash, signing))
        })
        .collect()
}

fn attest(
    doc: &mut automerge::AutoCommit,
    space: SpaceId,
    devices: &[&Device],
) -> Vec<Attestation> {
    let pairs: Vec<(&DeviceId, &SigningKey)> =
        devices.iter().map(|d| (&d.id, &d.signing)).collect();
    attest_newest(doc, space, &pairs)
}

/// A joiner's request for `secret`'s invite, from a fresh device.
fn join_request(secret: &InviteSecret, seed: u8) -> crate::protocol::invite::JoinRequest {
    let signing = SigningKey::from_bytes(&[seed; 32]);
    let keys = DeviceKeys {
        age_recipient: age::x25519::Identity::generate().to_public().to_string(),
        signing_key: hex::encode(signing.verifying_key().to_bytes()),
        binding: None,
    };
    crate::protocol::invite::JoinRequest::new(
        secret,
        SpaceId([3; 16]),
        "Alex",
        &DeviceId::random(),
        &keys,
        &signing,
    )
}

#[test]
fn a_joiner_enters_through_the_inviters_admission() {
    let mut w = world();
    let secret = InviteSecret::generate();
    w.origin
        .record_invite(
            &w.coordinator.0,
            &secret.invite_id(),
            &secret.verifying_key_hex(),
            Role::Member,
            Timestamp(1_000),
        )
        .unwrap();
    let request = join_request(&secret, 50);
    let mut inviter = replica(&mut w.origin, &w.coordinator.1.id);
    let since = inviter.heads();
    inviter
        .admit(
            &w.coordinator.0,
            &request.invite,
            &request.member,
            &request.proof,
            &request.pseudonym,
            &request.device,
            request.keys.clone(),
            Timestamp(10),
        )
        .unwrap();
    let sealed = sealed_by(&w, &mut inviter, &since, &w.coordinator.1, 1);
    let mut receiver = w.origin.fork();
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &sealed).unwrap(),
        Received::Applied { new: 1, .. }
    ));
    assert_eq!(receiver.member(&request.member).unwrap().pseudonym, "Alex");
}

#[test]
fn a_removed_members_later_batch_is_rejected() {
    let mut w = world();
    let mut rogue = replica(&mut w.origin, &w.member.1.id);
    w.origin
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(5))
        .unwrap();
    // The member saw their removal, then tries to write anyway.
    rogue.merge(&mut w.origin).unwrap();
    let since = rogue.heads();
    let mut raw = automerge::AutoCommit::load(&rogue.save())
        .unwrap()
        .with_actor(actor_for_device(&w.member.1.id).unwrap());
    let members = match automerge::ReadDoc::get(&raw, automerge::ROOT, "members").unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let me = match automerge::ReadDoc::get(&raw, &members, w.member.0.as_str()).unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    automerge::transaction::Transactable::put(&mut raw, &me, "pseudonym", "still here").unwrap();
    raw.commit();
    let changes: Vec<Vec<u8>> = raw
        .get_changes(&since)
        .into_iter()
        .map(|mut c| c.bytes().to_vec())
        .collect();
    let sealed = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space: w.space,
        epoch: 0,
        author: w.member.1.id.clone(),
        sequence: 2,
        body: batch_body(w.space, &w.member.1.id, &w.member.1.signing, &changes)
            .unwrap()
            .0,
    }
    .seal(&w.key.content_key(), &w.member.1.signing)
    .unwrap();
    assert!(matches!(
        receive(&mut w.origin, w.space, 0, &w.key, &sealed),
        Err(ReceiveError::Authorship(AuthorshipError::NotAMember))
    ));
}

#[test]
fn importing_someone_elses_history_checks_every_change_on_its_own() {
    let mut w = world();
    // Sam (a member) volunteers, legitimately, and then promotes himself by
    // hand; the coordinator plans a session on top of the forgery.
    let mut sams = replica(&mut w.origin, &w.member.1.id);
    let session = {
        let mut lead = replica(&mut w.origin, &w.coordinator.1.id);
        let s = lead
            .create_session(&w.coordinator.0, draft(), Timestamp(0))
            .unwrap();
        sams.merge(&mut lead).unwrap();
        s
    };
    sams.volunteer_to_lead(&w.member.0, &session, Timestamp(7))
        .unwrap();
    let mut raw = automerge::AutoCommit::load(&sams.save())
        .unwrap()
        .with_actor(actor_for_device(&w.member.1.id).unwrap());
    let members = match automerge::ReadDoc::get(&raw, automerge::ROOT, "members").unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let me = match automerge::ReadDoc::get(&raw, &members, w.member.0.as_str()).unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    automerge::transaction::Transactable::put(&mut raw, &me, "role", "coordinator").unwrap();
    raw.commit();
    let mut receiver = w.origin.fork();
    let proofs = attest(&mut raw, w.space, &[&w.coordinator.1, &w.member.1]);
    let report = import_history(&mut receiver, &mut raw, w.space, proofs.clone());
    assert_eq!(report.refused, 1, "{report:?}");
    assert_eq!(report.applied, 2);
    assert_eq!(receiver.member(&w.member.0).unwrap().role, Role::Member);
    assert_eq!(
        receiver
            .session_leads(&session, Timestamp(8))
            .unwrap()
            .len(),
        1
    );
    // Importing the same history again changes nothing.
    let heads = receiver.heads();
    let again = import_history(&mut receiver, &mut raw, w.space, proofs);
    assert_eq!(again.applied, 0);
    assert_eq!(receiver.heads(), heads);
}

#[test]
fn forged_training_in_a_snapshot_is_refused() {
    // Sam (a member) forks the document, writes as the coordinator's actor
    // a training record for himself, and hands over the result as his
    // snapshot. He can attest his own changes only: the forged one is
    // attributed to a device whose attestation does not reach it.
    let mut w = world();
    let mut forged = automerge::AutoCommit::load(&w.origin.save())
        .unwrap()
        .with_actor(actor_for_device(&w.coordinator.1.id).unwrap());
    let training = match automerge::ReadDoc::get(&forged, automerge::ROOT, "training").unwrap() {
        Some((_, id)) => id,
        None => panic!(),
    };
    let record = automerge::transaction::Transactable::put_object(
        &mut forged,
        &training,
        "00000000000000aa",
        automerge::ObjType::Map,
    )
    .unwrap();
    for (key, value) in [("member", w.member.0.as_str()), ("module", "signposting")] {
        automerge::transaction::Transactable::put(&mut forged, &record, key, value).unwrap();
    }
    forged.commit();
    // The coordinator's real attestation (of his last real change), and
    // one Sam signs for the forged change with his own key.
    let mut honest = automerge::AutoCommit::load(&w.origin.save()).unwrap();
    let mut proofs = attest(&mut honest, w.space, &[&w.coordinator.1]);
    let tip = forged.get_heads()[0];
    let fake = Attestation::sign_hash(w.space, &w.coordinator.1.id, 99, tip, &w.member.1.signing);
    proofs.push(fake);
    let mut receiver = w.origin.fork();
    let report = import_history(&mut receiver, &mut forged, w.space, proofs);
    assert_eq!((report.applied, report.refused), (0, 1), "{report:?}");
    assert!(receiver.training_records().unwrap().is_empty());
    // Nor does an attestation the snapshot carries for a change nobody can
    // show: none at all.
    let mut receiver = w.origin.fork();
    let report = import_history(&mut receiver, &mut forged, w.space, Vec::new());
    assert_eq!(report.refused, 1);
}

#[test]
fn an_invite_whose_creator_was_removed_admits_nobody() {
    // A lead invites someone and is removed; a join made after the removal
    // (at a causal point that holds it) is refused, whoever holds the code.
    let mut w = world();
    let lead = w
        .origin
        .add_member(&w.coordinator.0, "Lee", Role::Lead, Timestamp(1))
        .unwrap();
    let _lee = enrol(&mut w.origin, &lead, 7);
    let secret = InviteSecret::generate();
    w.origin
        .record_invite(
            &lead,
            &secret.invite_id(),
            &secret.verifying_key_hex(),
            Role::Member,
            Timestamp(1_000),
        )
        .unwrap();
    w.origin
        .remove_member(&w.coordinator.0, &lead, Timestamp(2))
        .unwrap();
    // The removed lead's device writes an admission by hand after seeing
    // her removal (the model refuses to).
    let request = join_request(&secret, 51);
    let member = request.member.clone();
    let mut am = automerge::AutoCommit::load(&w.origin.save())
        .unwrap()
        .with_actor(actor_for_device(&_lee.id).unwrap());
    let since = am.get_heads();
    {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ROOT, ReadDoc};
        let members = am.get(&ROOT, "members").unwrap().unwrap().1;
        let m = am
            .put_object(&members, member.as_str(), ObjType::Map)
            .unwrap();
        am.put(&m, "pseudonym", "Lee again").unwrap();
        am.put(&m, "role", "member").unwrap();
        am.put(&m, "joined_at", 10_i64).unwrap();
        am.put(&m, "removed_at", automerge::ScalarValue::Null)
            .unwrap();
        am.put(&m, "invite", secret.invite_id()).unwrap();
        let devices = am.put_object(&m, "devices", ObjType::Map).unwrap();
        let d = am
            .put_object(&devices, request.device.as_str(), ObjType::Map)
            .unwrap();
        am.put(&d, "age_recipient", request.keys.age_recipient.as_str())
            .unwrap();
        am.put(&d, "signing_key", request.keys.signing_key.as_str())
            .unwrap();
        am.put(&d, "binding", request.keys.binding.clone().unwrap())
            .unwrap();
        let invites = am.get(&ROOT, "invites").unwrap().unwrap().1;
        let invite = am.get(&invites, secret.invite_id()).unwrap().unwrap().1;
        am.put(&invite, "used_by", member.as_str()).unwrap();
        am.put(&invite, "proof", request.proof.as_str()).unwrap();
        am.commit();
    }
    let changes: Vec<Vec<u8>> = am
        .get_changes(&since)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let (body, _) = batch_body(w.space, &_lee.id, &_lee.signing, &changes).unwrap();
    let sealed = Envelope {
        kind: EnvelopeKind::ChangeBatch,
        space: w.space,
        epoch: 0,
        author: _lee.id.clone(),
        sequence: 1,
        body,
    }
    .seal(&w.key.content_key(), &_lee.signing)
    .unwrap();
    let mut receiver = w.origin.fork();
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &sealed),
        Err(ReceiveError::Authorship(_))
    ));
    assert!(receiver.member(&member).is_err());
}

#[test]
fn a_device_listed_after_the_receiver_looked_it_up_is_known_from_then_on() {
    // A receiver remembers what it looked up in its member list from one
    // receive to the next (`SpaceDoc::remembered`). The batch that lists a
    // new device must make it forget, or that device stays refused.
    let mut w = world();
    w.origin
        .create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let session = w.origin.sessions().unwrap()[0].0.clone();
    let new = Device {
        id: DeviceId::random(),
        signing: SigningKey::from_bytes(&[9; 32]),
    };
    let mut receiver = w.origin.fork();

    // The new device writes before the receiver knows it.
    let mut on_new = replica(&mut w.origin, &new.id);
    let since = on_new.heads();
    on_new
        .volunteer_to_lead(&w.member.0, &session, Timestamp(2))
        .unwrap();
    let from_new = sealed_by(&w, &mut on_new, &since, &new, 1);
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &from_new),
        Err(ReceiveError::Envelope(EnvelopeError::UnknownAuthor(_)))
    ));

    // The member's first device lists it, bound by the new device's key.
    let mut on_first = replica(&mut w.origin, &w.member.1.id);
    let since = on_first.heads();
    let mut keys = DeviceKeys {
        age_recipient: age::x25519::Identity::generate().to_public().to_string(),
        signing_key: hex::encode(new.signing.verifying_key().to_bytes()),
        binding: None,
    };
    keys.binding = Some(crate::protocol::devices::bind_device(
        &new.id,
        &keys,
        &new.signing,
    ));
    on_first.add_device(&w.member.0, &new.id, keys).unwrap();
    let listing = sealed_by(&w, &mut on_first, &since, &w.member.1, 1);
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &listing),
        Ok(Received::Applied { new: 1, .. })
    ));

    // Now the same envelope verifies under the key the listing recorded.
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &from_new),
        Ok(Received::Applied { new: 1, .. })
    ));
}

#[test]
fn who_leads_what_is_read_again_where_a_received_batch_wrote() {
    // A receiver remembers which sessions each member leads between
    // receives (`SpaceDoc::sessions_led_by`), kept across batches that
    // write only under named sessions. An acceptance arriving in a batch
    // must show in the next answer, as a copy that remembers nothing says.
    let mut w = world();
    for module in crate::model::TrainingModule::ALL {
        w.origin
            .record_training(
                &w.coordinator.0,
                &w.member.0,
                module,
                Timestamp(0),
                Timestamp(1_000_000),
            )
            .unwrap();
    }
    w.origin
        .create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let session = w.origin.sessions().unwrap()[0].0.clone();
    let mut receiver = w.origin.fork();
    assert!(receiver.sessions_led_by(&w.member.0).unwrap().is_empty());

    let mut on_member = replica(&mut w.origin, &w.member.1.id);
    let since = on_member.heads();
    on_member
        .volunteer_to_lead(&w.member.0, &session, Timestamp(2))
        .unwrap();
    let offer = sealed_by(&w, &mut on_member, &since, &w.member.1, 1);
    let mut on_coordinator = replica(&mut on_member, &w.coordinator.1.id);
    let since = on_coordinator.heads();
    on_coordinator
        .decide_lead(&w.coordinator.0, &session, &w.member.0, true, Timestamp(3))
        .unwrap();
    let accepted = sealed_by(&w, &mut on_coordinator, &since, &w.coordinator.1, 1);
    let open = |sealed: &[u8]| {
        Envelope::open_unverified(sealed, &w.key.content_key(), w.space, 0).unwrap()
    };
    let results = receive_batches(&mut receiver, vec![open(&offer), open(&accepted)]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let remembered = receiver.sessions_led_by(&w.member.0).unwrap();
    let from_scratch = SpaceDoc::load(&receiver.save())
        .unwrap()
        .sessions_led_by(&w.member.0)
        .unwrap();
    assert_eq!(remembered, vec![session]);
    assert_eq!(remembered, from_scratch);
}

#[test]
fn a_received_removal_is_judged_at_each_later_changes_causal_point() {
    // The receiver reads the member list's current state for a change
    // whose causal point has every member-list write in its past
    // (`SpaceDoc::member_list_settled_at`). A removal it received must not
    // count against what the member wrote concurrently, and must count
    // against what she wrote after seeing it; and a change that arrives
    // after the receiver already judged others at the current state is
    // still judged at its own point.
    let mut w = world();
    w.origin
        .create_session(&w.coordinator.0, draft(), Timestamp(0))
        .unwrap();
    let session = w.origin.sessions().unwrap()[0].0.clone();
    let mut receiver = w.origin.fork();

    // Settled: nothing concurrent yet, judged at the current state.
    let mut on_member = replica(&mut w.origin, &w.member.1.id);
    let since = on_member.heads();
    on_member.set_pseudonym(&w.member.0, "Sam again").unwrap();
    let settled = sealed_by(&w, &mut on_member, &since, &w.member.1, 1);
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &settled),
        Ok(Received::Applied { new: 1, .. })
    ));

    // The member offers to lead offline while the coordinator removes her.
    let since = on_member.heads();
    on_member
        .volunteer_to_lead(&w.member.0, &session, Timestamp(2))
        .unwrap();
    let concurrent = sealed_by(&w, &mut on_member, &since, &w.member.1, 2);
    let mut on_coordinator = replica(&mut receiver, &w.coordinator.1.id);
    let since = on_coordinator.heads();
    on_coordinator
        .remove_member(&w.coordinator.0, &w.member.0, Timestamp(3))
        .unwrap();
    let removal = sealed_by(&w, &mut on_coordinator, &since, &w.coordinator.1, 1);
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &removal),
        Ok(Received::Applied { new: 1, .. })
    ));
    assert!(receiver.member(&w.member.0).is_ok_and(|m| !m.is_active()));
    // Made before she saw the removal: it counts as her change then.
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &concurrent),
        Ok(Received::Applied { new: 1, .. })
    ));

    // Made after she saw it: refused.
    let mut after = replica(&mut receiver, &w.member.1.id);
    let since = after.heads();
    let mut raw = after.automerge().clone();
    raw.set_actor(actor_for_device(&w.member.1.id).unwrap());
    let members = match raw.get(automerge::ROOT, "members").unwrap() {
        Some((_, id)) => id,
        None => panic!("no members"),
    };
    let me = match raw.get(&members, w.member.0.as_str()).unwrap() {
        Some((_, id)) => id,
        None => panic!("no member"),
    };
    automerge::transaction::Transactable::put(&mut raw, &me, "pseudonym", "still here").unwrap();
    raw.commit();
    after = SpaceDoc::from_automerge(raw).unwrap();
    let late = sealed_by(&w, &mut after, &since, &w.member.1, 3);
    assert!(matches!(
        receive(&mut receiver, w.space, 0, &w.key, &late),
        Err(ReceiveError::Authorship(AuthorshipError::NotAMember))
    ));
}
