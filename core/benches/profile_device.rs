//! Device-profile benchmarks: sealing a blob with the `safespaces-key`
//! recipient vs X25519, unlocking, opening a space of 100k changes (with the
//! plain-automerge baseline measured in the same run), and wiping.
//!
//! `cargo bench -p safespaces-core --bench profile_device`
//! (`-- duress_vs_real_unlock` for the duress timing alone).
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::iter;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use safespaces_core::crypto::SymmetricKey;
use safespaces_core::profile::{PassphraseWork, Profile, ProfileOptions, UnlockSecret};
use safespaces_core::store::DocumentId;
use secrecy::SecretString;

const FAST: ProfileOptions = ProfileOptions {
    passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
};

fn x25519_seal(recipient: &age::x25519::Recipient, plaintext: &[u8]) -> Vec<u8> {
    let encryptor =
        age::Encryptor::with_recipients(iter::once(recipient as &dyn age::Recipient)).expect("enc");
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).expect("header");
    w.write_all(plaintext).expect("write");
    w.finish().expect("finish");
    out
}

fn x25519_open(identity: &age::x25519::Identity, sealed: &[u8]) -> Vec<u8> {
    let decryptor = age::Decryptor::new_buffered(sealed).expect("header");
    let mut r = decryptor
        .decrypt(iter::once(identity as &dyn age::Identity))
        .expect("decrypt");
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read");
    out
}

fn seal_open(c: &mut Criterion) {
    let plaintext = vec![0x42u8; 1024];
    let key = SymmetricKey::generate();
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    eprintln!(
        "size of a sealed 1 KiB blob: safespaces-key {} B, x25519 {} B",
        key.seal(&plaintext).expect("seal").len(),
        x25519_seal(&recipient, &plaintext).len()
    );
    let mut group = c.benchmark_group("seal_open_1KiB");
    group.bench_function("safespaces_key", |b| {
        b.iter(|| {
            let sealed = key.seal(black_box(&plaintext)).expect("seal");
            black_box(key.open(&sealed).expect("open"));
        })
    });
    group.bench_function("x25519", |b| {
        b.iter(|| {
            let sealed = x25519_seal(&recipient, black_box(&plaintext));
            black_box(x25519_open(&identity, &sealed));
        })
    });
    group.finish();
}

fn unlock(c: &mut Criterion) {
    let mut group = c.benchmark_group("unlock");
    group.sample_size(10);

    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST)
        .expect("create");
    for _ in 0..20 {
        profile
            .put_snapshot(DocumentId::random(), &[7u8; 4096])
            .expect("put");
    }
    profile.lock();
    let secret = UnlockSecret::Keystore([1; 32]);
    group.bench_function("keystore_secret_20_docs", |b| {
        b.iter(|| {
            profile.unlock(&secret).expect("unlock");
            profile.lock();
        })
    });

    group.finish();

    // The production cost: scrypt at 2^18, both passphrase slots always
    // tried. Real, wrong and duress unlocks should cost about the same.
    let mut group = c.benchmark_group("unlock_passphrase_scrypt_logn18");
    group.sample_size(10);
    let with_duress = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = Profile::create(dir.path(), UnlockSecret::passphrase("real passphrase"))
            .expect("create");
        profile
            .put_snapshot(DocumentId::random(), &[7u8; 4096])
            .expect("put");
        profile
            .set_duress_passphrase(Some(&SecretString::from("duress passphrase".to_owned())))
            .expect("duress");
        profile.lock();
        (dir, profile)
    };
    let (_dir, profile) = with_duress();
    let real = UnlockSecret::passphrase("real passphrase");
    let wrong = UnlockSecret::passphrase("wrong passphrase");
    let duress = UnlockSecret::passphrase("duress passphrase");
    group.bench_function("real", |b| {
        b.iter(|| {
            profile.unlock(&real).expect("unlock");
            profile.lock();
        })
    });
    group.bench_function("wrong", |b| {
        b.iter(|| assert!(profile.unlock(&wrong).is_err()))
    });
    group.bench_function("duress", |b| {
        b.iter_batched(
            with_duress,
            |(dir, profile)| {
                profile.unlock(&duress).expect("duress unlock");
                drop(dir);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Copies a profile directory, so each duress unlock (which destroys the
/// profile it opens) starts from the same state without paying for
/// building it inside the measurement.
fn copy_profile(template: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(template).expect("ls").flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

/// A profile at the production scrypt cost with `docs` 4 KiB documents and
/// a duress passphrase, locked.
fn duress_template(docs: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile =
        Profile::create(dir.path(), UnlockSecret::passphrase("real passphrase")).expect("create");
    for _ in 0..docs {
        profile
            .put_snapshot(DocumentId::random(), &[7u8; 4096])
            .expect("put");
    }
    profile
        .set_duress_passphrase(Some(&SecretString::from("duress passphrase".to_owned())))
        .expect("duress");
    drop(profile);
    dir
}

/// A duress unlock beside a real one, for a small and a large profile: the
/// duress unlock destroys the slots synchronously and the bulk files on a
/// background thread, so its time must not grow with what it deletes.
/// Only `unlock` is timed; the background cleanup is waited for when the
/// profile is dropped, after the measurement.
fn duress_vs_real_unlock(c: &mut Criterion) {
    let mut group = c.benchmark_group("duress_vs_real_unlock");
    group.sample_size(10);
    for docs in [10usize, 2000] {
        let template = duress_template(docs);
        let real = UnlockSecret::passphrase("real passphrase");
        let duress = UnlockSecret::passphrase("duress passphrase");
        group.bench_function(format!("real_{docs}_docs"), |b| {
            let profile = Profile::open(template.path()).expect("open");
            b.iter(|| {
                black_box(profile.unlock(&real).expect("unlock"));
                profile.lock();
            })
        });
        group.bench_function(format!("duress_{docs}_docs"), |b| {
            b.iter_batched(
                || {
                    let dir = copy_profile(template.path());
                    let profile = Profile::open(dir.path()).expect("open");
                    (profile, dir)
                },
                // Returned, so dropping (the profile first: it waits for
                // the cleanup; then the directory) is not measured.
                |(profile, dir)| {
                    black_box(profile.unlock(&duress).expect("duress unlock"));
                    (profile, dir)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn open_space(c: &mut Criterion) {
    let mut doc = AutoCommit::new();
    for i in 0..100_000i64 {
        doc.put(ROOT, "counter", i).expect("put");
        doc.commit();
    }
    let snapshot = doc.save();
    eprintln!("100k-change space: snapshot {} bytes", snapshot.len());

    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST)
        .expect("create");
    let id = DocumentId::random();
    profile.put_snapshot(id, &snapshot).expect("put");

    let mut group = c.benchmark_group("open_space_100k_changes");
    group.sample_size(10);
    group.bench_function("plain_automerge_load", |b| {
        b.iter(|| black_box(AutoCommit::load(black_box(&snapshot)).expect("load")))
    });
    group.bench_function("profile_read_and_load", |b| {
        b.iter(|| {
            let stored = profile.get_document(id).expect("get").expect("present");
            let bytes = stored.snapshot.expect("snapshot");
            black_box(AutoCommit::load(&bytes).expect("load"))
        })
    });
    group.bench_function("profile_read_only", |b| {
        b.iter(|| black_box(profile.get_document(id).expect("get")))
    });
    group.finish();
}

fn wipe(c: &mut Criterion) {
    let mut group = c.benchmark_group("wipe");
    group.sample_size(10);
    group.bench_function("100_docs_4KiB_plus_3_increments", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let profile =
                    Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST)
                        .expect("create");
                for _ in 0..100 {
                    let id = DocumentId::random();
                    profile.put_snapshot(id, &[3u8; 4096]).expect("put");
                    for _ in 0..3 {
                        profile.append_increment(id, &[4u8; 64]).expect("append");
                    }
                }
                (dir, profile)
            },
            |(dir, profile)| {
                profile.wipe().expect("wipe");
                drop(dir);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    seal_open,
    unlock,
    duress_vs_real_unlock,
    open_space,
    wipe
);
criterion_main!(benches);
