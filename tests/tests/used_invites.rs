//! An invite that has done its work stops costing requests: once the
//! joiner has taken her welcome, the inviter's device forgets the code
//! and no longer asks the relay about its drop-boxes (before, a used
//! invite's request drop-box was claimed on every pass until the invite
//! expired: every two seconds, for days, per invite, while the app was
//! open).

use std::collections::BTreeMap;
use std::time::Duration;

use safespaces_core::model::{Role, Timestamp};
use safespaces_e2e::devices::{join_through_relay, test_client, test_device};
use safespaces_relay::test_support::client::get_plain;
use safespaces_relay::test_support::relay_process::{RelayOptions, RelayProcess, relay_binary};

/// The relay's request counts by route, from its operator listener.
async fn requests(relay: &RelayProcess) -> BTreeMap<String, u64> {
    let metrics = relay.metrics();
    let reply = get_plain(metrics, "/metrics").await.expect("metrics");
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&reply.body).lines() {
        let Some(labels) = line.strip_prefix("relay_http_requests_total{") else {
            continue;
        };
        let (Some(route), Some(count)) = (
            labels
                .split("route=\"")
                .nth(1)
                .and_then(|r| r.split('"').next()),
            line.rsplit_once(' ')
                .and_then(|(_, v)| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        *out.entry(route.to_owned()).or_default() += count as u64;
    }
    out
}

/// Requests to drop-box routes between two readings.
fn dropbox_requests(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .filter(|(route, _)| route.starts_with("/v1/dropboxes"))
        .map(|(route, n)| n - before.get(route).copied().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_joiner_has_her_welcome_the_inviter_stops_asking_about_the_invite() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RelayOptions::new(relay_binary(), relay_dir.path())
        .metrics()
        .start();
    let net = test_client(&relay, Duration::from_secs(10));
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (robin, blake) = (test_device(a.path()), test_device(b.path()));
    let now = Timestamp(1_000);
    let space = robin.create_space("Group", "Robin", now).unwrap();
    let (joined, _, _) =
        join_through_relay(&robin, &space, &blake, Role::Member, "Blake", &net, now).await;
    // The first pass after the joiner took her welcome sees it gone.
    robin.sync(&net, now).await.unwrap();
    let before = requests(&relay).await;
    for _ in 0..3 {
        robin.sync(&net, now).await.unwrap();
    }
    let after = requests(&relay).await;
    assert_eq!(
        dropbox_requests(&before, &after),
        0,
        "a used invite's drop-boxes are still asked about: {before:?} -> {after:?}"
    );
    // And the join itself stands: both devices see both members.
    assert_eq!(space.members().unwrap().len(), 2);
    assert_eq!(joined.members().unwrap().len(), 2);
}
