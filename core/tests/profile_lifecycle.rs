//! Lock, unlock, wrong secrets, attempt limit, wipe and duress, through the
//! public API only.

mod profile_support;

use std::fs;

use safespaces_core::profile::{KeyId, Profile, ProfileError, UnlockSecret};
use safespaces_core::store::DocumentId;
use secrecy::SecretString;

use profile_support::{FAST, snapshot_dir};

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn create(dir: &std::path::Path, secret: UnlockSecret) -> Profile {
    Profile::create_with_options(dir, secret, FAST).expect("create profile")
}

#[test]
fn locked_profile_refuses_every_read_and_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = create(dir.path(), UnlockSecret::Keystore([1; 32]));
    let id = DocumentId::random();
    profile.put_snapshot(id, b"bytes").expect("put");
    profile.lock();
    assert!(profile.is_locked());
    assert!(matches!(
        profile.get_document(id),
        Err(ProfileError::Locked)
    ));
    assert!(matches!(
        profile.put_snapshot(id, b"x"),
        Err(ProfileError::Locked)
    ));
    assert!(matches!(
        profile.append_increment(id, b"x"),
        Err(ProfileError::Locked)
    ));
    assert!(matches!(profile.document_ids(), Err(ProfileError::Locked)));
    assert!(matches!(
        profile.with_keyring(|_| ()),
        Err(ProfileError::Locked)
    ));
    assert!(matches!(
        profile.export_backup(&pass("p")),
        Err(ProfileError::Locked)
    ));
    assert!(matches!(
        profile.set_duress_passphrase(None),
        Err(ProfileError::Locked)
    ));
    let message = profile.get_document(id).expect_err("locked").to_string();
    assert!(message.contains("locked"), "{message}");
    profile
        .unlock(&UnlockSecret::Keystore([1; 32]))
        .expect("unlock");
    assert_eq!(
        profile
            .get_document(id)
            .expect("get")
            .expect("present")
            .snapshot
            .as_deref(),
        Some(&b"bytes"[..])
    );
}

#[test]
fn data_and_keys_survive_reopening_with_either_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = DocumentId::random();
    let recipient;
    {
        let profile = create(dir.path(), UnlockSecret::passphrase("first pass"));
        profile
            .set_keystore_secret(&[9; 32], Some(&pass("first pass")))
            .expect("keystore slot");
        profile.put_snapshot(id, b"snap").expect("put");
        profile.append_increment(id, b"inc").expect("append");
        profile.insert_key(KeyId([4; 16]), [5; 32]).expect("key");
        recipient = profile.device_recipient().expect("recipient");
        assert!(recipient.starts_with("age1"));
    }
    for secret in [
        UnlockSecret::Keystore([9; 32]),
        UnlockSecret::passphrase("first pass"),
    ] {
        let profile = Profile::open(dir.path()).expect("open");
        assert!(profile.is_locked());
        profile.unlock(&secret).expect("unlock");
        let doc = profile.get_document(id).expect("get").expect("present");
        assert_eq!(doc.snapshot.as_deref(), Some(&b"snap"[..]));
        assert_eq!(doc.increments, vec![b"inc".to_vec()]);
        profile
            .with_keyring(|k| {
                assert_eq!(k.device_recipient().to_string(), recipient);
                assert_eq!(
                    k.key(&KeyId([4; 16])).map(|k| *k.expose_bytes()),
                    Some([5; 32])
                );
            })
            .expect("keyring");
    }
}

#[test]
fn wrong_secret_is_a_clear_error_and_changes_no_byte_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = create(dir.path(), UnlockSecret::passphrase("right"));
    profile
        .put_snapshot(DocumentId::random(), b"data")
        .expect("put");
    profile
        .set_duress_passphrase(Some(&pass("duress")))
        .expect("duress");
    profile.lock();
    let before = snapshot_dir(dir.path());

    let reopened = Profile::open(dir.path()).expect("open");
    for wrong in [
        UnlockSecret::passphrase("wrong"),
        UnlockSecret::passphrase(""),
        UnlockSecret::Keystore([0; 32]),
    ] {
        let err = reopened.unlock(&wrong).expect_err("wrong secret");
        assert!(matches!(err, ProfileError::WrongSecret), "{err:?}");
        assert!(err.to_string().contains("not correct"));
        assert!(reopened.is_locked());
    }
    assert_eq!(snapshot_dir(dir.path()), before);
}

#[test]
fn missing_profile_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Profile::open(dir.path()),
        Err(ProfileError::NotFound(_))
    ));
    create(dir.path(), UnlockSecret::Keystore([1; 32]));
    assert!(matches!(
        Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST),
        Err(ProfileError::AlreadyExists(_))
    ));
}

#[test]
fn attempt_limit_wipes_after_the_last_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = create(dir.path(), UnlockSecret::passphrase("right"));
    profile
        .put_snapshot(DocumentId::random(), b"data")
        .expect("put");
    profile.set_attempt_limit(Some(3)).expect("limit");
    profile.lock();

    for _ in 0..2 {
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("no")),
            Err(ProfileError::WrongSecret)
        ));
    }
    // A success resets the count.
    profile
        .unlock(&UnlockSecret::passphrase("right"))
        .expect("unlock");
    profile.lock();
    for _ in 0..2 {
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("no")),
            Err(ProfileError::WrongSecret)
        ));
    }
    assert!(Profile::exists(dir.path()));
    // The failure that wipes says so at once: the app deletes its keystore
    // item then, not at some later attempt.
    assert!(matches!(
        profile.unlock(&UnlockSecret::passphrase("no")),
        Err(ProfileError::Wiped)
    ));
    assert!(!Profile::exists(dir.path()));
    assert!(matches!(
        profile.unlock(&UnlockSecret::passphrase("right")),
        Err(ProfileError::Wiped)
    ));
    assert!(matches!(
        Profile::open(dir.path()),
        Err(ProfileError::NotFound(_))
    ));
}

#[test]
fn wipe_destroys_keys_then_files_and_is_idempotent() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("profile");
    let profile = create(&dir, UnlockSecret::Keystore([3; 32]));
    for i in 0..5u8 {
        let id = DocumentId::random();
        profile.put_snapshot(id, &[i; 3000]).expect("put");
        profile.append_increment(id, &[i; 10]).expect("append");
    }
    // Keep a copy of the sealed files: after the wipe, even someone who
    // copied them earlier cannot open them with the new on-disk state, and
    // the directory itself is gone.
    profile.wipe().expect("wipe");
    assert!(!dir.exists(), "profile directory still exists");
    assert!(matches!(
        profile.get_document(DocumentId::random()),
        Err(ProfileError::Wiped)
    ));
    assert!(matches!(
        profile.unlock(&UnlockSecret::Keystore([3; 32])),
        Err(ProfileError::Wiped)
    ));
    profile.wipe().expect("second wipe is a no-op");

    // A locked profile wipes too, and files the app keeps next to it stay.
    let profile = create(&dir, UnlockSecret::Keystore([3; 32]));
    profile
        .put_snapshot(DocumentId::random(), b"x")
        .expect("put");
    fs::write(dir.join("app-settings.json"), b"{}").expect("write");
    profile.lock();
    let locked = Profile::open(&dir).expect("open");
    locked.wipe().expect("wipe while locked");
    let left: Vec<_> = snapshot_dir(&dir).into_keys().collect();
    assert_eq!(left, vec!["app-settings.json".to_owned()]);
    // The first handle's cached keys are useless now: the files are gone.
    assert!(profile.unlock(&UnlockSecret::Keystore([3; 32])).is_err());
}

#[test]
fn interrupted_wipe_leaves_nothing_that_opens() {
    // Simulates a kill right after the first wipe step: the unlock slots
    // overwritten in place, every other file still there.
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = create(dir.path(), UnlockSecret::passphrase("pw"));
    profile
        .put_snapshot(DocumentId::random(), b"secret")
        .expect("put");
    profile.lock();
    let slots = dir.path().join("unlock");
    let len = fs::metadata(&slots).expect("meta").len() as usize;
    fs::write(&slots, vec![0x5a; len]).expect("scrub");
    let reopened = Profile::open(dir.path()).expect("still looks like a profile");
    assert!(reopened.unlock(&UnlockSecret::passphrase("pw")).is_err());
    reopened.wipe().expect("finishing the wipe works");
    assert!(!Profile::exists(dir.path()));
}

#[test]
fn duress_passphrase_wipes_and_opens_a_fresh_looking_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real_doc = DocumentId::random();
    {
        let profile = create(dir.path(), UnlockSecret::passphrase("real pass"));
        profile.put_snapshot(real_doc, &[7u8; 5000]).expect("put");
        profile.insert_key(KeyId([1; 16]), [2; 32]).expect("key");
        profile
            .set_keystore_secret(&[8; 32], Some(&pass("real pass")))
            .expect("keystore");
        profile.set_attempt_limit(Some(10)).expect("limit");
        assert!(matches!(
            profile.set_duress_passphrase(Some(&pass("real pass"))),
            Err(ProfileError::InvalidInput(_))
        ));
        profile
            .set_duress_passphrase(Some(&pass("duress pass")))
            .expect("duress");
    }
    let before = snapshot_dir(dir.path());

    let profile = Profile::open(dir.path()).expect("open");
    profile
        .unlock(&UnlockSecret::passphrase("duress pass"))
        .expect("duress unlock succeeds");

    // Same API results as a fresh profile.
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = create(fresh_dir.path(), UnlockSecret::passphrase("duress pass"));
    assert!(!profile.is_locked());
    assert_eq!(
        profile.document_ids().expect("ids"),
        fresh.document_ids().expect("ids")
    );
    assert!(profile.get_document(real_doc).expect("get").is_none());
    assert_eq!(
        profile.with_keyring(|k| k.key_ids()).expect("keys"),
        fresh.with_keyring(|k| k.key_ids()).expect("keys")
    );

    // Same on-disk shape as a fresh profile: same fixed files, same sizes,
    // and no file of the real profile left (only fixed names recur).
    let after = snapshot_dir(dir.path());
    let fresh_files = snapshot_dir(fresh_dir.path());
    let sizes = |m: &std::collections::BTreeMap<String, Vec<u8>>| {
        let mut v: Vec<usize> = m.values().map(Vec::len).collect();
        v.sort();
        v
    };
    assert_eq!(sizes(&after), sizes(&fresh_files));
    assert_eq!(after["attempts"], fresh_files["attempts"]);
    for (name, bytes) in &after {
        if let Some(old) = before.get(name) {
            assert!(
                name == "unlock" || name == "attempts",
                "{name} survived duress"
            );
            assert_ne!(old, bytes, "{name} unchanged by duress");
        }
    }

    // The real secrets open nothing any more; the duress passphrase is now
    // the profile's ordinary passphrase.
    profile.lock();
    assert!(matches!(
        profile.unlock(&UnlockSecret::passphrase("real pass")),
        Err(ProfileError::WrongSecret)
    ));
    assert!(matches!(
        profile.unlock(&UnlockSecret::Keystore([8; 32])),
        Err(ProfileError::WrongSecret)
    ));
    profile
        .unlock(&UnlockSecret::passphrase("duress pass"))
        .expect("unlock again");
    assert!(profile.document_ids().expect("ids").is_empty());
}

#[test]
fn changing_the_passphrase_retires_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = create(dir.path(), UnlockSecret::passphrase("old"));
    profile.set_passphrase(&pass("new")).expect("change");
    profile.lock();
    assert!(matches!(
        profile.unlock(&UnlockSecret::passphrase("old")),
        Err(ProfileError::WrongSecret)
    ));
    profile
        .unlock(&UnlockSecret::passphrase("new"))
        .expect("unlock");
}

#[test]
fn profile_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Profile>();
}

#[test]
fn keystore_profile_carries_decoys_at_the_production_work_factor() {
    // Default options: the decoy passphrase slots must claim the production
    // work factor, or they would betray that no passphrase is set.
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::create(dir.path(), UnlockSecret::Keystore([2; 32])).expect("create");
    let slots = fs::read(dir.path().join("unlock")).expect("slots");
    let text = String::from_utf8_lossy(&slots);
    let scrypt_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("-> scrypt "))
        .collect();
    assert_eq!(scrypt_lines.len(), 2, "{scrypt_lines:?}");
    for line in scrypt_lines {
        assert!(line.ends_with(" 18"), "{line}");
    }
    drop(profile);
}
