//! Load generator for live sync through a real relay process
//! (BENCHMARKS.md, "Live sync: convergence beside automerge-repo" and
//! "Live sync: requests of an idle device").
//!
//! Two modes:
//!
//! - `converge N M`: N devices, each with its own profile on disk (every
//!   write durable, as on a phone), its own relay client and its own
//!   WebSocket, all members of one space, all in this one process (as the
//!   automerge-repo anchor runs its N clients in one node process,
//!   `/work/shared/anchors/amrepo-load.mjs`). Before the clock starts, one
//!   device creates the space and invites the others through the relay
//!   (published invites, one admission pass, one sync per joiner; then every
//!   device syncs until it knows every member), and every device goes live
//!   ([`SafeSpaces::live`], the mode an app runs while open: a WebSocket
//!   subscription for what others send, a push pass on its tick for what
//!   this device made). No `sync` call is made during the measurement. Then,
//!   in the anchor's order (edit `m` of every device, then edit `m + 1`), each
//!   device makes M edits, each one automerge change through the public
//!   `Space` API (`create_session`, titled `c{device}-{m}`), on a blocking
//!   thread as an app's UI thread would. The figure is the time from the
//!   first edit until every device holds all N×M sessions: each device
//!   looks up every device's last session when its listener says the space
//!   changed (and after a second without news, as a backstop); holding a
//!   device's last change means holding all its earlier ones. Afterwards
//!   every device's full session list and members are compared with the
//!   first device's: they must be identical. With `--edit offer` the edit
//!   is the anchor's shape instead (one small entry in a shared map, as
//!   its `signups[key] = {status, at}`): before the clock, the first device
//!   plans M sessions and every device holds them; edit `m` of a device is
//!   its offer to lead session `m` (`volunteer_to_lead`), and a device has
//!   converged when the last session lists every device's member among
//!   its leads (each device's offers in order, as above); every session
//!   must end with N offers. With `--edits-only` no device
//!   goes live and the figure is the edits alone. The JSON line also gives the
//!   CPU time the devices' process and the relay used in the window, which
//!   on a shared machine says more than the wall time.
//!
//! - `idle`: one device with S spaces (default 3) and journal sync on,
//!   live and doing nothing for T seconds (default 60) after a warm-up;
//!   the relay's `/metrics` counters (HTTP requests by route, WebSocket
//!   frames) are read before and after, and the difference is scaled to
//!   one device-hour.
//!
//! Both print one JSON line per run and read the relay's `/metrics`
//! (`--metrics-listen`) around the measured window, so every figure comes
//! with the requests it cost.
//!
//! Run (release build; `SAFESPACES_RELAY_BIN` should point at a prebuilt
//! release relay, or the harness builds a debug one):
//!
//! ```sh
//! cargo build --release -p safespaces-relay --bins -p safespaces-e2e
//! export SAFESPACES_RELAY_BIN=$PWD/target/release/safespaces-relay
//! target/release/converge-bench converge 32 50 [--runs 3] [--profiles DIR] [--limit 120] [--edit session|offer]
//! target/release/converge-bench idle [--spaces 3] [--secs 60] [--no-journal]
//! ```
//!
//! `--profiles DIR` puts the device profiles under DIR instead of the
//! system's temporary directory (e.g. `/dev/shm`, to see what the disk's
//! `fsync`s cost). `scripts/bench-converge.sh` runs this beside the anchor.
// Bench scaffolding: a failed step must stop the run with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use safespaces_core::app::{LIVE_PUSH_INTERVAL, SafeSpaces, Space, SpaceListener};
use safespaces_core::model::{MemberId, Role, SessionDraft, SessionId, SessionKind, Timestamp};
use safespaces_core::profile::{PassphraseWork, ProfileOptions, UnlockSecret};
use safespaces_core::relay::{RelayConfig, RelayTransport};
use safespaces_relay::test_support::relay_process::{RelayOptions, RelayProcess, relay_binary};
use serde_json::json;
use tokio::sync::Notify;

/// How long a convergence may take before the run is declared failed, by
/// default (the anchor's own limit); `--limit SECS` changes it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// The command line, parsed by hand (the e2e crate has no argument parser).
struct Args {
    mode: String,
    positional: Vec<usize>,
    runs: usize,
    profiles: Option<PathBuf>,
    spaces: usize,
    secs: u64,
    journal: bool,
    limit: Duration,
    edits_only: bool,
    edit: Edit,
}

/// What one edit is (`--edit`).
#[derive(Clone, Copy, PartialEq)]
enum Edit {
    /// A new session (`create_session`): about twenty automerge operations
    /// (its fields and its empty `leads`, `signups` and `content_notes`).
    Session,
    /// An offer to lead one of M sessions planned before the clock starts
    /// (`volunteer_to_lead`): one small entry in a shared map, the shape of
    /// the anchor's edit (`signups[key] = {status, at}`).
    Offer,
}

fn parse_args() -> Args {
    let mut args = Args {
        mode: String::new(),
        positional: Vec::new(),
        runs: 1,
        profiles: None,
        spaces: 3,
        secs: 60,
        journal: true,
        limit: GIVE_UP_AFTER,
        edits_only: false,
        edit: Edit::Session,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--runs" => args.runs = number(&value("--runs")),
            "--profiles" => args.profiles = Some(PathBuf::from(value("--profiles"))),
            "--spaces" => args.spaces = number(&value("--spaces")),
            "--secs" => args.secs = number(&value("--secs")) as u64,
            "--no-journal" => args.journal = false,
            "--edits-only" => args.edits_only = true,
            "--edit" => {
                args.edit = match value("--edit").as_str() {
                    "session" => Edit::Session,
                    "offer" => Edit::Offer,
                    other => usage(&format!("--edit is session or offer, not {other}")),
                }
            }
            "--limit" => args.limit = Duration::from_secs(number(&value("--limit")) as u64),
            "-h" | "--help" => usage(""),
            _ if args.mode.is_empty() => args.mode = arg,
            _ => args.positional.push(number(&arg)),
        }
    }
    args
}

fn number(s: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| usage(&format!("not a number: {s}")))
}

fn usage(why: &str) -> ! {
    if !why.is_empty() {
        eprintln!("converge-bench: {why}");
    }
    eprintln!(
        "usage: converge-bench converge N M [--runs R] [--profiles DIR] [--limit SECS] [--edits-only] [--edit session|offer]\n       converge-bench idle [--spaces S] [--secs T] [--no-journal] [--profiles DIR]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args();
    match (args.mode.as_str(), args.positional.as_slice()) {
        ("converge", [n, m]) if *n >= 2 && *m >= 1 => {
            for _ in 0..args.runs {
                let outcome = converge(*n, *m, &args).await;
                println!("{outcome}");
            }
        }
        ("idle", []) => {
            for _ in 0..args.runs {
                let outcome = idle(&args).await;
                println!("{outcome}");
            }
        }
        _ => usage("name a mode: `converge N M` (N ≥ 2) or `idle`"),
    }
}

/// Wakes a device's reader when its space changed, as an app's listener
/// would schedule a re-read of the screen.
struct Wake(Notify);

impl SpaceListener for Wake {
    fn space_changed(&self, _space_id: String) {
        // A stored permit: a change that arrives while the reader is busy
        // is not lost, and many changes make one re-read.
        self.0.notify_one();
    }
}

fn options() -> ProfileOptions {
    // Only the unlock's scrypt is turned down: nothing measured unlocks.
    ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    }
}

fn profile_dir(base: Option<&PathBuf>) -> tempfile::TempDir {
    match base {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// A relay process with its plain-HTTP metrics listener.
fn relay() -> (tempfile::TempDir, RelayProcess, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayOptions::new(relay_binary(), dir.path())
        .metrics()
        .start();
    let metrics = relay.metrics();
    (dir, relay, metrics)
}

/// A device's own relay client, with the settings an app uses (only the
/// certificate is pinned, as a dev relay's must be).
fn client(relay: &RelayProcess) -> RelayTransport {
    RelayTransport::new(RelayConfig::pinned(&relay.url(), relay.pin()).unwrap()).unwrap()
}

fn draft(title: String) -> SessionDraft {
    SessionDraft {
        kind: SessionKind::WellbeingEvent,
        title,
        description: String::new(),
        starts_at: Timestamp(2_000_000_000),
        duration_minutes: 60,
        location: String::new(),
        capacity: 10,
        content_notes: vec![],
        accessibility: String::new(),
        signups_close_before_minutes: None,
    }
}

/// CPU time (user + system, seconds) a process has used so far: `self` or a
/// pid, from `/proc/<pid>/stat` (in clock ticks, 100 a second on Linux).
fn cpu_time(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are fields 14 and 15 of the whole line.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// The relay's counters at one moment: HTTP requests by route (all
/// statuses), and the plain counters by name.
#[derive(Default)]
struct Counters {
    requests: BTreeMap<String, u64>,
    plain: BTreeMap<String, u64>,
}

async fn counters(metrics: SocketAddr) -> Counters {
    let reply = safespaces_relay::test_support::client::get_plain(metrics, "/metrics")
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let mut out = Counters::default();
    for line in String::from_utf8_lossy(&reply.body).lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if let Some(labels) = name.strip_prefix("relay_http_requests_total{") {
            let route = labels
                .split("route=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?");
            *out.requests.entry(route.to_owned()).or_default() += value as u64;
        } else if !name.contains('{') {
            out.plain.insert(name.to_owned(), value as u64);
        }
    }
    out
}

impl Counters {
    /// What happened between `before` and `self`, scaled by `scale`.
    fn since(&self, before: &Counters, scale: f64) -> serde_json::Value {
        let requests: BTreeMap<&str, f64> = self
            .requests
            .iter()
            .map(|(route, n)| {
                let was = before.requests.get(route).copied().unwrap_or(0);
                (route.as_str(), (n - was) as f64 * scale)
            })
            .filter(|(_, n)| *n > 0.0)
            .collect();
        let plain = |name: &str| {
            let now = self.plain.get(name).copied().unwrap_or(0);
            let was = before.plain.get(name).copied().unwrap_or(0);
            now.saturating_sub(was) as f64 * scale
        };
        json!({
            // Summed from +0.0: an empty `f64` sum is -0.0.
            "http_requests": requests.values().fold(0.0, |a, b| a + b),
            "by_route": requests,
            "ws_frames_in": plain("relay_ws_frames_in_total"),
            "ws_frames_out": plain("relay_ws_frames_out_total"),
            "blobs_appended": plain("relay_blobs_appended_total"),
            "blobs_read": plain("relay_blobs_read_total"),
            "connections_accepted": plain("relay_connections_accepted_total"),
        })
    }
}

/// Setup, outside the clock: every device syncs, round after round, until
/// `done` (at most five rounds, or the run fails saying `what`).
async fn sync_until(
    apps: &[SafeSpaces],
    nets: &[RelayTransport],
    now: Timestamp,
    what: &str,
    done: impl Fn() -> bool,
) {
    for round in 0.. {
        for (app, net) in apps.iter().zip(nets) {
            app.sync(net, now).await.unwrap();
        }
        if done() {
            break;
        }
        assert!(round < 4, "{what}");
    }
}

/// One convergence run of `n` devices × `m` edits; see the module docs.
async fn converge(n: usize, m: usize, args: &Args) -> serde_json::Value {
    let (base, limit) = (args.profiles.as_ref(), args.limit);
    let (_relay_dir, relay, metrics) = relay();
    let now = Timestamp::now();
    let dirs: Vec<_> = (0..n).map(|_| profile_dir(base)).collect();
    let apps: Vec<SafeSpaces> = dirs
        .iter()
        .map(|d| SafeSpaces::create(d.path(), UnlockSecret::passphrase("x"), options()).unwrap())
        .collect();
    let nets: Vec<RelayTransport> = (0..n).map(|_| client(&relay)).collect();

    // Setup, outside the clock: the relay's invite flow, batched.
    let setup = Instant::now();
    let first = apps[0].create_space("Group", "Device 0", now).unwrap();
    let mut invitations = Vec::new();
    for _ in 1..n {
        let invitation = first.invite(Role::Lead, now, None).unwrap();
        first
            .publish_invite(&nets[0], &invitation, now)
            .await
            .unwrap();
        invitations.push(invitation);
    }
    apps[0].sync(&nets[0], now).await.unwrap();
    for (i, invitation) in invitations.iter().enumerate() {
        let i = i + 1;
        apps[i]
            .join_via_relay(&nets[i], &invitation.code, &format!("Device {i}"), now)
            .await
            .unwrap();
    }
    let mut admitted = 0;
    for _ in 0..3 {
        admitted += apps[0].sync(&nets[0], now).await.unwrap().admitted;
        if admitted == n - 1 {
            break;
        }
    }
    assert_eq!(admitted, n - 1, "every joiner admitted");
    for i in 1..n {
        let report = apps[i].sync(&nets[i], now).await.unwrap();
        assert_eq!(report.joined.len(), 1, "device {i} joined: {report:?}");
    }
    let id = first.id();
    let spaces: Vec<Space> = apps.iter().map(|a| a.space(&id).unwrap()).collect();
    // Earlier joiners learn of later ones (and their devices' keys) here.
    sync_until(&apps, &nets, now, "every device knows every member", || {
        spaces.iter().all(|s| s.members().unwrap().len() == n)
    })
    .await;
    // With `--edit offer`, the M sessions the offers are for, planned by
    // the first device and held by every device before the clock starts.
    let planned: Arc<Vec<SessionId>> = Arc::new(if args.edit == Edit::Offer {
        let planned: Vec<SessionId> = (0..m)
            .map(|round| {
                spaces[0]
                    .create_session(draft(format!("s{round}")), now)
                    .unwrap()
            })
            .collect();
        sync_until(
            &apps,
            &nets,
            now,
            "every device holds the planned sessions",
            || spaces.iter().all(|s| s.sessions().unwrap().len() == m),
        )
        .await;
        planned
    } else {
        Vec::new()
    });
    let me: Arc<Vec<MemberId>> =
        Arc::new(spaces.iter().map(|s| s.my_member_id().unwrap()).collect());
    let setup = setup.elapsed();

    // Live, as apps that are open: each its own WebSocket. (Not with
    // `--edits-only`, which measures the edits alone: the floor under the
    // figure.)
    let wakes: Vec<Arc<Wake>> = (0..n).map(|_| Arc::new(Wake(Notify::new()))).collect();
    let lives: Vec<_> = if args.edits_only {
        Vec::new()
    } else {
        apps.iter()
            .zip(&nets)
            .zip(&wakes)
            .map(|((app, net), wake)| app.live(net.clone(), wake.clone()).unwrap())
            .collect()
    };
    // The first tick of every device (a full pass) is over before the clock
    // starts; the edits then fall at a random point of the next tick.
    tokio::time::sleep(LIVE_PUSH_INTERVAL + Duration::from_millis(500)).await;

    let total = n * m;
    let before = counters(metrics).await;
    let cpu_before = (cpu_time("self"), cpu_time(&relay.id().to_string()));
    // Each device's last session, once made: a device that holds it holds
    // all that device's earlier ones too (automerge applies a change only
    // after its dependencies, and one device's changes depend on each
    // other in order).
    let (last_made, made) = tokio::sync::watch::channel(None::<Arc<Vec<SessionId>>>);
    let started = Instant::now();
    let editing = {
        let spaces = spaces.clone();
        let planned = Arc::clone(&planned);
        let edit = args.edit;
        tokio::task::spawn_blocking(move || {
            let mut last = vec![None; spaces.len()];
            for round in 0..m {
                for (i, space) in spaces.iter().enumerate() {
                    last[i] = Some(match edit {
                        Edit::Session => space
                            .create_session(draft(format!("c{i}-{round}")), now)
                            .unwrap(),
                        Edit::Offer => {
                            space.volunteer_to_lead(&planned[round], now).unwrap();
                            planned[round].clone()
                        }
                    });
                }
            }
            let elapsed = started.elapsed();
            let last = last.into_iter().map(Option::unwrap).collect();
            last_made.send_replace(Some(Arc::new(last)));
            elapsed
        })
    };
    if args.edits_only {
        let edits = editing.await.unwrap();
        return json!({
            "mode": "edits-only",
            "devices": n,
            "edits_each": m,
            "total": total,
            "edits_made_ms": edits.as_millis(),
            "cpu_s": { "devices": cpu_time("self") - cpu_before.0 },
        });
    }
    // How many devices' last sessions each device holds (for progress).
    let held: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let mut readers = tokio::task::JoinSet::new();
    for (i, (space, wake)) in spaces
        .iter()
        .cloned()
        .zip(wakes.iter().cloned())
        .enumerate()
    {
        let mut made = made.clone();
        let held = Arc::clone(&held);
        let (me, edit) = (Arc::clone(&me), args.edit);
        readers.spawn(async move {
            let last = made
                .wait_for(Option::is_some)
                .await
                .unwrap()
                .clone()
                .unwrap();
            let mut missing: Vec<usize> = (0..n).collect();
            loop {
                // A point read per device not yet seen (for offers, one
                // read of the last session, with its leads): what an app
                // re-reads on `space_changed` is its business, and reading
                // the whole list here would measure hydration, not sync.
                match edit {
                    Edit::Session => missing.retain(|&d| space.session(&last[d]).is_err()),
                    Edit::Offer => {
                        let leads = space.session(&last[0]).unwrap().leads;
                        missing.retain(|&d| !leads.contains_key(&me[d]));
                    }
                }
                held[i].store(n - missing.len(), Ordering::Relaxed);
                if missing.is_empty() {
                    return started.elapsed();
                }
                // Read again when the listener says the space changed (its
                // permit is stored: a change made while reading is not
                // missed). The timeout is only a backstop: polling every
                // few ms, as the anchor does on its in-memory JS objects,
                // would take the device's lock 100 times a second for
                // point reads and measure the bench, not the sync.
                tokio::select! {
                    () = wake.0.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }
    let mut per_device = Vec::new();
    let progress = std::env::var_os("CONVERGE_PROGRESS").is_some();
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            done = readers.join_next() => match done {
                Some(done) => per_device.push(done.unwrap()),
                None => break,
            },
            _ = every_second.tick() => {
                assert!(started.elapsed() < limit, "every device converges within the limit");
                if progress {
                    let mut seen: Vec<usize> = held.iter().map(|h| h.load(Ordering::Relaxed)).collect();
                    seen.sort_unstable();
                    eprintln!(
                        "{:>6} ms: devices whose last edit is held: min {} median {} max {} of {n}; {} devices done",
                        started.elapsed().as_millis(), seen[0], seen[n / 2], seen[n - 1], per_device.len()
                    );
                }
            }
        }
    }
    let converged = started.elapsed();
    let cpu = (
        cpu_time("self") - cpu_before.0,
        cpu_time(&relay.id().to_string()) - cpu_before.1,
    );
    let edits = editing.await.unwrap();
    let after = counters(metrics).await;
    drop(lives);

    // Every device holds the same state.
    let listed = |space: &Space| {
        let mut sessions = space.sessions().unwrap();
        sessions.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let mut members = space.members().unwrap();
        members.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        (sessions, members)
    };
    let reference = listed(&spaces[0]);
    match args.edit {
        Edit::Session => assert_eq!(reference.0.len(), total),
        Edit::Offer => {
            assert_eq!(reference.0.len(), m);
            for (_, session) in &reference.0 {
                assert_eq!(
                    session.leads.len(),
                    n,
                    "every device's offer, on every session"
                );
            }
        }
    }
    for (i, space) in spaces.iter().enumerate().skip(1) {
        assert!(listed(space) == reference, "device {i} differs");
    }
    per_device.sort();
    json!({
        "mode": "converge",
        "edit": if args.edit == Edit::Offer { "offer" } else { "session" },
        "devices": n,
        "edits_each": m,
        "total": total,
        "converged_ms": converged.as_millis(),
        "first_device_ms": per_device[0].as_millis(),
        "median_device_ms": per_device[per_device.len() / 2].as_millis(),
        "edits_made_ms": edits.as_millis(),
        "identical": true,
        "setup_ms": setup.as_millis(),
        "cpu_s": { "devices": cpu.0, "relay": cpu.1 },
        "relay": after.since(&before, 1.0),
    })
}

/// One idle measurement; see the module docs.
async fn idle(args: &Args) -> serde_json::Value {
    let (_relay_dir, relay, metrics) = relay();
    let now = Timestamp::now();
    let dir = profile_dir(args.profiles.as_ref());
    let app = SafeSpaces::create(dir.path(), UnlockSecret::passphrase("x"), options()).unwrap();
    let net = client(&relay);
    for i in 0..args.spaces {
        app.create_space(&format!("Group {i}"), "Robin", now)
            .unwrap();
    }
    app.journal().set_sync(args.journal).unwrap();
    // The mailboxes exist and hold their first snapshot, as on a device
    // that has synced before.
    app.sync(&net, now).await.unwrap();
    let live = app
        .live(net.clone(), Arc::new(Wake(Notify::new())))
        .unwrap();
    tokio::time::sleep(LIVE_PUSH_INTERVAL + Duration::from_secs(1)).await;
    let before = counters(metrics).await;
    let window = Duration::from_secs(args.secs);
    tokio::time::sleep(window).await;
    let after = counters(metrics).await;
    drop(live);
    let per_hour = 3600.0 / window.as_secs_f64();
    json!({
        "mode": "idle",
        "spaces": args.spaces,
        "journal_sync": args.journal,
        "window_s": args.secs,
        "per_device_hour": after.since(&before, per_hour),
        "in_window": after.since(&before, 1.0),
    })
}
