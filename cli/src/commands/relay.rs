//! Reaching a relay: the client built from the command line's address,
//! trust and access token, and a runtime for the async calls a command
//! makes.

use safespaces_core::relay::{RelayConfig, RelayTransport, trust::Trust};

use crate::args::TrustArgs;
use crate::failure::Failure;

/// A relay client from the command line's relay address, trust and token.
pub fn client(url: &str, args: &TrustArgs) -> Result<RelayTransport, Failure> {
    let usage = |e: safespaces_core::relay::RelayError| Failure {
        code: crate::exit::ExitCode::Usage,
        message: e.to_string(),
    };
    let trust = if !args.pins.is_empty() {
        Trust::pins_from_hex(&args.pins).map_err(usage)?
    } else if let Some(ca) = &args.ca {
        let pem = std::fs::read(ca).map_err(|e| Failure {
            code: crate::exit::ExitCode::Usage,
            message: format!("cannot read the CA file {}: {e}", ca.display()),
        })?;
        Trust::roots_from_pem(&pem).map_err(usage)?
    } else if args.web_pki {
        Trust::WebPki
    } else {
        return Err(Failure {
            code: crate::exit::ExitCode::Usage,
            message: "say how to trust the relay: --pin PIN (printed by the relay; repeat it for \
                      the next key), --ca FILE or --web-pki"
                .into(),
        });
    };
    let mut config = RelayConfig::new(url, trust).map_err(usage)?;
    if let Some(token) = &args.access_token {
        config = config.with_access_token(token.0.clone()).map_err(usage)?;
    }
    RelayTransport::new(config).map_err(usage)
}

/// Runs one async operation on a small runtime: the command does one thing
/// and exits.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        // Building a runtime only fails if the OS refuses threads or timers.
        Err(e) => {
            eprintln!("safespaces: cannot start: {e}");
            std::process::exit(1);
        }
    }
}
