//! Where passphrases come from: a prompt that does not echo, the first line
//! of standard input (`--passphrase-stdin`), or an environment variable
//! named on the command line (`--passphrase-env VAR`). Never a command-line
//! argument: those end up in shell history and `ps`.
//!
//! From the moment it is read a passphrase lives in a `SecretString`
//! (zeroized on drop), moved rather than copied: no plain `String` copy is
//! left behind to linger in freed memory. What this process cannot reach
//! is not covered: the environment block an `--passphrase-env` variable
//! came in, and the terminal's and `rpassword`'s own buffers.

use std::io::BufRead;

use age_core::secrecy::{ExposeSecret, SecretString};
use safespaces_core::profile::UnlockSecret;
use zeroize::Zeroizing;

use crate::failure::Failure;

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: crate::exit::ExitCode::Usage,
        message: message.into(),
    }
}

fn from_env(var: &str) -> Result<SecretString, Failure> {
    let value = std::env::var(var)
        .map_err(|_| usage(format!("the environment variable {var} is not set")))?;
    if value.is_empty() {
        return Err(usage(format!("the environment variable {var} is empty")));
    }
    Ok(SecretString::from(value))
}

fn from_stdin() -> Result<SecretString, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    // Trimmed in place: `trim_end_matches(..).to_string()` would copy.
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    if line.is_empty() {
        return Err(usage("no passphrase on standard input"));
    }
    Ok(SecretString::from(std::mem::take(&mut *line)))
}

fn prompt(label: &str) -> Result<SecretString, Failure> {
    let value = rpassword::prompt_password(label)
        .map(SecretString::from)
        .map_err(|e| {
            usage(format!(
                "cannot prompt for a passphrase ({e}); use --passphrase-stdin or --passphrase-env"
            ))
        })?;
    if value.expose_secret().is_empty() {
        return Err(usage("an empty passphrase is not allowed"));
    }
    Ok(value)
}

/// Prompts for a new passphrase twice and checks both match.
fn prompt_new(label: &str) -> Result<SecretString, Failure> {
    let first = prompt(label)?;
    if prompt("Again: ")?.expose_secret() != first.expose_secret() {
        return Err(usage("the passphrases do not match"));
    }
    Ok(first)
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
        (false, None) if confirm => prompt_new("Passphrase: ")?,
        (false, None) => prompt("Passphrase: ")?,
    };
    Ok(UnlockSecret::Passphrase(value))
}

/// A second passphrase (for a backup or an export), from the named
/// environment variable or a prompt.
pub fn other_passphrase(env: Option<&str>, label: &str) -> Result<SecretString, Failure> {
    match env {
        Some(var) => from_env(var),
        None => prompt(label),
    }
}

/// A passphrase being set (a new passphrase, a duress passphrase): from
/// the named environment variable, or prompted twice.
pub fn new_passphrase(env: Option<&str>, label: &str) -> Result<SecretString, Failure> {
    match env {
        Some(var) => from_env(var),
        None => prompt_new(label),
    }
}
