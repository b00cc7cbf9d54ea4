//! Random interleavings of a term's attendance work on four real devices,
//! exchanged by bundles in any order: offers to lead, acceptances and
//! declines, withdrawals, sign-ups and cancellations, capacity and title
//! edits of a weekly series "this and following", a removal, and a hostile
//! member writing into the sign-ups herself. After everyone has heard
//! everyone, the honest devices hold the same state, and every sign-up is
//! what its owner last asked for, placed by the rules: nobody but a
//! recording lead (accepted, cleared at the start) wrote one, nothing a
//! member asked for is lost, and a removed member's places are freed.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod adversary;

use adversary::{Group, Mallory, draft, now};
use automerge::ReadDoc;
use automerge::transaction::Transactable;
use proptest::prelude::*;
use safespaces_core::app::MyPlace;
use safespaces_core::model::{
    Place, Role, SeriesEnd, SeriesRule, SessionEdit, SessionId, SignUpState,
};

/// Robin coordinates and leads, Lee may lead once accepted; Blake and
/// Casey are members (Casey may be removed); Mallory is hostile.
const HONEST: [&str; 4] = ["Robin", "Lee", "Blake", "Casey"];
const ATTENDEES: [&str; 3] = ["Lee", "Blake", "Casey"];
const OCCURRENCES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    /// An attendee asks for (or gives up) a place.
    SignUp {
        who: usize,
        session: usize,
        attend: bool,
    },
    /// Lee or Blake offers to lead (Blake is never cleared).
    Offer { who: usize, session: usize },
    /// Robin accepts or declines Lee's or Blake's offer.
    Decide {
        who: usize,
        session: usize,
        accept: bool,
    },
    /// Lee or Blake withdraws.
    Withdraw { who: usize, session: usize },
    /// Robin edits this occurrence and the following ones.
    EditFollowing { session: usize, capacity: u32 },
    /// Robin removes Casey (once).
    RemoveCasey,
    /// One honest device's bundle to another.
    Exchange { from: usize, to: usize },
    /// Mallory writes sign-ups herself and hands the bundle to someone.
    Forge { to: usize, kind: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, 0..OCCURRENCES, prop::bool::weighted(0.75))
            .prop_map(|(who, session, attend)| Op::SignUp { who, session, attend }),
        1 => (0..2usize, 0..OCCURRENCES).prop_map(|(who, session)| Op::Offer { who, session }),
        1 => (0..2usize, 0..OCCURRENCES, any::<bool>())
            .prop_map(|(who, session, accept)| Op::Decide { who, session, accept }),
        1 => (0..2usize, 0..OCCURRENCES).prop_map(|(who, session)| Op::Withdraw { who, session }),
        1 => (0..OCCURRENCES, 1..4u32)
            .prop_map(|(session, capacity)| Op::EditFollowing { session, capacity }),
        1 => Just(Op::RemoveCasey),
        5 => (0..4usize, 0..4usize).prop_map(|(from, to)| Op::Exchange { from, to }),
        1 => (0..4usize, 0..3u8).prop_map(|(to, kind)| Op::Forge { to, kind }),
    ]
}

/// Mallory's bundle of raw writes into the first occurrence's sign-ups:
/// a made-up statement, a copy of the first recorded statement under a
/// newer counter, or a freed mark on it.
fn forged(group: &Group, session: &SessionId, kind: u8) -> Option<Vec<u8>> {
    let mallory = Mallory::new(group.person("Mallory"), &group.space);
    let epoch = mallory.newest_epoch();
    let mut doc = mallory.doc(epoch);
    let since = doc.heads();
    let stored = doc.session(session).ok()?;
    let (ticket, signup) = stored
        .signups
        .iter()
        .next()
        .map(|(t, s)| (t.clone(), s.clone()))
        .unwrap_or_else(|| {
            (
                safespaces_core::model::TicketId::random(),
                safespaces_core::model::SignUp {
                    state: SignUpState::Attending,
                    at: now(),
                    recorded_at: now(),
                    counter: 1,
                    key: "00".repeat(32),
                    signature: "00".repeat(64),
                    sealed: "s".into(),
                    freed: false,
                },
            )
        });
    let device = mallory.device();
    let mut raw = automerge::AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(safespaces_core::protocol::authorship::actor_for_device(&device).unwrap());
    let sessions = raw.get(automerge::ROOT, "sessions").ok()??.1;
    let obj = raw.get(&sessions, session.as_str()).ok()??.1;
    let signups = raw.get(&obj, "signups").ok()??.1;
    match kind {
        0 => raw
            .put(
                &signups,
                safespaces_core::model::statement_key(&ticket, signup.counter + 5),
                signup.entry(),
            )
            .unwrap(),
        1 => {
            let mut cancel = signup.clone();
            cancel.state = SignUpState::Cancelled;
            cancel.counter += 1;
            raw.put(
                &signups,
                safespaces_core::model::statement_key(&ticket, cancel.counter),
                cancel.entry(),
            )
            .unwrap()
        }
        _ => raw
            .put(
                &signups,
                safespaces_core::model::freed_key(&ticket, signup.counter),
                signup.signature.as_str(),
            )
            .unwrap(),
    }
    raw.commit();
    let changes: Vec<Vec<u8>> = raw
        .get_changes(&since)
        .into_iter()
        .map(|mut c| c.bytes().to_vec())
        .collect();
    Some(mallory.bundle(&[epoch], epoch, &[mallory.batch(epoch, &changes)]))
}

/// What an honest device shows: sessions and every roster count.
fn state(group: &Group, name: &str, sessions: &[SessionId]) -> String {
    let space = group.space_of(name);
    let mut out = format!("{:?}\n", space.sessions().unwrap());
    for s in sessions {
        out.push_str(&format!("{:?}\n", space.roster(s).unwrap()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn every_sign_up_is_its_owners_last_word_placed_by_the_rules_on_every_device(
        ops in proptest::collection::vec(op(), 6..30)
    ) {
        let group = Group::new(&[
            ("Robin", Role::Coordinator),
            ("Lee", Role::Lead),
            ("Blake", Role::Member),
            ("Casey", Role::Member),
            ("Mallory", Role::Member),
        ]);
        group.clear("Robin", "Robin");
        group.clear("Robin", "Lee");
        let robin = group.space_of("Robin");
        // A month from now by the real clock: a lead's device frees the
        // places of departed members only in sessions still to come.
        let mut weekly = draft("Peer circle");
        weekly.starts_at = safespaces_core::model::Timestamp(
            safespaces_core::model::Timestamp::now().0 + 30 * 86_400,
        );
        let (_, sessions) = robin
            .create_series(
                weekly,
                SeriesRule { every_weeks: 1, end: SeriesEnd::Count(OCCURRENCES as u32) },
                now(),
            )
            .unwrap();
        for s in &sessions {
            robin.volunteer_to_lead(s, now()).unwrap();
        }
        group.share(0);

        // What each attendee last asked for, per session.
        let mut asked: [[Option<bool>; OCCURRENCES]; 3] = [[None; OCCURRENCES]; 3];
        let mut casey_removed = false;
        let may_lead = ["Lee", "Blake"];
        for op in &ops {
            match *op {
                Op::SignUp { who, session, attend } => {
                    if ATTENDEES[who] == "Casey" && casey_removed {
                        continue;
                    }
                    let state = if attend { SignUpState::Attending } else { SignUpState::Cancelled };
                    let space = group.space_of(ATTENDEES[who]);
                    if space.sign_up(&sessions[session], state, now()).is_ok() {
                        asked[who][session] = Some(attend);
                    }
                }
                Op::Offer { who, session } => {
                    let _ = group.space_of(may_lead[who]).volunteer_to_lead(&sessions[session], now());
                }
                Op::Decide { who, session, accept } => {
                    let _ = robin.decide_lead(&sessions[session], &group.member_id(may_lead[who]), accept, now());
                }
                Op::Withdraw { who, session } => {
                    let me = group.member_id(may_lead[who]);
                    let _ = group.space_of(may_lead[who]).withdraw_lead(&sessions[session], &me);
                }
                Op::EditFollowing { session, capacity } => {
                    robin
                        .edit_series_from(
                            &sessions[session],
                            SessionEdit { capacity: Some(capacity), ..Default::default() },
                        )
                        .unwrap();
                }
                Op::RemoveCasey => {
                    if !casey_removed {
                        robin.remove_member(&group.member_id("Casey"), now()).unwrap();
                        casey_removed = true;
                    }
                }
                Op::Exchange { from, to } if from != to => {
                    let bundle = group.bundle_of(HONEST[from]);
                    let _ = group.person(HONEST[to]).app.import_bundle(&bundle, now());
                    let _ = group.person("Mallory").app.import_bundle(&bundle, now());
                }
                Op::Exchange { .. } => {}
                Op::Forge { to, kind } => {
                    if let Some(bundle) = forged(&group, &sessions[0], kind) {
                        let _ = group.person(HONEST[to]).app.import_bundle(&bundle, now());
                    }
                }
            }
        }
        // Everyone still in hears everyone, until nothing changes.
        let inside: Vec<&str> = HONEST
            .iter()
            .copied()
            .filter(|n| !(casey_removed && *n == "Casey"))
            .collect();
        for _ in 0..4 {
            for from in &inside {
                let bundle = group.bundle_of(from);
                for to in inside.iter().filter(|to| *to != from) {
                    let _ = group.person(to).app.import_bundle(&bundle, now());
                }
            }
        }
        let seen = state(&group, "Robin", &sessions);
        for name in &inside[1..] {
            prop_assert_eq!(state(&group, name, &sessions), seen.clone(), "{} differs", name);
        }

        let casey = group.member_id("Casey");
        for (k, session) in sessions.iter().enumerate() {
            let stored = robin.session(session).unwrap();
            let roster = robin.roster(session).unwrap();
            let mut wanting = 0;
            for (who, name) in ATTENDEES.iter().enumerate() {
                if *name == "Casey" && casey_removed {
                    continue;
                }
                let place = group.space_of(name).my_place(session, now()).unwrap();
                match asked[who][k] {
                    // Nothing asked: nothing recorded (no forgery made one).
                    None => prop_assert_eq!(&place, &MyPlace::None, "{} in {}", name, k),
                    // Asked to attend: recorded with a place or a waitlist
                    // position, never lost and never cancelled by someone else.
                    Some(true) => {
                        wanting += 1;
                        prop_assert!(
                            matches!(place, MyPlace::Recorded(Place::Attending | Place::Waitlisted { .. })),
                            "{} in {}: {:?}", name, k, place
                        );
                    }
                    Some(false) => prop_assert!(
                        matches!(place, MyPlace::Recorded(Place::Cancelled)),
                        "{} in {}: {:?}", name, k, place
                    ),
                }
            }
            // The places go in order to whoever wants them, up to capacity.
            prop_assert_eq!(roster.attending, wanting.min(stored.capacity));
            prop_assert_eq!(roster.attending + roster.waitlisted, wanting);
            // A removed member holds no place (Robin, a lead, can tell).
            if casey_removed {
                let held = robin
                    .attendees(session)
                    .unwrap()
                    .into_iter()
                    .any(|a| a.holder.member == casey && a.place != Place::Cancelled);
                prop_assert!(!held, "Casey still holds a place in {}", k);
            }
        }
    }
}
