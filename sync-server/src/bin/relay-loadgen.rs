//! `relay-loadgen`: measures the relay on loopback. Not a test: it prints
//! numbers for `BENCHMARKS.md`.
//!
//! It starts the real relay binary (`--relay-bin`, normally the release
//! build) in development mode on 127.0.0.1:0 with a throw-away data
//! directory, then runs, each bounded in time:
//!
//! - `idle`: opens many WebSocket connections, each with one subscription,
//!   and reports the relay's resident memory growth per connection (VmRSS
//!   from `/proc/<pid>/status`);
//! - `append`: many concurrent clients, one keep-alive connection and one
//!   mailbox each, append 1 KiB blobs as fast as acknowledgements come back
//!   (every acknowledgement is a durable commit); reports appends/s and
//!   latency;
//! - `fanout`: many WebSocket subscribers on one mailbox; one client appends
//!   at a steady rate; reports delivery latency from the moment the append
//!   was sent (an upper bound on commit→delivery, since it includes the
//!   request and the fsync) and the append's own acknowledgement latency.
//!
//! Three more play an attacker while a real client syncs beside it (the
//! limits of issue 16), and report the relay's resident memory and the
//! client's sync time with and without the attack:
//!
//! - `slow-bodies`: many connections each send request headers and then
//!   trickle the body at one byte a second, reconnecting whenever the relay
//!   cuts them off;
//! - `idle-conns`: thousands of TLS connections that never send a request,
//!   reopened whenever the relay closes them;
//! - `dropbox-flood`: a stranger fills the anonymous drop-box pool and keeps
//!   putting; the client also runs a real invite's drop-box round (vouched
//!   package with a reserved answer slot, anonymous answer, vouched welcome).
//!
//! A "sync pass" is what a phone does on opening the app: a new TLS
//! connection, then for each of its six mailboxes a read after its cursor
//! and one 1 KiB append.
//!
//! With `--database-url` the relay runs on PostgreSQL instead of SQLite, and
//! with `--nodes 2` two relay processes share that database: `append`
//! spreads its clients over both, and `fanout` appends through the first
//! node while every subscriber listens on the second, so its latency is the
//! cross-node path (commit, `NOTIFY`, read-back, push). The PostgreSQL
//! server's CPU time is reported next to the relay's.
#![forbid(unsafe_code)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use rand::RngCore as _;
use safespaces_relay::test_support::client::{
    TestRelayClient, connect_ws, get_plain, pinned_config, subscribe_frame,
};
use safespaces_relay::{LISTENING_LINE, METRICS_LINE, PIN_LINE};
use safespaces_wire::MailboxId;
use tokio_tungstenite::tungstenite::Message;

/// Load generator for the Safe Spaces relay (loopback only).
#[derive(Debug, Parser)]
struct Args {
    /// Path to the `safespaces-relay` binary to start.
    #[arg(long)]
    relay_bin: PathBuf,
    /// Which scenarios to run: idle, append, fanout, slow-bodies, idle-conns,
    /// dropbox-flood (comma-separated), or all.
    #[arg(long, default_value = "all")]
    scenarios: String,
    /// Concurrent appending clients.
    #[arg(long, default_value_t = 128)]
    clients: usize,
    /// Seconds the append scenario runs.
    #[arg(long, default_value_t = 10)]
    append_secs: u64,
    /// Blob size in bytes.
    #[arg(long, default_value_t = 1024)]
    blob_bytes: usize,
    /// WebSocket subscribers in the fan-out scenario.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Blobs appended in the fan-out scenario.
    #[arg(long, default_value_t = 200)]
    fanout_blobs: usize,
    /// Appends per second in the fan-out scenario.
    #[arg(long, default_value_t = 20)]
    fanout_rate: u64,
    /// Idle WebSocket connections in the memory scenario.
    #[arg(long, default_value_t = 2000)]
    idle_conns: usize,
    /// Where the relay's throw-away data directory goes (e.g. /dev/shm to
    /// take the disk's fsync latency out of a fan-out measurement).
    #[arg(long)]
    data_dir_base: Option<PathBuf>,
    /// Run the relay on this PostgreSQL database instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Relay processes sharing the database (more than 1 needs `--database-url`).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Sync passes the honest client makes in each phase (with and without
    /// the attack) of the attack scenarios.
    #[arg(long, default_value_t = 30)]
    sync_passes: usize,
    /// Trickling connections in `slow-bodies`.
    #[arg(long, default_value_t = 500)]
    slow_conns: usize,
    /// Idle TLS connections in `idle-conns`.
    #[arg(long, default_value_t = 3000)]
    attack_idle_conns: usize,
    /// The relay's anonymous drop-box pool in `dropbox-flood` (`--max-dropboxes`).
    #[arg(long, default_value_t = 10_000)]
    flood_pool: u64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The part of a server frame the fan-out subscribers look at.
#[derive(serde::Deserialize)]
struct FrameHead<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<u64>,
}

struct RelayProc {
    child: Child,
    addr: SocketAddr,
    /// Its plain-HTTP metrics listener.
    metrics_addr: Option<SocketAddr>,
    pin: String,
}

/// The relay nodes of one scenario and their shared data directory (shared
/// so that they present the same development certificate).
struct Cluster {
    nodes: Vec<RelayProc>,
    dir: PathBuf,
}

impl Cluster {
    fn start(args: &Args, extra: &[&str]) -> Result<Self, BoxError> {
        let mut suffix = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let base = args
            .data_dir_base
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("relay-loadgen-{}", hex::encode(suffix)));
        std::fs::create_dir_all(&dir)?;
        let mut nodes = Vec::new();
        // One after the other: the first creates the certificate, the rest reuse it.
        for _ in 0..args.nodes.max(1) {
            nodes.push(RelayProc::start(
                &args.relay_bin,
                &dir,
                args.database_url.as_deref(),
                extra,
            )?);
        }
        Ok(Self { nodes, dir })
    }

    fn first(&self) -> &RelayProc {
        &self.nodes[0]
    }

    fn last(&self) -> &RelayProc {
        &self.nodes[self.nodes.len() - 1]
    }

    /// User and system CPU seconds of every relay node together.
    fn cpu_secs(&self) -> Result<(f64, f64), BoxError> {
        let mut total = (0.0, 0.0);
        for n in &self.nodes {
            let (u, s) = cpu_secs_of(n.child.id())?;
            total = (total.0 + u, total.1 + s);
        }
        Ok(total)
    }

    fn stop(self) {
        for n in self.nodes {
            n.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// User and system CPU seconds of every process named `postgres` on this
/// machine (the server and its backends; the load generator is meant to run
/// on a machine with only the benchmark's server).
fn postgres_cpu_secs() -> (f64, f64) {
    let mut total = (0.0, 0.0);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim() == "postgres")
        {
            if let Ok((u, s)) = cpu_secs_of(pid) {
                total = (total.0 + u, total.1 + s);
            }
        }
    }
    total
}

/// User and system CPU time a process has used so far, in seconds (fields
/// 14 and 15 of `/proc/<pid>/stat`, in clock ticks of 1/100 s, the Linux
/// default).
fn cpu_secs_of(pid: u32) -> Result<(f64, f64), BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; fields after it are fixed.
    let after = stat.rsplit_once(") ").ok_or("bad stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, BoxError> {
        Ok(fields.get(i).ok_or("short stat")?.parse::<f64>()? / 100.0)
    };
    // After ") " the first field is field 3 (state); utime is 14, stime 15.
    Ok((ticks(11)?, ticks(12)?))
}

impl RelayProc {
    fn start(
        bin: &PathBuf,
        dir: &Path,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Result<Self, BoxError> {
        let mut cmd = Command::new(bin);
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd
            .args(["--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args([
                "--rate-per-conn",
                "1000000000",
                "--burst-per-conn",
                "1000000000",
            ])
            .args(["--max-subscriptions-per-conn", "100000"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut addr, mut pin, mut metrics_addr) = (None, None, None);
        while addr.is_none() || pin.is_none() {
            let line = lines
                .next()
                .ok_or("the relay exited before announcing itself")??;
            if let Some(a) = line.strip_prefix(LISTENING_LINE) {
                addr = Some(a.parse()?);
            } else if let Some(m) = line.strip_prefix(METRICS_LINE) {
                metrics_addr = Some(m.parse()?);
            } else if let Some(p) = line.strip_prefix(PIN_LINE) {
                pin = Some(p.to_owned());
            }
        }
        Ok(Self {
            child,
            addr: addr.ok_or("no address")?,
            metrics_addr,
            pin: pin.ok_or("no pin")?,
        })
    }

    fn rss_kib(&self) -> Result<u64, BoxError> {
        rss_kib_of(self.child.id())
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process (VmRSS from `/proc/<pid>/status`), in KiB.
fn rss_kib_of(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

fn key_and_mailbox() -> (SigningKey, MailboxId) {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let mailbox = safespaces_relay::test_support::client::mailbox_for(&key);
    (key, mailbox)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn idle(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
    let relay = cluster.first();
    let tls = pinned_config(&relay.pin)?;
    let (key, mailbox) = key_and_mailbox();
    let mut c = TestRelayClient::connect(relay.addr, tls.clone()).await?;
    c.create_mailbox(&key, &mailbox).await?;
    // Warm up allocator arenas and lazy statics with a few connections first.
    let mut warm = Vec::new();
    for _ in 0..20 {
        let mut ws = connect_ws(relay.addr, tls.clone()).await?;
        ws.send(Message::text(subscribe_frame(&key, &mailbox, 0)))
            .await?;
        ws.next().await.ok_or("closed")??;
        warm.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = relay.rss_kib()?;
    let mut conns = Vec::with_capacity(args.idle_conns);
    let started = Instant::now();
    for _ in 0..args.idle_conns {
        let mut ws = connect_ws(relay.addr, tls.clone()).await?;
        ws.send(Message::text(subscribe_frame(&key, &mailbox, 0)))
            .await?;
        ws.next().await.ok_or("closed")??;
        conns.push(ws);
    }
    let opened_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = relay.rss_kib()?;
    let per = (after.saturating_sub(before)) as f64 / args.idle_conns as f64;
    println!("## idle WebSocket connections");
    println!(
        "connections: {} (each TLS 1.3 + WebSocket + 1 subscription), opened in {:.1} s",
        args.idle_conns,
        opened_in.as_secs_f64()
    );
    println!("relay VmRSS before: {before} KiB, after: {after} KiB");
    println!("resident memory per idle connection: {per:.1} KiB");
    drop(conns);
    drop(warm);
    Ok(())
}

async fn append(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
    let tls = pinned_config(&cluster.first().pin)?;
    let mut blob = vec![0u8; args.blob_bytes];
    rand::rngs::OsRng.fill_bytes(&mut blob);
    let blob = bytes::Bytes::from(blob);
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (key, mailbox) = key_and_mailbox();
        let node = &cluster.nodes[i % cluster.nodes.len()];
        let mut c = TestRelayClient::connect(node.addr, tls.clone()).await?;
        let r = c.create_mailbox(&key, &mailbox).await?;
        if r.status != 201 {
            return Err(format!("create failed: {}", r.status).into());
        }
        clients.push((c, key, mailbox));
    }
    let duration = Duration::from_secs(args.append_secs);
    let cpu_before = cluster.cpu_secs()?;
    let pg_before = postgres_cpu_secs();
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for (mut c, key, mailbox) in clients {
        let blob = blob.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match c.append(&key, &mailbox, blob.clone()).await {
                    Ok(r) if r.status == 200 => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let cpu_after = cluster.cpu_secs()?;
    let pg_after = postgres_cpu_secs();
    let (user, sys) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    lat.sort_unstable();
    println!("## append throughput");
    println!(
        "clients: {}, blob: {} B, duration: {:.1} s",
        args.clients,
        args.blob_bytes,
        elapsed.as_secs_f64()
    );
    println!(
        "durable appends acknowledged: {} ({:.0}/s), errors: {errors}",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "append latency p50 {}, p99 {}, max {}",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
    let n = lat.len().max(1) as f64;
    println!(
        "relay CPU: {:.2} cores busy; per append {:.1} us (user {:.1} us, system {:.1} us)",
        (user + sys) / elapsed.as_secs_f64(),
        (user + sys) * 1e6 / n,
        user * 1e6 / n,
        sys * 1e6 / n
    );
    if args.database_url.is_some() {
        let pg = (pg_after.0 - pg_before.0) + (pg_after.1 - pg_before.1);
        println!(
            "relay nodes: {}; PostgreSQL server CPU: {:.2} cores busy; per append {:.1} us",
            cluster.nodes.len(),
            pg / elapsed.as_secs_f64(),
            pg * 1e6 / n
        );
    }
    Ok(())
}

async fn fanout(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
    // Appends go through the first node, subscribers sit on the last: with
    // two nodes every delivery crosses from one node to the other.
    let (writer_node, relay) = (cluster.first(), cluster.last());
    let tls = pinned_config(&relay.pin)?;
    let (key, mailbox) = key_and_mailbox();
    let mut c = TestRelayClient::connect(writer_node.addr, tls.clone()).await?;
    c.create_mailbox(&key, &mailbox).await?;
    let total = args.fanout_blobs as u64;
    let mut subs = Vec::new();
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    for _ in 0..args.subscribers {
        let mut ws = connect_ws(relay.addr, tls.clone()).await?;
        ws.send(Message::text(subscribe_frame(&key, &mailbox, 0)))
            .await?;
        let ready = ready.clone();
        subs.push(tokio::spawn(async move {
            let mut got: Vec<(u64, Instant)> = Vec::with_capacity(total as usize);
            let mut subscribed = false;
            let deadline = Instant::now() + Duration::from_secs(120);
            while (got.len() as u64) < total && Instant::now() < deadline {
                let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_secs(30), ws.next()).await
                else {
                    break;
                };
                let now = Instant::now();
                let Message::Text(t) = msg else { continue };
                // Only the frame type and seq matter here; skip decoding the payload.
                let Ok(f) = serde_json::from_str::<FrameHead<'_>>(t.as_str()) else {
                    continue;
                };
                match f.kind {
                    "subscribed" if !subscribed => {
                        subscribed = true;
                        ready.add_permits(1);
                    }
                    "blob" => got.push((f.seq.unwrap_or(0), now)),
                    _ => {}
                }
            }
            got
        }));
    }
    let n = u32::try_from(args.subscribers)?;
    tokio::time::timeout(Duration::from_secs(60), ready.acquire_many(n))
        .await??
        .forget();
    let mut sent = vec![Instant::now(); total as usize + 1];
    let mut acks = Vec::new();
    let interval = Duration::from_micros(1_000_000 / args.fanout_rate.max(1));
    let mut tick = tokio::time::interval(interval);
    for _ in 0..total {
        tick.tick().await;
        let mut body = vec![0u8; args.blob_bytes];
        rand::rngs::OsRng.fill_bytes(&mut body);
        let t = Instant::now();
        let r = c.append(&key, &mailbox, body).await?;
        let ack = t.elapsed();
        let seq: u64 = r.json::<safespaces_wire::mailbox::Appended>()?.seq;
        if let Some(slot) = sent.get_mut(seq as usize) {
            *slot = t;
        }
        acks.push(ack);
    }
    let mut lat = Vec::new();
    let mut complete = 0;
    for s in subs {
        let got = s.await?;
        if got.len() as u64 == total {
            complete += 1;
        }
        for (seq, at) in got {
            if let Some(t) = sent.get(seq as usize) {
                lat.push(at.saturating_duration_since(*t));
            }
        }
    }
    lat.sort_unstable();
    acks.sort_unstable();
    let metrics = get_plain(relay.metrics_addr.ok_or("no metrics listener")?, "/metrics").await?;
    let (relay_p50, relay_p99) = histogram_percentiles(
        std::str::from_utf8(&metrics.body)?,
        "relay_fanout_delay_seconds",
    );
    println!("## fan-out latency");
    if cluster.nodes.len() > 1 {
        println!(
            "cross-node: appends through node 1, subscribers on node {}",
            cluster.nodes.len()
        );
    }
    println!(
        "subscribers: {} on one mailbox, blobs: {} x {} B at {}/s, deliveries: {} ({} subscribers got every blob)",
        args.subscribers,
        total,
        args.blob_bytes,
        args.fanout_rate,
        lat.len(),
        complete
    );
    println!(
        "append sent -> delivered: p50 {}, p99 {}, max {}",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "relay-side commit -> frame written to socket (histogram bucket bounds): p50 <= {relay_p50}, p99 <= {relay_p99}{}",
        if cluster.nodes.len() > 1 {
            " (on the subscribers' node: from reading the blob back after the notification)"
        } else {
            ""
        }
    );
    println!(
        "append sent -> acknowledged (includes the fsync): p50 {}, p99 {}",
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99))
    );
    Ok(())
}

/// p50 and p99 upper bounds from a Prometheus histogram's cumulative buckets.
fn histogram_percentiles(text: &str, name: &str) -> (String, String) {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, n) = rest.split_once("\"} ")?;
            Some((le.to_owned(), n.parse().ok()?))
        })
        .collect();
    let total = buckets.last().map_or(0, |b| b.1);
    let at = |p: f64| {
        let want = (total as f64 * p).ceil() as u64;
        buckets.iter().find(|b| b.1 >= want).map_or_else(
            || "n/a".to_owned(),
            |b| match b.0.parse::<f64>() {
                Ok(s) => format!("{:.1} ms", s * 1000.0),
                Err(_) => b.0.clone(),
            },
        )
    };
    (at(0.5), at(0.99))
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.nodes > 1 && args.database_url.is_none() {
        return Err("--nodes above 1 needs --database-url (SQLite is one node)".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let wanted = |s: &str| args.scenarios == "all" || args.scenarios.split(',').any(|x| x == s);
    runtime.block_on(async {
        // Each scenario gets a fresh relay so one does not skew the next.
        for (name, run) in [
            ("idle", 0),
            ("append", 1),
            ("fanout", 2),
            ("slow-bodies", 3),
            ("idle-conns", 4),
            ("dropbox-flood", 5),
        ] {
            if !wanted(name) {
                continue;
            }
            let pool = args.flood_pool.to_string();
            let extra: Vec<&str> = match run {
                5 => vec!["--max-dropboxes", &pool],
                _ => vec![],
            };
            let cluster = Cluster::start(&args, &extra)?;
            let result = match run {
                0 => idle(&args, &cluster).await,
                1 => append(&args, &cluster).await,
                2 => fanout(&args, &cluster).await,
                3 => attack::slow_bodies(&args, &cluster).await,
                4 => attack::idle_conns(&args, &cluster).await,
                _ => attack::dropbox_flood(&args, &cluster).await,
            };
            cluster.stop();
            result?;
            println!();
        }
        Ok(())
    })
}

/// The attack scenarios: an attacker next to an honest client.
mod attack {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use safespaces_relay::test_support::client::{Reply, connect_tls, proof_headers};
    use safespaces_wire::auth::sign_now;
    use safespaces_wire::dropbox::{put_query, vouch_body};
    use safespaces_wire::mailbox::ReadPage;
    use safespaces_wire::{DropboxId, Operation};
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// The honest device: six mailboxes and their cursors.
    pub(super) struct Device {
        mailboxes: Vec<(SigningKey, MailboxId, u64)>,
    }

    impl Device {
        pub(super) async fn create(relay: &RelayProc) -> Result<Self, BoxError> {
            let tls = pinned_config(&relay.pin)?;
            let mut c = TestRelayClient::connect(relay.addr, tls).await?;
            let mut mailboxes = Vec::new();
            for _ in 0..6 {
                let (key, mailbox) = key_and_mailbox();
                let r = c.create_mailbox(&key, &mailbox).await?;
                if r.status != 201 {
                    return Err(format!("create failed: {}", r.status).into());
                }
                mailboxes.push((key, mailbox, 0));
            }
            Ok(Self { mailboxes })
        }

        /// One sync pass (see the module docs); its duration.
        pub(super) async fn sync(&mut self, relay: &RelayProc) -> Result<Duration, BoxError> {
            let tls = pinned_config(&relay.pin)?;
            let started = Instant::now();
            let mut c = TestRelayClient::connect(relay.addr, tls).await?;
            let mut blob = vec![0u8; 1024];
            rand::rngs::OsRng.fill_bytes(&mut blob);
            for (key, mailbox, cursor) in &mut self.mailboxes {
                let r = c.read(key, mailbox, *cursor, None).await?;
                ok(&r, "read")?;
                let page: ReadPage = r.json()?;
                *cursor = page.last_seq;
                ok(&c.append(key, mailbox, blob.clone()).await?, "append")?;
            }
            Ok(started.elapsed())
        }

        /// `passes` sync passes 100 ms apart; sorted durations.
        pub(super) async fn measure(
            &mut self,
            relay: &RelayProc,
            passes: usize,
        ) -> Result<Vec<Duration>, BoxError> {
            let mut times = Vec::with_capacity(passes);
            for _ in 0..passes {
                times.push(self.sync(relay).await?);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            times.sort_unstable();
            Ok(times)
        }
    }

    fn ok(r: &Reply, what: &str) -> Result<(), BoxError> {
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            Err(format!("{what}: {} {}", r.status, String::from_utf8_lossy(&r.body)).into())
        }
    }

    /// Samples the relay's VmRSS every 200 ms until `stop`; returns the peak.
    fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib_of(pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    }

    /// Prints one scenario's comparison.
    fn report(
        title: &str,
        quiet: &[Duration],
        attacked: &[Duration],
        rss: (u64, u64, u64),
        extra: &str,
    ) {
        let (q, a) = (percentile(quiet, 0.5), percentile(attacked, 0.5));
        println!("## {title}");
        println!("{extra}");
        println!(
            "relay VmRSS: {} KiB before, peak {} KiB under attack, {} KiB after",
            rss.0, rss.1, rss.2
        );
        println!(
            "honest sync pass (new TLS connection, 6 mailboxes x (read + 1 KiB append)), {} passes each: \
             without attack p50 {} p90 {}; under attack p50 {} p90 {}; ratio of medians {:.2}",
            quiet.len(),
            ms(q),
            ms(percentile(quiet, 0.9)),
            ms(a),
            ms(percentile(attacked, 0.9)),
            a.as_secs_f64() / q.as_secs_f64().max(1e-9)
        );
    }

    /// Runs `attack` (which must stop when `stop` is set, and add a permit
    /// to `ready` once it is in full swing) while the device syncs; returns
    /// the sync times, the RSS before / peak / after, and what the attack
    /// returned. `settle` is waited after `ready`.
    async fn under_attack<F, T>(
        args: &Args,
        relay: &RelayProc,
        device: &mut Device,
        settle: Duration,
        attack: F,
    ) -> Result<(Vec<Duration>, Vec<Duration>, (u64, u64, u64), T), BoxError>
    where
        F: FnOnce(Arc<AtomicBool>, Arc<tokio::sync::Semaphore>) -> tokio::task::JoinHandle<T>,
    {
        // Warm up, then the quiet baseline.
        device.sync(relay).await?;
        let quiet = device.measure(relay, args.sync_passes).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = relay.rss_kib()?;
        let stop = Arc::new(AtomicBool::new(false));
        let peak = sample_rss(relay.child.id(), stop.clone());
        let ready = Arc::new(tokio::sync::Semaphore::new(0));
        let attacker = attack(stop.clone(), ready.clone());
        tokio::time::timeout(Duration::from_secs(120), ready.acquire())
            .await??
            .forget();
        tokio::time::sleep(settle).await;
        let attacked = device.measure(relay, args.sync_passes).await;
        stop.store(true, Ordering::Relaxed);
        let out = attacker.await?;
        let peak = peak.await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = relay.rss_kib()?;
        Ok((quiet, attacked?, (before, peak, after), out))
    }

    pub(super) async fn slow_bodies(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
        let relay = cluster.first();
        let mut device = Device::create(relay).await?;
        let (key, mailbox) = key_and_mailbox();
        let tls = pinned_config(&relay.pin)?;
        TestRelayClient::connect(relay.addr, tls.clone())
            .await?
            .create_mailbox(&key, &mailbox)
            .await?;
        let (addr, conns) = (relay.addr, args.slow_conns);
        let cut = Arc::new(AtomicU64::new(0));
        let cut_seen = cut.clone();
        let (quiet, attacked, rss, opened) = under_attack(
            args,
            relay,
            &mut device,
            Duration::from_secs(12),
            move |stop, ready| {
                tokio::spawn(async move {
                    let opened = Arc::new(AtomicU64::new(0));
                    let mut tasks = Vec::new();
                    for _ in 0..conns {
                        let (tls, stop, cut, opened, key) =
                            (tls.clone(), stop.clone(), cut.clone(), opened.clone(), key.clone());
                        tasks.push(tokio::spawn(async move {
                            while !stop.load(Ordering::Relaxed) {
                                let Ok(mut s) = connect_tls(addr, tls.clone()).await else {
                                    tokio::time::sleep(Duration::from_millis(200)).await;
                                    continue;
                                };
                                opened.fetch_add(1, Ordering::Relaxed);
                                // A signed append whose 64 KiB body never arrives.
                                let body = vec![0u8; 64 * 1024];
                                let proof = sign_now(&key, safespaces_relay::test_support::client::HOST, Operation::Append, &mailbox, &body);
                                let mut head = format!(
                                    "POST /v1/mailboxes/{}/blobs HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
                                    mailbox.to_hex(),
                                    body.len()
                                );
                                for (k, v) in proof_headers(&proof) {
                                    head.push_str(&format!("{k}: {v}\r\n"));
                                }
                                head.push_str("\r\n");
                                if s.write_all(head.as_bytes()).await.is_err() {
                                    continue;
                                }
                                while !stop.load(Ordering::Relaxed) {
                                    if s.write_all(b"x").await.is_err() || s.flush().await.is_err() {
                                        cut.fetch_add(1, Ordering::Relaxed);
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                }
                            }
                        }));
                    }
                    ready.add_permits(1);
                    for t in tasks {
                        let _ = t.await;
                    }
                    opened.load(Ordering::Relaxed)
                })
            },
        )
        .await?;
        report(
            "slow bodies",
            &quiet,
            &attacked,
            rss,
            &format!(
                "attacker: {} connections trickling a 64 KiB append body at 1 byte/s, reconnecting when cut; \
                 {opened} connections opened, {} cut off by the relay (grace 10 s, 1,024 B/s)",
                conns,
                cut_seen.load(Ordering::Relaxed)
            ),
        );
        Ok(())
    }

    pub(super) async fn idle_conns(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
        let relay = cluster.first();
        let mut device = Device::create(relay).await?;
        let tls = pinned_config(&relay.pin)?;
        let (addr, conns) = (relay.addr, args.attack_idle_conns);
        let (quiet, attacked, rss, held) = under_attack(
            args,
            relay,
            &mut device,
            Duration::from_secs(2),
            move |stop, ready| {
                tokio::spawn(async move {
                    // All opened before the measurement starts, then held.
                    let mut held = Vec::with_capacity(conns);
                    for _ in 0..conns {
                        match connect_tls(addr, tls.clone()).await {
                            Ok(s) => held.push(s),
                            Err(_) => break,
                        }
                    }
                    let n = held.len();
                    ready.add_permits(1);
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    drop(held);
                    n
                })
            },
        )
        .await?;
        report(
            "idle connections",
            &quiet,
            &attacked,
            rss,
            &format!(
                "attacker: {held} of {conns} TLS 1.3 connections open and silent (no request) during the measurement \
                 (the relay's connection cap is 4,096; they would be closed after the 90 s idle timeout)"
            ),
        );
        Ok(())
    }

    /// One invite's drop-box round as the apps run it; its duration.
    async fn invite_round(
        c: &mut TestRelayClient,
        key: &SigningKey,
        space: &MailboxId,
    ) -> Result<Duration, BoxError> {
        let started = Instant::now();
        let id = || DropboxId::from_bytes(*key_and_mailbox().1.as_bytes());
        let (package, request, welcome) = (id(), id(), id());
        ok(
            &vouched(c, key, space, &package, Some(&request), b"package").await?,
            "package",
        )?;
        ok(&claim(c, &package).await?, "claim package")?;
        let r = c
            .send(
                hyper::Method::PUT,
                &format!("/v1/dropboxes/{}?ttl_secs=3600", request.to_hex()),
                &[],
                &b"request"[..],
            )
            .await?;
        ok(&r, "request")?;
        ok(&claim(c, &request).await?, "claim request")?;
        ok(
            &vouched(c, key, space, &welcome, None, b"welcome").await?,
            "welcome",
        )?;
        ok(&claim(c, &welcome).await?, "claim welcome")?;
        Ok(started.elapsed())
    }

    async fn vouched(
        c: &mut TestRelayClient,
        key: &SigningKey,
        space: &MailboxId,
        id: &DropboxId,
        reserve: Option<&DropboxId>,
        blob: &'static [u8],
    ) -> Result<Reply, BoxError> {
        let ttl = Some(3600);
        let proof = sign_now(
            key,
            safespaces_relay::test_support::client::HOST,
            Operation::Vouch,
            space,
            &vouch_body(id, reserve, ttl, blob),
        );
        let path = format!(
            "/v1/dropboxes/{}{}",
            id.to_hex(),
            put_query(ttl, Some(space), reserve)
        );
        Ok(
            c.send(hyper::Method::PUT, &path, &proof_headers(&proof), blob)
                .await?,
        )
    }

    async fn claim(c: &mut TestRelayClient, id: &DropboxId) -> Result<Reply, BoxError> {
        Ok(c.send(
            hyper::Method::POST,
            &format!("/v1/dropboxes/{}/claim", id.to_hex()),
            &[],
            "",
        )
        .await?)
    }

    pub(super) async fn dropbox_flood(args: &Args, cluster: &Cluster) -> Result<(), BoxError> {
        let relay = cluster.first();
        let mut device = Device::create(relay).await?;
        let tls = pinned_config(&relay.pin)?;
        let mut inviter = TestRelayClient::connect(relay.addr, tls.clone()).await?;
        // One space per invite round: a reservation stays until its invite
        // expires, and a space vouches for 32 at a time.
        let mut spaces = Vec::new();
        for _ in 0..2 * args.sync_passes {
            let (key, space) = key_and_mailbox();
            ok(&inviter.create_mailbox(&key, &space).await?, "create")?;
            spaces.push((key, space));
        }
        let mut quiet_invites = Vec::new();
        for (space_key, space) in &spaces[..args.sync_passes] {
            quiet_invites.push(invite_round(&mut inviter, space_key, space).await?);
        }
        quiet_invites.sort_unstable();
        // Fill the pool first (not timed), 8 connections at once.
        let fill_started = Instant::now();
        let pool = args.flood_pool;
        let mut fillers = Vec::new();
        for w in 0..8u64 {
            let tls = tls.clone();
            let addr = relay.addr;
            fillers.push(tokio::spawn(async move {
                let mut c = TestRelayClient::connect(addr, tls).await?;
                for _ in (w..pool).step_by(8) {
                    let id = DropboxId::from_bytes(*key_and_mailbox().1.as_bytes());
                    let r = c
                        .send(
                            hyper::Method::PUT,
                            &format!("/v1/dropboxes/{}", id.to_hex()),
                            &[],
                            &b"junk"[..],
                        )
                        .await?;
                    if r.status != 201 {
                        return Err::<(), BoxError>(format!("fill: {}", r.status).into());
                    }
                }
                Ok(())
            }));
        }
        for f in fillers {
            f.await??;
        }
        let filled_in = fill_started.elapsed();
        let addr = relay.addr;
        let attack_tls = tls.clone();
        let invites_under = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (quiet, attacked, rss, refused) = under_attack(
            args,
            relay,
            &mut device,
            Duration::from_secs(1),
            move |stop, ready| {
                tokio::spawn(async move {
                    ready.add_permits(1);
                    // Keep putting into the full pool, 8 connections flat out.
                    let refused = Arc::new(AtomicU64::new(0));
                    let mut tasks = Vec::new();
                    for _ in 0..8 {
                        let (tls, stop, refused) =
                            (attack_tls.clone(), stop.clone(), refused.clone());
                        tasks.push(tokio::spawn(async move {
                            let Ok(mut c) = TestRelayClient::connect(addr, tls).await else {
                                return;
                            };
                            while !stop.load(Ordering::Relaxed) {
                                let id = DropboxId::from_bytes(*key_and_mailbox().1.as_bytes());
                                match c
                                    .send(
                                        hyper::Method::PUT,
                                        &format!("/v1/dropboxes/{}", id.to_hex()),
                                        &[],
                                        &b"junk"[..],
                                    )
                                    .await
                                {
                                    Ok(r) if r.status == 507 => {
                                        refused.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Ok(_) => {}
                                    Err(_) => return,
                                }
                            }
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                    refused.load(Ordering::Relaxed)
                })
            },
        )
        .await?;
        // Invites while the flood goes on (a second burst of the same attack).
        let stop = Arc::new(AtomicBool::new(false));
        let mut flooders = Vec::new();
        for _ in 0..8 {
            let (tls, stop) = (tls.clone(), stop.clone());
            flooders.push(tokio::spawn(async move {
                let Ok(mut c) = TestRelayClient::connect(addr, tls).await else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    let id = DropboxId::from_bytes(*key_and_mailbox().1.as_bytes());
                    if c.send(
                        hyper::Method::PUT,
                        &format!("/v1/dropboxes/{}", id.to_hex()),
                        &[],
                        &b"junk"[..],
                    )
                    .await
                    .is_err()
                    {
                        return;
                    }
                }
            }));
        }
        let mut failed = 0;
        for (space_key, space) in &spaces[args.sync_passes..] {
            match invite_round(&mut inviter, space_key, space).await {
                Ok(t) => invites_under.lock().map_or((), |mut v| v.push(t)),
                Err(e) => {
                    eprintln!("invite failed under the flood: {e}");
                    failed += 1;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for f in flooders {
            let _ = f.await;
        }
        let mut under = invites_under.lock().map(|v| v.clone()).unwrap_or_default();
        under.sort_unstable();
        report(
            "drop-box flood",
            &quiet,
            &attacked,
            rss,
            &format!(
                "attacker: filled the anonymous pool of {pool} in {:.1} s, then 8 connections putting flat out: \
                 {refused} puts refused relay_full during the sync measurement\n\
                 real invite round (vouched package + reserved answer, anonymous answer, vouched welcome, 3 claims), \
                 {} rounds each: without flood p50 {}, under flood p50 {} ({} of {} succeeded, {failed} failed)",
                filled_in.as_secs_f64(),
                args.sync_passes,
                ms(percentile(&quiet_invites, 0.5)),
                ms(percentile(&under, 0.5)),
                under.len(),
                args.sync_passes
            ),
        );
        Ok(())
    }
}
