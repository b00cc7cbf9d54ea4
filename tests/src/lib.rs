//! End-to-end test harness: real `safespaces-relay` processes on loopback.
//!
//! # Layout
//! - [`relay_binary`] finds (building if needed) the relay's own binary.
//! - [`RelayProcess`] runs it on `127.0.0.1` with a data directory, in
//!   `--dev` mode or with given certificate files, reads the address and
//!   certificate pin it prints, sends it SIGHUP to reload its certificate,
//!   and can kill it with SIGKILL and start it again on the same address
//!   and data.
//! - [`devices`]: a test profile and a pinned relay client; joining a
//!   space and linking a device through the relay.
//! - [`own_storage`]: the keys a device's own storage gives a hostile
//!   member's modified app, for attack tests.
//! - `src/bin/link-snoop.rs`: someone else holding a link code, as its own
//!   process (`tests/link_confirmation.rs`).
//!
//! # Which binary
//! `CARGO_BIN_EXE_…` only exists inside the relay's own crate, so this
//! harness asks Cargo for the binary the way `escargot` does: once per test
//! process it runs `cargo build -p safespaces-relay --bin safespaces-relay
//! --message-format=json` and takes the executable path from Cargo's
//! report, so the tests always run the relay built from the current source,
//! never a stale copy.
//!
//! That build uses its own target directory (`<target>/e2e-relay`): built
//! alone, the relay's dependencies resolve to other feature sets than in the
//! workspace build (feature unification), and sharing one directory would
//! make the two builds recompile each other's dependencies on every run. The
//! first run on a fresh machine compiles the relay once more (a few minutes
//! on two cores); later runs find it fresh in well under a second. Set
//! `SAFESPACES_RELAY_BIN` to a prebuilt binary to skip the build entirely.
#![forbid(unsafe_code)]
// Test scaffolding: a failure to start the relay should abort the test
// with the reason, which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use safespaces_relay::{LISTENING_LINE, PIN_LINE, RELOAD_FAILED_LINE};

pub mod devices;
pub mod own_storage;
pub mod proxy;
pub use devices::{
    assert_no_sequence_alerts, held_epoch_key, join_through_relay, journal_texts,
    link_through_relay, restore_test_device, session_titles, test_client, test_device,
    test_session,
};
pub use proxy::CuttableProxy;

/// The path of the `safespaces-relay` executable, built on first use.
pub fn relay_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("SAFESPACES_RELAY_BIN") {
            return PathBuf::from(path);
        }
        build_relay().unwrap_or_else(|why| panic!("cannot build safespaces-relay: {why}"))
    })
}

fn build_relay() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    // The test executable lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().map_err(|e| format!("no current executable: {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("the test executable is not inside a Cargo target directory")?
        .join("e2e-relay");
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "safespaces-relay",
            "--bin",
            "safespaces-relay",
        ])
        .args([
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build failed: {}", output.status));
    }
    // The last compiler-artifact message for the binary names the executable.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "safespaces-relay")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo reported no safespaces-relay executable".into())
}

/// A running relay process. Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct RelayProcess {
    child: Child,
    // Lines the relay prints on stdout after announcing itself (a reload's
    // pin or failure), read by a thread that also keeps the pipe open so
    // the relay never writes into a closed pipe.
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
    pin: String,
    data_dir: PathBuf,
    /// `--dev`, or `--cert FILE --key FILE`.
    mode: Vec<OsString>,
    extra: Vec<String>,
}

/// How long the relay may take to announce itself or answer a SIGHUP.
const ANNOUNCE_WITHIN: Duration = Duration::from_secs(60);

impl RelayProcess {
    /// Starts a relay on a port the OS picks, with `data_dir` for its data.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_at(data_dir, "127.0.0.1:0".parse().expect("a socket address"))
    }

    /// Starts a relay on `listen` (to come back on the same address after a
    /// kill), with `data_dir` for its data and development certificate.
    pub fn start_at(data_dir: &Path, listen: SocketAddr) -> Self {
        Self::start_with(data_dir, listen, &[])
    }

    /// Starts a relay in development mode with extra command-line flags
    /// (e.g. `--access-token`). A restart keeps them.
    pub fn start_with(data_dir: &Path, listen: SocketAddr, extra: &[&str]) -> Self {
        Self::spawn(data_dir, listen, vec!["--dev".into()], extra)
    }

    /// Starts a relay in production mode, serving the PEM files `cert` and
    /// `key` (reloaded on [`Self::hangup`]), with extra flags: outside
    /// development mode the relay needs `--access-token` or `--open`, and
    /// is named `127.0.0.1` and `localhost` (`--public-host`).
    pub fn start_production(
        data_dir: &Path,
        listen: SocketAddr,
        cert: &Path,
        key: &Path,
        extra: &[&str],
    ) -> Self {
        let mode = vec![
            "--cert".into(),
            cert.as_os_str().to_owned(),
            "--key".into(),
            key.as_os_str().to_owned(),
            // The names the tests' clients sign for (protocol: relay.md,
            // "Authorisation").
            "--public-host".into(),
            "127.0.0.1,localhost".into(),
        ];
        Self::spawn(data_dir, listen, mode, extra)
    }

    fn spawn(data_dir: &Path, listen: SocketAddr, mode: Vec<OsString>, extra: &[&str]) -> Self {
        let mut child = Command::new(relay_binary())
            .args(&mode)
            .args(["--listen", &listen.to_string(), "--data-dir"])
            .arg(data_dir)
            // Tests hammer one connection; per-connection limits are the
            // relay's own tests' business.
            .args(["--rate-per-conn", "1000000", "--burst-per-conn", "1000000"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the relay binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim_end().to_owned()).is_err() {
                    break;
                }
            }
        });
        let (mut addr, mut pin) = (None, None);
        while addr.is_none() || pin.is_none() {
            let line = match lines.recv_timeout(ANNOUNCE_WITHIN) {
                Ok(line) => line,
                Err(_) => panic!("the relay did not announce itself: {:?}", child.try_wait()),
            };
            if let Some(a) = line.strip_prefix(LISTENING_LINE) {
                addr = Some(a.parse().expect("the announced address parses"));
            } else if let Some(p) = line.strip_prefix(PIN_LINE) {
                pin = Some(p.to_owned());
            }
        }
        Self {
            child,
            lines,
            addr: addr.expect("announced"),
            pin: pin.expect("announced"),
            data_dir: data_dir.to_owned(),
            mode,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pin of the certificate it serves (SHA-256 of the public key,
    /// 64 hex digits), as it last announced it.
    pub fn pin(&self) -> &str {
        &self.pin
    }

    /// Sends SIGHUP, as an operator's renewal hook does, and waits for the
    /// relay's answer: `Some(pin)` once it serves the reloaded certificate,
    /// `None` if it refused the new files and kept the previous one.
    pub fn hangup(&mut self) -> Option<String> {
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::HUP,
        )
        .expect("SIGHUP is delivered");
        loop {
            let line = self
                .lines
                .recv_timeout(ANNOUNCE_WITHIN)
                .expect("the relay answers a SIGHUP");
            if let Some(pin) = line.strip_prefix(PIN_LINE) {
                self.pin = pin.to_owned();
                return Some(self.pin.clone());
            }
            if line == RELOAD_FAILED_LINE {
                return None;
            }
        }
    }

    /// Kills the process with SIGKILL, as a crash or power cut would, and
    /// waits until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address, data directory and certificate
    /// (in development mode: the same generated certificate, hence the same
    /// pin), with the same stored blobs.
    pub fn restart(&mut self) {
        self.kill();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let again = Self::spawn(&self.data_dir, self.addr, self.mode.clone(), &extra);
        if self.mode == [OsString::from("--dev")] {
            assert_eq!(again.pin, self.pin, "the dev certificate is reused");
        }
        *self = again;
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
