//! Offline bundles, to sync face to face with no network: `bundle export`
//! and `bundle import`.

use std::path::{Path, PathBuf};

use safespaces_core::app::SafeSpaces;
use serde::Serialize;

use super::output::Render;
use super::private_file::write_private;
use crate::failure::Failure;
use crate::resolve::find_space;
use crate::times::now;

/// `bundle export`: where the bundle went, its size and its space.
#[derive(Serialize)]
pub struct Exported {
    bundle: PathBuf,
    bytes: usize,
    space: String,
    #[serde(skip)]
    name: String,
}

impl Render for Exported {
    fn human(&self) -> String {
        format!(
            "Wrote a bundle for {:?} to {}.",
            self.name,
            self.bundle.display()
        )
    }
}

/// Writes everything this device knows of a space to `path`.
pub fn export(app: &SafeSpaces, space: &str, path: &Path) -> Result<Exported, Failure> {
    let space = find_space(app, space)?;
    let bytes = space.export_bundle()?;
    write_private(path, &bytes)?;
    Ok(Exported {
        name: space.name()?,
        bundle: path.to_path_buf(),
        bytes: bytes.len(),
        space: space.id(),
    })
}

/// `bundle import`: what the bundle brought.
#[derive(Serialize)]
pub struct Imported {
    space: String,
    applied: usize,
    refused: usize,
    /// Sign-ups recorded as a lead of their sessions.
    requests_recorded: usize,
}

impl Render for Imported {
    fn human(&self) -> String {
        format!(
            "Imported: {} changes applied, {} refused, {} sign-ups recorded.",
            self.applied, self.refused, self.requests_recorded
        )
    }
}

/// Imports a bundle from another member's device.
pub fn import(app: &SafeSpaces, file: &Path) -> Result<Imported, Failure> {
    let bytes = std::fs::read(file)?;
    let report = app.import_bundle(&bytes, now())?;
    Ok(Imported {
        space: report.space,
        applied: report.applied,
        refused: report.refused,
        requests_recorded: report.requests_recorded,
    })
}
