//! Runs the README's walkthrough exactly as written (between the
//! `walkthrough:start` and `walkthrough:end` markers), so the README cannot
//! rot. Two substitutions only: the walkthrough's `cargo build --release`
//! line is skipped and `target/release` on PATH becomes the directory of the
//! binaries this test was built with (the workspace's `target/debug`, where
//! `cargo test --workspace` also builds `safespaces-relay`; the test script
//! builds it first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn readme_walkthrough_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("end marker");
    let block = &readme[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(code, _)| code)
        .expect("a sh block");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_safespaces"))
        .parent()
        .unwrap();
    let script: Vec<String> = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("cargo build"))
        .map(|l| l.replace("$PWD/target/release", &bin_dir.display().to_string()))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script.join("\n")])
        .current_dir(tmp.path())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walkthrough failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("Attendee: Blake"),
        "the lead sees who signed up:\n{stdout}"
    );
    assert!(
        stdout.contains("You: you have a place"),
        "Blake sees their place:\n{stdout}"
    );
    assert!(
        stdout.contains("Tue 26 Mar 2030 18:00 GMT") && stdout.contains("Tue 7 May 2030 18:00 BST"),
        "the term stays at 18:00 London time across the clock change:\n{stdout}"
    );
    assert!(
        stdout.contains("no plaintext in the relay's files"),
        "{stdout}"
    );
    assert!(
        stdout.contains("refused without the access token") && stderr.contains("forbidden"),
        "the relay refuses to host a space for a client without its token:\n{stdout}\n{stderr}"
    );
}
