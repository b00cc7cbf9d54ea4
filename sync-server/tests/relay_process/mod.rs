//! The real `safespaces-relay` binary as a child process, for tests that
//! kill it or run several nodes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use safespaces_relay::{LISTENING_LINE, METRICS_LINE, PIN_LINE};

/// A running relay process.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub pin: String,
    /// The operator listener (`--metrics-listen 127.0.0.1:0`, always on here).
    pub metrics: SocketAddr,
}

/// Starts the relay in development mode on `127.0.0.1:0` with `dir` as its
/// data directory and rate limits lifted, plus `extra` arguments; waits
/// for it to announce its address and pin.
pub fn spawn_relay_with(dir: &Path, extra: &[&OsStr], filter: &str, stderr: Stdio) -> Proc {
    spawn_relay_at(dir, "127.0.0.1:0", extra, filter, stderr)
}

/// Like [`spawn_relay_with`], on a given address (a restart on the port of
/// an earlier run, so that what the client signed for stays the same).
pub fn spawn_relay_at(
    dir: &Path,
    listen: &str,
    extra: &[&OsStr],
    filter: &str,
    stderr: Stdio,
) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_safespaces-relay"))
        .args(["--dev", "--listen", listen, "--data-dir"])
        .arg(dir)
        .args(["--rate-per-conn", "1000000", "--burst-per-conn", "1000000"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", filter)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    let mut pin = None;
    let mut metrics = None;
    while addr.is_none() || pin.is_none() {
        let line = lines.next().expect("the relay announces itself").unwrap();
        if let Some(a) = line.strip_prefix(LISTENING_LINE) {
            addr = Some(a.parse().unwrap());
        } else if let Some(m) = line.strip_prefix(METRICS_LINE) {
            metrics = Some(m.parse().unwrap());
        } else if let Some(p) = line.strip_prefix(PIN_LINE) {
            assert_eq!(p.len(), 64);
            assert!(p.bytes().all(|b| b.is_ascii_hexdigit()));
            pin = Some(p.to_owned());
        }
    }
    Proc {
        child,
        addr: addr.unwrap(),
        pin: pin.unwrap(),
        metrics: metrics.expect("the metrics line comes before the pin line"),
    }
}
