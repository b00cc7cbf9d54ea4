//! Save and load of a space with 100k small changes, beside plain automerge
//! doing the same writes in the same run.
//!
//! The workload: 200 members and 20 sessions; each change records one
//! member's sign-up for one session or its cancellation (one automerge
//! change each, writing the attendee's statement under
//! `sessions/<id>/signups/<ticket>.<counter>` and the sealed holder under
//! `sessions/<id>/signups/<ticket>`), as a session lead does. The
//! plain-automerge baseline performs exactly those puts, without
//! validation or permission checks.
//!
//! Run: `cargo bench -p safespaces-core --bench space_history`
//! (`SAFESPACES_BENCH_CHANGES=10000` for a quicker run).
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use automerge::{AutoCommit, ObjType, ROOT, transaction::Transactable};
use criterion::{Criterion, criterion_group, criterion_main};
use safespaces_core::model::{
    Role, SessionDraft, SessionKind, SignUp, SignUpState, SpaceDoc, TicketId, Timestamp,
    TrainingModule,
};

const MEMBERS: usize = 200;
const SESSIONS: usize = 20;
const SEALED_LEN: usize = 24;

fn changes() -> usize {
    std::env::var("SAFESPACES_BENCH_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn build_space(n: usize) -> SpaceDoc {
    let (mut doc, coordinator) = SpaceDoc::create("Bench group", "Robin", Timestamp(0)).unwrap();
    for i in 0..MEMBERS {
        doc.add_member(&coordinator, &format!("m{i}"), Role::Member, Timestamp(1))
            .unwrap();
    }
    let tickets: Vec<TicketId> = (0..MEMBERS).map(|_| TicketId::random()).collect();
    // A sealed name is an age file to the leads' devices; a fixed string of
    // the same length stands in so both sides write the same bytes.
    let sealed = "x".repeat(SEALED_LEN);
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|i| {
            doc.create_session(
                &coordinator,
                SessionDraft {
                    kind: SessionKind::WellbeingEvent,
                    title: format!("Session {i}"),
                    description: String::new(),
                    starts_at: Timestamp(1_000 + i as i64),
                    duration_minutes: 60,
                    location: "Room 1".into(),
                    capacity: 12,
                    content_notes: vec![],
                    accessibility: String::new(),
                    signups_close_before_minutes: None,
                },
                safespaces_core::model::Timestamp(0),
            )
            .unwrap()
        })
        .collect();
    for module in TrainingModule::ALL {
        doc.record_training(
            &coordinator,
            &coordinator,
            module,
            Timestamp(0),
            Timestamp(1_000_000),
        )
        .unwrap();
    }
    for s in &sessions {
        doc.volunteer_to_lead(&coordinator, s, Timestamp(2))
            .unwrap();
    }
    let mut attending = HashSet::new();
    for i in 0..n {
        let (s, m) = (i % SESSIONS, (i / SESSIONS) % MEMBERS);
        let signup = statement(
            i,
            attending.insert((s, m)) || !attending.remove(&(s, m)),
            &sealed,
        );
        doc.record_signup(&coordinator, &sessions[s], &tickets[m], &signup)
            .unwrap();
    }
    doc
}

/// The `i`th change's statement: the same bytes on both sides (a real one
/// is signed; the signature's length is what matters here).
fn statement(i: usize, attending: bool, sealed: &str) -> SignUp {
    SignUp {
        state: if attending {
            SignUpState::Attending
        } else {
            SignUpState::Cancelled
        },
        at: Timestamp(10_000 + i as i64),
        recorded_at: Timestamp(10_000 + i as i64),
        counter: i as u64 + 1,
        key: "k".repeat(64),
        signature: "s".repeat(128),
        sealed: sealed.to_string(),
        freed: false,
    }
}

fn build_plain(n: usize) -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "name", "Bench group").unwrap();
    let members = doc.put_object(ROOT, "members", ObjType::Map).unwrap();
    for i in 0..MEMBERS {
        let m = doc
            .put_object(&members, format!("{i:016x}"), ObjType::Map)
            .unwrap();
        doc.put(&m, "pseudonym", format!("m{i}")).unwrap();
        doc.commit();
    }
    let sessions = doc.put_object(ROOT, "sessions", ObjType::Map).unwrap();
    let signups: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let s = doc
                .put_object(&sessions, format!("{i:016x}"), ObjType::Map)
                .unwrap();
            doc.put(&s, "title", format!("Session {i}")).unwrap();
            let signups = doc.put_object(&s, "signups", ObjType::Map).unwrap();
            doc.commit();
            signups
        })
        .collect();
    let sealed = "x".repeat(SEALED_LEN);
    let mut attending = HashSet::new();
    for i in 0..n {
        let (s, m) = (i % SESSIONS, (i / SESSIONS) % MEMBERS);
        let ticket = format!("{m:016x}");
        let signup = statement(
            i,
            attending.insert((s, m)) || !attending.remove(&(s, m)),
            &sealed,
        );
        doc.put(
            &signups[s],
            format!("{ticket}.{:020}", signup.counter),
            signup.entry(),
        )
        .unwrap();
        doc.put(&signups[s], ticket.as_str(), sealed.as_str())
            .unwrap();
        doc.commit();
    }
    doc
}

fn bench(c: &mut Criterion) {
    let n = changes();
    let started = Instant::now();
    let mut space = build_space(n);
    let space_build = started.elapsed();
    let started = Instant::now();
    let mut plain = build_plain(n);
    let plain_build = started.elapsed();
    let space_bytes = space.save();
    let plain_bytes = plain.save();
    eprintln!(
        "{n} changes: built space in {space_build:?}, plain automerge in {plain_build:?}; \
         saved space {} bytes, plain {} bytes",
        space_bytes.len(),
        plain_bytes.len()
    );

    let mut group = c.benchmark_group(format!("history_{n}"));
    group.sample_size(10);
    group.bench_function("save/space", |b| b.iter(|| black_box(space.save())));
    group.bench_function("save/plain_automerge", |b| {
        b.iter(|| black_box(plain.save()))
    });
    group.bench_function("load/space", |b| {
        b.iter(|| black_box(SpaceDoc::load(&space_bytes).unwrap()))
    });
    group.bench_function("load/plain_automerge", |b| {
        b.iter(|| black_box(AutoCommit::load(&plain_bytes).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
