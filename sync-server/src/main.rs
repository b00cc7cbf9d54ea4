//! `safespaces-relay`: runs the relay until SIGINT or SIGTERM, reloading
//! its certificate on SIGHUP; `safespaces-relay pin` prints a pin.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use safespaces_relay::config::LogFormat;
use safespaces_relay::{Config, LISTENING_LINE, METRICS_LINE, PIN_LINE, RELOAD_FAILED_LINE, Relay};

fn main() -> ExitCode {
    // The one subcommand; the relay's own flags stay at the top level.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "pin") {
        return safespaces_relay::pin::run(args.into_iter().skip(1));
    }
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
    wait_for_signal(&relay).await;
    tracing::info!("signal received");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    relay.shutdown().await
}

/// Waits for SIGINT or SIGTERM; reloads the certificate on every SIGHUP.
async fn wait_for_signal(relay: &Relay) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hangup.recv() => reload_certificate(relay),
        }
    }
}

/// A failed reload is logged and announced, never fatal: the relay keeps
/// serving the certificate it has.
fn reload_certificate(relay: &Relay) {
    let line = match relay.reload_certificate() {
        Ok(pin) => {
            tracing::info!(pin = %pin, "certificate reloaded");
            format!("{PIN_LINE}{pin}")
        }
        Err(e) => {
            tracing::error!(error = %e, "certificate reload failed; still serving the previous certificate");
            RELOAD_FAILED_LINE.to_owned()
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
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
