//! A term of weekly sessions from the command line, in the group's own
//! time zone: ten Tuesdays at 18:00 in London across the clock change,
//! "this and following" edits and cancellations, a reinstated session,
//! and sessions that close and end on their own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_safespaces");

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--profile")
        .arg(dir.join("robin"))
        .args(["--passphrase-env", "SS_TEST_PASSPHRASE"])
        .args(args)
        .env("SS_TEST_PASSPHRASE", "a long test passphrase")
        // The device's own zone must not matter once the space has one.
        .env("TZ", "America/New_York")
        .current_dir(dir)
        .output()
        .expect("run safespaces")
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut with = vec!["--json"];
    with.extend_from_slice(args);
    let out = run(dir, &with);
    assert!(
        out.status.success(),
        "safespaces {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn starts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ten_tuesdays_at_six_in_london_across_the_clock_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(run(dir, &["init"]).status.success());
    // A zone this build does not know is refused, and creates nothing.
    let bad = run(
        dir,
        &[
            "space",
            "create",
            "G",
            "--as",
            "Robin",
            "--time-zone",
            "Mars/Base",
        ],
    );
    assert!(!bad.status.success());
    assert!(json(dir, &["space", "list"]).as_array().unwrap().is_empty());

    let space = json(
        dir,
        &[
            "space",
            "create",
            "Tuesday group",
            "--as",
            "Robin",
            "--time-zone",
            "Europe/London",
        ],
    );
    assert_eq!(space["time_zone"], "Europe/London");
    let series = json(
        dir,
        &[
            "session",
            "add",
            "Tuesday group",
            "--kind",
            "discussion",
            "--title",
            "Peer circle",
            "--starts",
            "2030-03-05 18:00",
            "--duration",
            "90",
            "--capacity",
            "8",
            "--close-signups-before",
            "24h",
            "--repeat",
            "weekly",
            "--count",
            "10",
        ],
    );
    let sessions = series["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 10);
    let all = json(dir, &["session", "list", "Tuesday group"]);
    let times = starts(&all);
    // 18:00 GMT until the clocks go forward on 31 March, then 18:00 BST.
    assert_eq!(times[0], "2030-03-05T18:00:00+00:00[Europe/London]");
    assert_eq!(times[3], "2030-03-26T18:00:00+00:00[Europe/London]");
    assert_eq!(times[4], "2030-04-02T18:00:00+01:00[Europe/London]");
    assert_eq!(times[9], "2030-05-07T18:00:00+01:00[Europe/London]");
    // Sign-ups close a day before each, in local time too.
    assert_eq!(
        all[4]["signups_close_at"],
        "2030-04-01T18:00:00+01:00[Europe/London]"
    );
    for (i, s) in all.as_array().unwrap().iter().enumerate() {
        assert_eq!(s["occurrence"], i as u64);
        assert_eq!(s["series"], series["series"]);
        assert_eq!(s["status"], "planned");
    }

    // From the sixth: Wednesdays at 18:30; from the ninth: cancelled.
    let sixth = all[5]["id"].as_str().unwrap();
    let edited = json(
        dir,
        &[
            "session",
            "edit",
            "Tuesday group",
            sixth,
            "--following",
            "--starts",
            "2030-04-10 18:30",
            "--location",
            "Room 2",
        ],
    );
    assert_eq!(edited["edited"].as_array().unwrap().len(), 5);
    let ninth = all[8]["id"].as_str().unwrap();
    let cancelled = json(
        dir,
        &["session", "cancel", "Tuesday group", ninth, "--following"],
    );
    assert_eq!(cancelled["cancelled"].as_array().unwrap().len(), 2);
    let tenth = all[9]["id"].as_str().unwrap();
    json(dir, &["session", "reinstate", "Tuesday group", tenth]);

    let after = json(dir, &["session", "list", "Tuesday group"]);
    let times = starts(&after);
    assert_eq!(times[4], "2030-04-02T18:00:00+01:00[Europe/London]");
    assert_eq!(times[5], "2030-04-10T18:30:00+01:00[Europe/London]");
    assert_eq!(times[9], "2030-05-08T18:30:00+01:00[Europe/London]");
    let status: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            "planned",
            "planned",
            "planned",
            "planned",
            "planned",
            "planned",
            "planned",
            "planned",
            "cancelled",
            "planned"
        ]
    );
    assert_eq!(after[4]["location"], "");
    assert_eq!(after[7]["location"], "Room 2");
    // Offering to lead the whole term at once: every planned session from
    // the first (the ninth stays cancelled).
    let first = all[0]["id"].as_str().unwrap();
    let offered = json(
        dir,
        &[
            "session",
            "volunteer",
            "Tuesday group",
            first,
            "--following",
        ],
    );
    assert_eq!(offered["sessions"].as_array().unwrap().len(), 9);
    assert_eq!(offered["accepted"], true);
    // People read local time.
    let human = String::from_utf8(run(dir, &["session", "list", "Tuesday group"]).stdout).unwrap();
    assert!(human.contains("Tue 2 Apr 2030 18:00 BST"), "{human}");
    assert!(human.contains("Tue 26 Mar 2030 18:00 GMT"), "{human}");

    // A session that already happened: not upcoming, shown with --past as
    // completed though nobody marked it, and closed to sign-ups.
    json(
        dir,
        &[
            "session",
            "add",
            "Tuesday group",
            "--kind",
            "social",
            "--title",
            "Last term's picnic",
            "--starts",
            "2020-07-01 12:00",
            "--duration",
            "2h",
            "--capacity",
            "20",
        ],
    );
    let upcoming = json(dir, &["session", "list", "Tuesday group"]);
    assert_eq!(upcoming.as_array().unwrap().len(), 10);
    let past = json(dir, &["session", "list", "Tuesday group", "--past"]);
    assert_eq!(past.as_array().unwrap().len(), 1);
    assert_eq!(past[0]["status"], "completed");
    assert_eq!(
        past[0]["starts_at"],
        "2020-07-01T12:00:00+01:00[Europe/London]"
    );
    let picnic = past[0]["id"].as_str().unwrap();
    let late = run(dir, &["session", "signup", "Tuesday group", picnic]);
    assert!(!late.status.success());
    assert!(String::from_utf8_lossy(&late.stderr).contains("closed"));

    // The zone is shown, and changed by a coordinator without moving sessions.
    let zone = json(dir, &["space", "time-zone", "Tuesday group"]);
    assert_eq!(zone["time_zone"], "Europe/London");
    json(
        dir,
        &["space", "time-zone", "Tuesday group", "Europe/Dublin"],
    );
    let moved = json(dir, &["session", "list", "Tuesday group"]);
    assert_eq!(
        moved[0]["starts_at"],
        "2030-03-05T18:00:00+00:00[Europe/Dublin]"
    );
}
