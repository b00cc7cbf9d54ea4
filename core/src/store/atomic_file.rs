//! Crash-safe file primitives: every durable change to the profile directory
//! goes through here.
//!
//! The protocol is the classic one: write a temporary file, `fsync` it,
//! `rename` it over the target, `fsync` the directory. POSIX guarantees the
//! rename is atomic, so after a crash a reader sees either the old or the new
//! file, never a mix; the two `fsync`s make the new one survive power loss,
//! not only `kill -9`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use rand::RngCore;
use rand::rngs::OsRng;

/// Suffix of temporary files; anything carrying it is garbage after a crash.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Atomically replaces `dir/name` with `bytes`.
pub(crate) fn replace(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Writes a file that must not exist yet and makes it durable. Used for
/// chunks: nothing references a chunk until a later manifest commit, so a
/// torn chunk is unreachable garbage and needs no rename.
pub(crate) fn create_durable(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(name))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    sync_dir(dir)
}

/// Makes directory entries (creations, renames, deletions) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Overwrites an open file's whole content with random bytes and syncs it.
///
/// This is how key material is destroyed: the file keeps its inode, so the
/// blocks that held the wrapped key are rewritten rather than merely
/// unlinked. On flash with wear levelling this is best effort; what makes it
/// sufficient is that the overwritten file is the only wrapping of the key
/// everything else is sealed under.
pub(crate) fn scrub(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(0))?;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        OsRng.fill_bytes(&mut buf[..n]);
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

/// Opens `path` and scrubs it; a missing file is already gone.
pub(crate) fn scrub_path(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(mut file) => scrub(&mut file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace(dir.path(), "a", b"one").expect("write");
        replace(dir.path(), "a", b"two").expect("write");
        assert_eq!(fs::read(dir.path().join("a")).expect("read"), b"two");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn create_durable_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        create_durable(dir.path(), "c", b"x").expect("write");
        assert!(create_durable(dir.path(), "c", b"y").is_err());
    }

    #[test]
    fn scrub_keeps_length_and_destroys_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        fs::write(&path, vec![7u8; 5000]).expect("write");
        scrub_path(&path).expect("scrub");
        let after = fs::read(&path).expect("read");
        assert_eq!(after.len(), 5000);
        assert!(after.iter().filter(|&&b| b == 7).count() < 200);
        scrub_path(&dir.path().join("missing")).expect("missing is fine");
    }
}
