//! Backup round trip, and interop: the stock `age` command decrypts a backup.

mod profile_support;

use std::io::Write;
use std::process::{Command, Stdio};

use safespaces_core::profile::{
    BACKUP_FORMAT, JournalEntry, JournalFormat, KeyId, Profile, ProfileError, UnlockSecret,
    export_journal, render_journal,
};
use safespaces_core::store::DocumentId;
use secrecy::SecretString;

use profile_support::FAST;

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn populated() -> (tempfile::TempDir, Profile, Vec<DocumentId>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST)
        .expect("create");
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let id = DocumentId::random();
        profile.put_snapshot(id, &[i; 2000]).expect("put");
        profile.append_increment(id, &[i, i]).expect("append");
        ids.push(id);
    }
    profile.insert_key(KeyId([6; 16]), [7; 32]).expect("key");
    (dir, profile, ids)
}

#[test]
fn backup_restores_documents_and_keys_on_a_new_device() {
    let (_dir, profile, ids) = populated();
    let backup = profile
        .export_backup(&pass("backup words"))
        .expect("export");
    assert!(backup.starts_with(b"age-encryption.org/v1\n-> scrypt "));

    let new_device = tempfile::tempdir().expect("tempdir");
    let restored = Profile::restore_backup(
        &backup,
        &pass("backup words"),
        new_device.path(),
        UnlockSecret::passphrase("new device pass"),
        FAST,
    )
    .expect("restore");
    for id in &ids {
        assert_eq!(
            restored.get_document(*id).expect("get"),
            profile.get_document(*id).expect("get")
        );
    }
    let same_device = |p: &Profile| {
        p.with_keyring(|k| {
            (
                k.device_recipient().to_string(),
                k.verifying_key().to_bytes(),
                k.key(&KeyId([6; 16])).map(|k| *k.expose_bytes()),
            )
        })
        .expect("keyring")
    };
    assert_eq!(same_device(&restored), same_device(&profile));

    restored.lock();
    restored
        .unlock(&UnlockSecret::passphrase("new device pass"))
        .expect("restored profile opens with its own secret");

    assert!(matches!(
        Profile::restore_backup(
            &backup,
            &pass("backup words"),
            new_device.path(),
            UnlockSecret::Keystore([2; 32]),
            FAST
        ),
        Err(ProfileError::AlreadyExists(_))
    ));
}

#[test]
fn backup_with_wrong_passphrase_is_refused() {
    let (_dir, profile, _) = populated();
    let backup = profile.export_backup(&pass("right")).expect("export");
    let target = tempfile::tempdir().expect("tempdir");
    let err = Profile::restore_backup(
        &backup,
        &pass("wrong"),
        target.path(),
        UnlockSecret::Keystore([1; 32]),
        FAST,
    )
    .expect_err("wrong passphrase");
    assert!(matches!(err, ProfileError::BackupPassphrase), "{err:?}");
    assert!(!Profile::exists(target.path()));
}

/// Decrypts `sealed` with the stock `age` binary, or returns `None` (after a
/// loud message) if `age` or `script` is not installed. age reads
/// passphrases only from a terminal, so it runs under `script`, which gives it
/// a pseudo-terminal fed from our stdin.
fn stock_age_decrypt(sealed: &[u8], passphrase: &str, test: &str) -> Option<Vec<u8>> {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !have("age") || !have("script") {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             SKIPPED {test}: the `age` or `script` command is not\n\
             installed (apt-get install -y age bsdutils).\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let input = work.path().join("in.age");
    let output = work.path().join("out");
    std::fs::write(&input, sealed).expect("write input");
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("age -d -o '{}' '{}'", output.display(), input.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{passphrase}\n").as_bytes())
        .expect("passphrase");
    let status = child.wait_with_output().expect("wait");
    assert!(
        status.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    Some(std::fs::read(&output).expect("decrypted output"))
}

#[test]
fn stock_age_decrypts_the_backup() {
    let (_dir, profile, ids) = populated();
    let backup = profile
        .export_backup(&pass("interop pass"))
        .expect("export");
    let Some(plain) = stock_age_decrypt(&backup, "interop pass", "stock_age_decrypts_the_backup")
    else {
        return;
    };
    let json: serde_json::Value = serde_json::from_slice(&plain).expect("archive is JSON");
    assert_eq!(json["format"], BACKUP_FORMAT);
    assert_eq!(json["version"], 1);
    assert_eq!(
        json["documents"].as_array().expect("documents").len(),
        ids.len()
    );
    assert!(
        json["keyring"]["device_identity"]
            .as_str()
            .expect("identity")
            .starts_with("AGE-SECRET-KEY-1")
    );
}

#[test]
fn stock_age_decrypts_the_journal_export() {
    let entries = vec![JournalEntry {
        created_at_ms: 1_764_000_000_000,
        text: "I went to the group tonight.".into(),
        mood: Some(4),
        tags: vec!["group".into()],
    }];
    for format in [JournalFormat::Markdown, JournalFormat::Json] {
        let sealed = export_journal(&entries, format, &pass("my journal"), FAST.passphrase_work)
            .expect("export");
        let Some(plain) = stock_age_decrypt(
            &sealed,
            "my journal",
            "stock_age_decrypts_the_journal_export",
        ) else {
            return;
        };
        assert_eq!(plain, render_journal(&entries, format).as_bytes());
    }
}
