//! Save and load of a space with 100k small changes, beside plain automerge
//! doing the same writes in the same run.
//!
//! The workload: 200 members and 20 sessions; each change records one
//! member's sign-up for one session or its cancellation (one automerge
//! change each, writing a `{state, at, sealed}` map under
//! `sessions/<id>/signups/<ticket>`), as a session lead does. The
//! plain-automerge baseline performs exactly those puts, without autosurgeon,
//! validation or permission checks.
//!
//! Run: `cargo bench -p safespaces-core --bench space_history`
//! (`SAFESPACES_BENCH_CHANGES=10000` for a quicker run).
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, transaction::Transactable};
use criterion::{Criterion, criterion_group, criterion_main};
use safespaces_core::model::{
    Role, SessionDraft, SessionKind, SignUpState, SpaceDoc, TicketId, Timestamp,
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
                },
            )
            .unwrap()
        })
        .collect();
    for s in &sessions {
        doc.volunteer_to_lead(&coordinator, s, Timestamp(2))
            .unwrap();
    }
    let mut attending = HashSet::new();
    for i in 0..n {
        let (s, m) = (i % SESSIONS, (i / SESSIONS) % MEMBERS);
        let at = Timestamp(10_000 + i as i64);
        let state = if attending.insert((s, m)) {
            SignUpState::Attending
        } else {
            attending.remove(&(s, m));
            SignUpState::Cancelled
        };
        doc.record_signup(&coordinator, &sessions[s], &tickets[m], state, at, &sealed)
            .unwrap();
    }
    doc
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
    let mut attending = HashSet::new();
    for i in 0..n {
        let (s, m) = (i % SESSIONS, (i / SESSIONS) % MEMBERS);
        let key = format!("{m:016x}");
        let entry = match doc.get(&signups[s], key.as_str()).unwrap() {
            Some((_, id)) => id,
            None => doc
                .put_object(&signups[s], key.as_str(), ObjType::Map)
                .unwrap(),
        };
        let state = if attending.insert((s, m)) {
            "attending"
        } else {
            attending.remove(&(s, m));
            "cancelled"
        };
        doc.put(&entry, "state", state).unwrap();
        doc.put(&entry, "at", 10_000 + i as i64).unwrap();
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
