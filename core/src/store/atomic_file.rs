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

/// Suffix of the second name a file being replaced keeps until its bytes
/// are scrubbed (see [`replace_keeping_old`]).
pub(crate) const REPLACED_SUFFIX: &str = ".old";

/// Replaces `dir/name` like [`replace`], but first gives the current file a
/// second name, `name.old` (a hard link, made durable). A plain rename
/// frees the old inode's blocks with the old bytes still in them, and no
/// later step can reach them; the link keeps them reachable so
/// [`finish_scrubbing`] can overwrite them in place, even after a crash
/// between the rename and the scrub. Hard links are required (every file
/// system a phone or laptop uses has them); without them this fails rather
/// than leaving old bytes behind silently.
pub(crate) fn replace_keeping_old(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    finish_scrubbing(dir, name)?;
    match fs::hard_link(dir.join(name), dir.join(format!("{name}{REPLACED_SUFFIX}"))) {
        Ok(()) => sync_dir(dir)?,
        // Nothing to replace: a first write.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    crash_point("linked")?;
    replace(dir, name, bytes)
}

/// Finishes a [`replace_keeping_old`]: if `name.old` exists and differs
/// from `name` (the replacement was committed), overwrites it in place and
/// deletes it; if it is the same (a crash before the commit left a second
/// link to the live file), only deletes the link, because scrubbing it
/// would destroy the live file. Idempotent; run before reading a file that
/// may have been left mid-replacement and before replacing it again.
pub(crate) fn finish_scrubbing(dir: &Path, name: &str) -> io::Result<()> {
    let old = dir.join(format!("{name}{REPLACED_SUFFIX}"));
    let old_bytes = match fs::read(&old) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    match fs::read(dir.join(name)) {
        // The same bytes are still live: nothing earlier to destroy.
        Ok(live) if live == old_bytes => {}
        Ok(_) => scrub_path(&old)?,
        // The live name is gone (only an interrupted wipe removes it): the
        // link may be the only copy, so it becomes the live file again.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::rename(&old, dir.join(name))?;
            return sync_dir(dir);
        }
        Err(e) => return Err(e),
    }
    remove_if_present(&old)?;
    sync_dir(dir)
}

/// Where tests simulate a crash: a step that returns an error here stops
/// the operation exactly as a kill at that instant would (the writes before
/// it are durable, nothing after it happens). Compiled out of non-test
/// builds.
#[cfg(test)]
pub(crate) fn crash_point(step: &'static str) -> io::Result<()> {
    if fault::FAIL_AT.with(|f| f.get()) == Some(step) {
        return Err(io::Error::other(format!("simulated crash at {step}")));
    }
    Ok(())
}

#[cfg(not(test))]
#[inline(always)]
pub(crate) fn crash_point(_step: &'static str) -> io::Result<()> {
    Ok(())
}

/// The simulated-crash switch of [`crash_point`], per test thread.
#[cfg(test)]
pub(crate) mod fault {
    use std::cell::Cell;

    thread_local! {
        /// The step at which the current thread's operation "crashes".
        pub(crate) static FAIL_AT: Cell<Option<&'static str>> = const { Cell::new(None) };
    }
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
    fn replace_keeping_old_scrubs_the_replaced_inode() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace_keeping_old(dir.path(), "s", &[1u8; 1024]).expect("first");
        replace_keeping_old(dir.path(), "s", &[2u8; 1024]).expect("second");
        // Committed, not yet scrubbed: the old bytes are reachable via the link.
        let old = dir.path().join("s.old");
        assert_eq!(fs::read(&old).expect("old"), vec![1u8; 1024]);
        finish_scrubbing(dir.path(), "s").expect("scrub");
        assert!(!old.exists());
        assert_eq!(
            fs::read(dir.path().join("s")).expect("live"),
            vec![2u8; 1024]
        );
    }

    #[test]
    fn a_crash_before_the_commit_keeps_the_live_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace(dir.path(), "s", &[1u8; 64]).expect("first");
        fault::FAIL_AT.with(|f| f.set(Some("linked")));
        assert!(replace_keeping_old(dir.path(), "s", &[2u8; 64]).is_err());
        fault::FAIL_AT.with(|f| f.set(None));
        // The link names the live inode; finishing must not scrub it.
        finish_scrubbing(dir.path(), "s").expect("finish");
        assert_eq!(fs::read(dir.path().join("s")).expect("live"), vec![1u8; 64]);
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
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
