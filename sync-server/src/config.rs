//! Configuration: command-line flags and `SAFESPACES_RELAY_*` environment
//! variables (clap), and the limits derived from them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The hard ceiling on a drop-box lifetime, whatever the operator configures:
/// an invite that lies around longer than two weeks is a liability.
pub const DROPBOX_TTL_CEILING_SECS: u64 = 14 * 24 * 3600;

/// `safespaces-relay`: the blind Safe Spaces relay.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "safespaces-relay",
    version,
    about,
    after_help = "Other commands:\n  safespaces-relay pin (--cert FILE | --key FILE)   print the SPKI pin clients use\n\nSIGHUP reloads --cert and --key without dropping connections."
)]
pub struct Config {
    /// Address to listen on (use port 0 to let the OS pick; the bound address is printed).
    #[arg(
        long,
        env = "SAFESPACES_RELAY_LISTEN",
        default_value = "127.0.0.1:8443"
    )]
    pub listen: SocketAddr,

    /// Directory for the SQLite database (and the development certificate).
    /// With `--database-url` it holds only the development certificate.
    #[arg(long, env = "SAFESPACES_RELAY_DATA_DIR")]
    pub data_dir: PathBuf,

    /// PostgreSQL database URL (`postgres://user:password@host/db?sslmode=verify-full`).
    /// If set, blobs live there instead of the SQLite file, and several relay
    /// nodes may share the database.
    #[arg(long, env = "SAFESPACES_RELAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,

    /// Development mode: generate (once) and reuse a self-signed certificate in
    /// the data directory and print its SHA-256 pin.
    #[arg(long, env = "SAFESPACES_RELAY_DEV", conflicts_with_all = ["cert", "key"])]
    pub dev: bool,

    /// PEM certificate chain (production mode).
    #[arg(long, env = "SAFESPACES_RELAY_CERT", requires = "key")]
    pub cert: Option<PathBuf>,

    /// PEM private key (production mode).
    #[arg(long, env = "SAFESPACES_RELAY_KEY", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Creating a mailbox or putting a drop-box needs
    /// `Authorization: Bearer <token>`, so a public relay is not an open file
    /// host. Required outside --dev unless --open is given. Prefer the
    /// environment variable: a flag is visible to other users in `ps`.
    #[arg(long, env = "SAFESPACES_RELAY_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// The host name clients reach this relay by (repeat for several). Every
    /// signed request names its relay's host; with this set, one signed for
    /// any other host is refused, so a request recorded at another relay
    /// cannot be replayed here. Required outside `--dev`.
    #[arg(long, env = "SAFESPACES_RELAY_PUBLIC_HOST", value_delimiter = ',')]
    pub public_host: Vec<String>,
    /// Run without an access token outside --dev: anyone who finds the relay
    /// may create mailboxes and drop-boxes (up to the quotas).
    #[arg(long, env = "SAFESPACES_RELAY_OPEN", conflicts_with = "access_token")]
    pub open: bool,

    /// Largest blob (request body) accepted, in bytes.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_BLOB_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_blob_bytes: usize,

    /// Most blobs one mailbox may hold.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_BLOBS_PER_MAILBOX",
        default_value_t = 100_000
    )]
    pub max_blobs_per_mailbox: u64,

    /// Most bytes (sum of blob sizes) one mailbox may hold.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_BYTES_PER_MAILBOX", default_value_t = 512 * 1024 * 1024)]
    pub max_bytes_per_mailbox: u64,

    /// Largest drop-box blob, in bytes.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_DROPBOX_BYTES", default_value_t = 64 * 1024)]
    pub max_dropbox_bytes: usize,

    /// Most drop-boxes held at once.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_DROPBOXES",
        default_value_t = 100_000
    )]
    pub max_dropboxes: u64,

    /// Longest drop-box lifetime in seconds (at most 14 days).
    #[arg(long, env = "SAFESPACES_RELAY_DROPBOX_MAX_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub dropbox_max_ttl_secs: u64,

    /// Accepted clock difference for signed timestamps, in seconds either way.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_CLOCK_WINDOW_SECS",
        default_value_t = 300
    )]
    pub clock_window_secs: u64,

    /// Sustained requests (or WebSocket frames) per second per connection.
    #[arg(long, env = "SAFESPACES_RELAY_RATE_PER_CONN", default_value_t = 200.0)]
    pub rate_per_conn: f64,

    /// Burst allowance per connection.
    #[arg(long, env = "SAFESPACES_RELAY_BURST_PER_CONN", default_value_t = 400.0)]
    pub burst_per_conn: f64,

    /// Close HTTP keep-alive and WebSocket connections idle this many seconds.
    #[arg(long, env = "SAFESPACES_RELAY_IDLE_TIMEOUT_SECS", default_value_t = 90)]
    pub idle_timeout_secs: u64,

    /// Largest WebSocket frame a client may send, in bytes.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_WS_FRAME_BYTES",
        default_value_t = 4096
    )]
    pub max_ws_frame_bytes: usize,

    /// Most mailboxes one WebSocket may subscribe to.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_SUBSCRIPTIONS",
        default_value_t = 1024
    )]
    pub max_subscriptions_per_conn: usize,

    /// Most blobs per read page.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_PAGE_BLOBS", default_value_t = 500)]
    pub max_page_blobs: u32,

    /// Seconds to let in-flight requests finish on shutdown.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_SHUTDOWN_GRACE_SECS",
        default_value_t = 10
    )]
    pub shutdown_grace_secs: u64,

    // --- operations: metrics listener, log format
    /// Serve `/metrics` (Prometheus text), `/readyz` and `/healthz` over
    /// plain HTTP on this address, apart from the public TLS port, e.g.
    /// `127.0.0.1:9464` (port 0: the OS picks; the bound address is
    /// printed). Off when unset. Keep it on loopback or a private interface:
    /// metrics carry no ids, but traffic volumes are still nobody else's business.
    #[arg(long, env = "SAFESPACES_RELAY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// How log lines on stderr look: `text` for people, `json` (one object
    /// per line) for a log collector.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    // ---- Limits that hold against an outsider (issue 16; docs/relay.md,
    // "Errors and limits"). Kept together so they read as one policy. ----
    /// Most TLS connections open at once (handshaking ones included); more
    /// are closed right after `accept`, before any TLS work.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Seconds a client may take to finish the TLS handshake.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_HANDSHAKE_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub handshake_timeout_secs: u64,

    /// Bytes per second a peer must move, on average, once its grace is
    /// over: request bodies in, and responses and frames out while they are
    /// waiting to be written. Slower peers are cut off.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MIN_TRANSFER_RATE",
        default_value_t = 1024
    )]
    pub min_transfer_rate: u64,

    /// Seconds a request body or a blocked write may take before the
    /// minimum rate applies.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_TRANSFER_GRACE_SECS",
        default_value_t = 10
    )]
    pub transfer_grace_secs: u64,

    /// Bytes of live blob frames queued for one WebSocket; beyond it the
    /// connection catches up from the store instead.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_QUEUED_BYTES_PER_CONN", default_value_t = 1024 * 1024)]
    pub max_queued_bytes_per_conn: usize,

    /// Most mailboxes the relay holds.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_MAILBOXES", default_value_t = 50_000)]
    pub max_mailboxes: u64,

    /// Most bytes of blobs and drop-boxes the relay holds altogether.
    #[arg(long, env = "SAFESPACES_RELAY_MAX_TOTAL_BYTES", default_value_t = 16 * 1024 * 1024 * 1024)]
    pub max_total_bytes: u64,

    /// Most drop-boxes (reservations included) one mailbox vouches for at once.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_DROPBOXES_PER_MAILBOX",
        default_value_t = 32
    )]
    pub max_dropboxes_per_mailbox: u64,

    /// Nonces remembered for replay protection before the relay turns
    /// busy (see docs/relay.md for the policy at the limit).
    #[arg(long, env = "SAFESPACES_RELAY_MAX_NONCES", default_value_t = 1_000_000)]
    pub max_nonces: usize,

    /// Nonces one mailbox may hold in the replay memory.
    #[arg(
        long,
        env = "SAFESPACES_RELAY_MAX_NONCES_PER_MAILBOX",
        default_value_t = 100_000
    )]
    pub max_nonces_per_mailbox: usize,
}

/// The format of the relay's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines (tracing's default format).
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// A configuration the relay refuses to start with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Outside `--dev`, neither an access token nor `--open` was given.
    #[error(
        "refusing to start an open relay: give --access-token TOKEN (or SAFESPACES_RELAY_ACCESS_TOKEN) \
         so only apps configured with the token can create mailboxes and drop-boxes, \
         or --open to let anyone do so on purpose"
    )]
    NoAccessToken,
    /// The access token could never be sent by a client.
    #[error("the access token must be non-empty printable ASCII without spaces")]
    BadAccessToken,
    /// Outside `--dev`, the relay must know its own name.
    #[error(
        "name this relay with --public-host HOST (the host name clients connect to): signed requests name their relay, and without it a request recorded at another relay could be replayed here"
    )]
    NoPublicHost,
}

/// A database URL. It may hold a password, so `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected a postgres:// or postgresql:// URL".into())
        }
    }
}

impl Config {
    /// A configuration with every default, for tests and embedding.
    pub fn with_defaults(data_dir: PathBuf, listen: SocketAddr) -> Self {
        let mut c = Config::parse_from(["safespaces-relay", "--data-dir", ".", "--dev"]);
        c.data_dir = data_dir;
        c.listen = listen;
        c
    }

    /// Refuses what must not start: an open relay outside `--dev` that the
    /// operator did not ask for with `--open`, or a token no client can send
    /// (the clients accept the same characters).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.access_token {
            Some(token) if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ConfigError::BadAccessToken);
            }
            None if !self.dev && !self.open => return Err(ConfigError::NoAccessToken),
            _ => {}
        }
        if !self.dev && self.public_host.is_empty() {
            return Err(ConfigError::NoPublicHost);
        }
        Ok(())
    }

    /// The idle timeout as a [`Duration`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }

    /// The drop-box lifetime cap actually enforced (the configured value,
    /// clamped to [`DROPBOX_TTL_CEILING_SECS`]).
    pub fn dropbox_ttl_cap(&self) -> u64 {
        self.dropbox_max_ttl_secs.clamp(1, DROPBOX_TTL_CEILING_SECS)
    }
}

impl Config {
    /// The TLS handshake deadline as a [`Duration`].
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs.max(1))
    }
}
