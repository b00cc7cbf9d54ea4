//! The server: TLS accept loop, one hyper connection per client, the drop-box
//! sweeper, and graceful shutdown.
//!
//! Client addresses are dropped the moment a connection is accepted: they are
//! never stored, logged or used as metric labels.
//!
//! At most `--max-connections` are open at once (handshaking ones included):
//! past that a connection is closed right after `accept`, before any TLS
//! work. Each connection's I/O is wrapped in [`crate::pacing::PacedIo`], so
//! a peer that stops reading what it asked for is cut off.
//!
//! Shutdown: stop accepting, ask every connection to finish its in-flight
//! request (hyper's graceful shutdown) and every WebSocket to close, wait up
//! to the grace period, then close the store, which commits every write
//! already queued before its writer thread exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::app::{App, AppState, ConnState, unix_now};
use crate::config::{Config, ConfigError};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::replay::NonceCache;
use crate::store::{PgStore, SharedStore, SqliteStore, StoreError, StoreLimits};
use crate::tls::{ServerTls, TlsError};

/// File name of the SQLite database inside the data directory (unless
/// `--database-url` selects PostgreSQL).
pub const DB_FILE: &str = "relay.sqlite3";
/// How often expired drop-boxes are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Why the relay could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The data directory could not be created.
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Binding the listen address failed.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration must not start (an open relay nobody asked for).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The store failed to open or close.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    tls: Arc<ServerTls>,
    /// The plain-HTTP metrics listener's address, with `--metrics-listen`.
    metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), RelayError>>,
}

impl Relay {
    /// Opens the store, binds the listener and starts serving.
    pub async fn start(config: Config) -> Result<Relay, RelayError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| RelayError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let tls = Arc::new(ServerTls::load(&config)?);
        let hub = Arc::new(Hub::default());
        let limits = StoreLimits {
            max_blobs_per_mailbox: config.max_blobs_per_mailbox,
            max_bytes_per_mailbox: config.max_bytes_per_mailbox,
            max_dropboxes: config.max_dropboxes,
            max_mailboxes: config.max_mailboxes,
            max_total_bytes: config.max_total_bytes,
            max_dropboxes_per_mailbox: config.max_dropboxes_per_mailbox,
        };
        let sink = hub.clone();
        let store: SharedStore = match &config.database_url {
            Some(url) => Arc::new(PgStore::connect(url.expose(), limits, sink).await?),
            None => {
                let db = config.data_dir.join(DB_FILE);
                Arc::new(
                    tokio::task::spawn_blocking(move || SqliteStore::open(&db, limits, sink))
                        .await
                        .map_err(|e| StoreError::Backend(e.to_string()))??,
                )
            }
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| RelayError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| RelayError::Bind {
            addr: config.listen,
            source,
        })?;
        let metrics_listener = match config.metrics_listen {
            Some(at) => Some(bind_metrics(at).await?),
            None => None,
        };
        let metrics_addr = match &metrics_listener {
            Some(l) => Some(l.local_addr().map_err(|source| RelayError::Bind {
                addr: config.listen,
                source,
            })?),
            None => None,
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let app = Arc::new(App {
            nonces: NonceCache::new(
                config.clock_window_secs,
                unix_now(),
                crate::replay::NonceLimits {
                    max_total: config.max_nonces,
                    max_per_mailbox: config.max_nonces_per_mailbox,
                },
            ),
            config,
            store,
            hub,
            metrics: Metrics::default(),
            shutdown: shutdown_rx,
        });
        if let Some(l) = metrics_listener {
            tokio::spawn(serve_metrics(app.clone(), l));
        }
        let task = tokio::spawn(serve(app, listener, tls.clone()));
        tracing::info!("relay started");
        Ok(Relay {
            addr,
            tls,
            metrics_addr,
            shutdown: shutdown_tx,
            task,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pin of the certificate now served: SHA-256 of its
    /// SubjectPublicKeyInfo, 64 hex digits.
    pub fn pin(&self) -> String {
        self.tls.pin()
    }

    /// Reads the certificate and key files again (SIGHUP): new connections
    /// get the new certificate, established ones keep theirs. Returns the
    /// new pin; on failure the previous certificate stays in use.
    pub fn reload_certificate(&self) -> Result<String, TlsError> {
        self.tls.reload()
    }

    /// Where `/metrics` is served over plain HTTP, if `--metrics-listen` was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Graceful shutdown: finish in-flight requests and queued writes, then return.
    pub async fn shutdown(self) -> Result<(), RelayError> {
        let _ = self.shutdown.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Backend(format!("server task failed: {e}")).into()),
        }
    }
}

async fn serve(
    app: AppState,
    listener: TcpListener,
    tls: Arc<ServerTls>,
) -> Result<(), RelayError> {
    let router = crate::routes::router(app.clone());
    let mut shutdown = app.shutdown.clone();
    let mut conns = JoinSet::new();
    let sweeper = tokio::spawn(sweep(app.clone()));
    // One permit per open connection, handshaking ones included: past the
    // cap a connection is closed before any TLS work, so refusing costs
    // an accept and a close, and the connections already open keep going.
    let slots = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let mut full_since_logged = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                // The peer address is dropped here, on purpose.
                Ok((tcp, _peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        full_since_logged = false;
                        conns.spawn(serve_conn(app.clone(), tcp, tls.acceptor(), router.clone(), slot));
                    }
                    Err(_) => {
                        drop(tcp);
                        Metrics::add(&app.metrics.connections_refused, 1);
                        if !full_since_logged {
                            // Once per episode: a flood must not become a log flood.
                            tracing::warn!(max = app.config.max_connections, "connection limit reached; refusing new connections");
                            full_since_logged = true;
                        }
                    }
                },
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("grace period over; dropping remaining connections");
        conns.abort_all();
    }
    sweeper.abort();
    app.store.close().await?;
    tracing::info!("relay stopped; every acknowledged write is on disk");
    Ok(())
}

async fn serve_conn(
    app: AppState,
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    router: axum::Router,
    _slot: OwnedSemaphorePermit,
) {
    Metrics::add(&app.metrics.connections_accepted, 1);
    Metrics::gauge(&app.metrics.connections_open, 1);
    let _ = tcp.set_nodelay(true);
    let mut shutdown = app.shutdown.clone();
    let handshake =
        tokio::time::timeout(app.config.handshake_timeout(), acceptor.accept(tcp)).await;
    if handshake.is_err() {
        Metrics::add(&app.metrics.slow_peers_cut, 1);
    }
    if let Ok(Ok(tls)) = handshake {
        let tls = crate::pacing::PacedIo::new(tls, app.config.pace(), app.clone());
        let conn_state = Arc::new(ConnState::new(&app.config));
        let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_state.clone());
            router.clone().oneshot(req)
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // Also the keep-alive idle timeout: hyper starts it while waiting for the next request.
            .header_read_timeout(app.config.idle_timeout())
            .max_buf_size(64 * 1024);
        let conn = builder
            .serve_connection(TokioIo::new(tls), svc)
            .with_upgrades();
        tokio::pin!(conn);
        if *shutdown.borrow() {
            conn.as_mut().graceful_shutdown();
        }
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = shutdown.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
    Metrics::gauge(&app.metrics.connections_open, -1);
}

async fn sweep(app: AppState) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        match app.store.sweep_dropboxes(unix_now()).await {
            Ok(n) => Metrics::add(&app.metrics.dropboxes_expired, n),
            Err(e) => tracing::warn!(error = %e, "drop-box sweep failed"),
        }
    }
}

/// Binds the metrics listener; says so loudly if it is reachable from
/// outside the machine.
async fn bind_metrics(at: SocketAddr) -> Result<TcpListener, RelayError> {
    if !at.ip().is_loopback() {
        tracing::warn!(
            "the metrics listener is not on loopback: anyone who can reach it sees the relay's traffic volumes; firewall it"
        );
    }
    TcpListener::bind(at)
        .await
        .map_err(|source| RelayError::Bind { addr: at, source })
}

/// The plain-HTTP operator listener (`/metrics`, `/readyz`, `/healthz`):
/// no TLS and no rate limit, because it is meant for a scraper on the same
/// machine or a private network, never for clients. It stops accepting when
/// shutdown starts; a probe then sees the relay as gone, which it is.
async fn serve_metrics(app: AppState, listener: TcpListener) {
    let router = crate::routes::metrics_router(app.clone());
    let mut shutdown = app.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let router = router.clone();
                    let idle = app.config.idle_timeout();
                    conns.spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<Incoming>| {
                            router.clone().oneshot(req)
                        });
                        let mut builder = http1::Builder::new();
                        builder.timer(TokioTimer::new()).header_read_timeout(idle);
                        let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}
