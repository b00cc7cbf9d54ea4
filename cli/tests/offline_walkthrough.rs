//! The `safespaces` binary end to end, as separate processes: two profiles
//! meet offline through files only (invite package and bundles), a lead
//! records a sign-up made "offline", and both end with the same session.
//! Exit codes and JSON shapes are checked as scripts would rely on them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_safespaces");

struct Profile<'a> {
    dir: &'a Path,
    name: &'static str,
}

impl Profile<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--profile")
            .arg(self.dir.join(self.name))
            .args(["--passphrase-env", "SS_TEST_PASSPHRASE"])
            .args(args)
            .env("SS_TEST_PASSPHRASE", "a long test passphrase")
            .env("SS_TEST_EXPORT", "export passphrase")
            .current_dir(self.dir)
            .output()
            .expect("run safespaces")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "safespaces {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut with = vec!["--json"];
        with.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with)).unwrap()
    }
}

#[test]
fn two_leads_meet_offline_and_converge_with_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    let robin = Profile {
        dir: tmp.path(),
        name: "robin",
    };
    let blake = Profile {
        dir: tmp.path(),
        name: "blake",
    };
    robin.ok(&["init"]);
    blake.ok(&["init"]);

    let space = robin.json(&["space", "create", "Tuesday group", "--as", "Robin"]);
    let space_id = space["id"].as_str().unwrap().to_string();
    let session = robin.json(&[
        "session",
        "add",
        "Tuesday group",
        "--kind",
        "discussion",
        "--title",
        "Peer circle",
        "--starts",
        "2030-01-08T18:00",
        "--duration",
        "1h30m",
        "--capacity",
        "6",
        "--content-note",
        "discusses experiences of assault",
        "--accessibility",
        "step-free",
    ]);
    let session_id = session["id"].as_str().unwrap().to_string();
    // Nobody leads it yet: flagged from the moment it is planned.
    let warnings = robin.json(&["session", "warnings", &space_id]);
    assert_eq!(warnings[0]["session"], session_id.as_str());
    assert_eq!(warnings[0]["no_cleared_lead"], true);
    for module in ["signposting", "trauma-informed"] {
        robin.ok(&[
            "training",
            "record",
            &space_id,
            "Robin",
            "--module",
            module,
            "--completed",
            "2026-01-01",
            "--expires",
            "2099-01-01",
        ]);
    }
    robin.ok(&["session", "volunteer", &space_id, &session_id]);
    let warnings = robin.json(&["session", "warnings", &space_id]);
    assert_eq!(warnings.as_array().unwrap().len(), 0, "{warnings}");
    let expiring = robin.json(&["training", "expiring", &space_id]);
    assert_eq!(expiring.as_array().unwrap().len(), 0, "{expiring}");
    let expiring = robin.json(&["training", "expiring", &space_id, "--days", "40000"]);
    assert_eq!(expiring[0]["pseudonym"], "Robin");
    robin.ok(&[
        "resource",
        "add",
        &space_id,
        "--category",
        "crisis",
        "--name",
        "Night line",
        "--contact",
        "0800 000",
    ]);

    // Invite, request, welcome and first bundle, handed over face to face.
    let invite = robin.json(&["space", "invite", &space_id, "--package-out", "invite.pkg"]);
    let code = invite["code"].as_str().unwrap().to_string();
    assert!(code.starts_with("ss2-"));
    blake.ok(&[
        "space",
        "join",
        &code,
        "--as",
        "Blake",
        "--package",
        "invite.pkg",
        "--request-out",
        "blake.request",
    ]);
    let pending = blake.json(&["space", "pending"]);
    assert_eq!(pending[0]["name"], "Tuesday group");
    robin.ok(&[
        "space",
        "admit",
        &space_id,
        "--request",
        "blake.request",
        "--welcome-out",
        "blake.welcome",
    ]);
    robin.ok(&["bundle", "export", &space_id, "--out", "robin-1.bundle"]);
    blake.ok(&[
        "space",
        "complete-join",
        "--welcome",
        "blake.welcome",
        "--bundle",
        "robin-1.bundle",
    ]);
    let invites = robin.json(&["space", "invites", &space_id]);
    assert_eq!(invites[0]["state"], "used");

    // Blake signs up with no network: only a request.
    let place = blake.json(&["session", "signup", "Tuesday group", "Peer circle"]);
    assert_eq!(place["state"], "requested");
    blake.ok(&["bundle", "export", &space_id, "--out", "blake-1.bundle"]);

    let report = robin.json(&["bundle", "import", "blake-1.bundle"]);
    assert_eq!(report["requests_recorded"], 1);
    assert_eq!(report["refused"], 0);
    let shown = robin.json(&["session", "show", &space_id, &session_id]);
    assert_eq!(shown["attending"], 1);
    assert_eq!(shown["attendees"][0]["pseudonym"], "Blake");

    robin.ok(&["bundle", "export", &space_id, "--out", "robin-2.bundle"]);
    blake.ok(&["bundle", "import", "robin-2.bundle"]);
    let again = blake.json(&["bundle", "import", "robin-2.bundle"]);
    assert_eq!(again["applied"], 0, "importing twice changes nothing");
    let mine = blake.json(&["session", "show", &space_id, &session_id]);
    assert_eq!(mine["my_place"]["state"], "attending");
    assert_eq!(
        mine["attendees"].as_array().unwrap().len(),
        0,
        "members see counts, not names"
    );
    assert_eq!(mine["content_notes"][0], "discusses experiences of assault");
    let members = blake.json(&["space", "members", &space_id]);
    assert_eq!(members.as_array().unwrap().len(), 2);
    let resources = blake.json(&["resource", "list", &space_id, "--category", "crisis"]);
    assert_eq!(resources[0]["name"], "Night line");

    // Blake offers to lead: an offer, which she cannot accept herself.
    let offer = blake.json(&["session", "volunteer", &space_id, &session_id]);
    assert_eq!(offer["accepted"], false);
    let refused = blake.run(&["session", "accept", &space_id, &session_id, "Blake"]);
    assert_eq!(refused.status.code(), Some(5));
    blake.ok(&["bundle", "export", &space_id, "--out", "blake-2.bundle"]);
    robin.ok(&["bundle", "import", "blake-2.bundle"]);
    let shown = robin.json(&["session", "show", &space_id, &session_id]);
    let state_of = |shown: &serde_json::Value, who: &str| {
        shown["leads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["pseudonym"] == who)
            .map(|l| l["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state_of(&shown, "Blake").as_deref(), Some("offered"));
    // Robin declines, then names her cover lead after all; she stands
    // herself down again.
    let declined = robin.json(&["session", "decline", &space_id, &session_id, "Blake"]);
    assert_eq!(declined["state"], "declined");
    let named = robin.json(&["session", "name-lead", &space_id, &session_id, "Blake"]);
    assert_eq!(named["cleared"], false);
    let shown = robin.json(&["session", "show", &space_id, &session_id]);
    assert_eq!(state_of(&shown, "Blake").as_deref(), Some("accepted"));
    assert_eq!(state_of(&shown, "Robin").as_deref(), Some("accepted"));
    robin.ok(&[
        "session",
        "withdraw",
        &space_id,
        &session_id,
        "--member",
        "Blake",
    ]);
    let shown = robin.json(&["session", "show", &space_id, &session_id]);
    assert_eq!(state_of(&shown, "Blake"), None);

    // A member cannot plan sessions: a refusal, exit code 5.
    let refused = blake.run(&[
        "session",
        "add",
        &space_id,
        "--kind",
        "social",
        "--title",
        "x",
        "--starts",
        "2030-01-01",
        "--duration",
        "60",
        "--capacity",
        "3",
    ]);
    assert_eq!(refused.status.code(), Some(5));

    // Blake leaves: the space stays listed as left until she forgets it,
    // which is refused to Robin, still a member (exit code 5).
    assert_eq!(
        robin.run(&["space", "forget", &space_id]).status.code(),
        Some(5)
    );
    blake.ok(&["space", "leave", &space_id]);
    let listed = blake.json(&["space", "list"]);
    assert_eq!(listed[0]["left"], true);
    assert_eq!(robin.json(&["space", "list"])[0]["left"], false);
    let forgotten = blake.json(&["space", "forget", &space_id]);
    assert_eq!(forgotten["forgotten"], space_id.as_str());
    assert_eq!(blake.json(&["space", "list"]), serde_json::json!([]));

    // Nothing readable on disk.
    for entry in walk(tmp.path()) {
        if entry
            .extension()
            .is_some_and(|e| e == "bundle" || e == "pkg")
            || entry.starts_with(tmp.path().join("robin"))
            || entry.starts_with(tmp.path().join("blake"))
        {
            let bytes = std::fs::read(&entry).unwrap();
            for needle in ["Peer circle", "Blake", "Tuesday group", "Night line"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} in {}",
                    entry.display()
                );
            }
        }
    }
}

#[test]
fn a_bundle_not_meant_for_her_is_refused_not_called_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let robin = Profile {
        dir: tmp.path(),
        name: "robin",
    };
    let blake = Profile {
        dir: tmp.path(),
        name: "blake",
    };
    robin.ok(&["init"]);
    blake.ok(&["init"]);
    let space = robin.json(&["space", "create", "Tuesday group", "--as", "Robin"]);
    let space_id = space["id"].as_str().unwrap().to_string();
    robin.ok(&["bundle", "export", &space_id, "--out", "robin.bundle"]);
    std::fs::write(tmp.path().join("junk.bundle"), b"not a bundle at all").unwrap();

    // Another group's bundle, and a file that is no bundle: both refused
    // (exit code 5), saying what happened, and her data is not called
    // damaged (that would be 6).
    for file in ["robin.bundle", "junk.bundle"] {
        let refused = blake.run(&["bundle", "import", file]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(5), "{file}: {stderr}");
        assert!(
            stderr.contains("the bundle was refused: it is for no space on this device")
                && stderr.contains("nothing was changed")
                && !stderr.contains("damaged"),
            "{file}: {stderr}"
        );
        let json = blake.run(&["--json", "bundle", "import", file]);
        let body: Value = serde_json::from_slice(&json.stderr).unwrap();
        assert_eq!(body["exit_code"], 5);
    }
    assert_eq!(blake.json(&["space", "list"]), serde_json::json!([]));
}

#[test]
fn journal_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let me = Profile {
        dir: tmp.path(),
        name: "me",
    };
    // No profile yet: exit code 6.
    assert_eq!(me.run(&["journal", "list"]).status.code(), Some(6));
    me.ok(&["init"]);
    let first = me.json(&[
        "journal",
        "add",
        "a hard day",
        "--mood",
        "2",
        "--tag",
        "work",
    ]);
    me.ok(&["journal", "add", "a better one", "--tag", "walk"]);
    let id = first["id"].as_str().unwrap().to_string();
    me.ok(&["journal", "edit", &id, "a hard day, then tea"]);
    let tagged = me.json(&["journal", "list", "--tag", "work"]);
    assert_eq!(tagged[0]["text"], "a hard day, then tea");
    me.ok(&["journal", "delete", &id[..6]]);
    assert_eq!(me.json(&["journal", "list"]).as_array().unwrap().len(), 1);
    me.ok(&[
        "journal",
        "export",
        "--out",
        "journal.age",
        "--export-passphrase-env",
        "SS_TEST_EXPORT",
    ]);
    assert!(
        std::fs::read(tmp.path().join("journal.age"))
            .unwrap()
            .starts_with(b"age-encryption.org/v1\n")
    );
    // Bad input is a refusal; a wrong passphrase is exit code 3.
    assert_eq!(
        me.run(&["journal", "add", "x", "--mood", "9"])
            .status
            .code(),
        Some(5)
    );
    let wrong = Command::new(BIN)
        .args(["--profile"])
        .arg(tmp.path().join("me"))
        .args(["--passphrase-env", "WRONG", "journal", "list"])
        .env("WRONG", "not it")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(3));
    // Usage errors are exit code 2; wiping needs --yes, and then works.
    assert_eq!(me.run(&["wipe"]).status.code(), Some(2));
    me.ok(&["wipe", "--yes"]);
    assert_ne!(me.run(&["journal", "list"]).status.code(), Some(0));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn backup_restores_on_a_new_device_and_lock_checks_the_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let old = Profile {
        dir: tmp.path(),
        name: "old",
    };
    let new = Profile {
        dir: tmp.path(),
        name: "new",
    };
    old.ok(&["init"]);
    old.ok(&["space", "create", "Group", "--as", "Robin"]);
    old.ok(&["journal", "add", "kept through the backup"]);
    old.ok(&["lock"]);
    old.ok(&[
        "backup",
        "--out",
        "backup.age",
        "--backup-passphrase-env",
        "SS_TEST_EXPORT",
    ]);
    assert!(
        std::fs::read(tmp.path().join("backup.age"))
            .unwrap()
            .starts_with(b"age-encryption.org/v1\n")
    );
    new.ok(&[
        "restore",
        "backup.age",
        "--backup-passphrase-env",
        "SS_TEST_EXPORT",
    ]);
    let entries = new.json(&["journal", "list"]);
    assert_eq!(entries[0]["text"], "kept through the backup");
    let spaces = new.json(&["space", "list"]);
    assert_eq!(spaces[0]["name"], "Group");
    // A wrong backup passphrase changes nothing and says so.
    let wrong = Command::new(BIN)
        .arg("--profile")
        .arg(tmp.path().join("third"))
        .args([
            "--passphrase-env",
            "SS_TEST_PASSPHRASE",
            "restore",
            "backup.age",
            "--backup-passphrase-env",
            "WRONG",
        ])
        .env("SS_TEST_PASSPHRASE", "a long test passphrase")
        .env("WRONG", "not the backup passphrase")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(!tmp.path().join("third").join("unlock").exists());
}
