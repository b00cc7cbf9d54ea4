//! Every interleaving converges.
//!
//! N replicas of one space apply random sign-ups, cancellations, capacity
//! changes, offers to lead, acceptances, declines and withdrawals, and
//! training records, exchange changes with
//! each other in random order along the way, and finally receive every
//! change in a random order. All must end with identical documents and
//! identical derived rules: attending lists, waitlists and clearances.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use safespaces_core::model::{
    MemberId, Role, SessionDraft, SessionEdit, SessionId, SessionKind, SignUp, SignUpState,
    SpaceDoc, TicketId, Timestamp, TrainingModule,
};

const MEMBERS: usize = 5;
const SESSIONS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    SignUp {
        member: usize,
        session: usize,
        at: i64,
    },
    Cancel {
        member: usize,
        session: usize,
        at: i64,
    },
    Capacity {
        session: usize,
        capacity: u32,
    },
    Volunteer {
        member: usize,
        session: usize,
        at: i64,
    },
    /// The coordinator accepts or declines an offer.
    Decide {
        member: usize,
        session: usize,
        accept: bool,
    },
    /// A member withdraws her offer.
    Withdraw {
        member: usize,
        session: usize,
    },
    Train {
        member: usize,
        module: bool,
        completed: i64,
        expires: i64,
    },
    /// Replica `from` sends its changes to replica `to`, shuffled.
    Exchange {
        to: usize,
        seed: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..MEMBERS, 0..SESSIONS, 0..50i64).prop_map(|(member, session, at)| Op::SignUp { member, session, at }),
        2 => (0..MEMBERS, 0..SESSIONS, 0..50i64).prop_map(|(member, session, at)| Op::Cancel { member, session, at }),
        1 => (0..SESSIONS, 1..4u32).prop_map(|(session, capacity)| Op::Capacity { session, capacity }),
        1 => (0..MEMBERS, 0..SESSIONS, 0..50i64).prop_map(|(member, session, at)| Op::Volunteer { member, session, at }),
        1 => (1..MEMBERS, 0..SESSIONS, any::<bool>()).prop_map(|(member, session, accept)| Op::Decide { member, session, accept }),
        1 => (1..MEMBERS, 0..SESSIONS).prop_map(|(member, session)| Op::Withdraw { member, session }),
        1 => (0..MEMBERS, any::<bool>(), 0..50i64, 1..50i64)
            .prop_map(|(member, module, completed, len)| Op::Train { member, module, completed, expires: completed + len }),
        2 => (0..4usize, any::<u64>()).prop_map(|(to, seed)| Op::Exchange { to, seed }),
    ]
}

struct World {
    coordinator: MemberId,
    members: Vec<MemberId>,
    sessions: Vec<SessionId>,
    /// One ticket per member (the attendee derives it; here, fixed).
    tickets: Vec<TicketId>,
}

fn base() -> (SpaceDoc, World) {
    let (mut doc, coordinator) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
    let members: Vec<MemberId> = (0..MEMBERS)
        .map(|i| {
            doc.add_member(&coordinator, &format!("m{i}"), Role::Member, Timestamp(0))
                .unwrap()
        })
        .collect();
    let sessions = (0..SESSIONS)
        .map(|i| {
            doc.create_session(
                &coordinator,
                SessionDraft {
                    kind: SessionKind::SocialActivity,
                    title: format!("s{i}"),
                    description: String::new(),
                    starts_at: Timestamp(100),
                    duration_minutes: 60,
                    location: String::new(),
                    capacity: 2,
                    content_notes: vec![],
                    accessibility: String::new(),
                    signups_close_before_minutes: None,
                },
                safespaces_core::model::Timestamp(0),
            )
            .unwrap()
        })
        .collect();
    // Every session is led by the coordinator and by member 0, so sign-ups
    // are recorded concurrently by two different leads.
    for session in &sessions {
        doc.volunteer_to_lead(&coordinator, session, Timestamp(0))
            .unwrap();
        doc.volunteer_to_lead(&members[0], session, Timestamp(0))
            .unwrap();
        doc.decide_lead(&coordinator, session, &members[0], true, Timestamp(0))
            .unwrap();
    }
    for who in [&coordinator, &members[0]] {
        for module in TrainingModule::ALL {
            doc.record_training(&coordinator, who, module, Timestamp(0), Timestamp(1_000))
                .unwrap();
        }
    }
    let tickets = (0..MEMBERS).map(|_| TicketId::random()).collect();
    (
        doc,
        World {
            coordinator,
            members,
            sessions,
            tickets,
        },
    )
}

/// The next statement for a ticket on this replica (the model stores what
/// it is given; signatures are checked by the protocol layer, not here).
fn statement(
    doc: &SpaceDoc,
    session: &SessionId,
    ticket: &TicketId,
    state: SignUpState,
    at: i64,
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
        sealed: "sealed".into(),
        freed: false,
    }
}

fn send_shuffled(from: &mut SpaceDoc, to: &mut SpaceDoc, seed: u64) {
    let mut changes = from.changes_since(&[]);
    changes.shuffle(&mut StdRng::seed_from_u64(seed));
    to.apply_changes(&changes).unwrap();
}

/// Everything a member's app could observe, derived from one replica.
fn observe(doc: &SpaceDoc, world: &World) -> String {
    let mut out = String::new();
    for session in &world.sessions {
        out.push_str(&format!("{:?}\n", doc.session(session).unwrap()));
        out.push_str(&format!("{:?}\n", doc.roster(session).unwrap()));
        out.push_str(&format!(
            "{:?}\n",
            doc.session_leads(session, Timestamp(25)).unwrap()
        ));
        out.push_str(&format!("{:?}\n", doc.session_conflicts(session).unwrap()));
    }
    for member in &world.members {
        for at in [0, 25, 60] {
            out.push_str(&format!(
                "{:?}\n",
                doc.clearance(member, Timestamp(at)).unwrap()
            ));
        }
    }
    out.push_str(&format!("{:?}\n", doc.training_records().unwrap()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_under_any_interleaving(
        replicas in 2..=4usize,
        script in prop::collection::vec((0..4usize, op()), 1..60),
        final_seed in any::<u64>(),
    ) {
        let (mut origin, world) = base();
        let mut docs: Vec<SpaceDoc> = (0..replicas).map(|_| origin.fork()).collect();
        for (who, op) in script {
            let i = who % replicas;
            let m = |k: usize| &world.members[k];
            let s = |k: usize| &world.sessions[k];
            // Replicas alternate between the two leads' devices.
            let lead = |k: usize| if k.is_multiple_of(2) { &world.coordinator } else { &world.members[0] };
            // Refusals (cancel without a sign-up, bad expiry) are part of
            // the test: a refused operation must change nothing anywhere.
            let _ = match op {
                Op::SignUp { member, session, at } => {
                    let signup = statement(&docs[i], s(session), &world.tickets[member], SignUpState::Attending, at);
                    docs[i].record_signup(lead(i), s(session), &world.tickets[member], &signup)
                }
                Op::Cancel { member, session, at } => {
                    let signup = statement(&docs[i], s(session), &world.tickets[member], SignUpState::Cancelled, at);
                    docs[i].record_signup(lead(i), s(session), &world.tickets[member], &signup)
                }
                Op::Decide { member, session, accept } => docs[i].decide_lead(
                    &world.coordinator, s(session), m(member), accept, Timestamp(1),
                ),
                Op::Withdraw { member, session } => docs[i].withdraw_as_lead(m(member), s(session), m(member)),
                Op::Capacity { session, capacity } => docs[i].edit_session(
                    &world.coordinator,
                    s(session),
                    SessionEdit { capacity: Some(capacity), ..Default::default() },
                ),
                Op::Volunteer { member, session, at } => docs[i].volunteer_to_lead(m(member), s(session), Timestamp(at)),
                Op::Train { member, module, completed, expires } => docs[i]
                    .record_training(
                        &world.coordinator,
                        m(member),
                        if module { TrainingModule::Signposting } else { TrainingModule::TraumaInformed },
                        Timestamp(completed),
                        Timestamp(expires),
                    )
                    .map(|_| ()),
                Op::Exchange { to, seed } => {
                    let j = to % replicas;
                    if i != j {
                        let (a, b) = if i < j {
                            let (l, r) = docs.split_at_mut(j);
                            (&mut l[i], &mut r[0])
                        } else {
                            let (l, r) = docs.split_at_mut(i);
                            (&mut r[0], &mut l[j])
                        };
                        send_shuffled(a, b, seed);
                    }
                    Ok(())
                }
            };
        }
        // Final exchange: every replica receives every change, shuffled.
        let mut all: Vec<Vec<u8>> = docs.iter_mut().flat_map(|d| d.changes_since(&[])).collect();
        all.sort();
        all.dedup();
        for (k, doc) in docs.iter_mut().enumerate() {
            let mut mine = all.clone();
            mine.shuffle(&mut StdRng::seed_from_u64(final_seed.wrapping_add(k as u64)));
            doc.apply_changes(&mine).unwrap();
        }
        let heads = docs[0].heads();
        let seen = observe(&docs[0], &world);
        for doc in docs.iter_mut().skip(1) {
            prop_assert_eq!(doc.heads(), heads.clone());
            prop_assert_eq!(observe(doc, &world), seen.clone());
        }
        // And a replica built from a saved copy observes the same.
        let reloaded = SpaceDoc::load(&docs[0].save()).unwrap();
        prop_assert_eq!(observe(&reloaded, &world), seen);
    }
}
