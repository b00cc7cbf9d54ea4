//! `safespaces-relay`: runs the relay until SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use safespaces_relay::{Config, LISTENING_LINE, PIN_LINE, Relay};

fn main() -> ExitCode {
    let config = Config::parse();
    // Logs go to stderr; stdout carries only the two announcement lines.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
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
        let _ = writeln!(out, "{PIN_LINE}{}", relay.pin());
        let _ = out.flush();
    }
    wait_for_signal().await;
    tracing::info!("signal received");
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
