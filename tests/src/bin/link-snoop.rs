//! Someone else holding a link code, as a separate process: watches both
//! link drop-boxes while the person's devices link, takes the package the
//! moment it appears, and tries to open it with what the code alone gives
//! (`tests/tests/link_confirmation.rs`, protocol.md §8).
//!
//! ```text
//! link-snoop --relay URL --pin HEX --code sl1-… [--for-ms N] [--dump DIR]
//! ```
//!
//! Every 50 ms it asks the relay whether each drop-box holds a blob
//! (`GET`, which claims nothing). It prints one JSON line per event as it
//! happens (`started` after its first poll, `request_seen`,
//! `request_gone`, `package_seen`), then, once it has tried the package or
//! `--for-ms` (default 30 000) has passed, a last line `{"report": …}`:
//! when each drop-box was first seen (Unix milliseconds), whether it
//! claimed the package, whether the outer layer opened with the code,
//! whether anything inside opened, and how regularly it polled. With
//! `--dump DIR` it writes what it claimed (`package.sealed`) and what the
//! code opened (`package.outer`) for the test to search.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use safespaces_core::protocol::link::{LinkPackage, LinkRequest, LinkSecret};
use safespaces_core::relay::{DropboxId, RelayConfig, RelayTransport, RetryPolicy};
use serde_json::json;

const POLL: Duration = Duration::from_millis(50);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn event(name: &str) -> u64 {
    let at = unix_ms();
    println!("{}", json!({"event": name, "at_ms": at}));
    at
}

struct Args {
    relay: String,
    pin: String,
    code: String,
    for_ms: u64,
    dump: Option<PathBuf>,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let (mut relay, mut pin, mut code, mut for_ms, mut dump) = (None, None, None, 30_000, None);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--relay" => relay = Some(value),
            "--pin" => pin = Some(value),
            "--code" => code = Some(value),
            "--for-ms" => for_ms = value.parse().expect("--for-ms is a number"),
            "--dump" => dump = Some(PathBuf::from(value)),
            other => panic!("unknown flag {other}"),
        }
    }
    Args {
        relay: relay.expect("--relay"),
        pin: pin.expect("--pin"),
        code: code.expect("--code"),
        for_ms,
        dump,
    }
}

/// What the code alone opens of a claimed package.
struct Opened {
    outer: bool,
    inner_is_age: bool,
    /// Each thing the code derives, tried on the inner layer, and the
    /// package opened with an identity of the snoop's own: what opened.
    inside: Vec<&'static str>,
    error: String,
}

fn try_open(sealed: &[u8], secret: &LinkSecret, dump: Option<&PathBuf>) -> Opened {
    if let Some(dir) = dump {
        std::fs::write(dir.join("package.sealed"), sealed).unwrap();
    }
    let Ok(outer) = LinkPackage::open_outer(sealed, secret) else {
        return Opened {
            outer: false,
            inner_is_age: false,
            inside: Vec::new(),
            error: "the outer layer did not open".into(),
        };
    };
    if let Some(dir) = dump {
        std::fs::write(dir.join("package.outer"), &outer[..]).unwrap();
    }
    let mut inside = Vec::new();
    if LinkRequest::open(&outer, secret).is_ok() {
        inside.push("request key");
    }
    if LinkPackage::open_outer(&outer, secret).is_ok() {
        inside.push("package key");
    }
    if serde_json::from_slice::<serde_json::Value>(&outer).is_ok() {
        inside.push("plain json");
    }
    let error = match LinkPackage::open(sealed, secret, &age::x25519::Identity::generate()) {
        Ok(_) => {
            inside.push("another identity");
            String::new()
        }
        Err(e) => e.to_string(),
    };
    Opened {
        outer: true,
        inner_is_age: outer.starts_with(b"age-encryption.org/v1\n"),
        inside,
        error,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = args();
    let secret = LinkSecret::parse(&args.code).expect("a link code");
    let config = RelayConfig::pinned(&args.relay, &args.pin)
        .expect("the relay's pin")
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_attempts: 3,
        })
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    let net = RelayTransport::new(config).expect("a relay client");
    let request = DropboxId::from_hex(&secret.request_dropbox()).unwrap();
    let package = DropboxId::from_hex(&secret.package_dropbox()).unwrap();

    let deadline = Instant::now() + Duration::from_millis(args.for_ms);
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut polls, mut max_gap_ms, mut last_poll) = (0u64, 0u64, None::<Instant>);
    let (mut request_seen, mut request_gone, mut package_seen) = (None, None, None);
    let mut claimed = None::<Result<Vec<u8>, String>>;
    while Instant::now() < deadline {
        ticks.tick().await;
        let started = Instant::now();
        if let Some(last) = last_poll {
            max_gap_ms = max_gap_ms.max(started.duration_since(last).as_millis() as u64);
        }
        last_poll = Some(started);
        let (req, pkg) = tokio::join!(net.dropbox_waiting(&request), net.dropbox_waiting(&package));
        polls += 1;
        if polls == 1 {
            event("started");
        }
        match req {
            Ok(Some(_)) if request_seen.is_none() => request_seen = Some(event("request_seen")),
            Ok(None) if request_seen.is_some() && request_gone.is_none() => {
                request_gone = Some(event("request_gone"));
            }
            _ => {}
        }
        if let Ok(Some(_)) = pkg {
            package_seen = Some(event("package_seen"));
            // Take it at once: the new device must not get it first.
            claimed = Some(net.claim_dropbox(&package).await.map_err(|e| e.to_string()));
            break;
        }
    }
    let opened = match &claimed {
        Some(Ok(sealed)) => Some(try_open(sealed, &secret, args.dump.as_ref())),
        _ => None,
    };
    let report = json!({
        "polls": polls,
        "max_gap_ms": max_gap_ms,
        "request_seen_at_ms": request_seen,
        "request_gone_at_ms": request_gone,
        "package_seen_at_ms": package_seen,
        "package_claimed": matches!(claimed, Some(Ok(_))),
        "claim_error": claimed.as_ref().and_then(|c| c.as_ref().err()),
        "outer_opened": opened.as_ref().is_some_and(|o| o.outer),
        "inner_is_age": opened.as_ref().is_some_and(|o| o.inner_is_age),
        "opened_inside": opened.as_ref().map(|o| o.inside.clone()).unwrap_or_default(),
        "inner_error": opened.as_ref().map(|o| o.error.clone()),
    });
    println!("{}", json!({ "report": report }));
}
