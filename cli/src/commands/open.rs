//! Opening the profile a command works on: which directory, and unlocking
//! it with the passphrase from wherever the person said.

use std::path::PathBuf;

use safespaces_core::app::SafeSpaces;
use safespaces_core::profile::ProfileOptions;

use crate::args::Cli;
use crate::failure::Failure;
use crate::secret::profile_passphrase;

/// The profile directory the command line names.
pub fn profile_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    cli.profile.clone().ok_or(Failure {
        code: crate::exit::ExitCode::Usage,
        message: "say which profile: --profile DIR (or SAFESPACES_PROFILE)".into(),
    })
}

/// Opens the profile and unlocks it; it locks again when the command ends.
pub fn unlock(cli: &Cli) -> Result<SafeSpaces, Failure> {
    let dir = profile_dir(cli)?;
    let app = SafeSpaces::open(&dir, ProfileOptions::default())?;
    let secret = profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), false)?;
    app.unlock(&secret)?;
    Ok(app)
}
