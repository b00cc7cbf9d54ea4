//! `passphrase` and `duress` end to end, as separate processes: after a
//! change the old passphrase is refused (exit code 3) and the new one
//! opens the same profile; after `duress`, unlocking with the duress
//! passphrase shows an empty profile and the real passphrase opens nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_safespaces");

fn run(profile: &Path, passphrase: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--profile")
        .arg(profile)
        .args(["--passphrase-env", "SS_PW", "--json"])
        .args(args)
        .env("SS_PW", passphrase)
        .env("SS_NEW", "the second passphrase")
        .env("SS_DURESS", "the duress passphrase")
        .output()
        .expect("run safespaces")
}

fn ok(profile: &Path, passphrase: &str, args: &[&str]) -> Value {
    let out = run(profile, passphrase, args);
    assert!(
        out.status.success(),
        "safespaces {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn passphrase_change_and_duress_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let first = "the first passphrase";
    ok(&profile, first, &["init"]);
    ok(
        &profile,
        first,
        &["space", "create", "Group", "--as", "Robin"],
    );

    ok(
        &profile,
        first,
        &["passphrase", "--new-passphrase-env", "SS_NEW"],
    );
    assert_eq!(run(&profile, first, &["lock"]).status.code(), Some(3));
    let second = "the second passphrase";
    assert_eq!(ok(&profile, second, &["space", "list"])[0]["name"], "Group");

    ok(
        &profile,
        second,
        &["duress", "--duress-passphrase-env", "SS_DURESS"],
    );
    // Still the same profile under the real passphrase.
    assert_eq!(ok(&profile, second, &["space", "list"])[0]["name"], "Group");
    // Forced to unlock: the duress passphrase opens an empty profile, and
    // the real passphrase opens nothing any more.
    let duress = "the duress passphrase";
    let spaces = ok(&profile, duress, &["space", "list"]);
    assert_eq!(spaces, serde_json::json!([]), "{spaces}");
    assert_eq!(run(&profile, second, &["lock"]).status.code(), Some(3));
    ok(&profile, duress, &["lock"]);
}
