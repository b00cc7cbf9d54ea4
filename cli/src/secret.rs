//! Where passphrases come from: a prompt that does not echo, the first line
//! of standard input (`--passphrase-stdin`), or an environment variable
//! named on the command line (`--passphrase-env VAR`). Never a command-line
//! argument: those end up in shell history and `ps`.

use std::io::BufRead;

use safespaces_core::profile::UnlockSecret;

use crate::Failure;

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn from_env(var: &str) -> Result<String, Failure> {
    let value = std::env::var(var)
        .map_err(|_| usage(format!("the environment variable {var} is not set")))?;
    if value.is_empty() {
        return Err(usage(format!("the environment variable {var} is empty")));
    }
    Ok(value)
}

fn from_stdin() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if line.is_empty() {
        return Err(usage("no passphrase on standard input"));
    }
    Ok(line)
}

fn prompt(label: &str) -> Result<String, Failure> {
    let value = rpassword::prompt_password(label).map_err(|e| {
        usage(format!(
            "cannot prompt for a passphrase ({e}); use --passphrase-stdin or --passphrase-env"
        ))
    })?;
    if value.is_empty() {
        return Err(usage("an empty passphrase is not allowed"));
    }
    Ok(value)
}

/// The profile passphrase, from wherever the command line says. `confirm`
/// asks twice when prompting (creating a profile).
pub fn profile_passphrase(
    stdin: bool,
    env: Option<&str>,
    confirm: bool,
) -> Result<UnlockSecret, Failure> {
    let value = match (stdin, env) {
        (true, _) => from_stdin()?,
        (false, Some(var)) => from_env(var)?,
        (false, None) => {
            let first = prompt("Passphrase: ")?;
            if confirm && prompt("Again: ")? != first {
                return Err(usage("the passphrases do not match"));
            }
            first
        }
    };
    Ok(UnlockSecret::passphrase(value))
}

/// A second passphrase (for a backup or an export), from the named
/// environment variable or a prompt.
pub fn other_passphrase(env: Option<&str>, label: &str) -> Result<String, Failure> {
    match env {
        Some(var) => from_env(var),
        None => prompt(label),
    }
}
