//! Crash test: a child process writes continuously and acknowledges each
//! durable write on stdout; the parent kills it with SIGKILL at random
//! instants, reopens the profile and checks that it opens and that every
//! acknowledged write is there.
//!
//! The child is this same test binary, re-executed to run
//! `crash_child_writer` with `SAFESPACES_CRASH_CHILD_DIR` set; without that
//! variable the child test returns at once. The same is done for a duress
//! unlock, which rewrites the profile, killed at random instants.

mod profile_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use rand::Rng;
use safespaces_core::profile::{Profile, ProfileError, UnlockSecret};
use safespaces_core::store::DocumentId;

use profile_support::FAST;

const CHILD_ENV: &str = "SAFESPACES_CRASH_CHILD_DIR";
const DURESS_CHILD_ENV: &str = "SAFESPACES_CRASH_DURESS_DIR";
const SECRET: [u8; 32] = [0x42; 32];
const LOG_DOC: DocumentId = DocumentId([1; 16]);
const SNAPSHOT_DOC: DocumentId = DocumentId([2; 16]);
const KILLS: usize = 30;

fn load(profile: &Profile, id: DocumentId) -> AutoCommit {
    match profile.get_document(id).expect("get") {
        None => AutoCommit::new(),
        Some(stored) => {
            let mut doc = match &stored.snapshot {
                Some(bytes) => AutoCommit::load(bytes).expect("snapshot loads"),
                None => AutoCommit::new(),
            };
            for inc in &stored.increments {
                doc.load_incremental(inc).expect("increment loads");
            }
            doc
        }
    }
}

/// Keys `k<n>` present in the log document.
fn written(doc: &AutoCommit) -> BTreeSet<u64> {
    doc.keys(ROOT)
        .filter_map(|k| k.strip_prefix('k').and_then(|n| n.parse().ok()))
        .collect()
}

#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let profile = Profile::open_with_options(Path::new(&dir), FAST).expect("child open");
    profile
        .unlock(&UnlockSecret::Keystore(SECRET))
        .expect("child unlock");
    let mut log = load(&profile, LOG_DOC);
    let mut snap = load(&profile, SNAPSHOT_DOC);
    let mut next = written(&log).last().map_or(1, |n| n + 1);
    let stdout = std::io::stdout();
    loop {
        log.put(ROOT, format!("k{next}"), next).expect("put");
        profile
            .append_increment(LOG_DOC, &log.save_incremental())
            .expect("append");
        if next.is_multiple_of(7) {
            // Exercise full snapshots (and their chunk replacement) too.
            snap.put(ROOT, "latest", next).expect("put");
            profile
                .put_snapshot(SNAPSHOT_DOC, &snap.save())
                .expect("snapshot");
        }
        let mut out = stdout.lock();
        writeln!(out, "ACK {next}").expect("ack");
        out.flush().expect("flush");
        next += 1;
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_at_random_instants() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(
        Profile::create_with_options(dir.path(), UnlockSecret::Keystore(SECRET), FAST)
            .expect("create"),
    );
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::thread_rng();
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let mut last_snapshot_ack = 0u64;

    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may print its "test name ... " prefix on the same line.
                let ack = line
                    .split_once("ACK ")
                    .and_then(|(_, n)| n.trim().parse::<u64>().ok());
                if let Some(n) = ack {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            }
        });
        if round % 5 == 4 {
            // Sometimes kill during start-up: unlock, sweep, first write.
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..30_000)));
        } else {
            // Otherwise wait until it is writing, then kill it anywhere.
            let first = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("child acknowledges a write");
            acknowledged.insert(first);
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..150_000)));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        acknowledged.extend(rx.try_iter());
        // A snapshot is acknowledged with the write whose number it carries
        // (a child killed between the two never acknowledged that number).
        if let Some(&n) = acknowledged.iter().rev().find(|n| *n % 7 == 0) {
            last_snapshot_ack = n;
        }

        let profile = Profile::open_with_options(dir.path(), FAST).expect("reopen");
        profile
            .unlock(&UnlockSecret::Keystore(SECRET))
            .unwrap_or_else(|e| panic!("round {round}: profile fails to open after kill: {e}"));
        let present = written(&load(&profile, LOG_DOC));
        let missing: Vec<_> = acknowledged.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged writes lost: {missing:?}"
        );
        if last_snapshot_ack > 0 {
            let snap = load(&profile, SNAPSHOT_DOC);
            let latest = snap
                .get(ROOT, "latest")
                .expect("get")
                .and_then(|(v, _)| v.as_u64())
                .unwrap_or(0);
            assert!(
                latest >= last_snapshot_ack,
                "round {round}: snapshot {last_snapshot_ack} lost"
            );
        }
    }
    assert!(
        acknowledged.len() > KILLS,
        "too few writes to mean anything"
    );
    eprintln!(
        "crash test: {KILLS} kills, {} acknowledged writes, all present",
        acknowledged.len()
    );
}

#[test]
fn crash_child_duress() {
    let Ok(dir) = std::env::var(DURESS_CHILD_ENV) else {
        return;
    };
    let profile = Profile::open_with_options(Path::new(&dir), FAST).expect("child open");
    profile
        .unlock(&UnlockSecret::passphrase("duress"))
        .expect("child duress unlock");
    println!("DURESS DONE");
}

#[test]
fn kill_during_duress_leaves_either_the_old_or_the_new_profile() {
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::thread_rng();
    let (mut before, mut after) = (0, 0);
    for round in 0..20 {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs: Vec<DocumentId> = (0..5).map(|_| DocumentId::random()).collect();
        {
            let profile =
                Profile::create_with_options(dir.path(), UnlockSecret::passphrase("real"), FAST)
                    .expect("create");
            for id in &docs {
                profile.put_snapshot(*id, b"real data").expect("put");
            }
            profile
                .set_duress_passphrase(Some(&secrecy::SecretString::from("duress".to_owned())))
                .expect("duress");
        }
        let mut child = Command::new(&exe)
            .args([
                "crash_child_duress",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DURESS_CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..25_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let profile = Profile::open_with_options(dir.path(), FAST)
            .unwrap_or_else(|e| panic!("round {round}: profile missing after kill: {e}"));
        match profile.unlock(&UnlockSecret::passphrase("real")) {
            Ok(_) => {
                // Killed before the commit point: the real profile is whole.
                before += 1;
                for id in &docs {
                    assert!(
                        profile.get_document(*id).expect("get").is_some(),
                        "round {round}: real document lost without duress completing"
                    );
                }
                profile.lock();
            }
            Err(ProfileError::WrongSecret) => after += 1,
            Err(e) => panic!("round {round}: real passphrase gave {e}"),
        }
        // Either way the duress passphrase opens an empty profile now.
        profile
            .unlock(&UnlockSecret::passphrase("duress"))
            .unwrap_or_else(|e| panic!("round {round}: duress passphrase fails after kill: {e}"));
        assert!(
            profile.document_ids().expect("ids").is_empty(),
            "round {round}"
        );
        profile.lock();
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("real")),
            Err(ProfileError::WrongSecret)
        ));
    }
    eprintln!("duress kill test: {before} kills before the commit point, {after} after");
}
