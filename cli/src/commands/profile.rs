//! Commands on the profile itself: `init`, `lock`, `wipe`, `passphrase`,
//! `duress`, `backup` and `restore`.
//!
//! The CLI keeps no keystore secret, so the keystore answer of the
//! passphrase changes has nothing to act on.

use std::path::{Path, PathBuf};

use safespaces_core::app::{AppError, SafeSpaces};
use safespaces_core::profile::{Profile, ProfileOptions};
use serde::Serialize;

use super::open::{profile_dir, unlock};
use super::output::Render;
use super::private_file::write_private;
use crate::args::Cli;
use crate::failure::Failure;
use crate::secret::{new_passphrase, other_passphrase, profile_passphrase};

/// `init`: a new profile, and this device's id in it.
#[derive(Serialize)]
pub struct Created {
    profile: PathBuf,
    device: String,
}

impl Render for Created {
    fn human(&self) -> String {
        format!("Created an encrypted profile in {}", self.profile.display())
    }
}

/// Creates a new profile in `--profile`.
pub fn init(cli: &Cli) -> Result<Created, Failure> {
    let dir = profile_dir(cli)?;
    let secret = profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), true)?;
    let app = SafeSpaces::create(&dir, secret, ProfileOptions::default())?;
    let device = app.device_id()?;
    Ok(Created {
        profile: dir,
        device: device.as_str().to_string(),
    })
}

/// `lock`: the passphrase opened the profile, which is locked again.
#[derive(Serialize)]
pub struct Locked {
    locked: bool,
}

impl Render for Locked {
    fn human(&self) -> String {
        "Locked.".into()
    }
}

/// Checks the passphrase and leaves the profile locked.
pub fn lock(cli: &Cli) -> Result<Locked, Failure> {
    let app = unlock(cli)?;
    app.lock();
    Ok(Locked { locked: true })
}

/// `wipe`: the profile is gone.
#[derive(Serialize)]
pub struct Wiped {
    wiped: bool,
}

impl Render for Wiped {
    fn human(&self) -> String {
        "Wiped.".into()
    }
}

/// Destroys the profile, keys first; refused without `--yes`.
pub fn wipe(cli: &Cli, yes: bool) -> Result<Wiped, Failure> {
    if !yes {
        return Err(Failure {
            code: crate::exit::ExitCode::Usage,
            message:
                "wiping destroys every key and file of the profile and cannot be undone; add --yes"
                    .into(),
        });
    }
    let dir = profile_dir(cli)?;
    // Wiping needs no passphrase: someone in danger must be able to do it
    // without remembering one.
    let app = SafeSpaces::open(&dir, ProfileOptions::default())?;
    app.wipe()?;
    Ok(Wiped { wiped: true })
}

/// `passphrase`: the profile opens with the new passphrase only.
#[derive(Serialize)]
pub struct PassphraseChanged {
    passphrase_changed: bool,
}

impl Render for PassphraseChanged {
    fn human(&self) -> String {
        "Changed the passphrase; the old one opens nothing on this disk now.".into()
    }
}

/// Changes the passphrase (from `new_passphrase_env`, else prompted).
pub fn change_passphrase(
    cli: &Cli,
    new_passphrase_env: Option<&str>,
) -> Result<PassphraseChanged, Failure> {
    let app = unlock(cli)?;
    let pass = new_passphrase(new_passphrase_env, "New passphrase: ")?;
    app.profile()
        .set_passphrase(&pass)
        .map_err(AppError::from)?;
    Ok(PassphraseChanged {
        passphrase_changed: true,
    })
}

/// `duress`: whether a duress passphrase is set now.
#[derive(Serialize)]
pub struct Duress {
    duress: bool,
}

impl Render for Duress {
    fn human(&self) -> String {
        if self.duress {
            "Set the duress passphrase: unlocking with it destroys this profile and opens an empty one."
        } else {
            "Removed the duress passphrase."
        }
        .into()
    }
}

/// Sets the duress passphrase, or removes it.
pub fn duress(
    cli: &Cli,
    duress_passphrase_env: Option<&str>,
    remove: bool,
) -> Result<Duress, Failure> {
    let app = unlock(cli)?;
    let pass = if remove {
        None
    } else {
        Some(new_passphrase(
            duress_passphrase_env,
            "Duress passphrase: ",
        )?)
    };
    app.profile()
        .set_duress_passphrase(pass.as_ref())
        .map_err(AppError::from)?;
    Ok(Duress { duress: !remove })
}

/// `backup`: where the encrypted backup went, and its size.
#[derive(Serialize)]
pub struct BackedUp {
    backup: PathBuf,
    bytes: usize,
}

impl Render for BackedUp {
    fn human(&self) -> String {
        format!("Wrote an encrypted backup to {}", self.backup.display())
    }
}

/// Writes an encrypted backup to `path`.
pub fn backup(
    cli: &Cli,
    path: &Path,
    backup_passphrase_env: Option<&str>,
) -> Result<BackedUp, Failure> {
    let app = unlock(cli)?;
    let pass = other_passphrase(backup_passphrase_env, "Backup passphrase: ")?;
    let bytes = app.profile().export_backup(&pass).map_err(AppError::from)?;
    write_private(path, &bytes)?;
    Ok(BackedUp {
        backup: path.to_path_buf(),
        bytes: bytes.len(),
    })
}

/// `restore`: the profile the backup became.
#[derive(Serialize)]
pub struct Restored {
    profile: PathBuf,
}

impl Render for Restored {
    fn human(&self) -> String {
        format!("Restored into {}", self.profile.display())
    }
}

/// Restores the backup `file` into `--profile`.
pub fn restore(
    cli: &Cli,
    file: &Path,
    backup_passphrase_env: Option<&str>,
) -> Result<Restored, Failure> {
    let dir = profile_dir(cli)?;
    let bytes = std::fs::read(file)?;
    let pass = other_passphrase(backup_passphrase_env, "Backup passphrase: ")?;
    let secret = profile_passphrase(cli.passphrase_stdin, cli.passphrase_env.as_deref(), true)?;
    Profile::restore_backup(&bytes, &pass, &dir, secret, ProfileOptions::default())
        .map_err(AppError::from)?;
    Ok(Restored { profile: dir })
}
