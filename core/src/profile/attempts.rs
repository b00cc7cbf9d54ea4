//! The failed-unlock counter and its optional limit.
//!
//! The counter has to be read and written *before* any key is available
//! (that is when attempts fail), so it cannot be sealed under the profile's
//! keys. Choice made and why:
//!
//! - It is stored in clear, in a fixed-size file every profile has, so its
//!   presence says nothing.
//! - It is written only when a limit is configured. Without a limit a wrong
//!   secret changes nothing on disk at all.
//! - It is not tamper-proof: whoever can write the directory can reset it.
//!   That adversary gains nothing from doing so, because they can already
//!   copy the files and guess passphrases offline against scrypt, bypassing
//!   the app. The limit defends against guessing *through the app* (someone
//!   holding the phone), which is the case it is for.
//! - What it reveals to someone reading the disk: whether a limit is set, the
//!   limit, and how many attempts failed since the last successful unlock.
//!
//! Layout: `u8 version (1) | u32 failures | u32 limit (0 = none)` padded with
//! zeros to 16 bytes, little-endian.

use std::fs;
use std::io;
use std::path::Path;

use super::error::ProfileError;
use crate::store::atomic_file;

/// File name of the counter; fixed, as every profile has one.
pub(crate) const ATTEMPTS_FILE: &str = "attempts";

const LEN: usize = 16;

/// The failed-attempt state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempts {
    pub failures: u32,
    pub limit: Option<u32>,
}

impl Attempts {
    pub(crate) fn read(dir: &Path) -> Result<Self, ProfileError> {
        let path = dir.join(ATTEMPTS_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            // A missing counter is a fresh one (e.g. a crash between creating
            // the slots and the counter): no limit, nothing failed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(ProfileError::io("read attempt counter", path)(e)),
        };
        if bytes.len() != LEN || bytes[0] != 1 {
            return Err(ProfileError::Corrupt(
                "the failed-attempt counter has an unknown format".into(),
            ));
        }
        let failures = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let limit = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
        Ok(Self {
            failures,
            limit: (limit != 0).then_some(limit),
        })
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<(), ProfileError> {
        let mut bytes = [0u8; LEN];
        bytes[0] = 1;
        bytes[1..5].copy_from_slice(&self.failures.to_le_bytes());
        bytes[5..9].copy_from_slice(&self.limit.unwrap_or(0).to_le_bytes());
        atomic_file::replace(dir, ATTEMPTS_FILE, &bytes).map_err(ProfileError::io(
            "write attempt counter",
            dir.join(ATTEMPTS_FILE),
        ))
    }

    /// Records one failed attempt if a limit is set; returns whether the
    /// limit is now reached (and the profile must wipe itself).
    pub(crate) fn record_failure(dir: &Path) -> Result<bool, ProfileError> {
        let mut state = Self::read(dir)?;
        let Some(limit) = state.limit else {
            return Ok(false);
        };
        state.failures = state.failures.saturating_add(1);
        state.write(dir)?;
        Ok(state.failures >= limit)
    }

    /// Clears the failure count after a successful unlock (no write if
    /// already zero).
    pub(crate) fn record_success(dir: &Path) -> Result<(), ProfileError> {
        let mut state = Self::read(dir)?;
        if state.failures != 0 {
            state.failures = 0;
            state.write(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_only_with_a_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        Attempts::default().write(dir.path()).expect("write");
        let before = fs::read(dir.path().join(ATTEMPTS_FILE)).expect("read");
        assert!(!Attempts::record_failure(dir.path()).expect("record"));
        assert_eq!(
            fs::read(dir.path().join(ATTEMPTS_FILE)).expect("read"),
            before
        );

        Attempts {
            failures: 0,
            limit: Some(2),
        }
        .write(dir.path())
        .expect("write");
        assert!(!Attempts::record_failure(dir.path()).expect("record"));
        assert!(Attempts::record_failure(dir.path()).expect("record"));
        Attempts::record_success(dir.path()).expect("reset");
        assert_eq!(Attempts::read(dir.path()).expect("read").failures, 0);
    }
}
