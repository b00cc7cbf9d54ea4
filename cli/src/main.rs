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
//! - `failure.rs`: a failed command's exit code and message, from core's
//!   errors.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod exit;
mod failure;
mod resolve;
mod secret;
mod times;

use clap::Parser;

use exit::ExitCode;

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
