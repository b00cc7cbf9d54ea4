//! Files a command writes for the person to hand over or keep (backups,
//! bundles, invite packages, exports): readable by the current user only.

use std::path::Path;

use crate::failure::Failure;

/// Writes a file only the current user can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
