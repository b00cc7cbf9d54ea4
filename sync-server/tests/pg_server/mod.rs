//! A throwaway PostgreSQL server for one test binary.
//!
//! The first test that asks starts it with `scripts/pg-test-server.sh`
//! (initdb into a temporary directory, unix socket only, no TCP port) and
//! every test of the binary shares it, each with databases of its own. The
//! script leaves a watchdog that stops the server and deletes its directory
//! as soon as this test process exits, however it exits.
//!
//! If the server binaries are missing, tests skip *loudly*; under CI
//! (`CI` set) that is a failure instead, because `scripts/install-test-deps.sh`
//! installs them there.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running server.
pub struct PgServer {
    /// Its directory (data, unix socket), as `pg-test-server.sh` knows it.
    dir: PathBuf,
}

static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-test-server.sh")
}

/// The shared server, or `None` (after saying so on stderr) if PostgreSQL is
/// not installed.
pub fn server() -> Option<&'static PgServer> {
    SERVER
        .get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("relay-pg-")
                .tempdir()
                .unwrap()
                .keep();
            let out = Command::new("bash")
                .arg(script())
                .arg("start")
                .arg(&dir)
                .arg("--watch")
                .arg(std::process::id().to_string())
                .output()
                .expect("running scripts/pg-test-server.sh");
            if out.status.code() == Some(3) {
                let _ = std::fs::remove_dir_all(&dir);
                let why = String::from_utf8_lossy(&out.stderr);
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL is missing under CI: {why}"
                );
                eprintln!(
                    "\n*** SKIPPING PostgreSQL tests: {why}*** run scripts/install-test-deps.sh\n"
                );
                return None;
            }
            assert!(
                out.status.success(),
                "pg-test-server.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(PgServer { dir })
        })
        .as_ref()
}

impl PgServer {
    /// Creates an empty database and returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        let out = Command::new("bash")
            .arg(script())
            .arg("createdb")
            .arg(&self.dir)
            .arg(&name)
            .output()
            .expect("running scripts/pg-test-server.sh");
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}
