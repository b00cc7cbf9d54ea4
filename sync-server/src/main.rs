//! `safespaces-relay`: runs the relay until SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use safespaces_relay::config::LogFormat;
use safespaces_relay::{Config, LISTENING_LINE, METRICS_LINE, PIN_LINE, Relay};

fn main() -> ExitCode {
    let config = Config::parse();
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safespaces-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), safespaces_relay::RelayError> {
    let relay = Relay::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{LISTENING_LINE}{}", relay.local_addr());
        if let Some(metrics) = relay.metrics_addr() {
            let _ = writeln!(out, "{METRICS_LINE}{metrics}");
        }
        let _ = writeln!(out, "{PIN_LINE}{}", relay.pin());
        let _ = out.flush();
    }
    // Under systemd (`Type=notify`, deploy/safespaces-relay.service): ready
    // now that clients can connect. Without NOTIFY_SOCKET this does nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    wait_for_signal().await;
    tracing::info!("signal received");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    relay.shutdown().await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs go to stderr, as text or one JSON object per line; stdout carries
/// only the announcement lines. Either way no event carries an id, a
/// payload or a client address (the relay never has them in a log field).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Json => logs.json().init(),
        // `LogFormat` is non-exhaustive for library users; text is the fallback.
        _ => logs.init(),
    }
}
