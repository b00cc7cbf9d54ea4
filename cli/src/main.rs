//! The `safespaces` command: a desktop companion for Safe Spaces leads, and
//! a scripting tool.
//!
//! # Layout
//! - `args.rs`: the command line (clap).
//! - `secret.rs`: where passphrases come from (prompt, stdin, environment).
//! - `resolve.rs`: finding a space, session, member or entry from what a
//!   person typed (id, id prefix, name).
//! - `commands/`: running each command against `safespaces_core::app`,
//!   one file per command group, each returning a typed result that
//!   serializes to its `--json` shape and renders for people (its
//!   `mod.rs` maps the files).
//! - `times.rs`: dates, times and durations as typed and shown, in the
//!   space's time zone.
//!
//! - `exit.rs`: the exit codes (stable, for scripts), from core's error
//!   classification; `docs/cli.md`'s table is cited from it.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod exit;
mod resolve;
mod secret;
mod times;

use clap::Parser;
use safespaces_core::app::AppError;
use safespaces_core::model::ModelError;

use exit::ExitCode;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see `exit.rs`).
    pub code: ExitCode,
    /// What to tell the person.
    pub message: String,
}

impl Failure {
    /// A refusal: bad input, not permitted, unknown thing.
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            code: ExitCode::Refused,
            message: message.into(),
        }
    }
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        Failure {
            code: err.class().into(),
            message: err.to_string(),
        }
    }
}

impl From<ModelError> for Failure {
    fn from(err: ModelError) -> Self {
        AppError::from(err).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Failure {
            code: ExitCode::Unexpected,
            message: err.to_string(),
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(out) => {
            if json {
                println!("{}", out.json);
            } else if !out.human.is_empty() {
                println!("{}", out.human.trim_end());
            }
            ExitCode::Success.into()
        }
        Err(failure) => {
            if json {
                let body =
                    serde_json::json!({"error": failure.message, "exit_code": failure.code.code()});
                eprintln!("{body}");
            } else {
                eprintln!("safespaces: {}", failure.message);
            }
            failure.code.into()
        }
    }
}
