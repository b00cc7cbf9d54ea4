//! `sync`, relay invites and `link-device`, as separate processes against a
//! real relay process (built alongside this binary; scripts/test-all.sh
//! builds the workspace's binaries first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

use safespaces_relay::test_support::relay_process::{RelayOptions, RelayProcess, Stderr};

const BIN: &str = env!("CARGO_BIN_EXE_safespaces");

/// A development relay with `dir/relay-data` for its data: the binary
/// built beside this one (`cargo build --workspace --bins`), through the
/// relay's own process harness.
fn relay(dir: &Path) -> RelayProcess {
    relay_with(dir, &[])
}

/// A development relay with extra flags (e.g. `--access-token`).
fn relay_with(dir: &Path, extra: &[&str]) -> RelayProcess {
    let bin = Path::new(BIN).parent().unwrap().join("safespaces-relay");
    assert!(
        bin.exists(),
        "build the relay first: cargo build --workspace --bins"
    );
    RelayOptions::new(bin, &dir.join("relay-data"))
        .args(extra)
        .env_remove("SAFESPACES_RELAY_ACCESS_TOKEN")
        .log("warn", Stderr::Null)
        .start()
}

fn ss(dir: &Path, profile: &str, relay: &RelayProcess, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--profile")
        .arg(dir.join(profile))
        .args(["--passphrase-env", "PW", "--json"])
        .args(args)
        .env("PW", "a test passphrase")
        .env("SAFESPACES_RELAY", relay.url())
        .env("SAFESPACES_RELAY_PIN", relay.pin())
        .env_remove("SAFESPACES_RELAY_ACCESS_TOKEN");
    cmd
}

/// Standard output and error of a finished command, as text.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The new device's `link-device` process, with its standard error kept
/// open (a closed pipe would fail its later writes).
type Offering = (Child, std::io::Lines<BufReader<ChildStderr>>);

/// Starts `link-device` on `profile` (the new device) and reads the code
/// and fingerprint it prints while it waits.
fn offer_link(dir: &Path, profile: &str, relay: &RelayProcess) -> (Offering, String, String) {
    let mut waiting = ss(dir, profile, relay, &["link-device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(waiting.stderr.take().unwrap()).lines();
    let (mut code, mut fingerprint) = (None, None);
    while code.is_none() || fingerprint.is_none() {
        let line = stderr.next().expect("the offer").unwrap();
        let line = line.trim();
        if let Some(c) = line.strip_prefix("safespaces link-device --approve ") {
            code = Some(c.to_string());
        }
        if let Some(f) = line.strip_prefix("This device's fingerprint: ") {
            fingerprint = Some(f.to_string());
        }
    }
    ((waiting, stderr), code.unwrap(), fingerprint.unwrap())
}

#[test]
fn sync_invite_and_link_a_device_through_a_relay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_path_buf();
    let relay = relay(&dir);
    for p in ["phone", "laptop", "tablet", "friend"] {
        ok(ss(&dir, p, &relay, &["init"]).output().unwrap());
    }
    let space = ok(ss(
        &dir,
        "phone",
        &relay,
        &["space", "create", "Group", "--as", "Robin"],
    )
    .output()
    .unwrap());
    let id = space["id"].as_str().unwrap().to_string();
    ok(ss(&dir, "phone", &relay, &["sync"]).output().unwrap());

    // A friend joins through the relay.
    let invite = ok(ss(&dir, "phone", &relay, &["space", "invite", &id])
        .output()
        .unwrap());
    let code = invite["code"].as_str().unwrap();
    let asked = ok(ss(
        &dir,
        "friend",
        &relay,
        &["space", "join", code, "--as", "Sam"],
    )
    .output()
    .unwrap());
    assert_eq!(asked["pending"], true);
    // The phone's sync admits Sam; Sam's brings the space.
    let admitted = ok(ss(&dir, "phone", &relay, &["sync"]).output().unwrap());
    assert_eq!(admitted["admitted"], 1);
    let joined = ok(ss(&dir, "friend", &relay, &["sync"]).output().unwrap());
    assert_eq!(joined["joined"][0], id.as_str());
    // Every envelope arrived as its author numbered it: nothing to warn of.
    assert_eq!(joined["sequence_alerts"], serde_json::json!([]));
    let listed = ok(ss(&dir, "friend", &relay, &["space", "list"])
        .output()
        .unwrap());
    assert_eq!(
        listed[0]["sequence"],
        serde_json::json!({"missing": 0, "missing_noticed": 0, "reused": 0})
    );
    let members = ok(ss(&dir, "phone", &relay, &["space", "members", &id])
        .output()
        .unwrap());
    assert_eq!(members.as_array().unwrap().len(), 2);

    // A tablet offers a link, and the phone is given another fingerprint
    // than the tablet shows: nothing is handed over.
    let ((mut tablet, _stderr), code, _) = offer_link(&dir, "tablet", &relay);
    let mismatch = ss(
        &dir,
        "phone",
        &relay,
        &[
            "link-device",
            "--approve",
            &code,
            "--confirm",
            "0000 0000 0000 0000",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(mismatch.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("does not match"));
    let _ = tablet.kill();
    let _ = tablet.wait();

    // The laptop offers a link. Without a terminal the phone needs the
    // fingerprint on the command line, and claims nothing without it.
    let ((waiting, _stderr), code, fingerprint) = offer_link(&dir, "laptop", &relay);
    let unconfirmed = ss(&dir, "phone", &relay, &["link-device", "--approve", &code])
        .output()
        .unwrap();
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--confirm"));
    let approved = ok(ss(
        &dir,
        "phone",
        &relay,
        &["link-device", "--approve", &code, "--confirm", &fingerprint],
    )
    .output()
    .unwrap());
    assert_eq!(approved["spaces"], 1);
    let linked = ok(waiting.wait_with_output().unwrap());
    assert_eq!(linked["spaces"], 1);
    assert_eq!(linked["fingerprint"], approved["fingerprint"]);
    let on_laptop = ok(ss(&dir, "laptop", &relay, &["space", "list"])
        .output()
        .unwrap());
    assert_eq!(on_laptop[0]["id"], id.as_str());

    // The phone lists both devices; the laptop's fingerprint is the one
    // linking showed. Named, then removed (only with --yes).
    let listed = ok(ss(&dir, "phone", &relay, &["devices", "list"])
        .output()
        .unwrap());
    let devices = listed["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["this_device"], true);
    assert_eq!(devices[1]["fingerprint"], approved["fingerprint"]);
    let laptop_id = devices[1]["id"].as_str().unwrap().to_string();
    let phone_id = devices[0]["id"].as_str().unwrap().to_string();
    ok(ss(
        &dir,
        "phone",
        &relay,
        &["devices", "name", &laptop_id, "laptop"],
    )
    .output()
    .unwrap());
    let unasked = ss(&dir, "phone", &relay, &["devices", "remove", "laptop"])
        .output()
        .unwrap();
    assert_eq!(unasked.status.code(), Some(2), "not without --yes");
    let itself = ss(
        &dir,
        "phone",
        &relay,
        &["devices", "remove", &phone_id, "--yes"],
    )
    .output()
    .unwrap();
    assert_eq!(itself.status.code(), Some(5), "not the device in use");
    let removed = ok(ss(
        &dir,
        "phone",
        &relay,
        &["devices", "remove", "laptop", "--yes"],
    )
    .output()
    .unwrap());
    assert_eq!(removed["spaces"], 1);
    let after = ok(ss(&dir, "phone", &relay, &["devices", "list"])
        .output()
        .unwrap());
    assert_eq!(after["devices"][1]["name"], "laptop");
    assert!(after["devices"][1]["removed_at"].is_number());
    ok(ss(&dir, "phone", &relay, &["sync"]).output().unwrap());

    // A wrong pin is a network-level refusal with exit code 4.
    let wrong = ss(&dir, "phone", &relay, &["sync"])
        .env("SAFESPACES_RELAY_PIN", "00".repeat(32))
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(4));
}

#[test]
fn the_access_token_and_every_trust_setting_reach_the_relay() {
    const TOKEN: &str = "society-token-3f9a";
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_path_buf();
    let relay = relay_with(&dir, &["--access-token", TOKEN]);
    ok(ss(&dir, "lead", &relay, &["init"]).output().unwrap());
    let space = ok(ss(
        &dir,
        "lead",
        &relay,
        &["space", "create", "Group", "--as", "Robin"],
    )
    .output()
    .unwrap());
    let id = space["id"].as_str().unwrap().to_string();

    // Without the token the relay refuses to create the space's mailbox
    // and the invite's drop-box.
    let refused = ss(&dir, "lead", &relay, &["sync"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused));
    assert!(text(&refused).contains("forbidden"), "{}", text(&refused));
    let invite = ss(&dir, "lead", &relay, &["space", "invite", &id])
        .output()
        .unwrap();
    assert!(!invite.status.success());
    assert!(text(&invite).contains("forbidden"), "{}", text(&invite));

    // With it, from the environment or the flag, both succeed; the token
    // is never printed.
    let synced = ss(&dir, "lead", &relay, &["sync"])
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!text(&synced).contains(TOKEN));
    let synced = ok(synced);
    assert_eq!(synced["failed"].as_array().unwrap().len(), 0, "{synced}");
    let invite = ss(
        &dir,
        "lead",
        &relay,
        &["space", "invite", &id, "--access-token", TOKEN],
    )
    .output()
    .unwrap();
    assert!(!text(&invite).contains(TOKEN));
    assert!(ok(invite)["code"].is_string());

    // Pins: the relay's among others (flag repeated, or comma-separated in
    // the environment) is accepted; only others is a pin mismatch. (Every
    // sync needs the token: it makes sure the mailboxes exist.)
    let other = "00".repeat(32);
    ok(ss(
        &dir,
        "lead",
        &relay,
        &["sync", "--pin", &other, "--pin", relay.pin()],
    )
    .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
    .output()
    .unwrap());
    ok(ss(&dir, "lead", &relay, &["sync"])
        .env("SAFESPACES_RELAY_PIN", format!("{other},{}", relay.pin()))
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap());
    let mismatch = ss(&dir, "lead", &relay, &["sync", "--pin", &other])
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!mismatch.status.success());
    assert!(
        text(&mismatch).contains("does not match the pin"),
        "{}",
        text(&mismatch)
    );

    // A CA file: the development certificate is its own CA.
    let ca = dir.join("relay-data").join("dev-cert.pem");
    ok(ss(
        &dir,
        "lead",
        &relay,
        &["sync", "--ca", ca.to_str().unwrap()],
    )
    .env_remove("SAFESPACES_RELAY_PIN")
    .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
    .output()
    .unwrap());
    // The web PKI does not vouch for a self-signed relay.
    let web = ss(&dir, "lead", &relay, &["sync", "--web-pki"])
        .env_remove("SAFESPACES_RELAY_PIN")
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!web.status.success());
    assert!(text(&web).contains("TLS"), "{}", text(&web));
    // No trust setting at all is a usage error naming the three.
    let none = ss(&dir, "lead", &relay, &["sync"])
        .env_remove("SAFESPACES_RELAY_PIN")
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    let none = text(&none);
    assert!(
        none.contains("--pin") && none.contains("--ca") && none.contains("--web-pki"),
        "{none}"
    );
}
