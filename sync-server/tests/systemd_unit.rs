//! The shipped systemd unit, `deploy/safespaces-relay.service`: systemd's
//! own checker accepts it without a word, its offline security review rates
//! it well hardened, and its ExecStart line — the flags exactly as written —
//! starts a real relay that tells systemd it is ready (`Type=notify`) only
//! once it serves, and that it is stopping on SIGTERM.
//!
//! Needs `systemd-analyze` (Debian's `systemd`, installed by
//! `scripts/install-test-deps.sh`); without it the systemd-analyze checks
//! skip loudly, and under CI (`CI` set) they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hyper::Method;
use safespaces_relay::test_support::client::{TestRelayClient, pinned_config};
use safespaces_relay::{LISTENING_LINE, PIN_LINE};

const INSTALLED_BIN: &str = "/usr/local/bin/safespaces-relay";

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/safespaces-relay.service");
    std::fs::read_to_string(path).unwrap()
}

/// The unit with the installed binary's path pointing at the one under test
/// (`verify` checks that the ExecStart binary exists and is executable).
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let text = unit_text().replace(INSTALLED_BIN, env!("CARGO_BIN_EXE_safespaces-relay"));
    let path = dir.join("safespaces-relay.service");
    std::fs::write(&path, text).unwrap();
    path
}

fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("systemd-analyze");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "systemd-analyze is missing under CI; scripts/install-test-deps.sh installs it"
    );
    eprintln!(
        "\n*** SKIPPING the systemd unit checks: no systemd-analyze *** run scripts/install-test-deps.sh\n"
    );
    None
}

#[test]
fn systemd_analyze_verify_accepts_the_unit_without_a_word() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    // `verify` exits 0 even for directives it ignores ("Failed to parse …,
    // ignoring"), so anything it says is a failure.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // And the check can fail: a misspelt directive value is reported.
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&unit)
            .unwrap()
            .replace("ProtectSystem=strict", "ProtectSystem=strictest"),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !out.stderr.is_empty(),
        "verify saw nothing wrong in a broken unit"
    );
}

#[test]
fn the_unit_is_hardened() {
    let text = unit_text();
    for directive in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=safespaces-relay",
        "StateDirectory=safespaces-relay",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "PrivateDevices=yes",
        "UMask=0077",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == directive),
            "the unit lacks {directive}"
        );
    }
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let out = Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")
        })
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    // systemd rates 0 (locked down) to 10 (unprotected); a network daemon
    // that must reach the internet and bind port 443 cannot get near 0.
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
}

/// The ExecStart command line, continuation lines joined, split into words.
fn exec_start() -> Vec<String> {
    let text = unit_text().replace("\\\n", " ");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    line.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_command_line_starts_a_relay_that_notifies_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let state = dir.path().join("state");

    // Every flag as the unit writes it; only machine-specific values change.
    let words = exec_start();
    assert_eq!(words[0], INSTALLED_BIN);
    let mut args: Vec<String> = Vec::new();
    let mut it = words[1..].iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} has no value"));
        let local = match flag.as_str() {
            "--listen" | "--metrics-listen" => "127.0.0.1:0".to_owned(),
            "--data-dir" => state.display().to_string(),
            "--cert" => cert.display().to_string(),
            "--key" => key.display().to_string(),
            _ => value.clone(),
        };
        args.push(flag.clone());
        args.push(local);
    }

    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_safespaces-relay"))
        .args(&args)
        // What relay.env holds on a real machine.
        .env("SAFESPACES_RELAY_ACCESS_TOKEN", "operator-token")
        .env("SAFESPACES_RELAY_PUBLIC_HOST", "localhost")
        .env("NOTIFY_SOCKET", &notify_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 from the relay");
    assert_eq!(&buf[..n], b"READY=1\n");

    // Ready means serving: the announcement is out and TLS answers.
    use std::io::BufRead as _;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut pin) = (None, None);
    while pin.is_none() {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix(LISTENING_LINE) {
            addr = Some(a.parse().unwrap());
        } else if let Some(p) = line.strip_prefix(PIN_LINE) {
            pin = Some(p.to_owned());
        }
    }
    let mut c = TestRelayClient::connect(addr.unwrap(), pinned_config(&pin.unwrap()).unwrap())
        .await
        .unwrap();
    let r = c.send(Method::GET, "/healthz", &[], "").await.unwrap();
    assert_eq!(r.status, 200);
    drop(c);
    assert!(state.join(safespaces_relay::server::DB_FILE).exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let n = notify.recv(&mut buf).expect("STOPPING=1 from the relay");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    assert!(child.wait().unwrap().success());
    std::mem::forget(guard);
}

/// Kills the relay if the test fails half-way.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
