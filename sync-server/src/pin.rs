//! `safespaces-relay pin`: prints the pin clients trust the relay by, the
//! SHA-256 of the certificate's public key (SubjectPublicKeyInfo).
//!
//! `--cert` takes the certificate (or full chain: the first block is the
//! leaf) the relay serves; `--key` takes a private key, so an operator can
//! ship the pin of the *next* key to devices before a certificate for it
//! exists (`docs/deploy.md`, "Certificates, pins and renewal").

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Print the SPKI SHA-256 pin of a PEM certificate, or the pin every
/// certificate for a PEM private key will have.
#[derive(Debug, Parser)]
#[command(name = "safespaces-relay pin")]
pub struct PinArgs {
    /// A PEM certificate or chain (the pin is the leaf's, the first block).
    #[arg(long, required_unless_present = "key", conflicts_with = "key")]
    pub cert: Option<PathBuf>,
    /// A PEM private key (PKCS#8, SEC1 or PKCS#1).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// Runs `pin` with `args` (the first being `pin` itself): prints the 64 hex
/// digits alone on stdout, or the reason on stderr.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = PinArgs::parse_from(args);
    let pin = match (&args.cert, &args.key) {
        (Some(cert), _) => crate::tls::pin_of_cert_file(cert),
        (None, Some(key)) => crate::tls::pin_of_key_file(key),
        // clap requires one of them.
        (None, None) => return ExitCode::from(2),
    };
    match pin {
        Ok(pin) => {
            println!("{pin}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("safespaces-relay pin: {e}");
            ExitCode::FAILURE
        }
    }
}
