//! The real `safespaces-relay` binary as a child process on loopback, for
//! tests that kill it, restart it, reload its certificate, run several
//! nodes, or drive it from another program (the end-to-end crate, the CLI).
//!
//! [`RelayOptions`] says how to start it (which binary, data directory,
//! address, `--dev` or certificate files, extra flags, logging);
//! [`RelayOptions::start`] waits until the relay announced its address and
//! pin on stdout (and its operator listener, when asked for), then a thread
//! keeps reading stdout, so the relay never writes into a closed pipe and
//! [`RelayProcess::hangup`] can wait for its answer to a reload. Every relay
//! runs with per-connection rate limits lifted: tests hammer one connection,
//! and those limits are tested where they are the subject.
//!
//! # Which binary
//! `CARGO_BIN_EXE_…` exists only inside the relay's own crate: its tests pass
//! `env!("CARGO_BIN_EXE_safespaces-relay")` to [`RelayOptions::new`]. Others
//! call [`relay_binary`], which takes `SAFESPACES_RELAY_BIN` if set and
//! otherwise asks Cargo for the binary the way `escargot` does: once per
//! test process it runs `cargo build -p safespaces-relay --bin
//! safespaces-relay --message-format=json` and takes the executable path
//! from Cargo's report, so tests run the relay built from the current
//! source, never a stale copy.
//!
//! That build uses its own target directory (`<target>/e2e-relay`): built
//! alone, the relay's dependencies resolve to other feature sets than in the
//! workspace build (feature unification), and sharing one directory would
//! make the two builds recompile each other's dependencies on every run. The
//! first run on a fresh machine compiles the relay once more (a few minutes
//! on two cores); later runs find it fresh in well under a second.
//!
//! A failure to start the relay aborts the test with the reason: this is
//! test scaffolding, so it panics rather than returning errors.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::{OsStr, OsString};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use crate::{LISTENING_LINE, METRICS_LINE, PIN_LINE, RELOAD_FAILED_LINE};

/// How long the relay may take to announce itself or answer a SIGHUP.
const ANNOUNCE_WITHIN: Duration = Duration::from_secs(60);

/// The path of the `safespaces-relay` executable: `SAFESPACES_RELAY_BIN`,
/// or built on first use (see the module docs).
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

/// Where the relay's stderr (its log) goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stderr {
    /// To the test's own stderr (shown when a test fails).
    Inherit,
    /// Nowhere.
    Null,
    /// Appended to this file (created if missing), for tests that read the
    /// log; a restart appends to the same file.
    File(PathBuf),
}

/// How to start a relay process ([`RelayOptions::start`]).
#[derive(Debug, Clone)]
pub struct RelayOptions {
    binary: PathBuf,
    data_dir: PathBuf,
    listen: SocketAddr,
    /// `--dev`, or `--cert FILE --key FILE --public-host …`.
    mode: Vec<OsString>,
    extra: Vec<OsString>,
    log_filter: String,
    stderr: Stderr,
    metrics: bool,
    env_remove: Vec<OsString>,
}

impl RelayOptions {
    /// The relay at `binary` in development mode (`--dev`: a self-signed
    /// certificate generated once in `data_dir`) on a port the OS picks,
    /// with `data_dir` for its data, logging warnings to the test's stderr.
    pub fn new(binary: impl Into<PathBuf>, data_dir: &Path) -> Self {
        Self {
            binary: binary.into(),
            data_dir: data_dir.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mode: vec!["--dev".into()],
            extra: Vec::new(),
            log_filter: "warn".into(),
            stderr: Stderr::Inherit,
            metrics: false,
            env_remove: Vec::new(),
        }
    }

    /// Listens on `listen` (a restart on the port of an earlier run, so
    /// that what a client signed for stays the same).
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Production mode instead of `--dev`: serves the PEM files `cert` and
    /// `key` (reloaded on [`RelayProcess::hangup`]) and is named `127.0.0.1`
    /// and `localhost` (`--public-host`), the names the tests' clients sign
    /// for. Outside development mode the relay needs `--access-token` or
    /// `--open` among the [`RelayOptions::args`].
    pub fn production(mut self, cert: &Path, key: &Path) -> Self {
        self.mode = vec![
            "--cert".into(),
            cert.as_os_str().to_owned(),
            "--key".into(),
            key.as_os_str().to_owned(),
            "--public-host".into(),
            "127.0.0.1,localhost".into(),
        ];
        self
    }

    /// Extra command-line flags (e.g. `--access-token`, `--database-url`).
    /// A restart keeps them.
    pub fn args<I, S>(mut self, extra: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.extra
            .extend(extra.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Logs at `filter` (`RUST_LOG`) to `stderr`.
    pub fn log(mut self, filter: &str, stderr: Stderr) -> Self {
        self.log_filter = filter.to_owned();
        self.stderr = stderr;
        self
    }

    /// Starts the operator listener on `127.0.0.1:0` (`--metrics-listen`);
    /// [`RelayProcess::metrics`] is its address.
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// Starts the relay without `var` in its environment (a token the
    /// developer's shell exports must not change what a test sees).
    pub fn env_remove(mut self, var: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(var.as_ref().to_owned());
        self
    }

    /// Starts the relay and waits until it announced itself.
    pub fn start(self) -> RelayProcess {
        let mut command = Command::new(&self.binary);
        command
            .args(&self.mode)
            .arg("--listen")
            .arg(self.listen.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--rate-per-conn", "1000000", "--burst-per-conn", "1000000"]);
        if self.metrics {
            command.args(["--metrics-listen", "127.0.0.1:0"]);
        }
        for var in &self.env_remove {
            command.env_remove(var);
        }
        let stderr = match &self.stderr {
            Stderr::Inherit => Stdio::inherit(),
            Stderr::Null => Stdio::null(),
            Stderr::File(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the relay's log file opens")
                .into(),
        };
        let mut child = command
            .args(&self.extra)
            .env("RUST_LOG", &self.log_filter)
            .stdout(Stdio::piped())
            .stderr(stderr)
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
        let (mut addr, mut pin, mut metrics) = (None, None, None);
        while addr.is_none() || pin.is_none() {
            let line = match lines.recv_timeout(ANNOUNCE_WITHIN) {
                Ok(line) => line,
                Err(_) => panic!("the relay did not announce itself: {:?}", child.try_wait()),
            };
            if let Some(a) = line.strip_prefix(LISTENING_LINE) {
                addr = Some(a.parse().expect("the announced address parses"));
            } else if let Some(m) = line.strip_prefix(METRICS_LINE) {
                metrics = Some(m.parse().expect("the announced metrics address parses"));
            } else if let Some(p) = line.strip_prefix(PIN_LINE) {
                assert!(
                    p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()),
                    "the pin is 64 hex digits: {p:?}"
                );
                pin = Some(p.to_owned());
            }
        }
        assert!(
            !self.metrics || metrics.is_some(),
            "the metrics line comes before the pin line"
        );
        RelayProcess {
            child,
            lines,
            addr: addr.expect("announced"),
            pin: pin.expect("announced"),
            metrics,
            options: self,
        }
    }
}

/// A running relay process. Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct RelayProcess {
    child: Child,
    // Lines the relay prints on stdout after announcing itself (a reload's
    // pin or failure), read by a thread that also keeps the pipe open.
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
    pin: String,
    metrics: Option<SocketAddr>,
    options: RelayOptions,
}

impl RelayProcess {
    /// Starts [`relay_binary`] in development mode on a port the OS picks,
    /// with `data_dir` for its data.
    pub fn start(data_dir: &Path) -> Self {
        RelayOptions::new(relay_binary(), data_dir).start()
    }

    /// Like [`RelayProcess::start`], on `listen` (to come back on the same
    /// address after a kill).
    pub fn start_at(data_dir: &Path, listen: SocketAddr) -> Self {
        Self::start_with(data_dir, listen, &[])
    }

    /// Like [`RelayProcess::start_at`], with extra command-line flags (e.g.
    /// `--access-token`). A restart keeps them.
    pub fn start_with(data_dir: &Path, listen: SocketAddr, extra: &[&str]) -> Self {
        RelayOptions::new(relay_binary(), data_dir)
            .listen(listen)
            .args(extra)
            .start()
    }

    /// [`relay_binary`] in production mode (see [`RelayOptions::production`]),
    /// serving the PEM files `cert` and `key`, with extra flags.
    pub fn start_production(
        data_dir: &Path,
        listen: SocketAddr,
        cert: &Path,
        key: &Path,
        extra: &[&str],
    ) -> Self {
        RelayOptions::new(relay_binary(), data_dir)
            .listen(listen)
            .production(cert, key)
            .args(extra)
            .start()
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

    /// The operator listener's address; only for a relay started with
    /// [`RelayOptions::metrics`].
    pub fn metrics(&self) -> SocketAddr {
        self.metrics
            .expect("started with RelayOptions::metrics (--metrics-listen)")
    }

    /// Its process id, for signals a test sends itself.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name `kill -s` takes: `TERM`, `HUP`, …).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed: {status}");
    }

    /// Waits for the process to exit (after a signal that ends it).
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("waiting for the relay")
    }

    /// SIGTERM, then waits: a graceful shutdown (in-flight writes finish,
    /// the store closes). Returns how it exited.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait()
    }

    /// Sends SIGHUP, as an operator's renewal hook does, and waits for the
    /// relay's answer: `Some(pin)` once it serves the reloaded certificate,
    /// `None` if it refused the new files and kept the previous one.
    pub fn hangup(&mut self) -> Option<String> {
        self.signal("HUP");
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

    /// Starts it again on the same address with the same options (data
    /// directory, certificate, flags); in development mode that is the same
    /// generated certificate, hence the same pin, and the same stored blobs.
    pub fn restart(&mut self) {
        self.kill();
        let again = self.options.clone().listen(self.addr).start();
        if self.options.mode == [OsString::from("--dev")] {
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
