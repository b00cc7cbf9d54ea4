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
//! Exit codes (stable, for scripts): 0 success; 1 unexpected failure;
//! 2 usage error; 3 wrong passphrase or locked; 4 network failure;
//! 5 refused (not permitted, invalid input, unknown id); 6 no profile, or a
//! profile already exists, or stored data is damaged.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod resolve;
mod secret;
mod times;

use clap::Parser;
use safespaces_core::app::AppError;
use safespaces_core::model::ModelError;
use safespaces_core::profile::ProfileError;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see the crate docs).
    pub code: i32,
    /// What to tell the person.
    pub message: String,
}

impl Failure {
    /// A refusal: bad input, not permitted, unknown thing.
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            code: 5,
            message: message.into(),
        }
    }
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        let code = match &err {
            AppError::Locked | AppError::WrongSecret => 3,
            AppError::Model(_) | AppError::Attendance(_) | AppError::UnknownSpace(_) => 5,
            AppError::Profile(ProfileError::NotFound(_) | ProfileError::AlreadyExists(_)) => 6,
            AppError::Corrupt(_) => 6,
            AppError::Relay(e) if e.code().is_some() => 5,
            AppError::Relay(_) => 4,
            AppError::Invite(_) | AppError::Link(_) | AppError::Rotation(_) => 5,
            _ => 1,
        };
        Failure {
            code,
            message: err.to_string(),
        }
    }
}

impl From<ModelError> for Failure {
    fn from(err: ModelError) -> Self {
        Failure::refused(err.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Failure {
            code: 1,
            message: err.to_string(),
        }
    }
}

fn main() {
    let cli = args::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(out) => {
            if json {
                println!("{}", out.json);
            } else if !out.human.is_empty() {
                println!("{}", out.human.trim_end());
            }
        }
        Err(failure) => {
            if json {
                let body = serde_json::json!({"error": failure.message, "exit_code": failure.code});
                eprintln!("{body}");
            } else {
                eprintln!("safespaces: {}", failure.message);
            }
            std::process::exit(failure.code);
        }
    }
}
