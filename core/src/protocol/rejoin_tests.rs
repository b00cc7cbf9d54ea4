//! Coming back on the same device (protocol.md §5, "Coming back"): a person
//! who left is admitted again, with a new invite, from the phone she left
//! on. Her device is then listed under two member entries, the one that
//! left and the new one, and every check resolves it to the entry active at
//! the change's causal point. Every write here goes through `check_batch`
//! before it is applied, as on a receiving device.

use automerge::ROOT;
use ed25519_dalek::SigningKey;

use super::*;
use crate::model::{DeviceKeys, Timestamp};
use crate::protocol::SpaceId;
use crate::protocol::invite::{InviteSecret, JoinRequest};
use crate::protocol::removal::{key_holders, void_changes};

/// A phone: its id and the keys it signs its bindings with.
struct Phone {
    device: DeviceId,
    signing: SigningKey,
    recipient: String,
}

impl Phone {
    fn new(seed: u8) -> Self {
        Phone {
            device: DeviceId::random(),
            signing: SigningKey::from_bytes(&[seed; 32]),
            recipient: age::x25519::Identity::generate().to_public().to_string(),
        }
    }

    fn keys(&self) -> DeviceKeys {
        DeviceKeys {
            age_recipient: self.recipient.clone(),
            signing_key: hex::encode(self.signing.verifying_key().to_bytes()),
            binding: None,
        }
    }

    /// A join request from this phone, proven with the invite's code.
    fn request(&self, secret: &InviteSecret, pseudonym: &str) -> JoinRequest {
        JoinRequest::new(
            secret,
            SpaceId([0; 16]),
            pseudonym,
            &self.device,
            &self.keys(),
            &self.signing,
        )
    }
}

struct World {
    doc: SpaceDoc,
    /// Robin, the coordinator, and her device.
    robin: (MemberId, DeviceId),
    /// Sam's phone, admitted once as `sam`.
    phone: Phone,
    sam: MemberId,
}

/// The changes `device` makes with `write` on a replica of `doc`.
fn made_by(
    doc: &mut SpaceDoc,
    device: &DeviceId,
    write: impl FnOnce(&mut SpaceDoc),
) -> Vec<Change> {
    let mut r = doc.fork();
    r.set_actor(actor_for_device(device).unwrap());
    let since = r.heads();
    write(&mut r);
    r.changes_since(&since)
        .into_iter()
        .map(|b| Change::from_bytes(b).unwrap())
        .collect()
}

/// Checks `changes` as a receiver would, and applies them if they pass.
fn receive(
    doc: &mut SpaceDoc,
    device: &DeviceId,
    changes: Vec<Change>,
) -> Result<(), AuthorshipError> {
    check_batch(doc, device, &changes)?;
    doc.apply_decoded(changes).unwrap();
    Ok(())
}

/// Robin records an invite and admits `request` with it: the changes.
fn admission(w: &mut World, secret: &InviteSecret, request: &JoinRequest, at: i64) -> Vec<Change> {
    let robin = w.robin.clone();
    let invite = made_by(&mut w.doc, &robin.1, |r| {
        r.record_invite(
            &robin.0,
            &secret.invite_id(),
            &secret.verifying_key_hex(),
            Role::Member,
            Timestamp(1_000),
        )
        .unwrap();
    });
    receive(&mut w.doc, &robin.1, invite).unwrap();
    made_by(&mut w.doc, &robin.1, |r| admit(r, &robin.0, request, at))
}

/// `by` admits `request` on replica `r`.
fn admit(r: &mut SpaceDoc, by: &MemberId, request: &JoinRequest, at: i64) {
    r.admit(
        by,
        &request.invite,
        &request.member,
        &request.proof,
        &request.pseudonym,
        &request.device,
        request.keys.clone(),
        Timestamp(at),
    )
    .unwrap();
}

/// Robin's space, with Sam admitted from her phone.
fn world() -> World {
    let (mut doc, robin) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let rdev = DeviceId::random();
    doc.set_actor(actor_for_device(&rdev).unwrap());
    doc.add_device(
        &robin,
        &rdev,
        DeviceKeys {
            age_recipient: age::x25519::Identity::generate().to_public().to_string(),
            signing_key: hex::encode([1; 32]),
            binding: None,
        },
    )
    .unwrap();
    let phone = Phone::new(7);
    let mut w = World {
        doc,
        robin: (robin, rdev),
        phone,
        sam: MemberId::from(String::new()),
    };
    let secret = InviteSecret::generate();
    let request = w.phone.request(&secret, "Sam");
    let admit = admission(&mut w, &secret, &request, 10);
    let robin_dev = w.robin.1.clone();
    receive(&mut w.doc, &robin_dev, admit).unwrap();
    w.sam = request.member;
    w
}

/// Sam leaves from her phone.
fn leave(w: &mut World) {
    let (sam, dev) = (w.sam.clone(), w.phone.device.clone());
    let changes = made_by(&mut w.doc, &dev, |r| {
        r.remove_member(&sam, &sam, Timestamp(20)).unwrap();
    });
    receive(&mut w.doc, &dev, changes).unwrap();
}

/// Sam comes back on the same phone with a new invite: her new member id.
fn come_back(w: &mut World) -> MemberId {
    let secret = InviteSecret::generate();
    let request = w.phone.request(&secret, "Sam again");
    let admit = admission(w, &secret, &request, 30);
    let robin_dev = w.robin.1.clone();
    assert_eq!(receive(&mut w.doc, &robin_dev, admit), Ok(()));
    request.member
}

fn renamed(w: &mut World, as_member: &MemberId, name: &str) -> Vec<Change> {
    let dev = w.phone.device.clone();
    let member = as_member.clone();
    let name = name.to_string();
    made_by(&mut w.doc, &dev, move |r| {
        r.set_pseudonym(&member, &name).unwrap();
    })
}

#[test]
fn a_member_who_left_comes_back_on_the_same_phone_and_writes_as_her_new_self() {
    let mut w = world();
    leave(&mut w);
    let again = come_back(&mut w);
    assert_ne!(again, w.sam);
    assert_eq!(
        member_of_device(&w.doc, &w.phone.device),
        Some(again.clone())
    );

    let dev = w.phone.device.clone();
    let change = renamed(&mut w, &again, "Sam, back");
    let hash = change[0].hash();
    assert_eq!(receive(&mut w.doc, &dev, change), Ok(()));
    // Her old departure does not void what she writes as her new self, and
    // the next handover gives her phone the key.
    assert!(!void_changes(&mut w.doc).contains(&hash));
    assert!(key_holders(&mut w.doc).iter().any(|(d, _)| *d == dev));
}

#[test]
fn what_her_phone_wrote_out_of_the_space_stays_out_when_she_comes_back() {
    let mut w = world();
    // Robin removes Sam, who is offline; later a coordinator invites her
    // again. Her phone renamed her before it saw the removal (concurrently),
    // and a modified app renames her on top of it, not knowing she was
    // admitted again.
    let sam = w.sam.clone();
    let concurrent = renamed(&mut w, &sam, "queued offline");
    let concurrent_hash = concurrent[0].hash();
    let robin = w.robin.clone();
    let removal = made_by(&mut w.doc, &robin.1, |r| {
        r.remove_member(&robin.0, &sam, Timestamp(25)).unwrap();
    });
    receive(&mut w.doc, &robin.1, removal).unwrap();
    let after = renamed_raw_after_leaving(&mut w);
    let again = come_back(&mut w);

    let dev = w.phone.device.clone();
    // Arriving after the re-admission, each is judged where it was made.
    assert_eq!(
        check_batch(&w.doc, &dev, &after),
        Err(AuthorshipError::NotAMember)
    );
    assert_eq!(receive(&mut w.doc, &dev, concurrent), Ok(()));
    let new_self = renamed(&mut w, &again, "Sam, back");
    let new_hash = new_self[0].hash();
    assert_eq!(receive(&mut w.doc, &dev, new_self), Ok(()));
    let void = void_changes(&mut w.doc);
    assert!(
        void.contains(&concurrent_hash),
        "what she wrote as the removed member, not before her removal, counts for nothing"
    );
    assert!(
        !void.contains(&new_hash),
        "what she writes as her new self counts"
    );
}

/// A rename of her old entry, written by her phone on top of her
/// departure: what a modified app could send.
fn renamed_raw_after_leaving(w: &mut World) -> Vec<Change> {
    use automerge::transaction::Transactable;
    let mut am = AutoCommit::load(&w.doc.save())
        .unwrap()
        .with_actor(actor_for_device(&w.phone.device).unwrap());
    let since = am.get_heads();
    let members = child_at(&am, &ROOT, "members", None).unwrap();
    let me = child_at(&am, &members, w.sam.as_str(), None).unwrap();
    am.put(&me, "pseudonym", "still here").unwrap();
    am.commit();
    am.get_changes(&since)
}

#[test]
fn a_removed_member_cannot_let_herself_back_in() {
    let mut w = world();
    let (sam, dev) = (w.sam.clone(), w.phone.device.clone());
    // Robin makes her a lead (she may invite members), then removes her.
    let robin = w.robin.clone();
    let promote = made_by(&mut w.doc, &robin.1, |r| {
        r.set_role(&robin.0, &sam, Role::Lead).unwrap();
    });
    receive(&mut w.doc, &robin.1, promote).unwrap();
    let before_removal = w.doc.fork();
    let removal = made_by(&mut w.doc, &robin.1, |r| {
        r.remove_member(&robin.0, &sam, Timestamp(25)).unwrap();
    });
    receive(&mut w.doc, &robin.1, removal).unwrap();

    // Back-dated to before her removal, she invites and admits her own
    // phone as someone new: the phone is still hers there.
    let secret = InviteSecret::generate();
    let request = w.phone.request(&secret, "New me");
    let mut stale = before_removal;
    let self_admission = made_by(&mut stale, &dev, |r| {
        r.record_invite(
            &sam,
            &secret.invite_id(),
            &secret.verifying_key_hex(),
            Role::Member,
            Timestamp(1_000),
        )
        .unwrap();
        admit(r, &sam, &request, 26);
    });
    assert!(check_batch(&w.doc, &dev, &self_admission).is_err());

    // After her removal, nothing she writes counts, a self-made entry least.
    let (mut am, since) = {
        let mut am = AutoCommit::load(&w.doc.save())
            .unwrap()
            .with_actor(actor_for_device(&dev).unwrap());
        let heads = am.get_heads();
        (am, heads)
    };
    {
        use automerge::transaction::Transactable;
        let members = child_at(&am, &ROOT, "members", None).unwrap();
        let me = am
            .put_object(&members, "00112233aabbccdd", ObjType::Map)
            .unwrap();
        am.put(&me, "role", "coordinator").unwrap();
        am.commit();
    }
    assert_eq!(
        check_batch(&w.doc, &dev, &am.get_changes(&since)),
        Err(AuthorshipError::NotAMember)
    );
    assert_eq!(member_of_device(&w.doc, &dev), Some(sam));
    assert!(!key_holders(&mut w.doc).iter().any(|(d, _)| *d == dev));
}

#[test]
fn a_departed_members_phone_is_never_listed_with_other_keys() {
    let mut w = world();
    leave(&mut w);
    // Someone with a real invite asks with her phone's id and his own keys
    // (bound with his own key, so the binding verifies).
    let thief = Phone {
        device: w.phone.device.clone(),
        ..Phone::new(9)
    };
    let secret = InviteSecret::generate();
    let request = thief.request(&secret, "Not Sam");
    let admit = admission(&mut w, &secret, &request, 30);
    let robin = w.robin.1.clone();
    assert!(matches!(
        check_batch(&w.doc, &robin, &admit),
        Err(AuthorshipError::NotPermitted { .. })
    ));
}

#[test]
fn a_phone_still_in_the_space_is_not_admitted_again() {
    let mut w = world();
    let secret = InviteSecret::generate();
    let request = w.phone.request(&secret, "Twice");
    let admit = admission(&mut w, &secret, &request, 30);
    let robin = w.robin.1.clone();
    assert!(matches!(
        check_batch(&w.doc, &robin, &admit),
        Err(AuthorshipError::NotPermitted { .. })
    ));
}
